/*
 * Row MACs; see rowmac.h.
 */
#include "store/rowmac.h"

#include <sodium.h>
#include <string.h>

#include "kith/error.h"

void
kith_rowmac_init(kith_rowmac_t *m)
{
    kith_buf_init(&m->in);
    m->err = KITH_OK;
}

void
kith_rowmac_close(kith_rowmac_t *m)
{
    kith_buf_close(&m->in);
}

static void
put(kith_rowmac_t *m, char type, const void *p, size_t len)
{
    uint8_t head[5] = {(uint8_t) type, (uint8_t) (len >> 24), (uint8_t) (len >> 16),
                       (uint8_t) (len >> 8), (uint8_t) len};
    if (m->err == KITH_OK) {
        m->err = kith_buf_append(&m->in, head, sizeof(head));
    }
    if (m->err == KITH_OK && len > 0) {
        m->err = kith_buf_append(&m->in, p, len);
    }
}

void
kith_rowmac_begin(kith_rowmac_t *m, const char *table)
{
    m->in.len = 0;
    m->err = KITH_OK;
    put(m, 't', "kith-row-v1", 11);
    put(m, 't', table, strlen(table));
}

void
kith_rowmac_blob(kith_rowmac_t *m, const void *p, size_t len)
{
    put(m, 'b', p, len);
}

void
kith_rowmac_text(kith_rowmac_t *m, const char *text)
{
    put(m, 't', text, strlen(text));
}

void
kith_rowmac_int(kith_rowmac_t *m, int64_t v)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t) ((uint64_t) v >> (56 - 8 * i));
    }
    put(m, 'i', be, 8);
}

void
kith_rowmac_column(kith_rowmac_t *m, sqlite3_stmt *st, int col)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER:
        kith_rowmac_int(m, sqlite3_column_int64(st, col));
        break;
    case SQLITE_TEXT:
        put(m, 't', sqlite3_column_text(st, col), (size_t) sqlite3_column_bytes(st, col));
        break;
    case SQLITE_BLOB:
        put(m, 'b', sqlite3_column_blob(st, col), (size_t) sqlite3_column_bytes(st, col));
        break;
    case SQLITE_NULL:
        put(m, 'n', NULL, 0);
        break;
    default: /* a float: never written by kith, so it cannot check */
        put(m, 'f', NULL, 0);
        break;
    }
}

int
kith_rowmac_end(kith_rowmac_t *m, const kith_vault_t *v, uint8_t mac[static KITH_ROW_MAC_LEN])
{
    if (m->err != KITH_OK) {
        return m->err;
    }
    kith_vault_mac(v, m->in.data, m->in.len, mac);
    return KITH_OK;
}

int
kith_rowmac_check(kith_rowmac_t *m, const kith_vault_t *v, const void *mac, size_t mac_len)
{
    uint8_t want[KITH_ROW_MAC_LEN];
    int rc = kith_rowmac_end(m, v, want);
    if (rc != KITH_OK) {
        return rc;
    }
    if (mac == NULL || mac_len != KITH_ROW_MAC_LEN ||
        sodium_memcmp(want, mac, KITH_ROW_MAC_LEN) != 0) {
        return KITH_ETAMPER;
    }
    return KITH_OK;
}
