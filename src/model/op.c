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
    op->kind = -1;
    op->del = -1;
}

void
kith_op_close(kith_op_t *op)
{
    for (size_t i = 0; i < op->n_set; i++) {
        free(op->set[i].name);
        kith_value_clear(&op->set[i].value);
    }
    free(op->set);
    free(op->aud);
    kith_op_init(op);
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
    /* Keys in bytewise order: aud author del hlc kind owner private rec set v. */
    size_t n = 6 + (op->has_aud != 0) + (op->del >= 0) + (op->kind >= 0) + (op->private != 0);
    msgpack_pack_map(&pk, n);
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
    kith_mp_pack_str(&pk, "set");
    msgpack_pack_map(&pk, op->n_set);
    for (size_t i = 0; i < op->n_set; i++) {
        kith_mp_pack_str(&pk, op->set[i].name);
        pack_value(&pk, &op->set[i].value);
    }
    kith_mp_pack_str(&pk, "v");
    msgpack_pack_uint8(&pk, KITH_OP_VERSION);
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
        if (key_is(&root->via.map.ptr[i].key, "v") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
            v->via.u64 != KITH_OP_VERSION) {
            return KITH_EVERSION;
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
            if (v->via.u64 != KITH_OP_VERSION) {
                return KITH_EVERSION;
            }
            seen_v = 1;
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
