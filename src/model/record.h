/*
 * A record as the user sees it: the fold of its ops (see fold.h). Its fields come in two
 * layers: the shared record, which every node holding the same ops folds alike, and this
 * user's private layer, folded from private ops that never leave the user's devices.
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
    uint8_t (*ids)[KITH_ELEM_ID_LEN]; /* the element instances showing one list item */
    size_t n_ids;
} kith_elems_t;

typedef struct {
    char *name;
    kith_value_t value;
    int private;         /* 1: this user's private layer; 0: the shared record */
    kith_elems_t *elems; /* list values: one per item (value.n_items); else NULL */
} kith_rfield_t;

/* Someone who was in the record's audience and no longer is. */
typedef struct {
    uint8_t key[KITH_PK_LEN];  /* their Ed25519 key */
    uint8_t op[KITH_HASH_LEN]; /* the owner's op that removed them */
    uint64_t hlc;              /* that op's clock */
} kith_former_t;

typedef struct {
    uint8_t id[KITH_REC_ID_LEN];
    uint8_t owner[KITH_PK_LEN];
    int kind;              /* KITH_KIND_* */
    int deleted;           /* tombstone: the owner deleted it */
    uint64_t created;      /* hlc of the first effective op */
    uint64_t updated;      /* hlc of the last effective op */
    kith_rfield_t *fields; /* sorted by name, then shared before private; a name appears
                              at most once per layer */
    size_t n_fields;
    kith_aud_t *aud; /* current audience, sorted by key (the owner is implicit) */
    size_t n_aud;
    /* Derived by the fold, not kept in the stored form (the store keeps them as rows):
     * former members, and how many times the owner set the audience (one op can only
     * add, so fewer than two means nobody was ever removed). */
    kith_former_t *former;
    size_t n_former;
    size_t aud_changes;
} kith_record_t;

void kith_record_init(kith_record_t *r);
void kith_record_close(kith_record_t *r);
/* The field called name: the shared one if there is one, else the private one, else
 * NULL. */
const kith_rfield_t *kith_record_field(const kith_record_t *r, const char *name);
/* The field called name in one layer (private 0: shared, 1: private), or NULL. */
const kith_rfield_t *kith_record_field_in(const kith_record_t *r, const char *name, int private);
/* Frees a field's contents (not the struct). */
void kith_rfield_clear(kith_rfield_t *f);
/* The record's display name: its "name" field, or "(unnamed)". */
const char *kith_record_name(const kith_record_t *r);
/* The role of key on this record: KITH_ROLE_EDITOR for the owner, the audience role,
 * or 0. */
int kith_record_role(const kith_record_t *r, const uint8_t key[static KITH_PK_LEN]);

int kith_record_encode(const kith_record_t *r, kith_buf_t *out);
/* KITH_ECORRUPT for anything malformed. */
int kith_record_decode(const uint8_t *data, size_t len, kith_record_t *r);

#endif
