/*
 * Tests for sharing through the application layer (src/node/share.c) on real nodes in
 * temporary directories: peers and live groups, unsharing a peer that a group still
 * reaches, refusals that change nothing.
 */
#include "node_pair.h"

#include <stdlib.h>

#include "node/edit.h"
#include "node/share.h"

static int
in_audience(const uint8_t id[KITH_REC_ID_LEN], const uint8_t key[KITH_PK_LEN])
{
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(alice->store, id, &r));
    int role = kith_record_role(&r, key);
    kith_record_close(&r);
    return role;
}

static void
share_and_unshare(void **state)
{
    (void) state;
    static const char *const name[] = {"Nora"};
    kith_edit_t create = {"name", KITH_EDIT_SET, name, 1};
    kith_edit_result_t res;
    char err[256] = "";
    ASSERT_OK(kith_node_add_record(alice, KITH_KIND_PERSON, &create, 1, NULL, 0, 0, ++now, &res,
                                   err, sizeof(err)));
    const uint8_t *id = res.id;
    kith_share_target_t group = {.is_group = 1}, peer = {0};
    snprintf(group.group, sizeof(group.group), "sales");
    memcpy(peer.key, bob->id->pk, KITH_PK_LEN);

    ASSERT_OK(kith_node_share(alice, id, &group, 1, KITH_ROLE_READER, ++now));
    ASSERT_EQ(in_audience(id, bob->id->pk), KITH_ROLE_READER);
    /* By name too, as editor: the higher role wins. */
    ASSERT_OK(kith_node_share(alice, id, &peer, 1, KITH_ROLE_EDITOR, ++now));
    ASSERT_EQ(in_audience(id, bob->id->pk), KITH_ROLE_EDITOR);

    /* Unsharing bob by name: done, but the group still reaches him. */
    kith_unshare_result_t found[2];
    ASSERT_OK(kith_node_unshare(alice, id, &peer, 1, ++now, found));
    ASSERT_EQ(found[0].removed, 1);
    ASSERT_STREQ(found[0].via, "@sales");
    ASSERT_EQ(in_audience(id, bob->id->pk), KITH_ROLE_READER);
    /* Again: not shared by name any more; nothing changes, and the group is named. */
    ASSERT_ERR(kith_node_unshare(alice, id, &peer, 1, ++now, found), KITH_ENOTFOUND);
    ASSERT_EQ(found[0].removed, 0);
    ASSERT_STREQ(found[0].via, "@sales");
    /* Two targets, one missing: all or nothing. */
    kith_share_target_t both[2] = {group, peer};
    ASSERT_ERR(kith_node_unshare(alice, id, both, 2, ++now, found), KITH_ENOTFOUND);
    ASSERT_EQ(found[0].removed, 1);
    ASSERT_EQ(found[1].removed, 0);
    ASSERT_EQ(in_audience(id, bob->id->pk), KITH_ROLE_READER);
    /* The group itself. */
    ASSERT_OK(kith_node_unshare(alice, id, &group, 1, ++now, found));
    ASSERT_EQ(in_audience(id, bob->id->pk), 0);

    /* A node that does not hold the record cannot share it. */
    ASSERT_ERR(kith_node_share(bob, id, &group, 1, KITH_ROLE_READER, ++now), KITH_ENOTFOUND);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(share_and_unshare),
    };
    return cmocka_run_group_tests(tests, node_pair_setup, node_pair_teardown);
}
