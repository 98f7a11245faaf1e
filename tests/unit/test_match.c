/*
 * Tests for import matching (src/node/match.c) on real nodes: the kith UID form, which
 * record a card matches (UID first and alone, then e-mails and LinkedIn URLs together,
 * ambiguity), and the update of a matched record (lists merge, a value equal to either
 * layer is no change, sticky privacy, records shared read-only left alone).
 */
#include "node_pair.h"

#include <stdlib.h>

#include "node/edit.h"
#include "node/match.h"

static kith_edit_t
ed(const char *field, kith_edit_mode_t mode, const char *const *items, size_t n)
{
    return (kith_edit_t){field, mode, items, n};
}

/* An incoming card as the import builds it: fields of an op. */
static void
op_str(kith_op_t *op, const char *name, const char *value)
{
    kith_value_t v = {0};
    ASSERT_OK(kith_value_set_str(&v, value, strlen(value)));
    ASSERT_OK(kith_op_set_field(op, name, &v));
    kith_value_clear(&v);
}

static void
op_list(kith_op_t *op, const char *name, const char *a, const char *b)
{
    kith_value_t v = {0};
    ASSERT_OK(kith_value_list_append(&v, a, strlen(a)));
    if (b != NULL) {
        ASSERT_OK(kith_value_list_append(&v, b, strlen(b)));
    }
    ASSERT_OK(kith_op_set_field(op, name, &v));
    kith_value_clear(&v);
}

static void
add(kith_node_t *n, const kith_edit_t *e, size_t n_e, const kith_share_target_t *to, int role,
    uint8_t id[KITH_REC_ID_LEN])
{
    kith_edit_result_t res;
    char err[256] = "";
    ASSERT_OK(kith_node_add_record(n, KITH_KIND_PERSON, e, n_e, to, to ? 1 : 0, role, ++now, &res,
                                   err, sizeof(err)));
    memcpy(id, res.id, KITH_REC_ID_LEN);
}

static void
uid_form(void **state)
{
    (void) state;
    uint8_t id[KITH_REC_ID_LEN], back[KITH_REC_ID_LEN];
    for (size_t i = 0; i < KITH_REC_ID_LEN; i++) {
        id[i] = (uint8_t) (0xf0 + i);
    }
    char uid[KITH_MATCH_UID_LEN + 1];
    kith_match_uid_format(id, uid);
    ASSERT_STREQ(uid, "urn:kith:f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    ASSERT_OK(kith_match_uid_parse(uid, back));
    assert_memory_equal(id, back, KITH_REC_ID_LEN);
    ASSERT_OK(kith_match_uid_parse("URN:KITH:F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF", back));
    assert_memory_equal(id, back, KITH_REC_ID_LEN);
    static const char *const bad[] = {
        "",
        "urn:kith:",
        "urn:kith:f0f1f2f3f4f5f6f7f8f9fafbfcfdfef",   /* 31 digits */
        "urn:kith:f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff0", /* 33 */
        "urn:kith:g0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",  /* not hex */
        "urn:uuid:f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
        "urn:kith:f0f1f2f3f4f5f6f7f8f9fafbfcfdfe\xff\xff",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ASSERT_ERR(kith_match_uid_parse(bad[i], back), KITH_EINVAL);
    }
    ASSERT_ERR(kith_match_uid_parse(NULL, back), KITH_EINVAL);
}

static void
matching_rules(void **state)
{
    (void) state;
    static const char *const na[] = {"Ada"}, *const ma[] = {"ada@x.example"},
                             *const ua[] = {"https://www.linkedin.com/in/ada-l/"},
                             *const nb[] = {"Bea"}, *const mb[] = {"bea@x.example"},
                             *const gb[] = {"google-1234"}, *const pm[] = {"Secret@P.example"};
    kith_edit_t ea[] = {ed("name", KITH_EDIT_SET, na, 1), ed("emails", KITH_EDIT_SET, ma, 1),
                        ed("urls", KITH_EDIT_SET, ua, 1)};
    kith_edit_t eb[] = {ed("name", KITH_EDIT_SET, nb, 1), ed("emails", KITH_EDIT_SET, mb, 1),
                        ed(KITH_MATCH_UID_FIELD, KITH_EDIT_SET, gb, 1),
                        ed("emails", KITH_EDIT_PRIVATE, pm, 1)};
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN], got[KITH_REC_ID_LEN];
    add(alice, ea, 3, NULL, 0, a);
    /* emails twice in one edit is refused: the private one goes in a second edit. */
    add(alice, eb, 3, NULL, 0, b);
    kith_edit_result_t res;
    char err[256] = "";
    ASSERT_OK(kith_node_edit(alice, b, &eb[3], 1, ++now, &res, err, sizeof(err)));

    kith_match_index_t *ix = NULL;
    ASSERT_OK(kith_match_index_new(&ix));
    ASSERT_OK(kith_match_index_load(ix, alice));
    char uid_a[KITH_MATCH_UID_LEN + 1];
    kith_match_uid_format(a, uid_a);
    size_t n_found = 0;

    /* Nothing in common: no match. */
    kith_op_t c;
    kith_op_init(&c);
    op_list(&c, "emails", "someone@else.example", NULL);
    ASSERT_EQ(kith_match_find(ix, NULL, &c, got, &n_found), KITH_MATCH_NONE);
    ASSERT_EQ(n_found, 0);
    /* A kith UID this node does not hold matches nothing by itself. */
    ASSERT_EQ(kith_match_find(ix, "urn:kith:00000000000000000000000000000000", &c, got, NULL),
              KITH_MATCH_NONE);
    kith_op_close(&c);

    /* The UID decides alone, even against an e-mail of another record. */
    kith_op_init(&c);
    op_list(&c, "emails", "bea@x.example", NULL);
    ASSERT_EQ(kith_match_find(ix, uid_a, &c, got, &n_found), KITH_MATCH_ONE);
    assert_memory_equal(got, a, KITH_REC_ID_LEN);
    /* Without it, the e-mail: case is ignored. */
    kith_op_close(&c);
    kith_op_init(&c);
    op_list(&c, "emails", "BEA@X.Example", NULL);
    ASSERT_EQ(kith_match_find(ix, NULL, &c, got, NULL), KITH_MATCH_ONE);
    assert_memory_equal(got, b, KITH_REC_ID_LEN);
    kith_op_close(&c);
    /* A private e-mail counts too. */
    kith_op_init(&c);
    op_list(&c, "emails", "secret@p.example", NULL);
    ASSERT_EQ(kith_match_find(ix, NULL, &c, got, NULL), KITH_MATCH_ONE);
    assert_memory_equal(got, b, KITH_REC_ID_LEN);
    kith_op_close(&c);
    /* Another program's UID, kept in x-vcard-uid. */
    kith_op_init(&c);
    ASSERT_EQ(kith_match_find(ix, "google-1234", &c, got, NULL), KITH_MATCH_ONE);
    assert_memory_equal(got, b, KITH_REC_ID_LEN);
    ASSERT_EQ(kith_match_find(ix, "google-12345", &c, got, NULL), KITH_MATCH_NONE);
    kith_op_close(&c);
    /* A card another node exported: its UID is unknown here, its x-vcard-uid is ours. */
    kith_op_init(&c);
    op_str(&c, KITH_MATCH_UID_FIELD, uid_a);
    ASSERT_EQ(kith_match_find(ix, "urn:kith:11111111111111111111111111111111", &c, got, NULL),
              KITH_MATCH_ONE);
    assert_memory_equal(got, a, KITH_REC_ID_LEN);
    kith_op_close(&c);
    /* The LinkedIn URL, however written; any other URL is no key. */
    kith_op_init(&c);
    op_list(&c, "urls", "http://LinkedIn.com/in/ada-l?trk=x", NULL);
    ASSERT_EQ(kith_match_find(ix, NULL, &c, got, NULL), KITH_MATCH_ONE);
    assert_memory_equal(got, a, KITH_REC_ID_LEN);
    kith_op_close(&c);
    kith_op_init(&c);
    op_list(&c, "urls", "https://www.linkedin.com/in/ada-lovelace", NULL);
    ASSERT_EQ(kith_match_find(ix, NULL, &c, got, NULL), KITH_MATCH_NONE);
    kith_op_close(&c);

    /* Two records reached: ambiguous, by e-mails or by an e-mail and a URL. */
    kith_op_init(&c);
    op_list(&c, "emails", "ada@x.example", "bea@x.example");
    ASSERT_EQ(kith_match_find(ix, NULL, &c, got, &n_found), KITH_MATCH_AMBIGUOUS);
    ASSERT_EQ(n_found, 2);
    kith_op_close(&c);
    kith_op_init(&c);
    op_list(&c, "emails", "bea@x.example", NULL);
    op_list(&c, "urls", "https://linkedin.com/in/ada-l", NULL);
    ASSERT_EQ(kith_match_find(ix, NULL, &c, got, &n_found), KITH_MATCH_AMBIGUOUS);
    ASSERT_EQ(n_found, 2);
    /* An unknown UID does not settle it. */
    ASSERT_EQ(kith_match_find(ix, "other-uid", &c, got, &n_found), KITH_MATCH_AMBIGUOUS);
    kith_op_close(&c);

    /* A record the import is creating is found by a later card of the same file. */
    uint8_t fresh[KITH_REC_ID_LEN];
    memset(fresh, 0x42, sizeof(fresh));
    kith_op_init(&c);
    op_list(&c, "emails", "new@x.example", NULL);
    ASSERT_OK(kith_match_index_op(ix, fresh, &c));
    kith_op_close(&c);
    kith_op_init(&c);
    op_list(&c, "emails", "NEW@x.example", NULL);
    ASSERT_EQ(kith_match_find(ix, NULL, &c, got, NULL), KITH_MATCH_ONE);
    assert_memory_equal(got, fresh, KITH_REC_ID_LEN);
    kith_op_close(&c);
    kith_match_index_free(ix);
    kith_match_index_free(NULL);
}

/* Runs kith_match_update() on record id of n in a transaction of its own. */
static kith_match_outcome_t
update(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], const kith_op_t *incoming)
{
    kith_record_t cur;
    kith_match_outcome_t out = KITH_MATCH_UNCHANGED;
    char err[256] = "";
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_store_record_get(n->store, id, &cur));
    ASSERT_OK(kith_match_update(n, &cur, incoming, ++now, &out, err, sizeof(err)));
    ASSERT_OK(kith_store_commit(n->store));
    kith_record_close(&cur);
    return out;
}

static uint64_t
n_ops(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN])
{
    kith_op_list_t ops;
    ASSERT_OK(kith_store_load_ops(n->store, id, &ops));
    uint64_t count = ops.n;
    kith_op_list_close(&ops);
    return count;
}

static void
updating(void **state)
{
    (void) state;
    static const char *const name[] = {"Cleo"}, *const mails[] = {"cleo@x.example"},
                             *const title[] = {"CTO"}, *const ptitle[] = {"Boss (really)"},
                             *const infl[] = {"3"};
    kith_edit_t create[] = {
        ed("name", KITH_EDIT_SET, name, 1), ed("emails", KITH_EDIT_SET, mails, 1),
        ed("title", KITH_EDIT_SET, title, 1), ed("influence", KITH_EDIT_SET, infl, 1)};
    uint8_t id[KITH_REC_ID_LEN];
    add(alice, create, 4, NULL, 0, id);
    kith_edit_t priv = ed("title", KITH_EDIT_PRIVATE, ptitle, 1);
    kith_edit_result_t res;
    char err[256] = "";
    ASSERT_OK(kith_node_edit(alice, id, &priv, 1, ++now, &res, err, sizeof(err)));
    uint64_t ops0 = n_ops(alice, id);

    /* What the record holds, in either layer, is no change: no op. */
    kith_op_t c;
    kith_op_init(&c);
    op_str(&c, "name", "Cleo");
    op_list(&c, "emails", "CLEO@x.example", NULL);
    op_str(&c, "title", "CTO");
    kith_value_t three = {0};
    kith_value_set_int(&three, 3);
    ASSERT_OK(kith_op_set_field(&c, "influence", &three));
    ASSERT_EQ(update(alice, id, &c), KITH_MATCH_UNCHANGED);
    kith_op_close(&c);
    /* Nor is the record's own UID carried back in x-vcard-uid. */
    char self[KITH_MATCH_UID_LEN + 1];
    kith_match_uid_format(id, self);
    kith_op_init(&c);
    op_str(&c, KITH_MATCH_UID_FIELD, self);
    ASSERT_EQ(update(alice, id, &c), KITH_MATCH_UNCHANGED);
    kith_op_close(&c);
    kith_op_init(&c);
    op_str(&c, "title", "Boss (really)");
    ASSERT_EQ(update(alice, id, &c), KITH_MATCH_UNCHANGED);
    kith_op_close(&c);
    ASSERT_EQ(n_ops(alice, id), ops0);

    /* A new item is added alone; a differing value is replaced, in its sticky layer. */
    kith_op_init(&c);
    op_list(&c, "emails", "cleo@x.example", "cleo@home.example");
    op_str(&c, "title", "CEO");
    op_str(&c, "note", "met at the fair");
    ASSERT_EQ(update(alice, id, &c), KITH_MATCH_UPDATED);
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(alice->store, id, &r));
    const kith_rfield_t *f = kith_record_field_in(&r, "emails", 0);
    ASSERT_EQ(f->value.n_items, 2);
    ASSERT_STREQ(f->value.items[1], "cleo@home.example");
    ASSERT_STREQ(kith_record_field_in(&r, "title", 1)->value.str, "CEO");
    ASSERT_STREQ(kith_record_field_in(&r, "title", 0)->value.str, "CTO");
    ASSERT_STREQ(kith_record_field_in(&r, "note", 0)->value.str, "met at the fair");
    kith_record_close(&r);
    /* The same card again: nothing. */
    uint64_t ops1 = n_ops(alice, id);
    ASSERT_EQ(update(alice, id, &c), KITH_MATCH_UNCHANGED);
    ASSERT_EQ(n_ops(alice, id), ops1);
    kith_op_close(&c);
    kith_value_clear(&three);
}

static void
read_only_left_alone(void **state)
{
    (void) state;
    static const char *const name[] = {"Dora"}, *const mails[] = {"dora@x.example"};
    kith_edit_t create[] = {ed("name", KITH_EDIT_SET, name, 1),
                            ed("emails", KITH_EDIT_SET, mails, 1)};
    kith_share_target_t to_bob = {0};
    memcpy(to_bob.key, bob->id->pk, KITH_PK_LEN);
    uint8_t id[KITH_REC_ID_LEN];
    add(alice, create, 2, &to_bob, KITH_ROLE_READER, id);
    pair_deliver(alice, bob, id);
    uint64_t ops0 = n_ops(bob, id);

    kith_op_t c;
    kith_op_init(&c);
    op_list(&c, "emails", "dora@x.example", NULL);
    ASSERT_EQ(update(bob, id, &c), KITH_MATCH_UNCHANGED);
    op_str(&c, "title", "Editor in chief");
    ASSERT_EQ(update(bob, id, &c), KITH_MATCH_READ_ONLY);
    kith_op_close(&c);
    ASSERT_EQ(n_ops(bob, id), ops0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uid_form),
        cmocka_unit_test(matching_rules),
        cmocka_unit_test(updating),
        cmocka_unit_test(read_only_left_alone),
    };
    return cmocka_run_group_tests(tests, node_pair_setup, node_pair_teardown);
}
