/*
 * Hybrid logical clock; see hlc.h.
 */
#include "util/hlc.h"

#include <stdio.h>
#include <time.h>

#include "kith/error.h"

int
kith_hlc_next(uint64_t last, uint64_t now_ms, uint64_t *out)
{
    if (now_ms > KITH_HLC_MS_MAX || last == UINT64_MAX) {
        return KITH_ERANGE;
    }
    uint64_t wall = now_ms << 16;
    *out = wall > last ? wall : last + 1;
    return KITH_OK;
}

uint64_t
kith_hlc_ms(uint64_t hlc)
{
    return hlc >> 16;
}

uint64_t
kith_hlc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

void
kith_hlc_format(uint64_t hlc, char out[static 20])
{
    time_t t = (time_t) (kith_hlc_ms(hlc) / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm) == 0) {
        snprintf(out, 20, "?");
    }
}
