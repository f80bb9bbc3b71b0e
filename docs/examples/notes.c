/*
 * notes.c - a tour of the WeApRous app layer: route patterns, a hook that
 * protects a group of routes, query/form/JSON/cookie helpers, an answer
 * that comes later (timer), a streamed (chunked) answer, redirects, files,
 * and a graceful stop from code.
 *
 *   cc notes.c $(pkg-config --cflags --libs weaprous) -o notes && ./notes 8000 notes.c
 *
 * Routes (see docs/FRAMEWORK.md):
 *   GET  /files/:path+      the segments after /files, joined by '/'
 *   GET  /search            ?q=...  (decoded query parameter)
 *   POST /login             form or JSON {"user":...}; sets cookie "user"
 *   GET  /api/notes         hook: needs cookie "user" (else 401)
 *   POST /api/notes         JSON {"text": "..."} -> 201
 *   GET  /api/slow          answered 200 ms later from a timer
 *   GET  /count/:n?         streams n lines (default 3) chunked
 *   GET  /old               308 to /search
 *   GET  /file              the file named by the second argument (app_file)
 *   POST /quit              graceful stop (send a body: curl -d '')
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weaprous.h>

#define NOTES_MAX      16
#define NOTES_TEXT_MAX 200

struct notes {
    char     text[NOTES_MAX][NOTES_TEXT_MAX];
    size_t   n;
    wr_app  *app;
    ev_timer slow_timer;
    http_txn *slow_txn;      /* the request the timer will answer */
    const char *file;        /* served by GET /file */
};

static void files(http_txn *t, void *arg)
{
    char msg[512];
    int len = snprintf(msg, sizeof msg, "you asked for %s\n", app_param(t, "path"));
    app_send(t, 200, "text/plain; charset=utf-8", msg, (size_t)len);
}

static void search(http_txn *t, void *arg)
{
    const char *q = app_query(t, "q");
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    json_w_key(w, "q");
    json_w_string(w, q);                     /* NULL is written as null */
    json_w_end_object(w);
    app_json_end(t, 200);
}

static void login(http_txn *t, void *arg)
{
    const char *user;
    if (app_is_json(t)) {
        const json_value *body;
        if (app_json_body(t, &body) < 0)
            return;                          /* 400/413/415 already sent */
        user = json_get_str(body, "user");
    } else {
        user = app_form(t, "user");          /* x-www-form-urlencoded */
    }
    struct app_cookie_opts co = { .max_age = -1, .path = "/", .http_only = true,
                                  .same_site = APP_SAMESITE_LAX };
    if (user == NULL || app_set_cookie(t, "user", user, &co) < 0) {
        app_json_error(t, 400, "bad request", "user: a name without ; , or spaces");
        return;
    }
    app_send(t, 204, NULL, "", 0);
}

/* Runs before every route under /api. */
static enum app_hook_result need_user(http_txn *t, void *arg)
{
    if (app_cookie(t, "user") != NULL)
        return APP_HOOK_NEXT;
    app_json_error(t, 401, "unauthorized", "POST /login first");
    return APP_HOOK_DONE;
}

static void notes_list(http_txn *t, void *arg)
{
    struct notes *s = arg;
    json_writer *w = app_json_begin(t);
    json_w_begin_array(w);
    for (size_t i = 0; i < s->n; i++)
        json_w_string(w, s->text[i]);
    json_w_end_array(w);
    app_json_end(t, 200);
}

static void notes_add(http_txn *t, void *arg)
{
    struct notes *s = arg;
    const json_value *body;
    size_t len;
    if (app_json_body(t, &body) < 0)
        return;
    const char *text = json_str(json_get(body, "text"), &len);
    if (text == NULL || len == 0 || len >= NOTES_TEXT_MAX || memchr(text, 0, len)) {
        app_json_error(t, 422, "invalid note", "\"text\": 1 to 199 bytes");
        return;
    }
    if (s->n == NOTES_MAX) {
        app_json_error(t, 507, "full", NULL);
        return;
    }
    memcpy(s->text[s->n++], text, len + 1);
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    json_w_key(w, "id");
    json_w_uint(w, s->n);
    json_w_end_object(w);
    app_json_end(t, 201);
}

/* Asynchronous answer: the handler returns, the timer completes t. */
static void slow_fire(ev_loop *loop, ev_timer *tm, void *arg)
{
    struct notes *s = arg;
    http_txn *t = s->slow_txn;
    s->slow_txn = NULL;
    app_send(t, 200, "text/plain", "later\n", 6);
}

static void slow(http_txn *t, void *arg)
{
    struct notes *s = arg;
    if (s->slow_txn != NULL) {               /* one at a time in this demo */
        app_json_error(t, 503, "busy", NULL);
        return;
    }
    s->slow_txn = t;
    ev_timer_start(app_loop(s->app), &s->slow_timer, 200, 0);
}

/* Streaming: the head goes out now, then chunks, then app_end(). */
static void count(http_txn *t, void *arg)
{
    const char *n_s = app_param(t, "n");
    int n = n_s ? atoi(n_s) : 3;
    if (n < 0 || n > 1000) {
        app_json_error(t, 400, "bad request", "n: 0 to 1000");
        return;
    }
    http_txn_set_status(t, 200);
    http_txn_add_header(t, "Content-Type", "text/plain");
    if (http_txn_begin(t, -1) < 0) {         /* -1: chunked */
        app_abort(t);
        return;
    }
    for (int i = 1; i <= n; i++) {
        char line[32];
        int len = snprintf(line, sizeof line, "%d\n", i);
        if (http_txn_write(t, line, (size_t)len) < 0)
            break;                           /* ENOBUFS / EPIPE */
    }
    app_end(t);
}

static void old(http_txn *t, void *arg)
{
    app_redirect(t, 308, "/search");
}

static void file(http_txn *t, void *arg)
{
    struct notes *s = arg;
    app_file(t, s->file, NULL);              /* type guessed from the name */
}

static void quit(http_txn *t, void *arg)
{
    struct notes *s = arg;
    app_send(t, 202, "text/plain", "bye\n", 4);
    app_stop(s->app);                        /* in-flight requests finish */
}

int main(int argc, char **argv)
{
    static struct notes s;
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    struct app_config cfg = { .http = { .max_body = 64 << 10 },
                              .json = { .max_size = 16 << 10, .max_depth = 8 } };
    wr_app *a = app_new(NULL, &cfg);
    if (a == NULL)
        return 1;
    s.app = a;
    s.file = argc > 2 ? argv[2] : "notes.c";
    ev_timer_init(&s.slow_timer, slow_fire, &s);
    if (app_route(a, "GET", "/files/:path+", files, &s) < 0
        || app_route(a, "GET", "/search", search, &s) < 0
        || app_route(a, "POST", "/login", login, &s) < 0
        || app_route(a, "GET", "/api/notes", notes_list, &s) < 0
        || app_route(a, "POST", "/api/notes", notes_add, &s) < 0
        || app_route(a, "GET", "/api/slow", slow, &s) < 0
        || app_route(a, "GET", "/count/:n?", count, &s) < 0
        || app_route(a, "GET", "/old", old, &s) < 0
        || app_route(a, "GET", "/file", file, &s) < 0
        || app_route(a, "POST", "/quit", quit, &s) < 0
        || app_hook(a, "/api", need_user, &s) < 0) {
        fprintf(stderr, "notes: %s\n", app_last_error(a));
        return 1;
    }
    if (app_listen(a, "127.0.0.1", port) < 0) {
        perror("notes: listen");
        return 1;
    }
    printf("listening on %d\n", app_port(a));
    fflush(stdout);
    int rc = app_run(a);
    app_free(a);
    return rc < 0;
}
