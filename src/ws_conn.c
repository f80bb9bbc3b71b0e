/*
 * ws_conn.c - a WebSocket connection on the reactor, and broadcast sets.
 *
 * One state enum (OPEN, CLOSING, CLOSED), one transition function
 * (ws_transition) fed with events, one timer whose meaning depends on the
 * state: in OPEN the ping / pong deadline, in CLOSING the close handshake
 * deadline.  Read/write interest is derived from the state alone
 * (ws_update_interest).  A connection is freed only through ev_defer(), so
 * nothing disappears inside its own callback chain.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weaprous/buf.h"
#include "weaprous/ws.h"

/* Room kept above out_cap for control frames (close, pong, ping), so that a
 * connection whose data queue is full can still be closed properly. */
#define WS_CONTROL_RESERVE (4 * (WS_MAX_HEADER + WS_MAX_CONTROL))

enum ws_event {
    WS_EV_PEER_CLOSE,   /* a valid close frame arrived */
    WS_EV_LOCAL_CLOSE,  /* ws_close(), or a broadcast overflow */
    WS_EV_FAIL,         /* protocol error: close with code, ignore input */
    WS_EV_FLUSHED,      /* output queue became empty */
    WS_EV_EOF,          /* the peer closed TCP */
    WS_EV_IO_ERROR,
    WS_EV_TIMEOUT       /* the state's deadline passed */
};

struct ws_conn {
    ev_loop *loop;
    int fd;
    enum ws_role role;
    enum ws_state state;
    struct ws_config cfg;
    struct ws_handlers h;
    void *arg, *data;
    struct ws_parser parser;
    buf in, out, msg;          /* raw input, output queue, reassembly */
    ev_timer timer;
    uint64_t last_rx_ms;       /* when bytes last arrived */
    bool ping_outstanding;
    bool got_close;            /* close frame received */
    bool failing;              /* we failed the connection: drain, ignore */
    bool write_shut;           /* shutdown(SHUT_WR) done */
    int close_code;            /* reported to on_close */
    char close_reason[WS_MAX_CONTROL + 1];
    ws_set *sets[WS_CONN_MAX_SETS];
    size_t nsets;
};

struct ws_set {
    ws_conn **m;
    size_t n, cap;
    int overflow_code;
};

static void ws_transition(ws_conn *c, enum ws_event ev, int code, const char *reason);
static void ws_set_forget(ws_set *s, ws_conn *c);

static void ws_config_fill(struct ws_config *dst, const struct ws_config *src)
{
    static const struct ws_config zero;
    *dst = src ? *src : zero;
    if (!dst->max_frame) dst->max_frame = WS_DEFAULT_MAX_FRAME;
    if (!dst->max_message) dst->max_message = WS_DEFAULT_MAX_MESSAGE;
    if (!dst->out_cap) dst->out_cap = WS_DEFAULT_OUT_CAP;
    if (!dst->ping_interval_ms) dst->ping_interval_ms = WS_DEFAULT_PING_MS;
    if (!dst->pong_timeout_ms) dst->pong_timeout_ms = WS_DEFAULT_PONG_MS;
    if (!dst->close_timeout_ms) dst->close_timeout_ms = WS_DEFAULT_CLOSE_MS;
}

/* Interest from the state alone: write while output is queued; read while
 * open and not congested (a peer that pings but never reads pongs is not
 * served further), and always while closing, to see the close or EOF. */
static void ws_update_interest(ws_conn *c)
{
    int ev = 0;

    if (c->state == WS_STATE_CLOSED)
        return;
    if (buf_len(&c->out) > 0 && !c->write_shut)
        ev |= EV_WRITE;
    if (c->state == WS_STATE_CLOSING || buf_len(&c->out) <= c->cfg.out_cap)
        ev |= EV_READ;
    ev_io_events(c->loop, c->fd, ev);
}

/* Appends one frame (masked in the client role).  Data frames must fit
 * under out_cap; control frames may use the reserve above it. */
static int ws_queue_frame(ws_conn *c, enum ws_opcode op, const void *p, size_t n)
{
    bool mask = c->role == WS_ROLE_CLIENT;
    size_t hlen = ws_frame_header_len(n, mask);
    size_t limit = (op & 0x8) ? c->cfg.out_cap + WS_CONTROL_RESERVE : c->cfg.out_cap;
    unsigned char key[4];

    if (buf_len(&c->out) + hlen + n > limit || hlen + n > limit - buf_len(&c->out)) {
        errno = ENOBUFS;
        return -1;
    }
    if (mask && ws_random(key, sizeof key) < 0)
        return -1;
    unsigned char *dst = (unsigned char *)buf_space(&c->out, hlen + n);
    if (!dst)
        return -1;
    ws_frame_header(dst, op, true, n, mask ? key : NULL);
    if (n > 0)
        memcpy(dst + hlen, p, n);
    if (mask)
        ws_mask(dst + hlen, n, key, 0);
    buf_commit(&c->out, hlen + n);
    ws_update_interest(c);
    return 0;
}

static void ws_send_close_frame(ws_conn *c, int code, const char *reason)
{
    char pl[WS_MAX_CONTROL];
    size_t n = code == WS_CLOSE_NO_STATUS ? 0 : ws_close_payload(pl, code, reason);
    /* the reserve always has room for one close frame */
    (void)ws_queue_frame(c, WS_OP_CLOSE, pl, n);
}

static void ws_free_deferred(ev_loop *loop, void *arg)
{
    ws_conn *c = arg;
    (void)loop;
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->msg);
    free(c);
}

/* The one teardown: stop the timer, forget and close the socket, leave the
 * sets, tell the application once, free after the pass. */
static void ws_finish(ws_conn *c, int code, const char *reason)
{
    c->state = WS_STATE_CLOSED;
    ev_timer_stop(c->loop, &c->timer);
    ev_io_del(c->loop, c->fd);
    close(c->fd);
    c->fd = -1;
    while (c->nsets > 0)
        ws_set_remove(c->sets[0], c);
    if (c->h.on_close)
        c->h.on_close(c, code, reason ? reason : "", c->arg);
    /* if even the deferral fails the memory leaks: freeing now could pull
     * the connection from under a caller */
    (void)ev_defer(c->loop, ws_free_deferred, c);
}

/* Code and reason reported when the connection ends now: the received close
 * frame's if there was one (RFC 6455 7.1.5), else 1006 and our reason. */
static void ws_finish_now(ws_conn *c, const char *why)
{
    if (c->got_close)
        ws_finish(c, c->close_code, c->close_reason);
    else
        ws_finish(c, WS_CLOSE_ABNORMAL, why);
}

static void ws_remember_close(ws_conn *c, int code, const char *reason)
{
    c->got_close = true;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
}

/* Enter CLOSING having queued our close frame; the timer now bounds the
 * handshake. */
static void ws_enter_closing(ws_conn *c, int code, const char *reason)
{
    ws_send_close_frame(c, code, reason);
    c->state = WS_STATE_CLOSING;
    ev_timer_start(c->loop, &c->timer, c->cfg.close_timeout_ms, 0);
}

/* Failing the connection (RFC 6455 7.1.7): what is left of the input is
 * not read. */
static void ws_fail(ws_conn *c)
{
    c->failing = true;
    buf_reset(&c->in);
}

/* The connection is lost (EOF, an I/O error, a timeout): it ends now,
 * in either state; ws_transition() takes those events first. */
static bool ws_lost(enum ws_event ev)
{
    return ev == WS_EV_EOF || ev == WS_EV_IO_ERROR || ev == WS_EV_TIMEOUT;
}

static void ws_transition_open(ws_conn *c, enum ws_event ev, int code, const char *reason)
{
    switch (ev) {
    case WS_EV_PEER_CLOSE:
        /* echo the peer's code (none if it sent none), then close after
         * the flush: the server closes TCP first (RFC 6455 7.1.1) */
        ws_remember_close(c, code, reason);
        ws_enter_closing(c, code, reason);
        break;
    case WS_EV_FAIL:
        ws_fail(c);
        /* our close frame goes out as for a local close */
        /* fall through */
    case WS_EV_LOCAL_CLOSE:
        ws_enter_closing(c, code, reason);
        break;
    case WS_EV_EOF:
    case WS_EV_IO_ERROR:
    case WS_EV_TIMEOUT:
    case WS_EV_FLUSHED:
        break;
    }
}

/* Both close frames exchanged (or we failed) and our output is out: the
 * server closes now; a client waits for the server's EOF (7.1.1) and a
 * failing end half-closes so the peer reads our close frame, then EOF. */
static void ws_closing_flushed(ws_conn *c)
{
    if (c->failing && !c->write_shut) {
        shutdown(c->fd, SHUT_WR);
        c->write_shut = true;
        return;
    }
    if (c->got_close && c->role == WS_ROLE_SERVER)
        ws_finish_now(c, NULL);
}

static void ws_transition_closing(ws_conn *c, enum ws_event ev, int code, const char *reason)
{
    switch (ev) {
    case WS_EV_PEER_CLOSE:
        ws_remember_close(c, code, reason);
        if (buf_len(&c->out) == 0)
            ws_closing_flushed(c);
        break;
    case WS_EV_FLUSHED:
        ws_closing_flushed(c);
        break;
    case WS_EV_FAIL:
        ws_fail(c);
        break;
    case WS_EV_LOCAL_CLOSE:   /* idempotent */
    case WS_EV_EOF:
    case WS_EV_IO_ERROR:
    case WS_EV_TIMEOUT:
        break;
    }
}

/* The transition function: every change of state goes through here. */
static void ws_transition(ws_conn *c, enum ws_event ev, int code, const char *reason)
{
    if (c->state != WS_STATE_CLOSED && ws_lost(ev))
        ws_finish_now(c, reason);
    else if (c->state == WS_STATE_OPEN)
        ws_transition_open(c, ev, code, reason);
    else if (c->state == WS_STATE_CLOSING)
        ws_transition_closing(c, ev, code, reason);
    ws_update_interest(c);
}

static void ws_deliver(ws_conn *c, enum ws_opcode op, const char *p, size_t n)
{
    if (c->h.on_message)
        c->h.on_message(c, op, p, n, c->arg);
}

/* A data frame: whole messages go straight from the input buffer; fragments
 * are reassembled (the parser already capped the message size). */
static void ws_on_data(ws_conn *c, const struct ws_frame *f)
{
    if (c->state != WS_STATE_OPEN)
        return;   /* after our close frame, data is dropped */
    if (f->fin && f->opcode != WS_OP_CONT) {
        ws_deliver(c, f->message, f->payload, f->len);
        return;
    }
    if (buf_append(&c->msg, f->payload, f->len) < 0) {
        ws_transition(c, WS_EV_FAIL, WS_CLOSE_INTERNAL, "out of memory");
        return;
    }
    if (f->fin) {
        ws_deliver(c, f->message, buf_ptr(&c->msg), buf_len(&c->msg));
        buf_reset(&c->msg);
    }
}

static void ws_on_frame(ws_conn *c, const struct ws_frame *f)
{
    char reason[WS_MAX_CONTROL + 1];

    switch (f->opcode) {
    case WS_OP_PING:
        /* a full queue drops the pong: only the latest ping needs one */
        if (c->state == WS_STATE_OPEN)
            (void)ws_queue_frame(c, WS_OP_PONG, f->payload, f->len);
        break;
    case WS_OP_PONG:
        c->ping_outstanding = false;
        if (c->state == WS_STATE_OPEN)
            ev_timer_start(c->loop, &c->timer, c->cfg.ping_interval_ms, 0);
        break;
    case WS_OP_CLOSE:
        memcpy(reason, f->reason, f->reason_len);
        reason[f->reason_len] = '\0';
        ws_transition(c, WS_EV_PEER_CLOSE, f->close_code, reason);
        break;
    default:
        ws_on_data(c, f);
        break;
    }
}

/* Parses and handles every complete frame in the input buffer. */
static void ws_process_input(ws_conn *c)
{
    struct ws_frame f;

    while (c->state != WS_STATE_CLOSED && !c->failing && !c->got_close) {
        ssize_t r = ws_parse_frame(&c->parser, buf_ptr(&c->in), buf_len(&c->in), &f);
        if (r == WS_AGAIN)
            return;
        if (r == WS_ERROR) {
            ws_transition(c, WS_EV_FAIL, c->parser.close_code, c->parser.error);
            return;
        }
        ws_on_frame(c, &f);
        if (c->state != WS_STATE_CLOSED && !c->failing)
            buf_consume(&c->in, (size_t)r);
    }
    /* after a close frame or a failure, further input is only drained */
    buf_reset(&c->in);
}

static void ws_do_read(ws_conn *c)
{
    ssize_t r = buf_read_fd(&c->in, c->fd, WS_READ_PER_PASS);

    if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            ws_transition(c, WS_EV_IO_ERROR, 0, strerror(errno));
        return;
    }
    if (r == 0) {
        ws_transition(c, WS_EV_EOF, 0, "connection closed without a close frame");
        return;
    }
    c->last_rx_ms = ev_now_ms(c->loop);
    ws_process_input(c);
}

static void ws_do_write(ws_conn *c)
{
    ssize_t r = buf_write_fd(&c->out, c->fd);

    if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            ws_transition(c, WS_EV_IO_ERROR, 0, strerror(errno));
        return;
    }
    if (buf_len(&c->out) == 0)
        ws_transition(c, WS_EV_FLUSHED, 0, NULL);
}

static void ws_on_io(ev_loop *loop, int fd, int events, void *arg)
{
    ws_conn *c = arg;
    (void)loop;
    (void)fd;

    if (events & EV_WRITE)
        ws_do_write(c);
    if ((events & EV_READ) && c->state != WS_STATE_CLOSED)
        ws_do_read(c);
    ws_update_interest(c);
}

/* OPEN: ping after ping_interval_ms of silence, give up when the pong is
 * pong_timeout_ms late.  CLOSING: the close handshake took too long. */
static void ws_on_timer(ev_loop *loop, ev_timer *t, void *arg)
{
    ws_conn *c = arg;
    (void)t;

    if (c->state != WS_STATE_OPEN) {
        ws_transition(c, WS_EV_TIMEOUT, 0, "close handshake timed out");
        return;
    }
    if (c->ping_outstanding) {
        ws_transition(c, WS_EV_TIMEOUT, 0, "no pong in time");
        return;
    }
    uint64_t idle = ev_now_ms(loop) - c->last_rx_ms;
    if (idle < c->cfg.ping_interval_ms) {
        ev_timer_start(loop, &c->timer, c->cfg.ping_interval_ms - idle, 0);
        return;
    }
    uint64_t now = ev_now_ms(loop);
    /* even when the queue cannot take the ping: a peer that does not drain
     * our output is as dead as one that does not answer */
    (void)ws_queue_frame(c, WS_OP_PING, &now, sizeof now);
    c->ping_outstanding = true;
    ev_timer_start(loop, &c->timer, c->cfg.pong_timeout_ms, 0);
}

static ws_conn *ws_conn_alloc(ev_loop *loop, int fd, enum ws_role role,
                              const struct ws_config *cfg)
{
    ws_conn *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->loop = loop;
    c->fd = fd;
    c->role = role;
    c->state = WS_STATE_OPEN;
    ws_config_fill(&c->cfg, cfg);
    ws_parser_init(&c->parser, role);
    c->parser.max_frame = c->cfg.max_frame;
    c->parser.max_message = c->cfg.max_message;
    buf_init(&c->in, c->cfg.max_frame + WS_MAX_HEADER);
    buf_init(&c->out, c->cfg.out_cap + WS_CONTROL_RESERVE);
    buf_init(&c->msg, c->cfg.max_message);
    ev_timer_init(&c->timer, ws_on_timer, c);
    c->last_rx_ms = ev_now_ms(loop);
    return c;
}

ws_conn *ws_conn_new(ev_loop *loop, int fd, enum ws_role role,
                     const struct ws_config *cfg, const struct ws_handlers *h,
                     void *arg, const void *pre, size_t pre_len,
                     const void *rest, size_t rest_len)
{
    ws_conn *c = ws_conn_alloc(loop, fd, role, cfg);

    if (c && rest_len > c->in.cap)
        c->in.cap = rest_len;   /* a small max_frame must not refuse them */
    if (!c || (pre_len && buf_append(&c->out, pre, pre_len) < 0) ||
        (rest_len && buf_append(&c->in, rest, rest_len) < 0) ||
        ev_io_set(loop, fd, EV_READ, ws_on_io, c) < 0) {
        int e = errno;
        if (c)
            ws_free_deferred(loop, c);
        close(fd);
        errno = e;
        return NULL;
    }
    if (h)
        c->h = *h;
    c->arg = arg;
    if (c->cfg.ping_interval_ms != UINT32_MAX)
        ev_timer_start(loop, &c->timer, c->cfg.ping_interval_ms, 0);
    if (c->h.on_open)
        c->h.on_open(c, arg);
    if (c->state == WS_STATE_OPEN && buf_len(&c->in) > 0)
        ws_process_input(c);
    ws_update_interest(c);
    return c;
}

static int ws_send_check(ws_conn *c, size_t n)
{
    if (c->state != WS_STATE_OPEN) {
        errno = EPIPE;
        return -1;
    }
    if (n + WS_MAX_HEADER > c->cfg.out_cap) {
        errno = EMSGSIZE;   /* could never fit, however long we wait */
        return -1;
    }
    return 0;
}

int ws_send_text(ws_conn *c, const char *s, size_t n)
{
    if (ws_send_check(c, n) < 0)
        return -1;
    if (!utf8_valid(s, n)) {
        errno = EILSEQ;
        return -1;
    }
    return ws_queue_frame(c, WS_OP_TEXT, s, n);
}

int ws_send_binary(ws_conn *c, const void *p, size_t n)
{
    if (ws_send_check(c, n) < 0)
        return -1;
    return ws_queue_frame(c, WS_OP_BINARY, p, n);
}

int ws_ping(ws_conn *c, const void *p, size_t n)
{
    if (c->state != WS_STATE_OPEN) {
        errno = EPIPE;
        return -1;
    }
    if (n > WS_MAX_CONTROL) {
        errno = EMSGSIZE;
        return -1;
    }
    return ws_queue_frame(c, WS_OP_PING, p, n);
}

int ws_close(ws_conn *c, int code, const char *reason)
{
    if (!ws_close_code_valid(code)) {
        errno = EINVAL;
        return -1;
    }
    ws_transition(c, WS_EV_LOCAL_CLOSE, code, reason);
    return 0;
}

enum ws_state ws_conn_state(const ws_conn *c) { return c->state; }
size_t ws_conn_queued(const ws_conn *c) { return buf_len(&c->out); }
void *ws_conn_get_data(const ws_conn *c) { return c->data; }
void ws_conn_set_data(ws_conn *c, void *data) { c->data = data; }
ev_loop *ws_conn_loop(const ws_conn *c) { return c->loop; }

/* --- sets --- */

ws_set *ws_set_new(int overflow_code)
{
    ws_set *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->overflow_code = ws_close_code_valid(overflow_code) ? overflow_code
                                                          : WS_CLOSE_TRY_AGAIN;
    return s;
}

void ws_set_free(ws_set *s)
{
    if (!s)
        return;
    while (s->n > 0)
        ws_set_remove(s, s->m[0]);
    free(s->m);
    free(s);
}

static bool ws_set_has(const ws_set *s, const ws_conn *c)
{
    for (size_t i = 0; i < c->nsets; i++)
        if (c->sets[i] == s)
            return true;
    return false;
}

int ws_set_add(ws_set *s, ws_conn *c)
{
    if (ws_set_has(s, c))
        return 0;
    if (c->state == WS_STATE_CLOSED) {
        errno = EPIPE;
        return -1;
    }
    if (c->nsets == WS_CONN_MAX_SETS || s->n == WS_SET_MAX) {
        errno = ENOSPC;
        return -1;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? 2 * s->cap : 16;
        ws_conn **m = realloc(s->m, ncap * sizeof *m);
        if (!m)
            return -1;
        s->m = m;
        s->cap = ncap;
    }
    s->m[s->n++] = c;
    c->sets[c->nsets++] = s;
    return 0;
}

/* Drops c from the member array (order is not kept). */
static void ws_set_forget(ws_set *s, ws_conn *c)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->m[i] == c) {
            s->m[i] = s->m[--s->n];
            return;
        }
    }
}

void ws_set_remove(ws_set *s, ws_conn *c)
{
    for (size_t i = 0; i < c->nsets; i++) {
        if (c->sets[i] == s) {
            c->sets[i] = c->sets[--c->nsets];
            ws_set_forget(s, c);
            return;
        }
    }
}

size_t ws_set_size(const ws_set *s)
{
    return s->n;
}

size_t ws_set_broadcast(ws_set *s, enum ws_opcode op, const void *p, size_t n,
                        const ws_conn *except)
{
    size_t reached = 0;

    if ((op != WS_OP_TEXT && op != WS_OP_BINARY) ||
        (op == WS_OP_TEXT && !utf8_valid(p, n)))
        return 0;
    /* closing a member below never finishes it synchronously, so the
     * array does not change under the loop; the bound is re-read anyway */
    for (size_t i = 0; i < s->n; i++) {
        ws_conn *c = s->m[i];
        if (c == except || ws_send_check(c, n) < 0)
            continue;
        if (ws_queue_frame(c, op, p, n) == 0)
            reached++;
        else if (errno == ENOBUFS)
            ws_close(c, s->overflow_code, "too slow: output queue full");
    }
    return reached;
}
