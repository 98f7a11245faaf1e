/*
 * The store; see store.h. SQLite is used only through prepared statements with bound
 * parameters, and every statement is finalized on every path.
 */
#include "store/store.h"

#include <errno.h>
#include <sys/stat.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "store/rowmac.h"
#include "util/errbuf.h"
#include "model/accept.h"
#include "model/fold.h"
#include "util/hlc.h"
#include "util/textfold.h"

#define STMT_CACHE 48

struct kith_store {
    sqlite3 *db;
    kith_vault_t *vault;
    /* Prepared statements, kept for the life of the connection: preparing costs more
     * than running most of them. Keyed by the SQL literal's address, which is fixed per
     * call site. */
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[STMT_CACHE];
    int n_cache;
    /* The clock, read once per transaction and written back at commit. */
    uint64_t hlc_last;
    int hlc_loaded, hlc_dirty;
    uint64_t skipped; /* records passed over by walks because they failed to decrypt */
    /* Authenticated rows (proto/STORE.md). mac: the reused input buffer. auth_dirty:
     * peers or shares changed in this transaction, so their table MACs are redone at
     * commit. peers_ok_at: the data version at which the whole peers table last
     * checked, so that a daemon does not recheck it for every handshake. */
    kith_rowmac_t mac;
    int auth_dirty;
    int64_t peers_ok_at;
    int read_only; /* opened by kith_store_open_read_only(): no transaction may begin */
};

/* Forward migrations, applied in order; index i upgrades version i to i + 1. Never edit
 * a migration that has shipped: add a new one. */
static const char *const migrations[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE ops(hash BLOB PRIMARY KEY, rec BLOB NOT NULL, hlc INTEGER NOT NULL,"
    "  author BLOB NOT NULL, private INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  data BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX ops_rec ON ops(rec);"
    "CREATE UNIQUE INDEX ops_seq ON ops(seq);"
    "CREATE TABLE records(id BLOB PRIMARY KEY, owner BLOB NOT NULL, kind INTEGER NOT NULL,"
    "  deleted INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    "  name_tag BLOB NOT NULL, data BLOB NOT NULL);"
    /* The sealed search text lives apart so that a search scans short rows only. */
    "CREATE TABLE search(id BLOB PRIMARY KEY, text BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX records_name ON records(name_tag);"
    "CREATE TABLE audience(rec BLOB NOT NULL, member BLOB NOT NULL, role INTEGER NOT NULL,"
    "  PRIMARY KEY(rec, member)) WITHOUT ROWID;"
    "CREATE INDEX audience_member ON audience(member);"
    "CREATE TABLE shares(rec BLOB NOT NULL, target TEXT NOT NULL, role INTEGER NOT NULL,"
    "  PRIMARY KEY(rec, target)) WITHOUT ROWID;"
    "CREATE TABLE peers(name TEXT PRIMARY KEY, key BLOB NOT NULL UNIQUE,"
    "  groups TEXT NOT NULL, addr TEXT NOT NULL, self INTEGER NOT NULL,"
    "  added INTEGER NOT NULL, last_seen INTEGER NOT NULL, last_addr TEXT NOT NULL);",
    /* Building the set offered to a peer visited every op row, sealed blob and all, then
     * looked up its record: 3.3 s for 100,000 records. ops_items covers that query (the
     * primary key, hash, is in every index of a WITHOUT ROWID table), records_owner finds
     * a peer's own records: 0.26 s. ops_items also serves every lookup by record, so
     * ops_rec goes. */
    "CREATE INDEX ops_items ON ops(rec, private, seq, hlc);"
    "CREATE INDEX records_owner ON records(owner);"
    "DROP INDEX ops_rec;",
    /* Shares named peers by name, so a node that later took a removed peer's name got
     * everything shared with it. A peer target is now its 32-byte key (a blob); a group
     * stays "@name" (text). Names that no longer name a peer are dropped: their shares
     * reached nobody. The column has no declared type, so neither form is converted. */
    "CREATE TABLE shares_by_key(rec BLOB NOT NULL, target NOT NULL, role INTEGER NOT NULL,"
    "  PRIMARY KEY(rec, target),"
    "  CHECK((typeof(target) = 'blob' AND length(target) = 32) OR"
    "        (typeof(target) = 'text' AND substr(target, 1, 1) = '@'))) WITHOUT ROWID;"
    "INSERT INTO shares_by_key(rec, target, role)"
    "  SELECT s.rec, p.key, s.role FROM shares s JOIN peers p ON p.name = s.target;"
    "INSERT INTO shares_by_key(rec, target, role)"
    "  SELECT rec, target, role FROM shares WHERE substr(target, 1, 1) = '@';"
    "DROP TABLE shares;"
    "ALTER TABLE shares_by_key RENAME TO shares;"
    "CREATE INDEX shares_target ON shares(target);",
    /* Former members: who was in a record's audience and no longer is, with the owner's
     * op that removed them (its hash and hlc). The set offered to a peer includes that op
     * for each record it was removed from, so the peer learns it. Derived from the ops
     * whenever a record is folded; existing records are filled in by the first open with
     * the vault (kith_store_rederive()). */
    "CREATE TABLE former(rec BLOB NOT NULL, member BLOB NOT NULL, op BLOB NOT NULL,"
    "  hlc INTEGER NOT NULL, PRIMARY KEY(rec, member)) WITHOUT ROWID;"
    "CREATE INDEX former_member ON former(member);",
    /* Authenticated rows (proto/STORE.md): a MAC on every row that decides what a peer
     * is sent, and the sequence number a record was folded at, which its audience and
     * former rows are bound to. Filled in by the first open with the vault
     * (kith_store_auth_upgrade()). */
    /* The records table is rebuilt so that its sealed blob comes last: the columns a
     * MAC covers are then read without following the blob's overflow pages (a check of
     * 10,000 rows read 40 MB before). */
    "CREATE TABLE records_v5(id BLOB PRIMARY KEY, owner BLOB NOT NULL, kind INTEGER NOT NULL,"
    "  deleted INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    "  name_tag BLOB NOT NULL, fold_seq INTEGER NOT NULL DEFAULT 0, mac BLOB,"
    "  data BLOB NOT NULL);"
    "INSERT INTO records_v5(id, owner, kind, deleted, created, updated, name_tag, data)"
    "  SELECT id, owner, kind, deleted, created, updated, name_tag, data FROM records;"
    "DROP TABLE records;"
    "ALTER TABLE records_v5 RENAME TO records;"
    "CREATE INDEX records_name ON records(name_tag);"
    "CREATE INDEX records_owner ON records(owner);"
    /* Audience and former rows carry the fold they were written at themselves, and their
     * member indexes cover what a check reads: the set offered to a peer is vouched for
     * without a lookup per record. */
    "ALTER TABLE audience ADD COLUMN fold_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE audience ADD COLUMN mac BLOB;"
    "DROP INDEX audience_member;"
    "CREATE INDEX audience_member ON audience(member, role, fold_seq, mac);"
    "ALTER TABLE former ADD COLUMN fold_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE former ADD COLUMN mac BLOB;"
    "DROP INDEX former_member;"
    "CREATE INDEX former_member ON former(member, op, hlc, fold_seq, mac);"
    "ALTER TABLE peers ADD COLUMN mac BLOB;"
    "ALTER TABLE shares ADD COLUMN mac BLOB;",
    /* What changed since a sequence number (kith_store_record_versions()) scanned every
     * record: 30 ms at 100,000 records for each refresh of the web page's index and each
     * CardDAV sync; with the index, 0.06 ms after one edit. */
    "CREATE INDEX IF NOT EXISTS records_seq ON records(fold_seq);",
};

#define N_MIGRATIONS ((int) (sizeof(migrations) / sizeof(migrations[0])))

/* The kith error for SQLite's last failure on db: a full disk is worth telling apart. */
static int
db_error(sqlite3 *db)
{
    int code = sqlite3_errcode(db) & 0xff;
    int full = code == SQLITE_FULL || (code == SQLITE_IOERR && sqlite3_system_errno(db) == ENOSPC);
    return full ? KITH_ENOSPACE : KITH_EDB;
}

static int
exec(kith_store_t *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? KITH_OK : db_error(s->db);
}

/* Hands out a ready statement for sql; give it back with release(). A cached statement
 * still in use further up the stack (a nested walk) gets a fresh, uncached twin. */
static int
prepare(kith_store_t *s, const char *sql, sqlite3_stmt **st)
{
    *st = NULL;
    for (int i = 0; i < s->n_cache; i++) {
        if (s->cache[i].sql == sql && !sqlite3_stmt_busy(s->cache[i].st)) {
            *st = s->cache[i].st;
            return KITH_OK;
        }
    }
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        return KITH_EDB;
    }
    int cached = 0;
    for (int i = 0; i < s->n_cache; i++) {
        cached |= s->cache[i].sql == sql;
    }
    if (!cached && s->n_cache < STMT_CACHE) {
        s->cache[s->n_cache].sql = sql;
        s->cache[s->n_cache].st = *st;
        s->n_cache++;
    }
    return KITH_OK;
}

/* Resets a statement from prepare() (ending its read, if any) or finalizes an uncached
 * one. NULL is fine. */
static void
release(kith_store_t *s, sqlite3_stmt *st)
{
    if (st == NULL) {
        return;
    }
    for (int i = 0; i < s->n_cache; i++) {
        if (s->cache[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return;
        }
    }
    sqlite3_finalize(st);
}

static int
step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    return (rc == SQLITE_DONE || rc == SQLITE_ROW) ? KITH_OK : db_error(sqlite3_db_handle(st));
}

int
kith_store_schema_version(kith_store_t *s)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (prepare(s, "PRAGMA user_version", &st) == KITH_OK && sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int(st, 0);
    }
    release(s, st);
    return v;
}

static int
migrate(kith_store_t *s, char *errbuf, size_t errcap)
{
    int v = kith_store_schema_version(s);
    if (v < 0) {
        kith__errbuf_set(errbuf, errcap, "cannot read the database: %s", sqlite3_errmsg(s->db));
        return KITH_ECORRUPT;
    }
    if (v > N_MIGRATIONS) {
        kith__errbuf_set(errbuf, errcap,
                         "the database is from a newer kith (schema %d, this kith knows %d)", v,
                         N_MIGRATIONS);
        return KITH_EVERSION;
    }
    for (; v < N_MIGRATIONS; v++) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", v + 1);
        if (exec(s, "BEGIN IMMEDIATE") != KITH_OK) {
            kith__errbuf_set(errbuf, errcap, "cannot migrate the database: %s",
                             sqlite3_errmsg(s->db));
            return KITH_EDB;
        }
        if (exec(s, migrations[v]) != KITH_OK || exec(s, pragma) != KITH_OK ||
            exec(s, "COMMIT") != KITH_OK) {
            kith__errbuf_set(errbuf, errcap, "database migration %d failed: %s", v + 1,
                             sqlite3_errmsg(s->db));
            exec(s, "ROLLBACK");
            return KITH_EDB;
        }
    }
    return KITH_OK;
}

int
kith_store_open(const char *path, int create, kith_store_t **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    kith_store_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return KITH_ENOMEM;
    }
    kith_rowmac_init(&s->mac);
    s->peers_ok_at = -1;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = KITH_EDB;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot open %s: %s", path,
                         s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* 8 KiB pages: a record row is about 1 KiB, and bulk imports write half as many
     * pages as with the default 4 KiB. Only takes effect when the file is created. */
    if (create && exec(s, "PRAGMA page_size=8192") != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot set up %s: %s", path, sqlite3_errmsg(s->db));
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    /* WAL lets the daemon read while the CLI writes. synchronous=NORMAL in WAL mode keeps
     * every committed transaction across a crash of the process; only a power cut may lose
     * the last ones. secure_delete zeroes freed pages (they held sealed data anyway).
     * The page cache starts small: a short-lived command reads each page once, and
     * filling a large cache with freshly allocated memory made a full scan (search, list)
     * five times slower. The daemon and bulk imports ask for more.
     * temp_store=MEMORY keeps statement journals in memory: receiving ops opens a
     * savepoint per record, and on disk their journals cost 25 small writes per record
     * received (a quarter of a large sync's time). */
    if (exec(s, "PRAGMA journal_mode=WAL") != KITH_OK ||
        exec(s, "PRAGMA synchronous=NORMAL") != KITH_OK ||
        exec(s, "PRAGMA secure_delete=ON") != KITH_OK ||
        exec(s, "PRAGMA cache_size=-2048") != KITH_OK ||
        exec(s, "PRAGMA temp_store=MEMORY") != KITH_OK ||
        exec(s, "PRAGMA foreign_keys=ON") != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "%s is not a kith database or is damaged: %s", path,
                         sqlite3_errmsg(s->db));
        rc = KITH_ECORRUPT;
        goto out;
    }
    rc = migrate(s, errbuf, errcap);
    if (rc != KITH_OK) {
        goto out;
    }
    *out = s;
    s = NULL;
out:
    kith_store_close(s);
    return rc;
}

void
kith_store_close(kith_store_t *s)
{
    if (s == NULL) {
        return;
    }
    for (int i = 0; i < s->n_cache; i++) {
        sqlite3_finalize(s->cache[i].st);
    }
    sqlite3_close(s->db);
    kith_rowmac_close(&s->mac);
    free(s);
}

void
kith_store_set_vault(kith_store_t *s, kith_vault_t *vault)
{
    s->vault = vault;
}

int
kith_store_set_cache_kib(kith_store_t *s, int kib)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d", kib);
    return exec(s, sql);
}

int
kith_store_checkpoint(kith_store_t *s)
{
    return exec(s, "PRAGMA wal_checkpoint(TRUNCATE)");
}

int
kith_store_begin(kith_store_t *s)
{
    /* Another process (the CLI beside the daemon) may have moved the clock. */
    s->hlc_loaded = 0;
    s->hlc_dirty = 0;
    s->auth_dirty = 0;
    if (s->read_only) {
        return KITH_EREADONLY;
    }
    return exec(s, "BEGIN IMMEDIATE");
}

static int hlc_save(kith_store_t *s);
static int auth_commit(kith_store_t *s);

int
kith_store_commit(kith_store_t *s)
{
    int rc = s->hlc_dirty ? hlc_save(s) : KITH_OK;
    if (rc == KITH_OK && s->auth_dirty) {
        rc = auth_commit(s);
    }
    if (rc == KITH_OK) {
        rc = exec(s, "COMMIT");
    }
    s->hlc_loaded = 0;
    s->hlc_dirty = 0;
    s->auth_dirty = 0;
    return rc;
}

void
kith_store_rollback(kith_store_t *s)
{
    s->hlc_loaded = 0;
    s->hlc_dirty = 0;
    s->auth_dirty = 0;
    if (!sqlite3_get_autocommit(s->db)) {
        exec(s, "ROLLBACK");
    }
}

int
kith_store_meta_get(kith_store_t *s, const char *key, kith_buf_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT value FROM meta WHERE key=?", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        rc = kith_buf_append(out, sqlite3_column_blob(st, 0), (size_t) sqlite3_column_bytes(st, 0));
    } else {
        rc = r == SQLITE_DONE ? KITH_ENOTFOUND : KITH_EDB;
    }
    release(s, st);
    return rc;
}

int
kith_store_meta_set(kith_store_t *s, const char *key, const void *val, size_t len)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, len ? val : "", (int) len, SQLITE_STATIC);
    rc = step_done(st);
    release(s, st);
    return rc;
}

int
kith_store_meta_delete(kith_store_t *s, const char *key)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "DELETE FROM meta WHERE key=?", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = step_done(st);
    release(s, st);
    return rc;
}

int
kith_store_meta_prefix(kith_store_t *s, const char *prefix, kith_meta_cb cb, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc =
        prepare(s, "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_int(st, 1, (int) strlen(prefix));
    sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *) sqlite3_column_text(st, 0);
        const uint8_t *val = sqlite3_column_blob(st, 1);
        size_t len = (size_t) sqlite3_column_bytes(st, 1);
        rc = cb(ctx, key ? key : "", val ? val : (const uint8_t *) "", len);
        if (rc != 0) {
            break;
        }
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = db_error(s->db);
    }
    release(s, st);
    return rc;
}

static int
hlc_load(kith_store_t *s)
{
    if (s->hlc_loaded) {
        return KITH_OK;
    }
    kith_buf_t b;
    kith_buf_init(&b);
    int rc = kith_store_meta_get(s, "hlc", &b);
    s->hlc_last = 0;
    if (rc == KITH_OK && b.len == 8) {
        for (int i = 0; i < 8; i++) {
            s->hlc_last = (s->hlc_last << 8) | b.data[i];
        }
    } else if (rc == KITH_ENOTFOUND) {
        rc = KITH_OK;
    } else if (rc == KITH_OK) {
        rc = KITH_ECORRUPT;
    }
    kith_buf_close(&b);
    s->hlc_loaded = rc == KITH_OK;
    return rc;
}

static int
hlc_save(kith_store_t *s)
{
    uint8_t enc[8];
    for (int i = 0; i < 8; i++) {
        enc[i] = (uint8_t) (s->hlc_last >> (56 - 8 * i));
    }
    return kith_store_meta_set(s, "hlc", enc, 8);
}

int
kith_store_hlc_next(kith_store_t *s, uint64_t now_ms, uint64_t *out)
{
    int rc = hlc_load(s);
    if (rc == KITH_OK) {
        rc = kith_hlc_next(s->hlc_last, now_ms, out);
    }
    if (rc == KITH_OK) {
        s->hlc_last = *out;
        s->hlc_dirty = 1;
        /* Outside a transaction there is no commit to write it back: do it now. */
        if (sqlite3_get_autocommit(s->db)) {
            rc = hlc_save(s);
            s->hlc_dirty = 0;
            s->hlc_loaded = 0;
        }
    }
    return rc;
}

/* Hybrid logical clock receive rule: a timestamp seen from another node moves our clock
 * forward, so that a later local edit sorts after what we have seen. */
static int
hlc_observe(kith_store_t *s, uint64_t hlc)
{
    int rc = hlc_load(s);
    /* Never beyond what the wall clock could plausibly reach: apply_ops refuses ops from
     * the far future, and a local op stamped ahead was stamped by this clock anyway. */
    if (rc == KITH_OK && hlc > s->hlc_last &&
        kith_hlc_ms(hlc) <= kith_hlc_now_ms() + KITH_MAX_CLOCK_SKEW_MS) {
        s->hlc_last = hlc;
        s->hlc_dirty = 1;
    }
    return rc;
}

/* ---- ops and records ---------------------------------------------------------------- */

static int
unseal_column(kith_store_t *s, sqlite3_stmt *st, int col, const uint8_t *ad, size_t ad_len,
              kith_buf_t *out)
{
    if (s->vault == NULL) {
        return KITH_EINVAL;
    }
    return kith_vault_unseal(s->vault, ad, ad_len, sqlite3_column_blob(st, col),
                             (size_t) sqlite3_column_bytes(st, col), out);
}

/* Associated data of the sealed blobs (proto/STORE.md). Each kind has its own prefix, so
 * that no blob can stand in for a blob of another kind. An op's binds every plaintext
 * column of its row: a private op marked shared, or an op moved to another record or
 * author or time, no longer unseals. */
#define OP_AD_LEN  (4 + KITH_HASH_LEN + KITH_REC_ID_LEN + KITH_PK_LEN + 1 + 8)
#define REC_AD_LEN (4 + KITH_REC_ID_LEN)

static void
op_ad(uint8_t ad[OP_AD_LEN], const uint8_t hash[KITH_HASH_LEN], const uint8_t rec[KITH_REC_ID_LEN],
      const uint8_t author[KITH_PK_LEN], int private, uint64_t hlc)
{
    uint8_t *p = ad;
    memcpy(p, "op2\0", 4);
    p += 4;
    memcpy(p, hash, KITH_HASH_LEN);
    p += KITH_HASH_LEN;
    memcpy(p, rec, KITH_REC_ID_LEN);
    p += KITH_REC_ID_LEN;
    memcpy(p, author, KITH_PK_LEN);
    p += KITH_PK_LEN;
    *p++ = private != 0;
    for (int i = 0; i < 8; i++) {
        *p++ = (uint8_t) (hlc >> (56 - 8 * i));
    }
}

void
kith_store_op_ad(uint8_t ad[static KITH_STORE_OP_AD_LEN], const uint8_t hash[static KITH_HASH_LEN],
                 const uint8_t rec[static KITH_REC_ID_LEN],
                 const uint8_t author[static KITH_PK_LEN], int private, uint64_t hlc)
{
    op_ad(ad, hash, rec, author, private, hlc);
}

/* The op AD from a row whose columns from `first` on are hash, rec, author, private, hlc. */
static int
op_ad_row(sqlite3_stmt *st, int first, uint8_t ad[OP_AD_LEN])
{
    if (sqlite3_column_bytes(st, first) != KITH_HASH_LEN ||
        sqlite3_column_bytes(st, first + 1) != KITH_REC_ID_LEN ||
        sqlite3_column_bytes(st, first + 2) != KITH_PK_LEN ||
        sqlite3_column_type(st, first + 3) != SQLITE_INTEGER ||
        sqlite3_column_type(st, first + 4) != SQLITE_INTEGER) {
        return KITH_ECORRUPT;
    }
    op_ad(ad, sqlite3_column_blob(st, first), sqlite3_column_blob(st, first + 1),
          sqlite3_column_blob(st, first + 2), sqlite3_column_int(st, first + 3),
          (uint64_t) sqlite3_column_int64(st, first + 4));
    return KITH_OK;
}

/* Unseals the op in column data_col of a row whose columns from `first` on are hash, rec,
 * author, private, hlc. KITH_ETAMPER if the columns do not match the sealed op. */
static int
unseal_op_row(kith_store_t *s, sqlite3_stmt *st, int first, int data_col, kith_buf_t *out)
{
    uint8_t ad[OP_AD_LEN];
    int rc = op_ad_row(st, first, ad);
    if (rc == KITH_OK) {
        rc = unseal_column(s, st, data_col, ad, sizeof(ad), out);
    }
    return rc == KITH_ECORRUPT ? KITH_ETAMPER : rc;
}

/* "rec2" for a folded record, "srch" for its search text. */
static void
rec_ad(uint8_t ad[REC_AD_LEN], const char kind[4], const uint8_t id[KITH_REC_ID_LEN])
{
    memcpy(ad, kind, 4);
    memcpy(ad + 4, id, KITH_REC_ID_LEN);
}

void
kith_op_list_close(kith_op_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        kith_op_close(&l->ops[i]);
    }
    free(l->ops);
    free(l->in);
    memset(l, 0, sizeof(*l));
}

static int
op_list_load(void *ctx, const uint8_t *signed_op, size_t len, const kith_op_t *op,
             const uint8_t hash[KITH_HASH_LEN])
{
    (void) signed_op;
    (void) len;
    kith_op_list_t *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        kith_op_t *ops = realloc(l->ops, cap * sizeof(*ops));
        if (ops == NULL) {
            return KITH_ENOMEM;
        }
        l->ops = ops;
        kith_fold_input_t *in = realloc(l->in, cap * sizeof(*in));
        if (in == NULL) {
            return KITH_ENOMEM;
        }
        l->in = in;
        l->cap = cap;
    }
    /* The callback's op is borrowed: take ownership of its contents by moving them. */
    l->ops[l->n] = *op;
    kith_op_init((kith_op_t *) op);
    memcpy(l->in[l->n].hash, hash, KITH_HASH_LEN);
    l->n++;
    return KITH_OK;
}

int
kith_store_load_ops(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN], kith_op_list_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = kith_store_foreach_op(s, id, op_list_load, out);
    /* Point the inputs at the ops only now: the array moved while it grew. */
    for (size_t i = 0; rc == KITH_OK && i < out->n; i++) {
        out->in[i].op = &out->ops[i];
    }
    if (rc != KITH_OK) {
        kith_op_list_close(out);
    }
    return rc;
}

int
kith_store_foreach_op(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN], kith_op_cb cb,
                      void *ctx)
{
    sqlite3_stmt *st = NULL;
    kith_buf_t pt;
    kith_buf_init(&pt);
    int rc = prepare(s, "SELECT hash, rec, author, private, hlc, data FROM ops WHERE rec=?", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_blob(st, 1, id, KITH_REC_ID_LEN, SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const uint8_t *hash = sqlite3_column_blob(st, 0);
        if (hash == NULL || sqlite3_column_bytes(st, 0) != KITH_HASH_LEN) {
            rc = KITH_ECORRUPT;
            break;
        }
        uint8_t h[KITH_HASH_LEN];
        memcpy(h, hash, KITH_HASH_LEN);
        pt.len = 0;
        rc = unseal_op_row(s, st, 0, 5, &pt);
        if (rc != KITH_OK) {
            break;
        }
        kith_op_t op;
        /* Sealed by us after verification: the vault's tag vouches for it, so only the
         * structure is decoded here, not the signature checked again. */
        if (pt.len <= KITH_SIG_LEN ||
            kith_op_decode(pt.data + KITH_SIG_LEN, pt.len - KITH_SIG_LEN, &op) != KITH_OK) {
            rc = KITH_ECORRUPT;
            break;
        }
        rc = cb(ctx, pt.data, pt.len, &op, h);
        kith_op_close(&op);
        if (rc != KITH_OK) {
            break;
        }
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = KITH_EDB;
    }
    release(s, st);
    kith_buf_close(&pt);
    return rc;
}

int
kith_store_search_text(const kith_record_t *r, kith_buf_t *out)
{
    int rc = KITH_OK;
    for (size_t i = 0; i < r->n_fields && rc == KITH_OK; i++) {
        const kith_value_t *v = &r->fields[i].value;
        if (v->type == KITH_V_STR) {
            rc = kith_textfold(v->str, strlen(v->str), out);
        } else if (v->type == KITH_V_INT) {
            rc = kith_buf_printf(out, "%lld", (long long) v->num);
        } else if (v->type == KITH_V_LIST) {
            for (size_t k = 0; k < v->n_items && rc == KITH_OK; k++) {
                rc = kith_textfold(v->items[k], strlen(v->items[k]), out);
                if (rc == KITH_OK) {
                    rc = kith_buf_putc(out, '\n');
                }
            }
        }
        if (rc == KITH_OK) {
            rc = kith_buf_putc(out, '\n');
        }
    }
    return rc;
}

static int
name_tag(kith_store_t *s, const char *name, uint8_t tag[static KITH_NAME_TAG_LEN])
{
    kith_buf_t f;
    kith_buf_init(&f);
    int rc = kith_textfold(name, strlen(name), &f);
    if (rc == KITH_OK) {
        kith_vault_name_tag(s->vault, f.data ? (const char *) f.data : "", f.len, tag);
    }
    kith_buf_close(&f);
    return rc;
}

/* ---- authenticated rows (proto/STORE.md) ------------------------------------------- */

/* Checks the MAC in column mac_col over n columns from `first` on, as a row of table. */
static int
check_row(kith_store_t *s, const char *table, sqlite3_stmt *st, int first, int n, int mac_col)
{
    if (s->vault == NULL) {
        return KITH_EINVAL;
    }
    kith_rowmac_begin(&s->mac, table);
    for (int i = 0; i < n; i++) {
        kith_rowmac_column(&s->mac, st, first + i);
    }
    return kith_rowmac_check(&s->mac, s->vault, sqlite3_column_blob(st, mac_col),
                             (size_t) sqlite3_column_bytes(st, mac_col));
}

/* The node's authenticated state in meta: "db_id" (16 random bytes naming this
 * database), "auth_gen" (8 bytes, big-endian: bumped whenever peers or shares change),
 * "peers_auth" and "shares_auth" (a MAC over db_id, auth_gen and every row's MAC, in key
 * order), "auth" (a MAC over db_id: the rows are authenticated). */
#define AUTH_PEERS  1
#define AUTH_SHARES 2

static int
auth_meta(kith_store_t *s, uint8_t db_id[16], uint64_t *gen)
{
    kith_buf_t b;
    kith_buf_init(&b);
    int rc = kith_store_meta_get(s, "db_id", &b);
    if (rc == KITH_OK && b.len == 16) {
        memcpy(db_id, b.data, 16);
        b.len = 0;
        rc = kith_store_meta_get(s, "auth_gen", &b);
    } else if (rc == KITH_OK) {
        rc = KITH_ETAMPER;
    }
    if (rc == KITH_OK && b.len == 8) {
        *gen = 0;
        for (int i = 0; i < 8; i++) {
            *gen = (*gen << 8) | b.data[i];
        }
    } else if (rc == KITH_OK) {
        rc = KITH_ETAMPER;
    }
    kith_buf_close(&b);
    return rc == KITH_ENOTFOUND ? KITH_ETAMPER : rc;
}

/* The MAC of a whole table (peers or shares) under db_id and gen, checking each row. */
static int
table_mac(kith_store_t *s, int table, const uint8_t db_id[16], uint64_t gen,
          uint8_t out[KITH_ROW_MAC_LEN])
{
    const char *name = table == AUTH_PEERS ? "peers" : "shares";
    int n = table == AUTH_PEERS ? 6 : 3;
    sqlite3_stmt *st = NULL;
    kith_rowmac_t t;
    kith_rowmac_init(&t);
    kith_rowmac_begin(&t, table == AUTH_PEERS ? "peers-table" : "shares-table");
    kith_rowmac_blob(&t, db_id, 16);
    kith_rowmac_int(&t, (int64_t) gen);
    int rc =
        prepare(s,
                table == AUTH_PEERS
                    ? "SELECT name, key, groups, addr, self, added, mac FROM peers ORDER BY key"
                    : "SELECT rec, target, role, mac FROM shares ORDER BY rec, target",
                &st);
    int r = SQLITE_DONE;
    while (rc == KITH_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        rc = check_row(s, name, st, 0, n, n);
        kith_rowmac_blob(&t, sqlite3_column_blob(st, n), (size_t) sqlite3_column_bytes(st, n));
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = db_error(s->db);
    }
    release(s, st);
    if (rc == KITH_OK) {
        rc = kith_rowmac_end(&t, s->vault, out);
    }
    kith_rowmac_close(&t);
    return rc;
}

static const char *
table_key(int table)
{
    return table == AUTH_PEERS ? "peers_auth" : "shares_auth";
}

static int
auth_check(kith_store_t *s, int table)
{
    uint8_t db_id[16], want[KITH_ROW_MAC_LEN];
    uint64_t gen = 0;
    kith_buf_t have;
    kith_buf_init(&have);
    /* One read transaction: the generation, the rows and the stored MAC must come from one
     * snapshot, or a change another process (the CLI beside the daemon) commits between
     * two of these reads looks like tampering. */
    int rc = s->vault != NULL ? KITH_OK : KITH_EINVAL;
    int own_txn = rc == KITH_OK && sqlite3_get_autocommit(s->db);
    if (own_txn) {
        rc = exec(s, "BEGIN");
    }
    if (rc == KITH_OK) {
        rc = auth_meta(s, db_id, &gen);
    }
    if (rc == KITH_OK) {
        rc = table_mac(s, table, db_id, gen, want);
    }
    if (rc == KITH_OK) {
        rc = kith_store_meta_get(s, table_key(table), &have);
        rc = rc == KITH_ENOTFOUND ? KITH_ETAMPER : rc;
    }
    if (rc == KITH_OK &&
        (have.len != KITH_ROW_MAC_LEN || sodium_memcmp(have.data, want, KITH_ROW_MAC_LEN) != 0)) {
        rc = KITH_ETAMPER;
    }
    if (own_txn && !sqlite3_get_autocommit(s->db)) {
        exec(s, "COMMIT"); /* it only read */
    }
    kith_buf_close(&have);
    return rc;
}

/* Checks a whole table (the name "peers" or "shares") against its MAC. A table this
 * transaction changed is checked at commit instead (auth_commit()), and the peers table,
 * read for every handshake, only when the database changed since it last checked. */
static int
auth_check_table(kith_store_t *s, const char *name)
{
    int table = strcmp(name, "peers") == 0 ? AUTH_PEERS : AUTH_SHARES;
    if (s->auth_dirty & table) {
        return KITH_OK;
    }
    int64_t version = -1;
    if (table == AUTH_PEERS) {
        sqlite3_stmt *st = NULL;
        if (prepare(s, "PRAGMA data_version", &st) == KITH_OK && sqlite3_step(st) == SQLITE_ROW) {
            version = (sqlite3_column_int64(st, 0) << 32) ^ sqlite3_total_changes64(s->db);
        }
        release(s, st);
        if (version >= 0 && version == s->peers_ok_at) {
            return KITH_OK;
        }
    }
    int rc = auth_check(s, table);
    if (rc == KITH_OK && table == AUTH_PEERS) {
        s->peers_ok_at = version;
    }
    return rc;
}

/* Before the first change to a table in a transaction: it must check as it is, or the
 * new table MAC would vouch for rows someone else put there. */
static int
auth_will_change(kith_store_t *s, int table)
{
    if (s->auth_dirty & table) {
        return KITH_OK;
    }
    int rc = auth_check(s, table);
    if (rc == KITH_OK) {
        s->auth_dirty |= table;
    }
    return rc;
}

/* Peers and shares may be changed outside a transaction (a test, a one-off call): such a
 * change gets a transaction of its own, so that its table MACs are redone at once. */
static int
own_txn_begin(kith_store_t *s, int *own)
{
    *own = sqlite3_get_autocommit(s->db);
    return *own ? kith_store_begin(s) : KITH_OK;
}

static int
own_txn_end(kith_store_t *s, int own, int rc)
{
    if (!own) {
        return rc;
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(s);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(s);
    }
    return rc;
}

static int
meta_put_u64(kith_store_t *s, const char *key, uint64_t v)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t) (v >> (56 - 8 * i));
    }
    return kith_store_meta_set(s, key, be, 8);
}

/* At commit, when peers or shares changed: a new generation, and both table MACs under
 * it (the other table is checked first, under the old one). */
static int
auth_commit(kith_store_t *s)
{
    uint8_t db_id[16], mac[KITH_ROW_MAC_LEN];
    uint64_t gen = 0;
    int rc = auth_meta(s, db_id, &gen);
    for (int t = AUTH_PEERS; rc == KITH_OK && t <= AUTH_SHARES; t <<= 1) {
        if (!(s->auth_dirty & t)) {
            rc = auth_check(s, t);
        }
    }
    if (rc == KITH_OK) {
        rc = meta_put_u64(s, "auth_gen", ++gen);
    }
    for (int t = AUTH_PEERS; rc == KITH_OK && t <= AUTH_SHARES; t <<= 1) {
        rc = table_mac(s, t, db_id, gen, mac);
        if (rc == KITH_OK) {
            rc = kith_store_meta_set(s, table_key(t), mac, sizeof(mac));
        }
    }
    return rc;
}

/* A records row: id, owner, kind, deleted, created, updated, name_tag, fold_seq. */
#define RECORD_MAC_COLUMNS "id, owner, kind, deleted, created, updated, name_tag, fold_seq, mac"
#define RECORD_MAC_N       8

static int
record_mac(kith_store_t *s, const kith_record_t *r, const uint8_t tag[KITH_NAME_TAG_LEN],
           int64_t fold_seq, uint8_t mac[KITH_ROW_MAC_LEN])
{
    kith_rowmac_begin(&s->mac, "records");
    kith_rowmac_blob(&s->mac, r->id, KITH_REC_ID_LEN);
    kith_rowmac_blob(&s->mac, r->owner, KITH_PK_LEN);
    kith_rowmac_int(&s->mac, r->kind);
    kith_rowmac_int(&s->mac, r->deleted);
    kith_rowmac_int(&s->mac, (int64_t) r->created);
    kith_rowmac_int(&s->mac, (int64_t) r->updated);
    kith_rowmac_blob(&s->mac, tag, KITH_NAME_TAG_LEN);
    kith_rowmac_int(&s->mac, fold_seq);
    return kith_rowmac_end(&s->mac, s->vault, mac);
}

/* An audience row is bound to the fold that wrote it: rec, member, role, fold_seq. A row
 * put back from an earlier fold no longer checks. */
static int
audience_mac(kith_store_t *s, const uint8_t rec[KITH_REC_ID_LEN], const uint8_t member[KITH_PK_LEN],
             int role, int64_t fold_seq, uint8_t mac[KITH_ROW_MAC_LEN])
{
    kith_rowmac_begin(&s->mac, "audience");
    kith_rowmac_blob(&s->mac, rec, KITH_REC_ID_LEN);
    kith_rowmac_blob(&s->mac, member, KITH_PK_LEN);
    kith_rowmac_int(&s->mac, role);
    kith_rowmac_int(&s->mac, fold_seq);
    return kith_rowmac_end(&s->mac, s->vault, mac);
}

/* A former row, bound likewise: rec, member, op, hlc, fold_seq. */
static int
former_mac(kith_store_t *s, const uint8_t rec[KITH_REC_ID_LEN], const kith_former_t *f,
           int64_t fold_seq, uint8_t mac[KITH_ROW_MAC_LEN])
{
    kith_rowmac_begin(&s->mac, "former");
    kith_rowmac_blob(&s->mac, rec, KITH_REC_ID_LEN);
    kith_rowmac_blob(&s->mac, f->key, KITH_PK_LEN);
    kith_rowmac_blob(&s->mac, f->op, KITH_HASH_LEN);
    kith_rowmac_int(&s->mac, (int64_t) f->hlc);
    kith_rowmac_int(&s->mac, fold_seq);
    return kith_rowmac_end(&s->mac, s->vault, mac);
}

/* The sequence number a record is folded at: the newest op's, so that a record row put
 * back from before a later op is caught when that op is about to be sent. */
static int
current_seq(kith_store_t *s, int64_t *seq)
{
    uint64_t max = 0;
    int rc = kith_store_max_seq(s, &max);
    *seq = (int64_t) max;
    return rc;
}

/* ---- former members ----------------------------------------------------------------- */

/* Rewrites the former-member rows of record r, as its fold found them (proto/SYNC.md "The
 * set offered to a peer"). is_new: the record has no rows yet. */
static int
write_former(kith_store_t *s, const kith_record_t *r, int is_new)
{
    sqlite3_stmt *st = NULL;
    const kith_former_t *f = r->former;
    size_t n_f = r->n_former;
    int rc = KITH_OK;
    if (r->aud_changes < 2) {
        return KITH_OK; /* the usual case: one audience op only adds, nothing to store */
    }
    if (!is_new) {
        rc = prepare(s, "DELETE FROM former WHERE rec=?", &st);
        if (rc == KITH_OK) {
            sqlite3_bind_blob(st, 1, r->id, KITH_REC_ID_LEN, SQLITE_STATIC);
            rc = step_done(st);
        }
        release(s, st);
        st = NULL;
    }
    int64_t fold_seq = 0;
    if (rc == KITH_OK && n_f > 0) {
        rc = current_seq(s, &fold_seq);
    }
    if (rc == KITH_OK && n_f > 0) {
        rc = prepare(s,
                     "INSERT INTO former(rec, member, op, hlc, fold_seq, mac) "
                     "VALUES(?, ?, ?, ?, ?, ?)",
                     &st);
    }
    for (size_t i = 0; rc == KITH_OK && i < n_f; i++) {
        uint8_t mac[KITH_ROW_MAC_LEN];
        rc = former_mac(s, r->id, &f[i], fold_seq, mac);
        if (rc != KITH_OK) {
            break;
        }
        sqlite3_reset(st);
        sqlite3_bind_blob(st, 1, r->id, KITH_REC_ID_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, f[i].key, KITH_PK_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, f[i].op, KITH_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64) f[i].hlc);
        sqlite3_bind_int64(st, 5, fold_seq);
        sqlite3_bind_blob(st, 6, mac, KITH_ROW_MAC_LEN, SQLITE_TRANSIENT);
        rc = step_done(st);
    }
    release(s, st);
    return rc;
}

/* The row of a former member: the removing op's hash (may be NULL) and hlc. */
static int
former_lookup(kith_store_t *s, const uint8_t id[KITH_REC_ID_LEN], const uint8_t member[KITH_PK_LEN],
              uint8_t *op, uint64_t *hlc)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s,
                     "SELECT op, hlc, rec, member, op, hlc, fold_seq, mac FROM former "
                     "WHERE rec=? AND member=?",
                     &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_blob(st, 1, id, KITH_REC_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, member, KITH_PK_LEN, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW && (rc = check_row(s, "former", st, 2, 5, 7)) != KITH_OK) {
        /* rc says why */
    } else if (r == SQLITE_ROW && sqlite3_column_bytes(st, 0) == KITH_HASH_LEN) {
        if (op != NULL) {
            memcpy(op, sqlite3_column_blob(st, 0), KITH_HASH_LEN);
        }
        *hlc = (uint64_t) sqlite3_column_int64(st, 1);
    } else if (r == SQLITE_ROW) {
        rc = KITH_ECORRUPT;
    } else {
        rc = r == SQLITE_DONE ? KITH_ENOTFOUND : db_error(s->db);
    }
    release(s, st);
    return rc;
}

int
kith_store_former_get(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN],
                      const uint8_t member[static KITH_PK_LEN], uint64_t *hlc)
{
    return former_lookup(s, id, member, NULL, hlc);
}

/* Writes the folded record and its audience rows (is_new: no rows to replace). */
static int
write_record(kith_store_t *s, const kith_record_t *r, int is_new)
{
    sqlite3_stmt *st = NULL;
    kith_buf_t enc, data, text, search;
    kith_buf_init(&enc);
    kith_buf_init(&data);
    kith_buf_init(&text);
    kith_buf_init(&search);
    uint8_t tag[KITH_NAME_TAG_LEN];
    uint8_t ad[REC_AD_LEN];
    int rc = kith_record_encode(r, &enc);
    if (rc == KITH_OK) {
        rec_ad(ad, "rec2", r->id);
        rc = kith_vault_seal(s->vault, ad, sizeof(ad), enc.data, enc.len, &data);
    }
    if (rc == KITH_OK) {
        rc = kith_store_search_text(r, &text);
    }
    if (rc == KITH_OK) {
        rec_ad(ad, "srch", r->id);
        rc = kith_vault_seal(s->vault, ad, sizeof(ad), text.data, text.len, &search);
    }
    if (rc == KITH_OK) {
        rc = name_tag(s, kith_record_name(r), tag);
    }
    if (rc != KITH_OK) {
        goto out;
    }
    int64_t fold_seq = 0;
    uint8_t mac[KITH_ROW_MAC_LEN];
    if ((rc = current_seq(s, &fold_seq)) != KITH_OK ||
        (rc = record_mac(s, r, tag, fold_seq, mac)) != KITH_OK) {
        goto out;
    }
    rc = prepare(s,
                 "INSERT OR REPLACE INTO records(id, owner, kind, deleted, created, updated, "
                 "name_tag, data, fold_seq, mac) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 &st);
    if (rc != KITH_OK) {
        goto out;
    }
    sqlite3_bind_int64(st, 9, fold_seq);
    sqlite3_bind_blob(st, 10, mac, KITH_ROW_MAC_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 1, r->id, KITH_REC_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, r->owner, KITH_PK_LEN, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, r->kind);
    sqlite3_bind_int(st, 4, r->deleted);
    sqlite3_bind_int64(st, 5, (sqlite3_int64) r->created);
    sqlite3_bind_int64(st, 6, (sqlite3_int64) r->updated);
    sqlite3_bind_blob(st, 7, tag, KITH_NAME_TAG_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, data.data, (int) data.len, SQLITE_STATIC);
    rc = step_done(st);
    release(s, st);
    st = NULL;
    if (rc != KITH_OK) {
        goto out;
    }
    /* A deleted record leaves the search table: searches never see it. */
    rc = prepare(s,
                 r->deleted ? "DELETE FROM search WHERE id=?1 AND ?2 IS NOT NULL"
                            : "INSERT OR REPLACE INTO search(id, text) VALUES(?1, ?2)",
                 &st);
    if (rc != KITH_OK) {
        goto out;
    }
    sqlite3_bind_blob(st, 1, r->id, KITH_REC_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, search.data ? (const void *) search.data : "", (int) search.len,
                      SQLITE_STATIC);
    rc = step_done(st);
    release(s, st);
    st = NULL;
    if (rc != KITH_OK || (is_new && r->n_aud == 0)) {
        goto out;
    }
    rc = prepare(s, "DELETE FROM audience WHERE rec=?", &st);
    if (rc != KITH_OK) {
        goto out;
    }
    sqlite3_bind_blob(st, 1, r->id, KITH_REC_ID_LEN, SQLITE_STATIC);
    rc = step_done(st);
    release(s, st);
    st = NULL;
    if (rc != KITH_OK || r->n_aud == 0) {
        goto out;
    }
    rc = prepare(s, "INSERT INTO audience(rec, member, role, fold_seq, mac) VALUES(?, ?, ?, ?, ?)",
                 &st);
    for (size_t i = 0; i < r->n_aud && rc == KITH_OK; i++) {
        rc = audience_mac(s, r->id, r->aud[i].key, r->aud[i].role, fold_seq, mac);
        if (rc != KITH_OK) {
            break;
        }
        sqlite3_reset(st);
        sqlite3_bind_blob(st, 1, r->id, KITH_REC_ID_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, r->aud[i].key, KITH_PK_LEN, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, r->aud[i].role);
        sqlite3_bind_int64(st, 4, fold_seq);
        sqlite3_bind_blob(st, 5, mac, KITH_ROW_MAC_LEN, SQLITE_TRANSIENT);
        rc = step_done(st);
    }
out:
    release(s, st);
    kith_buf_close(&enc);
    kith_buf_close(&data);
    kith_buf_close(&text);
    kith_buf_close(&search);
    return rc;
}

/* Looks up the owner of an existing record; *found = 0 if there is none. */
static int
record_owner(kith_store_t *s, const uint8_t id[KITH_REC_ID_LEN], uint8_t owner[KITH_PK_LEN],
             int *found)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT owner, " RECORD_MAC_COLUMNS " FROM records WHERE id=?", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_blob(st, 1, id, KITH_REC_ID_LEN, SQLITE_STATIC);
    int r = sqlite3_step(st);
    *found = 0;
    if (r == SQLITE_ROW && (rc = check_row(s, "records", st, 1, RECORD_MAC_N, 9)) != KITH_OK) {
        /* rc says why */
    } else if (r == SQLITE_ROW && sqlite3_column_bytes(st, 0) == KITH_PK_LEN) {
        memcpy(owner, sqlite3_column_blob(st, 0), KITH_PK_LEN);
        *found = 1;
    } else if (r != SQLITE_DONE) {
        rc = r == SQLITE_ROW ? KITH_ECORRUPT : KITH_EDB;
    }
    release(s, st);
    return rc;
}

/* Stores one verified op, unless held (*added = 0); no refold. KITH_EAUTH when the op
 * names another owner than the record's. *existed (may be NULL) tells whether the record
 * was already there. */
static int
insert_op(kith_store_t *s, const uint8_t *signed_op, size_t len, const kith_op_t *op,
          const uint8_t hash[KITH_HASH_LEN], int *added, int *existed)
{
    sqlite3_stmt *st = NULL;
    kith_buf_t sealed;
    kith_buf_init(&sealed);
    uint8_t owner[KITH_PK_LEN];
    int found = 0;
    *added = 0;
    int rc = record_owner(s, op->rec, owner, &found);
    if (existed != NULL) {
        *existed = found;
    }
    if (rc == KITH_OK && found && memcmp(owner, op->owner, KITH_PK_LEN) != 0) {
        rc = KITH_EAUTH;
    }
    if (rc == KITH_OK) {
        uint8_t ad[OP_AD_LEN];
        op_ad(ad, hash, op->rec, op->author, op->private, op->hlc);
        rc = kith_vault_seal(s->vault, ad, sizeof(ad), signed_op, len, &sealed);
    }
    if (rc == KITH_OK) {
        rc = prepare(s,
                     "INSERT OR IGNORE INTO ops(hash, rec, hlc, author, private, seq, data) "
                     "VALUES(?, ?, ?, ?, ?, (SELECT ifnull(max(seq), 0) + 1 FROM ops), ?)",
                     &st);
    }
    if (rc == KITH_OK) {
        sqlite3_bind_blob(st, 1, hash, KITH_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, op->rec, KITH_REC_ID_LEN, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) op->hlc);
        sqlite3_bind_blob(st, 4, op->author, KITH_PK_LEN, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, op->private);
        sqlite3_bind_blob(st, 6, sealed.data, (int) sealed.len, SQLITE_STATIC);
        rc = step_done(st);
        *added = rc == KITH_OK && sqlite3_changes(s->db) > 0;
    }
    if (rc == KITH_OK && *added) {
        rc = hlc_observe(s, op->hlc);
    }
    release(s, st);
    kith_buf_close(&sealed);
    return rc;
}

/* Folds a record from all its stored ops and writes it. For each hash in check (may be
 * NULL), eff[i] tells whether that op took effect. out (may be NULL) gets the folded
 * record, former members included; the caller closes it. */
static int
refold_record(kith_store_t *s, const uint8_t rec_id[KITH_REC_ID_LEN],
              const uint8_t (*check)[KITH_HASH_LEN], size_t n_check, int *eff, kith_record_t *out)
{
    kith_op_list_t list;
    kith_record_t rec;
    kith_record_init(&rec);
    int *all = NULL;
    int rc = kith_store_load_ops(s, rec_id, &list);
    if (rc == KITH_OK && list.n == 0) {
        rc = KITH_ENOTFOUND;
    }
    if (rc == KITH_OK && (all = calloc(list.n, sizeof(*all))) == NULL) {
        rc = KITH_ENOMEM;
    }
    if (rc == KITH_OK) {
        rc = kith_fold(list.in, list.n, &rec, all);
    }
    for (size_t c = 0; rc == KITH_OK && c < n_check; c++) {
        eff[c] = 0;
        for (size_t i = 0; i < list.n; i++) {
            if (memcmp(list.in[i].hash, check[c], KITH_HASH_LEN) == 0) {
                eff[c] = all[i];
            }
        }
    }
    if (rc == KITH_OK) {
        rc = write_record(s, &rec, 0);
    }
    if (rc == KITH_OK) {
        rc = write_former(s, &rec, 0);
    }
    free(all);
    kith_op_list_close(&list);
    if (rc == KITH_OK && out != NULL) {
        *out = rec;
    } else {
        kith_record_close(&rec);
    }
    return rc;
}

static int
delete_op(kith_store_t *s, const uint8_t hash[KITH_HASH_LEN])
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "DELETE FROM ops WHERE hash = ?", &st);
    if (rc == KITH_OK) {
        sqlite3_bind_blob(st, 1, hash, KITH_HASH_LEN, SQLITE_STATIC);
        rc = step_done(st);
    }
    release(s, st);
    return rc;
}

/* Folds the ops of a record this store does not hold yet from memory (no reading back of
 * what was just stored) and writes it. in is sorted into fold order; effective as for
 * kith_fold(). */
static int
write_new_record(kith_store_t *s, kith_fold_input_t *in, size_t n, int *effective,
                 kith_record_t *out)
{
    kith_record_t rec;
    int rc = kith_fold(in, n, &rec, effective);
    if (rc == KITH_OK) {
        rc = write_record(s, &rec, 1);
    }
    if (rc == KITH_OK) {
        rc = write_former(s, &rec, 1);
    }
    if (rc == KITH_OK && out != NULL) {
        *out = rec;
    } else {
        kith_record_close(&rec);
    }
    return rc;
}

int
kith_store_put_op(kith_store_t *s, const uint8_t *signed_op, size_t len, const kith_op_t *op,
                  const uint8_t hash[static KITH_HASH_LEN], int *added)
{
    int existed = 0;
    if (s->vault == NULL) {
        return KITH_EINVAL;
    }
    int rc = insert_op(s, signed_op, len, op, hash, added, &existed);
    if (rc != KITH_OK || !*added) {
        return rc; /* already held: nothing to refold */
    }
    if (existed) {
        return refold_record(s, op->rec, NULL, 0, NULL, NULL);
    }
    /* A new record: its only op is this one, so fold it without reading back. */
    kith_fold_input_t in = {op, {0}};
    memcpy(in.hash, hash, KITH_HASH_LEN);
    return write_new_record(s, &in, 1, NULL, NULL);
}

/* ---- sync support ------------------------------------------------------------------- */

/* One item of the set offered to a peer, with its record, while the set is built. */
typedef struct {
    kith_item_t item;
    uint8_t rec[KITH_REC_ID_LEN];
} offered_t;

typedef struct {
    offered_t *v;
    size_t n, cap;
} offered_list_t;

static int
offered_cmp(const void *a, const void *b)
{
    const kith_item_t *x = &((const offered_t *) a)->item, *y = &((const offered_t *) b)->item;
    if (x->ts != y->ts) {
        return x->ts < y->ts ? -1 : 1;
    }
    return memcmp(x->id, y->id, KITH_HASH_LEN);
}

/* Runs sql, bound to peer (?1) and the newest sequence number (?2), whose rows are an op
 * (hlc, hash, rec, seq) and then n columns of the row of table that entitles the peer to
 * it, its record id first and its fold sequence number last, then that row's MAC. Each
 * entitling row must check (once: the rows of one record come together), and each op
 * must be no newer than the fold that wrote it: otherwise KITH_ETAMPER. table NULL: the
 * rows are ops alone, entitled by the caller. */
static int
offer_query(kith_store_t *s, const char *sql, const uint8_t peer[KITH_PK_LEN], uint64_t max_seq,
            const char *table, int n, offered_list_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, sql, &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_blob(st, 1, peer, KITH_PK_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) max_seq);
    uint8_t last[KITH_REC_ID_LEN];
    int64_t fold_seq = 0;
    int have_last = 0, r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 1) != KITH_HASH_LEN ||
            sqlite3_column_bytes(st, 2) != KITH_REC_ID_LEN) {
            rc = KITH_ECORRUPT;
            break;
        }
        const uint8_t *rec = sqlite3_column_blob(st, 2);
        if (table == NULL) {
            /* no entitling row: everything (a self peer) */
        } else if (!have_last || memcmp(rec, last, KITH_REC_ID_LEN) != 0) {
            if ((rc = check_row(s, table, st, 4, n, 4 + n)) != KITH_OK) {
                break;
            }
            memcpy(last, rec, KITH_REC_ID_LEN);
            fold_seq = sqlite3_column_int64(st, 4 + n - 1);
            have_last = 1;
        }
        if (table != NULL && sqlite3_column_int64(st, 3) > fold_seq) {
            rc = KITH_ETAMPER; /* the entitling row is from a fold before this op */
            break;
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 1024;
            offered_t *p = realloc(out->v, cap * sizeof(*p));
            if (p == NULL) {
                rc = KITH_ENOMEM;
                break;
            }
            out->v = p;
            out->cap = cap;
        }
        offered_t *o = &out->v[out->n++];
        o->item.ts = (uint64_t) sqlite3_column_int64(st, 0);
        memcpy(o->item.id, sqlite3_column_blob(st, 1), KITH_HASH_LEN);
        memcpy(o->rec, rec, KITH_REC_ID_LEN);
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = db_error(s->db);
    }
    release(s, st);
    return rc;
}

/* The set offered to a non-self peer (proto/SYNC.md), each op vouched for by a row that
 * checks: the records it owns, the records whose audience includes it, and of the records
 * it was removed from the op that removed it and the ops before it (which it could already
 * have), and nothing after. Joins driven by the entitling rows, so that the rows of one
 * record come together and each is checked once. */
static int
offer_rows(kith_store_t *s, const uint8_t peer[KITH_PK_LEN], uint64_t max_seq, offered_list_t *out)
{
    int rc = offer_query(s,
                         "SELECT o.hlc, o.hash, o.rec, o.seq, r.id, r.owner, r.kind, r.deleted, "
                         "r.created, r.updated, r.name_tag, r.fold_seq, r.mac "
                         "FROM records r INDEXED BY records_owner "
                         "JOIN ops o INDEXED BY ops_items ON o.rec = r.id "
                         "WHERE r.owner = ?1 AND o.private = 0 AND o.seq <= ?2",
                         peer, max_seq, "records", RECORD_MAC_N, out);
    if (rc == KITH_OK) {
        rc = offer_query(s,
                         "SELECT o.hlc, o.hash, o.rec, o.seq, a.rec, a.member, a.role, "
                         "a.fold_seq, a.mac FROM audience a INDEXED BY audience_member "
                         "JOIN ops o INDEXED BY ops_items ON o.rec = a.rec "
                         "WHERE a.member = ?1 AND o.private = 0 AND o.seq <= ?2",
                         peer, max_seq, "audience", 4, out);
    }
    if (rc == KITH_OK) {
        rc = offer_query(s,
                         "SELECT o.hlc, o.hash, o.rec, o.seq, f.rec, f.member, f.op, f.hlc, "
                         "f.fold_seq, f.mac FROM former f INDEXED BY former_member "
                         "JOIN ops o INDEXED BY ops_items ON o.rec = f.rec "
                         "WHERE f.member = ?1 AND o.private = 0 AND o.seq <= ?2 "
                         "AND (o.hlc < f.hlc OR o.hash = f.op)",
                         peer, max_seq, "former", 5, out);
    }
    return rc;
}

int
kith_store_sync_items(kith_store_t *s, const uint8_t peer[static KITH_PK_LEN], int self_peer,
                      kith_item_t **items, uint8_t (**recs)[KITH_REC_ID_LEN], size_t *n,
                      uint64_t *max_seq)
{
    offered_list_t l = {0};
    kith_item_t *list = NULL;
    uint8_t(*rlist)[KITH_REC_ID_LEN] = NULL;
    *items = NULL;
    *recs = NULL;
    *n = 0;
    *max_seq = 0;
    /* One read transaction: the rows checked are the rows the queries read. */
    int own_txn = sqlite3_get_autocommit(s->db);
    int rc = own_txn ? exec(s, "BEGIN") : KITH_OK;
    if (rc == KITH_OK) {
        rc = kith_store_max_seq(s, max_seq);
    }
    if (rc == KITH_OK && self_peer) {
        /* One of this user's own devices gets everything; its peers row checked when its
         * session was admitted. */
        rc = offer_query(s,
                         "SELECT hlc, hash, rec, seq FROM ops INDEXED BY ops_items "
                         "WHERE ?1 IS NOT NULL AND seq <= ?2",
                         peer, *max_seq, NULL, 0, &l);
    } else if (rc == KITH_OK) {
        rc = offer_rows(s, peer, *max_seq, &l);
    }
    if (own_txn) {
        exec(s, "COMMIT");
    }
    /* The reconciliation's (ts, id) order; a record that is both its own and shared with it
     * would give an op twice. */
    size_t count = 0;
    if (rc == KITH_OK && l.n > 1) {
        qsort(l.v, l.n, sizeof(*l.v), offered_cmp);
    }
    if (rc == KITH_OK && l.n > 0 &&
        ((list = malloc(l.n * sizeof(*list))) == NULL ||
         (rlist = malloc(l.n * KITH_REC_ID_LEN)) == NULL)) {
        rc = KITH_ENOMEM;
    }
    for (size_t i = 0; rc == KITH_OK && i < l.n; i++) {
        if (count > 0 && offered_cmp(&l.v[i], &l.v[i - 1]) == 0) {
            continue;
        }
        list[count] = l.v[i].item;
        memcpy(rlist[count], l.v[i].rec, KITH_REC_ID_LEN);
        count++;
    }
    free(l.v);
    if (rc != KITH_OK) {
        free(list);
        free(rlist);
        return rc;
    }
    *items = list;
    *recs = rlist;
    *n = count;
    return KITH_OK;
}

/* Runs a query that yields one integer. */
static int
query_u64(kith_store_t *s, const char *sql, uint64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, sql, &st);
    if (rc == KITH_OK && sqlite3_step(st) == SQLITE_ROW) {
        *out = (uint64_t) sqlite3_column_int64(st, 0);
    } else {
        rc = KITH_EDB;
    }
    release(s, st);
    return rc;
}

int
kith_store_max_seq(kith_store_t *s, uint64_t *max_seq)
{
    return query_u64(s, "SELECT ifnull(max(seq), 0) FROM ops", max_seq);
}

int
kith_store_op_get(kith_store_t *s, const uint8_t hash[static KITH_HASH_LEN], kith_buf_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc =
        prepare(s, "SELECT hash, rec, author, private, hlc, data FROM ops WHERE hash = ?", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_blob(st, 1, hash, KITH_HASH_LEN, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        rc = unseal_op_row(s, st, 0, 5, out);
    } else {
        rc = r == SQLITE_DONE ? KITH_ENOTFOUND : KITH_EDB;
    }
    release(s, st);
    return rc;
}

/* The last record vouch_one() found peer may hold (an owner's or audience member's):
 * pushes come in runs of one record's ops. */
typedef struct {
    uint8_t rec[KITH_REC_ID_LEN];
    int64_t fold_seq;
    int valid;
} vouch_cache_t;

/* Runs sql, bound to rec, peer and (when hash is not NULL) hash, and checks the row it
 * returns (n columns of table, the fold sequence number last, then the MAC): *fold_seq.
 * *found = 0 if it returns none. */
static int
vouch_row(kith_store_t *s, const char *sql, const char *table, int n,
          const uint8_t rec[KITH_REC_ID_LEN], const uint8_t peer[KITH_PK_LEN], const uint8_t *hash,
          int *found, int64_t *fold_seq)
{
    sqlite3_stmt *st = NULL;
    *found = 0;
    int rc = prepare(s, sql, &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_blob(st, 1, rec, KITH_REC_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, peer, KITH_PK_LEN, SQLITE_STATIC);
    if (hash != NULL) {
        sqlite3_bind_blob(st, 3, hash, KITH_HASH_LEN, SQLITE_STATIC);
    }
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        rc = check_row(s, table, st, 0, n, n);
        *found = rc == KITH_OK;
        *fold_seq = sqlite3_column_int64(st, n - 1);
    } else if (r != SQLITE_DONE) {
        rc = db_error(s->db);
    }
    release(s, st);
    return rc;
}

/* KITH_OK if op (hash, seq) of record rec may be pushed to peer by rows that check: the
 * record is its own, or its audience includes it, or this op removed it. KITH_ETAMPER if
 * not (the query that chose the op read rows that do not check). */
static int
vouch_one(kith_store_t *s, const uint8_t peer[KITH_PK_LEN], const uint8_t rec[KITH_REC_ID_LEN],
          const uint8_t hash[KITH_HASH_LEN], int64_t seq, vouch_cache_t *cache)
{
    if (cache->valid && memcmp(cache->rec, rec, KITH_REC_ID_LEN) == 0 && seq <= cache->fold_seq) {
        return KITH_OK;
    }
    int64_t fold_seq = 0;
    int found = 0;
    int rc = vouch_row(s,
                       "SELECT rec, member, role, fold_seq, mac FROM audience "
                       "WHERE rec = ?1 AND member = ?2",
                       "audience", 4, rec, peer, NULL, &found, &fold_seq);
    if (rc == KITH_OK && !found) {
        rc = vouch_row(s, "SELECT " RECORD_MAC_COLUMNS " FROM records WHERE id = ?1 AND owner = ?2",
                       "records", RECORD_MAC_N, rec, peer, NULL, &found, &fold_seq);
    }
    if (rc == KITH_OK && found) {
        if (seq > fold_seq) {
            return KITH_ETAMPER; /* the row is from a fold before this op */
        }
        memcpy(cache->rec, rec, KITH_REC_ID_LEN);
        cache->fold_seq = fold_seq;
        cache->valid = 1;
        return KITH_OK;
    }
    if (rc == KITH_OK) {
        rc = vouch_row(s,
                       "SELECT rec, member, op, hlc, fold_seq, mac FROM former "
                       "WHERE rec = ?1 AND member = ?2 AND op = ?3",
                       "former", 5, rec, peer, hash, &found, &fold_seq);
    }
    if (rc == KITH_OK && found && seq > fold_seq) {
        return KITH_ETAMPER;
    }
    return rc == KITH_OK && !found ? KITH_ETAMPER : rc;
}

/* The ops offered to peer, in sequence order: those after after_seq (at most limit), or,
 * with rec, all of that record's. Each row is vouched for before cb sees it. */
static int
offered_ops(kith_store_t *s, const uint8_t peer[KITH_PK_LEN], int self_peer, const uint8_t *rec,
            uint64_t after_seq, size_t limit, kith_seq_op_cb cb, void *ctx, uint64_t *last_seq)
{
    sqlite3_stmt *st = NULL;
    kith_buf_t pt;
    kith_buf_init(&pt);
    vouch_cache_t cache = {.valid = 0};
    *last_seq = after_seq;
    int rc = rec != NULL
                 ? prepare(s,
                           self_peer
                               ? "SELECT seq, hash, rec, author, private, hlc, data FROM ops "
                                 "WHERE ?1 IS NOT NULL AND rec = ?4 ORDER BY seq"
                               : "SELECT o.seq, o.hash, o.rec, o.author, o.private, o.hlc, o.data "
                                 "FROM ops o JOIN records r ON r.id = o.rec "
                                 "WHERE o.rec = ?4 AND o.private = 0 AND (r.owner = ?1 OR EXISTS "
                                 "(SELECT 1 FROM audience a WHERE a.rec = o.rec AND a.member = ?1) "
                                 "OR EXISTS (SELECT 1 FROM former f WHERE f.rec = o.rec "
                                 "AND f.member = ?1 AND f.op = o.hash)) "
                                 "ORDER BY o.seq",
                           &st)
                 : prepare(s,
                           self_peer
                               ? "SELECT seq, hash, rec, author, private, hlc, data FROM ops "
                                 "WHERE ?1 IS NOT NULL AND seq > ?2 ORDER BY seq LIMIT ?3"
                               /* Of a record it was removed from, only the removing op is
                                * pushed: the ops before it reached it when they were made, or
                                * come with the next reconciliation if it holds the record. */
                               : "SELECT o.seq, o.hash, o.rec, o.author, o.private, o.hlc, o.data "
                                 "FROM ops o JOIN records r ON r.id = o.rec "
                                 "WHERE o.seq > ?2 AND o.private = 0 AND (r.owner = ?1 OR EXISTS "
                                 "(SELECT 1 FROM audience a WHERE a.rec = o.rec AND a.member = ?1) "
                                 "OR EXISTS (SELECT 1 FROM former f WHERE f.rec = o.rec "
                                 "AND f.member = ?1 AND f.op = o.hash)) "
                                 "ORDER BY o.seq LIMIT ?3",
                           &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_blob(st, 1, peer, KITH_PK_LEN, SQLITE_STATIC);
    if (rec != NULL) {
        sqlite3_bind_blob(st, 4, rec, KITH_REC_ID_LEN, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, 2, (sqlite3_int64) after_seq);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) limit);
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 1) != KITH_HASH_LEN) {
            rc = KITH_ECORRUPT;
            break;
        }
        uint8_t hash[KITH_HASH_LEN];
        memcpy(hash, sqlite3_column_blob(st, 1), KITH_HASH_LEN);
        pt.len = 0;
        rc = unseal_op_row(s, st, 1, 6, &pt);
        if (rc == KITH_OK && !self_peer) {
            rc = vouch_one(s, peer, sqlite3_column_blob(st, 2), hash, sqlite3_column_int64(st, 0),
                           &cache);
        }
        if (rc == KITH_OK) {
            rc = cb(ctx, pt.data, pt.len, hash);
        }
        if (rc != KITH_OK) {
            break;
        }
        *last_seq = (uint64_t) sqlite3_column_int64(st, 0);
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = KITH_EDB;
    }
    release(s, st);
    kith_buf_close(&pt);
    return rc;
}

int
kith_store_ops_since(kith_store_t *s, const uint8_t peer[static KITH_PK_LEN], int self_peer,
                     uint64_t after_seq, size_t limit, kith_seq_op_cb cb, void *ctx,
                     uint64_t *last_seq)
{
    return offered_ops(s, peer, self_peer, NULL, after_seq, limit, cb, ctx, last_seq);
}

int
kith_store_record_ops_for(kith_store_t *s, const uint8_t peer[static KITH_PK_LEN], int self_peer,
                          const uint8_t rec[static KITH_REC_ID_LEN], kith_seq_op_cb cb, void *ctx)
{
    uint64_t last;
    return offered_ops(s, peer, self_peer, rec, 0, 0, cb, ctx, &last);
}

#define VERIFY_THREADS_MAX 4

typedef struct {
    const uint8_t *const *ops;
    const size_t *lens;
    kith_op_t *decoded;
    uint8_t (*hashes)[KITH_HASH_LEN];
    int *rcs;
    size_t first, end;
} verify_slice_t;

static void *
verify_slice(void *arg)
{
    verify_slice_t *v = arg;
    for (size_t i = v->first; i < v->end; i++) {
        if (v->rcs[i] != KITH_EEXISTS) {
            v->rcs[i] = kith_op_verify(v->ops[i], v->lens[i], &v->decoded[i], v->hashes[i]);
        }
    }
    return NULL;
}

/* Marks with KITH_EEXISTS in rcs the ops already stored, by the hash of their encoding:
 * they need neither verifying nor storing again. Relayed and re-sent ops are common, and
 * this keeps a peer that floods us with them cheap to absorb. (An op we hold with a
 * forged signature on it changes nothing: the stored copy is the authentic one.) */
static int
mark_known(kith_store_t *s, const uint8_t *const *ops, const size_t *lens, size_t n, int *rcs)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT 1 FROM ops WHERE hash = ?", &st);
    for (size_t i = 0; rc == KITH_OK && i < n; i++) {
        if (lens[i] <= KITH_SIG_LEN) {
            continue;
        }
        uint8_t hash[KITH_HASH_LEN];
        kith_op_hash(ops[i] + KITH_SIG_LEN, lens[i] - KITH_SIG_LEN, hash);
        sqlite3_reset(st);
        sqlite3_bind_blob(st, 1, hash, KITH_HASH_LEN, SQLITE_TRANSIENT);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            rcs[i] = KITH_EEXISTS;
        } else if (step != SQLITE_DONE) {
            rc = db_error(s->db);
        }
    }
    release(s, st);
    return rc;
}

/* Verifies n signed ops on up to four threads, skipping those marked KITH_EEXISTS:
 * Ed25519 verification is most of the CPU cost of receiving a large sync. */
static void
verify_all(const uint8_t *const *ops, const size_t *lens, size_t n, kith_op_t *decoded,
           uint8_t (*hashes)[KITH_HASH_LEN], int *rcs)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t threads = cpus < 1 ? 1 : (size_t) cpus;
    if (threads > VERIFY_THREADS_MAX) {
        threads = VERIFY_THREADS_MAX;
    }
    if (n < 32) {
        threads = 1;
    }
    verify_slice_t sl[VERIFY_THREADS_MAX];
    pthread_t tids[VERIFY_THREADS_MAX];
    int started[VERIFY_THREADS_MAX] = {0};
    for (size_t t = 0; t < threads; t++) {
        sl[t] = (verify_slice_t){
            ops, lens, decoded, hashes, rcs, n * t / threads, n * (t + 1) / threads};
        if (t + 1 < threads && pthread_create(&tids[t], NULL, verify_slice, &sl[t]) == 0) {
            started[t] = 1;
        } else {
            verify_slice(&sl[t]);
        }
    }
    for (size_t t = 0; t < threads; t++) {
        if (started[t]) {
            pthread_join(tids[t], NULL);
        }
    }
}

/* A record new to this store, all of whose ops are in this batch: folds them from memory
 * instead of reading back what was just sealed and stored (most of an initial sync).
 * group_index[j] is the op's index in decoded, hashes[j] its hash; eff[j] tells whether
 * it took effect. */
static int
fold_new_record(kith_store_t *s, kith_op_t *decoded, const size_t *group_index,
                const uint8_t (*hashes)[KITH_HASH_LEN], size_t n, int *eff, kith_record_t *out)
{
    kith_fold_input_t *in = calloc(n, sizeof(*in));
    int *all = calloc(n, sizeof(*all));
    int rc = in != NULL && all != NULL ? KITH_OK : KITH_ENOMEM;
    for (size_t j = 0; rc == KITH_OK && j < n; j++) {
        in[j].op = &decoded[group_index[j]];
        memcpy(in[j].hash, hashes[j], KITH_HASH_LEN);
    }
    if (rc == KITH_OK) {
        rc = write_new_record(s, in, n, all, out); /* sorts in into fold order */
    }
    for (size_t j = 0; rc == KITH_OK && j < n; j++) {
        for (size_t x = 0; x < n; x++) {
            if (memcmp(in[x].hash, hashes[j], KITH_HASH_LEN) == 0) {
                eff[j] = all[x];
            }
        }
    }
    free(in);
    free(all);
    return rc;
}

/* The body of kith_store_apply_remote() and kith_store_apply_envelope(): with
 * receiver_check, this node must be in the record's audience too. */
static int
apply_ops(kith_store_t *s, const uint8_t self[KITH_PK_LEN], const uint8_t sender[KITH_PK_LEN],
          int self_peer, int receiver_check, const uint8_t *const *ops, const size_t *lens,
          size_t n, kith_apply_stats_t *stats, kith_reject_cb reject, void *ctx)
{
    kith_op_t *decoded = calloc(n ? n : 1, sizeof(*decoded));
    uint8_t(*hashes)[KITH_HASH_LEN] = calloc(n ? n : 1, KITH_HASH_LEN);
    int *ok = calloc(n ? n : 1, sizeof(int));
    size_t *order = calloc(n ? n : 1, sizeof(size_t));
    int *vrcs = NULL;
    uint8_t(*group_hashes)[KITH_HASH_LEN] = calloc(n ? n : 1, KITH_HASH_LEN);
    size_t *group_index = calloc(n ? n : 1, sizeof(size_t));
    int *group_eff = calloc(n ? n : 1, sizeof(int));
    int rc = KITH_OK;
    if (decoded == NULL || hashes == NULL || ok == NULL || order == NULL || group_hashes == NULL ||
        group_index == NULL || group_eff == NULL) {
        rc = KITH_ENOMEM;
        goto out;
    }
    /* Verify every signature first: CPU work, no database. */
    vrcs = calloc(n ? n : 1, sizeof(int));
    if (vrcs == NULL) {
        rc = KITH_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        kith_op_init(&decoded[i]);
    }
    rc = mark_known(s, ops, lens, n, vrcs);
    if (rc != KITH_OK) {
        goto out;
    }
    verify_all(ops, lens, n, decoded, hashes, vrcs);
    for (size_t i = 0; i < n; i++) {
        int vrc = vrcs[i];
        if (vrc == KITH_EEXISTS) {
            stats->duplicate++;
            continue;
        }
        if (vrc != KITH_OK) {
            stats->rejected++;
            if (reject) {
                reject(ctx, NULL, vrc == KITH_ECRYPTO ? "bad signature" : "malformed op");
            }
            continue;
        }
        const char *why = kith_accept_op(&decoded[i], self_peer, kith_hlc_now_ms());
        if (why != NULL) {
            stats->rejected++;
            if (reject) {
                reject(ctx, &decoded[i], why);
            }
            continue;
        }
        ok[i] = 1;
    }
    /* Group by record, keeping the sender's order within each record (which is hlc
     * order, so that an audience change lands before the edits it permits). */
    size_t n_order = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ok[i]) {
            continue;
        }
        int placed = 0;
        for (size_t k = 0; k < n_order && !placed; k++) {
            placed = memcmp(decoded[order[k]].rec, decoded[i].rec, KITH_REC_ID_LEN) == 0;
        }
        if (placed) {
            continue;
        }
        for (size_t k = i; k < n; k++) {
            if (ok[k] && memcmp(decoded[k].rec, decoded[i].rec, KITH_REC_ID_LEN) == 0) {
                order[n_order++] = k;
            }
        }
    }
    for (size_t g = 0; g < n_order && rc == KITH_OK;) {
        size_t end = g;
        while (end < n_order &&
               memcmp(decoded[order[end]].rec, decoded[order[g]].rec, KITH_REC_ID_LEN) == 0) {
            end++;
        }
        rc = exec(s, "SAVEPOINT rec");
        size_t added_here = 0, dup_here = 0, rejected_here = 0, n_added = 0;
        int existed = 1;
        /* Store the record's new ops, then fold once: refolding after every op would read
         * the record's whole history again for each of them. */
        for (size_t k = g; k < end && rc == KITH_OK; k++) {
            size_t i = order[k];
            int added = 0;
            int prc = insert_op(s, ops[i], lens[i], &decoded[i], hashes[i], &added,
                                k == g ? &existed : NULL);
            if (prc == KITH_EAUTH) {
                rejected_here++;
                if (reject) {
                    reject(ctx, &decoded[i], "op names another owner than the record's");
                }
            } else if (prc != KITH_OK) {
                rc = prc;
            } else if (added) {
                memcpy(group_hashes[n_added], hashes[i], KITH_HASH_LEN);
                group_index[n_added++] = i;
            } else {
                dup_here++;
            }
        }
        kith_record_t folded;
        kith_record_init(&folded);
        if (rc == KITH_OK && n_added > 0) {
            rc = existed ? refold_record(s, decoded[order[g]].rec,
                                         (const uint8_t(*)[KITH_HASH_LEN]) group_hashes, n_added,
                                         group_eff, &folded)
                         : fold_new_record(s, decoded, group_index,
                                           (const uint8_t(*)[KITH_HASH_LEN]) group_hashes, n_added,
                                           group_eff, &folded);
            size_t removed = 0;
            for (size_t j = 0; rc == KITH_OK && j < n_added; j++) {
                if (group_eff[j]) {
                    continue;
                }
                /* Its author was neither the owner nor an editor at that time. */
                rc = delete_op(s, group_hashes[j]);
                removed++;
                if (reject) {
                    reject(ctx, &decoded[group_index[j]],
                           "author has no authority over this record");
                }
            }
            if (rc == KITH_OK && removed > 0) {
                kith_record_close(&folded);
                rc = refold_record(s, decoded[order[g]].rec, NULL, 0, NULL, &folded);
            }
            rejected_here += removed;
            added_here = n_added - removed;
        }
        /* The sender must be entitled to hold the record, and so must we. */
        int entitled = 1;
        if (rc == KITH_OK && added_here > 0) {
            kith_fold_input_t *kept = calloc(added_here, sizeof(*kept));
            size_t n_kept = 0;
            for (size_t j = 0; kept != NULL && j < n_added; j++) {
                if (group_eff[j]) {
                    kept[n_kept].op = &decoded[group_index[j]];
                    memcpy(kept[n_kept++].hash, group_hashes[j], KITH_HASH_LEN);
                }
            }
            if (kept == NULL) {
                rc = KITH_ENOMEM;
            } else {
                entitled = kith_accept_holding(&folded, sender, self, self_peer, receiver_check,
                                               existed, kept, n_kept);
            }
            free(kept);
        }
        kith_record_close(&folded);
        if (rc == KITH_OK && !entitled) {
            rc = exec(s, "ROLLBACK TO rec");
            rejected_here += added_here;
            added_here = 0;
            if (reject) {
                reject(ctx, &decoded[order[g]],
                       "sender or receiver is not in the record's audience");
            }
        }
        if (rc == KITH_OK) {
            rc = exec(s, "RELEASE rec");
        }
        stats->accepted += added_here;
        stats->duplicate += dup_here;
        stats->rejected += rejected_here;
        g = end;
    }
out:
    for (size_t i = 0; decoded != NULL && i < n; i++) {
        kith_op_close(&decoded[i]);
    }
    free(vrcs);
    free(group_hashes);
    free(group_index);
    free(group_eff);
    free(decoded);
    free(hashes);
    free(ok);
    free(order);
    return rc;
}

static int
decode_record_row(kith_store_t *s, sqlite3_stmt *st, int id_col, int data_col, kith_record_t *out)
{
    kith_buf_t pt;
    kith_buf_init(&pt);
    if (sqlite3_column_bytes(st, id_col) != KITH_REC_ID_LEN) {
        return KITH_ECORRUPT;
    }
    uint8_t ad[REC_AD_LEN];
    rec_ad(ad, "rec2", sqlite3_column_blob(st, id_col));
    int rc = unseal_column(s, st, data_col, ad, sizeof(ad), &pt);
    if (rc == KITH_OK) {
        rc = kith_record_decode(pt.data, pt.len, out);
    }
    kith_buf_close(&pt);
    return rc;
}

int
kith_store_record_get(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN], kith_record_t *out)
{
    kith_record_init(out);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT id, data FROM records WHERE id=?", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_blob(st, 1, id, KITH_REC_ID_LEN, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        rc = decode_record_row(s, st, 0, 1, out);
    } else {
        rc = r == SQLITE_DONE ? KITH_ENOTFOUND : KITH_EDB;
    }
    release(s, st);
    return rc;
}

static int
foreach_record(kith_store_t *s, int deleted, kith_record_cb cb, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT id, data FROM records WHERE deleted=?", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_int(st, 1, deleted);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        kith_record_t rec;
        rc = decode_record_row(s, st, 0, 1, &rec);
        if (rc == KITH_ECORRUPT) {
            /* One damaged record must not hide all the others. */
            s->skipped++;
            rc = KITH_OK;
            continue;
        }
        if (rc == KITH_OK) {
            rc = cb(ctx, &rec);
            kith_record_close(&rec);
        }
        if (rc != KITH_OK) {
            break;
        }
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = KITH_EDB;
    }
    release(s, st);
    return rc;
}

int
kith_store_foreach_record(kith_store_t *s, kith_record_cb cb, void *ctx)
{
    return foreach_record(s, 0, cb, ctx);
}

int
kith_store_foreach_deleted(kith_store_t *s, kith_record_cb cb, void *ctx)
{
    return foreach_record(s, 1, cb, ctx);
}

int
kith_store_record_versions(kith_store_t *s, uint64_t since, kith_version_cb cb, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT id, owner, fold_seq, deleted FROM records WHERE fold_seq > ?", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64) since);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != KITH_REC_ID_LEN ||
            sqlite3_column_bytes(st, 1) != KITH_PK_LEN) {
            rc = KITH_ECORRUPT;
            break;
        }
        rc = cb(ctx, sqlite3_column_blob(st, 0), sqlite3_column_blob(st, 1),
                (uint64_t) sqlite3_column_int64(st, 2), sqlite3_column_int(st, 3) != 0);
        if (rc != 0) {
            break;
        }
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = db_error(s->db);
    }
    release(s, st);
    return rc;
}

int
kith_store_record_version(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN],
                          uint64_t *fold_seq, int *deleted)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT fold_seq, deleted FROM records WHERE id = ?", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_blob(st, 1, id, KITH_REC_ID_LEN, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *fold_seq = (uint64_t) sqlite3_column_int64(st, 0);
        *deleted = sqlite3_column_int(st, 1) != 0;
    } else {
        rc = r == SQLITE_DONE ? KITH_ENOTFOUND : db_error(s->db);
    }
    release(s, st);
    return rc;
}

int
kith_store_audience_recs(kith_store_t *s, const uint8_t member[static KITH_PK_LEN], kith_id_cb cb,
                         void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT rec FROM audience WHERE member = ?", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_blob(st, 1, member, KITH_PK_LEN, SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != KITH_REC_ID_LEN) {
            rc = KITH_ECORRUPT;
            break;
        }
        rc = cb(ctx, sqlite3_column_blob(st, 0));
        if (rc != 0) {
            break;
        }
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = db_error(s->db);
    }
    release(s, st);
    return rc;
}

int
kith_store_count_records(kith_store_t *s, uint64_t *n)
{
    return query_u64(s, "SELECT count(*) FROM records WHERE deleted=0", n);
}

int
kith_store_search(kith_store_t *s, const char *needle, kith_record_cb cb, void *ctx)
{
    sqlite3_stmt *st = NULL;
    kith_buf_t folded, text;
    kith_buf_init(&folded);
    kith_buf_init(&text);
    int rc = kith_textfold(needle, strlen(needle), &folded);
    if (rc == KITH_OK) {
        rc = prepare(s, "SELECT id, text FROM search", &st);
    }
    if (rc != KITH_OK) {
        goto out;
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != KITH_REC_ID_LEN) {
            rc = KITH_ECORRUPT;
            break;
        }
        text.len = 0;
        uint8_t ad[REC_AD_LEN];
        rec_ad(ad, "srch", sqlite3_column_blob(st, 0));
        rc = unseal_column(s, st, 1, ad, sizeof(ad), &text);
        if (rc == KITH_ECORRUPT) {
            s->skipped++;
            rc = KITH_OK;
            continue;
        }
        if (rc != KITH_OK) {
            break;
        }
        if (!kith_textfold_contains((const char *) text.data, text.len, (const char *) folded.data,
                                    folded.len)) {
            continue;
        }
        uint8_t id[KITH_REC_ID_LEN];
        memcpy(id, sqlite3_column_blob(st, 0), KITH_REC_ID_LEN);
        kith_record_t rec;
        rc = kith_store_record_get(s, id, &rec);
        if (rc == KITH_ECORRUPT || rc == KITH_ENOTFOUND) {
            s->skipped += rc == KITH_ECORRUPT;
            rc = KITH_OK;
            continue;
        }
        if (rc == KITH_OK) {
            rc = cb(ctx, &rec);
            kith_record_close(&rec);
        }
        if (rc != KITH_OK) {
            break;
        }
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = KITH_EDB;
    }
out:
    release(s, st);
    kith_buf_close(&folded);
    kith_buf_close(&text);
    return rc;
}

static int
is_hex(const char *s)
{
    for (; *s; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    return (c | 0x20) - 'a' + 10;
}

typedef struct {
    uint8_t ids[8][KITH_REC_ID_LEN];
    size_t n;
} candidates_t;

static void
add_candidate(candidates_t *c, const uint8_t *id)
{
    for (size_t i = 0; i < c->n && i < 8; i++) {
        if (memcmp(c->ids[i], id, KITH_REC_ID_LEN) == 0) {
            return;
        }
    }
    if (c->n < 8) {
        memcpy(c->ids[c->n], id, KITH_REC_ID_LEN);
    }
    c->n++;
}

static int
collect(sqlite3_stmt *st, candidates_t *c)
{
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) == KITH_REC_ID_LEN) {
            add_candidate(c, sqlite3_column_blob(st, 0));
        }
    }
    return r == SQLITE_DONE ? KITH_OK : KITH_EDB;
}

int
kith_store_resolve(kith_store_t *s, const char *ref, int with_deleted,
                   uint8_t id[static KITH_REC_ID_LEN], kith_buf_t *cands)
{
    candidates_t c = {.n = 0};
    sqlite3_stmt *st = NULL;
    size_t len = strlen(ref);
    int rc = KITH_OK;
    if (len >= 4 && len <= 32 && is_hex(ref)) {
        /* An id prefix selects the range [prefix000..., prefixfff...]. */
        uint8_t lo[KITH_REC_ID_LEN], hi[KITH_REC_ID_LEN];
        for (size_t i = 0; i < KITH_REC_ID_LEN; i++) {
            int a = 2 * i < len ? hexval(ref[2 * i]) : -1;
            int b = 2 * i + 1 < len ? hexval(ref[2 * i + 1]) : -1;
            lo[i] = (uint8_t) (((a < 0 ? 0 : a) << 4) | (b < 0 ? 0 : b));
            hi[i] = (uint8_t) (((a < 0 ? 15 : a) << 4) | (b < 0 ? 15 : b));
        }
        rc = prepare(s, "SELECT id FROM records WHERE deleted<=? AND id BETWEEN ? AND ? LIMIT 9",
                     &st);
        if (rc == KITH_OK) {
            sqlite3_bind_int(st, 1, with_deleted != 0);
            sqlite3_bind_blob(st, 2, lo, KITH_REC_ID_LEN, SQLITE_STATIC);
            sqlite3_bind_blob(st, 3, hi, KITH_REC_ID_LEN, SQLITE_STATIC);
            rc = collect(st, &c);
        }
        release(s, st);
        st = NULL;
    }
    if (rc == KITH_OK && s->vault != NULL) {
        uint8_t tag[KITH_NAME_TAG_LEN];
        rc = name_tag(s, ref, tag);
        if (rc == KITH_OK) {
            rc = prepare(s, "SELECT id FROM records WHERE deleted<=? AND name_tag=? LIMIT 9", &st);
        }
        if (rc == KITH_OK) {
            sqlite3_bind_int(st, 1, with_deleted != 0);
            sqlite3_bind_blob(st, 2, tag, KITH_NAME_TAG_LEN, SQLITE_STATIC);
            rc = collect(st, &c);
        }
        release(s, st);
    }
    if (rc != KITH_OK) {
        return rc;
    }
    if (c.n == 0) {
        return KITH_ENOTFOUND;
    }
    if (c.n == 1) {
        memcpy(id, c.ids[0], KITH_REC_ID_LEN);
        return KITH_OK;
    }
    for (size_t i = 0; cands != NULL && i < c.n && i < 8; i++) {
        kith_record_t r;
        char hex[2 * KITH_REC_ID_LEN + 1];
        for (size_t k = 0; k < KITH_REC_ID_LEN; k++) {
            snprintf(hex + 2 * k, 3, "%02x", c.ids[i][k]);
        }
        if (kith_store_record_get(s, c.ids[i], &r) == KITH_OK) {
            kith_buf_printf(cands, "  %.8s  %s\n", hex, kith_record_name(&r));
            kith_record_close(&r);
        }
    }
    if (cands != NULL && c.n > 8) {
        kith_buf_printf(cands, "  ... and more\n");
    }
    return KITH_EAMBIGUOUS;
}

/* ---- shares ------------------------------------------------------------------------- */

/* Binds a share target as stored: a peer's key as a blob, a group as "@name" text. */
static void
bind_target(sqlite3_stmt *st, int col, const kith_share_target_t *t)
{
    if (t->is_group) {
        char text[KITH_PEER_NAME_MAX + 2];
        snprintf(text, sizeof(text), "@%s", t->group);
        sqlite3_bind_text(st, col, text, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_blob(st, col, t->key, KITH_PK_LEN, SQLITE_STATIC);
    }
}

/* Reads a stored share target back; KITH_ECORRUPT for anything else. */
static int
column_target(sqlite3_stmt *st, int col, kith_share_target_t *t)
{
    memset(t, 0, sizeof(*t));
    int type = sqlite3_column_type(st, col);
    int len = sqlite3_column_bytes(st, col);
    if (type == SQLITE_BLOB && len == KITH_PK_LEN) {
        memcpy(t->key, sqlite3_column_blob(st, col), KITH_PK_LEN);
        return KITH_OK;
    }
    const char *text = (const char *) sqlite3_column_text(st, col);
    if (type == SQLITE_TEXT && text != NULL && text[0] == '@' && len >= 2 &&
        len <= KITH_PEER_NAME_MAX + 1) {
        t->is_group = 1;
        memcpy(t->group, text + 1, (size_t) len - 1);
        return KITH_OK;
    }
    return KITH_ECORRUPT;
}

int
kith_share_target_eq(const kith_share_target_t *a, const kith_share_target_t *b)
{
    if (a->is_group != b->is_group) {
        return 0;
    }
    return a->is_group ? strcmp(a->group, b->group) == 0 : memcmp(a->key, b->key, KITH_PK_LEN) == 0;
}

/* A shares row: rec, target (a key, or "@group" as text), role. */
static int
share_mac(kith_store_t *s, const uint8_t id[KITH_REC_ID_LEN], const kith_share_target_t *target,
          int role, uint8_t mac[KITH_ROW_MAC_LEN])
{
    if (s->vault == NULL) {
        return KITH_EINVAL;
    }
    kith_rowmac_begin(&s->mac, "shares");
    kith_rowmac_blob(&s->mac, id, KITH_REC_ID_LEN);
    if (target->is_group) {
        char text[KITH_PEER_NAME_MAX + 2];
        snprintf(text, sizeof(text), "@%s", target->group);
        kith_rowmac_text(&s->mac, text);
    } else {
        kith_rowmac_blob(&s->mac, target->key, KITH_PK_LEN);
    }
    kith_rowmac_int(&s->mac, role);
    return kith_rowmac_end(&s->mac, s->vault, mac);
}

int
kith_store_share_mac_ok(kith_store_t *s, const uint8_t rec[static KITH_REC_ID_LEN],
                        const kith_share_target_t *target, int role,
                        const uint8_t mac[static KITH_ROW_MAC_LEN])
{
    uint8_t want[KITH_ROW_MAC_LEN];
    return share_mac(s, rec, target, role, want) == KITH_OK &&
           sodium_memcmp(want, mac, KITH_ROW_MAC_LEN) == 0;
}

static int
share_set_in(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN],
             const kith_share_target_t *target, int role)
{
    sqlite3_stmt *st = NULL;
    if (target->is_group && (target->group[0] == '\0' ||
                             strnlen(target->group, sizeof(target->group)) > KITH_PEER_NAME_MAX)) {
        return KITH_EINVAL;
    }
    uint8_t mac[KITH_ROW_MAC_LEN];
    int rc = share_mac(s, id, target, role, mac);
    if (rc == KITH_OK) {
        rc = auth_will_change(s, AUTH_SHARES);
    }
    if (rc == KITH_OK) {
        rc = prepare(s, "INSERT OR REPLACE INTO shares(rec, target, role, mac) VALUES(?, ?, ?, ?)",
                     &st);
    }
    if (rc == KITH_OK) {
        sqlite3_bind_blob(st, 1, id, KITH_REC_ID_LEN, SQLITE_STATIC);
        bind_target(st, 2, target);
        sqlite3_bind_int(st, 3, role);
        sqlite3_bind_blob(st, 4, mac, KITH_ROW_MAC_LEN, SQLITE_STATIC);
        rc = step_done(st);
    }
    release(s, st);
    return rc;
}

int
kith_store_share_set(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN],
                     const kith_share_target_t *target, int role)
{
    int own = 0;
    int rc = own_txn_begin(s, &own);
    if (rc == KITH_OK) {
        rc = share_set_in(s, id, target, role);
    }
    return own_txn_end(s, own, rc);
}

static int
share_remove_in(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN],
                const kith_share_target_t *target, int *removed)
{
    sqlite3_stmt *st = NULL;
    *removed = 0;
    int rc = auth_will_change(s, AUTH_SHARES);
    if (rc == KITH_OK) {
        rc = prepare(s, "DELETE FROM shares WHERE rec=? AND target=?", &st);
    }
    if (rc == KITH_OK) {
        sqlite3_bind_blob(st, 1, id, KITH_REC_ID_LEN, SQLITE_STATIC);
        bind_target(st, 2, target);
        rc = step_done(st);
        *removed = rc == KITH_OK && sqlite3_changes(s->db) > 0;
    }
    release(s, st);
    return rc;
}

int
kith_store_share_remove(kith_store_t *s, const uint8_t id[static KITH_REC_ID_LEN],
                        const kith_share_target_t *target, int *removed)
{
    int own = 0;
    int rc = own_txn_begin(s, &own);
    if (rc == KITH_OK) {
        rc = share_remove_in(s, id, target, removed);
    }
    return own_txn_end(s, own, rc);
}

static int
share_remove_peer_in(kith_store_t *s, const uint8_t key[static KITH_PK_LEN], size_t *removed)
{
    sqlite3_stmt *st = NULL;
    *removed = 0;
    int rc = auth_will_change(s, AUTH_SHARES);
    if (rc == KITH_OK) {
        rc = prepare(s, "DELETE FROM shares WHERE target=?", &st);
    }
    if (rc == KITH_OK) {
        sqlite3_bind_blob(st, 1, key, KITH_PK_LEN, SQLITE_STATIC);
        rc = step_done(st);
        *removed = rc == KITH_OK ? (size_t) sqlite3_changes(s->db) : 0;
    }
    release(s, st);
    return rc;
}

int
kith_store_share_remove_peer(kith_store_t *s, const uint8_t key[static KITH_PK_LEN],
                             size_t *removed)
{
    int own = 0;
    int rc = own_txn_begin(s, &own);
    if (rc == KITH_OK) {
        rc = share_remove_peer_in(s, key, removed);
    }
    return own_txn_end(s, own, rc);
}

int
kith_store_share_foreach(kith_store_t *s, const uint8_t *id, kith_share_cb cb, void *ctx)
{
    sqlite3_stmt *st = NULL;
    /* Every row checks; a walk over all of them (group changes) checks the table too, so
     * that a share put back after it was removed is caught. */
    int rc = id == NULL ? auth_check_table(s, "shares") : KITH_OK;
    if (rc == KITH_OK) {
        rc = prepare(s,
                     id ? "SELECT rec, target, role, mac FROM shares WHERE rec=? ORDER BY target"
                        : "SELECT rec, target, role, mac FROM shares ORDER BY rec, target",
                     &st);
    }
    if (rc != KITH_OK) {
        return rc;
    }
    if (id != NULL) {
        sqlite3_bind_blob(st, 1, id, KITH_REC_ID_LEN, SQLITE_STATIC);
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        kith_share_target_t t;
        if ((rc = check_row(s, "shares", st, 0, 3, 3)) != KITH_OK) {
            break;
        }
        if (sqlite3_column_bytes(st, 0) != KITH_REC_ID_LEN || column_target(st, 1, &t) != KITH_OK) {
            rc = KITH_ECORRUPT;
            break;
        }
        uint8_t rec[KITH_REC_ID_LEN];
        memcpy(rec, sqlite3_column_blob(st, 0), KITH_REC_ID_LEN);
        rc = cb(ctx, rec, &t, sqlite3_column_int(st, 2));
        if (rc != KITH_OK) {
            break;
        }
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = KITH_EDB;
    }
    release(s, st);
    return rc;
}

int
kith_store_count_shared(kith_store_t *s, const uint8_t owner[static KITH_PK_LEN],
                        const uint8_t member[static KITH_PK_LEN], uint64_t *n)
{
    sqlite3_stmt *st = NULL;
    *n = 0;
    int rc = prepare(s,
                     "SELECT count(*) FROM audience a JOIN records r ON r.id = a.rec "
                     "WHERE a.member = ? AND r.owner = ? AND r.deleted = 0",
                     &st);
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_blob(st, 1, member, KITH_PK_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, owner, KITH_PK_LEN, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *n = (uint64_t) sqlite3_column_int64(st, 0);
    } else {
        rc = db_error(s->db);
    }
    release(s, st);
    return rc;
}

/* ---- peers -------------------------------------------------------------------------- */

void
kith_peer_close(kith_peer_t *p)
{
    free(p->name);
    free(p->groups);
    free(p->addr);
    free(p->last_addr);
    memset(p, 0, sizeof(*p));
}

void
kith_peers_free(kith_peer_t *peers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kith_peer_close(&peers[i]);
    }
    free(peers);
}

int
kith_peer_in_group(const kith_peer_t *p, const char *group)
{
    size_t n = strlen(group);
    for (const char *g = p->groups; g && *g;) {
        const char *end = strchr(g, ',');
        size_t len = end ? (size_t) (end - g) : strlen(g);
        if (len == n && memcmp(g, group, n) == 0) {
            return 1;
        }
        g = end ? end + 1 : g + len;
    }
    return 0;
}

/* A peers row: name, key, groups, addr, self, added. When it was last seen, and where,
 * change with every session and decide nothing, so they are left out. */
static int
peer_mac(kith_store_t *s, const char *name, const uint8_t key[KITH_PK_LEN], const char *groups,
         const char *addr, int self, uint64_t added_ms, uint8_t mac[KITH_ROW_MAC_LEN])
{
    if (s->vault == NULL) {
        return KITH_EINVAL;
    }
    kith_rowmac_begin(&s->mac, "peers");
    kith_rowmac_text(&s->mac, name);
    kith_rowmac_blob(&s->mac, key, KITH_PK_LEN);
    kith_rowmac_text(&s->mac, groups ? groups : "");
    kith_rowmac_text(&s->mac, addr ? addr : "");
    kith_rowmac_int(&s->mac, self);
    kith_rowmac_int(&s->mac, (int64_t) added_ms);
    return kith_rowmac_end(&s->mac, s->vault, mac);
}

static int
peer_add_in(kith_store_t *s, const kith_peer_t *p)
{
    sqlite3_stmt *st = NULL;
    uint8_t mac[KITH_ROW_MAC_LEN];
    int rc = peer_mac(s, p->name, p->key, p->groups, p->addr, p->self, p->added_ms, mac);
    if (rc == KITH_OK) {
        rc = auth_will_change(s, AUTH_PEERS);
    }
    if (rc == KITH_OK) {
        rc = prepare(s,
                     "INSERT INTO peers(name, key, groups, addr, self, added, last_seen, "
                     "last_addr, mac) VALUES(?, ?, ?, ?, ?, ?, 0, '', ?)",
                     &st);
    }
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_blob(st, 7, mac, KITH_ROW_MAC_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, p->key, KITH_PK_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->groups ? p->groups : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, p->addr ? p->addr : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, p->self);
    sqlite3_bind_int64(st, 6, (sqlite3_int64) p->added_ms);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        rc = KITH_OK;
    } else if ((sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT) {
        rc = KITH_EEXISTS;
    } else {
        rc = KITH_EDB;
    }
    release(s, st);
    return rc;
}

int
kith_store_peer_mac_ok(kith_store_t *s, const kith_peer_t *p,
                       const uint8_t mac[static KITH_ROW_MAC_LEN])
{
    uint8_t want[KITH_ROW_MAC_LEN];
    return peer_mac(s, p->name, p->key, p->groups, p->addr, p->self, p->added_ms, want) ==
               KITH_OK &&
           sodium_memcmp(want, mac, KITH_ROW_MAC_LEN) == 0;
}

int
kith_store_peer_add(kith_store_t *s, const kith_peer_t *p)
{
    int own = 0;
    int rc = own_txn_begin(s, &own);
    if (rc == KITH_OK) {
        rc = peer_add_in(s, p);
    }
    return own_txn_end(s, own, rc);
}

static int
peer_remove_in(kith_store_t *s, const char *name)
{
    sqlite3_stmt *st = NULL;
    int rc = auth_will_change(s, AUTH_PEERS);
    if (rc == KITH_OK) {
        rc = prepare(s, "DELETE FROM peers WHERE name=?", &st);
    }
    if (rc == KITH_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = step_done(st);
        if (rc == KITH_OK && sqlite3_changes(s->db) == 0) {
            rc = KITH_ENOTFOUND;
        }
    }
    release(s, st);
    return rc;
}

int
kith_store_peer_remove(kith_store_t *s, const char *name)
{
    int own = 0;
    int rc = own_txn_begin(s, &own);
    if (rc == KITH_OK) {
        rc = peer_remove_in(s, name);
    }
    return own_txn_end(s, own, rc);
}

static int
peer_update_in(kith_store_t *s, const char *name, const kith_peer_t *p)
{
    sqlite3_stmt *st = NULL;
    kith_peer_t old;
    uint8_t mac[KITH_ROW_MAC_LEN];
    /* The key and the time it was added stay; they come from the row, which must check. */
    int rc = kith_store_peer_get(s, name, &old);
    if (rc == KITH_OK) {
        rc = peer_mac(s, p->name, old.key, p->groups, p->addr, p->self, old.added_ms, mac);
        kith_peer_close(&old);
    }
    if (rc == KITH_OK) {
        rc = auth_will_change(s, AUTH_PEERS);
    }
    if (rc == KITH_OK) {
        rc = prepare(s,
                     "UPDATE peers SET name = ?, groups = ?, addr = ?, self = ?, mac = ? "
                     "WHERE name = ?",
                     &st);
    }
    if (rc != KITH_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->groups ? p->groups : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->addr ? p->addr : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, p->self);
    sqlite3_bind_blob(st, 5, mac, KITH_ROW_MAC_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        rc = sqlite3_changes(s->db) > 0 ? KITH_OK : KITH_ENOTFOUND;
    } else if ((sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT) {
        rc = KITH_EEXISTS;
    } else {
        rc = db_error(s->db);
    }
    release(s, st);
    return rc;
}

int
kith_store_peer_update(kith_store_t *s, const char *name, const kith_peer_t *p)
{
    int own = 0;
    int rc = own_txn_begin(s, &own);
    if (rc == KITH_OK) {
        rc = peer_update_in(s, name, p);
    }
    return own_txn_end(s, own, rc);
}

#define PEER_COLUMNS "name, key, groups, addr, self, added, last_seen, last_addr, mac"

static int
read_peer(kith_store_t *s, sqlite3_stmt *st, kith_peer_t *p)
{
    memset(p, 0, sizeof(*p));
    int rc = check_row(s, "peers", st, 0, 6, 8);
    if (rc != KITH_OK) {
        return rc;
    }
    if (sqlite3_column_bytes(st, 1) != KITH_PK_LEN) {
        return KITH_ECORRUPT;
    }
    memcpy(p->key, sqlite3_column_blob(st, 1), KITH_PK_LEN);
    const char *name = (const char *) sqlite3_column_text(st, 0);
    const char *groups = (const char *) sqlite3_column_text(st, 2);
    const char *addr = (const char *) sqlite3_column_text(st, 3);
    const char *last = (const char *) sqlite3_column_text(st, 7);
    p->name = strdup(name ? name : "");
    p->groups = strdup(groups ? groups : "");
    p->addr = strdup(addr ? addr : "");
    p->last_addr = strdup(last ? last : "");
    p->self = sqlite3_column_int(st, 4);
    p->added_ms = (uint64_t) sqlite3_column_int64(st, 5);
    p->last_seen_ms = (uint64_t) sqlite3_column_int64(st, 6);
    if (!p->name || !p->groups || !p->addr || !p->last_addr) {
        kith_peer_close(p);
        return KITH_ENOMEM;
    }
    return KITH_OK;
}

static int
peer_get(kith_store_t *s, const char *sql, const void *arg, int arg_len, kith_peer_t *out)
{
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof(*out));
    /* One read transaction: the row is read first, which fixes the snapshot, and then the
     * whole table checks in that same snapshot, not just this row: a peer put back after
     * `peer rm`, with the MAC its row once had, is caught. The cost is the same whether or
     * not the key is known (docs/THREATS.md, a stranger who connects). */
    int own_txn = sqlite3_get_autocommit(s->db);
    int rc = own_txn ? exec(s, "BEGIN") : KITH_OK;
    if (rc == KITH_OK) {
        rc = prepare(s, sql, &st);
    }
    if (rc == KITH_OK) {
        if (arg_len < 0) {
            sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_blob(st, 1, arg, arg_len, SQLITE_STATIC);
        }
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            rc = read_peer(s, st, out);
        } else {
            rc = r == SQLITE_DONE ? KITH_ENOTFOUND : KITH_EDB;
        }
        release(s, st);
    }
    if (rc == KITH_OK || rc == KITH_ENOTFOUND) {
        int trc = auth_check_table(s, "peers");
        if (trc != KITH_OK) {
            kith_peer_close(out);
            rc = trc;
        }
    }
    if (own_txn) {
        exec(s, "COMMIT");
    }
    return rc;
}

int
kith_store_peer_get(kith_store_t *s, const char *name, kith_peer_t *out)
{
    return peer_get(s, "SELECT " PEER_COLUMNS " FROM peers WHERE name=?", name, -1, out);
}

int
kith_store_peer_get_by_key(kith_store_t *s, const uint8_t key[static KITH_PK_LEN], kith_peer_t *out)
{
    return peer_get(s, "SELECT " PEER_COLUMNS " FROM peers WHERE key=?", key, KITH_PK_LEN, out);
}

/* Reads every peer row, each checked, into *out. */
static int
peer_list_rows(kith_store_t *s, kith_peer_t **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    kith_peer_t *list = NULL;
    size_t count = 0;
    int rc = prepare(s, "SELECT " PEER_COLUMNS " FROM peers ORDER BY name", &st);
    if (rc != KITH_OK) {
        return rc;
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        kith_peer_t *p = realloc(list, (count + 1) * sizeof(*p));
        if (p == NULL) {
            rc = KITH_ENOMEM;
            break;
        }
        list = p;
        rc = read_peer(s, st, &list[count]);
        if (rc != KITH_OK) {
            break;
        }
        count++;
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = KITH_EDB;
    }
    release(s, st);
    if (rc != KITH_OK) {
        kith_peers_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return KITH_OK;
}

int
kith_store_peer_list(kith_store_t *s, kith_peer_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    /* As peer_get(): the rows, then the table's check, in one snapshot. */
    int own_txn = sqlite3_get_autocommit(s->db);
    int rc = own_txn ? exec(s, "BEGIN") : KITH_OK;
    if (rc == KITH_OK) {
        rc = peer_list_rows(s, out, n);
    }
    if (rc == KITH_OK && (rc = auth_check_table(s, "peers")) != KITH_OK) {
        kith_peers_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    if (own_txn) {
        exec(s, "COMMIT");
    }
    return rc;
}

int
kith_store_peer_seen(kith_store_t *s, const uint8_t key[static KITH_PK_LEN], uint64_t now_ms,
                     const char *addr)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s,
                     "UPDATE peers SET last_seen = ?, last_addr = ifnull(?, last_addr) "
                     "WHERE key = ?",
                     &st);
    if (rc == KITH_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64) now_ms);
        if (addr != NULL) {
            sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
        }
        sqlite3_bind_blob(st, 3, key, KITH_PK_LEN, SQLITE_STATIC);
        rc = step_done(st);
    }
    release(s, st);
    return rc;
}

int
kith_store_apply_remote(kith_store_t *s, const uint8_t self[static KITH_PK_LEN],
                        const uint8_t sender[static KITH_PK_LEN], int self_peer,
                        const uint8_t *const *ops, const size_t *lens, size_t n,
                        kith_apply_stats_t *stats, kith_reject_cb reject, void *ctx)
{
    return apply_ops(s, self, sender, self_peer, 1, ops, lens, n, stats, reject, ctx);
}

int
kith_store_apply_envelope(kith_store_t *s, const uint8_t self[static KITH_PK_LEN],
                          const uint8_t sender[static KITH_PK_LEN], const uint8_t *const *ops,
                          const size_t *lens, size_t n, kith_apply_stats_t *stats,
                          kith_reject_cb reject, void *ctx)
{
    return apply_ops(s, self, sender, 0, 0, ops, lens, n, stats, reject, ctx);
}

/* ---- derived data ------------------------------------------------------------------ */

int
kith_store_rederive(kith_store_t *s)
{
    static const char key[] = "derived_version";
    char version = '0' + KITH_STORE_DERIVED_VERSION;
    kith_buf_t v;
    kith_buf_init(&v);
    int rc = s->vault != NULL ? kith_store_meta_get(s, key, &v) : KITH_EINVAL;
    int current = rc == KITH_OK && v.len == 1 && v.data[0] == (uint8_t) version;
    kith_buf_close(&v);
    if (current || (rc != KITH_OK && rc != KITH_ENOTFOUND)) {
        return rc == KITH_ENOTFOUND ? KITH_OK : rc;
    }
    uint64_t refolded = 0;
    rc = kith_store_begin(s);
    if (rc == KITH_OK) {
        rc = kith_store_refold_all(s, &refolded);
    }
    if (rc == KITH_OK) {
        rc = kith_store_meta_set(s, key, &version, 1);
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(s);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(s);
    }
    return rc;
}

/* The values of the first column of sql that are blobs of len bytes, in an array the
 * caller frees; *skipped counts the others (may be NULL). */
static int
collect_blobs(kith_store_t *s, const char *sql, size_t len, uint8_t **out, size_t *n,
              uint64_t *skipped)
{
    sqlite3_stmt *st = NULL;
    uint8_t *list = NULL;
    size_t count = 0, cap = 0;
    *out = NULL;
    *n = 0;
    int rc = prepare(s, sql, &st);
    int r = SQLITE_DONE;
    while (rc == KITH_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if ((size_t) sqlite3_column_bytes(st, 0) != len) {
            if (skipped != NULL) {
                (*skipped)++;
            }
            continue;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 1024;
            void *p = realloc(list, cap * len);
            if (p == NULL) {
                rc = KITH_ENOMEM;
                break;
            }
            list = p;
        }
        memcpy(list + count * len, sqlite3_column_blob(st, 0), len);
        count++;
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = db_error(s->db);
    }
    release(s, st);
    if (rc != KITH_OK) {
        free(list);
        return rc;
    }
    *out = list;
    *n = count;
    return KITH_OK;
}

/* ---- authenticating a store written by an older kith --------------------------------- */

static int
auth_marker(kith_store_t *s, const uint8_t db_id[16], uint8_t mac[KITH_ROW_MAC_LEN])
{
    kith_rowmac_begin(&s->mac, "auth");
    kith_rowmac_blob(&s->mac, db_id, 16);
    return kith_rowmac_end(&s->mac, s->vault, mac);
}

/* Reseals one op under the associated data of version 2 (hash and every plaintext column)
 * and sets those columns from the op itself, not from what the row said. */
static int
reseal_op(kith_store_t *s, const uint8_t hash[KITH_HASH_LEN], size_t *damaged)
{
    sqlite3_stmt *st = NULL;
    kith_buf_t pt, sealed;
    kith_buf_init(&pt);
    kith_buf_init(&sealed);
    kith_op_t op;
    int have_op = 0;
    int rc =
        prepare(s, "SELECT hash, rec, author, private, hlc, data FROM ops WHERE hash = ?", &st);
    if (rc == KITH_OK) {
        sqlite3_bind_blob(st, 1, hash, KITH_HASH_LEN, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_ROW ? KITH_OK : KITH_EDB;
    }
    if (rc == KITH_OK && unseal_column(s, st, 5, hash, KITH_HASH_LEN, &pt) != KITH_OK) {
        /* Sealed the new way already: someone removed the marker to have the rows
         * vouched for again. Otherwise it is damaged; doctor reports it. */
        pt.len = 0;
        rc = unseal_op_row(s, st, 0, 5, &pt) == KITH_OK ? KITH_ETAMPER : KITH_ENOTFOUND;
    }
    release(s, st);
    st = NULL;
    if (rc == KITH_ENOTFOUND) {
        (*damaged)++;
        rc = KITH_OK;
        goto out;
    }
    if (rc == KITH_OK &&
        (pt.len <= KITH_SIG_LEN ||
         kith_op_decode(pt.data + KITH_SIG_LEN, pt.len - KITH_SIG_LEN, &op) != KITH_OK)) {
        (*damaged)++;
        goto out;
    }
    have_op = rc == KITH_OK;
    if (rc == KITH_OK) {
        uint8_t ad[OP_AD_LEN];
        op_ad(ad, hash, op.rec, op.author, op.private, op.hlc);
        rc = kith_vault_seal(s->vault, ad, sizeof(ad), pt.data, pt.len, &sealed);
    }
    if (rc == KITH_OK) {
        rc = prepare(s,
                     "UPDATE ops SET rec = ?, author = ?, private = ?, hlc = ?, data = ? "
                     "WHERE hash = ?",
                     &st);
    }
    if (rc == KITH_OK) {
        sqlite3_bind_blob(st, 1, op.rec, KITH_REC_ID_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, op.author, KITH_PK_LEN, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, op.private != 0);
        sqlite3_bind_int64(st, 4, (sqlite3_int64) op.hlc);
        sqlite3_bind_blob(st, 5, sealed.data, (int) sealed.len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 6, hash, KITH_HASH_LEN, SQLITE_STATIC);
        rc = step_done(st);
    }
    release(s, st);
out:
    if (have_op) {
        kith_op_close(&op);
    }
    kith_buf_close(&pt);
    kith_buf_close(&sealed);
    return rc;
}

/* MACs every row of peers or shares as it stands. */
static int
mac_table_rows(kith_store_t *s, int table)
{
    sqlite3_stmt *st = NULL, *up = NULL;
    int n = table == AUTH_PEERS ? 6 : 3;
    int rc = prepare(s,
                     table == AUTH_PEERS ? "SELECT name, key, groups, addr, self, added FROM peers"
                                         : "SELECT rec, target, role FROM shares",
                     &st);
    if (rc == KITH_OK) {
        rc = prepare(s,
                     table == AUTH_PEERS ? "UPDATE peers SET mac = ?1 WHERE name = ?2"
                                         : "UPDATE shares SET mac = ?1 WHERE rec = ?2 AND "
                                           "target = ?3",
                     &up);
    }
    int r = SQLITE_DONE;
    while (rc == KITH_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        uint8_t mac[KITH_ROW_MAC_LEN];
        kith_rowmac_begin(&s->mac, table == AUTH_PEERS ? "peers" : "shares");
        for (int i = 0; i < n; i++) {
            kith_rowmac_column(&s->mac, st, i);
        }
        rc = kith_rowmac_end(&s->mac, s->vault, mac);
        if (rc != KITH_OK) {
            break;
        }
        sqlite3_reset(up);
        sqlite3_bind_blob(up, 1, mac, KITH_ROW_MAC_LEN, SQLITE_TRANSIENT);
        sqlite3_bind_value(up, 2, sqlite3_column_value(st, table == AUTH_PEERS ? 0 : 0));
        if (table == AUTH_SHARES) {
            sqlite3_bind_value(up, 3, sqlite3_column_value(st, 1));
        }
        rc = step_done(up);
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        rc = db_error(s->db);
    }
    release(s, st);
    release(s, up);
    return rc;
}

int
kith_store_auth_upgrade(kith_store_t *s, int allow, kith_store_upgrade_t *out)
{
    memset(out, 0, sizeof(*out));
    if (s->vault == NULL) {
        return KITH_EINVAL;
    }
    uint8_t db_id[16], mac[KITH_ROW_MAC_LEN];
    uint64_t gen = 0;
    kith_buf_t marker;
    kith_buf_init(&marker);
    int rc = kith_store_meta_get(s, "auth", &marker);
    if (rc == KITH_OK) {
        rc = auth_meta(s, db_id, &gen);
        if (rc == KITH_OK) {
            rc = auth_marker(s, db_id, mac);
        }
        if (rc == KITH_OK && (marker.len != KITH_ROW_MAC_LEN ||
                              sodium_memcmp(marker.data, mac, KITH_ROW_MAC_LEN) != 0)) {
            rc = KITH_ETAMPER;
        }
        kith_buf_close(&marker);
        return rc;
    }
    kith_buf_close(&marker);
    if (rc != KITH_ENOTFOUND) {
        return rc;
    }
    if (!allow) {
        return KITH_ETAMPER;
    }
    /* The first open by a kith that authenticates rows. The ops are resealed and the
     * derived rows rebuilt from them, so neither is taken on trust; the peers and shares
     * cannot be derived, so they are vouched for as they stand and the caller shows them. */
    uint8_t *hashes = NULL;
    size_t n = 0;
    uint64_t refolded = 0;
    rc = kith_store_begin(s);
    if (rc == KITH_OK) {
        rc = collect_blobs(s, "SELECT hash FROM ops", KITH_HASH_LEN, &hashes, &n, &out->damaged);
    }
    for (size_t i = 0; rc == KITH_OK && i < n; i++) {
        rc = reseal_op(s, hashes + i * KITH_HASH_LEN, &out->damaged);
    }
    free(hashes);
    out->ops = n;
    if (rc == KITH_OK) {
        kith_vault_random(s->vault, db_id, sizeof(db_id));
        rc = kith_store_meta_set(s, "db_id", db_id, sizeof(db_id));
    }
    if (rc == KITH_OK) {
        rc = meta_put_u64(s, "auth_gen", 1);
    }
    if (rc == KITH_OK) {
        rc = exec(s, "DELETE FROM records; DELETE FROM search; DELETE FROM audience;"
                     "DELETE FROM former;");
    }
    if (rc == KITH_OK) {
        rc = kith_store_refold_all(s, &refolded);
    }
    out->records = refolded;
    if (rc == KITH_OK) {
        rc = mac_table_rows(s, AUTH_PEERS);
    }
    if (rc == KITH_OK) {
        rc = mac_table_rows(s, AUTH_SHARES);
    }
    for (int t = AUTH_PEERS; rc == KITH_OK && t <= AUTH_SHARES; t <<= 1) {
        rc = table_mac(s, t, db_id, 1, mac);
        if (rc == KITH_OK) {
            rc = kith_store_meta_set(s, table_key(t), mac, sizeof(mac));
        }
    }
    if (rc == KITH_OK) {
        rc = auth_marker(s, db_id, mac);
    }
    if (rc == KITH_OK) {
        rc = kith_store_meta_set(s, "auth", mac, sizeof(mac));
    }
    if (rc == KITH_OK) {
        char version = '0' + KITH_STORE_DERIVED_VERSION;
        rc = kith_store_meta_set(s, "derived_version", &version, 1);
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(s);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(s);
        return rc;
    }
    out->upgraded = 1;
    return KITH_OK;
}

int
kith_store_position(kith_store_t *s, uint8_t db_id[static 16], uint64_t *generation,
                    uint64_t *max_seq)
{
    int rc = auth_meta(s, db_id, generation);
    if (rc == KITH_OK) {
        rc = kith_store_max_seq(s, max_seq);
    }
    return rc;
}

/* ---- checks (kith doctor) ----------------------------------------------------------- */

typedef struct {
    kith_store_t *s;
    kith_store_check_cb cb;
    void *ctx;
    size_t problems;
} check_ctx_t;

static void problem(check_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(check_ctx_t *c, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    c->problems++;
    c->cb(c->ctx, line);
}

/* The first four bytes of a blob column, in hex, to name a row without its content. */
static void
short_hex(sqlite3_stmt *st, int col, char out[9])
{
    const uint8_t *b = sqlite3_column_blob(st, col);
    if (b == NULL || sqlite3_column_bytes(st, col) < 4) {
        snprintf(out, 9, "????????");
        return;
    }
    snprintf(out, 9, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

/* Checks every row of a query whose columns are n values of table, then its MAC; the
 * row is named by its column name_col (text, or a blob shown as a short hex). */
static void
check_rows(check_ctx_t *c, const char *sql, const char *table, int n, int name_col,
           const char *what)
{
    sqlite3_stmt *st = NULL;
    if (prepare(c->s, sql, &st) != KITH_OK) {
        problem(c, "the %s rows cannot be read: %s", table, sqlite3_errmsg(c->s->db));
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (check_row(c->s, table, st, 0, n, n) == KITH_OK) {
            continue;
        }
        char name[80];
        if (sqlite3_column_type(st, name_col) == SQLITE_TEXT) {
            snprintf(name, sizeof(name), "'%s'", (const char *) sqlite3_column_text(st, name_col));
        } else {
            short_hex(st, name_col, name);
        }
        problem(c, "%s %s: its row was changed or added outside kith (%s)", table, name, what);
    }
    release(c->s, st);
}

static void
check_auth(check_ctx_t *c)
{
    kith_store_t *s = c->s;
    kith_store_upgrade_t up;
    if (kith_store_auth_upgrade(s, 0, &up) != KITH_OK) {
        problem(c, "the store's authentication marker is missing or does not check");
        return;
    }
    check_rows(c, "SELECT " RECORD_MAC_COLUMNS " FROM records", "records", RECORD_MAC_N, 0,
               "owner, kind, deletion or times");
    /* A records row put back from before a later op of its record checks on its own, and
     * so do the audience rows of its time; only its fold sequence number, older than that
     * op, gives it away. Pushes stop at the op (vouch_one()); unless it is named here,
     * doctor finds nothing and --repair never refolds it. */
    sqlite3_stmt *st = NULL;
    if (prepare(s,
                "SELECT r.id FROM records r "
                "WHERE r.fold_seq < (SELECT max(o.seq) FROM ops o WHERE o.rec = r.id)",
                &st) != KITH_OK) {
        problem(c, "the records rows cannot be read: %s", sqlite3_errmsg(s->db));
    }
    while (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
        char name[9];
        short_hex(st, 0, name);
        problem(c,
                "records %s: its row is older than the record's newest op (put back from an "
                "earlier copy)",
                name);
    }
    release(s, st);
    check_rows(c, "SELECT rec, member, role, fold_seq, mac FROM audience", "audience", 4, 0,
               "who a record is shared with");
    check_rows(c, "SELECT rec, member, op, hlc, fold_seq, mac FROM former", "former", 5, 0,
               "who a record was unshared from");
    /* An audience or former row that checks but is from another fold than its record's:
     * put back from an earlier copy. (One that does not check is named above.) */
    static const struct {
        const char *sql;
        const char *table;
        int n;
    } folds[] = {
        {"SELECT a.rec, a.member, a.role, a.fold_seq, a.mac, r.fold_seq FROM audience a "
         "LEFT JOIN records r ON r.id = a.rec",
         "audience", 4},
        {"SELECT f.rec, f.member, f.op, f.hlc, f.fold_seq, f.mac, r.fold_seq FROM former f "
         "LEFT JOIN records r ON r.id = f.rec",
         "former", 5},
    };
    for (size_t t = 0; t < sizeof(folds) / sizeof(folds[0]); t++) {
        int n = folds[t].n;
        if (prepare(s, folds[t].sql, &st) != KITH_OK) {
            continue;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (check_row(s, folds[t].table, st, 0, n, n) == KITH_OK &&
                (sqlite3_column_type(st, n + 1) == SQLITE_NULL ||
                 sqlite3_column_int64(st, n - 1) != sqlite3_column_int64(st, n + 1))) {
                char name[9];
                short_hex(st, 0, name);
                problem(c,
                        "%s %s: its row is from another fold than its record's (put back from "
                        "an earlier copy)",
                        folds[t].table, name);
            }
        }
        release(s, st);
    }
    check_rows(c, "SELECT name, key, groups, addr, self, added, mac FROM peers", "peers", 6, 0,
               "a peer's key, groups or own-device mark");
    check_rows(c, "SELECT rec, target, role, mac FROM shares", "shares", 3, 0,
               "what a record is shared with");
    if (auth_check(s, AUTH_PEERS) == KITH_ETAMPER) {
        problem(c, "the peer list as a whole does not check: a peer was added, put back or "
                   "removed outside kith");
    }
    if (auth_check(s, AUTH_SHARES) == KITH_ETAMPER) {
        problem(c, "the shares as a whole do not check: a share was added, put back or "
                   "removed outside kith");
    }
}

int
kith_store_check(kith_store_t *s, kith_store_check_cb cb, void *ctx, kith_store_check_t *out)
{
    check_ctx_t c = {s, cb, ctx, 0};
    sqlite3_stmt *st = NULL;
    kith_buf_t pt;
    kith_buf_init(&pt);
    memset(out, 0, sizeof(*out));
    int rc = prepare(s, "PRAGMA integrity_check", &st);
    if (rc != KITH_OK) {
        problem(&c, "the database cannot be checked: %s", sqlite3_errmsg(s->db));
        goto out;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *msg = (const char *) sqlite3_column_text(st, 0);
        if (msg != NULL && strcmp(msg, "ok") != 0) {
            problem(&c, "SQLite integrity: %s", msg);
        }
    }
    release(s, st);
    st = NULL;
    /* Every op must decrypt, decode and carry a valid signature. */
    rc = prepare(s, "SELECT hash, rec, author, private, hlc, data FROM ops", &st);
    while (rc == KITH_OK && sqlite3_step(st) == SQLITE_ROW) {
        out->ops++;
        if (sqlite3_column_bytes(st, 0) != KITH_HASH_LEN) {
            problem(&c, "an op row has a malformed hash");
            continue;
        }
        pt.len = 0;
        kith_op_t op;
        uint8_t h[KITH_HASH_LEN];
        const uint8_t *hb = sqlite3_column_blob(st, 0);
        if (unseal_op_row(s, st, 0, 5, &pt) != KITH_OK) {
            problem(&c,
                    "op %02x%02x%02x%02x does not unseal: its row was changed outside kith, or "
                    "it is damaged",
                    hb[0], hb[1], hb[2], hb[3]);
        } else if (kith_op_verify(pt.data, pt.len, &op, h) != KITH_OK) {
            problem(&c, "an op fails its signature or format check");
        } else {
            if (memcmp(h, sqlite3_column_blob(st, 0), KITH_HASH_LEN) != 0) {
                problem(&c, "an op is stored under the wrong hash");
            }
            kith_op_close(&op);
        }
    }
    release(s, st);
    st = NULL;
    /* Every record must decrypt and decode, and must have ops. */
    rc = prepare(s,
                 "SELECT r.id, r.data, (SELECT count(*) FROM ops o WHERE o.rec = r.id) "
                 "FROM records r",
                 &st);
    while (rc == KITH_OK && sqlite3_step(st) == SQLITE_ROW) {
        out->records++;
        kith_record_t r;
        if (decode_record_row(s, st, 0, 1, &r) != KITH_OK) {
            problem(&c, "a record does not decrypt or decode");
            continue;
        }
        if (sqlite3_column_int64(st, 2) == 0) {
            problem(&c, "record %02x%02x%02x%02x has no ops", r.id[0], r.id[1], r.id[2], r.id[3]);
        }
        kith_record_close(&r);
    }
    release(s, st);
    st = NULL;
    check_auth(&c);
out:
    kith_buf_close(&pt);
    out->problems = c.problems;
    return KITH_OK;
}

/* Deletes the rows of table (peers or shares) that do not check, reporting each. */
static int
drop_bad_rows(kith_store_t *s, int table, kith_store_check_cb cb, void *ctx, uint64_t *fixed)
{
    sqlite3_stmt *st = NULL, *del = NULL;
    int peers = table == AUTH_PEERS;
    int rc = prepare(s,
                     peers ? "SELECT name, key, groups, addr, self, added, mac FROM peers"
                           : "SELECT rec, target, role, mac FROM shares",
                     &st);
    if (rc == KITH_OK) {
        rc = prepare(s,
                     peers ? "DELETE FROM peers WHERE name = ?1"
                           : "DELETE FROM shares WHERE rec = ?1 AND target = ?2",
                     &del);
    }
    int n = peers ? 6 : 3;
    while (rc == KITH_OK && sqlite3_step(st) == SQLITE_ROW) {
        if (check_row(s, peers ? "peers" : "shares", st, 0, n, n) == KITH_OK) {
            continue;
        }
        char line[200], name[80];
        if (peers) {
            snprintf(name, sizeof(name), "%s", (const char *) sqlite3_column_text(st, 0));
        } else {
            short_hex(st, 0, name);
        }
        snprintf(line, sizeof(line), "removed %s %s: kith did not write that row",
                 peers ? "peer" : "a share of record", name);
        cb(ctx, line);
        sqlite3_reset(del);
        sqlite3_bind_value(del, 1, sqlite3_column_value(st, 0));
        if (!peers) {
            sqlite3_bind_value(del, 2, sqlite3_column_value(st, 1));
        }
        rc = step_done(del);
        (*fixed)++;
    }
    release(s, st);
    release(s, del);
    return rc;
}

/* An op whose row does not match its sealed op: the private mark flipped is put back;
 * anything else cannot be read, so the row goes (a shared op comes back from a peer). */
static int
fix_bad_ops(kith_store_t *s, kith_store_check_cb cb, void *ctx, uint64_t *fixed)
{
    sqlite3_stmt *st = NULL, *up = NULL;
    kith_buf_t pt;
    kith_buf_init(&pt);
    int rc = prepare(s, "SELECT hash, rec, author, private, hlc, data FROM ops", &st);
    while (rc == KITH_OK && sqlite3_step(st) == SQLITE_ROW) {
        pt.len = 0;
        if (unseal_op_row(s, st, 0, 5, &pt) == KITH_OK) {
            continue;
        }
        uint8_t ad[OP_AD_LEN];
        int flipped = !sqlite3_column_int(st, 3);
        int put_back = 0;
        if (op_ad_row(st, 0, ad) == KITH_OK) {
            ad[OP_AD_LEN - 9] = (uint8_t) flipped;
            pt.len = 0;
            put_back = unseal_column(s, st, 5, ad, sizeof(ad), &pt) == KITH_OK;
        }
        char name[9], line[200];
        short_hex(st, 0, name);
        snprintf(line, sizeof(line),
                 put_back ? "op %s: put its private mark back as it was signed"
                          : "removed op %s: it cannot be read (a shared op comes back from "
                            "your peers on the next sync)",
                 name);
        cb(ctx, line);
        rc = prepare(s,
                     put_back ? "UPDATE ops SET private = ?2 WHERE hash = ?1"
                              : "DELETE FROM ops WHERE hash = ?1 AND ?2 IS NOT NULL",
                     &up);
        if (rc == KITH_OK) {
            sqlite3_bind_value(up, 1, sqlite3_column_value(st, 0));
            sqlite3_bind_int(up, 2, flipped);
            rc = step_done(up);
        }
        release(s, up);
        up = NULL;
        (*fixed)++;
    }
    release(s, st);
    kith_buf_close(&pt);
    return rc;
}

int
kith_store_auth_repair(kith_store_t *s, kith_store_check_cb cb, void *ctx, uint64_t *fixed)
{
    uint8_t db_id[16], mac[KITH_ROW_MAC_LEN];
    uint64_t gen = 0, refolded = 0;
    *fixed = 0;
    if (s->vault == NULL) {
        return KITH_EINVAL;
    }
    int rc = kith_store_begin(s);
    if (rc == KITH_OK && auth_meta(s, db_id, &gen) != KITH_OK) {
        kith_vault_random(s->vault, db_id, sizeof(db_id));
        gen = 0;
        rc = kith_store_meta_set(s, "db_id", db_id, sizeof(db_id));
    }
    if (rc == KITH_OK) {
        rc = fix_bad_ops(s, cb, ctx, fixed);
    }
    /* Whatever is derived is derived again, from the ops that now check. */
    if (rc == KITH_OK) {
        rc = exec(s, "DELETE FROM records; DELETE FROM search; DELETE FROM audience;"
                     "DELETE FROM former;");
    }
    if (rc == KITH_OK) {
        rc = kith_store_refold_all(s, &refolded);
    }
    if (rc == KITH_OK) {
        rc = drop_bad_rows(s, AUTH_PEERS, cb, ctx, fixed);
    }
    if (rc == KITH_OK) {
        rc = drop_bad_rows(s, AUTH_SHARES, cb, ctx, fixed);
    }
    /* What is left checks row by row; the tables as a whole are accepted as they are. */
    if (rc == KITH_OK) {
        rc = meta_put_u64(s, "auth_gen", ++gen);
    }
    for (int t = AUTH_PEERS; rc == KITH_OK && t <= AUTH_SHARES; t <<= 1) {
        rc = table_mac(s, t, db_id, gen, mac);
        if (rc == KITH_OK) {
            rc = kith_store_meta_set(s, table_key(t), mac, sizeof(mac));
        }
    }
    if (rc == KITH_OK) {
        rc = auth_marker(s, db_id, mac);
    }
    if (rc == KITH_OK) {
        rc = kith_store_meta_set(s, "auth", mac, sizeof(mac));
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(s);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(s);
    }
    s->peers_ok_at = -1;
    return rc;
}

uint64_t
kith_store_skipped(const kith_store_t *s)
{
    return s->skipped;
}

int
kith_store_refold_all(kith_store_t *s, uint64_t *refolded)
{
    uint8_t *ids = NULL;
    size_t n = 0;
    *refolded = 0;
    int rc = collect_blobs(s, "SELECT DISTINCT rec FROM ops", KITH_REC_ID_LEN, &ids, &n, NULL);
    for (size_t i = 0; rc == KITH_OK && i < n; i++) {
        kith_op_list_t list;
        kith_record_t rec;
        kith_record_init(&rec);
        rc = kith_store_load_ops(s, ids + i * KITH_REC_ID_LEN, &list);
        if (rc == KITH_OK && list.n > 0) {
            rc = kith_fold(list.in, list.n, &rec, NULL);
            if (rc == KITH_OK) {
                rc = write_record(s, &rec, 0);
                (*refolded)++;
            }
            if (rc == KITH_OK) {
                rc = write_former(s, &rec, 0);
            }
        }
        kith_op_list_close(&list);
        kith_record_close(&rec);
    }
    free(ids);
    return rc;
}

/* ---- read-only homes ---------------------------------------------------------------- */

int
kith_store_open_read_only(const char *path, kith_store_t **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    kith_store_t *s = calloc(1, sizeof(*s));
    kith_buf_t uri, wal;
    kith_buf_init(&uri);
    kith_buf_init(&wal);
    if (s != NULL) {
        kith_rowmac_init(&s->mac);
        s->peers_ok_at = -1;
    }
    int rc = s == NULL ? KITH_ENOMEM : kith_buf_printf(&wal, "%s-wal", path);
    if (rc != KITH_OK) {
        goto out;
    }
    /* The store is in WAL mode. While a -wal file exists it may hold committed
     * transactions, and mode=ro reads them (SQLite can use the -shm read-only, or its own
     * heap copy). Without one, mode=ro cannot open a WAL database in a directory it may not
     * write (it would create the -shm), and none is needed: no process can be writing a
     * WAL database that has no -wal file, and none can create one in this directory. The
     * file is then immutable for as long as the home stays read-only. Path characters
     * that mean something in a URI are escaped. */
    struct stat st;
    int has_wal = stat((char *) wal.data, &st) == 0;
    rc = kith_buf_puts(&uri, "file:");
    for (const char *p = path; rc == KITH_OK && *p; p++) {
        rc = (*p == '%' || *p == '?' || *p == '#')
                 ? kith_buf_printf(&uri, "%%%02X", (unsigned char) *p)
                 : kith_buf_putc(&uri, *p);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_puts(&uri, has_wal ? "?mode=ro" : "?mode=ro&immutable=1");
    }
    if (rc != KITH_OK) {
        goto out;
    }
    rc = KITH_EDB;
    s->read_only = 1;
    if (sqlite3_open_v2((char *) uri.data, &s->db,
                        SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                        NULL) != SQLITE_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot open %s: %s", path,
                         s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_extended_result_codes(s->db, 1);
    if (exec(s, "PRAGMA cache_size=-2048") != KITH_OK ||
        exec(s, "PRAGMA temp_store=MEMORY") != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "%s is not a kith database or is damaged: %s", path,
                         sqlite3_errmsg(s->db));
        rc = KITH_ECORRUPT;
        goto out;
    }
    int v = kith_store_schema_version(s);
    if (v < 0) {
        kith__errbuf_set(errbuf, errcap, "%s is not a kith database or is damaged: %s", path,
                         sqlite3_errmsg(s->db));
        rc = KITH_ECORRUPT;
        goto out;
    }
    if (v > N_MIGRATIONS) {
        kith__errbuf_set(errbuf, errcap,
                         "the database is from a newer kith (schema %d, this kith knows %d)", v,
                         N_MIGRATIONS);
        rc = KITH_EVERSION;
        goto out;
    }
    if (v < N_MIGRATIONS) {
        kith__errbuf_set(errbuf, errcap,
                         "the database needs an upgrade to schema %d, which cannot be written "
                         "while it is read-only",
                         N_MIGRATIONS);
        rc = KITH_EREADONLY;
        goto out;
    }
    *out = s;
    s = NULL;
    rc = KITH_OK;
out:
    kith_buf_close(&uri);
    kith_buf_close(&wal);
    kith_store_close(s);
    return rc;
}

int
kith_store_is_read_only(const kith_store_t *s)
{
    return s->read_only;
}

/* ---- backups ------------------------------------------------------------------------ */

int
kith_store_snapshot(const char *db_path, const char *dest_path, char *errbuf, size_t errcap)
{
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *b = NULL;
    sqlite3_stmt *st = NULL;
    int rc = KITH_EDB;
    if (access(dest_path, F_OK) == 0) {
        kith__errbuf_set(errbuf, errcap, "%s already exists", dest_path);
        return KITH_EEXISTS;
    }
    /* Read-only: the live file is never written, not even by a checkpoint at close. */
    if (sqlite3_open_v2(db_path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot open %s: %s", db_path,
                         src ? sqlite3_errmsg(src) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(src, 5000);
    if (sqlite3_open_v2(dest_path, &dst,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(dst, "PRAGMA journal_mode=OFF", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(dst, "PRAGMA synchronous=OFF", NULL, NULL, NULL) != SQLITE_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot create %s: %s", dest_path,
                         dst ? sqlite3_errmsg(dst) : "out of memory");
        rc = dst ? db_error(dst) : KITH_ENOMEM;
        goto out;
    }
    b = sqlite3_backup_init(dst, "main", src, "main");
    if (b == NULL) {
        kith__errbuf_set(errbuf, errcap, "cannot start the snapshot: %s", sqlite3_errmsg(dst));
        goto out;
    }
    /* Every page in one step, so under one read transaction: one consistent state of the
     * database. In WAL mode that read holds no writer back. A writer holding the lock
     * when the read starts makes it busy for a moment: try again. */
    for (int tries = 0;; tries++) {
        int s = sqlite3_backup_step(b, -1);
        if (s == SQLITE_DONE) {
            break;
        }
        if ((s == SQLITE_BUSY || s == SQLITE_LOCKED) && tries < 200) {
            sqlite3_sleep(25);
            continue;
        }
        rc = (s & 0xff) == SQLITE_NOTADB || (s & 0xff) == SQLITE_CORRUPT ? KITH_ECORRUPT
                                                                         : db_error(dst);
        kith__errbuf_set(errbuf, errcap, "cannot copy %s: %s", db_path, sqlite3_errstr(s));
        goto out;
    }
    int s = sqlite3_backup_finish(b);
    b = NULL;
    if (s != SQLITE_OK) {
        rc = db_error(dst);
        kith__errbuf_set(errbuf, errcap, "cannot copy %s: %s", db_path, sqlite3_errstr(s));
        goto out;
    }
    /* A copy of a damaged database is not a backup anyone can trust. */
    if (sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        kith__errbuf_set(errbuf, errcap, "cannot check the copy of %s: %s", db_path,
                         sqlite3_errmsg(dst));
        rc = db_error(dst);
        goto out;
    }
    const char *verdict = (const char *) sqlite3_column_text(st, 0);
    if (verdict == NULL || strcmp(verdict, "ok") != 0) {
        kith__errbuf_set(errbuf, errcap, "%s is damaged (SQLite: %s); run 'kith doctor'", db_path,
                         verdict ? verdict : "no answer");
        rc = KITH_ECORRUPT;
        goto out;
    }
    rc = KITH_OK;
out:
    sqlite3_finalize(st);
    if (b != NULL) {
        sqlite3_backup_finish(b);
    }
    if (dst != NULL && sqlite3_close(dst) != SQLITE_OK && rc == KITH_OK) {
        rc = KITH_EDB;
    }
    sqlite3_close(src);
    return rc;
}
