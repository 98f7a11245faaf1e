/*
 * Tests for the JSON import (src/formats/opsjson.c and src/node/jsonio.c): hostile and
 * malformed files are refused with a message saying where, within the bounds; a real
 * export's ops round-trip; a tampered op refuses the whole file and changes nothing.
 */
#include "check.h"

#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/opsjson.h"
#include "kith/kith.h"
#include "node/jsonio.h"
#include "node/node.h"
#include "util/hlc.h"

static int
group_setup(void **state)
{
    (void) state;
    return kith_init() == KITH_OK ? 0 : -1;
}

/* Parses text; returns the code, with the message in err. */
static int
parse(const char *text, char *err, size_t cap)
{
    kith_opsjson_t f;
    err[0] = '\0';
    int rc = kith_opsjson_parse(text, strlen(text), &f, err, cap);
    if (rc == KITH_OK) {
        kith_opsjson_close(&f);
    } else {
        ASSERT_EQ(f.n_recs, 0);
        ASSERT_EQ(f.n_ops, 0);
        assert_true(err[0] != '\0');
    }
    return rc;
}

static void
hostile_text(void **state)
{
    (void) state;
    char err[256];
    ASSERT_ERR(parse("", err, sizeof(err)), KITH_EPARSE);
    ASSERT_ERR(parse("{}", err, sizeof(err)), KITH_EPARSE);
    assert_non_null(strstr(err, "not an array"));
    ASSERT_ERR(parse("[1]", err, sizeof(err)), KITH_EPARSE);
    assert_non_null(strstr(err, "record 1 is not an object"));
    ASSERT_ERR(parse("[{\"id\": 5, \"ops\": [\"AA==\"]}]", err, sizeof(err)), KITH_EPARSE);
    assert_non_null(strstr(err, "\"id\""));
    ASSERT_ERR(parse("[{\"id\": \"zz\"}]", err, sizeof(err)), KITH_EPARSE);
    /* A record without ops: an export made by an older kith. */
    ASSERT_ERR(parse("[{\"id\": \"000102030405060708090a0b0c0d0e0f\"}]", err, sizeof(err)),
               KITH_EPARSE);
    assert_non_null(strstr(err, "record 1 (id 00010203) has no \"ops\""));
    ASSERT_ERR(
        parse("[{\"id\": \"000102030405060708090a0b0c0d0e0f\", \"ops\": []}]", err, sizeof(err)),
        KITH_EPARSE);
    /* Not base64, too short to be a signed op, not a string. */
    ASSERT_ERR(parse("[{\"id\": \"000102030405060708090a0b0c0d0e0f\", \"ops\": [\"!!!\"]}]", err,
                     sizeof(err)),
               KITH_EPARSE);
    assert_non_null(strstr(err, "op 1: not the base64"));
    ASSERT_ERR(parse("[{\"id\": \"000102030405060708090a0b0c0d0e0f\", \"ops\": [\"AAAA\"]}]", err,
                     sizeof(err)),
               KITH_EPARSE);
    ASSERT_ERR(
        parse("[{\"id\": \"000102030405060708090a0b0c0d0e0f\", \"ops\": [7]}]", err, sizeof(err)),
        KITH_EPARSE);
    /* Duplicate keys: which "ops" would count? Neither. */
    ASSERT_ERR(parse("[{\"id\": \"000102030405060708090a0b0c0d0e0f\", \"ops\": [], \"ops\": []}]",
                     err, sizeof(err)),
               KITH_EPARSE);
    assert_non_null(strstr(err, "line 1"));
    /* Syntax errors name the line. */
    ASSERT_ERR(parse("[\n{\"id\": \n", err, sizeof(err)), KITH_EPARSE);
    assert_non_null(strstr(err, "line"));
    /* Nesting beyond the bound is refused before jansson sees it, brackets in strings
     * do not count. */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 99);
    deep[199] = '\0';
    ASSERT_ERR(parse(deep, err, sizeof(err)), KITH_ETOOBIG);
    assert_non_null(strstr(err, "nested more than"));
    ASSERT_ERR(parse("[{\"id\": \"[[[[[[[[[[[[[[[[[[[[\"}]", err, sizeof(err)), KITH_EPARSE);
    /* Too large, before anything is parsed. */
    kith_opsjson_t f;
    ASSERT_ERR(kith_opsjson_parse("[]", KITH_OPSJSON_MAX_TEXT + 1, &f, err, sizeof(err)),
               KITH_ETOOBIG);
    /* An op over the largest op's base64. */
    size_t big = ((size_t) KITH_OP_MAX_LEN + 2) / 3 * 4 + 8;
    char *text = malloc(big + 100);
    assert_non_null(text);
    int n = snprintf(text, 100, "[{\"id\": \"000102030405060708090a0b0c0d0e0f\", \"ops\": [\"");
    memset(text + n, 'A', big);
    strcpy(text + n + big, "\"]}]");
    ASSERT_ERR(parse(text, err, sizeof(err)), KITH_ETOOBIG);
    free(text);
    /* An empty array is an empty file, not an error. */
    ASSERT_OK(parse("[]", err, sizeof(err)));
}

/* A node with two records, in a temporary directory. */
typedef struct {
    char base[64], home[128], home2[128];
    kith_node_t *n;
} fixture_t;

static void
remove_home(const char *home)
{
    char p[256];
    const char *files[] = {"identity.key", "kith.db", "kith.db-wal", "kith.db-shm"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", home, files[i]);
        unlink(p);
    }
    rmdir(home);
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->base, sizeof(f->base), "/tmp/kith-opsjson-XXXXXX");
    if (mkdtemp(f->base) == NULL) {
        return -1;
    }
    snprintf(f->home, sizeof(f->home), "%s/a", f->base);
    snprintf(f->home2, sizeof(f->home2), "%s/b", f->base);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    kith_node_close(f->n);
    remove_home(f->home);
    remove_home(f->home2);
    rmdir(f->base);
    free(f);
    return 0;
}

/* The file kith export json would write for the node's records (ops only). */
static void
export_ops(kith_node_t *n, const uint8_t (*ids)[KITH_REC_ID_LEN], size_t count, kith_buf_t *out)
{
    kith_buf_puts(out, "[");
    for (size_t i = 0; i < count; i++) {
        char hex[33];
        sodium_bin2hex(hex, sizeof(hex), ids[i], KITH_REC_ID_LEN);
        kith_buf_printf(out, "%s{\"name\": \"ignored\", \"id\": \"%s\", \"ops\": [", i ? "," : "",
                        hex);
        kith_signed_ops_t ops;
        ASSERT_OK(kith_node_record_ops(n, ids[i], 1, &ops));
        for (size_t k = 0; k < ops.n; k++) {
            char b64[sodium_base64_ENCODED_LEN(KITH_OP_MAX_LEN, sodium_base64_VARIANT_ORIGINAL)];
            sodium_bin2base64(b64, sizeof(b64), ops.ops[k].data, ops.ops[k].len,
                              sodium_base64_VARIANT_ORIGINAL);
            kith_buf_printf(out, "%s\"%s\"", k ? "," : "", b64);
        }
        kith_signed_ops_close(&ops);
        kith_buf_puts(out, "]}");
    }
    kith_buf_puts(out, "]");
}

static void
add_record(kith_node_t *n, const char *name, int private, uint8_t id[KITH_REC_ID_LEN])
{
    kith_op_t op;
    kith_op_init(&op);
    kith_node_new_record_id(n, op.rec);
    memcpy(op.owner, n->id->pk, KITH_PK_LEN);
    op.kind = 0;
    kith_value_t v = {.type = KITH_V_STR, .str = (char *) name};
    ASSERT_OK(kith_op_set_field(&op, "name", &v));
    ASSERT_OK(kith_store_begin(n->store));
    ASSERT_OK(kith_node_apply_local(n, &op, kith_hlc_now_ms(), NULL));
    memcpy(id, op.rec, KITH_REC_ID_LEN);
    kith_op_close(&op);
    if (private) {
        kith_op_init(&op);
        memcpy(op.rec, id, KITH_REC_ID_LEN);
        memcpy(op.owner, n->id->pk, KITH_PK_LEN);
        op.private = 1;
        kith_value_t note = {.type = KITH_V_STR, .str = "private note"};
        ASSERT_OK(kith_op_set_field(&op, "note", &note));
        ASSERT_OK(kith_node_apply_local(n, &op, kith_hlc_now_ms(), NULL));
        kith_op_close(&op);
    }
    ASSERT_OK(kith_store_commit(n->store));
}

static size_t
count_ops(kith_node_t *n)
{
    uint64_t seq = 0;
    ASSERT_OK(kith_store_max_seq(n->store, &seq));
    return (size_t) seq;
}

static void
round_trip_and_tamper(void **state)
{
    fixture_t *f = *state;
    char err[512];
    uint8_t ids[2][KITH_REC_ID_LEN];
    ASSERT_OK(kith_node_create(f->home, "a", NULL, err, sizeof(err)));
    ASSERT_OK(kith_node_open(f->home, NULL, &f->n, err, sizeof(err)));
    add_record(f->n, "Ada", 1, ids[0]);
    add_record(f->n, "Grace", 0, ids[1]);
    kith_buf_t text;
    kith_buf_init(&text);
    export_ops(f->n, (const uint8_t(*)[KITH_REC_ID_LEN]) ids, 2, &text);

    kith_opsjson_t parsed;
    kith_import_stats_t st;
    ASSERT_OK(kith_opsjson_parse((char *) text.data, text.len, &parsed, err, sizeof(err)));
    ASSERT_EQ(parsed.n_recs, 2);
    ASSERT_EQ(parsed.n_ops, 3);
    /* Into the same node: nothing new. */
    ASSERT_OK(kith_node_import_ops(f->n, &parsed, &st, err, sizeof(err)));
    ASSERT_EQ(st.accepted, 0);
    ASSERT_EQ(st.duplicate, 3);

    /* Into a fresh node of the same identity: everything, the private op included. */
    char keypath[256];
    snprintf(keypath, sizeof(keypath), "%s/identity.key", f->home);
    FILE *kf = fopen(keypath, "rb");
    assert_non_null(kf);
    uint8_t key[4096];
    size_t key_len = fread(key, 1, sizeof(key), kf);
    fclose(kf);
    ASSERT_OK(kith_node_create_from_key(f->home2, "a", key, key_len, NULL, err, sizeof(err)));
    kith_node_t *n2 = NULL;
    ASSERT_OK(kith_node_open(f->home2, NULL, &n2, err, sizeof(err)));
    assert_memory_equal(n2->id->pk, f->n->id->pk, KITH_PK_LEN);

    /* A tampered op (a byte of its encoding) refuses the whole file, naming it. */
    size_t last = parsed.n_ops - 1;
    parsed.ops[last][parsed.lens[last] - 3] ^= 1;
    ASSERT_ERR(kith_node_import_ops(n2, &parsed, &st, err, sizeof(err)), KITH_EAUTH);
    assert_non_null(strstr(err, "record 2"));
    assert_non_null(strstr(err, "op 1"));
    ASSERT_EQ(count_ops(n2), 0);
    parsed.ops[last][parsed.lens[last] - 3] ^= 1;
    /* A bad signature, likewise. */
    parsed.ops[0][3] ^= 1;
    ASSERT_ERR(kith_node_import_ops(n2, &parsed, &st, err, sizeof(err)), KITH_EAUTH);
    assert_non_null(strstr(err, "record 1"));
    assert_non_null(strstr(err, "bad signature"));
    ASSERT_EQ(count_ops(n2), 0);
    parsed.ops[0][3] ^= 1;
    /* An op listed under another record. */
    memcpy(parsed.recs[1].id, parsed.recs[0].id, KITH_REC_ID_LEN);
    ASSERT_ERR(kith_node_import_ops(n2, &parsed, &st, err, sizeof(err)), KITH_EAUTH);
    assert_non_null(strstr(err, "belongs to another record"));
    ASSERT_EQ(count_ops(n2), 0);
    memcpy(parsed.recs[1].id, ids[1], KITH_REC_ID_LEN);

    ASSERT_OK(kith_node_import_ops(n2, &parsed, &st, err, sizeof(err)));
    ASSERT_EQ(st.accepted, 3);
    kith_record_t a, b;
    ASSERT_OK(kith_store_record_get(f->n->store, ids[0], &a));
    ASSERT_OK(kith_store_record_get(n2->store, ids[0], &b));
    ASSERT_EQ(a.n_fields, b.n_fields);
    ASSERT_EQ(a.created, b.created);
    ASSERT_EQ(a.updated, b.updated);
    kith_record_close(&a);
    kith_record_close(&b);
    kith_node_close(n2);

    /* Another identity's private op is refused. */
    kith_node_t *n3 = NULL;
    char home3[160];
    snprintf(home3, sizeof(home3), "%s/c", f->base);
    ASSERT_OK(kith_node_create(home3, "c", NULL, err, sizeof(err)));
    ASSERT_OK(kith_node_open(home3, NULL, &n3, err, sizeof(err)));
    ASSERT_ERR(kith_node_import_ops(n3, &parsed, &st, err, sizeof(err)), KITH_EAUTH);
    assert_non_null(strstr(err, "private op made by someone else"));
    ASSERT_EQ(count_ops(n3), 0);
    kith_node_close(n3);
    remove_home(home3);

    kith_opsjson_close(&parsed);
    kith_buf_close(&text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostile_text),
        cmocka_unit_test_setup_teardown(round_trip_and_tamper, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
