/*
 * proxy_pool.c - upstream pools: selection policies, failure marking and
 * the idle keep-alive connections.  See proxy_pool.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif

#include "proxy_pool.h"
#include "proxy_health.h"

/* ------------------------------------------------------------------ */
/* Random numbers (not for secrets: load spreading and request ids)      */

uint64_t proxy_random_seed(void)
{
    uint64_t s = 0;
#ifdef HAVE_GETRANDOM
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
        s = 0;
#endif
    if (s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
    }
    return s ? s : 0x9e3779b97f4a7c15ull;
}

/* xorshift64*: fast, and good enough to spread load. */
uint64_t proxy_random_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* ------------------------------------------------------------------ */
/* Runtime                                                               */

static void idle_close(struct proxy_idle *c);
static void idle_nodes_free(struct proxy_pool *p);
static void idle_on_timer(ev_loop *loop, ev_timer *t, void *arg);

static int pool_init(struct proxy_rt *rt, struct proxy_pool *p,
                     const struct proxy_block *b)
{
    p->block = b;
    p->rt = rt;
    p->rng = proxy_random_seed();
    ev_timer_init(&p->health_timer, NULL, p);   /* first: pool_release stops it */
    ev_timer_init(&p->idle_timer, idle_on_timer, p);
    p->peers = calloc(b->nservers, sizeof *p->peers);
    if (!p->peers)
        return -1;
    p->npeers = b->nservers;
    for (size_t i = 0; i < b->nservers; i++) {
        p->peers[i].conf = &b->servers[i];
        p->peers[i].index = (unsigned)i;
    }
    return 0;
}

struct proxy_rt *proxy_rt_new(ev_loop *loop, struct proxy_conf *cfg, uint64_t gen)
{
    struct proxy_rt *rt = calloc(1, sizeof *rt);
    if (!rt || !(rt->pools = calloc(cfg->nblocks ? cfg->nblocks : 1, sizeof *rt->pools))) {
        free(rt);
        proxy_conf_free(cfg);
        return NULL;
    }
    rt->cfg = cfg;
    rt->loop = loop;
    rt->refs = 1;
    rt->generation = gen;
    for (size_t i = 0; i < cfg->nblocks; i++) {
        if (pool_init(rt, &rt->pools[i], &cfg->blocks[i]) < 0) {
            rt->npools = i + 1;
            rt->refs = 0;
            proxy_rt_unref(rt);
            return NULL;
        }
        rt->npools = i + 1;
    }
    return rt;
}

void proxy_rt_ref(struct proxy_rt *rt)
{
    rt->refs++;
}

static void pool_release(struct proxy_pool *p)
{
    while (p->idle_head)
        idle_close(p->idle_head);
    idle_nodes_free(p);
    if (p->rt->loop) {
        ev_timer_stop(p->rt->loop, &p->idle_timer);
        proxy_health_stop(p);
    }
    free(p->peers);
}

void proxy_rt_unref(struct proxy_rt *rt)
{
    if (!rt || (rt->refs && --rt->refs > 0))
        return;
    for (size_t i = 0; i < rt->npools; i++)
        pool_release(&rt->pools[i]);
    free(rt->pools);
    proxy_conf_free(rt->cfg);
    free(rt);
}

int proxy_rt_start(struct proxy_rt *rt)
{
    for (size_t i = 0; i < rt->npools; i++)
        if (proxy_health_start(&rt->pools[i]) < 0)
            return -1;
    return 0;
}

void proxy_rt_retire(struct proxy_rt *rt)
{
    rt->retired = true;
    for (size_t i = 0; i < rt->npools && rt->loop; i++) {
        struct proxy_pool *p = &rt->pools[i];
        proxy_health_stop(p);
        while (p->idle_head)
            idle_close(p->idle_head);
        ev_timer_stop(rt->loop, &p->idle_timer);
    }
}

struct proxy_pool *proxy_rt_match(struct proxy_rt *rt, const char *host, size_t len)
{
    const struct proxy_block *b = proxy_conf_match(rt->cfg, host, len);
    return b ? &rt->pools[b - rt->cfg->blocks] : NULL;
}

/* ------------------------------------------------------------------ */
/* Failure marking                                                       */

bool proxy_peer_usable(const struct proxy_peer *pe, uint64_t now_ms)
{
    return !pe->health_down && now_ms >= pe->down_until_ms;
}

void proxy_peer_failed(struct proxy_peer *pe, uint64_t now_ms)
{
    const struct proxy_server *s = pe->conf;
    pe->failures++;
    if (s->max_fails == 0)
        return;
    /* a new window starts when the previous one has expired */
    if (pe->fails == 0 || now_ms - pe->fail_start_ms >= s->fail_timeout_ms) {
        pe->fails = 0;
        pe->fail_start_ms = now_ms;
    }
    if (++pe->fails >= s->max_fails) {
        pe->down_until_ms = now_ms + s->fail_timeout_ms;
        pe->fails = 0;
    }
}

void proxy_peer_succeeded(struct proxy_peer *pe)
{
    pe->fails = 0;
}

/* ------------------------------------------------------------------ */
/* Policies                                                              */

static bool candidate(const struct proxy_pool *p, size_t i, uint64_t now,
                      uint64_t tried, bool backup)
{
    const struct proxy_peer *pe = &p->peers[i];
    return pe->conf->backup == backup && !(i < 64 && (tried >> i) & 1)
        && proxy_peer_usable(pe, now);
}

/* nginx's smooth weighted round-robin: every candidate gains its weight,
 * the heaviest is chosen and pays the total back. */
static int pick_rr(struct proxy_pool *p, uint64_t now, uint64_t tried, bool backup)
{
    int best = -1;
    int64_t total = 0;
    for (size_t i = 0; i < p->npeers; i++) {
        if (!candidate(p, i, now, tried, backup))
            continue;
        struct proxy_peer *pe = &p->peers[i];
        pe->current_weight += pe->conf->weight;
        total += pe->conf->weight;
        if (best < 0 || pe->current_weight > p->peers[best].current_weight)
            best = (int)i;
    }
    if (best >= 0)
        p->peers[best].current_weight -= total;
    return best;
}

/* Fewest active requests per unit of weight; ties go round-robin so that
 * an idle pool still spreads its requests. */
static int pick_least(struct proxy_pool *p, uint64_t now, uint64_t tried, bool backup)
{
    int best = -1;
    bool tie = false;
    for (size_t i = 0; i < p->npeers; i++) {
        if (!candidate(p, i, now, tried, backup))
            continue;
        const struct proxy_peer *pe = &p->peers[i], *b = best >= 0 ? &p->peers[best] : NULL;
        uint64_t l = (uint64_t)pe->active * (b ? b->conf->weight : 1);
        uint64_t r = b ? (uint64_t)b->active * pe->conf->weight : 0;
        if (!b || l < r) {
            best = (int)i;
            tie = false;
        } else if (l == r) {
            tie = true;
        }
    }
    if (!tie || best < 0)
        return best;
    /* among the equally loaded, let round-robin decide */
    uint64_t mask = tried;
    const struct proxy_peer *b = &p->peers[best];
    for (size_t i = 0; i < p->npeers && i < 64; i++) {
        const struct proxy_peer *pe = &p->peers[i];
        if ((uint64_t)pe->active * b->conf->weight != (uint64_t)b->active * pe->conf->weight)
            mask |= (uint64_t)1 << i;
    }
    return pick_rr(p, now, mask, backup);
}

static int pick_weighted_at(const struct proxy_pool *p, uint64_t r, uint64_t now,
                            uint64_t tried, bool backup, bool check)
{
    uint64_t total = 0;
    for (size_t i = 0; i < p->npeers; i++)
        if (p->peers[i].conf->backup == backup)
            total += p->peers[i].conf->weight;
    if (total == 0)
        return -1;
    r %= total;
    for (size_t i = 0; i < p->npeers; i++) {
        if (p->peers[i].conf->backup != backup)
            continue;
        if (r < p->peers[i].conf->weight)
            return !check || candidate(p, i, now, tried, backup) ? (int)i : -1;
        r -= p->peers[i].conf->weight;
    }
    return -1;
}

/* FNV-1a over the client address: the same client keeps its server while
 * that server is usable. */
static uint64_t hash_key(const void *key, size_t n, uint64_t h)
{
    const unsigned char *k = key;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 0x100000001b3ull;
    return h;
}

static int pick_hash(struct proxy_pool *p, uint64_t now, uint64_t tried,
                     const void *key, size_t keylen)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int t = 0; t < PROXY_POOL_HASH_TRIES; t++) {
        h = hash_key(key, keylen, h);
        int i = pick_weighted_at(p, h >> 16, now, tried, false, true);
        if (i >= 0)
            return i;
    }
    return pick_rr(p, now, tried, false);
}

static int pick_random(struct proxy_pool *p, uint64_t now, uint64_t tried)
{
    for (int t = 0; t < PROXY_POOL_HASH_TRIES; t++) {
        int i = pick_weighted_at(p, proxy_random_next(&p->rng) >> 11, now, tried, false, true);
        if (i >= 0)
            return i;
    }
    return pick_rr(p, now, tried, false);
}

int proxy_pool_pick(struct proxy_pool *p, uint64_t now_ms, uint64_t tried,
                    const void *key, size_t keylen)
{
    int i;
    switch (p->block->set.policy) {
    case PROXY_POLICY_LEAST_CONN: i = pick_least(p, now_ms, tried, false); break;
    case PROXY_POLICY_RANDOM:     i = pick_random(p, now_ms, tried); break;
    case PROXY_POLICY_IP_HASH:    i = pick_hash(p, now_ms, tried, key, keylen); break;
    default:                      i = pick_rr(p, now_ms, tried, false); break;
    }
    if (i < 0)   /* backups only when no primary is usable */
        i = p->block->set.policy == PROXY_POLICY_LEAST_CONN
            ? pick_least(p, now_ms, tried, true) : pick_rr(p, now_ms, tried, true);
    return i;
}

/* ------------------------------------------------------------------ */
/* Idle keep-alive connections                                           */

static void node_recycle(struct proxy_pool *p, struct proxy_idle *c)
{
    c->next = p->idle_free;
    p->idle_free = c;
}

/* Takes c off both lists; its fd stays registered. */
static void idle_unlink(struct proxy_idle *c)
{
    struct proxy_pool *p = c->pool;
    *(c->prev ? &c->prev->next : &p->idle_head) = c->next;
    *(c->next ? &c->next->prev : &p->idle_tail) = c->prev;
    *(c->peer_prev ? &c->peer_prev->peer_next : &c->peer->idle_head) = c->peer_next;
    if (c->peer_next)
        c->peer_next->peer_prev = c->peer_prev;
    p->nidle--;
}

/* Closes an fd that may still be registered with the loop. */
static void fd_drop(struct proxy_pool *p, int fd)
{
    if (p->rt->loop)
        ev_io_del(p->rt->loop, fd);
    close(fd);
}

static void idle_close(struct proxy_idle *c)
{
    idle_unlink(c);
    fd_drop(c->pool, c->fd);
    node_recycle(c->pool, c);
}

static void idle_nodes_free(struct proxy_pool *p)
{
    while (p->idle_free) {
        struct proxy_idle *c = p->idle_free;
        p->idle_free = c->next;
        free(c);
    }
}

/* Every event of a pooled fd: the borrower's, or, while idle, a sign that
 * the upstream closed it (or sent bytes nobody asked for); either way it
 * cannot be reused.  A readiness reported in the same pass in which the
 * connection was parked may be stale: peek first. */
static void idle_on_io(ev_loop *loop, int fd, int events, void *arg)
{
    struct proxy_idle *c = arg;
    if (c->cb) {
        c->cb(loop, fd, events, c->cb_arg);
        return;
    }
    char b;
    if (recv(fd, &b, 1, MSG_PEEK) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK
                                          || errno == EINTR))
        return;
    idle_close(c);
}

/* When the oldest idle connection is to be closed: keepalive_timeout
 * after it was parked, or sooner (keepalive_surplus) while the pool holds
 * more than `keepalive`. */
static uint64_t idle_deadline(const struct proxy_pool *p)
{
    const struct proxy_settings *s = &p->block->set;
    uint64_t ttl = s->keepalive_timeout_ms;
    if (p->nidle > s->keepalive && s->keepalive_surplus_ms < ttl)
        ttl = s->keepalive_surplus_ms;
    return p->idle_tail->parked_ms + ttl;
}

/* Arms the pool's timer for the oldest idle connection, unless it is
 * already due at or before that. */
static void idle_timer_arm(struct proxy_pool *p)
{
    uint64_t now = ev_now_ms(p->rt->loop), due = idle_deadline(p);
    if (ev_timer_active(&p->idle_timer) && p->idle_timer.due_ms <= due)
        return;
    ev_timer_start(p->rt->loop, &p->idle_timer, due > now ? due - now : 0, 0);
}

/* One timer per pool instead of one per connection: closes the idle
 * connections whose time is up (oldest first, from the tail), then waits
 * for the next one.  Taking a connection leaves the timer alone: when it
 * fires early it finds nothing expired and re-arms. */
static void idle_on_timer(ev_loop *loop, ev_timer *t, void *arg)
{
    struct proxy_pool *p = arg;
    uint64_t now = ev_now_ms(loop);
    (void)t;
    while (p->idle_tail && now >= idle_deadline(p))
        idle_close(p->idle_tail);
    if (p->idle_tail)
        idle_timer_arm(p);
}

/* The node for a connection to park: the lent one, else a recycled or
 * new one with the fd registered under the pool's dispatcher. */
static struct proxy_idle *idle_node(struct proxy_pool *p, int fd, struct proxy_idle *lent)
{
    if (lent)
        return ev_io_events(p->rt->loop, fd, EV_READ) < 0 ? NULL : lent;
    struct proxy_idle *c = p->idle_free;
    if (c)
        p->idle_free = c->next;
    else if (!(c = malloc(sizeof *c)))
        return NULL;
    c->fd = fd;
    c->pool = p;
    if (ev_io_set(p->rt->loop, fd, EV_READ, idle_on_io, c) < 0) {
        node_recycle(p, c);
        return NULL;
    }
    return c;
}

static void idle_link(struct proxy_pool *p, struct proxy_idle *c)
{
    c->prev = NULL;
    c->next = p->idle_head;
    *(c->next ? &c->next->prev : &p->idle_tail) = c;
    p->idle_head = c;
    c->peer_prev = NULL;
    c->peer_next = c->peer->idle_head;
    if (c->peer_next)
        c->peer_next->peer_prev = c;
    c->peer->idle_head = c;
    p->nidle++;
}

void proxy_pool_park(struct proxy_pool *p, unsigned idx, int fd, struct proxy_idle *lent)
{
    const struct proxy_settings *s = &p->block->set;
    struct proxy_idle *c = NULL;
    /* beyond keepalive, for keepalive_surplus: see idle_deadline() */
    if (s->keepalive > 0 && !p->rt->retired && p->rt->loop)
        c = idle_node(p, fd, lent);
    if (!c) {
        fd_drop(p, fd);
        if (lent)
            node_recycle(p, lent);
        return;
    }
    c->peer = &p->peers[idx];
    c->cb = NULL;
    c->cb_arg = NULL;
    c->parked_ms = ev_now_ms(p->rt->loop);
    idle_link(p, c);
    idle_timer_arm(p);
}

struct proxy_idle *proxy_pool_take_idle(struct proxy_pool *p, unsigned idx,
                                        ev_io_cb cb, void *arg)
{
    struct proxy_idle *c = idx < p->npeers ? p->peers[idx].idle_head : NULL;
    if (!c)
        return NULL;
    idle_unlink(c);
    c->cb = cb;
    c->cb_arg = arg;
    return c;
}

void proxy_pool_forget(struct proxy_pool *p, struct proxy_idle *lent)
{
    node_recycle(p, lent);
}
