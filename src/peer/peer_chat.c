/*
 * peer_chat.c - sending: a message is stored first (its seq and Lamport
 * time allocated in the same transaction), then written on the live link
 * of every member; members without a link get it through the sync when
 * they come back.  The author's view of each own message moves pending ->
 * sent (on at least one link) -> delivered (k of the N other members hold
 * it, from their have vectors), pushed on /events.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "peer.h"
#include "weaprous/log.h"

#define PEER_DELIVERY_EVENTS 256   /* delivery events per range and pass, newest kept */

void peer_msg_json(struct peer *p, json_writer *w, const struct peer_msg *m)
{
    char id[DB_MAX_NAME + PEER_CHANNEL_MAX + 24];
    snprintf(id, sizeof(id), "%s:%lld@%s", m->origin, (long long)m->seq, m->channel);
    json_w_begin_object(w);
    json_w_key(w, "id");
    json_w_string(w, id);
    json_w_key(w, "channel");
    json_w_string(w, m->channel);
    json_w_key(w, "origin");
    json_w_string(w, m->origin);
    json_w_key(w, "seq");
    json_w_int(w, m->seq);
    json_w_key(w, "lamport");
    json_w_int(w, m->lamport);
    json_w_key(w, "sent_at");
    json_w_int(w, m->sent_at);
    json_w_key(w, "received_at");
    json_w_int(w, m->received_at);
    json_w_key(w, "text");
    json_w_string_n(w, m->text, m->text_len);
    json_w_key(w, "state");
    if (m->state[0]) {
        json_w_string(w, m->state);
        struct peer_chan *c = peer_chan_find(p, m->channel);
        json_w_key(w, "delivered");
        json_w_uint(w, c ? peer_chat_delivered_to(p, c, m->seq) : 0);
        json_w_key(w, "members");
        json_w_uint(w, c ? peer_chan_others(c) : 0);
        if (m->client_id[0]) {
            json_w_key(w, "client_id");
            json_w_string(w, m->client_id);
        }
    } else {
        json_w_null(w);
    }
    json_w_end_object(w);
}

/* Writes m on l (frame: m's msg frame, encoded once for every link), or
 * queues it behind a sync range of the same origin (order) or when l is
 * congested.  True when it is on its way. */
static bool send_on(struct peer_link *l, const struct peer_msg *m, const buf *frame)
{
    if (peer_link_congested(l) || peer_sync_queued(l, m->channel, m->origin)) {
        if (peer_sync_queue(l, m->channel, m->origin, m->seq, m->seq) < 0)
            return false;
        peer_sync_sent(l, m->channel, m->origin, m->seq);
        peer_sync_pump(l);
        return true;
    }
    if (buf_len(frame) == 0 || buf_append(&l->out, buf_ptr(frame), buf_len(frame)) < 0)
        return false;
    l->msgs_out++;
    peer_sync_sent(l, m->channel, m->origin, m->seq);
    peer_link_flush(l);
    return true;
}

/* Whether some other member of c has a live link: a message sent now is
 * written on it (stored as sent at once, without a second statement). */
static bool any_live(struct peer *p, const struct peer_chan *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->m[i].user, p->user) != 0 && peer_link_live(p, c->m[i].user))
            return true;
    return false;
}

int peer_chat_send(struct peer *p, struct peer_chan *c, const char *text, size_t len,
                   const char *client_id, struct peer_msg *m)
{
    bool live = any_live(p, c);
    int r = peer_store_own(p, c, text, len, client_id, live ? "sent" : "pending",
                           peer_now_ms(p), m);
    if (r <= 0)
        return r;
    peer_event_message(p, m);
    bool sent = false;
    buf frame;
    struct pf_msg f = { m->channel, m->origin, m->seq, m->lamport, m->sent_at,
                        m->text, m->text_len };
    buf_init(&frame, PEER_FRAME_HEADER + PEER_FRAME_MAX);
    if (live && peer_frame_put_msg(&frame, &f) < 0)
        buf_reset(&frame);    /* cannot happen (text <= 4000 bytes): sync sends it */
    for (size_t i = 0; live && i < c->n; i++) {
        if (strcmp(c->m[i].user, p->user) == 0)
            continue;
        struct peer_link *l = peer_link_live(p, c->m[i].user);
        if (l && send_on(l, m, &frame))
            sent = true;
    }
    buf_free(&frame);
    if (live && !sent) {     /* every live link refused it (queues full) */
        if (peer_store_unsent(p, c->name, m->seq) < 0)
            log_warnx("state of %s: %s", c->name, db_errmsg(p->db));
        snprintf(m->state, sizeof(m->state), "pending");
    }
    if (!sent)
        peer_mesh_connect(p);   /* a dm partner that just came online */
    return 1;
}

struct advance_ctx {
    struct peer *p;
    struct peer_chan *c;
    const char *state;
    int64_t skip_below;     /* events only from here (the newest ones) */
};

size_t peer_chat_delivered_to(struct peer *p, const struct peer_chan *c, int64_t seq)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        k += strcmp(c->m[i].user, p->user) != 0 && c->m[i].have >= seq;
    return k;
}

/* The highest of our seqs that some other member holds: every message up
 * to it is in state delivered already. */
static int64_t delivered_upto(struct peer *p, const struct peer_chan *c)
{
    int64_t top = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->m[i].have > top && strcmp(c->m[i].user, p->user) != 0)
            top = c->m[i].have;
    return top;
}

static void advance_event(int64_t seq, void *arg)
{
    struct advance_ctx *a = arg;
    if (seq < a->skip_below)
        return;
    peer_event_delivery(a->p, a->c->name, seq, a->state,
                        peer_chat_delivered_to(a->p, a->c, seq), peer_chan_others(a->c));
}

static void no_event(int64_t seq, void *arg)
{
    (void)seq; (void)arg;
}

void peer_chat_mark_sent(struct peer *p, const char *channel, int64_t from, int64_t to)
{
    struct peer_chan *c = peer_chan_find(p, channel);
    if (!c || from <= 0 || to < from)
        return;
    struct advance_ctx a = { p, c, "sent", to - PEER_DELIVERY_EVENTS + 1 };
    if (peer_store_advance(p, channel, from, to, "sent", advance_event, &a) < 0)
        log_warnx("state of %s: %s", channel, db_errmsg(p->db));
}

/* The end of a pass: one delivery event per own message whose count
 * moved during it, however many receipts came (at most the newest
 * PEER_DELIVERY_EVENTS of each conversation). */
static void notify_cb(ev_loop *loop, void *arg)
{
    struct peer *p = arg;
    (void)loop;
    p->notify_armed = false;
    for (size_t i = 0; i < p->nchans; i++) {
        struct peer_chan *c = p->chans[i];
        int64_t from = c->notify_from, to = c->notify_to;
        if (!to)
            continue;
        c->notify_from = c->notify_to = 0;
        if (to - from >= PEER_DELIVERY_EVENTS)
            from = to - PEER_DELIVERY_EVENTS + 1;
        for (int64_t s = from; s <= to; s++)
            peer_event_delivery(p, c->name, s, "delivered", peer_chat_delivered_to(p, c, s),
                                peer_chan_others(c));
    }
}

static void notify_later(struct peer *p, struct peer_chan *c, int64_t from, int64_t to)
{
    if (!peer_events_listening(p))
        return;
    if (!c->notify_to || from < c->notify_from)
        c->notify_from = from;
    if (to > c->notify_to)
        c->notify_to = to;
    if (!p->notify_armed && ev_defer(p->loop, notify_cb, p) == 0)
        p->notify_armed = true;
}

void peer_chat_delivered(struct peer *p, struct peer_chan *c, const char *member,
                         int64_t seq)
{
    struct peer_member *m = peer_chan_member(c, member);
    if (!m || seq <= m->have)
        return;
    int64_t old = m->have, done = delivered_upto(p, c);
    m->have = seq;
    if (peer_store_member_have(p, c->name, member, seq) < 0) {
        log_warnx("receipt of %s in %s: %s", member, c->name, db_errmsg(p->db));
        return;
    }
    /* every message in the range has one more holder: those no other
     * member held move to delivered, each gets its new count (k of N) */
    int64_t first = (old > done ? old : done) + 1;
    if (first <= seq
        && peer_store_advance(p, c->name, first, seq, "delivered", no_event, NULL) < 0) {
        log_warnx("state of %s: %s", c->name, db_errmsg(p->db));
        return;
    }
    notify_later(p, c, old + 1, seq);
}
