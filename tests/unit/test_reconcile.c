/*
 * Tests for range-based set reconciliation (src/sync/reconcile.c): two states driven
 * against each other must each end with `send` equal to the exact set difference, for
 * many sizes and differences; the cost must follow the differences, not the set size;
 * the worked example of proto/RECONCILE.md must come out byte for byte; and hostile
 * messages must be refused without harm.
 */
#include "check.h"

#include <stdlib.h>
#include <time.h>

#include <sodium.h>

#include "kith/kith.h"
#include "sync/reconcile.h"

/* ---- helpers ------------------------------------------------------------------------ */

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* n random items with timestamps in [1700000000000, + window): a window a quarter as wide as
 * the sets makes many items share a ts, so the bounds between them need id prefixes. */
static kith_item_t *
random_items(size_t n, uint64_t window, uint64_t *seed)
{
    kith_item_t *v = malloc((n ? n : 1) * sizeof(*v));
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        v[i].ts = 1700000000000ull + splitmix(seed) % window;
        for (int w = 0; w < 4; w++) {
            uint64_t x = splitmix(seed);
            memcpy(v[i].id + 8 * w, &x, 8);
        }
    }
    return v;
}

/* dst = concatenation of the parts, sorted. */
static kith_item_t *
join(const kith_item_t *p, size_t np, const kith_item_t *q, size_t nq)
{
    kith_item_t *v = malloc((np + nq ? np + nq : 1) * sizeof(*v));
    assert_non_null(v);
    if (np > 0) {
        memcpy(v, p, np * sizeof(*v));
    }
    if (nq > 0) {
        memcpy(v + np, q, nq * sizeof(*v));
    }
    kith_items_sort(v, np + nq);
    return v;
}

static int
id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Checks that got holds exactly the ids of want[0, n), in any order, once each. */
static void
assert_same_ids(kith_idset_t *got, const kith_item_t *want, size_t n)
{
    if (got->len != n) {
        print_error("send holds %zu ids, expected %zu\n", got->len, n);
        fail();
    }
    uint8_t(*w)[32] = malloc((n ? n : 1) * 32);
    assert_non_null(w);
    for (size_t i = 0; i < n; i++) {
        memcpy(w[i], want[i].id, 32);
    }
    qsort(w, n, 32, id_cmp);
    if (n > 0) {
        qsort(got->ids, n, 32, id_cmp);
        assert_memory_equal(got->ids, w, n * 32);
    }
    free(w);
}

typedef struct {
    size_t bytes;  /* all messages together */
    size_t msgs;   /* messages transmitted */
    size_t rounds; /* msgs / 2 rounded up */
    size_t largest;
    double secs;
} cost_t;

/* Runs a whole reconciliation between a (initiator) and b; returns the sends. */
static void
run_pair(const kith_item_t *a, size_t na, const kith_item_t *b, size_t nb, size_t max_msg,
         kith_idset_t *sa, kith_idset_t *sb, cost_t *cost)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kith_reconcile_t ra, rb;
    kith_buf_t m1, m2;
    kith_buf_init(&m1);
    kith_buf_init(&m2);
    ASSERT_OK(kith_reconcile_init(&ra, a, na, max_msg));
    ASSERT_OK(kith_reconcile_init(&rb, b, nb, max_msg));
    size_t limit = max_msg ? max_msg : KITH_RECONCILE_MAX_MSG;
    memset(cost, 0, sizeof(*cost));

    ASSERT_OK(kith_reconcile_initiate(&ra, &m1));
    kith_reconcile_t *side[2] = {&rb, &ra};
    kith_idset_t *send[2] = {sb, sa};
    kith_buf_t *in = &m1, *out = &m2;
    int turn = 0;
    for (;;) {
        assert_true(in->len > 0 && in->len <= limit);
        cost->bytes += in->len;
        cost->msgs++;
        cost->largest = in->len > cost->largest ? in->len : cost->largest;
        assert_true(cost->msgs < 1000000);
        ASSERT_OK(kith_reconcile_step(side[turn], in->data, in->len, out, send[turn]));
        if (out->len == 0) {
            break;
        }
        kith_buf_t *t = in;
        in = out;
        out = t;
        turn ^= 1;
    }
    /* The side that wrote the last message knew it would get no answer. */
    assert_true(kith_reconcile_done(&ra));
    assert_true(kith_reconcile_done(&rb));
    cost->rounds = (cost->msgs + 1) / 2;
    /* An honest exchange stays far below the work limit (KITH_RECONCILE_WORK_FACTOR). */
    assert_true(ra.work <= 16 * (uint64_t) na + 65536);
    assert_true(rb.work <= 16 * (uint64_t) nb + 65536);
    kith_reconcile_close(&ra);
    kith_reconcile_close(&rb);
    kith_buf_close(&m1);
    kith_buf_close(&m2);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cost->secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/* Builds A = common + only_a, B = common + only_b from fresh random items, reconciles
 * and checks both sends. */
static void
scenario(size_t common, size_t only_a, size_t only_b, size_t max_msg, uint64_t seed, cost_t *cost)
{
    uint64_t window = (common + only_a + only_b) / 4 + 1;
    kith_item_t *c = random_items(common, window, &seed);
    kith_item_t *oa = random_items(only_a, window, &seed);
    kith_item_t *ob = random_items(only_b, window, &seed);
    kith_item_t *a = join(c, common, oa, only_a);
    kith_item_t *b = join(c, common, ob, only_b);
    kith_idset_t sa, sb;
    kith_idset_init(&sa);
    kith_idset_init(&sb);
    cost_t local;
    run_pair(a, common + only_a, b, common + only_b, max_msg, &sa, &sb, cost ? cost : &local);
    assert_same_ids(&sa, oa, only_a);
    assert_same_ids(&sb, ob, only_b);
    kith_idset_close(&sa);
    kith_idset_close(&sb);
    free(c);
    free(oa);
    free(ob);
    free(a);
    free(b);
}

static int
setup(void **state)
{
    (void) state;
    return kith_init() == KITH_OK ? 0 : -1;
}

/* ---- convergence -------------------------------------------------------------------- */

static void
converges_for_all_shapes(void **state)
{
    (void) state;
    static const size_t sizes[] = {0, 1, 31, 32, 33, 1000, 20000};
    uint64_t seed = 1;
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t s = sizes[k];
        size_t half = s < 1000 ? s / 2 : 500;
        scenario(s, 0, 0, 0, seed++, NULL); /* identical (both empty for s = 0) */
        scenario(s, 1, 0, 0, seed++, NULL); /* one difference, either side */
        scenario(s, 0, 1, 0, seed++, NULL);
        scenario(s, 5, 5, 0, seed++, NULL); /* ten differences */
        scenario(s, 7, 3, 0, seed++, NULL);
        scenario(s - half, half, half, 0, seed++, NULL); /* up to 1000 differences */
        scenario(0, s, s, 0, seed++, NULL);              /* all different */
        scenario(0, s, 0, 0, seed++, NULL);              /* one side empty */
        scenario(0, 0, s, 0, seed++, NULL);
        scenario(s, 1000, 0, 0, seed++, NULL); /* a thousand, one side */
    }
}

/* The smallest message size forces many messages to end early; the exchange must still
 * finish with the exact differences and every message within the limit. */
static void
converges_with_small_messages(void **state)
{
    (void) state;
    uint64_t seed = 100;
    cost_t c;
    scenario(20000, 500, 500, KITH_RECONCILE_MIN_MSG, seed++, &c);
    assert_true(c.largest <= KITH_RECONCILE_MIN_MSG);
    scenario(0, 20000, 20000, KITH_RECONCILE_MIN_MSG, seed++, &c);
    assert_true(c.largest <= KITH_RECONCILE_MIN_MSG);
    scenario(0, 5000, 0, KITH_RECONCILE_MIN_MSG, seed++, &c);
    scenario(0, 0, 5000, KITH_RECONCILE_MIN_MSG, seed++, &c);
    scenario(3000, 2000, 17, 4000, seed++, &c);
    assert_true(c.largest <= 4000);
}

/* ---- cost --------------------------------------------------------------------------- */

static void
cost_follows_differences(void **state)
{
    (void) state;
    cost_t c1, c2, c10, small, big, all;

    scenario(100000, 1, 0, 0, 200, &c1);
    print_message("100k + 1 (initiator has it):  %zu bytes, %zu messages, %zu rounds, %.3f s\n",
                  c1.bytes, c1.msgs, c1.rounds, c1.secs);
    assert_true(c1.bytes <= 4096);
    assert_true(c1.rounds <= 4);

    scenario(100000, 0, 1, 0, 201, &c2);
    print_message("100k + 1 (responder has it):  %zu bytes, %zu messages, %zu rounds, %.3f s\n",
                  c2.bytes, c2.msgs, c2.rounds, c2.secs);
    assert_true(c2.bytes <= 4096);
    assert_true(c2.rounds <= 4);

    scenario(100000, 5, 5, 0, 202, &c10);
    print_message("100k + 10:                    %zu bytes, %zu messages, %zu rounds, %.3f s\n",
                  c10.bytes, c10.msgs, c10.rounds, c10.secs);
    assert_true(c10.secs < 1.0);

    /* One difference among 1,000 or among 100,000 items: the larger set costs a level
     * or two more of the tree, not a hundred times the bytes. */
    scenario(1000, 1, 0, 0, 203, &small);
    scenario(100000, 1, 0, 0, 203, &big);
    print_message("1 difference: %zu bytes among 1k, %zu bytes among 100k\n", small.bytes,
                  big.bytes);
    assert_true(big.bytes <= 4 * small.bytes);

    scenario(100000, 500, 500, 0, 204, &c1);
    print_message("100k + 1000:                  %zu bytes, %zu messages, %zu rounds, %.3f s\n",
                  c1.bytes, c1.msgs, c1.rounds, c1.secs);
    /* Each difference costs a share of a list and a few fingerprints, well under 1 KiB. */
    assert_true(c1.bytes <= 1000 * 1024);

    scenario(0, 100000, 100000, 0, 205, &all);
    print_message("100k vs 100k all different:   %zu bytes, %zu messages, %zu rounds, %.3f s\n",
                  all.bytes, all.msgs, all.rounds, all.secs);
}

/* ---- the worked example of proto/RECONCILE.md --------------------------------------- */

static void
hex_to(const char *hex, kith_buf_t *out)
{
    out->len = 0;
    size_t n = strlen(hex);
    assert_int_equal(n % 2, 0);
    ASSERT_OK(kith_buf_reserve(out, n / 2));
    assert_int_equal(sodium_hex2bin(out->data, n / 2, hex, n, NULL, NULL, NULL), 0);
    out->len = n / 2;
}

static void
assert_hex(const kith_buf_t *b, const char *hex)
{
    char *got = malloc(b->len * 2 + 1);
    assert_non_null(got);
    sodium_bin2hex(got, b->len * 2 + 1, b->data ? b->data : (const uint8_t *) "", b->len);
    assert_string_equal(got, hex);
    free(got);
}

/* Item k of the example universe: ts = 1000 + k / 2, id = BLAKE2b-256 of the byte k. */
static kith_item_t
example_item(uint8_t k)
{
    kith_item_t it;
    it.ts = 1000 + k / 2;
    crypto_generichash(it.id, 32, &k, 1, NULL, 0);
    return it;
}

static void
example_fingerprint(void **state)
{
    (void) state;
    /* Section "Fingerprint": ids 1, 2 and 2^256 - 1 as LE integers sum to 2 (mod 2^256);
     * with the count 3 the fingerprint is dcc1daff... */
    kith_item_t it[3];
    memset(it, 0, sizeof(it));
    it[0].id[0] = 1;
    it[1].ts = 1;
    it[1].id[0] = 2;
    it[2].ts = 2;
    memset(it[2].id, 0xff, 32);
    kith_reconcile_t r;
    kith_buf_t msg, out;
    kith_buf_init(&msg);
    kith_buf_init(&out);
    kith_idset_t send;
    kith_idset_init(&send);
    ASSERT_OK(kith_reconcile_init(&r, it, 3, 0));
    /* One FINGERPRINT range over everything that matches: the answer is the bare
     * closing SKIP, which asks for no answer. */
    hex_to("01ff01dcc1daff2f3a780292594475091b9294", &msg);
    ASSERT_OK(kith_reconcile_step(&r, msg.data, msg.len, &out, &send));
    assert_hex(&out, "01ff00");
    ASSERT_EQ(send.len, 0);
    assert_true(kith_reconcile_done(&r));
    kith_reconcile_close(&r);

    /* The same items, initiating: three items are listed, not fingerprinted. */
    ASSERT_OK(kith_reconcile_init(&r, it, 3, 0));
    ASSERT_OK(kith_reconcile_initiate(&r, &out));
    ASSERT_EQ(out.len, 4 + 3 * 32);
    assert_false(kith_reconcile_done(&r));
    kith_reconcile_close(&r);
    kith_buf_close(&msg);
    kith_buf_close(&out);
    kith_idset_close(&send);
}

/* Runs the example exchange between A and B (A initiates), comparing each message with
 * the expected hex, and each side's send with its expected items. */
static void
example_run(const kith_item_t *a, size_t na, const kith_item_t *b, size_t nb,
            const char *const *msgs, size_t nmsgs, const kith_item_t *a_sends,
            const kith_item_t *b_sends)
{
    kith_reconcile_t ra, rb;
    kith_buf_t x, y;
    kith_idset_t sa, sb;
    kith_buf_init(&x);
    kith_buf_init(&y);
    kith_idset_init(&sa);
    kith_idset_init(&sb);
    ASSERT_OK(kith_reconcile_init(&ra, a, na, 0));
    ASSERT_OK(kith_reconcile_init(&rb, b, nb, 0));
    ASSERT_OK(kith_reconcile_initiate(&ra, &x));
    kith_reconcile_t *side[2] = {&rb, &ra};
    kith_idset_t *send[2] = {&sb, &sa};
    kith_buf_t *in = &x, *out = &y;
    for (size_t k = 0; k < nmsgs; k++) {
        assert_hex(in, msgs[k]);
        ASSERT_OK(kith_reconcile_step(side[k % 2], in->data, in->len, out, send[k % 2]));
        kith_buf_t *t = in;
        in = out;
        out = t;
    }
    ASSERT_EQ(in->len, 0);
    assert_true(kith_reconcile_done(&ra) && kith_reconcile_done(&rb));
    assert_same_ids(&sa, a_sends, 1);
    assert_same_ids(&sb, b_sends, 1);
    kith_reconcile_close(&ra);
    kith_reconcile_close(&rb);
    kith_buf_close(&x);
    kith_buf_close(&y);
    kith_idset_close(&sa);
    kith_idset_close(&sb);
}

static void
example_small_sets(void **state)
{
    (void) state;
    /* Section "Example 1": A = items 0..4, B = items 1..5. */
    kith_item_t a[5], b[5];
    for (uint8_t k = 0; k < 5; k++) {
        a[k] = example_item(k);
        b[k] = example_item((uint8_t) (k + 1));
    }
    kith_items_sort(a, 5);
    kith_items_sort(b, 5);
    static const char *const msgs[] = {
        "01ff0205"
        "03170a2e7597b7b7e3d84c05391d139a62b157e78786d8c082f29dcf4c111314"
        "ee155ace9c40292074cb6aff8c9ccdd273c81648ff1149ef36bcea6ebb8a3e25"
        "bb30a42c1e62f0afda5f0a4e8a562f7a13a24cea00ee81917b86b89e801314aa"
        "e88bd757ad5b9bedf372d8d3f0cf6c962a469db61a265f6418e1ffed86da29ec"
        "642206314f534b29ad297d82440a5f9f210e30ca5ced805a587ca402de927342",
        "01ff0301"
        "03170a2e7597b7b7e3d84c05391d139a62b157e78786d8c082f29dcf4c111314",
    };
    kith_item_t a_sends = example_item(0), b_sends = example_item(5);
    example_run(a, 5, b, 5, msgs, 2, &a_sends, &b_sends);
}

static void
example_fingerprints(void **state)
{
    (void) state;
    /* Section "Example 2": A = items 0..39, B = the same without 7, with 40. */
    kith_item_t a[40], b[40];
    size_t nb = 0;
    for (uint8_t k = 0; k < 40; k++) {
        a[k] = example_item(k);
        if (k != 7) {
            b[nb++] = example_item(k);
        }
    }
    b[nb++] = example_item(40);
    kith_items_sort(a, 40);
    kith_items_sort(b, nb);
    static const char *const msgs[] = {
        "0100e907010a178e424c3b2e33fb04ca115fdd2eeb0101fb0122699021241b189818c546038562ebab"
        "0101bf0180837bcc49c489cb738dd72e91a0a1550002012a3dd2ef7ec0efe3603ce74ce76e7b6e0001"
        "012f54e4f64e3d1c53e2ee30b35012b4d701019601fc24199c6f79030466a1dd5c022813e501016e01"
        "db551b81b1c031ba8295dec5710c0056000201a05bb40a23f913a7e15a8960efea84a4000101c3de4f"
        "1c245aaa74a4d5cf8f97d905da01019901de273b1cbfabc95fe15cfa04a7a6020401018d015575d2c9"
        "a9dfee33b9aa7b87f7acf6b700020171e67a30c98e2ee72539bd5810b6e29d000101ee9d2e12c71aa9"
        "7d7c6ac6262b108b1b01019501bbe29912f34f1b38f6ea691a128a17cc0101f6010e018766d7a01582"
        "ca8d35451b0c7ac7ff01d59ca00e183085c830466b7d13db867f",
        "0101ea07fb000101bf0201fb3d635c7cb573d1b9e9bff4a64ab4f25190d29b6fd8db94c605a218a23f"
        "a9ad010ff600ff0204f63498b4ae65be466e4a71878971b9c524458996450b0ff8262cddf3f0d99229"
        "3f3782871202b3e4e89ec4d17789d86b05cdca5efd81be573baf93403dc3b29aca695f3543876c961b"
        "97734fef4027a4fc45ca7cc6d5f796fc980915b17caadccc00d665921862a0904c08727111760ec004"
        "a2ea55f3c876deb764e40c444ad6",
        "0101fa07f600ff0301cc00d665921862a0904c08727111760ec004a2ea55f3c876deb764e40c444ad6",
    };
    kith_item_t a_sends = example_item(7), b_sends = example_item(40);
    example_run(a, 40, b, nb, msgs, 3, &a_sends, &b_sends);
}

/* ---- API misuse and hostile input --------------------------------------------------- */

static void
api_misuse(void **state)
{
    (void) state;
    uint64_t seed = 7;
    kith_item_t *v = random_items(40, 10, &seed);
    kith_items_sort(v, 40);
    kith_reconcile_t r;
    kith_buf_t out;
    kith_buf_init(&out);
    kith_idset_t send;
    kith_idset_init(&send);

    ASSERT_ERR(kith_reconcile_init(&r, v, 40, 100), KITH_EINVAL);
    ASSERT_ERR(kith_reconcile_init(&r, v, 40, KITH_RECONCILE_MAX_MSG + 1), KITH_EINVAL);
    ASSERT_ERR(kith_reconcile_init(&r, NULL, 1, 0), KITH_EINVAL);
    kith_item_t t = v[3];
    v[3] = v[4];
    v[4] = t;
    ASSERT_ERR(kith_reconcile_init(&r, v, 40, 0), KITH_EINVAL); /* unsorted */
    v[4] = v[3];
    ASSERT_ERR(kith_reconcile_init(&r, v, 40, 0), KITH_EINVAL); /* duplicate */
    kith_reconcile_close(&r);
    kith_reconcile_close(NULL);
    kith_idset_close(NULL);
    ASSERT_OK(kith_reconcile_init(&r, NULL, 0, KITH_RECONCILE_MIN_MSG));
    ASSERT_OK(kith_reconcile_initiate(&r, &out));
    assert_hex(&out, "01ff0200");
    ASSERT_ERR(kith_reconcile_initiate(&r, &out), KITH_EINVAL);
    ASSERT_EQ(out.len, 0);
    ASSERT_ERR(kith_reconcile_step(&r, NULL, 3, &out, &send), KITH_EINVAL);
    ASSERT_ERR(kith_reconcile_step(&r, out.data, 0, NULL, &send), KITH_EINVAL);
    /* After a failed step only close remains. */
    static const uint8_t bad[] = {1, 0xff, 9};
    ASSERT_ERR(kith_reconcile_step(&r, bad, sizeof(bad), &out, &send), KITH_EPROTO);
    static const uint8_t fine[] = {1, 0xff, 0};
    ASSERT_ERR(kith_reconcile_step(&r, fine, sizeof(fine), &out, &send), KITH_EINVAL);
    kith_reconcile_close(&r);
    kith_reconcile_close(&r);
    kith_buf_close(&out);
    kith_idset_close(&send);
    free(v);
}

/* Feeds msg (given as hex) to a fresh state over 40 items; expects rc. */
static void
expect_hex(const char *hex, int expected)
{
    static kith_item_t *v;
    if (v == NULL) {
        uint64_t seed = 11;
        v = random_items(40, 10, &seed);
        kith_items_sort(v, 40);
    }
    kith_buf_t msg, out;
    kith_buf_init(&msg);
    kith_buf_init(&out);
    kith_idset_t send;
    kith_idset_init(&send);
    hex_to(hex, &msg);
    kith_reconcile_t r;
    ASSERT_OK(kith_reconcile_init(&r, v, 40, 0));
    int rc = kith_reconcile_step(&r, msg.data, msg.len, &out, &send);
    if (rc != expected) {
        print_error("%s: got %d (%s), expected %d (%s)\n", hex, rc, kith_strerror(rc), expected,
                    kith_strerror(expected));
        fail();
    }
    if (rc != KITH_OK) {
        ASSERT_EQ(out.len, 0);
        ASSERT_EQ(send.len, 0);
    }
    kith_reconcile_close(&r);
    kith_buf_close(&msg);
    kith_buf_close(&out);
    kith_idset_close(&send);
}

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define FP0  "00000000000000000000000000000000"

static void
hostile_crafted(void **state)
{
    (void) state;
    /* Well-formed, for reference. */
    expect_hex("01ff00", KITH_OK);               /* all SKIP */
    expect_hex("01", KITH_OK);                   /* no range yet: more follows */
    expect_hex("0100050001000600ff00", KITH_OK); /* SKIPs at ts 5, 11, then inf */
    expect_hex("01ff0201" ID_A, KITH_OK);        /* IDLIST of one unknown id */
    expect_hex("01ff0301" ID_A, KITH_OK);        /* WANT of an id not held */
    expect_hex("0120"
               "05" ID_A "00ff00",
               KITH_OK); /* 32-byte prefix */

    /* Length, version. */
    expect_hex("", KITH_EPROTO);
    expect_hex("00ff00", KITH_EVERSION);
    expect_hex("02ff00", KITH_EVERSION);
    expect_hex("ff", KITH_EVERSION);

    /* Modes. */
    expect_hex("01ff04", KITH_EPROTO);
    expect_hex("01ffff", KITH_EPROTO);
    expect_hex("01ff", KITH_EPROTO); /* bound without mode */

    /* Bounds: not above the one before, bad prefix length, ts overflow, bad varints. */
    expect_hex("01000000", KITH_EPROTO); /* equal to the minimum */
    expect_hex("01000500"
               "000000",
               KITH_EPROTO); /* equal to the previous */
    expect_hex("010105bb00"
               "0100aa00",
               KITH_EPROTO); /* prefix goes down */
    expect_hex("010105bb00"
               "0200bb0000",
               KITH_EPROTO);                       /* same point, longer prefix */
    expect_hex("012105" ID_A "aa00", KITH_EPROTO); /* prefix of 33 bytes */
    expect_hex("01fe0500", KITH_EPROTO);
    expect_hex("010105", KITH_EPROTO); /* prefix missing */
    expect_hex("0100ffffffffffffffffff0100"
               "000100",
               KITH_EPROTO);                                 /* ts wraps */
    expect_hex("0100ffffffffffffffffff0100ff00", KITH_OK);   /* ts = 2^64 - 1 */
    expect_hex("0100ffffffffffffffffff0200", KITH_EPROTO);   /* 65 bits */
    expect_hex("0100ffffffffffffffffff800100", KITH_EPROTO); /* 11 bytes */
    expect_hex("0100850000", KITH_EPROTO);                   /* 5 written in two bytes */
    expect_hex("010080", KITH_EPROTO);                       /* varint cut short */

    /* Payloads: fingerprint cut short, counts over the limit or past the end. */
    expect_hex("01ff01"
               "0000",
               KITH_EPROTO);
    expect_hex("01ff0202" ID_A, KITH_EPROTO);
    expect_hex("01ff0221" ID_A, KITH_EPROTO);              /* 33 ids */
    expect_hex("01ff02ffffffffffffffffff01", KITH_EPROTO); /* 2^64 - 1 ids */
    expect_hex("01ff0380808080808080808001", KITH_EPROTO); /* 2^63 ids */
    expect_hex("01ff02", KITH_EPROTO);

    /* Duplicate ids in one range; trailing bytes after infinity. */
    expect_hex("01ff0202" ID_A ID_A, KITH_EPROTO);
    expect_hex("01ff0302" ID_B ID_B, KITH_EPROTO);
    expect_hex("01ff02"
               "00"
               "00",
               KITH_EPROTO);
    expect_hex("01ff01" FP0 "ff00", KITH_EPROTO);
}

/* Every truncation of real messages: the cuts that fall between two ranges leave a
 * valid message that ends early; every other cut is refused. */
static void
hostile_truncated(void **state)
{
    (void) state;
    uint64_t seed = 21;
    kith_item_t *a = random_items(1000, 250, &seed);
    kith_item_t *b = random_items(30, 250, &seed);
    kith_items_sort(a, 1000);
    kith_items_sort(b, 30);
    const struct {
        const kith_item_t *v;
        size_t n;
        size_t ranges;
    } cases[] = {{a, 1000, 16}, {b, 30, 1}};
    for (size_t c = 0; c < 2; c++) {
        kith_reconcile_t ri, rr;
        kith_buf_t msg, out;
        kith_buf_init(&msg);
        kith_buf_init(&out);
        kith_idset_t send;
        kith_idset_init(&send);
        ASSERT_OK(kith_reconcile_init(&ri, cases[c].v, cases[c].n, 0));
        ASSERT_OK(kith_reconcile_initiate(&ri, &msg));
        size_t ok = 0;
        for (size_t len = 0; len < msg.len; len++) {
            uint8_t *copy = malloc(len ? len : 1); /* exact size, so ASan sees overreads */
            assert_non_null(copy);
            memcpy(copy, msg.data, len);
            ASSERT_OK(kith_reconcile_init(&rr, a, 1000, 0));
            int rc = kith_reconcile_step(&rr, copy, len, &out, &send);
            assert_true(rc == KITH_OK || rc == KITH_EPROTO);
            if (rc == KITH_OK) {
                ok++;
                assert_true(out.len > 0); /* an early end always asks for an answer */
            } else {
                ASSERT_EQ(out.len, 0);
            }
            kith_reconcile_close(&rr);
            free(copy);
        }
        ASSERT_EQ(ok, cases[c].ranges);
        kith_reconcile_close(&ri);
        kith_buf_close(&msg);
        kith_buf_close(&out);
        kith_idset_close(&send);
    }
    free(a);
    free(b);
}

/* A peer that asks about the whole set again and again (each time with a fingerprint
 * that does not match, each time in turn) makes this side visit every item per message:
 * the work limit ends that after about KITH_RECONCILE_WORK_FACTOR messages. */
static void
hostile_repeats_are_bounded(void **state)
{
    (void) state;
    uint64_t seed = 99;
    size_t n = 100000;
    kith_item_t *mine = random_items(n, n / 4, &seed), *theirs = random_items(1000, 250, &seed);
    kith_items_sort(mine, n);
    kith_items_sort(theirs, 1000);
    kith_reconcile_t ri, rr;
    kith_buf_t msg, out;
    kith_buf_init(&msg);
    kith_buf_init(&out);
    kith_idset_t send;
    kith_idset_init(&send);
    ASSERT_OK(kith_reconcile_init(&ri, theirs, 1000, 0));
    ASSERT_OK(kith_reconcile_initiate(&ri, &msg)); /* one fingerprint of everything */
    ASSERT_OK(kith_reconcile_init(&rr, mine, n, 0));
    int rc = KITH_OK;
    size_t answered = 0;
    while (rc == KITH_OK && answered < 1000) {
        rc = kith_reconcile_step(&rr, msg.data, msg.len, &out, &send);
        answered += rc == KITH_OK;
    }
    print_message("the same whole-set question, asked again and again: answered %zu times, "
                  "then %s\n",
                  answered, kith_strerror(rc));
    ASSERT_ERR(rc, KITH_ETOOBIG);
    uint64_t limit = KITH_RECONCILE_WORK_FACTOR * (uint64_t) n + KITH_RECONCILE_WORK_SLACK;
    assert_true(answered <= limit / n + 1);
    assert_true(answered >= KITH_RECONCILE_WORK_FACTOR / 4);
    kith_reconcile_close(&ri);
    kith_reconcile_close(&rr);
    kith_buf_close(&msg);
    kith_buf_close(&out);
    kith_idset_close(&send);
    free(mine);
    free(theirs);
}

static void
hostile_limits(void **state)
{
    (void) state;
    kith_buf_t msg;
    kith_buf_init(&msg);
    /* 4096 SKIP ranges are allowed, 4097 are not. */
    ASSERT_OK(kith_buf_putc(&msg, 1));
    for (int k = 0; k < KITH_RECONCILE_MAX_RANGES; k++) {
        static const uint8_t skip[] = {0, 1, 0};
        ASSERT_OK(kith_buf_append(&msg, skip, 3));
    }
    char *hex = malloc(msg.len * 2 + 16);
    assert_non_null(hex);
    sodium_bin2hex(hex, msg.len * 2 + 1, msg.data, msg.len);
    expect_hex(hex, KITH_OK);
    strcat(hex, "000100");
    expect_hex(hex, KITH_EPROTO);
    free(hex);

    /* Over 64 KiB. */
    msg.len = 0;
    ASSERT_OK(kith_buf_putc(&msg, 1));
    uint8_t zero[KITH_RECONCILE_MAX_MSG] = {0};
    ASSERT_OK(kith_buf_append(&msg, zero, KITH_RECONCILE_MAX_MSG));
    kith_reconcile_t r;
    kith_buf_t out;
    kith_buf_init(&out);
    kith_idset_t send;
    kith_idset_init(&send);
    ASSERT_OK(kith_reconcile_init(&r, NULL, 0, 0));
    ASSERT_ERR(kith_reconcile_step(&r, msg.data, msg.len, &out, &send), KITH_EPROTO);
    kith_reconcile_close(&r);
    kith_buf_close(&msg);
    kith_buf_close(&out);
    kith_idset_close(&send);
}

/* A message that speaks about a region this side still owes an answer for is refused,
 * and a refused message leaves `send` as it was, even after a part of it was acted on. */
static void
hostile_out_of_turn(void **state)
{
    (void) state;
    uint64_t seed = 31;
    kith_item_t *a = random_items(20000, 5000, &seed);
    kith_item_t *b = random_items(20000, 5000, &seed);
    kith_items_sort(a, 20000);
    kith_items_sort(b, 20000);
    kith_reconcile_t ra, rb;
    kith_buf_t m1, m2, msg;
    kith_buf_init(&m1);
    kith_buf_init(&m2);
    kith_buf_init(&msg);
    kith_idset_t send;
    kith_idset_init(&send);
    ASSERT_OK(kith_reconcile_init(&ra, a, 20000, 0));
    ASSERT_OK(kith_reconcile_init(&rb, b, 20000, KITH_RECONCILE_MIN_MSG));
    ASSERT_OK(kith_reconcile_initiate(&ra, &m1));
    /* B answers 16 mismatches with 256 fingerprints: they cannot fit in 2 KiB. */
    ASSERT_OK(kith_reconcile_step(&rb, m1.data, m1.len, &m2, &send));
    assert_true(m2.len > 0 && m2.len <= KITH_RECONCILE_MIN_MSG);
    assert_false(kith_reconcile_done(&rb));
    /* A FINGERPRINT over everything overlaps what B still owes. */
    hex_to("01ff01" FP0, &msg);
    ASSERT_ERR(kith_reconcile_step(&rb, msg.data, msg.len, &m2, &send), KITH_EPROTO);
    ASSERT_EQ(m2.len, 0);
    kith_reconcile_close(&rb);

    /* An empty IDLIST below ts 1700000002500 (varint c4e395ffbc31) puts B's items there
     * in send; the bad range after it (duplicate ids) must undo that. */
    ASSERT_OK(kith_reconcile_init(&rb, b, 20000, 0));
    hex_to("0100c4e395ffbc310200"
           "0001"
           "0202" ID_A ID_A,
           &msg);
    ASSERT_ERR(kith_reconcile_step(&rb, msg.data, msg.len, &m2, &send), KITH_EPROTO);
    ASSERT_EQ(send.len, 0);
    kith_reconcile_close(&rb);

    kith_reconcile_close(&ra);
    kith_buf_close(&m1);
    kith_buf_close(&m2);
    kith_buf_close(&msg);
    kith_idset_close(&send);
    free(a);
    free(b);
}

static void
idset_and_sort(void **state)
{
    (void) state;
    kith_idset_t s;
    kith_idset_init(&s);
    uint8_t id[32];
    for (int k = 0; k < 1000; k++) {
        memset(id, k & 0xff, 32);
        ASSERT_OK(kith_idset_add(&s, id));
    }
    ASSERT_EQ(s.len, 1000);
    assert_true(s.ids[999][5] == (999 & 0xff));
    kith_idset_close(&s);
    ASSERT_EQ(s.len, 0);
    assert_null(s.ids);

    uint64_t seed = 3;
    kith_item_t *v = random_items(500, 50, &seed);
    kith_items_sort(v, 500);
    for (size_t k = 1; k < 500; k++) {
        assert_true(kith_item_cmp(&v[k - 1], &v[k]) < 0);
        assert_true(v[k - 1].ts <= v[k].ts);
    }
    kith_items_sort(v, 0);
    free(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idset_and_sort),
        cmocka_unit_test(example_fingerprint),
        cmocka_unit_test(example_small_sets),
        cmocka_unit_test(example_fingerprints),
        cmocka_unit_test(api_misuse),
        cmocka_unit_test(hostile_crafted),
        cmocka_unit_test(hostile_truncated),
        cmocka_unit_test(hostile_limits),
        cmocka_unit_test(hostile_repeats_are_bounded),
        cmocka_unit_test(hostile_out_of_turn),
        cmocka_unit_test(converges_for_all_shapes),
        cmocka_unit_test(converges_with_small_messages),
        cmocka_unit_test(cost_follows_differences),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
