/*
 * Tests for envelopes (src/sync/envelope.c): round trips, every single-byte change
 * refused, wrong recipients, damaged and quoted armor, versions, hostile payloads from
 * a sender who knows the recipient's key, nothing identifying in the clear, the limits,
 * and the known-answer example of proto/ENVELOPE.md, checked against an independent
 * implementation of the spec's key schedule.
 *
 * Identities and ops come from fixed seeds so that any failure reproduces.
 */
#include "check.h"

#include <sodium.h>
#include <stdlib.h>

#include "sync/envelope.h"
#include "crypto/identity.h"
#include "kith/kith.h"
#include "model/op.h"
#include "model/schema.h"
#include "util/mpcheck.h"
#include "util/nodeid.h"

#define MARKER "Zq7-marker-in-a-note"

static kith_identity_t *alice, *bob, *carol; /* sender, recipient, a third node */

static kith_identity_t *
make_identity(uint8_t first)
{
    uint8_t seed[KITH_SEED_LEN];
    for (int i = 0; i < KITH_SEED_LEN; i++) {
        seed[i] = (uint8_t) (first + i);
    }
    kith_identity_t *id = NULL;
    if (kith_identity_from_seed(seed, &id) != KITH_OK) {
        return NULL;
    }
    return id;
}

static int
setup(void **state)
{
    (void) state;
    if (kith_init() != KITH_OK) {
        return -1;
    }
    alice = make_identity(0x00);
    bob = make_identity(0x20);
    carol = make_identity(0xa0);
    return alice && bob && carol ? 0 : -1;
}

static int
teardown(void **state)
{
    (void) state;
    kith_identity_free(alice);
    kith_identity_free(bob);
    kith_identity_free(carol);
    return 0;
}

/* ---- Building signed ops ---------------------------------------------------------- */

#define MAX_SET_OPS 10001

/* A list of signed ops, stored back to back in one buffer. */
typedef struct {
    kith_buf_t data;
    size_t off[MAX_SET_OPS];
    size_t lens[MAX_SET_OPS];
    const uint8_t *ptrs[MAX_SET_OPS];
    size_t n;
} opset_t;

static opset_t *
opset_new(void)
{
    opset_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    kith_buf_init(&s->data);
    return s;
}

static void
opset_free(opset_t *s)
{
    kith_buf_close(&s->data);
    free(s);
}

/* Pointers are fixed up after every add because the buffer may move. */
static void
opset_fix(opset_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        s->ptrs[i] = s->data.data + s->off[i];
    }
}

static void
rec_id(uint8_t rec[KITH_REC_ID_LEN], uint8_t first)
{
    for (int i = 0; i < KITH_REC_ID_LEN; i++) {
        rec[i] = (uint8_t) (first + i);
    }
}

/* Signs an op by author on record rec (owned by owner) setting field = value. */
static void
opset_add(opset_t *s, const kith_identity_t *author, const uint8_t *owner, uint8_t rec_first,
          uint64_t hlc, int kind, const char *field, const char *value, int private)
{
    kith_op_t op;
    kith_op_init(&op);
    rec_id(op.rec, rec_first);
    memcpy(op.owner, owner, KITH_PK_LEN);
    memcpy(op.author, author->pk, KITH_PK_LEN);
    op.hlc = hlc;
    op.kind = kind;
    op.private = private;
    kith_value_t v = {0};
    ASSERT_OK(kith_value_set_str(&v, value, strlen(value)));
    ASSERT_OK(kith_op_set_field(&op, field, &v));
    kith_value_clear(&v);
    uint8_t hash[KITH_HASH_LEN];
    assert_true(s->n < MAX_SET_OPS);
    s->off[s->n] = s->data.len;
    ASSERT_OK(kith_op_sign(&op, author, &s->data, hash));
    s->lens[s->n] = s->data.len - s->off[s->n];
    s->n++;
    opset_fix(s);
    kith_op_close(&op);
}

#define HLC(ms) ((uint64_t) (ms) << 16)
#define T0      1714521600000ULL /* 2024-05-01T00:00:00Z, in ms */

/* One creation op by alice, with a name and a note holding MARKER. */
static opset_t *
one_op(void)
{
    opset_t *s = opset_new();
    kith_op_t op;
    kith_op_init(&op);
    rec_id(op.rec, 0x80);
    memcpy(op.owner, alice->pk, KITH_PK_LEN);
    memcpy(op.author, alice->pk, KITH_PK_LEN);
    op.hlc = HLC(T0);
    op.kind = KITH_KIND_PERSON;
    kith_value_t v = {0};
    ASSERT_OK(kith_value_set_str(&v, "Ada Lovelace", 12));
    ASSERT_OK(kith_op_set_field(&op, "name", &v));
    ASSERT_OK(kith_value_set_str(&v, MARKER, strlen(MARKER)));
    ASSERT_OK(kith_op_set_field(&op, "note", &v));
    kith_value_clear(&v);
    ASSERT_OK(kith_op_add_aud(&op, bob->pk, KITH_ROLE_EDITOR));
    uint8_t hash[KITH_HASH_LEN];
    s->off[0] = 0;
    ASSERT_OK(kith_op_sign(&op, alice, &s->data, hash));
    s->lens[0] = s->data.len;
    s->n = 1;
    opset_fix(s);
    kith_op_close(&op);
    return s;
}

/* one_op() plus 49 edits: alice's, then some by bob (an editor), one over 255 bytes. */
static opset_t *
fifty_ops(void)
{
    opset_t *s = one_op();
    char title[400];
    for (int i = 1; i < 50; i++) {
        const kith_identity_t *who = i % 7 == 0 ? bob : alice;
        if (i == 20) {
            memset(title, 'x', 300);
            title[300] = '\0';
        } else {
            snprintf(title, sizeof(title), "Analyst, grade %d", i);
        }
        opset_add(s, who, alice->pk, 0x80, HLC(T0 + (uint64_t) i * 1000), -1, "title", title, 0);
    }
    return s;
}

/* ---- Helpers ---------------------------------------------------------------------- */

static void
seal(const opset_t *s, const kith_identity_t *to, kith_buf_t *out)
{
    kith_buf_init(out);
    ASSERT_OK(kith_envelope_seal(alice, to->pk, s->ptrs, s->lens, s->n, out));
}

static int
open_text(const kith_identity_t *me, const char *text, size_t len, char *err, size_t errcap)
{
    kith_envelope_t env;
    if (err != NULL) {
        err[0] = '\0';
    }
    int rc = kith_envelope_open(me, text, len, &env, err, errcap);
    if (rc != KITH_OK) {
        /* A failed open leaves nothing behind. */
        assert_null(env.ops);
        assert_null(env.mem);
        ASSERT_EQ(env.n_ops, 0);
        if (err != NULL) {
            assert_true(strlen(err) > 0);
        }
    }
    kith_envelope_close(&env);
    return rc;
}

/* Armors bin and opens the result as bob. */
static int
open_bin(const uint8_t *bin, size_t len)
{
    kith_buf_t t;
    kith_buf_init(&t);
    ASSERT_OK(kith__envelope_armor(bin, len, &t));
    int rc = open_text(bob, (const char *) t.data, t.len, NULL, 0);
    kith_buf_close(&t);
    return rc;
}

static void
dearmor(const kith_buf_t *text, kith_buf_t *bin)
{
    kith_buf_init(bin);
    ASSERT_OK(kith__envelope_dearmor((const char *) text->data, text->len, bin, NULL, 0));
}

/* The base64 characters of the armor, joined into one line. */
static void
b64_body(const kith_buf_t *text, kith_buf_t *out)
{
    kith_buf_init(out);
    const char *p = strstr((const char *) text->data, KITH_ENVELOPE_BEGIN);
    const char *end = strstr((const char *) text->data, KITH_ENVELOPE_END);
    assert_non_null(p);
    assert_non_null(end);
    for (p += strlen(KITH_ENVELOPE_BEGIN); p < end; p++) {
        if (*p != '\n') {
            ASSERT_OK(kith_buf_putc(out, *p));
        }
    }
}

static void
assert_same_ops(const kith_envelope_t *env, const opset_t *s)
{
    ASSERT_EQ(env->n_ops, s->n);
    for (size_t i = 0; i < s->n; i++) {
        ASSERT_EQ(env->op_lens[i], s->lens[i]);
        assert_memory_equal(env->ops[i], s->ptrs[i], s->lens[i]);
        /* Copies, not pointers into the caller's memory. */
        assert_true(env->ops[i] != s->ptrs[i]);
    }
}

static int
contains(const void *hay, size_t hay_len, const void *needle, size_t n)
{
    for (size_t i = 0; n <= hay_len && i <= hay_len - n; i++) {
        if (memcmp((const uint8_t *) hay + i, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- Round trips ------------------------------------------------------------------ */

static void
round_trip_one(void **state)
{
    (void) state;
    opset_t *s = one_op();
    kith_buf_t t;
    seal(s, bob, &t);

    /* The armor: BEGIN line, lines of at most 76 characters, END line, final LF. */
    const char *text = (const char *) t.data;
    assert_true(strncmp(text, KITH_ENVELOPE_BEGIN "\n", strlen(KITH_ENVELOPE_BEGIN) + 1) == 0);
    size_t endl = strlen(KITH_ENVELOPE_END "\n");
    assert_true(t.len > endl);
    ASSERT_STREQ(text + t.len - endl, KITH_ENVELOPE_END "\n");
    for (const char *p = text; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_true(nl - p <= KITH_ENVELOPE_LINE_LEN);
        p = nl + 1;
    }

    kith_envelope_t env;
    char err[200] = "";
    ASSERT_OK(kith_envelope_open(bob, text, t.len, &env, err, sizeof(err)));
    ASSERT_STREQ(err, ""); /* untouched on success */
    assert_memory_equal(env.sender, alice->pk, KITH_PK_LEN);
    uint8_t rec[KITH_REC_ID_LEN];
    rec_id(rec, 0x80);
    assert_memory_equal(env.rec, rec, KITH_REC_ID_LEN);
    assert_same_ops(&env, s);
    kith_op_t op;
    ASSERT_OK(kith_op_verify(env.ops[0], env.op_lens[0], &op, NULL));
    kith_op_close(&op);
    kith_envelope_close(&env);
    ASSERT_EQ(env.n_ops, 0);
    kith_envelope_close(&env); /* twice is fine */
    kith_envelope_close(NULL);

    /* Opening again works (import is idempotent; see the spec on replays). */
    ASSERT_OK(open_text(bob, text, t.len, NULL, 0));

    /* A second seal of the same ops looks completely different. */
    kith_buf_t t2, b1, b2;
    seal(s, bob, &t2);
    dearmor(&t, &b1);
    dearmor(&t2, &b2);
    ASSERT_EQ(b1.len, b2.len);
    assert_memory_not_equal(b1.data + 5, b2.data + 5, 32 + 24);
    assert_memory_not_equal(b1.data + 61, b2.data + 61, b1.len - 61);
    kith_buf_close(&b1);
    kith_buf_close(&b2);
    kith_buf_close(&t2);

    /* The seal appends. */
    kith_buf_t t3;
    kith_buf_init(&t3);
    ASSERT_OK(kith_buf_puts(&t3, "Hello Bob,\n\n"));
    ASSERT_OK(kith_envelope_seal(alice, bob->pk, s->ptrs, s->lens, s->n, &t3));
    assert_true(strncmp((const char *) t3.data, "Hello Bob,\n\n-----BEGIN", 22) == 0);
    ASSERT_OK(open_text(bob, (const char *) t3.data, t3.len, NULL, 0));
    kith_buf_close(&t3);

    /* Sending to oneself works too (another device of the same node, a backup). */
    kith_buf_t t4;
    kith_buf_init(&t4);
    ASSERT_OK(kith_envelope_seal(alice, alice->pk, s->ptrs, s->lens, s->n, &t4));
    ASSERT_OK(open_text(alice, (const char *) t4.data, t4.len, NULL, 0));
    ASSERT_ERR(open_text(bob, (const char *) t4.data, t4.len, NULL, 0), KITH_ECRYPTO);
    kith_buf_close(&t4);

    kith_buf_close(&t);
    opset_free(s);
}

static void
round_trip_fifty(void **state)
{
    (void) state;
    opset_t *s = fifty_ops();
    ASSERT_EQ(s->n, 50);
    kith_buf_t t;
    seal(s, bob, &t);
    kith_envelope_t env;
    ASSERT_OK(kith_envelope_open(bob, (const char *) t.data, t.len, &env, NULL, 0));
    assert_memory_equal(env.sender, alice->pk, KITH_PK_LEN);
    assert_same_ops(&env, s);
    for (size_t i = 0; i < env.n_ops; i++) {
        kith_op_t op;
        ASSERT_OK(kith_op_verify(env.ops[i], env.op_lens[i], &op, NULL));
        assert_memory_equal(op.rec, env.rec, KITH_REC_ID_LEN);
        kith_op_close(&op);
    }
    /* Bob can forward what he received to carol: the opened ops go straight back in. */
    kith_buf_t fwd;
    kith_buf_init(&fwd);
    ASSERT_OK(kith_envelope_seal(bob, carol->pk, env.ops, env.op_lens, env.n_ops, &fwd));
    kith_envelope_t env2;
    ASSERT_OK(kith_envelope_open(carol, (const char *) fwd.data, fwd.len, &env2, NULL, 0));
    assert_memory_equal(env2.sender, bob->pk, KITH_PK_LEN);
    assert_same_ops(&env2, s);
    kith_envelope_close(&env2);
    kith_envelope_close(&env);
    kith_buf_close(&fwd);
    kith_buf_close(&t);
    opset_free(s);
}

/* ---- Tampering -------------------------------------------------------------------- */

static void
every_byte_change_refused(void **state)
{
    (void) state;
    opset_t *s = one_op();
    kith_buf_t t, bin;
    seal(s, bob, &t);
    dearmor(&t, &bin);
    ASSERT_OK(open_bin(bin.data, bin.len));
    uint8_t *copy = malloc(bin.len);
    assert_non_null(copy);
    /* Every bit of every byte, and every byte's complement; every possible value of
     * each cleartext header byte (magic, version, ephemeral key, nonce). */
    size_t tried = 0;
    for (size_t i = 0; i < bin.len; i++) {
        /* Magic and version are read first and say so; everything after is authenticated. */
        int want = i < 4 ? KITH_EPARSE : i == 4 ? KITH_EVERSION : KITH_ECRYPTO;
        for (unsigned delta = 1; delta < 256; delta++) {
            int single_bit = (delta & (delta - 1)) == 0;
            if (i >= KITH_ENVELOPE_HEADER_LEN && !single_bit && delta != 0xff) {
                continue;
            }
            memcpy(copy, bin.data, bin.len);
            copy[i] ^= (uint8_t) delta;
            int rc = open_bin(copy, bin.len);
            if (rc != want) {
                print_error("byte %zu ^ 0x%02x: got %d, want %d\n", i, delta, rc, want);
                fail();
            }
            tried++;
        }
    }
    ASSERT_EQ(tried, KITH_ENVELOPE_HEADER_LEN * 255 + (bin.len - KITH_ENVELOPE_HEADER_LEN) * 9);
    free(copy);
    kith_buf_close(&bin);
    kith_buf_close(&t);
    opset_free(s);
}

static void
wrong_recipient_refused(void **state)
{
    (void) state;
    opset_t *s = one_op();
    kith_buf_t t;
    seal(s, bob, &t);
    char err[200];
    ASSERT_ERR(open_text(carol, (const char *) t.data, t.len, err, sizeof(err)), KITH_ECRYPTO);
    assert_non_null(strstr(err, "cannot decrypt"));
    /* The sender cannot read what it sent either: only the recipient can. */
    ASSERT_ERR(open_text(alice, (const char *) t.data, t.len, NULL, 0), KITH_ECRYPTO);
    ASSERT_OK(open_text(bob, (const char *) t.data, t.len, NULL, 0));
    kith_buf_close(&t);
    opset_free(s);
}

/* A forger who knows every public key but not alice's secret cannot make an envelope
 * that opens as alice's: built here by hand, following the spec, with carol's static
 * key in place of alice's. */
static void
forged_sender_refused(void **state)
{
    (void) state;
    opset_t *s = one_op();
    kith_buf_t pt;
    kith_buf_init(&pt);
    ASSERT_OK(kith__envelope_encode_payload(alice->pk, bob->pk, s->ptrs, s->lens, s->n, &pt));
    /* Carol seals a payload that names alice inside: the names disagree. */
    kith_buf_t t;
    kith_buf_init(&t);
    ASSERT_OK(kith__envelope_seal_payload(carol, bob->pk, pt.data, pt.len, NULL, NULL, &t));
    char err[200];
    ASSERT_ERR(open_text(bob, (const char *) t.data, t.len, err, sizeof(err)), KITH_EPROTO);
    assert_non_null(strstr(err, "sender"));
    kith_buf_close(&t);

    /* Carol puts alice's key in the sealed-sender field, but can only compute the
     * static-static secret with her own key: the payload does not decrypt. */
    uint8_t esk[32], epk[32], es[32], ss[32], k1[32], k2[32], in[161];
    uint8_t bin[61 + 48 + 1024];
    assert_true(pt.len + 16 <= sizeof(bin) - 109);
    randombytes_buf(esk, sizeof(esk));
    ASSERT_EQ(crypto_scalarmult_base(epk, esk), 0);
    ASSERT_EQ(crypto_scalarmult(es, esk, bob->xpk), 0);
    ASSERT_EQ(crypto_scalarmult(ss, carol->xsk, bob->xpk), 0); /* not alice's */
    memcpy(bin, "KENV\x01", 5);
    memcpy(bin + 5, epk, 32);
    randombytes_buf(bin + 37, 24);
    in[0] = 1;
    memcpy(in + 1, es, 32);
    memcpy(in + 33, epk, 32);
    memcpy(in + 65, bob->xpk, 32);
    crypto_generichash(k1, 32, in, 97, (const uint8_t *) "kith-envelope-v1", 16);
    in[0] = 2;
    memcpy(in + 1, es, 32);
    memcpy(in + 33, ss, 32);
    memcpy(in + 65, epk, 32);
    memcpy(in + 97, alice->xpk, 32);
    memcpy(in + 129, bob->xpk, 32);
    crypto_generichash(k2, 32, in, 161, (const uint8_t *) "kith-envelope-v1", 16);
    ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_encrypt(bin + 61, NULL, alice->pk, 32, bin, 61,
                                                         NULL, bin + 37, k1),
              0);
    ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_encrypt(bin + 109, NULL, pt.data, pt.len, bin, 109,
                                                         NULL, bin + 37, k2),
              0);
    ASSERT_ERR(open_bin(bin, 109 + pt.len + 16), KITH_ECRYPTO);
    /* The same construction with alice's real secret opens: the test is sound. */
    ASSERT_EQ(crypto_scalarmult(ss, alice->xsk, bob->xpk), 0);
    memcpy(in + 33, ss, 32);
    crypto_generichash(k2, 32, in, 161, (const uint8_t *) "kith-envelope-v1", 16);
    ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_encrypt(bin + 109, NULL, pt.data, pt.len, bin, 109,
                                                         NULL, bin + 37, k2),
              0);
    ASSERT_OK(open_bin(bin, 109 + pt.len + 16));
    kith_buf_close(&pt);
    opset_free(s);
}

/* ---- Damaged armor ---------------------------------------------------------------- */

static void
truncated_refused(void **state)
{
    (void) state;
    opset_t *s = one_op();
    kith_buf_t t, bin;
    seal(s, bob, &t);
    dearmor(&t, &bin);
    /* Every prefix of the text: the END line is incomplete, so it is a parse error.
     * Only the final LF may go. */
    for (size_t k = 0; k < t.len - 1; k++) {
        ASSERT_ERR(open_text(bob, (const char *) t.data, k, NULL, 0), KITH_EPARSE);
    }
    ASSERT_OK(open_text(bob, (const char *) t.data, t.len - 1, NULL, 0));
    /* Every prefix of the binary envelope, properly armored. */
    for (size_t k = 0; k < bin.len; k++) {
        int want = k < 5 ? KITH_EPARSE : k < 61 + 48 + 16 ? KITH_EPARSE : KITH_ECRYPTO;
        ASSERT_ERR(open_bin(bin.data, k), want);
    }
    /* A missing line in the middle (76 characters: still valid base64). */
    kith_buf_t cut;
    kith_buf_init(&cut);
    const char *l2 = strchr(strchr((const char *) t.data, '\n') + 1, '\n') + 1;
    const char *l3 = strchr(l2, '\n') + 1;
    ASSERT_OK(kith_buf_append(&cut, t.data, (size_t) (l2 - (const char *) t.data)));
    ASSERT_OK(kith_buf_puts(&cut, l3));
    ASSERT_ERR(open_text(bob, (const char *) cut.data, cut.len, NULL, 0), KITH_ECRYPTO);
    /* One character gone: no longer a multiple of 4. */
    char err[200];
    cut.len = 0;
    ASSERT_OK(kith_buf_append(&cut, t.data, 40));
    ASSERT_OK(kith_buf_puts(&cut, (const char *) t.data + 41));
    ASSERT_ERR(open_text(bob, (const char *) cut.data, cut.len, err, sizeof(err)), KITH_EPARSE);
    assert_non_null(strstr(err, "multiple of 4"));
    kith_buf_close(&cut);
    kith_buf_close(&bin);
    kith_buf_close(&t);
    opset_free(s);
}

static void
bad_armor_messages(void **state)
{
    (void) state;
    opset_t *s = one_op();
    kith_buf_t t, x;
    seal(s, bob, &t);
    kith_buf_init(&x);
    char e1[200], e2[200], e3[200], e4[200], e5[200];

    /* No armor at all. */
    ASSERT_ERR(open_text(bob, "Hi Bob, see attachment.", 23, e1, sizeof(e1)), KITH_EPARSE);
    assert_non_null(strstr(e1, "BEGIN"));
    ASSERT_ERR(open_text(bob, "", 0, NULL, 0), KITH_EPARSE);

    /* No END line. */
    const char *end = strstr((const char *) t.data, KITH_ENVELOPE_END);
    ASSERT_OK(kith_buf_append(&x, t.data, (size_t) (end - (const char *) t.data)));
    ASSERT_OK(kith_buf_puts(&x, "Bob\n"));
    ASSERT_ERR(open_text(bob, (const char *) x.data, x.len, e2, sizeof(e2)), KITH_EPARSE);
    assert_non_null(strstr(e2, "END"));

    /* A character that is not base64. */
    x.len = 0;
    ASSERT_OK(kith_buf_append(&x, t.data, t.len));
    x.data[50] = '!';
    ASSERT_ERR(open_text(bob, (const char *) x.data, x.len, e3, sizeof(e3)), KITH_EPARSE);
    assert_non_null(strstr(e3, "bad character"));

    /* Base64 characters in a wrong arrangement: padding in the middle. */
    x.data[50] = '=';
    ASSERT_ERR(open_text(bob, (const char *) x.data, x.len, e4, sizeof(e4)), KITH_EPARSE);
    assert_non_null(strstr(e4, "bad base64"));

    /* Non-zero bits under the padding are refused too (one envelope, one text). */
    kith_buf_t bin;
    dearmor(&t, &bin);
    kith_buf_t b64;
    b64_body(&t, &b64);
    size_t pad = (3 - bin.len % 3) % 3;
    if (pad > 0) {
        char *last = (char *) b64.data + b64.len - pad - 1;
        const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        int v = (int) (strchr(alpha, *last) - alpha);
        *last = alpha[v ^ 1];
        x.len = 0;
        ASSERT_OK(
            kith_buf_printf(&x, "%s\n%s\n%s\n", KITH_ENVELOPE_BEGIN, b64.data, KITH_ENVELOPE_END));
        ASSERT_ERR(open_text(bob, (const char *) x.data, x.len, NULL, 0), KITH_EPARSE);
    }

    /* Not an envelope: valid base64 of something else. */
    static const uint8_t junk[] = "PGP? No, just text that is long enough to pass the length checks"
                                  " of an envelope, 125 bytes or more, so that only the magic is"
                                  " wrong.";
    kith_buf_t jt;
    kith_buf_init(&jt);
    ASSERT_OK(kith__envelope_armor(junk, sizeof(junk), &jt));
    ASSERT_ERR(open_text(bob, (const char *) jt.data, jt.len, e5, sizeof(e5)), KITH_EPARSE);
    assert_non_null(strstr(e5, "not a kith envelope"));

    /* Each failure says something different. */
    assert_true(strcmp(e1, e2) && strcmp(e1, e3) && strcmp(e1, e4) && strcmp(e1, e5));
    assert_true(strcmp(e2, e3) && strcmp(e2, e4) && strcmp(e2, e5));
    assert_true(strcmp(e3, e4) && strcmp(e3, e5) && strcmp(e4, e5));

    /* A short errbuf is truncated, never overrun; NULL is fine. */
    char tiny[8];
    memset(tiny, 'Z', sizeof(tiny));
    kith_envelope_t env;
    ASSERT_ERR(kith_envelope_open(bob, "nothing", 7, &env, tiny, 5), KITH_EPARSE);
    ASSERT_EQ(strlen(tiny), 4);
    ASSERT_EQ(tiny[5], 'Z');
    ASSERT_ERR(kith_envelope_open(bob, "nothing", 7, &env, NULL, 0), KITH_EPARSE);
    ASSERT_ERR(kith_envelope_open(NULL, "nothing", 7, &env, NULL, 0), KITH_EINVAL);
    ASSERT_ERR(kith_envelope_open(bob, NULL, 0, &env, NULL, 0), KITH_EINVAL);
    ASSERT_ERR(kith_envelope_open(bob, "nothing", 7, NULL, NULL, 0), KITH_EINVAL);

    kith_buf_close(&jt);
    kith_buf_close(&b64);
    kith_buf_close(&bin);
    kith_buf_close(&x);
    kith_buf_close(&t);
    opset_free(s);
}

static void
unknown_version_refused(void **state)
{
    (void) state;
    opset_t *s = one_op();
    kith_buf_t t, bin;
    seal(s, bob, &t);
    dearmor(&t, &bin);
    char err[200];
    for (int v = 0; v < 256; v++) {
        if (v == KITH_ENVELOPE_VERSION) {
            continue;
        }
        bin.data[4] = (uint8_t) v;
        kith_buf_t a;
        kith_buf_init(&a);
        ASSERT_OK(kith__envelope_armor(bin.data, bin.len, &a));
        ASSERT_ERR(open_text(bob, (const char *) a.data, a.len, err, sizeof(err)), KITH_EVERSION);
        assert_non_null(strstr(err, "unsupported envelope version"));
        kith_buf_close(&a);
    }
    /* Checked before lengths: a future envelope may be shorter than ours. */
    ASSERT_ERR(open_bin((const uint8_t *) "KENV\x02", 5), KITH_EVERSION);
    ASSERT_ERR(open_bin((const uint8_t *) "KENV", 4), KITH_EPARSE);
    ASSERT_ERR(open_bin((const uint8_t *) "KENV\x01", 5), KITH_EPARSE);
    kith_buf_close(&bin);
    kith_buf_close(&t);
    opset_free(s);
}

/* ---- Armor that went through mail and chat ---------------------------------------- */

static void
quoted_email_opens(void **state)
{
    (void) state;
    opset_t *s = one_op();
    kith_buf_t t, mail;
    seal(s, bob, &t);
    kith_buf_init(&mail);
    ASSERT_OK(kith_buf_puts(&mail, "From: Bob <bob@example.org>\r\n"
                                   "Subject: Re: Ada's card\r\n"
                                   "\r\n"
                                   "Thanks! Sending it back so you can check.\r\n"
                                   "\r\n"
                                   "On Wed, 1 May 2024, Alice wrote:\r\n"
                                   "> Hi Bob,\r\n"
                                   ">\r\n"));
    /* Every armor line quoted ("> "), with trailing blanks; two lines quoted twice. */
    int line = 0;
    for (const char *p = (const char *) t.data; *p != '\0'; line++) {
        const char *nl = strchr(p, '\n');
        ASSERT_OK(kith_buf_puts(&mail, line == 2 || line == 3 ? ">> " : "> "));
        ASSERT_OK(kith_buf_append(&mail, p, (size_t) (nl - p)));
        ASSERT_OK(kith_buf_puts(&mail, line % 2 ? " \t\r\n" : "\r\n"));
        p = nl + 1;
    }
    ASSERT_OK(kith_buf_puts(&mail, ">\r\n> Alice\r\n\r\n-- \r\nBob\r\n"));
    kith_envelope_t env;
    char err[200] = "";
    int rc = kith_envelope_open(bob, (const char *) mail.data, mail.len, &env, err, sizeof(err));
    if (rc != KITH_OK) {
        print_error("%s\n", err);
    }
    ASSERT_OK(rc);
    assert_memory_equal(env.sender, alice->pk, KITH_PK_LEN);
    assert_same_ops(&env, s);
    kith_envelope_close(&env);

    /* Indented by a mail client or a chat app, with CR-only line ends. */
    kith_buf_t ind;
    kith_buf_init(&ind);
    for (const char *p = (const char *) t.data; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        ASSERT_OK(kith_buf_puts(&ind, "    "));
        ASSERT_OK(kith_buf_append(&ind, p, (size_t) (nl - p)));
        ASSERT_OK(kith_buf_puts(&ind, "\r"));
        p = nl + 1;
    }
    ASSERT_OK(open_text(bob, (const char *) ind.data, ind.len, NULL, 0));

    /* Only the first of two envelopes is read. */
    kith_buf_t two, t2;
    kith_buf_init(&two);
    opset_t *f = fifty_ops();
    seal(f, bob, &t2);
    ASSERT_OK(kith_buf_append(&two, t.data, t.len));
    ASSERT_OK(kith_buf_append(&two, t2.data, t2.len));
    ASSERT_OK(kith_envelope_open(bob, (const char *) two.data, two.len, &env, NULL, 0));
    ASSERT_EQ(env.n_ops, 1);
    kith_envelope_close(&env);

    opset_free(f);
    kith_buf_close(&t2);
    kith_buf_close(&two);
    kith_buf_close(&ind);
    kith_buf_close(&mail);
    kith_buf_close(&t);
    opset_free(s);
}

static void
rewrapped_opens(void **state)
{
    (void) state;
    opset_t *s = fifty_ops();
    kith_buf_t t, b64, w;
    seal(s, bob, &t);
    b64_body(&t, &b64);
    kith_buf_init(&w);
    /* 64 columns, as PEM does. */
    ASSERT_OK(kith_buf_puts(&w, KITH_ENVELOPE_BEGIN "\n"));
    for (size_t i = 0; i < b64.len; i += 64) {
        size_t n = b64.len - i < 64 ? b64.len - i : 64;
        ASSERT_OK(kith_buf_append(&w, b64.data + i, n));
        ASSERT_OK(kith_buf_putc(&w, '\n'));
    }
    ASSERT_OK(kith_buf_puts(&w, KITH_ENVELOPE_END "\n"));
    kith_envelope_t env;
    ASSERT_OK(kith_envelope_open(bob, (const char *) w.data, w.len, &env, NULL, 0));
    assert_same_ops(&env, s);
    kith_envelope_close(&env);

    /* All on one line, as a chat app that turned line breaks into spaces might. */
    w.len = 0;
    ASSERT_OK(
        kith_buf_printf(&w, "  %s %s %s  ", KITH_ENVELOPE_BEGIN, b64.data, KITH_ENVELOPE_END));
    ASSERT_OK(open_text(bob, (const char *) w.data, w.len, NULL, 0));

    /* Short lines, blank lines, and no final line break. */
    w.len = 0;
    ASSERT_OK(kith_buf_puts(&w, "text before" KITH_ENVELOPE_BEGIN "\n\n"));
    for (size_t i = 0; i < b64.len; i += 10) {
        size_t n = b64.len - i < 10 ? b64.len - i : 10;
        ASSERT_OK(kith_buf_append(&w, b64.data + i, n));
        ASSERT_OK(kith_buf_puts(&w, i % 30 ? "\n" : "\n\n"));
    }
    ASSERT_OK(kith_buf_puts(&w, KITH_ENVELOPE_END));
    ASSERT_OK(open_text(bob, (const char *) w.data, w.len, NULL, 0));

    kith_buf_close(&w);
    kith_buf_close(&b64);
    kith_buf_close(&t);
    opset_free(s);
}

/* ---- Nothing identifying in the clear --------------------------------------------- */

static void
assert_key_hidden(const kith_buf_t *t, const kith_buf_t *b64, const kith_buf_t *bin,
                  const uint8_t *key, size_t key_len)
{
    const char *text = (const char *) t->data;
    char hex[2 * 64 + 1];
    assert_true(key_len <= 64);
    sodium_bin2hex(hex, sizeof(hex), key, key_len);
    assert_null(strstr(text, hex));
    for (char *p = hex; *p; p++) {
        if (*p >= 'a' && *p <= 'f') {
            *p = (char) (*p - 'a' + 'A');
        }
    }
    assert_null(strstr(text, hex));
    /* Base64 at each of the three alignments the key could have in the stream: the
     * characters that depend on key bytes alone. */
    for (size_t a = 0; a < 3; a++) {
        uint8_t shifted[3 + 64] = {0};
        char enc[sodium_base64_ENCODED_LEN(3 + 64, sodium_base64_VARIANT_ORIGINAL)];
        memcpy(shifted + a, key, key_len);
        sodium_bin2base64(enc, sizeof(enc), shifted, a + key_len, sodium_base64_VARIANT_ORIGINAL);
        size_t n = strlen(enc);
        assert_true(n > 8);
        enc[n - 4] = '\0';
        assert_false(contains(b64->data, b64->len, enc + 4, strlen(enc + 4)));
    }
    assert_false(contains(bin->data, bin->len, key, key_len));
}

static void
nothing_identifying_in_clear(void **state)
{
    (void) state;
    opset_t *s = fifty_ops();
    kith_buf_t t, b64, bin;
    seal(s, bob, &t);
    b64_body(&t, &b64);
    dearmor(&t, &bin);
    const kith_identity_t *ids[] = {alice, bob};
    for (int i = 0; i < 2; i++) {
        assert_key_hidden(&t, &b64, &bin, ids[i]->pk, KITH_PK_LEN);
        assert_key_hidden(&t, &b64, &bin, ids[i]->xpk, KITH_PK_LEN);
        char nodeid[KITH_NODEID_BUFSIZE], fp[20];
        kith_nodeid_encode(ids[i]->pk, nodeid);
        assert_null(strstr((const char *) t.data, nodeid));
        char *dashless = nodeid;
        for (char *p = nodeid; *p; p++) {
            if (*p != '-') {
                *dashless++ = *p;
            }
        }
        *dashless = '\0';
        assert_null(strstr((const char *) t.data, nodeid));
        kith_fingerprint(ids[i]->pk, fp);
        assert_null(strstr((const char *) t.data, fp));
    }
    /* Field text: the marker, the name, and the record id. */
    static const char *const words[] = {MARKER, "Ada Lovelace", "Analyst, grade"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        assert_key_hidden(&t, &b64, &bin, (const uint8_t *) words[i], strlen(words[i]));
    }
    uint8_t rec[KITH_REC_ID_LEN];
    rec_id(rec, 0x80);
    assert_key_hidden(&t, &b64, &bin, rec, sizeof(rec));
    /* And no op signature, which would link the envelope to the ops. */
    assert_key_hidden(&t, &b64, &bin, s->ptrs[0], KITH_SIG_LEN);
    kith_buf_close(&bin);
    kith_buf_close(&b64);
    kith_buf_close(&t);
    opset_free(s);
}

/* ---- Sealing checks --------------------------------------------------------------- */

static void
seal_checks_its_input(void **state)
{
    (void) state;
    opset_t *s = one_op();
    kith_buf_t out;
    kith_buf_init(&out);
    ASSERT_OK(kith_buf_puts(&out, "keep"));
    const uint8_t **p = s->ptrs;
    size_t *l = s->lens;

    ASSERT_ERR(kith_envelope_seal(NULL, bob->pk, p, l, 1, &out), KITH_EINVAL);
    ASSERT_ERR(kith_envelope_seal(alice, bob->pk, NULL, l, 1, &out), KITH_EINVAL);
    ASSERT_ERR(kith_envelope_seal(alice, bob->pk, p, NULL, 1, &out), KITH_EINVAL);
    ASSERT_ERR(kith_envelope_seal(alice, bob->pk, p, l, 1, NULL), KITH_EINVAL);
    ASSERT_ERR(kith_envelope_seal(alice, bob->pk, p, l, 0, &out), KITH_EINVAL);

    /* Not a valid Ed25519 key (a small-order point), or not a point at all. */
    uint8_t zero[KITH_PK_LEN] = {0}, ff[KITH_PK_LEN];
    memset(ff, 0xff, sizeof(ff));
    ASSERT_ERR(kith_envelope_seal(alice, zero, p, l, 1, &out), KITH_EINVAL);
    ASSERT_ERR(kith_envelope_seal(alice, ff, p, l, 1, &out), KITH_EINVAL);

    /* A damaged op. */
    uint8_t bad[KITH_OP_MAX_LEN + 1];
    memcpy(bad, p[0], l[0]);
    bad[3] ^= 1;
    const uint8_t *bp[1] = {bad};
    ASSERT_ERR(kith_envelope_seal(alice, bob->pk, bp, l, 1, &out), KITH_EINVAL);
    size_t short_len = KITH_SIG_LEN;
    ASSERT_ERR(kith_envelope_seal(alice, bob->pk, p, &short_len, 1, &out), KITH_EINVAL);

    /* A private op must never leave the node inside an envelope. */
    opset_t *priv = one_op();
    opset_add(priv, alice, alice->pk, 0x80, HLC(T0 + 5), -1, "note", "only mine", 1);
    ASSERT_ERR(kith_envelope_seal(alice, bob->pk, priv->ptrs, priv->lens, priv->n, &out),
               KITH_EINVAL);
    /* Nor may ops of two records share one. */
    opset_t *two = one_op();
    opset_add(two, alice, alice->pk, 0x90, HLC(T0 + 5), 0, "name", "Other", 0);
    ASSERT_ERR(kith_envelope_seal(alice, bob->pk, two->ptrs, two->lens, two->n, &out), KITH_EINVAL);

    /* Sizes. */
    size_t big = KITH_OP_MAX_LEN + 1;
    memset(bad, 0, sizeof(bad));
    ASSERT_ERR(kith_envelope_seal(alice, bob->pk, bp, &big, 1, &out), KITH_ETOOBIG);
    size_t n_many = KITH_ENVELOPE_MAX_OPS_LEN / KITH_OP_MAX_LEN + 1;
    const uint8_t **many = calloc(KITH_ENVELOPE_MAX_OPS + 1, sizeof(*many));
    size_t *many_lens = calloc(KITH_ENVELOPE_MAX_OPS + 1, sizeof(*many_lens));
    assert_non_null(many);
    assert_non_null(many_lens);
    for (size_t i = 0; i <= KITH_ENVELOPE_MAX_OPS; i++) {
        many[i] = bad;
        many_lens[i] = KITH_OP_MAX_LEN;
    }
    ASSERT_ERR(kith_envelope_seal(alice, bob->pk, many, many_lens, n_many, &out), KITH_ETOOBIG);
    ASSERT_ERR(kith_envelope_seal(alice, bob->pk, many, many_lens, KITH_ENVELOPE_MAX_OPS + 1, &out),
               KITH_EINVAL);

    /* Nothing was written by any failure. */
    ASSERT_EQ(out.len, 4);
    ASSERT_STREQ((const char *) out.data, "keep");

    free(many);
    free(many_lens);
    opset_free(two);
    opset_free(priv);
    kith_buf_close(&out);
    opset_free(s);
}

static void
max_ops(void **state)
{
    (void) state;
    opset_t *s = opset_new();
    for (int i = 0; i < KITH_ENVELOPE_MAX_OPS; i++) {
        opset_add(s, alice, alice->pk, 0x80, HLC(T0) + (uint64_t) i, i == 0 ? 0 : -1, "title", "t",
                  0);
    }
    kith_buf_t t;
    seal(s, bob, &t);
    kith_envelope_t env;
    ASSERT_OK(kith_envelope_open(bob, (const char *) t.data, t.len, &env, NULL, 0));
    assert_same_ops(&env, s);
    kith_envelope_close(&env);
    opset_add(s, alice, alice->pk, 0x80, HLC(T0 + 1000), -1, "title", "t", 0);
    kith_buf_t t2;
    kith_buf_init(&t2);
    ASSERT_ERR(kith_envelope_seal(alice, bob->pk, s->ptrs, s->lens, s->n, &t2), KITH_EINVAL);
    /* An envelope claiming 10,001 ops (sealed as a raw payload) is refused on opening. */
    kith_buf_t pt;
    kith_buf_init(&pt);
    ASSERT_OK(kith__envelope_encode_payload(alice->pk, bob->pk, s->ptrs, s->lens,
                                            KITH_ENVELOPE_MAX_OPS, &pt));
    ASSERT_EQ(pt.data[5], 0xdc);
    pt.data[6] = (KITH_ENVELOPE_MAX_OPS + 1) >> 8;
    pt.data[7] = (KITH_ENVELOPE_MAX_OPS + 1) & 0xff;
    ASSERT_OK(kith__envelope_seal_payload(alice, bob->pk, pt.data, pt.len, NULL, NULL, &t2));
    char err[200];
    ASSERT_ERR(open_text(bob, (const char *) t2.data, t2.len, err, sizeof(err)), KITH_EPROTO);
    assert_non_null(strstr(err, "10001 ops"));
    kith_buf_close(&pt);
    kith_buf_close(&t2);
    kith_buf_close(&t);
    opset_free(s);
}

static void
oversized_text_refused(void **state)
{
    (void) state;
    size_t n = KITH_ENVELOPE_MAX_TEXT + 1;
    char *text = malloc(n);
    assert_non_null(text);
    memset(text, ' ', n);
    ASSERT_ERR(open_text(bob, text, n, NULL, 0), KITH_ETOOBIG);
    ASSERT_ERR(open_text(bob, text, n - 1, NULL, 0), KITH_EPARSE);
    free(text);
}

/* ---- Hostile payloads: they decrypt, so only the payload checks stand ------------- */

/* Seals pt from `from` to bob and opens it; returns the code. */
static int
open_payload(const kith_identity_t *from, const uint8_t *pt, size_t len, char *err, size_t cap)
{
    kith_buf_t t;
    kith_buf_init(&t);
    ASSERT_OK(kith__envelope_seal_payload(from, bob->pk, pt, len, NULL, NULL, &t));
    int rc = open_text(bob, (const char *) t.data, t.len, err, cap);
    kith_buf_close(&t);
    return rc;
}

/* Index of the first occurrence of needle in b, which must exist. */
static size_t
find_in(const kith_buf_t *b, const void *needle, size_t n)
{
    for (size_t i = 0; i + n <= b->len; i++) {
        if (memcmp(b->data + i, needle, n) == 0) {
            return i;
        }
    }
    fail();
    return 0;
}

static void
hostile_payloads_refused(void **state)
{
    (void) state;
    opset_t *s = one_op();
    kith_buf_t pt, x;
    kith_buf_init(&pt);
    kith_buf_init(&x);
    char err[200];
    ASSERT_OK(kith__envelope_encode_payload(alice->pk, bob->pk, s->ptrs, s->lens, s->n, &pt));
    ASSERT_OK(open_payload(alice, pt.data, pt.len, NULL, 0));
    /* It is ordinary msgpack. */
    ASSERT_OK(kith_mpcheck(pt.data, pt.len, 2));

#define MUTATE(stmt, code, words)                                                                  \
    do {                                                                                           \
        x.len = 0;                                                                                 \
        ASSERT_OK(kith_buf_append(&x, pt.data, pt.len));                                           \
        stmt;                                                                                      \
        ASSERT_ERR(open_payload(alice, x.data, x.len, err, sizeof(err)), code);                    \
        if ((words) != NULL && strstr(err, (words)) == NULL) {                                     \
            print_error("message \"%s\" lacks \"%s\"\n", err, (const char *) (words));             \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

    size_t rpos = find_in(&pt, "recipient", 9) + 11;
    size_t spos = find_in(&pt, "sender", 6) + 8;
    MUTATE(memcpy(x.data + rpos, carol->pk, 32), KITH_EPROTO, "another node");
    MUTATE(memcpy(x.data + spos, carol->pk, 32), KITH_EPROTO, "sender");
    MUTATE(x.data[x.len - 1] = 2, KITH_EVERSION, "version");
    MUTATE(x.data[x.len - 1] = 0xcc, KITH_EPROTO, "malformed");
    MUTATE(kith_buf_putc(&x, 0), KITH_EPROTO, "trailing");
    MUTATE(x.len--, KITH_EPROTO, "malformed");
    MUTATE(x.len = 0, KITH_EPROTO, "malformed");
    MUTATE(x.data[0] = 0x85, KITH_EPROTO, "malformed");
    MUTATE(x.data[5] = 0x90, KITH_EPROTO, "0 ops");
    MUTATE(x.data[70] ^= 1, KITH_EPROTO, "fails verification"); /* in the op's signature */
    /* Non-canonical forms of the same content: array 16 and bin 16 where shorter fit. */
    x.len = 0;
    ASSERT_OK(kith_buf_append(&x, pt.data, 5));
    ASSERT_OK(kith_buf_append(&x, "\xdc\x00\x01", 3));
    ASSERT_OK(kith_buf_append(&x, pt.data + 6, pt.len - 6));
    ASSERT_ERR(open_payload(alice, x.data, x.len, NULL, 0), KITH_EPROTO);
    ASSERT_EQ(pt.data[6], 0xc5); /* one_op() is longer than 255 bytes */
    x.len = 0;
    ASSERT_OK(kith_buf_append(&x, pt.data, 7));
    ASSERT_OK(kith_buf_append(&x, "\x00\x00", 2)); /* bin 32 */
    ASSERT_OK(kith_buf_append(&x, pt.data + 7, pt.len - 7));
    x.data[6] = 0xc6;
    ASSERT_ERR(open_payload(alice, x.data, x.len, NULL, 0), KITH_EPROTO);
    /* Counts that lie. */
    static const uint8_t liar1[] = {0x84, 0xa3, 'o', 'p', 's', 0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t liar2[] = {0x84, 0xa3, 'o', 'p', 's', 0x91, 0xc6, 0x7f, 0xff, 0xff, 0xff};
    ASSERT_ERR(open_payload(alice, liar1, sizeof(liar1), NULL, 0), KITH_EPROTO);
    ASSERT_ERR(open_payload(alice, liar2, sizeof(liar2), NULL, 0), KITH_EPROTO);
    /* An op too short to hold a signature. */
    static const uint8_t tiny_op[] = {0x84, 0xa3, 'o', 'p', 's', 0x91, 0xc4, 0x02, 0, 0};
    ASSERT_ERR(open_payload(alice, tiny_op, sizeof(tiny_op), err, sizeof(err)), KITH_EPROTO);
    assert_non_null(strstr(err, "bad length"));

    /* Valid signed ops that break the envelope's rules. */
    opset_t *priv = one_op();
    opset_add(priv, alice, alice->pk, 0x80, HLC(T0 + 5), -1, "note", "only mine", 1);
    pt.len = 0;
    ASSERT_OK(
        kith__envelope_encode_payload(alice->pk, bob->pk, priv->ptrs, priv->lens, priv->n, &pt));
    ASSERT_ERR(open_payload(alice, pt.data, pt.len, err, sizeof(err)), KITH_EPROTO);
    assert_non_null(strstr(err, "op 2 of 2 is private"));
    opset_t *two = one_op();
    opset_add(two, alice, alice->pk, 0x90, HLC(T0 + 5), 0, "name", "Other", 0);
    pt.len = 0;
    ASSERT_OK(kith__envelope_encode_payload(alice->pk, bob->pk, two->ptrs, two->lens, two->n, &pt));
    ASSERT_ERR(open_payload(alice, pt.data, pt.len, err, sizeof(err)), KITH_EPROTO);
    assert_non_null(strstr(err, "another record"));
#undef MUTATE

    opset_free(two);
    opset_free(priv);
    kith_buf_close(&x);
    kith_buf_close(&pt);
    opset_free(s);
}

/* ---- The worked example of proto/ENVELOPE.md -------------------------------------- */

/* Fixed inputs: seeds 00..1f (alice) and 20..3f (bob), ephemeral key 40..5f, nonce
 * 60..77, and one op creating record 80..8f. */
static const char kat_armor[] =
    "-----BEGIN KITH ENVELOPE-----\n"
    "S0VOVgF5pjHu3hv5yY8SAyzerdDnoHk5j8eGuIzIRuyJr4WlGmBhYmNkZWZnaGlqa2xtbm9wcXJz\n"
    "dHV2d+dKWgjmTMTn+OFY1LAlUuOOHq3/YeFdSdpT9ulT3VsFmRgyyy0onDfMTnSoj4Nykyl1I82c\n"
    "pnU96c/wZxmSlhbvT4L0MXYnVWi/shJg/bLqeomeJTcpx8l0VjkqG3j3Atx7dNkOyvfn0FSTb2QI\n"
    "onc5xlnVw90JQ7pblo5iI6lIaqlOY2WwoQ8g8zXClUF3pl86CKk89ka9Fyd7zKoD4BXMF5cRr4zS\n"
    "EM1UeZFFefKb+T16N9lGT4VpkEgfoT7N7Mv0j6mNwPX72oA0ss23bm2RXMQ0lGqVlFL7FIHsMECg\n"
    "wJCEmnNISzS58dxuZcNN0NQJpbX4BNWZDMJeDH006Ob6S8P8488OuOUz7mzDhSGdMgitjppSGR8K\n"
    "bvB1dy1iw9SzQZ4TMPJKEOKE9jeKqE0CCNhBLos2oZW/WhMJznsK4DJjfIBEuGC0QeDxx6JbzIEo\n"
    "QZd4AoXqpooCSD35rqnj0B/OGmL9nzO8/RVm5mgnuOhgh/c=\n"
    "-----END KITH ENVELOPE-----\n";

static void
seq(uint8_t *p, size_t n, uint8_t first)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t) (first + i);
    }
}

static void
kat_op(kith_buf_t *signed_op)
{
    kith_op_t op;
    kith_op_init(&op);
    op.version = 1; /* the known answer was made with a version 1 op, which still opens */
    seq(op.rec, KITH_REC_ID_LEN, 0x80);
    memcpy(op.owner, alice->pk, KITH_PK_LEN);
    memcpy(op.author, alice->pk, KITH_PK_LEN);
    op.hlc = HLC(T0);
    op.kind = KITH_KIND_PERSON;
    kith_value_t v = {0};
    ASSERT_OK(kith_value_set_str(&v, "Ada Lovelace", 12));
    ASSERT_OK(kith_op_set_field(&op, "name", &v));
    kith_value_clear(&v);
    uint8_t hash[KITH_HASH_LEN];
    kith_buf_init(signed_op);
    ASSERT_OK(kith_op_sign(&op, alice, signed_op, hash));
    kith_op_close(&op);
}

static void
known_answer(void **state)
{
    (void) state;
    kith_buf_t op, pt, t, bin;
    kat_op(&op);
    const uint8_t *ops[1] = {op.data};
    size_t lens[1] = {op.len};
    uint8_t esk[32], nonce[24];
    seq(esk, sizeof(esk), 0x40);
    seq(nonce, sizeof(nonce), 0x60);
    kith_buf_init(&pt);
    kith_buf_init(&t);
    ASSERT_OK(kith__envelope_encode_payload(alice->pk, bob->pk, ops, lens, 1, &pt));
    ASSERT_OK(kith__envelope_seal_payload(alice, bob->pk, pt.data, pt.len, esk, nonce, &t));
    if (strcmp((const char *) t.data, kat_armor) != 0) {
        print_error("got:\n%s", (const char *) t.data);
        fail();
    }
    kith_envelope_t env;
    ASSERT_OK(kith_envelope_open(bob, kat_armor, strlen(kat_armor), &env, NULL, 0));
    ASSERT_EQ(env.n_ops, 1);
    assert_memory_equal(env.ops[0], op.data, op.len);
    kith_envelope_close(&env);

    /* An independent reading of the spec's key schedule opens it too. */
    dearmor(&t, &bin);
    uint8_t epk[32], es[32], ss[32], k1[32], k2[32], in[161], sender[32];
    ASSERT_EQ(crypto_scalarmult_base(epk, esk), 0);
    assert_memory_equal(bin.data, "KENV\x01", 5);
    assert_memory_equal(bin.data + 5, epk, 32);
    assert_memory_equal(bin.data + 37, nonce, 24);
    ASSERT_EQ(crypto_scalarmult(es, bob->xsk, epk), 0);
    in[0] = 0x01;
    memcpy(in + 1, es, 32);
    memcpy(in + 33, epk, 32);
    memcpy(in + 65, bob->xpk, 32);
    crypto_generichash(k1, 32, in, 97, (const uint8_t *) "kith-envelope-v1", 16);
    ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(sender, NULL, NULL, bin.data + 61, 48,
                                                         bin.data, 61, nonce, k1),
              0);
    assert_memory_equal(sender, alice->pk, 32);
    uint8_t sx[32];
    ASSERT_EQ(crypto_sign_ed25519_pk_to_curve25519(sx, sender), 0);
    ASSERT_EQ(crypto_scalarmult(ss, bob->xsk, sx), 0);
    in[0] = 0x02;
    memcpy(in + 1, es, 32);
    memcpy(in + 33, ss, 32);
    memcpy(in + 65, epk, 32);
    memcpy(in + 97, sx, 32);
    memcpy(in + 129, bob->xpk, 32);
    crypto_generichash(k2, 32, in, 161, (const uint8_t *) "kith-envelope-v1", 16);
    ASSERT_EQ(bin.len, 109 + pt.len + 16);
    uint8_t *dec = malloc(pt.len);
    assert_non_null(dec);
    ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(dec, NULL, NULL, bin.data + 109,
                                                         pt.len + 16, bin.data, 109, nonce, k2),
              0);
    assert_memory_equal(dec, pt.data, pt.len);
    free(dec);

    /* The payload is the canonical msgpack the spec shows. */
    ASSERT_EQ(pt.data[0], 0x84);
    assert_memory_equal(pt.data + 1, "\xa3ops\x91", 5);

    kith_buf_close(&bin);
    kith_buf_close(&t);
    kith_buf_close(&pt);
    kith_buf_close(&op);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_one),
        cmocka_unit_test(round_trip_fifty),
        cmocka_unit_test(every_byte_change_refused),
        cmocka_unit_test(wrong_recipient_refused),
        cmocka_unit_test(forged_sender_refused),
        cmocka_unit_test(truncated_refused),
        cmocka_unit_test(bad_armor_messages),
        cmocka_unit_test(unknown_version_refused),
        cmocka_unit_test(quoted_email_opens),
        cmocka_unit_test(rewrapped_opens),
        cmocka_unit_test(nothing_identifying_in_clear),
        cmocka_unit_test(seal_checks_its_input),
        cmocka_unit_test(max_ops),
        cmocka_unit_test(oversized_text_refused),
        cmocka_unit_test(hostile_payloads_refused),
        cmocka_unit_test(known_answer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
