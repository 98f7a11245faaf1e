/*
 * Fuzz target: UTF-8 decoding. Every call consumes at least one byte and never more than
 * it was given; a decoded code point is a Unicode scalar value.
 */
#include <stdlib.h>

#include "util/utf8.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size;) {
        uint32_t cp;
        size_t k = kith_utf8_next(data + i, size - i, &cp);
        if (k == 0 || k > size - i || k > 4) {
            abort();
        }
        if (cp != KITH_UTF8_INVALID && (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) {
            abort();
        }
        i += k;
    }
    return 0;
}
