/*
 * Noise handshakes and transport cipher states (internal to libkith).
 *
 * Implements the Noise Protocol Framework, revision 34, for exactly two protocols:
 *
 *     Noise_IK_25519_ChaChaPoly_BLAKE2b      (KITH_NOISE_IK, what the transport uses)
 *     Noise_XX_25519_ChaChaPoly_BLAKE2b      (KITH_NOISE_XX)
 *
 * built only from libsodium primitives (X25519, ChaCha20-Poly1305 IETF, BLAKE2b-512,
 * with HMAC and HKDF built over BLAKE2b as the spec defines them). The module is pure:
 * it takes bytes and returns bytes, and never touches a socket, a file or the clock.
 * The only hidden input is the ephemeral key, drawn from randombytes_buf() when the
 * first message that carries it is written (tests inject a fixed one).
 *
 * Typical use (initiator; the responder mirrors it with read/write swapped):
 *
 *     kith_noise_hs_new(&hs, KITH_NOISE_IK, 1, prologue, prologue_len, s_priv, peer_pub);
 *     kith_noise_hs_write(hs, NULL, 0, msg, sizeof(msg), &msg_len);  ... send msg ...
 *     ... receive reply ...
 *     kith_noise_hs_read(hs, reply, reply_len, payload, sizeof(payload), &payload_len);
 *     if (kith_noise_hs_done(hs)) {
 *         kith_noise_hs_split(hs, &tx, &rx);
 *     }
 *     kith_noise_hs_free(hs);
 *
 * Failure is final: once kith_noise_hs_write() or kith_noise_hs_read() fails, for any
 * reason, the handshake state wipes its secrets and every later call on it fails with
 * KITH_EINVAL. A caller that sees a failure closes the connection.
 *
 * Buffers passed to the handshake functions must not overlap. The cipher-state
 * functions may encrypt or decrypt in place (out == pt or out == ct exactly).
 */
#ifndef KITH_NOISE_H
#define KITH_NOISE_H

#include <stddef.h>
#include <stdint.h>

enum {
    KITH_NOISE_IK = 1, /* Noise_IK_25519_ChaChaPoly_BLAKE2b: 2 handshake messages */
    KITH_NOISE_XX = 2, /* Noise_XX_25519_ChaChaPoly_BLAKE2b: 3 handshake messages */
};

#define KITH_NOISE_MAX_MSG  65535 /* bytes: the largest Noise message, handshake or transport */
#define KITH_NOISE_KEY_LEN  32    /* bytes: X25519 keys and ChaCha20-Poly1305 keys */
#define KITH_NOISE_TAG_LEN  16    /* bytes: Poly1305 tag added by every encryption */
#define KITH_NOISE_HASH_LEN 64    /* bytes: BLAKE2b-512 output, the handshake hash */

/*
 * Upper bound on the overhead the handshake adds to a payload in any one message:
 * two keys, one encrypted static key and one tag (XX message 2: 32 + 48 + 16 = 96).
 * A caller sizing a buffer for a handshake message of payload_len bytes can use
 * payload_len + KITH_NOISE_HS_OVERHEAD.
 */
#define KITH_NOISE_HS_OVERHEAD 96

/*
 * A transport CipherState, produced by kith_noise_hs_split().
 *
 * The caller embeds it (ideally inside memory obtained from sodium_malloc, since k is
 * a session key) and must call kith_noise_cs_wipe() on it when done, on every path.
 * Fields are public so it can be embedded, but only this module should change them.
 */
typedef struct {
    uint8_t k[KITH_NOISE_KEY_LEN]; /* ChaCha20-Poly1305 key */
    uint64_t n;                    /* next nonce; 2^64-1 is reserved and never used */
} kith_noise_cs_t;

/* Opaque handshake state, allocated with sodium_malloc. */
typedef struct kith_noise_hs kith_noise_hs_t;

/*
 * Creates a handshake state.
 *
 * pattern: KITH_NOISE_IK or KITH_NOISE_XX. initiator: non-zero for the side that sends
 * the first message. prologue (prologue_len bytes; NULL allowed when 0) must be the same
 * on both sides. s_priv: this node's X25519 static private key (copied). rs_pub: for the
 * IK initiator, the responder's X25519 static public key (copied); NULL in every other
 * case.
 *
 * On success *out owns a new state that the caller releases with kith_noise_hs_free().
 * Returns KITH_OK, KITH_EINVAL (NULL or unknown argument, rs_pub missing or unexpected),
 * KITH_ENOMEM, or KITH_ECRYPTO. On failure *out is NULL.
 */
int kith_noise_hs_new(kith_noise_hs_t **out, int pattern, int initiator, const uint8_t *prologue,
                      size_t prologue_len, const uint8_t s_priv[static KITH_NOISE_KEY_LEN],
                      const uint8_t *rs_pub);

/* Wipes and frees the state. NULL does nothing. */
void kith_noise_hs_free(kith_noise_hs_t *hs);

/*
 * Test only: fixes the ephemeral private key instead of drawing a random one. Must be
 * called before the message that carries this side's ephemeral key is written.
 * Returns KITH_OK, KITH_EINVAL (NULL, dead state, or ephemeral already in use) or
 * KITH_ECRYPTO.
 */
int kith__noise_hs_set_ephemeral(kith_noise_hs_t *hs,
                                 const uint8_t e_priv[static KITH_NOISE_KEY_LEN]);

/*
 * Writes the next handshake message, carrying payload (payload_len bytes; NULL allowed
 * when 0), into out (out_cap bytes). *out_len receives the message length, which never
 * exceeds KITH_NOISE_MAX_MSG. The payload is encrypted in every message except the
 * first XX message, where it travels in the clear.
 *
 * Returns KITH_OK; KITH_EINVAL (NULL argument, not this side's turn, handshake finished
 * or state dead); KITH_ETOOBIG (the message would exceed KITH_NOISE_MAX_MSG or out_cap);
 * KITH_ECRYPTO (a DH result is all zero: the peer's ephemeral key, accepted unchecked
 * from XX message 1, has low order). Any failure kills the state.
 */
int kith_noise_hs_write(kith_noise_hs_t *hs, const uint8_t *payload, size_t payload_len,
                        uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * Reads the next handshake message msg (msg_len bytes) and writes its decrypted payload
 * into payload_out (payload_cap bytes; NULL allowed when 0); *payload_len receives its
 * length. On failure payload_out is left untouched or zeroed, never holding plaintext
 * that failed authentication. Beware that the payload of XX message 1 is neither
 * encrypted nor authenticated (the spec's rule: no key exists yet); the payload of
 * every other message is both.
 *
 * Returns KITH_OK; KITH_EINVAL (NULL argument, not this side's turn, handshake finished
 * or state dead); KITH_EPROTO (msg_len is shorter than the message's fixed part or
 * larger than KITH_NOISE_MAX_MSG); KITH_ETOOBIG (the payload does not fit payload_cap);
 * KITH_ECRYPTO (authentication failed or a DH result is invalid, e.g. a low-order key).
 * Any failure kills the state. A message of the right size is worked through in full
 * even when an early step fails (every DH and decryption runs, the first failure is
 * returned), so the time taken does not tell where it failed.
 */
int kith_noise_hs_read(kith_noise_hs_t *hs, const uint8_t *msg, size_t msg_len,
                       uint8_t *payload_out, size_t payload_cap, size_t *payload_len);

/*
 * Copies the peer's static public key into out once it is known: from the start for
 * the IK initiator, after reading message 1 for the IK responder, after message 2 for
 * the XX initiator and after message 3 for the XX responder. The key is authenticated
 * only once the handshake is done. Returns KITH_OK or KITH_EINVAL (NULL argument, not
 * yet known, or state dead).
 */
int kith_noise_hs_remote_static(const kith_noise_hs_t *hs, uint8_t out[static KITH_NOISE_KEY_LEN]);

/* Returns 1 once every handshake message has been written or read, else 0 (also for
 * NULL or a dead state). Not an error code. */
int kith_noise_hs_done(const kith_noise_hs_t *hs);

/*
 * Copies the handshake hash h (for channel binding) into out. Available once the
 * handshake is done, also after kith_noise_hs_split(). Both sides get the same value.
 * Returns KITH_OK or KITH_EINVAL (NULL argument, handshake not done, or state dead).
 */
int kith_noise_hs_hash(const kith_noise_hs_t *hs, uint8_t out[static KITH_NOISE_HASH_LEN]);

/*
 * Derives the two transport cipher states. send encrypts what this side sends, recv
 * decrypts what it receives (the initiator's send is the spec's first CipherState).
 * Both start with nonce 0. May be called once, after the handshake is done; it then
 * wipes the chaining key. The caller must wipe both with kith_noise_cs_wipe().
 * Returns KITH_OK or KITH_EINVAL (NULL argument, not done, already split, or dead).
 */
int kith_noise_hs_split(kith_noise_hs_t *hs, kith_noise_cs_t *send, kith_noise_cs_t *recv);

/*
 * Encrypts pt (pt_len bytes) with associated data ad (ad_len bytes; NULL allowed when 0)
 * into out: pt_len + KITH_NOISE_TAG_LEN bytes, written to *out_len. Uses nonce cs->n and
 * then increments it.
 *
 * Returns KITH_OK; KITH_EINVAL (NULL argument); KITH_ETOOBIG (the ciphertext would exceed
 * KITH_NOISE_MAX_MSG or out_cap); KITH_ERANGE (the nonce reached 2^64-1: the cipher
 * state is exhausted and nothing more can be sent); KITH_ECRYPTO.
 */
int kith_noise_cs_encrypt(kith_noise_cs_t *cs, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                          size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * Decrypts and authenticates ct (ct_len bytes) with associated data ad into out:
 * ct_len - KITH_NOISE_TAG_LEN bytes, written to *out_len. The nonce increments only on
 * success, so a forged message does not desynchronise the two sides.
 *
 * Returns KITH_OK; KITH_EINVAL (NULL argument); KITH_EPROTO (ct_len shorter than a tag or
 * larger than KITH_NOISE_MAX_MSG); KITH_ETOOBIG (plaintext does not fit out_cap);
 * KITH_ERANGE (nonce exhausted); KITH_ECRYPTO (authentication failed; out is zeroed).
 */
int kith_noise_cs_decrypt(kith_noise_cs_t *cs, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                          size_t ct_len, uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * Replaces the key with REKEY(k) = the first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero
 * bytes), as the spec defines it. The nonce is not reset. Both sides must rekey at the
 * same point of the message stream. Returns KITH_OK, KITH_EINVAL (NULL) or KITH_ECRYPTO.
 */
int kith_noise_cs_rekey(kith_noise_cs_t *cs);

/* Wipes the key and nonce. NULL does nothing. */
void kith_noise_cs_wipe(kith_noise_cs_t *cs);

#endif
