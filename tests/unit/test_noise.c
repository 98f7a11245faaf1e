/*
 * Tests for src/crypto/noise: the IK and XX handshakes and the transport cipher states.
 *
 * The core test replays every IK and XX vector of the three published vector files in
 * tests/vectors/noise/ (see SOURCE.md there) with a real initiator and a real responder
 * holding the vector's fixed ephemerals, and compares every handshake and transport
 * ciphertext byte, every decrypted payload and the handshake hash. A second test
 * corrupts the expected bytes one at a time and checks that the replay notices, so the
 * comparison itself cannot silently pass. The rest covers the defensive behaviour:
 * tampering, truncation, sizes, turn order, dead states, nonce exhaustion and rekey.
 *
 * The vectors are read at run time by the small JSON reader below. It is test code:
 * strict, bounded by a depth limit, and it fails the test on anything unexpected.
 */
#include "check.h"

#include <stdlib.h>

#include <sodium.h>

#include "crypto/noise.h"

#ifndef KITH_TEST_DIR
#error "KITH_TEST_DIR must name the tests/ directory"
#endif

#define VEC_DIR     KITH_TEST_DIR "/vectors/noise/"
#define MAX_VEC_MSG 16 /* messages per vector; the files have at most 6 */

#include "json_reader.h"

/* ======================================================= vectors */

typedef struct {
    uint8_t *p; /* malloc'd, never NULL once loaded (1 spare byte for empty strings) */
    size_t len;
} bytes_t;

typedef struct {
    char name[96];
    int pattern; /* KITH_NOISE_IK, KITH_NOISE_XX, or 0 for a vector this module skips */
    bytes_t prologue_i, prologue_r, s_i, e_i, s_r, e_r;
    bytes_t rs_i; /* IK only */
    bytes_t hash; /* len 0 when the file has none */
    bytes_t payload[MAX_VEC_MSG], ct[MAX_VEC_MSG];
    size_t n_msgs;
} vector_t;

static int
hex_decode(const char *hex, bytes_t *out)
{
    size_t n = strlen(hex);
    out->p = NULL;
    out->len = 0;
    if (n % 2 != 0 || (out->p = malloc(n / 2 + 1)) == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out->p);
            out->p = NULL;
            return -1;
        }
        out->p[i] = (uint8_t) (hi * 16 + lo);
    }
    out->len = n / 2;
    return 0;
}

/* Decodes a required (or, with optional, possibly absent) hex string field. */
static void
field_hex(const jv_t *obj, const char *key, bytes_t *out, int optional)
{
    const jv_t *f = json_get(obj, key);
    memset(out, 0, sizeof(*out));
    if (f == NULL && optional) {
        out->p = malloc(1);
        assert_non_null(out->p);
        return;
    }
    if (f == NULL || f->type != J_STR) {
        print_error("field %s missing or not a string\n", key);
        fail();
    }
    if (hex_decode(f->str, out) != 0) {
        print_error("field %s is not hex\n", key);
        fail();
    }
}

static void
field_key(const jv_t *obj, const char *key, bytes_t *out, int optional)
{
    field_hex(obj, key, out, optional);
    if (!(optional && out->len == 0)) {
        ASSERT_EQ(out->len, 32);
    }
}

static void
vectors_free(vector_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bytes_t *all[] = {&v[i].prologue_i, &v[i].prologue_r, &v[i].s_i,  &v[i].e_i,
                          &v[i].s_r,        &v[i].e_r,        &v[i].rs_i, &v[i].hash};
        for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
            free(all[k]->p);
        }
        for (size_t m = 0; m < v[i].n_msgs; m++) {
            free(v[i].payload[m].p);
            free(v[i].ct[m].p);
        }
    }
    free(v);
}

/* Loads every vector of a file; those for other protocols get pattern 0. */
static vector_t *
vectors_load(const char *file, size_t *count)
{
    char path[512];
    size_t len = 0;
    char *text;
    jv_t doc;
    const jv_t *arr;
    vector_t *vecs;

    snprintf(path, sizeof(path), "%s%s", VEC_DIR, file);
    text = read_text_file(path, &len);
    assert_non_null(text);
    if (json_parse(text, len, &doc) != 0) {
        print_error("%s: malformed JSON\n", path);
        fail();
    }
    free(text);
    arr = json_get(&doc, "vectors");
    assert_non_null(arr);
    ASSERT_EQ(arr->type, J_ARR);
    assert_true(arr->n > 0);
    vecs = calloc(arr->n, sizeof(*vecs));
    assert_non_null(vecs);

    for (size_t i = 0; i < arr->n; i++) {
        const jv_t *o = &arr->vals[i];
        vector_t *v = &vecs[i];
        const jv_t *name = json_get(o, "protocol_name");
        if (name == NULL) {
            name = json_get(o, "name"); /* noise-c's older layout */
        }
        assert_non_null(name);
        ASSERT_EQ(name->type, J_STR);
        assert_true(strlen(name->str) < sizeof(v->name));
        strcpy(v->name, name->str);
        if (strcmp(v->name, "Noise_IK_25519_ChaChaPoly_BLAKE2b") == 0) {
            v->pattern = KITH_NOISE_IK;
        } else if (strcmp(v->name, "Noise_XX_25519_ChaChaPoly_BLAKE2b") == 0) {
            v->pattern = KITH_NOISE_XX;
        } else {
            continue; /* psk variants: not implemented, counted as skipped */
        }
        field_hex(o, "init_prologue", &v->prologue_i, 0);
        field_hex(o, "resp_prologue", &v->prologue_r, 0);
        field_key(o, "init_static", &v->s_i, 0);
        field_key(o, "init_ephemeral", &v->e_i, 0);
        field_key(o, "resp_static", &v->s_r, 0);
        field_key(o, "resp_ephemeral", &v->e_r, 0);
        field_key(o, "init_remote_static", &v->rs_i, v->pattern != KITH_NOISE_IK);
        field_hex(o, "handshake_hash", &v->hash, 1);
        assert_true(v->hash.len == 0 || v->hash.len == KITH_NOISE_HASH_LEN);

        const jv_t *msgs = json_get(o, "messages");
        assert_non_null(msgs);
        ASSERT_EQ(msgs->type, J_ARR);
        assert_true(msgs->n <= MAX_VEC_MSG);
        for (size_t m = 0; m < msgs->n; m++) {
            field_hex(&msgs->vals[m], "payload", &v->payload[m], 0);
            field_hex(&msgs->vals[m], "ciphertext", &v->ct[m], 0);
            v->n_msgs = m + 1;
        }
    }
    *count = arr->n;
    jv_free(&doc);
    return vecs;
}

/* Compares produced bytes with expected ones; fills why on a difference. */
static int
same(const char *what, size_t idx, const uint8_t *got, size_t got_len, const bytes_t *want,
     char *why, size_t why_cap)
{
    if (got_len != want->len) {
        snprintf(why, why_cap, "%s %zu: length %zu, expected %zu", what, idx, got_len, want->len);
        return 0;
    }
    for (size_t i = 0; i < got_len; i++) {
        if (got[i] != want->p[i]) {
            snprintf(why, why_cap, "%s %zu: byte %zu is %02x, expected %02x", what, idx, i, got[i],
                     want->p[i]);
            return 0;
        }
    }
    return 1;
}

#define REPLAY_FAIL(...)                                                                           \
    do {                                                                                           \
        snprintf(why, why_cap, __VA_ARGS__);                                                       \
        goto out;                                                                                  \
    } while (0)

/*
 * Replays a whole vector: both handshake sides, then the transport messages with the
 * split cipher states. Returns 0 when every byte matches, -1 (with why filled) otherwise.
 */
static int
replay(const vector_t *v, char *why, size_t why_cap)
{
    kith_noise_hs_t *ini = NULL, *resp = NULL;
    kith_noise_cs_t i_tx = {{0}, 0}, i_rx = {{0}, 0}, r_tx = {{0}, 0}, r_rx = {{0}, 0};
    uint8_t *buf = malloc(KITH_NOISE_MAX_MSG), *pbuf = malloc(KITH_NOISE_MAX_MSG);
    uint8_t pub[32], got[64], h_resp[64];
    bytes_t want_pub = {pub, 32}, h_resp_b = {h_resp, 64};
    size_t n_hs = v->pattern == KITH_NOISE_IK ? 2 : 3;
    size_t len, plen;
    int rc, result = -1;

    why[0] = '\0';
    if (buf == NULL || pbuf == NULL) {
        REPLAY_FAIL("out of memory");
    }
    if (v->n_msgs < n_hs) {
        REPLAY_FAIL("only %zu messages", v->n_msgs);
    }
    if ((rc = kith_noise_hs_new(&ini, v->pattern, 1, v->prologue_i.p, v->prologue_i.len, v->s_i.p,
                                v->pattern == KITH_NOISE_IK ? v->rs_i.p : NULL)) != KITH_OK ||
        (rc = kith_noise_hs_new(&resp, v->pattern, 0, v->prologue_r.p, v->prologue_r.len, v->s_r.p,
                                NULL)) != KITH_OK ||
        (rc = kith__noise_hs_set_ephemeral(ini, v->e_i.p)) != KITH_OK ||
        (rc = kith__noise_hs_set_ephemeral(resp, v->e_r.p)) != KITH_OK) {
        REPLAY_FAIL("setup: %s", kith_strerror(rc));
    }

    for (size_t m = 0; m < n_hs; m++) {
        kith_noise_hs_t *tx = m % 2 == 0 ? ini : resp, *rx = m % 2 == 0 ? resp : ini;
        if (kith_noise_hs_done(ini) || kith_noise_hs_done(resp)) {
            REPLAY_FAIL("done before message %zu", m);
        }
        if ((rc = kith_noise_hs_write(tx, v->payload[m].p, v->payload[m].len, buf,
                                      KITH_NOISE_MAX_MSG, &len)) != KITH_OK) {
            REPLAY_FAIL("write %zu: %s", m, kith_strerror(rc));
        }
        if (!same("handshake ciphertext", m, buf, len, &v->ct[m], why, why_cap)) {
            goto out;
        }
        if ((rc = kith_noise_hs_read(rx, buf, len, pbuf, KITH_NOISE_MAX_MSG, &plen)) != KITH_OK) {
            REPLAY_FAIL("read %zu: %s", m, kith_strerror(rc));
        }
        if (!same("handshake payload", m, pbuf, plen, &v->payload[m], why, why_cap)) {
            goto out;
        }
    }
    if (!kith_noise_hs_done(ini) || !kith_noise_hs_done(resp)) {
        REPLAY_FAIL("not done after %zu messages", n_hs);
    }

    /* Each side learned the other's static public key. */
    if (crypto_scalarmult_base(pub, v->s_r.p) != 0 ||
        kith_noise_hs_remote_static(ini, got) != KITH_OK ||
        !same("initiator's remote static", 0, got, 32, &want_pub, why, why_cap)) {
        goto out;
    }
    if (crypto_scalarmult_base(pub, v->s_i.p) != 0 ||
        kith_noise_hs_remote_static(resp, got) != KITH_OK ||
        !same("responder's remote static", 0, got, 32, &want_pub, why, why_cap)) {
        goto out;
    }

    /* Both sides agree on h, and it is the published one where there is one. */
    if (kith_noise_hs_hash(ini, got) != KITH_OK || kith_noise_hs_hash(resp, h_resp) != KITH_OK ||
        !same("handshake hash (initiator vs responder)", 0, got, 64, &h_resp_b, why, why_cap)) {
        goto out;
    }
    if (v->hash.len > 0 && !same("handshake hash", 0, got, 64, &v->hash, why, why_cap)) {
        goto out;
    }

    if ((rc = kith_noise_hs_split(ini, &i_tx, &i_rx)) != KITH_OK ||
        (rc = kith_noise_hs_split(resp, &r_tx, &r_rx)) != KITH_OK) {
        REPLAY_FAIL("split: %s", kith_strerror(rc));
    }
    for (size_t m = n_hs; m < v->n_msgs; m++) {
        kith_noise_cs_t *tx = m % 2 == 0 ? &i_tx : &r_tx, *rx = m % 2 == 0 ? &r_rx : &i_rx;
        if ((rc = kith_noise_cs_encrypt(tx, NULL, 0, v->payload[m].p, v->payload[m].len, buf,
                                        KITH_NOISE_MAX_MSG, &len)) != KITH_OK) {
            REPLAY_FAIL("encrypt %zu: %s", m, kith_strerror(rc));
        }
        if (!same("transport ciphertext", m, buf, len, &v->ct[m], why, why_cap)) {
            goto out;
        }
        if ((rc = kith_noise_cs_decrypt(rx, NULL, 0, buf, len, pbuf, KITH_NOISE_MAX_MSG, &plen)) !=
            KITH_OK) {
            REPLAY_FAIL("decrypt %zu: %s", m, kith_strerror(rc));
        }
        if (!same("transport payload", m, pbuf, plen, &v->payload[m], why, why_cap)) {
            goto out;
        }
    }
    result = 0;
out:
    kith_noise_hs_free(ini);
    kith_noise_hs_free(resp);
    kith_noise_cs_wipe(&i_tx);
    kith_noise_cs_wipe(&i_rx);
    kith_noise_cs_wipe(&r_tx);
    kith_noise_cs_wipe(&r_rx);
    free(buf);
    free(pbuf);
    return result;
}

/* Replays every IK and XX vector of a file; they must all match, and there must be
 * exactly `expect` of them so that a file read as empty cannot pass. */
static void
check_vector_file(const char *file, size_t expect)
{
    size_t n = 0, matched = 0, skipped = 0;
    vector_t *v = vectors_load(file, &n);
    char why[256];

    for (size_t i = 0; i < n; i++) {
        if (v[i].pattern == 0) {
            skipped++;
            continue;
        }
        if (replay(&v[i], why, sizeof(why)) != 0) {
            print_error("%s, %s: %s\n", file, v[i].name, why);
            fail();
        }
        print_message("%s: %s matched (%zu messages%s)\n", file, v[i].name, v[i].n_msgs,
                      v[i].hash.len ? ", handshake hash" : "");
        matched++;
    }
    print_message("%s: %zu vectors matched, %zu skipped (psk)\n", file, matched, skipped);
    ASSERT_EQ(matched, expect);
    vectors_free(v, n);
}

static void
test_vectors_cacophony(void **state)
{
    check_vector_file("cacophony.json", 2);
}

static void
test_vectors_noise_c(void **state)
{
    check_vector_file("noise-c.json", 2);
}

static void
test_vectors_snow(void **state)
{
    check_vector_file("snow.json", 2);
}

/* Flips one expected byte at a time (first, middle and last of every message, every
 * payload, and the hash) and checks that the replay reports a difference each time. */
static void
test_vectors_detect_corruption(void **state)
{
    const char *files[] = {"cacophony.json", "noise-c.json", "snow.json"};
    size_t caught = 0;
    char why[256];

    for (size_t f = 0; f < 3; f++) {
        size_t n = 0;
        vector_t *v = vectors_load(files[f], &n);
        for (size_t i = 0; i < n; i++) {
            if (v[i].pattern == 0) {
                continue;
            }
            for (size_t m = 0; m < v[i].n_msgs; m++) {
                bytes_t *targets[] = {&v[i].ct[m], &v[i].payload[m]};
                for (size_t t = 0; t < 2; t++) {
                    size_t at[] = {0, targets[t]->len / 2, targets[t]->len - 1};
                    if (targets[t]->len == 0) {
                        continue;
                    }
                    for (size_t a = 0; a < 3; a++) {
                        targets[t]->p[at[a]] ^= 0x01;
                        if (replay(&v[i], why, sizeof(why)) == 0) {
                            print_error("%s %s: corrupting message %zu byte %zu went unnoticed\n",
                                        files[f], v[i].name, m, at[a]);
                            fail();
                        }
                        targets[t]->p[at[a]] ^= 0x01;
                        caught++;
                    }
                }
            }
            if (v[i].hash.len > 0) {
                v[i].hash.p[63] ^= 0x80;
                assert_int_not_equal(replay(&v[i], why, sizeof(why)), 0);
                v[i].hash.p[63] ^= 0x80;
                caught++;
            }
            /* And restored, it matches again. */
            ASSERT_EQ(replay(&v[i], why, sizeof(why)), 0);
        }
        vectors_free(v, n);
    }
    print_message("%zu corruptions detected\n", caught);
}

/* ======================================================= handshake helpers */

/* Keys of the cacophony vectors, so that the fixed-ephemeral handshakes are known. */
static const char *const HEX_S_I =
    "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
static const char *const HEX_E_I =
    "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
static const char *const HEX_S_R =
    "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
static const char *const HEX_E_R =
    "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
static const uint8_t PROLOGUE[] = "kith test prologue";

typedef struct {
    uint8_t s_i[32], e_i[32], s_r[32], e_r[32], s_r_pub[32], s_i_pub[32];
} keys_t;

static void
keys_load(keys_t *k)
{
    const char *hex[] = {HEX_S_I, HEX_E_I, HEX_S_R, HEX_E_R};
    uint8_t *dst[] = {k->s_i, k->e_i, k->s_r, k->e_r};
    for (int i = 0; i < 4; i++) {
        bytes_t b;
        ASSERT_EQ(hex_decode(hex[i], &b), 0);
        ASSERT_EQ(b.len, 32);
        memcpy(dst[i], b.p, 32);
        free(b.p);
    }
    ASSERT_EQ(crypto_scalarmult_base(k->s_r_pub, k->s_r), 0);
    ASSERT_EQ(crypto_scalarmult_base(k->s_i_pub, k->s_i), 0);
}

static int
n_hs_msgs(int pattern)
{
    return pattern == KITH_NOISE_IK ? 2 : 3;
}

/* New initiator or responder with the test keys; fixed ephemeral when `fixed`. */
static kith_noise_hs_t *
side_new(const keys_t *k, int pattern, int initiator, int fixed)
{
    kith_noise_hs_t *hs = NULL;
    const uint8_t *rs = pattern == KITH_NOISE_IK && initiator ? k->s_r_pub : NULL;
    ASSERT_OK(kith_noise_hs_new(&hs, pattern, initiator, PROLOGUE, sizeof(PROLOGUE),
                                initiator ? k->s_i : k->s_r, rs));
    if (fixed) {
        ASSERT_OK(kith__noise_hs_set_ephemeral(hs, initiator ? k->e_i : k->e_r));
    }
    return hs;
}

/* Writes message m from its sender and reads it at the receiver; both must succeed. */
static void
step(kith_noise_hs_t *ini, kith_noise_hs_t *resp, int m, const uint8_t *payload, size_t len,
     uint8_t *msg, size_t msg_cap, size_t *msg_len)
{
    kith_noise_hs_t *tx = m % 2 == 0 ? ini : resp, *rx = m % 2 == 0 ? resp : ini;
    uint8_t *pbuf = malloc(KITH_NOISE_MAX_MSG);
    size_t plen;
    assert_non_null(pbuf);
    ASSERT_OK(kith_noise_hs_write(tx, payload, len, msg, msg_cap, msg_len));
    ASSERT_OK(kith_noise_hs_read(rx, msg, *msg_len, pbuf, KITH_NOISE_MAX_MSG, &plen));
    ASSERT_EQ(plen, len);
    if (len > 0) {
        assert_memory_equal(pbuf, payload, len);
    }
    free(pbuf);
}

/* A complete fixed- or random-ephemeral handshake with a short payload per message. */
static void
handshake(const keys_t *k, int pattern, int fixed, kith_noise_hs_t **ini, kith_noise_hs_t **resp)
{
    static const uint8_t payload[] = "hello";
    uint8_t msg[256];
    size_t len;
    *ini = side_new(k, pattern, 1, fixed);
    *resp = side_new(k, pattern, 0, fixed);
    for (int m = 0; m < n_hs_msgs(pattern); m++) {
        step(*ini, *resp, m, payload, sizeof(payload), msg, sizeof(msg), &len);
    }
    assert_true(kith_noise_hs_done(*ini));
    assert_true(kith_noise_hs_done(*resp));
}

/* Every call on a dead state fails. */
static void
assert_dead(kith_noise_hs_t *hs, const uint8_t *good_msg, size_t good_len)
{
    uint8_t buf[512], out[64];
    size_t len = 99;
    kith_noise_cs_t a, b;
    assert_false(kith_noise_hs_done(hs));
    ASSERT_ERR(kith_noise_hs_read(hs, good_msg, good_len, buf, sizeof(buf), &len), KITH_EINVAL);
    ASSERT_EQ(len, 0);
    ASSERT_ERR(kith_noise_hs_write(hs, NULL, 0, buf, sizeof(buf), &len), KITH_EINVAL);
    ASSERT_ERR(kith_noise_hs_remote_static(hs, out), KITH_EINVAL);
    ASSERT_ERR(kith_noise_hs_hash(hs, out), KITH_EINVAL);
    ASSERT_ERR(kith_noise_hs_split(hs, &a, &b), KITH_EINVAL);
    ASSERT_ERR(kith__noise_hs_set_ephemeral(hs, out), KITH_EINVAL);
}

static const int PATTERNS[] = {KITH_NOISE_IK, KITH_NOISE_XX};

/* ======================================================= tampering and truncation */

/*
 * Flips every bit of a message in turn and feeds it to a fresh receiver that has seen
 * the genuine earlier messages. An encrypted message must be refused at once and leave
 * the state dead. XX message 1 is not encrypted (just e and a clear payload), so the
 * responder accepts it; the tampering must then break the initiator's read of message 2.
 */
static void
test_tampered_messages(void **state)
{
    static const uint8_t payload[] = "payload bytes";
    keys_t k;
    keys_load(&k);

    for (size_t p = 0; p < 2; p++) {
        int pattern = PATTERNS[p];
        for (int target = 0; target < n_hs_msgs(pattern); target++) {
            uint8_t msgs[3][256], bad[256], buf[256], m2[256];
            size_t lens[3], plen;
            size_t flips = 0;
            kith_noise_hs_t *ini, *resp;

            /* The genuine exchange, deterministic thanks to the fixed ephemerals. */
            ini = side_new(&k, pattern, 1, 1);
            resp = side_new(&k, pattern, 0, 1);
            for (int m = 0; m < n_hs_msgs(pattern); m++) {
                step(ini, resp, m, payload, sizeof(payload), msgs[m], sizeof(msgs[m]), &lens[m]);
            }
            kith_noise_hs_free(ini);
            kith_noise_hs_free(resp);

            for (size_t byte = 0; byte < lens[target]; byte++) {
                for (int bit = 0; bit < 8; bit++) {
                    ini = side_new(&k, pattern, 1, 1);
                    resp = side_new(&k, pattern, 0, 1);
                    for (int m = 0; m < target; m++) {
                        step(ini, resp, m, payload, sizeof(payload), buf, sizeof(buf), &plen);
                    }
                    kith_noise_hs_t *tx = target % 2 == 0 ? ini : resp;
                    kith_noise_hs_t *rx = target % 2 == 0 ? resp : ini;
                    size_t len;
                    ASSERT_OK(
                        kith_noise_hs_write(tx, payload, sizeof(payload), buf, sizeof(buf), &len));
                    ASSERT_EQ(len, lens[target]);
                    memcpy(bad, msgs[target], len);
                    bad[byte] ^= (uint8_t) (1u << bit);

                    int rc = kith_noise_hs_read(rx, bad, len, buf, sizeof(buf), &plen);
                    if (pattern == KITH_NOISE_XX && target == 0) {
                        ASSERT_OK(rc);
                        ASSERT_OK(kith_noise_hs_write(resp, NULL, 0, m2, sizeof(m2), &len));
                        ASSERT_ERR(kith_noise_hs_read(ini, m2, len, buf, sizeof(buf), &plen),
                                   KITH_ECRYPTO);
                        assert_dead(ini, m2, len);
                    } else {
                        ASSERT_ERR(rc, KITH_ECRYPTO);
                        assert_dead(rx, msgs[target], len);
                    }
                    kith_noise_hs_free(ini);
                    kith_noise_hs_free(resp);
                    flips++;
                }
            }
            print_message("%s message %d: %zu bit flips rejected\n",
                          pattern == KITH_NOISE_IK ? "IK" : "XX", target + 1, flips);
        }
    }
}

/* Every proper prefix, and the message with a byte appended, must fail: EPROTO below
 * the fixed part, ECRYPTO above it. XX message 1 again only fails one step later. */
static void
test_truncated_messages(void **state)
{
    static const uint8_t payload[] = "payload";
    /* Fixed part plus tag (0 for XX message 1): the shortest acceptable message. */
    static const size_t min_ik[] = {32 + 48 + 16, 32 + 16};
    static const size_t min_xx[] = {32, 32 + 48 + 16, 48 + 16};
    keys_t k;
    keys_load(&k);

    for (size_t p = 0; p < 2; p++) {
        int pattern = PATTERNS[p];
        for (int target = 0; target < n_hs_msgs(pattern); target++) {
            const size_t min = pattern == KITH_NOISE_IK ? min_ik[target] : min_xx[target];
            uint8_t msg[256], bad[257], buf[256], m2[256];
            size_t msg_len = 0, plen, len;
            kith_noise_hs_t *ini, *resp;

            for (size_t cut = 0; cut <= sizeof(payload) + min + 1; cut++) {
                ini = side_new(&k, pattern, 1, 1);
                resp = side_new(&k, pattern, 0, 1);
                for (int m = 0; m < target; m++) {
                    step(ini, resp, m, payload, sizeof(payload), buf, sizeof(buf), &plen);
                }
                kith_noise_hs_t *tx = target % 2 == 0 ? ini : resp;
                kith_noise_hs_t *rx = target % 2 == 0 ? resp : ini;
                ASSERT_OK(
                    kith_noise_hs_write(tx, payload, sizeof(payload), msg, sizeof(msg), &msg_len));
                ASSERT_EQ(msg_len, min + sizeof(payload));
                if (cut == msg_len) { /* the genuine message: not a truncation */
                    kith_noise_hs_free(ini);
                    kith_noise_hs_free(resp);
                    continue;
                }
                memcpy(bad, msg, msg_len);
                bad[msg_len] = 0x00; /* used when cut == msg_len + 1: one extra byte */
                int rc = kith_noise_hs_read(rx, bad, cut, buf, sizeof(buf), &plen);
                if (cut < min) {
                    ASSERT_ERR(rc, KITH_EPROTO);
                    assert_dead(rx, msg, msg_len);
                } else if (pattern == KITH_NOISE_XX && target == 0) {
                    ASSERT_OK(rc); /* a shorter or longer clear payload */
                    ASSERT_EQ(plen, cut - 32);
                    ASSERT_OK(kith_noise_hs_write(resp, NULL, 0, m2, sizeof(m2), &len));
                    ASSERT_ERR(kith_noise_hs_read(ini, m2, len, buf, sizeof(buf), &plen),
                               KITH_ECRYPTO);
                } else {
                    ASSERT_ERR(rc, KITH_ECRYPTO);
                    assert_dead(rx, msg, msg_len);
                }
                kith_noise_hs_free(ini);
                kith_noise_hs_free(resp);
            }
        }
    }
}

/* The IK initiator has the wrong idea of the responder's key: message 1 is refused. */
static void
test_wrong_responder_key(void **state)
{
    uint8_t other_priv[32], other_pub[32], msg[256], buf[256];
    size_t len, plen;
    kith_noise_hs_t *ini = NULL, *resp;
    keys_t k;
    keys_load(&k);

    randombytes_buf(other_priv, sizeof(other_priv));
    ASSERT_EQ(crypto_scalarmult_base(other_pub, other_priv), 0);
    ASSERT_OK(
        kith_noise_hs_new(&ini, KITH_NOISE_IK, 1, PROLOGUE, sizeof(PROLOGUE), k.s_i, other_pub));
    resp = side_new(&k, KITH_NOISE_IK, 0, 0);
    ASSERT_OK(kith_noise_hs_write(ini, (const uint8_t *) "hi", 2, msg, sizeof(msg), &len));
    ASSERT_ERR(kith_noise_hs_read(resp, msg, len, buf, sizeof(buf), &plen), KITH_ECRYPTO);
    assert_dead(resp, msg, len);
    kith_noise_hs_free(ini);
    kith_noise_hs_free(resp);
}

/* Different prologues: IK fails at message 1, XX at message 2 (the first encryption). */
static void
test_prologue_mismatch(void **state)
{
    static const uint8_t other[] = "another prologue";
    uint8_t msg[256], buf[256];
    size_t len, plen;
    keys_t k;
    keys_load(&k);

    for (size_t p = 0; p < 2; p++) {
        kith_noise_hs_t *ini = side_new(&k, PATTERNS[p], 1, 0), *resp = NULL;
        ASSERT_OK(kith_noise_hs_new(&resp, PATTERNS[p], 0, other, sizeof(other), k.s_r, NULL));
        ASSERT_OK(kith_noise_hs_write(ini, NULL, 0, msg, sizeof(msg), &len));
        if (PATTERNS[p] == KITH_NOISE_IK) {
            ASSERT_ERR(kith_noise_hs_read(resp, msg, len, buf, sizeof(buf), &plen), KITH_ECRYPTO);
        } else {
            ASSERT_OK(kith_noise_hs_read(resp, msg, len, buf, sizeof(buf), &plen));
            ASSERT_OK(kith_noise_hs_write(resp, NULL, 0, msg, sizeof(msg), &len));
            ASSERT_ERR(kith_noise_hs_read(ini, msg, len, buf, sizeof(buf), &plen), KITH_ECRYPTO);
        }
        kith_noise_hs_free(ini);
        kith_noise_hs_free(resp);
    }
}

/* A low-order ephemeral key makes X25519 output zeros: the DH is refused. */
static void
test_low_order_keys(void **state)
{
    /* u = 0 and u = 1 are points of small order on Curve25519. */
    static const uint8_t low[2][32] = {{0}, {1}};
    uint8_t msg[256], buf[256];
    size_t len, plen;
    keys_t k;
    keys_load(&k);

    for (int i = 0; i < 2; i++) {
        /* IK message 1 from an attacker: e is low order, "es" fails at the responder. */
        kith_noise_hs_t *ini = side_new(&k, KITH_NOISE_IK, 1, 0);
        kith_noise_hs_t *resp = side_new(&k, KITH_NOISE_IK, 0, 0);
        ASSERT_OK(kith_noise_hs_write(ini, NULL, 0, msg, sizeof(msg), &len));
        memcpy(msg, low[i], 32);
        ASSERT_ERR(kith_noise_hs_read(resp, msg, len, buf, sizeof(buf), &plen), KITH_ECRYPTO);
        assert_dead(resp, msg, len);
        kith_noise_hs_free(ini);
        kith_noise_hs_free(resp);

        /* XX message 2 with a low-order e: "ee" fails at the initiator. */
        ini = side_new(&k, KITH_NOISE_XX, 1, 0);
        resp = side_new(&k, KITH_NOISE_XX, 0, 0);
        step(ini, resp, 0, NULL, 0, msg, sizeof(msg), &len);
        ASSERT_OK(kith_noise_hs_write(resp, NULL, 0, msg, sizeof(msg), &len));
        memcpy(msg, low[i], 32);
        ASSERT_ERR(kith_noise_hs_read(ini, msg, len, buf, sizeof(buf), &plen), KITH_ECRYPTO);
        assert_dead(ini, msg, len);
        kith_noise_hs_free(ini);
        kith_noise_hs_free(resp);
    }
}

/* ======================================================= sizes */

/* Handshake overhead of each message: keys, encrypted static keys and tags. */
static size_t
hs_overhead(int pattern, int m)
{
    static const size_t ik[] = {96, 48}, xx[] = {32, 96, 64};
    return pattern == KITH_NOISE_IK ? ik[m] : xx[m];
}

/* Payloads filling a message to exactly KITH_NOISE_MAX_MSG go through; one byte more,
 * or a buffer one byte short, is refused and kills the state. */
static void
test_message_sizes(void **state)
{
    uint8_t *payload = malloc(KITH_NOISE_MAX_MSG + 1), *msg = malloc(KITH_NOISE_MAX_MSG + 1);
    uint8_t *pbuf = malloc(KITH_NOISE_MAX_MSG);
    size_t len, plen;
    keys_t k;
    keys_load(&k);
    assert_non_null(payload);
    assert_non_null(msg);
    assert_non_null(pbuf);
    randombytes_buf(payload, KITH_NOISE_MAX_MSG + 1);

    for (size_t p = 0; p < 2; p++) {
        int pattern = PATTERNS[p];
        for (int target = 0; target < n_hs_msgs(pattern); target++) {
            size_t max = KITH_NOISE_MAX_MSG - hs_overhead(pattern, target);
            assert_true(hs_overhead(pattern, target) <= KITH_NOISE_HS_OVERHEAD);

            /* Too large a payload, then too small an output buffer. */
            for (int variant = 0; variant < 2; variant++) {
                kith_noise_hs_t *ini = side_new(&k, pattern, 1, 1);
                kith_noise_hs_t *resp = side_new(&k, pattern, 0, 1);
                for (int m = 0; m < target; m++) {
                    step(ini, resp, m, payload, 10, msg, KITH_NOISE_MAX_MSG, &len);
                }
                kith_noise_hs_t *tx = target % 2 == 0 ? ini : resp;
                size_t pl = variant == 0 ? max + 1 : max;
                size_t cap = variant == 0 ? KITH_NOISE_MAX_MSG + 1 : KITH_NOISE_MAX_MSG - 1;
                ASSERT_ERR(kith_noise_hs_write(tx, payload, pl, msg, cap, &len), KITH_ETOOBIG);
                assert_dead(tx, msg, 0);
                kith_noise_hs_free(ini);
                kith_noise_hs_free(resp);
            }

            /* A message over the limit is refused by the reader before anything else. */
            {
                kith_noise_hs_t *ini = side_new(&k, pattern, 1, 1);
                kith_noise_hs_t *resp = side_new(&k, pattern, 0, 1);
                for (int m = 0; m < target; m++) {
                    step(ini, resp, m, payload, 10, msg, KITH_NOISE_MAX_MSG, &len);
                }
                kith_noise_hs_t *rx = target % 2 == 0 ? resp : ini;
                ASSERT_ERR(kith_noise_hs_read(rx, payload, KITH_NOISE_MAX_MSG + 1, pbuf,
                                              KITH_NOISE_MAX_MSG, &plen),
                           KITH_EPROTO);
                assert_dead(rx, msg, 0);
                kith_noise_hs_free(ini);
                kith_noise_hs_free(resp);
            }

            /* The exact maximum works; the reader needs the whole payload's room. */
            for (int variant = 0; variant < 2; variant++) {
                kith_noise_hs_t *ini = side_new(&k, pattern, 1, 1);
                kith_noise_hs_t *resp = side_new(&k, pattern, 0, 1);
                for (int m = 0; m < target; m++) {
                    step(ini, resp, m, payload, 10, msg, KITH_NOISE_MAX_MSG, &len);
                }
                kith_noise_hs_t *tx = target % 2 == 0 ? ini : resp;
                kith_noise_hs_t *rx = target % 2 == 0 ? resp : ini;
                ASSERT_OK(kith_noise_hs_write(tx, payload, max, msg, KITH_NOISE_MAX_MSG, &len));
                ASSERT_EQ(len, KITH_NOISE_MAX_MSG);
                if (variant == 0) {
                    ASSERT_OK(kith_noise_hs_read(rx, msg, len, pbuf, max, &plen));
                    ASSERT_EQ(plen, max);
                    assert_memory_equal(pbuf, payload, max);
                } else {
                    ASSERT_ERR(kith_noise_hs_read(rx, msg, len, pbuf, max - 1, &plen),
                               KITH_ETOOBIG);
                    assert_dead(rx, msg, len);
                }
                kith_noise_hs_free(ini);
                kith_noise_hs_free(resp);
            }
        }
    }

    /* Transport: 65519 bytes of plaintext is the most one message carries. */
    {
        kith_noise_hs_t *ini, *resp;
        kith_noise_cs_t tx, rx, r_tx, r_rx;
        const size_t max = KITH_NOISE_MAX_MSG - KITH_NOISE_TAG_LEN;
        handshake(&k, KITH_NOISE_IK, 0, &ini, &resp);
        ASSERT_OK(kith_noise_hs_split(ini, &tx, &rx));
        ASSERT_OK(kith_noise_hs_split(resp, &r_tx, &r_rx));
        ASSERT_ERR(kith_noise_cs_encrypt(&tx, NULL, 0, payload, max + 1, msg,
                                         KITH_NOISE_MAX_MSG + 1, &len),
                   KITH_ETOOBIG);
        ASSERT_ERR(kith_noise_cs_encrypt(&tx, NULL, 0, payload, 10, msg, 25, &len), KITH_ETOOBIG);
        ASSERT_EQ(tx.n, 0);
        ASSERT_OK(kith_noise_cs_encrypt(&tx, NULL, 0, payload, max, msg, KITH_NOISE_MAX_MSG, &len));
        ASSERT_EQ(len, KITH_NOISE_MAX_MSG);
        ASSERT_ERR(kith_noise_cs_decrypt(&r_rx, NULL, 0, msg, len, pbuf, max - 1, &plen),
                   KITH_ETOOBIG);
        ASSERT_ERR(kith_noise_cs_decrypt(&r_rx, NULL, 0, msg, KITH_NOISE_MAX_MSG + 1, pbuf,
                                         KITH_NOISE_MAX_MSG, &plen),
                   KITH_EPROTO);
        ASSERT_ERR(kith_noise_cs_decrypt(&r_rx, NULL, 0, msg, 15, pbuf, KITH_NOISE_MAX_MSG, &plen),
                   KITH_EPROTO);
        ASSERT_EQ(r_rx.n, 0);
        ASSERT_OK(kith_noise_cs_decrypt(&r_rx, NULL, 0, msg, len, pbuf, max, &plen));
        ASSERT_EQ(plen, max);
        assert_memory_equal(pbuf, payload, max);

        /* An empty message is a bare tag and round-trips; NULL out is fine for it. */
        ASSERT_OK(kith_noise_cs_encrypt(&tx, NULL, 0, NULL, 0, msg, 16, &len));
        ASSERT_EQ(len, 16);
        ASSERT_OK(kith_noise_cs_decrypt(&r_rx, NULL, 0, msg, len, NULL, 0, &plen));
        ASSERT_EQ(plen, 0);

        kith_noise_cs_wipe(&tx);
        kith_noise_cs_wipe(&rx);
        kith_noise_cs_wipe(&r_tx);
        kith_noise_cs_wipe(&r_rx);
        kith_noise_hs_free(ini);
        kith_noise_hs_free(resp);
    }
    free(payload);
    free(msg);
    free(pbuf);
}

/* ======================================================= turn order and arguments */

static void
test_out_of_turn(void **state)
{
    uint8_t msg[256], buf[256], out[64];
    size_t len, plen;
    kith_noise_cs_t a, b;
    keys_t k;
    keys_load(&k);

    for (size_t p = 0; p < 2; p++) {
        int pattern = PATTERNS[p];
        kith_noise_hs_t *ini, *resp;

        /* The responder cannot speak first, the initiator cannot listen first. */
        resp = side_new(&k, pattern, 0, 0);
        ASSERT_ERR(kith_noise_hs_write(resp, NULL, 0, msg, sizeof(msg), &len), KITH_EINVAL);
        assert_dead(resp, msg, 0);
        kith_noise_hs_free(resp);

        ini = side_new(&k, pattern, 1, 0);
        resp = side_new(&k, pattern, 0, 0);
        ASSERT_OK(kith_noise_hs_write(ini, NULL, 0, msg, sizeof(msg), &len));
        kith_noise_hs_free(ini);
        ini = side_new(&k, pattern, 1, 0);
        ASSERT_ERR(kith_noise_hs_read(ini, msg, len, buf, sizeof(buf), &plen), KITH_EINVAL);
        assert_dead(ini, msg, len);
        kith_noise_hs_free(ini);
        kith_noise_hs_free(resp);

        /* Writing twice in a row, and reading what was already read. */
        ini = side_new(&k, pattern, 1, 0);
        resp = side_new(&k, pattern, 0, 0);
        ASSERT_OK(kith_noise_hs_write(ini, NULL, 0, msg, sizeof(msg), &len));
        ASSERT_OK(kith_noise_hs_read(resp, msg, len, buf, sizeof(buf), &plen));
        ASSERT_ERR(kith_noise_hs_read(resp, msg, len, buf, sizeof(buf), &plen), KITH_EINVAL);
        ASSERT_ERR(kith_noise_hs_write(ini, NULL, 0, msg, sizeof(msg), &len), KITH_EINVAL);
        kith_noise_hs_free(ini);
        kith_noise_hs_free(resp);

        /* Before the end: no hash, no split, and the ephemeral can no longer be fixed. */
        ini = side_new(&k, pattern, 1, 0);
        resp = side_new(&k, pattern, 0, 0);
        ASSERT_ERR(kith_noise_hs_hash(ini, out), KITH_EINVAL);
        ASSERT_ERR(kith_noise_hs_split(ini, &a, &b), KITH_EINVAL);
        step(ini, resp, 0, NULL, 0, msg, sizeof(msg), &len);
        ASSERT_ERR(kith__noise_hs_set_ephemeral(ini, k.e_i), KITH_EINVAL);
        ASSERT_ERR(kith_noise_hs_split(resp, &a, &b), KITH_EINVAL);
        assert_false(kith_noise_hs_done(ini));
        /* The remote static key is known exactly when the pattern says so. */
        if (pattern == KITH_NOISE_IK) {
            ASSERT_OK(kith_noise_hs_remote_static(ini, out));
            assert_memory_equal(out, k.s_r_pub, 32);
            ASSERT_OK(kith_noise_hs_remote_static(resp, out));
            assert_memory_equal(out, k.s_i_pub, 32);
        } else {
            ASSERT_ERR(kith_noise_hs_remote_static(ini, out), KITH_EINVAL);
            ASSERT_ERR(kith_noise_hs_remote_static(resp, out), KITH_EINVAL);
            step(ini, resp, 1, NULL, 0, msg, sizeof(msg), &len);
            ASSERT_OK(kith_noise_hs_remote_static(ini, out));
            assert_memory_equal(out, k.s_r_pub, 32);
            ASSERT_ERR(kith_noise_hs_remote_static(resp, out), KITH_EINVAL);
        }
        kith_noise_hs_free(ini);
        kith_noise_hs_free(resp);

        /* After the end: nothing more to write or read; split once only. */
        handshake(&k, pattern, 0, &ini, &resp);
        ASSERT_ERR(kith_noise_hs_split(ini, &a, &a), KITH_EINVAL);
        ASSERT_OK(kith_noise_hs_split(ini, &a, &b));
        ASSERT_ERR(kith_noise_hs_split(ini, &a, &b), KITH_EINVAL);
        ASSERT_OK(kith_noise_hs_hash(ini, out)); /* still there for channel binding */
        ASSERT_ERR(kith_noise_hs_write(resp, NULL, 0, msg, sizeof(msg), &len), KITH_EINVAL);
        ASSERT_ERR(kith_noise_hs_write(ini, NULL, 0, msg, sizeof(msg), &len), KITH_EINVAL);
        assert_false(kith_noise_hs_done(ini)); /* the failed write killed it */
        kith_noise_cs_wipe(&a);
        kith_noise_cs_wipe(&b);
        kith_noise_hs_free(ini);
        kith_noise_hs_free(resp);
    }
}

static void
test_bad_arguments(void **state)
{
    kith_noise_hs_t *hs = (kith_noise_hs_t *) 1;
    uint8_t msg[256], buf[64];
    size_t len;
    keys_t k;
    keys_load(&k);

    ASSERT_ERR(kith_noise_hs_new(NULL, KITH_NOISE_XX, 1, NULL, 0, k.s_i, NULL), KITH_EINVAL);
    ASSERT_ERR(kith_noise_hs_new(&hs, 7, 1, NULL, 0, k.s_i, NULL), KITH_EINVAL);
    assert_null(hs);
    /* IK initiator needs rs; nobody else may pass one. */
    ASSERT_ERR(kith_noise_hs_new(&hs, KITH_NOISE_IK, 1, NULL, 0, k.s_i, NULL), KITH_EINVAL);
    ASSERT_ERR(kith_noise_hs_new(&hs, KITH_NOISE_IK, 0, NULL, 0, k.s_r, k.s_i_pub), KITH_EINVAL);
    ASSERT_ERR(kith_noise_hs_new(&hs, KITH_NOISE_XX, 1, NULL, 0, k.s_i, k.s_r_pub), KITH_EINVAL);
    ASSERT_ERR(kith_noise_hs_new(&hs, KITH_NOISE_XX, 1, NULL, 3, k.s_i, NULL), KITH_EINVAL);
    assert_null(hs);
    kith_noise_hs_free(NULL);
    kith_noise_cs_wipe(NULL);
    assert_false(kith_noise_hs_done(NULL));

    /* A NULL payload with a length, or a missing out_len, kills the state. */
    ASSERT_OK(kith_noise_hs_new(&hs, KITH_NOISE_XX, 1, NULL, 0, k.s_i, NULL));
    ASSERT_ERR(kith_noise_hs_write(hs, NULL, 5, msg, sizeof(msg), &len), KITH_EINVAL);
    assert_dead(hs, msg, 0);
    kith_noise_hs_free(hs);
    ASSERT_OK(kith_noise_hs_new(&hs, KITH_NOISE_XX, 1, NULL, 0, k.s_i, NULL));
    ASSERT_ERR(kith_noise_hs_write(hs, NULL, 0, msg, sizeof(msg), NULL), KITH_EINVAL);
    kith_noise_hs_free(hs);

    ASSERT_ERR(kith_noise_hs_write(NULL, NULL, 0, msg, sizeof(msg), &len), KITH_EINVAL);
    ASSERT_ERR(kith_noise_hs_read(NULL, msg, 0, buf, sizeof(buf), &len), KITH_EINVAL);
    ASSERT_ERR(kith_noise_hs_remote_static(NULL, buf), KITH_EINVAL);
    ASSERT_ERR(kith_noise_hs_hash(NULL, buf), KITH_EINVAL);
    ASSERT_ERR(kith_noise_cs_encrypt(NULL, NULL, 0, NULL, 0, msg, sizeof(msg), &len), KITH_EINVAL);
    ASSERT_ERR(kith_noise_cs_decrypt(NULL, NULL, 0, msg, 16, buf, sizeof(buf), &len), KITH_EINVAL);
    ASSERT_ERR(kith_noise_cs_rekey(NULL), KITH_EINVAL);
}

/* ======================================================= cipher states */

static void
split_pair(const keys_t *k, int pattern, kith_noise_cs_t *i_tx, kith_noise_cs_t *i_rx,
           kith_noise_cs_t *r_tx, kith_noise_cs_t *r_rx)
{
    kith_noise_hs_t *ini, *resp;
    handshake(k, pattern, 0, &ini, &resp);
    ASSERT_OK(kith_noise_hs_split(ini, i_tx, i_rx));
    ASSERT_OK(kith_noise_hs_split(resp, r_tx, r_rx));
    assert_memory_equal(i_tx->k, r_rx->k, 32);
    assert_memory_equal(i_rx->k, r_tx->k, 32);
    assert_memory_not_equal(i_tx->k, i_rx->k, 32);
    kith_noise_hs_free(ini);
    kith_noise_hs_free(resp);
}

static void
test_nonce_exhaustion(void **state)
{
    static const uint8_t pt[] = "last words";
    uint8_t ct[64], out[64];
    size_t len, plen;
    kith_noise_cs_t i_tx, i_rx, r_tx, r_rx;
    keys_t k;
    keys_load(&k);
    split_pair(&k, KITH_NOISE_XX, &i_tx, &i_rx, &r_tx, &r_rx);

    i_tx.n = UINT64_MAX - 1;
    r_rx.n = UINT64_MAX - 1;
    ASSERT_OK(kith_noise_cs_encrypt(&i_tx, NULL, 0, pt, sizeof(pt), ct, sizeof(ct), &len));
    ASSERT_EQ(i_tx.n, UINT64_MAX);
    /* A forged message does not advance the nonce. */
    ct[0] ^= 1;
    ASSERT_ERR(kith_noise_cs_decrypt(&r_rx, NULL, 0, ct, len, out, sizeof(out), &plen),
               KITH_ECRYPTO);
    assert_true(r_rx.n == UINT64_MAX - 1);
    ct[0] ^= 1;
    ASSERT_OK(kith_noise_cs_decrypt(&r_rx, NULL, 0, ct, len, out, sizeof(out), &plen));
    assert_memory_equal(out, pt, sizeof(pt));
    assert_true(r_rx.n == UINT64_MAX);

    /* 2^64-1 is reserved: both directions refuse it and stay put. */
    ASSERT_ERR(kith_noise_cs_encrypt(&i_tx, NULL, 0, pt, sizeof(pt), ct, sizeof(ct), &len),
               KITH_ERANGE);
    assert_true(i_tx.n == UINT64_MAX);
    ASSERT_ERR(kith_noise_cs_decrypt(&r_rx, NULL, 0, ct, sizeof(pt) + 16, out, sizeof(out), &plen),
               KITH_ERANGE);
    assert_true(r_rx.n == UINT64_MAX);

    kith_noise_cs_wipe(&i_tx);
    kith_noise_cs_wipe(&i_rx);
    kith_noise_cs_wipe(&r_tx);
    kith_noise_cs_wipe(&r_rx);
    static const kith_noise_cs_t zero;
    assert_memory_equal(&i_tx, &zero, sizeof(zero));
}

/* REKEY(k) = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros), computed here directly. */
static void
expected_rekey(const uint8_t k[32], uint8_t out[32])
{
    static const uint8_t zeros[32];
    uint8_t nonce[12] = {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t ct[48];
    unsigned long long ct_len;
    ASSERT_EQ(
        crypto_aead_chacha20poly1305_ietf_encrypt(ct, &ct_len, zeros, 32, NULL, 0, NULL, nonce, k),
        0);
    memcpy(out, ct, 32);
}

static void
test_rekey(void **state)
{
    static const uint8_t pt[] = "after rekey";
    uint8_t before[32], want[32], ct[64], out[64];
    size_t len, plen;
    kith_noise_cs_t i_tx, i_rx, r_tx, r_rx;
    keys_t k;
    keys_load(&k);
    split_pair(&k, KITH_NOISE_IK, &i_tx, &i_rx, &r_tx, &r_rx);

    /* Some traffic first, so the nonce is not zero and must survive the rekey. */
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(kith_noise_cs_encrypt(&i_tx, NULL, 0, pt, sizeof(pt), ct, sizeof(ct), &len));
        ASSERT_OK(kith_noise_cs_decrypt(&r_rx, NULL, 0, ct, len, out, sizeof(out), &plen));
    }
    memcpy(before, i_tx.k, 32);
    expected_rekey(before, want);
    ASSERT_OK(kith_noise_cs_rekey(&i_tx));
    ASSERT_OK(kith_noise_cs_rekey(&r_rx));
    assert_memory_not_equal(i_tx.k, before, 32);
    assert_memory_equal(i_tx.k, want, 32);
    assert_memory_equal(r_rx.k, want, 32);
    ASSERT_EQ(i_tx.n, 3);
    ASSERT_EQ(r_rx.n, 3);
    ASSERT_OK(kith_noise_cs_encrypt(&i_tx, NULL, 0, pt, sizeof(pt), ct, sizeof(ct), &len));
    ASSERT_OK(kith_noise_cs_decrypt(&r_rx, NULL, 0, ct, len, out, sizeof(out), &plen));
    assert_memory_equal(out, pt, sizeof(pt));

    /* A rekey on one side only: the other can no longer decrypt, and its nonce stays. */
    ASSERT_OK(kith_noise_cs_rekey(&r_tx));
    ASSERT_OK(kith_noise_cs_encrypt(&r_tx, NULL, 0, pt, sizeof(pt), ct, sizeof(ct), &len));
    ASSERT_ERR(kith_noise_cs_decrypt(&i_rx, NULL, 0, ct, len, out, sizeof(out), &plen),
               KITH_ECRYPTO);
    ASSERT_EQ(i_rx.n, 0);
    ASSERT_OK(kith_noise_cs_rekey(&i_rx));
    ASSERT_OK(kith_noise_cs_decrypt(&i_rx, NULL, 0, ct, len, out, sizeof(out), &plen));

    kith_noise_cs_wipe(&i_tx);
    kith_noise_cs_wipe(&i_rx);
    kith_noise_cs_wipe(&r_tx);
    kith_noise_cs_wipe(&r_rx);
}

/* Associated data is authenticated, and in-place encryption and decryption work. */
static void
test_transport_ad_and_in_place(void **state)
{
    static const uint8_t ad[] = "frame header";
    uint8_t buf[64], out[64];
    size_t len, plen;
    kith_noise_cs_t i_tx, i_rx, r_tx, r_rx;
    keys_t k;
    keys_load(&k);
    split_pair(&k, KITH_NOISE_XX, &i_tx, &i_rx, &r_tx, &r_rx);

    memcpy(buf, "in place", 8);
    ASSERT_OK(kith_noise_cs_encrypt(&r_tx, ad, sizeof(ad), buf, 8, buf, sizeof(buf), &len));
    ASSERT_EQ(len, 24);
    ASSERT_ERR(kith_noise_cs_decrypt(&i_rx, ad, sizeof(ad) - 1, buf, len, out, sizeof(out), &plen),
               KITH_ECRYPTO);
    ASSERT_ERR(kith_noise_cs_decrypt(&i_rx, NULL, 0, buf, len, out, sizeof(out), &plen),
               KITH_ECRYPTO);
    ASSERT_OK(kith_noise_cs_decrypt(&i_rx, ad, sizeof(ad), buf, len, buf, sizeof(buf), &plen));
    ASSERT_EQ(plen, 8);
    assert_memory_equal(buf, "in place", 8);

    kith_noise_cs_wipe(&i_tx);
    kith_noise_cs_wipe(&i_rx);
    kith_noise_cs_wipe(&r_tx);
    kith_noise_cs_wipe(&r_rx);
}

/* Random ephemerals: both sides agree, and two sessions never share a hash or keys. */
static void
test_random_ephemerals(void **state)
{
    keys_t k;
    keys_load(&k);

    for (size_t p = 0; p < 2; p++) {
        kith_noise_hs_t *ini, *resp;
        uint8_t h1[64], h2[64], h3[64], rs[32];
        kith_noise_cs_t a, b, c, d;

        handshake(&k, PATTERNS[p], 0, &ini, &resp);
        ASSERT_OK(kith_noise_hs_hash(ini, h1));
        ASSERT_OK(kith_noise_hs_hash(resp, h2));
        assert_memory_equal(h1, h2, 64);
        ASSERT_OK(kith_noise_hs_remote_static(resp, rs));
        assert_memory_equal(rs, k.s_i_pub, 32);
        ASSERT_OK(kith_noise_hs_split(ini, &a, &b));
        ASSERT_OK(kith_noise_hs_split(resp, &c, &d));
        assert_memory_equal(a.k, d.k, 32);
        assert_memory_equal(b.k, c.k, 32);
        kith_noise_hs_free(ini);
        kith_noise_hs_free(resp);

        handshake(&k, PATTERNS[p], 0, &ini, &resp);
        ASSERT_OK(kith_noise_hs_hash(ini, h3));
        assert_memory_not_equal(h1, h3, 64);
        ASSERT_OK(kith_noise_hs_split(ini, &c, &d));
        assert_memory_not_equal(a.k, c.k, 32);
        kith_noise_hs_free(ini);
        kith_noise_hs_free(resp);

        kith_noise_cs_wipe(&a);
        kith_noise_cs_wipe(&b);
        kith_noise_cs_wipe(&c);
        kith_noise_cs_wipe(&d);
    }
}

/* The JSON reader refuses malformed documents instead of half-reading them. */
static void
test_json_reader(void **state)
{
    static const char *bad[] = {
        "",  "{",     "{\"a\":}",        "[1,]",        "{\"a\" 1}",   "\"abc",
        "x", "[1] 2", "{\"a\":\"\\q\"}", "{\"a\":tru}", "\"\\u00e9\"", "\"\x01\"",
    };
    jv_t v;
    char deep[100];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (json_parse(bad[i], strlen(bad[i]), &v) == 0) {
            print_error("accepted bad JSON: %s\n", bad[i]);
            jv_free(&v);
            fail();
        }
    }
    memset(deep, '[', sizeof(deep));
    assert_int_not_equal(json_parse(deep, sizeof(deep), &v), 0);

    const char *good = " {\"a\": [1, \"x\\n\", {}, [], null, true], \"b\": \"\\u0041\"} ";
    ASSERT_EQ(json_parse(good, strlen(good), &v), 0);
    ASSERT_EQ(json_get(&v, "a")->n, 6);
    ASSERT_STREQ(json_get(&v, "a")->vals[1].str, "x\n");
    ASSERT_STREQ(json_get(&v, "b")->str, "A");
    assert_null(json_get(&v, "c"));
    jv_free(&v);
}

static int
setup(void **state)
{
    return sodium_init() < 0 ? -1 : 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_reader),
        cmocka_unit_test(test_vectors_cacophony),
        cmocka_unit_test(test_vectors_noise_c),
        cmocka_unit_test(test_vectors_snow),
        cmocka_unit_test(test_vectors_detect_corruption),
        cmocka_unit_test(test_tampered_messages),
        cmocka_unit_test(test_truncated_messages),
        cmocka_unit_test(test_wrong_responder_key),
        cmocka_unit_test(test_prologue_mismatch),
        cmocka_unit_test(test_low_order_keys),
        cmocka_unit_test(test_message_sizes),
        cmocka_unit_test(test_out_of_turn),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_nonce_exhaustion),
        cmocka_unit_test(test_rekey),
        cmocka_unit_test(test_transport_ad_and_in_place),
        cmocka_unit_test(test_random_ephemerals),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
