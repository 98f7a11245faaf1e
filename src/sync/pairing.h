/*
 * Pairing two nodes with a short spoken code, over CPace (proto/PAIRING.md).
 *
 * The host runs `kith pair`, which makes a code such as "42-apple-river-tiger" and shows
 * it; the joiner types it into `kith pair CODE`. Both build a kith_pairing_t from the
 * same channel and words and exchange four messages; at the end each knows the other's
 * name and Ed25519 public key, and knows that nobody without the code was involved:
 *
 *     joiner                                          host
 *     kith_pairing_start()         -- 1: sid, Ya -->   kith_pairing_receive()
 *     kith_pairing_receive()   <-- 2: Yb, confirm_b --
 *     (code checked)          -- 3: confirm_a, sealed_a -->  kith_pairing_receive()
 *                                                      (code checked, joiner known, done)
 *     kith_pairing_receive()       <-- 4: sealed_b --
 *     (host known, done)
 *
 * The module is pure: bytes in, bytes out, no sockets, files or clock. Transport,
 * discovery of the host on the LAN, the 5-minute code lifetime and the limit on attempts
 * (KITH_PAIRING_TTL_MS, KITH_PAIRING_MAX_ATTEMPTS) are the caller's job: one
 * kith_pairing_t serves exactly one exchange, and every exchange a host starts that does
 * not reach done counts as one failed attempt at guessing its code.
 *
 * Failure is final: once kith_pairing_start() or kith_pairing_receive() fails, the state
 * wipes its secrets, every later call fails with KITH_EINVAL, and the caller closes the
 * connection. Secrets (the code, the CPace state, the session key) live in
 * sodium_malloc'd memory. The caller must have run kith_init().
 */
#ifndef KITH_PAIRING_H
#define KITH_PAIRING_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum {
    KITH_PAIRING_HOST = 1,   /* shows the code, answers message 1 (CPace responder) */
    KITH_PAIRING_JOINER = 2, /* types the code, sends message 1 (CPace initiator) */
};

#define KITH_PAIRING_VERSION       1      /* the "v" of messages 1 and 2 */
#define KITH_PAIRING_WORDS         3      /* words in a code, one byte of entropy each */
#define KITH_PAIRING_CHANNEL_MIN   1      /* channel numbers, the code's first part */
#define KITH_PAIRING_CHANNEL_MAX   99     /*   "                                    */
#define KITH_PAIRING_CODE_MAX      64     /* bytes for a formatted code, NUL included */
#define KITH_PAIRING_CODE_TEXT_MAX 256    /* bytes of typed text parse looks at */
#define KITH_PAIRING_NAME_MAX      64     /* bytes of UTF-8 in a name, NUL excluded */
#define KITH_PAIRING_KEY_LEN       32     /* bytes: an Ed25519 public key */
#define KITH_PAIRING_SID_LEN       16     /* bytes: the CPace session id */
#define KITH_PAIRING_MSG_MAX       1024   /* bytes: longest message accepted or sent */
#define KITH_PAIRING_TTL_MS        300000 /* a code is void 5 minutes after it was made */
#define KITH_PAIRING_MAX_ATTEMPTS  3      /* failed exchanges a host allows per code */

/* Opaque state of one exchange, sodium_malloc'd. */
typedef struct kith_pairing kith_pairing_t;

/*
 * Makes a random code "N-word-word-word" (channel 1..99, three random words) into out.
 * Returns KITH_OK or KITH_EINVAL (out NULL).
 */
int kith_pairing_code_new(char out[static KITH_PAIRING_CODE_MAX]);

/*
 * Formats a channel and words as the canonical code (lowercase, '-' separated).
 * Returns KITH_OK or KITH_EINVAL (NULL argument, channel out of range).
 */
int kith_pairing_code_format(int channel, const uint8_t words[static KITH_PAIRING_WORDS],
                             char out[static KITH_PAIRING_CODE_MAX]);

/*
 * Parses a typed code: a channel of one or two digits (1..99) and three list words, in
 * any letter case, separated by runs of '-' and ' ', with optional surrounding
 * whitespace. Returns KITH_OK, KITH_EINVAL (NULL argument) or KITH_EPARSE (anything
 * else: unknown word, bad channel, wrong number of parts, over
 * KITH_PAIRING_CODE_TEXT_MAX bytes). On failure *channel is 0 and words are zeroed.
 */
int kith_pairing_code_parse(const char *text, int *channel,
                            uint8_t words[static KITH_PAIRING_WORDS]);

/*
 * For a code that does not parse: if the channel is valid and every part is a list
 * word or has one unambiguous closest word (kith_wordlist_closest), writes the
 * corrected canonical code to out for the user to confirm. Returns KITH_OK,
 * KITH_EINVAL (NULL argument) or KITH_EPARSE (no single correction).
 */
int kith_pairing_code_suggest(const char *text, char out[static KITH_PAIRING_CODE_MAX]);

/*
 * Creates the state of one exchange. role: KITH_PAIRING_HOST or KITH_PAIRING_JOINER.
 * channel and words: the code, as kith_pairing_code_parse() returns it (copied, kept in
 * secure memory). self_name: this node's display name, 1..KITH_PAIRING_NAME_MAX bytes of
 * UTF-8 without control characters (copied). self_ed_pk: this node's Ed25519 public key
 * (copied; must be a valid point).
 *
 * On success *out owns a state released with kith_pairing_free(). Returns KITH_OK,
 * KITH_EINVAL (NULL or out-of-range argument, bad name or key) or KITH_ENOMEM. On failure
 * *out is NULL.
 */
int kith_pairing_new(kith_pairing_t **out, int role, int channel,
                     const uint8_t words[static KITH_PAIRING_WORDS], const char *self_name,
                     const uint8_t self_ed_pk[static KITH_PAIRING_KEY_LEN]);

/* Wipes and frees the state. NULL does nothing. */
void kith_pairing_free(kith_pairing_t *p);

/*
 * Joiner only: writes message 1 to out (its previous contents are discarded: out->len is
 * reset to 0 first). Returns KITH_OK, KITH_EINVAL (NULL argument, not a joiner, already
 * started, dead), KITH_ENOMEM or KITH_ECRYPTO; any failure but KITH_EINVAL kills the state.
 */
int kith_pairing_start(kith_pairing_t *p, kith_buf_t *out);

/*
 * Feeds the next message from the peer (msg, len bytes). out's previous contents are
 * discarded; on KITH_OK it holds the reply to send, or nothing (len 0) when the
 * exchange is complete and there is nothing left to send. Check kith_pairing_done().
 *
 * Returns KITH_OK; KITH_EAUTH (the peer's key confirmation does not match: a wrong code,
 * or an attacker guessing it); KITH_EPROTO (malformed, truncated, oversized,
 * non-canonical or unexpected message, or an invalid CPace share); KITH_EVERSION
 * (message 1 or 2 of another protocol version); KITH_ECRYPTO (a sealed identity fails
 * to decrypt after a correct confirmation: tampering); KITH_ENOMEM; or KITH_EINVAL (NULL
 * argument, joiner not started, exchange already done or dead; the state is unchanged).
 * Every other failure kills the state and leaves out empty.
 */
int kith_pairing_receive(kith_pairing_t *p, const uint8_t *msg, size_t len, kith_buf_t *out);

/* Non-zero once the exchange completed and the peer's identity is known. NULL gives 0. */
int kith_pairing_done(const kith_pairing_t *p);

/*
 * After done: the peer's name (NUL-terminated UTF-8, no control characters) and Ed25519
 * public key. Returns KITH_OK or KITH_EINVAL (NULL argument or not done; name becomes
 * "" and key zeros).
 */
int kith_pairing_peer(const kith_pairing_t *p, char name[static KITH_PAIRING_NAME_MAX + 1],
                      uint8_t key[static KITH_PAIRING_KEY_LEN]);

/*
 * Test only: fixes this side's CPace scalar (32 bytes, non-zero, below the group order)
 * and, for the joiner, the session id (sid: KITH_PAIRING_SID_LEN bytes; NULL keeps it
 * random; must be NULL for the host). Must be called before the joiner's start or the
 * host's first receive. Returns KITH_OK or KITH_EINVAL (NULL, wrong time, sid for the
 * host, or a zero or non-canonical scalar; the state is unchanged).
 */
int kith__pairing_set_secrets(kith_pairing_t *p, const uint8_t scalar[static 32],
                              const uint8_t *sid);

#endif
