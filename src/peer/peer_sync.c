/*
 * peer_sync.c - what flows on a live link (docs/PROTOCOL.md, "Sync"):
 * have vectors, the ranges one side sends because the other lacks them,
 * want for gaps, and the acceptance rules for msg frames.
 *
 * On every (re)start of a link each side sends its have vector of every
 * conversation both take part in; each side then pushes what the other's
 * vector lacks, in batches of PEER_BATCH messages, while the link's output
 * stays below PEER_OUT_HIGH.  A have sent of its own accord (link start,
 * every PEER_RESYNC_MS, a membership change) is answered with a have
 * marked "reply", so both sides always learn each other's vector, also for
 * a conversation one side did not know (a first direct message); what a
 * side already sent on the link is not sent again for a reply.  A msg
 * whose seq leaves a gap asks for the gap with want.  Receipts are reply
 * haves, batched for PEER_ACK_DELAY_MS per PEER_ACK_MEMBERS members.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "weaprous/log.h"

/* ---- a per-link set of channel names (receipts to send) ---- */

static bool name_in(char (*set)[PEER_CHANNEL_MAX + 1], size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i], name) == 0)
            return true;
    return false;
}

/* Adds name to a set capped at PEER_MAX_CHANNELS.  0 or -1. */
static int name_add(char (**set)[PEER_CHANNEL_MAX + 1], size_t *n, size_t *cap,
                    const char *name)
{
    if (name_in(*set, *n, name))
        return 0;
    if (*n >= PEER_MAX_CHANNELS)
        return -1;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        void *a = realloc(*set, nc * sizeof(**set));
        if (!a)
            return -1;
        *set = a;
        *cap = nc;
    }
    snprintf((*set)[(*n)++], PEER_CHANNEL_MAX + 1, "%s", name);
    return 0;
}

/* ---- what we sent on a link: (channel, origin) -> highest seq ---- */

static int sent_cmp(const struct peer_sent *e, const char *channel, const char *origin)
{
    int c = strcmp(e->channel, channel);
    return c ? c : strcmp(e->origin, origin);
}

/* The record of (channel, origin) on l, added at 0 when absent; NULL when
 * PEER_MAX_SENT records are kept (the sync then only repeats itself). */
static struct peer_sent *sent_slot(struct peer_link *l, const char *channel, const char *origin)
{
    size_t lo = 0, hi = l->nsent;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = sent_cmp(&l->sent[mid], channel, origin);
        if (c == 0)
            return &l->sent[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (l->nsent >= PEER_MAX_SENT)
        return NULL;
    if (l->nsent == l->cap_sent) {
        size_t nc = l->cap_sent ? l->cap_sent * 2 : 16;
        struct peer_sent *a = realloc(l->sent, nc * sizeof(*a));
        if (!a)
            return NULL;
        l->sent = a;
        l->cap_sent = nc;
    }
    memmove(l->sent + lo + 1, l->sent + lo, (l->nsent - lo) * sizeof(*l->sent));
    l->nsent++;
    struct peer_sent *e = &l->sent[lo];
    snprintf(e->channel, sizeof(e->channel), "%s", channel);
    snprintf(e->origin, sizeof(e->origin), "%s", origin);
    e->upto = 0;
    return e;
}

void peer_sync_sent(struct peer_link *l, const char *channel, const char *origin, int64_t seq)
{
    struct peer_sent *e = sent_slot(l, channel, origin);
    if (e && seq > e->upto)
        e->upto = seq;
}

/* ---- have ---- */

void peer_sync_have(struct peer_link *l, struct peer_chan *c, bool reply)
{
    struct pf_have_writer hw;
    /* a have says what we hold: only what is committed */
    if (peer_store_settle(l->p) < 0)
        return;
    peer_frame_have_begin(&hw, &l->out, c->name, reply);
    for (size_t i = 0; i < c->vec.n; i++)
        peer_frame_have_add(&hw, c->vec.e[i].origin, c->vec.e[i].contig);
    if (peer_frame_have_end(&hw) == 0)
        peer_link_flush(l);
}

void peer_sync_start(struct peer_link *l)
{
    struct peer *p = l->p;
    l->last_sync_ms = ev_now_ms(p->loop);
    for (size_t i = 0; i < p->nchans && l->state == LINK_LIVE; i++)
        if (peer_chan_shared(p, p->chans[i], l->user))
            peer_sync_have(l, p->chans[i], false);
}

void peer_sync_announce(struct peer *p, struct peer_chan *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct peer_link *l = peer_link_live(p, c->m[i].user);
        if (l && peer_chan_shared(p, c, l->user))
            peer_sync_have(l, c, false);
    }
}

static void members_done(struct peer *p, void *arg)
{
    (void)arg;
    peer_mesh_connect(p);
}

/* The conversation a frame names, if l's user shares it with us.  A dm of
 * the two of us that we did not follow yet is followed from now on. */
static struct peer_chan *shared_chan(struct peer_link *l, const char *name)
{
    struct peer *p = l->p;
    char other[DB_MAX_NAME + 1];
    struct peer_chan *c = peer_chan_find(p, name);
    if (!c && peer_dm_other(name, p->user, other) && strcmp(other, l->user) == 0) {
        if (peer_store_conv_put(p, name, true, NULL, other) < 0) {
            log_warnx("conversation %s: %s", name, db_errmsg(p->db));
            return NULL;
        }
        c = peer_chan_get(p, name);
    }
    if (c && !peer_chan_shared(p, c, l->user)) {
        /* maybe a member we do not know yet: ask the tracker (new members
         * get our have, and the sync follows) */
        uint64_t now = ev_now_ms(p->loop);
        if (!c->dm && now - c->asked_ms >= PEER_MEMBERS_MIN_MS) {
            c->asked_ms = now;
            peer_tracker_members(p, c->name, members_done, NULL);
        } else if (!c->dm) {
            peer_tracker_refresh(p);    /* asked just now: again a moment later */
        }
        return NULL;
    }
    return c;
}

struct queue_ctx {
    struct peer_link *l;
    struct peer_chan *c;
    bool reply;
};

/* One range the other side lacks.  A have that answers ours may be older
 * than what we sent meanwhile: what we sent on this link is not sent
 * again.  A have of its own accord says what the other side holds now
 * (after a restart of its sync, or a membership change): believed as is. */
static int queue_missing(const char *origin, int64_t from, int64_t to, void *arg)
{
    struct queue_ctx *q = arg;
    /* the other side accepts only members' messages (a dm: our own) */
    if (!q->c->dm && !peer_chan_member(q->c, origin))
        return 0;
    struct peer_sent *e = sent_slot(q->l, q->c->name, origin);
    if (q->reply && e && e->upto >= from)
        from = e->upto + 1;
    if (from > to)
        return 0;
    if (e)
        e->upto = to;
    return peer_sync_queue(q->l, q->c->name, origin, from, to) < 0;
}

static void on_have(struct peer_link *l, const struct pf_have *h)
{
    struct peer *p = l->p;
    struct peer_chan *c = shared_chan(l, h->channel);
    struct peer_vec theirs = { 0 };
    if (!c)
        return;
    if (peer_vec_from_json(&theirs, h->vector) < 0)
        goto out;
    peer_chat_delivered(p, c, l->user, peer_vec_contig(&theirs, p->user));
    struct queue_ctx q = { l, c, h->reply };
    if (peer_vec_missing(&c->vec, &theirs, c->dm ? p->user : NULL, queue_missing, &q) != 0)
        log_warnx("link with %s: sync queue full", l->user);
    if (!h->reply)
        peer_sync_have(l, c, true);
    peer_sync_pump(l);
out:
    peer_vec_free(&theirs);
}

static void on_want(struct peer_link *l, const struct pf_want *w)
{
    struct peer_chan *c = shared_chan(l, w->channel);
    if (!c || (c->dm && strcmp(w->origin, l->p->user) != 0))
        return;
    if (peer_sync_queue(l, c->name, w->origin, w->from, w->to) < 0)
        log_warnx("link with %s: sync queue full", l->user);
    peer_sync_pump(l);
}

/* ---- receiving messages ---- */

/* The acceptance rule of DESIGN section 9: a vouched link (it is live),
 * the link's user and the origin both members, and for a dm only the
 * origin itself on its own link. */
static bool msg_acceptable(struct peer_link *l, struct peer_chan *c, const struct pf_msg *m)
{
    struct peer *p = l->p;
    if (strcmp(m->origin, p->user) == 0)
        return false;    /* ours come back through sync: we have them */
    if (c->dm)
        return strcmp(m->origin, l->user) == 0 && strcmp(c->other, l->user) == 0;
    return peer_chan_member(c, p->user) && peer_chan_member(c, l->user)
        && peer_chan_member(c, m->origin);
}

/* Receipts: the channels of l to send a have for after a delay of
 * PEER_ACK_DELAY_MS per PEER_ACK_MEMBERS other members of c (at least
 * one): the author of a message to N members reads N receipts, so in a
 * large conversation each covers more messages. */
static void ack_later(struct peer_link *l, const struct peer_chan *c)
{
    size_t steps = peer_chan_others(c) / PEER_ACK_MEMBERS;
    if (name_add(&l->acks, &l->nacks, &l->cap_acks, c->name) == 0
        && !ev_timer_active(&l->ack))
        ev_timer_start(l->p->loop, &l->ack,
                       PEER_ACK_DELAY_MS * (unsigned)(steps ? steps : 1), 0);
}

void peer_sync_ack_cb(ev_loop *loop, ev_timer *t, void *arg)
{
    struct peer_link *l = arg;
    (void)loop; (void)t;
    for (size_t i = 0; i < l->nacks && l->state == LINK_LIVE; i++) {
        struct peer_chan *c = peer_chan_find(l->p, l->acks[i]);
        if (c)
            peer_sync_have(l, c, true);   /* a receipt: nothing to answer */
    }
    l->nacks = 0;
}

/* Asks l for the gap below a message, once per gap. */
static void want_gap(struct peer_link *l, const struct pf_msg *m, int64_t from)
{
    if (strcmp(l->want_channel, m->channel) == 0 && strcmp(l->want_origin, m->origin) == 0
        && from <= l->want_to)
        return;
    struct pf_want w = { m->channel, m->origin, from, m->seq - 1 };
    if (w.to - w.from >= PEER_WANT_MAX)
        w.from = w.to - PEER_WANT_MAX + 1;
    snprintf(l->want_channel, sizeof(l->want_channel), "%s", m->channel);
    snprintf(l->want_origin, sizeof(l->want_origin), "%s", m->origin);
    l->want_to = w.to;
    if (peer_frame_put_want(&l->out, &w) == 0)
        peer_link_flush(l);
}

static void on_msg(struct peer_link *l, const struct pf_msg *m)
{
    struct peer *p = l->p;
    struct peer_chan *c = shared_chan(l, m->channel);
    int64_t gap = 0;
    l->msgs_in++;
    if (!c || !msg_acceptable(l, c, m)) {
        p->msgs_dropped++;
        log_debug("link with %s: dropped %s:%lld@%s (not a member's message here)",
                  l->user, m->origin, (long long)m->seq, m->channel);
        return;
    }
    int r = peer_store_received(p, c, m, peer_now_ms(p), &gap);
    if (r < 0) {
        log_warnx("storing a message: %s", db_errmsg(p->db));
        return;
    }
    if ((uint64_t)m->lamport > p->lamport)
        p->lamport = (uint64_t)m->lamport;
    if (r == 0)
        return;
    p->msgs_received++;
    struct peer_msg pm = { 0 };
    snprintf(pm.channel, sizeof(pm.channel), "%s", m->channel);
    snprintf(pm.origin, sizeof(pm.origin), "%s", m->origin);
    pm.seq = m->seq;
    pm.lamport = m->lamport;
    pm.sent_at = m->sent_at;
    pm.received_at = peer_now_ms(p);
    pm.text = (char *)m->text;
    pm.text_len = m->text_len;
    peer_event_message(p, &pm);
    struct peer_link *author = peer_link_live(p, m->origin);
    ack_later(author ? author : l, c);
    if (gap)
        want_gap(l, m, gap);
}

void peer_sync_frame(struct peer_link *l, const struct peer_frame *f)
{
    const char *why = NULL;
    struct pf_have h;
    struct pf_want w;
    struct pf_msg m;
    int rc = 0;
    switch (f->type) {
    case PF_HAVE:
        if ((rc = peer_frame_have(f, &h, &why)) == 0)
            on_have(l, &h);
        break;
    case PF_WANT:
        if ((rc = peer_frame_want(f, &w, &why)) == 0)
            on_want(l, &w);
        break;
    case PF_MSG:
        if ((rc = peer_frame_msg(f, &m, &why)) == 0)
            on_msg(l, &m);
        break;
    default:
        break;
    }
    if (rc < 0)
        peer_link_close(l, "bad-frame", why);
}

/* ---- sending ranges ---- */

int peer_sync_queue(struct peer_link *l, const char *channel, const char *origin,
                    int64_t from, int64_t to)
{
    if (l->nranges > 0) {
        struct peer_range *r = &l->ranges[l->nranges - 1];
        if (strcmp(r->channel, channel) == 0 && strcmp(r->origin, origin) == 0
            && from <= r->to + 1 && to >= r->from - 1) {
            r->from = from < r->from ? from : r->from;
            r->to = to > r->to ? to : r->to;
            return 0;
        }
    }
    if (l->nranges >= PEER_MAX_RANGES)
        return errno = ENOSPC, -1;
    if (l->nranges == l->cap_ranges) {
        size_t nc = l->cap_ranges ? l->cap_ranges * 2 : 8;
        struct peer_range *a = realloc(l->ranges, nc * sizeof(*a));
        if (!a)
            return -1;
        l->ranges = a;
        l->cap_ranges = nc;
    }
    struct peer_range *r = &l->ranges[l->nranges++];
    snprintf(r->channel, sizeof(r->channel), "%s", channel);
    snprintf(r->origin, sizeof(r->origin), "%s", origin);
    r->from = from;
    r->to = to;
    return 0;
}

bool peer_sync_queued(const struct peer_link *l, const char *channel, const char *origin)
{
    for (size_t i = 0; i < l->nranges; i++)
        if (strcmp(l->ranges[i].channel, channel) == 0
            && strcmp(l->ranges[i].origin, origin) == 0)
            return true;
    return false;
}

struct pump_ctx {
    struct peer_link *l;
    int64_t last;      /* last seq written */
    int64_t first;
};

static int pump_one(const struct peer_msg *m, void *arg)
{
    struct pump_ctx *pc = arg;
    struct pf_msg f = { m->channel, m->origin, m->seq, m->lamport, m->sent_at,
                        m->text, m->text_len };
    if (peer_frame_put_msg(&pc->l->out, &f) < 0)
        return 1;
    if (pc->first == 0)
        pc->first = m->seq;
    pc->last = m->seq;
    pc->l->msgs_out++;
    return 0;
}

/* Sends the next batch of the first range; returns false when the range
 * is used up (popped). */
static bool pump_range(struct peer_link *l)
{
    struct peer *p = l->p;
    struct peer_range *r = &l->ranges[0];
    struct pump_ctx pc = { l, 0, 0 };
    long n = peer_store_range(p, r->channel, r->origin, r->from, r->to, PEER_BATCH,
                              pump_one, &pc);
    if (n > 0 && strcmp(r->origin, p->user) == 0)
        peer_chat_mark_sent(p, r->channel, pc.first, pc.last);
    if (n <= 0 || pc.last >= r->to) {
        memmove(l->ranges, l->ranges + 1, (l->nranges - 1) * sizeof(*l->ranges));
        l->nranges--;
        return false;
    }
    r->from = pc.last + 1;
    return true;
}

void peer_sync_pump(struct peer_link *l)
{
    bool wrote = false;
    while (l->state == LINK_LIVE && l->nranges > 0 && !peer_link_congested(l)) {
        pump_range(l);
        wrote = true;
    }
    if (wrote)
        peer_link_flush(l);
}
