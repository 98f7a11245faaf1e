/*
 * The local web UI and its JSON API, on the daemon's HTTP server (net/httpd.h), beside
 * CardDAV. proto/WEB.md is the spec.
 *
 * The loop thread does what needs no store: the Host, Origin and CSRF checks, logins and
 * sessions (in memory only), the page's files (compiled in, net/assets.h), the status, the
 * QR code and the event stream. Every API call that reads or writes records runs as one
 * store job through node/webapi.h, after which the answer goes out and, if it wrote, the
 * daemon pushes the new ops to peers. Pairing runs on a thread of its own (net/webpair.h).
 */
#ifndef KITH_WEB_H
#define KITH_WEB_H

#include <stddef.h>
#include <uv.h>

#include "net/httpd.h"
#include "net/job.h"
#include "node/node.h"
#include "util/buf.h"

#define KITH_WEB_TOKEN_HEX    64 /* a login token or a session id: 32 random bytes in hex */
#define KITH_WEB_MAX_BODY     (16u << 20) /* an uploaded file to import */
#define KITH_WEB_TOKEN_TTL_MS 120000      /* a login link works once, within this long */

typedef struct kith_web kith_web_t;

typedef struct {
    const char *listen;          /* "ADDR:PORT": on loopback, Host must name loopback */
    kith_node_t *node;           /* touched only inside store jobs (and at start) */
    void *host;                  /* passed back to the callbacks */
    kith_job_submit_fn submit;   /* queues a store job */
    void (*changed)(void *host); /* records were written here: push */
    void (*log)(void *host, int level, const char *line); /* KITH_LOG_* of daemon.h */
    void (*status_json)(void *host, kith_buf_t *out);     /* the daemon's status */
    void (*peers_changed)(void *host); /* a peer was added here (pairing): reload them */
} kith_web_opts_t;

int kith_web_new(kith_web_t **out, uv_loop_t *loop, const kith_web_opts_t *opts, char *errbuf,
                 size_t errcap);
/* A kith_http_handler_fn (ctx: the kith_web_t). */
void kith_web_handle(void *ctx, kith_http_exchange_t *x);
/* A new one-time login path, "/ui/login?token=HEX", into out (at least 96 bytes). */
int kith_web_login_path(kith_web_t *w, char *out, size_t cap);
/* The store changed (ops from a peer, the CLI, CardDAV): open pages hear of it. */
void kith_web_store_changed(kith_web_t *w);
/* A peer came online or went offline. */
void kith_web_status_changed(kith_web_t *w);
/* Ends the event streams, so that the server can stop. NULL does nothing. */
void kith_web_stop(kith_web_t *w);
/* After uv_run() returned. NULL does nothing. */
void kith_web_free(kith_web_t *w);

#endif
