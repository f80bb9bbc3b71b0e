/*
 * peer_role.c - `weaprous peer`: one user's chat client (DESIGN.md section
 * 9).  It serves the chat page and the local API to its user's browser,
 * talks to the tracker over HTTP and to other peers over direct TCP links.
 * This file reads the options, opens the database and the listeners,
 * resumes a stored session, runs the loop and stops cleanly: "stopped" to
 * the tracker, bye on every link.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer.h"
#include "weaprous/log.h"

#define PEER_ENGINE_MAX_BODY (64u << 10)   /* above: the engine's 413 */

int64_t peer_now_ms(struct peer *p)
{
    struct timespec ts;
    (void)p;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool peer_signed_in(const struct peer *p)
{
    return p->token[0] != '\0';
}

/* The options into p->cfg.  0, or -1 (logged). */
static int peer_options(struct peer *p, const struct role_opts *o)
{
    long long p2p = role_opt_count(o, "p2p-port", o->port + PEER_P2P_OFFSET, 0, 65535);
    if (p2p < 0 || (p2p == 0 && o->port != 0) || (o->port > 0 && p2p == o->port)) {
        log_error("bad p2p-port '%s' (1..65535, not the HTTP port; default HTTP port + %d)",
                  role_opt(o, "p2p-port", ""), PEER_P2P_OFFSET);
        return -1;
    }
    p->cfg.p2p_port = (int)p2p;
    p->cfg.p2p_ip = role_opt(o, "p2p-ip", o->ip ? o->ip : "127.0.0.1");
    p->cfg.advertise_ip = role_opt(o, "advertise-ip", NULL);
    p->cfg.tracker_url = role_opt(o, "tracker", PEER_DEFAULT_TRACKER);
    p->cfg.www = role_opt(o, "www", WR_DEFAULT_WWW);
    p->cfg.static_dir = role_opt(o, "static", WR_DEFAULT_STATIC);
    snprintf(p->cfg.db_default, sizeof(p->cfg.db_default), WR_DEFAULT_PEER_DB, o->port);
    p->cfg.db_path = o->db ? o->db : p->cfg.db_default;
    struct sockaddr_storage ss;
    socklen_t len;
    if (p->cfg.advertise_ip && net_parse_addr(p->cfg.advertise_ip, 1, &ss, &len) < 0) {
        log_error("bad advertise-ip '%s' (an IPv4 or IPv6 address)", p->cfg.advertise_ip);
        return -1;
    }
    return 0;
}

/* The stored identity: a session to resume, or nobody yet. */
static int peer_load_identity(struct peer *p)
{
    int r = peer_store_identity(p, p->user, p->token);
    if (r < 0) {
        log_error("identity: %s", db_errmsg(p->db));
        return -1;
    }
    if (r == 0)
        log_info("no user yet: sign in at the peer's page (POST /login)");
    else if (!peer_signed_in(p))
        log_info("peer of %s, signed out: sign in at the peer's page", p->user);
    return 0;
}

static int peer_setup(struct peer *p, struct role_opts *o)
{
    const char *ip = o->ip ? o->ip : "127.0.0.1";
    struct app_config cfg = { .http = { .max_body = PEER_ENGINE_MAX_BODY,
                                        .server_name = "weaprous-peer" },
                              .json = { .max_size = PEER_API_MAX_BODY } };
    struct static_options so;
    static_options_init(&so);
    p->files = static_new(p->cfg.www, p->cfg.static_dir, &so);
    if (!p->files)
        log_warn("no pages: cannot open www=%s static=%s", p->cfg.www, p->cfg.static_dir);
    if (peer_tracker_init(p, p->cfg.tracker_url) < 0 || peer_events_init(p) < 0)
        return -1;
    p->app = app_new(p->loop, &cfg);
    if (!p->app || peer_api_routes(p) < 0) {
        log_error("routes: %s", p->app ? app_last_error(p->app) : strerror(errno));
        return -1;
    }
    if (app_listen(p->app, ip, o->port) < 0) {
        log_warn("cannot listen on %s:%d", ip, o->port);
        return -1;
    }
    if (peer_link_listen(p, p->cfg.p2p_ip, p->cfg.p2p_port) < 0)
        return -1;
    return 0;
}

static void peer_on_stop(wr_app *a, void *arg)
{
    struct peer *p = arg;
    (void)a;
    p->stopping = true;
    peer_link_unlisten(p);
}

/* Second phase of a clean stop, after the HTTP side stopped: "stopped"
 * to the tracker and bye on every link, for at most PEER_STOP_MS. */
static void peer_stopped(struct peer *p)
{
    ev_stop(p->loop);
}

static void peer_farewell(struct peer *p)
{
    p->stopping = true;
    peer_link_unlisten(p);
    peer_link_close_all(p, NULL);
    peer_tracker_stop(p, peer_stopped);
    if (ev_timer_active(&p->stop_timer))
        ev_run(p->loop);
}

static void peer_free(struct peer *p)
{
    peer_api_free(p);
    if (p->app)
        app_free(p->app);
    peer_link_close_all(p, NULL);
    peer_link_unlisten(p);
    peer_events_free(p);
    peer_tracker_free(p);
    peer_mesh_free(p);
    static_free(p->files);
    if (p->db)
        peer_store_close(p);
}

static int peer_check(struct peer *p, struct role_opts *o)
{
    int have = 0;
    int rc = peer_options(p, o) < 0 || (have = role_check_db(p->cfg.db_path)) < 0
        || (have == 1 && peer_store_open(p, p->cfg.db_path) < 0);
    if (p->db)
        peer_store_close(p);
    printf("weaprous peer: configuration %s\n", rc == 0 ? "ok" : "has errors");
    return rc;
}

static const char *const peer_keys[] = {
    "tracker", "p2p-ip", "p2p-port", "advertise-ip", "www", "static", NULL
};

static int peer_run(struct role_opts *o)
{
    struct role_rt rt;
    struct peer *p = calloc(1, sizeof(*p));
    int rc = 1;
    if (!p)
        return 1;
    p->p2p_fd = -1;
    if (o->check_only) {
        rc = peer_check(p, o);
        free(p);
        return rc;
    }
    if (peer_options(p, o) < 0 || role_rt_init(&rt, o) < 0) {
        free(p);
        return 1;
    }
    p->loop = rt.loop;
    peer_tracker_timers(p);
    if (peer_store_open(p, p->cfg.db_path) == 0 && peer_load_identity(p) == 0
        && peer_setup(p, o) == 0) {
        log_info("peer listening on http://%s:%d/ (P2P %s:%d, tracker %s, db %s, reactor %s)",
                 o->ip ? o->ip : "127.0.0.1", app_port(p->app), p->cfg.p2p_ip, p->p2p_port,
                 p->cfg.tracker_url, p->cfg.db_path, ev_backend_name());
        app_on_stop(p->app, peer_on_stop, p);
        if (peer_signed_in(p)) {
            log_info("resuming the session of %s", p->user);
            peer_api_resume(p);
        }
        rc = role_rt_ready(&rt) < 0 || app_run(p->app) < 0;
        peer_farewell(p);
    }
    peer_free(p);
    free(p);
    role_rt_finish(&rt);
    return rc;
}

const struct role_def role_peer_def = {
    .name = "peer",
    .default_port = PEER_DEFAULT_PORT,
    .keys = peer_keys,
    .run = peer_run,
    .help =
        "  --server-ip IP               HTTP address of the UI and API (default 127.0.0.1)\n"
        "  --db FILE                    this peer's database: history, its tracker\n"
        "                               session (default " WR_DEFAULT_PEER_DB ", the\n"
        "                               HTTP port)\n"
        "  --tracker URL                the tracker (default " PEER_DEFAULT_TRACKER ")\n"
        "  --p2p-ip IP                  address of the P2P listener (default: --server-ip)\n"
        "  --p2p-port N                 P2P port (default: HTTP port + 100)\n"
        "  --advertise-ip IP            address given to the tracker (default: the P2P\n"
        "                               address, or the tracker connection's source\n"
        "                               address when the P2P address is 0.0.0.0)\n"
        "  --www DIR, --static DIR      the chat page and its assets (default\n"
        "                               " WR_DEFAULT_WWW ", " WR_DEFAULT_STATIC ")\n",
};
