/*
 * Tests for field values (src/model/value.c): each type, lists, copies, equality and the
 * size limits.
 */
#include "check.h"

#include <stdlib.h>

#include "kith/kith.h"
#include "model/value.h"

static int
setup(void **state)
{
    (void) state;
    return kith_init() == KITH_OK ? 0 : -1;
}

static void
nil_by_default(void **state)
{
    (void) state;
    kith_value_t v = {0};
    ASSERT_EQ(v.type, KITH_V_NIL);
    kith_value_clear(&v);
    ASSERT_EQ(v.type, KITH_V_NIL);
    kith_value_clear(&v); /* twice is fine */
    kith_value_t w = {0};
    assert_true(kith_value_equal(&v, &w));
}

static void
strings(void **state)
{
    (void) state;
    kith_value_t v = {0};
    ASSERT_OK(kith_value_set_str(&v, "hello world", 5));
    ASSERT_EQ(v.type, KITH_V_STR);
    ASSERT_STREQ(v.str, "hello");
    /* Replacing a value frees the old one (ASan would notice a leak). */
    ASSERT_OK(kith_value_set_str(&v,
                                 "\xc3\x98"
                                 "degard",
                                 8));
    ASSERT_STREQ(v.str, "\xc3\x98"
                        "degard");
    ASSERT_OK(kith_value_set_str(&v, "", 0));
    ASSERT_STREQ(v.str, "");
    /* The source need not be NUL-terminated. */
    char raw[3] = {'a', 'b', 'c'};
    ASSERT_OK(kith_value_set_str(&v, raw, 3));
    ASSERT_STREQ(v.str, "abc");
    kith_value_clear(&v);
    ASSERT_EQ(v.type, KITH_V_NIL);
    assert_null(v.str);
}

static void
integers(void **state)
{
    (void) state;
    kith_value_t v = {0};
    kith_value_set_int(&v, -2);
    ASSERT_EQ(v.type, KITH_V_INT);
    assert_true(v.num == -2);
    kith_value_set_int(&v, INT64_MAX);
    assert_true(v.num == INT64_MAX);
    kith_value_set_int(&v, INT64_MIN);
    assert_true(v.num == INT64_MIN);
    /* A string turned into an integer and back frees what it held. */
    ASSERT_OK(kith_value_set_str(&v, "x", 1));
    kith_value_set_int(&v, 3);
    ASSERT_EQ(v.type, KITH_V_INT);
    assert_null(v.str);
    kith_value_clear(&v);
}

static void
lists(void **state)
{
    (void) state;
    kith_value_t v = {0};
    ASSERT_OK(kith_value_list_append(&v, "a@example.com", 13));
    ASSERT_EQ(v.type, KITH_V_LIST);
    ASSERT_EQ(v.n_items, 1);
    ASSERT_OK(kith_value_list_append(&v, "b@example.comXXX", 13));
    /* Lists are ordered and may repeat. */
    ASSERT_OK(kith_value_list_append(&v, "a@example.com", 13));
    ASSERT_EQ(v.n_items, 3);
    ASSERT_STREQ(v.items[0], "a@example.com");
    ASSERT_STREQ(v.items[1], "b@example.com");
    ASSERT_STREQ(v.items[2], "a@example.com");
    kith_value_clear(&v);
    ASSERT_EQ(v.n_items, 0);
    assert_null(v.items);

    /* Appending to a string or an integer turns it into a one-item list. */
    ASSERT_OK(kith_value_set_str(&v, "old", 3));
    ASSERT_OK(kith_value_list_append(&v, "new", 3));
    ASSERT_EQ(v.type, KITH_V_LIST);
    ASSERT_EQ(v.n_items, 1);
    ASSERT_STREQ(v.items[0], "new");
    assert_null(v.str);
    kith_value_set_int(&v, 5);
    ASSERT_OK(kith_value_list_append(&v, "", 0));
    ASSERT_EQ(v.n_items, 1);
    ASSERT_STREQ(v.items[0], "");
    kith_value_clear(&v);
}

static void
limits(void **state)
{
    (void) state;
    char *big = malloc(KITH_VALUE_MAX_LEN + 2);
    assert_non_null(big);
    memset(big, 'x', KITH_VALUE_MAX_LEN + 1);
    big[KITH_VALUE_MAX_LEN + 1] = '\0';
    kith_value_t v = {0};
    /* Exactly the limit is fine; one byte more is not, and leaves the value alone. */
    ASSERT_OK(kith_value_set_str(&v, big, KITH_VALUE_MAX_LEN));
    ASSERT_EQ(strlen(v.str), KITH_VALUE_MAX_LEN);
    ASSERT_OK(kith_value_set_str(&v, "keep", 4));
    ASSERT_ERR(kith_value_set_str(&v, big, KITH_VALUE_MAX_LEN + 1), KITH_ETOOBIG);
    ASSERT_EQ(v.type, KITH_V_STR);
    ASSERT_STREQ(v.str, "keep");
    ASSERT_ERR(kith_value_set_str(&v, big, SIZE_MAX), KITH_ETOOBIG);
    kith_value_clear(&v);

    ASSERT_OK(kith_value_list_append(&v, big, KITH_VALUE_MAX_LEN));
    ASSERT_ERR(kith_value_list_append(&v, big, KITH_VALUE_MAX_LEN + 1), KITH_ETOOBIG);
    ASSERT_EQ(v.n_items, 1);
    kith_value_clear(&v);

    for (int i = 0; i < KITH_VALUE_MAX_ITEMS; i++) {
        ASSERT_OK(kith_value_list_append(&v, "i", 1));
    }
    ASSERT_EQ(v.n_items, KITH_VALUE_MAX_ITEMS);
    ASSERT_ERR(kith_value_list_append(&v, "one too many", 12), KITH_ETOOBIG);
    ASSERT_EQ(v.n_items, KITH_VALUE_MAX_ITEMS);
    kith_value_clear(&v);
    free(big);
}

static void
copy(void **state)
{
    (void) state;
    kith_value_t src = {0}, dst = {0};
    /* nil */
    ASSERT_OK(kith_value_set_str(&dst, "overwritten", 11));
    ASSERT_OK(kith_value_copy(&dst, &src));
    ASSERT_EQ(dst.type, KITH_V_NIL);
    /* string: a deep copy */
    ASSERT_OK(kith_value_set_str(&src, "Ada", 3));
    ASSERT_OK(kith_value_copy(&dst, &src));
    assert_true(kith_value_equal(&src, &dst));
    assert_ptr_not_equal(src.str, dst.str);
    src.str[0] = 'E';
    ASSERT_STREQ(dst.str, "Ada");
    /* integer */
    kith_value_set_int(&src, -7);
    ASSERT_OK(kith_value_copy(&dst, &src));
    assert_true(dst.type == KITH_V_INT && dst.num == -7);
    /* list */
    kith_value_clear(&src);
    ASSERT_OK(kith_value_list_append(&src, "one", 3));
    ASSERT_OK(kith_value_list_append(&src, "two", 3));
    ASSERT_OK(kith_value_copy(&dst, &src));
    assert_true(kith_value_equal(&src, &dst));
    assert_ptr_not_equal(src.items, dst.items);
    assert_ptr_not_equal(src.items[0], dst.items[0]);
    /* Copying a value onto itself leaves it intact. */
    ASSERT_OK(kith_value_copy(&src, &src));
    ASSERT_EQ(src.n_items, 2);
    ASSERT_STREQ(src.items[1], "two");
    kith_value_clear(&src);
    kith_value_clear(&dst);
}

static void
equality(void **state)
{
    (void) state;
    kith_value_t a = {0}, b = {0};
    assert_true(kith_value_equal(&a, &b));
    /* Different types never compare equal, even when they look alike. */
    ASSERT_OK(kith_value_set_str(&a, "5", 1));
    kith_value_set_int(&b, 5);
    assert_false(kith_value_equal(&a, &b));
    ASSERT_OK(kith_value_list_append(&b, "5", 1));
    assert_false(kith_value_equal(&a, &b));
    kith_value_clear(&b);
    assert_false(kith_value_equal(&a, &b));
    ASSERT_OK(kith_value_set_str(&b, "5", 1));
    assert_true(kith_value_equal(&a, &b));
    ASSERT_OK(kith_value_set_str(&b, "6", 1));
    assert_false(kith_value_equal(&a, &b));
    kith_value_set_int(&a, 1);
    kith_value_set_int(&b, 1);
    assert_true(kith_value_equal(&a, &b));
    kith_value_set_int(&b, -1);
    assert_false(kith_value_equal(&a, &b));
    /* Lists: same items in the same order. */
    kith_value_clear(&a);
    kith_value_clear(&b);
    ASSERT_OK(kith_value_list_append(&a, "x", 1));
    ASSERT_OK(kith_value_list_append(&a, "y", 1));
    ASSERT_OK(kith_value_list_append(&b, "x", 1));
    assert_false(kith_value_equal(&a, &b));
    ASSERT_OK(kith_value_list_append(&b, "y", 1));
    assert_true(kith_value_equal(&a, &b));
    kith_value_clear(&b);
    ASSERT_OK(kith_value_list_append(&b, "y", 1));
    ASSERT_OK(kith_value_list_append(&b, "x", 1));
    assert_false(kith_value_equal(&a, &b));
    kith_value_clear(&a);
    kith_value_clear(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nil_by_default), cmocka_unit_test(strings), cmocka_unit_test(integers),
        cmocka_unit_test(lists),          cmocka_unit_test(limits),  cmocka_unit_test(copy),
        cmocka_unit_test(equality),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
