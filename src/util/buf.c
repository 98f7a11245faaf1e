/*
 * Growable byte buffer; see buf.h.
 */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"

void
kith_buf_init(kith_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
kith_buf_close(kith_buf_t *b)
{
    free(b->data);
    kith_buf_init(b);
}

int
kith_buf_reserve(kith_buf_t *b, size_t n)
{
    /* One extra byte always stays free for the terminating NUL. */
    if (n > KITH_BUF_MAX - b->len - 1) {
        return KITH_ETOOBIG;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) {
        return KITH_OK;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL) {
        return KITH_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return KITH_OK;
}

int
kith_buf_append(kith_buf_t *b, const void *p, size_t n)
{
    int rc = kith_buf_reserve(b, n);
    if (rc != KITH_OK) {
        return rc;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return KITH_OK;
}

int
kith_buf_puts(kith_buf_t *b, const char *s)
{
    return kith_buf_append(b, s, strlen(s));
}

int
kith_buf_putc(kith_buf_t *b, char c)
{
    return kith_buf_append(b, &c, 1);
}

int
kith_buf_printf(kith_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return KITH_EINVAL;
    }
    int rc = kith_buf_reserve(b, (size_t) n);
    if (rc != KITH_OK) {
        return rc;
    }
    va_start(ap, fmt);
    vsnprintf((char *) b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
    return KITH_OK;
}

char *
kith_buf_steal(kith_buf_t *b)
{
    if (b->data == NULL && kith_buf_reserve(b, 0) != KITH_OK) {
        return NULL;
    }
    b->data[b->len] = '\0';
    char *s = (char *) b->data;
    kith_buf_init(b);
    return s;
}
