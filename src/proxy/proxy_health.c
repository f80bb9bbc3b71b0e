/*
 * proxy_health.c - active health checks.  See proxy_health.h.
 *
 * Each check is a small state machine, health_step(): connect, send the
 * request, read the response head with the library's response reader
 * (interim 1xx answers skipped), then the verdict.  Interest follows the
 * state; one timer bounds the whole check.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weaprous/log.h"
#include "weaprous/net.h"
#include "proxy_health.h"

enum health_state { HEALTH_CONNECTING, HEALTH_SENDING, HEALTH_READING };

struct proxy_health_check {
    struct proxy_pool *pool;
    struct proxy_peer *peer;
    enum health_state state;
    int      fd;
    ev_timer timer;
    char     out[512];
    size_t   outlen, outoff;
    struct http_reader reader;
    size_t   inlen;
    char     in[PROXY_HEALTH_MAX_HEAD];
};

static ev_loop *health_loop(const struct proxy_health_check *c)
{
    return c->pool->rt->loop;
}

static void health_free(struct proxy_health_check *c)
{
    ev_timer_stop(health_loop(c), &c->timer);
    if (c->fd >= 0) {
        ev_io_del(health_loop(c), c->fd);
        close(c->fd);
    }
    c->peer->health = NULL;
    free(c);
}

/* Records one verdict and applies rise/fall; frees the check. */
static void health_done(struct proxy_health_check *c, bool good, const char *why)
{
    struct proxy_peer *pe = c->peer;
    const struct proxy_health *h = &c->pool->block->set.health;
    if (good) {
        pe->health_bad = 0;
        if (++pe->health_ok >= h->rise && pe->health_down) {
            pe->health_down = false;
            log_info("health: %s is up again", pe->conf->addr_text);
        }
    } else {
        pe->health_ok = 0;
        if (++pe->health_bad >= h->fall && !pe->health_down) {
            pe->health_down = true;
            log_warnx("health: %s is down (%s)", pe->conf->addr_text, why);
        }
    }
    health_free(c);
}

/* Reads what came; a complete head with a 2xx or 3xx status is a success. */
static void health_read(struct proxy_health_check *c)
{
    ssize_t r = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        health_done(c, false, r == 0 ? "closed before the response head" : strerror(errno));
        return;
    }
    c->inlen += (size_t)r;
    int n = http_reader_head(&c->reader, c->in, c->inlen);
    if (n == HTTP_AGAIN && c->inlen == sizeof c->in)
        health_done(c, false, "response head too large");
    else if (n == HTTP_ERROR)
        health_done(c, false, c->reader.error);
    else if (n > 0)
        health_done(c, c->reader.head.status >= 200 && c->reader.head.status < 400,
                    "bad status");
}

static void health_step(struct proxy_health_check *c)
{
    switch (c->state) {
    case HEALTH_CONNECTING:
        if (net_connect_result(c->fd) < 0) {
            health_done(c, false, strerror(errno));
            return;
        }
        c->state = HEALTH_SENDING;
        /* a connected socket is writable: send at once */
        /* fall through */
    case HEALTH_SENDING: {
        ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            health_done(c, false, strerror(errno));
            return;
        }
        if (w > 0 && (c->outoff += (size_t)w) == c->outlen) {
            c->state = HEALTH_READING;
            ev_io_events(health_loop(c), c->fd, EV_READ);
        }
        return;
    }
    case HEALTH_READING:
        health_read(c);
        return;
    }
}

static void health_on_io(ev_loop *loop, int fd, int events, void *arg)
{
    health_step(arg);
}

static void health_on_timeout(ev_loop *loop, ev_timer *t, void *arg)
{
    health_done(arg, false, "timed out");
}

static void health_begin(struct proxy_pool *p, struct proxy_peer *pe)
{
    const struct proxy_settings *s = &p->block->set;
    struct proxy_health_check *c = malloc(sizeof *c);
    if (!c)
        return;
    memset(c, 0, offsetof(struct proxy_health_check, in));
    c->pool = p;
    c->peer = pe;
    c->fd = -1;
    pe->health = c;
    http_reader_init(&c->reader, false, 0);
    ev_timer_init(&c->timer, health_on_timeout, c);
    ev_timer_start(p->rt->loop, &c->timer, s->health.timeout_ms, 0);
    int n = snprintf(c->out, sizeof c->out, "GET %s HTTP/1.1\r\nHost: %s\r\n"
                     "User-Agent: weaprous-health-check\r\nConnection: close\r\n\r\n",
                     s->health.uri, pe->conf->name);
    if (n < 0 || (size_t)n >= sizeof c->out) {
        health_done(c, false, "request too long");
        return;
    }
    c->outlen = (size_t)n;
    c->fd = net_connect((const struct sockaddr *)&pe->conf->addr, pe->conf->addrlen);
    if (c->fd < 0)
        health_done(c, false, strerror(errno));
    else if (ev_io_set(p->rt->loop, c->fd, EV_WRITE, health_on_io, c) < 0)
        health_done(c, false, strerror(errno));
}

static void health_on_tick(ev_loop *loop, ev_timer *t, void *arg)
{
    struct proxy_pool *p = arg;
    for (size_t i = 0; i < p->npeers; i++)
        if (!p->peers[i].health)   /* one check at a time per server */
            health_begin(p, &p->peers[i]);
}

int proxy_health_start(struct proxy_pool *p)
{
    const struct proxy_health *h = &p->block->set.health;
    if (!h->enabled)
        return 0;
    ev_timer_init(&p->health_timer, health_on_tick, p);
    /* the first round right away, so a dead server is known early */
    return ev_timer_start(p->rt->loop, &p->health_timer, 1, h->interval_ms);
}

void proxy_health_stop(struct proxy_pool *p)
{
    ev_timer_stop(p->rt->loop, &p->health_timer);
    for (size_t i = 0; i < p->npeers; i++)
        if (p->peers[i].health)
            health_free(p->peers[i].health);
}
