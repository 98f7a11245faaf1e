/*
 * kith merge and kith duplicates: the command-line side of node/merge.h. Parsing, REF
 * resolution and printing only; the rules live in src/node/merge.c (proto/MERGE.md).
 *
 * Values of records are printed: they are the user's own, on their own terminal (a merge
 * reports which values A gained and which of B's lost to A's). Nothing is logged.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "kith/error.h"
#include "node/merge.h"
#include "node/recview.h"
#include "util/hlc.h"
#include "util/json.h"

#define GETOPT_BEGIN() (optind = 0, opterr = 0)

/* "@group" or the peer's name, as 'kith share --with' takes it. */
static void
target_label(kith_node_t *n, const kith_share_target_t *t, char out[static 80])
{
    if (t->is_group) {
        snprintf(out, 80, "@%s", t->group);
    } else {
        kith_recview_key_label(n, t->key, out);
    }
}

static void
print_text_result(kith_node_t *n, const kith_merge_result_t *r, int dry_run)
{
    char ahex[33], bhex[33], hex[33], label[KITH_RECVIEW_LABEL_LEN];
    cli_id_hex(r->a, ahex);
    cli_id_hex(r->b, bhex);
    size_t repointed = 0, left = 0;
    for (size_t i = 0; i < r->n_refs; i++) {
        repointed += (size_t) r->refs[i].repointed;
        left += (size_t) !r->refs[i].repointed;
    }
    printf("%s %s (%.8s) into %s (%.8s): %zu added, %zu conflict%s, %zu link%s repointed%s\n",
           dry_run ? "Would merge" : "Merged", r->b_name, bhex, r->a_name, ahex, r->n_added,
           r->n_conflicts, r->n_conflicts == 1 ? "" : "s", repointed, repointed == 1 ? "" : "s",
           left ? ", some links left (below)" : "");
    for (size_t i = 0; i < r->n_added; i++) {
        printf("  added     %s: %s%s\n", r->added[i].field, r->added[i].value,
               r->added[i].private ? "   [private]" : "");
    }
    for (size_t i = 0; i < r->n_conflicts; i++) {
        const kith_merge_conflict_t *c = &r->conflicts[i];
        printf("  kept      %s: \"%s\"; %s had%s \"%s\" (still in 'kith log %.8s')\n", c->field,
               c->kept, r->b_name, c->private ? " privately" : "", c->dropped, bhex);
    }
    for (size_t i = 0; i < r->n_refs; i++) {
        const kith_merge_ref_t *x = &r->refs[i];
        cli_id_hex(x->id, hex);
        if (x->repointed) {
            printf("  repointed %s (%.8s): %s\n", x->name, hex, x->field);
        } else {
            printf("  left      %s (%.8s): %s still points at %s: %s\n", x->name, hex, x->field,
                   r->b_name, x->why);
        }
    }
    if (r->n_missing > 0 && r->a_owned) {
        printf("%s was shared with peers or groups that %s is not shared with. Nothing was "
               "shared; to share it with them too:\n",
               r->b_name, r->a_name);
        for (size_t i = 0; i < r->n_missing; i++) {
            target_label(n, &r->missing[i].target, label);
            printf("  kith share %s --with %s%s\n", ahex, label,
                   r->missing[i].role == KITH_ROLE_READER ? " --read-only" : "");
        }
    } else if (r->n_missing > 0) {
        printf("%s was shared with", r->b_name);
        for (size_t i = 0; i < r->n_missing; i++) {
            target_label(n, &r->missing[i].target, label);
            printf("%s %s", i ? "," : "", label);
        }
        printf(", who may not see %s: it is not yours, so only its owner can share it.\n",
               r->a_name);
    }
    if (r->n_newcomers > 0) {
        printf("Note: %s is shared with", r->a_name);
        for (size_t i = 0; i < r->n_newcomers; i++) {
            kith_recview_key_label(n, r->newcomers[i], label);
            printf("%s %s", i ? "," : "", label);
        }
        printf(", who did not see %s: they see the shared values it brought.\n", r->b_name);
    }
    if (dry_run) {
        printf("(dry run: nothing was written)\n");
    } else {
        printf("%s is deleted, marked as merged into %s; 'kith restore %.8s' brings it back "
               "(%s keeps what it gained).\n",
               r->b_name, r->a_name, bhex, r->a_name);
    }
}

static void
json_rec(kith_json_t *j, const char *key, const uint8_t id[KITH_REC_ID_LEN], const char *name)
{
    char hex[33];
    cli_id_hex(id, hex);
    kith_json_key(j, key);
    kith_json_object_begin(j);
    kith_json_key(j, "id");
    kith_json_string(j, hex);
    kith_json_key(j, "name");
    kith_json_string(j, name);
    kith_json_object_end(j);
}

static int
print_json_result(kith_node_t *n, const kith_merge_result_t *r, int dry_run)
{
    kith_buf_t out;
    kith_buf_init(&out);
    kith_json_t j;
    kith_json_init(&j, &out, 1);
    char ahex[33], label[KITH_RECVIEW_LABEL_LEN], cmd[256];
    cli_id_hex(r->a, ahex);
    kith_json_object_begin(&j);
    json_rec(&j, "into", r->a, r->a_name);
    json_rec(&j, "merged", r->b, r->b_name);
    kith_json_key(&j, "dry_run");
    kith_json_bool(&j, dry_run);
    kith_json_key(&j, "added");
    kith_json_array_begin(&j);
    for (size_t i = 0; i < r->n_added; i++) {
        kith_json_object_begin(&j);
        kith_json_key(&j, "field");
        kith_json_string(&j, r->added[i].field);
        kith_json_key(&j, "value");
        kith_json_string(&j, r->added[i].value);
        kith_json_key(&j, "private");
        kith_json_bool(&j, r->added[i].private);
        kith_json_object_end(&j);
    }
    kith_json_array_end(&j);
    kith_json_key(&j, "conflicts");
    kith_json_array_begin(&j);
    for (size_t i = 0; i < r->n_conflicts; i++) {
        kith_json_object_begin(&j);
        kith_json_key(&j, "field");
        kith_json_string(&j, r->conflicts[i].field);
        kith_json_key(&j, "kept");
        kith_json_string(&j, r->conflicts[i].kept);
        kith_json_key(&j, "dropped");
        kith_json_string(&j, r->conflicts[i].dropped);
        kith_json_key(&j, "private");
        kith_json_bool(&j, r->conflicts[i].private);
        kith_json_object_end(&j);
    }
    kith_json_array_end(&j);
    kith_json_key(&j, "links");
    kith_json_array_begin(&j);
    for (size_t i = 0; i < r->n_refs; i++) {
        kith_json_object_begin(&j);
        json_rec(&j, "record", r->refs[i].id, r->refs[i].name);
        kith_json_key(&j, "field");
        kith_json_string(&j, r->refs[i].field);
        kith_json_key(&j, "repointed");
        kith_json_bool(&j, r->refs[i].repointed);
        kith_json_key(&j, "why");
        if (r->refs[i].why) {
            kith_json_string(&j, r->refs[i].why);
        } else {
            kith_json_null(&j);
        }
        kith_json_object_end(&j);
    }
    kith_json_array_end(&j);
    kith_json_key(&j, "not_shared_with");
    kith_json_array_begin(&j);
    for (size_t i = 0; i < r->n_missing; i++) {
        target_label(n, &r->missing[i].target, label);
        kith_json_object_begin(&j);
        kith_json_key(&j, "target");
        kith_json_string(&j, label);
        kith_json_key(&j, "role");
        kith_json_string(&j, r->missing[i].role == KITH_ROLE_READER ? "reader" : "editor");
        kith_json_key(&j, "command");
        if (r->a_owned) {
            snprintf(cmd, sizeof(cmd), "kith share %s --with %s%s", ahex, label,
                     r->missing[i].role == KITH_ROLE_READER ? " --read-only" : "");
            kith_json_string(&j, cmd);
        } else {
            kith_json_null(&j);
        }
        kith_json_object_end(&j);
    }
    kith_json_array_end(&j);
    kith_json_key(&j, "newly_seen_by");
    kith_json_array_begin(&j);
    for (size_t i = 0; i < r->n_newcomers; i++) {
        kith_recview_key_label(n, r->newcomers[i], label);
        kith_json_string(&j, label);
    }
    kith_json_array_end(&j);
    kith_json_object_end(&j);
    int ret = kith_json_finish(&j) == KITH_OK && cli_write_stdout(&out) == 0 ? 0 : 1;
    kith_buf_close(&out);
    return ret;
}

int
cmd_merge(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"force", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"yes", no_argument, NULL, 'y'},
        {NULL, 0, NULL, 0},
    };
    int c, flags = 0, json = 0, yes = 0;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "ny", opts, NULL)) != -1) {
        if (c == 'n') {
            flags |= KITH_MERGE_DRY_RUN;
        } else if (c == 'f') {
            flags |= KITH_MERGE_FORCE;
        } else if (c == 'j') {
            json = 1;
        } else if (c == 'y') {
            yes = 1;
        } else {
            return cli_usage_error("merge", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 2) {
        return cli_usage_error("merge", "needs two REFs: the record to keep (A), then the one "
                                        "to merge into it (B)");
    }
    kith_node_t *n = cli_open_node(g);
    uint8_t a[KITH_REC_ID_LEN], b[KITH_REC_ID_LEN];
    kith_merge_result_t res;
    kith_merge_result_init(&res);
    kith_record_t rb;
    kith_record_init(&rb);
    int ret = 1;
    if (n == NULL || cli_resolve(n, argv[optind], a) != 0 ||
        cli_resolve(n, argv[optind + 1], b) != 0) {
        goto out;
    }
    /* Deleting B deletes it for everyone it is shared with: ask first, as 'kith rm' does. */
    if (!(flags & KITH_MERGE_DRY_RUN) && kith_store_record_get(n->store, b, &rb) == KITH_OK &&
        rb.n_aud > 0 && memcmp(a, b, KITH_REC_ID_LEN) != 0 &&
        memcmp(rb.owner, n->id->pk, KITH_PK_LEN) == 0 &&
        !cli_confirm(yes, 0,
                     "'%s' is shared with %zu peer%s; merging deletes it for them too (they "
                     "see it marked as merged). Go on?",
                     kith_record_name(&rb), rb.n_aud, rb.n_aud == 1 ? "" : "s")) {
        printf("Nothing merged.\n");
        ret = 0;
        goto out;
    }
    char err[512] = "";
    int rc = kith_node_merge(n, a, b, flags, kith_hlc_now_ms(), &res, err, sizeof(err));
    if (rc != KITH_OK) {
        cli_error("cannot merge: %s", err[0] ? err : kith_strerror(rc));
        goto out;
    }
    if (json) {
        ret = print_json_result(n, &res, flags & KITH_MERGE_DRY_RUN);
    } else {
        print_text_result(n, &res, flags & KITH_MERGE_DRY_RUN);
        ret = 0;
    }
    if (!(flags & KITH_MERGE_DRY_RUN)) {
        cli_poke(n->dir);
    }
out:
    kith_record_close(&rb);
    kith_merge_result_close(&res);
    kith_node_close(n);
    return ret;
}

/* "same e-mail (x@y), same LinkedIn profile (...), same name at the same organisation" */
static void
reasons_text(const kith_dup_t *d, kith_buf_t *out)
{
    const char *sep = "";
    if (d->reasons & KITH_DUP_EMAIL) {
        int mine = d->detail && d->detail[0] == 'e';
        kith_buf_printf(out, "same e-mail%s%s%s", mine ? " (" : "", mine ? d->detail + 2 : "",
                        mine ? ")" : "");
        sep = ", ";
    }
    if (d->reasons & KITH_DUP_LINKEDIN) {
        int mine = d->detail && d->detail[0] == 'l';
        kith_buf_printf(out, "%ssame LinkedIn profile%s%s%s", sep, mine ? " (" : "",
                        mine ? d->detail + 2 : "", mine ? ")" : "");
        sep = ", ";
    }
    if (d->reasons & KITH_DUP_NAME) {
        kith_buf_printf(out, "%ssame name and organisation", sep);
    }
}

int
cmd_duplicates(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int c, json = 0;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'j') {
            return cli_usage_error("duplicates", "unknown option: '%s'", argv[optind - 1]);
        }
        json = 1;
    }
    if (optind < argc) {
        return cli_usage_error("duplicates", "unexpected argument '%s'", argv[optind]);
    }
    kith_node_t *n = cli_open_node(g);
    if (n == NULL) {
        return 1;
    }
    kith_dup_t *d = NULL;
    size_t nd = 0;
    int ret = 1;
    int rc = kith_node_duplicates(n, &d, &nd);
    if (rc != KITH_OK) {
        cli_error("cannot look for duplicates: %s", kith_strerror(rc));
        kith_node_close(n);
        return 1;
    }
    kith_buf_t out, why;
    kith_buf_init(&out);
    kith_buf_init(&why);
    kith_json_t j;
    kith_json_init(&j, &out, 1);
    char ahex[33], bhex[33];
    if (json) {
        kith_json_array_begin(&j);
    }
    for (size_t i = 0; i < nd; i++) {
        cli_id_hex(d[i].a, ahex);
        cli_id_hex(d[i].b, bhex);
        why.len = 0;
        reasons_text(&d[i], &why);
        if (json) {
            kith_json_object_begin(&j);
            json_rec(&j, "a", d[i].a, d[i].a_name);
            json_rec(&j, "b", d[i].b, d[i].b_name);
            kith_json_key(&j, "reasons");
            kith_json_array_begin(&j);
            static const char *const names[] = {"email", "linkedin", "name_org"};
            for (int k = 0; k < 3; k++) {
                if (d[i].reasons & (1 << k)) {
                    kith_json_string(&j, names[k]);
                }
            }
            kith_json_array_end(&j);
            kith_json_key(&j, "why");
            kith_json_string(&j, why.len ? (const char *) why.data : "");
            kith_json_key(&j, "command");
            if (d[i].mergeable) {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "kith merge %s %s", ahex, bhex);
                kith_json_string(&j, cmd);
            } else {
                kith_json_null(&j);
            }
            kith_json_object_end(&j);
            continue;
        }
        kith_buf_printf(&out, "%s (%.8s) ~ %s (%.8s): %s\n", d[i].a_name, ahex, d[i].b_name, bhex,
                        why.len ? (const char *) why.data : "");
        if (d[i].mergeable) {
            kith_buf_printf(&out, "    kith merge %s %s\n", ahex, bhex);
        } else {
            kith_buf_printf(&out, "    (not mergeable here: the record merged away must be "
                                  "yours, the other one editable by you)\n");
        }
    }
    if (json) {
        kith_json_array_end(&j);
        rc = kith_json_finish(&j);
    } else if (nd == 0) {
        rc = kith_buf_printf(&out, "No likely duplicates.\n");
    } else {
        rc = kith_buf_printf(&out, "%zu likely duplicate pair%s.\n", nd, nd == 1 ? "" : "s");
    }
    if (rc == KITH_OK && cli_write_stdout(&out) == 0) {
        ret = 0;
    }
    kith_buf_close(&out);
    kith_buf_close(&why);
    kith_dups_free(d, nd);
    kith_node_close(n);
    return ret;
}
