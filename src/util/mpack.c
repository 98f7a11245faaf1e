/*
 * msgpack into kith_buf_t; see mpack.h.
 */
#include "util/mpack.h"

#include <string.h>

#include "kith/error.h"

static int
sink_write(void *data, const char *p, size_t n)
{
    kith_mpsink_t *s = data;
    if (s->rc == KITH_OK) {
        s->rc = kith_buf_append(s->buf, p, n);
    }
    return s->rc == KITH_OK ? 0 : -1;
}

void
kith_mpsink_init(kith_mpsink_t *sink, msgpack_packer *pk, kith_buf_t *out)
{
    sink->buf = out;
    sink->rc = KITH_OK;
    msgpack_packer_init(pk, sink, sink_write);
}

void
kith_mp_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void
kith_mp_pack_bin(msgpack_packer *pk, const uint8_t *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}
