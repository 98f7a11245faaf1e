/*
 * The store side of a sync session: kith_session_env_t callbacks over a node's store.
 *
 * Every callback touches the database, so they run on whichever single thread owns the
 * node's store connection (the daemon's database worker, or the CLI's only thread).
 */
#ifndef KITH_SYNCENV_H
#define KITH_SYNCENV_H

#include "node/node.h"
#include "sync/session.h"

typedef void (*kith_log_fn)(void *ctx, int level, const char *line);

typedef struct {
    kith_node_t *node;
    kith_log_fn log; /* may be NULL */
    void *log_ctx;
    int in_batch;           /* 1: the caller holds a transaction; apply_ops joins it */
    uint64_t last_hello_ms; /* the time put in the last message 1 (hello_clock) */
} kith_syncenv_t;

/*
 * Fills env with callbacks bound to se (which must outlive the sessions using env).
 *
 * Its admit reads the peer list and the newest message-1 time from the store on every
 * call, so its cost grows with the number of peers and differs for a known key: right
 * for the one-shot sync and for tests, wrong for a listening daemon, which replaces it
 * with a lookup in a table it keeps in memory (src/net/daemon.c).
 */
void kith_syncenv_bind(kith_syncenv_t *se, kith_session_env_t *env);

/*
 * Replay protection for message 1 (proto/SYNC.md "Handshake"). The store keeps, per
 * peer, the time of the newest message 1 admitted from it, as a meta entry
 * "sync.hello.<peer key in hex>" holding 8 big-endian bytes (no schema change).
 *
 * kith_syncenv_hello_load: *ms receives it, 0 when none; KITH_OK, KITH_EDB, or
 * KITH_ECORRUPT for an entry of another size. kith_syncenv_hello_save: stores ms.
 */
int kith_syncenv_hello_load(kith_store_t *st, const uint8_t peer[static 32], uint64_t *ms);
int kith_syncenv_hello_save(kith_store_t *st, const uint8_t peer[static 32], uint64_t ms);

/*
 * The admission rule for a message 1 of time hello_ms from a peer whose newest admitted
 * message 1 had time newest, at our wall clock wall_ms: KITH_OK when it is newer and not
 * more than KITH_MAX_CLOCK_SKEW_MS ahead of our clock; KITH_EREPLAY when not newer (hello_ms
 * 0 never is); KITH_ERANGE when too far ahead (a peer whose clock jumped ahead would
 * otherwise lock itself out, persistently, until its clock got there again).
 */
int kith_syncenv_hello_check(uint64_t newest, uint64_t hello_ms, uint64_t wall_ms);

#endif
