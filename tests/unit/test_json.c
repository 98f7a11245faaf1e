/*
 * Tests for the streaming JSON writer (src/util/json.c): layout, escaping, invalid
 * UTF-8, misuse and the sticky error.
 */
#include "check.h"

#include <stdlib.h>

#include "util/json.h"

/* Returns 1 if s[0..n-1] is well-formed UTF-8 (checked independently of json.c). */
static int
valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], cp, min;
        size_t len;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len > n - i) {
            return 0;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += len;
    }
    return 1;
}

/* Writes one string value in compact mode and checks the whole output. */
static void
check_string(const char *in, size_t n, const char *want)
{
    kith_buf_t b;
    kith_json_t j;
    kith_buf_init(&b);
    kith_json_init(&j, &b, 0);
    kith_json_stringn(&j, in, n);
    ASSERT_OK(kith_json_finish(&j));
    ASSERT_STREQ((char *) b.data, want);
    assert_true(valid_utf8(b.data, b.len));
    kith_buf_close(&b);
}

static void
compact_nesting(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_json_t j;
    kith_buf_init(&b);
    kith_json_init(&j, &b, 0);
    kith_json_object_begin(&j);
    kith_json_key(&j, "name");
    kith_json_string(&j, "Ada");
    kith_json_key(&j, "n");
    kith_json_int(&j, -42);
    kith_json_key(&j, "tags");
    kith_json_array_begin(&j);
    kith_json_string(&j, "a");
    kith_json_bool(&j, 1);
    kith_json_bool(&j, 0);
    kith_json_null(&j);
    kith_json_array_begin(&j);
    kith_json_array_end(&j);
    kith_json_object_begin(&j);
    kith_json_object_end(&j);
    kith_json_array_end(&j);
    kith_json_key(&j, "min");
    kith_json_int(&j, INT64_MIN);
    kith_json_key(&j, "max");
    kith_json_uint(&j, UINT64_MAX);
    kith_json_key(&j, "none");
    kith_json_string(&j, NULL);
    kith_json_object_end(&j);
    ASSERT_OK(kith_json_finish(&j));
    ASSERT_STREQ((char *) b.data,
                 "{\"name\":\"Ada\",\"n\":-42,\"tags\":[\"a\",true,false,null,[],{}],"
                 "\"min\":-9223372036854775808,\"max\":18446744073709551615,\"none\":null}");
    /* A second finish changes nothing. */
    ASSERT_OK(kith_json_finish(&j));
    ASSERT_EQ(b.data[b.len - 1], '}');
    kith_buf_close(&b);
}

static void
pretty_layout(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_json_t j;
    kith_buf_init(&b);
    kith_json_init(&j, &b, 1);
    kith_json_object_begin(&j);
    kith_json_key(&j, "a");
    kith_json_int(&j, 1);
    kith_json_key(&j, "b");
    kith_json_array_begin(&j);
    kith_json_int(&j, 1);
    kith_json_object_begin(&j);
    kith_json_key(&j, "c");
    kith_json_null(&j);
    kith_json_object_end(&j);
    kith_json_array_end(&j);
    kith_json_key(&j, "e");
    kith_json_object_begin(&j);
    kith_json_object_end(&j);
    kith_json_key(&j, "f");
    kith_json_array_begin(&j);
    kith_json_array_end(&j);
    kith_json_object_end(&j);
    ASSERT_OK(kith_json_finish(&j));
    ASSERT_STREQ((char *) b.data, "{\n"
                                  "  \"a\": 1,\n"
                                  "  \"b\": [\n"
                                  "    1,\n"
                                  "    {\n"
                                  "      \"c\": null\n"
                                  "    }\n"
                                  "  ],\n"
                                  "  \"e\": {},\n"
                                  "  \"f\": []\n"
                                  "}\n");
    kith_buf_close(&b);

    /* A bare top-level scalar. */
    kith_buf_init(&b);
    kith_json_init(&j, &b, 1);
    kith_json_string(&j, "x");
    ASSERT_OK(kith_json_finish(&j));
    ASSERT_STREQ((char *) b.data, "\"x\"\n");
    kith_buf_close(&b);

    /* The writer appends to what the buffer already holds. */
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "prefix "));
    kith_json_init(&j, &b, 0);
    kith_json_array_begin(&j);
    kith_json_array_end(&j);
    ASSERT_OK(kith_json_finish(&j));
    ASSERT_STREQ((char *) b.data, "prefix []");
    kith_buf_close(&b);
}

static void
escaping(void **state)
{
    (void) state;
    check_string("", 0, "\"\"");
    check_string("plain", 5, "\"plain\"");
    check_string("q\"b\\s/", 6, "\"q\\\"b\\\\s/\"");
    check_string("\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\"");
    check_string("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
    /* Embedded NUL with stringn. */
    check_string("a\0b", 3, "\"a\\u0000b\"");
    /* Valid UTF-8 passes through: 2, 3 and 4 bytes, U+FFFF, U+10FFFF, U+FEFF. */
    check_string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
                 "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    check_string("\xef\xbf\xbf\xf4\x8f\xbf\xbf\xef\xbb\xbf", 10,
                 "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\xef\xbb\xbf\"");

    /* Keys are escaped too. */
    kith_buf_t b;
    kith_json_t j;
    kith_buf_init(&b);
    kith_json_init(&j, &b, 0);
    kith_json_object_begin(&j);
    kith_json_key(&j, "k\"\n\xff");
    kith_json_int(&j, 0);
    kith_json_object_end(&j);
    ASSERT_OK(kith_json_finish(&j));
    ASSERT_STREQ((char *) b.data, "{\"k\\\"\\n\xef\xbf\xbd\":0}");
    kith_buf_close(&b);
}

#define FFFD "\xef\xbf\xbd"

static void
invalid_utf8(void **state)
{
    (void) state;
    /* Stray continuation bytes and impossible bytes: one U+FFFD each. */
    check_string("\x80", 1, "\"" FFFD "\"");
    check_string("a\x80\xbfz", 4, "\"a" FFFD FFFD "z\"");
    check_string("\xfe\xff\xc0\xc1\xf5\xf8", 6, "\"" FFFD FFFD FFFD FFFD FFFD FFFD "\"");
    /* Overlong forms: "/" as 2, 3 and 4 bytes; overlong NUL. */
    check_string("\xc0\xaf", 2, "\"" FFFD FFFD "\"");
    check_string("\xe0\x80\xaf", 3, "\"" FFFD FFFD FFFD "\"");
    check_string("\xf0\x80\x80\xaf", 4, "\"" FFFD FFFD FFFD FFFD "\"");
    check_string("\xc0\x80", 2, "\"" FFFD FFFD "\"");
    /* Surrogates U+D800 and U+DFFF, and a CESU-8 pair. */
    check_string("\xed\xa0\x80", 3, "\"" FFFD FFFD FFFD "\"");
    check_string("\xed\xbf\xbf", 3, "\"" FFFD FFFD FFFD "\"");
    check_string("\xed\xa0\xbd\xed\xb8\x80", 6, "\"" FFFD FFFD FFFD FFFD FFFD FFFD "\"");
    /* Above U+10FFFF. */
    check_string("\xf4\x90\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\"");
    /* Truncated sequences: the valid prefix is one maximal subpart. */
    check_string("\xe2\x82", 2, "\"" FFFD "\"");
    check_string("\xf0\x9f\x98", 3, "\"" FFFD "\"");
    check_string("\xe2\x82x", 3, "\"" FFFD "x\"");
    check_string("\xf0\x9f\x98\"", 4, "\"" FFFD "\\\"\"");
    check_string("\xc3", 1, "\"" FFFD "\"");

    /* Random bytes always give valid UTF-8 with nothing unescaped below 0x20. */
    uint32_t x = 12345;
    for (int round = 0; round < 2000; round++) {
        uint8_t in[64];
        size_t n = (size_t) (round % 64);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            uint8_t r = (uint8_t) (x >> 16);
            /* Bias towards the interesting bytes. */
            in[i] = (x & 0x80000000u) ? (uint8_t) (0x80 | r) : r;
        }
        kith_buf_t b;
        kith_json_t j;
        kith_buf_init(&b);
        kith_json_init(&j, &b, 0);
        kith_json_stringn(&j, (const char *) in, n);
        ASSERT_OK(kith_json_finish(&j));
        assert_true(valid_utf8(b.data, b.len));
        for (size_t i = 0; i < b.len; i++) {
            assert_true(b.data[i] >= 0x20);
        }
        kith_buf_close(&b);
    }
}

/* Runs a misuse scenario and expects finish to report err. */
static void
expect_error(void (*fn)(kith_json_t *), int err)
{
    kith_buf_t b;
    kith_json_t j;
    kith_buf_init(&b);
    kith_json_init(&j, &b, 0);
    fn(&j);
    ASSERT_ERR(kith_json_finish(&j), err);
    /* Sticky: further calls do nothing and the error stays. */
    size_t len = b.len;
    kith_json_null(&j);
    kith_json_object_end(&j);
    ASSERT_EQ(b.len, len);
    ASSERT_ERR(kith_json_finish(&j), err);
    kith_buf_close(&b);
}

static void
m_nothing(kith_json_t *j)
{
    (void) j;
}

static void
m_open_object(kith_json_t *j)
{
    kith_json_object_begin(j);
    kith_json_key(j, "a");
    kith_json_int(j, 1);
}

static void
m_open_array(kith_json_t *j)
{
    kith_json_array_begin(j);
    kith_json_array_begin(j);
    kith_json_array_end(j);
}

static void
m_dangling_key(kith_json_t *j)
{
    kith_json_object_begin(j);
    kith_json_key(j, "a");
}

static void
m_end_after_key(kith_json_t *j)
{
    kith_json_object_begin(j);
    kith_json_key(j, "a");
    kith_json_object_end(j);
}

static void
m_value_without_key(kith_json_t *j)
{
    kith_json_object_begin(j);
    kith_json_int(j, 1);
    kith_json_object_end(j);
}

static void
m_key_in_array(kith_json_t *j)
{
    kith_json_array_begin(j);
    kith_json_key(j, "a");
    kith_json_array_end(j);
}

static void
m_key_at_top(kith_json_t *j)
{
    kith_json_key(j, "a");
}

static void
m_two_keys(kith_json_t *j)
{
    kith_json_object_begin(j);
    kith_json_key(j, "a");
    kith_json_key(j, "b");
    kith_json_int(j, 1);
    kith_json_object_end(j);
}

static void
m_null_key(kith_json_t *j)
{
    kith_json_object_begin(j);
    kith_json_key(j, NULL);
    kith_json_int(j, 1);
    kith_json_object_end(j);
}

static void
m_mismatched_end(kith_json_t *j)
{
    kith_json_object_begin(j);
    kith_json_array_end(j);
}

static void
m_end_at_top(kith_json_t *j)
{
    kith_json_array_end(j);
}

static void
m_two_top_values(kith_json_t *j)
{
    kith_json_int(j, 1);
    kith_json_int(j, 2);
}

static void
m_too_deep(kith_json_t *j)
{
    for (int i = 0; i <= KITH_JSON_MAX_DEPTH; i++) {
        kith_json_array_begin(j);
    }
    for (int i = 0; i <= KITH_JSON_MAX_DEPTH; i++) {
        kith_json_array_end(j);
    }
}

static void
m_too_deep_then_more(kith_json_t *j)
{
    for (int i = 0; i < 1000; i++) {
        kith_json_object_begin(j);
        kith_json_key(j, "k");
    }
}

static void
misuse(void **state)
{
    (void) state;
    expect_error(m_nothing, KITH_EINVAL);
    expect_error(m_open_object, KITH_EINVAL);
    expect_error(m_open_array, KITH_EINVAL);
    expect_error(m_dangling_key, KITH_EINVAL);
    expect_error(m_end_after_key, KITH_EINVAL);
    expect_error(m_value_without_key, KITH_EINVAL);
    expect_error(m_key_in_array, KITH_EINVAL);
    expect_error(m_key_at_top, KITH_EINVAL);
    expect_error(m_two_keys, KITH_EINVAL);
    expect_error(m_null_key, KITH_EINVAL);
    expect_error(m_mismatched_end, KITH_EINVAL);
    expect_error(m_end_at_top, KITH_EINVAL);
    expect_error(m_two_top_values, KITH_EINVAL);
    expect_error(m_too_deep, KITH_ETOOBIG);
    expect_error(m_too_deep_then_more, KITH_ETOOBIG);
}

/* Exactly KITH_JSON_MAX_DEPTH levels is allowed. */
static void
max_depth(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_json_t j;
    kith_buf_init(&b);
    kith_json_init(&j, &b, 1);
    for (int i = 0; i < KITH_JSON_MAX_DEPTH; i++) {
        kith_json_array_begin(&j);
    }
    kith_json_int(&j, 7);
    for (int i = 0; i < KITH_JSON_MAX_DEPTH; i++) {
        kith_json_array_end(&j);
    }
    ASSERT_OK(kith_json_finish(&j));
    /* The innermost value is indented 2 * depth spaces. */
    char want[2 * KITH_JSON_MAX_DEPTH + 4];
    memset(want, ' ', 2 * KITH_JSON_MAX_DEPTH);
    memcpy(want + 2 * KITH_JSON_MAX_DEPTH, "7\n", 3);
    assert_non_null(strstr((char *) b.data, want));
    kith_buf_close(&b);
}

/* A long string with mixed content survives intact (exercises the run copying). */
static void
long_string(void **state)
{
    (void) state;
    size_t n = 100000;
    char *s = malloc(n);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        s[i] = (char) ('a' + i % 26);
    }
    s[n / 2] = '"';
    kith_buf_t b;
    kith_json_t j;
    kith_buf_init(&b);
    kith_json_init(&j, &b, 0);
    kith_json_stringn(&j, s, n);
    ASSERT_OK(kith_json_finish(&j));
    ASSERT_EQ(b.len, n + 3);
    assert_memory_equal(b.data + 1, s, n / 2);
    assert_memory_equal(b.data + 1 + n / 2, "\\\"", 2);
    assert_memory_equal(b.data + 3 + n / 2, s + n / 2 + 1, n - n / 2 - 1);
    kith_buf_close(&b);
    free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compact_nesting), cmocka_unit_test(pretty_layout),
        cmocka_unit_test(escaping),        cmocka_unit_test(invalid_utf8),
        cmocka_unit_test(misuse),          cmocka_unit_test(max_depth),
        cmocka_unit_test(long_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
