/*
 * Address books for CardDAV; see cardbook.h and proto/DAV.md.
 *
 * Listing a book never opens a record: ids, owners and versions come from the records
 * rows, group membership from the audience rows, names from the store's settings. Only
 * GET and PUT decrypt, one record each. This keeps an incremental client sync (a listing
 * of versions) cheap whatever the size of the book.
 */
#include "node/cardbook.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "formats/vcard.h"
#include "kith/error.h"
#include "model/schema.h"
#include "node/edit.h"
#include "node/match.h"
#include "util/errbuf.h"

#define TOKEN_PREFIX   "http://kith.invalid/sync/"
#define HREF_KEY       "dav.href." /* + hex of a keyed hash of the name: the record id */
#define NAME_KEY       "dav.name." /* + hex record id: the name, sealed */
#define PASSWORD_GEN   "dav.gen"   /* 8 bytes: which password is current */
#define NAME_AD_PREFIX "davn"
#define UID_KEY        "dav.uid." /* + hex of a keyed hash of a UID: the record id */

/* ---- a set of record ids, and a map from id to name --------------------------------- */

typedef struct {
    uint8_t id[KITH_REC_ID_LEN];
    char *name; /* NULL in a plain set */
    int used;
} slot_t;

typedef struct {
    slot_t *slots;
    size_t cap, n; /* cap: a power of two */
} idmap_t;

static uint64_t
id_hash(const uint8_t id[KITH_REC_ID_LEN])
{
    uint64_t h;
    memcpy(&h, id + 8, sizeof(h)); /* record ids end in random bytes */
    return h;
}

static void
idmap_close(idmap_t *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].name);
    }
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static slot_t *
idmap_find(const idmap_t *m, const uint8_t id[KITH_REC_ID_LEN])
{
    if (m->cap == 0) {
        return NULL;
    }
    for (size_t i = id_hash(id) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->slots[i].used) {
            return NULL;
        }
        if (memcmp(m->slots[i].id, id, KITH_REC_ID_LEN) == 0) {
            return &m->slots[i];
        }
    }
}

/* Adds id (with name, which the map takes over; may be NULL). */
static int
idmap_put(idmap_t *m, const uint8_t id[KITH_REC_ID_LEN], char *name)
{
    if ((m->n + 1) * 2 > m->cap) {
        idmap_t bigger = {calloc(m->cap ? m->cap * 2 : 64, sizeof(slot_t)),
                          m->cap ? m->cap * 2 : 64, 0};
        if (bigger.slots == NULL) {
            free(name);
            return KITH_ENOMEM;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (m->slots[i].used) {
                size_t k = id_hash(m->slots[i].id) & (bigger.cap - 1);
                while (bigger.slots[k].used) {
                    k = (k + 1) & (bigger.cap - 1);
                }
                bigger.slots[k] = m->slots[i];
                bigger.n++;
            }
        }
        free(m->slots);
        *m = bigger;
    }
    slot_t *s = idmap_find(m, id);
    if (s != NULL) {
        free(s->name);
        s->name = name;
        return KITH_OK;
    }
    size_t k = id_hash(id) & (m->cap - 1);
    while (m->slots[k].used) {
        k = (k + 1) & (m->cap - 1);
    }
    memcpy(m->slots[k].id, id, KITH_REC_ID_LEN);
    m->slots[k].name = name;
    m->slots[k].used = 1;
    m->n++;
    return KITH_OK;
}

static int
put_id(void *ctx, const uint8_t id[KITH_REC_ID_LEN])
{
    return idmap_put(ctx, id, NULL);
}

/* ---- books -------------------------------------------------------------------------- */

void
kith_cardbook_close(kith_cardbook_t *b)
{
    if (b != NULL) {
        free(b->members);
        memset(b, 0, sizeof(*b));
    }
}

void
kith_cardbooks_free(kith_cardbook_t *books, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        kith_cardbook_close(&books[i]);
    }
    free(books);
}

static int
cmp_key(const void *a, const void *b)
{
    return memcmp(a, b, KITH_PK_LEN);
}

/* The tag of a book: which members it was drawn from (a group book) or "all". */
static void
book_tag(kith_cardbook_t *b)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(b->tag));
    crypto_generichash_update(&st, (const uint8_t *) b->name, strlen(b->name) + 1);
    for (size_t i = 0; i < b->n_members; i++) {
        crypto_generichash_update(&st, b->members[i], KITH_PK_LEN);
    }
    crypto_generichash_final(&st, b->tag, sizeof(b->tag));
}

/* Fills b as the book of group (NULL: "all") from the peer list. */
static int
book_fill(kith_cardbook_t *b, const char *group, const kith_peer_t *peers, size_t n_peers)
{
    memset(b, 0, sizeof(*b));
    if (group == NULL) {
        snprintf(b->name, sizeof(b->name), "all");
        book_tag(b);
        return KITH_OK;
    }
    snprintf(b->name, sizeof(b->name), "g-%s", group);
    snprintf(b->group, sizeof(b->group), "%s", group);
    b->members = calloc(n_peers ? n_peers : 1, KITH_PK_LEN);
    if (b->members == NULL) {
        return KITH_ENOMEM;
    }
    for (size_t i = 0; i < n_peers; i++) {
        if (kith_peer_in_group(&peers[i], group)) {
            memcpy(b->members[b->n_members++], peers[i].key, KITH_PK_LEN);
        }
    }
    qsort(b->members, b->n_members, KITH_PK_LEN, cmp_key);
    book_tag(b);
    return KITH_OK;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Every group name of the peers, sorted, each once; the caller frees the array (the names
 * point into peers). */
static int
group_names(const kith_peer_t *peers, size_t n_peers, char ***out, size_t *count)
{
    size_t cap = 0, n = 0;
    char **names = NULL;
    *out = NULL;
    *count = 0;
    for (size_t i = 0; i < n_peers; i++) {
        for (char *p = peers[i].groups; p != NULL && *p != '\0';) {
            char *comma = strchr(p, ',');
            size_t len = comma ? (size_t) (comma - p) : strlen(p);
            if (len > 0 && len <= KITH_PEER_NAME_MAX) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 8;
                    char **bigger = realloc(names, cap * sizeof(*names));
                    if (bigger == NULL) {
                        for (size_t k = 0; k < n; k++) {
                            free(names[k]);
                        }
                        free(names);
                        return KITH_ENOMEM;
                    }
                    names = bigger;
                }
                names[n] = strndup(p, len);
                if (names[n] == NULL) {
                    for (size_t k = 0; k < n; k++) {
                        free(names[k]);
                    }
                    free(names);
                    return KITH_ENOMEM;
                }
                n++;
            }
            p = comma ? comma + 1 : p + len;
        }
    }
    if (n > 1) {
        qsort(names, n, sizeof(*names), cmp_str);
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && strcmp(names[w - 1], names[i]) == 0) {
            free(names[i]);
        } else {
            names[w++] = names[i];
        }
    }
    *out = names;
    *count = w;
    return KITH_OK;
}

int
kith_cardbook_list(kith_node_t *n, kith_cardbook_t **out, size_t *count)
{
    kith_peer_t *peers = NULL;
    size_t n_peers = 0, n_groups = 0;
    char **groups = NULL;
    kith_cardbook_t *books = NULL;
    *out = NULL;
    *count = 0;
    int rc = kith_store_peer_list(n->store, &peers, &n_peers);
    if (rc == KITH_OK) {
        rc = group_names(peers, n_peers, &groups, &n_groups);
    }
    if (rc == KITH_OK) {
        books = calloc(n_groups + 1, sizeof(*books));
        rc = books ? book_fill(&books[0], NULL, peers, n_peers) : KITH_ENOMEM;
    }
    size_t made = rc == KITH_OK ? 1 : 0;
    for (size_t i = 0; rc == KITH_OK && i < n_groups; i++) {
        rc = book_fill(&books[made], groups[i], peers, n_peers);
        made += rc == KITH_OK;
    }
    for (size_t i = 0; i < n_groups; i++) {
        free(groups[i]);
    }
    free(groups);
    kith_peers_free(peers, n_peers);
    if (rc != KITH_OK) {
        kith_cardbooks_free(books, made);
        return rc;
    }
    *out = books;
    *count = made;
    return KITH_OK;
}

int
kith_cardbook_open(kith_node_t *n, const char *name, kith_cardbook_t *out)
{
    kith_cardbook_t *books = NULL;
    size_t count = 0;
    memset(out, 0, sizeof(*out));
    int rc = kith_cardbook_list(n, &books, &count);
    if (rc != KITH_OK) {
        return rc;
    }
    rc = KITH_ENOTFOUND;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(books[i].name, name) == 0) {
            *out = books[i];
            memset(&books[i], 0, sizeof(books[i]));
            rc = KITH_OK;
            break;
        }
    }
    kith_cardbooks_free(books, count);
    return rc;
}

/* ---- resource names ----------------------------------------------------------------- */

static void
hex(const uint8_t *p, size_t len, char *out)
{
    sodium_bin2hex(out, len * 2 + 1, p, len);
}

static void
href_key(kith_node_t *n, const char *href, char key[sizeof(HREF_KEY) + 32])
{
    kith_buf_t msg;
    kith_buf_init(&msg);
    uint8_t mac[KITH_ROW_MAC_LEN];
    if (kith_buf_puts(&msg, "kith dav href\n") == KITH_OK && kith_buf_puts(&msg, href) == KITH_OK) {
        kith_vault_mac(n->vault, msg.data, msg.len, mac);
    } else {
        memset(mac, 0, sizeof(mac)); /* out of memory: a key that names nothing */
    }
    kith_buf_close(&msg);
    memcpy(key, HREF_KEY, sizeof(HREF_KEY) - 1);
    hex(mac, sizeof(mac), key + sizeof(HREF_KEY) - 1);
}

/* "<32 lower-case hex>.vcf": the id. */
static int
canonical_href(const char *href, uint8_t id[KITH_REC_ID_LEN])
{
    if (strlen(href) != 2 * KITH_REC_ID_LEN + 4 ||
        strcmp(href + 2 * KITH_REC_ID_LEN, ".vcf") != 0) {
        return 0;
    }
    for (size_t i = 0; i < 2 * KITH_REC_ID_LEN; i++) {
        if (!((href[i] >= '0' && href[i] <= '9') || (href[i] >= 'a' && href[i] <= 'f'))) {
            return 0;
        }
    }
    return sodium_hex2bin(id, KITH_REC_ID_LEN, href, 2 * KITH_REC_ID_LEN, NULL, NULL, NULL) == 0;
}

typedef struct {
    kith_node_t *n;
    idmap_t *names;
} names_ctx_t;

static int
load_name(void *ctx, const char *key, const uint8_t *value, size_t len)
{
    names_ctx_t *c = ctx;
    uint8_t id[KITH_REC_ID_LEN], ad[4 + KITH_REC_ID_LEN];
    const char *h = key + sizeof(NAME_KEY) - 1;
    if (strlen(h) != 2 * KITH_REC_ID_LEN ||
        sodium_hex2bin(id, sizeof(id), h, 2 * KITH_REC_ID_LEN, NULL, NULL, NULL) != 0) {
        return KITH_OK; /* not ours to read: the record keeps its own name */
    }
    memcpy(ad, NAME_AD_PREFIX, 4);
    memcpy(ad + 4, id, KITH_REC_ID_LEN);
    kith_buf_t name;
    kith_buf_init(&name);
    int rc = kith_vault_unseal(c->n->vault, ad, sizeof(ad), value, len, &name);
    if (rc == KITH_OK && name.len > 0 && name.len <= KITH_CARDBOOK_HREF_MAX) {
        char *s = strndup((const char *) name.data, name.len);
        kith_buf_close(&name);
        return s ? idmap_put(c->names, id, s) : KITH_ENOMEM;
    }
    kith_buf_close(&name);
    return rc == KITH_ENOMEM ? rc : KITH_OK; /* a damaged name: the canonical one serves */
}

static int
load_names(kith_node_t *n, idmap_t *names)
{
    names_ctx_t c = {n, names};
    return kith_store_meta_prefix(n->store, NAME_KEY, load_name, &c);
}

/* Gives record id the name href (inside the caller's transaction). */
static int
name_record(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], const char *href)
{
    char key[sizeof(HREF_KEY) + 32], nkey[sizeof(NAME_KEY) + 2 * KITH_REC_ID_LEN];
    href_key(n, href, key);
    /* A name given again (its card was deleted, then a client reused the name) leaves the
     * old record: it falls back to its own name, so that no two cards share one. */
    kith_buf_t old;
    kith_buf_init(&old);
    int rc = kith_store_meta_get(n->store, key, &old);
    if (rc == KITH_OK && old.len == KITH_REC_ID_LEN && memcmp(old.data, id, KITH_REC_ID_LEN) != 0) {
        memcpy(nkey, NAME_KEY, sizeof(NAME_KEY) - 1);
        hex(old.data, KITH_REC_ID_LEN, nkey + sizeof(NAME_KEY) - 1);
        rc = kith_store_meta_delete(n->store, nkey);
    } else if (rc == KITH_ENOTFOUND || rc == KITH_OK) {
        rc = KITH_OK;
    }
    kith_buf_close(&old);
    if (rc == KITH_OK) {
        rc = kith_store_meta_set(n->store, key, id, KITH_REC_ID_LEN);
    }
    uint8_t ad[4 + KITH_REC_ID_LEN];
    memcpy(ad, NAME_AD_PREFIX, 4);
    memcpy(ad + 4, id, KITH_REC_ID_LEN);
    kith_buf_t sealed;
    kith_buf_init(&sealed);
    if (rc == KITH_OK) {
        rc = kith_vault_seal(n->vault, ad, sizeof(ad), (const uint8_t *) href, strlen(href),
                             &sealed);
    }
    if (rc == KITH_OK) {
        memcpy(nkey, NAME_KEY, sizeof(NAME_KEY) - 1);
        hex(id, KITH_REC_ID_LEN, nkey + sizeof(NAME_KEY) - 1);
        rc = kith_store_meta_set(n->store, nkey, sealed.data, sealed.len);
    }
    kith_buf_close(&sealed);
    return rc;
}

/* The record a name stands for, whether or not it is in the book. */
static int
href_to_id(kith_node_t *n, const char *href, uint8_t id[KITH_REC_ID_LEN])
{
    uint64_t version;
    int deleted;
    /* "<id>.vcf" names its record, if there is one; a client may also have chosen a name of
     * that shape for a card of its own (a UUID without dashes), found below. */
    if (canonical_href(href, id) &&
        kith_store_record_version(n->store, id, &version, &deleted) == KITH_OK) {
        return KITH_OK;
    }
    char key[sizeof(HREF_KEY) + 32];
    href_key(n, href, key);
    kith_buf_t v;
    kith_buf_init(&v);
    int rc = kith_store_meta_get(n->store, key, &v);
    if (rc == KITH_OK && v.len != KITH_REC_ID_LEN) {
        rc = KITH_ENOTFOUND;
    }
    if (rc == KITH_OK) {
        memcpy(id, v.data, KITH_REC_ID_LEN);
    }
    kith_buf_close(&v);
    return rc;
}

/* ---- membership and listings -------------------------------------------------------- */

typedef struct {
    kith_node_t *n;
    const kith_cardbook_t *b;
    idmap_t shared; /* group books: records this node owns that a member may see */
    idmap_t names;  /* custom resource names */
    kith_cardbook_cb cb;
    void *ctx;
    int with_absent; /* changes: list records that are not (or no longer) in the book */
} walk_t;

static int
is_member(const kith_cardbook_t *b, const uint8_t key[KITH_PK_LEN])
{
    return bsearch(key, b->members, b->n_members, KITH_PK_LEN, cmp_key) != NULL;
}

static int
in_book(walk_t *w, const uint8_t id[KITH_REC_ID_LEN], const uint8_t owner[KITH_PK_LEN])
{
    if (w->b->group[0] == '\0') {
        return 1;
    }
    if (memcmp(owner, w->n->id->pk, KITH_PK_LEN) == 0) {
        return idmap_find(&w->shared, id) != NULL;
    }
    return is_member(w->b, owner);
}

static int
walk_one(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const uint8_t owner[KITH_PK_LEN],
         uint64_t fold_seq, int deleted)
{
    walk_t *w = ctx;
    int present = !deleted && in_book(w, id, owner);
    if (!present && !w->with_absent) {
        return KITH_OK;
    }
    char canon[2 * KITH_REC_ID_LEN + 5];
    hex(id, KITH_REC_ID_LEN, canon);
    memcpy(canon + 2 * KITH_REC_ID_LEN, ".vcf", 5);
    const slot_t *named = idmap_find(&w->names, id);
    kith_cardbook_entry_t e;
    memcpy(e.id, id, KITH_REC_ID_LEN);
    e.version = fold_seq;
    e.present = present;
    e.href = named != NULL && named->name != NULL ? named->name : canon;
    return w->cb(w->ctx, &e);
}

static int
walk_begin(walk_t *w, kith_node_t *n, const kith_cardbook_t *b, kith_cardbook_cb cb, void *ctx)
{
    memset(w, 0, sizeof(*w));
    w->n = n;
    w->b = b;
    w->cb = cb;
    w->ctx = ctx;
    int rc = load_names(n, &w->names);
    for (size_t i = 0; rc == KITH_OK && i < b->n_members; i++) {
        rc = kith_store_audience_recs(n->store, b->members[i], put_id, &w->shared);
    }
    return rc;
}

static void
walk_end(walk_t *w)
{
    idmap_close(&w->shared);
    idmap_close(&w->names);
}

static int
make_token(kith_node_t *n, const kith_cardbook_t *b, char token[KITH_CARDBOOK_TOKEN_MAX])
{
    uint64_t seq = 0;
    int rc = kith_store_max_seq(n->store, &seq);
    if (rc == KITH_OK) {
        char tag[2 * sizeof(b->tag) + 1];
        hex(b->tag, sizeof(b->tag), tag);
        snprintf(token, KITH_CARDBOOK_TOKEN_MAX, TOKEN_PREFIX "%s/%" PRIu64, tag, seq);
    }
    return rc;
}

int
kith_cardbook_token(kith_node_t *n, const kith_cardbook_t *b, char token[KITH_CARDBOOK_TOKEN_MAX])
{
    return make_token(n, b, token);
}

int
kith_cardbook_members(kith_node_t *n, const kith_cardbook_t *b, kith_cardbook_cb cb, void *ctx,
                      char token[KITH_CARDBOOK_TOKEN_MAX])
{
    walk_t w;
    int rc = walk_begin(&w, n, b, cb, ctx);
    /* The token first: a change stored after it is listed again next time, never lost. */
    if (rc == KITH_OK && token != NULL) {
        rc = make_token(n, b, token);
    }
    if (rc == KITH_OK) {
        rc = kith_store_record_versions(n->store, 0, walk_one, &w);
    }
    walk_end(&w);
    return rc;
}

/* The sequence number in token, if it is this book's and not from the future. */
static int
parse_token(kith_node_t *n, const kith_cardbook_t *b, const char *token, uint64_t *since)
{
    char tag[2 * sizeof(b->tag) + 1];
    hex(b->tag, sizeof(b->tag), tag);
    size_t pl = strlen(TOKEN_PREFIX), tl = strlen(tag);
    if (strncmp(token, TOKEN_PREFIX, pl) != 0 || strncmp(token + pl, tag, tl) != 0 ||
        token[pl + tl] != '/') {
        return KITH_EINVAL;
    }
    const char *digits = token + pl + tl + 1;
    uint64_t v = 0;
    if (*digits == '\0' || strlen(digits) > 19) {
        return KITH_EINVAL;
    }
    for (const char *p = digits; *p; p++) {
        if (*p < '0' || *p > '9') {
            return KITH_EINVAL;
        }
        v = v * 10 + (uint64_t) (*p - '0');
    }
    uint64_t max = 0;
    int rc = kith_store_max_seq(n->store, &max);
    if (rc != KITH_OK) {
        return rc;
    }
    if (v > max) {
        return KITH_EINVAL;
    }
    *since = v;
    return KITH_OK;
}

int
kith_cardbook_changes(kith_node_t *n, const kith_cardbook_t *b, const char *token,
                      kith_cardbook_cb cb, void *ctx, char now[KITH_CARDBOOK_TOKEN_MAX])
{
    uint64_t since = 0;
    if (token != NULL && token[0] != '\0') {
        int rc = parse_token(n, b, token, &since);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    walk_t w;
    int rc = walk_begin(&w, n, b, cb, ctx);
    w.with_absent = since > 0;
    if (rc == KITH_OK) {
        rc = make_token(n, b, now);
    }
    if (rc == KITH_OK) {
        rc = kith_store_record_versions(n->store, since, walk_one, &w);
    }
    walk_end(&w);
    return rc;
}

/* Whether the live record r is in book b: from its folded audience, the same rule as the
 * listing draws from the rows (in_book()). */
static int
record_in_book(kith_node_t *n, const kith_cardbook_t *b, const kith_record_t *r)
{
    if (b->group[0] == '\0') {
        return 1;
    }
    if (memcmp(r->owner, n->id->pk, KITH_PK_LEN) != 0) {
        return is_member(b, r->owner);
    }
    for (size_t i = 0; i < r->n_aud; i++) {
        if (is_member(b, r->aud[i].key)) {
            return 1;
        }
    }
    return 0;
}

int
kith_cardbook_find(kith_node_t *n, const kith_cardbook_t *b, const char *href,
                   uint8_t id[static KITH_REC_ID_LEN], uint64_t *version)
{
    int deleted = 0;
    int rc = href_to_id(n, href, id);
    if (rc == KITH_OK) {
        rc = kith_store_record_version(n->store, id, version, &deleted);
    }
    if (rc == KITH_OK && deleted) {
        rc = KITH_ENOTFOUND;
    }
    kith_record_t r;
    kith_record_init(&r);
    if (rc == KITH_OK && b->group[0] != '\0') {
        rc = kith_store_record_get(n->store, id, &r);
        if (rc == KITH_OK && !record_in_book(n, b, &r)) {
            rc = KITH_ENOTFOUND;
        }
    }
    kith_record_close(&r);
    return rc;
}

/* ---- cards -------------------------------------------------------------------------- */

static int
list_has(const kith_rfield_t *f, const char *item)
{
    for (size_t i = 0; f != NULL && f->value.type == KITH_V_LIST && i < f->value.n_items; i++) {
        if (strcmp(f->value.items[i], item) == 0) {
            return 1;
        }
    }
    return 0;
}

int
kith_card_from_record(const kith_record_t *r, int all, int foreign_uid, kith_card_t *card)
{
    card->kind = r->kind == KITH_KIND_ORG ? KITH_CARD_ORG : KITH_CARD_PERSON;
    /* A stable UID (RFC 6350 6.7.6: a URI), so that importing the card again updates this
     * record instead of adding a second (node/match.h). A CardDAV client gets back the UID
     * it gave the card: clients match cards by UID. */
    const kith_rfield_t *fu = foreign_uid ? kith_record_field(r, KITH_MATCH_UID_FIELD) : NULL;
    char uid[KITH_MATCH_UID_LEN + 1];
    kith_match_uid_format(r->id, uid);
    int rc = kith_card_add(card, "uid",
                           fu != NULL && fu->value.type == KITH_V_STR ? fu->value.str : uid);
    for (size_t i = 0; i < r->n_fields && rc == KITH_OK; i++) {
        const kith_rfield_t *f = &r->fields[i];
        const kith_field_def_t *def = kith_schema_field(f->name);
        if (!all && (f->private || (def != NULL && def->intel))) {
            continue;
        }
        if (fu != NULL && strcmp(f->name, KITH_MATCH_UID_FIELD) == 0) {
            continue; /* it is the UID */
        }
        const kith_rfield_t *other = kith_record_field_in(r, f->name, !f->private);
        if (all && !f->private && other != NULL && f->value.type != KITH_V_LIST) {
            continue; /* the private value stands in for it */
        }
        const kith_value_t *v = &f->value;
        if (v->type == KITH_V_STR) {
            rc = kith_card_add(card, f->name, v->str);
        } else if (v->type == KITH_V_INT) {
            char num[24];
            snprintf(num, sizeof(num), "%lld", (long long) v->num);
            rc = kith_card_add(card, f->name, num);
        } else if (v->type == KITH_V_LIST) {
            for (size_t k = 0; k < v->n_items && rc == KITH_OK; k++) {
                if (!(f->private && list_has(other, v->items[k]))) {
                    rc = kith_card_add(card, f->name, v->items[k]);
                }
            }
        }
    }
    return rc;
}

int
kith_cardbook_get(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN], kith_buf_t *out)
{
    kith_record_t r;
    kith_card_t card;
    kith_record_init(&r);
    kith_card_init(&card);
    int rc = kith_store_record_get(n->store, id, &r);
    if (rc == KITH_OK) {
        rc = kith_card_from_record(&r, 1, 1, &card);
    }
    if (rc == KITH_OK) {
        rc = kith_vcard_write(&card, 3, out);
    }
    kith_card_close(&card);
    kith_record_close(&r);
    return rc;
}

/* ---- writing a card ----------------------------------------------------------------- */

/* One field of the card a client sent: its values, canonical, each once. */
typedef struct {
    const char *name;
    char **items;
    size_t n;
} cfield_t;

typedef struct {
    cfield_t *f;
    size_t n;
    const char *uid; /* the card's UID, or NULL */
    int kind;
    size_t skipped;
} incoming_t;

static void
incoming_close(incoming_t *in)
{
    for (size_t i = 0; i < in->n; i++) {
        for (size_t k = 0; k < in->f[i].n; k++) {
            free(in->f[i].items[k]);
        }
        free(in->f[i].items);
    }
    free(in->f);
    memset(in, 0, sizeof(*in));
}

static cfield_t *
incoming_field(const incoming_t *in, const char *name)
{
    for (size_t i = 0; i < in->n; i++) {
        if (strcmp(in->f[i].name, name) == 0) {
            return &in->f[i];
        }
    }
    return NULL;
}

static char *
value_text(const kith_value_t *v)
{
    if (v->type == KITH_V_STR) {
        return strdup(v->str);
    }
    if (v->type == KITH_V_INT) {
        char num[24];
        snprintf(num, sizeof(num), "%lld", (long long) v->num);
        return strdup(num);
    }
    return NULL;
}

static void
count_skip(void *ctx, unsigned line, const char *prop, const char *why)
{
    (void) line;
    (void) prop;
    (void) why;
    ((incoming_t *) ctx)->skipped++;
}

/* Reads the card into in: every value checked against the schema; a value kith refuses
 * fails the whole card (KITH_EPARSE), so that a client is told rather than losing it. */
static int
read_card(const kith_card_t *card, incoming_t *in, char *errbuf, size_t errcap)
{
    in->kind = card->kind == KITH_CARD_ORG ? KITH_KIND_ORG : KITH_KIND_PERSON;
    in->f = calloc(card->n_fields ? card->n_fields : 1, sizeof(*in->f));
    if (in->f == NULL) {
        return KITH_ENOMEM;
    }
    for (size_t i = 0; i < card->n_fields; i++) {
        const kith_card_field_t *cf = &card->fields[i];
        if (strcmp(cf->name, "uid") == 0) {
            in->uid = in->uid ? in->uid : cf->value;
            continue;
        }
        if (kith_schema_check_name(cf->name) != KITH_OK) {
            in->skipped++;
            continue;
        }
        char err[200];
        kith_value_t v = {0};
        int rc = kith_schema_parse_item(cf->name, cf->value, &v, err, sizeof(err));
        if (rc == KITH_ENOMEM) {
            return rc;
        }
        if (rc != KITH_OK) {
            kith__errbuf_set(errbuf, errcap, "%s", err); /* it names the field */
            return KITH_EPARSE;
        }
        char *text = value_text(&v);
        kith_value_clear(&v);
        if (text == NULL) {
            return KITH_ENOMEM;
        }
        cfield_t *f = incoming_field(in, cf->name);
        if (f == NULL) {
            f = &in->f[in->n++];
            f->name = cf->name;
        }
        int is_list = kith_schema_is_list(cf->name), dup = 0;
        for (size_t k = 0; k < f->n && !dup; k++) {
            dup = strcmp(f->items[k], text) == 0;
        }
        if (dup || (!is_list && f->n > 0)) {
            free(text); /* a single-valued field keeps its first value */
            continue;
        }
        if (f->n >= KITH_VALUE_MAX_ITEMS) {
            free(text);
            kith__errbuf_set(errbuf, errcap, "%s: more than %d items", cf->name,
                             KITH_VALUE_MAX_ITEMS);
            return KITH_EPARSE;
        }
        char **bigger = realloc(f->items, (f->n + 1) * sizeof(*bigger));
        if (bigger == NULL) {
            free(text);
            return KITH_ENOMEM;
        }
        f->items = bigger;
        f->items[f->n++] = text;
    }
    if (incoming_field(in, "name") == NULL) {
        kith__errbuf_set(errbuf, errcap, "the card has no name (FN)");
        return KITH_EPARSE;
    }
    return KITH_OK;
}

static int
parse_body(const char *vcard, size_t len, incoming_t *in, kith_cardset_t *set, char *errbuf,
           size_t errcap)
{
    char err[256];
    int rc = kith_vcard_parse(vcard, len, set, count_skip, in, err, sizeof(err));
    if (rc == KITH_ENOMEM) {
        return rc;
    }
    if (rc != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "%s", err);
        return KITH_EPARSE;
    }
    if (set->n_cards != 1) {
        kith__errbuf_set(errbuf, errcap, "a CardDAV resource holds exactly one vCard, not %zu",
                         set->n_cards);
        return KITH_EPARSE;
    }
    return read_card(&set->cards[0], in, errbuf, errcap);
}

/* A field's value as this user reads it: the private value over the shared one; a list's
 * items from both layers, each once. The caller frees the array, not the strings. */
static int
current_items(const kith_record_t *r, const char *name, const char ***items, size_t *n,
              char num[24])
{
    const kith_rfield_t *s = kith_record_field_in(r, name, 0),
                        *p = kith_record_field_in(r, name, 1);
    *items = NULL;
    *n = 0;
    const kith_rfield_t *single = p ? p : s;
    if (single == NULL) {
        return KITH_OK;
    }
    if (single->value.type == KITH_V_STR || single->value.type == KITH_V_INT) {
        *items = malloc(sizeof(char *));
        if (*items == NULL) {
            return KITH_ENOMEM;
        }
        if (single->value.type == KITH_V_INT) {
            snprintf(num, 24, "%lld", (long long) single->value.num);
            (*items)[0] = num;
        } else {
            (*items)[0] = single->value.str;
        }
        *n = 1;
        return KITH_OK;
    }
    size_t cap = (s ? s->value.n_items : 0) + (p ? p->value.n_items : 0);
    *items = malloc((cap ? cap : 1) * sizeof(char *));
    if (*items == NULL) {
        return KITH_ENOMEM;
    }
    const kith_rfield_t *layers[2] = {s, p};
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0;
             layers[l] && layers[l]->value.type == KITH_V_LIST && i < layers[l]->value.n_items;
             i++) {
            const char *it = layers[l]->value.items[i];
            int dup = 0;
            for (size_t k = 0; k < *n && !dup; k++) {
                dup = strcmp((*items)[k], it) == 0;
            }
            if (!dup) {
                (*items)[(*n)++] = it;
            }
        }
    }
    return KITH_OK;
}

static int
has_item(char *const *items, size_t n, const char *item)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(items[i], item) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Edits that make record cur read as the card: first pass removes and replaces, second
 * pass adds list items (one pass cannot both add to and remove from one field). */
typedef struct {
    kith_edit_t *e;
    size_t n;
    const char ***owned; /* item arrays to free */
    size_t n_owned;
} edits_t;

static void
edits_close(edits_t *e)
{
    for (size_t i = 0; i < e->n_owned; i++) {
        free((void *) e->owned[i]);
    }
    free(e->owned);
    free(e->e);
    memset(e, 0, sizeof(*e));
}

static int
edits_add(edits_t *e, const char *field, kith_edit_mode_t mode, const char **items, size_t n_items)
{
    kith_edit_t *bigger = realloc(e->e, (e->n + 1) * sizeof(*bigger));
    if (bigger == NULL) {
        free(items);
        return KITH_ENOMEM;
    }
    e->e = bigger;
    const char ***owned = realloc(e->owned, (e->n_owned + 1) * sizeof(*owned));
    if (owned == NULL) {
        free(items);
        return KITH_ENOMEM;
    }
    e->owned = owned;
    e->owned[e->n_owned++] = items;
    e->e[e->n++] = (kith_edit_t){field, mode, items, n_items};
    return KITH_OK;
}

/* Which fields a card speaks for: absent from the card means removed. Intelligence and
 * custom fields travel as X-KITH-* properties that many programs drop, so their absence
 * says nothing. */
static int
card_owns_field(const char *name)
{
    const kith_field_def_t *def = kith_schema_field(name);
    return def != NULL && !def->intel;
}

static int
diff_field(const kith_record_t *cur, const char *name, const cfield_t *want, edits_t *first,
           edits_t *second)
{
    const char **have = NULL;
    size_t n_have = 0;
    char num[24];
    int rc = current_items(cur, name, &have, &n_have, num);
    if (rc != KITH_OK) {
        return rc;
    }
    size_t n_want = want ? want->n : 0;
    if (!kith_schema_is_list(name)) {
        if (n_want == 0 && n_have > 0) {
            /* An unset reaches the private layer first (sticky); a shared value under it is
             * unset by the second pass, once the private one is gone. */
            rc = edits_add(first, name, KITH_EDIT_UNSET, NULL, 0);
            if (rc == KITH_OK && kith_record_field_in(cur, name, 1) != NULL &&
                kith_record_field_in(cur, name, 0) != NULL) {
                rc = edits_add(second, name, KITH_EDIT_UNSET, NULL, 0);
            }
        } else if (n_want > 0 && (n_have == 0 || strcmp(have[0], want->items[0]) != 0)) {
            const char **items = malloc(sizeof(char *));
            rc = items ? KITH_OK : KITH_ENOMEM;
            if (rc == KITH_OK) {
                items[0] = want->items[0];
                rc = edits_add(first, name, KITH_EDIT_SET, items, 1);
            }
        }
        free(have);
        return rc;
    }
    const char **gone = malloc((n_have ? n_have : 1) * sizeof(char *));
    const char **added = malloc((n_want ? n_want : 1) * sizeof(char *));
    size_t n_gone = 0, n_added = 0;
    if (gone == NULL || added == NULL) {
        free(gone);
        free(added);
        free(have);
        return KITH_ENOMEM;
    }
    for (size_t i = 0; i < n_have; i++) {
        if (!has_item(want ? want->items : NULL, n_want, have[i])) {
            gone[n_gone++] = have[i];
        }
    }
    for (size_t i = 0; i < n_want; i++) {
        if (!has_item((char *const *) have, n_have, want->items[i])) {
            added[n_added++] = want->items[i];
        }
    }
    /* Removing strings of the record: they stay valid while cur is open. */
    rc = n_gone ? edits_add(first, name, KITH_EDIT_REMOVE, gone, n_gone) : (free(gone), KITH_OK);
    if (rc == KITH_OK) {
        rc = n_added ? edits_add(second, name, KITH_EDIT_ADD, added, n_added)
                     : (free(added), KITH_OK);
    } else {
        free(added);
    }
    free(have);
    return rc;
}

static int
diff_card(const kith_record_t *cur, const incoming_t *in, edits_t *first, edits_t *second)
{
    int rc = KITH_OK;
    size_t n_defs = 0;
    const kith_field_def_t *defs = kith_schema_fields(&n_defs);
    /* Fields the card speaks for, present or not. */
    for (size_t i = 0; i < n_defs && rc == KITH_OK; i++) {
        if (card_owns_field(defs[i].name)) {
            rc = diff_field(cur, defs[i].name, incoming_field(in, defs[i].name), first, second);
        }
    }
    /* Other fields only where the card has them. */
    for (size_t i = 0; i < in->n && rc == KITH_OK; i++) {
        if (!card_owns_field(in->f[i].name) && strcmp(in->f[i].name, KITH_MATCH_UID_FIELD) != 0) {
            rc = diff_field(cur, in->f[i].name, &in->f[i], first, second);
        }
    }
    return rc;
}

/* The card's UID, if it is not the record's own kith UID, is kept in x-vcard-uid. */
static int
keep_uid(const kith_record_t *cur, const uint8_t id[KITH_REC_ID_LEN], const incoming_t *in,
         edits_t *first)
{
    uint8_t named[KITH_REC_ID_LEN];
    if (in->uid == NULL || in->uid[0] == '\0' ||
        (kith_match_uid_parse(in->uid, named) == KITH_OK &&
         memcmp(named, id, KITH_REC_ID_LEN) == 0)) {
        return KITH_OK;
    }
    const kith_rfield_t *f = cur ? kith_record_field(cur, KITH_MATCH_UID_FIELD) : NULL;
    if (f != NULL && f->value.type == KITH_V_STR && strcmp(f->value.str, in->uid) == 0) {
        return KITH_OK;
    }
    kith_value_t check = {0};
    char err[64];
    if (kith_schema_parse_item(KITH_MATCH_UID_FIELD, in->uid, &check, err, sizeof(err)) !=
        KITH_OK) {
        return KITH_OK; /* a UID kith cannot keep: the card still gets one of kith's */
    }
    kith_value_clear(&check);
    const char **items = malloc(sizeof(char *));
    if (items == NULL) {
        return KITH_ENOMEM;
    }
    items[0] = in->uid;
    return edits_add(first, KITH_MATCH_UID_FIELD, KITH_EDIT_SET, items, 1);
}

static int
check_href(const char *href)
{
    size_t len = strlen(href);
    if (len == 0 || len > KITH_CARDBOOK_HREF_MAX || strchr(href, '/') != NULL ||
        strcmp(href, ".") == 0 || strcmp(href, "..") == 0) {
        return KITH_EINVAL;
    }
    for (const char *p = href; *p; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            return KITH_EINVAL;
        }
    }
    return KITH_OK;
}

/* Privacy survives a PUT. The second pass adds list items after the first removed some,
 * so a field whose only private items the card replaced (a private phone number edited in
 * the client) has no private layer left, and a plain add would go to the shared record.
 * An add to a field that was private before the PUT, or of kept lines that repeat a value
 * private before it (kith_card_line_private()), is set in the private layer instead when
 * that layer is now empty (when it is not, the add goes there anyway: sticky). */
static void
keep_privacy(const kith_record_t *before, const kith_record_t *now, edits_t *second)
{
    for (size_t i = 0; i < second->n; i++) {
        kith_edit_t *e = &second->e[i];
        if (e->mode != KITH_EDIT_ADD || kith_record_field_in(now, e->field, 1) != NULL) {
            continue;
        }
        int private = kith_record_field_in(before, e->field, 1) != NULL;
        for (size_t k = 0;
             !private && k < e->n_items && strcmp(e->field, KITH_CARD_KEPT_FIELD) == 0; k++) {
            private = kith_card_line_private(before, e->items[k]);
        }
        if (private) {
            e->mode = KITH_EDIT_PRIVATE;
        }
    }
}

static int
put_existing(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], const incoming_t *in,
             uint64_t now_ms, kith_cardbook_put_t *out, char *errbuf, size_t errcap)
{
    kith_record_t cur, now;
    kith_record_init(&cur);
    kith_record_init(&now);
    edits_t first = {0}, second = {0};
    kith_edit_result_t res;
    int rc = kith_store_record_get(n->store, id, &cur);
    if (rc == KITH_OK && kith_record_role(&cur, n->id->pk) < KITH_ROLE_EDITOR) {
        kith__errbuf_set(errbuf, errcap, "'%s' is shared with you read-only",
                         kith_record_name(&cur));
        rc = KITH_EAUTH;
    }
    if (rc == KITH_OK) {
        rc = diff_card(&cur, in, &first, &second);
    }
    if (rc == KITH_OK) {
        rc = keep_uid(&cur, id, in, &first);
    }
    if (rc == KITH_OK && first.n > 0) {
        rc = kith__node_edit_in_txn(n, &cur, first.e, first.n, now_ms, &res, errbuf, errcap);
        out->changed += res.shared + res.private;
    }
    if (rc == KITH_OK && second.n > 0) {
        rc = kith_store_record_get(n->store, id, &now);
        if (rc == KITH_OK) {
            keep_privacy(&cur, &now, &second);
            rc = kith__node_edit_in_txn(n, &now, second.e, second.n, now_ms, &res, errbuf, errcap);
            out->changed += res.shared + res.private;
        }
    }
    edits_close(&first);
    edits_close(&second);
    kith_record_close(&now);
    kith_record_close(&cur);
    return rc;
}

static void
uid_key(kith_node_t *n, const char *uid, char key[sizeof(UID_KEY) + 32])
{
    kith_buf_t msg;
    kith_buf_init(&msg);
    uint8_t mac[KITH_ROW_MAC_LEN];
    if (kith_buf_puts(&msg, "kith dav uid\n") == KITH_OK && kith_buf_puts(&msg, uid) == KITH_OK) {
        kith_vault_mac(n->vault, msg.data, msg.len, mac);
    } else {
        memset(mac, 0, sizeof(mac));
    }
    kith_buf_close(&msg);
    memcpy(key, UID_KEY, sizeof(UID_KEY) - 1);
    hex(mac, sizeof(mac), key + sizeof(UID_KEY) - 1);
}

/* The live record that already has this UID: a kith UID names its record; another UID is
 * found if a card with it was made through CardDAV (RFC 6352 5.3.2.1: no two cards of a
 * book may share a UID). KITH_ENOTFOUND if none. */
static int
uid_taken(kith_node_t *n, const char *uid, uint8_t id[KITH_REC_ID_LEN])
{
    uint64_t version;
    int deleted = 1;
    int rc = KITH_ENOTFOUND;
    if (kith_match_uid_parse(uid, id) != KITH_OK) {
        char key[sizeof(UID_KEY) + 32];
        uid_key(n, uid, key);
        kith_buf_t v;
        kith_buf_init(&v);
        rc = kith_store_meta_get(n->store, key, &v);
        if (rc == KITH_OK && v.len == KITH_REC_ID_LEN) {
            memcpy(id, v.data, KITH_REC_ID_LEN);
        } else if (rc == KITH_OK) {
            rc = KITH_ENOTFOUND;
        }
        kith_buf_close(&v);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    rc = kith_store_record_version(n->store, id, &version, &deleted);
    return rc == KITH_OK && deleted ? KITH_ENOTFOUND : rc;
}

static int
put_new(kith_node_t *n, const char *href, const incoming_t *in, uint64_t now_ms,
        kith_cardbook_put_t *out, char *errbuf, size_t errcap)
{
    edits_t set = {0};
    int rc = KITH_OK;
    if (in->uid != NULL && in->uid[0] != '\0') {
        rc = uid_taken(n, in->uid, out->id);
        if (rc == KITH_OK) {
            char other[2 * KITH_REC_ID_LEN + 1];
            hex(out->id, KITH_REC_ID_LEN, other);
            kith__errbuf_set(errbuf, errcap, "another card (record %.8s) has this UID", other);
            return KITH_EEXISTS;
        }
        if (rc != KITH_ENOTFOUND) {
            return rc;
        }
        rc = KITH_OK;
    }
    for (size_t i = 0; i < in->n && rc == KITH_OK; i++) {
        const char **items = malloc(in->f[i].n * sizeof(char *));
        if (items == NULL) {
            rc = KITH_ENOMEM;
            break;
        }
        memcpy(items, in->f[i].items, in->f[i].n * sizeof(char *));
        rc = edits_add(&set, in->f[i].name, KITH_EDIT_SET, items, in->f[i].n);
    }
    uint8_t none[KITH_REC_ID_LEN] = {0};
    if (rc == KITH_OK) {
        rc = keep_uid(NULL, none, in, &set);
    }
    kith_edit_result_t res;
    if (rc == KITH_OK) {
        rc = kith__node_add_in_txn(n, in->kind, set.e, set.n, now_ms, &res, errbuf, errcap);
    }
    if (rc == KITH_OK) {
        memcpy(out->id, res.id, KITH_REC_ID_LEN);
        out->created = 1;
        out->changed = res.shared + res.private;
        uint8_t canon[KITH_REC_ID_LEN];
        if (!canonical_href(href, canon) || memcmp(canon, res.id, KITH_REC_ID_LEN) != 0) {
            rc = name_record(n, res.id, href);
        }
    }
    uint8_t kith_uid[KITH_REC_ID_LEN];
    if (rc == KITH_OK && in->uid != NULL && in->uid[0] != '\0' &&
        kith_match_uid_parse(in->uid, kith_uid) != KITH_OK) {
        /* Remembered so that a second card with this UID is refused (uid_taken()). */
        char key[sizeof(UID_KEY) + 32];
        uid_key(n, in->uid, key);
        rc = kith_store_meta_set(n->store, key, res.id, KITH_REC_ID_LEN);
    }
    edits_close(&set);
    return rc;
}

int
kith_cardbook_put(kith_node_t *n, const kith_cardbook_t *b, const char *href, const char *vcard,
                  size_t len, const uint64_t *if_match, int if_none_match, uint64_t now_ms,
                  kith_cardbook_put_t *out, char *errbuf, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    kith__errbuf_set(errbuf, errcap, "%s", "");
    if (check_href(href) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "not a card name");
        return KITH_EINVAL;
    }
    incoming_t in;
    memset(&in, 0, sizeof(in));
    kith_cardset_t set;
    kith_cardset_init(&set);
    int rc = parse_body(vcard, len, &in, &set, errbuf, errcap);
    out->skipped = in.skipped;
    int began = 0;
    if (rc == KITH_OK) {
        rc = kith_store_begin(n->store);
        began = rc == KITH_OK;
    }
    uint8_t id[KITH_REC_ID_LEN];
    uint64_t version = 0;
    int exists = 0;
    if (rc == KITH_OK) {
        int f = kith_cardbook_find(n, b, href, id, &version);
        exists = f == KITH_OK;
        rc = f == KITH_OK || f == KITH_ENOTFOUND ? KITH_OK : f;
    }
    if (rc == KITH_OK &&
        ((if_match != NULL && (!exists || *if_match != version)) || (if_none_match && exists))) {
        kith__errbuf_set(errbuf, errcap,
                         exists ? "the card changed since the client read it"
                                : "the card does not exist");
        rc = KITH_ESTALE;
    }
    if (rc == KITH_OK && !exists && b->group[0] != '\0') {
        kith__errbuf_set(errbuf, errcap,
                         "new cards go in the 'all' address book; share them with 'kith share'");
        rc = KITH_EPERM;
    }
    if (rc == KITH_OK) {
        memcpy(out->id, id, KITH_REC_ID_LEN);
        rc = exists ? put_existing(n, id, &in, now_ms, out, errbuf, errcap)
                    : put_new(n, href, &in, now_ms, out, errbuf, errcap);
    }
    if (began) {
        if (rc == KITH_OK) {
            rc = kith_store_commit(n->store);
        } else {
            kith_store_rollback(n->store);
        }
    }
    out->skipped = in.skipped;
    incoming_close(&in);
    kith_cardset_close(&set);
    return rc;
}

int
kith_cardbook_delete(kith_node_t *n, const kith_cardbook_t *b, const char *href,
                     const uint64_t *if_match, uint64_t now_ms, char *errbuf, size_t errcap)
{
    uint8_t id[KITH_REC_ID_LEN];
    uint64_t version = 0;
    kith__errbuf_set(errbuf, errcap, "%s", "");
    int rc =
        check_href(href) == KITH_OK ? kith_cardbook_find(n, b, href, id, &version) : KITH_ENOTFOUND;
    if (rc == KITH_OK && if_match != NULL && *if_match != version) {
        kith__errbuf_set(errbuf, errcap, "the card changed since the client read it");
        rc = KITH_ESTALE;
    }
    if (rc == KITH_OK) {
        rc = kith_node_set_deleted(n, id, 1, now_ms);
        if (rc == KITH_EAUTH) {
            kith__errbuf_set(errbuf, errcap,
                             "only the record's owner can delete it; this node holds a copy");
        }
    }
    return rc;
}

/* ---- the password ------------------------------------------------------------------- */

static int
password_gen(kith_node_t *n, uint64_t *gen)
{
    kith_buf_t v;
    kith_buf_init(&v);
    int rc = kith_store_meta_get(n->store, PASSWORD_GEN, &v);
    *gen = 0;
    if (rc == KITH_OK && v.len == 8) {
        for (int i = 0; i < 8; i++) {
            *gen = (*gen << 8) | v.data[i];
        }
    } else if (rc == KITH_ENOTFOUND || rc == KITH_OK) {
        rc = KITH_OK; /* none yet (or damaged): generation 0 */
    }
    kith_buf_close(&v);
    return rc;
}

int
kith_cardbook_password(kith_node_t *n, char out[static KITH_CARDBOOK_PASSWORD_LEN + 1])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567"; /* RFC 4648 base32 */
    uint64_t gen = 0;
    int rc = password_gen(n, &gen);
    if (rc != KITH_OK) {
        return rc;
    }
    uint8_t msg[16] = "kithdavp", mac[KITH_ROW_MAC_LEN]; /* domain, then the generation */
    for (int i = 0; i < 8; i++) {
        msg[8 + i] = (uint8_t) (gen >> (56 - 8 * i));
    }
    kith_vault_mac(n->vault, msg, sizeof(msg), mac);
    /* 16 bytes = 128 bits: 26 base32 characters (the last one holds 3 bits). */
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < sizeof(mac); i++) {
        acc = (acc << 8) | mac[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) {
        out[o++] = alphabet[(acc << (5 - bits)) & 31];
    }
    out[o] = '\0';
    sodium_memzero(mac, sizeof(mac));
    return KITH_OK;
}

int
kith_cardbook_password_reset(kith_node_t *n)
{
    uint64_t gen = 0;
    int rc = kith_store_begin(n->store);
    if (rc != KITH_OK) {
        return rc;
    }
    rc = password_gen(n, &gen);
    if (rc == KITH_OK) {
        uint8_t v[8];
        gen++;
        for (int i = 0; i < 8; i++) {
            v[i] = (uint8_t) (gen >> (56 - 8 * i));
        }
        rc = kith_store_meta_set(n->store, PASSWORD_GEN, v, sizeof(v));
    }
    if (rc == KITH_OK) {
        return kith_store_commit(n->store);
    }
    kith_store_rollback(n->store);
    return rc;
}
