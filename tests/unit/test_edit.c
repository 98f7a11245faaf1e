/*
 * Tests for the application layer's record changes (src/node/edit.c) on real nodes in
 * temporary directories: sticky privacy, list elements, publishing, the refusal of
 * shared changes a node may not make, deletion and restore, and that a refused change
 * writes nothing.
 */
#include "node_pair.h"

#include <stdlib.h>

#include "node/edit.h"

/* One edit of field in mode with up to two items. */
static kith_edit_t
ed(const char *field, kith_edit_mode_t mode, const char *const *items, size_t n)
{
    return (kith_edit_t){field, mode, items, n};
}

static const kith_rfield_t *
layer(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], kith_record_t *r, const char *field,
      int private)
{
    kith_record_close(r);
    ASSERT_OK(kith_store_record_get(n->store, id, r));
    return kith_record_field_in(r, field, private);
}

static void
sticky_privacy_and_lists(void **state)
{
    (void) state;
    static const char *const name[] = {"Ingrid"}, *const pol[] = {"rivalry"},
                             *const pol2[] = {"alliance"}, *const mails[] = {"a@x.example"},
                             *const more[] = {"b@x.example"}, *const priv[] = {"p@x.example"};
    kith_edit_t create[] = {ed("name", KITH_EDIT_SET, name, 1),
                            ed("emails", KITH_EDIT_SET, mails, 1),
                            ed("politics", KITH_EDIT_PRIVATE, pol, 1)};
    kith_edit_result_t res;
    char err[256] = "";
    ASSERT_OK(kith_node_add_record(alice, KITH_KIND_PERSON, create, 3, NULL, 0, 0, ++now, &res, err,
                                   sizeof(err)));
    uint8_t id[KITH_REC_ID_LEN];
    memcpy(id, res.id, KITH_REC_ID_LEN);
    kith_record_t r;
    kith_record_init(&r);
    assert_non_null(layer(alice, id, &r, "politics", 1));
    assert_null(layer(alice, id, &r, "politics", 0));

    /* --set on a private field stays private, and says so. */
    kith_edit_t set = ed("politics", KITH_EDIT_SET, pol2, 1);
    ASSERT_OK(kith_node_edit(alice, id, &set, 1, ++now, &res, err, sizeof(err)));
    ASSERT_EQ(res.shared, 0);
    ASSERT_EQ(res.kept_private, 1);
    ASSERT_STREQ(res.first_kept, "politics");
    ASSERT_STREQ(layer(alice, id, &r, "politics", 1)->value.str, "alliance");
    assert_null(layer(alice, id, &r, "politics", 0));

    /* A private address beside a shared one; --add then goes private, never copying. */
    kith_edit_t p = ed("emails", KITH_EDIT_PRIVATE, priv, 1);
    ASSERT_OK(kith_node_edit(alice, id, &p, 1, ++now, &res, err, sizeof(err)));
    kith_edit_t add = ed("emails", KITH_EDIT_ADD, more, 1);
    ASSERT_OK(kith_node_edit(alice, id, &add, 1, ++now, &res, err, sizeof(err)));
    ASSERT_EQ(res.kept_private, 1);
    ASSERT_EQ(layer(alice, id, &r, "emails", 0)->value.n_items, 1);
    ASSERT_EQ(layer(alice, id, &r, "emails", 1)->value.n_items, 2);

    /* Publishing one item moves it alone. */
    kith_edit_t pub = ed("emails", KITH_EDIT_PUBLISH, more, 1);
    ASSERT_OK(kith_node_edit(alice, id, &pub, 1, ++now, &res, err, sizeof(err)));
    ASSERT_EQ(res.shared, 1);
    const kith_rfield_t *f = layer(alice, id, &r, "emails", 0);
    ASSERT_EQ(f->value.n_items, 2);
    ASSERT_STREQ(f->value.items[1], "b@x.example");
    ASSERT_EQ(layer(alice, id, &r, "emails", 1)->value.n_items, 1);

    /* Removing what is not there, or publishing what is not private: refused, nothing
     * written. */
    uint64_t before = r.updated;
    kith_edit_t rm = ed("emails", KITH_EDIT_REMOVE, pol, 1);
    assert_int_not_equal(kith_node_edit(alice, id, &rm, 1, ++now, &res, err, sizeof(err)), KITH_OK);
    kith_edit_t bad = ed("title", KITH_EDIT_PUBLISH, NULL, 0);
    ASSERT_ERR(kith_node_edit(alice, id, &bad, 1, ++now, &res, err, sizeof(err)), KITH_ENOTFOUND);
    assert_non_null(strstr(err, "no private value"));
    layer(alice, id, &r, "emails", 0);
    assert_true(r.updated == before);

    /* Publishing a whole field. */
    kith_edit_t whole = ed("politics", KITH_EDIT_PUBLISH, NULL, 0);
    ASSERT_OK(kith_node_edit(alice, id, &whole, 1, ++now, &res, err, sizeof(err)));
    ASSERT_STREQ(layer(alice, id, &r, "politics", 0)->value.str, "alliance");
    assert_null(layer(alice, id, &r, "politics", 1));
    kith_record_close(&r);
}

static void
readers_keep_private_notes(void **state)
{
    (void) state;
    static const char *const name[] = {"Lena"}, *const note[] = {"my note"},
                             *const title[] = {"Boss"};
    kith_share_target_t to_bob = {0};
    memcpy(to_bob.key, bob->id->pk, KITH_PK_LEN);
    kith_edit_t create = ed("name", KITH_EDIT_SET, name, 1);
    kith_edit_result_t res;
    char err[256] = "";
    ASSERT_OK(kith_node_add_record(alice, KITH_KIND_PERSON, &create, 1, &to_bob, 1,
                                   KITH_ROLE_READER, ++now, &res, err, sizeof(err)));
    uint8_t id[KITH_REC_ID_LEN];
    memcpy(id, res.id, KITH_REC_ID_LEN);
    pair_deliver(alice, bob, id);

    /* A reader: a shared change is refused and writes nothing; a private note is fine. */
    kith_edit_t shared = ed("title", KITH_EDIT_SET, title, 1);
    ASSERT_ERR(kith_node_edit(bob, id, &shared, 1, ++now, &res, err, sizeof(err)), KITH_EAUTH);
    assert_non_null(strstr(err, "read-only"));
    kith_edit_t mine = ed("note", KITH_EDIT_PRIVATE, note, 1);
    ASSERT_OK(kith_node_edit(bob, id, &mine, 1, ++now, &res, err, sizeof(err)));
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(bob->store, id, &r));
    ASSERT_STREQ(kith_record_field_in(&r, "note", 1)->value.str, "my note");
    assert_null(kith_record_field(&r, "title"));
    kith_record_close(&r);

    /* Only the owner deletes and restores; the private note outlives both. */
    ASSERT_ERR(kith_node_set_deleted(bob, id, 1, ++now), KITH_EAUTH);
    ASSERT_OK(kith_node_set_deleted(alice, id, 1, ++now));
    pair_deliver(alice, bob, id);
    ASSERT_OK(kith_store_record_get(bob->store, id, &r));
    ASSERT_EQ(r.deleted, 1);
    ASSERT_STREQ(kith_record_field_in(&r, "note", 1)->value.str, "my note");
    kith_record_close(&r);
    ASSERT_OK(kith_node_set_deleted(alice, id, 0, ++now));
    pair_deliver(alice, bob, id);
    ASSERT_OK(kith_store_record_get(bob->store, id, &r));
    ASSERT_EQ(r.deleted, 0);
    kith_record_close(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sticky_privacy_and_lists),
        cmocka_unit_test(readers_keep_private_notes),
    };
    return cmocka_run_group_tests(tests, node_pair_setup, node_pair_teardown);
}
