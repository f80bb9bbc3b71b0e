/*
 * proxy_upstream.c - the upstream connection of a proxied request, as a
 * state machine (see enum up_state in proxy_fwd.h):
 *
 *   IDLE -> CONNECTING -> SENDING -> READ_HEAD -> READ_BODY -> DONE
 *                  (a pooled connection starts at SENDING; an early answer
 *                   goes from SENDING to READ_BODY; a failure before the
 *                   head goes back to IDLE for the next attempt)
 *
 * up_step() is the one transition function, run for every readiness of
 * the upstream socket and for its timer; up_interest() and up_timeout()
 * derive the poll interest and the timer from the state and the buffers
 * alone, and up_update() applies them.  The response is read with the
 * library's response reader (r->rd); the client's body comes through the
 * engine's body callback, the client's drain through its drain callback.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "weaprous/log.h"
#include "weaprous/net.h"
#include "proxy_fwd.h"

#define UP_EV_TIMEOUT 0x100   /* up_step(): the timer, not a readiness */

static void up_on_io(ev_loop *loop, int fd, int events, void *arg);
static void up_update(struct preq *r);

/* An attempt holds a connection (and counts in its peer's active). */
static bool up_live(const struct preq *r)
{
    return r->state >= UP_CONNECTING && r->state <= UP_READ_BODY;
}

void proxy_upstream_release(struct preq *r, bool keep)
{
    if (r->fd >= 0) {
        if (keep) {
            proxy_pool_park(r->pool, r->peer->index, r->fd, r->conn);
        } else {
            ev_io_del(r->ctx->loop, r->fd);
            close(r->fd);
            if (r->conn)
                proxy_pool_forget(r->pool, r->conn);
        }
        r->fd = -1;
        r->conn = NULL;
    }
    if (up_live(r))
        r->peer->active--;
    r->state = UP_IDLE;
    ev_timer_stop(r->ctx->loop, &r->timer);
}

/* --- flow control, derived --- */

/* True while all clients together have more response bytes waiting than
 * proxy_total_buffers_size: memory is short, the slow clients wait. */
static bool budget_spent(const struct preq *r)
{
    uint64_t budget = r->ctx->rt->cfg->total_buffers_size;
    struct http_server_stats st;
    if (budget == 0)
        return false;
    http_server_get_stats(r->ctx->clients, &st);
    return st.out_queued > budget;
}

/* Must the upstream wait for this client?  Its queue is over the engine's
 * high-water mark, or, with the budget spent, over a short window: the
 * clients that do not keep up are the ones that stop getting more. */
static bool client_behind(const struct preq *r)
{
    return r->state == UP_READ_BODY && r->t
        && (http_txn_congested(r->t)
            || (http_txn_queued(r->t) > PROXY_TIGHT_QUEUE && budget_spent(r)));
}

static int up_interest(const struct preq *r, bool behind)
{
    int out = buf_len(&r->out) ? EV_WRITE : 0;
    switch (r->state) {
    case UP_CONNECTING:
        return EV_WRITE;
    case UP_SENDING:
    case UP_READ_HEAD:
        return EV_READ | out;
    case UP_READ_BODY:
        return (behind ? 0 : EV_READ) | out;
    case UP_IDLE:
    case UP_DONE:
        break;
    }
    return 0;
}

/* The timer of the state, in ms; 0: none (the client's pace, not ours). */
static uint32_t up_timeout(const struct preq *r, bool behind)
{
    const struct proxy_settings *s = &r->pool->block->set;
    switch (r->state) {
    case UP_CONNECTING:
        return s->connect_timeout_ms;
    case UP_READ_BODY:
        if (behind)
            return 0;
        /* fall through */
    case UP_SENDING:
    case UP_READ_HEAD:
        return buf_len(&r->out) ? s->send_timeout_ms : s->read_timeout_ms;
    case UP_IDLE:
    case UP_DONE:
        break;
    }
    return 0;
}

static void on_client_drain(http_txn *t, void *arg)
{
    up_update(arg);
}

/* Applies the interest and the timer of the state.  A client that is
 * behind is asked for a drain: its callback updates again. */
static void up_update(struct preq *r)
{
    if (!up_live(r) || r->fd < 0)
        return;
    bool behind = client_behind(r);
    if (behind)
        http_txn_on_drain(r->t, on_client_drain, r);
    ev_io_events(r->ctx->loop, r->fd, up_interest(r, behind));
    uint32_t ms = up_timeout(r, behind);
    if (ms)
        ev_timer_start(r->ctx->loop, &r->timer, ms, 0);
    else
        ev_timer_stop(r->ctx->loop, &r->timer);
}

/* --- the request body (client -> upstream) --- */

static int out_body(struct preq *r, const char *p, size_t n, bool last)
{
    bool chunked = r->flags & PREQ_CHUNKED;
    int rc = 0;
    if (n && chunked)
        rc |= buf_printf(&r->out, "%zx\r\n", n);
    rc |= buf_append(&r->out, p, n);
    if (n && chunked)
        rc |= buf_append(&r->out, "\r\n", 2);
    if (last && chunked)
        rc |= buf_append(&r->out, "0\r\n\r\n", 5);
    return rc ? -1 : 0;
}

static void keep_replay(struct preq *r, const char *p, size_t n)
{
    if (r->replayable && buf_append(&r->replay, p, n) < 0) {
        r->replayable = false;   /* too big to send twice */
        buf_reset(&r->replay);
    }
}

/* Everything of the request is out: the response head is next. */
static void up_sent(struct preq *r)
{
    if (r->state == UP_SENDING && r->body == REQ_BODY_DONE && buf_len(&r->out) == 0)
        r->state = UP_READ_HEAD;
}

static void body_on_data(http_txn *t, const char *p, size_t n, bool last, void *arg)
{
    struct preq *r = arg;
    uint64_t max = r->pool->block->set.client_max_body_size;
    r->body_total += n;
    if (max && r->body_total > max) {
        proxy_fwd_error(r, 413);
        return;
    }
    keep_replay(r, p, n);
    if (out_body(r, p, n, last) < 0) {
        proxy_fwd_error(r, 500);
        return;
    }
    if (last) {
        r->body = REQ_BODY_DONE;
        up_sent(r);
    } else if (buf_len(&r->out) >= PROXY_UP_OUT_HIGH && r->body == REQ_BODY_READING) {
        r->body = REQ_BODY_PAUSED;   /* the upstream is slower than the client */
        http_txn_pause_body(t, true);
    }
    up_update(r);
}

/* Connected: the head, and on a retry the body received so far, go out;
 * the first connection asks the client for its body. */
static void up_connected(struct preq *r)
{
    r->state = UP_SENDING;
    buf_reset(&r->out);
    if (buf_append(&r->out, buf_ptr(&r->head), buf_len(&r->head)) < 0
        || (r->body != REQ_BODY_UNREAD && out_body(r, buf_ptr(&r->replay), buf_len(&r->replay),
                                                   r->body == REQ_BODY_DONE) < 0)) {
        proxy_fwd_error(r, 500);
        return;
    }
    if (r->body == REQ_BODY_UNREAD) {
        r->body = REQ_BODY_READING;
        http_txn_on_body(r->t, body_on_data, r);
    }
}

/* Returns false when the attempt ended (another may have started). */
static bool up_write(struct preq *r)
{
    ssize_t n = buf_write_fd(&r->out, r->fd);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        if (!proxy_fwd_retry_fresh(r))
            proxy_fwd_failed(r, 502, strerror(errno));
        return false;
    }
    if (r->body == REQ_BODY_PAUSED && buf_len(&r->out) < PROXY_UP_OUT_HIGH / 2 && r->t) {
        r->body = REQ_BODY_READING;
        http_txn_pause_body(r->t, false);
    }
    up_sent(r);
    return up_live(r);
}

/* --- the response (upstream -> client) --- */

/* The response is complete: the connection is kept when the upstream
 * allows it and nothing of the request is left to send. */
static void resp_complete(struct preq *r, bool buffered)
{
    http_txn *t = r->t;
    bool keep = r->rd.keepalive && r->body == REQ_BODY_DONE && buf_len(&r->out) == 0
        && !(r->flags & PREQ_TUNNEL);
    r->t = NULL;
    if (buffered)
        http_txn_finish(t);   /* the body was appended whole */
    else
        http_txn_end(t);
    proxy_fwd_finish(r, keep);
}

/* Sends n body bytes to the client; false when the request ended. */
static bool resp_write(struct preq *r, const char *p, size_t n)
{
    if (n && http_txn_write(r->t, p, n) < 0) {
        proxy_fwd_finish(r, false);
        return false;
    }
    return r->state == UP_READ_BODY;
}

/* Body bytes waiting in r->in go to the client. */
static void resp_body(struct preq *r)
{
    size_t n;
    ssize_t rc = http_reader_body(&r->rd, buf_ptr(&r->in), buf_len(&r->in), &n);
    if (rc == HTTP_ERROR) {
        log_warnx("upstream %s: %s (rid=%s)", r->peer->conf->addr_text, r->rd.error, r->rid);
        proxy_fwd_finish(r, false);
        return;
    }
    if (!resp_write(r, buf_ptr(&r->in), n))
        return;
    buf_reset(&r->in);   /* passed on (the reader keeps its own state) */
    if (rc != HTTP_AGAIN)
        resp_complete(r, false);
}

static void go_tunnel(struct preq *r)
{
    buf rest;
    buf_init(&rest, CONN_IN_CAP);
    http_txn *t = r->t;
    r->t = NULL;
    int cfd = http_txn_hijack(t, &rest);
    int ufd = r->fd;
    struct proxy_peer *pe = r->peer;
    ev_io_del(r->ctx->loop, ufd);
    if (r->conn)
        proxy_pool_forget(r->pool, r->conn);
    r->conn = NULL;
    r->fd = -1;
    r->state = UP_IDLE;   /* the tunnel takes the peer's active count over */
    if (cfd < 0) {
        close(ufd);
        pe->active--;
    } else {
        proxy_tunnel_start(r->ctx, r->pool, pe, cfd, ufd, &r->in, &rest);
    }
    buf_free(&rest);
    proxy_fwd_finish(r, false);
}

/* The head is in r->in[0..n): status and fields to the client, then the
 * body. */
static void resp_start(struct preq *r, size_t n)
{
    const struct http_head *h = &r->rd.head;
    bool head_req = r->flags & PREQ_HEAD;
    proxy_peer_succeeded(r->peer);
    r->peer->requests++;
    http_txn_set_status(r->t, h->status);
    proxy_head_response(r);
    int64_t cl = r->rd.body == HTTP_BODY_LENGTH || (head_req && h->content_length >= 0)
        ? h->content_length : (r->rd.body == HTTP_BODY_NONE && h->status != 204
                               && h->status != 304 && !head_req ? 0 : -1);
    buf_consume(&r->in, n);
    r->state = UP_READ_BODY;
    if (r->rd.body == HTTP_BODY_LENGTH && buf_len(&r->in) >= r->rd.remaining
        && http_txn_append(r->t, buf_ptr(&r->in), (size_t)r->rd.remaining) == 0) {
        /* the whole body is here: head and body leave in one write */
        size_t len;
        http_reader_body(&r->rd, buf_ptr(&r->in), buf_len(&r->in), &len);
        buf_reset(&r->in);
        resp_complete(r, true);
        return;
    }
    if (http_txn_begin(r->t, cl) < 0) {
        proxy_fwd_finish(r, false);
        return;
    }
    resp_body(r);
}

/* Reads the response head in r->in (interim 1xx answers skipped). */
static void resp_head(struct preq *r)
{
    int n = http_reader_head(&r->rd, buf_ptr(&r->in), buf_len(&r->in));
    if (n == HTTP_AGAIN) {
        if (buf_room(&r->in) == 0)
            proxy_fwd_failed(r, 502, "response head too large");
    } else if (n == HTTP_ERROR) {
        proxy_fwd_failed(r, 502, r->rd.error);
    } else if (r->rd.head.status == 101 && (r->flags & PREQ_TUNNEL)) {
        buf_consume(&r->in, r->rd.skipped);   /* the 101 and what follows */
        go_tunnel(r);
    } else if (r->rd.head.status == 101) {
        proxy_fwd_failed(r, 502, "unexpected 101");   /* an upgrade nobody asked for */
    } else {
        resp_start(r, (size_t)n);
    }
}

/* The upstream closed (or failed) while reading. */
static void up_eof(struct preq *r, bool error)
{
    if (r->state != UP_READ_BODY) {
        if (!proxy_fwd_retry_fresh(r))
            proxy_fwd_failed(r, 502, error ? strerror(errno) : "closed before answering");
    } else if (!error && http_reader_eof(&r->rd)) {
        resp_complete(r, false);
    } else {
        /* cut mid-body: close the client connection rather than present a
         * truncated response as complete.  Not counted against the server
         * (as nginx): it answered, and one bad response must not take a
         * pool down for fail_timeout. */
        log_warnx("upstream %s: closed mid-body (rid=%s)", r->peer->conf->addr_text, r->rid);
        proxy_fwd_finish(r, false);
    }
}

static void up_read(struct preq *r)
{
    size_t chunk = budget_spent(r) ? PROXY_TIGHT_READ : PROXY_READ_CHUNK;
    ssize_t n = buf_read_fd(&r->in, r->fd, chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0 && errno == ENOBUFS && r->state != UP_READ_BODY) {
        proxy_fwd_failed(r, 502, "response head too large");
        return;
    }
    if (n <= 0) {
        up_eof(r, n < 0);
        return;
    }
    if (r->state == UP_READ_BODY)
        resp_body(r);
    else
        resp_head(r);
    /* Everything passed on: the buffer goes until the next read, so that a
     * thousand requests waiting for their clients hold no input memory. */
    if (up_live(r) && buf_len(&r->in) == 0)
        buf_free(&r->in);
}

static void up_timed_out(struct preq *r)
{
    if (r->state == UP_CONNECTING)
        proxy_fwd_failed(r, 502, "connect timed out");
    else if (r->state != UP_READ_BODY)
        proxy_fwd_failed(r, 504, "timed out waiting for the response");
    else
        proxy_fwd_finish(r, false);   /* mid-body: the client sees a cut */
}

/* The transition function: `events` is the socket's readiness, or
 * UP_EV_TIMEOUT for the timer.  Each step may end the attempt (the state
 * then is IDLE, with another attempt started, or DONE). */
static void up_step(struct preq *r, int events)
{
    if (events & UP_EV_TIMEOUT) {
        up_timed_out(r);
        return;
    }
    switch (r->state) {
    case UP_CONNECTING:
        if (net_connect_result(r->fd) < 0) {
            proxy_fwd_failed(r, 502, strerror(errno));
            return;
        }
        up_connected(r);
        if (r->state != UP_SENDING)
            return;
        events = EV_WRITE;   /* a connected socket is writable: send now */
        /* fall through */
    case UP_SENDING:
    case UP_READ_HEAD:
    case UP_READ_BODY:
        /* the read is this attempt's: a failed write may start another */
        if ((events & EV_WRITE) && buf_len(&r->out) && !up_write(r))
            break;
        if (events & EV_READ)
            up_read(r);
        break;
    case UP_IDLE:
    case UP_DONE:
        return;
    }
    up_update(r);
}

static void up_on_io(ev_loop *loop, int fd, int events, void *arg)
{
    up_step(arg, events);
}

static void up_on_timer(ev_loop *loop, ev_timer *tm, void *arg)
{
    up_step(arg, UP_EV_TIMEOUT);
}

/* Errors of socket()/connect() that are about this host, not the peer. */
static bool errno_local(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM
           || err == EADDRNOTAVAIL || err == EAGAIN;
}

void proxy_upstream_start(struct preq *r, int idx, bool fresh)
{
    r->peer = &r->pool->peers[idx];
    r->tried |= (uint64_t)1 << idx;
    buf_reset(&r->in);
    http_reader_init(&r->rd, r->flags & PREQ_HEAD, 0);
    ev_timer_init(&r->timer, up_on_timer, r);
    /* a pooled connection keeps its registration: its events come here
     * through the pool, without an epoll_ctl.  A non-idempotent request
     * never takes one: the upstream may close it after reading (and acting
     * on) the request, which could then be neither retried nor answered. */
    r->conn = fresh || !(r->flags & PREQ_IDEMPOTENT) ? NULL
        : proxy_pool_take_idle(r->pool, (unsigned)idx, up_on_io, r);
    int fd = r->conn ? r->conn->fd
        : net_connect((const struct sockaddr *)&r->peer->conf->addr, r->peer->conf->addrlen);
    r->peer->active++;
    r->state = UP_CONNECTING;
    r->fd = fd;
    if (fd < 0 && errno_local(errno)) {
        proxy_fwd_local_failed(r, strerror(errno));
        return;
    }
    if (fd < 0) {
        proxy_fwd_failed(r, 502, strerror(errno));
        return;
    }
    if (!r->conn && ev_io_set(r->ctx->loop, fd, EV_WRITE, up_on_io, r) < 0) {
        proxy_fwd_local_failed(r, strerror(errno));
        return;
    }
    if (r->conn) {
        up_connected(r);   /* already connected: straight to sending */
        if (r->state == UP_SENDING && !up_write(r))   /* most heads leave now, */
            return;                                    /* without a poll round */
    }
    up_update(r);
}
