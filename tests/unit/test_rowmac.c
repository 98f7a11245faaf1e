/*
 * Tests for row MACs (src/store/rowmac.c): values appended through the typed appenders
 * and the same values read back from a real SQLite row (an in-memory database) give the
 * same MAC; a changed type, value, NULL, moved column, table or vault gives another; and
 * kith_rowmac_check() refuses NULL, short, long and wrong MACs with KITH_ETAMPER.
 *
 * The table t has columns without a declared type, so SQLite keeps each value's type as
 * bound: what an attacker with the database file can write.
 */
#include "check.h"

#include <sqlite3.h>
#include <stdint.h>

#include <sodium.h>

#include "crypto/vault.h"
#include "kith/kith.h"
#include "store/rowmac.h"

static kith_identity_t *ident;
static kith_vault_t *vault, *other_vault;
static sqlite3 *db;

static const uint8_t key32[32] = {0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba,
                                  0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5,
                                  0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf};

static int
setup(void **state)
{
    (void) state;
    uint8_t seed[KITH_SEED_LEN], wrapped[KITH_VAULT_WRAPPED_LEN];
    memset(seed, 0x52, sizeof(seed));
    if (kith_init() != KITH_OK || kith_identity_from_seed(seed, &ident) != KITH_OK ||
        kith_vault_create(ident, wrapped, &vault) != KITH_OK ||
        kith_vault_create(ident, wrapped, &other_vault) != KITH_OK) {
        return -1;
    }
    if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
        sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a, b, c, d, e, f, g, h, mac)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    sqlite3_close(db);
    kith_vault_free(vault);
    kith_vault_free(other_vault);
    kith_identity_free(ident);
    return 0;
}

/* The MAC of the row that `sql` (one SELECT) returns, its columns in order, as a row of
 * table under v. */
static void
row_mac(const char *sql, const char *table, const kith_vault_t *v, uint8_t mac[KITH_ROW_MAC_LEN])
{
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    kith_rowmac_t m;
    kith_rowmac_init(&m);
    kith_rowmac_begin(&m, table);
    for (int i = 0; i < sqlite3_column_count(st); i++) {
        kith_rowmac_column(&m, st, i);
    }
    ASSERT_OK(kith_rowmac_end(&m, v, mac));
    kith_rowmac_close(&m);
    sqlite3_finalize(st);
}

/* The values of the reference row, appended as kith appends a row it writes. */
static void
append_reference(kith_rowmac_t *m)
{
    kith_rowmac_blob(m, key32, sizeof(key32));
    kith_rowmac_text(m, "bob");
    kith_rowmac_text(m, "");
    kith_rowmac_int(m, 1);
    kith_rowmac_int(m, -1);
    kith_rowmac_int(m, INT64_MAX);
    kith_rowmac_int(m, INT64_MIN);
    kith_rowmac_blob(m, "", 0);
}

static void
reference_mac(const char *table, uint8_t mac[KITH_ROW_MAC_LEN])
{
    kith_rowmac_t m;
    kith_rowmac_init(&m);
    kith_rowmac_begin(&m, table);
    append_reference(&m);
    ASSERT_OK(kith_rowmac_end(&m, vault, mac));
    kith_rowmac_close(&m);
}

/* Row 1 holds the reference values, written with bound parameters as the store writes. */
static void
insert_reference(void)
{
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_exec(db, "DELETE FROM t", NULL, NULL, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "INSERT INTO t(id, a, b, c, d, e, f, g, h) "
                                 "VALUES(1, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 -1, &st, NULL),
              SQLITE_OK);
    sqlite3_bind_blob(st, 1, key32, sizeof(key32), SQLITE_STATIC);
    sqlite3_bind_text(st, 2, "bob", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, 1);
    sqlite3_bind_int64(st, 5, -1);
    sqlite3_bind_int64(st, 6, INT64_MAX);
    sqlite3_bind_int64(st, 7, INT64_MIN);
    sqlite3_bind_blob(st, 8, "", 0, SQLITE_STATIC); /* a zero-length blob, not NULL */
    ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

#define REF_COLUMNS "SELECT a, b, c, d, e, f, g, h FROM t WHERE id = 1"

static void
assert_mac_differs(const uint8_t a[KITH_ROW_MAC_LEN], const uint8_t b[KITH_ROW_MAC_LEN],
                   const char *what)
{
    if (memcmp(a, b, KITH_ROW_MAC_LEN) == 0) {
        print_error("same MAC: %s\n", what);
        fail();
    }
}

static void
written_and_read_agree(void **state)
{
    (void) state;
    uint8_t want[KITH_ROW_MAC_LEN], got[KITH_ROW_MAC_LEN];
    insert_reference();
    reference_mac("t", want);
    row_mac(REF_COLUMNS, "t", vault, got);
    assert_memory_equal(want, got, KITH_ROW_MAC_LEN);
    /* Through the column reader as well: it is a MAC, not a comparison of bytes. */
    kith_rowmac_t m;
    kith_rowmac_init(&m);
    kith_rowmac_begin(&m, "t");
    append_reference(&m);
    ASSERT_OK(kith_rowmac_check(&m, vault, got, sizeof(got)));
    /* begin starts over: a MAC after a reused input is the same as from a fresh one. */
    kith_rowmac_begin(&m, "t");
    kith_rowmac_text(&m, "left over");
    kith_rowmac_begin(&m, "t");
    append_reference(&m);
    ASSERT_OK(kith_rowmac_end(&m, vault, got));
    assert_memory_equal(want, got, KITH_ROW_MAC_LEN);
    kith_rowmac_close(&m);
    /* The MAC depends on the table it is a row of, and on the vault's key. */
    reference_mac("u", got);
    assert_mac_differs(want, got, "another table");
    row_mac(REF_COLUMNS, "t", other_vault, got);
    assert_mac_differs(want, got, "another vault");
}

/* Integer 1, text "1", blob "1", real 1.0 and NULL are five different columns. */
static void
type_changes(void **state)
{
    (void) state;
    const char *sql[] = {
        "SELECT 1",
        "SELECT '1'",
        "SELECT x'31'",
        "SELECT 1.0",
        "SELECT NULL",
        /* Empty: text, blob and NULL differ too. */
        "SELECT ''",
        "SELECT x''",
        /* And 0 is not the empty value. */
        "SELECT 0",
    };
    enum { N = sizeof(sql) / sizeof(sql[0]) };
    uint8_t macs[N][KITH_ROW_MAC_LEN];
    for (int i = 0; i < N; i++) {
        row_mac(sql[i], "t", vault, macs[i]);
    }
    for (int i = 0; i < N; i++) {
        for (int j = i + 1; j < N; j++) {
            char what[80];
            snprintf(what, sizeof(what), "%s and %s", sql[i], sql[j]);
            assert_mac_differs(macs[i], macs[j], what);
        }
    }
    /* Each typed appender matches its own type only. */
    uint8_t mac[KITH_ROW_MAC_LEN];
    kith_rowmac_t m;
    kith_rowmac_init(&m);
    kith_rowmac_begin(&m, "t");
    kith_rowmac_int(&m, 1);
    ASSERT_OK(kith_rowmac_check(&m, vault, macs[0], KITH_ROW_MAC_LEN));
    ASSERT_ERR(kith_rowmac_check(&m, vault, macs[1], KITH_ROW_MAC_LEN), KITH_ETAMPER);
    ASSERT_ERR(kith_rowmac_check(&m, vault, macs[2], KITH_ROW_MAC_LEN), KITH_ETAMPER);
    kith_rowmac_begin(&m, "t");
    kith_rowmac_text(&m, "1");
    ASSERT_OK(kith_rowmac_check(&m, vault, macs[1], KITH_ROW_MAC_LEN));
    ASSERT_ERR(kith_rowmac_check(&m, vault, macs[0], KITH_ROW_MAC_LEN), KITH_ETAMPER);
    kith_rowmac_begin(&m, "t");
    kith_rowmac_blob(&m, "1", 1);
    ASSERT_OK(kith_rowmac_check(&m, vault, macs[2], KITH_ROW_MAC_LEN));
    ASSERT_ERR(kith_rowmac_check(&m, vault, macs[1], KITH_ROW_MAC_LEN), KITH_ETAMPER);
    kith_rowmac_begin(&m, "t");
    kith_rowmac_blob(&m, NULL, 0);
    ASSERT_OK(kith_rowmac_check(&m, vault, macs[6], KITH_ROW_MAC_LEN));
    ASSERT_ERR(kith_rowmac_check(&m, vault, macs[4], KITH_ROW_MAC_LEN), KITH_ETAMPER);
    /* A real never checks: no appender writes one, and every real reads the same. */
    row_mac("SELECT 2.5", "t", vault, mac);
    for (int i = 0; i < N; i++) {
        if (i != 3) {
            assert_mac_differs(mac, macs[i], "a real and another type");
        }
    }
    kith_rowmac_close(&m);
}

/* Each column of the reference row changed in turn, to another value of its type and to
 * NULL: every one gives another MAC. */
static void
value_and_null_changes(void **state)
{
    (void) state;
    uint8_t want[KITH_ROW_MAC_LEN], got[KITH_ROW_MAC_LEN];
    reference_mac("t", want);
    const char *changes[] = {
        "UPDATE t SET a = x'b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecd'",
        "UPDATE t SET a = substr(a, 1, 31)",
        "UPDATE t SET b = 'Bob'",
        "UPDATE t SET b = 'bob '",
        "UPDATE t SET c = ' '",
        "UPDATE t SET d = 0",
        "UPDATE t SET d = 257",
        "UPDATE t SET e = 1",
        "UPDATE t SET f = 9223372036854775806",
        "UPDATE t SET g = -9223372036854775807",
        "UPDATE t SET h = x'00'",
        "UPDATE t SET a = NULL",
        "UPDATE t SET b = NULL",
        "UPDATE t SET c = NULL",
        "UPDATE t SET d = NULL",
        "UPDATE t SET h = NULL",
    };
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        insert_reference();
        row_mac(REF_COLUMNS, "t", vault, got);
        assert_memory_equal(want, got, KITH_ROW_MAC_LEN);
        ASSERT_EQ(sqlite3_exec(db, changes[i], NULL, NULL, NULL), SQLITE_OK);
        row_mac(REF_COLUMNS, "t", vault, got);
        assert_mac_differs(want, got, changes[i]);
    }
}

/* Moving a value to another column, or bytes across a column boundary, or adding or
 * dropping a column, gives another MAC: each column is typed and length-prefixed. */
static void
moved_columns(void **state)
{
    (void) state;
    uint8_t want[KITH_ROW_MAC_LEN], got[KITH_ROW_MAC_LEN];
    insert_reference();
    reference_mac("t", want);
    /* The same columns read in another order. */
    row_mac("SELECT b, a, c, d, e, f, g, h FROM t WHERE id = 1", "t", vault, got);
    assert_mac_differs(want, got, "a and b swapped");
    row_mac("SELECT a, b, c, e, d, f, g, h FROM t WHERE id = 1", "t", vault, got);
    assert_mac_differs(want, got, "d and e swapped");
    /* One column fewer or more. */
    row_mac("SELECT a, b, c, d, e, f, g FROM t WHERE id = 1", "t", vault, got);
    assert_mac_differs(want, got, "last column dropped");
    row_mac("SELECT a, b, c, d, e, f, g, h, NULL FROM t WHERE id = 1", "t", vault, got);
    assert_mac_differs(want, got, "a NULL column added");
    /* The text "bob" moved into the empty column after it. */
    ASSERT_EQ(sqlite3_exec(db, "UPDATE t SET b = '', c = 'bob'", NULL, NULL, NULL), SQLITE_OK);
    row_mac(REF_COLUMNS, "t", vault, got);
    assert_mac_differs(want, got, "b moved to c");

    /* A byte moved across a boundary: "ab" + "c" against "a" + "bc". */
    uint8_t split1[KITH_ROW_MAC_LEN], split2[KITH_ROW_MAC_LEN], joined[KITH_ROW_MAC_LEN];
    row_mac("SELECT 'ab', 'c'", "t", vault, split1);
    row_mac("SELECT 'a', 'bc'", "t", vault, split2);
    row_mac("SELECT 'abc'", "t", vault, joined);
    assert_mac_differs(split1, split2, "ab|c and a|bc");
    assert_mac_differs(split1, joined, "ab|c and abc");
    row_mac("SELECT x'0102', x'03'", "t", vault, split1);
    row_mac("SELECT x'01', x'0203'", "t", vault, split2);
    assert_mac_differs(split1, split2, "blob 0102|03 and 01|0203");
}

static void
check_rejects(void **state)
{
    (void) state;
    uint8_t mac[KITH_ROW_MAC_LEN], bad[KITH_ROW_MAC_LEN + 1];
    kith_rowmac_t m;
    kith_rowmac_init(&m);
    kith_rowmac_begin(&m, "t");
    append_reference(&m);
    ASSERT_OK(kith_rowmac_end(&m, vault, mac));
    ASSERT_OK(kith_rowmac_check(&m, vault, mac, sizeof(mac)));
    /* No MAC at all: NULL with either length. */
    ASSERT_ERR(kith_rowmac_check(&m, vault, NULL, 0), KITH_ETAMPER);
    ASSERT_ERR(kith_rowmac_check(&m, vault, NULL, KITH_ROW_MAC_LEN), KITH_ETAMPER);
    /* Every prefix of the right MAC is too short, and the right MAC with more after it is
     * too long. */
    for (size_t len = 0; len < KITH_ROW_MAC_LEN; len++) {
        ASSERT_ERR(kith_rowmac_check(&m, vault, mac, len), KITH_ETAMPER);
    }
    memcpy(bad, mac, sizeof(mac));
    bad[KITH_ROW_MAC_LEN] = 0;
    ASSERT_ERR(kith_rowmac_check(&m, vault, bad, sizeof(bad)), KITH_ETAMPER);
    /* Every single-bit change, all zeros, and another vault's MAC are wrong. */
    for (size_t i = 0; i < KITH_ROW_MAC_LEN * 8; i++) {
        memcpy(bad, mac, sizeof(mac));
        bad[i / 8] ^= (uint8_t) (1u << (i % 8));
        ASSERT_ERR(kith_rowmac_check(&m, vault, bad, KITH_ROW_MAC_LEN), KITH_ETAMPER);
    }
    memset(bad, 0, sizeof(bad));
    ASSERT_ERR(kith_rowmac_check(&m, vault, bad, KITH_ROW_MAC_LEN), KITH_ETAMPER);
    ASSERT_ERR(kith_rowmac_check(&m, other_vault, mac, sizeof(mac)), KITH_ETAMPER);
    /* The input survives a failed check: the right MAC still checks. */
    ASSERT_OK(kith_rowmac_check(&m, vault, mac, sizeof(mac)));
    kith_rowmac_close(&m);

    /* As the store reads it: the MAC from a column of the row, stored as NULL, as a short
     * blob, as text, or as the right blob. */
    insert_reference();
    sqlite3_stmt *up = NULL, *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE t SET mac = ? WHERE id = 1", -1, &up, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT a, b, c, d, e, f, g, h, mac FROM t WHERE id = 1", -1,
                                 &st, NULL),
              SQLITE_OK);
    struct {
        int kind; /* 0 NULL, 1 blob, 2 text */
        size_t len;
        int rc;
    } stored[] = {
        {0, 0, KITH_ETAMPER},           {1, KITH_ROW_MAC_LEN - 1, KITH_ETAMPER},
        {1, 0, KITH_ETAMPER},           {2, KITH_ROW_MAC_LEN, KITH_ETAMPER},
        {1, KITH_ROW_MAC_LEN, KITH_OK},
    };
    char hex[2 * KITH_ROW_MAC_LEN + 1];
    sodium_bin2hex(hex, sizeof(hex), mac, KITH_ROW_MAC_LEN / 2);
    for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++) {
        sqlite3_reset(up);
        if (stored[i].kind == 0) {
            sqlite3_bind_null(up, 1);
        } else if (stored[i].kind == 1) {
            sqlite3_bind_blob(up, 1, mac, (int) stored[i].len, SQLITE_STATIC);
        } else {
            sqlite3_bind_text(up, 1, hex, (int) stored[i].len, SQLITE_STATIC);
        }
        ASSERT_EQ(sqlite3_step(up), SQLITE_DONE);
        sqlite3_reset(st);
        ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
        kith_rowmac_init(&m);
        kith_rowmac_begin(&m, "t");
        for (int c = 0; c < 8; c++) {
            kith_rowmac_column(&m, st, c);
        }
        ASSERT_ERR(kith_rowmac_check(&m, vault, sqlite3_column_blob(st, 8),
                                     (size_t) sqlite3_column_bytes(st, 8)),
                   stored[i].rc);
        kith_rowmac_close(&m);
    }
    sqlite3_finalize(up);
    sqlite3_finalize(st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(written_and_read_agree), cmocka_unit_test(type_changes),
        cmocka_unit_test(value_and_null_changes), cmocka_unit_test(moved_columns),
        cmocka_unit_test(check_rejects),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
