/*
 * peer_events.c - GET /events: a WebSocket that pushes to the user's
 * browser what happens (docs/API.md, "Peer"): new messages, delivery
 * states, presence, link states and the session.  Every open tab joins
 * one broadcast set; a tab whose queue overflows is closed with 1013 and
 * catches up from the history when it reconnects.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "peer.h"
#include "weaprous/log.h"

#define PEER_EVENT_CAP 16384     /* one event's JSON (a 4000-byte text escaped) */

int peer_events_init(struct peer *p)
{
    p->events = ws_set_new(WS_CLOSE_TRY_AGAIN);
    return p->events ? 0 : -1;
}

void peer_events_free(struct peer *p)
{
    ws_set_free(p->events);
    p->events = NULL;
}

bool peer_events_listening(const struct peer *p)
{
    return p->events && ws_set_size(p->events) > 0;
}

static void on_open(ws_conn *c, void *arg)
{
    struct peer *p = arg;
    if (ws_set_add(p->events, c) < 0)
        ws_close(c, WS_CLOSE_TRY_AGAIN, "too many tabs");
}

static void on_message(ws_conn *c, enum ws_opcode op, const char *data, size_t len, void *arg)
{
    (void)c; (void)op; (void)data; (void)len; (void)arg;   /* the browser only listens */
}

void peer_events_upgrade(struct peer *p, http_txn *t)
{
    static const struct ws_handlers h = { on_open, on_message, NULL };
    struct ws_config cfg = { .ping_interval_ms = 25000 };
    app_done(t);
    ws_upgrade(t, &cfg, &h, p);
}

/* Starts an event {"type": type, ...}: the caller adds members, then
 * event_send(). */
static void event_begin(json_writer *w, buf *b, const char *type)
{
    json_w_init(w, b);
    json_w_begin_object(w);
    json_w_key(w, "type");
    json_w_string(w, type);
}

static void event_send(struct peer *p, json_writer *w, buf *b)
{
    json_w_end_object(w);
    if (json_w_finish(w) == 0 && ws_set_size(p->events) > 0)
        ws_set_broadcast(p->events, WS_OP_TEXT, buf_ptr(b), buf_len(b), NULL);
    buf_free(b);
}

void peer_event_message(struct peer *p, const struct peer_msg *m)
{
    json_writer w;
    buf b;
    if (ws_set_size(p->events) == 0)
        return;
    buf_init(&b, PEER_EVENT_CAP);
    event_begin(&w, &b, "message");
    json_w_key(&w, "message");
    peer_msg_json(p, &w, m);
    event_send(p, &w, &b);
}

void peer_event_delivery(struct peer *p, const char *channel, int64_t seq,
                         const char *state, size_t delivered, size_t members)
{
    json_writer w;
    buf b;
    char id[DB_MAX_NAME + PEER_CHANNEL_MAX + 24];
    if (ws_set_size(p->events) == 0)
        return;
    snprintf(id, sizeof(id), "%s:%lld@%s", p->user, (long long)seq, channel);
    buf_init(&b, PEER_EVENT_CAP);
    event_begin(&w, &b, "delivery");
    json_w_key(&w, "id");
    json_w_string(&w, id);
    json_w_key(&w, "channel");
    json_w_string(&w, channel);
    json_w_key(&w, "state");
    json_w_string(&w, state);
    json_w_key(&w, "delivered");
    json_w_uint(&w, delivered);
    json_w_key(&w, "members");
    json_w_uint(&w, members);
    event_send(p, &w, &b);
}

void peer_event_presence(struct peer *p, const char *user, bool online)
{
    json_writer w;
    buf b;
    if (ws_set_size(p->events) == 0)
        return;
    buf_init(&b, PEER_EVENT_CAP);
    event_begin(&w, &b, "presence");
    json_w_key(&w, "user");
    json_w_string(&w, user);
    json_w_key(&w, "online");
    json_w_bool(&w, online);
    event_send(p, &w, &b);
}

void peer_event_link(struct peer *p, const char *user, const char *state)
{
    json_writer w;
    buf b;
    if (ws_set_size(p->events) == 0)
        return;
    buf_init(&b, PEER_EVENT_CAP);
    event_begin(&w, &b, "link");
    json_w_key(&w, "peer");
    json_w_string(&w, user);
    json_w_key(&w, "state");
    json_w_string(&w, state);
    event_send(p, &w, &b);
}

void peer_event_session(struct peer *p, const char *state)
{
    json_writer w;
    buf b;
    if (ws_set_size(p->events) == 0)
        return;
    buf_init(&b, PEER_EVENT_CAP);
    event_begin(&w, &b, "session");
    json_w_key(&w, "state");
    json_w_string(&w, state);
    event_send(p, &w, &b);
}
