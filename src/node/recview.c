/*
 * Records and their history as JSON (recview.h): what `kith show/list/search --json` and
 * `kith log --json` print and the web API serves, built in one place so the two cannot
 * drift. A key's label comes from the store, the only truth about a peer's name; a view
 * (kith_recview_t) remembers the last few for as long as one command or request lasts,
 * since a daemon's peers change while it runs.
 */
#include "node/recview.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "model/fold.h"
#include "model/schema.h"
#include "util/hlc.h"
#include "util/nodeid.h"

void
kith_recview_key_label(kith_node_t *n, const uint8_t key[static KITH_PK_LEN],
                       char out[static KITH_RECVIEW_LABEL_LEN])
{
    if (memcmp(key, n->id->pk, KITH_PK_LEN) == 0) {
        snprintf(out, KITH_RECVIEW_LABEL_LEN, "you");
        return;
    }
    kith_peer_t p;
    if (kith_store_peer_get_by_key(n->store, key, &p) == KITH_OK) {
        snprintf(out, KITH_RECVIEW_LABEL_LEN, "%s", p.name);
        kith_peer_close(&p);
    } else {
        char fp[KITH_FINGERPRINT_LEN + 1];
        kith_fingerprint(key, fp);
        snprintf(out, KITH_RECVIEW_LABEL_LEN, "unknown node %s", fp);
    }
}

void
kith_recview_init(kith_recview_t *v, kith_node_t *n)
{
    memset(v, 0, sizeof(*v));
    v->node = n;
}

void
kith_recview_label(kith_recview_t *v, const uint8_t key[static KITH_PK_LEN],
                   char out[static KITH_RECVIEW_LABEL_LEN])
{
    for (size_t i = 0; i < v->n_labels; i++) {
        if (memcmp(v->labels[i].key, key, KITH_PK_LEN) == 0) {
            memcpy(out, v->labels[i].label, KITH_RECVIEW_LABEL_LEN);
            return;
        }
    }
    kith_recview_key_label(v->node, key, out);
    memcpy(v->labels[v->next].key, key, KITH_PK_LEN);
    memcpy(v->labels[v->next].label, out, KITH_RECVIEW_LABEL_LEN);
    v->next = (v->next + 1) % KITH_RECVIEW_LABELS;
    if (v->n_labels < KITH_RECVIEW_LABELS) {
        v->n_labels++;
    }
}

int
kith_recview_unshared_since(kith_node_t *n, const kith_record_t *r, uint64_t *hlc)
{
    if (kith_record_role(r, n->id->pk) != 0) {
        return 0; /* ours, or shared with us */
    }
    return kith_store_former_get(n->store, r->id, n->id->pk, hlc) == KITH_OK;
}

int
kith_recview_can_edit(kith_node_t *n, const kith_record_t *r)
{
    /* The rule kith_node_edit() refuses a shared change by (src/node/edit.c), and the one
     * the owner's fold judges it by: the owner and the audience's editors. */
    return kith_record_role(r, n->id->pk) == KITH_ROLE_EDITOR;
}

static const char *
role_name(int role)
{
    return role == KITH_ROLE_EDITOR ? "editor" : "reader";
}

void
kith_recview_json_value(kith_json_t *j, const char *field, const kith_value_t *v)
{
    const kith_field_def_t *def = kith_schema_field(field);
    switch (v->type) {
    case KITH_V_STR:
        kith_json_string(j, v->str);
        break;
    case KITH_V_INT:
        kith_json_int(j, v->num);
        break;
    case KITH_V_LIST:
        kith_json_array_begin(j);
        for (size_t i = 0; i < v->n_items; i++) {
            const char *colon = strrchr(v->items[i], ':');
            if (def != NULL && def->type == KITH_FT_RELATIONS && colon != NULL) {
                kith_json_object_begin(j);
                kith_json_key(j, "type");
                kith_json_stringn(j, v->items[i], (size_t) (colon - v->items[i]));
                kith_json_key(j, "target");
                kith_json_string(j, colon + 1);
                kith_json_object_end(j);
            } else {
                kith_json_string(j, v->items[i]);
            }
        }
        kith_json_array_end(j);
        break;
    default:
        kith_json_null(j);
    }
}

/* An audience: [{node_id, name, role}, ...]. */
static void
json_audience(kith_recview_t *v, kith_json_t *j, const kith_aud_t *aud, size_t n_aud)
{
    char nid[KITH_NODEID_BUFSIZE], label[KITH_RECVIEW_LABEL_LEN];
    kith_json_array_begin(j);
    for (size_t i = 0; i < n_aud; i++) {
        kith_nodeid_encode(aud[i].key, nid);
        kith_recview_label(v, aud[i].key, label);
        kith_json_object_begin(j);
        kith_json_key(j, "node_id");
        kith_json_string(j, nid);
        kith_json_key(j, "name");
        kith_json_string(j, label);
        kith_json_key(j, "role");
        kith_json_string(j, role_name(aud[i].role));
        kith_json_object_end(j);
    }
    kith_json_array_end(j);
}

void
kith_recview_json_time(kith_json_t *j, uint64_t hlc)
{
    char t[20];
    kith_hlc_format(hlc, t);
    t[10] = 'T';
    char iso[24];
    snprintf(iso, sizeof(iso), "%sZ", t);
    kith_json_string(j, iso);
}

/* ---- share specs -------------------------------------------------------------------- */

static int
collect_spec(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const kith_share_target_t *target,
             int role)
{
    (void) id;
    kith_recview_specs_t *s = ctx;
    kith_recview_spec_t *v = realloc(s->v, (s->n + 1) * sizeof(*v));
    if (v == NULL) {
        return KITH_ENOMEM;
    }
    s->v = v;
    v[s->n].target = *target;
    v[s->n].role = role;
    if (target->is_group) {
        snprintf(v[s->n].label, sizeof(v[s->n].label), "@%s", target->group);
    } else {
        kith_recview_key_label(s->node, target->key, v[s->n].label);
    }
    s->n++;
    return KITH_OK;
}

/* Groups first, then peers, each by label. */
static int
cmp_spec(const void *a, const void *b)
{
    const kith_recview_spec_t *x = a, *y = b;
    if (x->target.is_group != y->target.is_group) {
        return x->target.is_group ? -1 : 1;
    }
    return strcmp(x->label, y->label);
}

void
kith_recview_specs_close(kith_recview_specs_t *s)
{
    if (s == NULL) {
        return;
    }
    free(s->v);
    kith_peers_free(s->peers, s->n_peers);
    memset(s, 0, sizeof(*s));
}

int
kith_recview_specs_load(kith_node_t *n, const kith_record_t *r, kith_recview_specs_t *out)
{
    memset(out, 0, sizeof(*out));
    out->node = n;
    if (memcmp(r->owner, n->id->pk, KITH_PK_LEN) != 0) {
        return KITH_OK;
    }
    int rc = kith_store_share_foreach(n->store, r->id, collect_spec, out);
    if (rc == KITH_OK) {
        rc = kith_store_peer_list(n->store, &out->peers, &out->n_peers);
    }
    if (rc != KITH_OK) {
        kith_recview_specs_close(out);
        out->node = n;
        return rc;
    }
    if (out->n > 1) {
        qsort(out->v, out->n, sizeof(*out->v), cmp_spec);
    }
    return KITH_OK;
}

int
kith_recview_spec_member(const kith_recview_specs_t *s, const kith_recview_spec_t *spec, size_t i)
{
    return spec->target.is_group && kith_peer_in_group(&s->peers[i], spec->target.group) &&
           memcmp(s->peers[i].key, s->node->id->pk, KITH_PK_LEN) != 0;
}

/* ---- records ------------------------------------------------------------------------ */

static void
json_shares(kith_node_t *n, const kith_record_t *r, kith_json_t *j)
{
    kith_recview_specs_t s;
    char nid[KITH_NODEID_BUFSIZE];
    kith_json_key(j, "shares");
    if (memcmp(r->owner, n->id->pk, KITH_PK_LEN) != 0 ||
        kith_recview_specs_load(n, r, &s) != KITH_OK) {
        kith_json_null(j); /* another's record: its owner keeps the specs */
        return;
    }
    kith_json_array_begin(j);
    for (size_t i = 0; i < s.n; i++) {
        const kith_recview_spec_t *spec = &s.v[i];
        kith_json_object_begin(j);
        kith_json_key(j, "target");
        kith_json_string(j, spec->label);
        kith_json_key(j, "role");
        kith_json_string(j, role_name(spec->role));
        if (spec->target.is_group) {
            kith_json_key(j, "members");
            kith_json_array_begin(j);
            for (size_t k = 0; k < s.n_peers; k++) {
                if (kith_recview_spec_member(&s, spec, k)) {
                    kith_nodeid_encode(s.peers[k].key, nid);
                    kith_json_object_begin(j);
                    kith_json_key(j, "name");
                    kith_json_string(j, s.peers[k].name);
                    kith_json_key(j, "node_id");
                    kith_json_string(j, nid);
                    kith_json_object_end(j);
                }
            }
            kith_json_array_end(j);
        } else {
            kith_nodeid_encode(spec->target.key, nid);
            kith_json_key(j, "node_id");
            kith_json_string(j, nid);
        }
        kith_json_object_end(j);
    }
    kith_json_array_end(j);
    kith_recview_specs_close(&s);
}

void
kith_recview_record(kith_recview_t *v, const kith_record_t *r, unsigned flags, kith_json_t *j)
{
    kith_node_t *n = v->node;
    char hex[33], nid[KITH_NODEID_BUFSIZE], label[KITH_RECVIEW_LABEL_LEN];
    sodium_bin2hex(hex, sizeof(hex), r->id, KITH_REC_ID_LEN);
    kith_json_object_begin(j);
    kith_json_key(j, "id");
    kith_json_string(j, hex);
    kith_json_key(j, "kind");
    kith_json_string(j, kith_schema_kind_name(r->kind));
    /* Each field once at the top: the shared value, or the private one where there is no
     * shared value; "private_fields" names the top-level fields whose value is private.
     * "private" holds the private layer whole, so a field with both values shows both. */
    for (size_t i = 0; i < r->n_fields; i++) {
        const kith_rfield_t *f = &r->fields[i];
        if (f->private && kith_record_field_in(r, f->name, 0) != NULL) {
            continue;
        }
        kith_json_key(j, f->name);
        kith_recview_json_value(j, f->name, &f->value);
    }
    kith_json_key(j, "private_fields");
    kith_json_array_begin(j);
    for (size_t i = 0; i < r->n_fields; i++) {
        if (r->fields[i].private && kith_record_field_in(r, r->fields[i].name, 0) == NULL) {
            kith_json_string(j, r->fields[i].name);
        }
    }
    kith_json_array_end(j);
    kith_json_key(j, "private");
    kith_json_object_begin(j);
    for (size_t i = 0; i < r->n_fields; i++) {
        if (r->fields[i].private) {
            kith_json_key(j, r->fields[i].name);
            kith_recview_json_value(j, r->fields[i].name, &r->fields[i].value);
        }
    }
    kith_json_object_end(j);
    kith_json_key(j, "deleted");
    kith_json_bool(j, r->deleted);
    kith_nodeid_encode(r->owner, nid);
    kith_recview_label(v, r->owner, label);
    kith_json_key(j, "owner");
    kith_json_string(j, nid);
    kith_json_key(j, "owner_name");
    kith_json_string(j, label);
    kith_json_key(j, "audience");
    json_audience(v, j, r->aud, r->n_aud);
    if (flags & KITH_RECVIEW_SHARES) {
        json_shares(n, r, j);
    }
    uint64_t since = 0;
    kith_json_key(j, "no_longer_shared_since");
    if (kith_recview_unshared_since(n, r, &since)) {
        kith_recview_json_time(j, since);
    } else {
        kith_json_null(j);
    }
    kith_json_key(j, "created");
    kith_recview_json_time(j, r->created);
    kith_json_key(j, "updated");
    kith_recview_json_time(j, r->updated);
    if (flags & KITH_RECVIEW_WEB) {
        kith_json_key(j, "can_edit");
        kith_json_bool(j, kith_recview_can_edit(n, r));
        kith_json_key(j, "mine");
        kith_json_bool(j, memcmp(r->owner, n->id->pk, KITH_PK_LEN) == 0);
    }
    if (!(flags & KITH_RECVIEW_OPEN)) {
        kith_json_object_end(j);
    }
}

void
kith_recview_record_json(kith_node_t *n, const kith_record_t *r, int with_shares, kith_json_t *j)
{
    kith_recview_t v;
    kith_recview_init(&v, n);
    kith_recview_record(&v, r, with_shares ? KITH_RECVIEW_SHARES : 0, j);
}

void
kith_recview_record_json_web(kith_node_t *n, const kith_record_t *r, kith_json_t *j)
{
    kith_recview_t v;
    kith_recview_init(&v, n);
    kith_recview_record(&v, r, KITH_RECVIEW_SHARES | KITH_RECVIEW_WEB, j);
}

/* ---- history ------------------------------------------------------------------------ */

size_t
kith_recview_touched_fields(const kith_op_t *op, const char **names, size_t cap)
{
    size_t n = 0;
    const kith_op_field_t *groups[2] = {op->set, op->add};
    size_t counts[2] = {op->n_set, op->n_add};
    for (int g = 0; g < 2; g++) {
        for (size_t i = 0; i < counts[g] && n < cap; i++) {
            names[n++] = groups[g][i].name;
        }
    }
    for (size_t i = 0; i < op->n_rm && n < cap; i++) {
        names[n++] = op->rm[i].name;
    }
    return n;
}

int
kith_recview_history_walk(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN],
                          const kith_recview_walk_t *walk, void *ctx)
{
    kith_op_list_t h = {0};
    kith_record_t rec, before, after;
    kith_record_init(&rec);
    kith_record_init(&before);
    kith_record_init(&after);
    int *eff = NULL;
    int rc = kith_store_load_ops(n->store, id, &h);
    if (rc == KITH_OK && h.n > 0) {
        eff = calloc(h.n, sizeof(*eff));
        rc = eff ? kith_fold(h.in, h.n, &rec, eff) : KITH_ENOMEM;
    }
    if (rc == KITH_OK && walk->begin != NULL) {
        rc = walk->begin(ctx, &rec);
    }
    for (size_t i = 0; i < h.n && rc == KITH_OK; i++) {
        kith_record_close(&before);
        before = after;
        kith_record_init(&after);
        rc = kith_fold_sorted(h.in, h.n, i + 1, &after, NULL);
        if (rc == KITH_OK) {
            rc = walk->step(ctx, h.in[i].op, eff[i], &before, &after);
        }
    }
    kith_op_list_close(&h);
    free(eff);
    kith_record_close(&rec);
    kith_record_close(&before);
    kith_record_close(&after);
    return rc;
}

typedef struct {
    kith_recview_t view; /* the same few authors sign most ops */
    kith_json_t *j;
} history_json_t;

static int
history_json_begin(void *ctx, const kith_record_t *rec)
{
    (void) rec;
    history_json_t *hj = ctx;
    kith_json_array_begin(hj->j);
    return KITH_OK;
}

static int
history_json_step(void *ctx, const kith_op_t *op, int eff, const kith_record_t *before,
                  const kith_record_t *after)
{
    history_json_t *hj = ctx;
    kith_json_t *j = hj->j;
    char nid[KITH_NODEID_BUFSIZE], label[KITH_RECVIEW_LABEL_LEN];
    kith_json_object_begin(j);
    kith_json_key(j, "time");
    kith_recview_json_time(j, op->hlc);
    kith_json_key(j, "hlc");
    kith_json_uint(j, op->hlc);
    kith_nodeid_encode(op->author, nid);
    kith_recview_label(&hj->view, op->author, label);
    kith_json_key(j, "author");
    kith_json_string(j, nid);
    kith_json_key(j, "author_name");
    kith_json_string(j, label);
    kith_json_key(j, "effective");
    kith_json_bool(j, eff);
    kith_json_key(j, "private");
    kith_json_bool(j, op->private);
    if (op->kind >= 0) {
        kith_json_key(j, "created");
        kith_json_string(j, kith_schema_kind_name(op->kind));
    }
    if (op->del >= 0) {
        kith_json_key(j, "deleted");
        kith_json_bool(j, op->del);
    }
    if (op->has_aud) {
        kith_json_key(j, "audience");
        json_audience(&hj->view, j, op->aud, op->n_aud);
    }
    kith_json_key(j, "changes");
    kith_json_array_begin(j);
    const char *names[3 * KITH_OP_MAX_SET];
    size_t nn = kith_recview_touched_fields(op, names, sizeof(names) / sizeof(names[0]));
    for (size_t i = 0; i < nn; i++) {
        const kith_rfield_t *b = kith_record_field_in(before, names[i], op->private != 0);
        const kith_rfield_t *a = kith_record_field_in(after, names[i], op->private != 0);
        kith_json_object_begin(j);
        kith_json_key(j, "field");
        kith_json_string(j, names[i]);
        kith_json_key(j, "before");
        if (b != NULL) {
            kith_recview_json_value(j, names[i], &b->value);
        } else {
            kith_json_null(j);
        }
        kith_json_key(j, "after");
        if (a != NULL) {
            kith_recview_json_value(j, names[i], &a->value);
        } else {
            kith_json_null(j);
        }
        kith_json_object_end(j);
    }
    kith_json_array_end(j);
    kith_json_object_end(j);
    return KITH_OK;
}

int
kith_recview_history_json(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN], kith_json_t *j)
{
    static const kith_recview_walk_t walk = {history_json_begin, history_json_step};
    history_json_t hj;
    kith_recview_init(&hj.view, n);
    hj.j = j;
    int rc = kith_recview_history_walk(n, id, &walk, &hj);
    if (rc == KITH_OK) {
        kith_json_array_end(j);
    }
    return rc;
}
