/*
 * Field values; see value.h.
 */
#include "model/value.h"

#include <stdlib.h>
#include <string.h>

#include "kith/error.h"

void
kith_value_clear(kith_value_t *v)
{
    free(v->str);
    for (size_t i = 0; i < v->n_items; i++) {
        free(v->items[i]);
    }
    free(v->items);
    memset(v, 0, sizeof(*v));
}

static char *
dup_bytes(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

int
kith_value_set_str(kith_value_t *v, const char *s, size_t len)
{
    if (len > KITH_VALUE_MAX_LEN) {
        return KITH_ETOOBIG;
    }
    char *p = dup_bytes(s, len);
    if (p == NULL) {
        return KITH_ENOMEM;
    }
    kith_value_clear(v);
    v->type = KITH_V_STR;
    v->str = p;
    return KITH_OK;
}

void
kith_value_set_int(kith_value_t *v, int64_t n)
{
    kith_value_clear(v);
    v->type = KITH_V_INT;
    v->num = n;
}

int
kith_value_list_append(kith_value_t *v, const char *s, size_t len)
{
    if (v->type != KITH_V_LIST) {
        kith_value_clear(v);
        v->type = KITH_V_LIST;
    }
    if (v->n_items >= KITH_VALUE_MAX_ITEMS) {
        return KITH_ETOOBIG;
    }
    if (len > KITH_VALUE_MAX_LEN) {
        return KITH_ETOOBIG;
    }
    char **items = realloc(v->items, (v->n_items + 1) * sizeof(*items));
    if (items == NULL) {
        return KITH_ENOMEM;
    }
    v->items = items;
    char *p = dup_bytes(s, len);
    if (p == NULL) {
        return KITH_ENOMEM;
    }
    v->items[v->n_items++] = p;
    return KITH_OK;
}

int
kith_value_copy(kith_value_t *dst, const kith_value_t *src)
{
    kith_value_t tmp = {0};
    int rc = KITH_OK;
    switch (src->type) {
    case KITH_V_NIL:
        break;
    case KITH_V_STR:
        rc = kith_value_set_str(&tmp, src->str, strlen(src->str));
        break;
    case KITH_V_INT:
        kith_value_set_int(&tmp, src->num);
        break;
    case KITH_V_LIST:
        tmp.type = KITH_V_LIST;
        for (size_t i = 0; i < src->n_items && rc == KITH_OK; i++) {
            rc = kith_value_list_append(&tmp, src->items[i], strlen(src->items[i]));
        }
        break;
    }
    if (rc != KITH_OK) {
        kith_value_clear(&tmp);
        return rc;
    }
    kith_value_clear(dst);
    *dst = tmp;
    return KITH_OK;
}

int
kith_value_equal(const kith_value_t *a, const kith_value_t *b)
{
    if (a->type != b->type) {
        return 0;
    }
    switch (a->type) {
    case KITH_V_NIL:
        return 1;
    case KITH_V_STR:
        return strcmp(a->str, b->str) == 0;
    case KITH_V_INT:
        return a->num == b->num;
    case KITH_V_LIST:
        if (a->n_items != b->n_items) {
            return 0;
        }
        for (size_t i = 0; i < a->n_items; i++) {
            if (strcmp(a->items[i], b->items[i]) != 0) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}
