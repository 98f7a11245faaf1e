/*
 * Envelopes: one record's signed ops, encrypted from one node to another, as armored
 * text a user can send by e-mail or chat ("kith send" / "kith receive").
 *
 *     -----BEGIN KITH ENVELOPE-----
 *     <base64 of "KENV" | version | ephemeral X25519 key | nonce | ciphertext>
 *     -----END KITH ENVELOPE-----
 *
 * proto/ENVELOPE.md is the normative format, with the key schedule, the reasoning
 * behind it and a worked example. In short: an ephemeral X25519 key agreement with the
 * recipient, plus a static-static one between sender and recipient, keys
 * XChaCha20-Poly1305. Only the recipient can read an envelope, and on opening it knows
 * which node sealed it. Nothing in the clear names the sender or the recipient.
 *
 * The module is pure: bytes in, bytes out. It never touches a file, a socket or the
 * store; the caller decides whether the sender is a known peer and imports the ops.
 * The only hidden inputs are the ephemeral key and the nonce, drawn from
 * randombytes_buf() (tests fix them through kith__envelope_seal_payload()).
 */
#ifndef KITH_ENVELOPE_H
#define KITH_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "model/op.h"
#include "util/buf.h"

#define KITH_ENVELOPE_VERSION     1
#define KITH_ENVELOPE_MAX_OPS     10000               /* ops in one envelope */
#define KITH_ENVELOPE_MAX_OPS_LEN ((size_t) 16 << 20) /* bytes: all signed ops together */
#define KITH_ENVELOPE_MAX_TEXT    ((size_t) 32 << 20) /* bytes: armored input to open */
#define KITH_ENVELOPE_LINE_LEN    76                  /* base64 characters per armor line */
#define KITH_ENVELOPE_NONCE_LEN   24                  /* bytes: XChaCha20-Poly1305 nonce */
#define KITH_ENVELOPE_HEADER_LEN  (4 + 1 + 32 + 24)   /* bytes: magic, version, key, nonce */
#define KITH_ENVELOPE_BEGIN       "-----BEGIN KITH ENVELOPE-----"
#define KITH_ENVELOPE_END         "-----END KITH ENVELOPE-----"

/* An opened envelope. kith_envelope_open() fills it; kith_envelope_close() frees it. */
typedef struct {
    uint8_t sender[KITH_PK_LEN];  /* Ed25519 key of the node that sealed it (authenticated) */
    uint8_t rec[KITH_REC_ID_LEN]; /* the one record every op belongs to */
    const uint8_t **ops;          /* n_ops signed ops (signature || encoding), in sent order */
    size_t *op_lens;              /* bytes of each op */
    size_t n_ops;                 /* 1 to KITH_ENVELOPE_MAX_OPS */
    uint8_t *mem;                 /* private: the block ops[i] point into */
    size_t mem_len;               /* private: bytes of mem */
} kith_envelope_t;

/*
 * Seals n_ops signed ops (ops[i] is op_lens[i] bytes: signature || encoding, as made by
 * kith_op_sign()) from sender to the node whose Ed25519 key is recipient_ed_pk, and
 * appends the armored text (LF line ends, a final LF) to armored_out. The ops are
 * checked first, since an envelope must never carry a private op by mistake: each must
 * verify with kith_op_verify(), none may be private, and all must belong to one record.
 * Sending to oneself (sender's own key) is allowed.
 *
 * Returns KITH_OK; KITH_EINVAL (NULL argument, n_ops 0 or above KITH_ENVELOPE_MAX_OPS,
 * an op that is malformed, badly signed, private or of another record, or a recipient
 * key that is not a valid Ed25519 key); KITH_ETOOBIG (an op above KITH_OP_MAX_LEN, or
 * more than KITH_ENVELOPE_MAX_OPS_LEN bytes of ops); KITH_ENOMEM; KITH_ECRYPTO.
 * On failure armored_out is left as it was.
 */
int kith_envelope_seal(const kith_identity_t *sender, const uint8_t recipient_ed_pk[static 32],
                       const uint8_t *const *ops, const size_t *op_lens, size_t n_ops,
                       kith_buf_t *armored_out);

/*
 * Finds an armored envelope in text (len bytes, not necessarily NUL-terminated) and
 * opens it as recipient. The armor may sit anywhere in surrounding text (an e-mail, a
 * chat log); inside it, "> " quote prefixes, CR LF line ends, blank lines, spaces and
 * tabs are ignored, so the base64 may have been re-wrapped or quoted. Only the first
 * envelope in text is read.
 *
 * On success *out holds the authenticated sender, the record id and copies of the ops,
 * every one of which has already passed kith_op_verify(), is not private and belongs
 * to out->rec; the caller releases it with kith_envelope_close(). Whether the sender is
 * a known peer, and whether its ops may change the record, is the caller's business.
 * On failure *out is empty (closing it is harmless) and, if errbuf is not NULL, a
 * one-line reason of at most errcap bytes (NUL included) is written there.
 *
 * Returns KITH_OK;
 *   KITH_EINVAL   NULL recipient, text or out;
 *   KITH_ETOOBIG  len above KITH_ENVELOPE_MAX_TEXT, or a ciphertext above the limits;
 *   KITH_EPARSE   no BEGIN line, no END line, a bad character or bad base64 between
 *                 them, not an envelope (wrong magic), or too short (truncated);
 *   KITH_EVERSION a version byte other than 1 (checked before any decryption), or a
 *                 payload "v" other than 1;
 *   KITH_ECRYPTO  decryption failed: damaged, tampered with, or not for this node;
 *   KITH_EPROTO   it decrypts, but the content is malformed, names another recipient,
 *                 or an op fails verification, is private or is of another record;
 *   KITH_ENOMEM.
 */
int kith_envelope_open(const kith_identity_t *recipient, const char *text, size_t len,
                       kith_envelope_t *out, char *errbuf, size_t errcap);

/* Wipes and frees what an opened envelope holds and leaves it empty. NULL and an
 * already closed or zeroed envelope are fine. */
void kith_envelope_close(kith_envelope_t *env);

/*
 * Internal, for tests, the fuzz target and proto/ENVELOPE.md's example.
 */

/* Appends the payload plaintext, canonical msgpack
 * {"ops": [bin, ...], "recipient": bin 32, "sender": bin 32, "v": 1}, to out.
 * No checks on the ops beyond n_ops and lengths. KITH_EINVAL, KITH_ETOOBIG, KITH_ENOMEM. */
int kith__envelope_encode_payload(const uint8_t sender_ed_pk[static 32],
                                  const uint8_t recipient_ed_pk[static 32],
                                  const uint8_t *const *ops, const size_t *op_lens, size_t n_ops,
                                  kith_buf_t *out);

/* Parses and checks a payload as kith_envelope_open() does once it has decrypted it
 * (sender_ed_pk being the key the decryption authenticated), filling *out on success.
 * Same return codes as kith_envelope_open() for that stage. Takes no ownership of pt. */
int kith__envelope_decode_payload(const uint8_t *pt, size_t pt_len,
                                  const uint8_t sender_ed_pk[static 32],
                                  const uint8_t recipient_ed_pk[static 32], kith_envelope_t *out,
                                  char *errbuf, size_t errcap);

/* Seals an arbitrary payload pt (unchecked, at most the largest valid payload) and
 * appends the armored text to out. eph_sk (32 bytes) and nonce (24 bytes) fix the
 * ephemeral secret key and the nonce; NULL draws them at random. Same return codes as
 * kith_envelope_seal(). */
int kith__envelope_seal_payload(const kith_identity_t *sender,
                                const uint8_t recipient_ed_pk[static 32], const uint8_t *pt,
                                size_t pt_len, const uint8_t *eph_sk, const uint8_t *nonce,
                                kith_buf_t *out);

/* Armors bin (len bytes) and appends the text to out: KITH_OK, KITH_ENOMEM, KITH_ETOOBIG. */
int kith__envelope_armor(const uint8_t *bin, size_t len, kith_buf_t *out);

/* Finds the armor in text and appends the decoded bytes to out. Checks only the armor
 * and base64, not the content. KITH_EPARSE (reason in errbuf), KITH_ETOOBIG, KITH_ENOMEM. */
int kith__envelope_dearmor(const char *text, size_t len, kith_buf_t *out, char *errbuf,
                           size_t errcap);

#endif
