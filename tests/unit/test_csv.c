/*
 * Tests for the CSV reader (src/formats/csv.c): RFC 4180 cases, line ends, the byte
 * order mark, separator detection, and hostile input, which must fail cleanly with the
 * right line number. Leaks are caught by the sanitizer build.
 */
#include "check.h"

#include <stdlib.h>

#include "formats/csv.h"

/* Parses a C string and checks it succeeds. */
static void
parse_ok(const char *text, kith_csv_t *csv)
{
    char err[256];
    int rc = kith_csv_parse(text, strlen(text), csv, err, sizeof(err));
    if (rc != KITH_OK) {
        print_error("parse failed: %s\n", err);
    }
    ASSERT_OK(rc);
}

/* Parses len bytes, expects error code, and checks the message starts with msg. */
static void
parse_err(const char *text, size_t len, int code, const char *msg)
{
    kith_csv_t csv;
    char err[256];
    ASSERT_ERR(kith_csv_parse(text, len, &csv, err, sizeof(err)), code);
    if (strncmp(err, msg, strlen(msg)) != 0) {
        print_error("message \"%s\", expected it to start with \"%s\"\n", err, msg);
        fail();
    }
    /* A failed parse leaves nothing behind. */
    ASSERT_EQ(csv.n_rows, 0);
    assert_null(csv.rows);
    kith_csv_close(&csv);
}

static void
check_row(const kith_csv_t *csv, size_t i, unsigned line, size_t n, const char *const *cells)
{
    assert_true(i < csv->n_rows);
    ASSERT_EQ(csv->rows[i].line, line);
    ASSERT_EQ(csv->rows[i].n_cells, n);
    for (size_t k = 0; k < n; k++) {
        ASSERT_STREQ(csv->rows[i].cells[k], cells[k]);
    }
}

#define ROW(csv, i, line, ...)                                                                     \
    do {                                                                                           \
        static const char *const cells_[] = {__VA_ARGS__};                                         \
        check_row((csv), (i), (line), sizeof(cells_) / sizeof(cells_[0]), cells_);                 \
    } while (0)

static void
simple(void **state)
{
    kith_csv_t csv;
    (void) state;
    parse_ok("a,b,c\n1,2,3\n", &csv);
    ASSERT_EQ(csv.n_rows, 2);
    ASSERT_EQ(csv.sep, ',');
    ROW(&csv, 0, 1, "a", "b", "c");
    ROW(&csv, 1, 2, "1", "2", "3");
    kith_csv_close(&csv);
}

static void
quoted_fields(void **state)
{
    kith_csv_t csv;
    (void) state;
    parse_ok("name,note\n"
             "\"Smith, John\",\"He said \"\"hi\"\"\"\n"
             "\"multi\nline\",x\n"
             "\"\",\"\"\"\"\n"
             "after,quote\n",
             &csv);
    ASSERT_EQ(csv.n_rows, 5);
    ROW(&csv, 0, 1, "name", "note");
    ROW(&csv, 1, 2, "Smith, John", "He said \"hi\"");
    ROW(&csv, 2, 3, "multi\nline", "x");
    /* The quoted newline moved the next row to line 5. */
    ROW(&csv, 3, 5, "", "\"");
    ROW(&csv, 4, 6, "after", "quote");
    kith_csv_close(&csv);
}

static void
line_ends(void **state)
{
    kith_csv_t csv;
    (void) state;
    /* CRLF, lone CR and LF mixed; CRLF inside quotes becomes "\n". */
    parse_ok("a,b\r\n1,2\r3,4\n\"x\r\ny\",5\r\n6,7", &csv);
    ASSERT_EQ(csv.n_rows, 5);
    ROW(&csv, 0, 1, "a", "b");
    ROW(&csv, 1, 2, "1", "2");
    ROW(&csv, 2, 3, "3", "4");
    ROW(&csv, 3, 4, "x\ny", "5");
    ROW(&csv, 4, 6, "6", "7");
    kith_csv_close(&csv);
}

static void
bom_and_trailing_newline(void **state)
{
    kith_csv_t a, b;
    (void) state;
    parse_ok("\xef\xbb\xbfk,v\n1,2\n", &a);
    parse_ok("k,v\n1,2", &b);
    ASSERT_EQ(a.n_rows, 2);
    ASSERT_EQ(b.n_rows, 2);
    ROW(&a, 0, 1, "k", "v");
    ROW(&b, 0, 1, "k", "v");
    ROW(&a, 1, 2, "1", "2");
    ROW(&b, 1, 2, "1", "2");
    kith_csv_close(&a);
    kith_csv_close(&b);
}

static void
empty_cells_and_lines(void **state)
{
    kith_csv_t csv;
    (void) state;
    parse_ok("\n\na,b,c\n\n1,,\n,\n\r\n\rx\n\n", &csv);
    ASSERT_EQ(csv.n_rows, 4);
    ROW(&csv, 0, 3, "a", "b", "c");
    ROW(&csv, 1, 5, "1", "", "");
    ROW(&csv, 2, 6, "", "");
    ROW(&csv, 3, 9, "x");
    kith_csv_close(&csv);
}

static void
separator_detection(void **state)
{
    kith_csv_t csv;
    (void) state;
    parse_ok("Name;E-mail\nÖrjan;o@example.se\n", &csv);
    ASSERT_EQ(csv.sep, ';');
    ROW(&csv, 1, 2, "Örjan", "o@example.se");
    kith_csv_close(&csv);

    parse_ok("name\temail\nA B\ta@b.c\n", &csv);
    ASSERT_EQ(csv.sep, '\t');
    ROW(&csv, 1, 2, "A B", "a@b.c");
    kith_csv_close(&csv);

    /* Commas inside quotes do not count; a comma outside wins over ';'. */
    parse_ok("\"a,b\";c\n1;2\n", &csv);
    ASSERT_EQ(csv.sep, ';');
    ROW(&csv, 0, 1, "a,b", "c");
    kith_csv_close(&csv);

    parse_ok("a;b,c\n", &csv);
    ASSERT_EQ(csv.sep, ',');
    ROW(&csv, 0, 1, "a;b", "c");
    kith_csv_close(&csv);

    /* A single column: ',' and no splitting on anything else. */
    parse_ok("name\nx y\n", &csv);
    ASSERT_EQ(csv.sep, ',');
    ROW(&csv, 1, 2, "x y");
    kith_csv_close(&csv);

    /* The forced separator of kith__csv_parse_ex and its line offset. */
    char err[128];
    ASSERT_OK(kith__csv_parse_ex("a;b\n1;2", 7, ',', 10, &csv, err, sizeof(err)));
    ROW(&csv, 0, 10, "a;b");
    ROW(&csv, 1, 11, "1;2");
    kith_csv_close(&csv);
    ASSERT_ERR(kith__csv_parse_ex("a", 1, '"', 1, &csv, err, sizeof(err)), KITH_EINVAL);
    ASSERT_EQ(csv.n_rows, 0);
}

static void
utf8_accepted(void **state)
{
    kith_csv_t csv;
    (void) state;
    parse_ok("Ødegård,日本,😀\n", &csv);
    ROW(&csv, 0, 1, "Ødegård", "日本", "😀");
    kith_csv_close(&csv);
}

static void
hostile(void **state)
{
    (void) state;
    parse_err("a,b\n\"open,x\nmore\n", 17, KITH_EPARSE, "line 2: unterminated quoted field");
    parse_err("a,b\nab\"c,d\n", 11, KITH_EPARSE, "line 2: quote inside an unquoted field");
    parse_err("a,b\n x\"\n", 8, KITH_EPARSE, "line 2: quote inside");
    parse_err("a,b\n\"x\"y,z\n", 11, KITH_EPARSE, "line 2: text after the closing quote");
    parse_err("a,b\n\"x\ny\" ,z\n", 13, KITH_EPARSE, "line 3: text after the closing quote");
    parse_err("a,b\n1,2\r\nx\0y\n", 13, KITH_EPARSE, "line 3: NUL byte");
    parse_err("a,b\n\xc3\x28\n", 7, KITH_EPARSE, "line 2: invalid UTF-8");
    parse_err("a,b\n\xc0\xaf\n", 7, KITH_EPARSE, "line 2: invalid UTF-8");       /* overlong */
    parse_err("a\n\n\xed\xa0\x80\n", 7, KITH_EPARSE, "line 3: invalid UTF-8");   /* surrogate */
    parse_err("a\n\xf4\x90\x80\x80\n", 7, KITH_EPARSE, "line 2: invalid UTF-8"); /* > U+10FFFF */
    parse_err("a,\xe2\x82", 4, KITH_EPARSE, "line 1: invalid UTF-8");            /* truncated */
    parse_err("\xff\xfe"
              "a\0,\0",
              6, KITH_EPARSE, "line 1: UTF-16");
    parse_err("", 0, KITH_EPARSE, "line 1: no data");
    parse_err("\xef\xbb\xbf", 3, KITH_EPARSE, "line 1: no data");
    parse_err("\r\n\n\r", 4, KITH_EPARSE, "line 4: no data");
}

static void
column_limit(void **state)
{
    (void) state;
    size_t n = 1001;
    char *text = malloc(2 * n + 8);
    assert_non_null(text);
    char *p = text;
    memcpy(p, "h\n", 2);
    p += 2;
    for (size_t i = 0; i < n; i++) {
        *p++ = 'x';
        *p++ = ',';
    }
    p[-1] = '\n';
    parse_err(text, (size_t) (p - text), KITH_ETOOBIG, "line 2: more than 1000 columns");

    /* Exactly 1000 is fine. */
    kith_csv_t csv;
    p -= 2; /* drop the last ",x" */
    p[-1] = '\n';
    ASSERT_OK(kith_csv_parse(text, (size_t) (p - text), &csv, NULL, 0));
    ASSERT_EQ(csv.rows[1].n_cells, 1000);
    kith_csv_close(&csv);
    free(text);
}

static void
cell_limit(void **state)
{
    (void) state;
    size_t big = KITH_CSV_MAX_CELL + 1;
    char *text = malloc(big + 16);
    assert_non_null(text);
    memcpy(text, "a\n\n\"", 4);
    memset(text + 4, 'y', big);
    memcpy(text + 4 + big, "\"\n", 2);
    parse_err(text, big + 6, KITH_ETOOBIG, "line 3: cell longer than");

    /* A cell of exactly the limit passes, with doubled quotes counting once. */
    kith_csv_t csv;
    text[4] = '"';
    text[5] = '"';
    ASSERT_OK(kith_csv_parse(text, big + 6, &csv, NULL, 0));
    ASSERT_EQ(strlen(csv.rows[1].cells[0]), KITH_CSV_MAX_CELL);
    kith_csv_close(&csv);
    free(text);
}

static void
row_limit(void **state)
{
    (void) state;
    size_t n = KITH_CSV_MAX_ROWS + 1;
    char *text = malloc(2 * n);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++) {
        text[2 * i] = 'r';
        text[2 * i + 1] = '\n';
    }
    parse_err(text, 2 * n, KITH_ETOOBIG, "line 1000001: more than 1000000 rows");
    kith_csv_t csv;
    ASSERT_OK(kith_csv_parse(text, 2 * (n - 1), &csv, NULL, 0));
    ASSERT_EQ(csv.n_rows, KITH_CSV_MAX_ROWS);
    ASSERT_EQ(csv.rows[KITH_CSV_MAX_ROWS - 1].line, KITH_CSV_MAX_ROWS);
    kith_csv_close(&csv);
    free(text);
}

static void
input_limit(void **state)
{
    (void) state;
    /* The size is refused before any byte is read (these NULs would fail otherwise). */
    size_t len = KITH_CSV_MAX_INPUT + 1;
    char *text = calloc(1, len);
    assert_non_null(text);
    parse_err(text, len, KITH_ETOOBIG, "input is larger than 64 MiB");
    free(text);
}

static void
errbuf_optional_and_close(void **state)
{
    kith_csv_t csv;
    char tiny[8];
    (void) state;
    ASSERT_ERR(kith_csv_parse("\"x", 2, &csv, NULL, 0), KITH_EPARSE);
    ASSERT_ERR(kith_csv_parse("\"x", 2, &csv, tiny, sizeof(tiny)), KITH_EPARSE);
    ASSERT_STREQ(tiny, "line 1:");
    kith_csv_close(&csv);
    kith_csv_close(&csv);
    kith_csv_close(NULL);
    /* NULL data: empty input if len is 0, a programmer error otherwise. */
    parse_err(NULL, 0, KITH_EPARSE, "line 1: no data");
    parse_err(NULL, 5, KITH_EINVAL, "invalid argument");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple),
        cmocka_unit_test(quoted_fields),
        cmocka_unit_test(line_ends),
        cmocka_unit_test(bom_and_trailing_newline),
        cmocka_unit_test(empty_cells_and_lines),
        cmocka_unit_test(separator_detection),
        cmocka_unit_test(utf8_accepted),
        cmocka_unit_test(hostile),
        cmocka_unit_test(column_limit),
        cmocka_unit_test(cell_limit),
        cmocka_unit_test(row_limit),
        cmocka_unit_test(input_limit),
        cmocka_unit_test(errbuf_optional_and_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
