/*
 * static_util.c - pure field-value helpers of the static file service:
 * ETag making and matching, Range parsing, Accept-Encoding.  No I/O, no
 * allocation, no HTTP engine types.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "weaprous/static.h"

#if defined(__APPLE__)
#define st_mtim st_mtimespec
#endif

#define QVALUE_MAX 1000   /* qvalues are kept in thousandths */

static bool util_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool util_digit(char c)
{
    return c >= '0' && c <= '9';
}

char *static_etag(const struct stat *st, char out[STATIC_ETAG_MAX])
{
    /* size-mtime in hex, like nginx, with the mtime in nanoseconds (two
     * writes of the same size within one second still differ).  No inode
     * (Apache's FileETag INode trap): load-balanced backends serving copies
     * of one tree must give the same ETag for the same file. */
    uint64_t ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u
                  + (uint64_t)st->st_mtim.tv_nsec;
    snprintf(out, STATIC_ETAG_MAX, "\"%" PRIx64 "-%" PRIx64 "\"",
             (uint64_t)st->st_size, ns);
    return out;
}

/* Parses one entity-tag at *pp ([W/] DQUOTE etagc* DQUOTE); sets the opaque
 * part (with quotes) and the weak flag.  false when malformed. */
static bool etag_parse(const char **pp, const char **op, size_t *on, bool *weak)
{
    const char *p = *pp;
    *weak = false;
    if (p[0] == 'W' && p[1] == '/') {
        *weak = true;
        p += 2;
    }
    if (*p != '"')
        return false;
    const char *q = p + 1;
    while (*q && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c < 0x21 || c == 0x7f)   /* etagc: %x21 / %x23-7E / obs-text */
            return false;
        q++;
    }
    if (*q != '"')
        return false;
    *op = p;
    *on = (size_t)(q + 1 - p);
    *pp = q + 1;
    return true;
}

bool static_etag_match(const char *field, const char *etag, bool weak)
{
    const char *ours = etag, *oo;
    size_t on;
    bool ow;
    if (!field || !etag_parse(&ours, &oo, &on, &ow))
        return false;
    const char *p = field;
    for (;;) {
        while (util_ows(*p) || *p == ',')
            p++;
        if (*p == '\0')
            return false;
        if (*p == '*')
            return true;
        const char *to;
        size_t tn;
        bool tw;
        if (!etag_parse(&p, &to, &tn, &tw))
            return false;
        if ((weak || (!tw && !ow)) && tn == on && memcmp(to, oo, on) == 0)
            return true;
        while (util_ows(*p))
            p++;
        if (*p != ',' && *p != '\0')
            return false;
    }
}

/* Parses 1*DIGIT, saturating at INT64_MAX.  false when there is no digit. */
static bool range_number(const char **pp, int64_t *out)
{
    const char *p = *pp;
    int64_t v = 0;
    if (!util_digit(*p))
        return false;
    for (; util_digit(*p); p++) {
        int d = *p - '0';
        v = (v > (INT64_MAX - d) / 10) ? INT64_MAX : v * 10 + d;
    }
    *pp = p;
    *out = v;
    return true;
}

/* One range-spec: "a-b", "a-" or "-n"; first = -1 marks a suffix.
 * last = -1 when open.  false when malformed (including b < a). */
static bool range_spec(const char **pp, int64_t *first, int64_t *last)
{
    *first = -1;
    *last = -1;
    if (**pp != '-' && !range_number(pp, first))
        return false;
    if (**pp != '-')
        return false;
    (*pp)++;
    if (util_digit(**pp) && !range_number(pp, last))
        return false;
    if (*first < 0 && *last < 0)
        return false;                  /* "-" alone */
    return *first < 0 || *last < 0 || *last >= *first;
}

/* Turns one valid spec into the bytes to send of a size-byte file. */
static enum static_range_kind range_resolve(int64_t a, int64_t b, int64_t size,
                                            int64_t *first, int64_t *len)
{
    if (a < 0) {                       /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return STATIC_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
    } else {
        if (a >= size)
            return STATIC_RANGE_UNSATISFIABLE;
        *first = a;
    }
    int64_t end = (a < 0 || b < 0 || b >= size) ? size - 1 : b;
    *len = end - *first + 1;
    return STATIC_RANGE_OK;
}

enum static_range_kind static_range_parse(const char *value, int64_t size,
                                          int64_t *first, int64_t *len)
{
    if (!value || strnlen(value, STATIC_MAX_RANGE_HDR + 1) > STATIC_MAX_RANGE_HDR
        || strncasecmp(value, "bytes=", 6) != 0 || size < 0)
        return STATIC_RANGE_NONE;
    const char *p = value + 6;
    int count = 0;
    int64_t a = -1, b = -1;
    for (;;) {
        while (util_ows(*p) || *p == ',')   /* empty list elements are legal */
            p++;
        if (*p == '\0')
            break;
        if (!range_spec(&p, &a, &b))
            return STATIC_RANGE_NONE;   /* an invalid Range is ignored */
        count++;
        while (util_ows(*p))
            p++;
        if (*p != ',' && *p != '\0')
            return STATIC_RANGE_NONE;
    }
    /* Several ranges: the whole file (RFC 9110 14.2 lets us ignore Range). */
    if (count != 1)
        return STATIC_RANGE_NONE;
    return range_resolve(a, b, size, first, len);
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths; -1 when malformed. */
static int ae_qvalue(const char *p, size_t n)
{
    if (n == 0 || (p[0] != '0' && p[0] != '1'))
        return -1;
    int v = (p[0] - '0') * QVALUE_MAX;
    if (n == 1)
        return v;
    if (p[1] != '.' || n > 5)
        return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (!util_digit(p[i]))
            return -1;
        v += (p[i] - '0') * scale;
    }
    return v > QVALUE_MAX ? -1 : v;
}

/* The q of one element's parameters (";q=0.5;x=y"), 1000 when absent.  A
 * malformed q counts as 0: when in doubt, do not send gzip. */
static int ae_element_q(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (util_ows(p[i]) || p[i] == ';'))
            i++;
        size_t s = i;
        while (i < n && p[i] != ';')
            i++;
        size_t e = i;
        while (e > s && util_ows(p[e - 1]))
            e--;
        if (e - s >= 2 && (p[s] == 'q' || p[s] == 'Q') && p[s + 1] == '=') {
            int q = ae_qvalue(p + s + 2, e - s - 2);
            return q < 0 ? 0 : q;
        }
    }
    return QVALUE_MAX;
}

bool static_accepts_gzip(const char *accept_encoding)
{
    if (!accept_encoding)
        return false;
    int gzip_q = -1, star_q = -1;
    const char *p = accept_encoding;
    while (*p) {
        while (util_ows(*p) || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t tn = strcspn(p, ",; \t");
        int q = ae_element_q(p + tn, n - tn);
        if ((tn == 4 && strncasecmp(p, "gzip", 4) == 0)
            || (tn == 6 && strncasecmp(p, "x-gzip", 6) == 0))
            gzip_q = q > gzip_q ? q : gzip_q;
        else if (tn == 1 && *p == '*')
            star_q = q;
        p += n;
    }
    return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}
