/*
 * WebDAV / CardDAV request bodies; see davxml.h for what is read and refused.
 *
 * libxml2 does all the XML parsing. It runs with a parser context of our own whose SAX
 * handlers are the standard tree builders with three guards in front:
 *   - internalSubset fires as soon as "<!DOCTYPE name ExternalID" has been read, before
 *     the internal subset is parsed: it stops the parser, so entity declarations (billion
 *     laughs) are never parsed and external entities (XXE) never resolved;
 *   - getEntity fires for any reference to a non-predefined entity: it stops the parser
 *     (without a DTD such a reference is an error anyway; this makes sure of it); the
 *     other entity and DTD callbacks (entityDecl, getParameterEntity, resolveEntity,
 *     externalSubset) are replaced too, so none of them can declare or load anything;
 *   - startElementNs / endElementNs count the nesting and stop the parser past
 *     KITH_DAVXML_MAX_DEPTH, so deep documents never build a deep tree.
 * A stopped parse may leave a partial document behind, so the guards' flags are
 * checked before anything else, and the document is freed on every path.
 *
 * The tree is then walked by namespace URI and local name. Everything kept is copied
 * out with malloc; no pointer into libxml2's tree survives the call.
 *
 * libxml2 reports errors through handlers that are thread-local in a threaded build
 * (Debian's is). They are swapped for silent ones during the call and restored after,
 * so nothing is printed and no other thread is affected.
 */
#include "formats/davxml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "kith/error.h"
#include "util/errbuf.h"
#include "util/utf8.h"

#define NS_DAV     KITH_DAVXML_NS_DAV
#define NS_CARDDAV KITH_DAVXML_NS_CARDDAV
#define NS_CS      KITH_DAVXML_NS_CS

#define PARSE_OPTIONS                                                                              \
    (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS)

#define QUOTE_MAX 40 /* bytes of input an error message may quote */

static const struct {
    const char *ns;
    const char *name;
    kith_davp_t id;
} known_props[] = {
    {NS_DAV, "resourcetype", KITH_DAVP_RESOURCETYPE},
    {NS_DAV, "getetag", KITH_DAVP_GETETAG},
    {NS_DAV, "getcontenttype", KITH_DAVP_GETCONTENTTYPE},
    {NS_DAV, "getcontentlength", KITH_DAVP_GETCONTENTLENGTH},
    {NS_DAV, "getlastmodified", KITH_DAVP_GETLASTMODIFIED},
    {NS_DAV, "displayname", KITH_DAVP_DISPLAYNAME},
    {NS_DAV, "current-user-principal", KITH_DAVP_CURRENT_USER_PRINCIPAL},
    {NS_DAV, "principal-URL", KITH_DAVP_PRINCIPAL_URL},
    {NS_DAV, "owner", KITH_DAVP_OWNER},
    {NS_DAV, "current-user-privilege-set", KITH_DAVP_CURRENT_USER_PRIVILEGE_SET},
    {NS_DAV, "supported-report-set", KITH_DAVP_SUPPORTED_REPORT_SET},
    {NS_DAV, "sync-token", KITH_DAVP_SYNC_TOKEN},
    {NS_CARDDAV, "addressbook-home-set", KITH_DAVP_ADDRESSBOOK_HOME_SET},
    {NS_CARDDAV, "addressbook-description", KITH_DAVP_ADDRESSBOOK_DESCRIPTION},
    {NS_CARDDAV, "supported-address-data", KITH_DAVP_SUPPORTED_ADDRESS_DATA},
    {NS_CARDDAV, "max-resource-size", KITH_DAVP_MAX_RESOURCE_SIZE},
    {NS_CARDDAV, "address-data", KITH_DAVP_ADDRESS_DATA},
    {NS_CS, "getctag", KITH_DAVP_GETCTAG},
    {NS_DAV, "principal-collection-set", KITH_DAVP_PRINCIPAL_COLLECTION_SET},
    {NS_DAV, "resource-id", KITH_DAVP_RESOURCE_ID},
    {NS_DAV, "quota-available-bytes", KITH_DAVP_QUOTA_AVAILABLE_BYTES},
    {NS_DAV, "quota-used-bytes", KITH_DAVP_QUOTA_USED_BYTES},
};

/* What the SAX guards saw; hangs off the parser context's _private. */
typedef struct {
    int dtd;      /* a DOCTYPE: parsing stopped there */
    int entity;   /* a reference to a non-predefined entity */
    int too_deep; /* an element deeper than KITH_DAVXML_MAX_DEPTH */
    int depth;    /* open elements */
    startElementNsSAX2Func start;
    endElementNsSAX2Func end;
} guard_t;

/* The tree walk's state. */
typedef struct {
    kith_davxml_request_t *out;
    size_t cap_hrefs; /* slots allocated in out->hrefs */
    char *errbuf;
    size_t errcap;
} walk_t;

static void
guard_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
                      const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = ctx;
    ((guard_t *) ctxt->_private)->dtd = 1;
    xmlStopParser(ctxt);
}

/* The DTD callbacks below only run if a DOCTYPE got past guard_internal_subset's stop,
 * which should not happen; they make sure that even then no entity is declared, looked
 * up or loaded. */
static void
guard_external_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
                      const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = ctx;
    ((guard_t *) ctxt->_private)->dtd = 1;
    xmlStopParser(ctxt);
}

static void
guard_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                  const xmlChar *system_id, xmlChar *content)
{
    xmlParserCtxtPtr ctxt = ctx;
    ((guard_t *) ctxt->_private)->dtd = 1;
    xmlStopParser(ctxt);
}

static xmlEntityPtr
guard_get_parameter_entity(void *ctx, const xmlChar *name)
{
    xmlParserCtxtPtr ctxt = ctx;
    ((guard_t *) ctxt->_private)->dtd = 1;
    xmlStopParser(ctxt);
    return NULL;
}

static xmlParserInputPtr
guard_resolve_entity(void *ctx, const xmlChar *public_id, const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = ctx;
    ((guard_t *) ctxt->_private)->entity = 1;
    xmlStopParser(ctxt);
    return NULL;
}

static xmlEntityPtr
guard_get_entity(void *ctx, const xmlChar *name)
{
    xmlParserCtxtPtr ctxt = ctx;
    ((guard_t *) ctxt->_private)->entity = 1;
    xmlStopParser(ctxt);
    return NULL;
}

static void
guard_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
            int nb_namespaces, const xmlChar **namespaces, int nb_attributes, int nb_defaulted,
            const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    guard_t *g = ctxt->_private;
    if (++g->depth > KITH_DAVXML_MAX_DEPTH) {
        g->too_deep = 1;
        xmlStopParser(ctxt);
        return;
    }
    g->start(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes, nb_defaulted,
             attributes);
}

static void
guard_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    xmlParserCtxtPtr ctxt = ctx;
    guard_t *g = ctxt->_private;
    g->depth--;
    g->end(ctx, localname, prefix, uri);
}

static void
silent_generic(void *ctx, const char *msg, ...)
{
}

static void
silent_structured(void *ctx, xmlErrorPtr err)
{
}

/* Copies at most QUOTE_MAX bytes of s into buf (QUOTE_MAX + 1 bytes), cut at a UTF-8
 * character boundary so the message stays valid UTF-8. libxml2 names are valid UTF-8. */
static const char *
quote(const xmlChar *s, char *buf)
{
    size_t n = strlen((const char *) s);
    if (n > QUOTE_MAX) {
        n = QUOTE_MAX;
        while (n > 0 && (s[n] & 0xc0) == 0x80) {
            n--;
        }
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

static int
is_elem(const xmlNode *n, const char *ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns != NULL && n->ns->href != NULL &&
           strcmp((const char *) n->ns->href, ns) == 0 && strcmp((const char *) n->name, name) == 0;
}

/* DAV: or CARDDAV: the two namespaces limit/nresults occur in. */
static int
is_limit_elem(const xmlNode *n, const char *name)
{
    return is_elem(n, NS_DAV, name) || is_elem(n, NS_CARDDAV, name);
}

static int
is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static kith_davp_t
prop_id(const char *ns, const char *name)
{
    for (size_t i = 0; i < sizeof(known_props) / sizeof(known_props[0]); i++) {
        if (strcmp(known_props[i].ns, ns) == 0 && strcmp(known_props[i].name, name) == 0) {
            return known_props[i].id;
        }
    }
    return KITH_DAVP_OTHER;
}

static int
add_prop(walk_t *w, const xmlNode *n)
{
    kith_davxml_request_t *r = w->out;
    if (r->n_props == KITH_DAVXML_MAX_PROPS) {
        kith__errbuf_set(w->errbuf, w->errcap, "The request names more than %d properties.",
                         KITH_DAVXML_MAX_PROPS);
        return KITH_ETOOBIG;
    }
    if (r->props == NULL) {
        /* The limit is small: allocate it once. */
        r->props = calloc(KITH_DAVXML_MAX_PROPS, sizeof(*r->props));
        if (r->props == NULL) {
            return KITH_ENOMEM;
        }
    }
    const char *ns = (n->ns != NULL && n->ns->href != NULL) ? (const char *) n->ns->href : "";
    kith_davxml_prop_t *p = &r->props[r->n_props];
    p->ns = strdup(ns);
    p->name = strdup((const char *) n->name);
    if (p->ns == NULL || p->name == NULL) {
        free(p->ns);
        free(p->name);
        p->ns = p->name = NULL;
        return KITH_ENOMEM;
    }
    p->id = prop_id(p->ns, p->name);
    r->n_props++;
    return KITH_OK;
}

/* Adds every element child of a DAV:prop (or DAV:include) element. */
static int
add_props(walk_t *w, const xmlNode *prop)
{
    for (const xmlNode *c = prop->children; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            int rc = add_prop(w, c);
            if (rc != KITH_OK) {
                return rc;
            }
        }
    }
    return KITH_OK;
}

/*
 * Sets *text to a malloc'd copy of the character data of element n, with leading and
 * trailing XML white space removed. Text and CDATA children are joined (a comment may
 * split them); an element child is an error, since these elements hold only text.
 */
static int
get_text(walk_t *w, const xmlNode *n, char **text)
{
    size_t total = 0;
    *text = NULL;
    for (const xmlNode *c = n->children; c != NULL; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            total += c->content != NULL ? strlen((const char *) c->content) : 0;
        } else if (c->type == XML_ELEMENT_NODE || c->type == XML_ENTITY_REF_NODE) {
            char q[QUOTE_MAX + 1];
            kith__errbuf_set(w->errbuf, w->errcap, "The DAV:%s element must hold only text.",
                             quote(n->name, q));
            return KITH_EPARSE;
        }
    }
    char *s = malloc(total + 1);
    if (s == NULL) {
        return KITH_ENOMEM;
    }
    size_t len = 0;
    for (const xmlNode *c = n->children; c != NULL; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content != NULL) {
            size_t k = strlen((const char *) c->content);
            memcpy(s + len, c->content, k);
            len += k;
        }
    }
    size_t start = 0;
    while (start < len && is_xml_space(s[start])) {
        start++;
    }
    while (len > start && is_xml_space(s[len - 1])) {
        len--;
    }
    len -= start;
    if (len > KITH_DAVXML_MAX_TEXT) {
        free(s);
        char q[QUOTE_MAX + 1];
        kith__errbuf_set(w->errbuf, w->errcap, "A DAV:%s is longer than %d bytes.",
                         quote(n->name, q), KITH_DAVXML_MAX_TEXT);
        return KITH_ETOOBIG;
    }
    memmove(s, s + start, len);
    s[len] = '\0';
    *text = s;
    return KITH_OK;
}

static int
add_href(walk_t *w, const xmlNode *n)
{
    kith_davxml_request_t *r = w->out;
    if (r->n_hrefs == KITH_DAVXML_MAX_HREFS) {
        kith__errbuf_set(w->errbuf, w->errcap, "The request holds more than %d hrefs.",
                         KITH_DAVXML_MAX_HREFS);
        return KITH_ETOOBIG;
    }
    if (r->n_hrefs == w->cap_hrefs) {
        size_t cap = w->cap_hrefs == 0 ? 16 : w->cap_hrefs * 2;
        if (cap > KITH_DAVXML_MAX_HREFS) {
            cap = KITH_DAVXML_MAX_HREFS;
        }
        char **p = realloc(r->hrefs, cap * sizeof(*p));
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        r->hrefs = p;
        w->cap_hrefs = cap;
    }
    int rc = get_text(w, n, &r->hrefs[r->n_hrefs]);
    if (rc == KITH_OK) {
        r->n_hrefs++;
    }
    return rc;
}

/*
 * Handles DAV:prop, DAV:allprop and DAV:propname among the children of a propfind or a
 * report: returns 1 in *handled if n was one of them. Only one of the three may occur.
 */
static int
prop_selection(walk_t *w, const xmlNode *n, int *seen, int *handled)
{
    int is_prop = is_elem(n, NS_DAV, "prop");
    int is_all = is_elem(n, NS_DAV, "allprop");
    int is_name = is_elem(n, NS_DAV, "propname");
    *handled = is_prop || is_all || is_name;
    if (!*handled) {
        return KITH_OK;
    }
    if (*seen) {
        kith__errbuf_set(w->errbuf, w->errcap,
                         "Only one of DAV:prop, DAV:allprop and DAV:propname may be given.");
        return KITH_EPARSE;
    }
    *seen = 1;
    if (is_all) {
        w->out->allprop = 1;
    } else if (is_name) {
        w->out->propname = 1;
    } else {
        return add_props(w, n);
    }
    return KITH_OK;
}

/* Reads DAV:limit or CARDDAV:limit: one nresults child holding a positive decimal
 * integer of at most 32 bits. */
static int
parse_limit(walk_t *w, const xmlNode *limit)
{
    if (w->out->limit != 0) {
        kith__errbuf_set(w->errbuf, w->errcap, "The limit element is given twice.");
        return KITH_EPARSE;
    }
    const xmlNode *nres = NULL;
    for (const xmlNode *c = limit->children; c != NULL; c = c->next) {
        if (is_limit_elem(c, "nresults")) {
            if (nres != NULL) {
                kith__errbuf_set(w->errbuf, w->errcap, "The nresults element is given twice.");
                return KITH_EPARSE;
            }
            nres = c;
        }
    }
    if (nres == NULL) {
        kith__errbuf_set(w->errbuf, w->errcap, "The limit element needs an nresults element.");
        return KITH_EPARSE;
    }
    char *text = NULL;
    int rc = get_text(w, nres, &text);
    if (rc != KITH_OK) {
        return rc;
    }
    unsigned long v = 0;
    size_t n = strlen(text);
    int ok = n > 0 && n <= 10;
    for (size_t i = 0; ok && i < n; i++) {
        ok = text[i] >= '0' && text[i] <= '9';
        v = v * 10 + (unsigned long) (text[i] - '0');
    }
    free(text);
    if (!ok || v == 0 || v > UINT32_MAX) {
        kith__errbuf_set(w->errbuf, w->errcap, "nresults must be a positive integer below 2^32.");
        return KITH_EPARSE;
    }
    w->out->limit = v;
    return KITH_OK;
}

static int
walk_propfind(walk_t *w, const xmlNode *root)
{
    int seen = 0, handled = 0, rc = KITH_OK;
    const xmlNode *include = NULL;
    for (const xmlNode *c = root->children; c != NULL && rc == KITH_OK; c = c->next) {
        rc = prop_selection(w, c, &seen, &handled);
        if (rc == KITH_OK && !handled && is_elem(c, NS_DAV, "include")) {
            if (include != NULL) {
                kith__errbuf_set(w->errbuf, w->errcap, "DAV:include is given twice.");
                return KITH_EPARSE;
            }
            include = c;
        }
    }
    if (rc != KITH_OK) {
        return rc;
    }
    if (!seen) {
        kith__errbuf_set(w->errbuf, w->errcap,
                         "A DAV:propfind needs DAV:prop, DAV:allprop or DAV:propname.");
        return KITH_EPARSE;
    }
    if (include != NULL) {
        if (!w->out->allprop) {
            kith__errbuf_set(w->errbuf, w->errcap, "DAV:include is only allowed with DAV:allprop.");
            return KITH_EPARSE;
        }
        rc = add_props(w, include);
    }
    return rc;
}

static int
walk_propertyupdate(walk_t *w, const xmlNode *root)
{
    int n_updates = 0;
    for (const xmlNode *c = root->children; c != NULL; c = c->next) {
        if (!is_elem(c, NS_DAV, "set") && !is_elem(c, NS_DAV, "remove")) {
            continue;
        }
        n_updates++;
        int n_prop = 0;
        for (const xmlNode *p = c->children; p != NULL; p = p->next) {
            if (is_elem(p, NS_DAV, "prop")) {
                n_prop++;
                int rc = add_props(w, p);
                if (rc != KITH_OK) {
                    return rc;
                }
            }
        }
        if (n_prop == 0) {
            kith__errbuf_set(w->errbuf, w->errcap, "A DAV:%s needs a DAV:prop.",
                             (const char *) c->name);
            return KITH_EPARSE;
        }
    }
    if (n_updates == 0) {
        kith__errbuf_set(w->errbuf, w->errcap,
                         "A DAV:propertyupdate needs a DAV:set or DAV:remove.");
        return KITH_EPARSE;
    }
    return KITH_OK;
}

static int
walk_multiget(walk_t *w, const xmlNode *root)
{
    int seen = 0, handled = 0, rc = KITH_OK;
    for (const xmlNode *c = root->children; c != NULL && rc == KITH_OK; c = c->next) {
        rc = prop_selection(w, c, &seen, &handled);
        if (rc == KITH_OK && !handled && is_elem(c, NS_DAV, "href")) {
            rc = add_href(w, c);
        }
    }
    if (rc == KITH_OK && w->out->n_hrefs == 0) {
        kith__errbuf_set(w->errbuf, w->errcap, "An addressbook-multiget needs a DAV:href.");
        rc = KITH_EPARSE;
    }
    return rc;
}

static int
walk_query(walk_t *w, const xmlNode *root)
{
    int seen = 0, handled = 0, rc = KITH_OK;
    for (const xmlNode *c = root->children; c != NULL && rc == KITH_OK; c = c->next) {
        rc = prop_selection(w, c, &seen, &handled);
        if (rc == KITH_OK && !handled && is_limit_elem(c, "limit")) {
            rc = parse_limit(w, c);
        }
    }
    return rc;
}

static int
walk_sync(walk_t *w, const xmlNode *root)
{
    kith_davxml_request_t *r = w->out;
    int seen = 0, handled = 0, rc = KITH_OK;
    for (const xmlNode *c = root->children; c != NULL && rc == KITH_OK; c = c->next) {
        rc = prop_selection(w, c, &seen, &handled);
        if (rc != KITH_OK || handled) {
            continue;
        }
        if (is_elem(c, NS_DAV, "sync-token")) {
            if (r->sync_token != NULL) {
                kith__errbuf_set(w->errbuf, w->errcap, "DAV:sync-token is given twice.");
                return KITH_EPARSE;
            }
            rc = get_text(w, c, &r->sync_token);
        } else if (is_elem(c, NS_DAV, "sync-level")) {
            if (r->sync_level != 0) {
                kith__errbuf_set(w->errbuf, w->errcap, "DAV:sync-level is given twice.");
                return KITH_EPARSE;
            }
            char *level = NULL;
            rc = get_text(w, c, &level);
            if (rc != KITH_OK) {
                return rc;
            }
            if (strcmp(level, "1") == 0) {
                r->sync_level = 1;
            } else if (strcmp(level, "infinite") == 0) {
                r->sync_level = -1;
            } else {
                kith__errbuf_set(w->errbuf, w->errcap,
                                 "DAV:sync-level must be \"1\" or \"infinite\".");
                rc = KITH_EPARSE;
            }
            free(level);
        } else if (is_limit_elem(c, "limit")) {
            rc = parse_limit(w, c);
        }
    }
    if (rc != KITH_OK) {
        return rc;
    }
    if (r->sync_token == NULL) {
        kith__errbuf_set(w->errbuf, w->errcap, "A DAV:sync-collection needs a DAV:sync-token.");
        return KITH_EPARSE;
    }
    if (r->sync_level == 0) {
        kith__errbuf_set(w->errbuf, w->errcap, "A DAV:sync-collection needs a DAV:sync-level.");
        return KITH_EPARSE;
    }
    return KITH_OK;
}

/* Turns libxml2's last error into KITH_EPARSE (or KITH_ENOMEM) and a sentence that names
 * the place but quotes no input, since libxml2's own messages may quote names of any
 * length. */
static int
xml_error(const xmlError *e, char *errbuf, size_t errcap)
{
    const char *what;
    switch (e->code) {
    case XML_ERR_NO_MEMORY:
        return KITH_ENOMEM;
    case XML_ERR_DOCUMENT_EMPTY:
        what = "there is no root element";
        break;
    case XML_ERR_DOCUMENT_END:
        what = "there is content after the root element";
        break;
    case XML_ERR_INVALID_CHAR:
    case XML_ERR_INVALID_CHARREF:
    case XML_ERR_INVALID_ENCODING:
    case XML_ERR_UNSUPPORTED_ENCODING:
    case XML_ERR_UNKNOWN_ENCODING:
        what = "there is an invalid character or encoding";
        break;
    case XML_ERR_TAG_NAME_MISMATCH:
        what = "an end tag does not match its start tag";
        break;
    case XML_ERR_TAG_NOT_FINISHED:
    case XML_ERR_LTSLASH_REQUIRED:
        what = "the document ends inside an element";
        break;
    case XML_ERR_UNDECLARED_ENTITY:
    case XML_WAR_UNDECLARED_ENTITY:
        what = "entity references are not accepted";
        break;
    default:
        what = "the XML is not well-formed";
        break;
    }
    kith__errbuf_set(errbuf, errcap, "Malformed XML at line %d, column %d: %s.", e->line, e->int2,
                     what);
    return KITH_EPARSE;
}

/*
 * Parses body into a document, or fails with the guards' or libxml2's verdict. The
 * caller has silenced libxml2's error handlers.
 */
static int
read_doc(const char *body, size_t len, xmlDocPtr *doc_out, char *errbuf, size_t errcap)
{
    guard_t g = {0};
    xmlDocPtr doc = NULL;
    int rc = KITH_OK;
    *doc_out = NULL;
    xmlParserCtxtPtr ctxt = xmlCreateMemoryParserCtxt(body, (int) len);
    if (ctxt == NULL) {
        return KITH_ENOMEM;
    }
    xmlCtxtUseOptions(ctxt, PARSE_OPTIONS);
    g.start = ctxt->sax->startElementNs;
    g.end = ctxt->sax->endElementNs;
    ctxt->_private = &g;
    ctxt->sax->internalSubset = guard_internal_subset;
    ctxt->sax->getEntity = guard_get_entity;
    ctxt->sax->externalSubset = guard_external_subset;
    ctxt->sax->entityDecl = guard_entity_decl;
    ctxt->sax->getParameterEntity = guard_get_parameter_entity;
    ctxt->sax->resolveEntity = guard_resolve_entity;
    ctxt->sax->startElementNs = guard_start;
    ctxt->sax->endElementNs = guard_end;

    xmlParseDocument(ctxt);
    doc = ctxt->myDoc;
    ctxt->myDoc = NULL;

    if (g.dtd || (doc != NULL && (doc->intSubset != NULL || doc->extSubset != NULL))) {
        kith__errbuf_set(errbuf, errcap, "DTDs are not accepted.");
        rc = KITH_EPARSE;
    } else if (g.entity) {
        kith__errbuf_set(errbuf, errcap,
                         "Entity references are not accepted (DTDs are not "
                         "accepted).");
        rc = KITH_EPARSE;
    } else if (g.too_deep) {
        kith__errbuf_set(errbuf, errcap, "Elements are nested deeper than %d.",
                         KITH_DAVXML_MAX_DEPTH);
        rc = KITH_EPARSE;
    } else if (!ctxt->wellFormed || doc == NULL) {
        rc = xml_error(&ctxt->lastError, errbuf, errcap);
    } else if (!ctxt->nsWellFormed) {
        kith__errbuf_set(errbuf, errcap, "Malformed XML: a namespace prefix is not declared.");
        rc = KITH_EPARSE;
    } else if (xmlDocGetRootElement(doc) == NULL) {
        kith__errbuf_set(errbuf, errcap, "Malformed XML: there is no root element.");
        rc = KITH_EPARSE;
    }
    ctxt->_private = NULL;
    xmlFreeParserCtxt(ctxt);
    if (rc != KITH_OK) {
        xmlFreeDoc(doc); /* NULL is fine */
        return rc;
    }
    *doc_out = doc;
    return KITH_OK;
}

static int
walk(const char *method, const xmlNode *root, walk_t *w)
{
    char q[QUOTE_MAX + 1];
    if (strcmp(method, "PROPFIND") == 0) {
        if (!is_elem(root, NS_DAV, "propfind")) {
            kith__errbuf_set(w->errbuf, w->errcap,
                             "A PROPFIND body must be a DAV:propfind element, not \"%s\".",
                             quote(root->name, q));
            return KITH_EPARSE;
        }
        w->out->kind = KITH_DAVXML_PROPFIND;
        return walk_propfind(w, root);
    }
    if (strcmp(method, "PROPPATCH") == 0) {
        if (!is_elem(root, NS_DAV, "propertyupdate")) {
            kith__errbuf_set(w->errbuf, w->errcap,
                             "A PROPPATCH body must be a DAV:propertyupdate element, not \"%s\".",
                             quote(root->name, q));
            return KITH_EPARSE;
        }
        w->out->kind = KITH_DAVXML_PROPPATCH;
        return walk_propertyupdate(w, root);
    }
    if (is_elem(root, NS_CARDDAV, "addressbook-multiget")) {
        w->out->kind = KITH_DAVXML_MULTIGET;
        return walk_multiget(w, root);
    }
    if (is_elem(root, NS_CARDDAV, "addressbook-query")) {
        w->out->kind = KITH_DAVXML_QUERY;
        return walk_query(w, root);
    }
    if (is_elem(root, NS_DAV, "sync-collection")) {
        w->out->kind = KITH_DAVXML_SYNC;
        return walk_sync(w, root);
    }
    kith__errbuf_set(w->errbuf, w->errcap, "The \"%s\" report is not supported.",
                     quote(root->name, q));
    return KITH_ENOTSUP;
}

int
kith_davxml_parse(const char *method, const char *body, size_t len, kith_davxml_request_t *out,
                  char *errbuf, size_t errcap)
{
    xmlDocPtr doc = NULL;
    int rc = KITH_OK;
    memset(out, 0, sizeof(*out));
    kith__errbuf_set(errbuf, errcap, "%s", "");

    if (method == NULL || (body == NULL && len > 0) ||
        (strcmp(method, "PROPFIND") != 0 && strcmp(method, "PROPPATCH") != 0 &&
         strcmp(method, "REPORT") != 0)) {
        kith__errbuf_set(errbuf, errcap, "The method has no XML body this parser reads.");
        return KITH_EINVAL;
    }
    if (len > KITH_DAVXML_MAX_BODY) {
        kith__errbuf_set(errbuf, errcap, "The request body is longer than %u bytes.",
                         KITH_DAVXML_MAX_BODY);
        return KITH_ETOOBIG;
    }
    size_t i = 0;
    while (i < len && is_xml_space(body[i])) {
        i++;
    }
    if (i == len) {
        if (strcmp(method, "PROPFIND") != 0) {
            kith__errbuf_set(errbuf, errcap, "The %s request body is empty.", method);
            return KITH_EPARSE;
        }
        out->kind = KITH_DAVXML_PROPFIND; /* RFC 4918 9.1: an empty body means allprop */
        out->allprop = 1;
        return KITH_OK;
    }

    /* libxml2 reads a NUL as the end of its input, so "<a/>\0junk" would pass: no XML
     * document holds a NUL byte, so refuse it here. */
    const char *nul = memchr(body, 0, len);
    if (nul != NULL) {
        kith__errbuf_set(errbuf, errcap, "Malformed XML: a NUL byte at offset %zu.",
                         (size_t) (nul - body));
        return KITH_EPARSE;
    }

    /* libxml2's error handlers are per thread: silence this thread's for the call. */
    xmlGenericErrorFunc old_generic = xmlGenericError;
    void *old_generic_ctx = xmlGenericErrorContext;
    xmlStructuredErrorFunc old_structured = xmlStructuredError;
    void *old_structured_ctx = xmlStructuredErrorContext;
    xmlSetGenericErrorFunc(NULL, silent_generic);
    xmlSetStructuredErrorFunc(NULL, silent_structured);

    rc = read_doc(body, len, &doc, errbuf, errcap);
    if (rc == KITH_OK) {
        walk_t w = {.out = out, .errbuf = errbuf, .errcap = errcap};
        rc = walk(method, xmlDocGetRootElement(doc), &w);
    }

    xmlFreeDoc(doc);
    xmlSetGenericErrorFunc(old_generic_ctx, old_generic);
    xmlSetStructuredErrorFunc(old_structured_ctx, old_structured);
    if (rc != KITH_OK) {
        if (rc == KITH_ENOMEM) {
            kith__errbuf_set(errbuf, errcap, "The server ran out of memory.");
        }
        kith_davxml_request_close(out);
    }
    return rc;
}

void
kith_davxml_request_close(kith_davxml_request_t *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_props; i++) {
        free(r->props[i].ns);
        free(r->props[i].name);
    }
    free(r->props);
    for (size_t i = 0; i < r->n_hrefs; i++) {
        free(r->hrefs[i]);
    }
    free(r->hrefs);
    free(r->sync_token);
    memset(r, 0, sizeof(*r));
}

int
kith_davxml_escape(kith_buf_t *out, const char *text, size_t len)
{
    const uint8_t *s = (const uint8_t *) text;
    size_t start_len = out->len;
    size_t run = 0; /* start of the bytes not yet appended */
    size_t i = 0;
    int rc = KITH_OK;
    if (len == 0) {
        return KITH_OK; /* text may be NULL */
    }
    while (i < len && rc == KITH_OK) {
        const char *ent = NULL;
        size_t n = 1;
        if (s[i] < 0x80) {
            switch (s[i]) {
            case '&':
                ent = "&amp;";
                break;
            case '<':
                ent = "&lt;";
                break;
            case '>':
                ent = "&gt;";
                break;
            case '"':
                ent = "&quot;";
                break;
            case '\'':
                ent = "&apos;";
                break;
            case '\r':
                ent = "&#13;";
                break;
            case '\t':
            case '\n':
                break;
            default:
                if (s[i] < 0x20) {
                    rc = KITH_EINVAL;
                }
                break;
            }
        } else {
            uint32_t cp;
            n = kith_utf8_next(s + i, len - i, &cp);
            if (cp == KITH_UTF8_INVALID || cp == 0xfffe || cp == 0xffff) {
                rc = KITH_EINVAL;
            }
        }
        if (rc == KITH_OK && ent != NULL) {
            rc = kith_buf_append(out, s + run, i - run);
            if (rc == KITH_OK) {
                rc = kith_buf_puts(out, ent);
            }
            run = i + n;
        }
        i += n;
    }
    if (rc == KITH_OK) {
        rc = kith_buf_append(out, s + run, len - run);
    }
    if (rc != KITH_OK && out->data != NULL) {
        out->len = start_len;
        out->data[start_len] = '\0';
    }
    return rc;
}
