/*
 * test_server.c - server object life cycle on the reactor (src/server.c):
 * freeing or shutting down a server must leave the loop's other timers and
 * descriptors alone; a reply made later (from a timer) never runs the next
 * pipelined request's handler inside itself.  The HTTP behaviour itself is
 * tested end to end by t/engine.t.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "weaprous.h"
#include "tap.h"

struct fired {
    int  n;
    bool done;
};

static void on_timer(ev_loop *loop, ev_timer *t, void *arg)
{
    struct fired *f = arg;
    f->n++;
}

static void on_done(http_server *s, void *arg)
{
    struct fired *f = arg;
    f->done = true;
}

static void handler(http_txn *t, void *arg)
{
    http_txn_error(t, 404);
}

/* A server freed without a prior shutdown must not touch timers it never
 * started (its grace timer): the user's timer still fires. */
static void test_free_keeps_timers(void)
{
    ev_loop *loop = ev_loop_new(0);
    http_server *s = http_server_new(loop, NULL, handler, NULL);
    ok(s && http_server_listen(s, "127.0.0.1", 0) == 0, "server listening on a free port");
    ok(http_server_port(s) > 0, "  port %d", http_server_port(s));
    struct fired f = { 0, false };
    ev_timer t;
    ev_timer_init(&t, on_timer, &f);
    ev_timer_start(loop, &t, 10, 0);
    http_server_free(s);
    ok(ev_timer_active(&t), "after http_server_free, the user's timer is still active");
    ev_run(loop);
    is_int(f.n, 1, "  and fires");
    ev_loop_free(loop);
}

static void test_shutdown_idle(void)
{
    ev_loop *loop = ev_loop_new(0);
    struct fired f = { 0, false }, g = { 0, false };
    http_server *s = http_server_new(loop, NULL, handler, NULL);
    http_server_listen(s, "127.0.0.1", 0);
    ev_timer t;
    ev_timer_init(&t, on_timer, &g);
    ev_timer_start(loop, &t, 20, 0);
    http_server_shutdown(s, 5000, on_done, &f);
    ok(f.done, "shutdown of an idle server calls done at once");
    ev_run(loop);
    is_int(g.n, 1, "  other timers unaffected");
    http_server_free(s);
    ev_loop_free(loop);
}

/* --- a late reply and the next pipelined request --- */

struct late {
    ev_loop  *loop;
    http_txn *held;          /* /late, answered from the timer */
    ev_timer  timer, guard;
    bool      replying;      /* inside the timer's http_txn_reply() */
    int       next_calls, next_inside;
    bool      stream;        /* /stream: the timer asks for the body */
    int       body_calls, closes, closes_inside;
    char      got[4096];
    size_t    gotlen;
};

static void late_body(http_txn *t, const char *p, size_t n, bool done, void *arg)
{
    struct late *l = arg;
    l->body_calls++;
}

/* The client is gone: counted, and whether it came inside the timer's
 * call; the handler completes the transaction here. */
static void late_closed(http_txn *t, void *arg)
{
    struct late *l = arg;
    l->closes++;
    l->closes_inside += l->replying;
    http_txn_abort(t);
}

static void late_fire(ev_loop *loop, ev_timer *tm, void *arg)
{
    struct late *l = arg;
    http_txn *t = l->held;
    l->held = NULL;
    l->replying = true;
    if (l->stream)
        http_txn_on_body(t, late_body, l);
    else
        http_txn_reply(t, 200, "text/plain", "late\n", 5);
    l->replying = false;
}

static void late_handler(http_txn *t, void *arg)
{
    struct late *l = arg;
    if (strcmp(http_txn_path(t), "/stream") == 0) {
        l->stream = true;
        http_txn_on_close(t, late_closed, l);
    }
    if (strcmp(http_txn_path(t), "/late") == 0 || l->stream) {
        const char *ms = strstr(http_txn_query(t), "ms=");
        l->held = t;
        ev_timer_start(l->loop, &l->timer, ms ? (uint64_t)atoi(ms + 3) : 5, 0);
        return;
    }
    l->next_calls++;
    l->next_inside += l->replying;
    http_txn_reply(t, 200, "text/plain", "next\n", 5);
}

/* Counts "HTTP/1.1 200" in what came back. */
static int late_answers(const struct late *l)
{
    int n = 0;
    for (const char *p = l->got; (p = strstr(p, "HTTP/1.1 200")) != NULL; p++)
        n++;
    return n;
}

static void late_client_io(ev_loop *loop, int fd, int events, void *arg)
{
    struct late *l = arg;
    ssize_t n = read(fd, l->got + l->gotlen, sizeof l->got - 1 - l->gotlen);
    if (n > 0) {
        l->gotlen += (size_t)n;
        l->got[l->gotlen] = '\0';
    }
    if (n <= 0 || late_answers(l) >= 2)   /* closed, or both answers in */
        ev_stop(loop);
}

static void late_guard(ev_loop *loop, ev_timer *tm, void *arg)
{
    ev_stop(loop);
}

/* Runs a server with cfg (may be NULL) and one client that sends reqs at
 * once, until the client has two answers, is closed, or 3 s passed; what
 * came back is in l->got. */
static void late_run(struct late *l, const struct http_server_config *cfg,
                     const char *reqs, const char *name)
{
    memset(l, 0, sizeof *l);
    l->loop = ev_loop_new(0);
    ev_timer_init(&l->timer, late_fire, l);
    ev_timer_init(&l->guard, late_guard, l);
    http_server *s = http_server_new(l->loop, cfg, late_handler, l);
    ok(s && http_server_listen(s, "127.0.0.1", 0) == 0, "%s: server listening", name);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)http_server_port(s)) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ok(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "%s: client connected", name);
    ok(write(fd, reqs, strlen(reqs)) == (ssize_t)strlen(reqs), "%s: sent at once", name);
    ev_io_set(l->loop, fd, EV_READ, late_client_io, l);
    ev_timer_start(l->loop, &l->guard, 3000, 0);
    ev_run(l->loop);
    ev_io_del(l->loop, fd);
    close(fd);
    ev_timer_stop(l->loop, &l->guard);
    ev_timer_stop(l->loop, &l->timer);
    http_server_free(s);
    ev_loop_free(l->loop);
}

/* Two pipelined requests in one segment: the first is answered 5 ms later
 * from a timer.  The second handler must run after that reply returned
 * (from the loop), never inside it, and both answers come back in order. */
static void test_late_reply_pipelined(void)
{
    struct late l;
    late_run(&l, NULL, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /next HTTP/1.1\r\nHost: x\r\n\r\n", "late");
    is_int(late_answers(&l), 2, "late: both answered");
    const char *a = strstr(l.got, "late\n"), *b = strstr(l.got, "next\n");
    ok(a && b && a < b, "late: in order");
    is_int(l.next_calls, 1, "late: the next handler ran once");
    is_int(l.next_inside, 0, "late: not inside the late reply's http_txn_reply()");
}

/* A handler slower than the header timeout still answers: the head was
 * complete, the timeout is not the handler's (the connection was closed
 * after header_timeout_ms before). */
static void test_slow_handler(void)
{
    struct late l;
    struct http_server_config cfg = { .header_timeout_ms = 50 };
    late_run(&l, &cfg, "GET /late?ms=200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             "slow");
    is_int(late_answers(&l), 1, "slow: answered 200 ms later with a 50 ms header timeout");
}

/* stream_body: the handler asks for the body from a timer, and the chunked
 * body that has arrived is malformed.  The client is dropped (its on_close
 * runs once), but after http_txn_on_body() returned, not inside it. */
static void test_late_bad_stream(void)
{
    struct late l;
    struct http_server_config cfg = { .stream_body = true };
    late_run(&l, &cfg, "POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "zz\r\n", "bad stream");
    is_int(l.body_calls, 0, "bad stream: no body delivered");
    is_int(l.closes, 1, "bad stream: on_close ran once");
    is_int(l.closes_inside, 0, "bad stream: not inside http_txn_on_body()");
    is_int(late_answers(&l), 0, "bad stream: no answer, the connection closed");
}

int main(void)
{
    test_free_keeps_timers();
    test_shutdown_idle();
    test_late_reply_pipelined();
    test_slow_handler();
    test_late_bad_stream();
    return done_testing();
}
