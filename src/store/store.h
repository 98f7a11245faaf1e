/*
 * The store: one SQLite database (WAL mode) holding a node's ops, folded records,
 * audiences, peers and settings. It owns all durable state; nothing else writes it.
 *
 * At rest, every field name and value exists only inside blobs sealed by the vault
 * (XChaCha20-Poly1305): the ops, the folded records and their search text. In the clear
 * are the metadata needed for indexed queries: record ids, owners, kinds, timestamps,
 * audience keys, op hashes/authors/timestamps, a keyed tag of each record's name, and the
 * peer list (docs/THREATS.md says what that reveals). The rows among them that decide who
 * gets what carry MACs, and an op's columns are bound to its sealed blob: a row changed
 * outside kith is refused (KITH_ETAMPER) rather than trusted (proto/STORE.md).
 *
 * Changes: kith_store_begin(), any number of puts, kith_store_commit(); a failure or
 * kith_store_rollback() undoes all of it. Every public write function must be called
 * inside such a transaction.
 *
 * Threading: a kith_store_t is used by one thread at a time.
 */
#ifndef KITH_STORE_H
#define KITH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/vault.h"
#include "model/accept.h"
#include "model/fold.h"
#include "model/op.h"
#include "model/record.h"
#include "util/buf.h"

/* Bumped when the fold changes what it derives from the same ops: 2 is ops version 2
 * (the private layer, list elements, cuts, former members). */
#define KITH_STORE_DERIVED_VERSION 2
#define KITH_STORE_SCHEMA_VERSION  6
#define KITH_PEER_NAME_MAX         64

typedef struct kith_store kith_store_t;

typedef struct {
    char *name;               /* local name for the peer, unique */
    uint8_t key[KITH_PK_LEN]; /* Ed25519 public key */
    char *groups;             /* comma-separated group names, "" for none */
    char *addr;               /* configured HOST:PORT, "" for none */
    int self;                 /* 1: one of this user's own devices */
    uint64_t added_ms;        /* when it was added */
    uint64_t last_seen_ms;    /* 0: never */
    char *last_addr;          /* address it was last seen at, "" for none */
} kith_peer_t;

/* Opens (creating when `create`) the database at path. The vault may be NULL for
 * operations that touch no sealed data (meta, peers). */
int kith_store_open(const char *path, int create, kith_store_t **out, char *errbuf, size_t errcap);
void kith_store_close(kith_store_t *s);
/* Opens the database at path for reading only, for a home this process may not write (a
 * read-only directory, file or mount). Nothing is migrated or rederived: KITH_EREADONLY
 * with a sentence in errbuf if the schema is older than this kith's. On such a store
 * kith_store_begin() returns KITH_EREADONLY, so every write function fails and changes
 * nothing. */
int kith_store_open_read_only(const char *path, kith_store_t **out, char *errbuf, size_t errcap);
/* 1 if s was opened by kith_store_open_read_only(). */
int kith_store_is_read_only(const kith_store_t *s);
/* Gives the store the vault used to seal and unseal blobs (not owned). */
void kith_store_set_vault(kith_store_t *s, kith_vault_t *vault);
/* The schema version on disk (after migrations). */
int kith_store_schema_version(kith_store_t *s);

/* Rebuilds what the store derives from the ops (folded records, their search text,
 * former members) when an older kith derived it: once, when KITH_STORE_DERIVED_VERSION
 * is newer than what the store says it holds. A migration cannot do it, since it needs
 * the vault. Takes its own transaction; KITH_OK at once when nothing is to do. A failure
 * (a store busy for long, or read-only) leaves the old derived data, which still reads,
 * for the next open to redo. */
int kith_store_rederive(kith_store_t *s);

/* What the first open by a kith that authenticates rows did (proto/STORE.md). */
typedef struct {
    int upgraded;     /* 1: the store was authenticated now; 0: it already was */
    uint64_t ops;     /* ops resealed */
    uint64_t damaged; /* ops that could not be read, left as they were */
    uint64_t records; /* records rebuilt from their ops */
} kith_store_upgrade_t;

/* Checks that the store's rows are authenticated (the "auth" marker checks), or, when
 * they are not yet and `allow`, authenticates them: reseals every op so that its row's
 * columns are bound to it, rebuilds the records, audiences and former members from the
 * ops, and vouches for the peers and shares as they stand. KITH_ETAMPER if the marker
 * does not check, if it is missing and !allow (the caller knows the store was
 * authenticated before), or if an op is already sealed the new way. */
int kith_store_auth_upgrade(kith_store_t *s, int allow, kith_store_upgrade_t *out);
/* Where the store stands: its id, the generation of its peers and shares, and its newest
 * op's sequence number. All three only grow; the node keeps them beside the identity to
 * notice a database that went back in time. */
int kith_store_position(kith_store_t *s, uint8_t db_id[static 16], uint64_t *generation,
                        uint64_t *max_seq);

/* Sets SQLite's page cache for this connection (bulk imports use a larger one). */
int kith_store_set_cache_kib(kith_store_t *s, int kib);
/* Folds the write-ahead log back into the database file (on a clean shutdown). */
int kith_store_checkpoint(kith_store_t *s);

/* Starts a write transaction: KITH_EREADONLY on a store opened read-only. */
int kith_store_begin(kith_store_t *s);
int kith_store_commit(kith_store_t *s);
void kith_store_rollback(kith_store_t *s);

/* Small settings: KITH_ENOTFOUND when absent; get appends the value to out. */
int kith_store_meta_get(kith_store_t *s, const char *key, kith_buf_t *out);
int kith_store_meta_set(kith_store_t *s, const char *key, const void *val, size_t len);
/* Removes a setting (nothing if it is absent). */
int kith_store_meta_delete(kith_store_t *s, const char *key);
/* Calls cb(ctx, key, value, len) for every setting whose key starts with prefix, in key
 * order; a non-zero return from cb stops the walk and is returned. */
typedef int (*kith_meta_cb)(void *ctx, const char *key, const uint8_t *value, size_t len);
int kith_store_meta_prefix(kith_store_t *s, const char *prefix, kith_meta_cb cb, void *ctx);
/* Issues the next hybrid-logical-clock timestamp, persisting it (in a transaction). */
int kith_store_hlc_next(kith_store_t *s, uint64_t now_ms, uint64_t *out);

/* Stores a verified signed op (unless already held: *added = 0) and refolds its record.
 * The op's owner must match the record's owner when the record exists (KITH_EAUTH). */
int kith_store_put_op(kith_store_t *s, const uint8_t *signed_op, size_t len, const kith_op_t *op,
                      const uint8_t hash[static KITH_HASH_LEN], int *added);
/* ---- checks ---- */

typedef struct {
    uint64_t ops, records, problems;
} kith_store_check_t;
typedef void (*kith_store_check_cb)(void *ctx, const char *problem);
/* Checks the whole store: SQLite's integrity check, every op decrypts and verifies, every
 * record decrypts and has ops. Each problem is reported through cb (a sentence without
 * any record content). Returns KITH_OK even when problems are found; see out. */
int kith_store_check(kith_store_t *s, kith_store_check_cb cb, void *ctx, kith_store_check_t *out);

/* Puts the store's authentication right (kith doctor --repair), in a transaction of its
 * own: an op whose private mark was flipped gets it back, an op that cannot be read goes,
 * everything derived from the ops is derived again, peers and shares rows kith did not
 * write go, and the peer list and shares as they now stand are vouched for. Each change
 * is reported through cb; *fixed counts them. */
int kith_store_auth_repair(kith_store_t *s, kith_store_check_cb cb, void *ctx, uint64_t *fixed);

/* Rebuilds every record from its ops (kith doctor --repair), inside the caller's
 * transaction. Fails if an op cannot be read: ops are the source of truth. */
int kith_store_refold_all(kith_store_t *s, uint64_t *refolded);

/* ---- sync ---- */

/* The set offered to peer (proto/SYNC.md): (hlc, hash) of the non-private ops of records
 * the peer owns or is in the audience of, and, of each record it was removed from, the
 * owner's op that removed it and the non-private ops older than that op (what it could
 * already have: never an op made after its removal); every op for a self peer. Sorted for
 * reconciliation, with each op's record id in the parallel array *recs; the caller frees
 * both with free(). *max_seq is the newest op sequence number included. */
int kith_store_sync_items(kith_store_t *s, const uint8_t peer[static KITH_PK_LEN], int self_peer,
                          kith_item_t **items, uint8_t (**recs)[KITH_REC_ID_LEN], size_t *n,
                          uint64_t *max_seq);
/* The highest op sequence number (0 for an empty store). Sequence numbers grow with each
 * op stored here, whatever its hlc, so "everything after N" finds new ops to push. */
int kith_store_max_seq(kith_store_t *s, uint64_t *max_seq);
/* Appends the signed op with this hash to out (KITH_ENOTFOUND). */
int kith_store_op_get(kith_store_t *s, const uint8_t hash[static KITH_HASH_LEN], kith_buf_t *out);
typedef int (*kith_seq_op_cb)(void *ctx, const uint8_t *signed_op, size_t len,
                              const uint8_t hash[KITH_HASH_LEN]);
/* Calls cb, in sequence order, for at most `limit` ops offered to peer (as in
 * kith_store_sync_items, except that of a record the peer was removed from only the
 * removing op is pushed) with a sequence number above after_seq; *last_seq gets the last
 * one visited (after_seq if none). */
int kith_store_ops_since(kith_store_t *s, const uint8_t peer[static KITH_PK_LEN], int self_peer,
                         uint64_t after_seq, size_t limit, kith_seq_op_cb cb, void *ctx,
                         uint64_t *last_seq);
/* Every op of record rec offered to peer (as kith_store_ops_since() would offer them), in
 * sequence order: a record whose audience came to include the peer after the peer synced
 * is pushed whole, not from its audience op on. */
int kith_store_record_ops_for(kith_store_t *s, const uint8_t peer[static KITH_PK_LEN],
                              int self_peer, const uint8_t rec[static KITH_REC_ID_LEN],
                              kith_seq_op_cb cb, void *ctx);

typedef struct {
    size_t accepted;  /* new ops stored */
    size_t duplicate; /* already held */
    size_t rejected;  /* refused: bad signature, no authority, not entitled */
} kith_apply_stats_t;
/* Called once per refusal with the op (NULL when it could not be decoded) and why. */
typedef void (*kith_reject_cb)(void *ctx, const kith_op_t *op, const char *why);
/* Applies signed ops received from `sender` (self is this node's key) inside the caller's
 * transaction. Each op must carry a valid signature, be effective (its author the owner or
 * an editor at that time), and be private only if the sender is one of this user's own
 * devices (self_peer). After each record's ops, both the sender and this node must be in
 * the record's audience (or own it), unless the sender is a self peer; otherwise all of
 * that record's new ops are undone. One exception lets this node learn that it was
 * removed: of a record it already held, it takes the owner's op that removed it from the
 * audience, and ops older than that op, but nothing made after it. Refused ops are
 * counted, reported through reject (may be NULL) and leave nothing behind. Returns KITH_OK
 * unless the database fails. */
int kith_store_apply_remote(kith_store_t *s, const uint8_t self[static KITH_PK_LEN],
                            const uint8_t sender[static KITH_PK_LEN], int self_peer,
                            const uint8_t *const *ops, const size_t *lens, size_t n,
                            kith_apply_stats_t *stats, kith_reject_cb reject, void *ctx);

/* As kith_store_apply_remote() for ops handed over in a sealed envelope: the same checks,
 * except that this node need not be in the record's audience (a colleague may hand over
 * a record they may hold but not share). */
int kith_store_apply_envelope(kith_store_t *s, const uint8_t self[static KITH_PK_LEN],
                              const uint8_t sender[static KITH_PK_LEN], const uint8_t *const *ops,
                              const size_t *lens, size_t n, kith_apply_stats_t *stats,
                              kith_reject_cb reject, void *ctx);

/* When member was removed from the audience of record id: *hlc gets the hlc of the
 * owner's op that removed it. KITH_ENOTFOUND if member is in the audience, owns the
 * record, or never was in its audience. A node asks about itself to tell the user that a
 * record is no longer shared with them. */
int kith_store_former_get(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN],
                          const uint8_t member[static KITH_PK_LEN], uint64_t *hlc);

/* The folded record with this id (KITH_ENOTFOUND). */
int kith_store_record_get(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN],
                          kith_record_t *out);
/* Resolves REF: an id prefix of 4+ hex digits or an exact name (case- and diacritic-
 * insensitive). Deleted records are skipped unless with_deleted. KITH_ENOTFOUND;
 * KITH_EAMBIGUOUS with the candidates, one "ID-PREFIX  NAME" per line, appended to
 * candidates (may be NULL). */
int kith_store_resolve(kith_store_t *s, const char *ref, int with_deleted,
                       uint8_t id[static KITH_REC_ID_LEN], kith_buf_t *candidates);

typedef int (*kith_record_cb)(void *ctx, const kith_record_t *r);
/* Calls cb for every record not deleted; a non-zero return from cb stops the walk and is
 * returned. Records that fail to decrypt are skipped and counted (kith_store_skipped). */
int kith_store_foreach_record(kith_store_t *s, kith_record_cb cb, void *ctx);
/* The same for deleted records (tombstones: `kith list --deleted`). */
int kith_store_foreach_deleted(kith_store_t *s, kith_record_cb cb, void *ctx);
/* Calls cb for every non-deleted record whose folded text contains the folded needle. */
int kith_store_search(kith_store_t *s, const char *needle, kith_record_cb cb, void *ctx);
/* Appends to out the folded text that kith_store_search() searches for record r: every
 * value (shared and private), folded with kith_textfold(), one per line (a list's items
 * one per line). The store seals this text beside the record; the daemon's roster
 * (node/roster.h) keeps it in memory. Buffer errors only. */
int kith_store_search_text(const kith_record_t *r, kith_buf_t *out);
/* Records that walks (foreach_record, search) passed over because they failed to
 * decrypt or decode: damage that `kith doctor` reports. */
uint64_t kith_store_skipped(const kith_store_t *s);
/* What changed and when, without opening any record: cb(ctx, id, owner, fold_seq,
 * deleted) for every record (deleted ones too) whose fold_seq is above since, in no
 * particular order. fold_seq grows each time a record is folded again (proto/STORE.md), so
 * it serves as the record's version (CardDAV ETags and sync tokens). A non-zero return
 * from cb stops the walk and is returned. */
typedef int (*kith_version_cb)(void *ctx, const uint8_t id[KITH_REC_ID_LEN],
                               const uint8_t owner[KITH_PK_LEN], uint64_t fold_seq, int deleted);
int kith_store_record_versions(kith_store_t *s, uint64_t since, kith_version_cb cb, void *ctx);
/* The fold_seq and deleted flag of one record (KITH_ENOTFOUND). */
int kith_store_record_version(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN],
                              uint64_t *fold_seq, int *deleted);
/* Calls cb(ctx, id) for every record whose audience includes member. */
typedef int (*kith_id_cb)(void *ctx, const uint8_t id[KITH_REC_ID_LEN]);
int kith_store_audience_recs(kith_store_t *s, const uint8_t member[static KITH_PK_LEN],
                             kith_id_cb cb, void *ctx);
/* Number of records (not deleted). */
int kith_store_count_records(kith_store_t *s, uint64_t *n);

typedef int (*kith_op_cb)(void *ctx, const uint8_t *signed_op, size_t len, const kith_op_t *op,
                          const uint8_t hash[KITH_HASH_LEN]);
/* Calls cb for each op of one record (any order). */
int kith_store_foreach_op(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN], kith_op_cb cb,
                          void *ctx);

/* A record's ops, decoded, with the inputs the fold takes (in[i].op points at ops[i]). */
typedef struct {
    kith_op_t *ops;
    kith_fold_input_t *in;
    size_t n, cap;
} kith_op_list_t;
/* Loads every op of one record (none: n is 0). Free with kith_op_list_close(). */
int kith_store_load_ops(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN],
                        kith_op_list_t *out);
void kith_op_list_close(kith_op_list_t *l);

/* A share target: one peer, by its key, or a group, by name. A peer is kept by key, not
 * by the local name the user gave it: a share follows the node through a rename, and a
 * node that later takes the name of a removed peer inherits nothing. */
typedef struct {
    int is_group;                       /* 1: the group `group`; 0: the peer `key` */
    uint8_t key[KITH_PK_LEN];           /* the peer's Ed25519 key (is_group 0) */
    char group[KITH_PEER_NAME_MAX + 1]; /* the group's name without '@' (is_group 1) */
} kith_share_target_t;

/* 1 if a and b name the same peer or the same group. */
int kith_share_target_eq(const kith_share_target_t *a, const kith_share_target_t *b);

/* Share specifications: what the user asked for (a peer or a group, with a role), kept so
 * that the audience of the owner's records follows group membership: a record shared with
 * @sales stays shared with whoever is in sales. Stored as the peer's key (a blob) or
 * "@group" (text). set replaces the role of an existing spec; KITH_EINVAL for an empty
 * or over-long group name. remove sets *removed to whether a spec was there. */
int kith_store_share_set(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN],
                         const kith_share_target_t *target, int role);
int kith_store_share_remove(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN],
                            const kith_share_target_t *target, int *removed);
/* Removes every share spec that names this peer directly (not its groups); *removed
 * counts them. */
int kith_store_share_remove_peer(kith_store_t *s, const uint8_t key[static KITH_PK_LEN],
                                 size_t *removed);
typedef int (*kith_share_cb)(void *ctx, const uint8_t id[KITH_REC_ID_LEN],
                             const kith_share_target_t *target, int role);
/* Every share spec of one record (id non-NULL) or of all records (id NULL, ordered by
 * record): groups first, by name, then peers, by key. KITH_ECORRUPT for a row that is
 * neither a key nor "@group". */
int kith_store_share_foreach(kith_store_t *s, const uint8_t *id, kith_share_cb cb, void *ctx);
/* The number of records owned by owner, not deleted, whose audience includes member. */
int kith_store_count_shared(kith_store_t *s, const uint8_t owner[static KITH_PK_LEN],
                            const uint8_t member[static KITH_PK_LEN], uint64_t *n);

int kith_store_peer_add(kith_store_t *s, const kith_peer_t *p);
/* KITH_ENOTFOUND if no such peer. Only the peer row goes: its share specs are the
 * caller's (kith_node_peer_remove() removes both). */
int kith_store_peer_remove(kith_store_t *s, const char *name);
/* Changes the name, groups, address and self flag of the peer called name to those of p
 * (its key, times and last address stay). KITH_ENOTFOUND if no such peer, KITH_EEXISTS if
 * another peer already has p->name. */
int kith_store_peer_update(kith_store_t *s, const char *name, const kith_peer_t *p);
int kith_store_peer_get(kith_store_t *s, const char *name, kith_peer_t *out);
int kith_store_peer_get_by_key(kith_store_t *s, const uint8_t key[static KITH_PK_LEN],
                               kith_peer_t *out);
/* Records that the peer was just seen at addr (may be NULL). */
int kith_store_peer_seen(kith_store_t *s, const uint8_t key[static KITH_PK_LEN], uint64_t now_ms,
                         const char *addr);
/* All peers sorted by name; free with kith_peers_free(). */
int kith_store_peer_list(kith_store_t *s, kith_peer_t **out, size_t *n);
void kith_peer_close(kith_peer_t *p);
void kith_peers_free(kith_peer_t *peers, size_t n);
/* 1 if the comma-separated group list contains group. */
int kith_peer_in_group(const kith_peer_t *p, const char *group);

/* The associated data an op row's sealed blob has had since schema version 5: its hash and
 * every plaintext column (proto/STORE.md). For reading a damaged store (doctor --repair). */
#define KITH_STORE_OP_AD_LEN (4 + KITH_HASH_LEN + KITH_REC_ID_LEN + KITH_PK_LEN + 1 + 8)
void kith_store_op_ad(uint8_t ad[static KITH_STORE_OP_AD_LEN],
                      const uint8_t hash[static KITH_HASH_LEN],
                      const uint8_t rec[static KITH_REC_ID_LEN],
                      const uint8_t author[static KITH_PK_LEN], int private, uint64_t hlc);
/* 1 if mac is what this store's key makes of a peers (or shares) row with these values: a
 * row read from a damaged file that the same storage key vouched for. */
int kith_store_peer_mac_ok(kith_store_t *s, const kith_peer_t *p,
                           const uint8_t mac[static KITH_ROW_MAC_LEN]);
int kith_store_share_mac_ok(kith_store_t *s, const uint8_t rec[static KITH_REC_ID_LEN],
                            const kith_share_target_t *target, int role,
                            const uint8_t mac[static KITH_ROW_MAC_LEN]);

/* ---- backups ---- */

/* Copies the database at db_path into a new database at dest_path with SQLite's online
 * backup API, as one consistent snapshot, while other connections (a running daemon)
 * read and write it. The source is opened read-only, so its file is never changed
 * (SQLite may create its -wal and -shm beside it); dest_path must not exist yet and is
 * written without a journal (it is a scratch copy: the caller deletes it). The copy must
 * then pass SQLite's quick_check. KITH_EEXISTS if dest_path exists, KITH_ECORRUPT if the
 * copy is damaged, KITH_ENOSPACE, KITH_EDB; errbuf gets a sentence. */
int kith_store_snapshot(const char *db_path, const char *dest_path, char *errbuf, size_t errcap);

#endif
