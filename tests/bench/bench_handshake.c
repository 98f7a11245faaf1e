/*
 * The client side of scripts/bench-handshake: how long a kith daemon takes to answer a
 * message 1, and with how many bytes, for each kind of message 1 it may get.
 *
 *   bench_handshake setup DIR PEERS   creates bob's home in DIR/bob trusting PEERS peers
 *                                     (at least 2): "known" and "banned", whose identities
 *                                     come from fixed seeds, and PEERS - 2 random ones
 *   bench_handshake run DIR PORT N    against bob's daemon on 127.0.0.1:PORT, N trials of
 *                                     each kind, in a shuffled order each round; prints one
 *                                     line per kind: median and p90 latency, answer bytes
 *
 * The kinds (proto/SYNC.md "Handshake"): (a) a stranger's key, (b) the trusted peer
 * "known" (a real message 2), (c) a replay of a message 1 of "known" that bob admitted
 * once, (d) a message 1 made for another responder key, (e) the trusted peer "banned",
 * which is first made to break the protocol so that bob backs it off for a minute.
 * Latency: from the last byte of message 1 written to the last byte of the answer read,
 * one fresh TCP connection per trial (set up before the clock starts). Message 1 is made
 * before the clock starts too. Not part of the test suite: a benchmark, run by
 * scripts/bench-handshake, built by it against the library (no CMake target).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <sodium.h>

#include "crypto/noise.h"
#include "kith/error.h"
#include "kith/kith.h"
#include "node/node.h"
#include "sync/session.h"
#include "util/hlc.h"

enum { A_UNKNOWN, B_KNOWN, C_REPLAY, D_ELSEWHERE, E_BANNED, N_KINDS };
static const char *const kind_names[N_KINDS] = {"(a) unknown key", "(b) trusted peer",
                                                "(c) replayed message 1", "(d) for another key",
                                                "(e) peer backed off"};

#define SEED_KNOWN  0x11
#define SEED_BANNED 0x22

static void
die(const char *what)
{
    fprintf(stderr, "bench_handshake: %s\n", what);
    exit(1);
}

static kith_identity_t *
seeded(uint8_t byte)
{
    uint8_t seed[KITH_SEED_LEN];
    kith_identity_t *id = NULL;
    memset(seed, byte, sizeof(seed));
    if (kith_identity_from_seed(seed, &id) != KITH_OK) {
        die("identity");
    }
    return id;
}

static void
add_peer(kith_node_t *n, const char *name, const uint8_t key[KITH_PK_LEN])
{
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = (char *) name;
    memcpy(p.key, key, KITH_PK_LEN);
    p.groups = p.addr = p.last_addr = "";
    if (kith_store_peer_add(n->store, &p) != KITH_OK) {
        die("peer add");
    }
}

static int
setup(const char *dir, int peers)
{
    char home[4096], err[256] = "", path[4200];
    snprintf(home, sizeof(home), "%s/bob", dir);
    kith_node_t *n = NULL;
    if (peers < 2 || kith_node_create(home, "bob", NULL, err, sizeof(err)) != KITH_OK ||
        kith_node_open(home, NULL, &n, err, sizeof(err)) != KITH_OK) {
        die(err[0] ? err : "PEERS must be at least 2");
    }
    kith_identity_t *known = seeded(SEED_KNOWN), *banned = seeded(SEED_BANNED);
    if (kith_store_begin(n->store) != KITH_OK) {
        die("begin");
    }
    add_peer(n, "known", known->pk);
    add_peer(n, "banned", banned->pk);
    for (int i = 2; i < peers; i++) {
        kith_identity_t *id = NULL;
        char name[32];
        snprintf(name, sizeof(name), "peer%03d", i);
        if (kith_identity_new(&id) != KITH_OK) {
            die("identity");
        }
        add_peer(n, name, id->pk);
        kith_identity_free(id);
    }
    if (kith_store_commit(n->store) != KITH_OK) {
        die("commit");
    }
    /* The run needs bob's X25519 key; it must not open the store the daemon uses. */
    snprintf(path, sizeof(path), "%s/bob.xpk", dir);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(n->id->xpk, KITH_PK_LEN, 1, f) != 1 || fclose(f) != 0) {
        die("bob.xpk");
    }
    kith_identity_free(known);
    kith_identity_free(banned);
    kith_node_close(n);
    return 0;
}

/* ---- the wire ----------------------------------------------------------------------- */

static uint64_t last_hello_ms;

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int
dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t) port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *) &a, sizeof(a)) != 0) {
        die("connect");
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Reads one frame into buf (cap bytes); its length with the header, 0 on EOF/timeout. */
static size_t
read_frame(int fd, uint8_t *buf, size_t cap)
{
    size_t have = 0, want = 2;
    while (have < want) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0) {
            return 0;
        }
        ssize_t n = recv(fd, buf + have, want - have, 0);
        if (n <= 0) {
            return 0;
        }
        have += (size_t) n;
        if (have == 2 && want == 2) {
            want = 2 + (((size_t) buf[0] << 8) | buf[1]);
            if (want > cap) {
                return 0;
            }
        }
    }
    return have;
}

/* A framed message 1 from id for the X25519 key to, with a fresh time; *hs keeps the
 * initiator's state. Returns its length. */
static size_t
message1(const kith_identity_t *id, const uint8_t to[KITH_PK_LEN], uint8_t *msg, size_t cap,
         kith_noise_hs_t **hs)
{
    uint64_t t = kith_hlc_now_ms();
    last_hello_ms = t > last_hello_ms ? t : last_hello_ms + 1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "name", 4);
    msgpack_pack_str(&pk, 5);
    msgpack_pack_str_body(&pk, "bench", 5);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "time", 4);
    msgpack_pack_uint64(&pk, last_hello_ms);
    msgpack_pack_str(&pk, 8);
    msgpack_pack_str_body(&pk, "versions", 8);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, KITH_PROTO_VERSION);
    size_t len = 0;
    if (kith_noise_hs_new(hs, KITH_NOISE_IK, 1, (const uint8_t *) "kith sync", 9, id->xsk, to) !=
            KITH_OK ||
        kith_noise_hs_write(*hs, (const uint8_t *) sb.data, sb.size, msg + 2, cap - 2, &len) !=
            KITH_OK) {
        die("message 1");
    }
    msgpack_sbuffer_destroy(&sb);
    msg[0] = (uint8_t) (len >> 8);
    msg[1] = (uint8_t) len;
    return len + 2;
}

/* One exchange: sends msg1 on a fresh connection, times the answer. *ok: the answer is a
 * message 2 that decrypts (hs non-NULL). The connection is left to the caller. */
static int
exchange(int port, const uint8_t *msg1, size_t len, kith_noise_hs_t *hs, uint64_t *ns,
         size_t *answer, int *ok)
{
    static uint8_t buf[2 + KITH_NOISE_MAX_MSG];
    int fd = dial(port);
    uint64_t t0 = now_ns();
    if (send(fd, msg1, len, MSG_NOSIGNAL) != (ssize_t) len) {
        die("send");
    }
    *answer = read_frame(fd, buf, sizeof(buf));
    *ns = now_ns() - t0;
    *ok = 0;
    if (*answer > 2 && hs != NULL) {
        uint8_t pt[KITH_HELLO_LEN];
        size_t n = 0;
        *ok = kith_noise_hs_read(hs, buf + 2, *answer - 2, pt, sizeof(pt), &n) == KITH_OK;
    }
    return fd;
}

/* Makes bob back "banned" off: a real session, then a message that is not msgpack. */
static void
get_banned(int port, const kith_identity_t *banned, const uint8_t bob_x[KITH_PK_LEN])
{
    static uint8_t msg[2 + KITH_NOISE_MAX_MSG];
    kith_noise_hs_t *hs = NULL;
    kith_noise_cs_t tx, rx;
    uint64_t ns;
    size_t answer, len = message1(banned, bob_x, msg, sizeof(msg), &hs);
    int ok, fd = exchange(port, msg, len, hs, &ns, &answer, &ok);
    if (!ok || kith_noise_hs_split(hs, &tx, &rx) != KITH_OK) {
        die("banned: no session");
    }
    static const uint8_t junk[] = {0xc1};
    size_t ct = 0;
    if (kith_noise_cs_encrypt(&tx, NULL, 0, junk, sizeof(junk), msg + 2, sizeof(msg) - 2, &ct) !=
        KITH_OK) {
        die("encrypt");
    }
    msg[0] = (uint8_t) (ct >> 8);
    msg[1] = (uint8_t) ct;
    if (send(fd, msg, ct + 2, MSG_NOSIGNAL) != (ssize_t) (ct + 2)) {
        die("send");
    }
    uint8_t buf[256];
    while (recv(fd, buf, sizeof(buf), 0) > 0) {
    }
    close(fd);
    kith_noise_hs_free(hs);
    kith_noise_cs_wipe(&tx);
    kith_noise_cs_wipe(&rx);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static int
run(const char *dir, int port, int trials)
{
    char path[4200];
    uint8_t bob_x[KITH_PK_LEN];
    snprintf(path, sizeof(path), "%s/bob.xpk", dir);
    FILE *f = fopen(path, "rb");
    if (f == NULL || fread(bob_x, KITH_PK_LEN, 1, f) != 1) {
        die("bob.xpk");
    }
    fclose(f);
    kith_identity_t *known = seeded(SEED_KNOWN), *banned = seeded(SEED_BANNED);
    kith_identity_t *stranger = NULL, *other = NULL;
    if (kith_identity_new(&stranger) != KITH_OK || kith_identity_new(&other) != KITH_OK) {
        die("identity");
    }
    static uint8_t msg[2 + KITH_NOISE_MAX_MSG], recorded[2 + KITH_NOISE_MAX_MSG];
    uint64_t *lat[N_KINDS];
    size_t answer_min[N_KINDS], answer_max[N_KINDS];
    int opened[N_KINDS] = {0};
    for (int k = 0; k < N_KINDS; k++) {
        lat[k] = calloc((size_t) trials, sizeof(uint64_t));
        answer_min[k] = SIZE_MAX;
        answer_max[k] = 0;
    }
    /* The recording for (c): a message 1 of known's that bob admits once. */
    kith_noise_hs_t *hs = NULL;
    uint64_t ns;
    size_t answer, recorded_len = message1(known, bob_x, recorded, sizeof(recorded), &hs);
    int ok;
    close(exchange(port, recorded, recorded_len, hs, &ns, &answer, &ok));
    kith_noise_hs_free(hs);
    if (!ok) {
        die("known is not answered: is bob's daemon running on that port?");
    }
    get_banned(port, banned, bob_x);
    usleep(100000);

    int order[N_KINDS] = {0, 1, 2, 3, 4};
    for (int t = 0; t < trials; t++) {
        for (int i = N_KINDS - 1; i > 0; i--) { /* a fresh order each round */
            int j = (int) randombytes_uniform((uint32_t) i + 1), x = order[i];
            order[i] = order[j];
            order[j] = x;
        }
        for (int i = 0; i < N_KINDS; i++) {
            int k = order[i];
            size_t len = 0;
            hs = NULL;
            switch (k) {
            case A_UNKNOWN:
                len = message1(stranger, bob_x, msg, sizeof(msg), &hs);
                break;
            case B_KNOWN:
                len = message1(known, bob_x, msg, sizeof(msg), &hs);
                break;
            case C_REPLAY:
                /* Made and thrown away, so that the client works as much before each
                 * kind's clock starts (without it, replays measured some 20 us faster). */
                message1(known, bob_x, msg, sizeof(msg), &hs);
                kith_noise_hs_free(hs);
                hs = NULL;
                len = recorded_len;
                memcpy(msg, recorded, len);
                break;
            case D_ELSEWHERE:
                len = message1(known, other->xpk, msg, sizeof(msg), &hs);
                break;
            case E_BANNED:
                len = message1(banned, bob_x, msg, sizeof(msg), &hs);
                break;
            }
            int fd = exchange(port, msg, len, hs, &lat[k][t], &answer, &ok);
            close(fd);
            kith_noise_hs_free(hs);
            opened[k] += ok;
            answer_min[k] = answer < answer_min[k] ? answer : answer_min[k];
            answer_max[k] = answer > answer_max[k] ? answer : answer_max[k];
            usleep(2000); /* let bob finish with the connection (and store a time) */
        }
    }
    printf("%-24s %10s %10s %14s %8s\n", "kind", "median us", "p90 us", "answer bytes", "opened");
    for (int k = 0; k < N_KINDS; k++) {
        qsort(lat[k], (size_t) trials, sizeof(uint64_t), cmp_u64);
        char bytes[32];
        if (answer_min[k] == answer_max[k]) {
            snprintf(bytes, sizeof(bytes), "%zu", answer_min[k]);
        } else {
            snprintf(bytes, sizeof(bytes), "%zu..%zu", answer_min[k], answer_max[k]);
        }
        printf("%-24s %10.1f %10.1f %14s %5d/%d\n", kind_names[k],
               (double) lat[k][trials / 2] / 1000.0, (double) lat[k][trials * 9 / 10] / 1000.0,
               bytes, opened[k], trials);
        free(lat[k]);
    }
    kith_identity_free(known);
    kith_identity_free(banned);
    kith_identity_free(stranger);
    kith_identity_free(other);
    return 0;
}

int
main(int argc, char **argv)
{
    if (kith_init() != KITH_OK) {
        die("kith_init");
    }
    if (argc == 4 && strcmp(argv[1], "setup") == 0) {
        return setup(argv[2], atoi(argv[3]));
    }
    if (argc == 5 && strcmp(argv[1], "run") == 0) {
        return run(argv[2], atoi(argv[3]), atoi(argv[4]));
    }
    fprintf(stderr, "usage: bench_handshake setup DIR PEERS | run DIR PORT TRIALS\n");
    return 2;
}
