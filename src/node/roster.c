/*
 * The roster: an in-memory index of every record for the web UI's list and search; see
 * roster.h.
 *
 * Layout, chosen for size at 100,000 records (about 400 bytes per record, 38 MiB at 100k
 * records of bench-ui's shape; the search text is half of it):
 *  - ents: one fixed-size entry per record (id, kind, flags, numbers), in no order;
 *  - order: entry indices sorted by (folded name, id): the order of a query's answer;
 *  - tab: an open-addressing table from id to entry index, for refreshes;
 *  - pool: one string arena. Each entry owns one blob in it: its strings, NUL-terminated,
 *    in a fixed order (see make_blob()), lists as a 2-byte count and their items, the
 *    folded search text last. An entry that changes gets a new blob; the old one is wiped
 *    and becomes garbage, and the pool is compacted in place when garbage passes half.
 *  - freq: how often each byte occurs in the search texts, so that the substring test
 *    looks for the query's rarest byte first (contains()).
 *
 * A query counts every match, not just the first offset + limit: the UI shows the exact
 * total, and a full walk costs little. It tests entries in memory order into a bitmap (at
 * 100k records: under 1 ms without text, 3-15 ms with a substring test on a loaded
 * 2-core machine, scripts/bench-ui), then walks the sorted order over the bitmap up to the
 * end of the page. Keeping counts per filter would cost memory and code for no gain a
 * user could see.
 *
 * The strings are plaintext of the records; kith_roster_free() wipes the pool. Limits:
 * the pool is at most 4 GiB (offsets are 32 bits); a list shows at most 65535 items.
 */
#define _GNU_SOURCE /* qsort_r */
#include "node/roster.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "model/schema.h"
#include "util/nodeid.h"
#include "util/textfold.h"

#define F_DELETED 1u
#define F_MINE    2u
#define F_PRIVATE 4u /* has a private value */

#define NO_DAYS  INT32_MIN
#define NO_SMALL INT8_MIN

/* A batch of changes larger than this re-sorts the order instead of moving entries. */
#define RESORT_AFTER 256

typedef struct {
    uint8_t id[KITH_REC_ID_LEN];
    uint32_t blob;     /* offset of this entry's strings in the pool */
    uint32_t blob_len; /* bytes, the final NUL included */
    uint32_t text;     /* offset of the folded search text within the blob */
    uint32_t text_len; /* bytes, without its NUL */
    int32_t last_days; /* last_interaction, days since 1970-01-01; NO_DAYS: none */
    int8_t influence;  /* 0..5; NO_SMALL: none */
    int8_t attitude;   /* -2..2; NO_SMALL: none */
    uint8_t kind;      /* KITH_KIND_* */
    uint8_t flags;     /* F_* */
} entry_t;

struct kith_roster {
    entry_t *ents; /* n_ents used of cap_ents */
    size_t n_ents, cap_ents;
    uint32_t *order; /* n_ents entry indices, sorted by (folded name, id) */
    uint32_t *tab;   /* id -> entry index + 1; 0: empty. cap_tab is a power of two */
    size_t cap_tab;
    char *pool; /* string arena */
    size_t pool_len, pool_cap, garbage;
    uint64_t seq;           /* the highest fold_seq seen */
    uint8_t peers_hash[32]; /* the peer list the labels were made from */
    int full;               /* the next refresh reloads everything */
    uint64_t reads;         /* records read from the store, for the tests */
    uint64_t freq[256];     /* occurrences of each byte in the search texts held */
};

/* ---- dates ------------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned) (y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

/* "YYYY-MM-DD" -> days, or NO_DAYS for anything else. */
static int32_t
parse_date(const char *s)
{
    unsigned y = 0, m = 0, d = 0;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7 ? s[i] != '-' : (s[i] < '0' || s[i] > '9')) {
            return NO_DAYS;
        }
    }
    if (s[10] != '\0') {
        return NO_DAYS;
    }
    y = (unsigned) ((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
    m = (unsigned) ((s[5] - '0') * 10 + (s[6] - '0'));
    d = (unsigned) ((s[8] - '0') * 10 + (s[9] - '0'));
    if (m < 1 || m > 12 || d < 1 || d > 31) {
        return NO_DAYS;
    }
    return (int32_t) days_from_civil(y, m, d);
}

/* ---- the id table ----------------------------------------------------------------- */

static size_t
id_hash(const uint8_t id[KITH_REC_ID_LEN])
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;
    return (size_t) (h ^ (h >> 32));
}

/* The table slot holding id, or the empty slot where it would go. */
static size_t
tab_find(const kith_roster_t *r, const uint8_t id[KITH_REC_ID_LEN])
{
    size_t mask = r->cap_tab - 1, i = id_hash(id) & mask;
    while (r->tab[i] != 0 && memcmp(r->ents[r->tab[i] - 1].id, id, KITH_REC_ID_LEN) != 0) {
        i = (i + 1) & mask;
    }
    return i;
}

/* The index + 1 of the entry with id, or 0. */
static size_t
lookup(const kith_roster_t *r, const uint8_t id[KITH_REC_ID_LEN])
{
    return r->cap_tab == 0 ? 0 : r->tab[tab_find(r, id)];
}

/* Grows the table to keep it at most half full with one more entry. */
static int
tab_reserve(kith_roster_t *r)
{
    if ((r->n_ents + 1) * 2 <= r->cap_tab) {
        return KITH_OK;
    }
    size_t cap = r->cap_tab ? r->cap_tab * 2 : 1024;
    uint32_t *tab = calloc(cap, sizeof(*tab));
    if (tab == NULL) {
        return KITH_ENOMEM;
    }
    free(r->tab);
    r->tab = tab;
    r->cap_tab = cap;
    for (size_t e = 0; e < r->n_ents; e++) {
        r->tab[tab_find(r, r->ents[e].id)] = (uint32_t) e + 1;
    }
    return KITH_OK;
}

/* Empties table slot i, moving later entries of its probe run back (linear probing). */
static void
tab_remove_at(kith_roster_t *r, size_t i)
{
    size_t mask = r->cap_tab - 1, j = i;
    r->tab[i] = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (r->tab[j] == 0) {
            return;
        }
        size_t home = id_hash(r->ents[r->tab[j] - 1].id) & mask;
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
            r->tab[i] = r->tab[j];
            r->tab[j] = 0;
            i = j;
        }
    }
}

/* Adds (sign 1) or takes out (-1) a search text's bytes from the byte counts. */
static void
count_bytes(kith_roster_t *r, const char *text, size_t len, int sign)
{
    for (size_t i = 0; i < len; i++) {
        r->freq[(uint8_t) text[i]] += (uint64_t) (int64_t) sign;
    }
}

/* ---- order ------------------------------------------------------------------------ */

static int
cmp_ents(const kith_roster_t *r, const entry_t *a, const entry_t *b)
{
    int c = strcmp(r->pool + a->blob, r->pool + b->blob); /* the folded name comes first */
    return c ? c : memcmp(a->id, b->id, KITH_REC_ID_LEN);
}

static int
cmp_order(const void *x, const void *y, void *ctx)
{
    const kith_roster_t *r = ctx;
    return cmp_ents(r, &r->ents[*(const uint32_t *) x], &r->ents[*(const uint32_t *) y]);
}

/* The position in order of entry e, or where it would go (binary search). */
static size_t
order_pos(const kith_roster_t *r, const entry_t *e)
{
    size_t lo = 0, hi = r->n_ents;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_ents(r, &r->ents[r->order[mid]], e) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static int
resort(kith_roster_t *r)
{
    for (size_t i = 0; i < r->n_ents; i++) {
        r->order[i] = (uint32_t) i;
    }
    if (r->n_ents > 1) { /* qsort_r() wants an array, even of nothing */
        qsort_r(r->order, r->n_ents, sizeof(*r->order), cmp_order, r);
    }
    return KITH_OK;
}

/* ---- the pool --------------------------------------------------------------------- */

static int
cmp_blob(const void *x, const void *y, void *ctx)
{
    const entry_t *ents = ctx;
    uint32_t a = ents[*(const uint32_t *) x].blob, b = ents[*(const uint32_t *) y].blob;
    return (a > b) - (a < b);
}

/* Drops the garbage and the slack: moves every live blob down, in the pool itself (a
 * second pool would double the peak), wipes what is left and shrinks the allocation. */
static int
pool_compact(kith_roster_t *r)
{
    uint32_t *by_blob = malloc((r->n_ents ? r->n_ents : 1) * sizeof(*by_blob));
    if (by_blob == NULL) {
        return KITH_ENOMEM;
    }
    for (size_t e = 0; e < r->n_ents; e++) {
        by_blob[e] = (uint32_t) e;
    }
    qsort_r(by_blob, r->n_ents, sizeof(*by_blob), cmp_blob, r->ents);
    size_t len = 0;
    for (size_t i = 0; i < r->n_ents; i++) {
        entry_t *ent = &r->ents[by_blob[i]];
        memmove(r->pool + len, r->pool + ent->blob, ent->blob_len);
        ent->blob = (uint32_t) len;
        len += ent->blob_len;
    }
    free(by_blob);
    if (r->pool != NULL) {
        sodium_memzero(r->pool + len, r->pool_cap - len);
    }
    char *pool = realloc(r->pool, len ? len : 1);
    if (pool != NULL) {
        r->pool = pool;
        r->pool_cap = len ? len : 1;
    }
    r->pool_len = len;
    r->garbage = 0;
    return KITH_OK;
}

/* Appends a blob; *off gets its offset. */
static int
pool_add(kith_roster_t *r, const kith_buf_t *blob, uint32_t *off)
{
    if (r->garbage > 4096 && r->garbage > r->pool_len / 2) {
        int rc = pool_compact(r);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    if (blob->len > UINT32_MAX - r->pool_len) {
        return KITH_ETOOBIG;
    }
    if (r->pool_len + blob->len > r->pool_cap) {
        size_t cap = r->pool_cap > 4096 ? r->pool_cap : 1 << 16;
        while (cap < r->pool_len + blob->len) {
            cap += cap / 2;
        }
        if (cap > (size_t) UINT32_MAX + 1) {
            cap = (size_t) UINT32_MAX + 1;
        }
        /* realloc rather than malloc, copy and wipe: a second pool would double the
         * peak during a full load. A pool this large is mmap'd by glibc and moved with
         * mremap, which leaves no copy of the plaintext behind; a small one may leave a
         * freed copy of at most a few pages' worth in the heap. */
        char *pool = realloc(r->pool, cap);
        if (pool == NULL) {
            return KITH_ENOMEM;
        }
        r->pool = pool;
        r->pool_cap = cap;
    }
    memcpy(r->pool + r->pool_len, blob->data, blob->len);
    *off = (uint32_t) r->pool_len;
    r->pool_len += blob->len;
    return KITH_OK;
}

/* ---- building an entry ------------------------------------------------------------ */

/* A peer, as labels and the shared filter need it. */
typedef struct {
    kith_node_t *node;
    kith_peer_t *peers;
    size_t n_peers;
    /* Share specs of every record (full load), sorted by record; or of one record. */
    struct spec {
        uint8_t id[KITH_REC_ID_LEN];
        char label[KITH_PEER_NAME_MAX + 32]; /* "@group" or the peer's label */
    } * specs;
    size_t n_specs, cap_specs;
    kith_roster_t *r;
    kith_buf_t blob, tmp;
    int err;
} ctx_t;

/* As cli_key_label(): "you", the peer's name, or "unknown node FINGERPRINT". */
static void
key_label(const ctx_t *c, const uint8_t key[KITH_PK_LEN], char *out, size_t cap)
{
    if (memcmp(key, c->node->id->pk, KITH_PK_LEN) == 0) {
        snprintf(out, cap, "you");
        return;
    }
    for (size_t i = 0; i < c->n_peers; i++) {
        if (memcmp(c->peers[i].key, key, KITH_PK_LEN) == 0) {
            snprintf(out, cap, "%s", c->peers[i].name);
            return;
        }
    }
    char fp[KITH_FINGERPRINT_LEN + 1];
    kith_fingerprint(key, fp);
    snprintf(out, cap, "unknown node %s", fp);
}

static int
collect_spec(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const kith_share_target_t *target,
             int role)
{
    (void) role;
    ctx_t *c = ctx;
    if (c->n_specs == c->cap_specs) {
        size_t cap = c->cap_specs ? c->cap_specs * 2 : 64;
        struct spec *v = realloc(c->specs, cap * sizeof(*v));
        if (v == NULL) {
            return KITH_ENOMEM;
        }
        c->specs = v;
        c->cap_specs = cap;
    }
    struct spec *s = &c->specs[c->n_specs++];
    memcpy(s->id, id, KITH_REC_ID_LEN);
    if (target->is_group) {
        snprintf(s->label, sizeof(s->label), "@%s", target->group);
    } else {
        key_label(c, target->key, s->label, sizeof(s->label));
    }
    return KITH_OK;
}

/* Record id first, then groups before peers ('@' sorts before letters only by luck, so
 * say it), then by label. */
static int
cmp_spec(const void *x, const void *y)
{
    const struct spec *a = x, *b = y;
    int c = memcmp(a->id, b->id, KITH_REC_ID_LEN);
    if (c != 0) {
        return c;
    }
    if ((a->label[0] == '@') != (b->label[0] == '@')) {
        return a->label[0] == '@' ? -1 : 1;
    }
    return strcmp(a->label, b->label);
}

static int
cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *) x, *(char *const *) y);
}

static int
put_str(kith_buf_t *b, const char *s)
{
    return kith_buf_append(b, s, strlen(s) + 1);
}

static int
put_count(kith_buf_t *b, size_t n)
{
    uint8_t c[2] = {(uint8_t) (n & 0xff), (uint8_t) (n >> 8)};
    return kith_buf_append(b, c, 2);
}

/* The text of field name (shared, else private) if it is a string, else "". */
static const char *
field_str(const kith_record_t *rec, const char *name)
{
    const kith_rfield_t *f = kith_record_field(rec, name);
    return f != NULL && f->value.type == KITH_V_STR ? f->value.str : "";
}

static int8_t
field_small(const kith_record_t *rec, const char *name, int min, int max)
{
    const kith_rfield_t *f = kith_record_field(rec, name);
    if (f == NULL || f->value.type != KITH_V_INT || f->value.num < min || f->value.num > max) {
        return NO_SMALL;
    }
    return (int8_t) f->value.num;
}

/* A folded copy of s, in c->tmp (overwritten by the next call). */
static const char *
fold(ctx_t *c, const char *s, int *rc)
{
    c->tmp.len = 0;
    if (*rc == KITH_OK) {
        *rc = kith_textfold(s, strlen(s), &c->tmp);
    }
    return *rc == KITH_OK && c->tmp.data ? (const char *) c->tmp.data : "";
}

/* The audience's labels (this node left out), sorted, as a list. */
static int
put_audience(ctx_t *c, const kith_record_t *rec)
{
    char(*labels)[KITH_PEER_NAME_MAX + 32] = NULL;
    char **sorted = NULL;
    size_t n = 0;
    int rc = KITH_OK;
    if (rec->n_aud > 0) {
        labels = malloc(rec->n_aud * sizeof(*labels));
        sorted = malloc(rec->n_aud * sizeof(*sorted));
        if (labels == NULL || sorted == NULL) {
            rc = KITH_ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < rec->n_aud && n < 0xffff; i++) {
        if (memcmp(rec->aud[i].key, c->node->id->pk, KITH_PK_LEN) != 0) {
            key_label(c, rec->aud[i].key, labels[n], sizeof(labels[n]));
            sorted[n] = labels[n];
            n++;
        }
    }
    if (n > 1) {
        qsort(sorted, n, sizeof(*sorted), cmp_str);
    }
    rc = put_count(&c->blob, n);
    for (size_t i = 0; i < n && rc == KITH_OK; i++) {
        rc = put_str(&c->blob, sorted[i]);
    }
out:
    free(labels);
    free(sorted);
    return rc;
}

/*
 * The blob of rec: folded name, folded org, owner label, folded tags (list), shared_with
 * (list), audience labels (list), name, org, title, tags (list), buying_role, reports_to,
 * last_interaction, then the folded search text. Strings NUL-terminated; "" for none.
 * specs/n_specs: the record's share specs, in display order.
 */
static int
make_blob(ctx_t *c, const kith_record_t *rec, const struct spec *specs, size_t n_specs, entry_t *e)
{
    kith_buf_t *b = &c->blob;
    b->len = 0;
    int rc = KITH_OK;
    const char *name = kith_record_name(rec);
    const kith_rfield_t *tags = kith_record_field(rec, "tags");
    size_t n_tags = tags && tags->value.type == KITH_V_LIST ? tags->value.n_items : 0;
    n_tags = n_tags > 0xffff ? 0xffff : n_tags;
    char label[KITH_PEER_NAME_MAX + 32];
    int mine = memcmp(rec->owner, c->node->id->pk, KITH_PK_LEN) == 0;

    rc = kith_textfold(name, strlen(name), b);
    if (rc == KITH_OK) {
        rc = kith_buf_putc(b, '\0');
    }
    if (rc == KITH_OK) {
        rc = put_str(b, fold(c, field_str(rec, "org"), &rc));
    }
    key_label(c, rec->owner, label, sizeof(label));
    if (rc == KITH_OK) {
        rc = put_str(b, label);
    }
    if (rc == KITH_OK) {
        rc = put_count(b, n_tags);
    }
    for (size_t i = 0; i < n_tags && rc == KITH_OK; i++) {
        rc = put_str(b, fold(c, tags->value.items[i], &rc));
    }
    /* shared_with: for this node's records the specs as the user gave them; for another's
     * (whose owner keeps the specs) who holds it besides this node. */
    if (rc == KITH_OK && mine) {
        n_specs = n_specs > 0xffff ? 0xffff : n_specs;
        rc = put_count(b, n_specs);
        for (size_t i = 0; i < n_specs && rc == KITH_OK; i++) {
            rc = put_str(b, specs[i].label);
        }
    } else if (rc == KITH_OK) {
        rc = put_audience(c, rec);
    }
    if (rc == KITH_OK) {
        rc = put_audience(c, rec);
    }
    const char *strs[] = {name, field_str(rec, "org"), field_str(rec, "title")};
    for (size_t i = 0; i < 3 && rc == KITH_OK; i++) {
        rc = put_str(b, strs[i]);
    }
    if (rc == KITH_OK) {
        rc = put_count(b, n_tags);
    }
    for (size_t i = 0; i < n_tags && rc == KITH_OK; i++) {
        rc = put_str(b, tags->value.items[i]);
    }
    const char *last = field_str(rec, "last_interaction");
    const char *tail[] = {field_str(rec, "buying_role"), field_str(rec, "reports_to"), last};
    for (size_t i = 0; i < 3 && rc == KITH_OK; i++) {
        rc = put_str(b, tail[i]);
    }
    size_t text = b->len;
    if (rc == KITH_OK) {
        rc = kith_store_search_text(rec, b);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_putc(b, '\0');
    }
    if (rc != KITH_OK) {
        return rc;
    }
    if (b->len > UINT32_MAX) {
        return KITH_ETOOBIG;
    }
    memcpy(e->id, rec->id, KITH_REC_ID_LEN);
    e->blob_len = (uint32_t) b->len;
    e->text = (uint32_t) text;
    e->text_len = (uint32_t) (b->len - text - 1);
    e->last_days = parse_date(last);
    e->influence = field_small(rec, "influence", 0, 5);
    e->attitude = field_small(rec, "attitude", -2, 2);
    e->kind = (uint8_t) rec->kind;
    e->flags = (uint8_t) ((rec->deleted ? F_DELETED : 0) | (mine ? F_MINE : 0));
    for (size_t i = 0; i < rec->n_fields; i++) {
        if (rec->fields[i].private) {
            e->flags |= F_PRIVATE;
            break;
        }
    }
    return KITH_OK;
}

/* Removes entry index e: from order (unless skip_order: the caller re-sorts), the id
 * table and ents, whose last entry moves into e's place. */
static void
remove_entry(kith_roster_t *r, size_t e, int skip_order)
{
    entry_t *ent = &r->ents[e];
    size_t last = r->n_ents - 1;
    if (!skip_order) {
        size_t pos = order_pos(r, ent);
        memmove(&r->order[pos], &r->order[pos + 1], (last - pos) * sizeof(*r->order));
    }
    r->n_ents--; /* order now holds the others, still sorted */
    count_bytes(r, r->pool + ent->blob + ent->text, ent->text_len, -1);
    sodium_memzero(r->pool + ent->blob, ent->blob_len);
    r->garbage += ent->blob_len;
    tab_remove_at(r, tab_find(r, ent->id));
    if (e != last) {
        if (!skip_order) {
            r->order[order_pos(r, &r->ents[last])] = (uint32_t) e;
        }
        r->tab[tab_find(r, r->ents[last].id)] = (uint32_t) e + 1;
        r->ents[e] = r->ents[last];
    }
}

/* Puts rec in: adds it, or replaces the entry with its id. keep_order 0 leaves order
 * unsorted (the caller re-sorts). */
static int
upsert(ctx_t *c, const kith_record_t *rec, const struct spec *specs, size_t n_specs, int keep_order)
{
    kith_roster_t *r = c->r;
    entry_t ent;
    int rc = make_blob(c, rec, specs, n_specs, &ent);
    if (rc == KITH_OK) {
        rc = pool_add(r, &c->blob, &ent.blob);
    }
    if (rc != KITH_OK) {
        return rc;
    }
    size_t old = lookup(r, rec->id);
    if (old != 0) {
        remove_entry(r, old - 1, !keep_order);
    }
    if ((rc = tab_reserve(r)) != KITH_OK) {
        return rc;
    }
    if (r->n_ents == r->cap_ents) {
        size_t cap = r->cap_ents ? r->cap_ents + r->cap_ents / 2 : 1024;
        entry_t *ents = realloc(r->ents, cap * sizeof(*ents));
        if (ents == NULL) {
            return KITH_ENOMEM;
        }
        r->ents = ents;
        uint32_t *order = realloc(r->order, cap * sizeof(*order));
        if (order == NULL) {
            return KITH_ENOMEM;
        }
        r->order = order;
        r->cap_ents = cap;
    }
    if (r->n_ents >= UINT32_MAX - 1) {
        return KITH_ETOOBIG;
    }
    size_t e = r->n_ents;
    r->ents[e] = ent;
    count_bytes(r, r->pool + ent.blob + ent.text, ent.text_len, 1);
    r->tab[tab_find(r, rec->id)] = (uint32_t) e + 1;
    if (keep_order) {
        size_t pos = order_pos(r, &ent);
        memmove(&r->order[pos + 1], &r->order[pos], (r->n_ents - pos) * sizeof(*r->order));
        r->order[pos] = (uint32_t) e;
    }
    r->n_ents++;
    return KITH_OK;
}

/* ---- refresh ---------------------------------------------------------------------- */

static int
load_one(void *ctx, const kith_record_t *rec)
{
    ctx_t *c = ctx;
    c->r->reads++;
    /* The record's specs: a run in the sorted array of all of them. */
    size_t lo = 0, hi = c->n_specs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(c->specs[mid].id, rec->id, KITH_REC_ID_LEN) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    size_t end = lo;
    while (end < c->n_specs && memcmp(c->specs[end].id, rec->id, KITH_REC_ID_LEN) == 0) {
        end++;
    }
    return upsert(c, rec, end > lo ? c->specs + lo : NULL, end - lo, 0);
}

static int
max_seq(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const uint8_t owner[KITH_PK_LEN],
        uint64_t fold_seq, int deleted)
{
    (void) id;
    (void) owner;
    (void) deleted;
    uint64_t *seq = ctx;
    *seq = fold_seq > *seq ? fold_seq : *seq;
    return KITH_OK;
}

/* The ids folded since, with the highest fold_seq among them. */
typedef struct {
    uint8_t (*ids)[KITH_REC_ID_LEN];
    size_t n, cap;
    uint64_t seq;
} changed_t;

static int
collect_changed(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const uint8_t owner[KITH_PK_LEN],
                uint64_t fold_seq, int deleted)
{
    (void) owner;
    (void) deleted;
    changed_t *ch = ctx;
    if (ch->n == ch->cap) {
        size_t cap = ch->cap ? ch->cap * 2 : 16;
        void *v = realloc(ch->ids, cap * sizeof(*ch->ids));
        if (v == NULL) {
            return KITH_ENOMEM;
        }
        ch->ids = v;
        ch->cap = cap;
    }
    memcpy(ch->ids[ch->n++], id, KITH_REC_ID_LEN);
    ch->seq = fold_seq > ch->seq ? fold_seq : ch->seq;
    return KITH_OK;
}

/* Empties the roster, keeping its allocations. */
static void
clear(kith_roster_t *r)
{
    if (r->pool != NULL) {
        sodium_memzero(r->pool, r->pool_len);
    }
    r->pool_len = r->garbage = 0;
    r->n_ents = 0;
    if (r->tab != NULL) {
        memset(r->tab, 0, r->cap_tab * sizeof(*r->tab));
    }
    r->seq = 0;
    memset(r->freq, 0, sizeof(r->freq));
}

static void
hash_peers(const kith_peer_t *peers, size_t n, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (size_t i = 0; i < n; i++) {
        crypto_generichash_update(&st, (const uint8_t *) peers[i].name, strlen(peers[i].name) + 1);
        crypto_generichash_update(&st, peers[i].key, KITH_PK_LEN);
        crypto_generichash_update(&st, (const uint8_t *) peers[i].groups,
                                  strlen(peers[i].groups) + 1);
    }
    crypto_generichash_final(&st, out, 32);
}

static int
refresh_full(ctx_t *c)
{
    kith_roster_t *r = c->r;
    kith_store_t *s = c->node->store;
    uint64_t seq = 0;
    clear(r);
    /* The versions first: a record folded again while we read is read again next time. */
    int rc = kith_store_record_versions(s, 0, max_seq, &seq);
    if (rc == KITH_OK) {
        rc = kith_store_share_foreach(s, NULL, collect_spec, c);
    }
    if (rc == KITH_OK && c->n_specs > 1) {
        qsort(c->specs, c->n_specs, sizeof(*c->specs), cmp_spec);
    }
    if (rc == KITH_OK) {
        rc = kith_store_foreach_record(s, load_one, c);
    }
    if (rc == KITH_OK) {
        rc = kith_store_foreach_deleted(s, load_one, c);
    }
    if (rc == KITH_OK) {
        rc = resort(r);
    }
    /* A full load grew the arrays by half at a time: give most of the slack back. */
    if (rc == KITH_OK && r->pool_cap - r->pool_len > r->pool_len / 16) {
        rc = pool_compact(r);
    }
    size_t cap = r->n_ents + r->n_ents / 16 + 16;
    if (rc == KITH_OK && r->cap_ents > cap) {
        /* order first: once it has shrunk, cap is the capacity, whether ents shrinks too
         * or stays larger. */
        uint32_t *order = realloc(r->order, cap * sizeof(*order));
        if (order != NULL) {
            r->order = order;
            r->cap_ents = cap;
            entry_t *ents = realloc(r->ents, cap * sizeof(*ents));
            r->ents = ents ? ents : r->ents;
        }
    }
    if (rc == KITH_OK) {
        r->seq = seq;
    }
    return rc;
}

static int
refresh_changed(ctx_t *c)
{
    kith_roster_t *r = c->r;
    kith_store_t *s = c->node->store;
    changed_t ch = {NULL, 0, 0, r->seq};
    int rc = kith_store_record_versions(s, r->seq, collect_changed, &ch);
    int keep_order = ch.n <= RESORT_AFTER;
    for (size_t i = 0; i < ch.n && rc == KITH_OK; i++) {
        kith_record_t rec;
        r->reads++;
        rc = kith_store_record_get(s, ch.ids[i], &rec);
        if (rc == KITH_ENOTFOUND || rc == KITH_ECORRUPT) {
            /* Gone, or unreadable (as foreach_record skips it): not listed. */
            size_t old = lookup(r, ch.ids[i]);
            if (old != 0) {
                remove_entry(r, old - 1, !keep_order);
            }
            rc = KITH_OK;
            continue;
        }
        if (rc != KITH_OK) {
            break;
        }
        c->n_specs = 0;
        if (memcmp(rec.owner, c->node->id->pk, KITH_PK_LEN) == 0) {
            rc = kith_store_share_foreach(s, rec.id, collect_spec, c);
        }
        if (rc == KITH_OK && c->n_specs > 1) {
            qsort(c->specs, c->n_specs, sizeof(*c->specs), cmp_spec);
        }
        if (rc == KITH_OK) {
            rc = upsert(c, &rec, c->specs, c->n_specs, keep_order);
        }
        kith_record_close(&rec);
    }
    if (rc == KITH_OK && !keep_order) {
        rc = resort(r);
    }
    if (rc == KITH_OK) {
        r->seq = ch.seq;
    }
    free(ch.ids);
    return rc;
}

int
kith_roster_refresh(kith_roster_t *r, kith_node_t *n)
{
    ctx_t c;
    memset(&c, 0, sizeof(c));
    c.node = n;
    c.r = r;
    kith_buf_init(&c.blob);
    kith_buf_init(&c.tmp);
    uint8_t h[32];
    int rc = kith_store_peer_list(n->store, &c.peers, &c.n_peers);
    if (rc == KITH_OK) {
        hash_peers(c.peers, c.n_peers, h);
        /* Labels (owner_name, shared_with) come from the peer list: when it changed,
         * any entry may show something else. */
        if (sodium_memcmp(h, r->peers_hash, sizeof(h)) != 0) {
            r->full = 1;
        }
        rc = r->full ? refresh_full(&c) : refresh_changed(&c);
    }
    if (rc == KITH_OK) {
        memcpy(r->peers_hash, h, sizeof(h));
        r->full = 0;
    } else {
        /* A partial update: the entries are sound but some may be missing or old, and
         * order may be unsorted. Sort it, so that queries until the next refresh (which
         * starts again from nothing) stay safe. */
        resort(r);
        r->full = 1;
    }
    if (c.specs != NULL) {
        sodium_memzero(c.specs, c.cap_specs * sizeof(*c.specs));
    }
    free(c.specs);
    kith_peers_free(c.peers, c.n_peers);
    if (c.blob.data != NULL) {
        sodium_memzero(c.blob.data, c.blob.cap);
    }
    if (c.tmp.data != NULL) {
        sodium_memzero(c.tmp.data, c.tmp.cap);
    }
    kith_buf_close(&c.blob);
    kith_buf_close(&c.tmp);
    return rc;
}

/* ---- query ------------------------------------------------------------------------ */

/* Reading a blob: strings in order, lists as a count and their items. */
static const char *
next_str(const char **p)
{
    const char *s = *p;
    *p += strlen(s) + 1;
    return s;
}

static size_t
next_count(const char **p)
{
    const uint8_t *u = (const uint8_t *) *p;
    *p += 2;
    return (size_t) u[0] | (size_t) u[1] << 8;
}

/* 1 if the list at *p holds s; *p moves past the list. */
static int
list_has(const char **p, const char *s)
{
    int found = 0;
    for (size_t n = next_count(p); n > 0; n--) {
        found |= strcmp(next_str(p), s) == 0;
    }
    return found;
}

static void
skip_list(const char **p)
{
    for (size_t n = next_count(p); n > 0; n--) {
        next_str(p);
    }
}

/* The query's folded strings. */
typedef struct {
    kith_buf_t q, tag, org;
    size_t pick; /* the byte of q that contains() looks for first: the rarest */
} folded_t;

/* The byte of q that occurs least often in the texts held. */
static size_t
rarest(const kith_roster_t *r, const uint8_t *q, size_t len)
{
    size_t best = 0;
    for (size_t i = 1; i < len; i++) {
        if (r->freq[q[i]] < r->freq[q[best]]) {
            best = i;
        }
    }
    return best;
}

/* kith_textfold_contains(), faster over 100k texts: memchr() runs over the text looking
 * for the query's rarest byte (by the counts of every byte in the texts held), and only
 * there is the whole query compared. Scanning for
 * the first byte instead (or with glibc's memmem()) took 3-5 times as long for a query
 * starting with a common letter (scripts/bench-ui). */
static int
contains(const char *text, size_t len, const folded_t *f)
{
    const char *q = (const char *) f->q.data;
    size_t n = f->q.len, k = f->pick;
    if (n > len) {
        return 0;
    }
    const char *p = text + k, *end = text + (len - n) + k + 1; /* where q[k] may lie */
    while (p < end && (p = memchr(p, q[k], (size_t) (end - p))) != NULL) {
        if (memcmp(p - k, q, n) == 0) {
            return 1;
        }
        p++;
    }
    return 0;
}

static int
matches(const kith_roster_t *r, const kith_roster_query_t *q, const folded_t *f, const entry_t *e)
{
    if ((e->flags & F_DELETED) != (q->deleted ? F_DELETED : 0u)) {
        return 0;
    }
    if (q->kind >= 0 && e->kind != q->kind) {
        return 0;
    }
    if (q->stale_days >= 0 && e->last_days != NO_DAYS &&
        q->today_days - e->last_days <= q->stale_days) {
        return 0;
    }
    const char *blob = r->pool + e->blob;
    if (f->q.len > 0 && !contains(blob + e->text, e->text_len, f)) {
        return 0;
    }
    if (q->org == NULL && q->tag == NULL && q->owner == NULL && q->shared == NULL) {
        return 1;
    }
    const char *p = blob;
    next_str(&p); /* the folded name */
    const char *org = next_str(&p);
    const char *owner = next_str(&p);
    if (q->org != NULL && strcmp(org, f->org.data ? (const char *) f->org.data : "") != 0) {
        return 0;
    }
    if (q->owner != NULL &&
        (strcmp(q->owner, "me") == 0 ? !(e->flags & F_MINE) : strcmp(owner, q->owner) != 0)) {
        return 0;
    }
    if (q->tag == NULL) {
        skip_list(&p);
    } else if (!list_has(&p, f->tag.data ? (const char *) f->tag.data : "")) {
        return 0;
    }
    if (q->shared != NULL) {
        int shared = list_has(&p, q->shared);
        int aud = list_has(&p, q->shared);
        return shared || (q->shared[0] != '@' && aud);
    }
    return 1;
}

static void
json_str_or_null(kith_json_t *j, const char *key, const char *s)
{
    kith_json_key(j, key);
    if (s[0] != '\0') {
        kith_json_string(j, s);
    } else {
        kith_json_null(j);
    }
}

static void
json_list(kith_json_t *j, const char *key, const char **p)
{
    kith_json_key(j, key);
    kith_json_array_begin(j);
    for (size_t n = next_count(p); n > 0; n--) {
        kith_json_string(j, next_str(p));
    }
    kith_json_array_end(j);
}

static void
write_item(const kith_roster_t *r, const entry_t *e, kith_json_t *j)
{
    char hex[2 * KITH_REC_ID_LEN + 1];
    sodium_bin2hex(hex, sizeof(hex), e->id, KITH_REC_ID_LEN);
    const char *p = r->pool + e->blob;
    next_str(&p); /* the folded name */
    next_str(&p); /* the folded org */
    const char *owner = next_str(&p);
    skip_list(&p); /* the folded tags */
    const char *shared = p;
    skip_list(&p);
    skip_list(&p); /* the audience */
    const char *name = next_str(&p), *org = next_str(&p), *title = next_str(&p);
    kith_json_object_begin(j);
    kith_json_key(j, "id");
    kith_json_string(j, hex);
    kith_json_key(j, "kind");
    kith_json_string(j, kith_schema_kind_name(e->kind));
    kith_json_key(j, "name");
    kith_json_string(j, name);
    json_str_or_null(j, "org", org);
    json_str_or_null(j, "title", title);
    json_list(j, "tags", &p);
    const char *buying = next_str(&p), *reports = next_str(&p);
    kith_json_key(j, "owner_name");
    kith_json_string(j, owner);
    kith_json_key(j, "mine");
    kith_json_bool(j, (e->flags & F_MINE) != 0);
    json_list(j, "shared_with", &shared);
    kith_json_key(j, "last_interaction");
    if (e->last_days != NO_DAYS) {
        kith_json_string(j, next_str(&p));
    } else {
        kith_json_null(j);
    }
    kith_json_key(j, "influence");
    if (e->influence != NO_SMALL) {
        kith_json_int(j, e->influence);
    } else {
        kith_json_null(j);
    }
    kith_json_key(j, "attitude");
    if (e->attitude != NO_SMALL) {
        kith_json_int(j, e->attitude);
    } else {
        kith_json_null(j);
    }
    json_str_or_null(j, "buying_role", buying);
    json_str_or_null(j, "reports_to", reports);
    kith_json_key(j, "has_private");
    kith_json_bool(j, (e->flags & F_PRIVATE) != 0);
    kith_json_object_end(j);
}

static int
fold_opt(const char *s, size_t max, kith_buf_t *out)
{
    if (s == NULL) {
        return KITH_OK;
    }
    size_t len = strnlen(s, max + 1);
    return len > max ? KITH_EINVAL : kith_textfold(s, len, out);
}

int
kith_roster_query(const kith_roster_t *r, const kith_roster_query_t *q, kith_json_t *j)
{
    if (r == NULL || q == NULL || j == NULL) {
        return KITH_EINVAL;
    }
    if (q->offset > KITH_ROSTER_OFFSET_MAX || q->kind < -1 || q->kind > KITH_KIND_ORG ||
        (q->deleted != 0 && q->deleted != 1) || q->stale_days < -1 ||
        q->stale_days > KITH_ROSTER_DAYS_MAX ||
        (q->stale_days >= 0 &&
         (q->today_days < -KITH_ROSTER_DAYS_MAX || q->today_days > KITH_ROSTER_DAYS_MAX))) {
        return KITH_EINVAL;
    }
    if ((q->owner != NULL &&
         strnlen(q->owner, KITH_ROSTER_FILTER_MAX + 1) > KITH_ROSTER_FILTER_MAX) ||
        (q->shared != NULL &&
         strnlen(q->shared, KITH_ROSTER_FILTER_MAX + 1) > KITH_ROSTER_FILTER_MAX)) {
        return KITH_EINVAL;
    }
    folded_t f;
    kith_buf_init(&f.q);
    kith_buf_init(&f.tag);
    kith_buf_init(&f.org);
    int rc = fold_opt(q->q, KITH_ROSTER_Q_MAX, &f.q);
    if (rc == KITH_OK) {
        rc = fold_opt(q->tag, KITH_ROSTER_FILTER_MAX, &f.tag);
    }
    if (rc == KITH_OK) {
        rc = fold_opt(q->org, KITH_ROSTER_FILTER_MAX, &f.org);
    }
    if (rc != KITH_OK) {
        goto out;
    }
    f.pick = rarest(r, f.q.data, f.q.len);
    size_t limit = q->limit < 1                       ? 1
                   : q->limit > KITH_ROSTER_LIMIT_MAX ? KITH_ROSTER_LIMIT_MAX
                                                      : q->limit;
    /* Two walks. The first tests every entry in the order they lie in memory (after a full
     * load, the pool's order too), so that the costly part, the substring test over every
     * search text, reads memory sequentially; it marks matches in a bitmap and counts
     * them. The second walks the sorted order over the bitmap and stops once the page is
     * full. Walking the sorted order alone, with its scattered reads, was 3-8 times slower
     * at 100k records (scripts/bench-ui). */
    uint64_t *hit = calloc(r->n_ents / 64 + 1, sizeof(*hit));
    if (hit == NULL) {
        rc = KITH_ENOMEM;
        goto out;
    }
    size_t total = 0, n_page = 0;
    for (size_t e = 0; e < r->n_ents; e++) {
        if (matches(r, q, &f, &r->ents[e])) {
            hit[e / 64] |= (uint64_t) 1 << (e % 64);
            total++;
        }
    }
    uint32_t page[KITH_ROSTER_LIMIT_MAX];
    for (size_t i = 0, seen = 0; i < r->n_ents && seen < total && n_page < limit; i++) {
        uint32_t e = r->order[i];
        if (hit[e / 64] & (uint64_t) 1 << (e % 64)) {
            if (seen++ >= q->offset) {
                page[n_page++] = e;
            }
        }
    }
    free(hit);
    kith_json_key(j, "total");
    kith_json_uint(j, total);
    kith_json_key(j, "offset");
    kith_json_uint(j, q->offset);
    kith_json_key(j, "items");
    kith_json_array_begin(j);
    for (size_t i = 0; i < n_page; i++) {
        write_item(r, &r->ents[page[i]], j);
    }
    kith_json_array_end(j);
out:
    kith_buf_close(&f.q);
    kith_buf_close(&f.tag);
    kith_buf_close(&f.org);
    return rc;
}

/* ---- the rest --------------------------------------------------------------------- */

int
kith_roster_new(kith_roster_t **out)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL) {
        return KITH_ENOMEM;
    }
    (*out)->full = 1;
    return KITH_OK;
}

void
kith_roster_invalidate(kith_roster_t *r)
{
    r->full = 1;
}

size_t
kith_roster_count(const kith_roster_t *r)
{
    return r->n_ents;
}

size_t
kith_roster_mem(const kith_roster_t *r)
{
    return sizeof(*r) + r->cap_ents * (sizeof(*r->ents) + sizeof(*r->order)) +
           r->cap_tab * sizeof(*r->tab) + r->pool_cap;
}

uint64_t
kith__roster_reads(const kith_roster_t *r)
{
    return r->reads;
}

void
kith_roster_free(kith_roster_t *r)
{
    if (r == NULL) {
        return;
    }
    if (r->pool != NULL) {
        sodium_memzero(r->pool, r->pool_cap);
    }
    free(r->pool);
    free(r->ents);
    free(r->order);
    free(r->tab);
    free(r);
}
