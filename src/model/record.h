/*
 * A record as the user sees it: the fold of its ops (see fold.h).
 *
 * The store keeps each folded record sealed in the vault, encoded with
 * kith_record_encode() (msgpack, proto/OPS.md "Stored records"), so that reading a record
 * does not mean refolding its history. kith_record_close() frees everything.
 */
#ifndef KITH_RECORD_H
#define KITH_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "model/op.h"
#include "model/value.h"
#include "util/buf.h"

typedef struct {
    char *name;
    kith_value_t value;
    int private; /* 1 if the op that set it was private */
} kith_rfield_t;

typedef struct {
    uint8_t id[KITH_REC_ID_LEN];
    uint8_t owner[KITH_PK_LEN];
    int kind;              /* KITH_KIND_* */
    int deleted;           /* tombstone: the owner deleted it */
    uint64_t created;      /* hlc of the first effective op */
    uint64_t updated;      /* hlc of the last effective op */
    kith_rfield_t *fields; /* sorted by name */
    size_t n_fields;
    kith_aud_t *aud; /* current audience, sorted by key (the owner is implicit) */
    size_t n_aud;
} kith_record_t;

void kith_record_init(kith_record_t *r);
void kith_record_close(kith_record_t *r);
/* The field called name, or NULL. */
const kith_rfield_t *kith_record_field(const kith_record_t *r, const char *name);
/* The record's display name: its "name" field, or "(unnamed)". */
const char *kith_record_name(const kith_record_t *r);
/* The role of key on this record: KITH_ROLE_EDITOR for the owner, the audience role,
 * or 0. */
int kith_record_role(const kith_record_t *r, const uint8_t key[static KITH_PK_LEN]);

int kith_record_encode(const kith_record_t *r, kith_buf_t *out);
/* KITH_ECORRUPT for anything malformed. */
int kith_record_decode(const uint8_t *data, size_t len, kith_record_t *r);

#endif
