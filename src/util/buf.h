/*
 * A growable byte buffer, used by every encoder (JSON, vCard, msgpack glue).
 *
 * A kith_buf_t is embedded by its owner: kith_buf_init() then kith_buf_close().
 * The data is always NUL-terminated after len bytes (not counted in len), so text
 * built in a buffer can be used as a C string. Growth is bounded by KITH_BUF_MAX so
 * that no input can make an encoder allocate without limit.
 */
#ifndef KITH_BUF_H
#define KITH_BUF_H

#include <stddef.h>
#include <stdint.h>

#define KITH_BUF_MAX ((size_t) 1 << 30) /* 1 GiB: far above any legitimate document */

typedef struct {
    uint8_t *data; /* NULL until the first append; NUL-terminated after len */
    size_t len;    /* bytes used */
    size_t cap;    /* bytes allocated */
} kith_buf_t;

void kith_buf_init(kith_buf_t *b);
/* Frees the data. Safe on a zeroed or already closed buffer. */
void kith_buf_close(kith_buf_t *b);
/* Makes room for n more bytes. KITH_ENOMEM or KITH_ETOOBIG on failure. */
int kith_buf_reserve(kith_buf_t *b, size_t n);
int kith_buf_append(kith_buf_t *b, const void *p, size_t n);
int kith_buf_puts(kith_buf_t *b, const char *s);
int kith_buf_putc(kith_buf_t *b, char c);
/* printf-style append. */
int kith_buf_printf(kith_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (who frees it with free()) and resets the buffer.
 * Returns an empty string rather than NULL for an empty buffer; NULL only on ENOMEM. */
char *kith_buf_steal(kith_buf_t *b);

#endif
