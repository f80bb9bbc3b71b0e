/* app_testsrv.c - a server exercising the app layer for t/app.t: route
 * parameters, query/cookie/form/JSON helpers, hooks (sync and async),
 * asynchronous handlers, redirects, files, cookies, two apps on one loop.
 *
 *   app_testsrv PORT1 PORT2 FILE
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weaprous/app.h"
#include "weaprous/log.h"

/* Test server state (one per process, passed as arg). */
struct testsrv {
    ev_timer timer;
    http_txn *pending;        /* the /async request waiting for the timer */
    http_txn *pending_hook;   /* the /slowauth request waiting */
    ev_timer hook_timer;
    const char *file;
};

static void w_str_or_null(json_writer *w, const char *key, const char *v)
{
    json_w_key(w, key);
    json_w_string(w, v);
}

static void h_params(http_txn *t, void *arg)
{
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    w_str_or_null(w, "a", app_param(t, "a"));
    w_str_or_null(w, "rest", app_param(t, "rest"));
    json_w_end_object(w);
    app_json_end(t, 200);
}

static void h_query(http_txn *t, void *arg)
{
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    w_str_or_null(w, "q", app_query(t, "q"));
    w_str_or_null(w, "n", app_query(t, "n"));
    json_w_end_object(w);
    app_json_end(t, 200);
}

static void h_cookies(http_txn *t, void *arg)
{
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    w_str_or_null(w, "a", app_cookie(t, "a"));
    w_str_or_null(w, "b", app_cookie(t, "b"));
    w_str_or_null(w, "c", app_cookie(t, "c"));
    json_w_end_object(w);
    app_json_end(t, 200);
}

static void h_form(http_txn *t, void *arg)
{
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    w_str_or_null(w, "x", app_form(t, "x"));
    json_w_end_object(w);
    app_json_end(t, 200);
}

static void h_json(http_txn *t, void *arg)
{
    const json_value *v;
    if (app_json_body(t, &v) < 0)
        return;
    json_writer *w = app_json_begin(t);
    json_w_value(w, v);
    app_json_end(t, 200);
}

static void h_redirect(http_txn *t, void *arg)
{
    app_redirect(t, 303, "/target?x=1");
}

static void h_bad_redirect(http_txn *t, void *arg)
{
    app_redirect(t, 200, "/x");
}

static void h_file(http_txn *t, void *arg)
{
    struct testsrv *s = arg;
    app_file(t, s->file, NULL);
}

static void h_missing_file(http_txn *t, void *arg)
{
    app_file(t, "/nonexistent/file.txt", NULL);
}

/* Every invalid cookie must be refused; then one valid cookie is set. */
static void h_setcookie(http_txn *t, void *arg)
{
    struct app_cookie_opts none = { .max_age = -1, .same_site = APP_SAMESITE_NONE };
    struct app_cookie_opts badpath = { .max_age = -1, .path = "/a;b" };
    struct app_cookie_opts good = { .max_age = 0, .path = "/", .domain = "example.test",
                                    .secure = true, .http_only = true,
                                    .same_site = APP_SAMESITE_STRICT };
    int refused = 0;
    refused += app_set_cookie(t, "bad name", "v", NULL) < 0;
    refused += app_set_cookie(t, "n", "a;b", NULL) < 0;
    refused += app_set_cookie(t, "n", "a b", NULL) < 0;
    refused += app_set_cookie(t, "n", "\"q\"", NULL) < 0;
    refused += app_set_cookie(t, "n", "v", &none) < 0;
    refused += app_set_cookie(t, "n", "v", &badpath) < 0;
    refused += app_set_cookie(t, "", "v", NULL) < 0;
    int set = app_set_cookie(t, "sid", "abc123", &good) == 0;
    set += app_set_cookie(t, "plain", "", NULL) == 0;
    char body[64];
    int n = snprintf(body, sizeof(body), "refused=%d set=%d", refused, set);
    app_send(t, 200, "text/plain", body, (size_t)n);
}

static void async_fire(ev_loop *loop, ev_timer *timer, void *arg)
{
    struct testsrv *s = arg;
    http_txn *t = s->pending;
    s->pending = NULL;
    if (t == NULL)
        return;
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    w_str_or_null(w, "late", app_param(t, "id"));
    json_w_end_object(w);
    app_json_end(t, 200);
}

/* Answers 60 ms later from a timer: the request state must survive. */
static void h_async(http_txn *t, void *arg)
{
    struct testsrv *s = arg;
    if (s->pending) {
        app_json_error(t, 503, "busy", NULL);
        return;
    }
    s->pending = t;
    ev_timer_start(http_txn_loop(t), &s->timer, 60, 0);
}

static void h_private(http_txn *t, void *arg)
{
    app_send(t, 200, "text/plain", "secret", 6);
}

static enum app_hook_result hook_token(http_txn *t, void *arg)
{
    const char *tok = http_txn_header(t, "X-Token");
    if (tok && strcmp(tok, "t") == 0)
        return APP_HOOK_NEXT;
    app_json_error(t, 401, "unauthorized", "X-Token required");
    return APP_HOOK_DONE;
}

/* Counts hook runs in a response field, to show the order of the chain. */
static enum app_hook_result hook_mark(http_txn *t, void *arg)
{
    http_txn_add_header(t, "X-Hook", arg);
    return APP_HOOK_NEXT;
}

static void hook_resume(ev_loop *loop, ev_timer *timer, void *arg)
{
    struct testsrv *s = arg;
    http_txn *t = s->pending_hook;
    s->pending_hook = NULL;
    if (t)
        app_next(t);
}

static enum app_hook_result hook_slow(http_txn *t, void *arg)
{
    struct testsrv *s = arg;
    if (s->pending_hook) {
        app_json_error(t, 503, "busy", NULL);
        return APP_HOOK_DONE;
    }
    s->pending_hook = t;
    ev_timer_start(http_txn_loop(t), &s->hook_timer, 30, 0);
    return APP_HOOK_ASYNC;
}

/* Streaming answer: chunked (no length), three pieces, then app_end. */
static void h_stream(http_txn *t, void *arg)
{
    http_txn_set_status(t, 200);
    http_txn_add_header(t, "Content-Type", "text/plain");
    if (http_txn_begin(t, -1) < 0) {
        app_abort(t);
        return;
    }
    for (int i = 0; i < 3; i++)
        http_txn_write(t, "piece\n", 6);
    app_end(t);
}

static void h_two(http_txn *t, void *arg)
{
    app_send(t, 200, "text/plain", "two", 3);
}

static void h_teapot(http_txn *t, void *arg)
{
    app_send(t, 418, "text/plain", "fallback", 8);
}

static int routes(wr_app *a, struct testsrv *s)
{
    return app_route(a, "GET", "/params/:a/:rest*", h_params, s)
        | app_route(a, "GET", "/query", h_query, s)
        | app_route(a, "GET", "/cookies", h_cookies, s)
        | app_route(a, "POST", "/form", h_form, s)
        | app_route(a, "POST,PUT", "/json", h_json, s)
        | app_route(a, "GET", "/redirect", h_redirect, s)
        | app_route(a, "GET", "/bad-redirect", h_bad_redirect, s)
        | app_route(a, "GET", "/file", h_file, s)
        | app_route(a, "GET", "/missing-file", h_missing_file, s)
        | app_route(a, "GET", "/setcookie", h_setcookie, s)
        | app_route(a, "GET", "/async/:id", h_async, s)
        | app_route(a, "GET", "/private/:x?", h_private, s)
        | app_route(a, "GET", "/slowauth", h_private, s)
        | app_route(a, "GET", "/stream", h_stream, s)
        | app_hook(a, "/private", hook_token, s)
        | app_hook(a, "/", hook_mark, "all")
        | app_hook(a, "/slowauth/", hook_slow, s);
}

int main(int argc, char **argv)
{
    static struct testsrv s;
    if (argc != 4) {
        fprintf(stderr, "usage: app_testsrv PORT1 PORT2 FILE\n");
        return 2;
    }
    log_open(NULL, LOG_LVL_INFO);
    s.file = argv[3];
    struct app_config cfg = { .json = { .max_size = 1024, .max_depth = 8 } };
    wr_app *a = app_new(NULL, &cfg);
    wr_app *b = a ? app_new(app_loop(a), NULL) : NULL;
    if (b == NULL)
        return 1;
    ev_timer_init(&s.timer, async_fire, &s);
    ev_timer_init(&s.hook_timer, hook_resume, &s);
    if (routes(a, &s) != 0 || app_route(b, "GET", "/two", h_two, NULL) != 0) {
        fprintf(stderr, "route set-up: %s\n", app_last_error(a));
        return 1;
    }
    if (app_route(a, "GET", "/bad/:x/:x", h_two, NULL) == 0)
        return 1;
    printf("bad route error: %s\n", app_last_error(a));
    if (app_route(a, "FETCH", "/x", h_two, NULL) == 0)
        return 1;
    printf("bad method error: %s\n", app_last_error(a));
    app_set_fallback(b, h_teapot, NULL);
    if (app_listen(a, "127.0.0.1", atoi(argv[1])) < 0 || app_listen(b, "127.0.0.1", atoi(argv[2])) < 0) {
        perror("listen");
        return 1;
    }
    fflush(stdout);
    wr_app *both[] = { a, b };
    int rc = app_run_many(both, 2);
    app_free(b);
    app_free(a);
    printf("stopped rc=%d\n", rc);
    return rc < 0 ? 1 : 0;
}
