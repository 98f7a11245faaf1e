/*
 * The fold: from a record's set of ops to the record itself (proto/OPS.md "The fold").
 *
 *  - Ops are taken in order of (hlc, author, hash); the order is total, so two nodes
 *    holding the same ops compute the same record.
 *  - The owner is the owner named by the earliest op that its owner signed; ops naming
 *    another owner are ignored.
 *  - A private op always counts, and changes only the private layer. A shared op counts
 *    if its author is the owner, or an editor in the audience as the owner's earlier ops
 *    left it, unless a later demotion of that editor leaves the op out of its cut.
 *  - Single-valued fields take the last value set; lists merge by element instance.
 *  - Audience, deletion and kind come only from the owner's shared ops.
 */
#ifndef KITH_FOLD_H
#define KITH_FOLD_H

#include <stddef.h>

#include "model/op.h"
#include "model/record.h"

typedef struct {
    const kith_op_t *op;
    uint8_t hash[KITH_HASH_LEN];
} kith_fold_input_t;

/* Folds n ops of one record into out (initialised by this call). The array is sorted in
 * place into fold order; effective (may be NULL, else n ints) then tells, per position,
 * whether that op took effect (for `kith log`). KITH_EINVAL if n is 0 or the ops are not
 * all for the same record. */
int kith_fold(kith_fold_input_t *ops, size_t n, kith_record_t *out, int *effective);
/* The record as it stood after the first `upto` ops of n already in fold order (as
 * kith_fold() leaves them), judged with all n in view, so an op that a later demotion
 * voids is void here too. `kith log` uses it to show each op's before and after. */
int kith_fold_sorted(const kith_fold_input_t *ops, size_t n, size_t upto, kith_record_t *out,
                     int *effective);

/* Gives aud_op, an owner op that replaces the audience of record cur, the cut that its
 * demotions need (proto/OPS.md "The fold", rule 3): every editor of cur that aud_op no
 * longer makes an editor is listed, with the hashes of its shared ops among the n ops
 * (the record's ops this node holds). KITH_ETOOBIG past the limits of one op. */
int kith_fold_cut(kith_op_t *aud_op, const kith_record_t *cur, const kith_fold_input_t *ops,
                  size_t n);

#endif
