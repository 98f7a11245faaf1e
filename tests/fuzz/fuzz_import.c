/*
 * libFuzzer target for contact import (src/node/import.c, with the vCard, LinkedIn and
 * contacts CSV parsers and node/match.c behind it): arbitrary files imported into a real
 * node, as `kith import` and the web UI's POST /api/import do.
 *
 * Input: the first byte picks the format (byte % 3: vcard, linkedin, csv), strict mode
 * ((byte / 3) % 2) and whether new records are shared with a group ((byte / 6) % 2); the
 * rest is the file. The node (a temporary home, removed at exit) keeps what imports make,
 * so later inputs match against earlier records; it is made afresh when it holds more than
 * RECORDS_MAX records, to keep runs fast.
 * Checked: nothing crashes or leaks; a failed import writes nothing (no record, no op); a
 * successful one accounts for every card it read; the skips kept and the JSON result agree
 * with the counts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kith/error.h"
#include "kith/kith.h"
#include "node/import.h"

#define RECORDS_MAX 2000

static kith_node_t *node;
static kith_share_target_t group;
static char home[64];
static unsigned generation;

static void
check(int cond)
{
    if (!cond) {
        abort();
    }
}

static void
remove_home(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    if (system(cmd) != 0) {
        fprintf(stderr, "fuzz_import: could not remove %s\n", home);
    }
}

static void
cleanup(void)
{
    kith_node_close(node);
    node = NULL;
    remove_home();
}

/* A fresh node in a fresh subdirectory of home. */
static void
make_node(void)
{
    char dir[96], err[256];
    kith_node_close(node);
    node = NULL;
    snprintf(dir, sizeof(dir), "%s/n%u", home, generation++);
    check(kith_node_create(dir, "fuzz", NULL, err, sizeof(err)) == KITH_OK);
    check(kith_node_open(dir, NULL, &node, err, sizeof(err)) == KITH_OK);
    check(kith_node_share_target(node, "@team", &group) == KITH_OK);
}

static void
setup(void)
{
    check(kith_init() == KITH_OK);
    snprintf(home, sizeof(home), "/tmp/kith-fuzz-import.XXXXXX");
    check(mkdtemp(home) != NULL);
    make_node();
    atexit(cleanup);
}

static void
no_skip(void *ctx, unsigned line, const char *prop, const char *why)
{
    (void) line;
    (void) prop;
    check(why != NULL);
    (*(size_t *) ctx)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const formats[] = {"vcard", "linkedin", "csv"};
    if (node == NULL) {
        setup();
    }
    if (size < 1) {
        return 0;
    }
    uint64_t records = 0, seq_before = 0, seq_after = 0, records_after = 0;
    check(kith_store_count_records(node->store, &records) == KITH_OK);
    if (records > RECORDS_MAX) {
        make_node();
        records = 0;
    }
    size_t n_reported = 0;
    kith_import_opts_t o = {.format = formats[data[0] % 3],
                            .strict = (data[0] / 3) % 2,
                            .on_skip = no_skip,
                            .ctx = &n_reported};
    if ((data[0] / 6) % 2) {
        o.targets = &group;
        o.n_targets = 1;
    }
    check(kith_store_max_seq(node->store, &seq_before) == KITH_OK);
    kith_import_result_t res = {0};
    char err[512] = "";
    int rc = kith_node_import_contacts(node, (const char *) data + 1, size - 1, &o, &res, err,
                                       sizeof(err));
    check(kith_store_max_seq(node->store, &seq_after) == KITH_OK);
    check(kith_store_count_records(node->store, &records_after) == KITH_OK);
    size_t skipped = res.skipped_values + res.skipped_cards;
    check(n_reported == skipped);
    check(res.n_skips == (skipped < KITH_IMPORT_SKIPS_KEPT ? skipped : KITH_IMPORT_SKIPS_KEPT));
    if (rc != KITH_OK) {
        check(err[0] != '\0');
        check(seq_after == seq_before && records_after == records);
    } else {
        check(res.cards == res.added + res.updated + res.unchanged + res.read_only);
        check(records_after == records + res.added);
        check(!o.strict || skipped == 0);
    }
    kith_buf_t out;
    kith_buf_init(&out);
    kith_json_t j;
    kith_json_init(&j, &out, 0);
    kith_import_result_json(&res, &j);
    int jrc = kith_json_finish(&j);
    check(jrc == KITH_OK || jrc == KITH_ENOMEM);
    kith_buf_close(&out);
    kith_import_result_close(&res);
    return 0;
}
