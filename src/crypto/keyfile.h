/*
 * The identity key file format: encoding and decoding only (the caller does the I/O).
 *
 *   "KITHKEY1" | kdf (1 byte) | Ed25519 public key (32) | secret part
 *   kdf 0 (no passphrase): secret part = seed (32)
 *   kdf 1 (Argon2id v1.3): opslimit (8, LE) | memlimit (8, LE) | salt (16) | nonce (24) |
 *                          XChaCha20-Poly1305(seed) (48), associated data = the
 *                          41-byte header (magic, kdf, public key); the limits, salt and
 *                          nonce need no AD: changing any of them changes the key or nonce,
 *                          so decryption fails
 *
 * The public key is in the clear so that `kith id` works without the passphrase; on
 * decode it must match the key derived from the seed, which also catches corruption of
 * an unencrypted file. Argon2id parameters read from a file are bounded so that a
 * doctored file cannot make kith allocate gigabytes or spin for minutes.
 */
#ifndef KITH_KEYFILE_H
#define KITH_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "util/buf.h"

#define KITH_KEYFILE_PLAIN_LEN  73
#define KITH_KEYFILE_SEALED_LEN 145

/* Encodes id; with a passphrase (NUL-terminated, may not be empty) the seed is wrapped
 * with Argon2id (libsodium's "interactive" limits: 64 MiB, 2 passes). */
int kith_keyfile_encode(const kith_identity_t *id, const char *passphrase, kith_buf_t *out);
/* Decodes a key file. KITH_ECORRUPT if it is not a well-formed key file,
 * KITH_EPASSPHRASE if a passphrase is needed and missing or wrong. */
int kith_keyfile_decode(const uint8_t *data, size_t len, const char *passphrase,
                        kith_identity_t **out);
/* 1 if the file is passphrase-protected, 0 if not, KITH_ECORRUPT if malformed. */
int kith_keyfile_is_sealed(const uint8_t *data, size_t len);
/* The public key, readable without the passphrase. */
int kith_keyfile_public(const uint8_t *data, size_t len, uint8_t pk[static 32]);

#endif
