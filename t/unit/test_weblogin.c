/*
 * test_weblogin.c - the pure helpers of the login layer: cookie lookup in a
 * Cookie field and the Origin/Host comparison behind the CSRF check; and one
 * login on a live connection under a clock that ticks at every reading, so
 * that the cookie's Max-Age must come from the instant the expiry was
 * stored.  (The HTTP behaviour is tested end to end by t/login.t.)
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weaprous/log.h"
#include "weaprous/weblogin.h"
#include "tap.h"

#define LIFETIME 100      /* session lifetime of the clocked login, seconds */

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

/* A clock one second later at every reading: any two readings differ. */
static int64_t ticking_clock(void *arg)
{
    int64_t *now = arg;
    return (*now)++;
}

struct login_probe {
    weblogin    *w;
    http_server *srv;
};

static void login_handler(http_txn *t, void *arg)
{
    struct login_probe *p = arg;
    if (!weblogin_handle(p->w, t))
        http_txn_error(t, 404);
    http_server_shutdown(p->srv, 1000, NULL, NULL);
}

/* POSTs admin/password to a fresh server on w and returns what came back
 * (malloc'd, NUL-terminated), NULL if nothing did. */
static char *login_once(ev_loop *loop, weblogin *w)
{
    struct login_probe p = { w, http_server_new(loop, NULL, login_handler, &p) };
    static const char req[] = "POST /login HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 32\r\n\r\n"
        "username=admin&password=password";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!p.srv || http_server_listen(p.srv, "127.0.0.1", 0) < 0)
        return NULL;
    a.sin_port = htons((uint16_t)http_server_port(p.srv));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0
        || write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
        return NULL;
    ev_run(loop);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    ssize_t n;
    while (out && len < cap - 1 && (n = read(fd, out + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    if (out)
        out[len] = '\0';
    close(fd);
    http_server_free(p.srv);
    return out;
}

/* expires_at - created_at of the one session in the store: the lifetime
 * the store used, read from the instant it used. */
static int64_t stored_lifetime(db *d)
{
    db_stmt *s = db_prepare(d, "SELECT expires_at - created_at FROM sessions");
    int64_t v = s && db_row(s) == 1 ? db_col_int(s, 0) : -1;
    if (s)
        db_stmt_reset(s);
    return v;
}

static void test_max_age(void)
{
    char dir[] = "/tmp/test_weblogin.XXXXXX", path[256];
    int64_t now = 1700000000;
    log_open(NULL, LOG_LVL_WARN);   /* the login's info line would cut TAP lines */
    ok(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof path, "%s/index.html", dir);
    FILE *f = fopen(path, "w");
    ok(f && fputs("<p>Welcome</p>", f) >= 0 && fclose(f) == 0, "an index page");
    snprintf(path, sizeof path, "%s/weaprous.db", dir);
    struct db_options o = { .session_lifetime = LIFETIME, .now = ticking_clock, .now_arg = &now };
    db *d = NULL;
    ok(db_open(&d, path, &o, NULL, 0, NULL) == 0, "database with a ticking clock");
    static_ctx *pages = static_new(dir, NULL, NULL);
    weblogin *w = d && pages ? weblogin_new(d, pages, NULL) : NULL;
    ev_loop *loop = ev_loop_new(0);
    char *resp = w && loop ? login_once(loop, w) : NULL;
    const char *ma = resp ? strstr(resp, "session=") : NULL;
    ma = ma ? strstr(ma, "Max-Age=") : NULL;
    long long got = ma ? strtoll(ma + 8, NULL, 10) : -1;
    ok(resp && strncmp(resp, "HTTP/1.1 200 ", 13) == 0, "admin/password logs in");
    is_int(stored_lifetime(d), LIFETIME, "the store keeps expires_at = created_at + lifetime");
    is_int(got, stored_lifetime(d), "Max-Age is the stored expiry minus the same instant");
    free(resp);
    ev_loop_free(loop);
    weblogin_free(w);
    static_free(pages);
    db_close(d);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    ok(system(path) == 0, "temp dir removed");
}

int main(void)
{
    test_cookie();
    test_origin();
    test_max_age();
    return done_testing();
}
