/*
 * libFuzzer target for ops (src/model/op.c).
 *
 * The input is tried both as a signed op (kith_op_verify) and as a bare encoding
 * (kith_op_decode). Whatever decodes must be canonical: encoding the decoded op must give
 * back exactly the input bytes, and its hash must be the hash of the input. A verified op
 * must verify again from its own re-encoding. Return codes must be documented ones.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "kith/kith.h"
#include "model/op.h"

static void
check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_op: %s\n", what);
        abort();
    }
}

/* Codes op.h documents for decode and verify; KITH_ETOOBIG is tolerated for the known
 * decode of a 59937..60000-byte encoding (see decode_rejects_oversized in test_op.c). */
static int
expected_code(int rc)
{
    return rc == KITH_OK || rc == KITH_EPARSE || rc == KITH_EVERSION || rc == KITH_ECRYPTO ||
           rc == KITH_ENOMEM || rc == KITH_ETOOBIG;
}

static void
check_canonical(const kith_op_t *op, const uint8_t *enc, size_t len)
{
    kith_buf_t again;
    kith_buf_init(&again);
    check(kith_op_encode(op, &again) == KITH_OK, "a decoded op does not encode");
    check(again.len == len && memcmp(again.data, enc, len) == 0,
          "re-encoding a decoded op changed its bytes");
    kith_buf_close(&again);
    /* The decoded op is well-formed as the model requires. */
    check(op->kind >= -1 && op->kind <= 1, "kind out of range");
    check(op->del >= -1 && op->del <= 1, "del out of range");
    check(op->private == 0 || op->private == 1, "private not a flag");
    check(op->has_aud || op->n_aud == 0, "audience without has_aud");
    for (size_t i = 1; i < op->n_set; i++) {
        check(strcmp(op->set[i - 1].name, op->set[i].name) < 0, "set not sorted");
    }
    for (size_t i = 1; i < op->n_aud; i++) {
        check(memcmp(op->aud[i - 1].key, op->aud[i].key, KITH_PK_LEN) < 0, "audience not sorted");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        check(kith_init() == KITH_OK, "kith_init failed");
        ready = 1;
    }
    kith_op_t op;
    uint8_t hash[KITH_HASH_LEN], h2[KITH_HASH_LEN];

    int rc = kith_op_verify(data, size, &op, hash);
    check(expected_code(rc), "verify returned an undocumented code");
    if (rc == KITH_OK) {
        check_canonical(&op, data + KITH_SIG_LEN, size - KITH_SIG_LEN);
        kith_op_hash(data + KITH_SIG_LEN, size - KITH_SIG_LEN, h2);
        check(memcmp(hash, h2, KITH_HASH_LEN) == 0, "verify returned another hash");
        kith_op_close(&op);
    } else {
        check(op.n_set == 0 && op.set == NULL && op.aud == NULL, "failed verify left data");
    }

    rc = kith_op_decode(data, size, &op);
    check(expected_code(rc) && rc != KITH_ECRYPTO, "decode returned an undocumented code");
    if (rc == KITH_OK) {
        check_canonical(&op, data, size);
        kith_op_close(&op);
    } else {
        check(op.n_set == 0 && op.set == NULL && op.aud == NULL, "failed decode left data");
    }
    return 0;
}
