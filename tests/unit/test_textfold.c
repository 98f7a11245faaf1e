/*
 * Tests for search folding (src/util/textfold.c): Latin, Greek and Cyrillic rules,
 * decomposed input, invalid bytes and substring search.
 */
#include "check.h"

#include <stdlib.h>

#include "util/textfold.h"

/* Folds s (n bytes) into a fresh buffer and checks the result. */
static void
check_fold_n(const char *s, size_t n, const char *want, size_t want_len)
{
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_textfold(s, n, &b));
    ASSERT_EQ(b.len, want_len);
    assert_memory_equal(b.data, want, want_len);
    ASSERT_EQ(b.data[b.len], '\0');
    assert_true(b.len <= n);
    kith_buf_close(&b);
}

static void
check_fold(const char *s, const char *want)
{
    check_fold_n(s, strlen(s), want, strlen(want));
}

static void
ascii(void **state)
{
    (void) state;
    check_fold("", "");
    check_fold("Hello, World! 123", "hello, world! 123");
    check_fold("ABCDEFGHIJKLMNOPQRSTUVWXYZ@[`{", "abcdefghijklmnopqrstuvwxyz@[`{");
    check_fold_n("A\0B", 3, "a\0b", 3);
}

static void
latin(void **state)
{
    (void) state;
    check_fold("Ødegård", "odegard");
    check_fold("STRASSE", "strasse");
    check_fold("Straße", "strasse");
    check_fold("François Müller", "francois muller");
    check_fold("Æsir æ", "aesir ae");
    check_fold("Œuvre œ", "oeuvre oe");
    check_fold("Þor þ", "thor th");
    check_fold("Ð ð Đ đ", "d d d d");
    check_fold("Łódź", "lodz");
    check_fold("İstanbul ı", "istanbul i");
    check_fold("Ĳssel ĳ", "ijssel ij");
    check_fold("Žižek", "zizek");
    check_fold("ſŸÿ", "syy");
    check_fold("ÀÅÇÈÌÑÒÙÝ àåçèìñòùý", "aaceinouy aaceinouy");
    /* The two non-letters of Latin-1 Supplement are kept, as are symbols below U+00C0. */
    check_fold("2×3÷4", "2×3÷4");
    check_fold("©µ¿", "©µ¿");

    /* Every letter in U+00C0-U+017F folds to lower-case ASCII letters only. */
    for (uint32_t cp = 0xc0; cp <= 0x17f; cp++) {
        if (cp == 0xd7 || cp == 0xf7) {
            continue;
        }
        char in[2] = {(char) (0xc0 | (cp >> 6)), (char) (0x80 | (cp & 0x3f))};
        kith_buf_t b;
        kith_buf_init(&b);
        ASSERT_OK(kith_textfold(in, 2, &b));
        assert_true(b.len == 1 || b.len == 2);
        for (size_t i = 0; i < b.len; i++) {
            assert_true(b.data[i] >= 'a' && b.data[i] <= 'z');
        }
        kith_buf_close(&b);
    }
}

static void
decomposed(void **state)
{
    (void) state;
    /* e + U+0301 COMBINING ACUTE folds like U+00E9. */
    check_fold("e\u0301", "e");
    check_fold("é", "e");
    check_fold("Ame\u0301lie", "amelie");
    /* Several marks in a row; first and last of the block. */
    check_fold("A\u0300\u030a\u036f", "a");
    /* A mark with nothing before it simply vanishes. */
    check_fold("\u0301", "");
    /* Cyrillic short i and Greek alpha with tonos, decomposed and precomposed. */
    check_fold("и\u0306", "и");
    check_fold("Й", "и");
    check_fold("α\u0301", "α");
    check_fold("Ά", "α");
}

static void
greek_cyrillic(void **state)
{
    (void) state;
    check_fold("Москва", "москва");
    check_fold("МОСКВА", "москва");
    check_fold("ЁЂЏЯ", "еђџя");
    check_fold("ΑΘΗΝΑ Ω", "αθηνα ω");
    /* Tonos dropped, final sigma folds to sigma. */
    check_fold("Οδός", "οδοσ");
    check_fold("ΟΔΟΣ", "οδοσ");
    check_fold("ΐΰΪϋ", "ιυιυ");
    /* U+03A2 is unassigned and is not turned into final sigma. */
    check_fold("\xce\xa2", "\xce\xa2");
}

static void
other_code_points(void **state)
{
    (void) state;
    /* CJK, emoji, U+FFFD, Armenian capital: copied unchanged. */
    check_fold("中😀\ufffdԱ", "中😀\ufffdԱ");
}

static void
invalid_bytes(void **state)
{
    (void) state;
    /* Stray continuation, bad leads, overlong, surrogate, truncated: bytes unchanged. */
    check_fold_n("A\x80Z", 3, "a\x80z", 3);
    check_fold_n("\xff\xfe\xc0\xaf", 4, "\xff\xfe\xc0\xaf", 4);
    check_fold_n("\xed\xa0\x80", 3, "\xed\xa0\x80", 3);
    check_fold_n("\xf4\x90\x80\x80", 4, "\xf4\x90\x80\x80", 4);
    /* A truncated É at the end, and a lead byte followed by ASCII. */
    check_fold_n("X\xc3", 2, "x\xc3", 2);
    check_fold_n("\xc3Z", 2, "\xc3z", 2);
    check_fold_n("\xe2\x82Q", 3, "\xe2\x82q", 3);

    /* Random bytes never fail, never grow and keep the buffer terminated. */
    uint32_t x = 99;
    for (int round = 0; round < 5000; round++) {
        uint8_t in[48];
        size_t n = (size_t) (round % 48);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            in[i] = (uint8_t) (x >> 16);
        }
        kith_buf_t b;
        kith_buf_init(&b);
        ASSERT_OK(kith_textfold((const char *) in, n, &b));
        assert_true(b.len <= n);
        ASSERT_EQ(b.data[b.len], '\0');
        kith_buf_close(&b);
    }
}

static void
empty_and_append(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_textfold(NULL, 0, &b));
    ASSERT_EQ(b.len, 0);
    assert_non_null(b.data);
    ASSERT_EQ(b.data[0], '\0');
    /* Appends after existing content. */
    ASSERT_OK(kith_buf_puts(&b, "Pre:"));
    ASSERT_OK(kith_textfold("ÉTÉ", 5, &b));
    ASSERT_STREQ((char *) b.data, "Pre:ete");
    kith_buf_close(&b);
}

static int
fold_contains(const char *hay, const char *needle)
{
    kith_buf_t h, n;
    kith_buf_init(&h);
    kith_buf_init(&n);
    ASSERT_OK(kith_textfold(hay, strlen(hay), &h));
    ASSERT_OK(kith_textfold(needle, strlen(needle), &n));
    int r = kith_textfold_contains((char *) h.data, h.len, (char *) n.data, n.len);
    kith_buf_close(&h);
    kith_buf_close(&n);
    return r;
}

static void
contains(void **state)
{
    (void) state;
    ASSERT_EQ(fold_contains("Renée Ødegård", "ODEGARD"), 1);
    ASSERT_EQ(fold_contains("Großstraße 5", "strasse"), 1);
    ASSERT_EQ(fold_contains("Ame\u0301lie", "élie"), 1);
    ASSERT_EQ(fold_contains("Москва", "КВ"), 1);
    ASSERT_EQ(fold_contains("abc", ""), 1);
    ASSERT_EQ(fold_contains("", ""), 1);
    ASSERT_EQ(fold_contains("", "a"), 0);
    ASSERT_EQ(fold_contains("abc", "abcd"), 0);
    ASSERT_EQ(fold_contains("abc", "abc"), 1);
    ASSERT_EQ(fold_contains("abc", "c"), 1);
    ASSERT_EQ(fold_contains("aaab", "aab"), 1);
    ASSERT_EQ(fold_contains("aaa", "b"), 0);
    ASSERT_EQ(fold_contains("odegard", "odegarx"), 0);
    /* Raw calls with embedded NUL and lengths. */
    ASSERT_EQ(kith_textfold_contains("a\0bc", 4, "\0b", 2), 1);
    ASSERT_EQ(kith_textfold_contains("a\0bc", 4, "bcd", 3), 0);
    ASSERT_EQ(kith_textfold_contains("xyz", 2, "z", 1), 0);
    ASSERT_EQ(kith_textfold_contains(NULL, 0, NULL, 0), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ascii),
        cmocka_unit_test(latin),
        cmocka_unit_test(decomposed),
        cmocka_unit_test(greek_cyrillic),
        cmocka_unit_test(other_code_points),
        cmocka_unit_test(invalid_bytes),
        cmocka_unit_test(empty_and_append),
        cmocka_unit_test(contains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
