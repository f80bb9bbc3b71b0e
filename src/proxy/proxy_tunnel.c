/*
 * proxy_tunnel.c - a WebSocket (or any upgraded) connection after the 101:
 * two sockets, two capped buffers, bytes relayed both ways.
 *
 * Back-pressure: a side is read only while the buffer towards the other
 * side has room.  A side's EOF is passed on as a half-close (shutdown
 * SHUT_WR) once its buffer is flushed; the tunnel ends when both
 * directions are closed, on any error, or after websocket_timeout without
 * a byte in either direction.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weaprous/log.h"
#include "proxy.h"

enum tun_side { TUN_CLIENT = 0, TUN_UPSTREAM = 1 };

struct tunnel;

/* One direction: bytes read from `from` wait in `b` to be written to the
 * other side. */
struct tun_dir {
    buf  b;
    bool eof;        /* `from` side sent EOF */
    bool shut;       /* EOF passed on */
};

struct tunnel {
    struct proxy_ctx  *ctx;
    struct proxy_rt   *rt;
    struct proxy_peer *peer;
    int      fd[2];
    struct tun_dir dir[2];   /* dir[s]: read from fd[s], written to fd[!s] */
    ev_timer timer;
    uint32_t idle_ms;
    bool     dead;
};

static void tun_free(ev_loop *loop, void *arg)
{
    struct tunnel *tn = arg;
    buf_free(&tn->dir[0].b);
    buf_free(&tn->dir[1].b);
    proxy_rt_unref(tn->rt);
    free(tn);
}

static void tun_close(struct tunnel *tn)
{
    if (tn->dead)
        return;
    tn->dead = true;
    for (int s = 0; s < 2; s++) {
        if (tn->fd[s] >= 0) {
            ev_io_del(tn->ctx->loop, tn->fd[s]);
            close(tn->fd[s]);
            tn->fd[s] = -1;
        }
    }
    ev_timer_stop(tn->ctx->loop, &tn->timer);
    tn->peer->active--;
    tn->ctx->stats.tunnels_active--;
    ev_defer(tn->ctx->loop, tun_free, tn);
}

static void tun_update(struct tunnel *tn)
{
    if (tn->dead)
        return;
    if (tn->dir[0].shut && tn->dir[1].shut) {
        tun_close(tn);
        return;
    }
    for (int s = 0; s < 2; s++) {
        const struct tun_dir *in = &tn->dir[s], *out = &tn->dir[!s];
        int ev = (!in->eof && buf_room(&in->b) > 0 ? EV_READ : 0)
            | (buf_len(&out->b) > 0 ? EV_WRITE : 0);
        ev_io_events(tn->ctx->loop, tn->fd[s], ev);
    }
}

/* Reads from side s into its direction's buffer. */
static int tun_read(struct tunnel *tn, int s)
{
    struct tun_dir *d = &tn->dir[s];
    ssize_t n = buf_read_fd(&d->b, tn->fd[s], 0);
    if (n < 0)
        return (errno == EAGAIN || errno == EINTR || errno == ENOBUFS) ? 0 : -1;
    if (n == 0)
        d->eof = true;
    return 0;
}

/* Writes the buffer of the direction that ends at side s. */
static int tun_write(struct tunnel *tn, int s)
{
    struct tun_dir *d = &tn->dir[!s];
    if (buf_len(&d->b)) {
        ssize_t n = buf_write_fd(&d->b, tn->fd[s]);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
    }
    if (d->eof && !d->shut && buf_len(&d->b) == 0) {
        shutdown(tn->fd[s], SHUT_WR);
        d->shut = true;
    }
    return 0;
}

static void tun_on_io(ev_loop *loop, int fd, int events, void *arg)
{
    struct tunnel *tn = arg;
    int s = fd == tn->fd[TUN_CLIENT] ? TUN_CLIENT : TUN_UPSTREAM;
    if (((events & EV_READ) && tun_read(tn, s) < 0)
        || tun_write(tn, !s) < 0 || tun_write(tn, s) < 0) {
        tun_close(tn);
        return;
    }
    ev_timer_start(loop, &tn->timer, tn->idle_ms, 0);
    tun_update(tn);
}

static void tun_on_timer(ev_loop *loop, ev_timer *t, void *arg)
{
    tun_close(arg);
}

int proxy_tunnel_start(struct proxy_ctx *ctx, struct proxy_pool *pool,
                       struct proxy_peer *peer, int client_fd, int upstream_fd,
                       const buf *to_client, const buf *to_upstream)
{
    struct tunnel *tn = calloc(1, sizeof *tn);
    if (!tn) {
        close(client_fd);
        close(upstream_fd);
        peer->active--;
        return -1;
    }
    tn->ctx = ctx;
    tn->rt = pool->rt;
    proxy_rt_ref(tn->rt);
    tn->peer = peer;
    tn->fd[TUN_CLIENT] = client_fd;
    tn->fd[TUN_UPSTREAM] = upstream_fd;
    tn->idle_ms = pool->block->set.websocket_timeout_ms;
    buf_init(&tn->dir[TUN_CLIENT].b, PROXY_TUNNEL_BUF);
    buf_init(&tn->dir[TUN_UPSTREAM].b, PROXY_TUNNEL_BUF);
    ev_timer_init(&tn->timer, tun_on_timer, tn);
    ctx->stats.tunnels++;
    ctx->stats.tunnels_active++;
    if (buf_append(&tn->dir[TUN_UPSTREAM].b, buf_ptr(to_client), buf_len(to_client)) < 0
        || buf_append(&tn->dir[TUN_CLIENT].b, buf_ptr(to_upstream), buf_len(to_upstream)) < 0
        || ev_io_set(ctx->loop, client_fd, 0, tun_on_io, tn) < 0
        || ev_io_set(ctx->loop, upstream_fd, 0, tun_on_io, tn) < 0) {
        tun_close(tn);
        return -1;
    }
    ev_timer_start(ctx->loop, &tn->timer, tn->idle_ms, 0);
    tun_update(tn);
    return 0;
}
