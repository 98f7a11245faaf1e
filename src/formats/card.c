/*
 * Contact cards; see card.h.
 */
#include "formats/card.h"

#include <stdlib.h>
#include <string.h>

#include "kith/error.h"

void
kith_card_init(kith_card_t *card)
{
    memset(card, 0, sizeof(*card));
}

void
kith_card_close(kith_card_t *card)
{
    for (size_t i = 0; i < card->n_fields; i++) {
        free(card->fields[i].name);
        free(card->fields[i].value);
    }
    free(card->fields);
    kith_card_init(card);
}

void
kith_cardset_init(kith_cardset_t *set)
{
    memset(set, 0, sizeof(*set));
}

void
kith_cardset_close(kith_cardset_t *set)
{
    for (size_t i = 0; i < set->n_cards; i++) {
        kith_card_close(&set->cards[i]);
    }
    free(set->cards);
    kith_cardset_init(set);
}

int
kith_cardset_add(kith_cardset_t *set, kith_card_t **out)
{
    if (set->n_cards >= KITH_CARDSET_MAX) {
        return KITH_ETOOBIG;
    }
    if (set->n_cards == set->cap_cards) {
        size_t cap = set->cap_cards ? set->cap_cards * 2 : 16;
        kith_card_t *p = realloc(set->cards, cap * sizeof(*p));
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        set->cards = p;
        set->cap_cards = cap;
    }
    kith_card_t *card = &set->cards[set->n_cards++];
    kith_card_init(card);
    *out = card;
    return KITH_OK;
}

int
kith_card_addn(kith_card_t *card, const char *name, const char *value, size_t value_len)
{
    if (card->n_fields >= KITH_CARD_MAX_FIELDS) {
        return KITH_ETOOBIG;
    }
    if (card->n_fields == card->cap_fields) {
        size_t cap = card->cap_fields ? card->cap_fields * 2 : 8;
        kith_card_field_t *p = realloc(card->fields, cap * sizeof(*p));
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        card->fields = p;
        card->cap_fields = cap;
    }
    char *n = strdup(name);
    char *v = malloc(value_len + 1);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return KITH_ENOMEM;
    }
    memcpy(v, value, value_len);
    v[value_len] = '\0';
    card->fields[card->n_fields].name = n;
    card->fields[card->n_fields].value = v;
    card->fields[card->n_fields].line = 0;
    card->n_fields++;
    return KITH_OK;
}

int
kith_card_add(kith_card_t *card, const char *name, const char *value)
{
    return kith_card_addn(card, name, value, strlen(value));
}

const char *
kith_card_get(const kith_card_t *card, const char *name)
{
    for (size_t i = 0; i < card->n_fields; i++) {
        if (strcmp(card->fields[i].name, name) == 0) {
            return card->fields[i].value;
        }
    }
    return NULL;
}
