/*
 * libFuzzer target for the web UI's JSON API (src/node/webapi.c, with node/roster.c,
 * node/recview.c, node/edit.c, node/share.c and node/import.c behind it): arbitrary
 * requests answered by a real node, as net/web.c hands them over after its checks.
 *
 * Input: the first byte picks the method (a list of real and odd ones); then the path up
 * to the first LF, then the query (without '?') up to the next LF; the rest is the body.
 * A path of the form "/api/records/@..." has the '@' replaced with the id of a record the
 * node holds, so the record calls are reached. The node (a temporary home, removed at
 * exit) holds two records and a peer, and keeps what the writes make.
 * Checked: nothing crashes or leaks; every answer has a status between 200 and 599; a
 * JSON answer is valid JSON (an error one an object with "error"); an answer of 4xx or 5xx, or one
 * that does not say it changed something, leaves the store as it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "kith/error.h"
#include "kith/kith.h"
#include "node/edit.h"
#include "node/webapi.h"
#include "store/store.h"

static kith_node_t *node;
static kith_webapi_t *api;
static char home[64];
static char rec_hex[KITH_REC_ID_LEN * 2 + 1];

static void
check(int cond)
{
    if (!cond) {
        abort();
    }
}

static void
cleanup(void)
{
    kith_webapi_free(api);
    kith_node_close(node);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    if (system(cmd) != 0) {
        fprintf(stderr, "fuzz_webapi: could not remove %s\n", home);
    }
}

static void
setup(void)
{
    check(kith_init() == KITH_OK);
    snprintf(home, sizeof(home), "/tmp/kith-fuzz-webapi.XXXXXX");
    check(mkdtemp(home) != NULL);
    char dir[96], err[256];
    snprintf(dir, sizeof(dir), "%s/n", home);
    check(kith_node_create(dir, "fuzz", NULL, err, sizeof(err)) == KITH_OK);
    check(kith_node_open(dir, NULL, &node, err, sizeof(err)) == KITH_OK);
    const char *name[] = {"Ann Example"}, *mail[] = {"ann@example.org"}, *org[] = {"Acme"};
    kith_edit_t e[3] = {{"name", KITH_EDIT_SET, name, 1},
                        {"emails", KITH_EDIT_SET, mail, 1},
                        {"org", KITH_EDIT_SET, org, 1}};
    kith_edit_result_t res;
    check(kith_node_add_record(node, KITH_KIND_PERSON, e, 3, NULL, 0, 0, 1700000000000ULL, &res,
                               err, sizeof(err)) == KITH_OK);
    for (size_t i = 0; i < KITH_REC_ID_LEN; i++) {
        snprintf(rec_hex + i * 2, 3, "%02x", res.id[i]);
    }
    const char *oname[] = {"Acme"};
    kith_edit_t o[1] = {{"name", KITH_EDIT_SET, oname, 1}};
    check(kith_node_add_record(node, KITH_KIND_ORG, o, 1, NULL, 0, 0, 1700000000001ULL, &res, err,
                               sizeof(err)) == KITH_OK);
    check(kith_webapi_new(&api) == KITH_OK);
    atexit(cleanup);
}

static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (node == NULL) {
        setup();
    }
    if (size < 1) {
        return 0;
    }
    const char *p = (const char *) data + 1, *end = (const char *) data + size;
    const char *nl = memchr(p, '\n', (size_t) (end - p));
    const char *l_end = nl ? nl : end;
    /* The path, with "/api/records/@" turned into a real record's path. */
    size_t plen = (size_t) (l_end - p);
    char *path = malloc(plen + sizeof(rec_hex) + 1);
    check(path != NULL);
    memcpy(path, p, plen);
    path[plen] = '\0';
    if (strncmp(path, "/api/records/@", 14) == 0) {
        memmove(path + 13 + sizeof(rec_hex) - 1, path + 14, plen - 14 + 1);
        memcpy(path + 13, rec_hex, sizeof(rec_hex) - 1);
    }
    p = nl ? nl + 1 : end;
    nl = memchr(p, '\n', (size_t) (end - p));
    l_end = nl ? nl : end;
    char *query = strndup(p, (size_t) (l_end - p));
    check(query != NULL);
    p = nl ? nl + 1 : end;
    size_t body_len = (size_t) (end - p);
    uint8_t *body = malloc(body_len + 1);
    check(body != NULL);
    memcpy(body, p, body_len);

    kith_webapi_request_t r;
    memset(&r, 0, sizeof(r));
    r.method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
    r.path = path;
    r.query = query;
    r.body = body;
    r.body_len = body_len;
    r.status_json = (data[0] & 0x80) ? "{\"peers\":[{\"name\":\"fuzz\",\"online\":true}]}" : NULL;
    r.today_days = 20000;

    uint64_t before = 0, after = 0;
    check(kith_store_max_seq(node->store, &before) == KITH_OK);
    kith_webapi_answer_t ans;
    kith_webapi_answer_init(&ans);
    int rc = kith_webapi_call(api, node, &r, &ans);
    check(rc == KITH_OK || rc == KITH_ENOMEM);
    check(ans.status >= 200 && ans.status <= 599);
    check(ans.content_type != NULL);
    if (strcmp(ans.content_type, "application/json") == 0) {
        json_t *doc = json_loadb((const char *) ans.body.data, ans.body.len, 0, NULL);
        if (doc == NULL) {
            fprintf(stderr, "fuzz_webapi: %s %s?%s: %d not JSON: %.*s\n", r.method, path, query,
                    ans.status, (int) ans.body.len, (const char *) ans.body.data);
            abort();
        }
        if (ans.status >= 400) {
            check(json_is_object(doc) && json_is_string(json_object_get(doc, "error")));
        }
        json_decref(doc);
    }
    check(kith_store_max_seq(node->store, &after) == KITH_OK);
    if (ans.status >= 400 || !ans.changed) {
        if (after != before) {
            fprintf(stderr, "fuzz_webapi: %s %s?%s: %d, changed %d, wrote ops\n", r.method, path,
                    query, ans.status, ans.changed);
            abort();
        }
    }
    kith_webapi_answer_close(&ans);
    free(path);
    free(query);
    free(body);
    return 0;
}
