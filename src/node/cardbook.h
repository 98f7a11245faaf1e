/*
 * Address books: the application layer behind CardDAV (net/dav.h), with no HTTP in it.
 * It decides which records a book holds, turns a record into the vCard a client reads,
 * and turns a card a client writes into kith edits on the same path as `kith edit`
 * (node/edit.h): signed ops, privacy sticky, read-only records refused.
 *
 * Books (proto/DAV.md):
 *   "all"       every live record this node holds;
 *   "g-GROUP"   for each peer group: the records owned by the group's members, and the
 *               records this node owns whose audience includes one of them.
 *
 * Versions: a card's version is its record's fold_seq (store.h), which grows each time the
 * record changes, in either layer. A book's sync token names the store's newest op
 * sequence number and, for a group book, a tag of the group's members, so that a token
 * from before the group changed is refused and the client starts over.
 *
 * Resource names: a record is at "<32 hex id>.vcf" unless a client created it under a
 * name of its own with PUT; then that name is kept (sealed in the store's settings, looked
 * up by a keyed hash), so the client finds its card where it put it.
 *
 * Every function here reads or writes the store: call it from the one thread that owns the
 * node (the daemon's store jobs).
 */
#ifndef KITH_CARDBOOK_H
#define KITH_CARDBOOK_H

#include <stddef.h>
#include <stdint.h>

#include "formats/card.h"
#include "model/record.h"
#include "node/kept.h"
#include "node/node.h"
#include "util/buf.h"

#define KITH_CARDBOOK_NAME_MAX     (KITH_PEER_NAME_MAX + 2) /* "g-" and a group name */
#define KITH_CARDBOOK_HREF_MAX     255                      /* bytes of a resource name */
#define KITH_CARDBOOK_TOKEN_MAX    96
#define KITH_CARDBOOK_PASSWORD_LEN 26 /* characters, base32 */

typedef struct {
    char name[KITH_CARDBOOK_NAME_MAX + 1]; /* "all" or "g-GROUP" */
    char group[KITH_PEER_NAME_MAX + 1];    /* "" for "all" */
    uint8_t (*members)[KITH_PK_LEN];       /* the group's peers' keys, sorted */
    size_t n_members;
    uint8_t tag[8]; /* of the members: part of the sync token */
} kith_cardbook_t;

/* Every book: "all", then one per group, by name. Free with kith_cardbooks_free(). */
int kith_cardbook_list(kith_node_t *n, kith_cardbook_t **out, size_t *count);
void kith_cardbooks_free(kith_cardbook_t *books, size_t count);
/* The book called name. KITH_ENOTFOUND. Close with kith_cardbook_close(). */
int kith_cardbook_open(kith_node_t *n, const char *name, kith_cardbook_t *out);
void kith_cardbook_close(kith_cardbook_t *b);

/* One card in a listing. present 0: the record left the book or was deleted (listed only
 * by kith_cardbook_changes()). */
typedef struct {
    uint8_t id[KITH_REC_ID_LEN];
    uint64_t version;
    int present;
    const char *href; /* the resource name, without the book's path */
} kith_cardbook_entry_t;
typedef int (*kith_cardbook_cb)(void *ctx, const kith_cardbook_entry_t *e);

/* Calls cb for every card of the book. *token (may be NULL) gets the book's sync token. */
int kith_cardbook_members(kith_node_t *n, const kith_cardbook_t *b, kith_cardbook_cb cb, void *ctx,
                          char token[KITH_CARDBOOK_TOKEN_MAX]);
/* The sync token of the book as it stands. */
int kith_cardbook_token(kith_node_t *n, const kith_cardbook_t *b,
                        char token[KITH_CARDBOOK_TOKEN_MAX]);
/* Everything that changed since token: cb for each record folded since, present or not
 * (a record that was never in the book may be listed as not present: harmless to a
 * client). An empty token lists every card, as kith_cardbook_members(). KITH_EINVAL for
 * a token that is not this book's, is from another group membership or from the future:
 * the client must start over. *now gets the token to give the client. */
int kith_cardbook_changes(kith_node_t *n, const kith_cardbook_t *b, const char *token,
                          kith_cardbook_cb cb, void *ctx, char now[KITH_CARDBOOK_TOKEN_MAX]);

/* Finds the card called href in the book: KITH_OK with its id and version;
 * KITH_ENOTFOUND if no live record of the book has that name. */
int kith_cardbook_find(kith_node_t *n, const kith_cardbook_t *b, const char *href,
                       uint8_t id[static KITH_REC_ID_LEN], uint64_t *version);
/* The card of record id as vCard 3.0 text, appended to out. */
int kith_cardbook_get(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN], kith_buf_t *out);

typedef struct {
    int created;                 /* 1: a new record */
    uint8_t id[KITH_REC_ID_LEN]; /* the record written */
    size_t changed;              /* fields changed (0: the card was already so) */
    size_t skipped;              /* properties of the card that could not be kept */
} kith_cardbook_put_t;

/*
 * Stores a card a client wrote under href in book b. If href names a card of the book, the
 * record is edited so that it reads as the card: vCard fields absent from the card are
 * removed, intelligence and custom fields (X-KITH-*) only change when the card has them.
 * Otherwise a new record is made, shared with nobody, and href becomes its name (only in
 * "all": a group book holds shared records, and sharing is a deliberate step).
 * if_match: NULL, or the version the client last saw; if_none_match: 1 for "If-None-Match:
 * *" (only create).
 * Returns KITH_OK; KITH_EPARSE (not exactly one vCard, or a value kith refuses: errbuf
 * says which); KITH_EEXISTS (a new card whose UID another live card has: out->id is that
 * record); KITH_EAUTH (this node may not edit the record); KITH_ESTALE (the version is
 * not if_match, or the card exists and if_none_match); KITH_EPERM (a new card in a group
 * book); KITH_EINVAL (a bad href); errors of the store. Nothing is written unless KITH_OK.
 */
int kith_cardbook_put(kith_node_t *n, const kith_cardbook_t *b, const char *href, const char *vcard,
                      size_t len, const uint64_t *if_match, int if_none_match, uint64_t now_ms,
                      kith_cardbook_put_t *out, char *errbuf, size_t errcap);
/* Deletes the card called href (kith's reversible delete). KITH_ENOTFOUND, KITH_EAUTH (not
 * this node's record), KITH_ESTALE (if_match is not its version). */
int kith_cardbook_delete(kith_node_t *n, const kith_cardbook_t *b, const char *href,
                         const uint64_t *if_match, uint64_t now_ms, char *errbuf, size_t errcap);

/* The CardDAV password of this node: derived from the storage key and a generation kept
 * in the store, so nothing secret is stored apart from the key. out is NUL-terminated. */
int kith_cardbook_password(kith_node_t *n, char out[static KITH_CARDBOOK_PASSWORD_LEN + 1]);
/* Makes a new password (the old one stops working). */
int kith_cardbook_password_reset(kith_node_t *n);

/* Fills a card from a record, as exports and CardDAV give it: vCard's fields of the shared
 * record; with all, also the intelligence and custom fields and this user's private layer,
 * where a private single value takes the place of the shared one and a private list adds
 * its items. The UID is the record's foreign UID (x-vcard-uid) when foreign_uid and it has
 * one, else urn:kith:ID. */
int kith_card_from_record(const kith_record_t *r, int all, int foreign_uid, kith_card_t *card);

#endif
