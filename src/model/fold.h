/*
 * The fold: from a record's set of ops to the record itself.
 *
 * Rules (proto/OPS.md "Fold"):
 *  - Ops are taken in order of (hlc, author, hash); the order is total, so two nodes
 *    holding the same ops compute the same record.
 *  - The owner is the owner named by the earliest op that its owner signed; ops naming
 *    another owner are ignored.
 *  - An op is effective if its author is the owner, or an editor in the audience as the
 *    owner's earlier ops left it (the audience "at that hlc").
 *  - Fields: each takes the value of the last effective op that set or unset it.
 *  - Audience, deletion and kind come only from the owner's ops.
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

#endif
