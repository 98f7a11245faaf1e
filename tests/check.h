/*
 * Test helpers shared by the cmocka unit tests.
 *
 * ASSERT_OK prints the kith error message, not just the number, when a call fails.
 */
#ifndef KITH_TEST_CHECK_H
#define KITH_TEST_CHECK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "kith/error.h"

#define ASSERT_OK(expr)                                                                            \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != KITH_OK) {                                                                      \
            print_error("%s failed: %d (%s)\n", #expr, rc_, kith_strerror(rc_));                   \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_ERR(expr, code)                                                                     \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != (code)) {                                                                       \
            print_error("%s returned %d (%s), expected %d (%s)\n", #expr, rc_,                     \
                        kith_strerror(rc_), (code), kith_strerror(code));                          \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ(a, b) assert_int_equal((a), (b))
#define ASSERT_STREQ(a, b) assert_string_equal((a), (b))

#endif
