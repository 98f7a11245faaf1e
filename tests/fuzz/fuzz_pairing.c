/*
 * libFuzzer target for src/sync/pairing: arbitrary bytes as each message of the pairing
 * exchange, and as typed code text. Nothing may crash, and the module's promises are
 * checked: a failed receive leaves the output empty, the state not done, no peer known,
 * and the state dead; a successful one produces exactly what that step should.
 *
 * The first input byte picks the scenario, the rest is the message:
 *   0  a host reads it as message 1
 *   1  a host that answered a genuine message 1 (joiner with the right code) reads it
 *      as message 3
 *   2  a joiner that sent message 1 reads it as message 2
 *   3  a joiner that went through genuine messages 1 to 3 reads it as message 4
 *   4  it is typed code text: parse, suggest, and the formatted result re-parsed
 * Scalars, sid, names, keys and code are those of the worked example in
 * proto/PAIRING.md, so each example message prefixed with its scenario byte is a seed
 * that reaches the deepest paths (tests/fuzz/corpus/pairing/).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kith/error.h"
#include "sync/pairing.h"

static const char *const HEX_YA =
    "da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08";
static const char *const HEX_YB =
    "d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d";
static const char *const HEX_SID = "7e4b4791d6a8ef019b936c79fb7f2c57";
static const char CODE[] = "42-apple-river-tiger";

static uint8_t ya[32], yb[32], sid[16], pk_a[32], pk_b[32], words[3];
static int channel;

static void
check(int cond)
{
    if (!cond) {
        abort();
    }
}

static void
unhex(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        check(sscanf(hex + 2 * i, "%2x", &v) == 1);
        out[i] = (uint8_t) v;
    }
}

static void
init_once(void)
{
    static int done;
    uint8_t seed[32], sk[64];

    if (done) {
        return;
    }
    check(sodium_init() >= 0);
    unhex(HEX_YA, ya, 32);
    unhex(HEX_YB, yb, 32);
    unhex(HEX_SID, sid, 16);
    memset(seed, 1, sizeof(seed));
    check(crypto_sign_seed_keypair(pk_a, sk, seed) == 0);
    memset(seed, 2, sizeof(seed));
    check(crypto_sign_seed_keypair(pk_b, sk, seed) == 0);
    check(kith_pairing_code_parse(CODE, &channel, words) == KITH_OK);
    done = 1;
}

static kith_pairing_t *
side(int role)
{
    kith_pairing_t *p = NULL;
    int joiner = role == KITH_PAIRING_JOINER;
    check(kith_pairing_new(&p, role, channel, words, joiner ? "Alice" : "Bob",
                           joiner ? pk_a : pk_b) == KITH_OK);
    check(kith__pairing_set_secrets(p, joiner ? ya : yb, joiner ? sid : NULL) == KITH_OK);
    return p;
}

/* Passes the genuine message in `out` from tx's last step to rx; out gets the reply. */
static void
relay(kith_pairing_t *rx, kith_buf_t *out)
{
    uint8_t msg[KITH_PAIRING_MSG_MAX];
    size_t len = out->len;
    check(len > 0 && len <= sizeof(msg));
    memcpy(msg, out->data, len);
    check(kith_pairing_receive(rx, msg, len, out) == KITH_OK);
}

/* Feeds the fuzz message to rx and checks the outcome is self-consistent. */
static int
feed(kith_pairing_t *rx, const uint8_t *msg, size_t len, kith_buf_t *out)
{
    char name[KITH_PAIRING_NAME_MAX + 1];
    uint8_t key[32];
    kith_buf_t scratch; /* for the calls that must fail, so out keeps the reply */
    int rc = kith_pairing_receive(rx, msg, len, out);

    kith_buf_init(&scratch);

    check(out->len <= KITH_PAIRING_MSG_MAX);
    if (rc != KITH_OK) {
        check(rc == KITH_EPROTO || rc == KITH_EVERSION || rc == KITH_EAUTH || rc == KITH_ECRYPTO);
        check(out->len == 0);
        check(!kith_pairing_done(rx));
        check(kith_pairing_peer(rx, name, key) == KITH_EINVAL);
        check(kith_pairing_receive(rx, msg, len, &scratch) == KITH_EINVAL);
        kith_buf_close(&scratch);
        return rc;
    }
    if (kith_pairing_done(rx)) {
        check(kith_pairing_peer(rx, name, key) == KITH_OK);
        check(strlen(name) >= 1 && strlen(name) <= KITH_PAIRING_NAME_MAX);
        check(kith_pairing_receive(rx, msg, len, &scratch) == KITH_EINVAL);
    }
    kith_buf_close(&scratch);
    return rc;
}

static void
fuzz_code(const uint8_t *data, size_t size)
{
    char text[512], out[KITH_PAIRING_CODE_MAX], again[KITH_PAIRING_CODE_MAX];
    int ch = -1, ch2;
    uint8_t w[3], w2[3];

    if (size >= sizeof(text)) {
        size = sizeof(text) - 1;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    if (kith_pairing_code_parse(text, &ch, w) == KITH_OK) {
        check(ch >= KITH_PAIRING_CHANNEL_MIN && ch <= KITH_PAIRING_CHANNEL_MAX);
        check(kith_pairing_code_format(ch, w, out) == KITH_OK);
        check(kith_pairing_code_parse(out, &ch2, w2) == KITH_OK);
        check(ch2 == ch && memcmp(w, w2, 3) == 0);
        /* A valid code suggests itself, canonically. */
        check(kith_pairing_code_suggest(text, again) == KITH_OK && strcmp(again, out) == 0);
    } else {
        check(ch == 0);
    }
    if (kith_pairing_code_suggest(text, out) == KITH_OK) {
        check(strlen(out) < KITH_PAIRING_CODE_MAX);
        check(kith_pairing_code_parse(out, &ch2, w2) == KITH_OK);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kith_pairing_t *j = NULL, *h = NULL;
    kith_buf_t out;

    init_once();
    if (size < 1) {
        return 0;
    }
    const uint8_t *msg = data + 1;
    size_t msg_len = size - 1;

    kith_buf_init(&out);
    switch (data[0] % 5) {
    case 0:
        h = side(KITH_PAIRING_HOST);
        if (feed(h, msg, msg_len, &out) == KITH_OK) {
            check(out.len > 0 && !kith_pairing_done(h));
        }
        break;
    case 1:
        j = side(KITH_PAIRING_JOINER);
        h = side(KITH_PAIRING_HOST);
        check(kith_pairing_start(j, &out) == KITH_OK);
        relay(h, &out);
        if (feed(h, msg, msg_len, &out) == KITH_OK) {
            check(kith_pairing_done(h) && out.len > 0);
        }
        break;
    case 2:
        j = side(KITH_PAIRING_JOINER);
        check(kith_pairing_start(j, &out) == KITH_OK);
        if (feed(j, msg, msg_len, &out) == KITH_OK) {
            check(out.len > 0 && !kith_pairing_done(j));
        }
        break;
    case 3:
        j = side(KITH_PAIRING_JOINER);
        h = side(KITH_PAIRING_HOST);
        check(kith_pairing_start(j, &out) == KITH_OK);
        relay(h, &out);
        relay(j, &out);
        relay(h, &out);
        check(kith_pairing_done(h));
        if (feed(j, msg, msg_len, &out) == KITH_OK) {
            check(kith_pairing_done(j) && out.len == 0);
        }
        break;
    default:
        fuzz_code(msg, msg_len);
        break;
    }
    kith_buf_close(&out);
    kith_pairing_free(j);
    kith_pairing_free(h);
    return 0;
}
