/*
 * Range-based set reconciliation (proto/RECONCILE.md): two nodes, each holding a sorted
 * set of items, learn which items the other lacks. Bytes and round trips grow with the
 * number of differences, not with the size of the sets.
 *
 * The module is pure: it takes the bytes of a message and returns the bytes of the
 * reply. It never touches a socket, a file or the clock; the caller frames and carries
 * the messages, and afterwards sends the ops named in `send`.
 *
 * Use:
 *
 *     kith_reconcile_init(&r, items, n, 0);           both sides, over their own set
 *     kith_reconcile_initiate(&r, &out);              initiator only: the first message
 *     loop: kith_reconcile_step(&r, msg, len, &out, &send);
 *           out.len == 0: nothing to transmit, the reconciliation is over;
 *           otherwise transmit out, and if kith_reconcile_done(&r) the peer will not
 *           answer it (it is the last message), so the reconciliation is over too.
 *     kith_reconcile_close(&r);
 *
 * When both sides are done, each side's `send` holds exactly the ids of the items it
 * holds and the peer lacks.
 */
#ifndef KITH_RECONCILE_H
#define KITH_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/op.h"

#include "util/buf.h"

/* Wire constants; proto/RECONCILE.md is normative for all of them. */
#define KITH_RECONCILE_VERSION    1
#define KITH_RECONCILE_MAX_MSG    65536 /* bytes of one message, hard limit both ways */
#define KITH_RECONCILE_MIN_MSG    2048  /* smallest max_msg a side may choose */
#define KITH_RECONCILE_MAX_RANGES 4096  /* ranges in one message */
#define KITH_RECONCILE_MAX_IDS    2048  /* ids in one message, all ranges together */
#define KITH_RECONCILE_LIST_MAX   32    /* ids in one IDLIST or WANT range */
#define KITH_RECONCILE_BRANCH     16    /* sub-ranges a mismatching range splits into */
#define KITH_RECONCILE_FP_LEN     16    /* bytes of a range fingerprint */

/* Local limit on queued, not yet sent, ranges (about 120 bytes each). Only a hostile
 * peer, or sets of tens of millions of items, come near it. */
#define KITH_RECONCILE_MAX_PENDING ((size_t) 1 << 20)

/* Local limit on work: items visited (fingerprinted or compared) over a whole
 * reconciliation, at most FACTOR times the set size plus SLACK. An honest exchange visits
 * each item about once per round, and rounds number about log16(n) + 2; a peer that asks
 * about the same ranges over and over (each message can make us visit every item) is cut
 * off. */
#define KITH_RECONCILE_WORK_FACTOR 64
#define KITH_RECONCILE_WORK_SLACK  ((uint64_t) 1 << 20)

/* One element of a reconciled set: an op, named by its hash and ordered by its clock.
 * Items are ordered by ts, then by the id bytes (memcmp). */
/* kith_item_t, an op as reconciliation sees it, is defined with the ops (model/op.h):
 * the store builds item sets without depending on this layer. */

/* A growable array of 32-byte ids. Embedded by its owner: kith_idset_init() then
 * kith_idset_close(). Duplicates are not removed by the set itself. */
typedef struct {
    uint8_t (*ids)[32]; /* NULL until the first add */
    size_t len;         /* ids stored */
    size_t cap;         /* ids allocated */
} kith_idset_t;

void kith_idset_init(kith_idset_t *s);
/* Frees the ids. Safe on NULL, a zeroed or an already closed set. */
void kith_idset_close(kith_idset_t *s);
/* Appends one id. KITH_ENOMEM, or KITH_ETOOBIG if the size would overflow. */
int kith_idset_add(kith_idset_t *s, const uint8_t id[static 32]);

/* Orders two items: negative, zero or positive like memcmp. */
int kith_item_cmp(const kith_item_t *a, const kith_item_t *b);
/* Sorts items into reconciliation order (ts, then id bytes). */
void kith_items_sort(kith_item_t *items, size_t n);

struct kith_reconcile_range; /* a queued outgoing range; private to reconcile.c */

/* One side of one reconciliation. Embedded by the caller; the fields are private. */
typedef struct {
    const kith_item_t *items;           /* caller-owned, sorted, unchanged until close */
    size_t n;                           /* items */
    size_t max_msg;                     /* bytes: largest message this side writes */
    struct kith_reconcile_range *queue; /* ranges owed to the peer, in item order */
    size_t queue_len;                   /* ranges */
    uint8_t (*want)[32];                /* ids named by the queued WANT ranges */
    uint8_t *sent;                      /* bitmap over items: already appended to send */
    bool started;                       /* initiate or step has been called */
    bool done;                          /* this side knows the exchange is over */
    bool failed;                        /* a call failed; only close remains */
    uint64_t work;                      /* items visited so far (see the limit above) */
} kith_reconcile_t;

/* Prepares r over items[0..n), which must be sorted strictly ascending (no duplicate)
 * and must stay alive and unchanged until kith_reconcile_close(); r keeps a pointer to
 * it. max_msg bounds the size of every message this side writes: 0 means
 * KITH_RECONCILE_MAX_MSG, otherwise it must lie in [KITH_RECONCILE_MIN_MSG,
 * KITH_RECONCILE_MAX_MSG]. Messages received may always be up to KITH_RECONCILE_MAX_MSG.
 * Returns KITH_OK, KITH_EINVAL (unsorted items, bad max_msg, items NULL with n > 0) or
 * KITH_ENOMEM. On failure r needs no close (closing it is harmless). */
int kith_reconcile_init(kith_reconcile_t *r, const kith_item_t *items, size_t n, size_t max_msg);
/* Releases what r allocated (never the items). Safe on NULL and on a closed r. */
void kith_reconcile_close(kith_reconcile_t *r);

/* Initiator only, once, before any step: writes the first message into out (replacing
 * its contents): 16 FINGERPRINT ranges, or one IDLIST of every item when the set has at
 * most 32 items (the empty set included). KITH_EINVAL if r was already started or has
 * failed, KITH_ENOMEM. */
int kith_reconcile_initiate(kith_reconcile_t *r, kith_buf_t *out);

/* Processes one message from the peer and writes the reply into out, replacing its
 * contents. out->len == 0 means there is nothing to transmit: the message needed no
 * reply and this side has nothing left to say, so the reconciliation is complete.
 * Otherwise out must be transmitted; kith_reconcile_done() then tells whether the peer
 * will answer it.
 *
 * Ids of items this side holds and the peer lacks are appended to send, each item at
 * most once over the life of r (so `send` has no duplicates if it is only fed by r).
 * The ids point to items of the array given to init; the caller transfers the ops.
 *
 * Returns KITH_OK; KITH_EPROTO for a malformed or out-of-turn message (bad length,
 * truncation, unknown mode, bounds not increasing, counts over the limits, duplicate
 * ids in one range, trailing bytes, a range overlapping one this side still owes);
 * KITH_EVERSION for another protocol version; KITH_ETOOBIG if the work queued for the
 * peer would pass KITH_RECONCILE_MAX_PENDING, or the items visited the work limit;
 * KITH_ENOMEM; KITH_EINVAL for NULL
 * arguments or a failed r. On any error out is empty, send is as it was before the
 * call, and r is failed: the reconciliation must be abandoned (only close remains). */
int kith_reconcile_step(kith_reconcile_t *r, const uint8_t *msg, size_t len, kith_buf_t *out,
                        kith_idset_t *send);

/* True once this side knows the reconciliation is complete: its last step produced an
 * empty reply, or a reply the peer will not answer (no FINGERPRINT or IDLIST range, and
 * the whole item space covered). The peer still has to receive that last reply. */
bool kith_reconcile_done(const kith_reconcile_t *r);

#endif
