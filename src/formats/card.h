/*
 * A contact card: the neutral form every importer produces and every exporter reads.
 *
 * A card is an ordered list of (field, value) pairs using kith's field names
 * (see src/model/schema.h and proto/SCHEMA.md): "name", "given", "family", "org",
 * "department", "title", "note", "emails", "phones", "addresses", "urls", "tags",
 * and custom "x-..." fields. A list field simply appears once per item, in order.
 * Values are UTF-8 strings; the format modules never see the store or the crypto.
 *
 * Ownership: kith_cardset_t owns its cards, a card owns its fields and strings.
 * kith_cardset_close() releases everything; it is safe on a zeroed set.
 */
#ifndef KITH_CARD_H
#define KITH_CARD_H

#include <stddef.h>

#define KITH_CARD_MAX_FIELDS 1000    /* per card: more is refused as hostile input */
#define KITH_CARDSET_MAX     1000000 /* per file */

typedef enum {
    KITH_CARD_PERSON = 0,
    KITH_CARD_ORG = 1,
} kith_card_kind_t;

typedef struct {
    char *name;    /* kith field name, NUL-terminated */
    char *value;   /* UTF-8, NUL-terminated */
    unsigned line; /* 1-based source line the value came from (0 if not known) */
} kith_card_field_t;

typedef struct {
    kith_card_kind_t kind;
    kith_card_field_t *fields;
    size_t n_fields;
    size_t cap_fields;
    unsigned line; /* 1-based line of the source where the card starts (0 if none) */
} kith_card_t;

typedef struct {
    kith_card_t *cards;
    size_t n_cards;
    size_t cap_cards;
} kith_cardset_t;

/*
 * Called by a forgiving parse (kith_vcard_parse(), kith_contacts_csv_parse_ex(),
 * kith_linkedin_parse_ex()) once for each thing it leaves out, in input order, before
 * it returns. line is the 1-based source line. prop is the property name as written
 * (without group; "" when the line has none), or NULL when a whole card was left out,
 * in which case line is where it starts (its BEGIN:VCARD, its CSV row). why says what
 * is wrong, in words, with at most a short excerpt of the input in which every byte
 * that is not printable ASCII is shown as '?'. prop and why are valid only during the
 * call.
 */
typedef void (*kith_card_skip_fn)(void *ctx, unsigned line, const char *prop, const char *why);

void kith_cardset_init(kith_cardset_t *set);
void kith_cardset_close(kith_cardset_t *set);
/* Appends a new empty card and returns it through *out (owned by the set). */
int kith_cardset_add(kith_cardset_t *set, kith_card_t **out);

void kith_card_init(kith_card_t *card);
void kith_card_close(kith_card_t *card);
/* Copies name and value (value of value_len bytes, which may hold no NUL) into the card,
 * with line 0. KITH_ETOOBIG past KITH_CARD_MAX_FIELDS. */
int kith_card_addn(kith_card_t *card, const char *name, const char *value, size_t value_len);
int kith_card_add(kith_card_t *card, const char *name, const char *value);
/* The first value of a field, or NULL. */
const char *kith_card_get(const kith_card_t *card, const char *name);

#endif
