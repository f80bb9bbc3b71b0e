/*
 * test_server.c - server object life cycle on the reactor (src/server.c):
 * freeing or shutting down a server must leave the loop's other timers and
 * descriptors alone.  The HTTP behaviour itself is tested end to end by
 * t/engine.t.
 */
#include "config.h"

#include <stdbool.h>
#include <unistd.h>

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

int main(void)
{
    test_free_keeps_timers();
    test_shutdown_idle();
    return done_testing();
}
