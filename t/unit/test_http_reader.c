/*
 * test_http_reader.c - the response reader (src/http_reader.c): interim
 * answers skipped, the three framings, the caps, keep-alive, and the same
 * result whether the bytes come whole or one at a time.  Input sits right
 * before an unreadable page (guard_copy), so an over-read crashes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "weaprous/http.h"
#include "tap.h"

struct outcome {
    int    head;         /* http_reader_head's result */
    int    status;
    char   body[256];
    size_t body_len;
    ssize_t last;        /* http_reader_body's last result */
    enum http_reader_state state;
    bool   keepalive, too_large;
};

/* Feeds msg to a reader `step` bytes at a time (0: whole), as a
 * connection would: the head from the start of the received bytes, the
 * body bytes as they come. */
static void feed(const char *msg, size_t step, bool head_req, uint64_t max,
                 struct outcome *o)
{
    size_t len = strlen(msg), got = 0, used = 0;
    char *buf = guard_copy(msg, len);
    struct http_reader r;
    memset(o, 0, sizeof *o);
    http_reader_init(&r, head_req, max);
    o->head = HTTP_AGAIN;
    o->last = HTTP_AGAIN;
    while (got < len) {
        got += step && len - got > step ? step : len - got;
        if (r.state == HTTP_READER_HEAD) {
            o->head = http_reader_head(&r, buf, got);
            if (o->head == HTTP_AGAIN)
                continue;
            if (o->head < 0)
                break;
            used = (size_t)o->head;
            o->status = r.head.status;
        }
        if (r.state == HTTP_READER_DONE)
            break;
        size_t n;
        o->last = http_reader_body(&r, buf + used, got - used, &n);
        if (o->last == HTTP_ERROR)
            break;
        memcpy(o->body + o->body_len, buf + used, n);
        o->body_len += n;
        /* decoded in place: what follows the delivered bytes is new input */
        used = got;
        if (o->last >= 0)
            break;
    }
    /* bytes that come after the end: extra, the connection is spent */
    if (r.state == HTTP_READER_DONE && o->head > 0 && got < len) {
        size_t n;
        http_reader_body(&r, buf + got, len - got, &n);
    }
    o->state = r.state;
    o->keepalive = r.keepalive;
    o->too_large = r.too_large;
    guard_free(buf, len);
}

static void check(const char *name, const char *msg, bool head_req, uint64_t max,
                  int status, const char *body, enum http_reader_state state, bool keep)
{
    static const size_t steps[] = { 0, 1, 7 };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct outcome o;
        feed(msg, steps[i], head_req, max, &o);
        ok(o.status == status && o.state == state && o.keepalive == keep &&
           o.body_len == strlen(body) && memcmp(o.body, body, o.body_len) == 0,
           "%s (%s)", name, steps[i] ? (steps[i] == 1 ? "byte by byte" : "7 at a time") : "whole");
        if (o.status != status || o.state != state || o.keepalive != keep)
            diag("  status %d state %d keep %d", o.status, (int)o.state, o.keepalive);
    }
}

static void check_error(const char *name, const char *msg, uint64_t max, bool too_large)
{
    struct outcome o;
    feed(msg, 0, false, max, &o);
    ok((o.head == HTTP_ERROR || o.last == HTTP_ERROR) && o.too_large == too_large, "%s", name);
}

/* A response, how it is read, and what comes out. */
static const struct reader_case {
    const char *name, *msg;
    bool head_req;
    uint64_t max;
    int status;
    const char *body;
    enum http_reader_state state;
    bool keep;
} cases[] = {
    { "Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
      false, 0, 200, "hello", HTTP_READER_DONE, true },
    { "interim 100 and 103 skipped", "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
      false, 0, 201, "ok", HTTP_READER_DONE, true },
    { "chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n4;x=1\r\ndefg\r\n0\r\nT: 1\r\n\r\n",
      false, 0, 200, "abcdefg", HTTP_READER_DONE, true },
    { "bytes after a chunked body: not reusable",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\nHTTP",
      false, 0, 200, "a", HTTP_READER_DONE, false },
    { "bytes after a Content-Length body: not reusable",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab",
      false, 0, 200, "a", HTTP_READER_DONE, false },
    { "close-delimited: the body runs on", "HTTP/1.1 200 OK\r\n\r\nto the end",
      false, 0, 200, "to the end", HTTP_READER_BODY, false },
    { "HTTP/1.0 without keep-alive", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
      false, 0, 200, "x", HTTP_READER_DONE, false },
    { "Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
      false, 0, 200, "x", HTTP_READER_DONE, false },
    { "HEAD: no body whatever the length", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
      true, 0, 200, "", HTTP_READER_DONE, true },
    { "204: no body", "HTTP/1.1 204 No Content\r\n\r\n",
      false, 0, 204, "", HTTP_READER_DONE, true },
    { "Content-Length: 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      false, 0, 200, "", HTTP_READER_DONE, true },
    { "101 is final", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
      false, 0, 101, "", HTTP_READER_DONE, true },
    { "a body at the cap", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd",
      false, 4, 200, "abcd", HTTP_READER_DONE, true },
};

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct reader_case *c = &cases[i];
        check(c->name, c->msg, c->head_req, c->max, c->status, c->body, c->state, c->keep);
    }

    check_error("malformed status line", "HTTP/1.1 2x0 OK\r\n\r\n", 0, false);
    check_error("malformed chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, false);
    check_error("Content-Length over the cap", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 4, true);
    check_error("chunked over the cap", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n", 4, true);
    check_error("close-delimited over the cap", "HTTP/1.1 200 OK\r\n\r\nabcde", 4, true);

    struct http_reader r;
    http_reader_init(&r, false, 0);
    static const char cut[] = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc";
    ok(http_reader_head(&r, cut, sizeof cut - 1) > 0 && !http_reader_eof(&r),
       "a close before Content-Length is reached cuts the response");
    http_reader_init(&r, false, 0);
    static const char eof[] = "HTTP/1.1 200 OK\r\n\r\n";
    ok(http_reader_head(&r, eof, sizeof eof - 1) > 0 && http_reader_eof(&r) &&
       r.state == HTTP_READER_DONE, "a close ends a close-delimited body");
    return done_testing();
}
