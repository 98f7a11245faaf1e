/*
 * A fixture for the tests of the application layer (src/node/): two nodes, alice and
 * bob, in a fresh temporary directory, with bob a peer of alice's in group "sales".
 * Include it once, in the test file; pass node_pair_setup/teardown to
 * cmocka_run_group_tests.
 */
#ifndef KITH_TEST_NODE_PAIR_H
#define KITH_TEST_NODE_PAIR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "kith/kith.h"
#include "node/node.h"

static char pair_base[64];
static kith_node_t *alice, *bob;
static uint64_t now = 1700000000000ULL; /* the wall clock the tests hand the node, ms */

static kith_node_t *
pair_make_node(const char *name)
{
    char home[160], err[256];
    snprintf(home, sizeof(home), "%s/%s", pair_base, name);
    assert_int_equal(kith_node_create(home, name, NULL, err, sizeof(err)), KITH_OK);
    kith_node_t *n = NULL;
    assert_int_equal(kith_node_open(home, NULL, &n, err, sizeof(err)), KITH_OK);
    return n;
}

/* Copies every op of record id from one node to another, as a sync would. */
static inline void
pair_deliver(kith_node_t *from, kith_node_t *to, const uint8_t id[KITH_REC_ID_LEN])
{
    kith_op_list_t ops;
    ASSERT_OK(kith_store_load_ops(from->store, id, &ops));
    const uint8_t **data = calloc(ops.n, sizeof(*data));
    size_t *lens = calloc(ops.n, sizeof(*lens));
    kith_buf_t *bufs = calloc(ops.n, sizeof(*bufs));
    assert_non_null(data);
    for (size_t i = 0; i < ops.n; i++) {
        kith_buf_init(&bufs[i]);
        ASSERT_OK(kith_store_op_get(from->store, ops.in[i].hash, &bufs[i]));
        data[i] = bufs[i].data;
        lens[i] = bufs[i].len;
    }
    kith_apply_stats_t st = {0};
    ASSERT_OK(kith_store_begin(to->store));
    ASSERT_OK(kith_store_apply_remote(to->store, to->id->pk, from->id->pk, 0, data, lens, ops.n,
                                      &st, NULL, NULL));
    ASSERT_OK(kith_store_commit(to->store));
    assert_true(st.rejected == 0);
    for (size_t i = 0; i < ops.n; i++) {
        kith_buf_close(&bufs[i]);
    }
    free(bufs);
    free(data);
    free(lens);
    kith_op_list_close(&ops);
}

static int
node_pair_setup(void **state)
{
    (void) state;
    if (kith_init() != KITH_OK) {
        return -1;
    }
    snprintf(pair_base, sizeof(pair_base), "/tmp/kith-test-node-XXXXXX");
    if (mkdtemp(pair_base) == NULL) {
        return -1;
    }
    alice = pair_make_node("alice");
    bob = pair_make_node("bob");
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = "bob";
    memcpy(p.key, bob->id->pk, KITH_PK_LEN);
    p.groups = "sales";
    p.addr = p.last_addr = "";
    return kith_node_peer_add(alice, &p, now) == KITH_OK ? 0 : -1;
}

static int
node_pair_teardown(void **state)
{
    (void) state;
    kith_node_close(alice);
    kith_node_close(bob);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", pair_base);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
