/*
 * Noise handshakes (IK and XX over 25519, ChaChaPoly and BLAKE2b) and cipher states.
 *
 * This follows the Noise Protocol Framework, revision 34, section by section: a
 * CipherState (k, n), a SymmetricState (ck, h) with MixHash, MixKey, EncryptAndHash,
 * DecryptAndHash and Split, and a HandshakeState that walks the token list of the
 * chosen pattern. Only two patterns exist, so they are tables, not a parser.
 *
 * Primitives, all from libsodium:
 *   DH      X25519 (crypto_scalarmult); an all-zero result (low-order peer key) aborts.
 *   cipher  ChaCha20-Poly1305 IETF; nonce = 4 zero bytes || 64-bit little-endian n.
 *   hash    BLAKE2b with 64-byte output; HASHLEN 64, BLOCKLEN 128.
 *   HMAC    built here per RFC 2104 as the spec defines it (crypto_auth has no BLAKE2b
 *           variant), and HKDF with two outputs on top of it.
 *
 * The module is pure: no I/O, no clock, no allocation except the state itself. The
 * handshake state is sodium_malloc'd because it holds the static and ephemeral private
 * keys and the chaining key; every temporary holding secret-derived bytes is wiped
 * before returning. Any error while reading or writing a message wipes the whole state
 * and leaves it dead, so a half-failed handshake can never be continued.
 */
#include "crypto/noise.h"

#include <string.h>

#include <sodium.h>

#include "kith/error.h"

#define HASHLEN  64
#define BLOCKLEN 128
#define DHLEN    32
#define KEYLEN   32
#define TAGLEN   16
#define MAXNONCE UINT64_MAX

/* Pattern tokens. TOK_END terminates a message's token list. */
enum { TOK_END = 0, TOK_E, TOK_S, TOK_EE, TOK_ES, TOK_SE, TOK_SS };

#define MAX_MSGS   3
#define MAX_TOKENS 5 /* including TOK_END */

typedef struct {
    const char *name;                   /* full protocol name, hashed into h */
    int n_msgs;                         /* handshake messages */
    uint8_t msgs[MAX_MSGS][MAX_TOKENS]; /* tokens of each message, TOK_END-terminated */
    int premsg_rs;                      /* "<- s": responder's static key premessage */
} pattern_t;

static const pattern_t pattern_ik = {
    "Noise_IK_25519_ChaChaPoly_BLAKE2b",
    2,
    {{TOK_E, TOK_ES, TOK_S, TOK_SS, TOK_END}, {TOK_E, TOK_EE, TOK_SE, TOK_END}},
    1,
};

static const pattern_t pattern_xx = {
    "Noise_XX_25519_ChaChaPoly_BLAKE2b",
    3,
    {{TOK_E, TOK_END}, {TOK_E, TOK_EE, TOK_S, TOK_ES, TOK_END}, {TOK_S, TOK_SE, TOK_END}},
    0,
};

struct kith_noise_hs {
    const pattern_t *pattern; /* NULL once dead */
    int initiator;            /* 1 for the side that sends message 0 */
    int next;                 /* index of the next message to write or read */
    int dead;                 /* set by any read/write failure; everything then fails */
    int split;                /* set once the transport keys were handed out */

    uint8_t ck[HASHLEN]; /* chaining key */
    uint8_t h[HASHLEN];  /* handshake hash */
    uint8_t k[KEYLEN];   /* handshake CipherState key, valid when has_k */
    uint64_t n;          /* handshake CipherState nonce */
    int has_k;

    uint8_t s_priv[DHLEN], s_pub[DHLEN]; /* our static key pair */
    uint8_t e_priv[DHLEN], e_pub[DHLEN]; /* our ephemeral pair, valid when has_e */
    int has_e;
    uint8_t rs[DHLEN]; /* peer's static public key, valid when has_rs */
    int has_rs;
    uint8_t re[DHLEN]; /* peer's ephemeral public key, valid when has_re */
    int has_re;
};

/* libsodium gets a real pointer even for empty inputs, so no NULL reaches memcpy. */
static const uint8_t empty[1];

/* ---------------------------------------------------------------- primitives */

/* HASH(a || b) into out, which may alias a or b (both are consumed before out is written). */
static int
hash2(uint8_t out[static HASHLEN], const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    crypto_generichash_state st;
    int rc = KITH_ECRYPTO;

    if (crypto_generichash_init(&st, NULL, 0, HASHLEN) != 0 ||
        crypto_generichash_update(&st, a_len ? a : empty, a_len) != 0 ||
        crypto_generichash_update(&st, b_len ? b : empty, b_len) != 0 ||
        crypto_generichash_final(&st, out, HASHLEN) != 0) {
        goto out;
    }
    rc = KITH_OK;
out:
    sodium_memzero(&st, sizeof(st));
    return rc;
}

/*
 * HMAC-BLAKE2b(key, a || b) as the spec's HMAC-HASH: the 64-byte key is zero-padded to
 * BLOCKLEN, then H((K ^ opad) || H((K ^ ipad) || text)). out must not alias key.
 */
static int
hmac(uint8_t out[static HASHLEN], const uint8_t key[static HASHLEN], const uint8_t *a, size_t a_len,
     const uint8_t *b, size_t b_len)
{
    crypto_generichash_state st;
    uint8_t pad[BLOCKLEN];
    uint8_t inner[HASHLEN];
    int rc = KITH_ECRYPTO;

    memset(pad, 0x36, sizeof(pad));
    for (size_t i = 0; i < HASHLEN; i++) {
        pad[i] ^= key[i];
    }
    if (crypto_generichash_init(&st, NULL, 0, HASHLEN) != 0 ||
        crypto_generichash_update(&st, pad, sizeof(pad)) != 0 ||
        crypto_generichash_update(&st, a_len ? a : empty, a_len) != 0 ||
        crypto_generichash_update(&st, b_len ? b : empty, b_len) != 0 ||
        crypto_generichash_final(&st, inner, sizeof(inner)) != 0) {
        goto out;
    }
    memset(pad, 0x5c, sizeof(pad));
    for (size_t i = 0; i < HASHLEN; i++) {
        pad[i] ^= key[i];
    }
    if (crypto_generichash_init(&st, NULL, 0, HASHLEN) != 0 ||
        crypto_generichash_update(&st, pad, sizeof(pad)) != 0 ||
        crypto_generichash_update(&st, inner, sizeof(inner)) != 0 ||
        crypto_generichash_final(&st, out, HASHLEN) != 0) {
        goto out;
    }
    rc = KITH_OK;
out:
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(pad, sizeof(pad));
    sodium_memzero(inner, sizeof(inner));
    return rc;
}

/*
 * HKDF(ck, ikm, 2): temp = HMAC(ck, ikm); out1 = HMAC(temp, 0x01);
 * out2 = HMAC(temp, out1 || 0x02). out1 may alias ck (ck is read only for temp).
 */
static int
hkdf2(const uint8_t *ck, const uint8_t *ikm, size_t ikm_len, uint8_t out1[static HASHLEN],
      uint8_t out2[static HASHLEN])
{
    static const uint8_t one = 0x01, two = 0x02;
    uint8_t temp[HASHLEN];
    int rc;

    if ((rc = hmac(temp, ck, ikm, ikm_len, NULL, 0)) != KITH_OK ||
        (rc = hmac(out1, temp, &one, 1, NULL, 0)) != KITH_OK ||
        (rc = hmac(out2, temp, out1, HASHLEN, &two, 1)) != KITH_OK) {
        goto out;
    }
out:
    sodium_memzero(temp, sizeof(temp));
    return rc;
}

static void
make_nonce(uint8_t nonce[static crypto_aead_chacha20poly1305_IETF_NPUBBYTES], uint64_t n)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++) {
        nonce[4 + i] = (uint8_t) (n >> (8 * i));
    }
}

/* ENCRYPT(k, n, ad, pt): out receives pt_len + TAGLEN bytes; out may equal pt. */
static int
aead_encrypt(const uint8_t k[static KEYLEN], uint64_t n, const uint8_t *ad, size_t ad_len,
             const uint8_t *pt, size_t pt_len, uint8_t *out)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    unsigned long long out_len = 0;

    make_nonce(nonce, n);
    if (crypto_aead_chacha20poly1305_ietf_encrypt(out, &out_len, pt_len ? pt : empty, pt_len,
                                                  ad_len ? ad : empty, ad_len, NULL, nonce,
                                                  k) != 0 ||
        out_len != (unsigned long long) pt_len + TAGLEN) {
        return KITH_ECRYPTO;
    }
    return KITH_OK;
}

/* DECRYPT(k, n, ad, ct): ct_len >= TAGLEN; out receives ct_len - TAGLEN bytes. */
static int
aead_decrypt(const uint8_t k[static KEYLEN], uint64_t n, const uint8_t *ad, size_t ad_len,
             const uint8_t *ct, size_t ct_len, uint8_t *out)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    uint8_t dummy[1];
    unsigned long long out_len = 0;

    make_nonce(nonce, n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(ct_len > TAGLEN ? out : dummy, &out_len, NULL, ct,
                                                  ct_len, ad_len ? ad : empty, ad_len, nonce,
                                                  k) != 0 ||
        out_len != (unsigned long long) ct_len - TAGLEN) {
        return KITH_ECRYPTO;
    }
    return KITH_OK;
}

/* ------------------------------------------------------------ symmetric state */

static int
mix_hash(kith_noise_hs_t *hs, const uint8_t *data, size_t len)
{
    return hash2(hs->h, hs->h, HASHLEN, data, len);
}

/* MixKey(ikm): ck, temp_k = HKDF(ck, ikm, 2); k = temp_k truncated to 32 bytes; n = 0. */
static int
mix_key(kith_noise_hs_t *hs, const uint8_t *ikm, size_t ikm_len)
{
    uint8_t temp_k[HASHLEN];
    int rc;

    if ((rc = hkdf2(hs->ck, ikm, ikm_len, hs->ck, temp_k)) != KITH_OK) {
        goto out;
    }
    memcpy(hs->k, temp_k, KEYLEN);
    hs->n = 0;
    hs->has_k = 1;
out:
    sodium_memzero(temp_k, sizeof(temp_k));
    return rc;
}

/* EncryptAndHash(pt) into out: len bytes, plus TAGLEN once a key exists. */
static int
encrypt_and_hash(kith_noise_hs_t *hs, const uint8_t *pt, size_t len, uint8_t *out)
{
    int rc;

    if (!hs->has_k) {
        if (len > 0) {
            memcpy(out, pt, len);
        }
        return mix_hash(hs, out, len);
    }
    if (hs->n == MAXNONCE) {
        return KITH_ERANGE;
    }
    if ((rc = aead_encrypt(hs->k, hs->n, hs->h, HASHLEN, pt, len, out)) != KITH_OK) {
        return rc;
    }
    hs->n++;
    return mix_hash(hs, out, len + TAGLEN);
}

/*
 * DecryptAndHash(ct) into out (ct_len bytes, or ct_len - TAGLEN once a key exists).
 * The new h is computed from the ciphertext before decryption, so the old h serves as
 * associated data and out is written only by the AEAD, which zeroes it on failure.
 */
static int
decrypt_and_hash(kith_noise_hs_t *hs, const uint8_t *ct, size_t ct_len, uint8_t *out)
{
    uint8_t new_h[HASHLEN];
    int rc;

    if (!hs->has_k) {
        if (ct_len > 0) {
            memcpy(out, ct, ct_len);
        }
        return mix_hash(hs, ct, ct_len);
    }
    if (ct_len < TAGLEN) {
        return KITH_EPROTO;
    }
    if (hs->n == MAXNONCE) {
        return KITH_ERANGE;
    }
    if ((rc = hash2(new_h, hs->h, HASHLEN, ct, ct_len)) != KITH_OK) {
        goto out;
    }
    if ((rc = aead_decrypt(hs->k, hs->n, hs->h, HASHLEN, ct, ct_len, out)) != KITH_OK) {
        goto out;
    }
    hs->n++;
    memcpy(hs->h, new_h, HASHLEN);
out:
    sodium_memzero(new_h, sizeof(new_h));
    return rc;
}

/* ------------------------------------------------------------ handshake state */

static void
hs_kill(kith_noise_hs_t *hs)
{
    sodium_memzero(hs, sizeof(*hs));
    hs->dead = 1;
}

/* MixKey(DH(priv, pub)). An all-zero shared secret (low-order pub) is refused:
 * KITH_ECRYPTO, after mixing it in anyway (see kith_noise_hs_read). */
static int
mix_dh(kith_noise_hs_t *hs, const uint8_t *priv, int have_priv, const uint8_t *pub, int have_pub)
{
    uint8_t shared[DHLEN];
    int rc = KITH_EINVAL;

    if (!have_priv || !have_pub) {
        goto out; /* unreachable with the fixed patterns; a guard, not a code path */
    }
    {
        /* A refused result is mixed in all the same (the state dies at the end of the
         * message): the message's work and layout stay those of a good one. */
        int refused = crypto_scalarmult(shared, priv, pub) != 0;
        rc = mix_key(hs, shared, sizeof(shared));
        if (refused && rc == KITH_OK) {
            rc = KITH_ECRYPTO;
        }
    }
out:
    sodium_memzero(shared, sizeof(shared));
    return rc;
}

/* Performs a DH token. es/se depend on the role: the initiator's e meets the
 * responder's s in "es", and the other way round in "se". */
static int
dh_token(kith_noise_hs_t *hs, int tok)
{
    int ini = hs->initiator;

    switch (tok) {
    case TOK_EE:
        return mix_dh(hs, hs->e_priv, hs->has_e, hs->re, hs->has_re);
    case TOK_ES:
        return ini ? mix_dh(hs, hs->e_priv, hs->has_e, hs->rs, hs->has_rs)
                   : mix_dh(hs, hs->s_priv, 1, hs->re, hs->has_re);
    case TOK_SE:
        return ini ? mix_dh(hs, hs->s_priv, 1, hs->re, hs->has_re)
                   : mix_dh(hs, hs->e_priv, hs->has_e, hs->rs, hs->has_rs);
    case TOK_SS:
        return mix_dh(hs, hs->s_priv, 1, hs->rs, hs->has_rs);
    default:
        return KITH_EINVAL;
    }
}

/*
 * Computes the size of the next message apart from its payload (the token part) and
 * whether the payload will be encrypted, without touching the state: a key exists for
 * the payload once any DH token has run, in this message or an earlier one.
 */
static void
message_layout(const kith_noise_hs_t *hs, size_t *fixed_len, int *payload_keyed)
{
    const uint8_t *toks = hs->pattern->msgs[hs->next];
    int keyed = hs->has_k;
    size_t len = 0;

    for (int i = 0; toks[i] != TOK_END; i++) {
        if (toks[i] == TOK_E) {
            len += DHLEN;
        } else if (toks[i] == TOK_S) {
            len += DHLEN + (keyed ? TAGLEN : 0);
        } else {
            keyed = 1;
        }
    }
    *fixed_len = len;
    *payload_keyed = keyed;
}

/* Whether this side sends the next message. */
static int
my_turn_to_write(const kith_noise_hs_t *hs)
{
    return (hs->next % 2 == 0) == (hs->initiator != 0);
}

int
kith_noise_hs_new(kith_noise_hs_t **out, int pattern, int initiator, const uint8_t *prologue,
                  size_t prologue_len, const uint8_t s_priv[static KITH_NOISE_KEY_LEN],
                  const uint8_t *rs_pub)
{
    kith_noise_hs_t *hs = NULL;
    const pattern_t *pat;
    size_t name_len;
    int rc = KITH_EINVAL;

    if (out == NULL) {
        return KITH_EINVAL;
    }
    *out = NULL;
    if (pattern == KITH_NOISE_IK) {
        pat = &pattern_ik;
    } else if (pattern == KITH_NOISE_XX) {
        pat = &pattern_xx;
    } else {
        goto out;
    }
    initiator = initiator != 0;
    if (s_priv == NULL || (prologue == NULL && prologue_len > 0)) {
        goto out;
    }
    /* rs_pub is exactly the IK initiator's "<- s" premessage; anything else is a bug. */
    if ((rs_pub != NULL) != (pat->premsg_rs && initiator)) {
        goto out;
    }

    rc = KITH_ENOMEM;
    if ((hs = sodium_malloc(sizeof(*hs))) == NULL) {
        goto out;
    }
    sodium_memzero(hs, sizeof(*hs));
    hs->pattern = pat;
    hs->initiator = initiator;

    rc = KITH_ECRYPTO;
    memcpy(hs->s_priv, s_priv, DHLEN);
    if (crypto_scalarmult_base(hs->s_pub, hs->s_priv) != 0) {
        goto out;
    }
    if (rs_pub != NULL) {
        memcpy(hs->rs, rs_pub, DHLEN);
        hs->has_rs = 1;
    }

    /* InitializeSymmetric: a name of at most HASHLEN bytes is used zero-padded. */
    name_len = strlen(pat->name);
    if (name_len <= HASHLEN) {
        memcpy(hs->h, pat->name, name_len);
    } else if ((rc = hash2(hs->h, (const uint8_t *) pat->name, name_len, NULL, 0)) != KITH_OK) {
        goto out;
    }
    memcpy(hs->ck, hs->h, HASHLEN);
    if ((rc = mix_hash(hs, prologue, prologue_len)) != KITH_OK) {
        goto out;
    }
    if (pat->premsg_rs && (rc = mix_hash(hs, initiator ? hs->rs : hs->s_pub, DHLEN)) != KITH_OK) {
        goto out;
    }

    *out = hs;
    hs = NULL;
    rc = KITH_OK;
out:
    kith_noise_hs_free(hs);
    return rc;
}

void
kith_noise_hs_free(kith_noise_hs_t *hs)
{
    if (hs != NULL) {
        sodium_free(hs); /* sodium_free wipes the whole allocation */
    }
}

int
kith__noise_hs_set_ephemeral(kith_noise_hs_t *hs, const uint8_t e_priv[static KITH_NOISE_KEY_LEN])
{
    if (hs == NULL || e_priv == NULL || hs->dead || hs->has_e) {
        return KITH_EINVAL;
    }
    memcpy(hs->e_priv, e_priv, DHLEN);
    if (crypto_scalarmult_base(hs->e_pub, hs->e_priv) != 0) {
        sodium_memzero(hs->e_priv, DHLEN);
        return KITH_ECRYPTO;
    }
    hs->has_e = 1;
    return KITH_OK;
}

int
kith_noise_hs_write(kith_noise_hs_t *hs, const uint8_t *payload, size_t payload_len, uint8_t *out,
                    size_t out_cap, size_t *out_len)
{
    const uint8_t *toks;
    size_t fixed_len, total, off = 0;
    int keyed;
    int rc = KITH_EINVAL;

    if (hs == NULL) {
        return KITH_EINVAL;
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    if (hs->dead || out == NULL || out_len == NULL || (payload == NULL && payload_len > 0) ||
        hs->next >= hs->pattern->n_msgs || !my_turn_to_write(hs)) {
        goto out;
    }

    rc = KITH_ETOOBIG;
    message_layout(hs, &fixed_len, &keyed);
    if (payload_len > KITH_NOISE_MAX_MSG) {
        goto out;
    }
    total = fixed_len + payload_len + (keyed ? TAGLEN : 0);
    if (total > KITH_NOISE_MAX_MSG || total > out_cap) {
        goto out;
    }

    toks = hs->pattern->msgs[hs->next];
    for (int i = 0; toks[i] != TOK_END; i++) {
        switch (toks[i]) {
        case TOK_E:
            if (!hs->has_e) {
                randombytes_buf(hs->e_priv, DHLEN);
                if (crypto_scalarmult_base(hs->e_pub, hs->e_priv) != 0) {
                    rc = KITH_ECRYPTO;
                    goto out;
                }
                hs->has_e = 1;
            }
            memcpy(out + off, hs->e_pub, DHLEN);
            if ((rc = mix_hash(hs, hs->e_pub, DHLEN)) != KITH_OK) {
                goto out;
            }
            off += DHLEN;
            break;
        case TOK_S: {
            size_t len = DHLEN + (hs->has_k ? TAGLEN : 0);
            if ((rc = encrypt_and_hash(hs, hs->s_pub, DHLEN, out + off)) != KITH_OK) {
                goto out;
            }
            off += len;
            break;
        }
        default:
            if ((rc = dh_token(hs, toks[i])) != KITH_OK) {
                goto out;
            }
            break;
        }
    }
    if ((rc = encrypt_and_hash(hs, payload, payload_len, out + off)) != KITH_OK) {
        goto out;
    }
    off += payload_len + (hs->has_k ? TAGLEN : 0);
    if (off != total) { /* the layout and the tokens disagree: a bug, fail closed */
        rc = KITH_EINVAL;
        goto out;
    }
    hs->next++;
    *out_len = total;
    rc = KITH_OK;
out:
    if (rc != KITH_OK) {
        hs_kill(hs); /* out may hold part of a message: public or encrypted bytes only */
    }
    return rc;
}

int
kith_noise_hs_read(kith_noise_hs_t *hs, const uint8_t *msg, size_t msg_len, uint8_t *payload_out,
                   size_t payload_cap, size_t *payload_len)
{
    const uint8_t *toks;
    uint8_t rs[DHLEN];
    size_t fixed_len, body_len, off = 0;
    int keyed;
    int rc = KITH_EINVAL, first_rc = KITH_OK;

    if (hs == NULL) {
        return KITH_EINVAL;
    }
    if (payload_len != NULL) {
        *payload_len = 0;
    }
    if (hs->dead || msg == NULL || payload_len == NULL ||
        (payload_out == NULL && payload_cap > 0) || hs->next >= hs->pattern->n_msgs ||
        my_turn_to_write(hs)) {
        goto out;
    }

    rc = KITH_EPROTO;
    message_layout(hs, &fixed_len, &keyed);
    if (msg_len > KITH_NOISE_MAX_MSG || msg_len < fixed_len + (keyed ? TAGLEN : 0)) {
        goto out;
    }
    body_len = msg_len - fixed_len; /* the payload field, tag included */
    rc = KITH_ETOOBIG;
    if (body_len - (keyed ? TAGLEN : 0) > payload_cap) {
        goto out;
    }

    /* Once a token fails, the rest of the message is still worked through (every DH and
     * the payload's decryption, with a stand-in static key if its decryption failed), and
     * the first failure is returned at the end: how long a refusal takes must not tell
     * where it failed. An IK responder that message 1 was not made for (its "s" does not
     * decrypt) thus takes as long as one that decrypted it; proto/SYNC.md "Handshake". */
    toks = hs->pattern->msgs[hs->next];
    for (int i = 0; toks[i] != TOK_END; i++) {
        int trc;
        switch (toks[i]) {
        case TOK_E:
            rc = KITH_EINVAL;
            if (hs->has_re) {
                goto out;
            }
            memcpy(hs->re, msg + off, DHLEN);
            hs->has_re = 1;
            if ((rc = mix_hash(hs, hs->re, DHLEN)) != KITH_OK) {
                goto out;
            }
            off += DHLEN;
            break;
        case TOK_S: {
            size_t len = DHLEN + (hs->has_k ? TAGLEN : 0);
            rc = KITH_EINVAL;
            if (hs->has_rs) {
                goto out;
            }
            if ((trc = decrypt_and_hash(hs, msg + off, len, rs)) != KITH_OK) {
                first_rc = first_rc != KITH_OK ? first_rc : trc;
                randombytes_buf(rs, DHLEN); /* the stand-in: the state dies at the end */
            }
            memcpy(hs->rs, rs, DHLEN);
            hs->has_rs = 1;
            off += len;
            break;
        }
        default:
            if ((trc = dh_token(hs, toks[i])) != KITH_OK) {
                first_rc = first_rc != KITH_OK ? first_rc : trc;
            }
            break;
        }
    }
    rc = KITH_EINVAL;
    if (off != fixed_len) { /* the layout and the tokens disagree: a bug, fail closed */
        goto out;
    }
    rc = decrypt_and_hash(hs, msg + off, body_len, payload_out ? payload_out : rs);
    if (first_rc != KITH_OK) {
        rc = first_rc;
        if (payload_out != NULL && body_len > (keyed ? TAGLEN : 0)) {
            /* A later step may have "succeeded" under stand-in keys: hold no plaintext. */
            sodium_memzero(payload_out, body_len - (keyed ? TAGLEN : 0));
        }
    }
    if (rc != KITH_OK) {
        goto out;
    }
    hs->next++;
    *payload_len = body_len - (hs->has_k ? TAGLEN : 0);
    rc = KITH_OK;
out:
    if (rc != KITH_OK) {
        hs_kill(hs);
    }
    sodium_memzero(rs, sizeof(rs));
    return rc;
}

int
kith_noise_hs_remote_static(const kith_noise_hs_t *hs, uint8_t out[static KITH_NOISE_KEY_LEN])
{
    if (hs == NULL || out == NULL || hs->dead || !hs->has_rs) {
        return KITH_EINVAL;
    }
    memcpy(out, hs->rs, DHLEN);
    return KITH_OK;
}

int
kith_noise_hs_done(const kith_noise_hs_t *hs)
{
    return hs != NULL && !hs->dead && hs->next == hs->pattern->n_msgs;
}

int
kith_noise_hs_hash(const kith_noise_hs_t *hs, uint8_t out[static KITH_NOISE_HASH_LEN])
{
    if (out == NULL || !kith_noise_hs_done(hs)) {
        return KITH_EINVAL;
    }
    memcpy(out, hs->h, HASHLEN);
    return KITH_OK;
}

int
kith_noise_hs_split(kith_noise_hs_t *hs, kith_noise_cs_t *send, kith_noise_cs_t *recv)
{
    uint8_t k1[HASHLEN], k2[HASHLEN];
    int rc = KITH_EINVAL;

    if (send == NULL || recv == NULL || send == recv || !kith_noise_hs_done(hs) || hs->split) {
        goto out;
    }
    if ((rc = hkdf2(hs->ck, NULL, 0, k1, k2)) != KITH_OK) {
        goto out;
    }
    /* The first CipherState carries initiator -> responder traffic. */
    memcpy(send->k, hs->initiator ? k1 : k2, KEYLEN);
    memcpy(recv->k, hs->initiator ? k2 : k1, KEYLEN);
    send->n = 0;
    recv->n = 0;
    /* Only h (for channel binding) and the public keys are still needed. */
    sodium_memzero(hs->ck, sizeof(hs->ck));
    sodium_memzero(hs->k, sizeof(hs->k));
    sodium_memzero(hs->s_priv, sizeof(hs->s_priv));
    sodium_memzero(hs->e_priv, sizeof(hs->e_priv));
    hs->has_k = 0;
    hs->split = 1;
out:
    sodium_memzero(k1, sizeof(k1));
    sodium_memzero(k2, sizeof(k2));
    return rc;
}

/* ---------------------------------------------------------------- cipher state */

int
kith_noise_cs_encrypt(kith_noise_cs_t *cs, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                      size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    int rc;

    if (out_len != NULL) {
        *out_len = 0;
    }
    if (cs == NULL || out == NULL || out_len == NULL || (ad == NULL && ad_len > 0) ||
        (pt == NULL && pt_len > 0)) {
        return KITH_EINVAL;
    }
    if (cs->n == MAXNONCE) {
        return KITH_ERANGE;
    }
    if (pt_len > KITH_NOISE_MAX_MSG - TAGLEN || pt_len + TAGLEN > out_cap) {
        return KITH_ETOOBIG;
    }
    if ((rc = aead_encrypt(cs->k, cs->n, ad, ad_len, pt, pt_len, out)) != KITH_OK) {
        return rc;
    }
    cs->n++;
    *out_len = pt_len + TAGLEN;
    return KITH_OK;
}

int
kith_noise_cs_decrypt(kith_noise_cs_t *cs, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                      size_t ct_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    int rc;

    if (out_len != NULL) {
        *out_len = 0;
    }
    if (cs == NULL || ct == NULL || out_len == NULL || (ad == NULL && ad_len > 0) ||
        (out == NULL && out_cap > 0)) {
        return KITH_EINVAL;
    }
    if (cs->n == MAXNONCE) {
        return KITH_ERANGE;
    }
    if (ct_len < TAGLEN || ct_len > KITH_NOISE_MAX_MSG) {
        return KITH_EPROTO;
    }
    if (ct_len - TAGLEN > out_cap) {
        return KITH_ETOOBIG;
    }
    if ((rc = aead_decrypt(cs->k, cs->n, ad, ad_len, ct, ct_len, out)) != KITH_OK) {
        return rc;
    }
    cs->n++;
    *out_len = ct_len - TAGLEN;
    return KITH_OK;
}

int
kith_noise_cs_rekey(kith_noise_cs_t *cs)
{
    static const uint8_t zeros[KEYLEN];
    uint8_t tmp[KEYLEN + TAGLEN];
    int rc;

    if (cs == NULL) {
        return KITH_EINVAL;
    }
    if ((rc = aead_encrypt(cs->k, MAXNONCE, NULL, 0, zeros, sizeof(zeros), tmp)) == KITH_OK) {
        memcpy(cs->k, tmp, KEYLEN);
    }
    sodium_memzero(tmp, sizeof(tmp));
    return rc;
}

void
kith_noise_cs_wipe(kith_noise_cs_t *cs)
{
    if (cs != NULL) {
        sodium_memzero(cs, sizeof(*cs));
    }
}
