/*
 * server.c - the HTTP/1.1 server object: listeners, accepting (with a pause
 * when descriptors run out), graceful shutdown, statistics.  The top of the
 * engine's chain: it drives connections (server_conn.c), which drive
 * transactions (server_txn.c).  See weaprous/server.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_int.h"
#include "weaprous/log.h"

static void srv_grace_over(ev_loop *loop, ev_timer *t, void *arg);

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

void srv_conn_gone(http_server *s)
{
    srv_maybe_done(s);
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
        conn_shutdown(c);
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
    txn_cache_free(s);
    free(s);
}
