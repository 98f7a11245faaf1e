/*
 * Ops: signed, immutable changes to one record, and the unit of sync.
 *
 * An op is encoded as canonical msgpack (proto/OPS.md): a map whose keys appear in
 * bytewise order, each integer and length in its shortest form, optional keys left out
 * when absent. Canonical means one op has exactly one encoding, so its hash
 * (BLAKE2b-256 of the encoding) identifies it everywhere. The decoder enforces that by
 * re-encoding and comparing.
 *
 * Version 2 adds list element operations (add, rm), a private layer (a private op never
 * touches shared fields) and cuts that stop a demoted editor from backdating ops; version
 * 1 ops still decode and re-encode byte for byte, so their signatures keep verifying.
 *
 * A signed op is the 64-byte Ed25519 signature followed by the encoding. The author
 * signs "kith-op-v1" || hash, which keeps these signatures from ever being valid for
 * another kind of message.
 */
#ifndef KITH_OP_H
#define KITH_OP_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "model/value.h"
#include "util/buf.h"

#define KITH_OP_VERSION   2 /* what this node writes; version 1 ops still decode */
#define KITH_REC_ID_LEN   16
#define KITH_HASH_LEN     32
#define KITH_ELEM_ID_LEN  16    /* a list element instance (kith_op_elem_id) */
#define KITH_CUT_HASH_LEN 16    /* an op named in a cut: its hash's first bytes */
#define KITH_OP_MAX_LEN   60000 /* a signed op must fit one sync frame */
#define KITH_OP_MAX_SET   256   /* fields changed by one op (set, add, rm: each) */
#define KITH_OP_MAX_AUD   256   /* audience members; members in a cut */
#define KITH_OP_MAX_RM    1024  /* element ids removed from one field by one op */
#define KITH_OP_MAX_CUT   2048  /* op hashes in one cut, all members together */

#define KITH_ROLE_READER 1
#define KITH_ROLE_EDITOR 2

typedef struct {
    char *name;         /* field name */
    kith_value_t value; /* set: KITH_V_NIL unsets; add: a KITH_V_LIST of items */
} kith_op_field_t;

typedef struct {
    char *name;                       /* a list field */
    uint8_t (*ids)[KITH_ELEM_ID_LEN]; /* element instances removed, sorted, unique */
    size_t n_ids;
} kith_op_rm_t;

typedef struct {
    uint8_t key[KITH_PK_LEN];             /* a member this op stops from editing */
    uint8_t (*hashes)[KITH_CUT_HASH_LEN]; /* their ops the owner accepted, sorted, unique */
    size_t n_hashes;
} kith_cut_t;

typedef struct {
    uint8_t key[KITH_PK_LEN]; /* member's Ed25519 public key */
    uint8_t role;             /* KITH_ROLE_READER or KITH_ROLE_EDITOR */
} kith_aud_t;

typedef struct {
    int version; /* 1 or 2 (KITH_OP_VERSION); kith_op_init() sets 2 */
    uint8_t rec[KITH_REC_ID_LEN];
    uint8_t owner[KITH_PK_LEN];  /* the record's owner (creator) */
    uint8_t author[KITH_PK_LEN]; /* who made and signed this op */
    uint64_t hlc;
    int kind;             /* -1 absent, else KITH_KIND_* (creation ops carry it) */
    kith_op_field_t *set; /* sorted by name, unique */
    size_t n_set;
    kith_op_field_t *add; /* list items added, sorted by name (version 2) */
    size_t n_add;
    kith_op_rm_t *rm; /* element instances removed, sorted by name (version 2) */
    size_t n_rm;
    int has_aud;     /* 1: aud replaces the record's audience */
    kith_aud_t *aud; /* sorted by key, unique */
    size_t n_aud;
    kith_cut_t *cut; /* with aud: what each demoted editor keeps (version 2) */
    size_t n_cut;
    int del;     /* -1 absent, 0 restore, 1 delete */
    int private; /* 1: the author's private layer; never leaves this node (but for self
                    peers) */
} kith_op_t;

/* Record ids bind their owner: 8 random bytes, then the first 8 bytes of
 * BLAKE2b-256("kith-rec-v1" || owner || those 8 bytes). Nobody else can mint an op that
 * claims a record id for another owner without 2^64 work, so a peer who learns a record
 * id cannot squat it on nodes that have not seen the record yet. */
void kith_op_rec_id_make(const uint8_t owner[static KITH_PK_LEN], const uint8_t nonce[static 8],
                         uint8_t rec[static KITH_REC_ID_LEN]);
/* 1 if rec is bound to owner as above. */
int kith_op_rec_id_check(const uint8_t rec[static KITH_REC_ID_LEN],
                         const uint8_t owner[static KITH_PK_LEN]);

/* An op as set reconciliation sees it (proto/RECONCILE.md): its clock and its hash. */
typedef struct {
    uint64_t ts;               /* the op's hybrid logical clock */
    uint8_t id[KITH_HASH_LEN]; /* the op's BLAKE2b-256 hash */
} kith_item_t;

void kith_op_init(kith_op_t *op);
void kith_op_close(kith_op_t *op);
/* Adds a field change (copies name and value). Keeps set sorted; KITH_EEXISTS if the
 * field is already in this op. */
int kith_op_set_field(kith_op_t *op, const char *name, const kith_value_t *value);
/* Adds an audience member (sets has_aud); a repeated key keeps the higher role. */
int kith_op_add_aud(kith_op_t *op, const uint8_t key[static KITH_PK_LEN], uint8_t role);
/* Adds one item to the list field name (a copy; duplicates within the op are ignored).
 * KITH_EEXISTS if the op already sets or removes that field, KITH_EINVAL if name is not a
 * list field. */
int kith_op_add_item(kith_op_t *op, const char *name, const char *item);
/* Removes one element instance of the list field name; same errors as kith_op_add_item. */
int kith_op_rm_elem(kith_op_t *op, const char *name, const uint8_t id[static KITH_ELEM_ID_LEN]);
/* Records that this (audience) op keeps the demoted member key's op whose hash is given
 * (only the first KITH_CUT_HASH_LEN bytes are kept). A key with no hash at all is added by
 * passing hash NULL. KITH_ETOOBIG beyond the limits. */
int kith_op_cut_add(kith_op_t *op, const uint8_t key[static KITH_PK_LEN], const uint8_t *hash);
/* The id of the list element instance that the op with this hash creates for item in
 * field (proto/OPS.md "Element ids"). */
void kith_op_elem_id(const uint8_t hash[static KITH_HASH_LEN], const char *field, const char *item,
                     uint8_t id[static KITH_ELEM_ID_LEN]);

/* Canonical encoding of op (without signature). */
int kith_op_encode(const kith_op_t *op, kith_buf_t *out);
/* Decodes a canonical encoding; everything is checked (types, sizes, ordering, schema
 * of every value). KITH_EPARSE on anything malformed or non-canonical. */
int kith_op_decode(const uint8_t *data, size_t len, kith_op_t *op);
/* BLAKE2b-256 of an encoding. */
void kith_op_hash(const uint8_t *enc, size_t len, uint8_t hash[static KITH_HASH_LEN]);
/* Encodes and signs op with id (op->author must be id's key): appends sig || encoding to
 * out and returns the hash. */
int kith_op_sign(const kith_op_t *op, const kith_identity_t *id, kith_buf_t *out,
                 uint8_t hash[static KITH_HASH_LEN]);
/* Decodes a signed op and verifies its signature by op->author. KITH_ECRYPTO for a bad
 * signature, KITH_EPARSE for a malformed op. hash may be NULL. */
int kith_op_verify(const uint8_t *signed_op, size_t len, kith_op_t *op, uint8_t *hash);

#endif
