/*
 * libFuzzer target for the vCard codec.
 *
 * Parses arbitrary bytes. A failed parse must leave a message in errbuf. Every card
 * that parses is written as vCard 4.0 and 3.0 and parsed again; the second parse
 * must succeed and give back the same kind and, per field name, the same values in
 * the same order, kept lines (vcard_extra) as check_roundtrip() says; a second round
 * trip must change nothing. The only write failure tolerated is KITH_ETOOBIG: a card near
 * the field limit, or a value that grew past the line limit when it was decoded
 * (QP or ISO-8859-1), cannot be exported as one vCard, and the writer says so.
 *
 * The same bytes are then parsed in forgiving mode: where the strict parse succeeds it
 * must give the same cards and report nothing; otherwise every card it keeps must round-trip like
 * the strict ones, and every report must carry a line, a bounded name and a printable reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/card.h"
#include "formats/vcard.h"
#include "kith/error.h"

static const kith_card_t *sort_card; /* qsort has no context argument */

static int
cmp_field(const void *a, const void *b)
{
    size_t ia = *(const size_t *) a, ib = *(const size_t *) b;
    int r = strcmp(sort_card->fields[ia].name, sort_card->fields[ib].name);
    if (r == 0 && strcmp(sort_card->fields[ia].name, "vcard_extra") == 0) {
        r = strcmp(sort_card->fields[ia].value, sort_card->fields[ib].value);
    }
    return r != 0 ? r : (ia > ib) - (ia < ib);
}

static size_t *
sorted_fields(const kith_card_t *c)
{
    size_t *idx = malloc((c->n_fields + 1) * sizeof(*idx));
    if (idx == NULL) {
        abort();
    }
    for (size_t i = 0; i < c->n_fields; i++) {
        idx[i] = i;
    }
    sort_card = c;
    qsort(idx, c->n_fields, sizeof(*idx), cmp_field);
    return idx;
}

#define KEPT "vcard_extra"

/* Same kind and, per field name, the same values in the same order; kept lines
 * (vcard_extra) in any order. With sub, b may have lost kept lines of a (see
 * check_roundtrip()), but holds no kept line a has not. */
static int
cards_equal_sub(const kith_card_t *a, const kith_card_t *b, int sub)
{
    if (a->kind != b->kind || (!sub && a->n_fields != b->n_fields) || b->n_fields > a->n_fields) {
        return 0;
    }
    size_t *ia = sorted_fields(a);
    size_t *ib = sorted_fields(b);
    int eq = 1;
    size_t i = 0, j = 0;
    while (eq && (i < a->n_fields || j < b->n_fields)) {
        if (i == a->n_fields) {
            eq = 0;
            break;
        }
        const kith_card_field_t *fa = &a->fields[ia[i]];
        const kith_card_field_t *fb = j < b->n_fields ? &b->fields[ib[j]] : NULL;
        if (fb != NULL && strcmp(fa->name, fb->name) == 0 && strcmp(fa->value, fb->value) == 0) {
            i++, j++;
            continue;
        }
        /* Only a kept line of a may be missing from b. */
        eq = sub && strcmp(fa->name, KEPT) == 0 &&
             (fb == NULL || strcmp(fb->name, KEPT) != 0 || strcmp(fa->value, fb->value) < 0);
        i++;
    }
    free(ia);
    free(ib);
    return eq;
}

static int
cards_equal(const kith_card_t *a, const kith_card_t *b)
{
    return cards_equal_sub(a, b, 0);
}

static void
write_parse(const kith_card_t *card, int version, kith_cardset_t *again, int *too_big)
{
    kith_buf_t b;
    kith_buf_init(&b);
    int rc = kith_vcard_write(card, version, &b);
    *too_big = rc == KITH_ETOOBIG;
    kith_cardset_init(again);
    if (rc == KITH_ETOOBIG) {
        kith_buf_close(&b);
        return;
    }
    if (rc != KITH_OK) {
        fprintf(stderr, "write v%d failed: %s\n", version, kith_strerror(rc));
        abort();
    }
    char err[256];
    rc = kith_vcard_parse((const char *) b.data, b.len, again, NULL, NULL, err, sizeof(err));
    if (rc != KITH_OK) {
        fprintf(stderr, "re-parse of v%d failed: %s\n%s\n", version, err, (const char *) b.data);
        abort();
    }
    if (again->n_cards != 1) {
        fprintf(stderr, "v%d gave %zu cards:\n%s\n", version, again->n_cards,
                (const char *) b.data);
        abort();
    }
    kith_buf_close(&b);
}

/*
 * Every field comes back. A kept line comes back where it still stands for values the
 * writer writes; one that does not (a second N, whose names go out as X-KITH-FAMILY
 * and X-KITH-GIVEN; an X-KITH-TITLE, written as TITLE) is left out once. From then on
 * the card is a fixed point: a second write and parse gives it back exactly.
 */
static void
check_roundtrip(const kith_card_t *card, int version)
{
    kith_cardset_t once, twice;
    int too_big;
    write_parse(card, version, &once, &too_big);
    if (too_big) {
        return;
    }
    if (!cards_equal_sub(card, &once.cards[0], 1)) {
        fprintf(stderr, "v%d round trip changed the card\n", version);
        abort();
    }
    write_parse(&once.cards[0], version, &twice, &too_big);
    if (!too_big && !cards_equal(&once.cards[0], &twice.cards[0])) {
        fprintf(stderr, "v%d second round trip changed the card\n", version);
        abort();
    }
    kith_cardset_close(&twice);
    kith_cardset_close(&once);
}

/* Counts what a forgiving parse leaves out and checks what it is told. */
static void
on_skip(void *ctx, unsigned line, const char *prop, const char *why)
{
    size_t *n = ctx;
    if (line == 0 || why == NULL || why[0] == '\0' || (prop != NULL && strlen(prop) > 64)) {
        fprintf(stderr, "bad skip report: line %u prop %s why %s\n", line, prop ? prop : "(card)",
                why ? why : "(null)");
        abort();
    }
    for (const char *p = why; *p != '\0'; p++) {
        if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7F) {
            fprintf(stderr, "skip report carries a raw byte 0x%02x\n", (unsigned char) *p);
            abort();
        }
    }
    (*n)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kith_cardset_t set;
    kith_cardset_init(&set);
    char err[256];
    int rc = kith_vcard_parse((const char *) data, size, &set, NULL, NULL, err, sizeof(err));
    if (rc != KITH_OK) {
        if (err[0] == '\0') {
            fprintf(stderr, "error %s without a message\n", kith_strerror(rc));
            abort();
        }
    } else {
        for (size_t i = 0; i < set.n_cards; i++) {
            check_roundtrip(&set.cards[i], 4);
            check_roundtrip(&set.cards[i], 3);
        }
    }

    /* The forgiving parse of the same bytes: where the strict one succeeds it must give
     * the same cards; every card it keeps must survive the round trip through the
     * strict parser; it may fail only on a hard limit, never on bad syntax in a card. */
    kith_cardset_t loose;
    kith_cardset_init(&loose);
    size_t n_skipped = 0;
    int lrc =
        kith_vcard_parse((const char *) data, size, &loose, on_skip, &n_skipped, err, sizeof(err));
    if (rc == KITH_OK) {
        if (lrc != KITH_OK || loose.n_cards != set.n_cards || n_skipped != 0) {
            fprintf(stderr, "forgiving parse differs from a successful strict one: %s\n", err);
            abort();
        }
        for (size_t i = 0; i < set.n_cards; i++) {
            if (!cards_equal(&set.cards[i], &loose.cards[i])) {
                fprintf(stderr, "forgiving parse changed card %zu\n", i);
                abort();
            }
        }
    } else if (lrc == KITH_OK) {
        if (err[0] != '\0') {
            fprintf(stderr, "successful forgiving parse left a message: %s\n", err);
            abort();
        }
        for (size_t i = 0; i < loose.n_cards; i++) {
            check_roundtrip(&loose.cards[i], 4);
            check_roundtrip(&loose.cards[i], 3);
        }
    } else if (err[0] == '\0' || lrc == KITH_EINVAL) {
        fprintf(stderr, "forgiving error %s without a message\n", kith_strerror(lrc));
        abort();
    }
    kith_cardset_close(&loose);
    kith_cardset_close(&set);
    return 0;
}
