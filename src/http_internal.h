/*
 * http_internal.h - character tables, the class scanners and the list
 * iterator shared by http_parser.c and http_util.c.  Not installed:
 * nothing here is API.
 */
#ifndef WEAPROUS_HTTP_INTERNAL_H
#define WEAPROUS_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bits of http_ctype[c]. */
#define CT_TCHAR  0x01  /* token character (RFC 9110 5.6.2) */
#define CT_VALUE  0x02  /* field-value character: HTAB, SP, VCHAR, obs-text */
#define CT_TARGET 0x04  /* request-target character: VCHAR, obs-text */
#define CT_HOST   0x08  /* character allowed in a Host value */
#define CT_OWS    0x10  /* SP or HTAB */

#define HTTP_HEX_BAD 0xff  /* http_hexval[c] for a non-hex byte */

extern const uint8_t http_ctype[256];
extern const uint8_t http_hexval[256];

static inline int http_lc(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Case-insensitive equality of s[0..n) and the lowercase string lit[0..n). */
static inline int http_ieq(const char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (http_lc((unsigned char)s[i]) != (unsigned char)lit[i])
            return 0;
    return 1;
}

/*
 * Iterates the elements of a comma-separated list (RFC 9110 5.6.1): from
 * *pos, skips empty elements and OWS, sets *elem / *elen to the next element
 * with OWS trimmed.  Returns 0 when the list is exhausted.
 */
static inline int http_list_next(const char *s, size_t n, size_t *pos,
                                 const char **elem, size_t *elen)
{
    size_t i = *pos;

    while (i < n && (s[i] == ',' || (http_ctype[(unsigned char)s[i]] & CT_OWS)))
        i++;
    if (i == n) {
        *pos = n;
        return 0;
    }
    size_t start = i;
    while (i < n && s[i] != ',')
        i++;
    size_t end = i;
    while (end > start && (http_ctype[(unsigned char)s[end - 1]] & CT_OWS))
        end--;
    *elem = s + start;
    *elen = end - start;
    *pos = i;
    return 1;
}

/* The first index in [i, lim) whose byte is not of class cls, or lim.
 * Unrolled: this loop is where the parser spends its time. */
static inline size_t http_skip_class(const unsigned char *b, size_t i, size_t lim,
                                     unsigned cls)
{
#define SKIP_ONE(k) if (!(http_ctype[b[i + k]] & cls)) return i + k
    while (lim - i >= 8) {
        SKIP_ONE(0); SKIP_ONE(1); SKIP_ONE(2); SKIP_ONE(3);
        SKIP_ONE(4); SKIP_ONE(5); SKIP_ONE(6); SKIP_ONE(7);
        i += 8;
    }
#undef SKIP_ONE
    while (i < lim && (http_ctype[b[i]] & cls))
        i++;
    return i;
}

/* http_skip_class(CT_VALUE) eight bytes at a time: a word none of whose
 * bytes is below 0x20 or equal to 0x7f is all field-value bytes.  A word
 * that may hold one (HTAB included) goes through the byte loop. */
static inline size_t http_skip_value(const unsigned char *b, size_t i, size_t lim)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;

    while (lim - i >= 8) {
        uint64_t x, y;
        memcpy(&x, b + i, 8);
        y = x ^ (ones * 0x7f);
        if (((x - ones * 0x20) & ~x & highs) | ((y - ones) & ~y & highs))
            break;
        i += 8;
    }
    return http_skip_class(b, i, lim, CT_VALUE);
}

#endif
