/*
 * A node's records as signed ops, for "kith export json" and "kith import json".
 *
 * Export: kith_node_record_ops() gives a record's signed ops, exactly as stored, in fold
 * order; the CLI writes them as base64 beside the readable fields (formats/opsjson.h).
 *
 * Import: kith_node_import_ops() applies the ops of a parsed file in one transaction,
 * through the store's receiving rules (kith_store_apply_remote()) as if they came from
 * one of this user's own devices: every op must verify (signature and hash), be well
 * formed and bound to its owner, not come from the future, and be effective (its author
 * the owner, or an editor at that time). Private ops are taken only when this node or
 * one of its own devices (a self peer) made them, so a file from someone else cannot
 * write into this user's private layer. Records that other nodes own are imported like
 * those this node owns: their ops carry their owners' signatures, and the owner stays
 * the owner. One refused op refuses the whole file: nothing is changed.
 */
#ifndef KITH_JSONIO_H
#define KITH_JSONIO_H

#include <stddef.h>
#include <stdint.h>

#include "formats/opsjson.h"
#include "node/node.h"

/* A record's signed ops: ops[i] is signature || encoding, in fold order (hlc, author,
 * hash). n_private counts the private ones among them. */
typedef struct {
    kith_buf_t *ops;
    size_t n;
    size_t n_private;
} kith_signed_ops_t;

/* Fills out with the ops of record id (none: n is 0), private ones only if with_private.
 * Free with kith_signed_ops_close(). KITH_ENOMEM, or the store's errors. */
int kith_node_record_ops(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN], int with_private,
                         kith_signed_ops_t *out);
void kith_signed_ops_close(kith_signed_ops_t *o);

typedef struct {
    size_t records;   /* records in the file */
    size_t ops;       /* ops in the file */
    size_t accepted;  /* ops new to this node, now stored */
    size_t duplicate; /* ops it already held */
} kith_import_stats_t;

/* Applies every op of f in one store transaction (the caller must not hold one).
 * Returns KITH_OK, or on the first refused op KITH_EAUTH (errbuf names the record, the op
 * and why), KITH_EREADONLY, or a store error; on any failure nothing is changed. */
int kith_node_import_ops(kith_node_t *n, const kith_opsjson_t *f, kith_import_stats_t *stats,
                         char *errbuf, size_t errcap);

#endif
