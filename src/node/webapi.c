/*
 * The web UI's JSON API; see webapi.h and proto/WEB.md.
 *
 * Each call parses what it was sent completely (query and body) before it touches the
 * store, and writes through the application layer's own functions, so a bad request
 * changes nothing and a good one obeys every rule the CLI does.
 */
#include "node/webapi.h"

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kith/error.h"
#include "model/schema.h"
#include "model/value.h"
#include "node/edit.h"
#include "node/import.h"
#include "node/recview.h"
#include "node/roster.h"
#include "node/share.h"
#include "store/store.h"
#include "util/hlc.h"
#include "util/json.h"
#include "util/nodeid.h"

#define JSON_MAX_BODY   (1u << 20) /* a JSON request body */
#define MAX_CHANGES     64         /* field changes in one edit */
#define MAX_ITEMS       KITH_VALUE_MAX_ITEMS
#define QUERY_VALUE_MAX 512 /* bytes of one decoded query value */
#define JSON_TYPE       "application/json"

struct kith_webapi {
    kith_roster_t *roster;
};

typedef enum {
    ACT_NONE, /* /api/records/ID */
    ACT_EDIT,
    ACT_DELETE,
    ACT_RESTORE,
    ACT_SHARE,
    ACT_UNSHARE,
    ACT_HISTORY,
} action_t;

static uint64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* ---- answers ------------------------------------------------------------------------ */

void
kith_webapi_answer_init(kith_webapi_answer_t *ans)
{
    memset(ans, 0, sizeof(*ans));
    kith_buf_init(&ans->body);
    ans->content_type = JSON_TYPE;
}

void
kith_webapi_answer_close(kith_webapi_answer_t *ans)
{
    kith_buf_close(&ans->body);
}

static int fail(kith_webapi_answer_t *ans, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error answer: {"error": sentence}. */
static int
fail(kith_webapi_answer_t *ans, int status, const char *fmt, ...)
{
    char sentence[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sentence, sizeof(sentence), fmt, ap);
    va_end(ap);
    ans->status = status;
    ans->body.len = 0;
    kith_json_t j;
    kith_json_init(&j, &ans->body, 0);
    kith_json_object_begin(&j);
    kith_json_key(&j, "error");
    kith_json_string(&j, sentence);
    kith_json_object_end(&j);
    return kith_json_finish(&j);
}

static int
ok_answer(kith_webapi_answer_t *ans)
{
    ans->status = 200;
    return kith_buf_puts(&ans->body, "{\"ok\":true}");
}

/* The HTTP status for an error of the application layer. */
static int
status_of(int rc)
{
    switch (rc) {
    case KITH_EAUTH:
        return 403;
    case KITH_ENOTFOUND:
        return 404;
    case KITH_EEXISTS:
    case KITH_ESTALE:
        return 409;
    case KITH_ETOOBIG:
        return 413;
    case KITH_EINVAL:
    case KITH_ERANGE:
        return 400;
    case KITH_ENOMEM:
        return 503;
    default:
        return 500;
    }
}

/* ---- paths and queries -------------------------------------------------------------- */

int
kith_webapi_handles(const char *path)
{
    return strcmp(path, "/api/records") == 0 || strncmp(path, "/api/records/", 13) == 0 ||
           strcmp(path, "/api/peers") == 0 || strcmp(path, "/api/import") == 0;
}

/* A record id: exactly 32 hex digits. */
static int
parse_hex_id(const char *text, size_t len, uint8_t id[KITH_REC_ID_LEN])
{
    size_t got = 0;
    return len == KITH_REC_ID_LEN * 2 &&
                   sodium_hex2bin(id, KITH_REC_ID_LEN, text, len, NULL, &got, NULL) == 0 &&
                   got == KITH_REC_ID_LEN
               ? KITH_OK
               : KITH_EINVAL;
}

/* "/api/records/ID[/ACTION]" into id and action. */
static int
parse_record_path(const char *path, uint8_t id[KITH_REC_ID_LEN], action_t *act)
{
    const char *p = path + 13;
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t) (slash - p) : strlen(p);
    if (parse_hex_id(p, len, id) != KITH_OK) {
        return KITH_EINVAL;
    }
    static const struct {
        const char *name;
        action_t act;
    } acts[] = {
        {"edit", ACT_EDIT},   {"delete", ACT_DELETE},   {"restore", ACT_RESTORE},
        {"share", ACT_SHARE}, {"unshare", ACT_UNSHARE}, {"history", ACT_HISTORY},
    };
    if (slash == NULL) {
        *act = ACT_NONE;
        return KITH_OK;
    }
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
        if (strcmp(slash + 1, acts[i].name) == 0) {
            *act = acts[i].act;
            return KITH_OK;
        }
    }
    return KITH_EINVAL;
}

static int
hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes one application/x-www-form-urlencoded text of len bytes into out (cap bytes,
 * NUL-terminated). KITH_EINVAL for a bad escape or a NUL byte, KITH_ETOOBIG if long. */
static int
url_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len) {
                return KITH_EINVAL;
            }
            int hi = hexval(s[i + 1]);
            int lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) {
                return KITH_EINVAL;
            }
            c = (char) (hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            return KITH_EINVAL;
        }
        if (o + 1 >= cap) {
            return KITH_ETOOBIG;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return KITH_OK;
}

/* The decoded value of key in query into out; 0 if absent, 1 if there, -1 if malformed
 * (ans says why). */
static int
query_get(const char *query, const char *key, char *out, size_t cap, kith_webapi_answer_t *ans)
{
    size_t kl = strlen(key);
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t) (amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t name_len = eq ? (size_t) (eq - p) : len;
        if (name_len == kl && memcmp(p, key, kl) == 0) {
            const char *v = eq ? eq + 1 : p + len;
            size_t vl = eq ? len - name_len - 1 : 0;
            int rc = url_decode(v, vl, out, cap);
            if (rc != KITH_OK) {
                fail(ans, 400, "the parameter '%s' is %s", key,
                     rc == KITH_ETOOBIG ? "too long" : "not well encoded");
                return -1;
            }
            return 1;
        }
        p = amp ? amp + 1 : p + len;
    }
    return 0;
}

/* A whole number in [lo, hi] from the query, or def; -1 if malformed. */
static int
query_int(const char *query, const char *key, long lo, long hi, long def, long *out,
          kith_webapi_answer_t *ans)
{
    char text[32];
    int got = query_get(query, key, text, sizeof(text), ans);
    if (got <= 0) {
        *out = def;
        return got;
    }
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < lo || v > hi) {
        fail(ans, 400, "the parameter '%s' must be a whole number from %ld to %ld", key, lo, hi);
        return -1;
    }
    *out = v;
    return 1;
}

/* ---- request bodies ----------------------------------------------------------------- */

/* The body as a JSON object, or NULL with ans set. Every member must be in allowed. */
static json_t *
body_object(const kith_webapi_request_t *r, const char *const *allowed, kith_webapi_answer_t *ans)
{
    if (r->body_len > JSON_MAX_BODY) {
        fail(ans, 413, "the request is too large (at most %u bytes)", JSON_MAX_BODY);
        return NULL;
    }
    json_error_t e;
    json_t *root = json_loadb(r->body_len ? (const char *) r->body : "{}",
                              r->body_len ? r->body_len : 2, JSON_REJECT_DUPLICATES, &e);
    if (root == NULL || !json_is_object(root)) {
        fail(ans, 400, "the request is not a JSON object%s%s", root ? "" : ": ",
             root ? "" : e.text);
        json_decref(root);
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        int known = 0;
        for (size_t i = 0; allowed[i] != NULL; i++) {
            known |= strcmp(key, allowed[i]) == 0;
        }
        if (!known) {
            fail(ans, 400, "unknown member '%.64s'", key);
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

/* Items of one change: strings, held by the JSON document; numbers are written out. */
typedef struct {
    char field[KITH_FIELD_NAME_MAX + 1];
    kith_edit_mode_t mode;
    const char **items;
    char **owned; /* numbers written out */
    size_t n_items;
} change_t;

typedef struct {
    change_t *c;
    size_t n;
    kith_edit_t *edits;
} changes_t;

static void
changes_close(changes_t *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        for (size_t k = 0; k < cs->c[i].n_items; k++) {
            free(cs->c[i].owned[k]);
        }
        free(cs->c[i].items);
        free(cs->c[i].owned);
    }
    free(cs->c);
    free(cs->edits);
    memset(cs, 0, sizeof(*cs));
}

/* One value from JSON: a string as it is, a whole number written out. NULL if neither. */
static const char *
value_text(json_t *v, char **owned)
{
    *owned = NULL;
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_integer(v)) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", (long long) json_integer_value(v));
        *owned = strdup(buf);
        return *owned;
    }
    return NULL;
}

/* Adds the change {field, mode, values} to cs, checking the field, the mode and every
 * value against the schema. Returns KITH_OK, or an error with ans set. */
static int
add_change(changes_t *cs, const char *field, kith_edit_mode_t mode, json_t *values,
           kith_webapi_answer_t *ans)
{
    if (strlen(field) > KITH_FIELD_NAME_MAX || kith_schema_check_name(field) != KITH_OK) {
        fail(ans, 400, "unknown field '%.64s' (custom fields start with x-)", field);
        return KITH_EINVAL;
    }
    int is_list = kith_schema_is_list(field);
    if ((mode == KITH_EDIT_ADD || mode == KITH_EDIT_REMOVE) && !is_list) {
        fail(ans, 400, "'%s' holds one value: add and remove are for lists", field);
        return KITH_EINVAL;
    }
    size_t n = values == NULL ? 0 : json_is_array(values) ? json_array_size(values) : 1;
    if (n > MAX_ITEMS) {
        fail(ans, 413, "'%s': too many items (at most %d)", field, MAX_ITEMS);
        return KITH_ETOOBIG;
    }
    int needs = mode == KITH_EDIT_SET || mode == KITH_EDIT_ADD || mode == KITH_EDIT_REMOVE ||
                mode == KITH_EDIT_PRIVATE;
    if (needs && n == 0) {
        fail(ans, 400, "'%s': a value is needed", field);
        return KITH_EINVAL;
    }
    if (mode == KITH_EDIT_UNSET && n > 0) {
        fail(ans, 400, "'%s': unset takes no value", field);
        return KITH_EINVAL;
    }
    if (mode == KITH_EDIT_PUBLISH && n > 0 && !is_list) {
        fail(ans, 400, "'%s' holds one value: publish it without values", field);
        return KITH_EINVAL;
    }
    if (!is_list && n > 1) {
        fail(ans, 400, "'%s' holds one value, not a list", field);
        return KITH_EINVAL;
    }
    for (size_t i = 0; i < cs->n; i++) {
        if (strcmp(cs->c[i].field, field) == 0) {
            fail(ans, 400, "'%s' is changed twice", field);
            return KITH_EEXISTS;
        }
    }
    change_t *grown = realloc(cs->c, (cs->n + 1) * sizeof(*grown));
    if (grown == NULL) {
        return KITH_ENOMEM;
    }
    cs->c = grown;
    change_t *c = &cs->c[cs->n];
    memset(c, 0, sizeof(*c));
    snprintf(c->field, sizeof(c->field), "%s", field);
    c->mode = mode;
    c->items = calloc(n ? n : 1, sizeof(*c->items));
    c->owned = calloc(n ? n : 1, sizeof(*c->owned));
    cs->n++;
    if (c->items == NULL || c->owned == NULL) {
        return KITH_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_is_array(values) ? json_array_get(values, i) : values;
        const char *text = value_text(v, &c->owned[i]);
        c->n_items = i + 1;
        if (text == NULL) {
            fail(ans, 400, "'%s': values are strings or whole numbers", field);
            return KITH_EINVAL;
        }
        kith_value_t parsed = {0};
        char err[256] = "";
        int rc = kith_schema_parse_item(field, text, &parsed, err, sizeof(err));
        kith_value_clear(&parsed);
        if (rc != KITH_OK) {
            fail(ans, 400, "%s", err[0] ? err : "a value is not valid");
            return rc;
        }
        c->items[i] = text;
    }
    return KITH_OK;
}

static int
changes_edits(changes_t *cs)
{
    cs->edits = calloc(cs->n ? cs->n : 1, sizeof(*cs->edits));
    if (cs->edits == NULL) {
        return KITH_ENOMEM;
    }
    for (size_t i = 0; i < cs->n; i++) {
        cs->edits[i] = (kith_edit_t){cs->c[i].field, cs->c[i].mode,
                                     (const char *const *) cs->c[i].items, cs->c[i].n_items};
    }
    return KITH_OK;
}

static int
parse_mode(const char *op, kith_edit_mode_t *mode)
{
    static const struct {
        const char *name;
        kith_edit_mode_t mode;
    } modes[] = {
        {"set", KITH_EDIT_SET},     {"add", KITH_EDIT_ADD},         {"remove", KITH_EDIT_REMOVE},
        {"unset", KITH_EDIT_UNSET}, {"private", KITH_EDIT_PRIVATE}, {"publish", KITH_EDIT_PUBLISH},
    };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(op, modes[i].name) == 0) {
            *mode = modes[i].mode;
            return KITH_OK;
        }
    }
    return KITH_EINVAL;
}

/* ---- calls -------------------------------------------------------------------------- */

static int
records_list(kith_webapi_t *a, kith_node_t *n, const kith_webapi_request_t *r,
             kith_webapi_answer_t *ans)
{
    char q[QUERY_VALUE_MAX], kind[16], tag[QUERY_VALUE_MAX], org[QUERY_VALUE_MAX],
        owner[QUERY_VALUE_MAX], shared[QUERY_VALUE_MAX];
    kith_roster_query_t rq;
    memset(&rq, 0, sizeof(rq));
    rq.kind = -1;
    rq.stale_days = -1;
    rq.today_days = r->today_days;
    int got;
    if ((got = query_get(r->query, "q", q, sizeof(q), ans)) < 0) {
        return KITH_OK;
    }
    rq.q = got ? q : NULL;
    if ((got = query_get(r->query, "kind", kind, sizeof(kind), ans)) < 0) {
        return KITH_OK;
    }
    if (got && kind[0] != '\0' && (rq.kind = kith_schema_kind_parse(kind)) < 0) {
        return fail(ans, 400, "kind is person or org");
    }
    if ((got = query_get(r->query, "tag", tag, sizeof(tag), ans)) < 0) {
        return KITH_OK;
    }
    rq.tag = got && tag[0] ? tag : NULL;
    if ((got = query_get(r->query, "org", org, sizeof(org), ans)) < 0) {
        return KITH_OK;
    }
    rq.org = got && org[0] ? org : NULL;
    if ((got = query_get(r->query, "owner", owner, sizeof(owner), ans)) < 0) {
        return KITH_OK;
    }
    rq.owner = got && owner[0] ? owner : NULL;
    if ((got = query_get(r->query, "shared", shared, sizeof(shared), ans)) < 0) {
        return KITH_OK;
    }
    rq.shared = got && shared[0] ? shared : NULL;
    long stale, deleted, offset, limit;
    if (query_int(r->query, "stale", 0, 100000, -1, &stale, ans) < 0 ||
        query_int(r->query, "deleted", 0, 1, 0, &deleted, ans) < 0 ||
        query_int(r->query, "offset", 0, 100000000, 0, &offset, ans) < 0 ||
        query_int(r->query, "limit", 1, 500, 50, &limit, ans) < 0) {
        return KITH_OK;
    }
    rq.stale_days = (int) stale;
    rq.deleted = (int) deleted;
    rq.offset = (size_t) offset;
    rq.limit = (size_t) limit;
    uint64_t t0 = mono_us();
    int rc = kith_roster_refresh(a->roster, n);
    if (rc != KITH_OK) {
        return fail(ans, 500, "cannot read the records: %s", kith_strerror(rc));
    }
    kith_json_t j;
    kith_json_init(&j, &ans->body, 0);
    kith_json_object_begin(&j);
    rc = kith_roster_query(a->roster, &rq, &j);
    if (rc == KITH_EINVAL) {
        return fail(ans, 400, "a filter is out of range or too long");
    }
    kith_json_key(&j, "took_us");
    kith_json_uint(&j, mono_us() - t0);
    kith_json_object_end(&j);
    if (rc == KITH_OK) {
        rc = kith_json_finish(&j);
    }
    if (rc != KITH_OK) {
        return fail(ans, status_of(rc), "cannot list the records: %s", kith_strerror(rc));
    }
    ans->status = 200;
    return KITH_OK;
}

static int
record_get(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], kith_webapi_answer_t *ans)
{
    kith_record_t rec;
    int rc = kith_store_record_get(n->store, id, &rec);
    if (rc != KITH_OK) {
        return fail(ans, rc == KITH_ENOTFOUND ? 404 : 500, "%s",
                    rc == KITH_ENOTFOUND ? "no such record" : kith_strerror(rc));
    }
    kith_json_t j;
    kith_json_init(&j, &ans->body, 0);
    kith_recview_record_json_web(n, &rec, &j);
    rc = kith_json_finish(&j);
    kith_record_close(&rec);
    if (rc != KITH_OK) {
        return fail(ans, 500, "cannot show the record: %s", kith_strerror(rc));
    }
    ans->status = 200;
    return KITH_OK;
}

static int
record_history(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], kith_webapi_answer_t *ans)
{
    kith_json_t j;
    kith_json_init(&j, &ans->body, 0);
    int rc = kith_recview_history_json(n, id, &j);
    if (rc == KITH_OK) {
        rc = kith_json_finish(&j);
    }
    if (rc != KITH_OK) {
        return fail(ans, status_of(rc), "cannot read the history: %s", kith_strerror(rc));
    }
    ans->status = 200;
    return KITH_OK;
}

/* Fills cs from a JSON object {FIELD: VALUE | [VALUES]} in mode. */
static int
changes_from_object(changes_t *cs, json_t *obj, kith_edit_mode_t mode, kith_webapi_answer_t *ans)
{
    if (obj == NULL) {
        return KITH_OK;
    }
    if (!json_is_object(obj)) {
        fail(ans, 400, "'set' and 'private' are objects of FIELD: VALUE");
        return KITH_EINVAL;
    }
    const char *field;
    json_t *v;
    json_object_foreach(obj, field, v)
    {
        int rc = add_change(cs, field, mode, v, ans);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    return KITH_OK;
}

static int
record_create(kith_node_t *n, const kith_webapi_request_t *r, kith_webapi_answer_t *ans)
{
    static const char *const allowed[] = {"kind", "name", "set", "private", NULL};
    json_t *root = body_object(r, allowed, ans);
    if (root == NULL) {
        return KITH_OK;
    }
    changes_t cs = {0};
    const char *kind_text = json_string_value(json_object_get(root, "kind"));
    int kind = kind_text ? kith_schema_kind_parse(kind_text) : -1;
    json_t *name = json_object_get(root, "name");
    int rc;
    if (kind < 0) {
        rc = fail(ans, 400, "'kind' is person or org");
    } else if (!json_is_string(name) || json_string_length(name) == 0) {
        rc = fail(ans, 400, "a record needs a 'name'");
    } else if ((rc = add_change(&cs, "name", KITH_EDIT_SET, name, ans)) == KITH_OK &&
               (rc = changes_from_object(&cs, json_object_get(root, "set"), KITH_EDIT_SET, ans)) ==
                   KITH_OK &&
               (rc = changes_from_object(&cs, json_object_get(root, "private"), KITH_EDIT_PRIVATE,
                                         ans)) == KITH_OK &&
               (rc = changes_edits(&cs)) == KITH_OK) {
        kith_edit_result_t res;
        char err[512] = "";
        rc = kith_node_add_record(n, kind, cs.edits, cs.n, NULL, 0, KITH_ROLE_EDITOR,
                                  kith_hlc_now_ms(), &res, err, sizeof(err));
        if (rc != KITH_OK) {
            rc = fail(ans, status_of(rc), "cannot add the record: %s",
                      err[0] ? err : kith_strerror(rc));
        } else {
            char hex[KITH_REC_ID_LEN * 2 + 1];
            sodium_bin2hex(hex, sizeof(hex), res.id, KITH_REC_ID_LEN);
            ans->status = 201;
            ans->changed = 1;
            rc = kith_buf_printf(&ans->body, "{\"id\":\"%s\"}", hex);
        }
    } else if (rc == KITH_ENOMEM) {
        rc = fail(ans, 503, "out of memory");
    } else {
        rc = KITH_OK; /* ans says what was wrong */
    }
    changes_close(&cs);
    json_decref(root);
    return rc;
}

static int
record_edit(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], const kith_webapi_request_t *r,
            kith_webapi_answer_t *ans)
{
    static const char *const allowed[] = {"changes", NULL};
    static const char *const change_members[] = {"op", "field", "value", "values", NULL};
    json_t *root = body_object(r, allowed, ans);
    if (root == NULL) {
        return KITH_OK;
    }
    json_t *list = json_object_get(root, "changes");
    changes_t cs = {0};
    int rc = KITH_OK;
    if (!json_is_array(list) || json_array_size(list) == 0) {
        rc = fail(ans, 400, "'changes' is a list of at least one change");
        goto out;
    }
    if (json_array_size(list) > MAX_CHANGES) {
        rc = fail(ans, 413, "too many changes at once (at most %d)", MAX_CHANGES);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *c = json_array_get(list, i);
        if (!json_is_object(c)) {
            rc = fail(ans, 400, "a change is an object {op, field, value}");
            goto out;
        }
        const char *key;
        json_t *v;
        json_object_foreach(c, key, v)
        {
            int known = 0;
            for (size_t k = 0; change_members[k] != NULL; k++) {
                known |= strcmp(key, change_members[k]) == 0;
            }
            if (!known) {
                rc = fail(ans, 400, "unknown member '%.64s' in a change", key);
                goto out;
            }
        }
        const char *op = json_string_value(json_object_get(c, "op"));
        const char *field = json_string_value(json_object_get(c, "field"));
        json_t *value = json_object_get(c, "value");
        json_t *values = json_object_get(c, "values");
        kith_edit_mode_t mode;
        if (op == NULL || parse_mode(op, &mode) != KITH_OK) {
            rc = fail(ans, 400, "'op' is set, add, remove, unset, private or publish");
            goto out;
        }
        if (field == NULL) {
            rc = fail(ans, 400, "a change needs a 'field'");
            goto out;
        }
        if (value != NULL && values != NULL) {
            rc = fail(ans, 400, "a change has 'value' or 'values', not both");
            goto out;
        }
        if (values != NULL && !json_is_array(values)) {
            rc = fail(ans, 400, "'values' is a list");
            goto out;
        }
        if (value != NULL && json_is_array(value)) {
            rc = fail(ans, 400, "'value' is one value; use 'values' for a list");
            goto out;
        }
        rc = add_change(&cs, field, mode, values ? values : value, ans);
        if (rc != KITH_OK) {
            rc = rc == KITH_ENOMEM ? fail(ans, 503, "out of memory") : KITH_OK;
            goto out;
        }
    }
    if ((rc = changes_edits(&cs)) != KITH_OK) {
        rc = fail(ans, 503, "out of memory");
        goto out;
    }
    kith_edit_result_t res;
    char err[512] = "";
    rc = kith_node_edit(n, id, cs.edits, cs.n, kith_hlc_now_ms(), &res, err, sizeof(err));
    if (rc != KITH_OK) {
        rc = fail(ans, status_of(rc), "%s", err[0] ? err : kith_strerror(rc));
        goto out;
    }
    kith_json_t j;
    kith_json_init(&j, &ans->body, 0);
    kith_json_object_begin(&j);
    kith_json_key(&j, "shared");
    kith_json_uint(&j, res.shared);
    kith_json_key(&j, "private");
    kith_json_uint(&j, res.private);
    kith_json_key(&j, "kept_private");
    kith_json_uint(&j, res.kept_private);
    kith_json_key(&j, "first_kept");
    res.kept_private ? kith_json_string(&j, res.first_kept) : kith_json_null(&j);
    kith_json_object_end(&j);
    rc = kith_json_finish(&j);
    ans->status = 200;
    ans->changed = res.shared + res.private > 0;
out:
    changes_close(&cs);
    json_decref(root);
    return rc;
}

static int
record_delete(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], int del,
              const kith_webapi_request_t *r, kith_webapi_answer_t *ans)
{
    static const char *const allowed[] = {NULL};
    json_t *root = body_object(r, allowed, ans);
    if (root == NULL) {
        return KITH_OK;
    }
    json_decref(root);
    int rc = kith_node_set_deleted(n, id, del, kith_hlc_now_ms());
    if (rc == KITH_EAUTH) {
        return fail(ans, 403, "only the record's owner can %s it", del ? "delete" : "restore");
    }
    if (rc != KITH_OK) {
        return fail(ans, status_of(rc), "cannot %s the record: %s", del ? "delete" : "restore",
                    kith_strerror(rc));
    }
    ans->changed = 1;
    return ok_answer(ans);
}

static int
record_share(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], int sharing,
             const kith_webapi_request_t *r, kith_webapi_answer_t *ans)
{
    static const char *const share_members[] = {"target", "role", NULL};
    static const char *const unshare_members[] = {"target", NULL};
    json_t *root = body_object(r, sharing ? share_members : unshare_members, ans);
    if (root == NULL) {
        return KITH_OK;
    }
    const char *target = json_string_value(json_object_get(root, "target"));
    json_t *role_v = json_object_get(root, "role");
    const char *role_text = role_v ? json_string_value(role_v) : "editor";
    int role = role_text == NULL                  ? -1
               : strcmp(role_text, "editor") == 0 ? KITH_ROLE_EDITOR
               : strcmp(role_text, "reader") == 0 ? KITH_ROLE_READER
                                                  : -1;
    kith_share_target_t t;
    int rc = KITH_OK;
    if (target == NULL || target[0] == '\0') {
        rc = fail(ans, 400, "'target' is a peer's name or @GROUP");
    } else if (role < 0) {
        rc = fail(ans, 400, "'role' is editor or reader");
    } else if ((rc = kith_node_share_target(n, target, &t)) != KITH_OK) {
        rc = fail(ans, rc == KITH_ENOTFOUND ? 404 : 400,
                  rc == KITH_ENOTFOUND ? "there is no peer called '%.64s'"
                                       : "'%.64s' is not a peer or a group",
                  target);
    } else if (sharing) {
        rc = kith_node_share(n, id, &t, 1, role, kith_hlc_now_ms());
        rc = rc == KITH_OK ? (ans->changed = 1, ok_answer(ans))
             : rc == KITH_EAUTH
                 ? fail(ans, 403, "only the record's owner can share it")
                 : fail(ans, status_of(rc), "cannot share the record: %s", kith_strerror(rc));
    } else {
        /* kith_node_unshare() leaves res unset when it fails before looking (no such
         * record, not ours), and the error sentence reads res.via. */
        kith_unshare_result_t res;
        memset(&res, 0, sizeof(res));
        rc = kith_node_unshare(n, id, &t, 1, kith_hlc_now_ms(), &res);
        if (rc == KITH_OK) {
            ans->changed = 1;
            ans->status = 200;
            kith_json_t j;
            kith_json_init(&j, &ans->body, 0);
            kith_json_object_begin(&j);
            kith_json_key(&j, "ok");
            kith_json_bool(&j, 1);
            kith_json_key(&j, "still_via");
            kith_json_string(&j, res.via);
            kith_json_object_end(&j);
            rc = kith_json_finish(&j);
        } else if (rc == KITH_ENOTFOUND) {
            rc = fail(ans, 404, "the record is not shared with %.64s by name%s%s", target,
                      res.via[0] ? "; it reaches them through " : "", res.via);
        } else {
            rc = rc == KITH_EAUTH
                     ? fail(ans, 403, "only the record's owner can unshare it")
                     : fail(ans, status_of(rc), "cannot unshare the record: %s", kith_strerror(rc));
        }
    }
    json_decref(root);
    return rc;
}

/* Peers from the store, with what the daemon knows of them now (online, last sync). */
static int
peers_list(kith_node_t *n, const kith_webapi_request_t *r, kith_webapi_answer_t *ans)
{
    kith_peer_t *peers = NULL;
    size_t np = 0;
    int rc = kith_store_peer_list(n->store, &peers, &np);
    if (rc != KITH_OK) {
        return fail(ans, 500, "cannot read the peers: %s", kith_strerror(rc));
    }
    json_t *status = r->status_json ? json_loads(r->status_json, 0, NULL) : NULL;
    json_t *live = json_object_get(status, "peers");
    char groups[64][KITH_PEER_NAME_MAX + 1];
    size_t n_groups = 0;
    kith_json_t j;
    kith_json_init(&j, &ans->body, 0);
    kith_json_object_begin(&j);
    kith_json_key(&j, "peers");
    kith_json_array_begin(&j);
    for (size_t i = 0; i < np; i++) {
        char nid[KITH_NODEID_BUFSIZE];
        kith_nodeid_encode(peers[i].key, nid);
        kith_json_object_begin(&j);
        kith_json_key(&j, "name");
        kith_json_string(&j, peers[i].name);
        kith_json_key(&j, "node_id");
        kith_json_string(&j, nid);
        kith_json_key(&j, "self");
        kith_json_bool(&j, peers[i].self);
        kith_json_key(&j, "groups");
        kith_json_array_begin(&j);
        const char *g = peers[i].groups;
        while (g != NULL && *g) {
            const char *comma = strchr(g, ',');
            size_t len = comma ? (size_t) (comma - g) : strlen(g);
            if (len > 0 && len <= KITH_PEER_NAME_MAX) {
                kith_json_stringn(&j, g, len);
                int seen = 0;
                for (size_t k = 0; k < n_groups; k++) {
                    seen |= strlen(groups[k]) == len && memcmp(groups[k], g, len) == 0;
                }
                if (!seen && n_groups < 64) {
                    memcpy(groups[n_groups], g, len);
                    groups[n_groups++][len] = '\0';
                }
            }
            g = comma ? comma + 1 : NULL;
        }
        kith_json_array_end(&j);
        json_t *now = NULL;
        for (size_t k = 0; k < json_array_size(live); k++) {
            const char *name = json_string_value(json_object_get(json_array_get(live, k), "name"));
            if (name != NULL && strcmp(name, peers[i].name) == 0) {
                now = json_array_get(live, k);
            }
        }
        kith_json_key(&j, "online");
        kith_json_bool(&j, json_is_true(json_object_get(now, "online")));
        const char *addr = json_string_value(json_object_get(now, "address"));
        const char *last = json_string_value(json_object_get(now, "last_sync"));
        kith_json_key(&j, "address");
        addr ? kith_json_string(&j, addr)
             : (peers[i].addr[0] ? kith_json_string(&j, peers[i].addr) : kith_json_null(&j));
        kith_json_key(&j, "last_sync");
        last ? kith_json_string(&j, last) : kith_json_null(&j);
        kith_json_object_end(&j);
    }
    kith_json_array_end(&j);
    kith_json_key(&j, "groups");
    kith_json_array_begin(&j);
    for (size_t k = 0; k < n_groups; k++) {
        kith_json_string(&j, groups[k]);
    }
    kith_json_array_end(&j);
    kith_json_object_end(&j);
    rc = kith_json_finish(&j);
    json_decref(status);
    kith_peers_free(peers, np);
    if (rc != KITH_OK) {
        return fail(ans, 500, "cannot list the peers: %s", kith_strerror(rc));
    }
    ans->status = 200;
    return KITH_OK;
}

static int
import_file(kith_node_t *n, const kith_webapi_request_t *r, kith_webapi_answer_t *ans)
{
    char format[16];
    int got = query_get(r->query, "format", format, sizeof(format), ans);
    if (got < 0) {
        return KITH_OK;
    }
    if (got == 0 || (strcmp(format, "vcard") != 0 && strcmp(format, "linkedin") != 0 &&
                     strcmp(format, "csv") != 0)) {
        return fail(ans, 400, "format is vcard, linkedin or csv");
    }
    if (r->body_len == 0) {
        return fail(ans, 400, "the file is empty");
    }
    kith_import_opts_t o;
    memset(&o, 0, sizeof(o));
    o.format = format;
    kith_import_result_t res;
    memset(&res, 0, sizeof(res));
    char err[512] = "";
    int rc = kith_node_import_contacts(n, (const char *) r->body, r->body_len, &o, &res, err,
                                       sizeof(err));
    /* A large import raised the page cache; the daemon's own is 32 MiB (net/daemon.c). */
    kith_store_set_cache_kib(n->store, 32 * 1024);
    if (rc != KITH_OK) {
        int status = rc == KITH_ENOMEM    ? 503
                     : rc == KITH_ETOOBIG ? 413
                     : rc == KITH_EDB     ? 500
                                          : 400;
        rc = fail(ans, status, "%s; nothing imported", err[0] ? err : kith_strerror(rc));
    } else {
        kith_json_t j;
        kith_json_init(&j, &ans->body, 0);
        kith_import_result_json(&res, &j);
        rc = kith_json_finish(&j);
        ans->status = 200;
        ans->changed = res.added + res.updated > 0;
    }
    kith_import_result_close(&res);
    return rc;
}

int
kith_webapi_add_paired(kith_node_t *n, const char *name, const uint8_t key[KITH_PK_LEN],
                       char local[static 65], char *sentence, size_t cap)
{
    local[0] = '\0';
    if (memcmp(key, n->id->pk, KITH_PK_LEN) == 0) {
        snprintf(sentence, cap, "that is this node itself");
        return KITH_EINVAL;
    }
    kith_peer_t existing;
    if (kith_store_peer_get_by_key(n->store, key, &existing) == KITH_OK) {
        snprintf(local, 65, "%s", existing.name);
        snprintf(sentence, cap, "%.64s is already your peer, named %s.", name, existing.name);
        kith_peer_close(&existing);
        return KITH_EEXISTS;
    }
    kith_node_peer_name_free(n, name, local);
    uint64_t now = kith_hlc_now_ms();
    kith_peer_t np = {local, {0}, "", "", 0, now, 0, ""};
    memcpy(np.key, key, KITH_PK_LEN);
    int rc = kith_store_begin(n->store);
    if (rc == KITH_OK) {
        rc = kith_node_peer_add(n, &np, now);
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
        snprintf(sentence, cap, "cannot add the peer: %s", kith_strerror(rc));
        local[0] = '\0';
        return rc;
    }
    snprintf(sentence, cap, "Added %s as a peer. Share records with them from a record's page.",
             local);
    return KITH_OK;
}

/* ---- the entry points --------------------------------------------------------------- */

int
kith_webapi_new(kith_webapi_t **out)
{
    *out = NULL;
    kith_webapi_t *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return KITH_ENOMEM;
    }
    int rc = kith_roster_new(&a->roster);
    if (rc != KITH_OK) {
        free(a);
        return rc;
    }
    *out = a;
    return KITH_OK;
}

void
kith_webapi_free(kith_webapi_t *a)
{
    if (a != NULL) {
        kith_roster_free(a->roster);
        free(a);
    }
}

int
kith_webapi_refresh(kith_webapi_t *a, kith_node_t *n, uint64_t *seq)
{
    int rc = kith_roster_refresh(a->roster, n);
    return rc == KITH_OK ? kith_store_max_seq(n->store, seq) : rc;
}

static int
dispatch(kith_webapi_t *a, kith_node_t *n, const kith_webapi_request_t *r,
         kith_webapi_answer_t *ans)
{
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    int post = strcmp(r->method, "POST") == 0;
    if (strcmp(r->path, "/api/records") == 0) {
        return get    ? records_list(a, n, r, ans)
               : post ? record_create(n, r, ans)
                      : fail(ans, 405, "GET or POST here");
    }
    if (strcmp(r->path, "/api/peers") == 0) {
        return get ? peers_list(n, r, ans) : fail(ans, 405, "GET here");
    }
    if (strcmp(r->path, "/api/import") == 0) {
        return post ? import_file(n, r, ans) : fail(ans, 405, "POST here");
    }
    uint8_t id[KITH_REC_ID_LEN];
    action_t act;
    if (strncmp(r->path, "/api/records/", 13) != 0 ||
        parse_record_path(r->path, id, &act) != KITH_OK) {
        return fail(ans, 404, "no such API call");
    }
    int want_get = act == ACT_NONE || act == ACT_HISTORY;
    if (want_get ? !get : !post) {
        return fail(ans, 405, want_get ? "GET here" : "POST here");
    }
    if (!post && r->body_len > 0) {
        return fail(ans, 400, "a GET has no body");
    }
    switch (act) {
    case ACT_NONE:
        return record_get(n, id, ans);
    case ACT_HISTORY:
        return record_history(n, id, ans);
    case ACT_EDIT:
        return record_edit(n, id, r, ans);
    case ACT_DELETE:
    case ACT_RESTORE:
        return record_delete(n, id, act == ACT_DELETE, r, ans);
    case ACT_SHARE:
    case ACT_UNSHARE:
        return record_share(n, id, act == ACT_SHARE, r, ans);
    }
    return fail(ans, 404, "no such API call");
}

int
kith_webapi_call(kith_webapi_t *a, kith_node_t *n, const kith_webapi_request_t *r,
                 kith_webapi_answer_t *ans)
{
    ans->status = 500;
    ans->content_type = JSON_TYPE;
    ans->changed = 0;
    ans->body.len = 0;
    if (strcmp(r->path, "/api/import") != 0 && r->body_len > JSON_MAX_BODY) {
        return fail(ans, 413, "the request is too large (at most %u bytes)", JSON_MAX_BODY);
    }
    int rc = dispatch(a, n, r, ans);
    if (rc != KITH_OK) {
        fail(ans, rc == KITH_ENOMEM ? 503 : 500, "%s", kith_strerror(rc));
    }
    return rc == KITH_ENOMEM ? rc : KITH_OK;
}
