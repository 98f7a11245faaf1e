/*
 * Tests for the HTTP server (src/net/httpd.c) and the CardDAV front on it (src/net/dav.c)
 * over real loopback TCP: a libuv loop runs kith_dav_start() on a thread of its own, with
 * store jobs run at once on the loop thread, and the test talks raw HTTP/1.1 to it from
 * blocking sockets: logins, the Host check, routes, PROPFIND, GET/PUT/DELETE with ETags,
 * sync-collection, refusals (bad XML, big bodies, unknown methods), many clients at once,
 * and a stop with a connection still open, after which no handle may be left on the loop.
 *
 * The tests run in order against one server; the last one stops it.
 */
#include "node_pair.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "net/dav.h"
#include "node/cardbook.h"
#include "node/edit.h"

static uv_loop_t loop;
static uv_async_t stopper;
static kith_dav_t *dav;
static pthread_t loop_thread;
static atomic_int loop_done, n_changed;
static int port;
static char auth[192]; /* "Authorization: Basic ...\r\n" with the right password */
static uint8_t seed_ids[3][KITH_REC_ID_LEN];
static uint8_t pia_id[KITH_REC_ID_LEN]; /* an e-mail shared, one private */

/* ---- the server side ---------------------------------------------------------------- */

/* Jobs run at once on the loop thread, or, when deferred, on libuv's thread pool after a
 * pause and one at a time, as the daemon runs them: time for a client to go away or for
 * the server to stop meanwhile. */
static atomic_int deferred;
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    uv_work_t w;
    kith_job_t *job;
} pool_job_t;

static void
pool_work(uv_work_t *w)
{
    pool_job_t *pj = w->data;
    usleep(300000);
    pthread_mutex_lock(&store_lock);
    pj->job->work(pj->job);
    pthread_mutex_unlock(&store_lock);
}

static void
pool_done(uv_work_t *w, int status)
{
    (void) status;
    pool_job_t *pj = w->data;
    pj->job->done(pj->job);
    free(pj);
}

static void
submit_now(void *host, kith_job_t *job)
{
    (void) host;
    if (atomic_load(&deferred)) {
        pool_job_t *pj = calloc(1, sizeof(*pj));
        assert_non_null(pj);
        pj->job = job;
        pj->w.data = pj;
        assert_int_equal(uv_queue_work(&loop, &pj->w, pool_work, pool_done), 0);
        return;
    }
    job->work(job);
    job->done(job);
}

static void
on_changed(void *host)
{
    (void) host;
    atomic_fetch_add(&n_changed, 1);
}

static uv_async_t reloader;
static atomic_int n_reloaded;

/* What the daemon does after `kith dav --reset`: read the password (store thread), use
 * it (loop thread); here both on the loop thread, as the jobs. */
static void
on_reload(uv_async_t *a)
{
    (void) a;
    kith_dav_reload_work(dav);
    kith_dav_reload_done(dav);
    atomic_fetch_add(&n_reloaded, 1);
}

static void
on_stop(uv_async_t *a)
{
    kith_dav_stop(dav);
    uv_close((uv_handle_t *) a, NULL);
    uv_close((uv_handle_t *) &reloader, NULL);
}

/* The loop thread never returns: h2o 2.2 keeps its free buffers and pool chunks in
 * thread-local lists, which a thread that exits loses (LeakSanitizer reports them). The
 * daemon runs its loop on the main thread, which lives until the process ends; so does
 * this thread, idle once the loop ended. */
static void *
run_loop(void *arg)
{
    (void) arg;
    uv_run(&loop, UV_RUN_DEFAULT);
    atomic_store(&loop_done, 1);
    for (;;) {
        pause();
    }
    return NULL;
}

/* The Authorization line for node n's password as it stands. */
static int
make_auth(kith_node_t *n, char out[192])
{
    char pw[KITH_CARDBOOK_PASSWORD_LEN + 1], login[64], b64[128];
    int rc = kith_cardbook_password(n, pw);
    if (rc != KITH_OK) {
        return rc;
    }
    snprintf(login, sizeof(login), "kith:%s", pw);
    sodium_bin2base64(b64, sizeof(b64), (const uint8_t *) login, strlen(login),
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, 192, "Authorization: Basic %s\r\n", b64);
    sodium_memzero(pw, sizeof(pw));
    sodium_memzero(login, sizeof(login));
    return KITH_OK;
}

static int
setup(void **state)
{
    if (node_pair_setup(state) != 0) {
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    static const char *const names[] = {"Ada One", "Bea Two", "Cy Three"};
    for (size_t i = 0; i < 3; i++) {
        kith_edit_t e = {"name", KITH_EDIT_SET, &names[i], 1};
        kith_edit_result_t res;
        char err[256];
        if (kith_node_add_record(alice, KITH_KIND_PERSON, &e, 1, NULL, 0, 0, ++now, &res, err,
                                 sizeof(err)) != KITH_OK) {
            return -1;
        }
        memcpy(seed_ids[i], res.id, KITH_REC_ID_LEN);
    }
    /* A record with an e-mail in each layer. */
    static const char *const pia[] = {"Priv Pia"}, *const shared_mail[] = {"pia@x.example"},
                             *const private_mail[] = {"pia@home.example"};
    kith_edit_t e[] = {{"name", KITH_EDIT_SET, pia, 1}, {"emails", KITH_EDIT_SET, shared_mail, 1}};
    kith_edit_t p = {"emails", KITH_EDIT_PRIVATE, private_mail, 1};
    kith_edit_result_t res;
    char err[256];
    if (kith_node_add_record(alice, KITH_KIND_PERSON, e, 2, NULL, 0, 0, ++now, &res, err,
                             sizeof(err)) != KITH_OK) {
        return -1;
    }
    memcpy(pia_id, res.id, KITH_REC_ID_LEN);
    if (kith_node_edit(alice, pia_id, &p, 1, ++now, &res, err, sizeof(err)) != KITH_OK) {
        return -1;
    }
    if (make_auth(alice, auth) != KITH_OK) {
        return -1;
    }
    if (uv_loop_init(&loop) != 0 || uv_async_init(&loop, &stopper, on_stop) != 0 ||
        uv_async_init(&loop, &reloader, on_reload) != 0) {
        return -1;
    }
    kith_dav_opts_t opts = {"127.0.0.1:0", alice, NULL, submit_now, on_changed, NULL};
    err[0] = '\0';
    if (kith_dav_start(&dav, &loop, &opts, err, sizeof(err)) != KITH_OK) {
        print_error("kith_dav_start: %s\n", err);
        return -1;
    }
    port = kith_dav_port(dav);
    if (port <= 0) {
        return -1;
    }
    return pthread_create(&loop_thread, NULL, run_loop, NULL) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
    /* The last test stopped the server; if it did not get that far, stop it here. */
    if (!atomic_load(&loop_done)) {
        uv_async_send(&stopper);
    }
    for (int i = 0; i < 1500 && !atomic_load(&loop_done); i++) {
        usleep(10000);
    }
    if (!atomic_load(&loop_done)) {
        print_error("the loop did not end within 15 s of the stop\n");
        return -1;
    }
    kith_dav_free(dav);
    int rc = uv_loop_close(&loop);
    return node_pair_teardown(state) == 0 && rc == 0 ? 0 : -1;
}

/* ---- the client side ---------------------------------------------------------------- */

typedef struct {
    int status; /* 0: no answer */
    char *head; /* status line and headers, NUL-terminated */
    char *body; /* NUL-terminated */
    size_t body_len;
} resp_t;

static void
resp_close(resp_t *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static int
dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t) port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *) &a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends all of p; errors are ignored (the server may close early, as on 413). */
static void
send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return;
        }
        p += n;
        len -= (size_t) n;
    }
}

/* The value of header name in head (first one, any case), copied to out; 0 if none. */
static int
header(const resp_t *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *line = r->head ? strstr(r->head, "\r\n") : NULL; line != NULL;
         line = strstr(line + 2, "\r\n")) {
        const char *p = line + 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ') {
                p++;
            }
            size_t len = strcspn(p, "\r\n");
            if (out != NULL) {
                snprintf(out, cap, "%.*s", (int) len, p);
            }
            return 1;
        }
    }
    return 0;
}

enum { BY_LENGTH, UNTIL_EOF, HEAD_ONLY };

/* Reads one answer: as Content-Length says, to the end, or only the head (HEAD). */
static void
read_resp(int fd, resp_t *r, int mode)
{
    int until_eof = mode == UNTIL_EOF;
    memset(r, 0, sizeof(*r));
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    char *end = NULL;
    size_t want = SIZE_MAX;
    for (;;) {
        if (end != NULL && !until_eof && len >= want) {
            break;
        }
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t) n;
        buf[len] = '\0';
        if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            size_t head_len = (size_t) (end - buf) + 4;
            r->head = strndup(buf, head_len);
            char cl[32];
            if (mode == HEAD_ONLY) {
                want = head_len;
            } else if (header(r, "content-length", cl, sizeof(cl))) {
                want = head_len + strtoull(cl, NULL, 10);
            }
        }
    }
    buf[len] = '\0';
    if (end != NULL) {
        size_t head_len = (size_t) (end - buf) + 4;
        r->body_len = len - head_len;
        r->body = strndup(buf + head_len, r->body_len);
        sscanf(buf, "HTTP/1.%*d %d", &r->status);
    }
    free(buf);
}

/* One request on a connection of its own; head is the whole head but the blank line. */
static void
raw(const char *head, const char *body, size_t body_len, resp_t *r)
{
    int fd = dial();
    assert_true(fd >= 0);
    send_all(fd, head, strlen(head));
    send_all(fd, "\r\n", 2);
    if (body_len > 0) {
        send_all(fd, body, body_len);
    }
    read_resp(fd, r, UNTIL_EOF);
    close(fd);
}

/* A request with the right login and Host; extra: more header lines ("Name: v\r\n"). */
static void
req(const char *method, const char *path, const char *extra, const char *body, resp_t *r)
{
    size_t len = body ? strlen(body) : 0;
    char head[4096];
    snprintf(head, sizeof(head),
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sConnection: close\r\n"
             "Content-Length: %zu\r\n%s",
             method, path, port, auth, len, extra ? extra : "");
    raw(head, body, len, r);
}

static size_t
count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s ? strstr(s, needle) : NULL; p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static void
show(const char *what, const resp_t *r)
{
    print_message("%s: %d\n%s%s\n", what, r->status, r->head ? r->head : "(no head)\n",
                  r->body ? r->body : "");
}

#define EXPECT_STATUS(r, code)                                                                     \
    do {                                                                                           \
        if ((r).status != (code)) {                                                                \
            show(#r, &(r));                                                                        \
        }                                                                                          \
        ASSERT_EQ((r).status, (code));                                                             \
    } while (0)

/* ---- tests -------------------------------------------------------------------------- */

static void
logins_and_hosts(void **state)
{
    (void) state;
    resp_t r;
    char head[512], v[256];
    int changed_before = atomic_load(&n_changed);

    snprintf(head, sizeof(head),
             "GET /dav/ HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "Connection: close\r\n",
             port);
    raw(head, NULL, 0, &r);
    EXPECT_STATUS(r, 401);
    assert_true(header(&r, "www-authenticate", v, sizeof(v)));
    assert_non_null(strstr(v, "Basic"));
    assert_non_null(strstr(v, "realm=\"kith\""));
    resp_close(&r);

    /* A wrong password, the right one for another user, one character short. */
    char pw[KITH_CARDBOOK_PASSWORD_LEN + 1], login[64], b64[128];
    ASSERT_OK(kith_cardbook_password(bob, pw));
    const char *logins[] = {"kith:wrongwrongwrongwrongwrong", NULL, NULL, "kith:", ":", ""};
    char bob_login[64], short_login[64];
    snprintf(bob_login, sizeof(bob_login), "kith:%s", pw);
    logins[1] = bob_login;
    ASSERT_OK(kith_cardbook_password(alice, pw));
    snprintf(short_login, sizeof(short_login), "kith:%.*s", KITH_CARDBOOK_PASSWORD_LEN - 1, pw);
    logins[2] = short_login;
    for (size_t i = 0; i < sizeof(logins) / sizeof(logins[0]); i++) {
        snprintf(login, sizeof(login), "%s", logins[i]);
        sodium_bin2base64(b64, sizeof(b64), (const uint8_t *) login, strlen(login),
                          sodium_base64_VARIANT_ORIGINAL);
        snprintf(head, sizeof(head),
                 "GET /dav/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\n"
                 "Connection: close\r\n",
                 b64);
        raw(head, NULL, 0, &r);
        EXPECT_STATUS(r, 401);
        assert_true(header(&r, "www-authenticate", NULL, 0));
        resp_close(&r);
    }
    /* Another user with the right password. */
    snprintf(login, sizeof(login), "root:%s", pw);
    sodium_bin2base64(b64, sizeof(b64), (const uint8_t *) login, strlen(login),
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(head, sizeof(head),
             "GET /dav/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\n"
             "Connection: close\r\n",
             b64);
    raw(head, NULL, 0, &r);
    EXPECT_STATUS(r, 401);
    resp_close(&r);
    /* Not base64, and another scheme. */
    snprintf(head, sizeof(head),
             "GET /dav/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic ***\r\n"
             "Connection: close\r\n");
    raw(head, NULL, 0, &r);
    EXPECT_STATUS(r, 401);
    resp_close(&r);
    snprintf(head, sizeof(head),
             "GET /dav/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
             "Connection: close\r\n",
             pw);
    raw(head, NULL, 0, &r);
    EXPECT_STATUS(r, 401);
    resp_close(&r);

    /* DNS rebinding: another site's name, even with the right login. */
    const char *hosts[] = {"evil.example", "localhost.evil.example", "127.0.0.1.evil.example",
                           "evil.example:80"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        snprintf(head, sizeof(head), "GET /dav/ HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n",
                 hosts[i], auth);
        raw(head, NULL, 0, &r);
        EXPECT_STATUS(r, 421);
        resp_close(&r);
    }
    /* The names that are fine. */
    const char *good[] = {"localhost", "LOCALHOST:5485", "127.0.0.1", "[::1]:1"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(head, sizeof(head),
                 "PROPFIND /dav/ HTTP/1.1\r\nHost: %s\r\n%sDepth: 0\r\nConnection: close\r\n",
                 good[i], auth);
        raw(head, NULL, 0, &r);
        EXPECT_STATUS(r, 207);
        resp_close(&r);
    }
    ASSERT_EQ(atomic_load(&n_changed), changed_before);
}

static void
discovery(void **state)
{
    (void) state;
    resp_t r;
    char v[256];
    req("GET", "/.well-known/carddav", NULL, NULL, &r);
    EXPECT_STATUS(r, 301);
    assert_true(header(&r, "location", v, sizeof(v)));
    ASSERT_STREQ(v, "/dav/");
    resp_close(&r);
    req("PROPFIND", "/.well-known/carddav/", NULL, NULL, &r);
    EXPECT_STATUS(r, 301);
    resp_close(&r);

    req("OPTIONS", "/dav/", NULL, NULL, &r);
    EXPECT_STATUS(r, 200);
    assert_true(header(&r, "dav", v, sizeof(v)));
    assert_non_null(strstr(v, "addressbook"));
    assert_true(header(&r, "allow", v, sizeof(v)));
    assert_non_null(strstr(v, "PROPFIND"));
    resp_close(&r);

    static const char home_set[] = "<?xml version=\"1.0\"?><d:propfind xmlns:d=\"DAV:\" "
                                   "xmlns:c=\"urn:ietf:params:xml:ns:carddav\"><d:prop>"
                                   "<c:addressbook-home-set/><d:current-user-principal/>"
                                   "</d:prop></d:propfind>";
    req("PROPFIND", "/dav/principal/", "Depth: 0\r\nContent-Type: application/xml\r\n", home_set,
        &r);
    EXPECT_STATUS(r, 207);
    assert_non_null(strstr(r.body, "addressbook-home-set"));
    assert_non_null(strstr(r.body, "<d:href>/dav/books/</d:href>"));
    ASSERT_EQ(count(r.body, "<d:response>"), 1);
    resp_close(&r);

    /* The home lists the books. */
    req("PROPFIND", "/dav/books/", "Depth: 1\r\n", NULL, &r);
    EXPECT_STATUS(r, 207);
    assert_non_null(strstr(r.body, "/dav/books/all/"));
    assert_non_null(strstr(r.body, "/dav/books/g-sales/"));
    resp_close(&r);

    /* Unknown paths, books and methods. */
    const char *missing[] = {"/nosuch",
                             "/dav/books/nosuch/",
                             "/dav/books/all/nosuch.vcf",
                             "/dav/books/all/a/b",
                             "/dav/books/all/%2F",
                             "/dav/books/all/%zz"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        req("GET", missing[i], NULL, NULL, &r);
        if (r.status != 404) {
            print_error("GET %s\n", missing[i]);
        }
        EXPECT_STATUS(r, 404);
        resp_close(&r);
    }
    req("MKCOL", "/dav/books/new/", NULL, NULL, &r);
    EXPECT_STATUS(r, 405);
    assert_true(header(&r, "allow", NULL, 0));
    resp_close(&r);
    req("DELETE", "/dav/books/all/", NULL, NULL, &r);
    EXPECT_STATUS(r, 405);
    resp_close(&r);
    req("PUT", "/dav/books/all/", NULL, "x", &r);
    EXPECT_STATUS(r, 405);
    resp_close(&r);
}

static void
listing(void **state)
{
    (void) state;
    resp_t r;
    static const char etags[] = "<?xml version=\"1.0\"?><propfind xmlns=\"DAV:\"><prop>"
                                "<getetag/><resourcetype/></prop></propfind>";
    req("PROPFIND", "/dav/books/all/", "Depth: 1\r\n", etags, &r);
    EXPECT_STATUS(r, 207);
    /* The book and its four cards. */
    ASSERT_EQ(count(r.body, "<d:response>"), 5);
    ASSERT_EQ(count(r.body, "<d:getetag>"), 4);
    for (size_t i = 0; i < 3; i++) {
        char href[128];
        snprintf(href, sizeof(href), "<d:href>/dav/books/all/");
        sodium_bin2hex(href + strlen(href), 2 * KITH_REC_ID_LEN + 1, seed_ids[i], KITH_REC_ID_LEN);
        strcat(href, ".vcf</d:href>");
        assert_non_null(strstr(r.body, href));
    }
    resp_close(&r);
    /* Depth 0: the book alone. */
    req("PROPFIND", "/dav/books/all/", "Depth: 0\r\n", etags, &r);
    EXPECT_STATUS(r, 207);
    ASSERT_EQ(count(r.body, "<d:response>"), 1);
    resp_close(&r);
    /* The group book holds none of them (none is shared). */
    req("PROPFIND", "/dav/books/g-sales/", "Depth: 1\r\n", etags, &r);
    EXPECT_STATUS(r, 207);
    ASSERT_EQ(count(r.body, "<d:getetag>"), 0);
    resp_close(&r);

    /* Malformed XML, a DTD, a wrong root. */
    const char *bad[] = {"<propfind xmlns=\"DAV:\"><prop>", "<<<",
                         "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]>"
                         "<propfind xmlns=\"DAV:\"><allprop/></propfind>",
                         "<propfind xmlns=\"urn:not-dav\"><allprop/></propfind>"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req("PROPFIND", "/dav/books/all/", "Depth: 1\r\n", bad[i], &r);
        EXPECT_STATUS(r, 400);
        resp_close(&r);
    }
}

static const char card[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:http-1\r\nFN:Hugo Http\r\n"
                           "EMAIL:hugo@x.example\r\nEND:VCARD\r\n";

static void
cards(void **state)
{
    (void) state;
    resp_t r;
    char etag[64], etag2[64], extra[256];
    int changed_before = atomic_load(&n_changed);
    req("PUT", "/dav/books/all/hugo.vcf", "Content-Type: text/vcard\r\nIf-None-Match: *\r\n", card,
        &r);
    EXPECT_STATUS(r, 201);
    resp_close(&r);
    ASSERT_EQ(atomic_load(&n_changed), changed_before + 1);

    req("GET", "/dav/books/all/hugo.vcf", NULL, NULL, &r);
    EXPECT_STATUS(r, 200);
    char ct[128];
    assert_true(header(&r, "content-type", ct, sizeof(ct)));
    assert_non_null(strstr(ct, "text/vcard"));
    assert_true(header(&r, "etag", etag, sizeof(etag)));
    ASSERT_EQ(etag[0], '"');
    assert_non_null(strstr(r.body, "FN:Hugo Http"));
    assert_non_null(strstr(r.body, "UID:http-1"));
    resp_close(&r);

    /* Again with If-None-Match: the card exists. */
    req("PUT", "/dav/books/all/hugo.vcf", "Content-Type: text/vcard\r\nIf-None-Match: *\r\n", card,
        &r);
    EXPECT_STATUS(r, 412);
    resp_close(&r);

    /* A stale If-Match: 412 and the card unchanged. */
    static const char card2[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:http-1\r\nFN:Hugo Http\r\n"
                                "EMAIL:hugo@x.example\r\nTITLE:Changed\r\nEND:VCARD\r\n";
    const char *stale[] = {"\"1\"", "W/\"1\"", "\"abc\"", "\"1\", \"2\""};
    for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
        snprintf(extra, sizeof(extra), "Content-Type: text/vcard\r\nIf-Match: %s\r\n", stale[i]);
        req("PUT", "/dav/books/all/hugo.vcf", extra, card2, &r);
        EXPECT_STATUS(r, 412);
        resp_close(&r);
    }
    req("GET", "/dav/books/all/hugo.vcf", NULL, NULL, &r);
    EXPECT_STATUS(r, 200);
    assert_true(header(&r, "etag", etag2, sizeof(etag2)));
    ASSERT_STREQ(etag, etag2);
    assert_null(strstr(r.body, "Changed"));
    resp_close(&r);

    /* The right If-Match: 204, a new ETag. */
    snprintf(extra, sizeof(extra), "Content-Type: text/vcard; charset=utf-8\r\nIf-Match: %s\r\n",
             etag);
    req("PUT", "/dav/books/all/hugo.vcf", extra, card2, &r);
    EXPECT_STATUS(r, 204);
    resp_close(&r);
    req("GET", "/dav/books/all/hugo.vcf", NULL, NULL, &r);
    EXPECT_STATUS(r, 200);
    assert_true(header(&r, "etag", etag2, sizeof(etag2)));
    assert_true(strcmp(etag, etag2) != 0);
    assert_non_null(strstr(r.body, "TITLE:Changed"));
    resp_close(&r);

    /* Refusals. */
    req("PUT", "/dav/books/all/x.vcf", "Content-Type: application/json\r\n", "{}", &r);
    EXPECT_STATUS(r, 415);
    resp_close(&r);
    req("PUT", "/dav/books/all/bad.vcf", "Content-Type: text/vcard\r\n",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bad\r\nEMAIL:nope\r\nEND:VCARD\r\n", &r);
    EXPECT_STATUS(r, 403);
    assert_non_null(strstr(r.body, "valid-address-data"));
    resp_close(&r);
    req("PUT", "/dav/books/g-sales/new.vcf", "Content-Type: text/vcard\r\n", card, &r);
    EXPECT_STATUS(r, 403);
    resp_close(&r);
    req("PUT", "/dav/books/all/..", "Content-Type: text/vcard\r\n", card, &r);
    assert_true(r.status == 400 || r.status == 404);
    resp_close(&r);
    req("PUT", "/dav/books/nosuch/x.vcf", "Content-Type: text/vcard\r\n", card, &r);
    EXPECT_STATUS(r, 404);
    resp_close(&r);

    /* DELETE with a stale If-Match, then for real. */
    req("DELETE", "/dav/books/all/hugo.vcf", "If-Match: \"1\"\r\n", NULL, &r);
    EXPECT_STATUS(r, 412);
    resp_close(&r);
    snprintf(extra, sizeof(extra), "If-Match: %s\r\n", etag2);
    changed_before = atomic_load(&n_changed);
    req("DELETE", "/dav/books/all/hugo.vcf", extra, NULL, &r);
    EXPECT_STATUS(r, 204);
    resp_close(&r);
    ASSERT_EQ(atomic_load(&n_changed), changed_before + 1);
    req("GET", "/dav/books/all/hugo.vcf", NULL, NULL, &r);
    EXPECT_STATUS(r, 404);
    resp_close(&r);
    req("DELETE", "/dav/books/all/hugo.vcf", NULL, NULL, &r);
    EXPECT_STATUS(r, 404);
    resp_close(&r);

    /* GET of a book: every card. */
    req("GET", "/dav/books/all/", NULL, NULL, &r);
    EXPECT_STATUS(r, 200);
    ASSERT_EQ(count(r.body, "BEGIN:VCARD"), 4);
    resp_close(&r);
}

static void
big_body(void **state)
{
    (void) state;
    size_t len = 2u << 20;
    char *body = malloc(len);
    assert_non_null(body);
    memset(body, 'x', len);
    char head[512];
    snprintf(head, sizeof(head),
             "PUT /dav/books/all/big.vcf HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
             "Content-Type: text/vcard\r\nContent-Length: %zu\r\nConnection: close\r\n",
             auth, len);
    resp_t r;
    raw(head, body, len, &r);
    EXPECT_STATUS(r, 413);
    resp_close(&r);
    /* And as a PROPFIND body. */
    snprintf(head, sizeof(head),
             "PROPFIND /dav/books/all/ HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
             "Content-Length: %zu\r\nConnection: close\r\n",
             auth, len);
    raw(head, body, len, &r);
    EXPECT_STATUS(r, 413);
    resp_close(&r);
    free(body);
    /* The server is still there. */
    req("PROPFIND", "/dav/", "Depth: 0\r\n", NULL, &r);
    EXPECT_STATUS(r, 207);
    resp_close(&r);
}

/* The sync-token element of a multistatus, copied to out. */
static void
sync_token(const resp_t *r, char *out, size_t cap)
{
    const char *p = r->body ? strstr(r->body, "<d:sync-token>") : NULL;
    assert_non_null(p);
    p += strlen("<d:sync-token>");
    const char *e = strstr(p, "</d:sync-token>");
    assert_non_null(e);
    snprintf(out, cap, "%.*s", (int) (e - p), p);
}

static void
sync_collection(void **state)
{
    (void) state;
    resp_t r;
    char body[1024], token[256], token2[256];
    static const char fmt[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
                              "<d:sync-collection xmlns:d=\"DAV:\">"
                              "<d:sync-token>%s</d:sync-token><d:sync-level>1</d:sync-level>"
                              "<d:prop><d:getetag/></d:prop></d:sync-collection>";
    snprintf(body, sizeof(body), fmt, "");
    req("REPORT", "/dav/books/all/", "Depth: 1\r\n", body, &r);
    EXPECT_STATUS(r, 207);
    ASSERT_EQ(count(r.body, "<d:getetag>"), 4);
    sync_token(&r, token, sizeof(token));
    assert_non_null(strstr(token, "http://kith.invalid/sync/"));
    resp_close(&r);

    /* Nothing changed. */
    snprintf(body, sizeof(body), fmt, token);
    req("REPORT", "/dav/books/all/", "Depth: 1\r\n", body, &r);
    EXPECT_STATUS(r, 207);
    ASSERT_EQ(count(r.body, "<d:response>"), 0);
    resp_close(&r);

    /* A PUT: that card alone. */
    req("PUT", "/dav/books/all/sync%20me.vcf", "Content-Type: text/vcard\r\n",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Sync Me\r\nEND:VCARD\r\n", &r);
    EXPECT_STATUS(r, 201);
    resp_close(&r);
    req("REPORT", "/dav/books/all/", "Depth: 1\r\n", body, &r);
    EXPECT_STATUS(r, 207);
    ASSERT_EQ(count(r.body, "<d:response>"), 1);
    assert_non_null(strstr(r.body, "<d:href>/dav/books/all/sync%20me.vcf</d:href>"));
    ASSERT_EQ(count(r.body, "<d:getetag>"), 1);
    sync_token(&r, token2, sizeof(token2));
    assert_true(strcmp(token, token2) != 0);
    resp_close(&r);
    /* The card is where the client put it. */
    req("GET", "/dav/books/all/sync%20me.vcf", NULL, NULL, &r);
    EXPECT_STATUS(r, 200);
    assert_non_null(strstr(r.body, "FN:Sync Me"));
    resp_close(&r);
    /* Deleted: listed as 404. */
    req("DELETE", "/dav/books/all/sync%20me.vcf", NULL, NULL, &r);
    EXPECT_STATUS(r, 204);
    resp_close(&r);
    snprintf(body, sizeof(body), fmt, token2);
    req("REPORT", "/dav/books/all/", "Depth: 1\r\n", body, &r);
    EXPECT_STATUS(r, 207);
    ASSERT_EQ(count(r.body, "<d:response>"), 1);
    assert_non_null(strstr(r.body, "404 Not Found"));
    resp_close(&r);

    /* Tokens that are not valid: 403 with valid-sync-token. */
    const char *bad[] = {"http://kith.invalid/sync/0000000000000000/1", "garbage",
                         "http://kith.invalid/sync/x/99999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), fmt, bad[i]);
        req("REPORT", "/dav/books/all/", "Depth: 1\r\n", body, &r);
        EXPECT_STATUS(r, 403);
        assert_non_null(strstr(r.body, "valid-sync-token"));
        resp_close(&r);
    }
    /* all's token in the group book. */
    snprintf(body, sizeof(body), fmt, token2);
    req("REPORT", "/dav/books/g-sales/", "Depth: 1\r\n", body, &r);
    EXPECT_STATUS(r, 403);
    assert_non_null(strstr(r.body, "valid-sync-token"));
    resp_close(&r);

    /* multiget: one card found, one not. */
    char hex[2 * KITH_REC_ID_LEN + 1];
    sodium_bin2hex(hex, sizeof(hex), seed_ids[0], KITH_REC_ID_LEN);
    snprintf(body, sizeof(body),
             "<c:addressbook-multiget xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:carddav\">"
             "<d:prop><d:getetag/><c:address-data/></d:prop>"
             "<d:href>/dav/books/all/%s.vcf</d:href><d:href>/dav/books/all/none.vcf</d:href>"
             "</c:addressbook-multiget>",
             hex);
    req("REPORT", "/dav/books/all/", "Depth: 1\r\n", body, &r);
    EXPECT_STATUS(r, 207);
    ASSERT_EQ(count(r.body, "<d:response>"), 2);
    assert_non_null(strstr(r.body, "FN:Ada One"));
    assert_non_null(strstr(r.body, "404 Not Found"));
    resp_close(&r);
}

/* ---- connections -------------------------------------------------------------------- */

/* HEAD, then GET, then two pipelined requests, all on one connection. */
static void
keep_alive_and_head(void **state)
{
    (void) state;
    char hex[2 * KITH_REC_ID_LEN + 1], head[1024], len_head[32] = "", len_get[32] = "";
    sodium_bin2hex(hex, sizeof(hex), seed_ids[1], KITH_REC_ID_LEN);
    int fd = dial();
    assert_true(fd >= 0);
    snprintf(head, sizeof(head), "HEAD /dav/books/all/%s.vcf HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n",
             hex, auth);
    send_all(fd, head, strlen(head));
    resp_t r;
    read_resp(fd, &r, HEAD_ONLY);
    EXPECT_STATUS(r, 200);
    assert_true(header(&r, "etag", NULL, 0));
    header(&r, "content-length", len_head, sizeof(len_head));
    size_t head_body = r.body_len;
    if (head_body != 0) {
        show("HEAD", &r);
    }
    resp_close(&r);
    snprintf(head, sizeof(head), "GET /dav/books/all/%s.vcf HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n",
             hex, auth);
    send_all(fd, head, strlen(head));
    read_resp(fd, &r, BY_LENGTH);
    EXPECT_STATUS(r, 200);
    assert_non_null(strstr(r.body, "FN:Bea Two"));
    header(&r, "content-length", len_get, sizeof(len_get));
    resp_close(&r);
    if (len_head[0] != '\0') {
        ASSERT_STREQ(len_head, len_get);
    }
    /* No body after a HEAD's head (RFC 9110 9.3.2): on a kept-alive connection the
     * client would read it as the start of the next answer. */
    ASSERT_EQ(head_body, 0);
    /* Two at once; the second closes. */
    snprintf(head, sizeof(head),
             "PROPFIND /dav/ HTTP/1.1\r\nHost: 127.0.0.1\r\n%sDepth: 0\r\n\r\n"
             "GET /dav/books/all/%s.vcf HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
             "Connection: close\r\n\r\n",
             auth, hex, auth);
    send_all(fd, head, strlen(head));
    read_resp(fd, &r, UNTIL_EOF);
    EXPECT_STATUS(r, 207);
    assert_non_null(strstr(r.body, "HTTP/1.1 200"));
    assert_non_null(strstr(r.body, "FN:Bea Two"));
    resp_close(&r);
    close(fd);
}

/* PROPPATCH is refused property by property, for the resource asked about. */
static void
proppatch(void **state)
{
    (void) state;
    static const char body[] = "<d:propertyupdate xmlns:d=\"DAV:\"><d:set><d:prop>"
                               "<d:displayname>Mine</d:displayname></d:prop></d:set>"
                               "</d:propertyupdate>";
    resp_t r;
    req("PROPPATCH", "/dav/books/all/", NULL, body, &r);
    EXPECT_STATUS(r, 207);
    assert_non_null(strstr(r.body, "403 Forbidden"));
    assert_non_null(strstr(r.body, "displayname"));
    int right = strstr(r.body, "<d:href>/dav/books/all/</d:href>") != NULL;
    if (!right) {
        show("PROPPATCH /dav/books/all/", &r);
    }
    resp_close(&r);
    if (!right) {
        /* Fixed, kept as a regression test: proppatch() in dav.c writes the response's href as ""
         * for a book and as
         * "/dav/" for anything else (the principal, the home, a card), instead of the
         * path of the resource in the request (RFC 4918 9.2.1: the multistatus names the
         * resource). */
        fail();
    }
}

/* A client that goes away before its answer is ready: the answer is dropped, nothing is
 * written into freed memory, and the server serves the next client. */
static void
client_gone(void **state)
{
    (void) state;
    atomic_store(&deferred, 1);
    char head[512];
    for (int i = 0; i < 3; i++) {
        int fd = dial();
        assert_true(fd >= 0);
        snprintf(head, sizeof(head),
                 "PROPFIND /dav/books/all/ HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
                 "Depth: 1\r\nContent-Length: 0\r\n\r\n",
                 auth);
        send_all(fd, head, strlen(head));
        if (i == 1) {
            struct linger l = {1, 0}; /* a reset, not a FIN */
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }
        usleep(50000);
        close(fd);
    }
    usleep(1500000); /* the jobs finish */
    resp_t r;
    req("PROPFIND", "/dav/books/all/", "Depth: 0\r\n", NULL, &r);
    EXPECT_STATUS(r, 207);
    resp_close(&r);
    atomic_store(&deferred, 0);
}

/* ---- writes that need the private layer, and a new password ------------------------ */

/* A card that drops the shared e-mail and keeps the private one (test_cardbook.c has the
 * same at the node layer). */
static void
put_drops_shared_item(void **state)
{
    (void) state;
    char hex[2 * KITH_REC_ID_LEN + 1], path[128];
    sodium_bin2hex(hex, sizeof(hex), pia_id, KITH_REC_ID_LEN);
    snprintf(path, sizeof(path), "/dav/books/all/%s.vcf", hex);
    resp_t r;
    req("GET", path, NULL, NULL, &r);
    EXPECT_STATUS(r, 200);
    assert_non_null(strstr(r.body, "pia@x.example"));
    assert_non_null(strstr(r.body, "pia@home.example"));
    resp_close(&r);
    req("PUT", path, "Content-Type: text/vcard\r\n",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Priv Pia\r\nEMAIL:pia@home.example\r\nEND:VCARD\r\n", &r);
    int status = r.status;
    if (status != 204) {
        show("PUT dropping the shared e-mail", &r);
    }
    resp_close(&r);
    if (status == 500) {
        /* Fixed, kept as a regression test: see put_list_across_layers in test_cardbook.c:
         * kith_cardbook_put() fails with KITH_ENOTFOUND, which put_card() in dav.c answers with
         * 500. */
        fail();
    }
    ASSERT_EQ(status, 204);
    req("GET", path, NULL, NULL, &r);
    EXPECT_STATUS(r, 200);
    assert_null(strstr(r.body, "pia@x.example"));
    assert_non_null(strstr(r.body, "pia@home.example"));
    resp_close(&r);
}

/* `kith dav --reset`, then the daemon reloads: the old password stops working. */
static void
password_reload(void **state)
{
    (void) state;
    char old_auth[192], new_auth[192];
    memcpy(old_auth, auth, sizeof(old_auth));
    /* The server is idle: no job is using the store. */
    ASSERT_OK(kith_cardbook_password_reset(alice));
    ASSERT_OK(make_auth(alice, new_auth));
    assert_true(strcmp(old_auth, new_auth) != 0);
    resp_t r;
    /* Not reloaded yet: the old one still works. */
    req("PROPFIND", "/dav/", "Depth: 0\r\n", NULL, &r);
    EXPECT_STATUS(r, 207);
    resp_close(&r);
    int before = atomic_load(&n_reloaded);
    ASSERT_EQ(uv_async_send(&reloader), 0);
    for (int i = 0; i < 500 && atomic_load(&n_reloaded) == before; i++) {
        usleep(10000);
    }
    ASSERT_EQ(atomic_load(&n_reloaded), before + 1);
    req("PROPFIND", "/dav/", "Depth: 0\r\n", NULL, &r);
    EXPECT_STATUS(r, 401);
    resp_close(&r);
    memcpy(auth, new_auth, sizeof(auth));
    req("PROPFIND", "/dav/", "Depth: 0\r\n", NULL, &r);
    EXPECT_STATUS(r, 207);
    resp_close(&r);
}

/* ---- bodies in chunks, odd names, a second server ----------------------------------- */

/* Sends head, then body in chunks of 1000 bytes (Transfer-Encoding: chunked). */
static void
chunked(const char *head, const char *body, size_t len, resp_t *r)
{
    int fd = dial();
    assert_true(fd >= 0);
    send_all(fd, head, strlen(head));
    send_all(fd, "\r\n", 2);
    char size[32];
    for (size_t off = 0; off < len; off += 1000) {
        size_t n = len - off < 1000 ? len - off : 1000;
        snprintf(size, sizeof(size), "%zx\r\n", n);
        send_all(fd, size, strlen(size));
        send_all(fd, body + off, n);
        send_all(fd, "\r\n", 2);
    }
    send_all(fd, "0\r\n\r\n", 5);
    read_resp(fd, r, UNTIL_EOF);
    close(fd);
}

static void
chunked_bodies(void **state)
{
    (void) state;
    char head[512];
    snprintf(head, sizeof(head),
             "PUT /dav/books/all/chunked.vcf HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
             "Content-Type: text/vcard\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n",
             auth);
    static const char chuck[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Chunked Chuck\r\nEND:VCARD\r\n";
    resp_t r;
    chunked(head, chuck, strlen(chuck), &r);
    EXPECT_STATUS(r, 201);
    resp_close(&r);
    req("GET", "/dav/books/all/chunked.vcf", NULL, NULL, &r);
    EXPECT_STATUS(r, 200);
    assert_non_null(strstr(r.body, "FN:Chunked Chuck"));
    resp_close(&r);
    /* 2 MiB in chunks: over the limit all the same. */
    size_t len = 2u << 20;
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, 'x', len);
    snprintf(head, sizeof(head),
             "PUT /dav/books/all/big2.vcf HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
             "Content-Type: text/vcard\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n",
             auth);
    chunked(head, big, len, &r);
    EXPECT_STATUS(r, 413);
    resp_close(&r);
    free(big);
    /* Names: a control character, an encoded slash, a space. */
    req("PUT", "/dav/books/all/a%01b.vcf", "Content-Type: text/vcard\r\n", chuck, &r);
    EXPECT_STATUS(r, 400);
    resp_close(&r);
    req("PUT", "/dav/books/all/a%2Fb.vcf", "Content-Type: text/vcard\r\n", chuck, &r);
    EXPECT_STATUS(r, 404);
    resp_close(&r);
}

/* A second server on the port of the first: KITH_EIO with a sentence, and the stopped
 * server it leaves is freed after its loop ran, with no handle left. A bad address:
 * KITH_EINVAL. */
static void
second_server(void **state)
{
    (void) state;
    uv_loop_t l2;
    ASSERT_EQ(uv_loop_init(&l2), 0);
    char listen[32], err[256] = "";
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    kith_dav_opts_t opts = {listen, alice, NULL, submit_now, on_changed, NULL};
    kith_dav_t *d2 = NULL;
    ASSERT_ERR(kith_dav_start(&d2, &l2, &opts, err, sizeof(err)), KITH_EIO);
    assert_true(err[0] != '\0');
    assert_non_null(d2);
    kith_dav_stop(d2);
    uv_run(&l2, UV_RUN_DEFAULT);
    kith_dav_free(d2);
    ASSERT_EQ(uv_loop_close(&l2), 0);

    const char *bad[] = {"nonsense",     "127.0.0.1",    "127.0.0.1:99999",
                         "127.0.0.1:-1", "300.0.0.1:80", "127.0.0.1:80x",
                         ":80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ASSERT_EQ(uv_loop_init(&l2), 0);
        opts.listen = bad[i];
        d2 = NULL;
        err[0] = '\0';
        int rc = kith_dav_start(&d2, &l2, &opts, err, sizeof(err));
        if (rc != KITH_EINVAL) {
            print_error("listen '%s': %s\n", bad[i], kith_strerror(rc));
        }
        ASSERT_EQ(rc, KITH_EINVAL);
        assert_true(err[0] != '\0');
        kith_dav_stop(d2);
        uv_run(&l2, UV_RUN_DEFAULT);
        kith_dav_free(d2);
        ASSERT_EQ(uv_loop_close(&l2), 0);
    }
}

/* A group whose name needs escaping in a URL and in XML. */
static void
group_with_odd_name(void **state)
{
    (void) state;
    /* The server is idle: no job is using the store. */
    uint8_t pk[KITH_PK_LEN], sk[64];
    crypto_sign_keypair(pk, sk);
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = "dora";
    memcpy(p.key, pk, KITH_PK_LEN);
    p.groups = "r&d <team>";
    p.addr = p.last_addr = "";
    ASSERT_OK(kith_store_begin(alice->store));
    ASSERT_OK(kith_node_peer_add(alice, &p, ++now));
    ASSERT_OK(kith_store_commit(alice->store));
    resp_t r;
    req("PROPFIND", "/dav/books/", "Depth: 1\r\n", NULL, &r);
    EXPECT_STATUS(r, 207);
    assert_non_null(strstr(r.body, "<d:href>/dav/books/g-r%26d%20%3Cteam%3E/</d:href>"));
    assert_non_null(strstr(r.body, "r&amp;d &lt;team&gt;"));
    assert_null(strstr(r.body, "<team>"));
    resp_close(&r);
    req("PROPFIND", "/dav/books/g-r%26d%20%3Cteam%3E/", "Depth: 1\r\n", NULL, &r);
    EXPECT_STATUS(r, 207);
    ASSERT_EQ(count(r.body, "<d:response>"), 1);
    resp_close(&r);
    static const char body[] =
        "<d:sync-collection xmlns:d=\"DAV:\"><d:sync-token/><d:sync-level>1</d:sync-level>"
        "<d:prop><d:getetag/></d:prop></d:sync-collection>";
    req("REPORT", "/dav/books/g-r%26d%20%3Cteam%3E/", "Depth: 1\r\n", body, &r);
    EXPECT_STATUS(r, 207);
    assert_non_null(strstr(r.body, "<d:sync-token>"));
    resp_close(&r);
}

/* ---- many clients ------------------------------------------------------------------- */

#define N_THREADS  8
#define N_REQUESTS 50

static atomic_int next_request, n_answered, n_bad;

static void *
client(void *arg)
{
    (void) arg;
    for (int i; (i = atomic_fetch_add(&next_request, 1)) < N_REQUESTS;) {
        resp_t r;
        char path[128];
        int want;
        switch (i % 4) {
        case 0:
            req("PROPFIND", "/dav/books/all/", "Depth: 1\r\n", NULL, &r);
            want = 207;
            break;
        case 1:
            snprintf(path, sizeof(path), "/dav/books/all/par-%d.vcf", i);
            req("PUT", path, "Content-Type: text/vcard\r\n",
                "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Parallel Person\r\nEND:VCARD\r\n", &r);
            want = 201;
            break;
        case 2:
            req("GET", "/dav/books/all/", NULL, NULL, &r);
            want = 200;
            break;
        default:
            req("OPTIONS", "/dav/", NULL, NULL, &r);
            want = 200;
            break;
        }
        if (r.status != 0) {
            atomic_fetch_add(&n_answered, 1);
        }
        if (r.status != want) {
            atomic_fetch_add(&n_bad, 1);
        }
        resp_close(&r);
    }
    return NULL;
}

static void
many_clients(void **state)
{
    (void) state;
    resp_t r;
    req("PROPFIND", "/dav/books/all/", "Depth: 1\r\n", NULL, &r);
    EXPECT_STATUS(r, 207);
    size_t cards_before = count(r.body, "<d:getetag>");
    resp_close(&r);
    pthread_t t[N_THREADS];
    for (size_t i = 0; i < N_THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, client, NULL), 0);
    }
    for (size_t i = 0; i < N_THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    ASSERT_EQ(atomic_load(&n_answered), N_REQUESTS);
    ASSERT_EQ(atomic_load(&n_bad), 0);
    req("PROPFIND", "/dav/books/all/", "Depth: 1\r\n", NULL, &r);
    EXPECT_STATUS(r, 207);
    ASSERT_EQ(count(r.body, "<d:getetag>"), cards_before + (N_REQUESTS + 2) / 4);
    resp_close(&r);
}

/* ---- stopping ----------------------------------------------------------------------- */

static double
seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* A client that sends its request head one byte at a time, never finishing it. */
static void *
trickle(void *arg)
{
    int fd = *(int *) arg;
    static const char head[] = "GET /dav/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: "
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for (size_t i = 0; i < sizeof(head) - 1 && !atomic_load(&loop_done); i++) {
        if (send(fd, head + i, 1, MSG_NOSIGNAL) != 1) {
            break;
        }
        usleep(250000);
    }
    return NULL;
}

static void
stop_with_open_connection(void **state)
{
    (void) state;
    /* One connection kept alive after an answer, one with half a request. */
    int idle = dial(), half = dial();
    assert_true(idle >= 0 && half >= 0);
    char head[512];
    snprintf(head, sizeof(head),
             "PROPFIND /dav/ HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
             "Depth: 0\r\nContent-Length: 0\r\n\r\n",
             auth);
    send_all(idle, head, strlen(head));
    resp_t r;
    read_resp(idle, &r, BY_LENGTH);
    EXPECT_STATUS(r, 207);
    resp_close(&r);
    send_all(half, "GET /dav/ HTTP/1.1\r\nHost: 127.0.0.1\r\n", 38);
    /* And one whose answer is still being made when the server stops. */
    atomic_store(&deferred, 1);
    int busy = dial();
    assert_true(busy >= 0);
    send_all(busy, head, strlen(head));
    usleep(100000);

    /* And a slow one that keeps sending. */
    int slow = dial();
    assert_true(slow >= 0);
    pthread_t slow_thread;
    assert_int_equal(pthread_create(&slow_thread, NULL, trickle, &slow), 0);
    usleep(100000);

    double t0 = seconds();
    ASSERT_EQ(uv_async_send(&stopper), 0);
    while (!atomic_load(&loop_done) && seconds() - t0 < 20.0) {
        usleep(20000);
    }
    double took = seconds() - t0;
    print_message("the loop ended %.2f s after the stop\n", took);
    int ended = atomic_load(&loop_done);
    /* The answer in flight went out all the same. */
    read_resp(busy, &r, UNTIL_EOF);
    EXPECT_STATUS(r, 207);
    resp_close(&r);
    close(busy);
    pthread_join(slow_thread, NULL);
    close(slow);
    close(idle);
    close(half);
    assert_true(ended);
    assert_true(took < 6.5);
    /* teardown joins the thread, frees the server and checks uv_loop_close() == 0. */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(logins_and_hosts),
        cmocka_unit_test(discovery),
        cmocka_unit_test(listing),
        cmocka_unit_test(cards),
        cmocka_unit_test(big_body),
        cmocka_unit_test(sync_collection),
        cmocka_unit_test(keep_alive_and_head),
        cmocka_unit_test(proppatch),
        cmocka_unit_test(client_gone),
        cmocka_unit_test(put_drops_shared_item),
        cmocka_unit_test(password_reload),
        cmocka_unit_test(chunked_bodies),
        cmocka_unit_test(second_server),
        cmocka_unit_test(group_with_odd_name),
        cmocka_unit_test(many_clients),
        cmocka_unit_test(stop_with_open_connection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
