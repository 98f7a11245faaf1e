/*
 * libFuzzer target for the state file, kith.state (src/node/state.c).
 *
 * The input is a candidate state file, as read from disk, opened with a fixed state key
 * (32 bytes of 0x4b) and public key (32 bytes of 0x50). What every decode must satisfy:
 *   - the result is KITH_OK or KITH_ECORRUPT, nothing else;
 *   - a failure leaves *out all zero, so a caller that ignores the code reads no stale
 *     or partial state;
 *   - success needs exactly KITH_STATE_LEN bytes starting with the magic "KITHST01";
 *   - what decodes encodes again (with a fresh nonce) to bytes that decode to the same
 *     state, and is "not older" than itself;
 *   - the same input under another public key does not decode.
 *
 * The seeds in tests/fuzz/corpus/state/ include "valid", a state file sealed with this
 * key and public key for db_id 00 01 .. 0f, generation 7, max_seq 42, so that mutations
 * of it reach the AEAD; the others are truncated, over-long and re-magicked copies of it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kith/error.h"
#include "kith/kith.h"
#include "node/state.h"

static void
check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_state: %s\n", what);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static uint8_t key[32], pk[KITH_PK_LEN], other_pk[KITH_PK_LEN];
    if (!ready) {
        check(kith_init() == KITH_OK, "kith_init failed");
        memset(key, 0x4b, sizeof(key));
        memset(pk, 0x50, sizeof(pk));
        memset(other_pk, 0x51, sizeof(other_pk));
        ready = 1;
    }
    kith_state_t st, zero, again;
    memset(&zero, 0, sizeof(zero));
    memset(&st, 0xee, sizeof(st));
    int rc = kith_state_decode(key, pk, data, size, &st);
    check(rc == KITH_OK || rc == KITH_ECORRUPT, "decode returned an undocumented code");
    if (rc != KITH_OK) {
        check(memcmp(&st, &zero, sizeof(st)) == 0, "a failed decode left state behind");
        return 0;
    }
    check(size == KITH_STATE_LEN, "a state of the wrong length decoded");
    check(memcmp(data, "KITHST01", 8) == 0, "a state without the magic decoded");
    check(kith_state_not_older(&st, &st), "a state is older than itself");

    uint8_t enc[KITH_STATE_LEN];
    kith_state_encode(key, pk, &st, enc);
    check(kith_state_decode(key, pk, enc, sizeof(enc), &again) == KITH_OK,
          "a decoded state does not encode to a state that decodes");
    check(memcmp(st.db_id, again.db_id, sizeof(st.db_id)) == 0 &&
              st.generation == again.generation && st.max_seq == again.max_seq,
          "a state changed on its way through encode and decode");

    memset(&again, 0xee, sizeof(again));
    check(kith_state_decode(key, other_pk, data, size, &again) == KITH_ECORRUPT,
          "a state decoded under another public key");
    check(memcmp(&again, &zero, sizeof(again)) == 0, "a failed decode left state behind");
    return 0;
}
