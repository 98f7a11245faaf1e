/*
 * The 256 words of pairing codes (proto/PAIRING.md): one byte of entropy per word.
 *
 * The list is fixed forever for protocol version 1: a word's index is what enters the
 * key exchange, so reordering or replacing a word breaks pairing between versions. Words
 * are lowercase ASCII, 3 to 6 letters, in strictly ascending byte order (so lookups can
 * bisect), and any two differ by at least two edits (insert, delete or substitute one
 * letter), so a single typo never turns one valid word into another. Words that sound
 * like other common words (sun/son, pear/pair) were left out, since codes are read
 * aloud.
 */
#ifndef KITH_WORDLIST_H
#define KITH_WORDLIST_H

#include <stddef.h>

#define KITH_WORDLIST_LEN 256 /* words */
#define KITH_WORD_MIN     3   /* bytes in the shortest word */
#define KITH_WORD_MAX     6   /* bytes in the longest word */

extern const char *const kith_wordlist[KITH_WORDLIST_LEN];

/* The index of the word spelled by s[0..len) in any letter case, or -1. */
int kith_wordlist_find(const char *s, size_t len);

/*
 * The index of the one list word closest to s[0..len) (case-insensitive edit distance at
 * most 2), for "did you mean ...?" hints; -1 if no word is that close, or if two words
 * are equally close. An exact match returns its own index.
 */
int kith_wordlist_closest(const char *s, size_t len);

#endif
