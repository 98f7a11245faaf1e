/*
 * Library-wide initialisation: libsodium must be started before any key is made, and
 * libxml2 (used by the WebDAV body parser, src/formats/davxml.c) wants xmlInitParser()
 * called once from the main thread before any thread parses.
 */
#include "kith/kith.h"

#include <libxml/parser.h>
#include <sodium.h>

#include "kith/error.h"

int
kith_init(void)
{
    if (sodium_init() < 0) {
        return KITH_ECRYPTO;
    }
    xmlInitParser(); /* idempotent; never undone with xmlCleanupParser() */
    return KITH_OK;
}
