/*
 * CSV contact exports to cards; see contacts_csv.h.
 *
 * The header row is read once into a map: every known column joins a "slot", the unit
 * that produces one kind of output (one field, a list of items, or one address put
 * together from parts). Columns of a slot are chained in header order, so each data
 * row costs time linear in its cells however many columns share a slot. A single-value
 * slot (org, title, note, ...) takes the first non-empty column of its chain; a list
 * slot adds every non-empty item of every column.
 *
 * Header names (trimmed, case-insensitive) and what they become, by dialect. The
 * dialect is picked from the header: Google if a column looks like "E-mail 1 - Value"
 * or is "Group Membership", "Labels", "File As", "Phonetic First Name" or a "Yomi"
 * name; Outlook if at least two of its distinctive columns are there ("E-mail 2
 * Address", "E-mail Display Name", "Business Street", "Home Street", "Business Phone",
 * "Home Phone", "Mobile Phone", "Business Fax", "Web Page", "Categories"); LinkedIn if
 * there is a "Connected On" column; kith otherwise.
 *
 *   all:      First Name -> given, Middle Name -> (name only), Last Name -> family,
 *             Company -> org, Department -> department, Notes -> note,
 *             x-... -> passed through (lowercased)
 *   Google:   Name -> name, Given/Additional/Family Name, Name Prefix -> x-honorific,
 *             Organization [1] Name/Title/Department -> org/title/department,
 *             E-mail N - Value, Phone N - Value, Website N - Value -> emails, phones,
 *             urls; Address N - Formatted -> addresses (else its Street, Extended
 *             Address, PO Box, City, Region, Postal Code, Country joined with ", ");
 *             Group Membership / Labels -> tags, system labels ("* starred") dropped.
 *             A cell holding several values separates them with " ::: ".
 *   Outlook:  Title -> x-honorific (it is "Mr.", not a job), Job Title -> title,
 *             E-mail [N] Address -> emails, "... Phone [N]" -> phones, Web Page ->
 *             urls, Business/Home/Other Street [2, 3], PO Box, City, State, Postal
 *             Code, Country/Region -> one address per group joined with ", ",
 *             Categories -> tags split on ';'.
 *   kith:     name, given, middle, family, org, title, department, note(s), kind
 *             ("org" makes an organisation card), email(s), phone(s), tags (all three
 *             split on ';'), address(es), url(s), and any other [a-z][a-z_]* header
 *             passed through as a field of that name (influence, pain_points, ...).
 *   LinkedIn: see kith_linkedin_parse().
 *
 * The card's name is the Name column, else given, middle and family joined with
 * spaces, else (not for LinkedIn) the organisation, which makes an organisation card,
 * else the first e-mail address.
 */
#include "formats/contacts_csv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/csv.h"
#include "kith/error.h"
#include "util/buf.h"

#define HEADER_MAX 128 /* bytes of a header name worth comparing */
#define FIELD_MAX  64  /* bytes of a passed-through field name */
#define N_PARTS    9   /* address parts, in the order they are joined */

enum { D_KITH, D_GOOGLE, D_OUTLOOK, D_LINKEDIN };

typedef enum {
    R_NAMEPART, /* name, given, middle or family: single, used to build the name */
    R_KIND,     /* kith "kind" column: single, sets the card kind */
    R_SINGLE,   /* one field from the first non-empty column */
    R_DATE,     /* as R_SINGLE, LinkedIn's date form converted to YYYY-MM-DD */
    R_LIST,     /* every non-empty item of every column */
    R_ADDR,     /* one address from a formatted column or from parts */
} role_t;

typedef enum { SPLIT_NONE, SPLIT_GOOGLE, SPLIT_SEMI } split_t;

typedef struct {
    role_t role;
    const char *field;   /* kith field name; points at owned or at a literal */
    char *owned;         /* heap copy for a passed-through name, else NULL */
    split_t split;       /* R_LIST and formatted R_ADDR */
    int drop_system;     /* R_LIST: drop items starting with '*' (Google system labels) */
    int key;             /* R_ADDR: which address (Google's N, Outlook's group) */
    long first, last;    /* chain of columns, -1 if none; R_ADDR: formatted columns */
    long parts[N_PARTS]; /* R_ADDR: column of each part, -1 if none */
    int rank;            /* output order */
    size_t order;        /* creation order, to keep sorting stable */
} slot_t;

typedef struct {
    int dialect;
    slot_t *slots;
    size_t n_slots;
    long *next;         /* per header column: next column of the same chain, or -1 */
    size_t n_cols;      /* header columns */
    const char *source; /* value of "x-source", or NULL */
    /* Slots the name is built from (NULL when absent), found once after sorting. */
    const slot_t *s_name, *s_given, *s_middle, *s_family, *s_org, *s_emails, *s_kind;
} map_t;

typedef struct {
    const char *p;
    size_t len;
} span_t;

static int fail(char *errbuf, size_t errcap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(char *errbuf, size_t errcap, int rc, const char *fmt, ...)
{
    if (errbuf != NULL && errcap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errcap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char
to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

static span_t
trim(const char *p, size_t len)
{
    while (len > 0 && is_space(p[0])) {
        p++;
        len--;
    }
    while (len > 0 && is_space(p[len - 1])) {
        len--;
    }
    return (span_t){p, len};
}

/* Case-insensitive comparison of a span with a lowercase literal. */
static int
span_is(span_t s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (to_lower(s.p[i]) != lit[i]) {
            return 0;
        }
    }
    return 1;
}

static int
eq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* Trimmed cell col of row, empty when the row is shorter than the header. */
static span_t
cell(const kith_csv_row_t *row, long col)
{
    if (col < 0 || (size_t) col >= row->n_cells) {
        return (span_t){"", 0};
    }
    const char *s = row->cells[col];
    return trim(s, strlen(s));
}

/* ------------------------------------------------------------------------------------ */
/* Header map                                                                           */

static void
map_close(map_t *m)
{
    for (size_t i = 0; i < m->n_slots; i++) {
        free(m->slots[i].owned);
    }
    free(m->slots);
    free(m->next);
    memset(m, 0, sizeof(*m));
}

static int
field_rank(const char *field)
{
    static const char *const order[] = {
        "name",   "given",  "family",    "x-honorific", "org",  "department", "title",
        "emails", "phones", "addresses", "urls",        "note", "tags",
    };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (eq(order[i], field)) {
            return (int) i;
        }
    }
    return (int) (sizeof(order) / sizeof(order[0]));
}

/* The slot for (role, field, split, key), created if new. There is at most one slot
 * per header column, so the map never holds more than n_cols slots. */
static int
get_slot(map_t *m, role_t role, const char *field, split_t split, int key, slot_t **out)
{
    for (size_t i = 0; i < m->n_slots; i++) {
        slot_t *s = &m->slots[i];
        if (s->role == role && eq(s->field, field) && s->split == split && s->key == key) {
            *out = s;
            return KITH_OK;
        }
    }
    if (m->n_slots >= m->n_cols) {
        return KITH_EINVAL; /* unreachable: each column creates at most one slot */
    }
    slot_t *s = &m->slots[m->n_slots];
    memset(s, 0, sizeof(*s));
    s->role = role;
    s->field = field;
    s->split = split;
    s->key = key;
    s->first = s->last = -1;
    for (size_t i = 0; i < N_PARTS; i++) {
        s->parts[i] = -1;
    }
    s->rank = field_rank(field);
    s->order = m->n_slots;
    m->n_slots++;
    *out = s;
    return KITH_OK;
}

/* Appends column col to the chain of its slot, which *out (NULL allowed) receives. */
static int
add_col_to(map_t *m, size_t col, role_t role, const char *field, split_t split, slot_t **out)
{
    slot_t *s = NULL;
    int rc = get_slot(m, role, field, split, 0, &s);
    if (rc != KITH_OK) {
        return rc;
    }
    if (s->last < 0) {
        s->first = (long) col;
    } else {
        m->next[s->last] = (long) col;
    }
    s->last = (long) col;
    if (out != NULL) {
        *out = s;
    }
    return KITH_OK;
}

static int
add_col(map_t *m, size_t col, role_t role, const char *field, split_t split)
{
    return add_col_to(m, col, role, field, split, NULL);
}

/* part: 0..N_PARTS-1, or -1 for a formatted address. */
static int
add_addr(map_t *m, size_t col, int key, int part, split_t split)
{
    slot_t *s = NULL;
    int rc = get_slot(m, R_ADDR, "addresses", split, key, &s);
    if (rc != KITH_OK) {
        return rc;
    }
    if (part < 0) {
        if (s->last < 0) {
            s->first = (long) col;
        } else {
            m->next[s->last] = (long) col;
        }
        s->last = (long) col;
    } else if (s->parts[part] < 0) {
        s->parts[part] = (long) col;
    }
    return KITH_OK;
}

static int
add_passthrough(map_t *m, size_t col, const char *h)
{
    char *copy = strdup(h);
    if (copy == NULL) {
        return KITH_ENOMEM;
    }
    for (size_t i = 0; i < m->n_slots; i++) {
        if (m->slots[i].role == R_LIST && eq(m->slots[i].field, copy)) {
            free(copy);
            return add_col(m, col, R_LIST, m->slots[i].field, SPLIT_NONE);
        }
    }
    slot_t *s = NULL;
    int rc = get_slot(m, R_LIST, copy, SPLIT_NONE, 0, &s);
    if (rc != KITH_OK) {
        free(copy);
        return rc;
    }
    s->owned = copy;
    return add_col(m, col, R_LIST, copy, SPLIT_NONE);
}

/* "x-" and then [a-z0-9_-]+: a custom field. */
static int
is_custom_name(const char *h)
{
    size_t n = strlen(h);
    if (n < 3 || n > FIELD_MAX || strncmp(h, "x-", 2) != 0) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* [a-z][a-z_]*: what kith's own field names look like. */
static int
is_plain_name(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > FIELD_MAX || !(h[0] >= 'a' && h[0] <= 'z')) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if (!((h[i] >= 'a' && h[i] <= 'z') || h[i] == '_')) {
            return 0;
        }
    }
    return 1;
}

/* Splits Google's "<prefix> <n> - <suffix>" header (e.g. "e-mail 2 - value"). */
static int
google_col(const char *h, char *prefix, size_t prefix_cap, int *n, const char **suffix)
{
    const char *dash = strstr(h, " - ");
    if (dash == NULL) {
        return 0;
    }
    const char *d = dash;
    while (d > h && is_digit(d[-1])) {
        d--;
    }
    size_t n_digits = (size_t) (dash - d);
    if (n_digits == 0 || n_digits > 4 || d == h || d[-1] != ' ') {
        return 0;
    }
    size_t prefix_len = (size_t) (d - 1 - h);
    if (prefix_len == 0 || prefix_len >= prefix_cap) {
        return 0;
    }
    memcpy(prefix, h, prefix_len);
    prefix[prefix_len] = '\0';
    int v = 0;
    for (; d < dash; d++) {
        v = v * 10 + (*d - '0');
    }
    *n = v;
    *suffix = dash + 3;
    return 1;
}

static int
lookup(const char *const *names, const char *h)
{
    for (size_t i = 0; names[i] != NULL; i++) {
        if (eq(names[i], h)) {
            return (int) i;
        }
    }
    return -1;
}

/* Address part numbers (join order) of the part names after a group prefix. */
static int
addr_part(const char *h)
{
    static const struct {
        const char *name;
        int part;
    } parts[] = {
        {"street", 0},         {"street 2", 1}, {"street 3", 2},       {"extended address", 3},
        {"po box", 4},         {"p.o. box", 4}, {"address po box", 4}, {"city", 5},
        {"region", 6},         {"state", 6},    {"postal code", 7},    {"country", 8},
        {"country/region", 8},
    };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (eq(parts[i].name, h)) {
            return parts[i].part;
        }
    }
    return -1;
}

/* Outlook phones: "business phone", "home phone 2", "mobile phone", ... */
static int
is_outlook_phone(const char *h)
{
    size_t n = strlen(h);
    size_t e = n;
    while (e > 0 && is_digit(h[e - 1])) {
        e--;
    }
    if (e < n) { /* a number: must follow " " */
        if (e == 0 || h[e - 1] != ' ') {
            return 0;
        }
        e--;
    }
    return e >= 5 && memcmp(h + e - 5, "phone", 5) == 0 && (e == 5 || h[e - 6] == ' ');
}

/* Outlook e-mail columns: "e-mail address", "e-mail 2 address". */
static int
is_outlook_email(const char *h)
{
    if (eq(h, "e-mail address")) {
        return 1;
    }
    if (strncmp(h, "e-mail ", 7) != 0 || !is_digit(h[7])) {
        return 0;
    }
    const char *p = h + 7;
    while (is_digit(*p)) {
        p++;
    }
    return eq(p, " address");
}

static int
detect_dialect(const kith_csv_row_t *hdr)
{
    static const char *const google[] = {
        "group membership", "labels",          "file as", "phonetic first name",
        "yomi name",        "given name yomi", NULL,
    };
    static const char *const outlook[] = {
        "e-mail 2 address",
        "e-mail display name",
        "business street",
        "home street",
        "business phone",
        "home phone",
        "mobile phone",
        "business fax",
        "web page",
        "categories",
        NULL,
    };
    int n_outlook = 0, linkedin = 0;

    for (size_t i = 0; i < hdr->n_cells; i++) {
        span_t s = cell(hdr, (long) i);
        char h[HEADER_MAX], prefix[32];
        const char *suffix;
        int n;
        if (s.len >= sizeof(h)) {
            continue;
        }
        for (size_t k = 0; k < s.len; k++) {
            h[k] = to_lower(s.p[k]);
        }
        h[s.len] = '\0';
        if (lookup(google, h) >= 0 || google_col(h, prefix, sizeof(prefix), &n, &suffix)) {
            return D_GOOGLE;
        }
        if (lookup(outlook, h) >= 0) {
            n_outlook++;
        }
        if (eq(h, "connected on")) {
            linkedin = 1;
        }
    }
    if (n_outlook >= 2) {
        return D_OUTLOOK;
    }
    return linkedin ? D_LINKEDIN : D_KITH;
}

static int
classify_linkedin(map_t *m, size_t col, const char *h)
{
    if (eq(h, "first name")) {
        return add_col(m, col, R_NAMEPART, "given", SPLIT_NONE);
    }
    if (eq(h, "last name")) {
        return add_col(m, col, R_NAMEPART, "family", SPLIT_NONE);
    }
    if (eq(h, "url")) {
        return add_col(m, col, R_LIST, "urls", SPLIT_NONE);
    }
    if (eq(h, "email address")) {
        return add_col(m, col, R_LIST, "emails", SPLIT_NONE);
    }
    if (eq(h, "company")) {
        return add_col(m, col, R_SINGLE, "org", SPLIT_NONE);
    }
    if (eq(h, "position")) {
        return add_col(m, col, R_SINGLE, "title", SPLIT_NONE);
    }
    if (eq(h, "connected on")) {
        return add_col(m, col, R_DATE, "x-connected-on", SPLIT_NONE);
    }
    return KITH_OK;
}

static int
classify_google(map_t *m, size_t col, const char *h)
{
    char prefix[32];
    const char *suffix;
    int n;

    if (google_col(h, prefix, sizeof(prefix), &n, &suffix)) {
        if (eq(suffix, "value")) {
            if (eq(prefix, "e-mail")) {
                return add_col(m, col, R_LIST, "emails", SPLIT_GOOGLE);
            }
            if (eq(prefix, "phone")) {
                return add_col(m, col, R_LIST, "phones", SPLIT_GOOGLE);
            }
            if (eq(prefix, "website")) {
                return add_col(m, col, R_LIST, "urls", SPLIT_GOOGLE);
            }
        } else if (eq(prefix, "address")) {
            if (eq(suffix, "formatted")) {
                return add_addr(m, col, n, -1, SPLIT_GOOGLE);
            }
            int part = addr_part(suffix);
            return part < 0 ? KITH_OK : add_addr(m, col, n, part, SPLIT_GOOGLE);
        } else if (eq(prefix, "organization")) {
            if (eq(suffix, "name")) {
                return add_col(m, col, R_SINGLE, "org", SPLIT_NONE);
            }
            if (eq(suffix, "title")) {
                return add_col(m, col, R_SINGLE, "title", SPLIT_NONE);
            }
            if (eq(suffix, "department")) {
                return add_col(m, col, R_SINGLE, "department", SPLIT_NONE);
            }
        }
        return KITH_OK;
    }
    if (eq(h, "name")) {
        return add_col(m, col, R_NAMEPART, "name", SPLIT_NONE);
    }
    if (eq(h, "given name")) {
        return add_col(m, col, R_NAMEPART, "given", SPLIT_NONE);
    }
    if (eq(h, "additional name")) {
        return add_col(m, col, R_NAMEPART, "middle", SPLIT_NONE);
    }
    if (eq(h, "family name")) {
        return add_col(m, col, R_NAMEPART, "family", SPLIT_NONE);
    }
    if (eq(h, "name prefix")) {
        return add_col(m, col, R_SINGLE, "x-honorific", SPLIT_NONE);
    }
    if (eq(h, "organization name")) {
        return add_col(m, col, R_SINGLE, "org", SPLIT_NONE);
    }
    if (eq(h, "organization title")) {
        return add_col(m, col, R_SINGLE, "title", SPLIT_NONE);
    }
    if (eq(h, "organization department")) {
        return add_col(m, col, R_SINGLE, "department", SPLIT_NONE);
    }
    if (eq(h, "group membership") || eq(h, "labels")) {
        slot_t *s = NULL;
        int rc = add_col_to(m, col, R_LIST, "tags", SPLIT_GOOGLE, &s);
        if (rc == KITH_OK) {
            s->drop_system = 1;
        }
        return rc;
    }
    return KITH_OK;
}

static int
classify_outlook(map_t *m, size_t col, const char *h)
{
    static const char *const groups[] = {"business ", "home ", "other ", NULL};

    if (eq(h, "title")) {
        return add_col(m, col, R_SINGLE, "x-honorific", SPLIT_NONE);
    }
    if (eq(h, "job title")) {
        return add_col(m, col, R_SINGLE, "title", SPLIT_NONE);
    }
    if (is_outlook_email(h)) {
        return add_col(m, col, R_LIST, "emails", SPLIT_NONE);
    }
    if (eq(h, "web page") || eq(h, "personal web page")) {
        return add_col(m, col, R_LIST, "urls", SPLIT_NONE);
    }
    if (eq(h, "categories")) {
        return add_col(m, col, R_LIST, "tags", SPLIT_SEMI);
    }
    for (int g = 0; groups[g] != NULL; g++) {
        size_t n = strlen(groups[g]);
        if (strncmp(h, groups[g], n) == 0) {
            int part = addr_part(h + n);
            if (part >= 0) {
                return add_addr(m, col, g, part, SPLIT_NONE);
            }
        }
    }
    if (is_outlook_phone(h)) {
        return add_col(m, col, R_LIST, "phones", SPLIT_NONE);
    }
    return KITH_OK;
}

static int
classify_kith(map_t *m, size_t col, const char *h)
{
    static const struct {
        const char *header;
        role_t role;
        const char *field;
        split_t split;
    } table[] = {
        {"name", R_NAMEPART, "name", SPLIT_NONE},
        {"full name", R_NAMEPART, "name", SPLIT_NONE},
        {"display name", R_NAMEPART, "name", SPLIT_NONE},
        {"given", R_NAMEPART, "given", SPLIT_NONE},
        {"given name", R_NAMEPART, "given", SPLIT_NONE},
        {"middle", R_NAMEPART, "middle", SPLIT_NONE},
        {"family", R_NAMEPART, "family", SPLIT_NONE},
        {"family name", R_NAMEPART, "family", SPLIT_NONE},
        {"surname", R_NAMEPART, "family", SPLIT_NONE},
        {"org", R_SINGLE, "org", SPLIT_NONE},
        {"organization", R_SINGLE, "org", SPLIT_NONE},
        {"organisation", R_SINGLE, "org", SPLIT_NONE},
        {"title", R_SINGLE, "title", SPLIT_NONE},
        {"job title", R_SINGLE, "title", SPLIT_NONE},
        {"note", R_SINGLE, "note", SPLIT_NONE},
        {"kind", R_KIND, "kind", SPLIT_NONE},
        {"email", R_LIST, "emails", SPLIT_SEMI},
        {"emails", R_LIST, "emails", SPLIT_SEMI},
        {"e-mail", R_LIST, "emails", SPLIT_SEMI},
        {"email address", R_LIST, "emails", SPLIT_SEMI},
        {"e-mail address", R_LIST, "emails", SPLIT_SEMI},
        {"phone", R_LIST, "phones", SPLIT_SEMI},
        {"phones", R_LIST, "phones", SPLIT_SEMI},
        {"address", R_LIST, "addresses", SPLIT_NONE},
        {"addresses", R_LIST, "addresses", SPLIT_NONE},
        {"url", R_LIST, "urls", SPLIT_NONE},
        {"urls", R_LIST, "urls", SPLIT_NONE},
        {"website", R_LIST, "urls", SPLIT_NONE},
        {"tags", R_LIST, "tags", SPLIT_SEMI},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (eq(table[i].header, h)) {
            return add_col(m, col, table[i].role, table[i].field, table[i].split);
        }
    }
    if (is_plain_name(h)) {
        return add_passthrough(m, col, h);
    }
    return KITH_OK;
}

/* Maps one header column (h: trimmed and lowercased). */
static int
classify(map_t *m, size_t col, const char *h)
{
    if (m->dialect == D_LINKEDIN) {
        return classify_linkedin(m, col, h);
    }
    /* Names every exporter agrees on. */
    if (eq(h, "first name")) {
        return add_col(m, col, R_NAMEPART, "given", SPLIT_NONE);
    }
    if (eq(h, "middle name")) {
        return add_col(m, col, R_NAMEPART, "middle", SPLIT_NONE);
    }
    if (eq(h, "last name")) {
        return add_col(m, col, R_NAMEPART, "family", SPLIT_NONE);
    }
    if (eq(h, "company")) {
        return add_col(m, col, R_SINGLE, "org", SPLIT_NONE);
    }
    if (eq(h, "department")) {
        return add_col(m, col, R_SINGLE, "department", SPLIT_NONE);
    }
    if (eq(h, "notes")) {
        return add_col(m, col, R_SINGLE, "note", SPLIT_NONE);
    }
    if (is_custom_name(h)) {
        return add_passthrough(m, col, h);
    }
    switch (m->dialect) {
    case D_GOOGLE:
        return classify_google(m, col, h);
    case D_OUTLOOK:
        return classify_outlook(m, col, h);
    default:
        return classify_kith(m, col, h);
    }
}

static int
slot_cmp(const void *a, const void *b)
{
    const slot_t *x = a, *y = b;
    if (x->rank != y->rank) {
        return x->rank < y->rank ? -1 : 1;
    }
    return x->order < y->order ? -1 : (x->order > y->order);
}

/* Finds the slot of a name part, or NULL. */
static const slot_t *
find_slot(const map_t *m, role_t role, const char *field)
{
    for (size_t i = 0; i < m->n_slots; i++) {
        if (m->slots[i].role == role && eq(m->slots[i].field, field)) {
            return &m->slots[i];
        }
    }
    return NULL;
}

static int
map_build(map_t *m, const kith_csv_row_t *hdr, int dialect)
{
    int rc = KITH_OK;

    memset(m, 0, sizeof(*m));
    m->dialect = dialect;
    m->n_cols = hdr->n_cells;
    m->slots = calloc(hdr->n_cells, sizeof(*m->slots));
    m->next = malloc(hdr->n_cells * sizeof(*m->next));
    if (m->slots == NULL || m->next == NULL) {
        rc = KITH_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < hdr->n_cells; i++) {
        m->next[i] = -1;
    }
    for (size_t i = 0; i < hdr->n_cells; i++) {
        span_t s = cell(hdr, (long) i);
        char h[HEADER_MAX];
        if (s.len == 0 || s.len >= sizeof(h)) {
            continue; /* no known header is this long */
        }
        for (size_t k = 0; k < s.len; k++) {
            h[k] = to_lower(s.p[k]);
        }
        h[s.len] = '\0';
        rc = classify(m, i, h);
        if (rc != KITH_OK) {
            goto out;
        }
    }
    /* Slots only ever point at columns, never at each other, so sorting is safe. */
    qsort(m->slots, m->n_slots, sizeof(*m->slots), slot_cmp);
    m->s_name = find_slot(m, R_NAMEPART, "name");
    m->s_given = find_slot(m, R_NAMEPART, "given");
    m->s_middle = find_slot(m, R_NAMEPART, "middle");
    m->s_family = find_slot(m, R_NAMEPART, "family");
    m->s_org = find_slot(m, R_SINGLE, "org");
    m->s_emails = find_slot(m, R_LIST, "emails");
    m->s_kind = find_slot(m, R_KIND, "kind");
    switch (dialect) {
    case D_GOOGLE:
        m->source = "google";
        break;
    case D_OUTLOOK:
        m->source = "outlook";
        break;
    case D_LINKEDIN:
        m->source = "linkedin";
        break;
    default:
        m->source = NULL;
    }
out:
    if (rc != KITH_OK) {
        map_close(m);
    }
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Rows                                                                                 */

/* The first non-empty trimmed cell of a slot's chain (empty if the slot is NULL). */
static span_t
slot_single(const map_t *m, const slot_t *s, const kith_csv_row_t *row)
{
    if (s == NULL) {
        return (span_t){"", 0};
    }
    for (long c = s->first; c >= 0; c = m->next[c]) {
        span_t v = cell(row, c);
        if (v.len > 0) {
            return v;
        }
    }
    return (span_t){"", 0};
}

/*
 * Iterates over the items of a cell: *rest is what remains (start: the whole cell).
 * Returns 1 with the next non-empty trimmed item in *item, 0 when none is left.
 */
static int
next_item(span_t *rest, split_t split, span_t *item)
{
    while (rest->len > 0) {
        size_t n = rest->len, skip = 0;
        if (split == SPLIT_SEMI) {
            const char *semi = memchr(rest->p, ';', rest->len);
            if (semi != NULL) {
                n = (size_t) (semi - rest->p);
                skip = 1;
            }
        } else if (split == SPLIT_GOOGLE) {
            for (size_t i = 0; rest->len - i >= 5; i++) {
                if (memcmp(rest->p + i, " ::: ", 5) == 0) {
                    n = i;
                    skip = 5;
                    break;
                }
            }
        }
        *item = trim(rest->p, n);
        rest->p += n + skip;
        rest->len -= n + skip;
        if (item->len > 0) {
            return 1;
        }
    }
    return 0;
}

/* The first item of a list slot, for a card that has nothing better for a name. */
static span_t
slot_first_item(const map_t *m, const slot_t *s, const kith_csv_row_t *row)
{
    span_t item = {"", 0};
    if (s == NULL) {
        return item;
    }
    for (long c = s->first; c >= 0; c = m->next[c]) {
        span_t rest = cell(row, c);
        if (next_item(&rest, s->split, &item)) {
            return item;
        }
    }
    return (span_t){"", 0};
}

static int
append_span(kith_buf_t *b, span_t s, const char *joiner)
{
    if (s.len == 0) {
        return KITH_OK;
    }
    int rc = KITH_OK;
    if (b->len > 0) {
        rc = kith_buf_puts(b, joiner);
    }
    return rc != KITH_OK ? rc : kith_buf_append(b, s.p, s.len);
}

static int
month_days(int month, int year)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) {
        return 29;
    }
    return days[month - 1];
}

/* LinkedIn's "15 Mar 2023" (day of one or two digits) to "2023-03-15". Returns 1 if
 * converted; 0 leaves out alone, for a value to be kept as it is. */
static int
linkedin_date(span_t s, char out[static 11])
{
    static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
    size_t i = 0;
    int day = 0, month = 0, year = 0;

    while (i < s.len && i < 2 && is_digit(s.p[i])) {
        day = day * 10 + (s.p[i] - '0');
        i++;
    }
    /* What must follow: " Mon YYYY", exactly 9 bytes. */
    if (i == 0 || s.len - i != 9 || s.p[i] != ' ' || s.p[i + 4] != ' ') {
        return 0;
    }
    for (int k = 0; k < 12; k++) {
        span_t mon = {s.p + i + 1, 3};
        if (span_is(mon, months[k])) {
            month = k + 1;
            break;
        }
    }
    for (size_t k = i + 5; k < s.len; k++) {
        if (!is_digit(s.p[k])) {
            return 0;
        }
        year = year * 10 + (s.p[k] - '0');
    }
    if (month == 0 || year < 1000 || day < 1 || day > month_days(month, year)) {
        return 0;
    }
    out[0] = (char) ('0' + year / 1000);
    out[1] = (char) ('0' + year / 100 % 10);
    out[2] = (char) ('0' + year / 10 % 10);
    out[3] = (char) ('0' + year % 10);
    out[4] = '-';
    out[5] = (char) ('0' + month / 10);
    out[6] = (char) ('0' + month % 10);
    out[7] = '-';
    out[8] = (char) ('0' + day / 10);
    out[9] = (char) ('0' + day % 10);
    out[10] = '\0';
    return 1;
}

static int
row_blank(const kith_csv_row_t *row)
{
    for (size_t i = 0; i < row->n_cells; i++) {
        if (cell(row, (long) i).len > 0) {
            return 0;
        }
    }
    return 1;
}

static int
add_span(kith_card_t *card, const char *field, span_t v)
{
    return v.len == 0 ? KITH_OK : kith_card_addn(card, field, v.p, v.len);
}

/* Adds the fields of one slot for one row. tmp is scratch space. */
static int
add_slot(const map_t *m, const slot_t *s, const kith_csv_row_t *row, kith_card_t *card,
         kith_buf_t *tmp)
{
    int rc = KITH_OK;
    span_t v, rest, item;
    char date[11];

    switch (s->role) {
    case R_NAMEPART:
    case R_KIND:
        break; /* handled by row_to_card() */
    case R_SINGLE:
        rc = add_span(card, s->field, slot_single(m, s, row));
        break;
    case R_DATE:
        v = slot_single(m, s, row);
        if (linkedin_date(v, date)) {
            v = (span_t){date, 10};
        }
        rc = add_span(card, s->field, v);
        break;
    case R_LIST:
        for (long c = s->first; c >= 0 && rc == KITH_OK; c = m->next[c]) {
            rest = cell(row, c);
            while (rc == KITH_OK && next_item(&rest, s->split, &item)) {
                if (s->drop_system && item.p[0] == '*') {
                    continue;
                }
                rc = add_span(card, s->field, item);
            }
        }
        break;
    case R_ADDR:
        v = slot_single(m, s, row);
        if (v.len > 0) {
            rest = v;
            while (rc == KITH_OK && next_item(&rest, s->split, &item)) {
                rc = add_span(card, s->field, item);
            }
            break;
        }
        tmp->len = 0;
        for (int p = 0; p < N_PARTS && rc == KITH_OK; p++) {
            rc = append_span(tmp, cell(row, s->parts[p]), ", ");
        }
        if (rc == KITH_OK && tmp->len > 0) {
            rc = kith_card_addn(card, s->field, (const char *) tmp->data, tmp->len);
        }
        break;
    }
    return rc;
}

static int
row_to_card(const map_t *m, const kith_csv_row_t *row, kith_cardset_t *set, kith_buf_t *tmp,
            char *errbuf, size_t errcap)
{
    int rc = KITH_OK;
    kith_card_t *card = NULL;
    kith_card_kind_t kind = KITH_CARD_PERSON;
    int linkedin = m->dialect == D_LINKEDIN;

    if (row_blank(row)) {
        return KITH_OK;
    }
    span_t given = slot_single(m, m->s_given, row);
    span_t middle = slot_single(m, m->s_middle, row);
    span_t family = slot_single(m, m->s_family, row);
    span_t name = slot_single(m, m->s_name, row);
    if (name.len == 0) {
        tmp->len = 0;
        if ((rc = append_span(tmp, given, " ")) != KITH_OK ||
            (rc = append_span(tmp, middle, " ")) != KITH_OK ||
            (rc = append_span(tmp, family, " ")) != KITH_OK) {
            return rc;
        }
        name = (span_t){(const char *) tmp->data, tmp->len};
    }
    if (name.len == 0 && !linkedin) {
        name = slot_single(m, m->s_org, row);
        if (name.len > 0) {
            kind = KITH_CARD_ORG;
        }
    }
    if (name.len == 0 && !linkedin) {
        name = slot_first_item(m, m->s_emails, row);
    }
    if (name.len == 0) {
        return fail(errbuf, errcap, KITH_EPARSE,
                    linkedin ? "line %u: no first or last name"
                             : "line %u: no name, given or family name, organisation or e-mail",
                    row->line);
    }
    span_t k = slot_single(m, m->s_kind, row);
    if (span_is(k, "org") || span_is(k, "organization") || span_is(k, "organisation")) {
        kind = KITH_CARD_ORG;
    } else if (span_is(k, "person")) {
        kind = KITH_CARD_PERSON;
    }

    rc = kith_cardset_add(set, &card);
    if (rc != KITH_OK) {
        goto out;
    }
    card->kind = kind;
    card->line = row->line;
    /* The name may live in tmp, which add_slot() reuses: add it first. */
    if ((rc = add_span(card, "name", name)) != KITH_OK ||
        (rc = add_span(card, "given", given)) != KITH_OK ||
        (rc = add_span(card, "family", family)) != KITH_OK) {
        goto out;
    }
    for (size_t i = 0; i < m->n_slots && rc == KITH_OK; i++) {
        rc = add_slot(m, &m->slots[i], row, card, tmp);
    }
    if (rc == KITH_OK && m->source != NULL) {
        rc = kith_card_add(card, "x-source", m->source);
    }
out:
    if (rc == KITH_ETOOBIG) {
        fail(errbuf, errcap, rc, "line %u: too many fields or contacts", row->line);
    }
    return rc;
}

/* Turns the rows after the header (csv->rows[0]) into cards. With skipped, a row that
 * cannot become a card is left out and reported. */
static int
rows_to_cards(const kith_csv_t *csv, int dialect, kith_cardset_t *out, kith_card_skip_fn skipped,
              void *ctx, char *errbuf, size_t errcap)
{
    int rc = KITH_OK;
    map_t m;
    kith_buf_t tmp;

    kith_buf_init(&tmp);
    rc = map_build(&m, &csv->rows[0], dialect);
    if (rc != KITH_OK) {
        goto out;
    }
    if (m.s_name == NULL && m.s_given == NULL && m.s_family == NULL && m.s_emails == NULL) {
        rc = fail(errbuf, errcap, KITH_EPARSE,
                  "line %u: no name column found (expected Name, First Name, Last Name or "
                  "E-mail)",
                  csv->rows[0].line);
        goto out;
    }
    for (size_t i = 1; i < csv->n_rows; i++) {
        size_t before = out->n_cards;
        char msg[256] = "";
        rc = row_to_card(&m, &csv->rows[i], out, &tmp, skipped ? msg : errbuf,
                         skipped ? sizeof(msg) : errcap);
        /* Forgiving: a row without a name, or with a card that grew past the field
         * limit (the card is then the last one of out), is left out. Running out of
         * room for cards is a hard limit. */
        if (skipped != NULL &&
            (rc == KITH_EPARSE || (rc == KITH_ETOOBIG && out->n_cards > before))) {
            if (out->n_cards > before) {
                kith_card_close(&out->cards[--out->n_cards]);
            }
            const char *why = rc == KITH_ETOOBIG ? "too many fields" : msg;
            const char *colon = strstr(why, ": ");
            if (rc == KITH_EPARSE && strncmp(why, "line ", 5) == 0 && colon != NULL) {
                why = colon + 2; /* the line goes in its own argument */
            }
            skipped(ctx, csv->rows[i].line, NULL, why);
            rc = KITH_OK;
            continue;
        }
        if (rc != KITH_OK) {
            if (skipped != NULL) {
                fail(errbuf, errcap, rc, "%s", msg);
            }
            goto out;
        }
    }
out:
    map_close(&m);
    kith_buf_close(&tmp);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Entry points                                                                         */

/* 1 if the line [p, end) lists "First Name" and "Last Name" among its comma-separated
 * (possibly quoted) names. */
static int
is_linkedin_header(const char *p, const char *end)
{
    int first = 0, last = 0;

    for (;;) {
        const char *comma = memchr(p, ',', (size_t) (end - p));
        const char *e = comma != NULL ? comma : end;
        span_t s = trim(p, (size_t) (e - p));
        if (s.len >= 2 && s.p[0] == '"' && s.p[s.len - 1] == '"') {
            s = trim(s.p + 1, s.len - 2);
        }
        first |= span_is(s, "first name");
        last |= span_is(s, "last name");
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    return first && last;
}

/* Finds LinkedIn's header line: its offset in data and its 1-based line number. */
static int
find_linkedin_header(const char *data, size_t len, size_t *off, unsigned *line)
{
    const char *p = data, *end = data + len;
    unsigned n = 1;

    while (p < end) {
        const char *e = p;
        while (e < end && *e != '\r' && *e != '\n') {
            e++;
        }
        if (is_linkedin_header(p, e)) {
            *off = (size_t) (p - data);
            *line = n;
            return 1;
        }
        if (e == end) {
            break;
        }
        if (*e == '\r' && end - e > 1 && e[1] == '\n') {
            e++;
        }
        p = e + 1;
        n++;
    }
    return 0;
}

int
kith_linkedin_parse(const char *data, size_t len, kith_cardset_t *out, char *errbuf, size_t errcap)
{
    return kith_linkedin_parse_ex(data, len, out, NULL, NULL, errbuf, errcap);
}

int
kith_contacts_csv_parse(const char *data, size_t len, kith_cardset_t *out, char *errbuf,
                        size_t errcap)
{
    return kith_contacts_csv_parse_ex(data, len, out, NULL, NULL, errbuf, errcap);
}

int
kith_linkedin_parse_ex(const char *data, size_t len, kith_cardset_t *out, kith_card_skip_fn skipped,
                       void *ctx, char *errbuf, size_t errcap)
{
    int rc = KITH_OK;
    kith_csv_t csv;
    size_t off = 0;
    unsigned line = 1;

    memset(&csv, 0, sizeof(csv));
    kith_cardset_init(out);
    if (errbuf != NULL && errcap > 0) {
        errbuf[0] = '\0';
    }
    if (data == NULL) {
        /* Let the CSV reader accept an empty input or refuse a bad argument. */
        rc = kith_csv_parse(data, len, &csv, errbuf, errcap);
        goto out;
    }
    if (len > KITH_CSV_MAX_INPUT ||
        (len >= 2 && (memcmp(data, "\xff\xfe", 2) == 0 || memcmp(data, "\xfe\xff", 2) == 0))) {
        /* Let the CSV reader word the refusal. */
        rc = kith_csv_parse(data, len, &csv, errbuf, errcap);
        goto out;
    }
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        data += 3;
        len -= 3;
    }
    if (!find_linkedin_header(data, len, &off, &line)) {
        rc = fail(errbuf, errcap, KITH_EPARSE,
                  "no LinkedIn header (First Name, Last Name, ...) found");
        goto out;
    }
    rc = kith__csv_parse_ex(data + off, len - off, ',', line, &csv, errbuf, errcap);
    if (rc != KITH_OK) {
        goto out;
    }
    rc = rows_to_cards(&csv, D_LINKEDIN, out, skipped, ctx, errbuf, errcap);

out:
    kith_csv_close(&csv);
    if (rc != KITH_OK) {
        if (rc == KITH_ENOMEM) {
            fail(errbuf, errcap, rc, "out of memory");
        }
        kith_cardset_close(out);
    }
    return rc;
}

/* 1 if the first line (after a BOM) is LinkedIn's "Notes:", which no header starts with. */
static int
starts_like_linkedin(const char *data, size_t len)
{
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        data += 3;
        len -= 3;
    }
    const char *e = data;
    while (e < data + len && *e != '\r' && *e != '\n') {
        e++;
    }
    return span_is(trim(data, (size_t) (e - data)), "notes:");
}

int
kith_contacts_csv_parse_ex(const char *data, size_t len, kith_cardset_t *out,
                           kith_card_skip_fn skipped, void *ctx, char *errbuf, size_t errcap)
{
    int rc = KITH_OK;
    kith_csv_t csv;

    if (data != NULL && starts_like_linkedin(data, len)) {
        return kith_linkedin_parse_ex(data, len, out, skipped, ctx, errbuf, errcap);
    }
    kith_cardset_init(out);
    rc = kith_csv_parse(data, len, &csv, errbuf, errcap);
    if (rc != KITH_OK) {
        goto out;
    }
    rc = rows_to_cards(&csv, detect_dialect(&csv.rows[0]), out, skipped, ctx, errbuf, errcap);

out:
    kith_csv_close(&csv);
    if (rc != KITH_OK) {
        if (rc == KITH_ENOMEM) {
            fail(errbuf, errcap, rc, "out of memory");
        }
        kith_cardset_close(out);
    }
    return rc;
}
