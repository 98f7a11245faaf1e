/*
 * Backups: a node's home as one file encrypted under a passphrase (proto/BACKUP.md).
 *
 * The container: a cleartext header (magic, version, Argon2id limits and salt, a key
 * check, the secretstream header), then one crypto_secretstream_xchacha20poly1305 stream
 * of fixed-size chunks, the last tagged FINAL. The stream carries the entries, one per
 * file of the home: kind, name, mode, size, content.
 *
 * Two levels of API:
 *   - the codec, on byte streams: kith_backup_writer_*() encodes; kith_backup_header_parse()
 *     with kith_backup_keys_derive() and kith_backup_decode() decode, reporting entries
 *     to a sink. The decoder takes hostile input: every length is bounded, names are
 *     checked, and nothing is reported as complete before the FINAL chunk authenticated.
 *   - files: kith_backup_create() writes a backup of a home; kith_backup_open() checks a
 *     whole backup file without writing anything, and kith_backup_restore() then makes a
 *     new home of it.
 *
 * Secrets: the derived keys live in sodium_malloc'd memory (kith_backup_keys_t) and are
 * wiped on free; plaintext chunk buffers are wiped after use.
 */
#ifndef KITH_BACKUP_H
#define KITH_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"

#define KITH_BACKUP_MAGIC      "KITHBACK"
#define KITH_BACKUP_MAGIC_LEN  8
#define KITH_BACKUP_VERSION    1
#define KITH_BACKUP_KDF_ARGON2 1
#define KITH_BACKUP_HEADER_LEN                                                                     \
    82                                       /* magic 8, version, kdf, ops 8, mem 8, salt 16,      \
                                                check 16, secretstream header 24 */
#define KITH_BACKUP_CHUNK       65536        /* plaintext bytes per secretstream message */
#define KITH_BACKUP_NAME_MAX    255          /* bytes in an entry's name */
#define KITH_BACKUP_ENTRIES_MAX 256          /* entries in one backup */
#define KITH_BACKUP_FILE_MAX    (16u << 20)  /* bytes in a file other than the database */
#define KITH_BACKUP_DB_MAX      (1ull << 40) /* bytes in the database (1 TiB) */
#define KITH_BACKUP_KEY_MAX     4096         /* bytes in identity.key */

typedef struct {
    uint8_t raw[KITH_BACKUP_HEADER_LEN]; /* as read: authenticated with the first chunk */
    uint64_t opslimit;                   /* Argon2id passes */
    uint64_t memlimit;                   /* Argon2id memory, bytes */
} kith_backup_header_t;

/* The keys derived from the passphrase: 32-byte stream key, 16-byte check value. */
typedef struct kith_backup_keys kith_backup_keys_t;

/* Reads up to cap bytes; *got = 0 at the end of the input. Returns KITH_OK or an error. */
typedef int (*kith_backup_read_cb)(void *ctx, uint8_t *buf, size_t cap, size_t *got);
/* Writes all n bytes or returns an error. */
typedef int (*kith_backup_write_cb)(void *ctx, const uint8_t *buf, size_t n);

/* Where the decoder reports entries. Any function may be NULL. begin gets a checked,
 * NUL-terminated name; data comes in pieces that add up to size; end follows the last
 * piece. A non-zero return stops decoding and is returned. Entries are reported as they
 * are decrypted: only a KITH_OK return from kith_backup_decode() says the whole stream
 * was authentic and complete. */
typedef struct {
    int (*begin)(void *ctx, const char *name, uint32_t mode, uint64_t size);
    int (*data)(void *ctx, const uint8_t *p, size_t n);
    int (*end)(void *ctx);
    void *ctx;
} kith_backup_sink_t;

/* Called between the steps of a backup or a restore (after each file, each MiB of the
 * database, before the final chunk of a backup, before the rename of a restored home)
 * with a word for the step. The CLI uses it as a test
 * hook that makes each step slow ($KITH_TEST_STEP_DELAY_MS), so that tests can kill kith
 * in the middle. May be NULL. */
typedef void (*kith_backup_step_cb)(void *ctx, const char *step);
/* Tells why a file of the home is left out of a backup (a sentence). May be NULL. */
typedef void (*kith_backup_note_cb)(void *ctx, const char *note);

typedef struct {
    uint64_t opslimit, memlimit; /* Argon2id for a new backup; 0: libsodium's "moderate" */
    kith_backup_step_cb step;
    kith_backup_note_cb note;
    void *ctx;               /* for step and note */
    const char *scratch_dir; /* where the database snapshot is made; NULL: /tmp */
} kith_backup_opts_t;

/* ---- the codec ---- */

/* 1 if name may be an entry: 1 to KITH_BACKUP_NAME_MAX printable ASCII bytes, no '/',
 * '\\' or "..", not ".", and not one of the files a home holds only while kith runs
 * (SQLite's -wal, -shm and -journal, the daemon's socket, *.pid, *.lock, *.log, *.tmp). */
int kith_backup_name_ok(const char *name, size_t len);

/* Parses and range-checks the cleartext header (len must be at least
 * KITH_BACKUP_HEADER_LEN; the rest is not looked at). KITH_EPARSE: not a kith backup;
 * KITH_EVERSION: a version or KDF this kith does not know; KITH_ERANGE: Argon2id limits
 * outside [minimum, libsodium's "sensitive"] or memory not a whole number of KiB. */
int kith_backup_header_parse(const uint8_t *data, size_t len, kith_backup_header_t *out);
/* Derives the keys (Argon2id, then two subkeys). KITH_EINVAL for an empty passphrase,
 * KITH_ENOMEM. Free with kith_backup_keys_free() (NULL is fine). */
int kith_backup_keys_derive(const char *passphrase, const kith_backup_header_t *h,
                            kith_backup_keys_t **out);
void kith_backup_keys_free(kith_backup_keys_t *k);

typedef struct {
    size_t entries;      /* files in the backup */
    uint64_t bytes;      /* their total size */
    uint64_t db_size;    /* size of kith.db */
    int identity_sealed; /* 1: identity.key needs the node's passphrase */
} kith_backup_summary_t;

/* Decodes the stream that follows the header, from read, reporting entries to sink (may be
 * NULL). Checks, in order: the key check (KITH_EPASSPHRASE: wrong passphrase), that every
 * chunk authenticates in order with the header as the first one's associated data and
 * that the FINAL chunk ends the input (KITH_ECORRUPT: damaged, truncated, reordered or
 * trailing data), that every entry is well-formed, of a known kind, with a valid unique
 * name, a mode within 0777 and a size within bounds (KITH_ECORRUPT, KITH_ETOOBIG), and
 * that identity.key (a well-formed key file) and kith.db are there (KITH_ECORRUPT).
 * summary (may be NULL) is filled on success. errbuf gets a sentence. */
int kith_backup_decode(const kith_backup_header_t *h, const kith_backup_keys_t *keys,
                       kith_backup_read_cb read, void *rctx, const kith_backup_sink_t *sink,
                       kith_backup_summary_t *summary, char *errbuf, size_t errcap);

typedef struct kith_backup_writer kith_backup_writer_t;
/* Starts a backup stream: derives the key from passphrase (opts may be NULL; only its
 * Argon2id limits are used) and writes the header through write. Then, for each file,
 * one kith_backup_writer_entry() and data adding up to its size; then
 * kith_backup_writer_finish(). Free with kith_backup_writer_free() (NULL is fine), which
 * wipes the keys. KITH_EINVAL for an empty passphrase or a bad name, mode or size. */
int kith_backup_writer_new(const char *passphrase, const kith_backup_opts_t *opts,
                           kith_backup_write_cb write, void *wctx, kith_backup_writer_t **out);
int kith_backup_writer_entry(kith_backup_writer_t *w, const char *name, uint32_t mode,
                             uint64_t size);
int kith_backup_writer_data(kith_backup_writer_t *w, const uint8_t *p, size_t n);
/* Ends the stream with the FINAL chunk. KITH_EINVAL if an entry is incomplete. */
int kith_backup_writer_finish(kith_backup_writer_t *w);
void kith_backup_writer_free(kith_backup_writer_t *w);

/* ---- files ---- */

typedef struct {
    size_t files;      /* entries written */
    uint64_t bytes;    /* their total size */
    uint64_t db_size;  /* bytes of the database snapshot */
    uint64_t out_size; /* bytes of the backup file */
} kith_backup_stats_t;

/* Writes a backup of the node in home to path: identity.key as it is, then every other
 * regular file of the home that kith_backup_name_ok() accepts (at most
 * KITH_BACKUP_FILE_MAX bytes each; others are left out and noted), then a snapshot of
 * kith.db taken with SQLite's backup API (the small files are read before the snapshot,
 * so that none is newer than the database). The file is written as path.tmp (0600),
 * synced, and renamed to path; the snapshot is a scratch database in a new 0700
 * directory under opts->scratch_dir, removed as soon as it is open (never beside path,
 * which may be a synced folder). KITH_EEXISTS if path exists and not force,
 * KITH_ENOTFOUND if home holds no node. stats may be NULL. */
int kith_backup_create(const char *home, const char *path, int force, const char *passphrase,
                       const kith_backup_opts_t *opts, kith_backup_stats_t *stats, char *errbuf,
                       size_t errcap);

/* KITH_OK if home may receive a restore: it does not exist, or is an empty directory.
 * KITH_EEXISTS otherwise, with a sentence (a node is there; not empty; not a directory). */
int kith_backup_home_check(const char *home, char *errbuf, size_t errcap);

typedef struct kith_backup kith_backup_t;
/* Opens the backup at path and checks all of it with passphrase (kith_backup_decode()),
 * writing nothing. Free with kith_backup_free() (NULL is fine). Errors as
 * kith_backup_header_parse() and kith_backup_decode(), KITH_EIO. */
int kith_backup_open(const char *path, const char *passphrase, const kith_backup_opts_t *opts,
                     kith_backup_t **out, char *errbuf, size_t errcap);
const kith_backup_summary_t *kith_backup_summary(const kith_backup_t *b);
/* Restores an opened backup as the new home `home`: decrypts it again into a fresh
 * directory beside home (.NAME.restore, locked while in use; one left by a killed
 * restore is cleared), opens the node there with node_passphrase (NULL when the identity
 * is not sealed) and checks the whole store (SQLite's integrity check, every op and
 * record), then renames the directory to home. A crash leaves no home, or a complete one.
 * KITH_EEXISTS if home is not empty (kith_backup_home_check()), KITH_EPASSPHRASE if the
 * node passphrase is needed or wrong, KITH_ECORRUPT if the store does not pass.
 * check (may be NULL) gets the store check's counts. */
int kith_backup_restore(kith_backup_t *b, const char *home, const char *node_passphrase,
                        const kith_backup_opts_t *opts, kith_store_check_t *check, char *errbuf,
                        size_t errcap);
void kith_backup_free(kith_backup_t *b);

#endif
