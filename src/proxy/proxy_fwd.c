/*
 * proxy_fwd.c - one proxied request: the client side is an http_txn of the
 * server engine (stream_body mode), the upstream side is this file's own
 * state machine:
 *
 *   UP_CONNECTING -> UP_ACTIVE (request head and body out, response in)
 *                 -> done: connection parked in the pool or closed
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

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "weaprous/log.h"
#include "weaprous/net.h"
#include "proxy.h"

enum up_state { UP_IDLE, UP_CONNECTING, UP_ACTIVE };
enum up_body { UB_NONE, UB_LENGTH, UB_CHUNKED, UB_EOF };

struct preq {
    struct proxy_ctx  *ctx;
    http_txn          *t;          /* NULL once completed or the client left */
    struct proxy_rt   *rt;         /* reference held */
    struct proxy_pool *pool;
    struct proxy_peer *peer;       /* current attempt */
    enum up_state state;
    int       fd;
    struct proxy_idle *conn;       /* fd's pool node when it came from the pool */
    bool      reused, fresh_retry_done, dead;
    uint64_t  tried;
    unsigned char key[16];
    size_t    keylen;
    bool      idempotent, tunnel, head_req;
    buf       head, out, replay, in;
    bool      replayable, body_chunked, body_started, body_done, body_paused;
    uint64_t  body_total;
    bool      got_bytes, resp_started, down_paused, up_keepalive;
    enum up_body ub;
    uint64_t  remaining;
    struct http_chunked ck;
    int       fail_status;         /* answer if no server is left */
    ev_timer  timer;
    char      rid[PROXY_REQUEST_ID_MAX + 1];
    /* Not cleared on reuse (preq_alloc clears up to here, not these ~5 KB):
     * rp is initialised before each attempt, rh is written by the parser
     * before it is read. */
    struct http_parser rp;
    struct http_head   rh;
};

static void preq_try(struct preq *r);
static void up_update(struct preq *r);

/* ------------------------------------------------------------------ */
/* Teardown                                                              */

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
    memset(r, 0, offsetof(struct preq, rp));
    r->head = b[0];
    r->out = b[1];
    r->replay = b[2];
    r->in = b[3];
    buf_reset(&r->head);
    buf_reset(&r->out);
    buf_reset(&r->in);
    return r;
}

/* Releases the upstream connection: parked when `keep`, else closed. */
static void up_release(struct preq *r, bool keep)
{
    if (r->fd >= 0) {
        if (keep) {
            proxy_pool_park(r->pool, r->peer->index, r->fd, r->conn);
        } else {
            ev_io_del(r->ctx->loop, r->fd);
            close(r->fd);
            if (r->conn)
                proxy_pool_forget(r->pool, r->conn);
        }
        r->fd = -1;
        r->conn = NULL;
    }
    if (r->peer && r->state != UP_IDLE)
        r->peer->active--;
    r->state = UP_IDLE;
    ev_timer_stop(r->ctx->loop, &r->timer);
}

/* The one exit: upstream released, transaction already completed (or
 * aborted here), memory freed at the end of the pass.  Idempotent. */
static void preq_finish(struct preq *r, bool keep)
{
    if (r->dead)
        return;
    r->dead = true;
    up_release(r, keep);
    if (r->t) {
        http_txn *t = r->t;
        r->t = NULL;
        http_txn_abort(t);
    }
    ev_defer(r->ctx->loop, preq_free, r);
}

/* The proxy's own answer (404, 413, 502, 504 ...): the engine's error
 * page, with Content-Length, logged. */
static void preq_reply_error(struct preq *r, int status)
{
    if (status == 502)
        r->ctx->stats.errors_502++;
    else if (status == 504)
        r->ctx->stats.errors_504++;
    /* once the head is out, an error page is impossible: cut instead */
    if (r->t && !r->resp_started) {
        http_txn *t = r->t;
        r->t = NULL;
        http_txn_add_header(t, "X-Request-ID", r->rid);
        http_txn_error(t, status);
    }
    preq_finish(r, false);
}

/* The client went away: stop everything.  The engine keeps t valid until
 * it is completed; preq_finish completes it. */
static void preq_on_close(http_txn *t, void *arg)
{
    preq_finish(arg, false);
}

/* ------------------------------------------------------------------ */
/* The upstream request head                                             */

/* What the proxy does with a field, by name: one table, looked up once per
 * field (lengths compared first, so most fields cost a few integer
 * compares).  Hop-by-hop fields (RFC 9110 7.6.1) are dropped both ways;
 * the request loses the fields the proxy sets itself, and Expect, which the
 * proxy answers (the engine sends 100 Continue once an upstream is
 * connected), so the upstream never waits for it; the response loses Date
 * and Server, which the engine sets. */
enum fld_flag {
    FLD_SKIP_REQ  = 1 << 0,
    FLD_SKIP_RESP = 1 << 1,
    FLD_CONN      = 1 << 2,   /* Connection: may list more hop-by-hop names */
    FLD_XFF       = 1 << 3,
    FLD_RID       = 1 << 4
};
#define FLD_HOP (FLD_SKIP_REQ | FLD_SKIP_RESP)

struct fld_kind {
    const char   *name;
    unsigned char len;
    unsigned char flags;
};
#define FLD(s, f) { s, sizeof s - 1, f }

/* Sorted by length: the lookup stops at the first longer name. */
static const struct fld_kind fld_table[] = {
    FLD("te", FLD_HOP), FLD("host", FLD_SKIP_REQ), FLD("date", FLD_SKIP_RESP),
    FLD("expect", FLD_SKIP_REQ), FLD("server", FLD_SKIP_RESP),
    FLD("trailer", FLD_HOP), FLD("upgrade", FLD_HOP), FLD("x-real-ip", FLD_SKIP_REQ),
    FLD("connection", FLD_HOP | FLD_CONN), FLD("keep-alive", FLD_HOP),
    FLD("x-request-id", FLD_SKIP_REQ | FLD_RID), FLD("content-length", FLD_HOP),
    FLD("x-forwarded-for", FLD_SKIP_REQ | FLD_XFF), FLD("proxy-connection", FLD_HOP),
    FLD("transfer-encoding", FLD_HOP), FLD("x-forwarded-proto", FLD_SKIP_REQ),
};

/* The FLD_* flags of field name n (0: an ordinary end-to-end field).  The
 * length and the first letter are compared before the whole name: this
 * runs for every field of every request and response. */
static unsigned fld_class(const char *n, size_t len)
{
    const struct fld_kind *k = fld_table;
    const struct fld_kind *end = k + sizeof fld_table / sizeof fld_table[0];
    for (; k < end && k->len <= len; k++)
        if (k->len == len && (n[0] | 0x20) == k->name[0]
            && strncasecmp(n, k->name, len) == 0)
            return k->flags;
    return 0;
}

static bool name_is(const char *n, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(n, want, len) == 0;
}

/* True when h has a Connection field: only then can other fields be
 * hop-by-hop by being listed there (most heads have none). */
static bool has_conn_field(const struct http_head *h)
{
    for (size_t i = 0; i < h->num_headers; i++)
        if (h->headers[i].name_len == 10
            && strncasecmp(h->headers[i].name, "connection", 10) == 0)
            return true;
    return false;
}

/* True when a Connection field of h (there may be several) lists the
 * field name n: such fields are hop-by-hop too. */
static bool conn_lists(const struct http_head *h, const char *n, size_t len)
{
    char nm[128];
    if (len >= sizeof nm)
        return false;
    memcpy(nm, n, len);
    nm[len] = '\0';
    for (size_t i = 0; i < h->num_headers; i++) {
        const struct http_header *f = &h->headers[i];
        if (f->name_len == 10 && strncasecmp(f->name, "connection", 10) == 0
            && http_list_has(f->value, f->value_len, nm))
            return true;
    }
    return false;
}

/* True when proxy_set_header of the block names this field. */
static bool overridden(const struct proxy_settings *s, const char *n, size_t len)
{
    for (size_t i = 0; i < s->nheaders; i++)
        if (name_is(n, len, s->headers[i].name))
            return true;
    return false;
}

/* "name: value\r\n" without printf: this runs for every field of every
 * request. */
static int put_field(buf *b, const char *n, size_t nlen, const char *v, size_t vlen)
{
    char *p = buf_space(b, nlen + vlen + 4);
    if (!p)
        return -1;
    memcpy(p, n, nlen);
    p[nlen] = ':';
    p[nlen + 1] = ' ';
    memcpy(p + nlen + 2, v, vlen);
    memcpy(p + nlen + 2 + vlen, "\r\n", 2);
    buf_commit(b, nlen + vlen + 4);
    return 0;
}

static int put_str(buf *b, const char *n, const char *v)
{
    return put_field(b, n, strlen(n), v, strlen(v));
}

/* The host the request names: the authority of an absolute-form target
 * (RFC 9112 3.2.2: it replaces Host), else the Host field; n = 0 if none. */
static const char *req_host(http_txn *t, size_t *n)
{
    const char *target = http_txn_target(t);
    const struct http_head *h = http_txn_head(t);
    if (target[0] != '/' && strncasecmp(target, "http://", 7) == 0) {
        *n = strcspn(target + 7, "/?#");
        return target + 7;
    }
    *n = h->host ? h->host_len : 0;
    return h->host;
}

/* Appends "X-Forwarded-For chain, client address": every X-Forwarded-For
 * field the client sent, in order (RFC 9110 5.3: several fields are one
 * comma-separated list), then the address the proxy itself saw. */
static int put_xff_chain(http_txn *t, buf *b)
{
    const struct http_head *h = http_txn_head(t);
    int rc = 0;
    for (size_t i = 0; i < h->num_headers; i++) {
        const struct http_header *f = &h->headers[i];
        if (f->value_len && (fld_class(f->name, f->name_len) & FLD_XFF)) {
            rc |= buf_append(b, f->value, f->value_len);
            rc |= buf_append(b, ", ", 2);
        }
    }
    return rc | buf_puts(b, http_txn_remote_addr(t));
}

struct expand {
    struct preq *r;
    buf *b;
};

static int exp_lit(void *arg, const char *s, size_t n)
{
    return buf_append(((struct expand *)arg)->b, s, n);
}

static int exp_var(void *arg, enum proxy_var v)
{
    struct expand *e = arg;
    http_txn *t = e->r->t;
    switch (v) {
    case PROXY_VAR_HOST: {
        size_t n;
        const char *host = req_host(t, &n);
        return n ? buf_append(e->b, host, n) : 0;
    }
    case PROXY_VAR_REMOTE_ADDR:
        return buf_puts(e->b, http_txn_remote_addr(t));
    case PROXY_VAR_PROXY_ADD_XFF:
        return put_xff_chain(t, e->b);
    case PROXY_VAR_SCHEME:
        return buf_puts(e->b, "http");
    case PROXY_VAR_REQUEST_URI:
        return buf_puts(e->b, http_txn_target(t));
    default:
        return 0;
    }
}

/* The request target sent upstream: origin-form, also for an absolute-form
 * request ("GET http://host/x" -> "/x"). */
static int put_target(buf *b, const char *target)
{
    if (target[0] != '/' && strncasecmp(target, "http://", 7) == 0) {
        const char *rest = target + 7 + strcspn(target + 7, "/?");
        /* "http://host?q" has an empty path: "/?q" (RFC 9112 3.2.1) */
        if (*rest != '/' && buf_append(b, "/", 1) < 0)
            return -1;
        return buf_puts(b, rest);
    }
    return buf_puts(b, target);
}

static int head_fields(struct preq *r, buf *b)
{
    const struct http_head *h = http_txn_head(r->t);
    const struct proxy_settings *s = &r->pool->block->set;
    bool conn = has_conn_field(h);
    int rc = 0;
    for (size_t i = 0; i < h->num_headers && rc == 0; i++) {
        const struct http_header *f = &h->headers[i];
        if ((fld_class(f->name, f->name_len) & FLD_SKIP_REQ)
            || overridden(s, f->name, f->name_len)
            || (conn && conn_lists(h, f->name, f->name_len)))
            continue;
        rc = put_field(b, f->name, f->name_len, f->value, f->value_len);
    }
    return rc;
}

static int head_own_fields(struct preq *r, buf *b)
{
    const struct proxy_settings *s = &r->pool->block->set;
    http_txn *t = r->t;
    const char *ra = http_txn_remote_addr(t);
    int rc = 0;
    if (!overridden(s, "X-Forwarded-For", 15)) {
        rc |= buf_puts(b, "X-Forwarded-For: ");
        rc |= put_xff_chain(t, b);
        rc |= buf_puts(b, "\r\n");
    }
    if (!overridden(s, "X-Forwarded-Proto", 17))
        rc |= buf_puts(b, "X-Forwarded-Proto: http\r\n");
    if (!overridden(s, "X-Real-IP", 9))
        rc |= put_str(b, "X-Real-IP", ra);
    if (!overridden(s, "X-Request-ID", 12))
        rc |= put_str(b, "X-Request-ID", r->rid);
    size_t hlen;
    const char *host = req_host(t, &hlen);
    if (!overridden(s, "Host", 4) && hlen)
        rc |= put_field(b, "Host", 4, host, hlen);
    else if (!overridden(s, "Host", 4))   /* HTTP/1.0 without Host */
        rc |= put_str(b, "Host", r->pool->block->servers[0].name);
    for (size_t i = 0; i < s->nheaders && rc == 0; i++) {
        if (!s->headers[i].value[0])
            continue;   /* "" means: do not send the field */
        struct expand e = { r, b };
        rc |= buf_printf(b, "%s: ", s->headers[i].name);
        rc |= proxy_template_walk(s->headers[i].value, exp_lit, exp_var, &e);
        rc |= buf_puts(b, "\r\n");
    }
    return rc ? -1 : 0;
}

/* Builds r->head once; retries send the same bytes. */
static int head_build(struct preq *r)
{
    const struct http_head *h = http_txn_head(r->t);
    buf *b = &r->head;
    int rc = buf_append(b, h->method_str, h->method_len) | buf_append(b, " ", 1)
        | put_target(b, http_txn_target(r->t)) | buf_puts(b, " HTTP/1.1\r\n");
    if (rc == 0)
        rc = head_fields(r, b);
    if (rc == 0)
        rc = head_own_fields(r, b);
    if (rc == 0 && r->body_chunked)
        rc = buf_puts(b, "Transfer-Encoding: chunked\r\n");
    else if (rc == 0 && h->content_length >= 0)
        rc = buf_printf(b, "Content-Length: %lld\r\n", (long long)h->content_length);
    if (rc == 0 && r->tunnel)
        rc = buf_printf(b, "Connection: upgrade\r\nUpgrade: %s\r\n",
                        http_txn_header(r->t, "Upgrade"));
    else if (rc == 0 && r->pool->block->set.keepalive == 0)
        rc = buf_puts(b, "Connection: close\r\n");
    if (rc == 0)
        rc = buf_puts(b, "\r\n");
    return rc;
}

/* ------------------------------------------------------------------ */
/* Request id                                                            */

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

/* ------------------------------------------------------------------ */
/* Attempts and failures                                                 */

/* May the request go to another server after this failure? */
static bool can_retry(const struct preq *r, bool sent)
{
    if (r->resp_started || !r->t)
        return false;
    return !sent || (r->idempotent && r->replayable);
}

/* The current attempt failed before a response: mark the server, then
 * retry elsewhere or answer `status`. */
static void attempt_failed(struct preq *r, int status, const char *why)
{
    bool sent = r->state == UP_ACTIVE;
    log_warnx("upstream %s: %s (rid=%s)", r->peer->conf->addr_text, why, r->rid);
    proxy_peer_failed(r->peer, ev_now_ms(r->ctx->loop));
    up_release(r, false);
    if (can_retry(r, sent)) {
        r->fail_status = status;   /* 504 stays 504 when nobody else is left */
        r->ctx->stats.retries++;
        preq_try(r);
    } else {
        preq_reply_error(r, status);
    }
}

/* The proxy itself lacks a resource (descriptors, memory, local ports):
 * not the server's fault, so it is not marked, and no other server would
 * fare better: 503 now. */
static void local_failed(struct preq *r, const char *why)
{
    log_warnx("upstream %s: cannot connect: %s (rid=%s)", r->peer->conf->addr_text, why, r->rid);
    up_release(r, false);
    preq_reply_error(r, 503);
}

/* Errors of socket()/connect() that are about this host, not the peer. */
static bool errno_local(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM
           || err == EADDRNOTAVAIL || err == EAGAIN;
}

/* A reused keep-alive connection died before answering: once per request,
 * the same server gets the request again on a new connection. */
static bool retry_fresh(struct preq *r)
{
    if (!r->reused || r->fresh_retry_done || r->got_bytes || r->resp_started
        || !(r->replayable || !r->body_started))
        return false;
    r->fresh_retry_done = true;
    struct proxy_peer *pe = r->peer;
    up_release(r, false);
    r->tried &= ~((uint64_t)1 << pe->index);
    r->ctx->stats.retries++;
    preq_try(r);
    return true;
}

static void up_on_timer(ev_loop *loop, ev_timer *tm, void *arg)
{
    struct preq *r = arg;
    if (r->state == UP_CONNECTING)
        attempt_failed(r, 502, "connect timed out");
    else if (!r->resp_started)
        attempt_failed(r, 504, "timed out waiting for the response");
    else
        preq_finish(r, false);   /* mid-body: the client sees a cut */
}

/* ------------------------------------------------------------------ */
/* Request body (client -> upstream)                                     */

static int out_body(struct preq *r, const char *p, size_t n, bool last)
{
    int rc = 0;
    if (n && r->body_chunked)
        rc |= buf_printf(&r->out, "%zx\r\n", n);
    rc |= buf_append(&r->out, p, n);
    if (n && r->body_chunked)
        rc |= buf_append(&r->out, "\r\n", 2);
    if (last && r->body_chunked)
        rc |= buf_append(&r->out, "0\r\n\r\n", 5);
    return rc ? -1 : 0;
}

static void keep_replay(struct preq *r, const char *p, size_t n)
{
    if (r->replayable && buf_append(&r->replay, p, n) < 0) {
        r->replayable = false;   /* too big to send twice */
        buf_reset(&r->replay);
    }
}

static void body_on_data(http_txn *t, const char *p, size_t n, bool last, void *arg)
{
    struct preq *r = arg;
    uint64_t max = r->pool->block->set.client_max_body_size;
    r->body_total += n;
    if (max && r->body_total > max) {
        preq_reply_error(r, 413);
        return;
    }
    keep_replay(r, p, n);
    if (out_body(r, p, n, last) < 0) {
        preq_reply_error(r, 500);
        return;
    }
    r->body_done = last;
    if (buf_len(&r->out) >= PROXY_UP_OUT_HIGH && !r->body_paused) {
        r->body_paused = true;   /* the upstream is slower than the client */
        http_txn_pause_body(t, true);
    }
    up_update(r);
}

/* ------------------------------------------------------------------ */
/* Response (upstream -> client)                                         */

/* Passes the upstream's end-to-end fields to the client.  The names and
 * values are NUL-terminated in place, in r->in, which holds the head and
 * is consumed right after: no copies.  Run once per response. */
static void resp_fields(struct preq *r)
{
    const struct http_head *h = &r->rh;
    bool has_rid = false, conn = has_conn_field(h);
    for (size_t i = 0; i < h->num_headers; i++) {
        const struct http_header *f = &h->headers[i];
        unsigned k = fld_class(f->name, f->name_len);
        if ((k & FLD_SKIP_RESP) || (conn && conn_lists(h, f->name, f->name_len)))
            continue;
        /* the parser's slices are followed by ':' and by CR, LF or
         * trailing blanks, all inside the head: safe to overwrite */
        char *name = (char *)f->name, *value = (char *)f->value;
        name[f->name_len] = '\0';
        value[f->value_len] = '\0';
        has_rid |= (k & FLD_RID) != 0;
        http_txn_add_header(r->t, name, value);
    }
    if (!has_rid)
        http_txn_add_header(r->t, "X-Request-ID", r->rid);
}

static void resp_kind(struct preq *r)
{
    const struct http_head *h = &r->rh;
    static const enum up_body kinds[] = {
        [HTTP_BODY_NONE] = UB_NONE, [HTTP_BODY_LENGTH] = UB_LENGTH,
        [HTTP_BODY_CHUNKED] = UB_CHUNKED, [HTTP_BODY_CLOSE] = UB_EOF,
    };
    enum http_body body = http_response_body(h, r->head_req);
    r->ub = kinds[body];
    r->remaining = h->content_length > 0 ? (uint64_t)h->content_length : 0;
    if (r->ub == UB_LENGTH && r->remaining == 0)
        r->ub = UB_NONE;
    r->up_keepalive = http_response_keepalive(h, body);
}

static void resp_complete(struct preq *r)
{
    http_txn *t = r->t;
    bool keep = r->up_keepalive && buf_len(&r->in) == 0 && r->body_done
        && buf_len(&r->out) == 0 && !r->tunnel;
    r->t = NULL;
    http_txn_end(t);
    preq_finish(r, keep);
}

/* Like resp_complete, for a response buffered whole in the transaction. */
static void resp_finish(struct preq *r)
{
    http_txn *t = r->t;
    bool keep = r->up_keepalive && buf_len(&r->in) == 0 && r->body_done
        && buf_len(&r->out) == 0;
    r->t = NULL;
    http_txn_finish(t);
    preq_finish(r, keep);
}

/* True while all clients together have more response bytes waiting than
 * proxy_total_buffers_size: memory is short, the slow clients wait. */
static bool budget_spent(const struct preq *r)
{
    uint64_t budget = r->ctx->rt->cfg->total_buffers_size;
    struct http_server_stats st;
    if (budget == 0)
        return false;
    http_server_get_stats(r->ctx->clients, &st);
    return st.out_queued > budget;
}

/* Must the upstream wait for this client?  Its queue is over the engine's
 * high-water mark, or, with the budget spent, over a short window: the
 * clients that do not keep up are the ones that stop getting more. */
static bool client_behind(const struct preq *r)
{
    return http_txn_congested(r->t)
        || (http_txn_queued(r->t) > PROXY_TIGHT_QUEUE && budget_spent(r));
}

static void on_client_drain(http_txn *t, void *arg);

/* Stops reading the upstream until the client drains. */
static void down_pause(struct preq *r)
{
    r->down_paused = true;
    http_txn_on_drain(r->t, on_client_drain, r);
}

static void on_client_drain(http_txn *t, void *arg)
{
    struct preq *r = arg;
    r->down_paused = false;
    if (client_behind(r))
        down_pause(r);   /* drained below the mark, still behind the budget */
    up_update(r);
}

/* Sends n body bytes to the client; false when the client is gone. */
static bool resp_write(struct preq *r, const char *p, size_t n)
{
    if (n && http_txn_write(r->t, p, n) < 0) {
        preq_finish(r, false);
        return false;
    }
    if (!r->dead && r->t && client_behind(r))
        down_pause(r);   /* the client is slower than the upstream */
    return !r->dead;
}

/* Body bytes waiting in r->in go to the client. */
static void resp_body(struct preq *r)
{
    char *p = buf_ptr(&r->in);
    size_t n = buf_len(&r->in);
    if (r->ub == UB_LENGTH) {
        size_t k = n < r->remaining ? n : (size_t)r->remaining;
        if (!resp_write(r, p, k))
            return;
        buf_consume(&r->in, k);
        if ((r->remaining -= k) == 0)
            resp_complete(r);
    } else if (r->ub == UB_CHUNKED) {
        size_t len = n;
        ssize_t rc = http_chunked_decode(&r->ck, p, &len);
        if (rc == HTTP_ERROR) {
            log_warnx("upstream %s: malformed chunked body (rid=%s)",
                      r->peer->conf->addr_text, r->rid);
            preq_finish(r, false);
            return;
        }
        if (!resp_write(r, p, len))
            return;
        buf_reset(&r->in);   /* decoded bytes sent; the decoder keeps its state */
        if (rc != HTTP_AGAIN) {
            if (rc > 0)
                r->up_keepalive = false;   /* bytes after the body: not reusable */
            resp_complete(r);
        }
    } else if (r->ub == UB_EOF) {
        if (resp_write(r, p, n))
            buf_consume(&r->in, n);
    } else {
        resp_complete(r);
    }
}

static void go_tunnel(struct preq *r, size_t head_len)
{
    buf rest;
    buf_init(&rest, CONN_IN_CAP);
    http_txn *t = r->t;
    r->t = NULL;
    int cfd = http_txn_hijack(t, &rest);
    int ufd = r->fd;
    struct proxy_peer *pe = r->peer;
    ev_io_del(r->ctx->loop, ufd);
    if (r->conn)
        proxy_pool_forget(r->pool, r->conn);
    r->conn = NULL;
    r->fd = -1;
    r->state = UP_IDLE;   /* the tunnel takes the peer's active count over */
    if (cfd < 0) {
        close(ufd);
        pe->active--;
    } else {
        (void)head_len;
        proxy_tunnel_start(r->ctx, r->pool, pe, cfd, ufd, &r->in, &rest);
    }
    buf_free(&rest);
    preq_finish(r, false);
}

/* Head received: status and fields to the client, then the body. */
static void resp_start(struct preq *r, size_t head_len)
{
    proxy_peer_succeeded(r->peer);
    r->peer->requests++;
    resp_kind(r);
    http_txn_set_status(r->t, r->rh.status);
    resp_fields(r);
    int64_t cl = r->ub == UB_LENGTH || (r->head_req && r->rh.content_length >= 0)
        ? r->rh.content_length : (r->ub == UB_NONE && r->rh.status != 204
                                  && r->rh.status != 304 && !r->head_req ? 0 : -1);
    buf_consume(&r->in, head_len);
    r->resp_started = true;
    if (r->ub == UB_LENGTH && buf_len(&r->in) >= r->remaining) {
        /* the whole body is here: head and body leave in one write */
        if (http_txn_append(r->t, buf_ptr(&r->in), (size_t)r->remaining) == 0) {
            buf_consume(&r->in, (size_t)r->remaining);
            return resp_finish(r);
        }
    }
    if (http_txn_begin(r->t, cl) < 0) {
        preq_finish(r, false);
        return;
    }
    resp_body(r);
}

/* Parses the response head in r->in.  Returns true while the request
 * continues. */
static void resp_head(struct preq *r)
{
    for (;;) {
        int n = http_parse_head(&r->rp, buf_ptr(&r->in), buf_len(&r->in), &r->rh);
        if (n == HTTP_AGAIN) {
            if (buf_room(&r->in) == 0)
                attempt_failed(r, 502, "response head too large");
            return;
        }
        if (n == HTTP_ERROR)
            return attempt_failed(r, 502, r->rp.error ? r->rp.error : "malformed response");
        if (r->rh.status == 101 && r->tunnel)
            return go_tunnel(r, (size_t)n);
        if (r->rh.status >= 200 || r->rh.status == 101) {
            if (r->rh.status == 101)   /* an upgrade nobody asked for */
                return attempt_failed(r, 502, "unexpected 101");
            return resp_start(r, (size_t)n);
        }
        buf_consume(&r->in, (size_t)n);   /* 100, 103: interim, dropped */
        http_parser_init(&r->rp, HTTP_PARSE_RESPONSE);
    }
}

/* The upstream closed (or failed) while reading. */
static void up_eof(struct preq *r, bool error)
{
    if (!r->resp_started) {
        if (retry_fresh(r))
            return;
        attempt_failed(r, 502, error ? strerror(errno) : "closed before answering");
    } else if (r->ub == UB_EOF && !error) {
        resp_complete(r);
    } else {
        /* cut mid-body: close the client connection rather than present a
         * truncated response as complete.  Not counted against the server
         * (as nginx): it answered, and one bad response must not take a
         * pool down for fail_timeout. */
        log_warnx("upstream %s: closed mid-body (rid=%s)", r->peer->conf->addr_text, r->rid);
        preq_finish(r, false);
    }
}

static void up_read(struct preq *r)
{
    size_t chunk = budget_spent(r) ? PROXY_TIGHT_READ : PROXY_READ_CHUNK;
    ssize_t n = buf_read_fd(&r->in, r->fd, chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0 && errno == ENOBUFS && !r->resp_started)
        return attempt_failed(r, 502, "response head too large");
    if (n <= 0)
        return up_eof(r, n < 0);
    r->got_bytes = true;
    if (r->resp_started)
        resp_body(r);
    else
        resp_head(r);
    /* Everything passed on: the buffer goes until the next read, so that a
     * thousand requests waiting for their clients hold no input memory. */
    if (!r->dead && buf_len(&r->in) == 0)
        buf_free(&r->in);
}

static void up_write(struct preq *r)
{
    ssize_t n = buf_write_fd(&r->out, r->fd);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        if (!retry_fresh(r))
            attempt_failed(r, 502, strerror(errno));
        return;
    }
    if (r->body_paused && buf_len(&r->out) < PROXY_UP_OUT_HIGH / 2 && r->t) {
        r->body_paused = false;
        http_txn_pause_body(r->t, false);
    }
}

/* ------------------------------------------------------------------ */
/* Connection handling                                                   */

/* Read interest unless the client is congested; write interest while
 * bytes wait; the timer is the one of the current phase. */
static void up_update(struct preq *r)
{
    if (r->dead || r->fd < 0 || r->state == UP_IDLE)
        return;
    const struct proxy_settings *s = &r->pool->block->set;
    int ev = r->state == UP_CONNECTING ? EV_WRITE
        : ((r->down_paused ? 0 : EV_READ) | (buf_len(&r->out) ? EV_WRITE : 0));
    ev_io_events(r->ctx->loop, r->fd, ev);
    uint32_t ms = r->state == UP_CONNECTING ? s->connect_timeout_ms
        : buf_len(&r->out) ? s->send_timeout_ms : s->read_timeout_ms;
    if (r->down_paused)
        ev_timer_stop(r->ctx->loop, &r->timer);   /* the client's pace, not ours */
    else
        ev_timer_start(r->ctx->loop, &r->timer, ms, 0);
}

static void up_connected(struct preq *r)
{
    r->state = UP_ACTIVE;
    buf_reset(&r->out);
    if (buf_append(&r->out, buf_ptr(&r->head), buf_len(&r->head)) < 0
        || (r->body_started && out_body(r, buf_ptr(&r->replay), buf_len(&r->replay),
                                         r->body_done) < 0)) {
        preq_reply_error(r, 500);
        return;
    }
    if (!r->body_started) {
        r->body_started = true;
        http_txn_on_body(r->t, body_on_data, r);
    }
}

static void up_on_io(ev_loop *loop, int fd, int events, void *arg)
{
    struct preq *r = arg;
    if (r->state == UP_CONNECTING) {
        if (net_connect_result(fd) < 0)
            return attempt_failed(r, 502, strerror(errno));
        up_connected(r);
        if (r->dead)
            return;
    }
    if (r->state == UP_ACTIVE && (events & EV_WRITE) && buf_len(&r->out))
        up_write(r);
    if (!r->dead && r->state == UP_ACTIVE && (events & EV_READ))
        up_read(r);
    up_update(r);
}

/* Starts an attempt on peer idx: an idle pooled connection, else a new one. */
static void up_start(struct preq *r, int idx)
{
    r->peer = &r->pool->peers[idx];
    r->tried |= (uint64_t)1 << idx;
    r->got_bytes = false;
    buf_reset(&r->in);
    http_parser_init(&r->rp, HTTP_PARSE_RESPONSE);
    /* a pooled connection keeps its registration: its events come here
     * through the pool, without an epoll_ctl.  A non-idempotent request
     * never takes one: the upstream may close it after reading (and acting
     * on) the request, which could then be neither retried nor answered. */
    r->conn = (r->fresh_retry_done && r->reused) || !r->idempotent ? NULL
        : proxy_pool_take_idle(r->pool, (unsigned)idx, up_on_io, r);
    r->reused = r->conn != NULL;
    int fd = r->conn ? r->conn->fd
        : net_connect((const struct sockaddr *)&r->peer->conf->addr, r->peer->conf->addrlen);
    r->peer->active++;
    r->state = UP_CONNECTING;
    r->fd = fd;
    if (fd < 0 && errno_local(errno))
        return local_failed(r, strerror(errno));
    if (fd < 0)
        return attempt_failed(r, 502, strerror(errno));
    if (!r->reused && ev_io_set(r->ctx->loop, fd, EV_WRITE, up_on_io, r) < 0)
        return local_failed(r, strerror(errno));
    if (r->reused) {
        up_connected(r);   /* already connected: straight to sending */
        if (!r->dead)
            up_write(r);   /* most heads leave now, without a poll round */
        if (r->dead || r->state == UP_IDLE)
            return;
    }
    up_update(r);
}

static void preq_try(struct preq *r)
{
    uint64_t now = ev_now_ms(r->ctx->loop);
    int idx = proxy_pool_pick(r->pool, now, r->tried, r->key, r->keylen);
    if (idx < 0) {
        log_warnx("no live upstream for %s (rid=%s)", r->pool->block->names
                  ? r->pool->block->names[0].host : "default", r->rid);
        preq_reply_error(r, r->fail_status ? r->fail_status : 502);
        return;
    }
    if (r->t && !r->peer && log_access_enabled()) {
        char note[NET_ADDR_MAX + 16];
        snprintf(note, sizeof note, "upstream=%s", r->pool->peers[idx].conf->addr_text);
        http_txn_log_note(r->t, note);
    }
    up_start(r, idx);
}

/* ------------------------------------------------------------------ */
/* Entry                                                                 */

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
    r->idempotent = http_method_idempotent(h->method);
    r->head_req = h->method == HTTP_M_HEAD;
    /* HTTP/1.0 has no Upgrade (RFC 9110 7.8: ignored in a 1.0 request); the
     * request goes upstream as 1.1, so the upstream cannot tell: drop it.
     * The field is looked up only when it can matter. */
    if (h->version_minor >= 1 && (h->flags & HTTP_F_CONN_UPGRADE)) {
        const char *up = http_txn_header(t, "Upgrade");
        r->tunnel = up && http_list_has(up, strlen(up), "websocket");
    }
    r->body_chunked = (h->flags & HTTP_F_CHUNKED) != 0;
    r->body_done = !r->body_chunked && h->content_length <= 0;
    r->replayable = true;
    ev_timer_init(&r->timer, up_on_timer, r);
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
    const char *host = req_host(t, &hlen);
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
    if (head_build(r) < 0) {
        preq_reply_error(r, 431);
        return;
    }
    preq_try(r);
}
