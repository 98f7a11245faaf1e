/*
 * Tests for nodes (src/node/node.c), each in a fresh temporary directory: creating and
 * opening a home, permissions, passphrases, damaged identity files, local changes and
 * audiences computed from share specifications.
 */
#include "check.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kith/kith.h"
#include "model/schema.h"
#include "node/node.h"
#include "util/hlc.h"

#define PASS "pw"

typedef struct {
    char base[64];  /* from mkdtemp */
    char home[128]; /* base/home: created by kith_node_create */
} fixture_t;

static int
group_setup(void **state)
{
    (void) state;
    /* A permissive umask: the node must still make private files. */
    umask(022);
    return kith_init() == KITH_OK ? 0 : -1;
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return -1;
    }
    snprintf(f->base, sizeof(f->base), "/tmp/kith-node-XXXXXX");
    if (mkdtemp(f->base) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->home, sizeof(f->home), "%s/home", f->base);
    *state = f;
    return 0;
}

static void
remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            remove_tree(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
    rmdir(dir);
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    remove_tree(f->base);
    free(f);
    return 0;
}

static void
path_of(const fixture_t *f, const char *file, char out[256])
{
    snprintf(out, 256, "%s/%s", f->home, file);
}

static size_t
read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    return n;
}

static void
write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    ASSERT_EQ(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

static void
expect_mode(const char *path, mode_t want)
{
    struct stat st;
    ASSERT_EQ(lstat(path, &st), 0);
    if ((st.st_mode & 0777) != want) {
        print_error("%s: mode %o, expected %o\n", path, (unsigned) (st.st_mode & 0777),
                    (unsigned) want);
        fail();
    }
}

static kith_node_t *
open_node(const fixture_t *f, const char *pass)
{
    kith_node_t *n = NULL;
    char err[256] = "";
    int rc = kith_node_open(f->home, pass, &n, err, sizeof(err));
    if (rc != KITH_OK) {
        print_error("open: %s\n", err);
    }
    ASSERT_OK(rc);
    assert_non_null(n);
    return n;
}

static void
create(const fixture_t *f, const char *name, const char *pass)
{
    char err[256] = "";
    int rc = kith_node_create(f->home, name, pass, err, sizeof(err));
    if (rc != KITH_OK) {
        print_error("create: %s\n", err);
    }
    ASSERT_OK(rc);
}

/* ---- tests -------------------------------------------------------------------------- */

static void
create_then_open(void **state)
{
    fixture_t *f = *state;
    create(f, "laptop", NULL);
    ASSERT_EQ(kith_node_needs_passphrase(f->home), 0);
    uint8_t pk[KITH_PK_LEN];
    ASSERT_OK(kith_node_public_key(f->home, pk, NULL, 0));
    kith_node_t *n = open_node(f, NULL);
    assert_memory_equal(n->id->pk, pk, KITH_PK_LEN);
    ASSERT_STREQ(n->name, "laptop");
    ASSERT_STREQ(n->dir, f->home);
    assert_non_null(n->store);
    assert_non_null(n->vault);
    ASSERT_EQ(kith_store_schema_version(n->store), KITH_STORE_SCHEMA_VERSION);
    kith_node_close(n);
    /* Without a name, the name is empty. */
    remove_tree(f->home);
    create(f, NULL, NULL);
    n = open_node(f, NULL);
    ASSERT_STREQ(n->name, "");
    kith_node_close(n);
    kith_node_close(NULL);
}

static void
permissions(void **state)
{
    fixture_t *f = *state;
    create(f, "laptop", NULL);
    char p[256];
    expect_mode(f->home, 0700);
    path_of(f, KITH_KEY_FILE, p);
    expect_mode(p, 0600);
    path_of(f, KITH_DB_FILE, p);
    expect_mode(p, 0600);
    /* Files SQLite makes while the node is in use are private too. */
    kith_node_t *n = open_node(f, NULL);
    kith_op_t op;
    kith_op_init(&op);
    kith_node_new_record_id(n, op.rec);
    memcpy(op.owner, n->id->pk, KITH_PK_LEN);
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_apply_local(n, &op, 1000, NULL));
    ASSERT_OK(kith_store_commit(n->store));
    static const char *const side[] = {KITH_DB_FILE "-wal", KITH_DB_FILE "-shm"};
    int seen = 0;
    for (size_t i = 0; i < 2; i++) {
        path_of(f, side[i], p);
        if (access(p, F_OK) == 0) {
            expect_mode(p, 0600);
            seen++;
        }
    }
    assert_true(seen > 0);
    /* No stray temporary file is left behind. */
    path_of(f, KITH_KEY_FILE ".tmp", p);
    assert_true(access(p, F_OK) != 0);
    kith_op_close(&op);
    kith_node_close(n);
}

static void
create_refuses_existing_home(void **state)
{
    fixture_t *f = *state;
    create(f, "first", NULL);
    char key[256], db[256];
    path_of(f, KITH_KEY_FILE, key);
    path_of(f, KITH_DB_FILE, db);
    uint8_t before[512], after[512];
    size_t n_before = read_file(key, before, sizeof(before));
    uint8_t pk[KITH_PK_LEN];
    ASSERT_OK(kith_node_public_key(f->home, pk, NULL, 0));

    char err[256] = "";
    ASSERT_ERR(kith_node_create(f->home, "second", NULL, err, sizeof(err)), KITH_EEXISTS);
    assert_true(strlen(err) > 0);
    ASSERT_ERR(kith_node_create(f->home, "second", PASS, NULL, 0), KITH_EEXISTS);
    /* Left intact: same key file, same identity, same name, store still opens. */
    size_t n_after = read_file(key, after, sizeof(after));
    ASSERT_EQ(n_before, n_after);
    assert_memory_equal(before, after, n_before);
    kith_node_t *n = open_node(f, NULL);
    assert_memory_equal(n->id->pk, pk, KITH_PK_LEN);
    ASSERT_STREQ(n->name, "first");
    kith_node_close(n);

    /* A store without an identity is a node too (a half-made or damaged one). */
    ASSERT_EQ(unlink(key), 0);
    ASSERT_ERR(kith_node_create(f->home, "third", NULL, NULL, 0), KITH_EEXISTS);
    assert_true(access(db, F_OK) == 0);
    assert_true(access(key, F_OK) != 0);
}

static void
missing_node(void **state)
{
    fixture_t *f = *state;
    char err[256] = "";
    kith_node_t *n = (kith_node_t *) (uintptr_t) 1;
    ASSERT_ERR(kith_node_open(f->home, NULL, &n, err, sizeof(err)), KITH_ENOTFOUND);
    assert_null(n);
    assert_true(strlen(err) > 0);
    ASSERT_ERR(kith_node_needs_passphrase(f->home), KITH_ENOTFOUND);
    ASSERT_ERR(kith_node_needs_passphrase(f->base), KITH_ENOTFOUND);
    uint8_t pk[KITH_PK_LEN];
    ASSERT_ERR(kith_node_public_key(f->base, pk, NULL, 0), KITH_ENOTFOUND);
    /* An identity whose store is gone. */
    create(f, NULL, NULL);
    char db[256];
    path_of(f, KITH_DB_FILE, db);
    ASSERT_EQ(unlink(db), 0);
    err[0] = '\0';
    assert_true(kith_node_open(f->home, NULL, &n, err, sizeof(err)) != KITH_OK);
    assert_null(n);
    assert_true(strlen(err) > 0);
}

static void
passphrase(void **state)
{
    fixture_t *f = *state;
    create(f, "secure", PASS);
    ASSERT_EQ(kith_node_needs_passphrase(f->home), 1);
    /* The public key needs no passphrase. */
    uint8_t pk[KITH_PK_LEN];
    ASSERT_OK(kith_node_public_key(f->home, pk, NULL, 0));
    kith_node_t *n = (kith_node_t *) (uintptr_t) 1;
    char err[256] = "";
    ASSERT_ERR(kith_node_open(f->home, NULL, &n, err, sizeof(err)), KITH_EPASSPHRASE);
    assert_null(n);
    assert_true(strlen(err) > 0);
    err[0] = '\0';
    ASSERT_ERR(kith_node_open(f->home, "wrong", &n, err, sizeof(err)), KITH_EPASSPHRASE);
    assert_null(n);
    assert_true(strlen(err) > 0);
    ASSERT_ERR(kith_node_open(f->home, "", &n, NULL, 0), KITH_EPASSPHRASE);
    n = open_node(f, PASS);
    assert_memory_equal(n->id->pk, pk, KITH_PK_LEN);
    ASSERT_STREQ(n->name, "secure");
    kith_node_close(n);
    /* The key file holds no seed in the clear: decoding it without the passphrase fails
     * (checked above), and it is the sealed size. */
    char key[256];
    uint8_t buf[512];
    path_of(f, KITH_KEY_FILE, key);
    ASSERT_EQ(read_file(key, buf, sizeof(buf)), 145);
}

static void
damaged_identity(void **state)
{
    fixture_t *f = *state;
    create(f, NULL, NULL);
    char key[256];
    path_of(f, KITH_KEY_FILE, key);
    uint8_t buf[512];
    size_t len = read_file(key, buf, sizeof(buf));
    assert_true(len > 10);
    uint8_t pk[KITH_PK_LEN];
    char err[256];
    kith_node_t *n = (kith_node_t *) (uintptr_t) 1;

    /* Truncated. */
    write_file(key, buf, len - 1);
    err[0] = '\0';
    ASSERT_ERR(kith_node_open(f->home, NULL, &n, err, sizeof(err)), KITH_ECORRUPT);
    assert_null(n);
    assert_true(strlen(err) > 0);
    err[0] = '\0';
    ASSERT_ERR(kith_node_public_key(f->home, pk, err, sizeof(err)), KITH_ECORRUPT);
    assert_true(strlen(err) > 0);
    assert_true(kith_node_needs_passphrase(f->home) < 0);
    /* Empty. */
    write_file(key, buf, 0);
    err[0] = '\0';
    ASSERT_ERR(kith_node_open(f->home, NULL, &n, err, sizeof(err)), KITH_ECORRUPT);
    assert_true(strlen(err) > 0);
    /* A changed seed byte. */
    buf[len - 1] ^= 1;
    write_file(key, buf, len);
    ASSERT_ERR(kith_node_open(f->home, NULL, &n, NULL, 0), KITH_ECORRUPT);
    buf[len - 1] ^= 1;
    /* Huge: rejected without reading it all. */
    uint8_t *big = calloc(1, 1 << 20);
    assert_non_null(big);
    memcpy(big, buf, len);
    write_file(key, big, 1 << 20);
    free(big);
    ASSERT_ERR(kith_node_open(f->home, NULL, &n, NULL, 0), KITH_ECORRUPT);
    /* Restored, it opens again. */
    write_file(key, buf, len);
    n = open_node(f, NULL);
    kith_node_close(n);
}

/* Another identity's key file in front of this store: the store cannot be unlocked. */
static void
foreign_identity(void **state)
{
    fixture_t *f = *state;
    create(f, NULL, NULL);
    char key[256], other_home[160], other_key[256];
    path_of(f, KITH_KEY_FILE, key);
    snprintf(other_home, sizeof(other_home), "%s/other", f->base);
    ASSERT_OK(kith_node_create(other_home, NULL, NULL, NULL, 0));
    snprintf(other_key, sizeof(other_key), "%s/%s", other_home, KITH_KEY_FILE);
    uint8_t buf[512];
    size_t len = read_file(other_key, buf, sizeof(buf));
    write_file(key, buf, len);
    kith_node_t *n = (kith_node_t *) (uintptr_t) 1;
    char err[256] = "";
    assert_true(kith_node_open(f->home, NULL, &n, err, sizeof(err)) != KITH_OK);
    assert_null(n);
    assert_true(strlen(err) > 0);
}

static void
new_record_ids(void **state)
{
    fixture_t *f = *state;
    create(f, NULL, NULL);
    kith_node_t *n = open_node(f, NULL);
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN];
    kith_node_new_record_id(n, a);
    kith_node_new_record_id(n, b);
    assert_memory_not_equal(a, b, KITH_REC_ID_LEN);
    kith_node_close(n);
}

static void
apply_local(void **state)
{
    fixture_t *f = *state;
    create(f, NULL, NULL);
    kith_node_t *n = open_node(f, NULL);
    uint8_t id[KITH_REC_ID_LEN];
    kith_node_new_record_id(n, id);
    uint64_t last = 0;
    static const uint64_t now[] = {1000, 1000, 500, 2000};
    for (size_t i = 0; i < 4; i++) {
        kith_op_t op;
        kith_op_init(&op);
        memcpy(op.rec, id, KITH_REC_ID_LEN);
        memcpy(op.owner, n->id->pk, KITH_PK_LEN);
        memset(op.author, 0xee, KITH_PK_LEN); /* overwritten */
        op.hlc = 123;                         /* overwritten */
        if (i == 0) {
            op.kind = KITH_KIND_PERSON;
        }
        kith_value_t v = {0};
        char title[16];
        snprintf(title, sizeof(title), "title %zu", i);
        ASSERT_OK(kith_value_set_str(&v, title, strlen(title)));
        ASSERT_OK(kith_op_set_field(&op, "title", &v));
        kith_value_clear(&v);
        uint8_t hash[KITH_HASH_LEN];
        ASSERT_OK(kith_store_begin(n->store));
        ASSERT_OK(kith_node_apply_local(n, &op, now[i], hash));
        ASSERT_OK(kith_store_commit(n->store));
        assert_memory_equal(op.author, n->id->pk, KITH_PK_LEN);
        assert_true(op.hlc > last);
        assert_true(kith_hlc_ms(op.hlc) >= now[i]);
        last = op.hlc;
        /* The hash is that of the op as stamped. */
        kith_buf_t enc;
        kith_buf_init(&enc);
        ASSERT_OK(kith_op_encode(&op, &enc));
        uint8_t h2[KITH_HASH_LEN];
        kith_op_hash(enc.data, enc.len, h2);
        assert_memory_equal(hash, h2, KITH_HASH_LEN);
        kith_buf_close(&enc);
        kith_op_close(&op);
    }
    assert_true(last == ((uint64_t) 2000 << 16));
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(n->store, id, &r));
    ASSERT_STREQ(kith_record_field(&r, "title")->value.str, "title 3");
    assert_memory_equal(r.owner, n->id->pk, KITH_PK_LEN);
    kith_record_close(&r);
    kith_node_close(n);
    /* The clock survives a reopen. */
    n = open_node(f, NULL);
    kith_op_t op;
    kith_op_init(&op);
    memcpy(op.rec, id, KITH_REC_ID_LEN);
    memcpy(op.owner, n->id->pk, KITH_PK_LEN);
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_apply_local(n, &op, 10, NULL));
    ASSERT_OK(kith_store_commit(n->store));
    assert_true(op.hlc == last + 1);
    kith_op_close(&op);
    kith_node_close(n);
}

/* ---- audiences ---------------------------------------------------------------------- */

static void
add_peer(kith_node_t *n, const char *name, uint8_t keybyte, const char *groups)
{
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = (char *) name;
    memset(p.key, keybyte, KITH_PK_LEN);
    p.groups = (char *) groups;
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_store_peer_add(n->store, &p));
    ASSERT_OK(kith_store_commit(n->store));
}

static kith_share_target_t
peer_target(uint8_t keybyte)
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

/* Stores a share spec in its own transaction. */
static void
share(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], kith_share_target_t t, int role)
{
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_store_share_set(n->store, id, &t, role));
    ASSERT_OK(kith_store_commit(n->store));
}

static void
new_record(kith_node_t *n, uint8_t id[KITH_REC_ID_LEN], uint64_t now)
{
    kith_op_t op;
    kith_op_init(&op);
    kith_node_new_record_id(n, id);
    memcpy(op.rec, id, KITH_REC_ID_LEN);
    memcpy(op.owner, n->id->pk, KITH_PK_LEN);
    op.kind = KITH_KIND_PERSON;
    kith_value_t v = {0};
    ASSERT_OK(kith_value_set_str(&v, "Shared", 6));
    ASSERT_OK(kith_op_set_field(&op, "name", &v));
    kith_value_clear(&v);
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_apply_local(n, &op, now, NULL));
    ASSERT_OK(kith_store_commit(n->store));
    kith_op_close(&op);
}

static int
count_op(void *ctx, const uint8_t *signed_op, size_t len, const kith_op_t *op,
         const uint8_t hash[KITH_HASH_LEN])
{
    (void) signed_op;
    (void) len;
    (void) op;
    (void) hash;
    (*(int *) ctx)++;
    return 0;
}

static int
n_ops(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN])
{
    int count = 0;
    ASSERT_OK(kith_store_foreach_op(n->store, id, count_op, &count));
    return count;
}

/* The role of the peer whose key is keybyte repeated, on record id. */
static int
role_of(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], uint8_t keybyte)
{
    uint8_t key[KITH_PK_LEN];
    memset(key, keybyte, sizeof(key));
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(n->store, id, &r));
    int role = kith_record_role(&r, key);
    kith_record_close(&r);
    return role;
}

static size_t
aud_size(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN])
{
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(n->store, id, &r));
    size_t k = r.n_aud;
    kith_record_close(&r);
    return k;
}

static int
update(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], uint64_t now)
{
    int changed = -1;
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_update_audience(n, id, now, &changed));
    ASSERT_OK(kith_store_commit(n->store));
    return changed;
}

static void
update_audience(void **state)
{
    fixture_t *f = *state;
    create(f, NULL, NULL);
    kith_node_t *n = open_node(f, NULL);
    add_peer(n, "bob", 0xb0, "sales");
    add_peer(n, "carol", 0xc0, "sales,emea");
    add_peer(n, "dave", 0xd0, "");
    add_peer(n, "eve", 0xe0, "marketing");
    uint8_t id[KITH_REC_ID_LEN];
    new_record(n, id, 1000);
    ASSERT_EQ(n_ops(n, id), 1);

    /* No share specs and an empty audience: nothing to do. */
    ASSERT_EQ(update(n, id, 1100), 0);
    ASSERT_EQ(n_ops(n, id), 1);

    share(n, id, peer_target(0xd0), KITH_ROLE_READER);
    share(n, id, group_target("sales"), KITH_ROLE_EDITOR);
    ASSERT_EQ(update(n, id, 1200), 1);
    ASSERT_EQ(n_ops(n, id), 2);
    ASSERT_EQ(aud_size(n, id), 3);
    ASSERT_EQ(role_of(n, id, 0xb0), KITH_ROLE_EDITOR);
    ASSERT_EQ(role_of(n, id, 0xc0), KITH_ROLE_EDITOR);
    ASSERT_EQ(role_of(n, id, 0xd0), KITH_ROLE_READER);
    ASSERT_EQ(role_of(n, id, 0xe0), 0);

    /* Unchanged: no op. */
    ASSERT_EQ(update(n, id, 1300), 0);
    ASSERT_EQ(n_ops(n, id), 2);

    /* A peer named directly and through a group gets the higher role. */
    share(n, id, peer_target(0xb0), KITH_ROLE_READER);
    ASSERT_EQ(update(n, id, 1400), 0);
    ASSERT_EQ(role_of(n, id, 0xb0), KITH_ROLE_EDITOR);

    /* Unsharing removes the member. */
    int removed = 0;
    kith_share_target_t dave = peer_target(0xd0);
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_store_share_remove(n->store, id, &dave, &removed));
    ASSERT_OK(kith_store_commit(n->store));
    ASSERT_EQ(removed, 1);
    ASSERT_EQ(update(n, id, 1500), 1);
    ASSERT_EQ(role_of(n, id, 0xd0), 0);
    ASSERT_EQ(aud_size(n, id), 2);

    /* A share spec naming a key that is no peer, or an empty group, adds nobody. */
    share(n, id, peer_target(0x99), KITH_ROLE_READER);
    share(n, id, group_target("nogroup"), KITH_ROLE_READER);
    ASSERT_EQ(update(n, id, 1600), 0);
    ASSERT_EQ(aud_size(n, id), 2);

    /* A missing record. */
    uint8_t none[KITH_REC_ID_LEN];
    kith_node_new_record_id(n, none);
    int changed = -1;
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_ERR(kith_node_update_audience(n, none, 1700, &changed), KITH_ENOTFOUND);
    ASSERT_EQ(changed, 0);
    kith_store_rollback(n->store);
    kith_node_close(n);
}

/* The node's own key never enters its records' audiences (the owner is implicit). */
static void
update_audience_skips_self(void **state)
{
    fixture_t *f = *state;
    create(f, NULL, NULL);
    kith_node_t *n = open_node(f, NULL);
    kith_peer_t me;
    memset(&me, 0, sizeof(me));
    me.name = (char *) "me-on-phone-by-mistake";
    memcpy(me.key, n->id->pk, KITH_PK_LEN);
    me.groups = (char *) "sales";
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_store_peer_add(n->store, &me));
    ASSERT_OK(kith_store_commit(n->store));
    add_peer(n, "bob", 0xb0, "sales");
    uint8_t id[KITH_REC_ID_LEN];
    new_record(n, id, 1000);
    share(n, id, group_target("sales"), KITH_ROLE_READER);
    ASSERT_EQ(update(n, id, 1100), 1);
    ASSERT_EQ(aud_size(n, id), 1);
    ASSERT_EQ(role_of(n, id, 0xb0), KITH_ROLE_READER);
    kith_node_close(n);
}

/* A record owned by another node: its audience is not ours to set. */
static void
update_audience_not_owner(void **state)
{
    fixture_t *f = *state;
    create(f, NULL, NULL);
    kith_node_t *n = open_node(f, NULL);
    uint8_t seed[KITH_SEED_LEN];
    memset(seed, 0x77, sizeof(seed));
    kith_identity_t *other = NULL;
    ASSERT_OK(kith_identity_from_seed(seed, &other));
    kith_op_t op;
    kith_op_init(&op);
    kith_node_new_record_id(n, op.rec);
    memcpy(op.owner, other->pk, KITH_PK_LEN);
    memcpy(op.author, other->pk, KITH_PK_LEN);
    op.hlc = 5;
    ASSERT_OK(kith_op_add_aud(&op, n->id->pk, KITH_ROLE_EDITOR));
    kith_buf_t b;
    kith_buf_init(&b);
    uint8_t hash[KITH_HASH_LEN];
    ASSERT_OK(kith_op_sign(&op, other, &b, hash));
    int added = 0;
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_store_put_op(n->store, b.data, b.len, &op, hash, &added));
    kith_share_target_t bob = peer_target(0xb0);
    ASSERT_OK(kith_store_share_set(n->store, op.rec, &bob, KITH_ROLE_READER));
    ASSERT_OK(kith_store_commit(n->store));
    add_peer(n, "bob", 0xb0, "");
    int changed = -1;
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_ERR(kith_node_update_audience(n, op.rec, 100, &changed), KITH_EAUTH);
    ASSERT_EQ(changed, 0);
    /* refresh skips records that are not ours. */
    ASSERT_OK(kith_node_refresh_audiences(n, NULL, 100));
    ASSERT_OK(kith_store_commit(n->store));
    ASSERT_EQ(n_ops(n, op.rec), 1);
    kith_buf_close(&b);
    kith_op_close(&op);
    kith_identity_free(other);
    kith_node_close(n);
}

static void
refresh_audiences(void **state)
{
    fixture_t *f = *state;
    create(f, NULL, NULL);
    kith_node_t *n = open_node(f, NULL);
    add_peer(n, "bob", 0xb0, "sales");
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN], c[KITH_REC_ID_LEN];
    new_record(n, a, 1000);
    new_record(n, b, 1001);
    new_record(n, c, 1002);
    share(n, a, group_target("sales"), KITH_ROLE_READER);
    share(n, b, group_target("sales"), KITH_ROLE_EDITOR);
    share(n, c, peer_target(0xc0), KITH_ROLE_READER);
    ASSERT_EQ(update(n, a, 1100), 1);
    ASSERT_EQ(update(n, b, 1100), 1);
    ASSERT_EQ(update(n, c, 1100), 0);
    ASSERT_EQ(aud_size(n, a), 1);

    /* carol joins sales; refreshing @sales brings her into a and b, not c. */
    add_peer(n, "carol", 0xc0, "emea,sales");
    ASSERT_EQ(role_of(n, a, 0xc0), 0);
    kith_share_target_t sales = group_target("sales"), carol = peer_target(0xc0);
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_refresh_audiences(n, &sales, 1200));
    ASSERT_OK(kith_store_commit(n->store));
    ASSERT_EQ(role_of(n, a, 0xc0), KITH_ROLE_READER);
    ASSERT_EQ(role_of(n, b, 0xc0), KITH_ROLE_EDITOR);
    ASSERT_EQ(role_of(n, c, 0xc0), 0);
    int ops_a = n_ops(n, a);
    /* Refreshing "carol" updates c only; refreshing again changes nothing. */
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_refresh_audiences(n, &carol, 1300));
    ASSERT_OK(kith_store_commit(n->store));
    ASSERT_EQ(role_of(n, c, 0xc0), KITH_ROLE_READER);
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_refresh_audiences(n, NULL, 1400));
    ASSERT_OK(kith_store_commit(n->store));
    ASSERT_EQ(n_ops(n, a), ops_a);

    /* bob is removed as a peer: refreshing everything drops him. */
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_store_peer_remove(n->store, "bob"));
    ASSERT_OK(kith_node_refresh_audiences(n, NULL, 1500));
    ASSERT_OK(kith_store_commit(n->store));
    ASSERT_EQ(role_of(n, a, 0xb0), 0);
    ASSERT_EQ(role_of(n, b, 0xb0), 0);
    ASSERT_EQ(role_of(n, a, 0xc0), KITH_ROLE_READER);
    kith_node_close(n);
}

/* Shares hold the peer's key: removing the peer removes its shares, takes it out of
 * every audience (direct or through a group) and says how many records that was; a new
 * node added later under the same name inherits nothing. */
static void
peer_remove_then_same_name(void **state)
{
    fixture_t *f = *state;
    create(f, NULL, NULL);
    kith_node_t *n = open_node(f, NULL);
    add_peer(n, "bob", 0xb0, "sales");
    add_peer(n, "carol", 0xc0, "sales");
    uint8_t direct[KITH_REC_ID_LEN], via_group[KITH_REC_ID_LEN], other[KITH_REC_ID_LEN];
    new_record(n, direct, 1000);
    new_record(n, via_group, 1001);
    new_record(n, other, 1002);
    share(n, direct, peer_target(0xb0), KITH_ROLE_EDITOR);
    share(n, via_group, group_target("sales"), KITH_ROLE_READER);
    share(n, other, peer_target(0xc0), KITH_ROLE_READER);
    ASSERT_EQ(update(n, direct, 1100), 1);
    ASSERT_EQ(update(n, via_group, 1100), 1);
    ASSERT_EQ(update(n, other, 1100), 1);
    uint64_t shared = 0;
    uint8_t bob_key[KITH_PK_LEN];
    memset(bob_key, 0xb0, sizeof(bob_key));
    ASSERT_OK(kith_store_count_shared(n->store, n->id->pk, bob_key, &shared));
    ASSERT_EQ(shared, 2);

    size_t unshared = 0;
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_peer_remove(n, "bob", 1200, &unshared));
    ASSERT_OK(kith_store_commit(n->store));
    ASSERT_EQ(unshared, 2);
    ASSERT_EQ(role_of(n, direct, 0xb0), 0);
    ASSERT_EQ(role_of(n, via_group, 0xb0), 0);
    ASSERT_EQ(role_of(n, via_group, 0xc0), KITH_ROLE_READER);
    ASSERT_EQ(role_of(n, other, 0xc0), KITH_ROLE_READER);
    ASSERT_OK(kith_store_count_shared(n->store, n->id->pk, bob_key, &shared));
    ASSERT_EQ(shared, 0);
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_ERR(kith_node_peer_remove(n, "bob", 1250, &unshared), KITH_ENOTFOUND);
    kith_store_rollback(n->store);

    /* Another node under the old name, outside sales: nothing is shared with it. */
    kith_peer_t stranger;
    memset(&stranger, 0, sizeof(stranger));
    stranger.name = (char *) "bob";
    memset(stranger.key, 0xbb, KITH_PK_LEN);
    stranger.groups = (char *) "";
    int ops_direct = n_ops(n, direct);
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_peer_add(n, &stranger, 1300));
    ASSERT_OK(kith_node_refresh_audiences(n, NULL, 1300));
    ASSERT_OK(kith_store_commit(n->store));
    ASSERT_EQ(role_of(n, direct, 0xbb), 0);
    ASSERT_EQ(aud_size(n, direct), 0);
    ASSERT_EQ(n_ops(n, direct), ops_direct);
    kith_node_close(n);
}

/* Group membership is live: a peer added to a group, or moved into one, gets the records
 * shared with the group, and one moved out of it loses them; a rename changes nothing. */
static void
peer_groups_are_live(void **state)
{
    fixture_t *f = *state;
    create(f, NULL, NULL);
    kith_node_t *n = open_node(f, NULL);
    add_peer(n, "bob", 0xb0, "sales");
    uint8_t sales_rec[KITH_REC_ID_LEN], emea_rec[KITH_REC_ID_LEN];
    new_record(n, sales_rec, 1000);
    new_record(n, emea_rec, 1001);
    share(n, sales_rec, group_target("sales"), KITH_ROLE_EDITOR);
    share(n, emea_rec, group_target("emea"), KITH_ROLE_READER);
    ASSERT_EQ(update(n, sales_rec, 1100), 1);
    ASSERT_EQ(update(n, emea_rec, 1100), 0);

    /* A peer added in a group joins its records at once. */
    kith_peer_t carol;
    memset(&carol, 0, sizeof(carol));
    carol.name = (char *) "carol";
    memset(carol.key, 0xc0, KITH_PK_LEN);
    carol.groups = (char *) "emea,sales";
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_peer_add(n, &carol, 1200));
    ASSERT_OK(kith_store_commit(n->store));
    ASSERT_EQ(role_of(n, sales_rec, 0xc0), KITH_ROLE_EDITOR);
    ASSERT_EQ(role_of(n, emea_rec, 0xc0), KITH_ROLE_READER);

    /* bob moves from sales to emea. */
    kith_peer_t bob;
    ASSERT_OK(kith_store_peer_get(n->store, "bob", &bob));
    free(bob.groups);
    bob.groups = strdup("emea");
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_peer_edit(n, "bob", &bob, 1300));
    ASSERT_OK(kith_store_commit(n->store));
    kith_peer_close(&bob);
    ASSERT_EQ(role_of(n, sales_rec, 0xb0), 0);
    ASSERT_EQ(role_of(n, emea_rec, 0xb0), KITH_ROLE_READER);

    /* A rename keeps every share (they hold the key); the old name is free. */
    int ops_sales = n_ops(n, sales_rec);
    carol.name = (char *) "caroline";
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_peer_edit(n, "carol", &carol, 1400));
    ASSERT_OK(kith_store_commit(n->store));
    ASSERT_EQ(n_ops(n, sales_rec), ops_sales);
    ASSERT_EQ(role_of(n, sales_rec, 0xc0), KITH_ROLE_EDITOR);
    kith_peer_t got;
    ASSERT_ERR(kith_store_peer_get(n->store, "carol", &got), KITH_ENOTFOUND);
    ASSERT_OK(kith_store_peer_get(n->store, "caroline", &got));
    kith_peer_close(&got);
    /* Taking another peer's name, or editing a peer that is not there, fails. */
    carol.name = (char *) "bob";
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_ERR(kith_node_peer_edit(n, "caroline", &carol, 1500), KITH_EEXISTS);
    ASSERT_ERR(kith_node_peer_edit(n, "nobody", &carol, 1500), KITH_ENOTFOUND);
    kith_store_rollback(n->store);
    kith_node_close(n);
}

static void
home_resolve(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    setenv("KITH_HOME", "/env/kith", 1);
    setenv("XDG_DATA_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
    ASSERT_OK(kith_home_resolve("/opt/dir", &b));
    ASSERT_STREQ((char *) b.data, "/opt/dir");
    b.len = 0;
    ASSERT_OK(kith_home_resolve(NULL, &b));
    ASSERT_STREQ((char *) b.data, "/env/kith");
    b.len = 0;
    ASSERT_OK(kith_home_resolve("", &b));
    ASSERT_STREQ((char *) b.data, "/env/kith");
    unsetenv("KITH_HOME");
    b.len = 0;
    ASSERT_OK(kith_home_resolve(NULL, &b));
    ASSERT_STREQ((char *) b.data, "/xdg/kith");
    unsetenv("XDG_DATA_HOME");
    b.len = 0;
    ASSERT_OK(kith_home_resolve(NULL, &b));
    ASSERT_STREQ((char *) b.data, "/home/u/.local/share/kith");
    unsetenv("HOME");
    b.len = 0;
    ASSERT_ERR(kith_home_resolve(NULL, &b), KITH_EINVAL);
    kith_buf_close(&b);
}

static void
name_too_long(void **state)
{
    fixture_t *f = *state;
    char name[KITH_NAME_MAX + 2];
    memset(name, 'n', sizeof(name));
    name[KITH_NAME_MAX + 1] = '\0';
    char err[256] = "";
    ASSERT_ERR(kith_node_create(f->home, name, NULL, err, sizeof(err)), KITH_EINVAL);
    assert_true(strlen(err) > 0);
    char key[256];
    path_of(f, KITH_KEY_FILE, key);
    assert_true(access(key, F_OK) != 0);
    /* Exactly the limit is fine. */
    name[KITH_NAME_MAX] = '\0';
    create(f, name, NULL);
    kith_node_t *n = open_node(f, NULL);
    ASSERT_STREQ(n->name, name);
    kith_node_close(n);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(create_then_open),
        T(permissions),
        T(create_refuses_existing_home),
        T(missing_node),
        T(passphrase),
        T(damaged_identity),
        T(foreign_identity),
        T(new_record_ids),
        T(apply_local),
        T(update_audience),
        T(update_audience_skips_self),
        T(update_audience_not_owner),
        T(refresh_audiences),
        T(peer_remove_then_same_name),
        T(peer_groups_are_live),
        T(home_resolve),
        T(name_too_long),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
