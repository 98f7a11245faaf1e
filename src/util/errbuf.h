/*
 * The optional error buffer of functions that explain a failure in a sentence
 * (STYLE.md "Errors": a `char *errbuf` that may be NULL).
 */
#ifndef KITH_ERRBUF_H
#define KITH_ERRBUF_H

#include <stddef.h>

/* Writes the formatted sentence into errbuf (truncated to errcap); nothing when errbuf is
 * NULL or errcap 0. */
void kith__errbuf_set(char *errbuf, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
