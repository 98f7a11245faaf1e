/*
 * Node IDs: the human-typable form of a node's 32-byte Ed25519 public key.
 *
 * Text form: 56 Crockford base32 characters (alphabet 0123456789ABCDEFGHJKMNPQRSTVWXYZ,
 * upper case on output) in 8 groups of 7 joined by '-', e.g.
 *
 *     04X7ZQM-...-...-...-...-...-...-...   (63 characters)
 *
 * The first 52 characters carry the key: 256 bits read most significant bit first,
 * 5 bits per character, and the last character's low 4 bits are zero padding.
 * The last 4 characters are check characters.
 *
 * Check scheme. Each pair of characters (10 bits) is one symbol of GF(2^10), built
 * with the primitive polynomial p(x) = x^10 + x^3 + 1 and alpha = x (order 1023).
 * The 26 data symbols are extended with 2 symbols of a systematic Reed-Solomon code
 * whose generator has roots alpha^1 and alpha^2:
 *
 *     g(x) = (x - alpha)(x - alpha^2) = x^2 + (alpha + alpha^2) x + alpha^3
 *
 * so a valid 28-symbol word c(x) has c(alpha) = c(alpha^2) = 0. Why this catches the
 * typos people make: an error e(x) touching at most two symbols, at positions with
 * distinct locators X = alpha^i and Y = alpha^j (distinct because 28 < 1023), goes
 * undetected only if
 *
 *     a X   + b Y   = 0
 *     a X^2 + b Y^2 = 0
 *
 * for the error values a, b. The determinant X Y (Y - X) is non-zero, so a = b = 0:
 * every non-zero error confined to at most 2 symbols is detected (minimum distance 3).
 * A changed character alters 1 symbol; a swap of two adjacent characters alters the
 * symbol holding them or, if they straddle a pair boundary, 2 symbols. Both are
 * therefore always detected. (Errors in 3 or more symbols slip through with
 * probability about 2^-20.)
 *
 * Decoding is lenient for humans and strict about content: see kith_nodeid_decode.
 */
#ifndef KITH_NODEID_H
#define KITH_NODEID_H

#include <stdint.h>

#define KITH_NODEID_LEN       63  /* 56 characters + 7 dashes, without the NUL */
#define KITH_NODEID_BUFSIZE   64  /* KITH_NODEID_LEN + NUL */
#define KITH_NODEID_MAX_INPUT 200 /* decode rejects longer text without reading past it */
#define KITH_FINGERPRINT_LEN  19  /* "ab12 cd34 ef56 7890", without the NUL */

/* Writes the NUL-terminated, upper-case node ID of pk to out. Cannot fail. */
void kith_nodeid_encode(const uint8_t pk[static 32], char out[static KITH_NODEID_BUFSIZE]);

/*
 * Parses a node ID typed or pasted by a human. Case-insensitive; '-' and ' ' are
 * ignored anywhere; I, i, L, l read as 1 and O, o as 0 (Crockford). At most
 * KITH_NODEID_MAX_INPUT bytes of text are examined.
 *
 * Returns KITH_OK and fills pk; KITH_EINVAL if text is NULL; KITH_EPARSE for a bad
 * character, the wrong number of characters, over-long text or non-zero padding bits;
 * KITH_ECHECKSUM if the check characters do not match (a typo). pk is written only
 * on success.
 */
int kith_nodeid_decode(const char *text, uint8_t pk[static 32]);

/*
 * Writes a short fingerprint of pk for display and logs: the first 8 bytes of
 * BLAKE2b-256(pk) as lower-case hex in 4 groups of 4, e.g. "ab12 cd34 ef56 7890"
 * (19 characters + NUL). Needs sodium_init() to have run. Cannot fail.
 */
void kith_fingerprint(const uint8_t pk[static 32], char out[static 20]);

#endif
