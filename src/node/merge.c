/*
 * Merging duplicate records and finding them; see merge.h for the rules.
 *
 * A merge is a handful of ordinary edits run inside one store transaction: first every
 * live record that points at B is repointed (A's own links to B are dropped), then B's
 * shared values are added to A, then B's private ones (two edit calls: one field may get
 * both a shared and a private change, and one call changes a field once), then B gets
 * merged_into and its tombstone. Each step re-reads what it changes, so that it sees the
 * steps before it. A dry run does all of it and rolls back.
 *
 * Which value wins and which records pair up are decided by the static functions below
 * (plan_field(), dup_direction(), the keys); they read records and write nothing.
 *
 * Limits: only live records are repointed (a deleted one still pointing at B keeps its
 * link); a reference in a layer the edit path cannot reach (a shared link in a field that
 * is private on that record) is reported, not changed.
 */
#include "node/merge.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kith/error.h"
#include "node/edit.h"
#include "node/match.h"
#include "util/errbuf.h"
#include "util/textfold.h"

#define MERGED_INTO "merged_into"
#define HEX_LEN     (2 * KITH_REC_ID_LEN) /* chars of a record id in hex */

static void
id_hex(const uint8_t id[KITH_REC_ID_LEN], char out[HEX_LEN + 1])
{
    sodium_bin2hex(out, HEX_LEN + 1, id, KITH_REC_ID_LEN);
}

void
kith_merge_result_init(kith_merge_result_t *r)
{
    memset(r, 0, sizeof(*r));
}

void
kith_merge_result_close(kith_merge_result_t *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_added; i++) {
        free(r->added[i].field);
        free(r->added[i].value);
    }
    for (size_t i = 0; i < r->n_conflicts; i++) {
        free(r->conflicts[i].field);
        free(r->conflicts[i].kept);
        free(r->conflicts[i].dropped);
    }
    for (size_t i = 0; i < r->n_refs; i++) {
        free(r->refs[i].name);
    }
    free(r->added);
    free(r->conflicts);
    free(r->refs);
    free(r->missing);
    free(r->newcomers);
    free(r->a_name);
    free(r->b_name);
    memset(r, 0, sizeof(*r));
}

/* Grows *arr (of elements of size sz) by one zeroed element; NULL when out of memory. */
static void *
push(void *arr_ptr, size_t *n, size_t sz)
{
    void **arr = arr_ptr;
    char *p = realloc(*arr, (*n + 1) * sz);
    if (p == NULL) {
        return NULL;
    }
    *arr = p;
    memset(p + *n * sz, 0, sz);
    return p + (*n)++ * sz;
}

/* ---- values as text ------------------------------------------------------------------ */

/* Strings the edits of one step point at, freed together after the step. */
typedef struct {
    char **s;
    size_t n;
} arena_t;

static const char *
arena_dup(arena_t *a, const char *s)
{
    char **slot = push(&a->s, &a->n, sizeof(*a->s));
    if (slot == NULL || (*slot = strdup(s)) == NULL) {
        return NULL;
    }
    return *slot;
}

static void
arena_close(arena_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->s[i]);
    }
    free(a->s);
    memset(a, 0, sizeof(*a));
}

/* A single value as the text an edit takes (and the user reads): numbers in decimal. */
static const char *
value_text(const kith_value_t *v, char num[24])
{
    if (v->type == KITH_V_INT) {
        snprintf(num, 24, "%lld", (long long) v->num);
        return num;
    }
    return v->type == KITH_V_STR ? v->str : "";
}

/* 1 if two items of a list field are the same contact detail: equal, or with the same
 * match key (an e-mail in another case, a LinkedIn URL written differently). */
static int
same_item(const char *field, const char *x, const char *y)
{
    if (strcmp(x, y) == 0) {
        return 1;
    }
    char kx[KITH_MATCH_KEY_MAX], ky[KITH_MATCH_KEY_MAX];
    return kith_match_key(field, x, kx) && kith_match_key(field, y, ky) && strcmp(kx, ky) == 0;
}

static int
list_has(const kith_rfield_t *f, const char *field, const char *item)
{
    for (size_t i = 0; f != NULL && f->value.type == KITH_V_LIST && i < f->value.n_items; i++) {
        if (same_item(field, f->value.items[i], item)) {
            return 1;
        }
    }
    return 0;
}

/* The record id a reference item points at: the value of a REF field, or what follows
 * the last ':' of a relation. NULL for other fields. */
static const char *
ref_target(const char *field, const char *item)
{
    if (strcmp(field, "reports_to") == 0 || strcmp(field, MERGED_INTO) == 0) {
        return item;
    }
    if (strcmp(field, "relations") == 0) {
        const char *colon = strrchr(item, ':');
        return colon ? colon + 1 : NULL;
    }
    return NULL;
}

/* ---- what A gains from one field of B (pure) ------------------------------------------ */

/* The plan for one field of B's layer `private`: the edit (mode, items) that brings it
 * into A, or a conflict. Items already in A (either layer), and links to A or B (they
 * would make A point at itself), are left out. */
typedef struct {
    kith_edit_mode_t mode;
    const char **items; /* into the B record's strings; n_items 0: nothing to do */
    size_t n_items;
    int conflict; /* single value: A holds another */
    int to_private;
} field_plan_t;

static int
plan_field(const kith_record_t *a, const kith_rfield_t *bf, const char *ahex, const char *bhex,
           field_plan_t *p)
{
    memset(p, 0, sizeof(*p));
    const kith_rfield_t *ash = kith_record_field_in(a, bf->name, 0);
    const kith_rfield_t *apr = kith_record_field_in(a, bf->name, 1);
    /* Sticky privacy: an edit of a field private on A goes to A's private layer. */
    p->to_private = bf->private || apr != NULL;
    if (bf->value.type == KITH_V_LIST) {
        p->items = calloc(bf->value.n_items, sizeof(*p->items));
        if (p->items == NULL) {
            return KITH_ENOMEM;
        }
        for (size_t i = 0; i < bf->value.n_items; i++) {
            const char *it = bf->value.items[i];
            const char *t = ref_target(bf->name, it);
            if (t != NULL && (strcmp(t, ahex) == 0 || strcmp(t, bhex) == 0)) {
                continue;
            }
            if (list_has(ash, bf->name, it) || list_has(apr, bf->name, it)) {
                continue;
            }
            p->items[p->n_items++] = it;
        }
        /* A private item goes to A's private list: added to it if A has one, else it
         * becomes it (a private set). */
        p->mode = bf->private && apr == NULL ? KITH_EDIT_PRIVATE : KITH_EDIT_ADD;
        return KITH_OK;
    }
    char num[24];
    const char *v = value_text(&bf->value, num);
    const char *t = ref_target(bf->name, v);
    if (t != NULL && (strcmp(t, ahex) == 0 || strcmp(t, bhex) == 0)) {
        return KITH_OK;
    }
    if (ash != NULL || apr != NULL) {
        p->conflict = !((ash && kith_value_equal(&ash->value, &bf->value)) ||
                        (apr && kith_value_equal(&apr->value, &bf->value)));
        return KITH_OK;
    }
    p->mode = bf->private ? KITH_EDIT_PRIVATE : KITH_EDIT_SET;
    p->n_items = 1;
    return KITH_OK;
}

/* ---- one merge step ------------------------------------------------------------------ */

typedef struct {
    kith_node_t *node;
    uint64_t now_ms;
    char *errbuf;
    size_t errcap;
    kith_merge_result_t *res;
    char ahex[HEX_LEN + 1], bhex[HEX_LEN + 1];
} merge_t;

/* Reads record id as it stands in the transaction. */
static int
reread(merge_t *m, const uint8_t id[KITH_REC_ID_LEN], kith_record_t *r)
{
    kith_record_close(r);
    kith_record_init(r);
    return kith_store_record_get(m->node->store, id, r);
}

static int
apply(merge_t *m, const kith_record_t *r, const kith_edit_t *edits, size_t n_edits)
{
    if (n_edits == 0) {
        return KITH_OK;
    }
    return kith__node_edit_in_txn(m->node, r, edits, n_edits, m->now_ms, NULL, m->errbuf,
                                  m->errcap);
}

static int
note_added(merge_t *m, const char *field, const char *value, int private)
{
    kith_merge_item_t *it = push(&m->res->added, &m->res->n_added, sizeof(*it));
    if (it == NULL || (it->field = strdup(field)) == NULL || (it->value = strdup(value)) == NULL) {
        return KITH_ENOMEM;
    }
    it->private = private;
    return KITH_OK;
}

static int
note_conflict(merge_t *m, const kith_record_t *a, const kith_rfield_t *bf)
{
    const kith_rfield_t *af = kith_record_field(a, bf->name);
    char n1[24], n2[24];
    kith_merge_conflict_t *c = push(&m->res->conflicts, &m->res->n_conflicts, sizeof(*c));
    if (c == NULL || (c->field = strdup(bf->name)) == NULL ||
        (c->kept = strdup(value_text(&af->value, n1))) == NULL ||
        (c->dropped = strdup(value_text(&bf->value, n2))) == NULL) {
        return KITH_ENOMEM;
    }
    c->private = bf->private;
    return KITH_OK;
}

/* Adds the fields of one layer of B to A (re-read first). */
static int
merge_layer(merge_t *m, const kith_record_t *b, int private)
{
    kith_record_t a;
    kith_record_init(&a);
    size_t cap = b->n_fields ? b->n_fields : 1;
    kith_edit_t *edits = calloc(cap, sizeof(*edits));
    field_plan_t *plans = calloc(cap, sizeof(*plans));
    arena_t strs = {0};
    size_t n_edits = 0;
    int rc = edits && plans ? reread(m, m->res->a, &a) : KITH_ENOMEM;
    for (size_t i = 0; rc == KITH_OK && i < b->n_fields; i++) {
        const kith_rfield_t *bf = &b->fields[i];
        if (bf->private != private || strcmp(bf->name, MERGED_INTO) == 0) {
            continue;
        }
        field_plan_t *p = &plans[i];
        rc = plan_field(&a, bf, m->ahex, m->bhex, p);
        if (rc == KITH_OK && p->conflict) {
            rc = note_conflict(m, &a, bf);
        }
        if (rc != KITH_OK || p->n_items == 0) {
            continue;
        }
        if (bf->value.type != KITH_V_LIST) {
            char num[24];
            p->items = malloc(sizeof(*p->items));
            if (p->items == NULL ||
                (p->items[0] = arena_dup(&strs, value_text(&bf->value, num))) == NULL) {
                rc = KITH_ENOMEM;
                break;
            }
        }
        edits[n_edits++] = (kith_edit_t){bf->name, p->mode, p->items, p->n_items};
        for (size_t k = 0; k < p->n_items && rc == KITH_OK; k++) {
            rc = note_added(m, bf->name, p->items[k], p->to_private);
        }
    }
    if (rc == KITH_OK) {
        rc = apply(m, &a, edits, n_edits);
    }
    for (size_t i = 0; plans != NULL && i < b->n_fields; i++) {
        free(plans[i].items);
    }
    free(plans);
    free(edits);
    arena_close(&strs);
    kith_record_close(&a);
    return rc;
}

/* ---- references to B ------------------------------------------------------------------ */

typedef struct {
    const char *bhex;
    uint8_t (*ids)[KITH_REC_ID_LEN];
    size_t n;
} referrers_t;

static int
points_at(const kith_rfield_t *f, const char *hex)
{
    if (f == NULL) {
        return 0;
    }
    if (f->value.type == KITH_V_STR) {
        const char *t = ref_target(f->name, f->value.str);
        return t != NULL && strcmp(t, hex) == 0;
    }
    for (size_t i = 0; f->value.type == KITH_V_LIST && i < f->value.n_items; i++) {
        const char *t = ref_target(f->name, f->value.items[i]);
        if (t != NULL && strcmp(t, hex) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
find_referrer(void *ctx, const kith_record_t *r)
{
    referrers_t *rf = ctx;
    for (size_t i = 0; i < r->n_fields; i++) {
        const kith_rfield_t *f = &r->fields[i];
        if ((strcmp(f->name, "reports_to") == 0 || strcmp(f->name, "relations") == 0) &&
            points_at(f, rf->bhex)) {
            uint8_t(*slot)[KITH_REC_ID_LEN] = push(&rf->ids, &rf->n, sizeof(*rf->ids));
            if (slot == NULL) {
                return KITH_ENOMEM;
            }
            memcpy(*slot, r->id, KITH_REC_ID_LEN);
            return KITH_OK;
        }
    }
    return KITH_OK;
}

static int
note_ref(merge_t *m, const kith_record_t *r, const char *field, const char *why)
{
    kith_merge_ref_t *x = push(&m->res->refs, &m->res->n_refs, sizeof(*x));
    if (x == NULL || (x->name = strdup(kith_record_name(r))) == NULL) {
        return KITH_ENOMEM;
    }
    memcpy(x->id, r->id, KITH_REC_ID_LEN);
    snprintf(x->field, sizeof(x->field), "%s", field);
    x->repointed = why == NULL;
    x->why = why;
    return KITH_OK;
}

/* The layer an edit of field on r goes to (private when the field has a private value
 * there: sticky), and why a link to B in it cannot be changed here (NULL if it can). */
static const char *
reachable(kith_node_t *n, const kith_record_t *r, const char *field, int *layer)
{
    *layer = kith_record_field_in(r, field, 1) != NULL;
    if (*layer == 0 && kith_record_role(r, n->id->pk) != KITH_ROLE_EDITOR) {
        return "you cannot edit it (read-only, or no longer shared with you)";
    }
    return NULL;
}

/* Repoints one record's links to B at A: the first call sets reports_to and removes the
 * relations naming B, the second adds the same relations naming A (one call changes a
 * field once). A itself only loses its links to B. */
static int
repoint(merge_t *m, const uint8_t id[KITH_REC_ID_LEN])
{
    kith_record_t r;
    kith_record_init(&r);
    kith_edit_t first[2], second[1];
    size_t n_first = 0, n_second = 0, n_rm = 0, n_add = 0;
    const char *to_a[1] = {m->ahex};
    const char **rm_items = NULL, **add_items = NULL;
    arena_t strs = {0};
    int is_a = memcmp(id, m->res->a, KITH_REC_ID_LEN) == 0;
    int rc = reread(m, id, &r);
    static const char *const fields[] = {"reports_to", "relations"};
    for (size_t fi = 0; fi < 2 && rc == KITH_OK; fi++) {
        const char *field = fields[fi];
        int layer;
        const char *why = reachable(m->node, &r, field, &layer);
        const kith_rfield_t *reach = kith_record_field_in(&r, field, layer);
        if (points_at(kith_record_field_in(&r, field, !layer), m->bhex)) {
            rc = note_ref(m, &r, field,
                          "the link is in the shared record, and the field is private here");
        }
        if (rc != KITH_OK || !points_at(reach, m->bhex)) {
            continue;
        }
        if (why != NULL) {
            rc = note_ref(m, &r, field, why);
            continue;
        }
        if (fi == 0) {
            first[n_first++] = is_a ? (kith_edit_t){field, KITH_EDIT_UNSET, NULL, 0}
                                    : (kith_edit_t){field, KITH_EDIT_SET, to_a, 1};
            rc = note_ref(m, &r, field, NULL);
            continue;
        }
        size_t cap = reach->value.n_items;
        rm_items = calloc(cap, sizeof(*rm_items));
        add_items = calloc(cap, sizeof(*add_items));
        if (rm_items == NULL || add_items == NULL) {
            rc = KITH_ENOMEM;
            break;
        }
        for (size_t i = 0; i < cap && rc == KITH_OK; i++) {
            const char *it = reach->value.items[i];
            const char *t = ref_target(field, it);
            if (t == NULL || strcmp(t, m->bhex) != 0) {
                continue;
            }
            rm_items[n_rm++] = it;
            /* The same relation, naming A: "TYPE:" then A's id. */
            size_t type_len = (size_t) (t - it);
            char *moved = malloc(type_len + HEX_LEN + 1);
            if (moved == NULL) {
                rc = KITH_ENOMEM;
                break;
            }
            memcpy(moved, it, type_len);
            memcpy(moved + type_len, m->ahex, HEX_LEN + 1);
            int have = is_a || list_has(reach, field, moved);
            for (size_t k = 0; k < n_add && !have; k++) {
                have = strcmp(add_items[k], moved) == 0;
            }
            if (!have) {
                add_items[n_add] = arena_dup(&strs, moved);
                rc = add_items[n_add++] ? KITH_OK : KITH_ENOMEM;
            }
            free(moved);
        }
        first[n_first++] = (kith_edit_t){field, KITH_EDIT_REMOVE, rm_items, n_rm};
        if (n_add > 0) {
            second[n_second++] = (kith_edit_t){field, KITH_EDIT_ADD, add_items, n_add};
        }
        rc = rc == KITH_OK ? note_ref(m, &r, field, NULL) : rc;
    }
    if (rc == KITH_OK) {
        rc = apply(m, &r, first, n_first);
    }
    if (rc == KITH_OK && n_second > 0) {
        rc = reread(m, id, &r);
        if (rc == KITH_OK) {
            rc = apply(m, &r, second, n_second);
        }
    }
    free(rm_items);
    free(add_items);
    arena_close(&strs);
    kith_record_close(&r);
    return rc;
}

/* ---- sharing ------------------------------------------------------------------------- */

typedef struct {
    kith_merge_share_t *v;
    size_t n;
} specs_t;

static int
collect_spec(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const kith_share_target_t *target,
             int role)
{
    (void) id;
    specs_t *s = ctx;
    kith_merge_share_t *x = push(&s->v, &s->n, sizeof(*s->v));
    if (x == NULL) {
        return KITH_ENOMEM;
    }
    x->target = *target;
    x->role = role;
    return KITH_OK;
}

static int
in_aud(const kith_record_t *r, const uint8_t key[KITH_PK_LEN])
{
    if (memcmp(r->owner, key, KITH_PK_LEN) == 0) {
        return 1;
    }
    for (size_t i = 0; i < r->n_aud; i++) {
        if (memcmp(r->aud[i].key, key, KITH_PK_LEN) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Who saw B and does not get A, and who gets A and did not see B. With A ours, B's share
 * specs are compared with A's (a group stays a group, so the suggestion follows it); with
 * A another's, the audiences are compared. */
static int
compare_sharing(merge_t *m, const kith_record_t *a, const kith_record_t *b)
{
    kith_merge_result_t *res = m->res;
    specs_t as = {0}, bs = {0};
    int rc = KITH_OK;
    if (res->a_owned) {
        rc = kith_store_share_foreach(m->node->store, b->id, collect_spec, &bs);
        if (rc == KITH_OK) {
            rc = kith_store_share_foreach(m->node->store, a->id, collect_spec, &as);
        }
        for (size_t i = 0; i < bs.n && rc == KITH_OK; i++) {
            int have = 0;
            for (size_t k = 0; k < as.n && !have; k++) {
                have = kith_share_target_eq(&bs.v[i].target, &as.v[k].target);
            }
            kith_merge_share_t *x = have ? NULL : push(&res->missing, &res->n_missing, sizeof(*x));
            if (!have && x == NULL) {
                rc = KITH_ENOMEM;
            } else if (!have) {
                *x = bs.v[i];
            }
        }
    } else {
        for (size_t i = 0; i < b->n_aud && rc == KITH_OK; i++) {
            if (in_aud(a, b->aud[i].key)) {
                continue;
            }
            kith_merge_share_t *x = push(&res->missing, &res->n_missing, sizeof(*x));
            if (x == NULL) {
                rc = KITH_ENOMEM;
                break;
            }
            memcpy(x->target.key, b->aud[i].key, KITH_PK_LEN);
            x->role = b->aud[i].role;
        }
    }
    /* A's readers: its audience and its owner, this node aside. */
    for (size_t i = 0; i <= a->n_aud && rc == KITH_OK; i++) {
        const uint8_t *key = i < a->n_aud ? a->aud[i].key : a->owner;
        if (memcmp(key, m->node->id->pk, KITH_PK_LEN) == 0 || in_aud(b, key)) {
            continue;
        }
        uint8_t(*x)[KITH_PK_LEN] = push(&res->newcomers, &res->n_newcomers, sizeof(*x));
        if (x == NULL) {
            rc = KITH_ENOMEM;
            break;
        }
        memcpy(*x, key, KITH_PK_LEN);
    }
    free(as.v);
    free(bs.v);
    return rc;
}

/* ---- the merge ----------------------------------------------------------------------- */

/* The refusals, each with a sentence naming the records (never a value). */
static int
check_merge(kith_node_t *n, const kith_record_t *a, const kith_record_t *b, int flags, char *errbuf,
            size_t errcap)
{
    if (memcmp(a->id, b->id, KITH_REC_ID_LEN) == 0) {
        kith__errbuf_set(errbuf, errcap, "cannot merge '%s' into itself", kith_record_name(a));
        return KITH_EINVAL;
    }
    if (a->deleted || b->deleted) {
        kith__errbuf_set(errbuf, errcap, "'%s' is deleted; restore it first to merge it",
                         kith_record_name(a->deleted ? a : b));
        return KITH_ENOTFOUND;
    }
    if (memcmp(b->owner, n->id->pk, KITH_PK_LEN) != 0) {
        kith__errbuf_set(errbuf, errcap,
                         "'%s' is not yours: only its owner can merge it away (it gets deleted); "
                         "merge the other way round, or ask its owner",
                         kith_record_name(b));
        return KITH_EAUTH;
    }
    if (kith_record_role(a, n->id->pk) != KITH_ROLE_EDITOR) {
        kith__errbuf_set(
            errbuf, errcap, "you cannot edit '%s' (%s), so nothing can be merged into it",
            kith_record_name(a),
            kith_record_role(a, n->id->pk) == KITH_ROLE_READER ? "it is shared with you read-only"
                                                               : "it is no longer shared with you");
        return KITH_EAUTH;
    }
    if (a->kind != b->kind && !(flags & KITH_MERGE_FORCE)) {
        kith__errbuf_set(
            errbuf, errcap,
            "'%s' is %s and '%s' is %s: refusing to merge a person and an "
            "organisation (--force does it anyway)",
            kith_record_name(b), b->kind == KITH_KIND_ORG ? "an organisation" : "a person",
            kith_record_name(a), a->kind == KITH_KIND_ORG ? "an organisation" : "a person");
        return KITH_EINVAL;
    }
    return KITH_OK;
}

static int
merge_body(merge_t *m, int flags)
{
    kith_node_t *n = m->node;
    kith_merge_result_t *res = m->res;
    kith_record_t a, b;
    kith_record_init(&a);
    kith_record_init(&b);
    referrers_t rf = {m->bhex, NULL, 0};
    int rc = kith_store_record_get(n->store, res->a, &a);
    if (rc == KITH_OK) {
        rc = kith_store_record_get(n->store, res->b, &b);
    }
    if (rc == KITH_ENOTFOUND) {
        kith__errbuf_set(m->errbuf, m->errcap, "no such record");
    }
    if (rc == KITH_OK) {
        rc = check_merge(n, &a, &b, flags, m->errbuf, m->errcap);
    }
    if (rc == KITH_OK) {
        res->a_owned = memcmp(a.owner, n->id->pk, KITH_PK_LEN) == 0;
        if ((res->a_name = strdup(kith_record_name(&a))) == NULL ||
            (res->b_name = strdup(kith_record_name(&b))) == NULL) {
            rc = KITH_ENOMEM;
        }
    }
    if (rc == KITH_OK) {
        rc = compare_sharing(m, &a, &b);
    }
    /* Links first, so that A's own link to B is gone before B's values come in. */
    if (rc == KITH_OK) {
        rc = kith_store_foreach_record(n->store, find_referrer, &rf);
    }
    for (size_t i = 0; i < rf.n && rc == KITH_OK; i++) {
        if (memcmp(rf.ids[i], res->b, KITH_REC_ID_LEN) != 0) {
            rc = repoint(m, rf.ids[i]);
        }
    }
    if (rc == KITH_OK) {
        rc = merge_layer(m, &b, 0);
    }
    if (rc == KITH_OK) {
        rc = merge_layer(m, &b, 1);
    }
    /* B says where it went, then goes: a shared set by its owner, then the tombstone. */
    if (rc == KITH_OK) {
        rc = reread(m, res->b, &b);
    }
    /* A private merged_into (typed by hand) would make the set private too (sticky), and
     * B's holders would never learn where it went: it goes first. */
    if (rc == KITH_OK && kith_record_field_in(&b, MERGED_INTO, 1) != NULL) {
        kith_edit_t unset = {MERGED_INTO, KITH_EDIT_UNSET, NULL, 0};
        rc = apply(m, &b, &unset, 1);
        rc = rc == KITH_OK ? reread(m, res->b, &b) : rc;
    }
    if (rc == KITH_OK) {
        const char *to_a[1] = {m->ahex};
        kith_edit_t set = {MERGED_INTO, KITH_EDIT_SET, to_a, 1};
        rc = apply(m, &b, &set, 1);
    }
    if (rc == KITH_OK) {
        rc = kith__node_set_deleted_in_txn(n, res->b, 1, m->now_ms);
    }
    free(rf.ids);
    kith_record_close(&a);
    kith_record_close(&b);
    return rc;
}

int
kith_node_merge(kith_node_t *n, const uint8_t a[static KITH_REC_ID_LEN],
                const uint8_t b[static KITH_REC_ID_LEN], int flags, uint64_t now_ms,
                kith_merge_result_t *res, char *errbuf, size_t errcap)
{
    merge_t m = {n, now_ms, errbuf, errcap, res, "", ""};
    kith_merge_result_close(res);
    memcpy(res->a, a, KITH_REC_ID_LEN);
    memcpy(res->b, b, KITH_REC_ID_LEN);
    id_hex(a, m.ahex);
    id_hex(b, m.bhex);
    int rc = kith_store_begin(n->store);
    if (rc != KITH_OK) {
        return rc;
    }
    rc = merge_body(&m, flags);
    if (rc == KITH_OK && !(flags & KITH_MERGE_DRY_RUN)) {
        rc = kith_store_commit(n->store);
        if (rc == KITH_OK) {
            return KITH_OK;
        }
    }
    kith_store_rollback(n->store);
    return rc;
}

/* ---- duplicates ---------------------------------------------------------------------- */

/* What the search keeps of each live record: enough to pair and to suggest. */
typedef struct dup_rec {
    uint8_t id[KITH_REC_ID_LEN];
    char *name;  /* display name */
    char *fname; /* folded name, "" if the record has none */
    char *forg;  /* folded org field, or NULL */
    uint8_t employer[KITH_REC_ID_LEN];
    int has_employer;
    int kind;
    int owned, editable;
    uint64_t created;
} dup_rec_t;

/* One key of one record: "e:mail", "l:linkedin-url", "n:kind:name\x01org". */
typedef struct {
    char *key;
    uint32_t rec;
} dup_key_t;

typedef struct {
    uint32_t lo, hi; /* record indices, lo < hi */
    int reasons;
    const char *detail; /* a key of keys[], or NULL */
    /* Set once the pair is known: the suggested direction, for sorting and output. */
    const struct dup_rec *a, *b;
    int mergeable;
} dup_pair_t;

typedef struct {
    kith_node_t *node;
    dup_rec_t *recs;
    size_t n_recs, cap_recs;
    dup_key_t *keys;
    size_t n_keys, cap_keys;
} dup_scan_t;

/* text folded (case, accents), white space trimmed and collapsed to one space, as a new
 * string; NULL when out of memory. */
static char *
fold_text(const char *text)
{
    kith_buf_t b;
    kith_buf_init(&b);
    if (kith_textfold(text, strlen(text), &b) != KITH_OK || kith_buf_append(&b, "", 1) != KITH_OK) {
        kith_buf_close(&b);
        return NULL;
    }
    char *s = (char *) b.data;
    size_t w = 0;
    for (size_t r = 0; s[r] != '\0'; r++) {
        int space = s[r] == ' ' || s[r] == '\t' || s[r] == '\n' || s[r] == '\r';
        if (space && (w == 0 || s[w - 1] == ' ')) {
            continue;
        }
        s[w++] = space ? ' ' : s[r];
    }
    while (w > 0 && s[w - 1] == ' ') {
        w--;
    }
    s[w] = '\0';
    char *out = strdup(s);
    kith_buf_close(&b);
    return out;
}

static int
add_key(dup_scan_t *sc, const char *key, uint32_t rec)
{
    if (sc->n_keys == sc->cap_keys) {
        size_t cap = sc->cap_keys ? 2 * sc->cap_keys : 1024;
        dup_key_t *k = realloc(sc->keys, cap * sizeof(*k));
        if (k == NULL) {
            return KITH_ENOMEM;
        }
        sc->keys = k;
        sc->cap_keys = cap;
    }
    if ((sc->keys[sc->n_keys].key = strdup(key)) == NULL) {
        return KITH_ENOMEM;
    }
    sc->keys[sc->n_keys++].rec = rec;
    return KITH_OK;
}

static int
hex_id(const char *hex, uint8_t id[KITH_REC_ID_LEN])
{
    size_t len = 0;
    return sodium_hex2bin(id, KITH_REC_ID_LEN, hex, strlen(hex), NULL, &len, NULL) == 0 &&
           len == KITH_REC_ID_LEN;
}

static int
scan_record(void *ctx, const kith_record_t *r)
{
    dup_scan_t *sc = ctx;
    if (sc->n_recs == sc->cap_recs) {
        size_t cap = sc->cap_recs ? 2 * sc->cap_recs : 1024;
        dup_rec_t *v = realloc(sc->recs, cap * sizeof(*v));
        if (v == NULL) {
            return KITH_ENOMEM;
        }
        sc->recs = v;
        sc->cap_recs = cap;
    }
    uint32_t idx = (uint32_t) sc->n_recs;
    dup_rec_t *d = &sc->recs[sc->n_recs++];
    memset(d, 0, sizeof(*d));
    memcpy(d->id, r->id, KITH_REC_ID_LEN);
    d->kind = r->kind;
    d->created = r->created;
    d->owned = memcmp(r->owner, sc->node->id->pk, KITH_PK_LEN) == 0;
    d->editable = kith_record_role(r, sc->node->id->pk) == KITH_ROLE_EDITOR;
    const kith_rfield_t *name = kith_record_field(r, "name");
    const kith_rfield_t *org = kith_record_field(r, "org");
    d->name = strdup(kith_record_name(r));
    d->fname = fold_text(name && name->value.type == KITH_V_STR ? name->value.str : "");
    if (d->name == NULL || d->fname == NULL) {
        return KITH_ENOMEM;
    }
    if (org != NULL && org->value.type == KITH_V_STR &&
        (d->forg = fold_text(org->value.str)) == NULL) {
        return KITH_ENOMEM;
    }
    char key[KITH_MATCH_KEY_MAX];
    int rc = KITH_OK;
    for (size_t i = 0; i < r->n_fields && rc == KITH_OK; i++) {
        const kith_rfield_t *f = &r->fields[i];
        int rel = strcmp(f->name, "relations") == 0;
        if (f->value.type != KITH_V_LIST ||
            !(rel || strcmp(f->name, "emails") == 0 || strcmp(f->name, "urls") == 0)) {
            continue;
        }
        for (size_t k = 0; k < f->value.n_items && rc == KITH_OK; k++) {
            const char *it = f->value.items[k];
            if (rel) {
                const char *colon = strrchr(it, ':');
                if (!d->has_employer && colon != NULL && (size_t) (colon - it) == 8 &&
                    strncasecmp(it, "employer", 8) == 0) {
                    d->has_employer = hex_id(colon + 1, d->employer);
                }
            } else if (kith_match_key(f->name, it, key)) {
                rc = add_key(sc, key, idx);
            }
        }
    }
    return rc;
}

/* A record id and its index in the scan, for looking records up by id. */
typedef struct {
    uint8_t id[KITH_REC_ID_LEN];
    uint32_t rec;
} dup_byid_t;

static int
cmp_byid(const void *x, const void *y)
{
    return memcmp(((const dup_byid_t *) x)->id, ((const dup_byid_t *) y)->id, KITH_REC_ID_LEN);
}

static int
cmp_key(const void *x, const void *y)
{
    const dup_key_t *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    return c ? c : (a->rec > b->rec) - (a->rec < b->rec);
}

static int
cmp_pair(const void *x, const void *y)
{
    const dup_pair_t *a = x, *b = y;
    if (a->lo != b->lo) {
        return a->lo < b->lo ? -1 : 1;
    }
    return (a->hi > b->hi) - (a->hi < b->hi);
}

/* The organisation of a person, folded: the org field, else the name of the record its
 * employer relation names (if held). byid is the records' indices sorted by id. */
static const char *
org_of(const dup_scan_t *sc, const dup_rec_t *d, const dup_byid_t *byid)
{
    if (d->forg != NULL && d->forg[0] != '\0') {
        return d->forg;
    }
    if (!d->has_employer) {
        return NULL;
    }
    size_t lo = 0, hi = sc->n_recs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(byid[mid].id, d->employer, KITH_REC_ID_LEN);
        if (c == 0) {
            const char *n = sc->recs[byid[mid].rec].fname;
            return n[0] != '\0' ? n : NULL;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* The name key of a record: people by name and organisation, organisations by name. */
static int
name_key(const dup_scan_t *sc, uint32_t i, const dup_byid_t *byid, kith_buf_t *key)
{
    const dup_rec_t *d = &sc->recs[i];
    if (d->fname[0] == '\0') {
        return 0;
    }
    const char *org = d->kind == KITH_KIND_ORG ? "" : org_of(sc, d, byid);
    if (org == NULL) {
        return 0;
    }
    key->len = 0;
    return kith_buf_printf(key, "n:%s\001%s", d->fname, org) == KITH_OK;
}

/* Which way round to suggest a pair: B must be this node's (it is deleted), A editable.
 * Both ours: the older stays. One ours: it is the one merged away. Neither: the older,
 * not mergeable here. Returns 1 if x should be A. */
static int
dup_direction(const dup_rec_t *x, const dup_rec_t *y, int *mergeable)
{
    int x_first;
    if (x->owned != y->owned) {
        x_first = y->owned;
    } else {
        x_first = x->created != y->created ? x->created < y->created
                                           : memcmp(x->id, y->id, KITH_REC_ID_LEN) < 0;
    }
    const dup_rec_t *a = x_first ? x : y, *b = x_first ? y : x;
    *mergeable = b->owned && a->editable;
    return x_first;
}

/* Reason of a key, by its kind letter. */
static int
key_reason(const char *key)
{
    return key[0] == 'e' ? KITH_DUP_EMAIL : key[0] == 'l' ? KITH_DUP_LINKEDIN : KITH_DUP_NAME;
}

#define RUN_ALL_PAIRS 16 /* records sharing one key: all pairs up to this many, else a star */

static int
emit_pairs(dup_pair_t **pairs, size_t *n, size_t *cap, const dup_scan_t *sc, size_t first,
           size_t end)
{
    /* Distinct records of the run (keys are sorted by record within one key). */
    size_t k = 0;
    uint32_t recs[RUN_ALL_PAIRS + 1];
    int star = 0;
    for (size_t i = first; i < end; i++) {
        if (i > first && sc->keys[i].rec == sc->keys[i - 1].rec) {
            continue;
        }
        if (k == RUN_ALL_PAIRS + 1) {
            star = 1;
            break;
        }
        recs[k++] = sc->keys[i].rec;
    }
    /* A key held by many records (a shared mailbox) pairs the first with each other. */
    size_t last_rec = (size_t) -1;
    for (size_t i = first; i < end; i++) {
        uint32_t r = sc->keys[i].rec;
        if (r == last_rec) {
            continue;
        }
        last_rec = r;
        size_t lim = star ? 1 : k;
        for (size_t j = 0; j < lim; j++) {
            uint32_t o = recs[j];
            if (o >= r || sc->recs[o].kind != sc->recs[r].kind) {
                continue;
            }
            if (*n == *cap) {
                size_t c = *cap ? 2 * *cap : 256;
                dup_pair_t *p = realloc(*pairs, c * sizeof(*p));
                if (p == NULL) {
                    return KITH_ENOMEM;
                }
                *pairs = p;
                *cap = c;
            }
            const char *key = sc->keys[first].key;
            (*pairs)[(*n)++] = (dup_pair_t){
                .lo = o, .hi = r, .reasons = key_reason(key), .detail = key[0] == 'n' ? NULL : key};
        }
    }
    return KITH_OK;
}

/* Pairs in the order they are listed: by the folded name of A, then the ids. */
static int
cmp_listed(const void *x, const void *y)
{
    const dup_pair_t *p = x, *q = y;
    int c = strcmp(p->a->fname, q->a->fname);
    if (c == 0) {
        c = memcmp(p->a->id, q->a->id, KITH_REC_ID_LEN);
    }
    return c ? c : memcmp(p->b->id, q->b->id, KITH_REC_ID_LEN);
}

void
kith_dups_free(kith_dup_t *d, size_t n)
{
    for (size_t i = 0; d != NULL && i < n; i++) {
        free(d[i].a_name);
        free(d[i].b_name);
        free(d[i].detail);
    }
    free(d);
}

int
kith_node_duplicates(kith_node_t *n, kith_dup_t **out, size_t *n_out)
{
    dup_scan_t sc = {n, NULL, 0, 0, NULL, 0, 0};
    dup_byid_t *byid = NULL;
    dup_pair_t *pairs = NULL;
    size_t n_pairs = 0, cap_pairs = 0, n_dups = 0;
    kith_dup_t *dups = NULL;
    kith_buf_t key;
    kith_buf_init(&key);
    *out = NULL;
    *n_out = 0;
    int rc = kith_store_foreach_record(n->store, scan_record, &sc);
    if (rc == KITH_OK && sc.n_recs > UINT32_MAX) {
        rc = KITH_ETOOBIG;
    }
    if (rc == KITH_OK) {
        byid = malloc((sc.n_recs ? sc.n_recs : 1) * sizeof(*byid));
        rc = byid ? KITH_OK : KITH_ENOMEM;
    }
    for (size_t i = 0; rc == KITH_OK && i < sc.n_recs; i++) {
        memcpy(byid[i].id, sc.recs[i].id, KITH_REC_ID_LEN);
        byid[i].rec = (uint32_t) i;
    }
    /* qsort() of nothing may be given no array: every sort below checks its count. */
    if (rc == KITH_OK && sc.n_recs > 1) {
        qsort(byid, sc.n_recs, sizeof(*byid), cmp_byid);
    }
    for (size_t i = 0; rc == KITH_OK && i < sc.n_recs; i++) {
        if (name_key(&sc, (uint32_t) i, byid, &key)) {
            rc = add_key(&sc, (const char *) key.data, (uint32_t) i);
        }
    }
    if (rc == KITH_OK && sc.n_keys > 1) {
        qsort(sc.keys, sc.n_keys, sizeof(*sc.keys), cmp_key);
    }
    for (size_t i = 0; rc == KITH_OK && i < sc.n_keys;) {
        size_t j = i + 1;
        while (j < sc.n_keys && strcmp(sc.keys[j].key, sc.keys[i].key) == 0) {
            j++;
        }
        if (sc.keys[j - 1].rec != sc.keys[i].rec) {
            rc = emit_pairs(&pairs, &n_pairs, &cap_pairs, &sc, i, j);
        }
        i = j;
    }
    if (rc == KITH_OK) {
        if (n_pairs > 1) {
            qsort(pairs, n_pairs, sizeof(*pairs), cmp_pair);
        }
        dups = calloc(n_pairs ? n_pairs : 1, sizeof(*dups));
        rc = dups ? KITH_OK : KITH_ENOMEM;
    }
    /* One entry per pair, its reasons gathered, turned the suggested way round. */
    size_t n_uniq = 0;
    for (size_t i = 0; rc == KITH_OK && i < n_pairs;) {
        dup_pair_t u = pairs[i];
        size_t j = i + 1;
        for (; j < n_pairs && pairs[j].lo == u.lo && pairs[j].hi == u.hi; j++) {
            u.reasons |= pairs[j].reasons;
            u.detail = u.detail ? u.detail : pairs[j].detail;
        }
        const dup_rec_t *x = &sc.recs[u.lo], *y = &sc.recs[u.hi];
        int x_first = dup_direction(x, y, &u.mergeable);
        u.a = x_first ? x : y;
        u.b = x_first ? y : x;
        pairs[n_uniq++] = u;
        i = j;
    }
    if (rc == KITH_OK && n_uniq > 1) {
        qsort(pairs, n_uniq, sizeof(*pairs), cmp_listed);
    }
    for (size_t i = 0; rc == KITH_OK && i < n_uniq; i++) {
        const dup_pair_t *u = &pairs[i];
        kith_dup_t *d = &dups[n_dups++];
        memcpy(d->a, u->a->id, KITH_REC_ID_LEN);
        memcpy(d->b, u->b->id, KITH_REC_ID_LEN);
        d->reasons = u->reasons;
        d->mergeable = u->mergeable;
        if ((d->a_name = strdup(u->a->name)) == NULL || (d->b_name = strdup(u->b->name)) == NULL ||
            (u->detail != NULL && (d->detail = strdup(u->detail)) == NULL)) {
            rc = KITH_ENOMEM;
        }
    }
    if (rc == KITH_OK) {
        *out = dups;
        *n_out = n_dups;
        dups = NULL;
    }
    kith_dups_free(dups, n_dups);
    for (size_t i = 0; i < sc.n_recs; i++) {
        free(sc.recs[i].name);
        free(sc.recs[i].fname);
        free(sc.recs[i].forg);
    }
    for (size_t i = 0; i < sc.n_keys; i++) {
        free(sc.keys[i].key);
    }
    free(sc.recs);
    free(sc.keys);
    free(byid);
    free(pairs);
    kith_buf_close(&key);
    return rc;
}
