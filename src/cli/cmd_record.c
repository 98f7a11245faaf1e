/*
 * kith add, edit, show, list, search, log, rm, share, unshare.
 */
#define _GNU_SOURCE /* qsort_r, open_memstream */
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/change.h"
#include "node/recview.h"
#include "node/share.h"
#include "kith/error.h"
#include "model/schema.h"
#include "util/hlc.h"
#include "util/json.h"
#include "util/textfold.h"

#define GETOPT_BEGIN() (optind = 0, opterr = 0)

static int
bad_option(const char *cmd, char **argv)
{
    return cli_usage_error(cmd, "unknown option or missing value: '%s'", argv[optind - 1]);
}

/* Resolves a share target (a peer's name or @group) into out, printing why not; notes a
 * group that has no members yet. */
static int
check_target(kith_node_t *n, const char *text, kith_share_target_t *out)
{
    if (cli_share_target(n, text, out) != 0) {
        return -1;
    }
    if (out->is_group) {
        kith_peer_t *peers = NULL;
        size_t count = 0, members = 0;
        if (kith_store_peer_list(n->store, &peers, &count) == KITH_OK) {
            for (size_t i = 0; i < count; i++) {
                members += (size_t) kith_peer_in_group(&peers[i], out->group);
            }
        }
        kith_peers_free(peers, count);
        if (members == 0) {
            fprintf(stderr,
                    "kith: note: group %s has no members yet; peers added to it later "
                    "will be included\n",
                    text);
        }
    }
    return 0;
}

int
cmd_add(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},    {"set", required_argument, NULL, 's'},
        {"private", required_argument, NULL, 'p'}, {"share", required_argument, NULL, 'S'},
        {"read-only", no_argument, NULL, 'r'},     {NULL, 0, NULL, 0},
    };
    cli_change_t ch;
    cli_change_init(&ch);
    char **targets = calloc((size_t) argc, sizeof(char *));
    kith_share_target_t *resolved = calloc((size_t) argc, sizeof(*resolved));
    size_t n_targets = 0;
    const char *name = NULL;
    int read_only = 0, c, ret = EXIT_USAGE;
    kith_node_t *n = NULL;
    if (targets == NULL || resolved == NULL) {
        free(targets);
        free(resolved);
        cli_error("out of memory");
        return 1;
    }
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            name = optarg;
            break;
        case 's':
        case 'p':
            if (cli_change_arg(&ch, c == 's' ? CLI_CHANGE_SET : CLI_CHANGE_PRIVATE, optarg) != 0) {
                goto out;
            }
            break;
        case 'S':
            targets[n_targets++] = optarg;
            break;
        case 'r':
            read_only = 1;
            break;
        default:
            ret = bad_option("add", argv);
            goto out;
        }
    }
    if (argc - optind != 1) {
        ret = cli_usage_error("add", "needs the kind: person or org");
        goto out;
    }
    int kind = kith_schema_kind_parse(argv[optind]);
    if (kind < 0) {
        ret = cli_usage_error("add", "'%s' is not a kind: use person or org", argv[optind]);
        goto out;
    }
    if (name == NULL) {
        ret = cli_usage_error("add", "--name NAME is required");
        goto out;
    }
    if (cli_change_arg_kv(&ch, CLI_CHANGE_SET, "name", name) != 0) {
        goto out;
    }
    ret = 1;
    n = cli_open_node(g);
    if (n == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n_targets; i++) {
        if (check_target(n, targets[i], &resolved[i]) != 0) {
            goto out;
        }
    }
    const kith_edit_t *edits;
    size_t n_edits;
    if (cli_change_edits(&ch, n, &edits, &n_edits) != 0) {
        goto out;
    }
    kith_edit_result_t res;
    char err[512] = "";
    int rc = kith_node_add_record(n, kind, edits, n_edits, resolved, n_targets,
                                  read_only ? KITH_ROLE_READER : KITH_ROLE_EDITOR,
                                  kith_hlc_now_ms(), &res, err, sizeof(err));
    if (rc != KITH_OK) {
        cli_error("cannot add the record: %s", err[0] ? err : kith_strerror(rc));
        goto out;
    }
    char hex[33];
    cli_id_hex(res.id, hex);
    printf("%s\n", hex);
    cli_poke(n->dir);
    ret = 0;
out:
    free(targets);
    free(resolved);
    cli_change_close(&ch);
    kith_node_close(n);
    return ret;
}

int
cmd_edit(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"set", required_argument, NULL, 's'},     {"add", required_argument, NULL, 'a'},
        {"remove", required_argument, NULL, 'r'},  {"unset", required_argument, NULL, 'u'},
        {"private", required_argument, NULL, 'p'}, {"publish", required_argument, NULL, 'P'},
        {"yes", no_argument, NULL, 'y'},           {NULL, 0, NULL, 0},
    };
    cli_change_t ch;
    cli_change_init(&ch);
    int c, ret = EXIT_USAGE, yes = 0, publishing = 0;
    kith_node_t *n = NULL;
    kith_record_t rec;
    kith_record_init(&rec);
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "y", opts, NULL)) != -1) {
        if (c == 'y') {
            yes = 1;
            continue;
        }
        int mode = c == 's'   ? CLI_CHANGE_SET
                   : c == 'a' ? CLI_CHANGE_ADD
                   : c == 'r' ? CLI_CHANGE_REMOVE
                   : c == 'u' ? CLI_CHANGE_UNSET
                   : c == 'p' ? CLI_CHANGE_PRIVATE
                   : c == 'P' ? CLI_CHANGE_PUBLISH
                              : -1;
        if (mode < 0) {
            ret = bad_option("edit", argv);
            goto out;
        }
        if (cli_change_arg(&ch, mode, optarg) != 0) {
            goto out;
        }
        publishing |= mode == CLI_CHANGE_PUBLISH;
    }
    if (argc - optind != 1) {
        ret = cli_usage_error("edit", "needs exactly one REF");
        goto out;
    }
    if (ch.n == 0) {
        ret = cli_usage_error(
            "edit",
            "nothing to change: give --set, --add, --remove, --unset, --private or --publish");
        goto out;
    }
    ret = 1;
    n = cli_open_node(g);
    uint8_t id[KITH_REC_ID_LEN];
    if (n == NULL || cli_resolve(n, argv[optind], id) != 0) {
        goto out;
    }
    int rc = kith_store_record_get(n->store, id, &rec);
    if (rc != KITH_OK) {
        cli_error("cannot read the record: %s", kith_strerror(rc));
        goto out;
    }
    if (publishing && !cli_confirm(yes, 0,
                                   "Publish to the shared record of '%s'? It is shared with %zu "
                                   "peer%s, who will see the value.",
                                   kith_record_name(&rec), rec.n_aud, rec.n_aud == 1 ? "" : "s")) {
        printf("Nothing published.\n");
        goto out;
    }
    const kith_edit_t *edits;
    size_t n_edits;
    if (cli_change_edits(&ch, n, &edits, &n_edits) != 0) {
        goto out;
    }
    kith_edit_result_t res;
    char err[512] = "";
    rc = kith_node_edit(n, id, edits, n_edits, kith_hlc_now_ms(), &res, err, sizeof(err));
    if (rc != KITH_OK) {
        if (err[0]) {
            cli_error("%s", err);
        } else {
            cli_error("cannot edit the record: %s", kith_strerror(rc));
        }
        goto out;
    }
    char hex[33];
    cli_id_hex(id, hex);
    printf("Updated %s (%.8s)%s\n", kith_record_name(&rec), hex,
           res.shared == 0 ? ", privately" : "");
    if (res.kept_private > 0) {
        printf("Note: %s is private on this node, so the change stayed private "
               "('kith edit %.8s --publish %s' shares it).\n",
               res.first_kept, hex, res.first_kept);
    }
    cli_poke(n->dir);
    ret = 0;
out:
    kith_record_close(&rec);
    cli_change_close(&ch);
    kith_node_close(n);
    return ret;
}

/* Parses "[--json]" plus exactly `want` positional arguments. */
static int
simple_args(const char *cmd, int argc, char **argv, int want, int *json, int *first)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int c;
    *json = 0;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j' && json != NULL) {
            *json = 1;
        } else {
            return bad_option(cmd, argv);
        }
    }
    if (argc - optind != want) {
        return want ? cli_usage_error(cmd, "needs exactly one %s",
                                      strcmp(cmd, "search") == 0 ? "TEXT" : "REF")
                    : cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    }
    *first = optind;
    return 0;
}

/* Opens the node and resolves REF, deleted records included; NULL after saying why. */
static kith_node_t *
open_ref(cli_globals_t *g, const char *ref, uint8_t id[KITH_REC_ID_LEN])
{
    kith_node_t *n = cli_open_node(g);
    if (n != NULL && cli_resolve_any(n, ref, id) != 0) {
        kith_node_close(n);
        n = NULL;
    }
    return n;
}

int
cmd_show(cli_globals_t *g, int argc, char **argv)
{
    int json, first;
    int u = simple_args("show", argc, argv, 1, &json, &first);
    if (u != 0) {
        return u;
    }
    uint8_t id[KITH_REC_ID_LEN];
    kith_node_t *n = open_ref(g, argv[first], id);
    if (n == NULL) {
        return 1;
    }
    kith_record_t rec;
    int rc = kith_store_record_get(n->store, id, &rec), ret = 1;
    if (rc != KITH_OK) {
        cli_error("cannot read the record: %s", kith_strerror(rc));
    } else if (json) {
        kith_buf_t out;
        kith_buf_init(&out);
        kith_json_t j;
        kith_json_init(&j, &out, 1);
        kith_recview_record_json(n, &rec, 1, &j);
        ret = kith_json_finish(&j) == KITH_OK && cli_write_stdout(&out) == 0 ? 0 : 1;
        kith_buf_close(&out);
    } else {
        cli_record_print(n, &rec, stdout);
        ret = 0;
    }
    kith_record_close(&rec);
    kith_node_close(n);
    return ret;
}

/* Records collected for list and search: only what is printed (a line, or a JSON
 * object) and the sort key, so that listing 100,000 records does not hold them all
 * decoded in memory. Sorted by folded name, then id. */
typedef struct {
    char **keys;  /* folded name, then the id in hex: unique */
    char **texts; /* the line or the JSON object */
    size_t n, cap;
    int kind; /* -1: any */
    int json;
    kith_node_t *node;
    kith_recview_t view; /* json: names owners and audiences */
} collection_t;

static int
collect(void *ctx, const kith_record_t *r)
{
    collection_t *c = ctx;
    if (c->kind >= 0 && r->kind != c->kind) {
        return KITH_OK;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        char **k = realloc(c->keys, cap * sizeof(*k));
        if (k == NULL) {
            return KITH_ENOMEM;
        }
        c->keys = k;
        char **t = realloc(c->texts, cap * sizeof(*t));
        if (t == NULL) {
            return KITH_ENOMEM;
        }
        c->texts = t;
        c->cap = cap;
    }
    kith_buf_t key, text;
    kith_buf_init(&key);
    kith_buf_init(&text);
    char hex[33];
    cli_id_hex(r->id, hex);
    const char *name = kith_record_name(r);
    int rc = kith_textfold(name, strlen(name), &key);
    if (rc == KITH_OK) {
        rc = kith_buf_printf(&key, "%c%s", 1, hex);
    }
    if (rc == KITH_OK && c->json) {
        kith_json_t j;
        kith_json_init(&j, &text, 1);
        kith_recview_record(&c->view, r, 0, &j);
        rc = kith_json_finish(&j);
    } else if (rc == KITH_OK) {
        FILE *mem = NULL;
        char *line = NULL;
        size_t line_len = 0;
        mem = open_memstream(&line, &line_len);
        if (mem == NULL) {
            rc = KITH_ENOMEM;
        } else {
            uint64_t since;
            cli_record_line(r,
                            kith_recview_unshared_since(c->node, r, &since)
                                ? "no longer shared with you"
                                : NULL,
                            mem);
            fclose(mem);
            rc = kith_buf_append(&text, line, line_len);
            free(line);
        }
    }
    if (rc != KITH_OK || (c->keys[c->n] = kith_buf_steal(&key)) == NULL) {
        kith_buf_close(&key);
        kith_buf_close(&text);
        return rc ? rc : KITH_ENOMEM;
    }
    if ((c->texts[c->n] = kith_buf_steal(&text)) == NULL) {
        free(c->keys[c->n]);
        return KITH_ENOMEM;
    }
    c->n++;
    return KITH_OK;
}

static int
cmp_key(const void *a, const void *b, void *ctx)
{
    const collection_t *c = ctx;
    return strcmp(c->keys[*(const size_t *) a], c->keys[*(const size_t *) b]);
}

static int
print_collection(collection_t *c, const char *empty)
{
    size_t *order = malloc((c->n ? c->n : 1) * sizeof(*order));
    int ret = 0;
    if (order == NULL) {
        cli_error("out of memory");
        return 1;
    }
    for (size_t i = 0; i < c->n; i++) {
        order[i] = i;
    }
    qsort_r(order, c->n, sizeof(*order), cmp_key, c);
    if (c->json) {
        /* One JSON array of the objects (each rendered on its own, hence unindented). */
        fputs(c->n ? "[\n" : "[]\n", stdout);
        for (size_t i = 0; i < c->n; i++) {
            const char *t = c->texts[order[i]];
            size_t len = strlen(t);
            while (len > 0 && t[len - 1] == '\n') {
                len--;
            }
            fwrite(t, 1, len, stdout);
            fputs(i + 1 < c->n ? ",\n" : "\n]\n", stdout);
        }
    } else {
        for (size_t i = 0; i < c->n; i++) {
            fputs(c->texts[order[i]], stdout);
        }
        if (c->n == 0 && empty != NULL) {
            fprintf(stderr, "%s\n", empty);
        }
    }
    if (fflush(stdout) != 0) {
        cli_error("cannot write the output");
        ret = 1;
    }
    free(order);
    return ret;
}

/* After a walk: say if damaged records were passed over. */
static void
warn_skipped(kith_node_t *n)
{
    uint64_t k = kith_store_skipped(n->store);
    if (k > 0) {
        fprintf(stderr,
                "kith: warning: %llu damaged record%s could not be read; run 'kith "
                "doctor'\n",
                (unsigned long long) k, k == 1 ? "" : "s");
    }
}

static void
collection_close(collection_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->texts[i]);
    }
    free(c->keys);
    free(c->texts);
}

int
cmd_list(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"kind", required_argument, NULL, 'k'},
        {"deleted", no_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, deleted = 0, c;
    collection_t col = {NULL, NULL, 0, 0, -1, 0, NULL, {0}};
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 'd') {
            deleted = 1;
        } else if (c == 'k') {
            col.kind = kith_schema_kind_parse(optarg);
            if (col.kind < 0) {
                return cli_usage_error("list", "'%s' is not a kind: use person or org", optarg);
            }
        } else {
            return bad_option("list", argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("list", "unexpected argument '%s'", argv[optind]);
    }
    kith_node_t *n = cli_open_node(g);
    if (n == NULL) {
        return 1;
    }
    col.json = json;
    col.node = n;
    kith_recview_init(&col.view, n);
    int rc = deleted ? kith_store_foreach_deleted(n->store, collect, &col)
                     : kith_store_foreach_record(n->store, collect, &col);
    int ret = 1;
    if (rc != KITH_OK) {
        cli_error("cannot read the records: %s", kith_strerror(rc));
    } else {
        ret = print_collection(&col, deleted ? "No deleted records."
                                             : "No records yet. Add one with 'kith add'.");
        warn_skipped(n);
    }
    collection_close(&col);
    kith_node_close(n);
    return ret;
}

int
cmd_search(cli_globals_t *g, int argc, char **argv)
{
    int json, first;
    int u = simple_args("search", argc, argv, 1, &json, &first);
    if (u != 0) {
        return u;
    }
    if (argv[first][0] == '\0') {
        return cli_usage_error("search", "the search text is empty");
    }
    kith_node_t *n = cli_open_node(g);
    if (n == NULL) {
        return 1;
    }
    collection_t col = {NULL, NULL, 0, 0, -1, json, n, {0}};
    kith_recview_init(&col.view, n);
    int rc = kith_store_search(n->store, argv[first], collect, &col), ret = 1;
    if (rc != KITH_OK) {
        cli_error("cannot search: %s", kith_strerror(rc));
    } else {
        ret = print_collection(&col, "No record matches.");
        warn_skipped(n);
    }
    collection_close(&col);
    kith_node_close(n);
    return ret;
}

/* A value for a log line: "(unset)", the text, the number, or a list's items. */
static void
print_log_value(FILE *out, const kith_rfield_t *f)
{
    if (f == NULL) {
        fputs("(unset)", out);
    } else if (f->value.type == KITH_V_INT) {
        fprintf(out, "%lld", (long long) f->value.num);
    } else if (f->value.type == KITH_V_STR) {
        fprintf(out, "\"%s\"", f->value.str);
    } else {
        fputc('[', out);
        for (size_t i = 0; i < f->value.n_items; i++) {
            fprintf(out, "%s%s", i ? ", " : "", f->value.items[i]);
        }
        fputc(']', out);
    }
}

/* The walk's callbacks for kith log's text: a heading, then each op. ctx is the node. */
static int
log_text_begin(void *ctx, const kith_record_t *rec)
{
    (void) ctx;
    printf("History of %s%s:\n", kith_record_name(rec), rec->deleted ? " (deleted)" : "");
    return KITH_OK;
}

static int
log_text(void *ctx, const kith_op_t *op, int eff, const kith_record_t *before,
         const kith_record_t *after)
{
    kith_node_t *n = ctx;
    char when[20], who[KITH_RECVIEW_LABEL_LEN];
    kith_hlc_format(op->hlc, when);
    kith_recview_key_label(n, op->author, who);
    printf("%s  %-12s%s%s\n", when, who, op->private ? "  (private)" : "",
           eff ? "" : "  (ignored: not an editor at the time)");
    if (op->kind >= 0) {
        printf("    created %s\n", kith_schema_kind_name(op->kind));
    }
    if (op->del >= 0) {
        printf("    %s\n", op->del ? "deleted" : "restored");
    }
    if (op->has_aud) {
        printf("    shared with ");
        if (op->n_aud == 0) {
            printf("nobody");
        }
        for (size_t i = 0; i < op->n_aud; i++) {
            char label[KITH_RECVIEW_LABEL_LEN];
            kith_recview_key_label(n, op->aud[i].key, label);
            printf("%s%s (%s)", i ? ", " : "", label,
                   op->aud[i].role == KITH_ROLE_EDITOR ? "editor" : "reader");
        }
        printf("\n");
    }
    const char *names[3 * KITH_OP_MAX_SET];
    size_t nn = kith_recview_touched_fields(op, names, sizeof(names) / sizeof(names[0]));
    for (size_t i = 0; i < nn; i++) {
        int layer = op->private != 0;
        printf("    %s%s: ", names[i], layer ? " (private)" : "");
        print_log_value(stdout, kith_record_field_in(before, names[i], layer));
        printf(" -> ");
        print_log_value(stdout, kith_record_field_in(after, names[i], layer));
        printf("\n");
    }
    return KITH_OK;
}

int
cmd_log(cli_globals_t *g, int argc, char **argv)
{
    int first, json;
    int u = simple_args("log", argc, argv, 1, &json, &first);
    if (u != 0) {
        return u;
    }
    uint8_t id[KITH_REC_ID_LEN];
    kith_node_t *n = open_ref(g, argv[first], id);
    if (n == NULL) {
        return 1;
    }
    kith_buf_t out;
    kith_buf_init(&out);
    kith_json_t j;
    kith_json_init(&j, &out, 1);
    int ret = 1, rc;
    if (json) {
        rc = kith_recview_history_json(n, id, &j);
    } else {
        static const kith_recview_walk_t walk = {log_text_begin, log_text};
        rc = kith_recview_history_walk(n, id, &walk, n);
    }
    if (rc != KITH_OK) {
        cli_error("cannot read the history: %s", kith_strerror(rc));
        goto out;
    }
    if (json && (kith_json_finish(&j) != KITH_OK || cli_write_stdout(&out) != 0)) {
        goto out;
    }
    ret = 0;
out:
    kith_buf_close(&out);
    kith_node_close(n);
    return ret;
}

/* Loads record id for an owner-only action; prints why not and returns -1 otherwise. */
static int
load_owned(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], kith_record_t *rec, const char *what)
{
    int rc = kith_store_record_get(n->store, id, rec);
    if (rc != KITH_OK) {
        cli_error("cannot read the record: %s", kith_strerror(rc));
        return -1;
    }
    if (memcmp(rec->owner, n->id->pk, KITH_PK_LEN) != 0) {
        char label[KITH_RECVIEW_LABEL_LEN];
        kith_recview_key_label(n, rec->owner, label);
        cli_error("only the owner (%s) can %s '%s'", label, what, kith_record_name(rec));
        return -1;
    }
    return 0;
}

/* rm REF [--yes] and restore REF. */
static int
tombstone_common(cli_globals_t *g, int argc, char **argv, int del)
{
    static const struct option opts[] = {
        {"yes", no_argument, NULL, 'y'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = del ? "rm" : "restore";
    int c, yes = 0;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "y", opts, NULL)) != -1) {
        if (c != 'y') {
            return bad_option(cmd, argv);
        }
        yes = 1;
    }
    if (argc - optind != 1) {
        return cli_usage_error(cmd, "needs exactly one REF");
    }
    kith_node_t *n = cli_open_node(g);
    kith_record_t rec;
    kith_record_init(&rec);
    uint8_t id[KITH_REC_ID_LEN];
    char hex[33], label[KITH_RECVIEW_LABEL_LEN];
    int ret = 1;
    if (n == NULL ||
        (del ? cli_resolve(n, argv[optind], id) : cli_resolve_any(n, argv[optind], id)) != 0 ||
        load_owned(n, id, &rec, del ? "delete" : "restore") != 0) {
        goto out;
    }
    cli_id_hex(id, hex);
    if (!del && !rec.deleted) {
        printf("%s is not deleted; nothing to restore\n", kith_record_name(&rec));
        ret = 0;
        goto out;
    }
    if (del && rec.n_aud > 0) {
        /* Say who loses it: deleting a shared record deletes it for them too. */
        kith_buf_t who;
        kith_buf_init(&who);
        for (size_t i = 0; i < rec.n_aud; i++) {
            kith_recview_key_label(n, rec.aud[i].key, label);
            kith_buf_printf(&who, "%s%s", i ? ", " : "", label);
        }
        int ok = cli_confirm(yes, 0,
                             "'%s' is shared with %s. Delete it for them too? (Their private "
                             "notes stay; 'kith restore' undoes it.)",
                             kith_record_name(&rec), (char *) who.data);
        kith_buf_close(&who);
        if (!ok) {
            printf("Nothing deleted.\n");
            ret = 0;
            goto out;
        }
    }
    int rc = kith_node_set_deleted(n, id, del, kith_hlc_now_ms());
    if (rc != KITH_OK) {
        cli_error("cannot %s the record: %s", del ? "delete" : "restore", kith_strerror(rc));
        goto out;
    }
    if (del) {
        printf("Deleted %s (%.8s); 'kith restore %.8s' undoes it\n", kith_record_name(&rec), hex,
               hex);
    } else {
        printf("Restored %s (%.8s)\n", kith_record_name(&rec), hex);
    }
    cli_poke(n->dir);
    ret = 0;
out:
    kith_record_close(&rec);
    kith_node_close(n);
    return ret;
}

int
cmd_rm(cli_globals_t *g, int argc, char **argv)
{
    return tombstone_common(g, argc, argv, 1);
}

int
cmd_restore(cli_globals_t *g, int argc, char **argv)
{
    /* One name, two jobs: 'restore REF' undeletes a record, 'restore --backup FILE' makes
     * a home from a backup. A REF never starts with '-', so the option tells them apart. */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--backup") == 0 || strncmp(argv[i], "--backup=", 9) == 0) {
            return cmd_restore_backup(g, argc, argv);
        }
    }
    return tombstone_common(g, argc, argv, 0);
}

static int
share_common(cli_globals_t *g, int argc, char **argv, int sharing)
{
    static const struct option opts[] = {
        {"with", required_argument, NULL, 'w'},
        {"read-only", no_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = sharing ? "share" : "unshare";
    char **targets = calloc((size_t) argc, sizeof(char *));
    kith_share_target_t *resolved = calloc((size_t) argc, sizeof(*resolved));
    size_t n_targets = 0;
    int read_only = 0, c, ret = EXIT_USAGE;
    kith_node_t *n = NULL;
    kith_record_t rec;
    kith_record_init(&rec);
    if (targets == NULL || resolved == NULL) {
        free(targets);
        free(resolved);
        return 1;
    }
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'w') {
            targets[n_targets++] = optarg;
        } else if (c == 'r' && sharing) {
            read_only = 1;
        } else {
            ret = bad_option(cmd, argv);
            goto out;
        }
    }
    if (argc - optind != 1) {
        ret = cli_usage_error(cmd, "needs exactly one REF");
        goto out;
    }
    if (n_targets == 0) {
        ret = cli_usage_error(cmd, "needs --with PEER|@GROUP");
        goto out;
    }
    ret = 1;
    n = cli_open_node(g);
    uint8_t id[KITH_REC_ID_LEN];
    if (n == NULL || cli_resolve(n, argv[optind], id) != 0 || load_owned(n, id, &rec, cmd) != 0) {
        goto out;
    }
    for (size_t i = 0; i < n_targets; i++) {
        if ((sharing ? check_target(n, targets[i], &resolved[i])
                     : cli_share_target(n, targets[i], &resolved[i])) != 0) {
            goto out;
        }
    }
    kith_unshare_result_t *found = calloc(n_targets, sizeof(*found));
    if (found == NULL) {
        cli_error("out of memory");
        goto out;
    }
    int rc = sharing ? kith_node_share(n, id, resolved, n_targets,
                                       read_only ? KITH_ROLE_READER : KITH_ROLE_EDITOR,
                                       kith_hlc_now_ms())
                     : kith_node_unshare(n, id, resolved, n_targets, kith_hlc_now_ms(), found);
    for (size_t i = 0; rc == KITH_ENOTFOUND && !sharing && i < n_targets; i++) {
        const char *groups = found[i].via, *group1 = found[i].via + 1;
        int one_group = groups[0] != '\0' && strchr(groups, ',') == NULL;
        if (found[i].removed) {
            continue;
        }
        if (groups[0] != '\0') {
            cli_error("'%s' is shared with %s only through %s, not by name. To stop, remove "
                      "%s from the group ('kith peer edit %s --remove-group %s') or unshare "
                      "the group ('kith unshare %s --with %s')",
                      kith_record_name(&rec), targets[i], groups, targets[i], targets[i],
                      one_group ? group1 : "GROUP", argv[optind], one_group ? groups : "@GROUP");
        } else {
            cli_error("'%s' is not shared with %s", kith_record_name(&rec), targets[i]);
        }
    }
    if (rc != KITH_OK) {
        if (rc != KITH_ENOTFOUND || sharing) {
            cli_error("cannot %s the record: %s", cmd, kith_strerror(rc));
        }
        free(found);
        goto out;
    }
    for (size_t i = 0; i < n_targets; i++) {
        printf("%s %s with %s\n", sharing ? "Shared" : "Stopped sharing", kith_record_name(&rec),
               targets[i]);
    }
    if (sharing && read_only) {
        printf("(read-only)\n");
    }
    for (size_t i = 0; !sharing && i < n_targets; i++) {
        if (found[i].via[0] != '\0') {
            printf("Note: %s still gets '%s' through %s (remove %s from the group, or unshare "
                   "the group, to stop that)\n",
                   targets[i], kith_record_name(&rec), found[i].via, targets[i]);
        }
    }
    free(found);
    cli_poke(n->dir);
    ret = 0;
out:
    free(targets);
    free(resolved);
    kith_record_close(&rec);
    kith_node_close(n);
    return ret;
}

int
cmd_share(cli_globals_t *g, int argc, char **argv)
{
    return share_common(g, argc, argv, 1);
}

int
cmd_unshare(cli_globals_t *g, int argc, char **argv)
{
    return share_common(g, argc, argv, 0);
}
