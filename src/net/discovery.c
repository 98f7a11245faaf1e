/*
 * LAN discovery over UDP; see discovery.h and proto/BEACON.md.
 *
 * Sending: one set of beacons per (interface, address), each sent with that address as
 * its source (IP_PKTINFO / IPV6_PKTINFO on sendmsg(), since libuv cannot choose a source
 * address), because the tags bind the source address the receiver will see.
 *
 * Receiving: every datagram first passes the per-source limiter (kith_beacon_limiter_*),
 * then kith_beacon_match() with the address it came from, then the replay table
 * (kith_beacon_replay_*): a peer's beacon is acted on only if it is newer than the last
 * one accepted from that peer. The replay table is saved to a file in the home after
 * every change, from the thread pool (temporary file, fsync, rename), and read at start,
 * so a restart does not reopen the replay window.
 */
#define _GNU_SOURCE /* struct in6_pktinfo */
#include "net/discovery.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kith/error.h"

#define MCAST4        "239.255.84.84"
#define MCAST6        "ff02::5484"
#define ADDR_CHECK_MS 5000
#define RX_BUF        1500
#define REPEATS       2    /* announcements after the first, after a start or a change */
#define REPEAT_MS     1000 /* before the first repeat; twice that before the next */

struct kith_discovery {
    uv_loop_t *loop;
    uv_udp_t udp4, udp6;
    int has4, has6;
    uv_timer_t announce_timer, addr_timer;
    uv_timer_t repeat_timer; /* the repeats after a start or a change */
    int repeats;             /* repeats still to send */
    uint16_t udp_port, tcp_port;
    kith_discovery_cb cb;
    kith_discovery_log log;
    void *ctx;
    uint8_t (*send_keys)[KITH_BEACON_KEY_LEN]; /* sodium_malloc'd */
    uint8_t (*recv_keys)[KITH_BEACON_KEY_LEN]; /* sodium_malloc'd */
    size_t n_keys;
    uint8_t (*replay_ids)[KITH_BEACON_REPLAY_ID_LEN]; /* one per key, kith_beacon_replay_id() */
    uint64_t addr_hash;                               /* of the interface list, to notice changes */
    kith_beacon_limiter_t limiter;
    kith_beacon_replay_t replay;
    uint64_t sent, received, dropped;
    int closing, pending_closes; /* pending_closes: handles and a save in flight */
    /* Saving the replay table: one write at a time; dirty asks for another after it. */
    char *state_path, *state_tmp, *state_dir; /* NULL: not saved */
    uv_work_t save_work;
    uint8_t *save_buf; /* the snapshot being written, KITH_BEACON_REPLAY_MAX_SAVE bytes */
    size_t save_len;
    int saving, dirty, save_rc;
    uint8_t rx[RX_BUF]; /* the receive buffer of both sockets (see on_alloc) */
};

static void logf_(kith_discovery_t *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
logf_(kith_discovery_t *d, int level, const char *fmt, ...)
{
    if (d->log == NULL) {
        return;
    }
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    d->log(d->ctx, level, line);
}

static uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Sends one datagram from source address src on interface ifindex, without blocking: a
 * datagram the socket cannot take now is a beacon missed, and the next comes in 30 s.
 * Returns 0 or the errno of the failure. */
static int
send_from(kith_discovery_t *d, uv_udp_t *udp, const struct sockaddr *to, socklen_t to_len,
          const struct sockaddr *src, unsigned ifindex, const uint8_t *data, size_t len)
{
    uv_os_fd_t fd;
    if (uv_fileno((const uv_handle_t *) udp, &fd) != 0) {
        return EBADF;
    }
    union {
        char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct iovec iov = {.iov_base = (void *) data, .iov_len = len};
    struct msghdr msg = {.msg_name = (void *) to,
                         .msg_namelen = to_len,
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf};
    struct cmsghdr *c = (struct cmsghdr *) ctl.buf;
    if (src->sa_family == AF_INET) {
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof(pi));
        pi.ipi_ifindex = (int) ifindex;
        pi.ipi_spec_dst = ((const struct sockaddr_in *) src)->sin_addr;
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        msg.msg_controllen = CMSG_SPACE(sizeof(pi));
    } else {
        struct in6_pktinfo pi;
        memset(&pi, 0, sizeof(pi));
        pi.ipi6_ifindex = ifindex;
        pi.ipi6_addr = ((const struct sockaddr_in6 *) src)->sin6_addr;
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        msg.msg_controllen = CMSG_SPACE(sizeof(pi));
    }
    if (sendmsg(fd, &msg, MSG_DONTWAIT) != (ssize_t) len) {
        return errno ? errno : EIO;
    }
    d->sent++;
    return 0;
}

/* Builds this node's beacons for source address src. Returns the count, 0 on failure;
 * *out is then NULL, else the caller frees it. */
static size_t
build_for(kith_discovery_t *d, const struct sockaddr *src, kith_beacon_dgram_t **out)
{
    uint8_t a[KITH_BEACON_ADDR_LEN];
    size_t cap = kith_beacon_count(d->n_keys), n = 0;
    *out = NULL;
    kith_beacon_dgram_t *dg = calloc(cap, sizeof(*dg));
    if (dg == NULL || kith_beacon_addr(src, a) != KITH_OK ||
        kith_beacon_build((const uint8_t(*)[KITH_BEACON_KEY_LEN]) d->send_keys, d->n_keys,
                          d->tcp_port, (uint64_t) time(NULL), a, dg, cap, &n) != KITH_OK) {
        free(dg);
        return 0;
    }
    *out = dg;
    return n;
}

/*
 * Sends the beacons from every address of every interface: for each IPv4 address, to the
 * directed broadcast address of its subnet and to the multicast group; for each IPv6
 * link-local address, to the multicast group. Each address gets its own beacons, sent
 * with it as the source, because their tags bind it: a host with several addresses is
 * recognised from each. Loopback interfaces are skipped: beacons are for the LAN.
 */
static void
announce(kith_discovery_t *d)
{
    if (d->closing) {
        return;
    }
    uv_interface_address_t *ifs = NULL;
    int n_ifs = 0, n_addrs = 0, failed = 0, err = 0;
    uint64_t sent_before = d->sent;
    if (uv_interface_addresses(&ifs, &n_ifs) != 0) {
        return;
    }
    for (int i = 0; i < n_ifs; i++) {
        if (ifs[i].is_internal) {
            continue;
        }
        const struct sockaddr *src = (const struct sockaddr *) &ifs[i].address;
        kith_beacon_dgram_t *dg = NULL;
        size_t n = 0;
        if (ifs[i].address.address4.sin_family == AF_INET && d->has4) {
            struct sockaddr_in bcast, mcast;
            uint32_t a = ifs[i].address.address4.sin_addr.s_addr;
            uint32_t m = ifs[i].netmask.netmask4.sin_addr.s_addr;
            uv_ip4_addr("0.0.0.0", d->udp_port, &bcast);
            bcast.sin_addr.s_addr = a | ~m;
            uv_ip4_addr(MCAST4, d->udp_port, &mcast);
            unsigned ifindex = if_nametoindex(ifs[i].name);
            n = build_for(d, src, &dg);
            for (size_t k = 0; k < n; k++) {
                int e1 = send_from(d, &d->udp4, (struct sockaddr *) &bcast, sizeof(bcast), src,
                                   ifindex, dg[k].data, dg[k].len);
                int e2 = send_from(d, &d->udp4, (struct sockaddr *) &mcast, sizeof(mcast), src,
                                   ifindex, dg[k].data, dg[k].len);
                failed += (e1 != 0) + (e2 != 0);
                err = e1 ? e1 : e2 ? e2 : err;
            }
            n_addrs += n > 0;
        } else if (ifs[i].address.address6.sin6_family == AF_INET6 && d->has6 &&
                   IN6_IS_ADDR_LINKLOCAL(&ifs[i].address.address6.sin6_addr)) {
            struct sockaddr_in6 mcast;
            unsigned ifindex = ifs[i].address.address6.sin6_scope_id;
            uv_ip6_addr(MCAST6, d->udp_port, &mcast);
            mcast.sin6_scope_id = ifindex;
            n = build_for(d, src, &dg);
            for (size_t k = 0; k < n; k++) {
                int e = send_from(d, &d->udp6, (struct sockaddr *) &mcast, sizeof(mcast), src,
                                  ifindex, dg[k].data, dg[k].len);
                failed += e != 0;
                err = e ? e : err;
            }
            n_addrs += n > 0;
        }
        free(dg);
    }
    uv_free_interface_addresses(ifs, n_ifs);
    if (failed > 0) {
        logf_(d, 2, "discovery: sent %" PRIu64 " datagrams from %d addresses, %d not sent: %s",
              d->sent - sent_before, n_addrs, failed, strerror(err));
    } else {
        logf_(d, 2, "discovery: sent %" PRIu64 " datagrams from %d addresses",
              d->sent - sent_before, n_addrs);
    }
}

/* Joins the multicast groups on every interface (again after a change; errors for groups
 * already joined are expected and ignored). Returns a hash of the interface list. */
static uint64_t
join_groups(kith_discovery_t *d)
{
    uv_interface_address_t *ifs = NULL;
    int n_ifs = 0;
    uint64_t h = 1469598103934665603ULL;
    if (uv_interface_addresses(&ifs, &n_ifs) != 0) {
        return 0;
    }
    for (int i = 0; i < n_ifs; i++) {
        if (ifs[i].is_internal) {
            continue;
        }
        char name[128];
        if (ifs[i].address.address4.sin_family == AF_INET) {
            uv_ip4_name(&ifs[i].address.address4, name, sizeof(name));
            if (d->has4) {
                uv_udp_set_membership(&d->udp4, MCAST4, name, UV_JOIN_GROUP);
            }
        } else {
            char a[INET6_ADDRSTRLEN];
            uv_ip6_name(&ifs[i].address.address6, a, sizeof(a));
            snprintf(name, sizeof(name), "%s%%%.32s", a, ifs[i].name);
            if (d->has6 && IN6_IS_ADDR_LINKLOCAL(&ifs[i].address.address6.sin6_addr)) {
                uv_udp_set_membership(&d->udp6, MCAST6, name, UV_JOIN_GROUP);
            }
        }
        for (const char *p = name; *p; p++) {
            h = (h ^ (uint8_t) *p) * 1099511628211ULL;
        }
    }
    uv_free_interface_addresses(ifs, n_ifs);
    return h;
}

static void
on_repeat_timer(uv_timer_t *t)
{
    kith_discovery_t *d = t->data;
    announce(d);
    if (--d->repeats > 0 && !d->closing) {
        uv_timer_start(&d->repeat_timer, on_repeat_timer, REPEAT_MS * 2, 0);
    }
}

/* Announces now and REPEATS times more, 1 s then 3 s later: after a start, new keys or
 * an address change, a datagram lost (a busy receiver's full socket buffer, under a flood
 * say) would otherwise delay discovery by a whole interval. Each repeat is a new beacon,
 * with a later time, so the receiver's replay rule does not drop it. */
static void
announce_now(kith_discovery_t *d)
{
    announce(d);
    if (!d->closing) {
        d->repeats = REPEATS;
        uv_timer_start(&d->repeat_timer, on_repeat_timer, REPEAT_MS, 0);
    }
}

static void
on_announce_timer(uv_timer_t *t)
{
    announce(t->data);
}

static void
on_addr_timer(uv_timer_t *t)
{
    kith_discovery_t *d = t->data;
    uint64_t h = join_groups(d);
    if (h != d->addr_hash) {
        d->addr_hash = h;
        logf_(d, 2, "network addresses changed: announcing");
        announce_now(d);
    }
}

/* Every datagram is read into the one buffer in the struct: on_recv is done with it
 * before libuv asks for the next, and a flood should cost as little as possible per
 * datagram (no allocation). */
static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    kith_discovery_t *d = h->data;
    (void) suggested;
    buf->base = (char *) d->rx;
    buf->len = sizeof(d->rx);
}

/* ---- The replay table on disk ------------------------------------------------------ */

static void release(kith_discovery_t *d);

/* Thread pool: writes the snapshot atomically (temporary file, fsync, rename, fsync of the
 * directory so that the rename survives a power cut). Touches only the snapshot and the
 * paths, which the loop thread leaves alone while saving is set. */
static void
save_work(uv_work_t *w)
{
    kith_discovery_t *d = w->data;
    int rc = KITH_EIO;
    int fd = open(d->state_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        goto out;
    }
    size_t off = 0;
    while (off < d->save_len) {
        ssize_t n = write(fd, d->save_buf + off, d->save_len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            close(fd);
            unlink(d->state_tmp);
            goto out;
        }
        off += (size_t) n;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(d->state_tmp, d->state_path) != 0) {
        unlink(d->state_tmp);
        goto out;
    }
    int dfd = open(d->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = KITH_OK;
out:
    d->save_rc = rc;
}

static void save(kith_discovery_t *d);

static void
save_done(uv_work_t *w, int status)
{
    kith_discovery_t *d = w->data;
    d->saving = 0;
    if (status != 0 || d->save_rc != KITH_OK) {
        logf_(d, 1, "discovery: cannot save %s: %s", d->state_path,
              status != 0 ? uv_strerror(status) : kith_strerror(d->save_rc));
    }
    if (d->dirty) {
        save(d);
    }
    release(d);
}

/* Writes the replay table out, or, if a write is under way, asks for another after it. */
static void
save(kith_discovery_t *d)
{
    if (d->state_path == NULL) {
        return;
    }
    if (d->saving) {
        d->dirty = 1;
        return;
    }
    if (kith_beacon_replay_save(&d->replay, d->save_buf, KITH_BEACON_REPLAY_MAX_SAVE,
                                &d->save_len) != KITH_OK) {
        return;
    }
    d->dirty = 0;
    d->save_work.data = d;
    if (uv_queue_work(d->loop, &d->save_work, save_work, save_done) != 0) {
        return;
    }
    d->saving = 1;
    d->pending_closes++; /* the memory must outlive the write */
}

/* Reads the replay table saved by an earlier run. A small file, read once before the
 * daemon serves anything. A missing file is a first run; a damaged one is logged and
 * replaced, and replay protection then restarts from nothing. */
static void
load(kith_discovery_t *d)
{
    int fd = open(d->state_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT) {
            logf_(d, 1, "discovery: cannot read %s: %s", d->state_path, strerror(errno));
        }
        return;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, d->save_buf + len, KITH_BEACON_REPLAY_MAX_SAVE - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t) n;
        if (len == KITH_BEACON_REPLAY_MAX_SAVE) {
            char extra;
            if (read(fd, &extra, 1) > 0) {
                len = 0; /* too long: not ours */
            }
            break;
        }
    }
    close(fd);
    int rc = kith_beacon_replay_load(&d->replay, d->save_buf, len);
    if (rc != KITH_OK) {
        logf_(d, 1, "discovery: ignoring %s: %s", d->state_path, kith_strerror(rc));
    }
}

/* ---- Receiving ---------------------------------------------------------------------- */

static void
on_recv(uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
        unsigned flags)
{
    kith_discovery_t *d = udp->data;
    uint8_t src[KITH_BEACON_ADDR_LEN];
    if (nread <= 0 || from == NULL || d->closing || (flags & UV_UDP_PARTIAL) ||
        (size_t) nread > KITH_BEACON_MAX_LEN || kith_beacon_addr(from, src) != KITH_OK) {
        return;
    }
    /* Per-source buckets first: a flooder spends its own budget, not everyone's, and a
     * dropped datagram costs one table lookup. */
    uint64_t now = mono_ms();
    if (!kith_beacon_limiter_admit(&d->limiter, src, now)) {
        d->dropped++;
        return;
    }
    d->received++;
    size_t index;
    uint16_t port;
    uint64_t t;
    int rc = kith_beacon_match((const uint8_t *) buf->base, (size_t) nread, src,
                               (const uint8_t(*)[KITH_BEACON_KEY_LEN]) d->recv_keys, d->n_keys,
                               (uint64_t) time(NULL), &index, &port, &t);
    if (rc != KITH_OK) {
        return;
    }
    /* The tags bind the address: a peer's beacon did come from here. */
    kith_beacon_limiter_proven(&d->limiter, src, now);
    if (kith_beacon_replay_check(&d->replay, d->replay_ids[index], t) != KITH_OK) {
        return; /* not newer than one already acted on: a replay, or a second copy */
    }
    save(d);
    char host[128];
    if (from->sa_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *) from, host, sizeof(host));
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) from;
        char a[INET6_ADDRSTRLEN], ifname[64];
        size_t ilen = sizeof(ifname);
        uv_ip6_name(in6, a, sizeof(a));
        if (in6->sin6_scope_id && uv_if_indextoname(in6->sin6_scope_id, ifname, &ilen) == 0) {
            snprintf(host, sizeof(host), "%s%%%.32s", a, ifname);
        } else {
            snprintf(host, sizeof(host), "%s", a);
        }
    }
    d->cb(d->ctx, index, host, port);
}

static void
free_state(kith_discovery_t *d)
{
    free(d->state_path);
    free(d->state_tmp);
    free(d->state_dir);
    free(d->save_buf);
    d->state_path = d->state_tmp = d->state_dir = NULL;
    d->save_buf = NULL;
}

static void
free_keys(kith_discovery_t *d)
{
    if (d->send_keys != NULL) {
        sodium_free(d->send_keys);
    }
    if (d->recv_keys != NULL) {
        sodium_free(d->recv_keys);
    }
    free(d->replay_ids);
    d->send_keys = d->recv_keys = NULL;
    d->replay_ids = NULL;
    d->n_keys = 0;
}

int
kith_discovery_set_keys(kith_discovery_t *d, const uint8_t (*send_keys)[KITH_BEACON_KEY_LEN],
                        const uint8_t (*recv_keys)[KITH_BEACON_KEY_LEN], size_t n)
{
    free_keys(d);
    if (n > 0) {
        d->send_keys = sodium_malloc(n * KITH_BEACON_KEY_LEN);
        d->recv_keys = sodium_malloc(n * KITH_BEACON_KEY_LEN);
        d->replay_ids = calloc(n, KITH_BEACON_REPLAY_ID_LEN);
        if (d->send_keys == NULL || d->recv_keys == NULL || d->replay_ids == NULL) {
            free_keys(d);
            return KITH_ENOMEM;
        }
        memcpy(d->send_keys, send_keys, n * KITH_BEACON_KEY_LEN);
        memcpy(d->recv_keys, recv_keys, n * KITH_BEACON_KEY_LEN);
        for (size_t i = 0; i < n; i++) {
            if (kith_beacon_replay_id(d->recv_keys[i], d->replay_ids[i]) != KITH_OK) {
                free_keys(d);
                return KITH_ECRYPTO;
            }
        }
        d->n_keys = n;
    }
    announce_now(d);
    return KITH_OK;
}

static int
open_udp(kith_discovery_t *d, uv_udp_t *udp, int family)
{
    struct sockaddr_storage ss;
    if (family == AF_INET) {
        uv_ip4_addr("0.0.0.0", d->udp_port, (struct sockaddr_in *) &ss);
    } else {
        uv_ip6_addr("::", d->udp_port, (struct sockaddr_in6 *) &ss);
    }
    if (uv_udp_init(d->loop, udp) != 0) {
        return -1;
    }
    udp->data = d;
    d->pending_closes++;
    /* Several kith daemons on one machine (tests, several users) share the port. */
    unsigned flags = UV_UDP_REUSEADDR | (family == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
    if (uv_udp_bind(udp, (struct sockaddr *) &ss, flags) != 0 ||
        uv_udp_recv_start(udp, on_alloc, on_recv) != 0) {
        return -1;
    }
    if (family == AF_INET) {
        uv_udp_set_broadcast(udp, 1);
        uv_udp_set_multicast_ttl(udp, 1); /* never beyond the local link */
    } else {
        uv_udp_set_multicast_ttl(udp, 1);
    }
    return 0;
}

int
kith_discovery_start(kith_discovery_t **out, uv_loop_t *loop, uint16_t udp_port, uint16_t tcp_port,
                     const char *state_path, kith_discovery_cb cb, kith_discovery_log log,
                     void *ctx)
{
    *out = NULL;
    kith_discovery_t *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return KITH_ENOMEM;
    }
    d->loop = loop;
    d->udp_port = udp_port;
    d->tcp_port = tcp_port;
    d->cb = cb;
    d->log = log;
    d->ctx = ctx;
    kith_beacon_limiter_init(&d->limiter, mono_ms());
    kith_beacon_replay_init(&d->replay);
    if (state_path != NULL) {
        size_t len = strlen(state_path);
        const char *slash = strrchr(state_path, '/');
        d->state_path = strdup(state_path);
        d->state_tmp = malloc(len + 5);
        d->state_dir = slash ? strndup(state_path, (size_t) (slash - state_path) + 1) : strdup(".");
        d->save_buf = malloc(KITH_BEACON_REPLAY_MAX_SAVE);
        if (d->state_path == NULL || d->state_tmp == NULL || d->state_dir == NULL ||
            d->save_buf == NULL) {
            free_state(d);
            free(d);
            return KITH_ENOMEM;
        }
        snprintf(d->state_tmp, len + 5, "%s.tmp", state_path);
        load(d);
    }
    d->has4 = open_udp(d, &d->udp4, AF_INET) == 0;
    d->has6 = open_udp(d, &d->udp6, AF_INET6) == 0;
    if (!d->has4 && !d->has6) {
        logf_(d, 0, "discovery: cannot open UDP port %u", (unsigned) udp_port);
    }
    uv_timer_init(loop, &d->announce_timer);
    uv_timer_init(loop, &d->addr_timer);
    uv_timer_init(loop, &d->repeat_timer);
    d->announce_timer.data = d->addr_timer.data = d->repeat_timer.data = d;
    d->pending_closes += 3;
    d->addr_hash = join_groups(d);
    uv_timer_start(&d->announce_timer, on_announce_timer, KITH_DISCOVERY_INTERVAL_MS,
                   KITH_DISCOVERY_INTERVAL_MS);
    uv_timer_start(&d->addr_timer, on_addr_timer, ADDR_CHECK_MS, ADDR_CHECK_MS);
    *out = d;
    return KITH_OK;
}

/* One handle closed or one save finished: the last frees the memory. */
static void
release(kith_discovery_t *d)
{
    if (--d->pending_closes == 0) {
        free_keys(d);
        free_state(d);
        free(d);
    }
}

static void
on_closed(uv_handle_t *h)
{
    release(h->data);
}

void
kith_discovery_stop(kith_discovery_t *d)
{
    if (d == NULL || d->closing) {
        return;
    }
    d->closing = 1;
    if (d->dirty && !d->saving) {
        save(d);
    }
    uv_close((uv_handle_t *) &d->udp4, on_closed);
    uv_close((uv_handle_t *) &d->udp6, on_closed);
    uv_close((uv_handle_t *) &d->announce_timer, on_closed);
    uv_close((uv_handle_t *) &d->addr_timer, on_closed);
    uv_close((uv_handle_t *) &d->repeat_timer, on_closed);
}

uint64_t
kith_discovery_sent(const kith_discovery_t *d)
{
    return d->sent;
}

uint64_t
kith_discovery_received(const kith_discovery_t *d)
{
    return d->received;
}

uint64_t
kith_discovery_dropped(const kith_discovery_t *d)
{
    return d->dropped;
}
