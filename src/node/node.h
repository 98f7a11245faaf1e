/*
 * A node: one home directory holding an identity (identity.key) and a store (kith.db),
 * opened together. This is the entry point the CLI and the daemon use.
 *
 * Home layout (directory 0700, files 0600):
 *   identity.key   the Ed25519 identity, optionally wrapped with Argon2id (keyfile.h)
 *   kith.db        the SQLite store (+ -wal and -shm while open)
 *   kith.state     where the store stood when kith last wrote it (state.h)
 *
 * Local changes: the caller builds an op (record id, fields, audience...), and
 * kith_node_apply_local() stamps it with this node as author and the next clock value,
 * signs it and stores it. Callers wrap one user action in one store transaction.
 */
#ifndef KITH_NODE_H
#define KITH_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "crypto/vault.h"
#include "model/op.h"
#include "node/state.h"
#include "store/store.h"
#include "util/buf.h"

#define KITH_KEY_FILE "identity.key"
#define KITH_DB_FILE  "kith.db"
#define KITH_NAME_MAX 64

typedef struct {
    char *dir;  /* home directory */
    char *name; /* this node's name ("" if none was given) */
    kith_identity_t *id;
    kith_vault_t *vault;
    kith_store_t *store;
    /* The store's authentication (proto/STORE.md): KITH_OK, or why it cannot be trusted
     * (KITH_ETAMPER, KITH_EROLLBACK), with a sentence for the user. Only a node opened
     * with KITH_OPEN_UNCHECKED can be open with a problem. */
    int trust;
    char trust_msg[512];
    kith_store_upgrade_t upgrade; /* what this open did to authenticate an older store */
    kith_state_t state;           /* as last read from or written to kith.state */
    int state_known;
} kith_node_t;

/* kith_node_open_flags(): open a store whose authentication fails, so that `kith doctor`
 * can say what is wrong and repair it. Nothing else may use such a node. */
#define KITH_OPEN_UNCHECKED 1

/* The home directory: opt if given, else $KITH_HOME, else $XDG_DATA_HOME/kith, else
 * $HOME/.local/share/kith. Appended to out. KITH_EINVAL if none can be found. */
int kith_home_resolve(const char *opt, kith_buf_t *out);
/* Creates a new node in dir (creating dir, mode 0700). KITH_EEXISTS if dir already holds
 * an identity or a store. passphrase may be NULL. */
int kith_node_create(const char *dir, const char *name, const char *passphrase, char *errbuf,
                     size_t errcap);
/* As kith_node_create(), with the identity in keyfile (the contents of an identity.key,
 * keyfile_len bytes, kept as it is) instead of a new one: a node restored from a backup of
 * its key, with an empty store. passphrase unlocks a sealed key file (KITH_EPASSPHRASE if
 * it is missing or wrong); other decoding failures are returned as they are. */
int kith_node_create_from_key(const char *dir, const char *name, const uint8_t *keyfile,
                              size_t keyfile_len, const char *passphrase, char *errbuf,
                              size_t errcap);
/* 1 if the identity in dir needs a passphrase, 0 if not, < 0 on error (KITH_ENOTFOUND when
 * dir holds no node). */
int kith_node_needs_passphrase(const char *dir);
/* The node's public key, readable without a passphrase. */
int kith_node_public_key(const char *dir, uint8_t pk[static KITH_PK_LEN], char *errbuf,
                         size_t errcap);
/* 1 if this process may not write the home dir or its store (permissions, or a read-only
 * mount), 0 otherwise. kith_node_open() then opens the store read-only: reading works,
 * and every write fails with KITH_EREADONLY (see kith_store_open_read_only()). */
int kith_node_home_read_only(const char *dir);
/* Opens the node in dir. KITH_ENOTFOUND: no node there; KITH_EPASSPHRASE: a passphrase
 * is needed or wrong. errbuf gets a sentence for the user. */
int kith_node_open(const char *dir, const char *passphrase, kith_node_t **out, char *errbuf,
                   size_t errcap);
int kith_node_open_flags(const char *dir, const char *passphrase, int flags, kith_node_t **out,
                         char *errbuf, size_t errcap);
/* Writes kith.state (the store's position now) when it moved; kith_node_close() does it
 * too. A long-running process (the daemon) calls it from time to time. */
int kith_node_save_state(kith_node_t *n);
/* Accepts the store as it stands (kith doctor --repair, after telling the user): writes
 * kith.state from it, whatever the old one said. */
int kith_node_accept_state(kith_node_t *n);
void kith_node_close(kith_node_t *n);
/* Internal (node/backup.c): mkdir -p, mode 0700 for the directories it creates. */
int kith__node_make_dirs(const char *dir);
/* Internal (kith doctor --repair): the identity in dir, without opening the store. The
 * caller frees it with kith_identity_free(). Errors as kith_node_open(). */
int kith__node_load_identity(const char *dir, const char *passphrase, kith_identity_t **out,
                             char *errbuf, size_t errcap);

/* Fills a fresh record id, owned by this node (see kith_op_rec_id_make()). */
void kith_node_new_record_id(kith_node_t *n, uint8_t id[static KITH_REC_ID_LEN]);
/* Stamps op (author = this node, hlc = next clock value at now_ms), signs and stores it.
 * The caller must hold a store transaction. *hash_out may be NULL. */
int kith_node_apply_local(kith_node_t *n, kith_op_t *op, uint64_t now_ms, uint8_t *hash_out);
/* kith_node_apply_local() for many ops at once: stamps them in order, signs them on
 * several threads (signing is most of the cost of a bulk import), then stores them in
 * order. The caller holds a store transaction. */
int kith_node_apply_local_batch(kith_node_t *n, kith_op_t *const *ops, size_t count,
                                uint64_t now_ms);
/* Turns a share target as the user writes it into a stored one: "@group" is the group
 * (KITH_EINVAL for "@" alone, a name over KITH_PEER_NAME_MAX or one with a comma); anything
 * else is a peer's name, resolved to its key now (KITH_ENOTFOUND if there is no such peer). */
int kith_node_share_target(kith_node_t *n, const char *text, kith_share_target_t *out);
/* Recomputes the audience of a record this node owns from its share specs (peers by key,
 * groups by their current members; this node's own key never enters) and, if it changed,
 * applies an owner op that sets it. *changed (may be NULL) tells whether an op was made.
 * KITH_EAUTH for a record this node does not own. */
int kith_node_update_audience(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN],
                              uint64_t now_ms, int *changed);
/* Gives op, the creation op of a new record, the audience that the share targets (all in
 * role) resolve to, exactly as kith_node_update_audience() would once they are stored. A
 * bulk import then needs one op per shared record instead of two, which halves what it
 * signs and stores and what a peer verifies and stores. The caller still stores the share
 * specs. Leaves op without an audience if none resolve. */
int kith_node_audience_from_targets(kith_node_t *n, kith_op_t *op,
                                    const kith_share_target_t *targets, size_t n_targets, int role);
/* Runs kith_node_update_audience() for every owned record with a share spec naming
 * target, or for all records with a spec when target is NULL. */
int kith_node_refresh_audiences(kith_node_t *n, const kith_share_target_t *target, uint64_t now_ms);

/* Peer changes that can change audiences. Each refreshes the records it affects, so that a
 * record shared with a group is always shared with the group's current members. The caller
 * holds a store transaction, and pokes a running daemon afterwards.
 *
 * kith_node_peer_add: adds p (KITH_EEXISTS for a name or key already there); records
 * shared with one of its groups now include it.
 * kith_node_peer_edit: gives the peer called name p's name, groups, address and self flag
 * (KITH_ENOTFOUND, KITH_EEXISTS as kith_store_peer_update()); records shared with a group
 * it joined or left are updated. A rename changes no audience: shares hold the key.
 * kith_node_peer_remove: removes the peer and every share spec naming it, and takes it
 * out of every audience it was in; *unshared (may be NULL) counts those records.
 * KITH_ENOTFOUND if there is no such peer. */
int kith_node_peer_add(kith_node_t *n, const kith_peer_t *p, uint64_t now_ms);
int kith_node_peer_edit(kith_node_t *n, const char *name, const kith_peer_t *p, uint64_t now_ms);
int kith_node_peer_remove(kith_node_t *n, const char *name, uint64_t now_ms, size_t *unshared);
/* A local name for a new peer from the one wanted (the name a colleague gave when pairing):
 * letters, digits, '.', '_' and '-' kept, runs of anything else as one '-', at most 48
 * bytes, "peer" if nothing is left; "-2", "-3"... added while the name is taken. */
void kith_node_peer_name_free(kith_node_t *n, const char *wanted, char out[static 65]);
/* The name this node gives itself when pairing: its own name, else "kith-" and the start
 * of its fingerprint. */
void kith_node_pairing_name(kith_node_t *n, char out[static 65]);

#endif
