/*
 * kith pair: two colleagues in the same room become peers by reading a short code aloud.
 *
 * The host prints a code and announces on the LAN (UDP offers, proto/PAIRING.md) that it
 * waits on a TCP port; the joiner types the code, hears the offer for its channel,
 * connects, and the two run the CPace exchange of src/sync/pairing.h. Both then show the
 * other's name and fingerprint, ask for confirmation (--yes skips it) and add each other.
 *
 * The network flow lives in net/pairrun.c; this file parses the options, opens the node,
 * prints what the run reports, asks the user (in the decide callback) and adds the peer.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "kith/error.h"
#include "net/pairrun.h"
#include "sync/pairing.h"
#include "util/hlc.h"
#include "util/nodeid.h"

#define GETOPT_BEGIN() (optind = 0, opterr = 0)

static int
confirm(const char *name, const char *fp, int yes)
{
    return cli_confirm(
        yes, 1, "Add %s (fingerprint %s) as a peer? Check the fingerprint with them.", name, fp);
}

/* What the pairing callbacks need, and what decide() concluded. */
typedef struct {
    kith_node_t *n;
    const char *forced_name; /* --name, or NULL */
    int yes;                 /* --yes */
    int decided;             /* decide() ran */
    int refused_ret;         /* the exit code when decide() refused */
    char local[65];          /* the new peer's local name, once accepted */
} pair_ctx_t;

static void
on_code(void *ctx, const char *code, unsigned expires_s)
{
    (void) ctx;
    printf("%s\n", code);
    printf("Read this code to your colleague; they run: kith pair %s\n", code);
    printf("Waiting for them on the local network (the code expires in %llu seconds)...\n",
           (unsigned long long) expires_s);
    fflush(stdout);
}

static void
on_progress(void *ctx, const char *sentence)
{
    (void) ctx;
    printf("%s\n", sentence);
    fflush(stdout);
}

/* Shows the other side, checks it is new and asks the user. */
static int
decide(void *ctx, const char *theirs, const uint8_t key[KITH_PK_LEN])
{
    pair_ctx_t *c = ctx;
    char fp[KITH_FINGERPRINT_LEN + 1];
    c->decided = 1;
    c->refused_ret = 1;
    kith_fingerprint(key, fp);
    printf("The code matched. The other side is \"%s\", fingerprint %s\n", theirs, fp);
    kith_peer_t existing;
    if (kith_store_peer_get_by_key(c->n->store, key, &existing) == KITH_OK) {
        printf("%s is already your peer, named %s.\n", theirs, existing.name);
        kith_peer_close(&existing);
        c->refused_ret = 0;
        return 0;
    }
    if (memcmp(key, c->n->id->pk, KITH_PK_LEN) == 0) {
        cli_error("that is this node itself");
        return 0;
    }
    kith_node_peer_name_free(c->n, c->forced_name ? c->forced_name : theirs, c->local);
    if (!confirm(c->local, fp, c->yes)) {
        printf("Not added.\n");
        return 0;
    }
    return 1;
}

/* Adds the peer the user accepted. */
static int
add_peer(kith_node_t *n, const char *local, const uint8_t key[KITH_PK_LEN], const char *groups)
{
    kith_peer_t np = {(char *) local, {0}, (char *) groups, "", 0, kith_hlc_now_ms(), 0, ""};
    memcpy(np.key, key, KITH_PK_LEN);
    int rc = kith_store_begin(n->store);
    if (rc == KITH_OK) {
        rc = kith_node_peer_add(n, &np, kith_hlc_now_ms());
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
        cli_error("cannot add the peer: %s", kith_strerror(rc));
        return 1;
    }
    char nid[KITH_NODEID_BUFSIZE];
    kith_nodeid_encode(key, nid);
    printf("Added peer %s (%s)%s%s\n", local, nid, groups[0] ? " in groups " : "", groups);
    cli_poke(n->dir);
    return 0;
}

/* Hosts (code NULL) or joins a pairing, then adds the peer. Returns the exit code. */
static int
pair(kith_node_t *n, const char *code, uint64_t timeout_ms, const char *forced_name,
     const char *groups, int yes)
{
    pair_ctx_t c = {n, forced_name, yes, 0, 1, ""};
    kith_pairrun_cb_t cb = {&c, on_code, on_progress, decide, NULL};
    char name[KITH_PAIRING_NAME_MAX + 1], theirs[KITH_PAIRING_NAME_MAX + 1], err[512];
    uint8_t key[KITH_PK_LEN];
    kith_node_pairing_name(n, name);
    int rc = code == NULL ? kith_pairrun_host(n->id->pk, name, timeout_ms, &cb, theirs, key, err,
                                              sizeof(err))
                          : kith_pairrun_join(n->id->pk, name, code, timeout_ms, &cb, theirs, key,
                                              err, sizeof(err));
    if (rc == KITH_OK) {
        return add_peer(n, c.local, key, groups);
    }
    if (rc == KITH_EPERM && c.decided) {
        return c.refused_ret;
    }
    cli_error("%s", err);
    return 1;
}

int
cmd_pair(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"yes", no_argument, NULL, 'y'},
        {"timeout", required_argument, NULL, 't'},
        {"name", required_argument, NULL, 'n'},
        {"group", required_argument, NULL, 'g'},
        {NULL, 0, NULL, 0},
    };
    int yes = 0, c;
    long timeout_s = -1;
    const char *forced = NULL;
    /* The new peer's groups, as 'kith peer add --group' takes them. */
    char groups[1024] = "";
    size_t groups_len = 0;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'g') {
            const char *gname = optarg[0] == '@' ? optarg + 1 : optarg;
            size_t len = strlen(gname);
            if (!cli_valid_name(gname)) {
                return cli_usage_error("pair", "a group name is 1-64 of A-Z a-z 0-9 . _ -");
            }
            if (groups_len + len + 2 > sizeof(groups)) {
                return cli_usage_error("pair", "too many groups");
            }
            groups_len += (size_t) snprintf(groups + groups_len, sizeof(groups) - groups_len,
                                            "%s%s", groups_len ? "," : "", gname);
        } else if (c == 'y') {
            yes = 1;
        } else if (c == 't') {
            char *end;
            timeout_s = strtol(optarg, &end, 10);
            if (*end != '\0' || timeout_s < 1 || timeout_s > KITH_PAIRING_TTL_MS / 1000) {
                return cli_usage_error("pair", "--timeout takes 1 to %d seconds",
                                       KITH_PAIRING_TTL_MS / 1000);
            }
        } else if (c == 'n') {
            forced = optarg;
        } else {
            return cli_usage_error("pair", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind > 1) {
        return cli_usage_error("pair", "takes at most one CODE");
    }
    int channel = 0;
    uint8_t words[KITH_PAIRING_WORDS];
    if (argc - optind == 1 && kith_pairing_code_parse(argv[optind], &channel, words) != KITH_OK) {
        char hint[KITH_PAIRING_CODE_MAX];
        if (kith_pairing_code_suggest(argv[optind], hint) == KITH_OK) {
            cli_error("'%s' is not a pairing code; did you mean %s?", argv[optind], hint);
        } else {
            cli_error("'%s' is not a pairing code (like 7-orbit-sugar-lantern)", argv[optind]);
        }
        return EXIT_USAGE;
    }
    sodium_memzero(words, sizeof(words));
    kith_node_t *n = cli_open_node(g);
    if (n == NULL) {
        return 1;
    }
    int ret;
    if (argc - optind == 0) {
        ret = pair(n, NULL,
                   (uint64_t) (timeout_s > 0 ? timeout_s : KITH_PAIRING_TTL_MS / 1000) * 1000,
                   forced, groups, yes);
    } else {
        ret = pair(n, argv[optind], (uint64_t) (timeout_s > 0 ? timeout_s : 60) * 1000, forced,
                   groups, yes);
    }
    kith_node_close(n);
    return ret;
}
