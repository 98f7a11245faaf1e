/*
 * vCard codec: imports vCard 2.1, 3.0 and 4.0 files into contact cards and exports a
 * card as vCard 3.0 or 4.0.
 *
 * Parsing is a single pass over the input, one logical line at a time. A logical
 * line is a physical line (ended by CRLF, LF or a lone CR) plus every following
 * line that starts with a space or a tab (minus that character), and, for a
 * QUOTED-PRINTABLE property, every line after a soft line break "=" (joined as is,
 * before decoding). Each line is split into group, name, parameters and value; only
 * the properties kith maps to a field are decoded (QP, charset, UTF-8 check, CR
 * normalisation), unescaped and stored. Everything read from the input is bounded:
 * the input size, the unfolded line length, the property name length and the
 * number of properties per card.
 *
 * Strict and forgiving parses share that one pass. Every problem goes through fail(),
 * which keeps the message; a strict parse stops there, a forgiving one hands the
 * message to the caller's callback and leaves out the logical line (a property) or
 * the card (its fields are freed and it is removed from the set, and the lines up to
 * its END:VCARD are ignored). Only the limits above, UTF-16 input, a file with no vCard
 * and running out of memory stop a forgiving parse.
 *
 * Writing emits a fixed property order. Fields that vCard has no property for, and
 * extra values of fields vCard allows once (FN, N), become X-KITH-<FIELD>, which the
 * parser maps back, so that parse(write(card)) gives back every field.
 *
 * Kept lines (vcard_extra, see vcard.h) carry what the fields lose. The parser keeps a
 * line unless it is exactly the writer's line for the values it gave (is_canonical()
 * builds that line with the writer's own canon_*() functions). The writer reads every
 * kept line back with the parser's handle_prop() and, for each line it is about to
 * write, looks for an unused kept line of the same property that gives the same values
 * (put_unit()); so a kept line is reused exactly when it still says what the card says.
 *
 * Limits: no nested vCards (2.1 AGENT), UTF-16 input is refused, charsets other
 * than UTF-8, ISO-8859-1 and windows-1252 are accepted only when the bytes are
 * already UTF-8, and 2.1 folding is unfolded like 3.0 (the whitespace is dropped).
 */
#include "formats/vcard.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kith/error.h"
#include "model/value.h"

#define MAX_NAME         256   /* octets in a property name (without group) */
#define CATEGORIES_CHUNK 16384 /* octets of tags per CATEGORIES line the writer emits */
#define KEPT_FIELD       "vcard_extra"
#define KEPT_MAX_LEN     KITH_VALUE_MAX_LEN   /* octets in one kept line */
#define KEPT_MAX         KITH_VALUE_MAX_ITEMS /* kept lines per card */

/* ------------------------------------------------------------------------------ */
/* Character helpers. Locale-independent on purpose: vCard syntax is ASCII. */

static int
is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static unsigned char
to_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char) (c - 'A' + 'a') : c;
}

static unsigned char
to_upper(unsigned char c)
{
    return (c >= 'a' && c <= 'z') ? (unsigned char) (c - 'a' + 'A') : c;
}

static int
hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = to_lower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Case-insensitive comparison of s[0..n) with the NUL-terminated ASCII word w. */
static int
eq_ci(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    if (n != wl) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (to_lower((unsigned char) s[i]) != to_lower((unsigned char) w[i])) {
            return 0;
        }
    }
    return 1;
}

static int
prefix_ci(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    return n >= wl && eq_ci(s, wl, w);
}

/* Strips leading and trailing spaces and tabs. */
static void
trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) {
        (*n)--;
    }
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int
utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *) str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len > n - i) {
            return 0;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        i += len;
    }
    return 1;
}

/* windows-1252 0x80..0x9F; the five undefined bytes map to the C1 controls, as in the
 * WHATWG encoding standard, which also reads ISO-8859-1 labels as windows-1252. */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static int
cp1252_to_utf8(const char *str, size_t n, kith_buf_t *out)
{
    const unsigned char *s = (const unsigned char *) str;
    /* Every input byte becomes at most three output bytes. */
    if (n > (KITH_BUF_MAX - 1) / 3) {
        return KITH_ETOOBIG;
    }
    int rc = kith_buf_reserve(out, 3 * n);
    if (rc != KITH_OK) {
        return rc;
    }
    uint8_t *d = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = s[i];
        if (cp >= 0x80 && cp < 0xA0) {
            cp = cp1252_high[cp - 0x80];
        }
        if (cp < 0x80) {
            *d++ = (uint8_t) cp;
        } else if (cp < 0x800) {
            *d++ = (uint8_t) (0xC0 | (cp >> 6));
            *d++ = (uint8_t) (0x80 | (cp & 0x3F));
        } else {
            *d++ = (uint8_t) (0xE0 | (cp >> 12));
            *d++ = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
            *d++ = (uint8_t) (0x80 | (cp & 0x3F));
        }
    }
    out->len = (size_t) (d - out->data);
    out->data[out->len] = '\0';
    return KITH_OK;
}

/* ------------------------------------------------------------------------------ */
/* Parser state. */

typedef struct {
    const char *p;      /* next unread input byte */
    const char *end;    /* one past the last input byte */
    unsigned next_line; /* 1-based number of the physical line starting at p */
    unsigned line_no;   /* where the current logical line starts */
    kith_buf_t line;    /* the current logical (unfolded) line */
    kith_buf_t val[2];  /* scratch for decoding a value (QP, charset, CR) */
    kith_buf_t text;    /* scratch: one unescaped value or component */
    kith_buf_t join;    /* scratch: components joined (ADR, ORG units, derived name) */
    kith_buf_t fname;   /* scratch: field name built from an X- property name */
    kith_buf_t canon;   /* scratch: the line the writer would write for a property */
    size_t n_kept;      /* lines kept as vcard_extra in the current card */
    size_t kept_len;    /* octets of those lines */
    int kept_b64;       /* the last property was base64 data and was kept */
    char kept_name[65]; /* the property of a kept line extend_kept() gave up */
    char *errbuf;
    size_t errcap;
    kith_card_skip_fn skipped; /* NULL: strict */
    void *skip_ctx;
    unsigned nul_line; /* forgiving: first physical line of ps->line with a NUL byte */
    char msg[256];     /* the last failure, without its line number */
} parser_t;

typedef struct {
    const char *name; /* property name without group */
    size_t name_len;
    int group;         /* the line has a group prefix ("item1.") */
    const char *value; /* raw value after the first unquoted ':' */
    size_t value_len;
    const char *charset; /* CHARSET parameter value, or NULL */
    size_t charset_len;
    int qp;            /* ENCODING=QUOTED-PRINTABLE (or the bare 2.1 parameter) */
    int b64;           /* ENCODING=B / BASE64: binary, skipped */
    int other_enc;     /* an encoding we cannot decode: skipped too */
    int uri;           /* VALUE=uri */
    const char *kname; /* NAME parameter: the field name on X-KITH-CUSTOM, or NULL */
    size_t kname_len;
} prop_t;

static int fail(parser_t *ps, int rc, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records a failure in ps->msg, for a forgiving parse to report, and in errbuf. */
static int
fail(parser_t *ps, int rc, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->msg, sizeof(ps->msg), fmt, ap);
    va_end(ap);
    if (ps->errbuf == NULL || ps->errcap == 0) {
        return rc;
    }
    if (line > 0) {
        snprintf(ps->errbuf, ps->errcap, "line %u: %s", line, ps->msg);
    } else {
        snprintf(ps->errbuf, ps->errcap, "%s", ps->msg);
    }
    return rc;
}

/* Input quoted in an error message: at most 32 octets, anything but printable ASCII
 * shown as '?', so that a message never carries control or invalid bytes. */
#define MSG_QUOTE 40

static const char *
quote_for_msg(const char *s, size_t n, char out[static MSG_QUOTE])
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 32; i++) {
        unsigned char c = (unsigned char) s[i];
        out[k++] = (c >= 0x20 && c < 0x7F) ? (char) c : '?';
    }
    if (n > 32) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

static int
fail_rc(parser_t *ps, int rc)
{
    if (rc == KITH_ENOMEM) {
        return fail(ps, rc, ps->line_no, "out of memory");
    }
    return fail(ps, rc, ps->line_no, "%s", kith_strerror(rc));
}

/* ------------------------------------------------------------------------------ */
/* Lines. */

/* Reads one physical line. Returns 1 with s/n set, 0 at the end of input, or an error
 * for a NUL byte (which no text format allows and which would truncate C strings).
 * A forgiving parse reads the line anyway and notes it in ps->nul_line, so that the
 * caller drops the logical line it belongs to. */
static int
next_physical(parser_t *ps, const char **s, size_t *n)
{
    if (ps->p >= ps->end) {
        return 0;
    }
    const char *b = ps->p;
    const char *q = b;
    while (q < ps->end && *q != '\n' && *q != '\r') {
        if (*q == '\0') {
            if (ps->skipped == NULL) {
                return fail(ps, KITH_EPARSE, ps->next_line, "NUL byte in input");
            }
            if (ps->nul_line == 0) {
                ps->nul_line = ps->next_line;
            }
        }
        q++;
    }
    *s = b;
    *n = (size_t) (q - b);
    if (q < ps->end) {
        if (*q == '\r' && ps->end - q > 1 && q[1] == '\n') {
            q += 2;
        } else {
            q++;
        }
    }
    ps->p = q;
    ps->next_line++;
    return 1;
}

static int
line_append(parser_t *ps, const char *s, size_t n)
{
    if (n > KITH_VCARD_MAX_LINE - ps->line.len) {
        return fail(ps, KITH_ETOOBIG, ps->line_no, "unfolded line longer than %zu bytes",
                    KITH_VCARD_MAX_LINE);
    }
    int rc = kith_buf_append(&ps->line, s, n);
    if (rc != KITH_OK) {
        return fail_rc(ps, rc);
    }
    return KITH_OK;
}

static int split_prop(const char *s, size_t n, prop_t *pr, const char **why);

/*
 * Reads the next logical line into ps->line. Returns 1, 0 at the end of input, or an
 * error. Whether the property is QUOTED-PRINTABLE (and so whether a trailing "=" is
 * a soft line break) is decided once its first unquoted ':' has been read; the
 * colon search resumes where it stopped so that a line made of many continuation
 * lines is still scanned in linear time.
 */
static int
next_logical(parser_t *ps)
{
    const char *s;
    size_t n;
    ps->nul_line = 0;
    int rc = next_physical(ps, &s, &n);
    if (rc <= 0) {
        return rc;
    }
    ps->line_no = ps->next_line - 1;
    ps->line.len = 0;
    if ((rc = line_append(ps, s, n)) != KITH_OK) {
        return rc;
    }
    int qp = -1; /* unknown until the colon is seen */
    size_t scan = 0;
    int in_quote = 0;
    while (ps->p < ps->end) {
        for (; qp < 0 && scan < ps->line.len; scan++) {
            char c = (char) ps->line.data[scan];
            if (c == '"') {
                in_quote = !in_quote;
            } else if (c == ':' && !in_quote) {
                prop_t pr;
                const char *why;
                qp = split_prop((const char *) ps->line.data, ps->line.len, &pr, &why) == KITH_OK &&
                     pr.qp;
            }
        }
        if (qp == 1 && ps->line.len > 0 && ps->line.data[ps->line.len - 1] == '=') {
            /* Soft line break: drop the '=' and join the next line as it is. */
            ps->line.len--;
            if ((rc = next_physical(ps, &s, &n)) < 0) {
                return rc;
            }
            if ((rc = line_append(ps, s, n)) != KITH_OK) {
                return rc;
            }
            continue;
        }
        if (*ps->p != ' ' && *ps->p != '\t') {
            break;
        }
        if ((rc = next_physical(ps, &s, &n)) < 0) {
            return rc;
        }
        if ((rc = line_append(ps, s + 1, n - 1)) != KITH_OK) {
            return rc;
        }
    }
    return 1;
}

static int
is_blank(const char *s, size_t n)
{
    trim(&s, &n);
    return n == 0;
}

/* A line of 2.1 base64 data that its writer did not indent. */
static int
is_base64_text(const char *s, size_t n)
{
    trim(&s, &n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (!is_alnum(c) && c != '+' && c != '/' && c != '=') {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------------ */
/* Property syntax: [group "."] name *(";" param) ":" value */

static void
take_param(prop_t *pr, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    const char *pn = s, *pv = s;
    size_t pnl = n, pvl = n;
    if (eq != NULL) {
        pnl = (size_t) (eq - s);
        pv = eq + 1;
        pvl = n - pnl - 1;
    }
    trim(&pn, &pnl);
    trim(&pv, &pvl);
    if (pvl >= 2 && pv[0] == '"' && pv[pvl - 1] == '"') {
        pv++;
        pvl -= 2;
    }
    if (eq == NULL) {
        /* vCard 2.1 bare parameters: TEL;WORK;VOICE:..., NOTE;QUOTED-PRINTABLE:... */
        if (eq_ci(pv, pvl, "QUOTED-PRINTABLE")) {
            pr->qp = 1;
        } else if (eq_ci(pv, pvl, "BASE64")) {
            pr->b64 = 1;
        }
        return;
    }
    if (eq_ci(pn, pnl, "ENCODING")) {
        if (eq_ci(pv, pvl, "QUOTED-PRINTABLE")) {
            pr->qp = 1;
        } else if (eq_ci(pv, pvl, "B") || eq_ci(pv, pvl, "BASE64")) {
            pr->b64 = 1;
        } else if (!eq_ci(pv, pvl, "8BIT") && !eq_ci(pv, pvl, "7BIT")) {
            pr->other_enc = 1;
        }
    } else if (eq_ci(pn, pnl, "CHARSET")) {
        pr->charset = pv;
        pr->charset_len = pvl;
    } else if (eq_ci(pn, pnl, "VALUE")) {
        if (eq_ci(pv, pvl, "uri")) {
            pr->uri = 1;
        }
    } else if (eq_ci(pn, pnl, "NAME")) {
        pr->kname = pv;
        pr->kname_len = pvl;
    }
}

/* Splits one logical line. On KITH_EPARSE *why says what is wrong. */
static int
split_prop(const char *s, size_t n, prop_t *pr, const char **why)
{
    memset(pr, 0, sizeof(*pr));
    size_t i = 0, start = 0;
    while (i < n && (is_alnum((unsigned char) s[i]) || s[i] == '-' || s[i] == '.')) {
        if (s[i] == '.') {
            start = i + 1; /* a group prefix such as "item1." */
        }
        i++;
    }
    if (i == n || (s[i] != ';' && s[i] != ':')) {
        *why = memchr(s, ':', n) != NULL ? "invalid character in property name"
                                         : "missing ':' in property";
        return KITH_EPARSE;
    }
    pr->name = s + start;
    pr->name_len = i - start;
    pr->group = start > 0;
    if (pr->name_len == 0) {
        *why = "missing property name";
        return KITH_EPARSE;
    }
    if (pr->name_len > MAX_NAME) {
        *why = "property name too long (more than 256 bytes)";
        return KITH_EPARSE;
    }
    while (s[i] == ';') {
        size_t ps = ++i;
        while (i < n && s[i] != ';' && s[i] != ':') {
            if (s[i] == '"') {
                const char *q = memchr(s + i + 1, '"', n - i - 1);
                if (q == NULL) {
                    *why = "unterminated quoted parameter value";
                    return KITH_EPARSE;
                }
                i = (size_t) (q - s) + 1;
                continue;
            }
            i++;
        }
        if (i == n) {
            *why = "missing ':' in property";
            return KITH_EPARSE;
        }
        take_param(pr, s + ps, i - ps);
    }
    /* s[i] == ':' here. */
    pr->value = s + i + 1;
    pr->value_len = n - i - 1;
    return KITH_OK;
}

/* ------------------------------------------------------------------------------ */
/* Values. */

static int
qp_decode(const char *s, size_t n, kith_buf_t *out)
{
    int rc = kith_buf_reserve(out, n);
    if (rc != KITH_OK) {
        return rc;
    }
    uint8_t *d = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '=' && n - i > 2) {
            int hi = hex_val((unsigned char) s[i + 1]);
            int lo = hex_val((unsigned char) s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                *d++ = (uint8_t) (hi << 4 | lo);
                i += 2;
                continue;
            }
        } else if (c == '=' && n - i == 1) {
            continue; /* a soft break at the very end of the input */
        }
        /* A stray '=' is kept as is (RFC 2045 6.7 asks decoders to be robust). */
        *d++ = c;
    }
    out->len = (size_t) (d - out->data);
    out->data[out->len] = '\0';
    return KITH_OK;
}

typedef enum {
    CS_OTHER,  /* kept if the bytes are valid UTF-8 */
    CS_UTF8,   /* validated */
    CS_CP1252, /* converted; ISO-8859-1 included */
} charset_t;

static charset_t
charset_kind(const char *s, size_t n)
{
    char norm[32];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-' || s[i] == '_') {
            continue;
        }
        if (k + 1 >= sizeof(norm)) {
            return CS_OTHER;
        }
        norm[k++] = (char) to_lower((unsigned char) s[i]);
    }
    norm[k] = '\0';
    if (strcmp(norm, "utf8") == 0) {
        return CS_UTF8;
    }
    if (strcmp(norm, "iso88591") == 0 || strcmp(norm, "latin1") == 0 || strcmp(norm, "l1") == 0 ||
        strcmp(norm, "windows1252") == 0 || strcmp(norm, "cp1252") == 0 ||
        strcmp(norm, "iso885911987") == 0) {
        return CS_CP1252;
    }
    return CS_OTHER;
}

/*
 * Turns a raw value into UTF-8 text: QP decoding, charset conversion or UTF-8
 * validation, then CRLF and lone CR to LF (vCard text cannot carry a CR, so a value
 * that had one could not be written back unchanged). The result points into one of
 * ps->val[] and stays valid until the next call.
 */
static int
decode_value(parser_t *ps, const prop_t *pr, const char **out, size_t *out_len)
{
    const char *v = pr->value;
    size_t n = pr->value_len;
    int k = 0, rc;
    if (pr->qp) {
        ps->val[k].len = 0;
        if ((rc = qp_decode(v, n, &ps->val[k])) != KITH_OK) {
            return fail_rc(ps, rc);
        }
        v = (const char *) ps->val[k].data;
        n = ps->val[k].len;
        k ^= 1;
    }
    charset_t cs = pr->charset != NULL ? charset_kind(pr->charset, pr->charset_len) : CS_UTF8;
    if (cs == CS_CP1252) {
        ps->val[k].len = 0;
        if ((rc = cp1252_to_utf8(v, n, &ps->val[k])) != KITH_OK) {
            return fail_rc(ps, rc);
        }
        v = (const char *) ps->val[k].data;
        n = ps->val[k].len;
        k ^= 1;
    } else if (!utf8_valid(v, n)) {
        if (cs == CS_OTHER) {
            char shown[MSG_QUOTE];
            return fail(ps, KITH_EPARSE, ps->line_no,
                        "value is not valid UTF-8 and CHARSET=%s is not supported",
                        quote_for_msg(pr->charset, pr->charset_len, shown));
        }
        return fail(ps, KITH_EPARSE, ps->line_no,
                    "invalid UTF-8 (declare CHARSET=ISO-8859-1 or convert the file to UTF-8)");
    }
    if (n > 0 && memchr(v, '\0', n) != NULL) {
        return fail(ps, KITH_EPARSE, ps->line_no, "NUL byte in decoded value");
    }
    if (n > 0 && memchr(v, '\r', n) != NULL) {
        kith_buf_t *b = &ps->val[k];
        b->len = 0;
        if ((rc = kith_buf_reserve(b, n)) != KITH_OK) {
            return fail_rc(ps, rc);
        }
        for (size_t i = 0; i < n; i++) {
            if (v[i] != '\r') {
                b->data[b->len++] = (uint8_t) v[i];
            } else if (i + 1 < n && v[i + 1] == '\n') {
                continue; /* the LF comes next */
            } else {
                b->data[b->len++] = '\n';
            }
        }
        b->data[b->len] = '\0';
        v = (const char *) b->data;
        n = b->len;
    }
    *out = v;
    *out_len = n;
    return KITH_OK;
}

/* Undoes vCard text escaping into out (replacing its contents). Unknown escapes are
 * kept with their backslash, so "C:\Users" written unescaped by a sloppy exporter
 * survives; "\:" (Apple escapes colons in URLs) becomes ':'. */
static int
unescape(const char *s, size_t n, kith_buf_t *out)
{
    out->len = 0;
    int rc = kith_buf_reserve(out, n);
    if (rc != KITH_OK) {
        return rc;
    }
    uint8_t *d = out->data;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 == n) {
            *d++ = (uint8_t) s[i];
            continue;
        }
        char c = s[++i];
        switch (c) {
        case 'n':
        case 'N':
            *d++ = '\n';
            break;
        case '\\':
        case ',':
        case ';':
        case ':':
            *d++ = (uint8_t) c;
            break;
        default:
            *d++ = '\\';
            *d++ = (uint8_t) c;
            break;
        }
    }
    out->len = (size_t) (d - out->data);
    out->data[out->len] = '\0';
    return KITH_OK;
}

/* Iterates over the components of a value separated by an unescaped sep. */
typedef struct {
    const char *s;
    size_t n;
    size_t pos;
    int done;
} splitter_t;

static void
split_init(splitter_t *sp, const char *s, size_t n)
{
    sp->s = s;
    sp->n = n;
    sp->pos = 0;
    sp->done = 0;
}

static int
split_next(splitter_t *sp, char sep, const char **c, size_t *cl)
{
    if (sp->done) {
        return 0;
    }
    size_t i = sp->pos;
    while (i < sp->n && sp->s[i] != sep) {
        if (sp->s[i] == '\\' && i + 1 < sp->n) {
            i++;
        }
        i++;
    }
    *c = sp->s + sp->pos;
    *cl = i - sp->pos;
    if (i < sp->n) {
        sp->pos = i + 1;
    } else {
        sp->done = 1;
    }
    return 1;
}

/* ------------------------------------------------------------------------------ */
/* Mapping properties to fields. */

static int
add_field(parser_t *ps, kith_card_t *card, const char *name, const char *v, size_t n)
{
    if (n == 0) {
        return KITH_OK; /* empty values carry nothing and are not written back either */
    }
    int rc = kith_card_addn(card, name, v, n);
    if (rc == KITH_ETOOBIG) {
        return fail(ps, rc, ps->line_no, "more than %d fields in one vCard", KITH_CARD_MAX_FIELDS);
    }
    if (rc != KITH_OK) {
        return fail_rc(ps, rc);
    }
    card->fields[card->n_fields - 1].line = ps->line_no;
    return KITH_OK;
}

static int
add_text(parser_t *ps, kith_card_t *card, const char *name, const char *v, size_t n)
{
    int rc = unescape(v, n, &ps->text);
    if (rc != KITH_OK) {
        return fail_rc(ps, rc);
    }
    return add_field(ps, card, name, (const char *) ps->text.data, ps->text.len);
}

/* Appends the unescaped component to ps->join, after ", " if join is not empty. */
static int
join_component(parser_t *ps, const char *c, size_t cl)
{
    int rc = unescape(c, cl, &ps->text);
    if (rc == KITH_OK && ps->text.len > 0 && ps->join.len > 0) {
        rc = kith_buf_append(&ps->join, ", ", 2);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_append(&ps->join, ps->text.data, ps->text.len);
    }
    if (rc != KITH_OK) {
        return fail_rc(ps, rc);
    }
    return KITH_OK;
}

static int
map_n(parser_t *ps, kith_card_t *card, const char *v, size_t n)
{
    splitter_t sp;
    const char *c;
    size_t cl;
    int rc = KITH_OK;
    split_init(&sp, v, n);
    if (split_next(&sp, ';', &c, &cl)) {
        rc = add_text(ps, card, "family", c, cl);
    }
    if (rc == KITH_OK && split_next(&sp, ';', &c, &cl)) {
        rc = add_text(ps, card, "given", c, cl);
    }
    return rc;
}

static int
map_adr(parser_t *ps, kith_card_t *card, const char *v, size_t n)
{
    splitter_t sp;
    const char *c;
    size_t cl;
    int rc = KITH_OK;
    split_init(&sp, v, n);
    ps->join.len = 0;
    /* po-box, extended, street, locality, region, postal code, country */
    for (int i = 0; i < 7 && rc == KITH_OK && split_next(&sp, ';', &c, &cl); i++) {
        rc = join_component(ps, c, cl);
    }
    if (rc != KITH_OK) {
        return rc;
    }
    return add_field(ps, card, "addresses", (const char *) ps->join.data, ps->join.len);
}

static int
map_org(parser_t *ps, kith_card_t *card, const char *v, size_t n)
{
    splitter_t sp;
    const char *c;
    size_t cl;
    int rc = KITH_OK;
    split_init(&sp, v, n);
    if (split_next(&sp, ';', &c, &cl)) {
        rc = add_text(ps, card, "org", c, cl);
    }
    ps->join.len = 0;
    while (rc == KITH_OK && split_next(&sp, ';', &c, &cl)) {
        rc = join_component(ps, c, cl);
    }
    if (rc != KITH_OK) {
        return rc;
    }
    return add_field(ps, card, "department", (const char *) ps->join.data, ps->join.len);
}

static int
map_categories(parser_t *ps, kith_card_t *card, const char *v, size_t n)
{
    splitter_t sp;
    const char *c;
    size_t cl;
    int rc = KITH_OK;
    split_init(&sp, v, n);
    while (rc == KITH_OK && split_next(&sp, ',', &c, &cl)) {
        rc = add_text(ps, card, "tags", c, cl);
    }
    return rc;
}

/* The field named by X-KITH-CUSTOM;NAME=x-...: a custom field whose name an X-
 * property cannot carry (it holds '_', or reads as something else, like x-kith-*). */
static int
map_custom(parser_t *ps, kith_card_t *card, const prop_t *pr, const char *v, size_t n)
{
    kith_buf_t *f = &ps->fname;
    f->len = 0;
    if (pr->kname_len > MAX_NAME) {
        return fail(ps, KITH_EPARSE, ps->line_no,
                    "X-KITH-CUSTOM NAME parameter too long (more than %d bytes)", MAX_NAME);
    }
    int ok = pr->kname_len > 2 && prefix_ci(pr->kname, 2, "x-");
    for (size_t i = 0; ok && i < pr->kname_len; i++) {
        unsigned char c = to_lower((unsigned char) pr->kname[i]);
        ok = is_alnum(c) || c == '-' || c == '_';
    }
    if (!ok) {
        return fail(ps, KITH_EPARSE, ps->line_no,
                    "X-KITH-CUSTOM needs NAME=x- followed by letters, digits, '-' or '_'");
    }
    int rc = kith_buf_reserve(f, pr->kname_len);
    if (rc != KITH_OK) {
        return fail_rc(ps, rc);
    }
    for (size_t i = 0; i < pr->kname_len; i++) {
        f->data[f->len++] = to_lower((unsigned char) pr->kname[i]);
    }
    f->data[f->len] = '\0';
    return add_text(ps, card, (const char *) f->data, v, n);
}

/* X-FOO -> "x-foo"; X-KITH-PAIN-POINTS -> "pain_points"; see also map_custom(). */
static int
map_x(parser_t *ps, kith_card_t *card, const prop_t *pr, const char *v, size_t n)
{
    if (pr->kname != NULL && eq_ci(pr->name, pr->name_len, "X-KITH-CUSTOM")) {
        return map_custom(ps, card, pr, v, n);
    }
    const char *nm = pr->name + 2;
    size_t nl = pr->name_len - 2;
    int kith = prefix_ci(pr->name, pr->name_len, "X-KITH-");
    if (kith) {
        nm = pr->name + 7;
        nl = pr->name_len - 7;
    }
    if (nl == 0) {
        return KITH_OK; /* a bare "X-" or "X-KITH-" names nothing */
    }
    kith_buf_t *f = &ps->fname;
    f->len = 0;
    int rc = kith_buf_reserve(f, nl + 2);
    if (rc != KITH_OK) {
        return fail_rc(ps, rc);
    }
    if (!kith) {
        f->data[f->len++] = 'x';
        f->data[f->len++] = '-';
    }
    for (size_t i = 0; i < nl; i++) {
        unsigned char c = to_lower((unsigned char) nm[i]);
        f->data[f->len++] = (kith && c == '-') ? '_' : c;
    }
    f->data[f->len] = '\0';
    return add_text(ps, card, (const char *) f->data, v, n);
}

typedef enum {
    P_IGNORE,
    P_TEXT, /* one unescaped value into .field */
    P_N,
    P_ADR,
    P_ORG,
    P_CATEGORIES,
    P_TEL,
    P_KIND,
    P_SHOWAS,
    P_VERSION,
    P_X,
} prop_kind_t;

static const struct {
    const char *prop;
    prop_kind_t kind;
    const char *field;
} prop_map[] = {
    {"FN", P_TEXT, "name"},
    {"N", P_N, NULL},
    {"EMAIL", P_TEXT, "emails"},
    {"TEL", P_TEL, "phones"},
    {"ADR", P_ADR, NULL},
    {"ORG", P_ORG, NULL},
    {"TITLE", P_TEXT, "title"},
    {"ROLE", P_TEXT, "x-role"},
    {"NOTE", P_TEXT, "note"},
    {"URL", P_TEXT, "urls"},
    {"CATEGORIES", P_CATEGORIES, NULL},
    {"BDAY", P_TEXT, "x-bday"},
    {"NICKNAME", P_TEXT, "x-nickname"},
    {"KIND", P_KIND, NULL},
    {"X-ABSHOWAS", P_SHOWAS, NULL},
    {"VERSION", P_VERSION, NULL},
    {"UID", P_TEXT, "uid"}, /* matched on import: node/match.h */
};

static prop_kind_t
classify(const prop_t *pr, const char **field)
{
    *field = NULL;
    for (size_t i = 0; i < sizeof(prop_map) / sizeof(prop_map[0]); i++) {
        if (eq_ci(pr->name, pr->name_len, prop_map[i].prop)) {
            *field = prop_map[i].field;
            return prop_map[i].kind;
        }
    }
    if (prefix_ci(pr->name, pr->name_len, "X-")) {
        return P_X;
    }
    return P_IGNORE;
}

/* Maps one property onto fields of card (and its kind); *kind_out says how it was read.
 * Properties kith has no field for, binary values and X- properties in a group (such as
 * Apple's item1.X-ABLabel, which labels another property of its group) give no field:
 * keep_line() keeps them as lines. */
static int
handle_prop(parser_t *ps, kith_card_t *card, const prop_t *pr, prop_kind_t *kind_out)
{
    const char *field;
    prop_kind_t kind = classify(pr, &field);
    if (kind == P_X && pr->group) {
        kind = P_IGNORE;
    }
    *kind_out = kind;
    if (kind == P_IGNORE || pr->b64 || pr->other_enc) {
        return KITH_OK; /* PHOTO, REV, base64 data, ...: see keep_line() */
    }
    const char *v;
    size_t n;
    int rc = decode_value(ps, pr, &v, &n);
    if (rc != KITH_OK) {
        return rc;
    }
    switch (kind) {
    case P_TEXT:
        return add_text(ps, card, field, v, n);
    case P_TEL:
        /* RFC 6350 writes TEL;VALUE=uri:tel:+1-555-0100; kith keeps the number. */
        if (pr->uri && prefix_ci(v, n, "tel:")) {
            v += 4;
            n -= 4;
        }
        return add_text(ps, card, field, v, n);
    case P_N:
        return map_n(ps, card, v, n);
    case P_ADR:
        return map_adr(ps, card, v, n);
    case P_ORG:
        return map_org(ps, card, v, n);
    case P_CATEGORIES:
        return map_categories(ps, card, v, n);
    case P_KIND:
        trim(&v, &n);
        if (eq_ci(v, n, "org")) {
            card->kind = KITH_CARD_ORG;
        }
        return KITH_OK;
    case P_SHOWAS:
        trim(&v, &n);
        if (eq_ci(v, n, "COMPANY")) {
            card->kind = KITH_CARD_ORG;
        }
        return KITH_OK;
    case P_VERSION:
        trim(&v, &n);
        if (!eq_ci(v, n, "2.1") && !eq_ci(v, n, "3.0") && !eq_ci(v, n, "4.0")) {
            char shown[MSG_QUOTE];
            return fail(ps, KITH_EPARSE, ps->line_no, "unsupported VERSION %s",
                        quote_for_msg(v, n, shown));
        }
        return KITH_OK;
    case P_X:
        return map_x(ps, card, pr, v, n);
    case P_IGNORE:
        break;
    }
    return KITH_OK;
}

/* ------------------------------------------------------------------------------ */
/* Kept lines (vcard_extra): what the fields lose. */

/* The canonical lines: what the writer writes for given values (defined with it). */
static int canon_simple(kith_buf_t *b, const char *prop, const char *value);
static int canon_n(kith_buf_t *b, const char *family, const char *given);
static int canon_org(kith_buf_t *b, const char *org, const char *dept);
static int canon_adr(kith_buf_t *b, const char *addr);
static int put_escaped(kith_buf_t *b, const char *s);
static int canon_x(kith_buf_t *b, const char *field, const char *value);
static const char *field_prop(const char *field);

/* Never kept: the vCard's frame and what kith writes anew for every card (the UID is a
 * field of its own). */
static int
never_kept(const char *name, size_t n)
{
    return eq_ci(name, n, "BEGIN") || eq_ci(name, n, "END") || eq_ci(name, n, "VERSION") ||
           eq_ci(name, n, "PRODID") || eq_ci(name, n, "REV") || eq_ci(name, n, "UID");
}

/* What vcard_extra may hold (the schema's KITH_FT_LINES): valid UTF-8 with no control
 * character but tab, no C1 control and no bidirectional override or isolate. */
static int
line_storable(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *) s;
    if (!utf8_valid(s, n)) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = u[i];
        if ((c < 0x20 && c != '\t') || c == 0x7F) {
            return 0;
        }
        if (c == 0xC2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F) {
            return 0; /* U+0080..U+009F */
        }
        if (c == 0xE2 && i + 2 < n &&
            ((u[i + 1] == 0x80 && u[i + 2] >= 0xAA && u[i + 2] <= 0xAE) ||
             (u[i + 1] == 0x81 && u[i + 2] >= 0xA6 && u[i + 2] <= 0xA9))) {
            return 0; /* U+202A..U+202E, U+2066..U+2069 */
        }
    }
    return 1;
}

/* The value of the first of fields[0..n) named name, or NULL. */
static const char *
field_in(const kith_card_field_t *fields, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(fields[i].name, name) == 0) {
            return fields[i].value;
        }
    }
    return NULL;
}

/* 1 if ps->line is exactly what the writer writes for the fields fields[0..n) it gave,
 * in either version: keeping it would add nothing. */
static int
is_canonical(parser_t *ps, prop_kind_t kind, const kith_card_field_t *fields, size_t n)
{
    kith_buf_t *b = &ps->canon;
    const char *prop;
    int rc = KITH_EINVAL;
    b->len = 0;
    switch (kind) {
    case P_TEXT:
    case P_TEL:
        if (n == 1 && (prop = field_prop(fields[0].name)) != NULL) {
            rc = canon_simple(b, prop, fields[0].value);
        }
        break;
    case P_X:
        if (n == 1) {
            rc = canon_x(b, fields[0].name, fields[0].value);
        }
        break;
    case P_N:
        rc = canon_n(b, field_in(fields, n, "family"), field_in(fields, n, "given"));
        break;
    case P_ORG:
        rc = canon_org(b, field_in(fields, n, "org"), field_in(fields, n, "department"));
        break;
    case P_ADR:
        if (n == 1) {
            rc = canon_adr(b, fields[0].value);
        }
        break;
    case P_CATEGORIES:
        rc = kith_buf_puts(b, "CATEGORIES:");
        for (size_t i = 0; i < n && rc == KITH_OK; i++) {
            if (i > 0) {
                rc = kith_buf_putc(b, ',');
            }
            if (rc == KITH_OK) {
                rc = put_escaped(b, fields[i].value);
            }
        }
        break;
    case P_KIND:
    case P_SHOWAS:
        rc = kith_buf_puts(b, kind == P_KIND ? "KIND:org" : "X-ABSHOWAS:COMPANY");
        break;
    default:
        break;
    }
    return rc == KITH_OK && b->len == ps->line.len && memcmp(b->data, ps->line.data, b->len) == 0;
}

/* Fails ps for a line that cannot be kept: a strict parse stops (KITH_ETOOBIG), a
 * forgiving one reports the line (KITH_EPARSE) and goes on. */
#define fail_keep(ps, ...)                                                                         \
    fail((ps), (ps)->skipped != NULL ? KITH_EPARSE : KITH_ETOOBIG, (ps)->line_no, __VA_ARGS__)

/*
 * Keeps ps->line as a vcard_extra item of card when the fields it gave (fields n0 on)
 * lose something: every property kith has no field for (but the frame, PRODID, REV and
 * UID), and a mapped one written otherwise than the writer would write its values (a
 * parameter, a group, more N, ORG or ADR structure). A mapped property that gave no
 * value (an empty EMAIL) is not kept, except N, KIND and X- properties.
 */
static int
keep_line(parser_t *ps, kith_card_t *card, const prop_t *pr, prop_kind_t kind, size_t n0)
{
    const char *s = (const char *) ps->line.data;
    size_t n = ps->line.len;
    ps->kept_b64 = 0;
    if (never_kept(pr->name, pr->name_len) || kind == P_VERSION) {
        return KITH_OK;
    }
    int mapped = kind != P_IGNORE && !pr->b64 && !pr->other_enc;
    size_t added = card->n_fields - n0;
    if (mapped && pr->qp) {
        /* A 2.1 QUOTED-PRINTABLE line gives its value decoded; written back as it was, it
         * would carry 2.1's encoding into a 3.0 or 4.0 vCard, which readers decode
         * differently (vobject keeps the CR of "=0D=0A"). */
        return KITH_OK;
    }
    if (mapped && added == 0 && kind != P_N && kind != P_KIND && kind != P_SHOWAS && kind != P_X) {
        return KITH_OK;
    }
    if (mapped && is_canonical(ps, kind, added > 0 ? card->fields + n0 : NULL, added)) {
        return KITH_OK;
    }
    if (n > KEPT_MAX_LEN) {
        return fail_keep(ps, "too long: %zu bytes, at most %d are kept", n, KEPT_MAX_LEN);
    }
    if (!line_storable(s, n)) {
        if (mapped) {
            return KITH_OK; /* e.g. a 2.1 ISO-8859-1 line: its value is imported, decoded */
        }
        return fail_keep(ps, "not kept: not valid UTF-8, or holds control characters");
    }
    if (ps->n_kept >= KEPT_MAX) {
        return fail_keep(ps, "too many lines to keep: at most %d per vCard are kept", KEPT_MAX);
    }
    if (n > KITH_VCARD_KEPT_MAX_TOTAL - ps->kept_len) {
        return fail_keep(ps, "too long to keep: this vCard's kept lines would pass %d bytes",
                         KITH_VCARD_KEPT_MAX_TOTAL);
    }
    int rc = add_field(ps, card, KEPT_FIELD, s, n);
    if (rc == KITH_OK) {
        ps->n_kept++;
        ps->kept_len += n;
        ps->kept_b64 = pr->b64;
    }
    return rc;
}

static const char *name_for_msg(const char *s, size_t n, char out[static 65]);

/* Appends a line of vCard 2.1 base64 data that its writer did not indent to the kept
 * line it continues, the last field of card, so that the data is kept whole. */
static int
extend_kept(parser_t *ps, kith_card_t *card, const char *s, size_t n)
{
    kith_card_field_t *f = &card->fields[card->n_fields - 1];
    size_t have = strlen(f->value);
    trim(&s, &n);
    if (n > KEPT_MAX_LEN - have || n > KITH_VCARD_KEPT_MAX_TOTAL - ps->kept_len) {
        /* The whole kept line goes: half a picture is worth nothing. */
        name_for_msg(f->value, have, ps->kept_name);
        free(f->name);
        free(f->value);
        card->n_fields--;
        ps->n_kept--;
        ps->kept_len -= have;
        ps->kept_b64 = 0;
        if (n > KEPT_MAX_LEN - have) {
            return fail_keep(ps, "too long: %zu bytes, at most %d are kept", have + n,
                             KEPT_MAX_LEN);
        }
        return fail_keep(ps, "too long to keep: this vCard's kept lines would pass %d bytes",
                         KITH_VCARD_KEPT_MAX_TOTAL);
    }
    char *v = realloc(f->value, have + n + 1);
    if (v == NULL) {
        return fail_rc(ps, KITH_ENOMEM);
    }
    memcpy(v + have, s, n);
    v[have + n] = '\0';
    f->value = v;
    ps->kept_len += n;
    return KITH_OK;
}

/* Gives a card without FN a name: ORG for an org, else "given family", else the
 * first email. A card with none of these is refused. */
static int
finish_card(parser_t *ps, kith_card_t *card)
{
    if (kith_card_get(card, "name") != NULL) {
        return KITH_OK;
    }
    const char *name = NULL;
    if (card->kind == KITH_CARD_ORG) {
        name = kith_card_get(card, "org");
    }
    if (name == NULL) {
        const char *given = kith_card_get(card, "given");
        const char *family = kith_card_get(card, "family");
        ps->join.len = 0;
        int rc = KITH_OK;
        if (given != NULL) {
            rc = kith_buf_puts(&ps->join, given);
        }
        if (rc == KITH_OK && given != NULL && family != NULL) {
            rc = kith_buf_putc(&ps->join, ' ');
        }
        if (rc == KITH_OK && family != NULL) {
            rc = kith_buf_puts(&ps->join, family);
        }
        if (rc != KITH_OK) {
            return fail_rc(ps, rc);
        }
        if (ps->join.len > 0) {
            name = (const char *) ps->join.data;
        }
    }
    if (name == NULL) {
        name = kith_card_get(card, "emails");
    }
    if (name == NULL) {
        return fail(ps, KITH_EPARSE, card->line,
                    "vCard has no name (FN, N, ORG and EMAIL are all missing or empty)");
    }
    int rc = add_field(ps, card, "name", name, strlen(name));
    if (rc == KITH_OK) {
        card->fields[card->n_fields - 1].line = card->line;
    }
    return rc;
}

/* A property name for a report: the name of a line that may not split, without its
 * group, at most 64 octets of [A-Za-z0-9-]; "" if the line starts with none. */
static const char *
name_for_msg(const char *s, size_t n, char out[static 65])
{
    size_t i = 0, start = 0;
    while (i < n && (is_alnum((unsigned char) s[i]) || s[i] == '-' || s[i] == '.')) {
        if (s[i] == '.') {
            start = i + 1;
        }
        i++;
    }
    size_t k = i - start < 64 ? i - start : 64;
    memcpy(out, s + start, k);
    out[k] = '\0';
    return out;
}

/* Forgiving: reports the line just read as left out, for the reason in ps->msg. */
static void
skip_line(parser_t *ps, unsigned line, const char *s, size_t n)
{
    char name[65];
    ps->skipped(ps->skip_ctx, line, name_for_msg(s, n, name), ps->msg);
}

/* Forgiving: drops *card, the last card of out, and reports it for ps->msg. */
static void
skip_card(parser_t *ps, kith_cardset_t *out, kith_card_t **card)
{
    unsigned line = (*card)->line;
    kith_card_close(*card);
    out->n_cards--;
    *card = NULL;
    ps->skipped(ps->skip_ctx, line, NULL, ps->msg);
}

int
kith_vcard_parse(const char *data, size_t len, kith_cardset_t *out, kith_card_skip_fn skipped,
                 void *ctx, char *errbuf, size_t errcap)
{
    parser_t ps;
    memset(&ps, 0, sizeof(ps));
    kith_buf_init(&ps.line);
    kith_buf_init(&ps.val[0]);
    kith_buf_init(&ps.val[1]);
    kith_buf_init(&ps.text);
    kith_buf_init(&ps.join);
    kith_buf_init(&ps.fname);
    kith_buf_init(&ps.canon);
    ps.errbuf = errbuf;
    ps.errcap = errcap;
    ps.skipped = skipped;
    ps.skip_ctx = ctx;
    if (errbuf != NULL && errcap > 0) {
        errbuf[0] = '\0';
    }
    int rc;
    kith_card_t *card = NULL;
    size_t n_props = 0, n_found = 0, n_dropped = 0;
    int in_b64 = 0;   /* the last property was base64 data, which 2.1 may not indent */
    int dropping = 0; /* forgiving: the vCard being read was dropped; wait for its END */

    if (out == NULL || (data == NULL && len > 0)) {
        rc = fail(&ps, KITH_EINVAL, 0, "invalid argument");
        goto out;
    }
    if (len > KITH_VCARD_MAX_INPUT) {
        rc = fail(&ps, KITH_ETOOBIG, 0, "input larger than %zu MiB", KITH_VCARD_MAX_INPUT >> 20);
        goto out;
    }
    if (data == NULL) {
        data = ""; /* len is 0: avoids arithmetic on a null pointer */
    }
    ps.p = data;
    ps.end = data + len;
    ps.next_line = 1;
    if (len >= 2 && (((unsigned char) data[0] == 0xFF && (unsigned char) data[1] == 0xFE) ||
                     ((unsigned char) data[0] == 0xFE && (unsigned char) data[1] == 0xFF))) {
        rc = fail(&ps, KITH_EPARSE, 1, "UTF-16 input is not supported; convert it to UTF-8");
        goto out;
    }
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        ps.p += 3;
    }

    /* In a forgiving parse every "continue" after a report leaves the line out; only
     * hard errors (limits, memory) reach "goto out". */
    while ((rc = next_logical(&ps)) == 1) {
        const char *s = (const char *) ps.line.data;
        size_t n = ps.line.len;
        if (ps.nul_line > 0) {
            /* Only a forgiving parse gets here; a strict one failed on the byte. */
            if (!dropping) {
                fail(&ps, KITH_EPARSE, ps.nul_line, "NUL byte in input");
                skip_line(&ps, ps.nul_line, s, n);
            }
            in_b64 = 0;
            continue;
        }
        if (is_blank(s, n)) {
            in_b64 = 0;
            continue;
        }
        prop_t pr;
        const char *why;
        if (split_prop(s, n, &pr, &why) != KITH_OK) {
            if (card != NULL && in_b64 && is_base64_text(s, n)) {
                if (ps.kept_b64 && (rc = extend_kept(&ps, card, s, n)) != KITH_OK) {
                    if (skipped == NULL || rc == KITH_ENOMEM) {
                        goto out;
                    }
                    skipped(ctx, ps.line_no, ps.kept_name, ps.msg);
                }
                continue;
            }
            rc = fail(&ps, KITH_EPARSE, ps.line_no, "%s", why);
            if (skipped == NULL) {
                goto out;
            }
            if (card == NULL) {
                fail(&ps, KITH_EPARSE, ps.line_no, "outside any vCard (expected BEGIN:VCARD)");
            }
            if (!dropping) {
                skip_line(&ps, ps.line_no, s, n);
            }
            in_b64 = 0;
            continue;
        }
        in_b64 = 0;
        const char *v = pr.value;
        size_t vl = pr.value_len;
        trim(&v, &vl);
        if (eq_ci(pr.name, pr.name_len, "BEGIN")) {
            if (card != NULL && (skipped == NULL || eq_ci(v, vl, "VCARD"))) {
                rc = fail(&ps, KITH_EPARSE, ps.line_no,
                          "nested BEGIN inside the vCard that starts at line %u", card->line);
                if (skipped == NULL) {
                    goto out;
                }
                /* The vCard before has no END: drop it and start this one. */
                fail(&ps, KITH_EPARSE, card->line,
                     "BEGIN:VCARD without END:VCARD (another BEGIN:VCARD at line %u)", ps.line_no);
                skip_card(&ps, out, &card);
                n_dropped++;
            }
            if (!eq_ci(v, vl, "VCARD")) {
                rc = fail(&ps, KITH_EPARSE, ps.line_no, "expected BEGIN:VCARD");
                if (skipped == NULL) {
                    goto out;
                }
                if (!dropping) {
                    skip_line(&ps, ps.line_no, s, n);
                }
                continue;
            }
            if ((rc = kith_cardset_add(out, &card)) != KITH_OK) {
                rc = rc == KITH_ETOOBIG
                         ? fail(&ps, rc, ps.line_no, "more than %d vCards", KITH_CARDSET_MAX)
                         : fail_rc(&ps, rc);
                goto out;
            }
            card->line = ps.line_no;
            n_props = 0;
            ps.n_kept = 0;
            ps.kept_len = 0;
            dropping = 0;
            continue;
        }
        if (eq_ci(pr.name, pr.name_len, "END")) {
            if (dropping && eq_ci(v, vl, "VCARD")) {
                dropping = 0;
                continue;
            }
            if (card == NULL) {
                char shown[MSG_QUOTE];
                rc = fail(&ps, KITH_EPARSE, ps.line_no, "END:%s without BEGIN",
                          quote_for_msg(v, vl, shown));
                if (skipped == NULL) {
                    goto out;
                }
                if (!dropping) {
                    skip_line(&ps, ps.line_no, s, n);
                }
                continue;
            }
            if (!eq_ci(v, vl, "VCARD")) {
                rc = fail(&ps, KITH_EPARSE, ps.line_no, "expected END:VCARD");
                if (skipped == NULL) {
                    goto out;
                }
                skip_line(&ps, ps.line_no, s, n);
                continue;
            }
            if ((rc = finish_card(&ps, card)) != KITH_OK) {
                if (skipped == NULL || rc == KITH_ENOMEM) {
                    goto out;
                }
                skip_card(&ps, out, &card);
                n_dropped++;
                continue;
            }
            card = NULL;
            n_found++;
            continue;
        }
        if (dropping) {
            continue;
        }
        if (card == NULL) {
            rc = fail(&ps, KITH_EPARSE, ps.line_no, "expected BEGIN:VCARD");
            if (skipped == NULL) {
                goto out;
            }
            fail(&ps, KITH_EPARSE, ps.line_no, "outside any vCard (expected BEGIN:VCARD)");
            skip_line(&ps, ps.line_no, s, n);
            continue;
        }
        if (++n_props > KITH_CARD_MAX_FIELDS) {
            rc = fail(&ps, KITH_ETOOBIG, ps.line_no,
                      "more than %d properties in the vCard that starts at line %u",
                      KITH_CARD_MAX_FIELDS, card->line);
            if (skipped == NULL) {
                goto out;
            }
            fail(&ps, KITH_ETOOBIG, card->line, "more than %d properties (line %u)",
                 KITH_CARD_MAX_FIELDS, ps.line_no);
            skip_card(&ps, out, &card);
            n_dropped++;
            dropping = 1;
            continue;
        }
        in_b64 = pr.b64;
        ps.kept_b64 = 0;
        size_t n0 = card->n_fields;
        prop_kind_t kind;
        if ((rc = handle_prop(&ps, card, &pr, &kind)) == KITH_OK) {
            rc = keep_line(&ps, card, &pr, kind, n0);
        }
        if (rc != KITH_OK) {
            if (skipped == NULL || rc == KITH_ENOMEM || rc == KITH_EINVAL) {
                goto out;
            }
            if (rc == KITH_ETOOBIG) {
                /* More fields than a card may hold: the card cannot be kept whole. */
                fail(&ps, rc, card->line, "more than %d fields (line %u)", KITH_CARD_MAX_FIELDS,
                     ps.line_no);
                skip_card(&ps, out, &card);
                n_dropped++;
                dropping = 1;
                continue;
            }
            skip_line(&ps, ps.line_no, s, n);
            continue;
        }
    }
    if (rc < 0) {
        goto out;
    }
    if (card != NULL) {
        rc = fail(&ps, KITH_EPARSE, card->line, "BEGIN:VCARD without END:VCARD");
        if (skipped == NULL) {
            goto out;
        }
        skip_card(&ps, out, &card);
        n_dropped++;
    }
    if (n_found == 0 && n_dropped == 0) {
        rc = fail(&ps, KITH_EPARSE, 0, "no vCard found");
        goto out;
    }
    rc = KITH_OK;
    if (errbuf != NULL && errcap > 0) {
        errbuf[0] = '\0'; /* a forgiving parse may have left a reported failure there */
    }
out:
    kith_buf_close(&ps.line);
    kith_buf_close(&ps.val[0]);
    kith_buf_close(&ps.val[1]);
    kith_buf_close(&ps.text);
    kith_buf_close(&ps.join);
    kith_buf_close(&ps.fname);
    kith_buf_close(&ps.canon);
    return rc;
}

/* ------------------------------------------------------------------------------ */
/* Writer. */

/*
 * A kept line (a vcard_extra value) as the writer sees it. A mapped one stands for the
 * field values it parses to: it is written in place of the writer's own line for
 * exactly those values, at most once, and not at all when no such values are left (the
 * user edited them). An unmapped one is written as it is, after the rest.
 */
typedef struct {
    const char *text;   /* the line, unfolded */
    const char *name;   /* its property name, without group, in text */
    size_t name_len;    /* octets */
    prop_kind_t kind;   /* how the parser reads it */
    int mapped;         /* 1: stands for fields; 0: written verbatim */
    int usable;         /* 0: cannot be written so that it reads back (left out) */
    int used;           /* written already */
    kith_card_t parsed; /* the fields (and kind) parsing it gives */
} kept_t;

typedef struct {
    kith_buf_t *out;
    kith_buf_t line; /* the logical line being built, before folding */
    size_t n_props;  /* properties written so far (BEGIN and END not counted) */
    kept_t *kept;    /* the card's kept lines, in order */
    size_t n_kept;
} writer_t;

/* Escapes text for a property value; CRLF and lone CR are written as a newline. */
static int
put_escaped(kith_buf_t *b, const char *s)
{
    int rc = KITH_OK;
    for (const char *p = s; *p != '\0' && rc == KITH_OK;) {
        size_t run = strcspn(p, "\\,;\r\n");
        rc = kith_buf_append(b, p, run);
        p += run;
        if (rc != KITH_OK || *p == '\0') {
            break;
        }
        switch (*p) {
        case '\r':
            if (p[1] == '\n') {
                p++;
            }
            /* fall through */
        case '\n':
            rc = kith_buf_append(b, "\\n", 2);
            break;
        default:
            rc = kith_buf_putc(b, '\\');
            if (rc == KITH_OK) {
                rc = kith_buf_putc(b, *p);
            }
            break;
        }
        p++;
    }
    return rc;
}

static int
line_start(writer_t *w, const char *name)
{
    w->line.len = 0;
    return kith_buf_puts(&w->line, name);
}

/* Folds w->line at 75 octets, never inside a UTF-8 sequence nor right after a '=' (a
 * kept QUOTED-PRINTABLE line would read it as a soft line break), and appends it. */
static int
line_end(writer_t *w)
{
    if (w->line.len > KITH_VCARD_MAX_LINE) {
        return KITH_ETOOBIG;
    }
    if (++w->n_props > KITH_CARD_MAX_FIELDS) {
        return KITH_ETOOBIG; /* the parser's limit; BEGIN and END are not counted */
    }
    const uint8_t *s = w->line.data;
    size_t n = w->line.len;
    size_t limit = 75;
    int rc = KITH_OK;
    while (rc == KITH_OK && n > limit) {
        size_t cut = limit;
        while (cut > 0 && (s[cut] & 0xC0) == 0x80) {
            cut--;
        }
        while (cut > 1 && s[cut - 1] == '=') {
            cut--;
        }
        rc = kith_buf_append(w->out, s, cut);
        if (rc == KITH_OK) {
            rc = kith_buf_append(w->out, "\r\n ", 3);
        }
        s += cut;
        n -= cut;
        limit = 74; /* the leading space counts */
    }
    if (rc == KITH_OK) {
        rc = kith_buf_append(w->out, s, n);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_append(w->out, "\r\n", 2);
    }
    return rc;
}

static int
put_raw(writer_t *w, const char *text)
{
    int rc = line_start(w, text);
    if (rc == KITH_OK) {
        rc = line_end(w);
    }
    return rc;
}

/* An unused mapped kept line of property prop (compared up to a ';', without case)
 * that parses to exactly the n fields names[i] = values[i], or NULL. */
static kept_t *
find_kept(writer_t *w, const char *prop, const char *const *names, const char *const *values,
          size_t n)
{
    size_t pl = strcspn(prop, ";");
    for (size_t k = 0; k < w->n_kept; k++) {
        kept_t *kp = &w->kept[k];
        if (!kp->usable || !kp->mapped || kp->used || kp->parsed.n_fields != n ||
            kp->name_len != pl) {
            continue;
        }
        int same = 1;
        for (size_t i = 0; i < pl && same; i++) {
            same = to_lower((unsigned char) kp->name[i]) == to_lower((unsigned char) prop[i]);
        }
        for (size_t i = 0; i < n && same; i++) {
            same = strcmp(kp->parsed.fields[i].name, names[i]) == 0 &&
                   strcmp(kp->parsed.fields[i].value, values[i]) == 0;
        }
        if (same) {
            return kp;
        }
    }
    return NULL;
}

/* Writes the line built in w->line for the n field values names[i] = values[i], or in
 * its place the kept line that stands for them (see kept_t). */
static int
put_unit(writer_t *w, const char *prop, const char *const *names, const char *const *values,
         size_t n)
{
    kept_t *kp = find_kept(w, prop, names, values, n);
    if (kp != NULL) {
        kp->used = 1;
        int rc = line_start(w, kp->text);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    return line_end(w);
}

static int
canon_simple(kith_buf_t *b, const char *prop, const char *value)
{
    b->len = 0;
    int rc = kith_buf_puts(b, prop);
    if (rc == KITH_OK) {
        rc = kith_buf_putc(b, ':');
    }
    if (rc == KITH_OK) {
        rc = put_escaped(b, value);
    }
    return rc;
}

/* N holds one family and one given name: "N:family;given;;;". */
static int
canon_n(kith_buf_t *b, const char *family, const char *given)
{
    b->len = 0;
    int rc = kith_buf_puts(b, "N:");
    if (rc == KITH_OK && family != NULL) {
        rc = put_escaped(b, family);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_putc(b, ';');
    }
    if (rc == KITH_OK && given != NULL) {
        rc = put_escaped(b, given);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_puts(b, ";;;");
    }
    return rc;
}

static int
canon_org(kith_buf_t *b, const char *org, const char *dept)
{
    b->len = 0;
    int rc = kith_buf_puts(b, "ORG:");
    if (rc == KITH_OK && org != NULL) {
        rc = put_escaped(b, org);
    }
    if (rc == KITH_OK && dept != NULL) {
        rc = kith_buf_putc(b, ';');
        if (rc == KITH_OK) {
            rc = put_escaped(b, dept);
        }
    }
    return rc;
}

/* A kith address is free text: it goes in the street component. */
static int
canon_adr(kith_buf_t *b, const char *addr)
{
    b->len = 0;
    int rc = kith_buf_puts(b, "ADR:;;");
    if (rc == KITH_OK) {
        rc = put_escaped(b, addr);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_puts(b, ";;;;");
    }
    return rc;
}

/* Writes value of field as property prop, or the kept line that stands for it. */
static int
put_prop(writer_t *w, const char *prop, const char *field, const char *value)
{
    int rc = canon_simple(&w->line, prop, value);
    if (rc == KITH_OK) {
        rc = put_unit(w, prop, &field, &value, value[0] != '\0');
    }
    return rc;
}

/* The i-th non-empty value of a field, or NULL. */
static const char *
nth_value(const kith_card_t *card, const char *name, size_t i)
{
    for (size_t k = 0; k < card->n_fields; k++) {
        const kith_card_field_t *f = &card->fields[k];
        if (f->value[0] != '\0' && strcmp(f->name, name) == 0 && i-- == 0) {
            return f->value;
        }
    }
    return NULL;
}

/* Writes every non-empty value of field, from the skip-th on, as property prop. */
static int
put_each(writer_t *w, const kith_card_t *card, const char *field, const char *prop, size_t skip)
{
    int rc = KITH_OK;
    for (size_t k = 0; k < card->n_fields && rc == KITH_OK; k++) {
        const kith_card_field_t *f = &card->fields[k];
        if (f->value[0] == '\0' || strcmp(f->name, field) != 0) {
            continue;
        }
        if (skip > 0) {
            skip--;
            continue;
        }
        rc = put_prop(w, prop, field, f->value);
    }
    return rc;
}

/* Fields with their own vCard property. Each value becomes one property. */
static const struct {
    const char *field;
    const char *prop;
} simple_fields[] = {
    {"title", "TITLE"}, {"x-role", "ROLE"}, {"note", "NOTE"},   {"emails", "EMAIL"},
    {"phones", "TEL"},  {"urls", "URL"},    {"x-bday", "BDAY"}, {"x-nickname", "NICKNAME"},
    {"uid", "UID"}, /* the record id as a URN, written by kith export */
};

/* Fields the writer handles specially (structured, derived or kept properties). */
static const char *const special_fields[] = {
    "name", "family", "given", "org", "department", "addresses", "tags", KEPT_FIELD,
};

/* The property a value of field is written as when it has one of its own, or NULL. */
static const char *
field_prop(const char *field)
{
    if (strcmp(field, "name") == 0) {
        return "FN";
    }
    for (size_t i = 0; i < sizeof(simple_fields) / sizeof(simple_fields[0]); i++) {
        if (strcmp(field, simple_fields[i].field) == 0) {
            return simple_fields[i].prop;
        }
    }
    return NULL;
}

static int
is_known_field(const char *name)
{
    if (field_prop(name) != NULL) {
        return 1;
    }
    for (size_t i = 0; i < sizeof(special_fields) / sizeof(special_fields[0]); i++) {
        if (strcmp(name, special_fields[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * The property name (and parameter) for a field with no vCard property, written
 * into b, or KITH_EINVAL if the parser could not map it back to the same field name.
 * "x-foo-bar" becomes X-FOO-BAR. A custom name that an X- name cannot carry, because
 * it holds '_' or because the parser reads it as something else (x-kith-*,
 * x-abshowas), becomes X-KITH-CUSTOM;NAME=x-foo_bar. Both need [a-z0-9_-] in lower
 * case. Other fields need [a-z0-9_]: X-KITH-FOO-BAR reads back as "foo_bar".
 */
static int
custom_prop_name(const char *field, kith_buf_t *b)
{
    size_t n = strlen(field);
    int x = strncmp(field, "x-", 2) == 0;
    b->len = 0;
    if (x) {
        const char *rest = field + 2;
        int plain = strncmp(rest, "kith-", 5) != 0 && strcmp(rest, "abshowas") != 0;
        if (rest[0] == '\0' || n > MAX_NAME) {
            return KITH_EINVAL;
        }
        for (const char *p = rest; *p != '\0'; p++) {
            if (*p == '_') {
                plain = 0;
            } else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
                return KITH_EINVAL;
            }
        }
        if (!plain) {
            int rc = kith_buf_puts(b, "X-KITH-CUSTOM;NAME=");
            return rc == KITH_OK ? kith_buf_puts(b, field) : rc;
        }
    } else {
        if (n == 0) {
            return KITH_EINVAL;
        }
        for (const char *p = field; *p != '\0'; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
                return KITH_EINVAL;
            }
        }
    }
    int rc = kith_buf_puts(b, x ? "X-" : "X-KITH-");
    const char *p = x ? field + 2 : field;
    for (; *p != '\0' && rc == KITH_OK; p++) {
        rc = kith_buf_putc(b, *p == '_' ? '-' : (char) to_upper((unsigned char) *p));
    }
    if (rc == KITH_OK && b->len > MAX_NAME) {
        return KITH_EINVAL;
    }
    return rc;
}

/* The line the writer writes for one value of field as an X- property: extra names
 * (X-KITH-NAME, -FAMILY, -GIVEN) and fields with no property of their own. */
static int
canon_x(kith_buf_t *b, const char *field, const char *value)
{
    kith_buf_t pname;
    kith_buf_init(&pname);
    int rc = KITH_EINVAL;
    if (strcmp(field, "name") == 0 || strcmp(field, "family") == 0 || strcmp(field, "given") == 0) {
        rc = kith_buf_puts(&pname, "X-KITH-");
        for (const char *p = field; *p != '\0' && rc == KITH_OK; p++) {
            rc = kith_buf_putc(&pname, (char) to_upper((unsigned char) *p));
        }
    } else if (!is_known_field(field)) {
        rc = custom_prop_name(field, &pname);
    }
    if (rc == KITH_OK) {
        rc = canon_simple(b, (const char *) pname.data, value);
    }
    kith_buf_close(&pname);
    return rc;
}

/*
 * Reads the card's kept lines into w->kept: how each parses, and whether it can be
 * written at all. Left out: a line that could not be read back (no property syntax, a
 * CR or LF, too long, more than KEPT_MAX or KITH_VCARD_KEPT_MAX_TOTAL octets of lines, a
 * value the strict parse refuses) and the
 * lines kith writes itself (BEGIN, END, VERSION, PRODID, REV, UID), which a vcard_extra
 * item received from elsewhere might hold.
 */
static int
read_kept(writer_t *w, const kith_card_t *card)
{
    size_t n = 0;
    for (size_t k = 0; k < card->n_fields; k++) {
        n += strcmp(card->fields[k].name, KEPT_FIELD) == 0;
    }
    if (n == 0) {
        return KITH_OK;
    }
    w->kept = calloc(n, sizeof(*w->kept));
    if (w->kept == NULL) {
        return KITH_ENOMEM;
    }
    parser_t ps;
    memset(&ps, 0, sizeof(ps));
    kith_buf_init(&ps.line);
    kith_buf_init(&ps.val[0]);
    kith_buf_init(&ps.val[1]);
    kith_buf_init(&ps.text);
    kith_buf_init(&ps.join);
    kith_buf_init(&ps.fname);
    kith_buf_init(&ps.canon);
    int rc = KITH_OK;
    size_t total = 0; /* octets of the lines kept so far, as the parser counts them */
    for (size_t k = 0; k < card->n_fields && rc == KITH_OK; k++) {
        const char *text = card->fields[k].value;
        if (strcmp(card->fields[k].name, KEPT_FIELD) != 0) {
            continue;
        }
        kept_t *kp = &w->kept[w->n_kept++];
        kith_card_init(&kp->parsed);
        kp->text = text;
        size_t len = strlen(text);
        prop_t pr;
        const char *why;
        if (w->n_kept > KEPT_MAX || len > KEPT_MAX_LEN || len > KITH_VCARD_KEPT_MAX_TOTAL - total ||
            !line_storable(text, len) || split_prop(text, len, &pr, &why) != KITH_OK ||
            never_kept(pr.name, pr.name_len)) {
            continue;
        }
        kp->name = pr.name;
        kp->name_len = pr.name_len;
        rc = handle_prop(&ps, &kp->parsed, &pr, &kp->kind);
        if (rc == KITH_ENOMEM) {
            break;
        }
        if (rc != KITH_OK || kp->kind == P_VERSION) {
            rc = KITH_OK;
            continue;
        }
        kp->usable = 1;
        total += len;
        kp->mapped = kp->kind != P_IGNORE && !pr.b64 && !pr.other_enc &&
                     (kp->parsed.n_fields > 0 || kp->kind == P_N || kp->kind == P_KIND ||
                      kp->kind == P_SHOWAS);
    }
    kith_buf_close(&ps.line);
    kith_buf_close(&ps.val[0]);
    kith_buf_close(&ps.val[1]);
    kith_buf_close(&ps.text);
    kith_buf_close(&ps.join);
    kith_buf_close(&ps.fname);
    kith_buf_close(&ps.canon);
    return rc;
}

static void
free_kept(writer_t *w)
{
    for (size_t k = 0; k < w->n_kept; k++) {
        kith_card_close(&w->kept[k].parsed);
    }
    free(w->kept);
}

/* KIND and X-ABSHOWAS: a kept line is written when it gives the card's kind (KIND:group
 * on a person, X-ABShowAs:COMPANY on an org); kith's own only for an org none spoke for. */
static int
write_kind(writer_t *w, const kith_card_t *card, int version)
{
    int said = 0, rc = KITH_OK;
    for (size_t k = 0; k < w->n_kept && rc == KITH_OK; k++) {
        kept_t *kp = &w->kept[k];
        if (kp->usable && kp->mapped && !kp->used && (kp->kind == P_KIND || kp->kind == P_SHOWAS) &&
            kp->parsed.kind == card->kind) {
            kp->used = 1;
            said |= card->kind == KITH_CARD_ORG;
            rc = put_raw(w, kp->text);
        }
    }
    if (rc == KITH_OK && card->kind == KITH_CARD_ORG && !said) {
        rc = put_raw(w, version == 4 ? "KIND:org" : "X-ABSHOWAS:COMPANY");
    }
    return rc;
}

static int
write_structured(writer_t *w, const kith_card_t *card, int version)
{
    /* N holds one family and one given name; further ones go to X-KITH-. Version 4
     * makes N optional: it is left out when it would be empty, unless a kept N with no
     * name stands for it. */
    const char *family = nth_value(card, "family", 0);
    const char *given = nth_value(card, "given", 0);
    const char *names[2], *values[2];
    size_t n = 0;
    if (family != NULL) {
        names[n] = "family";
        values[n++] = family;
    }
    if (given != NULL) {
        names[n] = "given";
        values[n++] = given;
    }
    int rc = canon_n(&w->line, family, given);
    if (rc == KITH_OK && (version == 3 || n > 0 || find_kept(w, "N", names, values, n) != NULL)) {
        rc = put_unit(w, "N", names, values, n);
    }
    /* ORG may repeat: the i-th one carries the i-th org and the i-th department. */
    for (size_t i = 0; rc == KITH_OK; i++) {
        const char *org = nth_value(card, "org", i);
        const char *dept = nth_value(card, "department", i);
        if (org == NULL && dept == NULL) {
            break;
        }
        n = 0;
        if (org != NULL) {
            names[n] = "org";
            values[n++] = org;
        }
        if (dept != NULL) {
            names[n] = "department";
            values[n++] = dept;
        }
        rc = canon_org(&w->line, org, dept);
        if (rc == KITH_OK) {
            rc = put_unit(w, "ORG", names, values, n);
        }
    }
    return rc;
}

/* A kept CATEGORIES line whose tags are the next unwritten tags of the card, in order,
 * from field index from on (done marks the tags written); NULL if none. */
static kept_t *
find_categories(writer_t *w, const kith_card_t *card, const unsigned char *done, size_t from)
{
    for (size_t k = 0; k < w->n_kept; k++) {
        kept_t *kp = &w->kept[k];
        if (!kp->usable || !kp->mapped || kp->used || kp->kind != P_CATEGORIES) {
            continue;
        }
        size_t t = 0;
        for (size_t j = from; j < card->n_fields && t < kp->parsed.n_fields; j++) {
            const kith_card_field_t *f = &card->fields[j];
            if (done[j] || f->value[0] == '\0' || strcmp(f->name, "tags") != 0) {
                continue;
            }
            if (strcmp(f->value, kp->parsed.fields[t].value) != 0) {
                break;
            }
            t++;
        }
        if (t > 0 && t == kp->parsed.n_fields) {
            return kp;
        }
    }
    return NULL;
}

/* Tags share CATEGORIES lines, a new line every CATEGORIES_CHUNK octets so that many
 * long tags never exceed the parser's line limit. A run of tags a kept line stands for
 * is written as that line, in its place in the order. */
static int
write_tags(writer_t *w, const kith_card_t *card)
{
    unsigned char *done = calloc(card->n_fields + 1, 1);
    if (done == NULL) {
        return KITH_ENOMEM;
    }
    int open = 0, rc = KITH_OK;
    for (size_t k = 0; k < card->n_fields && rc == KITH_OK; k++) {
        const kith_card_field_t *f = &card->fields[k];
        if (done[k] || f->value[0] == '\0' || strcmp(f->name, "tags") != 0) {
            continue;
        }
        kept_t *kp = find_categories(w, card, done, k);
        if (kp != NULL) {
            if (open) {
                rc = line_end(w);
                open = 0;
            }
            size_t t = 0;
            for (size_t j = k; j < card->n_fields && t < kp->parsed.n_fields; j++) {
                if (!done[j] && card->fields[j].value[0] != '\0' &&
                    strcmp(card->fields[j].name, "tags") == 0) {
                    done[j] = 1;
                    t++;
                }
            }
            kp->used = 1;
            if (rc == KITH_OK) {
                rc = put_raw(w, kp->text);
            }
            continue;
        }
        done[k] = 1;
        if (open && w->line.len > CATEGORIES_CHUNK) {
            rc = line_end(w);
            open = 0;
        }
        if (rc == KITH_OK) {
            rc = open ? kith_buf_putc(&w->line, ',') : line_start(w, "CATEGORIES:");
            open = 1;
        }
        if (rc == KITH_OK) {
            rc = put_escaped(&w->line, f->value);
        }
    }
    if (rc == KITH_OK && open) {
        rc = line_end(w);
    }
    free(done);
    return rc;
}

static int
write_lists(writer_t *w, const kith_card_t *card)
{
    int rc = KITH_OK;
    for (size_t i = 0; i < sizeof(simple_fields) / sizeof(simple_fields[0]) && rc == KITH_OK; i++) {
        rc = put_each(w, card, simple_fields[i].field, simple_fields[i].prop, 0);
    }
    for (size_t k = 0; k < card->n_fields && rc == KITH_OK; k++) {
        const kith_card_field_t *f = &card->fields[k];
        if (f->value[0] == '\0' || strcmp(f->name, "addresses") != 0) {
            continue;
        }
        const char *name = "addresses", *value = f->value;
        rc = canon_adr(&w->line, value);
        if (rc == KITH_OK) {
            rc = put_unit(w, "ADR", &name, &value, 1);
        }
    }
    if (rc == KITH_OK) {
        rc = write_tags(w, card);
    }
    return rc;
}

int
kith_vcard_write(const kith_card_t *card, int version, kith_buf_t *out)
{
    writer_t w;
    memset(&w, 0, sizeof(w));
    w.out = out;
    kith_buf_init(&w.line);
    kith_buf_t pname;
    kith_buf_init(&pname);
    int rc = KITH_OK;

    if (card == NULL || out == NULL || (version != 3 && version != 4)) {
        rc = KITH_EINVAL;
        goto out;
    }
    /* Refuse up front what could not be read back, so no partial vCard is emitted
     * for a bad card. */
    for (size_t k = 0; k < card->n_fields; k++) {
        const kith_card_field_t *f = &card->fields[k];
        if (!utf8_valid(f->value, strlen(f->value))) {
            rc = KITH_EINVAL;
            goto out;
        }
        if (!is_known_field(f->name) && (rc = custom_prop_name(f->name, &pname)) != KITH_OK) {
            goto out;
        }
    }
    if ((rc = read_kept(&w, card)) != KITH_OK) {
        goto out;
    }

    if ((rc = kith_buf_puts(out, "BEGIN:VCARD\r\n")) != KITH_OK ||
        (rc = put_raw(&w, version == 4 ? "VERSION:4.0" : "VERSION:3.0")) != KITH_OK ||
        (rc = write_kind(&w, card, version)) != KITH_OK) {
        goto out;
    }
    /* FN is required; a card without a name gets an empty one. */
    const char *name = nth_value(card, "name", 0);
    if ((rc = put_prop(&w, "FN", "name", name != NULL ? name : "")) != KITH_OK ||
        (rc = write_structured(&w, card, version)) != KITH_OK ||
        (rc = write_lists(&w, card)) != KITH_OK ||
        (rc = put_each(&w, card, "name", "X-KITH-NAME", 1)) != KITH_OK ||
        (rc = put_each(&w, card, "family", "X-KITH-FAMILY", 1)) != KITH_OK ||
        (rc = put_each(&w, card, "given", "X-KITH-GIVEN", 1)) != KITH_OK) {
        goto out;
    }
    for (size_t k = 0; k < card->n_fields; k++) {
        const kith_card_field_t *f = &card->fields[k];
        if (f->value[0] == '\0' || is_known_field(f->name)) {
            continue;
        }
        if ((rc = custom_prop_name(f->name, &pname)) != KITH_OK ||
            (rc = put_prop(&w, (const char *) pname.data, f->name, f->value)) != KITH_OK) {
            goto out;
        }
    }
    /* Lines kith has no field for, as they were read. */
    for (size_t k = 0; k < w.n_kept; k++) {
        if (w.kept[k].usable && !w.kept[k].mapped &&
            (rc = put_raw(&w, w.kept[k].text)) != KITH_OK) {
            goto out;
        }
    }
    rc = kith_buf_puts(out, "END:VCARD\r\n");
out:
    free_kept(&w);
    kith_buf_close(&w.line);
    kith_buf_close(&pname);
    return rc;
}
