/*
 * The state file (kith.state): where the node's database stood when kith last wrote it,
 * kept beside the identity so that a database put back to an older copy of itself is
 * noticed (proto/STORE.md, "Going back in time").
 *
 *   "KITHST01" | nonce (24) | XChaCha20-Poly1305(db_id (16) | generation (8, BE) |
 *                                                max_seq (8, BE)) (48)
 *
 * 80 bytes. The key is derived from the identity (kith_vault_state_key()), the associated
 * data is the magic and the node's public key: only this identity can write one, and a
 * state file of another node does not open.
 */
#ifndef KITH_STATE_H
#define KITH_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"

#define KITH_STATE_FILE "kith.state"
#define KITH_STATE_LEN  80

typedef struct {
    uint8_t db_id[16];
    uint64_t generation; /* of the peers and shares */
    uint64_t max_seq;    /* the newest op's sequence number */
} kith_state_t;

/* Seals st for the identity whose state key and public key are given. */
void kith_state_encode(const uint8_t key[static 32], const uint8_t pk[static KITH_PK_LEN],
                       const kith_state_t *st, uint8_t out[static KITH_STATE_LEN]);
/* Opens a state file's bytes. KITH_ECORRUPT if it is not one, or does not authenticate
 * for this identity. */
int kith_state_decode(const uint8_t key[static 32], const uint8_t pk[static KITH_PK_LEN],
                      const uint8_t *in, size_t len, kith_state_t *out);
/* 1 if `now` is not behind `then` in any way that only grows. */
int kith_state_not_older(const kith_state_t *now, const kith_state_t *then);

#endif
