/*
 * LAN discovery: the daemon's beacons (src/net/beacon.h) on UDP port 5484, sent to IPv4
 * broadcast, IPv4 multicast 239.255.84.84 and IPv6 multicast ff02::5484 from every
 * address of every interface (one set per address, with that address as the source, since
 * the tags bind it), every 30 seconds, and at start, on new keys and whenever the
 * machine's addresses change (then also 1 and 3 seconds later). Received datagrams are bounded in
 * size, rate-limited per source address (kith_beacon_limiter_admit()) and handed to
 * kith_beacon_match() with the address they came from; a beacon from a trusted peer that is newer
 * than the last one accepted from that peer (kith_beacon_replay_check(), saved in a file across
 * restarts) is reported through the callback. Strangers' beacons and everything else are dropped
 * without a trace.
 */
#ifndef KITH_DISCOVERY_H
#define KITH_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/beacon.h"

#define KITH_DISCOVERY_PORT        5484
#define KITH_DISCOVERY_INTERVAL_MS 30000
#define KITH_DISCOVERY_STATE_FILE  "beacons.seen" /* the replay table, in the home */

typedef struct kith_discovery kith_discovery_t;

/* A trusted peer announced itself: peer_index into the keys last given, its TCP port,
 * and the address the datagram came from as text ("198.18.0.2", "fe80::1%eth0"). */
typedef void (*kith_discovery_cb)(void *ctx, size_t peer_index, const char *host, uint16_t port);
typedef void (*kith_discovery_log)(void *ctx, int level, const char *line);

/* Opens the sockets and starts the timers. state_path is the file that keeps the replay
 * table across restarts (read now, rewritten from the thread pool after each accepted
 * beacon); NULL keeps it in memory only. Returns KITH_OK or KITH_ENOMEM; a port that
 * cannot be opened is logged, not an error. Stop with kith_discovery_stop(). */
int kith_discovery_start(kith_discovery_t **out, uv_loop_t *loop, uint16_t udp_port,
                         uint16_t tcp_port, const char *state_path, kith_discovery_cb cb,
                         kith_discovery_log log, void *ctx);
/* Replaces the peers' keys (copied into locked memory; the caller wipes its copies) and
 * announces at once. */
int kith_discovery_set_keys(kith_discovery_t *d, const uint8_t (*send_keys)[KITH_BEACON_KEY_LEN],
                            const uint8_t (*recv_keys)[KITH_BEACON_KEY_LEN], size_t n);
/* Closes the sockets and timers and writes the replay table out if it changed; the memory
 * is freed once libuv has closed them and the write is done. After this call the
 * callbacks are not called again. */
void kith_discovery_stop(kith_discovery_t *d);
/* Counters for status and tests. */
uint64_t kith_discovery_sent(const kith_discovery_t *d);
uint64_t kith_discovery_received(const kith_discovery_t *d); /* past the rate limit */
uint64_t kith_discovery_dropped(const kith_discovery_t *d);  /* refused by the rate limit */

#endif
