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
    int in_batch; /* 1: the caller holds a transaction; apply_ops joins it */
} kith_syncenv_t;

/* Fills env with callbacks bound to se (which must outlive the sessions using env). */
void kith_syncenv_bind(kith_syncenv_t *se, kith_session_env_t *env);

#endif
