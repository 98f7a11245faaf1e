/*
 * CardDAV (RFC 6352 over WebDAV, RFC 4918, with sync-collection, RFC 6578, and the
 * well-known URL of RFC 6764) for address-book programs on this machine: Thunderbird,
 * Evolution, khard through vdirsyncer, DAVx5 over a tunnel. proto/DAV.md is the spec.
 *
 * The server runs on the daemon's loop (net/httpd.h). The loop thread checks the password
 * and the Host header and routes; everything that reads the store (parsing the request's
 * XML, listing, reading and writing cards through node/cardbook.h) runs as a store job,
 * after which the answer goes out and, if a card was written, the daemon pushes the new
 * ops to peers.
 *
 * Logins: HTTP Basic, user "kith", the node's CardDAV password (kith_cardbook_password()).
 */
#ifndef KITH_DAV_H
#define KITH_DAV_H

#include <stddef.h>
#include <uv.h>

#include "net/httpd.h"
#include "net/job.h"
#include "node/node.h"

#define KITH_DAV_DEFAULT_LISTEN                                                                    \
    "127.0.0.1:5485" /* the daemon's HTTP server: CardDAV and web UI                               \
                      */
#define KITH_DAV_USER     "kith"
#define KITH_DAV_MAX_BODY (1u << 20) /* bytes of a request body: more gets 413 */

typedef struct kith_dav kith_dav_t;

typedef struct {
    const char *listen;          /* "ADDR:PORT" */
    kith_node_t *node;           /* touched only inside store jobs (and at start) */
    void *host;                  /* passed back to the callbacks */
    kith_job_submit_fn submit;   /* queues a store job */
    void (*changed)(void *host); /* a card was written: push */
    void (*log)(void *host, int level, const char *line); /* KITH_LOG_* of daemon.h */
} kith_dav_opts_t;

/* Reads the password from the store (on the calling thread, before the loop runs jobs).
 * The server is someone else's (the daemon's, shared with the web UI): it hands CardDAV's
 * requests to kith_dav_handle(). opts->listen tells whether it listens on loopback. */
int kith_dav_new(kith_dav_t **out, const kith_dav_opts_t *opts, char *errbuf, size_t errcap);
/* A kith_http_handler_fn (ctx: the kith_dav_t). */
void kith_dav_handle(void *ctx, kith_http_exchange_t *x);
/* kith_dav_new() with a server of its own, listening on opts->listen (the unit tests).
 * KITH_EINVAL / KITH_EIO with a sentence. */
int kith_dav_start(kith_dav_t **out, uv_loop_t *loop, const kith_dav_opts_t *opts, char *errbuf,
                   size_t errcap);
/* The port of a server of its own (kith_dav_start()). */
int kith_dav_port(const kith_dav_t *d);
/* The password may have changed (kith dav --reset): read it again (store thread), then
 * use it (loop thread). */
void kith_dav_reload_work(kith_dav_t *d);
void kith_dav_reload_done(kith_dav_t *d);
/* Stops listening; connections close as their answers go out (the loop must run on until
 * they have). NULL does nothing. */
void kith_dav_stop(kith_dav_t *d);
/* Frees the server once the loop has finished (after uv_run() returned). NULL does
 * nothing. */
void kith_dav_free(kith_dav_t *d);

/* Internal (the fuzz target and unit tests): answers one request at once on this thread,
 * as the server would, with the node's password; the answer's status and body out. */
int kith__dav_answer(kith_node_t *n, const kith_http_request_t *r, int *status, kith_buf_t *body);

#endif
