/*
 * kith backup FILE and kith restore --backup FILE: the home as one encrypted file, and a
 * new home made from one (src/node/backup.h, proto/BACKUP.md).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "kith/error.h"
#include "node/backup.h"
#include "util/nodeid.h"

#define GETOPT_BEGIN()  (optind = 0, opterr = 0)
#define BACKUP_PASS_ENV "KITH_BACKUP_PASSPHRASE"

/* Test hook: with $KITH_TEST_STEP_DELAY_MS set, each step of a backup or restore takes
 * that long, so that tests/cli/test_backup.sh can kill kith in the middle of one. */
static void
step_delay(void *ctx, const char *what)
{
    (void) ctx;
    (void) what;
    const char *v = getenv("KITH_TEST_STEP_DELAY_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    if (ms > 0 && ms <= 60000) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void
print_note(void *ctx, const char *line)
{
    (void) ctx;
    fprintf(stderr, "kith: note: %s\n", line);
}

static void
print_size(FILE *out, uint64_t bytes)
{
    if (bytes >= 10u << 20) {
        fprintf(out, "%.1f MiB", (double) bytes / (1 << 20));
    } else if (bytes >= 10u << 10) {
        fprintf(out, "%.1f KiB", (double) bytes / (1 << 10));
    } else {
        fprintf(out, "%llu bytes", (unsigned long long) bytes);
    }
}

int
cmd_backup(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    int c, force = 0;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
        if (c != 'f') {
            return cli_usage_error("backup", "unknown option: '%s'", argv[optind - 1]);
        }
        force = 1;
    }
    if (argc - optind != 1) {
        return cli_usage_error("backup", "needs exactly one FILE");
    }
    const char *file = argv[optind];
    const char *home = cli_home(g);
    if (home == NULL) {
        return 1;
    }
    /* Refuse what can be refused before asking for a passphrase. */
    uint8_t pk[KITH_PK_LEN];
    char err[512] = "";
    if (kith_node_public_key(home, pk, err, sizeof(err)) != KITH_OK) {
        cli_error("%s", err);
        return 1;
    }
    struct stat st;
    if (!force && lstat(file, &st) == 0) {
        cli_error("%s exists; not overwriting it (--force does)", file);
        return 1;
    }
    char *pass = cli_read_secret(BACKUP_PASS_ENV, "Backup passphrase: ", 1);
    if (pass == NULL) {
        return 1;
    }
    const char *tmpdir = getenv("TMPDIR");
    kith_backup_opts_t o = {0,          0,    step_delay,
                            print_note, NULL, tmpdir && tmpdir[0] == '/' ? tmpdir : NULL};
    kith_backup_stats_t stats;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = kith_backup_create(home, file, force, pass, &o, &stats, err, sizeof(err));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cli_passphrase_free(pass);
    if (rc != KITH_OK) {
        cli_error("%s", err[0] ? err : kith_strerror(rc));
        return 1;
    }
    char nid[KITH_NODEID_BUFSIZE];
    kith_nodeid_encode(pk, nid);
    printf("Backed up %s to %s: %zu files, the store ", home, file, stats.files);
    print_size(stdout, stats.db_size);
    printf(", the backup ");
    print_size(stdout, stats.out_size);
    printf(", in %.1f s.\nNode ID: %s\n",
           (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9, nid);
    printf("Keep the backup passphrase safe: without it nobody, you included, can read the "
           "backup.\n");
    return 0;
}

int
cmd_restore_backup(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"backup", required_argument, NULL, 'b'},
        {"home", required_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *home_opt = NULL;
    int c;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b') {
            file = optarg;
        } else if (c == 'H') {
            home_opt = optarg;
        } else {
            return cli_usage_error("restore", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (file == NULL || argc != optind) {
        return cli_usage_error("restore", "--backup FILE takes no REF");
    }
    if (home_opt != NULL && g->home != NULL && strcmp(home_opt, g->home) != 0) {
        return cli_usage_error("restore", "two different --home directories");
    }
    if (home_opt != NULL) {
        g->home = home_opt;
    }
    const char *home = cli_home(g);
    if (home == NULL) {
        return 1;
    }
    char err[512] = "";
    if (kith_backup_home_check(home, err, sizeof(err)) != KITH_OK) {
        cli_error("%s", err);
        return 1;
    }
    char *pass = cli_read_secret(BACKUP_PASS_ENV, "Backup passphrase: ", 0);
    if (pass == NULL) {
        return 1;
    }
    kith_backup_opts_t o = {0, 0, step_delay, print_note, NULL, NULL};
    kith_backup_t *b = NULL;
    char *node_pass = NULL;
    int ret = 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = kith_backup_open(file, pass, &o, &b, err, sizeof(err));
    cli_passphrase_free(pass);
    if (rc != KITH_OK) {
        cli_error("%s; nothing restored", err[0] ? err : kith_strerror(rc));
        goto out;
    }
    step_delay(NULL, "checked");
    if (kith_backup_summary(b)->identity_sealed) {
        node_pass = cli_read_passphrase("Passphrase of the node in the backup: ", 0);
        if (node_pass == NULL) {
            goto out;
        }
    }
    kith_store_check_t check;
    rc = kith_backup_restore(b, home, node_pass, &o, &check, err, sizeof(err));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != KITH_OK) {
        cli_error("%s; nothing restored", err[0] ? err : kith_strerror(rc));
        goto out;
    }
    uint8_t pk[KITH_PK_LEN];
    char nid[KITH_NODEID_BUFSIZE] = "?";
    if (kith_node_public_key(home, pk, NULL, 0) == KITH_OK) {
        kith_nodeid_encode(pk, nid);
    }
    printf("Restored %s into %s: %llu records, %llu ops, checked, in %.1f s.\nNode ID: %s\n", file,
           home, (unsigned long long) check.records, (unsigned long long) check.ops,
           (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9, nid);
    printf("This is the same node as the one backed up: do not run both at once.\n");
    ret = 0;
out:
    cli_passphrase_free(node_pass);
    kith_backup_free(b);
    return ret;
}
