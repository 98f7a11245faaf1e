/*
 * A structural pre-check of msgpack bytes, run before msgpack-c ever sees them.
 *
 * msgpack-c allocates room for an array or map as soon as it reads the header, so a
 * 5-byte input claiming 4 billion elements makes it request tens of gigabytes. This
 * walk needs no memory: it checks that the bytes hold exactly one object, that every
 * length fits in what remains (each element takes at least one byte), that nesting
 * stays within max_depth, and that only the types kith's formats use appear (nil,
 * bool, integers, str, bin, array, map; no floats, no ext).
 */
#ifndef KITH_MPCHECK_H
#define KITH_MPCHECK_H

#include <stddef.h>
#include <stdint.h>

/* KITH_OK, or KITH_EPARSE with nothing allocated. */
int kith_mpcheck(const uint8_t *data, size_t len, int max_depth);

#endif
