/*
 * Import matching (node/match.h): an in-memory index from identifying keys to record ids,
 * and the update of a matched record through the edit path.
 *
 * Keys are strings with a one-letter kind: "k:" a record id (hex), "u:" an x-vcard-uid
 * value, "e:" an e-mail in ASCII lower case, "l:" a LinkedIn profile URL reduced by
 * url_key(). One key may name several records (two records with the same e-mail): the
 * index keeps every (key, id) pair, and a lookup counts distinct ids. A hash table with
 * chaining keeps a large import (every card looked up, every new record added) linear.
 */
#include "node/match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kith/error.h"
#include "model/schema.h"
#include "node/kept.h"
#include "node/edit.h"

#define KEY_MAX KITH_MATCH_KEY_MAX

typedef struct entry {
    struct entry *next;
    uint8_t id[KITH_REC_ID_LEN];
    char key[]; /* NUL-terminated */
} entry_t;

struct kith_match_index {
    entry_t **buckets;
    size_t n_buckets; /* a power of two */
    size_t n;         /* entries */
};

static uint64_t
hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char) *s) * 1099511628211ULL;
    }
    return h;
}

void
kith_match_uid_format(const uint8_t id[static KITH_REC_ID_LEN],
                      char out[static KITH_MATCH_UID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, KITH_MATCH_UID_PREFIX, 9);
    for (size_t i = 0; i < KITH_REC_ID_LEN; i++) {
        out[9 + 2 * i] = hex[id[i] >> 4];
        out[9 + 2 * i + 1] = hex[id[i] & 15];
    }
    out[KITH_MATCH_UID_LEN] = '\0';
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int
kith_match_uid_parse(const char *uid, uint8_t id[static KITH_REC_ID_LEN])
{
    /* RFC 8141: the "urn" scheme and the namespace id are case-insensitive. */
    if (uid == NULL || strlen(uid) != KITH_MATCH_UID_LEN ||
        strncasecmp(uid, KITH_MATCH_UID_PREFIX, 9) != 0) {
        return KITH_EINVAL;
    }
    for (size_t i = 0; i < KITH_REC_ID_LEN; i++) {
        int hi = hexval(uid[9 + 2 * i]), lo = hexval(uid[9 + 2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return KITH_EINVAL;
        }
        id[i] = (uint8_t) (hi << 4 | lo);
    }
    return KITH_OK;
}

int
kith_match_index_new(kith_match_index_t **out)
{
    kith_match_index_t *ix = calloc(1, sizeof(*ix));
    if (ix != NULL) {
        ix->n_buckets = 256;
        ix->buckets = calloc(ix->n_buckets, sizeof(*ix->buckets));
    }
    if (ix == NULL || ix->buckets == NULL) {
        free(ix);
        *out = NULL;
        return KITH_ENOMEM;
    }
    *out = ix;
    return KITH_OK;
}

void
kith_match_index_free(kith_match_index_t *ix)
{
    if (ix == NULL) {
        return;
    }
    for (size_t b = 0; b < ix->n_buckets; b++) {
        entry_t *e = ix->buckets[b];
        while (e != NULL) {
            entry_t *next = e->next;
            free(e);
            e = next;
        }
    }
    free(ix->buckets);
    free(ix);
}

static int
grow(kith_match_index_t *ix)
{
    size_t nb = ix->n_buckets * 2;
    entry_t **b = calloc(nb, sizeof(*b));
    if (b == NULL) {
        return KITH_ENOMEM;
    }
    for (size_t i = 0; i < ix->n_buckets; i++) {
        entry_t *e = ix->buckets[i];
        while (e != NULL) {
            entry_t *next = e->next;
            size_t h = (size_t) (hash(e->key) & (nb - 1));
            e->next = b[h];
            b[h] = e;
            e = next;
        }
    }
    free(ix->buckets);
    ix->buckets = b;
    ix->n_buckets = nb;
    return KITH_OK;
}

/* Adds (key, id) unless the pair is there already. */
static int
put(kith_match_index_t *ix, const char *key, const uint8_t id[KITH_REC_ID_LEN])
{
    size_t h = (size_t) (hash(key) & (ix->n_buckets - 1));
    for (const entry_t *e = ix->buckets[h]; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0 && memcmp(e->id, id, KITH_REC_ID_LEN) == 0) {
            return KITH_OK;
        }
    }
    if (ix->n >= ix->n_buckets && grow(ix) != KITH_OK) {
        return KITH_ENOMEM;
    }
    h = (size_t) (hash(key) & (ix->n_buckets - 1));
    size_t len = strlen(key);
    entry_t *e = malloc(sizeof(*e) + len + 1);
    if (e == NULL) {
        return KITH_ENOMEM;
    }
    memcpy(e->key, key, len + 1);
    memcpy(e->id, id, KITH_REC_ID_LEN);
    e->next = ix->buckets[h];
    ix->buckets[h] = e;
    ix->n++;
    return KITH_OK;
}

/* A LinkedIn profile URL reduced to what identifies the person: no scheme, no "www.", no
 * query or fragment, lower case, no trailing slash ("linkedin.com/in/ada-lovelace").
 * Returns 0 (and writes nothing useful) for a URL that is not LinkedIn's. */
static int
url_key(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    if (strncasecmp(p, "www.", 4) == 0) {
        p += 4;
    }
    size_t n = 0;
    for (; *p && *p != '?' && *p != '#' && n + 1 < cap; p++) {
        out[n++] = (char) ((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    }
    while (n > 0 && out[n - 1] == '/') {
        n--;
    }
    out[n] = '\0';
    return strncmp(out, "linkedin.com/", 13) == 0;
}

/* The key of one value of field name into key (KEY_MAX bytes); 0 if the field is not a
 * matching key. */
static int
make_key(const char *name, const char *value, char key[KEY_MAX])
{
    if (strcmp(name, "emails") == 0) {
        size_t n = 2;
        memcpy(key, "e:", 2);
        for (const char *p = value; *p && n + 1 < KEY_MAX; p++) {
            key[n++] = (char) ((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
        }
        key[n] = '\0';
        return 1;
    }
    if (strcmp(name, "urls") == 0) {
        memcpy(key, "l:", 2);
        return url_key(value, key + 2, KEY_MAX - 2);
    }
    if (strcmp(name, KITH_MATCH_UID_FIELD) == 0) {
        snprintf(key, KEY_MAX, "u:%s", value);
        return 1;
    }
    return 0;
}

int
kith_match_key(const char *field, const char *value, char key[static KITH_MATCH_KEY_MAX])
{
    return make_key(field, value, key);
}

/* Indexes every string of a value of field name. */
static int
put_value(kith_match_index_t *ix, const uint8_t id[KITH_REC_ID_LEN], const char *name,
          const kith_value_t *v)
{
    char key[KEY_MAX];
    int rc = KITH_OK;
    if (v->type == KITH_V_STR && make_key(name, v->str, key)) {
        rc = put(ix, key, id);
    }
    for (size_t i = 0; v->type == KITH_V_LIST && i < v->n_items && rc == KITH_OK; i++) {
        if (make_key(name, v->items[i], key)) {
            rc = put(ix, key, id);
        }
    }
    return rc;
}

int
kith_match_index_record(kith_match_index_t *ix, const kith_record_t *r)
{
    char key[2 + KITH_MATCH_UID_LEN + 1];
    kith_match_uid_format(r->id, key + 2);
    memcpy(key, "k:", 2);
    int rc = put(ix, key, r->id);
    for (size_t i = 0; i < r->n_fields && rc == KITH_OK; i++) {
        rc = put_value(ix, r->id, r->fields[i].name, &r->fields[i].value);
    }
    return rc;
}

int
kith_match_index_op(kith_match_index_t *ix, const uint8_t id[static KITH_REC_ID_LEN],
                    const kith_op_t *op)
{
    int rc = KITH_OK;
    for (size_t i = 0; i < op->n_set && rc == KITH_OK; i++) {
        rc = put_value(ix, id, op->set[i].name, &op->set[i].value);
    }
    for (size_t i = 0; i < op->n_add && rc == KITH_OK; i++) {
        rc = put_value(ix, id, op->add[i].name, &op->add[i].value);
    }
    return rc;
}

static int
index_cb(void *ctx, const kith_record_t *r)
{
    return kith_match_index_record(ctx, r);
}

int
kith_match_index_load(kith_match_index_t *ix, kith_node_t *n)
{
    return kith_store_foreach_record(n->store, index_cb, ix);
}

/* The distinct records reached by keys, gathered into found (at most 2 kept: that is all
 * the caller needs to know). */
typedef struct {
    uint8_t ids[2][KITH_REC_ID_LEN];
    size_t n; /* distinct records reached, counted past 2 */
} found_t;

static void
lookup(const kith_match_index_t *ix, const char *key, found_t *f)
{
    size_t h = (size_t) (hash(key) & (ix->n_buckets - 1));
    for (const entry_t *e = ix->buckets[h]; e != NULL; e = e->next) {
        if (strcmp(e->key, key) != 0) {
            continue;
        }
        int seen = 0;
        for (size_t i = 0; i < f->n && i < 2 && !seen; i++) {
            seen = memcmp(f->ids[i], e->id, KITH_REC_ID_LEN) == 0;
        }
        if (seen) {
            continue;
        }
        if (f->n < 2) {
            memcpy(f->ids[f->n], e->id, KITH_REC_ID_LEN);
        }
        f->n++;
    }
}

static int
verdict(const found_t *f, uint8_t out[KITH_REC_ID_LEN], size_t *n_found)
{
    if (n_found != NULL) {
        *n_found = f->n;
    }
    if (f->n == 0) {
        return KITH_MATCH_NONE;
    }
    memcpy(out, f->ids[0], KITH_REC_ID_LEN);
    return f->n == 1 ? KITH_MATCH_ONE : KITH_MATCH_AMBIGUOUS;
}

int
kith_match_find(const kith_match_index_t *ix, const char *uid, const kith_op_t *incoming,
                uint8_t out[static KITH_REC_ID_LEN], size_t *n_found)
{
    char key[KEY_MAX];
    found_t f = {.n = 0};
    /* The card's UID, then the one it keeps in x-vcard-uid (a card another kith node
     * exported: its UID is that node's id, x-vcard-uid may be ours). */
    const char *uids[2] = {uid, NULL};
    for (size_t i = 0; i < incoming->n_set; i++) {
        if (strcmp(incoming->set[i].name, KITH_MATCH_UID_FIELD) == 0 &&
            incoming->set[i].value.type == KITH_V_STR) {
            uids[1] = incoming->set[i].value.str;
        }
    }
    for (size_t u = 0; u < 2; u++) {
        if (uids[u] == NULL || uids[u][0] == '\0') {
            continue;
        }
        uint8_t id[KITH_REC_ID_LEN];
        if (kith_match_uid_parse(uids[u], id) == KITH_OK) {
            memcpy(key, "k:", 2);
            kith_match_uid_format(id, key + 2);
            lookup(ix, key, &f);
        }
        if (f.n == 0) {
            snprintf(key, sizeof(key), "u:%s", uids[u]);
            lookup(ix, key, &f);
        }
        if (f.n > 0) {
            return verdict(&f, out, n_found);
        }
    }
    for (size_t i = 0; i < incoming->n_set; i++) {
        const kith_op_field_t *fl = &incoming->set[i];
        if (strcmp(fl->name, "emails") != 0 && strcmp(fl->name, "urls") != 0) {
            continue;
        }
        for (size_t k = 0; fl->value.type == KITH_V_LIST && k < fl->value.n_items; k++) {
            if (make_key(fl->name, fl->value.items[k], key)) {
                lookup(ix, key, &f);
            }
        }
    }
    return verdict(&f, out, n_found);
}

/* 1 if item is in f's list (e-mails compared in ASCII case-insensitively). */
static int
has_item(const kith_rfield_t *f, const char *name, const char *item)
{
    int ci = strcmp(name, "emails") == 0;
    for (size_t i = 0; f != NULL && f->value.type == KITH_V_LIST && i < f->value.n_items; i++) {
        if ((ci ? strcasecmp : strcmp)(f->value.items[i], item) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
same_value(const kith_rfield_t *f, const kith_value_t *v)
{
    return f != NULL && kith_value_equal(&f->value, v);
}

/* Item strings the edits point at: the op's own strings, or numbers formatted here. */
typedef struct {
    kith_edit_t *edits;
    const char **items; /* every item of every edit, edits[i].items points into it */
    char (*nums)[24];
    size_t n_edits, n_items;
} edit_list_t;

static void
edit_list_close(edit_list_t *l)
{
    free(l->edits);
    free(l->items);
    free(l->nums);
}

/* The edits that bring cur up to incoming (match.h); none if nothing differs. */
static int
build_edits(const kith_record_t *cur, const kith_op_t *incoming, edit_list_t *l)
{
    size_t cap_items = 0;
    for (size_t i = 0; i < incoming->n_set; i++) {
        const kith_value_t *v = &incoming->set[i].value;
        cap_items += v->type == KITH_V_LIST ? v->n_items : 1;
    }
    l->edits = calloc(incoming->n_set ? incoming->n_set : 1, sizeof(*l->edits));
    l->items = calloc(cap_items ? cap_items : 1, sizeof(*l->items));
    l->nums = calloc(incoming->n_set ? incoming->n_set : 1, sizeof(*l->nums));
    if (l->edits == NULL || l->items == NULL || l->nums == NULL) {
        return KITH_ENOMEM;
    }
    for (size_t i = 0; i < incoming->n_set; i++) {
        const kith_op_field_t *f = &incoming->set[i];
        uint8_t self[KITH_REC_ID_LEN];
        if (strcmp(f->name, KITH_MATCH_UID_FIELD) == 0 && f->value.type == KITH_V_STR &&
            kith_match_uid_parse(f->value.str, self) == KITH_OK &&
            memcmp(self, cur->id, KITH_REC_ID_LEN) == 0) {
            continue; /* a record need not remember its own UID */
        }
        const kith_rfield_t *shared = kith_record_field_in(cur, f->name, 0);
        const kith_rfield_t *priv = kith_record_field_in(cur, f->name, 1);
        kith_edit_t *e = &l->edits[l->n_edits];
        e->field = f->name;
        e->items = &l->items[l->n_items];
        if (f->value.type == KITH_V_LIST) {
            e->mode = KITH_EDIT_ADD;
            for (size_t k = 0; k < f->value.n_items; k++) {
                const char *it = f->value.items[k];
                int dup = 0;
                for (size_t m = 0; m < e->n_items && !dup; m++) {
                    dup = strcmp(e->items[m], it) == 0;
                }
                if (!dup && !has_item(shared, f->name, it) && !has_item(priv, f->name, it)) {
                    l->items[l->n_items++] = it;
                    e->n_items++;
                }
            }
        } else if (f->value.type == KITH_V_STR || f->value.type == KITH_V_INT) {
            if (same_value(shared, &f->value) || same_value(priv, &f->value)) {
                continue;
            }
            e->mode = KITH_EDIT_SET;
            if (f->value.type == KITH_V_STR) {
                l->items[l->n_items++] = f->value.str;
            } else {
                snprintf(l->nums[i], sizeof(l->nums[i]), "%lld", (long long) f->value.num);
                l->items[l->n_items++] = l->nums[i];
            }
            e->n_items = 1;
        }
        /* A kept vCard line that repeats a private value stays private (cardbook.h). */
        if (e->mode == KITH_EDIT_ADD && priv == NULL &&
            strcmp(f->name, KITH_CARD_KEPT_FIELD) == 0) {
            for (size_t k = 0; k < e->n_items && e->mode == KITH_EDIT_ADD; k++) {
                if (kith_card_line_private(cur, e->items[k])) {
                    e->mode = KITH_EDIT_PRIVATE;
                }
            }
        }
        if (e->n_items > 0) {
            l->n_edits++;
        }
    }
    return KITH_OK;
}

int
kith_match_update(kith_node_t *n, const kith_record_t *cur, const kith_op_t *incoming,
                  uint64_t now_ms, kith_match_outcome_t *outcome, char *errbuf, size_t errcap)
{
    edit_list_t l;
    memset(&l, 0, sizeof(l));
    *outcome = KITH_MATCH_UNCHANGED;
    int rc = build_edits(cur, incoming, &l);
    if (rc == KITH_OK && l.n_edits > 0) {
        if (kith_record_role(cur, n->id->pk) != KITH_ROLE_EDITOR) {
            /* Left alone as a whole, private notes included: an import is not the place
             * to start keeping private notes on someone else's record. */
            *outcome = KITH_MATCH_READ_ONLY;
        } else {
            rc = kith__node_edit_in_txn(n, cur, l.edits, l.n_edits, now_ms, NULL, errbuf, errcap);
            *outcome = KITH_MATCH_UPDATED;
        }
    }
    edit_list_close(&l);
    return rc;
}
