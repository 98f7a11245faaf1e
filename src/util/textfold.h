/*
 * Text folding for case- and diacritic-insensitive search.
 *
 * Both the text searched and the search term are folded, then compared bytewise:
 *
 *     kith_textfold(name, strlen(name), &hay);
 *     kith_textfold(query, strlen(query), &needle);
 *     hit = kith_textfold_contains((char *) hay.data, hay.len,
 *                                  (char *) needle.data, needle.len);
 *
 * Folding is deliberately small and table-free beyond Latin: it covers the scripts
 * kith's users are most likely to type names in, not full Unicode case folding or
 * normalisation. Precomposed letters outside the ranges below (Latin Extended-B,
 * Vietnamese, ...) are copied unchanged, so for them precomposed and decomposed
 * input do not fold alike.
 */
#ifndef KITH_TEXTFOLD_H
#define KITH_TEXTFOLD_H

#include <stddef.h>

#include "util/buf.h"

/*
 * Appends a folded copy of in[0..len-1] to out (which stays NUL-terminated):
 *  - ASCII letters are lower-cased;
 *  - letters of U+00C0-U+017F (Latin-1 Supplement, Latin Extended-A) become their
 *    lower-case ASCII base letters: e with acute -> e, o with stroke -> o, sharp s ->
 *    ss, ae/oe/ij ligatures -> ae/oe/ij, thorn -> th, eth and d with stroke -> d,
 *    l with stroke -> l, dotless i -> i, long s -> s, kra -> q, eng -> n;
 *    the multiplication and division signs are kept;
 *  - Greek capitals U+0391-U+03A9 are lower-cased, vowels with tonos or dialytika
 *    become plain lower-case vowels, and final sigma becomes sigma;
 *  - Cyrillic capitals U+0400-U+042F are lower-cased, and the letters that are a
 *    base letter plus a diacritic (io, short i, yi, gje, kje, short u, ie/i with
 *    grave) become that base letter, so that they fold like their decomposed forms;
 *  - combining diacritical marks U+0300-U+036F are dropped;
 *  - every other code point is copied unchanged, and bytes that are not valid
 *    UTF-8 are copied through as they are (folding never fails on bad input).
 * The output is never longer than the input. in may be NULL if len is 0.
 * Returns KITH_OK, or a buffer error (KITH_ENOMEM, KITH_ETOOBIG) with out unchanged.
 */
int kith_textfold(const char *in, size_t len, kith_buf_t *out);

/*
 * Returns 1 if needle_folded[0..nlen-1] occurs in haystack_folded[0..hlen-1], else
 * 0. Both should come from kith_textfold(). An empty needle is found everywhere.
 */
int kith_textfold_contains(const char *haystack_folded, size_t hlen, const char *needle_folded,
                           size_t nlen);

#endif
