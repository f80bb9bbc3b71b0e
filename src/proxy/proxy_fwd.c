/*
 * proxy_fwd.c - one proxied request: the entry (the handler of the
 * client-facing server), the request object, the attempts and their
 * retries, the proxy's own answers, and the one exit.  The upstream
 * connection is proxy_upstream.c's state machine, the head rewriting
 * proxy_head.c's (see proxy_fwd.h).
 *
 * Failures before any response byte move to the next server of the pool
 * (any method when nothing was sent; once sent, idempotent methods only,
 * and only when the body is still in the replay buffer).  A reused idle
 * connection that dies before answering is retried once on a fresh
 * connection to the same server: the upstream closed it while we were
 * sending, which is not the server's fault.  Non-idempotent requests
 * (RFC 9110 9.2.2) always get a fresh connection, so they never need
 * that retry: an upstream never receives one twice.
 *
 * Ownership: a struct preq lives from the handler until both the
 * transaction is completed and the upstream fd is released; it is freed at
 * the end of a loop pass (ev_defer) because engine callbacks may call back
 * into it while it is being torn down.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "weaprous/log.h"
#include "weaprous/net.h"
#include "proxy_fwd.h"

static void preq_try(struct preq *r, bool fresh);

/* --- the request object --- */

static void preq_destroy(struct preq *r)
{
    buf_free(&r->head);
    buf_free(&r->out);
    buf_free(&r->replay);
    buf_free(&r->in);
    free(r);
}

/* End of the pass: the object goes back to the cache, buffers included. */
static void preq_free(ev_loop *loop, void *arg)
{
    struct preq *r = arg;
    struct proxy_ctx *ctx = r->ctx;
    proxy_rt_unref(r->rt);
    r->rt = NULL;
    if (ctx->nreq_cache >= PROXY_REQ_CACHE || buf_len(&r->replay) > 0) {
        preq_destroy(r);   /* big bodies do not pin their replay buffer */
        return;
    }
    ctx->req_cache[ctx->nreq_cache++] = r;
}

void proxy_fwd_cleanup(struct proxy_ctx *ctx)
{
    while (ctx->nreq_cache)
        preq_destroy(ctx->req_cache[--ctx->nreq_cache]);
}

/* A zeroed request, from the cache when possible (buffers kept, emptied). */
static struct preq *preq_alloc(struct proxy_ctx *ctx)
{
    if (ctx->nreq_cache == 0) {
        struct preq *r = calloc(1, sizeof *r);
        if (r) {
            buf_init(&r->head, PROXY_HEAD_OUT_CAP);
            buf_init(&r->out, PROXY_UP_OUT_CAP);
            buf_init(&r->replay, PROXY_REPLAY_CAP);
            buf_init(&r->in, PROXY_UP_IN_CAP);
        }
        return r;
    }
    struct preq *r = ctx->req_cache[--ctx->nreq_cache];
    buf b[4] = { r->head, r->out, r->replay, r->in };
    memset(r, 0, offsetof(struct preq, rd));
    r->head = b[0];
    r->out = b[1];
    r->replay = b[2];
    r->in = b[3];
    buf_reset(&r->head);
    buf_reset(&r->out);
    buf_reset(&r->in);
    return r;
}

void proxy_fwd_finish(struct preq *r, bool keep)
{
    if (r->state == UP_DONE)
        return;
    proxy_upstream_release(r, keep);
    r->state = UP_DONE;
    if (r->t) {
        http_txn *t = r->t;
        r->t = NULL;
        http_txn_abort(t);
    }
    ev_defer(r->ctx->loop, preq_free, r);
}

/* 404, 413, 502, 504 ...: the engine's error page, with Content-Length,
 * logged; once the head is out an error page is impossible: a cut. */
void proxy_fwd_error(struct preq *r, int status)
{
    if (status == 502)
        r->ctx->stats.errors_502++;
    else if (status == 504)
        r->ctx->stats.errors_504++;
    if (r->t && r->state != UP_READ_BODY) {
        http_txn *t = r->t;
        r->t = NULL;
        http_txn_add_header(t, "X-Request-ID", r->rid);
        http_txn_error(t, status);
    }
    proxy_fwd_finish(r, false);
}

/* The client went away: stop everything.  The engine keeps t valid until
 * it is completed; proxy_fwd_finish completes it. */
static void preq_on_close(http_txn *t, void *arg)
{
    proxy_fwd_finish(arg, false);
}

/* --- request id --- */

static bool rid_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PROXY_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')
              || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return false;
    return true;
}

/* The request's id: the client's own when it is sane, else 128 random
 * bits in hex; noted for the access log. */
static void rid_make(struct proxy_ctx *ctx, http_txn *t, char rid[PROXY_REQUEST_ID_MAX + 1])
{
    const char *have = http_txn_header(t, "X-Request-ID");
    if (have && rid_ok(have)) {
        snprintf(rid, PROXY_REQUEST_ID_MAX + 1, "%s", have);
    } else {
        static const char hex[] = "0123456789abcdef";
        for (int half = 0; half < 2; half++) {
            uint64_t v = proxy_random_next(&ctx->rng);
            for (int i = 0; i < 16; i++, v >>= 4)
                rid[half * 16 + i] = hex[v & 15];
        }
        rid[32] = '\0';
    }
    if (log_access_enabled()) {   /* the note only feeds the access log */
        char note[PROXY_REQUEST_ID_MAX + 8] = "rid=";
        memcpy(note + 4, rid, strlen(rid) + 1);
        http_txn_log_note(t, note);
    }
}

/* An answer the proxy makes before any upstream is chosen, with the
 * request id a client can quote. */
static void early_error(struct proxy_ctx *ctx, http_txn *t, int status)
{
    char rid[PROXY_REQUEST_ID_MAX + 1];
    rid_make(ctx, t, rid);
    http_txn_add_header(t, "X-Request-ID", rid);
    http_txn_error(t, status);
}

/* --- attempts and failures --- */

/* May the request go to another server after this failure?  `sent`: the
 * attempt was connected, so the request may have been read. */
static bool can_retry(const struct preq *r, bool sent)
{
    if (!r->t)
        return false;
    return !sent || ((r->flags & PREQ_IDEMPOTENT) && r->replayable);
}

void proxy_fwd_failed(struct preq *r, int status, const char *why)
{
    bool sent = r->state >= UP_SENDING;
    log_warnx("upstream %s: %s (rid=%s)", r->peer->conf->addr_text, why, r->rid);
    proxy_peer_failed(r->peer, ev_now_ms(r->ctx->loop));
    proxy_upstream_release(r, false);
    if (can_retry(r, sent)) {
        r->fail_status = status;   /* 504 stays 504 when nobody else is left */
        r->ctx->stats.retries++;
        preq_try(r, false);
    } else {
        proxy_fwd_error(r, status);
    }
}

/* Not the server's fault, so it is not marked, and no other server would
 * fare better: 503 now. */
void proxy_fwd_local_failed(struct preq *r, const char *why)
{
    log_warnx("upstream %s: cannot connect: %s (rid=%s)", r->peer->conf->addr_text, why, r->rid);
    proxy_upstream_release(r, false);
    proxy_fwd_error(r, 503);
}

/* Only for a pooled connection that sent nothing back, once per request,
 * and when what was sent of the body can be sent again. */
bool proxy_fwd_retry_fresh(struct preq *r)
{
    if (!r->conn || r->fresh_retry_done || r->state == UP_READ_BODY || buf_len(&r->in)
        || !(r->replayable || r->body == REQ_BODY_UNREAD))
        return false;
    r->fresh_retry_done = true;
    struct proxy_peer *pe = r->peer;
    proxy_upstream_release(r, false);
    r->tried &= ~((uint64_t)1 << pe->index);
    r->ctx->stats.retries++;
    preq_try(r, true);
    return true;
}

/* The next attempt: a server by the pool's policy among those not tried,
 * else the last failure's answer (502 when none was given). */
static void preq_try(struct preq *r, bool fresh)
{
    uint64_t now = ev_now_ms(r->ctx->loop);
    int idx = proxy_pool_pick(r->pool, now, r->tried, r->key, r->keylen);
    if (idx < 0) {
        log_warnx("no live upstream for %s (rid=%s)", r->pool->block->names
                  ? r->pool->block->names[0].host : "default", r->rid);
        proxy_fwd_error(r, r->fail_status ? r->fail_status : 502);
        return;
    }
    if (r->t && !r->peer && log_access_enabled()) {
        char note[NET_ADDR_MAX + 16];
        snprintf(note, sizeof note, "upstream=%s", r->pool->peers[idx].conf->addr_text);
        http_txn_log_note(r->t, note);
    }
    proxy_upstream_start(r, idx, fresh);
}

/* --- entry --- */

/* The client address as bytes, for ip-hash only (the other policies do
 * not need the conversion). */
static void client_key(struct preq *r)
{
    if (r->pool->block->set.policy != PROXY_POLICY_IP_HASH)
        return;
    const char *ra = http_txn_remote_addr(r->t);
    if (inet_pton(AF_INET, ra, r->key) == 1)
        r->keylen = 4;
    else if (inet_pton(AF_INET6, ra, r->key) == 1)
        r->keylen = 16;
}

/* The facts of the request that decide how it is sent and retried. */
static unsigned preq_flags(http_txn *t)
{
    const struct http_head *h = http_txn_head(t);
    unsigned f = (http_method_idempotent(h->method) ? PREQ_IDEMPOTENT : 0)
        | (h->method == HTTP_M_HEAD ? PREQ_HEAD : 0)
        | ((h->flags & HTTP_F_CHUNKED) ? PREQ_CHUNKED : 0);
    /* HTTP/1.0 has no Upgrade (RFC 9110 7.8: ignored in a 1.0 request); the
     * request goes upstream as 1.1, so the upstream cannot tell: drop it.
     * The field is looked up only when it can matter. */
    if (h->version_minor >= 1 && (h->flags & HTTP_F_CONN_UPGRADE)) {
        const char *up = http_txn_header(t, "Upgrade");
        if (up && http_list_has(up, strlen(up), "websocket"))
            f |= PREQ_TUNNEL;
    }
    return f;
}

static struct preq *preq_new(struct proxy_ctx *ctx, http_txn *t, struct proxy_pool *pool)
{
    struct preq *r = preq_alloc(ctx);
    if (!r)
        return NULL;
    const struct http_head *h = http_txn_head(t);
    r->ctx = ctx;
    r->t = t;
    r->rt = ctx->rt;
    proxy_rt_ref(r->rt);
    r->pool = pool;
    r->fd = -1;
    r->flags = preq_flags(t);
    bool no_body = !(r->flags & PREQ_CHUNKED) && h->content_length <= 0;
    r->body = no_body ? REQ_BODY_DONE : REQ_BODY_UNREAD;
    r->replayable = true;
    ev_timer_init(&r->timer, NULL, r);   /* each attempt sets its callback */
    client_key(r);
    return r;
}

/* True for the target forms the proxy forwards: origin-form, http://
 * absolute-form, and "*" for OPTIONS.  Anything else (another scheme,
 * "*" with GET ...) would reach the upstream verbatim, routed by Host
 * while naming another authority. */
static bool target_ok(http_txn *t)
{
    const char *target = http_txn_target(t);
    if (target[0] == '/' || strncasecmp(target, "http://", 7) == 0)
        return true;
    return strcmp(target, "*") == 0 && http_txn_head(t)->method == HTTP_M_OPTIONS;
}

void proxy_fwd_handle(http_txn *t, void *arg)
{
    struct proxy_ctx *ctx = arg;
    size_t hlen;
    ctx->stats.requests++;
    if (!target_ok(t)) {
        early_error(ctx, t, 400);
        return;
    }
    const char *host = proxy_head_host(t, &hlen);
    struct proxy_pool *pool = proxy_rt_match(ctx->rt, host, hlen);
    if (!pool) {
        http_txn_log_note(t, "no-route");
        early_error(ctx, t, 404);
        return;
    }
    uint64_t max = pool->block->set.client_max_body_size;
    int64_t cl = http_txn_head(t)->content_length;
    if (max && cl > 0 && (uint64_t)cl > max) {
        early_error(ctx, t, 413);
        return;
    }
    struct preq *r = preq_new(ctx, t, pool);
    if (!r) {
        early_error(ctx, t, 503);
        return;
    }
    http_txn_on_close(t, preq_on_close, r);
    rid_make(ctx, t, r->rid);
    if (proxy_head_request(r) < 0) {
        proxy_fwd_error(r, 431);
        return;
    }
    preq_try(r, false);
}
