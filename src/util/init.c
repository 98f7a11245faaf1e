/*
 * Library-wide initialisation: libsodium must be started before any key is made.
 */
#include "kith/kith.h"

#include <sodium.h>

#include "kith/error.h"

int
kith_init(void)
{
    return sodium_init() < 0 ? KITH_ECRYPTO : KITH_OK;
}
