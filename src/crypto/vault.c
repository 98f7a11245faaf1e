/*
 * Encryption at rest; see vault.h.
 */
#include "crypto/vault.h"

#include <sodium.h>
#include <string.h>

#include "kith/error.h"

#define NONCE_POOL 4096

struct kith_vault {
    uint8_t key[32];      /* storage key */
    uint8_t name_key[32]; /* key for name tags, derived from the storage key */
    uint8_t mac_key[32];  /* key for row MACs, derived from the storage key */
    /* BLAKE2b keyed with mac_key, the key block already absorbed: a row MAC starts from a
     * copy of it instead of hashing the key again (a third of the cost of a short row). */
    crypto_generichash_state mac_state;
    /* Random bytes for nonces, drawn from the OS a page at a time: libsodium asks the
     * kernel on every call, and one system call per sealed blob dominated bulk imports. */
    uint8_t pool[NONCE_POOL];
    size_t pool_left;
};

static void
take_random(kith_vault_t *v, uint8_t *out, size_t n)
{
    if (n > NONCE_POOL) {
        randombytes_buf(out, n);
        return;
    }
    if (n > v->pool_left) {
        randombytes_buf(v->pool, NONCE_POOL);
        v->pool_left = NONCE_POOL;
    }
    uint8_t *p = v->pool + NONCE_POOL - v->pool_left;
    memcpy(out, p, n);
    sodium_memzero(p, n); /* each byte is used once */
    v->pool_left -= n;
}

/* The whole struct is sodium_malloc'd: its keys are secrets. */
static int
vault_from_key(const uint8_t key[32], kith_vault_t **out)
{
    kith_vault_t *v = sodium_malloc(sizeof(*v));
    if (v == NULL) {
        return KITH_ENOMEM;
    }
    memcpy(v->key, key, 32);
    v->pool_left = 0;
    if (crypto_kdf_derive_from_key(v->name_key, 32, 1, "kithname", v->key) != 0 ||
        crypto_kdf_derive_from_key(v->mac_key, 32, 1, "kithrmac", v->key) != 0 ||
        crypto_generichash_init(&v->mac_state, v->mac_key, 32, KITH_ROW_MAC_LEN) != 0) {
        sodium_free(v);
        return KITH_ECRYPTO;
    }
    *out = v;
    return KITH_OK;
}

static int
identity_key(const kith_identity_t *id, const char ctx[8], uint8_t *out)
{
    uint8_t *seed = sodium_malloc(KITH_SEED_LEN);
    if (seed == NULL) {
        return KITH_ENOMEM;
    }
    kith_identity_seed(id, seed);
    int rc = crypto_kdf_derive_from_key(out, 32, 1, ctx, seed) == 0 ? KITH_OK : KITH_ECRYPTO;
    sodium_free(seed);
    return rc;
}

static int
wrap_key(const kith_identity_t *id, uint8_t *out)
{
    return identity_key(id, "kithwrap", out);
}

int
kith_vault_state_key(const kith_identity_t *id, uint8_t key[static 32])
{
    return identity_key(id, "kithstat", key);
}

int
kith_vault_create(const kith_identity_t *id, uint8_t wrapped[static KITH_VAULT_WRAPPED_LEN],
                  kith_vault_t **out)
{
    *out = NULL;
    uint8_t *key = sodium_malloc(32);
    uint8_t *wk = sodium_malloc(32);
    int rc = KITH_ENOMEM;
    if (key == NULL || wk == NULL) {
        goto out;
    }
    rc = wrap_key(id, wk);
    if (rc != KITH_OK) {
        goto out;
    }
    randombytes_buf(key, 32);
    randombytes_buf(wrapped, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + 24, NULL, key, 32, NULL, 0, NULL, wrapped,
                                               wk);
    rc = vault_from_key(key, out);
out:
    sodium_free(key);
    sodium_free(wk);
    return rc;
}

int
kith_vault_open(const kith_identity_t *id, const uint8_t *wrapped, size_t wrapped_len,
                kith_vault_t **out)
{
    *out = NULL;
    if (wrapped_len != KITH_VAULT_WRAPPED_LEN) {
        return KITH_ECORRUPT;
    }
    uint8_t *key = sodium_malloc(32);
    uint8_t *wk = sodium_malloc(32);
    int rc = KITH_ENOMEM;
    if (key == NULL || wk == NULL) {
        goto out;
    }
    rc = wrap_key(id, wk);
    if (rc != KITH_OK) {
        goto out;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(key, NULL, NULL, wrapped + 24, 48, NULL, 0,
                                                   wrapped, wk) != 0) {
        rc = KITH_ECRYPTO;
        goto out;
    }
    rc = vault_from_key(key, out);
out:
    sodium_free(key);
    sodium_free(wk);
    return rc;
}

void
kith_vault_free(kith_vault_t *v)
{
    if (v != NULL) {
        sodium_free(v);
    }
}

int
kith_vault_seal(kith_vault_t *v, const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
                kith_buf_t *out)
{
    int rc = kith_buf_reserve(out, pt_len + KITH_VAULT_OVERHEAD);
    if (rc != KITH_OK) {
        return rc;
    }
    uint8_t *p = out->data + out->len;
    take_random(v, p, 24);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(p + 24, &clen, pt, pt_len, ad, ad_len, NULL, p,
                                               v->key);
    out->len += 24 + (size_t) clen;
    out->data[out->len] = '\0';
    return KITH_OK;
}

int
kith_vault_unseal(const kith_vault_t *v, const uint8_t *ad, size_t ad_len, const uint8_t *blob,
                  size_t blob_len, kith_buf_t *out)
{
    if (blob_len < KITH_VAULT_OVERHEAD) {
        return KITH_ECORRUPT;
    }
    size_t pt_len = blob_len - KITH_VAULT_OVERHEAD;
    int rc = kith_buf_reserve(out, pt_len);
    if (rc != KITH_OK) {
        return rc;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out->data + out->len, NULL, NULL, blob + 24,
                                                   blob_len - 24, ad, ad_len, blob, v->key) != 0) {
        return KITH_ECORRUPT;
    }
    out->len += pt_len;
    out->data[out->len] = '\0';
    return KITH_OK;
}

void
kith_vault_name_tag(const kith_vault_t *v, const char *text, size_t len,
                    uint8_t tag[static KITH_NAME_TAG_LEN])
{
    crypto_generichash(tag, KITH_NAME_TAG_LEN, (const uint8_t *) text, len, v->name_key, 32);
}

void
kith_vault_random(kith_vault_t *v, uint8_t *out, size_t n)
{
    take_random(v, out, n);
}

void
kith_vault_mac(const kith_vault_t *v, const uint8_t *msg, size_t len,
               uint8_t mac[static KITH_ROW_MAC_LEN])
{
    crypto_generichash_state st = v->mac_state;
    crypto_generichash_update(&st, msg, len);
    crypto_generichash_final(&st, mac, KITH_ROW_MAC_LEN);
    sodium_memzero(&st, sizeof(st));
}
