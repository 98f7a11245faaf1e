/*
 * The vault: encryption of everything a node stores at rest.
 *
 * A random 32-byte storage key encrypts every blob (XChaCha20-Poly1305, random
 * 24-byte nonce, caller-chosen associated data that binds a blob to its row). The
 * storage key is kept wrapped under a key derived from the identity seed
 * (crypto_kdf, context "kithwrap"), so the database alone reveals nothing and a
 * passphrase on the identity protects the store as well.
 *
 * A second key derived from the storage key makes "name tags": keyed BLAKE2b hashes
 * of folded names, which let the store find a record by exact name without keeping
 * the name in the clear (they reveal only which records share a name).
 *
 * A third derived key makes row MACs: keyed BLAKE2b over a row's plaintext columns, so
 * that the rows deciding who gets what (peers, shares, audiences, owners) cannot be
 * added or changed by someone who can write the database but not read the identity
 * (proto/STORE.md).
 */
#ifndef KITH_VAULT_H
#define KITH_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "util/buf.h"

#define KITH_VAULT_WRAPPED_LEN 72 /* nonce 24 + key 32 + tag 16 */
#define KITH_VAULT_OVERHEAD    40 /* nonce 24 + tag 16, per sealed blob */
#define KITH_NAME_TAG_LEN      16
#define KITH_ROW_MAC_LEN       16

typedef struct kith_vault kith_vault_t;

/* Makes a new random storage key and returns it wrapped for id. */
int kith_vault_create(const kith_identity_t *id, uint8_t wrapped[static KITH_VAULT_WRAPPED_LEN],
                      kith_vault_t **out);
/* Unwraps a storage key. KITH_ECRYPTO if it was not wrapped for this identity. */
int kith_vault_open(const kith_identity_t *id, const uint8_t *wrapped, size_t wrapped_len,
                    kith_vault_t **out);
void kith_vault_free(kith_vault_t *v);
/* Appends nonce || ciphertext of pt to out. */
int kith_vault_seal(kith_vault_t *v, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                    size_t pt_len, kith_buf_t *out);
/* Appends the plaintext of a sealed blob to out; KITH_ECORRUPT if it fails to authenticate. */
int kith_vault_unseal(const kith_vault_t *v, const uint8_t *ad, size_t ad_len, const uint8_t *blob,
                      size_t blob_len, kith_buf_t *out);
/* n random bytes from the operating system's generator, drawn through the vault's pool
 * (fewer system calls in bulk work). */
void kith_vault_random(kith_vault_t *v, uint8_t *out, size_t n);
/* Keyed hash of text (already folded by the caller). */
void kith_vault_name_tag(const kith_vault_t *v, const char *text, size_t len,
                         uint8_t tag[static KITH_NAME_TAG_LEN]);

/* Keyed hash (KITH_ROW_MAC_LEN bytes) of msg, which the caller domain-separates. */
void kith_vault_mac(const kith_vault_t *v, const uint8_t *msg, size_t len,
                    uint8_t mac[static KITH_ROW_MAC_LEN]);
/* The key that seals the node's state file (kith.state): derived from the identity, not
 * the storage key, so that it does not depend on the database it vouches for. */
int kith_vault_state_key(const kith_identity_t *id, uint8_t key[static 32]);

#endif
