/*
 * Repairing a damaged store (kith doctor --repair) by rebuilding it from what can still
 * be read.
 *
 * The ops are the source of truth: every record is a fold of its ops. kith_node_repair()
 * reads what rows it can from the damaged kith.db (src/store/salvage.h), decrypts and
 * verifies each op (signature, and the hash it is stored under), builds a fresh store
 * beside it with the same identity and storage key, puts in the verified ops (which
 * folds every record again), the peers and the share specs that could be read, and
 * swaps it in atomically. The damaged file is kept as kith.db.damaged-YYYYMMDD-HHMMSS
 * (with its -wal, if any). No daemon may be using the home meanwhile.
 */
#ifndef KITH_REPAIR_H
#define KITH_REPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"

typedef struct {
    size_t ops;            /* ops recovered: read, decrypted and verified */
    size_t ops_unreadable; /* ops the damaged file lists but whose rows cannot be read */
    size_t ops_bad;        /* op rows read that do not decrypt or verify */
    size_t records;        /* records rebuilt from recovered ops */
    size_t records_lost;   /* records the file names that no recovered op rebuilds */
    size_t peers;          /* peers recovered */
    size_t shares;         /* share specs recovered */
    size_t rows_dropped;   /* peers and shares rows read that the storage key did not vouch for */
    size_t failed_reads;   /* table ranges whose reading stopped at damage */
    char kept[4200];       /* where the damaged file was kept */
} kith_repair_report_t;

/* Rebuilds the store of the node in dir as above. passphrase unlocks the identity (NULL
 * if it has none). Returns KITH_OK once the rebuilt store is in place (even if much was
 * lost: see rep); otherwise nothing is changed, and errbuf says why: KITH_EPASSPHRASE,
 * KITH_ECORRUPT (nothing readable, or the storage key unreadable or not this identity's),
 * KITH_EIO (a file could not be moved), or a store error. */
int kith_node_repair(const char *dir, const char *passphrase, kith_repair_report_t *rep,
                     char *errbuf, size_t errcap);

#endif
