/*
 * A streaming JSON writer into a kith_buf_t, used for every `--json` output.
 *
 *     kith_json_t j;
 *     kith_json_init(&j, &buf, 1);
 *     kith_json_object_begin(&j);
 *     kith_json_key(&j, "name");
 *     kith_json_string(&j, name);
 *     kith_json_object_end(&j);
 *     rc = kith_json_finish(&j);
 *
 * Commas, colons and (in pretty mode) indentation are automatic. Errors are sticky:
 * the first failure is remembered, every later call does nothing, and
 * kith_json_finish() reports it, so callers check only once. Misuse (a value where a
 * key is due, a key in an array, a mismatched end, a second top-level value) is
 * KITH_EINVAL. The writer only appends to the buffer; on error the buffer holds a
 * truncated document, which the caller should discard.
 *
 * Strings are always emitted as valid UTF-8 JSON: see kith_json_stringn().
 */
#ifndef KITH_JSON_H
#define KITH_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define KITH_JSON_MAX_DEPTH 32 /* nested objects/arrays; deeper is KITH_ETOOBIG */

typedef struct {
    kith_buf_t *out;                    /* not owned; appended to */
    int depth;                          /* open containers */
    uint8_t frame[KITH_JSON_MAX_DEPTH]; /* per open container: JSON_FRAME_* bits (json.c) */
    int pretty;                         /* 2-space indentation and a final newline */
    int err;                            /* first error, KITH_OK if none (sticky) */
    int want_value;                     /* a key was written; its value is due */
    int done;                           /* a complete top-level value was written */
    int finished;                       /* kith_json_finish() ran */
} kith_json_t;

/* Starts a document that will be appended to out. Nothing is allocated; there is no
 * close call. pretty != 0 selects indented output ending in a newline. */
void kith_json_init(kith_json_t *j, kith_buf_t *out, int pretty);

void kith_json_object_begin(kith_json_t *j);
void kith_json_object_end(kith_json_t *j);
void kith_json_array_begin(kith_json_t *j);
void kith_json_array_end(kith_json_t *j);

/* Writes an object member name (escaped like a string). key NULL is KITH_EINVAL. */
void kith_json_key(kith_json_t *j, const char *key);

/* Writes a NUL-terminated string; s NULL writes null. */
void kith_json_string(kith_json_t *j, const char *s);

/*
 * Writes n bytes as a string; s NULL writes null. The bytes may contain NUL and need
 * not be valid UTF-8: '"', '\\' and control characters are escaped, valid UTF-8 is
 * passed through, and each maximal invalid subsequence (stray continuation byte,
 * overlong form, surrogate, code point above U+10FFFF, truncated sequence) becomes
 * one U+FFFD.
 */
void kith_json_stringn(kith_json_t *j, const char *s, size_t n);

void kith_json_int(kith_json_t *j, int64_t v);
void kith_json_uint(kith_json_t *j, uint64_t v);
void kith_json_bool(kith_json_t *j, int v);
void kith_json_null(kith_json_t *j);

/*
 * Ends the document (appending the newline in pretty mode) and returns the first
 * error: a buffer error (KITH_ENOMEM, KITH_ETOOBIG), KITH_ETOOBIG for nesting deeper
 * than KITH_JSON_MAX_DEPTH, or KITH_EINVAL for misuse, for containers left open or
 * a key left without value, or if no value was written at all. Calling it again
 * returns the same result and writes nothing.
 */
int kith_json_finish(kith_json_t *j);

#endif
