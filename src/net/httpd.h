/*
 * A small HTTP/1.1 server on the daemon's libuv loop, over libh2o (Debian libh2o-dev, the
 * libuv build): h2o parses and writes HTTP; this module binds the listener, hands each
 * request to one handler as a plain copy, and sends the handler's answer whenever it
 * comes, even after the work moved to another thread and back. CardDAV (net/dav.h) is
 * its first user; the local web UI is meant to be the second.
 *
 * Life of a request: h2o buffers the whole request body (at most max_body bytes: more is
 * answered 413 by h2o itself), then the handler gets a kith_http_exchange_t holding a
 * copy of the method, target, headers and body. The handler answers exactly once with
 * kith_http_respond(), on the loop thread, at once or later. If the client went away in
 * the meantime, the answer is dropped and the exchange freed all the same, so a handler
 * never has to know.
 *
 * Limits: HTTP/1.1 only (no TLS: the server listens on loopback unless the user asks),
 * bodies buffered in memory, request headers as h2o limits them.
 */
#ifndef KITH_HTTPD_H
#define KITH_HTTPD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/buf.h"

typedef struct kith_httpd kith_httpd_t;

typedef struct {
    char *name;  /* lower case */
    char *value; /* NUL-terminated; a header given twice appears twice */
} kith_http_header_t;

typedef struct {
    char method[24];             /* "GET", "PROPFIND", ... (longer methods are refused) */
    char *target;                /* the request target as sent: path and query */
    kith_http_header_t *headers; /* in the order received */
    size_t n_headers;
    uint8_t *body; /* NUL-terminated copy of the body (len bytes before it) */
    size_t body_len;
    char peer[64]; /* the client's address, for log lines */
} kith_http_request_t;

typedef struct kith_http_exchange kith_http_exchange_t;

/* The request of an exchange; valid until kith_http_respond(). */
const kith_http_request_t *kith_http_exchange_request(const kith_http_exchange_t *x);
/* The value of the first header called name (any case), or NULL. */
const char *kith_http_header(const kith_http_request_t *r, const char *name);
/* 1 if the Host header names a loopback address (127.0.0.1, localhost, [::1], any port).
 * A web page on another site can make a browser send requests to a loopback server by DNS
 * rebinding, but then Host names that site: a server on loopback answers only this. */
int kith_http_host_loopback(const kith_http_request_t *r);
/* 1 if "ADDR:PORT" is a loopback address. */
int kith_http_listen_loopback(const char *listen);

typedef struct {
    int status;                  /* 200, 207, 404, ... */
    kith_http_header_t *headers; /* extra response headers, copied by kith_http_respond() */
    size_t n_headers;
    const uint8_t *body; /* copied; may be NULL with len 0 */
    size_t body_len;
    const char *content_type; /* NULL: none */
} kith_http_response_t;

/* Sends the answer (if the client is still there) and frees the exchange. Loop thread
 * only; exactly once per exchange. */
void kith_http_respond(kith_http_exchange_t *x, const kith_http_response_t *resp);

/* Streams (server-sent events): an answer sent in pieces, for as long as the handler
 * likes. kith_http_stream_begin() sends the status, headers and head->body (the first
 * piece); kith_http_stream_send() queues more; kith_http_stream_end() ends the answer and
 * frees the exchange (instead of kith_http_respond()), also after the client went away.
 * The connection closes with the stream. Loop thread only. */
#define KITH_HTTP_STREAM_BACKLOG (256u * 1024) /* bytes queued for a client that does not read */
int kith_http_stream_begin(kith_http_exchange_t *x, const kith_http_response_t *head);
/* KITH_EIO once the client is gone, KITH_ETOOBIG past the backlog: then end the stream. */
int kith_http_stream_send(kith_http_exchange_t *x, const void *data, size_t len);
/* 0 once the client went away or the server is stopping: time to end the stream. */
int kith_http_stream_open(const kith_http_exchange_t *x);
void kith_http_stream_end(kith_http_exchange_t *x);

/* Called on the loop thread for every request. */
typedef void (*kith_http_handler_fn)(void *ctx, kith_http_exchange_t *x);

typedef struct {
    const char *listen;  /* "ADDR:PORT" (IPv4 or [IPv6]); port 0 picks a free one */
    size_t max_body;     /* bytes; larger bodies get 413 */
    uint64_t timeout_ms; /* an idle or slow connection is closed after this long */
    kith_http_handler_fn handler;
    void *ctx;
} kith_httpd_opts_t;

/* Binds and listens. KITH_EINVAL for a bad address, KITH_EIO (with a sentence) when the
 * port cannot be bound: then *out is set all the same, already stopped, and must be freed
 * like a stopped server. The loop must outlive the server. */
int kith_httpd_start(kith_httpd_t **out, uv_loop_t *loop, const kith_httpd_opts_t *opts,
                     char *errbuf, size_t errcap);
/* The port the server listens on. */
int kith_httpd_port(const kith_httpd_t *h);
/* Stops listening. Connections close as their answers go out, idle ones at their timeout;
 * the loop runs until they have. Exchanges still held by the handler must be answered (the
 * answers are dropped if their connection is gone). NULL does nothing. */
void kith_httpd_stop(kith_httpd_t *h);
/* Frees a stopped server after uv_run() returned. NULL does nothing. */
void kith_httpd_free(kith_httpd_t *h);

#endif
