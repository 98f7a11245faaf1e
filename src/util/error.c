/*
 * Error messages for the codes of include/kith/error.h.
 */
#include "kith/error.h"

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
