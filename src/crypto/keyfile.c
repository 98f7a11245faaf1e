/*
 * Identity key files; see keyfile.h for the format.
 */
#include "crypto/keyfile.h"

#include <sodium.h>
#include <string.h>

#include "kith/error.h"

#define MAGIC     "KITHKEY1"
#define MAGIC_LEN 8
#define HDR_LEN   (MAGIC_LEN + 1 + 32) /* 41 */
#define KDF_NONE  0
#define KDF_ARGON 1
/* Upper bounds accepted from a file: libsodium's "sensitive" limits. */
#define MAX_OPSLIMIT crypto_pwhash_OPSLIMIT_SENSITIVE
#define MAX_MEMLIMIT crypto_pwhash_MEMLIMIT_SENSITIVE

static void
put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}

static uint64_t
get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Derives the wrapping key for a passphrase into key (sodium_malloc'd by the caller). */
static int
derive(const char *passphrase, const uint8_t salt[16], uint64_t ops, uint64_t mem, uint8_t *key)
{
    if (crypto_pwhash(key, 32, passphrase, strlen(passphrase), salt, ops, (size_t) mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return KITH_ENOMEM; /* libsodium fails here only when it cannot get the memory */
    }
    return KITH_OK;
}

int
kith_keyfile_encode(const kith_identity_t *id, const char *passphrase, kith_buf_t *out)
{
    uint8_t file[KITH_KEYFILE_SEALED_LEN];
    uint8_t *seed = sodium_malloc(KITH_SEED_LEN);
    uint8_t *key = sodium_malloc(32);
    int rc = KITH_ENOMEM;
    size_t len;
    if (seed == NULL || key == NULL) {
        goto out;
    }
    kith_identity_seed(id, seed);
    memcpy(file, MAGIC, MAGIC_LEN);
    memcpy(file + MAGIC_LEN + 1, id->pk, 32);
    if (passphrase == NULL) {
        file[MAGIC_LEN] = KDF_NONE;
        memcpy(file + HDR_LEN, seed, KITH_SEED_LEN);
        len = KITH_KEYFILE_PLAIN_LEN;
    } else {
        if (passphrase[0] == '\0') {
            rc = KITH_EINVAL;
            goto out;
        }
        uint64_t ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        uint64_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        uint8_t *p = file + HDR_LEN;
        file[MAGIC_LEN] = KDF_ARGON;
        put_le64(p, ops);
        put_le64(p + 8, mem);
        randombytes_buf(p + 16, 16);
        randombytes_buf(p + 32, 24);
        rc = derive(passphrase, p + 16, ops, mem, key);
        if (rc != KITH_OK) {
            goto out;
        }
        crypto_aead_xchacha20poly1305_ietf_encrypt(p + 56, NULL, seed, KITH_SEED_LEN, file, HDR_LEN,
                                                   NULL, p + 32, key);
        len = KITH_KEYFILE_SEALED_LEN;
    }
    rc = kith_buf_append(out, file, len);
out:
    sodium_memzero(file, sizeof(file));
    sodium_free(seed);
    sodium_free(key);
    return rc;
}

int
kith_keyfile_is_sealed(const uint8_t *data, size_t len)
{
    if (len < HDR_LEN || memcmp(data, MAGIC, MAGIC_LEN) != 0) {
        return KITH_ECORRUPT;
    }
    if (data[MAGIC_LEN] == KDF_NONE && len == KITH_KEYFILE_PLAIN_LEN) {
        return 0;
    }
    if (data[MAGIC_LEN] == KDF_ARGON && len == KITH_KEYFILE_SEALED_LEN) {
        return 1;
    }
    return KITH_ECORRUPT;
}

int
kith_keyfile_public(const uint8_t *data, size_t len, uint8_t pk[static 32])
{
    int sealed = kith_keyfile_is_sealed(data, len);
    if (sealed < 0) {
        return sealed;
    }
    memcpy(pk, data + MAGIC_LEN + 1, 32);
    return KITH_OK;
}

int
kith_keyfile_decode(const uint8_t *data, size_t len, const char *passphrase, kith_identity_t **out)
{
    *out = NULL;
    int sealed = kith_keyfile_is_sealed(data, len);
    if (sealed < 0) {
        return sealed;
    }
    uint8_t *seed = sodium_malloc(KITH_SEED_LEN);
    uint8_t *key = sodium_malloc(32);
    kith_identity_t *id = NULL;
    int rc = KITH_ENOMEM;
    if (seed == NULL || key == NULL) {
        goto out;
    }
    if (!sealed) {
        memcpy(seed, data + HDR_LEN, KITH_SEED_LEN);
    } else {
        const uint8_t *p = data + HDR_LEN;
        uint64_t ops = get_le64(p), mem = get_le64(p + 8);
        /* Argon2 counts memory in KiB: a limit that is not a whole number of KiB was not
         * written by kith. */
        if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > MAX_OPSLIMIT ||
            mem < crypto_pwhash_MEMLIMIT_MIN || mem > MAX_MEMLIMIT || mem % 1024 != 0) {
            rc = KITH_ECORRUPT;
            goto out;
        }
        if (passphrase == NULL || passphrase[0] == '\0') {
            rc = KITH_EPASSPHRASE;
            goto out;
        }
        rc = derive(passphrase, p + 16, ops, mem, key);
        if (rc != KITH_OK) {
            goto out;
        }
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(seed, NULL, NULL, p + 56, 48, data, HDR_LEN,
                                                       p + 32, key) != 0) {
            /* A wrong passphrase and a damaged file look the same here. */
            rc = KITH_EPASSPHRASE;
            goto out;
        }
    }
    rc = kith_identity_from_seed(seed, &id);
    if (rc != KITH_OK) {
        goto out;
    }
    if (sodium_memcmp(id->pk, data + MAGIC_LEN + 1, 32) != 0) {
        rc = KITH_ECORRUPT;
        goto out;
    }
    *out = id;
    id = NULL;
out:
    kith_identity_free(id);
    sodium_free(seed);
    sodium_free(key);
    return rc;
}
