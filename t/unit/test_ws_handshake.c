/* test_ws_handshake.c - ws_handshake_check on parsed request heads: the
 * valid handshake and each way of breaking it (400), a wrong version (426). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "weaprous/http.h"
#include "weaprous/ws.h"
#include "tap.h"

static int check(const char *head)
{
    static struct http_parser p;
    static struct http_head h;

    http_parser_init(&p, HTTP_PARSE_REQUEST);
    if (http_parse_head(&p, head, strlen(head), &h) <= 0)
        return -1;
    return ws_handshake_check(&h);
}

/* Builds a request from the good one with field `drop` removed (NULL:
 * none) and `extra` lines added. */
static const char *make(const char *line, const char *drop, const char *extra)
{
    static char out[1024];
    static const char *fields[] = {
        "Host: x", "Upgrade: websocket", "Connection: keep-alive, Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
    };
    size_t n = (size_t)snprintf(out, sizeof out, "%s\r\n", line);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!drop || strncmp(fields[i], drop, strlen(drop)) != 0)
            n += (size_t)snprintf(out + n, sizeof out - n, "%s\r\n", fields[i]);
    snprintf(out + n, sizeof out - n, "%s\r\n", extra ? extra : "");
    return out;
}

int main(void)
{
    const char *get = "GET /chat HTTP/1.1";

    is_int(check(make(get, NULL, NULL)), 0, "valid handshake");
    is_int(check(make(get, "Upgrade", "Upgrade: WebSocket\r\n")), 0, "Upgrade is case-insensitive");
    is_int(check(make(get, "Connection", "Connection: upgrade\r\n")), 0, "Connection: upgrade alone");
    is_int(check(make("POST /chat HTTP/1.1", NULL, "Content-Length: 0\r\n")), 400, "POST -> 400");
    is_int(check(make("GET /chat HTTP/1.0", NULL, NULL)), 400, "HTTP/1.0 -> 400");
    is_int(check(make(get, "Upgrade", NULL)), 400, "no Upgrade -> 400");
    is_int(check(make(get, "Upgrade", "Upgrade: h2c\r\n")), 400, "Upgrade: h2c -> 400");
    is_int(check(make(get, "Connection", NULL)), 400, "no Connection -> 400");
    is_int(check(make(get, "Connection", "Connection: keep-alive\r\n")), 400,
           "Connection without upgrade -> 400");
    is_int(check(make(get, "Sec-WebSocket-Key", NULL)), 400, "no key -> 400");
    is_int(check(make(get, "Sec-WebSocket-Key", "Sec-WebSocket-Key: abc\r\n")), 400,
           "short key -> 400");
    is_int(check(make(get, "Sec-WebSocket-Key",
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=A\r\n")), 400,
           "malformed base64 key -> 400");
    is_int(check(make(get, "Sec-WebSocket-Key",
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZT8/\r\n")), 400,
           "key of 18 bytes -> 400");
    is_int(check(make(get, "Sec-WebSocket-Version", NULL)), 400, "no version -> 400");
    is_int(check(make(get, "Sec-WebSocket-Version", "Sec-WebSocket-Version: 8\r\n")), 426,
           "version 8 -> 426");
    is_int(check(make(get, "Sec-WebSocket-Version", "Sec-WebSocket-Version: 130\r\n")), 426,
           "version 130 -> 426");

    /* the client side: our request passes our own check, and the answer
     * built from it is accepted, a wrong one is not */
    char reqbuf[512], key[WS_KEY_LEN + 1], key2[WS_KEY_LEN + 1], acc[WS_ACCEPT_LEN + 1];
    int n = ws_client_request(reqbuf, sizeof reqbuf, "example.org:80", "/chat?x=1", key);
    ok(n > 0 && strlen(key) == WS_KEY_LEN, "client request built (%d)", n);
    is_int(check(reqbuf), 0, "client request is a valid handshake");
    ws_client_request(reqbuf, sizeof reqbuf, "h", "/", key2);
    ok(strcmp(key, key2) != 0, "keys differ between requests");
    ok(ws_client_request(reqbuf, sizeof reqbuf, "h", "/a b", key) == -1, "space in target refused");
    ok(ws_client_request(reqbuf, 20, "h", "/", key) == -1, "small buffer refused");
    ws_client_request(reqbuf, sizeof reqbuf, "h", "/", key);
    ws_accept_key(key, strlen(key), acc);
    static char resp[512];
    static struct http_parser p;
    static struct http_head h;
#define RESPONSE_FMT "HTTP/1.1 %d Switching Protocols\r\nUpgrade: websocket\r\n" \
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n"
    struct { int status; const char *accept, *extra; int want; const char *name; } v[] = {
        { 101, acc, "", 0, "right accept key" },
        { 101, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "", -1, "wrong accept key" },
        { 200, acc, "", -1, "status 200" },
        { 101, acc, "Sec-WebSocket-Extensions: permessage-deflate\r\n", -1, "unasked extension" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        snprintf(resp, sizeof resp, RESPONSE_FMT, v[i].status, v[i].accept, v[i].extra);
        http_parser_init(&p, HTTP_PARSE_RESPONSE);
        int r = http_parse_head(&p, resp, strlen(resp), &h);
        ok(r > 0 && ws_client_check_response(&h, key) == v[i].want, "response: %s", v[i].name);
    }
    return done_testing();
}
