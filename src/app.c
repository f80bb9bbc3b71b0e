/* app.c - the application layer: routes, hooks, request and response
 * helpers over the server engine.  See weaprous/app.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weaprous/app.h"
#include "weaprous/static.h"

#define APP_ERROR_JSON_CAP (16u << 10)  /* bytes of one JSON error answer */

struct app_route_ent {
    app_handler_fn fn;
    void *arg;
};

struct app_hook_ent {
    char *prefix;
    size_t plen;
    app_hook_fn fn;
    void *arg;
};

/* State of app_run_many(): the apps it runs and how many still stop. */
struct app_run {
    ev_loop *loop;
    size_t pending;
    unsigned signals;
};

struct wr_app {
    ev_loop *loop;
    bool own_loop;
    http_server *srv;
    router *rt;
    struct app_route_ent **routes;
    size_t nroutes, rcap;
    struct app_hook_ent hooks[APP_MAX_HOOKS];
    size_t nhooks;
    app_handler_fn fallback;
    void *fallback_arg;
    struct app_config cfg;
    unsigned methods;            /* union of every route's methods */
    bool stopping;
    struct app_run *run;         /* set while app_run_many() runs */
    void (*on_stop)(wr_app *a, void *arg);
    void *on_stop_arg;
    char err[200];
};

/* Decoded name=value pairs of one kind (query, form, cookies), parsed on
 * first use into one capped store. */
struct app_pairs {
    bool parsed, ok;
    size_t n;
    buf store;
    size_t off[APP_MAX_PAIRS][2];
};

/* Per-request state, attached to the txn until completion. */
struct app_req {
    wr_app *app;
    size_t next_hook;
    struct app_pairs query, form, cookies;
    json_doc *body;
    buf out;
    json_writer w;
    struct router_match match;
};

/* --- app object --- */

static void app_dispatch(http_txn *t, void *arg);

wr_app *app_new(ev_loop *loop, const struct app_config *cfg)
{
    wr_app *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    if (cfg)
        a->cfg = *cfg;
    a->own_loop = loop == NULL;
    a->loop = loop ? loop : ev_loop_new(EV_DEFAULT_MAX_FDS);
    if (a->loop == NULL)
        goto fail;
    a->rt = router_new(a->cfg.router_flags);
    if (a->rt == NULL)
        goto fail;
    a->srv = http_server_new(a->loop, &a->cfg.http, app_dispatch, a);
    if (a->srv == NULL)
        goto fail;
    return a;
fail:
    app_free(a);
    return NULL;
}

void app_free(wr_app *a)
{
    if (a == NULL)
        return;
    if (a->srv)
        http_server_free(a->srv);
    router_free(a->rt);
    for (size_t i = 0; i < a->nroutes; i++)
        free(a->routes[i]);
    free(a->routes);
    for (size_t i = 0; i < a->nhooks; i++)
        free(a->hooks[i].prefix);
    if (a->own_loop && a->loop)
        ev_loop_free(a->loop);
    free(a);
}

ev_loop *app_loop(const wr_app *a) { return a->loop; }
http_server *app_server(const wr_app *a) { return a->srv; }
const char *app_last_error(const wr_app *a) { return a->err; }

int app_route_mask(wr_app *a, unsigned methods, const char *pattern,
                   app_handler_fn handler, void *arg)
{
    if (handler == NULL) {
        snprintf(a->err, sizeof(a->err), "no handler for %.64s", pattern ? pattern : "(null)");
        return errno = EINVAL, -1;
    }
    if (a->nroutes == a->rcap) {
        size_t ncap = a->rcap ? a->rcap * 2 : 16;
        struct app_route_ent **nr = realloc(a->routes, ncap * sizeof(*nr));
        if (nr == NULL)
            return errno = ENOMEM, -1;
        a->routes = nr;
        a->rcap = ncap;
    }
    /* The router keeps an opaque pointer: this entry carries the function
     * pointer (ISO C has no function <-> void * conversion). */
    struct app_route_ent *e = malloc(sizeof(*e));
    if (e == NULL)
        return errno = ENOMEM, -1;
    *e = (struct app_route_ent){ handler, arg };
    if (router_add(a->rt, methods, pattern, e, NULL) < 0) {
        snprintf(a->err, sizeof(a->err), "%s", router_error(a->rt));
        free(e);
        return -1;
    }
    a->routes[a->nroutes++] = e;
    a->methods |= methods & ROUTER_ANY;
    if (methods & ROUTER_METHOD(HTTP_M_GET))
        a->methods |= ROUTER_METHOD(HTTP_M_HEAD);    /* GET routes answer HEAD */
    return 0;
}

int app_route(wr_app *a, const char *methods, const char *pattern,
              app_handler_fn handler, void *arg)
{
    unsigned mask = router_methods_parse(methods);
    if (mask == 0) {
        snprintf(a->err, sizeof(a->err), "bad method list \"%.64s\" for %.64s",
                 methods ? methods : "(null)", pattern ? pattern : "(null)");
        errno = EINVAL;
        return -1;
    }
    return app_route_mask(a, mask, pattern, handler, arg);
}

int app_hook(wr_app *a, const char *prefix, app_hook_fn fn, void *arg)
{
    if (a->nhooks == APP_MAX_HOOKS)
        return errno = ENOSPC, -1;
    if (prefix == NULL || prefix[0] != '/' || fn == NULL)
        return errno = EINVAL, -1;
    size_t plen = strlen(prefix);
    while (plen > 1 && prefix[plen - 1] == '/')
        plen--;             /* "/api/" covers the same paths as "/api" */
    char *copy = strndup(prefix, plen);
    if (copy == NULL)
        return -1;
    a->hooks[a->nhooks++] = (struct app_hook_ent){ copy, plen, fn, arg };
    return 0;
}

void app_set_fallback(wr_app *a, app_handler_fn fn, void *arg)
{
    a->fallback = fn;
    a->fallback_arg = arg;
}

int app_listen(wr_app *a, const char *ip, int port)
{
    return http_server_listen(a->srv, ip, port);
}

int app_port(const wr_app *a)
{
    return http_server_port(a->srv);
}

/* --- per-request state --- */

static struct app_req *req_of(const http_txn *t)
{
    return http_txn_get_data(t);
}

static void pairs_free(struct app_pairs *p)
{
    if (p->parsed)
        buf_free(&p->store);
}

static void req_free(struct app_req *r)
{
    if (r == NULL)
        return;
    pairs_free(&r->query);
    pairs_free(&r->form);
    pairs_free(&r->cookies);
    json_free(r->body);
    buf_free(&r->out);
    free(r);
}

/* Takes the state off the txn; the caller frees it after completing t. */
static struct app_req *req_detach(http_txn *t)
{
    struct app_req *r = req_of(t);
    http_txn_set_data(t, NULL);
    return r;
}

void app_done(http_txn *t)
{
    req_free(req_detach(t));
}

/* The engine calls this when t is freed, however it was completed, so the
 * per-request state never outlives its transaction. */
static void app_on_txn_free(http_txn *t, void *arg)
{
    (void)arg;
    app_done(t);
}

wr_app *app_of(const http_txn *t)
{
    struct app_req *r = req_of(t);
    return r ? r->app : NULL;
}

/* --- dispatch --- */

static void answer_allow(http_txn *t, unsigned allow, bool options)
{
    char list[160];
    router_allow_format(allow | ROUTER_METHOD(HTTP_M_OPTIONS), list, sizeof(list));
    http_txn_add_header(t, "Allow", list);
    if (options) {
        app_send(t, 204, NULL, "", 0);
        return;
    }
    char detail[200];
    snprintf(detail, sizeof(detail), "allowed: %s", list);
    app_json_error(t, 405, "method not allowed", detail);
}

static void not_found(http_txn *t, wr_app *a)
{
    if (a->fallback) {
        a->fallback(t, a->fallback_arg);
        return;
    }
    app_json_error(t, 404, "not found", http_txn_path(t));
}

static void route_request(http_txn *t, struct app_req *r)
{
    wr_app *a = r->app;
    enum http_method m = http_txn_method(t);
    /* "OPTIONS *" asks about the server as a whole. */
    if (m == HTTP_M_OPTIONS && strcmp(http_txn_target(t), "*") == 0) {
        answer_allow(t, a->methods, true);
        return;
    }
    switch (router_match(a->rt, m, http_txn_path(t), &r->match)) {
    case ROUTER_FOUND: {
        const struct app_route_ent *e = r->match.handler;
        e->fn(t, e->arg);
        return;
    }
    case ROUTER_METHOD_NOT_ALLOWED:
        answer_allow(t, r->match.allow, m == HTTP_M_OPTIONS);
        return;
    case ROUTER_NOT_FOUND:
        not_found(t, a);
        return;
    }
}

static bool hook_covers(const struct app_hook_ent *h, const char *path)
{
    if (h->plen == 1)
        return true;
    return strncmp(path, h->prefix, h->plen) == 0
        && (path[h->plen] == '\0' || path[h->plen] == '/');
}

void app_next(http_txn *t)
{
    struct app_req *r = req_of(t);
    if (r == NULL)
        return;
    wr_app *a = r->app;
    const char *path = http_txn_path(t);
    while (r->next_hook < a->nhooks) {
        const struct app_hook_ent *h = &a->hooks[r->next_hook++];
        if (!hook_covers(h, path))
            continue;
        /* DONE: t is completed and r freed; ASYNC: the hook resumes. */
        if (h->fn(t, h->arg) != APP_HOOK_NEXT)
            return;
    }
    route_request(t, r);
}

static void app_dispatch(http_txn *t, void *arg)
{
    struct app_req *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        http_txn_error(t, 503);
        return;
    }
    r->app = arg;
    http_txn_set_data(t, r);
    http_txn_on_free(t, app_on_txn_free, NULL);
    app_next(t);
}

/* --- request helpers --- */

const char *app_param(const http_txn *t, const char *name)
{
    struct app_req *r = req_of(t);
    return r ? router_param(&r->match, name) : NULL;
}

static int pair_add(struct app_pairs *p, const char *name, size_t nl,
                    const char *value, size_t vl)
{
    if (p->n == APP_MAX_PAIRS)
        return -1;
    size_t at = buf_len(&p->store);
    if (buf_append(&p->store, name, nl) < 0 || buf_append(&p->store, "", 1) < 0
        || buf_append(&p->store, value, vl) < 0 || buf_append(&p->store, "", 1) < 0)
        return -1;
    p->off[p->n][0] = at;
    p->off[p->n][1] = at + nl + 1;
    p->n++;
    return 0;
}

static int pair_cb(const char *name, const char *value, void *arg)
{
    return pair_add(arg, name, strlen(name), value, strlen(value));
}

static const char *pair_find(const struct app_pairs *p, const char *name)
{
    if (!p->ok || name == NULL)
        return NULL;
    const char *base = buf_ptr(&p->store);
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(base + p->off[i][0], name) == 0)
            return base + p->off[i][1];
    return NULL;
}

/* Parses a query string or form body once; on any error keeps nothing. */
static void pairs_parse_form(struct app_pairs *p, const char *s, size_t n)
{
    p->parsed = true;
    buf_init(&p->store, APP_MAX_PAIR_BYTES);
    p->ok = http_form_parse(s, n, pair_cb, p) == 0;
}

const char *app_query(http_txn *t, const char *name)
{
    struct app_req *r = req_of(t);
    if (r == NULL)
        return NULL;
    if (!r->query.parsed) {
        const char *q = http_txn_query(t);
        pairs_parse_form(&r->query, q, strlen(q));
    }
    return pair_find(&r->query, name);
}

/* Length of the media type of a Content-Type value (before ';', trailing
 * whitespace dropped). */
static size_t media_type_len(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n;
}

/* The media type of a Content-Type value equals want, ignoring case. */
static bool media_type_is(const char *ct, const char *want)
{
    return ct && media_type_len(ct) == strlen(want)
        && strncasecmp(ct, want, strlen(want)) == 0;
}

bool app_is_json(const http_txn *t)
{
    const char *ct = http_txn_header(t, "Content-Type");
    if (ct == NULL)
        return false;
    if (media_type_is(ct, "application/json"))
        return true;
    /* Structured syntax suffix (RFC 6839): application/problem+json ... */
    size_t n = media_type_len(ct);
    return n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0 && memchr(ct, '/', n) != NULL;
}

const char *app_form(http_txn *t, const char *name)
{
    struct app_req *r = req_of(t);
    if (r == NULL)
        return NULL;
    if (!r->form.parsed) {
        size_t len = 0;
        const char *body = http_txn_body(t, &len);
        if (media_type_is(http_txn_header(t, "Content-Type"),
                          "application/x-www-form-urlencoded")) {
            pairs_parse_form(&r->form, body, len);
        } else {
            r->form.parsed = true;
            buf_init(&r->form.store, APP_MAX_PAIR_BYTES);
        }
    }
    return pair_find(&r->form, name);
}

/* "a=b; c=\"d\"" -> pairs.  Items without '=' are skipped (as browsers
 * do); a value in double quotes loses them. */
static void pairs_parse_cookies(struct app_pairs *p, const char *s)
{
    p->parsed = true;
    p->ok = true;
    buf_init(&p->store, APP_MAX_PAIR_BYTES);
    while (s && *s && p->ok) {
        size_t item = strcspn(s, ";");
        const char *eq = memchr(s, '=', item);
        if (eq) {
            const char *n0 = s, *n1 = eq, *v0 = eq + 1, *v1 = s + item;
            while (n0 < n1 && (*n0 == ' ' || *n0 == '\t')) n0++;
            while (n1 > n0 && (n1[-1] == ' ' || n1[-1] == '\t')) n1--;
            while (v0 < v1 && (*v0 == ' ' || *v0 == '\t')) v0++;
            while (v1 > v0 && (v1[-1] == ' ' || v1[-1] == '\t')) v1--;
            if (v1 - v0 >= 2 && *v0 == '"' && v1[-1] == '"') {
                v0++;
                v1--;
            }
            if (n1 > n0 && pair_add(p, n0, (size_t)(n1 - n0), v0, (size_t)(v1 - v0)) < 0)
                p->ok = false;
        }
        s += item;
        if (*s == ';')
            s++;
    }
}

const char *app_cookie(http_txn *t, const char *name)
{
    struct app_req *r = req_of(t);
    if (r == NULL)
        return NULL;
    if (!r->cookies.parsed)
        pairs_parse_cookies(&r->cookies, http_txn_header(t, "Cookie"));
    return pair_find(&r->cookies, name);
}

int app_json_body(http_txn *t, const json_value **out)
{
    struct app_req *r = req_of(t);
    if (r && r->body) {
        *out = json_root(r->body);
        return 0;
    }
    if (r == NULL || !app_is_json(t)) {
        app_json_error(t, 415, "unsupported media type", "expected Content-Type: application/json");
        return -1;
    }
    size_t len = 0, max = r->app->cfg.json.max_size ? r->app->cfg.json.max_size
                                                    : JSON_DEFAULT_MAX_SIZE;
    const char *body = http_txn_body(t, &len);
    if (len > max) {
        app_json_error(t, 413, "payload too large", "JSON body over the size limit");
        return -1;
    }
    struct json_error e;
    r->body = json_parse(body, len, &r->app->cfg.json, &e);
    if (r->body == NULL) {
        char detail[160];
        app_json_error(t, 400, "invalid JSON", json_error_text(&e, detail, sizeof(detail)));
        return -1;
    }
    *out = json_root(r->body);
    return 0;
}

/* --- response helpers --- */

void app_send(http_txn *t, int status, const char *content_type,
              const void *body, size_t len)
{
    struct app_req *r = req_detach(t);
    http_txn_reply(t, status, content_type, body, len);
    req_free(r);
}

json_writer *app_json_begin(http_txn *t)
{
    struct app_req *r = req_of(t);
    if (r == NULL)
        return NULL;
    buf_free(&r->out);
    buf_init(&r->out, APP_JSON_OUT_CAP);
    json_w_init(&r->w, &r->out);
    return &r->w;
}

void app_json_end(http_txn *t, int status)
{
    struct app_req *r = req_of(t);
    if (r == NULL || r->w.out == NULL) {
        app_json_error(t, 500, "internal error", "app_json_end without app_json_begin");
        return;
    }
    if (json_w_finish(&r->w) < 0) {
        app_json_error(t, 500, "internal error", r->w.errmsg);
        return;
    }
    r = req_detach(t);
    http_txn_reply(t, status, "application/json", buf_ptr(&r->out), buf_len(&r->out));
    req_free(r);
}

void app_json_error(http_txn *t, int status, const char *error, const char *detail)
{
    buf b;
    json_writer w;
    buf_init(&b, APP_ERROR_JSON_CAP);
    json_w_init(&w, &b);
    json_w_begin_object(&w);
    json_w_key(&w, "error");
    json_w_string(&w, error ? error : http_status_text(status));
    if (detail) {
        json_w_key(&w, "detail");
        json_w_string(&w, detail);
    }
    json_w_end_object(&w);
    if (json_w_finish(&w) < 0) {
        /* Only a detail over the cap gets here: answer without it. */
        buf_reset(&b);
        buf_puts(&b, "{\"error\":\"internal error\"}");
    }
    app_send(t, status, "application/json", buf_ptr(&b), buf_len(&b));
    buf_free(&b);
}

void app_redirect(http_txn *t, int status, const char *location)
{
    bool ok_status = status == 301 || status == 302 || status == 303
                  || status == 307 || status == 308;
    if (!ok_status || location == NULL || location[0] == '\0'
        || http_txn_add_header(t, "Location", location) < 0) {
        app_json_error(t, 500, "internal error", "invalid redirect");
        return;
    }
    app_send(t, status, "text/plain; charset=utf-8", "Redirecting\n", 12);
}

void app_file(http_txn *t, const char *path, const char *content_type)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0) {
        app_send_error(t, errno == ENOENT || errno == ENOTDIR ? 404 : 403);
        return;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        app_send_error(t, 403);
        return;
    }
    http_txn_add_header(t, "Content-Type", content_type ? content_type : static_mime_type(path));
    http_txn_set_status(t, 200);
    struct app_req *r = req_detach(t);
    http_txn_send_file(t, fd, 0, st.st_size);
    req_free(r);
}

void app_finish(http_txn *t)
{
    struct app_req *r = req_detach(t);
    http_txn_finish(t);
    req_free(r);
}

void app_send_error(http_txn *t, int status)
{
    struct app_req *r = req_detach(t);
    http_txn_error(t, status);
    req_free(r);
}

void app_end(http_txn *t)
{
    struct app_req *r = req_detach(t);
    http_txn_end(t);
    req_free(r);
}

void app_abort(http_txn *t)
{
    struct app_req *r = req_detach(t);
    http_txn_abort(t);
    req_free(r);
}

int app_hijack(http_txn *t, buf *rest)
{
    struct app_req *r = req_detach(t);
    int fd = http_txn_hijack(t, rest);
    req_free(r);
    return fd;
}

/* --- cookies --- */

static bool cookie_octets(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\')
            return false;
    }
    return true;
}

static bool attr_value_ok(const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == ';')
            return false;
    }
    return true;
}

int app_set_cookie(http_txn *t, const char *name, const char *value,
                   const struct app_cookie_opts *o)
{
    static const struct app_cookie_opts none = { .max_age = -1 };
    static const char *const samesite[] = { NULL, "Strict", "Lax", "None" };
    char line[4096];
    if (o == NULL)
        o = &none;
    if (name == NULL || !http_is_token(name, strlen(name)) || value == NULL
        || !cookie_octets(value) || !attr_value_ok(o->path) || !attr_value_ok(o->domain)
        || (unsigned)o->same_site > APP_SAMESITE_NONE
        || (o->same_site == APP_SAMESITE_NONE && !o->secure))
        return errno = EINVAL, -1;
    int n = snprintf(line, sizeof(line), "%s=%s", name, value);
    if (o->max_age >= 0)
        n += snprintf(line + n, sizeof(line) - (size_t)n, "; Max-Age=%lld", o->max_age);
    if (o->path && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, "; Path=%s", o->path);
    if (o->domain && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, "; Domain=%s", o->domain);
    if (o->same_site && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, "; SameSite=%s", samesite[o->same_site]);
    if (o->secure && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, "; Secure");
    if (o->http_only && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, "; HttpOnly");
    if (n < 0 || (size_t)n >= sizeof(line))
        return errno = ENOBUFS, -1;
    return http_txn_add_header(t, "Set-Cookie", line);
}

/* --- running --- */

static void app_server_done(http_server *s, void *arg)
{
    wr_app *a = arg;
    (void)s;
    if (a->run && a->run->pending > 0 && --a->run->pending == 0)
        ev_stop(a->run->loop);
}

void app_stop(wr_app *a)
{
    if (a->stopping)
        return;
    a->stopping = true;
    if (a->on_stop)
        a->on_stop(a, a->on_stop_arg);
    http_server_shutdown(a->srv, APP_GRACE_MS, app_server_done, a);
}

void app_on_stop(wr_app *a, void (*cb)(wr_app *a, void *arg), void *arg)
{
    a->on_stop = cb;
    a->on_stop_arg = arg;
}

/* The signal handler's context: the apps being run. */
struct app_run_set {
    struct app_run run;
    wr_app *const *apps;
    size_t n;
};

static void app_on_signal(ev_loop *loop, int signo, void *arg)
{
    struct app_run_set *set = arg;
    (void)signo;
    /* A second TERM/INT means "now". */
    if (set->run.signals++ > 0) {
        ev_stop(loop);
        return;
    }
    for (size_t i = 0; i < set->n; i++)
        app_stop(set->apps[i]);
}

int app_run_many(wr_app *const *apps, size_t n)
{
    if (n == 0)
        return errno = EINVAL, -1;
    ev_loop *loop = apps[0]->loop;
    struct app_run_set set = { { loop, n, 0 }, apps, n };
    for (size_t i = 0; i < n; i++) {
        if (apps[i]->loop != loop)
            return errno = EINVAL, -1;
        apps[i]->run = &set.run;
    }
    signal(SIGPIPE, SIG_IGN);   /* a vanished client is an EPIPE, not a death */
    ev_signal_set(loop, SIGTERM, app_on_signal, &set);
    ev_signal_set(loop, SIGINT, app_on_signal, &set);
    int rc = ev_run(loop);
    ev_signal_set(loop, SIGTERM, NULL, NULL);
    ev_signal_set(loop, SIGINT, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        apps[i]->run = NULL;
    return rc;
}

int app_run(wr_app *a)
{
    return app_run_many(&a, 1);
}
