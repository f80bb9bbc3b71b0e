/*
 * http_client.c - non-blocking HTTP/1.1 client.  See weaprous/http_client.h.
 *
 * Each request is a state machine (CONNECTING -> SENDING -> READ_HEAD ->
 * READ_BODY -> DONE) advanced by one transition function, hc_step(), with
 * one timer: in CONNECTING the earlier of the connect and overall
 * deadlines, afterwards the overall deadline.  Interest is derived from the
 * state (hc_interest).  The response is read by the library's response
 * reader (http_reader_*, weaprous/http.h).  A finished keep-alive
 * connection goes to the client's idle pool, where it is watched for the
 * server closing it.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weaprous/buf.h"
#include "weaprous/http_client.h"
#include "weaprous/net.h"

enum hc_state {
    HC_STATE_CONNECTING,  /* waiting for the connect to finish */
    HC_STATE_SENDING,     /* writing the request */
    HC_STATE_READ_HEAD,   /* reading the status line and fields */
    HC_STATE_READ_BODY,   /* reading the body */
    HC_STATE_DONE         /* callback ran or cancelled; freed after the pass */
};

enum hc_event { HC_EV_WRITABLE, HC_EV_READABLE, HC_EV_TIMEOUT };

struct hc_idle {
    hc_client *client;
    int fd;                        /* -1: free slot */
    struct sockaddr_storage sa;
    socklen_t salen;
    ev_timer timer;
};

struct hc_client {
    ev_loop *loop;
    struct hc_config cfg;
    struct hc_idle pool[HC_POOL_MAX];
    hc_request *active;            /* requests in flight (for free) */
    unsigned long connects;
};

struct hc_request {
    hc_client *client;
    hc_request *prev, *next;
    enum hc_state state;
    int fd;
    struct sockaddr_storage sa;
    socklen_t salen;
    bool idempotent;
    bool reused, retried, got_bytes;
    int pending_err;               /* failure to report from the timer */
    uint64_t deadline_ms;
    ev_timer timer;
    buf out, in, body;
    size_t sent;                   /* request bytes written */
    hc_done_cb cb;
    void *arg;
    struct http_reader reader;     /* the response: head, framing, caps */
};

static void hc_step(hc_request *r, enum hc_event ev);
static int hc_connect(hc_request *r);

/* --- idle pool --- */

static void hc_idle_close(struct hc_idle *e)
{
    ev_timer_stop(e->client->loop, &e->timer);
    ev_io_del(e->client->loop, e->fd);
    close(e->fd);
    e->fd = -1;
}

/* Any readiness of an idle connection means the server closed it or sent
 * something unasked: either way it is no longer usable. */
static void hc_idle_io(ev_loop *loop, int fd, int events, void *arg)
{
    (void)loop; (void)fd; (void)events;
    hc_idle_close(arg);
}

static void hc_idle_timeout(ev_loop *loop, ev_timer *t, void *arg)
{
    (void)loop; (void)t;
    hc_idle_close(arg);
}

static bool hc_same_dest(const struct hc_idle *e, const struct sockaddr_storage *sa,
                         socklen_t salen)
{
    return e->fd >= 0 && e->salen == salen && memcmp(&e->sa, sa, salen) == 0;
}

/* Parks fd in the pool, or closes it when the destination has enough idle
 * connections or the pool is full. */
static void hc_idle_put(hc_client *c, int fd, const struct sockaddr_storage *sa,
                        socklen_t salen)
{
    struct hc_idle *slot = NULL;
    unsigned same = 0;

    for (size_t i = 0; i < HC_POOL_MAX; i++) {
        if (hc_same_dest(&c->pool[i], sa, salen))
            same++;
        else if (c->pool[i].fd < 0 && !slot)
            slot = &c->pool[i];
    }
    if (!slot || same >= c->cfg.max_idle_per_dest ||
        ev_io_set(c->loop, fd, EV_READ, hc_idle_io, slot) < 0) {
        close(fd);
        return;
    }
    slot->fd = fd;
    slot->sa = *sa;
    slot->salen = salen;
    ev_timer_start(c->loop, &slot->timer, c->cfg.idle_timeout_ms, 0);
}

/* Takes an idle connection to the destination, or returns -1. */
static int hc_idle_take(hc_client *c, const struct sockaddr_storage *sa, socklen_t salen)
{
    for (size_t i = 0; i < HC_POOL_MAX; i++) {
        struct hc_idle *e = &c->pool[i];
        if (!hc_same_dest(e, sa, salen))
            continue;
        int fd = e->fd;
        ev_timer_stop(c->loop, &e->timer);
        ev_io_del(c->loop, fd);
        e->fd = -1;
        return fd;
    }
    return -1;
}

/* --- client --- */

hc_client *hc_client_new(ev_loop *loop, const struct hc_config *cfg)
{
    hc_client *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->loop = loop;
    if (cfg)
        c->cfg = *cfg;
    if (!c->cfg.connect_timeout_ms) c->cfg.connect_timeout_ms = HC_DEFAULT_CONNECT_TIMEOUT_MS;
    if (!c->cfg.timeout_ms) c->cfg.timeout_ms = HC_DEFAULT_TIMEOUT_MS;
    if (!c->cfg.max_body) c->cfg.max_body = HC_DEFAULT_MAX_BODY;
    if (!c->cfg.idle_timeout_ms) c->cfg.idle_timeout_ms = HC_DEFAULT_IDLE_TIMEOUT_MS;
    if (!c->cfg.max_idle_per_dest) c->cfg.max_idle_per_dest = HC_DEFAULT_MAX_IDLE_PER_DEST;
    for (size_t i = 0; i < HC_POOL_MAX; i++) {
        c->pool[i].client = c;
        c->pool[i].fd = -1;
        ev_timer_init(&c->pool[i].timer, hc_idle_timeout, &c->pool[i]);
    }
    return c;
}

void hc_client_free(hc_client *c)
{
    if (!c)
        return;
    while (c->active)
        hc_cancel(c->active);
    for (size_t i = 0; i < HC_POOL_MAX; i++)
        if (c->pool[i].fd >= 0)
            hc_idle_close(&c->pool[i]);
    free(c);
}

size_t hc_client_idle(const hc_client *c)
{
    size_t n = 0;
    for (size_t i = 0; i < HC_POOL_MAX; i++)
        n += c->pool[i].fd >= 0;
    return n;
}

unsigned long hc_client_connects(const hc_client *c)
{
    return c->connects;
}

/* --- request life --- */

static void hc_free_deferred(ev_loop *loop, void *arg)
{
    hc_request *r = arg;
    (void)loop;
    buf_free(&r->out);
    buf_free(&r->in);
    buf_free(&r->body);
    free(r);
}

static void hc_close_fd(hc_request *r)
{
    if (r->fd < 0)
        return;
    ev_io_del(r->client->loop, r->fd);
    close(r->fd);
    r->fd = -1;
}

/* The one teardown: unlink, stop the timer, release or pool the socket,
 * free after the pass (the caller's callback chain may still hold r). */
static void hc_release(hc_request *r, bool pool)
{
    hc_client *c = r->client;

    r->state = HC_STATE_DONE;
    ev_timer_stop(c->loop, &r->timer);
    if (r->prev) r->prev->next = r->next; else c->active = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = NULL;
    if (pool && r->fd >= 0) {
        ev_io_del(c->loop, r->fd);
        hc_idle_put(c, r->fd, &r->sa, r->salen);
        r->fd = -1;
    }
    hc_close_fd(r);
    /* if even the deferral fails r leaks: freeing it now could pull it
     * from under the caller's callback chain */
    (void)ev_defer(c->loop, hc_free_deferred, r);
}

static void hc_fail(hc_request *r, int err)
{
    hc_done_cb cb = r->cb;
    void *arg = r->arg;

    hc_release(r, false);
    cb(r, err, NULL, arg);
}

/* A reused connection that the server closed before answering anything is
 * retried once on a fresh connection when the method is idempotent (RFC
 * 9112 9.3.1: a server may close an idle connection at any moment).
 * Returns true when the retry is under way. */
static bool hc_retry(hc_request *r)
{
    if (!r->reused || r->retried || r->got_bytes || !r->idempotent)
        return false;
    hc_close_fd(r);
    r->retried = true;
    r->reused = false;
    r->sent = 0;
    return hc_connect(r) == 0;
}

/* r->in is not touched once the head is in: the head's field pointers
 * into it stay valid until the callback returns. */
static void hc_complete(hc_request *r)
{
    struct hc_response resp;
    hc_done_cb cb = r->cb;
    void *arg = r->arg;
    char nul = '\0';

    if (buf_append(&r->body, &nul, 1) < 0) {
        hc_fail(r, ENOMEM);
        return;
    }
    resp.status = r->reader.head.status;
    resp.head = &r->reader.head;
    resp.body = buf_ptr(&r->body);
    resp.body_len = buf_len(&r->body) - 1;
    /* pool first, so that a request started from the callback can reuse
     * the connection; free comes after the pass */
    hc_release(r, r->reader.keepalive);
    cb(r, 0, &resp, arg);
}

static void hc_interest(hc_request *r)
{
    int ev = 0;

    if (r->state == HC_STATE_DONE || r->fd < 0)
        return;
    if (r->state == HC_STATE_CONNECTING || r->state == HC_STATE_SENDING)
        ev = EV_WRITE;
    else
        ev = EV_READ;
    ev_io_events(r->client->loop, r->fd, ev);
}

/* --- response --- */

/* The errno of a reader's HTTP_ERROR. */
static int hc_reader_error(const hc_request *r)
{
    return r->reader.too_large ? -EMSGSIZE : -EPROTO;
}

/* Frames raw body bytes at p[0..n) (chunked decoded in place) into the
 * body.  Returns 1 when the body is complete, 0 for more, or -errno. */
static int hc_body_bytes(hc_request *r, char *p, size_t n)
{
    size_t k;
    ssize_t rc = http_reader_body(&r->reader, p, n, &k);

    if (rc == HTTP_ERROR)
        return hc_reader_error(r);
    if (buf_append(&r->body, p, k) < 0)
        return -ENOMEM;
    return rc == HTTP_AGAIN ? 0 : 1;
}

/* Reads the head in r->in (interim 1xx answers skipped); the bytes behind
 * it go to the body.  Returns 1 when the response is complete, 0 for more,
 * or -errno. */
static int hc_head(hc_request *r)
{
    int n = http_reader_head(&r->reader, buf_ptr(&r->in), buf_len(&r->in));

    if (n == HTTP_AGAIN)
        return buf_len(&r->in) >= HTTP_MAX_HEAD ? -EPROTO : 0;
    if (n < 0)
        return hc_reader_error(r);
    if (r->reader.head.status == 101)
        return -EPROTO;   /* we never ask for an upgrade */
    r->state = HC_STATE_READ_BODY;
    return hc_body_bytes(r, buf_ptr(&r->in) + n, buf_len(&r->in) - (size_t)n);
}

/* --- I/O --- */

/* Reads what is there; returns bytes read, 0 on EOF, -1 with errno. */
static ssize_t hc_read(hc_request *r, char *scratch, size_t size)
{
    ssize_t n;

    if (r->state == HC_STATE_READ_HEAD) {
        n = buf_read_fd(&r->in, r->fd, HTTP_MAX_HEAD);
        if (n < 0 && errno == ENOBUFS)
            errno = EPROTO;
    } else {
        n = read(r->fd, scratch, size);
    }
    if (n > 0)
        r->got_bytes = true;
    return n;
}

/* EOF or a read error: the end of a close-delimited body, a retry, or a
 * failure. */
static void hc_on_eof(hc_request *r, int err)
{
    if (err == 0 && r->state == HC_STATE_READ_BODY && http_reader_eof(&r->reader)) {
        hc_complete(r);
        return;
    }
    if (!hc_retry(r))
        hc_fail(r, err ? err : ECONNRESET);
}

static void hc_on_readable(hc_request *r)
{
    char scratch[16384];
    ssize_t n = hc_read(r, scratch, sizeof scratch);
    int res;

    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            hc_on_eof(r, errno == EPROTO ? EPROTO : errno);
        return;
    }
    if (n == 0) {
        hc_on_eof(r, 0);
        return;
    }
    if (r->state == HC_STATE_READ_HEAD) {
        res = hc_head(r);
    } else {
        res = hc_body_bytes(r, scratch, (size_t)n);
    }
    if (res < 0)
        hc_fail(r, -res);
    else if (res == 1)
        hc_complete(r);
}

static void hc_on_writable(hc_request *r)
{
    if (r->state == HC_STATE_CONNECTING) {
        if (net_connect_result(r->fd) < 0) {
            hc_fail(r, errno);
            return;
        }
        r->state = HC_STATE_SENDING;
        /* the overall deadline alone from now on */
        uint64_t now = ev_now_ms(r->client->loop);
        ev_timer_start(r->client->loop, &r->timer,
                       r->deadline_ms > now ? r->deadline_ms - now : 0, 0);
    }
    ssize_t n = send(r->fd, buf_ptr(&r->out) + r->sent, buf_len(&r->out) - r->sent,
                     MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && !hc_retry(r))
            hc_fail(r, errno);
        return;
    }
    r->sent += (size_t)n;
    if (r->sent == buf_len(&r->out))
        r->state = HC_STATE_READ_HEAD;
}

/* The transition function. */
static void hc_step(hc_request *r, enum hc_event ev)
{
    if (r->state == HC_STATE_DONE)
        return;
    switch (ev) {
    case HC_EV_TIMEOUT:
        hc_fail(r, r->pending_err ? r->pending_err : ETIMEDOUT);
        return;
    case HC_EV_WRITABLE:
        if (r->state == HC_STATE_CONNECTING || r->state == HC_STATE_SENDING)
            hc_on_writable(r);
        break;
    case HC_EV_READABLE:
        if (r->state == HC_STATE_READ_HEAD || r->state == HC_STATE_READ_BODY)
            hc_on_readable(r);
        break;
    }
    hc_interest(r);
}

static void hc_on_io(ev_loop *loop, int fd, int events, void *arg)
{
    (void)loop; (void)fd;
    hc_step(arg, (events & EV_WRITE) ? HC_EV_WRITABLE : HC_EV_READABLE);
}

static void hc_on_timer(ev_loop *loop, ev_timer *t, void *arg)
{
    (void)loop; (void)t;
    hc_step(arg, HC_EV_TIMEOUT);
}

/* Opens the connection: an idle one from the pool, else a new non-blocking
 * connect.  An immediate connect failure is reported from the timer, so
 * that the callback never runs inside hc_request_start(). */
static int hc_connect(hc_request *r)
{
    hc_client *c = r->client;
    uint64_t now = ev_now_ms(c->loop);

    r->fd = r->retried ? -1 : hc_idle_take(c, &r->sa, r->salen);
    r->reused = r->fd >= 0;
    r->state = r->reused ? HC_STATE_SENDING : HC_STATE_CONNECTING;
    if (!r->reused) {
        r->fd = net_connect((const struct sockaddr *)&r->sa, r->salen);
        c->connects++;
    }
    if (r->fd < 0 || ev_io_set(c->loop, r->fd, EV_WRITE, hc_on_io, r) < 0) {
        r->pending_err = errno;
        hc_close_fd(r);
        return ev_timer_start(c->loop, &r->timer, 0, 0);
    }
    uint64_t left = r->deadline_ms > now ? r->deadline_ms - now : 0;
    if (!r->reused && c->cfg.connect_timeout_ms < left)
        left = c->cfg.connect_timeout_ms;
    return ev_timer_start(c->loop, &r->timer, left, 0);
}

/* --- request --- */

static bool hc_line_ok(const char *s)
{
    return s && *s && http_is_field_value(s, strlen(s));
}

/* Request line, Host, the caller's fields, Content-Length, blank line. */
static int hc_build(hc_request *r, const char *method, const char *host,
                    const char *target, const char *const *headers,
                    const void *body, size_t body_len)
{
    bool has_body = body_len > 0 || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
                    !strcmp(method, "PATCH");

    if (!http_is_token(method, strlen(method)) || !hc_line_ok(target) ||
        strpbrk(target, " \t") || !hc_line_ok(host)) {
        errno = EINVAL;
        return -1;
    }
    if (buf_printf(&r->out, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host) < 0)
        return -1;
    for (size_t i = 0; headers && headers[i]; i++) {
        const char *colon = strchr(headers[i], ':');
        if (!hc_line_ok(headers[i]) || !colon ||
            !http_is_token(headers[i], (size_t)(colon - headers[i]))) {
            errno = EINVAL;
            return -1;
        }
        if (buf_printf(&r->out, "%s\r\n", headers[i]) < 0)
            return -1;
    }
    if (has_body && buf_printf(&r->out, "Content-Length: %zu\r\n", body_len) < 0)
        return -1;
    if (buf_puts(&r->out, "\r\n") < 0 || (body_len && buf_append(&r->out, body, body_len) < 0))
        return -1;
    return 0;
}

static hc_request *hc_request_alloc(hc_client *c, const struct sockaddr *sa,
                                    socklen_t salen, size_t body_len)
{
    hc_request *r;

    if (salen > sizeof r->sa) {
        errno = EINVAL;
        return NULL;
    }
    r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->client = c;
    r->fd = -1;
    memcpy(&r->sa, sa, salen);
    r->salen = salen;
    buf_init(&r->out, HC_MAX_REQUEST_HEAD + body_len);
    buf_init(&r->in, HTTP_MAX_HEAD + 1);
    buf_init(&r->body, c->cfg.max_body + 1);
    ev_timer_init(&r->timer, hc_on_timer, r);
    return r;
}

hc_request *hc_request_start(hc_client *c, const struct sockaddr *sa, socklen_t salen,
                             const char *method, const char *host,
                             const char *target, const char *const *headers,
                             const void *body, size_t body_len,
                             hc_done_cb cb, void *arg)
{
    if (!cb || !method || !sa) {
        errno = EINVAL;
        return NULL;
    }
    hc_request *r = hc_request_alloc(c, sa, salen, body_len);
    if (!r)
        return NULL;
    if (hc_build(r, method, host, target, headers, body, body_len) < 0) {
        int e = errno;
        hc_free_deferred(c->loop, r);
        errno = e;
        return NULL;
    }
    enum http_method m = http_method_parse(method, strlen(method));
    http_reader_init(&r->reader, m == HTTP_M_HEAD, c->cfg.max_body);
    r->idempotent = http_method_idempotent(m);
    r->cb = cb;
    r->arg = arg;
    r->deadline_ms = ev_now_ms(c->loop) + c->cfg.timeout_ms;
    r->next = c->active;
    if (c->active)
        c->active->prev = r;
    c->active = r;
    hc_connect(r);
    return r;
}

hc_request *hc_post_json(hc_client *c, const struct sockaddr *sa, socklen_t salen,
                         const char *host, const char *target, const char *json,
                         size_t len, hc_done_cb cb, void *arg)
{
    static const char *const hdrs[] = {
        "Content-Type: application/json", "Accept: application/json", NULL
    };
    return hc_request_start(c, sa, salen, "POST", host, target, hdrs, json, len, cb, arg);
}

void hc_cancel(hc_request *r)
{
    if (r->state != HC_STATE_DONE)
        hc_release(r, false);
}
