/* test_router.c - every pattern kind, precedence, 404/405 with Allow, HEAD,
 * trailing slash and case policies, pattern errors, limits. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "weaprous/router.h"
#include "tap.h"

#define GET  ROUTER_METHOD(HTTP_M_GET)
#define HEAD ROUTER_METHOD(HTTP_M_HEAD)
#define POST ROUTER_METHOD(HTTP_M_POST)
#define PUT  ROUTER_METHOD(HTTP_M_PUT)
#define DEL  ROUTER_METHOD(HTTP_M_DELETE)

/* Handlers are opaque to the router: distinct addresses are enough. */
static int h_a, h_b, h_c, h_d, h_e, h_f, h_g;

static struct router_match m;

/* Matches and renders the outcome as "handler-name p1=v1 p2=v2" or
 * "404" / "405 <Allow>", which keeps the expectations readable. */
static const char *route(const router *r, enum http_method meth, const char *path)
{
    static char out[512];
    static const struct { void *h; const char *name; } names[] = {
        { &h_a, "a" }, { &h_b, "b" }, { &h_c, "c" }, { &h_d, "d" },
        { &h_e, "e" }, { &h_f, "f" }, { &h_g, "g" },
    };
    enum router_result res = router_match(r, meth, path, &m);
    if (res == ROUTER_NOT_FOUND)
        return "404";
    if (res == ROUTER_METHOD_NOT_ALLOWED) {
        char allow[128];
        snprintf(out, sizeof(out), "405 %s", router_allow_format(m.allow, allow, sizeof(allow)));
        return out;
    }
    const char *hn = "?";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].h == m.handler)
            hn = names[i].name;
    size_t o = (size_t)snprintf(out, sizeof(out), "%s", hn);
    for (size_t i = 0; i < m.nparams && o < sizeof(out); i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, " %s=%s", m.params[i].name, m.params[i].value);
    return out;
}

static void test_kinds(void)
{
    router *r = router_new(0);
    ok(router_add(r, GET, "/abc", &h_a, NULL) == 0, "add literal");
    ok(router_add(r, GET, "/users/:id", &h_b, NULL) == 0, "add :id");
    ok(router_add(r, GET, "/opt/:x?", &h_c, NULL) == 0, "add :x?");
    ok(router_add(r, GET, "/plus/:p+", &h_d, NULL) == 0, "add :p+");
    ok(router_add(r, GET, "/star/:s*", &h_e, NULL) == 0, "add :s*");
    ok(router_add(r, GET, "/", &h_f, NULL) == 0, "add root");
    ok(router_add(r, GET, "/mix/:a/x/:b*/end", &h_g, NULL) == 0, "add mixed");
    is_int(router_count(r), 7, "7 routes");

    static const struct { const char *path, *want; } v[] = {
        { "/abc", "a" }, { "/abc/", "a" }, { "/ABC", "a" }, { "/abcd", "404" },
        { "/abc/d", "404" }, { "/", "f" },
        { "/users/42", "b id=42" }, { "/users/", "404" }, { "/users", "404" },
        { "/users/42/x", "404" }, { "/users//", "404" },
        { "/users/a b", "b id=a b" }, { "/users/\xc3\xa9", "b id=\xc3\xa9" },
        { "/opt", "c" }, { "/opt/", "c" }, { "/opt/1", "c x=1" }, { "/opt/1/2", "404" },
        { "/plus", "404" }, { "/plus/a", "d p=a" }, { "/plus/a/b/c", "d p=a/b/c" },
        { "/plus/a//c", "404" },
        { "/star", "e" }, { "/star/a", "e s=a" }, { "/star/a/b", "e s=a/b" },
        { "/star/a/b/", "e s=a/b" },
        { "/mix/1/x/end", "g a=1" }, { "/mix/1/x/2/3/end", "g a=1 b=2/3" },
        { "/mix/1/x/end/end", "g a=1 b=end" }, { "/mix/1/y/end", "404" },
        { "", "404" }, { "abc", "404" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        is_str(route(r, HTTP_M_GET, v[i].path), v[i].want, "GET %s", v[i].path);

    route(r, HTTP_M_GET, "/mix/1/x/2/3/end");
    is_str(router_param(&m, "b"), "2/3", "router_param by name");
    is_str(router_param(&m, "zz"), NULL, "unknown param: NULL");
    is_str(m.pattern, "/mix/:a/x/:b*/end", "winning pattern reported");
    route(r, HTTP_M_GET, "/opt");
    is_str(router_param(&m, "x"), NULL, "absent optional param: NULL");
    router_free(r);
}

static void test_precedence(void)
{
    router *r = router_new(0);
    router_add(r, GET, "/items/new", &h_a, NULL);
    router_add(r, GET, "/items/:id", &h_b, NULL);
    router_add(r, GET, "/items/new", &h_c, NULL);    /* shadowed */
    router_add(r, POST, "/items/:id", &h_d, NULL);
    router_add(r, ROUTER_ANY, "/any/:rest*", &h_e, NULL);
    router_add(r, GET, "/any/x", &h_f, NULL);        /* shadowed by ANY */
    router_add(r, DEL, "/greedy/:a*/:b*", &h_g, NULL);
    is_str(route(r, HTTP_M_GET, "/items/new"), "a", "first registered wins");
    is_str(route(r, HTTP_M_GET, "/items/7"), "b id=7", "parameter route after literal");
    is_str(route(r, HTTP_M_POST, "/items/new"), "d id=new", "method picks a later route");
    is_str(route(r, HTTP_M_PATCH, "/any/x"), "e rest=x", "ROUTER_ANY matches any method");
    is_str(route(r, HTTP_M_GET, "/any/x"), "e rest=x", "ANY route registered first wins");
    is_str(route(r, HTTP_M_DELETE, "/greedy/1/2/3"), "g a=1/2/3", "star is greedy");
    router_free(r);
}

static void test_405(void)
{
    router *r = router_new(0);
    router_add(r, GET, "/thing/:id", &h_a, NULL);
    router_add(r, PUT | DEL, "/thing/:id", &h_b, NULL);
    router_add(r, POST, "/thing/special", &h_c, NULL);
    router_add(r, POST, "/other", &h_d, NULL);
    is_str(route(r, HTTP_M_PATCH, "/thing/1"), "405 GET, HEAD, PUT, DELETE", "405 lists every method of the path");
    is_str(route(r, HTTP_M_PATCH, "/thing/special"), "405 GET, HEAD, POST, PUT, DELETE",
           "405 unions all matching routes");
    is_str(route(r, HTTP_M_GET, "/other"), "405 POST", "POST-only: GET is 405");
    is_str(route(r, HTTP_M_HEAD, "/other"), "405 POST", "POST-only: no HEAD either");
    is_str(route(r, HTTP_M_HEAD, "/thing/9"), "a id=9", "HEAD answered by the GET route");
    is_str(route(r, HTTP_M_OPTIONS, "/thing/9"), "405 GET, HEAD, PUT, DELETE",
           "OPTIONS: router reports the allow set (the app answers it)");
    is_str(route(r, HTTP_M_GET, "/nothing"), "404", "no path: 404");
    is_str(route(r, HTTP_M_UNKNOWN, "/other"), "405 POST", "unknown method: 405");
    router_free(r);
}

static void test_flags(void)
{
    router *r = router_new(ROUTER_STRICT | ROUTER_CASE_SENSITIVE);
    router_add(r, GET, "/a", &h_a, NULL);
    router_add(r, GET, "/b/", &h_b, NULL);
    router_add(r, GET, "/", &h_c, NULL);
    router_add(r, GET, "/s/:x*", &h_d, NULL);
    is_str(route(r, HTTP_M_GET, "/a"), "a", "strict: exact");
    is_str(route(r, HTTP_M_GET, "/a/"), "404", "strict: trailing slash differs");
    is_str(route(r, HTTP_M_GET, "/b/"), "b", "strict: slash pattern");
    is_str(route(r, HTTP_M_GET, "/b"), "404", "strict: slash pattern needs it");
    is_str(route(r, HTTP_M_GET, "/A"), "404", "case sensitive");
    is_str(route(r, HTTP_M_GET, "/"), "c", "strict root");
    is_str(route(r, HTTP_M_GET, "/s/q"), "d x=q", "strict star");
    router_free(r);
}

static void test_bad_patterns(void)
{
    static const char *const bad[] = {
        "abc", "", "/a//b", "/:", "/:?", "/a:b", "/:a-b", "/:a/:a", "/x*",
        "/(a)", "/:name++", "/file.:ext",
    };
    router *r = router_new(0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        ok(router_add(r, GET, bad[i], &h_a, NULL) == -1 && errno == EINVAL,
           "bad pattern \"%s\" rejected", bad[i]);
        ok(strstr(router_error(r), "bad route pattern") != NULL, "... with a message: %s", router_error(r));
    }
    ok(router_add(r, GET, NULL, &h_a, NULL) == -1, "NULL pattern rejected");
    ok(router_add(r, 0, "/a", &h_a, NULL) == -1, "empty method mask rejected");

    char pat[ROUTER_MAX_PATTERN + 2];
    memset(pat, 'a', sizeof(pat) - 1);
    pat[0] = '/';
    pat[sizeof(pat) - 1] = '\0';
    ok(router_add(r, GET, pat, &h_a, NULL) == -1, "pattern over ROUTER_MAX_PATTERN rejected");

    char many[ROUTER_MAX_PARAMS * 4 + 16] = "";
    for (int i = 0; i <= ROUTER_MAX_PARAMS; i++)
        sprintf(many + strlen(many), "/:%c%c", 'a' + i / 26, 'a' + i % 26);
    ok(router_add(r, GET, many, &h_a, NULL) == -1, "more than %d params rejected", ROUTER_MAX_PARAMS);
    is_int(router_count(r), 0, "nothing was added");
    router_free(r);
}

static void test_limits(void)
{
    router *r = router_new(0);
    char path[ROUTER_MAX_PATH + 64];
    router_add(r, GET, "/:a*/:b*/:c*/:d*/z", &h_a, NULL);
    router_add(r, GET, "/deep/:rest*", &h_b, NULL);

    /* Many segments against a pattern with four stars that cannot match:
     * the step budget ends the search. */
    size_t o = 0;
    for (int i = 0; i < ROUTER_MAX_SEGMENTS - 1; i++)
        o += (size_t)sprintf(path + o, "/s");
    is_str(route(r, HTTP_M_GET, path), "404", "backtracking is bounded (no z)");
    strcpy(path + o, "/z");
    ok(strncmp(route(r, HTTP_M_GET, path), "a a=s/s/", 8) == 0,
       "64-segment path with z: greedy first star takes all");

    o = (size_t)sprintf(path, "/deep");
    for (int i = 0; i < ROUTER_MAX_SEGMENTS - 1; i++)
        o += (size_t)sprintf(path + o, "/x");
    ok(strncmp(route(r, HTTP_M_GET, path), "b rest=x/x", 10) == 0, "%d segments are fine", ROUTER_MAX_SEGMENTS);
    strcpy(path + o, "/x");
    is_str(route(r, HTTP_M_GET, path), "404", "more than ROUTER_MAX_SEGMENTS: no match");

    memset(path, 'a', ROUTER_MAX_PATH + 1);
    memcpy(path, "/deep/", 6);
    path[ROUTER_MAX_PATH + 1] = '\0';
    is_str(route(r, HTTP_M_GET, path), "404", "path over ROUTER_MAX_PATH: no match");
    path[ROUTER_MAX_PATH] = '\0';
    ok(route(r, HTTP_M_GET, path)[0] == 'b', "path of ROUTER_MAX_PATH bytes matches");
    router_free(r);
}

static void test_methods(void)
{
    char out[128];
    is_int(router_methods_parse("GET,POST"), GET | POST, "GET,POST");
    is_int(router_methods_parse(" get , put "), PUT | GET, "spaces and case");
    is_int(router_methods_parse("*"), ROUTER_ANY, "*");
    is_int(router_methods_parse("ANY"), ROUTER_ANY, "ANY");
    is_int(router_methods_parse("GET,FOO"), 0, "unknown method");
    is_int(router_methods_parse(""), 0, "empty list");
    is_int(router_methods_parse("GETTINGLONGERTHANAMETHOD"), 0, "long name");
    is_str(router_allow_format(GET | HEAD | DEL, out, sizeof(out)), "GET, HEAD, DELETE", "Allow format");
    is_str(router_allow_format(0, out, sizeof(out)), "", "empty Allow");
    is_str(router_allow_format(GET | POST | PUT, out, 10), "GET, POST", "Allow format truncates at a name");
}

int main(void)
{
    test_kinds();
    test_precedence();
    test_405();
    test_flags();
    test_bad_patterns();
    test_limits();
    test_methods();
    return done_testing();
}
