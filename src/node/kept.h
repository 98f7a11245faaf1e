/*
 * Kept vCard lines and privacy: the rule that a line kept from a card (proto/SCHEMA.md,
 * "Kept vCard properties") never shares a value this user keeps privately. Imports
 * (node/match.c) and CardDAV writes (node/cardbook.c) both apply it.
 */
#ifndef KITH_KEPT_H
#define KITH_KEPT_H

#include "model/record.h"

/* The field that keeps vCard lines kith has no field for (proto/SCHEMA.md). */
#define KITH_CARD_KEPT_FIELD "vcard_extra"

/* 1 if line, a kept vCard line about to be added to record r, carries a value of a field
 * that is private on r (a TYPE=CELL line repeating a private phone number): such lines are
 * kept in r's private layer, never shared. 0 otherwise, also for a line that says nothing
 * about any field. */
int kith_card_line_private(const kith_record_t *r, const char *line);

#endif
