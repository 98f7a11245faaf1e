/*
 * Unit tests: pairing offer datagrams (src/net/pairoffer.h).
 */
#include "check.h"
#include "net/pairoffer.h"

static void
test_round_trip(void **state)
{
    (void) state;
    for (int ch = 1; ch <= 99; ch++) {
        uint8_t d[KITH_PAIROFFER_LEN];
        int c = 0;
        uint16_t p = 0;
        kith_pairoffer_encode(ch, (uint16_t) (1000 + ch), d);
        ASSERT_OK(kith_pairoffer_decode(d, sizeof(d), &c, &p));
        ASSERT_EQ(c, ch);
        ASSERT_EQ(p, 1000 + ch);
    }
}

static void
test_hostile(void **state)
{
    (void) state;
    uint8_t d[KITH_PAIROFFER_LEN + 1];
    int c;
    uint16_t p;
    kith_pairoffer_encode(7, 5484, d);
    for (size_t len = 0; len < KITH_PAIROFFER_LEN; len++) {
        ASSERT_ERR(kith_pairoffer_decode(d, len, &c, &p), KITH_EPARSE);
    }
    ASSERT_ERR(kith_pairoffer_decode(d, KITH_PAIROFFER_LEN + 1, &c, &p), KITH_EPARSE);
    d[0] = 'X';
    ASSERT_ERR(kith_pairoffer_decode(d, KITH_PAIROFFER_LEN, &c, &p), KITH_EPARSE);
    kith_pairoffer_encode(7, 5484, d);
    d[5] = 2;
    ASSERT_ERR(kith_pairoffer_decode(d, KITH_PAIROFFER_LEN, &c, &p), KITH_EVERSION);
    kith_pairoffer_encode(7, 5484, d);
    d[6] = 0;
    ASSERT_ERR(kith_pairoffer_decode(d, KITH_PAIROFFER_LEN, &c, &p), KITH_EPARSE);
    d[6] = 100;
    ASSERT_ERR(kith_pairoffer_decode(d, KITH_PAIROFFER_LEN, &c, &p), KITH_EPARSE);
    kith_pairoffer_encode(7, 0, d);
    ASSERT_ERR(kith_pairoffer_decode(d, KITH_PAIROFFER_LEN, &c, &p), KITH_EPARSE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
