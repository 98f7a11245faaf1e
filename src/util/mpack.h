/*
 * Writing msgpack into a kith_buf_t with msgpack-c's packer.
 *
 *     kith_mpsink_t sink;
 *     msgpack_packer pk;
 *     kith_mpsink_init(&sink, &pk, out);
 *     msgpack_pack_array(&pk, 2); kith_mp_pack_str(&pk, "x"); ...
 *     if (sink.rc != KITH_OK) ...  (the first failure sticks; later writes are dropped)
 */
#ifndef KITH_MPACK_H
#define KITH_MPACK_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct {
    kith_buf_t *buf;
    int rc; /* KITH_OK, or the first append error */
} kith_mpsink_t;

/* Points pk at out through sink. */
void kith_mpsink_init(kith_mpsink_t *sink, msgpack_packer *pk, kith_buf_t *out);
/* A NUL-terminated string as msgpack str. */
void kith_mp_pack_str(msgpack_packer *pk, const char *s);
/* Bytes as msgpack bin. */
void kith_mp_pack_bin(msgpack_packer *pk, const uint8_t *p, size_t n);

#endif
