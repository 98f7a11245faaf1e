/*
 * Contact lists exported as CSV, turned into cards (formats/card.h).
 *
 * kith_linkedin_parse() reads LinkedIn's Connections.csv. kith_contacts_csv_parse()
 * reads any other CSV whose first row names its columns: Google Contacts exports (the
 * old and the 2023+ layout), Outlook exports, and kith's own simple headers. Columns
 * are found by header name, compared case-insensitively after trimming, so their order
 * does not matter; unknown columns are ignored. The mapping is documented at the top of
 * contacts_csv.c.
 *
 * Every card produced has a non-empty "name"; values are trimmed UTF-8 and empty cells
 * produce no field. Rows whose cells are all blank are skipped. Each card's line is the
 * line of the file where its row starts.
 */
#ifndef KITH_CONTACTS_CSV_H
#define KITH_CONTACTS_CSV_H

#include <stddef.h>

#include "formats/card.h"

/*
 * Parses LinkedIn's Connections.csv. Everything before the header line (the "Notes:"
 * preamble of current exports) is skipped. Cards get "given", "family", "name",
 * "urls", "emails", "org", "title", "x-connected-on" (as YYYY-MM-DD when LinkedIn's
 * "15 Mar 2023" form is recognised) and "x-source" = "linkedin".
 *
 * *out is initialised by the call; on success the caller releases it with
 * kith_cardset_close(), on error it is left empty. Returns KITH_OK, KITH_EPARSE (no
 * header, a row without first and last name, or malformed CSV), KITH_ETOOBIG or
 * KITH_ENOMEM, with a message ("line N: ...") in errbuf (NULL allowed).
 */
int kith_linkedin_parse(const char *data, size_t len, kith_cardset_t *out, char *errbuf,
                        size_t errcap);

/*
 * Parses a CSV of contacts whose first row is a header. A file that turns out to be a
 * LinkedIn export (a "Notes:" preamble, or a "Connected On" column) is read as
 * kith_linkedin_parse() would. Same ownership and return codes as kith_linkedin_parse();
 * KITH_EPARSE also when no column gives a name, given or family name or e-mail, and for
 * a row with none of name, given/family name, organisation or e-mail.
 */
int kith_contacts_csv_parse(const char *data, size_t len, kith_cardset_t *out, char *errbuf,
                            size_t errcap);

/*
 * As kith_linkedin_parse() and kith_contacts_csv_parse(), and with skipped NULL the
 * same. With skipped non-NULL (see kith_card_skip_fn) a row that cannot become a card
 * (no name, too many fields) is left out and reported as a whole card; malformed CSV
 * and a header without a name column still fail the whole parse. Values are not
 * checked here: the caller checks them against the schema.
 */
int kith_linkedin_parse_ex(const char *data, size_t len, kith_cardset_t *out,
                           kith_card_skip_fn skipped, void *ctx, char *errbuf, size_t errcap);
int kith_contacts_csv_parse_ex(const char *data, size_t len, kith_cardset_t *out,
                               kith_card_skip_fn skipped, void *ctx, char *errbuf, size_t errcap);

#endif
