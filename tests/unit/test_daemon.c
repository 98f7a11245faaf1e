/*
 * The daemon against hostile trusted peers (src/net/daemon.c), over real sockets on
 * loopback.
 *
 * Bob runs a real daemon in a thread. The hostile peers are trusted by bob (they are in
 * his peer list), and the test speaks the real protocol for them with a hand-made Noise
 * initiator, so it can send what an honest node never would: ops with bad signatures, ops
 * by authors outside the audience, audience and delete ops not by the owner, ops for
 * records the sender may not touch, private ops, oversized and malformed messages, a
 * flood of messages that carry nothing, a flood of duplicates, and recorded sessions
 * replayed by an eavesdropper. After each, bob's store must be unchanged (a digest of its
 * op hashes, read over a second SQLite connection), the refusal must be in bob's log, and
 * alice, an honest peer syncing with a one-shot daemon, must still be served.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>
#include <sodium.h>
#include <sqlite3.h>
#include <uv.h>

#include "check.h"
#include "crypto/noise.h"
#include "kith/kith.h"
#include "model/op.h"
#include "model/schema.h"
#include "net/daemon.h"
#include "node/node.h"
#include "sync/session.h"
#include "util/hlc.h"

enum {
    MALLORY,
    GARBLER,
    GIANT,
    ZERO,
    REFUSER,
    PINGER,
    DUPER,
    REPEAT,
    LEAVER,
    DEVICE,
    SHAPE,
    BANNED,
    N_HOSTILE
};
static const char *const hostile_names[N_HOSTILE] = {"mallory", "garbler", "giant", "zero",
                                                     "refuser", "pinger",  "duper", "repeat",
                                                     "leaver",  "device",  "shape", "banned"};

/* Bob's first back-off, shorter than the default 60 s so that the test can wait one out. */
#define BAN_MS 3000

static struct {
    char root[64];
    char bob_home[128], alice_home[128], log_path[160];
    kith_node_t *bob, *alice;
    kith_identity_t *hostile[N_HOSTILE];
    uint8_t r_read[KITH_REC_ID_LEN];    /* bob's; mallory is a reader */
    uint8_t r_edit[KITH_REC_ID_LEN];    /* bob's; mallory is an editor */
    uint8_t r_secret[KITH_REC_ID_LEN];  /* bob's; shared with alice only */
    uint8_t r_demoted[KITH_REC_ID_LEN]; /* bob's; mallory edited it, then became a reader */
    uint64_t demoted_hlc;               /* when bob demoted mallory */
    /* bob's daemon, in its own thread */
    uv_loop_t loop;
    uv_async_t stop;
    kith_daemon_t *d;
    pthread_t thread;
    FILE *log;
    int port;
    uint64_t hello_last; /* the time in the last message 1 the test wrote */
} w;

/* ---- setting up --------------------------------------------------------------------- */

static uint64_t
hlc_now(void)
{
    return kith_hlc_now_ms() << 16;
}

static void
set_text(kith_op_t *op, const char *field, const char *text)
{
    kith_value_t v = {0};
    ASSERT_OK(kith_value_set_str(&v, text, strlen(text)));
    ASSERT_OK(kith_op_set_field(op, field, &v));
    kith_value_clear(&v);
}

/* A record of n's own called name, shared with peer (may be NULL) in role. */
static void
make_record(kith_node_t *n, const char *name, const char *peer, int role,
            uint8_t id[KITH_REC_ID_LEN])
{
    kith_op_t op;
    kith_op_init(&op);
    kith_node_new_record_id(n, id);
    memcpy(op.rec, id, KITH_REC_ID_LEN);
    memcpy(op.owner, n->id->pk, KITH_PK_LEN);
    op.kind = KITH_KIND_PERSON;
    set_text(&op, "name", name);
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_apply_local(n, &op, kith_hlc_now_ms(), NULL));
    if (peer != NULL) {
        kith_share_target_t target;
        ASSERT_OK(kith_node_share_target(n, peer, &target));
        ASSERT_OK(kith_store_share_set(n->store, id, &target, role));
        ASSERT_OK(kith_node_update_audience(n, id, kith_hlc_now_ms(), NULL));
    }
    ASSERT_OK(kith_store_commit(n->store));
    kith_op_close(&op);
}

static void
add_peer(kith_node_t *n, const char *name, const uint8_t key[KITH_PK_LEN], const char *addr,
         int self)
{
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = (char *) name;
    memcpy(p.key, key, KITH_PK_LEN);
    p.groups = p.last_addr = "";
    p.addr = (char *) addr;
    p.self = self;
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_store_peer_add(n->store, &p));
    ASSERT_OK(kith_store_commit(n->store));
}

static void craft_note(const kith_identity_t *author, const uint8_t *rec, uint64_t hlc,
                       const char *note, kith_buf_t *out);

/* r_demoted: mallory, an editor, makes an edit that bob accepts; then bob makes her a
 * reader. The demotion's cut lists her edit. */
static void
demote_mallory(void)
{
    make_record(w.bob, "Demoted", "mallory", KITH_ROLE_EDITOR, w.r_demoted);
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(w.bob->store, w.r_demoted, &r));
    uint64_t shared_hlc = r.updated; /* her edit must come after it, even within 1 ms */
    kith_record_close(&r);
    kith_buf_t op;
    craft_note(w.hostile[MALLORY], w.r_demoted, shared_hlc + 1, "honest edit", &op);
    const uint8_t *ops[1] = {op.data};
    size_t lens[1] = {op.len};
    kith_apply_stats_t st = {0};
    ASSERT_OK(kith_store_begin(w.bob->store));
    ASSERT_OK(kith_store_apply_remote(w.bob->store, w.bob->id->pk, w.hostile[MALLORY]->pk, 0, ops,
                                      lens, 1, &st, NULL, NULL));
    assert_int_equal(st.accepted, 1);
    kith_share_target_t target;
    ASSERT_OK(kith_node_share_target(w.bob, "mallory", &target));
    ASSERT_OK(kith_store_share_set(w.bob->store, w.r_demoted, &target, KITH_ROLE_READER));
    ASSERT_OK(kith_node_update_audience(w.bob, w.r_demoted, kith_hlc_now_ms() + 1, NULL));
    ASSERT_OK(kith_store_commit(w.bob->store));
    ASSERT_OK(kith_store_record_get(w.bob->store, w.r_demoted, &r));
    assert_int_equal(kith_record_role(&r, w.hostile[MALLORY]->pk), KITH_ROLE_READER);
    /* Her edit made while she was an editor keeps its effect: it is in the cut. */
    assert_string_equal(kith_record_field(&r, "note")->value.str, "honest edit");
    w.demoted_hlc = r.updated;
    kith_record_close(&r);
    kith_buf_close(&op);
}

static void
on_stop(uv_async_t *a)
{
    kith_daemon_stop(w.d);
    uv_close((uv_handle_t *) a, NULL);
}

static void *
run_bob(void *arg)
{
    (void) arg;
    uv_run(&w.loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Starts bob's daemon in its own thread, listening on a free loopback port (w.port). */
static void
bob_start(void)
{
    char err[256] = "";
    ASSERT_OK(uv_loop_init(&w.loop));
    kith_daemon_opts_t o;
    memset(&o, 0, sizeof(o));
    o.listen = "127.0.0.1:0";
    o.log_level = KITH_LOG_DEBUG;
    o.log = w.log;
    o.ban_ms = BAN_MS;
    ASSERT_OK(kith_daemon_new(&w.d, &w.loop, w.bob, &o, err, sizeof(err)));
    ASSERT_OK(kith_daemon_start(w.d, err, sizeof(err)));
    w.port = kith_daemon_port(w.d);
    ASSERT_OK(uv_async_init(&w.loop, &w.stop, on_stop));
    assert_int_equal(pthread_create(&w.thread, NULL, run_bob, NULL), 0);
}

static void
bob_stop(void)
{
    uv_async_send(&w.stop);
    pthread_join(w.thread, NULL);
    kith_daemon_free(w.d);
    assert_int_equal(uv_loop_close(&w.loop), 0);
}

static int
setup(void **state)
{
    (void) state;
    char err[256] = "";
    ASSERT_OK(kith_init());
    snprintf(w.root, sizeof(w.root), "/tmp/kith-test-daemon-XXXXXX");
    assert_non_null(mkdtemp(w.root));
    snprintf(w.bob_home, sizeof(w.bob_home), "%s/bob", w.root);
    snprintf(w.alice_home, sizeof(w.alice_home), "%s/alice", w.root);
    snprintf(w.log_path, sizeof(w.log_path), "%s/bob.log", w.root);
    ASSERT_OK(kith_node_create(w.bob_home, "bob", NULL, err, sizeof(err)));
    ASSERT_OK(kith_node_create(w.alice_home, "alice", NULL, err, sizeof(err)));
    ASSERT_OK(kith_node_open(w.bob_home, NULL, &w.bob, err, sizeof(err)));
    ASSERT_OK(kith_node_open(w.alice_home, NULL, &w.alice, err, sizeof(err)));
    add_peer(w.bob, "alice", w.alice->id->pk, "", 0);
    for (int i = 0; i < N_HOSTILE; i++) {
        ASSERT_OK(kith_identity_new(&w.hostile[i]));
        /* leaver is one of bob's own devices: it may send him anything, until removed. */
        add_peer(w.bob, hostile_names[i], w.hostile[i]->pk, "", i == LEAVER);
    }
    make_record(w.bob, "Read Only", "mallory", KITH_ROLE_READER, w.r_read);
    make_record(w.bob, "Editable", "mallory", KITH_ROLE_EDITOR, w.r_edit);
    make_record(w.bob, "Secret", "alice", KITH_ROLE_READER, w.r_secret);
    demote_mallory();
    for (int i = 0; i < 20; i++) {
        uint8_t id[KITH_REC_ID_LEN];
        make_record(w.bob, "For Alice", "alice", KITH_ROLE_READER, id);
    }

    w.log = fopen(w.log_path, "w");
    assert_non_null(w.log);
    setvbuf(w.log, NULL, _IOLBF, 0);
    bob_start();

    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", w.port);
    add_peer(w.alice, "bob", w.bob->id->pk, addr, 0);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    bob_stop();
    fclose(w.log);
    if (getenv("KEEP") != NULL) {
        fprintf(stderr, "kept %s\n", w.root);
    }
    kith_node_close(w.bob);
    kith_node_close(w.alice);
    for (int i = 0; i < N_HOSTILE; i++) {
        kith_identity_free(w.hostile[i]);
    }
    if (getenv("KEEP") == NULL) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w.root);
        assert_int_equal(system(cmd), 0);
    }
    return 0;
}

/* ---- watching bob ------------------------------------------------------------------- */

/* A digest of bob's op set and his record count, read over a second connection while
 * the daemon runs (the store is in WAL mode, so readers do not disturb it). */
typedef struct {
    uint8_t hash[32];
    long ops, records;
} digest_t;

static void
bob_digest(digest_t *out)
{
    char path[200];
    snprintf(path, sizeof(path), "%s/kith.db", w.bob_home);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, sizeof(out->hash));
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT hash FROM ops ORDER BY hash", -1, &st, NULL),
                     SQLITE_OK);
    out->ops = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        crypto_generichash_update(&h, sqlite3_column_blob(st, 0),
                                  (size_t) sqlite3_column_bytes(st, 0));
        out->ops++;
    }
    sqlite3_finalize(st);
    crypto_generichash_final(&h, out->hash, sizeof(out->hash));
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM records", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    out->records = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void
assert_same_digest(const digest_t *a, const digest_t *b)
{
    assert_int_equal(a->ops, b->ops);
    assert_int_equal(a->records, b->records);
    assert_memory_equal(a->hash, b->hash, sizeof(a->hash));
}

/* The size of bob's log so far: log_has() can then look only at what came after. */
static long
log_mark(void)
{
    struct stat st;
    assert_int_equal(stat(w.log_path, &st), 0);
    return (long) st.st_size;
}

/* Counts, after waiting up to 5 s for at least `times` of them, the lines of bob's log
 * written after mark that contain text. */
static int
log_count(long mark, const char *text, int times)
{
    int found = 0;
    for (int tries = 0; tries < 100 && found < times; tries++) {
        if (tries > 0) {
            usleep(50000);
        }
        FILE *f = fopen(w.log_path, "r");
        assert_non_null(f);
        assert_int_equal(fseek(f, mark, SEEK_SET), 0);
        char line[1024];
        found = 0;
        while (fgets(line, sizeof(line), f) != NULL) {
            found += strstr(line, text) != NULL;
        }
        fclose(f);
    }
    if (found < times) {
        print_error("in bob's log %d times, not %d: %s\n", found, times, text);
    }
    return found;
}

/* 1 if text is in a line of bob's log written after mark (waiting up to 5 s). */
static int
log_has(long mark, const char *text)
{
    return log_count(mark, text, 1) >= 1;
}

/* ---- the hostile peer's side of the wire -------------------------------------------- */

typedef struct {
    int fd;
    kith_noise_cs_t *tx, *rx; /* sodium_malloc'd: session keys */
    kith_buf_t sent;          /* every byte written, for replays */
    size_t answer_len;        /* bytes of bob's answer to message 1, header included */
    int hello_rc;             /* client_hello()'s result */
} client_t;

static void
write_all(client_t *c, const uint8_t *p, size_t len)
{
    kith_buf_append(&c->sent, p, len);
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return; /* bob hung up: the caller finds out when it reads */
        }
        p += n;
        len -= (size_t) n;
    }
}

/* Reads exactly len bytes; 0 on EOF, error or after timeout_ms. */
static int
read_exact(int fd, uint8_t *p, size_t len, int timeout_ms)
{
    while (len > 0) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, timeout_ms) <= 0) {
            return 0;
        }
        ssize_t n = recv(fd, p, len, 0);
        if (n <= 0) {
            return 0;
        }
        p += n;
        len -= (size_t) n;
    }
    return 1;
}

/* Reads one frame into buf; its length, or 0 when bob closed or said nothing. */
static size_t
read_frame(int fd, uint8_t *buf, int timeout_ms)
{
    uint8_t h[2];
    if (!read_exact(fd, h, 2, timeout_ms)) {
        return 0;
    }
    size_t len = ((size_t) h[0] << 8) | h[1];
    return len > 0 && read_exact(fd, buf, len, timeout_ms) ? len : 0;
}

static void
client_tcp(client_t *c)
{
    memset(c, 0, sizeof(*c));
    kith_buf_init(&c->sent);
    c->tx = sodium_malloc(sizeof(*c->tx));
    c->rx = sodium_malloc(sizeof(*c->rx));
    assert_true(c->tx != NULL && c->rx != NULL);
    memset(c->tx, 0, sizeof(*c->tx));
    memset(c->rx, 0, sizeof(*c->rx));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t) w.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *) &a, sizeof(a)), 0);
}

/* A message-1 time newer than every one before (the wall clock, kept increasing). */
static uint64_t
hello_time(void)
{
    uint64_t t = kith_hlc_now_ms();
    w.hello_last = t > w.hello_last ? t : w.hello_last + 1;
    return w.hello_last;
}

/* Writes a framed IK message 1 from id, made for the X25519 key resp_x, carrying time t,
 * into msg (cap bytes); returns its length. *hs keeps the initiator's state. e_priv: the
 * ephemeral key, NULL for a random one. The same id, t and e_priv give the same bytes
 * and state twice: a test can replay a message 1 and still tell whether the answer is
 * a message 2 (which only the holder of e_priv can read). */
static size_t
message1_as(const kith_identity_t *id, const uint8_t resp_x[KITH_PK_LEN], const char *name,
            uint64_t t, const uint8_t *e_priv, uint8_t *msg, size_t cap, kith_noise_hs_t **hs)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "name", 4);
    msgpack_pack_str(&pk, strlen(name));
    msgpack_pack_str_body(&pk, name, strlen(name));
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "time", 4);
    msgpack_pack_uint64(&pk, t);
    msgpack_pack_str(&pk, 8);
    msgpack_pack_str_body(&pk, "versions", 8);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, KITH_PROTO_VERSION);
    ASSERT_OK(
        kith_noise_hs_new(hs, KITH_NOISE_IK, 1, (const uint8_t *) "kith sync", 9, id->xsk, resp_x));
    if (e_priv != NULL) {
        ASSERT_OK(kith__noise_hs_set_ephemeral(*hs, e_priv));
    }
    size_t len = 0;
    ASSERT_OK(kith_noise_hs_write(*hs, (const uint8_t *) sb.data, sb.size, msg + 2, cap - 2, &len));
    msgpack_sbuffer_destroy(&sb);
    msg[0] = (uint8_t) (len >> 8);
    msg[1] = (uint8_t) len;
    return len + 2;
}

/* message1_as() with a fresh time and a random ephemeral key. */
static size_t
message1(const kith_identity_t *id, const uint8_t resp_x[KITH_PK_LEN], const char *name,
         uint8_t *msg, size_t cap, kith_noise_hs_t **hs)
{
    return message1_as(id, resp_x, name, hello_time(), NULL, msg, cap, hs);
}

/* Sends message 1 (len bytes, framed) and reads bob's answer. KITH_OK when it is message
 * 2 (the channel is then open), KITH_EAUTH when it does not decrypt (bob refused: a
 * stranger, a replay, a peer he is backing off from, a message for another key) or when
 * bob says nothing at all. c->answer_len gets the answer's length. */
static int
client_hello(client_t *c, kith_noise_hs_t *hs, const uint8_t *msg1, size_t len)
{
    static uint8_t msg[KITH_NOISE_MAX_MSG];
    write_all(c, msg1, len);
    size_t flen = read_frame(c->fd, msg, 5000);
    c->answer_len = flen > 0 ? flen + 2 : 0;
    int rc = KITH_EAUTH;
    if (flen > 0 && hs != NULL) {
        uint8_t payload[512];
        size_t plen = 0;
        rc = kith_noise_hs_read(hs, msg, flen, payload, sizeof(payload), &plen);
        if (rc == KITH_OK) {
            ASSERT_OK(kith_noise_hs_split(hs, c->tx, c->rx));
        } else {
            ASSERT_ERR(rc, KITH_ECRYPTO);
            rc = KITH_EAUTH;
        }
    }
    return rc;
}

/* Connects as id and runs the handshake. KITH_OK, or KITH_EAUTH when bob refuses. */
static int
client_open(client_t *c, const kith_identity_t *id, const char *name)
{
    client_tcp(c);
    static uint8_t msg[2 + KITH_NOISE_MAX_MSG];
    kith_noise_hs_t *hs = NULL;
    size_t len = message1(id, w.bob->id->xpk, name, msg, sizeof(msg), &hs);
    int rc = client_hello(c, hs, msg, len);
    kith_noise_hs_free(hs);
    return rc;
}

static void
client_close(client_t *c)
{
    close(c->fd);
    kith_noise_cs_wipe(c->tx);
    kith_noise_cs_wipe(c->rx);
    sodium_free(c->tx);
    sodium_free(c->rx);
    kith_buf_close(&c->sent);
}

static void
send_pt(client_t *c, const uint8_t *pt, size_t len)
{
    static uint8_t frame[2 + KITH_FRAME_MAX];
    size_t ct = 0;
    ASSERT_OK(kith_noise_cs_encrypt(c->tx, NULL, 0, pt, len, frame + 2, sizeof(frame) - 2, &ct));
    if (c->tx->n % KITH_REKEY_EVERY == 0) {
        ASSERT_OK(kith_noise_cs_rekey(c->tx));
    }
    frame[0] = (uint8_t) (ct >> 8);
    frame[1] = (uint8_t) ct;
    write_all(c, frame, ct + 2);
}

/* Reads messages until one of type want arrives (1) or bob hangs up or goes quiet (0). */
static int
expect_msg(client_t *c, int want, int timeout_ms)
{
    static uint8_t frame[KITH_FRAME_MAX], pt[KITH_FRAME_MAX];
    for (;;) {
        size_t flen = read_frame(c->fd, frame, timeout_ms);
        if (flen == 0) {
            return 0;
        }
        size_t n = 0;
        ASSERT_OK(kith_noise_cs_decrypt(c->rx, NULL, 0, frame, flen, pt, sizeof(pt), &n));
        if (c->rx->n % KITH_REKEY_EVERY == 0) {
            ASSERT_OK(kith_noise_cs_rekey(c->rx));
        }
        /* [type, ...]: a fixarray header, then the type as a positive fixint */
        if (n >= 2 && pt[1] == want) {
            return 1;
        }
    }
}

/* 1 if bob closes the connection within timeout_ms (whatever he sends first is read). */
static int
closed_by_bob(client_t *c, int timeout_ms)
{
    uint8_t buf[4096];
    for (;;) {
        struct pollfd pfd = {c->fd, POLLIN, 0};
        if (poll(&pfd, 1, timeout_ms) <= 0) {
            return 0;
        }
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            return 1;
        }
    }
}

/* A frame of the largest size, full of random bytes: nothing can decrypt it. */
static void
send_garbage_frame(client_t *c)
{
    static uint8_t big[2 + 65535];
    big[0] = big[1] = 0xff;
    randombytes_buf(big + 2, sizeof(big) - 2);
    write_all(c, big, sizeof(big));
}

static const uint8_t msg_ping[] = {0x91, 0x04};
static const uint8_t msg_pong_type = 5;

/* Bob answers a ping: the session is alive and everything sent before was handled. */
static int
alive(client_t *c)
{
    send_pt(c, msg_ping, sizeof(msg_ping));
    return expect_msg(c, msg_pong_type, 5000);
}

/* [2, [bin...]] with the n signed ops in ops[]. */
static void
send_ops(client_t *c, kith_buf_t *ops, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_bin(&pk, ops[i].len);
        msgpack_pack_bin_body(&pk, ops[i].data, ops[i].len);
    }
    send_pt(c, (const uint8_t *) sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- ops a hostile peer might craft ------------------------------------------------- */

typedef struct {
    const kith_identity_t *author;
    const uint8_t *owner; /* the record's owner's key */
    const uint8_t *rec;
    uint64_t hlc;       /* 0: now */
    int kind;           /* -1: not a creation op */
    const char *note;   /* sets "note" when not NULL */
    int del;            /* -1 absent */
    const uint8_t *aud; /* when not NULL: the audience becomes this key as editor */
    int private;
} craft_t;

static void
craft(const craft_t *c, kith_buf_t *out)
{
    kith_op_t op;
    kith_op_init(&op);
    memcpy(op.rec, c->rec, KITH_REC_ID_LEN);
    memcpy(op.owner, c->owner, KITH_PK_LEN);
    memcpy(op.author, c->author->pk, KITH_PK_LEN);
    op.hlc = c->hlc ? c->hlc : hlc_now();
    op.kind = c->kind;
    op.del = c->del;
    op.private = c->private;
    if (c->note != NULL) {
        set_text(&op, "note", c->note);
    }
    if (c->aud != NULL) {
        ASSERT_OK(kith_op_add_aud(&op, c->aud, KITH_ROLE_EDITOR));
    }
    uint8_t hash[KITH_HASH_LEN];
    kith_buf_init(out);
    ASSERT_OK(kith_op_sign(&op, c->author, out, hash));
    kith_op_close(&op);
}

/* An edit of note on bob's record rec, by author, at hlc (0: now). */
static void
craft_note(const kith_identity_t *author, const uint8_t *rec, uint64_t hlc, const char *note,
           kith_buf_t *out)
{
    craft(&(craft_t){author, w.bob->id->pk, rec, hlc, -1, note, -1, NULL, 0}, out);
}

/* ---- tests -------------------------------------------------------------------------- */

/* Failure 9 of issue 10: an editor demoted to reader signs an edit dated just before the
 * demotion. The fold used to judge it by its own hlc, when she was still an editor; the
 * demotion's cut now lists the ops of hers that bob accepted, and this is not one. */
static void
test_backdated_edit_refused(void **state)
{
    (void) state;
    const kith_identity_t *m = w.hostile[MALLORY];
    digest_t before, after;
    bob_digest(&before);
    long mark = log_mark();
    kith_buf_t op;
    craft_note(m, w.r_demoted, w.demoted_hlc - 1, "backdated", &op);
    client_t c;
    ASSERT_OK(client_open(&c, m, "mallory"));
    send_ops(&c, &op, 1);
    assert_true(alive(&c));
    client_close(&c);
    kith_buf_close(&op);
    bob_digest(&after);
    assert_same_digest(&before, &after);
    assert_true(log_has(mark, "author has no authority over this record"));
    assert_true(log_has(mark, "refused 1 op from mallory"));
    print_message("refused: an edit by a demoted editor, dated 1 tick before the demotion\n");
}

/* Each op a hostile trusted peer might send, in a session of its own: refused, logged
 * with the reason, the store unchanged, and the session goes on (one refusal is not worth
 * a hang-up: it may be a stale share). */
static void
test_refused_ops(void **state)
{
    (void) state;
    const kith_identity_t *m = w.hostile[MALLORY];
    const uint8_t *bob = w.bob->id->pk;
    uint8_t stolen[KITH_REC_ID_LEN], own[KITH_REC_ID_LEN], nonce[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(stolen, w.r_secret, KITH_REC_ID_LEN);
    kith_op_rec_id_make(m->pk, nonce, own);
    struct {
        const char *what, *logged;
        craft_t op;
        int flip_signature;
    } cases[] = {
        {"bad signature", "bad signature", {m, bob, w.r_edit, 0, -1, "forged", -1, NULL, 0}, 1},
        {"author outside the audience",
         "author has no authority over this record",
         {m, bob, w.r_secret, 0, -1, "nosy", -1, NULL, 0},
         0},
        {"audience op by an editor",
         "only the owner may delete, share or create",
         {m, bob, w.r_edit, 0, -1, NULL, -1, NULL, 0},
         0},
        {"delete op by an editor",
         "only the owner may delete, share or create",
         {m, bob, w.r_edit, 0, -1, NULL, 1, NULL, 0},
         0},
        {"edit by a reader",
         "author has no authority over this record",
         {m, bob, w.r_read, 0, -1, "reader edit", -1, NULL, 0},
         0},
        {"private op from a peer that is not a device of bob's",
         "private op",
         {m, bob, w.r_edit, 0, -1, "private", -1, NULL, 1},
         0},
        {"op from far in the future",
         "timestamp too far in the future",
         {m, bob, w.r_edit, (kith_hlc_now_ms() + 48 * 3600 * 1000ULL) << 16, -1, "future", -1, NULL,
          0},
         0},
        {"record id squatted by another owner",
         "record id not bound to the owner",
         {m, m->pk, stolen, 0, KITH_KIND_PERSON, "squat", -1, NULL, 0},
         0},
        {"record bob may not hold (created without him in its audience)",
         "not in the record's audience",
         {m, m->pk, own, 0, KITH_KIND_PERSON, "not for bob", -1, NULL, 0},
         0},
        {"op by alice relayed for a record alice may only read",
         "author has no authority",
         {w.alice->id, bob, w.r_secret, 0, -1, "relayed", -1, NULL, 0},
         0},
    };
    /* The audience case makes mallory an editor of r_edit's audience: set aud there. */
    cases[2].op.aud = m->pk;
    digest_t before, after;
    bob_digest(&before);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kith_buf_t op;
        craft(&cases[i].op, &op);
        if (cases[i].flip_signature) {
            op.data[5] ^= 0x01;
        }
        long mark = log_mark();
        client_t c;
        ASSERT_OK(client_open(&c, m, "mallory"));
        send_ops(&c, &op, 1);
        assert_true(alive(&c));
        bob_digest(&after);
        assert_same_digest(&before, &after);
        assert_true(log_has(mark, cases[i].logged));
        assert_true(log_has(mark, "refused 1 op from mallory"));
        print_message("refused: %s\n", cases[i].what);
        client_close(&c);
        kith_buf_close(&op);
    }
    /* And a legitimate edit by the same peer still lands: the refusals were about the
     * ops, not a grudge. */
    kith_buf_t ok;
    craft(&(craft_t){m, bob, w.r_edit, 0, -1, "a fair edit", -1, NULL, 0}, &ok);
    client_t c;
    ASSERT_OK(client_open(&c, m, "mallory"));
    send_ops(&c, &ok, 1);
    assert_true(alive(&c));
    client_close(&c);
    kith_buf_close(&ok);
    bob_digest(&after);
    assert_int_equal(after.ops, before.ops + 1);
}

/* Malformed and oversized messages end the session, and a peer that breaks the protocol
 * is backed off: its next handshake goes unanswered. */
static void
test_malformed_messages_ban(void **state)
{
    (void) state;
    digest_t before, after;
    bob_digest(&before);
    long mark = log_mark();

    /* garbler: a message that is not msgpack at all */
    client_t c;
    ASSERT_OK(client_open(&c, w.hostile[GARBLER], "garbler"));
    static const uint8_t junk[] = {0xc1, 0xc1, 0xc1, 0x00};
    send_pt(&c, junk, sizeof(junk));
    assert_true(closed_by_bob(&c, 5000));
    client_close(&c);
    assert_true(log_has(mark, "disconnecting garbler for 3 s: it broke the protocol"));
    ASSERT_ERR(client_open(&c, w.hostile[GARBLER], "garbler"), KITH_EAUTH);
    client_close(&c);
    assert_true(log_has(mark, "refused garbler: backed off after misbehaving"));

    /* giant: a batch of 1,025 ops, one more than a message may carry */
    ASSERT_OK(client_open(&c, w.hostile[GIANT], "giant"));
    kith_buf_t tiny[1025];
    for (size_t i = 0; i < 1025; i++) {
        kith_buf_init(&tiny[i]);
        kith_buf_append(&tiny[i], (const uint8_t *) "x", 1);
    }
    send_ops(&c, tiny, 1025);
    for (size_t i = 0; i < 1025; i++) {
        kith_buf_close(&tiny[i]);
    }
    assert_true(closed_by_bob(&c, 5000));
    client_close(&c);
    assert_true(log_has(mark, "disconnecting giant for 3 s"));

    /* zero: an empty frame, which the protocol forbids */
    ASSERT_OK(client_open(&c, w.hostile[ZERO], "zero"));
    assert_true(alive(&c));
    write_all(&c, (const uint8_t *) "\0\0", 2);
    assert_true(closed_by_bob(&c, 5000));
    client_close(&c);
    assert_true(log_has(mark, "disconnecting zero for 3 s"));

    /* mallory: a full-size frame of random bytes. It cannot be decrypted, so the session
     * ends, but without a ban: on a reliable stream only someone in the middle can cause
     * that, and that someone must not be able to get a peer banned. */
    ASSERT_OK(client_open(&c, w.hostile[MALLORY], "mallory"));
    assert_true(alive(&c));
    send_garbage_frame(&c);
    assert_true(closed_by_bob(&c, 5000));
    client_close(&c);
    ASSERT_OK(client_open(&c, w.hostile[MALLORY], "mallory"));
    assert_true(alive(&c));
    client_close(&c);

    /* refuser: 100 ops with bad signatures in one session is a peer worth hanging up on */
    ASSERT_OK(client_open(&c, w.hostile[REFUSER], "refuser"));
    kith_buf_t bad[100];
    for (size_t i = 0; i < 100; i++) {
        craft(&(craft_t){w.hostile[REFUSER], w.bob->id->pk, w.r_edit, 0, -1, "x", -1, NULL, 0},
              &bad[i]);
        bad[i].data[0] ^= 0x80;
    }
    send_ops(&c, bad, 100);
    for (size_t i = 0; i < 100; i++) {
        kith_buf_close(&bad[i]);
    }
    assert_true(closed_by_bob(&c, 5000));
    client_close(&c);
    assert_true(log_has(mark, "disconnecting refuser for 3 s: too many refused ops"));
    ASSERT_ERR(client_open(&c, w.hostile[REFUSER], "refuser"), KITH_EAUTH);
    client_close(&c);

    bob_digest(&after);
    assert_same_digest(&before, &after);
}

/* A peer that misbehaves again after its back-off ends is backed off twice as long. */
static void
test_backoff_doubles(void **state)
{
    (void) state;
    static const uint8_t junk[] = {0xc1};
    long mark = log_mark();
    client_t c;
    for (int strike = 1; strike <= 2; strike++) {
        ASSERT_OK(client_open(&c, w.hostile[REPEAT], "repeat"));
        send_pt(&c, junk, sizeof(junk));
        assert_true(closed_by_bob(&c, 5000));
        client_close(&c);
        char expect[64];
        snprintf(expect, sizeof(expect), "disconnecting repeat for %d s", strike * BAN_MS / 1000);
        assert_true(log_has(mark, expect));
        ASSERT_ERR(client_open(&c, w.hostile[REPEAT], "repeat"), KITH_EAUTH);
        client_close(&c);
        /* After the first back-off it may come back. */
        usleep((useconds_t) (strike * BAN_MS + 500) * 1000);
    }
    /* The second, doubled back-off has ended too: it is served again. */
    ASSERT_OK(client_open(&c, w.hostile[REPEAT], "repeat"));
    assert_true(alive(&c));
    client_close(&c);
}

/* One-shot sync from alice's node; returns 1 on success and its duration. */
static int
alice_sync(uint64_t *ms)
{
    uv_loop_t loop;
    ASSERT_OK(uv_loop_init(&loop));
    char addr[64], err[256] = "";
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", w.port);
    kith_daemon_opts_t o;
    memset(&o, 0, sizeof(o));
    o.oneshot = 1;
    memcpy(o.oneshot_peer, w.bob->id->pk, KITH_PK_LEN);
    o.oneshot_addr = addr;
    o.oneshot_timeout_ms = 30000;
    o.log_level = KITH_LOG_ERROR;
    kith_daemon_t *d = NULL;
    ASSERT_OK(kith_daemon_new(&d, &loop, w.alice, &o, err, sizeof(err)));
    ASSERT_OK(kith_daemon_start(d, err, sizeof(err)));
    uv_run(&loop, UV_RUN_DEFAULT);
    kith_session_stats_t st;
    int ok = kith_daemon_oneshot_result(d, &st, ms);
    kith_daemon_free(d);
    uv_loop_close(&loop);
    return ok;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

typedef struct {
    client_t c;
    kith_buf_t *ops;
    size_t n;
    volatile int stop;
    uint64_t messages;
} flood_t;

static void *
dup_flood(void *arg)
{
    flood_t *f = arg;
    while (!f->stop) {
        send_ops(&f->c, f->ops, f->n);
        f->messages++;
    }
    return NULL;
}

/* Floods: a peer sending pings as fast as it can is cut off and backed off; a peer
 * re-sending ops bob already holds costs bob a hash lookup each and is absorbed, while
 * alice's syncs keep completing. */
static void
test_floods(void **state)
{
    (void) state;
    /* pinger: 1,000 pings in one go, never reading the answers */
    long mark = log_mark();
    client_t c;
    ASSERT_OK(client_open(&c, w.hostile[PINGER], "pinger"));
    for (int i = 0; i < 1000; i++) {
        send_pt(&c, msg_ping, sizeof(msg_ping));
    }
    assert_true(closed_by_bob(&c, 10000));
    client_close(&c);
    assert_true(log_has(mark, "pinger is flooding the session with empty messages"));
    assert_true(log_has(mark, "disconnecting pinger for 3 s"));

    /* duper: its own record, shared with bob, then the same 200 ops again and again */
    flood_t f;
    memset(&f, 0, sizeof(f));
    const kith_identity_t *dp = w.hostile[DUPER];
    uint8_t rec[KITH_REC_ID_LEN], nonce[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    kith_op_rec_id_make(dp->pk, nonce, rec);
    f.n = 200;
    f.ops = calloc(f.n, sizeof(kith_buf_t));
    assert_non_null(f.ops);
    uint64_t t = hlc_now();
    craft(&(craft_t){dp, dp->pk, rec, t, KITH_KIND_ORG, "duper's", -1, w.bob->id->pk, 0},
          &f.ops[0]);
    for (size_t i = 1; i < f.n; i++) {
        char note[32];
        snprintf(note, sizeof(note), "edit %zu", i);
        craft(&(craft_t){dp, dp->pk, rec, t + i, -1, note, -1, NULL, 0}, &f.ops[i]);
    }
    ASSERT_OK(client_open(&f.c, dp, "duper"));
    send_ops(&f.c, f.ops, f.n);
    assert_true(alive(&f.c));
    digest_t before, after;
    bob_digest(&before);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, dup_flood, &f), 0);
    uint64_t lat[10];
    int ok = 0;
    for (int i = 0; i < 10; i++) {
        ok += alice_sync(&lat[i]);
    }
    f.stop = 1;
    pthread_join(th, NULL);
    assert_true(alive(&f.c)); /* absorbed, not cut off */
    client_close(&f.c);
    for (size_t i = 0; i < f.n; i++) {
        kith_buf_close(&f.ops[i]);
    }
    free(f.ops);
    bob_digest(&after);
    assert_same_digest(&before, &after);
    qsort(lat, 10, sizeof(lat[0]), cmp_u64);
    print_message("during a flood of %llu batches of 200 duplicate ops (%llu ops), alice "
                  "completed %d of 10 syncs: fastest %llu ms, median %llu ms, slowest %llu ms\n",
                  (unsigned long long) f.messages, (unsigned long long) f.messages * 200, ok,
                  (unsigned long long) lat[0], (unsigned long long) lat[5],
                  (unsigned long long) lat[9]);
    assert_int_equal(ok, 10);
}

/* An eavesdropper who recorded one of alice's sessions replays it. Noise IK's first
 * message could be replayed; its time is no newer than the one bob accepted, so bob
 * answers it with random bytes, and the rest was encrypted under keys the replay cannot
 * have anyway, so nothing in it is accepted. The replay must not displace alice's
 * live session, and it must not get alice banned even when it follows message 1 with
 * garbage. */
static void
test_replayed_sessions(void **state)
{
    (void) state;
    /* The recorded session: alice creates a record shared with bob and sends it. */
    uint8_t rec[KITH_REC_ID_LEN];
    kith_node_new_record_id(w.alice, rec);
    kith_buf_t op;
    craft(&(craft_t){w.alice->id, w.alice->id->pk, rec, 0, KITH_KIND_PERSON, "recorded", -1,
                     w.bob->id->pk, 0},
          &op);
    client_t rec_c;
    ASSERT_OK(client_open(&rec_c, w.alice->id, "alice"));
    send_ops(&rec_c, &op, 1);
    assert_true(alive(&rec_c));
    kith_buf_close(&op);
    kith_buf_t recorded;
    kith_buf_init(&recorded);
    kith_buf_append(&recorded, rec_c.sent.data, rec_c.sent.len);
    size_t msg1_len = 2 + (((size_t) recorded.data[0] << 8) | recorded.data[1]);
    client_close(&rec_c);

    /* alice's live session, in use */
    client_t live;
    ASSERT_OK(client_open(&live, w.alice->id, "alice"));
    assert_true(alive(&live));
    digest_t before, after;
    bob_digest(&before);
    long mark = log_mark();

    /* 1. the whole recording, replayed */
    client_t r;
    client_tcp(&r);
    write_all(&r, recorded.data, recorded.len);
    assert_true(closed_by_bob(&r, 5000));
    client_close(&r);
    /* 2. message 1, then an empty frame (a protocol violation) */
    client_tcp(&r);
    write_all(&r, recorded.data, msg1_len);
    write_all(&r, (const uint8_t *) "\0\0", 2);
    assert_true(closed_by_bob(&r, 5000));
    client_close(&r);
    /* 3. message 1, then a full-size frame of garbage */
    client_tcp(&r);
    write_all(&r, recorded.data, msg1_len);
    send_garbage_frame(&r);
    assert_true(closed_by_bob(&r, 5000));
    client_close(&r);

    assert_true(alive(&live)); /* alice's session was not displaced */
    /* Each is logged as what it is (a replayed message 1: bob answered with random
     * bytes), and none as a session of alice's, or a ban. */
    assert_int_equal(log_count(mark, "claiming to be alice: a replayed message 1", 3), 3);
    assert_int_equal(log_count(mark, "session with alice", 0), 0);
    assert_int_equal(log_count(mark, "disconnecting alice", 0), 0);
    client_close(&live);
    bob_digest(&after);
    assert_same_digest(&before, &after);
    uint64_t ms = 0;
    assert_int_equal(alice_sync(&ms), 1); /* and alice is not banned */
    print_message("3 replays of a recorded session refused; alice's live session kept, her "
                  "next sync took %llu ms\n",
                  (unsigned long long) ms);
    kith_buf_close(&recorded);
}

/* A peer's row in bob's peer table (read over a second connection) and the newest
 * message-1 time bob keeps for it (0 when none). */
typedef struct {
    long long last_seen;
    char last_addr[128];
    uint64_t hello_ms;
} peer_row_t;

static void
bob_peer_row(const kith_identity_t *id, peer_row_t *out)
{
    char path[200], key[128] = "sync.hello.";
    snprintf(path, sizeof(path), "%s/kith.db", w.bob_home);
    sodium_bin2hex(key + strlen(key), 65, id->pk, KITH_PK_LEN);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof(*out));
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT last_seen, last_addr FROM peers WHERE key=?", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_blob(st, 1, id->pk, KITH_PK_LEN, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    out->last_seen = sqlite3_column_int64(st, 0);
    snprintf(out->last_addr, sizeof(out->last_addr), "%s", sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        assert_int_equal(sqlite3_column_bytes(st, 0), 8);
        const uint8_t *v = sqlite3_column_blob(st, 0);
        for (int i = 0; i < 8; i++) {
            out->hello_ms = (out->hello_ms << 8) | v[i];
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Waits up to 5 s for bob to store hello_ms as id's newest message-1 time. */
static int
bob_stored_hello(const kith_identity_t *id, uint64_t hello_ms)
{
    peer_row_t row;
    for (int tries = 0; tries < 100; tries++) {
        bob_peer_row(id, &row);
        if (row.hello_ms == hello_ms) {
            return 1;
        }
        usleep(50000);
    }
    print_error("bob keeps %llu as the newest message 1, not %llu\n",
                (unsigned long long) row.hello_ms, (unsigned long long) hello_ms);
    return 0;
}

enum { KNOWN, UNKNOWN, REPLAYED, ELSEWHERE, BACKED_OFF, N_KINDS };
static const char *const kind_names[N_KINDS] = {
    "(b) a trusted peer", "(a) an unknown key", "(c) a replayed message 1",
    "(d) a message 1 for another key", "(e) a peer backed off"};

/* Sends one message 1 of each kind on a fresh connection each; c[k] holds the open
 * connection, and bob's answer's length. *recorded_time: the time in KNOWN's message 1. */
static void
send_each_kind(client_t c[N_KINDS], uint64_t *recorded_time)
{
    static uint8_t msg[2 + KITH_NOISE_MAX_MSG], recorded[2 + KITH_NOISE_MAX_MSG];
    kith_identity_t *stranger = NULL, *other = NULL;
    ASSERT_OK(kith_identity_new(&stranger));
    ASSERT_OK(kith_identity_new(&other));
    const kith_identity_t *shape = w.hostile[SHAPE];
    uint8_t e_priv[KITH_NOISE_KEY_LEN];
    randombytes_buf(e_priv, sizeof(e_priv));
    for (int k = 0; k < N_KINDS; k++) {
        kith_noise_hs_t *hs = NULL;
        size_t len = 0;
        client_tcp(&c[k]);
        switch (k) {
        case KNOWN:
            *recorded_time = hello_time();
            len = message1_as(shape, w.bob->id->xpk, "shape", *recorded_time, e_priv, recorded,
                              sizeof(recorded), &hs);
            memcpy(msg, recorded, len);
            break;
        case UNKNOWN:
            len = message1(stranger, w.bob->id->xpk, "stranger", msg, sizeof(msg), &hs);
            break;
        case REPLAYED: /* the same bytes, and a state that could read a message 2 */
            len = message1_as(shape, w.bob->id->xpk, "shape", *recorded_time, e_priv, msg,
                              sizeof(msg), &hs);
            assert_memory_equal(msg, recorded, len);
            break;
        case ELSEWHERE:
            len = message1(shape, other->xpk, "shape", msg, sizeof(msg), &hs);
            break;
        case BACKED_OFF:
            len = message1(w.hostile[BANNED], w.bob->id->xpk, "banned", msg, sizeof(msg), &hs);
            break;
        }
        c[k].hello_rc = client_hello(&c[k], hs, msg, len);
        kith_noise_hs_free(hs);
    }
    kith_identity_free(stranger);
    kith_identity_free(other);
}

/* Whether bob holds the key an initiator dialled, knows the initiator, was sent this
 * message 1 before, or backs the peer off, must not show from outside. For each of the
 * five kinds of message 1 bob answers with as many bytes as message 2 (random bytes but
 * for the trusted peer's), and the connection ends the same way for all: when the
 * initiator's first transport message fails to decrypt, or at the handshake timeout.
 * None but the trusted peer's opens a session; none changes bob's ops, records, or the
 * peer's last-seen time, address or newest message-1 time, and none earns a strike. */
static void
test_handshakes_look_alike(void **state)
{
    (void) state;
    const size_t msg2_len = 2 + KITH_NOISE_KEY_LEN + KITH_HELLO_LEN + KITH_NOISE_TAG_LEN;
    static const uint8_t junk[] = {0xc1};
    client_t c[N_KINDS];
    /* Part 0: each message 1 followed by a frame that is not the initiator's first
     * transport message; part 1: followed by silence. */
    for (int part = 0; part < 2; part++) {
        /* banned breaks the protocol: backed off for 3 s, then 6 s (a second strike). */
        long mark = log_mark();
        int rc = KITH_EAUTH;
        for (int tries = 0; tries < 50 && rc != KITH_OK; tries++) {
            if ((rc = client_open(&c[0], w.hostile[BANNED], "banned")) != KITH_OK) {
                client_close(&c[0]); /* still backed off from part 0 */
                usleep(200000);
            }
        }
        ASSERT_OK(rc);
        uint64_t banned_time = w.hello_last;
        send_pt(&c[0], junk, sizeof(junk));
        assert_true(closed_by_bob(&c[0], 5000));
        client_close(&c[0]);
        assert_true(log_has(mark, part == 0 ? "disconnecting banned for 3 s"
                                            : "disconnecting banned for 6 s"));

        /* Its message 1 was admitted: bob stores its time within a second. */
        assert_true(bob_stored_hello(w.hostile[BANNED], banned_time));
        digest_t before, after;
        peer_row_t shape_before, banned_before, row;
        bob_digest(&before);
        bob_peer_row(w.hostile[SHAPE], &shape_before);
        bob_peer_row(w.hostile[BANNED], &banned_before);
        mark = log_mark();
        uint64_t recorded_time = 0;
        send_each_kind(c, &recorded_time);
        if (part == 0) {
            for (int k = 0; k < N_KINDS; k++) {
                print_message("%-34s answered with %zu bytes, %s\n", kind_names[k], c[k].answer_len,
                              c[k].hello_rc == KITH_OK ? "a message 2" : "not a message 2");
            }
            for (int k = 0; k < N_KINDS; k++) {
                ASSERT_EQ(c[k].answer_len, msg2_len);
                /* Only the trusted peer's fresh message 1 gets a message 2 it can read. */
                ASSERT_EQ(c[k].hello_rc, k == KNOWN ? KITH_OK : KITH_EAUTH);
                send_garbage_frame(&c[k]);
                assert_true(closed_by_bob(&c[k], 5000));
                client_close(&c[k]);
            }
        } else {
            /* All end at the handshake timeout, none before. */
            usleep((KITH_HANDSHAKE_MS - 1500) * 1000);
            for (int k = 0; k < N_KINDS; k++) {
                ASSERT_EQ(c[k].answer_len, msg2_len);
                ASSERT_EQ(c[k].hello_rc, k == KNOWN ? KITH_OK : KITH_EAUTH);
                assert_false(closed_by_bob(&c[k], 0));
            }
            for (int k = 0; k < N_KINDS; k++) {
                assert_true(closed_by_bob(&c[k], 4000));
                client_close(&c[k]);
            }
            assert_int_equal(log_count(mark, "dropped 127.0.0.1", 5), 5);
        }
        /* The trusted peer's time is kept (stored at the next tick), and only its. */
        assert_true(bob_stored_hello(w.hostile[SHAPE], recorded_time));

        /* What bob logged: each as what it is. */
        assert_int_equal(log_count(mark, "answered a handshake from shape", 1), 1);
        assert_int_equal(log_count(mark, "not a trusted peer, or not made for this node's key", 2),
                         2);
        assert_int_equal(log_count(mark, "claiming to be shape: a replayed message 1", 1), 1);
        assert_int_equal(log_count(mark, "refused banned: backed off after misbehaving", 1), 1);
        /* No session, no strike, nothing stored. */
        assert_int_equal(log_count(mark, "session with", 0), 0);
        assert_int_equal(log_count(mark, "disconnecting", 0), 0);
        bob_digest(&after);
        assert_same_digest(&before, &after);
        bob_peer_row(w.hostile[SHAPE], &row);
        assert_int_equal(row.last_seen, shape_before.last_seen);
        assert_string_equal(row.last_addr, shape_before.last_addr);
        bob_peer_row(w.hostile[BANNED], &row);
        assert_int_equal(row.last_seen, banned_before.last_seen);
        assert_string_equal(row.last_addr, banned_before.last_addr);
        assert_int_equal(row.hello_ms, banned_before.hello_ms);
    }
    /* The garbage after the trusted peer's message 1 cost it nothing: it is served. */
    ASSERT_OK(client_open(&c[0], w.hostile[SHAPE], "shape"));
    assert_true(alive(&c[0]));
    client_close(&c[0]);
}

/* bob keeps the newest message-1 time of each peer in his store: a message 1 of shape's
 * that he admitted, replayed after his daemon (and node) restarted, gets a decoy too. */
static void
test_replay_refused_after_restart(void **state)
{
    (void) state;
    static uint8_t recorded[2 + KITH_NOISE_MAX_MSG];
    const kith_identity_t *shape = w.hostile[SHAPE];
    kith_noise_hs_t *hs = NULL;
    client_t c;
    client_tcp(&c);
    uint8_t e_priv[KITH_NOISE_KEY_LEN];
    randombytes_buf(e_priv, sizeof(e_priv));
    uint64_t t = hello_time();
    size_t len =
        message1_as(shape, w.bob->id->xpk, "shape", t, e_priv, recorded, sizeof(recorded), &hs);
    ASSERT_OK(client_hello(&c, hs, recorded, len));
    kith_noise_hs_free(hs);
    client_close(&c);
    assert_true(bob_stored_hello(shape, t));

    bob_stop();
    char err[256] = "";
    kith_node_close(w.bob);
    ASSERT_OK(kith_node_open(w.bob_home, NULL, &w.bob, err, sizeof(err)));
    long mark = log_mark();
    bob_start();

    /* The same message 1 again, with the state that could read a message 2: it gets
     * bytes it cannot read. */
    client_tcp(&c);
    static uint8_t again[2 + KITH_NOISE_MAX_MSG];
    ASSERT_EQ(message1_as(shape, w.bob->id->xpk, "shape", t, e_priv, again, sizeof(again), &hs),
              len);
    assert_memory_equal(again, recorded, len);
    ASSERT_ERR(client_hello(&c, hs, again, len), KITH_EAUTH);
    kith_noise_hs_free(hs);
    ASSERT_EQ(c.answer_len, 2 + KITH_NOISE_KEY_LEN + KITH_HELLO_LEN + KITH_NOISE_TAG_LEN);
    client_close(&c);
    assert_true(log_has(mark, "claiming to be shape: a replayed message 1"));
    /* shape itself, with a fresh message 1, is served. */
    ASSERT_OK(client_open(&c, shape, "shape"));
    assert_true(alive(&c));
    client_close(&c);
}

/* A peer removed while its session's handshake is still unconfirmed: bob answered its
 * message 1, and then the user runs 'kith peer rm' (here: the same library call on a
 * second connection to bob's store, then the CLI's poke). The daemon must end that
 * session too, so that nothing the removed peer sends afterwards is taken as its. leaver
 * was one of bob's devices, whose ops bob takes without an audience check. */
static void
test_removed_while_unconfirmed(void **state)
{
    (void) state;
    const kith_identity_t *lv = w.hostile[LEAVER];
    uint8_t rec[KITH_REC_ID_LEN], nonce[8] = {7, 7, 7, 7, 7, 7, 7, 7};
    kith_op_rec_id_make(lv->pk, nonce, rec);
    kith_buf_t op;
    craft(&(craft_t){lv, lv->pk, rec, 0, KITH_KIND_PERSON, "after removal", -1, NULL, 0}, &op);
    digest_t before, after;
    bob_digest(&before);
    long mark = log_mark();
    client_t c;
    ASSERT_OK(client_open(&c, lv, "leaver")); /* message 2 read; no transport message yet */
    assert_true(log_has(mark, "answered a handshake from leaver"));

    kith_node_t *cli = NULL;
    char err[256] = "";
    ASSERT_OK(kith_node_open(w.bob_home, NULL, &cli, err, sizeof(err)));
    ASSERT_OK(kith_store_begin(cli->store));
    ASSERT_OK(kith_node_peer_remove(cli, "leaver", kith_hlc_now_ms(), NULL));
    ASSERT_OK(kith_store_commit(cli->store));
    kith_node_close(cli);
    kith_buf_t reply;
    kith_buf_init(&reply);
    ASSERT_OK(kith_control_call(w.bob_home, "poke", &reply));
    kith_buf_close(&reply);
    assert_true(log_has(mark, "closing the session of a peer no longer trusted (its handshake "
                              "was unconfirmed)"));

    /* Whatever it sends now goes nowhere: bob has hung up. */
    send_ops(&c, &op, 1);
    send_pt(&c, msg_ping, sizeof(msg_ping));
    assert_true(closed_by_bob(&c, 5000));
    client_close(&c);
    kith_buf_close(&op);
    bob_digest(&after);
    assert_same_digest(&before, &after);
    assert_int_equal(log_count(mark, "session with leaver", 0), 0);
    /* And it cannot come back. */
    ASSERT_ERR(client_open(&c, lv, "leaver"), KITH_EAUTH);
    client_close(&c);
}

/* A session keeps the self flag it began with, and that flag lets private ops through:
 * when 'kith peer edit --self' (or --not-self) changes it, the daemon ends the peer's
 * session so that it reconnects under the new one. */
static void
test_self_flag_change_ends_session(void **state)
{
    (void) state;
    const kith_identity_t *dv = w.hostile[DEVICE];
    long mark = log_mark();
    client_t c;
    ASSERT_OK(client_open(&c, dv, "device"));
    assert_true(alive(&c)); /* confirmed, as an ordinary peer */

    kith_node_t *cli = NULL;
    char err[256] = "";
    ASSERT_OK(kith_node_open(w.bob_home, NULL, &cli, err, sizeof(err)));
    kith_peer_t p;
    ASSERT_OK(kith_store_peer_get(cli->store, "device", &p));
    p.self = 1;
    ASSERT_OK(kith_store_begin(cli->store));
    ASSERT_OK(kith_node_peer_edit(cli, "device", &p, kith_hlc_now_ms()));
    ASSERT_OK(kith_store_commit(cli->store));
    kith_peer_close(&p);
    kith_node_close(cli);
    kith_buf_t reply;
    kith_buf_init(&reply);
    ASSERT_OK(kith_control_call(w.bob_home, "poke", &reply));
    kith_buf_close(&reply);
    assert_true(log_has(mark, "closing the session of device: it is now one of your devices"));
    assert_true(closed_by_bob(&c, 5000));
    client_close(&c);
    /* It reconnects, and is served. */
    ASSERT_OK(client_open(&c, dv, "device"));
    assert_true(alive(&c));
    client_close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_ops),
        cmocka_unit_test(test_malformed_messages_ban),
        cmocka_unit_test(test_backoff_doubles),
        cmocka_unit_test(test_floods),
        cmocka_unit_test(test_replayed_sessions),
        cmocka_unit_test(test_handshakes_look_alike),
        cmocka_unit_test(test_removed_while_unconfirmed),
        cmocka_unit_test(test_self_flag_change_ends_session),
        cmocka_unit_test(test_backdated_edit_refused),
        cmocka_unit_test(test_replay_refused_after_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
