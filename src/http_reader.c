/*
 * http_reader.c - reading one response on the client side: the framing
 * rules of RFC 9112 6.3 (http_response_body, http_response_keepalive) and
 * the reader every client-side connection shares (the HTTP client, the
 * proxy's upstream, the proxy's health check).  See weaprous/http.h.
 * Nothing here allocates or does I/O.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "weaprous/http.h"

enum http_body http_response_body(const struct http_head *h, bool head_request)
{
    if (head_request || h->status < 200 || h->status == 204 || h->status == 304)
        return HTTP_BODY_NONE;
    if (h->flags & HTTP_F_CHUNKED)
        return HTTP_BODY_CHUNKED;
    if (h->flags & HTTP_F_TE_OTHER)
        return HTTP_BODY_CLOSE;    /* a coding we cannot parse: read to EOF */
    return h->content_length >= 0 ? HTTP_BODY_LENGTH : HTTP_BODY_CLOSE;
}

bool http_response_keepalive(const struct http_head *h, enum http_body body)
{
    bool v11 = h->version_major == 1 && h->version_minor >= 1;
    return body != HTTP_BODY_CLOSE && !(h->flags & HTTP_F_CONN_CLOSE)
        && (v11 || (h->flags & HTTP_F_CONN_KEEPALIVE));
}

/* The head's 3 KiB field array (last in the struct, with the parser) is
 * not cleared: the parser writes it before anything reads it, and this
 * runs once per response. */
void http_reader_init(struct http_reader *r, bool head_request, uint64_t max_body)
{
    memset(r, 0, offsetof(struct http_reader, parser));
    r->state = HTTP_READER_HEAD;
    r->head_request = head_request;
    r->max_body = max_body;
    r->chunked.limit = max_body;
    http_parser_init(&r->parser, HTTP_PARSE_RESPONSE);
}

static int reader_fail(struct http_reader *r, const char *why, bool too_large)
{
    r->error = why;
    r->too_large = too_large;
    return HTTP_ERROR;
}

/* The final head is in: its framing decides what follows. */
static void reader_framing(struct http_reader *r)
{
    const struct http_head *h = &r->head;
    r->body = http_response_body(h, r->head_request);
    r->keepalive = http_response_keepalive(h, r->body);
    r->remaining = h->content_length > 0 ? (uint64_t)h->content_length : 0;
    bool empty = r->body == HTTP_BODY_NONE || (r->body == HTTP_BODY_LENGTH && r->remaining == 0);
    r->state = empty ? HTTP_READER_DONE : HTTP_READER_BODY;
}

int http_reader_head(struct http_reader *r, const char *buf, size_t len)
{
    for (;;) {
        int n = http_parse_head(&r->parser, buf + r->skipped, len - r->skipped, &r->head);
        if (n == HTTP_AGAIN)
            return HTTP_AGAIN;
        if (n < 0)
            return reader_fail(r, r->parser.error ? r->parser.error : "malformed response head",
                               false);
        if (r->head.status >= 200 || r->head.status == 101) {
            reader_framing(r);
            if (r->body == HTTP_BODY_LENGTH && r->max_body && r->remaining > r->max_body)
                return reader_fail(r, "response body too large", true);
            return (int)r->skipped + n;
        }
        /* 100, 102, 103: interim, dropped; the final head follows, under
         * the limits the caller may have set on the parser */
        size_t max_line = r->parser.max_line, max_head = r->parser.max_head,
               max_headers = r->parser.max_headers;
        r->skipped += (size_t)n;
        http_parser_init(&r->parser, HTTP_PARSE_RESPONSE);
        r->parser.max_line = max_line;
        r->parser.max_head = max_head;
        r->parser.max_headers = max_headers;
    }
}

/* The body ended with `extra` bytes behind it: a connection carrying
 * bytes nobody asked for is not reused. */
static ssize_t reader_done(struct http_reader *r, size_t extra)
{
    r->state = HTTP_READER_DONE;
    if (extra)
        r->keepalive = false;
    return (ssize_t)extra;
}

ssize_t http_reader_body(struct http_reader *r, char *buf, size_t len, size_t *n)
{
    *n = 0;
    if (r->state != HTTP_READER_BODY)
        return reader_done(r, len);
    switch (r->body) {
    case HTTP_BODY_LENGTH: {
        size_t k = len < r->remaining ? len : (size_t)r->remaining;
        *n = k;
        r->total += k;
        r->remaining -= k;
        return r->remaining ? HTTP_AGAIN : reader_done(r, len - k);
    }
    case HTTP_BODY_CHUNKED: {
        size_t k = len;
        ssize_t rc = http_chunked_decode(&r->chunked, buf, &k);
        if (rc == HTTP_ERROR)
            return reader_fail(r, r->chunked.status == 413 ? "response body too large"
                               : "malformed chunked body", r->chunked.status == 413);
        *n = k;
        r->total += k;
        return rc == HTTP_AGAIN ? HTTP_AGAIN : reader_done(r, (size_t)rc);
    }
    case HTTP_BODY_CLOSE:
        if (r->max_body && len > r->max_body - r->total)
            return reader_fail(r, "response body too large", true);
        *n = len;
        r->total += len;
        return HTTP_AGAIN;
    case HTTP_BODY_NONE:
        break;
    }
    return reader_done(r, len);
}

bool http_reader_eof(struct http_reader *r)
{
    if (r->state == HTTP_READER_DONE)
        return true;
    if (r->state == HTTP_READER_BODY && r->body == HTTP_BODY_CLOSE) {
        r->state = HTTP_READER_DONE;
        return true;
    }
    return false;
}
