/*
 * test_server_limits.c - the error paths of a handler's response API
 * (src/server_txn.c) on a live connection: fields that would split the head
 * (CR/LF, a bad name) are refused with EINVAL, the field area stops at
 * TXN_HEAD_CAP (16 KiB) with ENOBUFS, and http_txn_write refuses a write
 * before begin, past the announced length, and over CONN_OUT_CAP; the
 * bytes a client has not read yet are counted per response and per server
 * (out_queued), and the count returns to 0 when the connection goes.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "weaprous.h"
#include "tap.h"

struct probe {
    http_server *srv;
    int          called;
};

/* rc -1 with errno e, as one test point. */
static void fails_with(int rc, int e, const char *what)
{
    int saved = errno;
    ok(rc == -1 && saved == e, "%s: -1/%s (got %d/%s)", what, strerror(e), rc, strerror(saved));
}

static void check_fields(http_txn *t)
{
    errno = 0;
    fails_with(http_txn_add_header(t, "X-A", "a\r\nX-Injected: 1"), EINVAL, "CR LF in a value");
    errno = 0;
    fails_with(http_txn_add_header(t, "X-A", "a\nb"), EINVAL, "LF in a value");
    errno = 0;
    fails_with(http_txn_add_header(t, "X A", "v"), EINVAL, "space in a name");
    errno = 0;
    fails_with(http_txn_add_header(t, "X-A:", "v"), EINVAL, "colon in a name");
    errno = 0;
    fails_with(http_txn_add_header(t, "", "v"), EINVAL, "empty name");
    char big[4200];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    errno = 0;
    fails_with(http_txn_add_headerf(t, "X-Big", "%s", big), ENOBUFS, "add_headerf over 4 KiB");
    /* 1000-byte values: "X-Fill: " + value + CRLF is 1010 bytes a field,
     * so 16 fit in 16384 and the 17th does not. */
    char val[1001];
    memset(val, 'f', 1000);
    val[1000] = '\0';
    int n = 0;
    while (n < 100 && http_txn_add_header(t, "X-Fill", val) == 0)
        n++;
    is_int(n, 16384 / 1010, "the field area holds exactly TXN_HEAD_CAP / field size fields");
    ok(errno == ENOBUFS, "  then ENOBUFS (got %s)", strerror(errno));
}

static void check_writes(http_txn *t)
{
    errno = 0;
    fails_with(http_txn_write(t, "x", 1), EINVAL, "write before begin");
    ok(http_txn_begin(t, 4) == 0, "begin with Content-Length 4");
    ok(http_txn_write(t, "abcd", 4) == 0, "  4 bytes written");
    errno = 0;
    fails_with(http_txn_write(t, "e", 1), EINVAL, "  a fifth byte past the length");
}

/* One write larger than the whole output queue can never fit. */
static void check_big_write(http_txn *t)
{
    size_t n = CONN_OUT_CAP + 1;
    char *p = calloc(1, n);
    ok(http_txn_begin(t, (int64_t)n) == 0, "begin with Content-Length CONN_OUT_CAP + 1");
    errno = 0;
    fails_with(p ? http_txn_write(t, p, n) : 0, ENOBUFS, "  a write over CONN_OUT_CAP");
    free(p);
}

/* 2 MiB to a client that reads nothing: what the kernel did not take
 * waits in the queue, and the server's count says so. */
static void check_queued(http_txn *t, http_server *srv)
{
    size_t n = 1u << 20;
    char *p = calloc(1, n);
    struct http_server_stats st;
    ok(p && http_txn_begin(t, 2 * (int64_t)n) == 0, "begin with Content-Length 2 MiB");
    ok(http_txn_write(t, p, n) == 0 && http_txn_write(t, p, n) == 0, "  2 MiB queued");
    http_server_get_stats(srv, &st);
    ok(http_txn_queued(t) > 0 && http_txn_queued(t) == st.out_queued,
       "  the response's queue is the server's out_queued (%zu, %zu)",
       http_txn_queued(t), st.out_queued);
    free(p);
}

static void handler(http_txn *t, void *arg)
{
    struct probe *p = arg;
    p->called++;
    if (strcmp(http_txn_path(t), "/queued") == 0) {
        check_queued(t, p->srv);
        http_txn_end(t);
    } else if (strcmp(http_txn_path(t), "/fields") == 0) {
        check_fields(t);
        http_txn_error(t, 404);
    } else if (strcmp(http_txn_path(t), "/big") == 0) {
        check_big_write(t);
        http_txn_end(t);
    } else {
        check_writes(t);
        http_txn_end(t);
    }
    http_server_shutdown(p->srv, 1000, NULL, NULL);
}

/* Sends one request to a fresh server and runs the loop until it stops. */
static void one_request(const char *path)
{
    ev_loop *loop = ev_loop_new(0);
    struct probe p = { 0 };
    p.srv = http_server_new(loop, NULL, handler, &p);
    ok(p.srv && http_server_listen(p.srv, "127.0.0.1", 0) == 0, "%s: server listening", path);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(http_server_port(p.srv)) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "  client connected");
    char req[128];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    ok(write(fd, req, (size_t)n) == n, "  request sent");
    ev_run(loop);
    is_int(p.called, 1, "  handler called once");
    struct http_server_stats st;
    http_server_get_stats(p.srv, &st);
    is_int(st.out_queued, 0, "  nothing counted as queued once the connection is gone");
    close(fd);
    http_server_free(p.srv);
    ev_loop_free(loop);
}

int main(void)
{
    one_request("/fields");
    one_request("/writes");
    one_request("/big");
    one_request("/queued");
    return done_testing();
}
