/*
 * Sync sessions; see session.h and proto/SYNC.md.
 *
 * Wire: every message is a 2-byte big-endian length and a Noise message. The first two
 * are the IK handshake; after it, each is a transport message whose plaintext is a
 * msgpack array [type, ...]. The session owns no socket: it parses what it is given and
 * appends what should be sent.
 */
#define _GNU_SOURCE /* qsort_r */
#include "sync/session.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "crypto/noise.h"
#include "model/op.h"
#include "kith/error.h"
#include "util/mpack.h"
#include "util/mpcheck.h"
#include "util/nodeid.h"

#define PROLOGUE "kith sync"

enum {
    MSG_RECON = 1,
    MSG_OPS = 2,
    MSG_DONE = 3,
    MSG_PING = 4,
    MSG_PONG = 5,
    MSG_BYE = 6,
};

/* ST_DECOY: a responder that refused message 1 and answered with random bytes; it acts
 * out an open session whose peer has not spoken yet (receive keys it cannot have). */
enum { ST_HANDSHAKE, ST_OPEN, ST_DECOY, ST_CLOSED };

/* Keys of the open channel; sodium_malloc'd because they are secrets. */
typedef struct {
    kith_noise_cs_t tx, rx;
} channel_t;

struct kith_session {
    kith_session_env_t env;
    const kith_identity_t *self;
    char self_name[65];
    int initiator;
    int state;
    int confirmed;           /* see kith_session_is_confirmed() */
    int refusal;             /* see kith_session_refusal() */
    unsigned useless_tokens; /* budget for messages that carry nothing */
    uint64_t useless_refill_ms;
    kith_noise_hs_t *hs;
    channel_t *ch;
    uint8_t peer[KITH_PK_LEN];
    char peer_name[65];
    int self_peer;

    uint8_t in[KITH_SESSION_MAX_IN]; /* received bytes not yet parsed */
    size_t in_len;

    /* Reconciliation. */
    kith_item_t *items;
    uint8_t (*recs)[KITH_REC_ID_LEN];
    size_t *by_id; /* indices of items sorted by id, to find an id's item */
    size_t n_items;
    uint64_t items_seq; /* ops up to this sequence number are in items */
    kith_reconcile_t rec;
    int rec_started, rec_done;
    kith_idset_t send; /* ids the peer lacks, as found so far */
    size_t send_taken; /* entries of send already moved to queue */
    size_t *queue;     /* item indices to send, grouped by record */
    size_t queue_n, queue_pos, queue_cap;
    int done_sent, done_received;
    int bye_sent, bye_received;
    uint64_t pushed_seq;   /* after sync: ops up to here were offered already */
    kith_idset_t received; /* ops this peer sent us since the last push: not echoed back */

    uint64_t started_ms, last_rx_ms, last_tx_ms, now_ms;
    kith_session_stats_t stats;
    uint8_t pt[KITH_FRAME_MAX]; /* decrypted message being handled */
};

static void logf_(kith_session_t *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
logf_(kith_session_t *s, int level, const char *fmt, ...)
{
    if (s->env.log == NULL) {
        return;
    }
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    s->env.log(s->env.ctx, level, line);
}

static const char *
peer_label(kith_session_t *s)
{
    return s->peer_name[0] ? s->peer_name : "peer";
}

int
kith_session_new(kith_session_t **out, const kith_session_env_t *env, const kith_identity_t *self,
                 const char *self_name, int initiator, const uint8_t *peer_ed, uint64_t now_ms)
{
    *out = NULL;
    if (initiator && peer_ed == NULL) {
        return KITH_EINVAL;
    }
    kith_session_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return KITH_ENOMEM;
    }
    s->ch = sodium_malloc(sizeof(channel_t));
    if (s->ch == NULL) {
        free(s);
        return KITH_ENOMEM;
    }
    memset(s->ch, 0, sizeof(channel_t));
    s->env = *env;
    s->self = self;
    snprintf(s->self_name, sizeof(s->self_name), "%s", self_name ? self_name : "");
    s->initiator = initiator;
    s->state = ST_HANDSHAKE;
    if (peer_ed != NULL) {
        memcpy(s->peer, peer_ed, KITH_PK_LEN);
    }
    kith_idset_init(&s->send);
    kith_idset_init(&s->received);
    s->started_ms = s->last_rx_ms = s->last_tx_ms = s->now_ms = now_ms;
    s->useless_tokens = KITH_USELESS_BURST;
    s->useless_refill_ms = now_ms;
    *out = s;
    return KITH_OK;
}

void
kith_session_free(kith_session_t *s)
{
    if (s == NULL) {
        return;
    }
    kith_noise_hs_free(s->hs);
    if (s->ch != NULL) {
        kith_noise_cs_wipe(&s->ch->tx);
        kith_noise_cs_wipe(&s->ch->rx);
        sodium_free(s->ch);
    }
    if (s->rec_started) {
        kith_reconcile_close(&s->rec);
    }
    kith_idset_close(&s->send);
    kith_idset_close(&s->received);
    free(s->items);
    free(s->recs);
    free(s->by_id);
    free(s->queue);
    free(s);
}

/* ---- framing and encryption --------------------------------------------------------- */

static int
put_frame_header(kith_buf_t *out, size_t len)
{
    uint8_t h[2] = {(uint8_t) (len >> 8), (uint8_t) len};
    return kith_buf_append(out, h, 2);
}

/* Encrypts one plaintext message and appends it as a frame. */
static int
send_msg(kith_session_t *s, const uint8_t *pt, size_t len, kith_buf_t *out)
{
    if (len > KITH_MSG_MAX) {
        return KITH_ETOOBIG;
    }
    size_t start = out->len;
    int rc = put_frame_header(out, len + KITH_NOISE_TAG_LEN);
    if (rc == KITH_OK) {
        rc = kith_buf_reserve(out, len + KITH_NOISE_TAG_LEN);
    }
    size_t ct_len = 0;
    if (rc == KITH_OK) {
        rc = kith_noise_cs_encrypt(&s->ch->tx, NULL, 0, pt, len, out->data + out->len,
                                   len + KITH_NOISE_TAG_LEN, &ct_len);
    }
    if (rc != KITH_OK) {
        out->len = start;
        return rc;
    }
    out->len += ct_len;
    s->last_tx_ms = s->now_ms;
    /* Both sides count messages the same way, so they rekey at the same point. */
    if (s->ch->tx.n % KITH_REKEY_EVERY == 0) {
        rc = kith_noise_cs_rekey(&s->ch->tx);
    }
    s->stats.bytes_out += 2 + ct_len;
    return rc;
}

static int
send_simple(kith_session_t *s, int type, const char *text, kith_buf_t *out)
{
    kith_buf_t pt;
    kith_buf_init(&pt);
    kith_mpsink_t k;
    msgpack_packer pk;
    kith_mpsink_init(&k, &pk, &pt);
    msgpack_pack_array(&pk, text ? 2 : 1);
    msgpack_pack_int(&pk, type);
    if (text != NULL) {
        size_t n = strlen(text);
        msgpack_pack_str(&pk, n);
        msgpack_pack_str_body(&pk, text, n);
    }
    int rc = k.rc == KITH_OK ? send_msg(s, pt.data, pt.len, out) : k.rc;
    kith_buf_close(&pt);
    return rc;
}

static int
send_recon(kith_session_t *s, const kith_buf_t *msg, kith_buf_t *out)
{
    kith_buf_t pt;
    kith_buf_init(&pt);
    kith_mpsink_t k;
    msgpack_packer pk;
    kith_mpsink_init(&k, &pk, &pt);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, MSG_RECON);
    msgpack_pack_bin(&pk, msg->len);
    msgpack_pack_bin_body(&pk, msg->data, msg->len);
    int rc = k.rc == KITH_OK ? send_msg(s, pt.data, pt.len, out) : k.rc;
    kith_buf_close(&pt);
    if (rc == KITH_OK && s->initiator) {
        s->stats.round_trips++;
    }
    return rc;
}

/* ---- op batches --------------------------------------------------------------------- */

/* Signed ops gathered for one OPS message. */
typedef struct {
    kith_buf_t data;
    size_t offs[1024], lens[1024];
    size_t n;
} batch_t;

#define BATCH_BUDGET (KITH_MSG_MAX - 64) /* msgpack headers: 3 per op plus the array */

static int
batch_flush(kith_session_t *s, batch_t *b, kith_buf_t *out)
{
    if (b->n == 0) {
        return KITH_OK;
    }
    kith_buf_t pt;
    kith_buf_init(&pt);
    kith_mpsink_t k;
    msgpack_packer pk;
    kith_mpsink_init(&k, &pk, &pt);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, MSG_OPS);
    msgpack_pack_array(&pk, b->n);
    for (size_t i = 0; i < b->n; i++) {
        msgpack_pack_bin(&pk, b->lens[i]);
        msgpack_pack_bin_body(&pk, b->data.data + b->offs[i], b->lens[i]);
    }
    int rc = k.rc == KITH_OK ? send_msg(s, pt.data, pt.len, out) : k.rc;
    kith_buf_close(&pt);
    if (rc == KITH_OK) {
        s->stats.ops_sent += b->n;
    }
    b->data.len = 0;
    b->n = 0;
    return rc;
}

static int
batch_add(kith_session_t *s, batch_t *b, const uint8_t *op, size_t len, kith_buf_t *out)
{
    if (b->n == sizeof(b->lens) / sizeof(b->lens[0]) ||
        b->data.len + len + 5 * (b->n + 1) > BATCH_BUDGET) {
        int rc = batch_flush(s, b, out);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    b->offs[b->n] = b->data.len;
    b->lens[b->n] = len;
    int rc = kith_buf_append(&b->data, op, len);
    if (rc == KITH_OK) {
        b->n++;
    }
    return rc;
}

/* An op's canonical encoding starts with a fixmap header and, when it changes the
 * audience, the key "aud" (keys are sorted and "aud" sorts first). */
static int
carries_audience(const uint8_t *signed_op, size_t len)
{
    static const uint8_t aud_key[4] = {0xa3, 'a', 'u', 'd'};
    return len > KITH_SIG_LEN + 5 && memcmp(signed_op + KITH_SIG_LEN + 1, aud_key, 4) == 0;
}

static int
cmp_id_index(const void *a, const void *b, void *items)
{
    const kith_item_t *it = items;
    return memcmp(it[*(const size_t *) a].id, it[*(const size_t *) b].id, KITH_HASH_LEN);
}

/* Finds the item with this id (binary search over by_id). */
static int
find_item(const kith_session_t *s, const uint8_t id[KITH_HASH_LEN], size_t *index)
{
    size_t lo = 0, hi = s->n_items;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(s->items[s->by_id[mid]].id, id, KITH_HASH_LEN);
        if (c == 0) {
            *index = s->by_id[mid];
            return 1;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

static int
cmp_queue(const void *a, const void *b, void *ctx)
{
    const kith_session_t *s = ctx;
    size_t x = *(const size_t *) a, y = *(const size_t *) b;
    int c = memcmp(s->recs[x], s->recs[y], KITH_REC_ID_LEN);
    if (c != 0) {
        return c;
    }
    const kith_item_t *ix = &s->items[x], *iy = &s->items[y];
    if (ix->ts != iy->ts) {
        return ix->ts < iy->ts ? -1 : 1;
    }
    return memcmp(ix->id, iy->id, KITH_HASH_LEN);
}

/* Moves newly found ids from `send` into the queue, grouped by record. */
static int
take_sends(kith_session_t *s)
{
    size_t fresh = s->send.len - s->send_taken;
    if (fresh == 0) {
        return KITH_OK;
    }
    size_t need = s->queue_n + fresh;
    if (need > s->queue_cap) {
        size_t *q = realloc(s->queue, need * sizeof(*q));
        if (q == NULL) {
            return KITH_ENOMEM;
        }
        s->queue = q;
        s->queue_cap = need;
    }
    size_t start = s->queue_n;
    for (size_t i = s->send_taken; i < s->send.len; i++) {
        size_t index;
        if (find_item(s, s->send.ids[i], &index)) {
            s->queue[s->queue_n++] = index;
        }
    }
    s->send_taken = s->send.len;
    qsort_r(s->queue + start, s->queue_n - start, sizeof(size_t), cmp_queue, s);
    return KITH_OK;
}

/* A record the peer was removed from is offered up to the op that removed it, so that a
 * peer holding the record learns it. A peer that lacks the record's oldest op offered
 * never held it (it was shared and unshared before they synced): it gets nothing, since
 * it would refuse it anyway and the owner had taken it back. first is the queue position
 * of the record's oldest op the peer lacks (the queue is sorted by record, then order). */
static int
holds_back(kith_session_t *s, size_t first)
{
    const uint8_t *rec = s->recs[s->queue[first]];
    if (s->self_peer || s->env.removed_from == NULL ||
        !s->env.removed_from(s->env.ctx, s->peer, rec)) {
        return 0;
    }
    /* Items are sorted by (hlc, hash), the order of queue within a record. */
    for (size_t i = 0; i < s->n_items; i++) {
        if (memcmp(s->recs[i], rec, KITH_REC_ID_LEN) == 0) {
            if (i != s->queue[first]) {
                return 0; /* it has older ops of the record than the ones it lacks */
            }
            break;
        }
    }
    logf_(s, 2, "not sending %s a record it was removed from before it held it", peer_label(s));
    return 1;
}

int
kith_session_has_pending(const kith_session_t *s)
{
    return s->state == ST_OPEN && (s->queue_pos < s->queue_n || s->send_taken < s->send.len ||
                                   (s->rec_done && !s->done_sent));
}

int
kith_session_pull(kith_session_t *s, kith_buf_t *out, size_t max_bytes)
{
    if (s->state != ST_OPEN) {
        return KITH_OK;
    }
    int rc = take_sends(s);
    batch_t *b = calloc(1, sizeof(*b));
    kith_buf_t op;
    kith_buf_init(&op);
    if (b == NULL) {
        return KITH_ENOMEM;
    }
    kith_buf_init(&b->data);
    /* One record at a time: its audience-setting ops first, so that the receiver knows
     * who may hold and edit the record before it checks the rest. */
    while (rc == KITH_OK && s->queue_pos < s->queue_n && out->len < max_bytes) {
        size_t end = s->queue_pos;
        while (end < s->queue_n && memcmp(s->recs[s->queue[end]], s->recs[s->queue[s->queue_pos]],
                                          KITH_REC_ID_LEN) == 0) {
            end++;
        }
        if (holds_back(s, s->queue_pos)) {
            s->queue_pos = end;
            continue;
        }
        /* Pass 0 sends the audience ops newest first: whatever prefix of them the receiver
         * has applied, the newest one already decides who may hold the record. */
        for (int pass = 0; pass < 2 && rc == KITH_OK; pass++) {
            for (size_t i = 0; i < end - s->queue_pos && rc == KITH_OK; i++) {
                size_t k = pass == 0 ? end - 1 - i : s->queue_pos + i;
                op.len = 0;
                rc = s->env.load_op(s->env.ctx, s->items[s->queue[k]].id, &op);
                if (rc == KITH_ENOTFOUND) {
                    rc = KITH_OK; /* gone since (cannot happen: ops are never deleted) */
                    continue;
                }
                if (rc == KITH_OK && carries_audience(op.data, op.len) == (pass == 0)) {
                    rc = batch_add(s, b, op.data, op.len, out);
                }
            }
        }
        s->queue_pos = end;
    }
    if (rc == KITH_OK) {
        rc = batch_flush(s, b, out);
    }
    if (rc == KITH_OK && s->queue_pos == s->queue_n && s->rec_done && !s->done_sent) {
        rc = send_simple(s, MSG_DONE, NULL, out);
        s->done_sent = rc == KITH_OK;
        if (s->done_sent && s->done_received) {
            s->stats.synced = 1;
            logf_(s, 1, "synced with %s: sent %llu ops, received %llu", peer_label(s),
                  (unsigned long long) s->stats.ops_sent,
                  (unsigned long long) s->stats.ops_received);
        }
    }
    kith_buf_close(&op);
    kith_buf_close(&b->data);
    free(b);
    return rc;
}

typedef struct {
    kith_session_t *s;
    batch_t *b;
    kith_buf_t *out;
    /* Records whose audience a pushed op opened to the peer: the peer may hold none of
     * their older ops (shared after it synced), so they follow whole. */
    uint8_t (*opened)[KITH_REC_ID_LEN];
    size_t n_opened, cap_opened;
} push_ctx_t;

/* Notes op's record if op gives the peer a place in its audience. Our own store's ops:
 * decoded, not verified again. */
static int
note_opened(push_ctx_t *p, const uint8_t *signed_op, size_t len)
{
    if (p->s->self_peer || p->s->env.record_ops == NULL || len <= KITH_SIG_LEN) {
        return KITH_OK;
    }
    kith_op_t op;
    kith_op_init(&op);
    if (kith_op_decode(signed_op + KITH_SIG_LEN, len - KITH_SIG_LEN, &op) != KITH_OK) {
        return KITH_OK; /* not ours to judge here: the peer will */
    }
    int member = 0;
    for (size_t i = 0; op.has_aud && i < op.n_aud; i++) {
        member |= memcmp(op.aud[i].key, p->s->peer, KITH_PK_LEN) == 0;
    }
    int rc = KITH_OK;
    for (size_t i = 0; member && i < p->n_opened; i++) {
        member = memcmp(p->opened[i], op.rec, KITH_REC_ID_LEN) != 0;
    }
    if (member) {
        if (p->n_opened == p->cap_opened) {
            size_t cap = p->cap_opened ? p->cap_opened * 2 : 8;
            uint8_t(*grown)[KITH_REC_ID_LEN] = realloc(p->opened, cap * sizeof(*grown));
            if (grown == NULL) {
                rc = KITH_ENOMEM;
            } else {
                p->opened = grown;
                p->cap_opened = cap;
            }
        }
        if (rc == KITH_OK) {
            memcpy(p->opened[p->n_opened++], op.rec, KITH_REC_ID_LEN);
        }
    }
    kith_op_close(&op);
    return rc;
}

static int
cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, KITH_HASH_LEN);
}

static int
push_one(void *ctx, const uint8_t *signed_op, size_t len, const uint8_t hash[KITH_HASH_LEN])
{
    push_ctx_t *p = ctx;
    kith_idset_t *r = &p->s->received;
    if (r->len > 0 && bsearch(hash, r->ids, r->len, KITH_HASH_LEN, cmp_id) != NULL) {
        return KITH_OK; /* it came from this peer: do not send it back */
    }
    int rc = note_opened(p, signed_op, len);
    return rc == KITH_OK ? batch_add(p->s, p->b, signed_op, len, p->out) : rc;
}

/* The ops of a record opened to the peer: all of them, the audience op included again
 * (the peer ignores what it holds). */
static int
push_again(void *ctx, const uint8_t *signed_op, size_t len, const uint8_t hash[KITH_HASH_LEN])
{
    push_ctx_t *p = ctx;
    (void) hash;
    return batch_add(p->s, p->b, signed_op, len, p->out);
}

int
kith_session_push(kith_session_t *s, kith_buf_t *out)
{
    if (s->state != ST_OPEN || !s->stats.synced) {
        return KITH_OK; /* the first reconciliation will carry them */
    }
    batch_t *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return KITH_ENOMEM;
    }
    kith_buf_init(&b->data);
    push_ctx_t ctx = {s, b, out, NULL, 0, 0};
    int rc = KITH_OK;
    if (s->received.len > 0) {
        qsort(s->received.ids, s->received.len, KITH_HASH_LEN, cmp_id);
    }
    for (;;) {
        uint64_t last = s->pushed_seq;
        rc = s->env.ops_since(s->env.ctx, s->peer, s->self_peer, s->pushed_seq, 512, push_one, &ctx,
                              &last);
        if (rc != KITH_OK || last == s->pushed_seq) {
            break;
        }
        s->pushed_seq = last;
    }
    for (size_t i = 0; rc == KITH_OK && i < ctx.n_opened; i++) {
        rc = s->env.record_ops(s->env.ctx, s->peer, s->self_peer, ctx.opened[i], push_again, &ctx);
    }
    free(ctx.opened);
    if (rc == KITH_OK) {
        rc = batch_flush(s, b, out);
    }
    s->received.len = 0;
    kith_buf_close(&b->data);
    free(b);
    return rc;
}

/* ---- reconciliation ----------------------------------------------------------------- */

static int
load_items(kith_session_t *s)
{
    int rc = s->env.load_items(s->env.ctx, s->peer, s->self_peer, &s->items, &s->recs, &s->n_items,
                               &s->items_seq);
    if (rc != KITH_OK) {
        return rc;
    }
    s->pushed_seq = s->items_seq;
    s->by_id = malloc((s->n_items ? s->n_items : 1) * sizeof(size_t));
    if (s->by_id == NULL) {
        return KITH_ENOMEM;
    }
    for (size_t i = 0; i < s->n_items; i++) {
        s->by_id[i] = i;
    }
    qsort_r(s->by_id, s->n_items, sizeof(size_t), cmp_id_index, s->items);
    rc = kith_reconcile_init(&s->rec, s->items, s->n_items, KITH_MSG_MAX - 16);
    s->rec_started = rc == KITH_OK;
    return rc;
}

static int
on_recon(kith_session_t *s, const uint8_t *msg, size_t len, kith_buf_t *out)
{
    int rc = KITH_OK;
    if (!s->rec_started) {
        if (s->initiator) {
            return KITH_EPROTO; /* the initiator always starts first */
        }
        rc = load_items(s);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    if (s->rec_done) {
        return KITH_EPROTO;
    }
    kith_buf_t reply;
    kith_buf_init(&reply);
    rc = kith_reconcile_step(&s->rec, msg, len, &reply, &s->send);
    if (rc == KITH_ETOOBIG) {
        /* Only a peer that keeps asking what it was told gets here: misbehaviour. */
        logf_(s, 1, "%s keeps the reconciliation going without end", peer_label(s));
        rc = KITH_EPROTO;
    }
    if (rc == KITH_OK && reply.len > 0) {
        rc = send_recon(s, &reply, out);
    }
    if (rc == KITH_OK && reply.len == 0) {
        /* Nothing more to say: send what they lack, then DONE. (A side whose last message
         * needs no answer learns the end from the peer's DONE, which keeps the protocol
         * to one rule.) */
        s->rec_done = 1;
    }
    kith_buf_close(&reply);
    return rc;
}

static int
start_reconciliation(kith_session_t *s, kith_buf_t *out)
{
    int rc = load_items(s);
    kith_buf_t first;
    kith_buf_init(&first);
    if (rc == KITH_OK) {
        rc = kith_reconcile_initiate(&s->rec, &first);
    }
    if (rc == KITH_OK) {
        rc = send_recon(s, &first, out);
    }
    kith_buf_close(&first);
    return rc;
}

/* ---- messages ----------------------------------------------------------------------- */

/* Charges one message that carried nothing against the peer's budget; KITH_EPROTO once a
 * flood has used it up. */
static int
charge_useless(kith_session_t *s)
{
    uint64_t earned = (s->now_ms - s->useless_refill_ms) / KITH_USELESS_REFILL_MS;
    if (earned > 0) {
        s->useless_tokens = earned >= KITH_USELESS_BURST - s->useless_tokens
                                ? KITH_USELESS_BURST
                                : s->useless_tokens + (unsigned) earned;
        s->useless_refill_ms += earned * KITH_USELESS_REFILL_MS;
    }
    if (s->useless_tokens == 0) {
        logf_(s, 1, "%s is flooding the session with empty messages", peer_label(s));
        return KITH_EPROTO;
    }
    s->useless_tokens--;
    return KITH_OK;
}

static int
on_ops(kith_session_t *s, const msgpack_object *list)
{
    if (list->type != MSGPACK_OBJECT_ARRAY || list->via.array.size > 1024) {
        return KITH_EPROTO;
    }
    size_t n = list->via.array.size;
    if (n == 0) {
        return charge_useless(s);
    }
    const uint8_t **ops = calloc(n ? n : 1, sizeof(*ops));
    size_t *lens = calloc(n ? n : 1, sizeof(*lens));
    int rc = KITH_OK;
    if (ops == NULL || lens == NULL) {
        rc = KITH_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *o = &list->via.array.ptr[i];
        if (o->type != MSGPACK_OBJECT_BIN) {
            rc = KITH_EPROTO;
            goto out;
        }
        ops[i] = (const uint8_t *) o->via.bin.ptr;
        lens[i] = o->via.bin.size;
        /* Remembered to avoid echoing them back; bounded, since a peer may send ops for
         * ever before the first push empties the set (then echoes merely cost bytes). */
        if (lens[i] > KITH_SIG_LEN && s->received.len < KITH_SESSION_MAX_RECEIVED) {
            uint8_t hash[KITH_HASH_LEN];
            kith_op_hash(ops[i] + KITH_SIG_LEN, lens[i] - KITH_SIG_LEN, hash);
            rc = kith_idset_add(&s->received, hash);
            if (rc != KITH_OK) {
                goto out;
            }
        }
    }
    kith_apply_stats_t st = {0, 0, 0};
    rc = s->env.apply_ops(s->env.ctx, s->peer, s->self_peer, ops, lens, n, &st);
    s->stats.ops_received += st.accepted;
    s->stats.ops_duplicate += st.duplicate;
    s->stats.ops_rejected += st.rejected;
    if (st.rejected > 0) {
        logf_(s, 1, "refused %zu op%s from %s", st.rejected, st.rejected == 1 ? "" : "s",
              peer_label(s));
    }
out:
    free(ops);
    free(lens);
    return rc;
}

static int
on_message(kith_session_t *s, const uint8_t *pt, size_t len, kith_buf_t *out)
{
    if (kith_mpcheck(pt, len, 3) != KITH_OK) {
        return KITH_EPROTO;
    }
    msgpack_unpacked msg;
    msgpack_unpacked_init(&msg);
    size_t off = 0;
    int rc = KITH_EPROTO;
    if (msgpack_unpack_next(&msg, (const char *) pt, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        goto out;
    }
    const msgpack_object *o = &msg.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1 ||
        o->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        goto out;
    }
    const msgpack_object *a = o->via.array.ptr;
    size_t argc = o->via.array.size;
    switch (a[0].via.u64) {
    case MSG_RECON:
        if (argc != 2 || a[1].type != MSGPACK_OBJECT_BIN) {
            goto out;
        }
        rc = on_recon(s, (const uint8_t *) a[1].via.bin.ptr, a[1].via.bin.size, out);
        break;
    case MSG_OPS:
        rc = argc == 2 ? on_ops(s, &a[1]) : KITH_EPROTO;
        break;
    case MSG_DONE:
        if (argc != 1 || s->done_received) {
            goto out;
        }
        s->done_received = 1;
        s->rec_done = 1;
        rc = KITH_OK;
        if (s->done_sent) {
            s->stats.synced = 1;
            logf_(s, 1, "synced with %s: sent %llu ops, received %llu", peer_label(s),
                  (unsigned long long) s->stats.ops_sent,
                  (unsigned long long) s->stats.ops_received);
        }
        break;
    case MSG_PING:
        rc = argc == 1 ? charge_useless(s) : KITH_EPROTO;
        if (rc == KITH_OK) {
            rc = send_simple(s, MSG_PONG, NULL, out);
        }
        break;
    case MSG_PONG:
        rc = argc == 1 ? charge_useless(s) : KITH_EPROTO;
        break;
    case MSG_BYE:
        if (argc != 2 || a[1].type != MSGPACK_OBJECT_STR) {
            goto out;
        }
        logf_(s, 1, "%s closed the session", peer_label(s));
        /* Answer a goodbye with a goodbye: the other side then knows that everything it
         * sent before was handled (a one-shot sync waits for it). */
        rc = s->bye_sent ? KITH_OK : send_simple(s, MSG_BYE, "bye", out);
        s->bye_sent = 1;
        s->bye_received = 1;
        s->state = ST_CLOSED;
        break;
    default:
        rc = KITH_EPROTO; /* unknown types are errors: a new type needs a new version */
    }
out:
    if (rc != KITH_OK) {
        logf_(s, 2, "message of type %d from %s refused: %s",
              msg.data.type == MSGPACK_OBJECT_ARRAY && msg.data.via.array.size > 0 &&
                      msg.data.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER
                  ? (int) msg.data.via.array.ptr[0].via.u64
                  : -1,
              peer_label(s), kith_strerror(rc));
    }
    msgpack_unpacked_destroy(&msg);
    return rc;
}

/* ---- handshake ---------------------------------------------------------------------- */

/* Packs {"name": str, "pad": bin, ["time": uint,] "versions": [uint]} with pad_len bytes
 * of padding; the time (message 1 only) when hello_ms is not 0. */
static int
pack_hello(kith_session_t *s, uint64_t hello_ms, size_t pad_len, kith_buf_t *out)
{
    static const uint8_t zeros[KITH_HELLO_LEN];
    kith_mpsink_t k;
    msgpack_packer pk;
    kith_mpsink_init(&k, &pk, out);
    size_t n = strlen(s->self_name);
    msgpack_pack_map(&pk, hello_ms ? 4 : 3);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "name", 4);
    msgpack_pack_str(&pk, n);
    msgpack_pack_str_body(&pk, s->self_name, n);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "pad", 3);
    msgpack_pack_bin(&pk, pad_len);
    msgpack_pack_bin_body(&pk, zeros, pad_len);
    if (hello_ms) {
        msgpack_pack_str(&pk, 4);
        msgpack_pack_str_body(&pk, "time", 4);
        msgpack_pack_uint64(&pk, hello_ms);
    }
    msgpack_pack_str(&pk, 8);
    msgpack_pack_str_body(&pk, "versions", 8);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint8(&pk, KITH_PROTO_VERSION);
    return k.rc;
}

/* Handshake payload, padded to exactly KITH_HELLO_LEN bytes so that neither message's
 * length tells anything (a name's length, or, for a refused message 1, that the answer
 * is not a real message 2). hello_ms: message 1's time, 0 in message 2. */
static int
hello_payload(kith_session_t *s, uint64_t hello_ms, kith_buf_t *out)
{
    size_t start = out->len;
    int rc = pack_hello(s, hello_ms, 0, out); /* bin8 header: the size grows by pad_len */
    size_t bare = out->len - start;
    out->len = start;
    if (rc == KITH_OK && bare > KITH_HELLO_LEN) {
        rc = KITH_ETOOBIG; /* a name of at most 64 bytes always fits */
    }
    if (rc == KITH_OK) {
        rc = pack_hello(s, hello_ms, KITH_HELLO_LEN - bare, out);
    }
    return rc;
}

/* Checks the peer's hello: it must offer our version; message 1's must carry its time,
 * which goes to *hello_ms (NULL when reading message 2). */
static int
check_hello(kith_session_t *s, const uint8_t *p, size_t len, uint64_t *hello_ms)
{
    if (kith_mpcheck(p, len, 2) != KITH_OK) {
        return KITH_EPROTO;
    }
    msgpack_unpacked msg;
    msgpack_unpacked_init(&msg);
    size_t off = 0;
    int rc = KITH_EPROTO, has_version = 0;
    uint64_t t = 0;
    if (msgpack_unpack_next(&msg, (const char *) p, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len || msg.data.type != MSGPACK_OBJECT_MAP) {
        goto out;
    }
    for (uint32_t i = 0; i < msg.data.via.map.size; i++) {
        const msgpack_object *k = &msg.data.via.map.ptr[i].key;
        const msgpack_object *v = &msg.data.via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR) {
            goto out;
        }
        if (k->via.str.size == 8 && memcmp(k->via.str.ptr, "versions", 8) == 0) {
            if (v->type != MSGPACK_OBJECT_ARRAY) {
                goto out;
            }
            for (uint32_t j = 0; j < v->via.array.size; j++) {
                const msgpack_object *e = &v->via.array.ptr[j];
                has_version |=
                    e->type == MSGPACK_OBJECT_POSITIVE_INTEGER && e->via.u64 == KITH_PROTO_VERSION;
            }
        } else if (k->via.str.size == 4 && memcmp(k->via.str.ptr, "time", 4) == 0) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                goto out;
            }
            t = v->via.u64;
        } else if (k->via.str.size == 4 && memcmp(k->via.str.ptr, "name", 4) == 0) {
            if (v->type != MSGPACK_OBJECT_STR) {
                goto out;
            }
            if (s->peer_name[0] == '\0') {
                /* Only printable ASCII of the peer's own name, for logs. */
                size_t n = v->via.str.size < 64 ? v->via.str.size : 64, w = 0;
                for (size_t c = 0; c < n; c++) {
                    char ch = v->via.str.ptr[c];
                    if (ch >= 0x20 && ch < 0x7f) {
                        s->peer_name[w++] = ch;
                    }
                }
                s->peer_name[w] = '\0';
            }
        }
        /* Unknown keys are ignored: later versions may add some. */
    }
    rc = !has_version ? KITH_EVERSION : hello_ms != NULL && t == 0 ? KITH_EPROTO : KITH_OK;
    if (rc == KITH_OK && hello_ms != NULL) {
        *hello_ms = t;
    }
out:
    msgpack_unpacked_destroy(&msg);
    return rc;
}

int
kith_session_start(kith_session_t *s, kith_buf_t *out)
{
    if (!s->initiator || s->hs != NULL) {
        return KITH_EINVAL;
    }
    uint8_t peer_x[KITH_PK_LEN];
    int rc = kith_identity_x25519_pk(s->peer, peer_x);
    if (rc != KITH_OK) {
        return rc;
    }
    rc = kith_noise_hs_new(&s->hs, KITH_NOISE_IK, 1, (const uint8_t *) PROLOGUE,
                           sizeof(PROLOGUE) - 1, s->self->xsk, peer_x);
    kith_buf_t payload;
    kith_buf_init(&payload);
    if (rc == KITH_OK) {
        uint64_t t = s->env.hello_clock != NULL ? s->env.hello_clock(s->env.ctx) : 0;
        rc = hello_payload(s, t, &payload);
    }
    uint8_t msg[KITH_NOISE_MAX_MSG];
    size_t msg_len = 0;
    if (rc == KITH_OK) {
        rc = kith_noise_hs_write(s->hs, payload.data, payload.len, msg, sizeof(msg), &msg_len);
    }
    if (rc == KITH_OK) {
        rc = put_frame_header(out, msg_len);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_append(out, msg, msg_len);
        s->stats.bytes_out += 2 + msg_len;
    }
    kith_buf_close(&payload);
    return rc;
}

static int
open_channel(kith_session_t *s)
{
    int rc = kith_noise_hs_split(s->hs, &s->ch->tx, &s->ch->rx);
    kith_noise_hs_free(s->hs);
    s->hs = NULL;
    if (rc == KITH_OK) {
        s->state = ST_OPEN;
    }
    return rc;
}

/*
 * The answer to a refused message 1: what message 2 would be, as seen from outside. Its
 * first 32 bytes are a fresh X25519 public key, as message 2's are (32 random bytes would
 * give the decoy away: a public key's top bit is always clear, and only half of all
 * strings are on the curve); the rest is random, as a ciphertext looks. The work is
 * message 2's: one key generation and two DH (whose results nobody uses). The session
 * then waits with random receive keys, so whatever the initiator sends next fails to
 * decrypt after the same work as in a real session.
 */
static int
write_decoy(kith_session_t *s, size_t payload_len, int why, kith_buf_t *out)
{
    uint8_t e_priv[KITH_NOISE_KEY_LEN], e_pub[KITH_NOISE_KEY_LEN], dh[KITH_NOISE_KEY_LEN];
    size_t len = KITH_NOISE_KEY_LEN + payload_len + KITH_NOISE_TAG_LEN;
    int rc = KITH_ECRYPTO;
    randombytes_buf(e_priv, sizeof(e_priv));
    if (crypto_scalarmult_base(e_pub, e_priv) != 0 ||
        crypto_scalarmult(dh, e_priv, s->self->xpk) != 0 ||
        crypto_scalarmult(dh, e_priv, e_pub) != 0) {
        goto out;
    }
    rc = put_frame_header(out, len);
    if (rc == KITH_OK) {
        rc = kith_buf_reserve(out, len);
    }
    if (rc == KITH_OK) {
        memcpy(out->data + out->len, e_pub, sizeof(e_pub));
        randombytes_buf(out->data + out->len + sizeof(e_pub), len - sizeof(e_pub));
        out->len += len;
        s->stats.bytes_out += 2 + len;
        randombytes_buf(s->ch->rx.k, sizeof(s->ch->rx.k));
        s->ch->rx.n = 0;
        s->state = ST_DECOY;
        s->refusal = why;
    }
out:
    sodium_memzero(e_priv, sizeof(e_priv));
    sodium_memzero(dh, sizeof(dh));
    return rc;
}

/*
 * Responder, message 1. Every message 1 takes the same path and the same work, whether
 * it comes from a trusted peer, a stranger, a replay, a peer backed off, or was made for
 * another key and does not decrypt (proto/SYNC.md "Handshake"): the whole message is
 * worked through (the Noise module does not stop at the first failure), its hello is
 * parsed (our own stands in for one that did not decrypt), the peer table is asked once
 * (a random key stands in), and the answer is message 2 or a decoy of its length after
 * the same DH. Nothing is logged here: the daemon logs after the answer is out.
 */
static int
on_message1(kith_session_t *s, const uint8_t *msg, size_t len, kith_buf_t *out)
{
    uint8_t payload[KITH_NOISE_MAX_MSG], remote_x[KITH_PK_LEN];
    size_t payload_len = 0;
    uint64_t hello_ms = 0;
    kith_buf_t hello;
    kith_buf_init(&hello);
    int rc = hello_payload(s, 0, &hello);
    if (rc != KITH_OK) {
        goto out;
    }
    int nrc = kith_noise_hs_new(&s->hs, KITH_NOISE_IK, 0, (const uint8_t *) PROLOGUE,
                                sizeof(PROLOGUE) - 1, s->self->xsk, NULL);
    if (nrc == KITH_OK) {
        nrc = kith_noise_hs_read(s->hs, msg, len, payload, sizeof(payload), &payload_len);
    }
    if (nrc == KITH_OK) {
        nrc = kith_noise_hs_remote_static(s->hs, remote_x);
    }
    if (nrc != KITH_OK) {
        if (nrc == KITH_ENOMEM || nrc == KITH_EINVAL) {
            rc = nrc; /* ours, not the peer's */
            goto out;
        }
        randombytes_buf(remote_x, sizeof(remote_x));
        memcpy(payload, hello.data, hello.len);
        payload_len = hello.len;
    }
    int hrc = check_hello(s, payload, payload_len, &hello_ms);
    char name[65] = "";
    int arc = s->env.admit == NULL ? KITH_EAUTH
                                   : s->env.admit(s->env.ctx, remote_x,
                                                  nrc == KITH_OK && hrc == KITH_OK ? hello_ms : 0,
                                                  s->peer, name, &s->self_peer);
    if (name[0] != '\0') {
        snprintf(s->peer_name, sizeof(s->peer_name), "%s", name);
    }
    int why = nrc != KITH_OK         ? KITH_EAUTH
              : arc == KITH_EAUTH    ? KITH_EAUTH
              : hrc == KITH_EVERSION ? KITH_EVERSION
              : hrc != KITH_OK       ? KITH_EAUTH
                                     : arc;
    if (why != KITH_OK) {
        kith_noise_hs_free(s->hs);
        s->hs = NULL;
        memset(s->peer, 0, sizeof(s->peer));
        s->self_peer = 0;
        if (why == KITH_EAUTH) {
            s->peer_name[0] = '\0'; /* a stranger's claimed name is not worth a log line */
        }
        rc = write_decoy(s, hello.len, why, out);
        goto out;
    }
    uint8_t reply[KITH_NOISE_MAX_MSG];
    size_t reply_len = 0;
    rc = kith_noise_hs_write(s->hs, hello.data, hello.len, reply, sizeof(reply), &reply_len);
    if (rc == KITH_OK) {
        rc = put_frame_header(out, reply_len);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_append(out, reply, reply_len);
        s->stats.bytes_out += 2 + reply_len;
    }
    if (rc == KITH_OK) {
        rc = open_channel(s);
    }
out:
    sodium_memzero(payload, payload_len);
    kith_buf_close(&hello);
    return rc;
}

static int
on_handshake(kith_session_t *s, const uint8_t *msg, size_t len, kith_buf_t *out)
{
    uint8_t payload[KITH_NOISE_MAX_MSG];
    size_t payload_len = 0;
    int rc;
    if (!s->initiator) {
        return on_message1(s, msg, len, out);
    }
    /* Message 2: the responder proved it holds the key we dialled. */
    rc = kith_noise_hs_read(s->hs, msg, len, payload, sizeof(payload), &payload_len);
    if (rc != KITH_OK) {
        return rc;
    }
    uint8_t remote_x[KITH_PK_LEN];
    char name[65] = "";
    int self_peer = 0;
    rc = kith_noise_hs_remote_static(s->hs, remote_x);
    if (rc == KITH_OK) {
        uint8_t ed[KITH_PK_LEN];
        if (s->env.find_peer(s->env.ctx, remote_x, ed, name, &self_peer) == KITH_OK &&
            memcmp(ed, s->peer, KITH_PK_LEN) == 0) {
            snprintf(s->peer_name, sizeof(s->peer_name), "%s", name);
            s->self_peer = self_peer;
        }
        rc = check_hello(s, payload, payload_len, NULL);
    }
    if (rc == KITH_OK) {
        rc = open_channel(s);
    }
    if (rc == KITH_OK) {
        s->confirmed = 1; /* message 2 answers our fresh ephemeral key */
        logf_(s, 1, "session with %s open (we called)", peer_label(s));
        rc = start_reconciliation(s, out);
    }
    return rc;
}

int
kith_session_receive(kith_session_t *s, const uint8_t *data, size_t len, kith_buf_t *out,
                     uint64_t now_ms)
{
    if (s->state == ST_CLOSED) {
        return KITH_EPROTO;
    }
    s->stats.bytes_in += len;
    s->last_rx_ms = s->now_ms = now_ms;
    while (len > 0 || s->in_len >= 2) {
        size_t take = KITH_SESSION_MAX_IN - s->in_len;
        if (take > len) {
            take = len;
        }
        memcpy(s->in + s->in_len, data, take);
        s->in_len += take;
        data += take;
        len -= take;
        size_t pos = 0;
        int rc = KITH_OK;
        while (rc == KITH_OK && s->state != ST_CLOSED && s->in_len - pos >= 2) {
            size_t flen = ((size_t) s->in[pos] << 8) | s->in[pos + 1];
            if (flen == 0) {
                return KITH_EPROTO;
            }
            if (s->in_len - pos - 2 < flen) {
                break;
            }
            const uint8_t *frame = s->in + pos + 2;
            pos += 2 + flen;
            if (s->state == ST_HANDSHAKE) {
                if (s->initiator && s->hs == NULL) {
                    return KITH_EPROTO;
                }
                rc = on_handshake(s, frame, flen, out);
                continue;
            }
            size_t pt_len = 0;
            /* A decoy decrypts with keys nobody has: the same work, and a certain failure. */
            rc = kith_noise_cs_decrypt(&s->ch->rx, NULL, 0, frame, flen, s->pt, sizeof(s->pt),
                                       &pt_len);
            if (rc == KITH_OK && s->state == ST_DECOY) {
                rc = KITH_ECRYPTO;
            }
            if (rc == KITH_OK && s->ch->rx.n % KITH_REKEY_EVERY == 0) {
                rc = kith_noise_cs_rekey(&s->ch->rx);
            }
            if (rc == KITH_OK && !s->confirmed) {
                s->confirmed = 1; /* it holds the keys of this handshake: not a replay */
                logf_(s, 1, "session with %s open (they called)", peer_label(s));
            }
            if (rc == KITH_OK) {
                rc = on_message(s, s->pt, pt_len, out);
            }
            sodium_memzero(s->pt, pt_len);
        }
        memmove(s->in, s->in + pos, s->in_len - pos);
        s->in_len -= pos;
        if (rc != KITH_OK) {
            return rc;
        }
        if (len == 0) {
            break;
        }
    }
    return KITH_OK;
}

void
kith_session_note_alive(kith_session_t *s, uint64_t when_ms)
{
    if (when_ms > s->last_rx_ms) {
        s->last_rx_ms = when_ms;
    }
}

int
kith_session_tick(kith_session_t *s, uint64_t now_ms, kith_buf_t *out)
{
    s->now_ms = now_ms;
    if (s->state == ST_HANDSHAKE || s->state == ST_DECOY) {
        return now_ms - s->started_ms > KITH_HANDSHAKE_MS ? KITH_EPROTO : KITH_OK;
    }
    if (s->state != ST_OPEN) {
        return KITH_EPROTO;
    }
    if (!s->confirmed && now_ms - s->started_ms > KITH_HANDSHAKE_MS) {
        return KITH_EPROTO; /* a replayed message 1, or a peer that never spoke */
    }
    if (now_ms - s->last_rx_ms > KITH_DEAD_MS) {
        logf_(s, 1, "%s stopped answering", peer_label(s));
        return KITH_EPROTO;
    }
    if (now_ms - s->last_tx_ms > KITH_KEEPALIVE_MS) {
        return send_simple(s, MSG_PING, NULL, out);
    }
    return KITH_OK;
}

int
kith_session_close_msg(kith_session_t *s, const char *reason, kith_buf_t *out)
{
    /* Not to a peer that has not confirmed: a replayed message 1 or a decoy gets nothing,
     * so the two cannot be told apart by a goodbye either. */
    if (s->state != ST_OPEN || !s->confirmed) {
        return KITH_OK;
    }
    int rc = send_simple(s, MSG_BYE, reason ? reason : "", out);
    s->bye_sent = 1;
    /* Stay open to read the peer's answering goodbye. */
    return rc;
}

int
kith_session_got_bye(const kith_session_t *s)
{
    return s->bye_received;
}

int
kith_session_is_open(const kith_session_t *s)
{
    return s->state == ST_OPEN;
}

int
kith_session_is_confirmed(const kith_session_t *s)
{
    return s->state == ST_OPEN && s->confirmed;
}

int
kith_session_refusal(const kith_session_t *s)
{
    return s->refusal;
}

int
kith_session_is_synced(const kith_session_t *s)
{
    return s->stats.synced && s->queue_pos == s->queue_n && s->send_taken == s->send.len;
}

const kith_session_stats_t *
kith_session_stats(const kith_session_t *s)
{
    return &s->stats;
}

const uint8_t *
kith_session_peer(const kith_session_t *s)
{
    return s->peer;
}

const char *
kith_session_peer_name(const kith_session_t *s)
{
    return s->peer_name;
}
