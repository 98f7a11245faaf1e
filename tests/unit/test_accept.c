/*
 * Tests for the receiving rules (src/model/accept.c), on ops and folded records built in
 * memory: no store, no network.
 */
#include "check.h"

#include <stdlib.h>

#include "kith/kith.h"
#include "model/accept.h"
#include "model/schema.h"
#include "util/hlc.h"

enum { OWNER, EDITOR, READER, STRANGER, N_IDS };
static kith_identity_t *ids[N_IDS];
static uint8_t rec[KITH_REC_ID_LEN];

#define NOW ((uint64_t) 1700000000000ULL)

static int
setup(void **state)
{
    (void) state;
    if (kith_init() != KITH_OK) {
        return -1;
    }
    for (int i = 0; i < N_IDS; i++) {
        uint8_t seed[KITH_SEED_LEN];
        memset(seed, 0x50 + i, sizeof(seed));
        if (kith_identity_from_seed(seed, &ids[i]) != KITH_OK) {
            return -1;
        }
    }
    static const uint8_t nonce[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    kith_op_rec_id_make(ids[OWNER]->pk, nonce, rec);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    for (int i = 0; i < N_IDS; i++) {
        kith_identity_free(ids[i]);
    }
    return 0;
}

static void
op_by(kith_op_t *op, int author, uint64_t ms)
{
    kith_op_init(op);
    memcpy(op->rec, rec, KITH_REC_ID_LEN);
    memcpy(op->owner, ids[OWNER]->pk, KITH_PK_LEN);
    memcpy(op->author, ids[author]->pk, KITH_PK_LEN);
    op->hlc = ms << 16;
}

static void
one_op(void **state)
{
    (void) state;
    kith_op_t op;
    op_by(&op, EDITOR, NOW);
    assert_null(kith_accept_op(&op, 0, NOW));
    /* Owner-only parts by someone else. */
    op.del = 1;
    assert_non_null(kith_accept_op(&op, 0, NOW));
    op.del = -1;
    op.kind = KITH_KIND_PERSON;
    assert_non_null(kith_accept_op(&op, 0, NOW));
    op.kind = -1;
    ASSERT_OK(kith_op_add_aud(&op, ids[EDITOR]->pk, KITH_ROLE_EDITOR));
    assert_non_null(kith_accept_op(&op, 0, NOW));
    kith_op_close(&op);
    /* The owner may. */
    op_by(&op, OWNER, NOW);
    op.del = 1;
    ASSERT_OK(kith_op_add_aud(&op, ids[EDITOR]->pk, KITH_ROLE_EDITOR));
    assert_null(kith_accept_op(&op, 0, NOW));
    kith_op_close(&op);
    /* The clock: up to the allowed skew ahead, not beyond. */
    op_by(&op, EDITOR, NOW + KITH_MAX_CLOCK_SKEW_MS);
    assert_null(kith_accept_op(&op, 0, NOW));
    op_by(&op, EDITOR, NOW + KITH_MAX_CLOCK_SKEW_MS + 1);
    assert_non_null(kith_accept_op(&op, 0, NOW));
    /* Private: only from this user's own devices. */
    op_by(&op, EDITOR, NOW);
    op.private = 1;
    assert_non_null(kith_accept_op(&op, 0, NOW));
    assert_null(kith_accept_op(&op, 1, NOW));
    /* A record id squatted under another owner. */
    op_by(&op, STRANGER, NOW);
    memcpy(op.owner, ids[STRANGER]->pk, KITH_PK_LEN);
    assert_non_null(kith_accept_op(&op, 0, NOW));
}

/* Folds ops[0..n) into r. */
static void
fold_ops(kith_op_t *ops, size_t n, kith_fold_input_t *in, kith_record_t *r)
{
    for (size_t i = 0; i < n; i++) {
        kith_buf_t b;
        kith_buf_init(&b);
        ASSERT_OK(kith_op_encode(&ops[i], &b));
        in[i].op = &ops[i];
        kith_op_hash(b.data, b.len, in[i].hash);
        kith_buf_close(&b);
    }
    ASSERT_OK(kith_fold(in, n, r, NULL));
}

static const kith_fold_input_t *
input_of(const kith_fold_input_t *in, size_t n, const kith_op_t *op)
{
    for (size_t i = 0; i < n; i++) {
        if (in[i].op == op) {
            return &in[i];
        }
    }
    fail();
    return NULL;
}

static void
holding(void **state)
{
    (void) state;
    const uint8_t *owner = ids[OWNER]->pk, *editor = ids[EDITOR]->pk, *reader = ids[READER]->pk,
                  *stranger = ids[STRANGER]->pk;
    kith_op_t ops[4];
    op_by(&ops[0], OWNER, NOW);
    ASSERT_OK(kith_op_add_aud(&ops[0], editor, KITH_ROLE_EDITOR));
    ASSERT_OK(kith_op_add_aud(&ops[0], reader, KITH_ROLE_READER));
    op_by(&ops[1], EDITOR, NOW + 1);
    kith_fold_input_t in[4];
    kith_record_t r;
    fold_ops(ops, 2, in, &r);
    const kith_fold_input_t *edit = input_of(in, 2, &ops[1]);
    /* Sender and receiver in the audience. */
    assert_true(kith_accept_holding(&r, editor, reader, 0, 1, 1, edit, 1));
    assert_true(kith_accept_holding(&r, owner, reader, 0, 1, 0, edit, 1));
    /* A sender outside it, or a receiver outside it. */
    assert_false(kith_accept_holding(&r, stranger, reader, 0, 1, 1, edit, 1));
    assert_false(kith_accept_holding(&r, editor, stranger, 0, 1, 1, edit, 1));
    /* An envelope needs no receiver check; a self peer, no check at all. */
    assert_true(kith_accept_holding(&r, editor, stranger, 0, 0, 0, edit, 1));
    assert_true(kith_accept_holding(&r, stranger, stranger, 1, 1, 0, edit, 1));
    kith_record_close(&r);

    /* The owner removes the reader, then edits: the reader may learn of its removal (the
     * removing op and older ones) but take nothing later. */
    op_by(&ops[2], OWNER, NOW + 2);
    ASSERT_OK(kith_op_add_aud(&ops[2], editor, KITH_ROLE_EDITOR));
    op_by(&ops[3], OWNER, NOW + 3);
    fold_ops(ops, 4, in, &r);
    ASSERT_EQ(r.n_former, 1);
    kith_fold_input_t removal = *input_of(in, 4, &ops[2]), later = *input_of(in, 4, &ops[3]);
    kith_fold_input_t older = *input_of(in, 4, &ops[1]);
    kith_fold_input_t both[2] = {older, removal}, too_much[2] = {removal, later};
    assert_true(kith_accept_holding(&r, owner, reader, 0, 1, 1, &removal, 1));
    assert_true(kith_accept_holding(&r, editor, reader, 0, 1, 1, both, 2));
    assert_false(kith_accept_holding(&r, owner, reader, 0, 1, 1, too_much, 2));
    assert_false(kith_accept_holding(&r, owner, reader, 0, 1, 1, &later, 1));
    /* Not for a record it never held, nor for someone never removed. */
    assert_false(kith_accept_holding(&r, owner, reader, 0, 1, 0, &removal, 1));
    assert_false(kith_accept_holding(&r, owner, stranger, 0, 1, 1, &removal, 1));
    kith_record_close(&r);
    for (int i = 0; i < 4; i++) {
        kith_op_close(&ops[i]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_op),
        cmocka_unit_test(holding),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
