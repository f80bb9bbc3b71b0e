/*
 * http_util.c - the pure HTTP helpers: character tables, status texts,
 * methods, field lookup, lists, dates, percent-decoding and form bodies.
 * Nothing here allocates or does I/O.
 */
#include "config.h"

#include <string.h>

#include "weaprous/http.h"
#include "http_internal.h"

/* Longest decoded name or value http_form_parse() hands out: it decodes into
 * stack buffers, and a login or settings form never comes near this. */
#define HTTP_FORM_MAX_FIELD 16384

/* Character classes (CT_* bits of http_internal.h), generated from the RFC
 * 9110 grammar: tchar, field-vchar / SP / HTAB, request-target bytes, Host
 * bytes (unreserved, sub-delims, ':', '[', ']', '%'), OWS. */
const uint8_t http_ctype[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  /* 00-0f */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  /* 10-1f */
    0x12, 0x0f, 0x06, 0x07, 0x0f, 0x0f, 0x0f, 0x0f, 0x0e, 0x0e, 0x0f, 0x0f, 0x0e, 0x0f, 0x0f, 0x06,  /* 20-2f */
    0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0e, 0x0e, 0x06, 0x0e, 0x06, 0x06,  /* 30-3f */
    0x06, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f,  /* 40-4f */
    0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0e, 0x06, 0x0e, 0x07, 0x0f,  /* 50-5f */
    0x07, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f,  /* 60-6f */
    0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x06, 0x07, 0x06, 0x0f, 0x00,  /* 70-7f */
    0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,  /* 80-8f */
    0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,  /* 90-9f */
    0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,  /* a0-af */
    0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,  /* b0-bf */
    0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,  /* c0-cf */
    0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,  /* d0-df */
    0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,  /* e0-ef */
    0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,  /* f0-ff */
};

#define X HTTP_HEX_BAD
const uint8_t http_hexval[256] = {
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, X, X, X, X, X, X,
    X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef X

/* --- status texts and methods --- */

#define HTTP_STATUS_MAX 600

static const char *const status_texts[HTTP_STATUS_MAX] = {
    [100] = "Continue", [101] = "Switching Protocols",
    [200] = "OK", [201] = "Created", [202] = "Accepted",
    [203] = "Non-Authoritative Information", [204] = "No Content",
    [205] = "Reset Content", [206] = "Partial Content",
    [300] = "Multiple Choices", [301] = "Moved Permanently", [302] = "Found",
    [303] = "See Other", [304] = "Not Modified", [307] = "Temporary Redirect",
    [308] = "Permanent Redirect",
    [400] = "Bad Request", [401] = "Unauthorized", [402] = "Payment Required",
    [403] = "Forbidden", [404] = "Not Found", [405] = "Method Not Allowed",
    [406] = "Not Acceptable", [407] = "Proxy Authentication Required",
    [408] = "Request Timeout", [409] = "Conflict", [410] = "Gone",
    [411] = "Length Required", [412] = "Precondition Failed",
    [413] = "Content Too Large", [414] = "URI Too Long",
    [415] = "Unsupported Media Type", [416] = "Range Not Satisfiable",
    [417] = "Expectation Failed", [421] = "Misdirected Request",
    [422] = "Unprocessable Content", [426] = "Upgrade Required",
    [428] = "Precondition Required", [429] = "Too Many Requests",
    [431] = "Request Header Fields Too Large",
    [500] = "Internal Server Error", [501] = "Not Implemented",
    [502] = "Bad Gateway", [503] = "Service Unavailable",
    [504] = "Gateway Timeout", [505] = "HTTP Version Not Supported",
};

const char *http_status_text(int status)
{
    if (status < 0 || status >= HTTP_STATUS_MAX || !status_texts[status])
        return "Unknown";
    return status_texts[status];
}

static const struct {
    const char *name;
    uint8_t len;
    bool idempotent;    /* RFC 9110 9.2.2 */
} methods[HTTP_M__COUNT] = {
    [HTTP_M_UNKNOWN] = { "UNKNOWN", 7, false },
    [HTTP_M_GET]     = { "GET", 3, true },
    [HTTP_M_HEAD]    = { "HEAD", 4, true },
    [HTTP_M_POST]    = { "POST", 4, false },
    [HTTP_M_PUT]     = { "PUT", 3, true },
    [HTTP_M_DELETE]  = { "DELETE", 6, true },
    [HTTP_M_OPTIONS] = { "OPTIONS", 7, true },
    [HTTP_M_PATCH]   = { "PATCH", 5, false },
    [HTTP_M_CONNECT] = { "CONNECT", 7, false },
    [HTTP_M_TRACE]   = { "TRACE", 5, true },
};

/* Methods are case-sensitive (RFC 9110 9.1). */
enum http_method http_method_parse(const char *s, size_t n)
{
    for (int m = HTTP_M_UNKNOWN + 1; m < HTTP_M__COUNT; m++)
        if (methods[m].len == n && memcmp(methods[m].name, s, n) == 0)
            return (enum http_method)m;
    return HTTP_M_UNKNOWN;
}

/* "UNKNOWN" for HTTP_M_UNKNOWN or a value out of range, never NULL. */
const char *http_method_name(enum http_method m)
{
    if ((int)m < 0 || m >= HTTP_M__COUNT)
        m = HTTP_M_UNKNOWN;
    return methods[m].name;
}

bool http_method_idempotent(enum http_method m)
{
    return (int)m > 0 && m < HTTP_M__COUNT && methods[m].idempotent;
}

/* --- fields and lists --- */

static bool case_equal(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (http_lc((unsigned char)a[i]) != http_lc((unsigned char)b[i]))
            return false;
    return true;
}

const struct http_header *http_head_find(const struct http_head *h, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < h->num_headers; i++) {
        const struct http_header *hd = &h->headers[i];
        if (hd->name_len == n && case_equal(hd->name, name, n))
            return hd;
    }
    return NULL;
}

bool http_list_has(const char *value, size_t len, const char *token)
{
    size_t pos = 0, elen, n = strlen(token);
    const char *e;

    while (http_list_next(value, len, &pos, &e, &elen))
        if (elen == n && case_equal(e, token, n))
            return true;
    return false;
}

bool http_is_token(const char *s, size_t n)
{
    return n > 0 && http_skip_class((const unsigned char *)s, 0, n, CT_TCHAR) == n;
}

/* RFC 9110 5.5 field-value bytes: HTAB, SP, VCHAR, obs-text.  This refuses
 * every control byte, not only CR, LF and NUL.  The parser's scanner, eight
 * bytes at a time: every field of every answer comes through here. */
bool http_is_field_value(const char *s, size_t n)
{
    return http_skip_value((const unsigned char *)s, 0, n) == n;
}

/* --- dates (RFC 9110 5.6.7) --- */

static const char wday_names[7][4] = {
    "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const wday_long[7] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"
};
static const char month_names[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static void put_2digits(char *o, int v)
{
    o[0] = (char)('0' + v / 10 % 10);
    o[1] = (char)('0' + v % 10);
}

char *http_date_format(time_t t, char out[30])
{
    struct tm tm;

    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    memcpy(out, wday_names[tm.tm_wday], 3);
    memcpy(out + 3, ", ", 2);
    put_2digits(out + 5, tm.tm_mday);
    out[7] = ' ';
    memcpy(out + 8, month_names[tm.tm_mon], 3);
    out[11] = ' ';
    put_2digits(out + 12, (tm.tm_year + 1900) / 100);
    put_2digits(out + 14, (tm.tm_year + 1900) % 100);
    out[16] = ' ';
    put_2digits(out + 17, tm.tm_hour);
    out[19] = ':';
    put_2digits(out + 20, tm.tm_min);
    out[22] = ':';
    put_2digits(out + 23, tm.tm_sec);
    memcpy(out + 25, " GMT", 5);   /* with the NUL */
    return out;
}

/* A cursor over the date text. */
struct dcur {
    const char *s;
    size_t n, i;
};

static bool d_lit(struct dcur *c, const char *lit)
{
    size_t k = strlen(lit);

    if (c->n - c->i < k || memcmp(c->s + c->i, lit, k) != 0)
        return false;
    c->i += k;
    return true;
}

/* Exactly `digits` digits (or, with pad, a space then digits-1 digits). */
static int d_num(struct dcur *c, size_t digits, bool pad)
{
    int v = 0;
    size_t k = 0;

    if (c->n - c->i < digits)
        return -1;
    if (pad && c->s[c->i] == ' ')
        k = 1;
    for (; k < digits; k++) {
        unsigned d = (unsigned char)c->s[c->i + k] - '0';
        if (d > 9)
            return -1;
        v = v * 10 + (int)d;
    }
    c->i += digits;
    return v;
}

/* Index of a three-letter month or day name from tab, or -1. */
static int d_name(struct dcur *c, const char (*tab)[4], int count)
{
    if (c->n - c->i < 3)
        return -1;
    for (int k = 0; k < count; k++)
        if (memcmp(c->s + c->i, tab[k], 3) == 0) {
            c->i += 3;
            return k;
        }
    return -1;
}

static bool d_long_wday(struct dcur *c)
{
    for (int k = 0; k < 7; k++)
        if (d_lit(c, wday_long[k]))
            return true;
    return false;
}

/* "HH:MM:SS" into *secs of the day. */
static bool d_time(struct dcur *c, int64_t *secs)
{
    int hh = d_num(c, 2, false);
    if (hh < 0 || hh > 23 || !d_lit(c, ":"))
        return false;
    int mm = d_num(c, 2, false);
    if (mm < 0 || mm > 59 || !d_lit(c, ":"))
        return false;
    int ss = d_num(c, 2, false);
    if (ss < 0 || ss > 60)   /* 60: a leap second */
        return false;
    *secs = hh * 3600 + mm * 60 + ss;
    return true;
}

/* Days since 1970-01-01 of a valid civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = y / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static time_t d_make(int year, int mon, int day, int64_t secs)
{
    static const uint8_t mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    if (year < 1970 || day < 1 || day > mdays[mon] || (mon == 1 && day == 29 && !leap))
        return -1;
    int64_t t = days_from_civil(year, mon + 1, day) * 86400 + secs;
    if ((int64_t)(time_t)t != t)
        return -1;   /* does not fit this platform's time_t */
    return (time_t)t;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" after the day name. */
static time_t d_imf(struct dcur *c)
{
    int64_t secs;
    if (!d_lit(c, ", "))
        return -1;
    int day = d_num(c, 2, false);
    if (day < 0 || !d_lit(c, " "))
        return -1;
    int mon = d_name(c, month_names, 12);
    if (mon < 0 || !d_lit(c, " "))
        return -1;
    int year = d_num(c, 4, false);
    if (year < 0 || !d_lit(c, " ") || !d_time(c, &secs) || !d_lit(c, " GMT"))
        return -1;
    return d_make(year, mon, day, secs);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" after the day name.  A two-digit year
 * below 70 is taken as 20yy (RFC 9110 5.6.7's 50-year rule, simplified). */
static time_t d_rfc850(struct dcur *c)
{
    int64_t secs;
    if (!d_lit(c, ", "))
        return -1;
    int day = d_num(c, 2, false);
    if (day < 0 || !d_lit(c, "-"))
        return -1;
    int mon = d_name(c, month_names, 12);
    if (mon < 0 || !d_lit(c, "-"))
        return -1;
    int yy = d_num(c, 2, false);
    if (yy < 0 || !d_lit(c, " ") || !d_time(c, &secs) || !d_lit(c, " GMT"))
        return -1;
    return d_make(yy < 70 ? 2000 + yy : 1900 + yy, mon, day, secs);
}

/* "Sun Nov  6 08:49:37 1994" after the day name. */
static time_t d_asctime(struct dcur *c)
{
    int64_t secs;
    if (!d_lit(c, " "))
        return -1;
    int mon = d_name(c, month_names, 12);
    if (mon < 0 || !d_lit(c, " "))
        return -1;
    int day = d_num(c, 2, true);
    if (day < 0 || !d_lit(c, " ") || !d_time(c, &secs) || !d_lit(c, " "))
        return -1;
    int year = d_num(c, 4, false);
    if (year < 0)
        return -1;
    return d_make(year, mon, day, secs);
}

/* Dates before 1970 are refused (-1) like malformed ones: every use here
 * (If-Modified-Since, Expires) treats them as "no date". */
time_t http_date_parse(const char *s, size_t n)
{
    struct dcur c = { s, n, 0 };
    time_t t;

    /* the long day names first: "Sunday" starts with "Sun" */
    if (d_long_wday(&c))
        t = d_rfc850(&c);
    else if (d_name(&c, wday_names, 7) >= 0)
        t = c.i < n && s[c.i] == ',' ? d_imf(&c) : d_asctime(&c);
    else
        return -1;
    return t >= 0 && c.i == n ? t : -1;
}

/* --- percent-decoding and forms --- */

ssize_t http_url_decode(char *dst, const char *src, size_t n, bool plus_is_space)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '%') {
            if (n - i < 3)
                return -1;
            unsigned hi = http_hexval[(unsigned char)src[i + 1]];
            unsigned lo = http_hexval[(unsigned char)src[i + 2]];
            if (hi == HTTP_HEX_BAD || lo == HTTP_HEX_BAD)
                return -1;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == 0)
            return -1;   /* a NUL would cut the C string short */
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return (ssize_t)o;
}

/* The segment p[0..n) is "." (1) or ".." (2); 0 for any other name. */
static int dot_segment(const char *p, size_t n)
{
    if (n == 1 && p[0] == '.')
        return 1;
    return n == 2 && p[0] == '.' && p[1] == '.' ? 2 : 0;
}

/* The output p[0..o) holds "/seg/seg..." without a trailing "/": each input
 * segment is appended with its "/", "." drops, ".." cuts the output back to
 * its last "/".  The output never outruns the input, so this works in
 * place. */
ssize_t http_path_remove_dots(char *p, size_t n)
{
    size_t i = 0, o = 0;

    if (n == 0 || p[0] != '/')
        return -1;
    while (i < n) {
        const char *seg = memchr(p + i + 1, '/', n - i - 1);
        size_t end = seg ? (size_t)(seg - p) : n, len = end - i - 1;
        int dots = dot_segment(p + i + 1, len);
        if (dots == 2) {
            if (o == 0)
                return -1;      /* above the root */
            while (p[--o] != '/')
                ;
        } else if (dots == 0) {
            memmove(p + o, p + i, len + 1);
            o += len + 1;
        }
        if (dots && end == n)
            p[o++] = '/';       /* "/a/." and "/a/b/.." end in a directory */
        i = end;
    }
    return (ssize_t)o;
}

/* Decodes one name=value pair s[0..n) and hands it to cb. */
static int form_pair(const char *s, size_t n, http_pair_cb cb, void *arg)
{
    char name[HTTP_FORM_MAX_FIELD + 1], value[HTTP_FORM_MAX_FIELD + 1];
    const char *eq = memchr(s, '=', n);
    size_t nl = eq ? (size_t)(eq - s) : n;
    size_t vl = eq ? n - nl - 1 : 0;

    if (nl > HTTP_FORM_MAX_FIELD || vl > HTTP_FORM_MAX_FIELD)
        return -1;
    if (http_url_decode(name, s, nl, true) < 0)
        return -1;
    if (http_url_decode(value, eq ? eq + 1 : "", vl, true) < 0)
        return -1;
    return cb(name, value, arg) ? -1 : 0;
}

/* Empty pairs ("a=1&&b=2") are skipped; a pair without '=' has the value "".
 * Returns 0 when every pair was delivered. */
int http_form_parse(const char *s, size_t n, http_pair_cb cb, void *arg)
{
    size_t i = 0;

    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t pl = amp ? (size_t)(amp - (s + i)) : n - i;
        if (pl > 0 && form_pair(s + i, pl, cb, arg) < 0)
            return -1;
        i += pl + 1;
    }
    return 0;
}

