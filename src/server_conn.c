/*
 * server_conn.c - the HTTP server's connection state machine.
 *
 * One struct conn per client connection, driven by conn_step(): an enum of
 * states and one transition function that advances while progress is
 * possible and returns when it would block.  conn_interest() derives the
 * poll interest from the state alone.  A connection is never freed inside
 * its own callback chain: conn_close() marks it closed and defers the free.
 *
 * Only one transaction per connection is in flight: pipelined requests wait
 * in the input buffer until the previous response has been written, which
 * keeps answers in order and memory bounded.
 *
 * This file alone writes struct conn.  The transaction (server_txn.c) fills
 * its response queue and asks for a step with conn_kick(); a kick that
 * comes while the connection is busy is taken by the running step, one that
 * comes from outside (a reply from a timer or another socket) steps at once
 * but leaves the next request and any close that would call the handler
 * back to a step at the end of the loop pass: a reply never runs the next
 * request's handler inside itself.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#ifdef HAVE_SYS_SENDFILE_H
#include <sys/sendfile.h>
#endif

#include "server_int.h"
#include "weaprous/log.h"

static void conn_io(ev_loop *loop, int fd, int events, void *arg);
static void conn_step(struct conn *c);
static void conn_update(struct conn *c);
static void conn_error(struct conn *c, int status);
static void conn_defer(struct conn *c);

/* A step from the loop (I/O, a timer, the deferred step): may dispatch. */
static void conn_run(struct conn *c)
{
    conn_step(c);
    conn_update(c);
}

/* Bytes or a file of the response still to go out. */
static bool conn_pending(const struct conn *c)
{
    const http_txn *t = c->txn;
    return t && (buf_len(&t->out.q) || t->out.file_left);
}

static size_t conn_queued(const struct conn *c)
{
    return c->txn ? buf_len(&c->txn->out.q) : 0;
}

/* --- timers: one per connection, armed from the state --- */

static void conn_timeout(ev_loop *loop, ev_timer *tm, void *arg)
{
    struct conn *c = arg;
    (void)loop; (void)tm;
    switch (c->state) {
    case CONN_HEAD:
        if (c->nrequests > 0 && buf_len(&c->in) == 0) {
            conn_close(c);          /* idle keep-alive: close quietly */
            return;
        }
        conn_error(c, 408);
        break;
    case CONN_BODY:
        conn_error(c, 408);
        break;
    default:
        conn_close(c);              /* send or linger timeout */
        return;
    }
    conn_run(c);
}

static void conn_arm(struct conn *c)
{
    const struct http_server_config *cfg = &c->srv->cfg;
    unsigned ms = 0;
    switch (c->state) {
    case CONN_HEAD:
        ms = (c->nrequests > 0 && buf_len(&c->in) == 0)
            ? cfg_or(cfg->keepalive_timeout_ms, HTTP_KEEPALIVE_TIMEOUT_MS)
            : cfg_or(cfg->header_timeout_ms, HTTP_HEADER_TIMEOUT_MS);
        break;
    case CONN_BODY:
        ms = cfg_or(cfg->body_timeout_ms, HTTP_BODY_TIMEOUT_MS);
        break;
    case CONN_HANDLER:
    case CONN_SEND:
        if (conn_pending(c))
            ms = cfg_or(cfg->send_timeout_ms, HTTP_SEND_TIMEOUT_MS);
        break;
    case CONN_LINGER:
        ms = LINGER_MS;
        break;
    case CONN_CLOSED:
        break;
    }
    if (ms)
        ev_timer_start(c->srv->loop, &c->timer, ms, 0);
    else
        ev_timer_stop(c->srv->loop, &c->timer);
}

/* --- connection I/O --- */

static void conn_free(ev_loop *loop, void *arg)
{
    struct conn *c = arg;
    (void)loop;
    buf_free(&c->in);
    free(c);
}

/* Brings the server's out_queued to `queued` bytes for c. */
static void conn_account(struct conn *c, size_t queued)
{
    http_server *s = c->srv;
    s->stats.out_queued = s->stats.out_queued - c->out_counted + queued;
    c->out_counted = queued;
}

static void conn_unlink(struct conn *c)
{
    http_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    s->stats.connections_active--;
}

/* The client is gone: a transaction the handler still owns is told (its
 * on_close) and completes later on its own; any other is freed.  The bytes
 * it queued will never be sent. */
static void conn_drop_txn(struct conn *c)
{
    http_txn *t = c->txn;
    c->txn = NULL;
    if (!t)
        return;
    if (t->handed && t->res != RES_DONE) {
        t->c = NULL;
        buf_free(&t->out.q);
        if (t->close_cb)
            t->close_cb(t, t->close_arg);
    } else {
        txn_free(t);   /* with t->c still set: it may be cached */
    }
}

/* Idempotent.  Orphans a transaction the handler still owns (its on_close
 * runs) and defers the free to the end of the loop pass. */
void conn_close(struct conn *c)
{
    if (c->state == CONN_CLOSED)
        return;
    http_server *s = c->srv;
    c->state = CONN_CLOSED;
    ev_timer_stop(s->loop, &c->timer);
    if (c->fd >= 0) {
        ev_io_del(s->loop, c->fd);
        close(c->fd);
        c->fd = -1;
    }
    conn_account(c, 0);
    conn_drop_txn(c);
    conn_unlink(c);
    ev_defer(s->loop, conn_free, c);
    srv_conn_gone(s);
}

int conn_hijack(struct conn *c, buf *rest)
{
    if (buf_append(rest, buf_ptr(&c->in), buf_len(&c->in)) < 0)
        return -1;
    int fd = c->fd;
    ev_io_del(c->srv->loop, fd);
    c->fd = -1;
    if (c->txn)
        c->txn->c = NULL;
    c->txn = NULL;
    conn_close(c);
    return fd;
}

/* The client is lost (a write failed, a streamed body went bad): close
 * now, or, in a step for a kick, at the end of the pass (the close runs
 * the handler's on_close, which must not run inside the handler's own
 * call). */
static void conn_fail(struct conn *c)
{
    if (!c->late) {
        conn_close(c);
        return;
    }
    c->broken = true;
    conn_defer(c);
}

/* A protocol error before the handler: the engine's answer, then close. */
static void conn_error(struct conn *c, int status)
{
    if (!c->txn && !(c->txn = txn_new(c))) {
        conn_close(c);
        return;
    }
    c->closing = true;
    c->linger = true;
    http_txn_error(c->txn, status);
    if (c->state != CONN_CLOSED)
        c->state = CONN_SEND;
}

void conn_shutdown(struct conn *c)
{
    if (c->state == CONN_HEAD && buf_len(&c->in) == 0)
        conn_close(c);
    else
        c->closing = true;
}

static int conn_interest(const struct conn *c)
{
    int ev = conn_pending(c) ? EV_WRITE : 0;
    bool can_read = !c->eof && buf_room(&c->in) > 0;
    switch (c->state) {
    case CONN_HEAD:
        if (can_read)
            ev |= EV_READ;
        break;
    case CONN_HANDLER:
        /* a drain callback waits for writability even with nothing queued */
        if (c->txn && c->txn->drain_cb)
            ev |= EV_WRITE;
        /* fall through */
    case CONN_BODY:
    case CONN_SEND:
        if (can_read)
            ev |= EV_READ;
        break;
    case CONN_LINGER:
        ev |= EV_READ;
        break;
    case CONN_CLOSED:
        return 0;
    }
    /* Requests left in the buffer bring no new readiness: ask for
     * writability, which comes at once, to get another turn next pass. */
    if (c->yielded)
        ev |= EV_WRITE;
    return ev;
}

static void conn_update(struct conn *c)
{
    if (c->state == CONN_CLOSED || c->broken)
        return;
    conn_account(c, conn_queued(c));
    int ev = conn_interest(c);
    if (ev != c->events) {
        if (ev_io_events(c->srv->loop, c->fd, ev) < 0) {
            conn_close(c);
            return;
        }
        c->events = ev;
    }
}

/* Moves file bytes to the socket: sendfile when nothing else is queued,
 * else through the output queue.  0 on progress or would-block, -1 on
 * error. */
static int conn_send_file(struct conn *c, struct txn_out *o)
{
#ifdef HAVE_SENDFILE
    if (buf_len(&o->q) == 0) {
        size_t n = o->file_left > (off_t)(1u << 20) ? (1u << 20) : (size_t)o->file_left;
        ssize_t w = sendfile(c->fd, o->file_fd, &o->file_off, n);
        if (w < 0)
            return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        if (w == 0)
            return -1;      /* file shrank under us: the response is broken */
        o->file_left -= w;
        return 0;
    }
#endif
    if (buf_len(&o->q) >= CONN_OUT_HIGH_WATER)
        return 0;
    size_t want = o->file_left > (off_t)FILE_CHUNK ? FILE_CHUNK : (size_t)o->file_left;
    char *dst = buf_space(&o->q, want);
    if (!dst)
        return 0;
    ssize_t r = pread(o->file_fd, dst, want, o->file_off);
    if (r <= 0)
        return -1;
    buf_commit(&o->q, (size_t)r);
    o->file_off += r;
    o->file_left -= r;
    return 0;
}

/* Writes what the response has queued.  Returns 0, or -1 when the
 * connection died.  The send timeout runs while bytes wait, from the last
 * progress. */
static int conn_flush(struct conn *c)
{
    if (!c->txn)
        return 0;
    struct txn_out *o = &c->txn->out;
    size_t before = buf_len(&o->q) + (size_t)o->file_left;
    for (;;) {
        if (o->file_left && o->file_fd >= 0 && conn_send_file(c, o) < 0)
            return -1;
        if (buf_len(&o->q) == 0)
            break;
        ssize_t n = buf_write_fd(&o->q, c->fd);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            return -1;
        }
        if (o->file_left == 0 && buf_len(&o->q) == 0)
            break;
    }
    if (o->file_left == 0)
        txn_file_done(c->txn);
    /* A queue that grew for a large answer gives its memory back once it
     * is written: a thousand connections that streamed once must not each
     * keep their peak. */
    if (buf_len(&o->q) == 0 && o->q.size > CONN_OUT_KEEP)
        buf_free(&o->q);
    bool moved = buf_len(&o->q) + (size_t)o->file_left != before;
    if (moved || (conn_pending(c) && !ev_timer_active(&c->timer)))
        conn_arm(c);
    return 0;
}

/* Runs the drain callback once the output is low.  Only from conn_io():
 * called from inside http_txn_write() it would recurse into the producer
 * (one frame per piece) and free its state under it. */
static void conn_drained(struct conn *c)
{
    http_txn *t = c->txn;
    if (c->state == CONN_CLOSED || !t || !t->drain_cb ||
        buf_len(&t->out.q) >= CONN_OUT_HIGH_WATER / 2)
        return;
    http_txn_cb cb = t->drain_cb;
    t->drain_cb = NULL;
    cb(t, t->drain_arg);
}

/* Reads once.  Returns 1 if bytes came, 0 for nothing new, -1 if closed. */
static int conn_fill(struct conn *c)
{
    if (c->state == CONN_LINGER) {
        char junk[16384];
        ssize_t n = read(c->fd, junk, sizeof(junk));
        c->lingered += n > 0 ? (size_t)n : 0;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
            c->lingered > LINGER_MAX_BYTES) {
            conn_close(c);
            return -1;
        }
        return 0;
    }
    ssize_t n = buf_read_fd(&c->in, c->fd, 0);
    if (n > 0)
        return 1;
    if (n == 0) {
        c->eof = true;
        /* A client that leaves while the handler works is gone for good. */
        if (c->state == CONN_HANDLER || c->state == CONN_BODY ||
            (c->state == CONN_HEAD && buf_len(&c->in) == 0)) {
            conn_close(c);
            return -1;
        }
        return 0;
    }
    if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
        return 0;
    conn_close(c);
    return -1;
}

/* --- request reading --- */

static void conn_dispatch(struct conn *c)
{
    http_txn *t = c->txn;
    http_server *s = c->srv;
    c->state = CONN_HANDLER;
    conn_arm(c);    /* the handler takes its time: no header or body timeout */
    t->handed = true;
    s->stats.requests_total++;
    s->handler(t, s->arg);
}

/* Head is parsed at buf_ptr(in)[0..n): take it over and decide what next. */
static void conn_head_done(struct conn *c, size_t n)
{
    http_txn *t = c->txn;
    http_server *s = c->srv;
    t->head.head_len = n;
    if (txn_own_head(t, buf_ptr(&c->in)) < 0) {
        conn_close(c);
        return;
    }
    buf_consume(&c->in, n);
    c->nrequests++;
    t->head_only = t->head.method == HTTP_M_HEAD;
    if (txn_decode_path(t) < 0) {
        conn_error(c, 400);
        return;
    }
    t->chunked_in = (t->head.flags & HTTP_F_CHUNKED) != 0;
    t->body_left = t->head.content_length > 0 ? (uint64_t)t->head.content_length : 0;
    t->has_body = t->chunked_in || t->body_left > 0;
    t->body_done = !t->has_body;
    size_t max = srv_max_body(s);
    if (t->body_left > max) {
        conn_error(c, 413);
        return;
    }
    t->dechunk.limit = max;     /* a chunk size past it: 413 on its line */
    if (s->cfg.stream_body || !t->has_body) {
        conn_dispatch(c);
        return;
    }
    txn_continue_100(t);
    c->state = CONN_BODY;
    conn_arm(c);
}

static void conn_read_head(struct conn *c)
{
    if (buf_len(&c->in) == 0) {
        if (c->eof)
            conn_close(c);
        return;
    }
    if (!c->txn) {
        if (!(c->txn = txn_new(c))) {
            conn_close(c);
            return;
        }
        http_parser_init(&c->parser, HTTP_PARSE_REQUEST);
        conn_arm(c);        /* the header timeout starts with the first byte */
    }
    int r = http_parse_head(&c->parser, buf_ptr(&c->in), buf_len(&c->in), &c->txn->head);
    if (r == HTTP_AGAIN) {
        if (c->eof)
            conn_close(c);
        return;
    }
    if (r == HTTP_ERROR) {
        conn_error(c, c->parser.status ? c->parser.status : 400);
        return;
    }
    conn_head_done(c, (size_t)r);
}

/* Takes body bytes from the input buffer: up to Content-Length, or through
 * the chunked decoder.  Returns the number of body bytes now at p[0..),
 * sets *done at the end; -1 on a malformed chunk or one over the limit
 * (t->dechunk.status says which). */
static ssize_t conn_take_body(struct conn *c, char **p, bool *done)
{
    http_txn *t = c->txn;
    size_t avail = buf_len(&c->in);
    *p = buf_ptr(&c->in);
    *done = false;
    if (!t->chunked_in) {
        size_t n = avail < t->body_left ? avail : (size_t)t->body_left;
        t->body_left -= n;
        *done = t->body_left == 0;
        return (ssize_t)n;
    }
    size_t n = avail;
    ssize_t r = http_chunked_decode(&t->dechunk, *p, &n);
    if (r == HTTP_ERROR)
        return -1;
    if (r >= 0) {
        *done = true;
        /* the r bytes after the body belong to the next request */
        c->in.len = n + (size_t)r;
    } else {
        c->in.len = n;
    }
    return (ssize_t)n;
}

static void conn_read_body(struct conn *c)
{
    http_txn *t = c->txn;
    char *p;
    bool done;
    ssize_t n = conn_take_body(c, &p, &done);
    if (n < 0) {
        conn_error(c, t->dechunk.status);
        return;
    }
    if (buf_append(&t->body, p, (size_t)n) < 0 || buf_room(&t->body) == 0) {
        conn_error(c, 413);
        return;
    }
    buf_consume(&c->in, (size_t)n);
    if (n > 0)
        conn_arm(c);
    if (!done) {
        if (c->eof)
            conn_close(c);
        return;
    }
    t->body_done = true;
    buf_append(&t->body, "", 1);     /* the NUL promised by http_txn_body */
    t->body.len--;
    conn_dispatch(c);
}

/* stream_body mode: hand what has arrived to the consumer. */
static void conn_stream_body(struct conn *c)
{
    http_txn *t = c->txn;
    if (!t || !t->body_cb || t->body_paused)
        return;
    if (!t->has_body) {
        /* body_done is already true here: the one promised call, once */
        http_body_cb cb = t->body_cb;
        t->body_cb = NULL;
        cb(t, "", 0, true, t->body_arg);
        return;
    }
    if (t->body_done)
        return;
    char *p;
    bool done;
    ssize_t n = conn_take_body(c, &p, &done);
    size_t max = srv_max_body(c->srv);
    if (n >= 0)
        t->dechunk.total += t->chunked_in ? 0 : (uint64_t)n;
    if (n < 0 || t->dechunk.total > max) {
        /* The handler owns t: drop the client as if it had left, so that
         * on_close tells the handler and t stays valid until completed. */
        conn_fail(c);
        return;
    }
    t->body_done = done;
    if (n == 0 && !done)
        return;
    http_body_cb cb = t->body_cb;
    cb(t, p, (size_t)n, done, t->body_arg);
    if (c->state != CONN_CLOSED)
        buf_consume(&c->in, (size_t)n);
}

/* --- the transition function --- */

/* The handler completed the transaction: its response goes out. */
static void conn_answered(struct conn *c)
{
    http_txn *t = c->txn;
    /* A body still on the wire must not be parsed as the next request. */
    if (t->has_body && !t->body_done)
        c->closing = c->linger = true;
    c->closing |= t->close_conn;
    c->linger |= t->linger;
    c->state = CONN_SEND;
}

/* The response is written: the transaction goes, the connection waits for
 * the next request or closes. */
static void conn_after_response(struct conn *c)
{
    http_txn *t = c->txn;
    c->txn = NULL;
    txn_free(t);
    if (c->closing || c->eof) {
        /* A clean "Connection: close" with nothing left to read closes at
         * once: the answer is queued in the kernel and goes out before the
         * FIN.  Lingering costs a shutdown and more reads per connection. */
        if (c->eof || (!c->linger && buf_len(&c->in) == 0)) {
            conn_close(c);
            return;
        }
        /* Shut our side, then drain what the client still sends: closing
         * with unread input would send a reset that can destroy the answer
         * before the client reads it (nginx's lingering close). */
        shutdown(c->fd, SHUT_WR);
        c->state = CONN_LINGER;
        conn_arm(c);
        return;
    }
    c->state = CONN_HEAD;
    conn_arm(c);
}

static void conn_step(struct conn *c)
{
    if (c->broken) {
        if (!c->late)
            conn_close(c);
        return;
    }
    c->busy++;
    c->yielded = false;
    unsigned handled = 0;
    for (;;) {
        enum conn_state before = c->state;
        size_t in_before = buf_len(&c->in);
        c->kicked = false;
        switch (c->state) {
        case CONN_HEAD:
            if (c->late && buf_len(&c->in)) {
                conn_defer(c);      /* the next request: not inside a reply */
                goto out;
            }
            if (handled++ >= HTTP_MAX_PIPELINE_PER_PASS && buf_len(&c->in)) {
                c->yielded = true;  /* fairness: the rest waits a pass */
                goto out;
            }
            conn_read_head(c);
            break;
        case CONN_BODY:
            conn_read_body(c);
            break;
        case CONN_HANDLER:
            if (c->txn->res == RES_DONE)
                conn_answered(c);
            else
                conn_stream_body(c);
            break;
        case CONN_SEND:
            if (conn_flush(c) < 0) {
                conn_fail(c);
                goto out;
            }
            if (!conn_pending(c))
                conn_after_response(c);
            break;
        case CONN_LINGER:
        case CONN_CLOSED:
            goto out;
        }
        if (c->broken)
            goto out;
        if (c->state == before && buf_len(&c->in) == in_before && !c->kicked)
            break;
    }
    if (c->state != CONN_CLOSED && conn_pending(c) && conn_flush(c) < 0)
        conn_fail(c);
out:
    c->busy--;
}

static void conn_deferred(ev_loop *loop, void *arg)
{
    struct conn *c = arg;
    (void)loop;
    c->deferred = false;
    if (c->state != CONN_CLOSED)
        conn_run(c);
}

/* Queues a step for the end of the pass (once); without memory for it,
 * the next pass does it through writability. */
static void conn_defer(struct conn *c)
{
    if (c->deferred)
        return;
    if (ev_defer(c->srv->loop, conn_deferred, c) == 0)
        c->deferred = true;
    else
        c->yielded = true;
}

void conn_kick(struct conn *c)
{
    if (c->state == CONN_CLOSED)
        return;
    conn_account(c, conn_queued(c));
    if (c->busy) {
        c->kicked = true;
        return;
    }
    c->late = true;
    conn_step(c);
    c->late = false;
    conn_update(c);
}

static void conn_io(ev_loop *loop, int fd, int events, void *arg)
{
    struct conn *c = arg;
    (void)loop; (void)fd;
    c->busy++;     /* completions from drain callbacks step below, once */
    int rc = 0;
    if ((events & EV_WRITE) && conn_flush(c) < 0)
        conn_close(c);
    if ((events & EV_WRITE) && c->state != CONN_CLOSED)
        conn_drained(c);
    if ((events & EV_READ) && c->state != CONN_CLOSED)
        rc = conn_fill(c);
    c->busy--;
    if (rc < 0 || c->state == CONN_CLOSED)
        return;
    conn_run(c);
}

void conn_new(http_server *s, int fd, const struct sockaddr_storage *ss)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c || ev_io_set(s->loop, fd, EV_READ, conn_io, c) < 0) {
        /* select() cannot watch fd >= FD_SETSIZE: say so and hang up */
        static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n";
        if (write(fd, busy, sizeof(busy) - 1) < 0) { /* best effort */ }
        log_warnx("cannot watch connection fd %d: %s", fd, strerror(errno));
        close(fd);
        free(c);
        return;
    }
    c->srv = s;
    c->fd = fd;
    c->events = EV_READ;
    c->state = CONN_HEAD;
    buf_init(&c->in, CONN_IN_CAP);
    ev_timer_init(&c->timer, conn_timeout, c);
    net_addr_str((const struct sockaddr *)ss, c->remote, &c->remote_port);
    net_set_nodelay(fd);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->stats.connections_total++;
    s->stats.connections_active++;
    conn_arm(c);
}
