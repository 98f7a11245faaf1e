/*
 * Tests for folded records (src/model/record.c): the stored encoding's round trip, the
 * decoder on garbage and truncation, and field and role lookup.
 */
#include "check.h"

#include <stdlib.h>

#include "kith/kith.h"
#include "model/record.h"
#include "model/schema.h"

static uint8_t OWNER[KITH_PK_LEN], EDITOR[KITH_PK_LEN], READER[KITH_PK_LEN], STRANGER[KITH_PK_LEN];

static int
setup(void **state)
{
    (void) state;
    memset(OWNER, 0x0a, sizeof(OWNER));
    memset(EDITOR, 0xed, sizeof(EDITOR));
    memset(READER, 0x7e, sizeof(READER));
    memset(STRANGER, 0x55, sizeof(STRANGER));
    return kith_init() == KITH_OK ? 0 : -1;
}

static kith_rfield_t *
add_field(kith_record_t *r, const char *name, int private)
{
    kith_rfield_t *p = realloc(r->fields, (r->n_fields + 1) * sizeof(*p));
    assert_non_null(p);
    r->fields = p;
    kith_rfield_t *f = &r->fields[r->n_fields++];
    memset(f, 0, sizeof(*f));
    f->name = strdup(name);
    assert_non_null(f->name);
    f->private = private;
    return f;
}

static void
add_aud(kith_record_t *r, const uint8_t key[KITH_PK_LEN], uint8_t role)
{
    kith_aud_t *p = realloc(r->aud, (r->n_aud + 1) * sizeof(*p));
    assert_non_null(p);
    r->aud = p;
    memcpy(r->aud[r->n_aud].key, key, KITH_PK_LEN);
    r->aud[r->n_aud].role = role;
    r->n_aud++;
}

/* A record with every kind of value, sorted fields, an audience and extreme clocks. */
static void
sample(kith_record_t *r)
{
    kith_record_init(r);
    for (int i = 0; i < KITH_REC_ID_LEN; i++) {
        r->id[i] = (uint8_t) (0xf0 + i);
    }
    memcpy(r->owner, OWNER, KITH_PK_LEN);
    r->kind = KITH_KIND_ORG;
    r->deleted = 1;
    r->created = 1;
    r->updated = UINT64_MAX;
    kith_rfield_t *f = add_field(r, "attitude", 0);
    kith_value_set_int(&f->value, -2);
    f = add_field(r, "emails", 0);
    ASSERT_OK(kith_value_list_append(&f->value, "a@b", 3));
    ASSERT_OK(kith_value_list_append(&f->value, "c@d", 3));
    /* Element ids: one instance behind the first item, two behind the second. */
    f->elems = calloc(2, sizeof(*f->elems));
    assert_non_null(f->elems);
    for (size_t i = 0; i < 2; i++) {
        f->elems[i].n_ids = i + 1;
        f->elems[i].ids = malloc((i + 1) * KITH_ELEM_ID_LEN);
        assert_non_null(f->elems[i].ids);
        memset(f->elems[i].ids, (int) (0xa0 + i), (i + 1) * KITH_ELEM_ID_LEN);
    }
    f = add_field(r, "emails", 1); /* the same name in the private layer */
    ASSERT_OK(kith_value_list_append(&f->value, "private@b", 9));
    f = add_field(r, "influence", 1);
    kith_value_set_int(&f->value, 5);
    f = add_field(r, "name", 0);
    ASSERT_OK(kith_value_set_str(&f->value,
                                 "\xc3\x98"
                                 "deg\xc3\xa5rd AS",
                                 13));
    f = add_field(r, "note", 1);
    ASSERT_OK(kith_value_set_str(&f->value, "line\nline", 9));
    f = add_field(r, "x-big", 0);
    kith_value_set_int(&f->value, INT64_MAX);
    f = add_field(r, "x-small", 0);
    kith_value_set_int(&f->value, INT64_MIN);
    add_aud(r, EDITOR, KITH_ROLE_EDITOR);
    add_aud(r, READER, KITH_ROLE_READER);
}

static void
assert_records_equal(const kith_record_t *a, const kith_record_t *b)
{
    assert_memory_equal(a->id, b->id, KITH_REC_ID_LEN);
    assert_memory_equal(a->owner, b->owner, KITH_PK_LEN);
    ASSERT_EQ(a->kind, b->kind);
    ASSERT_EQ(a->deleted, b->deleted);
    assert_true(a->created == b->created);
    assert_true(a->updated == b->updated);
    ASSERT_EQ(a->n_fields, b->n_fields);
    for (size_t i = 0; i < a->n_fields; i++) {
        ASSERT_STREQ(a->fields[i].name, b->fields[i].name);
        assert_true(kith_value_equal(&a->fields[i].value, &b->fields[i].value));
        ASSERT_EQ(a->fields[i].private, b->fields[i].private);
        ASSERT_EQ(a->fields[i].elems == NULL, b->fields[i].elems == NULL);
        for (size_t k = 0; a->fields[i].elems != NULL && k < a->fields[i].value.n_items; k++) {
            ASSERT_EQ(a->fields[i].elems[k].n_ids, b->fields[i].elems[k].n_ids);
            assert_memory_equal(a->fields[i].elems[k].ids, b->fields[i].elems[k].ids,
                                a->fields[i].elems[k].n_ids * KITH_ELEM_ID_LEN);
        }
    }
    ASSERT_EQ(a->n_aud, b->n_aud);
    for (size_t i = 0; i < a->n_aud; i++) {
        assert_memory_equal(a->aud[i].key, b->aud[i].key, KITH_PK_LEN);
        ASSERT_EQ(a->aud[i].role, b->aud[i].role);
    }
}

static void
round_trip(void **state)
{
    (void) state;
    kith_record_t r, back;
    sample(&r);
    kith_buf_t enc, again;
    kith_buf_init(&enc);
    kith_buf_init(&again);
    ASSERT_OK(kith_record_encode(&r, &enc));
    ASSERT_OK(kith_record_decode(enc.data, enc.len, &back));
    assert_records_equal(&r, &back);
    ASSERT_OK(kith_record_encode(&back, &again));
    ASSERT_EQ(again.len, enc.len);
    assert_memory_equal(again.data, enc.data, enc.len);
    kith_record_close(&back);
    kith_record_close(&r);

    /* An empty record: no fields, no audience, person, live. */
    kith_record_init(&r);
    enc.len = 0;
    ASSERT_OK(kith_record_encode(&r, &enc));
    ASSERT_OK(kith_record_decode(enc.data, enc.len, &back));
    assert_records_equal(&r, &back);
    ASSERT_EQ(back.n_fields, 0);
    ASSERT_EQ(back.deleted, 0);
    kith_record_close(&back);
    kith_record_close(&r);
    kith_record_close(&r); /* twice is harmless */
    kith_buf_close(&enc);
    kith_buf_close(&again);
}

static void
lookup(void **state)
{
    (void) state;
    kith_record_t r;
    sample(&r);
    ASSERT_STREQ(kith_record_name(&r), "\xc3\x98"
                                       "deg\xc3\xa5rd AS");
    assert_non_null(kith_record_field(&r, "note"));
    ASSERT_EQ(kith_record_field(&r, "note")->private, 1);
    assert_null(kith_record_field(&r, "title"));
    assert_null(kith_record_field(&r, "Name"));
    assert_null(kith_record_field(&r, ""));
    ASSERT_EQ(kith_record_role(&r, OWNER), KITH_ROLE_EDITOR);
    ASSERT_EQ(kith_record_role(&r, EDITOR), KITH_ROLE_EDITOR);
    ASSERT_EQ(kith_record_role(&r, READER), KITH_ROLE_READER);
    ASSERT_EQ(kith_record_role(&r, STRANGER), 0);
    /* A key differing in its last byte is a stranger. */
    uint8_t near[KITH_PK_LEN];
    memcpy(near, EDITOR, KITH_PK_LEN);
    near[31] ^= 1;
    ASSERT_EQ(kith_record_role(&r, near), 0);
    /* The owner is an editor whatever the audience says. */
    add_aud(&r, OWNER, KITH_ROLE_READER);
    ASSERT_EQ(kith_record_role(&r, OWNER), KITH_ROLE_EDITOR);
    kith_record_close(&r);
    /* No name field, or a name that is not text. */
    kith_record_init(&r);
    ASSERT_STREQ(kith_record_name(&r), "(unnamed)");
    ASSERT_EQ(kith_record_role(&r, STRANGER), 0);
    kith_rfield_t *f = add_field(&r, "name", 0);
    kith_value_set_int(&f->value, 3);
    ASSERT_STREQ(kith_record_name(&r), "(unnamed)");
    kith_record_close(&r);
}

static void
expect_corrupt(const uint8_t *data, size_t len, const char *what)
{
    kith_record_t r;
    int rc = kith_record_decode(data, len, &r);
    if (rc != KITH_ECORRUPT) {
        print_error("%s: decode returned %d (%s)\n", what, rc, kith_strerror(rc));
        if (rc == KITH_OK) {
            kith_record_close(&r);
        }
        fail();
    }
    ASSERT_EQ(r.n_fields, 0);
    assert_null(r.fields);
    assert_null(r.aud);
}

#define CORRUPT(lit, what) expect_corrupt((const uint8_t *) (lit), sizeof(lit) - 1, (what))

/* The header of the sample's encoding: [1, id, owner, kind, deleted, created, updated. */
static size_t
header(uint8_t *p, uint8_t version, uint8_t kind)
{
    size_t n = 0;
    p[n++] = 0x99; /* array of 9 */
    p[n++] = version;
    p[n++] = 0xc4;
    p[n++] = 16;
    memset(p + n, 1, 16);
    n += 16;
    p[n++] = 0xc4;
    p[n++] = 32;
    memcpy(p + n, OWNER, 32);
    n += 32;
    p[n++] = kind;
    p[n++] = 0; /* deleted */
    p[n++] = 1; /* created */
    p[n++] = 2; /* updated */
    return n;
}

static void
decode_garbage(void **state)
{
    (void) state;
    uint8_t buf[256];
    size_t n;
    /* The hand-written header with two empty arrays is a valid record. */
    n = header(buf, 1, 1);
    buf[n++] = 0x90;
    buf[n++] = 0x90;
    kith_record_t r;
    ASSERT_OK(kith_record_decode(buf, n, &r));
    ASSERT_EQ(r.kind, KITH_KIND_ORG);
    kith_record_close(&r);

    expect_corrupt(NULL, 0, "empty");
    CORRUPT("\xc0", "nil");
    CORRUPT("\x90", "empty array");
    CORRUPT("\x80", "empty map");
    CORRUPT("\x98\x01\x01\x01\x01\x01\x01\x01\x01", "array of 8");
    CORRUPT("\xca\x00\x00\x00\x00", "float");
    CORRUPT("\xdd\xff\xff\xff\xff", "huge array claim");
    CORRUPT("not msgpack at all, just text", "text");

    /* Wrong version, kind and header types. */
    n = header(buf, 3, 1);
    buf[n++] = 0x90;
    buf[n++] = 0x90;
    expect_corrupt(buf, n, "version 3");
    n = header(buf, 0, 1);
    buf[n++] = 0x90;
    buf[n++] = 0x90;
    expect_corrupt(buf, n, "version 0");
    n = header(buf, 1, 2);
    buf[n++] = 0x90;
    buf[n++] = 0x90;
    expect_corrupt(buf, n, "kind 2");
    n = header(buf, 1, 0xff); /* -1 */
    buf[n++] = 0x90;
    buf[n++] = 0x90;
    expect_corrupt(buf, n, "kind -1");
    n = header(buf, 1, 1);
    buf[3] = 15; /* 15-byte id: shifts everything after it */
    buf[n++] = 0x90;
    buf[n++] = 0x90;
    expect_corrupt(buf, n, "short id");
    n = header(buf, 1, 1);
    buf[n++] = 0x80; /* fields as a map */
    buf[n++] = 0x90;
    expect_corrupt(buf, n, "fields as map");
    n = header(buf, 1, 1);
    buf[n++] = 0x90;
    buf[n++] = 0xc0; /* audience nil */
    expect_corrupt(buf, n, "audience nil");
    /* Trailing bytes. */
    n = header(buf, 1, 1);
    buf[n++] = 0x90;
    buf[n++] = 0x90;
    buf[n++] = 0xc0;
    expect_corrupt(buf, n, "trailing byte");

    /* Malformed fields: wrong arity, non-string name, forbidden value types, list of
     * non-strings, private not an integer. */
    static const struct {
        const char *what;
        const char *bytes;
        size_t len;
    } fields[] = {
        {"field of 2", "\x92\xa1n\xa1v", 5},
        {"field of 4", "\x94\xa1n\xa1v\x00\x00", 7},
        {"int name", "\x93\x01\xa1v\x00", 5},
        {"bin value", "\x93\xa1n\xc4\x01v\x00", 7},
        {"bool value", "\x93\xa1n\xc3\x00", 5},
        {"map value", "\x93\xa1n\x80\x00", 5},
        {"list of ints", "\x93\xa1n\x91\x01\x00", 6},
        {"private nil", "\x93\xa1n\xa1v\xc0", 6},
        {"private -1", "\x93\xa1n\xa1v\xff", 6},
        {"not an array", "\xa1n", 2},
        /* found by fuzz_record: an empty list decoded, then encoded as nil */
        {"empty list", "\x93\xa4tags\x90\x00", 8},
        {"empty name", "\x93\xa0\xa1v\x00", 5},
        {"NUL in name", "\x93\xa3n\x00m\xa1v\x00", 8},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        n = header(buf, 1, 0);
        buf[n++] = 0x91;
        memcpy(buf + n, fields[i].bytes, fields[i].len);
        n += fields[i].len;
        buf[n++] = 0x90;
        expect_corrupt(buf, n, fields[i].what);
    }
    /* Version 2 fields carry element ids: nil, or one non-empty array of 16-byte ids per
     * list item. */
    static const struct {
        const char *what;
        const char *bytes;
        size_t len;
    } v2fields[] = {
        {"v2 field of 3", "\x93\xa1n\xa1v\x00", 6},
        {"elems on text", "\x94\xa1n\xa1v\x00\x91\x90", 8},
        {"elems count", "\x94\xa4tags\x91\xa1t\x00\x92\x90\x90", 13},
        {"empty elems", "\x94\xa4tags\x91\xa1t\x00\x91\x90", 12},
        {"elems not array", "\x94\xa4tags\x91\xa1t\x00\x01", 11},
        {"short elem id", "\x94\xa4tags\x91\xa1t\x00\x91\x91\xc4\x01x", 15},
    };
    for (size_t i = 0; i < sizeof(v2fields) / sizeof(v2fields[0]); i++) {
        n = header(buf, 2, 0);
        buf[n++] = 0x91;
        memcpy(buf + n, v2fields[i].bytes, v2fields[i].len);
        n += v2fields[i].len;
        buf[n++] = 0x90;
        expect_corrupt(buf, n, v2fields[i].what);
    }
    /* A version 1 record (fields of 3, no element ids) still decodes. */
    n = header(buf, 1, 0);
    buf[n++] = 0x91;
    memcpy(buf + n, "\x93\xa4tags\x91\xa1t\x01", 10);
    n += 10;
    buf[n++] = 0x90;
    kith_record_t r1;
    ASSERT_OK(kith_record_decode(buf, n, &r1));
    ASSERT_EQ(r1.n_fields, 1);
    ASSERT_EQ(r1.fields[0].private, 1);
    assert_null(r1.fields[0].elems);
    kith_record_close(&r1);

    /* Malformed audience entries. */
    static const struct {
        const char *what;
        uint8_t keylen, role;
    } aud[] = {{"role 3", 32, 3}, {"31-byte key", 31, 1}, {"33-byte key", 33, 2}};
    for (size_t i = 0; i < sizeof(aud) / sizeof(aud[0]); i++) {
        n = header(buf, 1, 0);
        buf[n++] = 0x90;
        buf[n++] = 0x91;
        buf[n++] = 0x92;
        buf[n++] = 0xc4;
        buf[n++] = aud[i].keylen;
        memset(buf + n, 0x33, aud[i].keylen);
        n += aud[i].keylen;
        buf[n++] = aud[i].role;
        expect_corrupt(buf, n, aud[i].what);
    }
}

static void
decode_truncated(void **state)
{
    (void) state;
    kith_record_t r;
    sample(&r);
    kith_buf_t enc;
    kith_buf_init(&enc);
    ASSERT_OK(kith_record_encode(&r, &enc));
    kith_record_close(&r);
    for (size_t n = 0; n < enc.len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, enc.data, n);
        expect_corrupt(cut, n, "truncated");
        free(cut);
    }
    kith_buf_close(&enc);
}

/* Random corruption never crashes the decoder (ASan/UBSan builds check the rest). */
static void
decode_random_mutations(void **state)
{
    (void) state;
    kith_record_t r;
    sample(&r);
    kith_buf_t enc;
    kith_buf_init(&enc);
    ASSERT_OK(kith_record_encode(&r, &enc));
    kith_record_close(&r);
    uint8_t *m = malloc(enc.len);
    assert_non_null(m);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 30000; i++) {
        memcpy(m, enc.data, enc.len);
        for (int k = 0; k <= i % 4; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            m[(x >> 8) % enc.len] = (uint8_t) x;
        }
        int rc = kith_record_decode(m, enc.len, &r);
        assert_true(rc == KITH_OK || rc == KITH_ECORRUPT);
        if (rc == KITH_OK) {
            kith_record_close(&r);
        } else {
            ASSERT_EQ(r.n_fields, 0);
        }
    }
    free(m);
    kith_buf_close(&enc);
}

/* Values the model never holds (over-long strings, over-long lists) are malformed too. */
static void
decode_oversized_values(void **state)
{
    (void) state;
    size_t len = KITH_VALUE_MAX_LEN + 1;
    uint8_t *buf = malloc(len + 200);
    assert_non_null(buf);
    size_t n = header(buf, 1, 0);
    buf[n++] = 0x91;
    buf[n++] = 0x93;
    buf[n++] = 0xa4;
    memcpy(buf + n, "note", 4);
    n += 4;
    buf[n++] = 0xda;
    buf[n++] = (uint8_t) (len >> 8);
    buf[n++] = (uint8_t) len;
    memset(buf + n, 'z', len);
    n += len;
    buf[n++] = 0;
    buf[n++] = 0x90;
    expect_corrupt(buf, n, "over-long string");
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(lookup),
        cmocka_unit_test(decode_garbage),
        cmocka_unit_test(decode_truncated),
        cmocka_unit_test(decode_random_mutations),
        cmocka_unit_test(decode_oversized_values),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
