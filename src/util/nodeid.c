/*
 * Node IDs and fingerprints; the format and the reasoning behind the check
 * characters are in nodeid.h.
 *
 * Field arithmetic is done bit by bit rather than with log/antilog tables: a node ID
 * needs only a few dozen multiplications, and this keeps the module free of tables
 * that would have to be generated or initialised. Node IDs are public, so nothing
 * here needs to be constant time.
 */
#include "util/nodeid.h"

#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "kith/error.h"

#define DATA_CHARS  52 /* ceil(256 / 5) */
#define TOTAL_CHARS 56 /* DATA_CHARS + 4 check characters */
#define DATA_SYMS   26 /* DATA_CHARS / 2 */
#define TOTAL_SYMS  28 /* TOTAL_CHARS / 2 */
#define GROUP_CHARS 7

#define GF_POLY 0x409u /* x^10 + x^3 + 1, primitive */
#define GF_MASK 0x3ffu
/* Generator g(x) = x^2 + G1 x + G0 with alpha = x: G1 = x + x^2, G0 = x^3. */
#define G1 0x006u
#define G0 0x008u

static const char alphabet[33] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Multiplies two elements of GF(2^10) modulo GF_POLY. */
static unsigned
gf_mul(unsigned a, unsigned b)
{
    unsigned r = 0;
    for (int i = 0; i < 10; i++) {
        if (b & 1u) {
            r ^= a;
        }
        b >>= 1;
        a <<= 1;
        if (a & 0x400u) {
            a ^= GF_POLY;
        }
    }
    return r & GF_MASK;
}

/* Returns the 5-bit value of a character, or -1 if it is not part of the alphabet. */
static int
char_value(unsigned char c)
{
    if (c >= 'a' && c <= 'z') {
        c = (unsigned char) (c - 'a' + 'A');
    }
    switch (c) {
    case 'I':
    case 'L':
        return 1;
    case 'O':
        return 0;
    case 'U':
        return -1;
    default:
        break;
    }
    for (int i = 0; i < 32; i++) {
        if (alphabet[i] == (char) c) {
            return i;
        }
    }
    return -1;
}

/* Splits pk into 52 five-bit values, most significant bit first, zero-padded. */
static void
key_to_values(const uint8_t pk[static 32], uint8_t v[static DATA_CHARS])
{
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < 32; i++) {
        acc = ((acc << 8) | pk[i]) & 0xfffu;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            v[n++] = (uint8_t) ((acc >> bits) & 31u);
        }
    }
    /* 256 = 51 * 5 + 1: one bit is left, followed by 4 zero bits of padding. */
    assert(bits == 1 && n == DATA_CHARS - 1);
    v[n] = (uint8_t) ((acc << (5 - bits)) & 31u);
}

/* Computes the 2 check symbols for the 26 data symbols (LFSR division by g(x)). */
static void
rs_check(const unsigned sym[static DATA_SYMS], unsigned check[static 2])
{
    unsigned r1 = 0, r0 = 0; /* remainder coefficients of x^1 and x^0 */
    for (size_t i = 0; i < DATA_SYMS; i++) {
        unsigned fb = sym[i] ^ r1;
        r1 = r0 ^ gf_mul(fb, G1);
        r0 = gf_mul(fb, G0);
    }
    check[0] = r1;
    check[1] = r0;
}

/* Returns non-zero unless the codeword evaluates to zero at alpha and alpha^2. */
static unsigned
rs_syndromes(const unsigned sym[static TOTAL_SYMS])
{
    unsigned s1 = 0, s2 = 0;
    for (size_t i = 0; i < TOTAL_SYMS; i++) {
        s1 = gf_mul(s1, 0x2u) ^ sym[i];
        s2 = gf_mul(s2, 0x4u) ^ sym[i];
    }
    return s1 | s2;
}

void
kith_nodeid_encode(const uint8_t pk[static 32], char out[static KITH_NODEID_BUFSIZE])
{
    uint8_t v[TOTAL_CHARS];
    unsigned sym[DATA_SYMS], check[2];

    key_to_values(pk, v);
    for (size_t i = 0; i < DATA_SYMS; i++) {
        sym[i] = ((unsigned) v[2 * i] << 5) | v[2 * i + 1];
    }
    rs_check(sym, check);
    for (size_t i = 0; i < 2; i++) {
        v[DATA_CHARS + 2 * i] = (uint8_t) (check[i] >> 5);
        v[DATA_CHARS + 2 * i + 1] = (uint8_t) (check[i] & 31u);
    }

    size_t o = 0;
    for (size_t i = 0; i < TOTAL_CHARS; i++) {
        if (i > 0 && i % GROUP_CHARS == 0) {
            out[o++] = '-';
        }
        out[o++] = alphabet[v[i]];
    }
    assert(o == KITH_NODEID_LEN);
    out[o] = '\0';
}

int
kith_nodeid_decode(const char *text, uint8_t pk[static 32])
{
    uint8_t v[TOTAL_CHARS];
    unsigned sym[TOTAL_SYMS];
    size_t n = 0, i;

    if (text == NULL) {
        return KITH_EINVAL;
    }
    for (i = 0; i < KITH_NODEID_MAX_INPUT && text[i] != '\0'; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c == '-' || c == ' ') {
            continue;
        }
        int d = char_value(c);
        if (d < 0 || n == TOTAL_CHARS) {
            return KITH_EPARSE;
        }
        v[n++] = (uint8_t) d;
    }
    /* text[0..i-1] are all non-NUL here, so text[i] is still inside the string. */
    if (i == KITH_NODEID_MAX_INPUT && text[i] != '\0') {
        return KITH_EPARSE;
    }
    if (n != TOTAL_CHARS) {
        return KITH_EPARSE;
    }

    for (i = 0; i < TOTAL_SYMS; i++) {
        sym[i] = ((unsigned) v[2 * i] << 5) | v[2 * i + 1];
    }
    /* Checked before the padding so that any typo reports as a checksum failure. */
    if (rs_syndromes(sym) != 0) {
        return KITH_ECHECKSUM;
    }
    if ((v[DATA_CHARS - 1] & 0x0fu) != 0) {
        return KITH_EPARSE;
    }

    unsigned acc = 0;
    int bits = 0;
    size_t k = 0;
    for (i = 0; i < DATA_CHARS; i++) {
        acc = ((acc << 5) | v[i]) & 0xfffu;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            pk[k++] = (uint8_t) (acc >> bits);
        }
    }
    assert(k == 32 && bits == 4);
    return KITH_OK;
}

void
kith_fingerprint(const uint8_t pk[static 32], char out[static 20])
{
    static const char hex[17] = "0123456789abcdef";
    uint8_t h[32] = {0};

    /* Fails only for out-of-range lengths, which are constants here. */
    int rc = crypto_generichash(h, sizeof(h), pk, 32, NULL, 0);
    assert(rc == 0);
    (void) rc;

    size_t o = 0;
    for (size_t i = 0; i < 8; i++) {
        if (i > 0 && i % 2 == 0) {
            out[o++] = ' ';
        }
        out[o++] = hex[h[i] >> 4];
        out[o++] = hex[h[i] & 15u];
    }
    assert(o == KITH_FINGERPRINT_LEN);
    out[o] = '\0';
}
