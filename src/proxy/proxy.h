/*
 * proxy.h - the reverse proxy role's shared context and its modules:
 * forwarding (proxy_fwd.c, with the upstream machine proxy_upstream.c and
 * the head rewriting proxy_head.c: proxy_fwd.h), WebSocket tunnels
 * (proxy_tunnel.c), the status page (proxy_status.c) and the role itself
 * (proxy_role.c).
 */
#ifndef PROXY_H
#define PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "weaprous/buf.h"
#include "weaprous/server.h"
#include "proxy_pool.h"

#define PROXY_REPLAY_CAP     (64u << 10)  /* request body kept for a retry */
#define PROXY_UP_IN_CAP      (HTTP_MAX_HEAD + (64u << 10)) /* upstream input */
#define PROXY_UP_OUT_HIGH    (256u << 10) /* pause the client body above this */
#define PROXY_UP_OUT_CAP     (PROXY_UP_OUT_HIGH + (128u << 10))
#define PROXY_HEAD_OUT_CAP   (HTTP_MAX_HEAD * 2) /* rewritten request head */
#define PROXY_TUNNEL_BUF     (256u << 10) /* per direction of a tunnel */
#define PROXY_REQUEST_ID_MAX 64           /* longer client ids are replaced */
#define PROXY_READ_CHUNK     (64u << 10)  /* upstream bytes read per step */
#define PROXY_REQ_CACHE      64           /* finished requests kept for reuse */
/* While the clients' queued bytes are over proxy_total_buffers_size: a
 * client with more than this queued gets nothing more from its upstream,
 * and upstreams are read this much at a time. */
#define PROXY_TIGHT_QUEUE    (4u << 10)
#define PROXY_TIGHT_READ     (8u << 10)

/* Counters shown on /__status. */
struct proxy_stats {
    uint64_t requests, errors_502, errors_504, retries, tunnels, reloads;
    unsigned tunnels_active;
};

struct proxy_ctx {
    ev_loop         *loop;
    http_server     *clients;       /* the client-facing server */
    struct proxy_rt *rt;            /* current routes (one reference) */
    const char      *conf_path;
    uint64_t         generation;
    uint64_t         rng;           /* request ids */
    struct proxy_stats stats;
    uint64_t         started_ms;
    /* finished request objects with their buffers, reused so that the
     * steady state allocates nothing per request */
    void            *req_cache[PROXY_REQ_CACHE];
    size_t           nreq_cache;
};

/* The handler of the client-facing server (arg: struct proxy_ctx *). */
void proxy_fwd_handle(http_txn *t, void *arg);
/* Frees the cached request objects (at exit). */
void proxy_fwd_cleanup(struct proxy_ctx *ctx);

/* Takes over a client connection and an upstream connection after a 101
 * and relays bytes both ways until either side closes or the block's
 * websocket_timeout passes without traffic.  `to_client` holds the 101 head
 * and any bytes the upstream sent after it; `to_upstream` what the client
 * sent after its request.  Takes ownership of both fds and of the peer's
 * active count; the buffers are copied.  Returns 0, or -1 (both fds closed). */
int proxy_tunnel_start(struct proxy_ctx *ctx, struct proxy_pool *pool,
                       struct proxy_peer *peer, int client_fd, int upstream_fd,
                       const buf *to_client, const buf *to_upstream);

/* The handler of the admin listener: GET /__status (JSON). */
void proxy_status_handle(http_txn *t, void *arg);

#endif
