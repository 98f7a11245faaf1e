/*
 * Shared CLI helpers: errors, help, opening the node, passphrases, rendering records.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "kith/error.h"
#include "net/daemon.h"
#include "model/schema.h"
#include "node/recview.h"
#include "util/hlc.h"

#define PASSPHRASE_MAX 1024

void
cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kith: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kith %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'kith %s --help')\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

void
cli_print_help(const cli_command_t *c)
{
    printf("usage: kith %s %s\n\n%s.\n", c->name, c->usage, c->summary);
    if (c->help[0] != '\0') {
        printf("\n%s", c->help);
    }
}

int
cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return 1;
        }
    }
    return 0;
}

const char *
cli_home(cli_globals_t *g)
{
    static char home[4096];
    kith_buf_t b;
    kith_buf_init(&b);
    int rc = kith_home_resolve(g->home, &b);
    if (rc != KITH_OK || b.len >= sizeof(home)) {
        kith_buf_close(&b);
        cli_error("no home directory: use --home DIR or set $KITH_HOME");
        return NULL;
    }
    memcpy(home, b.data, b.len + 1);
    kith_buf_close(&b);
    return home;
}

void
cli_passphrase_free(char *p)
{
    if (p != NULL) {
        sodium_free(p);
    }
}

/* Reads one line from the terminal without echo into buf (sodium_malloc'd). */
static int
read_tty_line(int fd, const char *prompt, char *buf, size_t cap)
{
    struct termios old, quiet;
    if (tcgetattr(fd, &old) != 0) {
        return -1;
    }
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t) (ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
        return -1;
    }
    size_t len = 0;
    int ok = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0 || c == '\n') {
            ok = r > 0 || len > 0;
            break;
        }
        if (len + 1 < cap) {
            buf[len++] = c;
        }
    }
    buf[len] = '\0';
    tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
        ok = 0;
    }
    return ok ? 0 : -1;
}

char *
cli_read_passphrase(const char *prompt, int confirm)
{
    return cli_read_secret("KITH_PASSPHRASE", prompt, confirm);
}

char *
cli_read_secret(const char *env_name, const char *prompt, int confirm)
{
    char *p = sodium_malloc(PASSPHRASE_MAX);
    char *again = NULL;
    if (p == NULL) {
        cli_error("out of memory");
        return NULL;
    }
    const char *env = getenv(env_name);
    if (env != NULL) {
        if (strlen(env) >= PASSPHRASE_MAX || env[0] == '\0') {
            cli_error("$%s must hold 1 to %d bytes", env_name, PASSPHRASE_MAX - 1);
            goto fail;
        }
        memcpy(p, env, strlen(env) + 1);
        return p;
    }
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        cli_error("a passphrase is needed: set $%s or run on a terminal", env_name);
        goto fail;
    }
    if (read_tty_line(fd, prompt, p, PASSPHRASE_MAX) != 0 || p[0] == '\0') {
        close(fd);
        cli_error("no passphrase given");
        goto fail;
    }
    if (confirm) {
        again = sodium_malloc(PASSPHRASE_MAX);
        if (again == NULL ||
            read_tty_line(fd, "Repeat the passphrase: ", again, PASSPHRASE_MAX) != 0 ||
            strlen(again) != strlen(p) || sodium_memcmp(again, p, strlen(p)) != 0) {
            close(fd);
            cli_error("the passphrases do not match");
            goto fail;
        }
        sodium_free(again);
    }
    close(fd);
    return p;
fail:
    sodium_free(again);
    sodium_free(p);
    return NULL;
}

/* Warns when the home or its files have been opened up to other users. */
static void
warn_loose_modes(const char *home)
{
    static const char *const files[] = {"", "/" KITH_KEY_FILE, "/" KITH_DB_FILE};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[4200];
        struct stat st;
        snprintf(path, sizeof(path), "%s%s", home, files[i]);
        if (stat(path, &st) == 0 && (st.st_mode & 077)) {
            fprintf(stderr,
                    "kith: warning: %s has mode %03o: other users may read it (run 'chmod %s "
                    "%s'; 'kith doctor' checks everything)\n",
                    path, (unsigned) (st.st_mode & 0777), i == 0 ? "700" : "600", path);
        }
    }
}

/* The first open by a kith that authenticates the store's rows vouched for the peer list
 * as it stood: the user should see it once (proto/STORE.md, "Upgrading"). */
static void
note_upgrade(kith_node_t *n)
{
    kith_peer_t *peers = NULL;
    size_t count = 0;
    if (kith_store_peer_list(n->store, &peers, &count) != KITH_OK || count == 0) {
        kith_peers_free(peers, count);
        return;
    }
    fprintf(stderr, "kith: this store's peer list is now protected against changes made "
                    "outside kith. It was accepted as it stood; check that these are yours:\n");
    for (size_t i = 0; i < count; i++) {
        fprintf(stderr, "kith:   %s%s\n", peers[i].name, peers[i].self ? " (your own device)" : "");
    }
    fprintf(stderr, "kith: ('kith peer rm NAME' removes one you do not know.)\n");
    kith_peers_free(peers, count);
}

kith_node_t *
cli_open_node(cli_globals_t *g)
{
    return cli_open_node_flags(g, 0);
}

kith_node_t *
cli_open_node_flags(cli_globals_t *g, int flags)
{
    const char *home = cli_home(g);
    if (home == NULL) {
        return NULL;
    }
    warn_loose_modes(home);
    char err[512] = "";
    char *pass = NULL;
    int sealed = kith_node_needs_passphrase(home);
    if (sealed == KITH_ENOTFOUND) {
        cli_error("no kith node in %s (create one with 'kith init', or use --home)", home);
        return NULL;
    }
    if (sealed == 1) {
        pass = cli_read_passphrase("Passphrase: ", 0);
        if (pass == NULL) {
            return NULL;
        }
    }
    kith_node_t *n = NULL;
    int rc = kith_node_open_flags(home, pass, flags, &n, err, sizeof(err));
    cli_passphrase_free(pass);
    if (rc != KITH_OK && kith_node_home_read_only(home)) {
        cli_error("the home %s is read-only: %s", home, err[0] ? err : kith_strerror(rc));
        return NULL;
    }
    if (rc != KITH_OK) {
        cli_error("%s", err[0] ? err : kith_strerror(rc));
        return NULL;
    }
    if (g->writes && kith_store_is_read_only(n->store)) {
        cli_error("the home %s is read-only: 'kith %s' changes it, so nothing was done (make "
                  "the directory and %s writable by you, or use another --home)",
                  home, g->command ? g->command : "", KITH_DB_FILE);
        kith_node_close(n);
        return NULL;
    }
    if (n->upgrade.upgraded) {
        note_upgrade(n);
    }
    return n;
}

static int
resolve(kith_node_t *n, const char *ref, int with_deleted, uint8_t id[static KITH_REC_ID_LEN])
{
    kith_buf_t cands;
    kith_buf_init(&cands);
    int rc = kith_store_resolve(n->store, ref, with_deleted, id, &cands);
    if (rc == KITH_ENOTFOUND && !with_deleted &&
        kith_store_resolve(n->store, ref, 1, id, NULL) != KITH_ENOTFOUND) {
        cli_error("'%s' is deleted ('kith restore %s' brings it back; 'kith list --deleted' "
                  "shows what is in the trash)",
                  ref, ref);
    } else if (rc == KITH_ENOTFOUND) {
        cli_error("no record matches '%s' (give an id prefix of 4+ digits or the exact name)", ref);
    } else if (rc == KITH_EAMBIGUOUS) {
        cli_error("'%s' matches several records; use a longer id prefix:\n%s", ref,
                  cands.data ? (char *) cands.data : "");
    } else if (rc != KITH_OK) {
        cli_error("cannot look up '%s': %s", ref, kith_strerror(rc));
    }
    kith_buf_close(&cands);
    return rc == KITH_OK ? 0 : -1;
}

int
cli_resolve(kith_node_t *n, const char *ref, uint8_t id[static KITH_REC_ID_LEN])
{
    return resolve(n, ref, 0, id);
}

int
cli_resolve_any(kith_node_t *n, const char *ref, uint8_t id[static KITH_REC_ID_LEN])
{
    return resolve(n, ref, 1, id);
}

int
cli_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KITH_PEER_NAME_MAX || s[0] == '@' || s[0] == '-') {
        return 0;
    }
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.')) {
            return 0;
        }
    }
    return 1;
}

int
cli_share_target(kith_node_t *n, const char *text, kith_share_target_t *out)
{
    int rc = kith_node_share_target(n, text, out);
    /* A group only has members under a name that peer add and peer edit accept. */
    if (rc == KITH_OK && out->is_group && !cli_valid_name(out->group)) {
        rc = KITH_EINVAL;
    }
    if (rc == KITH_EINVAL) {
        cli_error("'%s' is not a group: @ and a name of 1-64 of A-Z a-z 0-9 . _ -, as in @sales",
                  text);
    } else if (rc == KITH_ENOTFOUND) {
        cli_error("no peer named '%s' (see 'kith peer list'; groups start with @)", text);
    } else if (rc != KITH_OK) {
        cli_error("cannot look up '%s': %s", text, kith_strerror(rc));
    }
    return rc == KITH_OK ? 0 : -1;
}

void
cli_id_hex(const uint8_t id[static KITH_REC_ID_LEN], char out[static 33])
{
    sodium_bin2hex(out, 33, id, KITH_REC_ID_LEN);
}

int
cli_confirm(int yes, int need_tty, const char *fmt, ...)
{
    if (yes) {
        return 1;
    }
    if (!isatty(0)) {
        if (need_tty) {
            cli_error("confirmation needed and no terminal to ask on: run again with --yes");
        }
        return !need_tty;
    }
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(" [y/N] ");
    fflush(stdout);
    char line[16];
    if (fgets(line, sizeof(line), stdin) == NULL) {
        return 0;
    }
    return line[0] == 'y' || line[0] == 'Y';
}

void
cli_poke(const char *home)
{
    kith_buf_t reply;
    kith_buf_init(&reply);
    kith_control_call(home, "poke", &reply);
    kith_buf_close(&reply);
}

int
cli_write_stdout(const kith_buf_t *buf)
{
    if (buf->len > 0 && fwrite(buf->data, 1, buf->len, stdout) != buf->len) {
        cli_error("cannot write the output: %s", strerror(errno));
        return -1;
    }
    if (fflush(stdout) != 0) {
        cli_error("cannot write the output: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- rendering ---------------------------------------------------------------------- */

static const char *
role_name(int role)
{
    return role == KITH_ROLE_EDITOR ? "editor" : "reader";
}

/* Prints a value that may hold newlines, indenting continuation lines. */
static void
print_text(FILE *out, const char *s, int indent)
{
    for (; *s; s++) {
        fputc(*s, out);
        if (*s == '\n' && s[1] != '\0') {
            fprintf(out, "%*s", indent, "");
        }
    }
}

static void
print_ref(kith_node_t *n, FILE *out, const char *hex)
{
    uint8_t id[KITH_REC_ID_LEN];
    kith_record_t target;
    size_t bin_len = 0;
    if (sodium_hex2bin(id, sizeof(id), hex, strlen(hex), NULL, &bin_len, NULL) == 0 &&
        bin_len == KITH_REC_ID_LEN && kith_store_record_get(n->store, id, &target) == KITH_OK) {
        fprintf(out, "%s (%.8s)", kith_record_name(&target), hex);
        kith_record_close(&target);
    } else {
        fprintf(out, "%.8s (not here)", hex);
    }
}

void
cli_record_print(kith_node_t *n, const kith_record_t *r, FILE *out)
{
    char hex[33], label[KITH_RECVIEW_LABEL_LEN], when[20];
    const int col = 22; /* fits the longest field name, decision_criteria */
    cli_id_hex(r->id, hex);
    fprintf(out, "%s  (%s %.8s)\n", kith_record_name(r), kith_schema_kind_name(r->kind), hex);
    uint64_t since = 0;
    if (kith_recview_unshared_since(n, r, &since)) {
        kith_hlc_format(since, when);
        fprintf(out, "  no longer shared with you (since %s UTC): this is your copy as it was\n",
                when);
    }
    size_t n_defs;
    const kith_field_def_t *defs = kith_schema_fields(&n_defs);
    const kith_rfield_t *merged = kith_record_field(r, "merged_into");
    if (r->deleted && merged != NULL && merged->value.type == KITH_V_STR) {
        /* kith merge: say where it went before anything else (proto/MERGE.md). */
        fputs("  merged into ", out);
        print_ref(n, out, merged->value.str);
        fprintf(out, " (deleted: 'kith restore %.8s' brings it back)\n", hex);
    } else if (r->deleted) {
        fprintf(out, "  (deleted: 'kith restore %.8s' brings it back)\n", hex);
    }
    /* Defined fields in schema order first, then custom fields alphabetically; a field
     * with a shared and a private value shows both, the private one marked. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t d = 0; d < (pass == 0 ? 2 * n_defs : r->n_fields); d++) {
            const kith_rfield_t *f = pass == 0
                                         ? kith_record_field_in(r, defs[d / 2].name, (int) (d % 2))
                                         : &r->fields[d];
            if (f == NULL || (pass == 1 && kith_schema_field(f->name) != NULL)) {
                continue;
            }
            const kith_field_def_t *def = kith_schema_field(f->name);
            fprintf(out, "  %-*s", col - 2, f->name);
            const kith_value_t *v = &f->value;
            if (v->type == KITH_V_INT) {
                fprintf(out, "%s%lld", (v->num > 0 && def && def->min < 0) ? "+" : "",
                        (long long) v->num);
            } else if (v->type == KITH_V_STR && def && def->type == KITH_FT_REF) {
                print_ref(n, out, v->str);
            } else if (v->type == KITH_V_STR) {
                print_text(out, v->str, col);
            } else if (v->type == KITH_V_LIST) {
                for (size_t i = 0; i < v->n_items; i++) {
                    if (i > 0) {
                        fprintf(out, "\n%*s", col, "");
                    }
                    const char *colon = strrchr(v->items[i], ':');
                    if (def && def->type == KITH_FT_RELATIONS && colon) {
                        fprintf(out, "%.*s: ", (int) (colon - v->items[i]), v->items[i]);
                        print_ref(n, out, colon + 1);
                    } else {
                        print_text(out, v->items[i], col);
                    }
                }
            }
            fprintf(out, "%s\n", f->private ? "   [private]" : "");
        }
    }
    kith_recview_key_label(n, r->owner, label);
    fprintf(out, "  %-*s%s\n", col - 2, "owner", label);
    fprintf(out, "  %-*s", col - 2, "shared with");
    kith_recview_specs_t s;
    int have_specs = kith_recview_specs_load(n, r, &s) == KITH_OK;
    if (have_specs && s.n > 0) {
        /* The owner sees what was asked for: each group, with whoever is in it now, and
         * each peer named directly. */
        for (size_t i = 0; i < s.n; i++) {
            const kith_recview_spec_t *spec = &s.v[i];
            fprintf(out, "%*s%s (%s)", i ? col : 0, "", spec->label, role_name(spec->role));
            if (spec->target.is_group) {
                const char *sep = ": ";
                for (size_t k = 0; k < s.n_peers; k++) {
                    if (kith_recview_spec_member(&s, spec, k)) {
                        fprintf(out, "%s%s", sep, s.peers[k].name);
                        sep = ", ";
                    }
                }
                fputs(sep[0] == ':' ? ": no members yet" : "", out);
            }
            fputc('\n', out);
        }
    } else {
        if (r->n_aud == 0) {
            fprintf(out, "nobody\n");
        }
        for (size_t i = 0; i < r->n_aud; i++) {
            kith_recview_key_label(n, r->aud[i].key, label);
            fprintf(out, "%s (%s)%s", label, role_name(r->aud[i].role),
                    i + 1 < r->n_aud ? ", " : "\n");
        }
    }
    if (have_specs) {
        kith_recview_specs_close(&s);
    }
    kith_hlc_format(r->updated, when);
    fprintf(out, "  %-*s%s UTC\n", col - 2, "updated", when);
}

void
cli_record_line(const kith_record_t *r, const char *note, FILE *out)
{
    char hex[33];
    cli_id_hex(r->id, hex);
    const kith_rfield_t *org = kith_record_field(r, "org");
    const kith_rfield_t *title = kith_record_field(r, "title");
    fprintf(out, "%.8s  %-6s  %s", hex, kith_schema_kind_name(r->kind), kith_record_name(r));
    if (title && title->value.type == KITH_V_STR) {
        fprintf(out, " — %s", title->value.str);
        if (org && org->value.type == KITH_V_STR) {
            fprintf(out, ", %s", org->value.str);
        }
    } else if (org && org->value.type == KITH_V_STR) {
        fprintf(out, " — %s", org->value.str);
    }
    if (note != NULL) {
        fprintf(out, "  [%s]", note);
    }
    fputc('\n', out);
}
