/*
 * The receiving rules; see accept.h and proto/SYNC.md "Receiving ops".
 */
#include "model/accept.h"

#include <string.h>

#include "util/hlc.h"

const char *
kith_accept_op(const kith_op_t *op, int from_self_peer, uint64_t now_ms)
{
    if (!kith_op_rec_id_check(op->rec, op->owner)) {
        return "record id not bound to the owner it names";
    }
    /* A cut comes only with an audience (the decoder checks), so this covers it too. */
    if (memcmp(op->author, op->owner, KITH_PK_LEN) != 0 &&
        (op->del >= 0 || op->has_aud || op->kind >= 0)) {
        return "only the owner may delete, share or create a record";
    }
    if (kith_hlc_ms(op->hlc) > now_ms + KITH_MAX_CLOCK_SKEW_MS) {
        return "timestamp too far in the future (a clock is wrong)";
    }
    if (op->private && !from_self_peer) {
        return "private op from a peer that is not one of our devices";
    }
    return NULL;
}

/* 1 if self was removed from r's audience and every op is the removing op or older. */
static int
learns_removal(const kith_record_t *r, const uint8_t self[KITH_PK_LEN],
               const kith_fold_input_t *ops, size_t n)
{
    for (size_t f = 0; f < r->n_former; f++) {
        const kith_former_t *fm = &r->former[f];
        if (memcmp(fm->key, self, KITH_PK_LEN) != 0) {
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (ops[i].op->hlc >= fm->hlc && memcmp(ops[i].hash, fm->op, KITH_HASH_LEN) != 0) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

int
kith_accept_holding(const kith_record_t *r, const uint8_t sender[static KITH_PK_LEN],
                    const uint8_t self[static KITH_PK_LEN], int self_peer, int receiver_check,
                    int held_before, const kith_fold_input_t *ops, size_t n)
{
    if (self_peer || n == 0) {
        return 1;
    }
    if (kith_record_role(r, sender) == 0) {
        return 0;
    }
    if (!receiver_check || kith_record_role(r, self) != 0) {
        return 1;
    }
    return held_before && learns_removal(r, self, ops, n);
}
