/*
 * Unit tests: the blocking network flow of pairing (src/net/pairrun.h).
 *
 * Arguments, a code that does not parse, timeouts and the cancel flag run anywhere. A full
 * exchange between a host thread and a joiner in this process needs the host's offers to
 * come back to this machine: they go to the broadcast address and multicast group of every
 * non-loopback IPv4 interface, so without one (or where broadcasts are not looped back)
 * that test skips itself. The LAN case proper is tests/netns/test_pairing.sh.
 *
 * Every test that opens the network (a host sends offers to each interface's broadcast
 * address and multicast group; a joiner joins the group) runs only inside a network
 * namespace of our own, where every interface but loopback has an address in
 * 198.18.0.0/15: the tests send nothing to a real network. tests/netns/test_pairing.sh
 * runs this program in such a namespace; elsewhere those tests skip.
 */
#include "check.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <sodium.h>
#include <time.h>

#include "kith/kith.h"
#include "net/pairrun.h"

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* What the callbacks saw, and the host thread's inputs and result. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char code[KITH_PAIRING_CODE_MAX]; /* from on_code */
    unsigned expires_s;               /* from on_code */
    int codes;                        /* on_code calls */
    char progress[8][256];            /* on_progress sentences, the first 8 */
    int progresses;                   /* on_progress calls */
    int accept;                       /* what decide() answers */
    int decisions;                    /* decide() calls */
    char decided_name[KITH_PAIRING_NAME_MAX + 1];
    volatile int cancel;
    /* Host thread. */
    uint8_t pk[KITH_PK_LEN];
    uint64_t timeout_ms;
    int rc;
    char their_name[KITH_PAIRING_NAME_MAX + 1];
    uint8_t their_key[KITH_PK_LEN];
    char err[256];
} side_t;

static void
side_init(side_t *s, int accept)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->accept = accept;
}

static void
side_close(side_t *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

static void
on_code(void *ctx, const char *code, unsigned expires_s)
{
    side_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    snprintf(s->code, sizeof(s->code), "%s", code);
    s->expires_s = expires_s;
    s->codes++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void
on_progress(void *ctx, const char *sentence)
{
    side_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (s->progresses < 8) {
        snprintf(s->progress[s->progresses], sizeof(s->progress[0]), "%s", sentence);
    }
    s->progresses++;
    pthread_mutex_unlock(&s->mu);
}

static int
decide(void *ctx, const char *their_name, const uint8_t key[KITH_PK_LEN])
{
    side_t *s = ctx;
    (void) key;
    s->decisions++;
    snprintf(s->decided_name, sizeof(s->decided_name), "%s", their_name);
    return s->accept;
}

static kith_pairrun_cb_t
callbacks(side_t *s)
{
    kith_pairrun_cb_t cb = {s, on_code, on_progress, decide, &s->cancel};
    return cb;
}

static void
keypair(uint8_t seed_byte, uint8_t pk[KITH_PK_LEN])
{
    uint8_t seed[crypto_sign_SEEDBYTES], sk[crypto_sign_SECRETKEYBYTES];
    memset(seed, seed_byte, sizeof(seed));
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    sodium_memzero(sk, sizeof(sk));
}

static void *
host_thread(void *arg)
{
    side_t *s = arg;
    kith_pairrun_cb_t cb = callbacks(s);
    s->rc = kith_pairrun_host(s->pk, "Host", s->timeout_ms, &cb, s->their_name, s->their_key,
                              s->err, sizeof(s->err));
    return NULL;
}

/* Sets the cancel flag after a delay. */
typedef struct {
    volatile int *flag;
    unsigned delay_ms;
} canceler_t;

static void *
cancel_thread(void *arg)
{
    canceler_t *c = arg;
    struct timespec ts = {c->delay_ms / 1000, (long) (c->delay_ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    *c->flag = 1;
    return NULL;
}

/* 1 if this process is in a network namespace of the tests' own: some IPv4 interface
 * besides loopback, and all of them in 198.18.0.0/15. */
static int
own_network(void)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) {
        return 0;
    }
    int any = 0, foreign = 0;
    for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
            (i->ifa_flags & IFF_LOOPBACK)) {
            continue;
        }
        uint32_t a = ntohl(((struct sockaddr_in *) i->ifa_addr)->sin_addr.s_addr);
        any = 1;
        foreign |= (a & 0xfffe0000u) != 0xc6120000u; /* 198.18.0.0/15 */
    }
    freeifaddrs(ifs);
    return any && !foreign;
}

#define NETWORK_OR_SKIP()                                                                          \
    do {                                                                                           \
        if (!own_network()) {                                                                      \
            print_message("skipped: not in a network namespace of the tests' own\n");              \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static int
setup(void **state)
{
    (void) state;
    return kith_init() == KITH_OK ? 0 : -1;
}

static void
test_bad_arguments(void **state)
{
    (void) state;
    uint8_t pk[KITH_PK_LEN], key[KITH_PK_LEN];
    char name[KITH_PAIRING_NAME_MAX + 1], err[128];
    keypair(1, pk);
    ASSERT_ERR(kith_pairrun_host(pk, "me", 0, NULL, name, key, err, sizeof(err)), KITH_EINVAL);
    ASSERT_ERR(
        kith_pairrun_host(pk, "me", KITH_PAIRING_TTL_MS + 1, NULL, name, key, err, sizeof(err)),
        KITH_EINVAL);
    ASSERT_ERR(kith_pairrun_host(pk, NULL, 1000, NULL, name, key, NULL, 0), KITH_EINVAL);
    ASSERT_ERR(kith_pairrun_join(pk, "me", NULL, 1000, NULL, name, key, NULL, 0), KITH_EINVAL);
    ASSERT_ERR(kith_pairrun_join(pk, "me", "7-apple-river-tiger", 0, NULL, name, key, NULL, 0),
               KITH_EINVAL);
}

/* A code that does not parse is refused before any socket is opened or callback run. */
static void
test_join_bad_code(void **state)
{
    (void) state;
    side_t s;
    side_init(&s, 1);
    kith_pairrun_cb_t cb = callbacks(&s);
    uint8_t pk[KITH_PK_LEN], key[KITH_PK_LEN];
    char name[KITH_PAIRING_NAME_MAX + 1] = "x", err[128] = "";
    keypair(1, pk);
    const char *bad[] = {"not-a-code", "100-apple-river-tiger", "7-apple-river",
                         "7-appel-river-tiger", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ASSERT_ERR(kith_pairrun_join(pk, "me", bad[i], 1000, &cb, name, key, err, sizeof(err)),
                   KITH_EPARSE);
        ASSERT_STREQ(name, "");
        assert_non_null(strstr(err, "not a pairing code"));
    }
    ASSERT_EQ(s.progresses, 0);
    ASSERT_EQ(s.decisions, 0);
    side_close(&s);
}

/* The cancel flag ends a host run within ~600 ms, set before the run or during it. */
static void
test_host_cancel(void **state)
{
    (void) state;
    NETWORK_OR_SKIP();
    side_t s;
    side_init(&s, 1);
    kith_pairrun_cb_t cb = callbacks(&s);
    uint8_t pk[KITH_PK_LEN], key[KITH_PK_LEN];
    char name[KITH_PAIRING_NAME_MAX + 1], err[128];
    keypair(1, pk);

    s.cancel = 1;
    uint64_t t0 = now_ms();
    ASSERT_ERR(kith_pairrun_host(pk, "me", 60000, &cb, name, key, err, sizeof(err)),
               KITH_ECANCELED);
    assert_true(now_ms() - t0 < 600);

    s.cancel = 0;
    canceler_t c = {&s.cancel, 300};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_thread, &c), 0);
    t0 = now_ms();
    ASSERT_ERR(kith_pairrun_host(pk, "me", 60000, &cb, name, key, err, sizeof(err)),
               KITH_ECANCELED);
    uint64_t took = now_ms() - t0;
    pthread_join(th, NULL);
    assert_true(took >= 300 && took < 300 + 600);
    assert_non_null(strstr(err, "canceled"));
    ASSERT_STREQ(name, "");

    /* The code was handed over, and it parses. */
    ASSERT_EQ(s.codes, 2);
    ASSERT_EQ(s.expires_s, 60);
    int channel;
    uint8_t words[KITH_PAIRING_WORDS];
    ASSERT_OK(kith_pairing_code_parse(s.code, &channel, words));
    ASSERT_EQ(s.decisions, 0);
    side_close(&s);
}

/* A joiner waiting for an offer is canceled within ~600 ms too. */
static void
test_join_cancel(void **state)
{
    (void) state;
    NETWORK_OR_SKIP();
    side_t s;
    side_init(&s, 1);
    kith_pairrun_cb_t cb = callbacks(&s);
    uint8_t pk[KITH_PK_LEN], key[KITH_PK_LEN];
    char name[KITH_PAIRING_NAME_MAX + 1], err[128];
    keypair(1, pk);
    canceler_t c = {&s.cancel, 300};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_thread, &c), 0);
    uint64_t t0 = now_ms();
    int rc = kith_pairrun_join(pk, "me", "98-zebra-zipper-acorn", 60000, &cb, name, key, err,
                               sizeof(err));
    uint64_t took = now_ms() - t0;
    pthread_join(th, NULL);
    if (rc == KITH_EIO) {
        /* The discovery port is taken without SO_REUSEADDR by something else. */
        side_close(&s);
        skip();
    }
    ASSERT_ERR(rc, KITH_ECANCELED);
    assert_true(took >= 300 && took < 300 + 600);
    side_close(&s);
}

static void
test_host_expires(void **state)
{
    (void) state;
    NETWORK_OR_SKIP();
    side_t s;
    side_init(&s, 1);
    kith_pairrun_cb_t cb = callbacks(&s);
    uint8_t pk[KITH_PK_LEN], key[KITH_PK_LEN];
    char name[KITH_PAIRING_NAME_MAX + 1], err[128];
    keypair(1, pk);
    uint64_t t0 = now_ms();
    ASSERT_ERR(kith_pairrun_host(pk, "me", 1000, &cb, name, key, err, sizeof(err)), KITH_ENOTFOUND);
    assert_true(now_ms() - t0 >= 1000);
    ASSERT_STREQ(err, "the code expired: nobody paired within 1 seconds");
    ASSERT_EQ(s.expires_s, 1);
    side_close(&s);
}

static void
test_join_timeout(void **state)
{
    (void) state;
    NETWORK_OR_SKIP();
    side_t s;
    side_init(&s, 1);
    kith_pairrun_cb_t cb = callbacks(&s);
    uint8_t pk[KITH_PK_LEN], key[KITH_PK_LEN];
    char name[KITH_PAIRING_NAME_MAX + 1], err[256];
    keypair(1, pk);
    uint64_t t0 = now_ms();
    int rc =
        kith_pairrun_join(pk, "me", "98-zebra-zipper-acorn", 700, &cb, name, key, err, sizeof(err));
    if (rc == KITH_EIO) {
        side_close(&s);
        skip();
    }
    ASSERT_ERR(rc, KITH_ENOTFOUND);
    assert_true(now_ms() - t0 >= 700);
    ASSERT_STREQ(err, "no colleague is offering channel 98 on this network (is 'kith pair' "
                      "running on their machine, on the same LAN?)");
    assert_true(s.progresses >= 1);
    ASSERT_STREQ(s.progress[0], "Looking for the other side on channel 98...");
    side_close(&s);
}

/* Starts a host thread and waits for its code. */
static void
start_host(side_t *h, pthread_t *th)
{
    keypair(2, h->pk);
    h->timeout_ms = 20000;
    assert_int_equal(pthread_create(th, NULL, host_thread, h), 0);
    pthread_mutex_lock(&h->mu);
    while (h->codes == 0) {
        pthread_cond_wait(&h->cv, &h->mu);
    }
    pthread_mutex_unlock(&h->mu);
}

/* A full exchange over this machine's own interfaces; the joiner accepts or refuses. */
static void
run_exchange(int joiner_accepts)
{
    NETWORK_OR_SKIP();
    side_t h, j;
    side_init(&h, 1);
    side_init(&j, joiner_accepts);
    pthread_t th;
    start_host(&h, &th);
    kith_pairrun_cb_t cb = callbacks(&j);
    uint8_t pk[KITH_PK_LEN], key[KITH_PK_LEN];
    char name[KITH_PAIRING_NAME_MAX + 1], err[256] = "";
    keypair(1, pk);
    int rc = kith_pairrun_join(pk, "Joiner", h.code, 5000, &cb, name, key, err, sizeof(err));
    if (rc == KITH_ENOTFOUND || rc == KITH_EIO) {
        /* No offer came back to this machine. */
        h.cancel = 1;
        pthread_join(th, NULL);
        side_close(&h);
        side_close(&j);
        skip();
    }
    pthread_join(th, NULL);
    ASSERT_EQ(j.decisions, 1);
    ASSERT_STREQ(j.decided_name, "Host");
    assert_true(j.progresses >= 2);
    assert_non_null(strstr(j.progress[1], "Found a host at "));
    /* The host decides after its side of the exchange is over, whatever the joiner does. */
    ASSERT_OK(h.rc);
    ASSERT_EQ(h.decisions, 1);
    ASSERT_STREQ(h.their_name, "Joiner");
    assert_memory_equal(h.their_key, pk, KITH_PK_LEN);
    if (joiner_accepts) {
        ASSERT_OK(rc);
        ASSERT_STREQ(name, "Host");
        assert_memory_equal(key, h.pk, KITH_PK_LEN);
    } else {
        ASSERT_ERR(rc, KITH_EPERM);
        ASSERT_STREQ(name, "");
        ASSERT_STREQ(err, "the pairing was refused");
    }
    side_close(&h);
    side_close(&j);
}

static void
test_exchange(void **state)
{
    (void) state;
    run_exchange(1);
}

static void
test_exchange_refused(void **state)
{
    (void) state;
    run_exchange(0);
}

/* A wrong code: the joiner is told, the host counts one failed attempt and goes on. */
static void
test_wrong_code(void **state)
{
    (void) state;
    NETWORK_OR_SKIP();
    side_t h, j;
    side_init(&h, 1);
    side_init(&j, 1);
    pthread_t th;
    start_host(&h, &th);
    int channel;
    uint8_t words[KITH_PAIRING_WORDS];
    char wrong[KITH_PAIRING_CODE_MAX];
    ASSERT_OK(kith_pairing_code_parse(h.code, &channel, words));
    words[0] ^= 1;
    ASSERT_OK(kith_pairing_code_format(channel, words, wrong));
    kith_pairrun_cb_t cb = callbacks(&j);
    uint8_t pk[KITH_PK_LEN], key[KITH_PK_LEN];
    char name[KITH_PAIRING_NAME_MAX + 1], err[256] = "";
    keypair(1, pk);
    int rc = kith_pairrun_join(pk, "Joiner", wrong, 5000, &cb, name, key, err, sizeof(err));
    if (rc == KITH_ENOTFOUND || rc == KITH_EIO) {
        h.cancel = 1;
        pthread_join(th, NULL);
        side_close(&h);
        side_close(&j);
        skip();
    }
    ASSERT_ERR(rc, KITH_EAUTH);
    ASSERT_STREQ(err, "the code does not match: check it with your colleague (nobody was added)");
    ASSERT_EQ(j.decisions, 0);
    /* Wait for the host to count the attempt, then stop it. */
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&h.mu);
        int n = h.progresses;
        pthread_mutex_unlock(&h.mu);
        if (n > 0) {
            break;
        }
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    h.cancel = 1;
    pthread_join(th, NULL);
    ASSERT_ERR(h.rc, KITH_ECANCELED);
    ASSERT_EQ(h.decisions, 0);
    ASSERT_EQ(h.progresses, 1);
    assert_non_null(strstr(h.progress[0], "A pairing attempt failed: "));
    assert_non_null(strstr(h.progress[0], "(1 of 3 attempts)."));
    side_close(&h);
    side_close(&j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments), cmocka_unit_test(test_join_bad_code),
        cmocka_unit_test(test_host_cancel),   cmocka_unit_test(test_join_cancel),
        cmocka_unit_test(test_host_expires),  cmocka_unit_test(test_join_timeout),
        cmocka_unit_test(test_exchange),      cmocka_unit_test(test_exchange_refused),
        cmocka_unit_test(test_wrong_code),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
