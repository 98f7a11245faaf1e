/*
 * Tests for the growable byte buffer (src/util/buf.c): growth, the NUL terminator,
 * printf, steal and the limits.
 */
#include "check.h"

#include <stdlib.h>

#include "kith/kith.h"
#include "util/buf.h"

static int
setup(void **state)
{
    (void) state;
    return kith_init() == KITH_OK ? 0 : -1;
}

/* The invariants every buffer must hold after any successful call. */
static void
check_invariants(const kith_buf_t *b)
{
    if (b->data == NULL) {
        ASSERT_EQ(b->len, 0);
        ASSERT_EQ(b->cap, 0);
        return;
    }
    assert_true(b->len < b->cap);
    ASSERT_EQ(b->data[b->len], '\0');
}

static void
init_and_close(void **state)
{
    (void) state;
    kith_buf_t b;
    memset(&b, 0xa5, sizeof(b));
    kith_buf_init(&b);
    assert_null(b.data);
    ASSERT_EQ(b.len, 0);
    ASSERT_EQ(b.cap, 0);
    kith_buf_close(&b);
    assert_null(b.data);
    /* Closing twice, and closing a zeroed buffer, are both harmless. */
    kith_buf_close(&b);
    kith_buf_t z = {0};
    kith_buf_close(&z);
    assert_null(z.data);
}

static void
append_and_growth(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    uint8_t expect[100000];
    for (size_t i = 0; i < sizeof(expect); i++) {
        expect[i] = (uint8_t) (i * 7 + 3);
    }
    /* Appends of varying size, checking the contents and invariants after each. */
    size_t off = 0, step = 1;
    size_t last_cap = 0;
    int grew = 0;
    while (off < sizeof(expect)) {
        size_t n = step < sizeof(expect) - off ? step : sizeof(expect) - off;
        ASSERT_OK(kith_buf_append(&b, expect + off, n));
        off += n;
        ASSERT_EQ(b.len, off);
        check_invariants(&b);
        assert_memory_equal(b.data, expect, off);
        if (b.cap != last_cap) {
            grew++;
            last_cap = b.cap;
        }
        step = step * 3 % 997 + 1;
    }
    /* Growth is geometric: 100000 bytes take far fewer than one allocation per append. */
    assert_true(grew < 20);
    kith_buf_close(&b);
}

static void
append_zero_bytes(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    /* Appending nothing (even from NULL) still gives a valid, terminated empty string. */
    ASSERT_OK(kith_buf_append(&b, NULL, 0));
    assert_non_null(b.data);
    ASSERT_EQ(b.len, 0);
    check_invariants(&b);
    ASSERT_STREQ((char *) b.data, "");
    ASSERT_OK(kith_buf_puts(&b, ""));
    ASSERT_EQ(b.len, 0);
    kith_buf_close(&b);
}

static void
binary_data_with_nul(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    static const uint8_t bin[] = {0, 1, 0, 0xff, 0};
    ASSERT_OK(kith_buf_append(&b, bin, sizeof(bin)));
    ASSERT_EQ(b.len, sizeof(bin));
    assert_memory_equal(b.data, bin, sizeof(bin));
    check_invariants(&b);
    kith_buf_close(&b);
}

static void
puts_putc(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "hello"));
    ASSERT_OK(kith_buf_putc(&b, ','));
    ASSERT_OK(kith_buf_putc(&b, ' '));
    ASSERT_OK(kith_buf_puts(&b, "w\xc3\xb6rld"));
    ASSERT_STREQ((char *) b.data, "hello, w\xc3\xb6rld");
    ASSERT_EQ(b.len, strlen("hello, w\xc3\xb6rld"));
    check_invariants(&b);
    /* putc of NUL stores it and counts it; the terminator is still after len. */
    ASSERT_OK(kith_buf_putc(&b, '\0'));
    ASSERT_EQ(b.len, 14);
    ASSERT_EQ(b.data[13], '\0');
    check_invariants(&b);
    kith_buf_close(&b);
}

static void
printf_formats(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_printf(&b, "%d-%s-%02x", 42, "x", 0xab));
    ASSERT_STREQ((char *) b.data, "42-x-ab");
    ASSERT_OK(kith_buf_printf(&b, "%s", ""));
    ASSERT_STREQ((char *) b.data, "42-x-ab");
    ASSERT_EQ(b.len, 7);
    ASSERT_OK(kith_buf_printf(&b, "|%lld|", (long long) INT64_MIN));
    ASSERT_STREQ((char *) b.data, "42-x-ab|-9223372036854775808|");
    check_invariants(&b);
    kith_buf_close(&b);
}

/* printf output far larger than the current capacity, and exactly at its edge. */
static void
printf_growth(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    char *big = malloc(70001);
    assert_non_null(big);
    memset(big, 'q', 70000);
    big[70000] = '\0';
    ASSERT_OK(kith_buf_puts(&b, "<"));
    ASSERT_OK(kith_buf_printf(&b, "%s>", big));
    ASSERT_EQ(b.len, 70002);
    ASSERT_EQ(b.data[0], '<');
    ASSERT_EQ(b.data[70001], '>');
    check_invariants(&b);
    kith_buf_close(&b);

    /* Fill up to exactly cap - 1 so the next printf must grow by precisely the text. */
    for (size_t fill = 60; fill < 70; fill++) {
        kith_buf_init(&b);
        memset(big, 'a', fill);
        big[fill] = '\0';
        ASSERT_OK(kith_buf_puts(&b, big));
        ASSERT_OK(kith_buf_printf(&b, "%s", "0123456789"));
        ASSERT_EQ(b.len, fill + 10);
        assert_memory_equal(b.data + fill, "0123456789", 11);
        check_invariants(&b);
        kith_buf_close(&b);
    }
    free(big);
}

static void
reserve(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_reserve(&b, 1000));
    assert_true(b.cap >= 1001);
    ASSERT_EQ(b.len, 0);
    size_t cap = b.cap;
    uint8_t *data = b.data;
    /* Appends within the reservation do not reallocate. */
    for (int i = 0; i < 1000; i++) {
        ASSERT_OK(kith_buf_putc(&b, 'z'));
    }
    ASSERT_EQ(b.cap, cap);
    assert_ptr_equal(b.data, data);
    check_invariants(&b);
    kith_buf_close(&b);
}

static void
limits(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "keep"));
    /* Requests past KITH_BUF_MAX, including ones that would overflow size_t, fail cleanly
     * and leave the buffer as it was. */
    ASSERT_ERR(kith_buf_reserve(&b, KITH_BUF_MAX), KITH_ETOOBIG);
    ASSERT_ERR(kith_buf_reserve(&b, SIZE_MAX), KITH_ETOOBIG);
    ASSERT_ERR(kith_buf_reserve(&b, SIZE_MAX - 2), KITH_ETOOBIG);
    ASSERT_ERR(kith_buf_append(&b, "x", SIZE_MAX), KITH_ETOOBIG);
    ASSERT_EQ(b.len, 4);
    ASSERT_STREQ((char *) b.data, "keep");
    check_invariants(&b);
    kith_buf_close(&b);
}

static void
steal(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_printf(&b, "abc%d", 1));
    char *s = kith_buf_steal(&b);
    assert_non_null(s);
    ASSERT_STREQ(s, "abc1");
    free(s);
    /* The buffer is reset and reusable. */
    assert_null(b.data);
    ASSERT_EQ(b.len, 0);
    ASSERT_EQ(b.cap, 0);
    ASSERT_OK(kith_buf_puts(&b, "again"));
    ASSERT_STREQ((char *) b.data, "again");
    kith_buf_close(&b);

    /* An empty, never-used buffer gives "" rather than NULL. */
    kith_buf_init(&b);
    s = kith_buf_steal(&b);
    assert_non_null(s);
    ASSERT_STREQ(s, "");
    free(s);
    assert_null(b.data);
    kith_buf_close(&b);

    /* A used-then-emptied buffer too. */
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "gone"));
    b.len = 0;
    s = kith_buf_steal(&b);
    ASSERT_STREQ(s, "");
    free(s);
    kith_buf_close(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_and_close),
        cmocka_unit_test(append_and_growth),
        cmocka_unit_test(append_zero_bytes),
        cmocka_unit_test(binary_data_with_nul),
        cmocka_unit_test(puts_putc),
        cmocka_unit_test(printf_formats),
        cmocka_unit_test(printf_growth),
        cmocka_unit_test(reserve),
        cmocka_unit_test(limits),
        cmocka_unit_test(steal),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
