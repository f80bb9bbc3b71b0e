/*
 * peer_tracker.c - the peer as a client of the tracker (docs/API.md,
 * "Tracker"), on the framework's HTTP client: every call is non-blocking
 * and completes from the loop.
 *
 *   signed in -> submit-info "started" -> heart-beat at the interval the
 *   tracker gives (its jitter included); a 404 to a heart-beat (the
 *   tracker restarted or forgot us) registers again; a 401 to any call
 *   means the session is gone: signed out here too.
 *   Every PEER_REFRESH_MS (and on demand): the peer list (?all=1) and the
 *   members of every channel we belong to.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "weaprous/log.h"

#define PEER_TRACKER_TIMEOUT_MS 10000   /* one call, connect included */
#define PEER_RETRY_MS           2000    /* registration after a failure */
#define PEER_REFRESH_MIN_MS     1000    /* on-demand refreshes at most this often */
#define PEER_REFRESH_SOON_MS    1000    /* after a live link ended: presence */

struct peer_call {
    struct peer      *p;
    hc_request       *r;
    peer_call_cb      cb;
    void             *arg;
    bool              authed;           /* sent with the session token */
    struct peer_call *next, *prev;
};

static void call_unlink(struct peer_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->p->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

const char *peer_answer_detail(const struct peer_answer *a)
{
    const char *d = json_get_str(a->body, "detail");
    if (a->status == 0)
        return strerror(a->err);
    return d ? d : json_get_str(a->body, "error") ? json_get_str(a->body, "error")
                                                  : "unexpected answer";
}

static void call_done(hc_request *r, int err, const struct hc_response *resp, void *arg)
{
    struct peer_call *c = arg;
    struct peer *p = c->p;
    json_doc *doc = NULL;
    struct peer_answer a = { resp ? resp->status : 0, err, NULL, 0 };
    (void)r;
    call_unlink(c);
    if (resp && resp->body_len > 0)
        doc = json_parse(resp->body, resp->body_len, NULL, NULL);
    a.body = json_root(doc);
    const struct http_header *ra = resp ? http_head_find(resp->head, "Retry-After") : NULL;
    if (ra)
        a.retry_after = strtol(ra->value, NULL, 10);
    c->cb(p, &a, c->arg);
    json_free(doc);
    bool lost = a.status == 401 && c->authed && peer_signed_in(p);
    free(c);
    if (lost)
        peer_tracker_lost_session(p);
}

struct peer_call *peer_tracker_call(struct peer *p, const char *method, const char *target,
                                    const char *json, peer_call_cb cb, void *arg)
{
    char auth[DB_TOKEN_HEX_LEN + 32];
    const char *headers[4];
    size_t nh = 0;
    struct peer_call *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->p = p;
    c->cb = cb;
    c->arg = arg;
    if (p->token[0] && strcmp(target, "/login") != 0) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", p->token);
        headers[nh++] = auth;
        c->authed = true;
    }
    if (json)
        headers[nh++] = "Content-Type: application/json";
    headers[nh++] = "Accept: application/json";
    headers[nh] = NULL;
    c->r = hc_request_start(p->hc, (struct sockaddr *)&p->tracker_sa, p->tracker_salen,
                            method, p->tracker_host, target, headers, json,
                            json ? strlen(json) : 0, call_done, c);
    if (!c->r) {
        free(c);
        return NULL;
    }
    c->next = p->calls;
    if (p->calls)
        p->calls->prev = c;
    p->calls = c;
    return c;
}

void peer_tracker_cancel(struct peer_call *c)
{
    if (!c)
        return;
    hc_cancel(c->r);
    call_unlink(c);
    free(c);
}

/* A fire-and-forget call whose answer only matters for the log. */
static void ignore_answer(struct peer *p, const struct peer_answer *a, void *arg)
{
    (void)p;
    if (a->status != 200)
        log_debug("tracker %s: %d %s", (const char *)arg, a->status, peer_answer_detail(a));
}

/* ---- set-up ---- */

/* "http://host[:port][/]" into host, port. */
static int parse_url(const char *url, char *host, size_t hcap, int *port)
{
    const char *h = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    if (!h || !*h)
        return -1;
    size_t n = strcspn(h, "/");
    if (h[n] && strcmp(h + n, "/") != 0)
        return -1;   /* no path: the API lives at the root */
    const char *colon = h[0] == '[' ? strstr(h, "]:") : memchr(h, ':', n);
    size_t hlen = colon ? (size_t)(colon - h) + (h[0] == '[') : n;
    *port = 80;
    if (colon) {
        char *end;
        long v = strtol(colon + 1 + (h[0] == '['), &end, 10);
        if (end != h + n || v < 1 || v > 65535)
            return -1;
        *port = (int)v;
    }
    if (h[0] == '[') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= hcap)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    return 0;
}

static void beat_cb(ev_loop *loop, ev_timer *t, void *arg);
void peer_tracker_refresh_soon(struct peer *p)
{
    uint64_t due = ev_now_ms(p->loop) + PEER_REFRESH_SOON_MS;
    if (!peer_signed_in(p) || p->stopping)
        return;
    if (!ev_timer_active(&p->refresh) || p->refresh.due_ms > due)
        ev_timer_start(p->loop, &p->refresh, PEER_REFRESH_SOON_MS, 0);
}

static void refresh_cb(ev_loop *loop, ev_timer *t, void *arg);
static void stop_timeout(ev_loop *loop, ev_timer *t, void *arg);

void peer_tracker_timers(struct peer *p)
{
    ev_timer_init(&p->beat, beat_cb, p);
    ev_timer_init(&p->refresh, refresh_cb, p);
    ev_timer_init(&p->stop_timer, stop_timeout, p);
}

int peer_tracker_init(struct peer *p, const char *url)
{
    char host[256];
    int port;
    if (parse_url(url, host, sizeof(host), &port) < 0) {
        log_error("bad --tracker '%s' (http://HOST[:PORT])", url);
        return -1;
    }
    if (net_resolve(host, port, &p->tracker_sa, &p->tracker_salen) < 0) {
        log_error("cannot resolve the tracker's host '%s'", host);
        return -1;
    }
    snprintf(p->tracker_host, sizeof(p->tracker_host), strchr(host, ':') ? "[%s]:%d" : "%s:%d",
             host, port);
    struct hc_config cfg = { .connect_timeout_ms = PEER_CONNECT_MS,
                             .timeout_ms = PEER_TRACKER_TIMEOUT_MS };
    p->hc = hc_client_new(p->loop, &cfg);
    if (!p->hc) {
        log_warn("HTTP client");
        return -1;
    }
    return 0;
}

void peer_tracker_free(struct peer *p)
{
    while (p->calls)
        peer_tracker_cancel(p->calls);
    ev_timer_stop(p->loop, &p->beat);
    ev_timer_stop(p->loop, &p->refresh);
    ev_timer_stop(p->loop, &p->stop_timer);
    hc_client_free(p->hc);
    p->hc = NULL;
}

/* ---- registration and heart-beat ---- */

static void submit(struct peer *p, const char *event);

/* The heart-beat interval the tracker gave in an answer. */
static void take_interval(struct peer *p, const json_value *body)
{
    int64_t ms;
    if (json_int_range(json_get(body, "heartbeat_interval_ms"), 100, 3600000, &ms) == 0)
        p->beat_ms = (unsigned)ms;
}

static void on_submit(struct peer *p, const struct peer_answer *a, void *arg)
{
    (void)arg;
    if (!peer_signed_in(p) || p->stopping)
        return;
    if (a->status == 200) {
        take_interval(p, a->body);
        if (!p->registered)
            log_info("registered with the tracker as %s (P2P port %d, heart-beat %u ms)",
                     p->user, p->p2p_port, p->beat_ms);
        p->registered = true;
        ev_timer_start(p->loop, &p->beat, p->beat_ms, 0);
        peer_tracker_refresh(p);
        return;
    }
    if (a->status != 401)
        log_warnx("tracker: submit-info: %d %s", a->status, peer_answer_detail(a));
    p->registered = false;
    ev_timer_start(p->loop, &p->beat, PEER_RETRY_MS, 0);   /* try again */
}

static void submit(struct peer *p, const char *event)
{
    char body[160];
    const char *ip = p->cfg.advertise_ip;
    if (!ip && p->cfg.p2p_ip && strcmp(p->cfg.p2p_ip, "0.0.0.0") != 0
        && strcmp(p->cfg.p2p_ip, "::") != 0)
        ip = p->cfg.p2p_ip;
    if (ip)
        snprintf(body, sizeof(body), "{\"ip\":\"%s\",\"port\":%d,\"event\":\"%s\"}", ip,
                 p->p2p_port, event);
    else
        snprintf(body, sizeof(body), "{\"port\":%d,\"event\":\"%s\"}", p->p2p_port, event);
    if (!peer_tracker_call(p, "POST", "/submit-info", body, on_submit, NULL))
        ev_timer_start(p->loop, &p->beat, PEER_RETRY_MS, 0);
}

static void on_beat(struct peer *p, const struct peer_answer *a, void *arg)
{
    (void)arg;
    if (!peer_signed_in(p) || p->stopping)
        return;
    if (a->status == 200) {
        take_interval(p, a->body);
        ev_timer_start(p->loop, &p->beat, p->beat_ms, 0);
    } else if (a->status == 404) {
        log_info("the tracker forgot this peer: registering again");
        p->registered = false;
        submit(p, "started");
    } else if (a->status != 401) {
        /* tracker down or busy: keep beating; it brings us back */
        ev_timer_start(p->loop, &p->beat, p->beat_ms, 0);
    }
}

static void beat_cb(ev_loop *loop, ev_timer *t, void *arg)
{
    struct peer *p = arg;
    (void)loop; (void)t;
    if (!peer_signed_in(p) || p->stopping)
        return;
    if (!p->registered) {
        submit(p, "started");
        return;
    }
    if (!peer_tracker_call(p, "POST", "/heartbeat", "{}", on_beat, NULL))
        ev_timer_start(p->loop, &p->beat, p->beat_ms, 0);
}

void peer_tracker_online(struct peer *p)
{
    p->registered = false;
    p->newcomer = true;
    p->online_gen = p->list_gen;
    if (!p->beat_ms)
        p->beat_ms = 10000;
    ev_timer_stop(p->loop, &p->beat);
    submit(p, "started");
}

/* ---- lists and memberships ---- */

static void refresh_done(struct peer *p)
{
    if (p->refreshing > 0 && --p->refreshing > 0)
        return;
    peer_mesh_connect(p);
    if (p->list_gen > p->online_gen)   /* a whole refresh since we came online */
        p->newcomer = false;
    if (p->refresh_again) {
        p->refresh_again = false;
        peer_tracker_refresh(p);
    }
}

struct members_call {
    char   name[PEER_CHANNEL_MAX + 1];
    void (*done)(struct peer *p, void *arg);
    void  *arg;
};

static void on_members(struct peer *p, const struct peer_answer *a, void *arg)
{
    struct members_call *mc = arg;
    struct peer_chan *c = peer_chan_find(p, mc->name);
    if (a->status == 200 && c && !c->dm) {
        size_t before = c->n;
        if (peer_chan_set_members(p, c, json_get(a->body, "peers")) < 0)
            log_warnx("members of %s: %s", mc->name, db_errmsg(p->db));
        if (c->n != before)
            peer_sync_announce(p, c);
    }
    mc->done(p, mc->arg);
    free(mc);
}

int peer_tracker_members(struct peer *p, const char *channel,
                         void (*done)(struct peer *p, void *arg), void *arg)
{
    char target[96];
    struct peer_call *call;
    struct members_call *mc = calloc(1, sizeof(*mc));
    if (!mc)
        return -1;
    snprintf(mc->name, sizeof(mc->name), "%s", channel);
    mc->done = done;
    mc->arg = arg;
    snprintf(target, sizeof(target), "/get-list?channel=%s", channel);
    if (!(call = peer_tracker_call(p, "GET", target, NULL, on_members, mc))) {
        free(mc);
        return -1;
    }
    return 0;
}

static void members_listed(struct peer *p, void *arg)
{
    (void)arg;
    refresh_done(p);
}

static void ask_members(struct peer *p, const char *channel)
{
    if (peer_tracker_members(p, channel, members_listed, NULL) == 0)
        p->refreshing++;
}

/* The channels of a /get-list answer we are a member of: followed (and
 * recorded), asked for their members; channels we no longer belong to are
 * dropped (their history stays, read-only).  A list asked before a join
 * or leave made here is older than it: it neither drops a channel joined
 * since nor follows a new one after a leave (the next list will). */
static void take_channels(struct peer *p, const json_value *chans)
{
    bool stale_adds = p->left_gen > p->list_asked_gen;
    for (size_t i = 0; i < p->nchans; i++)
        p->chans[i]->listed = false;
    for (size_t i = 0; i < json_len(chans); i++) {
        const json_value *e = json_index(chans, i);
        const char *name = json_get_str(e, "name"), *access = json_get_str(e, "access");
        bool member = false;
        json_bool(json_get(e, "member"), &member);
        if (!member || !name || !peer_channel_valid(name) || strncmp(name, "dm:", 3) == 0)
            continue;
        struct peer_chan *c = peer_chan_find(p, name);
        if (!c && stale_adds)
            continue;
        if (!c && (peer_store_conv_put(p, name, false, access, NULL) < 0
                   || !(c = peer_chan_get(p, name)))) {
            log_warnx("following %s: %s", name, db_errmsg(p->db));
            continue;
        }
        snprintf(c->access, sizeof(c->access), "%s", access ? access : "");
        c->listed = true;
        ask_members(p, name);
    }
    for (size_t i = p->nchans; i-- > 0;) {
        struct peer_chan *c = p->chans[i];
        if (!c->dm && !c->listed && c->joined_gen <= p->list_asked_gen) {
            log_info("no longer a member of %s", c->name);
            peer_store_conv_left(p, c->name);
            peer_chan_drop(p, c->name);
        }
    }
}

static void on_list(struct peer *p, const struct peer_answer *a, void *arg)
{
    (void)arg;
    if (a->status == 200 && peer_signed_in(p)) {
        take_channels(p, json_get(a->body, "channels"));
        peer_mesh_update(p, json_get(a->body, "peers"));
    }
    refresh_done(p);
}

void peer_tracker_refresh(struct peer *p)
{
    uint64_t now = ev_now_ms(p->loop);
    if (!peer_signed_in(p) || p->stopping)
        return;
    if (p->refreshing > 0) {
        p->refresh_again = true;
        return;
    }
    if (now - p->last_refresh_ms < PEER_REFRESH_MIN_MS) {
        /* on-demand refreshes come in bursts: one, a moment later */
        ev_timer_start(p->loop, &p->refresh, PEER_REFRESH_MIN_MS - (now - p->last_refresh_ms),
                       0);
        return;
    }
    p->last_refresh_ms = now;
    ev_timer_start(p->loop, &p->refresh, PEER_REFRESH_MS, 0);
    p->list_asked_gen = p->member_gen;
    if (peer_tracker_call(p, "GET", "/get-list?all=1", NULL, on_list, NULL))
        p->refreshing++;
}

static void refresh_cb(ev_loop *loop, ev_timer *t, void *arg)
{
    struct peer *p = arg;
    (void)loop; (void)t;
    p->last_refresh_ms = 0;
    peer_tracker_refresh(p);
}

/* ---- leaving ---- */

/* The session ends here at once (the local API answers 401); the links
 * close now, or, with close_links false, when the tracker has answered
 * /logout. */
static void signed_out_here(struct peer *p, bool close_links)
{
    p->token[0] = '\0';
    p->registered = false;
    ev_timer_stop(p->loop, &p->beat);
    ev_timer_stop(p->loop, &p->refresh);
    if (peer_store_clear_token(p) < 0 || peer_store_session_del_all(p) < 0)
        log_warnx("sign-out: %s", db_errmsg(p->db));
    if (close_links)
        peer_link_close_all(p, "signed-out");
    peer_event_session(p, "signed-out");
}

/* The tracker has taken us off its list (or the call failed): the links
 * close now, so that a linked peer that asks for the list when its link
 * ends sees us offline.  Not if the user signed in again meanwhile. */
static void on_logout(struct peer *p, const struct peer_answer *a, void *arg)
{
    ignore_answer(p, a, arg);
    if (!peer_signed_in(p))
        peer_link_close_all(p, "signed-out");
}

void peer_tracker_signout(struct peer *p)
{
    if (!peer_signed_in(p))
        return;
    /* /logout ends the session and takes the peer off the active list */
    bool asked = peer_tracker_call(p, "POST", "/logout", "{}", on_logout, "logout") != NULL;
    log_info("%s signed out", p->user);
    signed_out_here(p, !asked);
}

void peer_tracker_lost_session(struct peer *p)
{
    if (!peer_signed_in(p))
        return;
    log_warnx("the tracker ended the session of %s: signed out", p->user);
    signed_out_here(p, true);
}

static void stop_finish(struct peer *p)
{
    void (*done)(struct peer *) = p->stop_done;
    p->stop_done = NULL;
    ev_timer_stop(p->loop, &p->stop_timer);
    if (done)
        done(p);
}

static void on_stopped(struct peer *p, const struct peer_answer *a, void *arg)
{
    (void)a; (void)arg;
    stop_finish(p);
}

static void stop_timeout(ev_loop *loop, ev_timer *t, void *arg)
{
    (void)loop; (void)t;
    log_info("the tracker did not answer \"stopped\" in time");
    stop_finish(arg);
}

void peer_tracker_stop(struct peer *p, void (*done)(struct peer *p))
{
    char body[96];
    ev_timer_stop(p->loop, &p->beat);
    ev_timer_stop(p->loop, &p->refresh);
    p->stop_done = done;
    snprintf(body, sizeof(body), "{\"port\":%d,\"event\":\"stopped\"}", p->p2p_port);
    if (!peer_signed_in(p) || !p->registered
        || !peer_tracker_call(p, "POST", "/submit-info", body, on_stopped, NULL)) {
        stop_finish(p);
        return;
    }
    ev_timer_start(p->loop, &p->stop_timer, PEER_STOP_MS, 0);
}
