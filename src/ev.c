/*
 * ev.c - reactor core: fd table, timer heap, self-pipe signals, deferred
 * calls and the loop driver.  See weaprous/ev.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "ev_backend.h"
#include "weaprous/limits.h"

#define EV_NSIG 65

struct ev_fd {
    ev_io_cb  cb;
    void     *arg;
    int       events;
    unsigned  gen;       /* bumped on every (re)registration and removal */
    bool      used;
};

struct ev_ready_ent {
    int      fd;
    int      events;
    unsigned gen;
};

struct ev_defer_ent {
    ev_defer_cb cb;
    void       *arg;
};

struct ev_loop {
    void          *be;
    struct ev_fd  *fds;
    int            max_fds;
    size_t         nwatched;        /* fds with a non-zero interest */
    struct ev_ready_ent *ready;
    size_t         nready;
    ev_timer     **heap;
    size_t         nheap, heap_cap;
    struct ev_defer_ent *defers;
    size_t         ndefers, defer_cap;
    int            sigpipe[2];
    struct { ev_signal_cb cb; void *arg; } sigs[EV_NSIG];
    size_t         nsignals;
    uint64_t       now_ms;
    time_t         wall;
    bool           stop;
    bool           in_timers;       /* ev_run_timers() is firing timers */
};

/* The one piece of process-wide state: a signal handler has no context
 * argument, so it needs to find the self-pipe somewhere.  Only one loop per
 * process handles signals. */
static volatile int ev_signal_fd = -1;

static void ev_run_defers(ev_loop *loop);

static uint64_t ev_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ev_update_time(ev_loop *loop)
{
    loop->now_ms = ev_clock_ms();
    loop->wall = time(NULL);
}

uint64_t ev_now_ms(const ev_loop *loop) { return loop->now_ms; }
time_t ev_wall(const ev_loop *loop) { return loop->wall; }
const char *ev_backend_name(void) { return ev_backend_id(); }

ev_loop *ev_loop_new(int max_fds)
{
    ev_loop *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->max_fds = ev_backend_fd_limit(max_fds > 0 ? max_fds : EV_DEFAULT_MAX_FDS);
    loop->fds = calloc((size_t)loop->max_fds, sizeof(*loop->fds));
    loop->ready = calloc((size_t)loop->max_fds, sizeof(*loop->ready));
    loop->be = ev_backend_new(loop->max_fds);
    loop->sigpipe[0] = loop->sigpipe[1] = -1;
    if (!loop->fds || !loop->ready || !loop->be) {
        ev_loop_free(loop);
        errno = ENOMEM;
        return NULL;
    }
    ev_update_time(loop);
    return loop;
}

void ev_loop_free(ev_loop *loop)
{
    if (!loop)
        return;
    ev_run_defers(loop);    /* frees that the last pass scheduled */
    for (int s = 1; s < EV_NSIG; s++)
        if (loop->sigs[s].cb)
            signal(s, SIG_DFL);
    if (loop->sigpipe[0] >= 0) {
        ev_signal_fd = -1;
        close(loop->sigpipe[0]);
        close(loop->sigpipe[1]);
    }
    if (loop->be)
        ev_backend_free(loop->be);
    free(loop->fds);
    free(loop->ready);
    free(loop->heap);
    free(loop->defers);
    free(loop);
}

/* --- descriptors --- */

static int ev_check_fd(const ev_loop *loop, int fd)
{
    if (fd < 0 || fd >= loop->max_fds) {
        errno = fd < 0 ? EBADF : EMFILE;
        return -1;
    }
    return 0;
}

int ev_io_set(ev_loop *loop, int fd, int events, ev_io_cb cb, void *arg)
{
    if (ev_check_fd(loop, fd) < 0)
        return -1;
    struct ev_fd *e = &loop->fds[fd];
    int old = e->used ? e->events : 0;
    /* Handing an fd to another handler with the same interest (a pooled
     * upstream connection) costs no system call. */
    if ((!e->used || old != events) && ev_backend_set(loop->be, fd, old, events) < 0)
        return -1;
    if (!e->used || e->cb != cb || e->arg != arg)
        e->gen++;
    loop->nwatched += (events != 0) - (old != 0);
    e->used = true;
    e->cb = cb;
    e->arg = arg;
    e->events = events;
    return 0;
}

int ev_io_events(ev_loop *loop, int fd, int events)
{
    if (ev_check_fd(loop, fd) < 0)
        return -1;
    struct ev_fd *e = &loop->fds[fd];
    if (!e->used) {
        errno = ENOENT;
        return -1;
    }
    if (e->events == events)
        return 0;
    if (ev_backend_set(loop->be, fd, e->events, events) < 0)
        return -1;
    loop->nwatched += (events != 0) - (e->events != 0);
    e->events = events;
    return 0;
}

void ev_io_del(ev_loop *loop, int fd)
{
    if (fd < 0 || fd >= loop->max_fds || !loop->fds[fd].used)
        return;
    struct ev_fd *e = &loop->fds[fd];
    ev_backend_set(loop->be, fd, e->events, 0);
    if (e->events)
        loop->nwatched--;
    e->used = false;
    e->events = 0;
    e->cb = NULL;
    e->gen++;
}

bool ev_io_registered(const ev_loop *loop, int fd)
{
    return fd >= 0 && fd < loop->max_fds && loop->fds[fd].used;
}

void ev_ready(ev_loop *loop, int fd, int events)
{
    if (fd < 0 || fd >= loop->max_fds || loop->nready >= (size_t)loop->max_fds)
        return;
    struct ev_ready_ent *r = &loop->ready[loop->nready++];
    r->fd = fd;
    r->events = events;
    r->gen = loop->fds[fd].gen;
}

/* Runs the callbacks of this pass.  An earlier callback may have removed or
 * replaced an fd that is also in the ready list: the generation check drops
 * such stale entries, and the interest check drops events nobody wants now. */
static void ev_dispatch(ev_loop *loop)
{
    for (size_t i = 0; i < loop->nready; i++) {
        struct ev_ready_ent *r = &loop->ready[i];
        struct ev_fd *e = &loop->fds[r->fd];
        if (!e->used || e->gen != r->gen)
            continue;
        int ev = r->events & e->events;
        if (ev)
            e->cb(loop, r->fd, ev, e->arg);
    }
    loop->nready = 0;
}

/* --- timers: a binary min-heap on when_ms, each timer knows its index --- */

static bool ev_timer_before(const ev_timer *a, const ev_timer *b)
{
    return a->when_ms < b->when_ms;
}

static void ev_heap_place(ev_loop *loop, size_t i, ev_timer *t)
{
    loop->heap[i] = t;
    t->heap_index = i;
}

static void ev_heap_up(ev_loop *loop, size_t i)
{
    ev_timer *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_timer_before(t, loop->heap[parent]))
            break;
        ev_heap_place(loop, i, loop->heap[parent]);
        i = parent;
    }
    ev_heap_place(loop, i, t);
}

static void ev_heap_down(ev_loop *loop, size_t i)
{
    ev_timer *t = loop->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= loop->nheap)
            break;
        if (child + 1 < loop->nheap &&
            ev_timer_before(loop->heap[child + 1], loop->heap[child]))
            child++;
        if (!ev_timer_before(loop->heap[child], t))
            break;
        ev_heap_place(loop, i, loop->heap[child]);
        i = child;
    }
    ev_heap_place(loop, i, t);
}

void ev_timer_init(ev_timer *t, ev_timer_cb cb, void *arg)
{
    memset(t, 0, sizeof(*t));
    t->heap_index = SIZE_MAX;
    t->cb = cb;
    t->arg = arg;
}

bool ev_timer_active(const ev_timer *t) { return t->heap_index != SIZE_MAX; }

/* True when t really is in the heap.  A zeroed timer that never went
 * through ev_timer_init() claims slot 0: the slot must hold it (a calloc'd
 * owner stopped on an early error path must not corrupt the heap). */
static bool ev_timer_queued(const ev_loop *loop, const ev_timer *t)
{
    size_t i = t->heap_index;
    return i < loop->nheap && loop->heap[i] == t;
}

void ev_timer_stop(ev_loop *loop, ev_timer *t)
{
    size_t i = t->heap_index;
    bool queued = ev_timer_queued(loop, t);
    t->heap_index = SIZE_MAX;
    if (!queued)
        return;
    ev_timer *last = loop->heap[--loop->nheap];
    if (last == t)
        return;
    ev_heap_place(loop, i, last);
    ev_heap_up(loop, i);
    ev_heap_down(loop, last->heap_index);
}

int ev_timer_start(ev_loop *loop, ev_timer *t, uint64_t after_ms, uint64_t repeat_ms)
{
    /* A timer (re)started for "now" by a timer callback would be due again
     * in the same drain and could spin there forever: it waits a pass. */
    if (after_ms == 0 && loop->in_timers)
        after_ms = 1;
    uint64_t due = loop->now_ms + after_ms;
    /* Pushed later (a timeout restarted on progress, the common case): the
     * heap keeps its earlier place, and ev_run_timers moves it on when it
     * comes up; no heap work per restart. */
    if (ev_timer_queued(loop, t) && due >= t->when_ms) {
        t->due_ms = due;
        t->repeat_ms = repeat_ms;
        return 0;
    }
    ev_timer_stop(loop, t);
    if (loop->nheap == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        ev_timer **h = realloc(loop->heap, cap * sizeof(*h));
        if (!h)
            return -1;
        loop->heap = h;
        loop->heap_cap = cap;
    }
    t->when_ms = t->due_ms = due;
    t->repeat_ms = repeat_ms;
    loop->heap[loop->nheap] = t;
    t->heap_index = loop->nheap++;
    ev_heap_up(loop, t->heap_index);
    return 0;
}

/* Fires due timers.  A repeating timer is re-armed before its callback so the
 * callback may stop it; timers started by callbacks for "now" wait a pass. */
static void ev_run_timers(ev_loop *loop)
{
    uint64_t now = loop->now_ms;
    loop->in_timers = true;
    while (loop->nheap && loop->heap[0]->when_ms <= now) {
        ev_timer *t = loop->heap[0];
        if (t->due_ms > now) {   /* pushed later since it was placed */
            t->when_ms = t->due_ms;
            ev_heap_down(loop, 0);
            continue;
        }
        ev_timer_stop(loop, t);
        if (t->repeat_ms)
            ev_timer_start(loop, t, t->repeat_ms, t->repeat_ms);
        t->cb(loop, t, t->arg);
        if (loop->stop)
            break;
    }
    loop->in_timers = false;
}

static int ev_next_timeout(const ev_loop *loop)
{
    if (loop->ndefers)
        return 0;
    if (!loop->nheap)
        return -1;
    uint64_t when = loop->heap[0]->when_ms;
    if (when <= loop->now_ms)
        return 0;
    uint64_t d = when - loop->now_ms;
    return d > 60000 ? 60000 : (int)d;
}

/* --- deferred calls --- */

int ev_defer(ev_loop *loop, ev_defer_cb cb, void *arg)
{
    if (loop->ndefers == loop->defer_cap) {
        size_t cap = loop->defer_cap ? loop->defer_cap * 2 : 32;
        struct ev_defer_ent *d = realloc(loop->defers, cap * sizeof(*d));
        if (!d)
            return -1;
        loop->defers = d;
        loop->defer_cap = cap;
    }
    loop->defers[loop->ndefers].cb = cb;
    loop->defers[loop->ndefers].arg = arg;
    loop->ndefers++;
    return 0;
}

/* Deferred calls may defer more; those run in the same drain. */
static void ev_run_defers(ev_loop *loop)
{
    for (size_t i = 0; i < loop->ndefers; i++)
        loop->defers[i].cb(loop, loop->defers[i].arg);
    loop->ndefers = 0;
}

/* --- signals through a self-pipe --- */

static void ev_signal_handler(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    if (ev_signal_fd >= 0 && write(ev_signal_fd, &b, 1) < 0) {
        /* pipe full: the signal is already pending in it */
    }
    errno = saved;
}

static void ev_signal_read(ev_loop *loop, int fd, int events, void *arg)
{
    unsigned char sigs[64];
    ssize_t n;
    while ((n = read(fd, sigs, sizeof(sigs))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            int s = sigs[i];
            if (s > 0 && s < EV_NSIG && loop->sigs[s].cb)
                loop->sigs[s].cb(loop, s, loop->sigs[s].arg);
        }
    }
}

static int ev_signal_pipe(ev_loop *loop)
{
    if (loop->sigpipe[0] >= 0)
        return 0;
    if (pipe(loop->sigpipe) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(loop->sigpipe[i], F_SETFL, fcntl(loop->sigpipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(loop->sigpipe[i], F_SETFD, FD_CLOEXEC);
    }
    ev_signal_fd = loop->sigpipe[1];
    return ev_io_set(loop, loop->sigpipe[0], EV_READ, ev_signal_read, NULL);
}

int ev_signal_set(ev_loop *loop, int signo, ev_signal_cb cb, void *arg)
{
    if (signo <= 0 || signo >= EV_NSIG) {
        errno = EINVAL;
        return -1;
    }
    if (cb && ev_signal_pipe(loop) < 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = cb ? ev_signal_handler : SIG_DFL;
    sa.sa_flags = SA_RESTART;
    if (sigaction(signo, &sa, NULL) < 0)
        return -1;
    loop->sigs[signo].cb = cb;
    loop->sigs[signo].arg = arg;
    return 0;
}

/* --- the loop --- */

void ev_stop(ev_loop *loop) { loop->stop = true; }
bool ev_stopping(const ev_loop *loop) { return loop->stop; }

/* The signal pipe alone does not keep the loop alive. */
static bool ev_has_work(const ev_loop *loop)
{
    size_t own = loop->sigpipe[0] >= 0 ? 1 : 0;
    return loop->nwatched > own || loop->nheap || loop->ndefers;
}

int ev_run(ev_loop *loop)
{
    loop->stop = false;
    ev_update_time(loop);
    while (!loop->stop && ev_has_work(loop)) {
        int n = ev_backend_poll(loop->be, loop, ev_next_timeout(loop));
        if (n < 0)
            return -1;
        ev_update_time(loop);
        ev_dispatch(loop);
        ev_run_timers(loop);
        ev_run_defers(loop);
    }
    ev_run_defers(loop);
    return 0;
}
