/*
 * Pairing from the web page (proto/WEB.md, "Pairing"): one run of net/pairrun.h at a time,
 * on a thread of its own (the run blocks on sockets for minutes), reported to the loop
 * thread through a uv_async_t. When the code matched, the run waits for the user's answer
 * from the page; an accepted peer is then added by the caller, on the store thread, and
 * the result handed back with kith_webpair_done().
 *
 * States: idle, waiting (host: the code is shown), searching (joiner), confirm (the other
 * side's name and fingerprint are shown), adding, added, failed, cancelled.
 */
#ifndef KITH_WEBPAIR_H
#define KITH_WEBPAIR_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "crypto/identity.h"
#include "util/json.h"

#define KITH_WEBPAIR_NAME_MAX 64

typedef struct kith_webpair kith_webpair_t;

typedef struct {
    void *ctx;
    /* Loop thread: the state changed (tell the pages). */
    void (*changed)(void *ctx);
    /* Loop thread: the user accepted the peer: add it (a store job), then call
     * kith_webpair_done(). */
    void (*accepted)(void *ctx, const char *their_name, const uint8_t key[KITH_PK_LEN]);
} kith_webpair_cb_t;

int kith_webpair_new(kith_webpair_t **out, uv_loop_t *loop, const kith_webpair_cb_t *cb);
/* Starts a run: host when code is NULL, else join with code. KITH_EEXISTS if one is
 * running, KITH_EINVAL for a code that is not one (errbuf says why). */
int kith_webpair_start(kith_webpair_t *p, const uint8_t self_pk[KITH_PK_LEN], const char *self_name,
                       const char *code, char *errbuf, size_t errcap);
/* The user's answer in state confirm: KITH_ESTALE in any other state. */
int kith_webpair_answer(kith_webpair_t *p, int accept);
/* Ends a run (the code is void). Nothing if none runs. */
void kith_webpair_cancel(kith_webpair_t *p);
/* After accepted(): the peer was added as local_name (rc KITH_OK), or why not. */
void kith_webpair_done(kith_webpair_t *p, int rc, const char *local_name, const char *sentence);
/* The state as a JSON object: {"state", "code", "peer", "fingerprint", "message"}. */
void kith_webpair_json(kith_webpair_t *p, kith_json_t *j);
/* Cancels and waits for the thread (at most about half a second). */
void kith_webpair_stop(kith_webpair_t *p);
/* After uv_run() returned. NULL does nothing. */
void kith_webpair_free(kith_webpair_t *p);

#endif
