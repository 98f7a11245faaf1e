/*
 * Contact import (node/import.h): vCard, LinkedIn CSV and contacts CSV into a node.
 *
 * kith_import_new() parses the whole file and checks every value before anything is
 * written; each card becomes a field-change op, and is freed as soon as it is one, so the
 * peak memory of a large import stays near one copy of the data. kith_import_apply() then
 * writes all of it in one store transaction: each op is matched (node/match.h) and either
 * updates a record held or becomes a new record. New records are signed in batches of
 * IMPORT_BATCH (on several threads, kith_node_apply_local_batch()); a card that matches a
 * record of a batch still waiting is why a batch is flushed early.
 *
 * The skip reports and notes go to the caller's callbacks as they happen; the first
 * KITH_IMPORT_SKIPS_KEPT skips are also kept in the result, for the web UI's answer.
 * Nothing here prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/card.h"
#include "formats/contacts_csv.h"
#include "formats/vcard.h"
#include "kith/error.h"
#include "model/schema.h"
#include "node/import.h"
#include "node/match.h"
#include "util/hlc.h"
#include "util/utf8.h"

#define IMPORT_BATCH   512 /* new records signed together, on several threads */
#define PROGRESS_EVERY 256 /* cards between two progress calls */
#define EXCERPT_MAX    40  /* bytes of a value quoted in a skip report */
#define UNKNOWN_MAX    32  /* unknown field names reported, each once */

struct kith_import {
    kith_op_t *ops;  /* n_ops changes, one per card imported */
    char **uids;     /* each card's UID, or NULL */
    unsigned *lines; /* each card's first line */
    size_t n_ops;    /* cards turned into ops: the ones left out are not counted */
    size_t n_cards;  /* cards the file held */
    size_t n_alloc;  /* entries of ops, uids and lines */
    int applied;     /* kith_import_apply() ran: the ops are spent */
};

/* One parse: the options, where the reports go, and the unknown names said already. */
typedef struct {
    const kith_import_opts_t *o;
    kith_import_result_t *res;
    int failed; /* a skip could not be kept (out of memory) */
    char unknown[UNKNOWN_MAX][KITH_FIELD_NAME_MAX + 1];
    size_t n_unknown;
} parse_ctx_t;

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

/* Counts, keeps and reports one thing left out: prop NULL means a whole card. */
static void
report_skip(parse_ctx_t *pc, unsigned line, const char *prop, const char *why)
{
    kith_import_result_t *res = pc->res;
    size_t n = res->skipped_values + res->skipped_cards;
    prop == NULL ? res->skipped_cards++ : res->skipped_values++;
    if (n < KITH_IMPORT_SKIPS_KEPT) {
        if (res->skips == NULL) {
            res->skips = calloc(KITH_IMPORT_SKIPS_KEPT, sizeof(*res->skips));
        }
        kith_import_skip_t *s = res->skips ? &res->skips[res->n_skips] : NULL;
        if (s != NULL) {
            s->line = line;
            s->prop = prop ? strdup(prop) : NULL;
            s->why = strdup(why);
        }
        if (s == NULL || (prop != NULL && s->prop == NULL) || s->why == NULL) {
            if (s != NULL) {
                free(s->prop);
                free(s->why);
                s->prop = s->why = NULL;
            }
            pc->failed = 1;
        } else {
            res->n_skips++;
        }
    }
    if (pc->o->on_skip != NULL) {
        pc->o->on_skip(pc->o->ctx, line, prop, why);
    }
}

static void
on_parse_skip(void *ctx, unsigned line, const char *prop, const char *why)
{
    report_skip(ctx, line, prop, why);
}

/* Says once per name, for the first UNKNOWN_MAX names, that a field is not kith's. */
static void
note_unknown(parse_ctx_t *pc, const char *name)
{
    for (size_t i = 0; i < pc->n_unknown; i++) {
        if (strncmp(pc->unknown[i], name, KITH_FIELD_NAME_MAX) == 0) {
            return;
        }
    }
    if (pc->n_unknown == UNKNOWN_MAX) {
        return;
    }
    snprintf(pc->unknown[pc->n_unknown++], sizeof(pc->unknown[0]), "%s", name);
    if (pc->o->on_note != NULL) {
        kith_import_note_t note = {.kind = KITH_IMPORT_UNKNOWN_FIELD, .field = name};
        pc->o->on_note(pc->o->ctx, &note);
    }
}

/* Turns a card into a field-change op (values validated). Strict: the first bad value
 * fails, with its line (the card's for a CSV row) in *err_line and the message in errbuf.
 * Forgiving: a bad value is left out and reported with the line it came from; a card whose
 * every name is bad is reported and *left_out set, for the caller to leave out. */
static int
card_to_op(parse_ctx_t *pc, const kith_card_t *card, kith_op_t *op, int *left_out,
           unsigned *err_line, char *errbuf, size_t errcap)
{
    int strict = pc->o->strict, had_name = 0;
    char err[256];
    kith_value_t v = {0};
    int rc = KITH_OK;
    *left_out = 0;
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
            note_unknown(pc, name); /* a column or property kith has no field for */
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
            if (rc != KITH_OK && !strict && rc != KITH_ENOMEM) {
                /* The value goes out as a short escaped excerpt. The schema's message
                 * quotes at most 40 bytes of it too, anything but printable ASCII as '?'. */
                char shown[EXCERPT_MAX * 4 + 4], why[sizeof(err) + sizeof(shown) + 8];
                snprintf(why, sizeof(why), "'%s': %s", excerpt(card->fields[k].value, shown), err);
                report_skip(pc, line, name, why);
                rc = KITH_OK;
                continue;
            }
            if (rc != KITH_OK) {
                *err_line = line;
                snprintf(errbuf, errcap, "%s", err);
                break;
            }
            if (is_list) {
                rc = kith_value_list_append(&v, item.str, strlen(item.str));
                kith_value_clear(&item);
                if (rc == KITH_ETOOBIG && !strict) {
                    snprintf(err, sizeof(err), "more than %d items in %s; the rest are skipped",
                             KITH_VALUE_MAX_ITEMS, name);
                    report_skip(pc, line, name, err);
                    rc = KITH_OK;
                    break;
                }
                if (rc == KITH_ETOOBIG) {
                    *err_line = line;
                    snprintf(errbuf, errcap, "more than %d items in %s", KITH_VALUE_MAX_ITEMS,
                             name);
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
    if (rc == KITH_OK && had_name && !strict) {
        int named = 0;
        for (size_t k = 0; k < op->n_set && !named; k++) {
            named = strcmp(op->set[k].name, "name") == 0;
        }
        if (!named) {
            report_skip(pc, card->line, NULL, "no valid name");
            *left_out = 1;
        }
    }
    return rc;
}

void
kith_import_free(kith_import_t *imp)
{
    if (imp == NULL) {
        return;
    }
    for (size_t i = 0; i < imp->n_alloc; i++) {
        kith_op_close(&imp->ops[i]);
        free(imp->uids[i]);
    }
    free(imp->ops);
    free(imp->uids);
    free(imp->lines);
    free(imp);
}

static int
parse_file(const char *format, const char *text, size_t len, kith_cardset_t *cards,
           kith_card_skip_fn on_skip, void *ctx, char *err, size_t errcap)
{
    if (strcmp(format, "linkedin") == 0) {
        return kith_linkedin_parse_ex(text, len, cards, on_skip, ctx, err, errcap);
    }
    if (strcmp(format, "vcard") == 0) {
        return kith_vcard_parse(text, len, cards, on_skip, ctx, err, errcap);
    }
    return kith_contacts_csv_parse_ex(text, len, cards, on_skip, ctx, err, errcap);
}

int
kith_import_new(const char *data, size_t len, const kith_import_opts_t *o, kith_import_t **out,
                kith_import_result_t *res, char *errbuf, size_t errcap)
{
    char err[512] = "";
    kith_cardset_t cards;
    kith_cardset_init(&cards);
    kith_import_t *imp = NULL;
    parse_ctx_t *pc = NULL;
    int rc = KITH_OK;
    *out = NULL;
    res->err_line = 0;
    const char *format = o->format ? o->format : "";
    if (strcmp(format, "vcard") != 0 && strcmp(format, "linkedin") != 0 &&
        strcmp(format, "csv") != 0) {
        snprintf(err, sizeof(err), "unknown format '%.32s': use vcard, linkedin or csv", format);
        rc = KITH_EINVAL;
        goto out;
    }
    if (data == NULL && len > 0) {
        rc = KITH_EINVAL;
        goto out;
    }
    if (len > KITH_IMPORT_MAX) {
        snprintf(err, sizeof(err), "the file is larger than %zu MiB; split it",
                 KITH_IMPORT_MAX >> 20);
        rc = KITH_ETOOBIG;
        goto out;
    }
    pc = calloc(1, sizeof(*pc));
    imp = calloc(1, sizeof(*imp));
    if (pc == NULL || imp == NULL) {
        rc = KITH_ENOMEM;
        goto out;
    }
    pc->o = o;
    pc->res = res;
    rc = parse_file(format, data ? data : "", len, &cards, o->strict ? NULL : on_parse_skip, pc,
                    err, sizeof(err));
    if (rc == KITH_OK && pc->failed) {
        rc = KITH_ENOMEM;
    }
    if (rc != KITH_OK) {
        goto out;
    }
    size_t n_alloc = cards.n_cards ? cards.n_cards : 1;
    imp->ops = calloc(n_alloc, sizeof(*imp->ops));
    imp->uids = calloc(n_alloc, sizeof(*imp->uids));
    imp->lines = calloc(n_alloc, sizeof(*imp->lines));
    if (imp->ops == NULL || imp->uids == NULL || imp->lines == NULL) {
        rc = KITH_ENOMEM;
        goto out;
    }
    imp->n_alloc = n_alloc;
    imp->n_cards = cards.n_cards;
    err[0] = '\0'; /* from here on, a message is card_to_op()'s */
    for (size_t i = 0; i < n_alloc; i++) {
        kith_op_init(&imp->ops[i]);
    }
    for (size_t i = 0; i < cards.n_cards; i++) {
        kith_card_t *card = &cards.cards[i];
        kith_op_t *op = &imp->ops[imp->n_ops];
        int left_out = 0;
        rc = card_to_op(pc, card, op, &left_out, &res->err_line, err, sizeof(err));
        if (rc == KITH_OK && pc->failed) {
            rc = KITH_ENOMEM;
        }
        if (rc != KITH_OK) {
            if (err[0] == '\0') {
                res->err_line = card->line;
            }
            goto out;
        }
        if (left_out) {
            kith_op_close(op); /* left out whole, and reported */
            kith_op_init(op);
            kith_card_close(card);
            continue;
        }
        op->kind = card->kind == KITH_CARD_ORG ? KITH_KIND_ORG : KITH_KIND_PERSON;
        const char *uid = kith_card_get(card, "uid");
        if (uid != NULL && (imp->uids[imp->n_ops] = strdup(uid)) == NULL) {
            rc = KITH_ENOMEM;
            goto out;
        }
        imp->lines[imp->n_ops] = card->line;
        imp->n_ops++;
        /* Each card is done with once it is an op: keep the peak memory of a large import
         * near one copy of the data, not two. */
        kith_card_close(card);
    }
    res->cards = imp->n_ops;
    *out = imp;
    imp = NULL;
out:
    if (rc != KITH_OK && errbuf != NULL && errcap > 0) {
        snprintf(errbuf, errcap, "%s", err[0] ? err : kith_strerror(rc));
    }
    kith_import_free(imp);
    free(pc);
    kith_cardset_close(&cards);
    return rc;
}

/* Signs and stores a batch of new records, shared as asked: each creation op carries its
 * audience, so a shared record is one op, not two. */
static int
flush_new(kith_node_t *n, kith_op_t **ops, size_t count, const kith_import_opts_t *o, uint64_t now)
{
    int role = o->read_only ? KITH_ROLE_READER : KITH_ROLE_EDITOR, rc = KITH_OK;
    for (size_t i = 0; rc == KITH_OK && i < count; i++) {
        rc = kith_node_audience_from_targets(n, ops[i], o->targets, o->n_targets, role);
    }
    if (rc == KITH_OK) {
        rc = kith_node_apply_local_batch(n, ops, count, now);
    }
    for (size_t i = 0; rc == KITH_OK && i < count; i++) {
        for (size_t t = 0; t < o->n_targets && rc == KITH_OK; t++) {
            rc = kith_store_share_set(n->store, ops[i]->rec, &o->targets[t], role);
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

static void
note(const kith_import_opts_t *o, kith_import_note_kind_t kind, unsigned line, const char *name,
     size_t n_found, const uint8_t rec[KITH_REC_ID_LEN])
{
    if (o->on_note != NULL) {
        kith_import_note_t nt = {.kind = kind, .line = line, .name = name, .n_found = n_found};
        memcpy(nt.rec, rec, KITH_REC_ID_LEN);
        o->on_note(o->ctx, &nt);
    }
}

/* Updates the record held that card i of imp matches (a match of KITH_MATCH_ONE). */
static int
update_one(kith_node_t *n, kith_match_index_t *ix, kith_import_t *imp, size_t i,
           const uint8_t match[KITH_REC_ID_LEN], const kith_import_opts_t *o,
           kith_import_result_t *res, uint64_t now, char *err, size_t errcap)
{
    kith_op_t *op = &imp->ops[i];
    kith_record_t cur;
    kith_record_init(&cur);
    kith_match_outcome_t outcome = KITH_MATCH_UNCHANGED;
    int rc = kith_store_record_get(n->store, match, &cur);
    if (rc == KITH_OK) {
        err[0] = '\0';
        rc = kith_match_update(n, &cur, op, now, &outcome, err, errcap);
        if (rc != KITH_OK && err[0]) {
            res->err_line = imp->lines[i];
        }
    }
    if (rc == KITH_OK && outcome == KITH_MATCH_READ_ONLY) {
        note(o, KITH_IMPORT_READ_ONLY, imp->lines[i], kith_record_name(&cur), 0, match);
    }
    kith_record_close(&cur);
    if (rc == KITH_OK) {
        rc = kith_match_index_op(ix, match, op); /* its new e-mails, for later cards */
    }
    res->updated += outcome == KITH_MATCH_UPDATED;
    res->unchanged += outcome == KITH_MATCH_UNCHANGED;
    res->read_only += outcome == KITH_MATCH_READ_ONLY;
    return rc;
}

int
kith_import_apply(kith_node_t *n, kith_import_t *imp, const kith_import_opts_t *o,
                  kith_import_result_t *res, char *errbuf, size_t errcap)
{
    kith_op_t *pending[IMPORT_BATCH];
    size_t n_pending = 0;
    kith_match_index_t *ix = NULL;
    char err[512] = "";
    int rc = KITH_OK, in_txn = 0;
    res->err_line = 0;
    if (imp->applied) {
        rc = KITH_EINVAL;
        goto out;
    }
    imp->applied = 1;
    /* Each card is matched against the records held and those this import made before
     * it (node/match.h): a match is updated, anything else is a new record. */
    if ((rc = kith_match_index_new(&ix)) != KITH_OK ||
        (rc = kith_match_index_load(ix, n)) != KITH_OK) {
        snprintf(err, sizeof(err), "cannot read the records: %s", kith_strerror(rc));
        goto out;
    }
    uint64_t now = kith_hlc_now_ms();
    /* An import touches pages all over the tables (ids are random) in one transaction:
     * a larger page cache saves rereading and rewriting them. */
    kith_store_set_cache_kib(n->store, imp->n_cards > 10000 ? 128 * 1024 : 32 * 1024);
    if (o->on_progress != NULL) {
        o->on_progress(o->ctx, 0, imp->n_ops);
    }
    rc = kith_store_begin(n->store);
    in_txn = rc == KITH_OK;
    for (size_t i = 0; i < imp->n_ops && rc == KITH_OK; i++) {
        kith_op_t *op = &imp->ops[i];
        uint8_t match[KITH_REC_ID_LEN];
        size_t n_found = 0;
        if (o->on_progress != NULL && i > 0 && i % PROGRESS_EVERY == 0) {
            o->on_progress(o->ctx, i, imp->n_ops);
        }
        int m = kith_match_find(ix, imp->uids[i], op, match, &n_found);
        rc = keep_foreign_uid(op, imp->uids[i], m, match);
        if (rc == KITH_OK && m == KITH_MATCH_ONE && n_pending > 0) {
            /* It may be a card of this very file, still waiting to be stored. */
            rc = flush_new(n, pending, n_pending, o, now);
            n_pending = 0;
        }
        if (rc != KITH_OK) {
            break;
        }
        if (m == KITH_MATCH_ONE) {
            rc = update_one(n, ix, imp, i, match, o, res, now, err, sizeof(err));
            continue;
        }
        if (m == KITH_MATCH_AMBIGUOUS) {
            note(o, KITH_IMPORT_AMBIGUOUS, imp->lines[i], NULL, n_found, match);
            res->ambiguous++;
        }
        kith_node_new_record_id(n, op->rec);
        memcpy(op->owner, n->id->pk, KITH_PK_LEN);
        rc = kith_match_index_op(ix, op->rec, op); /* a repeated card in one file */
        pending[n_pending++] = op;
        if (n_pending == IMPORT_BATCH) {
            rc = rc ? rc : flush_new(n, pending, n_pending, o, now);
            n_pending = 0;
        }
        res->added++;
    }
    if (rc == KITH_OK) {
        rc = flush_new(n, pending, n_pending, o, now);
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
        in_txn = 0;
    }
    if (rc != KITH_OK) {
        if (in_txn) {
            kith_store_rollback(n->store);
        }
        if (res->err_line == 0) {
            snprintf(err, sizeof(err), "cannot import: %s; nothing imported", kith_strerror(rc));
        }
        goto out;
    }
    if (o->on_progress != NULL) {
        o->on_progress(o->ctx, imp->n_ops, imp->n_ops);
    }
out:
    if (rc != KITH_OK && errbuf != NULL && errcap > 0) {
        snprintf(errbuf, errcap, "%s", err[0] ? err : kith_strerror(rc));
    }
    kith_match_index_free(ix);
    return rc;
}

int
kith_node_import_contacts(kith_node_t *n, const char *data, size_t len, const kith_import_opts_t *o,
                          kith_import_result_t *res, char *errbuf, size_t errcap)
{
    kith_import_t *imp = NULL;
    int rc = kith_import_new(data, len, o, &imp, res, errbuf, errcap);
    if (rc == KITH_OK) {
        rc = kith_import_apply(n, imp, o, res, errbuf, errcap);
    }
    kith_import_free(imp);
    return rc;
}

void
kith_import_result_close(kith_import_result_t *res)
{
    if (res == NULL) {
        return;
    }
    for (size_t i = 0; res->skips != NULL && i < res->n_skips; i++) {
        free(res->skips[i].prop);
        free(res->skips[i].why);
    }
    free(res->skips);
    memset(res, 0, sizeof(*res));
}

void
kith_import_result_json(const kith_import_result_t *res, kith_json_t *j)
{
    size_t skipped = res->skipped_values + res->skipped_cards;
    kith_json_object_begin(j);
    kith_json_key(j, "added");
    kith_json_uint(j, res->added);
    kith_json_key(j, "updated");
    kith_json_uint(j, res->updated);
    kith_json_key(j, "unchanged");
    kith_json_uint(j, res->unchanged);
    kith_json_key(j, "ambiguous");
    kith_json_uint(j, res->ambiguous);
    kith_json_key(j, "read_only");
    kith_json_uint(j, res->read_only);
    kith_json_key(j, "skipped");
    kith_json_uint(j, skipped);
    kith_json_key(j, "skips");
    kith_json_array_begin(j);
    for (size_t i = 0; i < res->n_skips; i++) {
        kith_json_object_begin(j);
        kith_json_key(j, "line");
        kith_json_uint(j, res->skips[i].line);
        kith_json_key(j, "property");
        kith_json_string(j, res->skips[i].prop); /* NULL: null, a whole card */
        kith_json_key(j, "why");
        kith_json_string(j, res->skips[i].why);
        kith_json_object_end(j);
    }
    kith_json_array_end(j);
    kith_json_key(j, "skips_omitted");
    kith_json_uint(j, skipped - res->n_skips);
    kith_json_object_end(j);
}
