/*
 * Tests for sync sessions (src/sync/session.c) over real nodes: every test creates nodes
 * in temporary directories, binds each to the store callbacks of src/net/syncenv.c and
 * runs two kith_session_t against each other in memory, moving bytes from one side's out
 * buffer into the other's kith_session_receive().
 *
 * Covered: convergence and entitlement (shared, unshared, private, self peers, relays),
 * random convergence against an expectation computed from the share pattern alone, cost
 * after a large first sync, refused handshakes, tampered and fragmented frames, hostile
 * messages through a real channel (a hand-made initiator), rekeying, authorization at the
 * receiver (kith_store_apply_remote), concurrent edits, live pushes, the timers, and one
 * one-shot sync through the daemon over loopback. Tests whose comment starts with BUG
 * document defects found in the library (what was wrong, input, expected and actual);
 * they called skip() until the defect was fixed.
 * KITH_TEST_LOG=1 shows the sessions' log lines; KITH_TEST_SEED reseeds the random test;
 * KITH_TEST_FILTER runs the tests whose name matches (cmocka_set_test_filter).
 */
#include "check.h"

#include <dirent.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <msgpack.h>
#include <sodium.h>

#include "crypto/noise.h"
#include "kith/kith.h"
#include "model/schema.h"
#include "net/daemon.h"
#include "net/syncenv.h"
#include "node/node.h"
#include "store/store.h"
#include "sync/session.h"
#include "util/hlc.h"

#define T0 UINT64_C(1700000000000) /* session clock at the start of every link, ms */
/* Message 2, or the decoy that stands in for it, framed: e, payload, tag. */
#define DECOY_LEN (2 + KITH_NOISE_KEY_LEN + KITH_HELLO_LEN + KITH_NOISE_TAG_LEN)
#define PULL_MAX  ((size_t) 1 << 20) /* bytes one pull may produce */

/* The wall clock handed to kith_node_apply_local: one millisecond per op, so that every
 * op of a test has a distinct, increasing time. */
static uint64_t g_now = T0;

static uint64_t
next_now(void)
{
    return ++g_now;
}

/* ---- nodes -------------------------------------------------------------------------- */

typedef struct {
    char dir[64];
    kith_node_t *n;
    kith_syncenv_t se; /* env.ctx points here: the struct must not move */
    kith_session_env_t env;
} tnode_t;

/* Removes a node's directory; it holds only files (key, database, WAL). */
static void
rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Session and store log lines, shown when KITH_TEST_LOG is set. */
static void
log_line(void *ctx, int level, const char *line)
{
    fprintf(stderr, "  [%s %d] %s\n", (const char *) ctx, level, line);
}

static tnode_t *
tnode_new(const char *name)
{
    tnode_t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    snprintf(t->dir, sizeof(t->dir), "/tmp/kith-session-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    char err[256] = "";
    int rc = kith_node_create(t->dir, name, NULL, err, sizeof(err));
    if (rc == KITH_OK) {
        rc = kith_node_open(t->dir, NULL, &t->n, err, sizeof(err));
    }
    if (rc != KITH_OK) {
        print_error("node %s: %s\n", t->dir, err);
    }
    ASSERT_OK(rc);
    t->se.node = t->n;
    if (getenv("KITH_TEST_LOG") != NULL) {
        t->se.log = log_line;
        t->se.log_ctx = t->dir;
    }
    kith_syncenv_bind(&t->se, &t->env);
    return t;
}

static void
tnode_free(tnode_t *t)
{
    if (t == NULL) {
        return;
    }
    kith_node_close(t->n);
    rm_dir(t->dir);
    free(t);
}

static const uint8_t *
pk(const tnode_t *t)
{
    return t->n->id->pk;
}

static void
add_peer(tnode_t *t, const char *name, const tnode_t *other, int self)
{
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = (char *) name;
    memcpy(p.key, pk(other), KITH_PK_LEN);
    p.groups = "";
    p.addr = "";
    p.last_addr = "";
    p.self = self;
    p.added_ms = g_now;
    ASSERT_OK(kith_store_begin(t->n->store));
    ASSERT_OK(kith_store_peer_add(t->n->store, &p));
    ASSERT_OK(kith_store_commit(t->n->store));
}

static void
set_str(kith_op_t *op, const char *field, const char *text)
{
    kith_value_t v = {0};
    ASSERT_OK(kith_value_set_str(&v, text, strlen(text)));
    ASSERT_OK(kith_op_set_field(op, field, &v));
    kith_value_clear(&v);
}

/* Creates a record owned by t inside the caller's transaction, the way `kith add` does:
 * a creation op, an optional private op, share specs and the audience op they imply. */
static void
make_record_txn(tnode_t *t, uint8_t id[KITH_REC_ID_LEN], const char *name, const char *note,
                const char *secret, const char *const *targets, size_t n_targets, int role)
{
    kith_node_new_record_id(t->n, id);
    kith_op_t op;
    kith_op_init(&op);
    memcpy(op.rec, id, KITH_REC_ID_LEN);
    memcpy(op.owner, pk(t), KITH_PK_LEN);
    op.kind = KITH_KIND_PERSON;
    set_str(&op, "name", name);
    if (note != NULL) {
        set_str(&op, "note", note);
    }
    ASSERT_OK(kith_node_apply_local(t->n, &op, next_now(), NULL));
    kith_op_close(&op);
    if (secret != NULL) {
        kith_op_init(&op);
        memcpy(op.rec, id, KITH_REC_ID_LEN);
        memcpy(op.owner, pk(t), KITH_PK_LEN);
        op.private = 1;
        set_str(&op, "politics", secret);
        ASSERT_OK(kith_node_apply_local(t->n, &op, next_now(), NULL));
        kith_op_close(&op);
    }
    for (size_t i = 0; i < n_targets; i++) {
        kith_share_target_t target;
        ASSERT_OK(kith_node_share_target(t->n, targets[i], &target));
        ASSERT_OK(kith_store_share_set(t->n->store, id, &target, role));
    }
    if (n_targets > 0) {
        ASSERT_OK(kith_node_update_audience(t->n, id, next_now(), NULL));
    }
}

static void
make_record(tnode_t *t, uint8_t id[KITH_REC_ID_LEN], const char *name, const char *note,
            const char *secret, const char *const *targets, size_t n_targets, int role)
{
    ASSERT_OK(kith_store_begin(t->n->store));
    make_record_txn(t, id, name, note, secret, targets, n_targets, role);
    ASSERT_OK(kith_store_commit(t->n->store));
}

/* One op by t on a record owned by owner, setting field to text (adding it, for a list
 * field); hash and hlc out. */
static void
edit_record(tnode_t *t, const uint8_t id[KITH_REC_ID_LEN], const uint8_t owner[KITH_PK_LEN],
            const char *field, const char *text, int private, uint8_t *hash, uint64_t *hlc)
{
    kith_op_t op;
    kith_op_init(&op);
    memcpy(op.rec, id, KITH_REC_ID_LEN);
    memcpy(op.owner, owner, KITH_PK_LEN);
    op.private = private;
    if (kith_schema_is_list(field)) {
        ASSERT_OK(kith_op_add_item(&op, field, text));
    } else {
        set_str(&op, field, text);
    }
    ASSERT_OK(kith_store_begin(t->n->store));
    ASSERT_OK(kith_node_apply_local(t->n, &op, next_now(), hash));
    ASSERT_OK(kith_store_commit(t->n->store));
    if (hlc != NULL) {
        *hlc = op.hlc;
    }
    kith_op_close(&op);
}

static uint64_t
count_records(tnode_t *t)
{
    uint64_t n = 0;
    ASSERT_OK(kith_store_count_records(t->n->store, &n));
    return n;
}

static int
has_record(tnode_t *t, const uint8_t id[KITH_REC_ID_LEN])
{
    kith_record_t r;
    int rc = kith_store_record_get(t->n->store, id, &r);
    kith_record_close(&r);
    if (rc != KITH_OK && rc != KITH_ENOTFOUND) {
        ASSERT_OK(rc);
    }
    return rc == KITH_OK;
}

/* The string value of a field ("" if absent) into out. */
static void
field_text(tnode_t *t, const uint8_t id[KITH_REC_ID_LEN], const char *field, char *out, size_t cap)
{
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(t->n->store, id, &r));
    const kith_rfield_t *f = kith_record_field(&r, field);
    snprintf(out, cap, "%s", f != NULL && f->value.type == KITH_V_STR ? f->value.str : "");
    kith_record_close(&r);
}

typedef struct {
    uint8_t (*hashes)[KITH_HASH_LEN];
    size_t n, cap;
} hashlist_t;

static void
hashlist_add(hashlist_t *h, const uint8_t hash[KITH_HASH_LEN])
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 64;
        h->hashes = realloc(h->hashes, h->cap * KITH_HASH_LEN);
        assert_non_null(h->hashes);
    }
    memcpy(h->hashes[h->n++], hash, KITH_HASH_LEN);
}

static int
cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, KITH_HASH_LEN);
}

static int
collect_op(void *ctx, const uint8_t *signed_op, size_t len, const kith_op_t *op,
           const uint8_t hash[KITH_HASH_LEN])
{
    (void) signed_op;
    (void) len;
    (void) op;
    hashlist_add(ctx, hash);
    return KITH_OK;
}

static int
collect_record_ops(void *ctx, const kith_record_t *r)
{
    void **c = ctx;
    return kith_store_foreach_op(c[0], r->id, collect_op, c[1]);
}

/* Every op hash held by t, sorted. */
static void
all_ops(tnode_t *t, hashlist_t *out)
{
    void *c[2] = {t->n->store, out};
    ASSERT_OK(kith_store_foreach_record(t->n->store, collect_record_ops, c));
    qsort(out->hashes, out->n, KITH_HASH_LEN, cmp_hash);
}

/* ---- two sessions in memory --------------------------------------------------------- */

typedef struct link link_t;
/* Called with everything side `from` wrote before it is delivered; may change it. */
typedef void (*link_hook_fn)(link_t *l, int from, kith_buf_t *data);

struct link {
    kith_session_t *s[2]; /* 0: initiator, 1: responder */
    kith_buf_t out[2];    /* bytes each side wrote and the other has not received */
    int err[2];           /* first error returned by side i's receive */
    uint64_t now;         /* session clock, ms */
    size_t chunk;         /* deliver in pieces of this many bytes; 0: all at once */
    link_hook_fn hook;
    void *hook_ctx;
    uint64_t frames[2]; /* frames seen by the hook */
};

/* a dials b (or the key `dial`, if given); a's first handshake message is queued. */
static void
link_open(link_t *l, tnode_t *a, tnode_t *b, const uint8_t *dial)
{
    memset(l, 0, sizeof(*l));
    kith_buf_init(&l->out[0]);
    kith_buf_init(&l->out[1]);
    l->now = T0;
    ASSERT_OK(
        kith_session_new(&l->s[0], &a->env, a->n->id, a->n->name, 1, dial ? dial : pk(b), l->now));
    ASSERT_OK(kith_session_new(&l->s[1], &b->env, b->n->id, b->n->name, 0, NULL, l->now));
    ASSERT_OK(kith_session_start(l->s[0], &l->out[0]));
}

static void
link_close(link_t *l)
{
    kith_session_free(l->s[0]);
    kith_session_free(l->s[1]);
    kith_buf_close(&l->out[0]);
    kith_buf_close(&l->out[1]);
}

/* Hands everything side `from` wrote to the other side; returns the receiver's result. */
static int
deliver(link_t *l, int from)
{
    int to = 1 - from;
    kith_buf_t data = l->out[from];
    kith_buf_init(&l->out[from]);
    if (l->hook != NULL && data.len > 0) {
        l->hook(l, from, &data);
    }
    int rc = KITH_OK;
    size_t chunk = l->chunk ? l->chunk : data.len;
    for (size_t off = 0; off < data.len && rc == KITH_OK; off += chunk) {
        size_t n = data.len - off < chunk ? data.len - off : chunk;
        rc = kith_session_receive(l->s[to], data.data + off, n, &l->out[to], l->now);
    }
    kith_buf_close(&data);
    if (rc != KITH_OK && l->err[to] == KITH_OK) {
        l->err[to] = rc;
    }
    return rc;
}

#define LINK_STALLED 1 /* link_run: nothing moves but the sessions are not synced */

/* Pulls and delivers until both sides are synced and quiet. Returns KITH_OK, the first
 * error of a session call, or LINK_STALLED. */
static int
link_run(link_t *l, int max_rounds)
{
    for (int round = 0; round < max_rounds; round++) {
        for (int i = 0; i < 2; i++) {
            int rc = kith_session_pull(l->s[i], &l->out[i], PULL_MAX);
            if (rc != KITH_OK) {
                return rc;
            }
        }
        if (l->out[0].len == 0 && l->out[1].len == 0) {
            if (kith_session_is_synced(l->s[0]) && kith_session_is_synced(l->s[1])) {
                return KITH_OK;
            }
            return LINK_STALLED;
        }
        for (int i = 0; i < 2; i++) {
            int rc = deliver(l, i);
            if (rc != KITH_OK) {
                return rc;
            }
        }
    }
    return LINK_STALLED;
}

/* One complete sync, a dialling b; the initiator's and responder's figures out. */
static int
sync_pair(tnode_t *a, tnode_t *b, kith_session_stats_t *sa, kith_session_stats_t *sb)
{
    link_t l;
    link_open(&l, a, b, NULL);
    int rc = link_run(&l, 10000);
    if (sa != NULL) {
        *sa = *kith_session_stats(l.s[0]);
    }
    if (sb != NULL) {
        *sb = *kith_session_stats(l.s[1]);
    }
    link_close(&l);
    return rc;
}

/* ---- a hand-made initiator, to send crafted plaintexts through a real channel ------- */

typedef struct {
    kith_noise_cs_t tx, rx;
    uint64_t now; /* the clock raw_send() gives the session; 0 means T0 */
} raw_chan_t;

/* A hello {"name": "raw", "time": hello_ms, "versions": [version]} (no time when 0) into
 * out; returns its length. */
static size_t
raw_hello(uint8_t *out, size_t cap, int version, uint64_t hello_ms)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, hello_ms ? 3 : 2);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "name", 4);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "raw", 3);
    if (hello_ms) {
        msgpack_pack_str(&pk, 4);
        msgpack_pack_str_body(&pk, "time", 4);
        msgpack_pack_uint64(&pk, hello_ms);
    }
    msgpack_pack_str(&pk, 8);
    msgpack_pack_str_body(&pk, "versions", 8);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, version);
    assert_true(sb.size <= cap);
    memcpy(out, sb.data, sb.size);
    size_t n = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

/* A message-1 time newer than every one before (the wall clock, kept increasing). */
static uint64_t
raw_time(void)
{
    static uint64_t last;
    uint64_t t = kith_hlc_now_ms();
    last = t > last ? t : last + 1;
    return last;
}

/* A framed IK message 1 from id to the X25519 key resp_x carrying hello (hello_len
 * bytes) into msg; returns its length, header included. *hs_out (may be NULL) keeps the
 * initiator's state. */
static size_t
raw_message1(const kith_identity_t *id, const uint8_t resp_x[KITH_PK_LEN], const uint8_t *hello,
             size_t hello_len, uint8_t *msg, size_t cap, kith_noise_hs_t **hs_out)
{
    kith_noise_hs_t *hs = NULL;
    size_t len = 0;
    ASSERT_OK(kith_noise_hs_new(&hs, KITH_NOISE_IK, 1, (const uint8_t *) "kith sync", 9, id->xsk,
                                resp_x));
    ASSERT_OK(kith_noise_hs_write(hs, hello, hello_len, msg + 2, cap - 2, &len));
    msg[0] = (uint8_t) (len >> 8);
    msg[1] = (uint8_t) len;
    if (hs_out != NULL) {
        *hs_out = hs;
    } else {
        kith_noise_hs_free(hs);
    }
    return len + 2;
}

/* Runs IK as identity `id` against the responder session r (whose node is `resp`). */
static void
raw_open(raw_chan_t *c, const kith_identity_t *id, tnode_t *resp, kith_session_t *r)
{
    kith_noise_hs_t *hs = NULL;
    uint8_t msg[2 + KITH_NOISE_MAX_MSG], payload[256], hello[128];
    size_t len = 0, plen = 0;
    size_t hlen = raw_hello(hello, sizeof(hello), KITH_PROTO_VERSION, raw_time());
    len = raw_message1(id, resp->n->id->xpk, hello, hlen, msg, sizeof(msg), &hs) - 2;
    kith_buf_t out;
    kith_buf_init(&out);
    ASSERT_OK(kith_session_receive(r, msg, len + 2, &out, T0));
    assert_true(out.len > 2);
    size_t flen = ((size_t) out.data[0] << 8) | out.data[1];
    ASSERT_EQ(flen + 2, out.len);
    ASSERT_OK(kith_noise_hs_read(hs, out.data + 2, flen, payload, sizeof(payload), &plen));
    ASSERT_OK(kith_noise_hs_split(hs, &c->tx, &c->rx));
    kith_noise_hs_free(hs);
    kith_buf_close(&out);
    assert_true(kith_session_is_open(r));
}

/* Encrypts and frames one plaintext, feeds it to r; r's replies go to out. */
static int
raw_send(raw_chan_t *c, kith_session_t *r, const void *pt, size_t len, kith_buf_t *out)
{
    uint8_t *frame = malloc(len + 2 + KITH_NOISE_TAG_LEN);
    assert_non_null(frame);
    size_t ct = 0;
    ASSERT_OK(
        kith_noise_cs_encrypt(&c->tx, NULL, 0, pt, len, frame + 2, len + KITH_NOISE_TAG_LEN, &ct));
    if (c->tx.n % KITH_REKEY_EVERY == 0) {
        ASSERT_OK(kith_noise_cs_rekey(&c->tx)); /* proto/SYNC.md "Channel" */
    }
    frame[0] = (uint8_t) (ct >> 8);
    frame[1] = (uint8_t) ct;
    int rc = kith_session_receive(r, frame, ct + 2, out, c->now ? c->now : T0);
    free(frame);
    return rc;
}

/* Decrypts the first frame of `in` (what r wrote) into pt; returns its length. */
static size_t
raw_read(raw_chan_t *c, const kith_buf_t *in, uint8_t *pt, size_t cap)
{
    assert_true(in->len > 2);
    size_t flen = ((size_t) in->data[0] << 8) | in->data[1];
    assert_true(flen + 2 <= in->len);
    size_t n = 0;
    ASSERT_OK(kith_noise_cs_decrypt(&c->rx, NULL, 0, in->data + 2, flen, pt, cap, &n));
    if (c->rx.n % KITH_REKEY_EVERY == 0) {
        ASSERT_OK(kith_noise_cs_rekey(&c->rx));
    }
    return n;
}

/* ---- tests: convergence ------------------------------------------------------------- */

static void
test_two_nodes_converge(void **state)
{
    (void) state;
    tnode_t *a = tnode_new("alice"), *b = tnode_new("bob"), *c = tnode_new("carol");
    add_peer(a, "bob", b, 0);
    add_peer(a, "carol", c, 0);
    add_peer(b, "alice", a, 0);
    const char *to_bob[] = {"bob"}, *to_carol[] = {"carol"};
    uint8_t shared[KITH_REC_ID_LEN], reader[KITH_REC_ID_LEN], carol_only[KITH_REC_ID_LEN],
        unshared[KITH_REC_ID_LEN], bobs[KITH_REC_ID_LEN];
    make_record(a, shared, "Shared", "NOTE-1", "SECRET-1", to_bob, 1, KITH_ROLE_EDITOR);
    make_record(a, reader, "Read Only", NULL, NULL, to_bob, 1, KITH_ROLE_READER);
    make_record(a, carol_only, "Carol Only", NULL, NULL, to_carol, 1, KITH_ROLE_EDITOR);
    make_record(a, unshared, "Unshared", NULL, "SECRET-2", NULL, 0, 0);
    const char *to_alice[] = {"alice"};
    make_record(b, bobs, "From Bob", NULL, NULL, to_alice, 1, KITH_ROLE_READER);

    kith_session_stats_t sa, sb;
    ASSERT_OK(sync_pair(a, b, &sa, &sb));
    assert_true(sa.synced && sb.synced);
    /* shared: create + private + audience = 2 public ops; reader: 2; bob's record: 2. */
    ASSERT_EQ(sa.ops_sent, 4);
    ASSERT_EQ(sb.ops_received, 4);
    ASSERT_EQ(sb.ops_sent, 2);
    ASSERT_EQ(sa.ops_received, 2);
    ASSERT_EQ(sa.ops_rejected + sb.ops_rejected, 0);
    ASSERT_EQ(sa.bytes_out, sb.bytes_in);
    ASSERT_EQ(sb.bytes_out, sa.bytes_in);

    assert_true(has_record(b, shared));
    assert_true(has_record(b, reader));
    assert_false(has_record(b, carol_only));
    assert_false(has_record(b, unshared));
    assert_true(has_record(a, bobs));
    ASSERT_EQ(count_records(b), 3);
    char text[64];
    field_text(b, shared, "note", text, sizeof(text));
    ASSERT_STREQ(text, "NOTE-1");
    field_text(b, shared, "politics", text, sizeof(text));
    ASSERT_STREQ(text, ""); /* the private field stayed home */
    field_text(a, shared, "politics", text, sizeof(text));
    ASSERT_STREQ(text, "SECRET-1");
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(b->n->store, shared, &r));
    assert_memory_equal(r.owner, pk(a), KITH_PK_LEN);
    ASSERT_EQ(kith_record_role(&r, pk(b)), KITH_ROLE_EDITOR);
    kith_record_close(&r);

    /* A second sync finds nothing to do. */
    ASSERT_OK(sync_pair(a, b, &sa, &sb));
    ASSERT_EQ(sa.ops_sent + sa.ops_received + sb.ops_sent + sb.ops_received, 0);
    tnode_free(a);
    tnode_free(b);
    tnode_free(c);
}

/* A self peer (one of the user's own devices) gets everything, private ops included. */
static void
test_self_peer_gets_private(void **state)
{
    (void) state;
    tnode_t *a = tnode_new("laptop"), *b = tnode_new("phone");
    add_peer(a, "phone", b, 1);
    add_peer(b, "laptop", a, 1);
    uint8_t id[KITH_REC_ID_LEN];
    make_record(a, id, "Mine", NULL, "SECRET-SELF", NULL, 0, 0);
    ASSERT_OK(sync_pair(b, a, NULL, NULL));
    char text[64];
    field_text(b, id, "politics", text, sizeof(text));
    ASSERT_STREQ(text, "SECRET-SELF");
    tnode_free(a);
    tnode_free(b);
}

static void
test_relay(void **state)
{
    (void) state;
    tnode_t *a = tnode_new("alice"), *b = tnode_new("bob"), *c = tnode_new("carol");
    add_peer(a, "bob", b, 0);
    add_peer(a, "carol", c, 0);
    add_peer(b, "alice", a, 0);
    add_peer(b, "carol", c, 0);
    add_peer(c, "bob", b, 0);
    const char *both[] = {"bob", "carol"}, *bob_only[] = {"bob"};
    uint8_t r1[KITH_REC_ID_LEN], r2[KITH_REC_ID_LEN];
    make_record(a, r1, "R1", "RELAYED", NULL, both, 2, KITH_ROLE_READER);
    make_record(a, r2, "R2", "BOB-ONLY", NULL, bob_only, 1, KITH_ROLE_EDITOR);
    ASSERT_OK(sync_pair(a, b, NULL, NULL));
    assert_true(has_record(b, r1) && has_record(b, r2));
    kith_session_stats_t sb, sc;
    ASSERT_OK(sync_pair(b, c, &sb, &sc));
    assert_true(has_record(c, r1));
    assert_false(has_record(c, r2));
    ASSERT_EQ(sc.ops_rejected, 0);
    ASSERT_EQ(count_records(c), 1);
    /* And the other direction: carol dialling bob relays nothing more. */
    ASSERT_OK(sync_pair(c, b, &sc, &sb));
    assert_false(has_record(c, r2));
    ASSERT_EQ(sc.ops_received, 0);
    tnode_free(a);
    tnode_free(b);
    tnode_free(c);
}

/* ---- random convergence ------------------------------------------------------------- */

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

enum { SHARE_NONE, SHARE_PEER_READ, SHARE_PEER_EDIT, SHARE_THIRD, SHARE_PEER_THIRD };

typedef struct {
    uint8_t id[KITH_REC_ID_LEN];
    int owner;    /* 0 or 1 */
    int share;    /* SHARE_* */
    int priv_ops; /* private ops on the record, by anyone */
} rrec_t;

typedef struct {
    uint8_t hash[KITH_HASH_LEN];
    size_t rec; /* index into the records */
    int author; /* 0 or 1 */
    int private;
} rop_t;

typedef struct {
    rrec_t *recs;
    size_t n_recs;
    rop_t *ops;
    size_t n_ops, cap_ops;
} world_t;

static void
world_op(world_t *w, const uint8_t hash[KITH_HASH_LEN], size_t rec, int author, int private)
{
    if (w->n_ops == w->cap_ops) {
        w->cap_ops = w->cap_ops ? 2 * w->cap_ops : 256;
        w->ops = realloc(w->ops, w->cap_ops * sizeof(*w->ops));
        assert_non_null(w->ops);
    }
    rop_t *o = &w->ops[w->n_ops++];
    memcpy(o->hash, hash, KITH_HASH_LEN);
    o->rec = rec;
    o->author = author;
    o->private = private;
    w->recs[rec].priv_ops += private;
}

static int
peer_entitled(const rrec_t *r, int side)
{
    return r->owner == side || r->share == SHARE_PEER_READ || r->share == SHARE_PEER_EDIT ||
           r->share == SHARE_PEER_THIRD;
}

static int
may_edit(const rrec_t *r, int side)
{
    return r->owner == side || r->share == SHARE_PEER_EDIT;
}

typedef struct {
    world_t *w;
    size_t rec;
    int author;
} gather_ctx_t;

static int
gather_op(void *ctx, const uint8_t *signed_op, size_t len, const kith_op_t *op,
          const uint8_t hash[KITH_HASH_LEN])
{
    (void) signed_op;
    (void) len;
    gather_ctx_t *g = ctx;
    world_op(g->w, hash, g->rec, g->author, op->private);
    return KITH_OK;
}

/* What side holds, per the world: its own ops and the public ops of records it owns or
 * is in the audience of. Computed from the share pattern alone. */
static void
expected_ops(const world_t *w, int side, hashlist_t *out)
{
    for (size_t i = 0; i < w->n_ops; i++) {
        const rop_t *o = &w->ops[i];
        if (o->author == side || (!o->private && peer_entitled(&w->recs[o->rec], side))) {
            hashlist_add(out, o->hash);
        }
    }
    qsort(out->hashes, out->n, KITH_HASH_LEN, cmp_hash);
}

static void
assert_same_public(const kith_record_t *x, const kith_record_t *y, int exact)
{
    assert_memory_equal(x->owner, y->owner, KITH_PK_LEN);
    ASSERT_EQ(x->kind, y->kind);
    ASSERT_EQ(x->deleted, y->deleted);
    ASSERT_EQ(x->created, y->created);
    if (exact) {
        ASSERT_EQ(x->updated, y->updated);
    }
    ASSERT_EQ(x->n_aud, y->n_aud);
    for (size_t i = 0; i < x->n_aud; i++) {
        assert_memory_equal(x->aud[i].key, y->aud[i].key, KITH_PK_LEN);
        ASSERT_EQ(x->aud[i].role, y->aud[i].role);
    }
    size_t i = 0, k = 0;
    for (;;) {
        while (i < x->n_fields && x->fields[i].private) {
            i++;
        }
        while (k < y->n_fields && y->fields[k].private) {
            k++;
        }
        if (i == x->n_fields || k == y->n_fields) {
            break;
        }
        ASSERT_STREQ(x->fields[i].name, y->fields[k].name);
        assert_true(kith_value_equal(&x->fields[i].value, &y->fields[k].value));
        i++;
        k++;
    }
    ASSERT_EQ(i, x->n_fields);
    ASSERT_EQ(k, y->n_fields);
}

static void
check_world(const world_t *w, tnode_t *side[2])
{
    for (int s = 0; s < 2; s++) {
        hashlist_t want = {0}, have = {0};
        expected_ops(w, s, &want);
        all_ops(side[s], &have);
        if (want.n != have.n) {
            print_error("side %d holds %zu ops, expected %zu\n", s, have.n, want.n);
        }
        ASSERT_EQ(have.n, want.n);
        assert_memory_equal(have.hashes, want.hashes, want.n * KITH_HASH_LEN);
        free(want.hashes);
        free(have.hashes);
    }
    for (size_t i = 0; i < w->n_recs; i++) {
        const rrec_t *r = &w->recs[i];
        int other = 1 - r->owner;
        if (!peer_entitled(r, other)) {
            assert_false(has_record(side[other], r->id));
            continue;
        }
        kith_record_t x, y;
        ASSERT_OK(kith_store_record_get(side[0]->n->store, r->id, &x));
        ASSERT_OK(kith_store_record_get(side[1]->n->store, r->id, &y));
        assert_same_public(&x, &y, r->priv_ops == 0);
        kith_record_close(&x);
        kith_record_close(&y);
    }
}

static void
test_random_convergence(void **state)
{
    (void) state;
    const size_t per_side = 300;
    uint64_t seed = 0x6b697468u;
    if (getenv("KITH_TEST_SEED") != NULL) {
        seed = strtoull(getenv("KITH_TEST_SEED"), NULL, 0);
    }
    printf("random convergence: seed %#" PRIx64 "\n", seed);
    tnode_t *side[2] = {tnode_new("alice"), tnode_new("bob")}, *c = tnode_new("carol");
    add_peer(side[0], "bob", side[1], 0);
    add_peer(side[0], "carol", c, 0);
    add_peer(side[1], "alice", side[0], 0);
    add_peer(side[1], "carol", c, 0);
    world_t w = {0};
    w.recs = calloc(2 * per_side, sizeof(*w.recs));
    assert_non_null(w.recs);
    const char *peer_name[2] = {"bob", "alice"};

    /* Round 1: each side creates its records with a random share pattern. */
    for (int s = 0; s < 2; s++) {
        ASSERT_OK(kith_store_begin(side[s]->n->store));
        for (size_t k = 0; k < per_side; k++) {
            rrec_t *r = &w.recs[w.n_recs];
            r->owner = s;
            r->share = (int) (splitmix(&seed) % 5);
            const char *targets[2];
            size_t nt = 0;
            int role = KITH_ROLE_READER;
            switch (r->share) {
            case SHARE_PEER_EDIT:
                role = KITH_ROLE_EDITOR;
                /* fall through */
            case SHARE_PEER_READ:
                targets[nt++] = peer_name[s];
                break;
            case SHARE_PEER_THIRD:
                targets[nt++] = peer_name[s];
                /* fall through */
            case SHARE_THIRD:
                targets[nt++] = "carol";
                break;
            default:
                break;
            }
            char name[64], note[64], secret[64];
            snprintf(name, sizeof(name), "R%d-%zu", s, k);
            snprintf(note, sizeof(note), "note %" PRIu64, splitmix(&seed) % 1000000);
            snprintf(secret, sizeof(secret), "secret %zu", k);
            int with_secret = splitmix(&seed) % 3 == 0;
            make_record_txn(side[s], r->id, name, splitmix(&seed) % 2 ? note : NULL,
                            with_secret ? secret : NULL, targets, nt, role);
            if (splitmix(&seed) % 3 == 0) {
                kith_op_t op;
                kith_op_init(&op);
                memcpy(op.rec, r->id, KITH_REC_ID_LEN);
                memcpy(op.owner, pk(side[s]), KITH_PK_LEN);
                set_str(&op, "title", "Director");
                ASSERT_OK(kith_node_apply_local(side[s]->n, &op, next_now(), NULL));
                kith_op_close(&op);
            }
            gather_ctx_t g = {&w, w.n_recs, s};
            ASSERT_OK(kith_store_foreach_op(side[s]->n->store, r->id, gather_op, &g));
            w.n_recs++;
        }
        ASSERT_OK(kith_store_commit(side[s]->n->store));
    }
    kith_session_stats_t s0, s1;
    ASSERT_OK(sync_pair(side[0], side[1], &s0, &s1));
    printf("random convergence: round 1 moved %" PRIu64 " + %" PRIu64 " ops, %" PRIu64
           " bytes, %" PRIu64 " round trips\n",
           s0.ops_sent, s1.ops_sent, s0.bytes_in + s0.bytes_out, s0.round_trips);
    ASSERT_EQ(s0.ops_rejected + s1.ops_rejected, 0);
    check_world(&w, side);

    /* Round 2: random edits of whatever each side may edit (the peer's records shared
     * with it as editor included), same fields on both sides, some private. */
    for (int s = 0; s < 2; s++) {
        for (int e = 0; e < 120; e++) {
            size_t i = (size_t) (splitmix(&seed) % w.n_recs);
            rrec_t *r = &w.recs[i];
            if (!may_edit(r, s) || !peer_entitled(r, s)) {
                continue;
            }
            int private = splitmix(&seed) % 6 == 0;
            char value[64];
            snprintf(value, sizeof(value), "v%d-%d", s, e);
            /* Lists too, in both layers: a private item must never cross, and concurrent
             * additions from both sides must all arrive. */
            uint64_t pick = splitmix(&seed) % 3;
            const char *field = pick == 0   ? "tags"
                                : private   ? "x-priv"
                                : pick == 1 ? "title"
                                            : "x-r2";
            uint8_t hash[KITH_HASH_LEN];
            edit_record(side[s], r->id, w.recs[i].owner == s ? pk(side[s]) : pk(side[1 - s]), field,
                        value, private, hash, NULL);
            world_op(&w, hash, i, s, private);
        }
    }
    ASSERT_OK(sync_pair(side[1], side[0], &s1, &s0));
    printf("random convergence: round 2 moved %" PRIu64 " + %" PRIu64 " ops, %" PRIu64
           " bytes, %" PRIu64 " round trips\n",
           s0.ops_sent, s1.ops_sent, s1.bytes_in + s1.bytes_out, s1.round_trips);
    ASSERT_EQ(s0.ops_rejected + s1.ops_rejected, 0);
    check_world(&w, side);
    free(w.recs);
    free(w.ops);
    tnode_free(side[0]);
    tnode_free(side[1]);
    tnode_free(c);
}

/* ---- cost --------------------------------------------------------------------------- */

static void
test_cost_grows_with_differences(void **state)
{
    (void) state;
    const size_t n = 2000;
    tnode_t *a = tnode_new("alice"), *b = tnode_new("bob");
    add_peer(a, "bob", b, 0);
    add_peer(b, "alice", a, 0);
    const char *to_bob[] = {"bob"}, *to_alice[] = {"alice"};
    uint8_t id[KITH_REC_ID_LEN];
    ASSERT_OK(kith_store_begin(a->n->store));
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "Contact %zu", i);
        make_record_txn(a, id, name, "Met at a conference", NULL, to_bob, 1, KITH_ROLE_EDITOR);
    }
    ASSERT_OK(kith_store_commit(a->n->store));
    kith_session_stats_t sa, sb;
    ASSERT_OK(sync_pair(a, b, &sa, &sb));
    ASSERT_EQ(sa.ops_sent, 2 * n);
    ASSERT_EQ(count_records(b), n);
    printf("cost: first sync of %zu records: %" PRIu64 " bytes, %" PRIu64 " round trips\n", n,
           sa.bytes_in + sa.bytes_out, sa.round_trips);

    /* One new record on the initiator's side. */
    make_record(a, id, "Newcomer", "just met", NULL, to_bob, 1, KITH_ROLE_EDITOR);
    ASSERT_OK(sync_pair(a, b, &sa, &sb));
    uint64_t bytes = sa.bytes_in + sa.bytes_out;
    printf("cost: one new record (initiator side) among %zu: %" PRIu64 " bytes, %" PRIu64
           " round trips, %" PRIu64 " ops\n",
           n, bytes, sa.round_trips, sa.ops_sent);
    assert_true(has_record(b, id));
    ASSERT_EQ(sa.ops_sent, 2);
    assert_true(bytes < 4096);
    assert_true(sa.round_trips <= 4);

    /* One new record on the responder's side. */
    make_record(b, id, "Bob's newcomer", "met too", NULL, to_alice, 1, KITH_ROLE_READER);
    ASSERT_OK(sync_pair(a, b, &sa, &sb));
    bytes = sa.bytes_in + sa.bytes_out;
    printf("cost: one new record (responder side) among %zu: %" PRIu64 " bytes, %" PRIu64
           " round trips, %" PRIu64 " ops\n",
           n, bytes, sa.round_trips, sa.ops_received);
    assert_true(has_record(a, id));
    ASSERT_EQ(sa.ops_received, 2);
    assert_true(bytes < 4096);
    assert_true(sa.round_trips <= 4);
    tnode_free(a);
    tnode_free(b);
}

/* ---- handshake ---------------------------------------------------------------------- */

static void
test_untrusted_initiator(void **state)
{
    (void) state;
    tnode_t *a = tnode_new("mallory"), *b = tnode_new("bob");
    add_peer(a, "bob", b, 0); /* mallory knows bob; bob does not know mallory */
    const char *to_bob[] = {"bob"};
    uint8_t id[KITH_REC_ID_LEN];
    make_record(a, id, "Plant", NULL, NULL, to_bob, 1, KITH_ROLE_EDITOR);
    link_t l;
    link_open(&l, a, b, NULL);
    /* bob answers with a decoy as long as message 2, which mallory cannot read. */
    ASSERT_OK(deliver(&l, 0));
    ASSERT_EQ(l.out[1].len, DECOY_LEN);
    ASSERT_EQ(kith_session_stats(l.s[1])->bytes_out, DECOY_LEN);
    ASSERT_EQ(kith_session_refusal(l.s[1]), KITH_EAUTH);
    assert_false(kith_session_is_open(l.s[1]));
    ASSERT_ERR(deliver(&l, 1), KITH_ECRYPTO);
    ASSERT_EQ(l.out[0].len, 0);
    ASSERT_EQ(count_records(b), 0);
    /* The responder gives up after the handshake timeout, as for a real session. */
    ASSERT_OK(kith_session_tick(l.s[1], T0 + KITH_HANDSHAKE_MS, &l.out[1]));
    ASSERT_ERR(kith_session_tick(l.s[1], T0 + KITH_HANDSHAKE_MS + 1, &l.out[1]), KITH_EPROTO);
    ASSERT_EQ(l.out[1].len, 0);
    link_close(&l);
    tnode_free(a);
    tnode_free(b);
}

static void
test_wrong_responder_key(void **state)
{
    (void) state;
    tnode_t *a = tnode_new("alice"), *b = tnode_new("bob"), *k = tnode_new("kim");
    add_peer(a, "bob", b, 0);
    add_peer(a, "kim", k, 0);
    add_peer(b, "alice", a, 0); /* bob trusts alice: only the key is wrong */
    add_peer(k, "alice", a, 0);
    const char *to_both[] = {"bob", "kim"};
    uint8_t id[KITH_REC_ID_LEN];
    make_record(a, id, "For Kim", NULL, NULL, to_both, 2, KITH_ROLE_EDITOR);
    link_t l;
    link_open(&l, a, b, pk(k)); /* alice dials kim's key, bob answers */
    int rc = link_run(&l, 10);
    ASSERT_EQ(rc, KITH_ECRYPTO); /* alice cannot read bob's decoy */
    ASSERT_EQ(l.err[0], KITH_ECRYPTO);
    ASSERT_EQ(kith_session_refusal(l.s[1]), KITH_EAUTH);
    ASSERT_EQ(kith_session_stats(l.s[1])->bytes_out, DECOY_LEN);
    assert_false(kith_session_is_open(l.s[0]));
    assert_false(kith_session_is_open(l.s[1]));
    ASSERT_ERR(kith_session_tick(l.s[0], T0 + KITH_HANDSHAKE_MS + 1, &l.out[0]), KITH_EPROTO);
    ASSERT_EQ(count_records(b), 0);
    ASSERT_EQ(count_records(a), 1);
    link_close(&l);
    tnode_free(a);
    tnode_free(b);
    tnode_free(k);
}

/* ---- frames ------------------------------------------------------------------------- */

/* Flips one byte in the middle of the largest frame of a delivery from the initiator
 * that holds a frame over 2,000 bytes (the op batch; handshake and reconciliation
 * frames are far smaller here). */
static void
flip_big_frame(link_t *l, int from, kith_buf_t *data)
{
    int *done = l->hook_ctx;
    if (from != 0 || *done) {
        return;
    }
    size_t best = 0, best_len = 0;
    for (size_t off = 0; off + 2 <= data->len;) {
        size_t flen = ((size_t) data->data[off] << 8) | data->data[off + 1];
        if (flen > best_len) {
            best = off;
            best_len = flen;
        }
        off += 2 + flen;
    }
    if (best_len > 2000) {
        data->data[best + 2 + best_len / 2] ^= 0x20;
        *done = 1;
    }
}

static void
setup_ops_pair(tnode_t **a, tnode_t **b, int n_records)
{
    *a = tnode_new("alice");
    *b = tnode_new("bob");
    add_peer(*a, "bob", *b, 0);
    add_peer(*b, "alice", *a, 0);
    const char *to_bob[] = {"bob"};
    char note[600];
    memset(note, 'n', sizeof(note) - 1);
    note[sizeof(note) - 1] = '\0';
    ASSERT_OK(kith_store_begin((*a)->n->store));
    for (int i = 0; i < n_records; i++) {
        uint8_t id[KITH_REC_ID_LEN];
        char name[32];
        snprintf(name, sizeof(name), "Contact %d", i);
        make_record_txn(*a, id, name, note, NULL, to_bob, 1, KITH_ROLE_READER);
    }
    ASSERT_OK(kith_store_commit((*a)->n->store));
}

static void
test_tampered_frame(void **state)
{
    (void) state;
    tnode_t *a, *b;
    setup_ops_pair(&a, &b, 20);
    link_t l;
    int flipped = 0;
    link_open(&l, a, b, NULL);
    l.hook = flip_big_frame;
    l.hook_ctx = &flipped;
    int rc = link_run(&l, 100);
    assert_true(flipped);
    assert_true(rc == KITH_ECRYPTO || rc == KITH_EPROTO);
    assert_true(l.err[1] == KITH_ECRYPTO || l.err[1] == KITH_EPROTO);
    ASSERT_EQ(kith_session_stats(l.s[1])->ops_received, 0);
    ASSERT_EQ(count_records(b), 0);
    link_close(&l);

    /* The same exchange untouched goes through (so the flip hit the op batch). */
    ASSERT_OK(sync_pair(a, b, NULL, NULL));
    ASSERT_EQ(count_records(b), 20);
    tnode_free(a);
    tnode_free(b);
}

/* A tampered handshake message: the responder refuses without a word. */
static void
flip_handshake(link_t *l, int from, kith_buf_t *data)
{
    (void) l;
    if (from == 0 && data->len > 40) {
        data->data[40] ^= 1;
    }
}

static void
test_tampered_handshake(void **state)
{
    (void) state;
    tnode_t *a, *b;
    setup_ops_pair(&a, &b, 1);
    link_t l;
    link_open(&l, a, b, NULL);
    l.hook = flip_handshake;
    int rc = link_run(&l, 10);
    ASSERT_EQ(rc, KITH_ECRYPTO); /* the initiator cannot read the decoy */
    ASSERT_EQ(kith_session_refusal(l.s[1]), KITH_EAUTH);
    ASSERT_EQ(kith_session_stats(l.s[1])->bytes_out, DECOY_LEN);
    link_close(&l);
    tnode_free(a);
    tnode_free(b);
}

static void
test_one_byte_at_a_time(void **state)
{
    (void) state;
    tnode_t *a, *b;
    setup_ops_pair(&a, &b, 5);
    uint8_t id[KITH_REC_ID_LEN];
    const char *to_alice[] = {"alice"};
    make_record(b, id, "Bob's", NULL, NULL, to_alice, 1, KITH_ROLE_READER);
    link_t l;
    link_open(&l, a, b, NULL);
    l.chunk = 1;
    ASSERT_OK(link_run(&l, 1000));
    ASSERT_EQ(count_records(b), 6);
    ASSERT_EQ(count_records(a), 6);
    /* Partial frames are simply kept: half a frame, then the rest. */
    kith_buf_t out;
    kith_buf_init(&out);
    ASSERT_OK(kith_session_close_msg(l.s[0], "bye", &out));
    assert_true(out.len > 4);
    kith_buf_t reply;
    kith_buf_init(&reply);
    ASSERT_OK(kith_session_receive(l.s[1], out.data, 1, &reply, T0));
    ASSERT_OK(kith_session_receive(l.s[1], out.data + 1, out.len - 2, &reply, T0));
    assert_true(kith_session_is_open(l.s[1]));
    ASSERT_OK(kith_session_receive(l.s[1], out.data + out.len - 1, 1, &reply, T0));
    assert_false(kith_session_is_open(l.s[1])); /* the goodbye arrived */
    /* It is answered with a goodbye, which the first side reads a byte at a time too. */
    assert_true(reply.len > 2);
    assert_false(kith_session_got_bye(l.s[0]));
    for (size_t i = 0; i < reply.len; i++) {
        ASSERT_OK(kith_session_receive(l.s[0], reply.data + i, 1, &out, T0));
    }
    assert_true(kith_session_got_bye(l.s[0]));
    kith_buf_close(&out);
    kith_buf_close(&reply);
    link_close(&l);
    tnode_free(a);
    tnode_free(b);
}

static void
test_zero_length_frame(void **state)
{
    (void) state;
    tnode_t *a, *b;
    setup_ops_pair(&a, &b, 1);
    static const uint8_t zero[2] = {0, 0};
    kith_buf_t out;
    kith_buf_init(&out);
    /* In the handshake. */
    kith_session_t *r = NULL;
    ASSERT_OK(kith_session_new(&r, &b->env, b->n->id, "bob", 0, NULL, T0));
    ASSERT_ERR(kith_session_receive(r, zero, 2, &out, T0), KITH_EPROTO);
    ASSERT_EQ(out.len, 0);
    kith_session_free(r);
    /* On an open channel. */
    link_t l;
    link_open(&l, a, b, NULL);
    ASSERT_OK(link_run(&l, 100));
    ASSERT_ERR(kith_session_receive(l.s[1], zero, 2, &out, T0), KITH_EPROTO);
    /* Its header split in two: the first byte waits, the second completes it. */
    ASSERT_OK(kith_session_receive(l.s[0], zero, 1, &out, T0));
    ASSERT_ERR(kith_session_receive(l.s[0], zero + 1, 1, &out, T0), KITH_EPROTO);
    kith_buf_close(&out);
    link_close(&l);
    tnode_free(a);
    tnode_free(b);
}

static void
feed_garbage(kith_session_t *s, const uint8_t *junk, size_t len, size_t chunk)
{
    kith_buf_t out;
    kith_buf_init(&out);
    int rc = KITH_OK;
    for (size_t off = 0; off < len && rc == KITH_OK; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        rc = kith_session_receive(s, junk + off, n, &out, T0);
    }
    /* Random bytes always hold a complete frame well before 3 buffers' worth, and no
     * random frame decrypts. */
    assert_true(rc != KITH_OK);
    kith_buf_close(&out);
}

static void
test_garbage_never_overflows(void **state)
{
    (void) state;
    tnode_t *a, *b;
    setup_ops_pair(&a, &b, 1);
    size_t len = 3 * KITH_SESSION_MAX_IN + 17;
    uint8_t *junk = malloc(len);
    assert_non_null(junk);
    static const size_t chunks[] = {(size_t) -1, 1000, 65537, 7};
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        randombytes_buf(junk, len);
        /* Largest frames: every header says 65535. */
        for (size_t i = 0; c == 2 && i + 1 < len; i += 65537) {
            junk[i] = junk[i + 1] = 0xff;
        }
        kith_session_t *r = NULL;
        ASSERT_OK(kith_session_new(&r, &b->env, b->n->id, "bob", 0, NULL, T0));
        feed_garbage(r, junk, len, chunks[c] == (size_t) -1 ? len : chunks[c]);
        kith_session_free(r);
        /* And on an open session. */
        link_t l;
        link_open(&l, a, b, NULL);
        ASSERT_OK(link_run(&l, 100));
        feed_garbage(l.s[0], junk, len, chunks[c] == (size_t) -1 ? len : chunks[c]);
        link_close(&l);
    }
    free(junk);
    tnode_free(a);
    tnode_free(b);
}

/* ---- messages through a real channel ------------------------------------------------ */

static size_t
pack(msgpack_sbuffer *sb, const char *what)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (strcmp(what, "ping") == 0) {
        msgpack_pack_array(&pk, 1);
        msgpack_pack_int(&pk, 4);
    } else if (strcmp(what, "pong") == 0) {
        msgpack_pack_array(&pk, 1);
        msgpack_pack_int(&pk, 5);
    } else if (strcmp(what, "done") == 0) {
        msgpack_pack_array(&pk, 1);
        msgpack_pack_int(&pk, 3);
    } else if (strcmp(what, "done+1") == 0) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, 3);
        msgpack_pack_int(&pk, 1);
    } else if (strcmp(what, "unknown") == 0) {
        msgpack_pack_array(&pk, 1);
        msgpack_pack_int(&pk, 9);
    } else if (strcmp(what, "zero") == 0) {
        msgpack_pack_array(&pk, 1);
        msgpack_pack_int(&pk, 0);
    } else if (strcmp(what, "negative") == 0) {
        msgpack_pack_array(&pk, 1);
        msgpack_pack_int(&pk, -1);
    } else if (strcmp(what, "empty") == 0) {
        msgpack_pack_array(&pk, 0);
    } else if (strcmp(what, "map") == 0) {
        msgpack_pack_map(&pk, 0);
    } else if (strcmp(what, "recon-str") == 0) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, 1);
        msgpack_pack_str(&pk, 1);
        msgpack_pack_str_body(&pk, "x", 1);
    } else if (strcmp(what, "recon-junk") == 0) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, 1);
        msgpack_pack_bin(&pk, 3);
        msgpack_pack_bin_body(&pk, "\x09\x09\x09", 3);
    } else if (strcmp(what, "recon-empty-set") == 0) {
        /* The initiate message of an empty set: version 1, one IDLIST of nothing. */
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, 1);
        msgpack_pack_bin(&pk, 4);
        msgpack_pack_bin_body(&pk, "\x01\xff\x02\x00", 4);
    } else if (strcmp(what, "ops-empty") == 0) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, 2);
        msgpack_pack_array(&pk, 0);
    } else if (strcmp(what, "ops-int") == 0) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, 2);
        msgpack_pack_array(&pk, 1);
        msgpack_pack_int(&pk, 1);
    } else if (strcmp(what, "ops-notlist") == 0) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, 2);
        msgpack_pack_bin(&pk, 0);
    } else if (strcmp(what, "ops-1025") == 0) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, 2);
        msgpack_pack_array(&pk, 1025);
        for (int i = 0; i < 1025; i++) {
            msgpack_pack_bin(&pk, 1);
            msgpack_pack_bin_body(&pk, "x", 1);
        }
    } else if (strcmp(what, "ops-junk") == 0) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, 2);
        msgpack_pack_array(&pk, 2);
        msgpack_pack_bin(&pk, 3);
        msgpack_pack_bin_body(&pk, "abc", 3);
        msgpack_pack_bin(&pk, 0);
    } else if (strcmp(what, "deep") == 0) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, 2);
        msgpack_pack_array(&pk, 1);
        msgpack_pack_array(&pk, 1);
        msgpack_pack_array(&pk, 0);
    } else if (strcmp(what, "bye") == 0) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, 6);
        msgpack_pack_str(&pk, 1);
        msgpack_pack_str_body(&pk, "x", 1);
    } else if (strcmp(what, "bye-bare") == 0) {
        msgpack_pack_array(&pk, 1);
        msgpack_pack_int(&pk, 6);
    } else if (strcmp(what, "bye-int") == 0) {
        msgpack_pack_array(&pk, 3);
        msgpack_pack_int(&pk, 6);
        msgpack_pack_int(&pk, 1);
        msgpack_pack_int(&pk, 2);
    } else {
        fail_msg("no message %s", what);
    }
    return sb->size;
}

/* A node of an older sync protocol offers [1] or [2] (protocol 2's hello has no time):
 * refused at the handshake, answered with a decoy like every refusal, and reported as a
 * version problem so the daemon can say to update it (proto/SYNC.md "Versions"). */
static void
test_older_protocol_refused(void **state)
{
    (void) state;
    tnode_t *a, *b;
    setup_ops_pair(&a, &b, 1);
    for (int version = 1; version < KITH_PROTO_VERSION; version++) {
        kith_session_t *r = NULL;
        ASSERT_OK(kith_session_new(&r, &b->env, b->n->id, "bob", 0, NULL, T0));
        uint8_t hello[128], msg[2 + KITH_NOISE_MAX_MSG], pt[256];
        size_t hlen = raw_hello(hello, sizeof(hello), version, 0);
        kith_noise_hs_t *hs = NULL;
        size_t len = raw_message1(a->n->id, b->n->id->xpk, hello, hlen, msg, sizeof(msg), &hs);
        kith_buf_t out;
        kith_buf_init(&out);
        ASSERT_OK(kith_session_receive(r, msg, len, &out, T0));
        ASSERT_EQ(out.len, DECOY_LEN);
        ASSERT_EQ(kith_session_refusal(r), KITH_EVERSION);
        assert_false(kith_session_is_open(r));
        size_t plen = 0;
        ASSERT_ERR(kith_noise_hs_read(hs, out.data + 2, out.len - 2, pt, sizeof(pt), &plen),
                   KITH_ECRYPTO);
        kith_buf_close(&out);
        kith_noise_hs_free(hs);
        kith_session_free(r);
    }
    tnode_free(a);
    tnode_free(b);
}

/* What a responder session does with one message 1: the bytes it answers, whether it
 * opened, why it refused, and how the connection then ends (a frame that is not the
 * initiator's, then the handshake timeout). */
typedef struct {
    size_t answer;
    int open, refusal, next_frame, timeout;
} shape_t;

static shape_t
respond(tnode_t *b, const uint8_t *msg, size_t len)
{
    shape_t sh;
    kith_session_t *r = NULL;
    kith_buf_t out;
    kith_buf_init(&out);
    ASSERT_OK(kith_session_new(&r, &b->env, b->n->id, "bob", 0, NULL, T0));
    ASSERT_OK(kith_session_receive(r, msg, len, &out, T0));
    sh.answer = out.len;
    sh.open = kith_session_is_open(r);
    sh.refusal = kith_session_refusal(r);
    sh.timeout = kith_session_tick(r, T0 + KITH_HANDSHAKE_MS + 1, &out);
    ASSERT_EQ(out.len, sh.answer); /* nothing more is said */
    uint8_t frame[2 + 64];
    randombytes_buf(frame, sizeof(frame));
    frame[0] = 0;
    frame[1] = 64;
    sh.next_frame = kith_session_receive(r, frame, sizeof(frame), &out, T0);
    ASSERT_EQ(out.len, sh.answer);
    kith_session_free(r);
    kith_buf_close(&out);
    return sh;
}

/* Every message 1 gets an answer of the same length, and the connection ends the same
 * way after it, whether it came from a trusted peer (answered with message 2), a
 * stranger, a replay, an older protocol, or was made for another key (each answered
 * with random bytes). Only the trusted peer's opens a session. */
static void
test_refusals_look_alike(void **state)
{
    (void) state;
    tnode_t *a, *b;
    setup_ops_pair(&a, &b, 1);
    kith_identity_t *stranger = NULL, *other = NULL;
    ASSERT_OK(kith_identity_new(&stranger));
    ASSERT_OK(kith_identity_new(&other));
    uint8_t hello[128], msg[2 + KITH_NOISE_MAX_MSG], replay[2 + KITH_NOISE_MAX_MSG];
    size_t hlen = raw_hello(hello, sizeof(hello), KITH_PROTO_VERSION, raw_time());
    size_t len = raw_message1(a->n->id, b->n->id->xpk, hello, hlen, msg, sizeof(msg), NULL);
    memcpy(replay, msg, len);
    shape_t known = respond(b, msg, len);
    shape_t replayed = respond(b, replay, len);
    len = raw_message1(stranger, b->n->id->xpk, hello, hlen, msg, sizeof(msg), NULL);
    shape_t unknown = respond(b, msg, len);
    hlen = raw_hello(hello, sizeof(hello), KITH_PROTO_VERSION, raw_time());
    len = raw_message1(a->n->id, other->xpk, hello, hlen, msg, sizeof(msg), NULL);
    shape_t elsewhere = respond(b, msg, len);
    size_t old_len = raw_hello(hello, sizeof(hello), 2, 0);
    len = raw_message1(a->n->id, b->n->id->xpk, hello, old_len, msg, sizeof(msg), NULL);
    shape_t older = respond(b, msg, len);
    static const uint8_t short_msg[] = {0, 3, 1, 2, 3};
    shape_t garbage = respond(b, short_msg, sizeof(short_msg));

    const shape_t *all[] = {&known, &replayed, &unknown, &elsewhere, &older, &garbage};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        ASSERT_EQ(all[i]->answer, DECOY_LEN);
        ASSERT_EQ(all[i]->next_frame, KITH_ECRYPTO);
        ASSERT_EQ(all[i]->timeout, KITH_EPROTO);
        ASSERT_EQ(all[i]->open, all[i] == &known);
    }
    ASSERT_EQ(known.refusal, KITH_OK);
    ASSERT_EQ(replayed.refusal, KITH_EREPLAY);
    ASSERT_EQ(unknown.refusal, KITH_EAUTH);
    ASSERT_EQ(elsewhere.refusal, KITH_EAUTH);
    ASSERT_EQ(older.refusal, KITH_EVERSION);
    ASSERT_EQ(garbage.refusal, KITH_EAUTH);
    ASSERT_EQ(count_records(b), 0);
    kith_identity_free(stranger);
    kith_identity_free(other);
    tnode_free(a);
    tnode_free(b);
}

/* Both handshake messages have one length whatever the names: the payload is padded. */
static void
test_handshake_lengths_fixed(void **state)
{
    (void) state;
    tnode_t *a = tnode_new("a"), *b = tnode_new("b");
    add_peer(a, "b", b, 0);
    add_peer(b, "a", a, 0);
    const char *names[] = {"", "x",
                           "a name of exactly sixty-four bytes, the longest a node may have."};
    assert_int_equal(strlen(names[2]), 64);
    for (size_t i = 0; i < 3; i++) {
        link_t l;
        memset(&l, 0, sizeof(l));
        kith_buf_init(&l.out[0]);
        kith_buf_init(&l.out[1]);
        l.now = T0;
        ASSERT_OK(kith_session_new(&l.s[0], &a->env, a->n->id, names[i], 1, pk(b), T0));
        ASSERT_OK(kith_session_new(&l.s[1], &b->env, b->n->id, names[i], 0, NULL, T0));
        ASSERT_OK(kith_session_start(l.s[0], &l.out[0]));
        ASSERT_EQ(l.out[0].len, 2 + 32 + 48 + KITH_HELLO_LEN + 16);
        ASSERT_OK(deliver(&l, 0));
        ASSERT_EQ(l.out[1].len, DECOY_LEN);
        assert_true(kith_session_is_open(l.s[1]));
        ASSERT_OK(deliver(&l, 1));
        assert_true(kith_session_is_confirmed(l.s[0]));
        link_close(&l);
    }
    tnode_free(a);
    tnode_free(b);
}

/* A recorded message 1 replayed later is refused, also after the responder restarts
 * (the newest time admitted from each peer is in its store); a message 1 dated more than
 * an hour ahead of the responder's clock is refused too, so that a peer whose clock
 * jumped ahead does not lock itself out until its clock gets there. */
static void
test_replayed_message1_refused(void **state)
{
    (void) state;
    tnode_t *a, *b;
    setup_ops_pair(&a, &b, 1);
    uint8_t hello[128], msg[2 + KITH_NOISE_MAX_MSG], old[2 + KITH_NOISE_MAX_MSG];
    uint64_t t1 = raw_time();
    size_t hlen = raw_hello(hello, sizeof(hello), KITH_PROTO_VERSION, t1);
    size_t len = raw_message1(a->n->id, b->n->id->xpk, hello, hlen, old, sizeof(old), NULL);
    ASSERT_EQ(respond(b, old, len).refusal, KITH_OK);
    ASSERT_EQ(respond(b, old, len).refusal, KITH_EREPLAY);
    /* An older time in a message never seen before is no better. */
    hlen = raw_hello(hello, sizeof(hello), KITH_PROTO_VERSION, t1 - 1);
    size_t len2 = raw_message1(a->n->id, b->n->id->xpk, hello, hlen, msg, sizeof(msg), NULL);
    ASSERT_EQ(respond(b, msg, len2).refusal, KITH_EREPLAY);

    /* bob restarts: a new node handle on the same home, a new environment. */
    char dir[64];
    snprintf(dir, sizeof(dir), "%s", b->dir);
    kith_node_close(b->n);
    char err[256] = "";
    ASSERT_OK(kith_node_open(dir, NULL, &b->n, err, sizeof(err)));
    memset(&b->se, 0, sizeof(b->se));
    b->se.node = b->n;
    kith_syncenv_bind(&b->se, &b->env);
    ASSERT_EQ(respond(b, old, len).refusal, KITH_EREPLAY);

    hlen = raw_hello(hello, sizeof(hello), KITH_PROTO_VERSION, kith_hlc_now_ms() + 2 * 3600 * 1000);
    len2 = raw_message1(a->n->id, b->n->id->xpk, hello, hlen, msg, sizeof(msg), NULL);
    ASSERT_EQ(respond(b, msg, len2).refusal, KITH_ERANGE);
    hlen = raw_hello(hello, sizeof(hello), KITH_PROTO_VERSION, raw_time());
    len2 = raw_message1(a->n->id, b->n->id->xpk, hello, hlen, msg, sizeof(msg), NULL);
    ASSERT_EQ(respond(b, msg, len2).refusal, KITH_OK);
    /* And a real session still works. */
    ASSERT_OK(sync_pair(a, b, NULL, NULL));
    tnode_free(a);
    tnode_free(b);
}

typedef struct {
    tnode_t *a, *b;
    kith_session_t *r;
    raw_chan_t c;
    kith_buf_t out;
    msgpack_sbuffer sb;
} rawfix_t;

static void
rawfix_open(rawfix_t *f)
{
    memset(f, 0, sizeof(*f));
    setup_ops_pair(&f->a, &f->b, 1);
    ASSERT_OK(kith_session_new(&f->r, &f->b->env, f->b->n->id, "bob", 0, NULL, T0));
    raw_open(&f->c, f->a->n->id, f->b, f->r);
    kith_buf_init(&f->out);
    msgpack_sbuffer_init(&f->sb);
}

static void
rawfix_close(rawfix_t *f)
{
    kith_session_free(f->r);
    kith_buf_close(&f->out);
    msgpack_sbuffer_destroy(&f->sb);
    kith_noise_cs_wipe(&f->c.tx);
    kith_noise_cs_wipe(&f->c.rx);
    tnode_free(f->a);
    tnode_free(f->b);
}

static int
rawfix_send(rawfix_t *f, const char *what)
{
    size_t n = pack(&f->sb, what);
    return raw_send(&f->c, f->r, f->sb.data, n, &f->out);
}

static void
test_messages_well_formed(void **state)
{
    (void) state;
    rawfix_t f;
    rawfix_open(&f);
    uint8_t pt[KITH_FRAME_MAX];
    ASSERT_OK(rawfix_send(&f, "ping"));
    size_t n = raw_read(&f.c, &f.out, pt, sizeof(pt));
    ASSERT_EQ(n, 2);
    ASSERT_EQ(pt[0], 0x91);
    ASSERT_EQ(pt[1], 5); /* PONG */
    f.out.len = 0;
    ASSERT_OK(rawfix_send(&f, "pong"));
    ASSERT_EQ(f.out.len, 0);
    /* Reconciliation over an empty set: bob answers with what he holds for alice. */
    ASSERT_OK(rawfix_send(&f, "recon-empty-set"));
    ASSERT_OK(rawfix_send(&f, "ops-junk")); /* undecodable ops are refused, not fatal */
    ASSERT_EQ(kith_session_stats(f.r)->ops_rejected, 2);
    ASSERT_OK(rawfix_send(&f, "done"));
    ASSERT_ERR(rawfix_send(&f, "done"), KITH_EPROTO); /* DONE twice */
    rawfix_close(&f);

    rawfix_open(&f);
    ASSERT_OK(rawfix_send(&f, "bye"));
    assert_false(kith_session_is_open(f.r));
    ASSERT_ERR(rawfix_send(&f, "ping"), KITH_EPROTO);
    rawfix_close(&f);
}

/* Both directions rekey after every KITH_REKEY_EVERY messages, as proto/SYNC.md says: a
 * peer that follows the spec keeps talking across the rekey point. */
static void
test_rekey(void **state)
{
    (void) state;
    rawfix_t f;
    rawfix_open(&f);
    uint8_t pt[64];
    f.c.now = T0;
    for (uint32_t i = 0; i < KITH_REKEY_EVERY + 3; i++) {
        f.out.len = 0;
        f.c.now += KITH_KEEPALIVE_MS; /* as often as a peer that follows the spec pings */
        int rc = rawfix_send(&f, "ping");
        if (rc != KITH_OK) {
            print_error("ping %u: %s\n", i + 1, kith_strerror(rc));
        }
        ASSERT_OK(rc);
        ASSERT_EQ(raw_read(&f.c, &f.out, pt, sizeof(pt)), 2);
        ASSERT_EQ(pt[1], 5);
    }
    rawfix_close(&f);
}

/* Messages that carry nothing are budgeted: a burst of KITH_USELESS_BURST, then one a
 * second. A peer that floods pings, pongs or empty op batches is cut off; one that keeps
 * to the budget is not. */
static void
test_flood_of_empty_messages(void **state)
{
    (void) state;
    static const char *const kinds[] = {"ping", "pong", "ops-empty"};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        rawfix_t f;
        rawfix_open(&f);
        f.c.now = T0;
        for (int i = 0; i < KITH_USELESS_BURST; i++) {
            f.out.len = 0;
            ASSERT_OK(rawfix_send(&f, kinds[k]));
        }
        /* A second later one more is allowed, but not two. */
        f.c.now += KITH_USELESS_REFILL_MS;
        ASSERT_OK(rawfix_send(&f, kinds[k]));
        int rc = rawfix_send(&f, kinds[k]);
        print_message("flood of %s: %d allowed within %d ms, the next one: %s\n", kinds[k],
                      KITH_USELESS_BURST + 1, KITH_USELESS_REFILL_MS, kith_strerror(rc));
        ASSERT_ERR(rc, KITH_EPROTO);
        rawfix_close(&f);
    }
    /* Within the budget a session lives for ever: one ping a second for an hour. */
    rawfix_t f;
    rawfix_open(&f);
    f.c.now = T0;
    for (int i = 0; i < 3600; i++) {
        f.out.len = 0;
        f.c.now += KITH_USELESS_REFILL_MS;
        ASSERT_OK(rawfix_send(&f, "ping"));
    }
    rawfix_close(&f);
}

static void
test_messages_malformed(void **state)
{
    (void) state;
    static const char *const bad[] = {
        "done+1",    "unknown",    "zero",    "negative",    "empty",    "map",
        "recon-str", "recon-junk", "ops-int", "ops-notlist", "ops-1025", "deep",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rawfix_t f;
        rawfix_open(&f);
        int rc = rawfix_send(&f, bad[i]);
        if (rc == KITH_EVERSION && strcmp(bad[i], "recon-junk") == 0) {
            rc = KITH_EPROTO; /* the reconciliation may read the junk as a version */
        }
        if (rc != KITH_EPROTO) {
            print_error("message %s: %d (%s)\n", bad[i], rc, kith_strerror(rc));
        }
        ASSERT_EQ(rc, KITH_EPROTO);
        ASSERT_EQ(count_records(f.b), 0);
        rawfix_close(&f);
    }
    /* Trailing bytes after a valid message. */
    rawfix_t f;
    rawfix_open(&f);
    static const uint8_t ping_trailing[] = {0x91, 0x04, 0x00};
    ASSERT_ERR(raw_send(&f.c, f.r, ping_trailing, sizeof(ping_trailing), &f.out), KITH_EPROTO);
    rawfix_close(&f);
}

/* BYE is [6, str reason]; other shapes are protocol errors (proto/SYNC.md). Found
 * accepted by this test; fixed in session.c since. */
static void
test_bye_must_carry_reason(void **state)
{
    (void) state;
    static const char *const bad[] = {"bye-bare", "bye-int"};
    for (size_t i = 0; i < 2; i++) {
        rawfix_t f;
        rawfix_open(&f);
        ASSERT_ERR(rawfix_send(&f, bad[i]), KITH_EPROTO);
        rawfix_close(&f);
    }
}

/* BUG: src/sync/session.c on_ops() (line 611) adds the hash of every op of every OPS
 * message to s->received, which only kith_session_push() empties, and push does nothing
 * until the first reconciliation is complete. A peer that keeps sending OPS messages and
 * never finishes the reconciliation (no RECON, no DONE) makes the session grow by 32 bytes
 * per op it sends, without bound (the daemon's limits bound only unparsed bytes, and the
 * dead-peer timer only silence). Input: 100 OPS messages of 900 junk 65-byte "ops" each
 * through an open channel, nothing else. Expected: the session's memory stays bounded
 * (here: under 1 MiB of growth); actual: about 2.9 MB of ids retained (4 MiB allocated),
 * linear in what the peer sends. Fixed since (the test now runs). */
static void
test_received_set_is_bounded(void **state)
{
    (void) state;

    rawfix_t f;
    rawfix_open(&f);
    msgpack_packer pk;
    msgpack_sbuffer_clear(&f.sb);
    msgpack_packer_init(&pk, &f.sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_array(&pk, 900);
    uint8_t junk[65];
    for (int i = 0; i < 900; i++) {
        randombytes_buf(junk, sizeof(junk));
        msgpack_pack_bin(&pk, sizeof(junk));
        msgpack_pack_bin_body(&pk, junk, sizeof(junk));
    }
    struct mallinfo2 before = mallinfo2();
    for (int m = 0; m < 100; m++) {
        /* The same junk each time is fine: the set does not even remove duplicates. */
        ASSERT_OK(raw_send(&f.c, f.r, f.sb.data, f.sb.size, &f.out));
    }
    struct mallinfo2 after = mallinfo2();
    /* Large blocks are mmapped: count them too. */
    size_t used0 = before.uordblks + before.hblkhd, used1 = after.uordblks + after.hblkhd;
    size_t growth = used1 > used0 ? used1 - used0 : 0;
    printf("session memory growth after 90,000 junk ops: %zu bytes\n", growth);
    assert_true(growth < ((size_t) 1 << 20));
    rawfix_close(&f);
}

/* ---- authorization at the receiver -------------------------------------------------- */

typedef struct {
    tnode_t *a, *b, *c;
    uint8_t read_rec[KITH_REC_ID_LEN]; /* alice's, bob is a reader */
    uint8_t edit_rec[KITH_REC_ID_LEN]; /* alice's, bob is an editor */
} authfix_t;

static void
authfix_open(authfix_t *f)
{
    f->a = tnode_new("alice");
    f->b = tnode_new("bob");
    f->c = tnode_new("carol");
    add_peer(f->a, "bob", f->b, 0);
    add_peer(f->a, "carol", f->c, 0);
    add_peer(f->b, "alice", f->a, 0);
    const char *to_bob[] = {"bob"};
    make_record(f->a, f->read_rec, "Read Only", "ORIGINAL", NULL, to_bob, 1, KITH_ROLE_READER);
    make_record(f->a, f->edit_rec, "Editable", "ORIGINAL", NULL, to_bob, 1, KITH_ROLE_EDITOR);
    ASSERT_OK(sync_pair(f->a, f->b, NULL, NULL));
}

static void
authfix_close(authfix_t *f)
{
    tnode_free(f->a);
    tnode_free(f->b);
    tnode_free(f->c);
}

/* An op on rec (owned by owner) by `author`, with the given changes. */
static void
craft(kith_buf_t *out, const kith_identity_t *author, const uint8_t rec[KITH_REC_ID_LEN],
      const uint8_t owner[KITH_PK_LEN], const char *field, const char *value, int del,
      const uint8_t *aud_key, int private)
{
    kith_op_t op;
    kith_op_init(&op);
    memcpy(op.rec, rec, KITH_REC_ID_LEN);
    memcpy(op.owner, owner, KITH_PK_LEN);
    memcpy(op.author, author->pk, KITH_PK_LEN);
    op.hlc = (next_now() + 1000000) << 16; /* later than anything in the record */
    op.del = del;
    op.private = private;
    if (field != NULL) {
        set_str(&op, field, value);
    }
    if (aud_key != NULL) {
        ASSERT_OK(kith_op_add_aud(&op, aud_key, KITH_ROLE_EDITOR));
    }
    uint8_t hash[KITH_HASH_LEN];
    out->len = 0;
    ASSERT_OK(kith_op_sign(&op, author, out, hash));
    kith_op_close(&op);
}

/* Feeds one signed op to `to` as if `sender` had sent it. */
static kith_apply_stats_t
feed(tnode_t *to, const tnode_t *sender, int self_peer, const kith_buf_t *op)
{
    kith_apply_stats_t st = {0, 0, 0};
    const uint8_t *ops[1] = {op->data};
    size_t lens[1] = {op->len};
    ASSERT_OK(kith_store_begin(to->n->store));
    ASSERT_OK(kith_store_apply_remote(to->n->store, pk(to), pk(sender), self_peer, ops, lens, 1,
                                      &st, NULL, NULL));
    ASSERT_OK(kith_store_commit(to->n->store));
    return st;
}

/* The record as bytes of its encoding, to compare before and after. */
static void
snapshot(tnode_t *t, const uint8_t id[KITH_REC_ID_LEN], kith_buf_t *out)
{
    kith_record_t r;
    out->len = 0;
    ASSERT_OK(kith_store_record_get(t->n->store, id, &r));
    ASSERT_OK(kith_record_encode(&r, out));
    kith_record_close(&r);
}

static void
expect_rejected(tnode_t *to, const tnode_t *sender, int self_peer, const kith_buf_t *op,
                const uint8_t rec[KITH_REC_ID_LEN], const char *what)
{
    kith_buf_t before, after;
    kith_buf_init(&before);
    kith_buf_init(&after);
    int existed = has_record(to, rec);
    if (existed) {
        snapshot(to, rec, &before);
    }
    hashlist_t ops_before = {0}, ops_after = {0};
    all_ops(to, &ops_before);
    kith_apply_stats_t st = feed(to, sender, self_peer, op);
    if (st.rejected != 1 || st.accepted != 0) {
        print_error("%s: accepted %zu, rejected %zu, duplicate %zu\n", what, st.accepted,
                    st.rejected, st.duplicate);
    }
    ASSERT_EQ(st.rejected, 1);
    ASSERT_EQ(st.accepted, 0);
    if (existed) {
        snapshot(to, rec, &after);
        ASSERT_EQ(before.len, after.len);
        assert_memory_equal(before.data, after.data, before.len);
    } else {
        assert_false(has_record(to, rec));
    }
    all_ops(to, &ops_after);
    ASSERT_EQ(ops_before.n, ops_after.n); /* nothing of it was kept */
    free(ops_before.hashes);
    free(ops_after.hashes);
    kith_buf_close(&before);
    kith_buf_close(&after);
}

/* Signs into out (replacing it) the creation op of owner's record rec, a person called
 * name whose audience is the NULL-terminated list of readers. */
static void
sign_creation(kith_buf_t *out, const kith_identity_t *owner, const uint8_t rec[KITH_REC_ID_LEN],
              const char *name, const uint8_t *const *readers)
{
    kith_op_t op;
    kith_op_init(&op);
    memcpy(op.rec, rec, KITH_REC_ID_LEN);
    memcpy(op.owner, owner->pk, KITH_PK_LEN);
    memcpy(op.author, owner->pk, KITH_PK_LEN);
    op.hlc = next_now() << 16;
    op.kind = KITH_KIND_PERSON;
    set_str(&op, "name", name);
    for (size_t i = 0; readers[i] != NULL; i++) {
        ASSERT_OK(kith_op_add_aud(&op, readers[i], KITH_ROLE_READER));
    }
    uint8_t hash[KITH_HASH_LEN];
    out->len = 0;
    ASSERT_OK(kith_op_sign(&op, owner, out, hash));
    kith_op_close(&op);
}

/* A record new to the receiver, arriving whole in one batch (the receiver folds it from
 * memory): the owner's creation op making bob an editor and carol a reader, an edit by
 * bob, an edit by carol (a reader: refused), in one apply. */
static void
test_new_record_in_one_batch(void **state)
{
    (void) state;
    authfix_t f;
    authfix_open(&f);
    const kith_identity_t *bob = f.b->n->id, *carol = f.c->n->id;
    uint8_t rec[KITH_REC_ID_LEN], nonce[8];
    randombytes_buf(nonce, sizeof(nonce));
    kith_op_rec_id_make(bob->pk, nonce, rec);
    kith_buf_t ops[3];
    for (int i = 0; i < 3; i++) {
        kith_buf_init(&ops[i]);
    }
    sign_creation(&ops[0], bob, rec, "Batch Born", (const uint8_t *[]){pk(f.a), carol->pk, NULL});
    craft(&ops[1], bob, rec, bob->pk, "note", "BY THE OWNER", -1, NULL, 0);
    craft(&ops[2], carol, rec, bob->pk, "title", "BY A READER", -1, NULL, 0);
    const uint8_t *data[3] = {ops[0].data, ops[1].data, ops[2].data};
    size_t lens[3] = {ops[0].len, ops[1].len, ops[2].len};
    kith_apply_stats_t st = {0, 0, 0};
    ASSERT_OK(kith_store_begin(f.a->n->store));
    ASSERT_OK(kith_store_apply_remote(f.a->n->store, pk(f.a), bob->pk, 0, data, lens, 3, &st, NULL,
                                      NULL));
    ASSERT_OK(kith_store_commit(f.a->n->store));
    ASSERT_EQ(st.accepted, 2);
    ASSERT_EQ(st.rejected, 1);
    char text[64];
    field_text(f.a, rec, "name", text, sizeof(text));
    ASSERT_STREQ(text, "Batch Born");
    field_text(f.a, rec, "note", text, sizeof(text));
    ASSERT_STREQ(text, "BY THE OWNER");
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(f.a->n->store, rec, &r));
    assert_null(kith_record_field(&r, "title"));
    ASSERT_EQ(r.n_aud, 2);
    kith_record_close(&r);
    hashlist_t held = {0};
    all_ops(f.a, &held);
    size_t mine = 0;
    for (size_t i = 0; i < held.n; i++) {
        uint8_t h[KITH_HASH_LEN];
        for (int k = 0; k < 2; k++) {
            kith_op_hash(ops[k].data + KITH_SIG_LEN, ops[k].len - KITH_SIG_LEN, h);
            mine += memcmp(held.hashes[i], h, KITH_HASH_LEN) == 0;
        }
    }
    ASSERT_EQ(mine, 2); /* the refused op was not kept */
    free(held.hashes);
    /* Folded from memory or from the store, the record is the same. */
    kith_buf_t a, b;
    kith_buf_init(&a);
    kith_buf_init(&b);
    snapshot(f.a, rec, &a);
    ASSERT_OK(kith_store_begin(f.a->n->store));
    uint64_t refolded = 0;
    ASSERT_OK(kith_store_refold_all(f.a->n->store, &refolded));
    ASSERT_OK(kith_store_commit(f.a->n->store));
    snapshot(f.a, rec, &b);
    ASSERT_EQ(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    kith_buf_close(&a);
    kith_buf_close(&b);
    for (int i = 0; i < 3; i++) {
        kith_buf_close(&ops[i]);
    }
    authfix_close(&f);
}

static void
test_authorization(void **state)
{
    (void) state;
    authfix_t f;
    authfix_open(&f);
    const kith_identity_t *bob = f.b->n->id, *carol = f.c->n->id, *alice = f.a->n->id;
    kith_buf_t op;
    kith_buf_init(&op);

    /* A reader's edit. */
    craft(&op, bob, f.read_rec, pk(f.a), "note", "DEFACED", -1, NULL, 0);
    expect_rejected(f.a, f.b, 0, &op, f.read_rec, "reader edit");
    /* A bad signature (an editor's otherwise valid op). */
    craft(&op, bob, f.edit_rec, pk(f.a), "note", "FORGED", -1, NULL, 0);
    op.data[3] ^= 1;
    expect_rejected(f.a, f.b, 0, &op, f.edit_rec, "bad signature");
    /* A change of the encoding after signing. */
    craft(&op, bob, f.edit_rec, pk(f.a), "note", "FORGED", -1, NULL, 0);
    op.data[op.len - 2] ^= 1;
    expect_rejected(f.a, f.b, 0, &op, f.edit_rec, "bad signature (body)");
    /* An op claiming alice as author, signed by bob. */
    craft(&op, bob, f.edit_rec, pk(f.a), "note", "IMPERSONATED", -1, NULL, 0);
    {
        /* Re-sign with the author field of alice: kith_op_sign refuses a mismatch, so
         * take alice's op and graft bob's signature onto it. */
        kith_buf_t alice_op;
        kith_buf_init(&alice_op);
        craft(&alice_op, alice, f.edit_rec, pk(f.a), "note", "IMPERSONATED", -1, NULL, 0);
        memcpy(alice_op.data, op.data, KITH_SIG_LEN);
        expect_rejected(f.a, f.b, 0, &alice_op, f.edit_rec, "impersonation");
        kith_buf_close(&alice_op);
    }
    /* A delete by a non-owner (reader). */
    craft(&op, bob, f.read_rec, pk(f.a), NULL, NULL, 1, NULL, 0);
    expect_rejected(f.a, f.b, 0, &op, f.read_rec, "reader delete");
    /* An audience op by a non-owner (reader makes himself editor). */
    craft(&op, bob, f.read_rec, pk(f.a), NULL, NULL, -1, pk(f.b), 0);
    expect_rejected(f.a, f.b, 0, &op, f.read_rec, "reader audience");
    /* Ops by a stranger to the record, on alice's record. */
    craft(&op, carol, f.edit_rec, pk(f.a), "note", "CAROL", -1, NULL, 0);
    expect_rejected(f.a, f.b, 0, &op, f.edit_rec, "stranger edit");
    /* A private op from a peer that is not one of alice's devices (bob is an editor). */
    craft(&op, bob, f.edit_rec, pk(f.a), "politics", "PRIVATE", -1, NULL, 1);
    expect_rejected(f.a, f.b, 0, &op, f.edit_rec, "private op from a non-self peer");
    /* An op claiming another owner for alice's record. */
    craft(&op, bob, f.edit_rec, pk(f.b), "note", "MINE NOW", -1, NULL, 0);
    expect_rejected(f.a, f.b, 0, &op, f.edit_rec, "owner swap");

    /* Records whose audience lacks the sender, or the receiver. */
    uint8_t rec_c[KITH_REC_ID_LEN], nonce[8];
    randombytes_buf(nonce, sizeof(nonce));
    kith_op_rec_id_make(carol->pk, nonce, rec_c);
    sign_creation(&op, carol, rec_c, "Carol's contact", (const uint8_t *[]){pk(f.a), NULL});
    expect_rejected(f.a, f.b, 0, &op, rec_c, "sender not in the audience");
    sign_creation(&op, carol, rec_c, "Carol's contact", (const uint8_t *[]){pk(f.b), NULL});
    expect_rejected(f.a, f.b, 0, &op, rec_c, "receiver not in the audience");
    /* Bob claims carol's record id (bound to carol) for a record of his own. */
    craft(&op, bob, rec_c, bob->pk, "name", "Squatter", -1, NULL, 0);
    expect_rejected(f.a, f.b, 0, &op, rec_c, "record id bound to another owner");

    /* The same private op is fine from alice's own device. */
    craft(&op, bob, f.edit_rec, pk(f.a), "politics", "PRIVATE", -1, NULL, 1);
    kith_apply_stats_t st = feed(f.a, f.b, 1, &op);
    ASSERT_EQ(st.accepted, 1);

    /* An editor's edit is accepted. */
    craft(&op, bob, f.edit_rec, pk(f.a), "note", "EDITED BY BOB", -1, NULL, 0);
    st = feed(f.a, f.b, 0, &op);
    ASSERT_EQ(st.accepted, 1);
    ASSERT_EQ(st.rejected, 0);
    char text[64];
    field_text(f.a, f.edit_rec, "note", text, sizeof(text));
    ASSERT_STREQ(text, "EDITED BY BOB");
    /* Twice: a duplicate, not a rejection. */
    st = feed(f.a, f.b, 0, &op);
    ASSERT_EQ(st.duplicate, 1);
    ASSERT_EQ(st.rejected, 0);
    field_text(f.a, f.read_rec, "note", text, sizeof(text));
    ASSERT_STREQ(text, "ORIGINAL");
    kith_buf_close(&op);
    authfix_close(&f);
}

/* An editor may edit fields, but deletion and the audience come only from the owner:
 * whatever the store does with such an op, the record stays alive with its audience. */
static void
test_editor_cannot_delete_or_share(void **state)
{
    (void) state;
    authfix_t f;
    authfix_open(&f);
    kith_buf_t op;
    kith_buf_init(&op);
    craft(&op, f.b->n->id, f.edit_rec, pk(f.a), NULL, NULL, 1, NULL, 0);
    kith_apply_stats_t st = feed(f.a, f.b, 0, &op);
    printf("editor's delete op: accepted %zu, rejected %zu\n", st.accepted, st.rejected);
    craft(&op, f.b->n->id, f.edit_rec, pk(f.a), NULL, NULL, -1, pk(f.c), 0);
    st = feed(f.a, f.b, 0, &op);
    printf("editor's audience op: accepted %zu, rejected %zu\n", st.accepted, st.rejected);
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(f.a->n->store, f.edit_rec, &r));
    ASSERT_EQ(r.deleted, 0);
    ASSERT_EQ(r.n_aud, 1);
    assert_memory_equal(r.aud[0].key, pk(f.b), KITH_PK_LEN);
    ASSERT_EQ(kith_record_role(&r, pk(f.c)), 0);
    kith_record_close(&r);
    kith_buf_close(&op);
    authfix_close(&f);
}

/* BUG: src/store/store.c kith_store_apply_remote() (put_op, require_effective) and
 * src/model/fold.c walk(): an op by an EDITOR that carries `del` or `aud` is accepted
 * (stats.accepted == 1), stored and later relayed to other peers; the fold merely ignores
 * its del/aud. proto/OPS.md says `aud` is "Present only in owner ops" and that deletion and
 * the audience come only from the owner, so such an op is not a valid op from that author.
 * Input: bob (editor of alice's record) signs {del: true} and {aud: [[carol, 2]]} for it and
 * alice applies them with kith_store_apply_remote(). Expected: rejected == 1 each, nothing
 * stored; actual: accepted == 1 each (record itself unchanged: see the test above).
 * Fixed since (the test now runs). */
static void
test_editor_delete_or_audience_refused(void **state)
{
    (void) state;

    authfix_t f;
    authfix_open(&f);
    kith_buf_t op;
    kith_buf_init(&op);
    craft(&op, f.b->n->id, f.edit_rec, pk(f.a), NULL, NULL, 1, NULL, 0);
    expect_rejected(f.a, f.b, 0, &op, f.edit_rec, "editor delete");
    craft(&op, f.b->n->id, f.edit_rec, pk(f.a), NULL, NULL, -1, pk(f.c), 0);
    expect_rejected(f.a, f.b, 0, &op, f.edit_rec, "editor audience");
    kith_buf_close(&op);
    authfix_close(&f);
}

/* BUG: src/store/store.c hlc_observe() (line 370, called from kith_store_apply_remote()
 * for every stored op) moves the node's clock to any received hlc: its guard
 * kith_hlc_ms(hlc) <= KITH_HLC_MS_MAX is always true for a uint64_t, and there is no bound
 * on how far ahead of the wall clock an op may be. One signed op from any trusted peer
 * (here bob, on his own record shared with alice) with hlc = 2^64 - 1 exhausts alice's
 * clock for good: kith_store_hlc_next() then fails with KITH_ERANGE (util/hlc.c: last ==
 * UINT64_MAX), so alice can never add or edit anything again (the clock is persisted).
 * Input: kith_store_apply_remote(alice, sender bob, {owner: bob, author: bob, hlc:
 * 0xffffffffffffffff, set: {note: "x"}}), then kith_node_apply_local() on alice's own
 * record. Expected: the op is refused (or the clock is not moved beyond a sane drift) and
 * the local edit succeeds; actual: accepted == 1, then KITH_ERANGE. Fixed since (the test
 * now runs). */
static void
test_future_hlc_does_not_exhaust_clock(void **state)
{
    (void) state;

    authfix_t f;
    authfix_open(&f);
    uint8_t bobs[KITH_REC_ID_LEN];
    const char *to_alice[] = {"alice"};
    make_record(f.b, bobs, "Bob's", NULL, NULL, to_alice, 1, KITH_ROLE_READER);
    ASSERT_OK(sync_pair(f.a, f.b, NULL, NULL));
    kith_op_t op;
    kith_op_init(&op);
    memcpy(op.rec, bobs, KITH_REC_ID_LEN);
    memcpy(op.owner, pk(f.b), KITH_PK_LEN);
    memcpy(op.author, pk(f.b), KITH_PK_LEN);
    op.hlc = UINT64_MAX;
    set_str(&op, "note", "x");
    kith_buf_t signed_op;
    kith_buf_init(&signed_op);
    uint8_t hash[KITH_HASH_LEN];
    ASSERT_OK(kith_op_sign(&op, f.b->n->id, &signed_op, hash));
    kith_op_close(&op);
    kith_apply_stats_t st = feed(f.a, f.b, 0, &signed_op);
    printf("op with hlc 2^64-1: accepted %zu, rejected %zu\n", st.accepted, st.rejected);
    kith_buf_close(&signed_op);
    /* Alice edits her own record. */
    kith_op_init(&op);
    memcpy(op.rec, f.edit_rec, KITH_REC_ID_LEN);
    memcpy(op.owner, pk(f.a), KITH_PK_LEN);
    set_str(&op, "note", "still works");
    ASSERT_OK(kith_store_begin(f.a->n->store));
    int rc = kith_node_apply_local(f.a->n, &op, next_now(), NULL);
    if (rc == KITH_OK) {
        ASSERT_OK(kith_store_commit(f.a->n->store));
    } else {
        kith_store_rollback(f.a->n->store);
    }
    kith_op_close(&op);
    ASSERT_OK(rc);
    authfix_close(&f);
}

/* A reader's op sent through a real session is refused and counted. */
static void
test_reader_op_through_session(void **state)
{
    (void) state;
    authfix_t f;
    authfix_open(&f);
    /* Bob's node signs an edit of the read-only record, as a modified client would. */
    edit_record(f.b, f.read_rec, pk(f.a), "note", "DEFACED", 0, NULL, NULL);
    kith_session_stats_t sb, sa;
    ASSERT_OK(sync_pair(f.b, f.a, &sb, &sa));
    ASSERT_EQ(sb.ops_sent, 1);
    ASSERT_EQ(sa.ops_rejected, 1);
    ASSERT_EQ(sa.ops_received, 0);
    char text[64];
    field_text(f.a, f.read_rec, "note", text, sizeof(text));
    ASSERT_STREQ(text, "ORIGINAL");
    authfix_close(&f);
}

/* ---- concurrent edits --------------------------------------------------------------- */

static void
test_concurrent_edits(void **state)
{
    (void) state;
    tnode_t *a = tnode_new("alice"), *b = tnode_new("bob");
    add_peer(a, "bob", b, 0);
    add_peer(b, "alice", a, 0);
    const char *to_bob[] = {"bob"};
    uint8_t id[KITH_REC_ID_LEN];
    make_record(a, id, "Shared", NULL, NULL, to_bob, 1, KITH_ROLE_EDITOR);
    ASSERT_OK(sync_pair(a, b, NULL, NULL));
    for (int trial = 0; trial < 2; trial++) {
        uint64_t ha, hb;
        char va[16], vb[16];
        snprintf(va, sizeof(va), "Alpha%d", trial);
        snprintf(vb, sizeof(vb), "Beta%d", trial);
        if (trial == 0) {
            edit_record(a, id, pk(a), "title", va, 0, NULL, &ha);
            edit_record(b, id, pk(a), "title", vb, 0, NULL, &hb);
        } else {
            /* The same wall time on both sides: the tie goes to the author key. */
            uint64_t now = g_now;
            edit_record(b, id, pk(a), "title", vb, 0, NULL, &hb);
            g_now = now;
            edit_record(a, id, pk(a), "title", va, 0, NULL, &ha);
        }
        edit_record(a, id, pk(a), "x-a", "from-alice", 0, NULL, NULL);
        edit_record(b, id, pk(a), "x-b", "from-bob", 0, NULL, NULL);
        ASSERT_OK(sync_pair(trial ? b : a, trial ? a : b, NULL, NULL));
        kith_record_t x, y;
        ASSERT_OK(kith_store_record_get(a->n->store, id, &x));
        ASSERT_OK(kith_store_record_get(b->n->store, id, &y));
        assert_same_public(&x, &y, 1);
        const char *winner = ha > hb                                 ? va
                             : hb > ha                               ? vb
                             : memcmp(pk(a), pk(b), KITH_PK_LEN) > 0 ? va
                                                                     : vb;
        ASSERT_STREQ(kith_record_field(&x, "title")->value.str, winner);
        ASSERT_STREQ(kith_record_field(&x, "x-a")->value.str, "from-alice");
        ASSERT_STREQ(kith_record_field(&x, "x-b")->value.str, "from-bob");
        kith_record_close(&x);
        kith_record_close(&y);
    }
    tnode_free(a);
    tnode_free(b);
}

/* ---- live pushes -------------------------------------------------------------------- */

static void
test_push_after_sync(void **state)
{
    (void) state;
    tnode_t *a = tnode_new("alice"), *b = tnode_new("bob");
    add_peer(a, "bob", b, 0);
    add_peer(b, "alice", a, 0);
    const char *to_bob[] = {"bob"};
    uint8_t id[KITH_REC_ID_LEN], later[KITH_REC_ID_LEN], hidden[KITH_REC_ID_LEN];
    make_record(a, id, "Before", NULL, NULL, to_bob, 1, KITH_ROLE_EDITOR);
    link_t l;
    link_open(&l, a, b, NULL);
    ASSERT_OK(link_run(&l, 100));
    make_record(a, later, "Pushed", NULL, "SECRET", to_bob, 1, KITH_ROLE_READER);
    make_record(a, hidden, "Not for bob", NULL, NULL, NULL, 0, 0);
    ASSERT_OK(kith_session_push(l.s[0], &l.out[0]));
    assert_true(l.out[0].len > 0);
    ASSERT_OK(deliver(&l, 0));
    assert_true(has_record(b, later));
    assert_false(has_record(b, hidden));
    char text[16];
    field_text(b, later, "politics", text, sizeof(text));
    ASSERT_STREQ(text, "");
    /* Nothing more to push. */
    ASSERT_OK(kith_session_push(l.s[0], &l.out[0]));
    ASSERT_EQ(l.out[0].len, 0);
    link_close(&l);
    tnode_free(a);
    tnode_free(b);
}

/* After the first reconciliation the responder has nothing to push back: the ops it
 * received from this peer during the sync are not echoed (they were once, see
 * commit cc643b7). */
static void
test_push_does_not_echo(void **state)
{
    (void) state;
    tnode_t *a, *b;
    setup_ops_pair(&a, &b, 3);
    link_t l;
    link_open(&l, a, b, NULL);
    ASSERT_OK(link_run(&l, 100));
    ASSERT_OK(kith_session_push(l.s[1], &l.out[1]));
    ASSERT_EQ(l.out[1].len, 0);
    link_close(&l);
    tnode_free(a);
    tnode_free(b);
}

/* ---- the one-shot daemon over loopback ---------------------------------------------- */

typedef struct {
    kith_daemon_t *sender, *receiver;
    uv_timer_t timer;
    int ticks, done_at; /* 20 ms ticks; the tick at which the one-shot reported done */
} oneshot_run_t;

static void
oneshot_tick(uv_timer_t *t)
{
    oneshot_run_t *r = t->data;
    kith_session_stats_t st;
    uint64_t ms;
    r->ticks++;
    if (r->done_at == 0 && kith_daemon_oneshot_result(r->sender, &st, &ms)) {
        r->done_at = r->ticks;
    }
    /* One second after the sync reported success (or after 60 s), stop the receiver. */
    if ((r->done_at > 0 && r->ticks > r->done_at + 50) || r->ticks > 3000) {
        kith_daemon_stop(r->sender);
        kith_daemon_stop(r->receiver);
        uv_close((uv_handle_t *) t, NULL);
    }
}

/* A one-shot sync through the daemon delivers everything before it reports success,
 * even with far more ops than the socket buffers hold. Found failing by this test (616 of
 * 1,500 records arrived: the daemon closed with writes queued and dropped unread input on
 * EOF); fixed since in daemon.c (commit 4aab6e5: flush, answered BYE). */
static void
test_oneshot_sync_delivers_everything(void **state)
{
    (void) state;
    tnode_t *a, *b;
    setup_ops_pair(&a, &b, 1500);
    FILE *log = fopen("/dev/null", "w");
    assert_non_null(log);
    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    oneshot_run_t r = {0};
    char err[256] = "";
    kith_daemon_opts_t ro = {0};
    ro.listen = "127.0.0.1:0";
    ro.log = log;
    ASSERT_OK(kith_daemon_new(&r.receiver, &loop, b->n, &ro, err, sizeof(err)));
    ASSERT_OK(kith_daemon_start(r.receiver, err, sizeof(err)));
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", kith_daemon_port(r.receiver));
    kith_daemon_opts_t so = {0};
    so.log = log;
    so.oneshot = 1;
    memcpy(so.oneshot_peer, pk(b), KITH_PK_LEN);
    so.oneshot_addr = addr;
    so.oneshot_timeout_ms = 60000;
    ASSERT_OK(kith_daemon_new(&r.sender, &loop, a->n, &so, err, sizeof(err)));
    ASSERT_OK(kith_daemon_start(r.sender, err, sizeof(err)));
    uv_timer_init(&loop, &r.timer);
    r.timer.data = &r;
    uv_timer_start(&r.timer, oneshot_tick, 20, 20);
    uv_run(&loop, UV_RUN_DEFAULT);
    kith_session_stats_t st;
    uint64_t ms = 0;
    int ok = kith_daemon_oneshot_result(r.sender, &st, &ms);
    kith_daemon_free(r.sender);
    kith_daemon_free(r.receiver);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    fclose(log);
    uint64_t held = count_records(b);
    printf("one-shot sync: ok %d, sent_ops %" PRIu64 ", receiver holds %" PRIu64
           " of 1500 records\n",
           ok, ok ? st.ops_sent : 0, held);
    assert_true(ok);
    ASSERT_EQ(held, 1500);
    tnode_free(a);
    tnode_free(b);
}

/* Runs a listening daemon over the node in dir in a child process (the store connection
 * must not cross fork, so the child opens its own); its port is written to fd. */
static void
serve_in_child(const char *dir, int fd)
{
    kith_node_t *n = NULL;
    char err[256] = "";
    uv_loop_t loop;
    kith_daemon_t *d = NULL;
    FILE *log = fopen("/dev/null", "w");
    kith_daemon_opts_t o = {0};
    o.listen = "127.0.0.1:0";
    o.log = log;
    if (kith_node_open(dir, NULL, &n, err, sizeof(err)) != KITH_OK || uv_loop_init(&loop) != 0 ||
        kith_daemon_new(&d, &loop, n, &o, err, sizeof(err)) != KITH_OK ||
        kith_daemon_start(d, err, sizeof(err)) != KITH_OK) {
        _exit(1);
    }
    int port = kith_daemon_port(d);
    if (write(fd, &port, sizeof(port)) != (ssize_t) sizeof(port)) {
        _exit(1);
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* until SIGTERM */
    kith_daemon_free(d);
    kith_node_close(n);
    _exit(0);
}

typedef struct {
    kith_daemon_t *sender;
    pid_t child;
    uv_timer_t timer;
    int ticks; /* of 20 ms */
} throttle_t;

/* Every second the receiver runs for 40 ms: alive and working, but slowly. The timer is
 * unreferenced: the loop ends when the one-shot daemon stops, whichever way. */
static void
throttle_tick(uv_timer_t *t)
{
    throttle_t *th = t->data;
    th->ticks++;
    int phase = th->ticks % 50;
    if (phase == 0 || phase == 2) {
        kill(th->child, phase == 0 ? SIGCONT : SIGSTOP);
    }
    if (th->ticks > 50 * 600) {
        kith_daemon_stop(th->sender); /* give up after 600 s */
    }
}

/* BUG: src/net/daemon.c on_tick() (line 1008: `if (c->closing || c->job.queued) continue;`)
 * never ticks a connection that has a job queued, and a daemon receiving a long stream of
 * op batches always has one, so it sends no keepalive PING while it digests them; the
 * session's receiver sends nothing else until DONE. The sending side hears nothing and
 * its dead-peer timer (KITH_DEAD_MS, 90 s) closes the session: any initial sync that takes
 * the receiver more than 90 s fails, although the receiver is alive and applying ops.
 * Input: a one-shot sync of 15,000 records to a daemon that runs 40 ms of every second (a
 * slow machine; with the CLI, the same happens unthrottled with 100,000 records on a busy
 * two-core host, and with 20,000 records when the receiver runs 4% of the time).
 * Expected: the sync completes; actual: after 93 s the sender logs "bob stopped answering"
 * and `kith sync` fails ("did not complete"); here ok == 0 after about 100 s. Takes about
 * two minutes when enabled (KITH_TEST_FILTER=test_slow_receiver_is_not_dead).
 * Fixed: the daemon counts completed writes as a sign of life (kith_session_note_alive);
 * the test is slow, so it runs only with KITH_SLOW_TESTS=1. */
static void
test_slow_receiver_is_not_dead(void **state)
{
    (void) state;
    if (getenv("KITH_SLOW_TESTS") == NULL) {
        skip(); /* about two minutes: run with KITH_SLOW_TESTS=1 */
    }
    tnode_t *a, *b;
    setup_ops_pair(&a, &b, 15000); /* 12 MB of ops: more than the socket buffers hold */
    uint8_t bob_key[KITH_PK_LEN];
    memcpy(bob_key, pk(b), KITH_PK_LEN);
    kith_node_close(b->n); /* the child opens its own */
    b->n = NULL;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(fds[0]);
        serve_in_child(b->dir, fds[1]);
    }
    close(fds[1]);
    int port = 0;
    ASSERT_EQ(read(fds[0], &port, sizeof(port)), (ssize_t) sizeof(port));
    close(fds[0]);
    FILE *log = fopen("/dev/null", "w");
    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    char err[256] = "", addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    kith_daemon_opts_t so = {0};
    so.log = log;
    so.oneshot = 1;
    memcpy(so.oneshot_peer, bob_key, KITH_PK_LEN);
    so.oneshot_addr = addr;
    so.oneshot_timeout_ms = 300000;
    throttle_t th = {0};
    th.child = child;
    ASSERT_OK(kith_daemon_new(&th.sender, &loop, a->n, &so, err, sizeof(err)));
    ASSERT_OK(kith_daemon_start(th.sender, err, sizeof(err)));
    uv_timer_init(&loop, &th.timer);
    th.timer.data = &th;
    uv_timer_start(&th.timer, throttle_tick, 20, 20);
    uv_unref((uv_handle_t *) &th.timer);
    uv_run(&loop, UV_RUN_DEFAULT);
    kill(child, SIGCONT);
    uv_close((uv_handle_t *) &th.timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    kith_session_stats_t st;
    uint64_t ms = 0;
    int ok = kith_daemon_oneshot_result(th.sender, &st, &ms);
    kith_daemon_free(th.sender);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    fclose(log);
    kill(child, SIGCONT);
    kill(child, SIGTERM);
    int status = 0;
    waitpid(child, &status, 0);
    printf("sync with a slow receiver: %s after %d s\n", ok ? "complete" : "failed", th.ticks / 50);
    assert_true(ok);
    tnode_free(a);
    tnode_free(b);
}

/* ---- timers ------------------------------------------------------------------------- */

static void
test_timers(void **state)
{
    (void) state;
    tnode_t *a, *b;
    setup_ops_pair(&a, &b, 1);
    /* A handshake that never completes. */
    link_t l;
    link_open(&l, a, b, NULL);
    kith_buf_t out;
    kith_buf_init(&out);
    ASSERT_OK(kith_session_tick(l.s[0], T0 + KITH_HANDSHAKE_MS / 2, &out));
    ASSERT_OK(kith_session_tick(l.s[1], T0 + KITH_HANDSHAKE_MS, &out));
    ASSERT_EQ(out.len, 0);
    ASSERT_ERR(kith_session_tick(l.s[0], T0 + KITH_HANDSHAKE_MS + 1, &out), KITH_EPROTO);
    ASSERT_ERR(kith_session_tick(l.s[1], T0 + KITH_HANDSHAKE_MS + 1, &out), KITH_EPROTO);
    link_close(&l);

    /* An open, idle session: ping after the keepalive time, dead after the dead time. */
    link_open(&l, a, b, NULL);
    ASSERT_OK(link_run(&l, 100));
    uint64_t t = T0;
    ASSERT_OK(kith_session_tick(l.s[0], t + KITH_KEEPALIVE_MS, &l.out[0]));
    ASSERT_EQ(l.out[0].len, 0);
    ASSERT_OK(kith_session_tick(l.s[0], t + KITH_KEEPALIVE_MS + 1, &l.out[0]));
    assert_true(l.out[0].len > 0); /* a PING */
    uint64_t ping_bytes = l.out[0].len;
    /* A second tick right after sends nothing more. */
    ASSERT_OK(kith_session_tick(l.s[0], t + KITH_KEEPALIVE_MS + 2, &l.out[0]));
    ASSERT_EQ(l.out[0].len, ping_bytes);
    /* The peer answers with a PONG, which counts as hearing from it. */
    l.now = t + KITH_KEEPALIVE_MS + 10;
    ASSERT_OK(deliver(&l, 0));
    assert_true(l.out[1].len > 0);
    ASSERT_OK(deliver(&l, 1));
    ASSERT_OK(kith_session_tick(l.s[0], l.now + KITH_DEAD_MS, &l.out[0]));
    /* Silence: pings go out (nothing comes back), then the session gives up. */
    kith_buf_t sink;
    kith_buf_init(&sink);
    uint64_t last_heard = l.now;
    int rc = KITH_OK;
    uint64_t when = last_heard;
    while (rc == KITH_OK && when <= last_heard + KITH_DEAD_MS + 1000) {
        when += 1000;
        rc = kith_session_tick(l.s[0], when, &sink);
    }
    ASSERT_EQ(rc, KITH_EPROTO);
    ASSERT_EQ(when, last_heard + KITH_DEAD_MS + 1000);
    assert_true(sink.len > 0);
    kith_buf_close(&sink);
    kith_buf_close(&out);
    link_close(&l);
    tnode_free(a);
    tnode_free(b);
}

static int
group_setup(void **state)
{
    (void) state;
    return kith_init() == KITH_OK ? 0 : -1;
}

/* ---- unsharing -------------------------------------------------------------------- */

/* The owner takes `name` out of the audience of id, as 'kith unshare' does. */
static void
unshare(tnode_t *t, const uint8_t id[KITH_REC_ID_LEN], const char *name)
{
    kith_share_target_t target;
    int removed = 0, changed = 0;
    ASSERT_OK(kith_node_share_target(t->n, name, &target));
    ASSERT_OK(kith_store_begin(t->n->store));
    ASSERT_OK(kith_store_share_remove(t->n->store, id, &target, &removed));
    ASSERT_OK(kith_node_update_audience(t->n, id, next_now(), &changed));
    ASSERT_OK(kith_store_commit(t->n->store));
    ASSERT_EQ(removed, 1);
    ASSERT_EQ(changed, 1);
}

/* 1 if t holds record id and knows it was removed from its audience. */
static int
knows_removed(tnode_t *t, const uint8_t id[KITH_REC_ID_LEN])
{
    uint64_t hlc = 0;
    int rc = kith_store_former_get(t->n->store, id, pk(t), &hlc);
    if (rc != KITH_OK && rc != KITH_ENOTFOUND) {
        ASSERT_OK(rc);
    }
    kith_record_t r;
    ASSERT_OK(kith_store_record_get(t->n->store, id, &r));
    int role = kith_record_role(&r, pk(t));
    kith_record_close(&r);
    return rc == KITH_OK && role == 0 && hlc > 0;
}

/* A node taken out of a record's audience learns it at the next sync: it gets the owner's
 * op that removed it and nothing the owner did after; the next sync has nothing to do. A
 * peer still in the audience relays the removal too. A record shared and unshared before
 * the peer ever synced is not sent at all. */
static void
test_unshare_reaches_the_removed(void **state)
{
    (void) state;
    tnode_t *a = tnode_new("alice"), *b = tnode_new("bob"), *c = tnode_new("carol");
    add_peer(a, "bob", b, 0);
    add_peer(a, "carol", c, 0);
    add_peer(b, "alice", a, 0);
    add_peer(b, "carol", c, 0);
    add_peer(c, "alice", a, 0);
    add_peer(c, "bob", b, 0);
    const char *both[] = {"bob", "carol"}, *to_bob[] = {"bob"};
    uint8_t direct[KITH_REC_ID_LEN], relayed[KITH_REC_ID_LEN], early[KITH_REC_ID_LEN];
    make_record(a, direct, "Direct", "BEFORE", NULL, both, 2, KITH_ROLE_EDITOR);
    make_record(a, relayed, "Relayed", "BEFORE", NULL, both, 2, KITH_ROLE_READER);
    ASSERT_OK(sync_pair(a, b, NULL, NULL));
    ASSERT_OK(sync_pair(a, c, NULL, NULL));
    assert_true(has_record(b, direct) && has_record(b, relayed));
    /* Shared with bob and taken back before bob ever synced. */
    make_record(a, early, "Too Early", "EARLY", NULL, to_bob, 1, KITH_ROLE_EDITOR);
    unshare(a, early, "bob");

    unshare(a, direct, "bob");
    edit_record(a, direct, pk(a), "note", "AFTER", 0, NULL, NULL);
    kith_session_stats_t sa, sb;
    ASSERT_OK(sync_pair(a, b, &sa, &sb));
    ASSERT_EQ(sa.ops_sent, 1); /* the removal, nothing of "Too Early" */
    ASSERT_EQ(sb.ops_received, 1);
    ASSERT_EQ(sa.ops_rejected + sb.ops_rejected, 0);
    assert_true(knows_removed(b, direct));
    char text[16];
    field_text(b, direct, "note", text, sizeof(text));
    ASSERT_STREQ(text, "BEFORE");
    assert_false(has_record(b, early));
    /* Stable: the next sync sends nothing either way. */
    ASSERT_OK(sync_pair(a, b, &sa, &sb));
    ASSERT_EQ(sa.ops_sent + sa.ops_received + sb.ops_sent + sb.ops_received, 0);
    ASSERT_OK(sync_pair(b, a, &sb, &sa));
    ASSERT_EQ(sa.ops_sent + sa.ops_received + sb.ops_sent + sb.ops_received, 0);

    /* carol, still in the audience, hears of bob's removal from alice and tells bob. */
    unshare(a, relayed, "bob");
    ASSERT_OK(sync_pair(a, c, NULL, NULL));
    ASSERT_OK(sync_pair(c, b, &sa, &sb));
    ASSERT_EQ(sa.ops_sent, 1);
    ASSERT_EQ(sa.ops_rejected + sb.ops_rejected, 0);
    assert_true(knows_removed(b, relayed));
    assert_false(knows_removed(c, relayed));

    /* Shared again: everything flows again, the removal is forgotten. */
    kith_share_target_t bob;
    ASSERT_OK(kith_node_share_target(a->n, "bob", &bob));
    ASSERT_OK(kith_store_begin(a->n->store));
    ASSERT_OK(kith_store_share_set(a->n->store, direct, &bob, KITH_ROLE_EDITOR));
    ASSERT_OK(kith_node_update_audience(a->n, direct, next_now(), NULL));
    ASSERT_OK(kith_store_commit(a->n->store));
    ASSERT_OK(sync_pair(a, b, &sa, &sb));
    ASSERT_EQ(sb.ops_rejected, 0);
    assert_false(knows_removed(b, direct));
    field_text(b, direct, "note", text, sizeof(text));
    ASSERT_STREQ(text, "AFTER");
    tnode_free(a);
    tnode_free(b);
    tnode_free(c);
}

/* With a live session, the removal is pushed at once, alone. */
static void
test_unshare_pushed(void **state)
{
    (void) state;
    tnode_t *a = tnode_new("alice"), *b = tnode_new("bob");
    add_peer(a, "bob", b, 0);
    add_peer(b, "alice", a, 0);
    const char *to_bob[] = {"bob"};
    uint8_t id[KITH_REC_ID_LEN];
    make_record(a, id, "Pushed", "BEFORE", NULL, to_bob, 1, KITH_ROLE_EDITOR);
    link_t l;
    link_open(&l, a, b, NULL);
    ASSERT_OK(link_run(&l, 100));
    uint64_t sent = kith_session_stats(l.s[0])->ops_sent;
    unshare(a, id, "bob");
    edit_record(a, id, pk(a), "note", "AFTER", 0, NULL, NULL);
    ASSERT_OK(kith_session_push(l.s[0], &l.out[0]));
    ASSERT_OK(deliver(&l, 0));
    ASSERT_EQ(kith_session_stats(l.s[0])->ops_sent, sent + 1);
    ASSERT_EQ(kith_session_stats(l.s[1])->ops_rejected, 0);
    assert_true(knows_removed(b, id));
    char text[16];
    field_text(b, id, "note", text, sizeof(text));
    ASSERT_STREQ(text, "BEFORE");
    link_close(&l);
    tnode_free(a);
    tnode_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_nodes_converge),
        cmocka_unit_test(test_self_peer_gets_private),
        cmocka_unit_test(test_relay),
        cmocka_unit_test(test_random_convergence),
        cmocka_unit_test(test_cost_grows_with_differences),
        cmocka_unit_test(test_untrusted_initiator),
        cmocka_unit_test(test_wrong_responder_key),
        cmocka_unit_test(test_tampered_frame),
        cmocka_unit_test(test_tampered_handshake),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_zero_length_frame),
        cmocka_unit_test(test_garbage_never_overflows),
        cmocka_unit_test(test_older_protocol_refused),
        cmocka_unit_test(test_refusals_look_alike),
        cmocka_unit_test(test_handshake_lengths_fixed),
        cmocka_unit_test(test_replayed_message1_refused),
        cmocka_unit_test(test_messages_well_formed),
        cmocka_unit_test(test_messages_malformed),
        cmocka_unit_test(test_rekey),
        cmocka_unit_test(test_flood_of_empty_messages),
        cmocka_unit_test(test_bye_must_carry_reason),
        cmocka_unit_test(test_received_set_is_bounded),
        cmocka_unit_test(test_authorization),
        cmocka_unit_test(test_new_record_in_one_batch),
        cmocka_unit_test(test_editor_cannot_delete_or_share),
        cmocka_unit_test(test_editor_delete_or_audience_refused),
        cmocka_unit_test(test_future_hlc_does_not_exhaust_clock),
        cmocka_unit_test(test_reader_op_through_session),
        cmocka_unit_test(test_concurrent_edits),
        cmocka_unit_test(test_push_after_sync),
        cmocka_unit_test(test_push_does_not_echo),
        cmocka_unit_test(test_oneshot_sync_delivers_everything),
        cmocka_unit_test(test_slow_receiver_is_not_dead),
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_unshare_reaches_the_removed),
        cmocka_unit_test(test_unshare_pushed),
    };
    if (getenv("KITH_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("KITH_TEST_FILTER")); /* e.g. "test_relay" */
    }
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
