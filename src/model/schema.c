/*
 * The record schema; see schema.h and proto/SCHEMA.md.
 *
 * Validation is deliberately modest where the world is messy (phone numbers, URLs):
 * it rejects what is certainly wrong (control characters, spaces in an e-mail) and
 * keeps what a person may legitimately type. Integers and choices are strict, because
 * they feed sorting and filtering.
 */
#include "model/schema.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "util/errbuf.h"
#include "util/utf8.h"

static const char *const buying_roles[] = {
    "decision-maker", "economic-buyer", "technical-buyer", "champion", "influencer",
    "user",           "gatekeeper",     "blocker",         "coach",    NULL,
};

/* clang-format off */
#define TEXT(n, h)  {n, KITH_FT_TEXT, 0, 0, NULL, 0, 0, h}
#define NOTE(n, h)  {n, KITH_FT_TEXT, 0, 0, NULL, 0, 1, h}
#define INTEL(n, h) {n, KITH_FT_TEXT, 0, 0, NULL, 1, 1, h}
/* clang-format on */

static const kith_field_def_t fields[] = {
    TEXT("name", "display name"),
    TEXT("given", "given name"),
    TEXT("family", "family name"),
    {"emails", KITH_FT_EMAILS, 0, 0, NULL, 0, 0, "e-mail addresses"},
    {"phones", KITH_FT_PHONES, 0, 0, NULL, 0, 0, "phone numbers"},
    TEXT("org", "organisation (name, as text)"),
    TEXT("title", "job title"),
    TEXT("department", "department"),
    {"addresses", KITH_FT_LIST, 0, 0, NULL, 0, 1, "postal addresses"},
    {"urls", KITH_FT_URLS, 0, 0, NULL, 0, 0, "web addresses and profiles"},
    {"tags", KITH_FT_LIST, 0, 0, NULL, 0, 0, "free tags"},
    NOTE("note", "free notes"),
    {"reports_to", KITH_FT_REF, 0, 0, NULL, 1, 0, "the record this person reports to"},
    {"relations", KITH_FT_RELATIONS, 0, 0, NULL, 1, 0, "links to other records, TYPE:REF"},
    {"merged_into", KITH_FT_REF, 0, 0, NULL, 1, 0, "the record this one was merged into"},
    INTEL("priorities", "what they must achieve"),
    INTEL("pain_points", "what they struggle with"),
    INTEL("motivations", "what drives them"),
    INTEL("politics", "internal politics and alliances"),
    INTEL("decision_process", "how decisions are made"),
    INTEL("decision_criteria", "what a decision is based on"),
    INTEL("projects", "projects on the drawing board"),
    INTEL("capacity_gaps", "what they lack to deliver"),
    {"buying_role", KITH_FT_CHOICE, 0, 0, buying_roles, 1, 0, "role in a purchase"},
    {"influence", KITH_FT_INT, 0, 5, NULL, 1, 0, "influence on decisions, 0-5"},
    {"attitude", KITH_FT_INT, -2, 2, NULL, 1, 0, "attitude towards us, -2..+2"},
    {"our_owner", KITH_FT_TEXT, 0, 0, NULL, 1, 0, "who on our side owns the relationship"},
    {"last_interaction", KITH_FT_DATE, 0, 0, NULL, 1, 0, "date of the last interaction"},
    {"vcard_extra", KITH_FT_LINES, 0, 0, NULL, 0, 0, "vCard lines kept as read (import)"},
};

#undef TEXT
#undef NOTE
#undef INTEL

const kith_field_def_t *
kith_schema_fields(size_t *n)
{
    *n = sizeof(fields) / sizeof(fields[0]);
    return fields;
}

const kith_field_def_t *
kith_schema_field(const char *name)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strcmp(fields[i].name, name) == 0) {
            return &fields[i];
        }
    }
    return NULL;
}

static int
is_custom_name(const char *name)
{
    size_t len = strlen(name);
    if (len < 3 || len > KITH_FIELD_NAME_MAX || strncmp(name, "x-", 2) != 0) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

int
kith_schema_check_name(const char *name)
{
    return (kith_schema_field(name) != NULL || is_custom_name(name)) ? KITH_OK : KITH_EINVAL;
}

static int
is_list_type(kith_ftype_t t)
{
    return t == KITH_FT_LIST || t == KITH_FT_EMAILS || t == KITH_FT_PHONES || t == KITH_FT_URLS ||
           t == KITH_FT_RELATIONS || t == KITH_FT_LINES;
}

int
kith_schema_is_list(const char *name)
{
    const kith_field_def_t *def = kith_schema_field(name);
    return def != NULL && is_list_type(def->type);
}

/* Valid UTF-8 without control characters (tab and newline allowed where multiline, tab
 * alone where tab): no C0 or C1 controls, and no bidirectional overrides or isolates,
 * which can make a value display as something other than what it holds. */
static int
check_text(const char *s, int multiline, int tab)
{
    const uint8_t *p = (const uint8_t *) s;
    size_t len = strlen(s);
    if (len > KITH_VALUE_MAX_LEN) {
        return 0;
    }
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += kith_utf8_next(p + i, len - i, &cp);
        if (cp == KITH_UTF8_INVALID) {
            return 0;
        }
        if ((cp < 0x20 && !(multiline && (cp == '\n' || cp == '\t' || cp == '\r')) &&
             !(tab && cp == '\t')) ||
            (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
            (cp >= 0x2066 && cp <= 0x2069)) {
            return 0;
        }
    }
    return 1;
}

static int
is_hex_id(const char *s)
{
    if (strlen(s) != 32) {
        return 0;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static int
is_date(const char *s)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) {
        return 0;
    }
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days[m - 1]) {
        return 0;
    }
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 0;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) {
            return 0;
        }
    }
    return 1;
}

#define STR_(x) #x
#define STR(x)  STR_(x)

/* Checks one string item of a field; returns NULL if fine, else the reason. */
static const char *
check_item(const kith_field_def_t *def, const char *s)
{
    kith_ftype_t t = def ? def->type : KITH_FT_TEXT;
    int multiline = def == NULL || def->multiline;
    if (strlen(s) > KITH_VALUE_MAX_LEN) {
        /* Said first: a long value is not an encoding problem. */
        return "too long (more than " STR(KITH_VALUE_MAX_LEN) " bytes)";
    }
    if (!check_text(s, multiline, t == KITH_FT_LINES)) {
        return multiline ? "not valid UTF-8 text (or holds control characters)"
                         : "not valid single-line UTF-8 text (or holds control characters)";
    }
    if (s[0] == '\0') {
        return "empty value (use --unset to remove a field)";
    }
    switch (t) {
    case KITH_FT_EMAILS: {
        const char *at = strchr(s, '@');
        if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
            strpbrk(s, " \t<>,;") != NULL) {
            return "not an e-mail address (like name@example.com)";
        }
        return NULL;
    }
    case KITH_FT_PHONES:
        for (const char *p = s; *p; p++) {
            if (strchr("0123456789+-() ./x#*", *p) == NULL && !(*p >= 'a' && *p <= 'z') &&
                !(*p >= 'A' && *p <= 'Z')) {
                return "not a phone number (digits, spaces and + - ( ) . / x)";
            }
        }
        if (strpbrk(s, "0123456789") == NULL) {
            return "a phone number needs digits";
        }
        return NULL;
    case KITH_FT_URLS:
        if (strpbrk(s, " \t") != NULL) {
            return "a URL cannot contain spaces";
        }
        return NULL;
    case KITH_FT_DATE:
        return is_date(s) ? NULL : "not a date (YYYY-MM-DD)";
    case KITH_FT_REF:
        return is_hex_id(s) ? NULL : "not a record id";
    case KITH_FT_RELATIONS: {
        const char *colon = strrchr(s, ':');
        if (colon == NULL || colon == s || !is_hex_id(colon + 1)) {
            return "not a relation (TYPE:RECORD)";
        }
        return NULL;
    }
    case KITH_FT_CHOICE:
        for (const char *const *c = def->choices; *c; c++) {
            if (strcmp(*c, s) == 0) {
                return NULL;
            }
        }
        return "not one of the allowed words";
    default:
        return NULL;
    }
}

/* At most 40 bytes of text for a message, controls and bytes past ASCII as '?' (the
 * text may be anything a file held), "..." if cut. */
static const char *
quote_text(const char *text, char out[static 44])
{
    size_t k = 0;
    for (; text[k] != '\0' && k < 40; k++) {
        unsigned char c = (unsigned char) text[k];
        out[k] = (c >= 0x20 && c < 0x7F) ? (char) c : '?';
    }
    if (text[k] != '\0') {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

int
kith_schema_parse_item(const char *field, const char *text, kith_value_t *v, char *errbuf,
                       size_t errcap)
{
    char shown[44];
    if (kith_schema_check_name(field) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap,
                         "unknown field '%s' (see 'kith help fields'; custom fields start "
                         "with x-)",
                         field);
        return KITH_EINVAL;
    }
    const kith_field_def_t *def = kith_schema_field(field);
    if (def != NULL && def->type == KITH_FT_INT) {
        errno = 0;
        char *end = NULL;
        long n = strtol(text, &end, 10);
        /* strtol skips leading white space; a value typed with it is still a typo. */
        if (text[0] == '\0' || isspace((unsigned char) text[0]) || *end != '\0' || errno != 0) {
            kith__errbuf_set(errbuf, errcap, "%s: '%s' is not a whole number", field,
                             quote_text(text, shown));
            return KITH_EINVAL;
        }
        if (n < def->min || n > def->max) {
            kith__errbuf_set(errbuf, errcap, "%s must be between %d and %d, not %ld", field,
                             def->min, def->max, n);
            return KITH_ERANGE;
        }
        kith_value_set_int(v, n);
        return KITH_OK;
    }
    const char *why = check_item(def, text);
    if (why != NULL) {
        if (def != NULL && def->type == KITH_FT_CHOICE) {
            char list[256] = "";
            for (const char *const *c = def->choices; *c; c++) {
                strncat(list, *c, sizeof(list) - strlen(list) - 3);
                if (c[1] != NULL) {
                    strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                }
            }
            kith__errbuf_set(errbuf, errcap, "%s: '%s' is %s: %s", field, quote_text(text, shown),
                             why, list);
        } else {
            kith__errbuf_set(errbuf, errcap, "%s: %s", field, why);
        }
        return KITH_EINVAL;
    }
    return kith_value_set_str(v, text, strlen(text));
}

int
kith_schema_check_value(const char *field, const kith_value_t *v)
{
    if (kith_schema_check_name(field) != KITH_OK) {
        return KITH_EINVAL;
    }
    const kith_field_def_t *def = kith_schema_field(field);
    if (v->type == KITH_V_NIL) {
        return KITH_OK;
    }
    if (def != NULL && def->type == KITH_FT_INT) {
        return (v->type == KITH_V_INT && v->num >= def->min && v->num <= def->max) ? KITH_OK
                                                                                   : KITH_EINVAL;
    }
    if (def != NULL && is_list_type(def->type)) {
        if (v->type != KITH_V_LIST || v->n_items == 0) {
            return KITH_EINVAL;
        }
        for (size_t i = 0; i < v->n_items; i++) {
            if (check_item(def, v->items[i]) != NULL) {
                return KITH_EINVAL;
            }
        }
        return KITH_OK;
    }
    if (v->type != KITH_V_STR) {
        return KITH_EINVAL;
    }
    return check_item(def, v->str) == NULL ? KITH_OK : KITH_EINVAL;
}

const char *
kith_schema_kind_name(int kind)
{
    return kind == KITH_KIND_ORG ? "org" : "person";
}

int
kith_schema_kind_parse(const char *s)
{
    if (strcmp(s, "person") == 0) {
        return KITH_KIND_PERSON;
    }
    if (strcmp(s, "org") == 0 || strcmp(s, "organisation") == 0 || strcmp(s, "organization") == 0) {
        return KITH_KIND_ORG;
    }
    return -1;
}
