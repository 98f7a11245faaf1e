/*
 * A node's identity: an Ed25519 key pair, and the X25519 key pair derived from it for
 * key agreement (Noise, sealed envelopes).
 *
 * Secret halves live in sodium_malloc'd memory (guarded, locked, wiped on free).
 * kith_identity_free() releases everything; it accepts NULL.
 */
#ifndef KITH_IDENTITY_H
#define KITH_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#define KITH_PK_LEN   32
#define KITH_SIG_LEN  64
#define KITH_SEED_LEN 32

typedef struct {
    uint8_t pk[KITH_PK_LEN];  /* Ed25519 public key: the node's identity */
    uint8_t *sk;              /* Ed25519 secret key, 64 bytes, sodium_malloc'd */
    uint8_t xpk[KITH_PK_LEN]; /* X25519 public key derived from pk */
    uint8_t *xsk;             /* X25519 secret key, 32 bytes, sodium_malloc'd */
} kith_identity_t;

/* A fresh random identity. */
int kith_identity_new(kith_identity_t **out);
/* The identity whose Ed25519 seed is `seed` (deterministic; used by key files and tests). */
int kith_identity_from_seed(const uint8_t seed[static KITH_SEED_LEN], kith_identity_t **out);
void kith_identity_free(kith_identity_t *id);
/* Copies the 32-byte seed out; the caller must sodium_memzero it after use. */
void kith_identity_seed(const kith_identity_t *id, uint8_t seed[static KITH_SEED_LEN]);
/* Detached Ed25519 signature over msg. */
int kith_identity_sign(const kith_identity_t *id, const uint8_t *msg, size_t len,
                       uint8_t sig[static KITH_SIG_LEN]);
/* KITH_OK if sig is pk's valid signature over msg, else KITH_ECRYPTO. */
int kith_identity_verify(const uint8_t pk[static KITH_PK_LEN], const uint8_t *msg, size_t len,
                         const uint8_t sig[static KITH_SIG_LEN]);
/* The X25519 public key of an Ed25519 public key; KITH_ECRYPTO for an invalid key. */
int kith_identity_x25519_pk(const uint8_t pk[static KITH_PK_LEN], uint8_t xpk[static KITH_PK_LEN]);

#endif
