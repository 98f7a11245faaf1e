/*
 * Pairing offers: the UDP datagram with which `kith pair` (the host) tells the LAN that
 * it waits for a colleague on a channel, and on which TCP port.
 *
 *   "KPAIR" (5 bytes) | version 1 (1) | channel 1..99 (1) | TCP port (2, big-endian)
 *
 * The offer carries nothing derived from the code's words: anything that were would let
 * a listener test all 2^24 word combinations offline. The channel is public (it is the
 * number said aloud with the words); it only keeps simultaneous pairings apart.
 */
#ifndef KITH_PAIROFFER_H
#define KITH_PAIROFFER_H

#include <stddef.h>
#include <stdint.h>

#define KITH_PAIROFFER_LEN 9

void kith_pairoffer_encode(int channel, uint16_t port, uint8_t out[static KITH_PAIROFFER_LEN]);
/* KITH_OK and the channel and port, KITH_EPARSE for anything else (other lengths, magic,
 * channel out of range, port 0), KITH_EVERSION for another version. */
int kith_pairoffer_decode(const uint8_t *data, size_t len, int *channel, uint16_t *port);

#endif
