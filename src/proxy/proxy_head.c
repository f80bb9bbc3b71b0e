/*
 * proxy_head.c - the head rewriting of a proxied request: the request
 * head sent upstream (hop-by-hop fields dropped, the proxy's own fields
 * and proxy_set_header added, origin-form target) and the response fields
 * passed to the client.  See proxy_fwd.h.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "proxy_fwd.h"

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

#define FLD_TABLE_N (sizeof fld_table / sizeof fld_table[0])
#define FLD_MAX_LEN 17   /* the longest name of the table */

/* Case-insensitive equality of n[0..len) and the lowercase name k. */
static bool fld_eq(const char *n, const char *k, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((n[i] | (n[i] >= 'A' && n[i] <= 'Z' ? 0x20 : 0)) != k[i])
            return false;
    return true;
}

/* The FLD_* flags of field name n (0: an ordinary end-to-end field).  Only
 * the entries of n's length are looked at (fld_first: where each length
 * starts in the sorted table, built once), first letter first: this runs
 * for every field of every request and response. */
static unsigned fld_class(const char *n, size_t len)
{
    static unsigned char fld_first[FLD_MAX_LEN + 2];
    static bool built;
    if (len > FLD_MAX_LEN)
        return 0;
    if (!built) {
        size_t k = 0;
        for (size_t l = 0; l <= FLD_MAX_LEN + 1; l++) {
            while (k < FLD_TABLE_N && fld_table[k].len < l)
                k++;
            fld_first[l] = (unsigned char)k;
        }
        built = true;
    }
    for (size_t i = fld_first[len]; i < fld_first[len + 1]; i++)
        if ((n[0] | 0x20) == fld_table[i].name[0] && fld_eq(n, fld_table[i].name, len))
            return fld_table[i].flags;
    return 0;
}

static bool name_is(const char *n, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(n, want, len) == 0;
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
        if ((fld_class(f->name, f->name_len) & FLD_CONN)
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
const char *proxy_head_host(http_txn *t, size_t *n)
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
        const char *host = proxy_head_host(t, &n);
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
    /* only with a Connection field can other fields be hop-by-hop by
     * being listed there (most heads have none) */
    bool conn = http_head_find(h, "Connection") != NULL;
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
    if (!overridden(s, "Host", 4)) {
        size_t hlen;
        const char *host = proxy_head_host(t, &hlen);
        if (hlen)
            rc |= put_field(b, "Host", 4, host, hlen);
        else   /* HTTP/1.0 without Host */
            rc |= put_str(b, "Host", r->pool->block->servers[0].name);
    }
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

int proxy_head_request(struct preq *r)
{
    const struct http_head *h = http_txn_head(r->t);
    buf *b = &r->head;
    int rc = buf_append(b, h->method_str, h->method_len) | buf_append(b, " ", 1)
        | put_target(b, http_txn_target(r->t)) | buf_puts(b, " HTTP/1.1\r\n");
    if (rc == 0)
        rc = head_fields(r, b);
    if (rc == 0)
        rc = head_own_fields(r, b);
    if (rc == 0 && (r->flags & PREQ_CHUNKED))
        rc = buf_puts(b, "Transfer-Encoding: chunked\r\n");
    else if (rc == 0 && h->content_length >= 0)
        rc = buf_printf(b, "Content-Length: %lld\r\n", (long long)h->content_length);
    if (rc == 0 && (r->flags & PREQ_TUNNEL))
        rc = buf_printf(b, "Connection: upgrade\r\nUpgrade: %s\r\n",
                        http_txn_header(r->t, "Upgrade"));
    else if (rc == 0 && r->pool->block->set.keepalive == 0)
        rc = buf_puts(b, "Connection: close\r\n");
    if (rc == 0)
        rc = buf_puts(b, "\r\n");
    return rc;
}

/* Passes the upstream's end-to-end fields to the client, from the slices
 * of the parsed head.  Run once per response. */
void proxy_head_response(struct preq *r)
{
    const struct http_head *h = &r->rd.head;
    bool has_rid = false, conn = http_head_find(h, "Connection") != NULL;
    for (size_t i = 0; i < h->num_headers; i++) {
        const struct http_header *f = &h->headers[i];
        unsigned k = fld_class(f->name, f->name_len);
        if ((k & FLD_SKIP_RESP) || (conn && conn_lists(h, f->name, f->name_len)))
            continue;
        has_rid |= (k & FLD_RID) != 0;
        http_txn_add_field(r->t, f->name, f->name_len, f->value, f->value_len);
    }
    if (!has_rid)
        http_txn_add_header(r->t, "X-Request-ID", r->rid);
}
