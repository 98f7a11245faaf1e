/*
 * The web UI's JSON API (proto/WEB.md) as the application layer sees it: one call is one
 * request, decided and answered on the store thread, with no HTTP in it (net/web.c does
 * the transport, the login and the checks). Reads come from the roster (node/roster.h),
 * an in-memory index kept up to date from the store; writes go through the same functions
 * as the CLI (node/edit.h, node/share.h, node/import.h), each in one transaction.
 *
 * Request bodies are untrusted JSON, parsed with jansson under limits: unknown members,
 * wrong types and over-long values are refused with 400 and a sentence, before anything
 * is written.
 */
#ifndef KITH_WEBAPI_H
#define KITH_WEBAPI_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"
#include "util/buf.h"

typedef struct kith_webapi kith_webapi_t;

typedef struct {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* "/api/records/ID/edit": without the query */
    const char *query;  /* after '?', still percent-encoded; "" for none */
    const uint8_t *body;
    size_t body_len;
    const char *status_json; /* the daemon's status (peers online), or NULL */
    int64_t today_days;      /* days since 1970-01-01, for "stale" */
} kith_webapi_request_t;

typedef struct {
    int status;               /* 200, 201, 400, ... */
    const char *content_type; /* static */
    kith_buf_t body;
    int changed; /* records were written: push, and tell open pages */
} kith_webapi_answer_t;

int kith_webapi_new(kith_webapi_t **out);
void kith_webapi_free(kith_webapi_t *a);

/* 1 if path is one of the API's (then kith_webapi_call() answers it). */
int kith_webapi_handles(const char *path);

/* Answers one request. The answer's body is JSON (errors too: {"error": "..."}); its
 * status says how it went. Returns KITH_OK unless memory ran out (then a 500 is set). */
int kith_webapi_call(kith_webapi_t *a, kith_node_t *n, const kith_webapi_request_t *r,
                     kith_webapi_answer_t *ans);

/* Brings the roster up to date with the store; *seq the store's newest op sequence. */
int kith_webapi_refresh(kith_webapi_t *a, kith_node_t *n, uint64_t *seq);

/* Adds the peer a pairing from the page brought (name as they gave it, key), in one
 * transaction: under a free local name (its name into local, 65 bytes), in no group.
 * KITH_EEXISTS when the key is a peer already (local gets its name), KITH_EINVAL when it
 * is this node's own; a sentence for the page into sentence either way. */
int kith_webapi_add_paired(kith_node_t *n, const char *name, const uint8_t key[KITH_PK_LEN],
                           char local[static 65], char *sentence, size_t cap);

void kith_webapi_answer_init(kith_webapi_answer_t *ans);
void kith_webapi_answer_close(kith_webapi_answer_t *ans);

#endif
