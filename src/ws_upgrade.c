/* ws_upgrade.c - the WebSocket endpoint on the HTTP server engine: from an
 * http_txn to a running ws_conn.  See weaprous/ws.h. */
#include "config.h"

#include <stdio.h>

#include "weaprous/server.h"
#include "weaprous/ws.h"

#define WS_RESPONSE_MAX 256   /* the 101 answer */

/* Refusals go through the engine's answers: 426 must name the version we
 * speak (RFC 6455 4.4), everything else is a plain 400. */
static void ws_refuse(http_txn *t, int status)
{
    static const char body[] = "WebSocket version 13 required\n";

    if (status != 426) {
        http_txn_error(t, status);
        return;
    }
    if (http_txn_add_header(t, "Sec-WebSocket-Version", "13") < 0) {
        http_txn_error(t, 400);
        return;
    }
    http_txn_reply(t, 426, "text/plain; charset=utf-8", body, sizeof body - 1);
}

ws_conn *ws_upgrade(http_txn *t, const struct ws_config *cfg,
                    const struct ws_handlers *h, void *arg)
{
    int status = ws_handshake_check(http_txn_head(t));
    char accept[WS_ACCEPT_LEN + 1], resp[WS_RESPONSE_MAX];
    ev_loop *loop = http_txn_loop(t);
    buf rest;

    if (status != 0) {
        ws_refuse(t, status);
        return NULL;
    }
    const char *key = http_txn_header(t, "Sec-WebSocket-Key");
    ws_accept_key(key, WS_KEY_LEN, accept);
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
    /* frames the client sent right behind its request come along */
    buf_init(&rest, CONN_IN_CAP);
    int fd = http_txn_hijack(t, &rest);
    if (fd < 0) {
        buf_free(&rest);
        return NULL;
    }
    ws_conn *c = ws_conn_new(loop, fd, WS_ROLE_SERVER, cfg, h, arg, resp, (size_t)n,
                             buf_ptr(&rest), buf_len(&rest));
    buf_free(&rest);
    return c;
}
