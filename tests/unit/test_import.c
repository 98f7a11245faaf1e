/*
 * Tests for contact import (src/node/import.c) on real nodes in temporary directories:
 * added, then unchanged, then updated; sharing and read-only records; hostile input that
 * must fail cleanly or be skipped; strict mode; progress; and the JSON result. Every
 * failure must leave the store as it was: no record and no op more.
 */
#include "node_pair.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "node/import.h"
#include "node/match.h"

/* What the callbacks saw. */
typedef struct {
    size_t n_skips, n_notes, n_progress;
    kith_import_note_t last_note;
    size_t last_done, last_total;
    int decreasing; /* a progress call went backwards */
    int first_done_nonzero;
} seen_t;

static void
on_skip(void *ctx, unsigned line, const char *prop, const char *why)
{
    seen_t *s = ctx;
    assert_non_null(why);
    assert_true(line > 0);
    s->n_skips++;
}

static void
on_note(void *ctx, const kith_import_note_t *nt)
{
    seen_t *s = ctx;
    s->n_notes++;
    s->last_note = *nt;
    s->last_note.field = s->last_note.name = NULL; /* valid during the call only */
}

static void
on_progress(void *ctx, size_t done, size_t total)
{
    seen_t *s = ctx;
    if (s->n_progress == 0 && done != 0) {
        s->first_done_nonzero = 1;
    }
    if (s->n_progress > 0 && done < s->last_done) {
        s->decreasing = 1;
    }
    assert_true(done <= total);
    s->n_progress++;
    s->last_done = done;
    s->last_total = total;
}

static kith_import_opts_t
opts(const char *format, seen_t *s)
{
    memset(s, 0, sizeof(*s));
    return (kith_import_opts_t){.format = format,
                                .on_skip = on_skip,
                                .on_note = on_note,
                                .on_progress = on_progress,
                                .ctx = s};
}

/* Where the store stands: its records and its newest op. */
typedef struct {
    uint64_t records, seq;
} mark_t;

static mark_t
mark(kith_node_t *n)
{
    mark_t m;
    ASSERT_OK(kith_store_count_records(n->store, &m.records));
    ASSERT_OK(kith_store_max_seq(n->store, &m.seq));
    return m;
}

static void
assert_unchanged(kith_node_t *n, mark_t before)
{
    mark_t after = mark(n);
    ASSERT_EQ(after.records, before.records);
    ASSERT_EQ(after.seq, before.seq);
}

static int
import(kith_node_t *n, const char *data, size_t len, const kith_import_opts_t *o,
       kith_import_result_t *res, char *err, size_t errcap)
{
    kith_import_result_close(res);
    return kith_node_import_contacts(n, data, len, o, res, err, errcap);
}

static const char three[] =
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada One\r\nEMAIL:ada@one.example\r\n"
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ben Two\r\nEMAIL:ben@two.example\r\n"
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cy Three\r\nEMAIL:cy@three.example\r\n"
    "TITLE:Buyer\r\nEND:VCARD\r\n";

static void
added_unchanged_updated(void **state)
{
    (void) state;
    seen_t s;
    kith_import_opts_t o = opts("vcard", &s);
    kith_import_result_t res = {0};
    char err[256] = "";
    mark_t before = mark(alice);
    ASSERT_OK(import(alice, three, strlen(three), &o, &res, err, sizeof(err)));
    ASSERT_EQ(res.cards, 3);
    ASSERT_EQ(res.added, 3);
    ASSERT_EQ(res.updated + res.unchanged + res.ambiguous + res.read_only, 0);
    ASSERT_EQ(res.skipped_values + res.skipped_cards, 0);
    ASSERT_EQ(s.n_skips, 0);
    ASSERT_EQ(mark(alice).records, before.records + 3);

    /* Again: every card is a record held, and none needs a change. */
    mark_t m = mark(alice);
    ASSERT_OK(import(alice, three, strlen(three), &o, &res, err, sizeof(err)));
    ASSERT_EQ(res.added, 0);
    ASSERT_EQ(res.unchanged, 3);
    assert_unchanged(alice, m);

    /* One card changed: that record alone is updated. */
    static const char changed[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cy Three\r\n"
                                  "EMAIL:cy@three.example\r\nTITLE:Head of buying\r\nEND:VCARD\r\n";
    ASSERT_OK(import(alice, changed, strlen(changed), &o, &res, err, sizeof(err)));
    ASSERT_EQ(res.updated, 1);
    ASSERT_EQ(res.added + res.unchanged, 0);
    ASSERT_EQ(mark(alice).records, m.records);
    assert_true(mark(alice).seq > m.seq);

    /* A card with the e-mails of two records is ambiguous: a new record, and a note. */
    static const char both[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Both\r\nEMAIL:ada@one.example\r\n"
                               "EMAIL:ben@two.example\r\nEND:VCARD\r\n";
    ASSERT_OK(import(alice, both, strlen(both), &o, &res, err, sizeof(err)));
    ASSERT_EQ(res.ambiguous, 1);
    ASSERT_EQ(res.added, 1);
    ASSERT_EQ(s.n_notes, 1);
    ASSERT_EQ(s.last_note.kind, KITH_IMPORT_AMBIGUOUS);
    ASSERT_EQ(s.last_note.n_found, 2);
    ASSERT_EQ(s.last_note.line, 1);
    kith_import_result_close(&res);
}

/* New records shared read-only with bob; bob's import of a changed card leaves them alone. */
static void
shared_read_only(void **state)
{
    (void) state;
    seen_t s;
    kith_import_opts_t o = opts("csv", &s);
    kith_share_target_t t;
    ASSERT_OK(kith_node_share_target(alice, "bob", &t));
    o.targets = &t;
    o.n_targets = 1;
    o.read_only = 1;
    kith_import_result_t res = {0};
    char err[256] = "";
    static const char csv[] = "name,emails\nDee Four,dee@four.example\n";
    ASSERT_OK(import(alice, csv, strlen(csv), &o, &res, err, sizeof(err)));
    ASSERT_EQ(res.added, 1);

    kith_match_index_t *ix = NULL;
    ASSERT_OK(kith_match_index_new(&ix));
    ASSERT_OK(kith_match_index_load(ix, alice));
    kith_op_t probe;
    kith_op_init(&probe);
    const char *mail = "dee@four.example";
    kith_value_t v = {0};
    ASSERT_OK(kith_value_list_append(&v, mail, strlen(mail)));
    ASSERT_OK(kith_op_set_field(&probe, "emails", &v));
    kith_value_clear(&v);
    uint8_t id[KITH_REC_ID_LEN];
    ASSERT_EQ(kith_match_find(ix, NULL, &probe, id, NULL), KITH_MATCH_ONE);
    kith_op_close(&probe);
    kith_match_index_free(ix);
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(alice->store, id, &r));
    ASSERT_EQ(r.n_aud, 1);
    kith_record_close(&r);
    pair_deliver(alice, bob, id);

    kith_import_opts_t ob = opts("csv", &s);
    static const char changed[] = "name,emails,title\nDee Four,dee@four.example,Chief\n";
    mark_t before = mark(bob);
    ASSERT_OK(import(bob, changed, strlen(changed), &ob, &res, err, sizeof(err)));
    ASSERT_EQ(res.read_only, 1);
    ASSERT_EQ(res.added + res.updated + res.unchanged, 0);
    ASSERT_EQ(s.last_note.kind, KITH_IMPORT_READ_ONLY);
    ASSERT_EQ(memcmp(s.last_note.rec, id, KITH_REC_ID_LEN), 0);
    assert_unchanged(bob, before);
    kith_import_result_close(&res);
}

static void
hostile_input(void **state)
{
    (void) state;
    seen_t s;
    kith_import_opts_t o = opts("vcard", &s);
    kith_import_result_t res = {0};
    char err[256];
    mark_t before = mark(alice);

    /* An unknown format, or none. */
    o.format = "xml";
    err[0] = '\0';
    ASSERT_ERR(import(alice, three, strlen(three), &o, &res, err, sizeof(err)), KITH_EINVAL);
    assert_non_null(strstr(err, "unknown format"));
    o.format = NULL;
    ASSERT_ERR(import(alice, three, strlen(three), &o, &res, err, sizeof(err)), KITH_EINVAL);
    o.format = "vcard";
    ASSERT_ERR(import(alice, NULL, 5, &o, &res, err, sizeof(err)), KITH_EINVAL);
    assert_unchanged(alice, before);

    /* Binary junk, NULs included, in each format: refused or skipped, never half written. */
    static const char *const formats[] = {"vcard", "linkedin", "csv"};
    char junk[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(junk); i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (char) (x >> 16);
    }
    for (size_t f = 0; f < 3; f++) {
        o.format = formats[f];
        err[0] = '\0';
        int rc = import(alice, junk, sizeof(junk), &o, &res, err, sizeof(err));
        if (rc != KITH_OK) {
            assert_true(err[0] != '\0');
            assert_unchanged(alice, before);
        } else {
            before = mark(alice);
        }
    }
    o.format = "vcard";

    /* A line of 1 MiB and more: over the hard limit, nothing imported. */
    size_t big = (1u << 20) + 64;
    char *line = malloc(big + 64);
    assert_non_null(line);
    size_t k = (size_t) snprintf(line, 64, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:");
    memset(line + k, 'a', big);
    k += big;
    k += (size_t) snprintf(line + k, 32, "\r\nEND:VCARD\r\n");
    err[0] = '\0';
    assert_int_not_equal(import(alice, line, k, &o, &res, err, sizeof(err)), KITH_OK);
    assert_true(err[0] != '\0');
    assert_unchanged(alice, before);
    free(line);

    /* A NUL inside a value: that value is left out and reported, the card has no name. */
    static const char nul[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Nu\0l\r\nEND:VCARD\r\n"
                              "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Eve Five\r\nEND:VCARD\r\n";
    s.n_skips = 0;
    ASSERT_OK(import(alice, nul, sizeof(nul) - 1, &o, &res, err, sizeof(err)));
    assert_true(res.skipped_values + res.skipped_cards > 0);
    ASSERT_EQ(s.n_skips, res.skipped_values + res.skipped_cards);
    ASSERT_EQ(res.n_skips, s.n_skips);
    ASSERT_EQ(res.added, 1);
    before = mark(alice);

    /* A vCard cut short: the card is skipped whole, with its first line. */
    static const char cut[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cut Short\r\nEMAIL:cut@x.example";
    s.n_skips = 0;
    ASSERT_OK(import(alice, cut, strlen(cut), &o, &res, err, sizeof(err)));
    ASSERT_EQ(res.skipped_cards, 1);
    ASSERT_EQ(res.added, 0);
    ASSERT_EQ(res.n_skips, 1);
    ASSERT_EQ(res.skips[0].line, 1);
    assert_null(res.skips[0].prop);
    assert_unchanged(alice, before);

    /* Malformed CSV imports nothing, and the message says where. */
    o.format = "csv";
    static const char badcsv[] = "name,emails\n\"Unclosed,x@y.example\n";
    err[0] = '\0';
    ASSERT_ERR(import(alice, badcsv, strlen(badcsv), &o, &res, err, sizeof(err)), KITH_EPARSE);
    assert_non_null(strstr(err, "line 2"));
    assert_unchanged(alice, before);
    kith_import_result_close(&res);

    /* An import applies once. */
    kith_import_t *imp = NULL;
    o.format = "vcard";
    ASSERT_OK(kith_import_new(three, strlen(three), &o, &imp, &res, err, sizeof(err)));
    ASSERT_OK(kith_import_apply(alice, imp, &o, &res, err, sizeof(err)));
    ASSERT_ERR(kith_import_apply(alice, imp, &o, &res, err, sizeof(err)), KITH_EINVAL);
    kith_import_free(imp);
    kith_import_free(NULL);
    kith_import_result_close(&res);
    kith_import_result_close(NULL);
}

static void
strict_mode(void **state)
{
    (void) state;
    seen_t s;
    kith_import_opts_t o = opts("vcard", &s);
    o.strict = 1;
    kith_import_result_t res = {0};
    char err[256] = "";
    static const char bad[] =
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Fay Six\r\nEMAIL:fay@six.example\r\n"
        "END:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Gus Seven\r\nEMAIL:not a mail\r\n"
        "END:VCARD\r\n";
    mark_t before = mark(alice);
    ASSERT_ERR(import(alice, bad, strlen(bad), &o, &res, err, sizeof(err)), KITH_EINVAL);
    ASSERT_EQ(res.err_line, 9);
    assert_non_null(strstr(err, "e-mail"));
    ASSERT_EQ(s.n_skips, 0);
    ASSERT_EQ(s.n_progress, 0);
    assert_unchanged(alice, before);

    /* Forgiving, the same file imports both cards and skips the address. */
    o.strict = 0;
    ASSERT_OK(import(alice, bad, strlen(bad), &o, &res, err, sizeof(err)));
    ASSERT_EQ(res.added, 2);
    ASSERT_EQ(res.skipped_values, 1);
    ASSERT_EQ(res.skips[0].line, 9);
    ASSERT_STREQ(res.skips[0].prop, "emails");
    kith_import_result_close(&res);
}

/* Many cards: progress rises from 0 to the total; JSON lists 100 skips and counts the rest. */
static void
progress_and_json(void **state)
{
    (void) state;
    enum { N = 1300 };
    kith_buf_t b;
    kith_buf_init(&b);
    char card[160];
    for (int i = 0; i < N; i++) {
        /* Every tenth card has an address that is not one (line 4 of its card). */
        int len = snprintf(card, sizeof(card),
                           "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bulk %d\r\nEMAIL:%s%d%s\r\n"
                           "END:VCARD\r\n",
                           i, i % 10 == 0 ? "broken" : "bulk", i, i % 10 == 0 ? "" : "@x.example");
        ASSERT_OK(kith_buf_append(&b, card, (size_t) len));
    }
    seen_t s;
    kith_import_opts_t o = opts("vcard", &s);
    kith_import_result_t res = {0};
    char err[256] = "";
    ASSERT_OK(import(alice, (const char *) b.data, b.len, &o, &res, err, sizeof(err)));
    kith_buf_close(&b);
    ASSERT_EQ(res.added, N);
    ASSERT_EQ(res.skipped_values, N / 10);
    assert_true(s.n_progress >= 3);
    ASSERT_EQ(s.first_done_nonzero, 0);
    ASSERT_EQ(s.decreasing, 0);
    ASSERT_EQ(s.last_done, N);
    ASSERT_EQ(s.last_total, N);

    kith_buf_t out;
    kith_buf_init(&out);
    kith_json_t j;
    kith_json_init(&j, &out, 0);
    kith_import_result_json(&res, &j);
    ASSERT_OK(kith_json_finish(&j));
    json_error_t jerr;
    json_t *root = json_loadb((const char *) out.data, out.len, 0, &jerr);
    assert_non_null(root);
    static const char *const members[] = {"added",     "updated", "unchanged",    "ambiguous",
                                          "read_only", "skipped", "skips_omitted"};
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        assert_true(json_is_integer(json_object_get(root, members[i])));
    }
    ASSERT_EQ(json_integer_value(json_object_get(root, "added")), N);
    ASSERT_EQ(json_integer_value(json_object_get(root, "skipped")), N / 10);
    json_t *skips = json_object_get(root, "skips");
    assert_true(json_is_array(skips));
    ASSERT_EQ(json_array_size(skips), KITH_IMPORT_SKIPS_KEPT);
    ASSERT_EQ(json_integer_value(json_object_get(root, "skips_omitted")),
              N / 10 - KITH_IMPORT_SKIPS_KEPT);
    json_t *first = json_array_get(skips, 0);
    ASSERT_EQ(json_integer_value(json_object_get(first, "line")), 4);
    ASSERT_STREQ(json_string_value(json_object_get(first, "property")), "emails");
    assert_true(json_is_string(json_object_get(first, "why")));
    json_decref(root);
    kith_buf_close(&out);

    /* A whole card left out is "property": null. */
    static const char cut[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cut\r\n";
    ASSERT_OK(import(alice, cut, strlen(cut), &o, &res, err, sizeof(err)));
    kith_buf_init(&out);
    kith_json_init(&j, &out, 1);
    kith_import_result_json(&res, &j);
    ASSERT_OK(kith_json_finish(&j));
    root = json_loadb((const char *) out.data, out.len, 0, &jerr);
    assert_non_null(root);
    first = json_array_get(json_object_get(root, "skips"), 0);
    assert_true(json_is_null(json_object_get(first, "property")));
    ASSERT_EQ(json_integer_value(json_object_get(root, "skips_omitted")), 0);
    json_decref(root);
    kith_buf_close(&out);
    kith_import_result_close(&res);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(added_unchanged_updated), cmocka_unit_test(shared_read_only),
        cmocka_unit_test(hostile_input),           cmocka_unit_test(strict_mode),
        cmocka_unit_test(progress_and_json),
    };
    return cmocka_run_group_tests(tests, node_pair_setup, node_pair_teardown);
}
