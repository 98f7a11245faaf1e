/*
 * Tests for CSV contact imports (src/formats/contacts_csv.c): LinkedIn with its real
 * preamble (also with a BOM and CRLF), Google's old and new exports, Outlook's export,
 * kith's own headers, and the errors a bad file must produce.
 *
 * The fixtures are shaped like real exports, down to the columns a real file carries
 * and leaves empty; each card is checked field by field, in order, so that a stray
 * field (an Outlook "Priority", say) fails the test.
 */
#include "check.h"

#include <stdlib.h>

#include "formats/contacts_csv.h"
#include "util/buf.h"

typedef struct {
    const char *name;
    const char *value;
} fv_t;

static void
dump_card(const kith_card_t *c)
{
    print_error("card (kind %d, line %u):\n", (int) c->kind, c->line);
    for (size_t i = 0; i < c->n_fields; i++) {
        print_error("  %s = \"%s\"\n", c->fields[i].name, c->fields[i].value);
    }
}

static void
check_card(const kith_cardset_t *set, size_t i, kith_card_kind_t kind, unsigned line, const fv_t *f,
           size_t n)
{
    assert_true(i < set->n_cards);
    const kith_card_t *c = &set->cards[i];
    int ok = c->kind == kind && c->line == line && c->n_fields == n;
    for (size_t k = 0; ok && k < n; k++) {
        ok = strcmp(c->fields[k].name, f[k].name) == 0 &&
             strcmp(c->fields[k].value, f[k].value) == 0;
    }
    if (!ok) {
        print_error("card %zu differs; expected kind %d, line %u:\n", i, (int) kind, line);
        for (size_t k = 0; k < n; k++) {
            print_error("  %s = \"%s\"\n", f[k].name, f[k].value);
        }
        dump_card(c);
        fail();
    }
}

#define CARD(set, i, kind, line, ...)                                                              \
    do {                                                                                           \
        static const fv_t f_[] = {__VA_ARGS__};                                                    \
        check_card((set), (i), (kind), (line), f_, sizeof(f_) / sizeof(f_[0]));                    \
    } while (0)

#define P KITH_CARD_PERSON
#define O KITH_CARD_ORG

typedef int (*parse_fn)(const char *, size_t, kith_cardset_t *, char *, size_t);

static void
parse_ok(parse_fn fn, const char *text, size_t len, kith_cardset_t *set)
{
    char err[256];
    int rc = fn(text, len, set, err, sizeof(err));
    if (rc != KITH_OK) {
        print_error("parse failed: %s\n", err);
    }
    ASSERT_OK(rc);
}

/* Expects code and a message containing msg, and an empty set. */
static void
parse_err(parse_fn fn, const char *text, size_t len, int code, const char *msg)
{
    kith_cardset_t set;
    char err[256];
    ASSERT_ERR(fn(text, len, &set, err, sizeof(err)), code);
    if (strstr(err, msg) == NULL) {
        print_error("message \"%s\", expected \"%s\" in it\n", err, msg);
        fail();
    }
    ASSERT_EQ(set.n_cards, 0);
    assert_null(set.cards);
    kith_cardset_close(&set);
}

/* A copy of text with a BOM in front and every "\n" made "\r\n"; free() it. */
static char *
bom_crlf(const char *text, size_t *len)
{
    size_t n = strlen(text);
    char *out = malloc(3 + 2 * n + 1);
    assert_non_null(out);
    memcpy(out, "\xef\xbb\xbf", 3);
    size_t k = 3;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n') {
            out[k++] = '\r';
        }
        out[k++] = text[i];
    }
    out[k] = '\0';
    *len = k;
    return out;
}

static const char linkedin_csv[] =
    "Notes:\n"
    "\"When exporting your connection data, you may notice that some of the email addresses are "
    "missing. You will only see email addresses for connections who have allowed their connections "
    "to see or download their email address using this setting "
    "https://www.linkedin.com/psettings/privacy/email. You can learn more here "
    "https://www.linkedin.com/help/linkedin/answer/261\"\n"
    "\n"
    "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    "Ingrid,Ødegård,https://www.linkedin.com/in/ingrid-odegard,ingrid@example.no,Equinor,Senior "
    "Geologist,15 Mar 2023\n"
    "\"John \"\"JJ\"\"\",\"Smith, Jr.\",https://www.linkedin.com/in/jjsmith,,\"Acme, Inc.\",CTO,02 "
    "Jan 2021\n"
    "Zoë,,https://www.linkedin.com/in/zoe,,,,2022-11-30\n";

static const char google_old_csv[] =
    "Name,Given Name,Additional Name,Family Name,Yomi Name,Given Name Yomi,Additional Name "
    "Yomi,Family Name Yomi,Name Prefix,Name Suffix,Initials,Nickname,Short Name,Maiden "
    "Name,Birthday,Gender,Location,Billing Information,Directory "
    "Server,Mileage,Occupation,Hobby,Sensitivity,Priority,Subject,Notes,Language,Photo,Group "
    "Membership,E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value,Phone 1 - "
    "Type,Phone 1 - Value,Address 1 - Type,Address 1 - Formatted,Address 1 - Street,Address 1 - "
    "City,Address 1 - PO Box,Address 1 - Region,Address 1 - Postal Code,Address 1 - "
    "Country,Address 1 - Extended Address,Organization 1 - Type,Organization 1 - Name,Organization "
    "1 - Yomi Name,Organization 1 - Title,Organization 1 - Department,Organization 1 - "
    "Symbol,Organization 1 - Location,Organization 1 - Job Description,Website 1 - Type,Website 1 "
    "- Value\n"
    "Ada Lovelace,Ada,,Lovelace,,,,,Lady,,,,,,1815-12-10,,,,,,,,,,,\"Met at the\n"
    "analytical engine meetup\",,,* myContacts ::: Friends ::: * starred ::: Math,* "
    "Home,ada@example.org ::: ada.l@example.com,Work,ada@engine.example,Mobile,+44 20 7946 0000 "
    "::: +44 20 7946 0001,Home,\"12 St James's Square\n"
    "London SW1Y 4JH\n"
    "UK\",12 St James's Square,London,,,SW1Y 4JH,UK,,,Analytical Engines "
    "Ltd,,Programmer,R&D,,,,Home Page,https://ada.example.org\n"
    ",Grace,Brewster,Hopper,,,,,,,,,,,,,,,,,,,,,,,,,* myContacts,,,,,,,Work,,1 Navy "
    "Way,Arlington,,VA,22201,US,,,,,,,,,,,\n"
    ",,,,,,,,,,,,,,,,,,,,,,,,,,,,* myContacts ::: Vendors,,,,,,,,,,,,,,,,,Initech,,,,,,,,\n"
    ",,,,,,,,,,,,,,,,,,,,,,,,,,,,* myContacts,* Other,someone@example.net,,,,,,,,,,,,,,,,,,,,,,,\n";

static const char google_new_csv[] =
    "First Name,Middle Name,Last Name,Phonetic First Name,Phonetic Middle Name,Phonetic Last "
    "Name,Name Prefix,Name Suffix,Nickname,File As,Organization Name,Organization "
    "Title,Organization Department,Birthday,Notes,Photo,Labels,E-mail 1 - Label,E-mail 1 - "
    "Value,E-mail 2 - Label,E-mail 2 - Value,Phone 1 - Label,Phone 1 - Value,Phone 2 - Label,Phone "
    "2 - Value,Address 1 - Label,Address 1 - Formatted,Address 1 - Street,Address 1 - City,Address "
    "1 - PO Box,Address 1 - Region,Address 1 - Postal Code,Address 1 - Country,Address 1 - "
    "Extended Address,Website 1 - Label,Website 1 - Value\n"
    "Søren,,Kierkegaard,,,,,,SK,,Københavns Universitet,Lecturer,Philosophy,,Likes long walks,,* "
    "myContacts ::: Philosophers ::: * starred,* "
    "Work,soren@ku.example,Home,sk@example.dk,Mobile,+45 12 34 56 78,Work,+45 35 32 26 "
    "26,Work,\"Nørregade 10, 1165 København\",Nørregade "
    "10,København,,,1165,DK,,Blog,https://sk.example.dk\n"
    "Mary,Ann,Evans,,,,Ms.,,,,,,,,,,* myContacts ::: Writers ::: Book club,,,,,,,,,,,,,,,,,,,\n"
    ",,,,,,,,,,Globex Corporation,,,,,,* myContacts,,,,,Work,+1 555 0100,,,,,,,,,,,,,\n";

static const char outlook_csv[] =
    "Title,First Name,Middle Name,Last Name,Suffix,Company,Department,Job Title,Business "
    "Street,Business Street 2,Business Street 3,Business City,Business State,Business Postal "
    "Code,Business Country/Region,Home Street,Home Street 2,Home Street 3,Home City,Home "
    "State,Home Postal Code,Home Country/Region,Other Street,Other Street 2,Other Street 3,Other "
    "City,Other State,Other Postal Code,Other Country/Region,Assistant's Phone,Business "
    "Fax,Business Phone,Business Phone 2,Callback,Car Phone,Company Main Phone,Home Fax,Home "
    "Phone,Home Phone 2,ISDN,Mobile Phone,Other Fax,Other Phone,Pager,Primary Phone,Radio "
    "Phone,TTY/TDD Phone,Telex,Account,Anniversary,Assistant's Name,Billing "
    "Information,Birthday,Business Address PO Box,Categories,Children,Directory Server,E-mail "
    "Address,E-mail Type,E-mail Display Name,E-mail 2 Address,E-mail 2 Type,E-mail 2 Display "
    "Name,E-mail 3 Address,E-mail 3 Type,E-mail 3 Display Name,Gender,Government ID "
    "Number,Hobby,Home Address PO Box,Initials,Internet Free "
    "Busy,Keywords,Language,Location,Manager's Name,Mileage,Notes,Office Location,Organizational "
    "ID Number,Other Address PO Box,Priority,Private,Profession,Referred "
    "By,Sensitivity,Spouse,User 1,User 2,User 3,User 4,Web Page\r\n"
    "Dr.,Hans,Peter,Müller,Jr.,Beispiel GmbH,Einkauf,Leiter Einkauf,Hauptstraße "
    "1,,,Berlin,,10115,Germany,Nebenweg 2,,,Potsdam,,,,,,,,,,,,,+49 30 123456,,,,,,,,,+49 170 "
    "1234567,,,,,,,,,0/0/00,,,0/0/00,,Suppliers;VIP,,,hans.mueller@beispiel.de,SMTP,Hans Müller "
    "(hans.mueller@beispiel.de),hpm@example.de,SMTP,,,,,Unspecified,,,,,,,,,,,\"Prefers e-mail, "
    "not calls.\",,,,Normal,False,,,Normal,,,,,,https://beispiel.de\r\n"
    ",,,,,Contoso Ltd,,,,,,Redmond,WA,,,,,,,,,,,,,,,,,,,+1 425 555 "
    "0100,,,,,,,,,,,,,,,,,,0/0/00,,,0/0/"
    "00,,,,,,,,,,,,,,Unspecified,,,,,,,,,,,,,,,Normal,False,,,Normal,,,,,,\r\n";

static const char kith_csv[] =
    "name,given,family,org,title,department,email,phone,address,url,tags,note,influence,pain_"
    "points,x-met-at,Favourite Colour,kind\n"
    "Karin Larsson,Karin,Larsson,Volvo Cars,CIO,IT,karin@volvo.example; k.larsson@example.se,+46 "
    "31 59 00 00,\"Assar Gabrielssons väg, Göteborg\",https://volvo.example,customer; nordics;,Met "
    "at Nordic CIO summit,4,legacy ERP,Göteborg 2024,blue,person\n"
    "Volvo Cars,,,,,,,,,https://volvocars.example,,,,,,,org\n"
    ",,,Acme AB,,,,,,,,,,,,,\n"
    ",,,,,,anon@example.org,,,,,,,,,,\n"
    ",,,,,,,,,,,,,,,,\n";

static void
check_linkedin_cards(const kith_cardset_t *set)
{
    ASSERT_EQ(set->n_cards, 3);
    CARD(set, 0, P, 5, {"name", "Ingrid Ødegård"}, {"given", "Ingrid"}, {"family", "Ødegård"},
         {"org", "Equinor"}, {"title", "Senior Geologist"}, {"emails", "ingrid@example.no"},
         {"urls", "https://www.linkedin.com/in/ingrid-odegard"}, {"x-connected-on", "2023-03-15"},
         {"x-source", "linkedin"});
    CARD(set, 1, P, 6, {"name", "John \"JJ\" Smith, Jr."}, {"given", "John \"JJ\""},
         {"family", "Smith, Jr."}, {"org", "Acme, Inc."}, {"title", "CTO"},
         {"urls", "https://www.linkedin.com/in/jjsmith"}, {"x-connected-on", "2021-01-02"},
         {"x-source", "linkedin"});
    CARD(set, 2, P, 7, {"name", "Zoë"}, {"given", "Zoë"},
         {"urls", "https://www.linkedin.com/in/zoe"}, {"x-connected-on", "2022-11-30"},
         {"x-source", "linkedin"});
}

static void
linkedin_preamble(void **state)
{
    kith_cardset_t set;
    (void) state;
    parse_ok(kith_linkedin_parse, linkedin_csv, strlen(linkedin_csv), &set);
    check_linkedin_cards(&set);
    kith_cardset_close(&set);

    /* The generic reader recognises the file and hands it over. */
    parse_ok(kith_contacts_csv_parse, linkedin_csv, strlen(linkedin_csv), &set);
    check_linkedin_cards(&set);
    kith_cardset_close(&set);
}

static void
linkedin_bom_crlf(void **state)
{
    kith_cardset_t set;
    size_t len;
    (void) state;
    char *text = bom_crlf(linkedin_csv, &len);
    parse_ok(kith_linkedin_parse, text, len, &set);
    check_linkedin_cards(&set);
    kith_cardset_close(&set);
    parse_ok(kith_contacts_csv_parse, text, len, &set);
    check_linkedin_cards(&set);
    kith_cardset_close(&set);
    free(text);
}

static void
linkedin_old_and_reordered(void **state)
{
    kith_cardset_t set;
    (void) state;
    /* Older exports: no preamble, no URL column. */
    static const char old[] = "First Name,Last Name,Email Address,Company,Position,Connected On\n"
                              "Ingrid,Ødegård,ingrid@example.no,Equinor,Geologist,01 Feb 2019\n";
    parse_ok(kith_linkedin_parse, old, strlen(old), &set);
    ASSERT_EQ(set.n_cards, 1);
    CARD(&set, 0, P, 2, {"name", "Ingrid Ødegård"}, {"given", "Ingrid"}, {"family", "Ødegård"},
         {"org", "Equinor"}, {"title", "Geologist"}, {"emails", "ingrid@example.no"},
         {"x-connected-on", "2019-02-01"}, {"x-source", "linkedin"});
    kith_cardset_close(&set);
    /* Without the preamble, the generic reader knows it by "Connected On". */
    parse_ok(kith_contacts_csv_parse, old, strlen(old), &set);
    ASSERT_EQ(set.n_cards, 1);
    ASSERT_STREQ(kith_card_get(&set.cards[0], "x-connected-on"), "2019-02-01");
    kith_cardset_close(&set);

    /* Columns in another order, header names in odd case and padding. */
    static const char moved[] = "Notes:\nsomething\n\n"
                                " connected on ,COMPANY,last name,\"First Name\",Position\n"
                                "5 Mar 2024,  Nokia ,Virtanen,Aino,  \n";
    parse_ok(kith_linkedin_parse, moved, strlen(moved), &set);
    ASSERT_EQ(set.n_cards, 1);
    CARD(&set, 0, P, 5, {"name", "Aino Virtanen"}, {"given", "Aino"}, {"family", "Virtanen"},
         {"org", "Nokia"}, {"x-connected-on", "2024-03-05"}, {"x-source", "linkedin"});
    kith_cardset_close(&set);
}

static void
linkedin_dates(void **state)
{
    static const struct {
        const char *in, *out;
    } vec[] = {
        {"15 Mar 2023", "2023-03-15"},    {"5 mar 2023", "2023-03-05"},
        {"29 Feb 2024", "2024-02-29"},    {"31 Dec 1999", "1999-12-31"},
        {"2023-03-15", "2023-03-15"},     {"29 Feb 2023", "29 Feb 2023"},
        {"32 Jan 2023", "32 Jan 2023"},   {"00 Jan 2023", "00 Jan 2023"},
        {"03/15/2023", "03/15/2023"},     {"15 March 2023", "15 March 2023"},
        {"15 Mar 23", "15 Mar 23"},       {"115 Mar 2023", "115 Mar 2023"},
        {"15 Mar 2023x", "15 Mar 2023x"}, {"15 Xyz 2023", "15 Xyz 2023"},
    };
    (void) state;
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        char text[256];
        kith_cardset_t set;
        snprintf(text, sizeof(text), "First Name,Last Name,Connected On\nA,B,%s\n", vec[i].in);
        parse_ok(kith_linkedin_parse, text, strlen(text), &set);
        ASSERT_STREQ(kith_card_get(&set.cards[0], "x-connected-on"), vec[i].out);
        kith_cardset_close(&set);
    }
}

static void
linkedin_errors(void **state)
{
    (void) state;
    static const char no_header[] = "Notes:\n\"Some text\"\n\nName,E-mail\nA,a@b.c\n";
    parse_err(kith_linkedin_parse, no_header, strlen(no_header), KITH_EPARSE,
              "no LinkedIn header (First Name, Last Name, ...) found");
    parse_err(kith_linkedin_parse, "", 0, KITH_EPARSE, "no LinkedIn header");

    /* A row with data but no name; blank rows before it are skipped. */
    static const char no_name[] = "Notes:\n\"x\"\n\nFirst Name,Last Name,Company\n"
                                  "A,B,C\n,,\n , ,Orphan Inc\n";
    parse_err(kith_linkedin_parse, no_name, strlen(no_name), KITH_EPARSE,
              "line 7: no first or last name");

    /* CSV errors name lines of the whole file, preamble included. */
    static const char bad_quote[] = "Notes:\n\"x\"\n\nFirst Name,Last Name\nA,B\n\"C,D\n";
    parse_err(kith_linkedin_parse, bad_quote, strlen(bad_quote), KITH_EPARSE,
              "line 6: unterminated quoted field");
    static const char bad_utf8[] = "First Name,Last Name\nA,B\nA,\xc3\n";
    parse_err(kith_linkedin_parse, bad_utf8, strlen(bad_utf8), KITH_EPARSE,
              "line 3: invalid UTF-8");
    parse_err(kith_linkedin_parse, "\xff\xfeN\0", 4, KITH_EPARSE, "UTF-16");
}

static void
google_old(void **state)
{
    kith_cardset_t set;
    (void) state;
    parse_ok(kith_contacts_csv_parse, google_old_csv, strlen(google_old_csv), &set);
    ASSERT_EQ(set.n_cards, 4);
    CARD(&set, 0, P, 2, {"name", "Ada Lovelace"}, {"given", "Ada"}, {"family", "Lovelace"},
         {"x-honorific", "Lady"}, {"org", "Analytical Engines Ltd"}, {"department", "R&D"},
         {"title", "Programmer"}, {"emails", "ada@example.org"}, {"emails", "ada.l@example.com"},
         {"emails", "ada@engine.example"}, {"phones", "+44 20 7946 0000"},
         {"phones", "+44 20 7946 0001"}, {"addresses", "12 St James's Square\nLondon SW1Y 4JH\nUK"},
         {"urls", "https://ada.example.org"}, {"note", "Met at the\nanalytical engine meetup"},
         {"tags", "Friends"}, {"tags", "Math"}, {"x-source", "google"});
    /* No Name: given, additional and family name; an address from its parts. */
    CARD(&set, 1, P, 6, {"name", "Grace Brewster Hopper"}, {"given", "Grace"}, {"family", "Hopper"},
         {"addresses", "1 Navy Way, Arlington, VA, 22201, US"}, {"x-source", "google"});
    CARD(&set, 2, O, 7, {"name", "Initech"}, {"org", "Initech"}, {"tags", "Vendors"},
         {"x-source", "google"});
    CARD(&set, 3, P, 8, {"name", "someone@example.net"}, {"emails", "someone@example.net"},
         {"x-source", "google"});
    kith_cardset_close(&set);
}

static void
google_new(void **state)
{
    kith_cardset_t set;
    size_t len;
    (void) state;
    /* Google writes a BOM; CRLF changes nothing either. */
    char *text = bom_crlf(google_new_csv, &len);
    parse_ok(kith_contacts_csv_parse, text, len, &set);
    free(text);
    ASSERT_EQ(set.n_cards, 3);
    CARD(&set, 0, P, 2, {"name", "Søren Kierkegaard"}, {"given", "Søren"},
         {"family", "Kierkegaard"}, {"org", "Københavns Universitet"}, {"department", "Philosophy"},
         {"title", "Lecturer"}, {"emails", "soren@ku.example"}, {"emails", "sk@example.dk"},
         {"phones", "+45 12 34 56 78"}, {"phones", "+45 35 32 26 26"},
         {"addresses", "Nørregade 10, 1165 København"}, {"urls", "https://sk.example.dk"},
         {"note", "Likes long walks"}, {"tags", "Philosophers"}, {"x-source", "google"});
    CARD(&set, 1, P, 3, {"name", "Mary Ann Evans"}, {"given", "Mary"}, {"family", "Evans"},
         {"x-honorific", "Ms."}, {"tags", "Writers"}, {"tags", "Book club"},
         {"x-source", "google"});
    CARD(&set, 2, O, 4, {"name", "Globex Corporation"}, {"org", "Globex Corporation"},
         {"phones", "+1 555 0100"}, {"x-source", "google"});
    kith_cardset_close(&set);
}

static void
outlook(void **state)
{
    kith_cardset_t set;
    (void) state;
    parse_ok(kith_contacts_csv_parse, outlook_csv, strlen(outlook_csv), &set);
    ASSERT_EQ(set.n_cards, 2);
    /* Title is the honorific; Birthday "0/0/00", Priority, Private... are not fields. */
    CARD(&set, 0, P, 2, {"name", "Hans Peter Müller"}, {"given", "Hans"}, {"family", "Müller"},
         {"x-honorific", "Dr."}, {"org", "Beispiel GmbH"}, {"department", "Einkauf"},
         {"title", "Leiter Einkauf"}, {"emails", "hans.mueller@beispiel.de"},
         {"emails", "hpm@example.de"}, {"phones", "+49 30 123456"}, {"phones", "+49 170 1234567"},
         {"addresses", "Hauptstraße 1, Berlin, 10115, Germany"},
         {"addresses", "Nebenweg 2, Potsdam"}, {"urls", "https://beispiel.de"},
         {"note", "Prefers e-mail, not calls."}, {"tags", "Suppliers"}, {"tags", "VIP"},
         {"x-source", "outlook"});
    CARD(&set, 1, O, 3, {"name", "Contoso Ltd"}, {"org", "Contoso Ltd"},
         {"phones", "+1 425 555 0100"}, {"addresses", "Redmond, WA"}, {"x-source", "outlook"});
    kith_cardset_close(&set);
}

static void
kith_headers(void **state)
{
    kith_cardset_t set;
    (void) state;
    parse_ok(kith_contacts_csv_parse, kith_csv, strlen(kith_csv), &set);
    /* The last row is blank and skipped. */
    ASSERT_EQ(set.n_cards, 4);
    CARD(&set, 0, P, 2, {"name", "Karin Larsson"}, {"given", "Karin"}, {"family", "Larsson"},
         {"org", "Volvo Cars"}, {"department", "IT"}, {"title", "CIO"},
         {"emails", "karin@volvo.example"}, {"emails", "k.larsson@example.se"},
         {"phones", "+46 31 59 00 00"}, {"addresses", "Assar Gabrielssons väg, Göteborg"},
         {"urls", "https://volvo.example"}, {"note", "Met at Nordic CIO summit"},
         {"tags", "customer"}, {"tags", "nordics"}, {"influence", "4"},
         {"pain_points", "legacy ERP"}, {"x-met-at", "Göteborg 2024"});
    CARD(&set, 1, O, 3, {"name", "Volvo Cars"}, {"urls", "https://volvocars.example"});
    CARD(&set, 2, O, 4, {"name", "Acme AB"}, {"org", "Acme AB"});
    CARD(&set, 3, P, 5, {"name", "anon@example.org"}, {"emails", "anon@example.org"});
    kith_cardset_close(&set);

    /* Semicolons, as a spreadsheet in some locales saves; upper-case headers. */
    static const char semi[] = "Name;Email;Tags;Influence\n"
                               "Åsa Öberg;asa@example.se;a;3\n"
                               "\"Doe; Jane\";;;\n";
    parse_ok(kith_contacts_csv_parse, semi, strlen(semi), &set);
    ASSERT_EQ(set.n_cards, 2);
    CARD(&set, 0, P, 2, {"name", "Åsa Öberg"}, {"emails", "asa@example.se"}, {"tags", "a"},
         {"influence", "3"});
    CARD(&set, 1, P, 3, {"name", "Doe; Jane"});
    kith_cardset_close(&set);

    /* Given and family only, and a multi-line note. */
    static const char parts[] = "First Name,Last Name,Notes\r\n"
                                "  Li ,Wei,\"line one\r\nline two\"\r\n";
    parse_ok(kith_contacts_csv_parse, parts, strlen(parts), &set);
    ASSERT_EQ(set.n_cards, 1);
    CARD(&set, 0, P, 2, {"name", "Li Wei"}, {"given", "Li"}, {"family", "Wei"},
         {"note", "line one\nline two"});
    kith_cardset_close(&set);
}

static void
contacts_errors(void **state)
{
    (void) state;
    static const char no_name_col[] = "Company,Phone,Favourite Colour\nAcme,123,red\n";
    parse_err(kith_contacts_csv_parse, no_name_col, strlen(no_name_col), KITH_EPARSE,
              "no name column found");
    static const char unusable[] = "name,email,phone\nA,,\n,,\n,, \n,,555-1234\n";
    parse_err(kith_contacts_csv_parse, unusable, strlen(unusable), KITH_EPARSE,
              "line 5: no name, given or family name, organisation or e-mail");
    parse_err(kith_contacts_csv_parse, "", 0, KITH_EPARSE, "line 1: no data");
    parse_err(kith_contacts_csv_parse, NULL, 0, KITH_EPARSE, "line 1: no data");
    parse_err(kith_linkedin_parse, NULL, 0, KITH_EPARSE, "line 1: no data");
    parse_err(kith_contacts_csv_parse, "\xef\xbb\xbf\r\n", 5, KITH_EPARSE, "no data");
    static const char stray[] = "name,email\nA,a@b.c\nB \"Bob\" C,b@c.d\n";
    parse_err(kith_contacts_csv_parse, stray, strlen(stray), KITH_EPARSE,
              "line 3: quote inside an unquoted field");
    static const char nul[] = "name\nA\nB\0\n";
    parse_err(kith_contacts_csv_parse, nul, sizeof(nul) - 1, KITH_EPARSE, "line 3: NUL byte");
    static const char latin1[] = "name\nA\nJos\xe9\n";
    parse_err(kith_contacts_csv_parse, latin1, strlen(latin1), KITH_EPARSE,
              "line 3: invalid UTF-8");

    /* 1001 columns, refused by the CSV layer. */
    char *wide = malloc(4 * 1001 + 16);
    assert_non_null(wide);
    size_t k = 0;
    for (int i = 0; i < 1001; i++) {
        wide[k++] = 'n';
        wide[k++] = ',';
    }
    wide[k - 1] = '\n';
    parse_err(kith_contacts_csv_parse, wide, k, KITH_ETOOBIG, "line 1: more than 1000 columns");
    parse_err(kith_linkedin_parse, wide, k, KITH_EPARSE, "no LinkedIn header");
    free(wide);

    /* Results are still clean when errbuf is NULL. */
    kith_cardset_t set;
    ASSERT_ERR(kith_contacts_csv_parse(unusable, strlen(unusable), &set, NULL, 0), KITH_EPARSE);
    ASSERT_EQ(set.n_cards, 0);
    kith_cardset_close(&set);
}

/* Many columns mapping to one slot, and many cards: linear work, no field limit hit. */
static void
many_columns_and_rows(void **state)
{
    kith_cardset_t set;
    kith_buf_t b;
    (void) state;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "name"));
    for (int i = 0; i < 999; i++) {
        ASSERT_OK(kith_buf_puts(&b, ",email"));
    }
    ASSERT_OK(kith_buf_puts(&b, "\n"));
    for (int r = 0; r < 2000; r++) {
        ASSERT_OK(kith_buf_printf(&b, "p%d", r));
        for (int i = 0; i < 999; i++) {
            ASSERT_OK(kith_buf_puts(&b, i == 500 ? ",x@y.z" : ","));
        }
        ASSERT_OK(kith_buf_puts(&b, "\n"));
    }
    parse_ok(kith_contacts_csv_parse, (const char *) b.data, b.len, &set);
    ASSERT_EQ(set.n_cards, 2000);
    CARD(&set, 1999, P, 2001, {"name", "p1999"}, {"emails", "x@y.z"});
    kith_cardset_close(&set);

    /* A row whose ';'-separated items exceed the field limit is refused cleanly. */
    b.len = 0;
    ASSERT_OK(kith_buf_puts(&b, "name,tags\nA,"));
    for (int i = 0; i < KITH_CARD_MAX_FIELDS; i++) {
        ASSERT_OK(kith_buf_puts(&b, "t;"));
    }
    ASSERT_OK(kith_buf_puts(&b, "\n"));
    parse_err(kith_contacts_csv_parse, (const char *) b.data, b.len, KITH_ETOOBIG,
              "line 2: too many fields");
    kith_buf_close(&b);
}

typedef struct {
    size_t n;
    unsigned line;
    char why[256];
} skips_t;

static void
on_skip(void *ctx, unsigned line, const char *prop, const char *why)
{
    skips_t *sk = ctx;
    assert_null(prop); /* a CSV parse leaves out whole rows only */
    if (sk->n++ == 0) {
        sk->line = line;
        snprintf(sk->why, sizeof(sk->why), "%s", why);
    }
}

/* A row that cannot become a card is left out and reported; the others are read. */
static void
forgiving_rows(void **state)
{
    (void) state;
    static const char text[] = "name,email,phone\nA,,\n,,555-1234\nB,b@example.com,\n";
    kith_cardset_t set;
    skips_t sk = {0};
    char err[256];
    ASSERT_ERR(kith_contacts_csv_parse(text, strlen(text), &set, err, sizeof(err)), KITH_EPARSE);
    kith_cardset_close(&set);
    ASSERT_OK(kith_contacts_csv_parse_ex(text, strlen(text), &set, on_skip, &sk, err, sizeof(err)));
    ASSERT_STREQ(err, "");
    ASSERT_EQ(set.n_cards, 2);
    ASSERT_STREQ(kith_card_get(&set.cards[1], "name"), "B");
    ASSERT_EQ(sk.n, 1);
    ASSERT_EQ(sk.line, 3);
    ASSERT_STREQ(sk.why, "no name, given or family name, organisation or e-mail");
    kith_cardset_close(&set);
    /* Malformed CSV still refuses the file. */
    static const char bad[] = "name\n\"open\n";
    ASSERT_ERR(kith_contacts_csv_parse_ex(bad, strlen(bad), &set, on_skip, &sk, err, sizeof(err)),
               KITH_EPARSE);
    kith_cardset_close(&set);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linkedin_preamble),
        cmocka_unit_test(linkedin_bom_crlf),
        cmocka_unit_test(linkedin_old_and_reordered),
        cmocka_unit_test(linkedin_dates),
        cmocka_unit_test(linkedin_errors),
        cmocka_unit_test(google_old),
        cmocka_unit_test(google_new),
        cmocka_unit_test(outlook),
        cmocka_unit_test(kith_headers),
        cmocka_unit_test(contacts_errors),
        cmocka_unit_test(forgiving_rows),
        cmocka_unit_test(many_columns_and_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
