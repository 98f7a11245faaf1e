/*
 * The network side of pairing (net/pairrun.h): offers, one TCP connection per exchange,
 * frames of a 2-byte big-endian length and one message of sync/pairing.h.
 *
 * Blocking sockets with poll() and deadlines, for a caller that has a thread to spare.
 * Every wait is cut into slices of at most CANCEL_SLICE_MS so that the cancel flag is seen
 * in time. Sends use MSG_NOSIGNAL: a peer that hangs up must not raise SIGPIPE in a daemon.
 *
 * Limits: connect() to an offering host is blocking and not cancellable (on a LAN it ends
 * at once unless packets to the host are dropped); the joiner tries one exchange only.
 */
#include "net/pairrun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kith/error.h"
#include "net/discovery.h"
#include "net/pairoffer.h"
#include "util/errbuf.h"

#define MSG_TIMEOUT_MS    10000 /* longest wait for one message of an exchange */
#define OFFER_INTERVAL_MS 1000  /* between two rounds of offers */
#define CANCEL_SLICE_MS   500   /* longest wait without looking at the cancel flag */
#define MCAST4            "239.255.84.84"

static uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static int
canceled(const kith_pairrun_cb_t *cb)
{
    return cb->cancel != NULL && *cb->cancel != 0;
}

static void progress(const kith_pairrun_cb_t *cb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
progress(const kith_pairrun_cb_t *cb, const char *fmt, ...)
{
    if (cb->on_progress == NULL) {
        return;
    }
    char s[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof(s), fmt, ap);
    va_end(ap);
    cb->on_progress(cb->ctx, s);
}

/* Polls fd for POLLIN until it is ready (1), the timeout passes (0) or the run is
 * canceled (KITH_ECANCELED), waking at least every CANCEL_SLICE_MS. */
static int
wait_readable(int fd, int timeout_ms, const kith_pairrun_cb_t *cb)
{
    uint64_t end = mono_ms() + (uint64_t) (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (canceled(cb)) {
            return KITH_ECANCELED;
        }
        uint64_t now = mono_ms();
        int wait = now >= end ? 0 : (int) (end - now);
        if (wait > CANCEL_SLICE_MS) {
            wait = CANCEL_SLICE_MS;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, wait);
        if (r > 0) {
            return 1;
        }
        if (r < 0 && errno != EINTR) {
            return 0;
        }
        if (mono_ms() >= end) {
            return canceled(cb) ? KITH_ECANCELED : 0;
        }
    }
}

/* Reads exactly n bytes before the deadline. */
static int
read_full(int fd, uint8_t *buf, size_t n, uint64_t deadline, const kith_pairrun_cb_t *cb)
{
    size_t got = 0;
    while (got < n) {
        uint64_t now = mono_ms();
        if (now >= deadline) {
            return KITH_EIO;
        }
        int r = wait_readable(fd, (int) (deadline - now), cb);
        if (r < 0) {
            return r;
        }
        if (r == 0) {
            return KITH_EIO;
        }
        ssize_t k = read(fd, buf + got, n - got);
        if (k <= 0) {
            return KITH_EIO;
        }
        got += (size_t) k;
    }
    return KITH_OK;
}

static int
send_all(int fd, const uint8_t *data, size_t len)
{
    ssize_t k = send(fd, data, len, MSG_NOSIGNAL);
    return k == (ssize_t) len ? KITH_OK : KITH_EIO;
}

static int
send_frame(int fd, const kith_buf_t *msg)
{
    uint8_t h[2] = {(uint8_t) (msg->len >> 8), (uint8_t) msg->len};
    if (send_all(fd, h, 2) != KITH_OK || send_all(fd, msg->data, msg->len) != KITH_OK) {
        return KITH_EIO;
    }
    return KITH_OK;
}

/* Runs the pairing exchange on a connected socket. */
static int
exchange(int fd, kith_pairing_t *p, int joiner, const kith_pairrun_cb_t *cb)
{
    kith_buf_t out;
    kith_buf_init(&out);
    uint8_t msg[KITH_PAIRING_MSG_MAX];
    int rc = KITH_OK;
    if (joiner) {
        rc = kith_pairing_start(p, &out);
        if (rc == KITH_OK) {
            rc = send_frame(fd, &out);
        }
    }
    while (rc == KITH_OK && !kith_pairing_done(p)) {
        uint8_t h[2];
        uint64_t deadline = mono_ms() + MSG_TIMEOUT_MS;
        rc = read_full(fd, h, 2, deadline, cb);
        size_t len = rc == KITH_OK ? ((size_t) h[0] << 8) | h[1] : 0;
        if (rc == KITH_OK && (len == 0 || len > sizeof(msg))) {
            rc = KITH_EPROTO;
        }
        if (rc == KITH_OK) {
            rc = read_full(fd, msg, len, deadline, cb);
        }
        out.len = 0;
        if (rc == KITH_OK) {
            rc = kith_pairing_receive(p, msg, len, &out);
        }
        if (rc == KITH_OK && out.len > 0) {
            rc = send_frame(fd, &out);
        }
    }
    sodium_memzero(msg, sizeof(msg));
    kith_buf_close(&out);
    return rc;
}

/* Sends an offer to the directed broadcast address and the multicast group of every
 * IPv4 interface except loopback. */
static void
send_offers(int udp, int channel, uint16_t port)
{
    uint8_t offer[KITH_PAIROFFER_LEN];
    kith_pairoffer_encode(channel, port, offer);
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) {
        return;
    }
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || i->ifa_netmask == NULL ||
            (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP)) {
            continue;
        }
        struct sockaddr_in to;
        memset(&to, 0, sizeof(to));
        to.sin_family = AF_INET;
        to.sin_port = htons(KITH_DISCOVERY_PORT);
        to.sin_addr.s_addr = ((struct sockaddr_in *) i->ifa_addr)->sin_addr.s_addr |
                             ~((struct sockaddr_in *) i->ifa_netmask)->sin_addr.s_addr;
        sendto(udp, offer, sizeof(offer), 0, (struct sockaddr *) &to, sizeof(to));
        struct in_addr ifaddr = ((struct sockaddr_in *) i->ifa_addr)->sin_addr;
        setsockopt(udp, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof(ifaddr));
        inet_pton(AF_INET, MCAST4, &to.sin_addr);
        sendto(udp, offer, sizeof(offer), 0, (struct sockaddr *) &to, sizeof(to));
    }
    freeifaddrs(ifs);
}

static void
join_group(int udp)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) {
        return;
    }
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
            (i->ifa_flags & IFF_LOOPBACK)) {
            continue;
        }
        struct ip_mreq m;
        inet_pton(AF_INET, MCAST4, &m.imr_multiaddr);
        m.imr_interface = ((struct sockaddr_in *) i->ifa_addr)->sin_addr;
        setsockopt(udp, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m));
    }
    freeifaddrs(ifs);
}

/* After a successful exchange (connection closed): takes the peer's identity and asks
 * decide(). */
static int
conclude(kith_pairing_t *p, const kith_pairrun_cb_t *cb, char their_name[KITH_PAIRING_NAME_MAX + 1],
         uint8_t their_key[KITH_PK_LEN], char *errbuf, size_t errcap)
{
    if (kith_pairing_peer(p, their_name, their_key) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "the exchange ended without the other side's identity");
        return KITH_EPROTO;
    }
    if (cb->decide != NULL && !cb->decide(cb->ctx, their_name, their_key)) {
        kith__errbuf_set(errbuf, errcap, "the pairing was refused");
        return KITH_EPERM;
    }
    return KITH_OK;
}

static int
check_args(const uint8_t *self_pk, const char *self_name, uint64_t timeout_ms, char *their_name,
           uint8_t *their_key, char *errbuf, size_t errcap)
{
    if (their_name != NULL) {
        their_name[0] = '\0';
    }
    if (their_key != NULL) {
        memset(their_key, 0, KITH_PK_LEN);
    }
    if (self_pk == NULL || self_name == NULL || their_name == NULL || their_key == NULL ||
        timeout_ms == 0) {
        kith__errbuf_set(errbuf, errcap, "invalid argument");
        return KITH_EINVAL;
    }
    return KITH_OK;
}

int
kith_pairrun_host(const uint8_t self_pk[static KITH_PK_LEN], const char *self_name,
                  uint64_t timeout_ms, const kith_pairrun_cb_t *cb,
                  char their_name[static KITH_PAIRING_NAME_MAX + 1],
                  uint8_t their_key[static KITH_PK_LEN], char *errbuf, size_t errcap)
{
    static const kith_pairrun_cb_t none = {0};
    char code[KITH_PAIRING_CODE_MAX];
    uint8_t words[KITH_PAIRING_WORDS];
    int channel, lfd = -1, udp = -1;
    int ret = check_args(self_pk, self_name, timeout_ms, their_name, their_key, errbuf, errcap);
    if (ret != KITH_OK) {
        return ret;
    }
    if (timeout_ms > KITH_PAIRING_TTL_MS) {
        kith__errbuf_set(errbuf, errcap, "invalid argument");
        return KITH_EINVAL;
    }
    cb = cb != NULL ? cb : &none;
    memset(words, 0, sizeof(words));
    if ((ret = kith_pairing_code_new(code)) != KITH_OK ||
        (ret = kith_pairing_code_parse(code, &channel, words)) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "cannot make a pairing code");
        goto out;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    socklen_t slen = sizeof(sa);
    int one = 1, ttl = 1;
    if (lfd < 0 || udp < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) != 0 ||
        listen(lfd, 4) != 0 || getsockname(lfd, (struct sockaddr *) &sa, &slen) != 0 ||
        setsockopt(udp, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) != 0) {
        kith__errbuf_set(errbuf, errcap, "cannot open the network for pairing: %s",
                         strerror(errno));
        ret = KITH_EIO;
        goto out;
    }
    setsockopt(udp, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
    uint16_t port = ntohs(sa.sin_port);
    if (cb->on_code != NULL) {
        cb->on_code(cb->ctx, code, (unsigned) (timeout_ms / 1000));
    }
    sodium_memzero(code, sizeof(code));
    uint64_t deadline = mono_ms() + timeout_ms, next_offer = 0;
    int attempts = 0;
    while (mono_ms() < deadline) {
        if (canceled(cb)) {
            ret = KITH_ECANCELED;
            goto canceled;
        }
        uint64_t now = mono_ms();
        if (now >= next_offer) {
            send_offers(udp, channel, port);
            next_offer = now + OFFER_INTERVAL_MS;
        }
        struct pollfd pfd = {lfd, POLLIN, 0};
        int wait = (int) (next_offer - now);
        if (wait > CANCEL_SLICE_MS) {
            wait = CANCEL_SLICE_MS;
        }
        if (poll(&pfd, 1, wait > 0 ? wait : 1) <= 0) {
            continue;
        }
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        kith_pairing_t *p = NULL;
        int rc = kith_pairing_new(&p, KITH_PAIRING_HOST, channel, words, self_name, self_pk);
        if (rc == KITH_OK) {
            rc = exchange(fd, p, 0, cb);
        }
        close(fd);
        if (rc == KITH_OK) {
            /* The code is single use: stop offering before asking anything. */
            close(lfd);
            lfd = -1;
            ret = conclude(p, cb, their_name, their_key, errbuf, errcap);
            kith_pairing_free(p);
            goto out;
        }
        kith_pairing_free(p);
        if (rc == KITH_ECANCELED) {
            ret = rc;
            goto canceled;
        }
        /* The joiner learns of a wrong code first and hangs up, so to the host a wrong
         * code usually looks like a dropped connection. Either way it was one guess. */
        attempts++;
        progress(cb, "A pairing attempt failed: %s (%d of %d attempts).",
                 rc == KITH_EAUTH ? "wrong code" : "the other side gave up, probably a wrong code",
                 attempts, KITH_PAIRING_MAX_ATTEMPTS);
        if (attempts >= KITH_PAIRING_MAX_ATTEMPTS) {
            kith__errbuf_set(errbuf, errcap,
                             "too many failed attempts: this code is void; start again");
            ret = KITH_EAUTH;
            goto out;
        }
    }
    kith__errbuf_set(errbuf, errcap, "the code expired: nobody paired within %llu seconds",
                     (unsigned long long) (timeout_ms / 1000));
    ret = KITH_ENOTFOUND;
    goto out;
canceled:
    kith__errbuf_set(errbuf, errcap, "the pairing was canceled");
out:
    sodium_memzero(code, sizeof(code));
    sodium_memzero(words, sizeof(words));
    if (ret != KITH_OK) {
        their_name[0] = '\0';
        memset(their_key, 0, KITH_PK_LEN);
    }
    if (lfd >= 0) {
        close(lfd);
    }
    if (udp >= 0) {
        close(udp);
    }
    return ret;
}

int
kith_pairrun_join(const uint8_t self_pk[static KITH_PK_LEN], const char *self_name,
                  const char *code, uint64_t timeout_ms, const kith_pairrun_cb_t *cb,
                  char their_name[static KITH_PAIRING_NAME_MAX + 1],
                  uint8_t their_key[static KITH_PK_LEN], char *errbuf, size_t errcap)
{
    static const kith_pairrun_cb_t none = {0};
    uint8_t words[KITH_PAIRING_WORDS];
    int channel = 0, udp = -1, one = 1;
    int ret = check_args(self_pk, self_name, timeout_ms, their_name, their_key, errbuf, errcap);
    if (ret != KITH_OK) {
        return ret;
    }
    if (code == NULL) {
        kith__errbuf_set(errbuf, errcap, "invalid argument");
        return KITH_EINVAL;
    }
    cb = cb != NULL ? cb : &none;
    if (kith_pairing_code_parse(code, &channel, words) != KITH_OK) {
        kith__errbuf_set(errbuf, errcap, "that is not a pairing code (like 7-orbit-sugar-lantern)");
        ret = KITH_EPARSE;
        goto out;
    }
    udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(KITH_DISCOVERY_PORT);
    if (udp < 0 || setsockopt(udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(udp, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        kith__errbuf_set(errbuf, errcap, "cannot listen for the other side on UDP port %d: %s",
                         KITH_DISCOVERY_PORT, strerror(errno));
        ret = KITH_EIO;
        goto out;
    }
    join_group(udp);
    progress(cb, "Looking for the other side on channel %d...", channel);
    uint64_t deadline = mono_ms() + timeout_ms;
    while (mono_ms() < deadline) {
        int r = wait_readable(udp, CANCEL_SLICE_MS, cb);
        if (r < 0) {
            ret = r;
            kith__errbuf_set(errbuf, errcap, "the pairing was canceled");
            goto out;
        }
        if (r == 0) {
            continue;
        }
        uint8_t dg[64];
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t len = recvfrom(udp, dg, sizeof(dg), 0, (struct sockaddr *) &from, &flen);
        int ch;
        uint16_t port;
        if (len <= 0 || kith_pairoffer_decode(dg, (size_t) len, &ch, &port) != KITH_OK ||
            ch != channel) {
            continue;
        }
        char host_txt[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &from.sin_addr, host_txt, sizeof(host_txt));
        progress(cb, "Found a host at %s; checking the code...", host_txt);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        from.sin_port = htons(port);
        if (fd < 0 || connect(fd, (struct sockaddr *) &from, sizeof(from)) != 0) {
            if (fd >= 0) {
                close(fd);
            }
            continue;
        }
        kith_pairing_t *p = NULL;
        int rc = kith_pairing_new(&p, KITH_PAIRING_JOINER, channel, words, self_name, self_pk);
        if (rc == KITH_OK) {
            rc = exchange(fd, p, 1, cb);
        }
        close(fd);
        if (rc == KITH_OK) {
            ret = conclude(p, cb, their_name, their_key, errbuf, errcap);
        } else if (rc == KITH_EAUTH) {
            kith__errbuf_set(errbuf, errcap,
                             "the code does not match: check it with your colleague (nobody was "
                             "added)");
            ret = rc;
        } else if (rc == KITH_ECANCELED) {
            kith__errbuf_set(errbuf, errcap, "the pairing was canceled");
            ret = rc;
        } else {
            kith__errbuf_set(errbuf, errcap, "pairing failed: %s", kith_strerror(rc));
            ret = rc;
        }
        kith_pairing_free(p);
        goto out;
    }
    kith__errbuf_set(errbuf, errcap,
                     "no colleague is offering channel %d on this network (is 'kith pair' "
                     "running on their machine, on the same LAN?)",
                     channel);
    ret = KITH_ENOTFOUND;
out:
    sodium_memzero(words, sizeof(words));
    if (ret != KITH_OK) {
        their_name[0] = '\0';
        memset(their_key, 0, KITH_PK_LEN);
    }
    if (udp >= 0) {
        close(udp);
    }
    return ret;
}
