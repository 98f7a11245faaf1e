/*
 * Running a pairing over the LAN: the blocking network flow behind `kith pair` and the web
 * UI's pairing (proto/PAIRING.md for the exchange, net/pairoffer.h for the offers).
 *
 * The host makes a code, announces its channel and a TCP port by UDP offers (broadcast and
 * multicast on every IPv4 interface but loopback), accepts joiners and runs the CPace
 * exchange of sync/pairing.h with each, allowing KITH_PAIRING_MAX_ATTEMPTS failures. The
 * joiner listens for an offer on its code's channel, connects to the first host it hears
 * and runs one exchange. When an exchange succeeds the connection is already closed and
 * the other side has learnt everything it will learn; only then is decide() asked.
 *
 * Both calls block the calling thread until done (the CLI's main thread, or a worker
 * thread of the daemon; never a libuv loop thread). They print nothing, touch no store and
 * keep no global state: two runs may go on at once on different threads (but two joiners
 * in one process share the UDP port, so only one of them hears a given offer). The caller
 * must have run kith_init(). The code's words are wiped before returning.
 */
#ifndef KITH_PAIRRUN_H
#define KITH_PAIRRUN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "sync/pairing.h"

/* Callbacks of one run. Every callback runs on the calling thread, synchronously; any of
 * them may be NULL. */
typedef struct {
    void *ctx; /* passed to every callback */
    /* Host only, once the network is open and before the first offer: the code to read
     * to the colleague (NUL-terminated, valid only during the call; it is secret, so do
     * not log it) and how long it lives, in seconds. */
    void (*on_code)(void *ctx, const char *code, unsigned expires_s);
    /* Things worth telling the user as they happen, as full sentences ending in '.'
     * or "...": "Looking for the other side on channel 7...", "Found a host at
     * 198.18.0.2; checking the code...", "A pairing attempt failed: wrong code (1 of 3
     * attempts)." Valid only during the call. */
    void (*on_progress)(void *ctx, const char *sentence);
    /* The code matched and the exchange is over (connection closed): the other side's
     * name as they gave it (UTF-8 without control characters, not unique, not checked)
     * and Ed25519 key. Return nonzero to accept, 0 to refuse. May block as long as it
     * likes (a prompt, a click); the cancel flag is not looked at meanwhile. NULL
     * accepts. */
    int (*decide)(void *ctx, const char *their_name, const uint8_t key[KITH_PK_LEN]);
    /* When not NULL, read at least every 500 ms while the run waits on the network:
     * nonzero ends the run with KITH_ECANCELED. Set it from another thread. */
    const volatile int *cancel;
} kith_pairrun_cb_t;

/*
 * Hosts one pairing: makes a code, passes it to cb->on_code, offers it for timeout_ms
 * (1..KITH_PAIRING_TTL_MS) and runs exchanges with joiners until one succeeds, the code
 * expires or KITH_PAIRING_MAX_ATTEMPTS exchanges have failed. self_pk and self_name
 * (1..KITH_PAIRING_NAME_MAX bytes of UTF-8) are what the joiner will see. cb may be NULL.
 *
 * Returns KITH_OK with their_name and their_key set once an exchange succeeded and
 * decide() accepted; otherwise an error, with a sentence without final period in errbuf
 * (may be NULL) and their_name "" and their_key zeros:
 *   KITH_EPERM      decide() refused ("the pairing was refused")
 *   KITH_ENOTFOUND  the code expired with nobody paired
 *   KITH_EAUTH      too many failed attempts: the code is void
 *   KITH_EIO        the network cannot be opened
 *   KITH_ECANCELED  *cb->cancel became nonzero
 *   KITH_EINVAL     bad argument (NULL, timeout out of range, bad name or key)
 *   KITH_ENOMEM, KITH_ECRYPTO  making the code or the exchange state failed
 */
int kith_pairrun_host(const uint8_t self_pk[static KITH_PK_LEN], const char *self_name,
                      uint64_t timeout_ms, const kith_pairrun_cb_t *cb,
                      char their_name[static KITH_PAIRING_NAME_MAX + 1],
                      uint8_t their_key[static KITH_PK_LEN], char *errbuf, size_t errcap);

/*
 * Joins a pairing with a typed code (as kith_pairing_code_parse() reads it): listens on
 * UDP port KITH_DISCOVERY_PORT for up to timeout_ms (> 0) for an offer on the code's
 * channel, connects to the first host heard and runs one exchange, whatever its outcome.
 * Arguments, results and errbuf as for kith_pairrun_host(); errors:
 *   KITH_EPERM      decide() refused
 *   KITH_ENOTFOUND  no offer on the channel within timeout_ms
 *   KITH_EAUTH      the code does not match the host's
 *   KITH_EPARSE     code is not a pairing code
 *   KITH_EIO        the UDP port cannot be opened
 *   KITH_ECANCELED  *cb->cancel became nonzero
 *   KITH_EINVAL     bad argument
 *   any error of the exchange (KITH_EIO, KITH_EPROTO, KITH_EVERSION, KITH_ECRYPTO,
 *   KITH_ENOMEM): "pairing failed: <kith_strerror>"
 */
int kith_pairrun_join(const uint8_t self_pk[static KITH_PK_LEN], const char *self_name,
                      const char *code, uint64_t timeout_ms, const kith_pairrun_cb_t *cb,
                      char their_name[static KITH_PAIRING_NAME_MAX + 1],
                      uint8_t their_key[static KITH_PK_LEN], char *errbuf, size_t errcap);

#endif
