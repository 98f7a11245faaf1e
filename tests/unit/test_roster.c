/*
 * Tests for the roster (src/node/roster.c), the in-memory index behind the web UI's list
 * and search, on real nodes in a temporary directory: every filter, paging, order,
 * folding, refresh after edits and deletes (reading only what changed), invalidation, and
 * hostile query values.
 */
#include "node_pair.h"

#include <jansson.h>
#include <sodium.h>
#include <limits.h>
#include <stdlib.h>

#include "node/edit.h"
#include "node/roster.h"

#define TODAY 20454 /* 2026-01-01, days since 1970-01-01 */

static kith_roster_t *roster;
static uint8_t id_ingrid[KITH_REC_ID_LEN], id_ada[KITH_REC_ID_LEN], id_fjord[KITH_REC_ID_LEN],
    id_zed[KITH_REC_ID_LEN], id_bobs[KITH_REC_ID_LEN];

static kith_edit_t
ed(const char *field, kith_edit_mode_t mode, const char *const *items, size_t n)
{
    return (kith_edit_t){field, mode, items, n};
}

static void
add(kith_node_t *n, int kind, const kith_edit_t *edits, size_t n_edits, const char *share,
    uint8_t id[KITH_REC_ID_LEN])
{
    kith_share_target_t t;
    kith_edit_result_t res;
    char err[256] = "";
    if (share != NULL) {
        ASSERT_OK(kith_node_share_target(n, share, &t));
    }
    ASSERT_OK(kith_node_add_record(n, kind, edits, n_edits, share ? &t : NULL, share ? 1 : 0,
                                   KITH_ROLE_EDITOR, ++now, &res, err, sizeof(err)));
    memcpy(id, res.id, KITH_REC_ID_LEN);
}

static kith_roster_query_t
any(void)
{
    return (kith_roster_query_t){.kind = -1, .stale_days = -1, .today_days = TODAY, .limit = 50};
}

/* Runs q; the answer parsed, as the web API would send it. */
static json_t *
run(const kith_roster_query_t *q)
{
    kith_buf_t b;
    kith_json_t j;
    kith_buf_init(&b);
    kith_json_init(&j, &b, 0);
    kith_json_object_begin(&j);
    ASSERT_OK(kith_roster_query(roster, q, &j));
    kith_json_key(&j, "took_us");
    kith_json_uint(&j, 0);
    kith_json_object_end(&j);
    ASSERT_OK(kith_json_finish(&j));
    json_error_t e;
    json_t *v = json_loads((const char *) b.data, JSON_REJECT_DUPLICATES, &e);
    assert_non_null(v);
    kith_buf_close(&b);
    return v;
}

/* "total:name,name,...": the total and the page's names, in order. */
static char *
names(const kith_roster_query_t *q)
{
    static char out[1024];
    json_t *v = run(q);
    int len = snprintf(out, sizeof(out),
                       "%lld:", (long long) json_integer_value(json_object_get(v, "total")));
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(v, "items"), i, it)
    {
        len += snprintf(out + len, sizeof(out) - (size_t) len, "%s%s", i ? "," : "",
                        json_string_value(json_object_get(it, "name")));
    }
    json_decref(v);
    return out;
}

static void
refresh(void)
{
    ASSERT_OK(kith_roster_refresh(roster, alice));
}

static int
setup(void **state)
{
    if (node_pair_setup(state) != 0) {
        return -1;
    }
    static const char *const ingrid[] = {"Ingrid Ødegård"}, *const fj[] = {"Fjordline"},
                             *const cto[] = {"CTO"}, *const tags[] = {"VIP", "Nordic"},
                             *const li[] = {"2025-12-01"}, *const four[] = {"4"},
                             *const minus[] = {"-1"}, *const champ[] = {"champion"},
                             *const ada[] = {"ada Lovelace"}, *const ae[] = {"Analytical Engines"},
                             *const vip[] = {"vip"}, *const secret[] = {"zanzibar secret"},
                             *const old[] = {"2020-05-05"}, *const zed[] = {"Zed"},
                             *const bobs[] = {"Émile from Bob"};
    kith_edit_t e1[] = {
        ed("name", KITH_EDIT_SET, ingrid, 1),         ed("org", KITH_EDIT_SET, fj, 1),
        ed("title", KITH_EDIT_SET, cto, 1),           ed("tags", KITH_EDIT_SET, tags, 2),
        ed("last_interaction", KITH_EDIT_SET, li, 1), ed("influence", KITH_EDIT_SET, four, 1),
        ed("attitude", KITH_EDIT_SET, minus, 1),      ed("buying_role", KITH_EDIT_SET, champ, 1)};
    add(alice, KITH_KIND_PERSON, e1, 8, "bob", id_ingrid);
    kith_edit_t e2[] = {ed("name", KITH_EDIT_SET, ada, 1), ed("org", KITH_EDIT_SET, ae, 1),
                        ed("tags", KITH_EDIT_SET, vip, 1), ed("note", KITH_EDIT_PRIVATE, secret, 1),
                        ed("last_interaction", KITH_EDIT_SET, old, 1)};
    add(alice, KITH_KIND_PERSON, e2, 5, NULL, id_ada);
    kith_edit_t e3[] = {ed("name", KITH_EDIT_SET, fj, 1)};
    add(alice, KITH_KIND_ORG, e3, 1, NULL, id_fjord);
    kith_edit_t e4[] = {ed("name", KITH_EDIT_SET, zed, 1)};
    add(alice, KITH_KIND_PERSON, e4, 1, "@sales", id_zed);
    /* A record of bob's, shared with alice. */
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = "alice";
    memcpy(p.key, alice->id->pk, KITH_PK_LEN);
    p.groups = p.addr = p.last_addr = "";
    ASSERT_OK(kith_node_peer_add(bob, &p, now));
    kith_edit_t e5[] = {ed("name", KITH_EDIT_SET, bobs, 1)};
    add(bob, KITH_KIND_PERSON, e5, 1, "alice", id_bobs);
    pair_deliver(bob, alice, id_bobs);
    ASSERT_OK(kith_roster_new(&roster));
    return 0;
}

static int
teardown(void **state)
{
    kith_roster_free(roster);
    return node_pair_teardown(state);
}

static void
build_and_items(void **state)
{
    (void) state;
    refresh();
    ASSERT_EQ(kith_roster_count(roster), 5);
    ASSERT_EQ(kith__roster_reads(roster), 5);
    kith_roster_query_t q = any();
    /* Sorted by folded name: "ada", "emile", "fjordline", "ingrid odegard", "zed". */
    ASSERT_STREQ(names(&q), "5:ada Lovelace,Émile from Bob,Fjordline,Ingrid Ødegård,Zed");

    q.q = "INGRID";
    json_t *v = run(&q);
    json_t *it = json_array_get(json_object_get(v, "items"), 0);
    char hex[33];
    sodium_bin2hex(hex, sizeof(hex), id_ingrid, KITH_REC_ID_LEN);
    ASSERT_STREQ(json_string_value(json_object_get(it, "id")), hex);
    ASSERT_STREQ(json_string_value(json_object_get(it, "kind")), "person");
    ASSERT_STREQ(json_string_value(json_object_get(it, "org")), "Fjordline");
    ASSERT_STREQ(json_string_value(json_object_get(it, "title")), "CTO");
    ASSERT_EQ(json_array_size(json_object_get(it, "tags")), 2);
    ASSERT_STREQ(json_string_value(json_array_get(json_object_get(it, "tags"), 0)), "VIP");
    ASSERT_STREQ(json_string_value(json_object_get(it, "owner_name")), "you");
    assert_true(json_is_true(json_object_get(it, "mine")));
    ASSERT_STREQ(json_string_value(json_array_get(json_object_get(it, "shared_with"), 0)), "bob");
    ASSERT_STREQ(json_string_value(json_object_get(it, "last_interaction")), "2025-12-01");
    ASSERT_EQ(json_integer_value(json_object_get(it, "influence")), 4);
    ASSERT_EQ(json_integer_value(json_object_get(it, "attitude")), -1);
    ASSERT_STREQ(json_string_value(json_object_get(it, "buying_role")), "champion");
    assert_true(json_is_null(json_object_get(it, "reports_to")));
    assert_true(json_is_false(json_object_get(it, "has_private")));
    ASSERT_EQ(json_integer_value(json_object_get(v, "offset")), 0);
    assert_true(json_object_size(v) == 4); /* total, offset, items, took_us */
    json_decref(v);

    /* Bob's record: not mine, owner bob; nulls where nothing is set. */
    q.q = "emile";
    v = run(&q);
    it = json_array_get(json_object_get(v, "items"), 0);
    ASSERT_STREQ(json_string_value(json_object_get(it, "owner_name")), "bob");
    assert_true(json_is_false(json_object_get(it, "mine")));
    ASSERT_EQ(json_array_size(json_object_get(it, "shared_with")), 0);
    assert_true(json_is_null(json_object_get(it, "org")));
    assert_true(json_is_null(json_object_get(it, "last_interaction")));
    assert_true(json_is_null(json_object_get(it, "influence")));
    json_decref(v);

    /* A private value is searched and flagged. */
    q.q = "ZANZIBAR";
    v = run(&q);
    it = json_array_get(json_object_get(v, "items"), 0);
    ASSERT_STREQ(json_string_value(json_object_get(it, "name")), "ada Lovelace");
    assert_true(json_is_true(json_object_get(it, "has_private")));
    json_decref(v);
}

static void
filters(void **state)
{
    (void) state;
    refresh();
    kith_roster_query_t q = any();
    q.q = "odegard"; /* accents and case */
    ASSERT_STREQ(names(&q), "1:Ingrid Ødegård");
    q.q = "ØDEGÅRD";
    ASSERT_STREQ(names(&q), "1:Ingrid Ødegård");
    q.q = "fjord"; /* the org record and the person at it */
    ASSERT_STREQ(names(&q), "2:Fjordline,Ingrid Ødegård");
    q.q = "nothing like this";
    ASSERT_STREQ(names(&q), "0:");
    q.q = "";
    ASSERT_STREQ(names(&q), "5:ada Lovelace,Émile from Bob,Fjordline,Ingrid Ødegård,Zed");

    q = any();
    q.kind = KITH_KIND_ORG;
    ASSERT_STREQ(names(&q), "1:Fjordline");
    q = any();
    q.tag = "vip"; /* exact, case ignored */
    ASSERT_STREQ(names(&q), "2:ada Lovelace,Ingrid Ødegård");
    q.tag = "vi";
    ASSERT_STREQ(names(&q), "0:");
    q = any();
    q.org = "FJORDLINE";
    ASSERT_STREQ(names(&q), "1:Ingrid Ødegård");
    q.org = "analytical engines";
    ASSERT_STREQ(names(&q), "1:ada Lovelace");
    q.org = "Analytical";
    ASSERT_STREQ(names(&q), "0:");
    q = any();
    q.owner = "me";
    ASSERT_STREQ(names(&q), "4:ada Lovelace,Fjordline,Ingrid Ødegård,Zed");
    q.owner = "bob";
    ASSERT_STREQ(names(&q), "1:Émile from Bob");
    q.owner = "carol";
    ASSERT_STREQ(names(&q), "0:");
    q = any();
    q.shared = "@sales";
    ASSERT_STREQ(names(&q), "1:Zed");
    q.shared = "bob"; /* directly, and as a member of sales */
    ASSERT_STREQ(names(&q), "2:Ingrid Ødegård,Zed");
    q.shared = "@nobody";
    ASSERT_STREQ(names(&q), "0:");
    q = any();
    q.stale_days = 60; /* Ingrid 31 days ago: fresh; Ada years ago; the rest never */
    ASSERT_STREQ(names(&q), "4:ada Lovelace,Émile from Bob,Fjordline,Zed");
    q.stale_days = 10;
    ASSERT_STREQ(names(&q), "5:ada Lovelace,Émile from Bob,Fjordline,Ingrid Ødegård,Zed");
    q.stale_days = 0;
    q.q = "ingrid";
    ASSERT_STREQ(names(&q), "1:Ingrid Ødegård");
    /* Filters combine. */
    q = any();
    q.tag = "VIP";
    q.stale_days = 60;
    q.owner = "me";
    ASSERT_STREQ(names(&q), "1:ada Lovelace");
}

static void
paging(void **state)
{
    (void) state;
    refresh();
    kith_roster_query_t q = any();
    q.limit = 2;
    ASSERT_STREQ(names(&q), "5:ada Lovelace,Émile from Bob");
    q.offset = 2;
    ASSERT_STREQ(names(&q), "5:Fjordline,Ingrid Ødegård");
    q.offset = 4;
    ASSERT_STREQ(names(&q), "5:Zed");
    q.offset = 5;
    ASSERT_STREQ(names(&q), "5:");
    q.offset = KITH_ROSTER_OFFSET_MAX;
    ASSERT_STREQ(names(&q), "5:");
    q.offset = 0;
    q.limit = 0; /* clamped to 1 */
    ASSERT_STREQ(names(&q), "5:ada Lovelace");
    q.limit = SIZE_MAX; /* clamped to 500 */
    ASSERT_STREQ(names(&q), "5:ada Lovelace,Émile from Bob,Fjordline,Ingrid Ødegård,Zed");
    q.offset = 3;
    json_t *v = run(&q);
    ASSERT_EQ(json_integer_value(json_object_get(v, "offset")), 3);
    json_decref(v);
}

static void
edit_delete_refresh(void **state)
{
    (void) state;
    refresh();
    uint64_t reads = kith__roster_reads(roster);
    /* Nothing changed: nothing read. */
    refresh();
    ASSERT_EQ(kith__roster_reads(roster), reads);

    /* One edit: one record read; the rename moves it in the order. */
    static const char *const name[] = {"Aaron Zed"};
    kith_edit_t e = ed("name", KITH_EDIT_SET, name, 1);
    kith_edit_result_t res;
    char err[256];
    ASSERT_OK(kith_node_edit(alice, id_zed, &e, 1, ++now, &res, err, sizeof(err)));
    refresh();
    ASSERT_EQ(kith__roster_reads(roster), reads + 1);
    ASSERT_EQ(kith_roster_count(roster), 5);
    kith_roster_query_t q = any();
    ASSERT_STREQ(names(&q), "5:Aaron Zed,ada Lovelace,Émile from Bob,Fjordline,Ingrid Ødegård");
    q.q = "zed";
    ASSERT_STREQ(names(&q), "1:Aaron Zed");

    /* A delete moves it to the deleted records. */
    ASSERT_OK(kith_node_set_deleted(alice, id_fjord, 1, ++now));
    refresh();
    ASSERT_EQ(kith__roster_reads(roster), reads + 2);
    q = any();
    ASSERT_STREQ(names(&q), "4:Aaron Zed,ada Lovelace,Émile from Bob,Ingrid Ødegård");
    q.deleted = 1;
    ASSERT_STREQ(names(&q), "1:Fjordline");
    q.q = "fjord";
    ASSERT_STREQ(names(&q), "1:Fjordline");
    ASSERT_OK(kith_node_set_deleted(alice, id_fjord, 0, ++now));
    refresh();
    q.q = NULL;
    ASSERT_STREQ(names(&q), "0:");

    /* A change of bob's arrives: that record alone is read. */
    static const char *const t[] = {"Buyer"};
    kith_edit_t e2 = ed("title", KITH_EDIT_SET, t, 1);
    ASSERT_OK(kith_node_edit(bob, id_bobs, &e2, 1, ++now, &res, err, sizeof(err)));
    pair_deliver(bob, alice, id_bobs);
    reads = kith__roster_reads(roster);
    refresh();
    ASSERT_EQ(kith__roster_reads(roster), reads + 1);
    q = any();
    q.q = "buyer";
    ASSERT_STREQ(names(&q), "1:Émile from Bob");

    /* Invalidate: the next refresh reads everything, and shows the same. */
    kith_roster_invalidate(roster);
    reads = kith__roster_reads(roster);
    refresh();
    ASSERT_EQ(kith__roster_reads(roster), reads + 5);
    q = any();
    ASSERT_STREQ(names(&q), "5:Aaron Zed,ada Lovelace,Émile from Bob,Fjordline,Ingrid Ødegård");

    /* A peer renamed: every label may change, so everything is read again. */
    kith_peer_t p;
    ASSERT_OK(kith_store_peer_get(alice->store, "bob", &p));
    free(p.name);
    p.name = strdup("robert");
    ASSERT_OK(kith_store_begin(alice->store));
    ASSERT_OK(kith_node_peer_edit(alice, "bob", &p, ++now));
    ASSERT_OK(kith_store_commit(alice->store));
    kith_peer_close(&p);
    reads = kith__roster_reads(roster);
    refresh();
    ASSERT_EQ(kith__roster_reads(roster), reads + 5);
    q = any();
    q.owner = "robert";
    ASSERT_STREQ(names(&q), "1:Émile from Bob");
    q = any();
    q.shared = "robert";
    ASSERT_STREQ(names(&q), "2:Aaron Zed,Ingrid Ødegård");
}

/* Many changes at once re-sort instead of moving entries one by one; the result is the
 * same as a full load. */
static void
many_changes(void **state)
{
    (void) state;
    refresh();
    char name[32];
    const char *items[] = {name};
    kith_edit_t e = ed("name", KITH_EDIT_SET, items, 1);
    ASSERT_OK(kith_store_begin(alice->store));
    for (int i = 0; i < 300; i++) {
        kith_edit_result_t res;
        char err[256];
        snprintf(name, sizeof(name), "Bulk %03d", 299 - i);
        ASSERT_OK(
            kith__node_add_in_txn(alice, KITH_KIND_PERSON, &e, 1, ++now, &res, err, sizeof(err)));
    }
    ASSERT_OK(kith_store_commit(alice->store));
    uint64_t reads = kith__roster_reads(roster);
    refresh();
    ASSERT_EQ(kith__roster_reads(roster), reads + 300);
    kith_roster_query_t q = any();
    q.q = "bulk";
    q.limit = 3;
    ASSERT_STREQ(names(&q), "300:Bulk 000,Bulk 001,Bulk 002");
    q.offset = 298;
    ASSERT_STREQ(names(&q), "300:Bulk 298,Bulk 299");
    q = any();
    q.limit = 2;
    q.offset = 2;
    ASSERT_STREQ(names(&q), "305:Bulk 000,Bulk 001");
    kith_roster_invalidate(roster);
    refresh();
    ASSERT_EQ(kith_roster_count(roster), 305);
    ASSERT_STREQ(names(&q), "305:Bulk 000,Bulk 001");
    assert_true(kith_roster_mem(roster) > 0);
}

/* The substring test at the edges of a text, and equal names ordered by id. */
static void
edges_and_ties(void **state)
{
    (void) state;
    static const char *const twin[] = {"Twin"}, *const x[] = {"qqxq"};
    kith_edit_t e[] = {ed("name", KITH_EDIT_SET, twin, 1), ed("x-code", KITH_EDIT_SET, x, 1)};
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN];
    add(alice, KITH_KIND_PERSON, e, 1, NULL, a);
    add(alice, KITH_KIND_PERSON, e, 2, NULL, b);
    refresh();
    kith_roster_query_t q = any();
    q.q = "twin";
    json_t *v = run(&q);
    ASSERT_EQ(json_integer_value(json_object_get(v, "total")), 2);
    char first[33], lo[33], hi[33];
    snprintf(
        first, sizeof(first), "%s",
        json_string_value(json_object_get(json_array_get(json_object_get(v, "items"), 0), "id")));
    sodium_bin2hex(lo, sizeof(lo), memcmp(a, b, KITH_REC_ID_LEN) < 0 ? a : b, KITH_REC_ID_LEN);
    sodium_bin2hex(hi, sizeof(hi), memcmp(a, b, KITH_REC_ID_LEN) < 0 ? b : a, KITH_REC_ID_LEN);
    ASSERT_STREQ(first, lo);
    json_decref(v);
    q.offset = 1;
    v = run(&q);
    ASSERT_STREQ(
        json_string_value(json_object_get(json_array_get(json_object_get(v, "items"), 0), "id")),
        hi);
    json_decref(v);
    /* The search text of b is "twin\nqqxq\n" (fields by name: name, x-code), plus
     * nothing else: matches at its start, its end, across a line, and the whole. */
    static const char *const found[] = {"tw",           "q",    "qqxq", "xq", "twin\nqqxq",
                                        "twin\nqqxq\n", "n\nq", "x"};
    static const char *const not_found[] = {"qqxqq", "twin\nqqxq\n\n", "xqq", "q\nt"};
    for (size_t i = 0; i < sizeof(found) / sizeof(found[0]); i++) {
        q = any();
        q.q = found[i];
        q.kind = KITH_KIND_PERSON;
        assert_true(strncmp(names(&q), "1:", 2) == 0 || strncmp(names(&q), "2:", 2) == 0);
        q.tag = NULL;
        q.q = found[i];
        v = run(&q);
        json_t *it;
        size_t k;
        int seen = 0;
        json_array_foreach(json_object_get(v, "items"), k, it)
        {
            seen |= strcmp(json_string_value(json_object_get(it, "id")), lo) == 0 ||
                    strcmp(json_string_value(json_object_get(it, "id")), hi) == 0;
        }
        assert_true(seen);
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++) {
        q = any();
        q.q = not_found[i];
        ASSERT_STREQ(names(&q), "0:");
    }
    ASSERT_OK(kith_node_set_deleted(alice, a, 1, ++now));
    ASSERT_OK(kith_node_set_deleted(alice, b, 1, ++now));
    refresh();
}

static void
hostile(void **state)
{
    (void) state;
    refresh();
    kith_buf_t b;
    kith_buf_init(&b);
    kith_json_t j;
    kith_json_init(&j, &b, 0);
    kith_json_object_begin(&j);
    size_t before = b.len;
    kith_roster_query_t q = any();
    /* Out of range: refused, nothing written. */
    q.kind = 7;
    ASSERT_ERR(kith_roster_query(roster, &q, &j), KITH_EINVAL);
    q.kind = INT_MIN;
    ASSERT_ERR(kith_roster_query(roster, &q, &j), KITH_EINVAL);
    q = any();
    q.deleted = 2;
    ASSERT_ERR(kith_roster_query(roster, &q, &j), KITH_EINVAL);
    q = any();
    q.stale_days = -2;
    ASSERT_ERR(kith_roster_query(roster, &q, &j), KITH_EINVAL);
    q.stale_days = INT_MAX;
    ASSERT_ERR(kith_roster_query(roster, &q, &j), KITH_EINVAL);
    q = any();
    q.offset = SIZE_MAX;
    ASSERT_ERR(kith_roster_query(roster, &q, &j), KITH_EINVAL);
    q.offset = (size_t) KITH_ROSTER_OFFSET_MAX + 1;
    ASSERT_ERR(kith_roster_query(roster, &q, &j), KITH_EINVAL);
    q = any();
    q.stale_days = 1;
    q.today_days = INT64_MIN;
    ASSERT_ERR(kith_roster_query(roster, &q, &j), KITH_EINVAL);
    q.today_days = INT64_MAX;
    ASSERT_ERR(kith_roster_query(roster, &q, &j), KITH_EINVAL);
    char *huge = malloc(1 << 20);
    assert_non_null(huge);
    memset(huge, 'a', (1 << 20) - 1);
    huge[(1 << 20) - 1] = '\0';
    const char **fields[] = {&q.q, &q.tag, &q.org, &q.owner, &q.shared};
    for (size_t i = 0; i < 5; i++) {
        q = any();
        *fields[i] = huge;
        ASSERT_ERR(kith_roster_query(roster, &q, &j), KITH_EINVAL);
    }
    ASSERT_EQ(b.len, before);
    kith_buf_close(&b);
    free(huge);

    /* Odd but valid: empty answers, never a crash. */
    static const char *const odd[] = {"\xff\xfe", "\xc3", "\xe2\x82", "@", "%00", "\n", " "};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        for (size_t k = 0; k < 5; k++) {
            q = any();
            *fields[k] = odd[i];
            json_t *v = run(&q);
            assert_true(json_integer_value(json_object_get(v, "total")) <=
                        (json_int_t) kith_roster_count(roster));
            json_decref(v);
        }
    }
    q = any();
    q.q = "\xff";
    ASSERT_STREQ(names(&q), "0:");
    q = any();
    q.stale_days = KITH_ROSTER_DAYS_MAX;
    q.today_days = -KITH_ROSTER_DAYS_MAX;
    json_t *v = run(&q);
    json_decref(v);
    ASSERT_ERR(kith_roster_query(NULL, &q, &j), KITH_EINVAL);
    kith_roster_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_and_items), cmocka_unit_test(filters),
        cmocka_unit_test(paging),          cmocka_unit_test(edit_delete_refresh),
        cmocka_unit_test(many_changes),    cmocka_unit_test(edges_and_ties),
        cmocka_unit_test(hostile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
