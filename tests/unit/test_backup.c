/*
 * Tests for backups (src/node/backup.c): round trips through the codec with reads of any
 * size, then hostile input: every truncation and every flipped bit of a small backup, a
 * wrong passphrase, reordered, dropped and extra chunks, trailing data, doctored header
 * fields, and entries with bad names, kinds, modes, oversized or missing lengths,
 * duplicates and missing files. The hostile streams come from a second encoder written
 * here from proto/BACKUP.md alone (raw_backup), so the spec is checked too. Last, whole
 * homes: kith_backup_create() and kith_backup_restore() on a real node.
 *
 * Argon2id runs at its minimum limits (1 pass, 8 KiB) throughout: microseconds a run.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/keyfile.h"
#include "kith/kith.h"
#include "node/backup.h"

#define PASS    "correct horse battery"
#define OPS_MIN 1
#define MEM_MIN 8192

static const kith_backup_opts_t fast = {OPS_MIN, MEM_MIN, NULL, NULL, NULL, NULL};
static kith_buf_t keyfile; /* a plain identity key file */

static int
group_setup(void **state)
{
    (void) state;
    kith_identity_t *id = NULL;
    if (kith_init() != KITH_OK || kith_identity_new(&id) != KITH_OK) {
        return -1;
    }
    kith_buf_init(&keyfile);
    int rc = kith_keyfile_encode(id, NULL, &keyfile);
    kith_identity_free(id);
    return rc == KITH_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void) state;
    kith_buf_close(&keyfile);
    return 0;
}

/* ---- in-memory streams ---- */

static int
buf_write(void *ctx, const uint8_t *p, size_t n)
{
    return kith_buf_append(ctx, p, n);
}

typedef struct {
    const uint8_t *p;
    size_t len, off;
    size_t piece; /* at most this many bytes a read (0: any) */
} reader_t;

static int
mem_read(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    reader_t *r = ctx;
    size_t n = r->len - r->off;
    if (n > cap) {
        n = cap;
    }
    if (r->piece && n > r->piece) {
        n = r->piece;
    }
    memcpy(buf, r->p + r->off, n);
    r->off += n;
    *got = n;
    return KITH_OK;
}

/* What a sink saw: names and contents, concatenated. */
typedef struct {
    char names[1024];
    kith_buf_t content;
    uint64_t declared, received;
    int open;
} seen_t;

static int
seen_begin(void *ctx, const char *name, uint32_t mode, uint64_t size)
{
    seen_t *s = ctx;
    assert_false(s->open);
    assert_true(mode <= 0777);
    strncat(s->names, name, sizeof(s->names) - strlen(s->names) - 2);
    strcat(s->names, ",");
    s->declared += size;
    s->open = 1;
    return KITH_OK;
}

static int
seen_data(void *ctx, const uint8_t *p, size_t n)
{
    seen_t *s = ctx;
    assert_true(s->open);
    s->received += n;
    return kith_buf_append(&s->content, p, n);
}

static int
seen_end(void *ctx)
{
    seen_t *s = ctx;
    assert_true(s->open);
    s->open = 0;
    return KITH_OK;
}

/* Decodes a whole backup held in memory; keys may be given (same header) or derived. */
static int
decode_mem(const uint8_t *p, size_t len, const char *pass, size_t piece, seen_t *seen,
           kith_backup_summary_t *sum)
{
    kith_backup_header_t h;
    kith_backup_keys_t *k = NULL;
    int rc = kith_backup_header_parse(p, len, &h);
    if (rc != KITH_OK) {
        return rc;
    }
    /* Doctored limits still in range could ask for a gigabyte: not worth it here. */
    if (h.memlimit > (1u << 20) || h.opslimit > 4) {
        return KITH_ERANGE;
    }
    if ((rc = kith_backup_keys_derive(pass, &h, &k)) != KITH_OK) {
        return rc;
    }
    reader_t r = {p + KITH_BACKUP_HEADER_LEN, len - KITH_BACKUP_HEADER_LEN, 0, piece};
    kith_backup_sink_t sink = {seen_begin, seen_data, seen_end, seen};
    char err[256] = "";
    rc = kith_backup_decode(&h, k, mem_read, &r, seen ? &sink : NULL, sum, err, sizeof(err));
    if (rc != KITH_OK) {
        assert_true(err[0] != '\0'); /* every refusal says why */
    }
    kith_backup_keys_free(k);
    return rc;
}

/* A backup written by the module: identity.key, kith.state, and a kith.db of db_len
 * pseudo-random bytes. */
static void
make_backup(kith_buf_t *out, size_t db_len)
{
    kith_backup_writer_t *w = NULL;
    uint8_t *db = malloc(db_len + 1);
    assert_non_null(db);
    randombytes_buf_deterministic(db, db_len, (const uint8_t *) "0123456789abcdef0123456789abcdef");
    ASSERT_OK(kith_backup_writer_new(PASS, &fast, buf_write, out, &w));
    ASSERT_OK(kith_backup_writer_entry(w, KITH_KEY_FILE, 0600, keyfile.len));
    ASSERT_OK(kith_backup_writer_data(w, keyfile.data, keyfile.len));
    ASSERT_OK(kith_backup_writer_entry(w, "kith.state", 0600, 5));
    ASSERT_OK(kith_backup_writer_data(w, (const uint8_t *) "state", 5));
    ASSERT_OK(kith_backup_writer_entry(w, KITH_DB_FILE, 0644, db_len));
    /* In uneven pieces, so that entries straddle chunks. */
    for (size_t off = 0; off < db_len;) {
        size_t n = db_len - off < 7777 ? db_len - off : 7777;
        ASSERT_OK(kith_backup_writer_data(w, db + off, n));
        off += n;
    }
    ASSERT_OK(kith_backup_writer_finish(w));
    kith_backup_writer_free(w);
    free(db);
}

static void
round_trip(void **state)
{
    (void) state;
    size_t sizes[] = {0, 1, KITH_BACKUP_CHUNK - 100, KITH_BACKUP_CHUNK * 3 + 17};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        kith_buf_t b;
        kith_buf_init(&b);
        make_backup(&b, sizes[i]);
        for (size_t piece = 0; piece < 3; piece++) {
            seen_t seen;
            memset(&seen, 0, sizeof(seen));
            kith_buf_init(&seen.content);
            kith_backup_summary_t sum;
            ASSERT_OK(decode_mem(b.data, b.len, PASS, piece ? piece * 1000 - 1 : 0, &seen, &sum));
            ASSERT_STREQ(seen.names, "identity.key,kith.state,kith.db,");
            ASSERT_EQ(sum.entries, 3);
            ASSERT_EQ(sum.db_size, sizes[i]);
            ASSERT_EQ(sum.identity_sealed, 0);
            ASSERT_EQ(seen.received, keyfile.len + 5 + sizes[i]);
            ASSERT_EQ(seen.declared, seen.received);
            assert_memory_equal(seen.content.data, keyfile.data, keyfile.len);
            kith_buf_close(&seen.content);
        }
        /* Any passphrase but the right one is refused before anything is decoded. */
        ASSERT_ERR(decode_mem(b.data, b.len, "correct horse batterY", 0, NULL, NULL),
                   KITH_EPASSPHRASE);
        ASSERT_ERR(decode_mem(b.data, b.len, "", 0, NULL, NULL), KITH_EINVAL);
        kith_buf_close(&b);
    }
}

static void
writer_checks(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    kith_backup_writer_t *w = NULL;
    ASSERT_ERR(kith_backup_writer_new("", &fast, buf_write, &b, &w), KITH_EINVAL);
    kith_backup_opts_t huge = {99, MEM_MIN, NULL, NULL, NULL, NULL};
    ASSERT_ERR(kith_backup_writer_new(PASS, &huge, buf_write, &b, &w), KITH_EINVAL);
    ASSERT_OK(kith_backup_writer_new(PASS, &fast, buf_write, &b, &w));
    ASSERT_ERR(kith_backup_writer_entry(w, "a/b", 0600, 1), KITH_EINVAL);
    ASSERT_ERR(kith_backup_writer_entry(w, "x", 01600, 1), KITH_EINVAL);
    ASSERT_ERR(kith_backup_writer_entry(w, KITH_KEY_FILE, 0600, KITH_BACKUP_KEY_MAX + 1),
               KITH_EINVAL);
    ASSERT_ERR(kith_backup_writer_data(w, (const uint8_t *) "x", 1), KITH_EINVAL);
    ASSERT_OK(kith_backup_writer_entry(w, "x", 0600, 2));
    ASSERT_ERR(kith_backup_writer_data(w, (const uint8_t *) "xyz", 3), KITH_EINVAL);
    ASSERT_OK(kith_backup_writer_data(w, (const uint8_t *) "x", 1));
    ASSERT_ERR(kith_backup_writer_entry(w, "y", 0600, 0), KITH_EINVAL); /* x is not done */
    ASSERT_ERR(kith_backup_writer_finish(w), KITH_EINVAL);
    kith_backup_writer_free(w);
    kith_backup_writer_free(NULL);
    kith_buf_close(&b);
}

static void
names(void **state)
{
    (void) state;
    static const char *const good[] = {"identity.key", "kith.db",    "kith.state", "a",
                                       ".hidden",      "with space", "x.y.z",      "~tilde"};
    static const char *const bad[] = {
        "",          ".",           "..",          "a/b",
        "/abs",      "a\\b",        "a..b",        "..x",
        "x..",       "tab\there",   "nl\n",        "caf\xc3\xa9",
        "kith.sock", "kith.db-wal", "kith.db-shm", "kith.db-journal",
        "kith.pid",  "x.lock",      "daemon.log",  "identity.key.tmp"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_true(kith_backup_name_ok(good[i], strlen(good[i])));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (kith_backup_name_ok(bad[i], strlen(bad[i]))) {
            print_error("accepted '%s'\n", bad[i]);
            fail();
        }
    }
    char long_name[KITH_BACKUP_NAME_MAX + 2];
    memset(long_name, 'a', sizeof(long_name));
    assert_true(kith_backup_name_ok(long_name, KITH_BACKUP_NAME_MAX));
    assert_false(kith_backup_name_ok(long_name, KITH_BACKUP_NAME_MAX + 1));
    assert_false(kith_backup_name_ok("a\0b", 3));
}

static void
every_truncation(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    make_backup(&b, 100);
    for (size_t len = 0; len < b.len; len++) {
        int rc = decode_mem(b.data, len, PASS, 0, NULL, NULL);
        ASSERT_EQ(rc, len < KITH_BACKUP_HEADER_LEN ? KITH_EPARSE : KITH_ECORRUPT);
    }
    /* And at chunk boundaries of a longer one: whole chunks missing from the end. */
    kith_buf_close(&b);
    kith_buf_init(&b);
    make_backup(&b, 3 * KITH_BACKUP_CHUNK);
    size_t cipher = KITH_BACKUP_CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES;
    for (size_t chunks = 0; KITH_BACKUP_HEADER_LEN + chunks * cipher < b.len; chunks++) {
        ASSERT_ERR(
            decode_mem(b.data, KITH_BACKUP_HEADER_LEN + chunks * cipher, PASS, 0, NULL, NULL),
            KITH_ECORRUPT);
    }
    kith_buf_close(&b);
}

static void
every_bit_flip(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    make_backup(&b, 60);
    for (size_t i = 0; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b.data[i] ^= (uint8_t) (1 << bit);
            int rc = decode_mem(b.data, b.len, PASS, 0, NULL, NULL);
            if (rc == KITH_OK) {
                print_error("flipping bit %d of byte %zu went unnoticed\n", bit, i);
                fail();
            }
            b.data[i] ^= (uint8_t) (1 << bit);
        }
    }
    ASSERT_OK(decode_mem(b.data, b.len, PASS, 0, NULL, NULL));
    kith_buf_close(&b);
}

static void
chunks_moved(void **state)
{
    (void) state;
    kith_buf_t b, m;
    kith_buf_init(&b);
    kith_buf_init(&m);
    make_backup(&b, 3 * KITH_BACKUP_CHUNK); /* 4 chunks: 3 full, then the final one */
    size_t c = KITH_BACKUP_CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES;
    const uint8_t *chunk[4];
    for (int i = 0; i < 4; i++) {
        chunk[i] = b.data + KITH_BACKUP_HEADER_LEN + (size_t) i * c;
    }
    size_t last = b.len - KITH_BACKUP_HEADER_LEN - 3 * c;
    /* Orders of the chunks that are not the original. */
    static const int orders[][5] = {{1, 0, 2, 3, -1}, {0, 2, 1, 3, -1}, {0, 1, 3, -1},
                                    {0, 2, 3, -1},    {1, 2, 3, -1},    {0, 1, 2, 3, 3},
                                    {0, 1, 2, 2, 3},  {0, 0, 1, 2, 3}};
    for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
        m.len = 0;
        ASSERT_OK(kith_buf_append(&m, b.data, KITH_BACKUP_HEADER_LEN));
        for (int k = 0; k < 5 && orders[o][k] >= 0; k++) {
            int i = orders[o][k];
            ASSERT_OK(kith_buf_append(&m, chunk[i], i == 3 ? last : c));
        }
        ASSERT_ERR(decode_mem(m.data, m.len, PASS, 0, NULL, NULL), KITH_ECORRUPT);
    }
    /* Trailing bytes after the final chunk. */
    m.len = 0;
    ASSERT_OK(kith_buf_append(&m, b.data, b.len));
    ASSERT_OK(kith_buf_append(&m, "\0", 1));
    ASSERT_ERR(decode_mem(m.data, m.len, PASS, 0, NULL, NULL), KITH_ECORRUPT);
    /* The header of another backup with the same passphrase: its key check passes, but
     * the chunks were not sealed under its key. */
    kith_buf_t other;
    kith_buf_init(&other);
    make_backup(&other, 10);
    memcpy(m.data, other.data, KITH_BACKUP_HEADER_LEN);
    ASSERT_ERR(decode_mem(m.data, b.len, PASS, 0, NULL, NULL), KITH_ECORRUPT);
    kith_buf_close(&other);
    kith_buf_close(&m);
    kith_buf_close(&b);
}

static void
put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}

static void
doctored_header(void **state)
{
    (void) state;
    kith_buf_t b;
    kith_buf_init(&b);
    make_backup(&b, 10);
    kith_backup_header_t h;
    uint8_t hdr[KITH_BACKUP_HEADER_LEN];
    ASSERT_OK(kith_backup_header_parse(b.data, b.len, &h));
    ASSERT_EQ(h.opslimit, OPS_MIN);
    ASSERT_EQ(h.memlimit, MEM_MIN);
    ASSERT_ERR(kith_backup_header_parse(b.data, KITH_BACKUP_HEADER_LEN - 1, &h), KITH_EPARSE);
    struct {
        size_t off;
        uint64_t v;
        int width, rc;
    } cases[] = {
        {0, 'X', 1, KITH_EPARSE},
        {8, 2, 1, KITH_EVERSION},
        {8, 0, 1, KITH_EVERSION},
        {9, 2, 1, KITH_EVERSION},
        {10, 0, 8, KITH_ERANGE},
        {10, crypto_pwhash_OPSLIMIT_SENSITIVE + 1, 8, KITH_ERANGE},
        {10, UINT64_MAX, 8, KITH_ERANGE},
        {18, MEM_MIN - 1024, 8, KITH_ERANGE},
        {18, MEM_MIN + 1, 8, KITH_ERANGE},
        {18, (uint64_t) crypto_pwhash_MEMLIMIT_SENSITIVE + 1024, 8, KITH_ERANGE},
        {18, UINT64_MAX, 8, KITH_ERANGE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(hdr, b.data, sizeof(hdr));
        if (cases[i].width == 1) {
            hdr[cases[i].off] = (uint8_t) cases[i].v;
        } else {
            put64(hdr + cases[i].off, cases[i].v);
        }
        ASSERT_ERR(kith_backup_header_parse(hdr, sizeof(hdr), &h), cases[i].rc);
    }
    /* Other limits within bounds are another key: refused as a wrong passphrase. */
    memcpy(hdr, b.data, sizeof(hdr));
    put64(hdr + 10, 2);
    memcpy(b.data, hdr, sizeof(hdr));
    ASSERT_ERR(decode_mem(b.data, b.len, PASS, 0, NULL, NULL), KITH_EPASSPHRASE);
    kith_buf_close(&b);
}

/* ---- a second encoder, from proto/BACKUP.md ---- */

/* Encrypts plain as a backup under PASS. chunk is the plaintext per message (the spec
 * says KITH_BACKUP_CHUNK; others make malformed streams); last_tag ends the stream. */
static void
raw_backup(kith_buf_t *out, const uint8_t *plain, size_t len, size_t chunk, unsigned char mid_tag,
           unsigned char last_tag)
{
    uint8_t hdr[KITH_BACKUP_HEADER_LEN], master[32], key[32], check[16];
    memcpy(hdr, "KITHBACK", 8);
    hdr[8] = 1;
    hdr[9] = 1;
    put64(hdr + 10, OPS_MIN);
    put64(hdr + 18, MEM_MIN);
    randombytes_buf(hdr + 26, 16);
    assert_int_equal(crypto_pwhash(master, 32, PASS, strlen(PASS), hdr + 26, OPS_MIN, MEM_MIN,
                                   crypto_pwhash_ALG_ARGON2ID13),
                     0);
    crypto_kdf_derive_from_key(key, 32, 1, "kithback", master);
    crypto_kdf_derive_from_key(check, 16, 2, "kithback", master);
    memcpy(hdr + 42, check, 16);
    crypto_secretstream_xchacha20poly1305_state st;
    crypto_secretstream_xchacha20poly1305_init_push(&st, hdr + 58, key);
    ASSERT_OK(kith_buf_append(out, hdr, sizeof(hdr)));
    size_t off = 0;
    int first = 1;
    do {
        size_t n = len - off < chunk ? len - off : chunk;
        int last = off + n == len;
        uint8_t *c = malloc(n + crypto_secretstream_xchacha20poly1305_ABYTES);
        unsigned long long clen;
        crypto_secretstream_xchacha20poly1305_push(&st, c, &clen, plain + off, n,
                                                   first ? hdr : NULL, first ? sizeof(hdr) : 0,
                                                   last ? last_tag : mid_tag);
        ASSERT_OK(kith_buf_append(out, c, (size_t) clen));
        free(c);
        off += n;
        first = 0;
    } while (off < len);
}

/* Appends one entry (kind 1) to a plaintext stream; size is what the header claims. */
static void
raw_entry(kith_buf_t *p, const char *name, uint32_t mode, uint64_t size, const void *data,
          size_t data_len)
{
    uint8_t fixed[12];
    ASSERT_OK(kith_buf_putc(p, 1));
    ASSERT_OK(kith_buf_putc(p, (char) strlen(name)));
    ASSERT_OK(kith_buf_append(p, name, strlen(name)));
    for (int i = 0; i < 4; i++) {
        fixed[i] = (uint8_t) (mode >> (8 * i));
    }
    put64(fixed + 4, size);
    ASSERT_OK(kith_buf_append(p, fixed, sizeof(fixed)));
    ASSERT_OK(kith_buf_append(p, data, data_len));
}

static void
raw_minimal(kith_buf_t *p)
{
    raw_entry(p, KITH_KEY_FILE, 0600, keyfile.len, keyfile.data, keyfile.len);
    raw_entry(p, KITH_DB_FILE, 0600, 3, "db!", 3);
}

static int
raw_decode(const kith_buf_t *plain)
{
    kith_buf_t b;
    kith_buf_init(&b);
    raw_backup(&b, plain->data ? plain->data : (const uint8_t *) "", plain->len, KITH_BACKUP_CHUNK,
               crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
               crypto_secretstream_xchacha20poly1305_TAG_FINAL);
    int rc = decode_mem(b.data, b.len, PASS, 0, NULL, NULL);
    kith_buf_close(&b);
    return rc;
}

static void
hostile_entries(void **state)
{
    (void) state;
    kith_buf_t p;
    kith_buf_init(&p);
    /* The independent encoder agrees with the decoder. */
    raw_minimal(&p);
    ASSERT_OK(raw_decode(&p));
    raw_entry(&p, "kith.state", 0600, 0, "", 0);
    ASSERT_OK(raw_decode(&p));

    static const char *const bad_names[] = {"../x",        "a/b",   "..",        ".",
                                            "kith.db-wal", "x.tmp", "kith.sock", "a\x01"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        p.len = 0;
        raw_minimal(&p);
        raw_entry(&p, bad_names[i], 0600, 1, "x", 1);
        ASSERT_ERR(raw_decode(&p), KITH_ECORRUPT);
    }
    struct {
        const char *name;
        uint64_t size;
        int rc;
    } sizes[] = {
        {KITH_KEY_FILE, KITH_BACKUP_KEY_MAX + 1, KITH_ETOOBIG},
        {"kith.state", KITH_BACKUP_FILE_MAX + 1, KITH_ETOOBIG},
        {KITH_DB_FILE, KITH_BACKUP_DB_MAX + 1, KITH_ETOOBIG},
        {"x", UINT64_MAX, KITH_ETOOBIG},
        {"x", 1000, KITH_ECORRUPT}, /* more than the stream holds */
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        p.len = 0;
        if (strcmp(sizes[i].name, KITH_KEY_FILE) != 0) {
            raw_entry(&p, KITH_KEY_FILE, 0600, keyfile.len, keyfile.data, keyfile.len);
        }
        raw_entry(&p, sizes[i].name, 0600, sizes[i].size, "abc", 3);
        ASSERT_ERR(raw_decode(&p), sizes[i].rc);
    }
    /* Mode beyond 0777, unknown kind, empty name, duplicate, missing files, a key file
     * that is not one, a cut entry header, nothing at all. */
    p.len = 0;
    raw_minimal(&p);
    raw_entry(&p, "x", 04755, 0, "", 0);
    ASSERT_ERR(raw_decode(&p), KITH_ECORRUPT);
    p.len = 0;
    raw_minimal(&p);
    ASSERT_OK(kith_buf_append(&p, "\x02\x01x\0\0\0\0\0\0\0\0\0\0\0\0", 15));
    ASSERT_ERR(raw_decode(&p), KITH_ECORRUPT);
    p.len = 0;
    raw_minimal(&p);
    ASSERT_OK(kith_buf_append(&p, "\x01\x00\0\0\0\0\0\0\0\0\0\0\0\0", 14));
    ASSERT_ERR(raw_decode(&p), KITH_ECORRUPT);
    p.len = 0;
    raw_minimal(&p);
    raw_entry(&p, KITH_DB_FILE, 0600, 0, "", 0);
    ASSERT_ERR(raw_decode(&p), KITH_ECORRUPT);
    p.len = 0;
    raw_entry(&p, KITH_KEY_FILE, 0600, keyfile.len, keyfile.data, keyfile.len);
    ASSERT_ERR(raw_decode(&p), KITH_ECORRUPT);
    p.len = 0;
    raw_entry(&p, KITH_DB_FILE, 0600, 1, "x", 1);
    ASSERT_ERR(raw_decode(&p), KITH_ECORRUPT);
    p.len = 0;
    raw_entry(&p, KITH_KEY_FILE, 0600, 5, "hello", 5);
    raw_entry(&p, KITH_DB_FILE, 0600, 1, "x", 1);
    ASSERT_ERR(raw_decode(&p), KITH_ECORRUPT);
    p.len = 0;
    raw_minimal(&p);
    ASSERT_OK(kith_buf_append(&p, "\x01\x05kith.", 7));
    ASSERT_ERR(raw_decode(&p), KITH_ECORRUPT);
    p.len = 0;
    ASSERT_ERR(raw_decode(&p), KITH_ECORRUPT);
    /* Too many entries. */
    p.len = 0;
    raw_minimal(&p);
    for (int i = 0; i < KITH_BACKUP_ENTRIES_MAX; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%d", i);
        raw_entry(&p, name, 0600, 0, "", 0);
    }
    ASSERT_ERR(raw_decode(&p), KITH_ETOOBIG);
    /* Chunking the spec does not allow: a short chunk before the last, another tag. */
    p.len = 0;
    raw_minimal(&p);
    kith_buf_t b;
    kith_buf_init(&b);
    raw_backup(&b, p.data, p.len, 10, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
               crypto_secretstream_xchacha20poly1305_TAG_FINAL);
    ASSERT_ERR(decode_mem(b.data, b.len, PASS, 0, NULL, NULL), KITH_ECORRUPT);
    b.len = 0;
    raw_backup(&b, p.data, p.len, KITH_BACKUP_CHUNK,
               crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
               crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    ASSERT_ERR(decode_mem(b.data, b.len, PASS, 0, NULL, NULL), KITH_ECORRUPT);
    b.len = 0;
    raw_backup(&b, p.data, p.len, KITH_BACKUP_CHUNK,
               crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
               crypto_secretstream_xchacha20poly1305_TAG_REKEY);
    ASSERT_ERR(decode_mem(b.data, b.len, PASS, 0, NULL, NULL), KITH_ECORRUPT);
    kith_buf_close(&b);
    kith_buf_close(&p);
}

/* ---- whole homes ---- */

typedef struct {
    char base[64];
    char home[128], file[128], restored[128];
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return -1;
    }
    snprintf(f->base, sizeof(f->base), "/tmp/kith-backup-XXXXXX");
    if (mkdtemp(f->base) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->home, sizeof(f->home), "%s/home", f->base);
    snprintf(f->file, sizeof(f->file), "%s/home.kbk", f->base);
    snprintf(f->restored, sizeof(f->restored), "%s/new/home", f->base);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->base);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static size_t
count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

/* The files of a home a backup holds: regular files with names backups may hold. */
static size_t
count_backed_up(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        n += lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
             kith_backup_name_ok(e->d_name, strlen(e->d_name));
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

static void
add_record(const char *home, const char *pass)
{
    kith_node_t *n = NULL;
    ASSERT_OK(kith_node_open(home, pass, &n, NULL, 0));
    kith_op_t op;
    kith_op_init(&op);
    kith_node_new_record_id(n, op.rec);
    memcpy(op.owner, n->id->pk, KITH_PK_LEN);
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_apply_local(n, &op, 1000, NULL));
    ASSERT_OK(kith_store_commit(n->store));
    kith_op_close(&op);
    kith_node_close(n);
}

static void
home_round_trip(void **state)
{
    fixture_t *f = *state;
    char err[512] = "", path[256];
    ASSERT_OK(kith_node_create(f->home, "alice", NULL, err, sizeof(err)));
    add_record(f->home, NULL);
    /* A small file of the home besides the identity and the store (kith keeps its own
     * there too, such as kith.state, and each is backed up the same way). */
    snprintf(path, sizeof(path), "%s/extra.dat", f->home);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0 && write(fd, "counter 7", 9) == 9);
    close(fd);
    snprintf(path, sizeof(path), "%s/stale.tmp", f->home); /* left out */
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    close(fd);
    size_t files = count_backed_up(f->home);
    assert_true(files >= 3);
    kith_backup_stats_t stats;
    ASSERT_ERR(kith_backup_create(f->base, f->file, 0, PASS, &fast, NULL, err, sizeof(err)),
               KITH_ENOTFOUND);
    ASSERT_OK(kith_backup_create(f->home, f->file, 0, PASS, &fast, &stats, err, sizeof(err)));
    ASSERT_EQ(stats.files, files);
    struct stat st;
    ASSERT_EQ(stat(f->file, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    ASSERT_EQ((uint64_t) st.st_size, stats.out_size);
    ASSERT_EQ(count_entries(f->base), 2); /* home and the backup: no scratch files */
    ASSERT_ERR(kith_backup_create(f->home, f->file, 0, PASS, &fast, NULL, err, sizeof(err)),
               KITH_EEXISTS);
    ASSERT_OK(kith_backup_create(f->home, f->file, 1, PASS, &fast, NULL, err, sizeof(err)));

    kith_backup_t *b = NULL;
    ASSERT_ERR(kith_backup_open(f->file, "wrong", NULL, &b, err, sizeof(err)), KITH_EPASSPHRASE);
    assert_null(b);
    ASSERT_OK(kith_backup_open(f->file, PASS, NULL, &b, err, sizeof(err)));
    ASSERT_EQ(kith_backup_summary(b)->entries, files);
    ASSERT_ERR(kith_backup_restore(b, f->home, NULL, NULL, NULL, err, sizeof(err)), KITH_EEXISTS);
    kith_store_check_t check;
    ASSERT_OK(kith_backup_restore(b, f->restored, NULL, NULL, &check, err, sizeof(err)));
    ASSERT_EQ(check.records, 1);
    ASSERT_EQ(check.problems, 0);
    ASSERT_ERR(kith_backup_restore(b, f->restored, NULL, NULL, NULL, err, sizeof(err)),
               KITH_EEXISTS);
    kith_backup_free(b);
    snprintf(path, sizeof(path), "%s/extra.dat", f->restored);
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_size, 9);
    ASSERT_EQ(count_backed_up(f->restored), files);
    uint8_t pk1[KITH_PK_LEN], pk2[KITH_PK_LEN];
    ASSERT_OK(kith_node_public_key(f->home, pk1, NULL, 0));
    ASSERT_OK(kith_node_public_key(f->restored, pk2, NULL, 0));
    assert_memory_equal(pk1, pk2, KITH_PK_LEN);
    add_record(f->restored, NULL); /* a working node */
    snprintf(path, sizeof(path), "%s/new", f->base);
    ASSERT_EQ(count_entries(path), 1); /* no staging directory left */
}

static void
sealed_home(void **state)
{
    fixture_t *f = *state;
    char err[512] = "", path[256];
    ASSERT_OK(kith_node_create(f->home, "carol", "node pass", err, sizeof(err)));
    add_record(f->home, "node pass");
    ASSERT_OK(kith_backup_create(f->home, f->file, 0, PASS, &fast, NULL, err, sizeof(err)));
    kith_backup_t *b = NULL;
    ASSERT_OK(kith_backup_open(f->file, PASS, NULL, &b, err, sizeof(err)));
    ASSERT_EQ(kith_backup_summary(b)->identity_sealed, 1);
    /* Without the node's passphrase, or with a wrong one: nothing is left behind. */
    ASSERT_ERR(kith_backup_restore(b, f->restored, NULL, NULL, NULL, err, sizeof(err)),
               KITH_EPASSPHRASE);
    ASSERT_ERR(kith_backup_restore(b, f->restored, "nope", NULL, NULL, err, sizeof(err)),
               KITH_EPASSPHRASE);
    snprintf(path, sizeof(path), "%s/new", f->base);
    ASSERT_EQ(count_entries(path), 0);
    /* An empty directory is a fine home. */
    ASSERT_EQ(mkdir(f->restored, 0755), 0);
    ASSERT_OK(kith_backup_restore(b, f->restored, "node pass", NULL, NULL, err, sizeof(err)));
    kith_backup_free(b);
    struct stat st;
    ASSERT_EQ(stat(f->restored, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0700);
    add_record(f->restored, "node pass");
}

static void
damaged_file(void **state)
{
    fixture_t *f = *state;
    char err[512] = "";
    ASSERT_OK(kith_node_create(f->home, "dave", NULL, err, sizeof(err)));
    ASSERT_OK(kith_backup_create(f->home, f->file, 0, PASS, &fast, NULL, err, sizeof(err)));
    struct stat st;
    ASSERT_EQ(stat(f->file, &st), 0);
    int fd = open(f->file, O_RDWR);
    uint8_t byte;
    off_t at = st.st_size / 2;
    assert_true(pread(fd, &byte, 1, at) == 1);
    byte ^= 0x20;
    assert_true(pwrite(fd, &byte, 1, at) == 1);
    close(fd);
    kith_backup_t *b = NULL;
    ASSERT_ERR(kith_backup_open(f->file, PASS, NULL, &b, err, sizeof(err)), KITH_ECORRUPT);
    assert_non_null(strstr(err, "damaged"));
    ASSERT_ERR(kith_backup_open(f->home, PASS, NULL, &b, err, sizeof(err)), KITH_EIO);
    char key[160];
    snprintf(key, sizeof(key), "%s/identity.key", f->home);
    ASSERT_ERR(kith_backup_open(key, PASS, NULL, &b, err, sizeof(err)), KITH_EPARSE);
    assert_null(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(writer_checks),
        cmocka_unit_test(names),
        cmocka_unit_test(every_truncation),
        cmocka_unit_test(every_bit_flip),
        cmocka_unit_test(chunks_moved),
        cmocka_unit_test(doctored_header),
        cmocka_unit_test(hostile_entries),
        cmocka_unit_test_setup_teardown(home_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(sealed_home, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
