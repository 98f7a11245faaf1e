/*
 * Tests for the vCard codec (src/formats/vcard.c): every import feature on small
 * hand-written files, hostile input that must fail cleanly with a line number, and
 * write/parse round trips for version 3 and 4.
 *
 * Set KITH_VCARD_DUMP=<path> to have test_roundtrip_tricky also write its v3 and
 * v4 output to <path>.v3.vcf and <path>.v4.vcf, for tests/tools/vcard_readback.py.
 */
#include "check.h"

#include <stdlib.h>

#include "formats/card.h"
#include "formats/vcard.h"

/* ------------------------------------------------------------------------------ */
/* Helpers. */

static size_t
count(const kith_card_t *card, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < card->n_fields; i++) {
        n += strcmp(card->fields[i].name, name) == 0;
    }
    return n;
}

/* The i-th value of a field; fails the test if there is none. */
static const char *
nth(const kith_card_t *card, const char *name, size_t i)
{
    for (size_t k = 0; k < card->n_fields; k++) {
        if (strcmp(card->fields[k].name, name) == 0 && i-- == 0) {
            return card->fields[k].value;
        }
    }
    print_error("card has no field %s #%zu\n", name, i);
    fail();
    return NULL;
}

static void
parse_ok(const char *text, kith_cardset_t *set)
{
    char err[256];
    kith_cardset_init(set);
    int rc = kith_vcard_parse(text, strlen(text), set, NULL, NULL, err, sizeof(err));
    if (rc != KITH_OK) {
        print_error("parse failed: %s (%s)\n", kith_strerror(rc), err);
        fail();
    }
}

/* Parses len bytes, expects code and an error message that contains want. */
static void
parse_err_n(const char *data, size_t len, int code, const char *want)
{
    char err[256];
    kith_cardset_t set;
    kith_cardset_init(&set);
    memset(err, 'x', sizeof(err));
    int rc = kith_vcard_parse(data, len, &set, NULL, NULL, err, sizeof(err));
    kith_cardset_close(&set);
    assert_non_null(memchr(err, '\0', sizeof(err)));
    if (rc != code || strstr(err, want) == NULL) {
        print_error("got %d (%s) \"%s\", want %d \"%s\"\n", rc, kith_strerror(rc), err, code, want);
        fail();
    }
}

static void
parse_err(const char *data, int code, const char *want)
{
    parse_err_n(data, strlen(data), code, want);
}

/* By name, then by position; kept lines (vcard_extra) by text, as the writer may
 * put them in another order. */
static int
cmp_idx(const kith_card_t *c, size_t a, size_t b)
{
    int r = strcmp(c->fields[a].name, c->fields[b].name);
    if (r == 0 && strcmp(c->fields[a].name, "vcard_extra") == 0) {
        r = strcmp(c->fields[a].value, c->fields[b].value);
    }
    return r != 0 ? r : (a > b) - (a < b);
}

/* Field indices sorted by (name, position): a stable sort by name. */
static size_t *
sorted_fields(const kith_card_t *c)
{
    size_t *idx = calloc(c->n_fields + 1, sizeof(*idx));
    assert_non_null(idx);
    for (size_t i = 0; i < c->n_fields; i++) {
        size_t j = i;
        while (j > 0 && cmp_idx(c, idx[j - 1], i) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    return idx;
}

/* Same kind and, per field name, the same values in the same order (kept lines in any
 * order). */
static void
assert_cards_equal(const kith_card_t *a, const kith_card_t *b)
{
    ASSERT_EQ(a->kind, b->kind);
    ASSERT_EQ(a->n_fields, b->n_fields);
    size_t *ia = sorted_fields(a);
    size_t *ib = sorted_fields(b);
    for (size_t i = 0; i < a->n_fields; i++) {
        ASSERT_STREQ(a->fields[ia[i]].name, b->fields[ib[i]].name);
        ASSERT_STREQ(a->fields[ia[i]].value, b->fields[ib[i]].value);
    }
    free(ia);
    free(ib);
}

/* Checks the shape of written vCard text: CRLF only, lines of at most 75 octets,
 * every physical line valid UTF-8 on its own (no sequence split by folding). */
static void
assert_well_formed(const kith_buf_t *b)
{
    const char *s = (const char *) b->data;
    size_t n = b->len;
    ASSERT_EQ(strncmp(s, "BEGIN:VCARD\r\n", 13), 0);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            assert_true(i + 1 < n && s[i + 1] == '\n');
            size_t len = i - start;
            assert_true(len <= 75);
            /* A line must not start or end inside a UTF-8 sequence. */
            if (len > 0) {
                assert_true(((unsigned char) s[start] & 0xC0) != 0x80);
                unsigned char last = (unsigned char) s[i - 1];
                assert_true(last < 0x80 || (last & 0xC0) == 0x80);
            }
            start = i + 2;
            i++;
        } else {
            assert_true(s[i] != '\n');
        }
    }
    ASSERT_EQ(start, n);
}

static void
roundtrip(const kith_card_t *card, int version)
{
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_vcard_write(card, version, &b));
    assert_well_formed(&b);
    kith_cardset_t set;
    kith_cardset_init(&set);
    char err[256];
    int rc = kith_vcard_parse((const char *) b.data, b.len, &set, NULL, NULL, err, sizeof(err));
    if (rc != KITH_OK) {
        print_error("re-parse failed: %s\n%s\n", err, (const char *) b.data);
        fail();
    }
    ASSERT_EQ(set.n_cards, 1);
    assert_cards_equal(card, &set.cards[0]);
    kith_cardset_close(&set);
    kith_buf_close(&b);
}

/* ------------------------------------------------------------------------------ */
/* Import. */

static void
test_v3_apple(void **state)
{
    (void) state;
    const char *text =
        "BEGIN:VCARD\r\n"
        "VERSION:3.0\r\n"
        "PRODID:-//Apple Inc.//macOS 14.0//EN\r\n"
        "N:Appleseed;Johnny;;Mr.;\r\n"
        "FN:Johnny Appleseed\r\n"
        "ORG:Apple Inc.;Engineering;Core OS\r\n"
        "TITLE:Engineer\r\n"
        "item1.EMAIL;type=INTERNET;type=pref:johnny@example.com\r\n"
        "item1.X-ABLabel:_$!<Other>!$_\r\n"
        "EMAIL;type=INTERNET;type=WORK:jappleseed@apple.example\r\n"
        "TEL;type=CELL;type=VOICE;type=pref:+1 (408) 555-0100\r\n"
        "item2.ADR;type=HOME;type=pref:;;1 Infinite Loop;Cupertino;CA;95014;United "
        "States\r\n"
        "item3.URL;type=pref:http\\://www.apple.example/\r\n"
        "BDAY;value=date:1970-01-01\r\n"
        "NOTE:Met at WWDC\\, 2019\\nLikes \\\"apples\\\"\r\n"
        "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAw\r\n"
        " MDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/\r\n"
        "UID:0a1b2c3d-4e5f\r\n"
        "REV:2023-10-01T12:00:00Z\r\n"
        "END:VCARD\r\n";
    kith_cardset_t set;
    parse_ok(text, &set);
    ASSERT_EQ(set.n_cards, 1);
    const kith_card_t *c = &set.cards[0];
    ASSERT_EQ(c->kind, KITH_CARD_PERSON);
    ASSERT_EQ(c->line, 1);
    ASSERT_STREQ(nth(c, "name", 0), "Johnny Appleseed");
    ASSERT_STREQ(nth(c, "family", 0), "Appleseed");
    ASSERT_STREQ(nth(c, "given", 0), "Johnny");
    ASSERT_STREQ(nth(c, "org", 0), "Apple Inc.");
    ASSERT_STREQ(nth(c, "department", 0), "Engineering, Core OS");
    ASSERT_STREQ(nth(c, "title", 0), "Engineer");
    ASSERT_EQ(count(c, "emails"), 2);
    ASSERT_STREQ(nth(c, "emails", 0), "johnny@example.com");
    ASSERT_STREQ(nth(c, "emails", 1), "jappleseed@apple.example");
    ASSERT_STREQ(nth(c, "phones", 0), "+1 (408) 555-0100");
    ASSERT_STREQ(nth(c, "addresses", 0), "1 Infinite Loop, Cupertino, CA, 95014, United States");
    ASSERT_STREQ(nth(c, "urls", 0), "http://www.apple.example/");
    ASSERT_STREQ(nth(c, "x-bday", 0), "1970-01-01");
    /* Unknown escapes keep their backslash. */
    ASSERT_STREQ(nth(c, "note", 0), "Met at WWDC, 2019\nLikes \\\"apples\\\"");
    /* The UID is kept for matching on import (node/match.h). */
    ASSERT_STREQ(nth(c, "uid", 0), "0a1b2c3d-4e5f");
    /* What the fields lose is kept as lines: the N and ORG structure, TYPE parameters,
     * groups, the label of item1 (no field: it labels its group), BDAY's VALUE, PHOTO.
     * PRODID, REV, VERSION and UID are not. */
    ASSERT_EQ(count(c, "x-ablabel"), 0);
    ASSERT_EQ(count(c, "vcard_extra"), 11);
    ASSERT_STREQ(nth(c, "vcard_extra", 0), "N:Appleseed;Johnny;;Mr.;");
    ASSERT_STREQ(nth(c, "vcard_extra", 1), "ORG:Apple Inc.;Engineering;Core OS");
    ASSERT_STREQ(nth(c, "vcard_extra", 2),
                 "item1.EMAIL;type=INTERNET;type=pref:johnny@example.com");
    ASSERT_STREQ(nth(c, "vcard_extra", 3), "item1.X-ABLabel:_$!<Other>!$_");
    ASSERT_STREQ(nth(c, "vcard_extra", 8), "BDAY;value=date:1970-01-01");
    /* Kith would escape the backslash of the unknown escape in the note: kept. */
    ASSERT_STREQ(nth(c, "vcard_extra", 9), "NOTE:Met at WWDC\\, 2019\\nLikes \\\"apples\\\"");
    ASSERT_EQ(strncmp(nth(c, "vcard_extra", 10), "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ", 35), 0);
    ASSERT_EQ(strlen(nth(c, "vcard_extra", 10)), 27 + 50 + 70); /* unfolded */
    ASSERT_EQ(c->n_fields, 14 + 11);
    kith_cardset_close(&set);
}

static void
test_v21_qp_latin1(void **state)
{
    (void) state;
    const char *text =
        "BEGIN:VCARD\r\n"
        "VERSION:2.1\r\n"
        "N;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:M=FCller;J=FCrgen;;;\r\n"
        "FN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:J=FCrgen M=FCller\r\n"
        "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:Erste Zeile=0D=0AZweite Zei=\r\n"
        "le mit =E4=F6=FC=\r\n"
        " und Leerzeichen\r\n"
        "TEL;WORK;VOICE:+49 30 1234567\r\n"
        "TEL;CELL:+49 170 1234567\r\n"
        "EMAIL;PREF;INTERNET:juergen@example.de\r\n"
        "ADR;WORK;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:;;Hauptstra=DFe 5;Berlin;;"
        "10115;Deutschland\r\n"
        "ORG;CHARSET=WINDOWS-1252:Caf\xe9 \x80uro\r\n"
        "END:VCARD\r\n";
    kith_cardset_t set;
    parse_ok(text, &set);
    const kith_card_t *c = &set.cards[0];
    ASSERT_STREQ(nth(c, "name", 0), "J\xc3\xbcrgen M\xc3\xbcller");
    ASSERT_STREQ(nth(c, "family", 0), "M\xc3\xbcller");
    ASSERT_STREQ(nth(c, "given", 0), "J\xc3\xbcrgen");
    /* Soft breaks join before decoding; the space after the last one is data. */
    ASSERT_STREQ(nth(c, "note", 0),
                 "Erste Zeile\nZweite Zeile mit \xc3\xa4\xc3\xb6\xc3\xbc und Leerzeichen");
    ASSERT_EQ(count(c, "phones"), 2);
    ASSERT_STREQ(nth(c, "phones", 0), "+49 30 1234567");
    ASSERT_STREQ(nth(c, "phones", 1), "+49 170 1234567");
    ASSERT_STREQ(nth(c, "emails", 0), "juergen@example.de");
    ASSERT_STREQ(nth(c, "addresses", 0), "Hauptstra\xc3\x9f"
                                         "e 5, Berlin, 10115, Deutschland");
    /* Raw 8-bit bytes in a declared windows-1252 value, euro sign included. */
    ASSERT_STREQ(nth(c, "org", 0), "Caf\xc3\xa9 \xe2\x82\xacuro");
    kith_cardset_close(&set);
}

static void
test_v21_qp_utf8_android(void **state)
{
    (void) state;
    /* Android 2.1 export: UTF-8 QP with ';' separators left literal. */
    const char *text =
        "BEGIN:VCARD\n"
        "VERSION:2.1\n"
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=B1=B1=E7=94=B0;=E5=A4=AA=E9=83=8E;;;\n"
        "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=B1=B1=E7=94=B0=20=E5=A4=AA=\n"
        "=E9=83=8E\n"
        "X-PHONETIC-LAST-NAME:Yamada\n"
        "TEL;CELL;PREF:090-1234-5678\n"
        "NOTE;ENCODING=QUOTED-PRINTABLE:a=3Db=\n"
        "\n"
        "END:VCARD\n";
    kith_cardset_t set;
    parse_ok(text, &set);
    const kith_card_t *c = &set.cards[0];
    ASSERT_STREQ(nth(c, "family", 0), "\xe5\xb1\xb1\xe7\x94\xb0");
    ASSERT_STREQ(nth(c, "given", 0), "\xe5\xa4\xaa\xe9\x83\x8e");
    ASSERT_STREQ(nth(c, "name", 0), "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e");
    ASSERT_STREQ(nth(c, "x-phonetic-last-name", 0), "Yamada");
    ASSERT_STREQ(nth(c, "phones", 0), "090-1234-5678");
    ASSERT_STREQ(nth(c, "note", 0), "a=b");
    kith_cardset_close(&set);
}

static void
test_folding(void **state)
{
    (void) state;
    const char *text = "BEGIN:VCARD\r\n"
                       "VERSION:3.0\r\n"
                       "FN:Jane\r\n"
                       "  Doe\r\n"
                       "NOTE:one long\r\n"
                       "\t note with a tab fold\r\n"
                       "  \r\n"
                       " and more\r\n"
                       "EMA\r\n"
                       " IL;TY\r\n"
                       " PE=work:jane@example.com\r\n"
                       "END:VCARD\r\n";
    kith_cardset_t set;
    parse_ok(text, &set);
    const kith_card_t *c = &set.cards[0];
    ASSERT_STREQ(nth(c, "name", 0), "Jane Doe");
    ASSERT_STREQ(nth(c, "note", 0), "one long note with a tab fold and more");
    ASSERT_STREQ(nth(c, "emails", 0), "jane@example.com");
    kith_cardset_close(&set);
}

static void
test_escapes_and_structure(void **state)
{
    (void) state;
    const char *text = "BEGIN:VCARD\r\n"
                       "VERSION:3.0\r\n"
                       "FN:Doe\\, Jane \\; Co. \\\\ back\r\n"
                       "N:O\\;Brien\\, Jr.;Jane\\,Anne;;;\r\n"
                       "ORG:Acme\\, Inc.;R&D\\; Labs;;Team\\\\7\r\n"
                       "NOTE:line1\\nline2\\Nline3\\\\n\r\n"
                       "ADR:PO 7;Suite 5;12 Main St\\, Apt 4;Springfield;;;\r\n"
                       "ADR;TYPE=work:;;;;;;\r\n"
                       "CATEGORIES:friends,work\\, old,,family\r\n"
                       "NICKNAME:JD\r\n"
                       "ROLE:Lead\r\n"
                       "END:VCARD\r\n";
    kith_cardset_t set;
    parse_ok(text, &set);
    const kith_card_t *c = &set.cards[0];
    ASSERT_STREQ(nth(c, "name", 0), "Doe, Jane ; Co. \\ back");
    ASSERT_STREQ(nth(c, "family", 0), "O;Brien, Jr.");
    ASSERT_STREQ(nth(c, "given", 0), "Jane,Anne");
    ASSERT_STREQ(nth(c, "org", 0), "Acme, Inc.");
    ASSERT_STREQ(nth(c, "department", 0), "R&D; Labs, Team\\7");
    ASSERT_STREQ(nth(c, "note", 0), "line1\nline2\nline3\\n");
    ASSERT_EQ(count(c, "addresses"), 1); /* the empty ADR adds nothing */
    ASSERT_STREQ(nth(c, "addresses", 0), "PO 7, Suite 5, 12 Main St, Apt 4, Springfield");
    ASSERT_EQ(count(c, "tags"), 3);
    ASSERT_STREQ(nth(c, "tags", 0), "friends");
    ASSERT_STREQ(nth(c, "tags", 1), "work, old");
    ASSERT_STREQ(nth(c, "tags", 2), "family");
    ASSERT_STREQ(nth(c, "x-nickname", 0), "JD");
    ASSERT_STREQ(nth(c, "x-role", 0), "Lead");
    kith_cardset_close(&set);
}

static void
test_multiple_values(void **state)
{
    (void) state;
    const char *text = "BEGIN:VCARD\r\n"
                       "VERSION:4.0\r\n"
                       "FN:Multi\r\n"
                       "EMAIL;TYPE=home:a@example.com\r\n"
                       "EMAIL;TYPE=work;PREF=1:b@example.com\r\n"
                       "EMAIL:c@example.com\r\n"
                       "TEL;VALUE=uri;TYPE=\"voice,home\":tel:+1-555-555-0100\r\n"
                       "TEL;TYPE=cell:+1 555 0101\r\n"
                       "ADR;TYPE=home:;;1 First St;Town;;111;\r\n"
                       "ADR;TYPE=work;LABEL=\"Work: 2 Second St\":;;2 Second St;City;;222;\r\n"
                       "URL:https://a.example\r\n"
                       "URL:https://b.example/x?y=1;z=2\r\n"
                       "END:VCARD\r\n";
    kith_cardset_t set;
    parse_ok(text, &set);
    const kith_card_t *c = &set.cards[0];
    ASSERT_EQ(count(c, "emails"), 3);
    ASSERT_STREQ(nth(c, "emails", 2), "c@example.com");
    ASSERT_EQ(count(c, "phones"), 2);
    ASSERT_STREQ(nth(c, "phones", 0), "+1-555-555-0100");
    ASSERT_STREQ(nth(c, "phones", 1), "+1 555 0101");
    ASSERT_EQ(count(c, "addresses"), 2);
    ASSERT_STREQ(nth(c, "addresses", 0), "1 First St, Town, 111");
    ASSERT_STREQ(nth(c, "addresses", 1), "2 Second St, City, 222");
    ASSERT_EQ(count(c, "urls"), 2);
    ASSERT_STREQ(nth(c, "urls", 1), "https://b.example/x?y=1;z=2");
    kith_cardset_close(&set);
}

static void
test_x_properties(void **state)
{
    (void) state;
    const char *text = "BEGIN:VCARD\r\n"
                       "VERSION:3.0\r\n"
                       "FN:X Person\r\n"
                       "X-SKYPE:live:xperson\r\n"
                       "x-Twitter:@xp\\, again\r\n"
                       "X-KITH-PAIN-POINTS:slow builds\\; flaky CI\r\n"
                       "X-KITH-INFLUENCE:high\r\n"
                       "X-KITH-:ignored\r\n"
                       "X-:ignored\r\n"
                       "X-ABSHOWAS:PERSON\r\n"
                       "GENDER:F\r\n"
                       "END:VCARD\r\n";
    kith_cardset_t set;
    parse_ok(text, &set);
    const kith_card_t *c = &set.cards[0];
    ASSERT_STREQ(nth(c, "x-skype", 0), "live:xperson");
    ASSERT_STREQ(nth(c, "x-twitter", 0), "@xp, again");
    ASSERT_STREQ(nth(c, "pain_points", 0), "slow builds; flaky CI");
    ASSERT_STREQ(nth(c, "influence", 0), "high");
    ASSERT_EQ(c->kind, KITH_CARD_PERSON);
    /* Kept: a name kith would write in upper case, what names no field, and
     * X-ABSHOWAS:PERSON (kith writes no such line). */
    ASSERT_EQ(count(c, "vcard_extra"), 5);
    ASSERT_STREQ(nth(c, "vcard_extra", 0), "x-Twitter:@xp\\, again");
    ASSERT_STREQ(nth(c, "vcard_extra", 1), "X-KITH-:ignored");
    ASSERT_STREQ(nth(c, "vcard_extra", 2), "X-:ignored");
    ASSERT_STREQ(nth(c, "vcard_extra", 3), "X-ABSHOWAS:PERSON");
    ASSERT_STREQ(nth(c, "vcard_extra", 4), "GENDER:F");
    ASSERT_EQ(c->n_fields, 5 + 5);
    kith_cardset_close(&set);

    parse_ok("BEGIN:VCARD\nFN:c\nX-KITH-CUSTOM;NAME=X-Linkedin_ID:v\nX-KITH-CUSTOM:plain\n"
             "END:VCARD\n",
             &set);
    ASSERT_STREQ(nth(&set.cards[0], "x-linkedin_id", 0), "v");
    ASSERT_STREQ(nth(&set.cards[0], "custom", 0), "plain");
    kith_cardset_close(&set);
    parse_err("BEGIN:VCARD\nFN:c\nX-KITH-CUSTOM;NAME=\"no good\":v\nEND:VCARD\n", KITH_EPARSE,
              "line 3: X-KITH-CUSTOM needs NAME=x-");
    parse_err("BEGIN:VCARD\nFN:c\nX-KITH-CUSTOM;NAME=name:v\nEND:VCARD\n", KITH_EPARSE,
              "line 3: X-KITH-CUSTOM needs NAME=x-");
}

static void
test_line_endings(void **state)
{
    (void) state;
    const char *lf = "BEGIN:VCARD\nVERSION:3.0\nFN:Bare LF\nNOTE:a\n b\nEND:VCARD\n";
    const char *cr = "BEGIN:VCARD\rVERSION:3.0\rFN:Old Mac\rNOTE:a\r b\rEND:VCARD";
    kith_cardset_t set;
    parse_ok(lf, &set);
    ASSERT_STREQ(nth(&set.cards[0], "name", 0), "Bare LF");
    ASSERT_STREQ(nth(&set.cards[0], "note", 0), "ab");
    kith_cardset_close(&set);
    parse_ok(cr, &set);
    ASSERT_STREQ(nth(&set.cards[0], "name", 0), "Old Mac");
    ASSERT_STREQ(nth(&set.cards[0], "note", 0), "ab");
    kith_cardset_close(&set);
}

static void
test_multiple_cards_and_bom(void **state)
{
    (void) state;
    const char *text = "\xEF\xBB\xBF"
                       "BEGIN:VCARD\r\n"
                       "VERSION:3.0\r\n"
                       "FN:First\r\n"
                       "END:VCARD\r\n"
                       "\r\n"
                       "begin:vcard\r\n"
                       "version:4.0\r\n"
                       "fn:Second\r\n"
                       "end:vcard\r\n"
                       "BEGIN:VCARD\r\n"
                       "VERSION:2.1\r\n"
                       "N:Third;Person\r\n"
                       "END:VCARD";
    kith_cardset_t set;
    parse_ok(text, &set);
    ASSERT_EQ(set.n_cards, 3);
    ASSERT_STREQ(nth(&set.cards[0], "name", 0), "First");
    ASSERT_STREQ(nth(&set.cards[1], "name", 0), "Second");
    ASSERT_STREQ(nth(&set.cards[2], "name", 0), "Person Third");
    ASSERT_EQ(set.cards[0].line, 1);
    ASSERT_EQ(set.cards[1].line, 6);
    ASSERT_EQ(set.cards[2].line, 10);
    kith_cardset_close(&set);
}

static void
test_org_cards_and_names(void **state)
{
    (void) state;
    const char *text = "BEGIN:VCARD\r\n"
                       "VERSION:4.0\r\n"
                       "KIND:org\r\n"
                       "ORG:Example Corp;Sales\r\n"
                       "EMAIL:sales@corp.example\r\n"
                       "END:VCARD\r\n"
                       "BEGIN:VCARD\r\n"
                       "VERSION:3.0\r\n"
                       "N:;;;;\r\n"
                       "FN:Widgets Ltd\r\n"
                       "ORG:Widgets Ltd;\r\n"
                       "X-ABShowAs:COMPANY\r\n"
                       "END:VCARD\r\n"
                       "BEGIN:VCARD\r\n"
                       "VERSION:3.0\r\n"
                       "EMAIL:only@mail.example\r\n"
                       "EMAIL:second@mail.example\r\n"
                       "END:VCARD\r\n"
                       "BEGIN:VCARD\r\n"
                       "VERSION:3.0\r\n"
                       "FN:\r\n"
                       "N:;Given;;;\r\n"
                       "END:VCARD\r\n";
    kith_cardset_t set;
    parse_ok(text, &set);
    ASSERT_EQ(set.n_cards, 4);
    ASSERT_EQ(set.cards[0].kind, KITH_CARD_ORG);
    ASSERT_STREQ(nth(&set.cards[0], "name", 0), "Example Corp");
    ASSERT_STREQ(nth(&set.cards[0], "department", 0), "Sales");
    ASSERT_EQ(set.cards[1].kind, KITH_CARD_ORG);
    ASSERT_STREQ(nth(&set.cards[1], "name", 0), "Widgets Ltd");
    ASSERT_EQ(count(&set.cards[1], "department"), 0);
    ASSERT_EQ(set.cards[2].kind, KITH_CARD_PERSON);
    ASSERT_STREQ(nth(&set.cards[2], "name", 0), "only@mail.example");
    ASSERT_STREQ(nth(&set.cards[3], "name", 0), "Given");
    kith_cardset_close(&set);
}

static void
test_base64_skipped(void **state)
{
    (void) state;
    /* 2.1 PHOTO with unindented base64 lines ending at a blank line (old Nokia). */
    const char *text =
        "BEGIN:VCARD\r\n"
        "VERSION:2.1\r\n"
        "FN:Photo Person\r\n"
        "PHOTO;ENCODING=BASE64;TYPE=JPEG:\r\n"
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgK\r\n"
        "CgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD==\r\n"
        "\r\n"
        "X-CUSTOM;BASE64:AAAA\r\n"
        "LOGO;ENCODING=b:iVBORw0KGgo=\r\n"
        "X-ODD;ENCODING=X-UUENCODE:begin 644\r\n"
        "TEL:123\r\n"
        "END:VCARD\r\n";
    kith_cardset_t set;
    parse_ok(text, &set);
    /* Binary values are not fields; they are kept as lines, the unindented 2.1 data
     * joined to its line. */
    ASSERT_EQ(set.cards[0].n_fields, 2 + 4);
    ASSERT_STREQ(nth(&set.cards[0], "phones", 0), "123");
    ASSERT_STREQ(nth(&set.cards[0], "vcard_extra", 0),
                 "PHOTO;ENCODING=BASE64;TYPE=JPEG:"
                 "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgK"
                 "CgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD==");
    ASSERT_STREQ(nth(&set.cards[0], "vcard_extra", 1), "X-CUSTOM;BASE64:AAAA");
    ASSERT_STREQ(nth(&set.cards[0], "vcard_extra", 2), "LOGO;ENCODING=b:iVBORw0KGgo=");
    ASSERT_STREQ(nth(&set.cards[0], "vcard_extra", 3), "X-ODD;ENCODING=X-UUENCODE:begin 644");
    roundtrip(&set.cards[0], 3);
    roundtrip(&set.cards[0], 4);
    kith_cardset_close(&set);
    /* Only base64 characters are taken for unindented data; anything else is an error. */
    parse_err("BEGIN:VCARD\nFN:a\nPHOTO;BASE64:AAAA\nAAAA\nFN Jane\nEND:VCARD\n", KITH_EPARSE,
              "line 5: missing ':'");
}

static void
test_charset_utf8_declared(void **state)
{
    (void) state;
    kith_cardset_t set;
    parse_ok("BEGIN:VCARD\nVERSION:3.0\nFN;CHARSET=utf-8:Zo\xc3\xab\nNOTE;CHARSET=Shift_JIS:"
             "ascii only\nEND:VCARD\n",
             &set);
    ASSERT_STREQ(nth(&set.cards[0], "name", 0), "Zo\xc3\xab");
    ASSERT_STREQ(nth(&set.cards[0], "note", 0), "ascii only");
    kith_cardset_close(&set);
    parse_err("BEGIN:VCARD\nVERSION:3.0\nFN:ok\nNOTE;CHARSET=Shift_JIS:\x82\xa0\nEND:VCARD\n",
              KITH_EPARSE, "line 4: value is not valid UTF-8 and CHARSET=Shift_JIS");
    /* QP-encoded CR LF becomes a plain newline. */
    parse_ok("BEGIN:VCARD\nVERSION:2.1\nFN:a\nNOTE;QUOTED-PRINTABLE:x=0D=0Ay=0Dz\nEND:VCARD\n",
             &set);
    ASSERT_STREQ(nth(&set.cards[0], "note", 0), "x\ny\nz");
    kith_cardset_close(&set);
}

/* ------------------------------------------------------------------------------ */
/* Hostile input. */

static void
test_errors(void **state)
{
    (void) state;
    parse_err("", KITH_EPARSE, "no vCard found");
    parse_err("\r\n\r\n  \r\n", KITH_EPARSE, "no vCard found");
    parse_err_n(NULL, 0, KITH_EPARSE, "no vCard found");
    parse_err("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cut off\r\nEMAIL:a@b", KITH_EPARSE,
              "line 1: BEGIN:VCARD without END:VCARD");
    parse_err("BEGIN:VCARD\nFN:a\nEND:VCARD\n\nEND:VCARD\n", KITH_EPARSE,
              "line 5: END:VCARD without BEGIN");
    parse_err("BEGIN:VCARD\nFN:a\nBEGIN:VCARD\nFN:b\nEND:VCARD\nEND:VCARD\n", KITH_EPARSE,
              "line 3: nested BEGIN inside the vCard that starts at line 1");
    parse_err("BEGIN:VCARD\nVERSION:3.0\nFN Jane Doe\nEND:VCARD\n", KITH_EPARSE,
              "line 3: missing ':'");
    parse_err("BEGIN:VCARD\nFN;TYPE=\"unterminated:x\nEND:VCARD\n", KITH_EPARSE,
              "line 2: unterminated quoted");
    parse_err("BEGIN:VCARD\n:novalue\nEND:VCARD\n", KITH_EPARSE, "line 2: missing property name");
    parse_err("BEGIN:VCARD\nF N:x\nEND:VCARD\n", KITH_EPARSE, "line 2: invalid character");
    parse_err("FN:outside\n", KITH_EPARSE, "line 1: expected BEGIN:VCARD");
    parse_err("BEGIN:VCALENDAR\nEND:VCALENDAR\n", KITH_EPARSE, "line 1: expected BEGIN:VCARD");
    parse_err("BEGIN:VCARD\nFN:x\nEND:VCALENDAR\n", KITH_EPARSE, "line 3: expected END:VCARD");
    parse_err("BEGIN:VCARD\nVERSION:5.0\nFN:x\nEND:VCARD\n", KITH_EPARSE,
              "line 2: unsupported VERSION 5.0");
    parse_err("BEGIN:VCARD\nVERSION:3.0\nTEL:1\nEND:VCARD\n", KITH_EPARSE,
              "line 1: vCard has no name");
    parse_err("BEGIN:VCARD\nVERSION:3.0\nFN:ok\nNOTE:bad \xff byte\nEND:VCARD\n", KITH_EPARSE,
              "line 4: invalid UTF-8");
    parse_err("BEGIN:VCARD\nFN;CHARSET=utf8:bad \xff\nEND:VCARD\n", KITH_EPARSE,
              "line 2: invalid UTF-8");
    /* Input quoted in a message is cut short and shows control bytes as '?'. */
    parse_err("BEGIN:VCARD\nVERSION:\x1b[31m0123456789012345678901234567890123456789\nEND:VCARD\n",
              KITH_EPARSE, "line 2: unsupported VERSION ?[31m012345678901234567890123456...");
    parse_err("BEGIN:VCARD\nVERSION:3.0\nFN:over\xc0\xaflong\nEND:VCARD\n", KITH_EPARSE,
              "line 3: invalid UTF-8");
    parse_err("BEGIN:VCARD\nVERSION:3.0\nFN:surrogate \xed\xa0\x80\nEND:VCARD\n", KITH_EPARSE,
              "line 3: invalid UTF-8");
    parse_err("BEGIN:VCARD\nVERSION:2.1\nFN;QUOTED-PRINTABLE:=C3=28\nEND:VCARD\n", KITH_EPARSE,
              "line 3: invalid UTF-8");
    parse_err("BEGIN:VCARD\nVERSION:2.1\nFN;QUOTED-PRINTABLE:a=00b\nEND:VCARD\n", KITH_EPARSE,
              "line 3: NUL byte in decoded value");
    static const char nul[] = "BEGIN:VCARD\nVERSION:3.0\nFN:a\0b\nEND:VCARD\n";
    parse_err_n(nul, sizeof(nul) - 1, KITH_EPARSE, "line 3: NUL byte");
    static const char utf16[] = "\xff\xfe"
                                "B\0E\0G\0I\0N\0";
    parse_err_n(utf16, sizeof(utf16) - 1, KITH_EPARSE, "line 1: UTF-16");
    /* A folded line counts from where it starts. */
    parse_err("BEGIN:VCARD\nFN:a\nNOTE:x\n y\n z\nBAD LINE\nEND:VCARD\n", KITH_EPARSE,
              "line 6: missing ':'");
}

static void
test_errbuf_optional(void **state)
{
    (void) state;
    kith_cardset_t set;
    kith_cardset_init(&set);
    ASSERT_ERR(kith_vcard_parse("END:VCARD", 9, &set, NULL, NULL, NULL, 0), KITH_EPARSE);
    char small[8];
    ASSERT_ERR(kith_vcard_parse("END:VCARD", 9, &set, NULL, NULL, small, sizeof(small)),
               KITH_EPARSE);
    ASSERT_STREQ(small, "line 1:");
    ASSERT_ERR(kith_vcard_parse("x", 1, NULL, NULL, NULL, NULL, 0), KITH_EINVAL);
    kith_cardset_close(&set);
}

static void
test_long_line(void **state)
{
    (void) state;
    /* One logical line of 1 MiB + a bit, made of many folded physical lines. */
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:long\r\nNOTE:"));
    for (size_t i = 0; i < (KITH_VCARD_MAX_LINE / 60) + 1; i++) {
        ASSERT_OK(kith_buf_puts(&b, "0123456789012345678901234567890123456789012345678901234"
                                    "56789012\r\n "));
    }
    ASSERT_OK(kith_buf_puts(&b, "x\r\nEND:VCARD\r\n"));
    parse_err_n((const char *) b.data, b.len, KITH_ETOOBIG, "line 4: unfolded line longer");

    /* Just under the limit is fine. */
    b.len = 0;
    ASSERT_OK(kith_buf_puts(&b, "BEGIN:VCARD\r\nFN:long\r\nNOTE:"));
    size_t value_len = KITH_VCARD_MAX_LINE - 5;
    ASSERT_OK(kith_buf_reserve(&b, value_len));
    memset(b.data + b.len, 'a', value_len);
    b.len += value_len;
    ASSERT_OK(kith_buf_puts(&b, "\r\nEND:VCARD\r\n"));
    kith_cardset_t set;
    kith_cardset_init(&set);
    ASSERT_OK(kith_vcard_parse((const char *) b.data, b.len, &set, NULL, NULL, NULL, 0));
    ASSERT_EQ(strlen(nth(&set.cards[0], "note", 0)), value_len);
    kith_cardset_close(&set);

    /* A property name is bounded too. */
    b.len = 0;
    ASSERT_OK(kith_buf_puts(&b, "BEGIN:VCARD\r\nFN:a\r\nX-"));
    for (int i = 0; i < 300; i++) {
        ASSERT_OK(kith_buf_putc(&b, 'A'));
    }
    ASSERT_OK(kith_buf_puts(&b, ":v\r\nEND:VCARD\r\n"));
    parse_err_n((const char *) b.data, b.len, KITH_EPARSE, "line 3: property name too long");
    kith_buf_close(&b);
}

static void
test_too_big(void **state)
{
    (void) state;
    /* calloc'd pages are never touched: the size check comes first. */
    char *big = calloc(1, KITH_VCARD_MAX_INPUT + 1);
    assert_non_null(big);
    parse_err_n(big, KITH_VCARD_MAX_INPUT + 1, KITH_ETOOBIG, "input larger than 64 MiB");
    free(big);
}

static void
test_field_count(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "BEGIN:VCARD\nVERSION:3.0\nFN:many\n"));
    for (int i = 0; i < KITH_CARD_MAX_FIELDS; i++) {
        ASSERT_OK(kith_buf_printf(&b, "EMAIL:u%d@example.com\n", i));
    }
    ASSERT_OK(kith_buf_puts(&b, "END:VCARD\n"));
    /* VERSION + FN + 1000 EMAIL: property p is on line p + 1. */
    parse_err_n((const char *) b.data, b.len, KITH_ETOOBIG, "line 1002: more than 1000 properties");

    /* Fewer properties, but CATEGORIES expanding into too many fields. */
    b.len = 0;
    ASSERT_OK(kith_buf_puts(&b, "BEGIN:VCARD\nFN:tags\nCATEGORIES:"));
    for (int i = 0; i < KITH_CARD_MAX_FIELDS + 5; i++) {
        ASSERT_OK(kith_buf_printf(&b, "t%d,", i));
    }
    ASSERT_OK(kith_buf_puts(&b, "\nEND:VCARD\n"));
    parse_err_n((const char *) b.data, b.len, KITH_ETOOBIG, "line 3: more than 1000 fields");
    kith_buf_close(&b);
}

/* ------------------------------------------------------------------------------ */
/* Forgiving parse. */

typedef struct {
    size_t n_props; /* properties or lines left out */
    size_t n_cards; /* vCards left out */
    unsigned line[8];
    char prop[8][72]; /* "" for a whole card */
    char why[8][256];
} skips_t;

static void
on_skip(void *ctx, unsigned line, const char *prop, const char *why)
{
    skips_t *sk = ctx;
    size_t i = sk->n_props + sk->n_cards;
    prop == NULL ? sk->n_cards++ : sk->n_props++;
    if (i < 8) {
        sk->line[i] = line;
        snprintf(sk->prop[i], sizeof(sk->prop[i]), "%s", prop == NULL ? "" : prop);
        snprintf(sk->why[i], sizeof(sk->why[i]), "%s", why);
    }
}

/* Parses forgivingly; expects KITH_OK. */
static void
parse_forgiving_n(const char *data, size_t len, kith_cardset_t *set, skips_t *sk)
{
    char err[256];
    memset(sk, 0, sizeof(*sk));
    kith_cardset_init(set);
    int rc = kith_vcard_parse(data, len, set, on_skip, sk, err, sizeof(err));
    if (rc != KITH_OK) {
        print_error("forgiving parse failed: %s (%s)\n", kith_strerror(rc), err);
        fail();
    }
    ASSERT_STREQ(err, "");
}

static void
parse_forgiving(const char *text, kith_cardset_t *set, skips_t *sk)
{
    parse_forgiving_n(text, strlen(text), set, sk);
}

static void
expect_skip(const skips_t *sk, size_t i, unsigned line, const char *prop, const char *why)
{
    if (sk->line[i] != line || strcmp(sk->prop[i], prop) != 0 || strstr(sk->why[i], why) == NULL) {
        print_error("skip #%zu: got line %u '%s' \"%s\", want line %u '%s' \"%s\"\n", i,
                    sk->line[i], sk->prop[i], sk->why[i], line, prop, why);
        fail();
    }
}

/* 50 cards of 5 lines each; card 25 (lines 121-125) has a NOTE in windows-1252 bytes
 * declared as UTF-8 on line 124. */
static void
test_forgiving_one_bad_value(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    for (int i = 1; i <= 50; i++) {
        ASSERT_OK(kith_buf_printf(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person %d\r\n", i));
        ASSERT_OK(kith_buf_puts(&b, i == 25 ? "NOTE:caf\xe9 cr\xe8me\r\n" : "NOTE:fine\r\n"));
        ASSERT_OK(kith_buf_puts(&b, "END:VCARD\r\n"));
    }
    /* Today's behaviour, kept for --strict: nothing. */
    parse_err_n((const char *) b.data, b.len, KITH_EPARSE, "line 124: invalid UTF-8");

    kith_cardset_t set;
    skips_t sk;
    parse_forgiving_n((const char *) b.data, b.len, &set, &sk);
    ASSERT_EQ(set.n_cards, 50);
    ASSERT_EQ(sk.n_props, 1);
    ASSERT_EQ(sk.n_cards, 0);
    expect_skip(&sk, 0, 124, "NOTE", "invalid UTF-8");
    /* The message quotes nothing of the value. */
    assert_null(strstr(sk.why[0], "caf"));
    ASSERT_STREQ(nth(&set.cards[24], "name", 0), "Person 25");
    ASSERT_EQ(count(&set.cards[24], "note"), 0);
    ASSERT_STREQ(nth(&set.cards[25], "note", 0), "fine");
    /* Fields know their line. */
    ASSERT_EQ(set.cards[49].fields[0].line, 50 * 5 - 2);
    kith_cardset_close(&set);
    kith_buf_close(&b);
}

static void
test_forgiving_truncated(void **state)
{
    (void) state;
    static const char text[] = "BEGIN:VCARD\nFN:One\nEND:VCARD\n"
                               "BEGIN:VCARD\nFN:Two\nEMAIL:two@example.com\n";
    parse_err(text, KITH_EPARSE, "line 4: BEGIN:VCARD without END:VCARD");
    kith_cardset_t set;
    skips_t sk;
    parse_forgiving(text, &set, &sk);
    ASSERT_EQ(set.n_cards, 1);
    ASSERT_STREQ(nth(&set.cards[0], "name", 0), "One");
    ASSERT_EQ(sk.n_cards, 1);
    ASSERT_EQ(sk.n_props, 0);
    expect_skip(&sk, 0, 4, "", "BEGIN:VCARD without END:VCARD");
    kith_cardset_close(&set);

    /* A card cut short by the next BEGIN:VCARD; a card without a name. */
    static const char text2[] = "BEGIN:VCARD\nFN:Cut\n"
                                "BEGIN:VCARD\nFN:Two\nEND:VCARD\n"
                                "BEGIN:VCARD\nTEL:1\nEND:VCARD\n"
                                "BEGIN:VCARD\nFN:Four\nEND:VCARD\n";
    parse_err(text2, KITH_EPARSE, "line 3: nested BEGIN");
    parse_forgiving(text2, &set, &sk);
    ASSERT_EQ(set.n_cards, 2);
    ASSERT_STREQ(nth(&set.cards[0], "name", 0), "Two");
    ASSERT_STREQ(nth(&set.cards[1], "name", 0), "Four");
    ASSERT_EQ(sk.n_cards, 2);
    expect_skip(&sk, 0, 1, "", "without END:VCARD (another BEGIN:VCARD at line 3)");
    expect_skip(&sk, 1, 6, "", "vCard has no name");
    kith_cardset_close(&set);
}

static void
test_forgiving_bad_lines(void **state)
{
    (void) state;
    static const char text[] = "BEGIN:VCARD\n"                       /* 1 */
                               "VERSION:3.0\n"                       /* 2 */
                               "FN:Ada\n"                            /* 3 */
                               "EMAIL;TYPE=\"work:ada@example.com\n" /* 4: garbage params */
                               "TEL;TYPE=cell:+1 555 0100\n"         /* 5 */
                               "NOTE;CHARSET=KOI8-R:\xf0\xd2\xc9\n"  /* 6: not UTF-8 */
                               "URL Https://no.colon\n"              /* 7: no ':' */
                               "X-KITH-CUSTOM;NAME=bad name:v\n"     /* 8 */
                               "NOTE;ENCODING=BASE64:aGVsbG8=\n"     /* 9 */
                               "TITLE:Countess\n"                    /* 10 */
                               "END:VCARD\n"                         /* 11 */
                               "stray text\n"                        /* 12 */
                               "BEGIN:VCARD\nFN:Bob\nEND:VCARD\n";   /* 13-15 */
    parse_err(text, KITH_EPARSE, "line 4: unterminated quoted parameter value");
    kith_cardset_t set;
    skips_t sk;
    parse_forgiving(text, &set, &sk);
    ASSERT_EQ(set.n_cards, 2);
    const kith_card_t *c = &set.cards[0];
    ASSERT_STREQ(nth(c, "name", 0), "Ada");
    ASSERT_STREQ(nth(c, "phones", 0), "+1 555 0100");
    ASSERT_STREQ(nth(c, "title", 0), "Countess");
    ASSERT_EQ(count(c, "emails"), 0);
    ASSERT_EQ(count(c, "note"), 0);
    ASSERT_EQ(count(c, "urls"), 0);
    /* TEL's TYPE and the base64 NOTE are kept as lines. */
    ASSERT_STREQ(nth(c, "vcard_extra", 0), "TEL;TYPE=cell:+1 555 0100");
    ASSERT_STREQ(nth(c, "vcard_extra", 1), "NOTE;ENCODING=BASE64:aGVsbG8=");
    ASSERT_EQ(c->n_fields, 3 + 2);
    ASSERT_EQ(sk.n_props, 5);
    ASSERT_EQ(sk.n_cards, 0);
    expect_skip(&sk, 0, 4, "EMAIL", "unterminated quoted parameter value");
    expect_skip(&sk, 1, 6, "NOTE", "CHARSET=KOI8-R is not supported");
    expect_skip(&sk, 2, 7, "URL", "invalid character in property name");
    expect_skip(&sk, 3, 8, "X-KITH-CUSTOM", "NAME=x-");
    expect_skip(&sk, 4, 12, "stray", "outside any vCard");
    ASSERT_STREQ(nth(&set.cards[1], "name", 0), "Bob");
    kith_cardset_close(&set);

    /* A NUL byte loses its line only. */
    static const char nul[] = "BEGIN:VCARD\nFN:a\nNOTE:x\0y\nEND:VCARD\n";
    parse_forgiving_n(nul, sizeof(nul) - 1, &set, &sk);
    ASSERT_EQ(set.n_cards, 1);
    ASSERT_EQ(count(&set.cards[0], "note"), 0);
    expect_skip(&sk, 0, 3, "NOTE", "NUL byte");
    kith_cardset_close(&set);
}

static void
test_forgiving_limits(void **state)
{
    (void) state;
    /* An over-long line still refuses the whole file. */
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(
        kith_buf_puts(&b, "BEGIN:VCARD\r\nFN:a\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:b\r\nNOTE:"));
    ASSERT_OK(kith_buf_reserve(&b, KITH_VCARD_MAX_LINE));
    memset(b.data + b.len, 'a', KITH_VCARD_MAX_LINE);
    b.len += KITH_VCARD_MAX_LINE;
    ASSERT_OK(kith_buf_puts(&b, "\r\nEND:VCARD\r\n"));
    kith_cardset_t set;
    kith_cardset_init(&set);
    skips_t sk = {0};
    char err[256];
    ASSERT_ERR(kith_vcard_parse((const char *) b.data, b.len, &set, on_skip, &sk, err, sizeof(err)),
               KITH_ETOOBIG);
    assert_non_null(strstr(err, "line 6: unfolded line longer than 1048576 bytes"));
    kith_cardset_close(&set);

    /* So does input that holds no vCard at all. */
    kith_cardset_init(&set);
    ASSERT_ERR(kith_vcard_parse("", 0, &set, on_skip, &sk, err, sizeof(err)), KITH_EPARSE);
    ASSERT_STREQ(err, "no vCard found");
    kith_cardset_close(&set);

    /* A card with too many properties is left out whole; the next one is read. */
    b.len = 0;
    ASSERT_OK(kith_buf_puts(&b, "BEGIN:VCARD\nFN:many\n"));
    for (int i = 0; i < KITH_CARD_MAX_FIELDS; i++) {
        ASSERT_OK(kith_buf_printf(&b, "EMAIL:u%d@example.com\n", i));
    }
    ASSERT_OK(kith_buf_puts(&b, "END:VCARD\nBEGIN:VCARD\nFN:next\nEND:VCARD\n"));
    parse_forgiving_n((const char *) b.data, b.len, &set, &sk);
    ASSERT_EQ(set.n_cards, 1);
    ASSERT_STREQ(nth(&set.cards[0], "name", 0), "next");
    ASSERT_EQ(sk.n_cards, 1);
    ASSERT_EQ(sk.n_props, 0);
    expect_skip(&sk, 0, 1, "", "more than 1000 properties (line 1002)");
    kith_cardset_close(&set);
    kith_buf_close(&b);
}

/* A file the strict parse accepts gives the same cards and no report. */
static void
test_forgiving_same_when_valid(void **state)
{
    (void) state;
    static const char text[] = "BEGIN:VCARD\nVERSION:2.1\nN:Doe;Jane\nTEL;WORK;VOICE:1\n"
                               "NOTE;QUOTED-PRINTABLE:a=\n b\nEND:VCARD\n"
                               "BEGIN:VCARD\nFN:X\nCATEGORIES:a,b\nX-FOO:bar\nEND:VCARD\n";
    kith_cardset_t strict, loose;
    skips_t sk;
    parse_ok(text, &strict);
    parse_forgiving(text, &loose, &sk);
    ASSERT_EQ(sk.n_props + sk.n_cards, 0);
    ASSERT_EQ(strict.n_cards, loose.n_cards);
    for (size_t i = 0; i < strict.n_cards; i++) {
        ASSERT_EQ(strict.cards[i].n_fields, loose.cards[i].n_fields);
        for (size_t k = 0; k < strict.cards[i].n_fields; k++) {
            ASSERT_STREQ(strict.cards[i].fields[k].name, loose.cards[i].fields[k].name);
            ASSERT_STREQ(strict.cards[i].fields[k].value, loose.cards[i].fields[k].value);
        }
    }
    kith_cardset_close(&strict);
    kith_cardset_close(&loose);
}

/* ------------------------------------------------------------------------------ */
/* Export and round trips. */

static void
test_write_simple(void **state)
{
    (void) state;
    kith_card_t card;
    kith_card_init(&card);
    ASSERT_OK(kith_card_add(&card, "name", "Jane Doe"));
    ASSERT_OK(kith_card_add(&card, "family", "Doe"));
    ASSERT_OK(kith_card_add(&card, "given", "Jane"));
    ASSERT_OK(kith_card_add(&card, "emails", "jane@example.com"));
    ASSERT_OK(kith_card_add(&card, "tags", "a,b"));
    ASSERT_OK(kith_card_add(&card, "tags", "c"));
    ASSERT_OK(kith_card_add(&card, "buying_role", "champion"));
    ASSERT_OK(kith_card_add(&card, "x-skype", "jd"));
    ASSERT_OK(kith_card_add(&card, "addresses", "1 Main St\nTown"));
    ASSERT_OK(kith_card_add(&card, "title", ""));
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_vcard_write(&card, 4, &b));
    ASSERT_STREQ((const char *) b.data, "BEGIN:VCARD\r\n"
                                        "VERSION:4.0\r\n"
                                        "FN:Jane Doe\r\n"
                                        "N:Doe;Jane;;;\r\n"
                                        "EMAIL:jane@example.com\r\n"
                                        "ADR:;;1 Main St\\nTown;;;;\r\n"
                                        "CATEGORIES:a\\,b,c\r\n"
                                        "X-KITH-BUYING-ROLE:champion\r\n"
                                        "X-SKYPE:jd\r\n"
                                        "END:VCARD\r\n");
    /* The writer appends. */
    card.kind = KITH_CARD_ORG;
    ASSERT_OK(kith_vcard_write(&card, 3, &b));
    const char *second = strstr((const char *) b.data, "END:VCARD\r\n") + 11;
    ASSERT_EQ(strncmp(second, "BEGIN:VCARD\r\nVERSION:3.0\r\nX-ABSHOWAS:COMPANY\r\nFN:", 49), 0);
    kith_buf_close(&b);
    kith_card_close(&card);
}

/* UID: written as given in 3.0 and 4.0, read back; hostile UIDs stay bounded text. */
static void
test_uid(void **state)
{
    (void) state;
    const char *uid = "urn:kith:00112233445566778899aabbccddeeff";
    for (int version = 3; version <= 4; version++) {
        kith_card_t card;
        kith_card_init(&card);
        ASSERT_OK(kith_card_add(&card, "uid", uid));
        ASSERT_OK(kith_card_add(&card, "name", "Jane Doe"));
        kith_buf_t b;
        kith_buf_init(&b);
        ASSERT_OK(kith_vcard_write(&card, version, &b));
        ASSERT_OK(kith_buf_append(&b, "", 1));
        assert_true(strstr((const char *) b.data, "\r\nUID:urn:kith:00112233445566778899aabbcc"
                                                  "ddeeff\r\n") != NULL);
        kith_cardset_t set;
        parse_ok((const char *) b.data, &set);
        ASSERT_EQ(set.n_cards, 1);
        ASSERT_STREQ(nth(&set.cards[0], "uid", 0), uid);
        ASSERT_EQ(count(&set.cards[0], "uid"), 1);
        kith_cardset_close(&set);
        kith_buf_close(&b);
        kith_card_close(&card);
    }
    /* Folded, escaped, repeated, empty, binary and QP UIDs, and one at the line limit. */
    const char *text = "BEGIN:VCARD\r\n"
                       "VERSION:3.0\r\n"
                       "FN:X\r\n"
                       "UID:urn:uuid:f81d4fae-7dec-11d0-\r\n"
                       " a765-00a0c91e6bf6\r\n"
                       "UID:a\\,b\\;c\\nd\r\n"
                       "UID:\r\n"
                       "UID;ENCODING=b:AAAA\r\n"
                       "UID;ENCODING=QUOTED-PRINTABLE:=41=\r\n"
                       "=42\r\n"
                       "END:VCARD\r\n";
    kith_cardset_t set;
    parse_ok(text, &set);
    ASSERT_EQ(set.n_cards, 1);
    ASSERT_STREQ(nth(&set.cards[0], "uid", 0), "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
    ASSERT_STREQ(nth(&set.cards[0], "uid", 1), "a,b;c\nd");
    ASSERT_STREQ(kith_card_get(&set.cards[0], "uid"),
                 "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
    kith_cardset_close(&set);
    /* A UID line over the limit is refused like any other line. */
    size_t big = KITH_VCARD_MAX_LINE + 16;
    char *huge = malloc(big + 64);
    assert_true(huge != NULL);
    size_t n = (size_t) sprintf(huge, "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:");
    memset(huge + n, 'u', big);
    n += big;
    n += (size_t) sprintf(huge + n, "\r\nEND:VCARD\r\n");
    kith_cardset_init(&set);
    ASSERT_EQ(kith_vcard_parse(huge, n, &set, NULL, NULL, NULL, 0), KITH_ETOOBIG);
    kith_cardset_close(&set);
    free(huge);
}

static void
test_write_errors(void **state)
{
    (void) state;
    kith_card_t card;
    kith_card_init(&card);
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_card_add(&card, "name", "ok"));
    ASSERT_ERR(kith_vcard_write(&card, 2, &b), KITH_EINVAL);
    ASSERT_ERR(kith_vcard_write(&card, 5, &b), KITH_EINVAL);
    ASSERT_ERR(kith_vcard_write(NULL, 4, &b), KITH_EINVAL);
    static const char *const bad_names[] = {
        "x-Upper", "x-", "x-a.b", "x-\xc3\xa9", "Camel", "dash-ed", "", "sp ace",
    };
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        kith_card_t c2;
        kith_card_init(&c2);
        ASSERT_OK(kith_card_add(&c2, "name", "n"));
        ASSERT_OK(kith_card_add(&c2, bad_names[i], "v"));
        ASSERT_ERR(kith_vcard_write(&c2, 4, &b), KITH_EINVAL);
        kith_card_close(&c2);
    }
    ASSERT_OK(kith_card_add(&card, "note", "bad \xff"));
    ASSERT_ERR(kith_vcard_write(&card, 4, &b), KITH_EINVAL);
    ASSERT_EQ(b.len, 0); /* refused before anything was written */
    kith_buf_close(&b);
    kith_card_close(&card);

    /* 1000 fields are fine as a card but give more than 1000 properties in 3.0. */
    kith_card_init(&card);
    ASSERT_OK(kith_card_add(&card, "name", "many"));
    for (int i = 1; i < KITH_CARD_MAX_FIELDS; i++) {
        ASSERT_OK(kith_card_add(&card, "emails", "e@example.com"));
    }
    ASSERT_ERR(kith_vcard_write(&card, 3, &b), KITH_ETOOBIG);
    kith_buf_close(&b);
    kith_card_close(&card);
}

static void
fill_tricky(kith_card_t *card)
{
    /* 300+ octets of mixed ASCII, 2-, 3- and 4-byte UTF-8 so folding meets every
     * sequence length at some cut. */
    char longv[2048] = "";
    for (int i = 0; i < 100; i++) {
        strcat(longv, i % 4 == 0   ? "a\xc3\xa9"
                      : i % 4 == 1 ? "\xe2\x82\xac,"
                      : i % 4 == 2 ? "\xf0\x9f\x98\x80;"
                                   : "\\x ");
    }
    ASSERT_OK(kith_card_add(card, "name", "Zo\xc3\xab O'Brien, \"Z\"; \\ Jr."));
    ASSERT_OK(kith_card_add(card, "given", "Zo\xc3\xab;Anne"));
    ASSERT_OK(kith_card_add(card, "family", "O'Brien, Jr.\\"));
    ASSERT_OK(kith_card_add(card, "org", "Acme, Inc.; \xe6\x97\xa5\xe6\x9c\xac"));
    ASSERT_OK(kith_card_add(card, "department", "R&D, Labs; West"));
    ASSERT_OK(kith_card_add(card, "title", "Chief \\ Officer"));
    ASSERT_OK(kith_card_add(card, "note", "line one\nline two, with; punctuation\\n\n\ttabbed"));
    ASSERT_OK(kith_card_add(card, "emails", "zoe@example.com"));
    ASSERT_OK(kith_card_add(card, "emails", "z.o'brien+tag@example.org"));
    ASSERT_OK(kith_card_add(card, "phones", "+1 (555) 010-0100;ext=7"));
    ASSERT_OK(kith_card_add(card, "phones", "+44 20 7946 0000"));
    ASSERT_OK(kith_card_add(card, "addresses", "12 Main St, Apt 4\nSpringfield; IL 62704"));
    ASSERT_OK(kith_card_add(card, "addresses", "\xc3\x85sgatan 1, Stockholm"));
    ASSERT_OK(kith_card_add(card, "addresses", longv));
    ASSERT_OK(kith_card_add(card, "urls", "https://example.com/a,b;c?d=e\\f"));
    ASSERT_OK(kith_card_add(card, "tags", "friends"));
    ASSERT_OK(kith_card_add(card, "tags", "work, old"));
    ASSERT_OK(kith_card_add(card, "tags", "\xc3\xa9t\xc3\xa9;\\"));
    ASSERT_OK(kith_card_add(card, "x-role", "Decision maker"));
    ASSERT_OK(kith_card_add(card, "x-bday", "1980-02-29"));
    ASSERT_OK(kith_card_add(card, "x-nickname", "Zed, Z"));
    ASSERT_OK(kith_card_add(card, "x-skype", "live:zoe"));
    ASSERT_OK(kith_card_add(card, "x-long-value", longv));
    ASSERT_OK(kith_card_add(card, "influence", "high"));
    ASSERT_OK(kith_card_add(card, "pain_points", "slow onboarding;\nno SSO, yet"));
    ASSERT_OK(kith_card_add(card, "buying_role", "champion"));
}

static void
dump(const kith_card_t *card, int version)
{
    const char *base = getenv("KITH_VCARD_DUMP");
    if (base == NULL || base[0] == '\0') {
        return;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s.v%d.vcf", base, version);
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_vcard_write(card, version, &b));
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    ASSERT_EQ(fwrite(b.data, 1, b.len, f), b.len);
    ASSERT_EQ(fclose(f), 0);
    kith_buf_close(&b);
}

static void
test_roundtrip_tricky(void **state)
{
    (void) state;
    kith_card_t card;
    kith_card_init(&card);
    fill_tricky(&card);
    roundtrip(&card, 3);
    roundtrip(&card, 4);
    dump(&card, 3);
    dump(&card, 4);
    card.kind = KITH_CARD_ORG;
    roundtrip(&card, 3);
    roundtrip(&card, 4);
    kith_card_close(&card);
}

static void
test_roundtrip_repeats(void **state)
{
    (void) state;
    /* Values that vCard holds once (FN, N) or pairs up (ORG) come back too. */
    kith_card_t card;
    kith_card_init(&card);
    ASSERT_OK(kith_card_add(&card, "name", "First Name"));
    ASSERT_OK(kith_card_add(&card, "name", "Second Name"));
    ASSERT_OK(kith_card_add(&card, "given", "G1"));
    ASSERT_OK(kith_card_add(&card, "given", "G2"));
    ASSERT_OK(kith_card_add(&card, "family", "F1"));
    ASSERT_OK(kith_card_add(&card, "department", "D1"));
    ASSERT_OK(kith_card_add(&card, "department", "D2"));
    ASSERT_OK(kith_card_add(&card, "org", "O1"));
    ASSERT_OK(kith_card_add(&card, "note", "n1"));
    ASSERT_OK(kith_card_add(&card, "note", "n2"));
    ASSERT_OK(kith_card_add(&card, "x_odd", "underscore after x"));
    ASSERT_OK(kith_card_add(&card, "x-kith", "not a prefix"));
    /* Custom names an X- property cannot carry go in X-KITH-CUSTOM;NAME=. */
    ASSERT_OK(kith_card_add(&card, "x-linkedin_id", "abc_123"));
    ASSERT_OK(kith_card_add(&card, "x-kith-own", "reserved prefix"));
    ASSERT_OK(kith_card_add(&card, "x-abshowas", "COMPANY"));
    ASSERT_OK(kith_card_add(&card, "x-a-b_c", "mixed"));
    roundtrip(&card, 3);
    roundtrip(&card, 4);
    kith_card_close(&card);

    /* An org with only a department, and many long tags split over CATEGORIES lines. */
    kith_card_init(&card);
    ASSERT_OK(kith_card_add(&card, "name", "Tagged"));
    ASSERT_OK(kith_card_add(&card, "department", "Only Dept"));
    char tag[1001];
    memset(tag, 't', sizeof(tag) - 1);
    tag[sizeof(tag) - 1] = '\0';
    for (int i = 0; i < 100; i++) {
        tag[0] = (char) ('a' + i % 26);
        ASSERT_OK(kith_card_add(&card, "tags", tag));
    }
    roundtrip(&card, 3);
    roundtrip(&card, 4);
    kith_card_close(&card);
}

static void
test_roundtrip_parsed(void **state)
{
    (void) state;
    /* What the parser produces from foreign files survives write + parse. */
    const char *text = "BEGIN:VCARD\r\n"
                       "VERSION:2.1\r\n"
                       "N;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:M=FCller;J=FCrgen\r\n"
                       "NOTE;ENCODING=QUOTED-PRINTABLE:a=0D=0Ab=0Dc\r\n"
                       "ORG:A;B;C\r\n"
                       "ORG:;D\r\n"
                       "X-KITH-NAME:Alias\r\n"
                       "X-WEIRD--NAME:v\r\n"
                       "CATEGORIES:x\\,y,z\r\n"
                       "END:VCARD\r\n";
    kith_cardset_t set;
    parse_ok(text, &set);
    const kith_card_t *c = &set.cards[0];
    ASSERT_STREQ(nth(c, "note", 0), "a\nb\nc");
    ASSERT_STREQ(nth(c, "name", 0), "Alias");
    ASSERT_EQ(count(c, "name"), 1);
    roundtrip(c, 3);
    roundtrip(c, 4);
    kith_cardset_close(&set);
}

/* ------------------------------------------------------------------------------ */
/* Kept lines (vcard_extra). */

/* Writes card as version; the caller frees the text. */
static char *
write_text(const kith_card_t *card, int version)
{
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_vcard_write(card, version, &b));
    assert_well_formed(&b);
    char *s = strndup((const char *) b.data, b.len);
    assert_non_null(s);
    kith_buf_close(&b);
    return s;
}

/* Undoes the writer's folding, so that a test can look for whole lines. */
static void
unfold(char *s)
{
    char *d = s;
    for (const char *p = s; *p != '\0'; p++) {
        if (p[0] == '\r' && p[1] == '\n' && p[2] == ' ') {
            p += 2;
            continue;
        }
        *d++ = *p;
    }
    *d = '\0';
}

/* Expects the line (without CRLF) in both versions of card, whole, n times. */
static void
expect_line_n(const kith_card_t *card, const char *line, size_t n)
{
    for (int v = 3; v <= 4; v++) {
        char *s = write_text(card, v);
        unfold(s);
        size_t found = 0, ll = strlen(line);
        for (const char *p = s; (p = strstr(p, line)) != NULL; p += ll) {
            found += (p == s || p[-1] == '\n') && p[ll] == '\r';
        }
        if (found != n) {
            print_error("v%d: line \"%s\" %zu times, want %zu:\n%s\n", v, line, found, n, s);
            fail();
        }
        free(s);
    }
}

static void
expect_line(const kith_card_t *card, const char *line)
{
    expect_line_n(card, line, 1);
}

/* Parses text (one vCard), checks that every line of want is kept and written back, and
 * that the card survives write + parse in both versions. */
static void
kept_case(const char *text, const char *const *want, size_t n_want, kith_cardset_t *set)
{
    parse_ok(text, set);
    ASSERT_EQ(set->n_cards, 1);
    const kith_card_t *c = &set->cards[0];
    ASSERT_EQ(count(c, "vcard_extra"), n_want);
    for (size_t i = 0; i < n_want; i++) {
        ASSERT_STREQ(nth(c, "vcard_extra", i), want[i]);
        expect_line(c, want[i]);
    }
    roundtrip(c, 3);
    roundtrip(c, 4);
}

static void
test_kept_type_params(void **state)
{
    (void) state;
    static const char *const want[] = {
        "TEL;TYPE=CELL:+1 555 0100",
        "TEL;TYPE=WORK,VOICE;PREF=1:+1 555 0101",
        "EMAIL;TYPE=HOME:ada@home.example",
        "EMAIL;PREF=1;TYPE=work:ada@work.example",
    };
    kith_cardset_t set;
    kept_case("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada\r\n"
              "TEL;TYPE=CELL:+1 555 0100\r\n"
              "TEL;TYPE=WORK,VOICE;PREF=1:+1 555 0101\r\n"
              "EMAIL;TYPE=HOME:ada@home.example\r\n"
              "EMAIL:ada@plain.example\r\n"
              "EMAIL;PREF=1;TYPE=work:ada@work.example\r\n"
              "END:VCARD\r\n",
              want, 4, &set);
    const kith_card_t *c = &set.cards[0];
    /* The values are the fields, as before. */
    ASSERT_STREQ(nth(c, "phones", 1), "+1 555 0101");
    ASSERT_STREQ(nth(c, "emails", 2), "ada@work.example");
    /* A line kith would write as it is is not kept, and is written once. */
    expect_line(c, "EMAIL:ada@plain.example");
    expect_line_n(c, "EMAIL:ada@home.example", 0);
    kith_cardset_close(&set);
}

static void
test_kept_groups(void **state)
{
    (void) state;
    static const char *const want[] = {
        "item1.EMAIL;type=INTERNET;type=pref:ada@example.com",
        "item1.X-ABLabel:_$!<Work>!$_",
        "item2.TEL:+44 20 7946 0000",
        "item2.X-ABLabel:Direct line",
        "item3.X-ABRELATEDNAMES;type=pref:Byron",
        "item3.X-ABLabel:_$!<Father>!$_",
    };
    kith_cardset_t set;
    kept_case("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\n"
              "item1.EMAIL;type=INTERNET;type=pref:ada@example.com\r\n"
              "item1.X-ABLabel:_$!<Work>!$_\r\n"
              "item2.TEL:+44 20 7946 0000\r\n"
              "item2.X-ABLabel:Direct line\r\n"
              "item3.X-ABRELATEDNAMES;type=pref:Byron\r\n"
              "item3.X-ABLabel:_$!<Father>!$_\r\n"
              "END:VCARD\r\n",
              want, 6, &set);
    const kith_card_t *c = &set.cards[0];
    /* A grouped X- property labels its group: kept as a line, not an x- field. */
    ASSERT_EQ(count(c, "x-ablabel"), 0);
    ASSERT_EQ(count(c, "x-abrelatednames"), 0);
    ASSERT_STREQ(nth(c, "emails", 0), "ada@example.com");
    ASSERT_STREQ(nth(c, "phones", 0), "+44 20 7946 0000");
    /* The grouped EMAIL stands in for kith's own line. */
    expect_line_n(c, "EMAIL:ada@example.com", 0);
    kith_cardset_close(&set);
}

static void
test_kept_photo(void **state)
{
    (void) state;
    static const char *const want3[] = {
        "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBA"
        "QEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/",
    };
    kith_cardset_t set;
    kept_case("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Pic\r\n"
              "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAw\r\n"
              " MDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/\r\n"
              "END:VCARD\r\n",
              want3, 1, &set);
    kith_cardset_close(&set);
    static const char *const want4[] = {
        "PHOTO:data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42m"
        "NkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
        "LOGO;MEDIATYPE=image/png:https://example.com/logo.png",
    };
    kept_case("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Pic\r\n"
              "PHOTO:data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUl\r\n"
              " EQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\r\n"
              "LOGO;MEDIATYPE=image/png:https://example.com/logo.png\r\n"
              "END:VCARD\r\n",
              want4, 2, &set);
    kith_cardset_close(&set);
}

static void
test_kept_structure(void **state)
{
    (void) state;
    static const char *const want[] = {
        "N:Lovelace;Ada;Augusta;The Hon.;Countess of Lovelace",
        "ORG:Analytical Engines;R&D;Difference Lab",
        "ADR;TYPE=home:;;12 St James's Sq;London;;SW1Y 4JH;UK",
        "ADR;TYPE=work,pref:PO Box 7;Floor 2;1 Main St;Ockham;Surrey;GU23;UK",
    };
    kith_cardset_t set;
    kept_case("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Lovelace\r\n"
              "N:Lovelace;Ada;Augusta;The Hon.;Countess of Lovelace\r\n"
              "ORG:Analytical Engines;R&D;Difference Lab\r\n"
              "ADR;TYPE=home:;;12 St James's Sq;London;;SW1Y 4JH;UK\r\n"
              "ADR;TYPE=work,pref:PO Box 7;Floor 2;1 Main St;Ockham;Surrey;GU23;UK\r\n"
              "END:VCARD\r\n",
              want, 4, &set);
    const kith_card_t *c = &set.cards[0];
    ASSERT_STREQ(nth(c, "family", 0), "Lovelace");
    ASSERT_STREQ(nth(c, "given", 0), "Ada");
    ASSERT_STREQ(nth(c, "org", 0), "Analytical Engines");
    ASSERT_STREQ(nth(c, "department", 0), "R&D, Difference Lab");
    ASSERT_STREQ(nth(c, "addresses", 1), "PO Box 7, Floor 2, 1 Main St, Ockham, Surrey, GU23, UK");
    /* One N and one ORG: the kept ones stand in for kith's. */
    expect_line_n(c, "N:Lovelace;Ada;;;", 0);
    expect_line_n(c, "ORG:Analytical Engines;R&D\\, Difference Lab", 0);
    kith_cardset_close(&set);
}

static void
test_kept_unknown(void **state)
{
    (void) state;
    static const char *const want[] = {
        "X-FOO;TYPE=bar;X-A=\"q;:\":baz",
        "NICKNAME;TYPE=work:Addie",
        "BDAY;VALUE=date:--1210",
        "GENDER:F",
        "IMPP;TYPE=personal:xmpp:ada@example.org",
        "GEO:geo:51.5,-0.1",
        "TZ:Europe/London",
        "RELATED;TYPE=spouse:urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        "KIND:group",
        "X-EMPTY:",
        "CLIENTPIDMAP:1;urn:uuid:3df403f4-5924-4bb7-b077-3c711d9eb34b",
    };
    kith_cardset_t set;
    kept_case("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada\r\n"
              "X-FOO;TYPE=bar;X-A=\"q;:\":baz\r\n"
              "X-BAR:plain\r\n"
              "NICKNAME;TYPE=work:Addie\r\n"
              "BDAY;VALUE=date:--1210\r\n"
              "GENDER:F\r\n"
              "IMPP;TYPE=personal:xmpp:ada@example.org\r\n"
              "GEO:geo:51.5,-0.1\r\n"
              "TZ:Europe/London\r\n"
              "RELATED;TYPE=spouse:urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6\r\n"
              "KIND:group\r\n"
              "X-EMPTY:\r\n"
              "CLIENTPIDMAP:1;urn:uuid:3df403f4-5924-4bb7-b077-3c711d9eb34b\r\n"
              "PRODID:-//Example//EN\r\n"
              "REV:20240101T000000Z\r\n"
              "UID:urn:uuid:6a6f6e65-0000-4000-8000-000000000001\r\n"
              "END:VCARD\r\n",
              want, 11, &set);
    const kith_card_t *c = &set.cards[0];
    ASSERT_STREQ(nth(c, "x-foo", 0), "baz");
    ASSERT_STREQ(nth(c, "x-bar", 0), "plain");
    ASSERT_STREQ(nth(c, "x-nickname", 0), "Addie");
    ASSERT_EQ(c->kind, KITH_CARD_PERSON);
    /* The X-FOO line stands in for kith's; X-BAR is kith's own spelling. */
    expect_line_n(c, "X-FOO:baz", 0);
    expect_line(c, "X-BAR:plain");
    expect_line_n(c, "PRODID:-//Example//EN", 0);
    kith_cardset_close(&set);
}

static void
test_kept_kind(void **state)
{
    (void) state;
    /* Apple's spelling says org: kept and written in both versions instead of kith's. */
    static const char *const apple[] = {"X-ABShowAs:COMPANY", "N:;;;;"};
    kith_cardset_t set;
    parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nFN:Acme\r\nORG:Acme;\r\n"
             "X-ABShowAs:COMPANY\r\nEND:VCARD\r\n",
             &set);
    kith_card_t *c = &set.cards[0];
    ASSERT_EQ(c->kind, KITH_CARD_ORG);
    ASSERT_EQ(count(c, "vcard_extra"), 2);
    ASSERT_STREQ(nth(c, "vcard_extra", 0), "ORG:Acme;");
    ASSERT_STREQ(nth(c, "vcard_extra", 1), apple[0]);
    expect_line(c, apple[0]);
    expect_line(c, "ORG:Acme;");
    expect_line_n(c, "KIND:org", 0);
    expect_line_n(c, "X-ABSHOWAS:COMPANY", 0);
    roundtrip(c, 3);
    roundtrip(c, 4);
    /* Made a person in kith: the org line is stale and goes. */
    c->kind = KITH_CARD_PERSON;
    expect_line_n(c, apple[0], 0);
    kith_cardset_close(&set);
    /* kith's own lines are not kept. */
    parse_ok("BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:org\r\nFN:Acme\r\nEND:VCARD\r\n"
             "BEGIN:VCARD\r\nVERSION:3.0\r\nX-ABSHOWAS:COMPANY\r\nFN:Acme\r\nN:;;;;\r\n"
             "END:VCARD\r\n",
             &set);
    ASSERT_EQ(count(&set.cards[0], "vcard_extra"), 0);
    ASSERT_EQ(count(&set.cards[1], "vcard_extra"), 0);
    kith_cardset_close(&set);
}

static void
test_kept_not_canonical(void **state)
{
    (void) state;
    /* Exactly what the writer writes is not kept (no waste)... */
    kith_cardset_t set;
    parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\\, Countess\r\nN:Lovelace;Ada;;;\r\n"
             "ORG:Engines;R\\;D\r\nEMAIL:a@b.example\r\nTEL:+1 555\r\n"
             "ADR:;;1 Main St\\nLondon;;;;\r\nCATEGORIES:a,b\\,c\r\nNOTE:x\\ny\r\n"
             "X-KITH-NAME:Alias\r\nX-SKYPE:ada\r\nX-KITH-PAIN-POINTS:slow\r\nEND:VCARD\r\n",
             &set);
    ASSERT_EQ(count(&set.cards[0], "vcard_extra"), 0);
    kith_cardset_close(&set);
    /* ...but another spelling of the same values is. */
    parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nfn:Ada\r\nN:Lovelace;Ada\r\nEMAIL:a@b.example\r\n"
             "END:VCARD\r\n",
             &set);
    ASSERT_EQ(count(&set.cards[0], "vcard_extra"), 2);
    kith_cardset_close(&set);
}

/* A value edited in kith drops its stale kept line: the edit wins. */
static void
test_kept_edited(void **state)
{
    (void) state;
    kith_cardset_t set;
    parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nN:Lovelace;Ada;Augusta;;\r\n"
             "ORG:Engines;R&D;Lab\r\nTEL;TYPE=CELL:+1 555 0100\r\n"
             "TEL;TYPE=WORK:+1 555 0101\r\nitem1.EMAIL;type=pref:a@b.example\r\n"
             "ADR;TYPE=home:;;1 Main St;London;;;UK\r\nCATEGORIES;X-A=1:red,green\r\n"
             "END:VCARD\r\n",
             &set);
    kith_card_t *c = &set.cards[0];
    for (size_t i = 0; i < c->n_fields; i++) {
        kith_card_field_t *f = &c->fields[i];
        const char *now = NULL;
        if (strcmp(f->value, "+1 555 0100") == 0) {
            now = "+1 555 0199";
        } else if (strcmp(f->name, "given") == 0) {
            now = "Augusta";
        } else if (strcmp(f->name, "department") == 0) {
            now = "Sales";
        } else if (strcmp(f->name, "emails") == 0) {
            now = "ada@new.example";
        } else if (strcmp(f->name, "addresses") == 0) {
            now = "2 Side St, Leeds";
        } else if (strcmp(f->value, "green") == 0) {
            now = "blue";
        }
        if (now != NULL) {
            free(f->value);
            f->value = strdup(now);
            assert_non_null(f->value);
        }
    }
    expect_line(c, "TEL:+1 555 0199");
    expect_line_n(c, "TEL;TYPE=CELL:+1 555 0100", 0);
    expect_line(c, "TEL;TYPE=WORK:+1 555 0101"); /* unchanged: still kept */
    expect_line(c, "N:Lovelace;Augusta;;;");
    expect_line(c, "ORG:Engines;Sales");
    expect_line(c, "EMAIL:ada@new.example");
    expect_line(c, "ADR:;;2 Side St\\, Leeds;;;;");
    expect_line(c, "CATEGORIES:red,blue");
    expect_line_n(c, "CATEGORIES;X-A=1:red,green", 0);
    for (int v = 3; v <= 4; v++) {
        char *s = write_text(c, v);
        assert_null(strstr(s, "TYPE=CELL"));
        assert_null(strstr(s, "item1."));
        assert_null(strstr(s, "Ada;Augusta"));
        assert_null(strstr(s, "TYPE=home"));
        free(s);
    }
    kith_cardset_close(&set);
}

/* Several CATEGORIES lines keep their tags' order, kept or not. */
static void
test_kept_categories(void **state)
{
    (void) state;
    kith_cardset_t set;
    parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nCATEGORIES:a\r\n"
             "CATEGORIES;X-A=1:b,c\r\nCATEGORIES:d\r\nEND:VCARD\r\n",
             &set);
    const kith_card_t *c = &set.cards[0];
    ASSERT_EQ(count(c, "vcard_extra"), 1);
    expect_line(c, "CATEGORIES:a");
    expect_line(c, "CATEGORIES;X-A=1:b,c");
    expect_line(c, "CATEGORIES:d");
    roundtrip(c, 3);
    roundtrip(c, 4);
    kith_cardset_close(&set);
}

static void
test_kept_too_long(void **state)
{
    (void) state;
    /* 20000 bytes: PHOTO; a TEL with a parameter whose value is imported anyway. */
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Big\r\nPHOTO;ENCODING=b:"));
    for (size_t i = strlen("PHOTO;ENCODING=b:"); i < 20000; i++) {
        ASSERT_OK(kith_buf_putc(&b, 'A'));
    }
    ASSERT_OK(kith_buf_puts(&b, "\r\nTEL;TYPE="));
    for (size_t i = strlen("TEL;TYPE="); i < 16385 - strlen(":123"); i++) {
        ASSERT_OK(kith_buf_putc(&b, 'x'));
    }
    ASSERT_OK(kith_buf_puts(&b, ":123\r\nNOTE;X-A=1:kept\r\nEND:VCARD\r\n"));
    /* Strict: the parse fails, in the words. */
    parse_err_n((const char *) b.data, b.len, KITH_ETOOBIG,
                "line 4: too long: 20000 bytes, at most 16384 are kept");
    kith_cardset_t set;
    skips_t sk;
    parse_forgiving_n((const char *) b.data, b.len, &set, &sk);
    ASSERT_EQ(sk.n_props, 2);
    expect_skip(&sk, 0, 4, "PHOTO", "too long: 20000 bytes, at most 16384 are kept");
    expect_skip(&sk, 1, 5, "TEL", "too long: 16385 bytes, at most 16384 are kept");
    const kith_card_t *c = &set.cards[0];
    ASSERT_STREQ(nth(c, "phones", 0), "123");
    ASSERT_EQ(count(c, "vcard_extra"), 1);
    ASSERT_STREQ(nth(c, "vcard_extra", 0), "NOTE;X-A=1:kept");
    kith_cardset_close(&set);

    /* Exactly 16384 bytes is kept. */
    b.len = 0;
    ASSERT_OK(kith_buf_puts(&b, "BEGIN:VCARD\r\nFN:Big\r\nX-DATA;ENCODING=b:"));
    for (size_t i = strlen("X-DATA;ENCODING=b:"); i < 16384; i++) {
        ASSERT_OK(kith_buf_putc(&b, 'A'));
    }
    ASSERT_OK(kith_buf_puts(&b, "\r\nEND:VCARD\r\n"));
    kith_cardset_init(&set);
    ASSERT_OK(kith_vcard_parse((const char *) b.data, b.len, &set, NULL, NULL, NULL, 0));
    ASSERT_EQ(strlen(nth(&set.cards[0], "vcard_extra", 0)), 16384);
    roundtrip(&set.cards[0], 3);
    kith_cardset_close(&set);

    /* All kept lines of a card together: at most KITH_VCARD_KEPT_MAX_TOTAL bytes, so
     * that the record fits one op. */
    b.len = 0;
    ASSERT_OK(kith_buf_puts(&b, "BEGIN:VCARD\r\nFN:Blobs\r\n"));
    for (int i = 0; i < 3; i++) {
        char head[32];
        snprintf(head, sizeof(head), "X-BLOB%d;ENCODING=b:", i);
        ASSERT_OK(kith_buf_puts(&b, head));
        for (size_t k = strlen(head); k < 15000; k++) {
            ASSERT_OK(kith_buf_putc(&b, 'A'));
        }
        ASSERT_OK(kith_buf_puts(&b, "\r\n"));
    }
    ASSERT_OK(kith_buf_puts(&b, "GENDER:F\r\nEND:VCARD\r\n"));
    parse_err_n((const char *) b.data, b.len, KITH_ETOOBIG,
                "line 5: too long to keep: this vCard's kept lines would pass 32768 bytes");
    parse_forgiving_n((const char *) b.data, b.len, &set, &sk);
    ASSERT_EQ(sk.n_props, 1);
    expect_skip(&sk, 0, 5, "X-BLOB2", "kept lines would pass 32768 bytes");
    ASSERT_EQ(count(&set.cards[0], "vcard_extra"), 3);
    ASSERT_STREQ(nth(&set.cards[0], "vcard_extra", 2), "GENDER:F");
    roundtrip(&set.cards[0], 3);
    roundtrip(&set.cards[0], 4);
    kith_cardset_close(&set);

    /* 2.1 base64 on unindented lines is joined, and measured joined. */
    b.len = 0;
    ASSERT_OK(kith_buf_puts(&b, "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Nokia\r\n"
                                "PHOTO;ENCODING=BASE64;TYPE=JPEG:\r\n"));
    for (int i = 0; i < 300; i++) {
        ASSERT_OK(kith_buf_puts(&b, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                                    "AAAAAAAAAAAA\r\n"));
    }
    ASSERT_OK(kith_buf_puts(&b, "\r\nTEL:1\r\nEND:VCARD\r\n"));
    parse_forgiving_n((const char *) b.data, b.len, &set, &sk);
    ASSERT_EQ(sk.n_props, 1);
    expect_skip(&sk, 0, 232, "PHOTO", "too long: 16448 bytes, at most 16384 are kept");
    ASSERT_EQ(count(&set.cards[0], "vcard_extra"), 0);
    ASSERT_STREQ(nth(&set.cards[0], "phones", 0), "1");
    kith_cardset_close(&set);
    kith_buf_close(&b);
}

static void
test_kept_too_many(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Many\r\n"));
    for (int i = 0; i < 257; i++) {
        char line[64];
        snprintf(line, sizeof(line), "IMPP:xmpp:u%d@example.org\r\n", i);
        ASSERT_OK(kith_buf_puts(&b, line));
    }
    ASSERT_OK(kith_buf_puts(&b, "END:VCARD\r\n"));
    parse_err_n((const char *) b.data, b.len, KITH_ETOOBIG,
                "line 260: too many lines to keep: at most 256 per vCard are kept");
    kith_cardset_t set;
    skips_t sk;
    parse_forgiving_n((const char *) b.data, b.len, &set, &sk);
    ASSERT_EQ(sk.n_props, 1);
    expect_skip(&sk, 0, 260, "IMPP", "at most 256");
    const kith_card_t *c = &set.cards[0];
    ASSERT_EQ(count(c, "vcard_extra"), 256);
    ASSERT_STREQ(nth(c, "vcard_extra", 255), "IMPP:xmpp:u255@example.org");
    roundtrip(c, 3);
    roundtrip(c, 4);
    kith_cardset_close(&set);
    /* The limit is per vCard. */
    ASSERT_OK(kith_buf_puts(&b, "BEGIN:VCARD\r\nFN:Next\r\nGENDER:M\r\nEND:VCARD\r\n"));
    parse_forgiving_n((const char *) b.data, b.len, &set, &sk);
    ASSERT_EQ(count(&set.cards[1], "vcard_extra"), 1);
    kith_cardset_close(&set);
    kith_buf_close(&b);
}

/* Lines that cannot be kept, and kept lines a writer must not write. */
static void
test_kept_hostile(void **state)
{
    (void) state;
    /* An unmapped line that is not UTF-8 or holds a control character: reported
     * (forgiving) or fatal (strict); a mapped one still gives its value. */
    static const char bad[] = "BEGIN:VCARD\nFN:a\nX-PIC;ENCODING=b:\xff\xfe\nGENDER:\x01M\n"
                              "TEL;TYPE=x:1\x7f\nLABEL:\xe2\x80\xae"
                              "evil\nNOTE;CHARSET=ISO-8859-1;X-A=1:caf\xe9\nEND:VCARD\n";
    parse_err(bad, KITH_ETOOBIG, "line 3: not kept: not valid UTF-8");
    kith_cardset_t set;
    skips_t sk;
    parse_forgiving(bad, &set, &sk);
    ASSERT_EQ(sk.n_props, 3);
    expect_skip(&sk, 0, 3, "X-PIC", "not kept");
    expect_skip(&sk, 1, 4, "GENDER", "not kept");
    expect_skip(&sk, 2, 6, "LABEL", "not kept");
    ASSERT_STREQ(nth(&set.cards[0], "note", 0), "caf\xc3\xa9");
    ASSERT_EQ(count(&set.cards[0], "vcard_extra"), 0);
    kith_cardset_close(&set);

    /* A card whose kept lines came from elsewhere (a synced record): the writer leaves
     * out what would break the vCard or not read back, and writes the rest. */
    kith_card_t card;
    kith_card_init(&card);
    ASSERT_OK(kith_card_add(&card, "name", "Mallory"));
    static const char *const evil[] = {
        "END:VCARD",
        "BEGIN:VCARD",
        "VERSION:2.1",
        "UID:urn:kith:00000000000000000000000000000000",
        "PRODID:x",
        "no property here",
        "X-A:1\r\nEND:VCARD",
        "X-B:1\nFN:Eve",
        "X-KITH-CUSTOM;NAME=bad name:v",
        "X-C;Q=\"unterminated:v",
        "GENDER:\x01",
        "item9.X-OK;TYPE=a:fine",
    };
    for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
        ASSERT_OK(kith_card_add(&card, "vcard_extra", evil[i]));
    }
    for (int v = 3; v <= 4; v++) {
        char *s = write_text(&card, v);
        kith_cardset_t again;
        parse_ok(s, &again);
        ASSERT_EQ(again.n_cards, 1);
        ASSERT_STREQ(nth(&again.cards[0], "name", 0), "Mallory");
        ASSERT_EQ(count(&again.cards[0], "vcard_extra"), 1);
        ASSERT_STREQ(nth(&again.cards[0], "vcard_extra", 0), "item9.X-OK;TYPE=a:fine");
        ASSERT_EQ(count(&again.cards[0], "uid"), 0);
        kith_cardset_close(&again);
        free(s);
    }
    kith_card_close(&card);

    /* A kept QUOTED-PRINTABLE line of an unmapped property, folded where a '=' falls at
     * a fold: a soft line break must not be made of it. */
    kith_card_init(&card);
    ASSERT_OK(kith_card_add(&card, "name", "QP"));
    ASSERT_OK(kith_card_add(&card, "vcard_extra",
                            "LABEL;ENCODING=QUOTED-PRINTABLE:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                            "aaaaaaa=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D"
                            "=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D=3D"));
    roundtrip(&card, 3);
    roundtrip(&card, 4);
    kith_card_close(&card);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v3_apple),
        cmocka_unit_test(test_v21_qp_latin1),
        cmocka_unit_test(test_v21_qp_utf8_android),
        cmocka_unit_test(test_folding),
        cmocka_unit_test(test_escapes_and_structure),
        cmocka_unit_test(test_multiple_values),
        cmocka_unit_test(test_x_properties),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_multiple_cards_and_bom),
        cmocka_unit_test(test_org_cards_and_names),
        cmocka_unit_test(test_base64_skipped),
        cmocka_unit_test(test_charset_utf8_declared),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_errbuf_optional),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_field_count),
        cmocka_unit_test(test_forgiving_one_bad_value),
        cmocka_unit_test(test_forgiving_truncated),
        cmocka_unit_test(test_forgiving_bad_lines),
        cmocka_unit_test(test_forgiving_limits),
        cmocka_unit_test(test_forgiving_same_when_valid),
        cmocka_unit_test(test_write_simple),
        cmocka_unit_test(test_uid),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_roundtrip_tricky),
        cmocka_unit_test(test_roundtrip_repeats),
        cmocka_unit_test(test_roundtrip_parsed),
        cmocka_unit_test(test_kept_type_params),
        cmocka_unit_test(test_kept_groups),
        cmocka_unit_test(test_kept_photo),
        cmocka_unit_test(test_kept_structure),
        cmocka_unit_test(test_kept_unknown),
        cmocka_unit_test(test_kept_kind),
        cmocka_unit_test(test_kept_not_canonical),
        cmocka_unit_test(test_kept_edited),
        cmocka_unit_test(test_kept_categories),
        cmocka_unit_test(test_kept_too_long),
        cmocka_unit_test(test_kept_too_many),
        cmocka_unit_test(test_kept_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
