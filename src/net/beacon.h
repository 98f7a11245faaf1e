/*
 * LAN discovery beacons: UDP datagrams that only trusted peers can recognise.
 *
 * A beacon says "a node you trust listens on TCP port P of the host this came from"
 * to each of the sender's peers, and nothing a stranger can use to tell two beacons of
 * one node apart. The format and the reasoning are in proto/BEACON.md; this module is
 * pure: no sockets, no clock (the time is passed in), no global state. The daemon
 * sends what kith_beacon_build() makes and hands what it receives to
 * kith_beacon_match().
 *
 * Keys are directional. For every trusted peer a node keeps two 32-byte keys from
 * kith_beacon_pair_keys(): the send key tags its own beacons for that peer, the recv
 * key recognises the peer's beacons. (One symmetric key per pair, as first designed,
 * would make every node recognise its own looped-back multicast as coming from its
 * peers, and let anyone reflect a node's beacon back at it; see proto/BEACON.md.)
 * Both keys are secrets: keep them in sodium_malloc'd memory and wipe them.
 *
 * Every function needs kith_init() (sodium_init) to have run.
 */
#ifndef KITH_BEACON_H
#define KITH_BEACON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/identity.h"

#define KITH_BEACON_VERSION     2
#define KITH_BEACON_KEY_LEN     32
#define KITH_BEACON_NONCE_LEN   16
#define KITH_BEACON_TAG_LEN     8
#define KITH_BEACON_HEADER_LEN  28  /* bytes: version 1, nonce 16, time 8, port 2, count 1 */
#define KITH_BEACON_MAX_TAGS    128 /* tags per datagram */
#define KITH_BEACON_TAG_QUANTUM 8   /* the tag count is a multiple of this, at least this */
#define KITH_BEACON_MAX_LEN     (KITH_BEACON_HEADER_LEN + KITH_BEACON_MAX_TAGS * KITH_BEACON_TAG_LEN)
#define KITH_BEACON_WINDOW_S    600 /* a beacon's time may differ from ours by this much */
#define KITH_BEACON_ADDR_LEN    16  /* a source address as tagged: IPv6, or IPv4-mapped IPv6 */

/* One datagram, ready for sendto(). Caller-owned; nothing inside needs freeing. */
typedef struct {
    uint8_t data[KITH_BEACON_MAX_LEN]; /* the datagram */
    size_t len;                        /* bytes used: 28 + 8 * count, 92..1052 */
} kith_beacon_dgram_t;

/*
 * Derives the two beacon keys this node shares with the peer whose Ed25519 public key
 * is peer_ed_pk:
 *
 *     dh       = X25519(self x25519 secret, peer x25519 public)
 *     send_key = BLAKE2b-256(key = dh, "kith beacon v1" || self_ed_pk || peer_ed_pk)
 *     recv_key = BLAKE2b-256(key = dh, "kith beacon v1" || peer_ed_pk || self_ed_pk)
 *
 * so this node's send_key is the peer's recv_key for it and vice versa. Compute once
 * per peer and keep the keys (sodium_malloc'd by the caller) for as long as the peer
 * is trusted.
 *
 * Returns KITH_OK; KITH_EINVAL if self is NULL or peer_ed_pk is self's own key (a node's beacons
 * must not match its own keys); KITH_ECRYPTO if peer_ed_pk is not a valid Ed25519 key or the X25519
 * result is all zeros (a low-order point). On failure both keys are zeroed.
 */
int kith_beacon_pair_keys(const kith_identity_t *self, const uint8_t peer_ed_pk[static 32],
                          uint8_t send_key[static KITH_BEACON_KEY_LEN],
                          uint8_t recv_key[static KITH_BEACON_KEY_LEN]);

/*
 * The number of datagrams kith_beacon_build() makes for n_keys peers: one per
 * KITH_BEACON_MAX_TAGS peers, rounded up, and 1 for no peers at all.
 */
size_t kith_beacon_count(size_t n_keys);

/*
 * Builds this node's beacons for the peers whose send keys are keys[0..n_keys-1],
 * advertising TCP port `port` at Unix time now_s, to be sent from the source address src
 * (kith_beacon_addr()): the tags only match for a receiver that sees the datagram come
 * from src, so a node with several addresses builds one set per address it sends from.
 * Each datagram gets a fresh random
 * nonce; the peers are spread evenly over kith_beacon_count(n_keys) datagrams; each
 * datagram's tags are padded with random ones to a multiple of 8 (at least 8) and
 * sorted. With n_keys == 0 one datagram of 8 random tags is made, which no one
 * matches: whether to send it is the caller's choice.
 *
 * out is a caller-owned array of cap elements; cap must be at least
 * kith_beacon_count(n_keys). Nothing is allocated that the caller must free.
 *
 * Returns KITH_OK and sets *n_out; KITH_EINVAL if port is 0, keys is NULL with
 * n_keys > 0, or cap is too small (then *n_out is the count needed and out is
 * untouched); KITH_ECRYPTO if libsodium fails.
 */
int kith_beacon_build(const uint8_t (*keys)[KITH_BEACON_KEY_LEN], size_t n_keys, uint16_t port,
                      uint64_t now_s, const uint8_t src[static KITH_BEACON_ADDR_LEN],
                      kith_beacon_dgram_t *out, size_t cap, size_t *n_out);

/*
 * Checks whether a received datagram is a beacon from one of our peers, whose recv keys
 * are keys[0..n_keys-1], sent from the source address src (kith_beacon_addr() of the
 * address the datagram came from). Cost: one BLAKE2b per key plus one pass and a binary search
 * per key over the tags, O(n_keys * log(tags) + tags); nothing is allocated.
 *
 * Returns
 *   KITH_OK        a tag made with keys[i] for src is present: *peer_index = i (the
 *                  lowest such i), *port = the advertised TCP port and *time_s = the
 *                  beacon's time (for kith_beacon_replay_check());
 *   KITH_ENOTFOUND well-formed, but no key's tag is present (a stranger, ourselves, a
 *                  tampered beacon, or one replayed from another address), or its time
 *                  is more than KITH_BEACON_WINDOW_S seconds from now_s (a replay);
 *   KITH_EVERSION  the first byte is not 2 (version 1 beacons, whose tags do not cover
 *                  the address, are refused like any unknown version);
 *   KITH_EPARSE    malformed: shorter than the header, a tag count that is 0, over 128
 *                  or not a multiple of 8, a length other than 28 + 8 * count (trailing
 *                  bytes included), port 0, or tags not in ascending order;
 *   KITH_EINVAL    dgram is NULL with len > 0, src is NULL, or keys is NULL with
 *                  n_keys > 0;
 *   KITH_ECRYPTO   libsodium failed (never expected).
 * *peer_index, *port and *time_s are written only on KITH_OK. Any of them may be NULL.
 */
int kith_beacon_match(const uint8_t *dgram, size_t len, const uint8_t *src,
                      const uint8_t (*keys)[KITH_BEACON_KEY_LEN], size_t n_keys, uint64_t now_s,
                      size_t *peer_index, uint16_t *port, uint64_t *time_s);

/*
 * The 16 bytes a beacon's tags bind for the socket address sa: an IPv6 address as is
 * (without its scope: a link-local address is the same on both ends, the interface index
 * is not), an IPv4 address a.b.c.d as the IPv4-mapped ::ffff:a.b.c.d. The port is not
 * used. Returns KITH_OK, or KITH_EINVAL for NULL or another address family.
 */
int kith_beacon_addr(const struct sockaddr *sa, uint8_t out[static KITH_BEACON_ADDR_LEN]);

/*
 * kith_beacon_build() with every random byte (nonces, padding tags) drawn from a
 * ChaCha20 stream keyed by seed. For the known-answer example of proto/BEACON.md and
 * for tests only: a beacon must never reuse a nonce, so production code calls
 * kith_beacon_build(), which uses a fresh random seed each time.
 */
int kith__beacon_build_seeded(const uint8_t (*keys)[KITH_BEACON_KEY_LEN], size_t n_keys,
                              uint16_t port, uint64_t now_s,
                              const uint8_t src[static KITH_BEACON_ADDR_LEN],
                              const uint8_t seed[static 32], kith_beacon_dgram_t *out, size_t cap,
                              size_t *n_out);

/* ---- Receiving: replays and floods ------------------------------------------------------
 *
 * Two small pure tables for the receiver (the daemon's discovery keeps one of each; the
 * clock is passed in). See proto/BEACON.md, "Receiving policy".
 */

#define KITH_BEACON_REPLAY_ID_LEN   16   /* bytes of a peer's replay id */
#define KITH_BEACON_REPLAY_CAP      1024 /* peers remembered */
#define KITH_BEACON_REPLAY_REC      24   /* bytes per saved entry: id 16, time 8 */
#define KITH_BEACON_REPLAY_MAX_SAVE (1 + KITH_BEACON_REPLAY_CAP * KITH_BEACON_REPLAY_REC)

/* Per sending peer, the newest beacon time accepted from it (the sender's clock). */
typedef struct {
    uint8_t id[KITH_BEACON_REPLAY_ID_LEN]; /* kith_beacon_replay_id() of the recv key */
    uint64_t newest_s;                     /* Unix seconds, as in the beacon */
} kith_beacon_seen_t;

/* Caller-owned (about 24 KiB); nothing inside needs freeing. */
typedef struct {
    kith_beacon_seen_t seen[KITH_BEACON_REPLAY_CAP];
    size_t n; /* entries used */
} kith_beacon_replay_t;

/* Empties r. */
void kith_beacon_replay_init(kith_beacon_replay_t *r);

/*
 * The id under which the replay table remembers the peer whose recv key is recv_key:
 * BLAKE2b-128(key = recv_key, "kith beacon replay id"). It names no one to whoever reads
 * the saved table, and stays the same for as long as the pair's keys do.
 * Returns KITH_OK or KITH_ECRYPTO.
 */
int kith_beacon_replay_id(const uint8_t recv_key[static KITH_BEACON_KEY_LEN],
                          uint8_t id[static KITH_BEACON_REPLAY_ID_LEN]);

/*
 * Decides whether a matched beacon of time time_s from the peer with id may be acted on:
 * only if it is newer than every beacon accepted from that peer before. Then it is
 * recorded. A full table forgets the entry with the oldest time first.
 * Returns KITH_OK (accepted and recorded), KITH_EEXISTS (not newer: a replay, or a
 * second copy of one beacon), KITH_EINVAL for NULL arguments.
 */
int kith_beacon_replay_check(kith_beacon_replay_t *r,
                             const uint8_t id[static KITH_BEACON_REPLAY_ID_LEN], uint64_t time_s);

/*
 * Serialises r into out (caller-owned, cap bytes; KITH_BEACON_REPLAY_MAX_SAVE always
 * suffices): a version byte 1, then per entry the id and the time as 8 bytes big-endian.
 * Returns KITH_OK and sets *out_len, or KITH_EINVAL if cap is too small.
 */
int kith_beacon_replay_save(const kith_beacon_replay_t *r, uint8_t *out, size_t cap,
                            size_t *out_len);

/*
 * Replaces r's contents with what kith_beacon_replay_save() wrote. Returns KITH_OK;
 * KITH_EVERSION for another version byte; KITH_EPARSE if empty, not a whole number of
 * entries, or more than KITH_BEACON_REPLAY_CAP of them. On error r is left empty. An id
 * listed twice keeps its newest time.
 */
int kith_beacon_replay_load(kith_beacon_replay_t *r, const uint8_t *in, size_t len);

#define KITH_BEACON_SOURCES        64  /* source addresses the limiter tracks */
#define KITH_BEACON_PROVEN_MAX     32  /* of which at most this many proven */
#define KITH_BEACON_SOURCE_BURST   16  /* datagrams a source may send at once */
#define KITH_BEACON_SOURCE_RATE    1   /* datagrams per second per source, sustained */
#define KITH_BEACON_STRANGERS_RATE 100 /* datagrams per second, all unproven sources */

typedef struct {
    uint8_t addr[KITH_BEACON_ADDR_LEN]; /* kith_beacon_addr() */
    uint64_t tokens_mt;                 /* milli-datagrams it may still send */
    uint64_t last_ms;                   /* when tokens_mt was last brought up to date */
    uint64_t proven_ms;                 /* when a peer's beacon last matched from here; 0: never */
    int used;
} kith_beacon_source_t;

/* Caller-owned (a few KiB); nothing inside needs freeing. */
typedef struct {
    kith_beacon_source_t src[KITH_BEACON_SOURCES];
    uint64_t strangers_mt; /* the unproven sources' shared bucket, milli-datagrams */
    uint64_t strangers_ms; /* when it was last brought up to date */
} kith_beacon_limiter_t;

/* Empties l, with full buckets, at monotonic time now_ms. */
void kith_beacon_limiter_init(kith_beacon_limiter_t *l, uint64_t now_ms);

/*
 * Whether to spend work on one datagram from addr (kith_beacon_addr()) at monotonic time
 * now_ms: 1 to go on and match it, 0 to drop it unread. Each source has a bucket of
 * KITH_BEACON_SOURCE_BURST datagrams refilled at KITH_BEACON_SOURCE_RATE a second;
 * unproven sources also share one of KITH_BEACON_STRANGERS_RATE a second. An unknown
 * source takes a free entry, else the unproven entry with the most tokens left (ties: the
 * one heard from longest ago); proven entries are never displaced by unproven ones.
 */
int kith_beacon_limiter_admit(kith_beacon_limiter_t *l,
                              const uint8_t addr[static KITH_BEACON_ADDR_LEN], uint64_t now_ms);

/*
 * Marks addr as proven: a trusted peer's beacon, whose tags bind this address, matched
 * from it. With KITH_BEACON_PROVEN_MAX proven already, the one proven longest ago becomes
 * unproven. Does nothing for an address not in the table.
 */
void kith_beacon_limiter_proven(kith_beacon_limiter_t *l,
                                const uint8_t addr[static KITH_BEACON_ADDR_LEN], uint64_t now_ms);

#endif
