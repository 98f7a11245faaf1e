/*
 * Field values: nil (an unset), a UTF-8 string, an integer, or a list of strings.
 *
 * Every field of a record holds one of these. Lists are ordered and may repeat.
 * A kith_value_t owns its strings; kith_value_clear() frees them and leaves nil.
 */
#ifndef KITH_VALUE_H
#define KITH_VALUE_H

#include <stddef.h>
#include <stdint.h>

#define KITH_VALUE_MAX_ITEMS 256   /* list length */
#define KITH_VALUE_MAX_LEN   16384 /* bytes of one string */

typedef enum {
    KITH_V_NIL = 0,
    KITH_V_STR = 1,
    KITH_V_INT = 2,
    KITH_V_LIST = 3,
} kith_vtype_t;

typedef struct {
    kith_vtype_t type;
    char *str;    /* KITH_V_STR */
    int64_t num;  /* KITH_V_INT */
    char **items; /* KITH_V_LIST */
    size_t n_items;
} kith_value_t;

void kith_value_clear(kith_value_t *v);
int kith_value_set_str(kith_value_t *v, const char *s, size_t len);
void kith_value_set_int(kith_value_t *v, int64_t n);
/* Makes v an empty list if it is not a list yet, then appends a copy of s. */
int kith_value_list_append(kith_value_t *v, const char *s, size_t len);
int kith_value_copy(kith_value_t *dst, const kith_value_t *src);
int kith_value_equal(const kith_value_t *a, const kith_value_t *b);

#endif
