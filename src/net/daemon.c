/*
 * The daemon; see daemon.h and proto/SYNC.md.
 *
 * Every connection owns a session. Work on a session (bytes in, ops out, pushes) is a
 * job; jobs from all connections and from the daemon itself wait in one FIFO and run on
 * the thread pool one at a time (uv_queue_work), so the store connection is never used by
 * two threads at once. A connection has at most one job queued or running; while it has
 * one, the loop thread does not touch its session.
 */
#include "net/daemon.h"

#include <errno.h>
#include <sodium.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kith/error.h"
#include "net/dav.h"
#include "net/httpd.h"
#include "net/web.h"
#include "net/discovery.h"
#include "net/job.h"
#include "net/syncenv.h"
#include "util/hlc.h"
#include "util/json.h"
#include "util/nodeid.h"

#define TICK_MS        1000
#define STATE_SAVE_MS  10000 /* how often the daemon writes kith.state, at most */
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define PULL_CHUNK     (256 * 1024)
#define MAX_REFUSED    100   /* refused ops in one session before we hang up */
#define BAN_BASE_MS    60000 /* default first back-off of a misbehaving peer */
#define CONTROL_MAX    256   /* bytes of one control command line */

typedef kith_job_t job_t;

typedef struct conn conn_t;

/* What the daemon knows of a peer, kept in memory so the loop thread never reads the
 * store. Reloaded by a job when the CLI pokes. */
typedef struct {
    char name[KITH_PEER_NAME_MAX + 1];
    uint8_t key[KITH_PK_LEN];
    char addr[128]; /* configured address, "" if none */
    int self;
    uint64_t next_dial_ms;
    uint64_t backoff_ms;
    uint64_t last_sync_ms;
    uint64_t ops_sent, ops_received; /* over the daemon's life */
    int dialing;
    int strikes;              /* sessions ended for misbehaviour */
    uint64_t banned_until_ms; /* refuse and do not dial before this */
    int self_changed;         /* set by a reload: its self flag is not what it was */
    uint64_t hello_ms;        /* wall-clock time of the newest message 1 admitted from it */
    int hello_dirty;          /* hello_ms not yet written to the store */
} peer_t;

/* The handshake's peer table: every peer's X25519 key, sorted, with its index in peers[].
 * Built with peers[] (read_peers), so it is always current. */
typedef struct {
    uint8_t x25519[KITH_PK_LEN];
    size_t index;
} peer_x_t;

struct conn {
    kith_daemon_t *d;
    conn_t *next;
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    job_t job;
    kith_session_t *session;
    int initiator;
    uint8_t peer_key[KITH_PK_LEN]; /* known for outgoing connections, learned for incoming */
    char addr[128];                /* the remote address, for logs and peer_seen */
    kith_buf_t rx;                 /* received, not yet given to the session */
    kith_buf_t rx_job;             /* being given to the session by the running job */
    kith_buf_t tx_job;             /* produced by the running job */
    int want_start, want_push;
    int rc;                /* the running job's result */
    int opened, announced; /* session open / peer_seen recorded */
    int hello_logged;      /* the answer to message 1 was logged */
    int synced_reported;
    int has_pending;      /* session has ops waiting for pull (as of the last job) */
    size_t write_pending; /* bytes in uv_write not yet completed */
    int reading, closing, connected;
    int draining;               /* closing once the queued writes are flushed */
    int awaiting_eof;           /* one-shot: said goodbye, waits for the peer's goodbye */
    int eof_seen;               /* the peer hung up; close once its last bytes are handled */
    uint64_t received_before;   /* ops_received before the running job */
    uint64_t last_write_ms;     /* when a write to the peer last completed */
    kith_session_stats_t stats; /* copy after the last job, for status */
};

struct kith_daemon {
    uv_loop_t *loop;
    kith_node_t *node;
    uint64_t state_saved_ms; /* when a job last wrote kith.state */
    kith_daemon_opts_t opts;
    kith_syncenv_t syncenv;
    kith_session_env_t env;
    uv_tcp_t listener;
    uv_pipe_t control;
    uv_timer_t timer;
    uv_signal_t sigint, sigterm;
    int started, listening, control_open, stopping;
    int port;
    char listen_text[128];
    char control_path[4096];
    conn_t *conns;
    size_t n_conns;
    peer_t *peers;
    size_t n_peers;
    peer_x_t *by_x; /* n_peers entries: see peer_x_t */
    peer_x_t *reloaded_by_x;
    job_t persist_job; /* writes the peers' newest message-1 times to the store */
    int hello_dirty;   /* some peer's hello_ms is not yet written */
    /* Job queue. */
    job_t *jobs_head, *jobs_tail;
    job_t *running;
    uv_work_t work;
    job_t reload_job;
    kith_httpd_t *http; /* CardDAV and the web UI; NULL when off */
    kith_dav_t *dav;
    kith_web_t *web;
    char dav_text[80]; /* the server's URL, "" when off */
    peer_t *reloaded;
    size_t n_reloaded;
    int reload_again;
    /* Beacon keys, one pair per peer in the same order (sodium_malloc'd secrets). */
    uint8_t (*beacon_send)[KITH_BEACON_KEY_LEN], (*beacon_recv)[KITH_BEACON_KEY_LEN];
    uint8_t (*reloaded_send)[KITH_BEACON_KEY_LEN], (*reloaded_recv)[KITH_BEACON_KEY_LEN];
    kith_discovery_t *discovery;
    /* One-shot. */
    conn_t *oneshot_conn;
    int oneshot_ok;
    uint64_t started_ms, finished_ms;
    kith_session_stats_t oneshot_stats;
    int handles_open;
    uv_timer_t drain_timer; /* bounds how long stopping waits for queued writes */
    int drain_open;
};

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void logf_(kith_daemon_t *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
logf_(kith_daemon_t *d, int level, const char *fmt, ...)
{
    if (level > d->opts.log_level) {
        return;
    }
    static const char *const names[] = {"error", "info", "debug"};
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    FILE *f = d->opts.log ? d->opts.log : stderr;
    va_list ap;
    va_start(ap, fmt);
    fprintf(f, "%s %s: ", when, names[level]);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
    va_end(ap);
}

static void
session_log(void *ctx, int level, const char *line)
{
    logf_(ctx, level, "%s", line);
}

/* ---- the job queue ------------------------------------------------------------------ */

static void run_next(kith_daemon_t *d);

static void
submit(kith_daemon_t *d, job_t *j)
{
    if (j->queued) {
        return;
    }
    j->queued = 1;
    j->next = NULL;
    if (d->jobs_tail) {
        d->jobs_tail->next = j;
    } else {
        d->jobs_head = j;
    }
    d->jobs_tail = j;
    run_next(d);
}

static void
work_cb(uv_work_t *w)
{
    kith_daemon_t *d = w->data;
    d->running->work(d->running);
}

static void
after_work_cb(uv_work_t *w, int status)
{
    (void) status;
    kith_daemon_t *d = w->data;
    job_t *j = d->running;
    d->running = NULL;
    j->queued = 0;
    j->done(j);
    run_next(d);
}

static void
run_next(kith_daemon_t *d)
{
    if (d->running != NULL || d->jobs_head == NULL) {
        return;
    }
    job_t *j = d->jobs_head;
    d->jobs_head = j->next;
    if (d->jobs_head == NULL) {
        d->jobs_tail = NULL;
    }
    d->running = j;
    d->work.data = d;
    if (uv_queue_work(d->loop, &d->work, work_cb, after_work_cb) != 0) {
        /* The pool refused (only when the loop is closing): run it here. */
        d->running = NULL;
        j->work(j);
        j->queued = 0;
        j->done(j);
    }
}

/* Removes a job that is queued but not running. */
static void
unqueue(kith_daemon_t *d, job_t *j)
{
    if (!j->queued || d->running == j) {
        return;
    }
    job_t **p = &d->jobs_head;
    d->jobs_tail = NULL;
    while (*p) {
        if (*p == j) {
            *p = j->next;
            continue;
        }
        d->jobs_tail = *p;
        p = &(*p)->next;
    }
    j->queued = 0;
}

/* ---- peers -------------------------------------------------------------------------- */

static peer_t *
find_peer_by_key(kith_daemon_t *d, const uint8_t key[KITH_PK_LEN])
{
    for (size_t i = 0; i < d->n_peers; i++) {
        if (memcmp(d->peers[i].key, key, KITH_PK_LEN) == 0) {
            return &d->peers[i];
        }
    }
    return NULL;
}

/* The peer a connection speaks for, or is about to: the key dialled, the key a confirmed
 * session proved, or the key an unconfirmed responder session's message 1 named. NULL
 * before a responder has read message 1. Only while no job runs on the connection. */
static const uint8_t *
conn_peer_key(const conn_t *c)
{
    if (c->initiator || c->opened) {
        return c->peer_key;
    }
    return c->session != NULL && kith_session_is_open(c->session) ? kith_session_peer(c->session)
                                                                  : NULL;
}

static void
free_keys(uint8_t (*keys)[KITH_BEACON_KEY_LEN])
{
    if (keys != NULL) {
        sodium_free(keys);
    }
}

static int
cmp_peer_x(const void *a, const void *b)
{
    return memcmp(((const peer_x_t *) a)->x25519, ((const peer_x_t *) b)->x25519, KITH_PK_LEN);
}

/* Reads the peer list from the store into a fresh array, with each peer's beacon keys,
 * the newest message-1 time admitted from it, and the handshake's table (runs as a job,
 * or before the loop starts). */
static int
read_peers(kith_daemon_t *d, peer_t **out, size_t *n, uint8_t (**send)[KITH_BEACON_KEY_LEN],
           uint8_t (**recv)[KITH_BEACON_KEY_LEN], peer_x_t **by_x)
{
    kith_peer_t *list = NULL;
    size_t count = 0;
    *send = *recv = NULL;
    *by_x = NULL;
    int rc = kith_store_peer_list(d->node->store, &list, &count);
    if (rc != KITH_OK) {
        return rc;
    }
    peer_t *p = calloc(count ? count : 1, sizeof(*p));
    peer_x_t *x = calloc(count ? count : 1, sizeof(*x));
    *send = sodium_malloc((count ? count : 1) * KITH_BEACON_KEY_LEN);
    *recv = sodium_malloc((count ? count : 1) * KITH_BEACON_KEY_LEN);
    if (p == NULL || x == NULL || *send == NULL || *recv == NULL) {
        rc = KITH_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < count; i++) {
        snprintf(p[i].name, sizeof(p[i].name), "%s", list[i].name);
        memcpy(p[i].key, list[i].key, KITH_PK_LEN);
        snprintf(p[i].addr, sizeof(p[i].addr), "%s", list[i].addr);
        p[i].self = list[i].self;
        if (kith_beacon_pair_keys(d->node->id, p[i].key, (*send)[i], (*recv)[i]) != KITH_OK) {
            /* An invalid key cannot be a peer's: random keys that match nothing. */
            randombytes_buf((*send)[i], KITH_BEACON_KEY_LEN);
            randombytes_buf((*recv)[i], KITH_BEACON_KEY_LEN);
        }
        if (kith_identity_x25519_pk(p[i].key, x[i].x25519) != KITH_OK) {
            randombytes_buf(x[i].x25519, KITH_PK_LEN); /* likewise */
        }
        x[i].index = i;
        if ((rc = kith_syncenv_hello_load(d->node->store, p[i].key, &p[i].hello_ms)) != KITH_OK) {
            goto fail;
        }
    }
    qsort(x, count, sizeof(*x), cmp_peer_x);
    kith_peers_free(list, count);
    *out = p;
    *n = count;
    *by_x = x;
    return KITH_OK;
fail:
    kith_peers_free(list, count);
    free(p);
    free(x);
    free_keys(*send);
    free_keys(*recv);
    *send = *recv = NULL;
    return rc;
}

/*
 * The daemon's answer to "may this initiator have message 2?" (kith_session_env_t.admit).
 * It must cost the same whatever the answer (proto/SYNC.md "Handshake"), so: a binary
 * search of by_x that never stops early (its steps depend on the number of peers only),
 * one constant-time comparison, and the same reads for a stranger as for a peer, from a
 * stand-in entry. No store access: the newest message-1 times are in peers[] (written
 * back by the persist job, after the answer is out).
 *
 * Runs in a job, on the thread pool. It may read peers[] and by_x there because the loop
 * thread replaces them (reload_done) and sets bans (conn_done) only between jobs.
 */
static int
daemon_admit(void *ctx, const uint8_t x25519[32], uint64_t hello_ms, uint8_t ed[32], char name[65],
             int *self_peer)
{
    kith_daemon_t *d = (kith_daemon_t *) ((char *) ctx - offsetof(kith_daemon_t, syncenv));
    const peer_x_t *t = d->by_x;
    size_t base = 0, len = d->n_peers;
    while (len > 1) {
        size_t half = len / 2;
        base = memcmp(t[base + half].x25519, x25519, KITH_PK_LEN) <= 0 ? base + half : base;
        len -= half;
    }
    int found = d->n_peers > 0 && crypto_verify_32(t[base].x25519, x25519) == 0;
    peer_t stand_in;
    memset(&stand_in, 0, sizeof(stand_in));
    peer_t *p = found ? &d->peers[t[base].index] : &stand_in;
    memcpy(ed, p->key, KITH_PK_LEN);
    snprintf(name, 65, "%s", p->name);
    *self_peer = p->self;
    int rc = kith_syncenv_hello_check(p->hello_ms, hello_ms, kith_hlc_now_ms());
    if (p->banned_until_ms > now_ms()) {
        rc = KITH_EPERM;
    }
    if (!found) {
        rc = KITH_EAUTH;
    }
    if (rc == KITH_OK) {
        p->hello_ms = hello_ms;
        p->hello_dirty = 1;
        d->hello_dirty = 1;
    }
    return rc;
}

/* Writes the newest message-1 times admitted since the last run, so that a restart does
 * not make recorded messages 1 new again. Submitted by the timer, not by the handshake:
 * a store write right after message 2 would compete for the CPU with the answer's
 * delivery, and so make a trusted peer's answer arrive later than a decoy (measured with
 * scripts/bench-handshake). The cost: a crash within a second of a handshake forgets its
 * time, and a recording of that one message 1 could be answered after the restart. */
static void
persist_work(job_t *j)
{
    kith_daemon_t *d = (kith_daemon_t *) ((char *) j - offsetof(kith_daemon_t, persist_job));
    int rc = kith_store_begin(d->node->store);
    for (size_t i = 0; rc == KITH_OK && i < d->n_peers; i++) {
        if (d->peers[i].hello_dirty) {
            rc = kith_syncenv_hello_save(d->node->store, d->peers[i].key, d->peers[i].hello_ms);
        }
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(d->node->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(d->node->store);
        return; /* still dirty: the next admitted handshake tries again */
    }
    for (size_t i = 0; i < d->n_peers; i++) {
        d->peers[i].hello_dirty = 0;
    }
    d->hello_dirty = 0;
}

static void
persist_done(job_t *j)
{
    (void) j;
}

static void
reload_work(job_t *j)
{
    kith_daemon_t *d = (kith_daemon_t *) ((char *) j - offsetof(kith_daemon_t, reload_job));
    if (read_peers(d, &d->reloaded, &d->n_reloaded, &d->reloaded_send, &d->reloaded_recv,
                   &d->reloaded_by_x) != KITH_OK) {
        d->reloaded = NULL;
        d->n_reloaded = 0;
    }
    if (d->dav != NULL) {
        kith_dav_reload_work(d->dav);
    }
}

static void schedule(conn_t *c);
static void close_conn(conn_t *c);

static void
reload_done(job_t *j)
{
    kith_daemon_t *d = (kith_daemon_t *) ((char *) j - offsetof(kith_daemon_t, reload_job));
    if (d->dav != NULL) {
        kith_dav_reload_done(d->dav);
    }
    if (d->reloaded != NULL) {
        /* Keep the dialling state and counters of peers that are still there. */
        for (size_t i = 0; i < d->n_reloaded; i++) {
            peer_t *old = find_peer_by_key(d, d->reloaded[i].key);
            if (old != NULL) {
                d->reloaded[i].next_dial_ms = old->next_dial_ms;
                d->reloaded[i].backoff_ms = old->backoff_ms;
                d->reloaded[i].last_sync_ms = old->last_sync_ms;
                d->reloaded[i].ops_sent = old->ops_sent;
                d->reloaded[i].ops_received = old->ops_received;
                d->reloaded[i].dialing = old->dialing;
                d->reloaded[i].strikes = old->strikes;
                d->reloaded[i].banned_until_ms = old->banned_until_ms;
                d->reloaded[i].self_changed = old->self != d->reloaded[i].self;
                /* The store may lag behind memory (the persist job comes later). */
                if (old->hello_ms > d->reloaded[i].hello_ms) {
                    d->reloaded[i].hello_ms = old->hello_ms;
                }
                d->reloaded[i].hello_dirty = old->hello_dirty;
            }
        }
        free(d->peers);
        free(d->by_x);
        free_keys(d->beacon_send);
        free_keys(d->beacon_recv);
        d->peers = d->reloaded;
        d->n_peers = d->n_reloaded;
        d->by_x = d->reloaded_by_x;
        d->reloaded_by_x = NULL;
        d->beacon_send = d->reloaded_send;
        d->beacon_recv = d->reloaded_recv;
        d->reloaded = NULL;
        d->reloaded_send = d->reloaded_recv = NULL;
        if (d->discovery != NULL) {
            kith_discovery_set_keys(
                d->discovery, (const uint8_t(*)[KITH_BEACON_KEY_LEN]) d->beacon_send,
                (const uint8_t(*)[KITH_BEACON_KEY_LEN]) d->beacon_recv, d->n_peers);
        }
        /* A peer that was removed loses its sessions at once, proven or not: a session
         * whose handshake is still unconfirmed has already named its peer, and would go
         * on as that peer once it confirms. A session also keeps the self flag it began
         * with, and that flag lets private ops through: when it changed, the peer must
         * reconnect. (No job runs while a job's completion runs, so every session may be
         * read here.) */
        for (conn_t *c = d->conns; c; c = c->next) {
            const uint8_t *key = conn_peer_key(c);
            if (key == NULL || c->closing) {
                continue;
            }
            peer_t *p = find_peer_by_key(d, key);
            if (p == NULL) {
                logf_(d, KITH_LOG_INFO, "closing the session of a peer no longer trusted%s",
                      c->opened || c->initiator ? "" : " (its handshake was unconfirmed)");
                close_conn(c);
            } else if (p->self_changed) {
                logf_(d, KITH_LOG_INFO, "closing the session of %s: it is %s one of your devices",
                      p->name, p->self ? "now" : "no longer");
                close_conn(c);
            }
        }
        for (size_t i = 0; i < d->n_peers; i++) {
            d->peers[i].self_changed = 0;
        }
    }
    if (d->reload_again) {
        d->reload_again = 0;
        submit(d, &d->reload_job);
    }
}

/* ---- connections -------------------------------------------------------------------- */

static void
on_conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    kith_daemon_t *d = c->d;
    d->handles_open--;
    kith_session_free(c->session);
    kith_buf_close(&c->rx);
    kith_buf_close(&c->rx_job);
    kith_buf_close(&c->tx_job);
    free(c);
}

static void
remove_conn(kith_daemon_t *d, conn_t *c)
{
    for (conn_t **p = &d->conns; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            d->n_conns--;
            return;
        }
    }
}

static void finish_drain(kith_daemon_t *d);

static void
really_close(conn_t *c)
{
    remove_conn(c->d, c);
    uv_read_stop((uv_stream_t *) &c->tcp);
    uv_close((uv_handle_t *) &c->tcp, on_conn_closed);
    finish_drain(c->d);
}

/* Closes a connection; if its job is running, the job's completion finishes the close.
 * Writes already queued are flushed first (a goodbye, the last ops), unless the peer is
 * being dropped. */
static void
close_conn(conn_t *c)
{
    kith_daemon_t *d = c->d;
    if (c->closing) {
        return;
    }
    c->closing = 1;
    if (c->opened) {
        kith_web_status_changed(d->web); /* a peer may have gone offline */
    }
    peer_t *p = find_peer_by_key(d, c->peer_key);
    if (p != NULL && c->initiator) {
        p->dialing = 0;
    }
    if (p != NULL && c->opened && d->running != &c->job) {
        p->ops_sent += kith_session_stats(c->session)->ops_sent;
    }
    if (d->oneshot_conn == c) {
        d->oneshot_stats = *kith_session_stats(c->session);
        d->finished_ms = now_ms();
        d->oneshot_conn = NULL;
        kith_daemon_stop(d);
    }
    unqueue(d, &c->job);
    if (d->running == &c->job) {
        return; /* job_done() sees `closing` and comes back here */
    }
    if (c->write_pending > 0) {
        c->draining = 1; /* on_written() closes once the last write completes */
        uv_read_stop((uv_stream_t *) &c->tcp);
        return;
    }
    really_close(c);
}

typedef struct {
    uv_write_t req;
    conn_t *c;
    size_t len;
    char data[];
} write_req_t;

static void
on_written(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *) req;
    conn_t *c = w->c;
    c->write_pending -= w->len;
    free(w);
    if (status == 0) {
        c->last_write_ms = now_ms();
    }
    if (c->draining) {
        if (c->write_pending == 0 || status < 0) {
            c->draining = 0;
            really_close(c);
        }
        return;
    }
    if (status < 0) {
        close_conn(c);
        return;
    }
    if (!c->closing && c->has_pending && c->write_pending < KITH_CONN_TX_MAX / 2) {
        schedule(c);
    }
}

static int
conn_write(conn_t *c, const uint8_t *data, size_t len)
{
    if (len == 0 || c->closing) {
        return 0;
    }
    write_req_t *w = malloc(sizeof(*w) + len);
    if (w == NULL) {
        return -1;
    }
    memcpy(w->data, data, len);
    w->c = c;
    w->len = len;
    uv_buf_t buf = uv_buf_init(w->data, (unsigned) len);
    c->write_pending += len;
    if (uv_write(&w->req, (uv_stream_t *) &c->tcp, &buf, 1, on_written) != 0) {
        c->write_pending -= len;
        free(w);
        return -1;
    }
    return 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void) h;
    (void) suggested;
    buf->base = malloc(65536);
    buf->len = buf->base ? 65536 : 0;
}

static void
conn_work(job_t *j)
{
    conn_t *c = (conn_t *) ((char *) j - offsetof(conn_t, job));
    kith_daemon_t *d = c->d;
    uint64_t t = now_ms();
    int rc = KITH_OK;
    c->tx_job.len = 0;
    c->received_before = kith_session_stats(c->session)->ops_received;
    if (c->want_start) {
        c->want_start = 0;
        rc = kith_session_start(c->session, &c->tx_job);
    }
    if (rc == KITH_OK && c->rx_job.len > 0) {
        /* Everything this job received is applied in one transaction: committing once per
         * job instead of once per message writes each touched page once, not dozens of
         * times, which is most of the cost of a large sync. */
        int txn = kith_store_begin(d->node->store) == KITH_OK;
        d->syncenv.in_batch = txn;
        rc = kith_session_receive(c->session, c->rx_job.data, c->rx_job.len, &c->tx_job, t);
        d->syncenv.in_batch = 0;
        if (txn && kith_store_commit(d->node->store) != KITH_OK) {
            kith_store_rollback(d->node->store);
            rc = rc ? rc : KITH_EDB;
        }
        c->rx_job.len = 0;
        /* Where the store stands goes to kith.state now and then, not only at exit, so
         * that a database put back while the daemon runs is noticed (proto/STORE.md). */
        if (t - d->state_saved_ms >= STATE_SAVE_MS) {
            d->state_saved_ms = t;
            (void) kith_node_save_state(d->node);
        }
    }
    if (rc == KITH_OK && kith_session_is_confirmed(c->session) && !c->announced) {
        c->announced = 1;
        kith_store_peer_seen(d->node->store, kith_session_peer(c->session), kith_hlc_now_ms(),
                             c->addr);
    }
    if (rc == KITH_OK && c->want_push) {
        c->want_push = 0;
        rc = kith_session_push(c->session, &c->tx_job);
    }
    if (rc == KITH_OK && c->write_pending < KITH_CONN_TX_MAX) {
        rc = kith_session_pull(c->session, &c->tx_job, PULL_CHUNK);
    }
    c->has_pending = kith_session_has_pending(c->session);
    c->rc = rc;
}

/* Logs how message 1 was answered (see conn_done). */
static void
log_answer(conn_t *c)
{
    kith_daemon_t *d = c->d;
    const char *name = kith_session_peer_name(c->session);
    switch (kith_session_refusal(c->session)) {
    case KITH_OK:
        logf_(d, KITH_LOG_DEBUG, "answered a handshake from %s", name[0] ? name : c->addr);
        break;
    case KITH_EAUTH:
        logf_(d, KITH_LOG_INFO,
              "refused a handshake from %s: not a trusted peer, or not made for this node's key "
              "(answered with random bytes)",
              c->addr);
        break;
    case KITH_EPERM:
        logf_(d, KITH_LOG_INFO, "refused %s: backed off after misbehaving", name);
        break;
    case KITH_EREPLAY:
        logf_(d, KITH_LOG_INFO,
              "refused a handshake from %s claiming to be %s: a replayed message 1 (not newer "
              "than the last one accepted)",
              c->addr, name);
        break;
    case KITH_ERANGE:
        logf_(d, KITH_LOG_INFO,
              "refused a handshake from %s (%s): its clock is more than an hour ahead of ours",
              c->addr, name);
        break;
    case KITH_EVERSION:
        /* A trusted key, but another sync protocol: say so, since nothing else will
         * (proto/SYNC.md "Versions"). */
        logf_(d, KITH_LOG_INFO,
              "handshake from %s (%s) failed: it runs a kith with another sync protocol "
              "(this one speaks version %d); update the older node",
              c->addr, name, KITH_PROTO_VERSION);
        break;
    default:
        logf_(d, KITH_LOG_INFO, "refused a handshake from %s: %s", c->addr,
              kith_strerror(kith_session_refusal(c->session)));
    }
}

static void
conn_done(job_t *j)
{
    conn_t *c = (conn_t *) ((char *) j - offsetof(conn_t, job));
    kith_daemon_t *d = c->d;
    c->stats = *kith_session_stats(c->session);
    if (c->closing) {
        c->closing = 0;
        close_conn(c);
        return;
    }
    /* The answer to message 1 (message 2, or a decoy of its length for a stranger, a
     * replay, a peer backed off or another version: proto/SYNC.md "Handshake") goes out
     * first; logging it comes after, so that it does not delay the answer. (Storing an
     * admitted time waits for the next tick: see persist_work.) */
    conn_write(c, c->tx_job.data, c->tx_job.len);
    if (!c->initiator && !c->hello_logged &&
        (kith_session_is_open(c->session) || kith_session_refusal(c->session) != KITH_OK)) {
        c->hello_logged = 1;
        log_answer(c);
    }
    if (c->awaiting_eof) {
        /* Our goodbye is out; the peer's answering goodbye means it handled it all. */
        if (kith_session_got_bye(c->session) && d->oneshot_conn == c) {
            d->oneshot_ok = 1;
            close_conn(c);
        } else if (c->rc != KITH_OK || (c->eof_seen && c->rx.len == 0)) {
            close_conn(c);
        } else if (c->rx.len > 0) {
            schedule(c);
        }
        return;
    }
    /* (A session can be confirmed and broken by the same job: check both.) */
    int confirmed = c->opened || kith_session_is_confirmed(c->session);
    if (confirmed && (c->rc == KITH_EPROTO || c->stats.ops_rejected >= MAX_REFUSED)) {
        /* A trusted peer that sends garbage or keeps sending ops we must refuse is cut
         * off, and kept off for a while (longer each time). */
        peer_t *p = find_peer_by_key(d, kith_session_peer(c->session));
        if (p != NULL) {
            uint64_t ban = d->opts.ban_ms << (p->strikes < 6 ? p->strikes : 6);
            p->strikes++;
            p->banned_until_ms = now_ms() + ban;
            logf_(d, KITH_LOG_INFO, "disconnecting %s for %llu s: %s", p->name,
                  (unsigned long long) (ban / 1000),
                  c->rc == KITH_EPROTO ? "it broke the protocol" : "too many refused ops");
        }
        close_conn(c);
        return;
    }
    if (c->rc != KITH_OK || (!kith_session_is_open(c->session) && c->opened)) {
        const char *who =
            kith_session_peer_name(c->session)[0] ? kith_session_peer_name(c->session) : c->addr;
        if (c->rc == KITH_ETAMPER) {
            logf_(d, KITH_LOG_ERROR,
                  "stopped the session with %s: kith.db was changed outside kith (a row that "
                  "decides who gets what does not check), so nothing more is sent; run 'kith "
                  "doctor'",
                  who);
        } else if (c->rc != KITH_OK && confirmed) {
            logf_(d, KITH_LOG_INFO, "session with %s ended: %s", who, kith_strerror(c->rc));
        } else if (kith_session_refusal(c->session) != KITH_OK) {
            logf_(d, KITH_LOG_DEBUG, "closed the refused connection from %s: %s", c->addr,
                  kith_strerror(c->rc));
        } else if (c->rc != KITH_OK && kith_session_is_open(c->session)) {
            logf_(d, KITH_LOG_INFO,
                  "closed a connection from %s claiming to be %s before it proved it: %s "
                  "(a replayed handshake?)",
                  c->addr, who, kith_strerror(c->rc));
        } else if (c->rc == KITH_EVERSION) {
            /* A trusted key, but another sync protocol: say so, since nothing else will
             * (ops version 2 came with sync protocol 2; proto/SYNC.md "Versions"). */
            logf_(d, KITH_LOG_INFO,
                  "handshake from %s (%s) failed: it runs a kith with another sync protocol "
                  "(this one speaks version %d); update the older node",
                  c->addr, who, KITH_PROTO_VERSION);
        } else if (c->rc != KITH_OK) {
            logf_(d, KITH_LOG_INFO, "handshake from %s failed: %s", c->addr, kith_strerror(c->rc));
        }
        close_conn(c);
        return;
    }
    /* Only a confirmed session speaks for its peer: a replayed handshake must not displace
     * the peer's live session, record its address or earn it a ban. */
    if (kith_session_is_confirmed(c->session) && !c->opened) {
        c->opened = 1;
        memcpy(c->peer_key, kith_session_peer(c->session), KITH_PK_LEN);
        kith_web_status_changed(d->web);
        peer_t *p = find_peer_by_key(d, c->peer_key);
        if (p != NULL) {
            p->backoff_ms = 0;
        }
        /* Two sessions with one peer (both dialled at once): keep the one dialled by the
         * node with the smaller key, so both sides drop the same one. */
        for (conn_t *o = d->conns; o; o = o->next) {
            if (o != c && o->opened && !o->closing &&
                memcmp(o->peer_key, c->peer_key, KITH_PK_LEN) == 0) {
                /* Same direction twice: the older one is stale (the peer reconnected). */
                int we_are_smaller = memcmp(d->node->id->pk, c->peer_key, KITH_PK_LEN) < 0;
                conn_t *drop = c->initiator == o->initiator     ? o
                               : c->initiator == we_are_smaller ? o
                                                                : c;
                logf_(d, KITH_LOG_DEBUG, "dropping a duplicate session");
                close_conn(drop);
                if (drop == c) {
                    return;
                }
            }
        }
    }
    if (c->stats.synced && !c->synced_reported) {
        c->synced_reported = 1;
        peer_t *p = find_peer_by_key(d, c->peer_key);
        if (p != NULL) {
            p->last_sync_ms = kith_hlc_now_ms();
        }
        if (d->oneshot_conn == c) {
            /* Say goodbye and wait for the peer to hang up: it does so only after handling
             * everything we sent before the goodbye, so then the sync is really done. */
            kith_buf_t bye;
            kith_buf_init(&bye);
            kith_session_close_msg(c->session, "done", &bye);
            conn_write(c, bye.data, bye.len);
            kith_buf_close(&bye);
            c->awaiting_eof = 1;
            return;
        }
        c->want_push = 1; /* anything stored while we reconciled */
    }
    if (c->stats.ops_received > c->received_before) {
        peer_t *p = find_peer_by_key(d, c->peer_key);
        if (p != NULL) {
            p->ops_received += c->stats.ops_received - c->received_before;
        }
        kith_web_store_changed(d->web);
        /* Relay: what arrived from this peer may be due to others. */
        for (conn_t *o = d->conns; o; o = o->next) {
            if (o != c && o->opened && !o->closing) {
                o->want_push = 1;
                schedule(o);
            }
        }
    }
    if (c->eof_seen && c->rx.len == 0) {
        close_conn(c);
        return;
    }
    if (!c->reading && !c->eof_seen && c->rx.len < KITH_CONN_RX_MAX) {
        c->reading = uv_read_start((uv_stream_t *) &c->tcp, on_alloc, on_read) == 0;
    }
    if (c->rx.len > 0 || c->want_push || (c->has_pending && c->write_pending < KITH_CONN_TX_MAX)) {
        schedule(c);
    }
}

static void
schedule(conn_t *c)
{
    if (c->closing || c->job.queued) {
        return;
    }
    kith_daemon_t *d = c->d;
    /* Hand the received bytes over to the job. */
    kith_buf_t tmp = c->rx_job;
    c->rx_job = c->rx;
    c->rx = tmp;
    c->rx.len = 0;
    submit(d, &c->job);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (nread > 0) {
        if (kith_buf_append(&c->rx, buf->base, (size_t) nread) != KITH_OK) {
            free(buf->base);
            close_conn(c);
            return;
        }
        if (c->rx.len >= KITH_CONN_RX_MAX) {
            /* Back-pressure: the peer waits until we have digested what it sent. */
            uv_read_stop(s);
            c->reading = 0;
        }
        if (!c->job.queued) {
            schedule(c);
        }
    } else if (nread < 0) {
        if (nread != UV_EOF) {
            logf_(c->d, KITH_LOG_DEBUG, "read from %s: %s", c->addr, uv_strerror((int) nread));
            close_conn(c);
        } else if (c->job.queued || c->rx.len > 0) {
            /* Handle what the peer said before hanging up (its goodbye, its last ops). */
            c->eof_seen = 1;
            uv_read_stop(s);
            c->reading = 0;
            schedule(c);
        } else {
            close_conn(c);
        }
    }
    free(buf->base);
}

static conn_t *
new_conn(kith_daemon_t *d, int initiator, const uint8_t *peer_key)
{
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->d = d;
    c->initiator = initiator;
    c->job.work = conn_work;
    c->job.done = conn_done;
    kith_buf_init(&c->rx);
    kith_buf_init(&c->rx_job);
    kith_buf_init(&c->tx_job);
    if (peer_key != NULL) {
        memcpy(c->peer_key, peer_key, KITH_PK_LEN);
    }
    if (kith_session_new(&c->session, &d->env, d->node->id, d->node->name, initiator, peer_key,
                         now_ms()) != KITH_OK ||
        uv_tcp_init(d->loop, &c->tcp) != 0) {
        kith_session_free(c->session);
        free(c);
        return NULL;
    }
    c->tcp.data = c;
    d->handles_open++;
    c->next = d->conns;
    d->conns = c;
    d->n_conns++;
    return c;
}

static void
addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
    char host[64] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *) sa;
        uv_ip4_name(in, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(out, cap, "%s:%d", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *) sa;
        uv_ip6_name(in6, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(out, cap, "[%s]:%d", host, port);
    } else {
        snprintf(out, cap, "?");
    }
}

static void
on_incoming(uv_stream_t *server, int status)
{
    kith_daemon_t *d = server->data;
    if (status < 0 || d->stopping) {
        return;
    }
    conn_t *c = new_conn(d, 0, NULL);
    if (c == NULL) {
        return;
    }
    if (uv_accept(server, (uv_stream_t *) &c->tcp) != 0) {
        close_conn(c);
        return;
    }
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *) &ss, &len) == 0) {
        addr_text((struct sockaddr *) &ss, c->addr, sizeof(c->addr));
    }
    if (d->n_conns > KITH_MAX_CONNECTIONS) {
        /* Full: make room by dropping the oldest connection that has not authenticated
         * yet (a stranger, or someone stalling), so that floods of half-open connections
         * cannot lock trusted peers out; a peer's handshake takes milliseconds. */
        conn_t *victim = NULL;
        for (conn_t *o = d->conns; o; o = o->next) {
            if (o != c && !o->opened && !o->initiator && !o->closing) {
                victim = o; /* the list is newest first: the last match is the oldest */
            }
        }
        if (victim == NULL) {
            logf_(d, KITH_LOG_INFO, "refused %s: too many connections", c->addr);
            close_conn(c);
            return;
        }
        logf_(d, KITH_LOG_DEBUG, "dropped %s to make room", victim->addr);
        close_conn(victim);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->connected = 1;
    c->reading = uv_read_start((uv_stream_t *) &c->tcp, on_alloc, on_read) == 0;
    logf_(d, KITH_LOG_DEBUG, "connection from %s", c->addr);
}

static void
on_connected(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    kith_daemon_t *d = c->d;
    peer_t *p = find_peer_by_key(d, c->peer_key);
    if (status < 0) {
        logf_(d, KITH_LOG_DEBUG, "cannot reach %s at %s: %s", p ? p->name : "peer", c->addr,
              uv_strerror(status));
        if (d->oneshot_conn == c) {
            logf_(d, KITH_LOG_ERROR, "cannot reach %s: %s", c->addr, uv_strerror(status));
        }
        close_conn(c);
        return;
    }
    if (c->closing) {
        return;
    }
    c->connected = 1;
    uv_tcp_nodelay(&c->tcp, 1);
    c->want_start = 1;
    c->reading = uv_read_start((uv_stream_t *) &c->tcp, on_alloc, on_read) == 0;
    schedule(c);
}

/* Parses "HOST:PORT", "[V6]:PORT" or "HOST" into host and port. */
static int
split_addr(const char *text, char *host, size_t cap, int *port)
{
    *port = KITH_DEFAULT_PORT;
    const char *colon;
    size_t hlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL) {
            return -1;
        }
        hlen = (size_t) (close - text - 1);
        text++;
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strrchr(text, ':');
        hlen = colon ? (size_t) (colon - text) : strlen(text);
    }
    if (hlen == 0 || hlen >= cap) {
        return -1;
    }
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (colon != NULL) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end != '\0' || p < 0 || p > 65535) {
            return -1;
        }
        *port = (int) p;
    }
    return 0;
}

typedef struct {
    uv_getaddrinfo_t req;
    kith_daemon_t *d;
    uint8_t key[KITH_PK_LEN];
    char text[128];
} resolve_t;

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    resolve_t *r = (resolve_t *) req;
    kith_daemon_t *d = r->d;
    d->handles_open--;
    peer_t *p = find_peer_by_key(d, r->key);
    conn_t *c = NULL;
    if (status == 0 && !d->stopping) {
        c = new_conn(d, 1, r->key);
    }
    if (c == NULL) {
        if (status != 0) {
            logf_(d, KITH_LOG_INFO, "cannot resolve %s: %s", r->text, uv_strerror(status));
        }
        if (p != NULL) {
            p->dialing = 0;
        }
        if (d->opts.oneshot && d->oneshot_conn == NULL && !d->oneshot_ok) {
            kith_daemon_stop(d);
        }
    } else {
        snprintf(c->addr, sizeof(c->addr), "%s", r->text);
        c->connect_req.data = c;
        if (d->opts.oneshot) {
            d->oneshot_conn = c;
        }
        if (uv_tcp_connect(&c->connect_req, &c->tcp, res->ai_addr, on_connected) != 0) {
            close_conn(c);
        }
    }
    uv_freeaddrinfo(res);
    free(r);
}

static void
dial(kith_daemon_t *d, const uint8_t key[KITH_PK_LEN], const char *addr)
{
    resolve_t *r = calloc(1, sizeof(*r));
    char host[128];
    int port;
    if (r == NULL || split_addr(addr, host, sizeof(host), &port) != 0) {
        logf_(d, KITH_LOG_ERROR, "bad peer address '%s'", addr);
        free(r);
        return;
    }
    r->d = d;
    memcpy(r->key, key, KITH_PK_LEN);
    snprintf(r->text, sizeof(r->text), "%s", addr);
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (uv_getaddrinfo(d->loop, &r->req, on_resolved, host, service, &hints) != 0) {
        free(r);
        return;
    }
    d->handles_open++;
    peer_t *p = find_peer_by_key(d, key);
    if (p != NULL) {
        p->dialing = 1;
    }
}

static int
connected_to(kith_daemon_t *d, const uint8_t key[KITH_PK_LEN])
{
    for (conn_t *c = d->conns; c; c = c->next) {
        if (!c->closing && (c->opened || c->initiator) &&
            memcmp(c->peer_key, key, KITH_PK_LEN) == 0) {
            return 1;
        }
    }
    return 0;
}

static void
dial_peers(kith_daemon_t *d)
{
    uint64_t t = now_ms();
    for (size_t i = 0; i < d->n_peers; i++) {
        peer_t *p = &d->peers[i];
        if (p->addr[0] == '\0' || p->dialing || t < p->next_dial_ms || connected_to(d, p->key)) {
            continue;
        }
        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (p->backoff_ms > BACKOFF_MAX_MS) {
            p->backoff_ms = BACKOFF_MAX_MS;
        }
        p->next_dial_ms = t + p->backoff_ms;
        dial(d, p->key, p->addr);
    }
}

/* A trusted peer announced itself on the LAN: dial it unless a session exists. */
static void
on_beacon(void *ctx, size_t index, const char *host, uint16_t port)
{
    kith_daemon_t *d = ctx;
    if (index >= d->n_peers || d->stopping) {
        return;
    }
    peer_t *p = &d->peers[index];
    uint64_t t = now_ms();
    if (p->dialing || connected_to(d, p->key) || t < p->next_dial_ms || t < p->banned_until_ms) {
        return;
    }
    char addr[192];
    snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, (unsigned) port);
    logf_(d, KITH_LOG_INFO, "found %s on the LAN at %s", p->name, addr);
    p->next_dial_ms = t + BACKOFF_MIN_MS;
    dial(d, p->key, addr);
}

static void
discovery_log(void *ctx, int level, const char *line)
{
    logf_(ctx, level, "%s", line);
}

/* ---- timers and signals ------------------------------------------------------------- */

static void
on_tick(uv_timer_t *t)
{
    kith_daemon_t *d = t->data;
    uint64_t now = now_ms();
    for (conn_t *c = d->conns, *next; c; c = next) {
        next = c->next;
        if (c->closing || c->job.queued) {
            continue;
        }
        kith_buf_t out;
        kith_buf_init(&out);
        /* No job is queued or running for c, so its session is ours to touch. A peer that
         * keeps taking our data is alive even if it is too busy to answer. */
        if (c->last_write_ms != 0) {
            kith_session_note_alive(c->session, c->last_write_ms);
        }
        int rc = kith_session_tick(c->session, now, &out);
        if (rc != KITH_OK && !c->opened && !c->initiator) {
            logf_(d, KITH_LOG_INFO, "dropped %s: handshake timed out", c->addr);
            close_conn(c);
        } else if (rc != KITH_OK) {
            close_conn(c);
        } else {
            conn_write(c, out.data, out.len);
        }
        kith_buf_close(&out);
    }
    /* hello_dirty is the workers' to write: read it only while no job runs. */
    if (d->running == NULL && d->hello_dirty) {
        submit(d, &d->persist_job);
    }
    if (d->opts.oneshot) {
        if (now - d->started_ms > d->opts.oneshot_timeout_ms) {
            logf_(d, KITH_LOG_ERROR, "sync timed out");
            kith_daemon_stop(d);
        }
        return;
    }
    dial_peers(d);
}

static void
on_signal(uv_signal_t *s, int signum)
{
    kith_daemon_t *d = s->data;
    logf_(d, KITH_LOG_INFO, "received %s, stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
    kith_daemon_stop(d);
}

/* ---- control socket ----------------------------------------------------------------- */

typedef struct {
    uv_pipe_t pipe;
    kith_daemon_t *d;
    char line[CONTROL_MAX];
    size_t len;
} control_client_t;

static void
on_control_closed(uv_handle_t *h)
{
    control_client_t *cc = h->data;
    cc->d->handles_open--;
    free(cc);
}

typedef struct {
    uv_write_t req;
    control_client_t *cc;
    char data[];
} control_write_t;

static void
on_control_written(uv_write_t *req, int status)
{
    (void) status;
    control_write_t *w = (control_write_t *) req;
    uv_close((uv_handle_t *) &w->cc->pipe, on_control_closed);
    free(w);
}

static void
control_reply(control_client_t *cc, const char *text, size_t len)
{
    control_write_t *w = malloc(sizeof(*w) + len);
    if (w == NULL) {
        uv_close((uv_handle_t *) &cc->pipe, on_control_closed);
        return;
    }
    memcpy(w->data, text, len);
    w->cc = cc;
    uv_buf_t buf = uv_buf_init(w->data, (unsigned) len);
    if (uv_write(&w->req, (uv_stream_t *) &cc->pipe, &buf, 1, on_control_written) != 0) {
        free(w);
        uv_close((uv_handle_t *) &cc->pipe, on_control_closed);
    }
}

static void
status_json(kith_daemon_t *d, kith_buf_t *out)
{
    kith_json_t j;
    char nid[KITH_NODEID_BUFSIZE], when[24];
    kith_json_init(&j, out, 1);
    kith_json_object_begin(&j);
    kith_nodeid_encode(d->node->id->pk, nid);
    kith_json_key(&j, "node_id");
    kith_json_string(&j, nid);
    kith_json_key(&j, "name");
    kith_json_string(&j, d->node->name);
    kith_json_key(&j, "listening");
    kith_json_string(&j, d->listen_text);
    kith_json_key(&j, "dav");
    kith_json_string(&j, d->dav_text);
    kith_json_key(&j, "pid");
    kith_json_int(&j, (int64_t) getpid());
    kith_json_key(&j, "peers");
    kith_json_array_begin(&j);
    for (size_t i = 0; i < d->n_peers; i++) {
        peer_t *p = &d->peers[i];
        conn_t *live = NULL;
        for (conn_t *c = d->conns; c; c = c->next) {
            if (c->opened && !c->closing && memcmp(c->peer_key, p->key, KITH_PK_LEN) == 0) {
                live = c;
            }
        }
        kith_json_object_begin(&j);
        kith_json_key(&j, "name");
        kith_json_string(&j, p->name);
        kith_json_key(&j, "online");
        kith_json_bool(&j, live != NULL);
        kith_json_key(&j, "address");
        live ? kith_json_string(&j, live->addr)
             : (p->addr[0] ? kith_json_string(&j, p->addr) : kith_json_null(&j));
        kith_json_key(&j, "last_sync");
        if (p->last_sync_ms) {
            kith_hlc_format(p->last_sync_ms << 16, when);
            kith_json_string(&j, when);
        } else {
            kith_json_null(&j);
        }
        kith_json_key(&j, "ops_sent");
        kith_json_uint(&j, p->ops_sent + (live ? live->stats.ops_sent : 0));
        kith_json_key(&j, "ops_received");
        kith_json_uint(&j, p->ops_received);
        kith_json_object_end(&j);
    }
    kith_json_array_end(&j);
    kith_json_object_end(&j);
    kith_json_finish(&j);
}

static void
status_text(kith_daemon_t *d, kith_buf_t *out)
{
    char nid[KITH_NODEID_BUFSIZE], when[24];
    kith_nodeid_encode(d->node->id->pk, nid);
    kith_buf_printf(out, "Daemon running (pid %d), listening on %s\nNode ID: %s\n", (int) getpid(),
                    d->listen_text, nid);
    kith_buf_printf(out, "CardDAV: %s\n",
                    d->dav_text[0] ? d->dav_text : "off (see the daemon's log)");
    if (d->dav_text[0]) {
        kith_buf_printf(out, "Web UI: %sui/ (log in with 'kith ui')\n", d->dav_text);
    }
    if (d->n_peers == 0) {
        kith_buf_printf(out, "No peers yet.\n");
    }
    for (size_t i = 0; i < d->n_peers; i++) {
        peer_t *p = &d->peers[i];
        conn_t *live = NULL;
        for (conn_t *c = d->conns; c; c = c->next) {
            if (c->opened && !c->closing && memcmp(c->peer_key, p->key, KITH_PK_LEN) == 0) {
                live = c;
            }
        }
        if (p->last_sync_ms) {
            kith_hlc_format(p->last_sync_ms << 16, when);
        } else {
            snprintf(when, sizeof(when), "never");
        }
        kith_buf_printf(out, "  %-16s %-8s last sync %s%s  ops sent %llu, received %llu%s%s\n",
                        p->name, live ? "online" : "offline", when, p->last_sync_ms ? " UTC" : "",
                        (unsigned long long) (p->ops_sent + (live ? live->stats.ops_sent : 0)),
                        (unsigned long long) p->ops_received, live ? "  at " : "",
                        live ? live->addr : "");
    }
}

/* New local ops (the CLI poked, or a CardDAV client wrote a card): push to everyone. */
static void
push_all(kith_daemon_t *d)
{
    for (conn_t *c = d->conns; c; c = c->next) {
        if (c->opened && !c->closing) {
            c->want_push = 1;
            schedule(c);
        }
    }
}

/* ---- CardDAV's hooks ---- */

static void
dav_submit(void *host, kith_job_t *job)
{
    submit(host, job);
}

static void
dav_changed(void *host)
{
    kith_daemon_t *d = host;
    push_all(d);
    kith_web_store_changed(d->web);
}

static void
dav_log(void *host, int level, const char *line)
{
    logf_(host, level, "%s", line);
}

/* ---- the web UI's hooks ---- */

static void
web_changed(void *host)
{
    push_all(host); /* the web module tells its own pages */
}

/* Reads the peers again (a store job), once more if a reload is queued already. */
static void
reload_peers(kith_daemon_t *d)
{
    if (d->reload_job.queued) {
        d->reload_again = 1;
    } else {
        submit(d, &d->reload_job);
    }
}

/* A peer was paired from the page: reload the peers (as after the CLI's poke). */
static void
web_peers_changed(void *host)
{
    reload_peers(host);
}

static void
web_status(void *host, kith_buf_t *out)
{
    status_json(host, out);
}

/* One server for CardDAV and the web UI: the page and its API under /ui/ and /api/ (and a
 * browser's GET / and /favicon.ico go to the page); everything else is WebDAV's. */
static void
on_http(void *ctx, kith_http_exchange_t *x)
{
    kith_daemon_t *d = ctx;
    const char *t = kith_http_exchange_request(x)->target;
    const char *m = kith_http_exchange_request(x)->method;
    int web = strncmp(t, "/ui", 3) == 0 || strncmp(t, "/api/", 5) == 0 ||
              strcmp(t, "/favicon.ico") == 0 ||
              (strcmp(t, "/") == 0 && strcmp(m, "GET") == 0 &&
               kith_http_header(kith_http_exchange_request(x), "authorization") == NULL);
    if (web) {
        kith_web_handle(d->web, x);
    } else {
        kith_dav_handle(d->dav, x);
    }
}

/* Starts the HTTP server. A port asked for that cannot be bound stops the daemon; the
 * default port may be another node's on this machine: then the daemon runs on without. */
static int
start_http(kith_daemon_t *d, char *errbuf, size_t errcap)
{
    const char *where = d->opts.http ? d->opts.http : KITH_DAV_DEFAULT_LISTEN;
    kith_dav_opts_t o = {where, d->node, d, dav_submit, dav_changed, dav_log};
    kith_web_opts_t wo = {where,       d->node, d,          dav_submit,
                          web_changed, dav_log, web_status, web_peers_changed};
    char err[256] = "";
    int rc = kith_dav_new(&d->dav, &o, err, sizeof(err));
    if (rc == KITH_OK) {
        rc = kith_web_new(&d->web, d->loop, &wo, err, sizeof(err));
    }
    if (rc != KITH_OK) {
        snprintf(errbuf, errcap, "%s", err);
        return rc;
    }
    kith_httpd_opts_t ho = {where, KITH_WEB_MAX_BODY, 5000, on_http, d};
    rc = kith_httpd_start(&d->http, d->loop, &ho, err, sizeof(err));
    if (rc != KITH_OK && d->opts.http != NULL) {
        snprintf(errbuf, errcap, "web UI and CardDAV: %s", err);
        return rc;
    }
    if (rc != KITH_OK) {
        logf_(d, KITH_LOG_ERROR, "web UI and CardDAV not started: %s (choose a port with --http)",
              err);
        return KITH_OK;
    }
    char host[64];
    snprintf(host, sizeof(host), "%s", where);
    char *colon = strrchr(host, ':');
    if (colon != NULL) {
        *colon = '\0';
    }
    /* A wildcard address is reached on this machine through loopback. */
    if (strcmp(host, "0.0.0.0") == 0) {
        snprintf(host, sizeof(host), "127.0.0.1");
    } else if (strcmp(host, "[::]") == 0) {
        snprintf(host, sizeof(host), "[::1]");
    }
    snprintf(d->dav_text, sizeof(d->dav_text), "http://%s:%d/", host, kith_httpd_port(d->http));
    logf_(d, KITH_LOG_INFO,
          "web UI and CardDAV on %s ('kith ui' opens the page, 'kith dav' shows the CardDAV login)",
          d->dav_text);
    return KITH_OK;
}

static void
control_command(control_client_t *cc)
{
    kith_daemon_t *d = cc->d;
    if (strcmp(cc->line, "poke") == 0) {
        /* A local change: reload peers (they may have changed) and push to everyone. */
        reload_peers(d);
        push_all(d);
        kith_web_store_changed(d->web);
        control_reply(cc, "ok\n", 3);
    } else if (strcmp(cc->line, "ui-login") == 0) {
        /* A one-time login link for the web page (kith ui): the socket is the owner's. */
        char path[128], line[256];
        if (d->web == NULL || !d->dav_text[0] ||
            kith_web_login_path(d->web, path, sizeof(path)) != KITH_OK) {
            control_reply(cc, "error the web UI is off\n", 24);
        } else {
            int n = snprintf(line, sizeof(line), "%.*s%s\n", (int) strlen(d->dav_text) - 1,
                             d->dav_text, path);
            control_reply(cc, line, (size_t) n);
            sodium_memzero(line, sizeof(line));
            sodium_memzero(path, sizeof(path));
        }
    } else if (strcmp(cc->line, "status-text") == 0) {
        kith_buf_t out;
        kith_buf_init(&out);
        status_text(d, &out);
        control_reply(cc, out.data ? (char *) out.data : "\n", out.data ? out.len : 1);
        kith_buf_close(&out);
    } else if (strcmp(cc->line, "status") == 0) {
        kith_buf_t out;
        kith_buf_init(&out);
        status_json(d, &out);
        control_reply(cc, out.data ? (char *) out.data : "{}\n", out.data ? out.len : 3);
        kith_buf_close(&out);
    } else {
        control_reply(cc, "error unknown command\n", 22);
    }
}

static void
on_control_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    control_client_t *cc = s->data;
    if (nread > 0) {
        for (ssize_t i = 0; i < nread; i++) {
            char ch = buf->base[i];
            if (ch == '\n') {
                cc->line[cc->len] = '\0';
                uv_read_stop(s);
                control_command(cc);
                free(buf->base);
                return;
            }
            if (cc->len + 1 >= CONTROL_MAX) {
                break; /* too long: drop the client */
            }
            cc->line[cc->len++] = ch;
        }
        if (cc->len + 1 < CONTROL_MAX) {
            free(buf->base);
            return;
        }
    }
    free(buf->base);
    uv_read_stop(s);
    uv_close((uv_handle_t *) &cc->pipe, on_control_closed);
}

static void
on_control_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void) h;
    (void) suggested;
    buf->base = malloc(CONTROL_MAX);
    buf->len = buf->base ? CONTROL_MAX : 0;
}

static void
on_control_connection(uv_stream_t *server, int status)
{
    kith_daemon_t *d = server->data;
    if (status < 0 || d->stopping) {
        return;
    }
    control_client_t *cc = calloc(1, sizeof(*cc));
    if (cc == NULL || uv_pipe_init(d->loop, &cc->pipe, 0) != 0) {
        free(cc);
        return;
    }
    cc->d = d;
    cc->pipe.data = cc;
    d->handles_open++;
    if (uv_accept(server, (uv_stream_t *) &cc->pipe) != 0 ||
        uv_read_start((uv_stream_t *) &cc->pipe, on_control_alloc, on_control_read) != 0) {
        uv_close((uv_handle_t *) &cc->pipe, on_control_closed);
    }
}

int
kith_control_call(const char *home, const char *command, kith_buf_t *out)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if ((size_t) snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", home, KITH_CONTROL_SOCKET) >=
        sizeof(sa.sun_path)) {
        return KITH_ETOOBIG;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return KITH_EIO;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        close(fd);
        return KITH_ENOTFOUND;
    }
    char line[CONTROL_MAX];
    int n = snprintf(line, sizeof(line), "%s\n", command);
    int rc = KITH_OK;
    if (write(fd, line, (size_t) n) != n) {
        rc = KITH_EIO;
    }
    char buf[4096];
    ssize_t r;
    while (rc == KITH_OK && (r = read(fd, buf, sizeof(buf))) > 0) {
        rc = kith_buf_append(out, buf, (size_t) r);
        if (out->len > (1 << 20)) {
            rc = KITH_ETOOBIG;
        }
    }
    close(fd);
    return rc;
}

/* ---- life --------------------------------------------------------------------------- */

static int
count_share(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const kith_share_target_t *t, int role)
{
    (void) ctx;
    (void) id;
    (void) t;
    (void) role;
    return KITH_OK;
}

int
kith_daemon_new(kith_daemon_t **out, uv_loop_t *loop, kith_node_t *node,
                const kith_daemon_opts_t *opts, char *errbuf, size_t errcap)
{
    *out = NULL;
    kith_daemon_t *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return KITH_ENOMEM;
    }
    d->loop = loop;
    d->node = node;
    d->opts = *opts;
    /* A long-lived process with large write transactions: a cache that holds what a sync
     * touches saves rereading pages from one job to the next. */
    kith_store_set_cache_kib(node->store, 32 * 1024);
    if (d->opts.oneshot_timeout_ms == 0) {
        d->opts.oneshot_timeout_ms = 120000;
    }
    if (d->opts.ban_ms == 0) {
        d->opts.ban_ms = BAN_BASE_MS;
    }
    d->syncenv.node = node;
    d->syncenv.log = session_log;
    d->syncenv.log_ctx = d;
    kith_syncenv_bind(&d->syncenv, &d->env);
    d->env.admit = daemon_admit;
    d->reload_job.work = reload_work;
    d->reload_job.done = reload_done;
    d->persist_job.work = persist_work;
    d->persist_job.done = persist_done;
    int rc = read_peers(d, &d->peers, &d->n_peers, &d->beacon_send, &d->beacon_recv, &d->by_x);
    if (rc != KITH_OK) {
        snprintf(errbuf, errcap, "cannot read the peers: %s", kith_strerror(rc));
        free(d);
        return rc;
    }
    /* The shares decide what is shared when a group changes: they check as a whole before
     * the daemon serves anyone (the peers checked as the node opened). */
    rc = kith_store_share_foreach(node->store, NULL, count_share, NULL);
    if (rc != KITH_OK) {
        snprintf(errbuf, errcap, "cannot read the shares: %s; run 'kith doctor'",
                 kith_strerror(rc));
        free(d->peers);
        free_keys(d->beacon_send);
        free_keys(d->beacon_recv);
        free(d);
        return rc;
    }
    *out = d;
    return KITH_OK;
}

int
kith_daemon_port(const kith_daemon_t *d)
{
    return d->port;
}

static void
on_plain_closed(uv_handle_t *h)
{
    kith_daemon_t *d = h->data;
    d->handles_open--;
}

int
kith_daemon_start(kith_daemon_t *d, char *errbuf, size_t errcap)
{
    d->started_ms = now_ms();
    d->started = 1;
    uv_timer_init(d->loop, &d->timer);
    d->timer.data = d;
    d->handles_open++;
    uv_timer_start(&d->timer, on_tick, TICK_MS, TICK_MS);
    uv_signal_init(d->loop, &d->sigint);
    uv_signal_init(d->loop, &d->sigterm);
    d->sigint.data = d->sigterm.data = d;
    d->handles_open += 2;
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    if (d->opts.oneshot) {
        dial(d, d->opts.oneshot_peer, d->opts.oneshot_addr);
        return KITH_OK;
    }
    char host[128];
    int port;
    const char *listen = d->opts.listen ? d->opts.listen : "0.0.0.0:5484";
    struct sockaddr_storage ss;
    if (split_addr(listen, host, sizeof(host), &port) != 0 ||
        (uv_ip4_addr(host, port, (struct sockaddr_in *) &ss) != 0 &&
         uv_ip6_addr(host, port, (struct sockaddr_in6 *) &ss) != 0)) {
        snprintf(errbuf, errcap, "'%s' is not ADDR:PORT (a numeric IPv4 or IPv6 address)", listen);
        return KITH_EINVAL;
    }
    uv_tcp_init(d->loop, &d->listener);
    d->listener.data = d;
    d->handles_open++;
    d->listening = 1;
    int e = uv_tcp_bind(&d->listener, (struct sockaddr *) &ss, 0);
    if (e == 0) {
        e = uv_listen((uv_stream_t *) &d->listener, 128, on_incoming);
    }
    if (e != 0) {
        snprintf(errbuf, errcap, "cannot listen on %s: %s", listen, uv_strerror(e));
        return KITH_EIO;
    }
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    uv_tcp_getsockname(&d->listener, (struct sockaddr *) &bound, &blen);
    d->port = ntohs(((struct sockaddr_in *) &bound)->sin_port);
    addr_text((struct sockaddr *) &bound, d->listen_text, sizeof(d->listen_text));

    /* The control socket: owner-only, like everything in the home. */
    snprintf(d->control_path, sizeof(d->control_path), "%s/%s", d->node->dir, KITH_CONTROL_SOCKET);
    kith_buf_t probe;
    kith_buf_init(&probe);
    if (kith_control_call(d->node->dir, "status", &probe) == KITH_OK) {
        kith_buf_close(&probe);
        snprintf(errbuf, errcap, "a kith daemon is already running for %s", d->node->dir);
        return KITH_EEXISTS;
    }
    kith_buf_close(&probe);
    unlink(d->control_path); /* left over from a daemon that died */
    uv_pipe_init(d->loop, &d->control, 0);
    d->control.data = d;
    d->handles_open++;
    d->control_open = 1;
    mode_t old = umask(077);
    e = uv_pipe_bind(&d->control, d->control_path);
    umask(old);
    if (e == 0) {
        chmod(d->control_path, 0600);
        e = uv_listen((uv_stream_t *) &d->control, 16, on_control_connection);
    }
    if (e != 0) {
        snprintf(errbuf, errcap, "cannot open the control socket %s: %s", d->control_path,
                 uv_strerror(e));
        return KITH_EIO;
    }
    if (d->opts.http == NULL || d->opts.http[0] != '\0') {
        int rc = start_http(d, errbuf, errcap);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    if (d->opts.discovery) {
        char state[4200];
        snprintf(state, sizeof(state), "%s/%s", d->node->dir, KITH_DISCOVERY_STATE_FILE);
        int rc = kith_discovery_start(&d->discovery, d->loop, KITH_DISCOVERY_PORT,
                                      (uint16_t) d->port, state, on_beacon, discovery_log, d);
        if (rc == KITH_OK) {
            kith_discovery_set_keys(
                d->discovery, (const uint8_t(*)[KITH_BEACON_KEY_LEN]) d->beacon_send,
                (const uint8_t(*)[KITH_BEACON_KEY_LEN]) d->beacon_recv, d->n_peers);
        }
    }
    char nid[KITH_NODEID_BUFSIZE];
    kith_nodeid_encode(d->node->id->pk, nid);
    logf_(d, KITH_LOG_INFO, "kith %s serving %s on %s (%zu peers, discovery %s)", KITH_VERSION, nid,
          d->listen_text, d->n_peers, d->opts.discovery ? "on" : "off");
    dial_peers(d);
    return KITH_OK;
}

/* Once stopping and no connection is still flushing, the drain timer goes too. */
static void
finish_drain(kith_daemon_t *d)
{
    if (!d->drain_open) {
        return;
    }
    for (conn_t *c = d->conns; c; c = c->next) {
        if (c->draining || d->running == &c->job) {
            return;
        }
    }
    d->drain_open = 0;
    uv_close((uv_handle_t *) &d->drain_timer, on_plain_closed);
}

static void
on_drain_timeout(uv_timer_t *t)
{
    kith_daemon_t *d = t->data;
    for (conn_t *c = d->conns, *next; c; c = next) {
        next = c->next;
        if (c->draining) {
            c->draining = 0;
            really_close(c); /* a peer that stopped reading: give up on the rest */
        }
    }
    finish_drain(d);
}

void
kith_daemon_stop(kith_daemon_t *d)
{
    if (d->stopping) {
        return;
    }
    d->stopping = 1;
    /* Store the message-1 times admitted since the last tick (a job: it runs after the
     * one running now, if any, and uv_run() waits for it). */
    submit(d, &d->persist_job);
    uv_timer_init(d->loop, &d->drain_timer);
    d->drain_timer.data = d;
    d->handles_open++;
    d->drain_open = 1;
    uv_timer_start(&d->drain_timer, on_drain_timeout, 3000, 0);
    if (d->started) {
        uv_close((uv_handle_t *) &d->timer, on_plain_closed);
        uv_close((uv_handle_t *) &d->sigint, on_plain_closed);
        uv_close((uv_handle_t *) &d->sigterm, on_plain_closed);
    }
    if (d->listening) {
        uv_close((uv_handle_t *) &d->listener, on_plain_closed);
    }
    if (d->control_open) {
        uv_close((uv_handle_t *) &d->control, on_plain_closed);
        unlink(d->control_path);
    }
    kith_discovery_stop(d->discovery);
    d->discovery = NULL;
    kith_web_stop(d->web);
    kith_httpd_stop(d->http);
    for (conn_t *c = d->conns, *next; c; c = next) {
        next = c->next;
        if (!c->job.queued && c->connected && !c->closing) {
            kith_buf_t bye;
            kith_buf_init(&bye);
            kith_session_close_msg(c->session, "shutting down", &bye);
            conn_write(c, bye.data, bye.len);
            kith_buf_close(&bye);
        }
        close_conn(c);
    }
    finish_drain(d);
}

void
kith_daemon_free(kith_daemon_t *d)
{
    if (d == NULL) {
        return;
    }
    kith_httpd_free(d->http);
    kith_dav_free(d->dav);
    kith_web_free(d->web);
    free(d->peers);
    free(d->reloaded);
    free(d->by_x);
    free(d->reloaded_by_x);
    free_keys(d->beacon_send);
    free_keys(d->beacon_recv);
    free_keys(d->reloaded_send);
    free_keys(d->reloaded_recv);
    free(d);
}

int
kith_daemon_http_port(const kith_daemon_t *d)
{
    return d->http != NULL && d->dav_text[0] ? kith_httpd_port(d->http) : 0;
}

int
kith_daemon_oneshot_result(const kith_daemon_t *d, kith_session_stats_t *stats,
                           uint64_t *elapsed_ms)
{
    *stats = d->oneshot_stats;
    *elapsed_ms = (d->finished_ms ? d->finished_ms : now_ms()) - d->started_ms;
    return d->oneshot_ok;
}
