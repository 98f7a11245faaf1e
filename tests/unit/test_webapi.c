/*
 * Tests for the web UI's JSON API (src/node/webapi.c) on real nodes, no HTTP: each call's
 * answer on good requests, and on hostile ones (bad JSON, NUL bytes, deep nesting, huge
 * arrays and strings, invalid UTF-8, bad percent escapes, odd paths and methods) the right
 * 4xx with an {"error"} sentence and nothing written. alice answers; bob (her peer, in
 * group "sales") holds a copy of one of her records to show what a non-owner may not do.
 * The tests run in order and share records through the globals below.
 */
#include "node_pair.h"

#include <jansson.h>
#include <stdlib.h>

#include "node/webapi.h"
#include "store/store.h"

static kith_webapi_t *api, *bob_api;
static char rec[KITH_REC_ID_LEN * 2 + 1];  /* alice's person record, hex */
static char rec2[KITH_REC_ID_LEN * 2 + 1]; /* another, deleted and restored */

typedef struct {
    int status;
    int changed;
    json_t *doc; /* the answer's JSON, or NULL if it was not JSON */
    char *body;  /* the answer as sent */
} answer_t;

static void
answer_free(answer_t *a)
{
    json_decref(a->doc);
    free(a->body);
    memset(a, 0, sizeof(*a));
}

/* One call on node n through api; body of body_len bytes. Every answer's JSON must parse. */
static answer_t
call_n(kith_webapi_t *ap, kith_node_t *n, const char *method, const char *path, const char *query,
       const void *body, size_t body_len)
{
    kith_webapi_request_t r;
    memset(&r, 0, sizeof(r));
    r.method = method;
    r.path = path;
    r.query = query ? query : "";
    r.body = body;
    r.body_len = body_len;
    r.today_days = 20000;
    r.status_json = "{\"peers\":[{\"name\":\"bob\",\"online\":true,\"address\":\"127.0.0.1:1\"}]}";
    kith_webapi_answer_t ans;
    kith_webapi_answer_init(&ans);
    ASSERT_OK(kith_webapi_call(ap, n, &r, &ans));
    answer_t a = {ans.status, ans.changed, NULL, NULL};
    a.body = strndup(ans.body.data ? (const char *) ans.body.data : "", ans.body.len);
    if (strcmp(ans.content_type, "application/json") == 0) {
        a.doc = json_loadb(a.body, ans.body.len, JSON_DECODE_ANY, NULL);
        if (a.doc == NULL) {
            print_error("%s %s?%s: not JSON: %s\n", method, path, r.query, a.body);
            fail();
        }
        if (a.status >= 400) {
            assert_true(json_is_string(json_object_get(a.doc, "error")));
            assert_true(strlen(json_string_value(json_object_get(a.doc, "error"))) > 0);
            assert_false(a.changed);
        }
    }
    kith_webapi_answer_close(&ans);
    return a;
}

static answer_t
call(const char *method, const char *path, const char *query, const char *body)
{
    return call_n(api, alice, method, path, query, body, body ? strlen(body) : 0);
}

/* What alice holds, to compare before and after a refused request: the newest op, and
 * the listings of live and deleted records and of one record (private layer included). */
static char *
snapshot(void)
{
    uint64_t seq = 0;
    ASSERT_OK(kith_store_max_seq(alice->store, &seq));
    char path[64];
    snprintf(path, sizeof(path), "/api/records/%s", rec);
    answer_t live = call("GET", "/api/records", "limit=500", NULL);
    answer_t dead = call("GET", "/api/records", "limit=500&deleted=1", NULL);
    answer_t one = call("GET", path, "", NULL);
    json_object_del(live.doc, "took_us");
    json_object_del(dead.doc, "took_us");
    char *a = json_dumps(live.doc, JSON_SORT_KEYS), *b = json_dumps(dead.doc, JSON_SORT_KEYS),
         *c = json_dumps(one.doc, JSON_SORT_KEYS);
    size_t len = strlen(a) + strlen(b) + strlen(c) + 64;
    char *s = malloc(len);
    assert_non_null(s);
    snprintf(s, len, "%llu|%s|%s|%s", (unsigned long long) seq, a, b, c);
    free(a);
    free(b);
    free(c);
    answer_free(&live);
    answer_free(&dead);
    answer_free(&one);
    return s;
}

/* A request that must be refused with status and change nothing. */
static void
refused_n(int status, const char *method, const char *path, const char *query, const void *body,
          size_t body_len)
{
    char *before = snapshot();
    answer_t a = call_n(api, alice, method, path, query, body, body_len);
    if (a.status != status) {
        print_error("%s %s?%s: %d, expected %d: %s\n", method, path, query ? query : "", a.status,
                    status, a.body);
        fail();
    }
    assert_non_null(a.doc);
    assert_false(a.changed);
    char *after = snapshot();
    ASSERT_STREQ(before, after);
    free(before);
    free(after);
    answer_free(&a);
}

static void
refused(int status, const char *method, const char *path, const char *query, const char *body)
{
    refused_n(status, method, path, query, body, body ? strlen(body) : 0);
}

static void
rpath(char *out, size_t cap, const char *id, const char *act)
{
    snprintf(out, cap, "/api/records/%s%s%s", id, act ? "/" : "", act ? act : "");
}

/* ---- happy paths -------------------------------------------------------------------- */

static void
create_and_get(void **state)
{
    (void) state;
    ASSERT_OK(kith_webapi_new(&api));
    ASSERT_OK(kith_webapi_new(&bob_api));
    answer_t a = call("POST", "/api/records", "",
                      "{\"kind\":\"person\",\"name\":\"Ann Example\",\"set\":{\"org\":\"Acme\","
                      "\"emails\":[\"ann@example.org\"],\"tags\":[\"vip\"],\"influence\":4},"
                      "\"private\":{\"note\":\"likes tea\"}}");
    if (a.status != 201) {
        print_error("create: %d %s\n", a.status, a.body);
    }
    ASSERT_EQ(a.status, 201);
    assert_true(a.changed);
    const char *id = json_string_value(json_object_get(a.doc, "id"));
    assert_non_null(id);
    ASSERT_EQ(strlen(id), 32);
    snprintf(rec, sizeof(rec), "%s", id);
    answer_free(&a);

    a = call("POST", "/api/records", "", "{\"kind\":\"org\",\"name\":\"Acme\"}");
    ASSERT_EQ(a.status, 201);
    snprintf(rec2, sizeof(rec2), "%s", json_string_value(json_object_get(a.doc, "id")));
    answer_free(&a);

    char path[96];
    rpath(path, sizeof(path), rec, NULL);
    a = call("GET", path, "", NULL);
    ASSERT_EQ(a.status, 200);
    assert_false(a.changed);
    assert_true(json_is_true(json_object_get(a.doc, "mine")));
    assert_true(json_is_true(json_object_get(a.doc, "can_edit")));
    assert_non_null(strstr(a.body, "likes tea"));
    assert_non_null(strstr(a.body, "ann@example.org"));
    answer_free(&a);
    /* Upper-case hex names the same record. */
    char upper[96];
    snprintf(upper, sizeof(upper), "%s", path);
    for (char *c = upper + 13; *c; c++) {
        *c = (char) (*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
    }
    a = call("GET", upper, "", NULL);
    ASSERT_EQ(a.status, 200);
    answer_free(&a);
    /* HEAD is a GET. */
    a = call("HEAD", path, "", NULL);
    ASSERT_EQ(a.status, 200);
    answer_free(&a);
}

static void
list_filters(void **state)
{
    (void) state;
    static const struct {
        const char *query;
        int total;
    } cases[] = {
        {"", 2},
        {"q=ann", 1},
        {"q=ANN%20example", 1},
        {"q=nobody", 0},
        {"kind=person", 1},
        {"kind=org", 1},
        {"tag=vip", 1},
        {"tag=VIP", 1},
        {"tag=none", 0},
        {"org=acme", 1},
        {"owner=me", 2},
        {"owner=bob", 0},
        {"shared=bob", 0},
        {"stale=30", 2},
        {"deleted=1", 0},
        {"deleted=0", 2},
        {"offset=1&limit=1", 2},
        {"limit=500", 2},
        {"q=", 2},
        {"unknown=1", 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        answer_t a = call("GET", "/api/records", cases[i].query, NULL);
        if (a.status != 200 ||
            json_integer_value(json_object_get(a.doc, "total")) != cases[i].total) {
            print_error("?%s: %d %s, expected total %d\n", cases[i].query, a.status, a.body,
                        cases[i].total);
            fail();
        }
        assert_false(a.changed);
        answer_free(&a);
    }
    answer_t a = call("GET", "/api/records", "offset=1&limit=1", NULL);
    ASSERT_EQ(json_array_size(json_object_get(a.doc, "items")), 1);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "offset")), 1);
    answer_free(&a);
    a = call("GET", "/api/records", "q=ann", NULL);
    json_t *item = json_array_get(json_object_get(a.doc, "items"), 0);
    ASSERT_STREQ(json_string_value(json_object_get(item, "id")), rec);
    assert_true(json_is_true(json_object_get(item, "has_private")));
    ASSERT_EQ(json_integer_value(json_object_get(item, "influence")), 4);
    answer_free(&a);
}

static void
edit_and_publish(void **state)
{
    (void) state;
    char path[96], get[96];
    rpath(path, sizeof(path), rec, "edit");
    rpath(get, sizeof(get), rec, NULL);
    answer_t a = call("POST", path, "",
                      "{\"changes\":[{\"op\":\"set\",\"field\":\"title\",\"value\":\"CEO\"},"
                      "{\"op\":\"add\",\"field\":\"tags\",\"values\":[\"a\",\"b\"]},"
                      "{\"op\":\"private\",\"field\":\"phones\",\"value\":\"+1 555 0100\"}]}");
    ASSERT_EQ(a.status, 200);
    assert_true(a.changed);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "shared")), 2);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "private")), 1);
    answer_free(&a);

    /* The private phone is in the private part only. */
    a = call("GET", get, "", NULL);
    json_t *priv = json_object_get(a.doc, "private");
    char *pd = json_dumps(priv, 0);
    assert_non_null(strstr(pd, "555"));
    free(pd);
    answer_free(&a);

    /* Sticky privacy: set keeps it private. */
    a = call("POST", path, "",
             "{\"changes\":[{\"op\":\"set\",\"field\":\"phones\",\"values\":[\"+1 555 0101\"]}]}");
    ASSERT_EQ(a.status, 200);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "kept_private")), 1);
    ASSERT_STREQ(json_string_value(json_object_get(a.doc, "first_kept")), "phones");
    answer_free(&a);

    a = call("POST", path, "", "{\"changes\":[{\"op\":\"publish\",\"field\":\"phones\"}]}");
    ASSERT_EQ(a.status, 200);
    assert_true(a.changed);
    answer_free(&a);
    a = call("GET", get, "", NULL);
    json_t *fields = json_object_get(a.doc, "fields");
    char *f = json_dumps(fields ? fields : a.doc, 0);
    assert_non_null(strstr(f, "555 0101"));
    free(f);
    answer_free(&a);

    /* remove and unset. */
    a = call("POST", path, "",
             "{\"changes\":[{\"op\":\"remove\",\"field\":\"tags\",\"value\":\"a\"},"
             "{\"op\":\"unset\",\"field\":\"title\"}]}");
    ASSERT_EQ(a.status, 200);
    assert_true(a.changed);
    answer_free(&a);

    /* A change to the value it already has: the edit layer still writes an op (as kith edit
     * does); `changed` must say exactly whether something was written. */
    char *before = snapshot();
    a = call("POST", path, "",
             "{\"changes\":[{\"op\":\"set\",\"field\":\"org\",\"value\":\"Acme\"}]}");
    ASSERT_EQ(a.status, 200);
    int same_changed = a.changed;
    answer_free(&a);
    char *after = snapshot();
    ASSERT_EQ(same_changed, strcmp(before, after) != 0);
    free(before);
    free(after);

    /* Whole numbers may be JSON numbers. */
    a = call("POST", path, "",
             "{\"changes\":[{\"op\":\"set\",\"field\":\"influence\",\"value\":2}]}");
    ASSERT_EQ(a.status, 200);
    assert_true(a.changed);
    answer_free(&a);
}

static void
history_share_delete(void **state)
{
    (void) state;
    char path[96];
    rpath(path, sizeof(path), rec, "history");
    answer_t a = call("GET", path, "", NULL);
    ASSERT_EQ(a.status, 200);
    assert_true(json_is_array(a.doc));
    assert_true(json_array_size(a.doc) >= 4);
    assert_false(a.changed);
    answer_free(&a);

    rpath(path, sizeof(path), rec, "share");
    a = call("POST", path, "", "{\"target\":\"bob\",\"role\":\"reader\"}");
    ASSERT_EQ(a.status, 200);
    assert_true(a.changed);
    answer_free(&a);
    a = call("POST", path, "", "{\"target\":\"@sales\"}");
    ASSERT_EQ(a.status, 200);
    answer_free(&a);
    a = call("GET", "/api/records", "shared=bob", NULL);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "total")), 1);
    answer_free(&a);
    a = call("GET", "/api/records", "shared=%40sales", NULL);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "total")), 1);
    answer_free(&a);

    rpath(path, sizeof(path), rec, "unshare");
    a = call("POST", path, "", "{\"target\":\"bob\"}");
    ASSERT_EQ(a.status, 200);
    assert_true(a.changed);
    ASSERT_STREQ(json_string_value(json_object_get(a.doc, "still_via")), "@sales");
    answer_free(&a);
    /* Not shared with bob by name any more. */
    refused(404, "POST", path, "", "{\"target\":\"bob\"}");
    refused(404, "POST", path, "", "{\"target\":\"carol\"}");

    rpath(path, sizeof(path), rec2, "delete");
    a = call("POST", path, "", "{}");
    ASSERT_EQ(a.status, 200);
    assert_true(a.changed);
    answer_free(&a);
    a = call("GET", "/api/records", "deleted=1", NULL);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "total")), 1);
    answer_free(&a);
    rpath(path, sizeof(path), rec2, "restore");
    a = call("POST", path, "", "");
    ASSERT_EQ(a.status, 200);
    answer_free(&a);
    a = call("GET", "/api/records", "deleted=1", NULL);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "total")), 0);
    answer_free(&a);

    /* bob holds a record of alice's but does not own it: he may not delete or share it. */
    a = call("POST", "/api/records", "", "{\"kind\":\"person\",\"name\":\"Shared Sam\"}");
    ASSERT_EQ(a.status, 201);
    char sam[KITH_REC_ID_LEN * 2 + 1];
    snprintf(sam, sizeof(sam), "%s", json_string_value(json_object_get(a.doc, "id")));
    answer_free(&a);
    rpath(path, sizeof(path), sam, "share");
    a = call("POST", path, "", "{\"target\":\"bob\"}");
    ASSERT_EQ(a.status, 200);
    answer_free(&a);
    uint8_t id[KITH_REC_ID_LEN];
    for (size_t i = 0; i < KITH_REC_ID_LEN; i++) {
        unsigned v;
        sscanf(sam + i * 2, "%2x", &v);
        id[i] = (uint8_t) v;
    }
    pair_deliver(alice, bob, id);
    uint64_t b0, b1;
    ASSERT_OK(kith_store_max_seq(bob->store, &b0));
    rpath(path, sizeof(path), sam, NULL);
    a = call_n(bob_api, bob, "GET", path, "", NULL, 0);
    ASSERT_EQ(a.status, 200);
    assert_false(json_is_true(json_object_get(a.doc, "mine")));
    answer_free(&a);
    rpath(path, sizeof(path), sam, "delete");
    a = call_n(bob_api, bob, "POST", path, "", "{}", 2);
    ASSERT_EQ(a.status, 403);
    answer_free(&a);
    rpath(path, sizeof(path), sam, "share");
    a = call_n(bob_api, bob, "POST", path, "", "{\"target\":\"bob\"}", 16);
    assert_true(a.status >= 400 && a.status < 500);
    answer_free(&a);
    ASSERT_OK(kith_store_max_seq(bob->store, &b1));
    ASSERT_EQ(b0, b1);
}

static void
peers_and_import(void **state)
{
    (void) state;
    answer_t a = call("GET", "/api/peers", "", NULL);
    ASSERT_EQ(a.status, 200);
    json_t *peers = json_object_get(a.doc, "peers");
    int saw_bob = 0;
    for (size_t i = 0; i < json_array_size(peers); i++) {
        json_t *p = json_array_get(peers, i);
        if (strcmp(json_string_value(json_object_get(p, "name")), "bob") == 0) {
            saw_bob = 1;
            assert_true(json_is_true(json_object_get(p, "online")));
        }
    }
    assert_true(saw_bob);
    ASSERT_STREQ(json_string_value(json_array_get(json_object_get(a.doc, "groups"), 0)), "sales");
    answer_free(&a);

    const char *card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cy Example\r\nEMAIL:cy@example.org\r\n"
                       "END:VCARD\r\n";
    a = call("POST", "/api/import", "format=vcard", card);
    ASSERT_EQ(a.status, 200);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "added")), 1);
    assert_true(a.changed);
    answer_free(&a);
    char *before = snapshot();
    a = call("POST", "/api/import", "format=vcard", card);
    ASSERT_EQ(a.status, 200);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "added")), 0);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "unchanged")), 1);
    assert_false(a.changed);
    answer_free(&a);
    char *after = snapshot();
    ASSERT_STREQ(before, after);
    free(before);
    free(after);
    a = call("POST", "/api/import", "format=csv", "name,email\nDee Example,dee@example.org\n");
    ASSERT_EQ(a.status, 200);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "added")), 1);
    answer_free(&a);
}

/* Fills the stack below this frame with 'A's, so that a read of memory a callee did not
 * set shows. */
static void __attribute__((noinline)) paint_stack(void)
{
    volatile char buf[32768];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = 'A';
    }
}

/* Regression: unsharing a record that does not exist read the unshare result, which
 * kith_node_unshare() leaves unset when it fails before looking, into the error sentence
 * (uninitialised stack bytes, up to the first NUL). */
static void
unshare_missing_record(void **state)
{
    (void) state;
    const char *path = "/api/records/0123456789abcdef0123456789abcdef/unshare";
    for (int i = 0; i < 3; i++) {
        char *before = snapshot();
        paint_stack();
        answer_t a = call("POST", path, "", "{\"target\":\"bob\"}");
        ASSERT_EQ(a.status, 404);
        const char *e = json_string_value(json_object_get(a.doc, "error"));
        assert_non_null(e);
        if (strchr(e, 'A') != NULL || strstr(e, "through") != NULL) {
            print_error("unshare of a missing record: %s\n", e);
            fail();
        }
        answer_free(&a);
        char *after = snapshot();
        ASSERT_STREQ(before, after);
        free(before);
        free(after);
    }
}

/* ---- hostile requests --------------------------------------------------------------- */

static void
bad_bodies(void **state)
{
    (void) state;
    char edit[96];
    rpath(edit, sizeof(edit), rec, "edit");
    static const char *const create_bad[] = {
        "not json",
        "[1,2]",
        "\"a string\"",
        "{",
        "{\"kind\":\"person\",\"name\":\"X\",\"colour\":\"red\"}",
        "{\"kind\":\"person\",\"name\":\"X\",\"name\":\"Y\"}",
        "{\"kind\":\"robot\",\"name\":\"X\"}",
        "{\"kind\":\"person\"}",
        "{\"kind\":\"person\",\"name\":\"\"}",
        "{\"kind\":\"person\",\"name\":7}",
        "{\"kind\":\"person\",\"name\":\"X\",\"set\":[\"a\"]}",
        "{\"kind\":\"person\",\"name\":\"X\",\"set\":{\"nosuchfield\":\"v\"}}",
        "{\"kind\":\"person\",\"name\":\"X\",\"set\":{\"influence\":9}}",
        "{\"kind\":\"person\",\"name\":\"X\",\"set\":{\"influence\":\"nine\"}}",
        "{\"kind\":\"person\",\"name\":\"X\",\"set\":{\"emails\":{\"a\":1}}}",
        "{\"kind\":\"person\",\"name\":\"X\",\"set\":{\"emails\":[true]}}",
        "{\"kind\":\"person\",\"name\":\"X\",\"set\":{\"title\":[\"a\",\"b\"]}}",
        "{\"kind\":\"person\",\"name\":\"X\",\"set\":{\"name\":\"Y\"}}",
        "{\"kind\":\"person\",\"name\":\"X\",\"set\":{\"emails\":1.5}}",
        "{\"kind\":\"person\",\"name\":\"X\",\"set\":{\"reports_to\":\"nothex\"}}",
        "{\"kind\":\"person\",\"name\":\"X\\u0000Y\"}",
    };
    for (size_t i = 0; i < sizeof(create_bad) / sizeof(create_bad[0]); i++) {
        refused(400, "POST", "/api/records", "", create_bad[i]);
    }
    static const char *const edit_bad[] = {
        "{}",
        "{\"changes\":[]}",
        "{\"changes\":{}}",
        "{\"changes\":\"set\"}",
        "{\"changes\":[1]}",
        "{\"changes\":[{\"op\":\"frobnicate\",\"field\":\"title\",\"value\":\"x\"}]}",
        "{\"changes\":[{\"field\":\"title\",\"value\":\"x\"}]}",
        "{\"changes\":[{\"op\":\"set\",\"value\":\"x\"}]}",
        "{\"changes\":[{\"op\":\"set\",\"field\":\"title\"}]}",
        "{\"changes\":[{\"op\":\"set\",\"field\":\"title\",\"value\":\"x\",\"extra\":1}]}",
        "{\"changes\":[{\"op\":\"set\",\"field\":\"title\",\"value\":\"x\",\"values\":[\"y\"]}]}",
        "{\"changes\":[{\"op\":\"set\",\"field\":\"tags\",\"value\":[\"x\"]}]}",
        "{\"changes\":[{\"op\":\"set\",\"field\":\"tags\",\"values\":\"x\"}]}",
        "{\"changes\":[{\"op\":\"add\",\"field\":\"title\",\"value\":\"x\"}]}",
        "{\"changes\":[{\"op\":\"unset\",\"field\":\"title\",\"value\":\"x\"}]}",
        "{\"changes\":[{\"op\":\"set\",\"field\":\"influence\",\"value\":9}]}",
        "{\"changes\":[{\"op\":\"set\",\"field\":\"influence\",\"value\":-1}]}",
        "{\"changes\":[{\"op\":\"set\",\"field\":\"attitude\",\"value\":3}]}",
        "{\"changes\":[{\"op\":\"set\",\"field\":\"title\",\"value\":\"x\"},"
        "{\"op\":\"set\",\"field\":\"title\",\"value\":\"y\"}]}",
        "{\"changes\":[{\"op\":\"set\",\"field\":\"title\",\"value\":\"x\"},"
        "{\"op\":\"set\",\"field\":\"nosuch\",\"value\":\"y\"}]}",
        "{\"changes\":[{\"op\":\"set\",\"field\":\"title\",\"value\":\"ok\"}],\"more\":1}",
        "{\"changes\":[{\"op\":\"set\",\"field\":\"title\",\"value\":null}]}",
        "{\"changes\":[{\"op\":1,\"field\":\"title\",\"value\":\"x\"}]}",
    };
    for (size_t i = 0; i < sizeof(edit_bad) / sizeof(edit_bad[0]); i++) {
        refused(400, "POST", edit, "", edit_bad[i]);
    }
    char share[96];
    rpath(share, sizeof(share), rec, "share");
    refused(400, "POST", share, "", "{\"target\":\"bob\",\"role\":\"owner\"}");
    refused(400, "POST", share, "", "{\"target\":\"\"}");
    refused(400, "POST", share, "", "{}");
    refused(400, "POST", share, "", "{\"target\":[\"bob\"]}");
    refused(400, "POST", share, "", "{\"target\":\"bob\",\"who\":1}");
    refused(404, "POST", share, "", "{\"target\":\"mallory\"}");
    char del[96];
    rpath(del, sizeof(del), rec, "delete");
    refused(400, "POST", del, "", "{\"really\":true}");
    refused(400, "POST", del, "", "[]");
}

static void
hostile_bytes(void **state)
{
    (void) state;
    char edit[96];
    rpath(edit, sizeof(edit), rec, "edit");
    /* A NUL byte inside the JSON text, and after a complete object. */
    static const char nul1[] = "{\"kind\":\"person\",\"na\0me\":\"X\"}";
    refused_n(400, "POST", "/api/records", "", nul1, sizeof(nul1) - 1);
    static const char nul2[] = "{\"kind\":\"person\",\"name\":\"X\"}\0{}";
    refused_n(400, "POST", "/api/records", "", nul2, sizeof(nul2) - 1);
    static const char nul3[] = "{\"kind\":\"person\",\"name\":\"X\0Y\"}";
    refused_n(400, "POST", "/api/records", "", nul3, sizeof(nul3) - 1);
    /* Invalid UTF-8 in a string and in a key. */
    refused(400, "POST", "/api/records", "", "{\"kind\":\"person\",\"name\":\"\xff\xfe\"}");
    refused(400, "POST", "/api/records", "", "{\"kind\":\"person\",\"name\":\"X\",\"\xc3\":1}");
    refused(400, "POST", "/api/records", "", "{\"kind\":\"person\",\"name\":\"\xed\xa0\x80\"}");
    /* An unknown member whose name is long and multi-byte: the sentence stays valid. */
    char longkey[400];
    snprintf(longkey, sizeof(longkey), "{\"kind\":\"person\",\"name\":\"X\",\"%s\":1}",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\xc3\xa9");
    refused(400, "POST", "/api/records", "", longkey);
    snprintf(longkey, sizeof(longkey),
             "{\"changes\":[{\"op\":\"set\",\"field\":\"%s\",\"value\":1}]}",
             "x-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\xc3\xa9");
    refused(400, "POST", edit, "", longkey);

    /* Deep nesting. */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 64);
    assert_non_null(deep);
    size_t o = (size_t) sprintf(deep, "{\"kind\":\"person\",\"name\":\"X\",\"set\":");
    for (size_t i = 0; i < depth; i++) {
        deep[o++] = '[';
    }
    for (size_t i = 0; i < depth; i++) {
        deep[o++] = ']';
    }
    deep[o++] = '}';
    refused_n(400, "POST", "/api/records", "", deep, o);
    free(deep);

    /* 10k-element arrays, of changes and of values. */
    size_t cap = 10000 * 64 + 128;
    char *big = malloc(cap);
    assert_non_null(big);
    o = (size_t) sprintf(big, "{\"changes\":[");
    for (size_t i = 0; i < 10000; i++) {
        o += (size_t) sprintf(big + o, "%s{\"op\":\"add\",\"field\":\"tags\",\"value\":\"t%zu\"}",
                              i ? "," : "", i);
    }
    o += (size_t) sprintf(big + o, "]}");
    refused_n(413, "POST", edit, "", big, o);
    o = (size_t) sprintf(big, "{\"changes\":[{\"op\":\"add\",\"field\":\"tags\",\"values\":[");
    for (size_t i = 0; i < 10000; i++) {
        o += (size_t) sprintf(big + o, "%s\"t%zu\"", i ? "," : "", i);
    }
    o += (size_t) sprintf(big + o, "]}]}");
    refused_n(413, "POST", edit, "", big, o);
    free(big);

    /* A huge string (under the body limit) and a body over it. */
    size_t hl = 1000000;
    char *huge = malloc(hl + 128);
    assert_non_null(huge);
    o = (size_t) sprintf(huge, "{\"changes\":[{\"op\":\"set\",\"field\":\"title\",\"value\":\"");
    memset(huge + o, 'x', hl - o - 8);
    o = hl - 8;
    o += (size_t) sprintf(huge + o, "\"}]}");
    answer_t a = call_n(api, alice, "POST", edit, "", huge, o);
    assert_true(a.status >= 400 && a.status < 500);
    answer_free(&a);
    free(huge);
    size_t bl = (2u << 20);
    char *body = malloc(bl);
    assert_non_null(body);
    memset(body, ' ', bl);
    body[0] = '{';
    body[bl - 1] = '}';
    refused_n(413, "POST", edit, "", body, bl);
    refused_n(413, "POST", "/api/records", "", body, bl);
    refused_n(413, "GET", "/api/records", "", body, bl);
    free(body);
}

static void
bad_queries(void **state)
{
    (void) state;
    static const char *const bad[] = {
        "q=%",
        "q=%4",
        "q=%zz",
        "q=%00",
        "q=a%0",
        "kind=%g1",
        "limit=0",
        "limit=501",
        "limit=-1",
        "limit=abc",
        "limit=1e3",
        "limit=",
        "offset=-1",
        "stale=x",
        "deleted=2",
        "kind=robot",
        "limit=%31%30%30%30",
        "limit=99999999999999999999",
        "tag=%ff%",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        refused(400, "GET", "/api/records", bad[i], NULL);
    }
    /* A value over the limit of one decoded value. */
    char *longq = malloc(4096);
    assert_non_null(longq);
    memcpy(longq, "q=", 2);
    memset(longq + 2, 'a', 4000);
    longq[4002] = '\0';
    refused(400, "GET", "/api/records", longq, NULL);
    free(longq);
    /* Invalid UTF-8 in a query value finds nothing, or is refused; it never fails badly. */
    static const char *const odd[] = {"q=%ff%fe",  "q=%c3",         "tag=%ed%a0%80", "org=%80",
                                      "owner=%fe", "shared=%c0%80", "q=\xff"};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        char *before = snapshot();
        answer_t a = call("GET", "/api/records", odd[i], NULL);
        assert_true(a.status == 200 || a.status == 400);
        if (a.status == 200) {
            ASSERT_EQ(json_integer_value(json_object_get(a.doc, "total")), 0);
        }
        answer_free(&a);
        char *after = snapshot();
        ASSERT_STREQ(before, after);
        free(before);
        free(after);
    }
    /* A repeated key: the first one counts, the request is answered. */
    answer_t a = call("GET", "/api/records", "kind=org&kind=person", NULL);
    ASSERT_EQ(a.status, 200);
    ASSERT_EQ(json_integer_value(json_object_get(a.doc, "total")), 1);
    answer_free(&a);
    a = call("GET", "/api/records", "limit=1&limit=0", NULL);
    assert_true(a.status == 200 || a.status == 400);
    answer_free(&a);
    /* The import's format. */
    refused(400, "POST", "/api/import", "", "x");
    refused(400, "POST", "/api/import", "format=pdf", "x");
    refused(400, "POST", "/api/import", "format=%", "x");
    refused(400, "POST", "/api/import", "format=vcard", "");
    refused(400, "POST", "/api/import", "format=vcard", "this is not a vcard\n");
}

static void
bad_paths_and_methods(void **state)
{
    (void) state;
    char p[160];
    const char *bad_ids[] = {
        "nothex",
        "0123456789abcdef0123456789abcde",   /* 31 */
        "0123456789abcdef0123456789abcdef0", /* 33 */
        "0123456789abcdef0123456789abcdeg",
        "",
        "..",
        "%30123456789abcdef0123456789abcde",
    };
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        snprintf(p, sizeof(p), "/api/records/%s", bad_ids[i]);
        refused(404, "GET", p, "", NULL);
        snprintf(p, sizeof(p), "/api/records/%s/edit", bad_ids[i]);
        refused(404, "POST", p, "",
                "{\"changes\":[{\"op\":\"set\",\"field\":\"title\",\"value\":\"x\"}]}");
    }
    /* A well-formed id that names nothing. */
    refused(404, "GET", "/api/records/0123456789abcdef0123456789abcdef", "", NULL);
    refused(404, "POST", "/api/records/0123456789abcdef0123456789abcdef/edit", "",
            "{\"changes\":[{\"op\":\"set\",\"field\":\"title\",\"value\":\"x\"}]}");
    refused(404, "POST", "/api/records/0123456789abcdef0123456789abcdef/delete", "", "{}");
    const char *suffixes[] = {"/nonsense", "/",       "//",        "/edit/", "/edit/x",
                              "/../edit",  "/./edit", "/history/", "/EDIT",  "//edit"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(p, sizeof(p), "/api/records/%s%s", rec, suffixes[i]);
        refused(404, "GET", p, "", NULL);
        refused(404, "POST", p, "", "{}");
    }
    snprintf(p, sizeof(p), "/api/records/../records/%s", rec);
    refused(404, "GET", p, "", NULL);
    refused(404, "GET", "/api/records//", "", NULL);

    /* Methods. */
    char get[96], edit[96], hist[96], share[96];
    rpath(get, sizeof(get), rec, NULL);
    rpath(edit, sizeof(edit), rec, "edit");
    rpath(hist, sizeof(hist), rec, "history");
    rpath(share, sizeof(share), rec, "share");
    const char *methods[] = {"PUT", "DELETE", "PATCH", "OPTIONS", "get", "TRACE", ""};
    const char *paths[] = {"/api/records", "/api/peers", "/api/import", get, edit, hist, share};
    for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            refused(405, methods[m], paths[i], "format=vcard", "{}");
        }
    }
    /* GET where POST is wanted and POST where GET is. */
    refused(405, "GET", edit, "", NULL);
    refused(405, "POST", get, "", "{}");
    refused(405, "POST", hist, "", "{}");
    refused(405, "POST", "/api/peers", "", "{}");
    refused(405, "GET", "/api/import", "format=vcard", NULL);
    /* A GET with a body. */
    refused(400, "GET", get, "", "{}");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_and_get),   cmocka_unit_test(list_filters),
        cmocka_unit_test(edit_and_publish), cmocka_unit_test(history_share_delete),
        cmocka_unit_test(peers_and_import), cmocka_unit_test(unshare_missing_record),
        cmocka_unit_test(bad_bodies),       cmocka_unit_test(hostile_bytes),
        cmocka_unit_test(bad_queries),      cmocka_unit_test(bad_paths_and_methods),
    };
    int rc = cmocka_run_group_tests(tests, node_pair_setup, node_pair_teardown);
    kith_webapi_free(api);
    kith_webapi_free(bob_api);
    return rc;
}
