/*
 * Fuzz target for the CSV reader and the CSV contact importers: arbitrary bytes go to
 * kith_csv_parse(), kith_linkedin_parse() and kith_contacts_csv_parse().
 *
 * Invariants, any breach of which aborts: success and failure return only the
 * documented codes; a failure leaves an empty result and a message; parsed rows have
 * 1..KITH_CSV_MAX_COLUMNS cells of valid UTF-8 and non-decreasing line numbers; every
 * card has a non-empty "name" and only valid UTF-8 names and values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/contacts_csv.h"
#include "formats/csv.h"
#include "kith/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strict UTF-8 (RFC 3629), written independently of the reader's own check. */
static int
valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *) s;
    while (*p != 0) {
        uint32_t cp;
        size_t n;
        if (p[0] < 0x80) {
            p++;
            continue;
        } else if ((p[0] & 0xe0) == 0xc0) {
            cp = p[0] & 0x1f;
            n = 2;
        } else if ((p[0] & 0xf0) == 0xe0) {
            cp = p[0] & 0x0f;
            n = 3;
        } else if ((p[0] & 0xf8) == 0xf0) {
            cp = p[0] & 0x07;
            n = 4;
        } else {
            return 0;
        }
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0; /* also stops at the terminating NUL */
            }
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        p += n;
    }
    return 1;
}

static void
check_rc(int rc, const char *err)
{
    if (rc == KITH_OK) {
        return;
    }
    if (rc != KITH_EPARSE && rc != KITH_ETOOBIG && rc != KITH_ENOMEM) {
        abort();
    }
    if (err[0] == '\0' || !valid_utf8(err)) {
        abort();
    }
}

static void
check_csv(const uint8_t *data, size_t size)
{
    kith_csv_t csv;
    char err[256];
    int rc = kith_csv_parse((const char *) data, size, &csv, err, sizeof(err));
    check_rc(rc, err);
    if (rc != KITH_OK) {
        if (csv.n_rows != 0 || csv.rows != NULL) {
            abort();
        }
        return;
    }
    if (csv.n_rows == 0 || csv.n_rows > KITH_CSV_MAX_ROWS) {
        abort();
    }
    unsigned last = 0;
    for (size_t i = 0; i < csv.n_rows; i++) {
        const kith_csv_row_t *row = &csv.rows[i];
        if (row->n_cells == 0 || row->n_cells > KITH_CSV_MAX_COLUMNS || row->line <= last) {
            abort();
        }
        last = row->line;
        for (size_t k = 0; k < row->n_cells; k++) {
            if (strlen(row->cells[k]) > KITH_CSV_MAX_CELL || !valid_utf8(row->cells[k])) {
                abort();
            }
        }
    }
    kith_csv_close(&csv);
}

static void
check_cards(int (*parse)(const char *, size_t, kith_cardset_t *, char *, size_t),
            const uint8_t *data, size_t size)
{
    kith_cardset_t set;
    char err[256];
    int rc = parse((const char *) data, size, &set, err, sizeof(err));
    check_rc(rc, err);
    if (rc != KITH_OK) {
        if (set.n_cards != 0 || set.cards != NULL) {
            abort();
        }
        return;
    }
    for (size_t i = 0; i < set.n_cards; i++) {
        const kith_card_t *c = &set.cards[i];
        const char *name = kith_card_get(c, "name");
        if (name == NULL || name[0] == '\0' || c->line == 0 ||
            (c->kind != KITH_CARD_PERSON && c->kind != KITH_CARD_ORG)) {
            abort();
        }
        for (size_t k = 0; k < c->n_fields; k++) {
            if (c->fields[k].name[0] == '\0' || c->fields[k].value[0] == '\0' ||
                !valid_utf8(c->fields[k].name) || !valid_utf8(c->fields[k].value)) {
                abort();
            }
        }
    }
    kith_cardset_close(&set);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_csv(data, size);
    check_cards(kith_linkedin_parse, data, size);
    check_cards(kith_contacts_csv_parse, data, size);
    return 0;
}
