/*
 * test_http_parser.c - request, response and chunked vectors for
 * src/http_parser.c.  Every vector is parsed whole from a guard_copy()
 * buffer (an over-read crashes), then fed one byte at a time from a buffer
 * that moves at every call (a fresh guard copy of the growing prefix), and
 * the two results must be identical; for a valid head every strict prefix,
 * parsed by a fresh parser, must also answer HTTP_AGAIN.
 */
#include "config.h"

#include <inttypes.h>

#include "weaprous/http.h"
#include "tap.h"

#define ALL 0   /* expected head length: the whole input */

struct rv {
    const char *name;
    const char *in;
    size_t inlen;
    int status;             /* expected error status; 0 for a valid head */
    size_t head_len;        /* ALL or the expected head length */
    enum http_method method;
    const char *target;     /* request target, or reason for responses */
    int minor;
    int64_t cl;
    unsigned flags;
    const char *host;       /* NULL: no Host expected */
    size_t nfields;
    int code;               /* response status code */
};

#define REQ(n, in, m, tg, mi, cl, fl, host, nf) \
    { n, in, sizeof(in) - 1, 0, ALL, m, tg, mi, cl, fl, host, nf, 0 }
#define REQN(n, in, hl, m, tg, mi, cl, fl, host, nf) \
    { n, in, sizeof(in) - 1, 0, hl, m, tg, mi, cl, fl, host, nf, 0 }
#define RESP(n, in, hl, reason, mi, cl, fl, nf, code) \
    { n, in, sizeof(in) - 1, 0, hl, 0, reason, mi, cl, fl, NULL, nf, code }
#define BAD(n, in, st) { n, in, sizeof(in) - 1, st, 0, 0, NULL, 0, 0, 0, NULL, 0, 0 }

static const struct rv req_vectors[] = {
    /* valid */
    REQ("simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        HTTP_M_GET, "/", 1, -1, 0, "a", 1),
    REQ("HTTP/1.0 without Host", "GET /x HTTP/1.0\r\n\r\n",
        HTTP_M_GET, "/x", 0, -1, 0, NULL, 0),
    REQ("leading CRLFs skipped", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        HTTP_M_GET, "/", 1, -1, 0, "a", 1),
    REQ("absolute-form target",
        "GET http://example.com:8080/p?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        HTTP_M_GET, "http://example.com:8080/p?q=1", 1, -1, 0, "example.com:8080", 1),
    REQ("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        HTTP_M_OPTIONS, "*", 1, -1, 0, "a", 1),
    REQ("CONNECT authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        HTTP_M_CONNECT, "example.com:443", 1, -1, 0, "example.com:443", 1),
    REQ("tabs in OWS trimmed", "GET / HTTP/1.1\r\nHost:\t a \t\r\nX: \tv  w\t \r\n\r\n",
        HTTP_M_GET, "/", 1, -1, 0, "a", 2),
    REQ("empty field value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n",
        HTTP_M_GET, "/", 1, -1, 0, "a", 2),
    REQ("blank field value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:  \t \r\n\r\n",
        HTTP_M_GET, "/", 1, -1, 0, "a", 2),
    REQ("POST with Content-Length", "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
        HTTP_M_POST, "/f", 1, 5, 0, "a", 2),
    REQ("POST chunked", "POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        HTTP_M_POST, "/f", 1, -1, HTTP_F_CHUNKED, "a", 2),
    REQ("TE chunked any case, params", "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n",
        HTTP_M_PUT, "/f", 1, -1, HTTP_F_CHUNKED, "a", 2),
    REQ("identical duplicate Content-Length",
        "PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 005\r\n\r\n",
        HTTP_M_PUT, "/f", 1, 5, 0, "a", 3),
    REQ("Content-Length 0 on GET", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        HTTP_M_GET, "/", 1, 0, 0, "a", 2),
    REQ("largest Content-Length",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n",
        HTTP_M_POST, "/", 1, INT64_MAX, 0, "a", 2),
    REQ("Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        HTTP_M_GET, "/", 1, -1, HTTP_F_CONN_CLOSE, "a", 2),
    REQ("Connection: Keep-Alive on 1.0", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        HTTP_M_GET, "/", 0, -1, HTTP_F_CONN_KEEPALIVE, NULL, 1),
    REQ("WebSocket upgrade",
        "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
        HTTP_M_GET, "/ws", 1, -1,
        HTTP_F_CONN_KEEPALIVE | HTTP_F_CONN_UPGRADE | HTTP_F_UPGRADE, "a", 3),
    REQ("Connection list with empty elements",
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: ,, foo ,close,\r\n\r\n",
        HTTP_M_GET, "/", 1, -1, HTTP_F_CONN_CLOSE, "a", 2),
    REQ("Connection: closed is not close",
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n",
        HTTP_M_GET, "/", 1, -1, 0, "a", 2),
    REQ("Expect: 100-continue",
        "PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n",
        HTTP_M_PUT, "/u", 1, 10, HTTP_F_EXPECT_CONTINUE, "a", 3),
    REQ("Expect: 100-Continue any case",
        "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nexpect: 100-CONTINUE\r\n\r\n",
        HTTP_M_POST, "/u", 1, 1, HTTP_F_EXPECT_CONTINUE, "a", 3),
    REQ("100-continue ignored in HTTP/1.0",
        "POST /u HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n",
        HTTP_M_POST, "/u", 0, 1, 0, NULL, 2),
    REQ("other Expect ignored",
        "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: foo\r\n\r\n",
        HTTP_M_POST, "/u", 1, 1, 0, "a", 3),
    REQ("lowercase field names", "GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
        HTTP_M_GET, "/", 1, -1, HTTP_F_CONN_CLOSE, "a", 2),
    REQ("obs-text in value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n",
        HTTP_M_GET, "/", 1, -1, 0, "a", 2),
    REQ("obs-text in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
        HTTP_M_GET, "/caf\xc3\xa9", 1, -1, 0, "a", 1),
    REQ("target with query and odd chars",
        "GET /a/b;c?d=e&f=%20&g=[1]|~ HTTP/1.1\r\nHost: a\r\n\r\n",
        HTTP_M_GET, "/a/b;c?d=e&f=%20&g=[1]|~", 1, -1, 0, "a", 1),
    REQ("HEAD", "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_HEAD, "/h", 1, -1, 0, "a", 1),
    REQ("DELETE", "DELETE /d HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_DELETE, "/d", 1, -1, 0, "a", 1),
    REQ("PATCH with length", "PATCH /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n",
        HTTP_M_PATCH, "/p", 1, 2, 0, "a", 2),
    REQ("TRACE", "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_M_TRACE, "/", 1, -1, 0, "a", 1),
    REQ("IPv6 Host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        HTTP_M_GET, "/", 1, -1, 0, "[::1]:8080", 1),
    REQ("empty Host value", "GET / HTTP/1.1\r\nHost:\r\n\r\n", HTTP_M_GET, "/", 1, -1, 0, "", 1),
    REQ("HTTP/1.9 is 1.x", "GET / HTTP/1.9\r\nHost: a\r\n\r\n", HTTP_M_GET, "/", 9, -1, 0, "a", 1),
    REQ("every tchar in a name", "GET / HTTP/1.1\r\nHost: a\r\nX-!#$%&'*+.^_`|~09: v\r\n\r\n",
        HTTP_M_GET, "/", 1, -1, 0, "a", 2),
    REQ("colon in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a:b: c\r\n\r\n",
        HTTP_M_GET, "/", 1, -1, 0, "a", 2),
    REQ("POST on 1.0 with length", "POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n",
        HTTP_M_POST, "/", 0, 3, 0, NULL, 1),
    REQ("Upgrade without Connection", "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n",
        HTTP_M_GET, "/", 1, -1, HTTP_F_UPGRADE, "a", 2),
    REQ("TE with parameters then chunked",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked ; x=1\r\n\r\n",
        HTTP_M_POST, "/", 1, -1, HTTP_F_CHUNKED, "a", 2),
    REQN("pipelined second request left", "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
         28, HTTP_M_GET, "/a", 1, -1, 0, "a", 1),
    REQN("body bytes not consumed", "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
         48, HTTP_M_POST, "/f", 1, 5, 0, "a", 2),
    REQN("pipelined after leading CRLF", "\r\nGET / HTTP/1.0\r\n\r\nX",
         20, HTTP_M_GET, "/", 0, -1, 0, NULL, 0),

    /* 400 */
    BAD("Content-Length with Transfer-Encoding",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("Transfer-Encoding then Content-Length",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
    BAD("differing Content-Length",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
    BAD("Content-Length not a number", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400),
    BAD("Content-Length negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
    BAD("Content-Length with sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400),
    BAD("Content-Length empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
    BAD("Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400),
    BAD("Content-Length inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n", 400),
    BAD("Content-Length overflow",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", 400),
    BAD("Content-Length hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
    BAD("obs-fold with SP", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
    BAD("obs-fold with HTAB", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400),
    BAD("whitespace before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
    BAD("SP before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    BAD("HTAB before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400),
    BAD("bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
    BAD("bare CR after request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400),
    BAD("bare CR in leading empty line", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("bare CR ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\rX", 400),
    BAD("bare LF line endings", "GET / HTTP/1.1\nHost: a\n\n", 400),
    BAD("bare LF ending a field", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400),
    BAD("bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
    BAD("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400),
    BAD("NUL in target", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("NUL in method", "G\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("NUL in field name", "GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", 400),
    BAD("control byte in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01" "b\r\n\r\n", 400),
    BAD("DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f" "b\r\n\r\n", 400),
    BAD("ESC in target", "GET /\x1b[0m HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("HTAB in target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("bad char in field name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): v\r\n\r\n", 400),
    BAD("slash in field name", "GET / HTTP/1.1\r\nHost: a\r\nX/y: v\r\n\r\n", 400),
    BAD("obs-text in field name", "GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: v\r\n\r\n", 400),
    BAD("empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400),
    BAD("field without colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400),
    BAD("bad char in method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("TE not ending in chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    BAD("TE chunked then gzip",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
    BAD("TE chunked twice",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400),
    BAD("TE bad token", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400),
    BAD("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("missing Host in 1.1", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400),
    BAD("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    BAD("two Host fields in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400),
    BAD("space in Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    BAD("slash in Host", "GET / HTTP/1.1\r\nHost: a/../b\r\n\r\n", 400),
    BAD("empty target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("missing version", "GET /\r\nHost: a\r\n\r\n", 400),
    BAD("lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("version without minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400),
    BAD("version with two-digit major", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", 400),
    BAD("version with two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400),
    BAD("space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
    BAD("space inside target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("HTAB between method and target", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    /* 411, 501, 505 */
    BAD("POST without length", "POST / HTTP/1.1\r\nHost: a\r\n\r\n", 411),
    BAD("PUT without length", "PUT / HTTP/1.1\r\nHost: a\r\n\r\n", 411),
    BAD("PATCH without length on 1.0", "PATCH / HTTP/1.0\r\n\r\n", 411),
    BAD("unknown method", "FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
    BAD("lowercase method is unknown", "get / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
    BAD("unsupported coding before chunked",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    BAD("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    BAD("HTTP/0.9 version", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
    BAD("HTTP/3.0", "GET / HTTP/3.0\r\n\r\n", 505),
    BAD("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
};

static const struct rv resp_vectors[] = {
    RESP("200 with length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 38, "OK", 1, 5, 0, 1, 200),
    RESP("204 without reason or SP", "HTTP/1.1 204\r\n\r\n", ALL, "", 1, -1, 0, 0, 204),
    RESP("empty reason", "HTTP/1.1 200 \r\nServer: x\r\n\r\n", ALL, "", 1, -1, 0, 1, 200),
    RESP("HTTP/1.0 response", "HTTP/1.0 200 OK\r\n\r\n", ALL, "OK", 0, -1, 0, 0, 200),
    RESP("reason with spaces", "HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n", ALL, "Not Found", 1, -1, HTTP_F_CONN_CLOSE, 1, 404),
    RESP("chunked response", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", ALL, "OK", 1, -1, HTTP_F_CHUNKED, 1, 200),
    RESP("TE gzip: read until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", ALL, "OK", 1, -1, HTTP_F_TE_OTHER, 1, 200),
    RESP("TE chunked, gzip: read until close",
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
         ALL, "OK", 1, -1, HTTP_F_TE_OTHER, 1, 200),
    RESP("101 upgrade", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", ALL, "Switching Protocols", 1, -1, HTTP_F_UPGRADE | HTTP_F_CONN_UPGRADE, 2, 101),
    RESP("999 is a valid code", "HTTP/1.1 999 Odd\r\n\r\n", ALL, "Odd", 1, -1, 0, 0, 999),
    RESP("obs-text in reason", "HTTP/1.1 200 \xc3\xa9\tok\r\n\r\n", ALL, "\xc3\xa9\tok", 1, -1, 0, 0, 200),
    RESP("Host and Expect ignored", "HTTP/1.1 200 OK\r\nHost: a b\r\nExpect: 100-continue\r\n\r\n", ALL, "OK", 1, -1, 0, 2, 200),
    BAD("two-digit code", "HTTP/1.1 20 OK\r\n\r\n", 502),
    BAD("four-digit code", "HTTP/1.1 2000 OK\r\n\r\n", 502),
    BAD("code below 100", "HTTP/1.1 099 X\r\n\r\n", 502),
    BAD("letters in code", "HTTP/1.1 2x0 OK\r\n\r\n", 502),
    BAD("HTTP/2.0 status line", "HTTP/2.0 200 OK\r\n\r\n", 502),
    BAD("not HTTP", "ICY 200 OK\r\n\r\n", 502),
    BAD("leading CRLF in a response", "\r\nHTTP/1.1 200 OK\r\n\r\n", 502),
    BAD("response CL with TE", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 502),
    BAD("response bad CL", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", 502),
    BAD("response differing CL", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 502),
    BAD("response obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 502),
    BAD("response bare LF", "HTTP/1.1 200 OK\nX: a\n\n", 502),
    BAD("control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 502),
    BAD("response space before colon", "HTTP/1.1 200 OK\r\nServer : x\r\n\r\n", 502),
};

/* --- running one vector --- */

struct result {
    int ret, status;
    struct http_head h;
};

static void parse_whole(enum http_parser_kind kind, const char *in, size_t n,
                        struct http_parser *tmpl, struct result *r,
                        const char **base)
{
    struct http_parser p;
    char *buf = guard_copy(in, n);

    http_parser_init(&p, kind);
    if (tmpl) {
        p.max_line = tmpl->max_line;
        p.max_head = tmpl->max_head;
        p.max_headers = tmpl->max_headers;
    }
    memset(&r->h, 0xa5, sizeof(r->h));
    r->ret = http_parse_head(&p, buf, n, &r->h);
    r->status = r->ret == HTTP_ERROR ? p.status : 0;
    if (r->ret == HTTP_ERROR && !p.error)
        r->status = -1;   /* an error without a reason is a failure too */
    *base = buf;
}

/* Feeds in[0..n) one byte more per call, each time from a fresh copy (so the
 * buffer moves) or, with `same`, from one buffer whose length grows; stops
 * at the first answer other than HTTP_AGAIN. */
static void parse_bytewise(enum http_parser_kind kind, const char *in, size_t n,
                           bool same, struct http_parser *tmpl, struct result *r,
                           char **base, size_t *fed)
{
    struct http_parser p;

    http_parser_init(&p, kind);
    if (tmpl) {
        p.max_line = tmpl->max_line;
        p.max_head = tmpl->max_head;
        p.max_headers = tmpl->max_headers;
    }
    *base = NULL;
    r->ret = HTTP_AGAIN;
    if (same) {
        *base = guard_copy(in, n);
        *fed = n;
    }
    for (size_t k = 1; k <= n && r->ret == HTTP_AGAIN; k++) {
        if (!same) {
            if (*base)
                guard_free(*base, k - 1);
            *base = guard_copy(in, k);
            *fed = k;
        }
        r->ret = http_parse_head(&p, *base, k, &r->h);
    }
    r->status = r->ret == HTTP_ERROR ? p.status : 0;
}

/* Same head, comparing pointers as offsets from each buffer. */
static int same_head(const struct http_head *a, const char *ba,
                     const struct http_head *b, const char *bb)
{
#define OFF(h, f, base) ((h)->f ? (h)->f - (base) : -1)
    if (a->method != b->method || a->version_major != b->version_major
        || a->version_minor != b->version_minor || a->status != b->status
        || a->num_headers != b->num_headers || a->content_length != b->content_length
        || a->flags != b->flags || a->head_len != b->head_len
        || a->target_len != b->target_len || a->host_len != b->host_len
        || OFF(a, target, ba) != OFF(b, target, bb) || OFF(a, host, ba) != OFF(b, host, bb)
        || OFF(a, reason, ba) != OFF(b, reason, bb) || a->reason_len != b->reason_len)
        return 0;
    for (size_t i = 0; i < a->num_headers; i++)
        if (a->headers[i].name - ba != b->headers[i].name - bb
            || a->headers[i].name_len != b->headers[i].name_len
            || a->headers[i].value - ba != b->headers[i].value - bb
            || a->headers[i].value_len != b->headers[i].value_len)
            return 0;
    return 1;
#undef OFF
}

static void check_fields(const struct rv *v, const struct result *r, size_t n)
{
    const struct http_head *h = &r->h;
    size_t want_len = v->head_len == ALL ? n : v->head_len;
    int ok_all = r->ret == (int)want_len && h->head_len == want_len
        && h->version_major == 1 && h->version_minor == v->minor
        && h->content_length == v->cl && h->flags == v->flags
        && h->num_headers == v->nfields;

    if (v->code)
        ok_all = ok_all && h->status == v->code && v->target
            && h->reason_len == strlen(v->target)
            && memcmp(h->reason, v->target, h->reason_len) == 0;
    else
        ok_all = ok_all && h->method == v->method && v->target
            && h->target_len == strlen(v->target)
            && memcmp(h->target, v->target, h->target_len) == 0;
    if (v->host)
        ok_all = ok_all && h->host && h->host_len == strlen(v->host)
            && memcmp(h->host, v->host, h->host_len) == 0;
    else
        ok_all = ok_all && !h->host;
    if (!ok(ok_all, "%s: parsed fields", v->name))
        diag("  ret %d status %d cl %" PRId64 " flags %#x nfields %zu minor %d",
             r->ret, r->status, h->content_length, h->flags, h->num_headers,
             h->version_minor);
}

/* Every strict prefix of a valid head answers HTTP_AGAIN, from a fresh
 * parser and a guard copy of just that prefix. */
static void check_prefixes(enum http_parser_kind kind, const char *name,
                           const char *in, size_t head_len, struct http_parser *tmpl)
{
    size_t bad = 0;

    for (size_t k = 0; k < head_len; k++) {
        struct result r;
        const char *base;
        parse_whole(kind, in, k, tmpl, &r, &base);
        if (r.ret != HTTP_AGAIN && !bad++)
            diag("  prefix %zu answered %d (status %d)", k, r.ret, r.status);
        guard_free((char *)base, k);
    }
    ok(bad == 0, "%s: every strict prefix needs more", name);
}

static void run_vector(enum http_parser_kind kind, const struct rv *v,
                       const char *in, size_t n, struct http_parser *tmpl)
{
    struct result whole, bytes;
    const char *wbase;
    char *bbase;
    size_t fed = 0;

    parse_whole(kind, in, n, tmpl, &whole, &wbase);
    if (v->status) {
        if (!ok(whole.ret == HTTP_ERROR && whole.status == v->status,
                "%s: rejected with %d", v->name, v->status))
            diag("  ret %d status %d", whole.ret, whole.status);
    } else {
        check_fields(v, &whole, n);
    }
    for (int moving = 0; moving <= 1; moving++) {
        parse_bytewise(kind, in, n, !moving, tmpl, &bytes, &bbase, &fed);
        int same = bytes.ret == whole.ret && bytes.status == whole.status
            && (whole.ret < 0 || same_head(&whole.h, wbase, &bytes.h, bbase));
        if (!ok(same, "%s: byte at a time (%s buffer) gives the same answer",
                v->name, moving ? "moving" : "one"))
            diag("  whole %d/%d, bytewise %d/%d after %zu bytes", whole.ret,
                 whole.status, bytes.ret, bytes.status, fed);
        if (bbase)
            guard_free(bbase, fed);
    }
    if (!v->status)
        check_prefixes(kind, v->name, in, whole.ret > 0 ? (size_t)whole.ret : n, tmpl);
    guard_free((char *)wbase, n);
}

/* --- generated vectors: limits --- */

/* A request "GET /aaa... HTTP/1.1" whose request line is exactly linelen
 * bytes (CRLF not counted). */
static char *make_long_line(size_t linelen, size_t *n)
{
    static const char pre[] = "GET /", post[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t tl = linelen - (sizeof(pre) - 1) - (sizeof(" HTTP/1.1") - 1);
    char *s = malloc(linelen + sizeof(post));

    memcpy(s, pre, sizeof(pre) - 1);
    memset(s + sizeof(pre) - 1, 'a', tl);
    memcpy(s + sizeof(pre) - 1 + tl, post, sizeof(post));
    *n = strlen(s);
    return s;
}

/* A request with `count` fields in total (Host included). */
static char *make_many_fields(size_t count, size_t *n)
{
    char *s = malloc(64 + count * 16);
    size_t o = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: a\r\n");

    for (size_t i = 1; i < count; i++)
        o += (size_t)sprintf(s + o, "X-%zu: %zu\r\n", i, i);
    memcpy(s + o, "\r\n", 3);
    *n = o + 2;
    return s;
}

/* A request whose head is exactly headlen bytes: Host plus five fields
 * "X: vvv...\r\n" sharing the rest. */
static char *make_big_head(size_t headlen, size_t *n)
{
    static const char pre[] = "GET / HTTP/1.1\r\nHost: a\r\n";
    char *s = malloc(headlen + 1);
    size_t o = sizeof(pre) - 1, left = headlen - o - 2, m = 5;

    memcpy(s, pre, o);
    for (size_t k = 0; k < m; k++) {
        size_t fl = left / m + (k < left % m);
        memcpy(s + o, "X: ", 3);
        memset(s + o + 3, 'v', fl - 5);
        memcpy(s + o + fl - 2, "\r\n", 2);
        o += fl;
    }
    memcpy(s + o, "\r\n", 3);
    *n = headlen;
    return s;
}

static void run_generated(const char *name, char *in, size_t n, int status,
                          size_t nfields, struct http_parser *tmpl)
{
    struct rv v = { name, in, n, status, ALL, HTTP_M_GET, NULL, 1, -1, 0, "a", nfields, 0 };
    char *target = NULL;

    if (!status) {
        /* the target is what lies between the first two spaces */
        char *sp = strchr(in, ' '), *sp2 = strchr(sp + 1, ' ');
        target = strndup(sp + 1, (size_t)(sp2 - sp - 1));
        v.target = target;
    }
    run_vector(HTTP_PARSE_REQUEST, &v, in, n, tmpl);
    free(target);
    free(in);
}

static void test_limits(void)
{
    size_t n;
    char *s;

    s = make_long_line(HTTP_MAX_REQUEST_LINE, &n);
    run_generated("request line exactly at the limit", s, n, 0, 1, NULL);
    s = make_long_line(HTTP_MAX_REQUEST_LINE + 1, &n);
    run_generated("request line one byte over -> 414", s, n, 414, 0, NULL);
    s = make_many_fields(HTTP_MAX_HEADERS, &n);
    run_generated("100 fields", s, n, 0, HTTP_MAX_HEADERS, NULL);
    s = make_many_fields(HTTP_MAX_HEADERS + 1, &n);
    run_generated("101 fields -> 431", s, n, 431, 0, NULL);
    s = make_big_head(HTTP_MAX_HEAD, &n);
    run_generated("head exactly at the limit", s, n, 0, 6, NULL);
    s = make_big_head(HTTP_MAX_HEAD + 1, &n);
    run_generated("head one byte over -> 431", s, n, 431, 0, NULL);

    /* configured limits */
    struct http_parser tmpl;
    http_parser_init(&tmpl, HTTP_PARSE_REQUEST);
    tmpl.max_line = 20;
    s = strdup("GET /012345 HTTP/1.1\r\nHost: a\r\n\r\n");
    run_generated("configured max_line: 20 bytes fit", s, strlen(s), 0, 1, &tmpl);
    s = strdup("GET /0123456 HTTP/1.1\r\nHost: a\r\n\r\n");
    run_generated("configured max_line: 21 bytes -> 414", s, strlen(s), 414, 0, &tmpl);
    s = strdup("GET /012345 HTTP/1.1 \r\nHost: a\r\n\r\n");
    run_generated("configured max_line: SP at the limit -> 414", s, strlen(s), 414, 0, &tmpl);
    tmpl.max_line = HTTP_MAX_REQUEST_LINE;
    tmpl.max_headers = 2;
    s = strdup("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n");
    run_generated("configured max_headers: 2 fit", s, strlen(s), 0, 2, &tmpl);
    s = strdup("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n");
    run_generated("configured max_headers: 3 -> 431", s, strlen(s), 431, 0, &tmpl);
    tmpl.max_headers = HTTP_MAX_HEADERS;
    tmpl.max_head = 30;
    s = strdup("GET /abc HTTP/1.1\r\nHost: a\r\n\r\n");
    run_generated("configured max_head: 30 bytes fit", s, strlen(s), 0, 1, &tmpl);
    s = strdup("GET /abcd HTTP/1.1\r\nHost: a\r\n\r\n");
    run_generated("configured max_head: 31 bytes -> 431", s, strlen(s), 431, 0, &tmpl);
    s = strdup("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n");
    run_generated("endless empty lines -> 431", s, strlen(s), 431, 0, &tmpl);
}

/* The struct is re-usable after init, and a finished parser keeps its answer. */
static void test_reuse(void)
{
    static const char a[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /bb HTTP/1.1\r\nHost: b\r\n\r\n";
    struct http_parser p;
    struct http_head h;
    size_t n = sizeof(a) - 1;

    http_parser_init(&p, HTTP_PARSE_REQUEST);
    int r1 = http_parse_head(&p, a, n, &h);
    is_int(r1, 28, "first of two pipelined heads");
    is_int(http_parse_head(&p, a, n, &h), 28, "a finished parser answers the same again");
    http_parser_init(&p, HTTP_PARSE_REQUEST);
    int r2 = http_parse_head(&p, a + r1, n - (size_t)r1, &h);
    is_int(r2, 29, "second head after init");
    is_mem(h.target, h.target_len, "/bb", 3, "second target");
    is_mem(h.host, h.host_len, "b", 1, "second Host");
    const struct http_header *hd = http_head_find(&h, "HOST");
    ok(hd && hd->value_len == 1 && hd->value[0] == 'b', "http_head_find ignores case");
    ok(http_head_find(&h, "Content-Length") == NULL, "http_head_find: absent field");

    http_parser_init(&p, HTTP_PARSE_REQUEST);
    is_int(http_parse_head(&p, "FOO / HTTP/1.1\r\n", 16, &h), HTTP_ERROR, "error once");
    is_int(http_parse_head(&p, "GET / HTTP/1.1\r\n", 16, &h), HTTP_ERROR, "error stays");
    ok(p.error != NULL, "error has a reason (%s)", p.error ? p.error : "none");
}

/* --- chunked --- */

struct cv {
    const char *name;
    const char *in;
    const char *body;   /* NULL: error expected */
    const char *rest;   /* bytes after the body; NULL: incomplete (AGAIN) */
};

static const struct cv chunked_vectors[] = {
    { "one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", "" },
    { "three chunks", "3\r\nabc\r\n4\r\ndefg\r\n1\r\nh\r\n0\r\n\r\n", "abcdefgh", "" },
    { "hex sizes both cases", "a\r\n0123456789\r\nA\r\nABCDEFGHIJ\r\n0\r\n\r\n",
      "0123456789ABCDEFGHIJ", "" },
    { "leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", "" },
    { "extension", "5;name=value;x=\"q s\"\r\nhello\r\n0;last\r\n\r\n", "hello", "" },
    { "BWS before extension", "5 \t;x\r\nhello\r\n0\r\n\r\n", "hello", "" },
    { "trailers skipped", "2\r\nhi\r\n0\r\nX-Sum: 1\r\nY: two words\r\n\r\n", "hi", "" },
    { "bytes after the body", "2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "hi", "GET / HTTP/1.1\r\n" },
    { "empty body", "0\r\n\r\n", "", "" },
    { "CRLF inside data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n", "" },
    { "incomplete data", "5\r\nhel", "hel", NULL },
    { "incomplete final CRLF", "1\r\nx\r\n0\r\n\r", "x", NULL },
    { "largest size", "7fffffffffffffff\r\nab", "ab", NULL },
    { "size overflow", "8000000000000000\r\n", NULL, NULL },
    { "size overflow, many digits", "10000000000000000\r\n", NULL, NULL },
    { "32 digits with leading zeros", "00000000000000000000000000000001\r\nx\r\n0\r\n\r\n", "x", "" },
    { "33 digits with leading zeros", "000000000000000000000000000000001\r\nx\r\n0\r\n\r\n", NULL, NULL },
    { "negative size", "-5\r\nhello\r\n0\r\n\r\n", NULL, NULL },
    { "plus sign", "+5\r\nhello\r\n0\r\n\r\n", NULL, NULL },
    { "space before size", " 5\r\nhello\r\n0\r\n\r\n", NULL, NULL },
    { "0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", NULL, NULL },
    { "not hex", "g\r\n", NULL, NULL },
    { "empty size line", "\r\n", NULL, NULL },
    { "trailing space without extension", "5 \r\nhello\r\n0\r\n\r\n", NULL, NULL },
    { "bare LF in size line", "5\nhello\r\n0\r\n\r\n", NULL, NULL },
    { "bare LF after data", "5\r\nhello\n0\r\n\r\n", NULL, NULL },
    { "data longer than size", "5\r\nhelloX\r\n0\r\n\r\n", NULL, NULL },
    { "bare CR after data", "5\r\nhello\rX", NULL, NULL },
    { "control byte in extension", "5;a\x01\r\nhello\r\n0\r\n\r\n", NULL, NULL },
    { "bare LF in trailer", "0\r\nX: 1\n\r\n", NULL, NULL },
    { "trailer starting with SP", "0\r\n X: 1\r\n\r\n", NULL, NULL },
    { "bare LF ending the body", "0\r\n\n", NULL, NULL },
};

struct cres {
    ssize_t ret;
    char out[4096];
    size_t outlen;
    char rest[512];
    size_t restlen;
};

/* Feeds in[0..n) in pieces cut at the given positions (cuts ascending, the
 * last one == n); collects the decoded bytes and what follows the body. */
static void chunked_run(const char *in, size_t n, const size_t *cuts, size_t ncuts,
                        struct cres *r)
{
    struct http_chunked d = { 0 };
    size_t from = 0;

    r->ret = HTTP_AGAIN;
    r->outlen = r->restlen = 0;
    for (size_t c = 0; c < ncuts && r->ret == HTTP_AGAIN; c++) {
        size_t piece = cuts[c] - from;
        char *buf = guard_copy(in + from, piece);
        size_t len = piece;
        r->ret = http_chunked_decode(&d, buf, &len);
        if (len > piece)
            abort();
        memcpy(r->out + r->outlen, buf, len);
        r->outlen += len;
        if (r->ret >= 0) {
            memcpy(r->rest, buf + len, (size_t)r->ret);
            r->restlen = (size_t)r->ret;
            /* the pieces not yet fed follow the body too */
            memcpy(r->rest + r->restlen, in + cuts[c], n - cuts[c]);
            r->restlen += n - cuts[c];
        }
        guard_free(buf, piece);
        from = cuts[c];
    }
    if (r->ret >= 0 && !http_chunked_done(&d))
        r->ret = -100;
}

static int cres_match(const struct cv *v, const struct cres *r)
{
    if (!v->body)
        return r->ret == HTTP_ERROR;
    if (r->outlen != strlen(v->body) || memcmp(r->out, v->body, r->outlen))
        return 0;
    if (!v->rest)
        return r->ret == HTTP_AGAIN;
    return r->ret >= 0 && r->restlen == strlen(v->rest)
        && memcmp(r->rest, v->rest, r->restlen) == 0;
}

static void test_chunked(void)
{
    for (size_t i = 0; i < sizeof(chunked_vectors) / sizeof(chunked_vectors[0]); i++) {
        const struct cv *v = &chunked_vectors[i];
        size_t n = strlen(v->in), cuts[2], bad = 0;
        struct cres r;

        cuts[0] = n;
        chunked_run(v->in, n, cuts, 1, &r);
        if (!ok(cres_match(v, &r), "chunked %s: whole", v->name))
            diag("  ret %zd out %zu rest %zu", r.ret, r.outlen, r.restlen);
        for (size_t k = 1; k < n; k++) {
            cuts[0] = k;
            cuts[1] = n;
            chunked_run(v->in, n, cuts, 2, &r);
            if (!cres_match(v, &r) && !bad++)
                diag("  split at %zu: ret %zd", k, r.ret);
        }
        ok(bad == 0, "chunked %s: split at every byte", v->name);
        size_t *all = malloc(n * sizeof(*all));
        for (size_t k = 0; k < n; k++)
            all[k] = k + 1;
        chunked_run(v->in, n, all, n, &r);
        ok(cres_match(v, &r), "chunked %s: one byte at a time", v->name);
        free(all);
    }
}

/* Extension and trailer caps: the limit fits, one more byte fails. */
static void test_chunked_caps(void)
{
    size_t big = HTTP_MAX_TRAILER + 64;
    char *s = malloc(big + 64);
    struct http_chunked d;
    size_t len;

    for (int over = 0; over <= 1; over++) {
        size_t o = (size_t)sprintf(s, "1;");
        memset(s + o, 'e', HTTP_MAX_CHUNK_EXT - 1 + (size_t)over);
        o += HTTP_MAX_CHUNK_EXT - 1 + (size_t)over;
        o += (size_t)sprintf(s + o, "\r\nx\r\n0\r\n\r\n");
        memset(&d, 0, sizeof(d));
        len = o;
        ssize_t r = http_chunked_decode(&d, s, &len);
        if (over)
            is_int(r, HTTP_ERROR, "chunk extension over the cap fails");
        else
            ok(r == 0 && len == 1 && s[0] == 'x', "chunk extension at the cap passes");
    }
    for (int over = 0; over <= 1; over++) {
        /* trailer block: "X: vvv\r\n" + final "\r\n" = HTTP_MAX_TRAILER (+1) */
        size_t o = (size_t)sprintf(s, "0\r\n"), t = o;
        size_t fl = HTTP_MAX_TRAILER - 2 + (size_t)over;
        memcpy(s + o, "X: ", 3);
        memset(s + o + 3, 'v', fl - 5);
        memcpy(s + o + fl - 2, "\r\n\r\n", 4);
        o += fl + 2;
        memset(&d, 0, sizeof(d));
        len = o;
        ssize_t r = http_chunked_decode(&d, s, &len);
        (void)t;
        if (over)
            is_int(r, HTTP_ERROR, "trailer over the cap fails");
        else
            ok(r == 0 && len == 0 && http_chunked_done(&d), "trailer at the cap passes");
    }
    memset(&d, 0, sizeof(d));
    memcpy(s, "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 20);
    len = 20;
    ok(http_chunked_decode(&d, s, &len) == 0 && d.total == 5, "total counts decoded bytes");
    free(s);
}

/* Decodes in[] whole with the given limit: the return value, with the
 * decoded length and the status in *len / *status. */
static ssize_t chunked_limited(const char *in, uint64_t limit, size_t *len, int *status)
{
    struct http_chunked d = { 0 };
    size_t n = strlen(in);
    char *g = guard_copy(in, n);
    d.limit = limit;
    *len = n;
    ssize_t r = http_chunked_decode(&d, g, len);
    *status = d.status;
    guard_free(g, n);
    return r;
}

/* The body limit is inclusive and checked on the size line: a chunk that
 * would pass it fails before its data, whatever follows. */
static void test_chunked_limit(void)
{
    static const struct {
        const char *in;
        uint64_t limit;
        ssize_t ret;
        size_t len;
        int status;
        const char *name;
    } v[] = {
        { "a\r\n0123456789\r\n0\r\n\r\n", 10, 0, 10, 0, "one chunk of exactly the limit" },
        { "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 10, 0, 10, 0, "two chunks up to the limit" },
        { "b\r\n", 10, HTTP_ERROR, 0, 413, "size line of the limit + 1, no data" },
        { "B;x", 10, HTTP_ERROR, 0, 413, "refused where the digits end" },
        { "B", 10, HTTP_AGAIN, 0, 0, "digits alone: more may follow" },
        { "10000000000000005\r\n", 10, HTTP_ERROR, 0, 400, "overflow: malformed, 400" },
        { "7FFFFFFFFFFFFFFF\r\n", 1u << 20, HTTP_ERROR, 0, 413, "2^63-1 against 1 MiB" },
        { "00000000000b\r\n", 10, HTTP_ERROR, 0, 413, "leading zeros change nothing" },
        { "5\r\nhello\r\n6\r\n", 10, HTTP_ERROR, 5, 413, "second chunk past the total" },
        { "7FFFFFFFFFFFFFFF\r\n", 0, HTTP_AGAIN, 0, 0, "no limit: a huge size waits for data" },
        { "zz\r\n", 10, HTTP_ERROR, 0, 400, "malformed: 400, not 413" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t len;
        int status;
        ssize_t r = chunked_limited(v[i].in, v[i].limit, &len, &status);
        if (!ok(r == v[i].ret && len == v[i].len && (r != HTTP_ERROR || status == v[i].status),
                "chunked limit: %s", v[i].name))
            diag("  got ret %zd len %zu status %d, want %zd %zu %d", r, len, status,
                 v[i].ret, v[i].len, v[i].status);
    }
}

/* Every byte value at every position of a 40-byte field value: the word at
 * a time scan must agree with the byte table. */
static void test_value_bytes(void)
{
    static const char pre[] = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
    char in[128];
    size_t bad = 0, n = sizeof(pre) - 1 + 40 + 4;

    for (int c = 0; c < 256; c++) {
        bool valid = c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
        if (c == '\r')
            continue;   /* ends the value: a bare CR, covered above */
        for (size_t at = 0; at < 40; at++) {
            struct http_parser p;
            struct http_head h;
            memcpy(in, pre, sizeof(pre) - 1);
            memset(in + sizeof(pre) - 1, 'v', 40);
            in[sizeof(pre) - 1 + at] = (char)c;
            memcpy(in + sizeof(pre) - 1 + 40, "\r\n\r\n", 4);
            char *g = guard_copy(in, n);
            http_parser_init(&p, HTTP_PARSE_REQUEST);
            int r = http_parse_head(&p, g, n, &h);
            if ((valid ? r != (int)n : r != HTTP_ERROR || p.status != 400) && !bad++)
                diag("  byte %#x at %zu: %d", (unsigned)c, at, r);
            guard_free(g, n);
        }
    }
    ok(bad == 0, "every byte at every position of a value");
}

int main(void)
{
    size_t nreq = sizeof(req_vectors) / sizeof(req_vectors[0]);
    size_t nresp = sizeof(resp_vectors) / sizeof(resp_vectors[0]);

    diag("%zu request vectors, %zu response vectors", nreq, nresp);
    ok(nreq >= 60, "at least 60 request vectors");
    for (size_t i = 0; i < nreq; i++)
        run_vector(HTTP_PARSE_REQUEST, &req_vectors[i], req_vectors[i].in,
                   req_vectors[i].inlen, NULL);
    for (size_t i = 0; i < nresp; i++)
        run_vector(HTTP_PARSE_RESPONSE, &resp_vectors[i], resp_vectors[i].in,
                   resp_vectors[i].inlen, NULL);
    test_limits();
    test_reuse();
    test_value_bytes();
    test_chunked();
    test_chunked_caps();
    test_chunked_limit();
    return done_testing();
}
