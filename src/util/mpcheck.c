/*
 * Structural msgpack check; see mpcheck.h. Format reference: the msgpack
 * specification (github.com/msgpack/msgpack/blob/master/spec.md).
 */
#include "util/mpcheck.h"

#include "kith/error.h"

static uint64_t
be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Checks one object at *pos; advances *pos past it. */
static int
walk(const uint8_t *d, size_t len, size_t *pos, int depth)
{
    if (depth < 0 || *pos >= len) {
        return KITH_EPARSE;
    }
    uint8_t t = d[(*pos)++];
    size_t left = len - *pos;
    uint64_t n = 0;    /* payload bytes (str/bin) or element count (array/map) */
    int hdr = 0;       /* bytes of length that follow the type byte */
    int container = 0; /* 1 array, 2 map */
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
        return KITH_OK; /* fixint, nil, bool */
    }
    if (t >= 0xa0 && t <= 0xbf) {
        n = t & 0x1f;
    } else if (t >= 0x90 && t <= 0x9f) {
        n = t & 0x0f;
        container = 1;
    } else if (t >= 0x80 && t <= 0x8f) {
        n = t & 0x0f;
        container = 2;
    } else {
        switch (t) {
        case 0xcc:
        case 0xd0:
            n = 1;
            break; /* uint8, int8 */
        case 0xcd:
        case 0xd1:
            n = 2;
            break;
        case 0xce:
        case 0xd2:
            n = 4;
            break;
        case 0xcf:
        case 0xd3:
            n = 8;
            break;
        case 0xd9:
        case 0xc4:
            hdr = 1;
            break; /* str8, bin8 */
        case 0xda:
        case 0xc5:
            hdr = 2;
            break;
        case 0xdb:
        case 0xc6:
            hdr = 4;
            break;
        case 0xdc:
            hdr = 2;
            container = 1;
            break;
        case 0xdd:
            hdr = 4;
            container = 1;
            break;
        case 0xde:
            hdr = 2;
            container = 2;
            break;
        case 0xdf:
            hdr = 4;
            container = 2;
            break;
        default:
            return KITH_EPARSE; /* float, ext, reserved */
        }
        if (hdr != 0) {
            if ((size_t) hdr > left) {
                return KITH_EPARSE;
            }
            n = be(d + *pos, hdr);
            *pos += (size_t) hdr;
            left -= (size_t) hdr;
        }
    }
    if (container == 0) {
        if (n > left) {
            return KITH_EPARSE;
        }
        *pos += (size_t) n;
        return KITH_OK;
    }
    uint64_t elems = container == 2 ? n * 2 : n;
    if (elems > left) {
        return KITH_EPARSE;
    }
    for (uint64_t i = 0; i < elems; i++) {
        int rc = walk(d, len, pos, depth - 1);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    return KITH_OK;
}

int
kith_mpcheck(const uint8_t *data, size_t len, int max_depth)
{
    size_t pos = 0;
    int rc = walk(data, len, &pos, max_depth);
    if (rc != KITH_OK) {
        return rc;
    }
    return pos == len ? KITH_OK : KITH_EPARSE;
}
