/*
 * The HTTP server; see httpd.h.
 *
 * h2o owns the connections: it parses requests, buffers bodies, writes answers and closes
 * sockets. This file owns the listener, counts what is open (connections, exchanges not
 * yet answered), and turns an h2o request into a kith_http_exchange_t that may outlive it:
 * a small block in the request's memory pool tells the exchange when h2o frees the
 * request, so that a late answer is dropped instead of written into freed memory.
 *
 * Shutdown: stop listening, ask h2o to close connections once their answers are out, wait
 * until no connection and no exchange is left, then dispose of h2o's context from a timer
 * of its own (h2o finishes closing its timers there); the server is freed after uv_run()
 * returns (kith_httpd_free()).
 */
#include "net/httpd.h"

#include <h2o.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kith/error.h"

#define HTTPD_MAX_CONNS 64 /* open connections; more are closed at once */

typedef struct {
    h2o_handler_t super;
    kith_httpd_t *h;
} handler_t;

/* Lives in the h2o request's pool: h2o calls dispose_slot when it frees the request. */
typedef struct {
    kith_http_exchange_t *x; /* NULL once answered */
} req_slot_t;

struct kith_http_exchange {
    h2o_generator_t gen; /* first: h2o hands it back to on_proceed and on_stop */
    kith_httpd_t *h;
    h2o_req_t *req; /* NULL once h2o freed it (the client went away) */
    req_slot_t *slot;
    kith_http_request_t r;
    /* A stream (kith_http_stream_begin()): what h2o is writing, what waits for it. */
    int streaming, ending;
    kith_buf_t inflight, pending;
};

typedef struct {
    uv_tcp_t tcp; /* first: h2o hands this handle back to on_conn_closed; h2o owns .data */
    kith_httpd_t *h;
} conn_t;

struct kith_httpd {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int listener_open;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    int ctx_ready;
    kith_http_handler_fn fn;
    void *fn_ctx;
    int port;
    size_t n_conns;     /* accepted, not yet closed */
    size_t n_exchanges; /* handed to the handler, not yet answered */
    int stopping, disposing;
    uv_timer_t disposer; /* runs h2o_context_dispose() once everything is closed */
};

static void maybe_finish(kith_httpd_t *h);

/* ---- requests ----------------------------------------------------------------------- */

const kith_http_request_t *
kith_http_exchange_request(const kith_http_exchange_t *x)
{
    return &x->r;
}

const char *
kith_http_header(const kith_http_request_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0) {
            return r->headers[i].value;
        }
    }
    return NULL;
}

int
kith_http_host_loopback(const kith_http_request_t *r)
{
    const char *h = kith_http_header(r, "host");
    if (h == NULL) {
        return 0;
    }
    static const char *const names[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t nl = strlen(names[i]);
        if (strncasecmp(h, names[i], nl) == 0 && (h[nl] == '\0' || h[nl] == ':')) {
            return 1;
        }
    }
    return 0;
}

int
kith_http_listen_loopback(const char *listen)
{
    return listen != NULL && (strncmp(listen, "127.", 4) == 0 || strncmp(listen, "[::1]", 5) == 0);
}

static char *
dup_iov(const char *p, size_t len)
{
    char *s = malloc(len + 1);
    if (s != NULL) {
        if (len > 0) {
            memcpy(s, p, len);
        }
        s[len] = '\0';
    }
    return s;
}

static void
exchange_free(kith_http_exchange_t *x)
{
    kith_buf_close(&x->inflight);
    kith_buf_close(&x->pending);
    for (size_t i = 0; i < x->r.n_headers; i++) {
        free(x->r.headers[i].name);
        free(x->r.headers[i].value);
    }
    free(x->r.headers);
    free(x->r.target);
    free(x->r.body);
    free(x);
}

static void exchange_done(kith_http_exchange_t *x);

static void
dispose_slot(void *p)
{
    req_slot_t *slot = p;
    kith_http_exchange_t *x = slot->x;
    if (x != NULL) {
        x->req = NULL;
        x->slot = NULL;
        if (x->ending) { /* a stream ended while h2o still wrote its last piece */
            exchange_done(x);
        }
    }
}

static void
peer_name(h2o_req_t *req, char out[64])
{
    struct sockaddr_storage ss;
    out[0] = '\0';
    if (req->conn->callbacks->get_peername == NULL ||
        req->conn->callbacks->get_peername(req->conn, (struct sockaddr *) &ss) == 0) {
        return;
    }
    char host[48] = "";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *) &ss;
        uv_ip4_name(a, host, sizeof(host));
        port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) &ss;
        uv_ip6_name(a, host, sizeof(host));
        port = ntohs(a->sin6_port);
    }
    snprintf(out, 64, "%s:%d", host, port);
}

static int
copy_request(h2o_req_t *req, kith_http_request_t *r)
{
    if (req->method.len >= sizeof(r->method)) {
        return KITH_EINVAL;
    }
    memcpy(r->method, req->method.base, req->method.len);
    r->method[req->method.len] = '\0';
    r->target = dup_iov(req->input.path.base, req->input.path.len);
    /* h2o keeps Host apart, as the authority: it goes back in as "host". */
    r->headers = calloc(req->headers.size + 1, sizeof(*r->headers));
    r->body = (uint8_t *) dup_iov(req->entity.base, req->entity.base ? req->entity.len : 0);
    r->body_len = req->entity.base ? req->entity.len : 0;
    if (r->target == NULL || r->headers == NULL || r->body == NULL) {
        return KITH_ENOMEM;
    }
    if (req->input.authority.base != NULL && req->input.authority.len > 0) {
        r->headers[0].name = dup_iov("host", 4);
        r->headers[0].value = dup_iov(req->input.authority.base, req->input.authority.len);
        if (r->headers[0].name == NULL || r->headers[0].value == NULL) {
            free(r->headers[0].name);
            free(r->headers[0].value);
            return KITH_ENOMEM;
        }
        r->n_headers = 1;
    }
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *hd = &req->headers.entries[i];
        kith_http_header_t *out = &r->headers[r->n_headers];
        out->name = dup_iov(hd->name->base, hd->name->len);
        out->value = dup_iov(hd->value.base, hd->value.len);
        if (out->name == NULL || out->value == NULL) {
            free(out->name);
            free(out->value);
            return KITH_ENOMEM;
        }
        for (char *c = out->name; *c; c++) {
            *c = (char) (*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        }
        r->n_headers++;
    }
    peer_name(req, r->peer);
    return KITH_OK;
}

static int
on_req(h2o_handler_t *self, h2o_req_t *req)
{
    kith_httpd_t *h = ((handler_t *) self)->h;
    kith_http_exchange_t *x = calloc(1, sizeof(*x));
    int rc = x != NULL ? copy_request(req, &x->r) : KITH_ENOMEM;
    if (rc != KITH_OK) {
        if (x != NULL) {
            exchange_free(x);
        }
        if (rc == KITH_EINVAL) {
            h2o_send_error_generic(req, 501, "Not Implemented", "method not implemented\n", 0);
        } else {
            h2o_send_error_generic(req, 503, "Service Unavailable", "out of memory\n", 0);
        }
        return 0;
    }
    kith_buf_init(&x->inflight);
    kith_buf_init(&x->pending);
    req_slot_t *slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), dispose_slot);
    slot->x = x;
    x->slot = slot;
    x->req = req;
    x->h = h;
    h->n_exchanges++;
    h->fn(h->fn_ctx, x);
    return 0;
}

static const char *
reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 207:
        return "Multi-Status";
    case 301:
        return "Moved Permanently";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 421:
        return "Misdirected Request";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        return "Unknown";
    }
}

/* The status line and headers of an answer, copied into the request's pool. */
static void
set_head(h2o_req_t *req, const kith_http_response_t *resp)
{
    req->res.status = resp->status;
    req->res.reason = reason(resp->status);
    for (size_t i = 0; i < resp->n_headers; i++) {
        const kith_http_header_t *hd = &resp->headers[i];
        h2o_iovec_t v = h2o_strdup(&req->pool, hd->value, strlen(hd->value));
        h2o_iovec_t n = h2o_strdup(&req->pool, hd->name, strlen(hd->name));
        h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
    }
    if (resp->content_type != NULL) {
        h2o_iovec_t v = h2o_strdup(&req->pool, resp->content_type, strlen(resp->content_type));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, v.base, v.len);
    }
}

void
kith_http_respond(kith_http_exchange_t *x, const kith_http_response_t *resp)
{
    static h2o_generator_t generator = {NULL, NULL};
    kith_httpd_t *h = x->h;
    h2o_req_t *req = x->req;
    if (req != NULL) {
        set_head(req, resp);
        h2o_iovec_t body = h2o_strdup(&req->pool, (const char *) resp->body, resp->body_len);
        if (h->stopping) {
            req->http1_is_persistent = 0; /* close the connection after this answer */
        }
        req->res.content_length = resp->body_len;
        h2o_start_response(req, &generator);
        int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
        x->slot->x = NULL;
        h2o_send(req, &body, head ? 0 : 1, H2O_SEND_STATE_FINAL); /* HEAD: the length, no body */
    }
    exchange_done(x);
}

static void
exchange_done(kith_http_exchange_t *x)
{
    kith_httpd_t *h = x->h;
    exchange_free(x);
    h->n_exchanges--;
    maybe_finish(h);
}

/* ---- streams ------------------------------------------------------------------------ */

/* h2o wrote the piece in flight: send what waited, or end. */
static void
on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    kith_http_exchange_t *x = (kith_http_exchange_t *) gen;
    x->inflight.len = 0;
    if (x->pending.len > 0) {
        kith_buf_t t = x->inflight;
        x->inflight = x->pending;
        x->pending = t;
        h2o_iovec_t v = h2o_iovec_init(x->inflight.data, x->inflight.len);
        h2o_send(req, &v, 1, x->ending ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
        if (!x->ending) {
            return;
        }
    } else if (x->ending) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    } else {
        return;
    }
    /* The final piece is h2o's now: the exchange goes when h2o frees the request. */
}

static void
on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void) gen;
    (void) req; /* the client went away: dispose_slot() follows */
}

int
kith_http_stream_begin(kith_http_exchange_t *x, const kith_http_response_t *head)
{
    h2o_req_t *req = x->req;
    if (req == NULL) {
        return KITH_EIO;
    }
    set_head(req, head);
    req->http1_is_persistent = 0; /* a stream ends with its connection */
    x->streaming = 1;
    x->gen.proceed = on_proceed;
    x->gen.stop = on_stop;
    h2o_start_response(req, &x->gen);
    int rc = kith_buf_append(&x->inflight, head->body, head->body_len);
    if (rc != KITH_OK) {
        return rc;
    }
    h2o_iovec_t v = h2o_iovec_init(x->inflight.data, x->inflight.len);
    h2o_send(req, &v, x->inflight.len ? 1 : 0, H2O_SEND_STATE_IN_PROGRESS);
    return KITH_OK;
}

int
kith_http_stream_send(kith_http_exchange_t *x, const void *data, size_t len)
{
    if (x->req == NULL || x->ending) {
        return KITH_EIO;
    }
    if (x->pending.len + len > KITH_HTTP_STREAM_BACKLOG) {
        return KITH_ETOOBIG; /* the client does not read: the caller ends the stream */
    }
    int rc = kith_buf_append(&x->pending, data, len);
    if (rc == KITH_OK && x->inflight.len == 0) {
        on_proceed(&x->gen, x->req);
    }
    return rc;
}

int
kith_http_stream_open(const kith_http_exchange_t *x)
{
    return x->req != NULL && !x->h->stopping;
}

void
kith_http_stream_end(kith_http_exchange_t *x)
{
    if (x->req == NULL) {
        exchange_done(x);
        return;
    }
    x->ending = 1;
    if (x->inflight.len == 0) {
        on_proceed(&x->gen, x->req);
    }
    /* dispose_slot() frees x once h2o has written the end and freed the request. */
}

/* ---- connections -------------------------------------------------------------------- */

static void
on_conn_closed(uv_handle_t *handle)
{
    conn_t *c = (conn_t *) handle;
    kith_httpd_t *h = c->h;
    free(c);
    h->n_conns--;
    maybe_finish(h);
}

static void
on_accept(uv_stream_t *server, int status)
{
    kith_httpd_t *h = server->data;
    if (status != 0 || h->stopping) {
        return;
    }
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL || uv_tcp_init(h->loop, &c->tcp) != 0) {
        free(c);
        return;
    }
    c->h = h;
    h->n_conns++;
    if (uv_accept(server, (uv_stream_t *) &c->tcp) != 0 || h->n_conns > HTTPD_MAX_CONNS) {
        uv_close((uv_handle_t *) &c->tcp, on_conn_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *) &c->tcp, on_conn_closed);
    h2o_accept(&h->accept_ctx, sock);
}

/* ---- start and stop ----------------------------------------------------------------- */

static int
parse_listen(const char *text, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || (size_t) (colon - text) >= sizeof(host)) {
        return KITH_EINVAL;
    }
    memcpy(host, text, (size_t) (colon - text));
    host[colon - text] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port < 0 || port > 65535) {
        return KITH_EINVAL;
    }
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        return uv_ip6_addr(host + 1, (int) port, (struct sockaddr_in6 *) ss) == 0 ? KITH_OK
                                                                                  : KITH_EINVAL;
    }
    return uv_ip4_addr(host, (int) port, (struct sockaddr_in *) ss) == 0 ? KITH_OK : KITH_EINVAL;
}

int
kith_httpd_start(kith_httpd_t **out, uv_loop_t *loop, const kith_httpd_opts_t *opts, char *errbuf,
                 size_t errcap)
{
    *out = NULL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (opts->listen == NULL || parse_listen(opts->listen, &ss) != KITH_OK) {
        snprintf(errbuf, errcap, "'%s' is not an address and port (ADDR:PORT)",
                 opts->listen ? opts->listen : "");
        return KITH_EINVAL;
    }
    kith_httpd_t *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return KITH_ENOMEM;
    }
    h->loop = loop;
    h->fn = opts->handler;
    h->fn_ctx = opts->ctx;
    h2o_config_init(&h->config);
    h->config.server_name = h2o_iovec_init(H2O_STRLIT("kith"));
    h->config.max_request_entity_size = opts->max_body;
    h->config.http1.req_timeout = opts->timeout_ms ? opts->timeout_ms : 10000;
    h->config.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host =
        h2o_config_register_host(&h->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    handler_t *hd = (handler_t *) h2o_create_handler(path, sizeof(*hd));
    hd->super.on_req = on_req;
    hd->h = h;
    h2o_context_init(&h->ctx, loop, &h->config);
    h->ctx_ready = 1;
    h->accept_ctx.ctx = &h->ctx;
    h->accept_ctx.hosts = h->config.hosts;

    int e = uv_tcp_init(loop, &h->listener);
    if (e == 0) {
        h->listener_open = 1;
        h->listener.data = h;
        e = uv_tcp_bind(&h->listener, (const struct sockaddr *) &ss, 0);
    }
    if (e == 0) {
        e = uv_listen((uv_stream_t *) &h->listener, 64, on_accept);
    }
    if (e != 0) {
        snprintf(errbuf, errcap, "cannot listen on %s: %s", opts->listen, uv_strerror(e));
        kith_httpd_stop(h);
        *out = h; /* the caller frees it after running the loop, as after a stop */
        return KITH_EIO;
    }
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    if (uv_tcp_getsockname(&h->listener, (struct sockaddr *) &bound, &len) == 0) {
        h->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &bound)->sin6_port
                                                    : ((struct sockaddr_in *) &bound)->sin_port);
    }
    *out = h;
    return KITH_OK;
}

int
kith_httpd_port(const kith_httpd_t *h)
{
    return h->port;
}

/* Runs from a timer of its own: h2o_context_dispose() closes h2o's handles and runs the
 * loop once (UV_RUN_NOWAIT) to finish closing them, so it must not run inside a callback of
 * h2o's or of a connection's. Until it runs, h2o's cross-thread queue keeps the loop
 * alive. */
static void
on_dispose(uv_timer_t *t)
{
    kith_httpd_t *h = t->data;
    if (h->ctx_ready) {
        h2o_context_dispose(&h->ctx);
        h->ctx_ready = 0;
    }
    uv_close((uv_handle_t *) t, NULL); /* freed with h, after uv_run() */
}

static void
maybe_finish(kith_httpd_t *h)
{
    if (!h->stopping || h->disposing || h->listener_open || h->n_conns > 0 || h->n_exchanges > 0) {
        return;
    }
    h->disposing = 1;
    uv_timer_init(h->loop, &h->disposer);
    h->disposer.data = h;
    uv_timer_start(&h->disposer, on_dispose, 0, 0);
}

static void
on_listener_closed(uv_handle_t *handle)
{
    kith_httpd_t *h = handle->data;
    h->listener_open = 0;
    maybe_finish(h);
}

void
kith_httpd_stop(kith_httpd_t *h)
{
    if (h == NULL || h->stopping) {
        return;
    }
    h->stopping = 1;
    if (h->listener_open) {
        uv_close((uv_handle_t *) &h->listener, on_listener_closed);
    }
    /* Connections close once their answer is out (kith_http_respond()); idle ones when
     * their timeout strikes. h2o_context_request_shutdown() is not used: its HTTP/2 part
     * arms a timer that h2o_context_dispose() then finds armed. */
    h->ctx.shutdown_requested = 1;
    maybe_finish(h);
}

void
kith_httpd_free(kith_httpd_t *h)
{
    if (h == NULL) {
        return;
    }
    /* After uv_run() returned: the context is disposed (or was never made). */
    if (h->ctx_ready) {
        h2o_context_dispose(&h->ctx);
    }
    h2o_config_dispose(&h->config);
    free(h);
}
