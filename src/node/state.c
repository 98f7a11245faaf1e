/*
 * The state file; see state.h.
 */
#include "node/state.h"

#include <sodium.h>
#include <string.h>

#include "kith/error.h"

#define MAGIC     "KITHST01"
#define MAGIC_LEN 8
#define PT_LEN    32

static void
put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t) (v >> (56 - 8 * i));
    }
}

static uint64_t
get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void
make_ad(const uint8_t pk[KITH_PK_LEN], uint8_t ad[MAGIC_LEN + KITH_PK_LEN])
{
    memcpy(ad, MAGIC, MAGIC_LEN);
    memcpy(ad + MAGIC_LEN, pk, KITH_PK_LEN);
}

void
kith_state_encode(const uint8_t key[static 32], const uint8_t pk[static KITH_PK_LEN],
                  const kith_state_t *st, uint8_t out[static KITH_STATE_LEN])
{
    uint8_t pt[PT_LEN], ad[MAGIC_LEN + KITH_PK_LEN];
    memcpy(pt, st->db_id, 16);
    put_u64(pt + 16, st->generation);
    put_u64(pt + 24, st->max_seq);
    make_ad(pk, ad);
    memcpy(out, MAGIC, MAGIC_LEN);
    uint8_t *nonce = out + MAGIC_LEN;
    randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + MAGIC_LEN + 24, NULL, pt, PT_LEN, ad,
                                               sizeof(ad), NULL, nonce, key);
    sodium_memzero(pt, sizeof(pt));
}

int
kith_state_decode(const uint8_t key[static 32], const uint8_t pk[static KITH_PK_LEN],
                  const uint8_t *in, size_t len, kith_state_t *out)
{
    uint8_t pt[PT_LEN], ad[MAGIC_LEN + KITH_PK_LEN];
    memset(out, 0, sizeof(*out));
    if (in == NULL || len != KITH_STATE_LEN || memcmp(in, MAGIC, MAGIC_LEN) != 0) {
        return KITH_ECORRUPT;
    }
    make_ad(pk, ad);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, in + MAGIC_LEN + 24,
                                                   KITH_STATE_LEN - MAGIC_LEN - 24, ad, sizeof(ad),
                                                   in + MAGIC_LEN, key) != 0) {
        return KITH_ECORRUPT;
    }
    memcpy(out->db_id, pt, 16);
    out->generation = get_u64(pt + 16);
    out->max_seq = get_u64(pt + 24);
    return KITH_OK;
}

int
kith_state_not_older(const kith_state_t *now, const kith_state_t *then)
{
    return sodium_memcmp(now->db_id, then->db_id, 16) == 0 && now->generation >= then->generation &&
           now->max_seq >= then->max_seq;
}
