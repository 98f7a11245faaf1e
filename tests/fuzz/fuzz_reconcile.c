/*
 * libFuzzer target for src/sync/reconcile: arbitrary bytes as a sequence of messages
 * from the peer. Nothing may crash or leak, and the module's promises are checked:
 *   - a step returns OK, EPROTO or EVERSION (nothing else can happen here);
 *   - a failed step leaves out empty and send unchanged, and the state refuses more;
 *   - a reply fits the state's max_msg, and parses when fed to a second, fresh state;
 *   - every id put in send names an item of the state's set, and none twice.
 *
 * Input: byte 0 picks the scenario, the rest is a list of messages, each a 2-byte
 * little-endian length then that many bytes (the last one may be cut short):
 *   bits 0-1  the set of the state under test: X, Y, S (20 items) or empty
 *   bit 2     max_msg KITH_RECONCILE_MIN_MSG instead of the default
 *   bit 3     the state initiates first (its first message is thrown away)
 * X and Y are two overlapping subsets of a fixed universe of 120 items whose ts repeat
 * three times, so bounds carry id prefixes. The seeds in corpus/reconcile are the real
 * messages one side receives during X/Y, S/Y and empty/X exchanges.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kith/error.h"
#include "sync/reconcile.h"

#define UNIVERSE 120

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kith_item_t set_x[UNIVERSE], set_y[UNIVERSE], set_s[UNIVERSE];
static size_t n_x, n_y, n_s;

static void
make_sets(void)
{
    if (n_x > 0) {
        return;
    }
    if (sodium_init() < 0) {
        abort();
    }
    for (unsigned k = 0; k < UNIVERSE; k++) {
        kith_item_t it;
        uint8_t seed[2] = {(uint8_t) k, (uint8_t) (k >> 8)};
        it.ts = 5000 + k / 3;
        crypto_generichash(it.id, sizeof(it.id), seed, sizeof(seed), NULL, 0);
        if (k % 7 != 3) {
            set_x[n_x++] = it;
        }
        if (k % 5 != 1) {
            set_y[n_y++] = it;
        }
        if (k < 20) {
            set_s[n_s++] = it;
        }
    }
    kith_items_sort(set_x, n_x);
    kith_items_sort(set_y, n_y);
    kith_items_sort(set_s, n_s);
}

static void
check_reply_parses(const kith_buf_t *out)
{
    kith_reconcile_t fresh;
    kith_buf_t reply;
    kith_idset_t send;
    kith_buf_init(&reply);
    kith_idset_init(&send);
    if (kith_reconcile_init(&fresh, set_y, n_y, 0) != KITH_OK ||
        kith_reconcile_step(&fresh, out->data, out->len, &reply, &send) != KITH_OK) {
        abort();
    }
    kith_reconcile_close(&fresh);
    kith_buf_close(&reply);
    kith_idset_close(&send);
}

/* True if id names one of items[0, n). */
static int
holds(const kith_item_t *items, size_t n, const uint8_t *id)
{
    for (size_t k = 0; k < n; k++) {
        if (memcmp(items[k].id, id, 32) == 0) {
            return 1;
        }
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    make_sets();
    if (size == 0) {
        return 0;
    }
    const kith_item_t *const sets[4] = {set_x, set_y, set_s, NULL};
    const size_t sizes[4] = {n_x, n_y, n_s, 0};
    unsigned sel = data[0];
    const kith_item_t *items = sets[sel & 3];
    size_t n = sizes[sel & 3];
    size_t max_msg = (sel & 4) ? KITH_RECONCILE_MIN_MSG : KITH_RECONCILE_MAX_MSG;

    kith_reconcile_t r;
    kith_buf_t out;
    kith_idset_t send;
    kith_buf_init(&out);
    kith_idset_init(&send);
    if (kith_reconcile_init(&r, items, n, max_msg) != KITH_OK) {
        abort();
    }
    if ((sel & 8) && kith_reconcile_initiate(&r, &out) != KITH_OK) {
        abort();
    }

    size_t pos = 1;
    while (pos < size) {
        size_t len = data[pos];
        if (pos + 1 < size) {
            len |= (size_t) data[pos + 1] << 8;
        }
        pos += 2;
        if (pos > size) {
            pos = size;
        }
        if (len > size - pos) {
            len = size - pos;
        }
        size_t before = send.len;
        int rc = kith_reconcile_step(&r, data + pos, len, &out, &send);
        pos += len;
        if (rc != KITH_OK) {
            if ((rc != KITH_EPROTO && rc != KITH_EVERSION) || out.len != 0 || send.len != before) {
                abort();
            }
            if (kith_reconcile_step(&r, data, size, &out, &send) != KITH_EINVAL) {
                abort();
            }
            break;
        }
        if (out.len > max_msg) {
            abort();
        }
        if (out.len > 0) {
            check_reply_parses(&out);
        }
        for (size_t k = before; k < send.len; k++) {
            if (!holds(items, n, send.ids[k])) {
                abort();
            }
            for (size_t m = 0; m < k; m++) {
                if (memcmp(send.ids[m], send.ids[k], 32) == 0) {
                    abort();
                }
            }
        }
    }
    kith_reconcile_close(&r);
    kith_buf_close(&out);
    kith_idset_close(&send);
    return 0;
}
