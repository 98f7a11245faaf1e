/*
 * Folded records and their storage encoding; see record.h.
 *
 * Stored form (msgpack array): [2, id, owner, kind, deleted, created, updated,
 * [[name, value, private, elems], ...], [[key, role], ...]], where elems is nil, or for a
 * list one array of element ids per item. Version 1 (fields without elems) still decodes:
 * a store is refolded when it is upgraded, but a record read before that must not fail.
 * Who set each field and when is not kept here: `kith log` reads it from the ops.
 */
#include "model/record.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "util/mpack.h"
#include "util/mpcheck.h"

void
kith_record_init(kith_record_t *r)
{
    memset(r, 0, sizeof(*r));
}

void
kith_rfield_clear(kith_rfield_t *f)
{
    for (size_t i = 0; f->elems != NULL && i < f->value.n_items; i++) {
        free(f->elems[i].ids);
    }
    free(f->elems);
    free(f->name);
    kith_value_clear(&f->value);
    memset(f, 0, sizeof(*f));
}

void
kith_record_close(kith_record_t *r)
{
    for (size_t i = 0; i < r->n_fields; i++) {
        kith_rfield_clear(&r->fields[i]);
    }
    free(r->fields);
    free(r->aud);
    free(r->former);
    kith_record_init(r);
}

const kith_rfield_t *
kith_record_field_in(const kith_record_t *r, const char *name, int private)
{
    for (size_t i = 0; i < r->n_fields; i++) {
        if (r->fields[i].private == private && strcmp(r->fields[i].name, name) == 0) {
            return &r->fields[i];
        }
    }
    return NULL;
}

const kith_rfield_t *
kith_record_field(const kith_record_t *r, const char *name)
{
    const kith_rfield_t *f = kith_record_field_in(r, name, 0);
    return f != NULL ? f : kith_record_field_in(r, name, 1);
}

const char *
kith_record_name(const kith_record_t *r)
{
    const kith_rfield_t *f = kith_record_field(r, "name");
    return (f != NULL && f->value.type == KITH_V_STR) ? f->value.str : "(unnamed)";
}

int
kith_record_role(const kith_record_t *r, const uint8_t key[static KITH_PK_LEN])
{
    if (memcmp(r->owner, key, KITH_PK_LEN) == 0) {
        return KITH_ROLE_EDITOR;
    }
    for (size_t i = 0; i < r->n_aud; i++) {
        if (memcmp(r->aud[i].key, key, KITH_PK_LEN) == 0) {
            return r->aud[i].role;
        }
    }
    return 0;
}

int
kith_record_encode(const kith_record_t *r, kith_buf_t *out)
{
    kith_mpsink_t sink;
    msgpack_packer pk;
    kith_mpsink_init(&sink, &pk, out);
    msgpack_pack_array(&pk, 9);
    msgpack_pack_uint8(&pk, 2);
    kith_mp_pack_bin(&pk, r->id, KITH_REC_ID_LEN);
    kith_mp_pack_bin(&pk, r->owner, KITH_PK_LEN);
    msgpack_pack_int(&pk, r->kind);
    msgpack_pack_int(&pk, r->deleted);
    msgpack_pack_uint64(&pk, r->created);
    msgpack_pack_uint64(&pk, r->updated);
    msgpack_pack_array(&pk, r->n_fields);
    for (size_t i = 0; i < r->n_fields; i++) {
        const kith_rfield_t *f = &r->fields[i];
        msgpack_pack_array(&pk, 4);
        kith_mp_pack_str(&pk, f->name);
        const kith_value_t *v = &f->value;
        if (v->type == KITH_V_STR) {
            kith_mp_pack_str(&pk, v->str);
        } else if (v->type == KITH_V_INT) {
            msgpack_pack_int64(&pk, v->num);
        } else if (v->type == KITH_V_LIST) {
            msgpack_pack_array(&pk, v->n_items);
            for (size_t k = 0; k < v->n_items; k++) {
                kith_mp_pack_str(&pk, v->items[k]);
            }
        } else {
            msgpack_pack_nil(&pk);
        }
        msgpack_pack_int(&pk, f->private);
        if (f->elems != NULL && v->type == KITH_V_LIST) {
            msgpack_pack_array(&pk, v->n_items);
            for (size_t k = 0; k < v->n_items; k++) {
                msgpack_pack_array(&pk, f->elems[k].n_ids);
                for (size_t e = 0; e < f->elems[k].n_ids; e++) {
                    kith_mp_pack_bin(&pk, f->elems[k].ids[e], KITH_ELEM_ID_LEN);
                }
            }
        } else {
            msgpack_pack_nil(&pk);
        }
    }
    msgpack_pack_array(&pk, r->n_aud);
    for (size_t i = 0; i < r->n_aud; i++) {
        msgpack_pack_array(&pk, 2);
        kith_mp_pack_bin(&pk, r->aud[i].key, KITH_PK_LEN);
        msgpack_pack_uint8(&pk, r->aud[i].role);
    }
    return sink.rc;
}

static int
get_u64(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return KITH_ECORRUPT;
    }
    *out = o->via.u64;
    return KITH_OK;
}

static int
get_bin(const msgpack_object *o, uint8_t *out, size_t len)
{
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != len) {
        return KITH_ECORRUPT;
    }
    memcpy(out, o->via.bin.ptr, len);
    return KITH_OK;
}

/* The element ids of a list field's items: nil, or one array of ids per item. */
static int
decode_elems(const msgpack_object *o, kith_rfield_t *f)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        return KITH_OK;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY || f->value.type != KITH_V_LIST ||
        o->via.array.size != f->value.n_items) {
        return KITH_ECORRUPT;
    }
    f->elems = calloc(f->value.n_items, sizeof(*f->elems));
    if (f->elems == NULL) {
        return KITH_ENOMEM;
    }
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *ids = &o->via.array.ptr[i];
        if (ids->type != MSGPACK_OBJECT_ARRAY || ids->via.array.size == 0) {
            return KITH_ECORRUPT;
        }
        f->elems[i].ids = malloc(ids->via.array.size * (size_t) KITH_ELEM_ID_LEN);
        if (f->elems[i].ids == NULL) {
            return KITH_ENOMEM;
        }
        for (uint32_t k = 0; k < ids->via.array.size; k++) {
            if (get_bin(&ids->via.array.ptr[k], f->elems[i].ids[k], KITH_ELEM_ID_LEN) != KITH_OK) {
                return KITH_ECORRUPT;
            }
            f->elems[i].n_ids = k + 1;
        }
    }
    return KITH_OK;
}

static int decode_value(const msgpack_object *v, kith_rfield_t *f);

static int
decode_field(const msgpack_object *o, int version, kith_rfield_t *f)
{
    uint64_t priv;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != (version == 1 ? 3u : 4u)) {
        return KITH_ECORRUPT;
    }
    const msgpack_object *a = o->via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_STR || a[0].via.str.size == 0 ||
        memchr(a[0].via.str.ptr, '\0', a[0].via.str.size) != NULL ||
        get_u64(&a[2], &priv) != KITH_OK) {
        return KITH_ECORRUPT;
    }
    f->private = priv != 0;
    f->name = strndup(a[0].via.str.ptr, a[0].via.str.size);
    if (f->name == NULL) {
        return KITH_ENOMEM;
    }
    int rc = decode_value(&a[1], f);
    if (rc == KITH_OK && version >= 2) {
        rc = decode_elems(&a[3], f);
    }
    return rc;
}

static int
decode_value(const msgpack_object *v, kith_rfield_t *f)
{
    switch (v->type) {
    case MSGPACK_OBJECT_STR:
        if (v->via.str.size > KITH_VALUE_MAX_LEN) {
            return KITH_ECORRUPT;
        }
        return kith_value_set_str(&f->value, v->via.str.ptr, v->via.str.size);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        kith_value_set_int(&f->value, (int64_t) v->via.u64);
        return KITH_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        kith_value_set_int(&f->value, v->via.i64);
        return KITH_OK;
    case MSGPACK_OBJECT_ARRAY:
        /* An unset field is absent, never an empty list (which would encode as nil). */
        if (v->via.array.size == 0 || v->via.array.size > KITH_VALUE_MAX_ITEMS) {
            return KITH_ECORRUPT;
        }
        for (uint32_t k = 0; k < v->via.array.size; k++) {
            const msgpack_object *it = &v->via.array.ptr[k];
            if (it->type != MSGPACK_OBJECT_STR || it->via.str.size > KITH_VALUE_MAX_LEN) {
                return KITH_ECORRUPT;
            }
            int rc = kith_value_list_append(&f->value, it->via.str.ptr, it->via.str.size);
            if (rc != KITH_OK) {
                return rc;
            }
        }
        return KITH_OK;
    default:
        return KITH_ECORRUPT;
    }
}

static int
decode_obj(const msgpack_object *o, kith_record_t *r)
{
    uint64_t ver, kind, deleted;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 9) {
        return KITH_ECORRUPT;
    }
    const msgpack_object *a = o->via.array.ptr;
    if (get_u64(&a[0], &ver) != KITH_OK || ver < 1 || ver > 2 ||
        get_bin(&a[1], r->id, KITH_REC_ID_LEN) != KITH_OK ||
        get_bin(&a[2], r->owner, KITH_PK_LEN) != KITH_OK || get_u64(&a[3], &kind) != KITH_OK ||
        get_u64(&a[4], &deleted) != KITH_OK || get_u64(&a[5], &r->created) != KITH_OK ||
        get_u64(&a[6], &r->updated) != KITH_OK || a[7].type != MSGPACK_OBJECT_ARRAY ||
        a[8].type != MSGPACK_OBJECT_ARRAY || kind > 1) {
        return KITH_ECORRUPT;
    }
    r->kind = (int) kind;
    r->deleted = deleted != 0;
    uint32_t nf = a[7].via.array.size, na = a[8].via.array.size;
    if (nf > 0) {
        r->fields = calloc(nf, sizeof(*r->fields));
        if (r->fields == NULL) {
            return KITH_ENOMEM;
        }
    }
    for (uint32_t i = 0; i < nf; i++) {
        r->n_fields = i + 1;
        int rc = decode_field(&a[7].via.array.ptr[i], (int) ver, &r->fields[i]);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    if (na > 0) {
        r->aud = calloc(na, sizeof(*r->aud));
        if (r->aud == NULL) {
            return KITH_ENOMEM;
        }
    }
    for (uint32_t i = 0; i < na; i++) {
        const msgpack_object *e = &a[8].via.array.ptr[i];
        uint64_t role;
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
            get_bin(&e->via.array.ptr[0], r->aud[i].key, KITH_PK_LEN) != KITH_OK ||
            get_u64(&e->via.array.ptr[1], &role) != KITH_OK || role > KITH_ROLE_EDITOR) {
            return KITH_ECORRUPT;
        }
        r->aud[i].role = (uint8_t) role;
        r->n_aud = i + 1;
    }
    return KITH_OK;
}

int
kith_record_decode(const uint8_t *data, size_t len, kith_record_t *r)
{
    kith_record_init(r);
    if (kith_mpcheck(data, len, 5) != KITH_OK) {
        return KITH_ECORRUPT;
    }
    msgpack_unpacked msg;
    msgpack_unpacked_init(&msg);
    size_t off = 0;
    int rc = KITH_ECORRUPT;
    if (msgpack_unpack_next(&msg, (const char *) data, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        off == len) {
        rc = decode_obj(&msg.data, r);
    }
    msgpack_unpacked_destroy(&msg);
    if (rc != KITH_OK) {
        kith_record_close(r);
    }
    return rc;
}
