/*
 * Tests for LAN discovery beacons (src/net/beacon.c): pair keys from both sides, nodes
 * with 1 to 300 peers recognised by each peer and by no stranger (nor by the node
 * itself), unlinkability of two beacons, no identifier in the clear, padding and
 * splitting, every single-bit change refused, the replay window, malformed datagrams,
 * the known-answer example of proto/BEACON.md, a beacon replayed from another address
 * refused (version 2 binds the source address), a replay after a restart refused (the
 * saved replay table), per-source rate limiting under a flood, and the receiver's CPU
 * cost.
 *
 * Tags and keys are also computed here straight from the spec's formulas (spec_*), so
 * the module is checked against proto/BEACON.md and not only against itself.
 * Identities come from fixed seeds so that any failure reproduces.
 */
#include "check.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "crypto/identity.h"
#include "kith/kith.h"
#include "net/beacon.h"
#include "util/nodeid.h"

#define MAX_PEERS 300
#define NOW       1700000000ULL
#define PORT      5484
#define MAX_DG    8

/* The source address the test beacons are sent from and heard from: 198.18.0.1, as the
 * IPv4-mapped IPv6 address the tags bind. */
static const uint8_t SRC[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1};

static kith_identity_t *alice, *bob, *carol, *dave; /* the known-answer cast */
static kith_identity_t *node;                       /* the beaconing node */
static kith_identity_t *stranger;                   /* trusted by no one */
static kith_identity_t *peers[MAX_PEERS];           /* node's peers */

typedef uint8_t bkey_t[KITH_BEACON_KEY_LEN];

static kith_identity_t *
identity_from(const uint8_t seed[KITH_SEED_LEN])
{
    kith_identity_t *id = NULL;
    return kith_identity_from_seed(seed, &id) == KITH_OK ? id : NULL;
}

/* Seed first, first+1, ..., first+31, as in the other tests and the proto/ examples. */
static kith_identity_t *
make_identity(uint8_t first)
{
    uint8_t seed[KITH_SEED_LEN];
    for (int i = 0; i < KITH_SEED_LEN; i++) {
        seed[i] = (uint8_t) (first + i);
    }
    return identity_from(seed);
}

static kith_identity_t *
make_peer(unsigned i)
{
    uint8_t seed[KITH_SEED_LEN];
    for (int j = 0; j < KITH_SEED_LEN; j++) {
        seed[j] = (uint8_t) (0x5a ^ (j * 13));
    }
    seed[0] = (uint8_t) i;
    seed[1] = (uint8_t) (i >> 8);
    return identity_from(seed);
}

static int
setup(void **state)
{
    (void) state;
    if (kith_init() != KITH_OK) {
        return -1;
    }
    alice = make_identity(0x00);
    bob = make_identity(0x20);
    carol = make_identity(0xa0);
    dave = make_identity(0x60);
    node = make_identity(0xc0);
    stranger = make_identity(0xe0);
    if (!alice || !bob || !carol || !dave || !node || !stranger) {
        return -1;
    }
    for (unsigned i = 0; i < MAX_PEERS; i++) {
        if ((peers[i] = make_peer(i)) == NULL) {
            return -1;
        }
    }
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    kith_identity_free(alice);
    kith_identity_free(bob);
    kith_identity_free(carol);
    kith_identity_free(dave);
    kith_identity_free(node);
    kith_identity_free(stranger);
    for (unsigned i = 0; i < MAX_PEERS; i++) {
        kith_identity_free(peers[i]);
    }
    return 0;
}

/* ---- The spec, written out independently ------------------------------------------ */

/* K(S -> R) = BLAKE2b-256(key = X25519(s, R_x), "kith beacon v1" || S_ed || R_ed), from
 * the sender's side (s is the sender's X25519 secret). */
static void
spec_key(const kith_identity_t *sender, const uint8_t receiver_ed[32], uint8_t key[32])
{
    uint8_t rx[32], dh[32], msg[14 + 64];
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(rx, receiver_ed), 0);
    assert_int_equal(crypto_scalarmult_curve25519(dh, sender->xsk, rx), 0);
    memcpy(msg, "kith beacon v1", 14);
    memcpy(msg + 14, sender->pk, 32);
    memcpy(msg + 46, receiver_ed, 32);
    assert_int_equal(crypto_generichash_blake2b(key, 32, msg, sizeof(msg), dh, 32), 0);
    sodium_memzero(dh, sizeof(dh));
}

/* tag = first 8 bytes of BLAKE2b-256(key = K, bytes 0..26 of the datagram || the 16-byte
 * source address). */
static void
spec_tag_from(const uint8_t key[32], const uint8_t *dgram, const uint8_t src[16], uint8_t tag[8])
{
    uint8_t in[27 + 16], h[32];
    memcpy(in, dgram, 27);
    memcpy(in + 27, src, 16);
    assert_int_equal(crypto_generichash_blake2b(h, 32, in, sizeof(in), key, 32), 0);
    memcpy(tag, h, 8);
}

static void
spec_tag(const uint8_t key[32], const uint8_t *dgram, uint8_t tag[8])
{
    spec_tag_from(key, dgram, SRC, tag);
}

/* The index of tag among the datagram's tags, or -1. */
static int
find_tag(const kith_beacon_dgram_t *d, const uint8_t tag[8])
{
    size_t count = d->data[27];
    for (size_t i = 0; i < count; i++) {
        if (memcmp(d->data + 28 + 8 * i, tag, 8) == 0) {
            return (int) i;
        }
    }
    return -1;
}

/* ---- Helpers ---------------------------------------------------------------------- */

/* The node's send keys for its first n peers. Caller frees. */
static bkey_t *
node_send_keys(const kith_identity_t *self, size_t n)
{
    bkey_t *keys = calloc(n ? n : 1, sizeof(bkey_t));
    assert_non_null(keys);
    for (size_t i = 0; i < n; i++) {
        uint8_t recv[32];
        ASSERT_OK(kith_beacon_pair_keys(self, peers[i]->pk, keys[i], recv));
    }
    return keys;
}

static uint64_t
be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Checks the framing every datagram must have. */
static void
check_shape(const kith_beacon_dgram_t *d, uint64_t now_s, uint16_t port)
{
    size_t count = d->data[27];
    assert_int_equal(d->data[0], 2);
    assert_true(count >= 8 && count <= 128 && count % 8 == 0);
    assert_int_equal(d->len, 28 + 8 * count);
    assert_true(d->len <= 1052);
    assert_true(be64(d->data + 17) == now_s);
    assert_int_equal((d->data[25] << 8) | d->data[26], port);
    for (size_t i = 1; i < count; i++) {
        assert_true(memcmp(d->data + 28 + 8 * (i - 1), d->data + 28 + 8 * i, 8) <= 0);
    }
}

static int
cmp_tag(const void *a, const void *b)
{
    return memcmp(a, b, 8);
}

/* ---- Pair keys -------------------------------------------------------------------- */

static void
pair_keys(void **state)
{
    (void) state;
    uint8_t a_send[32], a_recv[32], b_send[32], b_recv[32], want[32];

    ASSERT_OK(kith_beacon_pair_keys(alice, bob->pk, a_send, a_recv));
    ASSERT_OK(kith_beacon_pair_keys(bob, alice->pk, b_send, b_recv));
    /* Each side's send key is the other's recv key, and the two directions differ. */
    assert_memory_equal(a_send, b_recv, 32);
    assert_memory_equal(a_recv, b_send, 32);
    assert_memory_not_equal(a_send, a_recv, 32);
    /* The spec's formula, from either end. */
    spec_key(alice, bob->pk, want);
    assert_memory_equal(a_send, want, 32);
    spec_key(bob, alice->pk, want);
    assert_memory_equal(a_recv, want, 32);
    /* Another pair gets other keys. */
    uint8_t c_send[32], c_recv[32];
    ASSERT_OK(kith_beacon_pair_keys(alice, carol->pk, c_send, c_recv));
    assert_memory_not_equal(a_send, c_send, 32);
    assert_memory_not_equal(a_recv, c_recv, 32);

    /* Oneself is not a peer. */
    memset(a_send, 0xaa, 32);
    ASSERT_ERR(kith_beacon_pair_keys(alice, alice->pk, a_send, a_recv), KITH_EINVAL);
    uint8_t zero[32] = {0};
    assert_memory_equal(a_send, zero, 32);
    assert_memory_equal(a_recv, zero, 32);

    /* Low-order points and non-points are refused, and the outputs are zeroed. */
    uint8_t bad[32] = {0};
    ASSERT_ERR(kith_beacon_pair_keys(alice, bad, a_send, a_recv), KITH_ECRYPTO); /* order 4 */
    bad[0] = 1;
    ASSERT_ERR(kith_beacon_pair_keys(alice, bad, a_send, a_recv), KITH_ECRYPTO); /* identity */
    memset(bad, 0xff, sizeof(bad));
    bad[31] = 0x7f; /* y = 2^255 - 1: not a field element */
    ASSERT_ERR(kith_beacon_pair_keys(alice, bad, a_send, a_recv), KITH_ECRYPTO);
    memset(bad, 0, sizeof(bad));
    bad[0] = 0xec;
    memset(bad + 1, 0xff, 30);
    bad[31] = 0x7f; /* y = -1: order 2 */
    ASSERT_ERR(kith_beacon_pair_keys(alice, bad, a_send, a_recv), KITH_ECRYPTO);
    assert_memory_equal(a_send, zero, 32);
    assert_memory_equal(a_recv, zero, 32);
    ASSERT_ERR(kith_beacon_pair_keys(NULL, bob->pk, a_send, a_recv), KITH_EINVAL);
}

/* ---- Recognition ------------------------------------------------------------------ */

/* A node with n peers: every peer, computing its keys from its own side, recognises
 * exactly one of the node's datagrams and learns the port; a stranger and the node
 * itself recognise none; exactly n of the tags are real. */
static void
recognise_n(size_t n)
{
    bkey_t *send = node_send_keys(node, n);
    kith_beacon_dgram_t dg[MAX_DG];
    size_t n_dg = 0;
    ASSERT_OK(kith_beacon_build((const bkey_t *) send, n, PORT, NOW, SRC, dg, MAX_DG, &n_dg));
    assert_int_equal(n_dg, (n + 127) / 128);

    size_t total_tags = 0, total_bytes = 0;
    for (size_t d = 0; d < n_dg; d++) {
        check_shape(&dg[d], NOW, PORT);
        assert_true(dg[d].data[27] <= 128);
        total_tags += dg[d].data[27];
        total_bytes += dg[d].len;
    }

    /* Each peer's receiving list: a key for someone else first, then the node. */
    size_t real = 0;
    for (size_t i = 0; i < n; i++) {
        bkey_t keys[2];
        uint8_t unused[32], want[32], tag[8];
        ASSERT_OK(kith_beacon_pair_keys(peers[i], stranger->pk, unused, keys[0]));
        ASSERT_OK(kith_beacon_pair_keys(peers[i], node->pk, unused, keys[1]));
        spec_key(node, peers[i]->pk, want);
        assert_memory_equal(keys[1], want, 32);
        size_t hits = 0;
        for (size_t d = 0; d < n_dg; d++) {
            size_t idx = 99;
            uint16_t port = 0;
            int rc = kith_beacon_match(dg[d].data, dg[d].len, SRC, (const bkey_t *) keys, 2,
                                       NOW + 5, &idx, &port, NULL);
            spec_tag(want, dg[d].data, tag);
            if (rc == KITH_OK) {
                hits++;
                assert_int_equal(idx, 1);
                assert_int_equal(port, PORT);
                assert_true(find_tag(&dg[d], tag) >= 0);
            } else {
                ASSERT_EQ(rc, KITH_ENOTFOUND);
                assert_true(find_tag(&dg[d], tag) < 0);
            }
        }
        assert_int_equal(hits, 1);
        real += hits;
    }
    assert_int_equal(real, n);
    /* Padding: the datagrams hold n real tags and the fewest random ones that make each
     * count a multiple of 8. */
    size_t expect_tags = 0;
    for (size_t d = 0; d < n_dg; d++) {
        size_t k = n / n_dg + (d < n % n_dg);
        expect_tags += (k + 7) / 8 * 8;
    }
    assert_int_equal(total_tags, expect_tags);

    /* A stranger, with keys for the node and for every one of its peers, sees nothing;
     * nor does the node, which hears its own multicast, with its recv keys. */
    bkey_t *skeys = calloc(n + 1, sizeof(bkey_t));
    bkey_t *own = calloc(n + 1, sizeof(bkey_t));
    assert_non_null(skeys);
    assert_non_null(own);
    for (size_t i = 0; i < n; i++) {
        uint8_t unused[32];
        ASSERT_OK(kith_beacon_pair_keys(stranger, peers[i]->pk, unused, skeys[i]));
        ASSERT_OK(kith_beacon_pair_keys(node, peers[i]->pk, unused, own[i]));
    }
    uint8_t unused[32];
    ASSERT_OK(kith_beacon_pair_keys(stranger, node->pk, unused, skeys[n]));
    for (size_t d = 0; d < n_dg; d++) {
        ASSERT_ERR(kith_beacon_match(dg[d].data, dg[d].len, SRC, (const bkey_t *) skeys, n + 1, NOW,
                                     NULL, NULL, NULL),
                   KITH_ENOTFOUND);
        ASSERT_ERR(kith_beacon_match(dg[d].data, dg[d].len, SRC, (const bkey_t *) own, n, NOW, NULL,
                                     NULL, NULL),
                   KITH_ENOTFOUND);
    }
    printf("  %3zu peers: %zu datagram(s), %zu tags, %zu bytes\n", n, n_dg, total_tags,
           total_bytes);
    free(own);
    free(skeys);
    free(send);
}

static void
recognise(void **state)
{
    (void) state;
    static const size_t ns[] = {1, 10, 100, 200, 128, 129, 256, 257, 300};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        recognise_n(ns[i]);
    }
}

/* Keys listed twice give equal tags, which receivers accept (ascending, not strictly). */
static void
duplicate_keys(void **state)
{
    (void) state;
    bkey_t send[3];
    uint8_t recv[32];
    ASSERT_OK(kith_beacon_pair_keys(alice, bob->pk, send[0], recv));
    memcpy(send[1], send[0], 32);
    ASSERT_OK(kith_beacon_pair_keys(alice, carol->pk, send[2], recv));
    kith_beacon_dgram_t dg;
    size_t n = 0;
    ASSERT_OK(kith_beacon_build((const bkey_t *) send, 3, PORT, NOW, SRC, &dg, 1, &n));
    bkey_t bk[1];
    ASSERT_OK(kith_beacon_pair_keys(bob, alice->pk, send[0], bk[0]));
    size_t idx = 9;
    ASSERT_OK(
        kith_beacon_match(dg.data, dg.len, SRC, (const bkey_t *) bk, 1, NOW, &idx, NULL, NULL));
    assert_int_equal(idx, 0);
}

/* ---- Privacy ---------------------------------------------------------------------- */

/* Two beacons of one node at the same time and port: version, time, port and count are
 * equal (they must be), nonces differ and no tag appears in both. */
static void
unlinkable(void **state)
{
    (void) state;
    static const size_t ns[] = {1, 10, 100, 200};
    for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
        size_t n = ns[t];
        bkey_t *send = node_send_keys(node, n);
        kith_beacon_dgram_t a[MAX_DG], b[MAX_DG];
        size_t na = 0, nb = 0;
        ASSERT_OK(kith_beacon_build((const bkey_t *) send, n, PORT, NOW, SRC, a, MAX_DG, &na));
        ASSERT_OK(kith_beacon_build((const bkey_t *) send, n, PORT, NOW, SRC, b, MAX_DG, &nb));
        assert_int_equal(na, nb);
        for (size_t x = 0; x < na; x++) {
            for (size_t y = 0; y < nb; y++) {
                assert_memory_equal(a[x].data + 17, b[y].data + 17, 8);
                assert_memory_equal(a[x].data + 25, b[y].data + 25, 2);
                assert_memory_not_equal(a[x].data + 1, b[y].data + 1, 16);
                size_t ca = a[x].data[27], cb = b[y].data[27];
                for (size_t i = 0; i < ca; i++) {
                    for (size_t j = 0; j < cb; j++) {
                        assert_memory_not_equal(a[x].data + 28 + 8 * i, b[y].data + 28 + 8 * j, 8);
                    }
                }
            }
            /* Tags within one datagram are distinct too (no pattern from padding). */
            size_t c = a[x].data[27];
            for (size_t i = 1; i < c; i++) {
                assert_memory_not_equal(a[x].data + 28 + 8 * (i - 1), a[x].data + 28 + 8 * i, 8);
            }
        }
        free(send);
    }
}

/* Whether any window of w bytes of needle occurs in hay. */
static int
shares_window(const uint8_t *hay, size_t hay_len, const uint8_t *needle, size_t len, size_t w)
{
    for (size_t i = 0; i + w <= len; i++) {
        for (size_t j = 0; j + w <= hay_len; j++) {
            if (memcmp(hay + j, needle + i, w) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static void
check_absent(const kith_beacon_dgram_t *dg, size_t n_dg, const kith_identity_t *id)
{
    char nodeid[KITH_NODEID_BUFSIZE], fp[20];
    kith_nodeid_encode(id->pk, nodeid);
    kith_fingerprint(id->pk, fp);
    for (size_t d = 0; d < n_dg; d++) {
        /* Any 5 bytes of a key (a chance hit in random data is about 1 in 4 million). */
        assert_false(shares_window(dg[d].data, dg[d].len, id->pk, 32, 5));
        assert_false(shares_window(dg[d].data, dg[d].len, id->xpk, 32, 5));
        /* Any 5 characters of the node ID or the fingerprint, dashes and spaces too. */
        assert_false(
            shares_window(dg[d].data, dg[d].len, (const uint8_t *) nodeid, strlen(nodeid), 5));
        assert_false(shares_window(dg[d].data, dg[d].len, (const uint8_t *) fp, strlen(fp), 5));
    }
}

static void
no_identifiers(void **state)
{
    (void) state;
    size_t n = 200;
    bkey_t *send = node_send_keys(node, n);
    kith_beacon_dgram_t dg[MAX_DG];
    size_t n_dg = 0;
    /* A fixed seed keeps this deterministic: in random bytes, a chance 5-byte hit
     * somewhere among the windows checked here has a probability of about 1e-5. */
    uint8_t seed[32];
    memset(seed, 0x17, sizeof(seed));
    ASSERT_OK(kith__beacon_build_seeded((const bkey_t *) send, n, PORT, NOW, SRC, seed, dg, MAX_DG,
                                        &n_dg));
    check_absent(dg, n_dg, node);
    for (size_t i = 0; i < n; i++) {
        check_absent(dg, n_dg, peers[i]);
    }
    /* Names never enter the API; check a few anyway, with the key material's hex. */
    static const char *const names[] = {"alice", "Alice", "bob", "kith", "beacon"};
    for (size_t d = 0; d < n_dg; d++) {
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            assert_false(shares_window(dg[d].data, dg[d].len, (const uint8_t *) names[i],
                                       strlen(names[i]), 3 < strlen(names[i]) ? 4 : 3));
        }
        /* And no send key, whole or in part. */
        for (size_t i = 0; i < n; i++) {
            assert_false(shares_window(dg[d].data, dg[d].len, send[i], 32, 6));
        }
    }
    free(send);
}

/* ---- Padding and splitting -------------------------------------------------------- */

static void
padding_and_split(void **state)
{
    (void) state;
    bkey_t *send = node_send_keys(node, MAX_PEERS);
    for (size_t n = 0; n <= MAX_PEERS; n++) {
        kith_beacon_dgram_t dg[MAX_DG];
        size_t n_dg = 0;
        ASSERT_OK(kith_beacon_build((const bkey_t *) send, n, PORT, NOW, SRC, dg, MAX_DG, &n_dg));
        assert_int_equal(n_dg, kith_beacon_count(n));
        assert_int_equal(n_dg, n == 0 ? 1 : (n + 127) / 128);
        size_t total = 0;
        for (size_t d = 0; d < n_dg; d++) {
            check_shape(&dg[d], NOW, PORT);
            size_t k = n / n_dg + (d < n % n_dg); /* even split */
            size_t c = dg[d].data[27];
            assert_int_equal(c, k == 0 ? 8 : (k + 7) / 8 * 8);
            /* Exactly k tags of this datagram are real ones, for keys next..next+k-1. */
            size_t found = 0;
            for (size_t i = total; i < total + k; i++) {
                uint8_t tag[8];
                spec_tag(send[i], dg[d].data, tag);
                found += find_tag(&dg[d], tag) >= 0;
            }
            assert_int_equal(found, k);
            total += k;
        }
        assert_int_equal(total, n);
    }
    assert_int_equal(kith_beacon_count(0), 1);
    assert_int_equal(kith_beacon_count(128), 1);
    assert_int_equal(kith_beacon_count(129), 2);
    assert_int_equal(kith_beacon_count(1000), 8);
    assert_int_equal(kith_beacon_count(SIZE_MAX), SIZE_MAX / 128 + 1);

    /* Too little room: refused, with the count needed, and out untouched. */
    kith_beacon_dgram_t dg[2];
    memset(dg, 0x33, sizeof(dg));
    size_t n_dg = 0;
    ASSERT_ERR(kith_beacon_build((const bkey_t *) send, 200, PORT, NOW, SRC, dg, 1, &n_dg),
               KITH_EINVAL);
    assert_int_equal(n_dg, 2);
    assert_int_equal(dg[0].data[0], 0x33);
    ASSERT_ERR(kith_beacon_build((const bkey_t *) send, 1, 0, NOW, SRC, dg, 2, &n_dg), KITH_EINVAL);
    ASSERT_ERR(kith_beacon_build(NULL, 1, PORT, NOW, SRC, dg, 2, &n_dg), KITH_EINVAL);
    ASSERT_ERR(kith_beacon_build((const bkey_t *) send, 1, PORT, NOW, SRC, NULL, 2, &n_dg),
               KITH_EINVAL);
    ASSERT_ERR(kith_beacon_build((const bkey_t *) send, 1, PORT, NOW, SRC, dg, 2, NULL),
               KITH_EINVAL);
    ASSERT_OK(kith_beacon_build(NULL, 0, 1, 0, SRC, dg, 1, &n_dg));
    assert_int_equal(dg[0].len, 92);
    ASSERT_OK(kith_beacon_build(NULL, 0, 65535, UINT64_MAX, SRC, dg, 1, &n_dg));
    check_shape(&dg[0], UINT64_MAX, 65535);
    free(send);
}

/* ---- Tampering -------------------------------------------------------------------- */

/* Flipping any bit of a 10-peer beacon: a header bit (nonce, time, port, version, count)
 * defeats every peer; a tag bit defeats the peer that tag belongs to (others still
 * match unless the tag order broke). */
static void
tamper(void **state)
{
    (void) state;
    const size_t n = 10;
    bkey_t *send = node_send_keys(node, n);
    bkey_t recv[10];
    int owner[128];
    kith_beacon_dgram_t dg;
    size_t n_dg = 0;
    ASSERT_OK(kith_beacon_build((const bkey_t *) send, n, PORT, NOW, SRC, &dg, 1, &n_dg));
    for (size_t i = 0; i < 128; i++) {
        owner[i] = -1;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t unused[32], tag[8];
        ASSERT_OK(kith_beacon_pair_keys(peers[i], node->pk, unused, recv[i]));
        spec_tag(recv[i], dg.data, tag);
        int at = find_tag(&dg, tag);
        assert_true(at >= 0);
        owner[at] = (int) i;
    }
    size_t checks = 0;
    for (size_t pos = 0; pos < dg.len; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            kith_beacon_dgram_t t = dg;
            t.data[pos] ^= (uint8_t) (1u << bit);
            for (size_t i = 0; i < n; i++) {
                size_t idx = 99;
                int rc = kith_beacon_match(t.data, t.len, SRC, (const bkey_t *) &recv[i], 1, NOW,
                                           &idx, NULL, NULL);
                checks++;
                if (pos == 0) {
                    ASSERT_EQ(rc, KITH_EVERSION);
                } else if (pos == 27) {
                    ASSERT_EQ(rc, KITH_EPARSE);
                } else if (pos < 28) {
                    ASSERT_EQ(rc, KITH_ENOTFOUND);
                } else if (owner[(pos - 28) / 8] == (int) i) {
                    assert_true(rc == KITH_ENOTFOUND || rc == KITH_EPARSE);
                } else {
                    assert_true(rc == KITH_OK || rc == KITH_EPARSE);
                    if (rc == KITH_OK) {
                        assert_int_equal(idx, 0);
                    }
                }
            }
        }
    }
    /* Moving one peer's tag to another peer's beacon does not carry over: tags are
     * bound to the nonce, time and port of the datagram they were made for. */
    kith_beacon_dgram_t other;
    ASSERT_OK(kith_beacon_build((const bkey_t *) send + 1, 1, PORT, NOW, SRC, &other, 1, &n_dg));
    uint8_t tag0[8];
    spec_tag(recv[0], dg.data, tag0);
    memcpy(other.data + 28, tag0, 8);
    qsort(other.data + 28, other.data[27], 8, cmp_tag);
    ASSERT_ERR(kith_beacon_match(other.data, other.len, SRC, (const bkey_t *) &recv[0], 1, NOW,
                                 NULL, NULL, NULL),
               KITH_ENOTFOUND);
    printf("  %zu tampered matches checked\n", checks);
    free(send);
}

/* ---- Replay window ---------------------------------------------------------------- */

static void
beacon_at(uint64_t t, kith_beacon_dgram_t *dg, bkey_t recv)
{
    bkey_t send;
    size_t n = 0;
    ASSERT_OK(kith_beacon_pair_keys(alice, bob->pk, send, recv));
    ASSERT_OK(kith_beacon_build((const bkey_t *) &send, 1, PORT, t, SRC, dg, 1, &n));
    uint8_t unused[32];
    ASSERT_OK(kith_beacon_pair_keys(bob, alice->pk, unused, recv));
}

static void
replay_window(void **state)
{
    (void) state;
    kith_beacon_dgram_t dg;
    bkey_t recv;
    beacon_at(NOW, &dg, recv);
    const bkey_t *k = (const bkey_t *) &recv;
    ASSERT_OK(kith_beacon_match(dg.data, dg.len, SRC, k, 1, NOW, NULL, NULL, NULL));
    ASSERT_OK(kith_beacon_match(dg.data, dg.len, SRC, k, 1, NOW + 600, NULL, NULL, NULL));
    ASSERT_OK(kith_beacon_match(dg.data, dg.len, SRC, k, 1, NOW - 600, NULL, NULL, NULL));
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, k, 1, NOW + 601, NULL, NULL, NULL),
               KITH_ENOTFOUND);
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, k, 1, NOW - 601, NULL, NULL, NULL),
               KITH_ENOTFOUND);
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, k, 1, 0, NULL, NULL, NULL), KITH_ENOTFOUND);
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, k, 1, UINT64_MAX, NULL, NULL, NULL),
               KITH_ENOTFOUND);

    /* Extremes of the 64-bit clock do not wrap around. */
    beacon_at(0, &dg, recv);
    ASSERT_OK(kith_beacon_match(dg.data, dg.len, SRC, k, 1, 600, NULL, NULL, NULL));
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, k, 1, 601, NULL, NULL, NULL),
               KITH_ENOTFOUND);
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, k, 1, UINT64_MAX, NULL, NULL, NULL),
               KITH_ENOTFOUND);
    beacon_at(UINT64_MAX, &dg, recv);
    ASSERT_OK(kith_beacon_match(dg.data, dg.len, SRC, k, 1, UINT64_MAX - 600, NULL, NULL, NULL));
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, k, 1, UINT64_MAX - 601, NULL, NULL, NULL),
               KITH_ENOTFOUND);
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, k, 1, 0, NULL, NULL, NULL), KITH_ENOTFOUND);

    /* Rewriting the time into the window breaks the tag. */
    beacon_at(NOW - 3600, &dg, recv);
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, k, 1, NOW, NULL, NULL, NULL),
               KITH_ENOTFOUND);
    uint64_t t = NOW;
    for (int i = 7; i >= 0; i--, t >>= 8) {
        dg.data[17 + i] = (uint8_t) t;
    }
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, k, 1, NOW, NULL, NULL, NULL),
               KITH_ENOTFOUND);
}

/* ---- Malformed datagrams ---------------------------------------------------------- */

static void
malformed(void **state)
{
    (void) state;
    kith_beacon_dgram_t dg;
    bkey_t recv;
    beacon_at(NOW, &dg, recv);
    const bkey_t *k = (const bkey_t *) &recv;
    uint8_t buf[KITH_BEACON_MAX_LEN + 64];

    /* Truncated at every length, and one byte too long. */
    for (size_t len = 0; len < dg.len; len++) {
        memcpy(buf, dg.data, len);
        ASSERT_ERR(kith_beacon_match(buf, len, SRC, k, 1, NOW, NULL, NULL, NULL), KITH_EPARSE);
    }
    memcpy(buf, dg.data, dg.len);
    buf[dg.len] = 0;
    ASSERT_ERR(kith_beacon_match(buf, dg.len + 1, SRC, k, 1, NOW, NULL, NULL, NULL), KITH_EPARSE);
    ASSERT_ERR(kith_beacon_match(buf, dg.len + 8, SRC, k, 1, NOW, NULL, NULL, NULL), KITH_EPARSE);
    ASSERT_ERR(kith_beacon_match(NULL, 0, SRC, k, 1, NOW, NULL, NULL, NULL), KITH_EPARSE);

    /* Other versions, checked before anything else (even length). */
    static const uint8_t versions[] = {0, 1, 3, 0x7f, 0xff};
    for (size_t i = 0; i < sizeof(versions); i++) {
        memcpy(buf, dg.data, dg.len);
        buf[0] = versions[i];
        ASSERT_ERR(kith_beacon_match(buf, dg.len, SRC, k, 1, NOW, NULL, NULL, NULL), KITH_EVERSION);
        ASSERT_ERR(kith_beacon_match(buf, 1, SRC, k, 1, NOW, NULL, NULL, NULL), KITH_EVERSION);
        ASSERT_ERR(kith_beacon_match(buf, 500, SRC, k, 1, NOW, NULL, NULL, NULL), KITH_EVERSION);
    }

    /* Bad counts, with the length made to agree with the count where it can. */
    static const unsigned counts[] = {0, 1, 7, 9, 12, 127, 129, 136, 200, 255};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        memset(buf, 0, sizeof(buf));
        memcpy(buf, dg.data, 28);
        buf[27] = (uint8_t) counts[i];
        size_t len = 28 + 8 * (size_t) counts[i];
        /* Ascending tags so that only the count is wrong. */
        for (size_t j = 0; j < counts[i] && 28 + 8 * j + 8 <= sizeof(buf); j++) {
            buf[28 + 8 * j + 7] = (uint8_t) j;
        }
        ASSERT_ERR(kith_beacon_match(buf, len <= sizeof(buf) ? len : sizeof(buf), SRC, k, 1, NOW,
                                     NULL, NULL, NULL),
                   KITH_EPARSE);
    }
    /* A right count with the wrong length (16 tags claimed, 8 present) and vice versa. */
    memcpy(buf, dg.data, dg.len);
    buf[27] = 16;
    ASSERT_ERR(kith_beacon_match(buf, dg.len, SRC, k, 1, NOW, NULL, NULL, NULL), KITH_EPARSE);

    /* Tags out of order. */
    memcpy(buf, dg.data, dg.len);
    uint8_t tmp[8];
    memcpy(tmp, buf + 28, 8);
    memcpy(buf + 28, buf + 36, 8);
    memcpy(buf + 36, tmp, 8);
    ASSERT_ERR(kith_beacon_match(buf, dg.len, SRC, k, 1, NOW, NULL, NULL, NULL), KITH_EPARSE);

    /* Port 0. */
    memcpy(buf, dg.data, dg.len);
    buf[25] = buf[26] = 0;
    ASSERT_ERR(kith_beacon_match(buf, dg.len, SRC, k, 1, NOW, NULL, NULL, NULL), KITH_EPARSE);

    /* A well-formed beacon of all-equal tags, and the largest legal datagram. */
    memset(buf, 0, sizeof(buf));
    buf[0] = 2;
    buf[26] = 1;
    buf[27] = 128;
    uint64_t t = NOW;
    for (int i = 7; i >= 0; i--, t >>= 8) {
        buf[17 + i] = (uint8_t) t;
    }
    ASSERT_ERR(kith_beacon_match(buf, KITH_BEACON_MAX_LEN, SRC, k, 1, NOW, NULL, NULL, NULL),
               KITH_ENOTFOUND);
    memset(buf + 28, 0xff, 1024);
    ASSERT_ERR(kith_beacon_match(buf, KITH_BEACON_MAX_LEN, SRC, k, 1, NOW, NULL, NULL, NULL),
               KITH_ENOTFOUND);

    /* No keys: nothing matches; bad arguments. */
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, NULL, 0, NOW, NULL, NULL, NULL),
               KITH_ENOTFOUND);
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, NULL, 1, NOW, NULL, NULL, NULL),
               KITH_EINVAL);
    ASSERT_ERR(kith_beacon_match(NULL, 5, SRC, k, 1, NOW, NULL, NULL, NULL), KITH_EINVAL);

    /* Outputs are untouched on failure. */
    size_t idx = 77;
    uint16_t port = 77;
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len - 1, SRC, k, 1, NOW, &idx, &port, NULL),
               KITH_EPARSE);
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, k, 1, NOW + 601, &idx, &port, NULL),
               KITH_ENOTFOUND);
    assert_int_equal(idx, 77);
    assert_int_equal(port, 77);
}

/* The binary search finds a tag at every position, including both ends, in every legal
 * count; the beacon is built by hand so that the position is chosen. */
static void
search_positions(void **state)
{
    (void) state;
    bkey_t key;
    randombytes_buf(key, sizeof(key));
    for (unsigned count = 8; count <= 128; count += 8) {
        for (unsigned pos = 0; pos < count; pos++) {
            uint8_t buf[KITH_BEACON_MAX_LEN];
            memset(buf, 0, 28);
            buf[0] = 2;
            randombytes_buf(buf + 1, 16);
            uint64_t t = NOW;
            for (int i = 7; i >= 0; i--, t >>= 8) {
                buf[17 + i] = (uint8_t) t;
            }
            buf[25] = 0x15;
            buf[26] = 0x6c;
            buf[27] = (uint8_t) count;
            uint8_t tag[8];
            spec_tag(key, buf, tag);
            /* Fill ascending tags around tag: below it before pos, above it after. */
            uint64_t v = 0;
            for (int i = 0; i < 8; i++) {
                v = (v << 8) | tag[i];
            }
            for (unsigned i = 0; i < count; i++) {
                uint64_t x = i < pos ? v / count * i : v + (UINT64_MAX - v) / count * (i - pos);
                for (int b = 7; b >= 0; b--) {
                    buf[28 + 8 * i + b] = (uint8_t) x;
                    x >>= 8;
                }
            }
            size_t idx = 5;
            ASSERT_OK(kith_beacon_match(buf, 28 + 8 * count, SRC, (const bkey_t *) &key, 1, NOW,
                                        &idx, NULL, NULL));
            assert_int_equal(idx, 0);
            /* And with that tag nudged by one, it is gone. */
            buf[28 + 8 * pos + 7] ^= 1;
            int rc = kith_beacon_match(buf, 28 + 8 * count, SRC, (const bkey_t *) &key, 1, NOW,
                                       NULL, NULL, NULL);
            assert_true(rc == KITH_ENOTFOUND || rc == KITH_EPARSE);
        }
    }
}

/* ---- Known answer (proto/BEACON.md) ----------------------------------------------- */

static void
hex(const uint8_t *p, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, p, n);
}

/* alice (seed 00..1f) beacons for bob (20..3f) and carol (a0..bf), port 5484, at
 * 1700000000 (2023-11-14 22:13:20 UTC), from 198.18.0.1, randomness from seed 42 42 ... 42. */
static const char kat_bob_send[] =
    "885a705dc23561a18df7ca8ce619164b2fa9396823cad1cfe10c0a7314ec6a25";
static const char kat_bob_to_alice[] =
    "15c3e9d7012e82d74f6bd3ee8bc6202164cfa9da993b29c710045d9089798dcc";
static const char kat_carol_send[] =
    "8906dc9a47830ca13a2e2495d7f10924a3b440238c38155a5ad9f448689f7022";
/* clang-format off */
static const char kat_beacon[] =
    "02"                                /* version */
    "a4ddf31f7f32ba696f14ce50ecf3f21e"  /* nonce */
    "000000006553f100"                  /* time 1700000000 */
    "156c"                              /* port 5484 */
    "08"                                /* 8 tags */
    "121002ed9e313d2d"
    "1dd23b6ff2354938"                  /* carol's tag */
    "3e100e83bdf47966"
    "4007835cc02a63ee"                  /* bob's tag */
    "c9e49ff534c50bd1"
    "e106b40d369f5c94"
    "e7b07468e9500b6e"
    "f5dd2a13d9131585";
/* clang-format on */

static void
known_answer(void **state)
{
    (void) state;
    uint8_t seed[32], recv[32];
    bkey_t send[2];
    memset(seed, 0x42, sizeof(seed));
    ASSERT_OK(kith_beacon_pair_keys(alice, bob->pk, send[0], recv));
    ASSERT_OK(kith_beacon_pair_keys(alice, carol->pk, send[1], recv));
    kith_beacon_dgram_t dg;
    size_t n = 0;
    ASSERT_OK(kith__beacon_build_seeded((const bkey_t *) send, 2, 5484, 1700000000, SRC, seed, &dg,
                                        1, &n));
    assert_int_equal(n, 1);
    assert_int_equal(dg.len, 92);

    char h[2 * KITH_BEACON_MAX_LEN + 1];
    char ed[65], x[65];
    const kith_identity_t *cast[] = {alice, bob, carol, dave};
    const char *names[] = {"alice", "bob", "carol", "dave"};
    for (int i = 0; i < 4; i++) {
        hex(cast[i]->pk, 32, ed);
        hex(cast[i]->xpk, 32, x);
        printf("  %-5s ed %s\n        x %s\n", names[i], ed, x);
    }
    uint8_t rx[32], dh[32];
    ASSERT_OK(kith_identity_x25519_pk(bob->pk, rx));
    assert_int_equal(crypto_scalarmult(dh, alice->xsk, rx), 0);
    hex(dh, 32, h);
    printf("  dh(alice,bob)   %s\n", h);
    ASSERT_OK(kith_identity_x25519_pk(carol->pk, rx));
    assert_int_equal(crypto_scalarmult(dh, alice->xsk, rx), 0);
    hex(dh, 32, h);
    printf("  dh(alice,carol) %s\n", h);
    hex(send[0], 32, h);
    printf("  K(alice->bob)   %s\n", h);
    ASSERT_STREQ(h, kat_bob_send);
    hex(send[1], 32, h);
    printf("  K(alice->carol) %s\n", h);
    ASSERT_STREQ(h, kat_carol_send);
    uint8_t tag[8];
    spec_tag(send[0], dg.data, tag);
    hex(tag, 8, h);
    printf("  tag bob   %s at %d\n", h, find_tag(&dg, tag));
    spec_tag(send[1], dg.data, tag);
    hex(tag, 8, h);
    printf("  tag carol %s at %d\n", h, find_tag(&dg, tag));
    hex(dg.data, dg.len, h);
    printf("  beacon %s\n", h);
    ASSERT_STREQ(h, kat_beacon);

    /* Bob, with carol's key listed first, recognises alice; carol too; dave does not,
     * even knowing every public key involved. */
    bkey_t keys[3];
    uint8_t unused[32];
    size_t idx = 9;
    uint16_t port = 0;
    ASSERT_OK(kith_beacon_pair_keys(bob, carol->pk, unused, keys[0]));
    ASSERT_OK(kith_beacon_pair_keys(bob, alice->pk, unused, keys[1]));
    hex(unused, 32, h);
    ASSERT_STREQ(h, kat_bob_to_alice);
    ASSERT_OK(kith_beacon_match(dg.data, dg.len, SRC, (const bkey_t *) keys, 2, 1700000000 + 42,
                                &idx, &port, NULL));
    assert_int_equal(idx, 1);
    assert_int_equal(port, 5484);
    /* The same bytes from 198.18.0.66: nothing. */
    uint8_t elsewhere[16];
    memcpy(elsewhere, SRC, 16);
    elsewhere[15] = 66;
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, elsewhere, (const bkey_t *) keys, 2, 1700000042,
                                 NULL, NULL, NULL),
               KITH_ENOTFOUND);
    ASSERT_OK(kith_beacon_pair_keys(carol, alice->pk, unused, keys[0]));
    ASSERT_OK(kith_beacon_match(dg.data, dg.len, SRC, (const bkey_t *) keys, 1, 1700000042, &idx,
                                &port, NULL));
    assert_int_equal(idx, 0);
    ASSERT_OK(kith_beacon_pair_keys(dave, alice->pk, unused, keys[0]));
    ASSERT_OK(kith_beacon_pair_keys(dave, bob->pk, unused, keys[1]));
    ASSERT_OK(kith_beacon_pair_keys(dave, carol->pk, unused, keys[2]));
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, (const bkey_t *) keys, 3, 1700000042, NULL,
                                 NULL, NULL),
               KITH_ENOTFOUND);
    /* Alice hears her own beacon: her recv keys do not match it. */
    ASSERT_OK(kith_beacon_pair_keys(alice, bob->pk, unused, keys[0]));
    ASSERT_OK(kith_beacon_pair_keys(alice, carol->pk, unused, keys[1]));
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, (const bkey_t *) keys, 2, 1700000042, NULL,
                                 NULL, NULL),
               KITH_ENOTFOUND);
}

/* ---- Bound to the source address (version 2) --------------------------------------- */

/* A beacon captured and replayed from any other address matches no key: the tags cover
 * the address the receiver sees, which the replayer cannot make its own. */
static void
replay_other_address(void **state)
{
    (void) state;
    kith_beacon_dgram_t dg;
    bkey_t recv;
    beacon_at(NOW, &dg, recv);
    const bkey_t *k = (const bkey_t *) &recv;
    uint64_t t = 0;
    ASSERT_OK(kith_beacon_match(dg.data, dg.len, SRC, k, 1, NOW, NULL, NULL, &t));
    assert_true(t == NOW);

    /* The same bytes heard from other addresses: a neighbour on the same subnet, the
     * same address without the IPv4 mapping, an IPv6 link-local address. */
    struct sockaddr_in other4;
    memset(&other4, 0, sizeof(other4));
    other4.sin_family = AF_INET;
    other4.sin_port = htons(5484);
    assert_int_equal(inet_pton(AF_INET, "198.18.0.66", &other4.sin_addr), 1);
    uint8_t a[16];
    ASSERT_OK(kith_beacon_addr((const struct sockaddr *) &other4, a));
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, a, k, 1, NOW, NULL, NULL, NULL), KITH_ENOTFOUND);
    memset(a, 0, sizeof(a));
    memcpy(a, SRC + 12, 4);
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, a, k, 1, NOW, NULL, NULL, NULL), KITH_ENOTFOUND);
    struct sockaddr_in6 ll;
    memset(&ll, 0, sizeof(ll));
    ll.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, "fe80::1", &ll.sin6_addr), 1);
    ASSERT_OK(kith_beacon_addr((const struct sockaddr *) &ll, a));
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, a, k, 1, NOW, NULL, NULL, NULL), KITH_ENOTFOUND);
    /* Every single-bit change of the address defeats the tag. */
    for (size_t i = 0; i < 16 * 8; i++) {
        memcpy(a, SRC, 16);
        a[i / 8] ^= (uint8_t) (1u << (i % 8));
        ASSERT_ERR(kith_beacon_match(dg.data, dg.len, a, k, 1, NOW, NULL, NULL, NULL),
                   KITH_ENOTFOUND);
    }

    /* kith_beacon_addr: IPv4 as ::ffff:a.b.c.d, IPv6 as is and without its scope. */
    struct sockaddr_in mine;
    memset(&mine, 0, sizeof(mine));
    mine.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, "198.18.0.1", &mine.sin_addr), 1);
    ASSERT_OK(kith_beacon_addr((const struct sockaddr *) &mine, a));
    assert_memory_equal(a, SRC, 16);
    uint8_t b[16];
    ll.sin6_scope_id = 7;
    ASSERT_OK(kith_beacon_addr((const struct sockaddr *) &ll, a));
    ll.sin6_scope_id = 9;
    ll.sin6_port = htons(1);
    ASSERT_OK(kith_beacon_addr((const struct sockaddr *) &ll, b));
    assert_memory_equal(a, b, 16);
    assert_memory_equal(a, &ll.sin6_addr, 16);
    struct sockaddr other = {.sa_family = AF_UNIX};
    ASSERT_ERR(kith_beacon_addr(&other, a), KITH_EINVAL);
    ASSERT_ERR(kith_beacon_addr(NULL, a), KITH_EINVAL);
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, NULL, k, 1, NOW, NULL, NULL, NULL), KITH_EINVAL);

    /* An IPv6 sender's beacon is heard from its link-local address. */
    bkey_t send;
    uint8_t unused[32];
    size_t n = 0;
    ASSERT_OK(kith_beacon_addr((const struct sockaddr *) &ll, a));
    ASSERT_OK(kith_beacon_pair_keys(alice, bob->pk, send, unused));
    ASSERT_OK(kith_beacon_build((const bkey_t *) &send, 1, PORT, NOW, a, &dg, 1, &n));
    ASSERT_OK(kith_beacon_match(dg.data, dg.len, a, k, 1, NOW, NULL, NULL, NULL));
    ASSERT_ERR(kith_beacon_match(dg.data, dg.len, SRC, k, 1, NOW, NULL, NULL, NULL),
               KITH_ENOTFOUND);
}

/* ---- Replays across a restart ------------------------------------------------------- */

/* A receiver accepts a peer's beacon, restarts (its table saved and read back), and the
 * same beacon, replayed from the same address within the window, is refused; the peer's
 * next beacon is accepted. */
static void
replay_after_restart(void **state)
{
    (void) state;
    static kith_beacon_replay_t before, after; /* 24 KiB each: not on the stack */
    static uint8_t saved[KITH_BEACON_REPLAY_MAX_SAVE];
    kith_beacon_dgram_t dg, next;
    bkey_t recv;
    uint8_t id[KITH_BEACON_REPLAY_ID_LEN];
    uint64_t t = 0;
    size_t len = 0;

    beacon_at(NOW, &dg, recv);
    beacon_at(NOW + 30, &next, recv);
    const bkey_t *k = (const bkey_t *) &recv;
    ASSERT_OK(kith_beacon_replay_id(recv, id));
    kith_beacon_replay_init(&before);
    ASSERT_OK(kith_beacon_match(dg.data, dg.len, SRC, k, 1, NOW + 1, NULL, NULL, &t));
    ASSERT_OK(kith_beacon_replay_check(&before, id, t));
    /* While running: the second copy (broadcast and multicast) and any replay refused. */
    ASSERT_ERR(kith_beacon_replay_check(&before, id, t), KITH_EEXISTS);
    ASSERT_ERR(kith_beacon_replay_check(&before, id, t - 1), KITH_EEXISTS);

    /* Restart. */
    ASSERT_OK(kith_beacon_replay_save(&before, saved, sizeof(saved), &len));
    assert_int_equal(len, 1 + KITH_BEACON_REPLAY_REC);
    memset(&after, 0x55, sizeof(after));
    ASSERT_OK(kith_beacon_replay_load(&after, saved, len));
    ASSERT_OK(kith_beacon_match(dg.data, dg.len, SRC, k, 1, NOW + 2, NULL, NULL, &t));
    ASSERT_ERR(kith_beacon_replay_check(&after, id, t), KITH_EEXISTS);
    ASSERT_OK(kith_beacon_match(next.data, next.len, SRC, k, 1, NOW + 31, NULL, NULL, &t));
    ASSERT_OK(kith_beacon_replay_check(&after, id, t));
    ASSERT_ERR(kith_beacon_replay_check(&after, id, t), KITH_EEXISTS);
    /* The saved table names no one: neither key appears in it, nor the id of the other
     * direction's key. */
    bkey_t send;
    uint8_t unused[32];
    ASSERT_OK(kith_beacon_pair_keys(bob, alice->pk, send, unused));
    assert_false(shares_window(saved, len, recv, 32, 6));
    assert_false(shares_window(saved, len, send, 32, 6));
    assert_false(shares_window(saved, len, alice->pk, 32, 5));
    assert_false(shares_window(saved, len, bob->pk, 32, 5));

    /* Damaged files are refused and leave the table empty. */
    ASSERT_ERR(kith_beacon_replay_load(&after, saved, 0), KITH_EPARSE);
    ASSERT_ERR(kith_beacon_replay_load(&after, saved, len - 1), KITH_EPARSE);
    ASSERT_ERR(kith_beacon_replay_load(&after, saved, len + 1), KITH_EPARSE);
    saved[0] = 2;
    ASSERT_ERR(kith_beacon_replay_load(&after, saved, len), KITH_EVERSION);
    assert_int_equal(after.n, 0);
    saved[0] = 1;
    ASSERT_ERR(kith_beacon_replay_load(&after, saved, KITH_BEACON_REPLAY_MAX_SAVE + 24),
               KITH_EPARSE);
    ASSERT_ERR(kith_beacon_replay_load(&after, NULL, 0), KITH_EPARSE);
    ASSERT_ERR(kith_beacon_replay_save(&before, saved, len - 1, &len), KITH_EINVAL);

    /* Bounded: a full table forgets the oldest time; an id saved twice keeps the newest. */
    kith_beacon_replay_init(&before);
    for (uint32_t i = 0; i <= KITH_BEACON_REPLAY_CAP; i++) {
        uint8_t x[KITH_BEACON_REPLAY_ID_LEN] = {0};
        memcpy(x, &i, sizeof(i));
        ASSERT_OK(kith_beacon_replay_check(&before, x, NOW + i));
    }
    assert_int_equal(before.n, KITH_BEACON_REPLAY_CAP);
    uint8_t first[KITH_BEACON_REPLAY_ID_LEN] = {0}, second[KITH_BEACON_REPLAY_ID_LEN] = {0};
    second[0] = 1;
    ASSERT_ERR(kith_beacon_replay_check(&before, second, NOW + 1), KITH_EEXISTS);
    ASSERT_OK(kith_beacon_replay_check(&before, first, NOW)); /* forgotten: accepted */
    ASSERT_OK(kith_beacon_replay_save(&before, saved, sizeof(saved), &len));
    assert_int_equal(len, KITH_BEACON_REPLAY_MAX_SAVE);
    memcpy(saved + 1 + 24, saved + 1, 16);
    ASSERT_OK(kith_beacon_replay_load(&after, saved, len));
    assert_int_equal(after.n, KITH_BEACON_REPLAY_CAP - 1);
}

/* ---- Per-source rate limit ---------------------------------------------------------- */

static void
addr4(uint32_t host, uint8_t a[16])
{
    memset(a, 0, 16);
    a[10] = a[11] = 0xff;
    a[12] = (uint8_t) (host >> 24);
    a[13] = (uint8_t) (host >> 16);
    a[14] = (uint8_t) (host >> 8);
    a[15] = (uint8_t) host;
}

/*
 * 20 seconds of a flood at 20,000 datagrams a second from one address, while an honest
 * source sends a beacon (to broadcast and to multicast: 2 datagrams) every 2 s, 15 times as
 * often as a real one: every one of the
 * honest source's datagrams is admitted, the flooder gets its own budget only. Then a
 * flood from 100,000 different (spoofed) addresses: a proven honest source is still
 * served in full, and the work stays bounded. With one bucket shared by all sources (the
 * limiter before version 2), the honest source got about 1 datagram in 200.
 */
static void
per_source_limit(void **state)
{
    (void) state;
    static kith_beacon_limiter_t l;
    uint8_t flooder[16], honest[16], spoof[16];
    addr4(0xc6120003, flooder); /* 198.18.0.3 */
    addr4(0xc6120002, honest);  /* 198.18.0.2 */
    uint64_t t0 = 5000000, honest_sent = 0, honest_in = 0, flood_in = 0;

    kith_beacon_limiter_init(&l, t0);
    for (uint64_t ms = 0; ms < 20000; ms++) {
        for (int i = 0; i < 20; i++) {
            flood_in += (uint64_t) kith_beacon_limiter_admit(&l, flooder, t0 + ms);
        }
        if (ms % 2000 == 0) {
            honest_sent += 2;
            honest_in += (uint64_t) kith_beacon_limiter_admit(&l, honest, t0 + ms);
            honest_in += (uint64_t) kith_beacon_limiter_admit(&l, honest, t0 + ms);
        }
    }
    printf("  one flooder: honest %" PRIu64 "/%" PRIu64 " admitted, flooder %" PRIu64 "/400000\n",
           honest_in, honest_sent, flood_in);
    assert_true(honest_in == honest_sent);
    assert_true(flood_in <= KITH_BEACON_SOURCE_BURST + 20 * KITH_BEACON_SOURCE_RATE + 1);

    /* The honest source's beacon matched: it is proven. Now every flood datagram comes
     * from a new address; the table is full after 64 of them. */
    kith_beacon_limiter_proven(&l, honest, t0 + 20000);
    uint64_t t1 = t0 + 20000;
    honest_sent = honest_in = flood_in = 0;
    uint32_t next = 0x0a000000;
    for (uint64_t ms = 0; ms < 10000; ms++) {
        for (int i = 0; i < 10; i++) {
            addr4(next++, spoof);
            flood_in += (uint64_t) kith_beacon_limiter_admit(&l, spoof, t1 + ms);
        }
        if (ms % 2000 == 0) {
            honest_sent += 2;
            honest_in += (uint64_t) kith_beacon_limiter_admit(&l, honest, t1 + ms);
            honest_in += (uint64_t) kith_beacon_limiter_admit(&l, honest, t1 + ms);
        }
    }
    printf("  spoofed flood: honest %" PRIu64 "/%" PRIu64 " admitted, flood %" PRIu64 "/100000\n",
           honest_in, honest_sent, flood_in);
    assert_true(honest_in == honest_sent);
    /* All unproven sources together: one bucket of STRANGERS_RATE a second. */
    assert_true(flood_in <= KITH_BEACON_STRANGERS_RATE * 11);
    /* The one-address flooder, still at it, still gets only its own rate. */
    uint64_t t2 = t1 + 10000, in = 0;
    for (uint64_t ms = 0; ms < 1000; ms++) {
        in += (uint64_t) kith_beacon_limiter_admit(&l, flooder, t2 + ms);
    }
    assert_true(in <= KITH_BEACON_SOURCE_BURST + 1);

    /* At most PROVEN_MAX proven: the 33rd demotes the one proven longest ago, which a
     * stranger may then displace. */
    kith_beacon_limiter_init(&l, t0);
    for (uint32_t i = 0; i <= KITH_BEACON_PROVEN_MAX; i++) {
        addr4(0xc6120100 + i, spoof);
        assert_int_equal(kith_beacon_limiter_admit(&l, spoof, t0 + i), 1);
        kith_beacon_limiter_proven(&l, spoof, t0 + i);
    }
    size_t proven = 0;
    for (size_t i = 0; i < KITH_BEACON_SOURCES; i++) {
        proven += l.src[i].used && l.src[i].proven_ms != 0;
    }
    assert_int_equal(proven, KITH_BEACON_PROVEN_MAX);
    /* Proving an address that is not in the table does nothing. */
    addr4(0x01020304, spoof);
    kith_beacon_limiter_proven(&l, spoof, t0);
}

/* ---- Cost ------------------------------------------------------------------------- */

static double
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

/* A receiver with 100 peers, handed a 100-peer beacon 10,000 times: from its last-listed
 * peer (the worst case for a peer) and from a stranger (every key tried). */
static void
cpu_per_beacon(void **state)
{
    (void) state;
    const size_t n = 100, rounds = 10000;
    bkey_t *send = node_send_keys(node, n);
    kith_beacon_dgram_t from_peer, from_stranger;
    size_t n_dg = 0;
    ASSERT_OK(kith_beacon_build((const bkey_t *) send, n, PORT, NOW, SRC, &from_peer, 1, &n_dg));
    bkey_t *stranger_send = node_send_keys(stranger, n);
    ASSERT_OK(kith_beacon_build((const bkey_t *) stranger_send, n, PORT, NOW, SRC, &from_stranger,
                                1, &n_dg));

    /* peers[0]'s view: 99 other peers, then the node. */
    bkey_t *recv = calloc(n, sizeof(bkey_t));
    assert_non_null(recv);
    uint8_t unused[32];
    for (size_t i = 0; i + 1 < n; i++) {
        ASSERT_OK(kith_beacon_pair_keys(peers[0], peers[i + 1]->pk, unused, recv[i]));
    }
    ASSERT_OK(kith_beacon_pair_keys(peers[0], node->pk, unused, recv[n - 1]));

    size_t idx = 0;
    double t0 = now_us();
    for (size_t r = 0; r < rounds; r++) {
        ASSERT_OK(kith_beacon_match(from_peer.data, from_peer.len, SRC, (const bkey_t *) recv, n,
                                    NOW, &idx, NULL, NULL));
    }
    double t1 = now_us();
    for (size_t r = 0; r < rounds; r++) {
        ASSERT_ERR(kith_beacon_match(from_stranger.data, from_stranger.len, SRC,
                                     (const bkey_t *) recv, n, NOW, NULL, NULL, NULL),
                   KITH_ENOTFOUND);
    }
    double t2 = now_us();
    assert_int_equal(idx, n - 1);
    printf("  receiver with %zu keys, %zu-tag beacon: %.2f us/beacon from its last peer, "
           "%.2f us/beacon from a stranger (%zu rounds each)\n",
           n, (size_t) from_peer.data[27], (t1 - t0) / (double) rounds, (t2 - t1) / (double) rounds,
           rounds);

    t0 = now_us();
    for (size_t r = 0; r < rounds / 10; r++) {
        ASSERT_OK(
            kith_beacon_build((const bkey_t *) send, n, PORT, NOW, SRC, &from_peer, 1, &n_dg));
    }
    t1 = now_us();
    printf("  building a %zu-peer beacon: %.2f us\n", n, (t1 - t0) / (double) (rounds / 10));
    free(recv);
    free(stranger_send);
    free(send);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pair_keys),
        cmocka_unit_test(recognise),
        cmocka_unit_test(duplicate_keys),
        cmocka_unit_test(unlinkable),
        cmocka_unit_test(no_identifiers),
        cmocka_unit_test(padding_and_split),
        cmocka_unit_test(tamper),
        cmocka_unit_test(replay_window),
        cmocka_unit_test(malformed),
        cmocka_unit_test(search_positions),
        cmocka_unit_test(known_answer),
        cmocka_unit_test(replay_other_address),
        cmocka_unit_test(replay_after_restart),
        cmocka_unit_test(per_source_limit),
        cmocka_unit_test(cpu_per_beacon),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
