/* Unit tests of the upstream pools: policies, weights, failure marking,
 * backups, the tried mask and health-check verdicts (no sockets); the idle
 * keep-alive pool on socketpairs and a real loop. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "proxy/proxy_conf.h"
#include "proxy/proxy_pool.h"
#include "tap.h"

static struct proxy_rt *rt_loop_of(const char *text, ev_loop *loop)
{
    struct proxy_conf *cfg = NULL;
    char err[256] = "";
    if (proxy_conf_parse_flags(text, strlen(text), "t.conf", PROXY_CONF_F_NUMERIC, &cfg,
                               err, sizeof err) < 0) {
        diag("parse: %s", err);
        return NULL;
    }
    return proxy_rt_new(loop, cfg, 1);
}

static struct proxy_rt *rt_of(const char *text)
{
    struct proxy_conf *cfg = NULL;
    char err[256] = "";
    if (proxy_conf_parse_flags(text, strlen(text), "t.conf", PROXY_CONF_F_NUMERIC, &cfg,
                               err, sizeof err) < 0) {
        diag("parse: %s", err);
        return NULL;
    }
    return proxy_rt_new(NULL, cfg, 1);
}

/* Picks n times and returns the sequence as letters (A = server 0). */
static void picks(struct proxy_pool *p, int n, uint64_t now, char *out,
                  const void *key, size_t keylen)
{
    for (int i = 0; i < n; i++) {
        int idx = proxy_pool_pick(p, now, 0, key, keylen);
        out[i] = idx < 0 ? '-' : (char)('A' + idx);
    }
    out[n] = '\0';
}

static void test_round_robin(void)
{
    struct proxy_rt *rt = rt_of("host a { proxy_pass http://10.0.0.1; proxy_pass http://10.0.0.2;"
                                " proxy_pass http://10.0.0.3; }\n"
                                "host w { proxy_pass http://10.0.0.1 weight=3;"
                                " proxy_pass http://10.0.0.2; }");
    char s[32];
    ok(rt != NULL, "config");
    if (!rt)
        return;
    picks(&rt->pools[0], 6, 0, s, NULL, 0);
    is_str(s, "ABCABC", "round-robin over three");
    picks(&rt->pools[1], 8, 0, s, NULL, 0);
    is_str(s, "AABAAABA", "smooth weighted round-robin 3:1");
    int idx = proxy_pool_pick(&rt->pools[0], 0, 1u | 4u, NULL, 0);
    is_int(idx, 1, "tried servers are skipped");
    is_int(proxy_pool_pick(&rt->pools[0], 0, 7u, NULL, 0), -1, "all tried: none");
    proxy_rt_unref(rt);
}

static void test_failures(void)
{
    struct proxy_rt *rt = rt_of("host a { proxy_pass http://10.0.0.1 max_fails=2 fail_timeout=10s;"
                                " proxy_pass http://10.0.0.2 max_fails=0;"
                                " proxy_pass http://10.0.0.9 backup; }");
    char s[32];
    if (!rt)
        return;
    struct proxy_pool *p = &rt->pools[0];
    proxy_peer_failed(&p->peers[0], 1000);
    ok(proxy_peer_usable(&p->peers[0], 1000), "one failure of max_fails=2: still up");
    proxy_peer_failed(&p->peers[0], 2000);
    ok(!proxy_peer_usable(&p->peers[0], 2000), "second failure within fail_timeout: down");
    ok(!proxy_peer_usable(&p->peers[0], 11999), "down for fail_timeout");
    ok(proxy_peer_usable(&p->peers[0], 12000), "up again after fail_timeout");
    proxy_peer_failed(&p->peers[0], 20000);
    proxy_peer_failed(&p->peers[0], 31000);
    ok(proxy_peer_usable(&p->peers[0], 31000), "failures further apart than fail_timeout do not add up");
    for (int i = 0; i < 50; i++)
        proxy_peer_failed(&p->peers[1], 1000);
    ok(proxy_peer_usable(&p->peers[1], 1000), "max_fails=0: never marked down");
    is_int(p->peers[1].failures, 50, "but failures are counted");
    picks(p, 4, 40000, s, NULL, 0);
    is_str(s, "ABAB", "backup unused while primaries are up");
    picks(p, 2, 5000, s, NULL, 0);
    is_str(s, "BB", "a server marked down is skipped");
    p->peers[0].health_down = true;
    p->peers[1].health_down = true;
    picks(p, 3, 40000, s, NULL, 0);
    is_str(s, "CCC", "backup when every primary is down");
    p->peers[2].down_until_ms = 50000;
    picks(p, 1, 40000, s, NULL, 0);
    is_str(s, "-", "nothing usable: -1");
    proxy_rt_unref(rt);
}

static void test_least_conn(void)
{
    struct proxy_rt *rt = rt_of("host a { dist_policy least-conn; proxy_pass http://10.0.0.1;"
                                " proxy_pass http://10.0.0.2; proxy_pass http://10.0.0.3 weight=2; }");
    char s[32];
    if (!rt)
        return;
    struct proxy_pool *p = &rt->pools[0];
    p->peers[0].active = 3;
    p->peers[1].active = 1;
    p->peers[2].active = 4;   /* 4 / weight 2 = 2 per unit */
    picks(p, 2, 0, s, NULL, 0);
    is_str(s, "BB", "fewest active requests wins");
    p->peers[1].active = 2;
    p->peers[0].active = 2;
    picks(p, 4, 0, s, NULL, 0);
    ok(strchr(s, 'A') && strchr(s, 'B') && strchr(s, 'C'), "ties are shared round-robin (%s)", s);
    proxy_rt_unref(rt);
}

static void test_hash_random(void)
{
    struct proxy_rt *rt = rt_of("host a { dist_policy ip-hash; proxy_pass http://10.0.0.1;"
                                " proxy_pass http://10.0.0.2; proxy_pass http://10.0.0.3; }\n"
                                "host r { dist_policy random; proxy_pass http://10.0.0.1;"
                                " proxy_pass http://10.0.0.2; }");
    char s[64];
    if (!rt)
        return;
    struct proxy_pool *p = &rt->pools[0];
    unsigned char k1[4] = { 192, 168, 1, 10 };
    picks(p, 10, 0, s, k1, 4);
    ok(strspn(s, s[0] == 'A' ? "A" : s[0] == 'B' ? "B" : "C") == 10, "ip-hash is sticky (%s)", s);
    int first = s[0] - 'A';
    int seen[3] = { 0 };
    for (int i = 0; i < 60; i++) {
        unsigned char k[4] = { 10, 0, (unsigned char)i, (unsigned char)(i * 7) };
        seen[proxy_pool_pick(p, 0, 0, k, 4)]++;
    }
    ok(seen[0] && seen[1] && seen[2], "ip-hash spreads clients (%d/%d/%d)", seen[0], seen[1], seen[2]);
    p->peers[first].health_down = true;
    int moved = proxy_pool_pick(p, 0, 0, k1, 4);
    ok(moved >= 0 && moved != first, "ip-hash: a down server's clients go elsewhere");
    p->peers[first].health_down = false;
    is_int(proxy_pool_pick(p, 0, 0, k1, 4), first, "and come back when it is up");
    picks(&rt->pools[1], 40, 0, s, NULL, 0);
    ok(strchr(s, 'A') && strchr(s, 'B'), "random uses both servers");
    proxy_rt_unref(rt);
}


/* ------------------------------------------------------------------ */
/* Idle keep-alive connections                                           */

struct lent_seen {
    int fd, events, calls;
};

static void lent_on_io(ev_loop *loop, int fd, int events, void *arg)
{
    struct lent_seen *s = arg;
    s->fd = fd;
    s->events = events;
    s->calls++;
    ev_stop(loop);
}

static void stop_on_timer(ev_loop *loop, ev_timer *t, void *arg)
{
    ev_stop(loop);
}

/* Runs the loop for about ms milliseconds. */
static void run_for(ev_loop *loop, uint64_t ms)
{
    ev_timer t;
    ev_timer_init(&t, stop_on_timer, NULL);
    ev_timer_start(loop, &t, ms, 0);
    ev_run(loop);
    ev_timer_stop(loop, &t);
}

/* True when the far end of a parked connection saw it closed (a reset
 * when it was closed with bytes unread). */
static bool far_closed(int far)
{
    char b;
    ssize_t n = recv(far, &b, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static bool far_open(int far)
{
    char b;
    return recv(far, &b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

static void test_idle_pool(void)
{
    ev_loop *loop = ev_loop_new(1024);
    struct proxy_rt *rt = loop ? rt_loop_of("keepalive 2; keepalive_timeout 300ms;\n"
                                            "host a { proxy_pass http://10.0.0.1;"
                                            " proxy_pass http://10.0.0.2; }", loop) : NULL;
    int sp[4][2];
    ok(rt != NULL, "idle pool: loop and config");
    if (!rt)
        return;
    for (int i = 0; i < 4; i++)
        socketpair(AF_UNIX, SOCK_STREAM, 0, sp[i]);
    struct proxy_pool *p = &rt->pools[0];
    ok(p->block->set.keepalive_surplus_ms == PROXY_DEF_KEEPALIVE_SURPLUS_MS,
       "keepalive_surplus: the default");
    ((struct proxy_block *)p->block)->set.keepalive_surplus_ms = 20;
    proxy_pool_park(p, 0, sp[0][0], NULL);   /* A, oldest */
    proxy_pool_park(p, 1, sp[1][0], NULL);   /* B */
    proxy_pool_park(p, 0, sp[2][0], NULL);   /* A, newest: beyond keepalive */
    is_int((int)p->nidle, 3, "keepalive 2: a third idle connection is kept for a moment");
    ok(far_open(sp[0][1]), "the oldest one too (the next burst may take it)");
    run_for(loop, 40);
    is_int((int)p->nidle, 2, "after keepalive_surplus: two idle connections kept");
    ok(far_closed(sp[0][1]), "the oldest one was closed");
    ok(far_open(sp[1][1]) && far_open(sp[2][1]), "the newer ones stay open");

    struct lent_seen seen = { -1, 0, 0 };
    struct proxy_idle *c = proxy_pool_take_idle(p, 0, lent_on_io, &seen);
    ok(c && c->fd == sp[2][0], "take: the newest idle connection to that server");
    ok(proxy_pool_take_idle(p, 0, lent_on_io, &seen) == NULL, "none left for it");
    is_int((int)p->nidle, 1, "the other server's connection stays idle");
    if (!c)
        return;
    ok(ev_io_registered(loop, c->fd), "a lent connection stays registered");
    (void)!write(sp[2][1], "x", 1);
    run_for(loop, 1000);
    ok(seen.calls == 1 && seen.fd == sp[2][0] && (seen.events & EV_READ),
       "its events reach the borrower");
    char b;
    (void)!read(c->fd, &b, 1);
    proxy_pool_park(p, 0, c->fd, c);
    is_int((int)p->nidle, 2, "parked again");
    (void)!write(sp[2][1], "y", 1);   /* bytes nobody asked for */
    run_for(loop, 20);
    is_int(seen.calls, 1, "an idle connection's events do not reach the old borrower");
    ok(far_closed(sp[2][1]), "unsolicited bytes close an idle connection");
    is_int((int)p->nidle, 1, "and it leaves the pool");

    proxy_pool_park(p, 0, sp[3][0], NULL);
    run_for(loop, 30);
    ok(far_open(sp[1][1]) && far_open(sp[3][1]), "before keepalive_timeout: still open");
    run_for(loop, 400);
    ok(far_closed(sp[1][1]) && far_closed(sp[3][1]), "after keepalive_timeout: closed");
    is_int((int)p->nidle, 0, "the pool is empty");

    c = proxy_pool_take_idle(p, 1, lent_on_io, &seen);
    ok(c == NULL, "nothing to take from an empty pool");

    /* keepalive_timeout shorter than keepalive_surplus bounds the surplus
     * too (both timers run on the loop's clock: no scheduling margin) */
    ((struct proxy_block *)p->block)->set.keepalive_surplus_ms = 5000;
    int sq[3][2];
    for (int i = 0; i < 3; i++) {
        socketpair(AF_UNIX, SOCK_STREAM, 0, sq[i]);
        proxy_pool_park(p, (unsigned)i % 2, sq[i][0], NULL);
    }
    is_int((int)p->nidle, 3, "a surplus kept longer than keepalive_timeout: three idle");
    run_for(loop, 400);
    ok(far_closed(sq[0][1]) && far_closed(sq[1][1]) && far_closed(sq[2][1]),
       "after keepalive_timeout: the surplus closed too");
    is_int((int)p->nidle, 0, "the pool is empty again");
    for (int i = 0; i < 3; i++)
        close(sq[i][1]);
    proxy_rt_retire(rt);
    proxy_rt_unref(rt);
    for (int i = 0; i < 4; i++)
        close(sp[i][1]);
    ev_loop_free(loop);
}

int main(void)
{
    test_round_robin();
    test_failures();
    test_least_conn();
    test_hash_random();
    test_idle_pool();
    return done_testing();
}
