/*
 * Pairing from the web page; see webpair.h.
 *
 * The run's thread and the loop thread share the state under a mutex. The thread only
 * writes the state and wakes the loop (uv_async_send); the loop tells the pages and, once
 * the user accepted, hands the peer to the caller. decide() sleeps on a condition until
 * the page answers or the run is called off.
 */
#include "net/webpair.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "net/pairrun.h"
#include "sync/pairing.h"
#include "util/nodeid.h"

#define JOIN_TIMEOUT_MS 60000 /* as kith pair CODE: how long to look for the host */

typedef enum {
    S_IDLE,
    S_WAITING,   /* host: the code is out */
    S_SEARCHING, /* joiner: looking for the host */
    S_CONFIRM,   /* the code matched: the user decides */
    S_ADDING,    /* accepted: the caller adds the peer */
    S_ADDED,
    S_FAILED,
    S_CANCELLED,
} state_t;

static const char *const state_names[] = {
    "idle", "waiting", "searching", "confirm", "adding", "added", "failed", "cancelled",
};

struct kith_webpair {
    uv_loop_t *loop;
    kith_webpair_cb_t cb;
    uv_async_t wake;
    uv_mutex_t lock;
    uv_cond_t answered;
    uv_thread_t thread;
    int thread_live; /* started and not yet joined */
    /* Under lock. */
    state_t state;
    int answer; /* -1: none yet; 0 refuse; 1 accept */
    volatile int cancel;
    int accepted_told; /* the loop called cb.accepted for this run */
    char code[KITH_PAIRING_CODE_MAX];
    char their_name[KITH_PAIRING_NAME_MAX + 1];
    uint8_t their_key[KITH_PK_LEN];
    char message[256];
    char local_name[KITH_WEBPAIR_NAME_MAX + 1];
    /* The run's arguments. */
    uint8_t self_pk[KITH_PK_LEN];
    char self_name[KITH_PAIRING_NAME_MAX + 1];
    char join_code[KITH_PAIRING_CODE_MAX];
    int joiner;
};

static void
set_state(kith_webpair_t *p, state_t st, const char *message)
{
    uv_mutex_lock(&p->lock);
    p->state = st;
    if (message != NULL) {
        snprintf(p->message, sizeof(p->message), "%s", message);
    }
    uv_mutex_unlock(&p->lock);
    uv_async_send(&p->wake);
}

/* ---- the run's thread --------------------------------------------------------------- */

static void
on_code(void *ctx, const char *code, unsigned expires_s)
{
    kith_webpair_t *p = ctx;
    char msg[128];
    snprintf(msg, sizeof(msg), "Waiting for your colleague; the code expires in %u minutes.",
             (expires_s + 59) / 60);
    uv_mutex_lock(&p->lock);
    snprintf(p->code, sizeof(p->code), "%s", code);
    uv_mutex_unlock(&p->lock);
    set_state(p, S_WAITING, msg);
}

static void
on_progress(void *ctx, const char *sentence)
{
    kith_webpair_t *p = ctx;
    uv_mutex_lock(&p->lock);
    snprintf(p->message, sizeof(p->message), "%s", sentence);
    uv_mutex_unlock(&p->lock);
    uv_async_send(&p->wake);
}

static int
decide(void *ctx, const char *their_name, const uint8_t key[KITH_PK_LEN])
{
    kith_webpair_t *p = ctx;
    uv_mutex_lock(&p->lock);
    snprintf(p->their_name, sizeof(p->their_name), "%s", their_name);
    memcpy(p->their_key, key, KITH_PK_LEN);
    p->state = S_CONFIRM;
    p->answer = -1;
    snprintf(p->message, sizeof(p->message),
             "The code matched. Check the fingerprint with your colleague before you add them.");
    uv_async_send(&p->wake);
    while (p->answer < 0 && !p->cancel) {
        uv_cond_wait(&p->answered, &p->lock);
    }
    int accept = p->answer == 1 && !p->cancel;
    uv_mutex_unlock(&p->lock);
    return accept;
}

static void
run(void *arg)
{
    kith_webpair_t *p = arg;
    kith_pairrun_cb_t cb = {p, on_code, on_progress, decide, &p->cancel};
    char name[KITH_PAIRING_NAME_MAX + 1], err[256] = "";
    uint8_t key[KITH_PK_LEN];
    int rc = p->joiner ? kith_pairrun_join(p->self_pk, p->self_name, p->join_code, JOIN_TIMEOUT_MS,
                                           &cb, name, key, err, sizeof(err))
                       : kith_pairrun_host(p->self_pk, p->self_name, KITH_PAIRING_TTL_MS, &cb, name,
                                           key, err, sizeof(err));
    sodium_memzero(p->join_code, sizeof(p->join_code));
    if (rc == KITH_OK) {
        uv_mutex_lock(&p->lock);
        snprintf(p->their_name, sizeof(p->their_name), "%s", name);
        memcpy(p->their_key, key, KITH_PK_LEN);
        uv_mutex_unlock(&p->lock);
        set_state(p, S_ADDING, "Adding the peer...");
    } else if (rc == KITH_ECANCELED) {
        set_state(p, S_CANCELLED, "Pairing was cancelled; the code is void.");
    } else if (rc == KITH_EPERM) {
        set_state(p, S_FAILED, "Not added.");
    } else {
        set_state(p, S_FAILED, err[0] ? err : kith_strerror(rc));
    }
    uv_mutex_lock(&p->lock);
    sodium_memzero(p->code, sizeof(p->code));
    uv_mutex_unlock(&p->lock);
}

/* ---- the loop thread ---------------------------------------------------------------- */

static void
on_wake(uv_async_t *a)
{
    kith_webpair_t *p = a->data;
    char name[KITH_PAIRING_NAME_MAX + 1];
    uint8_t key[KITH_PK_LEN];
    int tell = 0;
    uv_mutex_lock(&p->lock);
    if (p->state == S_ADDING && !p->accepted_told) {
        p->accepted_told = 1;
        tell = 1;
        memcpy(name, p->their_name, sizeof(name));
        memcpy(key, p->their_key, KITH_PK_LEN);
    }
    uv_mutex_unlock(&p->lock);
    if (tell && p->cb.accepted != NULL) {
        p->cb.accepted(p->cb.ctx, name, key);
    }
    if (p->cb.changed != NULL) {
        p->cb.changed(p->cb.ctx);
    }
}

int
kith_webpair_new(kith_webpair_t **out, uv_loop_t *loop, const kith_webpair_cb_t *cb)
{
    *out = NULL;
    kith_webpair_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return KITH_ENOMEM;
    }
    p->loop = loop;
    p->cb = *cb;
    if (uv_mutex_init(&p->lock) != 0) {
        free(p);
        return KITH_ENOMEM;
    }
    if (uv_cond_init(&p->answered) != 0) {
        uv_mutex_destroy(&p->lock);
        free(p);
        return KITH_ENOMEM;
    }
    uv_async_init(loop, &p->wake, on_wake);
    p->wake.data = p;
    uv_unref((uv_handle_t *) &p->wake);
    *out = p;
    return KITH_OK;
}

static void
join_thread(kith_webpair_t *p)
{
    if (p->thread_live) {
        uv_thread_join(&p->thread);
        p->thread_live = 0;
    }
}

static int
running(state_t st)
{
    return st == S_WAITING || st == S_SEARCHING || st == S_CONFIRM || st == S_ADDING;
}

int
kith_webpair_start(kith_webpair_t *p, const uint8_t self_pk[KITH_PK_LEN], const char *self_name,
                   const char *code, char *errbuf, size_t errcap)
{
    uv_mutex_lock(&p->lock);
    state_t st = p->state;
    uv_mutex_unlock(&p->lock);
    if (running(st)) {
        snprintf(errbuf, errcap, "a pairing is under way: finish or cancel it first");
        return KITH_EEXISTS;
    }
    if (code != NULL) {
        int channel;
        uint8_t words[KITH_PAIRING_WORDS];
        int ok = strlen(code) < sizeof(p->join_code) &&
                 kith_pairing_code_parse(code, &channel, words) == KITH_OK;
        sodium_memzero(words, sizeof(words));
        if (!ok) {
            char hint[KITH_PAIRING_CODE_MAX];
            if (strlen(code) < 256 && kith_pairing_code_suggest(code, hint) == KITH_OK) {
                snprintf(errbuf, errcap, "that is not a pairing code; did you mean %s?", hint);
            } else {
                snprintf(errbuf, errcap, "that is not a pairing code (like 7-orbit-sugar-lantern)");
            }
            return KITH_EINVAL;
        }
    }
    join_thread(p); /* the last run's thread has ended (its state is final) */
    memcpy(p->self_pk, self_pk, KITH_PK_LEN);
    snprintf(p->self_name, sizeof(p->self_name), "%s", self_name);
    p->joiner = code != NULL;
    snprintf(p->join_code, sizeof(p->join_code), "%s", code ? code : "");
    uv_mutex_lock(&p->lock);
    p->state = p->joiner ? S_SEARCHING : S_WAITING;
    p->answer = -1;
    p->cancel = 0;
    p->accepted_told = 0;
    p->code[0] = p->their_name[0] = p->local_name[0] = '\0';
    snprintf(p->message, sizeof(p->message), "%s",
             p->joiner ? "Looking for your colleague on the local network..."
                       : "Opening the local network for pairing...");
    uv_mutex_unlock(&p->lock);
    if (uv_thread_create(&p->thread, run, p) != 0) {
        set_state(p, S_FAILED, "cannot start pairing (no thread)");
        return KITH_ENOMEM;
    }
    p->thread_live = 1;
    uv_async_send(&p->wake);
    return KITH_OK;
}

int
kith_webpair_answer(kith_webpair_t *p, int accept)
{
    int rc = KITH_OK;
    uv_mutex_lock(&p->lock);
    if (p->state != S_CONFIRM || p->answer >= 0) {
        rc = KITH_ESTALE;
    } else {
        p->answer = accept ? 1 : 0;
        uv_cond_signal(&p->answered);
    }
    uv_mutex_unlock(&p->lock);
    return rc;
}

void
kith_webpair_cancel(kith_webpair_t *p)
{
    uv_mutex_lock(&p->lock);
    if (p->state != S_ADDING) { /* an accepted peer is being added: too late */
        p->cancel = 1;
        uv_cond_signal(&p->answered);
    }
    uv_mutex_unlock(&p->lock);
}

void
kith_webpair_done(kith_webpair_t *p, int rc, const char *local_name, const char *sentence)
{
    uv_mutex_lock(&p->lock);
    if (rc == KITH_OK) {
        snprintf(p->local_name, sizeof(p->local_name), "%s", local_name);
    }
    uv_mutex_unlock(&p->lock);
    set_state(p, rc == KITH_OK ? S_ADDED : S_FAILED, sentence);
}

void
kith_webpair_json(kith_webpair_t *p, kith_json_t *j)
{
    uv_mutex_lock(&p->lock);
    kith_json_object_begin(j);
    kith_json_key(j, "state");
    kith_json_string(j, state_names[p->state]);
    kith_json_key(j, "code");
    p->state == S_WAITING && p->code[0] ? kith_json_string(j, p->code) : kith_json_null(j);
    int known = p->state == S_CONFIRM || p->state == S_ADDING || p->state == S_ADDED;
    kith_json_key(j, "peer");
    known ? kith_json_string(j, p->their_name) : kith_json_null(j);
    kith_json_key(j, "fingerprint");
    if (known) {
        char fp[KITH_FINGERPRINT_LEN + 1];
        kith_fingerprint(p->their_key, fp);
        kith_json_string(j, fp);
    } else {
        kith_json_null(j);
    }
    kith_json_key(j, "added_as");
    p->state == S_ADDED ? kith_json_string(j, p->local_name) : kith_json_null(j);
    kith_json_key(j, "message");
    kith_json_string(j, p->message);
    kith_json_object_end(j);
    uv_mutex_unlock(&p->lock);
}

void
kith_webpair_stop(kith_webpair_t *p)
{
    if (p == NULL) {
        return;
    }
    uv_mutex_lock(&p->lock);
    p->cancel = 1;
    uv_cond_signal(&p->answered);
    uv_mutex_unlock(&p->lock);
    join_thread(p); /* the run looks at cancel every 500 ms at most */
    uv_close((uv_handle_t *) &p->wake, NULL);
}

void
kith_webpair_free(kith_webpair_t *p)
{
    if (p == NULL) {
        return;
    }
    uv_cond_destroy(&p->answered);
    uv_mutex_destroy(&p->lock);
    sodium_memzero(p, sizeof(*p));
    free(p);
}
