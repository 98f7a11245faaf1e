/*
 * kith import and export.
 *
 * The whole file is parsed and every value checked before one transaction writes it.
 * By default an import forgives: a value that cannot be read or does not fit its field
 * is left out, a vCard that is broken (no END:VCARD, no name) is left out whole, each
 * is reported on stderr with its line, and everything else is imported; the exit
 * status is then 1. With --strict an import is all or nothing: the first problem
 * leaves the store untouched. Hard limits (file size, line length, number of cards)
 * refuse the whole file either way.
 * Each card that is a record already held (node/match.h) updates it instead of adding
 * another.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/change.h"
#include "cli/cli.h"
#include "formats/card.h"
#include "formats/contacts_csv.h"
#include "formats/opsjson.h"
#include "formats/vcard.h"
#include "kith/error.h"
#include "model/schema.h"
#include "node/jsonio.h"
#include "node/cardbook.h"
#include "node/match.h"
#include "node/recview.h"
#include "util/hlc.h"
#include "util/json.h"
#include "util/utf8.h"

#define GETOPT_BEGIN() (optind = 0, opterr = 0)
#define IMPORT_MAX     ((size_t) 64 << 20)
#define IMPORT_BATCH   512 /* new records signed together, on several threads */
#define SKIPS_SHOWN    200 /* skip reports printed; the rest are only counted */
#define EXCERPT_MAX    40  /* bytes of a value quoted in a skip report */

/* What a forgiving import left out, and where to say so. */
typedef struct {
    const char *path;
    int strict;     /* --strict: the first problem fails the import */
    size_t n_props; /* values or lines left out */
    size_t n_cards; /* whole cards left out */
} skips_t;

/* At most EXCERPT_MAX bytes of s for a message, whole characters only, "..." if cut.
 * Anything a terminal could act on or misshow (invalid UTF-8, C0 and C1 controls,
 * bidirectional controls) and backslash and quote are written as \\xNN per byte. */
static const char *
excerpt(const char *s, char out[static EXCERPT_MAX * 4 + 4])
{
    const uint8_t *p = (const uint8_t *) s;
    size_t n = strlen(s), i = 0, k = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = kith_utf8_next(p + i, n - i, &cp);
        if (i + len > EXCERPT_MAX) {
            break;
        }
        int esc = cp == KITH_UTF8_INVALID || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||
                  cp == '\\' || cp == '\'' || (cp >= 0x200E && cp <= 0x200F) ||
                  (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
        for (size_t j = 0; j < len; j++) {
            if (esc) {
                k += (size_t) snprintf(out + k, 5, "\\x%02x", p[i + j]);
            } else {
                out[k++] = (char) p[i + j];
            }
        }
        i += len;
    }
    if (i < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

/* Reports one thing left out: prop NULL means a whole card. */
static void
report_skip(skips_t *sk, unsigned line, const char *prop, const char *why)
{
    size_t n = sk->n_props + sk->n_cards;
    prop == NULL ? sk->n_cards++ : sk->n_props++;
    if (n < SKIPS_SHOWN) {
        if (prop == NULL) {
            fprintf(stderr, "kith: %s: line %u: card skipped: %s\n", sk->path, line, why);
        } else if (prop[0] == '\0') {
            fprintf(stderr, "kith: %s: line %u: line skipped: %s\n", sk->path, line, why);
        } else {
            fprintf(stderr, "kith: %s: line %u: %s skipped: %s\n", sk->path, line, prop, why);
        }
    } else if (n == SKIPS_SHOWN) {
        fprintf(stderr, "kith: %s: more skipped; only the first %d are listed\n", sk->path,
                SKIPS_SHOWN);
    }
}

static void
on_parse_skip(void *ctx, unsigned line, const char *prop, const char *why)
{
    report_skip(ctx, line, prop, why);
}

static int
bad_option(const char *cmd, char **argv)
{
    return cli_usage_error(cmd, "unknown option or missing value: '%s'", argv[optind - 1]);
}

/* Reads a whole file (or stdin for "-") into out, at most IMPORT_MAX bytes. */
static int
read_input(const char *path, kith_buf_t *out)
{
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[65536];
    int ret = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            cli_error("cannot read %s: %s", path, strerror(errno));
            ret = -1;
            break;
        }
        if (r == 0) {
            break;
        }
        if (out->len + (size_t) r > IMPORT_MAX) {
            cli_error("%s is larger than %zu MiB; split it", path, IMPORT_MAX >> 20);
            ret = -1;
            break;
        }
        if (kith_buf_append(out, chunk, (size_t) r) != KITH_OK) {
            cli_error("out of memory");
            ret = -1;
            break;
        }
    }
    if (fd != 0) {
        close(fd);
    }
    return ret;
}

/* 1 the first time an unknown field name is seen in this import. */
static int
warned_unknown(const char *name)
{
    static char seen[32][KITH_FIELD_NAME_MAX + 1];
    static size_t n_seen;
    for (size_t i = 0; i < n_seen; i++) {
        if (strncmp(seen[i], name, KITH_FIELD_NAME_MAX) == 0) {
            return 0;
        }
    }
    if (n_seen < 32) {
        snprintf(seen[n_seen++], sizeof(seen[0]), "%s", name);
        return 1;
    }
    return 0;
}

/* Turns a card into a field-change op (values validated). Strict: the first bad value
 * fails, and the error names its line (the card's for a CSV row). Forgiving: a bad value is left
 * out and reported with the line it came from; a card whose every name is bad is refused with
 * CLI_CHANGE_REPORTED after the report, for the caller to leave out. */
static int
card_to_op(skips_t *sk, const kith_card_t *card, kith_op_t *op)
{
    const char *path = sk->path;
    int had_name = 0;
    char err[256];
    kith_value_t v = {0};
    int rc = KITH_OK;
    /* Group list items per field: cards keep one entry per item, in order. */
    for (size_t i = 0; i < card->n_fields && rc == KITH_OK; i++) {
        const char *name = card->fields[i].name;
        int seen = 0;
        for (size_t k = 0; k < op->n_set && !seen; k++) {
            seen = strcmp(op->set[k].name, name) == 0;
        }
        if (seen || strcmp(name, "uid") == 0) {
            continue; /* gathered with its first occurrence; the UID is for matching */
        }
        if (kith_schema_check_name(name) != KITH_OK) {
            /* A column or property kith has no field for: say so once, keep going. */
            if (warned_unknown(name)) {
                fprintf(stderr,
                        "kith: %s: '%s' is not a kith field; ignored (see 'kith help "
                        "fields')\n",
                        path, name);
            }
            continue;
        }
        int is_list = kith_schema_is_list(name);
        kith_value_clear(&v);
        for (size_t k = i; k < card->n_fields && rc == KITH_OK; k++) {
            if (strcmp(card->fields[k].name, name) != 0) {
                continue;
            }
            kith_value_t item = {0};
            unsigned line = card->fields[k].line ? card->fields[k].line : card->line;
            had_name |= strcmp(name, "name") == 0;
            rc = kith_schema_parse_item(name, card->fields[k].value, &item, err, sizeof(err));
            if (rc != KITH_OK && !sk->strict && rc != KITH_ENOMEM) {
                /* The value goes out as a short escaped excerpt. The schema's message
                 * quotes at most 40 bytes of it too, anything but printable ASCII as '?'. */
                char shown[EXCERPT_MAX * 4 + 4], why[sizeof(err) + sizeof(shown) + 8];
                snprintf(why, sizeof(why), "'%s': %s", excerpt(card->fields[k].value, shown), err);
                report_skip(sk, line, name, why);
                rc = KITH_OK;
                continue;
            }
            if (rc != KITH_OK) {
                cli_error("%s: line %u: %s", path, line, err);
                rc = CLI_CHANGE_REPORTED;
                break;
            }
            if (is_list) {
                rc = kith_value_list_append(&v, item.str, strlen(item.str));
                kith_value_clear(&item);
                if (rc == KITH_ETOOBIG && !sk->strict) {
                    snprintf(err, sizeof(err), "more than %d items in %s; the rest are skipped",
                             KITH_VALUE_MAX_ITEMS, name);
                    report_skip(sk, line, name, err);
                    rc = KITH_OK;
                    break;
                }
                if (rc == KITH_ETOOBIG) {
                    cli_error("%s: line %u: more than %d items in %s", path, line,
                              KITH_VALUE_MAX_ITEMS, name);
                    rc = CLI_CHANGE_REPORTED;
                }
            } else if (v.type == KITH_V_NIL) {
                v = item; /* a single-valued field keeps its first value */
            } else {
                kith_value_clear(&item);
            }
        }
        if (rc == KITH_OK && v.type != KITH_V_NIL) {
            rc = kith_op_set_field(op, name, &v);
        }
    }
    kith_value_clear(&v);
    if (rc == KITH_OK && had_name && !sk->strict) {
        int named = 0;
        for (size_t k = 0; k < op->n_set && !named; k++) {
            named = strcmp(op->set[k].name, "name") == 0;
        }
        if (!named) {
            report_skip(sk, card->line, NULL, "no valid name");
            rc = CLI_CHANGE_REPORTED;
        }
    }
    return rc;
}

/* Signs and stores a batch of new records, shared as asked: each creation op carries its
 * audience, so a shared record is one op, not two. */
static int
flush_new(kith_node_t *n, kith_op_t **ops, size_t count, const kith_share_target_t *targets,
          size_t n_targets, int read_only, uint64_t now)
{
    int role = read_only ? KITH_ROLE_READER : KITH_ROLE_EDITOR, rc = KITH_OK;
    for (size_t i = 0; rc == KITH_OK && i < count; i++) {
        rc = kith_node_audience_from_targets(n, ops[i], targets, n_targets, role);
    }
    if (rc == KITH_OK) {
        rc = kith_node_apply_local_batch(n, ops, count, now);
    }
    for (size_t i = 0; rc == KITH_OK && i < count; i++) {
        for (size_t t = 0; t < n_targets && rc == KITH_OK; t++) {
            rc = kith_store_share_set(n->store, ops[i]->rec, &targets[t], role);
        }
    }
    /* Stored: the fields are not needed any more (the record id is kept). */
    for (size_t i = 0; i < count; i++) {
        uint8_t rec[KITH_REC_ID_LEN];
        memcpy(rec, ops[i]->rec, KITH_REC_ID_LEN);
        kith_op_close(ops[i]);
        memcpy(ops[i]->rec, rec, KITH_REC_ID_LEN);
    }
    return rc;
}

/* A card's UID that names no record held here (another program's, or another node's kith
 * UID) is kept in x-vcard-uid, so that importing the card again finds the record. A UID
 * that is not a valid single-line text value is dropped. */
static int
keep_foreign_uid(kith_op_t *op, const char *uid, int m, const uint8_t match[KITH_REC_ID_LEN])
{
    uint8_t id[KITH_REC_ID_LEN];
    if (uid == NULL || uid[0] == '\0' ||
        (m == KITH_MATCH_ONE && kith_match_uid_parse(uid, id) == KITH_OK &&
         memcmp(id, match, KITH_REC_ID_LEN) == 0)) {
        return KITH_OK;
    }
    for (size_t k = 0; k < op->n_set; k++) {
        if (strcmp(op->set[k].name, KITH_MATCH_UID_FIELD) == 0) {
            return KITH_OK; /* the card carries one already (a kith export) */
        }
    }
    kith_value_t v = {0};
    char err[128];
    if (kith_schema_parse_item(KITH_MATCH_UID_FIELD, uid, &v, err, sizeof(err)) != KITH_OK) {
        return KITH_OK;
    }
    int rc = kith_op_set_field(op, KITH_MATCH_UID_FIELD, &v);
    kith_value_clear(&v);
    return rc;
}

/* kith import json: the signed ops of an export, verified and applied in one
 * transaction (node/jsonio.h). The readable fields of the file are not read. */
static int
import_json(cli_globals_t *g, const char *path)
{
    kith_buf_t data;
    kith_buf_init(&data);
    kith_opsjson_t f;
    memset(&f, 0, sizeof(f));
    kith_node_t *n = NULL;
    char err[512] = "";
    int ret = 1;
    if (read_input(path, &data) != 0) {
        goto out;
    }
    int rc = kith_opsjson_parse(data.data ? (const char *) data.data : "", data.len, &f, err,
                                sizeof(err));
    kith_buf_close(&data);
    if (rc != KITH_OK) {
        cli_error("%s: %s; nothing imported", path, err[0] ? err : kith_strerror(rc));
        goto out;
    }
    n = cli_open_node(g);
    if (n == NULL) {
        goto out;
    }
    kith_import_stats_t st;
    kith_store_set_cache_kib(n->store, f.n_recs > 10000 ? 128 * 1024 : 32 * 1024);
    rc = kith_node_import_ops(n, &f, &st, err, sizeof(err));
    if (rc != KITH_OK) {
        cli_error("%s: %s; nothing imported", path,
                  rc == KITH_EAUTH && err[0] ? err : kith_strerror(rc));
        goto out;
    }
    printf("Imported %zu record%s from %s: %zu new op%s, %zu already held\n", st.records,
           st.records == 1 ? "" : "s", path, st.accepted, st.accepted == 1 ? "" : "s",
           st.duplicate);
    if (st.accepted > 0) {
        cli_poke(n->dir);
    }
    ret = 0;
out:
    kith_opsjson_close(&f);
    kith_buf_close(&data);
    kith_node_close(n);
    return ret;
}

int
cmd_import(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"share", required_argument, NULL, 'S'},
        {"read-only", no_argument, NULL, 'r'},
        {"strict", no_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    skips_t sk = {0};
    char **target_args = calloc((size_t) argc, sizeof(char *));
    kith_share_target_t *targets = calloc((size_t) argc, sizeof(*targets));
    size_t n_targets = 0;
    int read_only = 0, c, ret = EXIT_USAGE;
    kith_buf_t data;
    kith_buf_init(&data);
    kith_cardset_t cards;
    kith_cardset_init(&cards);
    kith_op_t *ops = NULL;
    char **uids = NULL;
    unsigned *lines = NULL;
    kith_op_t *pending[IMPORT_BATCH];
    size_t n_pending = 0;
    kith_match_index_t *ix = NULL;
    kith_node_t *n = NULL;
    size_t n_new = 0, n_updated = 0, n_same = 0, n_ambiguous = 0, n_read_only = 0;
    if (target_args == NULL || targets == NULL) {
        free(target_args);
        free(targets);
        return 1;
    }
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'S') {
            target_args[n_targets++] = optarg;
        } else if (c == 'r') {
            read_only = 1;
        } else if (c == 's') {
            sk.strict = 1;
        } else {
            ret = bad_option("import", argv);
            goto out;
        }
    }
    if (argc - optind != 2) {
        ret = cli_usage_error("import", "needs a format (vcard, linkedin, csv or json) and a FILE");
        goto out;
    }
    const char *format = argv[optind], *path = argv[optind + 1];
    if (strcmp(format, "json") == 0) {
        ret = n_targets > 0 || read_only
                  ? cli_usage_error("import", "--share and --read-only are not for json: the "
                                              "records keep the audience their ops give them")
              : sk.strict ? cli_usage_error("import", "--strict is not for json: a json import "
                                                      "is always all or nothing")
                          : import_json(g, path);
        goto out;
    }
    int linkedin = strcmp(format, "linkedin") == 0;
    if (strcmp(format, "vcard") != 0 && !linkedin && strcmp(format, "csv") != 0) {
        ret = cli_usage_error("import", "unknown format '%s': use vcard, linkedin, csv or json",
                              format);
        goto out;
    }
    ret = 1;
    sk.path = path;
    if (read_input(path, &data) != 0) {
        goto out;
    }
    char err[512] = "";
    const char *text = data.data ? (const char *) data.data : "";
    kith_card_skip_fn on_skip = sk.strict ? NULL : on_parse_skip;
    int rc =
        linkedin ? kith_linkedin_parse_ex(text, data.len, &cards, on_skip, &sk, err, sizeof(err))
        : strcmp(format, "vcard") == 0
            ? kith_vcard_parse(text, data.len, &cards, on_skip, &sk, err, sizeof(err))
            : kith_contacts_csv_parse_ex(text, data.len, &cards, on_skip, &sk, err, sizeof(err));
    if (rc != KITH_OK) {
        cli_error("%s: %s; nothing imported", path, err[0] ? err : kith_strerror(rc));
        goto out;
    }
    /* The parsed cards are all we need from here on. */
    kith_buf_close(&data);
    ops = calloc(cards.n_cards ? cards.n_cards : 1, sizeof(*ops));
    uids = calloc(cards.n_cards ? cards.n_cards : 1, sizeof(*uids));
    lines = calloc(cards.n_cards ? cards.n_cards : 1, sizeof(*lines));
    if (ops != NULL && (uids == NULL || lines == NULL)) {
        free(ops);
        ops = NULL;
    }
    if (ops == NULL) {
        cli_error("out of memory");
        goto out;
    }
    size_t n_ops = 0; /* cards turned into ops: the ones left out are not counted */
    for (size_t i = 0; i < cards.n_cards; i++) {
        kith_op_t *op = &ops[n_ops];
        kith_op_init(op);
        size_t before = sk.n_cards;
        rc = card_to_op(&sk, &cards.cards[i], op);
        if (rc == CLI_CHANGE_REPORTED && sk.n_cards > before) {
            kith_op_close(op); /* left out whole, and reported */
            kith_card_close(&cards.cards[i]);
            continue;
        }
        if (rc != KITH_OK) {
            if (rc != CLI_CHANGE_REPORTED) {
                cli_error("%s: line %u: %s", path, cards.cards[i].line, kith_strerror(rc));
            }
            fprintf(stderr, "kith: nothing imported\n");
            goto out;
        }
        op->kind = cards.cards[i].kind == KITH_CARD_ORG ? KITH_KIND_ORG : KITH_KIND_PERSON;
        if (kith_card_get(&cards.cards[i], "uid") != NULL &&
            (uids[n_ops] = strdup(kith_card_get(&cards.cards[i], "uid"))) == NULL) {
            cli_error("out of memory");
            goto out;
        }
        lines[n_ops] = cards.cards[i].line;
        n_ops++;
        /* Each card is done with once it is an op: keep the peak memory of a large import
         * near one copy of the data, not two. */
        kith_card_close(&cards.cards[i]);
    }
    n = cli_open_node(g);
    if (n == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n_targets; i++) {
        if (cli_share_target(n, target_args[i], &targets[i]) != 0) {
            fprintf(stderr, "kith: nothing imported\n");
            goto out;
        }
    }
    /* Each card is matched against the records held and those this import made before
     * it (node/match.h): a match is updated, anything else is a new record. */
    if ((rc = kith_match_index_new(&ix)) != KITH_OK ||
        (rc = kith_match_index_load(ix, n)) != KITH_OK) {
        cli_error("cannot read the records: %s", kith_strerror(rc));
        goto out;
    }
    uint64_t now = kith_hlc_now_ms();
    /* An import touches pages all over the tables (ids are random) in one transaction:
     * a larger page cache saves rereading and rewriting them. */
    kith_store_set_cache_kib(n->store, cards.n_cards > 10000 ? 128 * 1024 : 32 * 1024);
    rc = kith_store_begin(n->store);
    for (size_t i = 0; i < n_ops && rc == KITH_OK; i++) {
        kith_op_t *op = &ops[i];
        unsigned line = lines[i];
        uint8_t match[KITH_REC_ID_LEN];
        size_t n_found = 0;
        int m = kith_match_find(ix, uids[i], op, match, &n_found);
        rc = keep_foreign_uid(op, uids[i], m, match);
        if (rc == KITH_OK && m == KITH_MATCH_ONE && n_pending > 0) {
            /* It may be a card of this very file, still waiting to be stored. */
            rc = flush_new(n, pending, n_pending, targets, n_targets, read_only, now);
            n_pending = 0;
        }
        if (rc != KITH_OK) {
            break;
        }
        if (m == KITH_MATCH_ONE) {
            kith_record_t cur;
            kith_record_init(&cur);
            kith_match_outcome_t outcome = KITH_MATCH_UNCHANGED;
            rc = kith_store_record_get(n->store, match, &cur);
            if (rc == KITH_OK) {
                err[0] = '\0';
                rc = kith_match_update(n, &cur, op, now, &outcome, err, sizeof(err));
                if (rc != KITH_OK && err[0]) {
                    cli_error("%s: line %u: %s", path, line, err);
                    rc = CLI_CHANGE_REPORTED;
                }
            }
            if (rc == KITH_OK && outcome == KITH_MATCH_READ_ONLY) {
                fprintf(stderr,
                        "kith: %s: line %u: '%s' is not yours to edit (shared with you "
                        "read-only); left alone\n",
                        path, line, kith_record_name(&cur));
            }
            kith_record_close(&cur);
            if (rc == KITH_OK) {
                rc = kith_match_index_op(ix, match, op); /* its new e-mails, for later cards */
            }
            n_updated += outcome == KITH_MATCH_UPDATED;
            n_same += outcome == KITH_MATCH_UNCHANGED;
            n_read_only += outcome == KITH_MATCH_READ_ONLY;
            continue;
        }
        if (m == KITH_MATCH_AMBIGUOUS) {
            char hex[KITH_MATCH_UID_LEN + 1];
            kith_match_uid_format(match, hex);
            fprintf(stderr,
                    "kith: %s: line %u: the card matches %zu records (one is %s); imported as "
                    "a new record, merge by hand\n",
                    path, line, n_found, hex + 9);
            n_ambiguous++;
        }
        kith_node_new_record_id(n, op->rec);
        memcpy(op->owner, n->id->pk, KITH_PK_LEN);
        rc = kith_match_index_op(ix, op->rec, op); /* a repeated card in one file */
        pending[n_pending++] = op;
        if (n_pending == IMPORT_BATCH) {
            rc = rc ? rc : flush_new(n, pending, n_pending, targets, n_targets, read_only, now);
            n_pending = 0;
        }
        n_new++;
    }
    if (rc == KITH_OK) {
        rc = flush_new(n, pending, n_pending, targets, n_targets, read_only, now);
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
        if (rc == CLI_CHANGE_REPORTED) {
            fprintf(stderr, "kith: nothing imported\n");
        } else {
            cli_error("cannot import: %s; nothing imported", kith_strerror(rc));
        }
        goto out;
    }
    printf("Imported %zu new record%s from %s (%zu updated, %zu unchanged, %zu ambiguous, %zu "
           "read-only skipped)\n",
           n_new, n_new == 1 ? "" : "s", path, n_updated, n_same, n_ambiguous, n_read_only);
    cli_poke(n->dir);
    ret = 0;
    if (sk.n_props + sk.n_cards > 0) {
        /* Said last, on stderr, where the reports are: exit status 1 says it too. */
        fprintf(stderr,
                "kith: %s: %zu card%s imported; skipped %zu value%s and %zu card%s (see above)\n",
                path, n_ops, n_ops == 1 ? "" : "s", sk.n_props, sk.n_props == 1 ? "" : "s",
                sk.n_cards, sk.n_cards == 1 ? "" : "s");
        ret = 1;
    }
out:
    for (size_t i = 0; ops != NULL && i < cards.n_cards; i++) {
        kith_op_close(&ops[i]);
        free(uids[i]);
    }
    free(ops);
    free(uids);
    free(lines);
    free(targets);
    free(target_args);
    kith_match_index_free(ix);
    kith_cardset_close(&cards);
    kith_buf_close(&data);
    kith_node_close(n);
    return ret;
}

typedef struct {
    kith_node_t *node;
    kith_buf_t *out;
    kith_json_t *json;
    int vcard_version; /* 0: JSON */
    int all;
    int no_private; /* JSON: leave out the private layer and private ops */
    size_t count;
    size_t n_private;    /* JSON: records with private fields, plus private ops, exported */
    kith_buf_t b64;      /* JSON: scratch for one op's base64 */
    kith_recview_t view; /* JSON: the records' owners and audiences, named */
} export_ctx_t;

/* One record as JSON: its readable fields, then "ops", its signed ops in fold order as
 * base64 (what 'kith import json' reads). */
static int
export_json(export_ctx_t *e, const kith_record_t *r)
{
    kith_rfield_t *shared = NULL;
    kith_record_t view = *r; /* shallow: never closed */
    size_t n_priv_fields = 0;
    for (size_t i = 0; i < r->n_fields; i++) {
        n_priv_fields += r->fields[i].private != 0;
    }
    if (e->no_private && n_priv_fields > 0) {
        shared = calloc(r->n_fields, sizeof(*shared));
        if (shared == NULL) {
            return KITH_ENOMEM;
        }
        view.n_fields = 0;
        for (size_t i = 0; i < r->n_fields; i++) {
            if (!r->fields[i].private) {
                shared[view.n_fields++] = r->fields[i];
            }
        }
        view.fields = shared;
    }
    kith_signed_ops_t ops;
    int rc = kith_node_record_ops(e->node, r->id, !e->no_private, &ops);
    if (rc == KITH_OK) {
        e->n_private += ops.n_private + (!e->no_private && n_priv_fields > 0);
        kith_recview_record(&e->view, &view, KITH_RECVIEW_OPEN, e->json);
        kith_json_key(e->json, "ops");
        kith_json_array_begin(e->json);
    }
    for (size_t i = 0; rc == KITH_OK && i < ops.n; i++) {
        size_t cap = sodium_base64_ENCODED_LEN(ops.ops[i].len, sodium_base64_VARIANT_ORIGINAL);
        e->b64.len = 0;
        rc = kith_buf_reserve(&e->b64, cap);
        if (rc == KITH_OK) {
            sodium_bin2base64((char *) e->b64.data, cap, ops.ops[i].data, ops.ops[i].len,
                              sodium_base64_VARIANT_ORIGINAL);
            kith_json_string(e->json, (const char *) e->b64.data);
        }
    }
    if (rc == KITH_OK) {
        kith_json_array_end(e->json);
        kith_json_object_end(e->json);
    }
    kith_signed_ops_close(&ops);
    free(shared);
    return rc;
}

static int
export_one(void *ctx, const kith_record_t *r)
{
    export_ctx_t *e = ctx;
    e->count++;
    if (e->vcard_version == 0) {
        return export_json(e, r);
    }
    kith_card_t card;
    kith_card_init(&card);
    int rc = kith_card_from_record(r, e->all, 0, &card);
    if (rc == KITH_OK) {
        rc = kith_vcard_write(&card, e->vcard_version, e->out);
    }
    kith_card_close(&card);
    return rc;
}

int
cmd_export(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"v3", no_argument, NULL, '3'},           {"all", no_argument, NULL, 'a'},
        {"output", required_argument, NULL, 'o'}, {"no-private", no_argument, NULL, 'P'},
        {"deleted", no_argument, NULL, 'D'},      {NULL, 0, NULL, 0},
    };
    int v3 = 0, all = 0, no_private = 0, deleted = 0, c, ret = EXIT_USAGE;
    const char *outpath = NULL;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == '3') {
            v3 = 1;
        } else if (c == 'a') {
            all = 1;
        } else if (c == 'o') {
            outpath = optarg;
        } else if (c == 'P') {
            no_private = 1;
        } else if (c == 'D') {
            deleted = 1;
        } else {
            return bad_option("export", argv);
        }
    }
    if (argc - optind < 1) {
        return cli_usage_error("export", "needs a format: vcard or json");
    }
    const char *format = argv[optind];
    int json = strcmp(format, "json") == 0;
    if (!json && strcmp(format, "vcard") != 0) {
        return cli_usage_error("export", "unknown format '%s': use vcard or json", format);
    }
    if (json && v3) {
        return cli_usage_error("export", "--v3 is for vcard");
    }
    if (deleted && (!json || optind + 1 < argc)) {
        return cli_usage_error("export", "--deleted is for json, without REF");
    }
    if (!json && no_private) {
        return cli_usage_error("export", "--no-private is for json (vcard leaves private "
                                         "fields out unless --all)");
    }
    kith_node_t *n = cli_open_node(g);
    if (n == NULL) {
        return 1;
    }
    kith_buf_t out;
    kith_buf_init(&out);
    kith_json_t j;
    kith_json_init(&j, &out, 1);
    export_ctx_t e = {n, &out, &j, json ? 0 : (v3 ? 3 : 4), all, no_private, 0, 0, {0}, {0}};
    kith_buf_init(&e.b64);
    kith_recview_init(&e.view, n);
    int rc = KITH_OK;
    ret = 1;
    if (json) {
        kith_json_array_begin(&j);
    }
    if (optind + 1 == argc) {
        rc = kith_store_foreach_record(n->store, export_one, &e);
    }
    /* The trash too, on request: a backup then keeps deleted records and their history
     * ("deleted": true tells them apart). */
    if (optind + 1 == argc && deleted && rc == KITH_OK) {
        rc = kith_store_foreach_deleted(n->store, export_one, &e);
    }
    for (int i = optind + 1; i < argc && rc == KITH_OK; i++) {
        uint8_t id[KITH_REC_ID_LEN];
        kith_record_t r;
        if (cli_resolve(n, argv[i], id) != 0) {
            goto out;
        }
        rc = kith_store_record_get(n->store, id, &r);
        if (rc == KITH_OK) {
            rc = export_one(&e, &r);
            kith_record_close(&r);
        }
    }
    if (json) {
        kith_json_array_end(&j);
        if (rc == KITH_OK) {
            rc = kith_json_finish(&j);
        }
    }
    if (rc != KITH_OK) {
        cli_error("cannot export: %s", kith_strerror(rc));
        goto out;
    }
    if (json && e.n_private > 0) {
        fprintf(stderr,
                "kith: the export holds private fields and private ops (yours alone): keep it "
                "to yourself, or leave them out with --no-private\n");
    }
    if (outpath == NULL || strcmp(outpath, "-") == 0) {
        ret = cli_write_stdout(&out) == 0 ? 0 : 1;
        goto out;
    }
    /* The file may hold intelligence: create it readable by its owner only. */
    int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (out.len > 0 && write(fd, out.data, out.len) != (ssize_t) out.len) ||
        close(fd) != 0) {
        cli_error("cannot write %s: %s", outpath, strerror(errno));
        goto out;
    }
    fprintf(stderr, "Exported %zu record%s to %s\n", e.count, e.count == 1 ? "" : "s", outpath);
    ret = 0;
out:
    kith_buf_close(&e.b64);
    kith_buf_close(&out);
    kith_node_close(n);
    return ret;
}
