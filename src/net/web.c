/*
 * The local web UI's server side; see web.h and proto/WEB.md.
 *
 * URL space (beside CardDAV's, on the same server):
 *   /                      303 to /ui/
 *   /ui/                   the page (net/assets.h); /ui/NAME its other files
 *   /ui/login?token=HEX    a one-time login link (kith ui): sets the session cookie
 *   /api/session           the CSRF token and who this node is (loop thread)
 *   /api/status            the daemon's status (loop thread)
 *   /api/qr.svg            the node ID as a QR code (loop thread)
 *   /api/events            the event stream (loop thread)
 *   /api/pair[/answer|/cancel]  pairing (net/webpair.h; adding the peer is a store job)
 *   /api/...               everything else: node/webapi.h, as a store job
 *
 * Checks, in order, before anything else happens: Host (DNS rebinding), Sec-Fetch-Site
 * (a request another site's page made), the session cookie (API only), then for writes
 * the Origin and the CSRF header. A refused request reads and changes nothing.
 */
#include "net/web.h"

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "formats/qrsvg.h"
#include "kith/error.h"
#include "net/assets.h"
#include "net/daemon.h"
#include "net/webpair.h"
#include "node/webapi.h"
#include "util/hlc.h"
#include "util/json.h"
#include "util/nodeid.h"

#define MAX_SESSIONS    16
#define MAX_LOGINS      8
#define MAX_STREAMS     32
#define SESSION_IDLE_MS (12ull * 3600 * 1000)
#define PING_MS         20000 /* a comment on every event stream, so proxies and we see it live */
#define COOKIE          "kith_session"

#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "        \
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/* Logins and sessions: secrets, so in guarded memory, compared in constant time. */
typedef struct {
    uint8_t id[32];   /* the cookie's value */
    uint8_t csrf[32]; /* the X-Kith-CSRF header's value */
    uint64_t last_ms; /* last request; 0: free */
} session_t;

typedef struct {
    uint8_t token[32];
    uint64_t expires_ms; /* 0: free (used or never made) */
} login_t;

typedef struct {
    session_t sessions[MAX_SESSIONS];
    login_t logins[MAX_LOGINS];
} secrets_t;

struct kith_web {
    uv_loop_t *loop;
    kith_node_t *node;
    void *host;
    kith_job_submit_fn submit;
    void (*changed)(void *host);
    void (*log)(void *host, int level, const char *line);
    void (*status_json)(void *host, kith_buf_t *out);
    void (*peers_changed)(void *host);
    int loopback;
    kith_webpair_t *pair;
    /* Adding a paired peer: one store job at a time (one pairing runs at a time). */
    kith_job_t add_job;
    char add_name[KITH_WEBPAIR_NAME_MAX + 1], add_local[65], add_sentence[256];
    uint8_t add_key[KITH_PK_LEN];
    int add_rc;
    kith_webapi_t *api; /* store thread only */
    secrets_t *secrets; /* sodium_malloc'd */
    kith_http_exchange_t *streams[MAX_STREAMS];
    size_t n_streams;
    uv_timer_t ping;
    int ping_open;
    /* Telling open pages that the store changed: one refresh job at a time. */
    kith_job_t refresh_job;
    int refresh_again;
    uint64_t refresh_seq, announced_seq;
    int stopped;
};

typedef struct {
    kith_job_t job; /* first: the job is the request */
    kith_web_t *w;
    kith_http_exchange_t *x;
    char path[256];
    const char *query;
    kith_buf_t status;
    kith_webapi_answer_t ans;
} api_job_t;

static void
logf_(kith_web_t *w, int level, const char *fmt, ...)
{
    if (w->log == NULL) {
        return;
    }
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    w->log(w->host, level, line);
}

/* ---- answers ------------------------------------------------------------------------ */

#define MAX_EXTRA 2 /* headers an answer adds to the security headers */

/* Every answer carries these: the page may load only its own files, and nothing may frame
 * it or sniff types. Fills h (5 + n_extra entries) and returns how many. */
static size_t
security_headers(kith_http_header_t *h, const char *cache, const kith_http_header_t *extra,
                 size_t n_extra)
{
    h[0] = (kith_http_header_t){"Content-Security-Policy", CSP};
    h[1] = (kith_http_header_t){"X-Content-Type-Options", "nosniff"};
    h[2] = (kith_http_header_t){"Referrer-Policy", "no-referrer"};
    h[3] = (kith_http_header_t){"Cache-Control", (char *) (cache ? cache : "no-store")};
    h[4] = (kith_http_header_t){"X-Frame-Options", "DENY"};
    for (size_t i = 0; i < n_extra && i < MAX_EXTRA; i++) {
        h[5 + i] = extra[i];
    }
    return 5 + (n_extra < MAX_EXTRA ? n_extra : MAX_EXTRA);
}

static void
respond(kith_http_exchange_t *x, int status, const char *type, const void *body, size_t len,
        const char *cache, const kith_http_header_t *extra, size_t n_extra)
{
    kith_http_header_t h[5 + MAX_EXTRA];
    kith_http_response_t r = {status, h,   security_headers(h, cache, extra, n_extra),
                              body,   len, type};
    kith_http_respond(x, &r);
}

/* An answer that sends the browser to location. */
static void
redirect(kith_http_exchange_t *x, int status, const char *location, const char *cookie)
{
    kith_http_header_t extra[2] = {{"Location", (char *) location},
                                   {"Set-Cookie", (char *) cookie}};
    char body[80];
    int len = snprintf(body, sizeof(body), "see %s\n", location);
    respond(x, status, "text/plain", body, (size_t) len, status == 301 ? "no-cache" : NULL, extra,
            cookie ? 2 : 1);
}

static void
json_error(kith_http_exchange_t *x, int status, const char *sentence)
{
    kith_buf_t b;
    kith_buf_init(&b);
    kith_json_t j;
    kith_json_init(&j, &b, 0);
    kith_json_object_begin(&j);
    kith_json_key(&j, "error");
    kith_json_string(&j, sentence);
    kith_json_object_end(&j);
    kith_json_finish(&j);
    respond(x, status, "application/json", b.data, b.len, NULL, NULL, 0);
    kith_buf_close(&b);
}

static void
page_error(kith_http_exchange_t *x, int status, const char *sentence)
{
    char html[600];
    int len = snprintf(html, sizeof(html),
                       "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<title>kith</title><link rel=\"icon\" href=\"/ui/logo.svg\">"
                       "<link rel=\"stylesheet\" href=\"/ui/app.css\"></head>"
                       "<body><main class=\"notice\"><h1>kith</h1><p>%s</p></main></body></html>",
                       sentence);
    respond(x, status, "text/html; charset=utf-8", html, (size_t) len, NULL, NULL, 0);
}

/* ---- sessions ----------------------------------------------------------------------- */

static int
hex32(const char *text, size_t len, uint8_t out[32])
{
    size_t got = 0;
    return len == KITH_WEB_TOKEN_HEX && sodium_hex2bin(out, 32, text, len, NULL, &got, NULL) == 0 &&
                   got == 32
               ? KITH_OK
               : KITH_EINVAL;
}

/* The value of cookie name in a Cookie header, or NULL; *len its length. */
static const char *
cookie_value(const char *header, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    const char *p = header;
    while (p != NULL && *p) {
        while (*p == ' ' || *p == ';') {
            p++;
        }
        const char *end = strchr(p, ';');
        size_t l = end ? (size_t) (end - p) : strlen(p);
        if (l > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            *len = l - nl - 1;
            return p + nl + 1;
        }
        p = end;
    }
    return NULL;
}

/* The request's live session, or NULL. Every slot is compared, in constant time. */
static session_t *
find_session(kith_web_t *w, const kith_http_request_t *r)
{
    const char *cookie = kith_http_header(r, "cookie");
    size_t len = 0;
    const char *v = cookie ? cookie_value(cookie, COOKIE, &len) : NULL;
    uint8_t id[32];
    if (v == NULL || hex32(v, len, id) != KITH_OK) {
        return NULL;
    }
    uint64_t now = kith_hlc_now_ms();
    session_t *found = NULL;
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        session_t *s = &w->secrets->sessions[i];
        int live = s->last_ms != 0 && now - s->last_ms < SESSION_IDLE_MS;
        if (sodium_memcmp(s->id, id, 32) == 0 && live) {
            found = s;
        }
    }
    sodium_memzero(id, sizeof(id));
    if (found != NULL) {
        found->last_ms = now;
    }
    return found;
}

static session_t *
new_session(kith_web_t *w)
{
    session_t *slot = &w->secrets->sessions[0];
    for (size_t i = 0; i < MAX_SESSIONS; i++) { /* a free one, else the least recent */
        session_t *s = &w->secrets->sessions[i];
        if (s->last_ms < slot->last_ms) {
            slot = s;
        }
    }
    randombytes_buf(slot->id, sizeof(slot->id));
    randombytes_buf(slot->csrf, sizeof(slot->csrf));
    slot->last_ms = kith_hlc_now_ms();
    return slot;
}

int
kith_web_login_path(kith_web_t *w, char *out, size_t cap)
{
    login_t *slot = &w->secrets->logins[0];
    for (size_t i = 0; i < MAX_LOGINS; i++) { /* a free or expired one, else the oldest */
        login_t *l = &w->secrets->logins[i];
        if (l->expires_ms < slot->expires_ms) {
            slot = l;
        }
    }
    randombytes_buf(slot->token, sizeof(slot->token));
    slot->expires_ms = kith_hlc_now_ms() + KITH_WEB_TOKEN_TTL_MS;
    char hex[KITH_WEB_TOKEN_HEX + 1];
    sodium_bin2hex(hex, sizeof(hex), slot->token, sizeof(slot->token));
    int n = snprintf(out, cap, "/ui/login?token=%s", hex);
    sodium_memzero(hex, sizeof(hex));
    return n > 0 && (size_t) n < cap ? KITH_OK : KITH_ETOOBIG;
}

/* GET /ui/login?token=HEX: a token works once, within its time. */
static void
login(kith_web_t *w, kith_http_exchange_t *x, const char *query)
{
    uint8_t token[32];
    const char *t = strncmp(query, "token=", 6) == 0 ? query + 6 : NULL;
    login_t *found = NULL;
    if (t != NULL && hex32(t, strlen(t), token) == KITH_OK) {
        uint64_t now = kith_hlc_now_ms();
        for (size_t i = 0; i < MAX_LOGINS; i++) {
            login_t *l = &w->secrets->logins[i];
            if (sodium_memcmp(l->token, token, 32) == 0 && l->expires_ms > now) {
                found = l;
            }
        }
        sodium_memzero(token, sizeof(token));
    }
    if (found == NULL) {
        logf_(w, KITH_LOG_INFO, "web: a login link was refused (used, expired or unknown)");
        page_error(x, 403,
                   "This login link was used already or has expired. Run <code>kith ui</code> "
                   "in a terminal for a new one.");
        return;
    }
    sodium_memzero(found, sizeof(*found)); /* used */
    session_t *s = new_session(w);
    char cookie[160], hex[KITH_WEB_TOKEN_HEX + 1];
    sodium_bin2hex(hex, sizeof(hex), s->id, sizeof(s->id));
    snprintf(cookie, sizeof(cookie), COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/", hex);
    sodium_memzero(hex, sizeof(hex));
    redirect(x, 303, "/ui/", cookie);
    sodium_memzero(cookie, sizeof(cookie));
    logf_(w, KITH_LOG_INFO, "web: a browser logged in");
}

/* ---- checks ------------------------------------------------------------------------- */

static int
is_read(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* A request another site's page made the browser send (fetch metadata), whatever it is. */
static int
cross_site(const kith_http_request_t *r)
{
    const char *site = kith_http_header(r, "sec-fetch-site");
    return site != NULL &&
           (strcasecmp(site, "cross-site") == 0 || strcasecmp(site, "same-site") == 0);
}

/* A write must come from this server's own page: Origin, when sent, is http://Host, and
 * the CSRF header holds the session's token. */
static int
write_allowed(const kith_http_request_t *r, const session_t *s)
{
    const char *origin = kith_http_header(r, "origin");
    const char *host = kith_http_header(r, "host");
    if (origin != NULL) {
        if (host == NULL || strncmp(origin, "http://", 7) != 0 ||
            strcasecmp(origin + 7, host) != 0) {
            return 0;
        }
    }
    const char *csrf = kith_http_header(r, "x-kith-csrf");
    uint8_t got[32];
    if (csrf == NULL || hex32(csrf, strlen(csrf), got) != KITH_OK) {
        return 0;
    }
    int ok = sodium_memcmp(got, s->csrf, 32) == 0;
    sodium_memzero(got, sizeof(got));
    return ok;
}

/* ---- the loop thread's own answers -------------------------------------------------- */

static void
session_answer(kith_web_t *w, kith_http_exchange_t *x, const session_t *s)
{
    char csrf[KITH_WEB_TOKEN_HEX + 1], nid[KITH_NODEID_BUFSIZE];
    sodium_bin2hex(csrf, sizeof(csrf), s->csrf, sizeof(s->csrf));
    kith_nodeid_encode(w->node->id->pk, nid);
    kith_buf_t b;
    kith_buf_init(&b);
    kith_json_t j;
    kith_json_init(&j, &b, 0);
    kith_json_object_begin(&j);
    kith_json_key(&j, "csrf");
    kith_json_string(&j, csrf);
    kith_json_key(&j, "node_id");
    kith_json_string(&j, nid);
    kith_json_key(&j, "name");
    kith_json_string(&j, w->node->name);
    kith_json_key(&j, "version");
    kith_json_string(&j, KITH_VERSION);
    kith_json_object_end(&j);
    if (kith_json_finish(&j) == KITH_OK) {
        respond(x, 200, "application/json", b.data, b.len, NULL, NULL, 0);
    } else {
        json_error(x, 500, "out of memory");
    }
    kith_buf_close(&b);
    sodium_memzero(csrf, sizeof(csrf));
}

static void
status_answer(kith_web_t *w, kith_http_exchange_t *x)
{
    kith_buf_t b;
    kith_buf_init(&b);
    w->status_json(w->host, &b);
    respond(x, 200, "application/json", b.data, b.len, NULL, NULL, 0);
    kith_buf_close(&b);
}

static void
qr_answer(kith_web_t *w, kith_http_exchange_t *x)
{
    char nid[KITH_NODEID_BUFSIZE];
    kith_nodeid_encode(w->node->id->pk, nid);
    kith_buf_t b;
    kith_buf_init(&b);
    if (kith_qr_svg(nid, &b) == KITH_OK) {
        respond(x, 200, "image/svg+xml", b.data, b.len, NULL, NULL, 0);
    } else {
        json_error(x, 500, "cannot draw the QR code");
    }
    kith_buf_close(&b);
}

static void
asset_answer(kith_http_exchange_t *x, const char *path)
{
    const char *name = strcmp(path, "/ui/") == 0 ? "/ui/index.html" : path;
    for (const kith_asset_t *a = kith_assets; a->path != NULL; a++) {
        if (strcmp(a->path, name) == 0) {
            respond(x, 200, a->type, a->data, a->len, "no-cache", NULL, 0);
            return;
        }
    }
    page_error(x, 404, "There is no such page.");
}

/* ---- event stream ------------------------------------------------------------------- */

static void
broadcast(kith_web_t *w, const char *text)
{
    size_t len = strlen(text);
    for (size_t i = 0; i < w->n_streams;) {
        kith_http_exchange_t *x = w->streams[i];
        if (!kith_http_stream_open(x) || kith_http_stream_send(x, text, len) != KITH_OK) {
            kith_http_stream_end(x); /* gone, or not reading */
            w->streams[i] = w->streams[--w->n_streams];
        } else {
            i++;
        }
    }
}

static void
on_ping(uv_timer_t *t)
{
    broadcast(t->data, ": ping\n\n");
}

static void
events_answer(kith_web_t *w, kith_http_exchange_t *x)
{
    if (w->n_streams == MAX_STREAMS) {
        json_error(x, 503, "too many open pages: close some");
        return;
    }
    kith_http_header_t h[5];
    static const char hello[] = "retry: 1000\n\n";
    kith_http_response_t r = {200,
                              h,
                              security_headers(h, NULL, NULL, 0),
                              (const uint8_t *) hello,
                              sizeof(hello) - 1,
                              "text/event-stream"};
    if (kith_http_stream_begin(x, &r) != KITH_OK) {
        kith_http_stream_end(x);
        return;
    }
    w->streams[w->n_streams++] = x;
}

static void
refresh_work(kith_job_t *job)
{
    kith_web_t *w = (kith_web_t *) ((char *) job - offsetof(kith_web_t, refresh_job));
    uint64_t seq = 0;
    if (kith_webapi_refresh(w->api, w->node, &seq) == KITH_OK) {
        w->refresh_seq = seq;
    }
}

static void
refresh_done(kith_job_t *job)
{
    kith_web_t *w = (kith_web_t *) ((char *) job - offsetof(kith_web_t, refresh_job));
    if (w->refresh_seq != w->announced_seq) {
        w->announced_seq = w->refresh_seq;
        char ev[64];
        snprintf(ev, sizeof(ev), "event: change\ndata: {\"seq\":%llu}\n\n",
                 (unsigned long long) w->refresh_seq);
        broadcast(w, ev);
    }
    if (w->refresh_again && !w->stopped) {
        w->refresh_again = 0;
        w->submit(w->host, &w->refresh_job);
    }
}

void
kith_web_store_changed(kith_web_t *w)
{
    /* Only open pages need to hear at once; without one, the index of records is brought
     * up to date by the next query (so a daemon nobody browses builds none). */
    if (w == NULL || w->stopped || w->n_streams == 0) {
        return;
    }
    if (w->refresh_job.queued) {
        w->refresh_again = 1;
    } else {
        w->submit(w->host, &w->refresh_job);
    }
}

void
kith_web_status_changed(kith_web_t *w)
{
    if (w != NULL && !w->stopped) {
        broadcast(w, "event: status\ndata: {}\n\n");
    }
}

/* ---- pairing ---------------------------------------------------------------------- */

static void
pair_state(kith_web_t *w, kith_http_exchange_t *x, int status)
{
    kith_buf_t b;
    kith_buf_init(&b);
    kith_json_t j;
    kith_json_init(&j, &b, 0);
    kith_webpair_json(w->pair, &j);
    if (kith_json_finish(&j) == KITH_OK) {
        respond(x, status, "application/json", b.data, b.len, NULL, NULL, 0);
    } else {
        json_error(x, 500, "out of memory");
    }
    kith_buf_close(&b);
}

/* GET /api/pair: the state. POST /api/pair {"code"?}: start (host without a code, join
 * with one). POST /api/pair/answer {"accept": bool}. POST /api/pair/cancel {}. */
static void
pair_answer(kith_web_t *w, kith_http_exchange_t *x, const char *rest, int get)
{
    const kith_http_request_t *r = kith_http_exchange_request(x);
    if (get) {
        if (rest[0] != '\0') {
            json_error(x, 405, "POST here");
        } else {
            pair_state(w, x, 200);
        }
        return;
    }
    if (strcmp(r->method, "POST") != 0) {
        json_error(x, 405, "GET or POST here");
        return;
    }
    json_t *body = NULL;
    if (r->body_len > 4096 ||
        (body = json_loadb(r->body_len ? (const char *) r->body : "{}",
                           r->body_len ? r->body_len : 2, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
        !json_is_object(body)) {
        json_decref(body);
        json_error(x, 400, "the request is not a JSON object");
        return;
    }
    const char *key;
    json_t *v;
    const char *allowed = rest[0] == '\0' ? "code" : strcmp(rest, "/answer") == 0 ? "accept" : "";
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, allowed) != 0) {
            json_decref(body);
            json_error(x, 400, "unknown member in the request");
            return;
        }
    }
    char err[256] = "";
    if (rest[0] == '\0') {
        json_t *code = json_object_get(body, "code");
        if (code != NULL && !json_is_string(code)) {
            json_error(x, 400, "'code' is a pairing code (like 7-orbit-sugar-lantern)");
        } else {
            char name[65];
            kith_node_pairing_name(w->node, name);
            int rc = kith_webpair_start(w->pair, w->node->id->pk, name,
                                        code ? json_string_value(code) : NULL, err, sizeof(err));
            if (rc == KITH_OK) {
                logf_(w, KITH_LOG_INFO, "web: pairing started (%s)", code ? "joining" : "hosting");
                pair_state(w, x, 200);
            } else {
                json_error(x, rc == KITH_EEXISTS ? 409 : 400, err);
            }
        }
    } else if (strcmp(rest, "/answer") == 0) {
        json_t *accept = json_object_get(body, "accept");
        if (!json_is_boolean(accept)) {
            json_error(x, 400, "'accept' is true or false");
        } else if (kith_webpair_answer(w->pair, json_is_true(accept)) != KITH_OK) {
            json_error(x, 409, "no pairing is waiting for an answer");
        } else {
            pair_state(w, x, 200);
        }
    } else if (strcmp(rest, "/cancel") == 0) {
        kith_webpair_cancel(w->pair);
        pair_state(w, x, 200);
    } else {
        json_error(x, 404, "no such API call");
    }
    json_decref(body);
}

static void
pair_changed(void *ctx)
{
    kith_web_t *w = ctx;
    if (!w->stopped) {
        broadcast(w, "event: pair\ndata: {}\n\n");
    }
}

static void
add_work(kith_job_t *job)
{
    kith_web_t *w = (kith_web_t *) ((char *) job - offsetof(kith_web_t, add_job));
    w->add_rc = kith_webapi_add_paired(w->node, w->add_name, w->add_key, w->add_local,
                                       w->add_sentence, sizeof(w->add_sentence));
}

static void
add_done(kith_job_t *job)
{
    kith_web_t *w = (kith_web_t *) ((char *) job - offsetof(kith_web_t, add_job));
    int rc = w->add_rc == KITH_EEXISTS ? KITH_OK : w->add_rc; /* already a peer: fine */
    kith_webpair_done(w->pair, rc, w->add_local, w->add_sentence);
    logf_(w, KITH_LOG_INFO, "web: pairing: %s", w->add_sentence);
    if (w->add_rc == KITH_OK && w->peers_changed != NULL) {
        w->peers_changed(w->host);
    }
}

static void
pair_accepted(void *ctx, const char *their_name, const uint8_t key[KITH_PK_LEN])
{
    kith_web_t *w = ctx;
    snprintf(w->add_name, sizeof(w->add_name), "%s", their_name);
    memcpy(w->add_key, key, KITH_PK_LEN);
    w->submit(w->host, &w->add_job);
}

/* ---- API calls as store jobs -------------------------------------------------------- */

static void
api_work(kith_job_t *job)
{
    api_job_t *q = (api_job_t *) job;
    const kith_http_request_t *r = kith_http_exchange_request(q->x);
    kith_webapi_request_t req = {
        r->method,
        q->path,
        q->query,
        r->body,
        r->body_len,
        q->status.data ? (const char *) q->status.data : NULL,
        (int64_t) (time(NULL) / 86400),
    };
    kith_webapi_call(q->w->api, q->w->node, &req, &q->ans);
}

static void
api_done(kith_job_t *job)
{
    api_job_t *q = (api_job_t *) job;
    kith_web_t *w = q->w;
    respond(q->x, q->ans.status, q->ans.content_type, q->ans.body.data, q->ans.body.len, NULL, NULL,
            0);
    if (q->ans.changed) {
        if (w->changed != NULL) {
            w->changed(w->host);
        }
        kith_web_store_changed(w);
    }
    kith_webapi_answer_close(&q->ans);
    kith_buf_close(&q->status);
    free(q);
}

static void
api_submit(kith_web_t *w, kith_http_exchange_t *x, const char *path, size_t path_len,
           const char *query)
{
    api_job_t *q = calloc(1, sizeof(*q));
    if (q == NULL || path_len >= sizeof(q->path)) {
        free(q);
        json_error(x, q == NULL ? 503 : 404, q == NULL ? "out of memory" : "no such API call");
        return;
    }
    q->w = w;
    q->x = x;
    memcpy(q->path, path, path_len);
    q->query = query;
    kith_buf_init(&q->status);
    kith_webapi_answer_init(&q->ans);
    if (strncmp(path, "/api/peers", path_len) == 0) {
        w->status_json(w->host, &q->status); /* who is online, as the daemon sees it now */
    }
    q->job.work = api_work;
    q->job.done = api_done;
    w->submit(w->host, &q->job);
}

/* ---- routing ------------------------------------------------------------------------ */

void
kith_web_handle(void *ctx, kith_http_exchange_t *x)
{
    kith_web_t *w = ctx;
    const kith_http_request_t *r = kith_http_exchange_request(x);
    const char *target = r->target;
    const char *qm = strchr(target, '?');
    size_t path_len = qm ? (size_t) (qm - target) : strlen(target);
    const char *query = qm ? qm + 1 : "";
    char path[256];
    if (path_len >= sizeof(path)) {
        json_error(x, 414, "the address is too long");
        return;
    }
    memcpy(path, target, path_len);
    path[path_len] = '\0';

    if (w->loopback && !kith_http_host_loopback(r)) {
        json_error(x, 421, "this server answers to 127.0.0.1 and localhost only");
        return;
    }
    if (cross_site(r)) {
        logf_(w, KITH_LOG_INFO, "web: refused %s %s: sent by another site's page", r->method, path);
        json_error(x, 403, "refused: the request came from another site's page");
        return;
    }
    if (strncmp(path, "/api/", 5) != 0) {
        if (!is_read(r->method)) {
            json_error(x, 405, "only GET here");
        } else if (strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0) {
            redirect(x, 303, "/ui/", NULL);
        } else if (strcmp(path, "/favicon.ico") == 0) {
            redirect(x, 301, "/ui/logo.svg", NULL);
        } else if (strcmp(path, "/ui/login") == 0) {
            login(w, x, query);
        } else if (strncmp(path, "/ui/", 4) == 0) {
            asset_answer(x, path);
        } else {
            page_error(x, 404, "There is no such page.");
        }
        return;
    }
    session_t *s = find_session(w, r);
    if (s == NULL) {
        json_error(x, 401, "not logged in: open the link 'kith ui' prints");
        return;
    }
    if (!is_read(r->method) && !write_allowed(r, s)) {
        logf_(w, KITH_LOG_INFO, "web: refused %s %s: no valid CSRF token or a foreign Origin",
              r->method, path);
        json_error(x, 403, "refused: the request did not come from kith's own page");
        return;
    }
    int get = is_read(r->method);
    if (strcmp(path, "/api/session") == 0 && get) {
        session_answer(w, x, s);
    } else if (strcmp(path, "/api/status") == 0 && get) {
        status_answer(w, x);
    } else if (strcmp(path, "/api/qr.svg") == 0 && get) {
        qr_answer(w, x);
    } else if (strcmp(path, "/api/events") == 0 && get) {
        events_answer(w, x);
    } else if (strncmp(path, "/api/pair", 9) == 0 && (path[9] == '\0' || path[9] == '/')) {
        pair_answer(w, x, path + 9, get);
    } else if (kith_webapi_handles(path)) {
        api_submit(w, x, path, path_len, query);
    } else {
        json_error(x, 404, "no such API call");
    }
}

/* ---- start and stop ----------------------------------------------------------------- */

int
kith_web_new(kith_web_t **out, uv_loop_t *loop, const kith_web_opts_t *opts, char *errbuf,
             size_t errcap)
{
    *out = NULL;
    kith_web_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return KITH_ENOMEM;
    }
    w->secrets = sodium_malloc(sizeof(*w->secrets));
    int rc = w->secrets != NULL ? kith_webapi_new(&w->api) : KITH_ENOMEM;
    if (rc != KITH_OK) {
        snprintf(errbuf, errcap, "cannot start the web UI: %s", kith_strerror(rc));
        if (w->secrets != NULL) {
            sodium_free(w->secrets);
        }
        free(w);
        return rc;
    }
    sodium_memzero(w->secrets, sizeof(*w->secrets));
    w->loop = loop;
    w->node = opts->node;
    w->host = opts->host;
    w->submit = opts->submit;
    w->changed = opts->changed;
    w->log = opts->log;
    w->status_json = opts->status_json;
    w->peers_changed = opts->peers_changed;
    w->add_job.work = add_work;
    w->add_job.done = add_done;
    kith_webpair_cb_t pcb = {w, pair_changed, pair_accepted};
    rc = kith_webpair_new(&w->pair, loop, &pcb);
    if (rc != KITH_OK) {
        snprintf(errbuf, errcap, "cannot start the web UI: %s", kith_strerror(rc));
        kith_webapi_free(w->api);
        sodium_free(w->secrets);
        free(w);
        return rc;
    }
    w->loopback = kith_http_listen_loopback(opts->listen);
    w->refresh_job.work = refresh_work;
    w->refresh_job.done = refresh_done;
    uv_timer_init(loop, &w->ping);
    w->ping.data = w;
    w->ping_open = 1;
    uv_timer_start(&w->ping, on_ping, PING_MS, PING_MS);
    uv_unref((uv_handle_t *) &w->ping);
    *out = w;
    return KITH_OK;
}

void
kith_web_stop(kith_web_t *w)
{
    if (w == NULL || w->stopped) {
        return;
    }
    w->stopped = 1;
    for (size_t i = 0; i < w->n_streams; i++) {
        kith_http_stream_end(w->streams[i]);
    }
    w->n_streams = 0;
    kith_webpair_stop(w->pair);
    if (w->ping_open) {
        w->ping_open = 0;
        uv_close((uv_handle_t *) &w->ping, NULL);
    }
}

void
kith_web_free(kith_web_t *w)
{
    if (w == NULL) {
        return;
    }
    kith_webapi_free(w->api);
    kith_webpair_free(w->pair);
    sodium_free(w->secrets);
    free(w);
}
