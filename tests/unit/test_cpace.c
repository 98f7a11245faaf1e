/*
 * Tests for src/crypto/cpace: CPace on ristretto255 with SHA-512, draft-irtf-cfrg-cpace-21.
 *
 * The core test reads the published vector (tests/vectors/cpace/, see SOURCE.md there) at
 * run time and checks every value the initiator-responder setting produces: the generator
 * string and its hash, g, Ya, Yb, K, ISK_IR and sid_output_ir, plus the valid
 * scalar_mult_vfy case and the two invalid encodings that must abort. A second test
 * corrupts each expected value in turn and checks that the comparison notices, so the
 * vector check cannot silently pass. The rest covers behaviour beyond the vector: two
 * parties with random scalars agree exactly when their PRS (and CI, sid) agree, bad peer
 * shares are refused, and the state refuses misuse.
 *
 * The JSON reader is the same small, strict, test-only reader as in test_noise.c.
 */
#include "check.h"

#include <stdlib.h>

#include <sodium.h>

#include "crypto/cpace.h"

#ifndef KITH_TEST_DIR
#error "KITH_TEST_DIR must name the tests/ directory"
#endif

#define VEC_FILE KITH_TEST_DIR "/vectors/cpace/ristretto255_sha512.json"

#include "json_reader.h"

/* ======================================================= the vector */

typedef struct {
    uint8_t *p; /* malloc'd, never NULL once loaded */
    size_t len;
} bytes_t;

typedef struct {
    bytes_t prs, ci, sid, ada, adb, ya, yb;   /* inputs */
    bytes_t gen_string, gen_hash;             /* intermediate */
    bytes_t g, Ya, Yb, K, isk_ir, sid_out_ir; /* outputs */
    bytes_t vfy_s, vfy_x, vfy_mult, vfy_out;  /* scalar_mult_vfy.valid[0] */
    bytes_t bad_s[2], bad_y[2];               /* scalar_mult_vfy.invalid[0..1] */
    long zpad_len;
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

/* Decodes a required hex string field of expected length len (0: any length). */
static void
field_hex(const jv_t *obj, const char *key, bytes_t *out, size_t len)
{
    const jv_t *f = json_get(obj, key);
    memset(out, 0, sizeof(*out));
    if (f == NULL || f->type != J_STR) {
        print_error("field %s missing or not a string\n", key);
        fail();
    }
    if (hex_decode(f->str, out) != 0) {
        print_error("field %s is not hex\n", key);
        fail();
    }
    if (len != 0 && out->len != len) {
        print_error("field %s has %zu bytes, expected %zu\n", key, out->len, len);
        fail();
    }
}

static const jv_t *
array_item(const jv_t *arr, size_t i)
{
    assert_non_null(arr);
    ASSERT_EQ(arr->type, J_ARR);
    assert_true(i < arr->n);
    return &arr->vals[i];
}

static void
vector_load(vector_t *v)
{
    size_t len = 0;
    char *text = read_text_file(VEC_FILE, &len);
    jv_t doc;

    memset(v, 0, sizeof(*v));
    assert_non_null(text);
    ASSERT_EQ(json_parse(text, len, &doc), 0);
    free(text);

    const jv_t *suite = json_get(&doc, "suite");
    assert_non_null(suite);
    ASSERT_STREQ(json_get(suite, "G.DSI_ascii")->str, "CPaceRistretto255");
    ASSERT_STREQ(json_get(suite, "G.DSI_ISK_ascii")->str, "CPaceRistretto255_ISK");

    const jv_t *vec = array_item(json_get(&doc, "vectors"), 0);
    const jv_t *in = json_get(vec, "inputs");
    const jv_t *mid = json_get(vec, "intermediate");
    const jv_t *outp = json_get(vec, "outputs");
    field_hex(in, "PRS", &v->prs, 0);
    field_hex(in, "CI", &v->ci, 0);
    field_hex(in, "sid", &v->sid, 0);
    field_hex(in, "ADa", &v->ada, 0);
    field_hex(in, "ADb", &v->adb, 0);
    field_hex(in, "ya", &v->ya, 32);
    field_hex(in, "yb", &v->yb, 32);
    field_hex(mid, "generator_string", &v->gen_string, 0);
    field_hex(mid, "generator_hash", &v->gen_hash, 64);
    const jv_t *zp = json_get(mid, "zpad_length");
    assert_non_null(zp);
    ASSERT_EQ(zp->type, J_NUM);
    v->zpad_len = strtol(zp->str, NULL, 10);
    field_hex(outp, "g", &v->g, 32);
    field_hex(outp, "Ya", &v->Ya, 32);
    field_hex(outp, "Yb", &v->Yb, 32);
    field_hex(outp, "K", &v->K, 32);
    field_hex(outp, "ISK_IR", &v->isk_ir, 64);
    field_hex(outp, "sid_output_ir", &v->sid_out_ir, 64);

    const jv_t *vfy = json_get(&doc, "scalar_mult_vfy");
    const jv_t *ok = array_item(json_get(vfy, "valid"), 0);
    field_hex(ok, "s", &v->vfy_s, 32);
    field_hex(ok, "X", &v->vfy_x, 32);
    field_hex(ok, "scalar_mult_s_decode_X", &v->vfy_mult, 32);
    field_hex(ok, "scalar_mult_vfy_s_X", &v->vfy_out, 32);
    const jv_t *bad = json_get(vfy, "invalid");
    ASSERT_EQ(bad->n, 2);
    for (size_t i = 0; i < 2; i++) {
        field_hex(array_item(bad, i), "s", &v->bad_s[i], 32);
        field_hex(array_item(bad, i), "Y", &v->bad_y[i], 32);
        ASSERT_STREQ(json_get(array_item(bad, i), "expected")->str, "identity");
    }
    jv_free(&doc);
}

/* Every loaded field, for freeing and for the corruption test. */
static size_t
vector_fields(vector_t *v, bytes_t **out)
{
    bytes_t *list[] = {&v->prs,      &v->ci,       &v->sid,        &v->ada,      &v->adb,
                       &v->ya,       &v->yb,       &v->gen_string, &v->gen_hash, &v->g,
                       &v->Ya,       &v->Yb,       &v->K,          &v->isk_ir,   &v->sid_out_ir,
                       &v->vfy_s,    &v->vfy_x,    &v->vfy_mult,   &v->vfy_out,  &v->bad_s[0],
                       &v->bad_s[1], &v->bad_y[0], &v->bad_y[1]};
    memcpy(out, list, sizeof(list));
    return sizeof(list) / sizeof(list[0]);
}

static void
vector_free(vector_t *v)
{
    bytes_t *all[32];
    size_t n = vector_fields(v, all);
    for (size_t i = 0; i < n; i++) {
        free(all[i]->p);
    }
    memset(v, 0, sizeof(*v));
}

/* ======================================================= checking the vector */

/* Counts one mismatch (and says which) when got differs from want. */
static int
differ(const char *what, const uint8_t *got, const bytes_t *want, size_t got_len, int quiet)
{
    if (got_len == want->len && memcmp(got, want->p, got_len) == 0) {
        return 0;
    }
    if (!quiet) {
        print_error("%s differs from the vector\n", what);
    }
    return 1;
}

/* Runs everything the vector pins and returns the number of mismatches. */
static int
check_vector(const vector_t *v, int quiet)
{
    uint8_t gs[512], hash[64], g[32], share[32], k[32], isk[64], sid_out[64];
    size_t gs_len = 0;
    kith_cpace_t *a = NULL, *b = NULL;
    int bad = 0;

    /* generator_string = lv_cat(DSI, PRS, zero_bytes(zpad), CI, sid), and its zpad. */
    ASSERT_OK(kith__cpace_generator_string(v->prs.p, v->prs.len, v->ci.p, v->ci.len, v->sid.p,
                                           v->sid.len, gs, sizeof(gs), &gs_len));
    bad += differ("generator_string", gs, &v->gen_string, gs_len, quiet);
    size_t zpad_at = 1 + strlen("CPaceRistretto255") + 1 + v->prs.len;
    assert_true(zpad_at < gs_len);
    bad += gs[zpad_at] != (uint8_t) v->zpad_len;

    /* generator_hash and g. */
    ASSERT_OK(kith__cpace_generator(v->prs.p, v->prs.len, v->ci.p, v->ci.len, v->sid.p, v->sid.len,
                                    hash, g));
    bad += differ("generator_hash", hash, &v->gen_hash, 64, quiet);
    bad += differ("g", g, &v->g, 32, quiet);

    /* Ya and Yb from the injected scalars, through the real start path. */
    ASSERT_OK(kith_cpace_start(&a, v->prs.p, v->prs.len, v->ci.p, v->ci.len, v->sid.p, v->sid.len,
                               v->ada.p, v->ada.len, share));
    ASSERT_OK(kith__cpace_set_scalar(a, v->ya.p, share));
    bad += differ("Ya", share, &v->Ya, 32, quiet);
    ASSERT_OK(kith_cpace_start(&b, v->prs.p, v->prs.len, v->ci.p, v->ci.len, v->sid.p, v->sid.len,
                               v->adb.p, v->adb.len, share));
    ASSERT_OK(kith__cpace_set_scalar(b, v->yb.p, share));
    bad += differ("Yb", share, &v->Yb, 32, quiet);

    /* K = scalar_mult_vfy(ya, Yb) = scalar_mult_vfy(yb, Ya). The expected shares are
     * inputs here, so a corrupted one may be refused outright: that counts as a mismatch. */
    if (kith_cpace_scalar_mult_vfy(v->ya.p, v->Yb.p, k) != KITH_OK) {
        bad++;
    } else {
        bad += differ("K (initiator side)", k, &v->K, 32, quiet);
    }
    if (kith_cpace_scalar_mult_vfy(v->yb.p, v->Ya.p, k) != KITH_OK) {
        bad++;
    } else {
        bad += differ("K (responder side)", k, &v->K, 32, quiet);
    }

    /* ISK_IR and sid_output_ir, on both sides. */
    if (kith_cpace_finish(a, 1, v->Yb.p, v->adb.p, v->adb.len, isk) != KITH_OK) {
        bad++;
    } else {
        bad += differ("ISK_IR (initiator)", isk, &v->isk_ir, 64, quiet);
        ASSERT_OK(kith_cpace_sid_output(a, sid_out));
        bad += differ("sid_output_ir (initiator)", sid_out, &v->sid_out_ir, 64, quiet);
    }
    if (kith_cpace_finish(b, 0, v->Ya.p, v->ada.p, v->ada.len, isk) != KITH_OK) {
        bad++;
    } else {
        bad += differ("ISK_IR (responder)", isk, &v->isk_ir, 64, quiet);
        ASSERT_OK(kith_cpace_sid_output(b, sid_out));
        bad += differ("sid_output_ir (responder)", sid_out, &v->sid_out_ir, 64, quiet);
    }
    kith_cpace_free(a);
    kith_cpace_free(b);

    /* scalar_mult_vfy: the valid case. */
    ASSERT_OK(kith_cpace_scalar_mult_vfy(v->vfy_s.p, v->vfy_x.p, k));
    /* Setting bit 255 of the valid X makes it non-canonical (RFC 9496, 4.3.1). */
    {
        uint8_t x[32], k2[32];
        memcpy(x, v->vfy_x.p, 32);
        x[31] |= 0x80;
        ASSERT_ERR(kith_cpace_scalar_mult_vfy(v->vfy_s.p, x, k2), KITH_ECRYPTO);
    }
    bad += differ("scalar_mult_s_decode_X", k, &v->vfy_mult, 32, quiet);
    bad += differ("scalar_mult_vfy_s_X", k, &v->vfy_out, 32, quiet);

    /* The two invalid cases must be refused, by the primitive and by a run. */
    for (int i = 0; i < 2; i++) {
        memset(k, 0xaa, sizeof(k));
        ASSERT_ERR(kith_cpace_scalar_mult_vfy(v->bad_s[i].p, v->bad_y[i].p, k), KITH_ECRYPTO);
        assert_true(sodium_is_zero(k, sizeof(k)));
        ASSERT_OK(kith_cpace_start(&a, v->prs.p, v->prs.len, v->ci.p, v->ci.len, v->sid.p,
                                   v->sid.len, v->ada.p, v->ada.len, share));
        ASSERT_ERR(kith_cpace_finish(a, 1, v->bad_y[i].p, v->adb.p, v->adb.len, isk), KITH_ECRYPTO);
        assert_true(sodium_is_zero(isk, sizeof(isk)));
        kith_cpace_free(a);
    }
    return bad;
}

static void
test_vector(void **state)
{
    vector_t v;
    vector_load(&v);
    ASSERT_EQ(check_vector(&v, 0), 0);
    vector_free(&v);
}

/* Flips the first, a middle and the last byte of every expected value in turn: each
 * corruption must be reported, and once restored the vector matches again. */
static void
test_vector_detects_corruption(void **state)
{
    vector_t v;
    size_t caught = 0;

    vector_load(&v);
    bytes_t *expected[] = {&v.gen_string, &v.gen_hash, &v.g,          &v.Ya,       &v.Yb,
                           &v.K,          &v.isk_ir,   &v.sid_out_ir, &v.vfy_mult, &v.vfy_out};
    for (size_t t = 0; t < sizeof(expected) / sizeof(expected[0]); t++) {
        size_t at[] = {0, expected[t]->len / 2, expected[t]->len - 1};
        for (size_t a = 0; a < 3; a++) {
            expected[t]->p[at[a]] ^= 0x01;
            if (check_vector(&v, 1) == 0) {
                print_error("corrupting expected value %zu byte %zu went unnoticed\n", t, at[a]);
                fail();
            }
            expected[t]->p[at[a]] ^= 0x01;
            caught++;
        }
    }
    v.zpad_len++;
    assert_int_not_equal(check_vector(&v, 1), 0);
    v.zpad_len--;
    ASSERT_EQ(check_vector(&v, 0), 0);
    print_message("%zu corruptions detected\n", caught + 1);
    vector_free(&v);
}

/* ======================================================= behaviour beyond the vector */

static const uint8_t CI[] = "\x0b"
                            "A_initiator"
                            "\x0b"
                            "B_responder";
static const uint8_t SID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* One run with random scalars. Returns the initiator's finish result; isk_a and isk_b get
 * both ISKs (the responder's finish must succeed: its peer share is honest). */
static int
run(const char *prs_a, const char *prs_b, const uint8_t *ci_b, size_t ci_b_len,
    const uint8_t *sid_b, uint8_t isk_a[64], uint8_t isk_b[64])
{
    kith_cpace_t *a = NULL, *b = NULL;
    uint8_t ya[32], yb[32], so_a[64], so_b[64];
    int rc;

    ASSERT_OK(kith_cpace_start(&a, (const uint8_t *) prs_a, strlen(prs_a), CI, sizeof(CI) - 1, SID,
                               sizeof(SID), (const uint8_t *) "ADa", 3, ya));
    ASSERT_OK(kith_cpace_start(&b, (const uint8_t *) prs_b, strlen(prs_b), ci_b, ci_b_len, sid_b,
                               16, (const uint8_t *) "ADb", 3, yb));
    assert_memory_not_equal(ya, yb, 32);
    ASSERT_OK(kith_cpace_finish(b, 0, ya, (const uint8_t *) "ADa", 3, isk_b));
    rc = kith_cpace_finish(a, 1, yb, (const uint8_t *) "ADb", 3, isk_a);
    if (rc == KITH_OK) {
        ASSERT_OK(kith_cpace_sid_output(a, so_a));
        ASSERT_OK(kith_cpace_sid_output(b, so_b));
        /* The session-id output is public and depends only on the transcript. */
        assert_memory_equal(so_a, so_b, 64);
    }
    kith_cpace_free(a);
    kith_cpace_free(b);
    return rc;
}

static void
test_same_prs_same_isk(void **state)
{
    uint8_t a1[64], b1[64], a2[64], b2[64];

    ASSERT_OK(run("correct horse", "correct horse", CI, sizeof(CI) - 1, SID, a1, b1));
    assert_memory_equal(a1, b1, 64);
    /* A second run has fresh scalars, hence a fresh key. */
    ASSERT_OK(run("correct horse", "correct horse", CI, sizeof(CI) - 1, SID, a2, b2));
    assert_memory_equal(a2, b2, 64);
    assert_memory_not_equal(a1, a2, 64);
    /* An empty PRS is still a valid (if useless) input. */
    ASSERT_OK(run("", "", CI, sizeof(CI) - 1, SID, a1, b1));
    assert_memory_equal(a1, b1, 64);
}

static void
test_different_inputs_different_isk(void **state)
{
    uint8_t a[64], b[64], sid2[16];

    ASSERT_OK(run("correct horse", "correct house", CI, sizeof(CI) - 1, SID, a, b));
    assert_memory_not_equal(a, b, 64);
    ASSERT_OK(run("correct horse", "correct horse", CI, sizeof(CI) - 2, SID, a, b));
    assert_memory_not_equal(a, b, 64);
    memcpy(sid2, SID, 16);
    sid2[15] ^= 1;
    ASSERT_OK(run("correct horse", "correct horse", CI, sizeof(CI) - 1, sid2, a, b));
    assert_memory_not_equal(a, b, 64);
}

/* The ADs enter the transcript: a party that sees a different peer AD gets another key. */
static void
test_ad_binds(void **state)
{
    kith_cpace_t *a = NULL, *b = NULL;
    uint8_t ya[32], yb[32], isk_a[64], isk_b[64];

    ASSERT_OK(kith_cpace_start(&a, (const uint8_t *) "pw", 2, CI, sizeof(CI) - 1, SID, 16,
                               (const uint8_t *) "ADa", 3, ya));
    ASSERT_OK(kith_cpace_start(&b, (const uint8_t *) "pw", 2, CI, sizeof(CI) - 1, SID, 16,
                               (const uint8_t *) "ADb", 3, yb));
    ASSERT_OK(kith_cpace_finish(a, 1, yb, (const uint8_t *) "ADB", 3, isk_a));
    ASSERT_OK(kith_cpace_finish(b, 0, ya, (const uint8_t *) "ADa", 3, isk_b));
    assert_memory_not_equal(isk_a, isk_b, 64);
    kith_cpace_free(a);
    kith_cpace_free(b);

    /* Both sides claiming the initiator role also disagree. */
    ASSERT_OK(kith_cpace_start(&a, (const uint8_t *) "pw", 2, CI, sizeof(CI) - 1, SID, 16,
                               (const uint8_t *) "ADa", 3, ya));
    ASSERT_OK(kith_cpace_start(&b, (const uint8_t *) "pw", 2, CI, sizeof(CI) - 1, SID, 16,
                               (const uint8_t *) "ADb", 3, yb));
    ASSERT_OK(kith_cpace_finish(a, 1, yb, (const uint8_t *) "ADb", 3, isk_a));
    ASSERT_OK(kith_cpace_finish(b, 1, ya, (const uint8_t *) "ADa", 3, isk_b));
    assert_memory_not_equal(isk_a, isk_b, 64);
    kith_cpace_free(a);
    kith_cpace_free(b);
}

/* A peer share that is the identity, or not a canonical ristretto255 encoding, aborts the
 * run: KITH_ECRYPTO, the ISK output zeroed, and the state dead afterwards. */
static void
test_bad_peer_share(void **state)
{
    uint8_t bad[8][32], good[32], share[32], isk[64], so[64];
    kith_cpace_t *c = NULL, *peer = NULL;
    size_t n = 0;

    memset(bad[n++], 0x00, 32); /* the identity */
    memset(bad[n++], 0xff, 32); /* not canonical */
    /* A valid share with its top bit set, or with 2^255-19 added (non-canonical field). */
    ASSERT_OK(kith_cpace_start(&peer, (const uint8_t *) "pw", 2, CI, sizeof(CI) - 1, SID, 16, NULL,
                               0, good));
    memcpy(bad[n], good, 32);
    bad[n++][31] |= 0x80;
    /* p = 2^255 - 19 itself encodes zero non-canonically. */
    memset(bad[n], 0xff, 32);
    bad[n][0] = 0xed;
    bad[n++][31] = 0x7f;
    /* A negative field element (odd encoding) is refused by ristretto255 decoding. */
    memset(bad[n], 0, 32);
    bad[n++][0] = 0x01;
    /* The vector's Y_i1. */
    static const uint8_t yi1[32] = {0x2b, 0x3c, 0x6b, 0x8c, 0x4f, 0x38, 0x00, 0xe7,
                                    0xae, 0xf6, 0x86, 0x40, 0x25, 0xb4, 0xed, 0x79,
                                    0xbd, 0x59, 0x91, 0x17, 0xe4, 0x27, 0xc4, 0x1b,
                                    0xd4, 0x7d, 0x93, 0xd6, 0x54, 0xb4, 0xa5, 0x1c};
    memcpy(bad[n++], yi1, 32);

    for (size_t i = 0; i < n; i++) {
        ASSERT_OK(kith_cpace_start(&c, (const uint8_t *) "pw", 2, CI, sizeof(CI) - 1, SID, 16, NULL,
                                   0, share));
        memset(isk, 0xaa, sizeof(isk));
        ASSERT_ERR(kith_cpace_finish(c, i % 2, bad[i], NULL, 0, isk), KITH_ECRYPTO);
        assert_true(sodium_is_zero(isk, sizeof(isk)));
        ASSERT_ERR(kith_cpace_sid_output(c, so), KITH_EINVAL);
        /* Dead: even the honest share is refused now. */
        ASSERT_ERR(kith_cpace_finish(c, i % 2, good, NULL, 0, isk), KITH_EINVAL);
        kith_cpace_free(c);
    }
    kith_cpace_free(peer);
}

static void
test_misuse(void **state)
{
    kith_cpace_t *c = (kith_cpace_t *) 1, *d = NULL;
    uint8_t share[32], peer[32], isk[64], big[KITH_CPACE_MAX_INPUT + 1] = {0};
    /* The group order L, the smallest non-canonical scalar. */
    static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                  0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
    static const uint8_t zero[32], one[32] = {1};

    ASSERT_ERR(kith_cpace_start(NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, share), KITH_EINVAL);
    ASSERT_ERR(kith_cpace_start(&c, NULL, 1, NULL, 0, NULL, 0, NULL, 0, share), KITH_EINVAL);
    assert_null(c);
    ASSERT_ERR(kith_cpace_start(&c, big, sizeof(big), NULL, 0, NULL, 0, NULL, 0, share),
               KITH_EINVAL);
    ASSERT_ERR(kith_cpace_start(&c, NULL, 0, big, sizeof(big), NULL, 0, NULL, 0, share),
               KITH_EINVAL);
    ASSERT_ERR(kith_cpace_start(&c, NULL, 0, NULL, 0, big, sizeof(big), NULL, 0, share),
               KITH_EINVAL);
    ASSERT_ERR(kith_cpace_start(&c, NULL, 0, NULL, 0, NULL, 0, big, sizeof(big), share),
               KITH_EINVAL);
    /* The maximum is accepted. */
    ASSERT_OK(kith_cpace_start(&c, big, KITH_CPACE_MAX_INPUT, big, KITH_CPACE_MAX_INPUT, big,
                               KITH_CPACE_MAX_INPUT, big, KITH_CPACE_MAX_INPUT, share));
    ASSERT_OK(kith_cpace_start(&d, big, KITH_CPACE_MAX_INPUT, big, KITH_CPACE_MAX_INPUT, big,
                               KITH_CPACE_MAX_INPUT, big, KITH_CPACE_MAX_INPUT, peer));

    /* Bad injected scalars. */
    ASSERT_ERR(kith__cpace_set_scalar(c, zero, share), KITH_EINVAL);
    ASSERT_ERR(kith__cpace_set_scalar(c, L, share), KITH_EINVAL);
    ASSERT_ERR(kith__cpace_set_scalar(NULL, one, share), KITH_EINVAL);
    ASSERT_ERR(kith_cpace_scalar_mult_vfy(L, peer, share), KITH_EINVAL);
    ASSERT_ERR(kith_cpace_sid_output(c, isk), KITH_EINVAL);
    ASSERT_ERR(kith_cpace_finish(NULL, 1, peer, NULL, 0, isk), KITH_EINVAL);
    ASSERT_ERR(kith_cpace_finish(c, 1, peer, big, sizeof(big), isk), KITH_EINVAL);
    /* That misuse killed the run. */
    ASSERT_ERR(kith_cpace_finish(c, 1, peer, NULL, 0, isk), KITH_EINVAL);
    kith_cpace_free(c);

    /* Finish works once; after it neither finish nor set_scalar does. */
    ASSERT_OK(kith_cpace_start(&c, big, KITH_CPACE_MAX_INPUT, big, KITH_CPACE_MAX_INPUT, big,
                               KITH_CPACE_MAX_INPUT, big, KITH_CPACE_MAX_INPUT, share));
    ASSERT_OK(kith_cpace_finish(c, 1, peer, big, KITH_CPACE_MAX_INPUT, isk));
    ASSERT_ERR(kith_cpace_finish(c, 1, peer, big, KITH_CPACE_MAX_INPUT, isk), KITH_EINVAL);
    assert_true(sodium_is_zero(isk, sizeof(isk)));
    ASSERT_ERR(kith__cpace_set_scalar(c, one, share), KITH_EINVAL);
    kith_cpace_free(c);
    kith_cpace_free(d);
    kith_cpace_free(NULL);
}

/* The zero padding shrinks as PRS grows and disappears (max(0, ...)) once the encoded DSI
 * and PRS fill the first hash block; lengths of 128 and more take two LEB128 bytes. */
static void
test_generator_string_layout(void **state)
{
    uint8_t prs[300], out[600];
    size_t len;

    memset(prs, 'p', sizeof(prs));
    /* PRS of 108 bytes: 1 + (1 + 17) + (1 + 108) = 128, so zpad is 0. */
    ASSERT_OK(kith__cpace_generator_string(prs, 108, CI, sizeof(CI) - 1, SID, 16, out, sizeof(out),
                                           &len));
    ASSERT_EQ(len, 18 + 109 + 1 + 1 + (sizeof(CI) - 1) + 17);
    ASSERT_EQ(out[18], 108);
    ASSERT_EQ(out[18 + 109], 0); /* empty zero padding */
    /* PRS of 107 bytes: one byte of padding. */
    ASSERT_OK(kith__cpace_generator_string(prs, 107, CI, sizeof(CI) - 1, SID, 16, out, sizeof(out),
                                           &len));
    ASSERT_EQ(out[18 + 108], 1);
    ASSERT_EQ(out[18 + 109], 0);
    /* PRS of 200 bytes: length 0xc8 0x01, and no padding. */
    ASSERT_OK(kith__cpace_generator_string(prs, 200, CI, sizeof(CI) - 1, SID, 16, out, sizeof(out),
                                           &len));
    ASSERT_EQ(out[18], 0xc8);
    ASSERT_EQ(out[19], 0x01);
    ASSERT_EQ(out[20 + 200], 0);
    ASSERT_EQ(len, 18 + 202 + 1 + 1 + (sizeof(CI) - 1) + 17);
    /* Too small a buffer. */
    ASSERT_ERR(kith__cpace_generator_string(prs, 200, CI, sizeof(CI) - 1, SID, 16, out, 100, &len),
               KITH_ETOOBIG);
    ASSERT_EQ(len, 0);
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
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_vector_detects_corruption),
        cmocka_unit_test(test_same_prs_same_isk),
        cmocka_unit_test(test_different_inputs_different_isk),
        cmocka_unit_test(test_ad_binds),
        cmocka_unit_test(test_bad_peer_share),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_generator_string_layout),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
