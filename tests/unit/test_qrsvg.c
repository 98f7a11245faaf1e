/*
 * Tests for the QR code in SVG (src/formats/qrsvg.c): a node ID encodes into well-formed
 * SVG (parsed with libxml2) whose path, read back module by module, is exactly the
 * symbol libqrencode makes, finder patterns included; the title holds the text escaped;
 * empty and over-long texts are refused and leave the buffer as it was. No decoder
 * (zbarimg) is assumed to be installed, so the symbol itself is trusted to libqrencode.
 */
#include "check.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <qrencode.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qrsvg.h"
#include "kith/kith.h"
#include "util/nodeid.h"

/* The SVG of text, parsed, with its module grid read back from the path. */
typedef struct {
    xmlDocPtr doc;
    int side;          /* viewBox width and height, in modules */
    unsigned char *on; /* side * side: 1 where the path covers a module */
    int n_rect, n_path, n_title, n_other;
    char title[1024];
} svg_t;

static void
count(svg_t *s, xmlNodePtr node)
{
    for (xmlNodePtr c = node->children; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        const char *name = (const char *) c->name;
        if (strcmp(name, "rect") == 0) {
            s->n_rect++;
        } else if (strcmp(name, "path") == 0) {
            s->n_path++;
        } else if (strcmp(name, "title") == 0) {
            s->n_title++;
            xmlChar *t = xmlNodeGetContent(c);
            snprintf(s->title, sizeof(s->title), "%s", (const char *) t);
            xmlFree(t);
        } else {
            s->n_other++;
        }
        count(s, c);
    }
}

/* Reads "Mx yhNv1h-Nz" runs into s->on, failing on anything else. */
static void
read_path(svg_t *s, const char *d)
{
    s->on = calloc((size_t) s->side * (size_t) s->side, 1);
    assert_non_null(s->on);
    while (*d != '\0') {
        int x, y, w, w2, used = 0;
        assert_int_equal(sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &w, &w2, &used), 4);
        assert_true(used > 0);
        ASSERT_EQ(w, w2);
        assert_true(x >= 0 && y >= 0 && w >= 1 && x + w <= s->side && y < s->side);
        for (int i = 0; i < w; i++) {
            assert_false(s->on[y * s->side + x + i]); /* no module drawn twice */
            s->on[y * s->side + x + i] = 1;
        }
        d += used;
    }
}

static void
svg_parse(svg_t *s, const kith_buf_t *buf)
{
    memset(s, 0, sizeof(*s));
    s->doc = xmlReadMemory((const char *) buf->data, (int) buf->len, "qr.svg", NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    assert_non_null(s->doc);
    xmlNodePtr root = xmlDocGetRootElement(s->doc);
    ASSERT_STREQ((const char *) root->name, "svg");
    assert_non_null(root->ns);
    ASSERT_STREQ((const char *) root->ns->href, "http://www.w3.org/2000/svg");
    xmlChar *vb = xmlGetProp(root, (const xmlChar *) "viewBox");
    int w = 0, h = 0;
    assert_int_equal(sscanf((const char *) vb, "0 0 %d %d", &w, &h), 2);
    xmlFree(vb);
    ASSERT_EQ(w, h);
    s->side = w;
    xmlChar *width = xmlGetProp(root, (const xmlChar *) "width");
    ASSERT_STREQ((const char *) width, "240");
    xmlFree(width);
    xmlChar *crisp = xmlGetProp(root, (const xmlChar *) "shape-rendering");
    ASSERT_STREQ((const char *) crisp, "crispEdges");
    xmlFree(crisp);
    count(s, root);
    for (xmlNodePtr c = root->children; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *) c->name, "path") == 0) {
            xmlChar *d = xmlGetProp(c, (const xmlChar *) "d");
            read_path(s, (const char *) d);
            xmlFree(d);
        }
    }
}

static void
svg_close(svg_t *s)
{
    xmlFreeDoc(s->doc);
    free(s->on);
}

static int
dark(const svg_t *s, int x, int y)
{
    return s->on[(y + KITH_QR_QUIET) * s->side + x + KITH_QR_QUIET];
}

/* The 7x7 finder pattern with its top left corner at (x, y): a dark ring, a light ring,
 * a dark 3x3 centre. */
static void
check_finder(const svg_t *s, int x, int y)
{
    for (int j = 0; j < 7; j++) {
        for (int i = 0; i < 7; i++) {
            int ring = i == 0 || j == 0 || i == 6 || j == 6;
            int centre = i >= 2 && i <= 4 && j >= 2 && j <= 4;
            ASSERT_EQ(dark(s, x + i, y + j), ring || centre);
        }
    }
}

static void
node_id_encodes(void **state)
{
    (void) state;
    uint8_t pk[32];
    randombytes_buf(pk, sizeof(pk));
    char nid[KITH_NODEID_BUFSIZE];
    kith_nodeid_encode(pk, nid);
    kith_buf_t buf;
    kith_buf_init(&buf);
    ASSERT_OK(kith_qr_svg(nid, &buf));
    assert_null(strstr((const char *) buf.data, "script"));
    assert_null(strstr((const char *) buf.data, "href"));
    assert_true(buf.len < 8192);

    svg_t s;
    svg_parse(&s, &buf);
    ASSERT_EQ(s.n_rect, 1);
    ASSERT_EQ(s.n_path, 1);
    ASSERT_EQ(s.n_title, 1);
    ASSERT_EQ(s.n_other, 0);
    ASSERT_STREQ(s.title, nid);

    /* The drawn modules are libqrencode's symbol, inside an empty quiet zone. */
    QRcode *qr = QRcode_encodeString(nid, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(qr);
    ASSERT_EQ(s.side, qr->width + 2 * KITH_QR_QUIET);
    for (int y = 0; y < s.side; y++) {
        for (int x = 0; x < s.side; x++) {
            int in = x >= KITH_QR_QUIET && y >= KITH_QR_QUIET && x < KITH_QR_QUIET + qr->width &&
                     y < KITH_QR_QUIET + qr->width;
            int want = in && (qr->data[(y - KITH_QR_QUIET) * qr->width + x - KITH_QR_QUIET] & 1);
            ASSERT_EQ(s.on[y * s.side + x], want);
        }
    }
    const int w = qr->width;
    check_finder(&s, 0, 0);
    check_finder(&s, w - 7, 0);
    check_finder(&s, 0, w - 7);
    QRcode_free(qr);
    svg_close(&s);
    kith_buf_close(&buf);
}

static void
title_is_escaped(void **state)
{
    (void) state;
    const char *text = "a<b>&\"c\"'d'</title><script>x</script>";
    kith_buf_t buf;
    kith_buf_init(&buf);
    ASSERT_OK(kith_qr_svg(text, &buf));
    assert_null(strstr((const char *) buf.data, "<script"));
    svg_t s;
    svg_parse(&s, &buf);
    ASSERT_EQ(s.n_other, 0);
    ASSERT_STREQ(s.title, text);
    svg_close(&s);
    kith_buf_close(&buf);
}

static void
bounds(void **state)
{
    (void) state;
    char text[KITH_QR_TEXT_MAX + 2];
    memset(text, 'x', sizeof(text));
    text[KITH_QR_TEXT_MAX + 1] = '\0';
    kith_buf_t buf;
    kith_buf_init(&buf);
    ASSERT_OK(kith_buf_puts(&buf, "kept"));
    /* Too long, and empty: refused, and the buffer is as it was. */
    ASSERT_ERR(kith_qr_svg(text, &buf), KITH_EINVAL);
    ASSERT_ERR(kith_qr_svg("", &buf), KITH_EINVAL);
    ASSERT_EQ(buf.len, 4);
    ASSERT_STREQ((const char *) buf.data, "kept");
    /* The longest text allowed, and the shortest. */
    text[KITH_QR_TEXT_MAX] = '\0';
    ASSERT_OK(kith_qr_svg(text, &buf));
    svg_t s;
    kith_buf_t one;
    kith_buf_init(&one);
    ASSERT_OK(kith_buf_append(&one, buf.data + 4, buf.len - 4));
    svg_parse(&s, &one);
    ASSERT_EQ(s.n_path, 1);
    svg_close(&s);
    kith_buf_close(&one);
    kith_buf_close(&buf);
    kith_buf_init(&buf);
    ASSERT_OK(kith_qr_svg("k", &buf));
    svg_parse(&s, &buf);
    ASSERT_EQ(s.side, 21 + 2 * KITH_QR_QUIET); /* version 1 */
    check_finder(&s, 0, 0);
    svg_close(&s);
    kith_buf_close(&buf);
}

int
main(void)
{
    if (kith_init() != KITH_OK) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(node_id_encodes),
        cmocka_unit_test(title_is_escaped),
        cmocka_unit_test(bounds),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    xmlCleanupParser();
    return rc;
}
