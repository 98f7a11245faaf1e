/*
 * kith ui: a one-time login link to the running daemon's web page (proto/WEB.md).
 *
 * The link comes from the daemon over its control socket, which only this user can open.
 * With --open it goes to the desktop's browser through a file in the home (0600) rather
 * than on xdg-open's command line, where every local user could read it (as Jupyter does).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "kith/error.h"
#include "net/daemon.h"

#define GETOPT_BEGIN() (optind = 0, opterr = 0)
#define LOGIN_FILE     "ui-login.html"

extern char **environ;

/* Writes a page that sends the browser on to url; its path into path. */
static int
write_login_file(const char *home, const char *url, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", home, LOGIN_FILE);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    char page[512];
    int n = snprintf(page, sizeof(page),
                     "<!doctype html><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
                     "content=\"0;url=%s\"><title>kith</title><a href=\"%s\">Open kith</a>\n",
                     url, url);
    ssize_t w = write(fd, page, (size_t) n);
    sodium_memzero(page, sizeof(page));
    if (close(fd) != 0 || w != n) {
        cli_error("cannot write %s", path);
        return -1;
    }
    return 0;
}

int
cmd_ui(cli_globals_t *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"open", no_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    int open_it = 0, c;
    GETOPT_BEGIN();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'o') {
            open_it = 1;
        } else {
            return cli_usage_error("ui", "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        return cli_usage_error("ui", "unexpected argument '%s'", argv[optind]);
    }
    const char *home = cli_home(g);
    if (home == NULL) {
        return 1;
    }
    kith_buf_t out;
    kith_buf_init(&out);
    int rc = kith_control_call(home, "ui-login", &out);
    int ret = 1;
    char url[256] = "";
    if (rc != KITH_OK) {
        cli_error("no daemon is running for this home: start one with 'kith serve'");
        goto out;
    }
    if (out.len >= sizeof(url) || out.len < 8 || memcmp(out.data, "http://", 7) != 0) {
        cli_error("the daemon serves no web page (started with --no-http, or its port was "
                  "taken: see its log)");
        goto out;
    }
    memcpy(url, out.data, out.len);
    url[strcspn(url, "\n")] = '\0';
    if (!open_it) {
        printf("Open this link in a browser on this machine (it works once, within two "
               "minutes):\n\n  %s\n",
               url);
        ret = 0;
        goto out;
    }
    char path[4200];
    if (write_login_file(home, url, path, sizeof(path)) != 0) {
        goto out;
    }
    pid_t pid;
    char *args[] = {"xdg-open", path, NULL};
    if (posix_spawnp(&pid, "xdg-open", NULL, NULL, args, environ) != 0) {
        cli_error("cannot run xdg-open; open this link instead (it works once, within two "
                  "minutes):\n  %s",
                  url);
        goto out;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cli_error("xdg-open failed; open this link instead (it works once, within two "
                  "minutes):\n  %s",
                  url);
        goto out;
    }
    ret = 0;
out:
    sodium_memzero(url, sizeof(url));
    if (out.data != NULL) {
        sodium_memzero(out.data, out.len);
    }
    kith_buf_close(&out);
    return ret;
}
