/*
 * Session callbacks over the store; see syncenv.h.
 */
#include "net/syncenv.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "crypto/identity.h"
#include "kith/error.h"
#include "model/accept.h"
#include "util/hlc.h"
#include "util/nodeid.h"

#define HELLO_KEY_PREFIX "sync.hello."

static int
find_peer(void *ctx, const uint8_t x25519[32], uint8_t ed[32], char name[65], int *self_peer)
{
    kith_syncenv_t *se = ctx;
    kith_peer_t *peers = NULL;
    size_t n = 0;
    int rc = kith_store_peer_list(se->node->store, &peers, &n);
    if (rc != KITH_OK) {
        return rc;
    }
    rc = KITH_ENOTFOUND;
    for (size_t i = 0; i < n; i++) {
        uint8_t x[KITH_PK_LEN];
        if (kith_identity_x25519_pk(peers[i].key, x) == KITH_OK &&
            memcmp(x, x25519, KITH_PK_LEN) == 0) {
            memcpy(ed, peers[i].key, KITH_PK_LEN);
            snprintf(name, 65, "%s", peers[i].name);
            *self_peer = peers[i].self;
            rc = KITH_OK;
            break;
        }
    }
    kith_peers_free(peers, n);
    return rc;
}

static void
hello_key(const uint8_t peer[static 32], char key[static sizeof(HELLO_KEY_PREFIX) + 64])
{
    memcpy(key, HELLO_KEY_PREFIX, sizeof(HELLO_KEY_PREFIX) - 1);
    sodium_bin2hex(key + sizeof(HELLO_KEY_PREFIX) - 1, 65, peer, 32);
}

int
kith_syncenv_hello_load(kith_store_t *st, const uint8_t peer[static 32], uint64_t *ms)
{
    char key[sizeof(HELLO_KEY_PREFIX) + 64];
    kith_buf_t b;
    kith_buf_init(&b);
    hello_key(peer, key);
    *ms = 0;
    int rc = kith_store_meta_get(st, key, &b);
    if (rc == KITH_ENOTFOUND) {
        rc = KITH_OK;
    } else if (rc == KITH_OK && b.len != 8) {
        rc = KITH_ECORRUPT;
    } else if (rc == KITH_OK) {
        for (int i = 0; i < 8; i++) {
            *ms = (*ms << 8) | b.data[i];
        }
    }
    kith_buf_close(&b);
    return rc;
}

int
kith_syncenv_hello_save(kith_store_t *st, const uint8_t peer[static 32], uint64_t ms)
{
    char key[sizeof(HELLO_KEY_PREFIX) + 64];
    uint8_t enc[8];
    hello_key(peer, key);
    for (int i = 0; i < 8; i++) {
        enc[i] = (uint8_t) (ms >> (56 - 8 * i));
    }
    return kith_store_meta_set(st, key, enc, sizeof(enc));
}

int
kith_syncenv_hello_check(uint64_t newest, uint64_t hello_ms, uint64_t wall_ms)
{
    if (hello_ms <= newest) {
        return KITH_EREPLAY;
    }
    return hello_ms > wall_ms + KITH_MAX_CLOCK_SKEW_MS ? KITH_ERANGE : KITH_OK;
}

/* The store-backed admission (see syncenv.h: not for a listening daemon). */
static int
admit(void *ctx, const uint8_t x25519[32], uint64_t hello_ms, uint8_t ed[32], char name[65],
      int *self_peer)
{
    kith_syncenv_t *se = ctx;
    uint64_t newest = 0;
    int rc = find_peer(ctx, x25519, ed, name, self_peer);
    if (rc == KITH_ENOTFOUND) {
        return KITH_EAUTH;
    }
    if (rc == KITH_OK) {
        rc = kith_syncenv_hello_load(se->node->store, ed, &newest);
    }
    if (rc == KITH_OK) {
        rc = kith_syncenv_hello_check(newest, hello_ms, kith_hlc_now_ms());
    }
    if (rc == KITH_OK) {
        rc = kith_syncenv_hello_save(se->node->store, ed, hello_ms);
    }
    return rc;
}

/* Wall-clock time for message 1, made strictly increasing: two handshakes begun within
 * one millisecond must not look like a replay of each other. */
static uint64_t
hello_clock(void *ctx)
{
    kith_syncenv_t *se = ctx;
    uint64_t t = kith_hlc_now_ms();
    if (t <= se->last_hello_ms) {
        t = se->last_hello_ms + 1;
    }
    se->last_hello_ms = t;
    return t;
}

static int
load_items(void *ctx, const uint8_t peer[32], int self_peer, kith_item_t **items,
           uint8_t (**recs)[16], size_t *n, uint64_t *max_seq)
{
    kith_syncenv_t *se = ctx;
    return kith_store_sync_items(se->node->store, peer, self_peer, items, recs, n, max_seq);
}

static int
load_op(void *ctx, const uint8_t hash[32], kith_buf_t *out)
{
    kith_syncenv_t *se = ctx;
    return kith_store_op_get(se->node->store, hash, out);
}

typedef struct {
    kith_syncenv_t *se;
    const char *peer;
} reject_ctx_t;

static void
on_reject(void *ctx, const kith_op_t *op, const char *why)
{
    reject_ctx_t *r = ctx;
    if (r->se->log == NULL) {
        return;
    }
    char line[256], author[KITH_FINGERPRINT_LEN + 1] = "?";
    if (op != NULL) {
        kith_fingerprint(op->author, author);
    }
    /* Never the op's content: only who wrote it and why it was refused. */
    snprintf(line, sizeof(line), "refused an op from %s (author %s): %s", r->peer, author, why);
    r->se->log(r->se->log_ctx, 1, line);
}

static int
apply_ops(void *ctx, const uint8_t peer[32], int self_peer, const uint8_t *const *ops,
          const size_t *lens, size_t n, kith_apply_stats_t *stats)
{
    kith_syncenv_t *se = ctx;
    char label[KITH_FINGERPRINT_LEN + 1];
    kith_fingerprint(peer, label);
    reject_ctx_t r = {se, label};
    if (se->in_batch) {
        return kith_store_apply_remote(se->node->store, se->node->id->pk, peer, self_peer, ops,
                                       lens, n, stats, on_reject, &r);
    }
    int rc = kith_store_begin(se->node->store);
    if (rc == KITH_OK) {
        rc = kith_store_apply_remote(se->node->store, se->node->id->pk, peer, self_peer, ops, lens,
                                     n, stats, on_reject, &r);
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(se->node->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(se->node->store);
    }
    return rc;
}

static int
ops_since(void *ctx, const uint8_t peer[32], int self_peer, uint64_t after_seq, size_t limit,
          kith_seq_op_cb cb, void *cb_ctx, uint64_t *last_seq)
{
    kith_syncenv_t *se = ctx;
    return kith_store_ops_since(se->node->store, peer, self_peer, after_seq, limit, cb, cb_ctx,
                                last_seq);
}

static int
record_ops(void *ctx, const uint8_t peer[32], int self_peer, const uint8_t rec[16],
           kith_seq_op_cb cb, void *cb_ctx)
{
    kith_syncenv_t *se = ctx;
    return kith_store_record_ops_for(se->node->store, peer, self_peer, rec, cb, cb_ctx);
}

static int
removed_from(void *ctx, const uint8_t peer[32], const uint8_t rec[16])
{
    kith_syncenv_t *se = ctx;
    uint64_t hlc;
    return kith_store_former_get(se->node->store, rec, peer, &hlc) == KITH_OK;
}

static void
log_line(void *ctx, int level, const char *line)
{
    kith_syncenv_t *se = ctx;
    if (se->log != NULL) {
        se->log(se->log_ctx, level, line);
    }
}

void
kith_syncenv_bind(kith_syncenv_t *se, kith_session_env_t *env)
{
    env->ctx = se;
    env->find_peer = find_peer;
    env->admit = admit;
    env->hello_clock = hello_clock;
    env->load_items = load_items;
    env->load_op = load_op;
    env->apply_ops = apply_ops;
    env->ops_since = ops_since;
    env->record_ops = record_ops;
    env->removed_from = removed_from;
    env->log = log_line;
}
