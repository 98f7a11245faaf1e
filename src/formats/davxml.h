/*
 * The XML request bodies of WebDAV (RFC 4918), CardDAV (RFC 6352) and WebDAV sync
 * (RFC 6578), parsed with libxml2 into a flat, bounded request the CardDAV server
 * answers from.
 *
 * Elements are matched by namespace URI and local name, never by prefix. Namespaces:
 * "DAV:", CARDDAV = "urn:ietf:params:xml:ns:carddav", CS = "http://calendarserver.org/ns/".
 * What is read, by method and root element:
 *   PROPFIND  DAV:propfind with DAV:prop, DAV:allprop (with an optional DAV:include,
 *             whose children go to props) or DAV:propname: exactly one of the three.
 *             An empty body (nothing but XML white space) is allprop.
 *   PROPPATCH DAV:propertyupdate with one or more DAV:set / DAV:remove, each with a
 *             DAV:prop: the names of the properties go to props, in document order.
 *             Values, and whether a property is set or removed, are not kept.
 *   REPORT    CARDDAV:addressbook-multiget: optional prop/allprop/propname, one or more
 *             DAV:href (at most KITH_DAVXML_MAX_HREFS).
 *             CARDDAV:addressbook-query: optional prop/allprop/propname and a limit
 *             (CARDDAV:limit/CARDDAV:nresults, RFC 6352 8.6); filters are not read.
 *             DAV:sync-collection: DAV:sync-token (required, may be empty), DAV:sync-level
 *             (required, "1" or "infinite"), optional DAV:limit/DAV:nresults (RFC 6578
 *             uses RFC 5323's DAV:limit), optional DAV:prop.
 *             Any other root is KITH_ENOTSUP.
 * For limit/nresults either namespace (DAV: or CARDDAV) is accepted in both reports.
 * Unknown child elements are ignored (RFC 4918 section 17); properties the server
 * does not know are kept as KITH_DAVP_OTHER with their namespace and name. Children of
 * a property element (CARDDAV:address-data's own prop list, PROPPATCH values) are not
 * read.
 *
 * Refused: a DOCTYPE (before any of it is parsed, so no entity is ever expanded and no
 * external entity loaded), entity references, namespace errors (an undeclared prefix),
 * nesting deeper than KITH_DAVXML_MAX_DEPTH, text in an href or sync-token over
 * KITH_DAVXML_MAX_TEXT bytes, a NUL byte anywhere (libxml2 would take it for the end
 * of input), and anything libxml2 finds not well-formed (invalid UTF-8, ...). Memory use is bounded
 * by libxml2's tree of at most KITH_DAVXML_MAX_BODY bytes of input, plus the copied-out request.
 *
 * Parsing changes no process-wide state: libxml2's thread-local error handlers are
 * swapped for silent ones during the call and restored after it. kith_init() must have
 * run (it calls xmlInitParser()).
 */
#ifndef KITH_DAVXML_H
#define KITH_DAVXML_H

#include <stddef.h>

#include "util/buf.h"

#define KITH_DAVXML_MAX_BODY  (1u << 20) /* bytes */
#define KITH_DAVXML_MAX_PROPS 64         /* properties named in one request */
#define KITH_DAVXML_MAX_HREFS 20000      /* hrefs in one multiget */
#define KITH_DAVXML_MAX_DEPTH 32         /* element nesting; the root is depth 1 */
#define KITH_DAVXML_MAX_TEXT  8192       /* bytes of one href or sync-token, after trimming */

#define KITH_DAVXML_NS_DAV     "DAV:"
#define KITH_DAVXML_NS_CARDDAV "urn:ietf:params:xml:ns:carddav"
#define KITH_DAVXML_NS_CS      "http://calendarserver.org/ns/"

typedef enum {
    KITH_DAVXML_PROPFIND = 1, /* DAV:propfind (also the empty body: allprop) */
    KITH_DAVXML_PROPPATCH,    /* DAV:propertyupdate */
    KITH_DAVXML_MULTIGET,     /* CARDDAV:addressbook-multiget */
    KITH_DAVXML_QUERY,        /* CARDDAV:addressbook-query (filters are not parsed: props only) */
    KITH_DAVXML_SYNC,         /* DAV:sync-collection */
} kith_davxml_kind_t;

/* The properties the server knows; everything else is KITH_DAVP_OTHER. */
typedef enum {
    KITH_DAVP_OTHER = 0,
    KITH_DAVP_RESOURCETYPE,               /* DAV: */
    KITH_DAVP_GETETAG,                    /* DAV: */
    KITH_DAVP_GETCONTENTTYPE,             /* DAV: */
    KITH_DAVP_GETCONTENTLENGTH,           /* DAV: */
    KITH_DAVP_GETLASTMODIFIED,            /* DAV: */
    KITH_DAVP_DISPLAYNAME,                /* DAV: */
    KITH_DAVP_CURRENT_USER_PRINCIPAL,     /* DAV: (RFC 5397) */
    KITH_DAVP_PRINCIPAL_URL,              /* DAV:principal-URL (RFC 3744) */
    KITH_DAVP_OWNER,                      /* DAV: */
    KITH_DAVP_CURRENT_USER_PRIVILEGE_SET, /* DAV: (RFC 3744) */
    KITH_DAVP_SUPPORTED_REPORT_SET,       /* DAV: (RFC 3253) */
    KITH_DAVP_SYNC_TOKEN,                 /* DAV: (RFC 6578) */
    KITH_DAVP_ADDRESSBOOK_HOME_SET,       /* CARDDAV */
    KITH_DAVP_ADDRESSBOOK_DESCRIPTION,    /* CARDDAV */
    KITH_DAVP_SUPPORTED_ADDRESS_DATA,     /* CARDDAV */
    KITH_DAVP_MAX_RESOURCE_SIZE,          /* CARDDAV */
    KITH_DAVP_ADDRESS_DATA,               /* CARDDAV */
    KITH_DAVP_GETCTAG,                    /* CS (http://calendarserver.org/ns/) */
    KITH_DAVP_PRINCIPAL_COLLECTION_SET,   /* DAV: (RFC 3744) */
    KITH_DAVP_RESOURCE_ID,                /* DAV: (RFC 5842) */
    KITH_DAVP_QUOTA_AVAILABLE_BYTES,      /* DAV: (RFC 4331) */
    KITH_DAVP_QUOTA_USED_BYTES,           /* DAV: (RFC 4331) */
} kith_davp_t;

typedef struct {
    kith_davp_t id;
    char *ns;   /* namespace URI ("" for none), as given */
    char *name; /* local name */
} kith_davxml_prop_t;

typedef struct {
    kith_davxml_kind_t kind;
    int allprop;               /* DAV:allprop (or an empty PROPFIND body) */
    int propname;              /* DAV:propname */
    kith_davxml_prop_t *props; /* DAV:prop children (propfind, reports); for PROPPATCH the
                                  props being set or removed; NULL when n_props is 0 */
    size_t n_props;            /* at most KITH_DAVXML_MAX_PROPS */
    char **hrefs;              /* multiget: DAV:href texts, whitespace-trimmed, as given (not
                                  decoded); NULL when n_hrefs is 0 */
    size_t n_hrefs;            /* at most KITH_DAVXML_MAX_HREFS */
    char *sync_token;          /* sync-collection: DAV:sync-token text, trimmed, "" when
                                  empty (initial sync); NULL for other kinds */
    int sync_level;            /* sync-collection: 1, or -1 for "infinite"; else 0 */
    unsigned long limit;       /* DAV:limit/DAV:nresults if given, else 0 */
} kith_davxml_request_t;

/*
 * Parses a request body. method is "PROPFIND", "PROPPATCH" or "REPORT" (the report kind
 * comes from the root element); anything else is KITH_EINVAL. An empty body (len 0, or
 * only white space) is a PROPFIND allprop for PROPFIND and KITH_EPARSE otherwise.
 * body need not be NUL-terminated. *out is initialised by the call.
 *
 * Returns KITH_OK, and then *out must be released with kith_davxml_request_close();
 * KITH_EPARSE for malformed XML, a DOCTYPE or entity reference, an unexpected root for
 * the method, missing required elements, an invalid sync-level or nresults, nesting
 * deeper than KITH_DAVXML_MAX_DEPTH; KITH_ENOTSUP for a REPORT whose root is none of the
 * three above; KITH_ETOOBIG for a body over KITH_DAVXML_MAX_BODY, more props or hrefs
 * than the limits, or an href or sync-token over KITH_DAVXML_MAX_TEXT; KITH_ENOMEM.
 * errbuf (may be NULL) gets one sentence for the client, quoting at most 40 bytes of
 * input. On error *out is left empty (closing it is harmless).
 */
int kith_davxml_parse(const char *method, const char *body, size_t len, kith_davxml_request_t *out,
                      char *errbuf, size_t errcap);

/* Frees everything in *r and zeroes it. Safe on a zeroed or closed struct and on NULL. */
void kith_davxml_request_close(kith_davxml_request_t *r);

/*
 * Appends len bytes of UTF-8 text to out, escaped for XML character data and attribute
 * values: & < > " ' become entity references and CR becomes &#13; (so a vCard's CRLF
 * survives XML line-end normalisation). Returns KITH_OK; KITH_EINVAL if the text is not
 * valid XML 1.0 character data: invalid UTF-8, a control character other than TAB, LF
 * and CR (NUL included), U+FFFE or U+FFFF. DEL and U+0080..U+009F are valid XML 1.0
 * and pass. KITH_ENOMEM / KITH_ETOOBIG from the buffer. On error out is as it was.
 */
int kith_davxml_escape(kith_buf_t *out, const char *text, size_t len);

#endif
