/*
 * kith doctor: checks a home and says what is wrong, without changing anything.
 */
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/keyfile.h"
#include "kith/error.h"
#include "net/daemon.h"
#include "node/repair.h"

typedef struct {
    size_t problems;
} doctor_t;

static void
report(void *ctx, const char *line)
{
    doctor_t *d = ctx;
    d->problems++;
    printf("  problem: %s\n", line);
}

/* Checks that path exists with no access for group and others. */
static void
check_mode(doctor_t *d, const char *path, const char *what, int dir)
{
    struct stat st;
    char line[512];
    if (lstat(path, &st) != 0) {
        snprintf(line, sizeof(line), "%s %s is missing", what, path);
        report(d, line);
        return;
    }
    if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
        snprintf(line, sizeof(line), "%s %s is not a %s", what, path, dir ? "directory" : "file");
        report(d, line);
        return;
    }
    if (st.st_mode & 077) {
        snprintf(line, sizeof(line), "%s %s has mode %03o; others can read it (chmod %s %s)", what,
                 path, (unsigned) (st.st_mode & 0777), dir ? "700" : "600", path);
        report(d, line);
    }
}

static void
print_line(void *ctx, const char *line)
{
    (void) ctx;
    printf("  repaired: %s\n", line);
}

/* Tells what the first open by this kith vouched for as it stood. */
static void
print_upgrade(kith_node_t *n)
{
    kith_peer_t *peers = NULL;
    size_t n_peers = 0;
    printf("  authenticated the store for this kith: %llu ops resealed, %llu records rebuilt "
           "from them\n",
           (unsigned long long) n->upgrade.ops, (unsigned long long) n->upgrade.records);
    if (kith_store_peer_list(n->store, &peers, &n_peers) == KITH_OK && n_peers > 0) {
        printf("  the peer list was accepted as it stood; check it is yours:\n");
        for (size_t i = 0; i < n_peers; i++) {
            printf("    %s%s\n", peers[i].name, peers[i].self ? " (your own device)" : "");
        }
    }
    kith_peers_free(peers, n_peers);
}

/* Puts right what the store's authentication found, then accepts the store as the
 * node's current state (kith.state). */
static void
repair_trust(kith_node_t *n)
{
    uint64_t fixed = 0;
    int rc = kith_store_auth_repair(n->store, print_line, NULL, &fixed);
    if (rc == KITH_OK) {
        rc = kith_node_accept_state(n);
    }
    if (rc != KITH_OK) {
        printf("  could not repair the store's authentication: %s\n", kith_strerror(rc));
        return;
    }
    kith_peer_t *peers = NULL;
    size_t n_peers = 0;
    if (kith_store_peer_list(n->store, &peers, &n_peers) == KITH_OK) {
        printf("  the peer list is now%s:\n", n_peers ? "" : " empty");
        for (size_t i = 0; i < n_peers; i++) {
            printf("    %s%s\n", peers[i].name, peers[i].self ? " (your own device)" : "");
        }
    }
    kith_peers_free(peers, n_peers);
}

/* Counts a problem without printing it (a check whose findings a repair will redo). */
static void
quiet(void *ctx, const char *line)
{
    (void) line;
    ((doctor_t *) ctx)->problems++;
}

/* Rebuilds the store from what can be read of it (node/repair.h), says exactly what was
 * recovered and what was lost, and checks the result. 0 only if nothing was lost and
 * the rebuilt store checks clean. */
static int
rebuild(cli_globals_t *g, const char *home)
{
    char *pass = NULL;
    char err[512] = "";
    kith_buf_t probe;
    kith_buf_init(&probe);
    int running = kith_control_call(home, "status", &probe) == KITH_OK;
    kith_buf_close(&probe);
    if (running) {
        fflush(stdout);
        cli_error("a kith daemon is running for %s: stop it ('kith serve' there) before "
                  "'kith doctor --repair' replaces the store. Nothing was changed.",
                  home);
        return 1;
    }
    if (kith_node_needs_passphrase(home) == 1 &&
        (pass = cli_read_passphrase("Passphrase: ", 0)) == NULL) {
        return 1;
    }
    kith_repair_report_t rep;
    int rc = kith_node_repair(home, pass, &rep, err, sizeof(err));
    cli_passphrase_free(pass);
    if (rc != KITH_OK) {
        fflush(stdout);
        cli_error("the store cannot be rebuilt: %s. Nothing was changed.",
                  err[0] ? err : kith_strerror(rc));
        return 1;
    }
    size_t lost = rep.records_lost + rep.ops_unreadable + rep.ops_bad;
    printf("Rebuilt the store from what could be read of the damaged one:\n");
    printf("  recovered: %zu record%s (%zu op%s, each decrypted and its signature and hash "
           "verified), %zu peer%s, %zu share%s\n",
           rep.records, rep.records == 1 ? "" : "s", rep.ops, rep.ops == 1 ? "" : "s", rep.peers,
           rep.peers == 1 ? "" : "s", rep.shares, rep.shares == 1 ? "" : "s");
    printf("  lost: %zu record%s, %zu op%s unreadable, %zu op%s that failed verification\n",
           rep.records_lost, rep.records_lost == 1 ? "" : "s", rep.ops_unreadable,
           rep.ops_unreadable == 1 ? "" : "s", rep.ops_bad, rep.ops_bad == 1 ? "" : "s");
    if (rep.failed_reads > 0) {
        printf("  parts of the file could not be read at all: what they held (records, ops, "
               "peers, shares) is lost and not in these counts, so treat them as a floor\n");
    }
    if (rep.rows_dropped > 0) {
        printf("  left out: %zu peer or share row%s that kith did not write\n", rep.rows_dropped,
               rep.rows_dropped == 1 ? "" : "s");
    }
    printf("  the damaged file is kept as %s\n", rep.kept);
    printf("Checking again:\n");
    doctor_t d = {0};
    /* The rebuilt store is a new database: this node's state file learns it. */
    kith_node_t *n = cli_open_node_flags(g, KITH_OPEN_UNCHECKED);
    if (n != NULL && kith_node_accept_state(n) != KITH_OK) {
        kith_node_close(n);
        n = NULL;
    }
    if (n == NULL) {
        fflush(stdout);
        cli_error("the rebuilt store cannot be opened; the damaged one is %s", rep.kept);
        return 1;
    }
    kith_store_check_t st;
    kith_store_check(n->store, report, &d, &st);
    printf("  checked %llu records and %llu ops\n", (unsigned long long) st.records,
           (unsigned long long) st.ops);
    kith_node_close(n);
    fflush(stdout);
    if (d.problems > 0) {
        cli_error("%zu problem%s remain after the rebuild; the damaged store is kept as %s",
                  d.problems, d.problems == 1 ? "" : "s", rep.kept);
        return 1;
    }
    if (lost > 0 || rep.failed_reads > 0) {
        cli_error("the store works again, but what is counted as lost above could not be "
                  "recovered: 'kith sync' gets back what your peers hold, 'kith import json' "
                  "what an export holds; %s stays for a closer look",
                  rep.kept);
        return 1;
    }
    printf("No problems found. Nothing was lost.\n");
    return 0;
}

int
cmd_doctor(cli_globals_t *g, int argc, char **argv)
{
    int repair = argc == 2 && strcmp(argv[1], "--repair") == 0;
    if (argc > 2 || (argc == 2 && !repair)) {
        return cli_usage_error("doctor", "takes only --repair");
    }
    const char *home = cli_home(g);
    if (home == NULL) {
        return 1;
    }
    if (repair && kith_node_home_read_only(home)) {
        cli_error("the home %s is read-only: 'kith doctor --repair' would change it, so nothing "
                  "was done ('kith doctor' alone checks it)",
                  home);
        return 1;
    }
    doctor_t d = {0};
    kith_buf_t path;
    kith_buf_init(&path);
    printf("Checking %s\n", home);
    check_mode(&d, home, "the home directory", 1);
    kith_buf_printf(&path, "%s/%s", home, KITH_KEY_FILE);
    check_mode(&d, (char *) path.data, "the identity file", 0);
    path.len = 0;
    kith_buf_printf(&path, "%s/%s", home, KITH_DB_FILE);
    check_mode(&d, (char *) path.data, "the database", 0);
    kith_buf_close(&path);

    uint8_t pk[KITH_PK_LEN];
    char err[512] = "";
    if (kith_node_public_key(home, pk, err, sizeof(err)) != KITH_OK) {
        report(&d, err);
        fflush(stdout);
        cli_error("%zu problem%s found; the identity cannot be read.", d.problems,
                  d.problems == 1 ? "" : "s");
        return 1;
    }
    int sealed = kith_node_needs_passphrase(home);
    printf("  identity: readable%s\n", sealed == 1 ? ", protected by a passphrase" : "");
    kith_node_t *n = cli_open_node_flags(g, KITH_OPEN_UNCHECKED);
    if (n == NULL) {
        d.problems++;
        if (repair) {
            return rebuild(g, home);
        }
        fflush(stdout);
        cli_error("%zu problem%s found; the store could not be opened.%s", d.problems,
                  d.problems == 1 ? "" : "s",
                  kith_node_home_read_only(home)
                      ? ""
                      : " 'kith doctor --repair' rebuilds it from what can still be read.");
        return 1;
    }
    printf("  database: schema version %d\n", kith_store_schema_version(n->store));
    if (kith_store_is_read_only(n->store)) {
        printf("  home: read-only (commands that only read work; those that change the store "
               "are refused)\n");
    }
    if (n->upgrade.upgraded) {
        print_upgrade(n);
    }
    if (n->trust != KITH_OK) {
        report(&d, n->trust_msg);
    }
    kith_store_check_t st;
    kith_store_check(n->store, report, &d, &st);
    printf("  checked %llu records and %llu ops (every op decrypted and its signature "
           "verified)\n",
           (unsigned long long) st.records, (unsigned long long) st.ops);
    if (repair && d.problems > 0) {
        /* Damaged records are rebuilt from their ops in place. If that fails, or leaves
         * problems (damaged ops, a damaged file), the store is rebuilt from what can be
         * read of it. */
        repair_trust(n);
        uint64_t refolded = 0;
        kith_store_set_cache_kib(n->store, 32 * 1024); /* rewrites every record at once */
        int rc = kith_store_begin(n->store);
        if (rc == KITH_OK) {
            rc = kith_store_refold_all(n->store, &refolded);
        }
        if (rc == KITH_OK) {
            rc = kith_store_commit(n->store);
        }
        if (rc != KITH_OK) {
            kith_store_rollback(n->store);
        } else {
            d.problems = 0;
            kith_store_check(n->store, quiet, &d, &st);
        }
        if (rc != KITH_OK || d.problems > 0) {
            kith_node_close(n);
            printf("Rebuilding the records from their ops in place is not enough (%s); "
                   "rebuilding the store from what can be read of it.\n",
                   rc != KITH_OK ? kith_strerror(rc) : "problems remain");
            return rebuild(g, home);
        }
        printf("Rebuilt %llu records from their ops. Checking again:\n",
               (unsigned long long) refolded);
        d.problems = 0;
        kith_store_check(n->store, report, &d, &st);
    }
    kith_node_close(n);
    if (d.problems == 0) {
        printf("No problems found.\n");
        return 0;
    }
    fflush(stdout);
    cli_error("%zu problem%s found.%s", d.problems, d.problems == 1 ? "" : "s",
              repair ? ""
                     : " 'kith doctor --repair' puts right what it can: it removes rows kith did "
                       "not write and rebuilds damaged records from their ops.");
    return 1;
}
