/*
 * Tests for identity key files (src/crypto/keyfile.c): round trips with and without a
 * passphrase, wrong and missing passphrases, tampering anywhere in the file, wrong
 * lengths, and doctored Argon2id limits.
 *
 * A sealed file costs one Argon2id run (64 MiB, about 0.1 s) per decode, so tampering
 * with it is tested on a sample of positions covering every region of the format.
 */
#include "check.h"

#include <stdlib.h>
#include <time.h>

#include <sodium.h>

#include "crypto/keyfile.h"
#include "kith/kith.h"

#define PASS "correct horse"

/* Offsets of the format's regions (keyfile.h). */
#define OFF_KDF   8
#define OFF_PK    9
#define OFF_SEED  41 /* plain files */
#define OFF_OPS   41 /* sealed files */
#define OFF_MEM   49
#define OFF_SALT  57
#define OFF_NONCE 73
#define OFF_CT    97
#define OFF_TAG   129

static kith_identity_t *ident; /* fixed-seed identity used throughout */
static kith_buf_t plain_file;  /* ident, no passphrase */
static kith_buf_t sealed_file; /* ident, PASS */

static int
setup(void **state)
{
    (void) state;
    if (kith_init() != KITH_OK) {
        return -1;
    }
    uint8_t seed[KITH_SEED_LEN];
    for (int i = 0; i < KITH_SEED_LEN; i++) {
        seed[i] = (uint8_t) (0xc0 ^ i);
    }
    kith_buf_init(&plain_file);
    kith_buf_init(&sealed_file);
    if (kith_identity_from_seed(seed, &ident) != KITH_OK ||
        kith_keyfile_encode(ident, NULL, &plain_file) != KITH_OK ||
        kith_keyfile_encode(ident, PASS, &sealed_file) != KITH_OK) {
        return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    kith_identity_free(ident);
    kith_buf_close(&plain_file);
    kith_buf_close(&sealed_file);
    return 0;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}

static uint64_t
get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Decodes and checks the result is exactly ident. */
static void
expect_ident(const uint8_t *data, size_t len, const char *pass)
{
    kith_identity_t *id = NULL;
    ASSERT_OK(kith_keyfile_decode(data, len, pass, &id));
    assert_non_null(id);
    assert_memory_equal(id->pk, ident->pk, KITH_PK_LEN);
    assert_memory_equal(id->sk, ident->sk, 64);
    assert_memory_equal(id->xpk, ident->xpk, KITH_PK_LEN);
    kith_identity_free(id);
}

/* Decodes and expects failure: rc must be one of the two codes, *out left NULL. */
static int
expect_reject(const uint8_t *data, size_t len, const char *pass)
{
    kith_identity_t *id = (kith_identity_t *) (uintptr_t) 1;
    int rc = kith_keyfile_decode(data, len, pass, &id);
    if (rc == KITH_OK) {
        print_error("tampered key file accepted (%s key)\n",
                    memcmp(id->pk, ident->pk, KITH_PK_LEN) == 0 ? "same" : "different");
        kith_identity_free(id);
        fail();
    }
    assert_null(id);
    assert_true(rc == KITH_ECORRUPT || rc == KITH_EPASSPHRASE);
    return rc;
}

static void
plain_round_trip(void **state)
{
    (void) state;
    ASSERT_EQ(plain_file.len, KITH_KEYFILE_PLAIN_LEN);
    assert_memory_equal(plain_file.data, "KITHKEY1", 8);
    ASSERT_EQ(plain_file.data[OFF_KDF], 0);
    assert_memory_equal(plain_file.data + OFF_PK, ident->pk, KITH_PK_LEN);
    ASSERT_EQ(kith_keyfile_is_sealed(plain_file.data, plain_file.len), 0);
    expect_ident(plain_file.data, plain_file.len, NULL);
    uint8_t pk[32];
    ASSERT_OK(kith_keyfile_public(plain_file.data, plain_file.len, pk));
    assert_memory_equal(pk, ident->pk, 32);
    /* Encoding is deterministic without a passphrase, and appends to the buffer. */
    kith_buf_t again;
    kith_buf_init(&again);
    ASSERT_OK(kith_buf_puts(&again, "prefix"));
    ASSERT_OK(kith_keyfile_encode(ident, NULL, &again));
    ASSERT_EQ(again.len, 6 + KITH_KEYFILE_PLAIN_LEN);
    assert_memory_equal(again.data + 6, plain_file.data, KITH_KEYFILE_PLAIN_LEN);
    kith_buf_close(&again);
}

static void
sealed_round_trip(void **state)
{
    (void) state;
    ASSERT_EQ(sealed_file.len, KITH_KEYFILE_SEALED_LEN);
    assert_memory_equal(sealed_file.data, "KITHKEY1", 8);
    ASSERT_EQ(sealed_file.data[OFF_KDF], 1);
    assert_memory_equal(sealed_file.data + OFF_PK, ident->pk, KITH_PK_LEN);
    ASSERT_EQ(get_le64(sealed_file.data + OFF_OPS), crypto_pwhash_OPSLIMIT_INTERACTIVE);
    ASSERT_EQ(get_le64(sealed_file.data + OFF_MEM), crypto_pwhash_MEMLIMIT_INTERACTIVE);
    ASSERT_EQ(kith_keyfile_is_sealed(sealed_file.data, sealed_file.len), 1);
    expect_ident(sealed_file.data, sealed_file.len, PASS);
    /* The public key is readable without the passphrase. */
    uint8_t pk[32];
    ASSERT_OK(kith_keyfile_public(sealed_file.data, sealed_file.len, pk));
    assert_memory_equal(pk, ident->pk, 32);
    /* The seed never appears in the clear. */
    uint8_t seed[KITH_SEED_LEN];
    kith_identity_seed(ident, seed);
    for (size_t i = 0; i + KITH_SEED_LEN <= sealed_file.len; i++) {
        assert_memory_not_equal(sealed_file.data + i, seed, KITH_SEED_LEN);
    }
    sodium_memzero(seed, sizeof(seed));
    /* Salt and nonce are fresh each time: two encodings differ but both open. */
    kith_buf_t other;
    kith_buf_init(&other);
    ASSERT_OK(kith_keyfile_encode(ident, PASS, &other));
    assert_memory_not_equal(other.data + OFF_SALT, sealed_file.data + OFF_SALT, 16);
    assert_memory_not_equal(other.data + OFF_NONCE, sealed_file.data + OFF_NONCE, 24);
    expect_ident(other.data, other.len, PASS);
    kith_buf_close(&other);
}

static void
passphrase_checks(void **state)
{
    (void) state;
    kith_identity_t *id = (kith_identity_t *) (uintptr_t) 1;
    ASSERT_ERR(kith_keyfile_decode(sealed_file.data, sealed_file.len, "wrong", &id),
               KITH_EPASSPHRASE);
    assert_null(id);
    ASSERT_ERR(kith_keyfile_decode(sealed_file.data, sealed_file.len, PASS " ", &id),
               KITH_EPASSPHRASE);
    ASSERT_ERR(kith_keyfile_decode(sealed_file.data, sealed_file.len, "Correct horse", &id),
               KITH_EPASSPHRASE);
    /* Missing: NULL and the empty string alike. */
    ASSERT_ERR(kith_keyfile_decode(sealed_file.data, sealed_file.len, NULL, &id), KITH_EPASSPHRASE);
    assert_null(id);
    ASSERT_ERR(kith_keyfile_decode(sealed_file.data, sealed_file.len, "", &id), KITH_EPASSPHRASE);
    /* An empty passphrase cannot be set. */
    kith_buf_t out;
    kith_buf_init(&out);
    ASSERT_ERR(kith_keyfile_encode(ident, "", &out), KITH_EINVAL);
    ASSERT_EQ(out.len, 0);
    /* A non-ASCII passphrase works. */
    ASSERT_OK(kith_keyfile_encode(ident, "p\xc3\xa5ssw\xc3\xb8rd", &out));
    expect_ident(out.data, out.len, "p\xc3\xa5ssw\xc3\xb8rd");
    ASSERT_ERR(kith_keyfile_decode(out.data, out.len, "password", &id), KITH_EPASSPHRASE);
    kith_buf_close(&out);
}

/* A change of any byte of a plain file is caught: the public key is checked against the
 * seed, so a changed seed or key gives ECORRUPT, never another identity. The header
 * bytes get all 255 changes each; the 64 key and seed bytes, where each try derives a
 * key pair in guarded memory (about 1 ms), get every single-bit flip plus eight other
 * values each. */
static void
plain_every_byte_change(void **state)
{
    (void) state;
    uint8_t f[KITH_KEYFILE_PLAIN_LEN];
    uint32_t x = 0x2545f491;
    long tried = 0;
    for (size_t pos = 0; pos < KITH_KEYFILE_PLAIN_LEN; pos++) {
        for (unsigned k = 1; k < 256; k++) {
            uint8_t change = (uint8_t) k;
            if (pos >= OFF_PK) {
                if (k > 16) {
                    break;
                }
                if (k <= 8) {
                    change = (uint8_t) (1u << (k - 1));
                } else {
                    x = x * 1103515245u + 12345u;
                    change = (uint8_t) ((x >> 16) | 1u); /* never 0 */
                }
            }
            memcpy(f, plain_file.data, sizeof(f));
            f[pos] ^= change;
            ASSERT_ERR(expect_reject(f, sizeof(f), NULL), KITH_ECORRUPT);
            tried++;
        }
    }
    ASSERT_EQ(tried, OFF_PK * 255 + (KITH_KEYFILE_PLAIN_LEN - OFF_PK) * 16);
}

/* A single-byte change in a sealed file: a sample covering every region. */
static void
sealed_byte_changes(void **state)
{
    (void) state;
    static const struct {
        size_t pos;
        uint8_t x;
    } sample[] = {
        {0, 0x01},              /* magic */
        {7, 0x20},              /* magic */
        {OFF_KDF, 0x01},        /* kdf 1 -> 0 */
        {OFF_KDF, 0x03},        /* kdf 1 -> 2 */
        {OFF_PK, 0x01},         /* public key (associated data) */
        {OFF_PK + 31, 0x80},    /* public key */
        {OFF_OPS, 0x01},        /* opslimit 2 -> 3: Argon2 runs, another key */
        {OFF_OPS, 0x02},        /* opslimit 2 -> 0 */
        {OFF_OPS + 4, 0x01},    /* opslimit 2^32 + 2 */
        {OFF_OPS + 7, 0x80},    /* opslimit 2^63 + 2 */
        {OFF_MEM + 2, 0x01},    /* memlimit 64 MiB + 64 KiB */
        {OFF_MEM + 3, 0x04},    /* memlimit 0 */
        {OFF_MEM + 5, 0x01},    /* memlimit past 1 TiB */
        {OFF_SALT, 0x01},       /* salt */
        {OFF_SALT + 15, 0xff},  /* salt */
        {OFF_NONCE, 0x01},      /* nonce */
        {OFF_NONCE + 23, 0x10}, /* nonce */
        {OFF_CT, 0x01},         /* ciphertext */
        {OFF_CT + 17, 0x40},    /* ciphertext */
        {OFF_TAG, 0x01},        /* tag */
        {OFF_TAG + 15, 0x80},   /* last byte */
    };
    uint8_t f[KITH_KEYFILE_SEALED_LEN];
    for (size_t i = 0; i < sizeof(sample) / sizeof(sample[0]); i++) {
        memcpy(f, sealed_file.data, sizeof(f));
        f[sample[i].pos] ^= sample[i].x;
        expect_reject(f, sizeof(f), PASS);
    }
}

/* Argon2id uses memlimit / 1024 (KiB): the ten low bits of the stored memlimit do not
 * change the derived key, and the limits are outside the associated data, so changing
 * them yields the same identity from a file that is not the one written. */
static void
sealed_memlimit_low_bits(void **state)
{
    (void) state;
    uint8_t f[KITH_KEYFILE_SEALED_LEN];
    memcpy(f, sealed_file.data, sizeof(f));
    f[OFF_MEM] ^= 0x01;
    expect_reject(f, sizeof(f), PASS);
    memcpy(f, sealed_file.data, sizeof(f));
    f[OFF_MEM + 1] ^= 0x02;
    expect_reject(f, sizeof(f), PASS);
}

static void
wrong_lengths(void **state)
{
    (void) state;
    uint8_t f[KITH_KEYFILE_SEALED_LEN + 8];
    double t0 = now_s();
    /* Every truncation and a few extensions, of both kinds of file. None runs Argon2. */
    for (size_t n = 0; n < KITH_KEYFILE_PLAIN_LEN; n++) {
        memcpy(f, plain_file.data, n);
        ASSERT_ERR(expect_reject(f, n, NULL), KITH_ECORRUPT);
        uint8_t pk[32];
        ASSERT_ERR(kith_keyfile_public(f, n, pk), KITH_ECORRUPT);
    }
    for (size_t n = 0; n < KITH_KEYFILE_SEALED_LEN; n++) {
        memcpy(f, sealed_file.data, n);
        ASSERT_ERR(expect_reject(f, n, PASS), KITH_ECORRUPT);
        assert_true(kith_keyfile_is_sealed(f, n) < 0);
    }
    for (size_t extra = 1; extra <= 8; extra++) {
        memcpy(f, plain_file.data, KITH_KEYFILE_PLAIN_LEN);
        memset(f + KITH_KEYFILE_PLAIN_LEN, 0, extra);
        ASSERT_ERR(expect_reject(f, KITH_KEYFILE_PLAIN_LEN + extra, NULL), KITH_ECORRUPT);
        memcpy(f, sealed_file.data, KITH_KEYFILE_SEALED_LEN);
        memset(f + KITH_KEYFILE_SEALED_LEN, 0, extra);
        ASSERT_ERR(expect_reject(f, KITH_KEYFILE_SEALED_LEN + extra, PASS), KITH_ECORRUPT);
        ASSERT_ERR(kith_keyfile_is_sealed(f, KITH_KEYFILE_SEALED_LEN + extra), KITH_ECORRUPT);
    }
    /* A plain header with a sealed file's length, and the reverse. */
    memcpy(f, sealed_file.data, KITH_KEYFILE_SEALED_LEN);
    f[OFF_KDF] = 0;
    ASSERT_ERR(expect_reject(f, KITH_KEYFILE_SEALED_LEN, NULL), KITH_ECORRUPT);
    memcpy(f, plain_file.data, KITH_KEYFILE_PLAIN_LEN);
    f[OFF_KDF] = 1;
    ASSERT_ERR(expect_reject(f, KITH_KEYFILE_PLAIN_LEN, PASS), KITH_ECORRUPT);
    /* Garbage of the right length. */
    memset(f, 'K', sizeof(f));
    ASSERT_ERR(expect_reject(f, KITH_KEYFILE_PLAIN_LEN, NULL), KITH_ECORRUPT);
    ASSERT_ERR(expect_reject(f, KITH_KEYFILE_SEALED_LEN, PASS), KITH_ECORRUPT);
    assert_true(now_s() - t0 < 5.0);
}

/* Doctored Argon2id limits are refused before Argon2 runs: quickly, and with ECORRUPT
 * (had Argon2 run with other limits, the key would differ and give EPASSPHRASE). */
static void
doctored_limits(void **state)
{
    (void) state;
    static const struct {
        uint64_t ops, mem;
    } bad[] = {
        {0, crypto_pwhash_MEMLIMIT_INTERACTIVE},
        {crypto_pwhash_OPSLIMIT_INTERACTIVE, (uint64_t) 1 << 40},
        {crypto_pwhash_OPSLIMIT_INTERACTIVE, 0},
        {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_MIN - 1},
        {crypto_pwhash_OPSLIMIT_INTERACTIVE, (uint64_t) crypto_pwhash_MEMLIMIT_SENSITIVE + 1},
        {crypto_pwhash_OPSLIMIT_INTERACTIVE, UINT64_MAX},
        {(uint64_t) crypto_pwhash_OPSLIMIT_SENSITIVE + 1, crypto_pwhash_MEMLIMIT_INTERACTIVE},
        {(uint64_t) 1 << 32, crypto_pwhash_MEMLIMIT_INTERACTIVE},
        {UINT64_MAX, UINT64_MAX},
    };
    uint8_t f[KITH_KEYFILE_SEALED_LEN];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(f, sealed_file.data, sizeof(f));
        put_le64(f + OFF_OPS, bad[i].ops);
        put_le64(f + OFF_MEM, bad[i].mem);
        double t0 = now_s();
        ASSERT_ERR(expect_reject(f, sizeof(f), PASS), KITH_ECORRUPT);
        ASSERT_ERR(expect_reject(f, sizeof(f), NULL), KITH_ECORRUPT);
        double dt = now_s() - t0;
        if (dt > 0.05) {
            print_error("limits #%zu took %.3f s: Argon2 ran\n", i, dt);
            fail();
        }
        /* The public key is still readable: the file is well-formed apart from that. */
        uint8_t pk[32];
        ASSERT_OK(kith_keyfile_public(f, sizeof(f), pk));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_round_trip),    cmocka_unit_test(sealed_round_trip),
        cmocka_unit_test(passphrase_checks),   cmocka_unit_test(plain_every_byte_change),
        cmocka_unit_test(sealed_byte_changes), cmocka_unit_test(sealed_memlimit_low_bits),
        cmocka_unit_test(wrong_lengths),       cmocka_unit_test(doctored_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
