/*
 * Collecting a user's field changes (--set, --add, --remove, --unset, --private,
 * --publish) for the application layer's kith_node_edit() and kith_node_add_record()
 * (node/edit.h says what they become).
 *
 * Arguments are checked against the schema as they are parsed, so a bad value is
 * reported before the store is touched; cli_change_edits() then resolves record
 * references (REF, TYPE:REF) to ids. Parsing and resolving is all the command line does:
 * which layer a change goes to, and which ops it needs, is decided below it.
 */
#ifndef KITH_CLI_CHANGE_H
#define KITH_CLI_CHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "model/schema.h"
#include "node/edit.h"
#include "node/node.h"

/* A commit error already explained to the user. */
#define CLI_CHANGE_REPORTED (-1000)

enum {
    CLI_CHANGE_SET = KITH_EDIT_SET,         /* --set F=V */
    CLI_CHANGE_ADD = KITH_EDIT_ADD,         /* --add F=V: list item */
    CLI_CHANGE_UNSET = KITH_EDIT_UNSET,     /* --unset F */
    CLI_CHANGE_PRIVATE = KITH_EDIT_PRIVATE, /* --private F=V: set in the private layer */
    CLI_CHANGE_REMOVE = KITH_EDIT_REMOVE,   /* --remove F=V: list item */
    CLI_CHANGE_PUBLISH = KITH_EDIT_PUBLISH, /* --publish F[=ITEM]: private -> shared */
};

typedef struct {
    char name[KITH_FIELD_NAME_MAX + 1];
    int mode;
    char **texts; /* raw items as typed (argv); REFs are resolved by cli_change_edits() */
    size_t n_texts;
    char **resolved; /* the items as the node layer takes them, owned */
} cli_change_item_t;

typedef struct {
    cli_change_item_t *items;
    size_t n;
    kith_edit_t *edits; /* cli_change_edits()'s result, owned */
} cli_change_t;

void cli_change_init(cli_change_t *ch);
void cli_change_close(cli_change_t *ch);
/* Adds "FIELD=VALUE" (or "FIELD" for unset and publish). Prints the error and returns -1
 * if bad. */
int cli_change_arg(cli_change_t *ch, int mode, const char *arg);
int cli_change_arg_kv(cli_change_t *ch, int mode, const char *field, const char *value);
/* Resolves the change's references against n and gives it as edits (valid until
 * cli_change_close()). Prints the error and returns -1 if a reference does not resolve. */
int cli_change_edits(cli_change_t *ch, kith_node_t *n, const kith_edit_t **edits, size_t *n_edits);

#endif
