/*
 * libFuzzer target for src/sync/envelope: arbitrary bytes, read two ways.
 *
 *   1. As text handed to kith_envelope_open() by a fixed recipient (bob). This covers
 *      the armor scanner, base64, the header checks and the decryption failures.
 *   2. As a decrypted payload from a fixed sender (alice) to bob, given to the payload
 *      decoder directly. Anyone who knows bob's public key can make any payload decrypt,
 *      so this is hostile input too, and the fuzzer could never forge its way through
 *      the AEAD tag to reach it via path 1.
 *
 * Nothing may crash, and the module's promises are checked: a failure leaves the
 * envelope empty with a message in errbuf and one of the documented codes; a success
 * holds 1 to KITH_ENVELOPE_MAX_OPS ops that each verify and share the record.
 *
 * Identities come from fixed seeds: alice 00..1f, bob 20..3f (as in
 * tests/unit/test_envelope.c and proto/ENVELOPE.md), so the corpus in
 * tests/fuzz/corpus/envelope/ holds real envelopes for bob and real payloads from
 * alice that reach the deepest paths.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sync/envelope.h"
#include "crypto/identity.h"
#include "kith/error.h"
#include "model/op.h"

static kith_identity_t *alice, *bob;

static void
check(int cond)
{
    if (!cond) {
        abort();
    }
}

static kith_identity_t *
identity(uint8_t first)
{
    uint8_t seed[KITH_SEED_LEN];
    for (int i = 0; i < KITH_SEED_LEN; i++) {
        seed[i] = (uint8_t) (first + i);
    }
    kith_identity_t *id = NULL;
    check(kith_identity_from_seed(seed, &id) == KITH_OK);
    return id;
}

static void
init_once(void)
{
    if (bob != NULL) {
        return;
    }
    check(sodium_init() >= 0);
    alice = identity(0x00);
    bob = identity(0x20);
}

static void
check_outcome(int rc, kith_envelope_t *env, const uint8_t *sender, const char *err)
{
    if (rc != KITH_OK) {
        check(rc == KITH_EPARSE || rc == KITH_EVERSION || rc == KITH_ECRYPTO || rc == KITH_EPROTO ||
              rc == KITH_ETOOBIG || rc == KITH_ENOMEM);
        check(env->ops == NULL && env->op_lens == NULL && env->mem == NULL && env->n_ops == 0);
        check(err[0] != '\0');
        return;
    }
    check(env->n_ops >= 1 && env->n_ops <= KITH_ENVELOPE_MAX_OPS);
    if (sender != NULL) {
        check(memcmp(env->sender, sender, KITH_PK_LEN) == 0);
    }
    for (size_t i = 0; i < env->n_ops; i++) {
        kith_op_t op;
        check(kith_op_verify(env->ops[i], env->op_lens[i], &op, NULL) == KITH_OK);
        check(!op.private && memcmp(op.rec, env->rec, KITH_REC_ID_LEN) == 0);
        kith_op_close(&op);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    kith_envelope_t env;
    char err[256];

    err[0] = '\0';
    int rc = kith_envelope_open(bob, (const char *) data, size, &env, err, sizeof(err));
    check_outcome(rc, &env, NULL, err);
    kith_envelope_close(&env);

    err[0] = '\0';
    rc = kith__envelope_decode_payload(data, size, alice->pk, bob->pk, &env, err, sizeof(err));
    check_outcome(rc, &env, alice->pk, err);
    kith_envelope_close(&env);
    return 0;
}
