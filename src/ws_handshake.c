/* ws_handshake.c - the server side of the RFC 6455 opening handshake.  See
 * weaprous/ws.h. */
#include "config.h"

#include <string.h>

#include "base64.h"
#include "weaprous/ws.h"

/* Sec-WebSocket-Key must be the base64 of exactly 16 bytes (4.1, 4.2.1). */
static bool ws_key_valid(const struct http_header *k)
{
    unsigned char raw[BASE64_DECODED_MAX(WS_KEY_LEN)];

    return k && k->value_len == WS_KEY_LEN &&
           base64_decode(k->value, k->value_len, raw, sizeof raw) == 16;
}

int ws_handshake_check(const struct http_head *h)
{
    const struct http_header *up = http_head_find(h, "Upgrade");
    const struct http_header *ver = http_head_find(h, "Sec-WebSocket-Version");

    if (h->method != HTTP_M_GET)
        return 400;
    if (h->version_major != 1 || h->version_minor < 1)
        return 400;
    if (!up || !http_list_has(up->value, up->value_len, "websocket"))
        return 400;
    if (!(h->flags & HTTP_F_CONN_UPGRADE))
        return 400;
    if (!ws_key_valid(http_head_find(h, "Sec-WebSocket-Key")))
        return 400;
    if (!ver)
        return 400;
    if (ver->value_len != 2 || memcmp(ver->value, "13", 2) != 0)
        return 426;
    return 0;
}
