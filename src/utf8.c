/* utf8.c - strict UTF-8 validation.  See weaprous/utf8.h. */
#include "config.h"

#include "weaprous/utf8.h"

/* Leading byte -> how many continuation bytes follow and the range the first
 * of them must fall in (RFC 3629 table 3-7): this is what excludes overlong
 * forms, surrogates and code points above U+10FFFF. */
static int utf8_lead(unsigned char c, struct utf8_state *st)
{
    st->lo = 0x80;
    st->hi = 0xBF;
    if (c < 0x80) { st->need = 0; return 0; }
    if (c < 0xC2) return -1;
    if (c < 0xE0) { st->need = 1; return 0; }
    if (c < 0xF0) {
        st->need = 2;
        if (c == 0xE0) st->lo = 0xA0;
        if (c == 0xED) st->hi = 0x9F;
        return 0;
    }
    if (c < 0xF5) {
        st->need = 3;
        if (c == 0xF0) st->lo = 0x90;
        if (c == 0xF4) st->hi = 0x8F;
        return 0;
    }
    return -1;
}

enum utf8_result utf8_feed(struct utf8_state *st, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (st->need == 0) {
            if (c < 0x80)
                continue;
            if (utf8_lead(c, st) < 0)
                return UTF8_INVALID;
            continue;
        }
        if (c < st->lo || c > st->hi)
            return UTF8_INVALID;
        st->need--;
        st->lo = 0x80;
        st->hi = 0xBF;
    }
    return st->need ? UTF8_PARTIAL : UTF8_COMPLETE;
}

bool utf8_valid(const void *p, size_t n)
{
    struct utf8_state st = {0};
    return utf8_feed(&st, p, n) == UTF8_COMPLETE;
}

size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > 0x10FFFF)
        return 0;
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
