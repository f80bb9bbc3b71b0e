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

/* One keep-alive upstream connection known to its pool: idle (on two
 * lists, cb NULL) or lent to a request (off the lists, cb set).  Its fd
 * stays registered with the loop under the pool's dispatcher, with this
 * node as the argument, from the first park to the close: taking and
 * parking only switch cb, which costs no system call (re-registering
 * would cost an epoll_ctl each way).  The lists: the pool's, newest first
 * (the tail is the oldest, evicted when the pool is full and the first to
 * time out), and its peer's, newest first, taken first; both make parking
 * and taking O(1). */
struct proxy_idle {
    int                fd;
    struct proxy_peer *peer;
    struct proxy_pool *pool;
    uint64_t           parked_ms; /* keepalive_timeout counts from here */
    ev_io_cb           cb;        /* the borrower's handler; NULL while idle */
    void              *cb_arg;
    struct proxy_idle *prev, *next;           /* pool list; next: free list */
    struct proxy_idle *peer_prev, *peer_next; /* the peer's list */
};

struct proxy_peer {
    const struct proxy_server *conf;
    unsigned  index;              /* in its pool */
    unsigned  active;             /* requests in flight */
    unsigned  fails;              /* failures in the current window */
    uint64_t  fail_start_ms;      /* start of that window */
    uint64_t  down_until_ms;      /* passive marking: skipped until then */
    int64_t   current_weight;     /* smooth weighted round-robin */
    bool      health_down;            /* active health check verdict */
    unsigned  health_ok, health_bad;      /* consecutive check results */
    uint64_t  requests, failures; /* totals, for /__status */
    struct proxy_health_check *health;  /* the check in progress */
    struct proxy_idle *idle_head; /* this peer's idle connections, newest first */
};

struct proxy_pool {
    const struct proxy_block *block;
    struct proxy_peer *peers;
    size_t    npeers;
    struct proxy_idle *idle_head;  /* most recently parked first */
    struct proxy_idle *idle_tail;  /* oldest */
    struct proxy_idle *idle_free;  /* unused nodes, reused by the next park */
    size_t    nidle;
    ev_timer  idle_timer;          /* due when the oldest idle one expires */
    uint64_t  rng;                 /* xorshift state for random */
    struct proxy_rt *rt;
    ev_timer  health_timer;
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

/* Lends the newest idle connection to peer `idx`, or NULL.  Its fd keeps
 * its registration and interest (EV_READ); its events now go to cb(arg).
 * The borrower gives it back with proxy_pool_park() or
 * proxy_pool_forget(). */
struct proxy_idle *proxy_pool_take_idle(struct proxy_pool *p, unsigned idx,
                                        ev_io_cb cb, void *arg);
/* Parks fd (a clean keep-alive connection to peer idx; `lent` is its node
 * when it came from proxy_pool_take_idle(), else NULL and fd may be
 * registered under any handler), or closes it when the pool is full
 * (keepalive N), keep-alive is off, or the rt is being retired. */
void proxy_pool_park(struct proxy_pool *p, unsigned idx, int fd, struct proxy_idle *lent);
/* The borrower closed a lent connection's fd (or handed it on, already
 * unregistered): the node is recycled. */
void proxy_pool_forget(struct proxy_pool *p, struct proxy_idle *lent);

/* Seeds a pool's random generator (getrandom when available). */
uint64_t proxy_random_seed(void);
uint64_t proxy_random_next(uint64_t *state);

#endif
