/*
 * server.c - the HTTP/1.1 server engine.  See weaprous/server.h.
 *
 * One struct conn per client connection, driven by conn_step(): an enum of
 * states and one transition function that advances while progress is
 * possible and returns when it would block.  conn_interest() derives the
 * poll interest from the state alone.  A connection is never freed inside
 * its own callback chain: conn_close() marks it closed and defers the free.
 *
 * Each request becomes an http_txn; the handler completes it now or later.
 * Only one transaction per connection is in flight: pipelined requests wait
 * in the input buffer until the previous response has been written, which
 * keeps answers in order and memory bounded.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef HAVE_SYS_SENDFILE_H
#include <sys/sendfile.h>
#endif

#include "weaprous/log.h"
#include "weaprous/net.h"
#include "weaprous/server.h"

#define SRV_MAX_LISTENERS   8
#define TXN_HEAD_CAP        16384   /* response fields added by a handler */
#define LINGER_MS           2000    /* read-and-discard after an error */
#define LINGER_MAX_BYTES    (1u << 20)
#define ACCESS_LINE_MAX     2048
#define ACCEPT_WARN_MS      10000

enum conn_state {
    CONN_HEAD,      /* waiting for / parsing a request head */
    CONN_BODY,      /* reading a request body into the transaction */
    CONN_HANDLER,   /* the handler owns the transaction */
    CONN_SEND,      /* response complete, flushing output (and a file) */
    CONN_LINGER,    /* response sent, discarding input before closing */
    CONN_CLOSED
};

enum txn_res {
    RES_NONE,       /* handler has not answered yet */
    RES_STREAM,     /* head sent, body being streamed */
    RES_DONE
};

struct conn {
    http_server     *srv;
    struct conn     *prev, *next;
    int              fd;
    enum conn_state  state;
    int              events;        /* interest currently registered */
    int              busy;          /* >0 while conn_step or a handler runs */
    buf              in, out;
    struct http_parser parser;
    http_txn        *txn;
    ev_timer         timer;
    unsigned         nrequests;
    bool             eof;           /* client shut its sending side */
    bool             yielded;       /* stopped for fairness with input left */
    bool             close_after;   /* close once the response is out */
    int              file_fd;       /* body being sent from a file */
    off_t            file_off, file_left;
    size_t           lingered;
    char             remote[NET_ADDR_MAX];
    int              remote_port, local_port;
};

struct http_txn {
    struct conn     *c;             /* NULL once the client is gone */
    http_server     *srv;
    struct http_head head;
    char            *raw;           /* private copy of the head, NUL-split */
    char            *path;
    const char      *query;
    bool             handed;        /* given to the handler */
    /* request body */
    bool             has_body, body_done, chunked_in;
    uint64_t         body_left;     /* Content-Length bytes still to come */
    struct http_chunked dechunk;
    buf              body;
    http_body_cb     body_cb;
    void            *body_arg;
    bool             body_paused;
    /* response */
    enum txn_res     res;
    int              status;
    buf              fields;
    buf              content;
    bool             head_only;     /* HEAD request: no body bytes */
    bool             chunked_out;
    int64_t          declared_len;  /* streamed Content-Length, or -1 */
    uint64_t         body_bytes;
    http_txn_cb      drain_cb, close_cb, free_cb;
    void            *drain_arg, *close_arg, *free_arg;
    void            *data;
    char             note[256];
    char             remote[NET_ADDR_MAX];
    time_t           started;
};

struct http_server {
    ev_loop         *loop;
    struct http_server_config cfg;
    http_handler_fn  handler;
    void            *arg;
    int              lfds[SRV_MAX_LISTENERS];
    size_t           nlisteners;
    bool             accept_paused;
    ev_timer         accept_timer;
    uint64_t         accept_warned_ms;
    unsigned         accept_pauses;     /* since the last warning */
    struct conn     *conns;
    struct http_server_stats stats;
    char             date[30];
    time_t           date_at;
    bool             shutting_down;
    ev_timer         grace_timer;
    void           (*done)(http_server *, void *);
    void            *done_arg;
};

static void conn_step(struct conn *c);
static void conn_update(struct conn *c);
static void conn_close(struct conn *c);
static void conn_io(ev_loop *loop, int fd, int events, void *arg);
static void txn_complete(http_txn *t);
static void conn_error(struct conn *c, int status);

/* --- small helpers --- */

static unsigned cfg_or(unsigned v, unsigned dflt) { return v ? v : dflt; }

static size_t srv_max_body(const http_server *s)
{
    return s->cfg.max_body ? s->cfg.max_body : HTTP_DEFAULT_MAX_BODY;
}

static const char *srv_date(http_server *s)
{
    time_t now = ev_wall(s->loop);
    if (now != s->date_at) {
        http_date_format(now, s->date);
        s->date_at = now;
    }
    return s->date;
}

static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* Errors after which the byte stream cannot be trusted or the body was not
 * read: the connection closes after the answer. */
static bool status_closes(int status)
{
    switch (status) {
    case 400: case 408: case 411: case 413: case 414: case 431: case 501: case 505:
        return true;
    default:
        return false;
    }
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
    conn_step(c);
    conn_update(c);
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
        if (buf_len(&c->out) || c->file_left)
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

/* --- transactions --- */

static http_txn *txn_new(struct conn *c)
{
    http_txn *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->c = c;
    t->srv = c->srv;
    t->status = 200;
    t->head.content_length = -1;
    t->declared_len = -1;
    t->started = ev_wall(c->srv->loop);
    /* stream_body mode never buffers: its limit may be far above memory */
    buf_init(&t->body, c->srv->cfg.stream_body ? 0 : srv_max_body(c->srv) + 1);
    buf_init(&t->fields, TXN_HEAD_CAP);
    buf_init(&t->content, CONN_OUT_CAP);
    memcpy(t->remote, c->remote, sizeof(t->remote));
    return t;
}

static void txn_free(http_txn *t)
{
    if (t->free_cb)
        t->free_cb(t, t->free_arg);
    buf_free(&t->body);
    buf_free(&t->fields);
    buf_free(&t->content);
    free(t->raw);
    free(t);
}

static const char *rebase(const char *p, const char *from, char *to)
{
    return p ? to + (p - from) : NULL;
}

/* Copies the head out of the connection's input buffer (which moves as it
 * grows) and splits it into NUL-terminated strings: each token is followed
 * by a delimiter (SP, ':', CR or LF) that can be overwritten. */
static int txn_own_head(http_txn *t, const char *base)
{
    struct http_head *h = &t->head;
    size_t n = h->head_len;
    char *raw = malloc(n + 1 + h->target_len + 1);
    if (!raw)
        return -1;
    memcpy(raw, base, n);
    raw[n] = '\0';
    t->raw = raw;
    h->method_str = rebase(h->method_str, base, raw);
    h->target = rebase(h->target, base, raw);
    h->host = rebase(h->host, base, raw);
    for (size_t i = 0; i < h->num_headers; i++) {
        struct http_header *f = &h->headers[i];
        f->name = rebase(f->name, base, raw);
        f->value = rebase(f->value, base, raw);
    }
    for (size_t i = 0; i < h->num_headers; i++) {
        ((char *)h->headers[i].name)[h->headers[i].name_len] = '\0';
        ((char *)h->headers[i].value)[h->headers[i].value_len] = '\0';
    }
    if (h->host)
        ((char *)h->host)[h->host_len] = '\0';
    ((char *)h->method_str)[h->method_len] = '\0';
    ((char *)h->target)[h->target_len] = '\0';
    t->path = raw + n + 1;
    return 0;
}

/* Decodes the path of an origin-form or absolute-form target; 0 or -1. */
static int txn_decode_path(http_txn *t)
{
    const char *tg = t->head.target;
    if (strcmp(tg, "*") == 0) {
        strcpy(t->path, "*");
        t->query = "";
        return 0;
    }
    if (tg[0] != '/') {
        const char *p = strstr(tg, "://");
        if (!p)
            return -1;
        tg = strchr(p + 3, '/');
        if (!tg) {
            strcpy(t->path, "/");
            const char *q = strchr(p + 3, '?');
            t->query = q ? q + 1 : "";
            return 0;
        }
    }
    const char *q = strchr(tg, '?');
    size_t plen = q ? (size_t)(q - tg) : strlen(tg);
    t->query = q ? q + 1 : "";
    return http_url_decode(t->path, tg, plen, false) < 0 ? -1 : 0;
}

static bool txn_keepalive(const http_txn *t)
{
    const struct conn *c = t->c;
    const struct http_head *h = &t->head;
    if (!c || c->close_after || c->eof || t->srv->shutting_down)
        return false;
    if (c->nrequests >= cfg_or(t->srv->cfg.max_keepalive_requests, HTTP_MAX_KEEPALIVE_REQUESTS))
        return false;
    if (h->flags & HTTP_F_CONN_CLOSE)
        return false;
    /* stream_body: an answer before the whole body was read ends the
     * connection (txn_complete), so it must say Connection: close. */
    if (t->has_body && !t->body_done)
        return false;
    if (h->version_major == 1 && h->version_minor == 0)
        return (h->flags & HTTP_F_CONN_KEEPALIVE) != 0;
    return h->version_major == 1;
}

/* Writes the status line and fields into the connection's output.
 * content_length < 0: chunked for HTTP/1.1, close-delimited for 1.0. */
static int txn_write_head(http_txn *t, int64_t content_length)
{
    struct conn *c = t->c;
    http_server *s = t->srv;
    bool keep = txn_keepalive(t);
    buf *o = &c->out;
    int st = t->status;

    if (content_length < 0 && status_has_body(st) && !t->head_only) {
        if (t->head.version_minor >= 1 && t->head.version_major == 1)
            t->chunked_out = true;
        else
            keep = false;
    }
    if (!keep)
        c->close_after = true;
    int r = buf_printf(o, "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n", st,
                       http_status_text(st), s->cfg.server_name ? s->cfg.server_name : "weaprous",
                       srv_date(s));
    if (r == 0 && status_has_body(st)) {
        if (content_length >= 0)
            r = buf_printf(o, "Content-Length: %lld\r\n", (long long)content_length);
        else if (t->chunked_out)
            r = buf_puts(o, "Transfer-Encoding: chunked\r\n");
    }
    if (r == 0 && st >= 200)
        r = buf_puts(o, !keep ? "Connection: close\r\n"
                     : (t->head.version_minor == 0 ? "Connection: keep-alive\r\n" : ""));
    if (r == 0)
        r = buf_append(o, buf_ptr(&t->fields), buf_len(&t->fields));
    if (r == 0)
        r = buf_append(o, "\r\n", 2);
    return r;
}

static void txn_log(http_txn *t)
{
    if (!log_access_enabled())
        return;
    char line[ACCESS_LINE_MAX], when[40];
    struct tm tm;
    gmtime_r(&t->started, &tm);
    strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &tm);
    const char *ref = http_txn_header(t, "Referer");
    const char *ua = http_txn_header(t, "User-Agent");
    int n;
    if (t->head.method_str)
        n = snprintf(line, sizeof(line), "%s - - [%s] \"%s %.1000s HTTP/%d.%d\" %d %llu \"%.300s\" \"%.300s\"%s%s",
                     t->remote, when, t->head.method_str, t->head.target,
                     t->head.version_major, t->head.version_minor, t->status,
                     (unsigned long long)t->body_bytes, ref ? ref : "-", ua ? ua : "-",
                     t->note[0] ? " " : "", t->note);
    else
        n = snprintf(line, sizeof(line), "%s - - [%s] \"-\" %d %llu \"-\" \"-\"",
                     t->remote, when, t->status, (unsigned long long)t->body_bytes);
    if (n > 0)
        log_access_line(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The transaction's response is fully handed to the connection (or the
 * client is gone): log it, free it, and let the connection move on. */
static void txn_complete(http_txn *t)
{
    struct conn *c = t->c;
    t->res = RES_DONE;
    /* A body still on the wire must not be parsed as the next request. */
    if (c && t->has_body && !t->body_done)
        c->close_after = true;
    txn_log(t);
    txn_free(t);
    if (!c)
        return;
    c->txn = NULL;
    if (c->state == CONN_CLOSED)
        return;
    c->state = CONN_SEND;
    if (c->busy == 0) {
        conn_step(c);
        conn_update(c);
    }
}

/* --- connection I/O --- */

static void srv_maybe_done(http_server *s);
static void srv_grace_over(ev_loop *loop, ev_timer *t, void *arg);

static void conn_free(ev_loop *loop, void *arg)
{
    struct conn *c = arg;
    (void)loop;
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
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
    s->stats.connections_active--;
}

/* Idempotent.  Orphans a transaction the handler still owns (its on_close
 * runs) and defers the free to the end of the loop pass. */
static void conn_close(struct conn *c)
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
    if (c->file_fd >= 0)
        close(c->file_fd);
    c->file_fd = -1;
    http_txn *t = c->txn;
    c->txn = NULL;
    if (t) {
        t->c = NULL;
        if (t->handed && t->res != RES_DONE) {
            if (t->close_cb)
                t->close_cb(t, t->close_arg);
        } else {
            txn_free(t);
        }
    }
    conn_unlink(c);
    ev_defer(s->loop, conn_free, c);
    srv_maybe_done(s);
}

static void conn_error(struct conn *c, int status)
{
    if (!c->txn && !(c->txn = txn_new(c))) {
        conn_close(c);
        return;
    }
    c->close_after = true;
    http_txn_error(c->txn, status);
}

static int conn_interest(const struct conn *c)
{
    int ev = (buf_len(&c->out) || c->file_left) ? EV_WRITE : 0;
    bool can_read = !c->eof && buf_room(&c->in) > 0;
    switch (c->state) {
    case CONN_HEAD:
        if (can_read && buf_len(&c->out) < CONN_OUT_HIGH_WATER)
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
    if (c->state == CONN_CLOSED)
        return;
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
 * else through the output buffer.  0 on progress or would-block, -1 on
 * error. */
static int conn_send_file(struct conn *c)
{
#ifdef HAVE_SENDFILE
    if (buf_len(&c->out) == 0) {
        size_t n = c->file_left > (off_t)(1u << 20) ? (1u << 20) : (size_t)c->file_left;
        ssize_t w = sendfile(c->fd, c->file_fd, &c->file_off, n);
        if (w < 0)
            return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        if (w == 0)
            return -1;      /* file shrank under us: the response is broken */
        c->file_left -= w;
        return 0;
    }
#endif
    if (buf_len(&c->out) >= CONN_OUT_HIGH_WATER)
        return 0;
    size_t want = c->file_left > (off_t)FILE_CHUNK ? FILE_CHUNK : (size_t)c->file_left;
    char *dst = buf_space(&c->out, want);
    if (!dst)
        return 0;
    ssize_t r = pread(c->file_fd, dst, want, c->file_off);
    if (r <= 0)
        return -1;
    buf_commit(&c->out, (size_t)r);
    c->file_off += r;
    c->file_left -= r;
    return 0;
}

/* Writes what is queued.  Returns 0, or -1 when the connection died. */
static int conn_flush(struct conn *c)
{
    for (;;) {
        if (c->file_left && c->file_fd >= 0 && conn_send_file(c) < 0)
            return -1;
        if (buf_len(&c->out) == 0)
            break;
        ssize_t n = buf_write_fd(&c->out, c->fd);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            return -1;
        }
        if (c->file_left == 0 && buf_len(&c->out) == 0)
            break;
    }
    if (c->file_left == 0 && c->file_fd >= 0) {
        close(c->file_fd);
        c->file_fd = -1;
    }
    return 0;
}

/* Runs the drain callback once the output is low.  Only from conn_io():
 * called from inside http_txn_write() it would recurse into the producer
 * (one frame per piece) and free its state under it. */
static void conn_drained(struct conn *c)
{
    http_txn *t = c->txn;
    if (c->state == CONN_CLOSED || !t || !t->drain_cb ||
        buf_len(&c->out) >= CONN_OUT_HIGH_WATER / 2)
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
            (c->state == CONN_HEAD && buf_len(&c->in) == 0 && buf_len(&c->out) == 0)) {
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
    t->handed = true;
    s->stats.requests_total++;
    s->handler(t, s->arg);
}

static void conn_continue_100(struct conn *c)
{
    http_txn *t = c->txn;
    if ((t->head.flags & HTTP_F_EXPECT_CONTINUE) && t->head.version_minor >= 1 &&
        buf_len(&c->in) == 0)
        buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
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
    if (s->cfg.stream_body || !t->has_body) {
        conn_dispatch(c);
        return;
    }
    conn_continue_100(c);
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
 * sets *done at the end; -1 on a malformed chunk. */
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
        conn_error(c, 400);
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
        conn_close(c);
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

static void conn_after_response(struct conn *c)
{
    if (c->close_after || c->eof) {
        if (c->eof) {
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
    c->busy++;
    c->yielded = false;
    unsigned handled = 0;
    for (;;) {
        enum conn_state before = c->state;
        size_t in_before = buf_len(&c->in);
        switch (c->state) {
        case CONN_HEAD:
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
            conn_stream_body(c);
            break;
        case CONN_SEND:
            if (conn_flush(c) < 0) {
                conn_close(c);
                goto out;
            }
            if (buf_len(&c->out) == 0 && c->file_left == 0)
                conn_after_response(c);
            else
                conn_arm(c);
            break;
        case CONN_LINGER:
        case CONN_CLOSED:
            goto out;
        }
        if (c->state == before && buf_len(&c->in) == in_before)
            break;
    }
    if (c->state != CONN_CLOSED && buf_len(&c->out) && conn_flush(c) < 0)
        conn_close(c);
out:
    c->busy--;
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
    conn_step(c);
    conn_update(c);
}

/* --- accepting --- */

static void srv_pause_accept(http_server *s, bool pause)
{
    for (size_t i = 0; i < s->nlisteners; i++)
        ev_io_events(s->loop, s->lfds[i], pause ? 0 : EV_READ);
    s->accept_paused = pause;
}

static void srv_resume_accept(ev_loop *loop, ev_timer *t, void *arg)
{
    (void)loop; (void)t;
    http_server *s = arg;
    if (!s->shutting_down)
        srv_pause_accept(s, false);
}

static void conn_new(http_server *s, int fd, const struct sockaddr_storage *ss)
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
    c->file_fd = -1;
    c->events = EV_READ;
    c->state = CONN_HEAD;
    buf_init(&c->in, CONN_IN_CAP);
    buf_init(&c->out, CONN_OUT_CAP);
    ev_timer_init(&c->timer, conn_timeout, c);
    net_addr_str((const struct sockaddr *)ss, c->remote, &c->remote_port);
    c->local_port = -1;
    net_set_nodelay(fd);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->stats.connections_total++;
    s->stats.connections_active++;
    conn_arm(c);
}

/* One line per ACCEPT_WARN_MS at most: a server out of descriptors would
 * otherwise fill its log ten times a second. */
static void srv_warn_pause(http_server *s)
{
    uint64_t now = ev_now_ms(s->loop);
    s->accept_pauses++;
    if (s->accept_warned_ms && now - s->accept_warned_ms < ACCEPT_WARN_MS)
        return;
    log_warn("accept paused %u time(s) for %d ms each", s->accept_pauses, ACCEPT_PAUSE_MS);
    s->accept_warned_ms = now;
    s->accept_pauses = 0;
}

static void srv_accept(ev_loop *loop, int lfd, int events, void *arg)
{
    http_server *s = arg;
    (void)loop; (void)events;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len;
        int fd = net_accept(lfd, &ss, &len);
        if (fd >= 0) {
            conn_new(s, fd, &ss);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors: the pending connection stays in the
             * backlog; rest instead of spinning on a readable listener. */
            srv_warn_pause(s);
            srv_pause_accept(s, true);
            ev_timer_start(s->loop, &s->accept_timer, ACCEPT_PAUSE_MS, 0);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            log_warn("accept");
        }
        return;
    }
}

/* --- server object --- */

http_server *http_server_new(ev_loop *loop, const struct http_server_config *cfg,
                             http_handler_fn handler, void *arg)
{
    http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->loop = loop;
    if (cfg)
        s->cfg = *cfg;
    s->handler = handler;
    s->arg = arg;
    ev_timer_init(&s->accept_timer, srv_resume_accept, s);
    ev_timer_init(&s->grace_timer, srv_grace_over, s);
    return s;
}

void http_server_set_handler(http_server *s, http_handler_fn handler, void *arg)
{
    s->handler = handler;
    s->arg = arg;
}

int http_server_adopt(http_server *s, int fd)
{
    if (s->nlisteners >= SRV_MAX_LISTENERS) {
        errno = ENOSPC;
        return -1;
    }
    if (net_set_nonblock(fd) < 0 || ev_io_set(s->loop, fd, EV_READ, srv_accept, s) < 0)
        return -1;
    s->lfds[s->nlisteners++] = fd;
    return 0;
}

int http_server_listen(http_server *s, const char *ip, int port)
{
    int fd = net_listen(ip, port, 1024);
    if (fd < 0)
        return -1;
    if (http_server_adopt(s, fd) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return 0;
}

int http_server_port(const http_server *s)
{
    return s->nlisteners ? net_local_port(s->lfds[0]) : -1;
}

ev_loop *http_server_loop(const http_server *s) { return s->loop; }

void http_server_get_stats(const http_server *s, struct http_server_stats *st)
{
    *st = s->stats;
}

static void srv_close_listeners(http_server *s)
{
    for (size_t i = 0; i < s->nlisteners; i++) {
        ev_io_del(s->loop, s->lfds[i]);
        close(s->lfds[i]);
    }
    s->nlisteners = 0;
    ev_timer_stop(s->loop, &s->accept_timer);
}

static void srv_finish_shutdown(http_server *s)
{
    void (*done)(http_server *, void *) = s->done;
    s->done = NULL;
    ev_timer_stop(s->loop, &s->grace_timer);
    if (done)
        done(s, s->done_arg);
}

static void srv_maybe_done(http_server *s)
{
    if (s->shutting_down && s->conns == NULL)
        srv_finish_shutdown(s);
}

static void srv_grace_over(ev_loop *loop, ev_timer *t, void *arg)
{
    http_server *s = arg;
    (void)loop; (void)t;
    while (s->conns)
        conn_close(s->conns);
    srv_finish_shutdown(s);
}

void http_server_shutdown(http_server *s, unsigned grace_ms,
                          void (*done)(http_server *, void *), void *arg)
{
    s->shutting_down = true;
    s->done = done;
    s->done_arg = arg;
    srv_close_listeners(s);
    struct conn *c = s->conns, *next;
    for (; c; c = next) {
        next = c->next;
        if (c->state == CONN_HEAD && buf_len(&c->in) == 0 && buf_len(&c->out) == 0)
            conn_close(c);
        else
            c->close_after = true;
    }
    ev_timer_start(s->loop, &s->grace_timer, grace_ms, 0);
    srv_maybe_done(s);
}

void http_server_free(http_server *s)
{
    if (!s)
        return;
    s->done = NULL;
    s->shutting_down = true;
    srv_close_listeners(s);
    while (s->conns)
        conn_close(s->conns);
    ev_timer_stop(s->loop, &s->grace_timer);
    free(s);
}

/* --- request view --- */

const struct http_head *http_txn_head(const http_txn *t) { return &t->head; }
enum http_method http_txn_method(const http_txn *t) { return t->head.method; }
const char *http_txn_method_str(const http_txn *t) { return t->head.method_str ? t->head.method_str : ""; }
const char *http_txn_target(const http_txn *t) { return t->head.target ? t->head.target : ""; }
const char *http_txn_path(const http_txn *t) { return t->path ? t->path : ""; }
const char *http_txn_query(const http_txn *t) { return t->query ? t->query : ""; }
const char *http_txn_remote_addr(const http_txn *t) { return t->remote; }
int http_txn_remote_port(const http_txn *t) { return t->c ? t->c->remote_port : 0; }
http_server *http_txn_server(const http_txn *t) { return t->srv; }
ev_loop *http_txn_loop(const http_txn *t) { return t->srv->loop; }
void *http_txn_get_data(const http_txn *t) { return t->data; }
void http_txn_set_data(http_txn *t, void *data) { t->data = data; }

int http_txn_local_port(const http_txn *t)
{
    struct conn *c = t->c;
    if (c && c->local_port < 0)
        c->local_port = net_local_port(c->fd);
    return c ? c->local_port : -1;
}

bool http_txn_closing(const http_txn *t)
{
    return !txn_keepalive(t);
}

const char *http_txn_header(const http_txn *t, const char *name)
{
    if (!t->raw)
        return NULL;
    const struct http_header *h = http_head_find(&t->head, name);
    return h ? h->value : NULL;
}

const char *http_txn_body(const http_txn *t, size_t *len)
{
    if (len)
        *len = buf_len(&t->body);
    return buf_len(&t->body) ? buf_ptr(&t->body) : "";
}

void http_txn_log_note(http_txn *t, const char *note)
{
    size_t have = strlen(t->note);
    snprintf(t->note + have, sizeof(t->note) - have, "%s%s", have ? " " : "", note);
}

/* --- streaming request body --- */

void http_txn_on_body(http_txn *t, http_body_cb cb, void *arg)
{
    t->body_cb = cb;
    t->body_arg = arg;
    struct conn *c = t->c;
    if (!c)
        return;
    conn_continue_100(c);
    if (c->busy == 0) {
        conn_step(c);
        conn_update(c);
    }
}

void http_txn_pause_body(http_txn *t, bool paused)
{
    t->body_paused = paused;
    struct conn *c = t->c;
    if (!paused && c && c->busy == 0) {
        conn_step(c);
        conn_update(c);
    }
}

/* --- response --- */

void http_txn_set_status(http_txn *t, int status)
{
    t->status = status;
}

int http_txn_add_header(http_txn *t, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (!http_is_token(name, nl) || !http_is_field_value(value, vl)) {
        errno = EINVAL;
        return -1;
    }
    size_t mark = buf_len(&t->fields);
    if (buf_append(&t->fields, name, nl) < 0 || buf_append(&t->fields, ": ", 2) < 0 ||
        buf_append(&t->fields, value, vl) < 0 || buf_append(&t->fields, "\r\n", 2) < 0) {
        t->fields.len = mark;
        return -1;
    }
    return 0;
}

int http_txn_add_headerf(http_txn *t, const char *name, const char *fmt, ...)
{
    char value[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(value)) {
        errno = ENOBUFS;
        return -1;
    }
    return http_txn_add_header(t, name, value);
}

int http_txn_append(http_txn *t, const void *p, size_t n)
{
    return buf_append(&t->content, p, n);
}

int http_txn_printf(http_txn *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = buf_vprintf(&t->content, fmt, ap);
    va_end(ap);
    return r;
}

/* Common guard: a response can be started once. */
static bool txn_can_answer(http_txn *t)
{
    if (t->res != RES_NONE) {
        log_warnx("response for %s answered twice: ignored", http_txn_path(t));
        return false;
    }
    return true;
}

void http_txn_finish(http_txn *t)
{
    if (!txn_can_answer(t))
        return;
    struct conn *c = t->c;
    if (c) {
        size_t n = buf_len(&t->content);
        if (txn_write_head(t, status_has_body(t->status) ? (int64_t)n : -1) < 0) {
            conn_close(c);
        } else if (!t->head_only && status_has_body(t->status)) {
            if (buf_append(&c->out, buf_ptr(&t->content), n) < 0)
                conn_close(c);
            t->body_bytes = n;
        }
    }
    txn_complete(t);
}

void http_txn_reply(http_txn *t, int status, const char *content_type,
                    const void *body, size_t len)
{
    t->status = status;
    if (content_type)
        http_txn_add_header(t, "Content-Type", content_type);
    buf_reset(&t->content);
    if (http_txn_append(t, body, len) < 0) {
        t->status = 500;
        buf_reset(&t->content);
    }
    http_txn_finish(t);
}

void http_txn_error(http_txn *t, int status)
{
    if (t->c && status_closes(status))
        t->c->close_after = true;
    const char *text = http_status_text(status);
    char page[512];
    int n = snprintf(page, sizeof(page),
                     "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title></head>\n"
                     "<body><h1>%d %s</h1></body></html>\n", status, text, status, text);
    if (!t->handed)
        t->srv->stats.errors_total++;
    http_txn_reply(t, status, "text/html; charset=utf-8", page, (size_t)n);
}

void http_txn_send_file(http_txn *t, int fd, off_t offset, off_t length)
{
    if (!txn_can_answer(t)) {
        close(fd);
        return;
    }
    struct conn *c = t->c;
    if (!c || txn_write_head(t, (int64_t)length) < 0) {
        close(fd);
        if (c)
            conn_close(c);
        txn_complete(t);
        return;
    }
    if (t->head_only || length == 0) {
        close(fd);
    } else {
        c->file_fd = fd;
        c->file_off = offset;
        c->file_left = length;
        t->body_bytes = (uint64_t)length;
    }
    txn_complete(t);
}

int http_txn_begin(http_txn *t, int64_t content_length)
{
    if (!txn_can_answer(t))
        return -1;
    if (!t->c) {
        errno = EPIPE;
        return -1;
    }
    if (txn_write_head(t, content_length) < 0)
        return -1;
    t->res = RES_STREAM;
    if (!t->head_only && status_has_body(t->status))
        t->declared_len = content_length;
    struct conn *c = t->c;
    if (c->busy == 0 && conn_flush(c) == 0)
        conn_update(c);
    return 0;
}

int http_txn_write(http_txn *t, const void *p, size_t n)
{
    struct conn *c = t->c;
    if (!c) {
        errno = EPIPE;
        return -1;
    }
    if (t->res != RES_STREAM) {
        errno = EINVAL;
        return -1;
    }
    if (t->head_only || n == 0)
        return 0;
    /* more than the announced length would be read as the next response */
    if (t->declared_len >= 0 && t->body_bytes + n > (uint64_t)t->declared_len) {
        errno = EINVAL;
        return -1;
    }
    size_t need = n + (t->chunked_out ? 20 : 0);
    if (buf_room(&c->out) < need) {
        errno = ENOBUFS;
        return -1;
    }
    if (t->chunked_out)
        buf_printf(&c->out, "%zx\r\n", n);
    buf_append(&c->out, p, n);
    if (t->chunked_out)
        buf_append(&c->out, "\r\n", 2);
    t->body_bytes += n;
    if (c->busy == 0) {
        if (conn_flush(c) < 0) {
            conn_close(c);
            errno = EPIPE;
            return -1;
        }
        conn_update(c);
    }
    return 0;
}

void http_txn_end(http_txn *t)
{
    if (t->res != RES_STREAM) {
        log_warnx("http_txn_end without http_txn_begin");
        if (t->res == RES_NONE)
            http_txn_error(t, 500);
        return;
    }
    struct conn *c = t->c;
    if (c && t->chunked_out && !t->head_only && buf_append(&c->out, "0\r\n\r\n", 5) < 0)
        conn_close(c);
    /* Close-delimited bodies were made closing by txn_write_head(); a body
     * shorter than its Content-Length can only be reported by closing. */
    if (c && t->declared_len >= 0 && t->body_bytes < (uint64_t)t->declared_len)
        c->close_after = true;
    txn_complete(t);
}

bool http_txn_congested(const http_txn *t)
{
    return t->c && buf_len(&t->c->out) >= CONN_OUT_HIGH_WATER;
}

void http_txn_on_drain(http_txn *t, http_txn_cb cb, void *arg)
{
    t->drain_cb = cb;
    t->drain_arg = arg;
    if (t->c && t->c->busy == 0)
        conn_update(t->c);
}

void http_txn_on_free(http_txn *t, http_txn_cb cb, void *arg)
{
    t->free_cb = cb;
    t->free_arg = arg;
}

void http_txn_on_close(http_txn *t, http_txn_cb cb, void *arg)
{
    t->close_cb = cb;
    t->close_arg = arg;
}

void http_txn_abort(http_txn *t)
{
    struct conn *c = t->c;
    if (t->res == RES_NONE)
        t->status = 499;    /* nginx's "client closed" code, for the log */
    t->res = RES_DONE;
    if (c) {
        c->txn = NULL;
        t->c = NULL;
        conn_close(c);
    }
    txn_log(t);
    txn_free(t);
}

int http_txn_hijack(http_txn *t, buf *rest)
{
    struct conn *c = t->c;
    if (!c || c->state == CONN_CLOSED) {
        if (!c)
            txn_free(t);
        errno = EPIPE;
        return -1;
    }
    int fd = c->fd;
    if (buf_append(rest, buf_ptr(&c->in), buf_len(&c->in)) < 0)
        return -1;
    ev_io_del(c->srv->loop, fd);
    c->fd = -1;
    c->txn = NULL;
    t->c = NULL;
    t->status = 101;
    t->res = RES_DONE;
    txn_log(t);
    txn_free(t);
    conn_close(c);
    return fd;
}
