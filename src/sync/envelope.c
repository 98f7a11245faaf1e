/*
 * Envelopes: sealing one record's ops for one recipient, as armored text; see
 * envelope.h and proto/ENVELOPE.md (normative).
 *
 * Sealing checks the ops, encodes the payload, derives two keys from an ephemeral and
 * a static X25519 agreement with the recipient, encrypts the sender's key and then the
 * payload with XChaCha20-Poly1305, and armors the result. Opening undoes each step and
 * stops at the first failure, with an error code that tells which stage failed.
 *
 * Limits: KITH_ENVELOPE_MAX_OPS ops and KITH_ENVELOPE_MAX_OPS_LEN bytes of ops per
 * envelope; at most KITH_ENVELOPE_MAX_TEXT bytes of text are looked at. Every length
 * read from an envelope is checked against what remains before it is used.
 *
 * The payload has one fixed shape, so this module writes and reads its msgpack
 * directly instead of through msgpack-c. That is not just shorter: msgpack-c allocates
 * room for a whole array as soon as it reads the count, before any cap can be checked,
 * and anyone who knows the recipient's public key can make a payload that decrypts.
 * The reader below accepts exactly the canonical encoding and nothing else.
 */
#include "sync/envelope.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "util/errbuf.h"

#define MAGIC     "KENV"
#define MAGIC_LEN 4
#define KEY_LEN   32
#define TAG_LEN   crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SENDER_CT (KITH_PK_LEN + TAG_LEN)                /* the sealed sender key */
#define PREFIX    (KITH_ENVELOPE_HEADER_LEN + SENDER_CT) /* bytes before the payload */
#define OFF_EPK   (MAGIC_LEN + 1)                        /* ephemeral key offset */
#define OFF_NONCE (OFF_EPK + KEY_LEN)                    /* nonce offset */

/* The largest payload: every op at its largest bin header (bin 16, 3 bytes) and the
 * array at its largest header (array 16), plus 96 bytes of fixed framing. */
#define PAYLOAD_FIXED 96
#define PAYLOAD_MAX   (KITH_ENVELOPE_MAX_OPS_LEN + 3 * (size_t) KITH_ENVELOPE_MAX_OPS + PAYLOAD_FIXED)
#define BIN_MIN       (PREFIX + TAG_LEN)
#define BIN_MAX       (PREFIX + PAYLOAD_MAX + TAG_LEN)

/* The BLAKE2b key of both derivations: domain separation from every other use of
 * BLAKE2b in kith, and it names the format version the keys belong to. */
static const uint8_t kdf_key[16] = "kith-envelope-v1";

/* Expected bytes of the payload's fixed parts. */
static const uint8_t pl_head[] = {0x84, 0xa3, 'o', 'p', 's'};
static const uint8_t pl_recipient[] = {0xa9, 'r', 'e', 'c', 'i', 'p', 'i', 'e', 'n', 't', 0xc4, 32};
static const uint8_t pl_sender[] = {0xa6, 's', 'e', 'n', 'd', 'e', 'r', 0xc4, 32};
static const uint8_t pl_v[] = {0xa1, 'v'};

/* Wipes all of a buffer that held plaintext, then frees it. */
static void
wipe_buf(kith_buf_t *b)
{
    if (b->data != NULL) {
        sodium_memzero(b->data, b->cap);
    }
    kith_buf_close(b);
}

/*
 * k_sender  = BLAKE2b-256(key = "kith-envelope-v1", 0x01 || es || E || R)
 * k_payload = BLAKE2b-256(key = "kith-envelope-v1", 0x02 || es || ss || E || S || R)
 * Every input has a fixed length, so the concatenation is unambiguous. ss and spk are
 * NULL for k_sender.
 */
static void
derive(uint8_t k[static KEY_LEN], const uint8_t es[static KEY_LEN], const uint8_t *ss,
       const uint8_t epk[static KEY_LEN], const uint8_t *spk, const uint8_t rpk[static KEY_LEN])
{
    uint8_t in[1 + 5 * KEY_LEN];
    size_t n = 0;
    in[n++] = ss == NULL ? 0x01 : 0x02;
    memcpy(in + n, es, KEY_LEN);
    n += KEY_LEN;
    if (ss != NULL) {
        memcpy(in + n, ss, KEY_LEN);
        n += KEY_LEN;
    }
    memcpy(in + n, epk, KEY_LEN);
    n += KEY_LEN;
    if (spk != NULL) {
        memcpy(in + n, spk, KEY_LEN);
        n += KEY_LEN;
    }
    memcpy(in + n, rpk, KEY_LEN);
    n += KEY_LEN;
    crypto_generichash(k, KEY_LEN, in, n, kdf_key, sizeof(kdf_key));
    sodium_memzero(in, sizeof(in));
}

/* ---- Payload ---------------------------------------------------------------------- */

static void
put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}

int
kith__envelope_encode_payload(const uint8_t sender_ed_pk[static 32],
                              const uint8_t recipient_ed_pk[static 32], const uint8_t *const *ops,
                              const size_t *op_lens, size_t n_ops, kith_buf_t *out)
{
    if (ops == NULL || op_lens == NULL || out == NULL || n_ops == 0 ||
        n_ops > KITH_ENVELOPE_MAX_OPS) {
        return KITH_EINVAL;
    }
    size_t total = 0;
    for (size_t i = 0; i < n_ops; i++) {
        if (ops[i] == NULL || op_lens[i] == 0) {
            return KITH_EINVAL;
        }
        if (op_lens[i] > KITH_OP_MAX_LEN || op_lens[i] > KITH_ENVELOPE_MAX_OPS_LEN - total) {
            return KITH_ETOOBIG;
        }
        total += op_lens[i];
    }
    size_t start = out->len;
    int rc = kith_buf_reserve(out, total + 3 * n_ops + PAYLOAD_FIXED);
    if (rc != KITH_OK) {
        return rc;
    }
    uint8_t hdr[3];
    kith_buf_append(out, pl_head, sizeof(pl_head));
    /* Shortest array header: fixarray up to 15, else array 16 (n_ops <= 10,000). */
    if (n_ops <= 15) {
        hdr[0] = (uint8_t) (0x90 | n_ops);
        kith_buf_append(out, hdr, 1);
    } else {
        hdr[0] = 0xdc;
        put_be(hdr + 1, n_ops, 2);
        kith_buf_append(out, hdr, 3);
    }
    for (size_t i = 0; i < n_ops; i++) {
        /* Shortest bin header: bin 8 up to 255 bytes, else bin 16 (ops are < 65,536). */
        if (op_lens[i] <= 0xff) {
            hdr[0] = 0xc4;
            hdr[1] = (uint8_t) op_lens[i];
            kith_buf_append(out, hdr, 2);
        } else {
            hdr[0] = 0xc5;
            put_be(hdr + 1, op_lens[i], 2);
            kith_buf_append(out, hdr, 3);
        }
        kith_buf_append(out, ops[i], op_lens[i]);
    }
    kith_buf_append(out, pl_recipient, sizeof(pl_recipient));
    kith_buf_append(out, recipient_ed_pk, KITH_PK_LEN);
    kith_buf_append(out, pl_sender, sizeof(pl_sender));
    kith_buf_append(out, sender_ed_pk, KITH_PK_LEN);
    kith_buf_append(out, pl_v, sizeof(pl_v));
    /* The space was reserved above, so none of these appends can fail; check anyway. */
    rc = kith_buf_putc(out, KITH_ENVELOPE_VERSION);
    if (rc != KITH_OK || out->len - start > total + 3 * n_ops + PAYLOAD_FIXED) {
        out->len = start;
        return rc != KITH_OK ? rc : KITH_ETOOBIG;
    }
    return KITH_OK;
}

/* A cursor over the payload; every read checks what remains first. */
typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
} reader_t;

static int
rd_expect(reader_t *r, const uint8_t *want, size_t n)
{
    if (n > r->len - r->pos || memcmp(r->p + r->pos, want, n) != 0) {
        return 0;
    }
    r->pos += n;
    return 1;
}

static int
rd_be(reader_t *r, int n, uint64_t *v)
{
    if ((size_t) n > r->len - r->pos) {
        return 0;
    }
    *v = 0;
    for (int i = 0; i < n; i++) {
        *v = (*v << 8) | r->p[r->pos++];
    }
    return 1;
}

/* The ops array count, in its shortest form only. Returns 0 if malformed. */
static int
rd_array(reader_t *r, uint64_t *n)
{
    uint64_t t;
    if (!rd_be(r, 1, &t)) {
        return 0;
    }
    if (t >= 0x90 && t <= 0x9f) {
        *n = t & 0x0f;
        return 1;
    }
    if (t == 0xdc) {
        return rd_be(r, 2, n) && *n > 15;
    }
    if (t == 0xdd) {
        return rd_be(r, 4, n) && *n > 0xffff;
    }
    return 0;
}

/* One bin length, in its shortest form only; the bytes must be there. */
static int
rd_bin(reader_t *r, uint64_t *n)
{
    uint64_t t;
    int ok = 0;
    if (!rd_be(r, 1, &t)) {
        return 0;
    }
    if (t == 0xc4) {
        ok = rd_be(r, 1, n);
    } else if (t == 0xc5) {
        ok = rd_be(r, 2, n) && *n > 0xff;
    } else if (t == 0xc6) {
        ok = rd_be(r, 4, n) && *n > 0xffff;
    }
    return ok && *n <= r->len - r->pos;
}

void
kith_envelope_close(kith_envelope_t *env)
{
    if (env == NULL) {
        return;
    }
    if (env->mem != NULL) {
        sodium_memzero(env->mem, env->mem_len);
    }
    free(env->mem);
    free(env->ops);
    free(env->op_lens);
    memset(env, 0, sizeof(*env));
}

/* Verifies every op: signature, not private, one record, whose id goes to rec. */
static int
check_ops(const uint8_t *const *ops, const size_t *op_lens, size_t n_ops,
          uint8_t rec[static KITH_REC_ID_LEN], char *errbuf, size_t errcap)
{
    for (size_t i = 0; i < n_ops; i++) {
        kith_op_t op;
        int rc = kith_op_verify(ops[i], op_lens[i], &op, NULL);
        if (rc == KITH_ENOMEM) {
            return rc;
        }
        if (rc != KITH_OK) {
            kith__errbuf_set(errbuf, errcap, "op %zu of %zu fails verification: %s", i + 1, n_ops,
                             kith_strerror(rc));
            return KITH_EPROTO;
        }
        int private = op.private;
        int other = i > 0 && memcmp(op.rec, rec, KITH_REC_ID_LEN) != 0;
        if (i == 0) {
            memcpy(rec, op.rec, KITH_REC_ID_LEN);
        }
        kith_op_close(&op);
        if (private) {
            kith__errbuf_set(errbuf, errcap, "op %zu of %zu is private", i + 1, n_ops);
            return KITH_EPROTO;
        }
        if (other) {
            kith__errbuf_set(errbuf, errcap, "op %zu of %zu belongs to another record", i + 1,
                             n_ops);
            return KITH_EPROTO;
        }
    }
    return KITH_OK;
}

int
kith__envelope_decode_payload(const uint8_t *pt, size_t pt_len,
                              const uint8_t sender_ed_pk[static 32],
                              const uint8_t recipient_ed_pk[static 32], kith_envelope_t *out,
                              char *errbuf, size_t errcap)
{
    if (out == NULL || (pt == NULL && pt_len > 0)) {
        return KITH_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    reader_t r = {pt, pt_len, 0};
    kith_envelope_t env = {0};
    int rc = KITH_EPROTO;
    uint64_t n, len, v;
    size_t total = 0;

    if (pt_len > PAYLOAD_MAX) {
        kith__errbuf_set(errbuf, errcap, "payload larger than the limit");
        goto out;
    }
    if (!rd_expect(&r, pl_head, sizeof(pl_head)) || !rd_array(&r, &n)) {
        kith__errbuf_set(errbuf, errcap, "malformed payload (expected the ops list)");
        goto out;
    }
    if (n == 0 || n > KITH_ENVELOPE_MAX_OPS) {
        kith__errbuf_set(errbuf, errcap, "payload holds %llu ops (1 to %d allowed)",
                         (unsigned long long) n, KITH_ENVELOPE_MAX_OPS);
        goto out;
    }
    /* n is at most 10,000 here, so a lying count costs at most a few hundred KiB. */
    rc = KITH_ENOMEM;
    env.ops = calloc((size_t) n, sizeof(*env.ops));
    env.op_lens = calloc((size_t) n, sizeof(*env.op_lens));
    env.mem = malloc(pt_len);
    if (env.ops == NULL || env.op_lens == NULL || env.mem == NULL) {
        goto out;
    }
    env.mem_len = pt_len;
    rc = KITH_EPROTO;
    for (size_t i = 0; i < n; i++) {
        if (!rd_bin(&r, &len)) {
            kith__errbuf_set(errbuf, errcap, "malformed payload (op %zu)", i + 1);
            goto out;
        }
        if (len <= KITH_SIG_LEN || len > KITH_OP_MAX_LEN ||
            len > KITH_ENVELOPE_MAX_OPS_LEN - total) {
            kith__errbuf_set(errbuf, errcap, "op %zu has a bad length (%llu bytes)", i + 1,
                             (unsigned long long) len);
            goto out;
        }
        memcpy(env.mem + total, r.p + r.pos, (size_t) len);
        env.ops[i] = env.mem + total;
        env.op_lens[i] = (size_t) len;
        env.n_ops++;
        r.pos += (size_t) len;
        total += (size_t) len;
    }
    if (!rd_expect(&r, pl_recipient, sizeof(pl_recipient)) || r.len - r.pos < KITH_PK_LEN) {
        kith__errbuf_set(errbuf, errcap, "malformed payload (expected the recipient)");
        goto out;
    }
    if (memcmp(r.p + r.pos, recipient_ed_pk, KITH_PK_LEN) != 0) {
        kith__errbuf_set(errbuf, errcap, "envelope is addressed to another node");
        goto out;
    }
    r.pos += KITH_PK_LEN;
    if (!rd_expect(&r, pl_sender, sizeof(pl_sender)) || r.len - r.pos < KITH_PK_LEN) {
        kith__errbuf_set(errbuf, errcap, "malformed payload (expected the sender)");
        goto out;
    }
    if (memcmp(r.p + r.pos, sender_ed_pk, KITH_PK_LEN) != 0) {
        kith__errbuf_set(errbuf, errcap, "sender named inside differs from the key that sealed it");
        goto out;
    }
    r.pos += KITH_PK_LEN;
    if (!rd_expect(&r, pl_v, sizeof(pl_v)) || !rd_be(&r, 1, &v) || v > 0x7f) {
        kith__errbuf_set(errbuf, errcap, "malformed payload (expected the version)");
        goto out;
    }
    if (v != KITH_ENVELOPE_VERSION) {
        kith__errbuf_set(errbuf, errcap, "unsupported payload version %llu",
                         (unsigned long long) v);
        rc = KITH_EVERSION;
        goto out;
    }
    if (r.pos != r.len) {
        kith__errbuf_set(errbuf, errcap, "%zu trailing bytes after the payload", r.len - r.pos);
        goto out;
    }
    memcpy(env.sender, sender_ed_pk, KITH_PK_LEN);
    rc = check_ops(env.ops, env.op_lens, env.n_ops, env.rec, errbuf, errcap);
out:
    if (rc == KITH_OK) {
        *out = env;
    } else {
        if (rc == KITH_ENOMEM) {
            kith__errbuf_set(errbuf, errcap, "%s", kith_strerror(rc));
        }
        kith_envelope_close(&env);
    }
    return rc;
}

/* ---- Armor ------------------------------------------------------------------------ */

#define LINE_BYTES (KITH_ENVELOPE_LINE_LEN / 4 * 3) /* 57 bytes make one 76-character line */

int
kith__envelope_armor(const uint8_t *bin, size_t len, kith_buf_t *out)
{
    if (out == NULL || (bin == NULL && len > 0)) {
        return KITH_EINVAL;
    }
    size_t start = out->len;
    size_t lines = (len + LINE_BYTES - 1) / LINE_BYTES;
    if (lines > (KITH_BUF_MAX - 64) / (KITH_ENVELOPE_LINE_LEN + 1)) {
        return KITH_ETOOBIG;
    }
    int rc = kith_buf_reserve(out, sizeof(KITH_ENVELOPE_BEGIN) + sizeof(KITH_ENVELOPE_END) +
                                       lines * (KITH_ENVELOPE_LINE_LEN + 1));
    if (rc != KITH_OK) {
        return rc;
    }
    kith_buf_puts(out, KITH_ENVELOPE_BEGIN "\n");
    for (size_t off = 0; off < len; off += LINE_BYTES) {
        size_t n = len - off < LINE_BYTES ? len - off : LINE_BYTES;
        char line[KITH_ENVELOPE_LINE_LEN + 1];
        sodium_bin2base64(line, sizeof(line), bin + off, n, sodium_base64_VARIANT_ORIGINAL);
        kith_buf_puts(out, line);
        kith_buf_putc(out, '\n');
    }
    rc = kith_buf_puts(out, KITH_ENVELOPE_END "\n");
    if (rc != KITH_OK) {
        out->len = start;
    }
    return rc;
}

/* The first occurrence of needle (a C string) in h[0..hlen), or NULL. */
static const char *
find(const char *h, size_t hlen, const char *needle)
{
    size_t n = strlen(needle);
    const char *end = h + hlen;
    while ((size_t) (end - h) >= n) {
        const char *p = memchr(h, needle[0], (size_t) (end - h) - n + 1);
        if (p == NULL) {
            return NULL;
        }
        if (memcmp(p, needle, n) == 0) {
            return p;
        }
        h = p + 1;
    }
    return NULL;
}

static int
is_b64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

int
kith__envelope_dearmor(const char *text, size_t len, kith_buf_t *out, char *errbuf, size_t errcap)
{
    if (text == NULL || out == NULL) {
        return KITH_EINVAL;
    }
    if (len > KITH_ENVELOPE_MAX_TEXT) {
        kith__errbuf_set(errbuf, errcap, "input larger than %zu MiB", KITH_ENVELOPE_MAX_TEXT >> 20);
        return KITH_ETOOBIG;
    }
    const char *begin = find(text, len, KITH_ENVELOPE_BEGIN);
    if (begin == NULL) {
        kith__errbuf_set(errbuf, errcap, "no " KITH_ENVELOPE_BEGIN " line found");
        return KITH_EPARSE;
    }
    const char *body = begin + strlen(KITH_ENVELOPE_BEGIN);
    const char *end = find(body, len - (size_t) (body - text), KITH_ENVELOPE_END);
    if (end == NULL) {
        kith__errbuf_set(errbuf, errcap, "missing " KITH_ENVELOPE_END " line (text cut short?)");
        return KITH_EPARSE;
    }

    /* Keep the base64 characters; drop line ends, blanks and "> " quote prefixes. */
    size_t start = out->len;
    kith_buf_t b64;
    kith_buf_init(&b64);
    int rc = kith_buf_reserve(&b64, (size_t) (end - body));
    if (rc != KITH_OK) {
        goto out;
    }
    int line_start = 0; /* the rest of the BEGIN line is not a new line */
    size_t line = 1;
    for (const char *p = body; p < end; p++) {
        unsigned char c = (unsigned char) *p;
        if (c == '\n' || c == '\r') {
            line += c == '\n';
            line_start = 1;
        } else if (c == ' ' || c == '\t' || (c == '>' && line_start)) {
            continue;
        } else if (is_b64(c)) {
            b64.data[b64.len++] = c;
            line_start = 0;
        } else {
            kith__errbuf_set(errbuf, errcap, "bad character 0x%02x in line %zu of the armored text",
                             c, line);
            rc = KITH_EPARSE;
            goto out;
        }
    }
    rc = KITH_EPARSE;
    if (b64.len == 0) {
        kith__errbuf_set(errbuf, errcap, "the armored text is empty");
        goto out;
    }
    if (b64.len % 4 != 0) {
        kith__errbuf_set(errbuf, errcap,
                         "bad base64: %zu characters is not a multiple of 4 (text cut?)", b64.len);
        goto out;
    }
    size_t cap = b64.len / 4 * 3, bin_len = 0;
    rc = kith_buf_reserve(out, cap);
    if (rc != KITH_OK) {
        goto out;
    }
    if (sodium_base642bin(out->data + out->len, cap, (const char *) b64.data, b64.len, NULL,
                          &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        kith__errbuf_set(errbuf, errcap, "bad base64 (misplaced '=' or damaged text)");
        rc = KITH_EPARSE;
        goto out;
    }
    out->len += bin_len;
    out->data[out->len] = '\0';
    rc = KITH_OK;
out:
    if (rc != KITH_OK) {
        out->len = start;
        if (out->data != NULL) {
            out->data[start] = '\0';
        }
        if (rc == KITH_ENOMEM) {
            kith__errbuf_set(errbuf, errcap, "%s", kith_strerror(rc));
        }
    }
    kith_buf_close(&b64);
    return rc;
}

/* ---- Seal and open ---------------------------------------------------------------- */

int
kith__envelope_seal_payload(const kith_identity_t *sender, const uint8_t recipient_ed_pk[static 32],
                            const uint8_t *pt, size_t pt_len, const uint8_t *eph_sk,
                            const uint8_t *nonce, kith_buf_t *out)
{
    if (sender == NULL || out == NULL || (pt == NULL && pt_len > 0)) {
        return KITH_EINVAL;
    }
    if (pt_len > PAYLOAD_MAX) {
        return KITH_ETOOBIG;
    }
    uint8_t rpk[KEY_LEN], esk[KEY_LEN], es[KEY_LEN], ss[KEY_LEN], k1[KEY_LEN], k2[KEY_LEN];
    kith_buf_t bin;
    kith_buf_init(&bin);
    int rc = KITH_EINVAL;
    if (crypto_sign_ed25519_pk_to_curve25519(rpk, recipient_ed_pk) != 0) {
        goto out;
    }
    rc = kith_buf_reserve(&bin, PREFIX + pt_len + TAG_LEN);
    if (rc != KITH_OK) {
        goto out;
    }
    uint8_t *h = bin.data;
    memcpy(h, MAGIC, MAGIC_LEN);
    h[MAGIC_LEN] = KITH_ENVELOPE_VERSION;
    if (eph_sk != NULL) {
        memcpy(esk, eph_sk, KEY_LEN);
    } else {
        randombytes_buf(esk, sizeof(esk));
    }
    if (nonce != NULL) {
        memcpy(h + OFF_NONCE, nonce, KITH_ENVELOPE_NONCE_LEN);
    } else {
        randombytes_buf(h + OFF_NONCE, KITH_ENVELOPE_NONCE_LEN);
    }
    rc = KITH_ECRYPTO;
    if (crypto_scalarmult_base(h + OFF_EPK, esk) != 0 || crypto_scalarmult(es, esk, rpk) != 0 ||
        crypto_scalarmult(ss, sender->xsk, rpk) != 0) {
        goto out;
    }
    derive(k1, es, NULL, h + OFF_EPK, NULL, rpk);
    derive(k2, es, ss, h + OFF_EPK, sender->xpk, rpk);
    /* Each ciphertext's associated data is every byte of the envelope before it. */
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(h + KITH_ENVELOPE_HEADER_LEN, NULL, sender->pk,
                                                   KITH_PK_LEN, h, KITH_ENVELOPE_HEADER_LEN, NULL,
                                                   h + OFF_NONCE, k1) != 0 ||
        crypto_aead_xchacha20poly1305_ietf_encrypt(h + PREFIX, NULL, pt, pt_len, h, PREFIX, NULL,
                                                   h + OFF_NONCE, k2) != 0) {
        goto out;
    }
    bin.len = PREFIX + pt_len + TAG_LEN;
    rc = kith__envelope_armor(bin.data, bin.len, out);
out:
    sodium_memzero(esk, sizeof(esk));
    sodium_memzero(es, sizeof(es));
    sodium_memzero(ss, sizeof(ss));
    sodium_memzero(k1, sizeof(k1));
    sodium_memzero(k2, sizeof(k2));
    kith_buf_close(&bin);
    return rc;
}

int
kith_envelope_seal(const kith_identity_t *sender, const uint8_t recipient_ed_pk[static 32],
                   const uint8_t *const *ops, const size_t *op_lens, size_t n_ops,
                   kith_buf_t *armored_out)
{
    if (sender == NULL || ops == NULL || op_lens == NULL || armored_out == NULL || n_ops == 0 ||
        n_ops > KITH_ENVELOPE_MAX_OPS) {
        return KITH_EINVAL;
    }
    /* Sizes first, so an oversized request is refused before any work is done. */
    size_t total = 0;
    for (size_t i = 0; i < n_ops; i++) {
        if (ops[i] == NULL) {
            return KITH_EINVAL;
        }
        if (op_lens[i] > KITH_OP_MAX_LEN || op_lens[i] > KITH_ENVELOPE_MAX_OPS_LEN - total) {
            return KITH_ETOOBIG;
        }
        total += op_lens[i];
    }
    /* Then what the receiver will check, so that a caller's mistake (a private op, an op
     * of another record) fails here rather than leaking or bouncing. */
    uint8_t rec[KITH_REC_ID_LEN];
    int rc = check_ops(ops, op_lens, n_ops, rec, NULL, 0);
    if (rc != KITH_OK) {
        return rc == KITH_ENOMEM ? rc : KITH_EINVAL;
    }
    kith_buf_t pt;
    kith_buf_init(&pt);
    rc = kith__envelope_encode_payload(sender->pk, recipient_ed_pk, ops, op_lens, n_ops, &pt);
    if (rc == KITH_OK) {
        rc = kith__envelope_seal_payload(sender, recipient_ed_pk, pt.data, pt.len, NULL, NULL,
                                         armored_out);
    }
    wipe_buf(&pt);
    return rc;
}

int
kith_envelope_open(const kith_identity_t *recipient, const char *text, size_t len,
                   kith_envelope_t *out, char *errbuf, size_t errcap)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (recipient == NULL || text == NULL || out == NULL) {
        kith__errbuf_set(errbuf, errcap, "%s", kith_strerror(KITH_EINVAL));
        return KITH_EINVAL;
    }
    uint8_t es[KEY_LEN], ss[KEY_LEN], k1[KEY_LEN], k2[KEY_LEN];
    uint8_t sender[KITH_PK_LEN], spk[KEY_LEN];
    kith_buf_t bin, pt;
    kith_buf_init(&bin);
    kith_buf_init(&pt);
    int rc = kith__envelope_dearmor(text, len, &bin, errbuf, errcap);
    if (rc != KITH_OK) {
        goto out;
    }
    const uint8_t *h = bin.data;
    rc = KITH_EPARSE;
    if (bin.len < MAGIC_LEN + 1 || memcmp(h, MAGIC, MAGIC_LEN) != 0) {
        kith__errbuf_set(errbuf, errcap, "not a kith envelope (bad magic)");
        goto out;
    }
    /* The version comes before any length or crypto check: a newer format may differ in
     * both, and "unsupported version" is the useful answer then. */
    if (h[MAGIC_LEN] != KITH_ENVELOPE_VERSION) {
        kith__errbuf_set(errbuf, errcap,
                         "unsupported envelope version %u (this kith reads version %d)",
                         h[MAGIC_LEN], KITH_ENVELOPE_VERSION);
        rc = KITH_EVERSION;
        goto out;
    }
    if (bin.len < BIN_MIN) {
        kith__errbuf_set(errbuf, errcap, "envelope truncated (%zu bytes)", bin.len);
        goto out;
    }
    if (bin.len > BIN_MAX) {
        kith__errbuf_set(errbuf, errcap, "envelope larger than the limit");
        rc = KITH_ETOOBIG;
        goto out;
    }
    size_t pt_len = bin.len - PREFIX - TAG_LEN;
    rc = kith_buf_reserve(&pt, pt_len);
    if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "%s", kith_strerror(rc));
        goto out;
    }
    rc = KITH_ECRYPTO;
    if (crypto_scalarmult(es, recipient->xsk, h + OFF_EPK) != 0) {
        kith__errbuf_set(errbuf, errcap, "cannot decrypt: bad ephemeral key (damaged envelope)");
        goto out;
    }
    derive(k1, es, NULL, h + OFF_EPK, NULL, recipient->xpk);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(sender, NULL, NULL, h + KITH_ENVELOPE_HEADER_LEN,
                                                   SENDER_CT, h, KITH_ENVELOPE_HEADER_LEN,
                                                   h + OFF_NONCE, k1) != 0) {
        kith__errbuf_set(errbuf, errcap, "cannot decrypt: not sealed for this node, or damaged");
        goto out;
    }
    /* Anyone who knows our public key can get this far; the sender key is just a claim
     * until the payload decrypts under a key that needs its secret half. */
    if (crypto_sign_ed25519_pk_to_curve25519(spk, sender) != 0) {
        kith__errbuf_set(errbuf, errcap, "cannot decrypt: invalid sender key");
        goto out;
    }
    if (crypto_scalarmult(ss, recipient->xsk, spk) != 0) {
        kith__errbuf_set(errbuf, errcap, "cannot decrypt: invalid sender key");
        goto out;
    }
    derive(k2, es, ss, h + OFF_EPK, spk, recipient->xpk);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            pt.data, NULL, NULL, h + PREFIX, pt_len + TAG_LEN, h, PREFIX, h + OFF_NONCE, k2) != 0) {
        kith__errbuf_set(errbuf, errcap, "cannot decrypt: damaged, tampered with, or forged");
        goto out;
    }
    pt.len = pt_len;
    rc = kith__envelope_decode_payload(pt.data, pt.len, sender, recipient->pk, out, errbuf, errcap);
out:
    sodium_memzero(es, sizeof(es));
    sodium_memzero(ss, sizeof(ss));
    sodium_memzero(k1, sizeof(k1));
    sodium_memzero(k2, sizeof(k2));
    wipe_buf(&pt);
    kith_buf_close(&bin);
    return rc;
}
