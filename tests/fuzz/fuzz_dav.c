/*
 * libFuzzer target for the CardDAV server's request handling (src/net/dav.c with
 * node/cardbook.c and formats/davxml.c behind it): arbitrary requests answered by a real
 * node, as kith__dav_answer() answers them for the server.
 *
 * Input: the first byte picks the method (a list of real and odd ones) and whether the
 * request carries the right password, a wrong one or none; then the target up to the first
 * LF; then "name: value" header lines up to an empty line; the rest is the body. The node
 * (a temporary home, removed at exit) holds two records and keeps what PUTs make.
 * Checked: nothing crashes or leaks; every answer has a status between 200 and 599; a
 * request without the right password gets 401 (or 421 for a foreign Host) and changes
 * nothing stored.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "kith/error.h"
#include "kith/kith.h"
#include "net/dav.h"
#include "node/cardbook.h"
#include "node/edit.h"

static kith_node_t *node;
static char home[64];
static char auth_ok[128];

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
    kith_node_close(node);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    if (system(cmd) != 0) {
        fprintf(stderr, "fuzz_dav: could not remove %s\n", home);
    }
}

static void
setup(void)
{
    check(kith_init() == KITH_OK);
    snprintf(home, sizeof(home), "/tmp/kith-fuzz-dav.XXXXXX");
    check(mkdtemp(home) != NULL);
    char dir[96], err[256];
    snprintf(dir, sizeof(dir), "%s/n", home);
    check(kith_node_create(dir, "fuzz", NULL, err, sizeof(err)) == KITH_OK);
    check(kith_node_open(dir, NULL, &node, err, sizeof(err)) == KITH_OK);
    const char *name[] = {"Ann Example"}, *mail[] = {"ann@example.org"};
    kith_edit_t e[2] = {{"name", KITH_EDIT_SET, name, 1}, {"emails", KITH_EDIT_SET, mail, 1}};
    kith_edit_result_t res;
    check(kith_node_add_record(node, KITH_KIND_PERSON, e, 2, NULL, 0, 0, 1700000000000ULL, &res,
                               err, sizeof(err)) == KITH_OK);
    char password[KITH_CARDBOOK_PASSWORD_LEN + 1], cred[64];
    check(kith_cardbook_password(node, password) == KITH_OK);
    snprintf(cred, sizeof(cred), "kith:%s", password);
    char b64[96];
    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *) cred, strlen(cred),
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(auth_ok, sizeof(auth_ok), "Basic %s", b64);
    atexit(cleanup);
}

static const char *const methods[] = {"PROPFIND", "REPORT", "GET",       "PUT",   "DELETE",
                                      "OPTIONS",  "HEAD",   "PROPPATCH", "MKCOL", "POST"};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (node == NULL) {
        setup();
    }
    if (size < 1) {
        return 0;
    }
    kith_http_request_t r;
    memset(&r, 0, sizeof(r));
    snprintf(r.method, sizeof(r.method), "%s", methods[data[0] % 10]);
    int login = (data[0] / 10) % 3; /* 0: the password, 1: a wrong one, 2: none */
    const char *p = (const char *) data + 1, *end = (const char *) data + size;
    const char *nl = memchr(p, '\n', (size_t) (end - p));
    const char *t_end = nl ? nl : end;
    r.target = strndup(p, (size_t) (t_end - p));
    p = nl ? nl + 1 : end;
    kith_http_header_t headers[34];
    size_t n = 0;
    headers[n++] = (kith_http_header_t){"host", "127.0.0.1:5485"};
    if (login == 0) {
        headers[n++] = (kith_http_header_t){"authorization", auth_ok};
    } else if (login == 1) {
        headers[n++] = (kith_http_header_t){"authorization", "Basic a2l0aDp3cm9uZw=="};
    }
    char *lines[32];
    size_t n_lines = 0;
    while (p < end && n < 34 && n_lines < 32) {
        nl = memchr(p, '\n', (size_t) (end - p));
        const char *l_end = nl ? nl : end;
        if (l_end == p) {
            p = nl ? nl + 1 : end;
            break;
        }
        char *line = strndup(p, (size_t) (l_end - p));
        lines[n_lines++] = line;
        char *colon = line ? strchr(line, ':') : NULL;
        if (colon != NULL) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ') {
                v++;
            }
            for (char *c = line; *c; c++) {
                *c = (char) (*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
            }
            headers[n++] = (kith_http_header_t){line, v};
        }
        p = nl ? nl + 1 : end;
    }
    r.headers = headers;
    r.n_headers = n;
    r.body_len = (size_t) (end - p);
    r.body = malloc(r.body_len + 1);
    check(r.body != NULL && r.target != NULL);
    memcpy(r.body, p, r.body_len);
    r.body[r.body_len] = '\0';

    uint64_t before = 0, after = 0;
    check(kith_store_max_seq(node->store, &before) == KITH_OK);
    int status = 0;
    kith_buf_t body;
    kith_buf_init(&body);
    int rc = kith__dav_answer(node, &r, &status, &body);
    check(rc == KITH_OK || rc == KITH_ENOMEM);
    check(status >= 200 && status <= 599);
    check(kith_store_max_seq(node->store, &after) == KITH_OK);
    if (login != 0) {
        check(status == 401);
        check(after == before);
    }
    kith_buf_close(&body);
    for (size_t i = 0; i < n_lines; i++) {
        free(lines[i]);
    }
    free(r.target);
    free(r.body);
    return 0;
}
