/*
 * Changing records: the application layer's add, edit, delete and restore, for the CLI
 * and any other front end alike. Each call is one transaction of its own: it reads the
 * record, decides which ops the change needs, signs and stores them, or changes nothing.
 *
 * What a change becomes (proto/OPS.md):
 *  - at most two ops: one for the shared record, one for this user's private layer;
 *  - privacy is sticky: a field with a private value here is changed in the private layer
 *    by set, add and unset alike; only publish moves a value (or one list item) into the
 *    shared record. A removed list item goes from the layer that holds it (a shared item
 *    is removed by a shared change, even beside private items);
 *  - list changes are element operations: add names only the new items, remove only the
 *    instances this node sees, so nothing else of a list is ever copied into an op;
 *  - a shared change on a record this node may not edit (a reader, or no longer in the
 *    audience) is refused before anything is written; private notes are always allowed.
 *
 * Values come in already checked and canonical (kith_schema_parse_item()), with record
 * references as 32 hex digits: resolving what a user typed is the front end's job.
 */
#ifndef KITH_EDIT_H
#define KITH_EDIT_H

#include <stddef.h>
#include <stdint.h>

#include "model/schema.h"
#include "node/node.h"

typedef enum {
    KITH_EDIT_SET,     /* replace the value (for a list: the items form the list) */
    KITH_EDIT_ADD,     /* add list items */
    KITH_EDIT_UNSET,   /* remove the value */
    KITH_EDIT_PRIVATE, /* set in the private layer */
    KITH_EDIT_REMOVE,  /* remove list items */
    KITH_EDIT_PUBLISH, /* private value (or, with items, those list items) -> shared */
} kith_edit_mode_t;

typedef struct {
    const char *field;
    kith_edit_mode_t mode;
    const char *const *items; /* canonical values; none for unset and a whole publish */
    size_t n_items;
} kith_edit_t;

/* What an edit did, for the message to the user. */
typedef struct {
    uint8_t id[KITH_REC_ID_LEN];              /* the record */
    size_t shared;                            /* field changes in the shared op */
    size_t private;                           /* field changes in the private op */
    size_t kept_private;                      /* changes that stayed private (sticky) */
    char first_kept[KITH_FIELD_NAME_MAX + 1]; /* the first of those */
} kith_edit_result_t;

/* Applies the edits to record id. KITH_OK; KITH_EAUTH (a shared change this node may not
 * make), KITH_ENOTFOUND (no such record, or a removed item or published field that is not
 * there), KITH_EEXISTS (one field changed twice), KITH_ETOOBIG (a list or op over its
 * limit), each with a sentence in errbuf (no secret in it: it names fields, not values).
 * Nothing is written unless KITH_OK. result may be NULL. */
int kith_node_edit(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN],
                   const kith_edit_t *edits, size_t n_edits, uint64_t now_ms,
                   kith_edit_result_t *result, char *errbuf, size_t errcap);

/* Internal (node/match.c, a bulk import): kith_node_edit() of the record cur, as read inside
 * the caller's store transaction, which this neither begins nor ends. On error the caller
 * rolls back. */
int kith__node_edit_in_txn(kith_node_t *n, const kith_record_t *cur, const kith_edit_t *edits,
                           size_t n_edits, uint64_t now_ms, kith_edit_result_t *result,
                           char *errbuf, size_t errcap);

/* Internal (node/cardbook.c): creates a record of kind owned by this node with the edits
 * (set and private only), shared with nobody, inside the caller's store transaction; its id
 * goes to result->id. On error the caller rolls back. */
int kith__node_add_in_txn(kith_node_t *n, int kind, const kith_edit_t *edits, size_t n_edits,
                          uint64_t now_ms, kith_edit_result_t *result, char *errbuf, size_t errcap);

/* Creates a record of kind owned by this node with the edits (set and private only), and
 * shares it with targets in role; its id goes to result->id. Same errors as
 * kith_node_edit(). */
int kith_node_add_record(kith_node_t *n, int kind, const kith_edit_t *edits, size_t n_edits,
                         const kith_share_target_t *targets, size_t n_targets, int role,
                         uint64_t now_ms, kith_edit_result_t *result, char *errbuf, size_t errcap);

/* Deletes (del 1) or restores (del 0) a record this node owns: KITH_EAUTH if it does
 * not. A deletion is a tombstone; its history and everyone's private notes stay. */
int kith_node_set_deleted(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN], int del,
                          uint64_t now_ms);

/* Internal (node/merge.c): kith_node_set_deleted() of record id inside the caller's store
 * transaction, which this neither begins nor ends. On error the caller rolls back. */
int kith__node_set_deleted_in_txn(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN], int del,
                                  uint64_t now_ms);

#endif
