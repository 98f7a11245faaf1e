/*
 * The timing half of scripts/bench-ui: the roster (src/node/roster.c) of a home holding
 * many records, measured in-process, without the HTTP server.
 *
 *   bench_roster HOME [RUNS]
 *
 * Opens the node in HOME (no passphrase), then prints:
 *  - the first build (kith_roster_refresh() on an empty roster), and the heap it added
 *    (mallinfo2() before and after) beside kith_roster_mem();
 *  - a refresh after one edit (kith_node_edit() of one record's title, not timed), median
 *    of RUNS (default 9);
 *  - of it, kith_store_record_versions() alone, which finds what changed;
 *  - the first page (50 items) of several queries, median and minimum of RUNS each, with
 *    the total.
 * Each timing is CLOCK_MONOTONIC around the call alone. Not part of the test suite: a
 * benchmark, built by scripts/bench-ui against the library (no CMake target).
 */
#define _GNU_SOURCE /* mallinfo2 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kith/error.h"
#include "kith/kith.h"
#include "node/edit.h"
#include "node/node.h"
#include "node/roster.h"
#include "util/json.h"

static void
die(const char *what, int rc)
{
    fprintf(stderr, "bench_roster: %s: %s\n", what, kith_strerror(rc));
    exit(1);
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
    qsort(v, (size_t) n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static size_t
heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Any live record's id: the first the store names. */
static int
first_id(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const uint8_t owner[KITH_PK_LEN],
         uint64_t fold_seq, int deleted)
{
    (void) owner;
    (void) fold_seq;
    if (deleted) {
        return KITH_OK;
    }
    memcpy(ctx, id, KITH_REC_ID_LEN);
    return 1;
}

static int
count_versions(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const uint8_t owner[KITH_PK_LEN],
               uint64_t fold_seq, int deleted)
{
    (void) id;
    (void) owner;
    (void) fold_seq;
    (void) deleted;
    (*(uint64_t *) ctx)++;
    return KITH_OK;
}

/* Runs q once; *total gets the match count; returns milliseconds. */
static double
time_query(const kith_roster_t *r, const kith_roster_query_t *q, unsigned long long *total)
{
    kith_buf_t b;
    kith_json_t j;
    kith_buf_init(&b);
    double t0 = now_ms();
    kith_json_init(&j, &b, 0);
    kith_json_object_begin(&j);
    int rc = kith_roster_query(r, q, &j);
    kith_json_key(&j, "took_us");
    kith_json_uint(&j, 0);
    kith_json_object_end(&j);
    if (rc == KITH_OK) {
        rc = kith_json_finish(&j);
    }
    double t = now_ms() - t0;
    if (rc != KITH_OK) {
        die("query", rc);
    }
    const char *p = strstr((const char *) b.data, "\"total\":");
    *total = p ? strtoull(p + 8, NULL, 10) : 0;
    kith_buf_close(&b);
    return t;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_roster HOME [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 9;
    runs = runs < 1 ? 1 : runs > 100 ? 100 : runs;
    int rc = kith_init();
    if (rc != KITH_OK) {
        die("init", rc);
    }
    char err[512];
    kith_node_t *n = NULL;
    if ((rc = kith_node_open(argv[1], NULL, &n, err, sizeof(err))) != KITH_OK) {
        fprintf(stderr, "bench_roster: %s\n", err);
        return 1;
    }
    kith_roster_t *r = NULL;
    size_t heap0 = heap_bytes();
    if ((rc = kith_roster_new(&r)) != KITH_OK) {
        die("new", rc);
    }
    double t0 = now_ms();
    if ((rc = kith_roster_refresh(r, n)) != KITH_OK) {
        die("refresh", rc);
    }
    double build = now_ms() - t0;
    size_t heap1 = heap_bytes();
    size_t count = kith_roster_count(r);
    printf("records            %zu\n", count);
    printf("build              %.0f ms\n", build);
    printf("memory             %.1f MiB heap added (%.1f MiB held by the roster, %.0f bytes "
           "per record)\n",
           (double) (heap1 - heap0) / 1048576.0, (double) kith_roster_mem(r) / 1048576.0,
           count ? (double) kith_roster_mem(r) / (double) count : 0.0);

    /* A refresh after one edit. */
    uint8_t id[KITH_REC_ID_LEN];
    if (kith_store_record_versions(n->store, 0, first_id, id) != 1) {
        die("no record to edit", KITH_ENOTFOUND);
    }
    double *t = calloc((size_t) runs, sizeof(*t));
    if (t == NULL) {
        die("calloc", KITH_ENOMEM);
    }
    uint64_t reads = kith__roster_reads(r);
    for (int i = 0; i < runs; i++) {
        char title[32];
        const char *items[] = {title};
        snprintf(title, sizeof(title), "Edited %d", i);
        kith_edit_t e = {"title", KITH_EDIT_SET, items, 1};
        if ((rc = kith_node_edit(n, id, &e, 1, (uint64_t) time(NULL) * 1000 + (uint64_t) i, NULL,
                                 err, sizeof(err))) != KITH_OK) {
            die(err, rc);
        }
        t0 = now_ms();
        if ((rc = kith_roster_refresh(r, n)) != KITH_OK) {
            die("refresh", rc);
        }
        t[i] = now_ms() - t0;
    }
    printf("refresh, one edit  %.2f ms (median of %d; %llu records read in all)\n", median(t, runs),
           runs, (unsigned long long) (kith__roster_reads(r) - reads));
    /* Of which the store's list of what changed (a scan of the records table). */
    for (int i = 0; i < runs; i++) {
        uint64_t found = 0;
        t0 = now_ms();
        kith_store_record_versions(n->store, INT64_MAX - 1, count_versions, &found);
        t[i] = now_ms() - t0;
    }
    printf("  of which versions %.2f ms (kith_store_record_versions() finding nothing new)\n",
           median(t, runs));

    struct {
        const char *label;
        kith_roster_query_t q;
    } qs[] = {
        {"all (no filter)", {.kind = -1, .stale_days = -1}},
        {"q=zanzibar (rare)", {.q = "zanzibar", .kind = -1, .stale_days = -1}},
        {"q=a (common)", {.q = "a", .kind = -1, .stale_days = -1}},
        {"q=ødegård", {.q = "ødegård", .kind = -1, .stale_days = -1}},
        {"q=nomatchatall", {.q = "nomatchatall", .kind = -1, .stale_days = -1}},
        {"org=Northwind", {.org = "Northwind", .kind = -1, .stale_days = -1}},
        {"tag=vip", {.tag = "vip", .kind = -1, .stale_days = -1}},
        {"stale=90", {.kind = -1, .stale_days = 90}},
        {"q=a org=Globex stale=90", {.q = "a", .org = "Globex", .kind = -1, .stale_days = 90}},
        {"q=a, page 1000", {.q = "a", .kind = -1, .stale_days = -1, .offset = 50000}},
    };
    printf("\n%-26s %10s %10s %10s\n", "query (first page of 50)", "median ms", "min ms", "total");
    for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
        kith_roster_query_t *q = &qs[k].q;
        q->limit = 50;
        q->today_days = (int64_t) (time(NULL) / 86400);
        unsigned long long total = 0;
        for (int i = 0; i < runs; i++) {
            t[i] = time_query(r, q, &total);
        }
        double m = median(t, runs); /* sorts t */
        printf("%-26s %10.2f %10.2f %10llu\n", qs[k].label, m, t[0], total);
    }
    free(t);
    kith_roster_free(r);
    kith_node_close(n);
    return 0;
}
