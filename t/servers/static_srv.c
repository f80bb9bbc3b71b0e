/*
 * static_srv.c - a test server for t/static_cache.t: static_serve() on the
 * public API, with the open-file cache options on the command line.
 *
 *   static_srv --port N --www DIR --static DIR [--valid-ms MS] [--max N]
 *
 * SIGHUP makes a new static context and frees the old one (as a reload
 * does), even while responses still stream from its cache; SIGTERM stops.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weaprous.h"

struct srv_app {
    ev_loop     *loop;
    http_server *http;
    static_ctx  *files;
    const char  *www, *stat;
    struct static_options opt;
    int          port;
};

static void srv_handler(http_txn *t, void *arg)
{
    struct srv_app *app = arg;
    static_serve(app->files, t);
}

static void srv_on_hup(ev_loop *loop, int sig, void *arg)
{
    struct srv_app *app = arg;
    (void)loop; (void)sig;
    static_ctx *fresh = static_new(app->www, app->stat, &app->opt);
    if (!fresh) {
        fprintf(stderr, "static_srv: reload: %s\n", strerror(errno));
        return;
    }
    static_free(app->files);
    app->files = fresh;
    fprintf(stderr, "static_srv: reloaded\n");
}

static void srv_on_term(ev_loop *loop, int sig, void *arg)
{
    struct srv_app *app = arg;
    (void)sig;
    http_server_free(app->http);
    app->http = NULL;
    ev_stop(loop);
}

/* 0, or -1 after printing the usage. */
static int srv_args(int argc, char **argv, struct srv_app *app)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        bool num = *v && *end == '\0' && n <= 100000000ul;
        if (strcmp(k, "--www") == 0)
            app->www = v;
        else if (strcmp(k, "--static") == 0)
            app->stat = v;
        else if (strcmp(k, "--port") == 0 && num && n < 65536)
            app->port = (int)n;
        else if (strcmp(k, "--valid-ms") == 0 && num)
            app->opt.open_file_cache_valid_ms = (unsigned)n;
        else if (strcmp(k, "--max") == 0 && num)
            app->opt.open_file_cache_max = (unsigned)n;
        else
            goto usage;
    }
    if (argc % 2 == 1 && app->www && app->stat)
        return 0;
usage:
    fprintf(stderr, "usage: static_srv --port N --www DIR --static DIR "
            "[--valid-ms MS] [--max N]\n");
    return -1;
}

int main(int argc, char **argv)
{
    struct srv_app app;
    memset(&app, 0, sizeof app);
    static_options_init(&app.opt);
    if (srv_args(argc, argv, &app) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    log_open(NULL, LOG_LVL_INFO);
    app.loop = ev_loop_new(0);
    app.files = static_new(app.www, app.stat, &app.opt);
    if (!app.loop || !app.files) {
        fprintf(stderr, "static_srv: %s\n", strerror(errno));
        return 1;
    }
    app.http = http_server_new(app.loop, NULL, srv_handler, &app);
    if (!app.http || http_server_listen(app.http, "127.0.0.1", app.port) < 0) {
        fprintf(stderr, "static_srv: listen on %d: %s\n", app.port, strerror(errno));
        return 1;
    }
    ev_signal_set(app.loop, SIGHUP, srv_on_hup, &app);
    ev_signal_set(app.loop, SIGTERM, srv_on_term, &app);
    ev_signal_set(app.loop, SIGINT, srv_on_term, &app);
    int rc = ev_run(app.loop);
    static_free(app.files);
    ev_loop_free(app.loop);
    return rc < 0 ? 1 : 0;
}
