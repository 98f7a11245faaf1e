/*
 * Who may do what to a record, for ops another node sends (proto/SYNC.md "Receiving
 * ops"): pure rules, no storage. The store calls them around the fold; a fuzzer or a
 * test can call them on any op and record.
 *
 * An op a node receives is judged twice. First alone (kith_accept_op): it must be bound
 * to the owner it names, carry owner-only parts only if the owner signed it, not claim a
 * time from the future, and be private only if it comes from one of this user's devices.
 * Then, once the record is folded with it, the fold says whether its author had the
 * authority (the effective flags), and kith_accept_holding() whether the sender and this
 * node may hold the record at all.
 */
#ifndef KITH_ACCEPT_H
#define KITH_ACCEPT_H

#include <stddef.h>
#include <stdint.h>

#include "model/fold.h"
#include "model/op.h"
#include "model/record.h"

#define KITH_MAX_CLOCK_SKEW_MS (60 * 60 * 1000) /* ops from further ahead are refused */

/* NULL if a verified op may go on to the fold, else why not (a sentence for the log,
 * with no record content). from_self_peer: the sender is one of this user's devices;
 * now_ms: this node's clock. */
const char *kith_accept_op(const kith_op_t *op, int from_self_peer, uint64_t now_ms);

/* Rule 4: 1 if the ops just received for one record may stay, judged on r, the record
 * folded with them (its former members included). The sender must be the owner or in
 * the audience, and so must this node (self) when receiver_check is set, except that a
 * node removed from the audience of a record it already held (held_before) may take the
 * owner's op that removed it and ops older than that, and nothing later: so it learns
 * that it was removed. ops (n) are the effective new ops, with their hashes. A self peer
 * may send anything it holds. */
int kith_accept_holding(const kith_record_t *r, const uint8_t sender[static KITH_PK_LEN],
                        const uint8_t self[static KITH_PK_LEN], int self_peer, int receiver_check,
                        int held_before, const kith_fold_input_t *ops, size_t n);

#endif
