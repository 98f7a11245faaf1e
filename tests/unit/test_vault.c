/*
 * Tests for the vault (src/crypto/vault.c): sealing and unsealing blobs, associated
 * data, tampering, wrapped storage keys and name tags.
 */
#include "check.h"

#include <stdlib.h>

#include <sodium.h>

#include "crypto/vault.h"
#include "kith/kith.h"

static kith_identity_t *alice, *bob;

static kith_identity_t *
make_identity(uint8_t n)
{
    uint8_t seed[KITH_SEED_LEN];
    memset(seed, n, sizeof(seed));
    kith_identity_t *id = NULL;
    if (kith_identity_from_seed(seed, &id) != KITH_OK) {
        return NULL;
    }
    return id;
}

static int
setup(void **state)
{
    (void) state;
    if (kith_init() != KITH_OK) {
        return -1;
    }
    alice = make_identity(0xa1);
    bob = make_identity(0xb0);
    return alice && bob ? 0 : -1;
}

static int
teardown(void **state)
{
    (void) state;
    kith_identity_free(alice);
    kith_identity_free(bob);
    return 0;
}

static void
round_trip(void **state)
{
    (void) state;
    uint8_t wrapped[KITH_VAULT_WRAPPED_LEN];
    kith_vault_t *v = NULL;
    ASSERT_OK(kith_vault_create(alice, wrapped, &v));
    assert_non_null(v);
    static const size_t sizes[] = {0, 1, 15, 16, 17, 1000, 100000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        uint8_t *pt = malloc(n + 1);
        assert_non_null(pt);
        randombytes_buf(pt, n);
        static const uint8_t ad[] = "record-id-16byte";
        kith_buf_t sealed, back;
        kith_buf_init(&sealed);
        kith_buf_init(&back);
        ASSERT_OK(kith_vault_seal(v, ad, 16, pt, n, &sealed));
        ASSERT_EQ(sealed.len, n + KITH_VAULT_OVERHEAD);
        /* Unseal appends to what the buffer already holds. */
        ASSERT_OK(kith_buf_puts(&back, "pre"));
        ASSERT_OK(kith_vault_unseal(v, ad, 16, sealed.data, sealed.len, &back));
        ASSERT_EQ(back.len, 3 + n);
        assert_memory_equal(back.data, "pre", 3);
        if (n > 0) {
            assert_memory_equal(back.data + 3, pt, n);
        }
        ASSERT_EQ(back.data[back.len], '\0');
        kith_buf_close(&sealed);
        kith_buf_close(&back);
        free(pt);
    }
    /* Associated data is optional. */
    kith_buf_t sealed, back;
    kith_buf_init(&sealed);
    kith_buf_init(&back);
    ASSERT_OK(kith_vault_seal(v, NULL, 0, (const uint8_t *) "hi", 2, &sealed));
    ASSERT_OK(kith_vault_unseal(v, NULL, 0, sealed.data, sealed.len, &back));
    ASSERT_STREQ((char *) back.data, "hi");
    kith_buf_close(&sealed);
    kith_buf_close(&back);
    kith_vault_free(v);
    kith_vault_free(NULL);
}

static void
nonces_are_fresh(void **state)
{
    (void) state;
    uint8_t wrapped[KITH_VAULT_WRAPPED_LEN];
    kith_vault_t *v = NULL;
    ASSERT_OK(kith_vault_create(alice, wrapped, &v));
    kith_buf_t a, b;
    kith_buf_init(&a);
    kith_buf_init(&b);
    ASSERT_OK(kith_vault_seal(v, NULL, 0, (const uint8_t *) "same text", 9, &a));
    ASSERT_OK(kith_vault_seal(v, NULL, 0, (const uint8_t *) "same text", 9, &b));
    ASSERT_EQ(a.len, b.len);
    assert_memory_not_equal(a.data, b.data, 24);
    assert_memory_not_equal(a.data + 24, b.data + 24, a.len - 24);
    /* The plaintext is nowhere in the blob. */
    for (size_t i = 0; i + 9 <= a.len; i++) {
        assert_memory_not_equal(a.data + i, "same text", 9);
    }
    kith_buf_close(&a);
    kith_buf_close(&b);
    kith_vault_free(v);
}

/* Nonces come from a pool refilled a page at a time: across many refills, every blob
 * still gets a nonce of its own. */
static void
nonces_unique_across_pool_refills(void **state)
{
    (void) state;
    uint8_t wrapped[KITH_VAULT_WRAPPED_LEN];
    kith_vault_t *v = NULL;
    ASSERT_OK(kith_vault_create(alice, wrapped, &v));
    enum { N = 2000 };
    uint8_t(*nonces)[24] = malloc(N * 24);
    assert_non_null(nonces);
    kith_buf_t b, out;
    kith_buf_init(&b);
    kith_buf_init(&out);
    for (int i = 0; i < N; i++) {
        b.len = 0;
        ASSERT_OK(kith_vault_seal(v, NULL, 0, (const uint8_t *) &i, sizeof(i), &b));
        memcpy(nonces[i], b.data, 24);
        out.len = 0;
        ASSERT_OK(kith_vault_unseal(v, NULL, 0, b.data, b.len, &out));
        assert_memory_equal(out.data, &i, sizeof(i));
        /* Other draws from the pool in between must not repeat nonces either. */
        if (i % 7 == 0) {
            uint8_t junk[13];
            kith_vault_random(v, junk, sizeof(junk));
        }
    }
    for (int i = 0; i < N; i++) {
        uint8_t zero[24] = {0};
        assert_memory_not_equal(nonces[i], zero, 24);
        for (int k = 0; k < i; k++) {
            if (memcmp(nonces[i], nonces[k], 24) == 0) {
                print_error("nonce %d repeats nonce %d\n", i, k);
                fail();
            }
        }
    }
    free(nonces);
    kith_buf_close(&b);
    kith_buf_close(&out);
    kith_vault_free(v);
}

static void
random_bytes(void **state)
{
    (void) state;
    uint8_t wrapped[KITH_VAULT_WRAPPED_LEN];
    kith_vault_t *v = NULL;
    ASSERT_OK(kith_vault_create(alice, wrapped, &v));
    uint8_t a[32], b[32], zero[32] = {0};
    kith_vault_random(v, a, sizeof(a));
    kith_vault_random(v, b, sizeof(b));
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
    kith_vault_random(v, a, 0);
    /* Requests larger than the pool, and ones straddling a refill. */
    size_t big = 10000;
    uint8_t *p = calloc(1, big), *q = calloc(1, big);
    assert_non_null(p);
    assert_non_null(q);
    kith_vault_random(v, p, big);
    kith_vault_random(v, q, big);
    assert_memory_not_equal(p, q, big);
    for (int i = 0; i < 300; i++) {
        kith_vault_random(v, p, 4000);
        kith_vault_random(v, q, 4000);
        assert_memory_not_equal(p, q, 4000);
    }
    free(p);
    free(q);
    kith_vault_free(v);
}

static void
wrong_ad_fails(void **state)
{
    (void) state;
    uint8_t wrapped[KITH_VAULT_WRAPPED_LEN];
    kith_vault_t *v = NULL;
    ASSERT_OK(kith_vault_create(alice, wrapped, &v));
    uint8_t ad[16];
    memset(ad, 0x11, sizeof(ad));
    kith_buf_t sealed, out;
    kith_buf_init(&sealed);
    kith_buf_init(&out);
    ASSERT_OK(kith_vault_seal(v, ad, sizeof(ad), (const uint8_t *) "secret", 6, &sealed));
    /* Another row's id, a shorter or longer AD, no AD: all refused, out untouched. */
    ASSERT_OK(kith_buf_puts(&out, "keep"));
    for (size_t bit = 0; bit < 8 * sizeof(ad); bit++) {
        ad[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        ASSERT_ERR(kith_vault_unseal(v, ad, sizeof(ad), sealed.data, sealed.len, &out),
                   KITH_ECORRUPT);
        ad[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    ASSERT_ERR(kith_vault_unseal(v, ad, sizeof(ad) - 1, sealed.data, sealed.len, &out),
               KITH_ECORRUPT);
    uint8_t longer[17];
    memcpy(longer, ad, 16);
    longer[16] = 0;
    ASSERT_ERR(kith_vault_unseal(v, longer, 17, sealed.data, sealed.len, &out), KITH_ECORRUPT);
    ASSERT_ERR(kith_vault_unseal(v, NULL, 0, sealed.data, sealed.len, &out), KITH_ECORRUPT);
    ASSERT_EQ(out.len, 4);
    ASSERT_STREQ((char *) out.data, "keep");
    ASSERT_OK(kith_vault_unseal(v, ad, sizeof(ad), sealed.data, sealed.len, &out));
    ASSERT_STREQ((char *) out.data, "keepsecret");
    kith_buf_close(&sealed);
    kith_buf_close(&out);
    kith_vault_free(v);
}

static void
tampering_fails(void **state)
{
    (void) state;
    uint8_t wrapped[KITH_VAULT_WRAPPED_LEN];
    kith_vault_t *v = NULL;
    ASSERT_OK(kith_vault_create(alice, wrapped, &v));
    kith_buf_t sealed, out;
    kith_buf_init(&sealed);
    kith_buf_init(&out);
    ASSERT_OK(
        kith_vault_seal(v, (const uint8_t *) "ad", 2, (const uint8_t *) "0123456789", 10, &sealed));
    uint8_t *blob = malloc(sealed.len + 1);
    assert_non_null(blob);
    /* Every flipped bit, in nonce, ciphertext and tag. */
    for (size_t bit = 0; bit < 8 * sealed.len; bit++) {
        memcpy(blob, sealed.data, sealed.len);
        blob[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        ASSERT_ERR(kith_vault_unseal(v, (const uint8_t *) "ad", 2, blob, sealed.len, &out),
                   KITH_ECORRUPT);
        ASSERT_EQ(out.len, 0);
    }
    /* Every truncation, and an extension. */
    for (size_t n = 0; n < sealed.len; n++) {
        ASSERT_ERR(kith_vault_unseal(v, (const uint8_t *) "ad", 2, sealed.data, n, &out),
                   KITH_ECORRUPT);
    }
    memcpy(blob, sealed.data, sealed.len);
    blob[sealed.len] = 0;
    ASSERT_ERR(kith_vault_unseal(v, (const uint8_t *) "ad", 2, blob, sealed.len + 1, &out),
               KITH_ECORRUPT);
    ASSERT_ERR(kith_vault_unseal(v, (const uint8_t *) "ad", 2, NULL, 0, &out), KITH_ECORRUPT);
    ASSERT_EQ(out.len, 0);
    free(blob);
    kith_buf_close(&sealed);
    kith_buf_close(&out);
    kith_vault_free(v);
}

static void
wrapped_key(void **state)
{
    (void) state;
    uint8_t wrapped[KITH_VAULT_WRAPPED_LEN], w2[KITH_VAULT_WRAPPED_LEN];
    kith_vault_t *v = NULL, *again = NULL, *other = NULL;
    ASSERT_OK(kith_vault_create(alice, wrapped, &v));
    /* Reopening with the same identity gives the same storage key. */
    ASSERT_OK(kith_vault_open(alice, wrapped, sizeof(wrapped), &again));
    kith_buf_t sealed, out;
    kith_buf_init(&sealed);
    kith_buf_init(&out);
    ASSERT_OK(kith_vault_seal(v, NULL, 0, (const uint8_t *) "across opens", 12, &sealed));
    ASSERT_OK(kith_vault_unseal(again, NULL, 0, sealed.data, sealed.len, &out));
    ASSERT_STREQ((char *) out.data, "across opens");
    /* An identity from the same seed opens it too: the wrap key comes from the seed. */
    kith_identity_t *alice2 = make_identity(0xa1);
    assert_non_null(alice2);
    kith_vault_t *v3 = NULL;
    ASSERT_OK(kith_vault_open(alice2, wrapped, sizeof(wrapped), &v3));
    kith_vault_free(v3);
    kith_identity_free(alice2);

    /* Another identity cannot open it. */
    other = (kith_vault_t *) (uintptr_t) 1;
    ASSERT_ERR(kith_vault_open(bob, wrapped, sizeof(wrapped), &other), KITH_ECRYPTO);
    assert_null(other);
    /* Nor can anyone open a tampered wrapping. */
    for (size_t bit = 0; bit < 8 * KITH_VAULT_WRAPPED_LEN; bit++) {
        memcpy(w2, wrapped, sizeof(w2));
        w2[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        ASSERT_ERR(kith_vault_open(alice, w2, sizeof(w2), &other), KITH_ECRYPTO);
        assert_null(other);
    }
    /* A wrapping of the wrong length is refused (never read out of bounds). */
    assert_true(kith_vault_open(alice, wrapped, sizeof(wrapped) - 1, &other) != KITH_OK);
    assert_true(kith_vault_open(alice, wrapped, 0, &other) != KITH_OK);
    assert_null(other);

    /* Two vaults made for the same identity have independent keys. */
    kith_vault_t *fresh = NULL;
    ASSERT_OK(kith_vault_create(alice, w2, &fresh));
    assert_memory_not_equal(w2, wrapped, sizeof(wrapped));
    out.len = 0;
    ASSERT_ERR(kith_vault_unseal(fresh, NULL, 0, sealed.data, sealed.len, &out), KITH_ECORRUPT);
    kith_vault_free(fresh);

    kith_buf_close(&sealed);
    kith_buf_close(&out);
    kith_vault_free(v);
    kith_vault_free(again);
}

static void
name_tags(void **state)
{
    (void) state;
    uint8_t wrapped[KITH_VAULT_WRAPPED_LEN];
    kith_vault_t *v = NULL, *again = NULL, *other = NULL;
    ASSERT_OK(kith_vault_create(alice, wrapped, &v));
    ASSERT_OK(kith_vault_open(alice, wrapped, sizeof(wrapped), &again));
    uint8_t a[KITH_NAME_TAG_LEN], b[KITH_NAME_TAG_LEN], c[KITH_NAME_TAG_LEN];

    /* Equal text, equal tags, also after reopening the vault. */
    kith_vault_name_tag(v, "ada lovelace", 12, a);
    kith_vault_name_tag(v, "ada lovelace", 12, b);
    assert_memory_equal(a, b, KITH_NAME_TAG_LEN);
    kith_vault_name_tag(again, "ada lovelace", 12, b);
    assert_memory_equal(a, b, KITH_NAME_TAG_LEN);
    /* Only len bytes count. */
    kith_vault_name_tag(v, "ada lovelace, countess", 12, b);
    assert_memory_equal(a, b, KITH_NAME_TAG_LEN);

    /* Any other text gives another tag: case, a prefix, a trailing NUL, one bit. */
    kith_vault_name_tag(v, "Ada lovelace", 12, b);
    assert_memory_not_equal(a, b, KITH_NAME_TAG_LEN);
    kith_vault_name_tag(v, "ada lovelac", 11, b);
    assert_memory_not_equal(a, b, KITH_NAME_TAG_LEN);
    kith_vault_name_tag(v, "ada lovelace\0", 13, b);
    assert_memory_not_equal(a, b, KITH_NAME_TAG_LEN);
    kith_vault_name_tag(v, "", 0, c);
    assert_memory_not_equal(a, c, KITH_NAME_TAG_LEN);
    char text[13];
    memcpy(text, "ada lovelace", 13);
    for (size_t bit = 0; bit < 8 * 12; bit++) {
        text[bit / 8] ^= (char) (1u << (bit % 8));
        kith_vault_name_tag(v, text, 12, b);
        assert_memory_not_equal(a, b, KITH_NAME_TAG_LEN);
        text[bit / 8] ^= (char) (1u << (bit % 8));
    }

    /* The tag is keyed: another vault (another storage key) gives unrelated tags, and it
     * is not a plain unkeyed hash of the text. */
    uint8_t w2[KITH_VAULT_WRAPPED_LEN];
    ASSERT_OK(kith_vault_create(alice, w2, &other));
    kith_vault_name_tag(other, "ada lovelace", 12, b);
    assert_memory_not_equal(a, b, KITH_NAME_TAG_LEN);
    crypto_generichash(b, KITH_NAME_TAG_LEN, (const uint8_t *) "ada lovelace", 12, NULL, 0);
    assert_memory_not_equal(a, b, KITH_NAME_TAG_LEN);

    kith_vault_free(v);
    kith_vault_free(again);
    kith_vault_free(other);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(nonces_are_fresh),
        cmocka_unit_test(nonces_unique_across_pool_refills),
        cmocka_unit_test(random_bytes),
        cmocka_unit_test(wrong_ad_fails),
        cmocka_unit_test(tampering_fails),
        cmocka_unit_test(wrapped_key),
        cmocka_unit_test(name_tags),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
