/*
 * RFC 4180 CSV reader; see csv.h for what is accepted and refused.
 *
 * Parsing takes two passes over the input. The first checks the encoding (UTF-8, no
 * NUL) and counts separators and line ends, which bounds the number of cells; with
 * that, one allocation of the input size plus one byte per possible cell holds every
 * unquoted cell with its NUL, so cell pointers into it never move. The second pass is
 * the RFC 4180 state machine, writing cells into that text block and recording rows.
 * Rows first record only their cell counts; their cell pointers are filled in at the
 * end, once the pointer array has stopped growing.
 *
 * Line numbers count physical lines (CRLF, LF or CR each end one), including the
 * line ends inside quoted fields, so they match what an editor shows.
 */
#include "formats/csv.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"

typedef struct {
    const char *p;   /* next byte to read */
    const char *end; /* one past the last byte */
    unsigned line;   /* line of *p */
    char sep;
    kith_csv_t *out;
    size_t text_len;  /* bytes used in out->text_ */
    size_t text_cap;  /* bytes allocated for out->text_ (the bound of the first pass) */
    size_t n_cells;   /* pointers used in out->cells_ */
    size_t cap_cells; /* pointers allocated in out->cells_ */
    size_t cap_rows;  /* rows allocated in out->rows */
    char *errbuf;
    size_t errcap;
} parser_t;

static int fail(char *errbuf, size_t errcap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(char *errbuf, size_t errcap, int rc, const char *fmt, ...)
{
    if (errbuf != NULL && errcap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errcap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Length of the well-formed UTF-8 sequence starting a non-ASCII byte at p, or 0.
 * Refuses overlong forms, surrogates and code points past U+10FFFF (RFC 3629). */
static size_t
utf8_seq_len(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t) (end - p);
    unsigned c = p[0];
    if (c >= 0xc2 && c <= 0xdf) {
        return (avail >= 2 && (p[1] & 0xc0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if (avail < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) {
            return 0;
        }
        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f)) {
            return 0; /* overlong, or a UTF-16 surrogate */
        }
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (avail < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) {
            return 0;
        }
        if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f)) {
            return 0; /* overlong, or past U+10FFFF */
        }
        return 4;
    }
    return 0;
}

/*
 * First pass: refuses NUL bytes and invalid UTF-8, and counts the bytes that can end
 * a cell (any candidate separator, any line end) into *n_marks.
 */
static int
check_text(const char *data, size_t len, unsigned line, size_t *n_marks, char *errbuf,
           size_t errcap)
{
    const unsigned char *p = (const unsigned char *) data;
    const unsigned char *end = p + len;
    size_t marks = 0;

    while (p < end) {
        unsigned c = *p;
        if (c >= 0x80) {
            size_t n = utf8_seq_len(p, end);
            if (n == 0) {
                return fail(errbuf, errcap, KITH_EPARSE,
                            "line %u: invalid UTF-8 (byte 0x%02x); save the file as UTF-8", line,
                            c);
            }
            p += n;
            continue;
        }
        if (c == 0) {
            return fail(errbuf, errcap, KITH_EPARSE, "line %u: NUL byte", line);
        }
        if (c == '\r') {
            if (end - p > 1 && p[1] == '\n') {
                p++;
            }
            line++;
            marks++;
        } else if (c == '\n') {
            line++;
            marks++;
        } else if (c == ',' || c == ';' || c == '\t') {
            marks++;
        }
        p++;
    }
    *n_marks = marks;
    return KITH_OK;
}

/* The separator for the record starting at p: see csv.h. */
static char
detect_sep(const char *p, const char *end)
{
    size_t semis = 0, tabs = 0;
    int quoted = 0;

    for (; p < end; p++) {
        if (*p == '"') {
            quoted = !quoted;
        } else if (quoted) {
            continue;
        } else if (*p == ',') {
            return ',';
        } else if (*p == ';') {
            semis++;
        } else if (*p == '\t') {
            tabs++;
        } else if (*p == '\r' || *p == '\n') {
            break;
        }
    }
    if (semis > 0 && semis >= tabs) {
        return ';';
    }
    return tabs > 0 ? '\t' : ',';
}

/* Consumes one line end at ps->p (CRLF, LF or CR). */
static void
skip_eol(parser_t *ps)
{
    if (*ps->p == '\r' && ps->end - ps->p > 1 && ps->p[1] == '\n') {
        ps->p++;
    }
    ps->p++;
    ps->line++;
}

static int
is_eol(char c)
{
    return c == '\r' || c == '\n';
}

/* Appends one byte of cell text. The first pass sized the block so this cannot fail. */
static void
put(parser_t *ps, char c)
{
    assert(ps->text_len < ps->text_cap);
    ps->out->text_[ps->text_len++] = c;
}

/* Appends the cell that starts at out->text_ + start (already NUL-terminated). */
static int
push_cell(parser_t *ps, size_t start, size_t row_cells, unsigned cell_line, unsigned row_line)
{
    /* The cell's NUL is the last byte written. */
    if (ps->text_len - start - 1 > KITH_CSV_MAX_CELL) {
        return fail(ps->errbuf, ps->errcap, KITH_ETOOBIG, "line %u: cell longer than %zu bytes",
                    cell_line, KITH_CSV_MAX_CELL);
    }
    if (row_cells >= KITH_CSV_MAX_COLUMNS) {
        return fail(ps->errbuf, ps->errcap, KITH_ETOOBIG, "line %u: more than %d columns", row_line,
                    KITH_CSV_MAX_COLUMNS);
    }
    if (ps->n_cells == ps->cap_cells) {
        size_t cap = ps->cap_cells ? ps->cap_cells * 2 : 64;
        char **p = realloc(ps->out->cells_, cap * sizeof(*p));
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        ps->out->cells_ = p;
        ps->cap_cells = cap;
    }
    ps->out->cells_[ps->n_cells++] = ps->out->text_ + start;
    return KITH_OK;
}

static int
push_row(parser_t *ps, size_t n_cells, unsigned line)
{
    kith_csv_t *out = ps->out;
    if (out->n_rows >= KITH_CSV_MAX_ROWS) {
        return fail(ps->errbuf, ps->errcap, KITH_ETOOBIG, "line %u: more than %d rows", line,
                    KITH_CSV_MAX_ROWS);
    }
    if (out->n_rows == ps->cap_rows) {
        size_t cap = ps->cap_rows ? ps->cap_rows * 2 : 32;
        kith_csv_row_t *p = realloc(out->rows, cap * sizeof(*p));
        if (p == NULL) {
            return KITH_ENOMEM;
        }
        out->rows = p;
        ps->cap_rows = cap;
    }
    /* cells stays NULL until the pointer array is final; see parse_rows(). */
    out->rows[out->n_rows].cells = NULL;
    out->rows[out->n_rows].n_cells = n_cells;
    out->rows[out->n_rows].line = line;
    out->n_rows++;
    return KITH_OK;
}

/*
 * Reads one field at ps->p into the text block, stopping before the separator or line
 * end that ends it. The text block never overflows: each input byte yields at most one
 * output byte and the first pass counted one NUL for every possible cell end.
 */
static int
read_field(parser_t *ps)
{
    unsigned open_line = ps->line;

    if (ps->p < ps->end && *ps->p == '"') {
        ps->p++;
        for (;;) {
            if (ps->p == ps->end) {
                return fail(ps->errbuf, ps->errcap, KITH_EPARSE,
                            "line %u: unterminated quoted field", open_line);
            }
            char c = *ps->p;
            if (c == '"') {
                if (ps->end - ps->p > 1 && ps->p[1] == '"') {
                    put(ps, '"');
                    ps->p += 2;
                    continue;
                }
                ps->p++;
                break;
            }
            if (is_eol(c)) {
                put(ps, '\n');
                skip_eol(ps);
                continue;
            }
            put(ps, c);
            ps->p++;
        }
        if (ps->p < ps->end && *ps->p != ps->sep && !is_eol(*ps->p)) {
            return fail(ps->errbuf, ps->errcap, KITH_EPARSE,
                        "line %u: text after the closing quote of a field", ps->line);
        }
        return KITH_OK;
    }
    while (ps->p < ps->end && *ps->p != ps->sep && !is_eol(*ps->p)) {
        if (*ps->p == '"') {
            return fail(ps->errbuf, ps->errcap, KITH_EPARSE,
                        "line %u: quote inside an unquoted field (quote the whole field and "
                        "double the quote)",
                        ps->line);
        }
        put(ps, *ps->p++);
    }
    return KITH_OK;
}

static int
parse_rows(parser_t *ps)
{
    int rc = KITH_OK;

    while (ps->p < ps->end) {
        if (is_eol(*ps->p)) {
            skip_eol(ps); /* an empty line */
            continue;
        }
        unsigned row_line = ps->line;
        size_t row_cells = 0;
        for (;;) {
            unsigned cell_line = ps->line;
            size_t start = ps->text_len;
            rc = read_field(ps);
            if (rc != KITH_OK) {
                return rc;
            }
            put(ps, '\0');
            rc = push_cell(ps, start, row_cells, cell_line, row_line);
            if (rc != KITH_OK) {
                return rc;
            }
            row_cells++;
            if (ps->p < ps->end && *ps->p == ps->sep) {
                ps->p++;
                continue;
            }
            break;
        }
        rc = push_row(ps, row_cells, row_line);
        if (rc != KITH_OK) {
            return rc;
        }
        if (ps->p < ps->end) {
            skip_eol(ps);
        }
    }

    kith_csv_t *out = ps->out;
    if (out->n_rows == 0) {
        return fail(ps->errbuf, ps->errcap, KITH_EPARSE, "line %u: no data", ps->line);
    }
    size_t at = 0;
    for (size_t i = 0; i < out->n_rows; i++) {
        out->rows[i].cells = out->cells_ + at;
        at += out->rows[i].n_cells;
    }
    return KITH_OK;
}

int
kith__csv_parse_ex(const char *data, size_t len, char sep, unsigned first_line, kith_csv_t *out,
                   char *errbuf, size_t errcap)
{
    int rc = KITH_OK;
    parser_t ps;
    size_t n_marks = 0;

    memset(out, 0, sizeof(*out));
    memset(&ps, 0, sizeof(ps));
    if (errbuf != NULL && errcap > 0) {
        errbuf[0] = '\0';
    }
    if (first_line == 0) {
        first_line = 1;
    }
    if (data == NULL && len == 0) {
        data = ""; /* no pointer arithmetic on NULL below */
    }
    if (data == NULL || (sep != 0 && sep != ',' && sep != ';' && sep != '\t')) {
        /* The text block's size bound counts only these three as cell ends. */
        rc = fail(errbuf, errcap, KITH_EINVAL,
                  "invalid argument (NULL data or unsupported separator)");
        goto out;
    }
    if (len > KITH_CSV_MAX_INPUT) {
        rc = fail(errbuf, errcap, KITH_ETOOBIG, "input is larger than %zu MiB",
                  KITH_CSV_MAX_INPUT >> 20);
        goto out;
    }
    if (len >= 2 && (memcmp(data, "\xff\xfe", 2) == 0 || memcmp(data, "\xfe\xff", 2) == 0)) {
        rc = fail(errbuf, errcap, KITH_EPARSE,
                  "line %u: UTF-16 text is not supported; save the file as UTF-8", first_line);
        goto out;
    }
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        data += 3;
        len -= 3;
    }
    rc = check_text(data, len, first_line, &n_marks, errbuf, errcap);
    if (rc != KITH_OK) {
        goto out;
    }

    ps.p = data;
    ps.end = data + len;
    ps.line = first_line;
    ps.out = out;
    ps.errbuf = errbuf;
    ps.errcap = errcap;
    if (sep == 0) {
        const char *q = data;
        while (q < ps.end && is_eol(*q)) {
            q++;
        }
        sep = detect_sep(q, ps.end);
    }
    ps.sep = sep;
    out->sep = sep;

    /* Both terms are below 64 MiB, so the sum cannot overflow. */
    ps.text_cap = len + n_marks + 1;
    out->text_ = malloc(ps.text_cap);
    if (out->text_ == NULL) {
        rc = KITH_ENOMEM;
        goto out;
    }
    rc = parse_rows(&ps);

out:
    if (rc != KITH_OK) {
        if (rc == KITH_ENOMEM) {
            fail(errbuf, errcap, rc, "out of memory");
        }
        kith_csv_close(out);
    }
    return rc;
}

int
kith_csv_parse(const char *data, size_t len, kith_csv_t *out, char *errbuf, size_t errcap)
{
    return kith__csv_parse_ex(data, len, 0, 1, out, errbuf, errcap);
}

void
kith_csv_close(kith_csv_t *csv)
{
    if (csv == NULL) {
        return;
    }
    free(csv->rows);
    free(csv->cells_);
    free(csv->text_);
    memset(csv, 0, sizeof(*csv));
}
