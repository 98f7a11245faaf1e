/*
 * kith doctor: checks a home and says what is wrong, without changing anything.
 */
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/keyfile.h"
#include "kith/error.h"

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
    kith_node_t *n = cli_open_node(g);
    if (n == NULL) {
        d.problems++;
        fflush(stdout);
        cli_error("%zu problem%s found; the store could not be opened.", d.problems,
                  d.problems == 1 ? "" : "s");
        return 1;
    }
    printf("  database: schema version %d\n", kith_store_schema_version(n->store));
    if (kith_store_is_read_only(n->store)) {
        printf("  home: read-only (commands that only read work; those that change the store "
               "are refused)\n");
    }
    kith_store_check_t st;
    kith_store_check(n->store, report, &d, &st);
    printf("  checked %llu records and %llu ops (every op decrypted and its signature "
           "verified)\n",
           (unsigned long long) st.records, (unsigned long long) st.ops);
    if (repair && d.problems > 0) {
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
            printf("Repair failed (%s): the ops themselves are damaged; restore a backup or "
                   "sync again from your peers.\n",
                   kith_strerror(rc));
        } else {
            printf("Rebuilt %llu records from their ops. Checking again:\n",
                   (unsigned long long) refolded);
            d.problems = 0;
            kith_store_check(n->store, report, &d, &st);
        }
    }
    kith_node_close(n);
    if (d.problems == 0) {
        printf("No problems found.\n");
        return 0;
    }
    fflush(stdout);
    cli_error("%zu problem%s found.%s", d.problems, d.problems == 1 ? "" : "s",
              repair ? "" : " 'kith doctor --repair' rebuilds damaged records from their ops.");
    return 1;
}
