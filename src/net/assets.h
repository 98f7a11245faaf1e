/*
 * The web page's files, compiled into the binary from ui/ by cmake/embed.cmake, so that
 * the page works with no file on disk and no network.
 */
#ifndef KITH_ASSETS_H
#define KITH_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path; /* "/ui/app.js"; NULL ends the table */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} kith_asset_t;

extern const kith_asset_t kith_assets[];

#endif
