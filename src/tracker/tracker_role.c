/*
 * tracker_role.c - `weaprous tracker`: the chat tracker (DESIGN.md sections
 * 6 and 7) as an ordinary WeApRous app on the public API.  It
 * authenticates, registers peers, lists them, keeps channels and
 * introduces peers; messages never pass through it.  This file parses the
 * role's options, opens the store, wires the routes of the tracker_*.c
 * files and runs the sweeper timer that takes silent peers off the list.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/role.h"
#include "tracker.h"
#include "weaprous/log.h"

#define TRACKER_ENGINE_MAX_BODY (64u << 10)  /* above: the engine's 413 */
#define TRACKER_PURGE_SECONDS   3600         /* between purges of expired sessions */

int tracker_options(struct tracker_config *c, const struct role_opts *o)
{
    long long hb = role_opt_ms(o, "heartbeat-interval", TRACKER_DEFAULT_HEARTBEAT,
                               TRACKER_MIN_HEARTBEAT, TRACKER_MAX_HEARTBEAT);
    long long fails = role_opt_count(o, "login-max-failures", TRACKER_RATE_MAX, 1, RL_MAX_LIMIT);
    long long win = role_opt_ms(o, "login-window", TRACKER_RATE_WINDOW * 1000LL, 1000,
                                RL_MAX_WINDOW * 1000LL);
    long long ttl = role_opt_ms(o, "ticket-ttl", TRACKER_TICKET_TTL * 1000LL, 1000, 3600000);
    if (hb < 0) {
        log_error("bad heartbeat-interval '%s' (0.2s to 1h, e.g. 10, 500ms, 2m)",
                  role_opt(o, "heartbeat-interval", ""));
        return -1;
    }
    if (fails < 0 || win < 0 || ttl < 0) {
        log_error("bad login-max-failures (1..1000000), login-window (1s..1d)"
                  " or ticket-ttl (1s..1h)");
        return -1;
    }
    c->heartbeat_ms = (unsigned)hb;
    c->rate_max = (unsigned)fails;
    c->rate_window = (unsigned)(win / 1000);
    c->ticket_ttl = (unsigned)(ttl / 1000);
    c->allow_signup = role_flag(o, "allow-signup");
    c->allow_advertised = role_flag(o, "allow-advertised-addr");
    return 0;
}

static int tracker_open_store(struct tracker *tr, const char *path)
{
    char err[DB_MAX_ERRMSG];
    if (db_open(&tr->store, path, NULL, err, sizeof(err), NULL) < 0) {
        log_error("%s", err);
        return -1;
    }
    /* Heart-beats are a write each: in WAL mode, synchronous NORMAL syncs
     * at checkpoints instead of at every commit.  A power loss may then
     * forget the last few heart-beats or sessions, never corrupt the file,
     * and the peers beat again anyway. */
    if (db_exec(tr->store, "PRAGMA synchronous = NORMAL", "set synchronous") < 0)
        log_warnx("%s: %s; going on", path, db_errmsg(tr->store));
    if (db_info(tr->store)->created_admin)
        log_info("new database %s: account 'admin' with password 'password' created;"
                 " change it with `weaprous user passwd admin`", path);
    return 0;
}

/* Every heart-beat interval: clear the online flag of silent peers (the
 * queries already ignore them), purge old tickets and, hourly, sessions. */
static void tracker_sweep(ev_loop *loop, ev_timer *timer, void *arg)
{
    struct tracker *tr = arg;
    (void)loop; (void)timer;
    long n = tracker_db_sweep(tr);
    if (n < 0) {
        log_warnx("sweeper: %s", db_errmsg(tr->store));
        return;
    }
    tr->m.peers_expired += (uint64_t)n;
    if (n > 0)
        log_info("%ld peer%s stopped heart-beating: now offline", n, n == 1 ? "" : "s");
    int64_t now = db_now(tr->store);
    if (now - tr->last_purge >= TRACKER_PURGE_SECONDS) {
        tr->last_purge = now;
        if (db_session_purge_expired(tr->store) < 0)
            log_warnx("session purge: %s", db_errmsg(tr->store));
    }
}

static void tracker_on_stop(wr_app *a, void *arg)
{
    struct tracker *tr = arg;
    tr->stopping = true;   /* a SIGHUP now must not start the sweeper again */
    ev_timer_stop(app_loop(a), &tr->sweeper);
}

/* The app: routes of every part, limits, listener, sweeper.  0 or -1. */
static int tracker_setup(struct tracker *tr, struct role_opts *o, ev_loop *loop)
{
    struct app_config cfg = { .http = { .max_body = TRACKER_ENGINE_MAX_BODY,
                                        .server_name = "weaprous-tracker" },
                              .json = { .max_size = TRACKER_MAX_BODY } };
    if (tracker_db_prepare(tr) < 0 || tracker_db_all_offline(tr) < 0) {
        log_error("tracker tables: %s", db_errmsg(tr->store));
        return -1;
    }
    tr->limiter = rl_new(TRACKER_RATE_SLOTS, tr->cfg.rate_max, tr->cfg.rate_window);
    if (!tr->limiter) {
        log_warn("failure limiter");
        return -1;
    }
    const char *assets = role_opt(o, "static", WR_DEFAULT_STATIC);
    if (!(tr->files = static_new(NULL, assets, NULL)))
        log_warnx("no stylesheet for the status page: cannot open static=%s", assets);
    tr->app = app_new(loop, &cfg);
    if (!tr->app) {
        log_warn("app");
        return -1;
    }
    tracker_group_init(tr);
    if (tracker_status_routes(tr) < 0 || tracker_auth_routes(tr) < 0
        || tracker_peer_routes(tr) < 0 || tracker_channel_routes(tr) < 0
        || tracker_ticket_routes(tr) < 0) {
        log_error("routes: %s", app_last_error(tr->app));
        return -1;
    }
    if (app_listen(tr->app, o->ip ? o->ip : "0.0.0.0", o->port) < 0) {
        log_warn("cannot listen on %s:%d", o->ip ? o->ip : "0.0.0.0", o->port);
        return -1;
    }
    app_on_stop(tr->app, tracker_on_stop, tr);
    ev_timer_init(&tr->sweeper, tracker_sweep, tr);
    tracker_sweeper_start(tr);
    return 0;
}

void tracker_sweeper_start(struct tracker *tr)
{
    ev_loop *loop = app_loop(tr->app);
    if (tr->stopping)
        return;
    ev_timer_stop(loop, &tr->sweeper);
    ev_timer_start(loop, &tr->sweeper, tr->cfg.heartbeat_ms, tr->cfg.heartbeat_ms);
}

static void tracker_on_hup(struct role_rt *rt)
{
    tracker_conf_reload(rt->data);
}

/* -t: options and database. */
/* -t: the options, and the database when it exists (never created by a
 * check; its directory must be writable when it does not exist yet). */
static int tracker_check(struct tracker *tr, struct role_opts *o)
{
    const char *path = o->db ? o->db : WR_DEFAULT_DB;
    int have = 0;
    int rc = tracker_options(&tr->cfg, o) < 0 || (have = role_check_db(path)) < 0
        || (have == 1 && tracker_open_store(tr, path) < 0);
    db_close(tr->store);
    printf("weaprous tracker: configuration %s\n", rc == 0 ? "ok" : "has errors");
    return rc;
}

static void tracker_free(struct tracker *tr)
{
    tracker_group_release(tr);
    if (tr->app)
        app_free(tr->app);
    rl_free(tr->limiter);
    static_free(tr->files);
    tracker_list_release(tr);
    tracker_db_release(tr);
    db_close(tr->store);
    free(tr);
}

static const char *const tracker_keys[] = {
    "allow-signup", "allow-advertised-addr", "heartbeat-interval",
    "login-max-failures", "login-window", "ticket-ttl", "static", NULL
};
static const char *const tracker_flags[] = {
    "allow-signup", "allow-advertised-addr", NULL
};

/*
 * The app runs the loop (app_run: TERM/INT stop it gracefully); role_rt
 * gives logs, daemon mode, pid file, HUP and USR1, and its closing steps.
 * The app owns its server, so none is registered with role_rt.
 */
static int tracker_run(struct role_opts *o)
{
    struct role_rt rt;
    struct tracker *tr = calloc(1, sizeof(*tr));
    int rc = 1;
    if (!tr)
        return 1;
    /* stopped on every exit path, also when the store never opened */
    ev_timer_init(&tr->sweeper, tracker_sweep, tr);
    if (o->check_only) {
        rc = tracker_check(tr, o);
        free(tr);
        return rc;
    }
    if (tracker_options(&tr->cfg, o) < 0 || role_rt_init(&rt, o) < 0) {
        free(tr);
        return 1;
    }
    rt.data = tr;
    rt.on_reload = tracker_on_hup;
    const char *path = o->db ? o->db : WR_DEFAULT_DB;
    tracker_conf_init(tr, o);
    if (tracker_open_store(tr, path) == 0
        && tracker_setup(tr, o, rt.loop) == 0) {
        tr->started_at = tr->last_purge = db_now(tr->store);
        log_info("tracker listening on http://%s:%d/ (db %s, heart-beat %u ms, sign-up %s,"
                 " advertised addresses %s, reactor %s)", o->ip ? o->ip : "0.0.0.0",
                 app_port(tr->app), path, tr->cfg.heartbeat_ms, tr->cfg.allow_signup ? "on" : "off",
                 tr->cfg.allow_advertised ? "allowed" : "refused", ev_backend_name());
        rc = role_rt_ready(&rt) < 0 || app_run(tr->app) < 0;
    }
    ev_timer_stop(rt.loop, &tr->sweeper);
    tracker_free(tr);
    role_rt_finish(&rt);
    return rc;
}

const struct role_def role_tracker_def = {
    .name = "tracker",
    .default_port = TRACKER_DEFAULT_PORT,
    .keys = tracker_keys,
    .flags = tracker_flags,
    .run = tracker_run,
    .help =
        "  --db FILE                    the database (default: " WR_DEFAULT_DB ")\n"
        "  --allow-signup               POST /register creates accounts (default: off)\n"
        "  --allow-advertised-addr      peers may register an address other than\n"
        "                               their own (NAT, proxies; default: refused)\n"
        "  --heartbeat-interval T       seconds (or NNNms) between heart-beats told\n"
        "                               to peers, +-10% jitter; a peer silent for\n"
        "                               three intervals is offline (default 10)\n"
        "  --login-max-failures N       failed logins per address and window before\n"
        "                               429 (default 5)\n"
        "  --login-window SECONDS       that window (default 60)\n"
        "  --ticket-ttl SECONDS         how long an introduction ticket works\n"
        "                               (default 60)\n"
        "  --static DIR                 the status page's stylesheet and icon\n"
        "                               (default " WR_DEFAULT_STATIC ")\n"
        "  SIGHUP re-reads these options from the configuration file (-c) and logs\n"
        "  what changed; a bad file is refused.  Flags given on the command line\n"
        "  keep winning over the file.\n",
};
