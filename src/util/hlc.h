/*
 * Hybrid logical clock: 48 bits of milliseconds since the Unix epoch, then a 16-bit
 * counter, in one uint64_t. Ordering the integers orders the events.
 *
 * The clock never goes backwards: a new timestamp is greater than every timestamp
 * this node has issued or seen, even if the wall clock steps back. Time is passed in
 * (no module below the CLI reads the clock), so the clock is deterministic in tests.
 */
#ifndef KITH_HLC_H
#define KITH_HLC_H

#include <stdint.h>

#define KITH_HLC_MS_MAX ((UINT64_C(1) << 48) - 1)

/* The next timestamp after `last` at wall time now_ms. KITH_ERANGE if now_ms does not
 * fit 48 bits or the clock is exhausted. */
int kith_hlc_next(uint64_t last, uint64_t now_ms, uint64_t *out);
/* Milliseconds part of a timestamp. */
uint64_t kith_hlc_ms(uint64_t hlc);
/* Wall-clock milliseconds (CLOCK_REALTIME); for the CLI and daemon only. */
uint64_t kith_hlc_now_ms(void);
/* Formats the milliseconds part as "YYYY-MM-DD HH:MM:SS" UTC into out (>= 20 bytes). */
void kith_hlc_format(uint64_t hlc, char out[static 20]);

#endif
