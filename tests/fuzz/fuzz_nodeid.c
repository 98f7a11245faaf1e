/*
 * Fuzz target for kith_nodeid_decode: arbitrary bytes, as a NUL-terminated copy.
 *
 * Whatever decodes must re-encode to text that decodes to the same key, and the
 * re-encoded text must be the canonical form (63 bytes). Any mismatch aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "util/nodeid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';

    uint8_t pk[32], again[32];
    int rc = kith_nodeid_decode(text, pk);
    if (rc == KITH_OK) {
        char id[KITH_NODEID_BUFSIZE];
        kith_nodeid_encode(pk, id);
        if (strlen(id) != KITH_NODEID_LEN || kith_nodeid_decode(id, again) != KITH_OK ||
            memcmp(pk, again, 32) != 0) {
            abort();
        }
    } else if (rc != KITH_EPARSE && rc != KITH_ECHECKSUM) {
        abort();
    }
    free(text);
    return 0;
}
