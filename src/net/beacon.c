/*
 * LAN discovery beacons (proto/BEACON.md): building this node's datagrams and
 * recognising a peer's.
 *
 * Usage. At start, for every trusted peer, kith_beacon_pair_keys() gives a send key
 * and a recv key (the caller keeps them in sodium_malloc'd memory). Every 30 s the
 * daemon calls kith_beacon_build() with the send keys, once per source address, and
 * sends each datagram from that address; for every datagram it receives it asks
 * kith_beacon_limiter_admit() whether to spend work on it, calls kith_beacon_match()
 * with the address it came from and the recv keys and, on KITH_OK and if
 * kith_beacon_replay_check() finds the beacon newer than the peer's last, tries a Noise
 * connection to the sender's address and the advertised port.
 *
 * A beacon only hints where a peer might be. Its tags cover the source address the sender
 * sends it from (version 2), so a beacon replayed from another address matches no key;
 * the daemon also refuses a beacon not newer than the last one accepted from that peer
 * (kith_beacon_replay_check()). The Noise handshake that follows is what proves who
 * answers.
 *
 * Limits: at most KITH_BEACON_MAX_TAGS tags per datagram; more peers mean more
 * datagrams. Receiving costs one keyed BLAKE2b per recv key whatever the datagram
 * holds, hence the per-source limiter. The replay table remembers at most
 * KITH_BEACON_REPLAY_CAP peers, the limiter KITH_BEACON_SOURCES source addresses.
 *
 * Randomness: each build draws a 32-byte seed from randombytes_buf() and expands it
 * with ChaCha20 into the nonces and padding tags, one stream per datagram. The seeded
 * variant exists so that proto/BEACON.md can show an example that tests reproduce.
 */
#include "net/beacon.h"

#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"

#define LABEL     "kith beacon v1"
#define LABEL_LEN (sizeof(LABEL) - 1)

/* Offsets in a datagram. The tags are keyed hashes of bytes [0, TAGGED_LEN) followed by
 * the 16-byte source address, which is not in the datagram: the receiver takes it from
 * the IP header. */
#define OFF_VERSION 0
#define OFF_NONCE   1
#define OFF_TIME    17
#define OFF_PORT    25
#define OFF_COUNT   27
#define OFF_TAGS    28
#define TAGGED_LEN  OFF_COUNT
#define INPUT_LEN   (TAGGED_LEN + KITH_BEACON_ADDR_LEN)

/* Random bytes drawn per datagram: a nonce, then up to one full datagram of padding. */
#define RAND_LEN (KITH_BEACON_NONCE_LEN + KITH_BEACON_MAX_TAGS * KITH_BEACON_TAG_LEN)

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}

static uint64_t
get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

int
kith_beacon_pair_keys(const kith_identity_t *self, const uint8_t peer_ed_pk[static 32],
                      uint8_t send_key[static KITH_BEACON_KEY_LEN],
                      uint8_t recv_key[static KITH_BEACON_KEY_LEN])
{
    uint8_t peer_xpk[KITH_PK_LEN];
    uint8_t dh[crypto_scalarmult_BYTES];
    uint8_t msg[LABEL_LEN + 2 * KITH_PK_LEN];
    int rc = KITH_EINVAL;

    sodium_memzero(send_key, KITH_BEACON_KEY_LEN);
    sodium_memzero(recv_key, KITH_BEACON_KEY_LEN);
    sodium_memzero(dh, sizeof(dh));
    if (self == NULL || self->xsk == NULL) {
        goto out;
    }
    /* With itself as the peer, send and recv keys would be equal and the node would
     * recognise its own beacons. */
    if (sodium_memcmp(peer_ed_pk, self->pk, KITH_PK_LEN) == 0) {
        goto out;
    }
    rc = KITH_ECRYPTO;
    /* The conversion refuses invalid and small-order Ed25519 keys; crypto_scalarmult
     * refuses an all-zero result. Both checks are kept: neither relies on the other. */
    if (kith_identity_x25519_pk(peer_ed_pk, peer_xpk) != KITH_OK ||
        crypto_scalarmult(dh, self->xsk, peer_xpk) != 0) {
        goto out;
    }
    /* The message names sender then receiver, so the two directions get unrelated keys
     * and each key is bound to the two identities (not just to the X25519 keys, which
     * two Ed25519 keys, P and -P, share). */
    memcpy(msg, LABEL, LABEL_LEN);
    memcpy(msg + LABEL_LEN, self->pk, KITH_PK_LEN);
    memcpy(msg + LABEL_LEN + KITH_PK_LEN, peer_ed_pk, KITH_PK_LEN);
    if (crypto_generichash(send_key, KITH_BEACON_KEY_LEN, msg, sizeof(msg), dh, sizeof(dh)) != 0) {
        goto out;
    }
    memcpy(msg + LABEL_LEN, peer_ed_pk, KITH_PK_LEN);
    memcpy(msg + LABEL_LEN + KITH_PK_LEN, self->pk, KITH_PK_LEN);
    if (crypto_generichash(recv_key, KITH_BEACON_KEY_LEN, msg, sizeof(msg), dh, sizeof(dh)) != 0) {
        goto out;
    }
    rc = KITH_OK;
out:
    sodium_memzero(dh, sizeof(dh));
    if (rc != KITH_OK) {
        sodium_memzero(send_key, KITH_BEACON_KEY_LEN);
        sodium_memzero(recv_key, KITH_BEACON_KEY_LEN);
    }
    return rc;
}

size_t
kith_beacon_count(size_t n_keys)
{
    if (n_keys == 0) {
        return 1;
    }
    return n_keys / KITH_BEACON_MAX_TAGS + (n_keys % KITH_BEACON_MAX_TAGS != 0);
}

/* Orders tags bytewise. The tags are about to be published, so memcmp's timing reveals
 * nothing that the datagram does not. */
static int
cmp_tag(const void *a, const void *b)
{
    return memcmp(a, b, KITH_BEACON_TAG_LEN);
}

/* Fills one datagram for the k send keys at keys, with randomness from rnd (RAND_LEN). */
static int
build_one(const uint8_t (*keys)[KITH_BEACON_KEY_LEN], size_t k, uint16_t port, uint64_t now_s,
          const uint8_t src[static KITH_BEACON_ADDR_LEN], const uint8_t *rnd,
          kith_beacon_dgram_t *d)
{
    uint8_t h[crypto_generichash_BYTES];
    uint8_t input[INPUT_LEN];
    size_t count =
        k + (KITH_BEACON_TAG_QUANTUM - k % KITH_BEACON_TAG_QUANTUM) % KITH_BEACON_TAG_QUANTUM;
    int rc = KITH_ECRYPTO;

    if (count == 0) {
        count = KITH_BEACON_TAG_QUANTUM;
    }
    uint8_t *p = d->data;
    p[OFF_VERSION] = KITH_BEACON_VERSION;
    memcpy(p + OFF_NONCE, rnd, KITH_BEACON_NONCE_LEN);
    put_be64(p + OFF_TIME, now_s);
    p[OFF_PORT] = (uint8_t) (port >> 8);
    p[OFF_PORT + 1] = (uint8_t) port;
    p[OFF_COUNT] = (uint8_t) count;
    memcpy(input, p, TAGGED_LEN);
    memcpy(input + TAGGED_LEN, src, KITH_BEACON_ADDR_LEN);

    uint8_t *tags = p + OFF_TAGS;
    for (size_t i = 0; i < k; i++) {
        if (crypto_generichash(h, sizeof(h), input, sizeof(input), keys[i], KITH_BEACON_KEY_LEN) !=
            0) {
            goto out;
        }
        memcpy(tags + i * KITH_BEACON_TAG_LEN, h, KITH_BEACON_TAG_LEN);
    }
    /* Padding tags are uniformly random, like real tags are to anyone without the key. */
    memcpy(tags + k * KITH_BEACON_TAG_LEN, rnd + KITH_BEACON_NONCE_LEN,
           (count - k) * KITH_BEACON_TAG_LEN);
    /* Sorting hides which position belongs to which peer (and which tags are padding),
     * and lets a receiver binary-search. */
    qsort(tags, count, KITH_BEACON_TAG_LEN, cmp_tag);
    d->len = OFF_TAGS + count * KITH_BEACON_TAG_LEN;
    rc = KITH_OK;
out:
    /* The unpublished 24 bytes of each hash are secret-derived. */
    sodium_memzero(h, sizeof(h));
    return rc;
}

int
kith__beacon_build_seeded(const uint8_t (*keys)[KITH_BEACON_KEY_LEN], size_t n_keys, uint16_t port,
                          uint64_t now_s, const uint8_t src[static KITH_BEACON_ADDR_LEN],
                          const uint8_t seed[static 32], kith_beacon_dgram_t *out, size_t cap,
                          size_t *n_out)
{
    uint8_t rnd[RAND_LEN];
    uint8_t stream_nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
    size_t n_dgrams = kith_beacon_count(n_keys);
    int rc = KITH_EINVAL;

    sodium_memzero(rnd, sizeof(rnd));
    if (n_out != NULL) {
        *n_out = n_dgrams;
    }
    if (port == 0 || (keys == NULL && n_keys > 0) || n_out == NULL || cap < n_dgrams ||
        out == NULL || src == NULL) {
        goto out;
    }
    /* Spread the peers evenly: the first `extra` datagrams carry one more. */
    size_t base = n_keys / n_dgrams, extra = n_keys % n_dgrams, next = 0;
    for (size_t d = 0; d < n_dgrams; d++) {
        size_t k = base + (d < extra);
        /* Stream d of ChaCha20 under the seed: the IETF nonce is d, little-endian. */
        memset(stream_nonce, 0, sizeof(stream_nonce));
        for (size_t i = 0, v = d; i < sizeof(size_t) && i < sizeof(stream_nonce); i++, v >>= 8) {
            stream_nonce[i] = (uint8_t) v;
        }
        rc = KITH_ECRYPTO;
        if (crypto_stream_chacha20_ietf(rnd, sizeof(rnd), stream_nonce, seed) != 0) {
            goto out;
        }
        rc = build_one(keys + next, k, port, now_s, src, rnd, &out[d]);
        if (rc != KITH_OK) {
            goto out;
        }
        next += k;
    }
    rc = KITH_OK;
out:
    sodium_memzero(rnd, sizeof(rnd));
    return rc;
}

int
kith_beacon_build(const uint8_t (*keys)[KITH_BEACON_KEY_LEN], size_t n_keys, uint16_t port,
                  uint64_t now_s, const uint8_t src[static KITH_BEACON_ADDR_LEN],
                  kith_beacon_dgram_t *out, size_t cap, size_t *n_out)
{
    uint8_t seed[32];
    randombytes_buf(seed, sizeof(seed));
    int rc = kith__beacon_build_seeded(keys, n_keys, port, now_s, src, seed, out, cap, n_out);
    sodium_memzero(seed, sizeof(seed));
    return rc;
}

/* 1 if x > y, else 0, without a branch (BearSSL's GT, widened to 64 bits). */
static uint64_t
ct_gt(uint64_t x, uint64_t y)
{
    uint64_t z = y - x;
    return (z ^ ((x ^ y) & (x ^ z))) >> 63;
}

/*
 * The index of the last tag <= e among n >= 1 sorted tags (0 if there is none). The
 * loop runs a number of times that depends only on n, and the comparisons are
 * branch-free, so timing does not follow the secret expected tag; which tags are read
 * still depends on it (see proto/BEACON.md, "Side channels").
 */
static size_t
search(const uint64_t *v, size_t n, uint64_t e)
{
    size_t base = 0;
    while (n > 1) {
        size_t half = n / 2;
        size_t le = (size_t) (1 ^ ct_gt(v[base + half], e));
        base += half & (0 - le);
        n -= half;
    }
    return base;
}

int
kith_beacon_match(const uint8_t *dgram, size_t len, const uint8_t *src,
                  const uint8_t (*keys)[KITH_BEACON_KEY_LEN], size_t n_keys, uint64_t now_s,
                  size_t *peer_index, uint16_t *port, uint64_t *time_s)
{
    uint64_t v[KITH_BEACON_MAX_TAGS];
    uint8_t h[crypto_generichash_BYTES];
    uint8_t input[INPUT_LEN];
    int rc = KITH_EINVAL;

    sodium_memzero(h, sizeof(h));
    if ((dgram == NULL && len > 0) || src == NULL || (keys == NULL && n_keys > 0)) {
        goto out;
    }
    rc = KITH_EPARSE;
    if (len < 1) {
        goto out;
    }
    /* The version comes first: another version may differ in everything else. */
    if (dgram[OFF_VERSION] != KITH_BEACON_VERSION) {
        rc = KITH_EVERSION;
        goto out;
    }
    if (len < KITH_BEACON_HEADER_LEN) {
        goto out;
    }
    size_t count = dgram[OFF_COUNT];
    if (count == 0 || count > KITH_BEACON_MAX_TAGS || count % KITH_BEACON_TAG_QUANTUM != 0) {
        goto out;
    }
    if (len - KITH_BEACON_HEADER_LEN != count * KITH_BEACON_TAG_LEN) {
        goto out;
    }
    uint16_t adv_port = (uint16_t) ((dgram[OFF_PORT] << 8) | dgram[OFF_PORT + 1]);
    if (adv_port == 0) {
        goto out;
    }
    const uint8_t *tags = dgram + OFF_TAGS;
    for (size_t i = 0; i < count; i++) {
        v[i] = get_be64(tags + i * KITH_BEACON_TAG_LEN);
        if (i > 0 && v[i - 1] > v[i]) {
            goto out;
        }
    }

    /* Well-formed from here on. A stale or future beacon is treated like a stranger's:
     * it may be a genuine beacon replayed, or a peer with a badly wrong clock. */
    rc = KITH_ENOTFOUND;
    uint64_t t = get_be64(dgram + OFF_TIME);
    uint64_t skew = t > now_s ? t - now_s : now_s - t;
    if (skew > KITH_BEACON_WINDOW_S) {
        goto out;
    }
    memcpy(input, dgram, TAGGED_LEN);
    memcpy(input + TAGGED_LEN, src, KITH_BEACON_ADDR_LEN);
    for (size_t i = 0; i < n_keys; i++) {
        if (crypto_generichash(h, sizeof(h), input, sizeof(input), keys[i], KITH_BEACON_KEY_LEN) !=
            0) {
            rc = KITH_ECRYPTO;
            goto out;
        }
        size_t at = search(v, count, get_be64(h));
        if (sodium_memcmp(h, tags + at * KITH_BEACON_TAG_LEN, KITH_BEACON_TAG_LEN) == 0) {
            if (peer_index != NULL) {
                *peer_index = i;
            }
            if (port != NULL) {
                *port = adv_port;
            }
            if (time_s != NULL) {
                *time_s = t;
            }
            rc = KITH_OK;
            goto out;
        }
    }
out:
    /* An expected tag that is not in the datagram would let its holder forge one. */
    sodium_memzero(h, sizeof(h));
    return rc;
}

int
kith_beacon_addr(const struct sockaddr *sa, uint8_t out[static KITH_BEACON_ADDR_LEN])
{
    memset(out, 0, KITH_BEACON_ADDR_LEN);
    if (sa == NULL) {
        return KITH_EINVAL;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *) sa;
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &in4->sin_addr, 4);
        return KITH_OK;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
        memcpy(out, &in6->sin6_addr, KITH_BEACON_ADDR_LEN);
        return KITH_OK;
    }
    return KITH_EINVAL;
}

/* ---- Replay table ------------------------------------------------------------------- */

#define REPLAY_LABEL    "kith beacon replay id"
#define REPLAY_FILE_VER 1

void
kith_beacon_replay_init(kith_beacon_replay_t *r)
{
    memset(r, 0, sizeof(*r));
}

int
kith_beacon_replay_id(const uint8_t recv_key[static KITH_BEACON_KEY_LEN],
                      uint8_t id[static KITH_BEACON_REPLAY_ID_LEN])
{
    if (crypto_generichash(id, KITH_BEACON_REPLAY_ID_LEN, (const uint8_t *) REPLAY_LABEL,
                           sizeof(REPLAY_LABEL) - 1, recv_key, KITH_BEACON_KEY_LEN) != 0) {
        return KITH_ECRYPTO;
    }
    return KITH_OK;
}

/* Records time_s for id if it is newer; 1 if it was, 0 if not. */
static int
replay_update(kith_beacon_replay_t *r, const uint8_t *id, uint64_t time_s)
{
    size_t oldest = 0;
    for (size_t i = 0; i < r->n; i++) {
        /* Ids are not secret (they are saved to disk as they are). */
        if (memcmp(r->seen[i].id, id, KITH_BEACON_REPLAY_ID_LEN) == 0) {
            if (time_s <= r->seen[i].newest_s) {
                return 0;
            }
            r->seen[i].newest_s = time_s;
            return 1;
        }
        if (r->seen[i].newest_s < r->seen[oldest].newest_s) {
            oldest = i;
        }
    }
    /* A full table forgets the oldest time: with fewer than KITH_BEACON_REPLAY_CAP peers
     * heard within the window, that entry is older than the window and refuses nothing the
     * window does not. */
    size_t at = r->n < KITH_BEACON_REPLAY_CAP ? r->n++ : oldest;
    memcpy(r->seen[at].id, id, KITH_BEACON_REPLAY_ID_LEN);
    r->seen[at].newest_s = time_s;
    return 1;
}

int
kith_beacon_replay_check(kith_beacon_replay_t *r,
                         const uint8_t id[static KITH_BEACON_REPLAY_ID_LEN], uint64_t time_s)
{
    if (r == NULL || id == NULL) {
        return KITH_EINVAL;
    }
    return replay_update(r, id, time_s) ? KITH_OK : KITH_EEXISTS;
}

int
kith_beacon_replay_save(const kith_beacon_replay_t *r, uint8_t *out, size_t cap, size_t *out_len)
{
    if (r == NULL || out == NULL || out_len == NULL || cap < 1 + r->n * KITH_BEACON_REPLAY_REC) {
        return KITH_EINVAL;
    }
    out[0] = REPLAY_FILE_VER;
    uint8_t *p = out + 1;
    for (size_t i = 0; i < r->n; i++) {
        memcpy(p, r->seen[i].id, KITH_BEACON_REPLAY_ID_LEN);
        put_be64(p + KITH_BEACON_REPLAY_ID_LEN, r->seen[i].newest_s);
        p += KITH_BEACON_REPLAY_REC;
    }
    *out_len = (size_t) (p - out);
    return KITH_OK;
}

int
kith_beacon_replay_load(kith_beacon_replay_t *r, const uint8_t *in, size_t len)
{
    if (r == NULL || (in == NULL && len > 0)) {
        return KITH_EINVAL;
    }
    kith_beacon_replay_init(r);
    if (len < 1) {
        return KITH_EPARSE;
    }
    if (in[0] != REPLAY_FILE_VER) {
        return KITH_EVERSION;
    }
    size_t body = len - 1;
    if (body % KITH_BEACON_REPLAY_REC != 0 ||
        body / KITH_BEACON_REPLAY_REC > KITH_BEACON_REPLAY_CAP) {
        return KITH_EPARSE;
    }
    for (const uint8_t *p = in + 1; p < in + len; p += KITH_BEACON_REPLAY_REC) {
        replay_update(r, p, get_be64(p + KITH_BEACON_REPLAY_ID_LEN));
    }
    return KITH_OK;
}

/* ---- Per-source rate limit ---------------------------------------------------------- */

#define MILLI 1000ULL

/* Adds what the bucket earned since *last_ms at rate per second, up to burst. */
static void
refill(uint64_t *tokens_mt, uint64_t *last_ms, uint64_t now_ms, uint64_t rate, uint64_t burst)
{
    if (now_ms > *last_ms) {
        uint64_t dt = now_ms - *last_ms;
        uint64_t room = burst * MILLI - *tokens_mt;
        /* rate * dt milli-datagrams, without overflow for any dt. */
        uint64_t earned = dt >= room ? room : dt * rate;
        *tokens_mt += earned < room ? earned : room;
    }
    *last_ms = now_ms;
}

void
kith_beacon_limiter_init(kith_beacon_limiter_t *l, uint64_t now_ms)
{
    memset(l, 0, sizeof(*l));
    l->strangers_mt = KITH_BEACON_STRANGERS_RATE * MILLI;
    l->strangers_ms = now_ms;
}

static kith_beacon_source_t *
find_source(kith_beacon_limiter_t *l, const uint8_t *addr)
{
    for (size_t i = 0; i < KITH_BEACON_SOURCES; i++) {
        if (l->src[i].used && memcmp(l->src[i].addr, addr, KITH_BEACON_ADDR_LEN) == 0) {
            return &l->src[i];
        }
    }
    return NULL;
}

/*
 * The entry a new source takes: a free one, else the unproven entry with the most tokens
 * (ties: heard from longest ago). A full bucket is what a new entry starts with, so
 * replacing it loses nothing; a flooder's own entries are drained and are the last to go,
 * so it cannot refill them by cycling through a few addresses. Proven entries are never
 * taken: a flooder cannot prove an address (that needs a peer's beacon from it).
 */
static kith_beacon_source_t *
take_source(kith_beacon_limiter_t *l, uint64_t now_ms)
{
    kith_beacon_source_t *best = NULL;
    for (size_t i = 0; i < KITH_BEACON_SOURCES; i++) {
        kith_beacon_source_t *e = &l->src[i];
        if (!e->used) {
            return e;
        }
        if (e->proven_ms != 0) {
            continue;
        }
        refill(&e->tokens_mt, &e->last_ms, now_ms, KITH_BEACON_SOURCE_RATE,
               KITH_BEACON_SOURCE_BURST);
        if (best == NULL || e->tokens_mt > best->tokens_mt ||
            (e->tokens_mt == best->tokens_mt && e->last_ms < best->last_ms)) {
            best = e;
        }
    }
    return best;
}

int
kith_beacon_limiter_admit(kith_beacon_limiter_t *l, const uint8_t addr[static KITH_BEACON_ADDR_LEN],
                          uint64_t now_ms)
{
    kith_beacon_source_t *e = find_source(l, addr);
    if (e == NULL) {
        e = take_source(l, now_ms);
        if (e == NULL) {
            return 0; /* every entry proven: cannot happen while PROVEN_MAX < SOURCES */
        }
        memset(e, 0, sizeof(*e));
        memcpy(e->addr, addr, KITH_BEACON_ADDR_LEN);
        e->used = 1;
        e->tokens_mt = KITH_BEACON_SOURCE_BURST * MILLI;
        e->last_ms = now_ms;
    }
    refill(&e->tokens_mt, &e->last_ms, now_ms, KITH_BEACON_SOURCE_RATE, KITH_BEACON_SOURCE_BURST);
    if (e->tokens_mt < MILLI) {
        return 0;
    }
    if (e->proven_ms == 0) {
        /* Unproven sources also share one bucket: that bounds the work a flood from many
         * (spoofed) addresses causes, while proven sources keep their own budget. */
        refill(&l->strangers_mt, &l->strangers_ms, now_ms, KITH_BEACON_STRANGERS_RATE,
               KITH_BEACON_STRANGERS_RATE);
        if (l->strangers_mt < MILLI) {
            return 0;
        }
        l->strangers_mt -= MILLI;
    }
    e->tokens_mt -= MILLI;
    return 1;
}

void
kith_beacon_limiter_proven(kith_beacon_limiter_t *l,
                           const uint8_t addr[static KITH_BEACON_ADDR_LEN], uint64_t now_ms)
{
    kith_beacon_source_t *e = find_source(l, addr);
    if (e == NULL) {
        return;
    }
    if (e->proven_ms == 0) {
        size_t n = 0;
        kith_beacon_source_t *oldest = NULL;
        for (size_t i = 0; i < KITH_BEACON_SOURCES; i++) {
            kith_beacon_source_t *p = &l->src[i];
            if (p->used && p->proven_ms != 0) {
                n++;
                if (oldest == NULL || p->proven_ms < oldest->proven_ms) {
                    oldest = p;
                }
            }
        }
        if (n >= KITH_BEACON_PROVEN_MAX && oldest != NULL) {
            oldest->proven_ms = 0;
        }
    }
    /* 0 means never; a monotonic clock at 0 still marks the entry. */
    e->proven_ms = now_ms ? now_ms : 1;
}
