/*
 * Collecting a user's field changes (--set, --add, --unset, --private) into ops.
 *
 * Arguments are checked against the schema as they are parsed, so a bad value is
 * reported before the store is touched. cli_change_commit() then turns them into at most
 * two ops on one record: one shared, one private.
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

enum { CLI_CHANGE_SET, CLI_CHANGE_ADD, CLI_CHANGE_UNSET, CLI_CHANGE_PRIVATE };

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
/* Adds "FIELD=VALUE" (or "FIELD" for unset). Prints the error and returns -1 if bad. */
int cli_change_arg(cli_change_t *ch, int mode, const char *arg);
int cli_change_arg_kv(cli_change_t *ch, int mode, const char *field, const char *value);
/* Builds and applies the ops on record id (owner given; kind >= 0 for a new record; cur is
 * the current record or NULL). Returns KITH_OK, a kith error, or CLI_CHANGE_REPORTED. */
int cli_change_commit(cli_change_t *ch, kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN],
                      const uint8_t owner[KITH_PK_LEN], int kind, const kith_record_t *cur,
                      uint64_t now_ms);

#endif
