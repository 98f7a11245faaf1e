/*
 * A small JSON reader for the tests that replay published test vectors (Noise, CPace):
 * just enough of RFC 8259 to load those files. Test code only; static functions, so each
 * test executable that includes it gets its own copy.
 */
#ifndef KITH_TEST_JSON_READER_H
#define KITH_TEST_JSON_READER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv jv_t;
struct jv {
    int type;    /* J_* */
    char *str;   /* J_STR: decoded text; J_NUM and J_BOOL: the literal; NUL-terminated */
    char **keys; /* J_OBJ: n keys */
    jv_t *vals;  /* J_ARR and J_OBJ: n values */
    size_t n;    /* items */
};

typedef struct {
    const char *p;   /* next character */
    const char *end; /* one past the last character */
    int depth;       /* nesting, bounded by JSON_MAX_DEPTH */
} jp_t;

#define JSON_MAX_DEPTH 32

static void
jv_free(jv_t *v)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys != NULL) {
            free(v->keys[i]);
        }
        if (v->vals != NULL) {
            jv_free(&v->vals[i]);
        }
    }
    free(v->keys);
    free(v->vals);
    free(v->str);
    memset(v, 0, sizeof(*v));
}

static void
jskip(jp_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Parses a string at j->p (which must be '"'). Only ASCII \u escapes are accepted. */
static int
jparse_string(jp_t *j, char **out)
{
    size_t cap = 16, len = 0;
    char *s = malloc(cap);

    *out = NULL;
    if (s == NULL || j->p >= j->end || *j->p != '"') {
        goto fail;
    }
    j->p++;
    for (;;) {
        if (j->p >= j->end) {
            goto fail;
        }
        unsigned char c = (unsigned char) *j->p++;
        if (c == '"') {
            break;
        }
        if (c < 0x20) {
            goto fail;
        }
        if (c == '\\') {
            if (j->p >= j->end) {
                goto fail;
            }
            switch (*j->p++) {
            case '"':
                c = '"';
                break;
            case '\\':
                c = '\\';
                break;
            case '/':
                c = '/';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'u': {
                unsigned u = 0;
                if (j->end - j->p < 4) {
                    goto fail;
                }
                for (int i = 0; i < 4; i++) {
                    int h = hexval(*j->p++);
                    if (h < 0) {
                        goto fail;
                    }
                    u = u * 16 + (unsigned) h;
                }
                if (u == 0 || u >= 0x80) {
                    goto fail;
                }
                c = (unsigned char) u;
                break;
            }
            default:
                goto fail;
            }
        }
        if (len + 1 >= cap) {
            char *t = realloc(s, cap * 2);
            if (t == NULL) {
                goto fail;
            }
            s = t;
            cap *= 2;
        }
        s[len++] = (char) c;
    }
    s[len] = '\0';
    *out = s;
    return 0;
fail:
    free(s);
    return -1;
}

static int jparse_value(jp_t *j, jv_t *v);

/* Appends one value (and key, for objects) to a container, taking ownership. */
static int
jpush(jv_t *v, char *key, jv_t *item)
{
    jv_t *vals = realloc(v->vals, (v->n + 1) * sizeof(*vals));
    if (vals == NULL) {
        return -1;
    }
    v->vals = vals;
    if (v->type == J_OBJ) {
        char **keys = realloc(v->keys, (v->n + 1) * sizeof(*keys));
        if (keys == NULL) {
            return -1;
        }
        v->keys = keys;
        v->keys[v->n] = key;
    }
    v->vals[v->n] = *item;
    v->n++;
    return 0;
}

static int
jparse_container(jp_t *j, jv_t *v, char close)
{
    j->p++; /* the opening bracket */
    jskip(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        jv_t item = {0};
        jskip(j);
        if (v->type == J_OBJ) {
            if (jparse_string(j, &key) != 0) {
                return -1;
            }
            jskip(j);
            if (j->p >= j->end || *j->p != ':') {
                free(key);
                return -1;
            }
            j->p++;
        }
        if (jparse_value(j, &item) != 0 || jpush(v, key, &item) != 0) {
            free(key);
            jv_free(&item);
            return -1;
        }
        jskip(j);
        if (j->p >= j->end) {
            return -1;
        }
        if (*j->p == close) {
            j->p++;
            return 0;
        }
        if (*j->p != ',') {
            return -1;
        }
        j->p++;
    }
}

static int
jparse_literal(jp_t *j, jv_t *v, int type, const char *accept)
{
    const char *start = j->p;
    while (j->p < j->end && strchr(accept, *j->p) != NULL) {
        j->p++;
    }
    size_t len = (size_t) (j->p - start);
    if (len == 0 || (v->str = malloc(len + 1)) == NULL) {
        return -1;
    }
    memcpy(v->str, start, len);
    v->str[len] = '\0';
    v->type = type;
    if (type == J_BOOL && strcmp(v->str, "true") != 0 && strcmp(v->str, "false") != 0) {
        return -1;
    }
    if (type == J_NULL && strcmp(v->str, "null") != 0) {
        return -1;
    }
    return 0;
}

static int
jparse_value(jp_t *j, jv_t *v)
{
    int rc = -1;

    memset(v, 0, sizeof(*v));
    if (++j->depth > JSON_MAX_DEPTH) {
        goto out;
    }
    jskip(j);
    if (j->p >= j->end) {
        goto out;
    }
    switch (*j->p) {
    case '{':
        v->type = J_OBJ;
        rc = jparse_container(j, v, '}');
        break;
    case '[':
        v->type = J_ARR;
        rc = jparse_container(j, v, ']');
        break;
    case '"':
        v->type = J_STR;
        rc = jparse_string(j, &v->str);
        break;
    case 't':
    case 'f':
        rc = jparse_literal(j, v, J_BOOL, "truefals");
        break;
    case 'n':
        rc = jparse_literal(j, v, J_NULL, "nul");
        break;
    default:
        rc = jparse_literal(j, v, J_NUM, "-+.eE0123456789");
        break;
    }
out:
    j->depth--;
    return rc;
}

/* Parses a whole document; trailing non-space is an error. */
static int
json_parse(const char *text, size_t len, jv_t *out)
{
    jp_t j = {text, text + len, 0};
    if (jparse_value(&j, out) != 0) {
        jv_free(out);
        return -1;
    }
    jskip(&j);
    if (j.p != j.end) {
        jv_free(out);
        return -1;
    }
    return 0;
}

static const jv_t *
json_get(const jv_t *obj, const char *key)
{
    if (obj == NULL || obj->type != J_OBJ) {
        return NULL;
    }
    for (size_t i = 0; i < obj->n; i++) {
        if (strcmp(obj->keys[i], key) == 0) {
            return &obj->vals[i];
        }
    }
    return NULL;
}

static char *
read_text_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f == NULL) {
        print_error("cannot open %s\n", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || size > (1L << 24) ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t) size + 1)) == NULL ||
        fread(buf, 1, (size_t) size, f) != (size_t) size) {
        free(buf);
        buf = NULL;
    } else {
        buf[size] = '\0';
        *len = (size_t) size;
    }
    fclose(f);
    return buf;
}

#endif
