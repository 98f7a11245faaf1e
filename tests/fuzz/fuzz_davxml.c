/*
 * Fuzz target for the WebDAV/CardDAV request body parser and the XML escaper.
 *
 * The first input byte chooses the method (byte % 3: PROPFIND, PROPPATCH, REPORT); the
 * rest is the body. Invariants, any breach of which aborts:
 *   - only the documented codes come back (KITH_ENOTSUP only for REPORT), a failure
 *     leaves an empty request and a message of valid UTF-8;
 *   - a success has the kind its method allows, props within the limit with valid UTF-8
 *     names, hrefs only in a multiget, each trimmed, at most KITH_DAVXML_MAX_TEXT bytes
 *     and valid UTF-8, a sync token and level exactly in a sync-collection;
 *   - every href escapes, and the escaped text put back into a multiget parses to the
 *     same href;
 *   - escaping the raw body either fails with KITH_EINVAL or leaves no markup
 *     character unescaped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/davxml.h"
#include "kith/error.h"
#include "kith/kith.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strict UTF-8 (RFC 3629), written independently of the parser's own checks. */
static int
valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *) s;
    while (*p != 0) {
        uint32_t cp;
        size_t n;
        if (p[0] < 0x80) {
            p++;
            continue;
        } else if ((p[0] & 0xe0) == 0xc0) {
            cp = p[0] & 0x1f;
            n = 2;
        } else if ((p[0] & 0xf0) == 0xe0) {
            cp = p[0] & 0x0f;
            n = 3;
        } else if ((p[0] & 0xf8) == 0xf0) {
            cp = p[0] & 0x07;
            n = 4;
        } else {
            return 0;
        }
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0; /* also stops at the terminating NUL */
            }
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        p += n;
    }
    return 1;
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
check_empty(const kith_davxml_request_t *r)
{
    if (r->kind != 0 || r->allprop != 0 || r->propname != 0 || r->props != NULL ||
        r->n_props != 0 || r->hrefs != NULL || r->n_hrefs != 0 || r->sync_token != NULL ||
        r->sync_level != 0 || r->limit != 0) {
        abort();
    }
}

/* Escapes href, wraps it in a multiget and checks it parses back to itself. */
static void
round_trip(const char *href)
{
    kith_buf_t b;
    kith_davxml_request_t r;
    kith_buf_init(&b);
    if (kith_buf_puts(&b, "<C:addressbook-multiget xmlns:D=\"DAV:\" "
                          "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:href>") != KITH_OK ||
        kith_davxml_escape(&b, href, strlen(href)) != KITH_OK ||
        kith_buf_puts(&b, "</D:href></C:addressbook-multiget>") != KITH_OK) {
        abort();
    }
    if (kith_davxml_parse("REPORT", (const char *) b.data, b.len, &r, NULL, 0) != KITH_OK ||
        r.n_hrefs != 1 || strcmp(r.hrefs[0], href) != 0) {
        abort();
    }
    kith_davxml_request_close(&r);
    kith_buf_close(&b);
}

static void
check_request(const char *method, const kith_davxml_request_t *r)
{
    int report = strcmp(method, "REPORT") == 0;
    if ((strcmp(method, "PROPFIND") == 0 && r->kind != KITH_DAVXML_PROPFIND) ||
        (strcmp(method, "PROPPATCH") == 0 && r->kind != KITH_DAVXML_PROPPATCH) ||
        (report && r->kind != KITH_DAVXML_MULTIGET && r->kind != KITH_DAVXML_QUERY &&
         r->kind != KITH_DAVXML_SYNC)) {
        abort();
    }
    if (r->n_props > KITH_DAVXML_MAX_PROPS || (r->n_props == 0) != (r->props == NULL)) {
        abort();
    }
    for (size_t i = 0; i < r->n_props; i++) {
        const kith_davxml_prop_t *p = &r->props[i];
        if (p->ns == NULL || p->name == NULL || p->name[0] == '\0' || !valid_utf8(p->ns) ||
            !valid_utf8(p->name) || (unsigned) p->id > KITH_DAVP_QUOTA_USED_BYTES) {
            abort();
        }
    }
    if (r->n_hrefs > KITH_DAVXML_MAX_HREFS || (r->n_hrefs == 0) != (r->hrefs == NULL) ||
        (r->kind == KITH_DAVXML_MULTIGET) != (r->n_hrefs > 0)) {
        abort();
    }
    for (size_t i = 0; i < r->n_hrefs; i++) {
        const char *h = r->hrefs[i];
        size_t n = strlen(h);
        if (n > KITH_DAVXML_MAX_TEXT || !valid_utf8(h) ||
            (n > 0 && (is_space(h[0]) || is_space(h[n - 1])))) {
            abort();
        }
        if (i < 4) {
            round_trip(h);
        }
    }
    if (r->kind == KITH_DAVXML_SYNC) {
        if (r->sync_token == NULL || strlen(r->sync_token) > KITH_DAVXML_MAX_TEXT ||
            !valid_utf8(r->sync_token) || (r->sync_level != 1 && r->sync_level != -1)) {
            abort();
        }
    } else if (r->sync_token != NULL || r->sync_level != 0) {
        abort();
    }
    if (r->limit > UINT32_MAX ||
        (r->kind != KITH_DAVXML_SYNC && r->kind != KITH_DAVXML_QUERY && r->limit != 0)) {
        abort();
    }
    if (r->allprop && r->propname) {
        abort();
    }
}

static void
check_escape(const uint8_t *data, size_t size)
{
    kith_buf_t b;
    kith_buf_init(&b);
    int rc = kith_davxml_escape(&b, (const char *) data, size);
    if (rc == KITH_EINVAL) {
        if (b.len != 0) {
            abort();
        }
    } else if (rc != KITH_OK) {
        abort();
    } else {
        for (size_t i = 0; i < b.len; i++) {
            uint8_t c = b.data[i];
            if (c == '<' || c == '>' || c == '"' || c == '\'' || c == '\r' ||
                (c < 0x20 && c != '\t' && c != '\n')) {
                abort();
            }
        }
        if (b.len > 0 &&
            (!valid_utf8((const char *) b.data) || strlen((const char *) b.data) != b.len)) {
            abort();
        }
    }
    kith_buf_close(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    static const char *const methods[] = {"PROPFIND", "PROPPATCH", "REPORT"};
    if (!initialised) {
        if (kith_init() != KITH_OK) {
            abort();
        }
        initialised = 1;
    }
    if (size == 0) {
        return 0;
    }
    const char *method = methods[data[0] % 3];
    const char *body = (const char *) data + 1;
    size_t len = size - 1;

    kith_davxml_request_t r;
    char err[256];
    int rc = kith_davxml_parse(method, body, len, &r, err, sizeof(err));
    if (rc == KITH_OK) {
        check_request(method, &r);
        kith_davxml_request_close(&r);
    } else {
        if (rc != KITH_EPARSE && rc != KITH_ETOOBIG && rc != KITH_ENOMEM &&
            !(rc == KITH_ENOTSUP && strcmp(method, "REPORT") == 0)) {
            abort();
        }
        if (err[0] == '\0' || !valid_utf8(err)) {
            abort();
        }
        check_empty(&r);
    }
    check_escape(data + 1, len);
    return 0;
}
