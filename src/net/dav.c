/*
 * The CardDAV server; see dav.h and proto/DAV.md.
 *
 * URL space (all under one server; a client needs only the host and port):
 *   /.well-known/carddav        301 to /dav/ (RFC 6764)
 *   /, /dav/                    the root: points at the principal
 *   /dav/principal/             the user: points at the address-book home
 *   /dav/books/                 the home: one collection per book
 *   /dav/books/BOOK/            an address book (node/cardbook.h)
 *   /dav/books/BOOK/NAME        one card
 *
 * Answers are built on the store thread into a buffer and sent in one piece. XML requests
 * are parsed by formats/davxml.h (libxml2); the XML answers are written here, every text
 * escaped.
 */
#include "net/dav.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "formats/davxml.h"
#include "kith/error.h"
#include "net/daemon.h"
#include "net/httpd.h"
#include "node/cardbook.h"
#include "util/buf.h"

#define HTTP_TIMEOUT_MS 5000 /* an idle connection closes after this; so may a stop wait */
#define XML_TYPE        "application/xml; charset=utf-8"
#define VCARD_TYPE      "text/vcard; charset=utf-8"
#define MAX_SEGMENT     (KITH_CARDBOOK_HREF_MAX * 3)

struct kith_dav {
    uv_loop_t *loop;
    kith_httpd_t *http;
    kith_node_t *node;
    void *host;
    kith_job_submit_fn submit;
    void (*changed)(void *host);
    void (*log)(void *host, int level, const char *line);
    char *password; /* sodium_malloc'd: KITH_CARDBOOK_PASSWORD_LEN + 1 */
    char *reloaded; /* the same, read by a reload job */
    int loopback;   /* listening on a loopback address: Host must name one */
    int port;
    int stopped;
};

typedef enum {
    R_ROOT,
    R_PRINCIPAL,
    R_HOME,
    R_BOOK,
    R_CARD,
} route_t;

typedef struct {
    kith_job_t job; /* first: the job is the request */
    kith_dav_t *d;
    kith_http_exchange_t *x;
    const kith_http_request_t *r;
    route_t route;
    char book[KITH_CARDBOOK_NAME_MAX + 1];
    char name[KITH_CARDBOOK_HREF_MAX + 1]; /* R_CARD: the card's name, decoded */
    /* the answer */
    int status;
    const char *content_type;
    kith_buf_t body;
    kith_http_header_t headers[4];
    size_t n_headers;
    char etag[32];
    int changed;
    char log[400];
} dav_req_t;

static void
logf_(kith_dav_t *d, int level, const char *fmt, ...)
{
    if (d->log == NULL) {
        return;
    }
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    d->log(d->host, level, line);
}

/* ---- small answers ------------------------------------------------------------------ */

static void
add_header(dav_req_t *q, const char *name, const char *value)
{
    if (q->n_headers < sizeof(q->headers) / sizeof(q->headers[0])) {
        q->headers[q->n_headers].name = (char *) name;
        q->headers[q->n_headers].value = (char *) value;
        q->n_headers++;
    }
}

static void
text_answer(dav_req_t *q, int status, const char *text)
{
    q->status = status;
    q->body.len = 0;
    q->content_type = "text/plain; charset=utf-8";
    if (kith_buf_puts(&q->body, text) != KITH_OK || kith_buf_puts(&q->body, "\n") != KITH_OK) {
        q->body.len = 0;
    }
}

/* An error with a WebDAV precondition element (RFC 4918 16): <D:error><ns:cond/></D:error>. */
static void
error_answer(dav_req_t *q, int status, const char *ns, const char *cond, const char *why)
{
    q->status = status;
    q->body.len = 0;
    q->content_type = XML_TYPE;
    int rc =
        kith_buf_printf(&q->body,
                        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error xmlns:d=\"DAV:\" "
                        "xmlns:e=\"%s\"><e:%s/><d:responsedescription>",
                        ns, cond);
    if (rc == KITH_OK) {
        rc = kith_davxml_escape(&q->body, why, strlen(why));
    }
    if (rc == KITH_OK) {
        rc = kith_buf_puts(&q->body, "</d:responsedescription></d:error>\n");
    }
    if (rc != KITH_OK) {
        text_answer(q, status, why);
    }
}

static void
respond(kith_dav_t *d, kith_http_exchange_t *x, dav_req_t *q)
{
    kith_http_response_t resp = {q->status,    q->headers,  q->n_headers,
                                 q->body.data, q->body.len, q->content_type};
    kith_http_respond(x, &resp);
}

/* ---- paths -------------------------------------------------------------------------- */

static int
hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes in[0..len) into out (cap bytes with the NUL). KITH_EINVAL for a bad
 * escape, an encoded NUL or '/', or no room. */
static int
pct_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= len || hexval(in[i + 1]) < 0 || hexval(in[i + 2]) < 0) {
                return KITH_EINVAL;
            }
            c = (char) (hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
            if (c == '\0' || c == '/') {
                return KITH_EINVAL;
            }
            i += 2;
        }
        if (o + 1 >= cap) {
            return KITH_EINVAL;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return KITH_OK;
}

/* Appends a name as one path segment, percent-encoding all but RFC 3986's unreserved. */
static int
unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '@';
}

/* Appends a name as one path segment, percent-encoding all but RFC 3986's unreserved
 * characters (and '@'). Runs of plain characters go in one append: a listing writes one
 * name per card. */
static int
pct_encode(kith_buf_t *out, const char *name)
{
    static const char digits[] = "0123456789ABCDEF";
    int rc = KITH_OK;
    const unsigned char *p = (const unsigned char *) name;
    while (*p && rc == KITH_OK) {
        const unsigned char *run = p;
        while (*p && unreserved(*p)) {
            p++;
        }
        if (p > run) {
            rc = kith_buf_append(out, run, (size_t) (p - run));
        }
        if (*p && rc == KITH_OK) {
            char esc[3] = {'%', digits[*p >> 4], digits[*p & 15]};
            rc = kith_buf_append(out, esc, 3);
            p++;
        }
    }
    return rc;
}

/* Splits a path into the route. KITH_ENOTFOUND for anything else. A trailing slash is
 * optional on collections. */
static int
route(const char *target, dav_req_t *q)
{
    size_t len = strcspn(target, "?#");
    char path[2048];
    if (len >= sizeof(path)) {
        return KITH_ENOTFOUND;
    }
    memcpy(path, target, len);
    path[len] = '\0';
    if (strcmp(path, "/") == 0 || strcmp(path, "/dav") == 0 || strcmp(path, "/dav/") == 0) {
        q->route = R_ROOT;
        return KITH_OK;
    }
    if (strcmp(path, "/dav/principal") == 0 || strcmp(path, "/dav/principal/") == 0) {
        q->route = R_PRINCIPAL;
        return KITH_OK;
    }
    if (strcmp(path, "/dav/books") == 0 || strcmp(path, "/dav/books/") == 0) {
        q->route = R_HOME;
        return KITH_OK;
    }
    static const char books[] = "/dav/books/";
    if (strncmp(path, books, sizeof(books) - 1) != 0) {
        return KITH_ENOTFOUND;
    }
    const char *rest = path + sizeof(books) - 1;
    const char *slash = strchr(rest, '/');
    size_t blen = slash ? (size_t) (slash - rest) : strlen(rest);
    if (pct_decode(rest, blen, q->book, sizeof(q->book)) != KITH_OK || q->book[0] == '\0') {
        return KITH_ENOTFOUND;
    }
    if (slash == NULL || slash[1] == '\0') {
        q->route = R_BOOK;
        return KITH_OK;
    }
    const char *name = slash + 1;
    if (strchr(name, '/') != NULL ||
        pct_decode(name, strlen(name), q->name, sizeof(q->name)) != KITH_OK) {
        return KITH_ENOTFOUND;
    }
    q->route = R_CARD;
    return KITH_OK;
}

static int
href_book(kith_buf_t *b, const char *book)
{
    int rc = kith_buf_puts(b, "/dav/books/");
    if (rc == KITH_OK) {
        rc = pct_encode(b, book);
    }
    return rc == KITH_OK ? kith_buf_puts(b, "/") : rc;
}

/* ---- properties --------------------------------------------------------------------- */

typedef struct {
    kith_buf_t ok, missing; /* <prop> contents found and not found */
} propstat_t;

/* The value of a known property of one resource, or KITH_ENOTFOUND. */
typedef struct {
    dav_req_t *q;
    route_t kind;
    const kith_cardbook_t *book;       /* R_BOOK, R_CARD */
    const kith_cardbook_entry_t *card; /* R_CARD */
    const char *token;                 /* R_BOOK: its sync token */
    const char *display;               /* R_BOOK: its name for people */
} resource_t;

static int
prop_value(const resource_t *res, kith_davp_t id, kith_buf_t *b)
{
    kith_dav_t *d = res->q->d;
    int rc;
    switch (id) {
    case KITH_DAVP_RESOURCETYPE:
        switch (res->kind) {
        case R_CARD:
            return kith_buf_puts(b, "<d:resourcetype/>");
        case R_PRINCIPAL:
            return kith_buf_puts(b,
                                 "<d:resourcetype><d:collection/><d:principal/></d:resourcetype>");
        case R_BOOK:
            return kith_buf_puts(
                b, "<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>");
        default:
            return kith_buf_puts(b, "<d:resourcetype><d:collection/></d:resourcetype>");
        }
    case KITH_DAVP_CURRENT_USER_PRINCIPAL:
        return kith_buf_puts(b, "<d:current-user-principal><d:href>/dav/principal/</d:href>"
                                "</d:current-user-principal>");
    case KITH_DAVP_PRINCIPAL_URL:
        return kith_buf_puts(b,
                             "<d:principal-URL><d:href>/dav/principal/</d:href></d:principal-URL>");
    case KITH_DAVP_PRINCIPAL_COLLECTION_SET:
        return kith_buf_puts(
            b, "<d:principal-collection-set><d:href>/dav/</d:href></d:principal-collection-set>");
    case KITH_DAVP_OWNER:
        return kith_buf_puts(b, "<d:owner><d:href>/dav/principal/</d:href></d:owner>");
    case KITH_DAVP_ADDRESSBOOK_HOME_SET:
        if (res->kind != R_PRINCIPAL && res->kind != R_ROOT) {
            return KITH_ENOTFOUND;
        }
        return kith_buf_puts(b, "<card:addressbook-home-set><d:href>/dav/books/</d:href>"
                                "</card:addressbook-home-set>");
    case KITH_DAVP_DISPLAYNAME:
        rc = kith_buf_puts(b, "<d:displayname>");
        if (rc == KITH_OK) {
            const char *name = res->kind == R_BOOK   ? res->display
                               : res->kind == R_CARD ? NULL
                               : d->node->name[0]    ? d->node->name
                                                     : "kith";
            if (name == NULL) {
                return KITH_ENOTFOUND;
            }
            rc = kith_davxml_escape(b, name, strlen(name));
        }
        return rc == KITH_OK ? kith_buf_puts(b, "</d:displayname>") : rc;
    case KITH_DAVP_ADDRESSBOOK_DESCRIPTION:
        if (res->kind != R_BOOK) {
            return KITH_ENOTFOUND;
        }
        rc = kith_buf_puts(b, "<card:addressbook-description>");
        if (rc == KITH_OK) {
            rc = kith_davxml_escape(b, res->display, strlen(res->display));
        }
        return rc == KITH_OK ? kith_buf_puts(b, "</card:addressbook-description>") : rc;
    case KITH_DAVP_SYNC_TOKEN:
    case KITH_DAVP_GETCTAG:
        if (res->kind != R_BOOK) {
            return KITH_ENOTFOUND;
        }
        rc = kith_buf_puts(b, id == KITH_DAVP_GETCTAG ? "<cs:getctag>" : "<d:sync-token>");
        if (rc == KITH_OK) {
            rc = kith_davxml_escape(b, res->token, strlen(res->token));
        }
        return rc == KITH_OK
                   ? kith_buf_puts(b, id == KITH_DAVP_GETCTAG ? "</cs:getctag>" : "</d:sync-token>")
                   : rc;
    case KITH_DAVP_SUPPORTED_REPORT_SET:
        if (res->kind != R_BOOK) {
            return KITH_ENOTFOUND;
        }
        return kith_buf_puts(
            b, "<d:supported-report-set>"
               "<d:supported-report><d:report><card:addressbook-multiget/></d:report></"
               "d:supported-report>"
               "<d:supported-report><d:report><card:addressbook-query/></d:report></"
               "d:supported-report>"
               "<d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report>"
               "</d:supported-report-set>");
    case KITH_DAVP_SUPPORTED_ADDRESS_DATA:
        if (res->kind != R_BOOK) {
            return KITH_ENOTFOUND;
        }
        return kith_buf_puts(b,
                             "<card:supported-address-data>"
                             "<card:address-data-type content-type=\"text/vcard\" version=\"3.0\"/>"
                             "</card:supported-address-data>");
    case KITH_DAVP_MAX_RESOURCE_SIZE:
        if (res->kind != R_BOOK) {
            return KITH_ENOTFOUND;
        }
        return kith_buf_printf(b, "<card:max-resource-size>%u</card:max-resource-size>",
                               KITH_DAV_MAX_BODY);
    case KITH_DAVP_CURRENT_USER_PRIVILEGE_SET:
        return kith_buf_puts(b, "<d:current-user-privilege-set>"
                                "<d:privilege><d:read/></d:privilege>"
                                "<d:privilege><d:write/></d:privilege>"
                                "<d:privilege><d:write-content/></d:privilege>"
                                "<d:privilege><d:bind/></d:privilege>"
                                "<d:privilege><d:unbind/></d:privilege>"
                                "</d:current-user-privilege-set>");
    case KITH_DAVP_GETETAG:
        if (res->kind != R_CARD) {
            return KITH_ENOTFOUND;
        }
        /* The ETag's quotes, escaped: "&quot;" */
        return kith_buf_printf(b, "<d:getetag>&quot;%" PRIu64 "&quot;</d:getetag>",
                               res->card->version);
    case KITH_DAVP_GETCONTENTTYPE:
        if (res->kind != R_CARD) {
            return KITH_ENOTFOUND;
        }
        return kith_buf_puts(b, "<d:getcontenttype>" VCARD_TYPE "</d:getcontenttype>");
    case KITH_DAVP_ADDRESS_DATA:
        if (res->kind != R_CARD) {
            return KITH_ENOTFOUND;
        }
        {
            kith_buf_t card;
            kith_buf_init(&card);
            rc = kith_cardbook_get(d->node, res->card->id, &card);
            if (rc == KITH_OK) {
                rc = kith_buf_puts(b, "<card:address-data>");
            }
            if (rc == KITH_OK) {
                rc = kith_davxml_escape(b, (const char *) card.data, card.len);
            }
            if (rc == KITH_OK) {
                rc = kith_buf_puts(b, "</card:address-data>");
            }
            kith_buf_close(&card);
            return rc;
        }
    default:
        return KITH_ENOTFOUND;
    }
}

/* The element name of a property for a propname or 404 answer. */
static int
prop_name(kith_buf_t *b, const kith_davxml_prop_t *p)
{
    int rc = kith_buf_printf(b, "<x:%s xmlns:x=\"", p->name);
    if (rc == KITH_OK) {
        rc = kith_davxml_escape(b, p->ns, strlen(p->ns));
    }
    return rc == KITH_OK ? kith_buf_puts(b, "\"/>") : rc;
}

/* What allprop gives (RFC 4918 9.1: the dead and live properties worth listing). */
static const kith_davp_t allprops[] = {
    KITH_DAVP_RESOURCETYPE,   KITH_DAVP_DISPLAYNAME, KITH_DAVP_GETETAG,
    KITH_DAVP_GETCONTENTTYPE, KITH_DAVP_SYNC_TOKEN,  KITH_DAVP_CURRENT_USER_PRINCIPAL,
};

/* One <d:response> for a resource with the properties asked for. */
static int
put_response(kith_buf_t *out, const char *href, const resource_t *res,
             const kith_davxml_request_t *req)
{
    kith_buf_t ok, missing;
    kith_buf_init(&ok);
    kith_buf_init(&missing);
    int rc = KITH_OK;
    if (req->allprop) {
        for (size_t i = 0; i < sizeof(allprops) / sizeof(allprops[0]) && rc == KITH_OK; i++) {
            size_t before = ok.len;
            rc = prop_value(res, allprops[i], &ok);
            if (rc == KITH_ENOTFOUND) {
                ok.len = before;
                rc = KITH_OK;
            }
        }
    } else {
        for (size_t i = 0; i < req->n_props && rc == KITH_OK; i++) {
            size_t before = ok.len;
            rc = req->propname ? prop_name(&ok, &req->props[i])
                               : prop_value(res, req->props[i].id, &ok);
            if (rc == KITH_ENOTFOUND) {
                ok.len = before;
                rc = prop_name(&missing, &req->props[i]);
            }
        }
    }
    if (rc == KITH_OK) {
        rc = kith_buf_puts(out, "<d:response><d:href>");
    }
    if (rc == KITH_OK) {
        rc = kith_buf_puts(out, href);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_puts(out, "</d:href>");
    }
    if (rc == KITH_OK && ok.len > 0) {
        rc = kith_buf_puts(out, "<d:propstat><d:prop>");
        if (rc == KITH_OK) {
            rc = kith_buf_append(out, ok.data, ok.len);
        }
        if (rc == KITH_OK) {
            rc = kith_buf_puts(out, "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>");
        }
    }
    if (rc == KITH_OK && missing.len > 0) {
        rc = kith_buf_puts(out, "<d:propstat><d:prop>");
        if (rc == KITH_OK) {
            rc = kith_buf_append(out, missing.data, missing.len);
        }
        if (rc == KITH_OK) {
            rc = kith_buf_puts(out,
                               "</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>");
        }
    }
    if (rc == KITH_OK) {
        rc = kith_buf_puts(out, "</d:response>\n");
    }
    kith_buf_close(&ok);
    kith_buf_close(&missing);
    return rc;
}

static int
put_status_response(kith_buf_t *out, const char *href, const char *status)
{
    return kith_buf_printf(out,
                           "<d:response><d:href>%s</d:href><d:status>HTTP/1.1 %s</d:status>"
                           "</d:response>\n",
                           href, status);
}

static int
multistatus_open(kith_buf_t *b)
{
    return kith_buf_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                            "<d:multistatus xmlns:d=\"DAV:\" "
                            "xmlns:card=\"urn:ietf:params:xml:ns:carddav\" "
                            "xmlns:cs=\"http://calendarserver.org/ns/\">\n");
}

/* Ends the multistatus answer begun with multistatus_open() if rc is KITH_OK. */
static int
multistatus_close(dav_req_t *q, int rc)
{
    if (rc == KITH_OK) {
        rc = kith_buf_puts(&q->body, "</d:multistatus>\n");
    }
    if (rc == KITH_OK) {
        q->status = 207;
        q->content_type = XML_TYPE;
    }
    return rc;
}

static void
book_display(const kith_cardbook_t *b, char *out, size_t cap)
{
    if (b->group[0] == '\0') {
        snprintf(out, cap, "kith: all contacts");
    } else {
        snprintf(out, cap, "kith: shared with %s", b->group);
    }
}

/* ---- PROPFIND and REPORT ------------------------------------------------------------ */

typedef struct {
    dav_req_t *q;
    const kith_cardbook_t *book;
    const kith_davxml_request_t *req;
    kith_buf_t href;
    size_t prefix_len; /* of href: the book's path */
} card_walk_t;

static int
card_href(card_walk_t *w, const char *name, const char **out)
{
    w->href.len = w->prefix_len;
    int rc = pct_encode(&w->href, name);
    if (rc == KITH_OK) {
        rc = kith_buf_append(&w->href, "", 1);
        *out = (const char *) w->href.data;
    }
    return rc;
}

static int
on_card(void *ctx, const kith_cardbook_entry_t *e)
{
    card_walk_t *w = ctx;
    const char *href = NULL;
    int rc = card_href(w, e->href, &href);
    if (rc != KITH_OK) {
        return rc;
    }
    if (!e->present) {
        return put_status_response(&w->q->body, href, "404 Not Found");
    }
    resource_t res = {w->q, R_CARD, w->book, e, NULL, NULL};
    return put_response(&w->q->body, href, &res, w->req);
}

static int
walk_init(card_walk_t *w, dav_req_t *q, const kith_cardbook_t *book,
          const kith_davxml_request_t *req)
{
    memset(w, 0, sizeof(*w));
    w->q = q;
    w->book = book;
    w->req = req;
    kith_buf_init(&w->href);
    int rc = href_book(&w->href, book->name);
    w->prefix_len = w->href.len;
    return rc;
}

static int
book_response(dav_req_t *q, const kith_cardbook_t *book, const kith_davxml_request_t *req)
{
    char token[KITH_CARDBOOK_TOKEN_MAX], display[128];
    kith_buf_t href;
    kith_buf_init(&href);
    int rc = kith_cardbook_token(q->d->node, book, token);
    if (rc == KITH_OK) {
        rc = href_book(&href, book->name);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_append(&href, "", 1);
    }
    book_display(book, display, sizeof(display));
    resource_t res = {q, R_BOOK, book, NULL, token, display};
    if (rc == KITH_OK) {
        rc = put_response(&q->body, (const char *) href.data, &res, req);
    }
    kith_buf_close(&href);
    return rc;
}

static int
propfind(dav_req_t *q, const kith_davxml_request_t *req, int depth)
{
    kith_node_t *n = q->d->node;
    kith_cardbook_t book;
    memset(&book, 0, sizeof(book));
    int rc = multistatus_open(&q->body);
    if (rc == KITH_OK && (q->route == R_ROOT || q->route == R_PRINCIPAL || q->route == R_HOME)) {
        resource_t res = {q, q->route, NULL, NULL, NULL, NULL};
        const char *href = q->route == R_ROOT        ? "/dav/"
                           : q->route == R_PRINCIPAL ? "/dav/principal/"
                                                     : "/dav/books/";
        rc = put_response(&q->body, href, &res, req);
        if (rc == KITH_OK && depth > 0 && q->route == R_HOME) {
            kith_cardbook_t *books = NULL;
            size_t count = 0;
            rc = kith_cardbook_list(n, &books, &count);
            for (size_t i = 0; rc == KITH_OK && i < count; i++) {
                rc = book_response(q, &books[i], req);
            }
            kith_cardbooks_free(books, count);
        }
    } else if (rc == KITH_OK) {
        rc = kith_cardbook_open(n, q->book, &book);
        if (rc == KITH_OK && q->route == R_BOOK) {
            rc = book_response(q, &book, req);
            if (rc == KITH_OK && depth > 0) {
                card_walk_t w;
                rc = walk_init(&w, q, &book, req);
                if (rc == KITH_OK) {
                    rc = kith_cardbook_members(n, &book, on_card, &w, NULL);
                }
                kith_buf_close(&w.href);
            }
        } else if (rc == KITH_OK) {
            kith_cardbook_entry_t e = {.present = 1, .href = q->name};
            rc = kith_cardbook_find(n, &book, q->name, e.id, &e.version);
            card_walk_t w;
            if (rc == KITH_OK) {
                rc = walk_init(&w, q, &book, req);
                if (rc == KITH_OK) {
                    rc = on_card(&w, &e);
                }
                kith_buf_close(&w.href);
            }
        }
    }
    kith_cardbook_close(&book);
    return multistatus_close(q, rc);
}

/* A multiget href: the card's name if it is in this book's path. */
static int
href_name(const char *href, const char *book_path, char name[KITH_CARDBOOK_HREF_MAX + 1])
{
    /* Absolute URLs ("http://host:port/dav/...") are accepted for their path. */
    if (strncmp(href, "http://", 7) == 0 || strncmp(href, "https://", 8) == 0) {
        const char *p = strchr(href + (href[4] == 's' ? 8 : 7), '/');
        if (p == NULL) {
            return KITH_EINVAL;
        }
        href = p;
    }
    char path[MAX_SEGMENT + 64];
    if (pct_decode(href, strlen(href), path, sizeof(path)) != KITH_OK) {
        return KITH_EINVAL;
    }
    size_t pl = strlen(book_path);
    if (strncmp(path, book_path, pl) != 0 || strchr(path + pl, '/') != NULL ||
        strlen(path + pl) > KITH_CARDBOOK_HREF_MAX || path[pl] == '\0') {
        return KITH_EINVAL;
    }
    memcpy(name, path + pl, strlen(path + pl) + 1);
    return KITH_OK;
}

static int
multiget(dav_req_t *q, const kith_cardbook_t *book, const kith_davxml_request_t *req)
{
    char book_path[KITH_CARDBOOK_NAME_MAX + 16];
    snprintf(book_path, sizeof(book_path), "/dav/books/%s/", book->name);
    card_walk_t w;
    int rc = walk_init(&w, q, book, req);
    for (size_t i = 0; rc == KITH_OK && i < req->n_hrefs; i++) {
        char name[KITH_CARDBOOK_HREF_MAX + 1];
        kith_cardbook_entry_t e = {.present = 1, .href = name};
        kith_buf_t esc;
        kith_buf_init(&esc);
        int found = href_name(req->hrefs[i], book_path, name);
        if (found == KITH_OK) {
            found = kith_cardbook_find(q->d->node, book, name, e.id, &e.version);
        }
        if (found == KITH_OK) {
            rc = on_card(&w, &e);
        } else if (found == KITH_ENOTFOUND || found == KITH_EINVAL) {
            rc = kith_davxml_escape(&esc, req->hrefs[i], strlen(req->hrefs[i]));
            if (rc == KITH_OK) {
                rc = kith_buf_append(&esc, "", 1);
            }
            if (rc == KITH_OK) {
                rc = put_status_response(&q->body, (const char *) esc.data, "404 Not Found");
            }
        } else {
            rc = found;
        }
        kith_buf_close(&esc);
    }
    kith_buf_close(&w.href);
    return rc;
}

static int
report(dav_req_t *q, const kith_davxml_request_t *req)
{
    kith_node_t *n = q->d->node;
    kith_cardbook_t book;
    int rc = kith_cardbook_open(n, q->book, &book);
    if (rc != KITH_OK) {
        return rc;
    }
    q->body.len = 0;
    rc = multistatus_open(&q->body);
    card_walk_t w;
    memset(&w, 0, sizeof(w));
    if (rc == KITH_OK && req->kind == KITH_DAVXML_MULTIGET) {
        rc = multiget(q, &book, req);
    } else if (rc == KITH_OK && req->kind == KITH_DAVXML_QUERY) {
        /* Filters are not applied: every card is a match (proto/DAV.md). */
        rc = walk_init(&w, q, &book, req);
        if (rc == KITH_OK) {
            rc = kith_cardbook_members(n, &book, on_card, &w, NULL);
        }
    } else if (rc == KITH_OK && req->kind == KITH_DAVXML_SYNC) {
        char now[KITH_CARDBOOK_TOKEN_MAX];
        rc = walk_init(&w, q, &book, req);
        if (rc == KITH_OK) {
            rc = kith_cardbook_changes(n, &book, req->sync_token, on_card, &w, now);
        }
        if (rc == KITH_EINVAL) {
            kith_buf_close(&w.href);
            kith_cardbook_close(&book);
            error_answer(q, 403, "DAV:", "valid-sync-token",
                         "this sync token is not (or no longer) valid: sync again from scratch");
            return KITH_OK;
        }
        if (rc == KITH_OK) {
            rc = kith_buf_puts(&q->body, "<d:sync-token>");
        }
        if (rc == KITH_OK) {
            rc = kith_davxml_escape(&q->body, now, strlen(now));
        }
        if (rc == KITH_OK) {
            rc = kith_buf_puts(&q->body, "</d:sync-token>\n");
        }
    } else if (rc == KITH_OK) {
        rc = KITH_EINVAL;
    }
    kith_buf_close(&w.href);
    kith_cardbook_close(&book);
    return multistatus_close(q, rc);
}

/* ---- cards -------------------------------------------------------------------------- */

/* If-Match: the one strong ETag it names. *has 0: no header; -1: unusable (never
 * matches); 1: *version set; 2: "*". */
static void
parse_if_match(const char *v, uint64_t *version, int *has)
{
    *has = 0;
    if (v == NULL) {
        return;
    }
    while (*v == ' ') {
        v++;
    }
    if (strcmp(v, "*") == 0) {
        *has = 2;
        return;
    }
    *has = -1;
    if (v[0] != '"') {
        return;
    }
    uint64_t n = 0;
    const char *p = v + 1;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 20; p++, digits++) {
        n = n * 10 + (uint64_t) (*p - '0');
    }
    if (digits == 0 || *p != '"') {
        return;
    }
    for (p++; *p == ' '; p++) {
    }
    if (*p != '\0') {
        return; /* a list of ETags: kith's clients send one */
    }
    *version = n;
    *has = 1;
}

static void
set_etag(dav_req_t *q, uint64_t version)
{
    snprintf(q->etag, sizeof(q->etag), "\"%" PRIu64 "\"", version);
    add_header(q, "ETag", q->etag);
}

static int
get_card(dav_req_t *q)
{
    kith_node_t *n = q->d->node;
    kith_cardbook_t book;
    int rc = kith_cardbook_open(n, q->book, &book);
    uint8_t id[KITH_REC_ID_LEN];
    uint64_t version = 0;
    if (rc == KITH_OK) {
        rc = kith_cardbook_find(n, &book, q->name, id, &version);
    }
    if (rc == KITH_OK) {
        rc = kith_cardbook_get(n, id, &q->body);
    }
    kith_cardbook_close(&book);
    if (rc == KITH_OK) {
        q->status = 200;
        q->content_type = VCARD_TYPE;
        set_etag(q, version);
    }
    return rc;
}

static int
on_export(void *ctx, const kith_cardbook_entry_t *e)
{
    dav_req_t *q = ctx;
    return kith_cardbook_get(q->d->node, e->id, &q->body);
}

/* GET on a book: every card in one text/vcard file, as Radicale does. */
static int
get_book(dav_req_t *q)
{
    kith_cardbook_t book;
    int rc = kith_cardbook_open(q->d->node, q->book, &book);
    if (rc == KITH_OK) {
        rc = kith_cardbook_members(q->d->node, &book, on_export, q, NULL);
    }
    kith_cardbook_close(&book);
    if (rc == KITH_OK) {
        q->status = 200;
        q->content_type = VCARD_TYPE;
    }
    return rc;
}

static void
put_card(dav_req_t *q, uint64_t now_ms)
{
    kith_node_t *n = q->d->node;
    const char *ct = kith_http_header(q->r, "content-type");
    if (ct != NULL && strncasecmp(ct, "text/vcard", 10) != 0 &&
        strncasecmp(ct, "text/x-vcard", 12) != 0 && strncasecmp(ct, "text/directory", 14) != 0) {
        error_answer(q, 415, "urn:ietf:params:xml:ns:carddav", "supported-address-data",
                     "a card is sent as text/vcard");
        return;
    }
    uint64_t version = 0;
    int has = 0;
    parse_if_match(kith_http_header(q->r, "if-match"), &version, &has);
    const char *inm = kith_http_header(q->r, "if-none-match");
    int if_none_match = inm != NULL && strcmp(inm, "*") == 0;
    kith_cardbook_t book;
    int rc = kith_cardbook_open(n, q->book, &book);
    if (rc == KITH_ENOTFOUND) {
        text_answer(q, 404, "no such address book");
        return;
    }
    char err[256] = "";
    kith_cardbook_put_t res;
    memset(&res, 0, sizeof(res));
    if (rc == KITH_OK && has == -1) {
        rc = KITH_ESTALE;
        snprintf(err, sizeof(err), "If-Match names no current version of the card");
    } else if (rc == KITH_OK && has == 2) {
        uint8_t id[KITH_REC_ID_LEN];
        uint64_t v;
        rc = kith_cardbook_find(n, &book, q->name, id, &v);
        if (rc == KITH_ENOTFOUND) {
            rc = KITH_ESTALE;
            snprintf(err, sizeof(err), "the card does not exist");
        }
        has = 0;
    }
    if (rc == KITH_OK) {
        rc = kith_cardbook_put(n, &book, q->name, (const char *) q->r->body, q->r->body_len,
                               has == 1 ? &version : NULL, if_none_match, now_ms, &res, err,
                               sizeof(err));
    }
    kith_cardbook_close(&book);
    switch (rc) {
    case KITH_OK:
        q->status = res.created ? 201 : 204;
        q->changed = res.changed > 0;
        snprintf(q->log, sizeof(q->log), "%s card %s (%zu field changes%s)",
                 res.created ? "new" : "edited", q->name, res.changed,
                 res.skipped ? ", some properties not kept" : "");
        break;
    case KITH_EPARSE:
        error_answer(q, 403, "urn:ietf:params:xml:ns:carddav", "valid-address-data", err);
        break;
    case KITH_EEXISTS:
        error_answer(q, 409, "urn:ietf:params:xml:ns:carddav", "no-uid-conflict", err);
        break;
    case KITH_EAUTH:
    case KITH_EPERM:
        error_answer(q, 403, "DAV:", "need-privileges", err);
        break;
    case KITH_ESTALE:
        text_answer(q, 412, err[0] ? err : "precondition failed");
        break;
    case KITH_EINVAL:
        text_answer(q, 400, err[0] ? err : "bad card name");
        break;
    case KITH_EREADONLY:
        text_answer(q, 403, "this node's home is read-only");
        break;
    case KITH_ETOOBIG:
        error_answer(q, 403, "DAV:", "need-privileges", err);
        break;
    default:
        logf_(q->d, KITH_LOG_ERROR, "dav: PUT %s failed: %s", q->name, kith_strerror(rc));
        text_answer(q, 500, "the card could not be stored");
        break;
    }
}

static void
delete_card(dav_req_t *q, uint64_t now_ms)
{
    kith_node_t *n = q->d->node;
    uint64_t version = 0;
    int has = 0;
    parse_if_match(kith_http_header(q->r, "if-match"), &version, &has);
    kith_cardbook_t book;
    char err[256] = "";
    int rc = kith_cardbook_open(n, q->book, &book);
    if (rc == KITH_OK && has == -1) {
        rc = KITH_ESTALE;
    } else if (rc == KITH_OK) {
        rc = kith_cardbook_delete(n, &book, q->name, has == 1 ? &version : NULL, now_ms, err,
                                  sizeof(err));
    }
    kith_cardbook_close(&book);
    switch (rc) {
    case KITH_OK:
        q->status = 204;
        q->changed = 1;
        snprintf(q->log, sizeof(q->log), "deleted card %s ('kith restore' brings it back)",
                 q->name);
        break;
    case KITH_ENOTFOUND:
        text_answer(q, 404, "no such card");
        break;
    case KITH_EAUTH:
        error_answer(q, 403, "DAV:", "need-privileges", err);
        break;
    case KITH_ESTALE:
        text_answer(q, 412, "the card changed since the client read it");
        break;
    case KITH_EREADONLY:
        text_answer(q, 403, "this node's home is read-only");
        break;
    default:
        logf_(q->d, KITH_LOG_ERROR, "dav: DELETE %s failed: %s", q->name, kith_strerror(rc));
        text_answer(q, 500, "the card could not be deleted");
        break;
    }
}

static int
depth_of(const kith_http_request_t *r, int dflt)
{
    const char *v = kith_http_header(r, "depth");
    if (v == NULL) {
        return dflt;
    }
    return strcmp(v, "0") == 0 ? 0 : 1; /* "1" and "infinity" alike: books hold no books */
}

/* PROPPATCH: kith's collections have no properties a client may set. */
static int
proppatch(dav_req_t *q, const kith_davxml_request_t *req)
{
    int rc = multistatus_open(&q->body);
    kith_buf_t href;
    kith_buf_init(&href);
    if (rc == KITH_OK) {
        size_t len = strcspn(q->r->target, "?#");
        rc = kith_davxml_escape(&href, q->r->target, len);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_puts(&q->body, "<d:response><d:href>");
    }
    if (rc == KITH_OK) {
        rc = kith_buf_append(&q->body, href.data, href.len);
    }
    kith_buf_close(&href);
    if (rc == KITH_OK) {
        rc = kith_buf_puts(&q->body, "</d:href><d:propstat><d:prop>");
    }
    for (size_t i = 0; rc == KITH_OK && i < req->n_props; i++) {
        rc = prop_name(&q->body, &req->props[i]);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_puts(&q->body, "</d:prop><d:status>HTTP/1.1 403 Forbidden</d:status>"
                                     "</d:propstat></d:response></d:multistatus>\n");
    }
    if (rc == KITH_OK) {
        q->status = 207;
        q->content_type = XML_TYPE;
    }
    return rc;
}

/* ---- the store job ------------------------------------------------------------------ */

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void
xml_request(dav_req_t *q)
{
    const kith_http_request_t *r = q->r;
    kith_davxml_request_t req;
    memset(&req, 0, sizeof(req));
    char err[200] = "";
    int rc =
        kith_davxml_parse(r->method, (const char *) r->body, r->body_len, &req, err, sizeof(err));
    if (rc == KITH_ETOOBIG) {
        text_answer(q, 413, err[0] ? err : "request too large");
        return;
    }
    if (rc == KITH_ENOTSUP) {
        error_answer(q, 403, "DAV:", "supported-report", err[0] ? err : "report not supported");
        return;
    }
    if (rc != KITH_OK) {
        text_answer(q, 400, err[0] ? err : "malformed XML");
        return;
    }
    if (strcmp(r->method, "PROPFIND") == 0) {
        rc = propfind(q, &req, depth_of(r, 1));
    } else if (strcmp(r->method, "PROPPATCH") == 0) {
        rc = proppatch(q, &req);
    } else if (q->route != R_BOOK) {
        error_answer(q, 403, "DAV:", "supported-report", "reports are run on an address book");
        rc = KITH_OK;
    } else {
        rc = report(q, &req);
    }
    kith_davxml_request_close(&req);
    if (rc == KITH_ENOTFOUND) {
        text_answer(q, 404, "not found");
    } else if (rc != KITH_OK) {
        logf_(q->d, KITH_LOG_ERROR, "dav: %s failed: %s", r->method, kith_strerror(rc));
        text_answer(q, 500, "internal error");
    }
}

static void
job_work(kith_job_t *j)
{
    dav_req_t *q = (dav_req_t *) j;
    const char *m = q->r->method;
    if (strcmp(m, "PROPFIND") == 0 || strcmp(m, "REPORT") == 0 || strcmp(m, "PROPPATCH") == 0) {
        xml_request(q);
        return;
    }
    int rc = KITH_OK;
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
        rc = q->route == R_CARD ? get_card(q) : get_book(q);
    } else if (strcmp(m, "PUT") == 0) {
        put_card(q, now_ms());
    } else if (strcmp(m, "DELETE") == 0) {
        delete_card(q, now_ms());
    }
    if (rc == KITH_ENOTFOUND) {
        text_answer(q, 404, "not found");
    } else if (rc != KITH_OK) {
        logf_(q->d, KITH_LOG_ERROR, "dav: %s failed: %s", m, kith_strerror(rc));
        text_answer(q, 500, "internal error");
    }
}

static void
dav_req_free(dav_req_t *q)
{
    kith_buf_close(&q->body);
    free(q);
}

static void
job_done(kith_job_t *j)
{
    dav_req_t *q = (dav_req_t *) j;
    kith_dav_t *d = q->d;
    if (q->log[0] != '\0') {
        logf_(d, KITH_LOG_INFO, "dav: %s", q->log);
    }
    respond(d, q->x, q);
    if (q->changed && d->changed != NULL) {
        d->changed(d->host);
    }
    dav_req_free(q);
}

/* ---- the loop side ------------------------------------------------------------------ */

static int
authorized(kith_dav_t *d, const kith_http_request_t *r)
{
    const char *h = kith_http_header(r, "authorization");
    if (h == NULL || strncasecmp(h, "Basic ", 6) != 0) {
        return 0;
    }
    const char *b64 = h + 6;
    while (*b64 == ' ') {
        b64++;
    }
    unsigned char raw[128];
    size_t len = 0;
    if (sodium_base642bin(raw, sizeof(raw) - 1, b64, strlen(b64), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        return 0;
    }
    raw[len] = '\0';
    static const char user[] = KITH_DAV_USER ":";
    size_t ul = sizeof(user) - 1;
    int ok = len == ul + KITH_CARDBOOK_PASSWORD_LEN && memcmp(raw, user, ul) == 0 &&
             sodium_memcmp(raw + ul, d->password, KITH_CARDBOOK_PASSWORD_LEN) == 0;
    sodium_memzero(raw, sizeof(raw));
    return ok;
}

static int
read_password(kith_dav_t *d, char **out)
{
    char *p = sodium_malloc(KITH_CARDBOOK_PASSWORD_LEN + 1);
    if (p == NULL) {
        return KITH_ENOMEM;
    }
    int rc = kith_cardbook_password(d->node, p);
    if (rc != KITH_OK) {
        sodium_free(p);
        return rc;
    }
    *out = p;
    return KITH_OK;
}

static const char allow[] = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT";

/* The part of a request the loop thread decides: Host, login, the well-known URL, OPTIONS,
 * the route and the method. Returns 1 when q holds the answer already, 0 when q is to run
 * as a store job. */
static int
front(kith_dav_t *d, const kith_http_request_t *r, dav_req_t *q)
{
    if (d->loopback && !kith_http_host_loopback(r)) {
        text_answer(q, 421, "this server answers to 127.0.0.1 and localhost only");
        return 1;
    }
    if (!authorized(d, r)) {
        logf_(d, KITH_LOG_DEBUG, "dav: %s %s from %s: no valid login", r->method, r->target,
              r->peer);
        text_answer(q, 401, "log in with the user and password 'kith dav' shows");
        add_header(q, "WWW-Authenticate", "Basic realm=\"kith\", charset=\"UTF-8\"");
        return 1;
    }
    if (strncmp(r->target, "/.well-known/carddav", 20) == 0 &&
        (r->target[20] == '\0' || r->target[20] == '/' || r->target[20] == '?')) {
        text_answer(q, 301, "see /dav/");
        add_header(q, "Location", "/dav/");
        return 1;
    }
    if (strcmp(r->method, "OPTIONS") == 0) {
        q->status = 200;
        add_header(q, "DAV", "1, 3, addressbook");
        add_header(q, "Allow", allow);
        return 1;
    }
    if (route(r->target, q) != KITH_OK) {
        text_answer(q, 404, "not found");
        return 1;
    }
    const char *m = r->method;
    int card = q->route == R_CARD, book = q->route == R_BOOK;
    int allowed = strcmp(m, "PROPFIND") == 0 || strcmp(m, "PROPPATCH") == 0 ||
                  strcmp(m, "REPORT") == 0 ||
                  ((strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) && (card || book)) ||
                  ((strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0) && card);
    if (!allowed) {
        text_answer(q, 405, "method not allowed here");
        add_header(q, "Allow", allow);
        return 1;
    }
    return 0;
}

void
kith_dav_handle(void *ctx, kith_http_exchange_t *x)
{
    kith_dav_t *d = ctx;
    const kith_http_request_t *r = kith_http_exchange_request(x);
    if (r->body_len > KITH_DAV_MAX_BODY) { /* the server's own limit is the web UI's import */
        kith_http_response_t resp = {413, NULL,        0, (const uint8_t *) "too large\n",
                                     10,  "text/plain"};
        kith_http_respond(x, &resp);
        return;
    }
    dav_req_t *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        kith_http_response_t resp = {503, NULL, 0, NULL, 0, NULL};
        kith_http_respond(x, &resp);
        return;
    }
    kith_buf_init(&q->body);
    q->d = d;
    q->x = x;
    q->r = r;
    if (front(d, r, q)) {
        respond(d, x, q);
        dav_req_free(q);
        return;
    }
    q->job.work = job_work;
    q->job.done = job_done;
    d->submit(d->host, &q->job);
}

int
kith__dav_answer(kith_node_t *n, const kith_http_request_t *r, int *status, kith_buf_t *body)
{
    kith_dav_t d;
    memset(&d, 0, sizeof(d));
    d.node = n;
    d.loopback = 1;
    int rc = read_password(&d, &d.password);
    if (rc != KITH_OK) {
        return rc;
    }
    dav_req_t q;
    memset(&q, 0, sizeof(q));
    kith_buf_init(&q.body);
    q.d = &d;
    q.r = r;
    if (!front(&d, r, &q)) {
        job_work(&q.job);
    }
    *status = q.status;
    rc = kith_buf_append(body, q.body.data, q.body.len);
    kith_buf_close(&q.body);
    sodium_free(d.password);
    return rc;
}

/* ---- start and stop ----------------------------------------------------------------- */

int
kith_dav_new(kith_dav_t **out, const kith_dav_opts_t *opts, char *errbuf, size_t errcap)
{
    *out = NULL;
    kith_dav_t *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return KITH_ENOMEM;
    }
    d->node = opts->node;
    d->host = opts->host;
    d->submit = opts->submit;
    d->changed = opts->changed;
    d->log = opts->log;
    d->loopback = kith_http_listen_loopback(opts->listen);
    int rc = read_password(d, &d->password);
    if (rc != KITH_OK) {
        snprintf(errbuf, errcap, "cannot read the CardDAV password: %s", kith_strerror(rc));
        free(d);
        return rc;
    }
    *out = d;
    return KITH_OK;
}

int
kith_dav_start(kith_dav_t **out, uv_loop_t *loop, const kith_dav_opts_t *opts, char *errbuf,
               size_t errcap)
{
    int rc = kith_dav_new(out, opts, errbuf, errcap);
    if (rc != KITH_OK) {
        return rc;
    }
    kith_dav_t *d = *out;
    kith_httpd_opts_t ho = {opts->listen, KITH_DAV_MAX_BODY, HTTP_TIMEOUT_MS, kith_dav_handle, d};
    rc = kith_httpd_start(&d->http, loop, &ho, errbuf, errcap);
    if (rc != KITH_OK) {
        d->stopped = 1;
        return rc; /* *out is freed with the loop's end, as after a stop (httpd.h) */
    }
    d->port = kith_httpd_port(d->http);
    return KITH_OK;
}

int
kith_dav_port(const kith_dav_t *d)
{
    return d->port;
}

void
kith_dav_reload_work(kith_dav_t *d)
{
    if (d->reloaded != NULL) {
        sodium_free(d->reloaded);
        d->reloaded = NULL;
    }
    if (read_password(d, &d->reloaded) != KITH_OK) {
        d->reloaded = NULL; /* keep the old one */
    }
}

void
kith_dav_reload_done(kith_dav_t *d)
{
    if (d->reloaded != NULL) {
        sodium_free(d->password);
        d->password = d->reloaded;
        d->reloaded = NULL;
    }
}

void
kith_dav_stop(kith_dav_t *d)
{
    if (d != NULL && !d->stopped) {
        d->stopped = 1;
        kith_httpd_stop(d->http);
    }
}

void
kith_dav_free(kith_dav_t *d)
{
    if (d == NULL) {
        return;
    }
    kith_httpd_free(d->http);
    sodium_free(d->password);
    if (d->reloaded != NULL) {
        sodium_free(d->reloaded);
    }
    free(d);
}
