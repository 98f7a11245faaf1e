/*
 * Tests for the fold (src/model/fold.c): last-writer-wins per field, deterministic ties,
 * order independence, and who may change what (owner, editors, readers, strangers and
 * impostors naming another owner).
 */
#include "check.h"

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
#define MAX_OPS 32

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
    /* A later shared op on the same field makes it shared again. */
    op_str(op_new(&s, OWNER, 30), "x-private", "now public");
    fold(&s, &r, NULL);
    ASSERT_EQ(kith_record_field(&r, "x-private")->private, 0);
    ASSERT_EQ(kith_record_field(&r, "politics")->private, 1);
    kith_record_close(&r);
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
    op_int(op_new(&s, READER, 190), "influence", 5);
    op_int(op_new(&s, EDITOR, 190), "influence", 1);
    op = op_new(&s, IMPOSTOR, 195);
    memcpy(op->owner, pk(IMPOSTOR), KITH_PK_LEN);
    op_str(op, "name", "impostor");
    op_new(&s, OWNER, 200)->kind = KITH_KIND_PERSON;

    kith_record_t r;
    int want_eff[MAX_OPS], eff[MAX_OPS];
    fold(&s, &r, want_eff);
    kith_buf_t want, got;
    kith_buf_init(&want);
    kith_buf_init(&got);
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
    for (int round = 0; round < 50; round++) {
        for (size_t i = s.n - 1; i > 0; i--) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t j = (size_t) (x % (i + 1));
            kith_fold_input_t t = s.in[i];
            s.in[i] = s.in[j];
            s.in[j] = t;
        }
        int flags[MAX_OPS];
        ASSERT_OK(kith_fold(s.in, s.n, &r, flags));
        for (size_t i = 0; i < s.n; i++) {
            eff[s.in[i].op - s.op] = flags[i];
        }
        assert_memory_equal(eff, want_eff, s.n * sizeof(int));
        got.len = 0;
        ASSERT_OK(kith_record_encode(&r, &got));
        ASSERT_EQ(got.len, want.len);
        assert_memory_equal(got.data, want.data, want.len);
        kith_record_close(&r);
    }
    kith_buf_close(&want);
    kith_buf_close(&got);
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
