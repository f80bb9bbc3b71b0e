/*
 * test_weblogin.c - the pure helpers of the login layer: cookie lookup in a
 * Cookie field and the Origin/Host comparison behind the CSRF check.  (The
 * HTTP behaviour is tested end to end by t/login.t.)
 */
#include "config.h"

#include "weaprous/weblogin.h"
#include "tap.h"

static void test_cookie(void)
{
    char v[16];

    ok(weblogin_cookie("session=abc", "session", v, sizeof v) && !strcmp(v, "abc"), "single");
    ok(weblogin_cookie("a=1; session=abc; b=2", "session", v, sizeof v) && !strcmp(v, "abc"),
       "among others");
    ok(weblogin_cookie("xsession=bad; session=good", "session", v, sizeof v) &&
       !strcmp(v, "good"), "a longer name that ends the same is another cookie");
    ok(!weblogin_cookie("sessionx=bad", "session", v, sizeof v), "prefix is not a match");
    ok(weblogin_cookie("session=", "session", v, sizeof v) && v[0] == '\0', "empty value");
    ok(weblogin_cookie("  session=abc  ", "session", v, sizeof v) && !strcmp(v, "abc"),
       "spaces trimmed");
    ok(!weblogin_cookie("session=0123456789abcdef", "session", v, sizeof v),
       "value longer than the buffer refused, not cut");
    ok(!weblogin_cookie("", "session", v, sizeof v), "empty header");
    ok(!weblogin_cookie(";;;", "session", v, sizeof v), "only separators");
    ok(!weblogin_cookie("session", "session", v, sizeof v), "name without '='");
    ok(weblogin_cookie("auth=true;session=x", "auth", v, sizeof v) && !strcmp(v, "true"),
       "no space after ';'");

    /* Every prefix of a valid header, right before a guard page: found from
     * "a=1; session=" on, with the value cut where the prefix ends. */
    const char *h = "a=1; session=abc; b=2";
    int bad = 0;
    for (size_t n = 0; n <= strlen(h); n++) {
        char *g = guard_copy(h, n + 1);
        memcpy(g, h, n);
        g[n] = '\0';
        bool found = weblogin_cookie(g, "session", v, sizeof v);
        size_t vlen = n < 13 ? 0 : (n > 16 ? 3 : n - 13);
        bad += found != (n >= 13) || (found && (strlen(v) != vlen || strncmp(v, "abc", vlen)));
        guard_free(g, n + 1);
    }
    is_int(bad, 0, "every prefix parsed within bounds, right answer");
}

static void test_origin(void)
{
    ok(weblogin_origin_ok(NULL, "h:1"), "no Origin: allowed (not a cross-site browser POST)");
    ok(weblogin_origin_ok("http://127.0.0.1:9000", "127.0.0.1:9000"), "same host and port");
    ok(weblogin_origin_ok("https://Example.COM", "example.com"), "case-insensitive, https");
    ok(!weblogin_origin_ok("http://evil.example", "example.com"), "other host");
    ok(!weblogin_origin_ok("http://example.com:8080", "example.com:9000"), "other port");
    ok(!weblogin_origin_ok("http://example.com.evil", "example.com"), "suffix attack");
    ok(!weblogin_origin_ok("null", "example.com"), "null origin");
    ok(!weblogin_origin_ok("ftp://example.com", "example.com"), "other scheme");
    ok(!weblogin_origin_ok("http://example.com", NULL), "no Host");
}

int main(void)
{
    test_cookie();
    test_origin();
    return done_testing();
}
