/*
 * Kept vCard lines and privacy; see kept.h. A line is read as the vCard parser reads it,
 * inside a card of its own, to learn which fields its value belongs to.
 */
#include "node/kept.h"

#include <string.h>
#include <strings.h>

#include "formats/vcard.h"
#include "kith/error.h"
#include "util/buf.h"

static void
ignore_skip(void *ctx, unsigned line, const char *prop, const char *why)
{
    (void) ctx;
    (void) line;
    (void) prop;
    (void) why;
}

int
kith_card_line_private(const kith_record_t *r, const char *line)
{
    static const char probe[] = "kith-probe";
    /* Read the line as the parser would, inside a card of its own. */
    const char *colon = strchr(line, ':'), *dot = strchr(line, '.');
    const char *prop = dot != NULL && colon != NULL && dot < colon ? dot + 1 : line;
    int is_fn = strncasecmp(prop, "FN", 2) == 0 && (prop[2] == ':' || prop[2] == ';');
    kith_buf_t text;
    kith_buf_init(&text);
    int rc = kith_buf_puts(&text, "BEGIN:VCARD\r\nVERSION:4.0\r\n");
    if (rc == KITH_OK && !is_fn) {
        rc = kith_buf_printf(&text, "FN:%s\r\n", probe);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_printf(&text, "%s\r\nEND:VCARD\r\n", line);
    }
    kith_cardset_t set;
    kith_cardset_init(&set);
    int private = 0;
    if (rc == KITH_OK &&
        kith_vcard_parse((const char *) text.data, text.len, &set, ignore_skip, NULL, NULL, 0) ==
            KITH_OK &&
        set.n_cards == 1) {
        const kith_card_t *c = &set.cards[0];
        for (size_t i = 0; i < c->n_fields && !private; i++) {
            const char *name = c->fields[i].name;
            if (strcmp(name, KITH_CARD_KEPT_FIELD) == 0 || strcmp(name, "uid") == 0 ||
                (strcmp(name, "name") == 0 && strcmp(c->fields[i].value, probe) == 0)) {
                continue;
            }
            private = kith_record_field_in(r, name, 1) != NULL;
        }
    } else if (rc != KITH_OK) {
        private = 1; /* out of memory: the safe side */
    }
    kith_cardset_close(&set);
    kith_buf_close(&text);
    return private;
}
