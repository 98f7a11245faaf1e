/*
 * Salvage: reading what can still be read from a damaged store (a truncated file, a
 * corrupted page), for "kith doctor --repair" (src/node/repair.h).
 *
 * SQLite stops a scan at the first page it cannot read, so one bad page would hide every
 * row after it. The salvage instead reads each table in many short key ranges (the ops
 * by the first two bytes of their hash, shares by the first byte of their record id),
 * so a bad page costs only the rows on it; small tables are read forwards and
 * backwards. It also reads the ops' index, which holds every op's hash and record id
 * without their data, to count what was there and could not be read.
 *
 * Nothing is decrypted or verified here (the caller holds the vault), and the damaged
 * file is only read: it is opened with mode=ro.
 */
#ifndef KITH_SALVAGE_H
#define KITH_SALVAGE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct {
    uint8_t hash[KITH_HASH_LEN]; /* the row's key: the op's hash, the AD of its seal */
    uint8_t rec[KITH_REC_ID_LEN];
    uint8_t *sealed; /* the sealed signed op, as stored */
    size_t len;
    uint8_t author[KITH_PK_LEN]; /* the row's other columns: with hash and rec, the */
    int private;                 /* associated data of the seal since schema version 5 */
    uint64_t hlc;
} kith_salvaged_op_t;

typedef struct {
    uint8_t rec[KITH_REC_ID_LEN];
    kith_share_target_t target;
    int role;
    uint8_t mac[KITH_ROW_MAC_LEN]; /* the row's MAC as stored (zeros if none) */
} kith_salvaged_share_t;

typedef struct {
    kith_buf_t storage_key, name, public_key; /* meta values; len 0 when unreadable */
    kith_salvaged_op_t *ops;                  /* readable op rows, unique by hash */
    size_t n_ops;
    uint8_t (*seen_ops)[KITH_HASH_LEN]; /* every op hash seen anywhere (rows and index) */
    size_t n_seen_ops;
    uint8_t (*seen_recs)[KITH_REC_ID_LEN]; /* every record id seen anywhere */
    size_t n_seen_recs;
    kith_peer_t *peers; /* readable peer rows, unique by key */
    size_t n_peers;
    uint8_t (*peer_macs)[KITH_ROW_MAC_LEN]; /* peers[i]'s row MAC as stored (zeros if none) */
    int has_macs; /* the file is of schema version 5 or later: its rows carry MACs */
    kith_salvaged_share_t *shares;
    size_t n_shares;
    uint64_t failed_reads; /* reads of ops, peers, shares or meta that stopped at damage */
} kith_salvage_t;

/* Reads what it can of the store at path into *out (free with kith_salvage_close()).
 * KITH_OK even when much is unreadable; KITH_ECORRUPT (errbuf says why) when the file
 * cannot be opened as a database at all; KITH_ENOMEM. */
int kith_store_salvage(const char *path, kith_salvage_t *out, char *errbuf, size_t errcap);
void kith_salvage_close(kith_salvage_t *s);

#endif
