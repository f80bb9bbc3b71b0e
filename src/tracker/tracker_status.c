/*
 * tracker_status.c - the public face of the tracker: the status page at /
 * (peers online, channels, uptime; HTML) and GET /metrics (Prometheus text
 * exposition format 0.0.4).  Neither needs a session and neither names a
 * user.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tracker.h"

#define STATUS_MAX_CHANNELS 100   /* public channels listed on the page */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Counts the status page and /metrics show; -1 members when the store
 * failed. */
struct status_counts {
    int64_t active, peers, channels, users, uptime;
};

static void status_counts(struct tracker *tr, struct status_counts *c)
{
    c->active = tracker_db_count(tr, "active");
    c->peers = tracker_db_count(tr, "peers");
    c->channels = tracker_db_count(tr, "channels");
    c->users = tracker_db_count(tr, "users");
    c->uptime = db_now(tr->store) - tr->started_at;
}

struct status_page {
    http_txn *t;
    unsigned  n;
};

static int status_channel(const struct tracker_channel *c, void *arg)
{
    struct status_page *p = arg;
    if (p->n++ >= STATUS_MAX_CHANNELS)
        return 1;
    /* Channel names are [A-Za-z0-9_-] (checked on creation): nothing to
     * escape. */
    http_txn_printf(p->t, "<li>%s <small>(%lld member%s)</small></li>\n", c->name,
                    (long long)c->members, c->members == 1 ? "" : "s");
    return 0;
}

/* GET / */
static void status_page(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct status_counts c;
    status_counts(tr, &c);
    http_txn_printf(t,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>WeApRous tracker</title>\n"
        "<link rel=\"stylesheet\" href=\"/css/site.css\">\n"
        "<link rel=\"icon\" href=\"/images/logo.svg\" type=\"image/svg+xml\">\n"
        "</head>\n<body>\n<header class=\"bar\"><span class=\"brand\">"
        "<img src=\"/images/logo.svg\" alt=\"\" width=\"28\" height=\"28\">"
        "<span>WeApRous tracker</span></span></header>\n<main class=\"page\">\n"
        "<h1>WeApRous tracker</h1>\n"
        "<table class=\"status\">\n<tr><th>Peers online</th><td id=\"peers-online\">%lld</td></tr>\n"
        "<tr><th>Peers registered</th><td id=\"peers-registered\">%lld</td></tr>\n"
        "<tr><th>Channels</th><td id=\"channels\">%lld</td></tr>\n"
        "<tr><th>Accounts</th><td id=\"accounts\">%lld</td></tr>\n"
        "<tr><th>Uptime</th><td id=\"uptime\">%lldd %02lld:%02lld:%02lld</td></tr>\n"
        "<tr><th>Heart-beat interval</th><td>%u ms</td></tr>\n</table>\n"
        "<h2>Public channels</h2>\n<ul>\n",
        (long long)c.active, (long long)c.peers, (long long)c.channels,
        (long long)c.users, (long long)(c.uptime / 86400),
        (long long)(c.uptime / 3600 % 24), (long long)(c.uptime / 60 % 60),
        (long long)(c.uptime % 60), tr->cfg.heartbeat_ms);
    struct status_page p = { t, 0 };
    tracker_db_channel_list(tr, 0, status_channel, &p);
    http_txn_printf(t, "</ul>\n<p>API: POST /login, /submit-info, /heartbeat, "
                    "GET /get-list, /channels ... (docs/API.md); "
                    "<a href=\"/metrics\">metrics</a></p>\n</main>\n</body></html>\n");
    http_txn_add_header(t, "Content-Type", "text/html; charset=utf-8");
    http_txn_add_header(t, "Cache-Control", "no-store");
    http_txn_set_status(t, 200);
    tracker_count_status(tr, 200);
    app_finish(t);
}

static void put_metric(http_txn *t, const char *name, const char *type, const char *help,
                       long long v)
{
    http_txn_printf(t, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type,
                    name, v);
}

/* GET /metrics */
static void status_metrics(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct status_counts c;
    struct http_server_stats hs;
    const struct tracker_metrics *m = &tr->m;
    status_counts(tr, &c);
    http_server_get_stats(app_server(tr->app), &hs);
    tracker_count_status(tr, 200);   /* this answer is counted in itself */
    put_metric(t, "weaprous_tracker_requests_total", "counter",
               "HTTP requests received by the tracker", (long long)m->requests);
    http_txn_printf(t, "# HELP weaprous_tracker_responses_total Answers of the API by status\n"
                       "# TYPE weaprous_tracker_responses_total counter\n");
    for (size_t i = 0; i < TRACKER_STATUS_SLOTS && m->responses[i].status; i++)
        http_txn_printf(t, "weaprous_tracker_responses_total{code=\"%d\"} %llu\n",
                        m->responses[i].status, (unsigned long long)m->responses[i].n);
    uint64_t errors = hs.errors_total;
    for (size_t i = 0; i < TRACKER_STATUS_SLOTS; i++)
        if (m->responses[i].status >= 400)
            errors += m->responses[i].n;
    put_metric(t, "weaprous_tracker_errors_total", "counter",
               "Answers with a status of 400 or more (API and protocol errors)", (long long)errors);
    put_metric(t, "weaprous_tracker_peers_active", "gauge", "Peers heart-beating now", c.active);
    put_metric(t, "weaprous_tracker_peers_registered", "gauge",
               "Peers known (active or not)", c.peers);
    put_metric(t, "weaprous_tracker_peers_expired_total", "counter",
               "Peers taken off the active list by the sweeper", (long long)m->peers_expired);
    put_metric(t, "weaprous_tracker_list_cache_hits_total", "counter",
               "/get-list answers from a cached peer list", (long long)m->list_hits);
    put_metric(t, "weaprous_tracker_list_builds_total", "counter",
               "Peer lists queried and cached (a write, an expiry or a new list)",
               (long long)m->list_builds);
    put_metric(t, "weaprous_tracker_group_commits_total", "counter",
               "Transactions committed for the peers' writes (group commit)",
               (long long)m->group_commits);
    put_metric(t, "weaprous_tracker_group_writes_total", "counter",
               "Registrations and heart-beats answered after a group commit",
               (long long)m->group_writes);
    put_metric(t, "weaprous_tracker_channels", "gauge", "Channels", c.channels);
    put_metric(t, "weaprous_tracker_accounts", "gauge", "User accounts", c.users);
    put_metric(t, "weaprous_tracker_logins_total", "counter", "Successful logins",
               (long long)m->logins_ok);
    put_metric(t, "weaprous_tracker_login_failures_total", "counter", "Failed logins",
               (long long)m->logins_failed);
    put_metric(t, "weaprous_tracker_logins_limited_total", "counter",
               "Logins refused by the failure limiter (429)",
               (long long)m->limited[TRACKER_LIMIT_LOGIN]);
    put_metric(t, "weaprous_tracker_signups_limited_total", "counter",
               "Sign-ups refused by the failure limiter (429)",
               (long long)m->limited[TRACKER_LIMIT_SIGNUP]);
    put_metric(t, "weaprous_tracker_channel_passwords_limited_total", "counter",
               "Channel joins refused by the failure limiter (429)",
               (long long)m->limited[TRACKER_LIMIT_CHANNEL]);
    put_metric(t, "weaprous_tracker_registrations_total", "counter", "Accounts created by sign-up",
               (long long)m->registrations);
    put_metric(t, "weaprous_tracker_tickets_issued_total", "counter", "Introduction tickets issued",
               (long long)m->tickets_issued);
    put_metric(t, "weaprous_tracker_tickets_verified_total", "counter",
               "Tickets verified by their target", (long long)m->tickets_verified);
    put_metric(t, "weaprous_tracker_connections_active", "gauge", "Open client connections",
               (long long)hs.connections_active);
    put_metric(t, "weaprous_tracker_uptime_seconds", "gauge", "Seconds since start", c.uptime);
    http_txn_add_header(t, "Content-Type", PROM_CONTENT_TYPE);
    http_txn_set_status(t, 200);
    app_finish(t);
}

/* Counts every request before its route runs. */
static enum app_hook_result status_count(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    (void)t;
    tr->m.requests++;
    return APP_HOOK_NEXT;
}

/* What no route matches: a counted JSON 404. */
static void status_not_found(http_txn *t, void *arg)
{
    tracker_error(arg, t, 404, "not found", "no such endpoint (see GET / and docs/API.md)");
}

/* GET /css/... and /images/...: the page's stylesheet and icon, from the
 * same static tree as the backend's pages (--static). */
static void status_asset(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    if (!tr->files) {
        status_not_found(t, arg);
        return;
    }
    static_serve(tr->files, t);
}

int tracker_status_routes(struct tracker *tr)
{
    if (app_hook(tr->app, "/", status_count, tr) < 0
        || app_route(tr->app, "GET", "/", status_page, tr) < 0
        || app_route(tr->app, "GET", "/metrics", status_metrics, tr) < 0
        || app_route(tr->app, "GET", "/css/:file+", status_asset, tr) < 0
        || app_route(tr->app, "GET", "/images/:file+", status_asset, tr) < 0)
        return -1;
    app_set_fallback(tr->app, status_not_found, tr);
    return 0;
}
