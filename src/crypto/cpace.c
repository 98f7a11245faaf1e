/*
 * CPace on ristretto255 with SHA-512 (draft-irtf-cfrg-cpace-21, initiator-responder).
 *
 * The draft's functions map onto this file as follows:
 *
 *   prepend_len(x)       LEB128 length of x, then x                    (put_lv)
 *   lv_cat(a, b, ...)    prepend_len(a) || prepend_len(b) || ...        (put_lv, repeated)
 *   generator_string     lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid), where
 *                        len_zpad = max(0, 128 - 1 - len(prepend_len(PRS))
 *                                               - len(prepend_len(DSI)))
 *   calculate_generator  g = crypto_core_ristretto255_from_hash(SHA-512(generator_string))
 *   sample_scalar        crypto_core_ristretto255_scalar_random
 *   scalar_mult(y, g)    crypto_scalarmult_ristretto255
 *   scalar_mult_vfy      crypto_scalarmult_ristretto255 too: it refuses an invalid
 *                        encoding and an identity result, which is the draft's "return
 *                        G.I" (and G.I means abort); bit 255, which libsodium 1.0.18
 *                        ignores when decoding, is refused here
 *   transcript_ir        lv_cat(Ya, ADa) || lv_cat(Yb, ADb)
 *   ISK                  SHA-512(lv_cat(DSI_ISK, sid, K) || transcript_ir)
 *   sid_output_ir        SHA-512("CPaceSidOutput" || transcript_ir)
 *
 * with DSI = "CPaceRistretto255" and DSI_ISK = DSI || "_ISK". The byte strings are never
 * assembled in memory: each one is streamed into a SHA-512 state through a small sink,
 * and the same sink can write into a buffer instead, which is how the tests compare the
 * generator string with the published vector without a second implementation.
 *
 * Secrets: the scalar y, the generator g (knowing g lets anyone test PRS guesses offline)
 * and K live in the sodium_malloc'd state or in wiped temporaries; hash states that saw
 * PRS or K are wiped too. PRS itself is only streamed, never stored.
 */
#include "crypto/cpace.h"

#include <string.h>

#include <sodium.h>

#include "kith/error.h"

#define DSI            "CPaceRistretto255"
#define DSI_ISK        "CPaceRistretto255_ISK"
#define SID_OUTPUT_DSI "CPaceSidOutput"
#define S_IN_BYTES     128 /* SHA-512 block size, H.s_in_bytes */
#define LEB128_MAX     10  /* bytes of a LEB128-encoded 64-bit length */

enum { ST_STARTED = 1, ST_FINISHED, ST_DEAD };

struct kith_cpace {
    uint8_t y[KITH_CPACE_SCALAR_LEN];       /* secret scalar */
    uint8_t g[KITH_CPACE_SHARE_LEN];        /* generator; secret, derived from PRS */
    uint8_t share[KITH_CPACE_SHARE_LEN];    /* our public share y*g */
    uint8_t sid[KITH_CPACE_MAX_INPUT];      /* session id, sid_len bytes */
    size_t sid_len;                         /* bytes */
    uint8_t ad[KITH_CPACE_MAX_INPUT];       /* our associated data, ad_len bytes */
    size_t ad_len;                          /* bytes */
    uint8_t sid_output[KITH_CPACE_ISK_LEN]; /* valid in ST_FINISHED */
    int state;                              /* ST_* */
};

/* Where lv_cat output goes: into a SHA-512 state, or into a bounded buffer. */
typedef struct {
    crypto_hash_sha512_state *h; /* non-NULL: hash the bytes */
    uint8_t *buf;                /* else: copy them here */
    size_t cap;                  /* bytes available in buf */
    size_t len;                  /* bytes written to buf */
    int err;                     /* first error (sticky), KITH_OK if none */
} sink_t;

static void
sink_put(sink_t *s, const uint8_t *p, size_t n)
{
    if (s->err != KITH_OK || n == 0) {
        return;
    }
    if (s->h != NULL) {
        if (crypto_hash_sha512_update(s->h, p, n) != 0) {
            s->err = KITH_ECRYPTO;
        }
        return;
    }
    if (n > s->cap - s->len) {
        s->err = KITH_ETOOBIG;
        return;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

/* Unsigned LEB128 of n into out; returns the number of bytes (1..LEB128_MAX). */
static size_t
leb128(size_t n, uint8_t out[static LEB128_MAX])
{
    size_t k = 0;
    do {
        uint8_t b = (uint8_t) (n & 0x7f);
        n >>= 7;
        out[k++] = (uint8_t) (b | (n != 0 ? 0x80 : 0));
    } while (n != 0 && k < LEB128_MAX);
    return k;
}

/* len(prepend_len(x)) for a string of n bytes. */
static size_t
lv_len(size_t n)
{
    uint8_t tmp[LEB128_MAX];
    return leb128(n, tmp) + n;
}

/* prepend_len(p): the draft's building block of lv_cat. */
static void
put_lv(sink_t *s, const uint8_t *p, size_t n)
{
    uint8_t l[LEB128_MAX];
    sink_put(s, l, leb128(n, l));
    sink_put(s, p, n);
}

/* prepend_len(zero_bytes(n)). */
static void
put_lv_zeros(sink_t *s, size_t n)
{
    static const uint8_t zeros[S_IN_BYTES];
    uint8_t l[LEB128_MAX];
    sink_put(s, l, leb128(n, l));
    while (n > 0) {
        size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
        sink_put(s, zeros, k);
        n -= k;
    }
}

static int
inputs_ok(const uint8_t *p, size_t n)
{
    return n <= KITH_CPACE_MAX_INPUT && (p != NULL || n == 0);
}

/* generator_string(DSI, PRS, CI, sid, H.s_in_bytes), streamed into s. */
static void
put_generator_string(sink_t *s, const uint8_t *prs, size_t prs_len, const uint8_t *ci,
                     size_t ci_len, const uint8_t *sid, size_t sid_len)
{
    size_t used = 1 + lv_len(prs_len) + lv_len(strlen(DSI));
    size_t zpad = used < S_IN_BYTES ? S_IN_BYTES - used : 0;

    put_lv(s, (const uint8_t *) DSI, strlen(DSI));
    put_lv(s, prs, prs_len);
    put_lv_zeros(s, zpad);
    put_lv(s, ci, ci_len);
    put_lv(s, sid, sid_len);
}

/* calculate_generator: hash (64 bytes) and g. hash may be NULL. */
static int
calculate_generator(const uint8_t *prs, size_t prs_len, const uint8_t *ci, size_t ci_len,
                    const uint8_t *sid, size_t sid_len, uint8_t *hash_out,
                    uint8_t g[static KITH_CPACE_SHARE_LEN])
{
    crypto_hash_sha512_state h;
    uint8_t hash[crypto_hash_sha512_BYTES];
    sink_t s = {&h, NULL, 0, 0, KITH_OK};
    int rc = KITH_ECRYPTO;

    if (crypto_hash_sha512_init(&h) != 0) {
        goto out;
    }
    put_generator_string(&s, prs, prs_len, ci, ci_len, sid, sid_len);
    if (s.err != KITH_OK) {
        rc = s.err;
        goto out;
    }
    if (crypto_hash_sha512_final(&h, hash) != 0 ||
        crypto_core_ristretto255_from_hash(g, hash) != 0) {
        goto out;
    }
    if (hash_out != NULL) {
        memcpy(hash_out, hash, sizeof(hash));
    }
    rc = KITH_OK;
out:
    sodium_memzero(&h, sizeof(h));
    sodium_memzero(hash, sizeof(hash));
    if (rc != KITH_OK) {
        sodium_memzero(g, KITH_CPACE_SHARE_LEN);
    }
    return rc;
}

/* Non-zero if y is a canonical scalar (below the group order L). Constant time in y. */
static int
scalar_canonical(const uint8_t y[static KITH_CPACE_SCALAR_LEN])
{
    uint8_t wide[crypto_core_ristretto255_NONREDUCEDSCALARBYTES] = {0};
    uint8_t r[crypto_core_ristretto255_SCALARBYTES];
    int ok;

    memcpy(wide, y, KITH_CPACE_SCALAR_LEN);
    crypto_core_ristretto255_scalar_reduce(r, wide);
    ok = sodium_memcmp(r, y, sizeof(r)) == 0;
    sodium_memzero(wide, sizeof(wide));
    sodium_memzero(r, sizeof(r));
    return ok;
}

int
kith_cpace_scalar_mult_vfy(const uint8_t y[static KITH_CPACE_SCALAR_LEN],
                           const uint8_t x[static KITH_CPACE_SHARE_LEN],
                           uint8_t out[static KITH_CPACE_SHARE_LEN])
{
    if (y == NULL || x == NULL || out == NULL) {
        return KITH_EINVAL;
    }
    if (!scalar_canonical(y)) {
        sodium_memzero(out, KITH_CPACE_SHARE_LEN);
        return KITH_EINVAL;
    }
    /*
     * libsodium 1.0.18 refuses an encoding that is negative, off the group, or in [p, 2^255)
     * and an identity result, but it ignores bit 255. RFC 9496 (4.3.1) requires rejecting
     * every string whose integer value is p or more, so that bit is checked here: each
     * element then has exactly one accepted encoding and a share cannot be altered in
     * transit without changing the transcript's meaning.
     */
    if ((x[31] & 0x80) != 0 || crypto_scalarmult_ristretto255(out, y, x) != 0) {
        sodium_memzero(out, KITH_CPACE_SHARE_LEN);
        return KITH_ECRYPTO;
    }
    return KITH_OK;
}

/* Computes share = y*g from the state's scalar and generator. */
static int
compute_share(kith_cpace_t *c, uint8_t share_out[static KITH_CPACE_SHARE_LEN])
{
    if (crypto_scalarmult_ristretto255(c->share, c->y, c->g) != 0) {
        return KITH_ECRYPTO;
    }
    memcpy(share_out, c->share, KITH_CPACE_SHARE_LEN);
    return KITH_OK;
}

int
kith_cpace_start(kith_cpace_t **out, const uint8_t *prs, size_t prs_len, const uint8_t *ci,
                 size_t ci_len, const uint8_t *sid, size_t sid_len, const uint8_t *ad,
                 size_t ad_len, uint8_t share_out[static KITH_CPACE_SHARE_LEN])
{
    kith_cpace_t *c = NULL;
    int rc;

    if (out == NULL) {
        return KITH_EINVAL;
    }
    *out = NULL;
    if (share_out == NULL || !inputs_ok(prs, prs_len) || !inputs_ok(ci, ci_len) ||
        !inputs_ok(sid, sid_len) || !inputs_ok(ad, ad_len)) {
        return KITH_EINVAL;
    }
    if ((c = sodium_malloc(sizeof(*c))) == NULL) {
        return KITH_ENOMEM;
    }
    memset(c, 0, sizeof(*c));
    if (sid_len > 0) {
        memcpy(c->sid, sid, sid_len);
    }
    c->sid_len = sid_len;
    if (ad_len > 0) {
        memcpy(c->ad, ad, ad_len);
    }
    c->ad_len = ad_len;
    rc = calculate_generator(prs, prs_len, ci, ci_len, sid, sid_len, NULL, c->g);
    if (rc != KITH_OK) {
        goto out;
    }
    crypto_core_ristretto255_scalar_random(c->y);
    if ((rc = compute_share(c, share_out)) != KITH_OK) {
        goto out;
    }
    c->state = ST_STARTED;
    *out = c;
    c = NULL;
out:
    kith_cpace_free(c);
    if (rc != KITH_OK) {
        sodium_memzero(share_out, KITH_CPACE_SHARE_LEN);
    }
    return rc;
}

int
kith__cpace_set_scalar(kith_cpace_t *c, const uint8_t y[static KITH_CPACE_SCALAR_LEN],
                       uint8_t share_out[static KITH_CPACE_SHARE_LEN])
{
    static const uint8_t zero[KITH_CPACE_SCALAR_LEN];

    if (c == NULL || y == NULL || share_out == NULL || c->state != ST_STARTED ||
        !scalar_canonical(y) || sodium_memcmp(y, zero, sizeof(zero)) == 0) {
        return KITH_EINVAL;
    }
    memcpy(c->y, y, KITH_CPACE_SCALAR_LEN);
    return compute_share(c, share_out);
}

/* Turns the state into a dead one: every secret is wiped. */
static void
wipe_secrets(kith_cpace_t *c)
{
    sodium_memzero(c->y, sizeof(c->y));
    sodium_memzero(c->g, sizeof(c->g));
    c->state = ST_DEAD;
}

int
kith_cpace_finish(kith_cpace_t *c, int initiator,
                  const uint8_t peer_share[static KITH_CPACE_SHARE_LEN], const uint8_t *peer_ad,
                  size_t peer_ad_len, uint8_t isk[static KITH_CPACE_ISK_LEN])
{
    uint8_t k[KITH_CPACE_SHARE_LEN];
    crypto_hash_sha512_state h, hs;
    sink_t s = {&h, NULL, 0, 0, KITH_OK};
    sink_t so = {&hs, NULL, 0, 0, KITH_OK};
    const uint8_t *ya, *ada, *yb, *adb;
    size_t ada_len, adb_len;
    int rc = KITH_EINVAL;

    if (isk == NULL) {
        return KITH_EINVAL;
    }
    sodium_memzero(isk, KITH_CPACE_ISK_LEN);
    if (c == NULL) {
        return KITH_EINVAL;
    }
    if (c->state != ST_STARTED) {
        return KITH_EINVAL; /* a finished or dead run stays as it is */
    }
    if (peer_share == NULL || !inputs_ok(peer_ad, peer_ad_len)) {
        wipe_secrets(c);
        return KITH_EINVAL;
    }
    if (initiator) {
        ya = c->share, ada = c->ad, ada_len = c->ad_len;
        yb = peer_share, adb = peer_ad, adb_len = peer_ad_len;
    } else {
        ya = peer_share, ada = peer_ad, ada_len = peer_ad_len;
        yb = c->share, adb = c->ad, adb_len = c->ad_len;
    }

    /* K = scalar_mult_vfy(y, Y_peer); the identity (or a bad encoding) aborts. */
    if ((rc = kith_cpace_scalar_mult_vfy(c->y, peer_share, k)) != KITH_OK) {
        rc = KITH_ECRYPTO;
        goto out;
    }
    rc = KITH_ECRYPTO;
    if (crypto_hash_sha512_init(&h) != 0 || crypto_hash_sha512_init(&hs) != 0) {
        goto out;
    }
    put_lv(&s, (const uint8_t *) DSI_ISK, strlen(DSI_ISK));
    put_lv(&s, c->sid, c->sid_len);
    put_lv(&s, k, sizeof(k));
    sink_put(&so, (const uint8_t *) SID_OUTPUT_DSI, strlen(SID_OUTPUT_DSI));
    /* transcript_ir goes into both hashes. */
    for (int i = 0; i < 2; i++) {
        sink_t *t = i == 0 ? &s : &so;
        put_lv(t, ya, KITH_CPACE_SHARE_LEN);
        put_lv(t, ada, ada_len);
        put_lv(t, yb, KITH_CPACE_SHARE_LEN);
        put_lv(t, adb, adb_len);
    }
    if (s.err != KITH_OK || so.err != KITH_OK || crypto_hash_sha512_final(&h, isk) != 0 ||
        crypto_hash_sha512_final(&hs, c->sid_output) != 0) {
        goto out;
    }
    rc = KITH_OK;
out:
    sodium_memzero(k, sizeof(k));
    sodium_memzero(&h, sizeof(h));
    sodium_memzero(&hs, sizeof(hs));
    wipe_secrets(c);
    if (rc == KITH_OK) {
        c->state = ST_FINISHED;
    } else {
        sodium_memzero(isk, KITH_CPACE_ISK_LEN);
        sodium_memzero(c->sid_output, sizeof(c->sid_output));
    }
    return rc;
}

int
kith_cpace_sid_output(const kith_cpace_t *c, uint8_t out[static KITH_CPACE_ISK_LEN])
{
    if (c == NULL || out == NULL || c->state != ST_FINISHED) {
        return KITH_EINVAL;
    }
    memcpy(out, c->sid_output, KITH_CPACE_ISK_LEN);
    return KITH_OK;
}

void
kith_cpace_free(kith_cpace_t *c)
{
    if (c != NULL) {
        sodium_free(c); /* wipes the whole allocation */
    }
}

int
kith__cpace_generator_string(const uint8_t *prs, size_t prs_len, const uint8_t *ci, size_t ci_len,
                             const uint8_t *sid, size_t sid_len, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    sink_t s = {NULL, out, cap, 0, KITH_OK};

    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || out_len == NULL || !inputs_ok(prs, prs_len) || !inputs_ok(ci, ci_len) ||
        !inputs_ok(sid, sid_len)) {
        return KITH_EINVAL;
    }
    put_generator_string(&s, prs, prs_len, ci, ci_len, sid, sid_len);
    if (s.err != KITH_OK) {
        sodium_memzero(out, cap);
        return s.err;
    }
    *out_len = s.len;
    return KITH_OK;
}

int
kith__cpace_generator(const uint8_t *prs, size_t prs_len, const uint8_t *ci, size_t ci_len,
                      const uint8_t *sid, size_t sid_len, uint8_t *hash,
                      uint8_t g[static KITH_CPACE_SHARE_LEN])
{
    if (g == NULL || !inputs_ok(prs, prs_len) || !inputs_ok(ci, ci_len) ||
        !inputs_ok(sid, sid_len)) {
        return KITH_EINVAL;
    }
    return calculate_generator(prs, prs_len, ci, ci_len, sid, sid_len, hash, g);
}
