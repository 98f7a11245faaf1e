/*
 * Tests for src/sync/pairing (and its word list): codes, and the four-message pairing
 * exchange over CPace described in proto/PAIRING.md.
 *
 * The worked example of the spec is checked byte for byte, and this file recomputes its
 * key schedule on its own (PRS, CI, the CPace ISK through src/crypto/cpace, the
 * confirmation tags, the sealing key and the sealed plaintext) so that the spec, not just
 * the module's current output, is what is tested. The same independent encoder plays a
 * joiner who guessed the code wrong, which is the only way a host can see a wrong
 * message 3 (an honest joiner stops at message 2). The rest is defensive: every byte of
 * every message flipped, truncation, oversize, garbage, non-canonical encodings, other
 * versions, messages out of order, and bad arguments.
 */
#include "check.h"

#include <stdlib.h>

#include <sodium.h>

#include "crypto/cpace.h"
#include "sync/pairing.h"
#include "sync/wordlist.h"

/* ======================================================= fixed inputs (PAIRING.md) */

#define CODE      "42-apple-river-tiger"
#define CODE_BAD1 "42-apple-river-tulip" /* one word differs */
#define CODE_BAD2 "43-apple-river-tiger" /* only the channel differs */

static const char *const HEX_YA =
    "da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08";
static const char *const HEX_YB =
    "d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d";
static const char *const HEX_SID = "7e4b4791d6a8ef019b936c79fb7f2c57";

/* The worked example's four messages. */
static const char *const HEX_M[4] = {
    "83a17601a3736964c4107e4b4791d6a8ef019b936c79fb7f2c57a25961c420ac9fb126596dbf48406b84b3"
    "4ab12aa79a48943efaa8314507899ad878d4154d",
    "83a17601a25962c42064e1262d000e5f0f53531a610dbf26a946d3c101d0e8c1ea6421b40bbe302436a963"
    "6f6e6669726d5f62c42042d20938f0ce4a2b11d7b02eb706893d4988d61f638109383011f5ad915807be",
    "82a9636f6e6669726d5f61c4209d5fcba0640b2af8e1f179f528cb4ea70ec420a311b830afbee641ce5b40"
    "ba41a87365616c65645f61c4423d1372fbe80ce81af9ae4d38d7358b3ce4e5901b2e2dcc6511e32cadd712"
    "dd196f3b02b77cf71ffe5678ab78ce6b8cb6daa3349b2d38b81f7b1861e53acf63bb9a80",
    "81a87365616c65645f62c4408fe762d61043b50967d53299f3fd437324535429b848a7000c5015baae88bf"
    "1445c4c1c7e09b24f36e5c3a321aa4e068475d3ee03b5f8595206715a8c3837629",
};
static const char *const HEX_ISK =
    "83fb0d9f98e382ed1321b2aca06530727d4416be1baf0a59a50321e1a2c323beb409acb3ff917706a4e802"
    "49d2f211753abd226c3664e127091a56921a1d93e7";

static const char *const HEX_G = "3ce8bc20a03534d9b84f0843ce0c636bbd24598b59b365813d5fda03ba65ca2d";
static const char *const HEX_SEAL =
    "7f0f2bfbcf3fa1ddaedd6b2281daef64e24d4b35898b797486ce75a1f814806b";

#define SPEC_FILE KITH_TEST_DIR "/../proto/PAIRING.md"

static uint8_t ya[32], yb[32], sid[16];
static uint8_t pk_alice[32], pk_bob[32], pk_carol[32];

static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t) v;
    }
    return n;
}

static void
pk_from_seed(uint8_t fill, uint8_t pk[32])
{
    uint8_t seed[32], sk[64];
    memset(seed, fill, sizeof(seed));
    ASSERT_EQ(crypto_sign_seed_keypair(pk, sk, seed), 0);
    sodium_memzero(sk, sizeof(sk));
}

static int
setup(void **state)
{
    if (sodium_init() < 0) {
        return -1;
    }
    unhex(HEX_YA, ya, 32);
    unhex(HEX_YB, yb, 32);
    unhex(HEX_SID, sid, 16);
    pk_from_seed(1, pk_alice);
    pk_from_seed(2, pk_bob);
    pk_from_seed(3, pk_carol);
    return 0;
}

/* ======================================================= helpers */

/* A joiner "Alice" with code jcode and a host "Bob" with code hcode; with fixed, the
 * worked example's scalars and sid. */
static void
make_pair(kith_pairing_t **j, kith_pairing_t **h, const char *jcode, const char *hcode, int fixed)
{
    int ch;
    uint8_t w[3];

    ASSERT_OK(kith_pairing_code_parse(jcode, &ch, w));
    ASSERT_OK(kith_pairing_new(j, KITH_PAIRING_JOINER, ch, w, "Alice", pk_alice));
    ASSERT_OK(kith_pairing_code_parse(hcode, &ch, w));
    ASSERT_OK(kith_pairing_new(h, KITH_PAIRING_HOST, ch, w, "Bob", pk_bob));
    if (fixed) {
        ASSERT_OK(kith__pairing_set_secrets(*j, ya, sid));
        ASSERT_OK(kith__pairing_set_secrets(*h, yb, NULL));
    }
}

typedef struct {
    uint8_t m[4][KITH_PAIRING_MSG_MAX]; /* messages as sent (before tampering) */
    size_t len[4];                      /* bytes; 0 for a message never sent */
} msgs_t;

/*
 * Runs the exchange. Message t (1..4; 0 for none) has byte `at` xored with mask on the
 * way. Returns the number of the message whose receipt failed, or 0 if all four were
 * accepted; *rc_out gets that failure. Messages as sent are recorded in rec (NULL
 * allowed).
 */
static int
exchange(kith_pairing_t *j, kith_pairing_t *h, int t, size_t at, uint8_t mask, int *rc_out,
         msgs_t *rec)
{
    kith_buf_t out;
    uint8_t msg[KITH_PAIRING_MSG_MAX];
    int failed = 0;

    *rc_out = KITH_OK;
    if (rec != NULL) {
        memset(rec, 0, sizeof(*rec));
    }
    kith_buf_init(&out);
    ASSERT_OK(kith_pairing_start(j, &out));
    for (int k = 1; k <= 4 && !failed; k++) {
        size_t len = out.len;
        assert_true(len > 0 && len <= KITH_PAIRING_MSG_MAX);
        memcpy(msg, out.data, len);
        if (rec != NULL) {
            memcpy(rec->m[k - 1], msg, len);
            rec->len[k - 1] = len;
        }
        if (k == t) {
            assert_true(at < len);
            msg[at] ^= mask;
        }
        int rc = kith_pairing_receive(k % 2 == 1 ? h : j, msg, len, &out);
        if (rc != KITH_OK) {
            ASSERT_EQ(out.len, 0);
            *rc_out = rc;
            failed = k;
        }
    }
    if (!failed) {
        ASSERT_EQ(out.len, 0); /* message 4 needs no reply */
    }
    kith_buf_close(&out);
    return failed;
}

static void
assert_no_peer(const kith_pairing_t *p)
{
    char name[KITH_PAIRING_NAME_MAX + 1];
    uint8_t key[32];
    static const uint8_t zero[32];

    assert_false(kith_pairing_done(p));
    ASSERT_ERR(kith_pairing_peer(p, name, key), KITH_EINVAL);
    ASSERT_STREQ(name, "");
    assert_memory_equal(key, zero, 32);
}

static void
assert_peer(const kith_pairing_t *p, const char *name_want, const uint8_t key_want[32])
{
    char name[KITH_PAIRING_NAME_MAX + 1];
    uint8_t key[32];

    assert_true(kith_pairing_done(p));
    ASSERT_OK(kith_pairing_peer(p, name, key));
    ASSERT_STREQ(name, name_want);
    assert_memory_equal(key, key_want, 32);
}

static int
contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------- the spec's key schedule, written out on its own */

/* PRS = w0 w1 w2 channel; CI = lv_cat("kith-pair-v1", channel byte). */
static void
spec_prs_ci(const char *code, uint8_t prs[4], uint8_t ci[15])
{
    int ch;
    uint8_t w[3];
    ASSERT_OK(kith_pairing_code_parse(code, &ch, w));
    prs[0] = w[0], prs[1] = w[1], prs[2] = w[2], prs[3] = (uint8_t) ch;
    ci[0] = 12;
    memcpy(ci + 1, "kith-pair-v1", 12);
    ci[13] = 1;
    ci[14] = (uint8_t) ch;
}

/* The ISK a joiner with this code, scalar and sid gets against the host share yb_pub. */
static void
spec_joiner_isk(const char *code, const uint8_t y[32], const uint8_t s[16],
                const uint8_t yb_pub[32], uint8_t isk[64])
{
    uint8_t prs[4], ci[15], share[32];
    kith_cpace_t *c = NULL;
    spec_prs_ci(code, prs, ci);
    ASSERT_OK(kith_cpace_start(&c, prs, 4, ci, 15, s, 16, (const uint8_t *) "initiator", 9, share));
    ASSERT_OK(kith__cpace_set_scalar(c, y, share));
    ASSERT_OK(kith_cpace_finish(c, 1, yb_pub, (const uint8_t *) "responder", 9, isk));
    kith_cpace_free(c);
}

static void
spec_confirm(const uint8_t isk[64], const char *label, uint8_t tag[32])
{
    crypto_auth_hmacsha512256_state st;
    ASSERT_EQ(crypto_auth_hmacsha512256_init(&st, isk, 64), 0);
    ASSERT_EQ(crypto_auth_hmacsha512256_update(&st, (const uint8_t *) label, strlen(label)), 0);
    ASSERT_EQ(crypto_auth_hmacsha512256_final(&st, tag), 0);
}

static void
spec_seal_key(const uint8_t isk[64], uint8_t key[32])
{
    ASSERT_EQ(crypto_generichash(key, 32, (const uint8_t *) "kith-pair-v1 seal", 17, isk, 64), 0);
}

/* {"name": name, "key": bin 32}, by hand. */
static size_t
spec_identity(const uint8_t *name, size_t name_len, const uint8_t key[32], uint8_t *out)
{
    size_t n = 0;
    out[n++] = 0x82;
    out[n++] = 0xa4;
    memcpy(out + n, "name", 4), n += 4;
    if (name_len < 32) {
        out[n++] = (uint8_t) (0xa0 | name_len);
    } else {
        out[n++] = 0xd9;
        out[n++] = (uint8_t) name_len;
    }
    memcpy(out + n, name, name_len), n += name_len;
    out[n++] = 0xa3;
    memcpy(out + n, "key", 3), n += 3;
    out[n++] = 0xc4;
    out[n++] = 32;
    memcpy(out + n, key, 32), n += 32;
    return n;
}

/* Message 3 as a joiner holding isk would write it, sealing plaintext pt. */
static size_t
spec_m3(const uint8_t isk[64], const uint8_t *pt, size_t pt_len, uint8_t *out)
{
    uint8_t tag[32], key[32], nonce[24] = {1}, ct[256];
    unsigned long long ct_len;
    size_t n = 0;

    spec_confirm(isk, "joiner-confirm", tag);
    spec_seal_key(isk, key);
    ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_encrypt(
                  ct, &ct_len, pt, pt_len, (const uint8_t *) "kith-pair-v1", 12, NULL, nonce, key),
              0);
    out[n++] = 0x82;
    out[n++] = 0xa9;
    memcpy(out + n, "confirm_a", 9), n += 9;
    out[n++] = 0xc4;
    out[n++] = 32;
    memcpy(out + n, tag, 32), n += 32;
    out[n++] = 0xa8;
    memcpy(out + n, "sealed_a", 8), n += 8;
    out[n++] = 0xc4;
    out[n++] = (uint8_t) ct_len;
    memcpy(out + n, ct, ct_len), n += ct_len;
    return n;
}

/* A fresh host that has answered the worked example's message 1; m2 gets its reply. */
static kith_pairing_t *
host_after_m1(const char *code, uint8_t m2[KITH_PAIRING_MSG_MAX], size_t *m2_len)
{
    kith_pairing_t *h = NULL;
    kith_buf_t out;
    uint8_t m1[KITH_PAIRING_MSG_MAX];
    int ch;
    uint8_t w[3];
    size_t n = unhex(HEX_M[0], m1, sizeof(m1));

    ASSERT_OK(kith_pairing_code_parse(code, &ch, w));
    ASSERT_OK(kith_pairing_new(&h, KITH_PAIRING_HOST, ch, w, "Bob", pk_bob));
    ASSERT_OK(kith__pairing_set_secrets(h, yb, NULL));
    kith_buf_init(&out);
    ASSERT_OK(kith_pairing_receive(h, m1, n, &out));
    memcpy(m2, out.data, out.len);
    *m2_len = out.len;
    kith_buf_close(&out);
    return h;
}

/* ======================================================= word list and codes */

static size_t
lev(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), d[16][16];
    for (size_t i = 0; i <= la; i++) {
        d[i][0] = i;
    }
    for (size_t k = 0; k <= lb; k++) {
        d[0][k] = k;
    }
    for (size_t i = 1; i <= la; i++) {
        for (size_t k = 1; k <= lb; k++) {
            size_t best = d[i - 1][k - 1] + (a[i - 1] != b[k - 1]);
            if (d[i - 1][k] + 1 < best) {
                best = d[i - 1][k] + 1;
            }
            if (d[i][k - 1] + 1 < best) {
                best = d[i][k - 1] + 1;
            }
            d[i][k] = best;
        }
    }
    return d[la][lb];
}

static void
test_wordlist(void **state)
{
    char upper[8];

    for (int i = 0; i < KITH_WORDLIST_LEN; i++) {
        const char *w = kith_wordlist[i];
        size_t n = strlen(w);
        assert_true(n >= KITH_WORD_MIN && n <= KITH_WORD_MAX);
        for (size_t c = 0; c < n; c++) {
            assert_true(w[c] >= 'a' && w[c] <= 'z');
            upper[c] = (char) (w[c] - 'a' + 'A');
        }
        if (i > 0) {
            assert_true(strcmp(kith_wordlist[i - 1], w) < 0); /* sorted, hence distinct */
        }
        for (int k = 0; k < i; k++) {
            if (lev(kith_wordlist[k], w) < 2) {
                print_error("words %s and %s are one edit apart\n", kith_wordlist[k], w);
                fail();
            }
        }
        ASSERT_EQ(kith_wordlist_find(w, n), i);
        ASSERT_EQ(kith_wordlist_find(upper, n), i);
        ASSERT_EQ(kith_wordlist_closest(w, n), i);
    }
    ASSERT_EQ(kith_wordlist_find("aardvark", 8), -1);
    ASSERT_EQ(kith_wordlist_find("appl", 4), -1);
    ASSERT_EQ(kith_wordlist_find("apples", 6), -1);
    ASSERT_EQ(kith_wordlist_find("ap", 2), -1);
    ASSERT_EQ(kith_wordlist_find("", 0), -1);
    ASSERT_EQ(kith_wordlist_find(NULL, 3), -1);
    ASSERT_EQ(kith_wordlist_find("apple\0", 6), -1);
    ASSERT_EQ(kith_wordlist_find("zzz", 3), -1);
    ASSERT_EQ(kith_wordlist_find("aaa", 3), -1);
    ASSERT_EQ(kith_wordlist_closest("aplle", 5), kith_wordlist_find("apple", 5));
    ASSERT_EQ(kith_wordlist_closest("RIVR", 4), kith_wordlist_find("river", 5));
    ASSERT_EQ(kith_wordlist_closest("tigr", 4), kith_wordlist_find("tiger", 5));
    /* "aple" is one edit from both apple and maple: no hint rather than a guess. */
    ASSERT_EQ(kith_wordlist_closest("aple", 4), -1);
    ASSERT_EQ(kith_wordlist_closest("qqqqqq", 6), -1);
    ASSERT_EQ(kith_wordlist_closest("supercalifragilistic", 20), -1);
    ASSERT_EQ(kith_wordlist_closest(NULL, 0), -1);
}

static void
test_code_new_roundtrip(void **state)
{
    char code[KITH_PAIRING_CODE_MAX], again[KITH_PAIRING_CODE_MAX];
    int seen_channel[100] = {0}, channels = 0, ch;
    uint8_t w[3];

    for (int i = 0; i < 2000; i++) {
        ASSERT_OK(kith_pairing_code_new(code));
        assert_true(strlen(code) < KITH_PAIRING_CODE_MAX);
        ASSERT_OK(kith_pairing_code_parse(code, &ch, w));
        assert_true(ch >= 1 && ch <= 99);
        ASSERT_OK(kith_pairing_code_format(ch, w, again));
        ASSERT_STREQ(code, again);
        channels += !seen_channel[ch];
        seen_channel[ch] = 1;
    }
    assert_true(channels > 80); /* 2000 draws miss a given channel with p ~ 1e-9 */
    ASSERT_ERR(kith_pairing_code_format(0, w, code), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_code_format(100, w, code), KITH_EINVAL);
    /* The longest possible code fits. */
    w[0] = w[1] = w[2] = (uint8_t) kith_wordlist_find("zipper", 6);
    ASSERT_OK(kith_pairing_code_format(99, w, code));
    ASSERT_STREQ(code, "99-zipper-zipper-zipper");
}

static void
test_code_parse_forms(void **state)
{
    static const char *good[] = {
        "42-apple-river-tiger",          "42 apple river tiger",  "42-APPLE-River-tiGER",
        "  42 - apple -- river tiger\n", "42\tapple river-tiger", "42-apple river-tiger",
    };
    int ch;
    uint8_t w[3];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ASSERT_OK(kith_pairing_code_parse(good[i], &ch, w));
        ASSERT_EQ(ch, 42);
        ASSERT_EQ(w[0], kith_wordlist_find("apple", 5));
        ASSERT_EQ(w[1], kith_wordlist_find("river", 5));
        ASSERT_EQ(w[2], kith_wordlist_find("tiger", 5));
    }
    ASSERT_OK(kith_pairing_code_parse("1-acorn-acorn-acorn", &ch, w));
    ASSERT_EQ(ch, 1);
    ASSERT_EQ(w[0] | w[1] | w[2], 0);
    ASSERT_OK(kith_pairing_code_parse("07-acorn-actor-alarm", &ch, w));
    ASSERT_EQ(ch, 7);
    ASSERT_OK(kith_pairing_code_parse("99-zipper-zebra-worm", &ch, w));
    ASSERT_EQ(ch, 99);
    ASSERT_EQ(w[0], 255);
}

static void
test_code_parse_bad(void **state)
{
    char long_code[400];
    static const char *bad[] = {
        "",
        "   ",
        "42",
        "42-apple-river",
        "42-apple-river-tiger-wolf",
        "0-apple-river-tiger",
        "00-apple-river-tiger",
        "100-apple-river-tiger",
        "042-apple-river-tiger",
        "x-apple-river-tiger",
        "4x-apple-river-tiger",
        "apple-42-river-tiger",
        "apple-river-tiger",
        "42-aple-river-tiger",
        "42-apple-river-tigers",
        "42-apple-river-tige",
        "42_apple_river_tiger",
        "42.apple.river.tiger",
        "42-apple-river-t\xc3\xafger",
        "42-apple-river-tiger!",
        "4 2-apple-river-tiger",
        "42-apple-river-tiger\x01",
        "\xef\xbc\x94\xef\xbc\x92-apple-river-tiger", /* full-width digits */
    };
    int ch = 5;
    uint8_t w[3] = {1, 2, 3};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ch = 5, w[0] = w[1] = w[2] = 9;
        if (kith_pairing_code_parse(bad[i], &ch, w) != KITH_EPARSE) {
            print_error("accepted bad code \"%s\"\n", bad[i]);
            fail();
        }
        ASSERT_EQ(ch, 0);
        ASSERT_EQ(w[0] | w[1] | w[2], 0);
    }
    /* Too long, even if it were only separators around a valid code. */
    memset(long_code, ' ', sizeof(long_code));
    memcpy(long_code + 300, CODE, strlen(CODE) + 1);
    ASSERT_ERR(kith_pairing_code_parse(long_code, &ch, w), KITH_EPARSE);
    ASSERT_OK(kith_pairing_code_parse(long_code + 300 - 200, &ch, w));
    ASSERT_ERR(kith_pairing_code_parse(NULL, &ch, w), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_code_parse(CODE, NULL, w), KITH_EINVAL);
}

static void
test_code_suggest(void **state)
{
    char out[KITH_PAIRING_CODE_MAX];

    ASSERT_OK(kith_pairing_code_suggest("42 aplle RIVR tigr", out));
    ASSERT_STREQ(out, CODE);
    ASSERT_OK(kith_pairing_code_suggest("42-Apple-River-Tiger", out));
    ASSERT_STREQ(out, CODE);
    ASSERT_ERR(kith_pairing_code_suggest("42-qqqqqq-river-tiger", out), KITH_EPARSE);
    ASSERT_STREQ(out, "");
    ASSERT_ERR(kith_pairing_code_suggest("42-aple-river-tiger", out), KITH_EPARSE);
    ASSERT_STREQ(out, "");
    ASSERT_ERR(kith_pairing_code_suggest("420-apple-river-tiger", out), KITH_EPARSE);
    ASSERT_ERR(kith_pairing_code_suggest("42-apple-river", out), KITH_EPARSE);
    ASSERT_ERR(kith_pairing_code_suggest(NULL, out), KITH_EINVAL);
}

/* ======================================================= the exchange */

static void
test_full_exchange(void **state)
{
    kith_pairing_t *j = NULL, *h = NULL;
    int rc;
    char code[KITH_PAIRING_CODE_MAX];

    /* Random code, random scalars and sid. */
    for (int i = 0; i < 20; i++) {
        ASSERT_OK(kith_pairing_code_new(code));
        make_pair(&j, &h, code, code, 0);
        ASSERT_EQ(exchange(j, h, 0, 0, 0, &rc, NULL), 0);
        assert_peer(j, "Bob", pk_bob);
        assert_peer(h, "Alice", pk_alice);
        kith_pairing_free(j);
        kith_pairing_free(h);
    }

    /* Longest names: 64 bytes, including multi-byte UTF-8 (str 8 on the wire). */
    const char *long_a = "Zo\xc3\xab \xe6\x9d\x8e \xf0\x9f\x90\xbb"
                         "012345678901234567890123456789012345678901234567890"; /* 64 bytes */
    const char *long_b = "0123456789012345678901234567890123456789";            /* 40 bytes */
    ASSERT_EQ(strlen(long_a), 64);
    int ch;
    uint8_t w[3];
    ASSERT_OK(kith_pairing_code_parse(CODE, &ch, w));
    ASSERT_OK(kith_pairing_new(&j, KITH_PAIRING_JOINER, ch, w, long_a, pk_alice));
    ASSERT_OK(kith_pairing_new(&h, KITH_PAIRING_HOST, ch, w, long_b, pk_bob));
    ASSERT_EQ(exchange(j, h, 0, 0, 0, &rc, NULL), 0);
    assert_peer(j, long_b, pk_bob);
    assert_peer(h, long_a, pk_alice);
    kith_pairing_free(j);
    kith_pairing_free(h);

    /* A one-byte name. */
    ASSERT_OK(kith_pairing_new(&j, KITH_PAIRING_JOINER, ch, w, "A", pk_alice));
    ASSERT_OK(kith_pairing_new(&h, KITH_PAIRING_HOST, ch, w, "B", pk_bob));
    ASSERT_EQ(exchange(j, h, 0, 0, 0, &rc, NULL), 0);
    assert_peer(j, "B", pk_bob);
    assert_peer(h, "A", pk_alice);
    kith_pairing_free(j);
    kith_pairing_free(h);
}

/* The worked example of proto/PAIRING.md, byte for byte, and its key schedule redone. */
static void
test_worked_example(void **state)
{
    kith_pairing_t *j = NULL, *h = NULL;
    msgs_t rec;
    uint8_t want[KITH_PAIRING_MSG_MAX], isk[64], isk_want[64], tag[32], key[32];
    uint8_t pt[128], pt_want[128];
    unsigned long long pt_len;
    int rc;

    make_pair(&j, &h, CODE, CODE, 1);
    ASSERT_EQ(exchange(j, h, 0, 0, 0, &rc, &rec), 0);
    for (int k = 0; k < 4; k++) {
        size_t n = unhex(HEX_M[k], want, sizeof(want));
        ASSERT_EQ(rec.len[k], n);
        assert_memory_equal(rec.m[k], want, n);
    }
    assert_peer(j, "Bob", pk_bob);
    assert_peer(h, "Alice", pk_alice);

    /* Ya at m1[31..63), Yb at m2[9..41): ISK from the spec's PRS and CI. */
    spec_joiner_isk(CODE, ya, sid, rec.m[1] + 9, isk);
    unhex(HEX_ISK, isk_want, sizeof(isk_want));
    assert_memory_equal(isk, isk_want, 64);
    spec_confirm(isk, "host-confirm", tag);
    assert_memory_equal(rec.m[1] + 53, tag, 32);
    spec_confirm(isk, "joiner-confirm", tag);
    assert_memory_equal(rec.m[2] + 13, tag, 32);

    /* g, from the spec's PRS and CI. */
    uint8_t prs[4], ci[15], g[32];
    spec_prs_ci(CODE, prs, ci);
    ASSERT_OK(kith__cpace_generator(prs, 4, ci, 15, sid, 16, NULL, g));
    unhex(HEX_G, want, 32);
    assert_memory_equal(g, want, 32);

    /* sealed_a and sealed_b open under the spec's key and nonces. */
    spec_seal_key(isk, key);
    unhex(HEX_SEAL, want, 32);
    assert_memory_equal(key, want, 32);
    uint8_t nonce[24] = {1};
    size_t ct_len = rec.m[2][55];
    ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &pt_len, NULL, rec.m[2] + 56, ct_len,
                                                         (const uint8_t *) "kith-pair-v1", 12,
                                                         nonce, key),
              0);
    size_t n = spec_identity((const uint8_t *) "Alice", 5, pk_alice, pt_want);
    ASSERT_EQ(pt_len, n);
    assert_memory_equal(pt, pt_want, n);
    nonce[0] = 2;
    ct_len = rec.m[3][11];
    ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &pt_len, NULL, rec.m[3] + 12, ct_len,
                                                         (const uint8_t *) "kith-pair-v1", 12,
                                                         nonce, key),
              0);
    n = spec_identity((const uint8_t *) "Bob", 3, pk_bob, pt_want);
    ASSERT_EQ(pt_len, n);
    assert_memory_equal(pt, pt_want, n);

    /* The spec encoder builds the same message 3 the joiner sent. */
    n = spec_m3(isk, pt_want, spec_identity((const uint8_t *) "Alice", 5, pk_alice, pt_want), want);
    ASSERT_EQ(n, rec.len[2]);
    assert_memory_equal(want, rec.m[2], n);
    kith_pairing_free(j);
    kith_pairing_free(h);
}

/* proto/PAIRING.md carries the same word list and the same example messages. */
static void
test_spec_in_sync(void **state)
{
    FILE *f = fopen(SPEC_FILE, "r");
    char line[512], hex[1024] = "";
    int words_seen = 0, msgs_seen = 0, msg = -1;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        int row, n = 0;
        char w[8][16];
        /* Appendix A rows: "| 192 | radio | raft | ... |". */
        if (sscanf(line,
                   "| %d | %15[a-z] | %15[a-z] | %15[a-z] | %15[a-z] | %15[a-z] | "
                   "%15[a-z] | %15[a-z] | %15[a-z] |%n",
                   &row, w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], &n) == 9 &&
            n > 0) {
            assert_true(row >= 0 && row < KITH_WORDLIST_LEN && row % 8 == 0);
            for (int i = 0; i < 8; i++) {
                ASSERT_STREQ(w[i], kith_wordlist[row + i]);
            }
            words_seen += 8;
            continue;
        }
        /* Worked-example messages: "1 (63)   83a1..." then continuation lines. */
        int num, len;
        char chunk[256];
        if (sscanf(line, "%d (%d) %255[0-9a-f]", &num, &len, chunk) == 3 && num >= 1 && num <= 4) {
            if (msg >= 0) {
                ASSERT_STREQ(hex, HEX_M[msg]);
                msgs_seen++;
            }
            msg = num - 1;
            ASSERT_EQ((size_t) len * 2, strlen(HEX_M[msg]));
            snprintf(hex, sizeof(hex), "%s", chunk);
        } else if (msg >= 0 && sscanf(line, " %255[0-9a-f]", chunk) == 1 &&
                   strspn(line, " ") >= 8) {
            strncat(hex, chunk, sizeof(hex) - strlen(hex) - 1);
        } else if (msg >= 0) {
            ASSERT_STREQ(hex, HEX_M[msg]);
            msgs_seen++;
            msg = -1;
            hex[0] = '\0';
        }
    }
    fclose(f);
    ASSERT_EQ(words_seen, KITH_WORDLIST_LEN);
    ASSERT_EQ(msgs_seen, 4);
}

/* A wrong code fails on both sides, and neither side's name or key is ever sent. */
static void
test_wrong_code(void **state)
{
    const char *wrong[] = {CODE_BAD1, CODE_BAD2};

    for (int i = 0; i < 2; i++) {
        kith_pairing_t *j = NULL, *h = NULL;
        msgs_t rec;
        int rc;

        /* The joiner types the wrong code: it stops at message 2. */
        make_pair(&j, &h, wrong[i], CODE, 1);
        ASSERT_EQ(exchange(j, h, 0, 0, 0, &rc, &rec), 2);
        ASSERT_EQ(rc, KITH_EAUTH);
        assert_no_peer(j);
        assert_no_peer(h);
        for (int k = 0; k < 2; k++) {
            assert_false(contains(rec.m[k], rec.len[k], "Alice", 5));
            assert_false(contains(rec.m[k], rec.len[k], "Bob", 3));
            assert_false(contains(rec.m[k], rec.len[k], pk_alice, 32));
            assert_false(contains(rec.m[k], rec.len[k], pk_bob, 32));
        }
        ASSERT_EQ(rec.len[2], 0);

        /* The host never sees a message 3 from that joiner; one from a joiner who goes on
         * regardless (an attacker who guessed this code) fails the confirmation. */
        uint8_t isk[64], pt[128], m3[KITH_PAIRING_MSG_MAX];
        kith_buf_t out;
        kith_buf_init(&out);
        spec_joiner_isk(wrong[i], ya, sid, rec.m[1] + 9, isk);
        size_t n = spec_m3(isk, pt, spec_identity((const uint8_t *) "Alice", 5, pk_alice, pt), m3);
        ASSERT_ERR(kith_pairing_receive(h, m3, n, &out), KITH_EAUTH);
        ASSERT_EQ(out.len, 0);
        assert_no_peer(h);
        ASSERT_ERR(kith_pairing_receive(h, m3, n, &out), KITH_EINVAL); /* dead */
        kith_buf_close(&out);
        kith_pairing_free(j);
        kith_pairing_free(h);

        /* The host has the wrong code: the joiner refuses message 2 just the same. */
        make_pair(&j, &h, CODE, wrong[i], 1);
        ASSERT_EQ(exchange(j, h, 0, 0, 0, &rc, &rec), 2);
        ASSERT_EQ(rc, KITH_EAUTH);
        assert_no_peer(j);
        assert_no_peer(h);
        kith_pairing_free(j);
        kith_pairing_free(h);
    }
}

/* A joiner that knows the right ISK but sends a bad identity is refused: the spec's
 * encoder with the worked example's ISK makes message 3 by hand. */
static void
test_bad_sealed_identity(void **state)
{
    uint8_t isk[64], pt[160], m3[KITH_PAIRING_MSG_MAX], m2[KITH_PAIRING_MSG_MAX], bad_key[32];
    size_t m2_len, n;
    kith_buf_t out;
    kith_pairing_t *h;
    struct {
        const char *name;
        const uint8_t *key;
        int rc;
    } cases[] = {
        {"Alice", pk_alice, KITH_OK}, /* the control: accepted */
        {"Carol", pk_carol, KITH_OK}, /* any valid identity */
        {"Al\x01"
         "ce",
         pk_alice, KITH_EPROTO},                 /* control character */
        {"Al\x7f", pk_alice, KITH_EPROTO},       /* DEL */
        {"\xc2\x85", pk_alice, KITH_EPROTO},     /* C1 control (NEL) */
        {"Al\xffice", pk_alice, KITH_EPROTO},    /* not UTF-8 */
        {"\xc0\xa1", pk_alice, KITH_EPROTO},     /* overlong */
        {"\xed\xa0\x80", pk_alice, KITH_EPROTO}, /* surrogate */
        {"\xe6\x9d", pk_alice, KITH_EPROTO},     /* truncated sequence */
        {"", pk_alice, KITH_EPROTO},             /* empty */
        {"Alice", bad_key, KITH_EPROTO},         /* not a valid Ed25519 point */
    };

    kith_buf_init(&out);
    memset(bad_key, 0, sizeof(bad_key)); /* small order */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        h = host_after_m1(CODE, m2, &m2_len);
        spec_joiner_isk(CODE, ya, sid, m2 + 9, isk);
        n = spec_identity((const uint8_t *) cases[i].name, strlen(cases[i].name), cases[i].key, pt);
        n = spec_m3(isk, pt, n, m3);
        ASSERT_ERR(kith_pairing_receive(h, m3, n, &out), cases[i].rc);
        if (cases[i].rc == KITH_OK) {
            assert_peer(h, cases[i].name, cases[i].key);
            assert_true(out.len > 0);
        } else {
            assert_no_peer(h);
            ASSERT_EQ(out.len, 0);
        }
        kith_pairing_free(h);
    }

    /* A 65-byte name, an extra field, and a non-canonical plaintext (str 8 for a short
     * name) are refused too. */
    uint8_t name65[65];
    memset(name65, 'x', sizeof(name65));
    for (int v = 0; v < 3; v++) {
        h = host_after_m1(CODE, m2, &m2_len);
        spec_joiner_isk(CODE, ya, sid, m2 + 9, isk);
        if (v == 0) {
            n = spec_identity(name65, 65, pk_alice, pt);
        } else if (v == 1) {
            n = spec_identity((const uint8_t *) "Alice", 5, pk_alice, pt);
            pt[0] = 0x83;
            memcpy(pt + n, "\xa1x\x01", 3), n += 3;
        } else {
            static const uint8_t str8[] = "\x82\xa4name\xd9\x05"
                                          "Alice\xa3key\xc4\x20";
            memcpy(pt, str8, sizeof(str8) - 1);
            memcpy(pt + sizeof(str8) - 1, pk_alice, 32);
            n = sizeof(str8) - 1 + 32;
        }
        n = spec_m3(isk, pt, n, m3);
        ASSERT_ERR(kith_pairing_receive(h, m3, n, &out), KITH_EPROTO);
        assert_no_peer(h);
        kith_pairing_free(h);
    }
    kith_buf_close(&out);
}

/* Flipping any bit pattern in any byte of any message stops the exchange: the receiver
 * (or, for message 1, the joiner at message 2) fails, and no side that saw altered bytes
 * finishes. */
static void
test_tamper_every_byte(void **state)
{
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    size_t lens[4], runs = 0;
    msgs_t rec;
    kith_pairing_t *j = NULL, *h = NULL;
    int rc;

    make_pair(&j, &h, CODE, CODE, 1);
    ASSERT_EQ(exchange(j, h, 0, 0, 0, &rc, &rec), 0);
    kith_pairing_free(j);
    kith_pairing_free(h);
    for (int k = 0; k < 4; k++) {
        lens[k] = rec.len[k];
    }
    for (int t = 1; t <= 4; t++) {
        for (size_t at = 0; at < lens[t - 1]; at++) {
            for (size_t m = 0; m < sizeof(masks); m++) {
                make_pair(&j, &h, CODE, CODE, 1);
                int failed = exchange(j, h, t, at, masks[m], &rc, NULL);
                if (failed == 0 || failed < t || (t > 1 && failed != t) || (t == 1 && failed > 2)) {
                    print_error("message %d byte %zu ^ %02x: failed at %d (%s)\n", t, at, masks[m],
                                failed, kith_strerror(rc));
                    fail();
                }
                assert_false(kith_pairing_done(j));
                assert_true(kith_pairing_done(h) == (t == 4));
                kith_pairing_free(j);
                kith_pairing_free(h);
                runs++;
            }
        }
    }
    print_message("%zu tampered exchanges refused\n", runs);
}

/* Feeds msg to a fresh receiver of message k (1..4) of the worked example. */
static int
feed_as(int k, const uint8_t *msg, size_t len)
{
    kith_pairing_t *j = NULL, *h = NULL, *rx;
    kith_buf_t out;
    msgs_t rec;
    int rc;

    make_pair(&j, &h, CODE, CODE, 1);
    kith_buf_init(&out);
    ASSERT_OK(kith_pairing_start(j, &out));
    memcpy(rec.m[0], out.data, rec.len[0] = out.len);
    for (int i = 1; i < k; i++) {
        ASSERT_OK(kith_pairing_receive(i % 2 == 1 ? h : j, rec.m[i - 1], rec.len[i - 1], &out));
        memcpy(rec.m[i], out.data, rec.len[i] = out.len);
    }
    rx = k % 2 == 1 ? h : j;
    rc = kith_pairing_receive(rx, msg, len, &out);
    if (rc != KITH_OK) {
        ASSERT_EQ(out.len, 0);
        assert_false(kith_pairing_done(rx));
        ASSERT_ERR(kith_pairing_receive(rx, msg, len, &out), KITH_EINVAL);
    }
    kith_buf_close(&out);
    kith_pairing_free(j);
    kith_pairing_free(h);
    return rc;
}

static void
test_truncated_oversized_garbage(void **state)
{
    uint8_t m[4][KITH_PAIRING_MSG_MAX + 16], big[KITH_PAIRING_MSG_MAX + 1];
    size_t len[4];

    for (int k = 0; k < 4; k++) {
        len[k] = unhex(HEX_M[k], m[k], sizeof(m[k]));
        ASSERT_OK(feed_as(k + 1, m[k], len[k])); /* the genuine one is accepted */
        for (size_t n = 0; n < len[k]; n++) {
            ASSERT_ERR(feed_as(k + 1, m[k], n), KITH_EPROTO);
        }
        /* A trailing byte. */
        m[k][len[k]] = 0xc0;
        ASSERT_ERR(feed_as(k + 1, m[k], len[k] + 1), KITH_EPROTO);
        /* Oversized: refused before parsing. */
        memset(big, 0xc0, sizeof(big));
        memcpy(big, m[k], len[k]);
        ASSERT_ERR(feed_as(k + 1, big, sizeof(big)), KITH_EPROTO);
        /* Garbage. */
        for (int r = 0; r < 50; r++) {
            size_t n = 1 + randombytes_uniform(200);
            randombytes_buf(big, n);
            assert_int_not_equal(feed_as(k + 1, big, n), KITH_OK);
        }
        /* Headers claiming enormous containers. */
        static const uint8_t huge[][5] = {{0xdf, 0xff, 0xff, 0xff, 0xff},
                                          {0xdd, 0xff, 0xff, 0xff, 0xff},
                                          {0xc6, 0xff, 0xff, 0xff, 0xff}};
        for (int i = 0; i < 3; i++) {
            ASSERT_ERR(feed_as(k + 1, huge[i], 5), KITH_EPROTO);
        }
    }
    ASSERT_ERR(feed_as(1, NULL, 0), KITH_EPROTO);
}

/* Well-formed msgpack that is not the one canonical encoding, or has other fields. */
static void
test_noncanonical_and_versions(void **state)
{
    uint8_t m1[128], m2[128], x[256];
    size_t n1 = unhex(HEX_M[0], m1, sizeof(m1)), n2 = unhex(HEX_M[1], m2, sizeof(m2));

    /* v as uint8 0xcc 0x01 instead of a positive fixint. */
    memcpy(x, m1, 3);
    x[3] = 0xcc;
    x[4] = 0x01;
    memcpy(x + 5, m1 + 4, n1 - 4);
    ASSERT_ERR(feed_as(1, x, n1 + 1), KITH_EPROTO);
    /* sid and Ya swapped in order. m1 = 83 | a1 76 01 | a3 736964 c4 10 <16> | a2 5961 c4 20 <32>
     */
    x[0] = 0x83;
    memcpy(x + 1, m1 + 1, 3);
    memcpy(x + 4, m1 + 26, 37);
    memcpy(x + 41, m1 + 4, 22);
    ASSERT_ERR(feed_as(1, x, n1), KITH_EPROTO);
    /* Key "v" as str 8. */
    x[0] = 0x83;
    x[1] = 0xd9;
    x[2] = 0x01;
    x[3] = 'v';
    memcpy(x + 4, m1 + 3, n1 - 3);
    ASSERT_ERR(feed_as(1, x, n1 + 1), KITH_EPROTO);
    /* Another version: reported as such, in messages 1 and 2. */
    for (uint8_t v = 0; v < 4; v++) {
        if (v == 1) {
            continue;
        }
        memcpy(x, m1, n1);
        x[3] = v;
        ASSERT_ERR(feed_as(1, x, n1), KITH_EVERSION);
        memcpy(x, m2, n2);
        x[3] = v;
        ASSERT_ERR(feed_as(2, x, n2), KITH_EVERSION);
    }
    /* A version-2 message 1 with different fields is still a version error. */
    static const uint8_t v2[] = {0x82, 0xa1, 'v', 0x02, 0xa3, 'n', 'e', 'w', 0xc0};
    ASSERT_ERR(feed_as(1, v2, sizeof(v2)), KITH_EVERSION);
    /* v not an integer, negative, or missing. */
    static const uint8_t vstr[] = {0x81, 0xa1, 'v', 0xa1, '1'};
    ASSERT_ERR(feed_as(1, vstr, sizeof(vstr)), KITH_EPROTO);
    static const uint8_t vneg[] = {0x81, 0xa1, 'v', 0xff};
    ASSERT_ERR(feed_as(1, vneg, sizeof(vneg)), KITH_EPROTO);
    x[0] = 0x82; /* sid and Ya only */
    memcpy(x + 1, m1 + 4, n1 - 4);
    ASSERT_ERR(feed_as(1, x, n1 - 3), KITH_EPROTO);
    /* An extra key. */
    memcpy(x, m1, n1);
    x[0] = 0x84;
    memcpy(x + n1, "\xa1z\x00", 3);
    ASSERT_ERR(feed_as(1, x, n1 + 3), KITH_EPROTO);
    /* A repeated key (v twice, map of 4). */
    memcpy(x, m1, n1);
    x[0] = 0x84;
    memcpy(x + n1, "\xa1v\x01", 3);
    ASSERT_ERR(feed_as(1, x, n1 + 3), KITH_EPROTO);
    /* sid of the wrong size (15 bytes). */
    memcpy(x, m1, 9);
    x[9] = 15;
    memcpy(x + 10, m1 + 10, 15);
    memcpy(x + 25, m1 + 26, n1 - 26);
    ASSERT_ERR(feed_as(1, x, n1 - 1), KITH_EPROTO);
    /* Ya as str instead of bin. */
    memcpy(x, m1, n1);
    x[29] = 0xd9; /* str 8, same length byte */
    ASSERT_ERR(feed_as(1, x, n1), KITH_EPROTO);
    /* The identity (all zeros) or an invalid encoding as Ya, and as Yb. */
    memcpy(x, m1, n1);
    memset(x + 31, 0, 32);
    ASSERT_ERR(feed_as(1, x, n1), KITH_EPROTO);
    memset(x + 31, 0xff, 32);
    ASSERT_ERR(feed_as(1, x, n1), KITH_EPROTO);
    memcpy(x, m2, n2);
    memset(x + 9, 0, 32);
    ASSERT_ERR(feed_as(2, x, n2), KITH_EPROTO);
    /* Bit 255 of a genuine Ya set: not canonical ristretto255. */
    memcpy(x, m1, n1);
    x[62] |= 0x80;
    ASSERT_ERR(feed_as(1, x, n1), KITH_EPROTO);
    /* A map of the right fields inside an array. */
    x[0] = 0x91;
    memcpy(x + 1, m1, n1);
    ASSERT_ERR(feed_as(1, x, n1 + 1), KITH_EPROTO);
}

static void
test_out_of_order(void **state)
{
    kith_pairing_t *j = NULL, *h = NULL;
    kith_buf_t out;
    uint8_t m[4][KITH_PAIRING_MSG_MAX];
    size_t len[4];
    int rc;

    for (int k = 0; k < 4; k++) {
        len[k] = unhex(HEX_M[k], m[k], sizeof(m[k]));
    }
    kith_buf_init(&out);

    /* Host: messages 2, 3 and 4 where 1 is due. */
    for (int k = 1; k < 4; k++) {
        ASSERT_ERR(feed_as(1, m[k], len[k]), KITH_EPROTO);
    }
    /* Host: message 1 again, or 2 or 4, where 3 is due. */
    for (int k = 0; k < 4; k++) {
        if (k != 2) {
            assert_int_not_equal(feed_as(3, m[k], len[k]), KITH_OK);
        }
    }
    /* Joiner: 1, 3 or 4 where 2 is due; 1, 2 or 3 where 4 is due. */
    for (int k = 0; k < 4; k++) {
        if (k != 1) {
            assert_int_not_equal(feed_as(2, m[k], len[k]), KITH_OK);
        }
        if (k != 3) {
            assert_int_not_equal(feed_as(4, m[k], len[k]), KITH_OK);
        }
    }

    /* Joiner before start; host asked to start; start twice. */
    make_pair(&j, &h, CODE, CODE, 1);
    ASSERT_ERR(kith_pairing_receive(j, m[1], len[1], &out), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_start(h, &out), KITH_EINVAL);
    ASSERT_OK(kith_pairing_start(j, &out));
    ASSERT_ERR(kith_pairing_start(j, &out), KITH_EINVAL);
    ASSERT_EQ(out.len, 0);
    kith_pairing_free(j);
    kith_pairing_free(h);

    /* After done, further messages are misuse and change nothing. */
    make_pair(&j, &h, CODE, CODE, 1);
    ASSERT_EQ(exchange(j, h, 0, 0, 0, &rc, NULL), 0);
    ASSERT_ERR(kith_pairing_receive(j, m[3], len[3], &out), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_receive(h, m[2], len[2], &out), KITH_EINVAL);
    assert_peer(j, "Bob", pk_bob);
    assert_peer(h, "Alice", pk_alice);
    kith_pairing_free(j);
    kith_pairing_free(h);
    kith_buf_close(&out);
}

static void
test_bad_arguments(void **state)
{
    kith_pairing_t *p = (kith_pairing_t *) 1;
    uint8_t w[3] = {1, 2, 3}, zero[32] = {0}, s[32] = {1};
    char name65[66];
    kith_buf_t out;

    memset(name65, 'n', 65);
    name65[65] = '\0';
    kith_buf_init(&out);
    ASSERT_ERR(kith_pairing_new(NULL, KITH_PAIRING_HOST, 1, w, "a", pk_alice), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_new(&p, 0, 1, w, "a", pk_alice), KITH_EINVAL);
    assert_null(p);
    ASSERT_ERR(kith_pairing_new(&p, 3, 1, w, "a", pk_alice), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_new(&p, KITH_PAIRING_HOST, 0, w, "a", pk_alice), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_new(&p, KITH_PAIRING_HOST, 100, w, "a", pk_alice), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_new(&p, KITH_PAIRING_HOST, 1, w, NULL, pk_alice), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_new(&p, KITH_PAIRING_HOST, 1, w, "", pk_alice), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_new(&p, KITH_PAIRING_HOST, 1, w, name65, pk_alice), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_new(&p, KITH_PAIRING_HOST, 1, w, "a\nb", pk_alice), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_new(&p, KITH_PAIRING_HOST, 1, w, "\xff", pk_alice), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_new(&p, KITH_PAIRING_HOST, 1, w, "a", zero), KITH_EINVAL);
    name65[64] = '\0';
    ASSERT_OK(kith_pairing_new(&p, KITH_PAIRING_HOST, 1, w, name65, pk_alice));

    /* Host: no sid injection; bad scalar caught when it is used. */
    ASSERT_ERR(kith__pairing_set_secrets(p, s, s), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_receive(p, NULL, 5, &out), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_receive(p, s, 5, NULL), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_receive(NULL, s, 5, &out), KITH_EINVAL);
    ASSERT_ERR(kith_pairing_start(NULL, &out), KITH_EINVAL);
    assert_false(kith_pairing_done(NULL));
    kith_pairing_free(p);
    kith_pairing_free(NULL);

    /* Joiner: secrets only before start, and only usable scalars. */
    static const uint8_t order[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                      0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                      0,    0,    0,    0,    0,    0,    0,    0,
                                      0,    0,    0,    0,    0,    0,    0,    0x10};
    ASSERT_OK(kith_pairing_new(&p, KITH_PAIRING_JOINER, 1, w, "a", pk_alice));
    ASSERT_ERR(kith_pairing_start(p, NULL), KITH_EINVAL);
    ASSERT_ERR(kith__pairing_set_secrets(p, zero, NULL), KITH_EINVAL);
    ASSERT_ERR(kith__pairing_set_secrets(p, order, NULL), KITH_EINVAL);
    ASSERT_OK(kith__pairing_set_secrets(p, s, NULL));
    ASSERT_OK(kith_pairing_start(p, &out));
    ASSERT_ERR(kith__pairing_set_secrets(p, s, NULL), KITH_EINVAL);
    kith_pairing_free(p);
    ASSERT_OK(kith_pairing_new(&p, KITH_PAIRING_JOINER, 1, w, "a", pk_alice));
    ASSERT_OK(kith_pairing_start(p, &out));
    ASSERT_ERR(kith__pairing_set_secrets(p, s, NULL), KITH_EINVAL);
    kith_pairing_free(p);
    kith_buf_close(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wordlist),
        cmocka_unit_test(test_code_new_roundtrip),
        cmocka_unit_test(test_code_parse_forms),
        cmocka_unit_test(test_code_parse_bad),
        cmocka_unit_test(test_code_suggest),
        cmocka_unit_test(test_full_exchange),
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_spec_in_sync),
        cmocka_unit_test(test_wrong_code),
        cmocka_unit_test(test_bad_sealed_identity),
        cmocka_unit_test(test_tamper_every_byte),
        cmocka_unit_test(test_truncated_oversized_garbage),
        cmocka_unit_test(test_noncanonical_and_versions),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
