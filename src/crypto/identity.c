/*
 * Node identity: Ed25519 signing keys plus the derived X25519 keys; see identity.h.
 */
#include "crypto/identity.h"

#include <sodium.h>
#include <string.h>

#include "kith/error.h"

void
kith_identity_free(kith_identity_t *id)
{
    if (id == NULL) {
        return;
    }
    sodium_free(id->sk);
    sodium_free(id->xsk);
    sodium_free(id);
}

int
kith_identity_from_seed(const uint8_t seed[static KITH_SEED_LEN], kith_identity_t **out)
{
    int rc = KITH_ENOMEM;
    *out = NULL;
    /* The struct itself is sodium_malloc'd too so that no copy of a pointer to a secret
     * sits in ordinary heap memory next to other data. */
    kith_identity_t *id = sodium_malloc(sizeof(*id));
    if (id == NULL) {
        return KITH_ENOMEM;
    }
    memset(id, 0, sizeof(*id));
    id->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    id->xsk = sodium_malloc(crypto_scalarmult_curve25519_BYTES);
    if (id->sk == NULL || id->xsk == NULL) {
        goto out;
    }
    rc = KITH_ECRYPTO;
    if (crypto_sign_seed_keypair(id->pk, id->sk, seed) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(id->xpk, id->pk) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(id->xsk, id->sk) != 0) {
        goto out;
    }
    *out = id;
    id = NULL;
    rc = KITH_OK;
out:
    kith_identity_free(id);
    return rc;
}

int
kith_identity_new(kith_identity_t **out)
{
    uint8_t seed[KITH_SEED_LEN];
    randombytes_buf(seed, sizeof(seed));
    int rc = kith_identity_from_seed(seed, out);
    sodium_memzero(seed, sizeof(seed));
    return rc;
}

void
kith_identity_seed(const kith_identity_t *id, uint8_t seed[static KITH_SEED_LEN])
{
    crypto_sign_ed25519_sk_to_seed(seed, id->sk);
}

int
kith_identity_sign(const kith_identity_t *id, const uint8_t *msg, size_t len,
                   uint8_t sig[static KITH_SIG_LEN])
{
    return crypto_sign_detached(sig, NULL, msg, len, id->sk) == 0 ? KITH_OK : KITH_ECRYPTO;
}

int
kith_identity_verify(const uint8_t pk[static KITH_PK_LEN], const uint8_t *msg, size_t len,
                     const uint8_t sig[static KITH_SIG_LEN])
{
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? KITH_OK : KITH_ECRYPTO;
}

int
kith_identity_x25519_pk(const uint8_t pk[static KITH_PK_LEN], uint8_t xpk[static KITH_PK_LEN])
{
    return crypto_sign_ed25519_pk_to_curve25519(xpk, pk) == 0 ? KITH_OK : KITH_ECRYPTO;
}
