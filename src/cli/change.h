/*
 * Collecting a user's field changes (--set, --add, --unset, --private) into ops.
 *
 * Arguments are checked against the schema as they are parsed, so a bad value is
 * reported before the store is touched. cli_change_commit() then turns them into at most
 * two ops on one record: one shared, one private (proto/OPS.md: the private layer).
 *
 * Privacy is sticky: a field that has a private value on this node is edited in the
 * private layer by --set, --add, --remove and --unset alike; only --publish moves it to
 * the shared record. List changes are element operations (--add adds items, --remove
 * removes the instances this node sees), so nothing else of the list is copied into an
 * op, and concurrent additions on other nodes survive.
 */
#ifndef KITH_CLI_CHANGE_H
#define KITH_CLI_CHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "model/record.h"
#include "model/schema.h"
#include "store/node.h"

/* A commit error already explained to the user. */
#define CLI_CHANGE_REPORTED (-1000)

enum {
    CLI_CHANGE_SET,     /* --set F=V */
    CLI_CHANGE_ADD,     /* --add F=V: list item */
    CLI_CHANGE_UNSET,   /* --unset F */
    CLI_CHANGE_PRIVATE, /* --private F=V: set in the private layer */
    CLI_CHANGE_REMOVE,  /* --remove F=V: list item */
    CLI_CHANGE_PUBLISH, /* --publish F: private value -> shared record */
};

typedef struct {
    char name[KITH_FIELD_NAME_MAX + 1];
    int mode;
    char **texts; /* raw items as typed; REFs are resolved at commit */
    size_t n_texts;
} cli_change_item_t;

typedef struct {
    cli_change_item_t *items;
    size_t n;
} cli_change_t;

void cli_change_init(cli_change_t *ch);
void cli_change_close(cli_change_t *ch);
/* Adds "FIELD=VALUE" (or "FIELD" for unset and publish). Prints the error and returns -1
 * if bad. */
int cli_change_arg(cli_change_t *ch, int mode, const char *arg);
int cli_change_arg_kv(cli_change_t *ch, int mode, const char *field, const char *value);
/* What cli_change_commit() did, for the message to the user. */
typedef struct {
    size_t shared;       /* field changes in the shared op */
    size_t private;      /* field changes in the private op */
    size_t kept_private; /* --set/--add/--remove/--unset that went private by stickiness */
    char first_kept[KITH_FIELD_NAME_MAX + 1]; /* the first of those, for the hint */
} cli_change_result_t;

/* 1 if the change has anything for the shared record (a new record always has). */
int cli_change_is_shared(const cli_change_t *ch, const kith_record_t *cur);
/* Builds and applies the ops on record id (owner given; kind >= 0 for a new record; cur is
 * the current record or NULL). A node that may not edit the shared record (a reader, or
 * no longer in the audience) may still change its private layer; a shared change is then
 * refused before anything is written. Returns KITH_OK, a kith error, or
 * CLI_CHANGE_REPORTED. result may be NULL. */
int cli_change_commit(cli_change_t *ch, kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN],
                      const uint8_t owner[KITH_PK_LEN], int kind, const kith_record_t *cur,
                      uint64_t now_ms, cli_change_result_t *result);

#endif
