/*
 * Shared pieces of the kith command: the command table, option parsing helpers, opening
 * the node, and reporting errors. Only the CLI prints or exits; the library never does.
 */
#ifndef KITH_CLI_H
#define KITH_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model/record.h"
#include "node/node.h"
#include "util/buf.h"

/* Exit codes: 0 success, 1 failure (nothing changed), 2 usage error. */
#define EXIT_USAGE 2

typedef struct {
    const char *home;    /* --home, or NULL */
    const char *command; /* the command's name */
    int writes;          /* 1 if the command may change the store (main.c decides) */
} cli_globals_t;

typedef struct {
    const char *name;
    int (*fn)(cli_globals_t *g, int argc, char **argv);
    const char *usage;   /* one line: arguments */
    const char *summary; /* one line: what it does */
    const char *help;    /* the rest of `kith COMMAND --help` */
} cli_command_t;

/* The command table (main.c) and lookup. */
extern const cli_command_t cli_commands[];
const cli_command_t *cli_find_command(const char *name);

/* Prints "kith: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the usage error and a hint to run --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints `kith CMD --help` text to stdout. */
void cli_print_help(const cli_command_t *c);
/* 1 if argv holds --help or -h before any "--". */
int cli_wants_help(int argc, char **argv);

/* Resolves the home and opens the node, asking for a passphrase when the identity needs
 * one ($KITH_PASSPHRASE, else the terminal). On failure prints why and returns NULL. A
 * read-only home opens for commands that only read; for the others (g->writes) it is
 * refused with a message saying so, before anything is done. */
kith_node_t *cli_open_node(cli_globals_t *g);
/* cli_open_node() with kith_node_open_flags() flags (KITH_OPEN_UNCHECKED for doctor). */
kith_node_t *cli_open_node_flags(cli_globals_t *g, int flags);
/* The resolved home directory (static storage), or NULL after printing why. */
const char *cli_home(cli_globals_t *g);
/* Reads a passphrase: $KITH_PASSPHRASE when set, else from the terminal without echo
 * (twice when confirm). Returns a sodium_malloc'd string the caller frees with
 * cli_passphrase_free(), or NULL after printing why. */
char *cli_read_passphrase(const char *prompt, int confirm);
void cli_passphrase_free(char *p);
/* cli_read_passphrase() with another environment variable (without the '$'), such as
 * KITH_BACKUP_PASSPHRASE. */
char *cli_read_secret(const char *env_name, const char *prompt, int confirm);

/* Resolves REF to a live record's id, printing a clear error (with candidates when
 * ambiguous, and a hint when REF names a deleted record). Returns 0 on success. */
int cli_resolve(kith_node_t *n, const char *ref, uint8_t id[static KITH_REC_ID_LEN]);
/* The same, deleted records included (show, log, restore). */
int cli_resolve_any(kith_node_t *n, const char *ref, uint8_t id[static KITH_REC_ID_LEN]);

/* 1 if s is a valid peer or group name: 1 to 64 of A-Z a-z 0-9 . _ -, not starting with
 * '@' or '-'. */
int cli_valid_name(const char *s);

/* Resolves a share target as the user wrote it (a peer's name or @group; see
 * kith_node_share_target()), printing a clear error. Returns 0 on success. */
int cli_share_target(kith_node_t *n, const char *text, kith_share_target_t *out);

/* Hex of a record id: full (33 bytes) and the 8-digit short form shown to users. */
void cli_id_hex(const uint8_t id[static KITH_REC_ID_LEN], char out[static 33]);

/* Prints a record for people (kith show). */
void cli_record_print(kith_node_t *n, const kith_record_t *r, FILE *out);
/* One line for list/search; note (may be NULL) is shown in brackets at its end. */
void cli_record_line(const kith_record_t *r, const char *note, FILE *out);
/* Tells a daemon running for this home that the store changed, so that it pushes the
 * change to peers at once. Silent when no daemon runs. */
void cli_poke(const char *home);
/* Asks a yes/no question (printf-style, " [y/N] " is appended) on the terminal; 1 for yes.
 * yes (a --yes flag) answers it without asking. Without a terminal on stdin the answer is
 * yes when the command alone says enough (need_tty 0), else no, with a hint to use --yes. */
int cli_confirm(int yes, int need_tty, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes buf to stdout and reports failure (e.g. a closed pipe or a full disk). */
int cli_write_stdout(const kith_buf_t *buf);

/* Commands. */
int cmd_init(cli_globals_t *g, int argc, char **argv);
int cmd_id(cli_globals_t *g, int argc, char **argv);
int cmd_peer(cli_globals_t *g, int argc, char **argv);
int cmd_add(cli_globals_t *g, int argc, char **argv);
int cmd_edit(cli_globals_t *g, int argc, char **argv);
int cmd_show(cli_globals_t *g, int argc, char **argv);
int cmd_list(cli_globals_t *g, int argc, char **argv);
int cmd_search(cli_globals_t *g, int argc, char **argv);
int cmd_log(cli_globals_t *g, int argc, char **argv);
int cmd_rm(cli_globals_t *g, int argc, char **argv);
int cmd_restore(cli_globals_t *g, int argc, char **argv);
int cmd_share(cli_globals_t *g, int argc, char **argv);
int cmd_unshare(cli_globals_t *g, int argc, char **argv);
int cmd_import(cli_globals_t *g, int argc, char **argv);
int cmd_export(cli_globals_t *g, int argc, char **argv);
int cmd_help(cli_globals_t *g, int argc, char **argv);
int cmd_serve(cli_globals_t *g, int argc, char **argv);
int cmd_dav(cli_globals_t *g, int argc, char **argv);
int cmd_ui(cli_globals_t *g, int argc, char **argv);
int cmd_sync(cli_globals_t *g, int argc, char **argv);
int cmd_status(cli_globals_t *g, int argc, char **argv);
int cmd_send(cli_globals_t *g, int argc, char **argv);
int cmd_receive(cli_globals_t *g, int argc, char **argv);
int cmd_pair(cli_globals_t *g, int argc, char **argv);
int cmd_doctor(cli_globals_t *g, int argc, char **argv);
int cmd_backup(cli_globals_t *g, int argc, char **argv);
int cmd_merge(cli_globals_t *g, int argc, char **argv);
int cmd_duplicates(cli_globals_t *g, int argc, char **argv);
/* kith restore --backup FILE [--home DIR] (cmd_restore hands over when it sees --backup). */
int cmd_restore_backup(cli_globals_t *g, int argc, char **argv);

#endif
