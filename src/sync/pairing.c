/*
 * The pairing exchange (proto/PAIRING.md): CPace on the short code, key confirmation,
 * then each side's name and Ed25519 key sealed under a key derived from the CPace ISK.
 *
 * The state machine has one row per role:
 *
 *     joiner: NEW --start/m1--> WAIT2 --m2/m3--> WAIT4 --m4--> DONE
 *     host:   WAIT1 --m1/m2--> WAIT3 --m3/m4--> DONE
 *
 * and every failure leads to DEAD, which wipes every secret. Identities travel only in
 * messages 3 and 4, after the receiver of each has checked the sender's confirmation
 * tag, so a wrong code (or an attacker's guess) ends the exchange before either name or
 * key leaves its node, and the only thing a wrong guess teaches is "wrong".
 *
 * Decoding is strict: a message must be at most KITH_PAIRING_MSG_MAX bytes, pass
 * kith_mpcheck() before msgpack-c sees it, hold exactly the expected fields with the
 * expected types and sizes, and be byte-for-byte what this module's own encoder
 * produces for those values (one valid encoding per message: no reordered keys, no
 * longer integer or length forms).
 *
 * Secrets: the code (as PRS), the CPace state, ISK and the sealing key live in the
 * sodium_malloc'd state and are wiped as soon as they are no longer needed; plaintexts
 * and tags on the stack are wiped on every path.
 */
#include "sync/pairing.h"

#include <stdio.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "crypto/cpace.h"
#include "kith/error.h"
#include "sync/wordlist.h"
#include "util/mpcheck.h"

#define CI_LABEL       "kith-pair-v1"           /* CI = lv_cat(CI_LABEL, channel byte) */
#define CI_LEN         (1 + 12 + 1 + 1)         /* bytes of that CI */
#define PRS_LEN        (KITH_PAIRING_WORDS + 1) /* word indices, then the channel */
#define AD_JOINER      "initiator"              /* CPace ADa */
#define AD_HOST        "responder"              /* CPace ADb */
#define CONFIRM_HOST   "host-confirm"           /* HMAC input of confirm_b */
#define CONFIRM_JOINER "joiner-confirm"         /* HMAC input of confirm_a */
#define SEAL_KDF       "kith-pair-v1 seal"      /* BLAKE2b input deriving the sealing key */
#define SEAL_AD        "kith-pair-v1"           /* AEAD associated data of sealed_a / sealed_b */
#define DIR_JOINER     1                        /* first nonce byte of sealed_a */
#define DIR_HOST       2                        /* first nonce byte of sealed_b */

#define TAG_LEN   crypto_auth_hmacsha512256_BYTES             /* 32 */
#define SKEY_LEN  crypto_aead_xchacha20poly1305_ietf_KEYBYTES /* 32 */
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define AEAD_TAG  crypto_aead_xchacha20poly1305_ietf_ABYTES

/* Identity plaintext {"name": str, "key": bin 32}: map, 2 keys, str header, bin header. */
#define PT_MIN (1 + 5 + 1 + 1 + 4 + 2 + KITH_PAIRING_KEY_LEN)
#define PT_MAX (1 + 5 + 2 + KITH_PAIRING_NAME_MAX + 4 + 2 + KITH_PAIRING_KEY_LEN)
#define CT_MIN (PT_MIN + AEAD_TAG)
#define CT_MAX (PT_MAX + AEAD_TAG)

enum {
    ST_JOIN_NEW = 1,
    ST_JOIN_WAIT2,
    ST_JOIN_WAIT4,
    ST_HOST_WAIT1,
    ST_HOST_WAIT3,
    ST_DONE,
    ST_DEAD
};

struct kith_pairing {
    int role;                                   /* KITH_PAIRING_HOST or _JOINER */
    int state;                                  /* ST_* */
    int channel;                                /* 1..99 */
    uint8_t prs[PRS_LEN];                       /* the code; wiped once CPace starts */
    char self_name[KITH_PAIRING_NAME_MAX + 1];  /* NUL-terminated */
    size_t self_name_len;                       /* bytes, without the NUL */
    uint8_t self_pk[KITH_PAIRING_KEY_LEN];      /* our Ed25519 public key */
    char peer_name[KITH_PAIRING_NAME_MAX + 1];  /* valid in ST_DONE */
    uint8_t peer_pk[KITH_PAIRING_KEY_LEN];      /* valid in ST_DONE */
    kith_cpace_t *cpace;                        /* joiner: from start until message 2 */
    uint8_t isk[KITH_CPACE_ISK_LEN];            /* CPace ISK, until done */
    uint8_t seal_key[SKEY_LEN];                 /* derived from isk, until done */
    uint8_t test_scalar[KITH_CPACE_SCALAR_LEN]; /* kith__pairing_set_secrets */
    int has_test_scalar;                        /* test_scalar is set */
    uint8_t test_sid[KITH_PAIRING_SID_LEN];     /* kith__pairing_set_secrets, joiner */
    int has_test_sid;                           /* test_sid is set */
};

/* ======================================================= codes */

int
kith_pairing_code_format(int channel, const uint8_t words[static KITH_PAIRING_WORDS],
                         char out[static KITH_PAIRING_CODE_MAX])
{
    if (out == NULL || words == NULL || channel < KITH_PAIRING_CHANNEL_MIN ||
        channel > KITH_PAIRING_CHANNEL_MAX) {
        return KITH_EINVAL;
    }
    int n = snprintf(out, KITH_PAIRING_CODE_MAX, "%d-%s-%s-%s", channel, kith_wordlist[words[0]],
                     kith_wordlist[words[1]], kith_wordlist[words[2]]);
    return n > 0 && n < KITH_PAIRING_CODE_MAX ? KITH_OK : KITH_EINVAL;
}

int
kith_pairing_code_new(char out[static KITH_PAIRING_CODE_MAX])
{
    uint8_t words[KITH_PAIRING_WORDS];
    int channel, rc;

    if (out == NULL) {
        return KITH_EINVAL;
    }
    channel = KITH_PAIRING_CHANNEL_MIN +
              (int) randombytes_uniform(KITH_PAIRING_CHANNEL_MAX - KITH_PAIRING_CHANNEL_MIN + 1);
    for (int i = 0; i < KITH_PAIRING_WORDS; i++) {
        words[i] = (uint8_t) randombytes_uniform(KITH_WORDLIST_LEN);
    }
    rc = kith_pairing_code_format(channel, words, out);
    sodium_memzero(words, sizeof(words));
    return rc;
}

typedef struct {
    const char *p; /* first byte of the part */
    size_t len;    /* bytes */
} part_t;

/* Splits text at runs of '-' and whitespace into exactly 1 + KITH_PAIRING_WORDS parts.
 * Returns 0, or -1 for too long a text or another number of parts. */
static int
split_code(const char *text, part_t parts[static KITH_PAIRING_WORDS + 1])
{
    size_t len = strnlen(text, KITH_PAIRING_CODE_TEXT_MAX + 1), n = 0, i = 0;

    if (len > KITH_PAIRING_CODE_TEXT_MAX) {
        return -1;
    }
    while (i < len) {
        if (strchr("- \t\r\n", text[i]) != NULL) {
            i++;
            continue;
        }
        if (n == KITH_PAIRING_WORDS + 1) {
            return -1;
        }
        parts[n].p = text + i;
        while (i < len && strchr("- \t\r\n", text[i]) == NULL) {
            i++;
        }
        parts[n].len = (size_t) (text + i - parts[n].p);
        n++;
    }
    return n == KITH_PAIRING_WORDS + 1 ? 0 : -1;
}

/* The channel part: one or two ASCII digits, 1..99. Returns it, or -1. */
static int
parse_channel(const part_t *part)
{
    int v = 0;

    if (part->len < 1 || part->len > 2) {
        return -1;
    }
    for (size_t i = 0; i < part->len; i++) {
        if (part->p[i] < '0' || part->p[i] > '9') {
            return -1;
        }
        v = v * 10 + (part->p[i] - '0');
    }
    return v >= KITH_PAIRING_CHANNEL_MIN && v <= KITH_PAIRING_CHANNEL_MAX ? v : -1;
}

int
kith_pairing_code_parse(const char *text, int *channel, uint8_t words[static KITH_PAIRING_WORDS])
{
    part_t parts[KITH_PAIRING_WORDS + 1];
    int ch;

    if (channel != NULL) {
        *channel = 0;
    }
    if (words != NULL) {
        memset(words, 0, KITH_PAIRING_WORDS);
    }
    if (text == NULL || channel == NULL || words == NULL) {
        return KITH_EINVAL;
    }
    if (split_code(text, parts) != 0 || (ch = parse_channel(&parts[0])) < 0) {
        return KITH_EPARSE;
    }
    for (int i = 0; i < KITH_PAIRING_WORDS; i++) {
        int w = kith_wordlist_find(parts[i + 1].p, parts[i + 1].len);
        if (w < 0) {
            sodium_memzero(words, KITH_PAIRING_WORDS);
            return KITH_EPARSE;
        }
        words[i] = (uint8_t) w;
    }
    *channel = ch;
    return KITH_OK;
}

int
kith_pairing_code_suggest(const char *text, char out[static KITH_PAIRING_CODE_MAX])
{
    part_t parts[KITH_PAIRING_WORDS + 1];
    uint8_t words[KITH_PAIRING_WORDS];
    int ch, rc = KITH_EPARSE;

    if (text == NULL || out == NULL) {
        return KITH_EINVAL;
    }
    out[0] = '\0';
    if (split_code(text, parts) != 0 || (ch = parse_channel(&parts[0])) < 0) {
        return KITH_EPARSE;
    }
    for (int i = 0; i < KITH_PAIRING_WORDS; i++) {
        int w = kith_wordlist_closest(parts[i + 1].p, parts[i + 1].len);
        if (w < 0) {
            goto out;
        }
        words[i] = (uint8_t) w;
    }
    rc = kith_pairing_code_format(ch, words, out);
out:
    sodium_memzero(words, sizeof(words));
    return rc;
}

/* ======================================================= validation */

/* 1..KITH_PAIRING_NAME_MAX bytes of well-formed UTF-8 without C0, DEL or C1 controls. */
static int
name_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;

    if (n < 1 || n > KITH_PAIRING_NAME_MAX) {
        return 0;
    }
    while (i < n) {
        uint32_t c = s[i], min;
        size_t k;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                return 0;
            }
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            k = 1, c &= 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, c &= 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, c &= 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (k > n - i - 1) {
            return 0;
        }
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) {
                return 0;
            }
            c = (c << 6) | (s[i + j] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || c <= 0x9f) {
            return 0; /* overlong, out of range, surrogate, or a C1 control */
        }
        i += k + 1;
    }
    return 1;
}

static int
key_ok(const uint8_t pk[static KITH_PAIRING_KEY_LEN])
{
    return crypto_core_ed25519_is_valid_point(pk) == 1;
}

/* ======================================================= encoding */

/* A msgpack-c write sink into a fixed array; overflow is remembered, not written. */
typedef struct {
    uint8_t *p; /* the array */
    size_t cap; /* bytes in it */
    size_t len; /* bytes written */
    int err;    /* set on overflow */
} fixbuf_t;

static int
fixbuf_write(void *data, const char *buf, size_t len)
{
    fixbuf_t *b = data;
    if (b->err || len > b->cap - b->len) {
        b->err = 1;
        return -1;
    }
    memcpy(b->p + b->len, buf, len);
    b->len += len;
    return 0;
}

static void
pack_key(msgpack_packer *pk, const char *key)
{
    size_t n = strlen(key);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, key, n);
}

static void
pack_bin(msgpack_packer *pk, const char *key, const uint8_t *v, size_t n)
{
    pack_key(pk, key);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, v, n);
}

/* Message 1: {"v": 1, "sid": bin 16, "Ya": bin 32}. */
static void
enc_m1(fixbuf_t *b, const uint8_t *sid, const uint8_t *ya)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, fixbuf_write);
    msgpack_pack_map(&pk, 3);
    pack_key(&pk, "v");
    msgpack_pack_uint8(&pk, KITH_PAIRING_VERSION);
    pack_bin(&pk, "sid", sid, KITH_PAIRING_SID_LEN);
    pack_bin(&pk, "Ya", ya, KITH_CPACE_SHARE_LEN);
}

/* Message 2: {"v": 1, "Yb": bin 32, "confirm_b": bin 32}. */
static void
enc_m2(fixbuf_t *b, const uint8_t *yb, const uint8_t *confirm_b)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, fixbuf_write);
    msgpack_pack_map(&pk, 3);
    pack_key(&pk, "v");
    msgpack_pack_uint8(&pk, KITH_PAIRING_VERSION);
    pack_bin(&pk, "Yb", yb, KITH_CPACE_SHARE_LEN);
    pack_bin(&pk, "confirm_b", confirm_b, TAG_LEN);
}

/* Message 3: {"confirm_a": bin 32, "sealed_a": bin}. */
static void
enc_m3(fixbuf_t *b, const uint8_t *confirm_a, const uint8_t *sealed, size_t sealed_len)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, fixbuf_write);
    msgpack_pack_map(&pk, 2);
    pack_bin(&pk, "confirm_a", confirm_a, TAG_LEN);
    pack_bin(&pk, "sealed_a", sealed, sealed_len);
}

/* Message 4: {"sealed_b": bin}. */
static void
enc_m4(fixbuf_t *b, const uint8_t *sealed, size_t sealed_len)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, fixbuf_write);
    msgpack_pack_map(&pk, 1);
    pack_bin(&pk, "sealed_b", sealed, sealed_len);
}

/* Sealed plaintext: {"name": str, "key": bin 32}. */
static void
enc_identity(fixbuf_t *b, const char *name, size_t name_len, const uint8_t *key)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, fixbuf_write);
    msgpack_pack_map(&pk, 2);
    pack_key(&pk, "name");
    msgpack_pack_str(&pk, name_len);
    msgpack_pack_str_body(&pk, name, name_len);
    pack_bin(&pk, "key", key, KITH_PAIRING_KEY_LEN);
}

/* ======================================================= decoding */

enum { F_UINT = 1, F_BIN, F_STR };

typedef struct {
    const char *key; /* field name */
    int type;        /* F_* */
    size_t min, max; /* F_BIN, F_STR: allowed length in bytes */
    uint8_t *out;    /* F_BIN, F_STR: receives the bytes (room for max) */
    size_t len;      /* F_BIN, F_STR: bytes received */
    uint64_t u;      /* F_UINT: the value */
    int seen;        /* set once found */
} field_t;

/*
 * Decodes a map holding exactly the n fields. With versioned, a "v" other than
 * KITH_PAIRING_VERSION is reported as KITH_EVERSION before anything else is looked at,
 * since another version may change every other field. Returns KITH_OK, KITH_EVERSION or
 * KITH_EPROTO. Values are copied out; nothing points into msgpack-c's zone afterwards.
 */
static int
decode_map(const uint8_t *msg, size_t len, field_t *f, size_t n, int versioned)
{
    msgpack_unpacked u;
    size_t off = 0;
    int rc = KITH_EPROTO;

    if (len == 0 || len > KITH_PAIRING_MSG_MAX || kith_mpcheck(msg, len, 1) != KITH_OK) {
        return KITH_EPROTO;
    }
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, (const char *) msg, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len || u.data.type != MSGPACK_OBJECT_MAP) {
        goto out;
    }
    const msgpack_object_map *map = &u.data.via.map;
    if (versioned) {
        for (uint32_t i = 0; i < map->size; i++) {
            const msgpack_object *k = &map->ptr[i].key, *v = &map->ptr[i].val;
            if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 1 && k->via.str.ptr[0] == 'v') {
                if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                    goto out;
                }
                if (v->via.u64 != KITH_PAIRING_VERSION) {
                    rc = KITH_EVERSION;
                    goto out;
                }
            }
        }
    }
    if (map->size != n) {
        goto out;
    }
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key, *v = &map->ptr[i].val;
        field_t *fd = NULL;
        if (k->type != MSGPACK_OBJECT_STR) {
            goto out;
        }
        for (size_t j = 0; j < n; j++) {
            if (k->via.str.size == strlen(f[j].key) &&
                memcmp(k->via.str.ptr, f[j].key, k->via.str.size) == 0) {
                fd = &f[j];
            }
        }
        if (fd == NULL || fd->seen) {
            goto out; /* unknown or repeated key */
        }
        fd->seen = 1;
        if (fd->type == F_UINT) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                goto out;
            }
            fd->u = v->via.u64;
            continue;
        }
        const char *ptr;
        size_t size;
        if (fd->type == F_BIN && v->type == MSGPACK_OBJECT_BIN) {
            ptr = v->via.bin.ptr, size = v->via.bin.size;
        } else if (fd->type == F_STR && v->type == MSGPACK_OBJECT_STR) {
            ptr = v->via.str.ptr, size = v->via.str.size;
        } else {
            goto out;
        }
        if (size < fd->min || size > fd->max) {
            goto out;
        }
        memcpy(fd->out, ptr, size);
        fd->len = size;
    }
    rc = KITH_OK; /* n distinct known keys in a map of n entries: every field was seen */
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* The canonical-form check: msg must be exactly what our encoder wrote into b. */
static int
same_encoding(const fixbuf_t *b, const uint8_t *msg, size_t len)
{
    return !b->err && b->len == len && memcmp(b->p, msg, len) == 0;
}

/* ======================================================= crypto helpers */

/* confirm = HMAC-SHA-512/256(key = ISK, label). */
static int
confirm_tag(const uint8_t isk[static KITH_CPACE_ISK_LEN], const char *label,
            uint8_t tag[static TAG_LEN])
{
    crypto_auth_hmacsha512256_state st;
    int rc = KITH_ECRYPTO;

    if (crypto_auth_hmacsha512256_init(&st, isk, KITH_CPACE_ISK_LEN) == 0 &&
        crypto_auth_hmacsha512256_update(&st, (const uint8_t *) label, strlen(label)) == 0 &&
        crypto_auth_hmacsha512256_final(&st, tag) == 0) {
        rc = KITH_OK;
    }
    sodium_memzero(&st, sizeof(st));
    return rc;
}

/* seal_key = BLAKE2b-256(key = ISK, SEAL_KDF). */
static int
derive_seal_key(kith_pairing_t *p)
{
    if (crypto_generichash(p->seal_key, SKEY_LEN, (const uint8_t *) SEAL_KDF, strlen(SEAL_KDF),
                           p->isk, KITH_CPACE_ISK_LEN) != 0) {
        return KITH_ECRYPTO;
    }
    return KITH_OK;
}

static void
make_nonce(uint8_t nonce[static NONCE_LEN], uint8_t dir)
{
    memset(nonce, 0, NONCE_LEN);
    nonce[0] = dir;
}

/* Seals our identity into ct (CT_MAX bytes); *ct_len gets the length. */
static int
seal_self(const kith_pairing_t *p, uint8_t dir, uint8_t ct[static CT_MAX], size_t *ct_len)
{
    uint8_t pt[PT_MAX], nonce[NONCE_LEN];
    fixbuf_t b = {pt, sizeof(pt), 0, 0};
    unsigned long long clen = 0;
    int rc = KITH_ECRYPTO;

    enc_identity(&b, p->self_name, p->self_name_len, p->self_pk);
    if (b.err) {
        rc = KITH_EINVAL; /* cannot happen: name and key were checked in new */
        goto out;
    }
    make_nonce(nonce, dir);
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, pt, b.len, (const uint8_t *) SEAL_AD,
                                                   strlen(SEAL_AD), NULL, nonce,
                                                   p->seal_key) != 0) {
        goto out;
    }
    *ct_len = (size_t) clen;
    rc = KITH_OK;
out:
    sodium_memzero(pt, sizeof(pt));
    return rc;
}

/* Opens the peer's sealed identity and, if it is well formed, records it. Returns
 * KITH_OK, KITH_ECRYPTO (forged or corrupted) or KITH_EPROTO (bad content). */
static int
open_peer(kith_pairing_t *p, uint8_t dir, const uint8_t *ct, size_t ct_len)
{
    uint8_t pt[CT_MAX], nonce[NONCE_LEN], name[KITH_PAIRING_NAME_MAX], key[KITH_PAIRING_KEY_LEN];
    uint8_t re[PT_MAX];
    fixbuf_t b = {re, sizeof(re), 0, 0};
    unsigned long long plen = 0;
    int rc = KITH_ECRYPTO;

    make_nonce(nonce, dir);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &plen, NULL, ct, ct_len,
                                                   (const uint8_t *) SEAL_AD, strlen(SEAL_AD),
                                                   nonce, p->seal_key) != 0) {
        goto out;
    }
    field_t f[] = {
        {"name", F_STR, 1, KITH_PAIRING_NAME_MAX, name, 0, 0, 0},
        {"key", F_BIN, KITH_PAIRING_KEY_LEN, KITH_PAIRING_KEY_LEN, key, 0, 0, 0},
    };
    if ((rc = decode_map(pt, (size_t) plen, f, 2, 0)) != KITH_OK) {
        rc = KITH_EPROTO;
        goto out;
    }
    rc = KITH_EPROTO;
    enc_identity(&b, (const char *) name, f[0].len, key);
    if (!same_encoding(&b, pt, (size_t) plen) || !name_ok(name, f[0].len) || !key_ok(key)) {
        goto out;
    }
    memcpy(p->peer_name, name, f[0].len);
    p->peer_name[f[0].len] = '\0';
    memcpy(p->peer_pk, key, sizeof(key));
    rc = KITH_OK;
out:
    sodium_memzero(pt, sizeof(pt));
    sodium_memzero(re, sizeof(re));
    sodium_memzero(name, sizeof(name));
    return rc;
}

/* CI = lv_cat(CI_LABEL, channel byte); the lengths (12, 1) fit in one LEB128 byte. */
static void
make_ci(int channel, uint8_t ci[static CI_LEN])
{
    ci[0] = (uint8_t) strlen(CI_LABEL);
    memcpy(ci + 1, CI_LABEL, strlen(CI_LABEL));
    ci[13] = 1;
    ci[14] = (uint8_t) channel;
}

/* Starts CPace for our side with the given sid and wipes the code: it is not needed
 * again. share receives our Ya or Yb. */
static int
start_cpace(kith_pairing_t *p, const uint8_t sid[static KITH_PAIRING_SID_LEN],
            uint8_t share[static KITH_CPACE_SHARE_LEN])
{
    uint8_t ci[CI_LEN];
    const char *ad = p->role == KITH_PAIRING_JOINER ? AD_JOINER : AD_HOST;
    int rc;

    make_ci(p->channel, ci);
    rc = kith_cpace_start(&p->cpace, p->prs, PRS_LEN, ci, CI_LEN, sid, KITH_PAIRING_SID_LEN,
                          (const uint8_t *) ad, strlen(ad), share);
    sodium_memzero(p->prs, sizeof(p->prs));
    if (rc == KITH_OK && p->has_test_scalar) {
        rc = kith__cpace_set_scalar(p->cpace, p->test_scalar, share);
    }
    sodium_memzero(p->test_scalar, sizeof(p->test_scalar));
    return rc;
}

/* Finishes CPace with the peer's share and derives the sealing key. An invalid share
 * (bad encoding, identity) is a malformed message. */
static int
finish_cpace(kith_pairing_t *p, const uint8_t peer_share[static KITH_CPACE_SHARE_LEN])
{
    int joiner = p->role == KITH_PAIRING_JOINER;
    const char *peer_ad = joiner ? AD_HOST : AD_JOINER;
    int rc = kith_cpace_finish(p->cpace, joiner, peer_share, (const uint8_t *) peer_ad,
                               strlen(peer_ad), p->isk);

    kith_cpace_free(p->cpace);
    p->cpace = NULL;
    if (rc == KITH_ECRYPTO) {
        return KITH_EPROTO;
    }
    return rc != KITH_OK ? rc : derive_seal_key(p);
}

/* ======================================================= the state machine */

/* Wipes every secret; the identity learned (if any) is kept only in ST_DONE. */
static void
wipe_session(kith_pairing_t *p)
{
    kith_cpace_free(p->cpace);
    p->cpace = NULL;
    sodium_memzero(p->prs, sizeof(p->prs));
    sodium_memzero(p->isk, sizeof(p->isk));
    sodium_memzero(p->seal_key, sizeof(p->seal_key));
    sodium_memzero(p->test_scalar, sizeof(p->test_scalar));
    p->has_test_scalar = 0;
}

static void
die(kith_pairing_t *p)
{
    wipe_session(p);
    sodium_memzero(p->peer_name, sizeof(p->peer_name));
    sodium_memzero(p->peer_pk, sizeof(p->peer_pk));
    p->state = ST_DEAD;
}

static void
out_reset(kith_buf_t *out)
{
    out->len = 0;
    if (out->data != NULL) {
        out->data[0] = '\0';
    }
}

/* Joiner: message 1. */
static int
joiner_start(kith_pairing_t *p, fixbuf_t *b)
{
    uint8_t sid[KITH_PAIRING_SID_LEN], ya[KITH_CPACE_SHARE_LEN];
    int rc;

    if (p->has_test_sid) {
        memcpy(sid, p->test_sid, sizeof(sid));
    } else {
        randombytes_buf(sid, sizeof(sid));
    }
    if ((rc = start_cpace(p, sid, ya)) != KITH_OK) {
        return rc;
    }
    enc_m1(b, sid, ya);
    p->state = ST_JOIN_WAIT2;
    return KITH_OK;
}

/* Host: message 1 in, message 2 out. */
static int
host_m1(kith_pairing_t *p, const uint8_t *msg, size_t len, fixbuf_t *b)
{
    uint8_t sid[KITH_PAIRING_SID_LEN], ya[KITH_CPACE_SHARE_LEN], yb[KITH_CPACE_SHARE_LEN];
    uint8_t confirm_b[TAG_LEN], re[KITH_PAIRING_MSG_MAX];
    fixbuf_t check = {re, sizeof(re), 0, 0};
    field_t f[] = {
        {"v", F_UINT, 0, 0, NULL, 0, 0, 0},
        {"sid", F_BIN, KITH_PAIRING_SID_LEN, KITH_PAIRING_SID_LEN, sid, 0, 0, 0},
        {"Ya", F_BIN, KITH_CPACE_SHARE_LEN, KITH_CPACE_SHARE_LEN, ya, 0, 0, 0},
    };
    int rc;

    if ((rc = decode_map(msg, len, f, 3, 1)) != KITH_OK) {
        return rc;
    }
    enc_m1(&check, sid, ya);
    if (!same_encoding(&check, msg, len)) {
        return KITH_EPROTO;
    }
    if ((rc = start_cpace(p, sid, yb)) != KITH_OK || (rc = finish_cpace(p, ya)) != KITH_OK ||
        (rc = confirm_tag(p->isk, CONFIRM_HOST, confirm_b)) != KITH_OK) {
        goto out;
    }
    enc_m2(b, yb, confirm_b);
    p->state = ST_HOST_WAIT3;
out:
    sodium_memzero(confirm_b, sizeof(confirm_b));
    return rc;
}

/* Joiner: message 2 in, message 3 out. */
static int
joiner_m2(kith_pairing_t *p, const uint8_t *msg, size_t len, fixbuf_t *b)
{
    uint8_t yb[KITH_CPACE_SHARE_LEN], got[TAG_LEN], want[TAG_LEN], confirm_a[TAG_LEN];
    uint8_t sealed[CT_MAX], re[KITH_PAIRING_MSG_MAX];
    size_t sealed_len = 0;
    fixbuf_t check = {re, sizeof(re), 0, 0};
    field_t f[] = {
        {"v", F_UINT, 0, 0, NULL, 0, 0, 0},
        {"Yb", F_BIN, KITH_CPACE_SHARE_LEN, KITH_CPACE_SHARE_LEN, yb, 0, 0, 0},
        {"confirm_b", F_BIN, TAG_LEN, TAG_LEN, got, 0, 0, 0},
    };
    int rc;

    if ((rc = decode_map(msg, len, f, 3, 1)) != KITH_OK) {
        return rc;
    }
    enc_m2(&check, yb, got);
    if (!same_encoding(&check, msg, len)) {
        return KITH_EPROTO;
    }
    if ((rc = finish_cpace(p, yb)) != KITH_OK ||
        (rc = confirm_tag(p->isk, CONFIRM_HOST, want)) != KITH_OK) {
        goto out;
    }
    if (crypto_verify_32(got, want) != 0) {
        rc = KITH_EAUTH; /* the host used another code: stop before revealing anything */
        goto out;
    }
    if ((rc = confirm_tag(p->isk, CONFIRM_JOINER, confirm_a)) != KITH_OK ||
        (rc = seal_self(p, DIR_JOINER, sealed, &sealed_len)) != KITH_OK) {
        goto out;
    }
    enc_m3(b, confirm_a, sealed, sealed_len);
    p->state = ST_JOIN_WAIT4;
out:
    sodium_memzero(want, sizeof(want));
    sodium_memzero(confirm_a, sizeof(confirm_a));
    return rc;
}

/* Host: message 3 in, message 4 out. */
static int
host_m3(kith_pairing_t *p, const uint8_t *msg, size_t len, fixbuf_t *b)
{
    uint8_t got[TAG_LEN], want[TAG_LEN], sealed[CT_MAX], mine[CT_MAX];
    uint8_t re[KITH_PAIRING_MSG_MAX];
    size_t mine_len = 0;
    fixbuf_t check = {re, sizeof(re), 0, 0};
    field_t f[] = {
        {"confirm_a", F_BIN, TAG_LEN, TAG_LEN, got, 0, 0, 0},
        {"sealed_a", F_BIN, CT_MIN, CT_MAX, sealed, 0, 0, 0},
    };
    int rc;

    if ((rc = decode_map(msg, len, f, 2, 0)) != KITH_OK) {
        return rc;
    }
    enc_m3(&check, got, sealed, f[1].len);
    if (!same_encoding(&check, msg, len)) {
        return KITH_EPROTO;
    }
    if ((rc = confirm_tag(p->isk, CONFIRM_JOINER, want)) != KITH_OK) {
        goto out;
    }
    if (crypto_verify_32(got, want) != 0) {
        rc = KITH_EAUTH; /* the joiner used another code: its identity stays sealed */
        goto out;
    }
    if ((rc = open_peer(p, DIR_JOINER, sealed, f[1].len)) != KITH_OK ||
        (rc = seal_self(p, DIR_HOST, mine, &mine_len)) != KITH_OK) {
        goto out;
    }
    enc_m4(b, mine, mine_len);
    p->state = ST_DONE;
out:
    sodium_memzero(want, sizeof(want));
    return rc;
}

/* Joiner: message 4 in, nothing out. */
static int
joiner_m4(kith_pairing_t *p, const uint8_t *msg, size_t len)
{
    uint8_t sealed[CT_MAX], re[KITH_PAIRING_MSG_MAX];
    fixbuf_t check = {re, sizeof(re), 0, 0};
    field_t f[] = {
        {"sealed_b", F_BIN, CT_MIN, CT_MAX, sealed, 0, 0, 0},
    };
    int rc;

    if ((rc = decode_map(msg, len, f, 1, 0)) != KITH_OK) {
        return rc;
    }
    enc_m4(&check, sealed, f[0].len);
    if (!same_encoding(&check, msg, len)) {
        return KITH_EPROTO;
    }
    if ((rc = open_peer(p, DIR_HOST, sealed, f[0].len)) != KITH_OK) {
        return rc;
    }
    p->state = ST_DONE;
    return KITH_OK;
}

int
kith_pairing_new(kith_pairing_t **out, int role, int channel,
                 const uint8_t words[static KITH_PAIRING_WORDS], const char *self_name,
                 const uint8_t self_ed_pk[static KITH_PAIRING_KEY_LEN])
{
    kith_pairing_t *p;
    size_t name_len;

    if (out == NULL) {
        return KITH_EINVAL;
    }
    *out = NULL;
    if ((role != KITH_PAIRING_HOST && role != KITH_PAIRING_JOINER) ||
        channel < KITH_PAIRING_CHANNEL_MIN || channel > KITH_PAIRING_CHANNEL_MAX || words == NULL ||
        self_name == NULL || self_ed_pk == NULL) {
        return KITH_EINVAL;
    }
    name_len = strnlen(self_name, KITH_PAIRING_NAME_MAX + 1);
    if (!name_ok((const uint8_t *) self_name, name_len) || !key_ok(self_ed_pk)) {
        return KITH_EINVAL;
    }
    if ((p = sodium_malloc(sizeof(*p))) == NULL) {
        return KITH_ENOMEM;
    }
    memset(p, 0, sizeof(*p));
    p->role = role;
    p->state = role == KITH_PAIRING_JOINER ? ST_JOIN_NEW : ST_HOST_WAIT1;
    p->channel = channel;
    memcpy(p->prs, words, KITH_PAIRING_WORDS);
    p->prs[KITH_PAIRING_WORDS] = (uint8_t) channel;
    memcpy(p->self_name, self_name, name_len);
    p->self_name_len = name_len;
    memcpy(p->self_pk, self_ed_pk, KITH_PAIRING_KEY_LEN);
    *out = p;
    return KITH_OK;
}

void
kith_pairing_free(kith_pairing_t *p)
{
    if (p != NULL) {
        kith_cpace_free(p->cpace);
        sodium_free(p); /* wipes the whole allocation */
    }
}

int
kith__pairing_set_secrets(kith_pairing_t *p, const uint8_t scalar[static 32], const uint8_t *sid)
{
    uint8_t wide[crypto_core_ristretto255_NONREDUCEDSCALARBYTES] = {0};
    uint8_t reduced[crypto_core_ristretto255_SCALARBYTES];
    int canonical;

    if (p == NULL || scalar == NULL ||
        !(p->state == ST_JOIN_NEW || (p->state == ST_HOST_WAIT1 && sid == NULL))) {
        return KITH_EINVAL;
    }
    /* Refused here, so that start and receive never fail on a bad injected scalar. */
    memcpy(wide, scalar, KITH_CPACE_SCALAR_LEN);
    crypto_core_ristretto255_scalar_reduce(reduced, wide);
    canonical = sodium_memcmp(reduced, scalar, sizeof(reduced)) == 0;
    sodium_memzero(wide, sizeof(wide));
    sodium_memzero(reduced, sizeof(reduced));
    if (!canonical || sodium_is_zero(scalar, KITH_CPACE_SCALAR_LEN)) {
        return KITH_EINVAL;
    }
    memcpy(p->test_scalar, scalar, sizeof(p->test_scalar));
    p->has_test_scalar = 1;
    if (sid != NULL) {
        memcpy(p->test_sid, sid, sizeof(p->test_sid));
        p->has_test_sid = 1;
    }
    return KITH_OK;
}

/* Appends what b holds to out, or fails on an encoder overflow (which would be a bug:
 * every message fits KITH_PAIRING_MSG_MAX by construction). */
static int
emit(const fixbuf_t *b, kith_buf_t *out)
{
    if (b->err) {
        return KITH_EINVAL;
    }
    return b->len == 0 ? KITH_OK : kith_buf_append(out, b->p, b->len);
}

int
kith_pairing_start(kith_pairing_t *p, kith_buf_t *out)
{
    uint8_t msg[KITH_PAIRING_MSG_MAX];
    fixbuf_t b = {msg, sizeof(msg), 0, 0};
    int rc;

    if (out != NULL) {
        out_reset(out);
    }
    if (p == NULL || out == NULL || p->role != KITH_PAIRING_JOINER || p->state != ST_JOIN_NEW) {
        return KITH_EINVAL;
    }
    if ((rc = joiner_start(p, &b)) == KITH_OK) {
        rc = emit(&b, out);
    }
    if (rc != KITH_OK) {
        die(p);
        out_reset(out);
    }
    return rc;
}

int
kith_pairing_receive(kith_pairing_t *p, const uint8_t *msg, size_t len, kith_buf_t *out)
{
    uint8_t reply[KITH_PAIRING_MSG_MAX];
    fixbuf_t b = {reply, sizeof(reply), 0, 0};
    int rc;

    if (out != NULL) {
        out_reset(out);
    }
    if (p == NULL || out == NULL || (msg == NULL && len > 0)) {
        return KITH_EINVAL;
    }
    switch (p->state) {
    case ST_HOST_WAIT1:
        rc = host_m1(p, msg, len, &b);
        break;
    case ST_JOIN_WAIT2:
        rc = joiner_m2(p, msg, len, &b);
        break;
    case ST_HOST_WAIT3:
        rc = host_m3(p, msg, len, &b);
        break;
    case ST_JOIN_WAIT4:
        rc = joiner_m4(p, msg, len);
        break;
    default:
        return KITH_EINVAL; /* not started, done or dead: nothing changes */
    }
    if (rc == KITH_OK) {
        rc = emit(&b, out);
    }
    if (rc != KITH_OK) {
        die(p);
        out_reset(out);
    } else if (p->state == ST_DONE) {
        wipe_session(p);
    }
    return rc;
}

int
kith_pairing_done(const kith_pairing_t *p)
{
    return p != NULL && p->state == ST_DONE;
}

int
kith_pairing_peer(const kith_pairing_t *p, char name[static KITH_PAIRING_NAME_MAX + 1],
                  uint8_t key[static KITH_PAIRING_KEY_LEN])
{
    if (name != NULL) {
        name[0] = '\0';
    }
    if (key != NULL) {
        memset(key, 0, KITH_PAIRING_KEY_LEN);
    }
    if (p == NULL || name == NULL || key == NULL || p->state != ST_DONE) {
        return KITH_EINVAL;
    }
    memcpy(name, p->peer_name, sizeof(p->peer_name));
    memcpy(key, p->peer_pk, KITH_PAIRING_KEY_LEN);
    return KITH_OK;
}
