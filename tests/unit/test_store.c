/*
 * Tests for the store (src/store/store.c), each in a fresh temporary directory: opening
 * and migrations, settings and the clock, ops and folded records, search and reference
 * resolution, peers and shares, transactions, that no field text reaches the disk in
 * the clear, and that rows changed, added or put back with sqlite3 behind the store's back
 * are refused (KITH_ETAMPER), reported by kith_store_check() and put right by
 * kith_store_auth_repair().
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/vault.h"
#include "kith/kith.h"
#include "model/schema.h"
#include "store/store.h"
#include "util/hlc.h"

#define HLC(ms, c) (((uint64_t) (ms) << 16) | (uint64_t) (c))

static kith_identity_t *owner_id, *other_id, *editor_id;

typedef struct {
    char dir[64];
    char db[128];
    kith_vault_t *vault;
    kith_store_t *s;
} fixture_t;

static kith_identity_t *
make_identity(uint8_t n)
{
    uint8_t seed[KITH_SEED_LEN];
    memset(seed, n, sizeof(seed));
    kith_identity_t *id = NULL;
    if (kith_identity_from_seed(seed, &id) != KITH_OK) {
        return NULL;
    }
    return id;
}

static int
group_setup(void **state)
{
    (void) state;
    if (kith_init() != KITH_OK) {
        return -1;
    }
    owner_id = make_identity(0x61);
    other_id = make_identity(0x62);
    editor_id = make_identity(0x63);
    return owner_id && other_id && editor_id ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void) state;
    kith_identity_free(owner_id);
    kith_identity_free(other_id);
    kith_identity_free(editor_id);
    return 0;
}

static void
open_store(fixture_t *f)
{
    char err[256] = "";
    int rc = kith_store_open(f->db, 1, &f->s, err, sizeof(err));
    if (rc != KITH_OK) {
        print_error("open %s: %s\n", f->db, err);
    }
    ASSERT_OK(rc);
    kith_store_set_vault(f->s, f->vault);
    /* As kith_node_open() does: a new store, or one a test took back to an older schema,
     * gets its rows authenticated. */
    kith_store_upgrade_t up;
    ASSERT_OK(kith_store_auth_upgrade(f->s, 1, &up));
}

/* A fresh directory and store, with a vault made for owner_id. */
static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/kith-store-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof(f->db), "%s/kith.db", f->dir);
    uint8_t wrapped[KITH_VAULT_WRAPPED_LEN];
    if (kith_vault_create(owner_id, wrapped, &f->vault) != KITH_OK) {
        return -1;
    }
    open_store(f);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    kith_store_close(f->s);
    kith_vault_free(f->vault);
    DIR *d = opendir(f->dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] != '.') {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void
reopen(fixture_t *f)
{
    kith_store_close(f->s);
    f->s = NULL;
    open_store(f);
}

/* ---- ops ---------------------------------------------------------------------------- */

static void
rec_id(uint8_t id[KITH_REC_ID_LEN], uint8_t a, uint8_t b, uint8_t c)
{
    memset(id, 0x42, KITH_REC_ID_LEN);
    id[0] = a;
    id[1] = b;
    id[2] = c;
}

static void
new_op(kith_op_t *op, const uint8_t rec[KITH_REC_ID_LEN], const kith_identity_t *author,
       const kith_identity_t *owner, uint64_t hlc)
{
    kith_op_init(op);
    memcpy(op->rec, rec, KITH_REC_ID_LEN);
    memcpy(op->owner, owner->pk, KITH_PK_LEN);
    memcpy(op->author, author->pk, KITH_PK_LEN);
    op->hlc = hlc;
}

static void
op_str(kith_op_t *op, const char *name, const char *text)
{
    kith_value_t v = {0};
    ASSERT_OK(kith_schema_parse_item(name, text, &v, NULL, 0));
    if (kith_schema_is_list(name)) {
        kith_value_t l = {0};
        ASSERT_OK(kith_value_list_append(&l, v.str, strlen(v.str)));
        ASSERT_OK(kith_op_set_field(op, name, &l));
        kith_value_clear(&l);
    } else {
        ASSERT_OK(kith_op_set_field(op, name, &v));
    }
    kith_value_clear(&v);
}

/* Signs op with id and stores it; returns put_op's code. */
static int
put_signed(kith_store_t *s, const kith_identity_t *id, const kith_op_t *op, int *added)
{
    kith_buf_t b;
    kith_buf_init(&b);
    uint8_t hash[KITH_HASH_LEN];
    int rc = kith_op_sign(op, id, &b, hash);
    if (rc == KITH_OK) {
        rc = kith_store_put_op(s, b.data, b.len, op, hash, added);
    }
    kith_buf_close(&b);
    return rc;
}

/* Creates a record owned by owner_id with a name (and optional extra field). */
static void
create_record(kith_store_t *s, const uint8_t id[KITH_REC_ID_LEN], const char *name, uint64_t hlc)
{
    kith_op_t op;
    new_op(&op, id, owner_id, owner_id, hlc);
    op.kind = KITH_KIND_PERSON;
    op_str(&op, "name", name);
    int added = 0;
    ASSERT_OK(kith_store_begin(s));
    ASSERT_OK(put_signed(s, owner_id, &op, &added));
    ASSERT_OK(kith_store_commit(s));
    ASSERT_EQ(added, 1);
    kith_op_close(&op);
}

static void
delete_record(kith_store_t *s, const uint8_t id[KITH_REC_ID_LEN], uint64_t hlc)
{
    kith_op_t op;
    new_op(&op, id, owner_id, owner_id, hlc);
    op.del = 1;
    int added = 0;
    ASSERT_OK(kith_store_begin(s));
    ASSERT_OK(put_signed(s, owner_id, &op, &added));
    ASSERT_OK(kith_store_commit(s));
    kith_op_close(&op);
}

/* ---- tests: opening ----------------------------------------------------------------- */

static void
open_and_reopen(void **state)
{
    fixture_t *f = *state;
    ASSERT_EQ(kith_store_schema_version(f->s), KITH_STORE_SCHEMA_VERSION);
    uint8_t id[KITH_REC_ID_LEN];
    rec_id(id, 1, 2, 3);
    create_record(f->s, id, "Ada Lovelace", HLC(1000, 0));
    reopen(f);
    ASSERT_EQ(kith_store_schema_version(f->s), KITH_STORE_SCHEMA_VERSION);
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(f->s, id, &r));
    ASSERT_STREQ(kith_record_name(&r), "Ada Lovelace");
    kith_record_close(&r);
    /* Opening without create does not make a database. */
    char path[160], err[256] = "";
    snprintf(path, sizeof(path), "%s/absent.db", f->dir);
    kith_store_t *s2 = (kith_store_t *) (uintptr_t) 1;
    assert_true(kith_store_open(path, 0, &s2, err, sizeof(err)) != KITH_OK);
    assert_null(s2);
    assert_true(strlen(err) > 0);
    assert_true(access(path, F_OK) != 0);
    kith_store_close(NULL);
}

/* The columns schema version 5 added, for tests that take a store back to an older one
 * (each drops the former table, which version 4 added, itself). */
#define DROP_AUTH_COLUMNS                                                                          \
    "DROP INDEX records_seq;"                                                                      \
    "ALTER TABLE records DROP COLUMN fold_seq; ALTER TABLE records DROP COLUMN mac;"               \
    "DROP INDEX audience_member; ALTER TABLE audience DROP COLUMN mac;"                            \
    "ALTER TABLE audience DROP COLUMN fold_seq; CREATE INDEX audience_member ON audience(member);" \
    "ALTER TABLE peers DROP COLUMN mac; ALTER TABLE shares DROP COLUMN mac;"

/* A version 1 database (before the sync-item indexes) is upgraded on open, keeping its
 * contents, and the sync item set reads the same before and after. */
static void
migrates_from_version_1(void **state)
{
    fixture_t *f = *state;
    uint8_t id[KITH_REC_ID_LEN];
    rec_id(id, 4, 5, 6);
    create_record(f->s, id, "Grace Hopper", HLC(2000, 0));
    kith_item_t *before = NULL, *after = NULL;
    uint8_t(*recs)[KITH_REC_ID_LEN] = NULL;
    size_t n_before = 0, n_after = 0;
    uint64_t seq = 0;
    ASSERT_OK(kith_store_sync_items(f->s, owner_id->pk, 1, &before, &recs, &n_before, &seq));
    free(recs);
    kith_store_close(f->s);
    f->s = NULL;
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open(f->db, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP INDEX ops_items; DROP INDEX records_owner;"
                           "CREATE INDEX ops_rec ON ops(rec); DROP TABLE former;"
                           "DROP INDEX shares_target;" DROP_AUTH_COLUMNS "PRAGMA user_version=1",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    reopen(f);
    ASSERT_EQ(kith_store_schema_version(f->s), KITH_STORE_SCHEMA_VERSION);
    ASSERT_OK(kith_store_sync_items(f->s, owner_id->pk, 1, &after, &recs, &n_after, &seq));
    free(recs);
    ASSERT_EQ(n_after, n_before);
    assert_true(n_after > 0);
    assert_memory_equal(before, after, n_after * sizeof(*after));
    free(before);
    free(after);
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(f->s, id, &r));
    ASSERT_STREQ(kith_record_name(&r), "Grace Hopper");
    kith_record_close(&r);
}

static void
open_rejects_garbage_and_newer(void **state)
{
    fixture_t *f = *state;
    char path[160], err[256] = "";
    /* Not a database. */
    snprintf(path, sizeof(path), "%s/garbage.db", f->dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 4096; i++) {
        fputc("not a database "[i % 15], fp);
    }
    fclose(fp);
    kith_store_t *s2 = NULL;
    assert_true(kith_store_open(path, 0, &s2, err, sizeof(err)) != KITH_OK);
    assert_null(s2);
    assert_true(strlen(err) > 0);
    /* A database from a newer kith. */
    snprintf(path, sizeof(path), "%s/newer.db", f->dir);
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    err[0] = '\0';
    ASSERT_ERR(kith_store_open(path, 0, &s2, err, sizeof(err)), KITH_EVERSION);
    assert_null(s2);
    assert_non_null(strstr(err, "newer"));
}

/* ---- tests: meta and clock ---------------------------------------------------------- */

static void
meta(void **state)
{
    fixture_t *f = *state;
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_ERR(kith_store_meta_get(f->s, "absent", &b), KITH_ENOTFOUND);
    ASSERT_EQ(b.len, 0);
    static const uint8_t bin[] = {0, 1, 2, 0, 0xff};
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_meta_set(f->s, "bin", bin, sizeof(bin)));
    ASSERT_OK(kith_store_meta_set(f->s, "empty", NULL, 0));
    ASSERT_OK(kith_store_meta_set(f->s, "k", "v1", 2));
    ASSERT_OK(kith_store_meta_set(f->s, "k", "value2", 6));
    ASSERT_OK(kith_store_commit(f->s));
    ASSERT_OK(kith_store_meta_get(f->s, "bin", &b));
    ASSERT_EQ(b.len, sizeof(bin));
    assert_memory_equal(b.data, bin, sizeof(bin));
    /* get appends. */
    ASSERT_OK(kith_store_meta_get(f->s, "k", &b));
    ASSERT_EQ(b.len, sizeof(bin) + 6);
    assert_memory_equal(b.data + sizeof(bin), "value2", 6);
    b.len = 0;
    ASSERT_OK(kith_store_meta_get(f->s, "empty", &b));
    ASSERT_EQ(b.len, 0);
    /* Keys are exact. */
    ASSERT_ERR(kith_store_meta_get(f->s, "K", &b), KITH_ENOTFOUND);
    ASSERT_ERR(kith_store_meta_get(f->s, "k ", &b), KITH_ENOTFOUND);
    /* Hostile keys are just keys (bound parameters). */
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_meta_set(f->s, "x'); DROP TABLE meta; --", "y", 1));
    ASSERT_OK(kith_store_commit(f->s));
    reopen(f);
    b.len = 0;
    ASSERT_OK(kith_store_meta_get(f->s, "k", &b));
    assert_memory_equal(b.data, "value2", 6);
    b.len = 0;
    ASSERT_OK(kith_store_meta_get(f->s, "x'); DROP TABLE meta; --", &b));
    kith_buf_close(&b);
}

static void
hlc_next(void **state)
{
    fixture_t *f = *state;
    uint64_t t1, t2, t3, t4;
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_hlc_next(f->s, 5000, &t1));
    assert_true(t1 == HLC(5000, 0));
    ASSERT_OK(kith_store_hlc_next(f->s, 5000, &t2));
    assert_true(t2 == t1 + 1);
    /* The wall clock steps back: still increasing. */
    ASSERT_OK(kith_store_hlc_next(f->s, 10, &t3));
    assert_true(t3 == t2 + 1);
    ASSERT_OK(kith_store_commit(f->s));
    /* The last value survives a reopen. */
    reopen(f);
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_hlc_next(f->s, 10, &t4));
    assert_true(t4 == t3 + 1);
    ASSERT_OK(kith_store_hlc_next(f->s, 9000, &t4));
    assert_true(t4 == HLC(9000, 0));
    /* Out of range: an error, and the stored clock is unchanged. */
    ASSERT_ERR(kith_store_hlc_next(f->s, KITH_HLC_MS_MAX + 1, &t1), KITH_ERANGE);
    ASSERT_OK(kith_store_hlc_next(f->s, 9000, &t1));
    assert_true(t1 == t4 + 1);
    ASSERT_OK(kith_store_commit(f->s));
    /* A rolled-back timestamp is not remembered. */
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_hlc_next(f->s, 20000, &t2));
    kith_store_rollback(f->s);
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_hlc_next(f->s, 9000, &t3));
    assert_true(t3 == t1 + 1);
    ASSERT_OK(kith_store_commit(f->s));
}

/* hlc.h: a new timestamp is greater than every timestamp this node has issued or seen. */
static void
hlc_next_after_seen_ops(void **state)
{
    fixture_t *f = *state;
    uint8_t id[KITH_REC_ID_LEN];
    rec_id(id, 7, 7, 7);
    create_record(f->s, id, "Ahead", HLC(1000000, 0)); /* written "in the future" */
    uint64_t t;
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_hlc_next(f->s, 5000, &t));
    ASSERT_OK(kith_store_commit(f->s));
    assert_true(t > HLC(1000000, 0));
}

/* ---- tests: ops and records --------------------------------------------------------- */

static int
count_cb(void *ctx, const kith_record_t *r)
{
    (void) r;
    (*(int *) ctx)++;
    return 0;
}

static void
put_op_and_get(void **state)
{
    fixture_t *f = *state;
    uint8_t id[KITH_REC_ID_LEN];
    rec_id(id, 0xab, 0xcd, 0xef);
    kith_op_t op;
    new_op(&op, id, owner_id, owner_id, HLC(1000, 0));
    op.kind = KITH_KIND_ORG;
    op_str(&op, "name", "Acme");
    op_str(&op, "emails", "info@acme.example");
    kith_buf_t b;
    kith_buf_init(&b);
    uint8_t hash[KITH_HASH_LEN];
    ASSERT_OK(kith_op_sign(&op, owner_id, &b, hash));
    int added = -1;
    kith_record_t r;
    ASSERT_ERR(kith_store_record_get(f->s, id, &r), KITH_ENOTFOUND);
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_put_op(f->s, b.data, b.len, &op, hash, &added));
    ASSERT_EQ(added, 1);
    /* The same op again is recognised. */
    ASSERT_OK(kith_store_put_op(f->s, b.data, b.len, &op, hash, &added));
    ASSERT_EQ(added, 0);
    ASSERT_OK(kith_store_commit(f->s));
    ASSERT_OK(kith_store_record_get(f->s, id, &r));
    assert_memory_equal(r.id, id, KITH_REC_ID_LEN);
    assert_memory_equal(r.owner, owner_id->pk, KITH_PK_LEN);
    ASSERT_EQ(r.kind, KITH_KIND_ORG);
    ASSERT_STREQ(kith_record_name(&r), "Acme");
    const kith_rfield_t *e = kith_record_field(&r, "emails");
    assert_non_null(e);
    ASSERT_EQ(e->value.type, KITH_V_LIST);
    ASSERT_STREQ(e->value.items[0], "info@acme.example");
    kith_record_close(&r);
    uint64_t n = 99;
    ASSERT_OK(kith_store_count_records(f->s, &n));
    ASSERT_EQ(n, 1);

    /* A second op refolds the record. */
    kith_op_t op2;
    new_op(&op2, id, owner_id, owner_id, HLC(2000, 0));
    op_str(&op2, "name", "Acme Corp");
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(put_signed(f->s, owner_id, &op2, &added));
    ASSERT_OK(kith_store_commit(f->s));
    ASSERT_EQ(added, 1);
    ASSERT_OK(kith_store_record_get(f->s, id, &r));
    ASSERT_STREQ(kith_record_name(&r), "Acme Corp");
    ASSERT_EQ(r.kind, KITH_KIND_ORG);
    ASSERT_EQ(r.created, HLC(1000, 0));
    ASSERT_EQ(r.updated, HLC(2000, 0));
    kith_record_close(&r);
    kith_op_close(&op2);

    kith_buf_close(&b);
    kith_op_close(&op);
}

typedef struct {
    int n;
    uint8_t hashes[4][KITH_HASH_LEN];
} ops_seen_t;

static int
op_seen_cb(void *ctx, const uint8_t *signed_op, size_t len, const kith_op_t *op,
           const uint8_t hash[KITH_HASH_LEN])
{
    ops_seen_t *seen = ctx;
    kith_op_t check;
    /* What the store hands back still verifies, and matches its hash. */
    uint8_t h[KITH_HASH_LEN];
    if (kith_op_verify(signed_op, len, &check, h) != KITH_OK) {
        return KITH_ECRYPTO;
    }
    int same = memcmp(h, hash, KITH_HASH_LEN) == 0 && check.hlc == op->hlc;
    kith_op_close(&check);
    if (!same || seen->n >= 4) {
        return KITH_ECORRUPT;
    }
    memcpy(seen->hashes[seen->n++], hash, KITH_HASH_LEN);
    return KITH_OK;
}

static int
stop_cb(void *ctx, const uint8_t *signed_op, size_t len, const kith_op_t *op,
        const uint8_t hash[KITH_HASH_LEN])
{
    (void) ctx;
    (void) signed_op;
    (void) len;
    (void) op;
    (void) hash;
    return 12345;
}

static void
foreach_op(void **state)
{
    fixture_t *f = *state;
    uint8_t id[KITH_REC_ID_LEN], other[KITH_REC_ID_LEN];
    rec_id(id, 1, 1, 1);
    rec_id(other, 2, 2, 2);
    create_record(f->s, id, "One", HLC(10, 0));
    create_record(f->s, id, "One again", HLC(20, 0));
    create_record(f->s, other, "Two", HLC(30, 0));
    ops_seen_t seen = {0};
    ASSERT_OK(kith_store_foreach_op(f->s, id, op_seen_cb, &seen));
    ASSERT_EQ(seen.n, 2);
    assert_memory_not_equal(seen.hashes[0], seen.hashes[1], KITH_HASH_LEN);
    ASSERT_EQ(kith_store_foreach_op(f->s, id, stop_cb, NULL), 12345);
    uint8_t none[KITH_REC_ID_LEN];
    rec_id(none, 9, 9, 9);
    seen.n = 0;
    ASSERT_OK(kith_store_foreach_op(f->s, none, op_seen_cb, &seen));
    ASSERT_EQ(seen.n, 0);
}

static void
other_owner_refused(void **state)
{
    fixture_t *f = *state;
    uint8_t id[KITH_REC_ID_LEN];
    rec_id(id, 3, 3, 3);
    create_record(f->s, id, "Mine", HLC(100, 0));
    /* Another node claims the same record id as its own, properly signed. */
    kith_op_t op;
    new_op(&op, id, other_id, other_id, HLC(200, 0));
    op_str(&op, "name", "Stolen");
    op.del = 1;
    int added = -1;
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_ERR(put_signed(f->s, other_id, &op, &added), KITH_EAUTH);
    ASSERT_EQ(added, 0);
    ASSERT_OK(kith_store_commit(f->s));
    kith_op_close(&op);
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(f->s, id, &r));
    ASSERT_STREQ(kith_record_name(&r), "Mine");
    assert_memory_equal(r.owner, owner_id->pk, KITH_PK_LEN);
    ASSERT_EQ(r.deleted, 0);
    kith_record_close(&r);
    ops_seen_t seen = {0};
    ASSERT_OK(kith_store_foreach_op(f->s, id, op_seen_cb, &seen));
    ASSERT_EQ(seen.n, 1);
}

static void
no_vault(void **state)
{
    fixture_t *f = *state;
    kith_store_set_vault(f->s, NULL);
    uint8_t id[KITH_REC_ID_LEN];
    rec_id(id, 4, 4, 4);
    kith_op_t op;
    new_op(&op, id, owner_id, owner_id, HLC(1, 0));
    int added = -1;
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_ERR(put_signed(f->s, owner_id, &op, &added), KITH_EINVAL);
    kith_store_rollback(f->s);
    kith_op_close(&op);
    /* Meta works without a vault. */
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_meta_set(f->s, "a", "b", 1));
    ASSERT_OK(kith_store_commit(f->s));
}

static void
foreach_record_skips_deleted(void **state)
{
    fixture_t *f = *state;
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN], c[KITH_REC_ID_LEN];
    rec_id(a, 0x10, 0, 0);
    rec_id(b, 0x20, 0, 0);
    rec_id(c, 0x30, 0, 0);
    create_record(f->s, a, "Alive", HLC(10, 0));
    create_record(f->s, b, "Doomed", HLC(11, 0));
    create_record(f->s, c, "Also alive", HLC(12, 0));
    delete_record(f->s, b, HLC(20, 0));
    int n = 0;
    ASSERT_OK(kith_store_foreach_record(f->s, count_cb, &n));
    ASSERT_EQ(n, 2);
    uint64_t count = 0;
    ASSERT_OK(kith_store_count_records(f->s, &count));
    ASSERT_EQ(count, 2);
    /* The tombstone is still readable directly. */
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(f->s, b, &r));
    ASSERT_EQ(r.deleted, 1);
    kith_record_close(&r);
    /* Restore brings it back. */
    kith_op_t op;
    new_op(&op, b, owner_id, owner_id, HLC(30, 0));
    op.del = 0;
    int added;
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(put_signed(f->s, owner_id, &op, &added));
    ASSERT_OK(kith_store_commit(f->s));
    kith_op_close(&op);
    n = 0;
    ASSERT_OK(kith_store_foreach_record(f->s, count_cb, &n));
    ASSERT_EQ(n, 3);
}

static int
stop_after_one(void *ctx, const kith_record_t *r)
{
    (void) r;
    (*(int *) ctx)++;
    return 777;
}

static void
foreach_record_stops(void **state)
{
    fixture_t *f = *state;
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN];
    rec_id(a, 0x10, 0, 0);
    rec_id(b, 0x20, 0, 0);
    create_record(f->s, a, "A", HLC(10, 0));
    create_record(f->s, b, "B", HLC(11, 0));
    int n = 0;
    ASSERT_EQ(kith_store_foreach_record(f->s, stop_after_one, &n), 777);
    ASSERT_EQ(n, 1);
    n = 0;
    ASSERT_EQ(kith_store_search(f->s, "", stop_after_one, &n), 777);
    ASSERT_EQ(n, 1);
    /* The store is still usable after an interrupted walk. */
    n = 0;
    ASSERT_OK(kith_store_foreach_record(f->s, count_cb, &n));
    ASSERT_EQ(n, 2);
}

typedef struct {
    kith_store_t *s;
    int outer, inner;
} nested_t;

static int
inner_cb(void *ctx, const kith_record_t *r)
{
    (void) r;
    ((nested_t *) ctx)->inner++;
    return 0;
}

static int
outer_cb(void *ctx, const kith_record_t *r)
{
    (void) r;
    nested_t *n = ctx;
    n->outer++;
    return kith_store_foreach_record(n->s, inner_cb, n);
}

/* A walk from inside a walk over the same statement (the caller reads other records while
 * listing) needs a second statement, which must be finalized afterwards. */
static void
nested_walks(void **state)
{
    fixture_t *f = *state;
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN];
    rec_id(a, 0x10, 0, 0);
    rec_id(b, 0x20, 0, 0);
    create_record(f->s, a, "A", HLC(10, 0));
    create_record(f->s, b, "B", HLC(11, 0));
    nested_t n = {f->s, 0, 0};
    ASSERT_OK(kith_store_foreach_record(f->s, outer_cb, &n));
    ASSERT_EQ(n.outer, 2);
    ASSERT_EQ(n.inner, 4);
}

/* ---- tests: search and resolve ------------------------------------------------------ */

typedef struct {
    int n;
    char names[8][64];
} found_t;

static int
found_cb(void *ctx, const kith_record_t *r)
{
    found_t *f = ctx;
    if (f->n < 8) {
        snprintf(f->names[f->n], sizeof(f->names[0]), "%s", kith_record_name(r));
    }
    f->n++;
    return 0;
}

static int
found_has(const found_t *f, const char *name)
{
    for (int i = 0; i < f->n && i < 8; i++) {
        if (strcmp(f->names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

static void
search(void **state)
{
    fixture_t *f = *state;
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN], c[KITH_REC_ID_LEN], d[KITH_REC_ID_LEN];
    rec_id(a, 0xa0, 0, 0);
    rec_id(b, 0xb0, 0, 0);
    rec_id(c, 0xc0, 0, 0);
    rec_id(d, 0xd0, 0, 0);
    create_record(f->s, a,
                  "\xc3\x98ystein \xc3\x98"
                  "deg\xc3\xa5rd",
                  HLC(10, 0));
    create_record(f->s, b, "Ada Lovelace", HLC(11, 0));
    create_record(f->s, d,
                  "Deleted \xc3\x98"
                  "deg\xc3\xa5rd",
                  HLC(12, 0));
    delete_record(f->s, d, HLC(13, 0));
    /* A record with a list field and a private note. */
    kith_op_t op;
    new_op(&op, c, owner_id, owner_id, HLC(14, 0));
    op_str(&op, "name", "Grace Hopper");
    kith_value_t l = {0};
    ASSERT_OK(kith_value_list_append(&l, "navy", 4));
    ASSERT_OK(kith_value_list_append(&l, "COBOL pioneer", 13));
    ASSERT_OK(kith_op_set_field(&op, "tags", &l));
    kith_value_clear(&l);
    int added;
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(put_signed(f->s, owner_id, &op, &added));
    ASSERT_OK(kith_store_commit(f->s));
    kith_op_close(&op);

    found_t r = {0};
    ASSERT_OK(kith_store_search(f->s, "odegard", found_cb, &r));
    ASSERT_EQ(r.n, 1);
    assert_true(found_has(&r, "\xc3\x98ystein \xc3\x98"
                              "deg\xc3\xa5rd"));
    memset(&r, 0, sizeof(r));
    ASSERT_OK(kith_store_search(f->s,
                                "\xc3\x98"
                                "DEG\xc3\x85RD",
                                found_cb, &r));
    ASSERT_EQ(r.n, 1);
    memset(&r, 0, sizeof(r));
    ASSERT_OK(kith_store_search(f->s, "LOVELACE", found_cb, &r));
    ASSERT_EQ(r.n, 1);
    assert_true(found_has(&r, "Ada Lovelace"));
    /* Text in a list item, the second one included. */
    memset(&r, 0, sizeof(r));
    ASSERT_OK(kith_store_search(f->s, "cobol", found_cb, &r));
    ASSERT_EQ(r.n, 1);
    assert_true(found_has(&r, "Grace Hopper"));
    memset(&r, 0, sizeof(r));
    ASSERT_OK(kith_store_search(f->s, "pioneer", found_cb, &r));
    ASSERT_EQ(r.n, 1);
    /* No match; an empty needle matches every live record. */
    memset(&r, 0, sizeof(r));
    ASSERT_OK(kith_store_search(f->s, "zzz-no-such-text", found_cb, &r));
    ASSERT_EQ(r.n, 0);
    memset(&r, 0, sizeof(r));
    ASSERT_OK(kith_store_search(f->s, "", found_cb, &r));
    ASSERT_EQ(r.n, 3);
    /* Hostile needles are plain text. */
    memset(&r, 0, sizeof(r));
    ASSERT_OK(kith_store_search(f->s, "%", found_cb, &r));
    ASSERT_EQ(r.n, 0);
    ASSERT_OK(kith_store_search(f->s, "' OR 1=1 --", found_cb, &r));
    ASSERT_EQ(r.n, 0);
    ASSERT_OK(kith_store_search(f->s, "\xff\xfe", found_cb, &r));
    ASSERT_EQ(r.n, 0);
}

static void
resolve(void **state)
{
    fixture_t *f = *state;
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN], c[KITH_REC_ID_LEN], d[KITH_REC_ID_LEN];
    rec_id(a, 0xaa, 0xbb, 0xc1);
    rec_id(b, 0xaa, 0xbb, 0xd2);
    rec_id(c, 0x12, 0x34, 0x56);
    rec_id(d, 0xde, 0xad, 0x00);
    create_record(f->s, a, "Ada Lovelace", HLC(10, 0));
    create_record(f->s, b, "ada lovelace", HLC(11, 0));
    create_record(f->s, c,
                  "\xc3\x98ystein \xc3\x98"
                  "deg\xc3\xa5rd",
                  HLC(12, 0));
    create_record(f->s, d, "Gone", HLC(13, 0));
    delete_record(f->s, d, HLC(14, 0));
    uint8_t id[KITH_REC_ID_LEN];
    kith_buf_t cands;
    kith_buf_init(&cands);

    /* Id prefixes of 4 or more hex digits, either case, odd lengths too. */
    ASSERT_OK(kith_store_resolve(f->s, "1234", 0, id, &cands));
    assert_memory_equal(id, c, KITH_REC_ID_LEN);
    ASSERT_OK(kith_store_resolve(f->s, "12345", 0, id, NULL));
    assert_memory_equal(id, c, KITH_REC_ID_LEN);
    ASSERT_OK(kith_store_resolve(f->s, "AABBC", 0, id, NULL));
    assert_memory_equal(id, a, KITH_REC_ID_LEN);
    ASSERT_OK(kith_store_resolve(f->s, "aabbd2", 0, id, NULL));
    assert_memory_equal(id, b, KITH_REC_ID_LEN);
    /* The whole id, and all but its last digit. */
    char hex[2 * KITH_REC_ID_LEN + 2];
    sodium_bin2hex(hex, sizeof(hex), a, KITH_REC_ID_LEN);
    ASSERT_OK(kith_store_resolve(f->s, hex, 0, id, NULL));
    assert_memory_equal(id, a, KITH_REC_ID_LEN);
    hex[31] = '\0';
    ASSERT_OK(kith_store_resolve(f->s, hex, 0, id, NULL));
    assert_memory_equal(id, a, KITH_REC_ID_LEN);
    ASSERT_EQ(cands.len, 0);
    /* A prefix that matches nothing, and one too short to be taken as a prefix. */
    ASSERT_ERR(kith_store_resolve(f->s, "ffff", 0, id, &cands), KITH_ENOTFOUND);
    ASSERT_ERR(kith_store_resolve(f->s, "123", 0, id, &cands), KITH_ENOTFOUND);
    ASSERT_ERR(kith_store_resolve(f->s, "12", 0, id, &cands), KITH_ENOTFOUND);
    ASSERT_ERR(kith_store_resolve(f->s, "", 0, id, &cands), KITH_ENOTFOUND);
    /* 33 hex digits is longer than any id. */
    sodium_bin2hex(hex, sizeof(hex), a, KITH_REC_ID_LEN);
    hex[32] = '0';
    hex[33] = '\0';
    ASSERT_ERR(kith_store_resolve(f->s, hex, 0, id, &cands), KITH_ENOTFOUND);
    ASSERT_EQ(cands.len, 0);

    /* Exact names, case- and accent-insensitively. */
    ASSERT_OK(kith_store_resolve(f->s, "OYSTEIN ODEGARD", 0, id, NULL));
    assert_memory_equal(id, c, KITH_REC_ID_LEN);
    ASSERT_OK(kith_store_resolve(f->s,
                                 "\xc3\xb8ystein \xc3\xb8"
                                 "deg\xc3\xa5rd",
                                 0, id, NULL));
    assert_memory_equal(id, c, KITH_REC_ID_LEN);
    /* Only exact names: no prefix or substring of a name. */
    ASSERT_ERR(kith_store_resolve(f->s, "Oystein", 0, id, NULL), KITH_ENOTFOUND);
    ASSERT_ERR(kith_store_resolve(f->s, "oystein odegard ", 0, id, NULL), KITH_ENOTFOUND);

    /* Ambiguity: both candidates listed, with id prefix and name. */
    ASSERT_ERR(kith_store_resolve(f->s, "ADA LOVELACE", 0, id, &cands), KITH_EAMBIGUOUS);
    assert_non_null(cands.data);
    assert_non_null(strstr((char *) cands.data, "aabbc142"));
    assert_non_null(strstr((char *) cands.data, "aabbd242"));
    assert_non_null(strstr((char *) cands.data, "Ada Lovelace"));
    assert_non_null(strstr((char *) cands.data, "ada lovelace"));
    cands.len = 0;
    ASSERT_ERR(kith_store_resolve(f->s, "aabb", 0, id, &cands), KITH_EAMBIGUOUS);
    assert_non_null(strstr((char *) cands.data, "aabbc142"));
    assert_non_null(strstr((char *) cands.data, "aabbd242"));
    ASSERT_ERR(kith_store_resolve(f->s, "aabb", 0, id, NULL), KITH_EAMBIGUOUS);

    /* Deleted records resolve neither by id nor by name, unless asked for (show, log and
     * restore work on them). */
    ASSERT_ERR(kith_store_resolve(f->s, "dead", 0, id, NULL), KITH_ENOTFOUND);
    ASSERT_ERR(kith_store_resolve(f->s, "Gone", 0, id, NULL), KITH_ENOTFOUND);
    ASSERT_OK(kith_store_resolve(f->s, "dead", 1, id, NULL));
    ASSERT_OK(kith_store_resolve(f->s, "Gone", 1, id, NULL));
    ASSERT_OK(kith_store_resolve(f->s, "Ada Lovelace", 1, id, NULL) == KITH_EAMBIGUOUS
                  ? KITH_OK
                  : KITH_EINVAL);
    kith_buf_close(&cands);
}

/* ---- tests: peers and shares -------------------------------------------------------- */

static kith_peer_t
peer(const char *name, uint8_t keybyte, const char *groups)
{
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = (char *) name;
    memset(p.key, keybyte, KITH_PK_LEN);
    p.groups = (char *) groups;
    p.addr = (char *) "192.0.2.1:5484";
    p.added_ms = 1234567;
    return p;
}

static void
peers(void **state)
{
    fixture_t *f = *state;
    kith_peer_t bob = peer("bob", 0xb0, "sales,emea"), alice = peer("alice", 0xa1, "");
    alice.self = 1;
    alice.addr = NULL;
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_peer_add(f->s, &bob));
    ASSERT_OK(kith_store_peer_add(f->s, &alice));
    /* A duplicate name or key is refused. */
    kith_peer_t dup_name = peer("bob", 0xcc, "");
    ASSERT_ERR(kith_store_peer_add(f->s, &dup_name), KITH_EEXISTS);
    kith_peer_t dup_key = peer("robert", 0xb0, "");
    ASSERT_ERR(kith_store_peer_add(f->s, &dup_key), KITH_EEXISTS);
    ASSERT_OK(kith_store_commit(f->s));

    kith_peer_t got;
    ASSERT_OK(kith_store_peer_get(f->s, "bob", &got));
    ASSERT_STREQ(got.name, "bob");
    ASSERT_STREQ(got.groups, "sales,emea");
    ASSERT_STREQ(got.addr, "192.0.2.1:5484");
    ASSERT_STREQ(got.last_addr, "");
    ASSERT_EQ(got.self, 0);
    ASSERT_EQ(got.added_ms, 1234567);
    ASSERT_EQ(got.last_seen_ms, 0);
    assert_memory_equal(got.key, bob.key, KITH_PK_LEN);
    kith_peer_close(&got);
    ASSERT_OK(kith_store_peer_get_by_key(f->s, alice.key, &got));
    ASSERT_STREQ(got.name, "alice");
    ASSERT_STREQ(got.addr, "");
    ASSERT_STREQ(got.groups, "");
    ASSERT_EQ(got.self, 1);
    kith_peer_close(&got);
    ASSERT_ERR(kith_store_peer_get(f->s, "Bob", &got), KITH_ENOTFOUND);
    ASSERT_ERR(kith_store_peer_get(f->s, "carol", &got), KITH_ENOTFOUND);
    uint8_t nokey[KITH_PK_LEN];
    memset(nokey, 0x99, sizeof(nokey));
    ASSERT_ERR(kith_store_peer_get_by_key(f->s, nokey, &got), KITH_ENOTFOUND);

    /* The list is sorted by name. */
    kith_peer_t *list = NULL;
    size_t n = 0;
    ASSERT_OK(kith_store_peer_list(f->s, &list, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(list[0].name, "alice");
    ASSERT_STREQ(list[1].name, "bob");
    kith_peers_free(list, n);

    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_peer_remove(f->s, "bob"));
    ASSERT_ERR(kith_store_peer_remove(f->s, "bob"), KITH_ENOTFOUND);
    ASSERT_ERR(kith_store_peer_remove(f->s, "nobody"), KITH_ENOTFOUND);
    ASSERT_OK(kith_store_commit(f->s));
    ASSERT_OK(kith_store_peer_list(f->s, &list, &n));
    ASSERT_EQ(n, 1);
    kith_peers_free(list, n);
    /* Its key is free again. */
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_peer_add(f->s, &dup_key));
    ASSERT_OK(kith_store_commit(f->s));
    kith_peers_free(NULL, 0);
}

static void
peer_groups(void **state)
{
    (void) state;
    kith_peer_t p = peer("p", 1, "sales,emea,a-team");
    assert_true(kith_peer_in_group(&p, "sales"));
    assert_true(kith_peer_in_group(&p, "emea"));
    assert_true(kith_peer_in_group(&p, "a-team"));
    assert_false(kith_peer_in_group(&p, "sale"));
    assert_false(kith_peer_in_group(&p, "ales"));
    assert_false(kith_peer_in_group(&p, "Sales"));
    assert_false(kith_peer_in_group(&p, "sales,emea"));
    assert_false(kith_peer_in_group(&p, "team"));
    assert_false(kith_peer_in_group(&p, ""));
    p.groups = (char *) "";
    assert_false(kith_peer_in_group(&p, "sales"));
    assert_false(kith_peer_in_group(&p, ""));
    p.groups = NULL;
    assert_false(kith_peer_in_group(&p, "sales"));
    p.groups = (char *) "solo";
    assert_true(kith_peer_in_group(&p, "solo"));
    assert_false(kith_peer_in_group(&p, "sol"));
}

typedef struct {
    int n;
    kith_share_target_t targets[8];
    int roles[8];
    uint8_t recs[8][KITH_REC_ID_LEN];
} shares_t;

static int
share_cb(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const kith_share_target_t *target, int role)
{
    shares_t *s = ctx;
    if (s->n < 8) {
        s->targets[s->n] = *target;
        s->roles[s->n] = role;
        memcpy(s->recs[s->n], id, KITH_REC_ID_LEN);
    }
    s->n++;
    return 0;
}

static kith_share_target_t
key_target(uint8_t keybyte)
{
    kith_share_target_t t;
    memset(&t, 0, sizeof(t));
    memset(t.key, keybyte, KITH_PK_LEN);
    return t;
}

static kith_share_target_t
group_target(const char *group)
{
    kith_share_target_t t;
    memset(&t, 0, sizeof(t));
    t.is_group = 1;
    snprintf(t.group, sizeof(t.group), "%s", group);
    return t;
}

static void
shares(void **state)
{
    fixture_t *f = *state;
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN];
    rec_id(a, 0x0a, 0, 0);
    rec_id(b, 0x0b, 0, 0);
    kith_share_target_t bob = key_target(0xb0), carol = key_target(0xc0),
                        sales = group_target("sales"), nobody = group_target("nobody");
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_share_set(f->s, a, &bob, KITH_ROLE_READER));
    ASSERT_OK(kith_store_share_set(f->s, a, &sales, KITH_ROLE_EDITOR));
    ASSERT_OK(kith_store_share_set(f->s, a, &carol, KITH_ROLE_READER));
    ASSERT_OK(kith_store_share_set(f->s, b, &bob, KITH_ROLE_EDITOR));
    /* Setting again replaces the role. */
    ASSERT_OK(kith_store_share_set(f->s, a, &bob, KITH_ROLE_EDITOR));
    /* An empty group name is not a target. */
    kith_share_target_t empty = group_target("");
    ASSERT_ERR(kith_store_share_set(f->s, a, &empty, KITH_ROLE_EDITOR), KITH_EINVAL);
    ASSERT_OK(kith_store_commit(f->s));

    /* Groups first, then peers by key; each comes back as it went in. */
    shares_t s = {0};
    ASSERT_OK(kith_store_share_foreach(f->s, a, share_cb, &s));
    ASSERT_EQ(s.n, 3);
    assert_true(kith_share_target_eq(&s.targets[0], &sales));
    ASSERT_EQ(s.roles[0], KITH_ROLE_EDITOR);
    assert_true(kith_share_target_eq(&s.targets[1], &bob));
    ASSERT_EQ(s.roles[1], KITH_ROLE_EDITOR);
    assert_true(kith_share_target_eq(&s.targets[2], &carol));
    assert_false(kith_share_target_eq(&s.targets[1], &carol));
    assert_false(kith_share_target_eq(&s.targets[0], &nobody));
    memset(&s, 0, sizeof(s));
    ASSERT_OK(kith_store_share_foreach(f->s, NULL, share_cb, &s));
    ASSERT_EQ(s.n, 4);
    assert_memory_equal(s.recs[3], b, KITH_REC_ID_LEN);

    int removed = -1;
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_share_remove(f->s, a, &carol, &removed));
    ASSERT_EQ(removed, 1);
    ASSERT_OK(kith_store_share_remove(f->s, a, &carol, &removed));
    ASSERT_EQ(removed, 0);
    ASSERT_OK(kith_store_share_remove(f->s, a, &nobody, &removed));
    ASSERT_EQ(removed, 0);
    /* A peer's specs go together, from every record, and only its own. */
    size_t n_removed = 0;
    ASSERT_OK(kith_store_share_remove_peer(f->s, bob.key, &n_removed));
    ASSERT_EQ(n_removed, 2);
    ASSERT_OK(kith_store_commit(f->s));
    memset(&s, 0, sizeof(s));
    ASSERT_OK(kith_store_share_foreach(f->s, a, share_cb, &s));
    ASSERT_EQ(s.n, 1);
    assert_true(kith_share_target_eq(&s.targets[0], &sales));
    memset(&s, 0, sizeof(s));
    ASSERT_OK(kith_store_share_foreach(f->s, b, share_cb, &s));
    ASSERT_EQ(s.n, 0);
}

/* A version 2 database named peer targets by name. Opening it converts each to the key
 * of the peer that has the name, keeps groups, and drops names that no longer name a
 * peer (their shares reached nobody). */
static void
migrates_share_names_to_keys(void **state)
{
    fixture_t *f = *state;
    kith_store_close(f->s);
    f->s = NULL;
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open(f->db, &db), SQLITE_OK);
    /* Back to version 2: the shares table as it was. */
    ASSERT_EQ(
        sqlite3_exec(db,
                     DROP_AUTH_COLUMNS
                     "DROP TABLE shares; DROP TABLE former;"
                     "DELETE FROM meta WHERE key = 'auth';"
                     "CREATE TABLE shares(rec BLOB NOT NULL, target TEXT NOT NULL,"
                     "  role INTEGER NOT NULL, PRIMARY KEY(rec, target)) WITHOUT ROWID;"
                     "INSERT INTO peers VALUES('bob', zeroblob(32), 'sales', '', 0, 1, 0, '');"
                     "INSERT INTO shares VALUES(x'0a000000000000000000000000000000', 'bob', 1),"
                     "  (x'0a000000000000000000000000000000', '@sales', 2), "
                     "(x'0a000000000000000000000000000000', 'gone', 2),"
                     "  (x'0b000000000000000000000000000000', 'bob', 2);"
                     "PRAGMA user_version=2",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    reopen(f);
    ASSERT_EQ(kith_store_schema_version(f->s), KITH_STORE_SCHEMA_VERSION);
    /* Read back without the store's checks, to see exactly what is stored. */
    ASSERT_EQ(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT hex(rec), typeof(target), hex(target), role FROM shares "
                                 "ORDER BY rec, target",
                                 -1, &st, NULL),
              SQLITE_OK);
    const char *want[][4] = {
        {"0A000000000000000000000000000000", "text", "4073616C6573", "2"}, /* '@sales' */
        {"0A000000000000000000000000000000", "blob",
         "0000000000000000000000000000000000000000000000000000000000000000", "1"},
        {"0B000000000000000000000000000000", "blob",
         "0000000000000000000000000000000000000000000000000000000000000000", "2"},
    };
    size_t rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        assert_true(rows < 3);
        for (int c = 0; c < 4; c++) {
            ASSERT_STREQ((const char *) sqlite3_column_text(st, c), want[rows][c]);
        }
        rows++;
    }
    ASSERT_EQ(rows, 3);
    sqlite3_finalize(st);
    /* The new table refuses anything but a 32-byte key or "@group". */
    ASSERT_EQ(sqlite3_exec(db, "INSERT INTO shares(rec, target, role) VALUES(x'0c', 'carol', 1)",
                           NULL, NULL, NULL),
              SQLITE_CONSTRAINT);
    sqlite3_close(db);
    /* And the store reads them as targets. */
    kith_share_target_t bob = key_target(0x00);
    shares_t s = {0};
    ASSERT_OK(kith_store_share_foreach(f->s, NULL, share_cb, &s));
    ASSERT_EQ(s.n, 3);
    assert_true(s.targets[0].is_group);
    ASSERT_STREQ(s.targets[0].group, "sales");
    assert_true(kith_share_target_eq(&s.targets[1], &bob));
}

/* ---- tests: former members ---------------------------------------------------------- */

/* Signs an op by author on owner_id's record rec at hlc; setting note when note is not
 * NULL, and the audience to the NULL-terminated editors when aud is not NULL. Its hash
 * goes to hash (may be NULL). */
static void
sign_op(kith_buf_t *out, const kith_identity_t *author, const uint8_t rec[KITH_REC_ID_LEN],
        uint64_t hlc, int kind, const char *note, const uint8_t *const *aud, uint8_t *hash)
{
    kith_op_t op;
    new_op(&op, rec, author, owner_id, hlc);
    op.kind = kind;
    if (kind >= 0) {
        op_str(&op, "name", "Someone");
    }
    if (note != NULL) {
        op_str(&op, "note", note);
    }
    if (aud != NULL) {
        op.has_aud = 1;
        for (size_t i = 0; aud[i] != NULL; i++) {
            ASSERT_OK(kith_op_add_aud(&op, aud[i], KITH_ROLE_EDITOR));
        }
    }
    uint8_t h[KITH_HASH_LEN];
    kith_buf_init(out);
    ASSERT_OK(kith_op_sign(&op, author, out, h));
    if (hash != NULL) {
        memcpy(hash, h, KITH_HASH_LEN);
    }
    kith_op_close(&op);
}

/* Applies signed ops as received from sender by the node whose key is self. */
static kith_apply_stats_t
receive(fixture_t *f, const kith_identity_t *self, const kith_identity_t *sender, kith_buf_t *ops,
        size_t n)
{
    const uint8_t *ptrs[8];
    size_t lens[8];
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = ops[i].data;
        lens[i] = ops[i].len;
    }
    kith_apply_stats_t st = {0, 0, 0};
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(
        kith_store_apply_remote(f->s, self->pk, sender->pk, 0, ptrs, lens, n, &st, NULL, NULL));
    ASSERT_OK(kith_store_commit(f->s));
    return st;
}

static int
count_seq_op(void *ctx, const uint8_t *signed_op, size_t len, const uint8_t hash[KITH_HASH_LEN])
{
    (void) signed_op;
    (void) len;
    uint8_t(*seen)[KITH_HASH_LEN] = ((void **) ctx)[0];
    size_t *n = ((void **) ctx)[1];
    if (*n < 8) {
        memcpy(seen[*n], hash, KITH_HASH_LEN);
    }
    (*n)++;
    return KITH_OK;
}

static int
items_have(const kith_item_t *items, size_t n, const uint8_t hash[KITH_HASH_LEN])
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(items[i].id, hash, KITH_HASH_LEN) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The owner's side: the store remembers who was removed from an audience and by which
 * op; the set offered to a removed member holds that op and the older ones, never a
 * later one; a push carries only the removing op. Putting the member back forgets it. */
static void
former_members_offered(void **state)
{
    fixture_t *f = *state;
    uint8_t rec[KITH_REC_ID_LEN], nonce[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    kith_op_rec_id_make(owner_id->pk, nonce, rec);
    const uint8_t *both[] = {other_id->pk, editor_id->pk, NULL},
                  *editor_only[] = {editor_id->pk, NULL};
    kith_buf_t ops[5];
    uint8_t h[5][KITH_HASH_LEN];
    sign_op(&ops[0], owner_id, rec, HLC(1000, 0), KITH_KIND_PERSON, NULL, NULL, h[0]);
    sign_op(&ops[1], owner_id, rec, HLC(1100, 0), -1, NULL, both, h[1]);
    sign_op(&ops[2], editor_id, rec, HLC(1200, 0), -1, "by the editor", NULL, h[2]);
    sign_op(&ops[3], owner_id, rec, HLC(1300, 0), -1, NULL, editor_only, h[3]); /* removal */
    sign_op(&ops[4], owner_id, rec, HLC(1400, 0), -1, "after", NULL, h[4]);
    /* The owner's node stores them as it made (or received) them. */
    kith_apply_stats_t st = receive(f, owner_id, editor_id, ops, 5);
    ASSERT_EQ(st.accepted, 5);

    uint64_t hlc = 0;
    ASSERT_OK(kith_store_former_get(f->s, rec, other_id->pk, &hlc));
    ASSERT_EQ(hlc, HLC(1300, 0));
    ASSERT_ERR(kith_store_former_get(f->s, rec, editor_id->pk, &hlc), KITH_ENOTFOUND);
    ASSERT_ERR(kith_store_former_get(f->s, rec, owner_id->pk, &hlc), KITH_ENOTFOUND);

    kith_item_t *items = NULL;
    uint8_t(*recs)[KITH_REC_ID_LEN] = NULL;
    size_t n = 0;
    uint64_t seq = 0;
    ASSERT_OK(kith_store_sync_items(f->s, other_id->pk, 0, &items, &recs, &n, &seq));
    ASSERT_EQ(n, 4);
    for (int i = 0; i < 4; i++) {
        assert_true(items_have(items, n, h[i]));
    }
    assert_false(items_have(items, n, h[4]));
    free(items);
    free(recs);

    uint8_t seen[8][KITH_HASH_LEN];
    size_t n_seen = 0;
    void *ctx[2] = {seen, &n_seen};
    uint64_t last = 0;
    ASSERT_OK(kith_store_ops_since(f->s, other_id->pk, 0, 0, 100, count_seq_op, ctx, &last));
    ASSERT_EQ(n_seen, 1);
    assert_memory_equal(seen[0], h[3], KITH_HASH_LEN);

    /* doctor --repair rebuilds it; so does the first open after an upgrade (rederive). */
    uint64_t refolded = 0;
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_refold_all(f->s, &refolded));
    ASSERT_OK(kith_store_commit(f->s));
    ASSERT_OK(kith_store_former_get(f->s, rec, other_id->pk, &hlc));
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open(f->db, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DELETE FROM former;"
                           "DELETE FROM meta WHERE key = 'derived_version'",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    ASSERT_ERR(kith_store_former_get(f->s, rec, other_id->pk, &hlc), KITH_ENOTFOUND);
    ASSERT_OK(kith_store_rederive(f->s));
    ASSERT_OK(kith_store_former_get(f->s, rec, other_id->pk, &hlc));
    ASSERT_EQ(hlc, HLC(1300, 0));
    kith_buf_t flag;
    kith_buf_init(&flag);
    ASSERT_OK(kith_store_meta_get(f->s, "derived_version", &flag));
    kith_buf_close(&flag);
    /* Once only: with the version recorded, rows deleted now stay deleted. */
    ASSERT_EQ(sqlite3_open(f->db, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DELETE FROM former", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ASSERT_OK(kith_store_rederive(f->s));
    ASSERT_ERR(kith_store_former_get(f->s, rec, other_id->pk, &hlc), KITH_ENOTFOUND);
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_refold_all(f->s, &refolded));
    ASSERT_OK(kith_store_commit(f->s));
    ASSERT_OK(kith_store_former_get(f->s, rec, other_id->pk, &hlc));

    /* Back in the audience: no longer a former member, offered everything again. */
    kith_buf_t back;
    sign_op(&back, owner_id, rec, HLC(1500, 0), -1, NULL, both, NULL);
    st = receive(f, owner_id, editor_id, &back, 1);
    ASSERT_EQ(st.accepted, 1);
    ASSERT_ERR(kith_store_former_get(f->s, rec, other_id->pk, &hlc), KITH_ENOTFOUND);
    ASSERT_OK(kith_store_sync_items(f->s, other_id->pk, 0, &items, &recs, &n, &seq));
    ASSERT_EQ(n, 6);
    free(items);
    free(recs);
    kith_buf_close(&back);
    for (int i = 0; i < 5; i++) {
        kith_buf_close(&ops[i]);
    }
}

/* The removed member's side (receiving rule 4): of a record it holds, it takes the owner's
 * op that removed it and older ops, but not the removal together with a later op, and no
 * later op afterwards; a record it never held is refused, removal or not. */
static void
former_member_receives(void **state)
{
    fixture_t *f = *state;
    uint8_t rec[KITH_REC_ID_LEN], nonce[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    kith_op_rec_id_make(owner_id->pk, nonce, rec);
    const uint8_t *with_me[] = {other_id->pk, editor_id->pk, NULL},
                  *without_me[] = {editor_id->pk, NULL};
    kith_buf_t create, shared, removal, later, older;
    sign_op(&create, owner_id, rec, HLC(1000, 0), KITH_KIND_PERSON, NULL, NULL, NULL);
    sign_op(&shared, owner_id, rec, HLC(1100, 0), -1, "shared", with_me, NULL);
    sign_op(&removal, owner_id, rec, HLC(1300, 0), -1, NULL, without_me, NULL);
    sign_op(&later, owner_id, rec, HLC(1400, 0), -1, "after the removal", NULL, NULL);
    sign_op(&older, editor_id, rec, HLC(1200, 0), -1, "an editor's, before", NULL, NULL);

    /* The node of other_id: it held the record. */
    kith_buf_t first[2] = {create, shared};
    kith_apply_stats_t st = receive(f, other_id, owner_id, first, 2);
    ASSERT_EQ(st.accepted, 2);
    kith_buf_t bad[2] = {removal, later};
    st = receive(f, other_id, owner_id, bad, 2);
    ASSERT_EQ(st.rejected, 2);
    ASSERT_EQ(st.accepted, 0);
    uint64_t hlc = 0;
    ASSERT_ERR(kith_store_former_get(f->s, rec, other_id->pk, &hlc), KITH_ENOTFOUND);

    st = receive(f, other_id, owner_id, &removal, 1);
    ASSERT_EQ(st.accepted, 1);
    ASSERT_OK(kith_store_former_get(f->s, rec, other_id->pk, &hlc));
    ASSERT_EQ(hlc, HLC(1300, 0));
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(f->s, rec, &r));
    ASSERT_EQ(kith_record_role(&r, other_id->pk), 0);
    kith_record_close(&r);
    st = receive(f, other_id, owner_id, &later, 1);
    ASSERT_EQ(st.rejected, 1);
    /* An editor relays an op older than the removal: still something it could have. */
    st = receive(f, other_id, editor_id, &older, 1);
    ASSERT_EQ(st.accepted, 1);
    ASSERT_OK(kith_store_record_get(f->s, rec, &r));
    ASSERT_STREQ(kith_record_field(&r, "note")->value.str, "an editor's, before");
    kith_record_close(&r);

    /* A record it never held: shared and unshared before it synced. */
    uint8_t rec2[KITH_REC_ID_LEN], nonce2[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    kith_op_rec_id_make(owner_id->pk, nonce2, rec2);
    kith_buf_t never[3];
    sign_op(&never[0], owner_id, rec2, HLC(2000, 0), KITH_KIND_PERSON, NULL, NULL, NULL);
    sign_op(&never[1], owner_id, rec2, HLC(2100, 0), -1, NULL, with_me, NULL);
    sign_op(&never[2], owner_id, rec2, HLC(2200, 0), -1, NULL, without_me, NULL);
    st = receive(f, other_id, owner_id, never, 3);
    ASSERT_EQ(st.rejected, 3);
    ASSERT_ERR(kith_store_record_get(f->s, rec2, &r), KITH_ENOTFOUND);
    for (int i = 0; i < 3; i++) {
        kith_buf_close(&never[i]);
    }
    kith_buf_close(&create);
    kith_buf_close(&shared);
    kith_buf_close(&removal);
    kith_buf_close(&later);
    kith_buf_close(&older);
}

/* ---- tests: tampering with the authenticated rows ----------------------------------- */

/* A second connection to the fixture's database, as someone who can write the file but
 * not read the identity: it edits rows between the store's operations. Its temporary
 * tables (this connection's alone) keep rows it copied, to put back later. */
static sqlite3 *
tamper_open(const fixture_t *f)
{
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void tamper(sqlite3 *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
tamper(sqlite3 *db, const char *fmt, ...)
{
    char sql[2048], *err = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        print_error("%s: %s\n", sql, err);
        sqlite3_free(err);
        fail();
    }
}

/* The integer that one SELECT returns. */
static int64_t tamper_int(sqlite3 *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int64_t
tamper_int(sqlite3 *db, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* An SQL blob literal, x'...', of n bytes (n <= 32). */
typedef struct {
    char s[2 * 32 + 4];
} hexlit_t;

static hexlit_t
hexlit(const uint8_t *p, size_t n)
{
    hexlit_t h;
    h.s[0] = 'x';
    h.s[1] = '\'';
    sodium_bin2hex(h.s + 2, sizeof(h.s) - 3, p, n);
    strcat(h.s, "'");
    return h;
}

/* The set offered to peer (not a self peer); *n gets its size. */
static int
offered(fixture_t *f, const kith_identity_t *peer, size_t *n)
{
    kith_item_t *items = NULL;
    uint8_t(*recs)[KITH_REC_ID_LEN] = NULL;
    uint64_t seq = 0;
    *n = 0;
    int rc = kith_store_sync_items(f->s, peer->pk, 0, &items, &recs, n, &seq);
    if (rc != KITH_OK) {
        assert_null(items);
        assert_null(recs);
        ASSERT_EQ(*n, 0);
    }
    free(items);
    free(recs);
    return rc;
}

/* Pushes to peer (not a self peer) every op after after_seq; *pushed counts the ops handed
 * over before it stopped, *last is the last sequence number handed over. */
static int
pushed(fixture_t *f, const kith_identity_t *peer, uint64_t after_seq, size_t *n, uint64_t *last)
{
    uint8_t seen[8][KITH_HASH_LEN];
    void *ctx[2] = {seen, n};
    *n = 0;
    return kith_store_ops_since(f->s, peer->pk, 0, after_seq, 100, count_seq_op, ctx, last);
}

/* owner_id's record, as the owner's node received it from editor_id: a creation op (h[0],
 * sequence number 1 in a fresh store) and an audience op (h[1], 2) sharing it with aud
 * (NULL-terminated, editor_id among them). */
static void
shared_record(fixture_t *f, uint8_t rec[KITH_REC_ID_LEN], uint8_t nonce_byte,
              const uint8_t *const *aud, uint8_t h[2][KITH_HASH_LEN])
{
    uint8_t nonce[8];
    memset(nonce, nonce_byte, sizeof(nonce));
    kith_op_rec_id_make(owner_id->pk, nonce, rec);
    kith_buf_t ops[2];
    sign_op(&ops[0], owner_id, rec, HLC(1000, 0), KITH_KIND_PERSON, NULL, NULL, h[0]);
    sign_op(&ops[1], owner_id, rec, HLC(1100, 0), -1, NULL, aud, h[1]);
    kith_apply_stats_t st = receive(f, owner_id, editor_id, ops, 2);
    ASSERT_EQ(st.accepted, 2);
    kith_buf_close(&ops[0]);
    kith_buf_close(&ops[1]);
}

/* Signs op by id and stores it as a local change; its hash goes to hash. */
static void
put_local(fixture_t *f, const kith_identity_t *id, const kith_op_t *op, uint8_t hash[KITH_HASH_LEN])
{
    kith_buf_t b;
    kith_buf_init(&b);
    int added = 0;
    ASSERT_OK(kith_op_sign(op, id, &b, hash));
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(kith_store_put_op(f->s, b.data, b.len, op, hash, &added));
    ASSERT_OK(kith_store_commit(f->s));
    ASSERT_EQ(added, 1);
    kith_buf_close(&b);
}

/* What kith_store_check() and kith_store_auth_repair() report, one line each. */
typedef struct {
    int n;
    char text[4096];
} lines_t;

static void
lines_cb(void *ctx, const char *line)
{
    lines_t *l = ctx;
    size_t len = strlen(l->text);
    snprintf(l->text + len, sizeof(l->text) - len, "%s\n", line);
    l->n++;
}

/* The number of problems kith_store_check() finds; they go to l (may be NULL). */
static uint64_t
problems(fixture_t *f, lines_t *l)
{
    lines_t scratch;
    if (l == NULL) {
        l = &scratch;
    }
    memset(l, 0, sizeof(*l));
    kith_store_check_t c;
    ASSERT_OK(kith_store_check(f->s, lines_cb, l, &c));
    ASSERT_EQ(c.problems, (uint64_t) l->n);
    return c.problems;
}

/* (a) An audience row that shares a record with someone its ops did not: the set offered
 * to that key, and every push to it, is refused; a member no tampered row concerns is
 * still served. */
static void
tamper_audience_row_added(void **state)
{
    fixture_t *f = *state;
    uint8_t rec[KITH_REC_ID_LEN], h[2][KITH_HASH_LEN];
    const uint8_t *editor_only[] = {editor_id->pk, NULL};
    shared_record(f, rec, 0xa0, editor_only, h);
    size_t n = 0, n_pushed = 0;
    uint64_t last = 0;
    ASSERT_OK(offered(f, other_id, &n));
    ASSERT_EQ(n, 0);
    ASSERT_OK(offered(f, editor_id, &n));
    ASSERT_EQ(n, 2);
    ASSERT_EQ(problems(f, NULL), 0);

    hexlit_t r = hexlit(rec, KITH_REC_ID_LEN), other = hexlit(other_id->pk, KITH_PK_LEN),
             editor = hexlit(editor_id->pk, KITH_PK_LEN);
    sqlite3 *db = tamper_open(f);
    /* Without a MAC, with a made-up one, and with the MAC of the editor's row. */
    const char *macs[] = {"NULL", "randomblob(16)", "(SELECT mac FROM audience WHERE member = %s)"};
    for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++) {
        char mac[200];
        snprintf(mac, sizeof(mac), macs[i], editor.s);
        tamper(db, "INSERT INTO audience(rec, member, role, mac) VALUES(%s, %s, 2, %s)", r.s,
               other.s, mac);
        ASSERT_ERR(offered(f, other_id, &n), KITH_ETAMPER);
        ASSERT_ERR(pushed(f, other_id, 0, &n_pushed, &last), KITH_ETAMPER);
        ASSERT_EQ(n_pushed, 0);
        ASSERT_EQ(last, 0);
        /* The editor's rows are untouched: it is served as before. */
        ASSERT_OK(offered(f, editor_id, &n));
        ASSERT_EQ(n, 2);
        ASSERT_OK(pushed(f, editor_id, 0, &n_pushed, &last));
        ASSERT_EQ(n_pushed, 2);
        ASSERT_EQ(last, 2);
        /* So is the owner, for its own record. */
        ASSERT_OK(offered(f, owner_id, &n));
        ASSERT_EQ(n, 2);
        lines_t l;
        ASSERT_EQ(problems(f, &l), 1);
        assert_non_null(strstr(l.text, "audience"));
        tamper(db, "DELETE FROM audience WHERE member = %s", other.s);
        ASSERT_OK(offered(f, other_id, &n));
        ASSERT_EQ(n, 0);
    }
    /* A tampered row that does concern the editor: its role raised. Now it is refused. */
    tamper(db, "UPDATE audience SET role = role + 1 WHERE member = %s", editor.s);
    ASSERT_ERR(offered(f, editor_id, &n), KITH_ETAMPER);
    ASSERT_ERR(pushed(f, editor_id, 0, &n_pushed, &last), KITH_ETAMPER);
    ASSERT_EQ(n_pushed, 0);
    tamper(db, "UPDATE audience SET role = role - 1 WHERE member = %s", editor.s);
    ASSERT_OK(offered(f, editor_id, &n));
    /* The record handed to another owner: the set offered to that owner is refused. */
    tamper(db, "UPDATE records SET owner = %s WHERE id = %s", other.s, r.s);
    ASSERT_ERR(offered(f, other_id, &n), KITH_ETAMPER);
    ASSERT_ERR(pushed(f, other_id, 0, &n_pushed, &last), KITH_ETAMPER);
    /* An audience row for a record whose records row is gone: nothing vouches for the
     * record, so the set is refused (and pushes, which join the records row, find none). */
    tamper(db,
           "DELETE FROM records WHERE id = %s;"
           "INSERT INTO audience(rec, member, role, mac) VALUES(%s, %s, 2, NULL)",
           r.s, r.s, other.s);
    ASSERT_ERR(offered(f, other_id, &n), KITH_ETAMPER);
    ASSERT_OK(pushed(f, other_id, 0, &n_pushed, &last));
    ASSERT_EQ(n_pushed, 0);
    sqlite3_close(db);
}

/* (b) A private op marked shared (and other columns of an op row changed): it no longer
 * unseals, so it is never read, let alone pushed. */
static void
tamper_op_private_flipped(void **state)
{
    fixture_t *f = *state;
    uint8_t rec[KITH_REC_ID_LEN], h[2][KITH_HASH_LEN], hp[KITH_HASH_LEN];
    const uint8_t *editor_only[] = {editor_id->pk, NULL};
    shared_record(f, rec, 0xb0, editor_only, h);
    kith_op_t op;
    new_op(&op, rec, owner_id, owner_id, HLC(1200, 0));
    op.private = 1;
    op_str(&op, "note", "the owner's private note");
    put_local(f, owner_id, &op, hp);
    kith_op_close(&op);
    size_t n = 0;
    uint64_t last = 0;
    ASSERT_OK(pushed(f, editor_id, 0, &n, &last));
    ASSERT_EQ(n, 2); /* not the private op */
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_store_op_get(f->s, hp, &b));

    sqlite3 *db = tamper_open(f);
    hexlit_t p = hexlit(hp, KITH_HASH_LEN), shared = hexlit(h[1], KITH_HASH_LEN);
    tamper(db, "UPDATE ops SET private = 0 WHERE hash = %s", p.s);
    b.len = 0;
    ASSERT_ERR(kith_store_op_get(f->s, hp, &b), KITH_ETAMPER);
    /* The other ops still read. */
    ASSERT_OK(kith_store_op_get(f->s, h[0], &b));
    /* A push to the editor stops at it, after the two shared ops. */
    ASSERT_ERR(pushed(f, editor_id, 0, &n, &last), KITH_ETAMPER);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(last, 2);
    /* And the record cannot be folded from its ops any more. */
    kith_op_list_t list;
    ASSERT_ERR(kith_store_load_ops(f->s, rec, &list), KITH_ETAMPER);
    lines_t l;
    ASSERT_EQ(problems(f, &l), 1);
    assert_non_null(strstr(l.text, "does not unseal"));
    tamper(db, "UPDATE ops SET private = 1 WHERE hash = %s", p.s);
    b.len = 0;
    ASSERT_OK(kith_store_op_get(f->s, hp, &b));

    /* A shared op marked private, moved to another record or author, or to another time:
     * the same. Each edit is undone by putting the row back as it was. */
    hexlit_t other_rec = hexlit(h[0], KITH_REC_ID_LEN), other = hexlit(other_id->pk, KITH_PK_LEN);
    const char *edits[] = {"private = 1", "rec = %s", "author = %s", "hlc = hlc + 1"};
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char set[200];
        snprintf(set, sizeof(set), edits[i], i == 1 ? other_rec.s : other.s);
        tamper(db, "CREATE TEMP TABLE saved AS SELECT * FROM ops WHERE hash = %s", shared.s);
        tamper(db, "UPDATE ops SET %s WHERE hash = %s", set, shared.s);
        b.len = 0;
        ASSERT_ERR(kith_store_op_get(f->s, h[1], &b), KITH_ETAMPER);
        tamper(db,
               "DELETE FROM ops WHERE hash = %s; INSERT INTO ops SELECT * FROM saved;"
               "DROP TABLE saved",
               shared.s);
        b.len = 0;
        ASSERT_OK(kith_store_op_get(f->s, h[1], &b));
    }
    ASSERT_EQ(problems(f, NULL), 0);
    kith_buf_close(&b);
    sqlite3_close(db);
}

/* Each kind of sealed blob has associated data of its own: a record's search text put in
 * place of its folded record, or one op's blob in place of another's, does not unseal. */
static void
tamper_blob_kinds_apart(void **state)
{
    fixture_t *f = *state;
    uint8_t rec[KITH_REC_ID_LEN], h[2][KITH_HASH_LEN];
    const uint8_t *editor_only[] = {editor_id->pk, NULL};
    shared_record(f, rec, 0xb4, editor_only, h);
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(f->s, rec, &r));
    kith_record_close(&r);
    sqlite3 *db = tamper_open(f);
    hexlit_t id = hexlit(rec, KITH_REC_ID_LEN);
    hexlit_t h0 = hexlit(h[0], KITH_HASH_LEN), h1 = hexlit(h[1], KITH_HASH_LEN);
    /* The search text unseals only as search text (proto/STORE.md). */
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT text FROM search WHERE id = ?", -1, &st, NULL),
              SQLITE_OK);
    sqlite3_bind_blob(st, 1, rec, KITH_REC_ID_LEN, SQLITE_STATIC);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    uint8_t ad[4 + KITH_REC_ID_LEN];
    kith_buf_t pt;
    kith_buf_init(&pt);
    const char *kinds[] = {"srch", "rec2"};
    for (int k = 0; k < 2; k++) {
        memcpy(ad, kinds[k], 4);
        memcpy(ad + 4, rec, KITH_REC_ID_LEN);
        pt.len = 0;
        int rc = kith_vault_unseal(f->vault, ad, sizeof(ad), sqlite3_column_blob(st, 0),
                                   (size_t) sqlite3_column_bytes(st, 0), &pt);
        ASSERT_EQ(rc, k == 0 ? KITH_OK : KITH_ECORRUPT);
    }
    kith_buf_close(&pt);
    sqlite3_finalize(st);
    /* And put in place of the folded record, it is refused. */
    tamper(db, "CREATE TEMP TABLE saved AS SELECT data FROM records WHERE id = %s", id.s);
    tamper(db, "UPDATE records SET data = (SELECT text FROM search WHERE id = %s) WHERE id = %s",
           id.s, id.s);
    ASSERT_ERR(kith_store_record_get(f->s, rec, &r), KITH_ECORRUPT);
    tamper(db, "UPDATE records SET data = (SELECT data FROM saved) WHERE id = %s; DROP TABLE saved",
           id.s);
    ASSERT_OK(kith_store_record_get(f->s, rec, &r));
    kith_record_close(&r);
    /* Two ops of one record, one's blob in the other's row. */
    kith_buf_t b;
    kith_buf_init(&b);
    tamper(db, "CREATE TEMP TABLE saved AS SELECT data FROM ops WHERE hash = %s", h1.s);
    tamper(db, "UPDATE ops SET data = (SELECT data FROM ops WHERE hash = %s) WHERE hash = %s", h0.s,
           h1.s);
    ASSERT_ERR(kith_store_op_get(f->s, h[1], &b), KITH_ETAMPER);
    tamper(db, "UPDATE ops SET data = (SELECT data FROM saved) WHERE hash = %s; DROP TABLE saved",
           h1.s);
    b.len = 0;
    ASSERT_OK(kith_store_op_get(f->s, h[1], &b));
    kith_buf_close(&b);
    sqlite3_close(db);
}

/* (c) A peers row that makes a stranger one of this user's own devices (self = 1): the
 * whole peer list is refused, whatever the MAC in the row. */
static void
tamper_self_peer_added(void **state)
{
    fixture_t *f = *state;
    kith_peer_t bob = peer("bob", 0xb0, "sales");
    ASSERT_OK(kith_store_peer_add(f->s, &bob));
    kith_peer_t got, *list = NULL;
    size_t n = 0;
    ASSERT_OK(kith_store_peer_list(f->s, &list, &n));
    kith_peers_free(list, n);
    uint8_t mallory[KITH_PK_LEN];
    memset(mallory, 0xee, sizeof(mallory));
    hexlit_t m = hexlit(mallory, KITH_PK_LEN);
    sqlite3 *db = tamper_open(f);
    const char *macs[] = {"NULL", "randomblob(16)", "(SELECT mac FROM peers WHERE name = 'bob')"};
    for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++) {
        tamper(db,
               "INSERT INTO peers(name, key, groups, addr, self, added, last_seen, last_addr, "
               "mac) VALUES('laptop', %s, '', '', 1, 1234567, 0, '', %s)",
               m.s, macs[i]);
        ASSERT_ERR(kith_store_peer_get_by_key(f->s, mallory, &got), KITH_ETAMPER);
        /* Not only the row itself: every lookup reads a table that does not check. */
        ASSERT_ERR(kith_store_peer_get_by_key(f->s, bob.key, &got), KITH_ETAMPER);
        ASSERT_ERR(kith_store_peer_get(f->s, "bob", &got), KITH_ETAMPER);
        list = (kith_peer_t *) (uintptr_t) 1;
        n = 99;
        ASSERT_ERR(kith_store_peer_list(f->s, &list, &n), KITH_ETAMPER);
        assert_null(list);
        ASSERT_EQ(n, 0);
        /* Nor is a change made on top of it, which would vouch for the row. */
        kith_peer_t carol = peer("carol", 0xc0, "");
        ASSERT_ERR(kith_store_peer_add(f->s, &carol), KITH_ETAMPER);
        ASSERT_EQ(tamper_int(db, "SELECT count(*) FROM peers WHERE name = 'carol'"), 0);
        tamper(db, "DELETE FROM peers WHERE name = 'laptop'");
        ASSERT_OK(kith_store_peer_get_by_key(f->s, bob.key, &got));
        kith_peer_close(&got);
    }
    /* bob made an own device: the same. */
    tamper(db, "UPDATE peers SET self = 1 WHERE name = 'bob'");
    ASSERT_ERR(kith_store_peer_get_by_key(f->s, bob.key, &got), KITH_ETAMPER);
    ASSERT_ERR(kith_store_peer_list(f->s, &list, &n), KITH_ETAMPER);
    lines_t l;
    ASSERT_EQ(problems(f, &l), 2); /* the row, and the table as a whole */
    assert_non_null(strstr(l.text, "peers 'bob'"));
    tamper(db, "UPDATE peers SET self = 0 WHERE name = 'bob'");
    ASSERT_OK(kith_store_peer_get_by_key(f->s, bob.key, &got));
    kith_peer_close(&got);
    /* When it was last seen, and where, decide nothing and are not covered. */
    tamper(db, "UPDATE peers SET last_seen = 99, last_addr = '198.51.100.7:1' WHERE name = 'bob'");
    ASSERT_OK(kith_store_peer_get_by_key(f->s, bob.key, &got));
    ASSERT_EQ(got.last_seen_ms, 99);
    kith_peer_close(&got);
    sqlite3_close(db);
}

/* (d) A peer removed with kith, then put back with sqlite3 as its row was, MAC and all:
 * the row checks, the peer list as a whole does not. */
static void
tamper_peer_put_back(void **state)
{
    fixture_t *f = *state;
    kith_peer_t bob = peer("bob", 0xb0, "sales"), alice = peer("alice", 0xa1, "");
    ASSERT_OK(kith_store_peer_add(f->s, &bob));
    ASSERT_OK(kith_store_peer_add(f->s, &alice));
    sqlite3 *db = tamper_open(f);
    tamper(db, "CREATE TEMP TABLE old_bob AS SELECT * FROM peers WHERE name = 'bob'");
    ASSERT_OK(kith_store_peer_remove(f->s, "bob"));
    kith_peer_t got, *list = NULL;
    size_t n = 0;
    ASSERT_OK(kith_store_peer_list(f->s, &list, &n));
    ASSERT_EQ(n, 1);
    kith_peers_free(list, n);

    tamper(db, "INSERT INTO peers SELECT * FROM old_bob");
    ASSERT_ERR(kith_store_peer_list(f->s, &list, &n), KITH_ETAMPER);
    ASSERT_ERR(kith_store_peer_get_by_key(f->s, bob.key, &got), KITH_ETAMPER);
    ASSERT_ERR(kith_store_peer_get(f->s, "alice", &got), KITH_ETAMPER);
    lines_t l;
    ASSERT_EQ(problems(f, &l), 1);
    assert_non_null(strstr(l.text, "peer list as a whole"));
    /* It stays caught across a reopen. */
    reopen(f);
    ASSERT_ERR(kith_store_peer_list(f->s, &list, &n), KITH_ETAMPER);

    /* A row deleted outside kith is caught the same way; putting back exactly what was
     * there undoes it. */
    tamper(db, "DELETE FROM peers WHERE name = 'bob'");
    ASSERT_OK(kith_store_peer_list(f->s, &list, &n));
    kith_peers_free(list, n);
    tamper(db, "CREATE TEMP TABLE old_alice AS SELECT * FROM peers WHERE name = 'alice';"
               "DELETE FROM peers WHERE name = 'alice'");
    ASSERT_ERR(kith_store_peer_list(f->s, &list, &n), KITH_ETAMPER);
    ASSERT_ERR(kith_store_peer_get_by_key(f->s, alice.key, &got), KITH_ETAMPER);
    tamper(db, "INSERT INTO peers SELECT * FROM old_alice");
    ASSERT_OK(kith_store_peer_get_by_key(f->s, alice.key, &got));
    kith_peer_close(&got);
    ASSERT_EQ(problems(f, NULL), 0);
    sqlite3_close(db);
}

/* (e) Repair: the flipped private mark goes back, rows kith did not write go, everything
 * derived is derived again, and afterwards the store checks clean. */
static void
tamper_repaired(void **state)
{
    fixture_t *f = *state;
    uint8_t rec[KITH_REC_ID_LEN], h[2][KITH_HASH_LEN], hp[KITH_HASH_LEN];
    const uint8_t *editor_only[] = {editor_id->pk, NULL};
    shared_record(f, rec, 0xe0, editor_only, h);
    kith_op_t op;
    new_op(&op, rec, owner_id, owner_id, HLC(1200, 0));
    op.private = 1;
    op_str(&op, "note", "the owner's private note");
    put_local(f, owner_id, &op, hp);
    kith_op_close(&op);
    kith_peer_t bob = peer("bob", 0xb0, "sales");
    ASSERT_OK(kith_store_peer_add(f->s, &bob));
    kith_share_target_t sales = group_target("sales");
    ASSERT_OK(kith_store_share_set(f->s, rec, &sales, KITH_ROLE_READER));
    ASSERT_EQ(problems(f, NULL), 0);

    /* Everything at once: an audience row, a private op marked shared, a stranger as an
     * own device, and a share with the stranger. */
    uint8_t mallory[KITH_PK_LEN];
    memset(mallory, 0xee, sizeof(mallory));
    hexlit_t r = hexlit(rec, KITH_REC_ID_LEN), other = hexlit(other_id->pk, KITH_PK_LEN),
             m = hexlit(mallory, KITH_PK_LEN), p = hexlit(hp, KITH_HASH_LEN);
    sqlite3 *db = tamper_open(f);
    tamper(db, "INSERT INTO audience(rec, member, role, mac) VALUES(%s, %s, 2, NULL)", r.s,
           other.s);
    tamper(db, "UPDATE ops SET private = 0 WHERE hash = %s", p.s);
    tamper(db,
           "INSERT INTO peers(name, key, groups, addr, self, added, last_seen, last_addr, mac) "
           "VALUES('laptop', %s, '', '', 1, 0, 0, '', NULL)",
           m.s);
    tamper(db, "INSERT INTO shares(rec, target, role, mac) VALUES(%s, %s, 2, randomblob(16))", r.s,
           m.s);
    size_t n = 0;
    ASSERT_ERR(offered(f, other_id, &n), KITH_ETAMPER);
    kith_peer_t *list = NULL;
    ASSERT_ERR(kith_store_peer_list(f->s, &list, &n), KITH_ETAMPER);
    shares_t sh = {0};
    ASSERT_ERR(kith_store_share_foreach(f->s, rec, share_cb, &sh), KITH_ETAMPER);
    lines_t l;
    /* The audience row, the op, the peer row, the share row, and both tables as wholes. */
    ASSERT_EQ(problems(f, &l), 6);

    uint64_t fixed = 0;
    memset(&l, 0, sizeof(l));
    ASSERT_OK(kith_store_auth_repair(f->s, lines_cb, &l, &fixed));
    ASSERT_EQ(fixed, 3);
    ASSERT_EQ(l.n, 3);
    assert_non_null(strstr(l.text, "put its private mark back"));
    assert_non_null(strstr(l.text, "removed peer laptop"));
    assert_non_null(strstr(l.text, "removed a share of record"));
    if (problems(f, &l) != 0) {
        print_error("after the repair:\n%s", l.text);
        fail();
    }
    /* Each part works again, and is as kith wrote it. */
    ASSERT_EQ(tamper_int(db, "SELECT private FROM ops WHERE hash = %s", p.s), 1);
    ASSERT_EQ(tamper_int(db, "SELECT count(*) FROM audience WHERE member = %s", other.s), 0);
    ASSERT_EQ(tamper_int(db, "SELECT count(*) FROM peers WHERE self = 1"), 0);
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_store_op_get(f->s, hp, &b));
    kith_buf_close(&b);
    ASSERT_OK(offered(f, other_id, &n));
    ASSERT_EQ(n, 0);
    ASSERT_OK(offered(f, editor_id, &n));
    ASSERT_EQ(n, 2);
    uint64_t last = 0;
    ASSERT_OK(pushed(f, editor_id, 0, &n, &last));
    ASSERT_EQ(n, 2);
    ASSERT_OK(kith_store_peer_list(f->s, &list, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(list[0].name, "bob");
    kith_peers_free(list, n);
    memset(&sh, 0, sizeof(sh));
    ASSERT_OK(kith_store_share_foreach(f->s, rec, share_cb, &sh));
    ASSERT_EQ(sh.n, 1);
    assert_true(kith_share_target_eq(&sh.targets[0], &sales));
    kith_record_t rr;
    ASSERT_OK(kith_store_record_get(f->s, rec, &rr));
    ASSERT_STREQ(kith_record_field(&rr, "note")->value.str, "the owner's private note");
    kith_record_close(&rr);
    /* And it stays so across a reopen, which checks the marker. */
    reopen(f);
    ASSERT_EQ(problems(f, NULL), 0);
    /* Repairing a clean store changes nothing. */
    ASSERT_OK(kith_store_auth_repair(f->s, lines_cb, &l, &fixed));
    ASSERT_EQ(fixed, 0);
    sqlite3_close(db);
}

/* (f) The marker that says a store's rows are authenticated: removed, a store that was
 * authenticated before is refused (allow = 0); changed, it is refused either way. */
static void
tamper_auth_marker(void **state)
{
    fixture_t *f = *state;
    uint8_t id[KITH_REC_ID_LEN];
    rec_id(id, 0xf0, 0, 0);
    create_record(f->s, id, "Marker Test", HLC(1000, 0));
    kith_store_upgrade_t up;
    ASSERT_OK(kith_store_auth_upgrade(f->s, 0, &up));
    ASSERT_EQ(up.upgraded, 0);
    sqlite3 *db = tamper_open(f);
    tamper(db, "CREATE TEMP TABLE old_meta AS SELECT * FROM meta");

    tamper(db, "DELETE FROM meta WHERE key = 'auth'");
    ASSERT_ERR(kith_store_auth_upgrade(f->s, 0, &up), KITH_ETAMPER);
    ASSERT_EQ(up.upgraded, 0);
    lines_t l;
    ASSERT_EQ(problems(f, &l), 1);
    assert_non_null(strstr(l.text, "marker"));
    /* Even allowed, the ops give it away: they are sealed the new way already. Nothing
     * is vouched for, and the marker stays missing. */
    ASSERT_ERR(kith_store_auth_upgrade(f->s, 1, &up), KITH_ETAMPER);
    ASSERT_EQ(up.upgraded, 0);
    ASSERT_EQ(tamper_int(db, "SELECT count(*) FROM meta WHERE key = 'auth'"), 0);

    /* A marker that does not check, and a database id changed under a good marker. */
    const char *edits[] = {
        "INSERT INTO meta VALUES('auth', randomblob(16))",
        "INSERT INTO meta VALUES('auth', x'')",
        "INSERT INTO meta SELECT key, value FROM old_meta WHERE key = 'auth';"
        "UPDATE meta SET value = randomblob(16) WHERE key = 'db_id'",
        "INSERT INTO meta SELECT key, value FROM old_meta WHERE key = 'auth';"
        "DELETE FROM meta WHERE key = 'db_id'",
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        tamper(db,
               "DELETE FROM meta; INSERT INTO meta SELECT * FROM old_meta;"
               "DELETE FROM meta WHERE key = 'auth'; %s",
               edits[i]);
        ASSERT_ERR(kith_store_auth_upgrade(f->s, 0, &up), KITH_ETAMPER);
        ASSERT_ERR(kith_store_auth_upgrade(f->s, 1, &up), KITH_ETAMPER);
        ASSERT_EQ(problems(f, NULL) > 0, 1);
    }
    /* Put back as it was, it checks again. */
    tamper(db, "DELETE FROM meta; INSERT INTO meta SELECT * FROM old_meta");
    ASSERT_OK(kith_store_auth_upgrade(f->s, 0, &up));
    ASSERT_EQ(problems(f, NULL), 0);
    /* doctor --repair writes a new marker for a missing one. */
    tamper(db, "DELETE FROM meta WHERE key = 'auth'");
    uint64_t fixed = 0;
    memset(&l, 0, sizeof(l));
    ASSERT_OK(kith_store_auth_repair(f->s, lines_cb, &l, &fixed));
    ASSERT_OK(kith_store_auth_upgrade(f->s, 0, &up));
    ASSERT_EQ(problems(f, NULL), 0);
    sqlite3_close(db);
}

/* (g) A record taken back in time: its records row and audience rows as they were before
 * a later op, which stays. Each row checks on its own; the record row's fold sequence
 * number is older than the op, so a push to an audience member stops at that op. */
static void
tamper_record_rolled_back(void **state)
{
    fixture_t *f = *state;
    uint8_t rec[KITH_REC_ID_LEN], h[2][KITH_HASH_LEN], later[KITH_HASH_LEN];
    const uint8_t *both[] = {other_id->pk, editor_id->pk, NULL},
                  *editor_only[] = {editor_id->pk, NULL};
    shared_record(f, rec, 0x90, both, h);
    sqlite3 *db = tamper_open(f);
    hexlit_t r = hexlit(rec, KITH_REC_ID_LEN);
    tamper(db,
           "CREATE TEMP TABLE old_rec AS SELECT * FROM records WHERE id = %s;"
           "CREATE TEMP TABLE old_aud AS SELECT * FROM audience WHERE rec = %s",
           r.s, r.s);
    /* The later op (sequence number 3) takes other_id out of the audience. */
    kith_buf_t removal;
    sign_op(&removal, owner_id, rec, HLC(1300, 0), -1, NULL, editor_only, later);
    kith_apply_stats_t st = receive(f, owner_id, editor_id, &removal, 1);
    ASSERT_EQ(st.accepted, 1);
    kith_buf_close(&removal);
    size_t n = 0;
    uint64_t last = 0;
    ASSERT_OK(pushed(f, editor_id, 0, &n, &last));
    ASSERT_EQ(n, 3);
    ASSERT_OK(pushed(f, other_id, 0, &n, &last));
    ASSERT_EQ(n, 1); /* only the op that removed it */
    ASSERT_EQ(last, 3);

    /* Back to before it: other_id in the audience again, the op kept. */
    tamper(db,
           "DELETE FROM records WHERE id = %s; INSERT INTO records SELECT * FROM old_rec;"
           "DELETE FROM audience WHERE rec = %s; INSERT INTO audience SELECT * FROM old_aud;"
           "DELETE FROM former WHERE rec = %s",
           r.s, r.s, r.s);
    ASSERT_EQ(tamper_int(db, "SELECT count(*) FROM ops WHERE rec = %s", r.s), 3);
    /* Pushes reach the two older ops, then stop at the later one. */
    ASSERT_ERR(pushed(f, editor_id, 0, &n, &last), KITH_ETAMPER);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(last, 2);
    ASSERT_ERR(pushed(f, editor_id, 2, &n, &last), KITH_ETAMPER);
    ASSERT_EQ(n, 0);
    ASSERT_ERR(pushed(f, other_id, 0, &n, &last), KITH_ETAMPER);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(last, 2);
    /* Nor is the set offered to either of them built on the old rows. */
    ASSERT_ERR(offered(f, editor_id, &n), KITH_ETAMPER);
    ASSERT_ERR(offered(f, other_id, &n), KITH_ETAMPER);
    /* kith doctor, which the refusal sends the user to, must see it too. */
    lines_t l;
    ASSERT_EQ(problems(f, &l), 1);
    assert_non_null(strstr(l.text, "records"));
    /* And the repair rebuilds the record from its ops. */
    uint64_t fixed = 0;
    ASSERT_OK(kith_store_auth_repair(f->s, lines_cb, &l, &fixed));
    ASSERT_EQ(problems(f, NULL), 0);
    ASSERT_OK(pushed(f, editor_id, 0, &n, &last));
    ASSERT_EQ(n, 3);
    ASSERT_OK(pushed(f, other_id, 0, &n, &last));
    ASSERT_EQ(n, 1);
    sqlite3_close(db);
}

/* ---- tests: a change committed by another process while the store checks ----------- */

/* Another process (the CLI beside the daemon) commits a legitimate change, through kith,
 * just as this store starts the statement whose SQL is `when`: an SQLite trace callback on
 * the store's connection, installed by an auto extension, makes the change from a second
 * connection before that statement takes its read snapshot. */
static struct {
    const char *when; /* SQL text, as prepared by the store */
    const char *path;
    kith_vault_t *vault;
    int skip; /* statements with that SQL to let pass first */
    int armed, fired, rc;
} race;

static int
race_trace(unsigned type, void *ctx, void *p, void *x)
{
    (void) ctx;
    (void) x;
    const char *sql = type == SQLITE_TRACE_STMT ? sqlite3_sql((sqlite3_stmt *) p) : NULL;
    if (!race.armed || sql == NULL || strcmp(sql, race.when) != 0 || race.skip-- > 0) {
        return 0;
    }
    race.armed = 0;
    kith_store_t *other = NULL;
    char err[256];
    race.rc = kith_store_open(race.path, 0, &other, err, sizeof(err));
    if (race.rc == KITH_OK) {
        kith_store_set_vault(other, race.vault);
        kith_peer_t dave = peer("dave", 0xd0, "");
        race.rc = kith_store_peer_add(other, &dave);
    }
    kith_store_close(other);
    race.fired = 1;
    return 0;
}

static int
race_hook(sqlite3 *db, char **err, const struct sqlite3_api_routines *api)
{
    (void) err;
    (void) api;
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, race_trace, NULL);
    return SQLITE_OK;
}

static void
race_arm(fixture_t *f, const char *when, int skip)
{
    race.when = when;
    race.skip = skip;
    race.path = f->db;
    race.vault = f->vault;
    race.fired = 0;
    race.rc = KITH_EINVAL;
    race.armed = 1;
}

static void
race_disarm(fixture_t *f)
{
    ASSERT_EQ(race.fired, 1);
    ASSERT_OK(race.rc);
    kith_peer_t got;
    ASSERT_OK(kith_store_peer_get(f->s, "dave", &got));
    kith_peer_close(&got);
    ASSERT_OK(kith_store_peer_remove(f->s, "dave"));
}

/* The generation, the rows and the table MAC are read as one snapshot: a peer added by
 * another process between them is not tampering. */
static void
checks_read_one_snapshot(void **state)
{
    fixture_t *f = *state;
    kith_peer_t bob = peer("bob", 0xb0, "sales");
    ASSERT_OK(kith_store_peer_add(f->s, &bob));
    kith_share_target_t sales = group_target("sales");
    uint8_t id[KITH_REC_ID_LEN];
    rec_id(id, 0x5a, 0, 0);
    ASSERT_OK(kith_store_share_set(f->s, id, &sales, KITH_ROLE_READER));
    ASSERT_EQ(sqlite3_auto_extension((void (*)(void)) race_hook), SQLITE_OK);
    reopen(f); /* its connection gets the trace */
    static const char *peers_rows =
        "SELECT name, key, groups, addr, self, added, mac FROM peers ORDER BY key";
    static const char *shares_rows =
        "SELECT rec, target, role, mac FROM shares ORDER BY rec, target";
    static const char *meta_read = "SELECT value FROM meta WHERE key=?";

    kith_peer_t *list = NULL, got;
    size_t n = 0;
    race_arm(f, peers_rows, 0);
    ASSERT_OK(kith_store_peer_list(f->s, &list, &n));
    kith_peers_free(list, n);
    race_disarm(f);

    reopen(f); /* a fresh connection checks the peer list again */
    race_arm(f, peers_rows, 0);
    ASSERT_OK(kith_store_peer_get_by_key(f->s, bob.key, &got));
    kith_peer_close(&got);
    race_disarm(f);

    race_arm(f, shares_rows, 0);
    shares_t sh = {0};
    ASSERT_OK(kith_store_share_foreach(f->s, NULL, share_cb, &sh));
    ASSERT_EQ(sh.n, 1);
    race_disarm(f);

    /* Between the rows and the stored table MAC: the third meta read of a check (db_id,
     * auth_gen, peers_auth). */
    reopen(f);
    race_arm(f, meta_read, 2);
    ASSERT_OK(kith_store_peer_list(f->s, &list, &n));
    kith_peers_free(list, n);
    race_disarm(f);
    sqlite3_reset_auto_extension();
}

/* ---- tests: transactions and data at rest ------------------------------------------- */

static void
rollback_undoes_put(void **state)
{
    fixture_t *f = *state;
    uint8_t id[KITH_REC_ID_LEN];
    rec_id(id, 0x77, 0, 0);
    kith_op_t op;
    new_op(&op, id, owner_id, owner_id, HLC(10, 0));
    op_str(&op, "name", "Ephemeral");
    int added = 0;
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(put_signed(f->s, owner_id, &op, &added));
    ASSERT_EQ(added, 1);
    kith_store_rollback(f->s);
    kith_record_t r;
    ASSERT_ERR(kith_store_record_get(f->s, id, &r), KITH_ENOTFOUND);
    uint64_t n = 9;
    ASSERT_OK(kith_store_count_records(f->s, &n));
    ASSERT_EQ(n, 0);
    ops_seen_t seen = {0};
    ASSERT_OK(kith_store_foreach_op(f->s, id, op_seen_cb, &seen));
    ASSERT_EQ(seen.n, 0);
    /* The op is not remembered either: storing it again adds it. */
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(put_signed(f->s, owner_id, &op, &added));
    ASSERT_EQ(added, 1);
    ASSERT_OK(kith_store_commit(f->s));
    ASSERT_OK(kith_store_record_get(f->s, id, &r));
    kith_record_close(&r);
    /* Rollback outside a transaction is harmless. */
    kith_store_rollback(f->s);
    kith_op_close(&op);
}

/* Returns 1 if the file at path contains needle anywhere. */
static int
file_contains(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        return 0;
    }
    size_t cap = 1 << 16, len = 0, n;
    uint8_t *data = malloc(cap);
    while (data != NULL && (n = fread(data + len, 1, cap - len, fp)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            uint8_t *p = realloc(data, cap);
            if (p == NULL) {
                break;
            }
            data = p;
        }
    }
    fclose(fp);
    assert_non_null(data);
    size_t nl = strlen(needle);
    int found = 0;
    for (size_t i = 0; i + nl <= len && !found; i++) {
        found = memcmp(data + i, needle, nl) == 0;
    }
    free(data);
    return found;
}

static void
check_no_marker(const fixture_t *f, int *files_seen)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    static const char *const markers[] = {"ZEBRA-MARKER-1234", "zebra-marker-1234", "x-zebra-field",
                                          "QUAGGA-5678", "quagga-5678"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char path[200];
        snprintf(path, sizeof(path), "%s%s", f->db, suffixes[i]);
        if (access(path, F_OK) != 0) {
            continue;
        }
        (*files_seen)++;
        for (size_t m = 0; m < sizeof(markers) / sizeof(markers[0]); m++) {
            if (file_contains(path, markers[m])) {
                print_error("%s holds \"%s\" in the clear\n", path, markers[m]);
                fail();
            }
        }
    }
}

static void
nothing_in_the_clear(void **state)
{
    fixture_t *f = *state;
    uint8_t id[KITH_REC_ID_LEN];
    rec_id(id, 0x5e, 0xc2, 0xe7);
    kith_op_t op;
    new_op(&op, id, owner_id, owner_id, HLC(10, 0));
    op.kind = KITH_KIND_PERSON;
    op_str(&op, "name", "ZEBRA-MARKER-1234 Person");
    op_str(&op, "note", "note ZEBRA-MARKER-1234");
    op_str(&op, "emails", "ZEBRA-MARKER-1234@example.com");
    op_str(&op, "x-zebra-field", "custom QUAGGA-5678");
    int added;
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(put_signed(f->s, owner_id, &op, &added));
    ASSERT_OK(kith_store_commit(f->s));
    kith_op_close(&op);
    /* A private op and a second version, so old row images exist too. */
    new_op(&op, id, owner_id, owner_id, HLC(20, 0));
    op.private = 1;
    op_str(&op, "politics", "ZEBRA-MARKER-1234 politics");
    op_str(&op, "name", "QUAGGA-5678 renamed");
    ASSERT_OK(kith_store_begin(f->s));
    ASSERT_OK(put_signed(f->s, owner_id, &op, &added));
    ASSERT_OK(kith_store_commit(f->s));
    kith_op_close(&op);
    /* The data is really there. */
    found_t r = {0};
    ASSERT_OK(kith_store_search(f->s, "zebra-marker", found_cb, &r));
    ASSERT_EQ(r.n, 1);

    /* While the store is open (the WAL holds the recent pages)... */
    int files = 0;
    check_no_marker(f, &files);
    assert_true(files >= 1);
    /* ...and after it is closed. */
    kith_store_close(f->s);
    f->s = NULL;
    files = 0;
    check_no_marker(f, &files);
    ASSERT_EQ(files >= 1, 1);
    open_store(f);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(open_and_reopen),
        T(migrates_from_version_1),
        T(open_rejects_garbage_and_newer),
        T(meta),
        T(hlc_next),
        T(hlc_next_after_seen_ops),
        T(put_op_and_get),
        T(foreach_op),
        T(other_owner_refused),
        T(no_vault),
        T(foreach_record_skips_deleted),
        T(foreach_record_stops),
        T(nested_walks),
        T(search),
        T(resolve),
        T(peers),
        T(peer_groups),
        T(shares),
        T(migrates_share_names_to_keys),
        T(former_members_offered),
        T(former_member_receives),
        T(tamper_audience_row_added),
        T(tamper_op_private_flipped),
        T(tamper_blob_kinds_apart),
        T(tamper_self_peer_added),
        T(tamper_peer_put_back),
        T(tamper_repaired),
        T(tamper_auth_marker),
        T(tamper_record_rolled_back),
        T(checks_read_one_snapshot),
        T(rollback_undoes_put),
        T(nothing_in_the_clear),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
