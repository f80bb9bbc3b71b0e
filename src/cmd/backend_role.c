/*
 * backend_role.c - `weaprous backend`: the assignment's web server.  Static
 * pages from www/ and assets from static/ (the MIME type picks the root).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "role.h"
#include "weaprous/log.h"
#include "weaprous/static.h"
#include "weaprous/db.h"
#include "weaprous/weblogin.h"
#include "user_role.h"

struct backend {
    static_ctx   *files;
    http_server  *http;
    db           *store;
    weblogin     *login;
};

static void backend_handle(http_txn *t, void *arg)
{
    struct backend *b = arg;
    if (!weblogin_handle(b->login, t))
        static_serve(b->files, t);
}

/* The login options: session lifetime and the failure limit.  Read before
 * the database is touched, so that -t refuses them even without one.
 * 0, or -1 (logged). */
static int backend_login_opts(const struct role_opts *o, struct weblogin_config *wc,
                              struct db_options *dbo)
{
    long long life = role_opt_ms(o, "session-lifetime", DB_DEFAULT_SESSION_LIFETIME * 1000LL,
                                 1000, 3650LL * 86400000);
    long long rmax = role_opt_count(o, "login-rate-max", WEBLOGIN_RATE_MAX, 1, 1000000);
    long long rwin = role_opt_ms(o, "login-rate-window", WEBLOGIN_RATE_WINDOW * 1000LL,
                                 1000, 86400000);
    if (life < 0 || rmax < 0 || rwin < 0) {
        log_error("bad session-lifetime (1s..3650d), login-rate-max (1..1000000)"
                  " or login-rate-window (1s..1d)");
        return -1;
    }
    memset(dbo, 0, sizeof(*dbo));
    dbo->session_lifetime = life / 1000;
    memset(wc, 0, sizeof(*wc));
    wc->compat_auth_cookie = role_flag(o, "compat-auth-cookie");
    wc->secure_cookies = role_flag(o, "secure-cookies");
    wc->rate_max = (unsigned)rmax;
    wc->rate_window = (unsigned)(rwin / 1000);
    return 0;
}

/* Opens the accounts database and the login layer in front of the pages. */
static int backend_open_store(struct backend *b, struct role_opts *o,
                              const struct weblogin_config *wc, const struct db_options *dbo)
{
    char err[DB_MAX_ERRMSG + 256];
    if (db_open(&b->store, o->db ? o->db : WR_DEFAULT_DB, dbo, err, sizeof err, NULL) < 0) {
        log_error("%s", err);
        return -1;
    }
    if (db_info(b->store)->created_admin)
        log_warnx("created default account admin/password; change it with: weaprous user passwd admin");
    b->login = weblogin_new(b->store, b->files, wc);
    if (!b->login) {
        log_error("out of memory");
        return -1;
    }
    return 0;
}

/* The file service's options: the open-file cache's window and size
 * (nginx's open_file_cache valid= and max=).  0, or -1 (logged). */
static int backend_files_opts(const struct role_opts *o, struct static_options *so)
{
    static_options_init(so);
    long long valid = role_opt_ms(o, "open-file-cache-valid", so->open_file_cache_valid_ms,
                                  0, 3600000);
    long long max = role_opt_count(o, "open-file-cache-max", so->open_file_cache_max,
                                   0, 1000000);
    if (valid < 0 || max < 0) {
        log_error("bad open-file-cache-valid (0..1h, 0: off) or open-file-cache-max (0..1000000)");
        return -1;
    }
    so->open_file_cache_valid_ms = (unsigned)valid;
    so->open_file_cache_max = (unsigned)max;
    return 0;
}

/* The file service for the roots and options of o; NULL (logged). */
static static_ctx *backend_files(const struct role_opts *o)
{
    struct static_options so;
    const char *www = role_opt(o, "www", WR_DEFAULT_WWW), *stat = role_opt(o, "static", WR_DEFAULT_STATIC);
    if (backend_files_opts(o, &so) < 0)
        return NULL;
    static_ctx *files = static_new(www, stat, &so);
    if (!files)
        log_error("cannot open document roots www=%s static=%s: %s", www, stat, strerror(errno));
    return files;
}

static int backend_setup(struct backend *b, struct role_opts *o, ev_loop *loop)
{
    long long max_body = role_opt_size(o, "client-max-body-size", HTTP_DEFAULT_MAX_BODY);
    if (max_body < 0) {
        log_error("bad client-max-body-size '%s'", role_opt(o, "client-max-body-size", ""));
        return -1;
    }
    struct weblogin_config wc;
    struct db_options dbo;
    if (backend_login_opts(o, &wc, &dbo) < 0 || !(b->files = backend_files(o)))
        return -1;
    /* -t checks an existing database (version, not garbage) but never
     * creates one: checking must not leave files behind. */
    if (o->check_only) {
        int have = role_check_db(o->db ? o->db : WR_DEFAULT_DB);
        if (have <= 0)
            return have;
    }
    if (backend_open_store(b, o, &wc, &dbo) < 0)
        return -1;
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
    static_ctx *files = backend_files(rt->o);
    if (!files) {
        log_warn("reload: cannot open document roots; keeping the old ones");
        return;
    }
    weblogin_set_pages(b->login, files);
    static_free(b->files);
    b->files = files;
}

static int backend_run(struct role_opts *o)
{
    struct backend b = { 0 };
    struct role_rt rt;
    if (o->check_only) {
        int rc = backend_setup(&b, o, NULL);
        weblogin_free(b.login);
        db_close(b.store);
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
        weblogin_free(b.login);
        db_close(b.store);
        if (b.files)
            static_free(b.files);
        return 1;
    }
    role_rt_add_server(&rt, b.http);
    log_info("backend listening on http://%s:%d/ (www=%s static=%s, reactor %s)",
             o->ip ? o->ip : "0.0.0.0", http_server_port(b.http),
             role_opt(o, "www", WR_DEFAULT_WWW), role_opt(o, "static", WR_DEFAULT_STATIC), ev_backend_name());
    int rc = role_rt_run(&rt);
    weblogin_free(b.login);
    db_close(b.store);
    static_free(b.files);
    return rc;
}

static const char *const backend_keys[] = {
    "www", "static", "client-max-body-size", "session-lifetime", "login-rate-max",
    "login-rate-window", "compat-auth-cookie", "secure-cookies", "open-file-cache-valid",
    "open-file-cache-max", NULL
};
static const char *const backend_flags[] = { "compat-auth-cookie", "secure-cookies", NULL };

const struct role_def role_backend_def = {
    .name = "backend",
    .default_port = 9000,
    .keys = backend_keys,
    .flags = backend_flags,
    .run = backend_run,
    .help =
        "  --www DIR                    pages (text/html) root (default: " WR_DEFAULT_WWW ")\n"
        "  --static DIR                 assets root (default: " WR_DEFAULT_STATIC ")\n"
        "  --client-max-body-size SIZE  request body limit, 413 above (default 1m)\n"
        "  --db FILE                    accounts and sessions (default " WR_DEFAULT_DB ")\n"
        "  --session-lifetime SECONDS   session cookie lifetime (default 7 days)\n"
        "  --login-rate-max N           failed logins per window, per address and\n"
        "                               per account, then 429 (default 5)\n"
        "  --login-rate-window SECONDS  (default 60)\n"
        "  --compat-auth-cookie         accept the bare auth=true cookie (assignment)\n"
        "  --secure-cookies             mark cookies Secure (behind TLS)\n"
        "  --open-file-cache-valid T    reuse an opened file this long before checking\n"
        "                               it again (default 1s; 0: no cache)\n"
        "  --open-file-cache-max N      files kept open (default 1024)\n",
};
