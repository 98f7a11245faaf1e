/*
 * Ops: canonical msgpack encoding, hashing, signing; see op.h and proto/OPS.md.
 */
#include "model/op.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "util/mpack.h"
#include "model/schema.h"
#include "util/mpcheck.h"

static const char sig_context[] = "kith-op-v1";

static void
rec_id_mac(const uint8_t owner[KITH_PK_LEN], const uint8_t nonce[8], uint8_t out[8])
{
    static const char ctx[] = "kith-rec-v1";
    uint8_t h[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *) ctx, sizeof(ctx) - 1);
    crypto_generichash_update(&st, owner, KITH_PK_LEN);
    crypto_generichash_update(&st, nonce, 8);
    crypto_generichash_final(&st, h, sizeof(h));
    memcpy(out, h, 8);
}

void
kith_op_rec_id_make(const uint8_t owner[static KITH_PK_LEN], const uint8_t nonce[static 8],
                    uint8_t rec[static KITH_REC_ID_LEN])
{
    memcpy(rec, nonce, 8);
    rec_id_mac(owner, nonce, rec + 8);
}

int
kith_op_rec_id_check(const uint8_t rec[static KITH_REC_ID_LEN],
                     const uint8_t owner[static KITH_PK_LEN])
{
    uint8_t mac[8];
    rec_id_mac(owner, rec, mac);
    return sodium_memcmp(mac, rec + 8, 8) == 0;
}

void
kith_op_init(kith_op_t *op)
{
    memset(op, 0, sizeof(*op));
    op->version = KITH_OP_VERSION;
    op->kind = -1;
    op->del = -1;
}

static void
fields_free(kith_op_field_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].name);
        kith_value_clear(&f[i].value);
    }
    free(f);
}

void
kith_op_close(kith_op_t *op)
{
    fields_free(op->set, op->n_set);
    fields_free(op->add, op->n_add);
    for (size_t i = 0; i < op->n_rm; i++) {
        free(op->rm[i].name);
        free(op->rm[i].ids);
    }
    free(op->rm);
    for (size_t i = 0; i < op->n_cut; i++) {
        free(op->cut[i].hashes);
    }
    free(op->cut);
    free(op->aud);
    kith_op_init(op);
}

/* Where name goes in a name-sorted array of n elements of size `size` whose first member
 * is the name; *found tells whether it is there. */
static size_t
name_slot(const void *arr, size_t n, size_t size, const char *name, int *found)
{
    size_t at = 0;
    while (at < n && strcmp(*(char *const *) ((const char *) arr + at * size), name) < 0) {
        at++;
    }
    *found = at < n && strcmp(*(char *const *) ((const char *) arr + at * size), name) == 0;
    return at;
}

/* 1 if a name-sorted array of n elements (name first, as in name_slot) holds name. */
static int
has_name(const void *arr, size_t n, size_t size, const char *name)
{
    int found;
    name_slot(arr, n, size, name, &found);
    return found;
}

/* Inserts a zeroed element named name (a copy) at `at`; *arr grows by one. */
static int
name_insert(void **arr, size_t *n, size_t size, size_t at, const char *name)
{
    char *copy = strdup(name);
    char *p = copy != NULL ? realloc(*arr, (*n + 1) * size) : NULL;
    if (p == NULL) {
        free(copy);
        return KITH_ENOMEM;
    }
    *arr = p;
    memmove(p + (at + 1) * size, p + at * size, (*n - at) * size);
    memset(p + at * size, 0, size);
    memcpy(p + at * size, &copy, sizeof(copy));
    (*n)++;
    return KITH_OK;
}

/* Inserts len bytes `item` into a sorted array of fixed-size ids; 0 if already there. */
static int
id_insert(uint8_t **arr, size_t *n, size_t len, const uint8_t *item)
{
    size_t at = 0;
    while (at < *n && memcmp(*arr + at * len, item, len) < 0) {
        at++;
    }
    if (at < *n && memcmp(*arr + at * len, item, len) == 0) {
        return 0;
    }
    uint8_t *p = realloc(*arr, (*n + 1) * len);
    if (p == NULL) {
        return KITH_ENOMEM;
    }
    *arr = p;
    memmove(p + (at + 1) * len, p + at * len, (*n - at) * len);
    memcpy(p + at * len, item, len);
    (*n)++;
    return 1;
}

int
kith_op_add_item(kith_op_t *op, const char *name, const char *item)
{
    int found;
    if (!kith_schema_is_list(name)) {
        return KITH_EINVAL;
    }
    if (has_name(op->set, op->n_set, sizeof(*op->set), name) ||
        has_name(op->rm, op->n_rm, sizeof(*op->rm), name)) {
        return KITH_EEXISTS;
    }
    size_t at = name_slot(op->add, op->n_add, sizeof(*op->add), name, &found);
    if (!found) {
        if (op->n_add >= KITH_OP_MAX_SET) {
            return KITH_ETOOBIG;
        }
        int rc = name_insert((void **) &op->add, &op->n_add, sizeof(*op->add), at, name);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    kith_value_t *v = &op->add[at].value;
    for (size_t i = 0; i < v->n_items; i++) {
        if (strcmp(v->items[i], item) == 0) {
            return KITH_OK;
        }
    }
    if (v->n_items >= KITH_VALUE_MAX_ITEMS) {
        return KITH_ETOOBIG;
    }
    return kith_value_list_append(v, item, strlen(item));
}

int
kith_op_rm_elem(kith_op_t *op, const char *name, const uint8_t id[static KITH_ELEM_ID_LEN])
{
    int found;
    if (!kith_schema_is_list(name)) {
        return KITH_EINVAL;
    }
    if (has_name(op->set, op->n_set, sizeof(*op->set), name) ||
        has_name(op->add, op->n_add, sizeof(*op->add), name)) {
        return KITH_EEXISTS;
    }
    size_t at = name_slot(op->rm, op->n_rm, sizeof(*op->rm), name, &found);
    if (!found) {
        if (op->n_rm >= KITH_OP_MAX_SET) {
            return KITH_ETOOBIG;
        }
        int rc = name_insert((void **) &op->rm, &op->n_rm, sizeof(*op->rm), at, name);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    kith_op_rm_t *r = &op->rm[at];
    if (r->n_ids >= KITH_OP_MAX_RM) {
        return KITH_ETOOBIG;
    }
    int rc = id_insert((uint8_t **) &r->ids, &r->n_ids, KITH_ELEM_ID_LEN, id);
    return rc < 0 ? rc : KITH_OK;
}

int
kith_op_cut_add(kith_op_t *op, const uint8_t key[static KITH_PK_LEN], const uint8_t *hash)
{
    size_t at = 0, total = 0;
    while (at < op->n_cut && memcmp(op->cut[at].key, key, KITH_PK_LEN) < 0) {
        at++;
    }
    for (size_t i = 0; i < op->n_cut; i++) {
        total += op->cut[i].n_hashes;
    }
    if (at == op->n_cut || memcmp(op->cut[at].key, key, KITH_PK_LEN) != 0) {
        if (op->n_cut >= KITH_OP_MAX_AUD) {
            return KITH_ETOOBIG;
        }
        kith_cut_t *p = realloc(op->cut, (op->n_cut + 1) * sizeof(*p));
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        op->cut = p;
        memmove(&p[at + 1], &p[at], (op->n_cut - at) * sizeof(*p));
        memset(&p[at], 0, sizeof(*p));
        memcpy(p[at].key, key, KITH_PK_LEN);
        op->n_cut++;
    }
    if (hash == NULL) {
        return KITH_OK;
    }
    if (total >= KITH_OP_MAX_CUT) {
        return KITH_ETOOBIG;
    }
    kith_cut_t *c = &op->cut[at];
    int rc = id_insert((uint8_t **) &c->hashes, &c->n_hashes, KITH_CUT_HASH_LEN, hash);
    return rc < 0 ? rc : KITH_OK;
}

void
kith_op_elem_id(const uint8_t hash[static KITH_HASH_LEN], const char *field, const char *item,
                uint8_t id[static KITH_ELEM_ID_LEN])
{
    static const char ctx[] = "kith-elem-v1";
    static const uint8_t zero = 0;
    uint8_t h[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *) ctx, sizeof(ctx) - 1);
    crypto_generichash_update(&st, hash, KITH_HASH_LEN);
    crypto_generichash_update(&st, (const uint8_t *) field, strlen(field));
    crypto_generichash_update(&st, &zero, 1);
    crypto_generichash_update(&st, (const uint8_t *) item, strlen(item));
    crypto_generichash_final(&st, h, sizeof(h));
    memcpy(id, h, KITH_ELEM_ID_LEN);
}

int
kith_op_set_field(kith_op_t *op, const char *name, const kith_value_t *value)
{
    if (op->n_set >= KITH_OP_MAX_SET) {
        return KITH_ETOOBIG;
    }
    size_t at = 0;
    while (at < op->n_set && strcmp(op->set[at].name, name) < 0) {
        at++;
    }
    if (at < op->n_set && strcmp(op->set[at].name, name) == 0) {
        return KITH_EEXISTS;
    }
    if (has_name(op->add, op->n_add, sizeof(*op->add), name) ||
        has_name(op->rm, op->n_rm, sizeof(*op->rm), name)) {
        return KITH_EEXISTS;
    }
    kith_op_field_t *p = realloc(op->set, (op->n_set + 1) * sizeof(*p));
    if (p == NULL) {
        return KITH_ENOMEM;
    }
    op->set = p;
    kith_op_field_t f = {strdup(name), {0}};
    if (f.name == NULL || kith_value_copy(&f.value, value) != KITH_OK) {
        free(f.name);
        return KITH_ENOMEM;
    }
    memmove(&op->set[at + 1], &op->set[at], (op->n_set - at) * sizeof(*p));
    op->set[at] = f;
    op->n_set++;
    return KITH_OK;
}

int
kith_op_add_aud(kith_op_t *op, const uint8_t key[static KITH_PK_LEN], uint8_t role)
{
    op->has_aud = 1;
    size_t at = 0;
    while (at < op->n_aud && memcmp(op->aud[at].key, key, KITH_PK_LEN) < 0) {
        at++;
    }
    if (at < op->n_aud && memcmp(op->aud[at].key, key, KITH_PK_LEN) == 0) {
        if (role > op->aud[at].role) {
            op->aud[at].role = role;
        }
        return KITH_EEXISTS;
    }
    if (op->n_aud >= KITH_OP_MAX_AUD) {
        return KITH_ETOOBIG;
    }
    kith_aud_t *p = realloc(op->aud, (op->n_aud + 1) * sizeof(*p));
    if (p == NULL) {
        return KITH_ENOMEM;
    }
    op->aud = p;
    memmove(&op->aud[at + 1], &op->aud[at], (op->n_aud - at) * sizeof(*p));
    memcpy(op->aud[at].key, key, KITH_PK_LEN);
    op->aud[at].role = role;
    op->n_aud++;
    return KITH_OK;
}

static void
pack_value(msgpack_packer *pk, const kith_value_t *v)
{
    switch (v->type) {
    case KITH_V_NIL:
        msgpack_pack_nil(pk);
        break;
    case KITH_V_STR:
        kith_mp_pack_str(pk, v->str);
        break;
    case KITH_V_INT:
        msgpack_pack_int64(pk, v->num);
        break;
    case KITH_V_LIST:
        msgpack_pack_array(pk, v->n_items);
        for (size_t i = 0; i < v->n_items; i++) {
            kith_mp_pack_str(pk, v->items[i]);
        }
        break;
    }
}

int
kith_op_encode(const kith_op_t *op, kith_buf_t *out)
{
    size_t start = out->len;
    kith_mpsink_t sink;
    msgpack_packer pk;
    kith_mpsink_init(&sink, &pk, out);
    /* Keys in bytewise order: add aud author cut del hlc kind owner private rec rm set v.
     * Version 1 ops have no add, cut or rm (the decoder refuses them there). */
    size_t n = 6 + (op->n_add > 0) + (op->has_aud != 0) + (op->n_cut > 0) + (op->del >= 0) +
               (op->kind >= 0) + (op->private != 0) + (op->n_rm > 0);
    msgpack_pack_map(&pk, n);
    if (op->n_add > 0) {
        kith_mp_pack_str(&pk, "add");
        msgpack_pack_map(&pk, op->n_add);
        for (size_t i = 0; i < op->n_add; i++) {
            kith_mp_pack_str(&pk, op->add[i].name);
            pack_value(&pk, &op->add[i].value);
        }
    }
    if (op->has_aud) {
        kith_mp_pack_str(&pk, "aud");
        msgpack_pack_array(&pk, op->n_aud);
        for (size_t i = 0; i < op->n_aud; i++) {
            msgpack_pack_array(&pk, 2);
            kith_mp_pack_bin(&pk, op->aud[i].key, KITH_PK_LEN);
            msgpack_pack_uint8(&pk, op->aud[i].role);
        }
    }
    kith_mp_pack_str(&pk, "author");
    kith_mp_pack_bin(&pk, op->author, KITH_PK_LEN);
    if (op->n_cut > 0) {
        kith_mp_pack_str(&pk, "cut");
        msgpack_pack_array(&pk, op->n_cut);
        for (size_t i = 0; i < op->n_cut; i++) {
            msgpack_pack_array(&pk, 2);
            kith_mp_pack_bin(&pk, op->cut[i].key, KITH_PK_LEN);
            msgpack_pack_array(&pk, op->cut[i].n_hashes);
            for (size_t k = 0; k < op->cut[i].n_hashes; k++) {
                kith_mp_pack_bin(&pk, op->cut[i].hashes[k], KITH_CUT_HASH_LEN);
            }
        }
    }
    if (op->del >= 0) {
        kith_mp_pack_str(&pk, "del");
        op->del ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    }
    kith_mp_pack_str(&pk, "hlc");
    msgpack_pack_uint64(&pk, op->hlc);
    if (op->kind >= 0) {
        kith_mp_pack_str(&pk, "kind");
        msgpack_pack_int(&pk, op->kind);
    }
    kith_mp_pack_str(&pk, "owner");
    kith_mp_pack_bin(&pk, op->owner, KITH_PK_LEN);
    if (op->private) {
        kith_mp_pack_str(&pk, "private");
        msgpack_pack_true(&pk);
    }
    kith_mp_pack_str(&pk, "rec");
    kith_mp_pack_bin(&pk, op->rec, KITH_REC_ID_LEN);
    if (op->n_rm > 0) {
        kith_mp_pack_str(&pk, "rm");
        msgpack_pack_map(&pk, op->n_rm);
        for (size_t i = 0; i < op->n_rm; i++) {
            kith_mp_pack_str(&pk, op->rm[i].name);
            msgpack_pack_array(&pk, op->rm[i].n_ids);
            for (size_t k = 0; k < op->rm[i].n_ids; k++) {
                kith_mp_pack_bin(&pk, op->rm[i].ids[k], KITH_ELEM_ID_LEN);
            }
        }
    }
    kith_mp_pack_str(&pk, "set");
    msgpack_pack_map(&pk, op->n_set);
    for (size_t i = 0; i < op->n_set; i++) {
        kith_mp_pack_str(&pk, op->set[i].name);
        pack_value(&pk, &op->set[i].value);
    }
    kith_mp_pack_str(&pk, "v");
    msgpack_pack_uint8(&pk, (uint8_t) op->version);
    if (sink.rc != KITH_OK) {
        out->len = start;
        return sink.rc;
    }
    if (out->len - start > KITH_OP_MAX_LEN - KITH_SIG_LEN) {
        out->len = start;
        return KITH_ETOOBIG;
    }
    return KITH_OK;
}

static int
key_is(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, s, n) == 0;
}

static int
get_bin(const msgpack_object *o, uint8_t *out, size_t len)
{
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != len) {
        return KITH_EPARSE;
    }
    memcpy(out, o->via.bin.ptr, len);
    return KITH_OK;
}

static int
get_str(const msgpack_object *o, char **out)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > KITH_VALUE_MAX_LEN ||
        memchr(o->via.str.ptr, 0, o->via.str.size) != NULL) {
        return KITH_EPARSE;
    }
    *out = strndup(o->via.str.ptr, o->via.str.size);
    return *out ? KITH_OK : KITH_ENOMEM;
}

static int
get_value(const msgpack_object *o, kith_value_t *v)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return KITH_OK;
    case MSGPACK_OBJECT_STR:
        if (memchr(o->via.str.ptr, 0, o->via.str.size) != NULL) {
            return KITH_EPARSE;
        }
        return kith_value_set_str(v, o->via.str.ptr, o->via.str.size) == KITH_OK ? KITH_OK
                                                                                 : KITH_EPARSE;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > INT64_MAX) {
            return KITH_EPARSE;
        }
        kith_value_set_int(v, (int64_t) o->via.u64);
        return KITH_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        kith_value_set_int(v, o->via.i64);
        return KITH_OK;
    case MSGPACK_OBJECT_ARRAY:
        if (o->via.array.size == 0 || o->via.array.size > KITH_VALUE_MAX_ITEMS) {
            return KITH_EPARSE;
        }
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            const msgpack_object *it = &o->via.array.ptr[i];
            if (it->type != MSGPACK_OBJECT_STR || memchr(it->via.str.ptr, 0, it->via.str.size) ||
                kith_value_list_append(v, it->via.str.ptr, it->via.str.size) != KITH_OK) {
                return KITH_EPARSE;
            }
        }
        return KITH_OK;
    default:
        return KITH_EPARSE;
    }
}

/* add: {field: [item, ...]} for list fields; items unique, schema-checked. */
static int
decode_add(const msgpack_object *v, kith_op_t *op)
{
    if (v->type != MSGPACK_OBJECT_MAP || v->via.map.size > KITH_OP_MAX_SET) {
        return KITH_EPARSE;
    }
    int rc = KITH_OK;
    for (uint32_t j = 0; j < v->via.map.size && rc == KITH_OK; j++) {
        const msgpack_object *items = &v->via.map.ptr[j].val;
        char *name = NULL;
        rc = get_str(&v->via.map.ptr[j].key, &name);
        if (rc == KITH_OK &&
            (items->type != MSGPACK_OBJECT_ARRAY || items->via.array.size > KITH_VALUE_MAX_ITEMS)) {
            rc = KITH_EPARSE;
        }
        for (uint32_t k = 0; rc == KITH_OK && k < items->via.array.size; k++) {
            char *item = NULL;
            rc = get_str(&items->via.array.ptr[k], &item);
            if (rc == KITH_OK) {
                rc = kith_op_add_item(op, name, item);
            }
            free(item);
        }
        if (rc == KITH_OK) {
            const kith_op_field_t *f = NULL;
            for (size_t i = 0; i < op->n_add; i++) {
                if (strcmp(op->add[i].name, name) == 0) {
                    f = &op->add[i];
                }
            }
            if (f == NULL || kith_schema_check_value(name, &f->value) != KITH_OK) {
                rc = KITH_EPARSE;
            }
        }
        free(name);
    }
    return rc;
}

/* rm: {field: [element id, ...]} for list fields. */
static int
decode_rm(const msgpack_object *v, kith_op_t *op)
{
    if (v->type != MSGPACK_OBJECT_MAP || v->via.map.size > KITH_OP_MAX_SET) {
        return KITH_EPARSE;
    }
    int rc = KITH_OK;
    for (uint32_t j = 0; j < v->via.map.size && rc == KITH_OK; j++) {
        const msgpack_object *ids = &v->via.map.ptr[j].val;
        char *name = NULL;
        rc = get_str(&v->via.map.ptr[j].key, &name);
        if (rc == KITH_OK &&
            (ids->type != MSGPACK_OBJECT_ARRAY || ids->via.array.size > KITH_OP_MAX_RM)) {
            rc = KITH_EPARSE;
        }
        for (uint32_t k = 0; rc == KITH_OK && k < ids->via.array.size; k++) {
            uint8_t id[KITH_ELEM_ID_LEN];
            rc = get_bin(&ids->via.array.ptr[k], id, sizeof(id));
            if (rc == KITH_OK) {
                rc = kith_op_rm_elem(op, name, id);
            }
        }
        free(name);
    }
    return rc;
}

/* cut: [[key, [hash prefix, ...]], ...]. */
static int
decode_cut(const msgpack_object *v, kith_op_t *op)
{
    if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > KITH_OP_MAX_AUD) {
        return KITH_EPARSE;
    }
    int rc = KITH_OK;
    for (uint32_t j = 0; j < v->via.array.size && rc == KITH_OK; j++) {
        const msgpack_object *e = &v->via.array.ptr[j];
        uint8_t key[KITH_PK_LEN];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
            get_bin(&e->via.array.ptr[0], key, KITH_PK_LEN) != KITH_OK ||
            e->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY) {
            return KITH_EPARSE;
        }
        const msgpack_object *hs = &e->via.array.ptr[1];
        rc = kith_op_cut_add(op, key, NULL);
        for (uint32_t k = 0; rc == KITH_OK && k < hs->via.array.size; k++) {
            uint8_t h[KITH_CUT_HASH_LEN];
            rc = get_bin(&hs->via.array.ptr[k], h, sizeof(h));
            if (rc == KITH_OK) {
                rc = kith_op_cut_add(op, key, h);
            }
        }
    }
    return rc;
}

static int
decode_obj(const msgpack_object *root, kith_op_t *op)
{
    if (root->type != MSGPACK_OBJECT_MAP) {
        return KITH_EPARSE;
    }
    /* The version first: an op from a newer kith may carry keys this one does not know,
     * and should be reported as newer, not as malformed. */
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *v = &root->via.map.ptr[i].val;
        if (key_is(&root->via.map.ptr[i].key, "v") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            if (v->via.u64 < 1 || v->via.u64 > KITH_OP_VERSION) {
                return KITH_EVERSION;
            }
            op->version = (int) v->via.u64;
        }
    }
    int seen_v = 0, seen_author = 0, seen_owner = 0, seen_rec = 0, seen_hlc = 0, seen_set = 0;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key;
        const msgpack_object *v = &root->via.map.ptr[i].val;
        int rc = KITH_OK;
        if (key_is(k, "v")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                return KITH_EPARSE;
            }
            seen_v = 1; /* its value was checked above */
        } else if (key_is(k, "author")) {
            rc = get_bin(v, op->author, KITH_PK_LEN);
            seen_author = 1;
        } else if (key_is(k, "owner")) {
            rc = get_bin(v, op->owner, KITH_PK_LEN);
            seen_owner = 1;
        } else if (key_is(k, "rec")) {
            rc = get_bin(v, op->rec, KITH_REC_ID_LEN);
            seen_rec = 1;
        } else if (key_is(k, "hlc")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                return KITH_EPARSE;
            }
            op->hlc = v->via.u64;
            seen_hlc = 1;
        } else if (key_is(k, "kind")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > KITH_KIND_ORG) {
                return KITH_EPARSE;
            }
            op->kind = (int) v->via.u64;
        } else if (key_is(k, "del")) {
            if (v->type != MSGPACK_OBJECT_BOOLEAN) {
                return KITH_EPARSE;
            }
            op->del = v->via.boolean ? 1 : 0;
        } else if (key_is(k, "private")) {
            if (v->type != MSGPACK_OBJECT_BOOLEAN || !v->via.boolean) {
                return KITH_EPARSE;
            }
            op->private = 1;
        } else if (key_is(k, "aud")) {
            if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > KITH_OP_MAX_AUD) {
                return KITH_EPARSE;
            }
            op->has_aud = 1;
            for (uint32_t j = 0; j < v->via.array.size && rc == KITH_OK; j++) {
                const msgpack_object *e = &v->via.array.ptr[j];
                uint8_t key[KITH_PK_LEN];
                if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
                    get_bin(&e->via.array.ptr[0], key, KITH_PK_LEN) != KITH_OK ||
                    e->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
                    (e->via.array.ptr[1].via.u64 != KITH_ROLE_READER &&
                     e->via.array.ptr[1].via.u64 != KITH_ROLE_EDITOR)) {
                    return KITH_EPARSE;
                }
                rc = kith_op_add_aud(op, key, (uint8_t) e->via.array.ptr[1].via.u64);
            }
        } else if (key_is(k, "set")) {
            if (v->type != MSGPACK_OBJECT_MAP || v->via.map.size > KITH_OP_MAX_SET) {
                return KITH_EPARSE;
            }
            seen_set = 1;
            for (uint32_t j = 0; j < v->via.map.size && rc == KITH_OK; j++) {
                char *name = NULL;
                kith_value_t val = {0};
                rc = get_str(&v->via.map.ptr[j].key, &name);
                if (rc == KITH_OK) {
                    rc = get_value(&v->via.map.ptr[j].val, &val);
                }
                if (rc == KITH_OK && kith_schema_check_value(name, &val) != KITH_OK) {
                    rc = KITH_EPARSE;
                }
                if (rc == KITH_OK) {
                    rc = kith_op_set_field(op, name, &val);
                }
                free(name);
                kith_value_clear(&val);
            }
        } else if (key_is(k, "add") && op->version >= 2) {
            rc = decode_add(v, op);
        } else if (key_is(k, "rm") && op->version >= 2) {
            rc = decode_rm(v, op);
        } else if (key_is(k, "cut") && op->version >= 2) {
            rc = decode_cut(v, op);
        } else {
            return KITH_EPARSE; /* unknown key: a newer version must bump "v" */
        }
        if (rc != KITH_OK) {
            return rc == KITH_ENOMEM ? rc : KITH_EPARSE;
        }
    }
    if (!seen_v || !seen_author || !seen_owner || !seen_rec || !seen_hlc || !seen_set) {
        return KITH_EPARSE;
    }
    /* A cut says what an audience change leaves a demoted editor; a private op changes
     * only its author's private layer, never the shared record's audience, kind or
     * tombstone. (Version 1 allowed those keys on a private op; the fold ignores them.) */
    if ((op->n_cut > 0 && !op->has_aud) ||
        (op->version >= 2 && op->private && (op->has_aud || op->del >= 0 || op->kind >= 0))) {
        return KITH_EPARSE;
    }
    return KITH_OK;
}

int
kith_op_decode(const uint8_t *data, size_t len, kith_op_t *op)
{
    kith_op_init(op);
    /* The encoding alone may use what the signature leaves of KITH_OP_MAX_LEN. */
    if (len > KITH_OP_MAX_LEN - KITH_SIG_LEN || kith_mpcheck(data, len, 4) != KITH_OK) {
        return KITH_EPARSE;
    }
    msgpack_unpacked msg;
    msgpack_unpacked_init(&msg);
    size_t off = 0;
    int rc = KITH_EPARSE;
    kith_buf_t again;
    kith_buf_init(&again);
    if (msgpack_unpack_next(&msg, (const char *) data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        goto out;
    }
    rc = decode_obj(&msg.data, op);
    if (rc != KITH_OK) {
        goto out;
    }
    /* Canonical form: the only accepted encoding is the one we would produce. */
    rc = kith_op_encode(op, &again);
    if (rc == KITH_OK && (again.len != len || memcmp(again.data, data, len) != 0)) {
        rc = KITH_EPARSE;
    }
out:
    msgpack_unpacked_destroy(&msg);
    kith_buf_close(&again);
    if (rc != KITH_OK) {
        kith_op_close(op);
    }
    return rc;
}

void
kith_op_hash(const uint8_t *enc, size_t len, uint8_t hash[static KITH_HASH_LEN])
{
    crypto_generichash(hash, KITH_HASH_LEN, enc, len, NULL, 0);
}

static void
signed_message(const uint8_t hash[KITH_HASH_LEN], uint8_t msg[sizeof(sig_context) - 1 + 32])
{
    memcpy(msg, sig_context, sizeof(sig_context) - 1);
    memcpy(msg + sizeof(sig_context) - 1, hash, KITH_HASH_LEN);
}

int
kith_op_sign(const kith_op_t *op, const kith_identity_t *id, kith_buf_t *out,
             uint8_t hash[static KITH_HASH_LEN])
{
    if (memcmp(op->author, id->pk, KITH_PK_LEN) != 0) {
        return KITH_EINVAL;
    }
    size_t start = out->len;
    uint8_t sig[KITH_SIG_LEN] = {0};
    int rc = kith_buf_append(out, sig, sizeof(sig));
    if (rc == KITH_OK) {
        rc = kith_op_encode(op, out);
    }
    if (rc != KITH_OK) {
        out->len = start;
        return rc;
    }
    uint8_t msg[sizeof(sig_context) - 1 + KITH_HASH_LEN];
    kith_op_hash(out->data + start + KITH_SIG_LEN, out->len - start - KITH_SIG_LEN, hash);
    signed_message(hash, msg);
    rc = kith_identity_sign(id, msg, sizeof(msg), out->data + start);
    if (rc != KITH_OK) {
        out->len = start;
    }
    return rc;
}

int
kith_op_verify(const uint8_t *signed_op, size_t len, kith_op_t *op, uint8_t *hash)
{
    kith_op_init(op);
    if (len <= KITH_SIG_LEN || len > KITH_OP_MAX_LEN) {
        return KITH_EPARSE;
    }
    int rc = kith_op_decode(signed_op + KITH_SIG_LEN, len - KITH_SIG_LEN, op);
    if (rc != KITH_OK) {
        return rc;
    }
    uint8_t h[KITH_HASH_LEN], msg[sizeof(sig_context) - 1 + KITH_HASH_LEN];
    kith_op_hash(signed_op + KITH_SIG_LEN, len - KITH_SIG_LEN, h);
    signed_message(h, msg);
    rc = kith_identity_verify(op->author, msg, sizeof(msg), signed_op);
    if (rc != KITH_OK) {
        kith_op_close(op);
        return rc;
    }
    if (hash != NULL) {
        memcpy(hash, h, KITH_HASH_LEN);
    }
    return KITH_OK;
}
