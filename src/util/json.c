/*
 * Streaming JSON writer; see json.h.
 *
 * The writer keeps one small frame per open container (is it an object, has it a
 * member yet) and a flag for "a key was written, its value is due". That is enough
 * to place commas, colons and indentation and to catch misuse; nothing is buffered
 * apart from the output itself, so memory use is bounded by the output.
 *
 * Strings are validated as UTF-8 while they are escaped (Unicode 15, table 3-7), so
 * the output is valid UTF-8 whatever bytes the caller hands in.
 */
#include "util/json.h"
#include "util/utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kith/error.h"

#define JSON_FRAME_OBJECT   0x1u /* the container is an object, not an array */
#define JSON_FRAME_NONEMPTY 0x2u /* a member or element has been written */

void
kith_json_init(kith_json_t *j, kith_buf_t *out, int pretty)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
    j->pretty = pretty != 0;
    j->err = KITH_OK;
}

/* Records the first error only. */
static void
fail(kith_json_t *j, int err)
{
    if (j->err == KITH_OK) {
        j->err = err;
    }
}

static void
put(kith_json_t *j, const void *p, size_t n)
{
    if (j->err == KITH_OK) {
        fail(j, kith_buf_append(j->out, p, n));
    }
}

static void
put_str(kith_json_t *j, const char *s)
{
    put(j, s, strlen(s));
}

static void
newline_indent(kith_json_t *j, int depth)
{
    static const char spaces[] = "                                ";
    size_t n = (size_t) depth * 2;

    put(j, "\n", 1);
    while (n > 0) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
        put(j, spaces, k);
        n -= k;
    }
}

/*
 * Places the separator before a value and checks that a value is allowed here.
 * Returns 0 if the value must not be written.
 */
static int
begin_value(kith_json_t *j)
{
    if (j->err != KITH_OK) {
        return 0;
    }
    if (j->finished || (j->depth == 0 && j->done)) {
        fail(j, KITH_EINVAL);
        return 0;
    }
    if (j->depth == 0) {
        return 1;
    }
    uint8_t *f = &j->frame[j->depth - 1];
    if (*f & JSON_FRAME_OBJECT) {
        /* In an object the key already wrote the separator. */
        if (!j->want_value) {
            fail(j, KITH_EINVAL);
            return 0;
        }
        j->want_value = 0;
        return 1;
    }
    if (*f & JSON_FRAME_NONEMPTY) {
        put(j, ",", 1);
    }
    if (j->pretty) {
        newline_indent(j, j->depth);
    }
    *f |= JSON_FRAME_NONEMPTY;
    return j->err == KITH_OK;
}

static void
end_value(kith_json_t *j)
{
    if (j->depth == 0) {
        j->done = 1;
    }
}

/* Writes s[0..n-1] as a quoted, escaped string. Runs of plain bytes are copied at once. */
static void
put_string(kith_json_t *j, const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *) s;
    size_t run = 0, i = 0; /* p[run..i-1] is pending verbatim output */
    char esc[8];

    put(j, "\"", 1);
    while (i < n && j->err == KITH_OK) {
        uint32_t cp;
        size_t len = kith_utf8_next(p + i, n - i, &cp);
        const char *rep = NULL;
        size_t rep_len = 2;

        switch (cp) {
        case '"':
            rep = "\\\"";
            break;
        case '\\':
            rep = "\\\\";
            break;
        case '\n':
            rep = "\\n";
            break;
        case '\t':
            rep = "\\t";
            break;
        case '\r':
            rep = "\\r";
            break;
        case '\b':
            rep = "\\b";
            break;
        case '\f':
            rep = "\\f";
            break;
        case KITH_UTF8_INVALID:
            rep = "\xef\xbf\xbd";
            rep_len = 3;
            break;
        default:
            if (cp < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", (unsigned) cp);
                rep = esc;
                rep_len = 6;
            }
            break;
        }
        if (rep != NULL) {
            put(j, p + run, i - run);
            put(j, rep, rep_len);
            run = i + len;
        }
        i += len;
    }
    put(j, p + run, i - run);
    put(j, "\"", 1);
}

static void
begin_container(kith_json_t *j, int object)
{
    if (!begin_value(j)) {
        return;
    }
    if (j->depth == KITH_JSON_MAX_DEPTH) {
        fail(j, KITH_ETOOBIG);
        return;
    }
    put(j, object ? "{" : "[", 1);
    j->frame[j->depth++] = object ? JSON_FRAME_OBJECT : 0;
}

static void
end_container(kith_json_t *j, int object)
{
    if (j->err != KITH_OK) {
        return;
    }
    if (j->depth == 0 || j->want_value ||
        ((j->frame[j->depth - 1] & JSON_FRAME_OBJECT) != 0) != (object != 0)) {
        fail(j, KITH_EINVAL);
        return;
    }
    uint8_t f = j->frame[--j->depth];
    if (j->pretty && (f & JSON_FRAME_NONEMPTY)) {
        newline_indent(j, j->depth);
    }
    put(j, object ? "}" : "]", 1);
    end_value(j);
}

void
kith_json_object_begin(kith_json_t *j)
{
    begin_container(j, 1);
}

void
kith_json_object_end(kith_json_t *j)
{
    end_container(j, 1);
}

void
kith_json_array_begin(kith_json_t *j)
{
    begin_container(j, 0);
}

void
kith_json_array_end(kith_json_t *j)
{
    end_container(j, 0);
}

void
kith_json_key(kith_json_t *j, const char *key)
{
    if (j->err != KITH_OK) {
        return;
    }
    if (key == NULL || j->finished || j->depth == 0 || j->want_value ||
        !(j->frame[j->depth - 1] & JSON_FRAME_OBJECT)) {
        fail(j, KITH_EINVAL);
        return;
    }
    uint8_t *f = &j->frame[j->depth - 1];
    if (*f & JSON_FRAME_NONEMPTY) {
        put(j, ",", 1);
    }
    if (j->pretty) {
        newline_indent(j, j->depth);
    }
    put_string(j, key, strlen(key));
    put_str(j, j->pretty ? ": " : ":");
    *f |= JSON_FRAME_NONEMPTY;
    j->want_value = 1;
}

void
kith_json_string(kith_json_t *j, const char *s)
{
    kith_json_stringn(j, s, s != NULL ? strlen(s) : 0);
}

void
kith_json_stringn(kith_json_t *j, const char *s, size_t n)
{
    if (s == NULL) {
        kith_json_null(j);
        return;
    }
    if (!begin_value(j)) {
        return;
    }
    put_string(j, s, n);
    end_value(j);
}

void
kith_json_int(kith_json_t *j, int64_t v)
{
    char num[24];
    if (!begin_value(j)) {
        return;
    }
    snprintf(num, sizeof(num), "%" PRId64, v);
    put_str(j, num);
    end_value(j);
}

void
kith_json_uint(kith_json_t *j, uint64_t v)
{
    char num[24];
    if (!begin_value(j)) {
        return;
    }
    snprintf(num, sizeof(num), "%" PRIu64, v);
    put_str(j, num);
    end_value(j);
}

void
kith_json_bool(kith_json_t *j, int v)
{
    if (!begin_value(j)) {
        return;
    }
    put_str(j, v ? "true" : "false");
    end_value(j);
}

void
kith_json_null(kith_json_t *j)
{
    if (!begin_value(j)) {
        return;
    }
    put_str(j, "null");
    end_value(j);
}

int
kith_json_finish(kith_json_t *j)
{
    if (j->finished) {
        return j->err;
    }
    j->finished = 1;
    if (j->err == KITH_OK && (j->depth != 0 || j->want_value || !j->done)) {
        fail(j, KITH_EINVAL);
    }
    if (j->err == KITH_OK && j->pretty) {
        put(j, "\n", 1);
    }
    return j->err;
}
