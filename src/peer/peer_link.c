/*
 * peer_link.c - one P2P link: the state machine (docs/PROTOCOL.md,
 * "Link states"), its socket, its timers and the handshake with the
 * tracker's tickets.
 *
 *   dialer:   TICKET -> CONNECTING -> HELLO_SENT -> VERIFYING -> LIVE
 *   acceptor:                        AWAIT_HELLO -> VERIFYING -> LIVE
 *   both:     any -> CLOSING (bye or error queued) -> CLOSED
 *
 * peer_link_next() (peer_link_states.c) is the whole transition table;
 * link_enter() performs
 * the entry action of a state and may return the next event (a connect
 * that fails at once), so link_run() advances while progress is possible.
 * Interest in the socket and the timer follow from the state alone.  A
 * link is never freed inside its own callbacks: CLOSED unregisters and
 * closes it, the memory goes at the end of the loop pass.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peer.h"
#include "weaprous/log.h"

#define LEV_NONE LEV__COUNT      /* link_enter(): nothing follows */
#define LINK_ACCEPT_PER_PASS 64  /* fairness of the listener */

/* ---- life cycle ---- */

static void link_io(ev_loop *loop, int fd, int events, void *arg);
static void link_run(struct peer_link *l, enum peer_link_state s);

static uint64_t now_ms(struct peer_link *l) { return ev_now_ms(l->p->loop); }

/* Socket interest from the state (and whether output is queued). */
static int link_interest(const struct peer_link *l)
{
    int w = buf_len(&l->out) > 0 ? EV_WRITE : 0;
    switch (l->state) {
    case LINK_CONNECTING:  return EV_WRITE;
    case LINK_HELLO_SENT:
    case LINK_AWAIT_HELLO:
    case LINK_LIVE:        return EV_READ | w;
    case LINK_VERIFYING:   return w;       /* the other side's frames wait */
    case LINK_CLOSING:     return w;
    default:               return 0;
    }
}

static void link_update(struct peer_link *l)
{
    if (l->fd >= 0 && l->state != LINK_CLOSED)
        ev_io_set(l->p->loop, l->fd, link_interest(l), link_io, l);
}

static void link_free(ev_loop *loop, void *arg)
{
    struct peer_link *l = arg;
    struct peer *p = l->p;
    (void)loop;
    if (l->prev)
        l->prev->next = l->next;
    else
        p->links = l->next;
    if (l->next)
        l->next->prev = l->prev;
    buf_free(&l->in);
    buf_free(&l->out);
    free(l->ranges);
    free(l->acks);
    free(l->sent);
    free(l);
}

static void link_timer_cb(ev_loop *loop, ev_timer *t, void *arg);
static void link_more_cb(ev_loop *loop, ev_timer *t, void *arg);

static struct peer_link *link_new(struct peer *p, bool dialer, int fd)
{
    struct peer_link *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->p = p;
    l->dialer = dialer;
    l->fd = fd;
    buf_init(&l->in, PEER_IN_CAP);
    buf_init(&l->out, PEER_OUT_CAP);
    ev_timer_init(&l->timer, link_timer_cb, l);
    ev_timer_init(&l->ack, peer_sync_ack_cb, l);
    ev_timer_init(&l->more, link_more_cb, l);
    l->next = p->links;
    if (p->links)
        p->links->prev = l;
    p->links = l;
    p->nlinks++;
    l->state = LINK__COUNT;    /* not yet entered */
    return l;
}

/* CLOSED: everything but the memory (see link_free). */
static void link_teardown(struct peer_link *l)
{
    struct peer *p = l->p;
    if (l->live_since_ms)
        log_info("link with %s (%s) closed after %llu s (%s; %llu messages in, %llu out)",
                 l->user, l->remote,
                 (unsigned long long)((ev_now_ms(p->loop) - l->live_since_ms) / 1000),
                 l->why_closed ? l->why_closed
                 : l->close_detail[0] ? l->close_detail
                 : l->close_code ? l->close_code : "closed here",
                 (unsigned long long)l->msgs_in, (unsigned long long)l->msgs_out);
    if (l->call) {
        peer_tracker_cancel(l->call);
        l->call = NULL;
    }
    ev_timer_stop(p->loop, &l->timer);
    ev_timer_stop(p->loop, &l->ack);
    ev_timer_stop(p->loop, &l->more);
    if (l->fd >= 0) {
        ev_io_del(p->loop, l->fd);
        close(l->fd);
        l->fd = -1;
    }
    if (l->handshake) {
        l->handshake = false;
        p->handshakes--;
    }
    p->nlinks--;
    peer_mesh_link_down(l);
    ev_defer(p->loop, link_free, l);
}

/* ---- entry actions ---- */

static void on_ticket(struct peer *p, const struct peer_answer *a, void *arg);
static void on_verify(struct peer *p, const struct peer_answer *a, void *arg);

static enum peer_link_event refuse(struct peer_link *l, const char *code, const char *detail)
{
    l->close_code = code;
    snprintf(l->close_detail, sizeof(l->close_detail), "%s", detail ? detail : "");
    return LEV_REFUSED;
}

/* POST /connect-peer for l->user: a ticket for the hello (dialer) or the
 * welcome (acceptor). */
static enum peer_link_event ask_ticket(struct peer_link *l)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"peer\":\"%s\"}", l->user);
    l->call = peer_tracker_call(l->p, "POST", "/connect-peer", body, on_ticket, l);
    return l->call ? LEV_NONE : refuse(l, "tracker", "cannot ask the tracker");
}

static enum peer_link_event enter_connecting(struct peer_link *l)
{
    l->fd = net_connect((struct sockaddr *)&l->addr, l->addrlen);
    if (l->fd < 0)
        return refuse(l, "unreachable", strerror(errno));
    if (ev_io_set(l->p->loop, l->fd, EV_WRITE, link_io, l) < 0) {
        close(l->fd);
        l->fd = -1;
        return refuse(l, "unreachable", "too many descriptors");
    }
    return LEV_NONE;
}

static enum peer_link_event enter_verifying(struct peer_link *l)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"ticket\":\"%s\"}", l->ticket);
    l->call = peer_tracker_call(l->p, "POST", "/verify-ticket", body, on_verify, l);
    return l->call ? LEV_NONE : refuse(l, "tracker", "cannot ask the tracker");
}

static enum peer_link_event enter_live(struct peer_link *l)
{
    struct peer *p = l->p;
    if (l->handshake) {
        l->handshake = false;
        p->handshakes--;
    }
    if (!l->dialer && peer_frame_put_hello(&l->out, PF_WELCOME, p->user, l->my_ticket) < 0)
        return refuse(l, "internal", "cannot queue the welcome");
    l->last_rx_ms = l->last_ping_ms = l->live_since_ms = now_ms(l);
    log_info("link with %s (%s, %s) is live", l->user, l->remote,
             l->dialer ? "dialed" : "accepted");
    peer_mesh_link_up(l);
    if (l->state == LINK_LIVE)
        peer_sync_start(l);
    return LEV_NONE;
}

static enum peer_link_event enter_closing(struct peer_link *l)
{
    int rc = l->close_quiet || !l->close_code
        ? peer_frame_put_bare(&l->out, PF_BYE)
        : peer_frame_put_error(&l->out, l->close_code, l->close_detail);
    if (rc < 0)   /* the queue is full: the other side is not reading anyway */
        buf_reset(&l->out);
    /* A connection that never said who it is is logged at debug level
     * only: a flood of them must not flood the log. */
    if (l->close_code && !l->close_quiet && l->user[0])
        log_info("link with %s (%s): closing: %s %s", l->user, l->remote, l->close_code,
                 l->close_detail);
    else if (l->close_code && !l->close_quiet)
        log_debug("connection from %s: closing: %s %s", l->remote, l->close_code,
                  l->close_detail);
    return buf_len(&l->out) ? LEV_NONE : LEV_FLUSHED;
}

static enum peer_link_event link_enter(struct peer_link *l, enum peer_link_state s)
{
    l->state = s;
    ev_timer_stop(l->p->loop, &l->timer);
    unsigned ms = peer_link_timeout(s);
    if (ms && s != LINK_LIVE)    /* live links share the peer's tick (links_tick) */
        ev_timer_start(l->p->loop, &l->timer, ms, 0);
    switch (s) {
    case LINK_TICKET:     return ask_ticket(l);
    case LINK_CONNECTING: return enter_connecting(l);
    case LINK_HELLO_SENT:
        return peer_frame_put_hello(&l->out, PF_HELLO, l->p->user, l->my_ticket) < 0
            ? refuse(l, "internal", "cannot queue the hello") : LEV_NONE;
    case LINK_AWAIT_HELLO: return LEV_NONE;
    case LINK_VERIFYING:  return enter_verifying(l);
    case LINK_LIVE:       return enter_live(l);
    case LINK_CLOSING:    return enter_closing(l);
    case LINK_CLOSED:
        link_teardown(l);
        return LEV_NONE;
    default:              return LEV_NONE;
    }
}

/* Enters s, then follows the events its entry produces. */
static void link_run(struct peer_link *l, enum peer_link_state s)
{
    enum peer_link_state before = l->state;
    for (;;) {
        enum peer_link_event e = link_enter(l, s);
        if (e == LEV_NONE || l->state == LINK_CLOSED)
            break;
        s = peer_link_next(l->state, e, l->dialer);
    }
    if (l->state != LINK_CLOSED)
        link_update(l);
    bool shown = l->state == LINK_TICKET || l->state == LINK_LIVE || l->state == LINK_CLOSED;
    if (before != l->state && shown && l->user[0])
        peer_event_link(l->p, l->user, peer_link_word(l->p, l->user));
    if (before != l->state && (l->state == LINK_LIVE || l->state == LINK_CLOSED) && l->user[0])
        peer_api_link_changed(l->p, l);
}

void peer_link_event(struct peer_link *l, enum peer_link_event e)
{
    if (l->state == LINK_CLOSED)
        return;
    enum peer_link_state s = peer_link_next(l->state, e, l->dialer);
    if (s != l->state)   /* CLOSING may stay CLOSING: nothing to enter again */
        link_run(l, s);
}

void peer_link_close(struct peer_link *l, const char *code, const char *detail)
{
    if (l->state == LINK_CLOSING || l->state == LINK_CLOSED)
        return;
    l->close_code = code;
    l->close_quiet = code == NULL;
    snprintf(l->close_detail, sizeof(l->close_detail), "%s", detail ? detail : "");
    peer_link_event(l, LEV_LOCAL_CLOSE);
}

/* ---- tracker answers ---- */

/* Fills the dialer's destination from a /connect-peer answer. */
static int ticket_address(struct peer_link *l, const json_value *body)
{
    const char *ip = json_get_str(body, "ip");
    int64_t port;
    if (!ip || json_int_range(json_get(body, "port"), 1, 65535, &port) < 0
        || net_parse_addr(ip, (int)port, &l->addr, &l->addrlen) < 0)
        return -1;
    snprintf(l->remote, sizeof(l->remote), "%s:%d", ip, (int)port);
    return 0;
}

static void on_ticket(struct peer *p, const struct peer_answer *a, void *arg)
{
    struct peer_link *l = arg;
    const char *ticket = json_get_str(a->body, "ticket");
    (void)p;
    l->call = NULL;
    if (a->status != 200 || !ticket || strlen(ticket) != PEER_TICKET_HEX
        || (l->dialer && ticket_address(l, a->body) < 0)) {
        char detail[96];
        snprintf(detail, sizeof(detail), "no introduction from the tracker (%s)",
                 peer_answer_detail(a));
        peer_link_event(l, refuse(l, a->status == 409 ? "offline"
                                     : a->status == 404 ? "unknown-user" : "no-ticket", detail));
        return;
    }
    memcpy(l->my_ticket, ticket, PEER_TICKET_HEX + 1);
    /* the dialer goes on with the connect; the acceptor was verifying and
     * now holds its welcome ticket */
    peer_link_event(l, l->dialer ? LEV_TICKET : LEV_VERIFIED);
}

static void on_verify(struct peer *p, const struct peer_answer *a, void *arg)
{
    struct peer_link *l = arg;
    const char *caller = json_get_str(a->body, "caller");
    bool valid = false;
    l->call = NULL;
    json_bool(json_get(a->body, "valid"), &valid);
    if (a->status != 200 || !valid || !caller || strcmp(caller, l->user) != 0) {
        char detail[96];
        snprintf(detail, sizeof(detail), "the tracker does not vouch for %s (%s)", l->user,
                 a->status == 200 ? "the ticket is someone else's" : peer_answer_detail(a));
        p->links_refused++;
        peer_link_event(l, refuse(l, a->status == 0 ? "tracker" : "not-vouched", detail));
        return;
    }
    if (l->dialer) {
        peer_link_event(l, LEV_VERIFIED);
        return;
    }
    /* Acceptor: now our own ticket for the welcome; still verifying. */
    enum peer_link_event e = ask_ticket(l);
    if (e != LEV_NONE)
        peer_link_event(l, e);
}

/* ---- frames ---- */

static void link_frame(struct peer_link *l, const struct peer_frame *f)
{
    struct pf_hello h;
    struct pf_error er;
    const char *why = NULL;
    if (!peer_link_accepts(l->state, f->type, l->dialer)) {
        l->close_code = "unexpected-frame";
        snprintf(l->close_detail, sizeof(l->close_detail), "%s is not allowed in state %s",
                 peer_frame_type_name(f->type), peer_link_state_name(l->state));
        peer_link_event(l, LEV_PROTOCOL);
        return;
    }
    switch (f->type) {
    case PF_HELLO:
    case PF_WELCOME:
        if (peer_frame_hello(f, &h, &why) < 0) {
            l->close_code = strstr(why, "version") ? "version" : "bad-frame";
            snprintf(l->close_detail, sizeof(l->close_detail), "%s", why);
            peer_link_event(l, LEV_PROTOCOL);
            return;
        }
        if (f->type == PF_WELCOME && strcmp(h.user, l->user) != 0) {
            l->close_code = "wrong-peer";
            snprintf(l->close_detail, sizeof(l->close_detail), "we dialed %s", l->user);
            peer_link_event(l, LEV_PROTOCOL);
            return;
        }
        if (f->type == PF_HELLO && (strcmp(h.user, l->p->user) == 0 || !peer_signed_in(l->p))) {
            l->close_code = "not-vouched";
            snprintf(l->close_detail, sizeof(l->close_detail), "%s",
                     peer_signed_in(l->p) ? "that is our own name" : "this peer is signed out");
            peer_link_event(l, LEV_PROTOCOL);
            return;
        }
        snprintf(l->user, sizeof(l->user), "%s", h.user);
        memcpy(l->ticket, h.ticket, PEER_TICKET_HEX + 1);
        peer_link_event(l, f->type == PF_HELLO ? LEV_HELLO : LEV_WELCOME);
        return;
    case PF_ERROR:
        if (peer_frame_error(f, &er, &why) == 0)
            log_info("link with %s (%s): the other side says %s%s%s", l->user[0] ? l->user : "?",
                     l->remote, er.code, er.detail ? ": " : "", er.detail ? er.detail : "");
        l->why_closed = "error from the other side";
        peer_link_event(l, LEV_REMOTE_CLOSE);
        return;
    case PF_BYE:
        l->why_closed = "bye";
        peer_link_event(l, LEV_REMOTE_CLOSE);
        return;
    case PF_PING:
        if (peer_frame_put_bare(&l->out, PF_PONG) == 0)
            peer_link_flush(l);
        return;
    case PF_PONG:
        return;
    default:
        peer_sync_frame(l, f);
    }
}

/* Handles the buffered frames, at most PEER_FRAMES_PER_PASS; the rest
 * waits a pass (l->more). */
static void link_frames(struct peer_link *l)
{
    struct peer *p = l->p;
    int budget = PEER_FRAMES_PER_PASS;
    while (budget > 0 && (l->state == LINK_AWAIT_HELLO || l->state == LINK_HELLO_SENT
                          || l->state == LINK_LIVE)) {
        struct peer_frame f;
        ssize_t n = peer_frame_parse(buf_ptr(&l->in), buf_len(&l->in), &f);
        if (n == PEER_FRAME_AGAIN)
            break;
        if (n == PEER_FRAME_BAD) {
            l->close_code = f.error;
            snprintf(l->close_detail, sizeof(l->close_detail), "%s", f.detail);
            peer_link_event(l, LEV_PROTOCOL);
            break;
        }
        link_frame(l, &f);
        json_free(f.doc);
        buf_consume(&l->in, (size_t)n);
        budget--;
    }
    if (budget == 0 && buf_len(&l->in) > 0 && l->state == LINK_LIVE)
        ev_timer_start(p->loop, &l->more, 0, 0);
}

static void link_more_cb(ev_loop *loop, ev_timer *t, void *arg)
{
    struct peer_link *l = arg;
    (void)loop; (void)t;
    link_frames(l);
    link_update(l);
}

/* ---- socket ---- */

static void link_read(struct peer_link *l)
{
    /* Frames left over from a pass that hit the budget come first; the
     * buffer always has room for a whole frame once they are handled. */
    if (buf_room(&l->in) < 65536) {
        link_frames(l);
        return;
    }
    ssize_t n = buf_read_fd(&l->in, l->fd, 65536);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        l->why_closed = n == 0 ? "end of stream" : "connection error";
        peer_link_event(l, LEV_REMOTE_CLOSE);
        return;
    }
    if (n > 0) {
        l->last_rx_ms = now_ms(l);
        link_frames(l);
    }
}

static void link_write(struct peer_link *l)
{
    while (buf_len(&l->out) > 0) {
        ssize_t n = buf_write_fd(&l->out, l->fd);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            l->why_closed = "write error";
            peer_link_event(l, LEV_REMOTE_CLOSE);
            return;
        }
    }
    if (l->state == LINK_CLOSING)
        peer_link_event(l, LEV_FLUSHED);
    else if (l->state == LINK_LIVE)
        peer_sync_pump(l);
}

static void link_connected(struct peer_link *l)
{
    if (net_connect_result(l->fd) < 0) {
        peer_link_event(l, refuse(l, "unreachable", strerror(errno)));
        return;
    }
    peer_link_event(l, LEV_CONNECTED);
}

static void link_io(ev_loop *loop, int fd, int events, void *arg)
{
    struct peer_link *l = arg;
    (void)loop; (void)fd;
    if (l->state == LINK_CONNECTING) {
        link_connected(l);
        return;
    }
    if ((events & EV_WRITE) && l->state != LINK_CLOSED)
        link_write(l);
    if ((events & EV_READ) && l->state != LINK_CLOSED && l->state != LINK_CLOSING)
        link_read(l);
    if (l->state != LINK_CLOSED)
        link_update(l);
}

/* The end of a loop pass: every link with new frames writes them, in one
 * write each however many frames the pass queued (a broadcast to N links
 * costs N writes per pass, not per message).  What does not fit waits for
 * writability; an error shows on the next read (hang-up is reported
 * readable).  Walks p->links: a link closed during the pass is still on
 * the list (freed by a later deferred call) and is skipped. */
static void links_flush(ev_loop *loop, void *arg)
{
    struct peer *p = arg;
    (void)loop;
    p->flush_armed = false;
    for (struct peer_link *l = p->links; l; l = l->next) {
        if (!l->dirty)
            continue;
        l->dirty = false;
        if (l->fd < 0 || l->state == LINK_CLOSED || l->state == LINK_CONNECTING)
            continue;
        if (buf_write_fd(&l->out, l->fd) < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            buf_reset(&l->out);
        link_update(l);
    }
}

void peer_link_flush(struct peer_link *l)
{
    struct peer *p = l->p;
    if (l->fd < 0 || l->state == LINK_CLOSED || l->state == LINK_CONNECTING)
        return;
    /* Written at the end of this pass, not now: the frames a pass queues
     * on a link go out together, and no poll pass is lost either. */
    l->dirty = true;
    if (!p->flush_armed && ev_defer(p->loop, links_flush, p) == 0)
        p->flush_armed = true;
    if (!p->flush_armed)
        link_update(l);   /* no deferred call: writability will do */
}

bool peer_link_congested(const struct peer_link *l)
{
    return buf_len(&l->out) > PEER_OUT_HIGH;
}

/* ---- timers ---- */

static void link_keepalive(struct peer_link *l)
{
    uint64_t now = now_ms(l);
    if (now - l->last_rx_ms >= PEER_DEAD_MS) {
        l->close_code = "timeout";
        snprintf(l->close_detail, sizeof(l->close_detail), "nothing heard for %d s",
                 PEER_DEAD_MS / 1000);
        peer_link_event(l, LEV_TIMEOUT);
        return;
    }
    if (now - l->last_rx_ms >= PEER_PING_MS && now - l->last_ping_ms >= PEER_PING_MS) {
        l->last_ping_ms = now;
        if (peer_frame_put_bare(&l->out, PF_PING) == 0)
            peer_link_flush(l);
    }
    if (now - l->last_sync_ms >= PEER_RESYNC_MS)
        peer_sync_start(l);
}

/* Every PEER_LIVE_TICK_MS, one pass checks every live link (a timer per
 * link would wake the peer N times as often, each time for one link). */
static void links_tick(ev_loop *loop, ev_timer *t, void *arg)
{
    struct peer *p = arg;
    (void)loop; (void)t;
    for (struct peer_link *l = p->links; l; l = l->next)
        if (l->state == LINK_LIVE)
            link_keepalive(l);
}

static void link_timer_cb(ev_loop *loop, ev_timer *t, void *arg)
{
    struct peer_link *l = arg;
    (void)loop; (void)t;
    if (!l->close_code) {
        l->close_code = "timeout";
        snprintf(l->close_detail, sizeof(l->close_detail), "no progress in state %s",
                 peer_link_state_name(l->state));
    }
    peer_link_event(l, LEV_TIMEOUT);
}

/* ---- dialing and accepting ---- */

struct peer_link *peer_link_dial(struct peer *p, const char *user)
{
    if (p->nlinks >= PEER_MAX_LINKS)
        return errno = EMFILE, NULL;
    struct peer_link *l = link_new(p, true, -1);
    if (!l)
        return NULL;
    snprintf(l->user, sizeof(l->user), "%s", user);
    snprintf(l->remote, sizeof(l->remote), "?");
    link_run(l, LINK_TICKET);
    return l;
}

static void link_accept_one(struct peer *p, int fd, const struct sockaddr_storage *ss)
{
    char ip[NET_ADDR_MAX];
    int port = 0;
    net_addr_str((const struct sockaddr *)ss, ip, &port);
    if (p->nlinks >= PEER_MAX_LINKS || p->handshakes >= PEER_MAX_HANDSHAKES
        || p->stopping) {
        p->links_refused++;
        log_debug("refusing a P2P connection from %s:%d (%zu links, %zu handshakes)",
                  ip, port, p->nlinks, p->handshakes);
        close(fd);
        return;
    }
    struct peer_link *l = link_new(p, false, fd);
    if (!l) {
        close(fd);
        return;
    }
    /* as on the dialer's side (net_connect): a frame goes out when it is
     * written, not when the other side's delayed ACK comes back */
    net_set_nodelay(fd);
    snprintf(l->remote, sizeof(l->remote), "%s:%d", ip, port);
    l->handshake = true;
    p->handshakes++;
    link_run(l, LINK_AWAIT_HELLO);
}

static void link_accept(ev_loop *loop, int fd, int events, void *arg)
{
    struct peer *p = arg;
    (void)loop; (void)events;
    for (int i = 0; i < LINK_ACCEPT_PER_PASS; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int c = net_accept(fd, &ss, &len);
        if (c < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
                && errno != ECONNABORTED)
                log_warn("P2P accept");
            return;
        }
        link_accept_one(p, c, &ss);
    }
}

int peer_link_listen(struct peer *p, const char *ip, int port)
{
    p->p2p_fd = net_listen(ip, port, 128);
    if (p->p2p_fd < 0) {
        log_warn("cannot listen for peers on %s:%d", ip, port);
        return -1;
    }
    p->p2p_port = net_local_port(p->p2p_fd);
    if (ev_io_set(p->loop, p->p2p_fd, EV_READ, link_accept, p) < 0) {
        log_warn("P2P listener");
        return -1;
    }
    ev_timer_init(&p->links_tick, links_tick, p);
    ev_timer_start(p->loop, &p->links_tick, PEER_LIVE_TICK_MS, PEER_LIVE_TICK_MS);
    return 0;
}

void peer_link_unlisten(struct peer *p)
{
    ev_timer_stop(p->loop, &p->links_tick);
    if (p->p2p_fd >= 0) {
        ev_io_del(p->loop, p->p2p_fd);
        close(p->p2p_fd);
        p->p2p_fd = -1;
    }
}

struct peer_link *peer_link_live(struct peer *p, const char *user)
{
    struct peer_contact *c = peer_contact_find(p, user);
    if (c && c->link && c->link->state == LINK_LIVE)
        return c->link;
    for (struct peer_link *l = p->links; l; l = l->next)
        if (l->state == LINK_LIVE && strcmp(l->user, user) == 0)
            return l;
    return NULL;
}

const char *peer_link_word(struct peer *p, const char *user)
{
    const char *word = "none";
    for (struct peer_link *l = p->links; l; l = l->next) {
        if (strcmp(l->user, user) != 0 || l->state >= LINK_CLOSING)
            continue;
        if (l->state == LINK_LIVE)
            return "live";
        word = "connecting";
    }
    return word;
}

void peer_link_close_all(struct peer *p, const char *code)
{
    for (struct peer_link *l = p->links; l; l = l->next)
        if (l->state != LINK_CLOSED)
            peer_link_close(l, code, code ? "signed out" : NULL);
}
