/* ws_handshake.c - the server side of the RFC 6455 opening handshake.  See
 * weaprous/ws.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "weaprous/ws.h"

/* Sec-WebSocket-Key must be the base64 of exactly 16 bytes (4.1, 4.2.1). */
static bool ws_key_valid(const struct http_header *k)
{
    unsigned char raw[BASE64_DECODED_MAX(WS_KEY_LEN)];

    return k && k->value_len == WS_KEY_LEN &&
           base64_decode(k->value, k->value_len, raw, sizeof raw) == 16;
}

/* The field name, if the head carries it exactly once; NULL if absent or
 * repeated (RFC 6455 11.3.1: the key must not appear more than once; two
 * keys leave the accept value ambiguous). */
static const struct http_header *ws_field_once(const struct http_head *h, const char *name)
{
    const struct http_header *found = NULL;
    size_t n = strlen(name);

    for (size_t i = 0; i < h->num_headers; i++) {
        const struct http_header *f = &h->headers[i];
        if (f->name_len != n || strncasecmp(f->name, name, n) != 0)
            continue;
        if (found)
            return NULL;
        found = f;
    }
    return found;
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
    if (!ws_key_valid(ws_field_once(h, "Sec-WebSocket-Key")))
        return 400;
    if (!ver)
        return 400;
    if (ver->value_len != 2 || memcmp(ver->value, "13", 2) != 0)
        return 426;
    return 0;
}

int ws_client_request(char *out, size_t cap, const char *host, const char *target,
                      char key[WS_KEY_LEN + 1])
{
    unsigned char raw[16];

    if (!http_is_field_value(host, strlen(host)) || !*target ||
        strpbrk(target, " \t\r\n") || strpbrk(host, " \t")) {
        errno = EINVAL;
        return -1;
    }
    if (ws_random(raw, sizeof raw) < 0)
        return -1;
    base64_encode(raw, sizeof raw, key);
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n", target, host, key);
    if (n < 0 || (size_t)n >= cap) {
        errno = ENOBUFS;
        return -1;
    }
    return n;
}

int ws_client_check_response(const struct http_head *h, const char *key)
{
    const struct http_header *up = http_head_find(h, "Upgrade");
    const struct http_header *acc = http_head_find(h, "Sec-WebSocket-Accept");
    char want[WS_ACCEPT_LEN + 1];

    if (h->status != 101 || !up || !http_list_has(up->value, up->value_len, "websocket") ||
        !(h->flags & HTTP_F_CONN_UPGRADE) || !acc)
        return -1;
    /* we offer no extension, so the server may not pick one (4.1) */
    if (http_head_find(h, "Sec-WebSocket-Extensions"))
        return -1;
    ws_accept_key(key, strlen(key), want);
    if (acc->value_len != WS_ACCEPT_LEN || memcmp(acc->value, want, WS_ACCEPT_LEN) != 0)
        return -1;
    return 0;
}
