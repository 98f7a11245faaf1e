/*
 * Import matching: which existing record an imported card is, so that importing the same
 * person twice (a re-import of one's own export, a vCard beside a LinkedIn export) updates
 * one record instead of adding a second.
 *
 * The rules (also in README, man/kith.1 and 'kith import --help'):
 *  1. UID. A card's UID of the form urn:kith:<32 hex digits> names a record by its id; a
 *     held record with that id is the match. Any other UID (another program's, or a kith
 *     UID of a record this node does not hold) is kept in the record's x-vcard-uid field
 *     and matches the records whose x-vcard-uid equals it exactly. A UID that reaches one
 *     record decides alone: e-mails and URLs are not consulted.
 *  2. Otherwise, e-mail and LinkedIn URL together: a record matches if one of its e-mails
 *     equals one of the card's (ASCII case ignored), or one of its LinkedIn profile URLs
 *     is the card's (scheme, "www.", query, fragment, trailing '/' and case ignored).
 *     Exactly one such record is the match; two or more make the card ambiguous: it is
 *     imported as a new record and reported, never merged into either.
 * Both layers of a record count (a private e-mail matches too).
 *
 * Updating a matched record (kith_match_update()) goes through the same path as
 * 'kith edit' (node/edit.h): signed ops, privacy sticky. Nothing is ever removed. A list
 * gains the items it lacks (e-mails compared case-insensitively); a single value that
 * differs from what the record holds in both layers is replaced by the imported one (the
 * import wins); a value equal to the shared or the private one changes nothing, so a
 * re-import of the node's own export, plain or --all, changes nothing.
 *
 * The index lives in memory for one import; it is not thread-safe.
 */
#ifndef KITH_MATCH_H
#define KITH_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "model/op.h"
#include "model/record.h"
#include "node/node.h"

#define KITH_MATCH_UID_PREFIX "urn:kith:"
#define KITH_MATCH_UID_LEN    (9 + 2 * KITH_REC_ID_LEN) /* chars, without the NUL */
#define KITH_MATCH_UID_FIELD  "x-vcard-uid"

#define KITH_MATCH_KEY_MAX 512 /* bytes of a key, NUL included: longer values are cut */

typedef enum {
    KITH_MATCH_NONE = 0,
    KITH_MATCH_ONE = 1,
    KITH_MATCH_AMBIGUOUS = 2,
} kith_match_t;

typedef enum {
    KITH_MATCH_UNCHANGED = 0,
    KITH_MATCH_UPDATED = 1,
    KITH_MATCH_READ_ONLY = 2, /* changes were needed, but this node may not edit it */
} kith_match_outcome_t;

typedef struct kith_match_index kith_match_index_t;

/* The UID of record id: "urn:kith:" and 32 lower-case hex digits. */
void kith_match_uid_format(const uint8_t id[static KITH_REC_ID_LEN],
                           char out[static KITH_MATCH_UID_LEN + 1]);
/* KITH_OK and the id if uid is a kith UID (hex digits of either case), else KITH_EINVAL. */
int kith_match_uid_parse(const char *uid, uint8_t id[static KITH_REC_ID_LEN]);

/* The matching key of one value of field, as the index compares them (rule 2 above): for
 * "emails" "e:" and the address in ASCII lower case, for a LinkedIn profile URL in "urls"
 * "l:" and the URL reduced (no scheme, "www.", query, fragment or trailing '/', lower case),
 * for x-vcard-uid "u:" and the UID. Returns 1 with the key in key, or 0 if the value is not
 * a matching key (another field, or a URL that is not LinkedIn's). Two values are the same
 * contact detail exactly when their keys are equal. */
int kith_match_key(const char *field, const char *value, char key[static KITH_MATCH_KEY_MAX]);

/* An empty index; kith_match_index_free() frees it (NULL does nothing). KITH_ENOMEM. */
int kith_match_index_new(kith_match_index_t **out);
void kith_match_index_free(kith_match_index_t *ix);
/* Indexes every live record of n's store. Errors of the store walk, KITH_ENOMEM. */
int kith_match_index_load(kith_match_index_t *ix, kith_node_t *n);
/* Indexes the keys of r (its id, e-mails, LinkedIn URLs and x-vcard-uid, both layers). */
int kith_match_index_record(kith_match_index_t *ix, const kith_record_t *r);
/* Indexes the keys an op's fields give record id (a record being created or updated by the
 * import, so that a later card of the same file finds it). */
int kith_match_index_op(kith_match_index_t *ix, const uint8_t id[static KITH_REC_ID_LEN],
                        const kith_op_t *op);

/* Looks up a card: uid (NULL if the card has none) and the fields of incoming (as parsed
 * into an op: emails, urls). Returns a kith_match_t; on KITH_MATCH_ONE out holds the
 * record; on KITH_MATCH_AMBIGUOUS *n_found (may be NULL) counts the records reached and out
 * holds the first of them. */
int kith_match_find(const kith_match_index_t *ix, const char *uid, const kith_op_t *incoming,
                    uint8_t out[static KITH_REC_ID_LEN], size_t *n_found);

/* Brings record cur up to date with incoming (the rules above) inside the caller's store
 * transaction, and says what happened in *outcome. A record this node may not edit is
 * left alone if anything would change (KITH_MATCH_READ_ONLY). KITH_OK, or the errors of
 * kith_node_edit() with a sentence in errbuf; the caller rolls back on error. */
int kith_match_update(kith_node_t *n, const kith_record_t *cur, const kith_op_t *incoming,
                      uint64_t now_ms, kith_match_outcome_t *outcome, char *errbuf, size_t errcap);

#endif
