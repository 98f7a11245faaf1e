/*
 * kith dav: how an address-book program connects to this node's CardDAV server.
 */
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "kith/error.h"
#include "net/daemon.h"
#include "net/dav.h"
#include "node/cardbook.h"
#include "util/json.h"

#define GETOPT_BEGIN() (optind = 0, opterr = 0)

/* The URL of the running daemon's CardDAV server into url ("" if it has none), and
 * whether a daemon runs. */
static int
running_url(const char *home, char *url, size_t cap)
{
    url[0] = '\0';
    kith_buf_t out;
    kith_buf_init(&out);
    int running = 0;
    if (kith_control_call(home, "status", &out) == KITH_OK && out.len > 0) {
        running = 1;
        json_t *root = json_loadb((const char *) out.data, out.len, 0, NULL);
        const char *dav = json_string_value(json_object_get(root, "dav"));
        if (dav != NULL) {
            snprintf(url, cap, "%s", dav);
        }
        json_decref(root);
    }
    kith_buf_close(&out);
    return running;
}

int
cmd_dav(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"reset", no_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, reset = 0, c;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 'r') {
            reset = 1;
        } else {
            return cli_usage_error("dav", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc) {
        return cli_usage_error("dav", "unexpected argument '%s'", argv[optind]);
    }
    kith_node_t *n = cli_open_node(g);
    if (n == NULL) {
        return 1;
    }
    int ret = 1;
    char password[KITH_CARDBOOK_PASSWORD_LEN + 1] = "";
    kith_cardbook_t *books = NULL;
    size_t n_books = 0;
    int rc = reset ? kith_cardbook_password_reset(n) : KITH_OK;
    if (rc == KITH_OK) {
        rc = kith_cardbook_password(n, password);
    }
    if (rc == KITH_OK) {
        rc = kith_cardbook_list(n, &books, &n_books);
    }
    if (rc != KITH_OK) {
        cli_error("cannot read the CardDAV settings: %s", kith_strerror(rc));
        goto out;
    }
    if (reset) {
        cli_poke(n->dir); /* a running daemon reads the new password */
    }
    char url[128];
    int running = running_url(n->dir, url, sizeof(url));
    int serving = url[0] != '\0';
    if (!serving) {
        snprintf(url, sizeof(url), "http://%s/", KITH_DAV_DEFAULT_LISTEN);
    }
    size_t ul = strlen(url);
    if (ul > 0 && url[ul - 1] == '/') {
        url[--ul] = '\0';
    }
    if (json) {
        kith_buf_t b;
        kith_buf_init(&b);
        kith_json_t j;
        kith_json_init(&j, &b, 1);
        kith_json_object_begin(&j);
        char full[160];
        snprintf(full, sizeof(full), "%s/", url);
        kith_json_key(&j, "url");
        kith_json_string(&j, full);
        kith_json_key(&j, "user");
        kith_json_string(&j, KITH_DAV_USER);
        kith_json_key(&j, "password");
        kith_json_string(&j, password);
        kith_json_key(&j, "running");
        kith_json_bool(&j, running && serving);
        kith_json_key(&j, "books");
        kith_json_array_begin(&j);
        for (size_t i = 0; i < n_books; i++) {
            char burl[256], desc[128];
            snprintf(burl, sizeof(burl), "%s/dav/books/%s/", url, books[i].name);
            if (books[i].group[0] == '\0') {
                snprintf(desc, sizeof(desc), "every record this node holds");
            } else {
                snprintf(desc, sizeof(desc), "records shared with or by group %s", books[i].group);
            }
            kith_json_object_begin(&j);
            kith_json_key(&j, "name");
            kith_json_string(&j, books[i].name);
            kith_json_key(&j, "url");
            kith_json_string(&j, burl);
            kith_json_key(&j, "description");
            kith_json_string(&j, desc);
            kith_json_object_end(&j);
        }
        kith_json_array_end(&j);
        kith_json_object_end(&j);
        rc = kith_buf_puts(&b, "\n");
        ret = rc == KITH_OK && cli_write_stdout(&b) == 0 ? 0 : 1;
        kith_buf_close(&b);
        goto out;
    }
    if (reset) {
        printf("A new CardDAV password is set; the old one no longer works.\n\n");
    }
    printf("URL:       %s/\n", url);
    printf("User:      %s\n", KITH_DAV_USER);
    printf("Password:  %s\n\n", password);
    printf("Address books:\n");
    for (size_t i = 0; i < n_books; i++) {
        char burl[256];
        snprintf(burl, sizeof(burl), "%s/dav/books/%s/", url, books[i].name);
        if (books[i].group[0] == '\0') {
            printf("  %-44s every record this node holds\n", burl);
        } else {
            printf("  %-44s shared with or by group %s\n", burl, books[i].group);
        }
    }
    if (!running) {
        printf("\nNo daemon is running for this home: start one with 'kith serve'.\n");
    } else if (!serving) {
        printf("\nThe daemon is running without CardDAV (started with --no-dav, or the port was\n"
               "taken: see its log).\n");
    }
    printf("\nThunderbird: Address Book > New Address Book > Add CardDAV Address Book; enter the\n"
           "user name '%s' and the URL above, then the password when asked.\n"
           "Evolution and GNOME Contacts: a new CardDAV address book with one of the book URLs.\n",
           KITH_DAV_USER);
    ret = 0;
out:
    sodium_memzero(password, sizeof(password));
    kith_cardbooks_free(books, n_books);
    kith_node_close(n);
    return ret;
}
