/* base64.c - RFC 4648 Base64.  See base64.h. */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include "base64.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(const void *src, size_t n, char *dst)
{
    const unsigned char *s = src;
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n) v |= s[i + 2];
        dst[o++] = base64_alphabet[(v >> 18) & 63];
        dst[o++] = base64_alphabet[(v >> 12) & 63];
        dst[o++] = i + 1 < n ? base64_alphabet[(v >> 6) & 63] : '=';
        dst[o++] = i + 2 < n ? base64_alphabet[v & 63] : '=';
    }
    dst[o] = '\0';
    return o;
}

/* Value of one alphabet character, -1 for anything else (padding included). */
static int base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes one 4-character group; `last` allows padding.  Returns the bytes
 * produced (1-3) or -1. */
static int base64_group(const unsigned char *q, int last, unsigned char out[3])
{
    int pad = 0, v[4];

    if (last && q[3] == '=')
        pad = q[2] == '=' ? 2 : 1;
    for (int i = 0; i < 4 - pad; i++)
        if ((v[i] = base64_value(q[i])) < 0)
            return -1;
    for (int i = 4 - pad; i < 4; i++)
        v[i] = 0;
    /* canonical form: the bits dropped by padding must be zero */
    if ((pad == 2 && (v[1] & 0x0F)) || (pad == 1 && (v[2] & 0x03)))
        return -1;
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                 (uint32_t)v[2] << 6 | (uint32_t)v[3];
    out[0] = (unsigned char)(w >> 16);
    out[1] = (unsigned char)(w >> 8);
    out[2] = (unsigned char)w;
    return 3 - pad;
}

ssize_t base64_decode(const char *src, size_t n, void *dst, size_t dst_cap)
{
    const unsigned char *s = (const unsigned char *)src;
    unsigned char *d = dst, tmp[3];
    size_t o = 0;

    if (n % 4 != 0) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < n; i += 4) {
        int got = base64_group(s + i, i + 4 == n, tmp);
        if (got < 0) {
            errno = EINVAL;
            return -1;
        }
        if (o + (size_t)got > dst_cap) {
            errno = ENOBUFS;
            return -1;
        }
        for (int k = 0; k < got; k++)
            d[o++] = tmp[k];
    }
    return (ssize_t)o;
}
