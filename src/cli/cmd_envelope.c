/*
 * kith send and receive: one record handed to one colleague as a sealed envelope
 * (proto/ENVELOPE.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sync/envelope.h"
#include "kith/error.h"
#include "model/schema.h"
#include "util/hlc.h"
#include "util/nodeid.h"

#define GETOPT_BEGIN() (optind = 0, opterr = 0)

static int
bad_option(const char *cmd, char **argv)
{
    return cli_usage_error(cmd, "unknown option or missing value: '%s'", argv[optind - 1]);
}

typedef struct {
    kith_buf_t data;
    size_t *offs, *lens;
    uint64_t *hlcs;
    size_t n, cap;
} op_bag_t;

/* Collects the record's ops that may leave this node: every op that is not private. */
static int
collect_public(void *ctx, const uint8_t *signed_op, size_t len, const kith_op_t *op,
               const uint8_t hash[KITH_HASH_LEN])
{
    (void) hash;
    op_bag_t *b = ctx;
    if (op->private) {
        return KITH_OK;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        size_t *o = realloc(b->offs, cap * sizeof(*o));
        if (o == NULL) {
            return KITH_ENOMEM;
        }
        b->offs = o;
        size_t *l = realloc(b->lens, cap * sizeof(*l));
        if (l == NULL) {
            return KITH_ENOMEM;
        }
        b->lens = l;
        uint64_t *h = realloc(b->hlcs, cap * sizeof(*h));
        if (h == NULL) {
            return KITH_ENOMEM;
        }
        b->hlcs = h;
        b->cap = cap;
    }
    b->offs[b->n] = b->data.len;
    b->lens[b->n] = len;
    b->hlcs[b->n] = op->hlc;
    b->n++;
    return kith_buf_append(&b->data, signed_op, len);
}

static void
bag_close(op_bag_t *b)
{
    kith_buf_close(&b->data);
    free(b->offs);
    free(b->lens);
    free(b->hlcs);
}

int
cmd_send(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    const char *to = NULL, *outpath = NULL;
    int c, ret = 1;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 't') {
            to = optarg;
        } else if (c == 'o') {
            outpath = optarg;
        } else {
            return bad_option("send", argv);
        }
    }
    if (argc - optind != 1) {
        return cli_usage_error("send", "needs exactly one REF");
    }
    if (to == NULL) {
        return cli_usage_error("send", "needs --to PEER");
    }
    kith_node_t *n = cli_open_node(g);
    kith_peer_t peer = {0};
    kith_record_t rec;
    kith_record_init(&rec);
    op_bag_t bag = {0};
    kith_buf_init(&bag.data);
    kith_buf_t armored;
    kith_buf_init(&armored);
    const uint8_t **ptrs = NULL;
    uint8_t id[KITH_REC_ID_LEN];
    if (n == NULL || cli_resolve(n, argv[optind], id) != 0) {
        goto out;
    }
    if (kith_store_peer_get(n->store, to, &peer) != KITH_OK) {
        cli_error("no peer named '%s' (see 'kith peer list')", to);
        goto out;
    }
    int rc = kith_store_record_get(n->store, id, &rec);
    if (rc != KITH_OK) {
        cli_error("cannot read the record: %s", kith_strerror(rc));
        goto out;
    }
    /* Handing a record over makes it shared with the recipient (as a reader), so that
     * later syncs keep their copy up to date. Only the owner can change the audience. */
    int owner = memcmp(rec.owner, n->id->pk, KITH_PK_LEN) == 0;
    if (owner && kith_record_role(&rec, peer.key) == 0) {
        rc = kith_store_begin(n->store);
        if (rc == KITH_OK) {
            kith_share_target_t t = {0, {0}, ""};
            memcpy(t.key, peer.key, KITH_PK_LEN);
            rc = kith_store_share_set(n->store, id, &t, KITH_ROLE_READER);
        }
        if (rc == KITH_OK) {
            rc = kith_node_update_audience(n, id, kith_hlc_now_ms(), NULL);
        }
        if (rc == KITH_OK) {
            rc = kith_store_commit(n->store);
        }
        if (rc != KITH_OK) {
            kith_store_rollback(n->store);
            cli_error("cannot share the record with %s: %s", peer.name, kith_strerror(rc));
            goto out;
        }
        fprintf(stderr, "kith: %s can now read '%s' and will get its updates through sync\n",
                peer.name, kith_record_name(&rec));
        cli_poke(n->dir);
    }
    rc = kith_store_foreach_op(n->store, id, collect_public, &bag);
    if (rc == KITH_OK && bag.n == 0) {
        cli_error("'%s' has only private fields: nothing to send", kith_record_name(&rec));
        goto out;
    }
    ptrs = calloc(bag.n ? bag.n : 1, sizeof(*ptrs));
    if (rc == KITH_OK && ptrs == NULL) {
        rc = KITH_ENOMEM;
    }
    for (size_t i = 0; rc == KITH_OK && i < bag.n; i++) {
        ptrs[i] = bag.data.data + bag.offs[i];
    }
    if (rc == KITH_OK) {
        rc = kith_envelope_seal(n->id, peer.key, ptrs, bag.lens, bag.n, &armored);
    }
    if (rc != KITH_OK) {
        cli_error("cannot seal the envelope: %s", kith_strerror(rc));
        goto out;
    }
    if (outpath == NULL || strcmp(outpath, "-") == 0) {
        ret = cli_write_stdout(&armored) == 0 ? 0 : 1;
        goto out;
    }
    int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, armored.data, armored.len) != (ssize_t) armored.len || close(fd) != 0) {
        cli_error("cannot write %s: %s", outpath, strerror(errno));
        goto out;
    }
    fprintf(stderr, "Sealed '%s' (%zu ops) for %s in %s\n", kith_record_name(&rec), bag.n,
            peer.name, outpath);
    ret = 0;
out:
    free(ptrs);
    bag_close(&bag);
    kith_buf_close(&armored);
    kith_peer_close(&peer);
    kith_record_close(&rec);
    kith_node_close(n);
    return ret;
}

static void
on_reject(void *ctx, const kith_op_t *op, const char *why)
{
    (void) op;
    size_t *count = ctx;
    if ((*count)++ == 0) {
        fprintf(stderr, "kith: refused an op in the envelope: %s\n", why);
    }
}

int
cmd_receive(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"accept-unknown", no_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    int accept_unknown = 0, c, ret = 1;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'a') {
            accept_unknown = 1;
        } else {
            return bad_option("receive", argv);
        }
    }
    if (argc - optind > 1) {
        return cli_usage_error("receive", "takes at most one FILE (or - for standard input)");
    }
    const char *path = optind < argc ? argv[optind] : "-";
    kith_buf_t text;
    kith_buf_init(&text);
    kith_envelope_t env;
    memset(&env, 0, sizeof(env));
    kith_peer_t peer = {0};
    kith_record_t rec;
    kith_record_init(&rec);
    kith_node_t *n = NULL;
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    char chunk[65536];
    ssize_t r;
    while ((r = read(fd, chunk, sizeof(chunk))) > 0) {
        if (text.len + (size_t) r > KITH_ENVELOPE_MAX_TEXT ||
            kith_buf_append(&text, chunk, (size_t) r) != KITH_OK) {
            cli_error("%s is too large to be an envelope", path);
            if (fd != 0) {
                close(fd);
            }
            goto out;
        }
    }
    if (fd != 0) {
        close(fd);
    }
    n = cli_open_node(g);
    if (n == NULL) {
        goto out;
    }
    char err[256] = "";
    int rc = kith_envelope_open(n->id, text.data ? (const char *) text.data : "", text.len, &env,
                                err, sizeof(err));
    if (rc != KITH_OK) {
        const char *why = rc == KITH_ECRYPTO    ? "it was not sealed for this node, or it was "
                                                  "changed on the way"
                          : rc == KITH_EVERSION ? "it was made by a newer kith (unsupported "
                                                  "envelope version)"
                                                : NULL;
        cli_error("cannot open the envelope: %s; nothing imported", why ? why : err);
        goto out;
    }
    char fp[KITH_FINGERPRINT_LEN + 1];
    kith_fingerprint(env.sender, fp);
    const char *from = "an unknown node";
    if (kith_store_peer_get_by_key(n->store, env.sender, &peer) == KITH_OK) {
        from = peer.name;
    } else if (!accept_unknown) {
        cli_error("the envelope comes from a node that is not your peer (fingerprint %s); "
                  "nothing imported. Add it with 'kith peer add', or use --accept-unknown",
                  fp);
        goto out;
    }
    size_t rejected = 0;
    kith_apply_stats_t st = {0, 0, 0};
    rc = kith_store_begin(n->store);
    if (rc == KITH_OK) {
        rc = kith_store_apply_envelope(n->store, n->id->pk, env.sender, env.ops, env.op_lens,
                                       env.n_ops, &st, on_reject, &rejected);
    }
    if (rc == KITH_OK && st.rejected > 0) {
        rc = KITH_EAUTH; /* all or nothing: a refused op voids the whole envelope */
    }
    if (rc == KITH_OK) {
        rc = kith_store_commit(n->store);
    }
    if (rc != KITH_OK) {
        kith_store_rollback(n->store);
        if (rc == KITH_EAUTH) {
            cli_error("the envelope from %s holds %zu op%s that may not be imported; nothing "
                      "imported",
                      from, st.rejected, st.rejected == 1 ? "" : "s");
        } else {
            cli_error("cannot import: %s; nothing imported", kith_strerror(rc));
        }
        goto out;
    }
    if (kith_store_record_get(n->store, env.rec, &rec) == KITH_OK) {
        char hex[33];
        cli_id_hex(rec.id, hex);
        if (st.accepted == 0) {
            printf("Already up to date: '%s' (%s %.8s) from %s\n", kith_record_name(&rec),
                   kith_schema_kind_name(rec.kind), hex, from);
        } else {
            printf("Imported '%s' (%s %.8s) from %s (fingerprint %s): %zu new op%s, %zu "
                   "already held\n",
                   kith_record_name(&rec), kith_schema_kind_name(rec.kind), hex, from, fp,
                   st.accepted, st.accepted == 1 ? "" : "s", st.duplicate);
        }
    }
    cli_poke(n->dir);
    ret = 0;
out:
    kith_envelope_close(&env);
    kith_buf_close(&text);
    kith_peer_close(&peer);
    kith_record_close(&rec);
    kith_node_close(n);
    return ret;
}
