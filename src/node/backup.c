/*
 * Backups of a node's home; see backup.h and proto/BACKUP.md for the format.
 *
 * The codec works on byte streams through callbacks, so that the decoder can be fed from
 * a file, from memory (tests, fuzz_backup) and twice over the same file (restore checks
 * the whole backup, then decrypts it again to write it). Its memory does not grow with
 * the input: one chunk, one entry header, the names seen, and identity.key.
 *
 * Limits: regular files only, no directories; names as kith_backup_name_ok() says.
 */
#define _GNU_SOURCE /* renameat2 */
#include "node/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/keyfile.h"
#include "kith/error.h"
#include "util/errbuf.h"

/* Header offsets (proto/BACKUP.md). */
#define OFF_VERSION 8
#define OFF_KDF     9
#define OFF_OPS     10
#define OFF_MEM     18
#define OFF_SALT    26
#define OFF_CHECK   42
#define OFF_SS      58
#define CHECK_LEN   16
#define SS_ABYTES   crypto_secretstream_xchacha20poly1305_ABYTES
#define CIPHER_MAX  (KITH_BACKUP_CHUNK + SS_ABYTES)
#define KDF_CONTEXT "kithback"
#define KIND_FILE   1
/* An entry's header: kind, name length, name, mode, size. */
#define ENTRY_FIXED   (1 + 1 + 4 + 8)
#define ENTRY_HDR_MAX (ENTRY_FIXED + KITH_BACKUP_NAME_MAX)
#define MAX_OPSLIMIT  crypto_pwhash_OPSLIMIT_SENSITIVE
#define MAX_MEMLIMIT  crypto_pwhash_MEMLIMIT_SENSITIVE
#define DB_STEP_BYTES (1u << 20) /* the step callback runs after each MiB of the database */

_Static_assert(KITH_BACKUP_HEADER_LEN == OFF_SS + crypto_secretstream_xchacha20poly1305_HEADERBYTES,
               "header layout");

struct kith_backup_keys {
    uint8_t stream[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    uint8_t check[CHECK_LEN];
};

static void
put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}

static void
put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}

static uint64_t
get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static int
ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

int
kith_backup_name_ok(const char *name, size_t len)
{
    /* Files a home holds only while kith runs, or half-written: SQLite's side files (a
     * stale -wal restored beside a database would be replayed into it), the daemon's
     * control socket (net/daemon.h), and temporary, pid, lock and log files. */
    static const char *const runtime[] = {"-wal",  "-shm", "-journal", ".pid",
                                          ".lock", ".log", ".tmp"};
    if (len == 0 || len > KITH_BACKUP_NAME_MAX || (len == 1 && name[0] == '.')) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) name[i];
        if (c < 0x20 || c > 0x7e || c == '/' || c == '\\' ||
            (c == '.' && i + 1 < len && name[i + 1] == '.')) {
            return 0;
        }
    }
    if (len == strlen("kith.sock") && memcmp(name, "kith.sock", len) == 0) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(runtime) / sizeof(runtime[0]); i++) {
        if (ends_with(name, len, runtime[i])) {
            return 0;
        }
    }
    return 1;
}

/* The largest size an entry of this name may have. */
static uint64_t
size_max(const char *name)
{
    if (strcmp(name, KITH_DB_FILE) == 0) {
        return KITH_BACKUP_DB_MAX;
    }
    if (strcmp(name, KITH_KEY_FILE) == 0) {
        return KITH_BACKUP_KEY_MAX;
    }
    return KITH_BACKUP_FILE_MAX;
}

/* ---- header and keys ---------------------------------------------------------------- */

int
kith_backup_header_parse(const uint8_t *data, size_t len, kith_backup_header_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len < KITH_BACKUP_HEADER_LEN ||
        memcmp(data, KITH_BACKUP_MAGIC, KITH_BACKUP_MAGIC_LEN) != 0) {
        return KITH_EPARSE;
    }
    if (data[OFF_VERSION] != KITH_BACKUP_VERSION || data[OFF_KDF] != KITH_BACKUP_KDF_ARGON2) {
        return KITH_EVERSION;
    }
    uint64_t ops = get_le(data + OFF_OPS, 8), mem = get_le(data + OFF_MEM, 8);
    /* Bounded so that a doctored file cannot make kith allocate gigabytes or spin for
     * minutes; Argon2 counts memory in KiB. */
    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > MAX_OPSLIMIT ||
        mem < crypto_pwhash_MEMLIMIT_MIN || mem > MAX_MEMLIMIT || mem % 1024 != 0) {
        return KITH_ERANGE;
    }
    memcpy(out->raw, data, KITH_BACKUP_HEADER_LEN);
    out->opslimit = ops;
    out->memlimit = mem;
    return KITH_OK;
}

void
kith_backup_keys_free(kith_backup_keys_t *k)
{
    if (k != NULL) {
        sodium_free(k);
    }
}

int
kith_backup_keys_derive(const char *passphrase, const kith_backup_header_t *h,
                        kith_backup_keys_t **out)
{
    *out = NULL;
    if (passphrase == NULL || passphrase[0] == '\0') {
        return KITH_EINVAL;
    }
    kith_backup_keys_t *k = sodium_malloc(sizeof(*k));
    uint8_t *master = sodium_malloc(32);
    int rc = KITH_ENOMEM;
    if (k == NULL || master == NULL) {
        goto out;
    }
    /* libsodium fails here only when it cannot get the memory. */
    if (crypto_pwhash(master, 32, passphrase, strlen(passphrase), h->raw + OFF_SALT, h->opslimit,
                      (size_t) h->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        goto out;
    }
    /* Two subkeys, so that the check value says nothing about the stream key. */
    if (crypto_kdf_derive_from_key(k->stream, sizeof(k->stream), 1, KDF_CONTEXT, master) != 0 ||
        crypto_kdf_derive_from_key(k->check, sizeof(k->check), 2, KDF_CONTEXT, master) != 0) {
        rc = KITH_ECRYPTO;
        goto out;
    }
    *out = k;
    k = NULL;
    rc = KITH_OK;
out:
    kith_backup_keys_free(k);
    if (master != NULL) {
        sodium_free(master);
    }
    return rc;
}

/* ---- writer ------------------------------------------------------------------------- */

struct kith_backup_writer {
    crypto_secretstream_xchacha20poly1305_state st;
    kith_backup_write_cb write;
    void *wctx;
    uint8_t header[KITH_BACKUP_HEADER_LEN]; /* the first chunk's associated data */
    int chunks;                             /* chunks pushed so far */
    int in_entry;                           /* 1 while an entry's data is due */
    int failed;                             /* a write failed: the stream is unusable */
    uint64_t left;                          /* bytes still due in the entry */
    size_t plain_len;
    uint8_t plain[KITH_BACKUP_CHUNK];
    uint8_t cipher[CIPHER_MAX];
};

static int
push(kith_backup_writer_t *w, unsigned char tag)
{
    unsigned long long clen = 0;
    const uint8_t *ad = w->chunks == 0 ? w->header : NULL;
    size_t ad_len = w->chunks == 0 ? sizeof(w->header) : 0;
    if (crypto_secretstream_xchacha20poly1305_push(&w->st, w->cipher, &clen, w->plain, w->plain_len,
                                                   ad, ad_len, tag) != 0) {
        w->failed = 1;
        return KITH_ECRYPTO;
    }
    sodium_memzero(w->plain, w->plain_len);
    w->plain_len = 0;
    w->chunks++;
    int rc = w->write(w->wctx, w->cipher, (size_t) clen);
    if (rc != KITH_OK) {
        w->failed = 1;
    }
    return rc;
}

/* Appends plaintext to the stream, pushing each chunk as it fills. */
static int
put(kith_backup_writer_t *w, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t take = KITH_BACKUP_CHUNK - w->plain_len;
        if (take > n) {
            take = n;
        }
        memcpy(w->plain + w->plain_len, p, take);
        w->plain_len += take;
        p += take;
        n -= take;
        if (w->plain_len == KITH_BACKUP_CHUNK) {
            int rc = push(w, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
            if (rc != KITH_OK) {
                return rc;
            }
        }
    }
    return KITH_OK;
}

void
kith_backup_writer_free(kith_backup_writer_t *w)
{
    if (w != NULL) {
        sodium_free(w); /* wipes the stream state and any plaintext left */
    }
}

int
kith_backup_writer_new(const char *passphrase, const kith_backup_opts_t *opts,
                       kith_backup_write_cb write, void *wctx, kith_backup_writer_t **out)
{
    *out = NULL;
    kith_backup_header_t h;
    kith_backup_keys_t *keys = NULL;
    uint64_t ops = opts && opts->opslimit ? opts->opslimit : crypto_pwhash_OPSLIMIT_MODERATE;
    uint64_t mem = opts && opts->memlimit ? opts->memlimit : crypto_pwhash_MEMLIMIT_MODERATE;
    kith_backup_writer_t *w = sodium_malloc(sizeof(*w));
    if (w == NULL) {
        return KITH_ENOMEM;
    }
    memset(w, 0, sizeof(*w));
    w->write = write;
    w->wctx = wctx;
    memcpy(w->header, KITH_BACKUP_MAGIC, KITH_BACKUP_MAGIC_LEN);
    w->header[OFF_VERSION] = KITH_BACKUP_VERSION;
    w->header[OFF_KDF] = KITH_BACKUP_KDF_ARGON2;
    put_le64(w->header + OFF_OPS, ops);
    put_le64(w->header + OFF_MEM, mem);
    randombytes_buf(w->header + OFF_SALT, 16);
    /* Parsing what we wrote applies the reader's bounds to the limits we were given. */
    int rc = kith_backup_header_parse(w->header, sizeof(w->header), &h);
    if (rc != KITH_OK) {
        rc = KITH_EINVAL;
        goto out;
    }
    if ((rc = kith_backup_keys_derive(passphrase, &h, &keys)) != KITH_OK) {
        goto out;
    }
    memcpy(w->header + OFF_CHECK, keys->check, CHECK_LEN);
    if (crypto_secretstream_xchacha20poly1305_init_push(&w->st, w->header + OFF_SS, keys->stream) !=
        0) {
        rc = KITH_ECRYPTO;
        goto out;
    }
    if ((rc = write(wctx, w->header, sizeof(w->header))) != KITH_OK) {
        goto out;
    }
    *out = w;
    w = NULL;
out:
    kith_backup_keys_free(keys);
    sodium_memzero(&h, sizeof(h));
    kith_backup_writer_free(w);
    return rc;
}

int
kith_backup_writer_entry(kith_backup_writer_t *w, const char *name, uint32_t mode, uint64_t size)
{
    size_t len = strlen(name);
    if (w->failed || (w->in_entry && w->left > 0) || !kith_backup_name_ok(name, len) ||
        (mode & ~0777u) != 0 || size > size_max(name)) {
        return KITH_EINVAL;
    }
    uint8_t hdr[ENTRY_HDR_MAX];
    hdr[0] = KIND_FILE;
    hdr[1] = (uint8_t) len;
    memcpy(hdr + 2, name, len);
    put_le32(hdr + 2 + len, mode);
    put_le64(hdr + 6 + len, size);
    w->in_entry = 1;
    w->left = size;
    return put(w, hdr, ENTRY_FIXED + len);
}

int
kith_backup_writer_data(kith_backup_writer_t *w, const uint8_t *p, size_t n)
{
    if (w->failed || !w->in_entry || n > w->left) {
        return KITH_EINVAL;
    }
    w->left -= n;
    return put(w, p, n);
}

int
kith_backup_writer_finish(kith_backup_writer_t *w)
{
    if (w->failed || (w->in_entry && w->left > 0)) {
        return KITH_EINVAL;
    }
    return push(w, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
}

/* ---- decoder ------------------------------------------------------------------------ */

typedef struct {
    const kith_backup_sink_t *sink;
    size_t hdr_len;             /* bytes of the entry header gathered */
    uint8_t hdr[ENTRY_HDR_MAX]; /* the entry header being gathered */
    int in_content;             /* 1: hdr is complete, content bytes follow */
    char name[KITH_BACKUP_NAME_MAX + 1];
    uint64_t left; /* content bytes still due */
    char **names;  /* every name seen, to refuse duplicates */
    size_t n_names;
    uint8_t *key; /* identity.key's content (sodium_malloc'd) */
    size_t key_len;
    int is_key; /* 1 while reading identity.key */
    kith_backup_summary_t sum;
    char *errbuf;
    size_t errcap;
} parser_t;

static int
entry_end(parser_t *ps)
{
    ps->in_content = 0;
    ps->hdr_len = 0;
    ps->is_key = 0;
    return ps->sink && ps->sink->end ? ps->sink->end(ps->sink->ctx) : KITH_OK;
}

/* The entry header is complete: check it and start the entry. */
static int
entry_begin(parser_t *ps)
{
    size_t len = ps->hdr[1];
    const uint8_t *p = ps->hdr + 2 + len;
    uint32_t mode = (uint32_t) get_le(p, 4);
    uint64_t size = get_le(p + 4, 8);
    memcpy(ps->name, ps->hdr + 2, len);
    ps->name[len] = '\0';
    if (!kith_backup_name_ok(ps->name, len)) {
        kith__errbuf_set(ps->errbuf, ps->errcap, "the backup is damaged: entry %zu has a bad name",
                         ps->n_names + 1);
        return KITH_ECORRUPT;
    }
    for (size_t i = 0; i < ps->n_names; i++) {
        if (strcmp(ps->names[i], ps->name) == 0) {
            kith__errbuf_set(ps->errbuf, ps->errcap, "the backup is damaged: %s appears twice",
                             ps->name);
            return KITH_ECORRUPT;
        }
    }
    if (ps->n_names == KITH_BACKUP_ENTRIES_MAX) {
        kith__errbuf_set(ps->errbuf, ps->errcap, "the backup holds more than %d files",
                         KITH_BACKUP_ENTRIES_MAX);
        return KITH_ETOOBIG;
    }
    if ((mode & ~0777u) != 0) {
        kith__errbuf_set(ps->errbuf, ps->errcap, "the backup is damaged: %s has mode %o", ps->name,
                         (unsigned) mode);
        return KITH_ECORRUPT;
    }
    if (size > size_max(ps->name)) {
        kith__errbuf_set(ps->errbuf, ps->errcap,
                         "the backup is damaged: %s claims %llu bytes, more than kith allows",
                         ps->name, (unsigned long long) size);
        return KITH_ETOOBIG;
    }
    char *copy = strdup(ps->name);
    if (copy == NULL) {
        return KITH_ENOMEM;
    }
    ps->names[ps->n_names++] = copy;
    ps->sum.entries++;
    ps->sum.bytes += size;
    if (strcmp(ps->name, KITH_DB_FILE) == 0) {
        ps->sum.db_size = size;
    }
    ps->is_key = strcmp(ps->name, KITH_KEY_FILE) == 0;
    ps->in_content = 1;
    ps->left = size;
    int rc = ps->sink && ps->sink->begin ? ps->sink->begin(ps->sink->ctx, ps->name, mode, size)
                                         : KITH_OK;
    if (rc == KITH_OK && size == 0) {
        rc = entry_end(ps);
    }
    return rc;
}

/* Feeds decrypted bytes to the entry parser. */
static int
parse(parser_t *ps, const uint8_t *p, size_t n)
{
    int rc = KITH_OK;
    while (rc == KITH_OK && n > 0) {
        if (!ps->in_content) {
            size_t need = ps->hdr_len < 2 ? 2 : ENTRY_FIXED + (size_t) ps->hdr[1];
            size_t take = need - ps->hdr_len < n ? need - ps->hdr_len : n;
            memcpy(ps->hdr + ps->hdr_len, p, take);
            ps->hdr_len += take;
            p += take;
            n -= take;
            if (ps->hdr_len == 2 && (ps->hdr[0] != KIND_FILE || ps->hdr[1] == 0)) {
                kith__errbuf_set(ps->errbuf, ps->errcap,
                                 "the backup is damaged: entry %zu is of an unknown kind",
                                 ps->n_names + 1);
                return KITH_ECORRUPT;
            }
            if (ps->hdr_len > 2 && ps->hdr_len == ENTRY_FIXED + (size_t) ps->hdr[1]) {
                rc = entry_begin(ps);
            }
            continue;
        }
        size_t take = ps->left < n ? (size_t) ps->left : n;
        if (ps->is_key) {
            memcpy(ps->key + ps->key_len, p, take); /* size <= KITH_BACKUP_KEY_MAX */
            ps->key_len += take;
        }
        if (ps->sink && ps->sink->data) {
            rc = ps->sink->data(ps->sink->ctx, p, take);
        }
        ps->left -= take;
        p += take;
        n -= take;
        if (rc == KITH_OK && ps->left == 0) {
            rc = entry_end(ps);
        }
    }
    return rc;
}

/* Reads until buf is full or the input ends. */
static int
read_full(kith_backup_read_cb read, void *rctx, uint8_t *buf, size_t cap, size_t *got)
{
    *got = 0;
    while (*got < cap) {
        size_t n = 0;
        int rc = read(rctx, buf + *got, cap - *got, &n);
        if (rc != KITH_OK) {
            return rc;
        }
        if (n == 0) {
            break;
        }
        *got += n;
    }
    return KITH_OK;
}

int
kith_backup_decode(const kith_backup_header_t *h, const kith_backup_keys_t *keys,
                   kith_backup_read_cb read, void *rctx, const kith_backup_sink_t *sink,
                   kith_backup_summary_t *summary, char *errbuf, size_t errcap)
{
    crypto_secretstream_xchacha20poly1305_state *st = sodium_malloc(sizeof(*st));
    uint8_t *plain = sodium_malloc(KITH_BACKUP_CHUNK);
    uint8_t *cipher = malloc(CIPHER_MAX);
    parser_t ps;
    memset(&ps, 0, sizeof(ps));
    ps.sink = sink;
    ps.errbuf = errbuf;
    ps.errcap = errcap;
    ps.names = calloc(KITH_BACKUP_ENTRIES_MAX, sizeof(char *));
    ps.key = sodium_malloc(KITH_BACKUP_KEY_MAX);
    int rc = KITH_ENOMEM;
    if (st == NULL || plain == NULL || cipher == NULL || ps.names == NULL || ps.key == NULL) {
        goto out;
    }
    if (sodium_memcmp(h->raw + OFF_CHECK, keys->check, CHECK_LEN) != 0) {
        kith__errbuf_set(errbuf, errcap, "wrong backup passphrase");
        rc = KITH_EPASSPHRASE;
        goto out;
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(st, h->raw + OFF_SS, keys->stream) != 0) {
        kith__errbuf_set(errbuf, errcap, "the backup is damaged: its header is invalid");
        rc = KITH_ECORRUPT;
        goto out;
    }
    for (uint64_t chunk = 0;; chunk++) {
        size_t got = 0;
        unsigned long long plen = 0;
        unsigned char tag = 0;
        if ((rc = read_full(read, rctx, cipher, CIPHER_MAX, &got)) != KITH_OK) {
            kith__errbuf_set(errbuf, errcap, "cannot read the backup: %s", kith_strerror(rc));
            goto out;
        }
        if (got < SS_ABYTES) {
            kith__errbuf_set(errbuf, errcap,
                             "the backup is truncated: it ends before its final chunk");
            rc = KITH_ECORRUPT;
            goto out;
        }
        const uint8_t *ad = chunk == 0 ? h->raw : NULL;
        size_t ad_len = chunk == 0 ? KITH_BACKUP_HEADER_LEN : 0;
        if (crypto_secretstream_xchacha20poly1305_pull(st, plain, &plen, &tag, cipher, got, ad,
                                                       ad_len) != 0) {
            kith__errbuf_set(errbuf, errcap,
                             "the backup is damaged or truncated: chunk %llu (at byte %llu) "
                             "fails authentication",
                             (unsigned long long) chunk,
                             (unsigned long long) (KITH_BACKUP_HEADER_LEN + chunk * CIPHER_MAX));
            rc = KITH_ECORRUPT;
            goto out;
        }
        int final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
        /* The writer makes every chunk but the last full, and uses no other tags. */
        if ((!final && tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) ||
            (!final && got < CIPHER_MAX)) {
            kith__errbuf_set(errbuf, errcap, "the backup is damaged: chunk %llu is malformed",
                             (unsigned long long) chunk);
            rc = KITH_ECORRUPT;
            goto out;
        }
        rc = parse(&ps, plain, (size_t) plen);
        sodium_memzero(plain, (size_t) plen);
        if (rc != KITH_OK) {
            goto out;
        }
        if (final) {
            uint8_t extra;
            if ((rc = read_full(read, rctx, &extra, 1, &got)) != KITH_OK) {
                goto out;
            }
            if (got != 0) {
                kith__errbuf_set(errbuf, errcap, "the backup is damaged: data follows its end");
                rc = KITH_ECORRUPT;
                goto out;
            }
            break;
        }
    }
    if (ps.in_content || ps.hdr_len != 0) {
        kith__errbuf_set(errbuf, errcap, "the backup is damaged: its last file is incomplete");
        rc = KITH_ECORRUPT;
        goto out;
    }
    int have_key = 0, have_db = 0;
    for (size_t i = 0; i < ps.n_names; i++) {
        have_key |= strcmp(ps.names[i], KITH_KEY_FILE) == 0;
        have_db |= strcmp(ps.names[i], KITH_DB_FILE) == 0;
    }
    int sealed = have_key ? kith_keyfile_is_sealed(ps.key, ps.key_len) : KITH_ECORRUPT;
    if (!have_db || sealed < 0) {
        kith__errbuf_set(errbuf, errcap, "the backup is incomplete: it holds no %s",
                         !have_key || sealed < 0 ? "valid " KITH_KEY_FILE : KITH_DB_FILE);
        rc = KITH_ECORRUPT;
        goto out;
    }
    ps.sum.identity_sealed = sealed;
    if (summary != NULL) {
        *summary = ps.sum;
    }
    rc = KITH_OK;
out:
    for (size_t i = 0; ps.names != NULL && i < ps.n_names; i++) {
        free(ps.names[i]);
    }
    free(ps.names);
    if (ps.key != NULL) {
        sodium_free(ps.key);
    }
    if (st != NULL) {
        sodium_free(st);
    }
    if (plain != NULL) {
        sodium_free(plain);
    }
    free(cipher);
    return rc;
}

/* ---- files -------------------------------------------------------------------------- */

static int
errno_rc(int e)
{
    return e == ENOSPC || e == EDQUOT ? KITH_ENOSPACE : KITH_EIO;
}

static int
fd_write(void *ctx, const uint8_t *buf, size_t n)
{
    int fd = *(int *) ctx;
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return errno_rc(w < 0 ? errno : EIO);
        }
        buf += w;
        n -= (size_t) w;
    }
    return KITH_OK;
}

/* The backup's output: the header is held until the file exists, so that FILE.tmp is
 * created only once the key is derived (a kill during Argon2id leaves nothing). */
typedef struct {
    int fd; /* -1 until FILE.tmp is open */
    uint8_t pending[KITH_BACKUP_HEADER_LEN];
    size_t pending_len;
} out_t;

static int
out_write(void *ctx, const uint8_t *buf, size_t n)
{
    out_t *o = ctx;
    if (o->fd >= 0) {
        return fd_write(&o->fd, buf, n);
    }
    if (n > sizeof(o->pending) - o->pending_len) {
        return KITH_EINVAL;
    }
    memcpy(o->pending + o->pending_len, buf, n);
    o->pending_len += n;
    return KITH_OK;
}

static int
fd_read(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    int fd = *(int *) ctx;
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return KITH_EIO;
        }
        *got = (size_t) r;
        return KITH_OK;
    }
}

static void
step(const kith_backup_opts_t *opts, const char *what)
{
    if (opts != NULL && opts->step != NULL) {
        opts->step(opts->ctx, what);
    }
}

static void
note(const kith_backup_opts_t *opts, const char *fmt, const char *name)
{
    if (opts != NULL && opts->note != NULL) {
        char line[512];
        snprintf(line, sizeof(line), fmt, name);
        opts->note(opts->ctx, line);
    }
}

/* The directory holding path ("." for a bare name), in out. */
static int
parent_of(const char *path, kith_buf_t *out)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        return kith_buf_puts(out, ".");
    }
    if (slash == path) {
        return kith_buf_puts(out, "/");
    }
    return kith_buf_printf(out, "%.*s", (int) (slash - path), path);
}

static int
fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return KITH_EIO;
    }
    int rc = fsync(fd) == 0 ? KITH_OK : KITH_EIO;
    close(fd);
    return rc;
}

/* Reads a whole regular file of at most max bytes into out (sodium_malloc'd, wiped on
 * free by the caller: key files are secret). KITH_ETOOBIG past max, KITH_ENOTFOUND,
 * KITH_EINVAL for something other than a regular file, KITH_EIO if it grew while read. */
static int
slurp(const char *path, size_t max, uint8_t **out, size_t *len, uint32_t *mode)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return errno == ENOENT ? KITH_ENOTFOUND : errno == ELOOP ? KITH_EINVAL : KITH_EIO;
    }
    struct stat st;
    int rc = KITH_EIO;
    uint8_t *buf = NULL;
    if (fstat(fd, &st) != 0) {
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = KITH_EINVAL;
        goto out;
    }
    if (st.st_size < 0 || (uint64_t) st.st_size > max) {
        rc = KITH_ETOOBIG;
        goto out;
    }
    /* One byte more than fstat said, to see a file that grew since: a file being
     * rewritten in place is not worth backing up half-new. */
    size_t cap = (size_t) st.st_size + 1;
    if ((buf = sodium_malloc(cap)) == NULL) {
        rc = KITH_ENOMEM;
        goto out;
    }
    size_t n = 0;
    for (;;) {
        size_t got = 0;
        if ((rc = fd_read(&fd, buf + n, cap - n, &got)) != KITH_OK) {
            goto out;
        }
        if (got == 0) {
            break;
        }
        n += got;
        if (n == cap) {
            rc = KITH_EIO;
            goto out;
        }
    }
    *out = buf;
    buf = NULL;
    *len = n;
    *mode = (uint32_t) (st.st_mode & 0777);
    rc = KITH_OK;
out:
    if (buf != NULL) {
        sodium_free(buf);
    }
    close(fd);
    return rc;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The names of the files of home that go into a backup besides identity.key and
 * kith.db, sorted. Names the format refuses are left out, noted unless they are files of
 * a running kith. */
static int
list_home(const char *home, const kith_backup_opts_t *opts, char ***out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(home);
    if (d == NULL) {
        return errno == ENOENT ? KITH_ENOTFOUND : KITH_EIO;
    }
    char **names = calloc(KITH_BACKUP_ENTRIES_MAX, sizeof(char *));
    size_t n = 0;
    int rc = names ? KITH_OK : KITH_ENOMEM;
    struct dirent *e;
    while (rc == KITH_OK && (e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, KITH_KEY_FILE) == 0 ||
            strcmp(name, KITH_DB_FILE) == 0) {
            continue;
        }
        struct stat st;
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", home, name);
        if (!kith_backup_name_ok(name, strlen(name))) {
            size_t len = strlen(name);
            int runtime = strcmp(name, "kith.sock") == 0 || ends_with(name, len, "-wal") ||
                          ends_with(name, len, "-shm") || ends_with(name, len, "-journal") ||
                          ends_with(name, len, ".pid") || ends_with(name, len, ".lock") ||
                          ends_with(name, len, ".log") || ends_with(name, len, ".tmp");
            if (!runtime) {
                note(opts, "not backed up: %s (a name backups cannot hold)", name);
            }
            continue;
        }
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            note(opts, "not backed up: %s (not a regular file)", name);
            continue;
        }
        if (n + 2 >= KITH_BACKUP_ENTRIES_MAX) {
            note(opts, "not backed up: %s (too many files in the home)", name);
            continue;
        }
        if ((names[n] = strdup(name)) == NULL) {
            rc = KITH_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc != KITH_OK) {
        for (size_t i = 0; i < n; i++) {
            free(names[i]);
        }
        free(names);
        return rc;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    *out = names;
    *n_out = n;
    return KITH_OK;
}

/* Adds one small file to the backup. A file that vanished or became too big since the
 * listing is left out with a note. */
static int
add_small_file(kith_backup_writer_t *w, const char *home, const char *name,
               const kith_backup_opts_t *opts, kith_backup_stats_t *stats, char *errbuf,
               size_t errcap)
{
    char path[4200];
    uint8_t *data = NULL;
    size_t len = 0;
    uint32_t mode = 0600;
    snprintf(path, sizeof(path), "%s/%s", home, name);
    int rc = slurp(path, KITH_BACKUP_FILE_MAX, &data, &len, &mode);
    if (rc == KITH_ETOOBIG) {
        note(opts, "not backed up: %s (larger than 16 MiB)", name);
        return KITH_OK;
    }
    if (rc == KITH_ENOTFOUND || rc == KITH_EINVAL) {
        return KITH_OK; /* gone, or replaced by something else, since the listing */
    }
    if (rc == KITH_OK) {
        rc = kith_backup_writer_entry(w, name, mode, len);
    }
    if (rc == KITH_OK) {
        rc = kith_backup_writer_data(w, data, len);
    }
    if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot back up %s: %s", path, kith_strerror(rc));
    } else {
        stats->files++;
        stats->bytes += len;
    }
    if (data != NULL) {
        sodium_free(data);
    }
    return rc;
}

/* Streams the snapshot (open as fd, size bytes) into the backup as kith.db. */
static int
add_snapshot(kith_backup_writer_t *w, int fd, uint64_t size, uint32_t mode,
             const kith_backup_opts_t *opts)
{
    uint8_t *buf = malloc(KITH_BACKUP_CHUNK);
    int rc = buf ? kith_backup_writer_entry(w, KITH_DB_FILE, mode, size) : KITH_ENOMEM;
    uint64_t done = 0, next_step = DB_STEP_BYTES;
    while (rc == KITH_OK && done < size) {
        size_t want = size - done < KITH_BACKUP_CHUNK ? (size_t) (size - done) : KITH_BACKUP_CHUNK;
        size_t got = 0;
        rc = read_full(fd_read, &fd, buf, want, &got);
        if (rc == KITH_OK && got != want) {
            rc = KITH_EIO; /* the scratch copy shrank: nobody else writes it */
        }
        if (rc == KITH_OK) {
            rc = kith_backup_writer_data(w, buf, got);
            done += got;
        }
        if (done >= next_step) {
            step(opts, KITH_DB_FILE);
            next_step += DB_STEP_BYTES;
        }
    }
    free(buf);
    return rc;
}

/* Moves tmp to path; without force, never over an existing path. */
static int
publish(const char *tmp, const char *path, int force)
{
    if (force) {
        return rename(tmp, path) == 0 ? KITH_OK : KITH_EIO;
    }
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0) {
        return KITH_OK;
    }
    if (errno == EEXIST) {
        return KITH_EEXISTS;
    }
    if (errno != EINVAL && errno != ENOSYS) {
        return KITH_EIO;
    }
    /* A file system without RENAME_NOREPLACE: a hard link fails if path exists. */
    if (link(tmp, path) == 0) {
        unlink(tmp);
        return KITH_OK;
    }
    return errno == EEXIST ? KITH_EEXISTS : KITH_EIO;
}

int
kith_backup_create(const char *home, const char *path, int force, const char *passphrase,
                   const kith_backup_opts_t *opts, kith_backup_stats_t *stats, char *errbuf,
                   size_t errcap)
{
    kith_backup_stats_t local;
    kith_buf_t tmp, snap, key_path, db_path, dir;
    kith_buf_init(&tmp);
    kith_buf_init(&snap);
    kith_buf_init(&key_path);
    kith_buf_init(&db_path);
    kith_buf_init(&dir);
    kith_backup_writer_t *w = NULL;
    char **names = NULL;
    size_t n_names = 0;
    uint8_t *key = NULL;
    size_t key_len = 0;
    uint32_t key_mode = 0600;
    int fd = -1, snap_fd = -1, published = 0;
    size_t snap_dir_len = 0; /* > 0 while the scratch directory exists */
    out_t o = {-1, {0}, 0};
    struct stat st;
    mode_t old_umask = umask(077);
    if (stats == NULL) {
        stats = &local;
    }
    memset(stats, 0, sizeof(*stats));
    int rc = KITH_ENOMEM;
    const char *scratch = opts && opts->scratch_dir ? opts->scratch_dir : "/tmp";
    if (kith_buf_printf(&tmp, "%s.tmp", path) != KITH_OK ||
        kith_buf_printf(&snap, "%s/kith-snapshot-XXXXXX", scratch) != KITH_OK ||
        kith_buf_printf(&key_path, "%s/%s", home, KITH_KEY_FILE) != KITH_OK ||
        kith_buf_printf(&db_path, "%s/%s", home, KITH_DB_FILE) != KITH_OK ||
        parent_of(path, &dir) != KITH_OK) {
        goto out;
    }
    if (!force && lstat(path, &st) == 0) {
        kith__errbuf_set(errbuf, errcap, "%s exists; not overwriting it (--force does)", path);
        rc = KITH_EEXISTS;
        goto out;
    }
    rc = slurp((char *) key_path.data, KITH_BACKUP_KEY_MAX, &key, &key_len, &key_mode);
    if (rc == KITH_ENOTFOUND || lstat((char *) db_path.data, &st) != 0) {
        kith__errbuf_set(errbuf, errcap, "no kith node in %s", home);
        rc = KITH_ENOTFOUND;
        goto out;
    }
    if (rc != KITH_OK || kith_keyfile_is_sealed(key, key_len) < 0) {
        kith__errbuf_set(errbuf, errcap, "%s is damaged or unreadable; 'kith doctor' checks it",
                         (char *) key_path.data);
        rc = KITH_ECORRUPT;
        goto out;
    }
    uint32_t db_mode = (uint32_t) (st.st_mode & 0777);
    if ((rc = list_home(home, opts, &names, &n_names)) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot read %s: %s", home, kith_strerror(rc));
        goto out;
    }
    if ((rc = kith_backup_writer_new(passphrase, opts, out_write, &o, &w)) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot start the backup: %s", kith_strerror(rc));
        goto out;
    }
    fd = open((char *) tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        kith__errbuf_set(errbuf, errcap, "cannot create %s: %s", (char *) tmp.data,
                         strerror(errno));
        rc = errno_rc(errno);
        goto out;
    }
    o.fd = fd;
    if ((rc = fd_write(&fd, o.pending, o.pending_len)) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot write %s: %s", (char *) tmp.data, strerror(errno));
        goto out;
    }
    /* identity.key as it is, then the other small files, then the database: a small file
     * that must never be newer than the database (kith.state's counter) is read first. */
    if ((rc = kith_backup_writer_entry(w, KITH_KEY_FILE, key_mode, key_len)) != KITH_OK ||
        (rc = kith_backup_writer_data(w, key, key_len)) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot write %s: %s", (char *) tmp.data,
                         kith_strerror(rc));
        goto out;
    }
    stats->files++;
    stats->bytes += key_len;
    step(opts, KITH_KEY_FILE);
    for (size_t i = 0; i < n_names; i++) {
        if ((rc = add_small_file(w, home, names[i], opts, stats, errbuf, errcap)) != KITH_OK) {
            goto out;
        }
        step(opts, names[i]);
    }
    /* The scratch copy goes in a private directory of its own under scratch, never
     * beside FILE, which may be a synced folder: the copy has the store's metadata in
     * the clear. */
    if (mkdtemp((char *) snap.data) == NULL) {
        kith__errbuf_set(errbuf, errcap, "cannot create a scratch directory in %s: %s", scratch,
                         strerror(errno));
        rc = errno_rc(errno);
        goto out;
    }
    snap_dir_len = snap.len;
    if ((rc = kith_buf_puts(&snap, "/kith.db")) != KITH_OK) {
        goto out;
    }
    rc = kith_store_snapshot((char *) db_path.data, (char *) snap.data, errbuf, errcap);
    if (rc != KITH_OK) {
        goto out;
    }
    snap_fd = open((char *) snap.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    /* Gone from the directory at once: the open descriptor is all we need. */
    unlink((char *) snap.data);
    snap.data[snap_dir_len] = '\0';
    rmdir((char *) snap.data);
    snap_dir_len = 0;
    if (snap_fd < 0 || fstat(snap_fd, &st) != 0) {
        kith__errbuf_set(errbuf, errcap, "cannot read the snapshot: %s", strerror(errno));
        rc = KITH_EIO;
        goto out;
    }
    step(opts, "snapshot");
    if ((rc = add_snapshot(w, snap_fd, (uint64_t) st.st_size, db_mode, opts)) == KITH_OK) {
        /* Before the final chunk, not after it: from the final chunk to the rename,
         * path.tmp is a complete backup, and that window stays as short as an fsync. */
        step(opts, "finish");
        rc = kith_backup_writer_finish(w);
    }
    if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot write %s: %s", (char *) tmp.data,
                         kith_strerror(rc));
        goto out;
    }
    stats->files++;
    stats->bytes += (uint64_t) st.st_size;
    stats->db_size = (uint64_t) st.st_size;
    if (fsync(fd) != 0 || fstat(fd, &st) != 0) {
        rc = errno_rc(errno);
        kith__errbuf_set(errbuf, errcap, "cannot write %s: %s", (char *) tmp.data, strerror(errno));
        goto out;
    }
    stats->out_size = (uint64_t) st.st_size;
    int c = close(fd);
    fd = -1;
    if (c != 0) {
        rc = errno_rc(errno);
        kith__errbuf_set(errbuf, errcap, "cannot write %s: %s", (char *) tmp.data, strerror(errno));
        goto out;
    }
    rc = publish((char *) tmp.data, path, force);
    if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap,
                         rc == KITH_EEXISTS ? "%s appeared during the backup; not overwriting it"
                                            : "cannot rename the backup to %s",
                         path);
        goto out;
    }
    published = 1;
    rc = fsync_dir((char *) dir.data);
    if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot sync %s: %s", (char *) dir.data, strerror(errno));
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    if (snap_fd >= 0) {
        close(snap_fd);
    }
    if (!published && tmp.data != NULL) {
        unlink((char *) tmp.data);
    }
    if (snap_dir_len > 0) {
        unlink((char *) snap.data);
        snap.data[snap_dir_len] = '\0';
        rmdir((char *) snap.data);
    }
    umask(old_umask);
    kith_backup_writer_free(w);
    if (key != NULL) {
        sodium_free(key);
    }
    for (size_t i = 0; i < n_names; i++) {
        free(names[i]);
    }
    free(names);
    kith_buf_close(&tmp);
    kith_buf_close(&snap);
    kith_buf_close(&key_path);
    kith_buf_close(&db_path);
    kith_buf_close(&dir);
    return rc;
}

/* ---- restore ------------------------------------------------------------------------ */

struct kith_backup {
    int fd; /* the backup file, kept open between the check and the restore */
    kith_backup_header_t h;
    kith_backup_keys_t *keys;
    kith_backup_summary_t sum;
};

void
kith_backup_free(kith_backup_t *b)
{
    if (b == NULL) {
        return;
    }
    if (b->fd >= 0) {
        close(b->fd);
    }
    kith_backup_keys_free(b->keys);
    free(b);
}

const kith_backup_summary_t *
kith_backup_summary(const kith_backup_t *b)
{
    return &b->sum;
}

int
kith_backup_open(const char *path, const char *passphrase, const kith_backup_opts_t *opts,
                 kith_backup_t **out, char *errbuf, size_t errcap)
{
    (void) opts;
    *out = NULL;
    kith_backup_t *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return KITH_ENOMEM;
    }
    uint8_t raw[KITH_BACKUP_HEADER_LEN];
    size_t got = 0;
    int rc = KITH_EIO;
    b->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (b->fd < 0) {
        kith__errbuf_set(errbuf, errcap, "cannot open %s: %s", path, strerror(errno));
        rc = errno == ENOENT ? KITH_ENOTFOUND : KITH_EIO;
        goto out;
    }
    if ((rc = read_full(fd_read, &b->fd, raw, sizeof(raw), &got)) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    rc = kith_backup_header_parse(raw, got, &b->h);
    if (rc == KITH_EPARSE && got < sizeof(raw) &&
        memcmp(raw, KITH_BACKUP_MAGIC, got < KITH_BACKUP_MAGIC_LEN ? got : KITH_BACKUP_MAGIC_LEN) ==
            0) {
        kith__errbuf_set(errbuf, errcap, "%s is truncated: %zu bytes, less than a backup's header",
                         path, got);
    } else if (rc == KITH_EPARSE) {
        kith__errbuf_set(errbuf, errcap, "%s is not a kith backup", path);
    } else if (rc == KITH_EVERSION) {
        kith__errbuf_set(errbuf, errcap, "%s is a backup from a newer kith (format %d)", path,
                         raw[OFF_VERSION]);
    } else if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "%s is damaged: its key derivation limits are invalid",
                         path);
    }
    if (rc != KITH_OK) {
        goto out;
    }
    if ((rc = kith_backup_keys_derive(passphrase, &b->h, &b->keys)) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot derive the backup key: %s", kith_strerror(rc));
        goto out;
    }
    rc = kith_backup_decode(&b->h, b->keys, fd_read, &b->fd, NULL, &b->sum, errbuf, errcap);
    if (rc != KITH_OK) {
        goto out;
    }
    *out = b;
    b = NULL;
out:
    kith_backup_free(b);
    return rc;
}

int
kith_backup_home_check(const char *home, char *errbuf, size_t errcap)
{
    struct stat st;
    if (lstat(home, &st) != 0) {
        if (errno == ENOENT) {
            return KITH_OK;
        }
        kith__errbuf_set(errbuf, errcap, "cannot look at %s: %s", home, strerror(errno));
        return KITH_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        kith__errbuf_set(errbuf, errcap,
                         "%s exists and is not a directory; restore into an empty or new "
                         "directory",
                         home);
        return KITH_EEXISTS;
    }
    DIR *d = opendir(home);
    if (d == NULL) {
        kith__errbuf_set(errbuf, errcap, "cannot read %s: %s", home, strerror(errno));
        return KITH_EIO;
    }
    int node = 0, other = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        node |= strcmp(e->d_name, KITH_KEY_FILE) == 0 || strcmp(e->d_name, KITH_DB_FILE) == 0;
        other = 1;
    }
    closedir(d);
    if (node) {
        kith__errbuf_set(errbuf, errcap,
                         "%s already holds a kith node; not touching it. Restore into an empty "
                         "or new directory (--home DIR)",
                         home);
        return KITH_EEXISTS;
    }
    if (other) {
        kith__errbuf_set(errbuf, errcap,
                         "%s is not empty; restore into an empty or new directory (--home DIR)",
                         home);
        return KITH_EEXISTS;
    }
    return KITH_OK;
}

/* Removes the files of a staging directory (open as dfd); it holds no subdirectories. */
static int
clear_dir(int dfd)
{
    int dup_fd = dup(dfd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (d == NULL) {
        if (dup_fd >= 0) {
            close(dup_fd);
        }
        return KITH_EIO;
    }
    int rc = KITH_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            unlinkat(dfd, e->d_name, 0) != 0) {
            rc = KITH_EIO;
        }
    }
    closedir(d);
    return rc;
}

typedef struct {
    int dfd;       /* the staging directory */
    int fd;        /* the file being written, or -1 */
    uint32_t mode; /* its mode in the backup */
    int err;       /* errno of a failed write */
    char name[KITH_BACKUP_NAME_MAX + 1];
} extract_t;

static int
extract_begin(void *ctx, const char *name, uint32_t mode, uint64_t size)
{
    (void) size;
    extract_t *x = ctx;
    snprintf(x->name, sizeof(x->name), "%s", name);
    x->mode = mode;
    x->fd = openat(x->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (x->fd < 0) {
        x->err = errno;
        return errno_rc(errno);
    }
    return KITH_OK;
}

static int
extract_data(void *ctx, const uint8_t *p, size_t n)
{
    extract_t *x = ctx;
    int rc = fd_write(&x->fd, p, n);
    if (rc != KITH_OK) {
        x->err = errno;
    }
    return rc;
}

static int
extract_end(void *ctx)
{
    extract_t *x = ctx;
    /* Owner-only whatever the backup says: the home is the user's alone. */
    mode_t mode = (mode_t) ((x->mode & 0700) | 0600);
    int ok = fchmod(x->fd, mode) == 0 && fsync(x->fd) == 0;
    ok &= close(x->fd) == 0;
    x->fd = -1;
    if (!ok) {
        x->err = errno;
        return errno_rc(errno);
    }
    return KITH_OK;
}

typedef struct {
    char first[256];
} problems_t;

static void
first_problem(void *ctx, const char *problem)
{
    problems_t *p = ctx;
    if (p->first[0] == '\0') {
        snprintf(p->first, sizeof(p->first), "%s", problem);
    }
}

/* Opens the node in dir and checks its whole store. */
static int
check_node(const char *dir, const char *node_passphrase, kith_store_check_t *check, char *errbuf,
           size_t errcap)
{
    kith_node_t *n = NULL;
    char err[512] = "";
    problems_t problems = {""};
    int rc = kith_node_open(dir, node_passphrase, &n, err, sizeof(err));
    if (rc == KITH_EPASSPHRASE) {
        kith__errbuf_set(errbuf, errcap, "%s for the node in the backup",
                         node_passphrase ? "wrong passphrase" : "a passphrase is needed");
        return rc;
    }
    if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "the node in the backup does not open: %s",
                         err[0] ? err : kith_strerror(rc));
        return rc == KITH_ENOMEM ? rc : KITH_ECORRUPT;
    }
    rc = kith_store_check(n->store, first_problem, &problems, check);
    if (rc == KITH_OK && check->problems > 0) {
        kith__errbuf_set(errbuf, errcap,
                         "the store in the backup is damaged (%llu problems; the first: %s)",
                         (unsigned long long) check->problems, problems.first);
        rc = KITH_ECORRUPT;
    }
    kith_node_close(n);
    return rc;
}

int
kith_backup_restore(kith_backup_t *b, const char *home, const char *node_passphrase,
                    const kith_backup_opts_t *opts, kith_store_check_t *check, char *errbuf,
                    size_t errcap)
{
    kith_store_check_t local;
    kith_buf_t home_path, parent, staging;
    kith_buf_init(&home_path);
    kith_buf_init(&parent);
    kith_buf_init(&staging);
    extract_t x = {-1, -1, 0, 0, ""};
    int made = 0;
    mode_t old_umask = umask(077);
    if (check == NULL) {
        check = &local;
    }
    memset(check, 0, sizeof(*check));
    int rc = kith_buf_puts(&home_path, home);
    /* "dir/" and "dir" are the same home; the staging directory sits beside it. */
    while (rc == KITH_OK && home_path.len > 1 && home_path.data[home_path.len - 1] == '/') {
        home_path.data[--home_path.len] = '\0';
    }
    const char *h = (char *) home_path.data;
    if (rc != KITH_OK || (rc = parent_of(h, &parent)) != KITH_OK) {
        goto out;
    }
    const char *base = strrchr(h, '/') ? strrchr(h, '/') + 1 : h;
    if (strcmp(base, "") == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        kith__errbuf_set(errbuf, errcap, "give the new home a name, not %s", home);
        rc = KITH_EINVAL;
        goto out;
    }
    if ((rc = kith_buf_printf(&staging, "%s/.%s.restore", (char *) parent.data, base)) != KITH_OK) {
        goto out;
    }
    if ((rc = kith_backup_home_check(h, errbuf, errcap)) != KITH_OK) {
        goto out;
    }
    if ((rc = kith__node_make_dirs((char *) parent.data)) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot create %s: %s", (char *) parent.data,
                         strerror(errno));
        goto out;
    }
    /* The staging directory is locked while in use. One that exists unlocked is what a
     * killed restore left: it is cleared and used again. */
    int existed = mkdir((char *) staging.data, 0700) != 0;
    if (existed && errno != EEXIST) {
        kith__errbuf_set(errbuf, errcap, "cannot create %s: %s", (char *) staging.data,
                         strerror(errno));
        rc = errno_rc(errno);
        goto out;
    }
    x.dfd = open((char *) staging.data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (x.dfd < 0) {
        kith__errbuf_set(errbuf, errcap, "cannot open %s: %s", (char *) staging.data,
                         strerror(errno));
        rc = KITH_EIO;
        goto out;
    }
    if (flock(x.dfd, LOCK_EX | LOCK_NB) != 0) {
        kith__errbuf_set(errbuf, errcap, "another restore into %s is under way", h);
        rc = KITH_EEXISTS;
        goto out;
    }
    made = 1;
    if (existed && clear_dir(x.dfd) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot clear %s, left by an interrupted restore",
                         (char *) staging.data);
        rc = KITH_EIO;
        goto out;
    }
    kith_backup_sink_t sink = {extract_begin, extract_data, extract_end, &x};
    if (lseek(b->fd, KITH_BACKUP_HEADER_LEN, SEEK_SET) != KITH_BACKUP_HEADER_LEN) {
        rc = KITH_EIO;
        goto out;
    }
    /* Authenticated again as it is written: the file may have changed since the check. */
    rc = kith_backup_decode(&b->h, b->keys, fd_read, &b->fd, &sink, NULL, errbuf, errcap);
    if (rc != KITH_OK) {
        if (x.err != 0) {
            kith__errbuf_set(errbuf, errcap, "cannot write %s/%s: %s", (char *) staging.data,
                             x.name, strerror(x.err));
        }
        goto out;
    }
    step(opts, "files");
    if ((rc = check_node((char *) staging.data, node_passphrase, check, errbuf, errcap)) !=
        KITH_OK) {
        goto out;
    }
    if (fsync(x.dfd) != 0) {
        rc = KITH_EIO;
        kith__errbuf_set(errbuf, errcap, "cannot sync %s: %s", (char *) staging.data,
                         strerror(errno));
        goto out;
    }
    step(opts, "rename");
    /* rename() replaces an empty directory and fails on any other: the home appears
     * whole, or not at all. */
    if (rename((char *) staging.data, h) != 0) {
        rc = errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR ? KITH_EEXISTS : KITH_EIO;
        kith__errbuf_set(errbuf, errcap,
                         rc == KITH_EEXISTS ? "%s is no longer empty; nothing restored"
                                            : "cannot rename the restored home to %s",
                         h);
        goto out;
    }
    made = 0;
    if ((rc = fsync_dir((char *) parent.data)) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot sync %s: %s", (char *) parent.data,
                         strerror(errno));
    }
out:
    if (x.fd >= 0) {
        close(x.fd);
    }
    if (made) {
        clear_dir(x.dfd);
        rmdir((char *) staging.data);
    }
    if (x.dfd >= 0) {
        close(x.dfd); /* releases the lock */
    }
    umask(old_umask);
    kith_buf_close(&home_path);
    kith_buf_close(&parent);
    kith_buf_close(&staging);
    return rc;
}
