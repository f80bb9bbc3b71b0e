/* test_ws_conn.c - the WebSocket connection state machine on a real loop,
 * over socketpairs: a server and a client conn talking to each other, and a
 * server conn against a raw peer that sends hand-made (bad) frames, never
 * answers pings, or never reads a broadcast. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weaprous/ev.h"
#include "weaprous/ws.h"
#include "tap.h"

struct peer {
    const char *name;
    int opened, closed, close_code, messages;
    char close_reason[128];
    char last[256];
    size_t last_len;
    enum ws_opcode last_op;
    bool echo;
    ev_loop *loop;
    int *alive;          /* stop the loop when it drops to zero */
};

static void on_open(ws_conn *c, void *arg)
{
    struct peer *p = arg;
    (void)c;
    p->opened++;
}

static void on_message(ws_conn *c, enum ws_opcode op, const char *d, size_t n, void *arg)
{
    struct peer *p = arg;
    p->messages++;
    p->last_op = op;
    p->last_len = n < sizeof p->last ? n : sizeof p->last;
    memcpy(p->last, d, p->last_len);
    if (p->echo)
        (op == WS_OP_TEXT ? ws_send_text(c, d, n) : ws_send_binary(c, d, n));
}

static void on_close(ws_conn *c, int code, const char *reason, void *arg)
{
    struct peer *p = arg;
    (void)c;
    p->closed++;
    p->close_code = code;
    snprintf(p->close_reason, sizeof p->close_reason, "%s", reason);
    if (p->alive && --*p->alive == 0)
        ev_stop(p->loop);
}

static const struct ws_handlers handlers = { on_open, on_message, on_close };

static void on_guard(ev_loop *loop, ev_timer *t, void *arg)
{
    (void)t;
    *(int *)arg = 1;
    ev_stop(loop);
}

/* Runs the loop until ev_stop or ms pass; returns 1 if the guard fired. */
static int run_for(ev_loop *loop, unsigned ms)
{
    ev_timer guard;
    int fired = 0;
    ev_timer_init(&guard, on_guard, &fired);
    ev_timer_start(loop, &guard, ms, 0);
    ev_run(loop);
    ev_timer_stop(loop, &guard);
    return fired;
}

static void pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        abort();
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
}

/* A client conn sends, the server echoes, the client closes. */
static void test_echo_and_close(void)
{
    ev_loop *loop = ev_loop_new(1024);
    int sv[2], alive = 2;
    struct peer s = { .name = "server", .echo = true, .loop = loop, .alive = &alive };
    struct peer cl = { .name = "client", .loop = loop, .alive = &alive };

    pair(sv);
    ws_conn *sc = ws_conn_new(loop, sv[0], WS_ROLE_SERVER, NULL, &handlers, &s,
                              NULL, 0, NULL, 0);
    ws_conn *cc = ws_conn_new(loop, sv[1], WS_ROLE_CLIENT, NULL, &handlers, &cl,
                              NULL, 0, NULL, 0);
    ok(sc && cc && s.opened == 1 && cl.opened == 1, "both ends open");
    ok(ws_send_text(cc, "h\xc3\xa9llo", 6) == 0, "client queues text");
    ok(ws_send_text(cc, "\xff", 1) == -1 && errno == EILSEQ, "invalid text refused");
    run_for(loop, 200);
    is_int(cl.messages, 1, "client got the echo");
    is_mem(cl.last, cl.last_len, "h\xc3\xa9llo", 6, "echo is the same text");
    ok(cl.last_op == WS_OP_TEXT, "echo is text");
    ws_send_binary(cc, "\0\1\2", 3);
    run_for(loop, 200);
    ok(cl.messages == 2 && cl.last_op == WS_OP_BINARY && cl.last_len == 3, "binary echo");
    ws_close(cc, 1000, "bye");
    ok(ws_close(cc, 1000, "again") == 0, "second close is harmless");
    ok(ws_send_text(cc, "x", 1) == -1 && errno == EPIPE, "no send after close");
    ok(!run_for(loop, 2000), "both ends closed before the guard");
    ok(s.closed == 1 && s.close_code == 1000 && strcmp(s.close_reason, "bye") == 0,
       "server saw 1000 bye (%d %s)", s.close_code, s.close_reason);
    ok(cl.closed == 1 && cl.close_code == 1000, "client saw the echoed 1000 (%d)", cl.close_code);
    ev_loop_free(loop);
}

/* Raw peer helpers: masked frames written straight to the socket, answers
 * read back and parsed as a client. */
static void raw_frame(int fd, unsigned b0, const void *p, size_t n)
{
    static const unsigned char key[4] = { 1, 2, 3, 4 };
    unsigned char f[WS_MAX_HEADER + 70000];
    size_t h = ws_frame_header(f, (enum ws_opcode)(b0 & 15), b0 & 0x80, n, key);
    f[0] = (unsigned char)b0;
    memcpy(f + h, p, n);
    ws_mask(f + h, n, key, 0);
    if (write(fd, f, h + n) != (ssize_t)(h + n))
        abort();
}

struct answers { int frames, pongs, texts, close_code; bool eof; char text[64]; };

static void raw_read(int fd, struct answers *a)
{
    static char in[1 << 20];
    size_t len = 0;
    ssize_t r;
    struct ws_parser p;
    struct ws_frame f;

    while ((r = read(fd, in + len, sizeof in - len)) > 0)
        len += (size_t)r;
    a->eof = r == 0;
    ws_parser_init(&p, WS_ROLE_CLIENT);
    for (size_t off = 0; (r = ws_parse_frame(&p, in + off, len - off, &f)) > 0; off += (size_t)r) {
        a->frames++;
        if (f.opcode == WS_OP_PONG) a->pongs++;
        if (f.opcode == WS_OP_CLOSE) a->close_code = f.close_code;
        if (f.opcode == WS_OP_TEXT) {
            a->texts++;
            snprintf(a->text, sizeof a->text, "%.*s", (int)f.len, f.payload);
        }
    }
}

/* Sends frames from a raw peer to an echoing server conn, then reads. */
static void raw_case(const char *name, void (*send)(int fd), int want_close,
                     int want_texts, const char *want_text, const struct ws_config *cfg)
{
    ev_loop *loop = ev_loop_new(1024);
    int sv[2], alive = 1;
    struct peer s = { .echo = true, .loop = loop, .alive = &alive };
    struct answers a = {0};

    pair(sv);
    ws_conn_new(loop, sv[0], WS_ROLE_SERVER, cfg, &handlers, &s, NULL, 0, NULL, 0);
    send(sv[1]);
    shutdown(sv[1], SHUT_WR);
    run_for(loop, 2000);
    raw_read(sv[1], &a);
    ok(s.closed == 1, "%s: server conn finished", name);
    is_int(a.close_code, want_close, "%s: close code sent", name);
    is_int(a.texts, want_texts, "%s: text messages echoed", name);
    if (want_text)
        is_str(a.text, want_text, "%s: echoed text", name);
    ok(a.eof, "%s: then EOF", name);
    close(sv[1]);
    ev_loop_free(loop);
}

static void send_fragmented(int fd)
{
    raw_frame(fd, 0x01, "frag", 4);
    raw_frame(fd, 0x89, "p1", 2);
    raw_frame(fd, 0x00, "men", 3);
    raw_frame(fd, 0x80, "ted", 3);
    raw_frame(fd, 0x88, "\x03\xe8", 2);
}
static void send_oversize(int fd)
{
    static char big[2000];
    memset(big, 'a', sizeof big);
    raw_frame(fd, 0x81, big, sizeof big);
}
static void send_bad_utf8(int fd)
{
    raw_frame(fd, 0x01, "ok\xed", 3);
    raw_frame(fd, 0x80, "\xa0\x80", 2);
}
static void send_unmasked(int fd)
{
    if (write(fd, "\x81\x01x", 3) != 3)
        abort();
}
static void send_bad_close(int fd)
{
    raw_frame(fd, 0x88, "\x03\xed", 2);   /* 1005 may not be sent */
}
static void send_rsv(int fd)
{
    raw_frame(fd, 0xC1, "x", 1);
}
static void send_no_close(int fd)
{
    raw_frame(fd, 0x81, "hi", 2);          /* then EOF without close */
}

static void test_raw_peers(void)
{
    struct ws_config small = { .max_message = 1000, .max_frame = 1000 };

    raw_case("fragmented + ping", send_fragmented, 1000, 1, "fragmented", NULL);
    raw_case("oversize", send_oversize, 1009, 0, NULL, &small);
    raw_case("invalid UTF-8 across fragments", send_bad_utf8, 1007, 0, NULL, NULL);
    raw_case("unmasked client frame", send_unmasked, 1002, 0, NULL, NULL);
    raw_case("close code 1005 on the wire", send_bad_close, 1002, 0, NULL, NULL);
    raw_case("RSV bit", send_rsv, 1002, 0, NULL, NULL);
    raw_case("EOF without close", send_no_close, 0, 1, "hi", NULL);
}

/* A raw peer that never answers pings is dropped; a client conn (which
 * answers them) stays. */
static void test_ping_timeout(void)
{
    ev_loop *loop = ev_loop_new(1024);
    int sv[2], sv2[2], alive = 1;
    struct peer s = { .loop = loop, .alive = &alive };
    struct peer s2 = { .loop = loop }, c2 = { .loop = loop };
    struct ws_config fast = { .ping_interval_ms = 50, .pong_timeout_ms = 50,
                              .close_timeout_ms = 50 };
    struct answers a = {0};

    pair(sv);
    pair(sv2);
    ws_conn_new(loop, sv[0], WS_ROLE_SERVER, &fast, &handlers, &s, NULL, 0, NULL, 0);
    ws_conn_new(loop, sv2[0], WS_ROLE_SERVER, &fast, &handlers, &s2, NULL, 0, NULL, 0);
    ws_conn *cc = ws_conn_new(loop, sv2[1], WS_ROLE_CLIENT, NULL, &handlers, &c2,
                              NULL, 0, NULL, 0);
    ok(!run_for(loop, 1000), "silent peer dropped");
    ok(s.closed == 1 && s.close_code == 1006, "... with 1006 (%d: %s)", s.close_code,
       s.close_reason);
    raw_read(sv[1], &a);
    ok(a.frames >= 1 && a.eof, "silent peer got a ping, then EOF");
    run_for(loop, 300);
    ok(s2.closed == 0 && c2.closed == 0, "a peer that answers pings stays open");
    ws_close(cc, 1001, NULL);
    run_for(loop, 300);
    ok(s2.closed == 1 && s2.close_code == 1001, "going away seen by the server");
    close(sv[1]);
    ev_loop_free(loop);
}

/* Broadcast to a fast client and a peer that never reads: the slow one is
 * closed with the overflow code and memory stays bounded. */
struct bcast { ws_set *set; ev_timer t; int rounds; size_t max_queued; ws_conn *slow; };

static void on_tick(ev_loop *loop, ev_timer *t, void *arg)
{
    struct bcast *b = arg;
    char msg[1024];
    memset(msg, 'm', sizeof msg);
    for (int i = 0; i < 8; i++)
        ws_set_broadcast(b->set, WS_OP_BINARY, msg, sizeof msg, NULL);
    if (b->slow && ws_conn_queued(b->slow) > b->max_queued)
        b->max_queued = ws_conn_queued(b->slow);
    if (++b->rounds < 200)
        ev_timer_start(loop, t, 1, 0);
    else
        ev_stop(loop);
}

static void on_slow_close(ws_conn *c, int code, const char *reason, void *arg)
{
    struct bcast *b = arg;
    (void)code; (void)reason;
    if (c == b->slow)
        b->slow = NULL;
}

static void test_broadcast_overflow(void)
{
    ev_loop *loop = ev_loop_new(1024);
    int sv[2], sv2[2];
    struct peer fast = { .loop = loop }, fs = { .loop = loop };
    struct bcast b = {0};
    struct ws_config cap = { .out_cap = 16384, .close_timeout_ms = 100 };
    struct ws_handlers slow_h = { NULL, NULL, on_slow_close };

    pair(sv);
    pair(sv2);
    b.set = ws_set_new(0);
    b.slow = ws_conn_new(loop, sv[0], WS_ROLE_SERVER, &cap, &slow_h, &b, NULL, 0, NULL, 0);
    ws_conn *fsc = ws_conn_new(loop, sv2[0], WS_ROLE_SERVER, &cap, &handlers, &fs,
                               NULL, 0, NULL, 0);
    ws_conn_new(loop, sv2[1], WS_ROLE_CLIENT, NULL, &handlers, &fast, NULL, 0, NULL, 0);
    ok(ws_set_add(b.set, b.slow) == 0 && ws_set_add(b.set, fsc) == 0 &&
       ws_set_add(b.set, fsc) == 0 && ws_set_size(b.set) == 2, "set of two");
    ev_timer_init(&b.t, on_tick, &b);
    ev_timer_start(loop, &b.t, 1, 0);
    run_for(loop, 5000);
    run_for(loop, 100);   /* let the last round reach the fast client */
    ok(b.slow == NULL, "slow member closed");
    ok(b.max_queued <= 16384 + 1024, "its queue stayed under the cap (%zu)", b.max_queued);
    is_int(ws_set_size(b.set), 1, "it left the set by itself");
    is_int(fast.messages, 200 * 8, "fast member got every message");
    ws_set_free(b.set);
    ok(ws_conn_state(fsc) == WS_STATE_OPEN, "fast member still open after the set is gone");
    int alive = 2;
    fast.alive = fs.alive = &alive;
    ws_close(fsc, 1001, "shutting down");
    ok(!run_for(loop, 2000), "fast pair closes");
    close(sv[1]);
    ev_loop_free(loop);
}

int main(void)
{
    test_echo_and_close();
    test_raw_peers();
    test_ping_timeout();
    test_broadcast_overflow();
    return done_testing();
}
