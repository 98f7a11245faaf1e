/*
 * Sharing records; see share.h.
 */
#include "node/share.h"

#include <stdio.h>
#include <string.h>

#include "kith/error.h"

/* Opens a transaction on record id if this node owns it. */
static int
begin_owned(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN])
{
    kith_record_t r;
    int rc = kith_store_begin(n->store);
    if (rc != KITH_OK) {
        return rc;
    }
    rc = kith_store_record_get(n->store, id, &r);
    if (rc == KITH_OK && memcmp(r.owner, n->id->pk, KITH_PK_LEN) != 0) {
        rc = KITH_EAUTH;
    }
    kith_record_close(&r);
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
    }
    return rc;
}

/* Recomputes the audience, then commits; or rolls back after a failure. */
static int
finish(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], uint64_t now_ms, int rc)
{
    if (rc == KITH_OK) {
        rc = kith_node_update_audience(n, id, now_ms, NULL);
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
    }
    return rc;
}

int
kith_node_share(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN],
                const kith_share_target_t *targets, size_t n_targets, int role, uint64_t now_ms)
{
    int rc = begin_owned(n, id);
    if (rc != KITH_OK) {
        return rc;
    }
    for (size_t i = 0; rc == KITH_OK && i < n_targets; i++) {
        rc = kith_store_share_set(n->store, id, &targets[i], role);
    }
    return finish(n, id, now_ms, rc);
}

typedef struct {
    const kith_peer_t *peer;
    kith_unshare_result_t *res;
} via_ctx_t;

static int
add_via_group(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const kith_share_target_t *target,
              int role)
{
    (void) id;
    (void) role;
    via_ctx_t *v = ctx;
    if (!target->is_group || !kith_peer_in_group(v->peer, target->group)) {
        return KITH_OK;
    }
    size_t len = strlen(v->res->via);
    snprintf(v->res->via + len, sizeof(v->res->via) - len, "%s@%s", len ? ", " : "", target->group);
    return KITH_OK;
}

/* The groups through which record id reaches the peer with this key, into res->via. */
static int
groups_reaching(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], const uint8_t key[KITH_PK_LEN],
                kith_unshare_result_t *res)
{
    kith_peer_t p;
    int rc = kith_store_peer_get_by_key(n->store, key, &p);
    if (rc != KITH_OK) {
        return rc == KITH_ENOTFOUND ? KITH_OK : rc;
    }
    via_ctx_t v = {&p, res};
    rc = kith_store_share_foreach(n->store, id, add_via_group, &v);
    kith_peer_close(&p);
    return rc;
}

int
kith_node_unshare(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN],
                  const kith_share_target_t *targets, size_t n_targets, uint64_t now_ms,
                  kith_unshare_result_t *results)
{
    int rc = begin_owned(n, id), missing = 0;
    if (rc != KITH_OK) {
        return rc;
    }
    for (size_t i = 0; rc == KITH_OK && i < n_targets; i++) {
        kith_unshare_result_t *res = &results[i];
        memset(res, 0, sizeof(*res));
        rc = kith_store_share_remove(n->store, id, &targets[i], &res->removed);
        /* A peer may get the record through a group as well as, or instead of, by name:
         * the caller says so rather than claim it was not shared, or that it now is not. */
        if (rc == KITH_OK && !targets[i].is_group) {
            rc = groups_reaching(n, id, targets[i].key, res);
        }
        missing |= !res->removed;
    }
    if (rc == KITH_OK && missing) {
        rc = KITH_ENOTFOUND;
    }
    return finish(n, id, now_ms, rc);
}
