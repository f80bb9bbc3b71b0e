/* test_http_client.c - the HTTP client against our own server engine (JSON
 * round trip, keep-alive reuse, the server closing idle connections) and
 * against a scripted misbehaving server on the same loop (early close,
 * chunked answers fed byte by byte, close-delimited bodies, 1xx, garbage,
 * oversize bodies, silence), plus refused and timed-out connects, cancel. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weaprous/http_client.h"
#include "weaprous/net.h"
#include "weaprous/server.h"
#include "tap.h"

static ev_loop *loop;

/* --- results --- */

struct result {
    int done, err, status;
    char body[512];
    size_t len;
    char ctype[64];
};

static void on_done(hc_request *r, int err, const struct hc_response *resp, void *arg)
{
    struct result *res = arg;
    (void)r;
    res->done++;
    res->err = err;
    if (resp) {
        res->status = resp->status;
        res->len = resp->body_len;
        snprintf(res->body, sizeof res->body, "%s", resp->body);
        const struct http_header *ct = http_head_find(resp->head, "Content-Type");
        if (ct)
            snprintf(res->ctype, sizeof res->ctype, "%.*s", (int)ct->value_len, ct->value);
    }
    ev_stop(loop);
}

static void on_guard(ev_loop *l, ev_timer *t, void *arg)
{
    (void)t; (void)arg;
    ev_stop(l);
}

static void run_ms(unsigned ms)
{
    ev_timer g;
    ev_timer_init(&g, on_guard, NULL);
    ev_timer_start(loop, &g, ms, 0);
    ev_run(loop);
    ev_timer_stop(loop, &g);
}

/* Runs until the result is in (or 5 s). */
static void wait_for(struct result *res)
{
    for (int i = 0; i < 50 && !res->done; i++)
        run_ms(100);
}

static struct sockaddr_storage addr_of(int port, socklen_t *len)
{
    struct sockaddr_storage ss;
    if (net_parse_addr("127.0.0.1", port, &ss, len) < 0)
        abort();
    return ss;
}

static hc_request *get(hc_client *c, int port, const char *target, struct result *res)
{
    socklen_t len;
    struct sockaddr_storage ss = addr_of(port, &len);
    memset(res, 0, sizeof *res);
    return hc_request_start(c, (struct sockaddr *)&ss, len, "GET", "127.0.0.1", target,
                            NULL, NULL, 0, on_done, res);
}

/* --- our own server --- */

static void handler(http_txn *t, void *arg)
{
    (void)arg;
    const char *path = http_txn_path(t);
    size_t n;
    const char *body = http_txn_body(t, &n);

    if (strcmp(path, "/json") == 0)
        http_txn_reply(t, 201, "application/json", body, n);
    else if (strcmp(path, "/hello") == 0)
        http_txn_reply(t, 200, "text/plain", "hello", 5);
    else
        http_txn_error(t, 404);
}

/* --- scripted misbehaving server --- */

struct script { const char *path, *resp; bool trickle, close_after; };

static const struct script scripts[] = {
    { "/close-early", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", false, true },
    { "/chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n", false, false },
    { "/trickle", "HTTP/1.1 200 OK\r\nContent-Type: text/x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n", true, false },
    { "/eof-body", "HTTP/1.1 200 OK\r\n\r\nuntil close", false, true },
    { "/huge", "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\nxx", false, false },
    { "/garbage", "HELLO\r\n\r\n", false, true },
    { "/continue", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      true, false },
    { "/badchunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, true },
    { "/conn-close", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
      false, false },
    { "/no-content", "HTTP/1.1 204 No Content\r\n\r\n", false, false },
    { "/upgrade", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", false, true },
    { "/bigchunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n", false, true },
    { "/hang", NULL, false, false },
};

struct sconn {
    int fd;
    char req[4096];
    size_t len, pos;
    const struct script *s;
    ev_timer t;
};

static void sconn_close(struct sconn *sc)
{
    ev_timer_stop(loop, &sc->t);
    ev_io_del(loop, sc->fd);
    close(sc->fd);
    free(sc);
}

/* Writes the scripted answer, one byte per tick when trickling. */
static void sconn_write(ev_loop *l, ev_timer *t, void *arg)
{
    struct sconn *sc = arg;
    size_t total = strlen(sc->s->resp);
    size_t n = sc->s->trickle ? 1 : total - sc->pos;
    (void)t;

    if (write(sc->fd, sc->s->resp + sc->pos, n) > 0)
        sc->pos += n;
    if (sc->pos < total) {
        ev_timer_start(l, &sc->t, 1, 0);
        return;
    }
    if (sc->s->close_after)
        sconn_close(sc);
    else
        sc->len = 0, sc->s = NULL;   /* keep-alive: wait for the next request */
}

static void sconn_read(ev_loop *l, int fd, int events, void *arg)
{
    struct sconn *sc = arg;
    (void)events;
    ssize_t n = read(fd, sc->req + sc->len, sizeof sc->req - 1 - sc->len);
    if (n <= 0) {
        sconn_close(sc);
        return;
    }
    sc->len += (size_t)n;
    sc->req[sc->len] = '\0';
    if (sc->s || !strstr(sc->req, "\r\n\r\n"))
        return;
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        size_t pl = strlen(scripts[i].path);
        if (strncmp(sc->req + 4, scripts[i].path, pl) == 0 && sc->req[4 + pl] == ' ')
            sc->s = &scripts[i];
    }
    if (!sc->s || !sc->s->resp)
        return;   /* /hang: say nothing */
    sc->pos = 0;
    ev_timer_start(l, &sc->t, 0, 0);
}

static void script_accept(ev_loop *l, int lfd, int events, void *arg)
{
    (void)events; (void)arg;
    int fd;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    while ((fd = net_accept(lfd, &ss, &len)) >= 0) {
        struct sconn *sc = calloc(1, sizeof *sc);
        sc->fd = fd;
        ev_timer_init(&sc->t, sconn_write, sc);
        ev_io_set(l, fd, EV_READ, sconn_read, sc);
    }
}

/* --- tests --- */

static void test_own_server(int port)
{
    struct result res = {0};
    socklen_t len;
    struct sockaddr_storage ss = addr_of(port, &len);
    hc_client *c = hc_client_new(loop, NULL);
    const char *json = "{\"user\":\"alice\",\"n\":1}";

    hc_post_json(c, (struct sockaddr *)&ss, len, "127.0.0.1", "/json", json,
                 strlen(json), on_done, &res);
    wait_for(&res);
    ok(res.done == 1 && res.err == 0 && res.status == 201, "POST JSON answered 201 (%d)", res.err);
    is_str(res.body, json, "JSON body echoed");
    is_str(res.ctype, "application/json", "Content-Type visible in the callback");
    for (int i = 0; i < 3; i++) {
        get(c, port, "/hello", &res);
        wait_for(&res);
        ok(res.status == 200 && strcmp(res.body, "hello") == 0, "GET /hello #%d", i);
    }
    get(c, port, "/nope", &res);
    wait_for(&res);
    is_int(res.status, 404, "a 404 is a response, not an error");
    is_int(hc_client_connects(c), 1, "five requests over one kept-alive connection");
    is_int(hc_client_idle(c), 1, "connection parked in the pool");
    run_ms(600);   /* the server's keep-alive timeout is 300 ms */
    is_int(hc_client_idle(c), 0, "pool noticed the server closing the idle connection");
    get(c, port, "/hello", &res);
    wait_for(&res);
    ok(res.status == 200 && hc_client_connects(c) == 2, "next request on a new connection");
    hc_client_free(c);
}

static void expect(hc_client *c, int port, const char *target, int err, int status,
                   const char *body)
{
    struct result res;
    get(c, port, target, &res);
    wait_for(&res);
    ok(res.done == 1 && res.err == err && (err || res.status == status),
       "%s -> err %d status %d (got %d/%d)", target, err, status, res.err, res.status);
    if (body)
        is_str(res.body, body, "%s body", target);
}

static void test_misbehaving(int port)
{
    struct hc_config cfg = { .timeout_ms = 300, .max_body = 4096 };
    hc_client *c = hc_client_new(loop, &cfg);

    expect(c, port, "/close-early", ECONNRESET, 0, NULL);
    expect(c, port, "/chunked", 0, 200, "hello world");
    unsigned long before = hc_client_connects(c);
    expect(c, port, "/trickle", 0, 200, "abcdefg");
    is_int(hc_client_connects(c), before, "chunked answer left the connection reusable");
    expect(c, port, "/continue", 0, 200, "ok");
    expect(c, port, "/eof-body", 0, 200, "until close");
    expect(c, port, "/huge", EMSGSIZE, 0, NULL);
    expect(c, port, "/garbage", EPROTO, 0, NULL);
    expect(c, port, "/badchunk", EPROTO, 0, NULL);
    expect(c, port, "/upgrade", EPROTO, 0, NULL);       /* never asked for */
    expect(c, port, "/bigchunk", EMSGSIZE, 0, NULL);    /* a 5000-byte chunk, max_body 4096 */
    expect(c, port, "/no-content", 0, 204, "");
    expect(c, port, "/conn-close", 0, 200, "ok");
    is_int(hc_client_idle(c), 0, "Connection: close is not pooled");
    expect(c, port, "/hang", ETIMEDOUT, 0, NULL);

    struct result res;
    hc_request *r = get(c, port, "/hang", &res);
    run_ms(50);
    hc_cancel(r);
    run_ms(400);
    is_int(res.done, 0, "cancelled request: no callback");
    get(c, port, "/hang", &res);
    run_ms(50);
    hc_client_free(c);
    run_ms(50);
    is_int(res.done, 0, "request in flight at client free: no callback");
}

static void test_connect_errors(void)
{
    struct result res;
    hc_client *c = hc_client_new(loop, &(struct hc_config){ .connect_timeout_ms = 200 });
    int fd = net_listen("127.0.0.1", 0, 1);
    int port = net_local_port(fd);

    close(fd);   /* nothing listens there now */
    expect(c, port, "/", ECONNREFUSED, 0, NULL);

    /* a listener that never accepts and has a full queue: SYNs are
     * dropped, so the connect hangs until our timeout */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len;
    struct sockaddr_storage ss = addr_of(0, &len);
    bind(fd, (struct sockaddr *)&ss, len);
    listen(fd, 0);
    port = net_local_port(fd);
    ss = addr_of(port, &len);
    int fill[4];
    for (int i = 0; i < 4; i++)
        fill[i] = net_connect((struct sockaddr *)&ss, len);
    run_ms(50);
    get(c, port, "/", &res);
    wait_for(&res);
    ok(res.done == 1 && res.err == ETIMEDOUT, "connect to a full backlog times out (%d)",
       res.err);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(fd);

    errno = 0;
    ok(hc_request_start(c, (struct sockaddr *)&ss, len, "GET", "h", "/a b", NULL,
                        NULL, 0, on_done, &res) == NULL && errno == EINVAL,
       "space in the target refused");
    static const char *const bad[] = { "X-Evil: a\r\nInjected: 1", NULL };
    ok(hc_request_start(c, (struct sockaddr *)&ss, len, "GET", "h", "/", bad,
                        NULL, 0, on_done, &res) == NULL && errno == EINVAL,
       "CR LF in a header line refused");
    ok(hc_request_start(c, (struct sockaddr *)&ss, len, "G T", "h", "/", NULL,
                        NULL, 0, on_done, &res) == NULL && errno == EINVAL,
       "bad method refused");
    hc_client_free(c);
}

int main(void)
{
    struct http_server_config scfg = { .keepalive_timeout_ms = 300 };

    signal(SIGPIPE, SIG_IGN);
    loop = ev_loop_new(1024);
    http_server *srv = http_server_new(loop, &scfg, handler, NULL);
    if (!srv || http_server_listen(srv, "127.0.0.1", 0) < 0)
        return 1;
    int lfd = net_listen("127.0.0.1", 0, 16);
    ev_io_set(loop, lfd, EV_READ, script_accept, NULL);

    test_own_server(http_server_port(srv));
    test_misbehaving(net_local_port(lfd));
    test_connect_errors();

    /* shutdown first: it also initialises the grace timer that
     * http_server_free() stops (see the report to the lead) */
    http_server_shutdown(srv, 0, NULL, NULL);
    http_server_free(srv);
    ev_io_del(loop, lfd);
    close(lfd);
    ev_loop_free(loop);
    return done_testing();
}
