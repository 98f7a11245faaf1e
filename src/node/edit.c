/*
 * Changing records; see edit.h for what a change becomes.
 */
#include "node/edit.h"

#include <stdio.h>
#include <string.h>

#include "kith/error.h"
#include "util/errbuf.h"
#include "util/hlc.h"

/* Checks an item against the schema and gives its canonical value (a text, or a number):
 * whatever front end sent it, nothing unchecked reaches an op. */
static int
item_value(const char *field, const char *item, kith_value_t *v, char *errbuf, size_t errcap)
{
    int rc = kith_schema_parse_item(field, item, v, errbuf, errcap);
    return rc == KITH_OK ? KITH_OK : KITH_EINVAL;
}

/* The layer an edit goes to: private and publish name theirs; any other goes private when
 * the field already has a private value here (privacy is sticky). */
static int
goes_private(const kith_edit_t *e, const kith_record_t *cur)
{
    if (e->mode == KITH_EDIT_PRIVATE) {
        return 1;
    }
    if (e->mode == KITH_EDIT_PUBLISH) {
        return 0;
    }
    return cur != NULL && kith_record_field_in(cur, e->field, 1) != NULL;
}

/* Removes every instance of item that this node sees in field of one layer. */
static int
remove_item(kith_op_t *op, const kith_record_t *cur, const char *field, int private,
            const char *item, char *errbuf, size_t errcap)
{
    const kith_rfield_t *f = cur ? kith_record_field_in(cur, field, private) : NULL;
    for (size_t i = 0; f != NULL && f->elems != NULL && i < f->value.n_items; i++) {
        if (strcmp(f->value.items[i], item) != 0) {
            continue;
        }
        for (size_t k = 0; k < f->elems[i].n_ids; k++) {
            int rc = kith_op_rm_elem(op, field, f->elems[i].ids[k]);
            if (rc != KITH_OK) {
                return rc;
            }
        }
        return KITH_OK;
    }
    kith__errbuf_set(errbuf, errcap, "%s: '%s' is not in the %s list", field, item,
                     private ? "private" : "shared");
    return KITH_ENOTFOUND;
}

/* 1 if a list field of one layer holds item. */
static int
layer_has(const kith_record_t *cur, const char *field, int private, const char *item)
{
    const kith_rfield_t *f = cur ? kith_record_field_in(cur, field, private) : NULL;
    for (size_t i = 0; f != NULL && f->value.type == KITH_V_LIST && i < f->value.n_items; i++) {
        if (strcmp(f->value.items[i], item) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Remove: each item goes from the layer that holds it (from both if both do). Privacy is
 * sticky for what is added or set, not for what is removed: an item of the shared list is
 * removed by a shared change even when the field also has private items. */
static int
remove_items(const kith_edit_t *e, kith_op_t *pub, kith_op_t *priv, const kith_record_t *cur,
             char *errbuf, size_t errcap)
{
    int rc = KITH_OK;
    for (size_t k = 0; k < e->n_items && rc == KITH_OK; k++) {
        kith_value_t item = {0};
        rc = item_value(e->field, e->items[k], &item, errbuf, errcap);
        if (rc != KITH_OK) {
            break;
        }
        int in_priv = layer_has(cur, e->field, 1, item.str);
        int in_pub = layer_has(cur, e->field, 0, item.str);
        if (in_priv) {
            rc = remove_item(priv, cur, e->field, 1, item.str, errbuf, errcap);
        }
        if (rc == KITH_OK && (in_pub || !in_priv)) {
            rc = remove_item(pub, cur, e->field, 0, item.str, errbuf, errcap);
        }
        kith_value_clear(&item);
    }
    return rc;
}

/* Publish: the private value goes, the same value is set in the shared record (a list's
 * items are added to the shared list); with items, only those items of a private list
 * move. */
static int
publish(kith_op_t *pub, kith_op_t *priv, const kith_record_t *cur, const kith_edit_t *e,
        char *errbuf, size_t errcap)
{
    const kith_rfield_t *f = cur ? kith_record_field_in(cur, e->field, 1) : NULL;
    if (f == NULL) {
        kith__errbuf_set(errbuf, errcap, "'%s' has no private value to publish", e->field);
        return KITH_ENOTFOUND;
    }
    int rc = KITH_OK;
    for (size_t k = 0; k < e->n_items && rc == KITH_OK; k++) {
        kith_value_t item = {0};
        rc = item_value(e->field, e->items[k], &item, errbuf, errcap);
        if (rc == KITH_OK && item.type == KITH_V_STR && kith_schema_is_list(e->field)) {
            rc = remove_item(priv, cur, e->field, 1, item.str, errbuf, errcap);
        } else if (rc == KITH_OK) {
            kith__errbuf_set(errbuf, errcap, "%s holds one value: publish the field, not an item",
                             e->field);
            rc = KITH_EINVAL;
        }
        if (rc == KITH_OK) {
            rc = kith_op_add_item(pub, e->field, item.str);
        }
        kith_value_clear(&item);
    }
    if (e->n_items > 0 || rc != KITH_OK) {
        return rc;
    }
    kith_value_t nil = {0};
    rc = kith_op_set_field(priv, e->field, &nil);
    if (rc == KITH_OK && f->value.type == KITH_V_LIST) {
        for (size_t i = 0; i < f->value.n_items && rc == KITH_OK; i++) {
            rc = kith_op_add_item(pub, e->field, f->value.items[i]);
        }
    } else if (rc == KITH_OK) {
        rc = kith_op_set_field(pub, e->field, &f->value);
    }
    return rc;
}

/* Adds one edit to the op of its layer. */
static int
add_edit(const kith_edit_t *e, kith_op_t *op, const kith_record_t *cur, int private, char *errbuf,
         size_t errcap)
{
    int is_list = kith_schema_is_list(e->field);
    kith_value_t v = {0}, item = {0};
    int rc = KITH_OK;
    for (size_t k = 0; k < e->n_items && rc == KITH_OK; k++) {
        rc = item_value(e->field, e->items[k], &item, errbuf, errcap);
        if (rc != KITH_OK) {
            break;
        }
        if (e->mode == KITH_EDIT_ADD) {
            rc = kith_op_add_item(op, e->field, item.str);
        } else if (e->mode == KITH_EDIT_REMOVE) {
            rc = remove_item(op, cur, e->field, private, item.str, errbuf, errcap);
        } else if (is_list) {
            rc = kith_value_list_append(&v, item.str, strlen(item.str));
        } else {
            kith_value_clear(&v);
            v = item;
            memset(&item, 0, sizeof(item));
        }
        kith_value_clear(&item);
    }
    /* set and private replace the value (a whole list); unset removes it. */
    if (rc == KITH_OK &&
        (e->mode == KITH_EDIT_SET || e->mode == KITH_EDIT_PRIVATE || e->mode == KITH_EDIT_UNSET)) {
        rc = kith_op_set_field(op, e->field, &v);
    }
    kith_value_clear(&v);
    kith_value_clear(&item);
    return rc;
}

/* A shared change on a record this node may not edit: say why. */
static void
say_refused(kith_node_t *n, const kith_record_t *cur, char *errbuf, size_t errcap)
{
    uint64_t since = 0;
    char when[20];
    int role = kith_record_role(cur, n->id->pk);
    if (role == 0 && kith_store_former_get(n->store, cur->id, n->id->pk, &since) == KITH_OK) {
        kith_hlc_format(since, when);
        kith__errbuf_set(
            errbuf, errcap,
            "'%s' is no longer shared with you (since %s UTC); your edits would have no "
            "effect. You can still keep private notes on it (--private FIELD=VALUE)",
            kith_record_name(cur), when);
    } else {
        kith__errbuf_set(
            errbuf, errcap,
            "'%s' is %s; you cannot edit its shared fields, but you can keep private notes on "
            "it (--private FIELD=VALUE)",
            kith_record_name(cur),
            role == KITH_ROLE_READER ? "shared with you read-only" : "not shared with you");
    }
}

/* Builds and stores the ops of an edit, inside the caller's transaction. cur is the
 * record (NULL for a new one, then kind >= 0 and the shared op creates it). */
static int
apply_edits(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], const uint8_t owner[KITH_PK_LEN],
            int kind, const kith_record_t *cur, const kith_edit_t *edits, size_t n_edits,
            uint64_t now_ms, kith_edit_result_t *res, char *errbuf, size_t errcap)
{
    kith_op_t pub, priv;
    kith_op_init(&pub);
    kith_op_init(&priv);
    int rc = KITH_OK;
    for (size_t i = 0; i < n_edits && rc == KITH_OK; i++) {
        const kith_edit_t *e = &edits[i];
        int private = goes_private(e, cur);
        if (private && e->mode != KITH_EDIT_PRIVATE && e->mode != KITH_EDIT_REMOVE &&
            res->kept_private++ == 0) {
            snprintf(res->first_kept, sizeof(res->first_kept), "%s", e->field);
        }
        rc = e->mode == KITH_EDIT_PUBLISH ? publish(&pub, &priv, cur, e, errbuf, errcap)
             : e->mode == KITH_EDIT_REMOVE
                 ? remove_items(e, &pub, &priv, cur, errbuf, errcap)
                 : add_edit(e, private ? &priv : &pub, cur, private, errbuf, errcap);
        if (rc == KITH_EEXISTS) {
            kith__errbuf_set(errbuf, errcap, "'%s' is changed twice; give each field once",
                             e->field);
        } else if (rc == KITH_ETOOBIG) {
            kith__errbuf_set(errbuf, errcap, "%s: too many items (a list holds at most %d)",
                             e->field, KITH_VALUE_MAX_ITEMS);
        }
    }
    res->shared = pub.n_set + pub.n_add + pub.n_rm;
    res->private = priv.n_set + priv.n_add + priv.n_rm;
    /* Refuse what the owner's node would refuse: a shared edit it ignores forever is worse
     * than none. A private note is always this node's to keep. */
    if (rc == KITH_OK && res->shared > 0 && cur != NULL &&
        kith_record_role(cur, n->id->pk) != KITH_ROLE_EDITOR) {
        say_refused(n, cur, errbuf, errcap);
        rc = KITH_EAUTH;
    }
    kith_op_t *ops[2] = {&pub, &priv};
    for (int k = 0; k < 2 && rc == KITH_OK; k++) {
        kith_op_t *op = ops[k];
        if (op->n_set + op->n_add + op->n_rm == 0 && !(k == 0 && kind >= 0)) {
            continue;
        }
        memcpy(op->rec, id, KITH_REC_ID_LEN);
        memcpy(op->owner, owner, KITH_PK_LEN);
        op->private = k == 1;
        if (k == 0 && kind >= 0) {
            op->kind = kind;
        }
        rc = kith_node_apply_local(n, op, now_ms, NULL);
        if (rc == KITH_ETOOBIG) {
            kith__errbuf_set(errbuf, errcap,
                             "the change is too large for one op (at most %d bytes)",
                             KITH_OP_MAX_LEN);
        }
    }
    kith_op_close(&pub);
    kith_op_close(&priv);
    return rc;
}

/* Commits after a successful body, rolls back after a failed one. */
static int
finish(kith_node_t *n, int rc)
{
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
    }
    return rc;
}

int
kith_node_edit(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN], const kith_edit_t *edits,
               size_t n_edits, uint64_t now_ms, kith_edit_result_t *result, char *errbuf,
               size_t errcap)
{
    kith_edit_result_t res;
    memset(&res, 0, sizeof(res));
    memcpy(res.id, id, KITH_REC_ID_LEN);
    kith_record_t cur;
    kith_record_init(&cur);
    int rc = kith_store_begin(n->store);
    if (rc == KITH_OK) {
        rc = kith_store_record_get(n->store, id, &cur);
        if (rc == KITH_ENOTFOUND) {
            kith__errbuf_set(errbuf, errcap, "no such record");
        }
    }
    if (rc == KITH_OK) {
        rc = apply_edits(n, id, cur.owner, -1, &cur, edits, n_edits, now_ms, &res, errbuf, errcap);
    }
    rc = finish(n, rc);
    kith_record_close(&cur);
    if (result != NULL) {
        *result = res;
    }
    return rc;
}

int
kith__node_edit_in_txn(kith_node_t *n, const kith_record_t *cur, const kith_edit_t *edits,
                       size_t n_edits, uint64_t now_ms, kith_edit_result_t *result, char *errbuf,
                       size_t errcap)
{
    kith_edit_result_t res;
    memset(&res, 0, sizeof(res));
    memcpy(res.id, cur->id, KITH_REC_ID_LEN);
    int rc =
        apply_edits(n, cur->id, cur->owner, -1, cur, edits, n_edits, now_ms, &res, errbuf, errcap);
    if (result != NULL) {
        *result = res;
    }
    return rc;
}

int
kith__node_add_in_txn(kith_node_t *n, int kind, const kith_edit_t *edits, size_t n_edits,
                      uint64_t now_ms, kith_edit_result_t *result, char *errbuf, size_t errcap)
{
    memset(result, 0, sizeof(*result));
    kith_node_new_record_id(n, result->id);
    return apply_edits(n, result->id, n->id->pk, kind, NULL, edits, n_edits, now_ms, result, errbuf,
                       errcap);
}

int
kith_node_add_record(kith_node_t *n, int kind, const kith_edit_t *edits, size_t n_edits,
                     const kith_share_target_t *targets, size_t n_targets, int role,
                     uint64_t now_ms, kith_edit_result_t *result, char *errbuf, size_t errcap)
{
    kith_edit_result_t res;
    memset(&res, 0, sizeof(res));
    kith_node_new_record_id(n, res.id);
    int rc = kith_store_begin(n->store);
    if (rc == KITH_OK) {
        rc = apply_edits(n, res.id, n->id->pk, kind, NULL, edits, n_edits, now_ms, &res, errbuf,
                         errcap);
    }
    for (size_t i = 0; rc == KITH_OK && i < n_targets; i++) {
        rc = kith_store_share_set(n->store, res.id, &targets[i], role);
    }
    if (rc == KITH_OK && n_targets > 0) {
        rc = kith_node_update_audience(n, res.id, now_ms, NULL);
    }
    rc = finish(n, rc);
    if (result != NULL) {
        *result = res;
    }
    return rc;
}

int
kith__node_set_deleted_in_txn(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN], int del,
                              uint64_t now_ms)
{
    kith_record_t cur;
    kith_record_init(&cur);
    int rc = kith_store_record_get(n->store, id, &cur);
    if (rc == KITH_OK && memcmp(cur.owner, n->id->pk, KITH_PK_LEN) != 0) {
        rc = KITH_EAUTH;
    }
    if (rc == KITH_OK) {
        kith_op_t op;
        kith_op_init(&op);
        memcpy(op.rec, id, KITH_REC_ID_LEN);
        memcpy(op.owner, n->id->pk, KITH_PK_LEN);
        op.del = del;
        rc = kith_node_apply_local(n, &op, now_ms, NULL);
        kith_op_close(&op);
    }
    kith_record_close(&cur);
    return rc;
}

int
kith_node_set_deleted(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN], int del,
                      uint64_t now_ms)
{
    int rc = kith_store_begin(n->store);
    if (rc == KITH_OK) {
        rc = kith__node_set_deleted_in_txn(n, id, del, now_ms);
    }
    return finish(n, rc);
}
