/*
 * The roster: the daemon's in-memory index of every record, which answers the web UI's
 * list and search (proto/WEB.md, GET /api/records) without unsealing the store per query.
 *
 * One compact entry per record (deleted ones too): its id, kind, flags, the folded search
 * text (kith_store_search_text(), the text `kith search` searches), the folded name (the
 * sort key) and what an ITEM of proto/WEB.md shows. kith_roster_refresh() loads every
 * record on its first call, then only the records folded since the highest fold_seq it
 * has seen (kith_store_record_versions()), so a refresh after one edit reads one record.
 *
 * Entries are kept in order of (folded name, id); a query walks them in that order, counts
 * every match (total is exact) and writes the page [offset, offset + limit).
 *
 * Threading: the store thread only (it reads the store); queries read the roster alone
 * and may run on that thread between refreshes. Nothing here knows about HTTP.
 *
 * Secrets: the roster holds record plaintext (names, organisations, tags, the folded text
 * of every value, private ones included) in the daemon's ordinary heap for as long as the
 * daemon runs, as the daemon's other work holds decrypted records while it handles them.
 * kith_roster_free() wipes it before freeing it.
 */
#ifndef KITH_ROSTER_H
#define KITH_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"
#include "util/json.h"

#define KITH_ROSTER_LIMIT_MAX  500       /* items per page */
#define KITH_ROSTER_Q_MAX      1024      /* bytes of q; longer is KITH_EINVAL */
#define KITH_ROSTER_FILTER_MAX 256       /* bytes of tag, org, owner, shared; longer: KITH_EINVAL */
#define KITH_ROSTER_OFFSET_MAX INT32_MAX /* larger offsets are KITH_EINVAL */
#define KITH_ROSTER_DAYS_MAX   10000000  /* |today_days| and stale_days at most this */

typedef struct kith_roster kith_roster_t;

typedef struct {
    const char *q;      /* NULL or "": any record; else a substring of the folded search
                           text (q is folded too) */
    int kind;           /* -1: any; else KITH_KIND_* */
    const char *tag;    /* NULL: any; else has this tag (folded, exact) */
    const char *org;    /* NULL: any; else the org field folds to the folded org */
    const char *owner;  /* NULL: any; "me": this node's; else a peer's name (as owner_name) */
    const char *shared; /* NULL: any; "@group" or a peer name: see kith_roster_query() */
    int stale_days;     /* -1: off; else last interaction more than N days before
                           today_days, or none */
    int64_t today_days; /* days since 1970-01-01, from the caller (tests fix it) */
    int deleted;        /* 0: live records; 1: deleted ones */
    size_t offset;      /* matches to skip */
    size_t limit;       /* page size, clamped to 1..KITH_ROSTER_LIMIT_MAX */
} kith_roster_query_t;

/* An empty roster; the first kith_roster_refresh() fills it. KITH_ENOMEM. */
int kith_roster_new(kith_roster_t **out);

/* Brings the roster up to date with n's store. The first call (and the first after
 * kith_roster_invalidate(), or after the peer list changed: names, keys, groups) reads
 * every record; later calls read only the records folded since. KITH_OK, or a store
 * error or KITH_ENOMEM: the roster may then lack some records or show some as they were,
 * queries stay safe, and the next call reloads everything. Records that fail to decrypt
 * are left out, as kith_store_foreach_record() does.
 *
 * Cost at 100k records (scripts/bench-ui): the first load about 1-2 s (it unseals every
 * record); a later call is one kith_store_record_versions() plus one read per changed
 * record. That listing scans the records table (about 30 ms at 100k) until the store has
 * an index on records(fold_seq); with one, a refresh after one edit takes 0.06 ms. So call
 * it when the store has changed (the daemon knows: it sends the page a change event), not
 * before every query. */
int kith_roster_refresh(kith_roster_t *r, kith_node_t *n);

/* Makes the next refresh a full reload. Call it when something that shows in many entries
 * changed without refolding those records: a share spec changed without changing the
 * audience (a share with a group that has no members yet), or the store was rederived. */
void kith_roster_invalidate(kith_roster_t *r);

/* Answers q into j, which must be inside an object the caller began: writes the members
 * "total" (every match), "offset" and "items" (the page, ITEMs as proto/WEB.md), and
 * leaves the object open, so that the caller adds "took_us" (its own timing of this
 * call) and ends it:
 *
 *     kith_json_object_begin(&j);
 *     rc = kith_roster_query(r, &q, &j);
 *     kith_json_key(&j, "took_us");
 *     kith_json_uint(&j, elapsed_us);
 *     kith_json_object_end(&j);
 *
 * shared matches a record whose shared_with holds that text ("@sales" or "bob"), and a
 * peer name also matches a record whose audience holds that peer (a member of a group it
 * is shared with). KITH_EINVAL for a query out of range (kind, deleted, stale_days,
 * today_days, offset, over-long strings), with nothing written; an offset past the end gives an
 * empty page. JSON errors stay in j (kith_json_finish() reports them). */
int kith_roster_query(const kith_roster_t *r, const kith_roster_query_t *q, kith_json_t *j);

/* Entries held: live and deleted records. */
size_t kith_roster_count(const kith_roster_t *r);

/* Bytes the roster holds on the heap (entries, order, id table, string pool). */
size_t kith_roster_mem(const kith_roster_t *r);

/* Frees r, wiping its plaintext first. NULL does nothing. */
void kith_roster_free(kith_roster_t *r);

/* Internal (tests): records read from the store by refreshes so far. */
uint64_t kith__roster_reads(const kith_roster_t *r);

#endif
