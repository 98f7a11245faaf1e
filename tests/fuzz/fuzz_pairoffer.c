/*
 * Fuzz target: pairing offer datagrams. A decoded offer must encode back to the same
 * bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "net/pairoffer.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int channel;
    uint16_t port;
    if (kith_pairoffer_decode(data, size, &channel, &port) == KITH_OK) {
        uint8_t again[KITH_PAIROFFER_LEN];
        kith_pairoffer_encode(channel, port, again);
        if (size != sizeof(again) || memcmp(again, data, size) != 0) {
            abort();
        }
    }
    return 0;
}
