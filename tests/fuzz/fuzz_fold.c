/*
 * libFuzzer target for the fold (src/model/fold.c).
 *
 * The input is not an encoding but a small program that builds 1 to 16 ops of one record
 * through the op API, from four fixed identities: the owner, an editor, a reader and a
 * stranger. Every op names the owner as owner. The program reads, per op:
 *
 *   head  bits 0-1 author (owner, editor, reader, stranger), bit 2 private, bit 3 version 1,
 *         bits 4-7 hlc (0..15: collisions are meant to happen)
 *   what  bits 0-3 set name, title, note, x-a; bits 4-5 "tags": none, add, rm, whole-list
 *         set; bit 6 owner-only parts
 *   then one byte per field set (a value of a small pool, or nil), one or two bytes for
 *   "tags" (items of a small pool; or an earlier op and which of its tag items to remove
 *   by element id), three bytes of owner-only parts (the roles of the editor and the
 *   reader in a new audience, a cut from kith_fold_cut() and/or a subset of the earlier
 *   ops' hashes, del, kind).
 *
 * Missing bytes read as 0, and every byte is read whatever the op turns out to be (a v2
 * private op drops its owner-only parts, a version 1 op turns an add into a whole-list
 * set and drops rm and cut), so flipping one flag does not shift the rest of the program.
 * Values written by private ops start with "P-", shared ones never do.
 *
 * Checks (abort on failure):
 *  - every op built through the API encodes, and its encoding decodes (kith_op_decode);
 *  - kith_fold() gives the same record (its kith_record_encode() bytes, its former members
 *    and audience change count) and the same effective flags per op in the given order,
 *    reversed, and in a shuffle derived from the input;
 *  - former members are never the owner nor a current member, and appear once each;
 *  - a field with private == 0 holds no "P-" value and a private one nothing else, so no
 *    private value leaks into the shared record and no shared value into the private layer;
 *  - the layers are independent (proto/OPS.md: "a shared op changes only the shared
 *    fields. Neither can touch the other."): folding only the shared ops gives the same
 *    shared fields (element ids included), kind, tombstone, audience, former members and
 *    effective flags, and folding only the private ops gives the same private fields;
 *  - kith_fold_sorted() returns KITH_OK for every prefix 0..n, its flags agree with the
 *    full fold's, its records obey the "P-" rule, and the full prefix is kith_fold()'s
 *    record.
 *
 * Bounded: at most 16 ops of a few fields each, whatever the input length.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "kith/kith.h"
#include "model/fold.h"
#include "model/op.h"
#include "model/record.h"

enum { OWNER, EDITOR, READER, STRANGER, N_IDS };

#define MAX_OPS 16

static kith_identity_t *ids[N_IDS];
static uint8_t rec_id[KITH_REC_ID_LEN];

static const char *const field_names[] = {"name", "title", "note", "x-a"};
static const char *const shared_values[] = {"a", "b", "c"};
static const char *const private_values[] = {"P-a", "P-b", "P-c"};
static const char *const shared_tags[] = {"red", "green", "blue", "grey"};
static const char *const private_tags[] = {"P-red", "P-green", "P-blue", "P-grey"};

static void
check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_fold: %s\n", what);
        abort();
    }
}

/* The program being read; past its end every byte is 0. */
typedef struct {
    const uint8_t *p;
    size_t n;
} reader_t;

static unsigned
next(reader_t *r)
{
    if (r->n == 0) {
        return 0;
    }
    r->n--;
    return *r->p++;
}

/* The ops, their encodings' hashes, and the fold inputs in generation order. */
typedef struct {
    kith_op_t op[MAX_OPS];
    kith_fold_input_t in[MAX_OPS];
    size_t n;
} opset_t;

static void
set_value(kith_op_t *op, const char *name, unsigned b)
{
    kith_value_t v = {0};
    if (b % 4 != 0) {
        const char *s = op->private ? private_values[b % 4 - 1] : shared_values[b % 4 - 1];
        check(kith_value_set_str(&v, s, strlen(s)) == KITH_OK, "value_set_str");
    }
    check(kith_op_set_field(op, name, &v) == KITH_OK, "op_set_field");
    kith_value_clear(&v);
}

/* The items of "tags" that op puts in the list (by add or by a whole-list set). */
static const kith_value_t *
tag_items(const kith_op_t *op)
{
    for (size_t i = 0; i < op->n_add; i++) {
        if (strcmp(op->add[i].name, "tags") == 0) {
            return &op->add[i].value;
        }
    }
    for (size_t i = 0; i < op->n_set; i++) {
        if (strcmp(op->set[i].name, "tags") == 0 && op->set[i].value.type == KITH_V_LIST) {
            return &op->set[i].value;
        }
    }
    return NULL;
}

/* tags: 1 add, 2 rm (element ids of an earlier op's items), 3 whole-list set. */
static void
build_tags(opset_t *s, kith_op_t *op, int action, unsigned b1, unsigned b2)
{
    const char *const *pool = op->private ? private_tags : shared_tags;
    unsigned mask = b1 & 15;
    if (action == 1 && mask == 0) {
        mask = 1u << ((b1 >> 4) & 3);
    }
    if (action == 2) {
        if (op->version < 2) {
            return; /* version 1 ops have no rm */
        }
        uint8_t id[KITH_ELEM_ID_LEN];
        const kith_value_t *items = s->n > 0 ? tag_items(&s->op[b1 % s->n]) : NULL;
        int any = 0;
        for (size_t i = 0; items != NULL && i < items->n_items; i++) {
            if ((b2 >> (i % 8)) & 1) {
                kith_op_elem_id(s->in[b1 % s->n].hash, "tags", items->items[i], id);
                check(kith_op_rm_elem(op, "tags", id) == KITH_OK, "op_rm_elem");
                any = 1;
            }
        }
        if (!any) {
            /* An id no op in the set creates (a removal of something never seen). */
            memset(id, (int) b2, sizeof(id));
            check(kith_op_rm_elem(op, "tags", id) == KITH_OK, "op_rm_elem (unknown)");
        }
        return;
    }
    if (action == 1 && op->version >= 2) {
        for (int i = 0; i < 4; i++) {
            if ((mask >> i) & 1) {
                check(kith_op_add_item(op, "tags", pool[i]) == KITH_OK, "op_add_item");
            }
        }
        return;
    }
    /* A whole-list set (or a version 1 op's add); an empty mask unsets the list. */
    kith_value_t v = {0};
    for (int i = 0; i < 4; i++) {
        if ((mask >> i) & 1) {
            check(kith_value_list_append(&v, pool[i], strlen(pool[i])) == KITH_OK, "list_append");
        }
    }
    check(kith_op_set_field(op, "tags", &v) == KITH_OK, "op_set_field (tags)");
    kith_value_clear(&v);
}

static uint8_t
role_of(unsigned bits)
{
    return bits == 0 ? 0 : bits == 1 ? KITH_ROLE_READER : KITH_ROLE_EDITOR;
}

/* Owner-only parts: audience, cut, del, kind. Built on any author's shared op (the fold
 * must ignore them from anyone but the owner). */
static void
build_owner_parts(opset_t *s, kith_op_t *op, unsigned o1, unsigned o2, unsigned o3)
{
    if (op->private && op->version >= 2) {
        return; /* the decoder refuses these on a version 2 private op */
    }
    unsigned del = o2 & 3, kind = (o2 >> 2) & 3;
    if (del == 1 || del == 2) {
        op->del = del == 2;
    }
    if (kind == 1 || kind == 2) {
        op->kind = (int) kind - 1;
    }
    if (!((o1 >> 4) & 1)) {
        return;
    }
    op->has_aud = 1;
    uint8_t r;
    if ((r = role_of(o1 & 3)) != 0) {
        check(kith_op_add_aud(op, ids[EDITOR]->pk, r) == KITH_OK, "op_add_aud editor");
    }
    if ((r = role_of((o1 >> 2) & 3)) != 0) {
        check(kith_op_add_aud(op, ids[READER]->pk, r) == KITH_OK, "op_add_aud reader");
    }
    if ((o1 >> 7) & 1) {
        check(kith_op_add_aud(op, ids[STRANGER]->pk, KITH_ROLE_READER) == KITH_OK,
              "op_add_aud stranger");
    }
    unsigned cut = (o1 >> 5) & 3;
    if (op->version < 2 || s->n == 0) {
        return;
    }
    if (cut & 1) {
        /* The cut a node would compute: fold what came before, in a scratch order. */
        kith_fold_input_t tmp[MAX_OPS];
        kith_record_t cur;
        memcpy(tmp, s->in, s->n * sizeof(*tmp));
        check(kith_fold(tmp, s->n, &cur, NULL) == KITH_OK, "fold before a cut");
        check(kith_fold_cut(op, &cur, tmp, s->n) == KITH_OK, "fold_cut");
        kith_record_close(&cur);
    }
    if (cut & 2) {
        /* Any subset of the earlier ops' hashes, listed for the editor or the reader. */
        const uint8_t *key = ids[(o3 & 1) ? READER : EDITOR]->pk;
        check(kith_op_cut_add(op, key, NULL) == KITH_OK, "op_cut_add");
        for (size_t j = 0; j < s->n; j++) {
            if ((o3 >> (1 + j % 7)) & 1) {
                check(kith_op_cut_add(op, key, s->in[j].hash) == KITH_OK, "op_cut_add hash");
            }
        }
    }
}

/* Hashes op's encoding into in, after checking the encoding decodes. */
static void
hash_op(const kith_op_t *op, kith_fold_input_t *in)
{
    kith_buf_t b;
    kith_op_t back;
    kith_buf_init(&b);
    check(kith_op_encode(op, &b) == KITH_OK, "an op built by the API does not encode");
    check(kith_op_decode(b.data, b.len, &back) == KITH_OK,
          "an op built by the API does not decode");
    kith_op_close(&back);
    in->op = op;
    kith_op_hash(b.data, b.len, in->hash);
    kith_buf_close(&b);
}

/* Reads the program into s: ops that repeat an earlier op (same hash) are dropped, since
 * a record's ops are a set. */
static void
build(reader_t *rd, opset_t *s)
{
    size_t want = 1 + next(rd) % MAX_OPS;
    for (size_t k = 0; k < want; k++) {
        unsigned head = next(rd), what = next(rd);
        kith_op_t *op = &s->op[s->n];
        kith_op_init(op);
        memcpy(op->rec, rec_id, KITH_REC_ID_LEN);
        memcpy(op->owner, ids[OWNER]->pk, KITH_PK_LEN);
        memcpy(op->author, ids[head & 3]->pk, KITH_PK_LEN);
        op->private = (head >> 2) & 1;
        op->version = ((head >> 3) & 1) ? 1 : 2;
        op->hlc = head >> 4;
        for (int f = 0; f < 4; f++) {
            if ((what >> f) & 1) {
                set_value(op, field_names[f], next(rd));
            }
        }
        int tags = (what >> 4) & 3;
        if (tags != 0) {
            unsigned b1 = next(rd), b2 = tags == 2 ? next(rd) : 0;
            build_tags(s, op, tags, b1, b2);
        }
        if ((what >> 6) & 1) {
            unsigned o1 = next(rd), o2 = next(rd), o3 = next(rd);
            build_owner_parts(s, op, o1, o2, o3);
        }
        hash_op(op, &s->in[s->n]);
        int dup = 0;
        for (size_t j = 0; j < s->n; j++) {
            dup |= memcmp(s->in[j].hash, s->in[s->n].hash, KITH_HASH_LEN) == 0;
        }
        if (dup) {
            kith_op_close(op);
        } else {
            s->n++;
        }
    }
}

static int
starts_private(const char *s)
{
    return strncmp(s, "P-", 2) == 0;
}

/* The "P-" rule: a field's values are private ones exactly when the field is private. */
static void
check_prefixes(const kith_record_t *r)
{
    for (size_t i = 0; i < r->n_fields; i++) {
        const kith_rfield_t *f = &r->fields[i];
        check(f->private == 0 || f->private == 1, "private not a flag");
        if (f->value.type == KITH_V_STR) {
            check(starts_private(f->value.str) == f->private,
                  f->private ? "a shared value in the private layer"
                             : "a private value in a shared field");
        } else if (f->value.type == KITH_V_LIST) {
            for (size_t k = 0; k < f->value.n_items; k++) {
                check(starts_private(f->value.items[k]) == f->private,
                      f->private ? "a shared item in a private list"
                                 : "a private item in a shared list");
            }
        } else {
            check(0, "a field that is neither a string nor a list");
        }
    }
}

static void
encode(const kith_record_t *r, kith_buf_t *out)
{
    out->len = 0;
    check(kith_record_encode(r, out) == KITH_OK, "record does not encode");
}

/* 1 if a and b have the same former members (in the same order: the walk order decides
 * it, and that order is total) and audience change count. The stored encoding leaves
 * these out, so comparing encodings does not cover them. */
static int
same_former(const kith_record_t *a, const kith_record_t *b)
{
    if (a->aud_changes != b->aud_changes || a->n_former != b->n_former) {
        return 0;
    }
    for (size_t i = 0; i < a->n_former; i++) {
        const kith_former_t *x = &a->former[i], *y = &b->former[i];
        if (memcmp(x->key, y->key, KITH_PK_LEN) != 0 || memcmp(x->op, y->op, KITH_HASH_LEN) != 0 ||
            x->hlc != y->hlc) {
            return 0;
        }
    }
    return 1;
}

/* Former members are people the audience no longer has: never the owner, never a current
 * member, each once. */
static void
check_former(const kith_record_t *r)
{
    for (size_t i = 0; i < r->n_former; i++) {
        const uint8_t *key = r->former[i].key;
        check(memcmp(key, r->owner, KITH_PK_LEN) != 0, "the owner is a former member");
        for (size_t k = 0; k < r->n_aud; k++) {
            check(memcmp(key, r->aud[k].key, KITH_PK_LEN) != 0, "a member is a former member");
        }
        for (size_t k = 0; k < i; k++) {
            check(memcmp(key, r->former[k].key, KITH_PK_LEN) != 0, "a former member twice");
        }
    }
    check(r->n_former == 0 || r->aud_changes >= 2, "former members without a removal");
}

static int
same_field(const kith_rfield_t *a, const kith_rfield_t *b)
{
    if (strcmp(a->name, b->name) != 0 || a->private != b->private ||
        !kith_value_equal(&a->value, &b->value) || (a->elems == NULL) != (b->elems == NULL)) {
        return 0;
    }
    for (size_t k = 0; a->elems != NULL && k < a->value.n_items; k++) {
        if (a->elems[k].n_ids != b->elems[k].n_ids ||
            memcmp(a->elems[k].ids, b->elems[k].ids, a->elems[k].n_ids * KITH_ELEM_ID_LEN) != 0) {
            return 0;
        }
    }
    return 1;
}

/* 1 if a and b have the same fields in layer `private` (the same ones, in order). */
static int
same_layer(const kith_record_t *a, const kith_record_t *b, int private)
{
    size_t i = 0, k = 0;
    for (;;) {
        while (i < a->n_fields && a->fields[i].private != private) {
            i++;
        }
        while (k < b->n_fields && b->fields[k].private != private) {
            k++;
        }
        if (i == a->n_fields || k == b->n_fields) {
            return i == a->n_fields && k == b->n_fields;
        }
        if (!same_field(&a->fields[i++], &b->fields[k++])) {
            return 0;
        }
    }
}

/* Folds the ops of s in the order given by perm; flags come back per op of s. */
static void
fold_in_order(const opset_t *s, const size_t *perm, kith_record_t *r, int *flags)
{
    kith_fold_input_t in[MAX_OPS];
    int eff[MAX_OPS];
    for (size_t i = 0; i < s->n; i++) {
        in[i] = s->in[perm[i]];
    }
    check(kith_fold(in, s->n, r, eff) == KITH_OK, "fold failed");
    for (size_t i = 0; i < s->n; i++) {
        flags[in[i].op - s->op] = eff[i];
    }
}

/* The fold of only the ops of s whose private flag is `private` must show the same layer
 * as the full fold r (and, for the shared layer, the same kind, tombstone, audience and
 * effective flags). */
static void
check_layer_alone(const opset_t *s, const kith_record_t *r, const int *flags, int private)
{
    kith_fold_input_t in[MAX_OPS];
    int eff[MAX_OPS];
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->op[i].private == private) {
            in[m++] = s->in[i];
        }
    }
    kith_record_t alone;
    if (m == 0) {
        kith_record_init(&alone);
        alone.kind = 0;
    } else {
        check(kith_fold(in, m, &alone, eff) == KITH_OK, "fold of one layer failed");
    }
    if (private) {
        check(same_layer(r, &alone, 1), "shared ops changed the private layer");
    } else {
        check(same_layer(r, &alone, 0), "private ops changed the shared fields");
        check(r->kind == alone.kind && r->deleted == alone.deleted && r->n_aud == alone.n_aud &&
                  (r->n_aud == 0 || memcmp(r->aud, alone.aud, r->n_aud * sizeof(*r->aud)) == 0),
              "private ops changed the kind, tombstone or audience");
        check(same_former(r, &alone), "private ops changed the former members");
        for (size_t i = 0; i < m; i++) {
            check(eff[i] == flags[in[i].op - s->op], "private ops changed a shared op's effect");
        }
    }
    kith_record_close(&alone);
}

static uint64_t
xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        check(kith_init() == KITH_OK, "kith_init failed");
        for (int i = 0; i < N_IDS; i++) {
            uint8_t seed[KITH_SEED_LEN];
            memset(seed, 0x61 + i, sizeof(seed));
            check(kith_identity_from_seed(seed, &ids[i]) == KITH_OK, "identity_from_seed");
        }
        static const uint8_t nonce[8] = {'f', 'u', 'z', 'z', 'f', 'o', 'l', 'd'};
        kith_op_rec_id_make(ids[OWNER]->pk, nonce, rec_id);
        ready = 1;
    }
    static opset_t s; /* static: 16 ops are too big for a comfortable stack frame */
    memset(&s, 0, sizeof(s));
    reader_t rd = {data, size};
    build(&rd, &s);

    /* Orders: as built, reversed, and a shuffle seeded by the input. */
    size_t perm[3][MAX_OPS];
    uint64_t x = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < size; i++) {
        x = (x ^ data[i]) * 0x100000001b3ULL;
    }
    x |= 1;
    for (size_t i = 0; i < s.n; i++) {
        perm[0][i] = i;
        perm[1][i] = s.n - 1 - i;
        perm[2][i] = i;
    }
    for (size_t i = s.n - 1; i > 0; i--) {
        size_t j = (size_t) (xorshift(&x) % (i + 1)), t = perm[2][i];
        perm[2][i] = perm[2][j];
        perm[2][j] = t;
    }
    kith_record_t r, other;
    kith_buf_t want, got;
    int flags[MAX_OPS], flags2[MAX_OPS];
    kith_buf_init(&want);
    kith_buf_init(&got);
    fold_in_order(&s, perm[0], &r, flags);
    encode(&r, &want);
    check_prefixes(&r);
    check_former(&r);
    for (int p = 1; p < 3; p++) {
        fold_in_order(&s, perm[p], &other, flags2);
        encode(&other, &got);
        check(got.len == want.len && memcmp(got.data, want.data, want.len) == 0,
              "the record depends on the order of the ops");
        check(memcmp(flags, flags2, s.n * sizeof(int)) == 0,
              "the effective flags depend on the order of the ops");
        check(same_former(&r, &other), "the former members depend on the order of the ops");
        kith_record_close(&other);
    }
    check_layer_alone(&s, &r, flags, 0);
    check_layer_alone(&s, &r, flags, 1);

    /* Prefixes of the fold order, as `kith log` walks them. */
    kith_fold_input_t sorted[MAX_OPS];
    int eff[MAX_OPS], eff_prefix[MAX_OPS];
    memcpy(sorted, s.in, s.n * sizeof(*sorted));
    check(kith_fold(sorted, s.n, &other, eff) == KITH_OK, "fold failed");
    kith_record_close(&other);
    for (size_t upto = 0; upto <= s.n; upto++) {
        check(kith_fold_sorted(sorted, s.n, upto, &other, eff_prefix) == KITH_OK,
              "fold_sorted failed on a prefix");
        check(memcmp(eff, eff_prefix, upto * sizeof(int)) == 0,
              "a prefix judged an op differently from the full fold");
        check_prefixes(&other);
        check_former(&other);
        if (upto == s.n) {
            encode(&other, &got);
            check(got.len == want.len && memcmp(got.data, want.data, want.len) == 0,
                  "the full prefix differs from the fold");
        }
        kith_record_close(&other);
    }

    kith_record_close(&r);
    kith_buf_close(&want);
    kith_buf_close(&got);
    for (size_t i = 0; i < s.n; i++) {
        kith_op_close(&s.op[i]);
    }
    return 0;
}
