/*
 * Tests for the state file (src/node/state.c): round trips, every single-bit flip, the
 * wrong key or public key, wrong lengths and magic, and the order kith_state_not_older()
 * puts states in.
 *
 * The key and public key are fixed bytes: the codec does not care where they come from
 * (the node derives the key with kith_vault_state_key()).
 */
#include "check.h"

#include <sodium.h>

#include "kith/kith.h"
#include "node/state.h"

#define MAGIC_LEN 8

static uint8_t key[32], pk[KITH_PK_LEN];
static const kith_state_t sample = {
    .db_id = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
              0x1e, 0x1f},
    .generation = 0x0102030405060708u,
    .max_seq = 0x1122334455667788u,
};

static int
setup(void **state)
{
    (void) state;
    if (kith_init() != KITH_OK) {
        return -1;
    }
    memset(key, 0x4b, sizeof(key));
    memset(pk, 0x50, sizeof(pk));
    return 0;
}

static void
assert_state_equal(const kith_state_t *a, const kith_state_t *b)
{
    assert_memory_equal(a->db_id, b->db_id, 16);
    assert_true(a->generation == b->generation);
    assert_true(a->max_seq == b->max_seq);
}

/* Decodes and expects KITH_ECORRUPT with *out left all zero. */
static void
expect_reject(const uint8_t k[32], const uint8_t p[KITH_PK_LEN], const uint8_t *in, size_t len)
{
    kith_state_t out, zero;
    memset(&out, 0xee, sizeof(out));
    memset(&zero, 0, sizeof(zero));
    ASSERT_ERR(kith_state_decode(k, p, in, len, &out), KITH_ECORRUPT);
    assert_memory_equal(&out, &zero, sizeof(out));
}

static void
round_trip(void **state)
{
    (void) state;
    uint8_t enc[KITH_STATE_LEN], again[KITH_STATE_LEN];
    kith_state_encode(key, pk, &sample, enc);
    assert_memory_equal(enc, "KITHST01", MAGIC_LEN);
    kith_state_t out;
    ASSERT_OK(kith_state_decode(key, pk, enc, sizeof(enc), &out));
    assert_state_equal(&out, &sample);

    /* A fresh nonce every time: the same state never encodes to the same bytes. */
    kith_state_encode(key, pk, &sample, again);
    assert_true(memcmp(enc + MAGIC_LEN, again + MAGIC_LEN, sizeof(enc) - MAGIC_LEN) != 0);
    ASSERT_OK(kith_state_decode(key, pk, again, sizeof(again), &out));
    assert_state_equal(&out, &sample);

    /* The extremes of each counter come back exactly (big-endian, all 64 bits). */
    const uint64_t values[] = {
        0, 1, 0xff, 0x100, (uint64_t) INT64_MAX, (uint64_t) INT64_MAX + 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        kith_state_t st;
        memset(st.db_id, (int) i, sizeof(st.db_id));
        st.generation = values[i];
        st.max_seq = values[sizeof(values) / sizeof(values[0]) - 1 - i];
        kith_state_encode(key, pk, &st, enc);
        ASSERT_OK(kith_state_decode(key, pk, enc, sizeof(enc), &out));
        assert_state_equal(&out, &st);
    }
}

/* No single flipped bit anywhere, magic, nonce, ciphertext or tag, goes unnoticed. */
static void
every_bit_flip(void **state)
{
    (void) state;
    uint8_t enc[KITH_STATE_LEN], bad[KITH_STATE_LEN];
    kith_state_encode(key, pk, &sample, enc);
    for (size_t i = 0; i < sizeof(enc) * 8; i++) {
        memcpy(bad, enc, sizeof(bad));
        bad[i / 8] ^= (uint8_t) (1u << (i % 8));
        expect_reject(key, pk, bad, sizeof(bad));
    }
    /* The original still decodes: nothing above was decoded in place. */
    kith_state_t out;
    ASSERT_OK(kith_state_decode(key, pk, enc, sizeof(enc), &out));
    assert_state_equal(&out, &sample);
}

static void
wrong_key_or_identity(void **state)
{
    (void) state;
    uint8_t enc[KITH_STATE_LEN], other[32];
    kith_state_encode(key, pk, &sample, enc);
    /* Another key, one bit off or entirely different. */
    memcpy(other, key, sizeof(other));
    other[31] ^= 0x01;
    expect_reject(other, pk, enc, sizeof(enc));
    memset(other, 0, sizeof(other));
    expect_reject(other, pk, enc, sizeof(enc));
    /* The right key, but the state file of another node (its public key is the AD). */
    uint8_t other_pk[KITH_PK_LEN];
    memcpy(other_pk, pk, sizeof(other_pk));
    other_pk[0] ^= 0x80;
    expect_reject(key, other_pk, enc, sizeof(enc));
    memset(other_pk, 0x51, sizeof(other_pk));
    expect_reject(key, other_pk, enc, sizeof(enc));
    /* And one written for the other node does not open as ours. */
    kith_state_encode(key, other_pk, &sample, enc);
    expect_reject(key, pk, enc, sizeof(enc));
    kith_state_t out;
    ASSERT_OK(kith_state_decode(key, other_pk, enc, sizeof(enc), &out));
    assert_state_equal(&out, &sample);
}

/* Every length but 80, from empty to twice that: prefixes of a valid file, and the valid
 * file with bytes after it. Only exactly 80 decodes. */
static void
wrong_lengths(void **state)
{
    (void) state;
    uint8_t buf[2 * KITH_STATE_LEN];
    kith_state_encode(key, pk, &sample, buf);
    randombytes_buf(buf + KITH_STATE_LEN, KITH_STATE_LEN);
    for (size_t len = 0; len <= sizeof(buf); len++) {
        if (len == KITH_STATE_LEN) {
            kith_state_t out;
            ASSERT_OK(kith_state_decode(key, pk, buf, len, &out));
            assert_state_equal(&out, &sample);
            continue;
        }
        expect_reject(key, pk, buf, len);
    }
    /* A trailing zero, as a text editor might add a newline, is refused too. */
    memset(buf + KITH_STATE_LEN, 0, KITH_STATE_LEN);
    expect_reject(key, pk, buf, KITH_STATE_LEN + 1);
}

static void
wrong_magic(void **state)
{
    (void) state;
    uint8_t enc[KITH_STATE_LEN], bad[KITH_STATE_LEN];
    kith_state_encode(key, pk, &sample, enc);
    /* Another version, another file kind, lower case, all zero. */
    const char *magics[] = {"KITHST02", "KITHST00", "KITHKEY1", "kithst01", "\0\0\0\0\0\0\0\0"};
    for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
        memcpy(bad, enc, sizeof(bad));
        memcpy(bad, magics[i], MAGIC_LEN);
        expect_reject(key, pk, bad, sizeof(bad));
    }
    /* An all-zero file and an all-0xff file. */
    memset(bad, 0, sizeof(bad));
    expect_reject(key, pk, bad, sizeof(bad));
    memset(bad, 0xff, sizeof(bad));
    expect_reject(key, pk, bad, sizeof(bad));
}

static void
null_input(void **state)
{
    (void) state;
    expect_reject(key, pk, NULL, 0);
    expect_reject(key, pk, NULL, KITH_STATE_LEN);
}

static kith_state_t
at(uint8_t id, uint64_t generation, uint64_t max_seq)
{
    kith_state_t st;
    memset(st.db_id, id, sizeof(st.db_id));
    st.generation = generation;
    st.max_seq = max_seq;
    return st;
}

static void
not_older(void **state)
{
    (void) state;
    kith_state_t then = at(1, 10, 100);
    kith_state_t same = at(1, 10, 100);
    assert_true(kith_state_not_older(&same, &then));
    assert_true(kith_state_not_older(&then, &then));

    /* Newer in one counter or both. */
    kith_state_t gen_up = at(1, 11, 100), seq_up = at(1, 10, 101), both_up = at(1, 11, 101);
    assert_true(kith_state_not_older(&gen_up, &then));
    assert_true(kith_state_not_older(&seq_up, &then));
    assert_true(kith_state_not_older(&both_up, &then));
    /* ...and so the old state is older than each. */
    assert_false(kith_state_not_older(&then, &gen_up));
    assert_false(kith_state_not_older(&then, &seq_up));
    assert_false(kith_state_not_older(&then, &both_up));

    /* Older in either counter is older, whatever the other did. */
    kith_state_t gen_down = at(1, 9, 100), seq_down = at(1, 10, 99);
    kith_state_t gen_down_seq_up = at(1, 9, 1000), seq_down_gen_up = at(1, 1000, 99);
    assert_false(kith_state_not_older(&gen_down, &then));
    assert_false(kith_state_not_older(&seq_down, &then));
    assert_false(kith_state_not_older(&gen_down_seq_up, &then));
    assert_false(kith_state_not_older(&seq_down_gen_up, &then));

    /* Another database is never "not older", even equal or ahead in both counters, and
     * whichever byte of its id differs. */
    kith_state_t other = at(2, 10, 100), other_ahead = at(2, 20, 200);
    assert_false(kith_state_not_older(&other, &then));
    assert_false(kith_state_not_older(&other_ahead, &then));
    for (int i = 0; i < 16; i++) {
        kith_state_t one_off = then;
        one_off.db_id[i] ^= 0x01;
        assert_false(kith_state_not_older(&one_off, &then));
    }

    /* The counters compare as unsigned 64-bit numbers. */
    kith_state_t low = at(1, 0, 0), high = at(1, UINT64_MAX, UINT64_MAX);
    assert_true(kith_state_not_older(&high, &low));
    assert_false(kith_state_not_older(&low, &high));
    kith_state_t top_bit = at(1, (uint64_t) INT64_MAX + 1, 0), below = at(1, INT64_MAX, 0);
    assert_true(kith_state_not_older(&top_bit, &below));
    assert_false(kith_state_not_older(&below, &top_bit));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(every_bit_flip),
        cmocka_unit_test(wrong_key_or_identity),
        cmocka_unit_test(wrong_lengths),
        cmocka_unit_test(wrong_magic),
        cmocka_unit_test(null_input),
        cmocka_unit_test(not_older),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
