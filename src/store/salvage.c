/*
 * Salvage of a damaged store; see salvage.h. Every statement is prepared, bound and
 * finalized here; a statement that fails mid-scan is simply finalized, and what it
 * returned before the failure is kept.
 */
#include "store/salvage.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "util/errbuf.h"

void
kith_salvage_close(kith_salvage_t *s)
{
    kith_buf_close(&s->storage_key);
    kith_buf_close(&s->name);
    kith_buf_close(&s->public_key);
    for (size_t i = 0; s->ops != NULL && i < s->n_ops; i++) {
        free(s->ops[i].sealed);
    }
    free(s->ops);
    free(s->seen_ops);
    free(s->seen_recs);
    kith_peers_free(s->peers, s->n_peers);
    free(s->peer_macs);
    free(s->shares);
    memset(s, 0, sizeof(*s));
}

/* Appends item (size bytes) to a growing array unless an equal one is there (linear for
 * the small arrays, so callers keep big ones unique by construction or sort later). */
static int
push(void **arr, size_t *n, size_t *cap, const void *item, size_t size)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        void *p = realloc(*arr, c * size);
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        *arr = p;
        *cap = c;
    }
    memcpy((uint8_t *) *arr + *n * size, item, size);
    (*n)++;
    return KITH_OK;
}

typedef struct {
    sqlite3 *db;
    kith_salvage_t *out;
    size_t cap_ops, cap_seen_ops, cap_seen_recs, cap_shares;
} salvage_ctx_t;

static int
cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, KITH_HASH_LEN);
}

static int
cmp_rec(const void *a, const void *b)
{
    return memcmp(a, b, KITH_REC_ID_LEN);
}

static int
cmp_op(const void *a, const void *b)
{
    return memcmp(((const kith_salvaged_op_t *) a)->hash, ((const kith_salvaged_op_t *) b)->hash,
                  KITH_HASH_LEN);
}

/* Sorts and removes duplicates from an array of n items of size bytes. */
static size_t
uniq(void *arr, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n == 0) {
        return 0;
    }
    qsort(arr, n, size, cmp);
    size_t w = 1;
    for (size_t i = 1; i < n; i++) {
        uint8_t *p = (uint8_t *) arr + i * size, *last = (uint8_t *) arr + (w - 1) * size;
        if (cmp(p, last) != 0) {
            memmove((uint8_t *) arr + w * size, p, size);
            w++;
        }
    }
    return w;
}

/* Runs a prepared range query to its end or its first failure. row() takes each row. */
static int
scan(salvage_ctx_t *c, sqlite3_stmt *st, int (*row)(salvage_ctx_t *, sqlite3_stmt *))
{
    int r, rc = KITH_OK;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        rc = row(c, st);
        if (rc == KITH_ENOMEM) {
            break;
        }
        rc = KITH_OK;
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        c->out->failed_reads++;
    }
    sqlite3_reset(st);
    return rc;
}

static int
seen_rec(salvage_ctx_t *c, const void *rec, int bytes)
{
    if (rec == NULL || bytes != KITH_REC_ID_LEN) {
        return KITH_OK;
    }
    return push((void **) &c->out->seen_recs, &c->out->n_seen_recs, &c->cap_seen_recs, rec,
                KITH_REC_ID_LEN);
}

static int
row_op(salvage_ctx_t *c, sqlite3_stmt *st)
{
    const void *hash = sqlite3_column_blob(st, 0), *rec = sqlite3_column_blob(st, 1);
    const void *data = sqlite3_column_blob(st, 2);
    int len = sqlite3_column_bytes(st, 2);
    if (hash == NULL || sqlite3_column_bytes(st, 0) != KITH_HASH_LEN || rec == NULL ||
        sqlite3_column_bytes(st, 1) != KITH_REC_ID_LEN || data == NULL || len <= 0) {
        return KITH_ECORRUPT;
    }
    kith_salvaged_op_t op;
    memset(&op, 0, sizeof(op));
    memcpy(op.hash, hash, KITH_HASH_LEN);
    memcpy(op.rec, rec, KITH_REC_ID_LEN);
    if (sqlite3_column_bytes(st, 3) == KITH_PK_LEN) {
        memcpy(op.author, sqlite3_column_blob(st, 3), KITH_PK_LEN);
    }
    op.private = sqlite3_column_int(st, 4);
    op.hlc = (uint64_t) sqlite3_column_int64(st, 5);
    op.len = (size_t) len;
    if ((op.sealed = malloc(op.len)) == NULL) {
        return KITH_ENOMEM;
    }
    memcpy(op.sealed, data, op.len);
    int rc = push((void **) &c->out->ops, &c->out->n_ops, &c->cap_ops, &op, sizeof(op));
    if (rc != KITH_OK) {
        free(op.sealed);
        return rc;
    }
    rc = push((void **) &c->out->seen_ops, &c->out->n_seen_ops, &c->cap_seen_ops, hash,
              KITH_HASH_LEN);
    return rc == KITH_OK ? seen_rec(c, rec, KITH_REC_ID_LEN) : rc;
}

static int
row_op_index(salvage_ctx_t *c, sqlite3_stmt *st)
{
    const void *hash = sqlite3_column_blob(st, 0);
    if (hash == NULL || sqlite3_column_bytes(st, 0) != KITH_HASH_LEN) {
        return KITH_ECORRUPT;
    }
    int rc = push((void **) &c->out->seen_ops, &c->out->n_seen_ops, &c->cap_seen_ops, hash,
                  KITH_HASH_LEN);
    return rc == KITH_OK ? seen_rec(c, sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1))
                         : rc;
}

static int
row_record(salvage_ctx_t *c, sqlite3_stmt *st)
{
    return seen_rec(c, sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0));
}

static int
row_share(salvage_ctx_t *c, sqlite3_stmt *st)
{
    kith_salvaged_share_t sh;
    memset(&sh, 0, sizeof(sh));
    const void *rec = sqlite3_column_blob(st, 0);
    int type = sqlite3_column_type(st, 1), len = sqlite3_column_bytes(st, 1);
    if (rec == NULL || sqlite3_column_bytes(st, 0) != KITH_REC_ID_LEN) {
        return KITH_ECORRUPT;
    }
    memcpy(sh.rec, rec, KITH_REC_ID_LEN);
    if (type == SQLITE_BLOB && len == KITH_PK_LEN) {
        memcpy(sh.target.key, sqlite3_column_blob(st, 1), KITH_PK_LEN);
    } else {
        const char *text = (const char *) sqlite3_column_text(st, 1);
        if (type != SQLITE_TEXT || text == NULL || text[0] != '@' || len < 2 ||
            len > KITH_PEER_NAME_MAX + 1) {
            return KITH_ECORRUPT;
        }
        sh.target.is_group = 1;
        memcpy(sh.target.group, text + 1, (size_t) len - 1);
    }
    sh.role = sqlite3_column_int(st, 2);
    if (sqlite3_column_count(st) > 3 && sqlite3_column_bytes(st, 3) == KITH_ROW_MAC_LEN) {
        memcpy(sh.mac, sqlite3_column_blob(st, 3), KITH_ROW_MAC_LEN);
    }
    return push((void **) &c->out->shares, &c->out->n_shares, &c->cap_shares, &sh, sizeof(sh));
}

/* Reads the table in 2^bits key ranges on the first byte(s) of the key (16 bits at
 * most): ?1 <= key < ?2, the last range open-ended. */
static int
scan_ranges(salvage_ctx_t *c, const char *sql, const char *sql_last, int bits,
            int (*row)(salvage_ctx_t *, sqlite3_stmt *))
{
    sqlite3_stmt *st = NULL, *last = NULL;
    int rc = KITH_OK;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, sql_last, -1, &last, NULL) != SQLITE_OK) {
        c->out->failed_reads++;
        goto out;
    }
    unsigned n = 1u << bits;
    for (unsigned i = 0; i < n && rc == KITH_OK; i++) {
        uint8_t lo[2], hi[2];
        unsigned a = i << (16 - bits), b = (i + 1) << (16 - bits);
        lo[0] = (uint8_t) (a >> 8);
        lo[1] = (uint8_t) a;
        hi[0] = (uint8_t) (b >> 8);
        hi[1] = (uint8_t) b;
        sqlite3_stmt *q = i + 1 < n ? st : last;
        sqlite3_bind_blob(q, 1, lo, 2, SQLITE_STATIC);
        if (q == st) {
            sqlite3_bind_blob(q, 2, hi, 2, SQLITE_STATIC);
        }
        rc = scan(c, q, row);
    }
out:
    sqlite3_finalize(st);
    sqlite3_finalize(last);
    return rc;
}

/* Runs one query (forwards or backwards over a small table). */
static int
scan_all(salvage_ctx_t *c, const char *sql, int (*row)(salvage_ctx_t *, sqlite3_stmt *))
{
    sqlite3_stmt *st = NULL;
    int rc = KITH_OK;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        c->out->failed_reads++;
    } else {
        rc = scan(c, st, row);
    }
    sqlite3_finalize(st);
    return rc;
}

static int
read_peers(salvage_ctx_t *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = KITH_OK, r;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        c->out->failed_reads++;
        return KITH_OK;
    }
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *) sqlite3_column_text(st, 0);
        const void *key = sqlite3_column_blob(st, 1);
        if (name == NULL || key == NULL || sqlite3_column_bytes(st, 1) != KITH_PK_LEN) {
            continue;
        }
        int dup = 0;
        for (size_t i = 0; i < c->out->n_peers && !dup; i++) {
            dup = memcmp(c->out->peers[i].key, key, KITH_PK_LEN) == 0;
        }
        if (dup) {
            continue;
        }
        kith_peer_t *p = realloc(c->out->peers, (c->out->n_peers + 1) * sizeof(*p));
        if (p == NULL) {
            rc = KITH_ENOMEM;
            break;
        }
        c->out->peers = p;
        uint8_t(*macs)[KITH_ROW_MAC_LEN] =
            realloc(c->out->peer_macs, (c->out->n_peers + 1) * KITH_ROW_MAC_LEN);
        if (macs == NULL) {
            rc = KITH_ENOMEM;
            break;
        }
        c->out->peer_macs = macs;
        memset(macs[c->out->n_peers], 0, KITH_ROW_MAC_LEN);
        if (sqlite3_column_count(st) > 6 && sqlite3_column_bytes(st, 6) == KITH_ROW_MAC_LEN) {
            memcpy(macs[c->out->n_peers], sqlite3_column_blob(st, 6), KITH_ROW_MAC_LEN);
        }
        p = &p[c->out->n_peers];
        memset(p, 0, sizeof(*p));
        memcpy(p->key, key, KITH_PK_LEN);
        const char *groups = (const char *) sqlite3_column_text(st, 2);
        const char *addr = (const char *) sqlite3_column_text(st, 3);
        p->name = strdup(name);
        p->groups = strdup(groups ? groups : "");
        p->addr = strdup(addr ? addr : "");
        p->last_addr = strdup("");
        p->self = sqlite3_column_int(st, 4);
        p->added_ms = (uint64_t) sqlite3_column_int64(st, 5);
        c->out->n_peers++;
        if (!p->name || !p->groups || !p->addr || !p->last_addr) {
            rc = KITH_ENOMEM;
            break;
        }
    }
    if (rc == KITH_OK && r != SQLITE_DONE) {
        c->out->failed_reads++;
    }
    sqlite3_finalize(st);
    return rc;
}

static void
read_meta(salvage_ctx_t *c, const char *key, kith_buf_t *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            kith_buf_append(out, sqlite3_column_blob(st, 0), (size_t) sqlite3_column_bytes(st, 0));
        } else if (r != SQLITE_DONE) {
            c->out->failed_reads++;
        }
    } else {
        c->out->failed_reads++;
    }
    sqlite3_finalize(st);
}

int
kith_store_salvage(const char *path, kith_salvage_t *out, char *errbuf, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    salvage_ctx_t c = {NULL, out, 0, 0, 0, 0};
    kith_buf_t uri;
    kith_buf_init(&uri);
    int rc = kith_buf_puts(&uri, "file:");
    for (const char *p = path; rc == KITH_OK && *p; p++) {
        rc = (*p == '%' || *p == '?' || *p == '#')
                 ? kith_buf_printf(&uri, "%%%02X", (unsigned) (unsigned char) *p)
                 : kith_buf_putc(&uri, *p);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_puts(&uri, "?mode=ro");
    }
    if (rc != KITH_OK) {
        goto out;
    }
    /* writable_schema makes SQLite trust the file's size over the page count in its
     * header: without it, a truncated file is refused whole. The connection is read-only,
     * so nothing can be written through it. */
    if (sqlite3_open_v2((char *) uri.data, &c.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(c.db, "PRAGMA writable_schema=ON", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(c.db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL) != SQLITE_OK) {
        kith__errbuf_set(errbuf, errcap, "%s cannot be read as a database at all: %s", path,
                         c.db ? sqlite3_errmsg(c.db) : "out of memory");
        rc = KITH_ECORRUPT;
        goto out;
    }
    /* One read transaction for all the range reads: each would otherwise take the lock
     * and fill the page cache again. */
    sqlite3_exec(c.db, "PRAGMA cache_size=-65536", NULL, NULL, NULL);
    sqlite3_exec(c.db, "BEGIN", NULL, NULL, NULL);
    read_meta(&c, "storage_key", &out->storage_key);
    read_meta(&c, "name", &out->name);
    read_meta(&c, "public_key", &out->public_key);
    rc = scan_ranges(&c,
                     "SELECT hash, rec, data, author, private, hlc FROM ops "
                     "WHERE hash >= ?1 AND hash < ?2",
                     "SELECT hash, rec, data, author, private, hlc FROM ops WHERE hash >= ?1", 16,
                     row_op);
    /* Rows carry MACs from schema version 5 on; an older file's peers and shares are taken
     * as they are, as the first open of an older store takes them. */
    sqlite3_stmt *probe = NULL;
    out->has_macs =
        sqlite3_prepare_v2(c.db, "SELECT mac FROM peers LIMIT 0", -1, &probe, NULL) == SQLITE_OK;
    sqlite3_finalize(probe);
    /* The index and the records only tell what was there (records are folded again from
     * the ops): damage in them loses nothing, so it is not counted as a failed read. */
    uint64_t lossy = out->failed_reads;
    if (rc == KITH_OK) {
        rc = scan_ranges(&c,
                         "SELECT hash, rec FROM ops INDEXED BY ops_items "
                         "WHERE rec >= ?1 AND rec < ?2",
                         "SELECT hash, rec FROM ops INDEXED BY ops_items WHERE rec >= ?1", 8,
                         row_op_index);
    }
    if (rc == KITH_OK) {
        rc = scan_all(&c, "SELECT id FROM records ORDER BY rowid", row_record);
    }
    if (rc == KITH_OK) {
        rc = scan_all(&c, "SELECT id FROM records ORDER BY rowid DESC", row_record);
    }
    out->failed_reads = lossy;
    if (rc == KITH_OK) {
        rc = out->has_macs
                 ? scan_ranges(&c,
                               "SELECT rec, target, role, mac FROM shares "
                               "WHERE rec >= ?1 AND rec < ?2",
                               "SELECT rec, target, role, mac FROM shares WHERE rec >= ?1", 8,
                               row_share)
                 : scan_ranges(
                       &c, "SELECT rec, target, role FROM shares WHERE rec >= ?1 AND rec < ?2",
                       "SELECT rec, target, role FROM shares WHERE rec >= ?1", 8, row_share);
    }
    for (int desc = 0; rc == KITH_OK && desc < 2; desc++) {
        rc = read_peers(&c, out->has_macs
                                ? (desc ? "SELECT name, key, groups, addr, self, added, mac "
                                          "FROM peers ORDER BY rowid DESC"
                                        : "SELECT name, key, groups, addr, self, added, mac "
                                          "FROM peers ORDER BY rowid")
                                : (desc ? "SELECT name, key, groups, addr, self, added FROM peers "
                                          "ORDER BY rowid DESC"
                                        : "SELECT name, key, groups, addr, self, added FROM peers "
                                          "ORDER BY rowid"));
    }
    if (rc == KITH_OK) {
        /* The same op can come from more than one range only if the file lies; keep one. */
        size_t n = out->n_ops;
        qsort(out->ops, n, sizeof(*out->ops), cmp_op);
        size_t w = 0;
        for (size_t i = 0; i < n; i++) {
            if (w > 0 && memcmp(out->ops[w - 1].hash, out->ops[i].hash, KITH_HASH_LEN) == 0) {
                free(out->ops[i].sealed);
                continue;
            }
            out->ops[w++] = out->ops[i];
        }
        out->n_ops = w;
        out->n_seen_ops = uniq(out->seen_ops, out->n_seen_ops, KITH_HASH_LEN, cmp_hash);
        out->n_seen_recs = uniq(out->seen_recs, out->n_seen_recs, KITH_REC_ID_LEN, cmp_rec);
    }
out:
    if (c.db != NULL && !sqlite3_get_autocommit(c.db)) {
        sqlite3_exec(c.db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_close(c.db);
    kith_buf_close(&uri);
    if (rc != KITH_OK) {
        kith_salvage_close(out);
    }
    return rc;
}
