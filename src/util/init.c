/*
 * Library-wide initialisation: libsodium must be started before any key is made, and
 * libxml2 (used by the WebDAV body parser, src/formats/davxml.c) wants xmlInitParser()
 * called once from the main thread before any thread parses. SQLite's allocation
 * statistics are turned off before SQLite starts: kith never reads them, and keeping them
 * takes a global mutex on every SQLite allocation (docs/PERF.md, item 3).
 */
#include "kith/kith.h"

#include <libxml/parser.h>
#include <sodium.h>
#include <sqlite3.h>

#include "kith/error.h"

int
kith_init(void)
{
    if (sodium_init() < 0) {
        return KITH_ECRYPTO;
    }
    xmlInitParser(); /* idempotent; never undone with xmlCleanupParser() */
    /* Only possible before SQLite initialises; a second kith_init() gets SQLITE_MISUSE,
     * which changes nothing. */
    (void) sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return KITH_OK;
}
