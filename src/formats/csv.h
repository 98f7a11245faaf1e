/*
 * An RFC 4180 CSV reader for the importers (LinkedIn, Google, Outlook, kith's own).
 *
 * The whole input is parsed at once into rows of NUL-terminated UTF-8 cells. What is
 * accepted:
 *   - an optional UTF-8 byte order mark, which is skipped;
 *   - CRLF, LF and lone CR line ends, mixed freely; each counts as one line;
 *   - quoted fields holding separators, line ends and doubled quotes (""). A line end
 *     inside a quoted field is stored as a single "\n", whatever its form;
 *   - empty lines, which are skipped (a line holding only a separator is not empty: it
 *     is a row of two empty cells);
 *   - a trailing line end or none; a trailing separator gives a trailing empty cell.
 * The separator is ',' unless the first non-empty line (the header) holds no ','
 * outside quotes: then it is ';' or '\t', whichever occurs more often there (';' on a
 * tie), as spreadsheets in some locales write. A header with none of the three is read
 * with ','.
 *
 * Errors are KITH_EPARSE with "line N: ..." in errbuf: an unterminated quoted field (N
 * is the line where it opens), a quote inside an unquoted field, text after a closing
 * quote, invalid UTF-8 (overlong forms and surrogates included), a NUL byte, UTF-16
 * input, and input with no row at all (empty, or only line ends). Limits give
 * KITH_ETOOBIG: input over KITH_CSV_MAX_INPUT bytes, a row over KITH_CSV_MAX_COLUMNS
 * cells, a cell over KITH_CSV_MAX_CELL bytes, over KITH_CSV_MAX_ROWS rows. Memory use is
 * bounded by about ten times the input size (cell text plus one pointer per cell).
 */
#ifndef KITH_CSV_H
#define KITH_CSV_H

#include <stddef.h>

#define KITH_CSV_MAX_INPUT   ((size_t) 64 << 20) /* bytes of input */
#define KITH_CSV_MAX_COLUMNS 1000                /* cells per row */
#define KITH_CSV_MAX_CELL    ((size_t) 1 << 20)  /* bytes per cell, after unquoting */
#define KITH_CSV_MAX_ROWS    1000000             /* rows per input, header included */

typedef struct {
    char **cells;   /* n_cells NUL-terminated UTF-8 strings, never NULL */
    size_t n_cells; /* at least 1 */
    unsigned line;  /* 1-based line of the input where the row starts */
} kith_csv_row_t;

typedef struct {
    kith_csv_row_t *rows; /* n_rows rows, in input order */
    size_t n_rows;        /* at least 1 after a successful parse */
    char sep;             /* the separator used: ',', ';' or '\t' */
    /* Private: every row's cells point into these two allocations. */
    char *text_;   /* all cell text, each cell NUL-terminated */
    char **cells_; /* all cell pointers, row after row */
} kith_csv_t;

/*
 * Parses len bytes of CSV (no NUL terminator needed) into *out, which is initialised
 * by the call and must be released with kith_csv_close() on success; on error it is
 * left empty (closing it anyway is harmless). Returns KITH_OK, KITH_EPARSE,
 * KITH_ETOOBIG or KITH_ENOMEM; errbuf (NULL allowed) receives a message on error.
 */
int kith_csv_parse(const char *data, size_t len, kith_csv_t *out, char *errbuf, size_t errcap);

/*
 * As kith_csv_parse(), for importers that know more about their input: sep forces the
 * separator (',', ';' or '\t'; 0 detects it as above; anything else is KITH_EINVAL)
 * and first_line is the line number of data[0]
 * within a larger file, so that rows and messages name lines of the whole file.
 */
int kith__csv_parse_ex(const char *data, size_t len, char sep, unsigned first_line, kith_csv_t *out,
                       char *errbuf, size_t errcap);

/* Frees everything the parse allocated and empties *csv. NULL and an already closed
 * or zeroed struct are fine. */
void kith_csv_close(kith_csv_t *csv);

#endif
