/*
 * Pairing offers; see pairoffer.h and proto/PAIRING.md.
 */
#include "net/pairoffer.h"

#include <string.h>

#include "kith/error.h"
#include "sync/pairing.h"

static const uint8_t magic[5] = {'K', 'P', 'A', 'I', 'R'};

void
kith_pairoffer_encode(int channel, uint16_t port, uint8_t out[static KITH_PAIROFFER_LEN])
{
    memcpy(out, magic, sizeof(magic));
    out[5] = 1;
    out[6] = (uint8_t) channel;
    out[7] = (uint8_t) (port >> 8);
    out[8] = (uint8_t) port;
}

int
kith_pairoffer_decode(const uint8_t *data, size_t len, int *channel, uint16_t *port)
{
    if (len != KITH_PAIROFFER_LEN || memcmp(data, magic, sizeof(magic)) != 0) {
        return KITH_EPARSE;
    }
    if (data[5] != 1) {
        return KITH_EVERSION;
    }
    int ch = data[6];
    uint16_t p = (uint16_t) ((data[7] << 8) | data[8]);
    if (ch < KITH_PAIRING_CHANNEL_MIN || ch > KITH_PAIRING_CHANNEL_MAX || p == 0) {
        return KITH_EPARSE;
    }
    *channel = ch;
    *port = p;
    return KITH_OK;
}
