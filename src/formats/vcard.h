/*
 * vCard import and export (vCard 2.1, 3.0 and 4.0: RFC 2425/2426 and RFC 6350).
 *
 * The parser turns a .vcf file into neutral contact cards (formats/card.h); the
 * writer turns one card back into a vCard.
 *
 * Kept lines. What kith's fields do not hold is kept in the card's "vcard_extra" field,
 * one item per content line as read (unfolded, group, parameters and value as written):
 * every property kith has no field for (PHOTO, GENDER, IMPP, item1.X-ABLabel, KIND:group,
 * binary values, ...), and every property kith maps whose line says more than the
 * values it gives (TYPE and other parameters, a group, N, ORG or ADR structure, its own
 * spelling). A line that is exactly what the writer writes for its values is not kept,
 * nor are BEGIN, END, VERSION, PRODID, REV and UID (the uid field), nor a 2.1
 * QUOTED-PRINTABLE line of a mapped property (its value is imported decoded). The
 * writer writes a kept line in place of its own line for the same property when the
 * line parses to exactly the values it is writing (each kept line once), and a kept line
 * of an unmapped property as it is, after the rest; a kept line of a mapped property
 * that no longer matches a value (the value was edited in kith) is left out. Kept lines
 * are written whatever the version asked for.
 *
 * Round trip. A vCard parsed, written (3.0 or 4.0) and parsed again gives the same
 * properties (tests/unit/test_vcard_roundtrip.c checks it on tests/vectors/vcard-corpus),
 * but for: the version-specific lines kith writes itself (KIND:org or X-ABSHOWAS:COMPANY,
 * an empty N in 3.0, FN and N for a card without them); a 2.1 QUOTED-PRINTABLE line of a
 * mapped property (written decoded); a repeated FN or N, or an ORG that does not pair
 * with the department kith writes beside it, whose values go out as kith writes them;
 * an X-KITH- line of a field vCard has a property for (X-KITH-TITLE goes out as TITLE);
 * and lines over the limits below.
 * A card written by kith_vcard_write() and parsed again comes back with the same
 * kind and, for every field name other than vcard_extra, the same values in the same
 * order (fields of different names may come back in another order), provided its
 * values hold no CR (CR and CRLF are read back as LF) and are non-empty (empty values
 * are not written). vcard_extra comes back in the writer's order, less the kept lines
 * it left out (see above); a card that went through one round trip comes back whole.
 */
#ifndef KITH_VCARD_H
#define KITH_VCARD_H

#include <stddef.h>

#include "formats/card.h"
#include "util/buf.h"

#define KITH_VCARD_MAX_INPUT ((size_t) 64 << 20) /* bytes: larger files are refused */
#define KITH_VCARD_MAX_LINE  ((size_t) 1 << 20)  /* bytes in one unfolded line */
/* Bytes of kept lines (vcard_extra) per card, all lines together: a card, kept lines and
 * fields, must fit one signed op (KITH_OP_MAX_LEN, 60000 bytes). */
#define KITH_VCARD_KEPT_MAX_TOTAL 32768

/*
 * Parses every BEGIN:VCARD ... END:VCARD in data[0..len) and appends one card per
 * vCard to out (which the caller has initialised with kith_cardset_init()). Each
 * field of a card records the line of the property it came from (a name derived
 * from N, ORG or EMAIL gets the line of BEGIN:VCARD).
 *
 * Strict (skipped NULL): the first problem fails the whole parse.
 *
 * Kept lines (see above) are limited like any list item: a line over KITH_VALUE_MAX_LEN
 * (16384) octets, past the KITH_VALUE_MAX_ITEMS-th (256th) kept line of a card, or past
 * KITH_VCARD_KEPT_MAX_TOTAL octets of kept lines in the card, is not kept; nor is a line
 * kith has no field for that is not valid UTF-8 or holds a control character other than
 * tab. In a strict parse that fails the parse
 * (KITH_ETOOBIG; the message says "too long: N bytes, at most 16384 are kept", "too
 * many lines to keep" or "not kept: ..."); a forgiving one reports the line to skipped
 * and goes on, with the values the line gave if any.
 *
 * Forgiving (skipped non-NULL; see kith_card_skip_fn): a property that cannot be read (invalid
 * UTF-8 in an unsupported charset, a NUL byte, a line that is not a property, an unterminated
 * quoted parameter, an encoding that cannot be decoded, a bad X-KITH-CUSTOM name, an
 * unsupported VERSION, a line outside any vCard) is left out and passed to skipped;
 * so is a whole vCard that is structurally broken (no END:VCARD, no name, more than
 * KITH_CARD_MAX_FIELDS properties or fields, kept lines included). Every other property
 * and vCard is kept as the strict parse would read it; when the strict parse succeeds,
 * the forgiving one gives the same cards and calls skipped for nothing. The hard limits
 * still fail the whole parse: the input size, the line length, the number of vCards,
 * UTF-16 input, and input with no vCard at all.
 *
 * Returns KITH_OK, or KITH_EPARSE (malformed input in strict mode, no vCard at all),
 * KITH_ETOOBIG (input over KITH_VCARD_MAX_INPUT, a line over KITH_VCARD_MAX_LINE, too
 * many cards; in strict mode also more than KITH_CARD_MAX_FIELDS properties or fields
 * in a card), KITH_EINVAL (out NULL, or data NULL with len > 0) or KITH_ENOMEM. On
 * error a message naming the 1-based source line is written to errbuf (errcap bytes,
 * always NUL-terminated; errbuf may be NULL; on KITH_OK it holds ""), and out may
 * hold a partial import: the caller should discard the whole set with
 * kith_cardset_close().
 */
int kith_vcard_parse(const char *data, size_t len, kith_cardset_t *out, kith_card_skip_fn skipped,
                     void *ctx, char *errbuf, size_t errcap);

/*
 * Appends card to out as one vCard of the given version (3 or 4), with CRLF line
 * endings and lines folded at 75 octets. Fields that vCard has no property for are
 * written as X-KITH-<FIELD> so that a kith-to-kith round trip loses nothing. Kept lines
 * (vcard_extra) are written as the header comment says; one that could not be read
 * back (not a property, BEGIN, END, VERSION, PRODID, REV or UID, over the limits, a
 * value the parser refuses) is left out without an error.
 *
 * Returns KITH_OK; KITH_EINVAL for another version, a value that is not valid
 * UTF-8, or a field name that cannot be written so that it reads back unchanged
 * (custom fields must be "x-" followed by [a-z0-9_-], other fields [a-z0-9_], at
 * most 256 octets; kith's schema names all qualify); KITH_ETOOBIG if a line or the
 * number of properties would exceed what kith_vcard_parse() accepts; KITH_ENOMEM.
 * On error out may hold a partial vCard; the caller owns out either way.
 */
int kith_vcard_write(const kith_card_t *card, int version, kith_buf_t *out);

#endif
