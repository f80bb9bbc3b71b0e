/*
 * test_http_util.c - vectors for the pure helpers of src/http_util.c:
 * status texts, methods, lists, tokens, dates, percent-decoding, forms.
 */
#include "config.h"

#include "weaprous/http.h"
#include "tap.h"

static void test_status_methods(void)
{
    is_str(http_status_text(200), "OK", "status 200");
    is_str(http_status_text(404), "Not Found", "status 404");
    is_str(http_status_text(431), "Request Header Fields Too Large", "status 431");
    is_str(http_status_text(505), "HTTP Version Not Supported", "status 505");
    is_str(http_status_text(299), "Unknown", "status without a text");
    is_str(http_status_text(-1), "Unknown", "negative status");
    is_str(http_status_text(100000), "Unknown", "huge status");

    is_int(http_method_parse("GET", 3), HTTP_M_GET, "method GET");
    is_int(http_method_parse("OPTIONS", 7), HTTP_M_OPTIONS, "method OPTIONS");
    is_int(http_method_parse("PATCH", 5), HTTP_M_PATCH, "method PATCH");
    is_int(http_method_parse("get", 3), HTTP_M_UNKNOWN, "methods are case-sensitive");
    is_int(http_method_parse("GETX", 3), HTTP_M_GET, "length decides, not NUL");
    is_int(http_method_parse("GETX", 4), HTTP_M_UNKNOWN, "GETX unknown");
    is_int(http_method_parse("", 0), HTTP_M_UNKNOWN, "empty method");
    for (int m = HTTP_M_GET; m < HTTP_M__COUNT; m++) {
        const char *name = http_method_name((enum http_method)m);
        is_int(http_method_parse(name, strlen(name)), m, "round trip %s", name);
    }
    is_str(http_method_name(HTTP_M_UNKNOWN), "UNKNOWN", "name of unknown");
    is_str(http_method_name((enum http_method)99), "UNKNOWN", "name out of range");
    ok(http_method_idempotent(HTTP_M_GET) && http_method_idempotent(HTTP_M_PUT)
       && http_method_idempotent(HTTP_M_DELETE) && http_method_idempotent(HTTP_M_HEAD),
       "GET PUT DELETE HEAD idempotent");
    ok(!http_method_idempotent(HTTP_M_POST) && !http_method_idempotent(HTTP_M_PATCH)
       && !http_method_idempotent(HTTP_M_CONNECT) && !http_method_idempotent(HTTP_M_UNKNOWN),
       "POST PATCH CONNECT unknown not idempotent");
}

static void test_lists_tokens(void)
{
    static const struct { const char *v, *tok; bool want; } lv[] = {
        { "keep-alive, Upgrade", "upgrade", true },
        { "keep-alive, Upgrade", "keep-alive", true },
        { " close ", "close", true },
        { "\tclose\t", "close", true },
        { "closed", "close", false },
        { "xclose", "close", false },
        { "close-ish", "close", false },
        { ",,close,,", "close", true },
        { "", "close", false },
        { " , ", "close", false },
        { "a, b ,c", "b", true },
        { "a, b c", "b", false },
        { "CLOSE", "close", true },
        { "100-continue", "100-Continue", true },
    };
    for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++)
        is_int(http_list_has(lv[i].v, strlen(lv[i].v), lv[i].tok), lv[i].want,
               "list \"%s\" has %s: %d", lv[i].v, lv[i].tok, lv[i].want);
    /* the length bounds the scan: "close" hides after the end */
    ok(!http_list_has("a, close", 3, "close"), "list scan stops at len");

    ok(http_is_token("Content-Type", 12), "token");
    ok(http_is_token("!#$%&'*+-.^_`|~", 15), "token of symbols");
    ok(!http_is_token("", 0), "empty is not a token");
    ok(!http_is_token("a b", 3), "space not in token");
    ok(!http_is_token("a:b", 3), "colon not in token");
    ok(!http_is_token("a\"b", 3), "quote not in token");
    ok(!http_is_token("caf\xc3\xa9", 5), "obs-text not in token");
    /* past the first eight bytes (the unrolled scan): */
    ok(!http_is_token("X-Forwarded For", 15), "space at byte 11 not in token");
    ok(!http_is_token("X-Forwarded-For:", 16), "colon at byte 15 not in token");
    ok(http_is_field_value("text/html; charset=utf-8", 24), "field value");
    ok(http_is_field_value("", 0), "empty field value");
    ok(http_is_field_value("a\tb \xc3\xa9", 6), "HTAB, SP, obs-text in value");
    ok(!http_is_field_value("a\r\nX: y", 7), "CRLF not in value");
    ok(!http_is_field_value("a\nb", 3), "LF not in value");
    ok(!http_is_field_value("a\0b", 3), "NUL not in value");
    ok(!http_is_field_value("a\x7f", 2), "DEL not in value");
    /* every control byte at every place of a value long enough for the
     * word-at-a-time path, and the bytes that are allowed there */
    static const unsigned char bad[] = { 0x00, 0x01, 0x0a, 0x0d, 0x1f, 0x7f };
    static const unsigned char good[] = { '\t', ' ', '~', 0x80, 0xff };
    bool all_bad = true, all_good = true;
    for (size_t pos = 0; pos < 21; pos++) {
        char v[21];
        memset(v, 'v', sizeof v);
        for (size_t k = 0; k < sizeof bad; k++) {
            v[pos] = (char)bad[k];
            all_bad &= !http_is_field_value(v, sizeof v);
        }
        for (size_t k = 0; k < sizeof good; k++) {
            v[pos] = (char)good[k];
            all_good &= http_is_field_value(v, sizeof v);
        }
    }
    ok(all_bad, "a control byte anywhere in a 21-byte value is refused");
    ok(all_good, "HTAB, SP, VCHAR and obs-text anywhere in it are not");
}

static void test_dates(void)
{
    char out[30];
    static const struct { const char *s; time_t want; } dv[] = {
        { "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 },
        { "Sunday, 06-Nov-94 08:49:37 GMT", 784111777 },
        { "Sun Nov  6 08:49:37 1994", 784111777 },
        { "Sun Nov 06 08:49:37 1994", 784111777 },
        { "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
        { "Tue, 29 Feb 2000 12:00:00 GMT", 951825600 },
        { "Wed, 31 Dec 2036 23:59:59 GMT", 2114380799 },
        { "Thursday, 01-Jan-15 00:00:00 GMT", 1420070400 },
        { "Sat, 30 Jun 2012 23:59:60 GMT", 1341100800 },
        /* invalid */
        { "Sun, 06 Nov 1994 08:49:37 UTC", -1 },
        { "Sun, 06 Nov 1994 08:49:37 GMT ", -1 },
        { "Sun, 06 Nov 1994 08:49:37", -1 },
        { "Sun, 6 Nov 1994 08:49:37 GMT", -1 },
        { "Sun, 06 nov 1994 08:49:37 GMT", -1 },
        { "Sun, 31 Nov 1994 08:49:37 GMT", -1 },
        { "Sun, 29 Feb 1900 08:49:37 GMT", -1 },
        { "Mon, 29 Feb 2100 00:00:00 GMT", -1 },
        { "Sun, 06 Nov 1994 24:00:00 GMT", -1 },
        { "Sun, 06 Nov 1994 08:60:00 GMT", -1 },
        { "Sun, 06 Nov 1994 08:49:61 GMT", -1 },
        { "Sun, 00 Nov 1994 08:49:37 GMT", -1 },
        { "Sun, 06 Nov 1969 08:49:37 GMT", -1 },
        { "Xyz, 06 Nov 1994 08:49:37 GMT", -1 },
        { "Sun, 06 Nov 19a4 08:49:37 GMT", -1 },
        { "Sunday, 06-Nov-1994 08:49:37 GMT", -1 },
        { "Sun Nov  6 08:49:37 94", -1 },
        { "", -1 },
        { "Sun", -1 },
        { "Sun,", -1 },
    };
    for (size_t i = 0; i < sizeof(dv) / sizeof(dv[0]); i++)
        is_int(http_date_parse(dv[i].s, strlen(dv[i].s)), dv[i].want,
               "date \"%s\"", dv[i].s);
    /* the length bounds the parse */
    is_int(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMTxx", 29), 784111777,
           "date parse stops at n");

    is_str(http_date_format(784111777, out), "Sun, 06 Nov 1994 08:49:37 GMT", "format RFC example");
    is_str(http_date_format(0, out), "Thu, 01 Jan 1970 00:00:00 GMT", "format epoch");
    is_str(http_date_format(951825600, out), "Tue, 29 Feb 2000 12:00:00 GMT", "format leap day");
    size_t bad = 0;
    for (time_t t = 0; t < (time_t)2000000000; t += 7777777 + t / 13) {
        http_date_format(t, out);
        if (strlen(out) != 29 || http_date_parse(out, 29) != t)
            bad++;
    }
    ok(bad == 0, "format then parse round-trips");
}

static void test_url_decode(void)
{
    static const struct { const char *in; bool plus; const char *want; } uv[] = {
        { "a%20b", false, "a b" },
        { "a+b", true, "a b" },
        { "a+b", false, "a+b" },
        { "%41%42%43", false, "ABC" },
        { "%e2%82%AC", false, "\xe2\x82\xac" },
        { "%2F..%2f", false, "/../" },
        { "%25", false, "%" },
        { "", false, "" },
        { "plain", true, "plain" },
        /* malformed */
        { "%", false, NULL },
        { "%2", false, NULL },
        { "a%zz", false, NULL },
        { "%g1", false, NULL },
        { "%00", false, NULL },
        { "a%0", false, NULL },
        { "%%41", false, NULL },
    };
    char dst[64];
    for (size_t i = 0; i < sizeof(uv) / sizeof(uv[0]); i++) {
        ssize_t r = http_url_decode(dst, uv[i].in, strlen(uv[i].in), uv[i].plus);
        if (uv[i].want)
            ok(r == (ssize_t)strlen(uv[i].want) && strcmp(dst, uv[i].want) == 0,
               "url decode \"%s\"", uv[i].in);
        else
            is_int(r, -1, "url decode \"%s\" refused", uv[i].in);
    }
    is_int(http_url_decode(dst, "a\0b", 3, false), -1, "raw NUL refused");
    /* the length bounds the input: a cut escape is malformed */
    is_int(http_url_decode(dst, "%41", 2, false), -1, "escape cut by n");
    char *g = guard_copy("ab%4", 4);
    is_int(http_url_decode(dst, g, 4, false), -1, "escape at the end, no over-read");
    guard_free(g, 4);
}

static void test_remove_dots(void)
{
    static const struct { const char *in, *want; } v[] = {
        /* RFC 3986 5.2.4's own example and 5.4.2's abnormal ones that stay
         * inside the root */
        { "/a/b/c/./../../g", "/a/g" },
        { "/./g", "/g" }, { "/b/c/./g", "/b/c/g" }, { "/b/c/g/.", "/b/c/g/" },
        { "/b/c/..", "/b/" }, { "/b/c/../", "/b/" }, { "/b/c/../g", "/b/g" },
        { "/sub/../page.html", "/page.html" }, { "/.", "/" }, { "/a/..", "/" },
        { "/a/./", "/a/" }, { "/a//../b", "/a/b" }, { "//a", "//a" },
        /* names that only look like dots stay */
        { "/...", "/..." }, { "/..a/.b", "/..a/.b" }, { "/a./b..", "/a./b.." },
        { "/%2e%2e/x", "/%2e%2e/x" }, { "/.%2e/x", "/.%2e/x" },
        { "/a\\..\\b", "/a\\..\\b" },
        { "/", "/" }, { "/plain/path.html", "/plain/path.html" },
        /* above the root, or not an absolute path */
        { "/..", NULL }, { "/../a", NULL }, { "/a/../..", NULL }, { "/./../a", NULL },
        { "/a/b/../../../c", NULL }, { "", NULL }, { "a/../b", NULL }, { "..", NULL },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].in);
        char *g = guard_copy(v[i].in, n);
        ssize_t r = http_path_remove_dots(g, n);
        bool good = v[i].want ? r == (ssize_t)strlen(v[i].want) && memcmp(g, v[i].want, (size_t)r) == 0
                              : r == -1;
        if (!ok(good, "remove dots \"%s\"", v[i].in))
            diag("  got %zd \"%.*s\", want %s", r, r > 0 ? (int)r : 0, g,
                 v[i].want ? v[i].want : "-1");
        guard_free(g, n);
    }
}

struct pairs {
    char buf[512];
    int count, stop_at;
};

static int collect(const char *name, const char *value, void *arg)
{
    struct pairs *p = arg;
    size_t o = strlen(p->buf);

    snprintf(p->buf + o, sizeof(p->buf) - o, "[%s=%s]", name, value);
    return ++p->count == p->stop_at;
}

static void test_form(void)
{
    static const struct { const char *in; int ret; const char *want; } fv[] = {
        { "a=1&b=hello+world&c=%41", 0, "[a=1][b=hello world][c=A]" },
        { "username=admin&password=p%40ss%26w", 0, "[username=admin][password=p@ss&w]" },
        { "a", 0, "[a=]" },
        { "a=", 0, "[a=]" },
        { "=v", 0, "[=v]" },
        { "a=1&&b=2&", 0, "[a=1][b=2]" },
        { "", 0, "" },
        { "a=b=c", 0, "[a=b=c]" },
        { "a=1&b=%zz&c=3", -1, "[a=1]" },
        { "a=%00", -1, "" },
        { "x%2=1", -1, "" },
    };
    for (size_t i = 0; i < sizeof(fv) / sizeof(fv[0]); i++) {
        struct pairs p = { "", 0, 0 };
        int r = http_form_parse(fv[i].in, strlen(fv[i].in), collect, &p);
        if (!ok(r == fv[i].ret && strcmp(p.buf, fv[i].want) == 0, "form \"%s\"", fv[i].in))
            diag("  got %d %s", r, p.buf);
    }
    struct pairs p = { "", 0, 2 };
    is_int(http_form_parse("a=1&b=2&c=3", 11, collect, &p), -1, "callback stops the walk");
    is_str(p.buf, "[a=1][b=2]", "pairs before the stop");

    /* a value over the cap is malformed, not truncated */
    size_t n = 20000;
    char *big = malloc(n + 3);
    memcpy(big, "v=", 2);
    memset(big + 2, 'x', n);
    struct pairs q = { "", 0, 0 };
    is_int(http_form_parse(big, n + 2, collect, &q), -1, "oversize value refused");
    free(big);
}

int main(void)
{
    test_status_methods();
    test_lists_tokens();
    test_dates();
    test_url_decode();
    test_remove_dots();
    test_form();
    return done_testing();
}
