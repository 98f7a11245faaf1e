/*
 * Records and their history as people and programs see them: the JSON of `kith show
 * --json`, `kith list --json` and `kith log REF --json`, which the web API serves too
 * (proto/WEB.md), and the pieces the CLI's text output shares with it (who a key is, a
 * record's share specs, whether a record is no longer shared with this node).
 *
 * Everything here reads the store and writes into a caller's kith_json_t; nothing
 * changes the store. JSON errors are sticky in the writer (util/json.h): check
 * kith_json_finish() once.
 */
#ifndef KITH_RECVIEW_H
#define KITH_RECVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "model/op.h"
#include "model/record.h"
#include "node/node.h"
#include "util/json.h"

#define KITH_RECVIEW_LABEL_LEN 80 /* bytes of a key's label, NUL included */

/* Who a key is, for display: "you", a peer's name, or "unknown node FINGERPRINT". Peers
 * are looked up in the store. */
void kith_recview_key_label(kith_node_t *n, const uint8_t key[static KITH_PK_LEN],
                            char out[static KITH_RECVIEW_LABEL_LEN]);

/* 1 if r, another's record, is no longer shared with this node: it was removed from the
 * audience, and *hlc tells when (the removing op's hlc). 0 otherwise. */
int kith_recview_unshared_since(kith_node_t *n, const kith_record_t *r, uint64_t *hlc);

/* JSON of a field's value (relations as {type, target}), and of a clock value as ISO
 * 8601 ("2026-01-02T03:04:05Z"), as the records and histories here write them. */
void kith_recview_json_value(kith_json_t *j, const char *field, const kith_value_t *v);
void kith_recview_json_time(kith_json_t *j, uint64_t hlc);

/* One share spec of a record as its owner gave it. */
typedef struct {
    kith_share_target_t target;
    int role;                           /* KITH_ROLE_* */
    char label[KITH_RECVIEW_LABEL_LEN]; /* "@group", or the peer's label */
} kith_recview_spec_t;

/* A record's share specs, groups first, then peers, each by label; with every peer, so
 * that a group's members can be listed (kith_recview_spec_member()). */
typedef struct {
    kith_node_t *node;
    kith_recview_spec_t *v; /* n specs */
    size_t n;
    kith_peer_t *peers; /* every peer, sorted by name */
    size_t n_peers;
} kith_recview_specs_t;

/* Loads the share specs of r into *out; none (and no peers) for another's record, whose
 * owner keeps them. KITH_OK or KITH_ENOMEM and the store's errors, after which *out is
 * empty. Release with kith_recview_specs_close(). */
int kith_recview_specs_load(kith_node_t *n, const kith_record_t *r, kith_recview_specs_t *out);
void kith_recview_specs_close(kith_recview_specs_t *s);
/* 1 if peer i of s is one of the members group spec reaches (this node never is). */
int kith_recview_spec_member(const kith_recview_specs_t *s, const kith_recview_spec_t *spec,
                             size_t i);

/* A view of one node's records for one command or request: it remembers the labels of the
 * last keys it named (kith_recview_label()), since listing thousands of records names the
 * same few owners and audiences again and again. A peer renamed meanwhile keeps its old
 * label until the view is dropped, so keep one no longer than a command or a request.
 * The caller embeds it; it holds no resources (nothing to close). */
#define KITH_RECVIEW_LABELS 32 /* labels remembered */
typedef struct {
    kith_node_t *node;
    struct {
        uint8_t key[KITH_PK_LEN];
        char label[KITH_RECVIEW_LABEL_LEN];
    } labels[KITH_RECVIEW_LABELS];
    size_t n_labels; /* labels in use */
    size_t next;     /* the one to replace next */
} kith_recview_t;

void kith_recview_init(kith_recview_t *v, kith_node_t *n);
/* kith_recview_key_label() through the view's memory. */
void kith_recview_label(kith_recview_t *v, const uint8_t key[static KITH_PK_LEN],
                        char out[static KITH_RECVIEW_LABEL_LEN]);

#define KITH_RECVIEW_SHARES 1u /* add "shares" */
#define KITH_RECVIEW_OPEN   2u /* leave the object open: the caller adds members and ends it */
#define KITH_RECVIEW_WEB    4u /* add "can_edit" and "mine" */

/* Writes record r as a JSON object into j: id, kind, each field by name, "private_fields",
 * "private", deleted, owner, owner_name, audience, no_longer_shared_since, created,
 * updated, as `kith list --json` prints it. flags (KITH_RECVIEW_*) add "shares" (the
 * owner's share specs, each group with its members; null for another's record, as `kith
 * show --json`), "can_edit" (this node may change the shared record:
 * kith_recview_can_edit()) and "mine" (this node owns it) for the web API, or leave the
 * object open. */
void kith_recview_record(kith_recview_t *v, const kith_record_t *r, unsigned flags, kith_json_t *j);
/* The same through a view of its own: with_shares as KITH_RECVIEW_SHARES. */
void kith_recview_record_json(kith_node_t *n, const kith_record_t *r, int with_shares,
                              kith_json_t *j);
/* The record for the web API (GET /api/records/ID): shares, "can_edit" and "mine". */
void kith_recview_record_json_web(kith_node_t *n, const kith_record_t *r, kith_json_t *j);

/* 1 if this node may change r's shared fields: the owner, or an editor in its audience.
 * kith_node_edit() refuses a shared change otherwise. Private notes are always allowed. */
int kith_recview_can_edit(kith_node_t *n, const kith_record_t *r);

/* Every field name op touches, once each in order: set, add, rm; at most cap of them
 * into names (pointers into op). Returns how many. */
size_t kith_recview_touched_fields(const kith_op_t *op, const char **names, size_t cap);

/* The history walk: called once with the record as its whole history makes it (begin,
 * may be NULL), then once per op in fold order with whether the op took effect and the
 * record just before and just after it, each judged with the whole history in view. A
 * nonzero return from a callback ends the walk and is returned. Callbacks run
 * synchronously; the records are valid only during the call. */
typedef struct {
    int (*begin)(void *ctx, const kith_record_t *rec);
    int (*step)(void *ctx, const kith_op_t *op, int effective, const kith_record_t *before,
                const kith_record_t *after);
} kith_recview_walk_t;

/* Walks record id's history (n + 1 folds of growing prefixes: a record with thousands of
 * ops takes a moment). KITH_OK, the store's and the fold's errors, KITH_ENOMEM, or a
 * callback's return. */
int kith_recview_history_walk(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN],
                              const kith_recview_walk_t *walk, void *ctx);

/* Writes record id's history into j as `kith log REF --json` does: an array with one
 * object per op (time, hlc, author, author_name, effective, private, created, deleted,
 * audience, changes [{field, before, after}]). Returns as kith_recview_history_walk();
 * on error j holds a truncated document the caller discards. */
int kith_recview_history_json(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN],
                              kith_json_t *j);

#endif
