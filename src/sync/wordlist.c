/*
 * The pairing-code word list and its lookups. See wordlist.h for the list's rules; the
 * tests check every one of them (order, lengths, letters, pairwise edit distance).
 */
#include "sync/wordlist.h"

#include <string.h>

/* clang-format off */
const char *const kith_wordlist[KITH_WORDLIST_LEN] = {
    /*   0 */ "acorn", "actor", "alarm", "album", "amber", "angle", "apple", "apron",
    /*   8 */ "arch", "army", "arrow", "atom", "bacon", "badge", "bag", "ball",
    /*  16 */ "barn", "bed", "belt", "bench", "bike", "bird", "blade", "bone",
    /*  24 */ "boot", "bottle", "bowl", "box", "brain", "brick", "bridge", "broom",
    /*  32 */ "brush", "bucket", "bulb", "bus", "button", "cabin", "cable", "camel",
    /*  40 */ "camera", "camp", "candle", "candy", "canoe", "card", "carpet", "castle",
    /*  48 */ "cave", "chain", "cheese", "chess", "circle", "city", "clam", "cliff",
    /*  56 */ "clock", "cloud", "clown", "coat", "coin", "coral", "couch", "cow",
    /*  64 */ "crab", "crane", "cream", "cube", "cup", "daisy", "desk", "dice",
    /*  72 */ "dish", "dog", "doll", "donkey", "door", "dove", "dragon", "drum",
    /*  80 */ "duck", "eagle", "ear", "earth", "egg", "elbow", "engine", "farm",
    /*  88 */ "fence", "fern", "fig", "finger", "fire", "flag", "flame", "flute",
    /*  96 */ "foam", "forest", "fork", "frog", "fruit", "gate", "gem", "ghost",
    /* 104 */ "giant", "gift", "glass", "globe", "gold", "goose", "grape", "hammer",
    /* 112 */ "hand", "harp", "hat", "hawk", "heart", "hedge", "helmet", "hill",
    /* 120 */ "hive", "honey", "hook", "ink", "iron", "jacket", "jam", "jelly",
    /* 128 */ "jet", "juice", "key", "king", "kite", "kitten", "lake", "lamb",
    /* 136 */ "leaf", "lemon", "lid", "lily", "lime", "lion", "lizard", "lunch",
    /* 144 */ "magnet", "mango", "map", "maple", "mask", "melon", "mint", "mirror",
    /* 152 */ "moon", "moth", "mouse", "mud", "nest", "nut", "oak", "ocean",
    /* 160 */ "olive", "onion", "orange", "otter", "oven", "paddle", "paint", "palm",
    /* 168 */ "panda", "paper", "pasta", "peach", "peanut", "pearl", "pen", "pencil",
    /* 176 */ "penny", "piano", "pillow", "pilot", "pine", "pizza", "plant", "plate",
    /* 184 */ "pocket", "pond", "pot", "potato", "purse", "puzzle", "quilt", "rabbit",
    /* 192 */ "radio", "raft", "river", "robe", "robot", "rock", "roof", "ruby",
    /* 200 */ "rug", "ruler", "salad", "salt", "scarf", "seed", "shark", "sheep",
    /* 208 */ "shell", "ship", "shirt", "shoe", "shovel", "silk", "skate", "ski",
    /* 216 */ "snail", "snake", "snow", "soap", "sofa", "spider", "spoon", "star",
    /* 224 */ "stone", "stool", "storm", "straw", "sugar", "swan", "tent", "tiger",
    /* 232 */ "toast", "tomato", "tooth", "torch", "towel", "toy", "tree", "truck",
    /* 240 */ "tulip", "turtle", "van", "vase", "violin", "wagon", "wallet", "watch",
    /* 248 */ "water", "wheat", "wheel", "window", "wolf", "worm", "zebra", "zipper",};
/* clang-format on */

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* strcmp of a list word against s[0..len) folded to lowercase. */
static int
cmp_folded(const char *word, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int a = (unsigned char) word[i], b = lower((unsigned char) s[i]);
        if (a == 0) {
            return -1; /* the word is a proper prefix (s may even go on with a NUL) */
        }
        if (a != b) {
            return a - b;
        }
    }
    return word[len] == '\0' ? 0 : 1;
}

int
kith_wordlist_find(const char *s, size_t len)
{
    size_t lo = 0, hi = KITH_WORDLIST_LEN;

    if (s == NULL || len < KITH_WORD_MIN || len > KITH_WORD_MAX) {
        return -1;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_folded(kith_wordlist[mid], s, len);
        if (c == 0) {
            return (int) mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

#define EDIT_MAX  2                          /* furthest hint */
#define INPUT_MAX (KITH_WORD_MAX + EDIT_MAX) /* longer input cannot be within EDIT_MAX */

/* Levenshtein distance between a list word and s[0..len) (len <= INPUT_MAX), folded. */
static size_t
distance(const char *word, const char *s, size_t len)
{
    size_t wlen = strlen(word), row[INPUT_MAX + 1];

    for (size_t j = 0; j <= len; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= wlen; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= len; j++) {
            size_t up = row[j];
            size_t best = diag + (word[i - 1] != lower((unsigned char) s[j - 1]) ? 1 : 0);
            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[len];
}

int
kith_wordlist_closest(const char *s, size_t len)
{
    size_t best = EDIT_MAX + 1;
    int found = -1, ties = 0;

    if (s == NULL || len > INPUT_MAX) {
        return -1;
    }
    for (int i = 0; i < KITH_WORDLIST_LEN; i++) {
        size_t d = distance(kith_wordlist[i], s, len);
        if (d < best) {
            best = d;
            found = i;
            ties = 0;
        } else if (d == best) {
            ties++;
        }
    }
    return found >= 0 && ties == 0 ? found : -1;
}
