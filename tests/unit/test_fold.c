/*
 * Tests for the fold (src/model/fold.c): last-writer-wins per field, deterministic ties,
 * order independence, and who may change what (owner, editors, readers, strangers and
 * impostors naming another owner); the private layer, list elements, cuts (authority that
 * cannot be backdated), and a randomized property test over all of it.
 */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>

#include "kith/kith.h"
#include "model/fold.h"
#include "model/schema.h"

enum { OWNER, EDITOR, READER, STRANGER, IMPOSTOR, N_IDS };

static kith_identity_t *ids[N_IDS];

static const uint8_t *
pk(int who)
{
    return ids[who]->pk;
}

static int
setup(void **state)
{
    (void) state;
    if (kith_init() != KITH_OK) {
        return -1;
    }
    for (int i = 0; i < N_IDS; i++) {
        uint8_t seed[KITH_SEED_LEN];
        memset(seed, 0x30 + i, sizeof(seed));
        if (kith_identity_from_seed(seed, &ids[i]) != KITH_OK) {
            return -1;
        }
    }
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    for (int i = 0; i < N_IDS; i++) {
        kith_identity_free(ids[i]);
    }
    return 0;
}

/* A set of ops for one record, with their hashes. */
#define MAX_OPS 64

typedef struct {
    kith_op_t op[MAX_OPS];
    kith_fold_input_t in[MAX_OPS];
    size_t n;
} opset_t;

static const uint8_t REC[KITH_REC_ID_LEN] = {0xde, 0xad, 0xbe, 0xef, 1, 2,  3,  4,
                                             5,    6,    7,    8,    9, 10, 11, 12};

static void
opset_init(opset_t *s)
{
    memset(s, 0, sizeof(*s));
}

static void
opset_close(opset_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        kith_op_close(&s->op[i]);
    }
}

/* Starts a new op by author (for the record owned by OWNER) at hlc. */
static kith_op_t *
op_new(opset_t *s, int author, uint64_t hlc)
{
    assert_true(s->n < MAX_OPS);
    kith_op_t *op = &s->op[s->n++];
    kith_op_init(op);
    memcpy(op->rec, REC, KITH_REC_ID_LEN);
    memcpy(op->owner, pk(OWNER), KITH_PK_LEN);
    memcpy(op->author, pk(author), KITH_PK_LEN);
    op->hlc = hlc;
    return op;
}

static void
op_str(kith_op_t *op, const char *name, const char *text)
{
    kith_value_t v = {0};
    ASSERT_OK(kith_value_set_str(&v, text, strlen(text)));
    ASSERT_OK(kith_op_set_field(op, name, &v));
    kith_value_clear(&v);
}

static void
op_unset(kith_op_t *op, const char *name)
{
    kith_value_t v = {0};
    ASSERT_OK(kith_op_set_field(op, name, &v));
}

static void
op_int(kith_op_t *op, const char *name, int64_t n)
{
    kith_value_t v = {0};
    kith_value_set_int(&v, n);
    ASSERT_OK(kith_op_set_field(op, name, &v));
}

/* Hashes every op (as the store would) and points the inputs at them, in set order. */
static void
opset_inputs(opset_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        kith_buf_t b;
        kith_buf_init(&b);
        ASSERT_OK(kith_op_encode(&s->op[i], &b));
        s->in[i].op = &s->op[i];
        kith_op_hash(b.data, b.len, s->in[i].hash);
        kith_buf_close(&b);
    }
}

/* Folds the set; eff[k] receives the flag of s->op[k] (by op, whatever the sort did). */
static void
fold(opset_t *s, kith_record_t *r, int *eff)
{
    opset_inputs(s);
    int flags[MAX_OPS];
    ASSERT_OK(kith_fold(s->in, s->n, r, flags));
    for (size_t i = 0; i < s->n && eff != NULL; i++) {
        eff[s->in[i].op - s->op] = flags[i];
    }
}

static const char *
field_str(const kith_record_t *r, const char *name)
{
    const kith_rfield_t *f = kith_record_field(r, name);
    if (f == NULL) {
        return NULL;
    }
    assert_true(f->value.type == KITH_V_STR);
    return f->value.str;
}

static void
op_hash(const kith_op_t *op, uint8_t hash[KITH_HASH_LEN])
{
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_op_encode(op, &b));
    kith_op_hash(b.data, b.len, hash);
    kith_buf_close(&b);
}

/* Gives aud_op, an owner op that changes the audience, a cut keeping every op of who's in
 * s made so far, as the owner's node would. */
static void
op_cut_all(opset_t *s, kith_op_t *aud_op, int who)
{
    ASSERT_OK(kith_op_cut_add(aud_op, pk(who), NULL));
    for (size_t i = 0; i < s->n; i++) {
        if (&s->op[i] != aud_op && !s->op[i].private &&
            memcmp(s->op[i].author, pk(who), KITH_PK_LEN) == 0) {
            uint8_t h[KITH_HASH_LEN];
            op_hash(&s->op[i], h);
            ASSERT_OK(kith_op_cut_add(aud_op, pk(who), h));
        }
    }
}

/* The id of the element instance that adder (complete) made for item in field. */
static void
elem_of(const kith_op_t *adder, const char *field, const char *item, uint8_t id[KITH_ELEM_ID_LEN])
{
    uint8_t h[KITH_HASH_LEN];
    op_hash(adder, h);
    kith_op_elem_id(h, field, item, id);
}

/* The items of a list field in one layer, joined by commas ("" if unset). */
static const char *
list_str(const kith_record_t *r, const char *name, int private)
{
    static char buf[1024];
    buf[0] = '\0';
    const kith_rfield_t *f = kith_record_field_in(r, name, private);
    if (f == NULL) {
        return buf;
    }
    assert_true(f->value.type == KITH_V_LIST);
    assert_non_null(f->elems);
    for (size_t i = 0; i < f->value.n_items; i++) {
        assert_true(f->elems[i].n_ids > 0);
        strcat(buf, i ? "," : "");
        strcat(buf, f->value.items[i]);
    }
    return buf;
}

static const char *
layer_str(const kith_record_t *r, const char *name, int private)
{
    const kith_rfield_t *f = kith_record_field_in(r, name, private);
    if (f == NULL) {
        return NULL;
    }
    assert_true(f->value.type == KITH_V_STR);
    return f->value.str;
}

static void
creation(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, OWNER, 100);
    op->kind = KITH_KIND_ORG;
    op_str(op, "name", "Acme");
    op_int(op, "influence", 3);
    kith_record_t r;
    int eff[MAX_OPS];
    fold(&s, &r, eff);
    ASSERT_EQ(eff[0], 1);
    assert_memory_equal(r.id, REC, KITH_REC_ID_LEN);
    assert_memory_equal(r.owner, pk(OWNER), KITH_PK_LEN);
    ASSERT_EQ(r.kind, KITH_KIND_ORG);
    ASSERT_EQ(r.deleted, 0);
    ASSERT_EQ(r.created, 100);
    ASSERT_EQ(r.updated, 100);
    ASSERT_EQ(r.n_aud, 0);
    ASSERT_EQ(r.n_fields, 2);
    ASSERT_STREQ(kith_record_name(&r), "Acme");
    const kith_rfield_t *f = kith_record_field(&r, "influence");
    assert_non_null(f);
    assert_true(f->value.type == KITH_V_INT && f->value.num == 3);
    ASSERT_EQ(f->private, 0);
    /* Fields come out sorted by name. */
    ASSERT_STREQ(r.fields[0].name, "influence");
    ASSERT_STREQ(r.fields[1].name, "name");
    kith_record_close(&r);
    opset_close(&s);
}

static void
bad_input(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    op_new(&s, OWNER, 1);
    kith_op_t *other = op_new(&s, OWNER, 2);
    other->rec[15] ^= 1;
    opset_inputs(&s);
    kith_record_t r;
    ASSERT_ERR(kith_fold(s.in, 0, &r, NULL), KITH_EINVAL);
    ASSERT_ERR(kith_fold(s.in, 2, &r, NULL), KITH_EINVAL);
    ASSERT_EQ(r.n_fields, 0);
    kith_record_close(&r);
    /* effective may be NULL. */
    ASSERT_OK(kith_fold(s.in, 1, &r, NULL));
    kith_record_close(&r);
    opset_close(&s);
}

static void
last_writer_wins(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    op_str(op_new(&s, OWNER, 300), "title", "CEO");
    op_str(op_new(&s, OWNER, 100), "title", "Intern");
    op_str(op_new(&s, OWNER, 200), "title", "CTO");
    kith_op_t *op = op_new(&s, OWNER, 150);
    op_str(op, "name", "Grace");
    op_str(op, "title", "Engineer");
    kith_record_t r;
    fold(&s, &r, NULL);
    ASSERT_STREQ(field_str(&r, "title"), "CEO");
    ASSERT_STREQ(field_str(&r, "name"), "Grace");
    ASSERT_EQ(r.created, 100);
    ASSERT_EQ(r.updated, 300);
    kith_record_close(&r);
    opset_close(&s);
}

static void
ties_are_deterministic(void **state)
{
    (void) state;
    /* Same hlc, two authors: the greater author key wins. */
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, OWNER, 10);
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
    op_str(op_new(&s, OWNER, 50), "title", "by owner");
    op_str(op_new(&s, EDITOR, 50), "title", "by editor");
    kith_record_t r;
    int eff[MAX_OPS];
    fold(&s, &r, eff);
    ASSERT_EQ(eff[1], 1);
    ASSERT_EQ(eff[2], 1);
    int editor_greater = memcmp(pk(EDITOR), pk(OWNER), KITH_PK_LEN) > 0;
    ASSERT_STREQ(field_str(&r, "title"), editor_greater ? "by editor" : "by owner");
    kith_record_close(&r);
    opset_close(&s);

    /* Same hlc and author: the greater op hash wins. */
    opset_init(&s);
    op_str(op_new(&s, OWNER, 50), "title", "first");
    op_str(op_new(&s, OWNER, 50), "title", "second");
    fold(&s, &r, NULL);
    /* fold() leaves the inputs sorted: the last one has the greater hash and wins. */
    assert_true(memcmp(s.in[0].hash, s.in[1].hash, KITH_HASH_LEN) < 0);
    int second_greater = s.in[1].op == &s.op[1];
    ASSERT_STREQ(field_str(&r, "title"), second_greater ? "second" : "first");
    kith_record_close(&r);
    /* ...whichever comes first in the input. */
    kith_fold_input_t t = s.in[0];
    s.in[0] = s.in[1];
    s.in[1] = t;
    ASSERT_OK(kith_fold(s.in, 2, &r, NULL));
    ASSERT_STREQ(field_str(&r, "title"), second_greater ? "second" : "first");
    kith_record_close(&r);
    opset_close(&s);
}

static void
unset_removes(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, OWNER, 10);
    op_str(op, "name", "Ada");
    op_str(op, "title", "Countess");
    op_str(op, "x-tmp", "temp");
    op_unset(op_new(&s, OWNER, 20), "title");
    op_unset(op_new(&s, OWNER, 30), "never-set-but-valid-name-is-not-checked-here");
    kith_record_t r;
    int eff[MAX_OPS];
    fold(&s, &r, eff);
    assert_null(kith_record_field(&r, "title"));
    ASSERT_STREQ(field_str(&r, "name"), "Ada");
    ASSERT_STREQ(field_str(&r, "x-tmp"), "temp");
    ASSERT_EQ(r.n_fields, 2);
    ASSERT_EQ(eff[1], 1);
    ASSERT_EQ(eff[2], 1);
    kith_record_close(&r);
    /* An older set does not resurrect an unset field. */
    op_str(op_new(&s, OWNER, 15), "title", "Older");
    fold(&s, &r, NULL);
    assert_null(kith_record_field(&r, "title"));
    kith_record_close(&r);
    /* A newer one does. */
    op_str(op_new(&s, OWNER, 40), "title", "Back");
    fold(&s, &r, NULL);
    ASSERT_STREQ(field_str(&r, "title"), "Back");
    kith_record_close(&r);
    opset_close(&s);
}

static void
non_member_ineffective(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    op_str(op_new(&s, OWNER, 10), "name", "Ada");
    kith_op_t *op = op_new(&s, STRANGER, 20);
    op_str(op, "name", "Hijacked");
    op_str(op, "note", "spam");
    op->del = 1;
    kith_record_t r;
    int eff[MAX_OPS];
    fold(&s, &r, eff);
    ASSERT_EQ(eff[0], 1);
    ASSERT_EQ(eff[1], 0);
    ASSERT_STREQ(field_str(&r, "name"), "Ada");
    assert_null(kith_record_field(&r, "note"));
    ASSERT_EQ(r.deleted, 0);
    ASSERT_EQ(r.updated, 10); /* an ineffective op is no update */
    kith_record_close(&r);
    opset_close(&s);
}

static void
reader_ineffective(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, OWNER, 10);
    op_str(op, "name", "Ada");
    ASSERT_OK(kith_op_add_aud(op, pk(READER), KITH_ROLE_READER));
    op_str(op_new(&s, READER, 20), "name", "Changed by a reader");
    kith_record_t r;
    int eff[MAX_OPS];
    fold(&s, &r, eff);
    ASSERT_EQ(eff[1], 0);
    ASSERT_STREQ(field_str(&r, "name"), "Ada");
    ASSERT_EQ(kith_record_role(&r, pk(READER)), KITH_ROLE_READER);
    kith_record_close(&r);
    opset_close(&s);
}

/* An editor's ops count only between the owner's op that made them editor and the one
 * that removed them. */
static void
editor_window(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    op_str(op_new(&s, OWNER, 10), "name", "Ada");         /* 0 */
    op_str(op_new(&s, EDITOR, 15), "title", "too early"); /* 1 */
    kith_op_t *op = op_new(&s, OWNER, 20);                /* 2 */
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
    ASSERT_OK(kith_op_add_aud(op, pk(READER), KITH_ROLE_READER));
    op_str(op_new(&s, EDITOR, 25), "title", "in time");      /* 3 */
    op_str(op_new(&s, EDITOR, 27), "note", "editor's note"); /* 4 */
    op = op_new(&s, OWNER, 30);                              /* 5 */
    ASSERT_OK(kith_op_add_aud(op, pk(READER), KITH_ROLE_READER));
    op_cut_all(&s, op, EDITOR);
    op_str(op_new(&s, EDITOR, 35), "title", "too late"); /* 6 */
    op_unset(op_new(&s, EDITOR, 36), "note");            /* 7 */
    kith_record_t r;
    int eff[MAX_OPS];
    fold(&s, &r, eff);
    static const int want[] = {1, 0, 1, 1, 1, 1, 0, 0};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (eff[i] != want[i]) {
            print_error("op %zu: effective %d, expected %d\n", i, eff[i], want[i]);
            fail();
        }
    }
    ASSERT_STREQ(field_str(&r, "title"), "in time");
    ASSERT_STREQ(field_str(&r, "note"), "editor's note");
    ASSERT_EQ(r.n_aud, 1);
    ASSERT_EQ(kith_record_role(&r, pk(EDITOR)), 0);
    ASSERT_EQ(kith_record_role(&r, pk(READER)), KITH_ROLE_READER);
    ASSERT_EQ(kith_record_role(&r, pk(OWNER)), KITH_ROLE_EDITOR);
    ASSERT_EQ(r.updated, 30);
    kith_record_close(&r);

    /* Demoted to reader rather than removed: the same. */
    s.op[5].n_aud = 0;
    ASSERT_OK(kith_op_add_aud(&s.op[5], pk(EDITOR), KITH_ROLE_READER));
    fold(&s, &r, eff);
    ASSERT_EQ(eff[6], 0);
    ASSERT_STREQ(field_str(&r, "title"), "in time");
    ASSERT_EQ(kith_record_role(&r, pk(EDITOR)), KITH_ROLE_READER);
    kith_record_close(&r);
    opset_close(&s);
}

/* Audience, deletion and kind come only from the owner's ops, even an editor's. */
static void
owner_only_parts(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, OWNER, 10);
    op->kind = KITH_KIND_PERSON;
    op_str(op, "name", "Ada");
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
    op = op_new(&s, EDITOR, 20);
    op->kind = KITH_KIND_ORG;
    op->del = 1;
    ASSERT_OK(kith_op_add_aud(op, pk(STRANGER), KITH_ROLE_EDITOR));
    op_str(op, "title", "set by editor");
    /* The stranger the editor tried to add cannot act. */
    op_str(op_new(&s, STRANGER, 30), "title", "stranger");
    kith_record_t r;
    int eff[MAX_OPS];
    fold(&s, &r, eff);
    ASSERT_EQ(eff[1], 1); /* the editor's fields apply... */
    ASSERT_EQ(eff[2], 0);
    ASSERT_STREQ(field_str(&r, "title"), "set by editor");
    ASSERT_EQ(r.kind, KITH_KIND_PERSON); /* ...but nothing else of the op */
    ASSERT_EQ(r.deleted, 0);
    ASSERT_EQ(r.n_aud, 1);
    assert_memory_equal(r.aud[0].key, pk(EDITOR), KITH_PK_LEN);
    ASSERT_EQ(kith_record_role(&r, pk(STRANGER)), 0);
    kith_record_close(&r);
    opset_close(&s);
}

/* The kind is fixed by the first owner op naming it. */
static void
kind_fixed_at_creation(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    op_new(&s, OWNER, 10)->kind = KITH_KIND_ORG;
    op_new(&s, OWNER, 20)->kind = KITH_KIND_PERSON;
    kith_record_t r;
    fold(&s, &r, NULL);
    ASSERT_EQ(r.kind, KITH_KIND_ORG);
    kith_record_close(&r);
    opset_close(&s);
}

static void
delete_and_restore(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    op_str(op_new(&s, OWNER, 10), "name", "Ada");
    op_new(&s, OWNER, 20)->del = 1;
    kith_record_t r;
    fold(&s, &r, NULL);
    ASSERT_EQ(r.deleted, 1);
    ASSERT_STREQ(field_str(&r, "name"), "Ada"); /* a tombstone keeps its fields */
    kith_record_close(&r);
    kith_op_t *op = op_new(&s, OWNER, 30);
    op->del = 0;
    op_str(op, "title", "restored");
    fold(&s, &r, NULL);
    ASSERT_EQ(r.deleted, 0);
    ASSERT_STREQ(field_str(&r, "title"), "restored");
    kith_record_close(&r);
    /* An op without del leaves the state alone. */
    op_new(&s, OWNER, 40)->del = 1;
    op_str(op_new(&s, OWNER, 50), "note", "x");
    fold(&s, &r, NULL);
    ASSERT_EQ(r.deleted, 1);
    kith_record_close(&r);
    opset_close(&s);
}

/* Ops naming another owner are ignored, even when signed by that other owner. */
static void
other_owner_ignored(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    op_str(op_new(&s, OWNER, 10), "name", "Ada");
    kith_op_t *op = op_new(&s, IMPOSTOR, 20);
    memcpy(op->owner, pk(IMPOSTOR), KITH_PK_LEN);
    op_str(op, "name", "Taken over");
    op->del = 1;
    op = op_new(&s, OWNER, 30);
    memcpy(op->owner, pk(IMPOSTOR), KITH_PK_LEN); /* owner's key, wrong owner field */
    op_str(op, "title", "misfiled");
    kith_record_t r;
    int eff[MAX_OPS];
    fold(&s, &r, eff);
    ASSERT_EQ(eff[0], 1);
    ASSERT_EQ(eff[1], 0);
    ASSERT_EQ(eff[2], 0);
    assert_memory_equal(r.owner, pk(OWNER), KITH_PK_LEN);
    ASSERT_STREQ(field_str(&r, "name"), "Ada");
    assert_null(kith_record_field(&r, "title"));
    ASSERT_EQ(r.deleted, 0);
    kith_record_close(&r);
    opset_close(&s);
}

/* Only self-signed ops can establish the owner: an earlier op that names OWNER but was
 * written by someone else does not make its author owner, nor count. */
static void
owner_from_self_signed_op(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, STRANGER, 5);
    op_str(op, "name", "forged early op");
    ASSERT_OK(kith_op_add_aud(op, pk(STRANGER), KITH_ROLE_EDITOR));
    op_str(op_new(&s, OWNER, 10), "name", "Ada");
    kith_record_t r;
    int eff[MAX_OPS];
    fold(&s, &r, eff);
    assert_memory_equal(r.owner, pk(OWNER), KITH_PK_LEN);
    ASSERT_EQ(eff[0], 0);
    ASSERT_STREQ(field_str(&r, "name"), "Ada");
    ASSERT_EQ(r.n_aud, 0);
    ASSERT_EQ(r.created, 10);
    kith_record_close(&r);
    opset_close(&s);
}

static void
private_flag_carried(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    op_str(op_new(&s, OWNER, 10), "name", "Ada");
    kith_op_t *op = op_new(&s, OWNER, 20);
    op->private = 1;
    op_str(op, "politics", "secret alliance");
    op_str(op, "x-private", "p");
    kith_record_t r;
    fold(&s, &r, NULL);
    ASSERT_EQ(kith_record_field(&r, "name")->private, 0);
    ASSERT_EQ(kith_record_field(&r, "politics")->private, 1);
    ASSERT_EQ(kith_record_field(&r, "x-private")->private, 1);
    kith_record_close(&r);
    /* A later shared op on the same field sets the shared value beside the private one
     * (failure 2 of issue 10: it used to overwrite it for good). */
    op_str(op_new(&s, OWNER, 30), "x-private", "now public");
    fold(&s, &r, NULL);
    ASSERT_STREQ(layer_str(&r, "x-private", 0), "now public");
    ASSERT_STREQ(layer_str(&r, "x-private", 1), "p");
    ASSERT_EQ(kith_record_field(&r, "x-private")->private, 0); /* shared first */
    ASSERT_EQ(kith_record_field(&r, "politics")->private, 1);
    kith_record_close(&r);
    opset_close(&s);
}

/* A private op changes only the private layer; a shared op (an editor's, or the owner's)
 * never changes, reveals or removes a private value; deleting the record keeps it. */
static void
private_layer(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, OWNER, 10);
    op_str(op, "name", "Ada");
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
    op = op_new(&s, OWNER, 20);
    op->private = 1;
    op_str(op, "note", "budget is 2M");
    ASSERT_OK(kith_op_add_item(op, "emails", "private@example.com"));
    op_str(op_new(&s, EDITOR, 30), "note", "editor's note");
    op_unset(op_new(&s, EDITOR, 31), "note");
    op_str(op_new(&s, EDITOR, 32), "note", "editor again");
    op = op_new(&s, EDITOR, 33);
    ASSERT_OK(kith_op_add_item(op, "emails", "public@example.com"));
    /* A private op by someone else (another of this user's devices, or a reader making a
     * note on a record it may only read) counts too: it never leaves the user's nodes. */
    op = op_new(&s, READER, 34);
    op->private = 1;
    op_str(op, "politics", "reader's own note");
    op_new(&s, OWNER, 40)->del = 1;
    kith_record_t r;
    int eff[MAX_OPS];
    fold(&s, &r, eff);
    ASSERT_EQ(eff[6], 1);
    ASSERT_STREQ(layer_str(&r, "note", 1), "budget is 2M");
    ASSERT_STREQ(layer_str(&r, "note", 0), "editor again");
    ASSERT_STREQ(list_str(&r, "emails", 1), "private@example.com");
    ASSERT_STREQ(list_str(&r, "emails", 0), "public@example.com");
    ASSERT_STREQ(layer_str(&r, "politics", 1), "reader's own note");
    assert_null(layer_str(&r, "politics", 0));
    ASSERT_EQ(r.deleted, 1);
    /* created is the first shared op; the private one does not move it. */
    ASSERT_EQ(r.created, 10);
    ASSERT_EQ(r.updated, 40);
    kith_record_close(&r);
    opset_close(&s);
}

/* Concurrent adds from different nodes are all kept; a remove removes only the instances
 * its author saw; a whole-list replace wins over earlier adds and loses to later ones. */
static void
list_elements(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, OWNER, 10);
    op_str(op, "name", "Ada");
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
    kith_op_t *a = op_new(&s, OWNER, 20); /* alice, offline */
    ASSERT_OK(kith_op_add_item(a, "tags", "from-alice"));
    ASSERT_OK(kith_op_add_item(a, "tags", "shared"));
    kith_op_t *b = op_new(&s, EDITOR, 21); /* bob, at the same time */
    ASSERT_OK(kith_op_add_item(b, "tags", "from-bob"));
    ASSERT_OK(kith_op_add_item(b, "tags", "shared"));
    kith_record_t r;
    fold(&s, &r, NULL);
    ASSERT_STREQ(list_str(&r, "tags", 0), "from-alice,shared,from-bob");
    /* "shared" shows once, backed by two instances. */
    ASSERT_EQ(kith_record_field_in(&r, "tags", 0)->elems[1].n_ids, 2);
    kith_record_close(&r);

    /* Alice removes "shared" having seen only her own instance: bob's stays. */
    uint8_t id[KITH_ELEM_ID_LEN];
    elem_of(a, "tags", "shared", id);
    ASSERT_OK(kith_op_rm_elem(op_new(&s, OWNER, 30), "tags", id));
    fold(&s, &r, NULL);
    ASSERT_STREQ(list_str(&r, "tags", 0), "from-alice,from-bob,shared");
    kith_record_close(&r);
    /* Bob, having seen both, removes both. */
    op = op_new(&s, EDITOR, 40);
    elem_of(b, "tags", "shared", id);
    ASSERT_OK(kith_op_rm_elem(op, "tags", id));
    fold(&s, &r, NULL);
    ASSERT_STREQ(list_str(&r, "tags", 0), "from-alice,from-bob");
    kith_record_close(&r);

    /* A remove ordered before the add it names (a clock that lies) still removes it. */
    kith_op_t *late = op_new(&s, OWNER, 60);
    ASSERT_OK(kith_op_add_item(late, "urls", "example.org"));
    elem_of(late, "urls", "example.org", id);
    ASSERT_OK(kith_op_rm_elem(op_new(&s, EDITOR, 50), "urls", id));
    fold(&s, &r, NULL);
    ASSERT_STREQ(list_str(&r, "urls", 0), "");
    assert_null(kith_record_field(&r, "urls"));
    kith_record_close(&r);

    /* A whole-list replace: adds before it go, adds after it stay. */
    kith_value_t v = {0};
    ASSERT_OK(kith_value_list_append(&v, "replaced", 8));
    ASSERT_OK(kith_op_set_field(op_new(&s, OWNER, 70), "tags", &v));
    kith_value_clear(&v);
    ASSERT_OK(kith_op_add_item(op_new(&s, EDITOR, 71), "tags", "after"));
    fold(&s, &r, NULL);
    ASSERT_STREQ(list_str(&r, "tags", 0), "replaced,after");
    kith_record_close(&r);
    /* Unsetting a list removes every instance seen so far. */
    op_unset(op_new(&s, OWNER, 80), "tags");
    fold(&s, &r, NULL);
    assert_null(kith_record_field(&r, "tags"));
    kith_record_close(&r);
    opset_close(&s);
}

/* A remove in one layer never removes the other layer's instances, even when it names
 * their element ids (found by fuzz_fold: the fold kept one set of removed ids). */
static void
layers_remove_apart(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, OWNER, 1);
    op_str(op, "name", "Ada");
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
    kith_op_t *shared = op_new(&s, OWNER, 7);
    ASSERT_OK(kith_op_add_item(shared, "tags", "red"));
    kith_op_t *priv = op_new(&s, OWNER, 8);
    priv->private = 1;
    ASSERT_OK(kith_op_add_item(priv, "tags", "P-red"));
    uint8_t id[KITH_ELEM_ID_LEN];
    op = op_new(&s, EDITOR, 9); /* a private op naming the shared instance */
    op->private = 1;
    elem_of(shared, "tags", "red", id);
    ASSERT_OK(kith_op_rm_elem(op, "tags", id));
    op = op_new(&s, OWNER, 10); /* a shared op naming the private instance */
    elem_of(priv, "tags", "P-red", id);
    ASSERT_OK(kith_op_rm_elem(op, "tags", id));
    kith_record_t r;
    fold(&s, &r, NULL);
    ASSERT_STREQ(list_str(&r, "tags", 0), "red");
    ASSERT_STREQ(list_str(&r, "tags", 1), "P-red");
    kith_record_close(&r);
    opset_close(&s);
}

/* More than 256 distinct items after a merge: the first 256 in fold order are kept. */
static void
list_cap(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    op_str(op_new(&s, OWNER, 1), "name", "Ada");
    char item[16];
    for (int k = 0; k < 2; k++) {
        kith_op_t *op = op_new(&s, OWNER, 10 + (uint64_t) k);
        for (int i = 0; i < KITH_VALUE_MAX_ITEMS; i++) {
            snprintf(item, sizeof(item), "t%d-%03d", k, i);
            ASSERT_OK(kith_op_add_item(op, "tags", item));
        }
    }
    kith_record_t r;
    fold(&s, &r, NULL);
    const kith_rfield_t *f = kith_record_field(&r, "tags");
    ASSERT_EQ(f->value.n_items, KITH_VALUE_MAX_ITEMS);
    ASSERT_STREQ(f->value.items[255], "t0-255");
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_record_encode(&r, &b));
    kith_record_t back;
    ASSERT_OK(kith_record_decode(b.data, b.len, &back));
    ASSERT_EQ(kith_record_field(&back, "tags")->value.n_items, KITH_VALUE_MAX_ITEMS);
    kith_record_close(&back);
    kith_buf_close(&b);
    kith_record_close(&r);
    opset_close(&s);
}

/* Failure 9 of issue 10: an editor demoted to reader signs an op whose hlc lies just
 * before the demotion. The demotion's cut lists the editor's ops the owner held, so the
 * backdated op has no effect, while those earlier ops keep theirs. */
static void
backdating_refused(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, OWNER, 10);
    op_str(op, "name", "Ada");
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
    op_str(op_new(&s, EDITOR, 20), "title", "honest edit"); /* 1 */
    op = op_new(&s, OWNER, 30);                             /* 2: demotion */
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_READER));
    op_cut_all(&s, op, EDITOR);
    op_str(op_new(&s, EDITOR, 29), "note", "backdated after demotion"); /* 3 */
    op_str(op_new(&s, EDITOR, 31), "note", "plainly late");             /* 4 */
    kith_record_t r;
    int eff[MAX_OPS];
    fold(&s, &r, eff);
    ASSERT_EQ(eff[1], 1);
    ASSERT_EQ(eff[3], 0);
    ASSERT_EQ(eff[4], 0);
    ASSERT_STREQ(field_str(&r, "title"), "honest edit");
    assert_null(kith_record_field(&r, "note"));
    kith_record_close(&r);
    /* Promoted again, then demoted again: the second cut decides for ops between. */
    op = op_new(&s, OWNER, 40);
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
    op_str(op_new(&s, EDITOR, 45), "department", "in the second window"); /* 6 */
    op = op_new(&s, OWNER, 50);
    ASSERT_OK(kith_op_add_aud(op, pk(READER), KITH_ROLE_READER));
    op_cut_all(&s, op, EDITOR);
    op_str(op_new(&s, EDITOR, 46), "org", "backdated into the second window"); /* 8 */
    fold(&s, &r, eff);
    ASSERT_EQ(eff[1], 1);
    ASSERT_EQ(eff[6], 1);
    ASSERT_EQ(eff[8], 0);
    ASSERT_STREQ(field_str(&r, "department"), "in the second window");
    assert_null(kith_record_field(&r, "org"));
    kith_record_close(&r);
    opset_close(&s);

    /* A demotion without a cut keeps nothing; a version 1 demotion (made before cuts
     * existed) judges each op at its own hlc, as version 1 did. */
    for (int version = 1; version <= 2; version++) {
        opset_init(&s);
        op = op_new(&s, OWNER, 10);
        op_str(op, "name", "Ada");
        ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
        op_str(op_new(&s, EDITOR, 20), "title", "t");
        op = op_new(&s, OWNER, 30);
        op->version = version;
        op->has_aud = 1;
        fold(&s, &r, eff);
        ASSERT_EQ(eff[1], version == 1);
        kith_record_close(&r);
        opset_close(&s);
    }
}

/* Former members: who an audience op left out, with that op, until another puts them
 * back (the store offers a removed peer the op that removed it). */
static void
former_members(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, OWNER, 10);
    op_str(op, "name", "Ada");
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
    ASSERT_OK(kith_op_add_aud(op, pk(READER), KITH_ROLE_READER));
    kith_record_t r;
    fold(&s, &r, NULL);
    ASSERT_EQ(r.n_former, 0);
    ASSERT_EQ(r.aud_changes, 1);
    kith_record_close(&r);
    op = op_new(&s, OWNER, 20); /* the reader goes */
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
    uint8_t removing[KITH_HASH_LEN];
    op_hash(op, removing);
    op_new(&s, EDITOR, 25)->del = -1; /* an editor's op changes no audience */
    fold(&s, &r, NULL);
    ASSERT_EQ(r.n_former, 1);
    assert_memory_equal(r.former[0].key, pk(READER), KITH_PK_LEN);
    assert_memory_equal(r.former[0].op, removing, KITH_HASH_LEN);
    ASSERT_EQ(r.former[0].hlc, 20);
    ASSERT_EQ(r.aud_changes, 2);
    kith_record_close(&r);
    op = op_new(&s, OWNER, 30); /* back again, as editor; the editor goes */
    ASSERT_OK(kith_op_add_aud(op, pk(READER), KITH_ROLE_EDITOR));
    op_cut_all(&s, op, EDITOR);
    fold(&s, &r, NULL);
    ASSERT_EQ(r.n_former, 1);
    assert_memory_equal(r.former[0].key, pk(EDITOR), KITH_PK_LEN);
    ASSERT_EQ(r.former[0].hlc, 30);
    kith_record_close(&r);
    opset_close(&s);
}

/* xorshift64: a fixed sequence, so a failure can be replayed. */
static uint64_t
rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Folds s in `rounds` shuffled orders (x: the shuffle's state) and asserts that each gives
 * the stored encoding want and, op by op, the effective flags want_eff. */
static void
assert_any_order(opset_t *s, const kith_buf_t *want, const int *want_eff, int rounds, uint64_t *x)
{
    kith_buf_t got;
    kith_buf_init(&got);
    for (int round = 0; round < rounds; round++) {
        for (size_t i = s->n - 1; i > 0; i--) {
            size_t j = (size_t) (rnd(x) % (i + 1));
            kith_fold_input_t t = s->in[i];
            s->in[i] = s->in[j];
            s->in[j] = t;
        }
        int flags[MAX_OPS], eff[MAX_OPS];
        kith_record_t r;
        ASSERT_OK(kith_fold(s->in, s->n, &r, flags));
        for (size_t i = 0; i < s->n; i++) {
            eff[s->in[i].op - s->op] = flags[i];
        }
        assert_memory_equal(eff, want_eff, s->n * sizeof(int));
        got.len = 0;
        ASSERT_OK(kith_record_encode(&r, &got));
        ASSERT_EQ(got.len, want->len);
        assert_memory_equal(got.data, want->data, want->len);
        kith_record_close(&r);
    }
    kith_buf_close(&got);
}

/* The property test of issue 10: random ops from three authors (sets, list adds and
 * removes, private ops, audience changes with cuts, deletes and restores) folded in
 * 1,000 random orders give one record and one set of effective flags; private values
 * appear only in the private layer. */
static void
random_histories(void **state)
{
    (void) state;
    static const char *const tags[] = {"a", "b", "c", "d"};
    static const char *const texts[] = {"x", "y", "z"};
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int history = 0; history < 20; history++) {
        opset_t s;
        opset_init(&s);
        kith_op_t *op = op_new(&s, OWNER, 0);
        op_str(op, "name", "start");
        ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
        int roles[N_IDS] = {0, KITH_ROLE_EDITOR, 0};
        size_t n_ops = 20 + rnd(&x) % 20;
        while (s.n < n_ops) {
            int who = (int) (rnd(&x) % 3); /* OWNER, EDITOR or READER */
            int what = (int) (rnd(&x) % 8);
            op = op_new(&s, who, 1 + rnd(&x) % 60);
            int priv = what == 6;
            op->private = priv;
            const char *text = texts[rnd(&x) % 3];
            char value[16];
            snprintf(value, sizeof(value), "%s%s", priv ? "PRIV-" : "", text);
            if (what <= 1 || priv) {
                op_str(op, what == 1 ? "note" : "title", value);
            } else if (what == 2) {
                char tag[16];
                snprintf(tag, sizeof(tag), "%s%s", priv ? "PRIV-" : "", tags[rnd(&x) % 4]);
                ASSERT_OK(kith_op_add_item(op, "tags", tag));
            } else if (what == 3 && s.n > 1) {
                /* Remove an instance some earlier op added, if any. */
                const kith_op_t *adder = &s.op[rnd(&x) % (s.n - 1)];
                if (adder->n_add > 0 && !adder->private) {
                    uint8_t id[KITH_ELEM_ID_LEN];
                    elem_of(adder, "tags", adder->add[0].value.items[0], id);
                    ASSERT_OK(kith_op_rm_elem(op, "tags", id));
                }
            } else if (what == 4 && who == OWNER) {
                for (int m = EDITOR; m <= READER; m++) {
                    int role = (int) (rnd(&x) % 3);
                    if (role > 0) {
                        ASSERT_OK(kith_op_add_aud(op, pk(m), (uint8_t) role));
                    }
                    if (roles[m] == KITH_ROLE_EDITOR && role != KITH_ROLE_EDITOR &&
                        rnd(&x) % 4 != 0) {
                        op_cut_all(&s, op, m); /* usually; sometimes no cut at all */
                    }
                    roles[m] = role;
                }
                op->has_aud = 1;
            } else if (what == 5 && who == OWNER) {
                op->del = (int) (rnd(&x) % 2);
            } else if (what == 7) {
                kith_value_t v = {0};
                ASSERT_OK(kith_value_list_append(&v, tags[rnd(&x) % 4], 1));
                ASSERT_OK(kith_op_set_field(op, "tags", &v));
                kith_value_clear(&v);
            } else {
                op_str(op, "department", value);
            }
        }
        kith_record_t r;
        int want_eff[MAX_OPS];
        fold(&s, &r, want_eff);
        for (size_t i = 0; i < r.n_fields; i++) {
            const kith_rfield_t *f = &r.fields[i];
            const char *v = f->value.type == KITH_V_STR ? f->value.str : f->value.items[0];
            ASSERT_EQ(strncmp(v, "PRIV-", 5) == 0, f->private);
        }
        kith_buf_t want;
        kith_buf_init(&want);
        ASSERT_OK(kith_record_encode(&r, &want));
        kith_record_close(&r);
        assert_any_order(&s, &want, want_eff, 1000, &x);
        kith_buf_close(&want);
        opset_close(&s);
    }
}

/* kith_fold_sorted() with upto: the record after each prefix, judged with every op in
 * view (kith log's before and after). */
static void
fold_prefixes(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, OWNER, 10);
    op_str(op, "name", "Ada");
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
    op_str(op_new(&s, EDITOR, 20), "title", "backdated");
    op_str(op_new(&s, OWNER, 25), "title", "owner's");
    op = op_new(&s, OWNER, 30);
    op->has_aud = 1;
    op_str(op_new(&s, OWNER, 5), "note", "first"); /* sorts first */
    kith_record_t r;
    fold(&s, &r, NULL); /* sorts s.in */
    kith_record_close(&r);
    ASSERT_OK(kith_fold_sorted(s.in, s.n, 1, &r, NULL));
    ASSERT_STREQ(field_str(&r, "note"), "first");
    assert_null(kith_record_field(&r, "name"));
    kith_record_close(&r);
    /* After the editor's op: void, since the demotion at 30 has no cut for it. */
    ASSERT_OK(kith_fold_sorted(s.in, s.n, 3, &r, NULL));
    assert_null(kith_record_field(&r, "title"));
    kith_record_close(&r);
    ASSERT_OK(kith_fold_sorted(s.in, s.n, 4, &r, NULL));
    ASSERT_STREQ(field_str(&r, "title"), "owner's");
    kith_record_close(&r);
    ASSERT_EQ(kith_fold_sorted(s.in, s.n, s.n + 1, &r, NULL), KITH_EINVAL);
    opset_close(&s);
}

/* created is the hlc of the first effective op, even when that hlc is 0 (which a remote
 * node may send: the decoder accepts any clock value). */
static void
created_at_hlc_zero(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    op_str(op_new(&s, OWNER, 0), "name", "Ada");
    op_str(op_new(&s, OWNER, 5), "title", "x");
    kith_record_t r;
    fold(&s, &r, NULL);
    ASSERT_EQ(r.created, 0);
    ASSERT_EQ(r.updated, 5);
    kith_record_close(&r);
    opset_close(&s);
}

/* A history with every kind of op, folded in 50 shuffled orders: always the same record
 * (compared through its stored encoding) and the same effective flags. */
static void
permutations(void **state)
{
    (void) state;
    opset_t s;
    opset_init(&s);
    kith_op_t *op = op_new(&s, OWNER, 100);
    op->kind = KITH_KIND_ORG;
    op_str(op, "name", "Acme");
    op_str(op, "title", "t0");
    ASSERT_OK(kith_op_add_aud(op, pk(READER), KITH_ROLE_READER));
    op_str(op_new(&s, EDITOR, 110), "title", "early editor");
    op = op_new(&s, OWNER, 120);
    ASSERT_OK(kith_op_add_aud(op, pk(EDITOR), KITH_ROLE_EDITOR));
    ASSERT_OK(kith_op_add_aud(op, pk(READER), KITH_ROLE_READER));
    op_str(op_new(&s, EDITOR, 130), "title", "editor");
    op_str(op_new(&s, OWNER, 130), "title", "owner same hlc");
    op_str(op_new(&s, OWNER, 130), "note", "a");
    op_str(op_new(&s, OWNER, 130), "note", "b");
    op_str(op_new(&s, READER, 140), "name", "reader");
    op_str(op_new(&s, STRANGER, 150), "name", "stranger");
    op = op_new(&s, OWNER, 160);
    op->private = 1;
    op_str(op, "politics", "p");
    op_new(&s, OWNER, 170)->del = 1;
    op_unset(op_new(&s, EDITOR, 175), "note");
    op = op_new(&s, OWNER, 180);
    op->del = 0;
    ASSERT_OK(kith_op_add_aud(op, pk(READER), KITH_ROLE_EDITOR));
    op_cut_all(&s, op, EDITOR);
    op_int(op_new(&s, READER, 190), "influence", 5);
    op_int(op_new(&s, EDITOR, 190), "influence", 1);
    op = op_new(&s, IMPOSTOR, 195);
    memcpy(op->owner, pk(IMPOSTOR), KITH_PK_LEN);
    op_str(op, "name", "impostor");
    op_new(&s, OWNER, 200)->kind = KITH_KIND_PERSON;

    kith_record_t r;
    int want_eff[MAX_OPS];
    fold(&s, &r, want_eff);
    kith_buf_t want;
    kith_buf_init(&want);
    ASSERT_OK(kith_record_encode(&r, &want));
    /* Spot checks that the history does what it says. */
    ASSERT_STREQ(field_str(&r, "name"), "Acme");
    ASSERT_EQ(r.kind, KITH_KIND_ORG);
    ASSERT_EQ(r.deleted, 0);
    assert_null(kith_record_field(&r, "note"));
    ASSERT_EQ(kith_record_role(&r, pk(READER)), KITH_ROLE_EDITOR);
    assert_non_null(kith_record_field(&r, "influence"));
    ASSERT_EQ(want_eff[1], 0);
    ASSERT_EQ(want_eff[3], 1);
    ASSERT_EQ(want_eff[7], 0);
    ASSERT_EQ(want_eff[8], 0);
    kith_record_close(&r);

    uint64_t x = 0x2545f4914f6cdd1dULL;
    assert_any_order(&s, &want, want_eff, 50, &x);
    kith_buf_close(&want);
    opset_close(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(creation),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(last_writer_wins),
        cmocka_unit_test(ties_are_deterministic),
        cmocka_unit_test(unset_removes),
        cmocka_unit_test(non_member_ineffective),
        cmocka_unit_test(reader_ineffective),
        cmocka_unit_test(editor_window),
        cmocka_unit_test(owner_only_parts),
        cmocka_unit_test(kind_fixed_at_creation),
        cmocka_unit_test(delete_and_restore),
        cmocka_unit_test(other_owner_ignored),
        cmocka_unit_test(owner_from_self_signed_op),
        cmocka_unit_test(private_flag_carried),
        cmocka_unit_test(created_at_hlc_zero),
        cmocka_unit_test(permutations),
        cmocka_unit_test(private_layer),
        cmocka_unit_test(list_elements),
        cmocka_unit_test(list_cap),
        cmocka_unit_test(layers_remove_apart),
        cmocka_unit_test(backdating_refused),
        cmocka_unit_test(former_members),
        cmocka_unit_test(random_histories),
        cmocka_unit_test(fold_prefixes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
