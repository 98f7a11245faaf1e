/*
 * Tests for the hybrid logical clock (src/util/hlc.c): monotonicity when the wall clock
 * steps back, the counter, the 48-bit limit and formatting.
 */
#include "check.h"

#include "kith/kith.h"
#include "util/hlc.h"

#define HLC(ms, c) (((uint64_t) (ms) << 16) | (uint64_t) (c))

static int
setup(void **state)
{
    (void) state;
    return kith_init() == KITH_OK ? 0 : -1;
}

static void
follows_wall_clock(void **state)
{
    (void) state;
    uint64_t t;
    ASSERT_OK(kith_hlc_next(0, 1000, &t));
    assert_true(t == HLC(1000, 0));
    ASSERT_EQ(kith_hlc_ms(t), 1000);
    /* Wall time moving forward resets the counter. */
    ASSERT_OK(kith_hlc_next(HLC(1000, 17), 1001, &t));
    assert_true(t == HLC(1001, 0));
    ASSERT_OK(kith_hlc_next(HLC(1000, 17), 5000000, &t));
    assert_true(t == HLC(5000000, 0));
}

static void
counter_increments(void **state)
{
    (void) state;
    uint64_t t = 0, prev;
    ASSERT_OK(kith_hlc_next(0, 1700000000000ULL, &t));
    /* Many events within the same millisecond: the counter counts them. */
    for (int i = 1; i <= 1000; i++) {
        prev = t;
        ASSERT_OK(kith_hlc_next(prev, 1700000000000ULL, &t));
        assert_true(t == prev + 1);
        ASSERT_EQ(t & 0xffff, i);
        ASSERT_EQ(kith_hlc_ms(t), 1700000000000ULL);
    }
}

static void
monotonic_when_clock_goes_back(void **state)
{
    (void) state;
    uint64_t t, last = HLC(2000000, 3);
    /* The wall clock steps back a long way: timestamps keep increasing. */
    for (uint64_t now = 1000000; now > 0; now /= 2) {
        ASSERT_OK(kith_hlc_next(last, now, &t));
        assert_true(t > last);
        assert_true(t == last + 1);
        last = t;
    }
    ASSERT_OK(kith_hlc_next(last, 0, &t));
    assert_true(t > last);
    /* A pseudo-random walk of wall times: strictly increasing output throughout. */
    uint64_t now = 1000000, x = 12345;
    last = 0;
    for (int i = 0; i < 100000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        now = now + (x >> 60) - 7; /* -7 .. +8 ms per step */
        ASSERT_OK(kith_hlc_next(last, now, &t));
        assert_true(t > last);
        assert_true(kith_hlc_ms(t) >= now);
        last = t;
    }
}

static void
counter_overflow_carries(void **state)
{
    (void) state;
    uint64_t t;
    /* 65536 events in one millisecond: the counter spills into the milliseconds, which
     * keeps the order (the integers still increase). */
    ASSERT_OK(kith_hlc_next(HLC(1000, 0xffff), 1000, &t));
    assert_true(t == HLC(1001, 0));
    assert_true(t > HLC(1000, 0xffff));
}

static void
range_limits(void **state)
{
    (void) state;
    uint64_t t = 0;
    /* The largest wall time that fits 48 bits is fine. */
    ASSERT_OK(kith_hlc_next(0, KITH_HLC_MS_MAX, &t));
    assert_true(t == HLC(KITH_HLC_MS_MAX, 0));
    ASSERT_EQ(kith_hlc_ms(t), KITH_HLC_MS_MAX);
    /* One more millisecond, and absurd values, are not. */
    ASSERT_ERR(kith_hlc_next(0, KITH_HLC_MS_MAX + 1, &t), KITH_ERANGE);
    ASSERT_ERR(kith_hlc_next(0, UINT64_MAX, &t), KITH_ERANGE);
    ASSERT_ERR(kith_hlc_next(0, (uint64_t) 1 << 63, &t), KITH_ERANGE);
    /* The clock is exhausted when no greater timestamp exists. */
    ASSERT_ERR(kith_hlc_next(UINT64_MAX, 0, &t), KITH_ERANGE);
    ASSERT_ERR(kith_hlc_next(UINT64_MAX, KITH_HLC_MS_MAX, &t), KITH_ERANGE);
    /* The last timestamp before exhaustion is still issued. */
    ASSERT_OK(kith_hlc_next(UINT64_MAX - 1, 0, &t));
    assert_true(t == UINT64_MAX);
}

static void
ms_part(void **state)
{
    (void) state;
    ASSERT_EQ(kith_hlc_ms(0), 0);
    ASSERT_EQ(kith_hlc_ms(0xffff), 0);
    ASSERT_EQ(kith_hlc_ms(0x10000), 1);
    assert_true(kith_hlc_ms(UINT64_MAX) == KITH_HLC_MS_MAX);
}

/* Formats into a guarded buffer and checks nothing is written past 20 bytes. */
static void
format_into(uint64_t hlc, char out[20])
{
    char guard[40];
    memset(guard, 'G', sizeof(guard));
    kith_hlc_format(hlc, guard);
    for (size_t i = 20; i < sizeof(guard); i++) {
        ASSERT_EQ(guard[i], 'G');
    }
    assert_non_null(memchr(guard, '\0', 20));
    memcpy(out, guard, 20);
}

static void
format(void **state)
{
    (void) state;
    char s[20];
    format_into(0, s);
    ASSERT_STREQ(s, "1970-01-01 00:00:00");
    format_into(HLC(1700000000000ULL, 5), s);
    ASSERT_STREQ(s, "2023-11-14 22:13:20");
    /* Milliseconds are truncated, not rounded. */
    format_into(HLC(1700000000999ULL, 0xffff), s);
    ASSERT_STREQ(s, "2023-11-14 22:13:20");
    format_into(HLC(951782400000ULL, 0), s); /* leap day */
    ASSERT_STREQ(s, "2000-02-29 00:00:00");
    format_into(HLC(253402300799000ULL, 0), s);
    ASSERT_STREQ(s, "9999-12-31 23:59:59");
    /* Past year 9999 the text would not fit: something short and terminated instead. */
    format_into(UINT64_MAX, s);
    assert_true(strlen(s) < 20);
    format_into(HLC(253402300800000ULL, 0), s);
    assert_true(strlen(s) < 20);
}

static void
now_is_sane(void **state)
{
    (void) state;
    uint64_t a = kith_hlc_now_ms();
    uint64_t b = kith_hlc_now_ms();
    assert_true(a > 1600000000000ULL); /* after 2020 */
    assert_true(a <= KITH_HLC_MS_MAX);
    assert_true(b >= a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(follows_wall_clock),
        cmocka_unit_test(counter_increments),
        cmocka_unit_test(monotonic_when_clock_goes_back),
        cmocka_unit_test(counter_overflow_carries),
        cmocka_unit_test(range_limits),
        cmocka_unit_test(ms_part),
        cmocka_unit_test(format),
        cmocka_unit_test(now_is_sane),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
