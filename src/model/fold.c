/*
 * The fold; see fold.h and proto/OPS.md "The fold" for the rules.
 *
 * Two passes over the ops in fold order. The first finds the owner and every demotion
 * (an owner audience op that takes editing away from someone), because whether an
 * editor's op counts can depend on a demotion that comes after it. The second walks the
 * ops, applying single-valued fields to the record directly and list fields to working
 * lists of element instances, which become the record's list values at the end.
 *
 * Cost: O(n log n) to sort, O(n * fields) to walk, plus O(instances * removals) for lists
 * (both small: a list holds at most a few hundred items).
 */
#include "model/fold.h"

#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "model/schema.h"

/* One element instance of a list field. */
typedef struct {
    uint8_t id[KITH_ELEM_ID_LEN];
    const char *item; /* points into the op that added it */
} inst_t;

/* A list field of one layer, while the walk builds it. */
typedef struct {
    const char *name; /* points into an op */
    int private;
    inst_t *inst;
    size_t n, cap;
} wlist_t;

/* A demotion: the owner op at position pos stops key from editing; cut (may be NULL:
 * nothing kept) lists the ops of key's that stay effective. */
typedef struct {
    size_t pos;
    const uint8_t *key;
    const kith_cut_t *cut;
} demotion_t;

typedef struct {
    const kith_fold_input_t *ops;
    size_t n;
    const uint8_t *owner;
    demotion_t *dem;
    size_t n_dem;
    wlist_t *lists;
    size_t n_lists;
    /* Element ids removed by effective ops, per layer (0 shared, 1 private): a remove in
     * one layer never touches the other's instances. */
    uint8_t (*tomb[2])[KITH_ELEM_ID_LEN];
    size_t n_tomb[2], cap_tomb[2];
} walk_t;

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
aud_role(const kith_aud_t *aud, size_t n, const uint8_t *key)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(aud[i].key, key, KITH_PK_LEN) == 0) {
            return aud[i].role;
        }
    }
    return 0;
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

static int
is_owner_op(const walk_t *w, const kith_op_t *op)
{
    return memcmp(op->owner, w->owner, KITH_PK_LEN) == 0 &&
           memcmp(op->author, w->owner, KITH_PK_LEN) == 0;
}

/* First pass: the audience timeline of the owner's ops, and the demotions in it. */
static int
find_demotions(walk_t *w)
{
    const kith_aud_t *aud = NULL;
    size_t n_aud = 0;
    for (size_t i = 0; i < w->n; i++) {
        const kith_op_t *op = w->ops[i].op;
        if (!is_owner_op(w, op) || op->private || !op->has_aud) {
            continue;
        }
        for (size_t k = 0; op->version >= 2 && k < n_aud; k++) {
            if (aud[k].role != KITH_ROLE_EDITOR ||
                aud_role(op->aud, op->n_aud, aud[k].key) == KITH_ROLE_EDITOR) {
                continue;
            }
            demotion_t *p = realloc(w->dem, (w->n_dem + 1) * sizeof(*p));
            if (p == NULL) {
                return KITH_ENOMEM;
            }
            w->dem = p;
            demotion_t d = {i, aud[k].key, NULL};
            for (size_t c = 0; c < op->n_cut; c++) {
                if (memcmp(op->cut[c].key, aud[k].key, KITH_PK_LEN) == 0) {
                    d.cut = &op->cut[c];
                }
            }
            w->dem[w->n_dem++] = d;
        }
        aud = op->aud;
        n_aud = op->n_aud;
    }
    return KITH_OK;
}

static int
cmp_cut_hash(const void *a, const void *b)
{
    return memcmp(a, b, KITH_CUT_HASH_LEN);
}

/* 1 unless a later demotion of the op's author leaves it out of its cut. */
static int
survives_demotions(const walk_t *w, size_t pos)
{
    const kith_fold_input_t *in = &w->ops[pos];
    for (size_t d = 0; d < w->n_dem; d++) {
        const demotion_t *dm = &w->dem[d];
        if (dm->pos <= pos || memcmp(dm->key, in->op->author, KITH_PK_LEN) != 0) {
            continue;
        }
        /* The first demotion after the op decides: anything made before it that the owner
         * held is in its cut. */
        return dm->cut != NULL && dm->cut->n_hashes > 0 &&
               bsearch(in->hash, dm->cut->hashes, dm->cut->n_hashes, KITH_CUT_HASH_LEN,
                       cmp_cut_hash) != NULL;
    }
    return 1;
}

/* Keeps r->former up to date as op replaces the audience: whoever the old audience had
 * and the new one lacks was removed by op (hash); whoever the new one has is no longer a
 * former member. */
static int
track_former(kith_record_t *r, const kith_op_t *op, const uint8_t hash[KITH_HASH_LEN])
{
    for (size_t k = 0; k < r->n_former;) {
        if (aud_role(op->aud, op->n_aud, r->former[k].key) != 0) {
            r->former[k] = r->former[--r->n_former];
        } else {
            k++;
        }
    }
    for (size_t m = 0; m < r->n_aud; m++) {
        if (aud_role(op->aud, op->n_aud, r->aud[m].key) != 0 ||
            memcmp(r->aud[m].key, r->owner, KITH_PK_LEN) == 0) {
            continue;
        }
        kith_former_t *p = realloc(r->former, (r->n_former + 1) * sizeof(*p));
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        r->former = p;
        kith_former_t *f = &r->former[r->n_former++];
        memcpy(f->key, r->aud[m].key, KITH_PK_LEN);
        memcpy(f->op, hash, KITH_HASH_LEN);
        f->hlc = op->hlc;
    }
    r->aud_changes++;
    return KITH_OK;
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

/* Where (name, private) is or goes in r->fields; *exists tells which. */
static size_t
field_slot(const kith_record_t *r, const char *name, int private, int *exists)
{
    size_t at = 0;
    while (at < r->n_fields) {
        int c = strcmp(r->fields[at].name, name);
        if (c > 0 || (c == 0 && r->fields[at].private >= private)) {
            break;
        }
        at++;
    }
    *exists = at < r->n_fields && strcmp(r->fields[at].name, name) == 0 &&
              r->fields[at].private == private;
    return at;
}

/* Sets (value non-nil) or removes the field (name, private); takes value's contents. */
static int
put_field(kith_record_t *r, const char *name, int private, kith_value_t *value, kith_elems_t *elems)
{
    int exists;
    size_t at = field_slot(r, name, private, &exists);
    if (value->type == KITH_V_NIL) {
        if (exists) {
            kith_rfield_clear(&r->fields[at]);
            memmove(&r->fields[at], &r->fields[at + 1],
                    (r->n_fields - at - 1) * sizeof(*r->fields));
            r->n_fields--;
        }
        return KITH_OK;
    }
    if (!exists) {
        char *copy = strdup(name);
        kith_rfield_t *p = copy ? realloc(r->fields, (r->n_fields + 1) * sizeof(*p)) : NULL;
        if (p == NULL) {
            free(copy);
            return KITH_ENOMEM;
        }
        r->fields = p;
        memmove(&r->fields[at + 1], &r->fields[at], (r->n_fields - at) * sizeof(*p));
        memset(&r->fields[at], 0, sizeof(*p));
        r->fields[at].name = copy;
        r->fields[at].private = private;
        r->n_fields++;
    }
    kith_rfield_t *f = &r->fields[at];
    char *keep = f->name;
    f->name = NULL;
    kith_rfield_clear(f);
    f->name = keep;
    f->private = private;
    f->value = *value;
    f->elems = elems;
    memset(value, 0, sizeof(*value));
    return KITH_OK;
}

static wlist_t *
get_list(walk_t *w, const char *name, int private)
{
    for (size_t i = 0; i < w->n_lists; i++) {
        if (w->lists[i].private == private && strcmp(w->lists[i].name, name) == 0) {
            return &w->lists[i];
        }
    }
    wlist_t *p = realloc(w->lists, (w->n_lists + 1) * sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    w->lists = p;
    p[w->n_lists] = (wlist_t){name, private, NULL, 0, 0};
    return &p[w->n_lists++];
}

static int
list_add(wlist_t *l, const uint8_t hash[KITH_HASH_LEN], const char *item)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        inst_t *p = realloc(l->inst, cap * sizeof(*p));
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        l->inst = p;
        l->cap = cap;
    }
    kith_op_elem_id(hash, l->name, item, l->inst[l->n].id);
    l->inst[l->n++].item = item;
    return KITH_OK;
}

static int
tomb_add(walk_t *w, int private, const uint8_t id[KITH_ELEM_ID_LEN])
{
    if (w->n_tomb[private] == w->cap_tomb[private]) {
        size_t cap = w->cap_tomb[private] ? w->cap_tomb[private] * 2 : 16;
        uint8_t(*p)[KITH_ELEM_ID_LEN] = realloc(w->tomb[private], cap * KITH_ELEM_ID_LEN);
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        w->tomb[private] = p;
        w->cap_tomb[private] = cap;
    }
    memcpy(w->tomb[private][w->n_tomb[private]++], id, KITH_ELEM_ID_LEN);
    return KITH_OK;
}

/* Applies one effective op's field changes: set, then rm, then add. */
static int
apply_fields(walk_t *w, kith_record_t *r, const kith_fold_input_t *in)
{
    const kith_op_t *op = in->op;
    int private = op->private != 0;
    for (size_t k = 0; k < op->n_set; k++) {
        const kith_op_field_t *f = &op->set[k];
        if (kith_schema_is_list(f->name)) {
            wlist_t *l = get_list(w, f->name, private);
            if (l == NULL) {
                return KITH_ENOMEM;
            }
            l->n = 0; /* a whole-list replace: what came before goes */
            for (size_t i = 0; f->value.type == KITH_V_LIST && i < f->value.n_items; i++) {
                int rc = list_add(l, in->hash, f->value.items[i]);
                if (rc != KITH_OK) {
                    return rc;
                }
            }
            continue;
        }
        kith_value_t v = {0};
        int rc = kith_value_copy(&v, &f->value);
        if (rc == KITH_OK) {
            rc = put_field(r, f->name, private, &v, NULL);
        }
        kith_value_clear(&v);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    for (size_t k = 0; k < op->n_rm; k++) {
        const kith_op_rm_t *rm = &op->rm[k];
        wlist_t *l = get_list(w, rm->name, private);
        if (l == NULL) {
            return KITH_ENOMEM;
        }
        for (size_t i = 0; i < rm->n_ids; i++) {
            int rc = tomb_add(w, private, rm->ids[i]);
            if (rc != KITH_OK) {
                return rc;
            }
        }
    }
    for (size_t k = 0; k < op->n_add; k++) {
        const kith_op_field_t *f = &op->add[k];
        wlist_t *l = get_list(w, f->name, private);
        if (l == NULL) {
            return KITH_ENOMEM;
        }
        for (size_t i = 0; i < f->value.n_items; i++) {
            int rc = list_add(l, in->hash, f->value.items[i]);
            if (rc != KITH_OK) {
                return rc;
            }
        }
    }
    return KITH_OK;
}

static int
cmp_elem_id(const void *a, const void *b)
{
    return memcmp(a, b, KITH_ELEM_ID_LEN);
}

/* Turns one working list into a record field: live instances, each distinct item once in
 * the order first added, at most KITH_VALUE_MAX_ITEMS of them. */
static int
finish_list(walk_t *w, kith_record_t *r, const wlist_t *l)
{
    kith_value_t v = {0};
    kith_elems_t *elems = NULL;
    int rc = KITH_OK;
    for (size_t i = 0; i < l->n && rc == KITH_OK; i++) {
        const inst_t *in = &l->inst[i];
        if (w->n_tomb[l->private] > 0 && bsearch(in->id, w->tomb[l->private], w->n_tomb[l->private],
                                                 KITH_ELEM_ID_LEN, cmp_elem_id) != NULL) {
            continue;
        }
        size_t at = 0;
        while (at < v.n_items && strcmp(v.items[at], in->item) != 0) {
            at++;
        }
        if (at == v.n_items) {
            if (v.n_items == KITH_VALUE_MAX_ITEMS) {
                continue;
            }
            kith_elems_t *p = realloc(elems, (v.n_items + 1) * sizeof(*p));
            if (p == NULL) {
                rc = KITH_ENOMEM;
                break;
            }
            elems = p;
            elems[at] = (kith_elems_t){NULL, 0};
            rc = kith_value_list_append(&v, in->item, strlen(in->item));
            if (rc != KITH_OK) {
                break;
            }
        }
        kith_elems_t *e = &elems[at];
        uint8_t(*ids)[KITH_ELEM_ID_LEN] = realloc(e->ids, (e->n_ids + 1) * KITH_ELEM_ID_LEN);
        if (ids == NULL) {
            rc = KITH_ENOMEM;
            break;
        }
        e->ids = ids;
        memcpy(e->ids[e->n_ids++], in->id, KITH_ELEM_ID_LEN);
    }
    if (rc == KITH_OK) {
        /* Takes v and elems (an empty list is nil: the field goes, and elems is NULL). */
        rc = put_field(r, l->name, l->private, &v, elems);
        if (rc == KITH_OK) {
            return KITH_OK;
        }
    }
    for (size_t i = 0; elems != NULL && i < v.n_items; i++) {
        free(elems[i].ids);
    }
    free(elems);
    kith_value_clear(&v);
    return rc;
}

/* Second pass over the ops at positions [0, upto); effective (may be NULL) gets one flag
 * per op visited. */
static int
walk(walk_t *w, size_t upto, kith_record_t *r, int *effective)
{
    memcpy(r->id, w->ops[0].op->rec, KITH_REC_ID_LEN);
    memcpy(r->owner, w->owner, KITH_PK_LEN);
    r->kind = KITH_KIND_PERSON;
    int kind_set = 0, any_shared = 0;
    for (size_t i = 0; i < upto; i++) {
        const kith_op_t *op = w->ops[i].op;
        int eff = 0;
        if (memcmp(op->owner, w->owner, KITH_PK_LEN) != 0) {
            eff = 0;
        } else if (op->private || is_owner_op(w, op)) {
            eff = 1;
        } else {
            eff = kith_record_role(r, op->author) == KITH_ROLE_EDITOR && survives_demotions(w, i);
        }
        if (effective != NULL) {
            effective[i] = eff;
        }
        if (!eff) {
            continue;
        }
        if (!op->private && !any_shared) {
            r->created = op->hlc;
            any_shared = 1;
        }
        r->updated = op->hlc;
        if (is_owner_op(w, op) && !op->private) {
            if (op->kind >= 0 && !kind_set) {
                /* The kind is fixed at creation: the first owner op that names it. */
                r->kind = op->kind;
                kind_set = 1;
            }
            if (op->del >= 0) {
                r->deleted = op->del;
            }
            if (op->has_aud) {
                int rc = track_former(r, op, w->ops[i].hash);
                if (rc == KITH_OK) {
                    rc = set_audience(r, op);
                }
                if (rc != KITH_OK) {
                    return rc;
                }
            }
        }
        int rc = apply_fields(w, r, &w->ops[i]);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    if (!any_shared && upto > 0) {
        r->created = w->ops[0].op->hlc;
    }
    for (int layer = 0; layer < 2; layer++) {
        if (w->n_tomb[layer] > 1) {
            qsort(w->tomb[layer], w->n_tomb[layer], KITH_ELEM_ID_LEN, cmp_elem_id);
        }
    }
    for (size_t i = 0; i < w->n_lists; i++) {
        int rc = finish_list(w, r, &w->lists[i]);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    return KITH_OK;
}

static void
walk_close(walk_t *w)
{
    for (size_t i = 0; i < w->n_lists; i++) {
        free(w->lists[i].inst);
    }
    free(w->lists);
    free(w->dem);
    free(w->tomb[0]);
    free(w->tomb[1]);
}

int
kith_fold_sorted(const kith_fold_input_t *ops, size_t n, size_t upto, kith_record_t *out,
                 int *effective)
{
    kith_record_init(out);
    if (n == 0 || upto > n) {
        return KITH_EINVAL;
    }
    walk_t w = {.ops = ops, .n = n, .owner = find_owner(ops, n)};
    int rc = find_demotions(&w);
    if (rc == KITH_OK) {
        rc = walk(&w, upto, out, effective);
    }
    walk_close(&w);
    if (rc != KITH_OK) {
        kith_record_close(out);
    }
    return rc;
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
    return kith_fold_sorted(ops, n, n, out, effective);
}

int
kith_fold_cut(kith_op_t *aud_op, const kith_record_t *cur, const kith_fold_input_t *ops, size_t n)
{
    for (size_t k = 0; k < cur->n_aud; k++) {
        const uint8_t *key = cur->aud[k].key;
        if (cur->aud[k].role != KITH_ROLE_EDITOR ||
            aud_role(aud_op->aud, aud_op->n_aud, key) == KITH_ROLE_EDITOR) {
            continue;
        }
        int rc = kith_op_cut_add(aud_op, key, NULL);
        for (size_t i = 0; rc == KITH_OK && i < n; i++) {
            if (!ops[i].op->private && memcmp(ops[i].op->author, key, KITH_PK_LEN) == 0) {
                rc = kith_op_cut_add(aud_op, key, ops[i].hash);
            }
        }
        if (rc != KITH_OK) {
            return rc;
        }
    }
    return KITH_OK;
}
