/*
 * Nodes: home directory, identity and store together; see node.h.
 */
#include "node/node.h"
#include "model/fold.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/keyfile.h"
#include "kith/error.h"
#include "util/errbuf.h"
#include "util/nodeid.h"
#include "model/record.h"

#define KEY_FILE_MAX 4096

int
kith_home_resolve(const char *opt, kith_buf_t *out)
{
    const char *v;
    if (opt != NULL && opt[0] != '\0') {
        return kith_buf_puts(out, opt);
    }
    if ((v = getenv("KITH_HOME")) != NULL && v[0] != '\0') {
        return kith_buf_puts(out, v);
    }
    if ((v = getenv("XDG_DATA_HOME")) != NULL && v[0] == '/') {
        return kith_buf_printf(out, "%s/kith", v);
    }
    if ((v = getenv("HOME")) != NULL && v[0] != '\0') {
        return kith_buf_printf(out, "%s/.local/share/kith", v);
    }
    return KITH_EINVAL;
}

static int
path_join(kith_buf_t *b, const char *dir, const char *file)
{
    b->len = 0;
    return kith_buf_printf(b, "%s/%s", dir, file);
}

int
kith__node_make_dirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int) sizeof(path)) {
        return KITH_ETOOBIG;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST) {
                return KITH_EIO;
            }
            *p = '/';
        }
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return KITH_EIO;
    }
    return KITH_OK;
}

/* Writes data to path atomically (temporary file, fsync, rename), mode 0600. */
static int
write_file_atomic(const char *path, const uint8_t *data, size_t len)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp)) {
        return KITH_ETOOBIG;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return KITH_EIO;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return KITH_EIO;
        }
        off += (size_t) w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return KITH_EIO;
    }
    return KITH_OK;
}

static int
read_key_file(const char *dir, kith_buf_t *out, char *errbuf, size_t errcap)
{
    kith_buf_t path;
    kith_buf_init(&path);
    int rc = path_join(&path, dir, KITH_KEY_FILE);
    int fd = -1;
    if (rc != KITH_OK) {
        goto out;
    }
    fd = open((char *) path.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        rc = errno == ENOENT ? KITH_ENOTFOUND : KITH_EIO;
        if (rc == KITH_ENOTFOUND) {
            kith__errbuf_set(errbuf, errcap, "no kith node in %s (create one with 'kith init')",
                             dir);
        } else {
            kith__errbuf_set(errbuf, errcap, "cannot read %s: %s", (char *) path.data,
                             strerror(errno));
        }
        goto out;
    }
    uint8_t tmp[KEY_FILE_MAX];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, tmp + len, sizeof(tmp) - len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            rc = KITH_EIO;
            kith__errbuf_set(errbuf, errcap, "cannot read %s: %s", (char *) path.data,
                             strerror(errno));
            goto out;
        }
        if (r == 0 || len + (size_t) r == sizeof(tmp)) {
            len += (size_t) r;
            break;
        }
        len += (size_t) r;
    }
    rc = kith_buf_append(out, tmp, len);
    sodium_memzero(tmp, sizeof(tmp));
out:
    if (fd >= 0) {
        close(fd);
    }
    kith_buf_close(&path);
    return rc;
}

/* kith_node_create() and kith_node_create_from_key(): restore (restore_len bytes) is
 * an identity file to keep, or NULL for a new identity. */
static int
create_node(const char *dir, const char *name, const char *passphrase, const uint8_t *restore,
            size_t restore_len, char *errbuf, size_t errcap)
{
    kith_identity_t *id = NULL;
    kith_vault_t *vault = NULL;
    kith_store_t *store = NULL;
    kith_buf_t key_path, db_path, key;
    kith_buf_init(&key_path);
    kith_buf_init(&db_path);
    kith_buf_init(&key);
    uint8_t wrapped[KITH_VAULT_WRAPPED_LEN];
    struct stat st;
    int key_written = 0;
    mode_t old_umask = umask(077);
    int rc = kith__node_make_dirs(dir);
    if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    if ((rc = path_join(&key_path, dir, KITH_KEY_FILE)) != KITH_OK ||
        (rc = path_join(&db_path, dir, KITH_DB_FILE)) != KITH_OK) {
        goto out;
    }
    if (lstat((char *) key_path.data, &st) == 0 || lstat((char *) db_path.data, &st) == 0) {
        kith__errbuf_set(errbuf, errcap, "%s already holds a kith node; not overwriting it", dir);
        rc = KITH_EEXISTS;
        goto out;
    }
    if (name != NULL && strlen(name) > KITH_NAME_MAX) {
        kith__errbuf_set(errbuf, errcap, "the name is longer than %d bytes", KITH_NAME_MAX);
        rc = KITH_EINVAL;
        goto out;
    }
    if (restore != NULL) {
        rc = kith_keyfile_decode(restore, restore_len, passphrase, &id);
        if (rc == KITH_EPASSPHRASE) {
            kith__errbuf_set(errbuf, errcap,
                             passphrase ? "wrong passphrase" : "a passphrase is needed");
            goto out;
        }
        if (rc == KITH_OK) {
            rc = kith_buf_append(&key, restore, restore_len);
        }
        if (rc != KITH_OK) {
            kith__errbuf_set(errbuf, errcap, "not a kith identity file: %s", kith_strerror(rc));
            goto out;
        }
    }
    if ((restore == NULL && ((rc = kith_identity_new(&id)) != KITH_OK ||
                             (rc = kith_keyfile_encode(id, passphrase, &key)) != KITH_OK)) ||
        (rc = kith_vault_create(id, wrapped, &vault)) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot create the identity: %s", kith_strerror(rc));
        goto out;
    }
    rc = kith_store_open((char *) db_path.data, 1, &store, errbuf, errcap);
    if (rc != KITH_OK) {
        goto out;
    }
    if ((rc = kith_store_begin(store)) != KITH_OK ||
        (rc = kith_store_meta_set(store, "storage_key", wrapped, sizeof(wrapped))) != KITH_OK ||
        (rc = kith_store_meta_set(store, "name", name ? name : "", name ? strlen(name) : 0)) !=
            KITH_OK ||
        (rc = kith_store_meta_set(store, "public_key", id->pk, KITH_PK_LEN)) != KITH_OK ||
        (rc = kith_store_commit(store)) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot initialise the store: %s", kith_strerror(rc));
        goto out;
    }
    /* The key file goes last: a node exists once its identity file does. */
    rc = write_file_atomic((char *) key_path.data, key.data, key.len);
    if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot write %s: %s", (char *) key_path.data,
                         strerror(errno));
        goto out;
    }
    key_written = 1;
out:
    kith_store_close(store);
    if (rc != KITH_OK && !key_written && rc != KITH_EEXISTS && db_path.data != NULL) {
        /* Leave nothing half-made behind. */
        unlink((char *) db_path.data);
        kith_buf_t side;
        kith_buf_init(&side);
        if (kith_buf_printf(&side, "%s-wal", (char *) db_path.data) == KITH_OK) {
            unlink((char *) side.data);
        }
        side.len = 0;
        if (kith_buf_printf(&side, "%s-shm", (char *) db_path.data) == KITH_OK) {
            unlink((char *) side.data);
        }
        kith_buf_close(&side);
    }
    umask(old_umask);
    if (key.data != NULL) {
        sodium_memzero(key.data, key.len);
    }
    kith_buf_close(&key);
    kith_buf_close(&key_path);
    kith_buf_close(&db_path);
    kith_vault_free(vault);
    kith_identity_free(id);
    return rc;
}

int
kith_node_create(const char *dir, const char *name, const char *passphrase, char *errbuf,
                 size_t errcap)
{
    return create_node(dir, name, passphrase, NULL, 0, errbuf, errcap);
}

int
kith_node_create_from_key(const char *dir, const char *name, const uint8_t *keyfile,
                          size_t keyfile_len, const char *passphrase, char *errbuf, size_t errcap)
{
    return create_node(dir, name, passphrase, keyfile, keyfile_len, errbuf, errcap);
}

int
kith_node_needs_passphrase(const char *dir)
{
    kith_buf_t key;
    kith_buf_init(&key);
    int rc = read_key_file(dir, &key, NULL, 0);
    if (rc == KITH_OK) {
        rc = kith_keyfile_is_sealed(key.data, key.len);
    }
    kith_buf_close(&key);
    return rc;
}

int
kith_node_public_key(const char *dir, uint8_t pk[static KITH_PK_LEN], char *errbuf, size_t errcap)
{
    kith_buf_t key;
    kith_buf_init(&key);
    int rc = read_key_file(dir, &key, errbuf, errcap);
    if (rc == KITH_OK) {
        rc = kith_keyfile_public(key.data, key.len, pk);
        if (rc != KITH_OK) {
            kith__errbuf_set(errbuf, errcap, "%s/%s is damaged: not a kith identity file", dir,
                             KITH_KEY_FILE);
        }
    }
    if (key.data != NULL) {
        sodium_memzero(key.data, key.len);
    }
    kith_buf_close(&key);
    return rc;
}

/* Reads kith.state: *found = 0 if there is none. */
static int
state_read(kith_node_t *n, kith_state_t *out, int *found)
{
    kith_buf_t path, data;
    kith_buf_init(&path);
    kith_buf_init(&data);
    uint8_t *key = sodium_malloc(32);
    *found = 0;
    int rc = key != NULL ? path_join(&path, n->dir, KITH_STATE_FILE) : KITH_ENOMEM;
    if (rc == KITH_OK) {
        rc = kith_vault_state_key(n->id, key);
    }
    if (rc == KITH_OK) {
        int fd = open((char *) path.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            rc = errno == ENOENT ? KITH_OK : KITH_EIO;
            goto out;
        }
        uint8_t buf[KITH_STATE_LEN + 1];
        ssize_t got = read(fd, buf, sizeof(buf));
        close(fd);
        rc = got < 0 ? KITH_EIO : kith_state_decode(key, n->id->pk, buf, (size_t) got, out);
        *found = rc == KITH_OK;
    }
out:
    sodium_free(key);
    kith_buf_close(&path);
    kith_buf_close(&data);
    return rc;
}

static int
state_write(kith_node_t *n, const kith_state_t *st)
{
    kith_buf_t path;
    kith_buf_init(&path);
    uint8_t *key = sodium_malloc(32);
    uint8_t enc[KITH_STATE_LEN];
    int rc = key != NULL ? path_join(&path, n->dir, KITH_STATE_FILE) : KITH_ENOMEM;
    if (rc == KITH_OK) {
        rc = kith_vault_state_key(n->id, key);
    }
    if (rc == KITH_OK) {
        kith_state_encode(key, n->id->pk, st, enc);
        rc = write_file_atomic((char *) path.data, enc, sizeof(enc));
    }
    if (rc == KITH_OK) {
        n->state = *st;
        n->state_known = 1;
    }
    sodium_free(key);
    kith_buf_close(&path);
    return rc;
}

static int
store_state(kith_node_t *n, kith_state_t *st)
{
    return kith_store_position(n->store, st->db_id, &st->generation, &st->max_seq);
}

int
kith_node_save_state(kith_node_t *n)
{
    kith_state_t now;
    if (n->trust != KITH_OK) {
        return n->trust; /* never vouch for a store that did not check */
    }
    int rc = store_state(n, &now);
    if (rc != KITH_OK) {
        return rc;
    }
    if (n->state_known && memcmp(&now, &n->state, sizeof(now)) == 0) {
        return KITH_OK;
    }
    /* Two processes (the daemon and a command) may both write: never move it back. */
    kith_state_t disk;
    int found = 0;
    if (state_read(n, &disk, &found) == KITH_OK && found && !kith_state_not_older(&now, &disk) &&
        kith_state_not_older(&disk, &now)) {
        n->state = disk;
        n->state_known = 1;
        return KITH_OK;
    }
    return state_write(n, &now);
}

int
kith_node_accept_state(kith_node_t *n)
{
    kith_state_t now;
    int rc = store_state(n, &now);
    if (rc == KITH_OK) {
        rc = state_write(n, &now);
    }
    if (rc == KITH_OK) {
        n->trust = KITH_OK;
        n->trust_msg[0] = '\0';
    }
    return rc;
}

/* Authenticates the store (proto/STORE.md): its rows check, and it is not older than
 * kith.state says it was. Sets n->trust and n->trust_msg. */
static int
check_trust(kith_node_t *n)
{
    kith_state_t saved, now;
    int have_state = 0;
    int rc = state_read(n, &saved, &have_state);
    if (rc == KITH_ECORRUPT) {
        snprintf(n->trust_msg, sizeof(n->trust_msg),
                 "%s/%s is damaged or belongs to another identity", n->dir, KITH_STATE_FILE);
        return n->trust = KITH_ETAMPER;
    }
    if (rc != KITH_OK) {
        return rc;
    }
    /* Without a state file the store may be from an older kith: authenticate it now. With
     * one, it was authenticated before, and a missing marker means someone removed it. */
    rc = kith_store_auth_upgrade(n->store, !have_state, &n->upgrade);
    if (rc == KITH_ETAMPER) {
        snprintf(n->trust_msg, sizeof(n->trust_msg),
                 "%s/%s was changed outside kith: a row that decides who gets what does not "
                 "check",
                 n->dir, KITH_DB_FILE);
        return n->trust = KITH_ETAMPER;
    }
    if (rc == KITH_OK) {
        /* The peer list is small and decides whom the node talks to at all: it checks
         * as a whole on every open. (The shares check when they are walked.) */
        kith_peer_t *peers = NULL;
        size_t n_peers = 0;
        rc = kith_store_peer_list(n->store, &peers, &n_peers);
        kith_peers_free(peers, n_peers);
        if (rc == KITH_ETAMPER) {
            snprintf(n->trust_msg, sizeof(n->trust_msg),
                     "%s/%s was changed outside kith: its peer list does not check", n->dir,
                     KITH_DB_FILE);
            return n->trust = KITH_ETAMPER;
        }
    }
    if (rc == KITH_OK) {
        rc = store_state(n, &now);
    }
    if (rc != KITH_OK) {
        return rc;
    }
    if (have_state && memcmp(now.db_id, saved.db_id, sizeof(now.db_id)) != 0) {
        snprintf(n->trust_msg, sizeof(n->trust_msg),
                 "%s/%s is not the database this node last used (another copy of it?)", n->dir,
                 KITH_DB_FILE);
        return n->trust = KITH_EROLLBACK;
    }
    if (have_state && !kith_state_not_older(&now, &saved)) {
        snprintf(n->trust_msg, sizeof(n->trust_msg),
                 "%s/%s is older than this node last saw it (peers and shares at generation "
                 "%llu, last %llu; ops up to %llu, last %llu): it was put back from an earlier "
                 "copy",
                 n->dir, KITH_DB_FILE, (unsigned long long) now.generation,
                 (unsigned long long) saved.generation, (unsigned long long) now.max_seq,
                 (unsigned long long) saved.max_seq);
        return n->trust = KITH_EROLLBACK;
    }
    if (!have_state && !n->upgrade.upgraded) {
        snprintf(n->trust_msg, sizeof(n->trust_msg),
                 "%s/%s is missing, so kith cannot tell whether %s was put back from an "
                 "earlier copy",
                 n->dir, KITH_STATE_FILE, KITH_DB_FILE);
        return n->trust = KITH_EROLLBACK;
    }
    n->trust = KITH_OK;
    if (have_state) {
        n->state = saved;
        n->state_known = 1;
    }
    /* A read-only home cannot keep it; the check above is all it gets. */
    (void) kith_node_save_state(n);
    return KITH_OK;
}

/* 1 if this process may not write path: no permission (EACCES, EPERM) or a read-only
 * file system (EROFS). A missing file is not read-only. */
static int
not_writable(const char *path)
{
    return access(path, W_OK) != 0 && (errno == EACCES || errno == EPERM || errno == EROFS);
}

int
kith_node_home_read_only(const char *dir)
{
    kith_buf_t db;
    kith_buf_init(&db);
    int ro = not_writable(dir);
    if (!ro && path_join(&db, dir, KITH_DB_FILE) == KITH_OK) {
        ro = not_writable((char *) db.data);
    }
    kith_buf_close(&db);
    return ro;
}

int
kith__node_load_identity(const char *dir, const char *passphrase, kith_identity_t **out,
                         char *errbuf, size_t errcap)
{
    kith_buf_t key;
    kith_buf_init(&key);
    *out = NULL;
    int rc = read_key_file(dir, &key, errbuf, errcap);
    if (rc == KITH_OK) {
        rc = kith_keyfile_decode(key.data, key.len, passphrase, out);
        if (rc == KITH_EPASSPHRASE) {
            kith__errbuf_set(errbuf, errcap,
                             passphrase ? "wrong passphrase" : "a passphrase is needed");
        } else if (rc != KITH_OK) {
            kith__errbuf_set(errbuf, errcap, "%s/%s is damaged: %s", dir, KITH_KEY_FILE,
                             kith_strerror(rc));
        }
    }
    if (key.data != NULL) {
        sodium_memzero(key.data, key.len);
    }
    kith_buf_close(&key);
    return rc;
}

void
kith_node_close(kith_node_t *n)
{
    if (n == NULL) {
        return;
    }
    if (n->store != NULL && n->vault != NULL && n->trust == KITH_OK) {
        (void) kith_node_save_state(n);
    }
    kith_store_close(n->store);
    kith_vault_free(n->vault);
    kith_identity_free(n->id);
    free(n->dir);
    free(n->name);
    free(n);
}

int
kith_node_open(const char *dir, const char *passphrase, kith_node_t **out, char *errbuf,
               size_t errcap)
{
    return kith_node_open_flags(dir, passphrase, 0, out, errbuf, errcap);
}

int
kith_node_open_flags(const char *dir, const char *passphrase, int flags, kith_node_t **out,
                     char *errbuf, size_t errcap)
{
    *out = NULL;
    kith_buf_t key, db_path, wrapped, name;
    kith_buf_init(&key);
    kith_buf_init(&db_path);
    kith_buf_init(&wrapped);
    kith_buf_init(&name);
    kith_node_t *n = calloc(1, sizeof(*n));
    int rc = KITH_ENOMEM;
    if (n == NULL || (n->dir = strdup(dir)) == NULL) {
        goto out;
    }
    rc = read_key_file(dir, &key, errbuf, errcap);
    if (rc != KITH_OK) {
        goto out;
    }
    rc = kith_keyfile_decode(key.data, key.len, passphrase, &n->id);
    if (rc == KITH_EPASSPHRASE) {
        kith__errbuf_set(errbuf, errcap,
                         passphrase ? "wrong passphrase" : "a passphrase is needed");
        goto out;
    }
    if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "%s/%s is damaged: %s", dir, KITH_KEY_FILE,
                         kith_strerror(rc));
        goto out;
    }
    if ((rc = path_join(&db_path, dir, KITH_DB_FILE)) != KITH_OK) {
        goto out;
    }
    struct stat st;
    if (stat((char *) db_path.data, &st) != 0) {
        kith__errbuf_set(errbuf, errcap, "%s is missing: the store of this node is gone",
                         (char *) db_path.data);
        rc = KITH_ECORRUPT;
        goto out;
    }
    mode_t old_umask = umask(077);
    rc = kith_node_home_read_only(dir)
             ? kith_store_open_read_only((char *) db_path.data, &n->store, errbuf, errcap)
             : kith_store_open((char *) db_path.data, 0, &n->store, errbuf, errcap);
    umask(old_umask);
    if (rc != KITH_OK) {
        goto out;
    }
    rc = kith_store_meta_get(n->store, "storage_key", &wrapped);
    if (rc == KITH_OK) {
        rc = kith_vault_open(n->id, wrapped.data, wrapped.len, &n->vault);
    }
    if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap,
                         "the store in %s cannot be unlocked with this identity (%s)", dir,
                         kith_strerror(rc));
        rc = KITH_ECORRUPT;
        goto out;
    }
    kith_store_set_vault(n->store, n->vault);
    n->trust = KITH_EINVAL;
    rc = check_trust(n);
    if (rc != KITH_OK && rc != KITH_ETAMPER && rc != KITH_EROLLBACK) {
        kith__errbuf_set(errbuf, errcap, "cannot check the store in %s: %s", dir,
                         kith_strerror(rc));
        goto out;
    }
    if (rc != KITH_OK && !(flags & KITH_OPEN_UNCHECKED)) {
        kith__errbuf_set(errbuf, errcap,
                         "%s. kith will not use it until you look: `kith doctor` says what is "
                         "wrong, `kith doctor --repair` puts it right",
                         n->trust_msg);
        goto out;
    }
    rc = KITH_OK;
    /* Records folded by an older kith are refolded once: the private layer brings back
     * private values that a shared edit used to overwrite, lists gain the element ids that
     * a remove needs, and former members are found. A failure (another process holding
     * the lock for long) leaves it for the next open. */
    (void) kith_store_rederive(n->store);
    rc = kith_store_meta_get(n->store, "name", &name);
    if (rc == KITH_ENOTFOUND) {
        rc = KITH_OK;
    }
    if (rc != KITH_OK || (n->name = kith_buf_steal(&name)) == NULL) {
        rc = rc ? rc : KITH_ENOMEM;
        goto out;
    }
    *out = n;
    n = NULL;
out:
    if (key.data != NULL) {
        sodium_memzero(key.data, key.len);
    }
    kith_buf_close(&key);
    kith_buf_close(&db_path);
    kith_buf_close(&wrapped);
    kith_buf_close(&name);
    kith_node_close(n);
    return rc;
}

void
kith_node_new_record_id(kith_node_t *n, uint8_t id[static KITH_REC_ID_LEN])
{
    uint8_t nonce[8];
    kith_vault_random(n->vault, nonce, sizeof(nonce));
    kith_op_rec_id_make(n->id->pk, nonce, id);
}

int
kith_node_apply_local(kith_node_t *n, kith_op_t *op, uint64_t now_ms, uint8_t *hash_out)
{
    kith_buf_t signed_op;
    kith_buf_init(&signed_op);
    uint8_t hash[KITH_HASH_LEN];
    int added = 0;
    memcpy(op->author, n->id->pk, KITH_PK_LEN);
    int rc = kith_store_hlc_next(n->store, now_ms, &op->hlc);
    if (rc == KITH_OK) {
        rc = kith_op_sign(op, n->id, &signed_op, hash);
    }
    if (rc == KITH_OK) {
        rc = kith_store_put_op(n->store, signed_op.data, signed_op.len, op, hash, &added);
    }
    if (rc == KITH_OK && hash_out != NULL) {
        memcpy(hash_out, hash, KITH_HASH_LEN);
    }
    kith_buf_close(&signed_op);
    return rc;
}

#define SIGN_THREADS_MAX 4

typedef struct {
    kith_node_t *node;
    kith_op_t *const *ops;
    kith_buf_t *signed_ops;
    uint8_t (*hashes)[KITH_HASH_LEN];
    size_t first, end; /* this thread's slice */
    int rc;
} sign_slice_t;

static void *
sign_slice(void *arg)
{
    sign_slice_t *sl = arg;
    for (size_t i = sl->first; i < sl->end && sl->rc == KITH_OK; i++) {
        sl->rc = kith_op_sign(sl->ops[i], sl->node->id, &sl->signed_ops[i], sl->hashes[i]);
    }
    return NULL;
}

int
kith_node_apply_local_batch(kith_node_t *n, kith_op_t *const *ops, size_t count, uint64_t now_ms)
{
    if (count == 0) {
        return KITH_OK;
    }
    kith_buf_t *bufs = calloc(count, sizeof(*bufs));
    uint8_t(*hashes)[KITH_HASH_LEN] = calloc(count, KITH_HASH_LEN);
    int rc = bufs && hashes ? KITH_OK : KITH_ENOMEM;
    for (size_t i = 0; rc == KITH_OK && i < count; i++) {
        memcpy(ops[i]->author, n->id->pk, KITH_PK_LEN);
        rc = kith_store_hlc_next(n->store, now_ms, &ops[i]->hlc);
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t threads = cpus < 1 ? 1 : (size_t) cpus;
    if (threads > SIGN_THREADS_MAX) {
        threads = SIGN_THREADS_MAX;
    }
    if (count < 64) {
        threads = 1; /* not worth a thread */
    }
    sign_slice_t slices[SIGN_THREADS_MAX];
    pthread_t tids[SIGN_THREADS_MAX];
    size_t started = 0;
    for (size_t t = 0; rc == KITH_OK && t < threads; t++) {
        slices[t] = (sign_slice_t){
            n, ops, bufs, hashes, count * t / threads, count * (t + 1) / threads, KITH_OK};
        /* The last slice runs on this thread. */
        if (t + 1 < threads && pthread_create(&tids[t], NULL, sign_slice, &slices[t]) == 0) {
            started++;
        } else {
            sign_slice(&slices[t]);
        }
    }
    for (size_t t = 0; t < started; t++) {
        pthread_join(tids[t], NULL);
    }
    for (size_t t = 0; rc == KITH_OK && t < threads; t++) {
        rc = slices[t].rc;
    }
    for (size_t i = 0; rc == KITH_OK && i < count; i++) {
        int added = 0;
        rc = kith_store_put_op(n->store, bufs[i].data, bufs[i].len, ops[i], hashes[i], &added);
    }
    for (size_t i = 0; bufs != NULL && i < count; i++) {
        kith_buf_close(&bufs[i]);
    }
    free(bufs);
    free(hashes);
    return rc;
}

int
kith_node_share_target(kith_node_t *n, const char *text, kith_share_target_t *out)
{
    memset(out, 0, sizeof(*out));
    if (text[0] == '@') {
        size_t len = strlen(text + 1);
        if (len == 0 || len > KITH_PEER_NAME_MAX || strchr(text, ',') != NULL) {
            return KITH_EINVAL;
        }
        out->is_group = 1;
        memcpy(out->group, text + 1, len + 1);
        return KITH_OK;
    }
    kith_peer_t p;
    int rc = kith_store_peer_get(n->store, text, &p);
    if (rc == KITH_OK) {
        memcpy(out->key, p.key, KITH_PK_LEN);
        kith_peer_close(&p);
    }
    return rc;
}

typedef struct {
    kith_node_t *node;
    kith_op_t *op;
    kith_peer_t *peers;
    size_t n_peers;
    int rc;
} audience_ctx_t;

/* Adds the peers a share spec reaches to the audience being built. Only current peers
 * count: a spec naming a key that is no longer a peer reaches nobody. */
static int
add_share_target(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const kith_share_target_t *target,
                 int role)
{
    (void) id;
    audience_ctx_t *a = ctx;
    for (size_t i = 0; i < a->n_peers; i++) {
        const kith_peer_t *p = &a->peers[i];
        int match = target->is_group ? kith_peer_in_group(p, target->group)
                                     : memcmp(p->key, target->key, KITH_PK_LEN) == 0;
        if (match && memcmp(p->key, a->node->id->pk, KITH_PK_LEN) != 0) {
            /* A peer reached twice (by name and through a group) gets the higher role. */
            int rc = kith_op_add_aud(a->op, p->key, (uint8_t) role);
            if (rc != KITH_OK && rc != KITH_EEXISTS) {
                return rc;
            }
        }
    }
    a->op->has_aud = 1;
    return KITH_OK;
}

int
kith_node_audience_from_targets(kith_node_t *n, kith_op_t *op, const kith_share_target_t *targets,
                                size_t n_targets, int role)
{
    if (n_targets == 0) {
        return KITH_OK;
    }
    audience_ctx_t a = {n, op, NULL, 0, KITH_OK};
    int rc = kith_store_peer_list(n->store, &a.peers, &a.n_peers);
    for (size_t i = 0; rc == KITH_OK && i < n_targets; i++) {
        rc = add_share_target(&a, op->rec, &targets[i], role);
    }
    op->has_aud = op->n_aud > 0;
    kith_peers_free(a.peers, a.n_peers);
    return rc;
}

/* Gives an audience op that demotes editors of rec its cut: the editors' ops held here
 * keep their effect, and nothing they sign later can, whatever time it claims. */
static int
add_cut(kith_node_t *n, kith_op_t *op, const kith_record_t *rec)
{
    int demotes = 0;
    for (size_t i = 0; i < rec->n_aud; i++) {
        int still_editor = 0;
        for (size_t k = 0; k < op->n_aud; k++) {
            still_editor |= memcmp(op->aud[k].key, rec->aud[i].key, KITH_PK_LEN) == 0 &&
                            op->aud[k].role == KITH_ROLE_EDITOR;
        }
        demotes |= rec->aud[i].role == KITH_ROLE_EDITOR && !still_editor;
    }
    if (!demotes) {
        return KITH_OK; /* no editors: nothing to cut, and no history to read */
    }
    kith_op_list_t ops;
    int rc = kith_store_load_ops(n->store, rec->id, &ops);
    if (rc == KITH_OK) {
        rc = kith_fold_cut(op, rec, ops.in, ops.n);
        kith_op_list_close(&ops);
    }
    return rc;
}

int
kith_node_update_audience(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN], uint64_t now_ms,
                          int *changed)
{
    kith_record_t rec;
    kith_op_t op;
    kith_op_init(&op);
    audience_ctx_t a = {n, &op, NULL, 0, KITH_OK};
    if (changed != NULL) {
        *changed = 0;
    }
    int rc = kith_store_record_get(n->store, id, &rec);
    if (rc != KITH_OK) {
        return rc;
    }
    if (memcmp(rec.owner, n->id->pk, KITH_PK_LEN) != 0) {
        rc = KITH_EAUTH;
        goto out;
    }
    rc = kith_store_peer_list(n->store, &a.peers, &a.n_peers);
    if (rc == KITH_OK) {
        op.has_aud = 1;
        rc = kith_store_share_foreach(n->store, id, add_share_target, &a);
    }
    if (rc != KITH_OK) {
        goto out;
    }
    int same = op.n_aud == rec.n_aud;
    for (size_t i = 0; same && i < op.n_aud; i++) {
        same = memcmp(op.aud[i].key, rec.aud[i].key, KITH_PK_LEN) == 0 &&
               op.aud[i].role == rec.aud[i].role;
    }
    if (same) {
        goto out;
    }
    memcpy(op.rec, id, KITH_REC_ID_LEN);
    memcpy(op.owner, rec.owner, KITH_PK_LEN);
    rc = add_cut(n, &op, &rec);
    if (rc == KITH_OK) {
        rc = kith_node_apply_local(n, &op, now_ms, NULL);
    }
    if (rc == KITH_OK && changed != NULL) {
        *changed = 1;
    }
out:
    kith_peers_free(a.peers, a.n_peers);
    kith_op_close(&op);
    kith_record_close(&rec);
    return rc;
}

/* Record ids collected from the share specs, each once. */
typedef struct {
    uint8_t (*ids)[KITH_REC_ID_LEN];
    size_t n, cap;
    const kith_share_target_t *const *targets; /* NULL: every record with a spec */
    size_t n_targets;
} id_list_t;

static int
collect_share(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const kith_share_target_t *target,
              int role)
{
    (void) role;
    id_list_t *l = ctx;
    int wanted = l->targets == NULL;
    for (size_t i = 0; !wanted && i < l->n_targets; i++) {
        wanted = kith_share_target_eq(l->targets[i], target);
    }
    if (!wanted) {
        return KITH_OK;
    }
    if (l->n > 0 && memcmp(l->ids[l->n - 1], id, KITH_REC_ID_LEN) == 0) {
        return KITH_OK; /* rows come ordered by record */
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        void *p = realloc(l->ids, cap * KITH_REC_ID_LEN);
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        l->ids = p;
        l->cap = cap;
    }
    memcpy(l->ids[l->n++], id, KITH_REC_ID_LEN);
    return KITH_OK;
}

/* Updates the audience of every record in l (those not ours, or gone, are skipped);
 * *changed (may be NULL) counts the records whose audience changed. */
static int
update_listed(kith_node_t *n, const id_list_t *l, uint64_t now_ms, size_t *changed)
{
    int rc = KITH_OK;
    for (size_t i = 0; rc == KITH_OK && i < l->n; i++) {
        int c = 0;
        rc = kith_node_update_audience(n, l->ids[i], now_ms, &c);
        if (rc == KITH_EAUTH || rc == KITH_ENOTFOUND) {
            rc = KITH_OK; /* not ours (or gone): nothing to recompute */
        }
        if (changed != NULL) {
            *changed += (size_t) c;
        }
    }
    return rc;
}

/* Refreshes the records with a share spec naming one of targets (all of them when
 * targets is NULL). */
static int
refresh_targets(kith_node_t *n, const kith_share_target_t *const *targets, size_t n_targets,
                uint64_t now_ms, size_t *changed)
{
    if (targets != NULL && n_targets == 0) {
        return KITH_OK;
    }
    id_list_t l = {NULL, 0, 0, targets, n_targets};
    int rc = kith_store_share_foreach(n->store, NULL, collect_share, &l);
    if (rc == KITH_OK) {
        rc = update_listed(n, &l, now_ms, changed);
    }
    free(l.ids);
    return rc;
}

int
kith_node_refresh_audiences(kith_node_t *n, const kith_share_target_t *target, uint64_t now_ms)
{
    return refresh_targets(n, target ? &target : NULL, target ? 1 : 0, now_ms, NULL);
}

/* The group targets of a comma-separated group list; *count of them. The caller frees the
 * array. */
static int
group_targets(const char *groups, kith_share_target_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    size_t cap = 1;
    for (const char *g = groups; g && *g; g++) {
        cap += *g == ',';
    }
    kith_share_target_t *t = calloc(cap, sizeof(*t));
    if (t == NULL) {
        return KITH_ENOMEM;
    }
    for (const char *g = groups; g && *g;) {
        const char *end = strchr(g, ',');
        size_t len = end ? (size_t) (end - g) : strlen(g);
        if (len > 0 && len <= KITH_PEER_NAME_MAX) {
            t[*count].is_group = 1;
            memcpy(t[*count].group, g, len);
            (*count)++;
        }
        g += len + (end != NULL);
    }
    *out = t;
    return KITH_OK;
}

/* Refreshes the records shared with any group in groups_a or groups_b (comma-separated;
 * either may be NULL) that is not in both: the groups a peer joined or left. */
static int
refresh_group_changes(kith_node_t *n, const char *groups_a, const char *groups_b, uint64_t now_ms)
{
    kith_share_target_t *a = NULL, *b = NULL;
    const kith_share_target_t **changed = NULL;
    size_t na = 0, nb = 0, nc = 0;
    int rc = group_targets(groups_a, &a, &na);
    if (rc == KITH_OK) {
        rc = group_targets(groups_b, &b, &nb);
    }
    if (rc == KITH_OK && (changed = calloc(na + nb + 1, sizeof(*changed))) == NULL) {
        rc = KITH_ENOMEM;
    }
    for (int side = 0; rc == KITH_OK && side < 2; side++) {
        const kith_share_target_t *mine = side ? b : a, *other = side ? a : b;
        size_t n_mine = side ? nb : na, n_other = side ? na : nb;
        for (size_t i = 0; i < n_mine; i++) {
            int in_both = 0;
            for (size_t k = 0; k < n_other && !in_both; k++) {
                in_both = kith_share_target_eq(&mine[i], &other[k]);
            }
            if (!in_both) {
                changed[nc++] = &mine[i];
            }
        }
    }
    if (rc == KITH_OK) {
        rc = refresh_targets(n, changed, nc, now_ms, NULL);
    }
    free(changed);
    free(a);
    free(b);
    return rc;
}

int
kith_node_peer_add(kith_node_t *n, const kith_peer_t *p, uint64_t now_ms)
{
    int rc = kith_store_peer_add(n->store, p);
    /* Records already shared with one of its groups now include it. (None can name its
     * key yet: a removed peer's specs went with it.) */
    if (rc == KITH_OK) {
        rc = refresh_group_changes(n, NULL, p->groups, now_ms);
    }
    return rc;
}

int
kith_node_peer_edit(kith_node_t *n, const char *name, const kith_peer_t *p, uint64_t now_ms)
{
    kith_peer_t old;
    int rc = kith_store_peer_get(n->store, name, &old);
    if (rc != KITH_OK) {
        return rc;
    }
    rc = kith_store_peer_update(n->store, name, p);
    /* Shares name the peer by key, so a new name changes no audience; a group it joined
     * or left does. */
    if (rc == KITH_OK) {
        rc = refresh_group_changes(n, old.groups, p->groups, now_ms);
    }
    kith_peer_close(&old);
    return rc;
}

int
kith_node_peer_remove(kith_node_t *n, const char *name, uint64_t now_ms, size_t *unshared)
{
    kith_peer_t p;
    kith_share_target_t *groups = NULL;
    const kith_share_target_t **targets = NULL;
    size_t n_groups = 0, removed = 0;
    id_list_t l = {NULL, 0, 0, NULL, 0};
    if (unshared != NULL) {
        *unshared = 0;
    }
    int rc = kith_store_peer_get(n->store, name, &p);
    if (rc != KITH_OK) {
        return rc;
    }
    /* The records it may be in the audience of: shared with its key or one of its groups.
     * Collected before the specs and the peer go. */
    kith_share_target_t self_target = {0, {0}, ""};
    memcpy(self_target.key, p.key, KITH_PK_LEN);
    rc = group_targets(p.groups, &groups, &n_groups);
    if (rc == KITH_OK && (targets = calloc(n_groups + 1, sizeof(*targets))) == NULL) {
        rc = KITH_ENOMEM;
    }
    if (rc == KITH_OK) {
        targets[0] = &self_target;
        for (size_t i = 0; i < n_groups; i++) {
            targets[i + 1] = &groups[i];
        }
        l.targets = targets;
        l.n_targets = n_groups + 1;
        rc = kith_store_share_foreach(n->store, NULL, collect_share, &l);
    }
    if (rc == KITH_OK) {
        rc = kith_store_share_remove_peer(n->store, p.key, &removed);
    }
    if (rc == KITH_OK) {
        rc = kith_store_peer_remove(n->store, name);
    }
    if (rc == KITH_OK) {
        rc = update_listed(n, &l, now_ms, unshared);
    }
    free(l.ids);
    free(targets);
    free(groups);
    kith_peer_close(&p);
    return rc;
}

void
kith_node_peer_name_free(kith_node_t *n, const char *wanted, char out[static 65])
{
    char base[65];
    size_t w = 0;
    for (const char *p = wanted; *p && w < 48; p++) {
        char c = *p;
        int okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (okc || (w > 0 && base[w - 1] != '-')) {
            base[w++] = okc ? c : '-';
        }
    }
    while (w > 0 && base[w - 1] == '-') {
        w--;
    }
    base[w] = '\0';
    if (w == 0 || base[0] == '-') {
        snprintf(base, sizeof(base), "peer");
    }
    snprintf(out, 65, "%s", base);
    for (int k = 2; k < 1000; k++) {
        kith_peer_t p;
        if (kith_store_peer_get(n->store, out, &p) != KITH_OK) {
            return;
        }
        kith_peer_close(&p);
        snprintf(out, 65, "%.48s-%d", base, k);
    }
}

void
kith_node_pairing_name(kith_node_t *n, char out[static 65])
{
    if (n->name[0] != '\0') {
        snprintf(out, 65, "%s", n->name);
    } else {
        char fp[KITH_FINGERPRINT_LEN + 1];
        kith_fingerprint(n->id->pk, fp);
        snprintf(out, 65, "kith-%.4s", fp);
    }
}
