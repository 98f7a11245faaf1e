/*
 * Row MACs: a keyed hash over the plaintext columns of one database row, so that the
 * rows deciding who gets what cannot be added or changed by someone who can write the
 * database but not read the identity (proto/STORE.md, "Authenticated rows").
 *
 * The input is the table's name and then each column, typed and length-prefixed:
 * 'b' blob, 't' text, 'i' integer (8 bytes, big-endian), 'n' NULL, each with a 4-byte
 * big-endian length. The same encoding serves values about to be written (the typed
 * appenders) and values read back (kith_rowmac_column), so a row checks exactly when
 * every column holds what was written, with the type it was written as.
 */
#ifndef KITH_ROWMAC_H
#define KITH_ROWMAC_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/vault.h"
#include "util/buf.h"

typedef struct {
    kith_buf_t in;
    int err; /* the first failure (out of memory), reported by end/check */
} kith_rowmac_t;

void kith_rowmac_init(kith_rowmac_t *m);
void kith_rowmac_close(kith_rowmac_t *m);
/* Starts a new input for a row of table. */
void kith_rowmac_begin(kith_rowmac_t *m, const char *table);
void kith_rowmac_blob(kith_rowmac_t *m, const void *p, size_t len);
void kith_rowmac_text(kith_rowmac_t *m, const char *text);
void kith_rowmac_int(kith_rowmac_t *m, int64_t v);
/* Appends column col of the current row of st, as stored. */
void kith_rowmac_column(kith_rowmac_t *m, sqlite3_stmt *st, int col);
/* The MAC of the input so far. */
int kith_rowmac_end(kith_rowmac_t *m, const kith_vault_t *v, uint8_t mac[static KITH_ROW_MAC_LEN]);
/* KITH_OK if mac (mac_len bytes, may be NULL) is the MAC of the input, in constant time;
 * KITH_ETAMPER if not. */
int kith_rowmac_check(kith_rowmac_t *m, const kith_vault_t *v, const void *mac, size_t mac_len);

#endif
