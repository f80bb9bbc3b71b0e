/*
 * proxy_pool.h - run-time state of the upstream pools: one pool per host
 * block, one peer per configured server.  Picks a server by the block's
 * policy, keeps the passive failure marking (max_fails / fail_timeout, as in
 * nginx's upstream module), the health-check verdicts, the active-request
 * counters and the idle keep-alive connections.
 *
 * A proxy_rt ties a loaded configuration to its pools.  Requests hold a
 * reference on the rt they started with, so after a reload the old routes
 * live until the last request using them finishes.
 */
#ifndef PROXY_POOL_H
#define PROXY_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weaprous/ev.h"
#include "proxy_conf.h"

#define PROXY_POOL_HASH_TRIES 20   /* ip-hash re-hashes before falling back */

struct proxy_pool;
struct proxy_health_check;

/* One idle upstream connection, parked in its pool. */
struct proxy_idle {
    int                fd;
    struct proxy_peer *peer;
    struct proxy_pool *pool;
    ev_timer           timer;     /* keepalive_timeout */
    struct proxy_idle *prev, *next;
};

struct proxy_peer {
    const struct proxy_server *conf;
    unsigned  index;              /* in its pool */
    unsigned  active;             /* requests in flight */
    unsigned  fails;              /* failures in the current window */
    uint64_t  fail_start_ms;      /* start of that window */
    uint64_t  down_until_ms;      /* passive marking: skipped until then */
    int64_t   current_weight;     /* smooth weighted round-robin */
    bool      hc_down;            /* active health check verdict */
    unsigned  hc_ok, hc_bad;      /* consecutive check results */
    uint64_t  requests, failures; /* totals, for /__status */
    struct proxy_health_check *hc;
};

struct proxy_pool {
    const struct proxy_block *block;
    struct proxy_peer *peers;
    size_t    npeers;
    struct proxy_idle *idle_head;  /* most recently parked first */
    size_t    nidle;
    uint64_t  rng;                 /* xorshift state for random */
    struct proxy_rt *rt;
    ev_timer  hc_timer;
};

struct proxy_rt {
    struct proxy_conf *cfg;
    struct proxy_pool *pools;      /* parallel to cfg->blocks */
    size_t    npools;
    unsigned  refs;
    ev_loop  *loop;
    uint64_t  generation;          /* reload counter, for logs and status */
    bool      retired;             /* replaced by a reload or stopping */
};

/* Builds the pools of cfg (taking ownership of cfg, also on failure).
 * refs starts at 1 (the owner's reference).  NULL on out of memory. */
struct proxy_rt *proxy_rt_new(ev_loop *loop, struct proxy_conf *cfg, uint64_t gen);
void proxy_rt_ref(struct proxy_rt *rt);
/* Drops a reference; the last one closes idle connections, stops health
 * checks and frees the configuration. */
void proxy_rt_unref(struct proxy_rt *rt);
/* Starts the health checks of every pool that has them; 0 or -1. */
int proxy_rt_start(struct proxy_rt *rt);
/* The routes are replaced (reload) or the process stops: health checks
 * stop and idle connections close now; requests in flight finish. */
void proxy_rt_retire(struct proxy_rt *rt);
/* Pool serving a host value (see proxy_conf_match); NULL: 404. */
struct proxy_pool *proxy_rt_match(struct proxy_rt *rt, const char *host, size_t len);

/*
 * Chooses a peer for a request: skips peers tried already (bit i of
 * `tried`), marked down or failed by health checks; backups only when no
 * primary is usable.  `key` (client address bytes) is used by ip-hash.
 * Returns the peer index, or -1 when none is usable.
 */
int proxy_pool_pick(struct proxy_pool *p, uint64_t now_ms, uint64_t tried,
                    const void *key, size_t keylen);
bool proxy_peer_usable(const struct proxy_peer *pe, uint64_t now_ms);
/* Passive marking: a failure counts within fail_timeout; max_fails of them
 * mark the peer down for fail_timeout.  A success clears the count. */
void proxy_peer_failed(struct proxy_peer *pe, uint64_t now_ms);
void proxy_peer_succeeded(struct proxy_peer *pe);

/* Takes an idle connection to peer `idx` (newest first), or -1.  The fd is
 * still registered with the loop: the caller must ev_io_set() it at once.
 * proxy_pool_park() likewise accepts a registered fd and re-registers it. */
int proxy_pool_take_idle(struct proxy_pool *p, unsigned idx);
/* Parks fd (a clean keep-alive connection) or closes it when the pool is
 * full (keepalive N), keep-alive is off, or the rt is being retired. */
void proxy_pool_park(struct proxy_pool *p, unsigned idx, int fd);

/* Seeds a pool's random generator (getrandom when available). */
uint64_t proxy_random_seed(void);
uint64_t proxy_random_next(uint64_t *state);

#endif
