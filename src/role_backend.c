/*
 * role_backend.c - `weaprous backend`: the assignment's web server.  Static
 * pages from www/ and assets from static/ (the MIME type picks the root).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "role.h"
#include "weaprous/log.h"
#include "weaprous/static.h"

struct backend {
    static_ctx   *files;
    http_server  *http;
};

static void backend_handle(http_txn *t, void *arg)
{
    struct backend *b = arg;
    static_serve(b->files, t);
}

static int backend_setup(struct backend *b, struct role_opts *o, ev_loop *loop)
{
    const char *www = role_opt(o, "www", "www");
    const char *stat = role_opt(o, "static", "static");
    long long max_body = role_opt_size(o, "client-max-body-size", HTTP_DEFAULT_MAX_BODY);
    if (max_body < 0) {
        log_error("bad client-max-body-size '%s'", role_opt(o, "client-max-body-size", ""));
        return -1;
    }
    b->files = static_new(www, stat, NULL);
    if (!b->files) {
        log_error("cannot open document roots www=%s static=%s: %s", www, stat, strerror(errno));
        return -1;
    }
    if (o->check_only)
        return 0;
    struct http_server_config cfg = { .max_body = (size_t)max_body };
    b->http = http_server_new(loop, &cfg, backend_handle, b);
    if (!b->http || http_server_listen(b->http, o->ip, o->port) < 0) {
        log_error("cannot listen on %s:%d: %s", o->ip ? o->ip : "0.0.0.0", o->port, strerror(errno));
        return -1;
    }
    return 0;
}

static void backend_reload(struct role_rt *rt)
{
    struct backend *b = rt->data;
    const char *www = role_opt(rt->o, "www", "www");
    const char *stat = role_opt(rt->o, "static", "static");
    static_ctx *files = static_new(www, stat, NULL);
    if (!files) {
        log_warn("reload: cannot open document roots; keeping the old ones");
        return;
    }
    static_free(b->files);
    b->files = files;
}

static int backend_run(struct role_opts *o)
{
    struct backend b = { 0 };
    struct role_rt rt;
    if (o->check_only) {
        int rc = backend_setup(&b, o, NULL);
        if (b.files)
            static_free(b.files);
        printf("weaprous backend: configuration %s\n", rc == 0 ? "ok" : "has errors");
        return rc == 0 ? 0 : 1;
    }
    if (role_rt_init(&rt, o) < 0)
        return 1;
    rt.data = &b;
    rt.on_reload = backend_reload;
    if (backend_setup(&b, o, rt.loop) < 0) {
        if (b.files)
            static_free(b.files);
        return 1;
    }
    role_rt_add_server(&rt, b.http);
    log_info("backend listening on http://%s:%d/ (www=%s static=%s, reactor %s)",
             o->ip ? o->ip : "0.0.0.0", http_server_port(b.http),
             role_opt(o, "www", "www"), role_opt(o, "static", "static"), ev_backend_name());
    int rc = role_rt_run(&rt);
    static_free(b.files);
    return rc;
}

static const char *const backend_keys[] = {
    "www", "static", "client-max-body-size", NULL
};

const struct role_def role_backend_def = {
    .name = "backend",
    .default_port = 9000,
    .keys = backend_keys,
    .flags = NULL,
    .run = backend_run,
    .help =
        "  --www DIR                    pages (text/html) root (default: www)\n"
        "  --static DIR                 assets root (default: static)\n"
        "  --client-max-body-size SIZE  request body limit, 413 above (default 1m)\n",
};
