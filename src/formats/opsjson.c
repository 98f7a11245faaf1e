/*
 * Reading the signed ops of a JSON export; see opsjson.h. jansson parses; this file
 * bounds what it is given and checks the shape of what it returns. The parsed tree is
 * freed before returning: only the decoded ops are kept.
 */
#include "formats/opsjson.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "util/errbuf.h"

/* The largest base64 text of an op: 4 characters per 3 bytes, padded. */
#define OP_B64_MAX (((size_t) KITH_OP_MAX_LEN + 2) / 3 * 4)

void
kith_opsjson_close(kith_opsjson_t *out)
{
    for (size_t i = 0; out->ops != NULL && i < out->n_ops; i++) {
        free(out->ops[i]);
    }
    free(out->ops);
    free(out->lens);
    free(out->recs);
    memset(out, 0, sizeof(*out));
}

/* KITH_OK if no array or object in text nests deeper than KITH_OPSJSON_MAX_DEPTH; else
 * KITH_ETOOBIG with the line. Strings are skipped (with their escapes), so brackets in
 * values do not count. Malformed JSON is left for the parser to report. */
static int
check_depth(const char *text, size_t len, char *errbuf, size_t errcap)
{
    int depth = 0, in_string = 0;
    size_t line = 1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\n') {
            line++;
        }
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = 0;
            }
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > KITH_OPSJSON_MAX_DEPTH) {
                kith__errbuf_set(errbuf, errcap, "line %zu: nested more than %d levels deep", line,
                                 KITH_OPSJSON_MAX_DEPTH);
                return KITH_ETOOBIG;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return KITH_OK;
}

/* The record's place for messages: "record 3 (id 0a1b2c3d)" or "record 3". */
static void
where(char *out, size_t cap, size_t index, const char *hex)
{
    if (hex != NULL) {
        snprintf(out, cap, "record %zu (id %.8s)", index + 1, hex);
    } else {
        snprintf(out, cap, "record %zu", index + 1);
    }
}

static int
parse_record(json_t *obj, size_t index, kith_opsjson_t *out, size_t *ops_cap, char *errbuf,
             size_t errcap)
{
    char at[64];
    where(at, sizeof(at), index, NULL);
    if (!json_is_object(obj)) {
        kith__errbuf_set(errbuf, errcap, "%s is not an object", at);
        return KITH_EPARSE;
    }
    json_t *id = json_object_get(obj, "id");
    const char *hex = json_is_string(id) ? json_string_value(id) : NULL;
    kith_opsjson_rec_t *rec = &out->recs[out->n_recs];
    size_t bin_len = 0;
    if (hex == NULL || json_string_length(id) != 2 * KITH_REC_ID_LEN ||
        sodium_hex2bin(rec->id, KITH_REC_ID_LEN, hex, 2 * KITH_REC_ID_LEN, NULL, &bin_len, NULL) !=
            0 ||
        bin_len != KITH_REC_ID_LEN) {
        kith__errbuf_set(errbuf, errcap, "%s: \"id\" is not a record id (32 hex digits)", at);
        return KITH_EPARSE;
    }
    where(at, sizeof(at), index, hex);
    json_t *ops = json_object_get(obj, "ops");
    if (!json_is_array(ops) || json_array_size(ops) == 0) {
        kith__errbuf_set(errbuf, errcap,
                         "%s has no \"ops\" (its signed ops; an export made by an older kith "
                         "has none and cannot be imported)",
                         at);
        return KITH_EPARSE;
    }
    size_t n = json_array_size(ops);
    if (n > KITH_OPSJSON_MAX_REC_OPS || out->n_ops + n > KITH_OPSJSON_MAX_OPS) {
        kith__errbuf_set(errbuf, errcap, "%s: more than %d ops in a record or %d in a file", at,
                         KITH_OPSJSON_MAX_REC_OPS, KITH_OPSJSON_MAX_OPS);
        return KITH_ETOOBIG;
    }
    if (out->n_ops + n > *ops_cap) {
        size_t cap = *ops_cap ? *ops_cap : 1024;
        while (cap < out->n_ops + n) {
            cap *= 2;
        }
        uint8_t **o = realloc(out->ops, cap * sizeof(*o));
        if (o == NULL) {
            return KITH_ENOMEM;
        }
        out->ops = o;
        size_t *l = realloc(out->lens, cap * sizeof(*l));
        if (l == NULL) {
            return KITH_ENOMEM;
        }
        out->lens = l;
        *ops_cap = cap;
    }
    rec->first_op = out->n_ops;
    rec->n_ops = 0;
    for (size_t k = 0; k < n; k++) {
        json_t *s = json_array_get(ops, k);
        const char *b64 = json_is_string(s) ? json_string_value(s) : NULL;
        size_t b64_len = b64 ? json_string_length(s) : 0;
        if (b64 == NULL || b64_len > OP_B64_MAX) {
            kith__errbuf_set(errbuf, errcap, "%s, op %zu: %s", at, k + 1,
                             b64 == NULL ? "not a string" : "longer than the largest op");
            return b64 == NULL ? KITH_EPARSE : KITH_ETOOBIG;
        }
        uint8_t *bin = malloc(b64_len / 4 * 3 + 3);
        size_t len = 0;
        const char *end = NULL;
        if (bin == NULL) {
            return KITH_ENOMEM;
        }
        if (sodium_base642bin(bin, b64_len / 4 * 3 + 3, b64, b64_len, NULL, &len, &end,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            end != b64 + b64_len || len <= KITH_SIG_LEN || len > KITH_OP_MAX_LEN) {
            free(bin);
            kith__errbuf_set(errbuf, errcap, "%s, op %zu: not the base64 of a signed op", at,
                             k + 1);
            return KITH_EPARSE;
        }
        out->ops[out->n_ops] = bin;
        out->lens[out->n_ops++] = len;
        rec->n_ops++;
    }
    out->n_recs++;
    return KITH_OK;
}

int
kith_opsjson_parse(const char *text, size_t len, kith_opsjson_t *out, char *errbuf, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    size_t ops_cap = 0;
    int rc = KITH_OK;
    if (len > KITH_OPSJSON_MAX_TEXT) {
        kith__errbuf_set(errbuf, errcap, "larger than %zu MiB", KITH_OPSJSON_MAX_TEXT >> 20);
        return KITH_ETOOBIG;
    }
    rc = check_depth(text, len, errbuf, errcap);
    if (rc != KITH_OK) {
        return rc;
    }
    json_error_t jerr;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        kith__errbuf_set(errbuf, errcap, "line %d, column %d: %s", jerr.line, jerr.column,
                         jerr.text);
        return KITH_EPARSE;
    }
    if (!json_is_array(root)) {
        kith__errbuf_set(errbuf, errcap, "not a kith JSON export (not an array of records)");
        rc = KITH_EPARSE;
        goto out;
    }
    size_t n = json_array_size(root);
    if (n > KITH_OPSJSON_MAX_RECORDS) {
        kith__errbuf_set(errbuf, errcap, "more than %d records", KITH_OPSJSON_MAX_RECORDS);
        rc = KITH_ETOOBIG;
        goto out;
    }
    out->recs = calloc(n ? n : 1, sizeof(*out->recs));
    if (out->recs == NULL) {
        rc = KITH_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n && rc == KITH_OK; i++) {
        rc = parse_record(json_array_get(root, i), i, out, &ops_cap, errbuf, errcap);
    }
    if (rc == KITH_ENOMEM) {
        kith__errbuf_set(errbuf, errcap, "out of memory");
    }
out:
    json_decref(root);
    if (rc != KITH_OK) {
        kith_opsjson_close(out);
    }
    return rc;
}
