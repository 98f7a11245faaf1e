/*
 * Export and import of a node's records as signed ops; see jsonio.h. There is no rule
 * here about which op may change what: import hands the ops to the store's receiving
 * path (kith_store_apply_remote()), the same one sync uses, and only adds two checks
 * that sync makes elsewhere: every op belongs to the record it is listed under, and a
 * private op was made by this user.
 */
#include "node/jsonio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kith/error.h"
#include "util/errbuf.h"

typedef struct {
    kith_buf_t op;
    uint64_t hlc;
    uint8_t author[KITH_PK_LEN];
    uint8_t hash[KITH_HASH_LEN];
} held_op_t;

typedef struct {
    held_op_t *v;
    size_t n, cap, n_private;
    int with_private;
} collect_t;

static int
collect_op(void *ctx, const uint8_t *signed_op, size_t len, const kith_op_t *op,
           const uint8_t hash[KITH_HASH_LEN])
{
    collect_t *c = ctx;
    if (op->private && !c->with_private) {
        return KITH_OK;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        held_op_t *v = realloc(c->v, cap * sizeof(*v));
        if (v == NULL) {
            return KITH_ENOMEM;
        }
        c->v = v;
        c->cap = cap;
    }
    held_op_t *h = &c->v[c->n];
    kith_buf_init(&h->op);
    int rc = kith_buf_append(&h->op, signed_op, len);
    if (rc != KITH_OK) {
        kith_buf_close(&h->op);
        return rc;
    }
    h->hlc = op->hlc;
    memcpy(h->author, op->author, KITH_PK_LEN);
    memcpy(h->hash, hash, KITH_HASH_LEN);
    c->n_private += op->private != 0;
    c->n++;
    return KITH_OK;
}

/* Fold order (proto/OPS.md, "The fold", step 1). */
static int
cmp_held(const void *a, const void *b)
{
    const held_op_t *x = a, *y = b;
    if (x->hlc != y->hlc) {
        return x->hlc < y->hlc ? -1 : 1;
    }
    int c = memcmp(x->author, y->author, KITH_PK_LEN);
    return c ? c : memcmp(x->hash, y->hash, KITH_HASH_LEN);
}

int
kith_node_record_ops(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN], int with_private,
                     kith_signed_ops_t *out)
{
    memset(out, 0, sizeof(*out));
    collect_t c = {NULL, 0, 0, 0, with_private};
    int rc = kith_store_foreach_op(n->store, id, collect_op, &c);
    if (rc == KITH_OK && c.n > 0 && (out->ops = calloc(c.n, sizeof(*out->ops))) == NULL) {
        rc = KITH_ENOMEM;
    }
    if (rc == KITH_OK) {
        qsort(c.v, c.n, sizeof(*c.v), cmp_held);
        for (size_t i = 0; i < c.n; i++) {
            out->ops[i] = c.v[i].op; /* moved: the buffer now belongs to out */
            kith_buf_init(&c.v[i].op);
        }
        out->n = c.n;
        out->n_private = c.n_private;
    }
    for (size_t i = 0; i < c.n; i++) {
        kith_buf_close(&c.v[i].op);
    }
    free(c.v);
    return rc;
}

void
kith_signed_ops_close(kith_signed_ops_t *o)
{
    for (size_t i = 0; o->ops != NULL && i < o->n; i++) {
        kith_buf_close(&o->ops[i]);
    }
    free(o->ops);
    memset(o, 0, sizeof(*o));
}

typedef struct {
    const char *why; /* the first refusal */
    int has_op;
    uint64_t hlc;
    uint8_t author[KITH_PK_LEN];
    uint8_t rec[KITH_REC_ID_LEN];
} refusal_t;

static void
on_reject(void *ctx, const kith_op_t *op, const char *why)
{
    refusal_t *r = ctx;
    if (r->why != NULL) {
        return;
    }
    r->why = why;
    if (op != NULL) {
        r->has_op = 1;
        r->hlc = op->hlc;
        memcpy(r->author, op->author, KITH_PK_LEN);
        memcpy(r->rec, op->rec, KITH_REC_ID_LEN);
    }
}

/* The 1-based position in rec's ops of the op a refusal names: the one with its hlc and
 * author, or for an op that could not be decoded, the first that does not verify. 0 if
 * none is found. */
static size_t
refused_position(const kith_opsjson_t *f, const kith_opsjson_rec_t *rec, const refusal_t *r)
{
    for (size_t k = 0; k < rec->n_ops; k++) {
        const uint8_t *op = f->ops[rec->first_op + k];
        size_t len = f->lens[rec->first_op + k];
        kith_op_t dec;
        int found;
        if (r->has_op) {
            found = kith_op_decode(op + KITH_SIG_LEN, len - KITH_SIG_LEN, &dec) == KITH_OK;
            if (found) {
                found = dec.hlc == r->hlc && memcmp(dec.author, r->author, KITH_PK_LEN) == 0;
                kith_op_close(&dec);
            }
        } else {
            found = kith_op_verify(op, len, &dec, NULL) != KITH_OK;
            if (!found) {
                kith_op_close(&dec);
            }
        }
        if (found) {
            return k + 1;
        }
    }
    return 0;
}

/* The checks sync makes before the store sees an op (a frame belongs to one record; a
 * private op comes from this user), for the ops of one record in the file. */
static int
check_record(kith_node_t *n, const kith_opsjson_t *f, const kith_opsjson_rec_t *rec, const char *at,
             char *errbuf, size_t errcap)
{
    for (size_t k = 0; k < rec->n_ops; k++) {
        const uint8_t *op = f->ops[rec->first_op + k];
        size_t len = f->lens[rec->first_op + k];
        kith_op_t dec;
        if (kith_op_decode(op + KITH_SIG_LEN, len - KITH_SIG_LEN, &dec) != KITH_OK) {
            kith__errbuf_set(errbuf, errcap, "%s, op %zu: malformed op", at, k + 1);
            return KITH_EAUTH;
        }
        int other_rec = memcmp(dec.rec, rec->id, KITH_REC_ID_LEN) != 0;
        int foreign_private = 0;
        if (dec.private && memcmp(dec.author, n->id->pk, KITH_PK_LEN) != 0) {
            kith_peer_t p;
            foreign_private = 1;
            if (kith_store_peer_get_by_key(n->store, dec.author, &p) == KITH_OK) {
                foreign_private = !p.self;
                kith_peer_close(&p);
            }
        }
        kith_op_close(&dec);
        if (other_rec || foreign_private) {
            kith__errbuf_set(errbuf, errcap, "%s, op %zu: %s", at, k + 1,
                             other_rec ? "belongs to another record"
                                       : "a private op made by someone else (only your own "
                                         "devices' private ops are imported)");
            return KITH_EAUTH;
        }
    }
    return KITH_OK;
}

/* Where a refusal in the records [first, end) of f happened, as "record I (id X), op K:
 * refused: why" in errbuf. */
static void
explain_refusal(const kith_opsjson_t *f, size_t first, size_t end, const refusal_t *r, char *errbuf,
                size_t errcap)
{
    const char *why = r->why ? r->why : "not accepted";
    for (size_t i = first; i < end; i++) {
        const kith_opsjson_rec_t *rec = &f->recs[i];
        if (r->has_op && memcmp(rec->id, r->rec, KITH_REC_ID_LEN) != 0) {
            continue;
        }
        size_t pos = refused_position(f, rec, r);
        if (pos == 0 && !r->has_op) {
            continue;
        }
        char hex[2 * KITH_REC_ID_LEN + 1];
        sodium_bin2hex(hex, sizeof(hex), rec->id, KITH_REC_ID_LEN);
        if (pos > 0) {
            kith__errbuf_set(errbuf, errcap, "record %zu (id %.8s), op %zu: refused: %s", i + 1,
                             hex, pos, why);
        } else {
            kith__errbuf_set(errbuf, errcap, "record %zu (id %.8s): an op was refused: %s", i + 1,
                             hex, why);
        }
        return;
    }
    kith__errbuf_set(errbuf, errcap, "an op was refused: %s", why);
}

/* Ops applied in one call: enough to verify them on several threads, few enough that
 * grouping them by record stays cheap. */
#define IMPORT_BATCH_OPS 512

int
kith_node_import_ops(kith_node_t *n, const kith_opsjson_t *f, kith_import_stats_t *stats,
                     char *errbuf, size_t errcap)
{
    memset(stats, 0, sizeof(*stats));
    stats->records = f->n_recs;
    stats->ops = f->n_ops;
    int rc = kith_store_begin(n->store);
    for (size_t i = 0; rc == KITH_OK && i < f->n_recs;) {
        /* A batch of whole records, each checked first. */
        size_t end = i, n_ops = 0;
        while (rc == KITH_OK && end < f->n_recs &&
               (end == i || n_ops + f->recs[end].n_ops <= IMPORT_BATCH_OPS)) {
            const kith_opsjson_rec_t *rec = &f->recs[end];
            char hex[2 * KITH_REC_ID_LEN + 1], at[64];
            sodium_bin2hex(hex, sizeof(hex), rec->id, KITH_REC_ID_LEN);
            snprintf(at, sizeof(at), "record %zu (id %.8s)", end + 1, hex);
            rc = check_record(n, f, rec, at, errbuf, errcap);
            n_ops += rec->n_ops;
            end++;
        }
        if (rc != KITH_OK) {
            break;
        }
        kith_apply_stats_t st = {0, 0, 0};
        refusal_t refused;
        memset(&refused, 0, sizeof(refused));
        size_t first_op = f->recs[i].first_op;
        rc = kith_store_apply_remote(n->store, n->id->pk, n->id->pk, 1,
                                     (const uint8_t *const *) f->ops + first_op, f->lens + first_op,
                                     n_ops, &st, on_reject, &refused);
        if (rc == KITH_OK && st.rejected > 0) {
            explain_refusal(f, i, end, &refused, errbuf, errcap);
            rc = KITH_EAUTH;
        }
        stats->accepted += st.accepted;
        stats->duplicate += st.duplicate;
        i = end;
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    } else if (rc != KITH_EREADONLY) {
        kith_store_rollback(n->store);
    }
    if (rc != KITH_OK) {
        stats->accepted = 0;
        stats->duplicate = 0;
    }
    return rc;
}
