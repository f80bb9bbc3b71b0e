/*
 * proxy_role.c - `weaprous proxy`: the reverse proxy (DESIGN.md section 5).
 *
 * -c FILE names the nginx-style route file (default conf/proxy.conf);
 * -t checks it and exits 0 or 1.  Listeners: the file's `listen` lines,
 * unless --server-ip / --server-port are given (flags win).  SIGHUP loads
 * the file again: new requests use the new routes, requests in flight
 * finish on the old ones, and a bad file is refused with the error logged.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/role.h"
#include "weaprous/log.h"
#include "weaprous/net.h"
#include "proxy.h"

#define PROXY_ERR_MAX      512

struct proxy_role {
    struct proxy_ctx ctx;
    http_server     *http;
    http_server     *status;
};

static const char *conf_path(const struct role_opts *o)
{
    return o->config ? o->config : WR_DEFAULT_PROXY_CONF;
}

/* Loads the routes; logs the one error message on failure. */
static struct proxy_conf *proxy_load(const char *path)
{
    struct proxy_conf *cfg = NULL;
    char err[PROXY_ERR_MAX];
    if (proxy_conf_load(path, &cfg, err, sizeof err) < 0) {
        log_error("%s", err);
        return NULL;
    }
    return cfg;
}

static int proxy_check(const struct role_opts *o)
{
    struct proxy_conf *cfg = NULL;
    char err[PROXY_ERR_MAX];
    const char *path = conf_path(o);
    if (proxy_conf_load(path, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "weaprous proxy: %s\nweaprous proxy: configuration file %s test failed\n",
                err, path);
        return 1;
    }
    printf("weaprous proxy: configuration file %s test is successful (%zu host blocks)\n",
           path, cfg->nblocks);
    proxy_conf_free(cfg);
    return 0;
}

static int listen_on(http_server *s, const struct proxy_listen *l)
{
    char ip[NET_ADDR_MAX];
    int port = 0;
    net_addr_str((const struct sockaddr *)&l->addr, ip, &port);
    if (http_server_listen(s, ip, port) < 0) {
        log_warn("cannot listen on %s", l->text);
        return -1;
    }
    log_info("proxy listening on %s", l->text);
    return 0;
}

/* The file's listen lines, unless the command line names an address. */
static int proxy_listen(struct proxy_role *pr, const struct role_opts *o,
                        const struct proxy_conf *cfg)
{
    if (cfg->nlisten == 0 || o->ip || o->port_given) {
        if (http_server_listen(pr->http, o->ip, o->port) < 0) {
            log_warn("cannot listen on %s:%d", o->ip ? o->ip : "0.0.0.0", o->port);
            return -1;
        }
        log_info("proxy listening on %s:%d", o->ip ? o->ip : "0.0.0.0",
                 http_server_port(pr->http));
        return 0;
    }
    for (size_t i = 0; i < cfg->nlisten; i++)
        if (listen_on(pr->http, &cfg->listen[i]) < 0)
            return -1;
    return 0;
}

static int proxy_servers(struct proxy_role *pr, const struct role_opts *o,
                         const struct proxy_conf *cfg)
{
    /* stream_body: bodies go upstream as they arrive; the per-block
     * client_max_body_size is enforced by proxy_fwd.c, so the engine's own
     * cap is only the configuration's upper bound. */
    struct http_server_config hc = { .max_body = (size_t)PROXY_CONF_MAX_SIZE,
                                     .stream_body = true };
    pr->http = http_server_new(pr->ctx.loop, &hc, proxy_fwd_handle, &pr->ctx);
    pr->ctx.clients = pr->http;
    if (!pr->http || proxy_listen(pr, o, cfg) < 0)
        return -1;
    if (!cfg->has_status_listen)
        return 0;
    pr->status = http_server_new(pr->ctx.loop, NULL, proxy_status_handle, &pr->ctx);
    if (!pr->status || listen_on(pr->status, &cfg->status_listen) < 0)
        return -1;
    return 0;
}

static void proxy_reload(struct role_rt *rt)
{
    struct proxy_role *pr = rt->data;
    struct proxy_ctx *ctx = &pr->ctx;
    struct proxy_conf *cfg = proxy_load(ctx->conf_path);
    if (!cfg) {
        log_error("reload refused: keeping the routes of generation %llu",
                  (unsigned long long)ctx->generation);
        return;
    }
    struct proxy_rt *nrt = proxy_rt_new(ctx->loop, cfg, ctx->generation + 1);
    if (!nrt || proxy_rt_start(nrt) < 0) {
        log_error("reload: out of memory; keeping the old routes");
        proxy_rt_unref(nrt);
        return;
    }
    proxy_rt_retire(ctx->rt);
    proxy_rt_unref(ctx->rt);   /* freed when its last request finishes */
    ctx->rt = nrt;
    ctx->generation++;
    ctx->stats.reloads++;
    log_info("reload: %s loaded (generation %llu, %zu host blocks)", ctx->conf_path,
             (unsigned long long)ctx->generation, cfg->nblocks);
}

static void proxy_stop(struct role_rt *rt)
{
    struct proxy_role *pr = rt->data;
    proxy_rt_retire(pr->ctx.rt);
}

static void proxy_access_log(const struct role_opts *o, const struct proxy_conf *cfg)
{
    const char *al = cfg->top.access_log;
    if (o->access_log || !al)
        return;
    if (log_open_access(strcmp(al, "off") == 0 ? NULL : al) < 0)
        log_warn("cannot open access log %s", al);
}

static int proxy_run(struct role_opts *o)
{
    struct proxy_role pr;
    struct role_rt rt;
    memset(&pr, 0, sizeof pr);
    if (o->check_only)
        return proxy_check(o);
    if (role_rt_init(&rt, o) < 0)
        return 1;
    struct proxy_conf *cfg = proxy_load(conf_path(o));
    if (!cfg)
        return 1;
    proxy_access_log(o, cfg);
    pr.ctx.loop = rt.loop;
    pr.ctx.conf_path = conf_path(o);
    pr.ctx.generation = 1;
    pr.ctx.rng = proxy_random_seed();
    pr.ctx.started_ms = ev_now_ms(rt.loop);
    pr.ctx.rt = proxy_rt_new(rt.loop, cfg, 1);
    if (!pr.ctx.rt || proxy_rt_start(pr.ctx.rt) < 0
        || proxy_servers(&pr, o, pr.ctx.rt->cfg) < 0)
        return 1;
    rt.data = &pr;
    rt.on_reload = proxy_reload;
    rt.on_stop = proxy_stop;
    role_rt_add_server(&rt, pr.http);
    if (pr.status)
        role_rt_add_server(&rt, pr.status);
    log_info("proxy: %s, %zu host blocks, reactor %s", pr.ctx.conf_path,
             pr.ctx.rt->cfg->nblocks, ev_backend_name());
    int rc = role_rt_run(&rt);
    pr.ctx.rt->loop = NULL;   /* the loop is gone: release without touching it */
    proxy_rt_unref(pr.ctx.rt);
    proxy_fwd_cleanup(&pr.ctx);
    return rc;
}

static const char *const proxy_keys[] = { NULL };

const struct role_def role_proxy_def = {
    .name = "proxy",
    .default_port = 8080,
    .keys = proxy_keys,
    .flags = NULL,
    .own_config = true,
    .run = proxy_run,
    .help =
        "  -c, --config FILE    route file, nginx syntax (default: " WR_DEFAULT_PROXY_CONF ")\n"
        "  -t                   check the route file and exit 0 (ok) or 1\n"
        "  listen addresses come from the file's `listen` lines unless\n"
        "  --server-ip/--server-port are given.  SIGHUP reloads the routes.\n",
};
