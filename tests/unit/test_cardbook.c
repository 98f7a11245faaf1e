/*
 * Tests for the address books behind CardDAV (src/node/cardbook.c) on real nodes, no HTTP:
 * which books there are and which records each holds, card versions and sync tokens, the
 * vCard a client reads, what a card a client writes does to a record (and what it must
 * not do), deletion, and the CardDAV password. The tests run in order on one pair of
 * nodes and share records through the globals below.
 */
#include "node_pair.h"

#include <sodium.h>
#include <stdlib.h>

#include "node/cardbook.h"
#include "node/edit.h"
#include "node/match.h"

static kith_edit_t
ed(const char *field, kith_edit_mode_t mode, const char *const *items, size_t n)
{
    return (kith_edit_t){field, mode, items, n};
}

/* A record of n's, shared with the node whose key is to in role (0: with nobody). */
static void
add_to(kith_node_t *n, const char *name, const uint8_t *to, int role, uint8_t id[KITH_REC_ID_LEN])
{
    const char *const items[] = {name};
    kith_edit_t e = ed("name", KITH_EDIT_SET, items, 1);
    kith_share_target_t target = {0};
    if (to != NULL) {
        memcpy(target.key, to, KITH_PK_LEN);
    }
    kith_edit_result_t res;
    char err[256] = "";
    ASSERT_OK(kith_node_add_record(n, KITH_KIND_PERSON, &e, 1, role ? &target : NULL, role ? 1 : 0,
                                   role, ++now, &res, err, sizeof(err)));
    memcpy(id, res.id, KITH_REC_ID_LEN);
}

/* A record of n's, shared with bob in role (0: with nobody). */
static void
add(kith_node_t *n, const char *name, int role, uint8_t id[KITH_REC_ID_LEN])
{
    add_to(n, name, bob->id->pk, role, id);
}

static void
edit1(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], const char *field, kith_edit_mode_t mode,
      const char *value)
{
    const char *const items[] = {value};
    kith_edit_t e = ed(field, mode, items, value ? 1 : 0);
    kith_edit_result_t res;
    char err[256] = "";
    ASSERT_OK(kith_node_edit(n, id, &e, 1, ++now, &res, err, sizeof(err)));
}

/* ---- listings ----------------------------------------------------------------------- */

#define MAX_SEEN 64

typedef struct {
    size_t n;
    kith_cardbook_entry_t e[MAX_SEEN];
    char href[MAX_SEEN][KITH_CARDBOOK_HREF_MAX + 1];
} seen_t;

static int
collect(void *ctx, const kith_cardbook_entry_t *e)
{
    seen_t *s = ctx;
    assert_true(s->n < MAX_SEEN);
    s->e[s->n] = *e;
    snprintf(s->href[s->n], sizeof(s->href[0]), "%s", e->href);
    s->e[s->n].href = s->href[s->n];
    s->n++;
    return KITH_OK;
}

/* How often id is listed; *present and *version of its last listing. */
static size_t
count_of(const seen_t *s, const uint8_t id[KITH_REC_ID_LEN], int *present, uint64_t *version)
{
    size_t c = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (memcmp(s->e[i].id, id, KITH_REC_ID_LEN) == 0) {
            c++;
            if (present != NULL) {
                *present = s->e[i].present;
            }
            if (version != NULL) {
                *version = s->e[i].version;
            }
        }
    }
    return c;
}

static void
members(kith_node_t *n, const char *book, seen_t *s, char token[KITH_CARDBOOK_TOKEN_MAX])
{
    kith_cardbook_t b;
    ASSERT_OK(kith_cardbook_open(n, book, &b));
    memset(s, 0, sizeof(*s));
    ASSERT_OK(kith_cardbook_members(n, &b, collect, s, token));
    kith_cardbook_close(&b);
}

static int
changes(kith_node_t *n, const char *book, const char *token, seen_t *s,
        char now_token[KITH_CARDBOOK_TOKEN_MAX])
{
    kith_cardbook_t b;
    ASSERT_OK(kith_cardbook_open(n, book, &b));
    memset(s, 0, sizeof(*s));
    int rc = kith_cardbook_changes(n, &b, token, collect, s, now_token);
    kith_cardbook_close(&b);
    return rc;
}

static uint64_t
max_seq(kith_node_t *n)
{
    uint64_t seq = 0;
    ASSERT_OK(kith_store_max_seq(n->store, &seq));
    return seq;
}

/* Records made by one test and used by the next. */
static uint8_t shared_id[KITH_REC_ID_LEN], alone_id[KITH_REC_ID_LEN], bobs_id[KITH_REC_ID_LEN];

static void
books(void **state)
{
    (void) state;
    kith_cardbook_t *list = NULL;
    size_t count = 0;
    ASSERT_OK(kith_cardbook_list(alice, &list, &count));
    ASSERT_EQ(count, 2);
    ASSERT_STREQ(list[0].name, "all");
    ASSERT_STREQ(list[0].group, "");
    ASSERT_STREQ(list[1].name, "g-sales");
    ASSERT_STREQ(list[1].group, "sales");
    ASSERT_EQ(list[1].n_members, 1);
    assert_memory_equal(list[1].members[0], bob->id->pk, KITH_PK_LEN);
    kith_cardbooks_free(list, count);
    kith_cardbooks_free(NULL, 0);

    /* bob has no peers: one book. */
    ASSERT_OK(kith_cardbook_list(bob, &list, &count));
    ASSERT_EQ(count, 1);
    ASSERT_STREQ(list[0].name, "all");
    kith_cardbooks_free(list, count);

    kith_cardbook_t b;
    ASSERT_OK(kith_cardbook_open(alice, "g-sales", &b));
    ASSERT_STREQ(b.group, "sales");
    kith_cardbook_close(&b);
    kith_cardbook_close(NULL);
    static const char *const unknown[] = {"", "g-", "g-nosuch", "All", "sales", "g-sales/"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        ASSERT_ERR(kith_cardbook_open(alice, unknown[i], &b), KITH_ENOTFOUND);
    }
}

static void
membership(void **state)
{
    (void) state;
    add(alice, "Shared Sam", KITH_ROLE_EDITOR, shared_id);
    add(alice, "Alone Al", 0, alone_id);
    /* bob shares a record with alice, a peer of his in no group. */
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = "alice";
    memcpy(p.key, alice->id->pk, KITH_PK_LEN);
    p.groups = p.addr = p.last_addr = "";
    ASSERT_OK(kith_store_begin(bob->store));
    ASSERT_OK(kith_node_peer_add(bob, &p, ++now));
    ASSERT_OK(kith_store_commit(bob->store));
    add_to(bob, "Bob's Bea", alice->id->pk, KITH_ROLE_READER, bobs_id);
    pair_deliver(bob, alice, bobs_id);
    /* Shared afterwards, as `kith share` does: the record in test_share.c's way. */
    uint8_t later[KITH_REC_ID_LEN];
    add(alice, "Later Liz", 0, later);
    kith_share_target_t t;
    ASSERT_OK(kith_node_share_target(alice, "@sales", &t));
    ASSERT_OK(kith_store_begin(alice->store));
    ASSERT_OK(kith_store_share_set(alice->store, later, &t, KITH_ROLE_READER));
    ASSERT_OK(kith_store_commit(alice->store));
    int changed = 0;
    ASSERT_OK(kith_node_update_audience(alice, later, ++now, &changed));
    ASSERT_EQ(changed, 1);

    seen_t s;
    members(alice, "all", &s, NULL);
    ASSERT_EQ(s.n, 4);
    ASSERT_EQ(count_of(&s, shared_id, NULL, NULL), 1);
    ASSERT_EQ(count_of(&s, alone_id, NULL, NULL), 1);
    ASSERT_EQ(count_of(&s, bobs_id, NULL, NULL), 1);
    ASSERT_EQ(count_of(&s, later, NULL, NULL), 1);
    members(alice, "g-sales", &s, NULL);
    ASSERT_EQ(s.n, 3);
    ASSERT_EQ(count_of(&s, shared_id, NULL, NULL), 1);
    ASSERT_EQ(count_of(&s, bobs_id, NULL, NULL), 1);
    ASSERT_EQ(count_of(&s, later, NULL, NULL), 1);
    ASSERT_EQ(count_of(&s, alone_id, NULL, NULL), 0);

    /* find agrees with the listing. */
    kith_cardbook_t sales;
    ASSERT_OK(kith_cardbook_open(alice, "g-sales", &sales));
    uint8_t id[KITH_REC_ID_LEN];
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        ASSERT_OK(kith_cardbook_find(alice, &sales, s.href[i], id, &v));
        assert_memory_equal(id, s.e[i].id, KITH_REC_ID_LEN);
        ASSERT_EQ(v, s.e[i].version);
        assert_true(s.e[i].present);
    }
    char canon[2 * KITH_REC_ID_LEN + 5];
    sodium_bin2hex(canon, sizeof(canon), alone_id, KITH_REC_ID_LEN);
    strcat(canon, ".vcf");
    ASSERT_ERR(kith_cardbook_find(alice, &sales, canon, id, &v), KITH_ENOTFOUND);
    ASSERT_ERR(kith_cardbook_find(alice, &sales, "nosuch.vcf", id, &v), KITH_ENOTFOUND);
    kith_cardbook_close(&sales);
}

static void
versions_and_tokens(void **state)
{
    (void) state;
    seen_t s;
    char t0[KITH_CARDBOOK_TOKEN_MAX], t1[KITH_CARDBOOK_TOKEN_MAX], t2[KITH_CARDBOOK_TOKEN_MAX];
    members(alice, "all", &s, t0);
    uint64_t v0 = 0, v1 = 0;
    ASSERT_EQ(count_of(&s, alone_id, NULL, &v0), 1);
    assert_true(v0 > 0);
    assert_non_null(strstr(t0, "http://kith.invalid/sync/"));

    /* Nothing changed: the same token, and nothing listed since it. */
    kith_cardbook_t b;
    ASSERT_OK(kith_cardbook_open(alice, "all", &b));
    ASSERT_OK(kith_cardbook_token(alice, &b, t1));
    ASSERT_STREQ(t0, t1);
    kith_cardbook_close(&b);
    ASSERT_OK(changes(alice, "all", t0, &s, t1));
    ASSERT_EQ(s.n, 0);
    ASSERT_STREQ(t0, t1);

    /* An edit: the version grows, and exactly that record is listed. */
    edit1(alice, alone_id, "title", KITH_EDIT_SET, "Engineer");
    members(alice, "all", &s, NULL);
    ASSERT_EQ(count_of(&s, alone_id, NULL, &v1), 1);
    assert_true(v1 > v0);
    int present = 0;
    ASSERT_OK(changes(alice, "all", t0, &s, t1));
    ASSERT_EQ(s.n, 1);
    ASSERT_EQ(count_of(&s, alone_id, &present, &v0), 1);
    ASSERT_EQ(present, 1);
    ASSERT_EQ(v0, v1);
    assert_true(strcmp(t0, t1) != 0);
    /* An empty token lists every card, present. */
    ASSERT_OK(changes(alice, "all", "", &s, t2));
    ASSERT_EQ(s.n, 4);
    ASSERT_OK(changes(alice, "all", NULL, &s, t2));
    ASSERT_EQ(s.n, 4);

    /* A delete: listed as not present. */
    ASSERT_OK(kith_node_set_deleted(alice, alone_id, 1, ++now));
    ASSERT_OK(changes(alice, "all", t1, &s, t2));
    ASSERT_EQ(s.n, 1);
    ASSERT_EQ(count_of(&s, alone_id, &present, NULL), 1);
    ASSERT_EQ(present, 0);
    members(alice, "all", &s, NULL);
    ASSERT_EQ(count_of(&s, alone_id, NULL, NULL), 0);
    ASSERT_OK(kith_node_set_deleted(alice, alone_id, 0, ++now));

    /* Tokens that are not this book's now. */
    char sales_token[KITH_CARDBOOK_TOKEN_MAX], future[KITH_CARDBOOK_TOKEN_MAX + 8];
    members(alice, "g-sales", &s, sales_token);
    ASSERT_ERR(changes(alice, "all", sales_token, &s, t2), KITH_EINVAL);
    ASSERT_ERR(changes(alice, "g-sales", t1, &s, t2), KITH_EINVAL);
    members(alice, "all", &s, t1);
    char *slash = strrchr(t1, '/');
    assert_non_null(slash);
    snprintf(future, sizeof(future), "%.*s/%llu", (int) (slash - t1), t1,
             (unsigned long long) max_seq(alice) + 1);
    ASSERT_ERR(changes(alice, "all", future, &s, t2), KITH_EINVAL);
    snprintf(future, sizeof(future), "%.*s/99999999999999999999", (int) (slash - t1), t1);
    ASSERT_ERR(changes(alice, "all", future, &s, t2), KITH_EINVAL);
    snprintf(future, sizeof(future), "%.*s/18446744073709551617", (int) (slash - t1), t1);
    ASSERT_ERR(changes(alice, "all", future, &s, t2), KITH_EINVAL);
    snprintf(future, sizeof(future), "%.*s/", (int) (slash - t1), t1);
    ASSERT_ERR(changes(alice, "all", future, &s, t2), KITH_EINVAL);
    snprintf(future, sizeof(future), "%.*s/-1", (int) (slash - t1), t1);
    ASSERT_ERR(changes(alice, "all", future, &s, t2), KITH_EINVAL);
    snprintf(future, sizeof(future), "%s ", t1);
    ASSERT_ERR(changes(alice, "all", future, &s, t2), KITH_EINVAL);
    static const char *const garbage[] = {"garbage", "http://kith.invalid/sync/",
                                          "http://kith.invalid/sync/0011223344556677/1",
                                          "http://kith.invalid/sync//1", "1"};
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        ASSERT_ERR(changes(alice, "all", garbage[i], &s, t2), KITH_EINVAL);
    }
    /* The token of now is good. */
    ASSERT_OK(changes(alice, "all", t1, &s, t2));
    ASSERT_EQ(s.n, 0);

    /* The members of sales change: an old g-sales token is refused, "all"'s is not. */
    ASSERT_OK(changes(alice, "g-sales", sales_token, &s, t2));
    uint8_t pk[KITH_PK_LEN], sk[64];
    crypto_sign_keypair(pk, sk);
    kith_peer_t p;
    memset(&p, 0, sizeof(p));
    p.name = "carol";
    memcpy(p.key, pk, KITH_PK_LEN);
    p.groups = "sales";
    p.addr = p.last_addr = "";
    ASSERT_OK(kith_store_begin(alice->store));
    ASSERT_OK(kith_node_peer_add(alice, &p, ++now));
    ASSERT_OK(kith_store_commit(alice->store));
    ASSERT_ERR(changes(alice, "g-sales", sales_token, &s, t2), KITH_EINVAL);
    ASSERT_OK(changes(alice, "all", t1, &s, t2));
    /* A fresh g-sales token works; carol leaves again so that later tests see one
     * member. */
    members(alice, "g-sales", &s, sales_token);
    ASSERT_OK(changes(alice, "g-sales", sales_token, &s, t2));
    ASSERT_OK(kith_store_begin(alice->store));
    ASSERT_OK(kith_node_peer_remove(alice, "carol", ++now, NULL));
    ASSERT_OK(kith_store_commit(alice->store));
    ASSERT_ERR(changes(alice, "g-sales", sales_token, &s, t2), KITH_EINVAL);
}

/* ---- reading cards ------------------------------------------------------------------ */

static void
get_card(void **state)
{
    (void) state;
    edit1(alice, shared_id, "emails", KITH_EDIT_SET, "sam@x.example");
    edit1(alice, shared_id, "title", KITH_EDIT_PRIVATE, "Secret Boss");
    kith_buf_t out;
    kith_buf_init(&out);
    ASSERT_OK(kith_cardbook_get(alice, shared_id, &out));
    ASSERT_OK(kith_buf_append(&out, "", 1));
    const char *card = (const char *) out.data;
    assert_non_null(strstr(card, "BEGIN:VCARD"));
    assert_non_null(strstr(card, "VERSION:3.0"));
    assert_non_null(strstr(card, "FN:Shared Sam"));
    assert_non_null(strstr(card, "sam@x.example"));
    assert_non_null(strstr(card, "TITLE:Secret Boss"));
    char uid[KITH_MATCH_UID_LEN + 1], line[KITH_MATCH_UID_LEN + 8];
    kith_match_uid_format(shared_id, uid);
    snprintf(line, sizeof(line), "UID:%s", uid);
    assert_non_null(strstr(card, line));
    kith_buf_close(&out);

    /* A foreign UID is the card's UID, and only once. */
    edit1(alice, shared_id, KITH_MATCH_UID_FIELD, KITH_EDIT_SET, "abc-uid-42@client.example");
    kith_buf_init(&out);
    ASSERT_OK(kith_cardbook_get(alice, shared_id, &out));
    ASSERT_OK(kith_buf_append(&out, "", 1));
    card = (const char *) out.data;
    assert_non_null(strstr(card, "UID:abc-uid-42@client.example"));
    assert_null(strstr(card, "urn:kith:"));
    const char *first = strstr(card, "UID");
    assert_null(strstr(first + 3, "UID"));
    kith_buf_close(&out);

    uint8_t none[KITH_REC_ID_LEN] = {0};
    kith_buf_init(&out);
    ASSERT_ERR(kith_cardbook_get(alice, none, &out), KITH_ENOTFOUND);
    kith_buf_close(&out);
}

/* ---- writing cards ------------------------------------------------------------------ */

static int
put(kith_node_t *n, const char *book, const char *href, const char *card, const uint64_t *if_match,
    int if_none_match, kith_cardbook_put_t *out, char *err, size_t errcap)
{
    kith_cardbook_t b;
    ASSERT_OK(kith_cardbook_open(n, book, &b));
    int rc = kith_cardbook_put(n, &b, href, card, strlen(card), if_match, if_none_match, ++now, out,
                               err, errcap);
    kith_cardbook_close(&b);
    return rc;
}

static int
find(kith_node_t *n, const char *book, const char *href, uint8_t id[KITH_REC_ID_LEN],
     uint64_t *version)
{
    kith_cardbook_t b;
    ASSERT_OK(kith_cardbook_open(n, book, &b));
    int rc = kith_cardbook_find(n, &b, href, id, version);
    kith_cardbook_close(&b);
    return rc;
}

static const kith_rfield_t *
field(kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN], kith_record_t *r, const char *name,
      int private)
{
    kith_record_close(r);
    kith_record_init(r);
    ASSERT_OK(kith_store_record_get(n->store, id, r));
    return kith_record_field_in(r, name, private);
}

static const char card1[] = "BEGIN:VCARD\r\n"
                            "VERSION:3.0\r\n"
                            "UID:abc-123\r\n"
                            "FN:Zed Alpha\r\n"
                            "EMAIL:zed@x.example\r\n"
                            "TEL:+15550100\r\n"
                            "TITLE:CTO\r\n"
                            "END:VCARD\r\n";

static uint8_t put_id[KITH_REC_ID_LEN];

static void
put_new_and_again(void **state)
{
    (void) state;
    kith_cardbook_put_t res;
    char err[256] = "";
    ASSERT_OK(put(alice, "all", "abc-123.vcf", card1, NULL, 1, &res, err, sizeof(err)));
    ASSERT_EQ(res.created, 1);
    assert_true(res.changed > 0);
    memcpy(put_id, res.id, KITH_REC_ID_LEN);
    uint8_t id[KITH_REC_ID_LEN];
    uint64_t v = 0, v2 = 0;
    ASSERT_OK(find(alice, "all", "abc-123.vcf", id, &v));
    assert_memory_equal(id, put_id, KITH_REC_ID_LEN);
    /* Shared with nobody: owned by alice, no audience, not in g-sales. */
    kith_record_t r;
    kith_record_init(&r);
    ASSERT_STREQ(field(alice, put_id, &r, "name", 0)->value.str, "Zed Alpha");
    assert_memory_equal(r.owner, alice->id->pk, KITH_PK_LEN);
    ASSERT_EQ(kith_record_role(&r, bob->id->pk), 0);
    ASSERT_STREQ(field(alice, put_id, &r, KITH_MATCH_UID_FIELD, 0)->value.str, "abc-123");
    ASSERT_ERR(find(alice, "g-sales", "abc-123.vcf", id, &v2), KITH_ENOTFOUND);
    /* Listed under its own name. */
    seen_t s;
    members(alice, "all", &s, NULL);
    ASSERT_EQ(count_of(&s, put_id, NULL, NULL), 1);
    for (size_t i = 0; i < s.n; i++) {
        if (memcmp(s.e[i].id, put_id, KITH_REC_ID_LEN) == 0) {
            ASSERT_STREQ(s.href[i], "abc-123.vcf");
        }
    }

    /* The same card again: nothing changes, no op. */
    uint64_t before = max_seq(alice);
    ASSERT_OK(put(alice, "all", "abc-123.vcf", card1, NULL, 0, &res, err, sizeof(err)));
    ASSERT_EQ(res.created, 0);
    ASSERT_EQ(res.changed, 0);
    ASSERT_EQ(max_seq(alice), before);
    ASSERT_OK(find(alice, "all", "abc-123.vcf", id, &v2));
    ASSERT_EQ(v2, v);
    /* What GET gives, put back, changes nothing either. */
    kith_buf_t got;
    kith_buf_init(&got);
    ASSERT_OK(kith_cardbook_get(alice, put_id, &got));
    ASSERT_OK(kith_buf_append(&got, "", 1));
    ASSERT_OK(
        put(alice, "all", "abc-123.vcf", (const char *) got.data, &v, 0, &res, err, sizeof(err)));
    ASSERT_EQ(res.changed, 0);
    ASSERT_EQ(max_seq(alice), before);
    kith_buf_close(&got);
    kith_record_close(&r);
}

static void
put_edits(void **state)
{
    (void) state;
    kith_cardbook_put_t res;
    char err[256] = "";
    kith_record_t r;
    kith_record_init(&r);
    /* Private title here, intelligence there. */
    edit1(alice, put_id, "title", KITH_EDIT_UNSET, NULL);
    edit1(alice, put_id, "title", KITH_EDIT_PRIVATE, "CTO");
    edit1(alice, put_id, "influence", KITH_EDIT_SET, "4");
    assert_null(field(alice, put_id, &r, "title", 0));
    uint8_t id[KITH_REC_ID_LEN];
    uint64_t v = 0;
    ASSERT_OK(find(alice, "all", "abc-123.vcf", id, &v));

    static const char card2[] = "BEGIN:VCARD\r\n"
                                "VERSION:3.0\r\n"
                                "UID:abc-123\r\n"
                                "FN:Zed Alpha\r\n"
                                "EMAIL:zed@x.example\r\n"
                                "EMAIL:zed2@y.example\r\n"
                                "TITLE:CEO\r\n"
                                "END:VCARD\r\n";
    /* A stale If-Match: nothing changes. */
    uint64_t stale = v - 1, before = max_seq(alice);
    ASSERT_ERR(put(alice, "all", "abc-123.vcf", card2, &stale, 0, &res, err, sizeof(err)),
               KITH_ESTALE);
    ASSERT_EQ(max_seq(alice), before);
    /* If-None-Match on an existing card. */
    ASSERT_ERR(put(alice, "all", "abc-123.vcf", card2, NULL, 1, &res, err, sizeof(err)),
               KITH_ESTALE);
    ASSERT_EQ(max_seq(alice), before);

    ASSERT_OK(put(alice, "all", "abc-123.vcf", card2, &v, 0, &res, err, sizeof(err)));
    ASSERT_EQ(res.created, 0);
    ASSERT_EQ(res.changed, 3); /* an e-mail added, the phone gone, the title changed */
    const kith_rfield_t *f = field(alice, put_id, &r, "emails", 0);
    assert_non_null(f);
    ASSERT_EQ(f->value.n_items, 2);
    ASSERT_STREQ(f->value.items[0], "zed@x.example");
    ASSERT_STREQ(f->value.items[1], "zed2@y.example");
    assert_null(field(alice, put_id, &r, "phones", 0));
    assert_null(field(alice, put_id, &r, "phones", 1));
    /* The title stays private. */
    f = field(alice, put_id, &r, "title", 1);
    assert_non_null(f);
    ASSERT_STREQ(f->value.str, "CEO");
    assert_null(field(alice, put_id, &r, "title", 0));
    /* Intelligence the card did not carry is kept. */
    f = field(alice, put_id, &r, "influence", 0);
    assert_non_null(f);
    ASSERT_EQ(f->value.num, 4);
    /* The name is untouched, and so is the foreign UID. */
    ASSERT_STREQ(field(alice, put_id, &r, "name", 0)->value.str, "Zed Alpha");
    ASSERT_STREQ(field(alice, put_id, &r, KITH_MATCH_UID_FIELD, 0)->value.str, "abc-123");
    uint64_t v2 = 0;
    ASSERT_OK(find(alice, "all", "abc-123.vcf", id, &v2));
    assert_true(v2 > v);

    /* A card carrying the intelligence field changes it. */
    static const char card3[] = "BEGIN:VCARD\r\n"
                                "VERSION:3.0\r\n"
                                "UID:abc-123\r\n"
                                "FN:Zed Alpha\r\n"
                                "EMAIL:zed@x.example\r\n"
                                "EMAIL:zed2@y.example\r\n"
                                "TITLE:CEO\r\n"
                                "X-KITH-INFLUENCE:2\r\n"
                                "END:VCARD\r\n";
    ASSERT_OK(put(alice, "all", "abc-123.vcf", card3, NULL, 0, &res, err, sizeof(err)));
    ASSERT_EQ(res.changed, 1);
    ASSERT_EQ(field(alice, put_id, &r, "influence", 0)->value.num, 2);
    kith_record_close(&r);
}

/* A list with items in both layers: a card that drops only a shared item, then one that
 * drops the private item too. */
static void
put_list_across_layers(void **state)
{
    (void) state;
    kith_cardbook_put_t res;
    char err[256] = "";
    kith_record_t r;
    kith_record_init(&r);
    edit1(alice, put_id, "emails", KITH_EDIT_PRIVATE, "mine@p.example");
    const kith_rfield_t *f = field(alice, put_id, &r, "emails", 0);
    ASSERT_EQ(f->value.n_items, 2); /* zed@x.example, zed2@y.example */
    static const char drop_shared[] = "BEGIN:VCARD\r\n"
                                      "VERSION:3.0\r\n"
                                      "UID:abc-123\r\n"
                                      "FN:Zed Alpha\r\n"
                                      "EMAIL:zed2@y.example\r\n"
                                      "EMAIL:mine@p.example\r\n"
                                      "TITLE:CEO\r\n"
                                      "END:VCARD\r\n";
    int rc = put(alice, "all", "abc-123.vcf", drop_shared, NULL, 0, &res, err, sizeof(err));
    if (rc != KITH_OK) {
        print_message("put dropping a shared e-mail beside a private one: %s (%s)\n",
                      kith_strerror(rc), err);
        kith_record_close(&r);
        /* Fixed, kept as a regression test: kith_cardbook_put() of a card that drops a shared list
         * item of a field that also has a private item fails: diff_field() makes one
         * KITH_EDIT_REMOVE, which kith__node_edit_in_txn() applies to the private layer (sticky
         * privacy), and the shared item is not there: KITH_ENOTFOUND "emails: '...' is not in the
         * private list". Over HTTP the PUT gets 500, and the client can never remove the address.
         */
        fail();
    }
    f = field(alice, put_id, &r, "emails", 0);
    ASSERT_EQ(f->value.n_items, 1);
    ASSERT_STREQ(f->value.items[0], "zed2@y.example");
    f = field(alice, put_id, &r, "emails", 1);
    assert_non_null(f);
    ASSERT_EQ(f->value.n_items, 1);
    ASSERT_STREQ(f->value.items[0], "mine@p.example");
    static const char drop_both[] = "BEGIN:VCARD\r\n"
                                    "VERSION:3.0\r\n"
                                    "UID:abc-123\r\n"
                                    "FN:Zed Alpha\r\n"
                                    "TITLE:CEO\r\n"
                                    "END:VCARD\r\n";
    ASSERT_OK(put(alice, "all", "abc-123.vcf", drop_both, NULL, 0, &res, err, sizeof(err)));
    f = field(alice, put_id, &r, "emails", 0);
    assert_true(f == NULL || f->value.n_items == 0);
    f = field(alice, put_id, &r, "emails", 1);
    assert_true(f == NULL || f->value.n_items == 0);
    kith_record_close(&r);
}

static void
put_refused(void **state)
{
    (void) state;
    kith_cardbook_put_t res;
    char err[256] = "";
    uint8_t id[KITH_REC_ID_LEN];
    uint64_t v = 0, before = max_seq(alice);
    seen_t s;
    members(alice, "all", &s, NULL);
    size_t n_cards = s.n;

    /* A new card in a group book. */
    ASSERT_ERR(put(alice, "g-sales", "new-1.vcf", card1, NULL, 0, &res, err, sizeof(err)),
               KITH_EPERM);
    /* An invalid e-mail: the field named, nothing changed. */
    static const char bad_mail[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bad Mail\r\n"
                                   "EMAIL:no-at-sign\r\nEND:VCARD\r\n";
    err[0] = '\0';
    ASSERT_ERR(put(alice, "all", "bad-mail.vcf", bad_mail, NULL, 0, &res, err, sizeof(err)),
               KITH_EPARSE);
    assert_non_null(strstr(err, "emails"));
    ASSERT_ERR(find(alice, "all", "bad-mail.vcf", id, &v), KITH_ENOTFOUND);
    /* The same on an existing card leaves it alone. */
    ASSERT_OK(find(alice, "all", "abc-123.vcf", id, &v));
    uint64_t v2 = 0;
    ASSERT_ERR(put(alice, "all", "abc-123.vcf", bad_mail, NULL, 0, &res, err, sizeof(err)),
               KITH_EPARSE);
    ASSERT_OK(find(alice, "all", "abc-123.vcf", id, &v2));
    ASSERT_EQ(v, v2);
    /* Two cards, no card, no FN. */
    static const char two[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:One\r\nEND:VCARD\r\n"
                              "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Two\r\nEND:VCARD\r\n";
    ASSERT_ERR(put(alice, "all", "two.vcf", two, NULL, 0, &res, err, sizeof(err)), KITH_EPARSE);
    ASSERT_ERR(put(alice, "all", "none.vcf", "", NULL, 0, &res, err, sizeof(err)), KITH_EPARSE);
    ASSERT_ERR(put(alice, "all", "none.vcf", "hello\r\n", NULL, 0, &res, err, sizeof(err)),
               KITH_EPARSE);
    /* (A card without FN is named from N, ORG or EMAIL by the vCard reader.) */
    static const char no_fn[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nTEL:+15550100\r\nEND:VCARD\r\n";
    ASSERT_ERR(put(alice, "all", "nofn.vcf", no_fn, NULL, 0, &res, err, sizeof(err)), KITH_EPARSE);
    /* If-Match on a card that does not exist. */
    ASSERT_ERR(put(alice, "all", "ghost.vcf", card1, &v, 0, &res, err, sizeof(err)), KITH_ESTALE);

    /* Bad names. */
    char long_name[301];
    memset(long_name, 'a', 300);
    long_name[300] = '\0';
    const char *bad_href[] = {"",        "a/b",       "..",        ".",
                              long_name, "a\x01.vcf", "tab\t.vcf", "del\x7f.vcf"};
    for (size_t i = 0; i < sizeof(bad_href) / sizeof(bad_href[0]); i++) {
        ASSERT_ERR(put(alice, "all", bad_href[i], card1, NULL, 0, &res, err, sizeof(err)),
                   KITH_EINVAL);
    }
    /* 255 bytes is the longest name. */
    long_name[KITH_CARDBOOK_HREF_MAX + 1] = '\0';
    ASSERT_ERR(put(alice, "all", long_name, card1, NULL, 0, &res, err, sizeof(err)), KITH_EINVAL);
    ASSERT_EQ(max_seq(alice), before);
    members(alice, "all", &s, NULL);
    ASSERT_EQ(s.n, n_cards);

    /* Deleting what is not there. */
    ASSERT_ERR(kith_cardbook_delete(alice, &(kith_cardbook_t){.name = "all"}, "ghost.vcf", NULL,
                                    ++now, err, sizeof(err)),
               KITH_ENOTFOUND);
}

static void
readers_and_others(void **state)
{
    (void) state;
    kith_cardbook_put_t res;
    char err[256] = "";
    uint8_t rid[KITH_REC_ID_LEN], id[KITH_REC_ID_LEN];
    add(alice, "Read Only Rita", KITH_ROLE_READER, rid);
    pair_deliver(alice, bob, rid);
    char href[2 * KITH_REC_ID_LEN + 5];
    sodium_bin2hex(href, sizeof(href), rid, KITH_REC_ID_LEN);
    strcat(href, ".vcf");
    uint64_t v = 0, v2 = 0;
    ASSERT_OK(find(bob, "all", href, id, &v));
    uint64_t before = max_seq(bob);
    static const char card[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Read Only Rita\r\n"
                               "TITLE:Changed\r\nEND:VCARD\r\n";
    ASSERT_ERR(put(bob, "all", href, card, NULL, 0, &res, err, sizeof(err)), KITH_EAUTH);
    assert_non_null(strstr(err, "read-only"));
    ASSERT_EQ(max_seq(bob), before);
    ASSERT_OK(find(bob, "all", href, id, &v2));
    ASSERT_EQ(v, v2);
    /* Not bob's to delete. */
    kith_cardbook_t all;
    ASSERT_OK(kith_cardbook_open(bob, "all", &all));
    ASSERT_ERR(kith_cardbook_delete(bob, &all, href, NULL, ++now, err, sizeof(err)), KITH_EAUTH);
    kith_cardbook_close(&all);
    ASSERT_OK(find(bob, "all", href, id, &v2));
    ASSERT_EQ(max_seq(bob), before);

    /* An editor may write the shared record, not delete it. */
    uint8_t eid[KITH_REC_ID_LEN];
    add(alice, "Edited Ed", KITH_ROLE_EDITOR, eid);
    sodium_bin2hex(href, sizeof(href), eid, KITH_REC_ID_LEN);
    strcat(href, ".vcf");
    pair_deliver(alice, bob, eid);
    static const char card2[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Edited Ed\r\n"
                                "EMAIL:ed@x.example\r\nTITLE:Bob's title\r\nEND:VCARD\r\n";
    ASSERT_OK(put(bob, "all", href, card2, NULL, 0, &res, err, sizeof(err)));
    assert_true(res.changed > 0);
    ASSERT_OK(kith_cardbook_open(bob, "all", &all));
    ASSERT_ERR(kith_cardbook_delete(bob, &all, href, NULL, ++now, err, sizeof(err)), KITH_EAUTH);
    kith_cardbook_close(&all);
}

static void
delete_and_restore(void **state)
{
    (void) state;
    char err[256] = "";
    uint8_t id[KITH_REC_ID_LEN];
    uint64_t v = 0;
    kith_cardbook_t all;
    ASSERT_OK(kith_cardbook_open(alice, "all", &all));
    ASSERT_OK(kith_cardbook_find(alice, &all, "abc-123.vcf", id, &v));
    uint64_t stale = v + 1;
    ASSERT_ERR(kith_cardbook_delete(alice, &all, "abc-123.vcf", &stale, ++now, err, sizeof(err)),
               KITH_ESTALE);
    ASSERT_OK(kith_cardbook_find(alice, &all, "abc-123.vcf", id, &v));
    ASSERT_OK(kith_cardbook_delete(alice, &all, "abc-123.vcf", &v, ++now, err, sizeof(err)));
    ASSERT_ERR(kith_cardbook_find(alice, &all, "abc-123.vcf", id, &v), KITH_ENOTFOUND);
    ASSERT_ERR(kith_cardbook_delete(alice, &all, "abc-123.vcf", NULL, ++now, err, sizeof(err)),
               KITH_ENOTFOUND);
    ASSERT_OK(kith_node_set_deleted(alice, put_id, 0, ++now));
    ASSERT_OK(kith_cardbook_find(alice, &all, "abc-123.vcf", id, &v));
    assert_memory_equal(id, put_id, KITH_REC_ID_LEN);
    kith_cardbook_close(&all);
}

/* A client that names its cards with 32 hex digits (a UUID without dashes) must find the
 * card where it put it. */
static void
put_hex_name(void **state)
{
    (void) state;
    kith_cardbook_put_t res;
    char err[256] = "";
    static const char name[] = "0123456789abcdef0123456789abcdef.vcf";
    static const char card[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Hex Hanna\r\nEND:VCARD\r\n";
    ASSERT_OK(put(alice, "all", name, card, NULL, 1, &res, err, sizeof(err)));
    ASSERT_EQ(res.created, 1);
    uint8_t id[KITH_REC_ID_LEN];
    uint64_t v = 0;
    int rc = find(alice, "all", name, id, &v);
    kith_cardbook_put_t again;
    ASSERT_OK(put(alice, "all", name, card, NULL, 0, &again, err, sizeof(err)));
    if (rc != KITH_OK) {
        print_message("find of a new card's hex name: %s; a second PUT created %d\n",
                      kith_strerror(rc), again.created);
        /* Fixed, kept as a regression test: kith_cardbook_put() of a new card under a name of 32
         * lower-case hex digits
         * + ".vcf" makes a record with a new id and keeps no name (canonical_href() says
         * the name is canonical), so the card is not where the client put it:
         * kith_cardbook_find() of that name gives KITH_ENOTFOUND, and a second PUT of
         * the same name makes a second record. */
        fail();
    }
    assert_memory_equal(id, res.id, KITH_REC_ID_LEN);
    ASSERT_EQ(again.created, 0);
}

/* A name given again after its card was deleted, and the deleted card restored: each card
 * keeps one name, no two cards share one. */
static void
name_reused_after_delete(void **state)
{
    (void) state;
    kith_cardbook_put_t first, second;
    char err[256] = "";
    static const char card[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Reused Rick\r\nEND:VCARD\r\n";
    ASSERT_OK(put(alice, "all", "reused.vcf", card, NULL, 1, &first, err, sizeof(err)));
    kith_cardbook_t all;
    ASSERT_OK(kith_cardbook_open(alice, "all", &all));
    ASSERT_OK(kith_cardbook_delete(alice, &all, "reused.vcf", NULL, ++now, err, sizeof(err)));
    kith_cardbook_close(&all);
    ASSERT_OK(put(alice, "all", "reused.vcf", card, NULL, 1, &second, err, sizeof(err)));
    ASSERT_EQ(second.created, 1);
    assert_memory_not_equal(first.id, second.id, KITH_REC_ID_LEN);
    uint8_t id[KITH_REC_ID_LEN];
    uint64_t v = 0;
    ASSERT_OK(find(alice, "all", "reused.vcf", id, &v));
    assert_memory_equal(id, second.id, KITH_REC_ID_LEN);

    ASSERT_OK(kith_node_set_deleted(alice, first.id, 0, ++now));
    seen_t s;
    members(alice, "all", &s, NULL);
    size_t named = 0;
    for (size_t i = 0; i < s.n; i++) {
        for (size_t k = i + 1; k < s.n; k++) {
            if (strcmp(s.href[i], s.href[k]) == 0) {
                print_message("two cards are listed as '%s'\n", s.href[i]);
                /* Fixed, kept as a regression test: kith_cardbook_put() of a new card under the
                 * name of a deleted card gives the name to the new record (dav.href.<mac>) but
                 * leaves the deleted record's sealed name (dav.name.<id>) in place; once the
                 * deleted record is restored (kith restore), kith_cardbook_members() lists both
                 * records under the same href, and kith_cardbook_find() of it reaches only one of
                 * them. */
                fail();
            }
        }
        named += strcmp(s.href[i], "reused.vcf") == 0;
    }
    ASSERT_EQ(named, 1);
}

/* A record unshared from the group leaves the group book: listed as not present since an
 * earlier token, and no longer found there. */
static void
unshare_leaves_group_book(void **state)
{
    (void) state;
    uint8_t id[KITH_REC_ID_LEN], got[KITH_REC_ID_LEN];
    add(alice, "Leaving Lou", KITH_ROLE_EDITOR, id);
    seen_t s;
    char token[KITH_CARDBOOK_TOKEN_MAX], now_token[KITH_CARDBOOK_TOKEN_MAX];
    members(alice, "g-sales", &s, token);
    ASSERT_EQ(count_of(&s, id, NULL, NULL), 1);
    char href[2 * KITH_REC_ID_LEN + 5];
    sodium_bin2hex(href, sizeof(href), id, KITH_REC_ID_LEN);
    strcat(href, ".vcf");
    uint64_t v = 0;
    ASSERT_OK(find(alice, "g-sales", href, got, &v));

    kith_share_target_t t = {0};
    memcpy(t.key, bob->id->pk, KITH_PK_LEN);
    ASSERT_OK(kith_store_begin(alice->store));
    int removed = 0;
    ASSERT_OK(kith_store_share_remove(alice->store, id, &t, &removed));
    ASSERT_EQ(removed, 1);
    ASSERT_OK(kith_store_commit(alice->store));
    int changed = 0;
    ASSERT_OK(kith_node_update_audience(alice, id, ++now, &changed));
    ASSERT_EQ(changed, 1);

    int present = 1;
    ASSERT_OK(changes(alice, "g-sales", token, &s, now_token));
    ASSERT_EQ(count_of(&s, id, &present, NULL), 1);
    ASSERT_EQ(present, 0);
    ASSERT_ERR(find(alice, "g-sales", href, got, &v), KITH_ENOTFOUND);
    ASSERT_OK(find(alice, "all", href, got, &v));
    members(alice, "g-sales", &s, NULL);
    ASSERT_EQ(count_of(&s, id, NULL, NULL), 0);
}

/* What GET gives of a record with both layers and intelligence, written back unchanged,
 * changes nothing. */
static void
get_put_round_trip(void **state)
{
    (void) state;
    uint8_t id[KITH_REC_ID_LEN];
    add(alice, "Round Trip Rae", 0, id);
    edit1(alice, id, "emails", KITH_EDIT_SET, "rae@x.example");
    edit1(alice, id, "emails", KITH_EDIT_PRIVATE, "rae@home.example");
    edit1(alice, id, "phones", KITH_EDIT_PRIVATE, "+15550199");
    edit1(alice, id, "title", KITH_EDIT_SET, "Shared title");
    edit1(alice, id, "influence", KITH_EDIT_SET, "3");
    edit1(alice, id, "tags", KITH_EDIT_SET, "vip");
    edit1(alice, id, "note", KITH_EDIT_PRIVATE, "line one; line two, with comma");
    kith_buf_t got;
    kith_buf_init(&got);
    ASSERT_OK(kith_cardbook_get(alice, id, &got));
    ASSERT_OK(kith_buf_append(&got, "", 1));
    char href[2 * KITH_REC_ID_LEN + 5];
    sodium_bin2hex(href, sizeof(href), id, KITH_REC_ID_LEN);
    strcat(href, ".vcf");
    uint64_t before = max_seq(alice);
    kith_cardbook_put_t res;
    char err[256] = "";
    ASSERT_OK(put(alice, "all", href, (const char *) got.data, NULL, 0, &res, err, sizeof(err)));
    if (res.changed != 0) {
        print_message("the card read back changed %zu fields:\n%s", res.changed,
                      (const char *) got.data);
    }
    ASSERT_EQ(res.changed, 0);
    ASSERT_EQ(max_seq(alice), before);
    kith_buf_close(&got);
}

/* A single value in both layers (the private one shown), and a card without it: the field
 * is gone from the card the client reads next. */
static void
put_removes_value_in_both_layers(void **state)
{
    (void) state;
    uint8_t id[KITH_REC_ID_LEN];
    add(alice, "Two Layer Tia", 0, id);
    edit1(alice, id, "title", KITH_EDIT_SET, "Shared title");
    edit1(alice, id, "title", KITH_EDIT_PRIVATE, "My title");
    char href[2 * KITH_REC_ID_LEN + 5];
    sodium_bin2hex(href, sizeof(href), id, KITH_REC_ID_LEN);
    strcat(href, ".vcf");
    kith_buf_t got;
    kith_buf_init(&got);
    ASSERT_OK(kith_cardbook_get(alice, id, &got));
    ASSERT_OK(kith_buf_append(&got, "", 1));
    assert_non_null(strstr((const char *) got.data, "TITLE:My title"));
    assert_null(strstr((const char *) got.data, "Shared title"));
    kith_buf_close(&got);

    kith_cardbook_put_t res;
    char err[256] = "";
    static const char card[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Two Layer Tia\r\nEND:VCARD\r\n";
    ASSERT_OK(put(alice, "all", href, card, NULL, 0, &res, err, sizeof(err)));
    kith_buf_init(&got);
    ASSERT_OK(kith_cardbook_get(alice, id, &got));
    ASSERT_OK(kith_buf_append(&got, "", 1));
    int back = strstr((const char *) got.data, "TITLE") != NULL;
    if (back) {
        print_message("after a PUT without TITLE the card reads:\n%s", (const char *) got.data);
    }
    kith_buf_close(&got);
    if (back) {
        /* Fixed, kept as a regression test: kith_cardbook_put() of a card without a field that has
         * a value in both layers unsets only the private value (diff_field() makes one
         * KITH_EDIT_UNSET, sticky privacy sends it to the private layer), so the shared value shows
         * again: the client removed TITLE and reads it back, with the old shared value. */
        fail();
    }
}

/* A value out of a field's range is refused, the field named. */
static void
put_intelligence_out_of_range(void **state)
{
    (void) state;
    kith_cardbook_put_t res;
    char err[256] = "";
    uint64_t before = max_seq(alice);
    static const char card[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Range Ron\r\n"
                               "X-KITH-INFLUENCE:9\r\nEND:VCARD\r\n";
    ASSERT_ERR(put(alice, "all", "range.vcf", card, NULL, 0, &res, err, sizeof(err)), KITH_EPARSE);
    assert_non_null(strstr(err, "influence"));
    ASSERT_EQ(max_seq(alice), before);
}

/* Values a client formats its own way (spaces in a phone number, a capitalised domain,
 * folded lines, parameters): written twice, or read back and written, nothing changes the
 * second time. */
static void
put_formatted_values_twice(void **state)
{
    (void) state;
    static const char card[] = "BEGIN:VCARD\r\n"
                               "VERSION:3.0\r\n"
                               "UID:fmt-1\r\n"
                               "FN:Formatted Fay\r\n"
                               "N:Fay;Formatted;;;\r\n"
                               "EMAIL;TYPE=INTERNET,WORK:Fay@Example.COM\r\n"
                               "TEL;TYPE=CELL:+1 (555) 010-0199\r\n"
                               "ORG:Fay Corp;Sales\r\n"
                               "NOTE:a long note that a client folds over\r\n  two lines\r\n"
                               "URL:https://example.com/fay\r\n"
                               "END:VCARD\r\n";
    kith_cardbook_put_t res;
    char err[256] = "";
    ASSERT_OK(put(alice, "all", "fmt.vcf", card, NULL, 1, &res, err, sizeof(err)));
    ASSERT_EQ(res.created, 1);
    uint64_t before = max_seq(alice);
    ASSERT_OK(put(alice, "all", "fmt.vcf", card, NULL, 0, &res, err, sizeof(err)));
    if (res.changed != 0) {
        print_message("the same card again changed %zu fields\n", res.changed);
    }
    ASSERT_EQ(res.changed, 0);
    ASSERT_EQ(max_seq(alice), before);
    kith_buf_t got;
    kith_buf_init(&got);
    ASSERT_OK(kith_cardbook_get(alice, res.id, &got));
    ASSERT_OK(kith_buf_append(&got, "", 1));
    ASSERT_OK(
        put(alice, "all", "fmt.vcf", (const char *) got.data, NULL, 0, &res, err, sizeof(err)));
    if (res.changed != 0) {
        print_message("the card read back changed %zu fields:\n%s", res.changed,
                      (const char *) got.data);
    }
    ASSERT_EQ(res.changed, 0);
    ASSERT_EQ(max_seq(alice), before);
    kith_buf_close(&got);
}

/* A kept line that repeats a private value (TEL;TYPE=CELL of a private phone) is kept in
 * the private layer: sharing the line would share the number. */
static void
kept_line_of_private_value(void **state)
{
    (void) state;
    kith_cardbook_put_t res;
    char err[256] = "";
    uint8_t id[KITH_REC_ID_LEN];
    uint64_t v;
    static const char first[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:pv-1\r\nFN:Pia Vee\r\n"
                                "EMAIL:pia@v.example\r\nEND:VCARD\r\n";
    ASSERT_OK(put(alice, "all", "pv-1.vcf", first, NULL, 0, &res, err, sizeof(err)));
    ASSERT_OK(find(alice, "all", "pv-1.vcf", id, &v));
    edit1(alice, id, "phones", KITH_EDIT_PRIVATE, "+1 555 0001");
    static const char second[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:pv-1\r\nFN:Pia Vee\r\n"
                                 "EMAIL:pia@v.example\r\nTEL;TYPE=CELL:+1 555 0001\r\n"
                                 "END:VCARD\r\n";
    ASSERT_OK(put(alice, "all", "pv-1.vcf", second, NULL, 0, &res, err, sizeof(err)));
    kith_record_t r;
    kith_record_init(&r);
    const kith_rfield_t *shared = field(alice, id, &r, "vcard_extra", 0);
    for (size_t i = 0; shared != NULL && i < shared->value.n_items; i++) {
        assert_null(strstr(shared->value.items[i], "0001"));
    }
    const kith_rfield_t *priv = field(alice, id, &r, "vcard_extra", 1);
    assert_non_null(priv);
    ASSERT_EQ(priv->value.n_items, 1);
    ASSERT_STREQ(priv->value.items[0], "TEL;TYPE=CELL:+1 555 0001");
    assert_true(kith_card_line_private(&r, "X-FOO:1") == 0);
    assert_true(kith_card_line_private(&r, "item1.TEL;TYPE=HOME:+1 555 0002") == 1);
    kith_record_close(&r);
    kith_buf_t got;
    kith_buf_init(&got);
    ASSERT_OK(kith_cardbook_get(alice, id, &got));
    ASSERT_OK(kith_buf_append(&got, "", 1));
    assert_non_null(strstr((const char *) got.data, "TEL;TYPE=CELL:+1 555 0001"));
    kith_buf_close(&got);
    /* The client edits the private number: the new one is private too, and so is its
     * kept line (the first pass removes the only private items, the second adds). */
    static const char third[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:pv-1\r\nFN:Pia Vee\r\n"
                                "EMAIL:pia@v.example\r\nTEL;TYPE=CELL:+1 555 0003\r\n"
                                "END:VCARD\r\n";
    ASSERT_OK(put(alice, "all", "pv-1.vcf", third, NULL, 0, &res, err, sizeof(err)));
    kith_record_init(&r);
    shared = field(alice, id, &r, "phones", 0);
    assert_true(shared == NULL || shared->value.n_items == 0);
    priv = field(alice, id, &r, "phones", 1);
    assert_non_null(priv);
    ASSERT_EQ(priv->value.n_items, 1);
    ASSERT_STREQ(priv->value.items[0], "+1 555 0003");
    shared = field(alice, id, &r, "vcard_extra", 0);
    for (size_t i = 0; shared != NULL && i < shared->value.n_items; i++) {
        assert_null(strstr(shared->value.items[i], "555 000"));
    }
    kith_record_close(&r);
}

static void
password(void **state)
{
    (void) state;
    char a[KITH_CARDBOOK_PASSWORD_LEN + 1], a2[KITH_CARDBOOK_PASSWORD_LEN + 1],
        a3[KITH_CARDBOOK_PASSWORD_LEN + 1], b[KITH_CARDBOOK_PASSWORD_LEN + 1];
    ASSERT_OK(kith_cardbook_password(alice, a));
    ASSERT_EQ(strlen(a), KITH_CARDBOOK_PASSWORD_LEN);
    ASSERT_EQ(strspn(a, "abcdefghijklmnopqrstuvwxyz234567"), KITH_CARDBOOK_PASSWORD_LEN);
    ASSERT_OK(kith_cardbook_password(alice, a2));
    ASSERT_STREQ(a, a2);
    ASSERT_OK(kith_cardbook_password(bob, b));
    ASSERT_EQ(strlen(b), KITH_CARDBOOK_PASSWORD_LEN);
    assert_string_not_equal(a, b);
    ASSERT_OK(kith_cardbook_password_reset(alice));
    ASSERT_OK(kith_cardbook_password(alice, a2));
    ASSERT_EQ(strspn(a2, "abcdefghijklmnopqrstuvwxyz234567"), KITH_CARDBOOK_PASSWORD_LEN);
    assert_string_not_equal(a, a2);
    ASSERT_OK(kith_cardbook_password_reset(alice));
    ASSERT_OK(kith_cardbook_password(alice, a3));
    assert_string_not_equal(a2, a3);
    assert_string_not_equal(a, a3);
    /* bob's is his own. */
    ASSERT_OK(kith_cardbook_password(bob, a2));
    ASSERT_STREQ(b, a2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(books),
        cmocka_unit_test(membership),
        cmocka_unit_test(versions_and_tokens),
        cmocka_unit_test(get_card),
        cmocka_unit_test(put_new_and_again),
        cmocka_unit_test(put_edits),
        cmocka_unit_test(put_list_across_layers),
        cmocka_unit_test(put_refused),
        cmocka_unit_test(readers_and_others),
        cmocka_unit_test(delete_and_restore),
        cmocka_unit_test(put_hex_name),
        cmocka_unit_test(name_reused_after_delete),
        cmocka_unit_test(unshare_leaves_group_book),
        cmocka_unit_test(get_put_round_trip),
        cmocka_unit_test(put_removes_value_in_both_layers),
        cmocka_unit_test(put_intelligence_out_of_range),
        cmocka_unit_test(put_formatted_values_twice),
        cmocka_unit_test(kept_line_of_private_value),
        cmocka_unit_test(password),
    };
    return cmocka_run_group_tests(tests, node_pair_setup, node_pair_teardown);
}
