/*
 * libFuzzer target for the stored record encoding (src/model/record.c).
 *
 * The input is a candidate encoding, handed to kith_record_decode() as is. The format is
 * not canonical (the decoder accepts any integer width, any non-zero "deleted" or
 * "private" flag, str8 for short strings, names cut at an embedded NUL), so the input
 * bytes themselves need not come back. What must hold is the next strongest promise:
 * a decoded record encodes, that encoding decodes to an equal record, and encoding that
 * record again gives exactly the same bytes (the encoder's output is a fixed point).
 * A decoded record is well-formed as record.h describes it; a failed decode returns
 * KITH_ECORRUPT (or KITH_ENOMEM) and leaves the record empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "kith/kith.h"
#include "model/record.h"
#include "model/schema.h"

static void
check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_record: %s\n", what);
        abort();
    }
}

static void
check_empty(const kith_record_t *r, const char *what)
{
    check(r->fields == NULL && r->n_fields == 0 && r->aud == NULL && r->n_aud == 0, what);
}

static void
check_well_formed(const kith_record_t *r)
{
    check(r->kind == KITH_KIND_PERSON || r->kind == KITH_KIND_ORG, "kind out of range");
    check(r->deleted == 0 || r->deleted == 1, "deleted not a flag");
    check(r->n_fields == 0 || r->fields != NULL, "fields counted but missing");
    check(r->n_aud == 0 || r->aud != NULL, "audience counted but missing");
    for (size_t i = 0; i < r->n_fields; i++) {
        const kith_rfield_t *f = &r->fields[i];
        check(f->name != NULL, "field without a name");
        check(f->private == 0 || f->private == 1, "private not a flag");
        if (f->value.type == KITH_V_STR) {
            check(f->value.str != NULL, "string value without a string");
        } else if (f->value.type == KITH_V_LIST) {
            check(f->value.n_items <= KITH_VALUE_MAX_ITEMS, "list too long");
            for (size_t k = 0; k < f->value.n_items; k++) {
                check(f->value.items[k] != NULL, "list item missing");
            }
        }
    }
    for (size_t i = 0; i < r->n_aud; i++) {
        check(r->aud[i].role <= KITH_ROLE_EDITOR, "audience role out of range");
    }
}

static int
records_equal(const kith_record_t *a, const kith_record_t *b)
{
    if (memcmp(a->id, b->id, KITH_REC_ID_LEN) != 0 ||
        memcmp(a->owner, b->owner, KITH_PK_LEN) != 0 || a->kind != b->kind ||
        a->deleted != b->deleted || a->created != b->created || a->updated != b->updated ||
        a->n_fields != b->n_fields || a->n_aud != b->n_aud) {
        return 0;
    }
    for (size_t i = 0; i < a->n_fields; i++) {
        if (strcmp(a->fields[i].name, b->fields[i].name) != 0 ||
            a->fields[i].private != b->fields[i].private ||
            !kith_value_equal(&a->fields[i].value, &b->fields[i].value)) {
            return 0;
        }
    }
    for (size_t i = 0; i < a->n_aud; i++) {
        if (memcmp(a->aud[i].key, b->aud[i].key, KITH_PK_LEN) != 0 ||
            a->aud[i].role != b->aud[i].role) {
            return 0;
        }
    }
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        check(kith_init() == KITH_OK, "kith_init failed");
        ready = 1;
    }
    kith_record_t r, back;
    kith_buf_t enc, again;

    int rc = kith_record_decode(data, size, &r);
    check(rc == KITH_OK || rc == KITH_ECORRUPT || rc == KITH_ENOMEM,
          "decode returned an undocumented code");
    if (rc != KITH_OK) {
        check_empty(&r, "failed decode left data");
        kith_record_close(&r);
        return 0;
    }
    check_well_formed(&r);

    kith_buf_init(&enc);
    kith_buf_init(&again);
    check(kith_record_encode(&r, &enc) == KITH_OK, "a decoded record does not encode");
    rc = kith_record_decode(enc.data, enc.len, &back);
    check(rc == KITH_OK, "the encoding of a decoded record does not decode");
    check(records_equal(&r, &back), "decode(encode(decode(x))) differs from decode(x)");
    check(kith_record_encode(&back, &again) == KITH_OK, "a re-decoded record does not encode");
    check(again.len == enc.len && memcmp(again.data, enc.data, enc.len) == 0,
          "re-encoding is not a fixed point");
    kith_buf_close(&enc);
    kith_buf_close(&again);
    kith_record_close(&back);
    kith_record_close(&r);
    return 0;
}
