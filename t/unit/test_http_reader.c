/*
 * test_http_reader.c - the response reader (src/http_reader.c): interim
 * answers skipped, the three framings, the caps, keep-alive, and the same
 * result whether the bytes come whole or one at a time.  Input sits right
 * before an unreadable page (guard_copy), so an over-read crashes.
 */
#include "config.h"

#include <stdio.h>
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
    const char *error;
};

/* Feeds msg to a reader `step` bytes at a time (0: whole), as a
 * connection would: the head from the start of the received bytes, the
 * body bytes as they come.  max_head: the parser's, 0 for its default. */
static void feed(const char *msg, size_t step, bool head_req, uint64_t max,
                 size_t max_head, struct outcome *o)
{
    size_t len = strlen(msg), got = 0, used = 0;
    char *buf = guard_copy(msg, len);
    struct http_reader r;
    memset(o, 0, sizeof *o);
    http_reader_init(&r, head_req, max);
    if (max_head)
        r.parser.max_head = max_head;
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
        /* the bytes behind the head go to the body even when there is
         * none (DONE): it tells whether they spoil the connection */
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
    o->error = r.error;
    guard_free(buf, len);
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
    { "bytes after a bodiless answer: not reusable", "HTTP/1.1 204 No Content\r\n\r\nX",
      false, 0, 204, "", HTTP_READER_DONE, false },
    { "Content-Length: 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      false, 0, 200, "", HTTP_READER_DONE, true },
    { "101 is final", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
      false, 0, 101, "", HTTP_READER_DONE, true },
    { "a body at the cap", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd",
      false, 4, 200, "abcd", HTTP_READER_DONE, true },
};

/* A response the reader refuses, and whether for its size. */
static const struct error_case {
    const char *name, *msg;
    uint64_t max;
    size_t max_head;
    bool too_large;
} errors[] = {
    { "malformed status line", "HTTP/1.1 2x0 OK\r\n\r\n", 0, 0, false },
    { "malformed chunk size",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 0, false },
    { "Content-Length over the cap", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
      4, 0, true },
    { "chunked over the cap",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n", 4, 0, true },
    { "close-delimited over the cap", "HTTP/1.1 200 OK\r\n\r\nabcde", 4, 0, true },
    { "head over max_head", "HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
      0, 64, false },
    { "max_head still holds after an interim answer", "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
      0, 64, false },
};

static const size_t steps[] = { 0, 1, 7 };

static const char *step_name(size_t step)
{
    return step ? (step == 1 ? "byte by byte" : "7 at a time") : "whole";
}

static void check(const struct reader_case *c)
{
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct outcome o;
        feed(c->msg, steps[i], c->head_req, c->max, 0, &o);
        ok(o.status == c->status && o.state == c->state && o.keepalive == c->keep &&
           o.body_len == strlen(c->body) && memcmp(o.body, c->body, o.body_len) == 0,
           "%s (%s)", c->name, step_name(steps[i]));
        if (o.status != c->status || o.state != c->state || o.keepalive != c->keep)
            diag("  status %d state %d keep %d", o.status, (int)o.state, o.keepalive);
    }
}

static void check_error(const struct error_case *e)
{
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct outcome o;
        feed(e->msg, steps[i], false, e->max, e->max_head, &o);
        ok((o.head == HTTP_ERROR || o.last == HTTP_ERROR) && o.too_large == e->too_large &&
           o.error != NULL, "%s (%s)", e->name, step_name(steps[i]));
        if (o.error)
            diag("  %s", o.error);
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check(&cases[i]);
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        check_error(&errors[i]);

    /* the default cap: a head of more than HTTP_MAX_HEAD bytes */
    size_t big = HTTP_MAX_HEAD + 1024;
    char *msg = malloc(big + 1000 + 3);
    size_t at = (size_t)snprintf(msg, big, "HTTP/1.1 200 OK\r\n");
    while (at < big) {      /* fields of 1000 bytes: few, all long */
        memcpy(msg + at, "X-F: ", 5);
        memset(msg + at + 5, 'a', 993);
        memcpy(msg + at + 998, "\r\n", 2);
        at += 1000;
    }
    memcpy(msg + at, "\r\n", 3);
    struct error_case over = { "head over HTTP_MAX_HEAD", msg, 0, 0, false };
    check_error(&over);
    free(msg);

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
