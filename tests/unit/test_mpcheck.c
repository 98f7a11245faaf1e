/*
 * Tests for the structural msgpack pre-check (src/util/mpcheck.c): every allowed type
 * accepted, and truncation, huge length claims, depth, forbidden types and trailing
 * bytes rejected.
 */
#include "check.h"

#include <stdlib.h>

#include "kith/kith.h"
#include "util/mpcheck.h"

#define CHECK(bytes, depth) kith_mpcheck((const uint8_t *) (bytes), sizeof(bytes) - 1, (depth))

static int
setup(void **state)
{
    (void) state;
    return kith_init() == KITH_OK ? 0 : -1;
}

typedef struct {
    const char *what;
    const char *bytes;
    size_t len;
} sample_t;

#define S(what, lit)                                                                               \
    {                                                                                              \
        what, lit, sizeof(lit) - 1                                                                 \
    }

/* One valid object of each allowed type and width. */
static const sample_t valid[] = {
    S("positive fixint 0", "\x00"),
    S("positive fixint 127", "\x7f"),
    S("negative fixint -1", "\xff"),
    S("negative fixint -32", "\xe0"),
    S("nil", "\xc0"),
    S("false", "\xc2"),
    S("true", "\xc3"),
    S("uint8", "\xcc\xff"),
    S("uint16", "\xcd\x01\x00"),
    S("uint32", "\xce\x00\x01\x00\x00"),
    S("uint64", "\xcf\x00\x00\x00\x01\x00\x00\x00\x00"),
    S("int8", "\xd0\x80"),
    S("int16", "\xd1\x80\x00"),
    S("int32", "\xd2\x80\x00\x00\x00"),
    S("int64", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00"),
    S("empty fixstr", "\xa0"),
    S("fixstr", "\xa3"
                "abc"),
    S("fixstr 31", "\xbf"
                   "0123456789012345678901234567890"),
    S("str8", "\xd9\x03"
              "abc"),
    S("str8 empty", "\xd9\x00"),
    S("str16", "\xda\x00\x02"
               "hi"),
    S("str32", "\xdb\x00\x00\x00\x01"
               "x"),
    S("bin8", "\xc4\x02\x00\xff"),
    S("bin8 empty", "\xc4\x00"),
    S("bin16", "\xc5\x00\x01\x00"),
    S("bin32", "\xc6\x00\x00\x00\x03"
               "abc"),
    S("empty fixarray", "\x90"),
    S("fixarray", "\x93\x01\xc0\xa1x"),
    S("array16", "\xdc\x00\x02\x01\x02"),
    S("array32", "\xdd\x00\x00\x00\x01\xc3"),
    S("empty fixmap", "\x80"),
    S("fixmap", "\x82\xa1"
                "a\x01\xa1"
                "b\x92\x01\x02"),
    S("map16", "\xde\x00\x01\x01\x02"),
    S("map32", "\xdf\x00\x00\x00\x01\xc0\xc0"),
    S("nested", "\x81\xa3"
                "set\x82\xa4"
                "tags\x92\xa1"
                "a\xa1"
                "b\xa4"
                "note\xc4\x01z"),
};

static void
accepts_every_allowed_type(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        int rc = kith_mpcheck((const uint8_t *) valid[i].bytes, valid[i].len, 4);
        if (rc != KITH_OK) {
            print_error("%s rejected\n", valid[i].what);
        }
        ASSERT_OK(rc);
    }
}

/* A valid object cut short anywhere is rejected (msgpack is prefix-free), and a valid
 * object followed by anything at all is rejected as trailing bytes. */
static void
truncation_and_trailing_bytes(void **state)
{
    (void) state;
    uint8_t buf[64];
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        const uint8_t *b = (const uint8_t *) valid[i].bytes;
        for (size_t n = 0; n < valid[i].len; n++) {
            memcpy(buf, b, n);
            int rc = kith_mpcheck(buf, n, 4);
            if (rc != KITH_EPARSE) {
                print_error("%s cut to %zu bytes accepted\n", valid[i].what, n);
            }
            ASSERT_ERR(rc, KITH_EPARSE);
        }
        memcpy(buf, b, valid[i].len);
        for (unsigned extra = 0; extra < 256; extra += 15) {
            buf[valid[i].len] = (uint8_t) extra;
            ASSERT_ERR(kith_mpcheck(buf, valid[i].len + 1, 4), KITH_EPARSE);
        }
    }
}

/* Every single byte on its own: only the complete one-byte objects are accepted. */
static void
every_single_byte(void **state)
{
    (void) state;
    for (unsigned t = 0; t < 256; t++) {
        uint8_t b = (uint8_t) t;
        int complete = t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3 || t == 0xa0 ||
                       t == 0x90 || t == 0x80;
        ASSERT_EQ(kith_mpcheck(&b, 1, 4), complete ? KITH_OK : KITH_EPARSE);
    }
}

static void
truncated_headers(void **state)
{
    (void) state;
    /* Length fields cut short. */
    ASSERT_ERR(CHECK("\xd9", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xda\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xdb\x00\x00\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xc4", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xc5\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xc6\x00\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xdc\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xdd\x00\x00\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xde", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xdf\x00\x00\x00", 4), KITH_EPARSE);
    /* Integers cut short. */
    ASSERT_ERR(CHECK("\xcc", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xcd\x01", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xce\x01\x02\x03", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xd3\x01\x02\x03\x04\x05\x06\x07", 4), KITH_EPARSE);
}

static void
truncated_bodies(void **state)
{
    (void) state;
    ASSERT_ERR(CHECK("\xa3"
                     "ab",
                     4),
               KITH_EPARSE);
    ASSERT_ERR(CHECK("\xd9\x05"
                     "abcd",
                     4),
               KITH_EPARSE);
    ASSERT_ERR(CHECK("\xda\x01\x00"
                     "abc",
                     4),
               KITH_EPARSE);
    ASSERT_ERR(CHECK("\xdb\x00\x00\x00\x02"
                     "a",
                     4),
               KITH_EPARSE);
    ASSERT_ERR(CHECK("\xc4\x03\x01\x02", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xc6\x00\x00\x01\x00\x01", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\x92\x01", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xdc\x00\x03\x01\x02", 4), KITH_EPARSE);
    /* A map with a key but no value, and one whose value is itself cut short. */
    ASSERT_ERR(CHECK("\x81\x01", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\x81\x01\xa2"
                     "x",
                     4),
               KITH_EPARSE);
    /* Element counts that fit the bytes left, but elements that run past the end. */
    ASSERT_ERR(CHECK("\x92\xa2"
                     "ab\xa2"
                     "c",
                     4),
               KITH_EPARSE);
}

/* Huge length claims are rejected from the header alone, without allocating. */
static void
huge_claims(void **state)
{
    (void) state;
    ASSERT_ERR(CHECK("\xdd\xff\xff\xff\xff", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xdf\xff\xff\xff\xff", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xdb\xff\xff\xff\xff", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xc6\xff\xff\xff\xff", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xdc\xff\xff", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xde\xff\xff", 4), KITH_EPARSE);
    /* A map of n pairs needs 2n bytes: n pairs in n..2n-1 bytes is short. */
    ASSERT_ERR(CHECK("\x83\x01\x02\x03\x04\x05", 4), KITH_EPARSE);
    /* The same claims in a buffer whose tail really is that big still pass when complete:
     * 70000 nils in an array32. */
    size_t n = 70000;
    uint8_t *big = malloc(5 + n);
    assert_non_null(big);
    big[0] = 0xdd;
    big[1] = 0;
    big[2] = (uint8_t) (n >> 16);
    big[3] = (uint8_t) (n >> 8);
    big[4] = (uint8_t) n;
    memset(big + 5, 0xc0, n);
    ASSERT_OK(kith_mpcheck(big, 5 + n, 4));
    ASSERT_ERR(kith_mpcheck(big, 4 + n, 4), KITH_EPARSE);
    free(big);
}

/* k arrays nested around a scalar. */
static size_t
nest(uint8_t *buf, size_t k)
{
    memset(buf, 0x91, k);
    buf[k] = 0x01;
    return k + 1;
}

static void
depth_limit(void **state)
{
    (void) state;
    uint8_t buf[64];
    for (int d = 0; d < 10; d++) {
        for (size_t k = 0; k <= (size_t) d; k++) {
            ASSERT_OK(kith_mpcheck(buf, nest(buf, k), d));
        }
        ASSERT_ERR(kith_mpcheck(buf, nest(buf, (size_t) d + 1), d), KITH_EPARSE);
        ASSERT_ERR(kith_mpcheck(buf, nest(buf, (size_t) d + 5), d), KITH_EPARSE);
    }
    /* Maps count as nesting too. */
    ASSERT_OK(CHECK("\x81\x01\x81\x01\x01", 2));
    ASSERT_ERR(CHECK("\x81\x01\x81\x01\x81\x01\x01", 2), KITH_EPARSE);
    /* A negative limit admits nothing. */
    ASSERT_ERR(CHECK("\x01", -1), KITH_EPARSE);

    /* A million nested arrays are refused early, without deep recursion. */
    size_t n = 1000000;
    uint8_t *deep = malloc(n + 1);
    assert_non_null(deep);
    ASSERT_ERR(kith_mpcheck(deep, nest(deep, n), 4), KITH_EPARSE);
    free(deep);
}

static void
forbidden_types(void **state)
{
    (void) state;
    /* float32, float64 */
    ASSERT_ERR(CHECK("\xca\x00\x00\x00\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xcb\x00\x00\x00\x00\x00\x00\x00\x00", 4), KITH_EPARSE);
    /* fixext 1, 2, 4, 8, 16 */
    ASSERT_ERR(CHECK("\xd4\x01\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xd5\x01\x00\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xd6\x01\x00\x00\x00\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xd7\xff\x00\x00\x00\x00\x00\x00\x00\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xd8\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 4),
               KITH_EPARSE);
    /* ext 8, 16, 32 */
    ASSERT_ERR(CHECK("\xc7\x01\x01\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xc8\x00\x01\x01\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xc9\x00\x00\x00\x01\x01\x00", 4), KITH_EPARSE);
    /* the never-used byte */
    ASSERT_ERR(CHECK("\xc1", 4), KITH_EPARSE);
    /* Forbidden types hidden inside containers. */
    ASSERT_ERR(CHECK("\x92\x01\xca\x00\x00\x00\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\x81\xa1k\xd4\x01\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\x81\xd4\x01\x00\x01", 4), KITH_EPARSE);
}

static void
trailing_and_empty(void **state)
{
    (void) state;
    ASSERT_ERR(kith_mpcheck(NULL, 0, 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\xc0\xc0", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\x01\x00", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\x90\x90", 4), KITH_EPARSE);
    ASSERT_ERR(CHECK("\x81\x01\x02\x03", 4), KITH_EPARSE);
}

/* Random bytes never crash the walk, and an accepted input stays accepted with more
 * depth allowed. */
static void
random_bytes(void **state)
{
    (void) state;
    uint8_t buf[48];
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    long accepted = 0;
    for (int i = 0; i < 200000; i++) {
        size_t n = (size_t) (i % (int) sizeof(buf)) + 1;
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[k] = (uint8_t) x;
        }
        int rc = kith_mpcheck(buf, n, 3);
        assert_true(rc == KITH_OK || rc == KITH_EPARSE);
        if (rc == KITH_OK) {
            accepted++;
            ASSERT_OK(kith_mpcheck(buf, n, 100));
        }
    }
    assert_true(accepted > 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_every_allowed_type),
        cmocka_unit_test(truncation_and_trailing_bytes),
        cmocka_unit_test(every_single_byte),
        cmocka_unit_test(truncated_headers),
        cmocka_unit_test(truncated_bodies),
        cmocka_unit_test(huge_claims),
        cmocka_unit_test(depth_limit),
        cmocka_unit_test(forbidden_types),
        cmocka_unit_test(trailing_and_empty),
        cmocka_unit_test(random_bytes),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
