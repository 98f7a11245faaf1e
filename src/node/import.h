/*
 * Contact import: a vCard, LinkedIn Connections.csv or contacts CSV file into a node's
 * records, as `kith import vcard|linkedin|csv` and the web UI's POST /api/import do it.
 *
 * An import runs in two steps, so that a caller can read the file before it opens the node
 * (the CLI does, so that a bad file is reported before a passphrase is asked for):
 *  1. kith_import_new() parses the whole file and turns every card into a change, every
 *     value checked against its field (model/schema.h). Nothing touches a node.
 *  2. kith_import_apply() matches each change against the records held and those the
 *     import made before it (node/match.h): a match is updated, anything else is a new
 *     record, shared with the targets given. All of it is one store transaction: on any
 *     failure nothing is written.
 * kith_node_import_contacts() does both.
 *
 * By default an import forgives: a value that cannot be read or does not fit its field is
 * left out, a card that is broken (no END:VCARD, no valid name) is left out whole, and each
 * is reported through on_skip and counted; everything else is imported. With strict the
 * first problem fails the import. Hard limits (file size, line length, number of cards)
 * refuse the whole file either way.
 *
 * Callbacks run on the calling thread, during the call that reports them, in file order.
 */
#ifndef KITH_IMPORT_H
#define KITH_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"
#include "util/json.h"

#define KITH_IMPORT_MAX        ((size_t) 64 << 20) /* bytes of a file */
#define KITH_IMPORT_SKIPS_KEPT 100 /* skips a result lists; the rest are only counted */

/* Something an import reports that is not a skip. */
typedef enum {
    KITH_IMPORT_UNKNOWN_FIELD = 1, /* a property or column kith has no field for (field);
                                      said once per name, for the first 32 names */
    KITH_IMPORT_AMBIGUOUS = 2,     /* the card at line matches n_found records (rec is one);
                                      it was imported as a new record */
    KITH_IMPORT_READ_ONLY = 3,     /* the card at line is record rec, named name, shared with
                                      this node read-only: it needed changes, left alone */
} kith_import_note_kind_t;

typedef struct {
    kith_import_note_kind_t kind;
    unsigned line;                /* 1-based line of the card (0 for UNKNOWN_FIELD) */
    const char *field;            /* UNKNOWN_FIELD: the name as read; else NULL */
    const char *name;             /* READ_ONLY: the record's name; else NULL */
    size_t n_found;               /* AMBIGUOUS: records the card reaches */
    uint8_t rec[KITH_REC_ID_LEN]; /* AMBIGUOUS, READ_ONLY: a record id */
} kith_import_note_t;

typedef struct {
    const char *format;                 /* "vcard", "linkedin" or "csv" */
    const kith_share_target_t *targets; /* new records are shared with these (may be NULL) */
    size_t n_targets;
    int read_only; /* share as readers, not editors */
    int strict;    /* the first problem fails the import */
    /* Each thing left out: prop is the property or field ("" for a line without one), or
     * NULL for a whole card, line its line (a card's: where it starts). why is a sentence
     * quoting at most a short escaped excerpt of the input. Strings live during the call
     * only. Never called in strict mode. May be NULL. */
    void (*on_skip)(void *ctx, unsigned line, const char *prop, const char *why);
    /* Each note (see kith_import_note_t); the note lives during the call only. May be NULL. */
    void (*on_note)(void *ctx, const kith_import_note_t *note);
    /* Progress of kith_import_apply(): done of total cards, done never decreasing; called
     * with 0 first and with total last (on success). May be NULL. */
    void (*on_progress)(void *ctx, size_t done, size_t total);
    void *ctx; /* passed to the callbacks */
} kith_import_opts_t;

/* One thing left out, as reported through on_skip. */
typedef struct {
    unsigned line;
    char *prop; /* NULL: a whole card */
    char *why;
} kith_import_skip_t;

/* What an import did. Zero it before the first call; kith_import_result_close() frees it
 * (safe on a zeroed one). Filled as far as the import got, on failure too. */
typedef struct {
    size_t cards;              /* cards imported: new, updated, unchanged or read-only */
    size_t added;              /* new records (the ambiguous ones included) */
    size_t updated;            /* records held that the import changed */
    size_t unchanged;          /* records held that were already as in the file */
    size_t ambiguous;          /* cards matching several records, imported as new ones */
    size_t read_only;          /* records shared read-only that needed changes, left alone */
    size_t skipped_values;     /* values or lines left out */
    size_t skipped_cards;      /* whole cards left out */
    kith_import_skip_t *skips; /* the first KITH_IMPORT_SKIPS_KEPT of them, in order */
    size_t n_skips;
    unsigned err_line; /* on failure: the line of the file the error is about, or 0 */
} kith_import_result_t;

/* A parsed file, ready to apply. */
typedef struct kith_import kith_import_t;

/* Parses data (len bytes, need not be NUL-terminated, may hold anything) as o->format and
 * checks every value. On success *out holds the import (free with kith_import_free()).
 * Returns KITH_OK; KITH_EINVAL for an unknown format or data NULL with len > 0; the
 * parser's KITH_EPARSE or KITH_EINVAL for a file that cannot be read (malformed CSV, no
 * vCard in it); KITH_EINVAL for a strict import's first bad value (res->err_line is its
 * line); KITH_ETOOBIG over a hard limit; KITH_ENOMEM. errbuf gets a sentence without the
 * file's name (a parser's may start with "line N: "). */
int kith_import_new(const char *data, size_t len, const kith_import_opts_t *o, kith_import_t **out,
                    kith_import_result_t *res, char *errbuf, size_t errcap);
/* NULL does nothing. */
void kith_import_free(kith_import_t *imp);

/* Writes imp into n's store in one transaction (the caller must not hold one), with the
 * options it was parsed with and o's targets, read_only and callbacks. imp is spent: apply
 * it once. Returns KITH_OK, or an error with a sentence in errbuf (res->err_line the card's
 * line when it is about one card; KITH_EREADONLY, the store's errors, KITH_ENOMEM); on
 * failure nothing was written. It sets the store's page cache for the import (32 MiB, 128 MiB
 * over 10,000 cards) and leaves it so. */
int kith_import_apply(kith_node_t *n, kith_import_t *imp, const kith_import_opts_t *o,
                      kith_import_result_t *res, char *errbuf, size_t errcap);

/* kith_import_new() and kith_import_apply() in one call. */
int kith_node_import_contacts(kith_node_t *n, const char *data, size_t len,
                              const kith_import_opts_t *o, kith_import_result_t *res, char *errbuf,
                              size_t errcap);

void kith_import_result_close(kith_import_result_t *res);

/* Writes res as one JSON object into j: {"added", "updated", "unchanged", "ambiguous",
 * "read_only", "skipped" (values and cards left out), "skips": [{"line", "property" (null
 * for a whole card), "why"}...] (at most KITH_IMPORT_SKIPS_KEPT), "skips_omitted" (the
 * skips not listed)}. */
void kith_import_result_json(const kith_import_result_t *res, kith_json_t *j);

#endif
