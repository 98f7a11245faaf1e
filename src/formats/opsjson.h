/*
 * The signed ops in kith's JSON export ("kith export json", read back by "kith import
 * json"). The export is a JSON array with one object per record; besides the readable
 * fields (for people and scripts, ignored on import), each object carries
 *
 *     "id":  the record id, 32 hex digits
 *     "ops": the record's signed ops (signature || encoding, proto/OPS.md), each as
 *            standard base64 with padding, in fold order (hlc, author, hash)
 *
 * This module only reads that part: it checks the shape and the bounds below and
 * decodes the base64. Whether an op is well formed, correctly signed and may change
 * the record is for the importer (src/node/jsonio.h), which applies the ops through
 * the store's receiving rules. Parsing is done by jansson; the nesting depth is
 * checked before jansson sees the text (its own limit is 2048 levels).
 */
#ifndef KITH_OPSJSON_H
#define KITH_OPSJSON_H

#include <stddef.h>
#include <stdint.h>

#include "model/op.h"

#define KITH_OPSJSON_MAX_TEXT    ((size_t) 64 << 20) /* bytes of JSON */
#define KITH_OPSJSON_MAX_DEPTH   8                   /* nested arrays and objects */
#define KITH_OPSJSON_MAX_RECORDS 1000000             /* records in one file */
#define KITH_OPSJSON_MAX_REC_OPS 10000               /* ops of one record */
#define KITH_OPSJSON_MAX_OPS     4000000             /* ops in one file */

typedef struct {
    uint8_t id[KITH_REC_ID_LEN]; /* from "id" */
    size_t first_op;             /* index of its first op in the file's ops */
    size_t n_ops;                /* 1 to KITH_OPSJSON_MAX_REC_OPS */
} kith_opsjson_rec_t;

/* A parsed file: kith_opsjson_parse() fills it, kith_opsjson_close() frees it. */
typedef struct {
    kith_opsjson_rec_t *recs; /* in file order */
    size_t n_recs;
    uint8_t **ops; /* every op of every record, record by record */
    size_t *lens;  /* bytes of each op: more than KITH_SIG_LEN, at most KITH_OP_MAX_LEN */
    size_t n_ops;
} kith_opsjson_t;

/*
 * Parses text (len bytes, not necessarily NUL-terminated) into *out.
 * Returns KITH_OK; KITH_ETOOBIG (text, depth, records or ops over the limits above, or
 * an op over KITH_OP_MAX_LEN); KITH_EPARSE (not JSON, duplicate keys, not an array of
 * objects, a record without a valid "id" or a non-empty "ops" array of base64 strings);
 * KITH_ENOMEM. On failure *out is empty and errbuf (may be NULL) says what and where:
 * a line and column for JSON syntax, else the record's 1-based position, its id when
 * known, and the op's 1-based position.
 */
int kith_opsjson_parse(const char *text, size_t len, kith_opsjson_t *out, char *errbuf,
                       size_t errcap);
/* Frees what out holds and leaves it empty; a zeroed or closed one is fine. */
void kith_opsjson_close(kith_opsjson_t *out);

#endif
