/*
 * The fold; see fold.h for the rules. Cost: O(n log n) to sort plus O(n * fields).
 */
#include "model/fold.h"

#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "model/schema.h"

static int
cmp_input(const void *pa, const void *pb)
{
    const kith_fold_input_t *a = pa, *b = pb;
    if (a->op->hlc != b->op->hlc) {
        return a->op->hlc < b->op->hlc ? -1 : 1;
    }
    int c = memcmp(a->op->author, b->op->author, KITH_PK_LEN);
    if (c != 0) {
        return c;
    }
    return memcmp(a->hash, b->hash, KITH_HASH_LEN);
}

static int
set_audience(kith_record_t *r, const kith_op_t *op)
{
    kith_aud_t *aud = NULL;
    if (op->n_aud > 0) {
        aud = malloc(op->n_aud * sizeof(*aud));
        if (aud == NULL) {
            return KITH_ENOMEM;
        }
        memcpy(aud, op->aud, op->n_aud * sizeof(*aud));
    }
    free(r->aud);
    r->aud = aud;
    r->n_aud = op->n_aud;
    return KITH_OK;
}

static int
apply_field(kith_record_t *r, const kith_op_t *op, const kith_op_field_t *f)
{
    size_t at = 0;
    while (at < r->n_fields && strcmp(r->fields[at].name, f->name) < 0) {
        at++;
    }
    int exists = at < r->n_fields && strcmp(r->fields[at].name, f->name) == 0;
    if (f->value.type == KITH_V_NIL) {
        if (exists) {
            free(r->fields[at].name);
            kith_value_clear(&r->fields[at].value);
            memmove(&r->fields[at], &r->fields[at + 1],
                    (r->n_fields - at - 1) * sizeof(*r->fields));
            r->n_fields--;
        }
        return KITH_OK;
    }
    if (!exists) {
        kith_rfield_t *p = realloc(r->fields, (r->n_fields + 1) * sizeof(*p));
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        r->fields = p;
        memmove(&r->fields[at + 1], &r->fields[at], (r->n_fields - at) * sizeof(*p));
        memset(&r->fields[at], 0, sizeof(*p));
        r->fields[at].name = strdup(f->name);
        r->n_fields++;
        if (r->fields[at].name == NULL) {
            return KITH_ENOMEM;
        }
    }
    kith_rfield_t *rf = &r->fields[at];
    int rc = kith_value_copy(&rf->value, &f->value);
    rf->private = op->private;
    return rc;
}

/* Finds the owner: the earliest op signed by the owner it names. */
static const uint8_t *
find_owner(const kith_fold_input_t *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(ops[i].op->author, ops[i].op->owner, KITH_PK_LEN) == 0) {
            return ops[i].op->owner;
        }
    }
    return ops[0].op->owner;
}

/* Walks the sorted ops, building r; effective (may be NULL) gets one flag per op. */
static int
walk(const kith_fold_input_t *ops, size_t n, kith_record_t *r, int *effective)
{
    const uint8_t *owner = find_owner(ops, n);
    memcpy(r->id, ops[0].op->rec, KITH_REC_ID_LEN);
    memcpy(r->owner, owner, KITH_PK_LEN);
    r->kind = KITH_KIND_PERSON;
    int kind_set = 0, any_effective = 0;
    for (size_t i = 0; i < n; i++) {
        const kith_op_t *op = ops[i].op;
        if (memcmp(op->owner, owner, KITH_PK_LEN) != 0) {
            if (effective != NULL) {
                effective[i] = 0;
            }
            continue;
        }
        int by_owner = memcmp(op->author, owner, KITH_PK_LEN) == 0;
        int eff = by_owner || kith_record_role(r, op->author) == KITH_ROLE_EDITOR;
        if (effective != NULL) {
            effective[i] = eff;
        }
        if (!eff) {
            continue;
        }
        if (!any_effective) {
            r->created = op->hlc;
            any_effective = 1;
        }
        r->updated = op->hlc;
        if (by_owner) {
            if (op->kind >= 0 && !kind_set) {
                /* The kind is fixed at creation: the first owner op that names it. */
                r->kind = op->kind;
                kind_set = 1;
            }
            if (op->del >= 0) {
                r->deleted = op->del;
            }
            if (op->has_aud) {
                int rc = set_audience(r, op);
                if (rc != KITH_OK) {
                    return rc;
                }
            }
        }
        for (size_t k = 0; k < op->n_set; k++) {
            int rc = apply_field(r, op, &op->set[k]);
            if (rc != KITH_OK) {
                return rc;
            }
        }
    }
    return KITH_OK;
}

int
kith_fold(kith_fold_input_t *ops, size_t n, kith_record_t *out, int *effective)
{
    kith_record_init(out);
    if (n == 0) {
        return KITH_EINVAL;
    }
    for (size_t i = 1; i < n; i++) {
        if (memcmp(ops[i].op->rec, ops[0].op->rec, KITH_REC_ID_LEN) != 0) {
            return KITH_EINVAL;
        }
    }
    qsort(ops, n, sizeof(*ops), cmp_input);
    int rc = walk(ops, n, out, effective);
    if (rc != KITH_OK) {
        kith_record_close(out);
    }
    return rc;
}
