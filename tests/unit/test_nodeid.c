/*
 * Tests for node IDs (src/util/nodeid.c): known answers, round trips, exhaustive
 * typo detection and hostile text.
 *
 * Random keys come from a fixed seed so that any failure reproduces.
 */
#include "check.h"

#include <stdlib.h>

#include <sodium.h>

#include "util/nodeid.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Key number i of a reproducible sequence. */
static void
test_key(uint32_t i, uint8_t pk[32])
{
    uint8_t seed[randombytes_SEEDBYTES] = {0};
    memcpy(seed, &i, sizeof(i));
    randombytes_buf_deterministic(pk, 32, seed);
}

static int
setup(void **state)
{
    (void) state;
    return sodium_init() < 0 ? -1 : 0;
}

/* Vectors computed with an independent Python implementation of the scheme. */
static void
known_answers(void **state)
{
    static const struct {
        uint8_t fill; /* 0, 0xff, or 1 for bytes 0..31 */
        const char *id;
        const char *fp;
    } vec[] = {
        {0x00, "0000000-0000000-0000000-0000000-0000000-0000000-0000000-0000000",
         "89eb 0d6a 8a69 1dae"},
        {0xff, "ZZZZZZZ-ZZZZZZZ-ZZZZZZZ-ZZZZZZZ-ZZZZZZZ-ZZZZZZZ-ZZZZZZZ-ZZG9FJ5",
         "e202 1160 500f 0119"},
        {0x01, "000G40R-40M30E2-09185GR-38E1W81-24GK2GA-HC5RR34-D1P70X3-RFGKR4R",
         "cb2f 5160 fc1f 7e05"},
    };
    (void) state;
    for (size_t v = 0; v < sizeof(vec) / sizeof(vec[0]); v++) {
        uint8_t pk[32], back[32];
        char id[KITH_NODEID_BUFSIZE], fp[20];
        for (size_t i = 0; i < 32; i++) {
            pk[i] = vec[v].fill == 1 ? (uint8_t) i : vec[v].fill;
        }
        kith_nodeid_encode(pk, id);
        ASSERT_STREQ(id, vec[v].id);
        ASSERT_EQ(strlen(id), KITH_NODEID_LEN);
        ASSERT_OK(kith_nodeid_decode(id, back));
        assert_memory_equal(pk, back, 32);
        kith_fingerprint(pk, fp);
        ASSERT_STREQ(fp, vec[v].fp);
        ASSERT_EQ(strlen(fp), KITH_FINGERPRINT_LEN);
    }
}

/* The field polynomial must be primitive: x must have multiplicative order 1023. */
static void
field_is_primitive(void **state)
{
    (void) state;
    unsigned e = 1;
    int order = 0;
    do {
        e <<= 1;
        if (e & 0x400u) {
            e ^= 0x409u;
        }
        order++;
    } while (e != 1 && order < 2000);
    ASSERT_EQ(order, 1023);
}

static void
round_trip(void **state)
{
    (void) state;
    for (uint32_t k = 0; k < 5000; k++) {
        uint8_t pk[32], back[32];
        char id[KITH_NODEID_BUFSIZE];
        test_key(k, pk);
        kith_nodeid_encode(pk, id);
        ASSERT_EQ(strlen(id), KITH_NODEID_LEN);
        for (size_t i = 0; i < KITH_NODEID_LEN; i++) {
            if (i % 8 == 7) {
                ASSERT_EQ(id[i], '-');
            } else {
                assert_non_null(strchr(alphabet, id[i]));
            }
        }
        ASSERT_OK(kith_nodeid_decode(id, back));
        assert_memory_equal(pk, back, 32);
    }
}

/* Strips the dashes: the 56 characters that carry data and checks. */
static void
strip(const char *id, char raw[57])
{
    size_t n = 0;
    for (const char *p = id; *p != '\0'; p++) {
        if (*p != '-') {
            raw[n++] = *p;
        }
    }
    ASSERT_EQ(n, 56);
    raw[n] = '\0';
}

static void
every_substitution_detected(void **state)
{
    (void) state;
    long tried = 0;
    for (uint32_t k = 0; k < 200; k++) {
        uint8_t pk[32], out[32];
        char id[KITH_NODEID_BUFSIZE], raw[57];
        test_key(100000 + k, pk);
        kith_nodeid_encode(pk, id);
        strip(id, raw);
        for (size_t pos = 0; pos < 56; pos++) {
            char orig = raw[pos];
            for (size_t a = 0; a < 32; a++) {
                if (alphabet[a] == orig) {
                    continue;
                }
                raw[pos] = alphabet[a];
                memset(out, 0xaa, sizeof(out));
                ASSERT_ERR(kith_nodeid_decode(raw, out), KITH_ECHECKSUM);
                /* pk is written only on success. */
                for (size_t i = 0; i < 32; i++) {
                    ASSERT_EQ(out[i], 0xaa);
                }
                tried++;
            }
            raw[pos] = orig;
        }
        ASSERT_OK(kith_nodeid_decode(raw, out));
        assert_memory_equal(pk, out, 32);
    }
    ASSERT_EQ(tried, 200L * 56 * 31);
}

static void
every_transposition_detected(void **state)
{
    (void) state;
    long tried = 0;
    for (uint32_t k = 0; k < 200; k++) {
        uint8_t pk[32], out[32];
        char id[KITH_NODEID_BUFSIZE], raw[57];
        test_key(200000 + k, pk);
        kith_nodeid_encode(pk, id);
        strip(id, raw);
        for (size_t pos = 0; pos + 1 < 56; pos++) {
            if (raw[pos] == raw[pos + 1]) {
                continue;
            }
            char t = raw[pos];
            raw[pos] = raw[pos + 1];
            raw[pos + 1] = t;
            ASSERT_ERR(kith_nodeid_decode(raw, out), KITH_ECHECKSUM);
            raw[pos + 1] = raw[pos];
            raw[pos] = t;
            tried++;
        }
        /* The same swaps in the dashed form, across dashes too. */
        for (size_t pos = 0; pos + 1 < KITH_NODEID_LEN; pos++) {
            size_t next = id[pos + 1] == '-' ? pos + 2 : pos + 1;
            if (id[pos] == '-' || id[pos] == id[next]) {
                continue;
            }
            char t = id[pos];
            id[pos] = id[next];
            id[next] = t;
            ASSERT_ERR(kith_nodeid_decode(id, out), KITH_ECHECKSUM);
            id[next] = id[pos];
            id[pos] = t;
        }
        ASSERT_OK(kith_nodeid_decode(id, out));
        assert_memory_equal(pk, out, 32);
    }
    assert_true(tried > 200L * 50);
}

static void
lenient_parsing(void **state)
{
    (void) state;
    uint8_t pk[32], out[32];
    char id[KITH_NODEID_BUFSIZE], raw[57], text[256];
    test_key(7, pk);
    kith_nodeid_encode(pk, id);
    strip(id, raw);

    /* No dashes. */
    ASSERT_OK(kith_nodeid_decode(raw, out));
    assert_memory_equal(pk, out, 32);

    /* Lower case. */
    for (size_t i = 0; i < sizeof(text) && (text[i] = id[i]) != '\0'; i++) {
        if (text[i] >= 'A' && text[i] <= 'Z') {
            text[i] = (char) (text[i] - 'A' + 'a');
        }
    }
    ASSERT_OK(kith_nodeid_decode(text, out));
    assert_memory_equal(pk, out, 32);

    /* Spaces and dashes anywhere, leading and trailing included. */
    size_t n = 0;
    text[n++] = ' ';
    text[n++] = '-';
    for (size_t i = 0; i < 56; i++) {
        text[n++] = raw[i];
        if (i % 4 == 3) {
            text[n++] = ' ';
        }
        if (i % 9 == 0) {
            text[n++] = '-';
            text[n++] = '-';
        }
    }
    text[n++] = ' ';
    text[n] = '\0';
    ASSERT_OK(kith_nodeid_decode(text, out));
    assert_memory_equal(pk, out, 32);

    /* Crockford look-alikes: I, i, L, l read as 1 and O, o as 0. */
    static const char one[] = "IiLl1";
    static const char zero[] = "Oo0";
    int ones = 0, zeros = 0;
    for (uint32_t k = 0; k < 64 && (ones < 5 || zeros < 3); k++) {
        test_key(300 + k, pk);
        kith_nodeid_encode(pk, id);
        char *p1 = strchr(id, '1');
        char *p0 = strchr(id, '0');
        if (p1 != NULL && ones < 5) {
            *p1 = one[ones++];
        }
        if (p0 != NULL && zeros < 3) {
            *p0 = zero[zeros++];
        }
        ASSERT_OK(kith_nodeid_decode(id, out));
        assert_memory_equal(pk, out, 32);
    }
    ASSERT_EQ(ones, 5);
    ASSERT_EQ(zeros, 3);

    /* Exactly KITH_NODEID_MAX_INPUT bytes is still accepted. */
    n = 0;
    for (size_t i = 0; i < KITH_NODEID_MAX_INPUT - 56; i++) {
        text[n++] = ' ';
    }
    memcpy(text + n, raw, 56);
    n += 56;
    text[n] = '\0';
    ASSERT_EQ(n, KITH_NODEID_MAX_INPUT);
    test_key(7, pk);
    ASSERT_OK(kith_nodeid_decode(text, out));
    assert_memory_equal(pk, out, 32);
    /* One more byte is not. */
    memmove(text + 1, text, n + 1);
    ASSERT_ERR(kith_nodeid_decode(text, out), KITH_EPARSE);
}

static void
hostile_text(void **state)
{
    (void) state;
    uint8_t pk[32], out[32];
    char id[KITH_NODEID_BUFSIZE], raw[57], text[300];
    test_key(11, pk);
    kith_nodeid_encode(pk, id);
    strip(id, raw);

    ASSERT_ERR(kith_nodeid_decode(NULL, out), KITH_EINVAL);
    ASSERT_ERR(kith_nodeid_decode("", out), KITH_EPARSE);
    ASSERT_ERR(kith_nodeid_decode("-", out), KITH_EPARSE);
    ASSERT_ERR(kith_nodeid_decode("       ", out), KITH_EPARSE);

    /* Too short and too long by one character. */
    memcpy(text, raw, 55);
    text[55] = '\0';
    ASSERT_ERR(kith_nodeid_decode(text, out), KITH_EPARSE);
    memcpy(text, raw, 56);
    text[56] = '0';
    text[57] = '\0';
    ASSERT_ERR(kith_nodeid_decode(text, out), KITH_EPARSE);

    /* An embedded NUL ends the string, leaving it too short. */
    memcpy(text, id, KITH_NODEID_BUFSIZE);
    text[30] = '\0';
    ASSERT_ERR(kith_nodeid_decode(text, out), KITH_EPARSE);

    /* Characters outside the alphabet, including U and bytes >= 0x80, at every position. */
    static const char bad[] = {'U', 'u', '_', '+', '\t', '\n', '\x7f', '\x80', '\xc3', '\xff', '='};
    for (size_t b = 0; b < sizeof(bad); b++) {
        for (size_t pos = 0; pos < 56; pos++) {
            memcpy(text, raw, 57);
            text[pos] = bad[b];
            ASSERT_ERR(kith_nodeid_decode(text, out), KITH_EPARSE);
        }
    }
    /* UTF-8 look-alikes: fullwidth A and Cyrillic A. */
    snprintf(text, sizeof(text), "\xef\xbc\xa1%s", raw + 1);
    ASSERT_ERR(kith_nodeid_decode(text, out), KITH_EPARSE);
    snprintf(text, sizeof(text), "\xd0\x90%s", raw + 1);
    ASSERT_ERR(kith_nodeid_decode(text, out), KITH_EPARSE);

    /* A huge string: rejected after KITH_NODEID_MAX_INPUT bytes, whatever follows. */
    size_t big = 1u << 20;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, '-', big);
    huge[big] = '\0';
    memcpy(huge + big - 56, raw, 56);
    ASSERT_ERR(kith_nodeid_decode(huge, out), KITH_EPARSE);
    memset(huge, '0', big);
    ASSERT_ERR(kith_nodeid_decode(huge, out), KITH_EPARSE);
    free(huge);

    /* Two IDs pasted together. */
    snprintf(text, sizeof(text), "%s %s", id, id);
    ASSERT_ERR(kith_nodeid_decode(text, out), KITH_EPARSE);
}

/* A word with valid check characters but non-zero padding bits must be rejected. */
static void
nonzero_padding(void **state)
{
    (void) state;
    uint8_t out[32];
    /*
     * The all-zero key with the lowest padding bit set (last data character '1')
     * and check characters that are valid for that word, computed with the Python
     * reference implementation.
     */
    static const char forged[] = "0000000-0000000-0000000-0000000-0000000-0000000-0000000-0010608";
    ASSERT_ERR(kith_nodeid_decode(forged, out), KITH_EPARSE);
    /* With any other check characters it is simply a typo. */
    ASSERT_ERR(
        kith_nodeid_decode("0000000-0000000-0000000-0000000-0000000-0000000-0000000-0010000", out),
        KITH_ECHECKSUM);
}

static void
fingerprint_format(void **state)
{
    (void) state;
    for (uint32_t k = 0; k < 100; k++) {
        uint8_t pk[32], h[32];
        char fp[20], want[20];
        test_key(k, pk);
        kith_fingerprint(pk, fp);
        ASSERT_OK(crypto_generichash(h, 32, pk, 32, NULL, 0));
        snprintf(want, sizeof(want), "%02x%02x %02x%02x %02x%02x %02x%02x", h[0], h[1], h[2], h[3],
                 h[4], h[5], h[6], h[7]);
        ASSERT_STREQ(fp, want);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_answers),
        cmocka_unit_test(field_is_primitive),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(every_substitution_detected),
        cmocka_unit_test(every_transposition_detected),
        cmocka_unit_test(lenient_parsing),
        cmocka_unit_test(hostile_text),
        cmocka_unit_test(nonzero_padding),
        cmocka_unit_test(fingerprint_format),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
