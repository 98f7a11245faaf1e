/*
 * kith: the command-line front end. main() parses the global options and dispatches
 * through the command table; each command lives in a cmd_*.c file.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "kith/error.h"
#include "kith/kith.h"

const cli_command_t cli_commands[] = {
    {"init", cmd_init, "[--name NAME] [--passphrase | --identity FILE]",
     "create this node's identity and store",
     "Creates a new identity (an Ed25519 key pair) and an empty encrypted store in the home\n"
     "directory. Refuses to touch a home that already holds a node.\n\n"
     "  --identity FILE keep the identity in FILE (a copy of an identity.key) instead of\n"
     "                  making one: with 'kith import json' this restores a node from backups\n"
     "  --name NAME     how this node introduces itself to colleagues\n"
     "  --passphrase    protect the keys at rest with a passphrase (asked on the terminal,\n"
     "                  or read from $KITH_PASSPHRASE when there is no terminal)\n"},
    {"id", cmd_id, "[--json]", "print this node's ID",
     "Prints the node ID (the public key with check characters) on the first line, then the\n"
     "name and the fingerprint. Give the node ID to colleagues for 'kith peer add'.\n\n"
     "  --json          {\"node_id\", \"public_key\", \"name\", \"fingerprint\"}\n"},
    {"peer", cmd_peer, "add NAME NODE-ID [options] | edit NAME [options] | list [--json] | rm NAME",
     "manage trusted colleagues: add, edit, list, rm",
     "  peer add NAME NODE-ID [--addr HOST:PORT] [--group G]... [--self]\n"
     "      trust a colleague's node. The node ID's check characters are verified.\n"
     "      --addr     where the node can be reached (default port 5484)\n"
     "      --group    put the peer in a group (share with @G); repeatable\n"
     "      --self     one of your own devices: it receives your private fields too\n"
     "  peer edit NAME [--name NEW] [--group G]... [--groups G1,G2] [--add-group G]\n"
     "                 [--remove-group G] [--addr HOST:PORT | --no-addr] [--self | --not-self]\n"
     "      change a peer. Records shared with a group it joins are shared with it at once;\n"
     "      those shared with a group it leaves are not any more. Shares follow the peer's\n"
     "      node, not its name, so a rename changes none.\n"
     "      --name NEW          a new local name\n"
     "      --group G           its groups become those given (repeatable)\n"
     "      --groups G1,G2      the same, as one list (\"\" for none)\n"
     "      --add-group G       add it to a group; --remove-group G takes it out\n"
     "      --addr, --no-addr   set or forget where it can be reached\n"
     "      --self, --not-self  whether it is one of your own devices\n"
     "  peer list [--json]   the trusted peers\n"
     "  peer rm NAME [--yes]\n"
     "      stop trusting a peer: everything shared with it is unshared and its sessions\n"
     "      end. On a terminal it asks first, saying how many records that unshares;\n"
     "      --yes (-y) does not ask.\n"},
    {"add", cmd_add,
     "person|org --name NAME [--set F=V]... [--private F=V]... [--share PEER|@GROUP]...",
     "add a record",
     "Adds a person or an organisation and prints its id on the first line.\n\n"
     "  --name NAME         the display name (required)\n"
     "  --set FIELD=VALUE   set a field; repeat for several items of a list\n"
     "  --private FIELD=VALUE  a field that never leaves this node\n"
     "  --share PEER|@GROUP share with a peer or group as editors\n"
     "  --read-only         with --share: as readers\n\n"
     "Fields are listed by 'kith help fields'.\n"},
    {"edit", cmd_edit,
     "REF [--set F=V]... [--add F=V]... [--remove F=V]... [--unset F]... [--private F=V]...\n"
     "     [--publish F]... [--yes]",
     "change a record",
     "  --set FIELD=VALUE      replace a field (for a list: all --set items form the list)\n"
     "  --add FIELD=VALUE      add an item to a list field\n"
     "  --remove FIELD=VALUE   remove an item from a list field\n"
     "  --unset FIELD          remove a field\n"
     "  --private FIELD=VALUE  set a private value: it never leaves your devices\n"
     "  --publish FIELD        move a private value into the shared record (asks first on a\n"
     "                         terminal; --yes does not ask); FIELD=ITEM moves one item of\n"
     "                         a private list\n\n"
     "Privacy is sticky: once a field has a private value on this node, --set, --add and\n"
     "--unset change the private value, never the shared one; only --publish shares it.\n"
     "--remove takes an item from the layer that holds it. Anyone who holds a record,\n"
     "reader or editor, may keep private values on\n"
     "it; they survive the owner's edits, unsharing and deletion. List changes merge with\n"
     "colleagues' concurrent changes item by item.\n\n"
     "REF is a record id prefix (4+ hex digits) or an exact name. A shared change the owner\n"
     "would ignore (read-only, or no longer shared with you) is refused with exit status 1.\n"},
    {"show", cmd_show, "REF [--json]", "show one record",
     "Shows every field, private values marked, the owner and who the record is shared\n"
     "with: for your own records, the groups and peers you shared it with and who is in\n"
     "each group now. Deleted records too.\n\n"
     "  --json   one JSON object (\"audience\": every peer it reaches; \"shares\": what you\n"
     "           shared it with, null for a record you do not own; \"private\": your\n"
     "           private values)\n"},
    {"list", cmd_list, "[--json] [--kind person|org] [--deleted]", "list records",
     "  --json          a JSON array\n  --kind KIND     only people or only organisations\n"
     "  --deleted       deleted records instead (the trash; 'kith restore' brings one back)\n"},
    {"search", cmd_search, "TEXT [--json]", "find records containing TEXT",
     "Matches any field, ignoring case and accents ('odegard' finds 'Ødegård').\n\n"
     "  --json   a JSON array\n"},
    {"log", cmd_log, "REF [--json]", "show who changed what and when",
     "Lists the ops of a record, oldest first: time, author, and each field changed with\n"
     "its value before and after (private values are yours, and shown only here).\n"
     "Changes that had no effect (their author was not an editor) are marked as ignored.\n"
     "Works on deleted records too.\n\n"
     "  --json   an array of {time, hlc, author, author_name, effective, private,\n"
     "           created?, deleted?, audience?, changes: [{field, before, after}]}\n"},
    {"rm", cmd_rm, "REF [--yes]", "delete a record you own (reversible)",
     "Deletes the record here and, through sync, for everyone it is shared with. When it\n"
     "is shared, says with whom and asks first (on a terminal). Nothing is lost: the\n"
     "record, its history ('kith log') and everyone's private notes on it are kept, and\n"
     "'kith restore REF' brings it back; 'kith list --deleted' shows deleted records.\n\n"
     "  --yes, -y   do not ask\n"},
    {"restore", cmd_restore, "REF | --backup FILE [--home DIR]",
     "bring back a record you deleted, or a whole node from a backup",
     "kith restore REF\n"
     "  Undoes 'kith rm': the record is live again here and, through sync, for everyone it\n"
     "  is shared with. REF may name a deleted record ('kith list --deleted').\n\n"
     "kith restore --backup FILE [--home DIR]\n"
     "  Makes a new home from a file written by 'kith backup', on this machine or a new\n"
     "  one. The home (--home, else the usual one) must not exist or be an empty directory:\n"
     "  a home that holds a node is never touched. Asks for the backup passphrase (on the\n"
     "  terminal, or $KITH_BACKUP_PASSPHRASE), and for the node's own passphrase if it has\n"
     "  one ($KITH_PASSPHRASE). Before writing anything it checks the whole backup: every\n"
     "  byte authentic, nothing missing; then it writes a directory beside the home,\n"
     "  checks the store there as 'kith doctor' does, and renames it into place, so that\n"
     "  an interruption leaves no home or a complete one. A wrong passphrase or a damaged\n"
     "  file restores nothing. The restored node is the same node as the one backed up:\n"
     "  do not run both.\n\n"
     "  Both jobs share the name 'restore' (bringing something back); --backup tells them\n"
     "  apart, and 'kith restore REF' works as it always did.\n"},
    {"merge", cmd_merge, "A B [--dry-run] [--force] [--json] [--yes]",
     "fold duplicate record B into record A",
     "Folds record B into record A, then deletes B (marked 'merged into A'), in one\n"
     "transaction of signed changes: on any refusal or error nothing is written.\n\n"
     "  - B must be yours (it is deleted); A must be yours or shared with you as editor.\n"
     "    A person and an organisation are not merged without --force.\n"
     "  - Lists: A gains B's items it lacks (e-mails compared ignoring case, LinkedIn URLs\n"
     "    as 'kith import' compares them). Single values: A takes B's where it has none;\n"
     "    where both differ A's stays, and B's is shown (it stays in 'kith log B').\n"
     "  - Privacy: a private value of B goes to A's private layer; a shared one to A's\n"
     "    shared record, unless that field is private on A (privacy is sticky).\n"
     "  - Records pointing at B (reports_to, relations TYPE:B) are repointed at A where\n"
     "    you may edit them; the others are listed.\n"
     "  - Sharing is never changed: if B was shared with peers or groups A is not, the\n"
     "    'kith share A --with ...' commands are printed for you to run or not.\n"
     "  - 'kith restore B' brings B back; A keeps what it gained.\n\n"
     "  --dry-run, -n   show what would happen; write nothing\n"
     "  --force         merge a person and an organisation\n"
     "  --json          the result as one JSON object\n"
     "  --yes, -y       do not ask before deleting a B that is shared (as 'kith rm')\n\n"
     "'kith duplicates' suggests pairs. The rules in full: proto/MERGE.md.\n"},
    {"duplicates", cmd_duplicates, "[--json]", "list likely duplicate records",
     "Lists pairs of live records of the same kind that share an e-mail address (case\n"
     "ignored), a LinkedIn profile URL (compared as 'kith import' does), or a name at the\n"
     "same organisation (an organisation: a name), names and organisations compared\n"
     "ignoring case and accents; the organisation is the org field, else the employer\n"
     "relation's record. Each pair once, with the reasons and a 'kith merge A B' to run:\n"
     "B is the one that is yours (both yours: the newer). Prints 'No likely duplicates.'\n"
     "when there are none.\n\n"
     "  --json   an array of {a, b, reasons, why, command}\n"},
    {"share", cmd_share, "REF --with PEER|@GROUP [--read-only]",
     "share a record with peers or a group (later members too)",
     "Shares the record with a peer or a group. A record shared with @GROUP stays shared\n"
     "with the group: peers who join it later get the record, peers who leave it lose it\n"
     "('kith peer edit'). 'kith show' lists the groups and peers it is shared with. Private\n"
     "fields are never shared.\n\n"
     "  --with PEER|@GROUP   who to share with (repeatable)\n"
     "  --read-only          they may read but not edit\n"},
    {"unshare", cmd_unshare, "REF --with PEER|@GROUP", "stop sharing a record",
     "Stops sharing the record with a peer or a group. At their next sync their node learns\n"
     "it: they keep the copy they have, marked as no longer shared with them, get no further\n"
     "updates, and their edits are refused. A peer who gets the record through a group\n"
     "keeps it until it leaves the group or the group is unshared.\n"},
    {"import", cmd_import,
     "vcard|linkedin|csv|json FILE [--strict] [--json] [--share PEER|@GROUP]...",
     "import contacts, or records from 'kith export json'",
     "  vcard     vCard 2.1, 3.0 or 4.0 (.vcf), one or many cards\n"
     "  linkedin  LinkedIn's Connections.csv\n"
     "  csv       CSV with a header row: Google Contacts, Outlook, or kith field names\n"
     "  json      a 'kith export json' file: the records with their ids and history, from\n"
     "            their signed ops, each verified as ops from your own devices are (private\n"
     "            ops only if you made them); no --share\n\n"
     "  --share PEER|@GROUP  share the new records (repeatable)\n"
     "  --read-only          with --share: as readers\n"
     "  --strict             all or nothing: the first problem imports nothing\n"
     "  --json               print the result as JSON (not for json): {\"added\", \"updated\",\n"
     "                       \"unchanged\", \"ambiguous\", \"read_only\", \"skipped\", \"skips\":\n"
     "                       [{\"line\", \"property\", \"why\"}] (the first 100; property null\n"
     "                       for a whole card), \"skips_omitted\"}; the reports stay on stderr\n\n"
     "Importing twice never duplicates: a card that is a record you hold updates it.\n"
     "The match is by UID first (kith exports carry UID:urn:kith:<record id>; another\n"
     "program's UID is kept in x-vcard-uid and matched too), else by any e-mail (case\n"
     "ignored) or LinkedIn profile URL in common. A card reaching two records is\n"
     "imported as a new one and reported with its line (merge by hand). An update\n"
     "adds missing list items and replaces values that differ (the file wins); it\n"
     "removes nothing, is signed like 'kith edit' and keeps private fields private.\n"
     "Records shared with you read-only are left alone and reported. It prints:\n"
     "N new (ambiguous ones included), M updated, K unchanged, A ambiguous, R read-only\n"
     "skipped. Re-importing your own export changes nothing.\n\n"
     "By default an import forgives: a value that cannot be read or does not fit its\n"
     "field (invalid UTF-8, not an e-mail address, too long...) is skipped, and so is a\n"
     "vCard that is broken (no END:VCARD, no name); each is reported on stderr with its\n"
     "line, and everything else is imported. The file size, the line length and the\n"
     "number of cards are hard limits: over them nothing is imported. (For linkedin and\n"
     "csv a row without a name is skipped as a card; malformed CSV imports nothing.)\n"
     "json is always all or nothing. FILE may be - for standard input.\n\n"
     "Exit status: 0 if everything was imported, 1 if anything was skipped or nothing\n"
     "was imported, 2 for a usage error.\n"},
    {"export", cmd_export,
     "vcard|json [REF...] [--v3] [--all] [--no-private] [--deleted] [-o FILE]", "export records",
     "  vcard     vCard 4.0 (--v3 for 3.0); intelligence and private fields are left out\n"
     "            unless --all. Each card's UID is urn:kith:<record id>, so that\n"
     "            importing it again updates the record instead of adding one\n"
     "  json      every field of every record, as a JSON array, each record with \"ops\":\n"
     "            its signed ops (base64), which 'kith import json' reads back. Your\n"
     "            private fields and ops are in it (standard error says so) unless\n"
     "            --no-private. --deleted adds the records in the trash\n"
     "  -o FILE   write to FILE (created 0600) instead of standard output\n"
     "Without REF, every record is exported.\n"},
    {"serve", cmd_serve,
     "[--listen ADDR:PORT] [--http ADDR:PORT|--no-http] [--no-discovery] [--log-level LEVEL]",
     "run the daemon in the foreground",
     "Listens for trusted peers (default 0.0.0.0:5484), dials the peers that have an address,\n"
     "reconciles with each and then pushes every new change at once. Also serves the web\n"
     "page (see 'kith ui') and your contacts over CardDAV to address-book programs on this\n"
     "machine (see 'kith dav'), on one HTTP port.\n"
     "Logs one line per event to standard error. Stops cleanly on SIGINT or SIGTERM.\n\n"
     "  --listen ADDR:PORT   where to listen for peers (a numeric IPv4 or IPv6 address)\n"
     "  --http ADDR:PORT     where to serve the web page and CardDAV (default 127.0.0.1:5485;\n"
     "                       if that port is taken the daemon runs on without them). Only a\n"
     "                       loopback address keeps them to this machine: there is no TLS.\n"
     "                       --dav is the older name of this option\n"
     "  --no-http            serve neither (--no-dav is the older name)\n"
     "  --no-discovery       do not announce or look for peers on the LAN\n"
     "  --log-level LEVEL    error, info (default) or debug\n"},
    {"ui", cmd_ui, "[--open]", "open the web page of the running daemon",
     "Prints the address of the web page, with a login link that works once within two\n"
     "minutes; the browser then keeps a session (a cookie) for 12 hours of use. The page\n"
     "lists, searches and edits records, shares them, shows their history, peers, this\n"
     "node's ID as a QR code, pairs with a colleague (the code, then their fingerprint),\n"
     "imports files and draws an organisation's account map.\n"
     "It updates itself when a peer's change arrives. Needs 'kith serve' running.\n\n"
     "  --open   hand the link to the desktop's browser (xdg-open) instead of printing it\n"},
    {"dav", cmd_dav, "[--json] [--reset]", "show how to connect an address book (CardDAV)",
     "Prints the URL, user and password that Thunderbird, Evolution, GNOME Contacts, khard\n"
     "(through vdirsyncer) or DAVx5 need to read and write your contacts through the\n"
     "running daemon. One address book holds every record this node holds; one more per\n"
     "group of peers holds what is shared with that group. Edits made there are kith edits\n"
     "(signed, synced, private fields stay private); a deletion can be undone with\n"
     "'kith restore'. The password is this node's own; keep it like a key.\n\n"
     "  --json    {\"url\", \"user\", \"password\", \"running\", \"books\": [{\"name\", \"url\",\n"
     "           \"description\"}]}\n"
     "  --reset   make a new password (clients must log in again)\n"},
    {"sync", cmd_sync, "PEER|HOST:PORT [--json] [--timeout SECONDS]",
     "reconcile once with a peer, then exit",
     "Connects to the peer, exchanges what each side lacks, and exits 0 only if the\n"
     "reconciliation completed. Works with or without a daemon running.\n\n"
     "  --json               {\"peer\", \"sent_ops\", \"received_ops\", \"rejected_ops\",\n"
     "                       \"bytes_out\", \"bytes_in\", \"round_trips\", \"ms\"}\n"
     "  --timeout SECONDS    give up after this long (default 120)\n"},
    {"status", cmd_status, "[--json]", "show the daemon, peers online, last sync",
     "  --json   the daemon's status as JSON ({\"running\": false} when none runs)\n"},
    {"pair", cmd_pair, "[CODE] [--yes] [--timeout SECONDS] [--name NAME] [--group G]...",
     "become peers with a colleague in the same room",
     "Without CODE: prints a short code (like 7-orbit-sugar-lantern) on the first line and\n"
     "waits for a colleague on the local network. With CODE: finds that colleague and\n"
     "pairs. A password-authenticated key exchange (CPace) turns the code into a strong\n"
     "key: a listener learns nothing and a wrong guess fails on both sides. Each side\n"
     "then shows the other's name and fingerprint and, once confirmed, adds the peer.\n\n"
     "  --yes               add the peer without asking (for scripts)\n"
     "  --timeout SECONDS   how long to wait (host: 300, the code's life; joiner: 60)\n"
     "  --name NAME         the local name for the new peer (default: the name they give)\n"
     "  --group G           put the new peer in group G (repeatable), as 'peer add' does\n"},
    {"send", cmd_send, "REF --to PEER [-o FILE]", "seal one record for one colleague",
     "Writes an armored envelope (-----BEGIN KITH ENVELOPE-----) holding the record's\n"
     "non-private history, encrypted and authenticated for PEER only. Paste it into an\n"
     "e-mail or a chat. If you own the record, PEER is added to it as a reader so that\n"
     "later syncs keep their copy up to date.\n\n"
     "  --to PEER   the recipient, one of your peers\n"
     "  -o FILE     write to FILE (created 0600) instead of standard output\n"},
    {"receive", cmd_receive, "[FILE|-] [--accept-unknown]", "import a sealed envelope",
     "Reads an envelope from FILE or standard input (text around it, such as an e-mail,\n"
     "is fine), checks it was sealed for this node by one of your peers, verifies every\n"
     "op and imports the record. Receiving the same envelope twice changes nothing; an\n"
     "older envelope never rolls back newer values.\n\n"
     "  --accept-unknown   import from a node that is not your peer\n"},
    {"doctor", cmd_doctor, "[--repair]", "check the home for damage and loose permissions",
     "Checks the permissions of the home and its files, that the identity and the store\n"
     "open, SQLite's integrity check, that every op decrypts and carries a valid\n"
     "signature and every record decrypts, that every row deciding who gets what (peers,\n"
     "shares, audiences, owners, the private mark) was written by kith, and that the\n"
     "store has not gone back to an older copy of itself (kith.state). Changes nothing\n"
     "unless --repair is given, which removes rows kith did not write, restores a flipped\n"
     "private mark, rebuilds every record from its ops and accepts the store as it\n"
     "stands; if that is not enough (a truncated or damaged file) it rebuilds the store\n"
     "from every op, peer and share that can still be read and verified, keeping the\n"
     "damaged file as kith.db.damaged-DATE and saying what was recovered and what was\n"
     "lost. Exits 1 if anything was wrong or lost.\n"},
    {"backup", cmd_backup, "FILE [--force]", "write an encrypted backup of this node",
     "Writes the whole node (identity, store, settings) to FILE, encrypted under a backup\n"
     "passphrase (asked twice on the terminal, or read from $KITH_BACKUP_PASSPHRASE). FILE\n"
     "and that passphrase are all it takes to restore the node on a new machine ('kith\n"
     "restore --backup FILE'). Safe while 'kith serve' runs: the store is copied as one\n"
     "consistent snapshot (SQLite's backup API). FILE is written whole or not at all (as\n"
     "FILE.tmp, then renamed), mode 0600. Any change to FILE, truncation included, is\n"
     "detected at restore. A node protected by --passphrase stays protected: its identity\n"
     "is backed up as it is, and restoring it needs that passphrase too.\n\n"
     "  --force, -f   replace FILE if it exists\n"},
    {"help", cmd_help, "[COMMAND|fields]", "help on a command, or the list of fields", ""},
    {NULL, NULL, NULL, NULL, NULL},
};

const cli_command_t *
cli_find_command(const char *name)
{
    for (const cli_command_t *c = cli_commands; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            return c;
        }
    }
    return NULL;
}

/* 1 if the command (argv[0], with its arguments) may change the store. Those that only
 * read work in a read-only home; the others are refused there before they start. */
static int
command_writes(int argc, char **argv)
{
    static const char *const readers[] = {"id",     "list",   "show", "search",    "log",
                                          "export", "status", "help", "duplicates"};
    for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
        if (strcmp(argv[0], readers[i]) == 0) {
            return 0;
        }
    }
    if (strcmp(argv[0], "peer") == 0) {
        return !(argc >= 2 && strcmp(argv[1], "list") == 0);
    }
    if (strcmp(argv[0], "doctor") == 0) {
        for (int i = 1; i < argc; i++) {
            if (strcmp(argv[i], "--repair") == 0) {
                return 1;
            }
        }
        return 0;
    }
    return 1;
}

static void
usage(FILE *out)
{
    fprintf(out, "usage: kith [--home DIR] COMMAND [ARGS...]\n\n"
                 "kith keeps your professional network encrypted on this machine and shares\n"
                 "chosen records, field by field, with colleagues you trust.\n\n"
                 "Commands:\n");
    for (const cli_command_t *c = cli_commands; c->name; c++) {
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    }
    fprintf(out, "\nThe home directory is --home DIR, else $KITH_HOME, else $XDG_DATA_HOME/kith,\n"
                 "else ~/.local/share/kith. 'kith COMMAND --help' tells more; see also kith(1).\n");
}

int
main(int argc, char **argv)
{
    cli_globals_t g = {NULL};
    /* No core dumps: a core file would hold decrypted records and keys. */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (kith_init() != KITH_OK) {
        cli_error("cannot initialise libsodium");
        return 1;
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--home") == 0) {
            if (i + 1 >= argc) {
                cli_error("--home needs a directory");
                return EXIT_USAGE;
            }
            g.home = argv[++i];
        } else if (strncmp(argv[i], "--home=", 7) == 0) {
            g.home = argv[i] + 7;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("kith %s\n", KITH_VERSION);
            return 0;
        } else {
            cli_error("unknown option '%s' (see 'kith --help')", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const cli_command_t *c = cli_find_command(argv[i]);
    if (c == NULL) {
        cli_error("unknown command '%s' (see 'kith --help')", argv[i]);
        return EXIT_USAGE;
    }
    if (cli_wants_help(argc - i, argv + i)) {
        cli_print_help(c);
        return 0;
    }
    g.command = c->name;
    g.writes = command_writes(argc - i, argv + i);
    return c->fn(&g, argc - i, argv + i);
}
