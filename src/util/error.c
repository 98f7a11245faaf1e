/*
 * Error messages for the codes of include/kith/error.h.
 */
#include "kith/error.h"

#include <stdarg.h>
#include <stdio.h>

#include "util/errbuf.h"

const char *
kith_strerror(int err)
{
    switch (err) {
    case KITH_OK:
        return "success";
#define KITH_ERROR_CASE(name, msg)                                                                 \
    case KITH_E##name:                                                                             \
        return msg;
        KITH_ERRORS(KITH_ERROR_CASE)
#undef KITH_ERROR_CASE
    default:
        return "unknown error";
    }
}

void
kith__errbuf_set(char *errbuf, size_t errcap, const char *fmt, ...)
{
    if (errbuf == NULL || errcap == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errcap, fmt, ap);
    va_end(ap);
}
