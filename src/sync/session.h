/*
 * A sync session with one peer: the Noise IK handshake, framing, reconciliation, op
 * transfer and live pushes, as a pure state machine (proto/SYNC.md).
 *
 * The session never touches a socket, a file or the clock. Bytes from the network go
 * into kith_session_receive(); bytes to send come out in a kith_buf_t. Store access goes
 * through the callbacks of kith_session_env_t, so the daemon can run every call on the
 * one thread that owns the database, and tests can run two sessions against each other
 * in memory.
 *
 * Life: kith_session_new(); the initiator calls kith_session_start(); then any number of
 * receive / pull / push / tick calls; a call returning an error means the connection
 * must be closed (the out buffer may still hold a last message to flush first).
 */
#ifndef KITH_SESSION_H
#define KITH_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "store/store.h"
#include "sync/reconcile.h"
#include "util/buf.h"

#define KITH_PROTO_VERSION        3
#define KITH_HELLO_LEN            128   /* bytes of every handshake payload, padded to it */
#define KITH_FRAME_MAX            65535 /* bytes of one Noise message on the wire */
#define KITH_MSG_MAX              (KITH_FRAME_MAX - 16) /* plaintext of one message */
#define KITH_HANDSHAKE_MS         10000                 /* handshake must finish within this */
#define KITH_KEEPALIVE_MS         30000 /* send a ping after this long without sending */
#define KITH_DEAD_MS              90000 /* close after this long without hearing anything */
#define KITH_REKEY_EVERY          65536 /* messages per direction between rekeys */
#define KITH_SESSION_MAX_IN       (2 * (KITH_FRAME_MAX + 2)) /* bytes buffered from the peer */
#define KITH_SESSION_MAX_RECEIVED 16384 /* op ids remembered to avoid echoing them back */
/* Messages that carry nothing (PING, PONG, an empty op batch) are budgeted: an honest
 * peer sends one a keepalive period at most, so a peer that sends more than a burst of
 * them, beyond one a second, is flooding and the session ends (KITH_EPROTO). */
#define KITH_USELESS_BURST     100
#define KITH_USELESS_REFILL_MS 1000

typedef struct kith_session kith_session_t;

typedef struct {
    void *ctx;
    /* The trusted peer whose X25519 static key is x25519: fills its Ed25519 key, local
     * name (may be left empty) and whether it is one of the user's devices. KITH_ENOTFOUND
     * for a stranger. Used by the initiator, to name the peer it reached. */
    int (*find_peer)(void *ctx, const uint8_t x25519[32], uint8_t ed[32], char name[65],
                     int *self_peer);
    /* Responder, message 1: may the initiator whose X25519 static key is x25519 and whose
     * message 1 carries hello_ms (its wall clock) have an answer? Called once for every
     * message 1, valid or not (then with a random key and hello_ms 0, which is never
     * admitted), and must take the same time whatever it answers: no per-peer loop, no
     * lookup whose cost depends on whether the key is known (proto/SYNC.md "Handshake").
     * When the key is a trusted peer's it fills ed, name and self_peer, even if it
     * refuses. KITH_OK: admitted, and hello_ms is recorded as the newest message 1 of that
     * peer. Refusals: KITH_EAUTH (not a trusted key), KITH_EPERM (a peer backed off),
     * KITH_EREPLAY (hello_ms is not newer than the newest admitted from that peer: a
     * replay), KITH_ERANGE (hello_ms is too far ahead of our clock). */
    int (*admit)(void *ctx, const uint8_t x25519[32], uint64_t hello_ms, uint8_t ed[32],
                 char name[65], int *self_peer);
    /* Initiator: the wall-clock time (ms since 1970) to put in message 1; every call
     * returns more than the one before. */
    uint64_t (*hello_clock)(void *ctx);
    /* The set offered to the peer, sorted, with each item's record id; see
     * kith_store_sync_items(). The session frees both arrays with free(). */
    int (*load_items)(void *ctx, const uint8_t peer[32], int self_peer, kith_item_t **items,
                      uint8_t (**recs)[16], size_t *n, uint64_t *max_seq);
    /* Appends the signed op with this hash to out. */
    int (*load_op)(void *ctx, const uint8_t hash[32], kith_buf_t *out);
    /* Applies a batch of signed ops received from the peer, in one transaction. */
    int (*apply_ops)(void *ctx, const uint8_t peer[32], int self_peer, const uint8_t *const *ops,
                     const size_t *lens, size_t n, kith_apply_stats_t *stats);
    /* Ops for the peer stored after after_seq (see kith_store_ops_since()). */
    int (*ops_since)(void *ctx, const uint8_t peer[32], int self_peer, uint64_t after_seq,
                     size_t limit, kith_seq_op_cb cb, void *cb_ctx, uint64_t *last_seq);
    /* Every op of record rec for the peer (see kith_store_record_ops_for()). */
    int (*record_ops)(void *ctx, const uint8_t peer[32], int self_peer, const uint8_t rec[16],
                      kith_seq_op_cb cb, void *cb_ctx);
    /* 1 if the peer was removed from the audience of record rec (the set offered holds
     * only the op that removed it and older ones), 0 if not. May be NULL: never. */
    int (*removed_from)(void *ctx, const uint8_t peer[32], const uint8_t rec[16]);
    /* One line for the log (level 0 error, 1 info, 2 debug); may be NULL. */
    void (*log)(void *ctx, int level, const char *line);
} kith_session_env_t;

typedef struct {
    uint64_t ops_sent, ops_received, ops_rejected, ops_duplicate;
    uint64_t bytes_in, bytes_out; /* as on the wire, framing included */
    uint64_t round_trips;         /* reconciliation messages the initiator sent */
    int synced;                   /* 1 once the first reconciliation finished both ways */
} kith_session_stats_t;

/* Makes a session for this node (self). The initiator names the peer it dials by its
 * Ed25519 key; the responder learns it from the handshake. */
int kith_session_new(kith_session_t **out, const kith_session_env_t *env,
                     const kith_identity_t *self, const char *self_name, int initiator,
                     const uint8_t *peer_ed, uint64_t now_ms);
void kith_session_free(kith_session_t *s);
/* Initiator only: writes the first handshake message. */
int kith_session_start(kith_session_t *s, kith_buf_t *out);
/* Consumes bytes from the peer; appends replies to out. KITH_EPROTO/ECRYPTO/EVERSION/EAUTH:
 * close. A responder that refuses message 1 (kith_session_refusal() says why) still
 * returns KITH_OK: it answers with as many random bytes as message 2 would have, after
 * the same work, and then behaves as a session waiting for the initiator's first
 * transport message, which can never decrypt (KITH_ECRYPTO), or for the handshake
 * timeout. From outside, a refusal looks like an answer. */
int kith_session_receive(kith_session_t *s, const uint8_t *data, size_t len, kith_buf_t *out,
                         uint64_t now_ms);
/* Produces pending op batches (and DONE) into out until it holds about max_bytes. */
int kith_session_pull(kith_session_t *s, kith_buf_t *out, size_t max_bytes);
/* After the first reconciliation: sends ops stored since the last push that the peer is
 * entitled to. */
int kith_session_push(kith_session_t *s, kith_buf_t *out);
/* Evidence that the peer is alive although it sent nothing (the transport saw it take
 * our data at when_ms): a peer busy digesting a large sync is not dead. */
void kith_session_note_alive(kith_session_t *s, uint64_t when_ms);
/* Timers: keepalive pings; KITH_EPROTO when the handshake or the peer timed out. */
int kith_session_tick(kith_session_t *s, uint64_t now_ms, kith_buf_t *out);
/* Writes a goodbye (when the channel is open and the peer confirmed). The peer answers with its own
 * goodbye once it has handled everything sent before; kith_session_got_bye() then turns 1. */
int kith_session_close_msg(kith_session_t *s, const char *reason, kith_buf_t *out);

int kith_session_is_open(const kith_session_t *s);
/* 1 once the peer has proven the session fresh, not a replay: for the initiator when the
 * handshake completes, for the responder when the first transport message authenticates
 * (a recorded message 1 replayed by an eavesdropper opens a session that never gets
 * there). Until then the peer's identity must not be acted on. */
int kith_session_is_confirmed(const kith_session_t *s);
/* Responder: KITH_OK, or why message 1 was refused and answered with random bytes: the
 * refusals of kith_session_env_t.admit, KITH_EVERSION (a trusted peer that does not speak
 * this protocol version), or KITH_EAUTH (also for a message 1 that did not decrypt or
 * parse). */
int kith_session_refusal(const kith_session_t *s);
/* 1 once the peer said goodbye (in answer to ours, or first). */
int kith_session_got_bye(const kith_session_t *s);
/* 1 when the first reconciliation is complete on both sides and nothing is pending. */
int kith_session_is_synced(const kith_session_t *s);
/* 1 when there are op batches waiting for kith_session_pull(). */
int kith_session_has_pending(const kith_session_t *s);
const kith_session_stats_t *kith_session_stats(const kith_session_t *s);
/* The peer's Ed25519 key (valid once the handshake is done) and name. */
const uint8_t *kith_session_peer(const kith_session_t *s);
const char *kith_session_peer_name(const kith_session_t *s);

#endif
