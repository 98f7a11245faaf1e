/*
 * Text folding for search; the rules are listed in textfold.h.
 *
 * Every rule maps a code point to something no longer than its UTF-8 encoding
 * (2-byte letters to 0-2 ASCII bytes or to another 2-byte letter), so the output
 * fits in len bytes: the buffer is reserved once and then written directly.
 *
 * Invalid UTF-8 is copied through byte for byte rather than replaced, so that
 * folding stays a pure function of the bytes and a needle folds the same way as the
 * haystack it was cut from.
 */
#include "util/textfold.h"
#include "util/utf8.h"

#include <assert.h>
#include <string.h>

#include "kith/error.h"

/*
 * Folded forms of U+00C0-U+017F, lower-case ASCII. An empty entry means "not a
 * letter, copy unchanged" (only U+00D7 and U+00F7). Formatting is off so that each
 * line stays one row of 16 code points and the table can be checked by eye.
 */
/* clang-format off */
static const char latin_fold[0x180 - 0xc0][3] = {
    /* U+00C0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00D0 */ "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "ss",
    /* U+00E0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00F0 */ "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y",
    /* U+0100 */ "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",
    /* U+0110 */ "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",
    /* U+0120 */ "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",
    /* U+0130 */ "i", "i", "ij", "ij", "j", "j", "k", "k", "q", "l", "l", "l", "l", "l", "l", "l",
    /* U+0140 */ "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",
    /* U+0150 */ "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",
    /* U+0160 */ "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",
    /* U+0170 */ "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};
/* clang-format on */

/* Greek with tonos or dialytika (U+0386-U+03CE) to the plain lower-case vowel; 0 if none. */
static uint32_t
greek_plain(uint32_t cp)
{
    switch (cp) {
    case 0x0386: /* capital alpha with tonos */
    case 0x03ac:
        return 0x03b1;
    case 0x0388: /* epsilon */
    case 0x03ad:
        return 0x03b5;
    case 0x0389: /* eta */
    case 0x03ae:
        return 0x03b7;
    case 0x038a: /* iota, also with dialytika (and tonos) */
    case 0x0390:
    case 0x03aa:
    case 0x03af:
    case 0x03ca:
        return 0x03b9;
    case 0x038c: /* omicron */
    case 0x03cc:
        return 0x03bf;
    case 0x038e: /* upsilon, also with dialytika (and tonos) */
    case 0x03ab:
    case 0x03b0:
    case 0x03cb:
    case 0x03cd:
        return 0x03c5;
    case 0x038f: /* omega */
    case 0x03ce:
        return 0x03c9;
    case 0x03c2: /* final sigma */
        return 0x03c3;
    default:
        return 0;
    }
}

/* Cyrillic letters that are a base letter plus a diacritic, to that base; 0 if none. */
static uint32_t
cyrillic_plain(uint32_t cp)
{
    switch (cp) {
    case 0x0400: /* ie with grave */
    case 0x0401: /* io */
    case 0x0450:
    case 0x0451:
        return 0x0435;
    case 0x0403: /* gje */
    case 0x0453:
        return 0x0433;
    case 0x0407: /* yi */
    case 0x0457:
        return 0x0456;
    case 0x040c: /* kje */
    case 0x045c:
        return 0x043a;
    case 0x040d: /* i with grave */
    case 0x0419: /* short i */
    case 0x0439:
    case 0x045d:
        return 0x0438;
    case 0x040e: /* short u */
    case 0x045e:
        return 0x0443;
    default:
        return 0;
    }
}

/* Folds one 2-byte code point (U+0080-U+07FF). Returns the result, or 0 to drop it. */
static uint32_t
fold_2byte(uint32_t cp)
{
    uint32_t r;

    if (cp >= 0x0300 && cp <= 0x036f) {
        return 0; /* combining diacritical mark */
    }
    if ((r = greek_plain(cp)) != 0 || (r = cyrillic_plain(cp)) != 0) {
        return r;
    }
    if (cp >= 0x0391 && cp <= 0x03a9 && cp != 0x03a2) {
        return cp + 0x20;
    }
    if (cp >= 0x0410 && cp <= 0x042f) {
        return cp + 0x20;
    }
    if (cp >= 0x0400 && cp <= 0x040f) {
        return cp + 0x50;
    }
    return cp;
}

int
kith_textfold(const char *in, size_t len, kith_buf_t *out)
{
    const uint8_t *s = (const uint8_t *) in;
    int rc = kith_buf_reserve(out, len);
    if (rc != KITH_OK) {
        return rc;
    }
    /* After a successful reserve data is non-NULL, even for len 0. */
    uint8_t *o = out->data + out->len;
    size_t i = 0;

    while (i < len) {
        uint32_t cp;
        size_t n = kith_utf8_next(s + i, len - i, &cp);

        if (cp < 0x80) {
            *o++ = (uint8_t) (cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp);
        } else if (cp >= 0xc0 && cp <= 0x17f && latin_fold[cp - 0xc0][0] != '\0') {
            const char *f = latin_fold[cp - 0xc0];
            size_t fl = strlen(f);
            memcpy(o, f, fl);
            o += fl;
        } else if (cp != KITH_UTF8_INVALID && cp < 0x800) {
            uint32_t r = fold_2byte(cp);
            if (r != 0) {
                *o++ = (uint8_t) (0xc0 | (r >> 6));
                *o++ = (uint8_t) (0x80 | (r & 0x3fu));
            }
        } else {
            /* Longer code points, and invalid bytes, are copied unchanged. */
            memcpy(o, s + i, n);
            o += n;
        }
        i += n;
    }
    size_t written = (size_t) (o - (out->data + out->len));
    assert(written <= len);
    out->len += written;
    out->data[out->len] = '\0';
    return KITH_OK;
}

int
kith_textfold_contains(const char *haystack_folded, size_t hlen, const char *needle_folded,
                       size_t nlen)
{
    if (nlen == 0) {
        return 1;
    }
    if (nlen > hlen) {
        return 0;
    }
    /* memmem() needs _GNU_SOURCE on glibc; names are short, so a plain scan will do. */
    const char *p = haystack_folded;
    const char *last = haystack_folded + (hlen - nlen); /* last possible start */
    while (p <= last) {
        p = memchr(p, needle_folded[0], (size_t) (last - p) + 1);
        if (p == NULL) {
            return 0;
        }
        if (memcmp(p, needle_folded, nlen) == 0) {
            return 1;
        }
        p++;
    }
    return 0;
}
