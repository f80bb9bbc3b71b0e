/*
 * proxy_health.c - active health checks.  See proxy_health.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weaprous/log.h"
#include "weaprous/net.h"
#include "proxy_health.h"

enum hc_state { HC_CONNECTING, HC_SENDING, HC_READING };

struct proxy_health_check {
    struct proxy_pool *pool;
    struct proxy_peer *peer;
    enum hc_state state;
    int      fd;
    ev_timer timer;
    char     out[512];
    size_t   outlen, outoff;
    char     in[PROXY_HC_MAX_RESPONSE];
    size_t   inlen;
};

static ev_loop *hc_loop(const struct proxy_health_check *c)
{
    return c->pool->rt->loop;
}

static void hc_free(struct proxy_health_check *c)
{
    ev_timer_stop(hc_loop(c), &c->timer);
    if (c->fd >= 0) {
        ev_io_del(hc_loop(c), c->fd);
        close(c->fd);
    }
    c->peer->hc = NULL;
    free(c);
}

/* Records one verdict and applies rise/fall; frees the check. */
static void hc_done(struct proxy_health_check *c, bool good, const char *why)
{
    struct proxy_peer *pe = c->peer;
    const struct proxy_health *h = &c->pool->block->set.health;
    if (good) {
        pe->hc_bad = 0;
        if (++pe->hc_ok >= h->rise && pe->hc_down) {
            pe->hc_down = false;
            log_info("health: %s is up again", pe->conf->addr_text);
        }
    } else {
        pe->hc_ok = 0;
        if (++pe->hc_bad >= h->fall && !pe->hc_down) {
            pe->hc_down = true;
            log_warnx("health: %s is down (%s)", pe->conf->addr_text, why);
        }
    }
    hc_free(c);
}

/* "HTTP/1.x 2xx" or 3xx once the status line is complete. */
static int hc_verdict(const struct proxy_health_check *c)
{
    const char *eol = memchr(c->in, '\n', c->inlen);
    if (!eol)
        return c->inlen >= sizeof c->in ? 0 : -1;   /* -1: need more */
    if (c->inlen < 12 || memcmp(c->in, "HTTP/1.", 7) != 0 || c->in[8] != ' ')
        return 0;
    return c->in[9] == '2' || c->in[9] == '3';
}

static void hc_on_io(ev_loop *loop, int fd, int events, void *arg);

static void hc_step(struct proxy_health_check *c)
{
    if (c->state == HC_CONNECTING) {
        if (net_connect_result(c->fd) < 0)
            return hc_done(c, false, strerror(errno));
        c->state = HC_SENDING;
    }
    if (c->state == HC_SENDING) {
        ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return hc_done(c, false, strerror(errno));
        if (w > 0 && (c->outoff += (size_t)w) == c->outlen) {
            c->state = HC_READING;
            ev_io_events(hc_loop(c), c->fd, EV_READ);
        }
        return;
    }
    ssize_t r = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0)
        return hc_done(c, false, r == 0 ? "closed without a status line" : strerror(errno));
    c->inlen += (size_t)r;
    int v = hc_verdict(c);
    if (v >= 0)
        hc_done(c, v == 1, "bad status line or status");
}

static void hc_on_io(ev_loop *loop, int fd, int events, void *arg)
{
    hc_step(arg);
}

static void hc_on_timeout(ev_loop *loop, ev_timer *t, void *arg)
{
    hc_done(arg, false, "timed out");
}

static void hc_begin(struct proxy_pool *p, struct proxy_peer *pe)
{
    const struct proxy_settings *s = &p->block->set;
    struct proxy_health_check *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->pool = p;
    c->peer = pe;
    c->fd = -1;
    pe->hc = c;
    ev_timer_init(&c->timer, hc_on_timeout, c);
    ev_timer_start(p->rt->loop, &c->timer, s->health.timeout_ms, 0);
    int n = snprintf(c->out, sizeof c->out, "GET %s HTTP/1.1\r\nHost: %s\r\n"
                     "User-Agent: weaprous-health-check\r\nConnection: close\r\n\r\n",
                     s->health.uri, pe->conf->name);
    if (n < 0 || (size_t)n >= sizeof c->out)
        return hc_done(c, false, "request too long");
    c->outlen = (size_t)n;
    c->fd = net_connect((const struct sockaddr *)&pe->conf->addr, pe->conf->addrlen);
    if (c->fd < 0)
        return hc_done(c, false, strerror(errno));
    if (ev_io_set(p->rt->loop, c->fd, EV_WRITE, hc_on_io, c) < 0)
        return hc_done(c, false, strerror(errno));
}

static void hc_on_tick(ev_loop *loop, ev_timer *t, void *arg)
{
    struct proxy_pool *p = arg;
    for (size_t i = 0; i < p->npeers; i++)
        if (!p->peers[i].hc)   /* one check at a time per server */
            hc_begin(p, &p->peers[i]);
}

int proxy_health_start(struct proxy_pool *p)
{
    const struct proxy_health *h = &p->block->set.health;
    if (!h->enabled)
        return 0;
    ev_timer_init(&p->hc_timer, hc_on_tick, p);
    /* the first round right away, so a dead server is known early */
    return ev_timer_start(p->rt->loop, &p->hc_timer, 1, h->interval_ms);
}

void proxy_health_stop(struct proxy_pool *p)
{
    ev_timer_stop(p->rt->loop, &p->hc_timer);
    for (size_t i = 0; i < p->npeers; i++)
        if (p->peers[i].hc)
            hc_free(p->peers[i].hc);
}
