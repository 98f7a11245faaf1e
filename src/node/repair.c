/*
 * Rebuilding a damaged store from what can be read; see repair.h.
 */
#include "node/repair.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kith/error.h"
#include "store/salvage.h"
#include "util/errbuf.h"

/* Removes path and its -wal and -shm, if there. */
static void
unlink_db(const char *path)
{
    char side[4400];
    unlink(path);
    if (snprintf(side, sizeof(side), "%s-wal", path) < (int) sizeof(side)) {
        unlink(side);
    }
    if (snprintf(side, sizeof(side), "%s-shm", path) < (int) sizeof(side)) {
        unlink(side);
    }
}

static int
cmp_rec(const void *a, const void *b)
{
    return memcmp(a, b, KITH_REC_ID_LEN);
}

/* Fills the new store: meta, verified ops (each folded in as it is put), peers, shares. */
static int
fill(kith_store_t *st, kith_vault_t *vault, const kith_identity_t *id, const kith_salvage_t *sv,
     kith_repair_report_t *rep)
{
    kith_buf_t pt;
    kith_buf_init(&pt);
    char version = '0' + KITH_STORE_DERIVED_VERSION;
    int rc = kith_store_begin(st);
    if (rc == KITH_OK) {
        rc = kith_store_meta_set(st, "storage_key", sv->storage_key.data, sv->storage_key.len);
    }
    if (rc == KITH_OK) {
        rc = kith_store_meta_set(st, "name", sv->name.data, sv->name.len);
    }
    if (rc == KITH_OK) {
        rc = kith_store_meta_set(st, "public_key", id->pk, KITH_PK_LEN);
    }
    if (rc == KITH_OK) {
        /* The ops are folded as they are put: nothing to rederive on the next open. */
        rc = kith_store_meta_set(st, "derived_version", &version, 1);
    }
    uint8_t(*recs)[KITH_REC_ID_LEN] = calloc(sv->n_ops ? sv->n_ops : 1, KITH_REC_ID_LEN);
    size_t n_recs = 0;
    if (recs == NULL) {
        rc = KITH_ENOMEM;
    }
    for (size_t i = 0; rc == KITH_OK && i < sv->n_ops; i++) {
        const kith_salvaged_op_t *o = &sv->ops[i];
        kith_op_t op;
        uint8_t hash[KITH_HASH_LEN];
        int added = 0;
        pt.len = 0;
        /* Sealed with its row's columns as associated data (schema 5 on), or with its
         * hash alone (a store no kith since then has opened). */
        uint8_t ad[KITH_STORE_OP_AD_LEN];
        kith_store_op_ad(ad, o->hash, o->rec, o->author, o->private, o->hlc);
        int sealed_ok = kith_vault_unseal(vault, ad, sizeof(ad), o->sealed, o->len, &pt) == KITH_OK;
        if (!sealed_ok) {
            pt.len = 0;
            sealed_ok =
                kith_vault_unseal(vault, o->hash, KITH_HASH_LEN, o->sealed, o->len, &pt) == KITH_OK;
        }
        if (!sealed_ok || kith_op_verify(pt.data, pt.len, &op, hash) != KITH_OK) {
            rep->ops_bad++;
            continue;
        }
        if (crypto_verify_32(hash, o->hash) != 0 || memcmp(op.rec, o->rec, KITH_REC_ID_LEN) != 0) {
            kith_op_close(&op);
            rep->ops_bad++;
            continue;
        }
        rc = kith_store_put_op(st, pt.data, pt.len, &op, hash, &added);
        if (rc == KITH_EAUTH) {
            rc = KITH_OK; /* names another owner than the record's first op: not authentic */
            rep->ops_bad++;
        } else if (rc == KITH_OK) {
            rep->ops++;
            memcpy(recs[n_recs++], op.rec, KITH_REC_ID_LEN);
        }
        kith_op_close(&op);
    }
    /* Peers and shares are not derived from anything: only rows the same storage key
     * vouched for come over (all of them from a file older than row MACs, as the first
     * open of such a store takes them). */
    for (size_t i = 0; rc == KITH_OK && i < sv->n_peers; i++) {
        if (sv->has_macs && !kith_store_peer_mac_ok(st, &sv->peers[i], sv->peer_macs[i])) {
            rep->rows_dropped++;
            continue;
        }
        int prc = kith_store_peer_add(st, &sv->peers[i]);
        rep->peers += prc == KITH_OK;
        rc = prc == KITH_EEXISTS ? KITH_OK : prc;
    }
    for (size_t i = 0; rc == KITH_OK && i < sv->n_shares; i++) {
        if (sv->has_macs && !kith_store_share_mac_ok(st, sv->shares[i].rec, &sv->shares[i].target,
                                                     sv->shares[i].role, sv->shares[i].mac)) {
            rep->rows_dropped++;
            continue;
        }
        rc = kith_store_share_set(st, sv->shares[i].rec, &sv->shares[i].target, sv->shares[i].role);
        rep->shares += rc == KITH_OK;
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(st);
    } else {
        kith_store_rollback(st);
    }
    /* Records rebuilt, and records the damaged file names that none of them is: both
     * lists sorted, then merged. */
    if (rc == KITH_OK && n_recs > 0) {
        qsort(recs, n_recs, KITH_REC_ID_LEN, cmp_rec);
        size_t w = 1;
        for (size_t i = 1; i < n_recs; i++) {
            if (memcmp(recs[w - 1], recs[i], KITH_REC_ID_LEN) != 0) {
                memmove(recs[w++], recs[i], KITH_REC_ID_LEN);
            }
        }
        n_recs = w;
    }
    if (rc == KITH_OK) {
        rep->records = n_recs;
        for (size_t i = 0, k = 0; i < sv->n_seen_recs; i++) {
            while (k < n_recs && memcmp(recs[k], sv->seen_recs[i], KITH_REC_ID_LEN) < 0) {
                k++;
            }
            rep->records_lost +=
                !(k < n_recs && memcmp(recs[k], sv->seen_recs[i], KITH_REC_ID_LEN) == 0);
        }
    }
    free(recs);
    if (pt.data != NULL) {
        sodium_memzero(pt.data, pt.cap);
    }
    kith_buf_close(&pt);
    return rc;
}

/* Puts the rebuilt store at db, keeping the damaged one (and its -wal) under kept.
 * kith.db is replaced by one rename, so it is never missing. */
static int
swap_in(const char *db, const char *rebuilt, char *kept, size_t kept_cap, char *errbuf,
        size_t errcap)
{
    char stamp[32], side[4400], side_kept[4500];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    if (snprintf(kept, kept_cap, "%s.damaged-%s", db, stamp) >= (int) kept_cap ||
        link(db, kept) != 0) {
        kith__errbuf_set(errbuf, errcap, "cannot keep the damaged %s as %s: %s", db, kept,
                         strerror(errno));
        return KITH_EIO;
    }
    /* The old -wal belongs to the damaged file: kept beside it (unless empty), never
     * applied to the new one. The -shm is only an index of it. */
    struct stat wst;
    if (snprintf(side, sizeof(side), "%s-wal", db) < (int) sizeof(side) && stat(side, &wst) == 0 &&
        wst.st_size == 0) {
        unlink(side);
    }
    if (snprintf(side, sizeof(side), "%s-wal", db) >= (int) sizeof(side) ||
        snprintf(side_kept, sizeof(side_kept), "%s-wal", kept) >= (int) sizeof(side_kept) ||
        (rename(side, side_kept) != 0 && errno != ENOENT)) {
        kith__errbuf_set(errbuf, errcap, "cannot move %s aside: %s", side, strerror(errno));
        unlink(kept);
        return KITH_EIO;
    }
    if (snprintf(side, sizeof(side), "%s-shm", db) < (int) sizeof(side)) {
        unlink(side);
    }
    if (rename(rebuilt, db) != 0) {
        kith__errbuf_set(errbuf, errcap, "cannot put the rebuilt store in place: %s",
                         strerror(errno));
        return KITH_EIO;
    }
    return KITH_OK;
}

int
kith_node_repair(const char *dir, const char *passphrase, kith_repair_report_t *rep, char *errbuf,
                 size_t errcap)
{
    memset(rep, 0, sizeof(*rep));
    kith_identity_t *id = NULL;
    kith_vault_t *vault = NULL;
    kith_store_t *st = NULL;
    kith_salvage_t sv;
    memset(&sv, 0, sizeof(sv));
    char db[4096], rebuilt[4200];
    int rc = KITH_ETOOBIG;
    if (snprintf(db, sizeof(db), "%s/%s", dir, KITH_DB_FILE) >= (int) sizeof(db) ||
        snprintf(rebuilt, sizeof(rebuilt), "%s.rebuilt", db) >= (int) sizeof(rebuilt)) {
        kith__errbuf_set(errbuf, errcap, "the home's path is too long");
        goto out;
    }
    rc = kith__node_load_identity(dir, passphrase, &id, errbuf, errcap);
    if (rc != KITH_OK) {
        goto out;
    }
    rc = kith_store_salvage(db, &sv, errbuf, errcap);
    if (rc != KITH_OK) {
        goto out;
    }
    if (sv.public_key.len == KITH_PK_LEN && memcmp(sv.public_key.data, id->pk, KITH_PK_LEN)) {
        kith__errbuf_set(errbuf, errcap, "%s belongs to another identity than %s/%s", db, dir,
                         KITH_KEY_FILE);
        rc = KITH_ECORRUPT;
        goto out;
    }
    if (sv.storage_key.len == 0 ||
        kith_vault_open(id, sv.storage_key.data, sv.storage_key.len, &vault) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap,
                         "the storage key in %s cannot be read: nothing in it can be decrypted "
                         "(restore a backup, or sync again from your peers)",
                         db);
        rc = KITH_ECORRUPT;
        goto out;
    }
    unlink_db(rebuilt);
    mode_t old_umask = umask(077);
    rc = kith_store_open(rebuilt, 1, &st, errbuf, errcap);
    umask(old_umask);
    if (rc != KITH_OK) {
        goto out;
    }
    kith_store_set_vault(st, vault);
    kith_store_set_cache_kib(st, 32 * 1024);
    /* Authenticated while empty, so that everything put in gets its MACs as it goes. */
    kith_store_upgrade_t up;
    rc = kith_store_auth_upgrade(st, 1, &up);
    if (rc == KITH_OK) {
        rc = fill(st, vault, id, &sv, rep);
    }
    if (rc == KITH_OK) {
        rc = kith_store_checkpoint(st);
    }
    kith_store_close(st);
    st = NULL;
    if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot build the new store: %s", kith_strerror(rc));
        goto out;
    }
    rep->ops_unreadable = 0;
    for (size_t i = 0, k = 0; i < sv.n_seen_ops; i++) {
        /* Both sorted by hash: a merge finds the hashes with no readable row. */
        while (k < sv.n_ops && memcmp(sv.ops[k].hash, sv.seen_ops[i], KITH_HASH_LEN) < 0) {
            k++;
        }
        rep->ops_unreadable +=
            !(k < sv.n_ops && memcmp(sv.ops[k].hash, sv.seen_ops[i], KITH_HASH_LEN) == 0);
    }
    rep->failed_reads = sv.failed_reads;
    rc = swap_in(db, rebuilt, rep->kept, sizeof(rep->kept), errbuf, errcap);
out:
    kith_store_close(st);
    if (rc != KITH_OK) {
        unlink_db(rebuilt);
    }
    kith_salvage_close(&sv);
    kith_vault_free(vault);
    kith_identity_free(id);
    return rc;
}
