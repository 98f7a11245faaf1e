/*
 * libFuzzer target for backup files (src/node/backup.c, proto/BACKUP.md).
 *
 * Two kinds of input:
 *   - one that starts with the magic "KITHBACK" is a whole backup file: the header is
 *     parsed, and when it claims Argon2id's minimum limits (1 pass, 8 KiB: microseconds)
 *     the stream is decrypted with the passphrase PASS and decoded. Seeds of this kind in
 *     tests/fuzz/corpus/backup/ are sealed with PASS, so mutations reach the checks of
 *     the stream (authentication, order, truncation, trailing data);
 *   - anything else is the plaintext of a stream: it is sealed here, as the spec says,
 *     and decoded, so that mutations reach the entry parser behind the encryption
 *     (kinds, names, modes, sizes, duplicates, missing files).
 * Either way the decoder must return a documented code, report entries that are well
 * formed (a valid name, begin/data/end in order, data adding up to the size announced),
 * and on success have seen identity.key and kith.db.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kith/error.h"
#include "kith/kith.h"
#include "node/backup.h"

#define PASS "correct horse"

static void
check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_backup: %s\n", what);
        abort();
    }
}

typedef struct {
    const uint8_t *p;
    size_t len, off;
} reader_t;

static int
mem_read(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    reader_t *r = ctx;
    size_t n = r->len - r->off < cap ? r->len - r->off : cap;
    /* Odd-sized reads, as a pipe or a slow disk would give. */
    if (n > 4093) {
        n = 4093;
    }
    memcpy(buf, r->p + r->off, n);
    r->off += n;
    *got = n;
    return KITH_OK;
}

typedef struct {
    int open, saw_key, saw_db;
    size_t entries;
    uint64_t left;
} sink_t;

static int
on_begin(void *ctx, const char *name, uint32_t mode, uint64_t size)
{
    sink_t *s = ctx;
    check(!s->open, "begin inside an entry");
    check(kith_backup_name_ok(name, strlen(name)), "reported a bad name");
    check(mode <= 0777, "reported a bad mode");
    s->saw_key |= strcmp(name, "identity.key") == 0;
    s->saw_db |= strcmp(name, "kith.db") == 0;
    s->open = 1;
    s->left = size;
    s->entries++;
    return KITH_OK;
}

static int
on_data(void *ctx, const uint8_t *p, size_t n)
{
    sink_t *s = ctx;
    (void) p;
    check(s->open, "data outside an entry");
    check(n > 0 && n <= s->left, "more data than announced");
    s->left -= n;
    return KITH_OK;
}

static int
on_end(void *ctx)
{
    sink_t *s = ctx;
    check(s->open && s->left == 0, "entry ended before its data");
    s->open = 0;
    return KITH_OK;
}

static void
decode(const kith_backup_header_t *h, const kith_backup_keys_t *k, const uint8_t *stream,
       size_t len)
{
    reader_t r = {stream, len, 0};
    sink_t s = {0, 0, 0, 0, 0};
    kith_backup_sink_t sink = {on_begin, on_data, on_end, &s};
    kith_backup_summary_t sum;
    char err[256] = "";
    int rc = kith_backup_decode(h, k, mem_read, &r, &sink, &sum, err, sizeof(err));
    check(rc == KITH_OK || rc == KITH_ECORRUPT || rc == KITH_ETOOBIG || rc == KITH_EPASSPHRASE ||
              rc == KITH_ENOMEM,
          "decode returned an undocumented code");
    if (rc != KITH_OK) {
        check(err[0] != '\0' || rc == KITH_ENOMEM, "a refusal without a reason");
        return;
    }
    check(!s.open, "success inside an entry");
    check(s.saw_key && s.saw_db, "success without identity.key and kith.db");
    check(sum.entries == s.entries, "summary disagrees with the entries reported");
    check(r.off == r.len, "success before the end of the input");
}

/* Seals plaintext as a backup stream under PASS with a fixed salt and header nonce. */
static void
seal_and_decode(const uint8_t *plain, size_t len)
{
    static uint8_t hdr[KITH_BACKUP_HEADER_LEN];
    static uint8_t key[32];
    static int ready;
    if (!ready) {
        uint8_t master[32], check_value[16];
        memset(hdr, 0, sizeof(hdr));
        memcpy(hdr, KITH_BACKUP_MAGIC, KITH_BACKUP_MAGIC_LEN);
        hdr[8] = KITH_BACKUP_VERSION;
        hdr[9] = KITH_BACKUP_KDF_ARGON2;
        hdr[10] = 1;    /* opslimit 1 */
        hdr[19] = 0x20; /* memlimit 8192 */
        check(crypto_pwhash(master, 32, PASS, strlen(PASS), hdr + 26, 1, 8192,
                            crypto_pwhash_ALG_ARGON2ID13) == 0,
              "pwhash");
        crypto_kdf_derive_from_key(key, 32, 1, "kithback", master);
        crypto_kdf_derive_from_key(check_value, 16, 2, "kithback", master);
        memcpy(hdr + 42, check_value, 16);
        ready = 1;
    }
    crypto_secretstream_xchacha20poly1305_state st;
    uint8_t ss_header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    crypto_secretstream_xchacha20poly1305_init_push(&st, ss_header, key);
    /* The header nonce is random; the header must carry the one used. */
    memcpy(hdr + 58, ss_header, sizeof(ss_header));
    size_t chunks = len / KITH_BACKUP_CHUNK + 1;
    size_t cap = len + chunks * crypto_secretstream_xchacha20poly1305_ABYTES;
    uint8_t *out = malloc(cap);
    check(out != NULL, "out of memory");
    size_t off = 0, out_len = 0;
    for (size_t i = 0; i < chunks; i++) {
        size_t n = len - off < KITH_BACKUP_CHUNK ? len - off : KITH_BACKUP_CHUNK;
        unsigned long long clen = 0;
        unsigned char tag = i + 1 == chunks ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                                            : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
        crypto_secretstream_xchacha20poly1305_push(&st, out + out_len, &clen, plain + off, n,
                                                   i == 0 ? hdr : NULL, i == 0 ? sizeof(hdr) : 0,
                                                   tag);
        off += n;
        out_len += (size_t) clen;
    }
    kith_backup_header_t h;
    kith_backup_keys_t *k = NULL;
    check(kith_backup_header_parse(hdr, sizeof(hdr), &h) == KITH_OK, "own header refused");
    check(kith_backup_keys_derive(PASS, &h, &k) == KITH_OK, "derive");
    decode(&h, k, out, out_len);
    kith_backup_keys_free(k);
    free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        check(kith_init() == KITH_OK, "kith_init");
        init = 1;
    }
    if (size < KITH_BACKUP_MAGIC_LEN || memcmp(data, KITH_BACKUP_MAGIC, KITH_BACKUP_MAGIC_LEN)) {
        seal_and_decode(data, size);
        return 0;
    }
    kith_backup_header_t h;
    int rc = kith_backup_header_parse(data, size, &h);
    check(rc == KITH_OK || rc == KITH_EPARSE || rc == KITH_EVERSION || rc == KITH_ERANGE,
          "header parse returned an undocumented code");
    if (rc != KITH_OK || h.opslimit != 1 || h.memlimit != 8192) {
        return 0;
    }
    kith_backup_keys_t *k = NULL;
    if (kith_backup_keys_derive(PASS, &h, &k) != KITH_OK) {
        return 0;
    }
    decode(&h, k, data + KITH_BACKUP_HEADER_LEN, size - KITH_BACKUP_HEADER_LEN);
    kith_backup_keys_free(k);
    return 0;
}
