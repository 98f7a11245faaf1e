/*
 * Tests for records and history as JSON (src/node/recview.c) on real nodes in temporary
 * directories: a record with private fields, shares with a group and a peer, seen by its
 * owner and by a reader; a history with a private op and an op that took no effect. The
 * output is parsed with jansson and checked member by member.
 */
#include "node_pair.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>

#include "node/edit.h"
#include "node/recview.h"
#include "node/share.h"
#include "util/nodeid.h"

static void
say_rejected(void *ctx, const kith_op_t *op, const char *why)
{
    (void) ctx;
    (void) op;
    print_error("rejected: %s\n", why);
}

/* pair_deliver() of the shared ops only: a sync never sends private ops to another user. */
static void
deliver_shared(kith_node_t *from, kith_node_t *to, const uint8_t id[KITH_REC_ID_LEN])
{
    kith_op_list_t ops;
    ASSERT_OK(kith_store_load_ops(from->store, id, &ops));
    const uint8_t *data[16];
    size_t lens[16], n = 0;
    kith_buf_t bufs[16];
    assert_true(ops.n <= 16);
    for (size_t i = 0; i < ops.n; i++) {
        if (ops.in[i].op->private) {
            continue;
        }
        kith_buf_init(&bufs[n]);
        ASSERT_OK(kith_store_op_get(from->store, ops.in[i].hash, &bufs[n]));
        data[n] = bufs[n].data;
        lens[n] = bufs[n].len;
        n++;
    }
    kith_apply_stats_t st = {0};
    ASSERT_OK(kith_store_begin(to->store));
    ASSERT_OK(kith_store_apply_remote(to->store, to->id->pk, from->id->pk, 0, data, lens, n, &st,
                                      say_rejected, NULL));
    ASSERT_OK(kith_store_commit(to->store));
    ASSERT_EQ(st.rejected, 0);
    for (size_t i = 0; i < n; i++) {
        kith_buf_close(&bufs[i]);
    }
    kith_op_list_close(&ops);
}

static kith_edit_t
ed(const char *field, kith_edit_mode_t mode, const char *const *items, size_t n)
{
    kith_edit_t e = {field, mode, items, n};
    return e;
}

/* Parses what write() puts into a kith_json_t; the caller json_decref()s. */
static json_t *
parse(kith_buf_t *buf)
{
    json_error_t err;
    json_t *v = json_loadb((const char *) buf->data, buf->len, 0, &err);
    if (v == NULL) {
        print_error("bad JSON (%s): %.*s\n", err.text, (int) buf->len, (const char *) buf->data);
    }
    assert_non_null(v);
    return v;
}

static json_t *
record_view(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], int web)
{
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(n->store, id, &r));
    kith_buf_t buf;
    kith_buf_init(&buf);
    kith_json_t j;
    kith_json_init(&j, &buf, 0);
    if (web) {
        kith_recview_record_json_web(n, &r, &j);
    } else {
        kith_recview_record_json(n, &r, 1, &j);
    }
    ASSERT_OK(kith_json_finish(&j));
    json_t *v = parse(&buf);
    kith_buf_close(&buf);
    kith_record_close(&r);
    return v;
}

static const char *
str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void
record_with_private_fields_and_shares(void **state)
{
    (void) state;
    static const char *const name[] = {"Nora Vance"}, *const title[] = {"CFO"},
                             *const secret[] = {"hates golf"}, *const ptitle[] = {"Real boss"};
    kith_edit_t create[] = {
        ed("name", KITH_EDIT_SET, name, 1),
        ed("title", KITH_EDIT_SET, title, 1),
        ed("pain_points", KITH_EDIT_PRIVATE, secret, 1),
    };
    kith_share_target_t group = {.is_group = 1};
    snprintf(group.group, sizeof(group.group), "sales");
    kith_edit_result_t res;
    char err[256] = "";
    ASSERT_OK(kith_node_add_record(alice, KITH_KIND_PERSON, create, 3, &group, 1, KITH_ROLE_READER,
                                   ++now, &res, err, sizeof(err)));
    uint8_t id[KITH_REC_ID_LEN];
    memcpy(id, res.id, KITH_REC_ID_LEN);
    kith_share_target_t peer = {0};
    memcpy(peer.key, bob->id->pk, KITH_PK_LEN);
    ASSERT_OK(kith_node_share(alice, id, &peer, 1, KITH_ROLE_EDITOR, ++now));
    /* A field with both a shared and a private value. */
    kith_edit_t priv = ed("title", KITH_EDIT_PRIVATE, ptitle, 1);
    ASSERT_OK(kith_node_edit(alice, id, &priv, 1, ++now, &res, err, sizeof(err)));

    json_t *v = record_view(alice, id, 0);
    char hex[33];
    sodium_bin2hex(hex, sizeof(hex), id, KITH_REC_ID_LEN);
    ASSERT_STREQ(str(v, "id"), hex);
    ASSERT_STREQ(str(v, "kind"), "person");
    ASSERT_STREQ(str(v, "name"), "Nora Vance");
    ASSERT_STREQ(str(v, "title"), "CFO"); /* the shared value at the top */
    ASSERT_STREQ(str(v, "pain_points"), "hates golf");
    json_t *pf = json_object_get(v, "private_fields");
    assert_true(json_is_array(pf));
    ASSERT_EQ(json_array_size(pf), 1); /* title has a shared value: not listed */
    ASSERT_STREQ(json_string_value(json_array_get(pf, 0)), "pain_points");
    json_t *p = json_object_get(v, "private");
    ASSERT_EQ(json_object_size(p), 2);
    ASSERT_STREQ(str(p, "title"), "Real boss");
    ASSERT_STREQ(str(p, "pain_points"), "hates golf");
    assert_true(json_is_false(json_object_get(v, "deleted")));
    ASSERT_STREQ(str(v, "owner_name"), "you");
    json_t *aud = json_object_get(v, "audience");
    ASSERT_EQ(json_array_size(aud), 1);
    ASSERT_STREQ(str(json_array_get(aud, 0), "name"), "bob");
    ASSERT_STREQ(str(json_array_get(aud, 0), "role"), "editor"); /* the higher role */
    char nid[KITH_NODEID_BUFSIZE];
    kith_nodeid_encode(bob->id->pk, nid);
    ASSERT_STREQ(str(json_array_get(aud, 0), "node_id"), nid);
    /* Shares: the group first, with its members, then the peer. */
    json_t *sh = json_object_get(v, "shares");
    ASSERT_EQ(json_array_size(sh), 2);
    ASSERT_STREQ(str(json_array_get(sh, 0), "target"), "@sales");
    ASSERT_STREQ(str(json_array_get(sh, 0), "role"), "reader");
    json_t *members = json_object_get(json_array_get(sh, 0), "members");
    ASSERT_EQ(json_array_size(members), 1);
    ASSERT_STREQ(str(json_array_get(members, 0), "name"), "bob");
    ASSERT_STREQ(str(json_array_get(sh, 1), "target"), "bob");
    ASSERT_STREQ(str(json_array_get(sh, 1), "role"), "editor");
    ASSERT_STREQ(str(json_array_get(sh, 1), "node_id"), nid);
    assert_true(json_is_null(json_object_get(v, "no_longer_shared_since")));
    assert_non_null(strchr(str(v, "created"), 'T'));
    ASSERT_EQ(str(v, "updated")[strlen(str(v, "updated")) - 1], 'Z');
    /* The CLI's members only: the web's are not there. */
    assert_null(json_object_get(v, "can_edit"));
    assert_null(json_object_get(v, "mine"));
    json_decref(v);

    v = record_view(alice, id, 1);
    assert_true(json_is_true(json_object_get(v, "can_edit")));
    assert_true(json_is_true(json_object_get(v, "mine")));
    ASSERT_EQ(json_array_size(json_object_get(v, "shares")), 2);
    json_decref(v);

    /* Bob, an editor: may edit, does not own, sees no specs and none of alice's private
     * layer; alice is unknown to him. */
    deliver_shared(alice, bob, id);
    v = record_view(bob, id, 1);
    assert_true(json_is_true(json_object_get(v, "can_edit")));
    assert_true(json_is_false(json_object_get(v, "mine")));
    assert_true(json_is_null(json_object_get(v, "shares")));
    ASSERT_EQ(json_object_size(json_object_get(v, "private")), 0);
    assert_null(json_object_get(v, "pain_points"));
    assert_non_null(strstr(str(v, "owner_name"), "unknown node"));
    ASSERT_STREQ(str(json_array_get(json_object_get(v, "audience"), 0), "name"), "you");
    json_decref(v);

    /* Demoted to reader: he may not. */
    ASSERT_OK(kith_node_share(alice, id, &peer, 1, KITH_ROLE_READER, ++now));
    deliver_shared(alice, bob, id);
    v = record_view(bob, id, 1);
    assert_true(json_is_false(json_object_get(v, "can_edit")));
    assert_true(json_is_false(json_object_get(v, "mine")));
    json_decref(v);
}

static json_t *
history_view(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN])
{
    kith_buf_t buf;
    kith_buf_init(&buf);
    kith_json_t j;
    kith_json_init(&j, &buf, 1);
    ASSERT_OK(kith_recview_history_json(n, id, &j));
    ASSERT_OK(kith_json_finish(&j));
    json_t *v = parse(&buf);
    kith_buf_close(&buf);
    assert_true(json_is_array(v));
    return v;
}

static void
history_with_private_and_ineffective_ops(void **state)
{
    (void) state;
    static const char *const name[] = {"Ida Marsh"}, *const note[] = {"owes us"},
                             *const title[] = {"VP"};
    kith_node_t *carol = pair_make_node("carol");
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = "carol";
    memcpy(p.key, carol->id->pk, KITH_PK_LEN);
    p.groups = p.addr = p.last_addr = "";
    ASSERT_OK(kith_node_peer_add(alice, &p, now));
    kith_share_target_t peers[2] = {{0}, {0}};
    memcpy(peers[0].key, bob->id->pk, KITH_PK_LEN);
    memcpy(peers[1].key, carol->id->pk, KITH_PK_LEN);
    kith_edit_t create = ed("name", KITH_EDIT_SET, name, 1);
    kith_edit_result_t res;
    char err[256] = "";
    ASSERT_OK(kith_node_add_record(alice, KITH_KIND_PERSON, &create, 1, peers, 2, KITH_ROLE_EDITOR,
                                   ++now, &res, err, sizeof(err)));
    uint8_t id[KITH_REC_ID_LEN];
    memcpy(id, res.id, KITH_REC_ID_LEN);
    deliver_shared(alice, bob, id);
    deliver_shared(alice, carol, id);
    /* Carol keeps a private note. */
    kith_edit_t priv = ed("pain_points", KITH_EDIT_PRIVATE, note, 1);
    ASSERT_OK(kith_node_edit(carol, id, &priv, 1, ++now, &res, err, sizeof(err)));
    /* Bob edits as an editor and carol gets it; alice, not having seen it, demotes him:
     * his op falls outside the demotion's cut, and at carol it no longer takes effect. */
    kith_edit_t set = ed("title", KITH_EDIT_SET, title, 1);
    ASSERT_OK(kith_node_edit(bob, id, &set, 1, ++now, &res, err, sizeof(err)));
    deliver_shared(bob, carol, id);
    ASSERT_OK(kith_node_share(alice, id, &peers[0], 1, KITH_ROLE_READER, ++now));
    deliver_shared(alice, carol, id);

    json_t *v = history_view(carol, id);
    if (json_array_size(v) != 5) {
        json_dumpf(v, stderr, JSON_INDENT(1));
    }
    /* Created, shared, carol's private note, bob's edit, the demotion. */
    ASSERT_EQ(json_array_size(v), 5);
    int seen_private = 0, seen_ineffective = 0, seen_created = 0, seen_audience = 0;
    char nid[KITH_NODEID_BUFSIZE];
    kith_nodeid_encode(bob->id->pk, nid);
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *op = json_array_get(v, i);
        assert_true(json_is_integer(json_object_get(op, "hlc")));
        ASSERT_EQ(str(op, "time")[10], 'T');
        json_t *changes = json_object_get(op, "changes");
        assert_true(json_is_array(changes));
        if (json_object_get(op, "created") != NULL) {
            seen_created++;
            ASSERT_STREQ(str(op, "created"), "person");
            assert_non_null(strstr(str(op, "author_name"), "unknown node"));
            assert_true(json_is_true(json_object_get(op, "effective")));
            ASSERT_STREQ(str(json_array_get(changes, 0), "field"), "name");
            assert_true(json_is_null(json_object_get(json_array_get(changes, 0), "before")));
            ASSERT_STREQ(str(json_array_get(changes, 0), "after"), "Ida Marsh");
        }
        json_t *aud = json_object_get(op, "audience");
        if (aud != NULL) {
            seen_audience++;
            ASSERT_EQ(json_array_size(aud), 2);
            /* Carol reads it: she is "you" in it. */
            assert_true(strcmp(str(json_array_get(aud, 0), "name"), "you") == 0 ||
                        strcmp(str(json_array_get(aud, 1), "name"), "you") == 0);
        }
        if (json_is_true(json_object_get(op, "private"))) {
            seen_private++;
            ASSERT_STREQ(str(op, "author_name"), "you");
            assert_true(json_is_true(json_object_get(op, "effective")));
            ASSERT_EQ(json_array_size(changes), 1);
            json_t *c = json_array_get(changes, 0);
            ASSERT_STREQ(str(c, "field"), "pain_points");
            assert_true(json_is_null(json_object_get(c, "before")));
            ASSERT_STREQ(str(c, "after"), "owes us");
        }
        if (json_is_false(json_object_get(op, "effective"))) {
            seen_ineffective++;
            ASSERT_STREQ(str(op, "author"), nid);
            assert_non_null(strstr(str(op, "author_name"), "unknown node")); /* not a peer */
            assert_true(json_is_false(json_object_get(op, "private")));
            json_t *c = json_array_get(changes, 0);
            ASSERT_STREQ(str(c, "field"), "title");
            /* It changed nothing: before and after alike unset. */
            assert_true(json_is_null(json_object_get(c, "before")));
            assert_true(json_is_null(json_object_get(c, "after")));
        }
    }
    ASSERT_EQ(seen_created, 1);
    ASSERT_EQ(seen_private, 1);
    ASSERT_EQ(seen_ineffective, 1);
    ASSERT_EQ(seen_audience, 2); /* the share, the demotion */
    json_decref(v);

    /* The record's view agrees: no title; carol, an editor, may edit. */
    v = record_view(carol, id, 1);
    assert_null(json_object_get(v, "title"));
    ASSERT_STREQ(str(v, "pain_points"), "owes us");
    assert_true(json_is_true(json_object_get(v, "can_edit")));
    json_decref(v);
    kith_node_close(carol);
}

static int
count_step(void *ctx, const kith_op_t *op, int eff, const kith_record_t *before,
           const kith_record_t *after)
{
    (void) op;
    (void) eff;
    (void) before;
    (void) after;
    return ++*(int *) ctx == 2 ? KITH_EINVAL : KITH_OK;
}

static void
walk_stops_when_told(void **state)
{
    (void) state;
    static const char *const name[] = {"Walt"}, *const title[] = {"CEO"};
    kith_edit_t create = ed("name", KITH_EDIT_SET, name, 1);
    kith_edit_result_t res;
    char err[256] = "";
    ASSERT_OK(kith_node_add_record(alice, KITH_KIND_PERSON, &create, 1, NULL, 0, 0, ++now, &res,
                                   err, sizeof(err)));
    for (int i = 0; i < 3; i++) {
        kith_edit_t set = ed("title", KITH_EDIT_SET, title, 1);
        ASSERT_OK(kith_node_edit(alice, res.id, &set, 1, ++now, NULL, err, sizeof(err)));
    }
    int steps = 0;
    const kith_recview_walk_t walk = {NULL, count_step};
    ASSERT_ERR(kith_recview_history_walk(alice, res.id, &walk, &steps), KITH_EINVAL);
    ASSERT_EQ(steps, 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_with_private_fields_and_shares),
        cmocka_unit_test(history_with_private_and_ineffective_ops),
        cmocka_unit_test(walk_stops_when_told),
    };
    return cmocka_run_group_tests(tests, node_pair_setup, node_pair_teardown);
}
