/*
 * Merging duplicate records, and finding them (proto/MERGE.md has the rules; README,
 * man/kith.1 and 'kith merge --help' say them for users).
 *
 * kith_node_merge() folds record B into record A in one store transaction, through the
 * application layer (node/edit.h), so that every change is a signed op and a refused or
 * failed merge writes nothing:
 *  - A gains B's list items it lacks and B's single values where it has none; where both
 *    hold a different single value, A's stays and B's is reported (it stays in B's
 *    history). A value private in B goes to A's private layer; a shared one to A's shared
 *    layer unless the field is private on A (privacy is sticky, as in edit.h).
 *  - Live records that point at B (reports_to, relations TYPE:B) are repointed at A where
 *    this node may make the change; the others are reported.
 *  - B gets merged_into = A and is deleted (a tombstone: 'kith restore B' brings it back,
 *    and A keeps what it gained).
 * Sharing is never changed: the result says who saw B and not A, so that the user can
 * decide to share A with them.
 *
 * kith_node_duplicates() lists likely duplicate pairs among the live records this node
 * holds in O(n log n): keys are sorted, records are never compared pair by pair.
 */
#ifndef KITH_MERGE_H
#define KITH_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "model/schema.h"
#include "node/node.h"

#define KITH_MERGE_DRY_RUN 1 /* do everything, then roll back: the result says what would be */
#define KITH_MERGE_FORCE   2 /* allow merging a person and an organisation */

/* A value of B that A gained. */
typedef struct {
    char *field;
    char *value; /* the item, or the single value, as text */
    int private; /* 1: it went to A's private layer */
} kith_merge_item_t;

/* A single value where A and B differ: A's stays. */
typedef struct {
    char *field;
    char *kept;    /* A's value, as text (its shared one if it has both) */
    char *dropped; /* B's value, as text: still in B's history ('kith log B') */
    int private;   /* 1: B's value was private */
} kith_merge_conflict_t;

/* A live record that pointed at B through one field. */
typedef struct {
    uint8_t id[KITH_REC_ID_LEN];
    char *name;
    char field[KITH_FIELD_NAME_MAX + 1]; /* "reports_to" or "relations" */
    int repointed;                       /* 1: now points at A (A itself: the link to B went) */
    const char *why;                     /* when not repointed: a static sentence */
} kith_merge_ref_t;

/* Someone B was shared with who does not get A. */
typedef struct {
    kith_share_target_t target; /* a group or a peer (A ours: B's share spec; else a key) */
    int role;                   /* KITH_ROLE_* they had on B */
} kith_merge_share_t;

typedef struct {
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN];
    char *a_name, *b_name;
    int a_owned; /* 1: this node owns A, so 'kith share A' can widen it */
    kith_merge_item_t *added;
    size_t n_added;
    kith_merge_conflict_t *conflicts;
    size_t n_conflicts;
    kith_merge_ref_t *refs;
    size_t n_refs;
    kith_merge_share_t *missing; /* B's audience that A lacks */
    size_t n_missing;
    uint8_t (*newcomers)[KITH_PK_LEN]; /* who sees A but did not see B: they now see what
                                          B's shared values brought */
    size_t n_newcomers;
} kith_merge_result_t;

void kith_merge_result_init(kith_merge_result_t *r);
void kith_merge_result_close(kith_merge_result_t *r);

/* Merges record b into record a (the rules above), flags KITH_MERGE_*. KITH_OK, with what
 * was done (or, with KITH_MERGE_DRY_RUN, what would be: nothing is written) in *res, which
 * the caller initialised and closes. Refusals, each with a sentence in errbuf (names of
 * records and fields, no values): KITH_ENOTFOUND (a record is not held, or is deleted),
 * KITH_EINVAL (a record into itself; a person and an organisation without
 * KITH_MERGE_FORCE), KITH_EAUTH (b not owned by this node, or a not editable here). Any
 * error of the edit path (KITH_ETOOBIG...) rolls everything back. */
int kith_node_merge(kith_node_t *n, const uint8_t a[static KITH_REC_ID_LEN],
                    const uint8_t b[static KITH_REC_ID_LEN], int flags, uint64_t now_ms,
                    kith_merge_result_t *res, char *errbuf, size_t errcap);

#define KITH_DUP_EMAIL    1 /* an e-mail address in common (case ignored) */
#define KITH_DUP_LINKEDIN 2 /* a LinkedIn profile URL in common (match.h's reduction) */
#define KITH_DUP_NAME     4 /* same name at the same organisation (an organisation: same name) */

/* A likely duplicate pair, in the suggested direction: merge b into a. */
typedef struct {
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN];
    char *a_name, *b_name;
    int reasons;   /* KITH_DUP_* */
    char *detail;  /* the first e-mail or LinkedIn key in common ("e:..."/"l:..."), or NULL */
    int mergeable; /* 1: 'kith merge a b' is allowed here (b ours, a editable) */
} kith_dup_t;

/* Every likely duplicate pair among the live records of n, each pair once, sorted by the
 * folded name of a, then the ids. Records of different kinds are never paired. Names and
 * organisations are compared folded (util/textfold.h: case and accents, white space
 * collapsed); the organisation is the org field, else the name of the record an
 * "employer:" relation names. *out (free with kith_dups_free()) may be NULL when *n_out is
 * 0. KITH_OK, KITH_ENOMEM, or the store walk's error. */
int kith_node_duplicates(kith_node_t *n, kith_dup_t **out, size_t *n_out);
void kith_dups_free(kith_dup_t *d, size_t n);

#endif
