/*
 * engine_echo.c - a test server for t/engine.t, written against the public
 * engine API only (weaprous.h): every way a handler can answer.
 *
 *   engine_echo --port N [--stream-port N] [--dir DIR] [--max-body BYTES]
 *               [--stream-max-body BYTES]
 *               [--header-timeout-ms MS] [--keepalive-timeout-ms MS]
 *               [--body-timeout-ms MS] [--send-timeout-ms MS]
 *
 * Routes on --port (buffered bodies):
 *   /echo            the request body as the response body; request facts in
 *                    X-Echo-* fields, and as text with ?text=1
 *   /stream?n=&size=&delay=&cl=&pace=&clfix=
 *                    n pieces of size bytes (piece i is the letter 'a'+i%26
 *                    repeated), chunked (or with Content-Length when cl=1),
 *                    produced with begin/write/on_drain; delay=MS starts
 *                    the response from a timer; pace=1 writes one piece per
 *                    drain callback; clfix=N announces N bytes whatever it
 *                    writes (a handler bug the engine must contain)
 *   /slow?ms=N       answered N ms later from a timer (async handler)
 *   /big?n=BYTES     a buffered body of BYTES bytes
 *   /file?path=NAME  http_txn_send_file of DIR/NAME (NAME without '/')
 *   /hijack          101, then the connection echoes raw bytes
 *   /status?code=N   http_txn_error(N)
 *   /stats           counters of this program and of the engine, as text
 * Routes on --stream-port (stream_body mode):
 *   /upload-stream   counts the body through http_txn_on_body, pausing the
 *                    body for 5 ms after every 64 KiB; answers
 *                    "bytes=N fnv=HEX"
 *   anything else    404 at once, without reading the body
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weaprous.h"

#define ECHO_MAX_STREAM_PIECE   (1u << 20)
#define ECHO_MAX_BIG            (64u << 20)
#define ECHO_PAUSE_EVERY        (64u << 10)
#define ECHO_PAUSE_MS           5
#define ECHO_HIJACK_BUF         65536
#define ECHO_DIR_MAX            1024

struct echo_app {
    ev_loop     *loop;
    http_server *main, *stream;
    char         dir[ECHO_DIR_MAX];
    uint64_t     slow_started, slow_done, slow_orphaned;
    uint64_t     streams_started, streams_done, streams_orphaned, streams_failed;
    uint64_t     uploads_started, uploads_done, uploads_closed, hijacked;
};

/* --- small helpers --- */

/* Value of name in the query string, decoded into out; NULL if absent. */
struct query_find {
    const char *name;
    char       *out;
    size_t      size;
    bool        found;
};

static int query_pair(const char *name, const char *value, void *arg)
{
    struct query_find *q = arg;
    if (q->found || strcmp(name, q->name) != 0)
        return 0;
    snprintf(q->out, q->size, "%s", value);
    q->found = true;
    return 0;
}

static const char *query_get(http_txn *t, const char *name, char *out, size_t size)
{
    struct query_find q = { name, out, size, false };
    const char *qs = http_txn_query(t);
    http_form_parse(qs, strlen(qs), query_pair, &q);
    return q.found ? out : NULL;
}

static long long query_num(http_txn *t, const char *name, long long dflt)
{
    char v[32];
    if (!query_get(t, name, v, sizeof(v)))
        return dflt;
    char *end;
    long long n = strtoll(v, &end, 10);
    return (*end || n < 0) ? -1 : n;
}

/* --- /echo --- */

static void echo_text(http_txn *t, const char *body, size_t len)
{
    const struct http_head *h = http_txn_head(t);
    http_txn_printf(t, "method=%s\ntarget=%s\npath=%s\nquery=%s\nversion=%d.%d\n"
                    "fields=%zu\nbody-length=%zu\n",
                    http_txn_method_str(t), http_txn_target(t), http_txn_path(t),
                    http_txn_query(t), h->version_major, h->version_minor,
                    h->num_headers, len);
    for (size_t i = 0; i < h->num_headers; i++)
        http_txn_printf(t, "field: %s: %s\n", h->headers[i].name, h->headers[i].value);
    http_txn_append(t, "\n", 1);
    http_txn_append(t, body, len);
}

static void route_echo(struct echo_app *app, http_txn *t)
{
    size_t len;
    const char *body = http_txn_body(t, &len);
    const struct http_head *h = http_txn_head(t);
    char v[8];
    http_txn_add_header(t, "X-Echo-Method", http_txn_method_str(t));
    http_txn_add_header(t, "X-Echo-Path", http_txn_path(t));
    http_txn_add_header(t, "X-Echo-Query", http_txn_query(t));
    http_txn_add_headerf(t, "X-Echo-Version", "%d.%d", h->version_major, h->version_minor);
    http_txn_add_headerf(t, "X-Echo-Body-Length", "%zu", len);
    http_txn_add_header(t, "Content-Type", "application/octet-stream");
    if (query_get(t, "text", v, sizeof(v)))
        echo_text(t, body, len);
    else
        http_txn_append(t, body, len);
    http_txn_finish(t);
}

/* --- /stream --- */

struct stream_job {
    struct echo_app *app;
    http_txn *t;
    ev_timer  timer;
    long long n, size, next;
    int64_t   cl;
    char     *piece;
    bool      in_fill;     /* stream_fill() is on the stack */
    bool      pace;        /* one piece per drain callback */
};

static void stream_free(struct stream_job *j)
{
    ev_timer_stop(j->app->loop, &j->timer);
    free(j->piece);
    free(j);
}

static void stream_fill(http_txn *t, void *arg);

/* Writes pieces until the output is congested, then waits for a drain. */
static void stream_fill(http_txn *t, void *arg)
{
    struct stream_job *j = arg;
    j->in_fill = true;
    while (j->next < j->n) {
        if (http_txn_congested(t)) {
            http_txn_on_drain(t, stream_fill, j);
            j->in_fill = false;
            return;
        }
        memset(j->piece, 'a' + (int)(j->next % 26), (size_t)j->size);
        if (http_txn_write(t, j->piece, (size_t)j->size) < 0) {
            if (errno == ENOBUFS) {
                http_txn_on_drain(t, stream_fill, j);
                j->in_fill = false;
                return;
            }
            j->app->streams_failed++;   /* client gone, or over the length */
            http_txn_end(t);
            stream_free(j);
            return;
        }
        j->next++;
        if (j->pace && j->next < j->n) {
            /* one piece per drain: wait even when nothing is queued */
            http_txn_on_drain(t, stream_fill, j);
            j->in_fill = false;
            return;
        }
    }
    j->app->streams_done++;
    http_txn_end(t);
    stream_free(j);
}

/* The client left.  Waiting for a drain that will never come: complete
 * now.  Inside stream_fill (a write failed) or before the delayed start,
 * the failing write or http_txn_begin() completes it instead. */
static void stream_closed(http_txn *t, void *arg)
{
    struct stream_job *j = arg;
    j->app->streams_orphaned++;
    if (j->in_fill || ev_timer_active(&j->timer))
        return;
    http_txn_end(t);
    stream_free(j);
}

static void stream_start(struct stream_job *j)
{
    http_txn_add_header(j->t, "Content-Type", "text/plain");
    if (http_txn_begin(j->t, j->cl) < 0) {
        /* the client left before the head: complete and forget */
        http_txn_end(j->t);
        stream_free(j);
        return;
    }
    stream_fill(j->t, j);
}

static void stream_later(ev_loop *loop, ev_timer *tm, void *arg)
{
    stream_start(arg);
}

static void route_stream(struct echo_app *app, http_txn *t)
{
    long long n = query_num(t, "n", 10), size = query_num(t, "size", 100);
    long long delay = query_num(t, "delay", 0), cl = query_num(t, "cl", 0);
    long long pace = query_num(t, "pace", 0), clfix = query_num(t, "clfix", -1);
    if (n < 0 || size <= 0 || size > (long long)ECHO_MAX_STREAM_PIECE || delay < 0 ||
        n > (1ll << 24)) {
        http_txn_error(t, 400);
        return;
    }
    struct stream_job *j = calloc(1, sizeof(*j));
    if (!j || !(j->piece = malloc((size_t)size))) {
        free(j);
        http_txn_error(t, 500);
        return;
    }
    j->app = app;
    j->t = t;
    j->n = n;
    j->size = size;
    j->cl = cl == 1 ? (int64_t)(n * size) : -1;
    if (clfix >= 0)
        j->cl = clfix;      /* a handler that gets its own length wrong */
    j->pace = pace == 1;
    app->streams_started++;
    ev_timer_init(&j->timer, stream_later, j);
    http_txn_on_close(t, stream_closed, j);
    if (delay > 0)
        ev_timer_start(app->loop, &j->timer, (uint64_t)delay, 0);
    else
        stream_start(j);
}

/* --- /slow --- */

struct slow_job {
    struct echo_app *app;
    http_txn *t;
    ev_timer  timer;
    long long ms;
    bool      orphan;
};

static void slow_fire(ev_loop *loop, ev_timer *tm, void *arg)
{
    struct slow_job *j = arg;
    char body[64];
    int n = snprintf(body, sizeof(body), "slow %lld\n", j->ms);
    j->app->slow_done++;
    if (j->orphan)
        j->app->slow_orphaned++;
    http_txn_reply(j->t, 200, "text/plain", body, (size_t)n);
    free(j);
}

static void slow_closed(http_txn *t, void *arg)
{
    struct slow_job *j = arg;
    (void)t;
    j->orphan = true;
}

static void route_slow(struct echo_app *app, http_txn *t)
{
    long long ms = query_num(t, "ms", 100);
    struct slow_job *j = ms < 0 ? NULL : calloc(1, sizeof(*j));
    if (!j) {
        http_txn_error(t, ms < 0 ? 400 : 500);
        return;
    }
    j->app = app;
    j->t = t;
    j->ms = ms;
    app->slow_started++;
    http_txn_on_close(t, slow_closed, j);
    ev_timer_init(&j->timer, slow_fire, j);
    ev_timer_start(app->loop, &j->timer, (uint64_t)ms, 0);
}

/* --- /big, /file, /status, /stats --- */

static void route_big(http_txn *t)
{
    long long n = query_num(t, "n", 1000);
    if (n < 0 || n > (long long)ECHO_MAX_BIG) {
        http_txn_error(t, 400);
        return;
    }
    char block[4096];
    for (size_t i = 0; i < sizeof(block); i++)
        block[i] = (char)('0' + i % 10);
    http_txn_add_header(t, "Content-Type", "text/plain");
    for (long long left = n; left > 0; left -= (long long)sizeof(block)) {
        size_t k = left < (long long)sizeof(block) ? (size_t)left : sizeof(block);
        if (http_txn_append(t, block, k) < 0) {
            http_txn_error(t, 500);    /* over the engine's cap: say so */
            return;
        }
    }
    http_txn_finish(t);
}

static void route_file(struct echo_app *app, http_txn *t)
{
    char name[256], path[ECHO_DIR_MAX + 300];
    if (!app->dir[0] || !query_get(t, "path", name, sizeof(name)) || !name[0] ||
        strchr(name, '/') || strcmp(name, "..") == 0 || strcmp(name, ".") == 0) {
        http_txn_error(t, 403);
        return;
    }
    snprintf(path, sizeof(path), "%s/%s", app->dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        http_txn_error(t, 404);
        return;
    }
    http_txn_add_header(t, "Content-Type", "application/octet-stream");
    http_txn_send_file(t, fd, 0, st.st_size);
}

static void route_stats(struct echo_app *app, http_txn *t)
{
    struct http_server_stats st;
    http_server_get_stats(app->main, &st);
    http_txn_add_header(t, "Content-Type", "text/plain");
    http_txn_printf(t, "backend=%s\n", ev_backend_name());
    http_txn_printf(t, "connections_total=%" PRIu64 "\nrequests_total=%" PRIu64
                    "\nerrors_total=%" PRIu64 "\nconnections_active=%zu\n",
                    st.connections_total, st.requests_total, st.errors_total,
                    st.connections_active);
    http_txn_printf(t, "slow_started=%" PRIu64 "\nslow_done=%" PRIu64
                    "\nslow_orphaned=%" PRIu64 "\nstreams_started=%" PRIu64
                    "\nstreams_done=%" PRIu64 "\nstreams_orphaned=%" PRIu64
                    "\nstreams_failed=%" PRIu64
                    "\nuploads_started=%" PRIu64 "\nuploads_done=%" PRIu64
                    "\nuploads_closed=%" PRIu64 "\nhijacked=%" PRIu64 "\n",
                    app->slow_started, app->slow_done, app->slow_orphaned,
                    app->streams_started, app->streams_done, app->streams_orphaned,
                    app->streams_failed,
                    app->uploads_started, app->uploads_done, app->uploads_closed,
                    app->hijacked);
    http_txn_finish(t);
}

/* --- /hijack: a raw echo on the taken-over socket --- */

struct hijack_conn {
    int fd;
    buf out;
};

static void hijack_free(ev_loop *loop, struct hijack_conn *h)
{
    ev_io_del(loop, h->fd);
    close(h->fd);
    buf_free(&h->out);
    free(h);
}

static void hijack_io(ev_loop *loop, int fd, int events, void *arg)
{
    struct hijack_conn *h = arg;
    if (events & EV_READ) {
        ssize_t n = buf_read_fd(&h->out, fd, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != ENOBUFS)) {
            hijack_free(loop, h);
            return;
        }
    }
    if (buf_len(&h->out) && buf_write_fd(&h->out, fd) < 0 && errno != EAGAIN) {
        hijack_free(loop, h);
        return;
    }
    /* read only while there is room: a client that does not read stalls */
    int want = (buf_room(&h->out) ? EV_READ : 0) | (buf_len(&h->out) ? EV_WRITE : 0);
    ev_io_events(loop, fd, want);
}

static void route_hijack(struct echo_app *app, http_txn *t)
{
    static const char head[] = "HTTP/1.1 101 Switching Protocols\r\n"
        "Connection: Upgrade\r\nUpgrade: raw-echo\r\n\r\n";
    struct hijack_conn *h = calloc(1, sizeof(*h));
    if (!h) {
        http_txn_error(t, 500);
        return;
    }
    buf_init(&h->out, ECHO_HIJACK_BUF);
    buf_append(&h->out, head, sizeof(head) - 1);
    int fd = http_txn_hijack(t, &h->out);  /* bytes already received follow */
    if (fd < 0) {
        buf_free(&h->out);
        free(h);
        return;
    }
    h->fd = fd;
    app->hijacked++;
    if (ev_io_set(app->loop, fd, EV_READ | EV_WRITE, hijack_io, h) < 0) {
        close(fd);
        buf_free(&h->out);
        free(h);
    }
}

/* --- dispatch --- */

static void main_handler(http_txn *t, void *arg)
{
    struct echo_app *app = arg;
    const char *p = http_txn_path(t);
    if (strcmp(p, "/echo") == 0)
        route_echo(app, t);
    else if (strcmp(p, "/stream") == 0)
        route_stream(app, t);
    else if (strcmp(p, "/slow") == 0)
        route_slow(app, t);
    else if (strcmp(p, "/big") == 0)
        route_big(t);
    else if (strcmp(p, "/file") == 0)
        route_file(app, t);
    else if (strcmp(p, "/hijack") == 0)
        route_hijack(app, t);
    else if (strcmp(p, "/status") == 0)
        http_txn_error(t, (int)query_num(t, "code", 500));
    else if (strcmp(p, "/stats") == 0)
        route_stats(app, t);
    else
        http_txn_error(t, 404);
}

/* stream_body port: /upload-stream counts bytes with pause/resume. */
struct upload {
    struct echo_app *app;
    http_txn *t;
    ev_timer  resume;
    uint64_t  bytes, since_pause;
    uint32_t  fnv;
};

static void upload_resume(ev_loop *loop, ev_timer *tm, void *arg)
{
    struct upload *u = arg;
    http_txn_pause_body(u->t, false);
}

static void upload_body(http_txn *t, const char *p, size_t n, bool last, void *arg)
{
    struct upload *u = arg;
    for (size_t i = 0; i < n; i++)
        u->fnv = (u->fnv ^ (unsigned char)p[i]) * 16777619u;
    u->bytes += n;
    u->since_pause += n;
    if (last) {
        char out[80];
        int k = snprintf(out, sizeof(out), "bytes=%" PRIu64 " fnv=%08" PRIx32 "\n",
                         u->bytes, u->fnv);
        u->app->uploads_done++;
        ev_timer_stop(u->app->loop, &u->resume);
        http_txn_set_data(t, NULL);
        free(u);
        http_txn_reply(t, 200, "text/plain", out, (size_t)k);
        return;
    }
    if (u->since_pause >= ECHO_PAUSE_EVERY) {
        u->since_pause = 0;
        http_txn_pause_body(t, true);
        ev_timer_start(u->app->loop, &u->resume, ECHO_PAUSE_MS, 0);
    }
}

static void upload_closed(http_txn *t, void *arg)
{
    struct upload *u = arg;
    u->app->uploads_closed++;
    ev_timer_stop(u->app->loop, &u->resume);
    free(u);
    http_txn_abort(t);     /* complete the orphaned transaction */
}

static void stream_handler(http_txn *t, void *arg)
{
    struct echo_app *app = arg;
    if (strcmp(http_txn_path(t), "/upload-stream") != 0) {
        http_txn_error(t, 404);    /* the body is never read */
        return;
    }
    struct upload *u = calloc(1, sizeof(*u));
    if (!u) {
        http_txn_error(t, 500);
        return;
    }
    u->app = app;
    u->t = t;
    u->fnv = 2166136261u;
    app->uploads_started++;
    ev_timer_init(&u->resume, upload_resume, u);
    http_txn_set_data(t, u);
    http_txn_on_close(t, upload_closed, u);
    http_txn_on_body(t, upload_body, u);
}

/* --- start-up --- */

struct echo_opts {
    int  port, stream_port;
    size_t stream_max_body;
    struct http_server_config cfg;
};

static int opt_num(const char *name, const char *v, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < 0 || n > max) {
        fprintf(stderr, "engine_echo: bad %s '%s'\n", name, v);
        return -1;
    }
    *out = n;
    return 0;
}

static int parse_args(int argc, char **argv, struct echo_opts *o, struct echo_app *app)
{
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (!v) {
            fprintf(stderr, "engine_echo: %s needs a value\n", k);
            return -1;
        }
        i++;
        if (strcmp(k, "--dir") == 0) {
            snprintf(app->dir, sizeof(app->dir), "%s", v);
            continue;
        }
        if (opt_num(k, v, 1ll << 40, &n) < 0)
            return -1;
        if (strcmp(k, "--port") == 0 && n < 65536)
            o->port = (int)n;
        else if (strcmp(k, "--stream-port") == 0 && n < 65536)
            o->stream_port = (int)n;
        else if (strcmp(k, "--max-body") == 0)
            o->cfg.max_body = (size_t)n;
        else if (strcmp(k, "--stream-max-body") == 0)
            o->stream_max_body = (size_t)n;
        else if (strcmp(k, "--header-timeout-ms") == 0)
            o->cfg.header_timeout_ms = (unsigned)n;
        else if (strcmp(k, "--keepalive-timeout-ms") == 0)
            o->cfg.keepalive_timeout_ms = (unsigned)n;
        else if (strcmp(k, "--body-timeout-ms") == 0)
            o->cfg.body_timeout_ms = (unsigned)n;
        else if (strcmp(k, "--send-timeout-ms") == 0)
            o->cfg.send_timeout_ms = (unsigned)n;
        else {
            fprintf(stderr, "engine_echo: unknown option %s\n", k);
            return -1;
        }
    }
    return 0;
}

static void on_term(ev_loop *loop, int signo, void *arg)
{
    struct echo_app *app = arg;
    http_server_free(app->main);
    app->main = NULL;
    if (app->stream)
        http_server_free(app->stream);
    app->stream = NULL;
    ev_stop(loop);
}

int main(int argc, char **argv)
{
    struct echo_app app;
    struct echo_opts o;
    memset(&app, 0, sizeof(app));
    memset(&o, 0, sizeof(o));
    if (parse_args(argc, argv, &o, &app) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    log_open(NULL, LOG_LVL_INFO);
    app.loop = ev_loop_new(0);
    if (!app.loop)
        return 1;
    app.main = http_server_new(app.loop, &o.cfg, main_handler, &app);
    if (!app.main || http_server_listen(app.main, "127.0.0.1", o.port) < 0) {
        fprintf(stderr, "engine_echo: listen on %d: %s\n", o.port, strerror(errno));
        return 1;
    }
    if (o.stream_port) {
        struct http_server_config scfg = o.cfg;
        scfg.stream_body = true;
        scfg.max_body = o.stream_max_body;
        app.stream = http_server_new(app.loop, &scfg, stream_handler, &app);
        if (!app.stream || http_server_listen(app.stream, "127.0.0.1", o.stream_port) < 0) {
            fprintf(stderr, "engine_echo: listen on %d: %s\n", o.stream_port, strerror(errno));
            return 1;
        }
    }
    ev_signal_set(app.loop, SIGTERM, on_term, &app);
    ev_signal_set(app.loop, SIGINT, on_term, &app);
    printf("engine_echo: port %d stream-port %d backend %s\n",
           http_server_port(app.main), app.stream ? http_server_port(app.stream) : 0,
           ev_backend_name());
    fflush(stdout);
    int rc = ev_run(app.loop);
    ev_loop_free(app.loop);
    return rc < 0 ? 1 : 0;
}
