/*
 * test_ev.c - the reactor (src/ev.c) against one back end.
 *
 * The same source is linked three times, with src/ev.c and exactly one of
 * src/ev_poll.c, src/ev_select.c, src/ev_epoll.c (see mk/engine_tests.am);
 * EV_TEST_BACKEND names the one expected.  Every test runs its own loop and
 * ends through the loop itself (timers, removals, ev_stop); alarm() turns a
 * hang into a failure.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weaprous/ev.h"
#include "tap.h"

#ifndef EV_TEST_BACKEND
#error "EV_TEST_BACKEND must name the back end linked in"
#endif

#define TEST_ALARM_S      60
#define NTIMERS           2000
#define NCANCEL_TIMERS    600
#define NPIPES            200
#define HIGH_FD           1500

/* --- helpers --- */

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int nb_pipe(int p[2])
{
    if (pipe(p) < 0)
        return -1;
    set_nonblock(p[0]);
    set_nonblock(p[1]);
    return 0;
}

static ev_loop *new_loop(void)
{
    ev_loop *loop = ev_loop_new(0);
    if (!loop) {
        printf("Bail out! ev_loop_new: %s\n", strerror(errno));
        exit(1);
    }
    return loop;
}

/* A timer that stops the loop: the safety net of tests that wait for I/O. */
static void stop_cb(ev_loop *loop, ev_timer *t, void *arg)
{
    (void)t; (void)arg;
    ev_stop(loop);
}

static unsigned rnd_next(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(*state >> 33);
}

/* --- basics --- */

static void test_basics(void)
{
    is_str(ev_backend_name(), EV_TEST_BACKEND, "back end is %s", EV_TEST_BACKEND);
    ev_loop *loop = new_loop();
    is_int(ev_run(loop), 0, "ev_run with nothing watched returns 0 at once");
    ok(!ev_io_registered(loop, 0), "fd 0 not registered initially");
    errno = 0;
    is_int(ev_io_set(loop, -1, EV_READ, NULL, NULL), -1, "fd -1 refused");
    is_int(errno, EBADF, "  with EBADF");
    ev_loop_free(loop);

    loop = ev_loop_new(64);
    errno = 0;
    is_int(ev_io_set(loop, 64, EV_READ, NULL, NULL), -1, "fd == max_fds refused");
    is_int(errno, EMFILE, "  with EMFILE");
    errno = 0;
    is_int(ev_io_events(loop, 5, EV_READ), -1, "ev_io_events on unknown fd fails");
    is_int(errno, ENOENT, "  with ENOENT");
    ev_io_del(loop, 5);        /* idempotent on an unknown fd */
    ev_io_del(loop, 1000);
    errno = 0;      /* harmless: fd 5 is still unknown, nothing was created */
    ok(ev_io_events(loop, 5, EV_READ) == -1 && errno == ENOENT,
       "ev_io_del of unknown / out-of-range fds is harmless");
    uint64_t t0 = ev_now_ms(loop);
    usleep(20000);
    ev_update_time(loop);
    ok(ev_now_ms(loop) >= t0 + 15, "ev_update_time advances the monotonic clock");
    ok(ev_wall(loop) > 1600000000, "ev_wall is the wall clock");
    ev_loop_free(loop);
}

/* --- timers --- */

struct tm_rec {
    ev_timer  t;
    uint64_t  deadline;
    int       fired;
    int       id;
    struct tm_ctx *ctx;
};

struct tm_ctx {
    int       order[NTIMERS];
    int       nfired;
    int       early;        /* fired before its deadline */
    uint64_t  last_deadline;
    int       out_of_order;
    struct tm_rec *recs;
};

static void tm_record(ev_loop *loop, ev_timer *t, void *arg)
{
    struct tm_rec *r = arg;
    struct tm_ctx *c = r->ctx;
    (void)t;
    r->fired++;
    if (ev_now_ms(loop) < r->deadline)
        c->early++;
    if (r->deadline < c->last_deadline)
        c->out_of_order++;
    c->last_deadline = r->deadline;
    c->order[c->nfired++] = r->id;
}

static void tm_start_all(ev_loop *loop, struct tm_ctx *c, int n, uint64_t *seed)
{
    for (int i = 0; i < n; i++) {
        struct tm_rec *r = &c->recs[i];
        r->id = i;
        r->ctx = c;
        ev_timer_init(&r->t, tm_record, r);
        unsigned after = rnd_next(seed) % 80;
        ev_timer_start(loop, &r->t, after, 0);
        r->deadline = ev_now_ms(loop) + after;
    }
}

static void test_timer_order(void)
{
    ev_loop *loop = new_loop();
    struct tm_ctx *c = calloc(1, sizeof(*c));
    c->recs = calloc(NTIMERS, sizeof(*c->recs));
    uint64_t seed = 42;
    tm_start_all(loop, c, NTIMERS, &seed);
    /* restarting an active timer moves it (here: every 10th to later) */
    for (int i = 0; i < NTIMERS; i += 10) {
        ev_timer_start(loop, &c->recs[i].t, 100, 0);
        c->recs[i].deadline = ev_now_ms(loop) + 100;
    }
    is_int(ev_run(loop), 0, "loop with %d random timers runs to the end", NTIMERS);
    is_int(c->nfired, NTIMERS, "every timer fired");
    int once = 1;
    for (int i = 0; i < NTIMERS; i++)
        once &= c->recs[i].fired == 1 && !ev_timer_active(&c->recs[i].t);
    ok(once, "each exactly once and inactive afterwards");
    is_int(c->out_of_order, 0, "fired in deadline order");
    is_int(c->early, 0, "none fired before its deadline");
    ok(c->order[NTIMERS - 1] % 10 == 0, "a restarted timer fires at its new, later deadline");
    free(c->recs);
    free(c);
    ev_loop_free(loop);
}

static void rec_fire(ev_loop *loop, ev_timer *t, void *arg)
{
    *(uint64_t *)arg = ev_now_ms(loop);
}

/* Restarts that push a timer later leave the heap alone (it is moved when
 * its old place comes up); one that pulls it earlier moves it at once. */
static void test_timer_push_pull(void)
{
    ev_loop *loop = new_loop();
    ev_timer a, b, c;
    uint64_t fa = 0, fb = 0, fc = 0, t0 = ev_now_ms(loop);
    ev_timer_init(&a, rec_fire, &fa);
    ev_timer_init(&b, rec_fire, &fb);
    ev_timer_init(&c, rec_fire, &fc);
    ev_timer_start(loop, &c, 5, 0);
    ev_timer_start(loop, &c, 30, 0);            /* pushed later (kept in place) */
    ev_timer_stop(loop, &c);                    /* ... then stopped */
    ev_timer_start(loop, &a, 300, 0);
    ev_timer_start(loop, &a, 20, 0);            /* pulled earlier */
    ev_timer_start(loop, &b, 10, 0);
    for (int i = 0; i < 5; i++)
        ev_timer_start(loop, &b, 40 + 10 * i, 0); /* pushed later, five times */
    ev_run(loop);
    ok(fa >= t0 + 20 && fa < t0 + 200, "a timer pulled earlier fires at its new deadline (%llu ms)",
       (unsigned long long)(fa - t0));
    ok(fb >= t0 + 80, "a timer pushed later fires no earlier than its last deadline (%llu ms)",
       (unsigned long long)(fb - t0));
    ok(!ev_timer_active(&a) && !ev_timer_active(&b), "  both inactive afterwards");
    ok(fc == 0 && !ev_timer_active(&c), "a timer pushed later, then stopped, never fires");
    ev_loop_free(loop);
}

/* An owner allocated with calloc() and torn down on an early error path
 * stops a timer it never initialised: heap_index is 0, not "idle".  That
 * must be a no-op, with an empty heap and with a heap in use. */
static void test_timer_zeroed(void)
{
    ev_loop *loop = new_loop();
    ev_timer zero, other, zero2;
    memset(&zero, 0, sizeof(zero));
    ev_timer_stop(loop, &zero);
    ok(!ev_timer_active(&zero), "stopping a zeroed timer with an empty heap is a no-op");
    ev_timer_init(&other, NULL, NULL);
    ev_timer_start(loop, &other, 1000, 0);
    memset(&zero2, 0, sizeof(zero2));
    ev_timer_stop(loop, &zero2);
    ok(ev_timer_active(&other) && other.heap_index == 0,
       "stopping a zeroed timer leaves the real one in the heap");
    ev_timer_stop(loop, &other);
    ev_loop_free(loop);
}

static void test_timer_cancel(void)
{
    ev_loop *loop = new_loop();
    struct tm_ctx *c = calloc(1, sizeof(*c));
    c->recs = calloc(NCANCEL_TIMERS, sizeof(*c->recs));
    uint64_t seed = 7;
    tm_start_all(loop, c, NCANCEL_TIMERS, &seed);
    char *cancelled = calloc(NCANCEL_TIMERS, 1);
    int ncancel = 0;
    /* cancel a third, chosen at random: most sit in the middle of the heap */
    for (int i = 0; i < NCANCEL_TIMERS / 3; i++) {
        int k = (int)(rnd_next(&seed) % NCANCEL_TIMERS);
        if (!cancelled[k]) {
            cancelled[k] = 1;
            ncancel++;
        }
        ev_timer_stop(loop, &c->recs[k].t);
        ev_timer_stop(loop, &c->recs[k].t);   /* idempotent */
    }
    int inactive = 1;
    for (int i = 0; i < NCANCEL_TIMERS; i++)
        if (cancelled[i] && ev_timer_active(&c->recs[i].t))
            inactive = 0;
    ok(inactive, "stopped timers report inactive");
    ev_run(loop);
    int bad = 0;
    for (int i = 0; i < NCANCEL_TIMERS; i++)
        if (c->recs[i].fired != (cancelled[i] ? 0 : 1))
            bad++;
    is_int(bad, 0, "the %d cancelled never fire, the others exactly once", ncancel);
    is_int(c->nfired, NCANCEL_TIMERS - ncancel, "count of fired timers");
    is_int(c->out_of_order, 0, "survivors fire in deadline order");
    is_int(c->early, 0, "none early");
    free(cancelled);
    free(c->recs);
    free(c);
    ev_loop_free(loop);
}

struct rep_ctx {
    ev_timer  rep, other, victim;
    int       nrep, nother, nvictim;
    uint64_t  times[8];
};

static void rep_cb(ev_loop *loop, ev_timer *t, void *arg)
{
    struct rep_ctx *c = arg;
    c->times[c->nrep++] = ev_now_ms(loop);
    if (c->nrep == 5)
        ev_timer_stop(loop, t);    /* stop a repeating timer from inside */
}

static void victim_cb(ev_loop *loop, ev_timer *t, void *arg)
{
    struct rep_ctx *c = arg;
    (void)loop; (void)t;
    c->nvictim++;
}

/* Due in the same pass as `victim`, but earlier: stops it. */
static void killer_cb(ev_loop *loop, ev_timer *t, void *arg)
{
    struct rep_ctx *c = arg;
    (void)t;
    c->nother++;
    ev_timer_stop(loop, &c->victim);
}

static void test_timer_repeat(void)
{
    ev_loop *loop = new_loop();
    struct rep_ctx c;
    memset(&c, 0, sizeof(c));
    ev_timer_init(&c.rep, rep_cb, &c);
    ev_timer_init(&c.other, killer_cb, &c);
    ev_timer_init(&c.victim, victim_cb, &c);
    ev_timer_start(loop, &c.rep, 5, 10);
    ev_timer_start(loop, &c.other, 30, 0);
    ev_timer_start(loop, &c.victim, 31, 0);
    usleep(40000);      /* both overdue at the first pass: same pass */
    ev_run(loop);
    is_int(c.nrep, 5, "repeating timer ran 5 times, then stopped itself");
    ok(!ev_timer_active(&c.rep), "  and is inactive");
    int spaced = 1;
    for (int i = 1; i < 5; i++)
        spaced &= c.times[i] - c.times[i - 1] >= 10;
    ok(spaced, "repeats are at least repeat_ms apart");
    is_int(c.nother, 1, "earlier timer ran");
    is_int(c.nvictim, 0, "a due timer stopped by an earlier callback of the same pass does not run");
    ev_loop_free(loop);
}

struct chain_ctx {
    ev_timer  a, b, self;
    int       na, nb, nself;
    int       self_at_pass_end[8];
    int       npasses;
    bool      defer_pending;
    uint64_t  a_at, b_at;
};

static void chain_b(ev_loop *loop, ev_timer *t, void *arg)
{
    struct chain_ctx *c = arg;
    (void)t;
    c->nb++;
    c->b_at = ev_now_ms(loop);
}

static void chain_a(ev_loop *loop, ev_timer *t, void *arg)
{
    struct chain_ctx *c = arg;
    c->na++;
    c->a_at = ev_now_ms(loop);
    ev_timer_start(loop, &c->b, 15, 0);   /* start another from a callback */
    ev_timer_start(loop, t, 1000, 0);     /* restart itself ... */
    ev_timer_stop(loop, t);               /* ... and change its mind */
}

static void chain_pass_end(ev_loop *loop, void *arg)
{
    struct chain_ctx *c = arg;
    (void)loop;
    c->defer_pending = false;
    if (c->npasses < 8)
        c->self_at_pass_end[c->npasses++] = c->nself;
}

/* Restarts itself "now": each run must wait for the next pass. */
static void chain_self(ev_loop *loop, ev_timer *t, void *arg)
{
    struct chain_ctx *c = arg;
    c->nself++;
    if (!c->defer_pending) {
        c->defer_pending = true;
        ev_defer(loop, chain_pass_end, c);
    }
    if (c->nself < 4)
        ev_timer_start(loop, t, 0, 0);
}

static void test_timer_from_callback(void)
{
    ev_loop *loop = new_loop();
    struct chain_ctx c;
    memset(&c, 0, sizeof(c));
    ev_timer_init(&c.a, chain_a, &c);
    ev_timer_init(&c.b, chain_b, &c);
    ev_timer_init(&c.self, chain_self, &c);
    ev_timer_start(loop, &c.a, 5, 0);
    ev_run(loop);
    is_int(c.na, 1, "timer A ran once (restart then stop inside its callback)");
    is_int(c.nb, 1, "timer B started from A's callback ran");
    ok(c.b_at >= c.a_at + 15, "  15 ms after A");

    ev_timer_start(loop, &c.self, 0, 0);
    ev_run(loop);
    is_int(c.nself, 4, "self-restarting 0 ms timer ran 4 times");
    is_int(c.self_at_pass_end[0], 1,
           "a timer restarted for 'now' from its own callback waits for the next pass");
    is_int(c.npasses, 4, "  one run per pass");
    ev_loop_free(loop);
}

/* --- descriptors --- */

struct io_ctx {
    int       p[2], q[2];
    int       nread, nwrite, nq;
    int       last_events;
    ssize_t   last_n;
    ev_timer  guard;
};

static void io_reader(ev_loop *loop, int fd, int events, void *arg)
{
    struct io_ctx *c = arg;
    char b[64];
    (void)loop;
    c->nread++;
    c->last_events = events;
    c->last_n = read(fd, b, sizeof(b));
}

static void test_io_pipe(void)
{
    ev_loop *loop = new_loop();
    struct io_ctx c;
    memset(&c, 0, sizeof(c));
    nb_pipe(c.p);
    ev_timer_init(&c.guard, stop_cb, NULL);
    is_int(ev_io_set(loop, c.p[0], EV_READ, io_reader, &c), 0, "pipe read end registered");
    ok(ev_io_registered(loop, c.p[0]), "  reported registered");
    if (write(c.p[1], "abc", 3) != 3)
        diag("write failed");
    ev_timer_start(loop, &c.guard, 50, 0);
    ev_run(loop);
    is_int(c.nread, 1, "one readable callback for one write (level, drained)");
    is_int(c.last_events, EV_READ, "  events == EV_READ");
    is_int(c.last_n, 3, "  3 bytes read");

    /* paused (events 0): readable but silent, and not keeping the loop alive */
    if (write(c.p[1], "x", 1) != 1)
        diag("write failed");
    is_int(ev_io_events(loop, c.p[0], 0), 0, "interest set to 0 (paused)");
    ok(ev_io_registered(loop, c.p[0]), "  still registered");
    c.nread = 0;
    ev_timer_start(loop, &c.guard, 30, 0);
    ev_run(loop);
    is_int(c.nread, 0, "a paused fd gets no callback though readable");
    is_int(ev_run(loop), 0, "a loop with only paused fds returns at once");
    is_int(ev_io_events(loop, c.p[0], EV_READ), 0, "resumed");
    ev_timer_start(loop, &c.guard, 30, 0);
    ev_run(loop);
    is_int(c.nread, 1, "  the pending byte is delivered after resume");

    /* EOF: closing the writer makes the reader readable, read() gives 0 */
    close(c.p[1]);
    c.nread = 0;
    c.last_n = -2;
    ev_timer_start(loop, &c.guard, 30, 0);
    ev_run(loop);
    ok(c.nread >= 1, "hang-up reported as readable");
    is_int(c.last_n, 0, "  read() sees EOF");
    ev_io_del(loop, c.p[0]);
    ok(!ev_io_registered(loop, c.p[0]), "deleted fd no longer registered");
    close(c.p[0]);
    ev_timer_stop(loop, &c.guard);
    ev_loop_free(loop);
}

static void io_writer(ev_loop *loop, int fd, int events, void *arg)
{
    struct io_ctx *c = arg;
    c->nwrite++;
    c->last_events = events;
    if (c->nwrite == 3)     /* write -> read interest: no more callbacks */
        ev_io_events(loop, fd, EV_READ);
}

static void io_both(ev_loop *loop, int fd, int events, void *arg)
{
    struct io_ctx *c = arg;
    char b[16];
    (void)loop;
    if (events & EV_READ) {
        c->nq++;
        if (read(fd, b, sizeof(b)) <= 0)
            ev_io_del(loop, fd);
    }
    if (events & EV_WRITE)
        c->nwrite++;
}

static void test_io_interest(void)
{
    ev_loop *loop = new_loop();
    struct io_ctx c;
    memset(&c, 0, sizeof(c));
    socketpair(AF_UNIX, SOCK_STREAM, 0, c.q);
    set_nonblock(c.q[0]);
    set_nonblock(c.q[1]);
    ev_timer_init(&c.guard, stop_cb, NULL);
    ev_io_set(loop, c.q[0], EV_WRITE, io_writer, &c);
    ev_timer_start(loop, &c.guard, 50, 0);
    ev_run(loop);
    is_int(c.nwrite, 3, "writable socket: EV_WRITE callbacks until interest changes");
    is_int(c.last_events, EV_WRITE, "  events == EV_WRITE");
    if (write(c.q[1], "z", 1) != 1)
        diag("write failed");

    /* replace the callback with ev_io_set on a registered fd: read + write */
    c.nwrite = 0;
    ev_io_set(loop, c.q[0], EV_READ | EV_WRITE, io_both, &c);
    ev_timer_start(loop, &c.guard, 30, 0);
    ev_run(loop);
    ok(c.nq == 1, "replaced callback sees the pending byte (EV_READ)");
    ok(c.nwrite >= 1, "  and EV_WRITE in the same registration");
    ev_io_events(loop, c.q[0], EV_READ);
    shutdown(c.q[1], SHUT_WR);
    c.nq = 0;
    ev_timer_stop(loop, &c.guard);
    is_int(ev_run(loop), 0, "loop returns once the callback deletes its only fd");
    is_int(c.nq, 1, "  after one EOF callback");
    close(c.q[0]);
    close(c.q[1]);
    ev_loop_free(loop);
}

/* Two fds ready in the same pass; whichever runs first deletes the other. */
struct del_ctx {
    int       a[2], b[2];
    int       na, nb;
    int       recycle;      /* 1: re-register the deleted number */
    int       spurious;     /* callbacks that found nothing to read */
    int       fresh_reads;
    int       recycled_fd;
    ev_timer  guard, feed;
};

static void del_other(ev_loop *loop, struct del_ctx *c, int other[2]);

static void del_cb(ev_loop *loop, int fd, int events, void *arg)
{
    struct del_ctx *c = arg;
    char b[16];
    (void)events;
    ssize_t n = read(fd, b, sizeof(b));
    if (n < 0 && errno == EAGAIN) {
        c->spurious++;
        return;
    }
    if (fd == c->recycled_fd) {
        c->fresh_reads++;
        return;
    }
    if (fd == c->a[0]) {
        c->na++;
        del_other(loop, c, c->b);
    } else {
        c->nb++;
        del_other(loop, c, c->a);
    }
}

static void del_other(ev_loop *loop, struct del_ctx *c, int other[2])
{
    int num = other[0];
    ev_io_del(loop, num);
    if (!c->recycle)
        return;
    /* close it and put a brand-new, empty pipe on the same number */
    close(other[0]);
    close(other[1]);
    int fresh[2];
    nb_pipe(fresh);
    if (fresh[0] != num) {
        dup2(fresh[0], num);
        close(fresh[0]);
    }
    other[0] = num;
    other[1] = fresh[1];
    c->recycled_fd = num;
    ev_io_set(loop, num, EV_READ, del_cb, c);   /* same callback, same arg */
}

static void del_feed(ev_loop *loop, ev_timer *t, void *arg)
{
    struct del_ctx *c = arg;
    (void)loop; (void)t;
    int w = c->recycled_fd == c->a[0] ? c->a[1] : c->b[1];
    if (write(w, "n", 1) != 1)
        diag("feed write failed");
}

static void run_del(bool recycle)
{
    ev_loop *loop = new_loop();
    struct del_ctx c;
    memset(&c, 0, sizeof(c));
    c.recycle = recycle;
    c.recycled_fd = -1;
    nb_pipe(c.a);
    nb_pipe(c.b);
    ev_io_set(loop, c.a[0], EV_READ, del_cb, &c);
    ev_io_set(loop, c.b[0], EV_READ, del_cb, &c);
    if (write(c.a[1], "a", 1) != 1 || write(c.b[1], "b", 1) != 1)
        diag("write failed");
    ev_timer_init(&c.guard, stop_cb, NULL);
    ev_timer_init(&c.feed, del_feed, &c);
    ev_timer_start(loop, &c.guard, 80, 0);
    if (recycle)
        ev_timer_start(loop, &c.feed, 30, 0);
    ev_run(loop);
    const char *what = recycle ? "deleted, closed and re-registered" : "deleted";
    is_int(c.na + c.nb, 1, "fd %s by an earlier callback of the same pass: no callback", what);
    is_int(c.spurious, 0, "  no callback with stale readiness");
    if (recycle)
        is_int(c.fresh_reads, 1, "  the recycled number works for the new pipe");
    ev_io_del(loop, c.a[0]);
    ev_io_del(loop, c.b[0]);
    close(c.a[0]); close(c.a[1]); close(c.b[0]); close(c.b[1]);
    ev_loop_free(loop);
}

/* Many fds at once: random readable subset, random removals. */
struct many_ctx {
    int       r[NPIPES], w[NPIPES];
    char      readable[NPIPES], removed[NPIPES];
    int       calls[NPIPES];
    int       wrong;
};

static void many_cb(ev_loop *loop, int fd, int events, void *arg)
{
    struct many_ctx *c = arg;
    char b[4];
    (void)events;
    for (int i = 0; i < NPIPES; i++) {
        if (c->r[i] != fd)
            continue;
        c->calls[i]++;
        if (read(fd, b, sizeof(b)) != 1)
            c->wrong++;
        ev_io_del(loop, fd);
        return;
    }
    c->wrong++;
}

static void test_io_many(void)
{
    ev_loop *loop = new_loop();
    struct many_ctx *c = calloc(1, sizeof(*c));
    uint64_t seed = 99;
    int fds[2];
    for (int i = 0; i < NPIPES; i++) {
        nb_pipe(fds);
        c->r[i] = fds[0];
        c->w[i] = fds[1];
        ev_io_set(loop, c->r[i], EV_READ, many_cb, c);
    }
    for (int i = 0; i < NPIPES; i++) {
        c->readable[i] = rnd_next(&seed) % 2;
        if (c->readable[i] && write(c->w[i], "m", 1) != 1)
            c->wrong++;
        c->removed[i] = rnd_next(&seed) % 4 == 0;
        if (c->removed[i])
            ev_io_del(loop, c->r[i]);
    }
    ev_timer guard;
    ev_timer_init(&guard, stop_cb, NULL);
    ev_timer_start(loop, &guard, 50, 0);
    ev_run(loop);
    int bad = 0;
    for (int i = 0; i < NPIPES; i++)
        if (c->calls[i] != (c->readable[i] && !c->removed[i]))
            bad++;
    is_int(bad, 0, "%d pipes: callbacks exactly for the readable, still registered ones", NPIPES);
    is_int(c->wrong, 0, "  each read its one byte");
    for (int i = 0; i < NPIPES; i++) {
        ev_io_del(loop, c->r[i]);
        close(c->r[i]);
        close(c->w[i]);
    }
    free(c);
    ev_loop_free(loop);
}

/* select() cannot watch fd >= FD_SETSIZE: it must refuse, not corrupt. */
static void test_high_fd(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur <= HIGH_FD) {
        rlim_t want = HIGH_FD + 16;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
            ok(1, "# SKIP RLIMIT_NOFILE hard limit %llu <= %d",
               (unsigned long long)rl.rlim_max, HIGH_FD);
            return;
        }
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            ok(1, "# SKIP cannot raise RLIMIT_NOFILE: %s", strerror(errno));
            return;
        }
    }
    int p[2];
    nb_pipe(p);
    if (dup2(p[0], HIGH_FD) < 0) {
        ok(1, "# SKIP dup2 to %d: %s", HIGH_FD, strerror(errno));
        close(p[0]);
        close(p[1]);
        return;
    }
    ev_loop *loop = new_loop();
    struct io_ctx c;
    memset(&c, 0, sizeof(c));
    errno = 0;
    int r = ev_io_set(loop, HIGH_FD, EV_READ, io_reader, &c);
    if (strcmp(EV_TEST_BACKEND, "select") == 0) {
        ok(HIGH_FD >= FD_SETSIZE, "fd %d is at or above FD_SETSIZE (%d)", HIGH_FD, FD_SETSIZE);
        is_int(r, -1, "select: fd %d refused", HIGH_FD);
        is_int(errno, EMFILE, "  with EMFILE");
        ok(!ev_io_registered(loop, HIGH_FD), "  and not registered");
    } else {
        is_int(r, 0, "%s: fd %d accepted", EV_TEST_BACKEND, HIGH_FD);
        if (write(p[1], "h", 1) != 1)
            diag("write failed");
        ev_timer guard;
        ev_timer_init(&guard, stop_cb, NULL);
        ev_timer_start(loop, &guard, 50, 0);
        ev_run(loop);
        is_int(c.nread, 1, "  and its readiness delivered");
        ev_io_del(loop, HIGH_FD);
    }
    close(HIGH_FD);
    close(p[0]);
    close(p[1]);
    ev_loop_free(loop);
}

/* --- signals --- */

struct sig_ctx {
    int       nsig, nsig1;
    bool      in_timer;
    bool      from_handler;  /* delivered while the raising callback ran */
    ev_timer  raiser, guard;
};

static void sig_cb(ev_loop *loop, int signo, void *arg)
{
    struct sig_ctx *c = arg;
    (void)loop;
    if (c->in_timer)
        c->from_handler = true;
    if (signo == SIGUSR2)
        c->nsig++;
    else if (signo == SIGUSR1)
        c->nsig1++;
    if (c->nsig == 2)
        ev_stop(loop);
}

static void sig_raise(ev_loop *loop, ev_timer *t, void *arg)
{
    struct sig_ctx *c = arg;
    (void)loop; (void)t;
    bool first = c->nsig == 0;
    c->in_timer = true;
    raise(SIGUSR2);
    if (first)
        raise(SIGUSR1);
    c->in_timer = false;
    if (first)
        ev_timer_start(loop, &c->raiser, 5, 0);    /* once more, later */
}

static void test_signals(void)
{
    ev_loop *loop = new_loop();
    struct sig_ctx c;
    memset(&c, 0, sizeof(c));
    is_int(ev_signal_set(loop, SIGUSR2, sig_cb, &c), 0, "SIGUSR2 handler set");
    is_int(ev_signal_set(loop, SIGUSR1, sig_cb, &c), 0, "SIGUSR1 handler set");
    is_int(ev_run(loop), 0, "the signal pipe alone does not keep the loop running");
    ev_timer_init(&c.raiser, sig_raise, &c);
    ev_timer_init(&c.guard, stop_cb, NULL);
    ev_timer_start(loop, &c.raiser, 5, 0);
    ev_timer_start(loop, &c.guard, 2000, 0);
    ev_run(loop);
    is_int(c.nsig, 2, "raise(SIGUSR2) twice: delivered twice");
    is_int(c.nsig1, 1, "raise(SIGUSR1): delivered");
    ok(!c.from_handler, "delivered in loop context, not inside raise()");
    ok(ev_timer_active(&c.guard), "delivered promptly (safety timer still pending)");
    errno = 0;
    is_int(ev_signal_set(loop, 0, sig_cb, &c), -1, "signal 0 refused");
    is_int(errno, EINVAL, "  EINVAL");
    ev_signal_set(loop, SIGUSR1, NULL, NULL);
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    ok(sa.sa_handler == SIG_DFL, "cb NULL restores the default disposition");
    ev_loop_free(loop);
    sigaction(SIGUSR2, NULL, &sa);
    ok(sa.sa_handler == SIG_DFL, "ev_loop_free restores the default disposition");
}

/* --- deferred calls and stop --- */

struct defer_ctx {
    int       order[16];
    int       n;
    int       io_seen_before_defer;
    int       p[2];
};

static void defer_mark(ev_loop *loop, void *arg);

static void defer_inner(ev_loop *loop, void *arg)
{
    struct defer_ctx *c = arg;
    (void)loop;
    c->order[c->n++] = 99;
}

static void defer_one(ev_loop *loop, void *arg)
{
    struct defer_ctx *c = arg;
    c->order[c->n++] = 1;
    ev_defer(loop, defer_inner, c);   /* runs in the same drain, last */
}

static void defer_two(ev_loop *loop, void *arg)
{
    struct defer_ctx *c = arg;
    (void)loop;
    c->order[c->n++] = 2;
}

static void defer_mark(ev_loop *loop, void *arg)
{
    struct defer_ctx *c = arg;
    (void)loop;
    c->order[c->n++] = 3;
}

static void defer_io(ev_loop *loop, int fd, int events, void *arg)
{
    struct defer_ctx *c = arg;
    char b[4];
    (void)events;
    if (read(fd, b, sizeof(b)) < 0)
        return;
    ev_io_del(loop, fd);
    ev_defer(loop, defer_one, c);
    ev_defer(loop, defer_two, c);
    ev_defer(loop, defer_mark, c);
    c->io_seen_before_defer = c->n == 0;
}

struct stop_ctx {
    ev_timer  rep, late;
    int       nrep, nlate;
};

static void stop_rep(ev_loop *loop, ev_timer *t, void *arg)
{
    struct stop_ctx *c = arg;
    (void)t;
    if (++c->nrep == 3)
        ev_stop(loop);
}

static void stop_late(ev_loop *loop, ev_timer *t, void *arg)
{
    struct stop_ctx *c = arg;
    (void)loop; (void)t;
    c->nlate++;
}

static void test_defer_stop(void)
{
    ev_loop *loop = new_loop();
    struct defer_ctx d;
    memset(&d, 0, sizeof(d));
    nb_pipe(d.p);
    ev_io_set(loop, d.p[0], EV_READ, defer_io, &d);
    if (write(d.p[1], "d", 1) != 1)
        diag("write failed");
    ev_run(loop);
    ok(d.io_seen_before_defer, "deferred calls wait for the end of the pass");
    is_int(d.n, 4, "every deferred call ran");
    int want[] = { 1, 2, 3, 99 };
    int same = d.n == 4;
    for (int i = 0; same && i < 4; i++)
        same = d.order[i] == want[i];
    ok(same, "in FIFO order; one deferred from a deferred call runs last, same drain");
    close(d.p[0]);
    close(d.p[1]);

    /* ev_defer alone keeps the loop alive for one pass */
    d.n = 0;
    ev_defer(loop, defer_two, &d);
    ev_run(loop);
    is_int(d.n, 1, "a lone deferred call runs under ev_run");

    struct stop_ctx s;
    memset(&s, 0, sizeof(s));
    ev_timer_init(&s.rep, stop_rep, &s);
    ev_timer_init(&s.late, stop_late, &s);
    ev_timer_start(loop, &s.rep, 1, 5);
    ev_timer_start(loop, &s.late, 500, 0);
    is_int(ev_run(loop), 0, "ev_run returns after ev_stop");
    is_int(s.nrep, 3, "  stopped from the 3rd run of a repeating timer");
    ok(ev_stopping(loop), "  ev_stopping() is true");
    is_int(s.nlate, 0, "  timers still pending did not run");
    ok(ev_timer_active(&s.rep) && ev_timer_active(&s.late), "  and are still active");
    ev_timer_stop(loop, &s.rep);
    ev_run(loop);
    ok(!ev_stopping(loop), "ev_run again clears the stop flag");
    is_int(s.nlate, 1, "  and the pending timer runs");
    ev_loop_free(loop);
}

int main(void)
{
    alarm(TEST_ALARM_S);
    signal(SIGPIPE, SIG_IGN);
    test_basics();
    test_timer_order();
    test_timer_push_pull();
    test_timer_cancel();
    test_timer_zeroed();
    test_timer_repeat();
    test_timer_from_callback();
    test_io_pipe();
    test_io_interest();
    run_del(false);
    run_del(true);
    test_io_many();
    test_high_fd();
    test_signals();
    test_defer_stop();
    return done_testing();
}
