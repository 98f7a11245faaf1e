/*
 * Tests for merging records and finding duplicates (src/node/merge.c) on real nodes in
 * temporary directories: lists merged, single-value conflicts, privacy kept, the refusals
 * (read-only A, B not ours, itself, person into organisation) writing nothing, links
 * repointed, merged_into and restore, the dry run, a peer's view of a merge, and the
 * duplicate rules.
 */
#include "node_pair.h"

#include <sodium.h>
#include <stdlib.h>

#include "node/edit.h"
#include "node/merge.h"

static kith_edit_t
ed(const char *field, kith_edit_mode_t mode, const char *const *items, size_t n)
{
    return (kith_edit_t){field, mode, items, n};
}

/* A new record of node n with the edits; its id goes to id. */
static void
make(kith_node_t *n, int kind, const kith_edit_t *edits, size_t n_edits,
     const kith_share_target_t *to, int role, uint8_t id[KITH_REC_ID_LEN])
{
    kith_edit_result_t res;
    char err[256] = "";
    int rc = kith_node_add_record(n, kind, edits, n_edits, to, to ? 1 : 0, role, ++now, &res, err,
                                  sizeof(err));
    if (rc != KITH_OK) {
        print_error("add: %s\n", err);
    }
    ASSERT_OK(rc);
    memcpy(id, res.id, KITH_REC_ID_LEN);
}

static void
get(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], kith_record_t *r)
{
    kith_record_close(r);
    kith_record_init(r);
    ASSERT_OK(kith_store_record_get(n->store, id, r));
}

static const kith_value_t *
val(const kith_record_t *r, const char *field, int private)
{
    const kith_rfield_t *f = kith_record_field_in(r, field, private);
    return f ? &f->value : NULL;
}

static int
list_has(const kith_value_t *v, const char *item)
{
    for (size_t i = 0; v != NULL && v->type == KITH_V_LIST && i < v->n_items; i++) {
        if (strcmp(v->items[i], item) == 0) {
            return 1;
        }
    }
    return 0;
}

static void
hex(const uint8_t id[KITH_REC_ID_LEN], char out[33])
{
    sodium_bin2hex(out, 33, id, KITH_REC_ID_LEN);
}

/* How many ops record id has on node n: a refused merge must add none. */
static size_t
op_count(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN])
{
    kith_op_list_t ops;
    ASSERT_OK(kith_store_load_ops(n->store, id, &ops));
    size_t k = ops.n;
    kith_op_list_close(&ops);
    return k;
}

/* Copies the non-private ops of record id from one node to another, as a sync with a
 * colleague's node would (private ops never go to a colleague). */
static void
deliver_shared(kith_node_t *from, kith_node_t *to, const uint8_t id[KITH_REC_ID_LEN])
{
    kith_op_list_t ops;
    ASSERT_OK(kith_store_load_ops(from->store, id, &ops));
    const uint8_t **data = calloc(ops.n, sizeof(*data));
    size_t *lens = calloc(ops.n, sizeof(*lens));
    kith_buf_t *bufs = calloc(ops.n, sizeof(*bufs));
    assert_non_null(data);
    size_t k = 0;
    for (size_t i = 0; i < ops.n; i++) {
        kith_buf_init(&bufs[i]);
        if (ops.in[i].op->private) {
            continue;
        }
        ASSERT_OK(kith_store_op_get(from->store, ops.in[i].hash, &bufs[i]));
        data[k] = bufs[i].data;
        lens[k++] = bufs[i].len;
    }
    kith_apply_stats_t st = {0};
    ASSERT_OK(kith_store_begin(to->store));
    ASSERT_OK(kith_store_apply_remote(to->store, to->id->pk, from->id->pk, 0, data, lens, k, &st,
                                      NULL, NULL));
    ASSERT_OK(kith_store_commit(to->store));
    ASSERT_EQ(st.rejected, 0);
    for (size_t i = 0; i < ops.n; i++) {
        kith_buf_close(&bufs[i]);
    }
    free(bufs);
    free(data);
    free(lens);
    kith_op_list_close(&ops);
}

static const kith_merge_conflict_t *
conflict(const kith_merge_result_t *res, const char *field)
{
    for (size_t i = 0; i < res->n_conflicts; i++) {
        if (strcmp(res->conflicts[i].field, field) == 0) {
            return &res->conflicts[i];
        }
    }
    return NULL;
}

static void
lists_conflicts_and_privacy(void **state)
{
    (void) state;
    static const char *const an[] = {"Ada Lovelace"}, *const am[] = {"ada@x.example"},
                             *const at[] = {"t1"}, *const ati[] = {"Countess"}, *const ai[] = {"3"},
                             *const ap[] = {"p-a"};
    static const char *const bn[] = {"Ada L."}, *const bm[] = {"ADA@X.example", "a2@x.example"},
                             *const bt[] = {"t2", "t1"}, *const bti[] = {"Mathematician"},
                             *const bd[] = {"Engines"}, *const bi[] = {"3"}, *const batt[] = {"-1"},
                             *const bpol[] = {"B-SECRET-POLITICS"},
                             *const bph[] = {"+44 B-PRIVATE 1"}, *const bpn[] = {"p-b"},
                             *const btitle2[] = {"B-PRIVATE-TITLE"};
    kith_edit_t ae[] = {
        ed("name", KITH_EDIT_SET, an, 1),      ed("emails", KITH_EDIT_SET, am, 1),
        ed("tags", KITH_EDIT_SET, at, 1),      ed("title", KITH_EDIT_SET, ati, 1),
        ed("influence", KITH_EDIT_SET, ai, 1), ed("x-pets", KITH_EDIT_PRIVATE, ap, 1)};
    kith_edit_t be[] = {
        ed("name", KITH_EDIT_SET, bn, 1),        ed("emails", KITH_EDIT_SET, bm, 2),
        ed("tags", KITH_EDIT_SET, bt, 2),        ed("title", KITH_EDIT_SET, bti, 1),
        ed("department", KITH_EDIT_SET, bd, 1),  ed("influence", KITH_EDIT_SET, bi, 1),
        ed("attitude", KITH_EDIT_SET, batt, 1),  ed("politics", KITH_EDIT_PRIVATE, bpol, 1),
        ed("phones", KITH_EDIT_PRIVATE, bph, 1), ed("x-pets", KITH_EDIT_SET, bpn, 1)};
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN];
    kith_share_target_t to_bob = {0};
    memcpy(to_bob.key, bob->id->pk, KITH_PK_LEN);
    make(alice, KITH_KIND_PERSON, ae, 6, &to_bob, KITH_ROLE_READER, a);
    make(alice, KITH_KIND_PERSON, be, 10, &to_bob, KITH_ROLE_READER, b);
    /* A private title on B too, beside its shared one: a conflict of its own. */
    kith_edit_t bt2 = ed("title", KITH_EDIT_PRIVATE, btitle2, 1);
    char err[256] = "";
    ASSERT_OK(kith_node_edit(alice, b, &bt2, 1, ++now, NULL, err, sizeof(err)));
    deliver_shared(alice, bob, a);
    deliver_shared(alice, bob, b);

    kith_merge_result_t res;
    kith_merge_result_init(&res);
    ASSERT_OK(kith_node_merge(alice, a, b, 0, ++now, &res, err, sizeof(err)));
    kith_record_t r;
    kith_record_init(&r);
    get(alice, a, &r);
    /* Lists: A gains what it lacks; ADA@X.example is ada@x.example. */
    const kith_value_t *m = val(&r, "emails", 0);
    ASSERT_EQ(m->n_items, 2);
    assert_true(list_has(m, "ada@x.example") && list_has(m, "a2@x.example"));
    ASSERT_EQ(val(&r, "tags", 0)->n_items, 2);
    assert_true(list_has(val(&r, "tags", 0), "t2"));
    /* Single values: A's stays where both differ; A takes B's where it has none. */
    ASSERT_STREQ(val(&r, "name", 0)->str, "Ada Lovelace");
    ASSERT_STREQ(val(&r, "title", 0)->str, "Countess");
    ASSERT_STREQ(val(&r, "department", 0)->str, "Engines");
    ASSERT_EQ(val(&r, "attitude", 0)->num, -1);
    ASSERT_EQ(val(&r, "influence", 0)->num, 3);
    assert_null(val(&r, "title", 1));
    const kith_merge_conflict_t *c = conflict(&res, "title");
    assert_non_null(c);
    ASSERT_STREQ(c->kept, "Countess");
    assert_non_null(conflict(&res, "name"));
    assert_null(conflict(&res, "influence")); /* equal: no conflict */
    /* B's private title conflicts too, and is reported as private. */
    size_t titles = 0;
    for (size_t i = 0; i < res.n_conflicts; i++) {
        titles += strcmp(res.conflicts[i].field, "title") == 0;
    }
    ASSERT_EQ(titles, 2);
    /* Private values of B stay private: in A's private layer, never the shared one. */
    ASSERT_STREQ(val(&r, "politics", 1)->str, "B-SECRET-POLITICS");
    assert_null(val(&r, "politics", 0));
    assert_true(list_has(val(&r, "phones", 1), "+44 B-PRIVATE 1"));
    assert_null(val(&r, "phones", 0));
    /* A shared value of B for a field private on A goes private (sticky): A's x-pets
     * is private and differs, so it is a conflict, not a shared value. */
    assert_null(val(&r, "x-pets", 0));
    assert_non_null(conflict(&res, "x-pets"));
    int private_added = 0;
    for (size_t i = 0; i < res.n_added; i++) {
        if (strcmp(res.added[i].field, "politics") == 0) {
            private_added = res.added[i].private;
        }
    }
    ASSERT_EQ(private_added, 1);

    /* B: merged_into A, deleted, its history kept. */
    char ahex[33];
    hex(a, ahex);
    get(alice, b, &r);
    ASSERT_EQ(r.deleted, 1);
    ASSERT_STREQ(val(&r, "merged_into", 0)->str, ahex);
    ASSERT_STREQ(val(&r, "title", 0)->str, "Mathematician");

    /* A colleague holding both sees the merge, and none of the private values. */
    deliver_shared(alice, bob, a);
    deliver_shared(alice, bob, b);
    get(bob, b, &r);
    ASSERT_EQ(r.deleted, 1);
    ASSERT_STREQ(val(&r, "merged_into", 0)->str, ahex);
    get(bob, a, &r);
    ASSERT_STREQ(val(&r, "department", 0)->str, "Engines");
    assert_true(list_has(val(&r, "emails", 0), "a2@x.example"));
    assert_null(kith_record_field(&r, "politics"));
    assert_null(kith_record_field(&r, "phones"));

    /* Restore brings B back; A keeps what it gained. */
    ASSERT_OK(kith_node_set_deleted(alice, b, 0, ++now));
    get(alice, b, &r);
    ASSERT_EQ(r.deleted, 0);
    get(alice, a, &r);
    ASSERT_STREQ(val(&r, "department", 0)->str, "Engines");
    kith_record_close(&r);
    kith_merge_result_close(&res);
}

static void
sticky_private_list(void **state)
{
    (void) state;
    static const char *const an[] = {"Grace"}, *const at[] = {"mine"}, *const bn[] = {"Grace H"},
                             *const bt[] = {"SHARED-TAG"};
    kith_edit_t ae[] = {ed("name", KITH_EDIT_SET, an, 1), ed("tags", KITH_EDIT_PRIVATE, at, 1)};
    kith_edit_t be[] = {ed("name", KITH_EDIT_SET, bn, 1), ed("tags", KITH_EDIT_SET, bt, 1)};
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN];
    make(alice, KITH_KIND_PERSON, ae, 2, NULL, 0, a);
    make(alice, KITH_KIND_PERSON, be, 2, NULL, 0, b);
    kith_merge_result_t res;
    kith_merge_result_init(&res);
    char err[256] = "";
    ASSERT_OK(kith_node_merge(alice, a, b, 0, ++now, &res, err, sizeof(err)));
    kith_record_t r;
    kith_record_init(&r);
    get(alice, a, &r);
    assert_true(list_has(val(&r, "tags", 1), "SHARED-TAG"));
    assert_null(val(&r, "tags", 0));
    ASSERT_EQ(res.n_added, 1);
    ASSERT_EQ(res.added[0].private, 1);
    kith_record_close(&r);
    kith_merge_result_close(&res);
}

static void
refusals_write_nothing(void **state)
{
    (void) state;
    static const char *const n1[] = {"Shared Reader"}, *const n2[] = {"Bob's Own"},
                             *const n3[] = {"Alice Org"}, *const t[] = {"x"};
    kith_share_target_t to_bob = {0};
    memcpy(to_bob.key, bob->id->pk, KITH_PK_LEN);
    uint8_t a_ro[KITH_REC_ID_LEN], b_own[KITH_REC_ID_LEN], org[KITH_REC_ID_LEN];
    kith_edit_t e1[] = {ed("name", KITH_EDIT_SET, n1, 1)};
    kith_edit_t e2[] = {ed("name", KITH_EDIT_SET, n2, 1), ed("tags", KITH_EDIT_SET, t, 1)};
    kith_edit_t e3[] = {ed("name", KITH_EDIT_SET, n3, 1)};
    make(alice, KITH_KIND_PERSON, e1, 1, &to_bob, KITH_ROLE_READER, a_ro);
    deliver_shared(alice, bob, a_ro);
    make(bob, KITH_KIND_PERSON, e2, 2, NULL, 0, b_own);
    make(alice, KITH_KIND_ORG, e3, 1, NULL, 0, org);

    size_t before_a = op_count(bob, a_ro), before_b = op_count(bob, b_own);
    kith_merge_result_t res;
    kith_merge_result_init(&res);
    char err[256] = "";
    /* A read-only on bob: refused, nothing written on either record. */
    ASSERT_ERR(kith_node_merge(bob, a_ro, b_own, 0, ++now, &res, err, sizeof(err)), KITH_EAUTH);
    assert_non_null(strstr(err, "read-only"));
    ASSERT_EQ(op_count(bob, a_ro), before_a);
    ASSERT_EQ(op_count(bob, b_own), before_b);
    kith_record_t r;
    kith_record_init(&r);
    get(bob, b_own, &r);
    ASSERT_EQ(r.deleted, 0);
    /* B not ours: refused (it would have to be deleted). */
    ASSERT_ERR(kith_node_merge(bob, b_own, a_ro, 0, ++now, &res, err, sizeof(err)), KITH_EAUTH);
    assert_non_null(strstr(err, "not yours"));
    ASSERT_EQ(op_count(bob, a_ro), before_a);
    ASSERT_EQ(op_count(bob, b_own), before_b);
    /* Itself, and a person into an organisation (unless forced). */
    ASSERT_ERR(kith_node_merge(bob, b_own, b_own, 0, ++now, &res, err, sizeof(err)), KITH_EINVAL);
    assert_non_null(strstr(err, "itself"));
    uint8_t p[KITH_REC_ID_LEN];
    make(alice, KITH_KIND_PERSON, e3, 1, NULL, 0, p);
    size_t before_org = op_count(alice, org);
    ASSERT_ERR(kith_node_merge(alice, org, p, 0, ++now, &res, err, sizeof(err)), KITH_EINVAL);
    assert_non_null(strstr(err, "organisation"));
    ASSERT_EQ(op_count(alice, org), before_org);
    /* A dry run says what would happen and writes nothing. */
    ASSERT_OK(kith_node_merge(alice, org, p, KITH_MERGE_FORCE | KITH_MERGE_DRY_RUN, ++now, &res,
                              err, sizeof(err)));
    ASSERT_EQ(op_count(alice, org), before_org);
    get(alice, p, &r);
    ASSERT_EQ(r.deleted, 0);
    ASSERT_OK(kith_node_merge(alice, org, p, KITH_MERGE_FORCE, ++now, &res, err, sizeof(err)));
    get(alice, p, &r);
    ASSERT_EQ(r.deleted, 1);
    /* A deleted record cannot be merged again. */
    ASSERT_ERR(kith_node_merge(alice, org, p, KITH_MERGE_FORCE, ++now, &res, err, sizeof(err)),
               KITH_ENOTFOUND);
    kith_record_close(&r);
    kith_merge_result_close(&res);
}

static void
links_repointed(void **state)
{
    (void) state;
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN], c[KITH_REC_ID_LEN], d[KITH_REC_ID_LEN],
        x[KITH_REC_ID_LEN], e[KITH_REC_ID_LEN];
    char ahex[33], bhex[33], xhex[33], rel1[64], rel2[64], rel3[64], rel4[64];
    static const char *const an[] = {"Acme"}, *const bn[] = {"ACME Ltd"}, *const xn[] = {"X"};
    kith_edit_t ea = ed("name", KITH_EDIT_SET, an, 1), eb = ed("name", KITH_EDIT_SET, bn, 1),
                ex = ed("name", KITH_EDIT_SET, xn, 1);
    make(alice, KITH_KIND_ORG, &ea, 1, NULL, 0, a);
    make(alice, KITH_KIND_ORG, &eb, 1, NULL, 0, b);
    make(alice, KITH_KIND_ORG, &ex, 1, NULL, 0, x);
    hex(a, ahex);
    hex(b, bhex);
    hex(x, xhex);
    /* C reports to B; D works at B and knows X; A itself is a "sister" of B. */
    const char *cv[] = {"Carol", bhex};
    kith_edit_t ec[] = {ed("name", KITH_EDIT_SET, cv, 1),
                        ed("reports_to", KITH_EDIT_SET, cv + 1, 1)};
    make(alice, KITH_KIND_PERSON, ec, 2, NULL, 0, c);
    snprintf(rel1, sizeof(rel1), "employer:%s", bhex);
    snprintf(rel2, sizeof(rel2), "friend:%s", xhex);
    const char *dn[] = {"Dan"}, *dr[] = {rel1, rel2};
    kith_edit_t edd[] = {ed("name", KITH_EDIT_SET, dn, 1), ed("relations", KITH_EDIT_SET, dr, 2)};
    make(alice, KITH_KIND_PERSON, edd, 2, NULL, 0, d);
    snprintf(rel3, sizeof(rel3), "sister:%s", bhex);
    const char *ar[] = {rel3};
    kith_edit_t ear = ed("relations", KITH_EDIT_ADD, ar, 1);
    char err[256] = "";
    ASSERT_OK(kith_node_edit(alice, a, &ear, 1, ++now, NULL, err, sizeof(err)));
    /* E is bob's, shared with alice read-only, and reports to B: reported, not changed. */
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = "alice";
    memcpy(p.key, alice->id->pk, KITH_PK_LEN);
    p.groups = p.addr = p.last_addr = "";
    ASSERT_OK(kith_node_peer_add(bob, &p, ++now));
    kith_share_target_t to_alice = {0};
    memcpy(to_alice.key, alice->id->pk, KITH_PK_LEN);
    const char *en[] = {"Eve", bhex};
    kith_edit_t ee[] = {ed("name", KITH_EDIT_SET, en, 1),
                        ed("reports_to", KITH_EDIT_SET, en + 1, 1)};
    make(bob, KITH_KIND_PERSON, ee, 2, &to_alice, KITH_ROLE_READER, e);
    deliver_shared(bob, alice, e);

    kith_merge_result_t res;
    kith_merge_result_init(&res);
    ASSERT_OK(kith_node_merge(alice, a, b, 0, ++now, &res, err, sizeof(err)));
    kith_record_t r;
    kith_record_init(&r);
    get(alice, c, &r);
    ASSERT_STREQ(val(&r, "reports_to", 0)->str, ahex);
    get(alice, d, &r);
    snprintf(rel4, sizeof(rel4), "employer:%s", ahex);
    ASSERT_EQ(val(&r, "relations", 0)->n_items, 2);
    assert_true(list_has(val(&r, "relations", 0), rel4));
    assert_true(list_has(val(&r, "relations", 0), rel2));
    get(alice, a, &r);
    assert_null(val(&r, "relations", 0)); /* A no longer points at B, nor at itself */
    get(alice, e, &r);
    ASSERT_STREQ(val(&r, "reports_to", 0)->str, bhex);
    size_t repointed = 0, reported = 0;
    for (size_t i = 0; i < res.n_refs; i++) {
        repointed += (size_t) res.refs[i].repointed;
        reported += (size_t) !res.refs[i].repointed;
        if (!res.refs[i].repointed) {
            assert_memory_equal(res.refs[i].id, e, KITH_REC_ID_LEN);
        }
    }
    ASSERT_EQ(repointed, 3);
    ASSERT_EQ(reported, 1);
    kith_record_close(&r);
    kith_merge_result_close(&res);
}

/* An editor merges its own record into a colleague's: A gains through the editor's ops,
 * which the owner accepts, and who saw B but not A is reported, never shared with. */
static void
editor_merges_into_anothers(void **state)
{
    (void) state;
    static const char *const an[] = {"Owned By Alice"}, *const bn[] = {"Bob's Copy"},
                             *const bm[] = {"copy@b.example"};
    kith_share_target_t to_bob = {0}, to_dave = {0};
    memcpy(to_bob.key, bob->id->pk, KITH_PK_LEN);
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN];
    kith_edit_t ea = ed("name", KITH_EDIT_SET, an, 1);
    kith_edit_t eb[] = {ed("name", KITH_EDIT_SET, bn, 1), ed("emails", KITH_EDIT_SET, bm, 1)};
    make(alice, KITH_KIND_PERSON, &ea, 1, &to_bob, KITH_ROLE_EDITOR, a);
    deliver_shared(alice, bob, a);
    /* Dave, a peer of bob's only, reads B. */
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = "dave";
    randombytes_buf(p.key, KITH_PK_LEN);
    p.groups = p.addr = p.last_addr = "";
    ASSERT_OK(kith_node_peer_add(bob, &p, ++now));
    memcpy(to_dave.key, p.key, KITH_PK_LEN);
    make(bob, KITH_KIND_PERSON, eb, 2, &to_dave, KITH_ROLE_READER, b);

    kith_merge_result_t res;
    kith_merge_result_init(&res);
    char err[256] = "";
    ASSERT_OK(kith_node_merge(bob, a, b, 0, ++now, &res, err, sizeof(err)));
    ASSERT_EQ(res.a_owned, 0);
    ASSERT_EQ(res.n_missing, 1);
    assert_memory_equal(res.missing[0].target.key, to_dave.key, KITH_PK_LEN);
    ASSERT_EQ(res.missing[0].role, KITH_ROLE_READER);
    /* A's owner is in A's audience, did not see B, and sees what B brought. */
    ASSERT_EQ(res.n_newcomers, 1);
    assert_memory_equal(res.newcomers[0], alice->id->pk, KITH_PK_LEN);
    kith_record_t r;
    kith_record_init(&r);
    get(bob, a, &r);
    ASSERT_EQ(r.n_aud, 1); /* A's audience unchanged: bob only */
    deliver_shared(bob, alice, a);
    get(alice, a, &r);
    assert_true(list_has(val(&r, "emails", 0), "copy@b.example"));
    kith_record_close(&r);
    kith_merge_result_close(&res);
}

/* The pair (x, y), either way round, among dups; its reasons, or -1 if absent. */
static int
pair_reasons(const kith_dup_t *d, size_t n, const uint8_t x[KITH_REC_ID_LEN],
             const uint8_t y[KITH_REC_ID_LEN])
{
    int found = -1;
    for (size_t i = 0; i < n; i++) {
        if ((memcmp(d[i].a, x, KITH_REC_ID_LEN) == 0 && memcmp(d[i].b, y, KITH_REC_ID_LEN) == 0) ||
            (memcmp(d[i].a, y, KITH_REC_ID_LEN) == 0 && memcmp(d[i].b, x, KITH_REC_ID_LEN) == 0)) {
            assert_int_equal(found, -1); /* each pair once */
            found = d[i].reasons;
        }
    }
    return found;
}

static void
duplicates(void **state)
{
    (void) state;
    /* A node of its own, so that the records of the other tests do not pair. */
    kith_node_t *n = pair_make_node("carol");
    uint8_t i1[16], i2[16], i3[16], m1[16], m2[16], l1[16], l2[16], o1[16], o2[16], e1[16], e2[16],
        k1[16], k2[16];
    char orghex[33], rel[64];
    static const char *const
        ingrid1[] = {"Ingrid Ødegård", "Nordlys"},
        *const ingrid2[] = {"  INGRID   odegard ", "NORDLYS"},
        *const ingrid3[] = {"Ingrid Odegard", "Other Co"},
        *const mail1[] = {"one", "X.Y@Example.com"}, *const mail2[] = {"Two", "x.y@example.COM"},
        *const li1[] = {"L1", "https://www.linkedin.com/in/ada-l/"},
        *const li2[] = {"L2", "linkedin.com/in/ADA-L?trk=x"}, *const org1[] = {"Acme"},
        *const org2[] = {"ACME"}, *const emp1[] = {"Per Son"}, *const emp2[] = {"Per Son", "acme"},
        *const kind1[] = {"Shared Box", "box@k.example"};
    kith_edit_t e[2];
    e[0] = ed("name", KITH_EDIT_SET, ingrid1, 1), e[1] = ed("org", KITH_EDIT_SET, ingrid1 + 1, 1);
    make(n, KITH_KIND_PERSON, e, 2, NULL, 0, i1);
    e[0] = ed("name", KITH_EDIT_SET, ingrid2, 1), e[1] = ed("org", KITH_EDIT_SET, ingrid2 + 1, 1);
    make(n, KITH_KIND_PERSON, e, 2, NULL, 0, i2);
    e[0] = ed("name", KITH_EDIT_SET, ingrid3, 1), e[1] = ed("org", KITH_EDIT_SET, ingrid3 + 1, 1);
    make(n, KITH_KIND_PERSON, e, 2, NULL, 0, i3);
    e[0] = ed("name", KITH_EDIT_SET, mail1, 1), e[1] = ed("emails", KITH_EDIT_SET, mail1 + 1, 1);
    make(n, KITH_KIND_PERSON, e, 2, NULL, 0, m1);
    e[0] = ed("name", KITH_EDIT_SET, mail2, 1),
    e[1] = ed("emails", KITH_EDIT_PRIVATE, mail2 + 1, 1);
    make(n, KITH_KIND_PERSON, e, 2, NULL, 0, m2);
    e[0] = ed("name", KITH_EDIT_SET, li1, 1), e[1] = ed("urls", KITH_EDIT_SET, li1 + 1, 1);
    make(n, KITH_KIND_PERSON, e, 2, NULL, 0, l1);
    e[0] = ed("name", KITH_EDIT_SET, li2, 1), e[1] = ed("urls", KITH_EDIT_SET, li2 + 1, 1);
    make(n, KITH_KIND_PERSON, e, 2, NULL, 0, l2);
    /* Two organisations of the same name; a person whose employer is one of them and a
     * person of the same name at "acme" as text. */
    e[0] = ed("name", KITH_EDIT_SET, org1, 1);
    make(n, KITH_KIND_ORG, e, 1, NULL, 0, o1);
    e[0] = ed("name", KITH_EDIT_SET, org2, 1);
    make(n, KITH_KIND_ORG, e, 1, NULL, 0, o2);
    hex(o1, orghex);
    snprintf(rel, sizeof(rel), "employer:%s", orghex);
    const char *rels[] = {rel};
    e[0] = ed("name", KITH_EDIT_SET, emp1, 1), e[1] = ed("relations", KITH_EDIT_SET, rels, 1);
    make(n, KITH_KIND_PERSON, e, 2, NULL, 0, e1);
    e[0] = ed("name", KITH_EDIT_SET, emp2, 1), e[1] = ed("org", KITH_EDIT_SET, emp2 + 1, 1);
    make(n, KITH_KIND_PERSON, e, 2, NULL, 0, e2);
    /* A person and an organisation with one e-mail: never paired. */
    e[0] = ed("name", KITH_EDIT_SET, kind1, 1), e[1] = ed("emails", KITH_EDIT_SET, kind1 + 1, 1);
    make(n, KITH_KIND_PERSON, e, 2, NULL, 0, k1);
    make(n, KITH_KIND_ORG, e, 2, NULL, 0, k2);

    kith_dup_t *d = NULL;
    size_t nd = 0;
    ASSERT_OK(kith_node_duplicates(n, &d, &nd));
    ASSERT_EQ(pair_reasons(d, nd, i1, i2), KITH_DUP_NAME);
    ASSERT_EQ(pair_reasons(d, nd, i1, i3), -1); /* another organisation */
    ASSERT_EQ(pair_reasons(d, nd, i2, i3), -1);
    ASSERT_EQ(pair_reasons(d, nd, m1, m2), KITH_DUP_EMAIL);
    ASSERT_EQ(pair_reasons(d, nd, l1, l2), KITH_DUP_LINKEDIN);
    ASSERT_EQ(pair_reasons(d, nd, o1, o2), KITH_DUP_NAME);
    ASSERT_EQ(pair_reasons(d, nd, e1, e2), KITH_DUP_NAME);
    ASSERT_EQ(pair_reasons(d, nd, k1, k2), -1);
    ASSERT_EQ(nd, 5);
    /* All ours: the older stays (A), the newer is merged away; sorted by A's folded name
     * ("one" between "L1" and "Per Son", where bytes would put it last). */
    for (size_t i = 0; i < nd; i++) {
        assert_true(d[i].mergeable);
    }
    ASSERT_STREQ(d[0].a_name, "Acme");
    ASSERT_STREQ(d[1].a_name, "Ingrid Ødegård");
    ASSERT_STREQ(d[2].a_name, "L1");
    ASSERT_STREQ(d[3].a_name, "one");
    ASSERT_STREQ(d[4].a_name, "Per Son");
    for (size_t i = 0; i < nd; i++) {
        if (memcmp(d[i].a, i1, 16) == 0 || memcmp(d[i].b, i1, 16) == 0) {
            assert_memory_equal(d[i].a, i1, 16);
        }
    }
    kith_dups_free(d, nd);
    /* Merged, they pair no more. */
    kith_merge_result_t res;
    kith_merge_result_init(&res);
    char err[256] = "";
    ASSERT_OK(kith_node_merge(n, m1, m2, 0, ++now, &res, err, sizeof(err)));
    kith_merge_result_close(&res);
    ASSERT_OK(kith_node_duplicates(n, &d, &nd));
    ASSERT_EQ(nd, 4);
    ASSERT_EQ(pair_reasons(d, nd, m1, m2), -1);
    kith_dups_free(d, nd);
    kith_node_close(n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lists_conflicts_and_privacy), cmocka_unit_test(sticky_private_list),
        cmocka_unit_test(refusals_write_nothing),      cmocka_unit_test(links_repointed),
        cmocka_unit_test(editor_merges_into_anothers), cmocka_unit_test(duplicates),
    };
    return cmocka_run_group_tests(tests, node_pair_setup, node_pair_teardown);
}
