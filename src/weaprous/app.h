/*
 * app.h - the WeApRous application layer: routes, hooks, request helpers
 * and response helpers on top of the HTTP server engine (server.h), the
 * router (router.h) and JSON (json.h).
 *
 *   wr_app *a = app_new(NULL, NULL);
 *   app_route(a, "GET", "/hello/:name", hello, NULL);
 *   app_listen(a, "0.0.0.0", 8000);
 *   return app_run(a) < 0;
 *
 * Names: functions carry the module prefix app_; the application type is
 * wr_app (a bare `app` would clash with the variables people name app).
 *
 * Dispatch of one request: the hooks whose prefix covers the path run in
 * registration order (a hook may answer and stop the chain), then the
 * router picks the first matching route (router.h).  Answered
 * automatically: 404 (JSON error, or the fallback handler if one is set),
 * 405 with Allow (JSON error), OPTIONS with 204 and Allow when no route
 * takes OPTIONS, and HEAD through the GET route (the engine drops the body).
 *
 * Per-request state (route parameters, parsed query, cookies, form, JSON
 * body, the JSON answer being written) belongs to the app until the request
 * is freed with the transaction, however it is completed (the app_*
 * completion functions below or a raw http_txn_* one).  A handler may
 * return without completing (asynchronous answer) and complete later from
 * any callback on the same loop; values returned by the request helpers
 * stay valid until then.
 */
#ifndef WEAPROUS_APP_H
#define WEAPROUS_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "weaprous/api.h"
#include "weaprous/buf.h"
#include "weaprous/ev.h"
#include "weaprous/json.h"
#include "weaprous/router.h"
#include "weaprous/server.h"

WR_API_BEGIN

#define APP_MAX_HOOKS      32        /* app_hook beyond -> -1/ENOSPC */
#define APP_MAX_PAIRS      100       /* query/form/cookie pairs kept; beyond: none */
#define APP_MAX_PAIR_BYTES (64u << 10) /* decoded bytes of one kind of pairs */
#define APP_JSON_OUT_CAP   CONN_OUT_CAP  /* JSON answer larger -> 500 */
#define APP_GRACE_MS       5000      /* TERM/INT: in-flight requests get this long */

typedef struct wr_app wr_app;

typedef void (*app_handler_fn)(http_txn *t, void *arg);

enum app_hook_result {
    APP_HOOK_NEXT,   /* continue with the next hook, then the route */
    APP_HOOK_DONE,   /* the hook answered (completed t): stop here */
    APP_HOOK_ASYNC   /* the hook will answer or call app_next(t) later */
};
typedef enum app_hook_result (*app_hook_fn)(http_txn *t, void *arg);

struct app_config {
    struct http_server_config http;  /* engine limits and timeouts */
    unsigned router_flags;           /* ROUTER_STRICT, ROUTER_CASE_SENSITIVE */
    struct json_limits json;         /* for app_json_body() */
};

/* Creates an app on loop (NULL: the app makes and owns its own loop).
 * cfg may be NULL (defaults); it is copied.  NULL with errno on failure. */
wr_app *app_new(ev_loop *loop, const struct app_config *cfg);
/* Closes listeners and connections at once and frees the app (and its
 * loop if it owns it). */
void app_free(wr_app *a);
ev_loop *app_loop(const wr_app *a);
http_server *app_server(const wr_app *a);

/* Registers handler for methods ("GET,POST", any case; "*" for all) and a
 * router.h pattern.  0, or -1 with app_last_error() set (bad pattern or
 * method list: EINVAL). */
int app_route(wr_app *a, const char *methods, const char *pattern,
              app_handler_fn handler, void *arg);
int app_route_mask(wr_app *a, unsigned methods, const char *pattern,
                   app_handler_fn handler, void *arg);
const char *app_last_error(const wr_app *a);
/* Runs fn before the handlers of every path under prefix ("/api" covers
 * "/api" and "/api/x", not "/apix"; "/" covers all). */
int app_hook(wr_app *a, const char *prefix, app_hook_fn fn, void *arg);
/* Continues the chain after a hook returned APP_HOOK_ASYNC. */
void app_next(http_txn *t);
/* Handles what no route matches (e.g. static files) instead of the JSON
 * 404; the fallback must complete t like a handler. */
void app_set_fallback(wr_app *a, app_handler_fn fn, void *arg);

/* Binds and listens (the assignment's prepare_address); may be called
 * several times.  0 or -1 with errno. */
int app_listen(wr_app *a, const char *ip, int port);
/* Port of the first listener (useful after port 0). */
int app_port(const wr_app *a);
/* Runs the loop until TERM/INT: the first signal stops accepting and lets
 * in-flight requests finish (APP_GRACE_MS at most), a second one stops at
 * once.  app_run_many() does it for several apps sharing one loop.
 * Returns 0, or -1 when the loop failed. */
int app_run(wr_app *a);
int app_run_many(wr_app *const *apps, size_t n);
/* Graceful stop from code (same as the first TERM). */
void app_stop(wr_app *a);
/* Called once when a graceful stop begins (to close the caller's other
 * sockets on the loop, e.g. a P2P listener). */
void app_on_stop(wr_app *a, void (*cb)(wr_app *a, void *arg), void *arg);

/* --- request helpers (NULL when absent) --- */
wr_app *app_of(const http_txn *t);
/* Route parameter (router.h: decoded segments). */
const char *app_param(const http_txn *t, const char *name);
/* Decoded query parameter (first of that name; '+' is a space).  A query
 * that is malformed or has more than APP_MAX_PAIRS pairs yields none. */
const char *app_query(http_txn *t, const char *name);
/* Cookie value from the Cookie field (first of that name; surrounding
 * double quotes removed, no other decoding, as RFC 6265 says). */
const char *app_cookie(http_txn *t, const char *name);
/* Field of an application/x-www-form-urlencoded body (NULL for any other
 * Content-Type). */
const char *app_form(http_txn *t, const char *name);
/* True when the Content-Type media type is application/json or ends in
 * "+json" (parameters such as charset ignored). */
bool app_is_json(const http_txn *t);
/*
 * Parses the JSON body into *out (owned by the app until completion).
 * Returns 0, or -1 after ANSWERING the request itself: 415 when the
 * Content-Type is not JSON, 413 when over cfg.json.max_size, 400 with
 * {"error":"invalid JSON","detail":"line L, column C: ..."} when malformed.
 * On -1 the handler must just return.
 */
int app_json_body(http_txn *t, const json_value **out);

/* --- response helpers --- */

/* Adds a Set-Cookie field.  The name must be a token and the value
 * cookie-octets (RFC 6265 4.1.1); path/domain must not contain ';' or
 * controls; SameSite=None requires secure.  0, or -1/EINVAL (nothing added). */
enum app_samesite { APP_SAMESITE_UNSET, APP_SAMESITE_STRICT, APP_SAMESITE_LAX,
                    APP_SAMESITE_NONE };
struct app_cookie_opts {
    long long   max_age;    /* seconds; < 0: no Max-Age (session cookie) */
    const char *path;       /* NULL: no Path */
    const char *domain;     /* NULL: no Domain */
    bool        http_only;
    bool        secure;
    enum app_samesite same_site;
};
int app_set_cookie(http_txn *t, const char *name, const char *value,
                   const struct app_cookie_opts *o);

/* Completes with status, Content-Type (may be NULL) and body. */
void app_send(http_txn *t, int status, const char *content_type,
              const void *body, size_t len);
/* A JSON writer for the answer (bound to a buffer the app owns); then
 * app_json_end() sends it as application/json with status, or a 500 JSON
 * error if the writer recorded an error. */
json_writer *app_json_begin(http_txn *t);
void app_json_end(http_txn *t, int status);
/* {"error": error, "detail": detail} (detail omitted when NULL). */
void app_json_error(http_txn *t, int status, const char *error, const char *detail);
/* 301, 302, 303, 307 or 308 to location (anything else: 500). */
void app_redirect(http_txn *t, int status, const char *location);
/* Sends a regular file (content_type NULL: guessed from the name); 404
 * when it does not exist, 403 when it cannot be read or is not a regular
 * file. */
void app_file(http_txn *t, const char *path, const char *content_type);
/* Completes a response built with http_txn_set_status / add_header /
 * append. */
void app_finish(http_txn *t);
/* The engine's error page for status. */
void app_send_error(http_txn *t, int status);
/* Streaming: http_txn_begin() then http_txn_write(); app_end() completes. */
void app_end(http_txn *t);
void app_abort(http_txn *t);
/* Protocol upgrade: see http_txn_hijack(). */
int app_hijack(http_txn *t, buf *rest);
/* Releases the app's per-request state now, without completing t.  Never
 * required (the state goes with the transaction); useful to drop a large
 * parsed body early in a long-lived streamed answer. */
void app_done(http_txn *t);

WR_API_END

#endif
