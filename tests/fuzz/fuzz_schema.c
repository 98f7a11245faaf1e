/*
 * libFuzzer target for the record schema's parsers and checks (src/model/schema.c).
 *
 * Input: the first byte picks a field name, modulo the count of the defined fields
 * (kith_schema_fields(), in order) followed by the names in custom[] below; the rest is
 * the text a user typed, cut at the first NUL. An empty input does nothing.
 *
 * kith_schema_parse_item(field, text) must either fail with KITH_EINVAL (KITH_ERANGE for
 * an integer field) and a reason in errbuf, leaving the value untouched, or succeed with
 * a value that kith_schema_check_value() accepts: an integer for integer fields, for list
 * fields a one-item list of the text, otherwise the text itself. The two must agree both
 * ways: for text-holding fields check_value accepts the text exactly when parse does.
 * Leaving errbuf out (NULL) changes nothing but the message.
 *
 * The text is also given to kith_schema_check_name(), kith_schema_kind_parse() and
 * kith_schema_field(), whose answers must be consistent with one another.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "model/schema.h"

/* Custom names after the defined ones: two well-formed, one not (upper case). */
static const char *const custom[] = {"x-notes", "x-a_b-9", "x-Bad"};
#define N_CUSTOM (sizeof(custom) / sizeof(custom[0]))

static void
check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_schema: %s\n", what);
        abort();
    }
}

static int
is_list_type(kith_ftype_t t)
{
    return t == KITH_FT_LIST || t == KITH_FT_EMAILS || t == KITH_FT_PHONES || t == KITH_FT_URLS ||
           t == KITH_FT_RELATIONS;
}

/* The value holding text as field would store it: a one-item list for list fields. */
static void
text_value(const kith_field_def_t *def, const char *text, kith_value_t *v)
{
    memset(v, 0, sizeof(*v));
    int rc = (def != NULL && is_list_type(def->type))
                 ? kith_value_list_append(v, text, strlen(text))
                 : kith_value_set_str(v, text, strlen(text));
    check(rc == KITH_OK || rc == KITH_ETOOBIG, "building a value failed");
}

static void
check_parse(const char *field, const char *text)
{
    const kith_field_def_t *def = kith_schema_field(field);
    int name_ok = kith_schema_check_name(field) == KITH_OK;
    int is_int = def != NULL && def->type == KITH_FT_INT;
    kith_value_t v = {0}, item = {0};
    char err[256];

    err[0] = '\0';
    int rc = kith_schema_parse_item(field, text, &v, err, sizeof(err));
    /* KITH_ENOMEM can only come from copying the text out. */
    check(rc == KITH_OK || rc == KITH_EINVAL || (rc == KITH_ERANGE && is_int) || rc == KITH_ENOMEM,
          "parse returned an undocumented code");
    check(kith_schema_parse_item(field, text, &item, NULL, 0) == rc,
          "parse without errbuf gave another answer");
    kith_value_clear(&item);
    if (rc != KITH_OK) {
        check(rc == KITH_ENOMEM || err[0] != '\0', "parse failed without a reason");
        check(v.type == KITH_V_NIL, "failed parse touched the value");
        if (rc == KITH_ENOMEM) {
            return;
        }
    } else {
        check(name_ok, "parse accepted an unknown field");
        if (is_int) {
            check(v.type == KITH_V_INT, "integer field parsed to a non-integer");
        } else {
            check(v.type == KITH_V_STR && strcmp(v.str, text) == 0, "parse changed the text");
        }
    }

    if (is_int) {
        if (rc == KITH_OK) {
            check(kith_schema_check_value(field, &v) == KITH_OK, "check rejects a parsed integer");
        }
        /* Integer fields never hold text, whatever it says. */
        text_value(def, text, &item);
        if (item.type != KITH_V_NIL) {
            check(kith_schema_check_value(field, &item) == KITH_EINVAL, "integer field took text");
        }
    } else {
        /* Parse accepts exactly what check accepts, once shaped as the field stores it. A
         * text too long to become a value is left nil, which check reads as an unset. */
        text_value(def, text, &item);
        int crc = kith_schema_check_value(field, &item);
        check(crc == KITH_OK || crc == KITH_EINVAL, "check returned an undocumented code");
        if (item.type != KITH_V_NIL) {
            check((crc == KITH_OK) == (rc == KITH_OK), "parse and check disagree");
        }
        if (rc == KITH_OK && def != NULL && is_list_type(def->type)) {
            /* A list field given a bare string has the wrong shape. */
            check(kith_schema_check_value(field, &v) == KITH_EINVAL, "list field took a string");
        }
    }
    if (!name_ok) {
        check(rc == KITH_EINVAL, "parse accepted an invalid name");
        check(kith_schema_check_value(field, &item) == KITH_EINVAL, "check took an invalid name");
    }
    kith_value_clear(&item);
    kith_value_clear(&v);
}

/* The text read as a field name and as a record kind. */
static void
check_names(const char *text)
{
    const kith_field_def_t *def = kith_schema_field(text);
    int rc = kith_schema_check_name(text);
    check(rc == KITH_OK || rc == KITH_EINVAL, "check_name returned an undocumented code");
    if (def != NULL) {
        check(rc == KITH_OK && strcmp(def->name, text) == 0, "a defined field is not a name");
        check(kith_schema_is_list(text) == is_list_type(def->type), "is_list disagrees with def");
    } else if (rc == KITH_OK) {
        size_t len = strlen(text);
        check(strncmp(text, "x-", 2) == 0 && len > 2 && len <= KITH_FIELD_NAME_MAX,
              "check_name accepted a malformed custom name");
        check(!kith_schema_is_list(text), "a custom field is a list");
    } else {
        check(!kith_schema_is_list(text), "an invalid name is a list");
    }

    int kind = kith_schema_kind_parse(text);
    check(kind == -1 || kind == KITH_KIND_PERSON || kind == KITH_KIND_ORG,
          "kind_parse returned an undocumented value");
    if (kind >= 0) {
        check(kith_schema_kind_parse(kith_schema_kind_name(kind)) == kind,
              "kind name does not parse back");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    size_t n_fields;
    const kith_field_def_t *fields = kith_schema_fields(&n_fields);
    size_t pick = data[0] % (n_fields + N_CUSTOM);
    const char *field = pick < n_fields ? fields[pick].name : custom[pick - n_fields];

    /* A NUL-terminated copy, so that ASan sees any read past the text's end. */
    size_t len = strnlen((const char *) data + 1, size - 1);
    char *text = malloc(len + 1);
    check(text != NULL, "out of memory");
    memcpy(text, data + 1, len);
    text[len] = '\0';

    check_parse(field, text);
    check_names(text);
    free(text);
    return 0;
}
