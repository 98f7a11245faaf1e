/*
 * The kith daemon: a libuv loop that listens for trusted peers, dials the peers it knows
 * an address for, runs a sync session on each connection, pushes new ops as they appear,
 * and answers the CLI on a control socket in the home directory.
 *
 * Threads: the loop thread only moves bytes and runs timers. Everything that touches the
 * database or does heavy crypto (handshakes, verifying and applying ops, reading ops to
 * send) runs as a job on libuv's thread pool, one job at a time, so a single thread uses
 * the store connection at any moment and the loop never blocks on fsync.
 *
 * One-shot mode (kith sync) uses the same machinery with one outgoing connection, no
 * listener and no control socket, and stops once the first reconciliation completes.
 */
#ifndef KITH_DAEMON_H
#define KITH_DAEMON_H

#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "node/node.h"
#include "sync/session.h"

#define KITH_DEFAULT_PORT    5484
#define KITH_MAX_CONNECTIONS 64        /* concurrent sessions; more are closed at once */
#define KITH_CONN_RX_MAX     (1 << 20) /* bytes buffered from one peer before reading pauses */
#define KITH_CONN_TX_MAX     (1 << 20) /* bytes queued to one peer before producing pauses */
#define KITH_CONTROL_SOCKET  "kith.sock"

enum { KITH_LOG_ERROR = 0, KITH_LOG_INFO = 1, KITH_LOG_DEBUG = 2 };

typedef struct kith_daemon kith_daemon_t;

typedef struct {
    const char *listen; /* "ADDR:PORT"; NULL for the default 0.0.0.0:5484 */
    const char *http;   /* the HTTP server of CardDAV and the web UI, "ADDR:PORT" (net/dav.h,
                         * net/web.h); NULL for 127.0.0.1:5485, "" for none. Never in
                         * one-shot mode. */
    int log_level;      /* KITH_LOG_* */
    int discovery;      /* 1: announce on the LAN and dial peers found there */
    FILE *log;          /* where log lines go (stderr if NULL) */
    uint64_t ban_ms;    /* first back-off of a misbehaving peer, doubled per strike up to
                         * 64 times; 0 for 60 s */
    /* One-shot mode: dial this peer at this address, sync once, stop. */
    int oneshot;
    uint8_t oneshot_peer[32];
    const char *oneshot_addr;
    uint64_t oneshot_timeout_ms;
} kith_daemon_opts_t;

/* Creates a daemon over an open node on loop. The node must outlive the daemon. */
int kith_daemon_new(kith_daemon_t **out, uv_loop_t *loop, kith_node_t *node,
                    const kith_daemon_opts_t *opts, char *errbuf, size_t errcap);
/* Binds the listener and the control socket and starts dialling (or the one-shot dial). */
int kith_daemon_start(kith_daemon_t *d, char *errbuf, size_t errcap);
/* Asks the daemon to stop: sessions get a goodbye, handles close, uv_run() returns. */
void kith_daemon_stop(kith_daemon_t *d);
/* Frees the daemon after uv_run() returned. */
void kith_daemon_free(kith_daemon_t *d);
/* One-shot results: 1 if the sync completed, and the session's figures. */
int kith_daemon_oneshot_result(const kith_daemon_t *d, kith_session_stats_t *stats,
                               uint64_t *elapsed_ms);
/* The port the listener is bound to (useful with port 0). */
int kith_daemon_port(const kith_daemon_t *d);
/* The CardDAV server's port, 0 if it does not run. */
int kith_daemon_http_port(const kith_daemon_t *d);

/* Client side of the control socket, for the CLI: sends one command line ("poke",
 * "status") to the daemon of the home and appends the reply to out. KITH_ENOTFOUND when
 * no daemon is running there. */
int kith_control_call(const char *home, const char *command, kith_buf_t *out);

#endif
