/*
 * Range-based set reconciliation; the wire format and the rules are in
 * proto/RECONCILE.md, the API in reconcile.h.
 *
 * The item space, ordered by (ts, id), is cut into ranges by bounds. A range is
 * summarised by a fingerprint of its items (sum of ids, count); ranges whose
 * fingerprints differ are split into 16 sub-ranges by item count until one side holds
 * at most 32 items in a range, which it then lists in full. The side receiving a list
 * learns exactly what the peer lacks (its own items not listed) and asks for what it
 * lacks itself with a WANT range.
 *
 * Turn-taking: every region of the item space is, at any time, owed an answer by at
 * most one side. A side keeps the ranges it owes in a queue ordered by position and
 * writes a message from the front of that queue; whatever does not fit stays queued and
 * the message ends early (it does not reach the infinity bound), which tells the peer to
 * answer even when it has nothing to say, so that the rest can follow. Because the two
 * queues never cover the same region, merging the queue with the replies to a new
 * message always yields disjoint ranges in order; a peer that breaks this is rejected.
 *
 * Costs: a fingerprint is recomputed by summing the ids of its range (O(range)); each
 * message costs O(n) at most on either side, plus O(log n) per range for the bounds.
 * Memory: the queue, bounded by KITH_RECONCILE_MAX_PENDING, and n/8 bytes of bitmap.
 */
#include "sync/reconcile.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kith/error.h"

#define ID_LEN        32
#define BOUND_INF_TAG 0xff /* first byte of the infinity bound */
#define VARINT_MAX    10   /* bytes of the longest varint (2^64 - 1) */

enum { MODE_SKIP = 0, MODE_FINGERPRINT = 1, MODE_IDLIST = 2, MODE_WANT = 3 };

/* A point of the item space: (ts, id) with the id given by a prefix of len bytes and
 * zero-padded, or infinity, which lies above every item. */
typedef struct {
    uint64_t ts;
    uint8_t id[ID_LEN]; /* prefix, then zeros */
    uint8_t len;        /* bytes of prefix carried on the wire, 0..32 */
    uint8_t inf;        /* 1 for the infinity bound (ts, id, len unused) */
} bound_t;

/* One range [lo, hi). In the queue: something this side owes the peer. While decoding a
 * message: one range of it, with first the offset of its payload in the message. */
struct kith_reconcile_range {
    bound_t lo, hi;
    uint8_t mode;
    size_t first; /* FINGERPRINT, IDLIST: index of the first own item; WANT: index into
                     the want ids; decoded: payload offset in the message */
    size_t count; /* items or ids */
};

typedef struct kith_reconcile_range range_t;

/* A growable array of ranges with its WANT ids, as built during one step. */
typedef struct {
    range_t *r;
    size_t len, cap;
    uint8_t (*ids)[ID_LEN];
    size_t ids_len, ids_cap;
} rlist_t;

static const bound_t BOUND_MIN = {0, {0}, 0, 0};

/* ---- ids, items --------------------------------------------------------------------- */

void
kith_idset_init(kith_idset_t *s)
{
    s->ids = NULL;
    s->len = 0;
    s->cap = 0;
}

void
kith_idset_close(kith_idset_t *s)
{
    if (s == NULL) {
        return;
    }
    free(s->ids);
    kith_idset_init(s);
}

int
kith_idset_add(kith_idset_t *s, const uint8_t id[static 32])
{
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        if (cap < s->cap || cap > SIZE_MAX / ID_LEN) {
            return KITH_ETOOBIG;
        }
        uint8_t(*p)[ID_LEN] = realloc(s->ids, cap * ID_LEN);
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        s->ids = p;
        s->cap = cap;
    }
    memcpy(s->ids[s->len++], id, ID_LEN);
    return KITH_OK;
}

int
kith_item_cmp(const kith_item_t *a, const kith_item_t *b)
{
    if (a->ts != b->ts) {
        return a->ts < b->ts ? -1 : 1;
    }
    return memcmp(a->id, b->id, ID_LEN);
}

static int
item_qsort_cmp(const void *a, const void *b)
{
    return kith_item_cmp(a, b);
}

void
kith_items_sort(kith_item_t *items, size_t n)
{
    if (n > 1) {
        qsort(items, n, sizeof(*items), item_qsort_cmp);
    }
}

/* ---- bounds ------------------------------------------------------------------------- */

static int
bound_cmp(const bound_t *a, const bound_t *b)
{
    if (a->inf || b->inf) {
        return (int) a->inf - (int) b->inf;
    }
    if (a->ts != b->ts) {
        return a->ts < b->ts ? -1 : 1;
    }
    return memcmp(a->id, b->id, ID_LEN);
}

/* True if the item lies below the bound. Comparing with the zero-padded id is exact:
 * an item whose id starts with the prefix is at or above the bound. */
static bool
item_below(const kith_item_t *it, const bound_t *b)
{
    if (b->inf) {
        return true;
    }
    if (it->ts != b->ts) {
        return it->ts < b->ts;
    }
    return memcmp(it->id, b->id, ID_LEN) < 0;
}

/* Index of the first item in [from, n) not below b. */
static size_t
lower_bound(const kith_item_t *items, size_t from, size_t n, const bound_t *b)
{
    size_t lo = from, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (item_below(&items[mid], b)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The smallest bound with prev below it and cur at or above it: cur's ts and as few id
 * bytes of cur as separate the two. prev < cur is required. */
static bound_t
separator(const kith_item_t *prev, const kith_item_t *cur)
{
    bound_t b = {cur->ts, {0}, 0, 0};
    if (prev->ts == cur->ts) {
        size_t k = 0;
        while (k < ID_LEN - 1 && prev->id[k] == cur->id[k]) {
            k++;
        }
        b.len = (uint8_t) (k + 1);
        memcpy(b.id, cur->id, b.len);
    }
    return b;
}

/* ---- fingerprints ------------------------------------------------------------------- */

static uint32_t
load32_le(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* BLAKE2b-128(sum of ids mod 2^256, 32 bytes LE || count, 8 bytes LE) over items[i, j).
 * The sum is kept as eight 32-bit limbs, each accumulated in 64 bits without carries;
 * a chunk of up to 2^32 - 1 items cannot overflow them. */
static int
fingerprint(const kith_item_t *items, size_t i, size_t j, uint8_t fp[KITH_RECONCILE_FP_LEN])
{
    uint64_t count = (uint64_t) (j - i);
    uint32_t total[8] = {0};
    while (i < j) {
        size_t end = j - i > UINT32_MAX ? i + UINT32_MAX : j;
        uint64_t acc[8] = {0};
        for (; i < end; i++) {
            const uint8_t *id = items[i].id;
            for (int w = 0; w < 8; w++) {
                acc[w] += load32_le(id + 4 * w);
            }
        }
        /* acc[w] <= (2^32 - 1)^2, so its low half plus a limb plus a carry below 2^33
         * fits in 64 bits, and so does the next carry. */
        uint64_t carry = 0;
        for (int w = 0; w < 8; w++) {
            uint64_t v = (acc[w] & 0xffffffffu) + (uint64_t) total[w] + carry;
            total[w] = (uint32_t) v;
            carry = (v >> 32) + (acc[w] >> 32);
        }
    }
    uint8_t in[ID_LEN + 8];
    for (int w = 0; w < 8; w++) {
        for (int k = 0; k < 4; k++) {
            in[4 * w + k] = (uint8_t) (total[w] >> (8 * k));
        }
    }
    for (int k = 0; k < 8; k++) {
        in[ID_LEN + k] = (uint8_t) (count >> (8 * k));
    }
    if (crypto_generichash(fp, KITH_RECONCILE_FP_LEN, in, sizeof(in), NULL, 0) != 0) {
        return KITH_ECRYPTO;
    }
    return KITH_OK;
}

/* ---- encoding ----------------------------------------------------------------------- */

static size_t
varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes v as an unsigned LEB128 varint; p has room for VARINT_MAX bytes. */
static size_t
varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t) v;
    return n;
}

/* Reads a minimal unsigned LEB128 varint from msg[*pos, len). */
static int
varint_get(const uint8_t *msg, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t k = 0; k < VARINT_MAX; k++) {
        if (*pos >= len) {
            return KITH_EPROTO;
        }
        uint8_t c = msg[(*pos)++];
        if (k == VARINT_MAX - 1 && c > 1) {
            return KITH_EPROTO; /* more than 64 bits */
        }
        v |= (uint64_t) (c & 0x7f) << (7 * k);
        if ((c & 0x80) == 0) {
            if (k > 0 && c == 0) {
                return KITH_EPROTO; /* not minimal */
            }
            *out = v;
            return KITH_OK;
        }
    }
    return KITH_EPROTO;
}

static size_t
bound_len(const bound_t *b, uint64_t prev_ts)
{
    return b->inf ? 1 : 1 + varint_len(b->ts - prev_ts) + b->len;
}

/* Appends a bound, its ts as a delta from the previous bound of the message. The caller
 * has reserved room (see bound_len). */
static void
bound_put(kith_buf_t *out, const bound_t *b, uint64_t *prev_ts)
{
    uint8_t *p = out->data + out->len;
    if (b->inf) {
        p[0] = BOUND_INF_TAG;
        out->len += 1;
        return;
    }
    size_t k = 0;
    p[k++] = b->len;
    k += varint_put(p + k, b->ts - *prev_ts);
    memcpy(p + k, b->id, b->len);
    out->len += k + b->len;
    *prev_ts = b->ts;
}

/* ---- decoding ----------------------------------------------------------------------- */

static int
bound_get(const uint8_t *msg, size_t len, size_t *pos, uint64_t *prev_ts, bound_t *b)
{
    memset(b, 0, sizeof(*b));
    if (*pos >= len) {
        return KITH_EPROTO;
    }
    uint8_t tag = msg[(*pos)++];
    if (tag == BOUND_INF_TAG) {
        b->inf = 1;
        return KITH_OK;
    }
    if (tag > ID_LEN) {
        return KITH_EPROTO;
    }
    uint64_t delta;
    int rc = varint_get(msg, len, pos, &delta);
    if (rc != KITH_OK) {
        return rc;
    }
    if (delta > UINT64_MAX - *prev_ts || tag > len - *pos) {
        return KITH_EPROTO;
    }
    b->ts = *prev_ts + delta;
    b->len = tag;
    memcpy(b->id, msg + *pos, tag);
    *pos += tag;
    *prev_ts = b->ts;
    return KITH_OK;
}

static int
rlist_push(rlist_t *l, const range_t *r)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        if (cap > SIZE_MAX / sizeof(range_t)) {
            return KITH_ENOMEM;
        }
        range_t *p = realloc(l->r, cap * sizeof(range_t));
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        l->r = p;
        l->cap = cap;
    }
    l->r[l->len++] = *r;
    return KITH_OK;
}

static int
rlist_push_id(rlist_t *l, const uint8_t id[ID_LEN])
{
    if (l->ids_len == l->ids_cap) {
        size_t cap = l->ids_cap ? l->ids_cap * 2 : 64;
        if (cap > SIZE_MAX / ID_LEN) {
            return KITH_ENOMEM;
        }
        uint8_t(*p)[ID_LEN] = realloc(l->ids, cap * ID_LEN);
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        l->ids = p;
        l->ids_cap = cap;
    }
    memcpy(l->ids[l->ids_len++], id, ID_LEN);
    return KITH_OK;
}

static void
rlist_free(rlist_t *l)
{
    free(l->r);
    free(l->ids);
    memset(l, 0, sizeof(*l));
}

/* A message, checked and decoded: its ranges other than SKIP, in order. */
typedef struct {
    rlist_t ranges;  /* decoded; first = payload offset, count = ids */
    bool complete;   /* the ranges reach the infinity bound */
    bool needs_turn; /* it hands this side a range to answer, or is incomplete */
} decoded_t;

/* Checks the whole message before anything acts on it: version, every bound strictly
 * above the one before, known modes, payloads inside the message, the limits, and no
 * byte after the infinity bound. Never trusts a count before comparing it with the
 * bytes that are left. */
static int
decode(const uint8_t *msg, size_t len, decoded_t *d)
{
    if (len == 0 || len > KITH_RECONCILE_MAX_MSG) {
        return KITH_EPROTO;
    }
    if (msg[0] != KITH_RECONCILE_VERSION) {
        return KITH_EVERSION;
    }
    size_t pos = 1, nranges = 0, nids = 0;
    uint64_t prev_ts = 0;
    bound_t lo = BOUND_MIN;
    while (pos < len) {
        if (lo.inf || nranges == KITH_RECONCILE_MAX_RANGES) {
            return KITH_EPROTO; /* bytes after infinity, or too many ranges */
        }
        range_t r;
        int rc = bound_get(msg, len, &pos, &prev_ts, &r.hi);
        if (rc != KITH_OK) {
            return rc;
        }
        if (bound_cmp(&r.hi, &lo) <= 0 || pos >= len) {
            return KITH_EPROTO;
        }
        r.lo = lo;
        r.mode = msg[pos++];
        r.count = 0;
        switch (r.mode) {
        case MODE_SKIP:
            break;
        case MODE_FINGERPRINT:
            if (KITH_RECONCILE_FP_LEN > len - pos) {
                return KITH_EPROTO;
            }
            r.first = pos;
            pos += KITH_RECONCILE_FP_LEN;
            break;
        case MODE_IDLIST:
        case MODE_WANT: {
            uint64_t count;
            rc = varint_get(msg, len, &pos, &count);
            if (rc != KITH_OK) {
                return rc;
            }
            if (count > KITH_RECONCILE_LIST_MAX || count > KITH_RECONCILE_MAX_IDS - nids ||
                count * ID_LEN > len - pos) {
                return KITH_EPROTO;
            }
            r.first = pos;
            r.count = (size_t) count;
            pos += r.count * ID_LEN;
            nids += r.count;
            break;
        }
        default:
            return KITH_EPROTO;
        }
        nranges++;
        if (r.mode != MODE_SKIP) {
            rc = rlist_push(&d->ranges, &r);
            if (rc != KITH_OK) {
                return rc;
            }
            if (r.mode != MODE_WANT) {
                d->needs_turn = true;
            }
        }
        lo = r.hi;
    }
    d->complete = lo.inf;
    if (!d->complete) {
        d->needs_turn = true;
    }
    return KITH_OK;
}

/* ---- answering a message ------------------------------------------------------------ */

/* Appends item x to send unless it is already there. */
static int
add_send(kith_reconcile_t *r, kith_idset_t *send, size_t x)
{
    uint8_t bit = (uint8_t) (1u << (x & 7));
    if (r->sent[x >> 3] & bit) {
        return KITH_OK;
    }
    int rc = kith_idset_add(send, r->items[x].id);
    if (rc == KITH_OK) {
        r->sent[x >> 3] |= bit;
    }
    return rc;
}

/* Queues the split of [lo, hi), holding own items [i, j) with j - i > LIST_MAX, into
 * BRANCH sub-ranges of (nearly) equal item counts, each with its fingerprint. Sub-range
 * b holds items [i + floor(b*m/16), i + floor((b+1)*m/16)), m = j - i. */
static int
push_split(rlist_t *l, const bound_t *lo, const bound_t *hi, const kith_item_t *items, size_t i,
           size_t j)
{
    size_t m = j - i, q = m / KITH_RECONCILE_BRANCH, rem = m % KITH_RECONCILE_BRANCH;
    range_t r = {.lo = *lo, .mode = MODE_FINGERPRINT, .first = i};
    for (size_t b = 1; b <= KITH_RECONCILE_BRANCH; b++) {
        size_t end = i + b * q + b * rem / KITH_RECONCILE_BRANCH;
        r.hi = b == KITH_RECONCILE_BRANCH ? *hi : separator(&items[end - 1], &items[end]);
        r.count = end - r.first;
        int rc = rlist_push(l, &r);
        if (rc != KITH_OK) {
            return rc;
        }
        r.lo = r.hi;
        r.first = end;
    }
    return KITH_OK;
}

/* What this side says about [lo, hi), holding own items [i, j), when the peer's
 * fingerprint differs (or on initiation): the list of its items, or the split. */
static int
push_describe(rlist_t *l, const bound_t *lo, const bound_t *hi, const kith_item_t *items, size_t i,
              size_t j)
{
    if (j - i > KITH_RECONCILE_LIST_MAX) {
        return push_split(l, lo, hi, items, i, j);
    }
    range_t r = {.lo = *lo, .hi = *hi, .mode = MODE_IDLIST, .first = i, .count = j - i};
    return rlist_push(l, &r);
}

/* Answers an IDLIST or WANT range of the peer, whose ids are at ids[0, count), against
 * own items [i, j). IDLIST: own items not listed go to send, listed ids not held become
 * a WANT range. WANT: own items named go to send; names not held here are ignored. */
static int
answer_ids(kith_reconcile_t *r, const range_t *in, const uint8_t *ids, size_t i, size_t j,
           rlist_t *fresh, kith_idset_t *send)
{
    size_t count = in->count;
    uint8_t order[KITH_RECONCILE_LIST_MAX];
    bool found[KITH_RECONCILE_LIST_MAX] = {false};
    int rc;

    /* Sort the (at most 32) ids by insertion, then refuse duplicates. */
    for (size_t k = 0; k < count; k++) {
        size_t p = k;
        while (p > 0 && memcmp(ids + ID_LEN * order[p - 1], ids + ID_LEN * k, ID_LEN) > 0) {
            order[p] = order[p - 1];
            p--;
        }
        order[p] = (uint8_t) k;
    }
    for (size_t k = 1; k < count; k++) {
        if (memcmp(ids + ID_LEN * order[k - 1], ids + ID_LEN * order[k], ID_LEN) == 0) {
            return KITH_EPROTO;
        }
    }

    for (size_t x = i; x < j; x++) {
        size_t lo = 0, hi = count;
        int hit = -1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = memcmp(ids + ID_LEN * order[mid], r->items[x].id, ID_LEN);
            if (c == 0) {
                hit = order[mid];
                break;
            }
            if (c < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (hit >= 0) {
            found[hit] = true;
        }
        if ((hit < 0) == (in->mode == MODE_IDLIST)) {
            rc = add_send(r, send, x);
            if (rc != KITH_OK) {
                return rc;
            }
        }
    }
    if (in->mode == MODE_WANT) {
        return KITH_OK;
    }

    range_t want = {.lo = in->lo, .hi = in->hi, .mode = MODE_WANT, .first = fresh->ids_len};
    for (size_t k = 0; k < count; k++) {
        if (!found[k]) {
            rc = rlist_push_id(fresh, ids + ID_LEN * k);
            if (rc != KITH_OK) {
                return rc;
            }
            want.count++;
        }
    }
    return want.count > 0 ? rlist_push(fresh, &want) : KITH_OK;
}

/* A peer that follows the protocol only speaks about regions this side does not owe it
 * an answer for; anything else would make this side's next message overlap itself. */
static int
check_turns(const kith_reconcile_t *r, const rlist_t *in)
{
    size_t a = 0, b = 0;
    while (a < in->len && b < r->queue_len) {
        if (bound_cmp(&in->r[a].hi, &r->queue[b].lo) <= 0) {
            a++;
        } else if (bound_cmp(&r->queue[b].hi, &in->r[a].lo) <= 0) {
            b++;
        } else {
            return KITH_EPROTO;
        }
    }
    return KITH_OK;
}

/* Works out the replies to every range of the message, in order, into fresh. */
static int
answer(kith_reconcile_t *r, const uint8_t *msg, const rlist_t *in, rlist_t *fresh,
       kith_idset_t *send)
{
    size_t cursor = 0;
    for (size_t k = 0; k < in->len; k++) {
        const range_t *x = &in->r[k];
        size_t i = lower_bound(r->items, cursor, r->n, &x->lo);
        size_t j = lower_bound(r->items, i, r->n, &x->hi);
        cursor = j;
        if (x->mode != MODE_SKIP) {
            r->work += j - i;
        }
        int rc = KITH_OK;
        if (x->mode == MODE_FINGERPRINT) {
            uint8_t fp[KITH_RECONCILE_FP_LEN];
            rc = fingerprint(r->items, i, j, fp);
            if (rc == KITH_OK && sodium_memcmp(fp, msg + x->first, sizeof(fp)) != 0) {
                rc = push_describe(fresh, &x->lo, &x->hi, r->items, i, j);
            }
        } else {
            rc = answer_ids(r, x, msg + x->first, i, j, fresh, send);
        }
        if (rc != KITH_OK) {
            return rc;
        }
        if (fresh->len > KITH_RECONCILE_MAX_PENDING - r->queue_len) {
            return KITH_ETOOBIG;
        }
    }
    return KITH_OK;
}

/* Merges the queue with the fresh replies (both ordered, and disjoint by check_turns)
 * into one ordered list whose WANT ids are gathered in its own id array. */
static int
merge(const kith_reconcile_t *r, const rlist_t *fresh, rlist_t *out)
{
    size_t a = 0, b = 0;
    while (a < r->queue_len || b < fresh->len) {
        bool take_queue = b == fresh->len ||
                          (a < r->queue_len && bound_cmp(&r->queue[a].lo, &fresh->r[b].lo) < 0);
        range_t x = take_queue ? r->queue[a++] : fresh->r[b++];
        if (x.mode == MODE_WANT) {
            const uint8_t(*ids)[ID_LEN] = take_queue ? r->want : fresh->ids;
            size_t first = out->ids_len;
            for (size_t k = 0; k < x.count; k++) {
                int rc = rlist_push_id(out, ids[x.first + k]);
                if (rc != KITH_OK) {
                    return rc;
                }
            }
            x.first = first;
        }
        int rc = rlist_push(out, &x);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    return KITH_OK;
}

/* ---- writing a message -------------------------------------------------------------- */

static size_t
payload_len(const range_t *x)
{
    switch (x->mode) {
    case MODE_FINGERPRINT:
        return KITH_RECONCILE_FP_LEN;
    case MODE_IDLIST:
    case MODE_WANT:
        return varint_len(x->count) + x->count * ID_LEN;
    default:
        return 0;
    }
}

/* Writes as much of the queue as fits into out, front first, and drops what was
 * written from the queue. If the whole queue fitted, the message is completed up to
 * the infinity bound (with a SKIP range if needed); otherwise it ends early, telling the
 * peer that more follows. Sets *answerable when the peer will have to answer. */
static int
emit(kith_reconcile_t *r, kith_buf_t *out, bool *answerable)
{
    int rc = kith_buf_reserve(out, r->max_msg);
    if (rc != KITH_OK) {
        return rc;
    }
    out->data[out->len++] = KITH_RECONCILE_VERSION;
    bound_t pos = BOUND_MIN;
    uint64_t prev_ts = 0;
    size_t nranges = 0, nids = 0, k;
    bool handover = false;
    /* Two bytes stay free for a closing SKIP range to infinity. */
    size_t room = r->max_msg - 2;
    for (k = 0; k < r->queue_len; k++) {
        const range_t *x = &r->queue[k];
        bool gap = bound_cmp(&x->lo, &pos) > 0;
        uint64_t ts = prev_ts;
        size_t need = 0;
        if (gap) {
            need += bound_len(&x->lo, ts) + 1;
            ts = x->lo.ts;
        }
        need += bound_len(&x->hi, ts) + 1 + payload_len(x);
        size_t ids = x->mode == MODE_FINGERPRINT ? 0 : x->count;
        if (need > room - out->len || nranges + gap + 2 > KITH_RECONCILE_MAX_RANGES ||
            ids > KITH_RECONCILE_MAX_IDS - nids) {
            break;
        }
        if (gap) {
            bound_put(out, &x->lo, &prev_ts);
            out->data[out->len++] = MODE_SKIP;
            nranges++;
        }
        bound_put(out, &x->hi, &prev_ts);
        out->data[out->len++] = x->mode;
        nranges++;
        nids += ids;
        uint8_t *p = out->data + out->len;
        if (x->mode == MODE_FINGERPRINT) {
            r->work += x->count;
            rc = fingerprint(r->items, x->first, x->first + x->count, p);
            if (rc != KITH_OK) {
                return rc;
            }
            out->len += KITH_RECONCILE_FP_LEN;
            handover = true;
        } else {
            out->len += varint_put(p, x->count);
            for (size_t m = 0; m < x->count; m++) {
                const uint8_t *id =
                    x->mode == MODE_IDLIST ? r->items[x->first + m].id : r->want[x->first + m];
                memcpy(out->data + out->len, id, ID_LEN);
                out->len += ID_LEN;
            }
            handover |= x->mode == MODE_IDLIST;
        }
        pos = x->hi;
    }
    /* The smallest max_msg leaves room for the largest range, so a message always
     * carries at least one range of a non-empty queue. */
    assert(k > 0 || r->queue_len == 0);
    bool complete = k == r->queue_len;
    if (complete && !pos.inf) {
        out->data[out->len++] = BOUND_INF_TAG;
        out->data[out->len++] = MODE_SKIP;
    }
    out->data[out->len] = '\0';
    if (k > 0) {
        memmove(r->queue, r->queue + k, (r->queue_len - k) * sizeof(range_t));
        r->queue_len -= k;
    }
    *answerable = handover || !complete;
    return KITH_OK;
}

/* ---- the API ------------------------------------------------------------------------ */

int
kith_reconcile_init(kith_reconcile_t *r, const kith_item_t *items, size_t n, size_t max_msg)
{
    memset(r, 0, sizeof(*r));
    if (max_msg == 0) {
        max_msg = KITH_RECONCILE_MAX_MSG;
    }
    if ((items == NULL && n > 0) || max_msg < KITH_RECONCILE_MIN_MSG ||
        max_msg > KITH_RECONCILE_MAX_MSG) {
        return KITH_EINVAL;
    }
    for (size_t k = 1; k < n; k++) {
        if (kith_item_cmp(&items[k - 1], &items[k]) >= 0) {
            return KITH_EINVAL;
        }
    }
    r->sent = calloc(n / 8 + 1, 1);
    if (r->sent == NULL) {
        return KITH_ENOMEM;
    }
    r->items = items;
    r->n = n;
    r->max_msg = max_msg;
    return KITH_OK;
}

void
kith_reconcile_close(kith_reconcile_t *r)
{
    if (r == NULL) {
        return;
    }
    free(r->queue);
    free(r->want);
    free(r->sent);
    memset(r, 0, sizeof(*r));
}

/* Replaces the queue by list (taking its arrays), then writes the next message. */
static int
send_queue(kith_reconcile_t *r, rlist_t *list, bool needs_turn, kith_buf_t *out)
{
    free(r->queue);
    free(r->want);
    r->queue = list->r;
    r->queue_len = list->len;
    r->want = list->ids;
    memset(list, 0, sizeof(*list));
    if (r->queue_len == 0 && !needs_turn) {
        r->done = true; /* nothing asked of us, nothing owed: the exchange is over */
        return KITH_OK;
    }
    bool answerable;
    int rc = emit(r, out, &answerable);
    if (rc == KITH_OK) {
        r->done = !answerable;
    }
    return rc;
}

static void
clear_out(kith_buf_t *out)
{
    out->len = 0;
    if (out->data != NULL) {
        out->data[0] = '\0';
    }
}

int
kith_reconcile_initiate(kith_reconcile_t *r, kith_buf_t *out)
{
    if (out != NULL) {
        clear_out(out);
    }
    if (r == NULL || out == NULL || r->sent == NULL || r->started || r->failed) {
        return KITH_EINVAL;
    }
    r->started = true;
    rlist_t list = {0};
    static const bound_t inf = {0, {0}, 0, 1};
    int rc = push_describe(&list, &BOUND_MIN, &inf, r->items, 0, r->n);
    if (rc == KITH_OK) {
        rc = send_queue(r, &list, true, out);
    }
    rlist_free(&list);
    if (rc != KITH_OK) {
        clear_out(out);
        r->failed = true;
    }
    return rc;
}

int
kith_reconcile_step(kith_reconcile_t *r, const uint8_t *msg, size_t len, kith_buf_t *out,
                    kith_idset_t *send)
{
    if (r == NULL || out == NULL || send == NULL || (msg == NULL && len > 0) || r->sent == NULL ||
        r->failed) {
        return KITH_EINVAL;
    }
    clear_out(out);
    r->started = true;
    size_t send_len = send->len;
    decoded_t d = {0};
    rlist_t fresh = {0}, merged = {0};

    int rc = decode(msg, len, &d);
    if (rc == KITH_OK) {
        rc = check_turns(r, &d.ranges);
    }
    if (rc == KITH_OK) {
        rc = answer(r, msg, &d.ranges, &fresh, send);
    }
    if (rc == KITH_OK) {
        rc = merge(r, &fresh, &merged);
    }
    if (rc == KITH_OK) {
        rc = send_queue(r, &merged, d.needs_turn, out);
    }
    if (rc == KITH_OK &&
        r->work > KITH_RECONCILE_WORK_FACTOR * (uint64_t) r->n + KITH_RECONCILE_WORK_SLACK) {
        rc = KITH_ETOOBIG; /* the peer keeps asking about what it was told */
    }
    rlist_free(&d.ranges);
    rlist_free(&fresh);
    rlist_free(&merged);
    if (rc != KITH_OK) {
        clear_out(out);
        send->len = send_len;
        r->failed = true;
    }
    return rc;
}

bool
kith_reconcile_done(const kith_reconcile_t *r)
{
    return r != NULL && r->done;
}
