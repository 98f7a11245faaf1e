/*
 * libFuzzer target for src/net/beacon: arbitrary bytes handed to kith_beacon_match() by a
 * receiver (bob, seed 20..3f) with 20 trusted senders, at a fixed time, as if heard from
 * 198.18.0.1 and from 198.18.0.2; and to kith_beacon_replay_load(), the reader of the
 * saved replay table.
 *
 * Nothing may crash, and the result is checked against a slow, obvious oracle written
 * from proto/BEACON.md: the framing rules decide between KITH_EVERSION, KITH_EPARSE and
 * a well-formed beacon, and for a well-formed one inside the time window every key's
 * tag is looked for by a linear scan. The module's binary search must agree: KITH_OK
 * with the lowest index whose tag is present and the advertised port, or
 * KITH_ENOTFOUND when no tag is. So the fuzzer also tests the search, not just memory
 * safety.
 *
 * Sender i (0..19) has the seed  i, 0x80, then 0x5a ^ 13j for bytes j = 2..31.
 * tests/fuzz/corpus/beacon/ holds real beacons from senders 3 and 19 (1, 10, 100 and
 * 200 peers, bob among them) at FUZZ_NOW from 198.18.0.1 and one from 198.18.0.2, a
 * stranger's, broken ones, a version 1 beacon and saved replay tables; they are written by
 * tests/tools/beacon_corpus.py.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/identity.h"
#include "kith/error.h"
#include "net/beacon.h"

#define N_KEYS   20
#define FUZZ_NOW 1700000000ULL

/* 198.18.0.1 and 198.18.0.2, IPv4-mapped. */
static const uint8_t SRC[2][KITH_BEACON_ADDR_LEN] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 2},
};

static uint8_t keys[N_KEYS][KITH_BEACON_KEY_LEN];
static int ready;

static void
check(int cond)
{
    if (!cond) {
        abort();
    }
}

static kith_identity_t *
identity(const uint8_t seed[KITH_SEED_LEN])
{
    kith_identity_t *id = NULL;
    check(kith_identity_from_seed(seed, &id) == KITH_OK);
    return id;
}

static void
init_once(void)
{
    if (ready) {
        return;
    }
    check(sodium_init() >= 0);
    uint8_t seed[KITH_SEED_LEN];
    for (int j = 0; j < KITH_SEED_LEN; j++) {
        seed[j] = (uint8_t) (0x20 + j);
    }
    kith_identity_t *bob = identity(seed);
    for (int i = 0; i < N_KEYS; i++) {
        uint8_t send[KITH_BEACON_KEY_LEN];
        for (int j = 0; j < KITH_SEED_LEN; j++) {
            seed[j] = (uint8_t) (0x5a ^ (j * 13));
        }
        seed[0] = (uint8_t) i;
        seed[1] = 0x80;
        kith_identity_t *sender = identity(seed);
        check(kith_beacon_pair_keys(bob, sender->pk, send, keys[i]) == KITH_OK);
        kith_identity_free(sender);
    }
    kith_identity_free(bob);
    ready = 1;
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

/* The spec, read naively: what kith_beacon_match must return for data heard from src at
 * now_s. */
static int
oracle(const uint8_t *data, size_t size, const uint8_t *src, uint64_t now_s, size_t *idx,
       uint16_t *port)
{
    if (size == 0) {
        return KITH_EPARSE;
    }
    if (data[0] != 2) {
        return KITH_EVERSION;
    }
    if (size < 28) {
        return KITH_EPARSE;
    }
    size_t count = data[27];
    if (count == 0 || count > 128 || count % 8 != 0 || size != 28 + 8 * count) {
        return KITH_EPARSE;
    }
    *port = (uint16_t) (data[25] << 8 | data[26]);
    if (*port == 0) {
        return KITH_EPARSE;
    }
    for (size_t i = 1; i < count; i++) {
        if (memcmp(data + 28 + 8 * (i - 1), data + 28 + 8 * i, 8) > 0) {
            return KITH_EPARSE;
        }
    }
    uint64_t t = be64(data + 17);
    if ((t > now_s ? t - now_s : now_s - t) > 600) {
        return KITH_ENOTFOUND;
    }
    uint8_t in[27 + KITH_BEACON_ADDR_LEN];
    memcpy(in, data, 27);
    memcpy(in + 27, src, KITH_BEACON_ADDR_LEN);
    for (size_t k = 0; k < N_KEYS; k++) {
        uint8_t h[32];
        check(crypto_generichash_blake2b(h, 32, in, sizeof(in), keys[k], 32) == 0);
        for (size_t i = 0; i < count; i++) {
            if (memcmp(h, data + 28 + 8 * i, 8) == 0) {
                *idx = k;
                return KITH_OK;
            }
        }
    }
    return KITH_ENOTFOUND;
}

static void
one_from(const uint8_t *data, size_t size, const uint8_t *src, uint64_t now_s)
{
    size_t idx = SIZE_MAX, want_idx = SIZE_MAX;
    uint16_t port = 0, want_port = 0;
    uint64_t t = 0;
    int rc = kith_beacon_match(data, size, src, (const uint8_t(*)[KITH_BEACON_KEY_LEN]) keys,
                               N_KEYS, now_s, &idx, &port, &t);
    int want = oracle(data, size, src, now_s, &want_idx, &want_port);
    check(rc == want);
    if (rc == KITH_OK) {
        check(idx == want_idx && port == want_port && port != 0 && t == be64(data + 17));
    } else {
        check(idx == SIZE_MAX && port == 0 && t == 0);
    }
}

static void
one(const uint8_t *data, size_t size, uint64_t now_s)
{
    one_from(data, size, SRC[0], now_s);
    one_from(data, size, SRC[1], now_s);
}

/* The saved replay table: loads or is refused whole; what loads saves back to something
 * that loads to the same table, and never holds more than the cap. */
static void
replay_table(const uint8_t *data, size_t size)
{
    static kith_beacon_replay_t r, again;
    static uint8_t out[KITH_BEACON_REPLAY_MAX_SAVE];
    size_t len = 0;
    int rc = kith_beacon_replay_load(&r, data, size);
    if (rc != KITH_OK) {
        check((rc == KITH_EPARSE || rc == KITH_EVERSION) && r.n == 0);
        return;
    }
    check(r.n <= KITH_BEACON_REPLAY_CAP && r.n <= size / KITH_BEACON_REPLAY_REC);
    check(kith_beacon_replay_save(&r, out, sizeof(out), &len) == KITH_OK);
    check(len == 1 + r.n * KITH_BEACON_REPLAY_REC);
    check(kith_beacon_replay_load(&again, out, len) == KITH_OK && again.n == r.n);
    check(memcmp(again.seen, r.seen, r.n * sizeof(r.seen[0])) == 0);
    /* Every remembered time refuses itself and accepts a newer one. */
    for (size_t i = 0; i < r.n; i++) {
        check(kith_beacon_replay_check(&again, r.seen[i].id, r.seen[i].newest_s) == KITH_EEXISTS);
        if (r.seen[i].newest_s < UINT64_MAX) {
            check(kith_beacon_replay_check(&again, r.seen[i].id, r.seen[i].newest_s + 1) ==
                  KITH_OK);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    one(data, size, FUZZ_NOW);
    /* The same bytes when the receiver's clock is elsewhere: at the datagram's own time
     * (so tampered times still reach the tag check) and far away. */
    if (size >= 25) {
        one(data, size, be64(data + 17));
    }
    one(data, size, FUZZ_NOW + 601);
    /* NULL outputs are allowed. */
    int rc = kith_beacon_match(data, size, SRC[0], (const uint8_t(*)[KITH_BEACON_KEY_LEN]) keys,
                               N_KEYS, FUZZ_NOW, NULL, NULL, NULL);
    check(rc == KITH_OK || rc == KITH_ENOTFOUND || rc == KITH_EPARSE || rc == KITH_EVERSION);
    replay_table(data, size);
    return 0;
}
