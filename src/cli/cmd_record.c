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
#include "kith/error.h"
#include "model/fold.h"
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

/* Records share specs for targets and recomputes the audience. */
static int
apply_shares(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], const kith_share_target_t *targets,
             size_t n_targets, int role, uint64_t now)
{
    for (size_t i = 0; i < n_targets; i++) {
        int rc = kith_store_share_set(n->store, id, &targets[i], role);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    return n_targets ? kith_node_update_audience(n, id, now, NULL) : KITH_OK;
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
    uint8_t id[KITH_REC_ID_LEN];
    kith_node_new_record_id(n, id);
    uint64_t now = kith_hlc_now_ms();
    int rc = kith_store_begin(n->store);
    if (rc == KITH_OK) {
        rc = cli_change_commit(&ch, n, id, n->id->pk, kind, NULL, now);
    }
    if (rc == KITH_OK) {
        rc = apply_shares(n, id, resolved, n_targets,
                          read_only ? KITH_ROLE_READER : KITH_ROLE_EDITOR, now);
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
        if (rc != CLI_CHANGE_REPORTED) {
            cli_error("cannot add the record: %s", kith_strerror(rc));
        }
        goto out;
    }
    char hex[33];
    cli_id_hex(id, hex);
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
        {"set", required_argument, NULL, 's'},
        {"add", required_argument, NULL, 'a'},
        {"unset", required_argument, NULL, 'u'},
        {"private", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    cli_change_t ch;
    cli_change_init(&ch);
    int c, ret = EXIT_USAGE;
    kith_node_t *n = NULL;
    kith_record_t rec;
    kith_record_init(&rec);
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int mode = c == 's'   ? CLI_CHANGE_SET
                   : c == 'a' ? CLI_CHANGE_ADD
                   : c == 'u' ? CLI_CHANGE_UNSET
                   : c == 'p' ? CLI_CHANGE_PRIVATE
                              : -1;
        if (mode < 0) {
            ret = bad_option("edit", argv);
            goto out;
        }
        if (cli_change_arg(&ch, mode, optarg) != 0) {
            goto out;
        }
    }
    if (argc - optind != 1) {
        ret = cli_usage_error("edit", "needs exactly one REF");
        goto out;
    }
    if (ch.n == 0) {
        ret = cli_usage_error("edit", "nothing to change: give --set, --add, --unset or --private");
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
    /* Refuse what the owner's node would refuse: an edit it ignores forever is worse than
     * none. */
    int role = kith_record_role(&rec, n->id->pk);
    uint64_t since = 0;
    if (role != KITH_ROLE_EDITOR) {
        char label[80], when[20];
        cli_key_label(n, rec.owner, label);
        if (cli_unshared_since(n, &rec, &since)) {
            kith_hlc_format(since, when);
            cli_error("'%s' is no longer shared with you (since %s UTC); your edits would have "
                      "no effect",
                      kith_record_name(&rec), when);
        } else if (role == KITH_ROLE_READER) {
            cli_error("'%s' is shared with you read-only by %s; you cannot edit it",
                      kith_record_name(&rec), label);
        } else {
            cli_error("'%s' belongs to %s and is not shared with you; you cannot edit it",
                      kith_record_name(&rec), label);
        }
        goto out;
    }
    rc = kith_store_begin(n->store);
    if (rc == KITH_OK) {
        rc = cli_change_commit(&ch, n, id, rec.owner, -1, &rec, kith_hlc_now_ms());
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
        if (rc != CLI_CHANGE_REPORTED) {
            cli_error("cannot edit the record: %s", kith_strerror(rc));
        }
        goto out;
    }
    char hex[33];
    cli_id_hex(id, hex);
    printf("Updated %s (%.8s)\n", kith_record_name(&rec), hex);
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

/* Opens the node and resolves REF; NULL after saying why. */
static kith_node_t *
open_ref(cli_globals_t *g, const char *ref, uint8_t id[KITH_REC_ID_LEN])
{
    kith_node_t *n = cli_open_node(g);
    if (n != NULL && cli_resolve(n, ref, id) != 0) {
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
        cli_record_json(n, &rec, 1, &j);
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
        cli_record_json(c->node, r, 0, &j);
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
            cli_record_line(
                r, cli_unshared_since(c->node, r, &since) ? "no longer shared with you" : NULL,
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
        {NULL, 0, NULL, 0},
    };
    int json = 0, c;
    collection_t col = {NULL, NULL, 0, 0, -1, 0, NULL};
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
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
    int rc = kith_store_foreach_record(n->store, collect, &col), ret = 1;
    if (rc != KITH_OK) {
        cli_error("cannot read the records: %s", kith_strerror(rc));
    } else {
        ret = print_collection(&col, "No records yet. Add one with 'kith add'.");
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
    collection_t col = {NULL, NULL, 0, 0, -1, json, n};
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

typedef struct {
    kith_op_t *ops;
    kith_fold_input_t *in;
    size_t n, cap;
} history_t;

static int
collect_op(void *ctx, const uint8_t *signed_op, size_t len, const kith_op_t *op,
           const uint8_t hash[KITH_HASH_LEN])
{
    (void) signed_op;
    (void) len;
    history_t *h = ctx;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        kith_op_t *o = realloc(h->ops, cap * sizeof(*o));
        if (o == NULL) {
            return KITH_ENOMEM;
        }
        h->ops = o;
        kith_fold_input_t *in = realloc(h->in, cap * sizeof(*in));
        if (in == NULL) {
            return KITH_ENOMEM;
        }
        h->in = in;
        h->cap = cap;
    }
    h->ops[h->n] = *op;
    kith_op_init((kith_op_t *) op);
    memcpy(h->in[h->n].hash, hash, KITH_HASH_LEN);
    h->n++;
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
    history_t h = {0};
    kith_record_t rec;
    kith_record_init(&rec);
    int *eff = NULL, ret = 1;
    int rc = kith_store_foreach_op(n->store, id, collect_op, &h);
    if (rc == KITH_OK && h.n > 0) {
        for (size_t i = 0; i < h.n; i++) {
            h.in[i].op = &h.ops[i];
        }
        eff = calloc(h.n, sizeof(*eff));
        rc = eff ? kith_fold(h.in, h.n, &rec, eff) : KITH_ENOMEM;
    }
    if (rc != KITH_OK) {
        cli_error("cannot read the history: %s", kith_strerror(rc));
        goto out;
    }
    printf("History of %s:\n", kith_record_name(&rec));
    for (size_t i = 0; i < h.n; i++) {
        const kith_op_t *op = h.in[i].op;
        char when[20], who[80];
        kith_hlc_format(op->hlc, when);
        cli_key_label(n, op->author, who);
        printf("%s  %-12s ", when, who);
        /* One clause per kind of change, joined with "; ". */
        const char *sep = "";
        if (op->kind >= 0) {
            printf("%screated %s", sep, kith_schema_kind_name(op->kind));
            sep = "; ";
        }
        if (op->del >= 0) {
            printf("%s%s", sep, op->del ? "deleted" : "restored");
            sep = "; ";
        }
        if (op->has_aud) {
            printf("%sshared with %zu peer%s", sep, op->n_aud, op->n_aud == 1 ? "" : "s");
            sep = "; ";
        }
        for (int unset = 0; unset < 2; unset++) {
            const char *lead = unset ? "unset " : (op->private ? "set privately " : "set ");
            for (size_t k = 0; k < op->n_set; k++) {
                if ((op->set[k].value.type == KITH_V_NIL) != unset) {
                    continue;
                }
                printf("%s%s%s", sep, lead, op->set[k].name);
                sep = ", ";
                lead = "";
            }
            if (lead[0] == '\0') {
                sep = "; ";
            }
        }
        printf("%s\n", eff[i] ? "" : "  (ignored: not an editor at the time)");
    }
    ret = 0;
out:
    for (size_t i = 0; i < h.n; i++) {
        kith_op_close(&h.ops[i]);
    }
    free(h.ops);
    free(h.in);
    free(eff);
    kith_record_close(&rec);
    kith_node_close(n);
    return ret;
}

/* Loads REF for an owner-only action; prints why not and returns -1 otherwise. */
static int
load_owned(kith_node_t *n, const char *ref, uint8_t id[KITH_REC_ID_LEN], kith_record_t *rec,
           const char *what)
{
    if (cli_resolve(n, ref, id) != 0) {
        return -1;
    }
    int rc = kith_store_record_get(n->store, id, rec);
    if (rc != KITH_OK) {
        cli_error("cannot read the record: %s", kith_strerror(rc));
        return -1;
    }
    if (memcmp(rec->owner, n->id->pk, KITH_PK_LEN) != 0) {
        char label[80];
        cli_key_label(n, rec->owner, label);
        cli_error("only the owner (%s) can %s '%s'", label, what, kith_record_name(rec));
        return -1;
    }
    return 0;
}

int
cmd_rm(cli_globals_t *g, int argc, char **argv)
{
    int first, json;
    int u = simple_args("rm", argc, argv, 1, &json, &first);
    if (u != 0) {
        return u;
    }
    kith_node_t *n = cli_open_node(g);
    kith_record_t rec;
    kith_record_init(&rec);
    uint8_t id[KITH_REC_ID_LEN];
    int ret = 1;
    if (n == NULL || load_owned(n, argv[first], id, &rec, "delete") != 0) {
        goto out;
    }
    kith_op_t op;
    kith_op_init(&op);
    memcpy(op.rec, id, KITH_REC_ID_LEN);
    memcpy(op.owner, n->id->pk, KITH_PK_LEN);
    op.del = 1;
    int rc = kith_store_begin(n->store);
    if (rc == KITH_OK) {
        rc = kith_node_apply_local(n, &op, kith_hlc_now_ms(), NULL);
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    kith_op_close(&op);
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
        cli_error("cannot delete the record: %s", kith_strerror(rc));
        goto out;
    }
    printf("Deleted %s\n", kith_record_name(&rec));
    cli_poke(n->dir);
    ret = 0;
out:
    kith_record_close(&rec);
    kith_node_close(n);
    return ret;
}

typedef struct {
    const kith_peer_t *peer;
    kith_buf_t *out;
} via_ctx_t;

static int
add_via_group(void *ctx, const uint8_t id[KITH_REC_ID_LEN], const kith_share_target_t *target,
              int role)
{
    (void) id;
    (void) role;
    via_ctx_t *v = ctx;
    if (!target->is_group || !kith_peer_in_group(v->peer, target->group)) {
        return KITH_OK;
    }
    return kith_buf_printf(v->out, "%s@%s", v->out->len ? ", " : "", target->group);
}

/* Appends to out the groups ("@sales, @emea") through which record id reaches the peer
 * with this key; nothing if none do. */
static int
groups_reaching(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], const uint8_t key[KITH_PK_LEN],
                kith_buf_t *out)
{
    kith_peer_t p;
    int rc = kith_store_peer_get_by_key(n->store, key, &p);
    if (rc != KITH_OK) {
        return rc == KITH_ENOTFOUND ? KITH_OK : rc;
    }
    via_ctx_t v = {&p, out};
    rc = kith_store_share_foreach(n->store, id, add_via_group, &v);
    kith_peer_close(&p);
    return rc;
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
    if (n == NULL || load_owned(n, argv[optind], id, &rec, cmd) != 0) {
        goto out;
    }
    for (size_t i = 0; i < n_targets; i++) {
        if ((sharing ? check_target(n, targets[i], &resolved[i])
                     : cli_share_target(n, targets[i], &resolved[i])) != 0) {
            goto out;
        }
    }
    kith_buf_t via, notes;
    kith_buf_init(&via);
    kith_buf_init(&notes);
    int rc = kith_store_begin(n->store);
    for (size_t i = 0; rc == KITH_OK && i < n_targets; i++) {
        if (sharing) {
            rc = kith_store_share_set(n->store, id, &resolved[i],
                                      read_only ? KITH_ROLE_READER : KITH_ROLE_EDITOR);
            continue;
        }
        int removed = 0;
        rc = kith_store_share_remove(n->store, id, &resolved[i], &removed);
        /* A peer may get the record through a group as well as, or instead of, by name:
         * say so rather than claim it was not shared, or that it now is not. */
        via.len = 0;
        if (rc == KITH_OK && !resolved[i].is_group) {
            rc = groups_reaching(n, id, resolved[i].key, &via);
        }
        if (rc != KITH_OK) {
            break;
        }
        const char *groups = via.len ? (const char *) via.data : "";
        const char *group1 = via.len ? (const char *) via.data + 1 : "";
        int one_group = via.len && strchr(groups, ',') == NULL;
        if (!removed && via.len) {
            cli_error("'%s' is shared with %s only through %s, not by name. To stop, remove "
                      "%s from the group ('kith peer edit %s --remove-group %s') or unshare "
                      "the group ('kith unshare %s --with %s')",
                      kith_record_name(&rec), targets[i], groups, targets[i], targets[i],
                      one_group ? group1 : "GROUP", argv[optind], one_group ? groups : "@GROUP");
            rc = CLI_CHANGE_REPORTED;
        } else if (!removed) {
            cli_error("'%s' is not shared with %s", kith_record_name(&rec), targets[i]);
            rc = CLI_CHANGE_REPORTED;
        } else if (via.len) {
            rc = kith_buf_printf(&notes,
                                 "Note: %s still gets '%s' through %s (remove %s from the group, "
                                 "or unshare the group, to stop that)\n",
                                 targets[i], kith_record_name(&rec), groups, targets[i]);
        }
    }
    int changed = 0;
    if (rc == KITH_OK) {
        rc = kith_node_update_audience(n, id, kith_hlc_now_ms(), &changed);
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
        if (rc != CLI_CHANGE_REPORTED) {
            cli_error("cannot %s the record: %s", cmd, kith_strerror(rc));
        }
        goto out_bufs;
    }
    for (size_t i = 0; i < n_targets; i++) {
        printf("%s %s with %s\n", sharing ? "Shared" : "Stopped sharing", kith_record_name(&rec),
               targets[i]);
    }
    if (sharing && read_only) {
        printf("(read-only)\n");
    }
    if (notes.len > 0) {
        fwrite(notes.data, 1, notes.len, stdout);
    }
    cli_poke(n->dir);
    ret = 0;
out_bufs:
    kith_buf_close(&via);
    kith_buf_close(&notes);
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
