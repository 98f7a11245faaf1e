/*
 * Tests for node identities (src/crypto/identity.c): signatures and forgeries,
 * deterministic keys from a seed, and the derived X25519 keys.
 *
 * Seeds are fixed so that any failure reproduces.
 */
#include "check.h"

#include <sodium.h>

#include "crypto/identity.h"
#include "kith/kith.h"

static int
setup(void **state)
{
    (void) state;
    return kith_init() == KITH_OK ? 0 : -1;
}

static kith_identity_t *
make_identity(uint8_t n)
{
    uint8_t seed[KITH_SEED_LEN];
    memset(seed, n, sizeof(seed));
    kith_identity_t *id = NULL;
    ASSERT_OK(kith_identity_from_seed(seed, &id));
    assert_non_null(id);
    return id;
}

static void
sign_and_verify(void **state)
{
    (void) state;
    kith_identity_t *id = make_identity(1);
    static const uint8_t msg[] = "kith-op-v1 some hash";
    uint8_t sig[KITH_SIG_LEN];
    ASSERT_OK(kith_identity_sign(id, msg, sizeof(msg), sig));
    ASSERT_OK(kith_identity_verify(id->pk, msg, sizeof(msg), sig));
    /* Ed25519 is deterministic: the same message gives the same signature. */
    uint8_t sig2[KITH_SIG_LEN];
    ASSERT_OK(kith_identity_sign(id, msg, sizeof(msg), sig2));
    assert_memory_equal(sig, sig2, KITH_SIG_LEN);
    /* An empty message can be signed too. */
    ASSERT_OK(kith_identity_sign(id, NULL, 0, sig2));
    ASSERT_OK(kith_identity_verify(id->pk, NULL, 0, sig2));
    ASSERT_ERR(kith_identity_verify(id->pk, msg, sizeof(msg), sig2), KITH_ECRYPTO);
    /* It interoperates with libsodium directly. */
    ASSERT_EQ(crypto_sign_verify_detached(sig, msg, sizeof(msg), id->pk), 0);
    kith_identity_free(id);
}

static void
every_flipped_bit_fails(void **state)
{
    (void) state;
    kith_identity_t *id = make_identity(2);
    uint8_t msg[48];
    for (size_t i = 0; i < sizeof(msg); i++) {
        msg[i] = (uint8_t) (i * 31);
    }
    uint8_t sig[KITH_SIG_LEN];
    ASSERT_OK(kith_identity_sign(id, msg, sizeof(msg), sig));
    for (size_t bit = 0; bit < 8 * sizeof(msg); bit++) {
        msg[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        ASSERT_ERR(kith_identity_verify(id->pk, msg, sizeof(msg), sig), KITH_ECRYPTO);
        msg[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    for (size_t bit = 0; bit < 8 * KITH_SIG_LEN; bit++) {
        sig[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        ASSERT_ERR(kith_identity_verify(id->pk, msg, sizeof(msg), sig), KITH_ECRYPTO);
        sig[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    for (size_t bit = 0; bit < 8 * KITH_PK_LEN; bit++) {
        uint8_t pk[KITH_PK_LEN];
        memcpy(pk, id->pk, KITH_PK_LEN);
        pk[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        ASSERT_ERR(kith_identity_verify(pk, msg, sizeof(msg), sig), KITH_ECRYPTO);
    }
    /* A truncated or extended message fails too. */
    ASSERT_ERR(kith_identity_verify(id->pk, msg, sizeof(msg) - 1, sig), KITH_ECRYPTO);
    ASSERT_OK(kith_identity_verify(id->pk, msg, sizeof(msg), sig));
    kith_identity_free(id);
}

static void
other_key_fails(void **state)
{
    (void) state;
    kith_identity_t *a = make_identity(3), *b = make_identity(4);
    static const uint8_t msg[] = "hello";
    uint8_t sig[KITH_SIG_LEN];
    ASSERT_OK(kith_identity_sign(a, msg, sizeof(msg), sig));
    ASSERT_ERR(kith_identity_verify(b->pk, msg, sizeof(msg), sig), KITH_ECRYPTO);
    kith_identity_free(a);
    kith_identity_free(b);
}

/* S + L is the same signature in a non-canonical form: it must not verify, or
 * signatures (and so signed ops) would be malleable. */
static void
non_canonical_signature_fails(void **state)
{
    (void) state;
    static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                  0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                  0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};
    kith_identity_t *id = make_identity(5);
    static const uint8_t msg[] = "malleable?";
    uint8_t sig[KITH_SIG_LEN];
    ASSERT_OK(kith_identity_sign(id, msg, sizeof(msg), sig));
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned s = sig[32 + i] + L[i] + carry;
        sig[32 + i] = (uint8_t) s;
        carry = s >> 8;
    }
    ASSERT_EQ(carry, 0);
    ASSERT_ERR(kith_identity_verify(id->pk, msg, sizeof(msg), sig), KITH_ECRYPTO);
    /* An all-zero signature and key are nonsense, not a universal forgery. */
    uint8_t zero_sig[KITH_SIG_LEN] = {0}, zero_pk[KITH_PK_LEN] = {0};
    ASSERT_ERR(kith_identity_verify(id->pk, msg, sizeof(msg), zero_sig), KITH_ECRYPTO);
    ASSERT_ERR(kith_identity_verify(zero_pk, msg, sizeof(msg), zero_sig), KITH_ECRYPTO);
    kith_identity_free(id);
}

static void
from_seed_is_deterministic(void **state)
{
    (void) state;
    uint8_t seed[KITH_SEED_LEN], back[KITH_SEED_LEN];
    for (int i = 0; i < KITH_SEED_LEN; i++) {
        seed[i] = (uint8_t) (0x40 + i);
    }
    kith_identity_t *a = NULL, *b = NULL;
    ASSERT_OK(kith_identity_from_seed(seed, &a));
    ASSERT_OK(kith_identity_from_seed(seed, &b));
    assert_memory_equal(a->pk, b->pk, KITH_PK_LEN);
    assert_memory_equal(a->xpk, b->xpk, KITH_PK_LEN);
    assert_memory_equal(a->sk, b->sk, 64);
    assert_memory_equal(a->xsk, b->xsk, 32);
    kith_identity_seed(a, back);
    assert_memory_equal(seed, back, KITH_SEED_LEN);
    /* Same as libsodium's own seed derivation. */
    uint8_t pk[32], sk[64];
    ASSERT_EQ(crypto_sign_seed_keypair(pk, sk, seed), 0);
    assert_memory_equal(a->pk, pk, 32);
    /* A different seed gives a different key. */
    seed[31] ^= 1;
    kith_identity_t *c = NULL;
    ASSERT_OK(kith_identity_from_seed(seed, &c));
    assert_memory_not_equal(a->pk, c->pk, KITH_PK_LEN);
    kith_identity_free(a);
    kith_identity_free(b);
    kith_identity_free(c);
    sodium_memzero(back, sizeof(back));
}

static void
new_is_random(void **state)
{
    (void) state;
    kith_identity_t *a = NULL, *b = NULL;
    ASSERT_OK(kith_identity_new(&a));
    ASSERT_OK(kith_identity_new(&b));
    assert_memory_not_equal(a->pk, b->pk, KITH_PK_LEN);
    /* The seed of a random identity regenerates it exactly. */
    uint8_t seed[KITH_SEED_LEN];
    kith_identity_seed(a, seed);
    kith_identity_t *c = NULL;
    ASSERT_OK(kith_identity_from_seed(seed, &c));
    assert_memory_equal(a->pk, c->pk, KITH_PK_LEN);
    sodium_memzero(seed, sizeof(seed));
    kith_identity_free(a);
    kith_identity_free(b);
    kith_identity_free(c);
    kith_identity_free(NULL);
}

static void
x25519_derivation(void **state)
{
    (void) state;
    for (uint8_t n = 10; n < 30; n++) {
        kith_identity_t *id = make_identity(n);
        uint8_t xpk[32], xsk[32], pub[32], mine[32];
        ASSERT_EQ(crypto_sign_ed25519_pk_to_curve25519(xpk, id->pk), 0);
        assert_memory_equal(id->xpk, xpk, 32);
        ASSERT_EQ(crypto_sign_ed25519_sk_to_curve25519(xsk, id->sk), 0);
        assert_memory_equal(id->xsk, xsk, 32);
        /* The secret half matches the public half. */
        ASSERT_EQ(crypto_scalarmult_base(pub, id->xsk), 0);
        assert_memory_equal(pub, id->xpk, 32);
        /* kith_identity_x25519_pk gives the same from the public key alone. */
        ASSERT_OK(kith_identity_x25519_pk(id->pk, mine));
        assert_memory_equal(mine, id->xpk, 32);
        sodium_memzero(xsk, sizeof(xsk));
        kith_identity_free(id);
    }
    /* Two identities agree on a shared secret through the derived keys. */
    kith_identity_t *a = make_identity(40), *b = make_identity(41);
    uint8_t s1[32], s2[32];
    ASSERT_EQ(crypto_scalarmult(s1, a->xsk, b->xpk), 0);
    ASSERT_EQ(crypto_scalarmult(s2, b->xsk, a->xpk), 0);
    assert_memory_equal(s1, s2, 32);
    kith_identity_free(a);
    kith_identity_free(b);
}

static void
x25519_rejects_bad_keys(void **state)
{
    (void) state;
    uint8_t xpk[32];
    /* The identity point and other small-order points have no useful X25519 key. */
    uint8_t identity[32] = {1};
    ASSERT_ERR(kith_identity_x25519_pk(identity, xpk), KITH_ECRYPTO);
    uint8_t zero[32] = {0};
    ASSERT_ERR(kith_identity_x25519_pk(zero, xpk), KITH_ECRYPTO);
    /* y = 2 is not the y of any curve point. */
    uint8_t not_on_curve[32] = {2};
    ASSERT_ERR(kith_identity_x25519_pk(not_on_curve, xpk), KITH_ECRYPTO);
    /* The order-2 point (0, -1). */
    uint8_t minus_one[32];
    memset(minus_one, 0xff, 32);
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    ASSERT_ERR(kith_identity_x25519_pk(minus_one, xpk), KITH_ECRYPTO);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_and_verify),
        cmocka_unit_test(every_flipped_bit_fails),
        cmocka_unit_test(other_key_fails),
        cmocka_unit_test(non_canonical_signature_fails),
        cmocka_unit_test(from_seed_is_deterministic),
        cmocka_unit_test(new_is_random),
        cmocka_unit_test(x25519_derivation),
        cmocka_unit_test(x25519_rejects_bad_keys),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
