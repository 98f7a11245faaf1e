/*
 * libFuzzer target for the JSON import (src/formats/opsjson.c): arbitrary bytes as a
 * file given to 'kith import json'. Nothing may crash or leak, and the parser's promises
 * are checked: a failure leaves the result empty with a message; a success holds records
 * of 1 to KITH_OPSJSON_MAX_REC_OPS ops within the file's ops, each longer than a
 * signature and at most KITH_OP_MAX_LEN bytes. Every op of a success then goes through
 * kith_op_verify(), the first step of the importer's receiving path, as it would on
 * import (the seeds in tests/fuzz/corpus/json_import/ hold real, signed exports).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "formats/opsjson.h"
#include "kith/error.h"
#include "model/op.h"

static void
check(int cond)
{
    if (!cond) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        check(sodium_init() >= 0);
        ready = 1;
    }
    kith_opsjson_t f;
    char err[256] = "";
    int rc = kith_opsjson_parse((const char *) data, size, &f, err, sizeof(err));
    if (rc != KITH_OK) {
        check(f.n_recs == 0 && f.n_ops == 0 && f.recs == NULL && f.ops == NULL);
        check(err[0] != '\0');
        check(rc == KITH_EPARSE || rc == KITH_ETOOBIG || rc == KITH_ENOMEM);
        return 0;
    }
    size_t next = 0;
    for (size_t i = 0; i < f.n_recs; i++) {
        check(f.recs[i].first_op == next);
        check(f.recs[i].n_ops >= 1 && f.recs[i].n_ops <= KITH_OPSJSON_MAX_REC_OPS);
        next += f.recs[i].n_ops;
    }
    check(next == f.n_ops);
    for (size_t i = 0; i < f.n_ops; i++) {
        check(f.lens[i] > KITH_SIG_LEN && f.lens[i] <= KITH_OP_MAX_LEN);
        kith_op_t op;
        if (kith_op_verify(f.ops[i], f.lens[i], &op, NULL) == KITH_OK) {
            kith_op_close(&op);
        }
    }
    kith_opsjson_close(&f);
    return 0;
}
