/*
 * libFuzzer target for identity key files (src/crypto/keyfile.c).
 *
 * The input is a candidate key file, as read from disk. It goes through
 * kith_keyfile_is_sealed(), kith_keyfile_public() and kith_keyfile_decode(), and the
 * three must agree:
 *   - a malformed file is KITH_ECORRUPT for all three;
 *   - decoding without a passphrase asks for one (KITH_EPASSPHRASE) only if the file is
 *     sealed, and never succeeds on a sealed file; an empty passphrase is the same as none;
 *   - a plain file ignores any passphrase given, and one that decodes is canonical:
 *     encoding the identity again gives back exactly the input;
 *   - a decoded identity's public key is the one kith_keyfile_public() reads;
 *   - return codes are the documented ones (plus KITH_ENOMEM) and a failure leaves *out
 *     NULL.
 *
 * A sealed file is also opened with the passphrase PASS, but only when it claims
 * Argon2id's minimum limits (1 pass, 8 KiB), which cost microseconds; the limits kith
 * writes (64 MiB, 2 passes) cost about 0.1 s a run and would stall the fuzzer. The seed
 * sealed_min in tests/fuzz/corpus/keyfile/ is such a file, sealed with PASS, so mutations
 * of it reach the AEAD and the public-key check behind it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/keyfile.h"
#include "kith/error.h"
#include "kith/kith.h"

#define PASS "correct horse"

/* Offsets of the Argon2id limits in a sealed file (keyfile.h). */
#define OFF_PK  9
#define OFF_OPS 41
#define OFF_MEM 49

static void
check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_keyfile: %s\n", what);
        abort();
    }
}

static uint64_t
get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Decodes with passphrase and checks what every decode must satisfy; returns the code.
 * On success the identity's key must be pk, and for a plain file (sealed == 0) decoded
 * without a passphrase its encoding must be the input itself (checked once per input:
 * each decode and encode costs several sodium_malloc()s, which dominate the run time). */
static int
decode(const uint8_t *data, size_t size, const char *passphrase, int sealed, const uint8_t *pk)
{
    kith_identity_t *id = (kith_identity_t *) (uintptr_t) 1;
    int rc = kith_keyfile_decode(data, size, passphrase, &id);
    check(rc == KITH_OK || rc == KITH_ECORRUPT || rc == KITH_EPASSPHRASE || rc == KITH_ENOMEM,
          "decode returned an undocumented code");
    if (rc != KITH_OK) {
        check(id == NULL, "failed decode left an identity");
        return rc;
    }
    check(id != NULL, "decode succeeded without an identity");
    check(sealed == 0 || sealed == 1, "decode accepted a file is_sealed rejects");
    check(memcmp(id->pk, pk, KITH_PK_LEN) == 0, "decoded key differs from kith_keyfile_public");
    if (sealed == 0 && passphrase == NULL) {
        kith_buf_t again;
        kith_buf_init(&again);
        check(kith_keyfile_encode(id, NULL, &again) == KITH_OK,
              "a decoded identity does not encode");
        check(again.len == size && memcmp(again.data, data, size) == 0,
              "a plain key file is not canonical");
        sodium_memzero(again.data, again.len);
        kith_buf_close(&again);
    }
    kith_identity_free(id);
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        check(kith_init() == KITH_OK, "kith_init failed");
        ready = 1;
    }
    uint8_t pk[KITH_PK_LEN];

    int sealed = kith_keyfile_is_sealed(data, size);
    check(sealed == 0 || sealed == 1 || sealed == KITH_ECORRUPT,
          "is_sealed returned an undocumented code");
    int prc = kith_keyfile_public(data, size, pk);
    check(prc == (sealed < 0 ? sealed : KITH_OK), "public and is_sealed disagree");
    if (prc == KITH_OK) {
        check(memcmp(pk, data + OFF_PK, KITH_PK_LEN) == 0, "public key is not the file's");
    }

    int rc = decode(data, size, NULL, sealed, pk);
    if (sealed < 0) {
        check(rc == sealed, "decode accepted or misjudged a malformed file");
    } else if (sealed == 0) {
        check(rc != KITH_EPASSPHRASE, "a plain file asked for a passphrase");
    } else {
        check(rc != KITH_OK, "a sealed file decoded without a passphrase");
    }
    if (sealed != 0) {
        /* A plain file never reads the passphrase; the PASS run below covers it. */
        check(decode(data, size, "", sealed, pk) == rc,
              "an empty passphrase is not the same as none");
    }

    if (sealed == 1) {
        uint64_t ops = get_le64(data + OFF_OPS), mem = get_le64(data + OFF_MEM);
        if (ops != crypto_pwhash_OPSLIMIT_MIN || mem != crypto_pwhash_MEMLIMIT_MIN) {
            return 0;
        }
        check(rc == KITH_EPASSPHRASE,
              "a sealed file with valid limits did not ask for a passphrase");
    }
    int rcp = decode(data, size, PASS, sealed, pk);
    if (sealed != 1) {
        check(rcp == rc, "a passphrase changed the outcome for an unsealed file");
    }
    return 0;
}
