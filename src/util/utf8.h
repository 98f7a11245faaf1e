/*
 * UTF-8 decoding shared by the JSON writer, text folding and schema validation.
 */
#ifndef KITH_UTF8_H
#define KITH_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define KITH_UTF8_INVALID UINT32_MAX

/* Decodes the code point at s[0..n-1] (n > 0): returns the bytes it used and sets *cp,
 * or sets *cp to KITH_UTF8_INVALID and returns the length of the maximal invalid
 * subpart (at least 1), as Unicode's "best practice" for U+FFFD substitution says.
 * Overlong forms, surrogates and values above U+10FFFF are invalid. */
size_t kith_utf8_next(const uint8_t *s, size_t n, uint32_t *cp);

#endif
