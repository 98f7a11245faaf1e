/*
 * Unit tests: msgpack into kith_buf_t (src/util/mpack.h).
 */
#include "check.h"
#include "util/mpack.h"

static void
writes_str_and_bin(void **state)
{
    (void) state;
    kith_buf_t out;
    kith_buf_init(&out);
    kith_mpsink_t sink;
    msgpack_packer pk;
    kith_mpsink_init(&sink, &pk, &out);
    msgpack_pack_array(&pk, 2);
    kith_mp_pack_str(&pk, "ab");
    kith_mp_pack_bin(&pk, (const uint8_t *) "\x01\x02", 2);
    ASSERT_OK(sink.rc);
    static const uint8_t want[] = {0x92, 0xa2, 'a', 'b', 0xc4, 0x02, 0x01, 0x02};
    ASSERT_EQ(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    kith_buf_close(&out);
}

static void
first_error_sticks(void **state)
{
    (void) state;
    kith_buf_t out;
    kith_buf_init(&out);
    out.len = KITH_BUF_MAX - 1; /* pretend the buffer is at its limit: nothing more fits */
    kith_mpsink_t sink;
    msgpack_packer pk;
    kith_mpsink_init(&sink, &pk, &out);
    kith_mp_pack_str(&pk, "longer than four bytes");
    ASSERT_ERR(sink.rc, KITH_ETOOBIG);
    msgpack_pack_nil(&pk);
    ASSERT_ERR(sink.rc, KITH_ETOOBIG);
    out.len = 0;
    kith_buf_close(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writes_str_and_bin),
        cmocka_unit_test(first_error_sticks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
