/*
 * The yardstick of scripts/bench-sync: how many Ed25519 signatures of kith ops one thread
 * verifies per second on this machine (issue #13 asks initial sync to reach 0.8 of it).
 *
 *   bench_verify [N]   signs N ops (default 20,000), then times on one thread
 *                      (1) crypto_sign_verify_detached of what kith signs, "kith-op-v1" ||
 *                          BLAKE2b-256(encoding), that is the signature check alone;
 *                      (2) kith_op_verify of each signed op: decode (with the canonical
 *                          re-encoding check), hash and signature check, as a receiver does;
 *                      and prints one line:
 *                      "ed25519_per_s=R1 op_verify_per_s=R2 op_bytes=B n=N"
 *
 * The ops are shaped like those of an imported vCard: a creation op of a person with a
 * few text fields and an audience of three members, about 400 bytes signed, each with its
 * own record id and authored by one of 16 identities (so the verifier's key decoding is
 * not always the same key). Each pass is timed with CLOCK_MONOTONIC after a warm-up of the
 * first 1,000 ops, and the best of three passes is kept. Not part of the test suite: a
 * benchmark, built by scripts/bench-sync against the library (no CMake target).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/identity.h"
#include "kith/error.h"
#include "kith/kith.h"
#include "model/op.h"
#include "model/schema.h"
#include "model/value.h"
#include "util/buf.h"

#define N_AUTHORS 16
#define PASSES    3

static void
die(const char *what)
{
    fprintf(stderr, "bench_verify: %s\n", what);
    exit(1);
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
set_text(kith_op_t *op, const char *name, const char *text)
{
    kith_value_t v;
    memset(&v, 0, sizeof(v));
    if (kith_value_set_str(&v, text, strlen(text)) != KITH_OK ||
        kith_op_set_field(op, name, &v) != KITH_OK) {
        die("set field");
    }
    kith_value_clear(&v);
}

/* make_op: the i-th signed op, appended to out (sig || encoding). */
static void
make_op(size_t i, kith_identity_t *const *authors, kith_buf_t *out)
{
    const kith_identity_t *id = authors[i % N_AUTHORS];
    kith_op_t op;
    kith_op_init(&op);
    uint8_t nonce[8], hash[KITH_HASH_LEN];
    memcpy(nonce, &i, sizeof(i) < sizeof(nonce) ? sizeof(i) : sizeof(nonce));
    kith_op_rec_id_make(id->pk, nonce, op.rec);
    memcpy(op.owner, id->pk, KITH_PK_LEN);
    memcpy(op.author, id->pk, KITH_PK_LEN);
    op.hlc = ((uint64_t) 1764700000000 + i) << 16;
    op.kind = KITH_KIND_PERSON;
    char buf[160];
    snprintf(buf, sizeof(buf), "Ingrid Lind %zu", i);
    set_text(&op, "name", buf);
    set_text(&op, "given", "Ingrid");
    set_text(&op, "family", "Lind");
    set_text(&op, "org", "Analytical Engines");
    set_text(&op, "title", "Director of things");
    snprintf(buf, sizeof(buf), "Met at conference %zu; interested in Northwind.", i % 1000);
    set_text(&op, "note", buf);
    for (int m = 0; m < 3; m++) {
        if (kith_op_add_aud(&op, authors[(i + (size_t) m) % N_AUTHORS]->pk,
                            m == 0 ? KITH_ROLE_EDITOR : KITH_ROLE_READER) != KITH_OK) {
            die("audience");
        }
    }
    if (kith_op_sign(&op, id, out, hash) != KITH_OK) {
        die("sign");
    }
    kith_op_close(&op);
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    if (n < 1000 || n > 10000000) {
        die("usage: bench_verify [N >= 1000]");
    }
    if (kith_init() != KITH_OK) {
        die("kith_init");
    }
    kith_identity_t *authors[N_AUTHORS];
    for (int a = 0; a < N_AUTHORS; a++) {
        if (kith_identity_new(&authors[a]) != KITH_OK) {
            die("identity");
        }
    }
    kith_buf_t *ops = calloc((size_t) n, sizeof(*ops));
    uint8_t(*msgs)[10 + KITH_HASH_LEN] = calloc((size_t) n, sizeof(*msgs));
    if (ops == NULL || msgs == NULL) {
        die("out of memory");
    }
    size_t total = 0;
    for (long i = 0; i < n; i++) {
        kith_buf_init(&ops[i]);
        make_op((size_t) i, authors, &ops[i]);
        total += ops[i].len;
        /* What the author signed: "kith-op-v1" || hash of the encoding (src/model/op.c). */
        memcpy(msgs[i], "kith-op-v1", 10);
        kith_op_hash(ops[i].data + KITH_SIG_LEN, ops[i].len - KITH_SIG_LEN, msgs[i] + 10);
    }

    double best_sig = 0, best_op = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        for (long i = 0; i < 1000; i++) {
            kith_op_t op;
            if (kith_op_verify(ops[i].data, ops[i].len, &op, NULL) != KITH_OK) {
                die("warm-up verify failed");
            }
            kith_op_close(&op);
        }
        double t0 = now_s();
        for (long i = 0; i < n; i++) {
            /* op.author is at a fixed offset in no encoding, so take the key we signed with. */
            const kith_identity_t *id = authors[(size_t) i % N_AUTHORS];
            if (crypto_sign_verify_detached(ops[i].data, msgs[i], sizeof(msgs[i]), id->pk) != 0) {
                die("signature check failed");
            }
        }
        double t1 = now_s();
        for (long i = 0; i < n; i++) {
            kith_op_t op;
            if (kith_op_verify(ops[i].data, ops[i].len, &op, NULL) != KITH_OK) {
                die("kith_op_verify failed");
            }
            kith_op_close(&op);
        }
        double t2 = now_s();
        if ((double) n / (t1 - t0) > best_sig) {
            best_sig = (double) n / (t1 - t0);
        }
        if ((double) n / (t2 - t1) > best_op) {
            best_op = (double) n / (t2 - t1);
        }
    }
    printf("ed25519_per_s=%.0f op_verify_per_s=%.0f op_bytes=%zu n=%ld\n", best_sig, best_op,
           total / (size_t) n, n);

    for (long i = 0; i < n; i++) {
        kith_buf_close(&ops[i]);
    }
    free(ops);
    free(msgs);
    for (int a = 0; a < N_AUTHORS; a++) {
        kith_identity_free(authors[a]);
    }
    return 0;
}
