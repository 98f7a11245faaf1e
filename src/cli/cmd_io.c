/*
 * kith import and export.
 *
 * import vcard|linkedin|csv: the file is read here, and node/import.h does the rest: it
 * parses the whole file and checks every value before one transaction writes it, matching
 * each card against the records held. This file prints what it reports. By default an
 * import forgives: a value that cannot be read or does not fit its field is left out, a
 * vCard that is broken (no END:VCARD, no name) is left out whole, each is reported on stderr
 * with its line, and everything else is imported; the exit status is then 1. With --strict
 * an import is all or nothing: the first problem leaves the store untouched. Hard limits
 * (file size, line length, number of cards) refuse the whole file either way.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "formats/card.h"
#include "formats/opsjson.h"
#include "formats/vcard.h"
#include "kith/error.h"
#include "node/cardbook.h"
#include "node/import.h"
#include "node/jsonio.h"
#include "node/match.h"
#include "node/recview.h"
#include "util/json.h"

#define GETOPT_BEGIN() (optind = 0, opterr = 0)
#define IMPORT_MAX     KITH_IMPORT_MAX
#define SKIPS_SHOWN    200 /* skip reports printed; the rest are only counted */

/* Where an import's reports are printed: path names the file, n_skips counts them. */
typedef struct {
    const char *path;
    size_t n_skips;
} report_t;

/* Prints one thing left out: prop NULL means a whole card. */
static void
on_skip(void *ctx, unsigned line, const char *prop, const char *why)
{
    report_t *r = ctx;
    size_t n = r->n_skips++;
    if (n < SKIPS_SHOWN) {
        if (prop == NULL) {
            fprintf(stderr, "kith: %s: line %u: card skipped: %s\n", r->path, line, why);
        } else if (prop[0] == '\0') {
            fprintf(stderr, "kith: %s: line %u: line skipped: %s\n", r->path, line, why);
        } else {
            fprintf(stderr, "kith: %s: line %u: %s skipped: %s\n", r->path, line, prop, why);
        }
    } else if (n == SKIPS_SHOWN) {
        fprintf(stderr, "kith: %s: more skipped; only the first %d are listed\n", r->path,
                SKIPS_SHOWN);
    }
}

static void
on_note(void *ctx, const kith_import_note_t *nt)
{
    report_t *r = ctx;
    if (nt->kind == KITH_IMPORT_UNKNOWN_FIELD) {
        fprintf(stderr, "kith: %s: '%s' is not a kith field; ignored (see 'kith help fields')\n",
                r->path, nt->field);
    } else if (nt->kind == KITH_IMPORT_AMBIGUOUS) {
        char hex[KITH_MATCH_UID_LEN + 1];
        kith_match_uid_format(nt->rec, hex);
        fprintf(stderr,
                "kith: %s: line %u: the card matches %zu records (one is %s); imported as "
                "a new record, merge by hand\n",
                r->path, nt->line, nt->n_found, hex + 9);
    } else if (nt->kind == KITH_IMPORT_READ_ONLY) {
        fprintf(stderr,
                "kith: %s: line %u: '%s' is not yours to edit (shared with you "
                "read-only); left alone\n",
                r->path, nt->line, nt->name);
    }
}

static int
bad_option(const char *cmd, char **argv)
{
    return cli_usage_error(cmd, "unknown option or missing value: '%s'", argv[optind - 1]);
}

/* Reads a whole file (or stdin for "-") into out, at most IMPORT_MAX bytes. */
static int
read_input(const char *path, kith_buf_t *out)
{
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[65536];
    int ret = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            cli_error("cannot read %s: %s", path, strerror(errno));
            ret = -1;
            break;
        }
        if (r == 0) {
            break;
        }
        if (out->len + (size_t) r > IMPORT_MAX) {
            cli_error("%s is larger than %zu MiB; split it", path, IMPORT_MAX >> 20);
            ret = -1;
            break;
        }
        if (kith_buf_append(out, chunk, (size_t) r) != KITH_OK) {
            cli_error("out of memory");
            ret = -1;
            break;
        }
    }
    if (fd != 0) {
        close(fd);
    }
    return ret;
}

/* kith import json: the signed ops of an export, verified and applied in one
 * transaction (node/jsonio.h). The readable fields of the file are not read. */
static int
import_json(cli_globals_t *g, const char *path)
{
    kith_buf_t data;
    kith_buf_init(&data);
    kith_opsjson_t f;
    memset(&f, 0, sizeof(f));
    kith_node_t *n = NULL;
    char err[512] = "";
    int ret = 1;
    if (read_input(path, &data) != 0) {
        goto out;
    }
    int rc = kith_opsjson_parse(data.data ? (const char *) data.data : "", data.len, &f, err,
                                sizeof(err));
    kith_buf_close(&data);
    if (rc != KITH_OK) {
        cli_error("%s: %s; nothing imported", path, err[0] ? err : kith_strerror(rc));
        goto out;
    }
    n = cli_open_node(g);
    if (n == NULL) {
        goto out;
    }
    kith_import_stats_t st;
    kith_store_set_cache_kib(n->store, f.n_recs > 10000 ? 128 * 1024 : 32 * 1024);
    rc = kith_node_import_ops(n, &f, &st, err, sizeof(err));
    if (rc != KITH_OK) {
        cli_error("%s: %s; nothing imported", path,
                  rc == KITH_EAUTH && err[0] ? err : kith_strerror(rc));
        goto out;
    }
    printf("Imported %zu record%s from %s: %zu new op%s, %zu already held\n", st.records,
           st.records == 1 ? "" : "s", path, st.accepted, st.accepted == 1 ? "" : "s",
           st.duplicate);
    if (st.accepted > 0) {
        cli_poke(n->dir);
    }
    ret = 0;
out:
    kith_opsjson_close(&f);
    kith_buf_close(&data);
    kith_node_close(n);
    return ret;
}

int
cmd_import(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"share", required_argument, NULL, 'S'},
        {"read-only", no_argument, NULL, 'r'},
        {"strict", no_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    report_t rep = {0};
    kith_import_opts_t o = {.on_skip = on_skip, .on_note = on_note, .ctx = &rep};
    kith_import_result_t res = {0};
    kith_import_t *imp = NULL;
    char **target_args = calloc((size_t) argc, sizeof(char *));
    kith_share_target_t *targets = calloc((size_t) argc, sizeof(*targets));
    size_t n_targets = 0;
    int json = 0, c, ret = EXIT_USAGE;
    kith_buf_t data, out;
    kith_buf_init(&data);
    kith_buf_init(&out);
    kith_node_t *n = NULL;
    if (target_args == NULL || targets == NULL) {
        free(target_args);
        free(targets);
        return 1;
    }
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'S') {
            target_args[n_targets++] = optarg;
        } else if (c == 'r') {
            o.read_only = 1;
        } else if (c == 's') {
            o.strict = 1;
        } else if (c == 'j') {
            json = 1;
        } else {
            ret = bad_option("import", argv);
            goto out;
        }
    }
    if (argc - optind != 2) {
        ret = cli_usage_error("import", "needs a format (vcard, linkedin, csv or json) and a FILE");
        goto out;
    }
    const char *format = argv[optind], *path = argv[optind + 1];
    if (strcmp(format, "json") == 0) {
        ret = n_targets > 0 || o.read_only
                  ? cli_usage_error("import", "--share and --read-only are not for json: the "
                                              "records keep the audience their ops give them")
              : o.strict ? cli_usage_error("import", "--strict is not for json: a json import "
                                                     "is always all or nothing")
              : json     ? cli_usage_error("import", "--json is for vcard, linkedin and csv")
                         : import_json(g, path);
        goto out;
    }
    if (strcmp(format, "vcard") != 0 && strcmp(format, "linkedin") != 0 &&
        strcmp(format, "csv") != 0) {
        ret = cli_usage_error("import", "unknown format '%s': use vcard, linkedin, csv or json",
                              format);
        goto out;
    }
    ret = 1;
    o.format = format;
    rep.path = path;
    if (read_input(path, &data) != 0) {
        goto out;
    }
    char err[512] = "";
    int rc = kith_import_new((const char *) data.data, data.len, &o, &imp, &res, err, sizeof(err));
    if (rc != KITH_OK && res.err_line > 0) {
        cli_error("%s: line %u: %s", path, res.err_line, err);
        fprintf(stderr, "kith: nothing imported\n");
        goto out;
    }
    if (rc != KITH_OK) {
        cli_error("%s: %s; nothing imported", path, err);
        goto out;
    }
    /* The parsed cards are all we need from here on. */
    kith_buf_close(&data);
    n = cli_open_node(g);
    if (n == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n_targets; i++) {
        if (cli_share_target(n, target_args[i], &targets[i]) != 0) {
            fprintf(stderr, "kith: nothing imported\n");
            goto out;
        }
    }
    o.targets = targets;
    o.n_targets = n_targets;
    rc = kith_import_apply(n, imp, &o, &res, err, sizeof(err));
    if (rc != KITH_OK && res.err_line > 0) {
        cli_error("%s: line %u: %s", path, res.err_line, err);
        fprintf(stderr, "kith: nothing imported\n");
        goto out;
    }
    if (rc != KITH_OK) {
        cli_error("%s", err);
        goto out;
    }
    if (json) {
        kith_json_t j;
        kith_json_init(&j, &out, 1);
        kith_import_result_json(&res, &j);
        if (kith_json_finish(&j) != KITH_OK || cli_write_stdout(&out) != 0) {
            cli_error("cannot write the result: %s", kith_strerror(KITH_ENOMEM));
        }
    } else {
        printf("Imported %zu new record%s from %s (%zu updated, %zu unchanged, %zu ambiguous, "
               "%zu read-only skipped)\n",
               res.added, res.added == 1 ? "" : "s", path, res.updated, res.unchanged,
               res.ambiguous, res.read_only);
    }
    cli_poke(n->dir);
    ret = 0;
    if (res.skipped_values + res.skipped_cards > 0) {
        /* Said last, on stderr, where the reports are: exit status 1 says it too. */
        fprintf(stderr,
                "kith: %s: %zu card%s imported; skipped %zu value%s and %zu card%s (see above)\n",
                path, res.cards, res.cards == 1 ? "" : "s", res.skipped_values,
                res.skipped_values == 1 ? "" : "s", res.skipped_cards,
                res.skipped_cards == 1 ? "" : "s");
        ret = 1;
    }
out:
    kith_import_free(imp);
    kith_import_result_close(&res);
    free(targets);
    free(target_args);
    kith_buf_close(&data);
    kith_buf_close(&out);
    kith_node_close(n);
    return ret;
}

typedef struct {
    kith_node_t *node;
    kith_buf_t *out;
    kith_json_t *json;
    int vcard_version; /* 0: JSON */
    int all;
    int no_private; /* JSON: leave out the private layer and private ops */
    size_t count;
    size_t n_private;    /* JSON: records with private fields, plus private ops, exported */
    kith_buf_t b64;      /* JSON: scratch for one op's base64 */
    kith_recview_t view; /* JSON: the records' owners and audiences, named */
} export_ctx_t;

/* One record as JSON: its readable fields, then "ops", its signed ops in fold order as
 * base64 (what 'kith import json' reads). */
static int
export_json(export_ctx_t *e, const kith_record_t *r)
{
    kith_rfield_t *shared = NULL;
    kith_record_t view = *r; /* shallow: never closed */
    size_t n_priv_fields = 0;
    for (size_t i = 0; i < r->n_fields; i++) {
        n_priv_fields += r->fields[i].private != 0;
    }
    if (e->no_private && n_priv_fields > 0) {
        shared = calloc(r->n_fields, sizeof(*shared));
        if (shared == NULL) {
            return KITH_ENOMEM;
        }
        view.n_fields = 0;
        for (size_t i = 0; i < r->n_fields; i++) {
            if (!r->fields[i].private) {
                shared[view.n_fields++] = r->fields[i];
            }
        }
        view.fields = shared;
    }
    kith_signed_ops_t ops;
    int rc = kith_node_record_ops(e->node, r->id, !e->no_private, &ops);
    if (rc == KITH_OK) {
        e->n_private += ops.n_private + (!e->no_private && n_priv_fields > 0);
        kith_recview_record(&e->view, &view, KITH_RECVIEW_OPEN, e->json);
        kith_json_key(e->json, "ops");
        kith_json_array_begin(e->json);
    }
    for (size_t i = 0; rc == KITH_OK && i < ops.n; i++) {
        size_t cap = sodium_base64_ENCODED_LEN(ops.ops[i].len, sodium_base64_VARIANT_ORIGINAL);
        e->b64.len = 0;
        rc = kith_buf_reserve(&e->b64, cap);
        if (rc == KITH_OK) {
            sodium_bin2base64((char *) e->b64.data, cap, ops.ops[i].data, ops.ops[i].len,
                              sodium_base64_VARIANT_ORIGINAL);
            kith_json_string(e->json, (const char *) e->b64.data);
        }
    }
    if (rc == KITH_OK) {
        kith_json_array_end(e->json);
        kith_json_object_end(e->json);
    }
    kith_signed_ops_close(&ops);
    free(shared);
    return rc;
}

static int
export_one(void *ctx, const kith_record_t *r)
{
    export_ctx_t *e = ctx;
    e->count++;
    if (e->vcard_version == 0) {
        return export_json(e, r);
    }
    kith_card_t card;
    kith_card_init(&card);
    int rc = kith_card_from_record(r, e->all, 0, &card);
    if (rc == KITH_OK) {
        rc = kith_vcard_write(&card, e->vcard_version, e->out);
    }
    kith_card_close(&card);
    return rc;
}

int
cmd_export(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"v3", no_argument, NULL, '3'},           {"all", no_argument, NULL, 'a'},
        {"output", required_argument, NULL, 'o'}, {"no-private", no_argument, NULL, 'P'},
        {"deleted", no_argument, NULL, 'D'},      {NULL, 0, NULL, 0},
    };
    int v3 = 0, all = 0, no_private = 0, deleted = 0, c, ret = EXIT_USAGE;
    const char *outpath = NULL;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == '3') {
            v3 = 1;
        } else if (c == 'a') {
            all = 1;
        } else if (c == 'o') {
            outpath = optarg;
        } else if (c == 'P') {
            no_private = 1;
        } else if (c == 'D') {
            deleted = 1;
        } else {
            return bad_option("export", argv);
        }
    }
    if (argc - optind < 1) {
        return cli_usage_error("export", "needs a format: vcard or json");
    }
    const char *format = argv[optind];
    int json = strcmp(format, "json") == 0;
    if (!json && strcmp(format, "vcard") != 0) {
        return cli_usage_error("export", "unknown format '%s': use vcard or json", format);
    }
    if (json && v3) {
        return cli_usage_error("export", "--v3 is for vcard");
    }
    if (deleted && (!json || optind + 1 < argc)) {
        return cli_usage_error("export", "--deleted is for json, without REF");
    }
    if (!json && no_private) {
        return cli_usage_error("export", "--no-private is for json (vcard leaves private "
                                         "fields out unless --all)");
    }
    kith_node_t *n = cli_open_node(g);
    if (n == NULL) {
        return 1;
    }
    kith_buf_t out;
    kith_buf_init(&out);
    kith_json_t j;
    kith_json_init(&j, &out, 1);
    export_ctx_t e = {n, &out, &j, json ? 0 : (v3 ? 3 : 4), all, no_private, 0, 0, {0}, {0}};
    kith_buf_init(&e.b64);
    kith_recview_init(&e.view, n);
    int rc = KITH_OK;
    ret = 1;
    if (json) {
        kith_json_array_begin(&j);
    }
    if (optind + 1 == argc) {
        rc = kith_store_foreach_record(n->store, export_one, &e);
    }
    /* The trash too, on request: a backup then keeps deleted records and their history
     * ("deleted": true tells them apart). */
    if (optind + 1 == argc && deleted && rc == KITH_OK) {
        rc = kith_store_foreach_deleted(n->store, export_one, &e);
    }
    for (int i = optind + 1; i < argc && rc == KITH_OK; i++) {
        uint8_t id[KITH_REC_ID_LEN];
        kith_record_t r;
        if (cli_resolve(n, argv[i], id) != 0) {
            goto out;
        }
        rc = kith_store_record_get(n->store, id, &r);
        if (rc == KITH_OK) {
            rc = export_one(&e, &r);
            kith_record_close(&r);
        }
    }
    if (json) {
        kith_json_array_end(&j);
        if (rc == KITH_OK) {
            rc = kith_json_finish(&j);
        }
    }
    if (rc != KITH_OK) {
        cli_error("cannot export: %s", kith_strerror(rc));
        goto out;
    }
    if (json && e.n_private > 0) {
        fprintf(stderr,
                "kith: the export holds private fields and private ops (yours alone): keep it "
                "to yourself, or leave them out with --no-private\n");
    }
    if (outpath == NULL || strcmp(outpath, "-") == 0) {
        ret = cli_write_stdout(&out) == 0 ? 0 : 1;
        goto out;
    }
    /* The file may hold intelligence: create it readable by its owner only. */
    int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (out.len > 0 && write(fd, out.data, out.len) != (ssize_t) out.len) ||
        close(fd) != 0) {
        cli_error("cannot write %s: %s", outpath, strerror(errno));
        goto out;
    }
    fprintf(stderr, "Exported %zu record%s to %s\n", e.count, e.count == 1 ? "" : "s", outpath);
    ret = 0;
out:
    kith_buf_close(&e.b64);
    kith_buf_close(&out);
    kith_node_close(n);
    return ret;
}
