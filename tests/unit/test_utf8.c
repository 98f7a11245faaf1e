/*
 * Unit tests: UTF-8 decoding (src/util/utf8.h).
 */
#include "check.h"
#include "util/utf8.h"

static void
expect(const char *s, size_t n, size_t used, uint32_t cp)
{
    uint32_t got = 0;
    size_t k = kith_utf8_next((const uint8_t *) s, n, &got);
    if (k != used || got != cp) {
        print_error("decoding %zu bytes: used %zu (want %zu), cp %x (want %x)\n", n, k, used,
                    (unsigned) got, (unsigned) cp);
        fail();
    }
}

static void
valid(void **state)
{
    (void) state;
    expect("A", 1, 1, 'A');
    expect("\xc3\xb8", 2, 2, 0xf8);
    expect("\xe2\x82\xac", 3, 3, 0x20ac);
    expect("\xf0\x9f\x98\x80", 4, 4, 0x1f600);
    expect("\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff);
    expect("\xc3\xb8xyz", 5, 2, 0xf8); /* stops after one code point */
}

static void
invalid(void **state)
{
    (void) state;
    expect("\x80", 1, 1, KITH_UTF8_INVALID);         /* lone continuation */
    expect("\xc0\xaf", 2, 1, KITH_UTF8_INVALID);     /* overlong lead */
    expect("\xe0\x80\xaf", 3, 1, KITH_UTF8_INVALID); /* overlong */
    expect("\xed\xa0\x80", 3, 1, KITH_UTF8_INVALID); /* surrogate */
    expect("\xf4\x90\x80\x80", 4, 1, KITH_UTF8_INVALID);
    expect("\xf5", 1, 1, KITH_UTF8_INVALID);
    expect("\xe2\x82", 2, 2, KITH_UTF8_INVALID);     /* truncated: maximal subpart */
    expect("\xe2\x28\xa1", 3, 1, KITH_UTF8_INVALID); /* bad continuation */
    expect("\xf0\x9f\x98", 3, 3, KITH_UTF8_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid),
        cmocka_unit_test(invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
