/*
 * Tests for ops (src/model/op.c): building, the canonical encoding (checked against an
 * independent byte-level writer in this file), round trips, hashing, signing, and the
 * decoder's refusal of anything malformed or non-canonical.
 *
 * Keys come from fixed seeds and the clock values are fixed, so every encoding, hash
 * and signature here is reproducible.
 */
#include "check.h"

#include <stdlib.h>

#include <sodium.h>

#include "kith/kith.h"
#include "model/op.h"
#include "model/schema.h"

#define HLC(ms, c) (((uint64_t) (ms) << 16) | (uint64_t) (c))

static kith_identity_t *owner_id, *editor_id, *reader_id;

static kith_identity_t *
make_identity(uint8_t n)
{
    uint8_t seed[KITH_SEED_LEN];
    memset(seed, n, sizeof(seed));
    kith_identity_t *id = NULL;
    if (kith_identity_from_seed(seed, &id) != KITH_OK) {
        return NULL;
    }
    return id;
}

static int
setup(void **state)
{
    (void) state;
    if (kith_init() != KITH_OK) {
        return -1;
    }
    owner_id = make_identity(1);
    editor_id = make_identity(2);
    reader_id = make_identity(3);
    return owner_id && editor_id && reader_id ? 0 : -1;
}

static int
teardown(void **state)
{
    (void) state;
    kith_identity_free(owner_id);
    kith_identity_free(editor_id);
    kith_identity_free(reader_id);
    return 0;
}

/* ---- building ops ------------------------------------------------------------------- */

static void
set_str(kith_op_t *op, const char *name, const char *s)
{
    kith_value_t v = {0};
    ASSERT_OK(kith_value_set_str(&v, s, strlen(s)));
    ASSERT_OK(kith_op_set_field(op, name, &v));
    kith_value_clear(&v);
}

static void
set_int(kith_op_t *op, const char *name, int64_t n)
{
    kith_value_t v = {0};
    kith_value_set_int(&v, n);
    ASSERT_OK(kith_op_set_field(op, name, &v));
}

static void
set_list2(kith_op_t *op, const char *name, const char *a, const char *b)
{
    kith_value_t v = {0};
    ASSERT_OK(kith_value_list_append(&v, a, strlen(a)));
    ASSERT_OK(kith_value_list_append(&v, b, strlen(b)));
    ASSERT_OK(kith_op_set_field(op, name, &v));
    kith_value_clear(&v);
}

static void
set_nil(kith_op_t *op, const char *name)
{
    kith_value_t v = {0};
    ASSERT_OK(kith_op_set_field(op, name, &v));
}

static void
base_op(kith_op_t *op)
{
    kith_op_init(op);
    /* These tests pin version 1, which every kith must still decode byte for byte; the
     * version 2 parts have tests of their own (v2_*). */
    op->version = 1;
    for (int i = 0; i < KITH_REC_ID_LEN; i++) {
        op->rec[i] = (uint8_t) i;
    }
    memcpy(op->owner, owner_id->pk, KITH_PK_LEN);
    memcpy(op->author, owner_id->pk, KITH_PK_LEN);
    op->hlc = HLC(1700000000000ULL, 7);
}

/* An op with every optional part: kind, del, private, an audience with an editor and a
 * reader, and a set with string, integer, list and nil values. Fields and audience are
 * added out of order on purpose. */
static void
full_op(kith_op_t *op)
{
    base_op(op);
    op->kind = KITH_KIND_ORG;
    op->del = 1;
    op->private = 1;
    set_str(op, "x-custom", "free\ntext");
    set_str(op, "name", "Ada Lovelace");
    set_int(op, "influence", 4);
    set_nil(op, "note");
    set_list2(op, "emails", "ada@example.com", "a@b");
    set_int(op, "attitude", -2);
    ASSERT_OK(kith_op_add_aud(op, reader_id->pk, KITH_ROLE_READER));
    ASSERT_OK(kith_op_add_aud(op, editor_id->pk, KITH_ROLE_EDITOR));
}

static void
assert_ops_equal(const kith_op_t *a, const kith_op_t *b)
{
    assert_memory_equal(a->rec, b->rec, KITH_REC_ID_LEN);
    assert_memory_equal(a->owner, b->owner, KITH_PK_LEN);
    assert_memory_equal(a->author, b->author, KITH_PK_LEN);
    assert_true(a->hlc == b->hlc);
    ASSERT_EQ(a->kind, b->kind);
    ASSERT_EQ(a->del, b->del);
    ASSERT_EQ(a->private, b->private);
    ASSERT_EQ(a->has_aud, b->has_aud);
    ASSERT_EQ(a->n_aud, b->n_aud);
    for (size_t i = 0; i < a->n_aud; i++) {
        assert_memory_equal(a->aud[i].key, b->aud[i].key, KITH_PK_LEN);
        ASSERT_EQ(a->aud[i].role, b->aud[i].role);
    }
    ASSERT_EQ(a->n_set, b->n_set);
    for (size_t i = 0; i < a->n_set; i++) {
        ASSERT_STREQ(a->set[i].name, b->set[i].name);
        assert_true(kith_value_equal(&a->set[i].value, &b->set[i].value));
    }
}

/* ---- an independent canonical writer ------------------------------------------------ */

/* Shortest msgpack forms, written byte by byte from the specification. */
static size_t
w_uint(uint8_t *p, uint64_t v)
{
    if (v < 128) {
        p[0] = (uint8_t) v;
        return 1;
    }
    int n = v < 256 ? 1 : v < 65536 ? 2 : v <= UINT32_MAX ? 4 : 8;
    p[0] = n == 1 ? 0xcc : n == 2 ? 0xcd : n == 4 ? 0xce : 0xcf;
    for (int i = 0; i < n; i++) {
        p[1 + i] = (uint8_t) (v >> (8 * (n - 1 - i)));
    }
    return 1 + (size_t) n;
}

static size_t
w_int(uint8_t *p, int64_t v)
{
    if (v >= 0) {
        return w_uint(p, (uint64_t) v);
    }
    if (v >= -32) {
        p[0] = (uint8_t) v;
        return 1;
    }
    int n = v >= -128 ? 1 : v >= -32768 ? 2 : v >= INT32_MIN ? 4 : 8;
    p[0] = n == 1 ? 0xd0 : n == 2 ? 0xd1 : n == 4 ? 0xd2 : 0xd3;
    for (int i = 0; i < n; i++) {
        p[1 + i] = (uint8_t) ((uint64_t) v >> (8 * (n - 1 - i)));
    }
    return 1 + (size_t) n;
}

static size_t
w_hdr(uint8_t *p, uint8_t fix, uint8_t fixmax, uint8_t b8, uint8_t b16, size_t n)
{
    if (n <= fixmax && fix != 0) {
        p[0] = (uint8_t) (fix | n);
        return 1;
    }
    if (n < 256 && b8 != 0) {
        p[0] = b8;
        p[1] = (uint8_t) n;
        return 2;
    }
    p[0] = b16;
    p[1] = (uint8_t) (n >> 8);
    p[2] = (uint8_t) n;
    return 3;
}

static size_t
w_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    size_t h = w_hdr(p, 0xa0, 31, 0xd9, 0xda, n);
    memcpy(p + h, s, n);
    return h + n;
}

static size_t
w_bin(uint8_t *p, const uint8_t *d, size_t n)
{
    size_t h = w_hdr(p, 0, 0, 0xc4, 0xc5, n);
    memcpy(p + h, d, n);
    return h + n;
}

static size_t
w_arr(uint8_t *p, size_t n)
{
    return w_hdr(p, 0x90, 15, 0, 0xdc, n);
}

static size_t
w_map(uint8_t *p, size_t n)
{
    return w_hdr(p, 0x80, 15, 0, 0xde, n);
}

/* One top-level entry: the key and its value's raw bytes. */
typedef struct {
    const char *key;
    uint8_t val[70000];
    size_t len;
} ent_t;

#define MAX_ENT 16

typedef struct {
    ent_t e[MAX_ENT];
    size_t n;
} spec_t;

static ent_t *
add_ent(spec_t *s, const char *key)
{
    assert_true(s->n < MAX_ENT);
    ent_t *e = &s->e[s->n++];
    e->key = key;
    e->len = 0;
    return e;
}

static void
del_ent(spec_t *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->e[i].key, key) == 0) {
            memmove(&s->e[i], &s->e[i + 1], (s->n - i - 1) * sizeof(ent_t));
            s->n--;
            return;
        }
    }
    fail_msg("no entry %s", key);
}

static ent_t *
find_ent(spec_t *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->e[i].key, key) == 0) {
            return &s->e[i];
        }
    }
    fail_msg("no entry %s", key);
    return NULL;
}

/* The default set: the same fields as full_op(), written by hand. */
static size_t
w_full_set(uint8_t *p)
{
    size_t n = w_map(p, 6);
    n += w_str(p + n, "attitude");
    n += w_int(p + n, -2);
    n += w_str(p + n, "emails");
    n += w_arr(p + n, 2);
    n += w_str(p + n, "ada@example.com");
    n += w_str(p + n, "a@b");
    n += w_str(p + n, "influence");
    n += w_int(p + n, 4);
    n += w_str(p + n, "name");
    n += w_str(p + n, "Ada Lovelace");
    n += w_str(p + n, "note");
    p[n++] = 0xc0;
    n += w_str(p + n, "x-custom");
    n += w_str(p + n, "free\ntext");
    return n;
}

/* The spec of full_op(), entry by entry in canonical (bytewise) key order. */
static void
full_spec(spec_t *s)
{
    s->n = 0;
    const uint8_t *ed = editor_id->pk, *rd = reader_id->pk;
    const uint8_t *first = memcmp(ed, rd, 32) < 0 ? ed : rd;
    const uint8_t *second = first == ed ? rd : ed;
    ent_t *e = add_ent(s, "aud");
    e->len = w_arr(e->val, 2);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, first, 32);
    e->len += w_uint(e->val + e->len, first == ed ? 2 : 1);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, second, 32);
    e->len += w_uint(e->val + e->len, second == ed ? 2 : 1);
    e = add_ent(s, "author");
    e->len = w_bin(e->val, owner_id->pk, 32);
    e = add_ent(s, "del");
    e->val[0] = 0xc3;
    e->len = 1;
    e = add_ent(s, "hlc");
    e->len = w_uint(e->val, HLC(1700000000000ULL, 7));
    e = add_ent(s, "kind");
    e->len = w_uint(e->val, 1);
    e = add_ent(s, "owner");
    e->len = w_bin(e->val, owner_id->pk, 32);
    e = add_ent(s, "private");
    e->val[0] = 0xc3;
    e->len = 1;
    uint8_t rec[16];
    for (int i = 0; i < 16; i++) {
        rec[i] = (uint8_t) i;
    }
    e = add_ent(s, "rec");
    e->len = w_bin(e->val, rec, 16);
    e = add_ent(s, "set");
    e->len = w_full_set(e->val);
    e = add_ent(s, "v");
    e->len = w_uint(e->val, 1);
}

/* Writes the map of entries, in the order given. */
static void
emit(const spec_t *s, kith_buf_t *out)
{
    uint8_t hdr[3];
    out->len = 0;
    ASSERT_OK(kith_buf_append(out, hdr, w_map(hdr, s->n)));
    for (size_t i = 0; i < s->n; i++) {
        uint8_t k[40];
        ASSERT_OK(kith_buf_append(out, k, w_str(k, s->e[i].key)));
        ASSERT_OK(kith_buf_append(out, s->e[i].val, s->e[i].len));
    }
}

/* Emits spec and expects the decoder to refuse it with code. */
static void
expect_decode_err(const spec_t *s, int code, const char *what)
{
    kith_buf_t b;
    kith_buf_init(&b);
    emit(s, &b);
    kith_op_t op;
    int rc = kith_op_decode(b.data, b.len, &op);
    if (rc != code) {
        print_error("%s: decode returned %d (%s), expected %d (%s)\n", what, rc, kith_strerror(rc),
                    code, kith_strerror(code));
        if (rc == KITH_OK) {
            kith_op_close(&op);
        }
        fail();
    }
    /* A failed decode leaves an empty op behind. */
    ASSERT_EQ(op.n_set, 0);
    assert_null(op.set);
    assert_null(op.aud);
    kith_buf_close(&b);
}

static spec_t *
new_spec(void)
{
    spec_t *s = malloc(sizeof(*s));
    assert_non_null(s);
    full_spec(s);
    return s;
}

/* ---- tests -------------------------------------------------------------------------- */

static void
build_helpers(void **state)
{
    (void) state;
    kith_op_t op;
    kith_op_init(&op);
    ASSERT_EQ(op.kind, -1);
    ASSERT_EQ(op.del, -1);
    ASSERT_EQ(op.private, 0);
    ASSERT_EQ(op.has_aud, 0);
    /* Fields are kept sorted and unique. */
    set_str(&op, "name", "b");
    set_str(&op, "given", "a");
    set_str(&op, "x-z", "c");
    set_str(&op, "emails", "d");
    ASSERT_STREQ(op.set[0].name, "emails");
    ASSERT_STREQ(op.set[1].name, "given");
    ASSERT_STREQ(op.set[2].name, "name");
    ASSERT_STREQ(op.set[3].name, "x-z");
    kith_value_t v = {0};
    ASSERT_OK(kith_value_set_str(&v, "again", 5));
    ASSERT_ERR(kith_op_set_field(&op, "name", &v), KITH_EEXISTS);
    ASSERT_EQ(op.n_set, 4);
    ASSERT_STREQ(op.set[2].value.str, "b");
    /* The value is copied, not borrowed. */
    ASSERT_OK(kith_op_set_field(&op, "title", &v));
    v.str[0] = 'X';
    ASSERT_STREQ(op.set[3].name, "title");
    ASSERT_STREQ(op.set[3].value.str, "again");
    kith_value_clear(&v);
    /* A repeated audience key keeps the higher role. */
    ASSERT_OK(kith_op_add_aud(&op, reader_id->pk, KITH_ROLE_READER));
    ASSERT_EQ(op.has_aud, 1);
    ASSERT_ERR(kith_op_add_aud(&op, reader_id->pk, KITH_ROLE_EDITOR), KITH_EEXISTS);
    ASSERT_EQ(op.n_aud, 1);
    ASSERT_EQ(op.aud[0].role, KITH_ROLE_EDITOR);
    ASSERT_ERR(kith_op_add_aud(&op, reader_id->pk, KITH_ROLE_READER), KITH_EEXISTS);
    ASSERT_EQ(op.aud[0].role, KITH_ROLE_EDITOR);
    ASSERT_OK(kith_op_add_aud(&op, editor_id->pk, KITH_ROLE_READER));
    ASSERT_EQ(op.n_aud, 2);
    assert_true(memcmp(op.aud[0].key, op.aud[1].key, KITH_PK_LEN) < 0);
    kith_op_close(&op);
    ASSERT_EQ(op.n_set, 0);
    ASSERT_EQ(op.kind, -1);
    kith_op_close(&op); /* twice is harmless */
}

static void
build_limits(void **state)
{
    (void) state;
    kith_op_t op;
    base_op(&op);
    char name[16];
    for (int i = 0; i < KITH_OP_MAX_SET; i++) {
        snprintf(name, sizeof(name), "x-f%03d", i);
        set_int(&op, name, i);
    }
    kith_value_t v = {0};
    ASSERT_ERR(kith_op_set_field(&op, "x-zzz", &v), KITH_ETOOBIG);
    ASSERT_EQ(op.n_set, KITH_OP_MAX_SET);
    for (int i = 0; i < KITH_OP_MAX_AUD; i++) {
        uint8_t key[KITH_PK_LEN] = {0};
        key[0] = (uint8_t) i;
        key[31] = 1;
        ASSERT_OK(kith_op_add_aud(&op, key, KITH_ROLE_READER));
    }
    uint8_t extra[KITH_PK_LEN];
    memset(extra, 0xee, sizeof(extra));
    ASSERT_ERR(kith_op_add_aud(&op, extra, KITH_ROLE_READER), KITH_ETOOBIG);
    ASSERT_EQ(op.n_aud, KITH_OP_MAX_AUD);
    kith_op_close(&op);

    /* An op whose encoding would not fit a sync frame is refused by the encoder. */
    base_op(&op);
    char *big = malloc(KITH_VALUE_MAX_LEN + 1);
    assert_non_null(big);
    memset(big, 'w', KITH_VALUE_MAX_LEN);
    big[KITH_VALUE_MAX_LEN] = '\0';
    set_str(&op, "x-a", big);
    set_str(&op, "x-b", big);
    set_str(&op, "x-c", big);
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_buf_puts(&b, "keep"));
    ASSERT_OK(kith_op_encode(&op, &b));
    assert_true(b.len - 4 <= KITH_OP_MAX_LEN - KITH_SIG_LEN);
    b.len = 4;
    set_str(&op, "x-d", big);
    ASSERT_ERR(kith_op_encode(&op, &b), KITH_ETOOBIG);
    ASSERT_EQ(b.len, 4);
    uint8_t hash[KITH_HASH_LEN];
    ASSERT_ERR(kith_op_sign(&op, owner_id, &b, hash), KITH_ETOOBIG);
    ASSERT_EQ(b.len, 4);
    kith_buf_close(&b);
    kith_op_close(&op);
    free(big);
}

/* The encoder's bytes equal the hand-written canonical form, for the full op. */
static void
encoding_matches_spec(void **state)
{
    (void) state;
    kith_op_t op;
    full_op(&op);
    kith_buf_t enc, want;
    kith_buf_init(&enc);
    kith_buf_init(&want);
    ASSERT_OK(kith_op_encode(&op, &enc));
    spec_t *s = new_spec();
    emit(s, &want);
    ASSERT_EQ(enc.len, want.len);
    assert_memory_equal(enc.data, want.data, want.len);
    free(s);
    kith_buf_close(&enc);
    kith_buf_close(&want);
    kith_op_close(&op);
}

static void
round_trip(void **state)
{
    (void) state;
    kith_op_t ops[6];
    full_op(&ops[0]);
    /* The minimal op: only the required keys and an empty set. */
    base_op(&ops[1]);
    /* del = 0 (restore), an empty audience, kind person. */
    base_op(&ops[2]);
    ops[2].del = 0;
    ops[2].kind = KITH_KIND_PERSON;
    ops[2].has_aud = 1;
    /* An editor's op (author != owner), with integer extremes of the clock. */
    base_op(&ops[3]);
    memcpy(ops[3].author, editor_id->pk, KITH_PK_LEN);
    ops[3].hlc = UINT64_MAX;
    set_str(&ops[3], "note", "multi\nline\ttext \xe2\x82\xac");
    base_op(&ops[4]);
    ops[4].hlc = 0;
    set_nil(&ops[4], "name");
    set_nil(&ops[4], "x-gone");
    /* Every field type of the schema. */
    base_op(&ops[5]);
    set_str(&ops[5], "last_interaction", "2024-02-29");
    set_str(&ops[5], "buying_role", "champion");
    set_str(&ops[5], "reports_to", "0123456789abcdef0123456789abcdef");
    set_list2(&ops[5], "relations", "peer:0123456789abcdef0123456789abcdef",
              "boss:fedcba9876543210fedcba9876543210");
    set_list2(&ops[5], "phones", "+1 555 0100", "(0)30 1234");
    set_list2(&ops[5], "urls", "https://example.com", "example.org");
    set_list2(&ops[5], "tags", "vip", "vip");
    set_int(&ops[5], "influence", 0);
    set_int(&ops[5], "attitude", 2);

    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        kith_buf_t enc, again;
        kith_buf_init(&enc);
        kith_buf_init(&again);
        ASSERT_OK(kith_op_encode(&ops[i], &enc));
        kith_op_t back;
        ASSERT_OK(kith_op_decode(enc.data, enc.len, &back));
        assert_ops_equal(&ops[i], &back);
        /* Stable: re-encoding the decoded op gives the very same bytes. */
        ASSERT_OK(kith_op_encode(&back, &again));
        ASSERT_EQ(again.len, enc.len);
        assert_memory_equal(again.data, enc.data, enc.len);
        kith_op_close(&back);
        kith_op_close(&ops[i]);
        kith_buf_close(&enc);
        kith_buf_close(&again);
    }
}

/* Encoding twice gives identical bytes; building the same op in another order too; the
 * hash of the fixed full op is a known answer. */
static void
hash_stability(void **state)
{
    (void) state;
    kith_op_t a, b;
    full_op(&a);
    base_op(&b);
    b.private = 1;
    b.del = 1;
    b.kind = KITH_KIND_ORG;
    ASSERT_OK(kith_op_add_aud(&b, editor_id->pk, KITH_ROLE_EDITOR));
    ASSERT_OK(kith_op_add_aud(&b, reader_id->pk, KITH_ROLE_READER));
    set_int(&b, "attitude", -2);
    set_list2(&b, "emails", "ada@example.com", "a@b");
    set_int(&b, "influence", 4);
    set_str(&b, "name", "Ada Lovelace");
    set_nil(&b, "note");
    set_str(&b, "x-custom", "free\ntext");
    kith_buf_t e1, e2, e3;
    kith_buf_init(&e1);
    kith_buf_init(&e2);
    kith_buf_init(&e3);
    ASSERT_OK(kith_op_encode(&a, &e1));
    ASSERT_OK(kith_op_encode(&a, &e2));
    ASSERT_OK(kith_op_encode(&b, &e3));
    ASSERT_EQ(e1.len, e2.len);
    assert_memory_equal(e1.data, e2.data, e1.len);
    ASSERT_EQ(e1.len, e3.len);
    assert_memory_equal(e1.data, e3.data, e1.len);
    uint8_t h1[KITH_HASH_LEN], h2[KITH_HASH_LEN];
    kith_op_hash(e1.data, e1.len, h1);
    kith_op_hash(e3.data, e3.len, h2);
    assert_memory_equal(h1, h2, KITH_HASH_LEN);
    uint8_t ref[KITH_HASH_LEN];
    crypto_generichash(ref, sizeof(ref), e1.data, e1.len, NULL, 0);
    assert_memory_equal(h1, ref, KITH_HASH_LEN);

    /* Known answer. This pins the canonical encoding (key order, shortest integers and
     * lengths, which optional keys appear): if it changes, every op hash in every store
     * changes with it, which is a protocol version bump, not a refactoring. */
    char hex[2 * KITH_HASH_LEN + 1];
    sodium_bin2hex(hex, sizeof(hex), h1, KITH_HASH_LEN);
    ASSERT_STREQ(hex, "bfaf27d833528d1ca24a1e6dd70d48e62b6425be59f802599063d13f2cc9795b");

    /* A change anywhere changes the hash. */
    a.hlc++;
    e2.len = 0;
    ASSERT_OK(kith_op_encode(&a, &e2));
    kith_op_hash(e2.data, e2.len, h2);
    assert_memory_not_equal(h1, h2, KITH_HASH_LEN);
    kith_op_close(&a);
    kith_op_close(&b);
    kith_buf_close(&e1);
    kith_buf_close(&e2);
    kith_buf_close(&e3);
}

static void
sign_and_verify(void **state)
{
    (void) state;
    kith_op_t op, back;
    full_op(&op);
    kith_buf_t s, enc;
    kith_buf_init(&s);
    kith_buf_init(&enc);
    uint8_t hash[KITH_HASH_LEN], h2[KITH_HASH_LEN];
    ASSERT_OK(kith_buf_puts(&s, "pre")); /* sign appends */
    ASSERT_OK(kith_op_sign(&op, owner_id, &s, hash));
    ASSERT_OK(kith_op_encode(&op, &enc));
    ASSERT_EQ(s.len, 3 + KITH_SIG_LEN + enc.len);
    assert_memory_equal(s.data + 3 + KITH_SIG_LEN, enc.data, enc.len);
    kith_op_hash(enc.data, enc.len, h2);
    assert_memory_equal(hash, h2, KITH_HASH_LEN);

    const uint8_t *so = s.data + 3;
    size_t so_len = s.len - 3;
    memset(h2, 0, sizeof(h2));
    ASSERT_OK(kith_op_verify(so, so_len, &back, h2));
    assert_ops_equal(&op, &back);
    assert_memory_equal(hash, h2, KITH_HASH_LEN);
    kith_op_close(&back);
    ASSERT_OK(kith_op_verify(so, so_len, &back, NULL));
    kith_op_close(&back);

    /* The signature covers "kith-op-v1" || hash, and nothing else. */
    uint8_t msg[10 + KITH_HASH_LEN];
    memcpy(msg, "kith-op-v1", 10);
    memcpy(msg + 10, hash, KITH_HASH_LEN);
    ASSERT_EQ(crypto_sign_verify_detached(so, msg, sizeof(msg), owner_id->pk), 0);
    assert_true(crypto_sign_verify_detached(so, hash, KITH_HASH_LEN, owner_id->pk) != 0);
    assert_true(crypto_sign_verify_detached(so, enc.data, enc.len, owner_id->pk) != 0);

    /* An editor signs its own ops. */
    memcpy(op.author, editor_id->pk, KITH_PK_LEN);
    s.len = 0;
    ASSERT_OK(kith_op_sign(&op, editor_id, &s, hash));
    ASSERT_OK(kith_op_verify(s.data, s.len, &back, NULL));
    assert_memory_equal(back.author, editor_id->pk, KITH_PK_LEN);
    kith_op_close(&back);

    kith_op_close(&op);
    kith_buf_close(&s);
    kith_buf_close(&enc);
}

static void
sign_refuses_other_author(void **state)
{
    (void) state;
    kith_op_t op;
    full_op(&op); /* author = owner */
    kith_buf_t s;
    kith_buf_init(&s);
    ASSERT_OK(kith_buf_puts(&s, "keep"));
    uint8_t hash[KITH_HASH_LEN];
    ASSERT_ERR(kith_op_sign(&op, editor_id, &s, hash), KITH_EINVAL);
    ASSERT_EQ(s.len, 4);
    ASSERT_ERR(kith_op_sign(&op, reader_id, &s, hash), KITH_EINVAL);
    ASSERT_EQ(s.len, 4);
    kith_buf_close(&s);
    kith_op_close(&op);
}

/* Swapping in another author's key, or someone else's signature, fails. */
static void
verify_rejects_forgeries(void **state)
{
    (void) state;
    kith_op_t op, back;
    full_op(&op);
    kith_buf_t s, other;
    kith_buf_init(&s);
    kith_buf_init(&other);
    uint8_t hash[KITH_HASH_LEN];
    ASSERT_OK(kith_op_sign(&op, owner_id, &s, hash));
    /* The same op claimed by the editor, carrying the owner's signature. */
    memcpy(op.author, editor_id->pk, KITH_PK_LEN);
    ASSERT_OK(kith_buf_append(&other, s.data, KITH_SIG_LEN));
    ASSERT_OK(kith_op_encode(&op, &other));
    ASSERT_ERR(kith_op_verify(other.data, other.len, &back, NULL), KITH_ECRYPTO);
    ASSERT_EQ(back.n_set, 0);
    /* A zero signature. */
    memset(s.data, 0, KITH_SIG_LEN);
    ASSERT_ERR(kith_op_verify(s.data, s.len, &back, NULL), KITH_ECRYPTO);
    /* Too short to hold a signature and an op. */
    ASSERT_ERR(kith_op_verify(s.data, KITH_SIG_LEN, &back, NULL), KITH_EPARSE);
    ASSERT_ERR(kith_op_verify(s.data, 10, &back, NULL), KITH_EPARSE);
    ASSERT_ERR(kith_op_verify(NULL, 0, &back, NULL), KITH_EPARSE);
    kith_op_close(&op);
    kith_buf_close(&s);
    kith_buf_close(&other);
}

static void
verify_rejects_every_flipped_bit(void **state)
{
    (void) state;
    kith_op_t op, back;
    full_op(&op);
    kith_buf_t s;
    kith_buf_init(&s);
    uint8_t hash[KITH_HASH_LEN];
    ASSERT_OK(kith_op_sign(&op, owner_id, &s, hash));
    for (size_t bit = 0; bit < 8 * s.len; bit++) {
        s.data[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        int rc = kith_op_verify(s.data, s.len, &back, NULL);
        if (rc == KITH_OK) {
            print_error("bit %zu flipped: still verifies\n", bit);
            kith_op_close(&back);
            fail();
        }
        ASSERT_EQ(back.n_set, 0);
        s.data[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    ASSERT_OK(kith_op_verify(s.data, s.len, &back, NULL));
    kith_op_close(&back);
    /* Every truncation and an extension fail too. */
    for (size_t n = 0; n < s.len; n++) {
        assert_true(kith_op_verify(s.data, n, &back, NULL) != KITH_OK);
    }
    ASSERT_OK(kith_buf_putc(&s, 0));
    ASSERT_ERR(kith_op_verify(s.data, s.len, &back, NULL), KITH_EPARSE);
    kith_op_close(&op);
    kith_buf_close(&s);
}

/* The hand-written spec decodes, so every rejection below is down to the one change. */
static void
decode_spec_baseline(void **state)
{
    (void) state;
    spec_t *s = new_spec();
    kith_buf_t b;
    kith_buf_init(&b);
    emit(s, &b);
    kith_op_t op, want;
    ASSERT_OK(kith_op_decode(b.data, b.len, &op));
    full_op(&want);
    assert_ops_equal(&want, &op);
    kith_op_close(&op);
    kith_op_close(&want);
    kith_buf_close(&b);
    free(s);
}

static void
decode_rejects_key_order_and_duplicates(void **state)
{
    (void) state;
    spec_t *s = new_spec();
    /* Two top-level keys swapped. */
    for (size_t i = 0; i + 1 < s->n; i++) {
        full_spec(s);
        ent_t *t = malloc(sizeof(*t));
        assert_non_null(t);
        *t = s->e[i];
        s->e[i] = s->e[i + 1];
        s->e[i + 1] = *t;
        free(t);
        expect_decode_err(s, KITH_EPARSE, "swapped top-level keys");
    }
    /* A duplicated top-level key, for each key. */
    for (size_t i = 0; i < 10; i++) {
        full_spec(s);
        memmove(&s->e[i + 1], &s->e[i], (s->n - i) * sizeof(ent_t));
        s->n++;
        expect_decode_err(s, KITH_EPARSE, s->e[i].key);
    }
    /* Unsorted set keys: "name" before "influence". */
    full_spec(s);
    ent_t *e = find_ent(s, "set");
    e->len = w_map(e->val, 2);
    e->len += w_str(e->val + e->len, "name");
    e->len += w_str(e->val + e->len, "Ada");
    e->len += w_str(e->val + e->len, "influence");
    e->len += w_int(e->val + e->len, 4);
    expect_decode_err(s, KITH_EPARSE, "unsorted set");
    /* "name" before "emails": shorter is not smaller in bytewise order. */
    e->len = w_map(e->val, 2);
    e->len += w_str(e->val + e->len, "name");
    e->len += w_str(e->val + e->len, "Ada");
    e->len += w_str(e->val + e->len, "emails");
    e->len += w_arr(e->val + e->len, 1);
    e->len += w_str(e->val + e->len, "a@b");
    expect_decode_err(s, KITH_EPARSE, "set sorted by length");
    /* Duplicate set keys, equal or different values. */
    e->len = w_map(e->val, 2);
    e->len += w_str(e->val + e->len, "name");
    e->len += w_str(e->val + e->len, "Ada");
    e->len += w_str(e->val + e->len, "name");
    e->len += w_str(e->val + e->len, "Ada");
    expect_decode_err(s, KITH_EPARSE, "duplicate set key");
    e->len = w_map(e->val, 2);
    e->len += w_str(e->val + e->len, "name");
    e->len += w_str(e->val + e->len, "Ada");
    e->len += w_str(e->val + e->len, "name");
    e->len += w_str(e->val + e->len, "Bob");
    expect_decode_err(s, KITH_EPARSE, "duplicate set key, other value");
    /* Audience members unsorted, and duplicated. */
    full_spec(s);
    e = find_ent(s, "aud");
    uint8_t lo[32], hi[32];
    memset(lo, 0x11, 32);
    memset(hi, 0x22, 32);
    e->len = w_arr(e->val, 2);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, hi, 32);
    e->len += w_uint(e->val + e->len, 1);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, lo, 32);
    e->len += w_uint(e->val + e->len, 1);
    expect_decode_err(s, KITH_EPARSE, "unsorted audience");
    e->len = w_arr(e->val, 2);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, lo, 32);
    e->len += w_uint(e->val + e->len, 1);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, lo, 32);
    e->len += w_uint(e->val + e->len, 2);
    expect_decode_err(s, KITH_EPARSE, "duplicate audience member");
    free(s);
}

static void
decode_rejects_unknown_and_missing_keys(void **state)
{
    (void) state;
    spec_t *s = new_spec();
    /* Unknown keys, wherever they sort. */
    static const char *const unknown[] = {"a", "color", "hlc2", "zzz", "V", "", "sig"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        full_spec(s);
        size_t at = 0;
        while (at < s->n && strcmp(s->e[at].key, unknown[i]) < 0) {
            at++;
        }
        memmove(&s->e[at + 1], &s->e[at], (s->n - at) * sizeof(ent_t));
        s->n++;
        s->e[at].key = unknown[i];
        s->e[at].val[0] = 0xc0;
        s->e[at].len = 1;
        expect_decode_err(s, KITH_EPARSE, unknown[i]);
    }
    /* Each required key missing. */
    static const char *const required[] = {"author", "hlc", "owner", "rec", "set", "v"};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        full_spec(s);
        del_ent(s, required[i]);
        expect_decode_err(s, KITH_EPARSE, required[i]);
    }
    /* Each optional key may be left out. */
    static const char *const optional[] = {"aud", "del", "kind", "private"};
    for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
        full_spec(s);
        del_ent(s, optional[i]);
        kith_buf_t b;
        kith_buf_init(&b);
        emit(s, &b);
        kith_op_t op;
        ASSERT_OK(kith_op_decode(b.data, b.len, &op));
        kith_op_close(&op);
        kith_buf_close(&b);
    }
    /* Not a map at all. */
    full_spec(s);
    kith_buf_t b;
    kith_buf_init(&b);
    emit(s, &b);
    b.data[0] = (uint8_t) (0x90 | (b.data[0] & 0x0f)); /* fixmap -> fixarray, same count */
    kith_op_t op;
    ASSERT_ERR(kith_op_decode(b.data, b.len, &op), KITH_EPARSE);
    kith_buf_close(&b);
    free(s);
}

static void
decode_rejects_wrong_version(void **state)
{
    (void) state;
    spec_t *s = new_spec();
    static const uint64_t versions[] = {0, 3, 127, 255, 65536};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        find_ent(s, "v")->len = w_uint(find_ent(s, "v")->val, versions[i]);
        expect_decode_err(s, KITH_EVERSION, "wrong version");
    }
    /* A version of the wrong type is malformed rather than unsupported. */
    ent_t *e = find_ent(s, "v");
    e->len = w_str(e->val, "1");
    expect_decode_err(s, KITH_EPARSE, "version as a string");
    e->len = w_int(e->val, -1);
    expect_decode_err(s, KITH_EPARSE, "negative version");
    e->val[0] = 0xc3;
    e->len = 1;
    expect_decode_err(s, KITH_EPARSE, "version as a bool");
    free(s);
}

static void
decode_rejects_wrong_sizes(void **state)
{
    (void) state;
    spec_t *s = new_spec();
    uint8_t junk[64];
    memset(junk, 0x5a, sizeof(junk));
    static const struct {
        const char *key;
        size_t good;
    } fields[] = {{"rec", KITH_REC_ID_LEN}, {"author", KITH_PK_LEN}, {"owner", KITH_PK_LEN}};
    for (size_t f = 0; f < 3; f++) {
        static const int delta[] = {-1, 1, -16, 16};
        for (size_t d = 0; d < 4; d++) {
            full_spec(s);
            ent_t *e = find_ent(s, fields[f].key);
            e->len = w_bin(e->val, junk, (size_t) ((int) fields[f].good + delta[d]));
            expect_decode_err(s, KITH_EPARSE, fields[f].key);
        }
        full_spec(s);
        ent_t *e = find_ent(s, fields[f].key);
        e->len = w_bin(e->val, junk, 0);
        expect_decode_err(s, KITH_EPARSE, "empty bin");
        /* The right length as a string instead of bin. */
        char str[40];
        memset(str, 'k', fields[f].good);
        str[fields[f].good] = '\0';
        e->len = w_str(e->val, str);
        expect_decode_err(s, KITH_EPARSE, "str instead of bin");
        e->val[0] = 0xc0;
        e->len = 1;
        expect_decode_err(s, KITH_EPARSE, "nil instead of bin");
    }
    /* An audience key of the wrong size. */
    full_spec(s);
    ent_t *e = find_ent(s, "aud");
    e->len = w_arr(e->val, 1);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, junk, 31);
    e->len += w_uint(e->val + e->len, 1);
    expect_decode_err(s, KITH_EPARSE, "31-byte audience key");
    free(s);
}

static void
decode_rejects_bad_types(void **state)
{
    (void) state;
    spec_t *s = new_spec();
    ent_t *e;
    uint8_t key[32];
    memset(key, 0x44, sizeof(key));
    /* private: false is never written (absence means not private). */
    e = find_ent(s, "private");
    e->val[0] = 0xc2;
    expect_decode_err(s, KITH_EPARSE, "private false");
    e->len = w_uint(e->val, 1);
    expect_decode_err(s, KITH_EPARSE, "private as int");
    full_spec(s);
    e = find_ent(s, "del");
    e->len = w_uint(e->val, 1);
    expect_decode_err(s, KITH_EPARSE, "del as int");
    e->val[0] = 0xc0;
    e->len = 1;
    expect_decode_err(s, KITH_EPARSE, "del nil");
    full_spec(s);
    e = find_ent(s, "kind");
    e->len = w_uint(e->val, 2);
    expect_decode_err(s, KITH_EPARSE, "kind 2");
    e->len = w_int(e->val, -1);
    expect_decode_err(s, KITH_EPARSE, "kind -1");
    e->len = w_str(e->val, "org");
    expect_decode_err(s, KITH_EPARSE, "kind as text");
    full_spec(s);
    e = find_ent(s, "hlc");
    e->len = w_int(e->val, -5);
    expect_decode_err(s, KITH_EPARSE, "negative hlc");
    e->len = w_str(e->val, "5");
    expect_decode_err(s, KITH_EPARSE, "hlc as text");
    full_spec(s);
    e = find_ent(s, "set");
    e->len = w_arr(e->val, 0);
    expect_decode_err(s, KITH_EPARSE, "set as array");
    e->val[0] = 0xc0;
    e->len = 1;
    expect_decode_err(s, KITH_EPARSE, "set nil");
    /* Audience entries: bad roles, bad shapes. */
    static const uint64_t roles[] = {0, 3, 255};
    full_spec(s);
    e = find_ent(s, "aud");
    for (size_t i = 0; i < 3; i++) {
        e->len = w_arr(e->val, 1);
        e->len += w_arr(e->val + e->len, 2);
        e->len += w_bin(e->val + e->len, key, 32);
        e->len += w_uint(e->val + e->len, roles[i]);
        expect_decode_err(s, KITH_EPARSE, "bad role");
    }
    e->len = w_arr(e->val, 1);
    e->len += w_arr(e->val + e->len, 3);
    e->len += w_bin(e->val + e->len, key, 32);
    e->len += w_uint(e->val + e->len, 1);
    e->len += w_uint(e->val + e->len, 1);
    expect_decode_err(s, KITH_EPARSE, "audience entry of 3");
    e->len = w_arr(e->val, 1);
    e->len += w_bin(e->val + e->len, key, 32);
    expect_decode_err(s, KITH_EPARSE, "bare audience key");
    e->len = w_map(e->val, 0);
    expect_decode_err(s, KITH_EPARSE, "audience as map");
    free(s);
}

/* Integers and lengths must use their shortest form. */
static void
decode_rejects_non_shortest(void **state)
{
    (void) state;
    spec_t *s = new_spec();
    ent_t *e;
    /* hlc 5 as uint8/16/32/64 instead of a fixint. */
    static const uint8_t hlc_forms[][9] = {
        {0xcc, 5},
        {0xcd, 0, 5},
        {0xce, 0, 0, 0, 5},
        {0xcf, 0, 0, 0, 0, 0, 0, 0, 5},
    };
    static const size_t hlc_lens[] = {2, 3, 5, 9};
    for (size_t i = 0; i < 4; i++) {
        full_spec(s);
        e = find_ent(s, "hlc");
        memcpy(e->val, hlc_forms[i], hlc_lens[i]);
        e->len = hlc_lens[i];
        expect_decode_err(s, KITH_EPARSE, "long hlc");
    }
    /* 300 as uint32 instead of uint16. */
    full_spec(s);
    e = find_ent(s, "hlc");
    static const uint8_t h300[] = {0xce, 0, 0, 0x01, 0x2c};
    memcpy(e->val, h300, sizeof(h300));
    e->len = sizeof(h300);
    expect_decode_err(s, KITH_EPARSE, "hlc 300 as uint32");
    /* A small hlc as int8 (signed form of a positive number). */
    e->val[0] = 0xd0;
    e->val[1] = 5;
    e->len = 2;
    expect_decode_err(s, KITH_EPARSE, "hlc as int8");
    /* v and kind as uint8. */
    full_spec(s);
    e = find_ent(s, "v");
    e->val[0] = 0xcc;
    e->val[1] = 1;
    e->len = 2;
    expect_decode_err(s, KITH_EPARSE, "v as uint8");
    full_spec(s);
    e = find_ent(s, "kind");
    e->val[0] = 0xcc;
    e->val[1] = 1;
    e->len = 2;
    expect_decode_err(s, KITH_EPARSE, "kind as uint8");
    /* Audience role as uint8. */
    full_spec(s);
    e = find_ent(s, "aud");
    uint8_t key[32];
    memset(key, 0x44, sizeof(key));
    e->len = w_arr(e->val, 1);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, key, 32);
    e->val[e->len++] = 0xcc;
    e->val[e->len++] = 2;
    expect_decode_err(s, KITH_EPARSE, "role as uint8");
    /* Audience array as array16. */
    e->len = 0;
    e->val[e->len++] = 0xdc;
    e->val[e->len++] = 0;
    e->val[e->len++] = 1;
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, key, 32);
    e->len += w_uint(e->val + e->len, 2);
    expect_decode_err(s, KITH_EPARSE, "array16 audience");
    /* Set values: influence 4 as uint8, attitude -2 as int8, -2 as int16. */
    static const uint8_t infl[][3] = {{0xcc, 4}, {0xd0, 4}, {0xcd, 0, 4}};
    static const size_t infl_len[] = {2, 2, 3};
    for (size_t i = 0; i < 3; i++) {
        full_spec(s);
        e = find_ent(s, "set");
        e->len = w_map(e->val, 1);
        e->len += w_str(e->val + e->len, "influence");
        memcpy(e->val + e->len, infl[i], infl_len[i]);
        e->len += infl_len[i];
        expect_decode_err(s, KITH_EPARSE, "long influence");
    }
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "attitude");
    e->val[e->len++] = 0xd0;
    e->val[e->len++] = 0xfe;
    expect_decode_err(s, KITH_EPARSE, "attitude as int8");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "attitude");
    e->val[e->len++] = 0xd1;
    e->val[e->len++] = 0xff;
    e->val[e->len++] = 0xfe;
    expect_decode_err(s, KITH_EPARSE, "attitude as int16");
    /* Lengths: a short string as str8, a 32-byte bin as bin16, a small map as map16. */
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "name");
    e->val[e->len++] = 0xd9;
    e->val[e->len++] = 3;
    memcpy(e->val + e->len, "Ada", 3);
    e->len += 3;
    expect_decode_err(s, KITH_EPARSE, "str8 value");
    e->len = w_map(e->val, 1);
    e->val[e->len++] = 0xd9; /* field name as str8 */
    e->val[e->len++] = 4;
    memcpy(e->val + e->len, "name", 4);
    e->len += 4;
    e->len += w_str(e->val + e->len, "Ada");
    expect_decode_err(s, KITH_EPARSE, "str8 field name");
    e->len = 0;
    e->val[e->len++] = 0xde;
    e->val[e->len++] = 0;
    e->val[e->len++] = 1;
    e->len += w_str(e->val + e->len, "name");
    e->len += w_str(e->val + e->len, "Ada");
    expect_decode_err(s, KITH_EPARSE, "map16 set");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "tags");
    e->val[e->len++] = 0xdc;
    e->val[e->len++] = 0;
    e->val[e->len++] = 1;
    e->len += w_str(e->val + e->len, "vip");
    expect_decode_err(s, KITH_EPARSE, "array16 list");
    full_spec(s);
    e = find_ent(s, "author");
    e->val[0] = 0xc5;
    e->val[1] = 0;
    e->val[2] = 32;
    memcpy(e->val + 3, owner_id->pk, 32);
    e->len = 35;
    expect_decode_err(s, KITH_EPARSE, "bin16 author");
    free(s);
}

static void
decode_rejects_bad_values(void **state)
{
    (void) state;
    spec_t *s = new_spec();
    ent_t *e = find_ent(s, "set");
    /* Schema violations. */
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "influence");
    e->len += w_int(e->val + e->len, 9);
    expect_decode_err(s, KITH_EPARSE, "influence 9");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "influence");
    e->len += w_str(e->val + e->len, "4");
    expect_decode_err(s, KITH_EPARSE, "influence as text");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "attitude");
    e->len += w_int(e->val + e->len, -3);
    expect_decode_err(s, KITH_EPARSE, "attitude -3");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "emails");
    e->len += w_str(e->val + e->len, "a@b");
    expect_decode_err(s, KITH_EPARSE, "emails as a string");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "emails");
    e->len += w_arr(e->val + e->len, 1);
    e->len += w_str(e->val + e->len, "not an address");
    expect_decode_err(s, KITH_EPARSE, "bad email");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "last_interaction");
    e->len += w_str(e->val + e->len, "2023-02-29");
    expect_decode_err(s, KITH_EPARSE, "bad date");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "bogus");
    e->len += w_str(e->val + e->len, "x");
    expect_decode_err(s, KITH_EPARSE, "unknown field");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "bogus");
    e->val[e->len++] = 0xc0;
    expect_decode_err(s, KITH_EPARSE, "unknown field unset");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "name");
    e->len += w_str(e->val + e->len, "\x1b[2J");
    expect_decode_err(s, KITH_EPARSE, "escape in name");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "name");
    e->len += w_str(e->val + e->len, "\xc0\xaf");
    expect_decode_err(s, KITH_EPARSE, "overlong UTF-8");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "name");
    e->len += w_str(e->val + e->len, "");
    expect_decode_err(s, KITH_EPARSE, "empty name");
    /* An empty list (an unset is nil). */
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "tags");
    e->len += w_arr(e->val + e->len, 0);
    expect_decode_err(s, KITH_EPARSE, "empty list");
    /* A list of non-strings. */
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "tags");
    e->len += w_arr(e->val + e->len, 1);
    e->len += w_uint(e->val + e->len, 1);
    expect_decode_err(s, KITH_EPARSE, "list of ints");
    /* Embedded NUL in a value, a list item and a field name. */
    static const uint8_t nul_val[] = {0x81, 0xa4, 'n', 'a', 'm', 'e', 0xa3, 'A', 0, 'x'};
    memcpy(e->val, nul_val, sizeof(nul_val));
    e->len = sizeof(nul_val);
    expect_decode_err(s, KITH_EPARSE, "NUL in value");
    static const uint8_t nul_item[] = {0x81, 0xa4, 't', 'a', 'g', 's', 0x91, 0xa3, 'v', 0, 'p'};
    memcpy(e->val, nul_item, sizeof(nul_item));
    e->len = sizeof(nul_item);
    expect_decode_err(s, KITH_EPARSE, "NUL in list item");
    static const uint8_t nul_name[] = {0x81, 0xa5, 'x', '-', 'a', 0, 'b', 0xa1, 'v'};
    memcpy(e->val, nul_name, sizeof(nul_name));
    e->len = sizeof(nul_name);
    expect_decode_err(s, KITH_EPARSE, "NUL in field name");
    /* A field name that is not a string. */
    e->len = w_map(e->val, 1);
    e->len += w_uint(e->val + e->len, 1);
    e->len += w_str(e->val + e->len, "x");
    expect_decode_err(s, KITH_EPARSE, "int field name");
    /* Values of forbidden types: float, bin, bool, map, ext. */
    static const uint8_t fl[] = {0x81, 0xa4, 'n', 'o', 't', 'e', 0xca, 0, 0, 0, 0};
    memcpy(e->val, fl, sizeof(fl));
    e->len = sizeof(fl);
    expect_decode_err(s, KITH_EPARSE, "float value");
    static const uint8_t bn[] = {0x81, 0xa4, 'n', 'o', 't', 'e', 0xc4, 1, 'x'};
    memcpy(e->val, bn, sizeof(bn));
    e->len = sizeof(bn);
    expect_decode_err(s, KITH_EPARSE, "bin value");
    static const uint8_t bo[] = {0x81, 0xa4, 'n', 'o', 't', 'e', 0xc3};
    memcpy(e->val, bo, sizeof(bo));
    e->len = sizeof(bo);
    expect_decode_err(s, KITH_EPARSE, "bool value");
    static const uint8_t mp[] = {0x81, 0xa4, 'n', 'o', 't', 'e', 0x80};
    memcpy(e->val, mp, sizeof(mp));
    e->len = sizeof(mp);
    expect_decode_err(s, KITH_EPARSE, "map value");
    static const uint8_t ex[] = {0x81, 0xa4, 'n', 'o', 't', 'e', 0xd4, 1, 0};
    memcpy(e->val, ex, sizeof(ex));
    e->len = sizeof(ex);
    expect_decode_err(s, KITH_EPARSE, "ext value");
    /* A list claiming 2^32 - 1 items. */
    static const uint8_t huge[] = {0x81, 0xa4, 't', 'a', 'g', 's', 0xdd, 0xff, 0xff, 0xff, 0xff};
    memcpy(e->val, huge, sizeof(huge));
    e->len = sizeof(huge);
    expect_decode_err(s, KITH_EPARSE, "huge list");
    free(s);
}

static void
decode_rejects_truncation_and_trailing(void **state)
{
    (void) state;
    kith_op_t op, back;
    full_op(&op);
    kith_buf_t b;
    kith_buf_init(&b);
    ASSERT_OK(kith_op_encode(&op, &b));
    uint8_t *copy = malloc(b.len + 1);
    assert_non_null(copy);
    for (size_t n = 0; n < b.len; n++) {
        /* A fresh allocation of exactly n bytes, so ASan sees any overread. */
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, b.data, n);
        ASSERT_ERR(kith_op_decode(cut, n, &back), KITH_EPARSE);
        free(cut);
    }
    static const uint8_t tails[] = {0x00, 0xc0, 0x90, 0xff};
    for (size_t i = 0; i < sizeof(tails); i++) {
        memcpy(copy, b.data, b.len);
        copy[b.len] = tails[i];
        ASSERT_ERR(kith_op_decode(copy, b.len + 1, &back), KITH_EPARSE);
    }
    /* Two ops back to back are not one op. */
    kith_buf_t two;
    kith_buf_init(&two);
    ASSERT_OK(kith_buf_append(&two, b.data, b.len));
    ASSERT_OK(kith_buf_append(&two, b.data, b.len));
    ASSERT_ERR(kith_op_decode(two.data, two.len, &back), KITH_EPARSE);
    kith_buf_close(&two);
    ASSERT_ERR(kith_op_decode(NULL, 0, &back), KITH_EPARSE);
    free(copy);
    kith_buf_close(&b);
    kith_op_close(&op);
}

/* Bytes of a size the encoder would refuse are refused by the decoder with EPARSE, as the
 * header promises for anything it would not produce. */
static void
decode_rejects_oversized(void **state)
{
    (void) state;
    /* Beyond KITH_OP_MAX_LEN: refused before parsing. */
    size_t n = KITH_OP_MAX_LEN + 1;
    uint8_t *big = calloc(1, n);
    assert_non_null(big);
    kith_op_t op;
    ASSERT_ERR(kith_op_decode(big, n, &op), KITH_EPARSE);
    free(big);

    spec_t *s = new_spec();
    ent_t *e = find_ent(s, "set");
    kith_buf_t b;
    kith_buf_init(&b);
    /* Four custom fields whose strings add up to an encoding of 59970 bytes. */
    size_t item = 14000;
    for (int pass = 0; pass < 2; pass++) {
        char *text = malloc(item + 1);
        assert_non_null(text);
        memset(text, 'y', item);
        text[item] = '\0';
        e->len = w_map(e->val, 4);
        static const char *const names[] = {"x-a", "x-b", "x-c", "x-d"};
        for (int i = 0; i < 4; i++) {
            e->len += w_str(e->val + e->len, names[i]);
            e->len += w_str(e->val + e->len, text);
        }
        free(text);
        emit(s, &b);
        if (pass == 0) {
            /* Grow the four strings to reach the target length. */
            assert_true(b.len < 59970);
            item += (59970 - b.len) / 4;
        }
    }
    assert_true(b.len > KITH_OP_MAX_LEN - KITH_SIG_LEN && b.len <= KITH_OP_MAX_LEN);
    ASSERT_ERR(kith_op_decode(b.data, b.len, &op), KITH_EPARSE);
    kith_buf_close(&b);
    free(s);
}

/* Random corruption of a valid encoding: the decoder either refuses it or accepts an op
 * that re-encodes to exactly the input. */
static void
decode_random_mutations(void **state)
{
    (void) state;
    kith_op_t op, back;
    full_op(&op);
    kith_buf_t b, again;
    kith_buf_init(&b);
    kith_buf_init(&again);
    ASSERT_OK(kith_op_encode(&op, &b));
    uint8_t *m = malloc(b.len + 8);
    assert_non_null(m);
    uint64_t x = 0x853c49e6748fea9bULL;
    long accepted = 0;
    for (int i = 0; i < 30000; i++) {
        memcpy(m, b.data, b.len);
        size_t len = b.len;
        int edits = 1 + i % 3;
        for (int k = 0; k < edits; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            m[(x >> 8) % len] = (uint8_t) x;
        }
        int rc = kith_op_decode(m, len, &back);
        if (rc == KITH_OK) {
            accepted++;
            again.len = 0;
            ASSERT_OK(kith_op_encode(&back, &again));
            ASSERT_EQ(again.len, len);
            assert_memory_equal(again.data, m, len);
            kith_op_close(&back);
        } else {
            assert_true(rc == KITH_EPARSE || rc == KITH_EVERSION);
        }
    }
    /* Byte changes inside string bodies keep many inputs valid. */
    assert_true(accepted > 0);
    free(m);
    kith_buf_close(&b);
    kith_buf_close(&again);
    kith_op_close(&op);
}

/* ---- version 2: list elements, cuts, the private layer ------------------------------- */

/* Inserts an empty entry named key before the entry named before (NULL: at the end). */
static ent_t *
ins_ent(spec_t *s, const char *before, const char *key)
{
    size_t at = s->n;
    for (size_t i = 0; before != NULL && i < s->n; i++) {
        if (strcmp(s->e[i].key, before) == 0) {
            at = i;
            break;
        }
    }
    assert_true(s->n < MAX_ENT);
    memmove(&s->e[at + 1], &s->e[at], (s->n - at) * sizeof(ent_t));
    s->n++;
    s->e[at].key = key;
    s->e[at].len = 0;
    return &s->e[at];
}

static const uint8_t id_lo[KITH_ELEM_ID_LEN] = {1, 2, 3};
static const uint8_t id_hi[KITH_ELEM_ID_LEN] = {0xf0, 0xf1};

/* A version 2 owner op with every part: add, aud with cut, del, kind, rm, set. */
static void
full_op_v2(kith_op_t *op)
{
    base_op(op);
    op->version = 2;
    op->kind = KITH_KIND_PERSON;
    op->del = 0;
    ASSERT_OK(kith_op_add_item(op, "tags", "vip"));
    ASSERT_OK(kith_op_add_item(op, "emails", "b@example.com"));
    ASSERT_OK(kith_op_add_item(op, "emails", "a@example.com"));
    ASSERT_OK(kith_op_add_item(op, "emails", "b@example.com")); /* a repeat: ignored */
    ASSERT_OK(kith_op_rm_elem(op, "phones", id_hi));
    ASSERT_OK(kith_op_rm_elem(op, "phones", id_lo));
    set_str(op, "name", "Ada Lovelace");
    ASSERT_OK(kith_op_add_aud(op, reader_id->pk, KITH_ROLE_READER));
    uint8_t h1[KITH_HASH_LEN], h2[KITH_HASH_LEN];
    memset(h1, 0x22, sizeof(h1));
    memset(h2, 0x11, sizeof(h2));
    ASSERT_OK(kith_op_cut_add(op, editor_id->pk, h1));
    ASSERT_OK(kith_op_cut_add(op, editor_id->pk, h2));
    ASSERT_OK(kith_op_cut_add(op, editor_id->pk, h1)); /* a repeat: ignored */
}

/* The spec of full_op_v2(), written by hand in canonical key order. */
static void
full_spec_v2(spec_t *s)
{
    full_spec(s);
    del_ent(s, "private");
    find_ent(s, "v")->len = w_uint(find_ent(s, "v")->val, 2);
    find_ent(s, "kind")->len = w_uint(find_ent(s, "kind")->val, 0);
    ent_t *e = find_ent(s, "del");
    e->val[0] = 0xc2;
    e = find_ent(s, "aud");
    e->len = w_arr(e->val, 1);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, reader_id->pk, 32);
    e->len += w_uint(e->val + e->len, 1);
    e = ins_ent(s, "aud", "add");
    e->len = w_map(e->val, 2);
    e->len += w_str(e->val + e->len, "emails");
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_str(e->val + e->len, "b@example.com");
    e->len += w_str(e->val + e->len, "a@example.com");
    e->len += w_str(e->val + e->len, "tags");
    e->len += w_arr(e->val + e->len, 1);
    e->len += w_str(e->val + e->len, "vip");
    e = ins_ent(s, "del", "cut");
    uint8_t h1[16], h2[16];
    memset(h1, 0x22, sizeof(h1));
    memset(h2, 0x11, sizeof(h2));
    e->len = w_arr(e->val, 1);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, editor_id->pk, 32);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, h2, 16);
    e->len += w_bin(e->val + e->len, h1, 16);
    e = ins_ent(s, "set", "rm");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "phones");
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, id_lo, 16);
    e->len += w_bin(e->val + e->len, id_hi, 16);
    e = find_ent(s, "set");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "name");
    e->len += w_str(e->val + e->len, "Ada Lovelace");
}

static void
v2_encoding_matches_spec(void **state)
{
    (void) state;
    kith_op_t op, back;
    full_op_v2(&op);
    kith_buf_t enc, want, again;
    kith_buf_init(&enc);
    kith_buf_init(&want);
    kith_buf_init(&again);
    ASSERT_OK(kith_op_encode(&op, &enc));
    spec_t *s = malloc(sizeof(*s));
    assert_non_null(s);
    full_spec_v2(s);
    emit(s, &want);
    ASSERT_EQ(enc.len, want.len);
    assert_memory_equal(enc.data, want.data, want.len);
    /* It decodes to the same op and re-encodes to the same bytes. */
    ASSERT_OK(kith_op_decode(enc.data, enc.len, &back));
    ASSERT_EQ(back.version, 2);
    assert_ops_equal(&op, &back);
    ASSERT_EQ(back.n_add, 2);
    ASSERT_STREQ(back.add[0].name, "emails");
    ASSERT_EQ(back.add[0].value.n_items, 2);
    ASSERT_STREQ(back.add[0].value.items[0], "b@example.com");
    ASSERT_EQ(back.n_rm, 1);
    ASSERT_EQ(back.rm[0].n_ids, 2);
    assert_memory_equal(back.rm[0].ids[0], id_lo, KITH_ELEM_ID_LEN);
    ASSERT_EQ(back.n_cut, 1);
    ASSERT_EQ(back.cut[0].n_hashes, 2);
    ASSERT_OK(kith_op_encode(&back, &again));
    ASSERT_EQ(again.len, enc.len);
    assert_memory_equal(again.data, enc.data, enc.len);
    /* Known answer: pins the version 2 encoding, as hash_stability pins version 1. */
    uint8_t h[KITH_HASH_LEN];
    char hex[2 * KITH_HASH_LEN + 1];
    kith_op_hash(enc.data, enc.len, h);
    sodium_bin2hex(hex, sizeof(hex), h, KITH_HASH_LEN);
    ASSERT_STREQ(hex, "63bbb5aaffe65c9167177ac263aa6b83f131500f4a4e32fceea6dab2bec3686a");
    free(s);
    kith_op_close(&op);
    kith_op_close(&back);
    kith_buf_close(&enc);
    kith_buf_close(&want);
    kith_buf_close(&again);
}

static void
v2_builders_refuse_mixing(void **state)
{
    (void) state;
    kith_op_t op;
    base_op(&op);
    op.version = 2;
    kith_value_t v = {0};
    ASSERT_OK(kith_value_set_str(&v, "x", 1));
    ASSERT_EQ(kith_op_add_item(&op, "name", "x"), KITH_EINVAL); /* not a list */
    ASSERT_EQ(kith_op_rm_elem(&op, "note", id_lo), KITH_EINVAL);
    ASSERT_OK(kith_op_add_item(&op, "tags", "a"));
    ASSERT_EQ(kith_op_rm_elem(&op, "tags", id_lo), KITH_EEXISTS);
    ASSERT_EQ(kith_op_set_field(&op, "tags", &v), KITH_EEXISTS);
    ASSERT_OK(kith_op_rm_elem(&op, "emails", id_lo));
    ASSERT_EQ(kith_op_add_item(&op, "emails", "a@b"), KITH_EEXISTS);
    ASSERT_OK(kith_op_set_field(&op, "phones", &v));
    ASSERT_EQ(kith_op_add_item(&op, "phones", "1"), KITH_EEXISTS);
    /* Element ids depend on the op, the field and the item. */
    uint8_t h[KITH_HASH_LEN] = {0}, a[16], b[16], c[16], d[16];
    kith_op_elem_id(h, "tags", "x", a);
    kith_op_elem_id(h, "tags", "y", b);
    kith_op_elem_id(h, "urls", "x", c);
    h[0] = 1;
    kith_op_elem_id(h, "tags", "x", d);
    assert_memory_not_equal(a, b, 16);
    assert_memory_not_equal(a, c, 16);
    assert_memory_not_equal(a, d, 16);
    /* "tagsx" + "" and "tags" + "x" must not collide (the 0 byte between them). */
    kith_op_elem_id(h, "tagsx", "", a);
    kith_op_elem_id(h, "tags", "x", b);
    assert_memory_not_equal(a, b, 16);
    kith_value_clear(&v);
    kith_op_close(&op);
}

static void
v2_decode_rejects(void **state)
{
    (void) state;
    spec_t *s = malloc(sizeof(*s));
    assert_non_null(s);
    ent_t *e;
    uint8_t h[32] = {0};

    full_spec_v2(s);
    kith_buf_t b;
    kith_buf_init(&b);
    emit(s, &b);
    kith_op_t op;
    ASSERT_OK(kith_op_decode(b.data, b.len, &op)); /* the baseline decodes */
    kith_op_close(&op);
    kith_buf_close(&b);

    find_ent(s, "v")->len = w_uint(find_ent(s, "v")->val, 1);
    expect_decode_err(s, KITH_EPARSE, "version 1 with add, cut and rm");
    find_ent(s, "v")->len = w_uint(find_ent(s, "v")->val, 3);
    expect_decode_err(s, KITH_EVERSION, "version 3");

    full_spec_v2(s);
    e = ins_ent(s, "rec", "private");
    e->val[0] = 0xc3;
    e->len = 1;
    expect_decode_err(s, KITH_EPARSE, "private op with aud, del and kind");

    full_spec_v2(s);
    del_ent(s, "aud");
    expect_decode_err(s, KITH_EPARSE, "cut without aud");

    full_spec_v2(s);
    e = find_ent(s, "add");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "note");
    e->len += w_arr(e->val + e->len, 1);
    e->len += w_str(e->val + e->len, "x");
    expect_decode_err(s, KITH_EPARSE, "add to a field that is not a list");

    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "tags");
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_str(e->val + e->len, "x");
    e->len += w_str(e->val + e->len, "x");
    expect_decode_err(s, KITH_EPARSE, "the same item twice");

    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "tags");
    e->len += w_arr(e->val + e->len, 0);
    expect_decode_err(s, KITH_EPARSE, "an empty add");

    e->len = w_map(e->val, 0);
    expect_decode_err(s, KITH_EPARSE, "an empty add map");

    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "emails");
    e->len += w_arr(e->val + e->len, 1);
    e->len += w_str(e->val + e->len, "not an address");
    expect_decode_err(s, KITH_EPARSE, "an item the schema refuses");

    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "name");
    e->len += w_arr(e->val + e->len, 1);
    e->len += w_str(e->val + e->len, "x");
    expect_decode_err(s, KITH_EPARSE, "a field both set and added");

    full_spec_v2(s);
    e = find_ent(s, "rm");
    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "phones");
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, id_hi, 16);
    e->len += w_bin(e->val + e->len, id_lo, 16);
    expect_decode_err(s, KITH_EPARSE, "element ids out of order");

    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "phones");
    e->len += w_arr(e->val + e->len, 1);
    e->len += w_bin(e->val + e->len, id_lo, 15);
    expect_decode_err(s, KITH_EPARSE, "a short element id");

    e->len = w_map(e->val, 1);
    e->len += w_str(e->val + e->len, "tags");
    e->len += w_arr(e->val + e->len, 1);
    e->len += w_bin(e->val + e->len, id_lo, 16);
    expect_decode_err(s, KITH_EPARSE, "a field both added and removed");

    full_spec_v2(s);
    e = find_ent(s, "cut");
    e->len = w_arr(e->val, 1);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, editor_id->pk, 32);
    e->len += w_arr(e->val + e->len, 1);
    e->len += w_bin(e->val + e->len, h, 32);
    expect_decode_err(s, KITH_EPARSE, "a cut hash of 32 bytes");

    e->len = w_arr(e->val, 1);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, editor_id->pk, 32);
    e->len += w_arr(e->val + e->len, 2);
    e->len += w_bin(e->val + e->len, h, 16);
    e->len += w_bin(e->val + e->len, h, 16);
    expect_decode_err(s, KITH_EPARSE, "a cut hash twice");

    /* A private version 2 op with only field changes decodes. */
    full_spec_v2(s);
    del_ent(s, "aud");
    del_ent(s, "cut");
    del_ent(s, "del");
    del_ent(s, "kind");
    e = ins_ent(s, "rec", "private");
    e->val[0] = 0xc3;
    e->len = 1;
    kith_buf_init(&b);
    emit(s, &b);
    ASSERT_OK(kith_op_decode(b.data, b.len, &op));
    ASSERT_EQ(op.private, 1);
    kith_op_close(&op);
    kith_buf_close(&b);
    free(s);
}

static void
v2_limits(void **state)
{
    (void) state;
    kith_op_t op;
    base_op(&op);
    op.version = 2;
    uint8_t key[KITH_PK_LEN] = {0}, hash[KITH_HASH_LEN] = {0};
    for (size_t i = 0; i < KITH_OP_MAX_CUT; i++) {
        hash[0] = (uint8_t) i;
        hash[1] = (uint8_t) (i >> 8);
        ASSERT_OK(kith_op_cut_add(&op, key, hash));
    }
    hash[2] = 1;
    ASSERT_EQ(kith_op_cut_add(&op, key, hash), KITH_ETOOBIG);
    /* 2,048 hashes of 16 bytes fit in one op. */
    ASSERT_OK(kith_op_add_aud(&op, key, KITH_ROLE_READER));
    kith_buf_t enc;
    kith_buf_init(&enc);
    ASSERT_OK(kith_op_encode(&op, &enc));
    kith_op_t back;
    ASSERT_OK(kith_op_decode(enc.data, enc.len, &back));
    ASSERT_EQ(back.cut[0].n_hashes, KITH_OP_MAX_CUT);
    kith_op_close(&back);
    kith_buf_close(&enc);
    kith_op_close(&op);

    base_op(&op);
    op.version = 2;
    uint8_t id[KITH_ELEM_ID_LEN] = {0};
    for (size_t i = 0; i < KITH_OP_MAX_RM; i++) {
        id[0] = (uint8_t) i;
        id[1] = (uint8_t) (i >> 8);
        ASSERT_OK(kith_op_rm_elem(&op, "tags", id));
    }
    id[2] = 1;
    ASSERT_EQ(kith_op_rm_elem(&op, "tags", id), KITH_ETOOBIG);
    kith_op_close(&op);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_helpers),
        cmocka_unit_test(build_limits),
        cmocka_unit_test(encoding_matches_spec),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(hash_stability),
        cmocka_unit_test(sign_and_verify),
        cmocka_unit_test(sign_refuses_other_author),
        cmocka_unit_test(verify_rejects_forgeries),
        cmocka_unit_test(verify_rejects_every_flipped_bit),
        cmocka_unit_test(decode_spec_baseline),
        cmocka_unit_test(decode_rejects_key_order_and_duplicates),
        cmocka_unit_test(decode_rejects_unknown_and_missing_keys),
        cmocka_unit_test(decode_rejects_wrong_version),
        cmocka_unit_test(decode_rejects_wrong_sizes),
        cmocka_unit_test(decode_rejects_bad_types),
        cmocka_unit_test(decode_rejects_non_shortest),
        cmocka_unit_test(decode_rejects_bad_values),
        cmocka_unit_test(decode_rejects_truncation_and_trailing),
        cmocka_unit_test(decode_rejects_oversized),
        cmocka_unit_test(decode_random_mutations),
        cmocka_unit_test(v2_encoding_matches_spec),
        cmocka_unit_test(v2_builders_refuse_mixing),
        cmocka_unit_test(v2_decode_rejects),
        cmocka_unit_test(v2_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
