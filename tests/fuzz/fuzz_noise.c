/*
 * libFuzzer target for src/crypto/noise: arbitrary bytes as handshake and transport
 * messages. Nothing may crash, and the module's own promises are checked: a failed
 * read leaves the state dead, and a successful read never reports more payload than
 * the message held.
 *
 * The first input byte picks the scenario, the rest is the message:
 *   0  IK responder reads it as message 1
 *   1  IK initiator (after writing message 1) reads it as message 2
 *   2  XX responder reads it as message 1
 *   3  XX initiator (after writing message 1) reads it as message 2
 *   4  XX responder (after a genuine message 1 and 2) reads it as message 3
 *   5  a transport cipher state decrypts it
 * Keys, ephemerals, prologue and the payloads the harness writes are those of the
 * cacophony vectors (tests/vectors/noise/cacophony.json), so each vector message,
 * prefixed with its scenario byte, is a valid seed that reaches the deepest paths.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/noise.h"
#include "kith/error.h"

static const char *const HEX_S_I =
    "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
static const char *const HEX_E_I =
    "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
static const char *const HEX_S_R =
    "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
static const char *const HEX_E_R =
    "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
static const char PROLOGUE[] = "John Galt";
static const char *const PAYLOADS[] = {"Ludwig von Mises", "Murray Rothbard", "F. A. Hayek"};

static uint8_t s_i[32], e_i[32], s_r[32], e_r[32], s_r_pub[32];
static uint8_t buf[KITH_NOISE_MAX_MSG + 1];
static uint8_t payload[KITH_NOISE_MAX_MSG + 1];

static void
check(int cond)
{
    if (!cond) {
        abort();
    }
}

static void
unhex(const char *hex, uint8_t out[32])
{
    for (int i = 0; i < 32; i++) {
        unsigned v;
        check(sscanf(hex + 2 * i, "%2x", &v) == 1);
        out[i] = (uint8_t) v;
    }
}

static void
init_once(void)
{
    static int done;
    if (done) {
        return;
    }
    check(sodium_init() >= 0);
    unhex(HEX_S_I, s_i);
    unhex(HEX_E_I, e_i);
    unhex(HEX_S_R, s_r);
    unhex(HEX_E_R, e_r);
    check(crypto_scalarmult_base(s_r_pub, s_r) == 0);
    done = 1;
}

static kith_noise_hs_t *
side(int pattern, int initiator)
{
    kith_noise_hs_t *hs = NULL;
    check(kith_noise_hs_new(&hs, pattern, initiator, (const uint8_t *) PROLOGUE, strlen(PROLOGUE),
                            initiator ? s_i : s_r,
                            pattern == KITH_NOISE_IK && initiator ? s_r_pub : NULL) == KITH_OK);
    check(kith__noise_hs_set_ephemeral(hs, initiator ? e_i : e_r) == KITH_OK);
    return hs;
}

static void
write_msg(kith_noise_hs_t *hs, int m, size_t *len)
{
    check(kith_noise_hs_write(hs, (const uint8_t *) PAYLOADS[m], strlen(PAYLOADS[m]), buf,
                              sizeof(buf), len) == KITH_OK);
}

/* Feeds the fuzz message to rx and checks the outcome is self-consistent. */
static int
feed(kith_noise_hs_t *rx, const uint8_t *msg, size_t len)
{
    size_t plen = 12345;
    int rc = kith_noise_hs_read(rx, msg, len, payload, sizeof(payload), &plen);
    if (rc != KITH_OK) {
        uint8_t out[64];
        check(plen == 0);
        check(!kith_noise_hs_done(rx));
        check(kith_noise_hs_read(rx, msg, len, payload, sizeof(payload), &plen) == KITH_EINVAL);
        check(kith_noise_hs_write(rx, NULL, 0, buf, sizeof(buf), &plen) == KITH_EINVAL);
        check(kith_noise_hs_remote_static(rx, out) == KITH_EINVAL);
        return rc;
    }
    check(plen <= len);
    return rc;
}

/* Once a handshake completes, split and push one transport message each way. */
static void
finish(kith_noise_hs_t *hs)
{
    kith_noise_cs_t tx, rx;
    uint8_t h[64];
    size_t len;
    check(kith_noise_hs_done(hs));
    check(kith_noise_hs_hash(hs, h) == KITH_OK);
    check(kith_noise_hs_split(hs, &tx, &rx) == KITH_OK);
    check(kith_noise_cs_encrypt(&tx, NULL, 0, h, sizeof(h), buf, sizeof(buf), &len) == KITH_OK);
    (void) kith_noise_cs_decrypt(&rx, NULL, 0, buf, len, payload, sizeof(payload), &len);
    kith_noise_cs_wipe(&tx);
    kith_noise_cs_wipe(&rx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kith_noise_hs_t *ini = NULL, *resp = NULL;
    size_t len;

    init_once();
    if (size < 1) {
        return 0;
    }
    const uint8_t *msg = data + 1;
    size_t msg_len = size - 1;

    switch (data[0] % 6) {
    case 0:
        resp = side(KITH_NOISE_IK, 0);
        if (feed(resp, msg, msg_len) == KITH_OK) {
            write_msg(resp, 1, &len);
            finish(resp);
        }
        break;
    case 1:
        ini = side(KITH_NOISE_IK, 1);
        write_msg(ini, 0, &len);
        if (feed(ini, msg, msg_len) == KITH_OK) {
            finish(ini);
        }
        break;
    case 2:
        resp = side(KITH_NOISE_XX, 0);
        if (feed(resp, msg, msg_len) == KITH_OK) {
            /* XX message 1 is not authenticated: a low-order e is only caught when the
             * reply's "ee" runs, which must then fail cleanly and kill the state. */
            int rc = kith_noise_hs_write(resp, (const uint8_t *) PAYLOADS[1], strlen(PAYLOADS[1]),
                                         buf, sizeof(buf), &len);
            check(rc == KITH_OK || (rc == KITH_ECRYPTO && !kith_noise_hs_done(resp)));
        }
        break;
    case 3:
        ini = side(KITH_NOISE_XX, 1);
        write_msg(ini, 0, &len);
        if (feed(ini, msg, msg_len) == KITH_OK) {
            write_msg(ini, 2, &len);
            finish(ini);
        }
        break;
    case 4:
        ini = side(KITH_NOISE_XX, 1);
        resp = side(KITH_NOISE_XX, 0);
        write_msg(ini, 0, &len);
        check(kith_noise_hs_read(resp, buf, len, payload, sizeof(payload), &len) == KITH_OK);
        write_msg(resp, 1, &len);
        if (feed(resp, msg, msg_len) == KITH_OK) {
            finish(resp);
        }
        break;
    default: {
        /* Key and nonce from the message itself, so the fuzzer can also reach success. */
        kith_noise_cs_t cs;
        memset(&cs, 0, sizeof(cs));
        if (msg_len >= 8) {
            memcpy(&cs.n, msg, 8);
            msg += 8;
            msg_len -= 8;
        }
        uint64_t n = cs.n;
        int rc = kith_noise_cs_decrypt(&cs, NULL, 0, msg, msg_len, payload, sizeof(payload), &len);
        check(rc == KITH_OK ? cs.n == n + 1 && len + 16 == msg_len : cs.n == n && len == 0);
        check(kith_noise_cs_rekey(&cs) == KITH_OK);
        kith_noise_cs_wipe(&cs);
        break;
    }
    }
    kith_noise_hs_free(ini);
    kith_noise_hs_free(resp);
    return 0;
}
