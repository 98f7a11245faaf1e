/*
 * kith pair: two colleagues in the same room become peers by reading a short code aloud.
 *
 * The host prints a code and announces on the LAN (UDP offers, proto/PAIRING.md) that it
 * waits on a TCP port; the joiner types the code, hears the offer for its channel,
 * connects, and the two run the CPace exchange of src/sync/pairing.h. Both then show the
 * other's name and fingerprint, ask for confirmation (--yes skips it) and add each other.
 *
 * Blocking sockets with poll() and deadlines: a one-shot, interactive command.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "kith/error.h"
#include "net/discovery.h"
#include "net/pairoffer.h"
#include "sync/pairing.h"
#include "util/hlc.h"
#include "util/nodeid.h"

#define GETOPT_BEGIN()    (optind = 0, opterr = 0)
#define MSG_TIMEOUT_MS    10000
#define OFFER_INTERVAL_MS 1000
#define MCAST4            "239.255.84.84"

static uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Reads exactly n bytes before the deadline. */
static int
read_full(int fd, uint8_t *buf, size_t n, uint64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        uint64_t now = mono_ms();
        if (now >= deadline) {
            return KITH_EIO;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int) (deadline - now));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
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
send_frame(int fd, const kith_buf_t *msg)
{
    uint8_t h[2] = {(uint8_t) (msg->len >> 8), (uint8_t) msg->len};
    if (write(fd, h, 2) != 2 || write(fd, msg->data, msg->len) != (ssize_t) msg->len) {
        return KITH_EIO;
    }
    return KITH_OK;
}

/* Runs the pairing exchange on a connected socket. */
static int
exchange(int fd, kith_pairing_t *p, int joiner)
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
        rc = read_full(fd, h, 2, deadline);
        size_t len = ((size_t) h[0] << 8) | h[1];
        if (rc == KITH_OK && (len == 0 || len > sizeof(msg))) {
            rc = KITH_EPROTO;
        }
        if (rc == KITH_OK) {
            rc = read_full(fd, msg, len, deadline);
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

/* A local name for the new peer: theirs, made valid and unique. */
static void
peer_name_for(kith_node_t *n, const char *theirs, const char *forced, char out[65])
{
    char base[65];
    size_t w = 0;
    const char *src = forced ? forced : theirs;
    for (const char *p = src; *p && w < 48; p++) {
        char c = *p;
        int okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (okc || (w > 0 && base[w - 1] != '-')) {
            base[w++] = okc ? c : '-';
        }
    }
    while (w > 0 && base[w - 1] == '-') {
        w--;
    }
    base[w] = '\0';
    if (w == 0 || base[0] == '-') {
        snprintf(base, sizeof(base), "peer");
    }
    snprintf(out, 65, "%s", base);
    for (int k = 2; k < 1000; k++) {
        kith_peer_t p;
        if (kith_store_peer_get(n->store, out, &p) != KITH_OK) {
            return;
        }
        kith_peer_close(&p);
        snprintf(out, 65, "%.48s-%d", base, k);
    }
}

static int
confirm(const char *name, const char *fp, int yes)
{
    return cli_confirm(
        yes, 1, "Add %s (fingerprint %s) as a peer? Check the fingerprint with them.", name, fp);
}

/* Shows the result of a successful exchange and adds the peer. */
static int
finish_pairing(kith_node_t *n, kith_pairing_t *p, const char *forced_name, const char *groups,
               int yes)
{
    char theirs[KITH_PAIRING_NAME_MAX + 1], fp[KITH_FINGERPRINT_LEN + 1], local[65];
    uint8_t key[KITH_PAIRING_KEY_LEN];
    if (kith_pairing_peer(p, theirs, key) != KITH_OK) {
        cli_error("the exchange ended without the other side's identity");
        return 1;
    }
    kith_fingerprint(key, fp);
    printf("The code matched. The other side is \"%s\", fingerprint %s\n", theirs, fp);
    kith_peer_t existing;
    if (kith_store_peer_get_by_key(n->store, key, &existing) == KITH_OK) {
        printf("%s is already your peer, named %s.\n", theirs, existing.name);
        kith_peer_close(&existing);
        return 0;
    }
    if (memcmp(key, n->id->pk, KITH_PK_LEN) == 0) {
        cli_error("that is this node itself");
        return 1;
    }
    peer_name_for(n, theirs, forced_name, local);
    if (!confirm(local, fp, yes)) {
        printf("Not added.\n");
        return 1;
    }
    kith_peer_t np = {local, {0}, (char *) groups, "", 0, kith_hlc_now_ms(), 0, ""};
    memcpy(np.key, key, KITH_PK_LEN);
    int rc = kith_store_begin(n->store);
    if (rc == KITH_OK) {
        rc = kith_node_peer_add(n, &np, kith_hlc_now_ms());
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
        cli_error("cannot add the peer: %s", kith_strerror(rc));
        return 1;
    }
    char nid[KITH_NODEID_BUFSIZE];
    kith_nodeid_encode(key, nid);
    printf("Added peer %s (%s)%s%s\n", local, nid, groups[0] ? " in groups " : "", groups);
    cli_poke(n->dir);
    return 0;
}

static void
self_name(kith_node_t *n, char out[KITH_PAIRING_NAME_MAX + 1])
{
    if (n->name[0] != '\0') {
        snprintf(out, KITH_PAIRING_NAME_MAX + 1, "%s", n->name);
    } else {
        char fp[KITH_FINGERPRINT_LEN + 1];
        kith_fingerprint(n->id->pk, fp);
        snprintf(out, KITH_PAIRING_NAME_MAX + 1, "kith-%.4s", fp);
    }
}

static int
host(kith_node_t *n, uint64_t timeout_ms, const char *forced_name, const char *groups, int yes)
{
    char code[KITH_PAIRING_CODE_MAX], name[KITH_PAIRING_NAME_MAX + 1];
    int channel, ret = 1;
    uint8_t words[KITH_PAIRING_WORDS];
    int lfd = -1, udp = -1;
    if (kith_pairing_code_new(code) != KITH_OK ||
        kith_pairing_code_parse(code, &channel, words) != KITH_OK) {
        cli_error("cannot make a pairing code");
        return 1;
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
        cli_error("cannot open the network for pairing: %s", strerror(errno));
        goto out;
    }
    setsockopt(udp, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
    uint16_t port = ntohs(sa.sin_port);
    self_name(n, name);
    printf("%s\n", code);
    printf("Read this code to your colleague; they run: kith pair %s\n", code);
    printf("Waiting for them on the local network (the code expires in %llu seconds)...\n",
           (unsigned long long) (timeout_ms / 1000));
    fflush(stdout);
    uint64_t deadline = mono_ms() + timeout_ms, next_offer = 0;
    int attempts = 0;
    while (mono_ms() < deadline) {
        uint64_t now = mono_ms();
        if (now >= next_offer) {
            send_offers(udp, channel, port);
            next_offer = now + OFFER_INTERVAL_MS;
        }
        struct pollfd pfd = {lfd, POLLIN, 0};
        int wait = (int) (next_offer - now);
        if (poll(&pfd, 1, wait > 0 ? wait : 1) <= 0) {
            continue;
        }
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        kith_pairing_t *p = NULL;
        int rc = kith_pairing_new(&p, KITH_PAIRING_HOST, channel, words, name, n->id->pk);
        if (rc == KITH_OK) {
            rc = exchange(fd, p, 0);
        }
        close(fd);
        if (rc == KITH_OK) {
            /* The code is single use: stop offering before asking anything. */
            close(lfd);
            lfd = -1;
            ret = finish_pairing(n, p, forced_name, groups, yes);
            kith_pairing_free(p);
            goto out;
        }
        kith_pairing_free(p);
        /* The joiner learns of a wrong code first and hangs up, so to the host a wrong
         * code usually looks like a dropped connection. Either way it was one guess. */
        attempts++;
        printf("A pairing attempt failed: %s (%d of %d attempts).\n",
               rc == KITH_EAUTH ? "wrong code" : "the other side gave up, probably a wrong code",
               attempts, KITH_PAIRING_MAX_ATTEMPTS);
        fflush(stdout);
        if (attempts >= KITH_PAIRING_MAX_ATTEMPTS) {
            cli_error("too many failed attempts: this code is void; start again");
            goto out;
        }
    }
    cli_error("the code expired: nobody paired within %llu seconds",
              (unsigned long long) (timeout_ms / 1000));
out:
    sodium_memzero(words, sizeof(words));
    if (lfd >= 0) {
        close(lfd);
    }
    if (udp >= 0) {
        close(udp);
    }
    return ret;
}

static int
join(kith_node_t *n, int channel, const uint8_t words[KITH_PAIRING_WORDS], uint64_t timeout_ms,
     const char *forced_name, const char *groups, int yes)
{
    char name[KITH_PAIRING_NAME_MAX + 1];
    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1, ret = 1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(KITH_DISCOVERY_PORT);
    if (udp < 0 || setsockopt(udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(udp, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        cli_error("cannot listen for the other side on UDP port %d: %s", KITH_DISCOVERY_PORT,
                  strerror(errno));
        if (udp >= 0) {
            close(udp);
        }
        return 1;
    }
    join_group(udp);
    self_name(n, name);
    printf("Looking for the other side on channel %d...\n", channel);
    fflush(stdout);
    uint64_t deadline = mono_ms() + timeout_ms;
    while (mono_ms() < deadline) {
        struct pollfd pfd = {udp, POLLIN, 0};
        if (poll(&pfd, 1, 500) <= 0) {
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
        printf("Found a host at %s; checking the code...\n", host_txt);
        fflush(stdout);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        from.sin_port = htons(port);
        if (fd < 0 || connect(fd, (struct sockaddr *) &from, sizeof(from)) != 0) {
            if (fd >= 0) {
                close(fd);
            }
            continue;
        }
        kith_pairing_t *p = NULL;
        int rc = kith_pairing_new(&p, KITH_PAIRING_JOINER, channel, words, name, n->id->pk);
        if (rc == KITH_OK) {
            rc = exchange(fd, p, 1);
        }
        close(fd);
        if (rc == KITH_OK) {
            ret = finish_pairing(n, p, forced_name, groups, yes);
        } else if (rc == KITH_EAUTH) {
            cli_error("the code does not match: check it with your colleague (nobody was "
                      "added)");
        } else {
            cli_error("pairing failed: %s", kith_strerror(rc));
        }
        kith_pairing_free(p);
        close(udp);
        return ret;
    }
    close(udp);
    cli_error("no colleague is offering channel %d on this network (is 'kith pair' running on "
              "their machine, on the same LAN?)",
              channel);
    return 1;
}

int
cmd_pair(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"yes", no_argument, NULL, 'y'},
        {"timeout", required_argument, NULL, 't'},
        {"name", required_argument, NULL, 'n'},
        {"group", required_argument, NULL, 'g'},
        {NULL, 0, NULL, 0},
    };
    int yes = 0, c;
    long timeout_s = -1;
    const char *forced = NULL;
    /* The new peer's groups, as 'kith peer add --group' takes them. */
    char groups[1024] = "";
    size_t groups_len = 0;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'g') {
            const char *gname = optarg[0] == '@' ? optarg + 1 : optarg;
            size_t len = strlen(gname);
            if (!cli_valid_name(gname)) {
                return cli_usage_error("pair", "a group name is 1-64 of A-Z a-z 0-9 . _ -");
            }
            if (groups_len + len + 2 > sizeof(groups)) {
                return cli_usage_error("pair", "too many groups");
            }
            groups_len += (size_t) snprintf(groups + groups_len, sizeof(groups) - groups_len,
                                            "%s%s", groups_len ? "," : "", gname);
        } else if (c == 'y') {
            yes = 1;
        } else if (c == 't') {
            char *end;
            timeout_s = strtol(optarg, &end, 10);
            if (*end != '\0' || timeout_s < 1 || timeout_s > KITH_PAIRING_TTL_MS / 1000) {
                return cli_usage_error("pair", "--timeout takes 1 to %d seconds",
                                       KITH_PAIRING_TTL_MS / 1000);
            }
        } else if (c == 'n') {
            forced = optarg;
        } else {
            return cli_usage_error("pair", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind > 1) {
        return cli_usage_error("pair", "takes at most one CODE");
    }
    int channel = 0;
    uint8_t words[KITH_PAIRING_WORDS];
    if (argc - optind == 1 && kith_pairing_code_parse(argv[optind], &channel, words) != KITH_OK) {
        char hint[KITH_PAIRING_CODE_MAX];
        if (kith_pairing_code_suggest(argv[optind], hint) == KITH_OK) {
            cli_error("'%s' is not a pairing code; did you mean %s?", argv[optind], hint);
        } else {
            cli_error("'%s' is not a pairing code (like 7-orbit-sugar-lantern)", argv[optind]);
        }
        return EXIT_USAGE;
    }
    kith_node_t *n = cli_open_node(g);
    if (n == NULL) {
        return 1;
    }
    int ret;
    if (argc - optind == 0) {
        ret = host(n, (uint64_t) (timeout_s > 0 ? timeout_s : KITH_PAIRING_TTL_MS / 1000) * 1000,
                   forced, groups, yes);
    } else {
        ret = join(n, channel, words, (uint64_t) (timeout_s > 0 ? timeout_s : 60) * 1000, forced,
                   groups, yes);
        sodium_memzero(words, sizeof(words));
    }
    kith_node_close(n);
    return ret;
}
