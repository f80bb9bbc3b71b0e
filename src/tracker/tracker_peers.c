/*
 * tracker_peers.c - peer registration and discovery: POST /submit-info,
 * POST /heartbeat, GET /get-list.
 *
 * One peer per account; a peer is active while it heart-beats (expiry:
 * three of its intervals, computed in the queries, the sweeper clears the
 * flag later).  The interval told to each peer carries jitter so that
 * peers started together do not beat in step.  /get-list answers from
 * the cached lists of tracker_list.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "tracker.h"
#include "weaprous/entropy.h"

unsigned tracker_jitter(const struct tracker *tr)
{
    uint32_t r = 0;
    unsigned span = tr->cfg.heartbeat_ms * TRACKER_JITTER_PCT / 100;
    if (span == 0 || entropy_fill(&r, sizeof(r)) < 0)
        return tr->cfg.heartbeat_ms;   /* no randomness: no jitter, still correct */
    return tr->cfg.heartbeat_ms - span + r % (2 * span + 1);
}

/* Canonical text of an IPv4 or IPv6 address (an IPv4-mapped IPv6 address
 * becomes plain IPv4).  0, or -1 when s is not an address. */
static int peer_ip_canon(const char *s, char out[TRACKER_MAX_IP + 1])
{
    unsigned char a[16];
    if (inet_pton(AF_INET, s, a) == 1)
        return inet_ntop(AF_INET, a, out, TRACKER_MAX_IP + 1) ? 0 : -1;
    if (inet_pton(AF_INET6, s, a) != 1)
        return -1;
    static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
    if (memcmp(a, mapped, 12) == 0)
        return inet_ntop(AF_INET, a + 12, out, TRACKER_MAX_IP + 1) ? 0 : -1;
    return inet_ntop(AF_INET6, a, out, TRACKER_MAX_IP + 1) ? 0 : -1;
}

/* The address to register: the body's "ip" (checked against the caller's
 * own unless advertised addresses are allowed) or the caller's.  0, or -1
 * after answering 403/422. */
static int peer_ip(struct tracker *tr, http_txn *t, const json_value *root,
                   char ip[TRACKER_MAX_IP + 1])
{
    const char *want;
    char own[TRACKER_MAX_IP + 1];
    if (tracker_str(t, root, "ip", TRACKER_MAX_IP, &want, tr) < 0)
        return -1;
    if (peer_ip_canon(http_txn_remote_addr(t), own) < 0)
        snprintf(own, sizeof(own), "%s", http_txn_remote_addr(t));
    if (!want) {
        memcpy(ip, own, sizeof(own));
        return 0;
    }
    if (peer_ip_canon(want, ip) < 0) {
        tracker_error(tr, t, 422, "unprocessable entity", "\"ip\" is not an IPv4 or IPv6 address");
        return -1;
    }
    if (!tr->cfg.allow_advertised && strcmp(ip, own) != 0) {
        char detail[160];
        snprintf(detail, sizeof(detail), "\"ip\" must be your own address (%s);"
                 " the operator may allow others (--allow-advertised-addr)", own);
        tracker_error(tr, t, 403, "forbidden", detail);
        return -1;
    }
    return 0;
}

/* "port": 1..65535, required.  0, or -1 after answering 400/422. */
static int peer_port(struct tracker *tr, http_txn *t, const json_value *root, int *port)
{
    const json_value *v = json_get(root, "port");
    int64_t p;
    if (!v) {
        tracker_error(tr, t, 400, "bad request", "\"port\" is required");
        return -1;
    }
    if (json_int_range(v, 1, 65535, &p) < 0) {
        tracker_error(tr, t, 422, "unprocessable entity",
                      "\"port\" must be an integer from 1 to 65535");
        return -1;
    }
    *port = (int)p;
    return 0;
}

/* "event": absent, "started", "update" or "stopped" (BitTorrent's names).
 * 1 for stopped, 0 otherwise, -1 after answering 422. */
static int peer_event(struct tracker *tr, http_txn *t, const json_value *root)
{
    const char *ev;
    if (tracker_str(t, root, "event", 16, &ev, tr) < 0)
        return -1;
    if (!ev || strcmp(ev, "started") == 0 || strcmp(ev, "update") == 0)
        return 0;
    if (strcmp(ev, "stopped") == 0)
        return 1;
    tracker_error(tr, t, 422, "unprocessable entity",
                  "\"event\" must be \"started\", \"update\" or \"stopped\"");
    return -1;
}

/* The answer to a registration or a heart-beat: when to beat next. */
void tracker_peer_answer(struct tracker *tr, http_txn *t, const struct tracker_beat *b)
{
    json_writer *w = tracker_json(t);
    json_w_begin_object(w);
    json_w_key(w, "online");
    json_w_bool(w, true);
    if (b->registered) {
        json_w_key(w, "ip");
        json_w_string(w, b->ip);
        json_w_key(w, "port");
        json_w_int(w, b->port);
        json_w_key(w, "replaced");
        json_w_bool(w, b->replaced);
    }
    json_w_key(w, "heartbeat_interval");
    json_w_double(w, b->ms / 1000.0);
    json_w_key(w, "heartbeat_interval_ms");
    json_w_uint(w, b->ms);
    json_w_key(w, "expires_in");
    json_w_uint(w, (b->ms * TRACKER_EXPIRY_BEATS + 999) / 1000);
    json_w_end_object(w);
    tracker_reply(tr, t, 200);
}

/* Logout or "stopped": the peer leaves the active list at once. */
static void peer_answer_stop(struct tracker *tr, http_txn *t, int64_t user)
{
    int n = tracker_db_peer_stop(tr, user);
    if (n < 0) {
        tracker_store_error(tr, t, "peer stop");
        return;
    }
    json_writer *w = tracker_json(t);
    json_w_begin_object(w);
    json_w_key(w, "online");
    json_w_bool(w, false);
    json_w_key(w, "peer_removed");
    json_w_bool(w, n > 0);
    json_w_end_object(w);
    tracker_reply(tr, t, 200);
}

/* The preamble of /submit-info and /heartbeat: the session, the body
 * (required or not) and its "event".  0 to go on, or -1 after answering
 * (an error, or "stopped", answered by peer_answer_stop()). */
static int peer_begin(struct tracker *tr, http_txn *t, struct tracker_user *u,
                      const json_value **root, bool required)
{
    int stop;
    if (tracker_auth(tr, t, u) < 0 || tracker_body(tr, t, root, required) < 0
        || (stop = peer_event(tr, t, *root)) < 0)
        return -1;
    if (stop) {
        peer_answer_stop(tr, t, u->id);
        return -1;
    }
    return 0;
}

/* POST /submit-info {ip, port, event}: answered once the registration is
 * committed (tracker_group.c). */
static void peer_submit(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct tracker_user u;
    const json_value *root;
    struct tracker_beat b = { .registered = true };
    if (peer_begin(tr, t, &u, &root, true) < 0
        || peer_port(tr, t, root, &b.port) < 0 || peer_ip(tr, t, root, b.ip) < 0)
        return;
    b.ms = tracker_jitter(tr);
    if (tracker_db_peer_put(tr, u.id, b.ip, b.port, b.ms, &b.replaced) < 0) {
        tracker_store_error(tr, t, "submit-info");
        return;
    }
    tracker_group_wait(tr, t, &b);
}

/* POST /heartbeat [{event}]: answered once the beat is committed. */
static void peer_heartbeat(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct tracker_user u;
    const json_value *root;
    struct tracker_beat b = { .registered = false };
    if (peer_begin(tr, t, &u, &root, false) < 0)
        return;
    b.ms = tracker_jitter(tr);
    int n = tracker_db_peer_beat(tr, u.id, b.ms);
    if (n < 0)
        tracker_store_error(tr, t, "heartbeat");
    else if (n == 0)
        tracker_error(tr, t, 404, "not found",
                      "no registered peer for this account: POST /submit-info first");
    else
        tracker_group_wait(tr, t, &b);
}

/* ---- GET /get-list ---- */

static int channel_name_write(const struct tracker_channel *c, void *arg)
{
    tracker_channel_json(arg, c, false);
    return 0;
}

/* The channel named in ?channel= as u may see it: 1 with *c, or -1 after
 * answering 403/404/422. */
static int list_channel(struct tracker *tr, http_txn *t, const struct tracker_user *u,
                        const char *name, struct tracker_channel *c)
{
    if (tracker_channel_find(tr, t, name, u, c) < 0)
        return -1;
    if (!c->member && strcmp(c->access, "public") != 0) {
        tracker_error(tr, t, 403, "forbidden", "members only: join the channel first");
        return -1;
    }
    return 1;
}

/* The list ?channel= or ?all= asks for; NULL after answering 5xx. */
static const struct tracker_list *list_of(struct tracker *tr, http_txn *t, const char *name,
                                          const struct tracker_channel *c)
{
    const char *all = app_query(t, "all");
    enum tracker_list_kind kind = name ? TRACKER_LIST_CHANNEL
                                  : all && strcmp(all, "0") != 0 ? TRACKER_LIST_ALL
                                  : TRACKER_LIST_ACTIVE;
    const struct tracker_list *l = tracker_list_get(tr, kind, name ? c->id : 0);
    if (!l)
        tracker_store_error(tr, t, "get-list");
    return l;
}

/* GET /get-list[?channel=NAME][&all=1]: the peers from the cached list
 * (tracker_list.c); the caller's channels are asked for every time since
 * they depend on who asks. */
static void peer_get_list(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct tracker_user u;
    struct tracker_channel c;
    const struct tracker_list *l;
    const char *name = app_query(t, "channel");
    if (tracker_auth(tr, t, &u) < 0 || (name && list_channel(tr, t, &u, name, &c) < 0)
        || !(l = list_of(tr, t, name, &c)))
        return;
    json_writer *w = tracker_json(t);
    json_w_begin_object(w);
    if (name) {
        json_w_key(w, "channel");
        json_w_string(w, c.name);
    }
    json_w_key(w, "peers");
    json_w_raw(w, buf_ptr(&l->json), buf_len(&l->json));
    int r = 0;
    if (!name) {
        json_w_key(w, "channels");
        json_w_begin_array(w);
        r = tracker_db_channel_list(tr, u.id, channel_name_write, w);
        json_w_end_array(w);
    }
    json_w_key(w, "truncated");
    json_w_bool(w, l->truncated);
    json_w_end_object(w);
    tracker_finish(tr, t, r, "get-list");
}

int tracker_peer_routes(struct tracker *tr)
{
    if (app_route(tr->app, "POST", "/submit-info", peer_submit, tr) < 0
        || app_route(tr->app, "POST", "/heartbeat", peer_heartbeat, tr) < 0
        || app_route(tr->app, "GET", "/get-list", peer_get_list, tr) < 0)
        return -1;
    return 0;
}
