/*
 * libFuzzer target for src/sync/session.c: a responder session over a real node, fed what
 * a peer would send. Nothing may crash or leak, and two promises are checked:
 *   - every frame the session writes after the handshake decrypts under the channel and
 *     is a well-formed message ([type, ...] with a known type);
 *   - after a receive error the harness stops feeding, as the daemon closes.
 *
 * The node is created once per process, lazily (tests/fuzz/replay.c never calls
 * LLVMFuzzerInitialize), in a temporary directory removed at exit. It trusts one peer
 * whose identity comes from a fixed seed (FUZZ_PEER_SEED), holds records shared with that
 * peer, unshared ones and private fields, and some ops of the peer's own. Received ops are
 * applied inside a transaction that is always rolled back, so every input sees the same
 * store and runs stay reproducible.
 *
 * Input: byte 0 holds flags, the rest depends on bit 0.
 *   bit 0 clear  the rest is raw bytes from the network, fed to the responder as they come
 *                (handshake framing and Noise message 1);
 *   bit 0 set    the harness runs a real IK initiator as the trusted peer, then reads the
 *                rest as messages, each a 2-byte big-endian length then that many bytes
 *                (the last may be cut short, lengths are clipped to KITH_MSG_MAX), each
 *                encrypted on the real channel and framed, so the fuzzer reaches the
 *                message decoders (RECON, OPS, DONE, PING, PONG, BYE, the reconciliation).
 *   bit 1  deliver each frame in two pieces, cut in its middle
 *   bit 2  call kith_session_pull() (64 KiB) and kith_session_push() after each message
 *   bit 3  call kith_session_tick() after each message, the clock advancing 20 s each time
 *   bit 4  the first message is the initiator's handshake payload instead of the usual
 *          {"name": "fuzz", "time": t, "versions": [3]}, t counting up
 *   bit 5  the store reports the peer as a self peer (one of the user's own devices)
 *
 * Seeds in corpus/session: valid plaintexts ([1, bin] the reconciliation start over an
 * empty set, [2, [bin...]] two ops signed by the fixed peer, [3], [4], [6, "x"]), a whole
 * exchange, a custom hello, and garbage on both sides of the handshake. The two seed ops
 * are the peer's own record (owner = author = the FUZZ_PEER_SEED identity, id
 * kith_op_rec_id_make(peer, 8 x 0xb0), hlc (T0 + 10 + i) << 16): a creation op setting
 * name "Seed Op" and an op setting note "a note"; regenerate them if the seed or the op
 * format changes. KITH_FUZZ_VERBOSE=1 prints, per input, how far it got.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <sodium.h>

#include "crypto/noise.h"
#include "kith/error.h"
#include "kith/kith.h"
#include "model/schema.h"
#include "net/syncenv.h"
#include "node/node.h"
#include "sync/session.h"
#include "util/mpcheck.h"

#define FUZZ_PEER_SEED 0xf5 /* every byte of the trusted peer's Ed25519 seed */
#define T0             UINT64_C(1700000000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
    int ready;
    char dir[64];
    kith_node_t *node;
    kith_identity_t *peer; /* the trusted initiator */
    kith_syncenv_t se;
    kith_session_env_t real; /* syncenv's callbacks */
    kith_session_env_t env;  /* what the session gets: apply_ops rolls back */
    int self_peer;           /* bit 5 of the current input */
    int verbose;             /* KITH_FUZZ_VERBOSE set: one line per input, for the corpus */
    int last_rc;             /* the session call that ended the input */
    uint64_t hello_ms;       /* the time in the last default hello */
} g;

/* A broken promise (or a harness that no longer fits the library): say where, then die. */
static void
check_at(int cond, int line)
{
    if (!cond) {
        fprintf(stderr, "fuzz_session.c:%d: check failed\n", line);
        abort();
    }
}
#define check(cond) check_at((cond), __LINE__)

static int
find_peer(void *ctx, const uint8_t x25519[32], uint8_t ed[32], char name[65], int *self_peer)
{
    int rc = g.real.find_peer(ctx, x25519, ed, name, self_peer);
    if (rc == KITH_OK) {
        *self_peer = g.self_peer;
    }
    return rc;
}

static int
load_items(void *ctx, const uint8_t peer[32], int self_peer, kith_item_t **items,
           uint8_t (**recs)[16], size_t *n, uint64_t *max_seq)
{
    return g.real.load_items(ctx, peer, self_peer, items, recs, n, max_seq);
}

/* Applies like the daemon does, then undoes it: the store must not drift between inputs. */
static int
apply_ops(void *ctx, const uint8_t peer[32], int self_peer, const uint8_t *const *ops,
          const size_t *lens, size_t n, kith_apply_stats_t *stats)
{
    kith_store_t *st = g.node->store;
    int rc = kith_store_begin(st);
    if (rc == KITH_OK) {
        rc = kith_store_apply_remote(st, g.node->id->pk, peer, self_peer, ops, lens, n, stats, NULL,
                                     NULL);
        kith_store_rollback(st);
    }
    return rc;
}

static void
cleanup(void)
{
    kith_node_close(g.node);
    kith_identity_free(g.peer);
    DIR *d = opendir(g.dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", g.dir, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(g.dir);
}

static void
set_str(kith_op_t *op, const char *field, const char *text)
{
    kith_value_t v = {0};
    check(kith_value_set_str(&v, text, strlen(text)) == KITH_OK);
    check(kith_op_set_field(op, field, &v) == KITH_OK);
    kith_value_clear(&v);
}

/* The node's contents: 40 records of its own (30 shared with the peer, 10 not, some
 * with a private field) and 3 records of the peer's, shared with the node. */
static void
populate(void)
{
    kith_node_t *n = g.node;
    uint64_t now = T0;
    check(kith_store_begin(n->store) == KITH_OK);
    for (int i = 0; i < 40; i++) {
        uint8_t id[KITH_REC_ID_LEN];
        char name[32];
        snprintf(name, sizeof(name), "Contact %d", i);
        kith_node_new_record_id(n, id);
        kith_op_t op;
        kith_op_init(&op);
        memcpy(op.rec, id, KITH_REC_ID_LEN);
        memcpy(op.owner, n->id->pk, KITH_PK_LEN);
        op.kind = KITH_KIND_PERSON;
        set_str(&op, "name", name);
        check(kith_node_apply_local(n, &op, ++now, NULL) == KITH_OK);
        kith_op_close(&op);
        if (i % 4 == 0) {
            kith_op_init(&op);
            memcpy(op.rec, id, KITH_REC_ID_LEN);
            memcpy(op.owner, n->id->pk, KITH_PK_LEN);
            op.private = 1;
            set_str(&op, "politics", "private");
            check(kith_node_apply_local(n, &op, ++now, NULL) == KITH_OK);
            kith_op_close(&op);
        }
        if (i < 30) {
            kith_share_target_t target = {0, {0}, ""};
            memcpy(target.key, g.peer->pk, KITH_PK_LEN);
            check(kith_store_share_set(n->store, id, &target,
                                       i % 2 ? KITH_ROLE_EDITOR : KITH_ROLE_READER) == KITH_OK);
            check(kith_node_update_audience(n, id, ++now, NULL) == KITH_OK);
        }
    }
    kith_buf_t signed_op;
    kith_buf_init(&signed_op);
    for (int i = 0; i < 3; i++) {
        kith_op_t op;
        kith_op_init(&op);
        uint8_t nonce[8];
        memset(nonce, 0xa0 + i, sizeof(nonce));
        kith_op_rec_id_make(g.peer->pk, nonce, op.rec); /* ids are bound to their owner */
        memcpy(op.owner, g.peer->pk, KITH_PK_LEN);
        memcpy(op.author, g.peer->pk, KITH_PK_LEN);
        op.hlc = (++now) << 16;
        op.kind = KITH_KIND_ORG;
        set_str(&op, "name", "Peer's");
        check(kith_op_add_aud(&op, n->id->pk, KITH_ROLE_READER) == KITH_OK);
        uint8_t hash[KITH_HASH_LEN];
        signed_op.len = 0;
        check(kith_op_sign(&op, g.peer, &signed_op, hash) == KITH_OK);
        kith_op_close(&op);
        const uint8_t *ops[1] = {signed_op.data};
        size_t lens[1] = {signed_op.len};
        kith_apply_stats_t st = {0, 0, 0};
        check(kith_store_apply_remote(n->store, n->id->pk, g.peer->pk, 0, ops, lens, 1, &st, NULL,
                                      NULL) == KITH_OK &&
              st.accepted == 1);
    }
    kith_buf_close(&signed_op);
    check(kith_store_commit(n->store) == KITH_OK);
}

static void
setup(void)
{
    if (g.ready) {
        return;
    }
    check(kith_init() == KITH_OK);
    snprintf(g.dir, sizeof(g.dir), "/tmp/kith-fuzz-session-XXXXXX");
    check(mkdtemp(g.dir) != NULL);
    char err[256] = "";
    check(kith_node_create(g.dir, "node", NULL, err, sizeof(err)) == KITH_OK);
    check(kith_node_open(g.dir, NULL, &g.node, err, sizeof(err)) == KITH_OK);
    atexit(cleanup);
    uint8_t seed[KITH_SEED_LEN];
    memset(seed, FUZZ_PEER_SEED, sizeof(seed));
    check(kith_identity_from_seed(seed, &g.peer) == KITH_OK);
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = "fuzzpeer";
    memcpy(p.key, g.peer->pk, KITH_PK_LEN);
    p.groups = p.addr = p.last_addr = "";
    check(kith_store_begin(g.node->store) == KITH_OK);
    check(kith_store_peer_add(g.node->store, &p) == KITH_OK);
    check(kith_store_commit(g.node->store) == KITH_OK);
    populate();
    g.se.node = g.node;
    kith_syncenv_bind(&g.se, &g.real);
    g.env = g.real;
    g.env.find_peer = find_peer;
    g.env.load_items = load_items;
    g.env.apply_ops = apply_ops;
    g.env.log = NULL;
    g.verbose = getenv("KITH_FUZZ_VERBOSE") != NULL;
    g.ready = 1;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    setup();
    return 0;
}

/* ---- the harness's side of the channel ---------------------------------------------- */

typedef struct {
    kith_noise_cs_t tx, rx;
} chan_t;

/* {"name": "fuzz", "time": t, "versions": [KITH_PROTO_VERSION]} into out (36 bytes): each
 * input's message 1 is newer than the last, or the responder would refuse it as a replay. */
static size_t
default_hello(uint8_t out[static 64])
{
    static const uint8_t head[] = {0x83, 0xa4, 'n',  'a', 'm', 'e', 0xa4, 'f', 'u',
                                   'z',  'z',  0xa4, 't', 'i', 'm', 'e',  0xcf};
    static const uint8_t tail[] = {
        0xa8, 'v', 'e', 'r', 's', 'i', 'o', 'n', 's', 0x91, KITH_PROTO_VERSION};
    uint64_t t = ++g.hello_ms;
    memcpy(out, head, sizeof(head));
    for (int i = 0; i < 8; i++) {
        out[sizeof(head) + i] = (uint8_t) (t >> (56 - 8 * i));
    }
    memcpy(out + sizeof(head) + 8, tail, sizeof(tail));
    return sizeof(head) + 8 + sizeof(tail);
}

/* Delivers one frame (header included), whole or in two pieces. */
static int
feed(kith_session_t *s, const uint8_t *frame, size_t len, int split, kith_buf_t *out, uint64_t now)
{
    if (!split || len < 2) {
        return kith_session_receive(s, frame, len, out, now);
    }
    int rc = kith_session_receive(s, frame, len / 2, out, now);
    if (rc == KITH_OK) {
        rc = kith_session_receive(s, frame + len / 2, len - len / 2, out, now);
    }
    return rc;
}

/* Every frame the session wrote must decrypt and hold a well-formed message. */
static void
check_output(chan_t *c, kith_buf_t *out, uint8_t *pt)
{
    size_t off = 0;
    while (off < out->len) {
        check(out->len - off >= 2);
        size_t flen = ((size_t) out->data[off] << 8) | out->data[off + 1];
        check(flen > 0 && flen <= out->len - off - 2);
        size_t n = 0;
        check(kith_noise_cs_decrypt(&c->rx, NULL, 0, out->data + off + 2, flen, pt, KITH_FRAME_MAX,
                                    &n) == KITH_OK);
        if (c->rx.n % KITH_REKEY_EVERY == 0) {
            check(kith_noise_cs_rekey(&c->rx) == KITH_OK);
        }
        check(kith_mpcheck(pt, n, 3) == KITH_OK);
        msgpack_unpacked msg;
        msgpack_unpacked_init(&msg);
        size_t used = 0;
        check(msgpack_unpack_next(&msg, (const char *) pt, n, &used) == MSGPACK_UNPACK_SUCCESS &&
              used == n);
        check(msg.data.type == MSGPACK_OBJECT_ARRAY && msg.data.via.array.size >= 1);
        const msgpack_object *t = &msg.data.via.array.ptr[0];
        check(t->type == MSGPACK_OBJECT_POSITIVE_INTEGER && t->via.u64 >= 1 && t->via.u64 <= 6);
        msgpack_unpacked_destroy(&msg);
        off += 2 + flen;
    }
    out->len = 0;
}

/* Next message of the input: 2-byte length, then up to that many bytes. */
static int
next_msg(const uint8_t **p, const uint8_t *end, const uint8_t **msg, size_t *len)
{
    if (end - *p < 2) {
        return 0;
    }
    size_t want = ((size_t) (*p)[0] << 8) | (*p)[1];
    *p += 2;
    size_t have = (size_t) (end - *p);
    *len = want < have ? want : have;
    if (*len > KITH_MSG_MAX) {
        *len = KITH_MSG_MAX;
    }
    *msg = *p;
    *p += *len;
    return 1;
}

static void
run_channel(kith_session_t *s, int flags, const uint8_t *p, const uint8_t *end, kith_buf_t *out)
{
    static uint8_t frame[2 + KITH_FRAME_MAX], pt[KITH_FRAME_MAX];
    chan_t *c = sodium_malloc(sizeof(*c));
    check(c != NULL);
    memset(c, 0, sizeof(*c));
    kith_noise_hs_t *hs = NULL;
    uint8_t own_hello[64];
    const uint8_t *hello = own_hello, *msg;
    size_t hello_len = default_hello(own_hello), len = 0;
    if ((flags & 16) && next_msg(&p, end, &msg, &len)) {
        hello = msg;
        hello_len = len < 1024 ? len : 1024;
    }
    uint8_t peer_x[KITH_PK_LEN];
    check(kith_identity_x25519_pk(g.node->id->pk, peer_x) == KITH_OK);
    check(kith_noise_hs_new(&hs, KITH_NOISE_IK, 1, (const uint8_t *) "kith sync", 9, g.peer->xsk,
                            peer_x) == KITH_OK);
    size_t mlen = 0;
    check(kith_noise_hs_write(hs, hello, hello_len, frame + 2, sizeof(frame) - 2, &mlen) ==
          KITH_OK);
    frame[0] = (uint8_t) (mlen >> 8);
    frame[1] = (uint8_t) mlen;
    uint64_t now = T0;
    int rc = feed(s, frame, mlen + 2, flags & 2, out, now);
    g.last_rc = rc;
    if (rc != KITH_OK || !kith_session_is_open(s)) {
        /* A hello the responder refuses: it answers with a decoy of message 2's length. */
        check(rc != KITH_OK || kith_session_refusal(s) != KITH_OK);
        check(rc != KITH_OK ||
              out->len == 2 + KITH_NOISE_KEY_LEN + KITH_HELLO_LEN + KITH_NOISE_TAG_LEN);
        goto out;
    }
    check(out->len > 2);
    size_t flen = ((size_t) out->data[0] << 8) | out->data[1];
    check(flen + 2 == out->len);
    size_t plen = 0;
    check(kith_noise_hs_read(hs, out->data + 2, flen, pt, sizeof(pt), &plen) == KITH_OK);
    check(kith_noise_hs_split(hs, &c->tx, &c->rx) == KITH_OK);
    out->len = 0;
    while (next_msg(&p, end, &msg, &len)) {
        size_t ct = 0;
        check(kith_noise_cs_encrypt(&c->tx, NULL, 0, msg, len, frame + 2, sizeof(frame) - 2, &ct) ==
              KITH_OK);
        if (c->tx.n % KITH_REKEY_EVERY == 0) {
            check(kith_noise_cs_rekey(&c->tx) == KITH_OK);
        }
        frame[0] = (uint8_t) (ct >> 8);
        frame[1] = (uint8_t) ct;
        rc = feed(s, frame, ct + 2, flags & 2, out, now);
        if (rc == KITH_OK && (flags & 4)) {
            rc = kith_session_pull(s, out, 65536);
            if (rc == KITH_OK) {
                rc = kith_session_push(s, out);
            }
        }
        if (rc == KITH_OK && (flags & 8)) {
            now += 20000;
            rc = kith_session_tick(s, now, out);
        }
        check_output(c, out, pt);
        if (g.verbose) {
            fprintf(stderr, "  message of %zu bytes (type byte %#04x): %s\n", len,
                    len > 1 ? msg[1] : 0, kith_strerror(rc));
        }
        if (rc != KITH_OK) {
            break;
        }
    }
    g.last_rc = rc;
    if (rc == KITH_OK) {
        rc = kith_session_close_msg(s, "fuzz", out);
        check(rc == KITH_OK);
        check_output(c, out, pt);
    }
out:
    kith_noise_hs_free(hs);
    kith_noise_cs_wipe(&c->tx);
    kith_noise_cs_wipe(&c->rx);
    sodium_free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1) {
        return 0;
    }
    int flags = data[0];
    g.self_peer = (flags & 32) != 0;
    kith_session_t *s = NULL;
    check(kith_session_new(&s, &g.env, g.node->id, "node", 0, NULL, T0) == KITH_OK);
    kith_buf_t out;
    kith_buf_init(&out);
    if (flags & 1) {
        run_channel(s, flags, data + 1, data + size, &out);
    } else {
        int rc = feed(s, data + 1, size - 1, flags & 2, &out, T0);
        /* Every message 1 gets an answer of message 2's length, genuine or not (a decoy
         * for a refusal), and a refused one opens nothing. */
        check(out.len == 0 ||
              out.len == 2 + KITH_NOISE_KEY_LEN + KITH_HELLO_LEN + KITH_NOISE_TAG_LEN);
        check(kith_session_refusal(s) == KITH_OK || !kith_session_is_open(s));
        g.last_rc = rc;
    }
    if (g.verbose) {
        const kith_session_stats_t *st = kith_session_stats(s);
        fprintf(stderr, "flags %#04x: %s; ops received %llu, rejected %llu, sent %llu; synced %d\n",
                flags, kith_strerror(g.last_rc), (unsigned long long) st->ops_received,
                (unsigned long long) st->ops_rejected, (unsigned long long) st->ops_sent,
                st->synced);
    }
    kith_buf_close(&out);
    kith_session_free(s);
    return 0;
}
