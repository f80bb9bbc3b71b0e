/*
 * server_txn.c - HTTP transactions: one request and its response.
 *
 * The engine hands each request to the handler as an http_txn; the handler
 * completes it now or later.  This file owns the transaction's life (its
 * private copy of the head, the access-log line, completion) and the public
 * request-view and response API of weaprous/server.h.
 *
 * It writes the transaction only.  The response goes into the
 * transaction's own queue (t->out), which the connection drains; whatever
 * the connection must do about it (write, move on, close after the answer)
 * it is asked with conn_kick(), or told with conn_close().
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <time.h>

#include "server_int.h"
#include "weaprous/log.h"

static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* Errors after which the byte stream cannot be trusted or the body was not
 * read: the connection closes after the answer. */
static bool status_closes(int status)
{
    switch (status) {
    case 400: case 408: case 411: case 413: case 414: case 431: case 501: case 505:
        return true;
    default:
        return false;
    }
}

/* --- transactions --- */

/* Clears everything but the head's field array and the kept buffers:
 * zeroing those 3 KiB for every request was a fifth of a proxied
 * request's instructions, and nothing reads a field at or past
 * head.num_headers. */
static void txn_clear(http_txn *t)
{
    struct http_head *h = &t->head;
    memset(t, 0, offsetof(struct http_txn, head));
    memset(h, 0, offsetof(struct http_head, headers));
    memset(&h->num_headers, 0, sizeof(*h) - offsetof(struct http_head, num_headers));
}

/* A transaction from the server's cache (its buffers emptied), else a new
 * one. */
static http_txn *txn_take(http_server *s)
{
    if (s->ntxn_cache) {
        http_txn *t = s->txn_cache[--s->ntxn_cache];
        buf_reset(&t->body);
        buf_reset(&t->fields);
        buf_reset(&t->content);
        buf_reset(&t->out.q);
        return t;
    }
    http_txn *t = malloc(sizeof(*t));
    if (!t)
        return NULL;
    /* stream_body mode never buffers: its limit may be far above memory */
    buf_init(&t->body, s->cfg.stream_body ? 0 : srv_max_body(s) + 1);
    buf_init(&t->fields, TXN_HEAD_CAP);
    buf_init(&t->content, CONN_OUT_CAP);
    buf_init(&t->out.q, CONN_OUT_CAP);
    t->raw_store = NULL;
    t->raw_size = 0;
    return t;
}

http_txn *txn_new(struct conn *c)
{
    http_txn *t = txn_take(c->srv);
    if (!t)
        return NULL;
    txn_clear(t);
    t->c = c;
    t->srv = c->srv;
    t->status = 200;
    t->head.content_length = -1;
    t->declared_len = -1;
    t->out.file_fd = -1;
    t->out.release = NULL;
    t->out.file_off = t->out.file_left = 0;
    t->remote_port = c->remote_port;
    t->local_port = -1;
    t->started = ev_wall(c->srv->loop);
    memcpy(t->remote, c->remote, sizeof(t->remote));
    return t;
}

void txn_file_done(http_txn *t)
{
    struct txn_out *o = &t->out;
    int fd = o->file_fd;
    if (fd < 0)
        return;
    /* cleared first: release may run code that looks at the transaction */
    http_fd_release_fn release = o->release;
    o->file_fd = -1;
    o->file_left = 0;
    o->release = NULL;
    if (release)
        release(fd, o->release_arg);
    else
        close(fd);
}

static void txn_destroy(http_txn *t)
{
    buf_free(&t->body);
    buf_free(&t->fields);
    buf_free(&t->content);
    buf_free(&t->out.q);
    free(t->raw_store);
    free(t);
}

/* A buffer that grew for a large request or answer is not kept: the
 * cache holds at most SRV_TXN_CACHE x (the struct + 5 x TXN_KEEP). */
static void txn_trim(buf *b)
{
    if (b->size > TXN_KEEP)
        buf_free(b);
}

/* Goes to the cache, unless its client is gone (the server may be too) or
 * the cache is full. */
void txn_free(http_txn *t)
{
    if (t->free_cb)
        t->free_cb(t, t->free_arg);
    txn_file_done(t);
    http_server *s = t->srv;
    if (!t->c || s->ntxn_cache >= SRV_TXN_CACHE) {
        txn_destroy(t);
        return;
    }
    txn_trim(&t->body);
    txn_trim(&t->fields);
    txn_trim(&t->content);
    txn_trim(&t->out.q);
    if (t->raw_size > TXN_KEEP) {
        free(t->raw_store);
        t->raw_store = NULL;
        t->raw_size = 0;
    }
    s->txn_cache[s->ntxn_cache++] = t;
}

void txn_cache_free(http_server *s)
{
    while (s->ntxn_cache)
        txn_destroy(s->txn_cache[--s->ntxn_cache]);
}

void txn_continue_100(http_txn *t)
{
    if ((t->head.flags & HTTP_F_EXPECT_CONTINUE) && t->head.version_minor >= 1 &&
        t->c && buf_len(&t->c->in) == 0)
        buf_puts(&t->out.q, "HTTP/1.1 100 Continue\r\n\r\n");
}

static const char *rebase(const char *p, const char *from, char *to)
{
    return p ? to + (p - from) : NULL;
}

/* Copies the head out of the connection's input buffer (which moves as it
 * grows) and splits it into NUL-terminated strings: each token is followed
 * by a delimiter (SP, ':', CR or LF) that can be overwritten. */
int txn_own_head(http_txn *t, const char *base)
{
    struct http_head *h = &t->head;
    size_t n = h->head_len, need = n + 1 + h->target_len + 1;
    if (t->raw_size < need) {
        size_t size = need < 512 ? 512 : need;
        char *store = malloc(size);
        if (!store)
            return -1;
        free(t->raw_store);
        t->raw_store = store;
        t->raw_size = size;
    }
    char *raw = t->raw_store;
    memcpy(raw, base, n);
    raw[n] = '\0';
    t->raw = raw;
    h->method_str = rebase(h->method_str, base, raw);
    h->target = rebase(h->target, base, raw);
    h->host = rebase(h->host, base, raw);
    for (size_t i = 0; i < h->num_headers; i++) {
        struct http_header *f = &h->headers[i];
        f->name = rebase(f->name, base, raw);
        f->value = rebase(f->value, base, raw);
    }
    for (size_t i = 0; i < h->num_headers; i++) {
        ((char *)h->headers[i].name)[h->headers[i].name_len] = '\0';
        ((char *)h->headers[i].value)[h->headers[i].value_len] = '\0';
    }
    if (h->host)
        ((char *)h->host)[h->host_len] = '\0';
    ((char *)h->method_str)[h->method_len] = '\0';
    ((char *)h->target)[h->target_len] = '\0';
    t->path = raw + n + 1;
    return 0;
}

/* Decodes the path of an origin-form or absolute-form target, dot-segments
 * removed; 0, or -1 (400) for a malformed escape, a NUL, or a ".." that
 * climbs above the root. */
int txn_decode_path(http_txn *t)
{
    const char *tg = t->head.target;
    if (strcmp(tg, "*") == 0) {
        strcpy(t->path, "*");
        t->query = "";
        return 0;
    }
    if (tg[0] != '/') {
        const char *p = strstr(tg, "://");
        if (!p)
            return -1;
        tg = strchr(p + 3, '/');
        if (!tg) {
            strcpy(t->path, "/");
            const char *q = strchr(p + 3, '?');
            t->query = q ? q + 1 : "";
            return 0;
        }
    }
    const char *q = strchr(tg, '?');
    size_t plen = q ? (size_t)(q - tg) : strlen(tg);
    t->query = q ? q + 1 : "";
    /* Dot-segments go before decoding (RFC 3986 5.2.4, as nginx): every
     * layer (hooks, routes, files) sees the same path, and an encoded dot
     * stays a name that the static checks refuse. */
    memcpy(t->path, tg, plen);
    ssize_t n = http_path_remove_dots(t->path, plen);
    if (n < 0)
        return -1;
    return http_url_decode(t->path, t->path, (size_t)n, false) < 0 ? -1 : 0;
}

static bool txn_keepalive(const http_txn *t)
{
    const struct conn *c = t->c;
    const struct http_head *h = &t->head;
    if (!c || t->close_conn || c->closing || c->eof || t->srv->shutting_down)
        return false;
    if (c->nrequests >= cfg_or(t->srv->cfg.max_keepalive_requests, HTTP_MAX_KEEPALIVE_REQUESTS))
        return false;
    if (h->flags & HTTP_F_CONN_CLOSE)
        return false;
    /* stream_body: an answer before the whole body was read ends the
     * connection (txn_complete), so it must say Connection: close. */
    if (t->has_body && !t->body_done)
        return false;
    if (h->version_major == 1 && h->version_minor == 0)
        return (h->flags & HTTP_F_CONN_KEEPALIVE) != 0;
    return h->version_major == 1;
}

/* Writes the status line and fields into the connection's output.
 * content_length < 0: chunked for HTTP/1.1, close-delimited for 1.0. */
/* "HTTP/1.1 NNN Reason\r\n" */
static int head_status_line(buf *o, int st)
{
    char line[96] = "HTTP/1.1 000 ";
    unsigned v = st >= 100 && st <= 999 ? (unsigned)st : 500;
    line[9] = (char)('0' + v / 100);
    line[10] = (char)('0' + v / 10 % 10);
    line[11] = (char)('0' + v % 10);
    const char *text = http_status_text(st);
    size_t n = strlen(text);
    if (n > sizeof(line) - 16)
        n = sizeof(line) - 16;
    memcpy(line + 13, text, n);
    memcpy(line + 13 + n, "\r\n", 2);
    return buf_append(o, line, 13 + n + 2);
}

static int head_content_length(buf *o, uint64_t v)
{
    char digits[24], line[48] = "Content-Length: ";
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t n = 16;
    while (nd)
        line[n++] = digits[--nd];
    line[n++] = '\r';
    line[n++] = '\n';
    return buf_append(o, line, n);
}

/* The Server and Date fields of every answer, rebuilt once a second. */
static const char *txn_fixed_fields(http_server *s, size_t *len)
{
    time_t now = ev_wall(s->loop);
    if (now != s->date_at) {
        http_date_format(now, s->date);
        s->date_at = now;
        int n = snprintf(s->fixed, sizeof(s->fixed), "Server: %.64s\r\nDate: %s\r\n",
                         s->cfg.server_name ? s->cfg.server_name : "weaprous", s->date);
        s->fixed_len = n > 0 && (size_t)n < sizeof(s->fixed) ? (size_t)n : 0;
    }
    *len = s->fixed_len;
    return s->fixed;
}

static int txn_write_head(http_txn *t, int64_t content_length)
{
    http_server *s = t->srv;
    bool keep = txn_keepalive(t);
    buf *o = &t->out.q;
    int st = t->status;

    if (content_length < 0 && status_has_body(st) && !t->head_only) {
        if (t->head.version_minor >= 1 && t->head.version_major == 1)
            t->chunked_out = true;
        else
            keep = false;
    }
    if (!keep)
        t->close_conn = true;
    /* No printf on the hot path: the status line from the table, the
     * Server and Date fields cached per second, the length by hand. */
    size_t fixed_len;
    const char *fixed = txn_fixed_fields(s, &fixed_len);
    int r = head_status_line(o, st);
    if (r == 0)
        r = buf_append(o, fixed, fixed_len);
    if (r == 0 && status_has_body(st)) {
        if (content_length >= 0)
            r = head_content_length(o, (uint64_t)content_length);
        else if (t->chunked_out)
            r = buf_puts(o, "Transfer-Encoding: chunked\r\n");
    }
    if (r == 0 && st >= 200)
        r = buf_puts(o, !keep ? "Connection: close\r\n"
                     : (t->head.version_minor == 0 ? "Connection: keep-alive\r\n" : ""));
    if (r == 0)
        r = buf_append(o, buf_ptr(&t->fields), buf_len(&t->fields));
    if (r == 0)
        r = buf_append(o, "\r\n", 2);
    return r;
}

/* Appends n bytes of s to the access line (len of cap used so far), with
 * quotes, backslashes, control and non-ASCII bytes written \xHH (nginx's
 * escaping): no client byte can end, split or forge a log line. */
static void log_put(char *line, size_t *len, size_t cap, const char *s, size_t n, bool esc)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n && *len + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (esc && (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')) {
            line[(*len)++] = '\\';
            line[(*len)++] = 'x';
            line[(*len)++] = hex[ch >> 4];
            line[(*len)++] = hex[ch & 15];
        } else {
            line[(*len)++] = (char)ch;
        }
    }
}

static void log_puts(char *line, size_t *len, size_t cap, const char *s, bool esc)
{
    log_put(line, len, cap, s, strlen(s), esc);
}

/* nginx's combined format.  Only a head the parser completed (t->raw, its
 * NUL-split copy) is quoted: the pieces of a head that failed to parse
 * still point into the input buffer, unterminated, so they are "-". */
static void txn_log(http_txn *t)
{
    if (!log_access_enabled())
        return;
    char line[ACCESS_LINE_MAX], when[40], num[64];
    size_t len = 0, cap = sizeof(line);
    struct tm tm;
    gmtime_r(&t->started, &tm);
    strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &tm);
    const struct http_head *h = &t->head;
    bool parsed = t->raw != NULL;
    const char *ref = parsed ? http_txn_header(t, "Referer") : NULL;
    const char *ua = parsed ? http_txn_header(t, "User-Agent") : NULL;
    log_puts(line, &len, cap, t->remote, true);
    log_puts(line, &len, cap, " - - [", false);
    log_puts(line, &len, cap, when, false);
    log_puts(line, &len, cap, "] \"", false);
    if (parsed) {
        log_put(line, &len, cap, h->method_str, h->method_len, true);
        log_puts(line, &len, cap, " ", false);
        log_put(line, &len, cap, h->target, h->target_len < 1000 ? h->target_len : 1000, true);
        snprintf(num, sizeof num, " HTTP/%d.%d", h->version_major, h->version_minor);
        log_puts(line, &len, cap, num, false);
    } else {
        log_puts(line, &len, cap, "-", false);
    }
    snprintf(num, sizeof num, "\" %d %llu \"", t->status, (unsigned long long)t->body_bytes);
    log_puts(line, &len, cap, num, false);
    log_put(line, &len, cap, ref ? ref : "-", ref ? strnlen(ref, 300) : 1, true);
    log_puts(line, &len, cap, "\" \"", false);
    log_put(line, &len, cap, ua ? ua : "-", ua ? strnlen(ua, 300) : 1, true);
    log_puts(line, &len, cap, "\"", false);
    if (t->note[0]) {
        log_puts(line, &len, cap, " ", false);
        log_puts(line, &len, cap, t->note, true);
    }
    log_access_line(line, len);
}

/* The response is whole in t->out (or the client is gone): logged; the
 * connection sends it and frees t, or, without a client, t goes now. */
static void txn_complete(http_txn *t)
{
    t->res = RES_DONE;
    txn_log(t);
    if (t->c)
        conn_kick(t->c);
    else
        txn_free(t);
}

/* --- request view --- */

const struct http_head *http_txn_head(const http_txn *t) { return &t->head; }
enum http_method http_txn_method(const http_txn *t) { return t->head.method; }
const char *http_txn_method_str(const http_txn *t) { return t->head.method_str ? t->head.method_str : ""; }
const char *http_txn_target(const http_txn *t) { return t->head.target ? t->head.target : ""; }
const char *http_txn_path(const http_txn *t) { return t->path ? t->path : ""; }
const char *http_txn_query(const http_txn *t) { return t->query ? t->query : ""; }
const char *http_txn_remote_addr(const http_txn *t) { return t->remote; }
int http_txn_remote_port(const http_txn *t) { return t->c ? t->remote_port : 0; }
http_server *http_txn_server(const http_txn *t) { return t->srv; }
ev_loop *http_txn_loop(const http_txn *t) { return t->srv->loop; }
void *http_txn_get_data(const http_txn *t) { return t->data; }
void http_txn_set_data(http_txn *t, void *data) { t->data = data; }

int http_txn_local_port(const http_txn *t)
{
    if (!t->c)
        return -1;
    if (t->local_port < 0)
        ((http_txn *)t)->local_port = net_local_port(t->c->fd);   /* a cache */
    return t->local_port;
}

bool http_txn_closing(const http_txn *t)
{
    return !txn_keepalive(t);
}

const char *http_txn_header(const http_txn *t, const char *name)
{
    if (!t->raw)
        return NULL;
    const struct http_header *h = http_head_find(&t->head, name);
    return h ? h->value : NULL;
}

const char *http_txn_body(const http_txn *t, size_t *len)
{
    if (len)
        *len = buf_len(&t->body);
    return buf_len(&t->body) ? buf_ptr(&t->body) : "";
}

void http_txn_log_note(http_txn *t, const char *note)
{
    size_t have = strlen(t->note);
    snprintf(t->note + have, sizeof(t->note) - have, "%s%s", have ? " " : "", note);
}

/* --- streaming request body --- */

void http_txn_on_body(http_txn *t, http_body_cb cb, void *arg)
{
    t->body_cb = cb;
    t->body_arg = arg;
    if (!t->c)
        return;
    txn_continue_100(t);
    conn_kick(t->c);
}

void http_txn_pause_body(http_txn *t, bool paused)
{
    t->body_paused = paused;
    if (!paused && t->c)
        conn_kick(t->c);
}

/* --- response --- */

void http_txn_set_status(http_txn *t, int status)
{
    t->status = status;
}

int http_txn_add_field(http_txn *t, const char *name, size_t nl,
                       const char *value, size_t vl)
{
    if (!http_is_token(name, nl) || !http_is_field_value(value, vl)) {
        errno = EINVAL;
        return -1;
    }
    char *p = buf_space(&t->fields, nl + vl + 4);
    if (!p)
        return -1;
    memcpy(p, name, nl);
    memcpy(p + nl, ": ", 2);
    memcpy(p + nl + 2, value, vl);
    memcpy(p + nl + 2 + vl, "\r\n", 2);
    buf_commit(&t->fields, nl + vl + 4);
    return 0;
}

int http_txn_add_header(http_txn *t, const char *name, const char *value)
{
    return http_txn_add_field(t, name, strlen(name), value, strlen(value));
}

int http_txn_add_headerf(http_txn *t, const char *name, const char *fmt, ...)
{
    char value[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(value)) {
        errno = ENOBUFS;
        return -1;
    }
    return http_txn_add_header(t, name, value);
}

int http_txn_append(http_txn *t, const void *p, size_t n)
{
    return buf_append(&t->content, p, n);
}

int http_txn_printf(http_txn *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = buf_vprintf(&t->content, fmt, ap);
    va_end(ap);
    return r;
}

/* Common guard: a response can be started once. */
static bool txn_can_answer(http_txn *t)
{
    if (t->res != RES_NONE) {
        log_warnx("response for %s answered twice: ignored", http_txn_path(t));
        return false;
    }
    return true;
}

void http_txn_finish(http_txn *t)
{
    if (!txn_can_answer(t))
        return;
    struct conn *c = t->c;
    if (c) {
        size_t n = buf_len(&t->content);
        if (txn_write_head(t, status_has_body(t->status) ? (int64_t)n : -1) < 0) {
            conn_close(c);
        } else if (!t->head_only && status_has_body(t->status)) {
            if (buf_append(&t->out.q, buf_ptr(&t->content), n) < 0)
                conn_close(c);
            t->body_bytes = n;
        }
    }
    txn_complete(t);
}

void http_txn_reply(http_txn *t, int status, const char *content_type,
                    const void *body, size_t len)
{
    t->status = status;
    if (content_type)
        http_txn_add_header(t, "Content-Type", content_type);
    buf_reset(&t->content);
    if (http_txn_append(t, body, len) < 0) {
        t->status = 500;
        buf_reset(&t->content);
    }
    http_txn_finish(t);
}

void http_txn_error(http_txn *t, int status)
{
    if (status_closes(status))
        t->close_conn = t->linger = true;
    const char *text = http_status_text(status);
    char page[512];
    int n = snprintf(page, sizeof(page),
                     "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title></head>\n"
                     "<body><h1>%d %s</h1></body></html>\n", status, text, status, text);
    if (!t->handed)
        t->srv->stats.errors_total++;
    http_txn_reply(t, status, "text/html; charset=utf-8", page, (size_t)n);
}

/* Gives up an fd the engine will not use: closes it, or releases it. */
static void txn_drop_fd(int fd, http_fd_release_fn release, void *arg)
{
    if (release)
        release(fd, arg);
    else
        close(fd);
}

void http_txn_send_fd(http_txn *t, int fd, off_t offset, off_t length,
                      http_fd_release_fn release, void *arg)
{
    if (!txn_can_answer(t)) {
        txn_drop_fd(fd, release, arg);
        return;
    }
    struct conn *c = t->c;
    if (!c || txn_write_head(t, (int64_t)length) < 0) {
        txn_drop_fd(fd, release, arg);
        if (c)
            conn_close(c);
        txn_complete(t);
        return;
    }
    if (t->head_only || length == 0) {
        txn_drop_fd(fd, release, arg);
    } else {
        t->out.file_fd = fd;
        t->out.file_off = offset;
        t->out.file_left = length;
        t->out.release = release;
        t->out.release_arg = arg;
        t->body_bytes = (uint64_t)length;
    }
    txn_complete(t);
}

void http_txn_send_file(http_txn *t, int fd, off_t offset, off_t length)
{
    http_txn_send_fd(t, fd, offset, length, NULL, NULL);
}

int http_txn_begin(http_txn *t, int64_t content_length)
{
    if (!txn_can_answer(t))
        return -1;
    if (!t->c) {
        errno = EPIPE;
        return -1;
    }
    if (txn_write_head(t, content_length) < 0)
        return -1;
    t->res = RES_STREAM;
    if (!t->head_only && status_has_body(t->status))
        t->declared_len = content_length;
    conn_kick(t->c);
    return 0;
}

int http_txn_write(http_txn *t, const void *p, size_t n)
{
    struct conn *c = t->c;
    if (!c) {
        errno = EPIPE;
        return -1;
    }
    if (t->res != RES_STREAM) {
        errno = EINVAL;
        return -1;
    }
    if (t->head_only || n == 0)
        return 0;
    /* more than the announced length would be read as the next response */
    if (t->declared_len >= 0 && t->body_bytes + n > (uint64_t)t->declared_len) {
        errno = EINVAL;
        return -1;
    }
    buf *o = &t->out.q;
    size_t need = n + (t->chunked_out ? 20 : 0);
    if (buf_room(o) < need) {
        errno = ENOBUFS;
        return -1;
    }
    if (t->chunked_out)
        buf_printf(o, "%zx\r\n", n);
    buf_append(o, p, n);
    if (t->chunked_out)
        buf_append(o, "\r\n", 2);
    t->body_bytes += n;
    conn_kick(c);
    /* the write failed: the connection closes at the end of the pass */
    if (!t->c || t->c->broken) {
        errno = EPIPE;
        return -1;
    }
    return 0;
}

void http_txn_end(http_txn *t)
{
    if (t->res != RES_STREAM) {
        log_warnx("http_txn_end without http_txn_begin");
        if (t->res == RES_NONE)
            http_txn_error(t, 500);
        return;
    }
    struct conn *c = t->c;
    if (c && t->chunked_out && !t->head_only && buf_append(&t->out.q, "0\r\n\r\n", 5) < 0)
        conn_close(c);
    /* Close-delimited bodies were made closing by txn_write_head(); a body
     * shorter than its Content-Length can only be reported by closing. */
    if (t->declared_len >= 0 && t->body_bytes < (uint64_t)t->declared_len)
        t->close_conn = true;
    txn_complete(t);
}

bool http_txn_congested(const http_txn *t)
{
    return t->c && buf_len(&t->out.q) >= CONN_OUT_HIGH_WATER;
}

size_t http_txn_queued(const http_txn *t)
{
    return t->c ? buf_len(&t->out.q) : 0;
}

void http_txn_on_drain(http_txn *t, http_txn_cb cb, void *arg)
{
    t->drain_cb = cb;
    t->drain_arg = arg;
    if (t->c)
        conn_kick(t->c);
}

void http_txn_on_free(http_txn *t, http_txn_cb cb, void *arg)
{
    t->free_cb = cb;
    t->free_arg = arg;
}

void http_txn_on_close(http_txn *t, http_txn_cb cb, void *arg)
{
    t->close_cb = cb;
    t->close_arg = arg;
}

/* A completed transaction that the connection still holds is freed by
 * conn_close(); one without a client frees itself. */
void http_txn_abort(http_txn *t)
{
    if (t->res == RES_NONE)
        t->status = 499;    /* nginx's "client closed" code, for the log */
    t->res = RES_DONE;
    txn_log(t);
    if (t->c)
        conn_close(t->c);
    else
        txn_free(t);
}

int http_txn_hijack(http_txn *t, buf *rest)
{
    if (!t->c) {
        txn_free(t);
        errno = EPIPE;
        return -1;
    }
    int fd = conn_hijack(t->c, rest);
    if (fd < 0)
        return -1;
    t->status = 101;
    t->res = RES_DONE;
    txn_log(t);
    txn_free(t);
    return fd;
}
