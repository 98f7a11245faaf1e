/*
 * kith init, id, peer, help.
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/keyfile.h"
#include "kith/error.h"
#include "model/schema.h"
#include "util/hlc.h"
#include "util/json.h"
#include "util/nodeid.h"

/* getopt_long with kith's error messages; returns the option or -1 at the end. */
#define GETOPT_BEGIN() (optind = 0, opterr = 0)

static int
bad_option(const char *cmd, char **argv)
{
    return cli_usage_error(cmd, "unknown option or missing value: '%s'", argv[optind - 1]);
}

/* Reads a backed-up identity file (at most 4 KiB) into out. 0 on success. */
static int
read_key_backup(const char *path, kith_buf_t *out)
{
    FILE *f = fopen(path, "rb");
    uint8_t tmp[4096];
    size_t len = f ? fread(tmp, 1, sizeof(tmp), f) : 0;
    int bad = f == NULL || ferror(f) || len == sizeof(tmp);
    if (f != NULL) {
        fclose(f);
    }
    if (bad || kith_buf_append(out, tmp, len) != KITH_OK) {
        cli_error("cannot read the identity file %s%s%s", path, f == NULL ? ": " : "",
                  f == NULL ? strerror(errno) : "");
        sodium_memzero(tmp, sizeof(tmp));
        return -1;
    }
    sodium_memzero(tmp, sizeof(tmp));
    return 0;
}

int
cmd_init(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"passphrase", no_argument, NULL, 'p'},
        {"identity", required_argument, NULL, 'i'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL, *identity = NULL;
    int want_pass = 0, c;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'n') {
            name = optarg;
        } else if (c == 'p') {
            want_pass = 1;
        } else if (c == 'i') {
            identity = optarg;
        } else {
            return bad_option("init", argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);
    }
    if (name != NULL &&
        (name[0] == '\0' || strlen(name) > KITH_NAME_MAX || strpbrk(name, "\n\r\t") != NULL)) {
        return cli_usage_error("init", "the name must be 1 to %d characters on one line",
                               KITH_NAME_MAX);
    }
    const char *home = cli_home(g);
    if (home == NULL) {
        return 1;
    }
    if (kith_node_needs_passphrase(home) != KITH_ENOTFOUND) {
        cli_error("%s already holds a kith node; not overwriting it", home);
        return 1;
    }
    if (identity != NULL && want_pass) {
        return cli_usage_error("init", "--passphrase is for a new identity: a restored one "
                                       "keeps its own");
    }
    kith_buf_t key;
    kith_buf_init(&key);
    if (identity != NULL && read_key_backup(identity, &key) != 0) {
        return 1;
    }
    char *pass = NULL;
    if (want_pass || (identity != NULL && kith_keyfile_is_sealed(key.data, key.len) == 1)) {
        pass = cli_read_passphrase(want_pass ? "New passphrase: " : "Passphrase: ", want_pass);
        if (pass == NULL) {
            kith_buf_close(&key);
            return 1;
        }
    }
    char err[512] = "";
    int rc = identity != NULL
                 ? kith_node_create_from_key(home, name, key.data, key.len, pass, err, sizeof(err))
                 : kith_node_create(home, name, pass, err, sizeof(err));
    cli_passphrase_free(pass);
    if (key.data != NULL) {
        sodium_memzero(key.data, key.len);
    }
    kith_buf_close(&key);
    if (rc != KITH_OK) {
        cli_error("%s", err[0] ? err : kith_strerror(rc));
        return 1;
    }
    uint8_t pk[KITH_PK_LEN];
    char nid[KITH_NODEID_BUFSIZE];
    if (kith_node_public_key(home, pk, err, sizeof(err)) != KITH_OK) {
        cli_error("%s", err);
        return 1;
    }
    kith_nodeid_encode(pk, nid);
    printf("%s a kith node in %s%s\n", identity ? "Restored the identity of" : "Created", home,
           want_pass ? " (keys protected by passphrase)" : "");
    printf("Node ID: %s\n", nid);
    printf("Give this ID to colleagues so they can 'kith peer add' you.\n");
    return 0;
}

int
cmd_id(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else {
            return bad_option("id", argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("id", "unexpected argument '%s'", argv[optind]);
    }
    const char *home = cli_home(g);
    if (home == NULL) {
        return 1;
    }
    /* The ID and fingerprint come from the public half of the key file, so `kith id`
     * works without the passphrase; the name needs the store. */
    uint8_t pk[KITH_PK_LEN];
    char err[512] = "";
    if (kith_node_public_key(home, pk, err, sizeof(err)) != KITH_OK) {
        cli_error("%s", err);
        return 1;
    }
    char nid[KITH_NODEID_BUFSIZE], fp[KITH_FINGERPRINT_LEN + 1], hex[65];
    kith_nodeid_encode(pk, nid);
    kith_fingerprint(pk, fp);
    sodium_bin2hex(hex, sizeof(hex), pk, KITH_PK_LEN);
    kith_store_t *store = NULL;
    kith_buf_t name, db;
    kith_buf_init(&name);
    kith_buf_init(&db);
    if (kith_buf_printf(&db, "%s/%s", home, KITH_DB_FILE) == KITH_OK &&
        kith_store_open((char *) db.data, 0, &store, NULL, 0) == KITH_OK) {
        kith_store_meta_get(store, "name", &name);
    }
    kith_store_close(store);
    kith_buf_close(&db);
    const char *nm = name.data ? (const char *) name.data : "";
    int rc = 0;
    if (json) {
        kith_buf_t out;
        kith_buf_init(&out);
        kith_json_t j;
        kith_json_init(&j, &out, 1);
        kith_json_object_begin(&j);
        kith_json_key(&j, "node_id");
        kith_json_string(&j, nid);
        kith_json_key(&j, "public_key");
        kith_json_string(&j, hex);
        kith_json_key(&j, "name");
        kith_json_string(&j, nm);
        kith_json_key(&j, "fingerprint");
        kith_json_string(&j, fp);
        kith_json_object_end(&j);
        rc = kith_json_finish(&j) == KITH_OK && cli_write_stdout(&out) == 0 ? 0 : 1;
        kith_buf_close(&out);
    } else {
        printf("%s\nname:        %s\nfingerprint: %s\n", nid, nm[0] ? nm : "(none)", fp);
    }
    kith_buf_close(&name);
    return rc;
}

/* HOST:PORT or [V6]:PORT or HOST (port 5484). */
static int
valid_addr(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255 || strpbrk(s, " \t\n/") != NULL) {
        return 0;
    }
    const char *colon = strrchr(s, ':');
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL) {
            return 0;
        }
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] != '\0' && colon == NULL) {
            return 0;
        }
    }
    if (colon != NULL) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
            return 0;
        }
    }
    return 1;
}

static int
peer_add(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"addr", required_argument, NULL, 'a'},
        {"group", required_argument, NULL, 'g'},
        {"self", no_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *addr = "";
    int self = 0, c, ret = 1;
    kith_buf_t groups;
    kith_buf_init(&groups);
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'a') {
            addr = optarg;
        } else if (c == 'g') {
            const char *gname = optarg[0] == '@' ? optarg + 1 : optarg;
            if (!cli_valid_name(gname)) {
                kith_buf_close(&groups);
                return cli_usage_error("peer add", "a group name is 1-64 of A-Z a-z 0-9 . _ -");
            }
            if (groups.len > 0) {
                kith_buf_putc(&groups, ',');
            }
            kith_buf_puts(&groups, gname);
        } else if (c == 's') {
            self = 1;
        } else {
            kith_buf_close(&groups);
            return bad_option("peer add", argv);
        }
    }
    if (argc - optind != 2) {
        kith_buf_close(&groups);
        return cli_usage_error("peer add", "needs NAME and NODE-ID");
    }
    const char *name = argv[optind], *idtext = argv[optind + 1];
    kith_peer_t p = {0};
    kith_node_t *n = NULL;
    if (!cli_valid_name(name)) {
        kith_buf_close(&groups);
        return cli_usage_error("peer add", "a peer name is 1-64 of A-Z a-z 0-9 . _ - "
                                           "(not starting with @ or -)");
    }
    if (addr[0] && !valid_addr(addr)) {
        kith_buf_close(&groups);
        return cli_usage_error("peer add", "'%s' is not HOST:PORT", addr);
    }
    int rc = kith_nodeid_decode(idtext, p.key);
    if (rc == KITH_ECHECKSUM) {
        cli_error("'%s' is not a valid node ID: its check characters do not match (a typo?)",
                  idtext);
        goto out;
    } else if (rc != KITH_OK) {
        cli_error("'%s' is not a node ID (56 characters, as 'kith id' prints it)", idtext);
        goto out;
    }
    n = cli_open_node(g);
    if (n == NULL) {
        goto out;
    }
    if (memcmp(p.key, n->id->pk, KITH_PK_LEN) == 0) {
        cli_error("that is this node's own ID");
        goto out;
    }
    kith_peer_t existing;
    if (kith_store_peer_get_by_key(n->store, p.key, &existing) == KITH_OK) {
        cli_error("that node is already a peer, named '%s'", existing.name);
        kith_peer_close(&existing);
        goto out;
    }
    p.name = (char *) name;
    p.groups = groups.data ? (char *) groups.data : "";
    p.addr = (char *) addr;
    p.self = self;
    p.added_ms = kith_hlc_now_ms();
    rc = kith_store_begin(n->store);
    if (rc == KITH_OK) {
        rc = kith_node_peer_add(n, &p, kith_hlc_now_ms());
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
        if (rc == KITH_EEXISTS) {
            cli_error("a peer named '%s' already exists", name);
        } else {
            cli_error("cannot add the peer: %s", kith_strerror(rc));
        }
        goto out;
    }
    char fp[KITH_FINGERPRINT_LEN + 1];
    kith_fingerprint(p.key, fp);
    printf("Added peer %s (fingerprint %s)%s\n", name, fp, self ? ", one of your own devices" : "");
    cli_poke(n->dir);
    ret = 0;
out:
    kith_node_close(n);
    kith_buf_close(&groups);
    return ret;
}

static int
peer_list(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else {
            return bad_option("peer list", argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("peer list", "unexpected argument '%s'", argv[optind]);
    }
    kith_node_t *n = cli_open_node(g);
    if (n == NULL) {
        return 1;
    }
    kith_peer_t *peers = NULL;
    size_t count = 0;
    int rc = kith_store_peer_list(n->store, &peers, &count);
    if (rc != KITH_OK) {
        cli_error("cannot read the peers: %s", kith_strerror(rc));
        kith_node_close(n);
        return 1;
    }
    kith_buf_t out;
    kith_buf_init(&out);
    kith_json_t j;
    kith_json_init(&j, &out, 1);
    if (json) {
        kith_json_array_begin(&j);
    } else if (count == 0) {
        printf("No peers yet. Add one with 'kith peer add NAME NODE-ID'.\n");
    }
    for (size_t i = 0; i < count; i++) {
        const kith_peer_t *p = &peers[i];
        char nid[KITH_NODEID_BUFSIZE], fp[KITH_FINGERPRINT_LEN + 1], seen[20] = "never";
        kith_nodeid_encode(p->key, nid);
        kith_fingerprint(p->key, fp);
        if (p->last_seen_ms) {
            kith_hlc_format(p->last_seen_ms << 16, seen);
        }
        if (json) {
            kith_json_object_begin(&j);
            kith_json_key(&j, "name");
            kith_json_string(&j, p->name);
            kith_json_key(&j, "node_id");
            kith_json_string(&j, nid);
            kith_json_key(&j, "fingerprint");
            kith_json_string(&j, fp);
            kith_json_key(&j, "groups");
            kith_json_array_begin(&j);
            for (const char *gp = p->groups; *gp;) {
                const char *end = strchr(gp, ',');
                size_t len = end ? (size_t) (end - gp) : strlen(gp);
                kith_json_stringn(&j, gp, len);
                gp += len + (end != NULL);
            }
            kith_json_array_end(&j);
            kith_json_key(&j, "addr");
            p->addr[0] ? kith_json_string(&j, p->addr) : kith_json_null(&j);
            kith_json_key(&j, "self");
            kith_json_bool(&j, p->self);
            kith_json_key(&j, "last_addr");
            p->last_addr[0] ? kith_json_string(&j, p->last_addr) : kith_json_null(&j);
            kith_json_key(&j, "last_seen");
            p->last_seen_ms ? kith_json_uint(&j, p->last_seen_ms / 1000) : kith_json_null(&j);
            kith_json_object_end(&j);
        } else {
            printf("%s%s\n  node ID      %s\n  fingerprint  %s\n", p->name,
                   p->self ? "  (your device)" : "", nid, fp);
            if (p->groups[0]) {
                printf("  groups       %s\n", p->groups);
            }
            if (p->addr[0]) {
                printf("  address      %s\n", p->addr);
            }
            printf("  last seen    %s%s%s\n", seen, p->last_addr[0] ? " at " : "", p->last_addr);
        }
    }
    int ret = 0;
    if (json) {
        kith_json_array_end(&j);
        ret = kith_json_finish(&j) == KITH_OK && cli_write_stdout(&out) == 0 ? 0 : 1;
    }
    kith_buf_close(&out);
    kith_peers_free(peers, count);
    kith_node_close(n);
    return ret;
}

/* A comma-separated group list as a set: add, remove, contains. Group names come
 * checked, without '@'. */
static int
groups_has(const kith_buf_t *groups, const char *g)
{
    kith_peer_t p = {0};
    p.groups = groups->data ? (char *) groups->data : "";
    return kith_peer_in_group(&p, g);
}

static int
groups_add(kith_buf_t *groups, const char *g)
{
    if (groups_has(groups, g)) {
        return KITH_OK;
    }
    return kith_buf_printf(groups, "%s%s", groups->len ? "," : "", g);
}

static int
groups_remove(kith_buf_t *groups, const char *g)
{
    kith_buf_t kept;
    kith_buf_init(&kept);
    int rc = KITH_OK;
    for (const char *p = groups->data ? (const char *) groups->data : ""; *p && rc == KITH_OK;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        if (len != strlen(g) || memcmp(p, g, len) != 0) {
            rc = kith_buf_printf(&kept, "%s%.*s", kept.len ? "," : "", (int) len, p);
        }
        p += len + (end != NULL);
    }
    groups->len = 0;
    if (rc == KITH_OK) {
        rc = kith_buf_puts(groups, kept.data ? (const char *) kept.data : "");
    }
    kith_buf_close(&kept);
    return rc;
}

/* A group name as given (with or without '@'), or NULL after a usage error. */
static const char *
group_arg(const char *cmd, const char *arg)
{
    const char *g = arg[0] == '@' ? arg + 1 : arg;
    if (!cli_valid_name(g)) {
        cli_usage_error(cmd, "'%s' is not a group name: 1-64 of A-Z a-z 0-9 . _ -", arg);
        return NULL;
    }
    return g;
}

static int
peer_edit(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"group", required_argument, NULL, 'g'},
        {"groups", required_argument, NULL, 'G'},
        {"add-group", required_argument, NULL, 'A'},
        {"remove-group", required_argument, NULL, 'R'},
        {"addr", required_argument, NULL, 'a'},
        {"no-addr", no_argument, NULL, 'N'},
        {"self", no_argument, NULL, 's'},
        {"not-self", no_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "peer edit", *new_name = NULL, *addr = NULL;
    int replace_groups = 0, no_addr = 0, self = -1, c, ret = EXIT_USAGE, changes = 0;
    kith_buf_t set_groups, adds, removes, groups;
    kith_buf_init(&set_groups);
    kith_buf_init(&adds);
    kith_buf_init(&removes);
    kith_buf_init(&groups);
    kith_node_t *n = NULL;
    kith_peer_t old = {0};
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *gname = NULL;
        changes++;
        switch (c) {
        case 'n':
            new_name = optarg;
            break;
        case 'g':
        case 'A':
        case 'R':
            if ((gname = group_arg(cmd, optarg)) == NULL) {
                goto out;
            }
            groups_add(c == 'g' ? &set_groups : c == 'A' ? &adds : &removes, gname);
            replace_groups |= c == 'g';
            break;
        case 'G':
            /* The whole list at once; "" for no groups. */
            replace_groups = 1;
            for (const char *p = optarg; *p;) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t) (end - p) : strlen(p);
                char one[KITH_PEER_NAME_MAX + 2];
                snprintf(one, sizeof(one), "%.*s",
                         (int) (len < sizeof(one) ? len : sizeof(one) - 1), p);
                if ((gname = group_arg(cmd, one)) == NULL) {
                    goto out;
                }
                groups_add(&set_groups, gname);
                p += len + (end != NULL);
            }
            break;
        case 'a':
            addr = optarg;
            break;
        case 'N':
            no_addr = 1;
            break;
        case 's':
        case 'S':
            if (self >= 0 && self != (c == 's')) {
                ret = cli_usage_error(cmd, "give --self or --not-self, not both");
                goto out;
            }
            self = c == 's';
            break;
        default:
            ret = bad_option(cmd, argv);
            goto out;
        }
    }
    if (argc - optind != 1) {
        ret = cli_usage_error(cmd, "needs exactly one NAME");
        goto out;
    }
    if (changes == 0) {
        ret = cli_usage_error(cmd, "nothing to change: give --name, --group(s), --add-group, "
                                   "--remove-group, --addr, --no-addr, --self or --not-self");
        goto out;
    }
    if (new_name != NULL && !cli_valid_name(new_name)) {
        ret = cli_usage_error(cmd, "a peer name is 1-64 of A-Z a-z 0-9 . _ - "
                                   "(not starting with @ or -)");
        goto out;
    }
    if (addr != NULL && no_addr) {
        ret = cli_usage_error(cmd, "give --addr or --no-addr, not both");
        goto out;
    }
    if (addr != NULL && !valid_addr(addr)) {
        ret = cli_usage_error(cmd, "'%s' is not HOST:PORT", addr);
        goto out;
    }
    const char *name = argv[optind];
    ret = 1;
    n = cli_open_node(g);
    if (n == NULL) {
        goto out;
    }
    int rc = kith_store_peer_get(n->store, name, &old);
    if (rc == KITH_ENOTFOUND) {
        cli_error("no peer named '%s' (see 'kith peer list')", name);
        goto out;
    }
    if (rc != KITH_OK) {
        cli_error("cannot read the peer: %s", kith_strerror(rc));
        goto out;
    }
    /* Groups: the new list if given, else the old one; then additions, then removals. */
    rc = kith_buf_puts(&groups, replace_groups ? (set_groups.data ? (char *) set_groups.data : "")
                                               : old.groups);
    for (const char *p = adds.data ? (char *) adds.data : ""; rc == KITH_OK && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        char one[KITH_PEER_NAME_MAX + 1];
        snprintf(one, sizeof(one), "%.*s", (int) len, p);
        rc = groups_add(&groups, one);
        p += len + (end != NULL);
    }
    for (const char *p = removes.data ? (char *) removes.data : ""; rc == KITH_OK && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        char one[KITH_PEER_NAME_MAX + 1];
        snprintf(one, sizeof(one), "%.*s", (int) len, p);
        if (!groups_has(&groups, one)) {
            cli_error("%s is not in group %s", name, one);
            goto out;
        }
        rc = groups_remove(&groups, one);
        p += len + (end != NULL);
    }
    kith_peer_t p = old;
    p.name = (char *) (new_name ? new_name : old.name);
    p.groups = groups.data ? (char *) groups.data : "";
    p.addr = no_addr ? "" : addr ? (char *) addr : old.addr;
    p.self = self >= 0 ? self : old.self;
    if (rc == KITH_OK) {
        rc = kith_store_begin(n->store);
    }
    if (rc == KITH_OK) {
        rc = kith_node_peer_edit(n, name, &p, kith_hlc_now_ms());
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
        if (rc == KITH_EEXISTS) {
            cli_error("a peer named '%s' already exists", p.name);
        } else {
            cli_error("cannot change the peer: %s", kith_strerror(rc));
        }
        goto out;
    }
    if (strcmp(p.name, name) != 0) {
        printf("Renamed peer %s to %s\n", name, p.name);
    }
    printf("Peer %s: groups %s; address %s%s\n", p.name, p.groups[0] ? p.groups : "(none)",
           p.addr[0] ? p.addr : "(none)",
           p.self ? "; one of your own devices (it receives your private fields)" : "");
    /* The daemon reloads its peers: a new address is dialled, a changed self flag ends the
     * peer's session so that it reconnects under the new one. */
    cli_poke(n->dir);
    ret = 0;
out:
    kith_peer_close(&old);
    kith_buf_close(&set_groups);
    kith_buf_close(&adds);
    kith_buf_close(&removes);
    kith_buf_close(&groups);
    kith_node_close(n);
    return ret;
}

/* Asks question on the terminal; 1 for yes. */
static int
ask_yes(const char *question)
{
    printf("%s [y/N] ", question);
    fflush(stdout);
    char line[16];
    if (fgets(line, sizeof(line), stdin) == NULL) {
        return 0;
    }
    return line[0] == 'y' || line[0] == 'Y';
}

static int
peer_rm(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"yes", no_argument, NULL, 'y'},
        {NULL, 0, NULL, 0},
    };
    int yes = 0, c;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "y", opts, NULL)) != -1) {
        if (c == 'y') {
            yes = 1;
        } else {
            return bad_option("peer rm", argv);
        }
    }
    if (argc - optind != 1) {
        return cli_usage_error("peer rm", "needs exactly one NAME");
    }
    const char *name = argv[optind];
    kith_node_t *n = cli_open_node(g);
    if (n == NULL) {
        return 1;
    }
    kith_peer_t p;
    uint64_t shared = 0;
    size_t unshared = 0;
    int ret = 1;
    int rc = kith_store_peer_get(n->store, name, &p);
    if (rc == KITH_ENOTFOUND) {
        cli_error("no peer named '%s' (see 'kith peer list')", name);
        goto out;
    }
    if (rc == KITH_OK) {
        rc = kith_store_count_shared(n->store, n->id->pk, p.key, &shared);
        kith_peer_close(&p);
    }
    if (rc != KITH_OK) {
        cli_error("cannot read the peer: %s", kith_strerror(rc));
        goto out;
    }
    /* Removing a peer unshares everything shared with it: ask first, when someone can
     * answer. (Scripts, with no terminal, go ahead as they always have.) */
    if (!yes && isatty(0)) {
        char question[256];
        if (shared > 0) {
            snprintf(question, sizeof(question),
                     "%llu of your records %s shared with %s; removing it unshares %s. "
                     "Remove peer %s?",
                     (unsigned long long) shared, shared == 1 ? "is" : "are", name,
                     shared == 1 ? "it" : "them", name);
        } else {
            snprintf(question, sizeof(question), "Remove peer %s?", name);
        }
        if (!ask_yes(question)) {
            printf("Not removed.\n");
            goto out;
        }
    }
    rc = kith_store_begin(n->store);
    if (rc == KITH_OK) {
        rc = kith_node_peer_remove(n, name, kith_hlc_now_ms(), &unshared);
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
        if (rc == KITH_ENOTFOUND) {
            cli_error("no peer named '%s' (see 'kith peer list')", name);
        } else {
            cli_error("cannot remove the peer: %s", kith_strerror(rc));
        }
        goto out;
    }
    if (unshared > 0) {
        printf("Removed peer %s; %zu of your records %s shared with it and no longer %s.\n", name,
               unshared, unshared == 1 ? "was" : "were", unshared == 1 ? "is" : "are");
    } else {
        printf("Removed peer %s; no record was shared with it.\n", name);
    }
    /* The daemon reloads its peers and ends the removed peer's sessions. */
    cli_poke(n->dir);
    ret = 0;
out:
    kith_node_close(n);
    return ret;
}

int
cmd_peer(cli_globals_t *g, int argc, char **argv)
{
    if (argc < 2) {
        return cli_usage_error("peer", "needs add, edit, list or rm");
    }
    if (strcmp(argv[1], "add") == 0) {
        return peer_add(g, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0) {
        return peer_list(g, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "rm") == 0 || strcmp(argv[1], "remove") == 0) {
        return peer_rm(g, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "edit") == 0) {
        return peer_edit(g, argc - 1, argv + 1);
    }
    return cli_usage_error("peer", "unknown subcommand '%s' (add, edit, list or rm)", argv[1]);
}

int
cmd_help(cli_globals_t *g, int argc, char **argv)
{
    (void) g;
    if (argc < 2) {
        printf("usage: kith [--home DIR] COMMAND [ARGS...]\n\nCommands:\n");
        for (const cli_command_t *c = cli_commands; c->name; c++) {
            printf("  %-10s %s\n", c->name, c->summary);
        }
        printf("\n'kith help COMMAND' or 'kith COMMAND --help' for more; 'kith help fields'\n"
               "for the record fields.\n");
        return 0;
    }
    if (strcmp(argv[1], "fields") == 0) {
        size_t n;
        const kith_field_def_t *defs = kith_schema_fields(&n);
        printf("Record fields (lists take several --set/--add items):\n\n");
        for (size_t i = 0; i < n; i++) {
            const char *type = "text";
            switch (defs[i].type) {
            case KITH_FT_LIST:
            case KITH_FT_EMAILS:
            case KITH_FT_PHONES:
            case KITH_FT_URLS:
            case KITH_FT_LINES:
                type = "list";
                break;
            case KITH_FT_INT:
                type = "number";
                break;
            case KITH_FT_DATE:
                type = "date";
                break;
            case KITH_FT_REF:
                type = "record";
                break;
            case KITH_FT_RELATIONS:
                type = "list";
                break;
            case KITH_FT_CHOICE:
                type = "word";
                break;
            default:
                break;
            }
            printf("  %-18s %-7s %s\n", defs[i].name, type, defs[i].help);
            if (defs[i].type == KITH_FT_CHOICE) {
                printf("  %-18s %-7s one of:", "", "");
                for (const char *const *c = defs[i].choices; *c; c++) {
                    printf(" %s", *c);
                }
                printf("\n");
            }
        }
        printf("\n  x-NAME             text    your own fields (a-z, 0-9, -, _)\n"
               "\nrelations items are TYPE:REF (e.g. manager:Ada); reports_to takes a REF.\n");
        return 0;
    }
    const cli_command_t *c = cli_find_command(argv[1]);
    if (c == NULL) {
        cli_error("no such command '%s' (see 'kith help')", argv[1]);
        return EXIT_USAGE;
    }
    cli_print_help(c);
    return 0;
}
