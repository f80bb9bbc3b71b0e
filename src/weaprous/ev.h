/*
 * ev.h - the reactor: one single-threaded event loop per process.
 *
 * It multiplexes file descriptors (read/write interest with a callback and a
 * context pointer), timers (a binary heap: O(log n) start and stop) and POSIX
 * signals (delivered through a self-pipe, so callbacks run in loop context).
 * The back end (poll, select or epoll) is chosen at configure time; the
 * interface is the same for all of them.
 *
 * Every function returns 0 on success and -1 with errno set on failure,
 * unless it says otherwise.  Nothing here logs.
 */
#ifndef WEAPROUS_EV_H
#define WEAPROUS_EV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "weaprous/api.h"

WR_API_BEGIN

#define EV_READ  0x1
#define EV_WRITE 0x2

typedef struct ev_loop ev_loop;
typedef struct ev_timer ev_timer;

/* Called when fd is ready.  `events` is a mask of EV_READ and EV_WRITE; a
 * hang-up or error is reported as readable so the reader sees EOF or errno. */
typedef void (*ev_io_cb)(ev_loop *loop, int fd, int events, void *arg);
typedef void (*ev_timer_cb)(ev_loop *loop, ev_timer *timer, void *arg);
typedef void (*ev_signal_cb)(ev_loop *loop, int signo, void *arg);
typedef void (*ev_defer_cb)(ev_loop *loop, void *arg);

/* A timer is owned by its user (usually embedded in a connection); the loop
 * only keeps a pointer while it is active.  Initialise it once with
 * ev_timer_init(); it can then be started and stopped any number of times. */
struct ev_timer {
    uint64_t     when_ms;   /* its place in the heap: at or before due_ms */
    uint64_t     due_ms;    /* deadline on the loop's monotonic clock */
    uint64_t     repeat_ms; /* 0: one-shot */
    size_t       heap_index;/* position in the heap, or SIZE_MAX when idle */
    ev_timer_cb  cb;
    void        *arg;
};

/* Creates a loop able to watch descriptors 0 .. max_fds-1 (select() is further
 * limited to FD_SETSIZE).  Returns NULL with errno on failure. */
ev_loop *ev_loop_new(int max_fds);
void ev_loop_free(ev_loop *loop);

/* Name of the compiled back end: "poll", "select" or "epoll". */
const char *ev_backend_name(void);

/* Runs until ev_stop() is called or nothing is left to watch.  Returns 0, or
 * -1 if the back end failed (errno set). */
int ev_run(ev_loop *loop);
/* Makes ev_run() return after the current pass; safe from any callback. */
void ev_stop(ev_loop *loop);
bool ev_stopping(const ev_loop *loop);

/* Starts watching fd, or replaces its interest, callback and argument.  An fd
 * registered with events == 0 stays known but is not polled (paused).
 * Fails with EMFILE/EINVAL when fd is outside the loop's capacity. */
int ev_io_set(ev_loop *loop, int fd, int events, ev_io_cb cb, void *arg);
/* Changes only the interest mask of a registered fd. */
int ev_io_events(ev_loop *loop, int fd, int events);
/* Forgets fd.  Pending readiness from the current pass is dropped, so a
 * callback never runs for an fd that an earlier callback removed.  Does not
 * close the fd. */
void ev_io_del(ev_loop *loop, int fd);
bool ev_io_registered(const ev_loop *loop, int fd);

void ev_timer_init(ev_timer *t, ev_timer_cb cb, void *arg);
/* (Re)starts t to fire after `after_ms`, then every `repeat_ms` if non-zero. */
int ev_timer_start(ev_loop *loop, ev_timer *t, uint64_t after_ms, uint64_t repeat_ms);
/* Stops t if active; idempotent. */
void ev_timer_stop(ev_loop *loop, ev_timer *t);
bool ev_timer_active(const ev_timer *t);

/* Delivers signo to cb from inside the loop (self-pipe).  One callback per
 * signal number; cb == NULL restores the default disposition. */
int ev_signal_set(ev_loop *loop, int signo, ev_signal_cb cb, void *arg);

/* Runs cb(arg) at the end of the current pass, after every I/O callback:
 * the place to free objects whose own callback chain is still on the stack. */
int ev_defer(ev_loop *loop, ev_defer_cb cb, void *arg);

/* Cached clocks, refreshed once per pass: monotonic milliseconds, and wall
 * clock seconds (for logs and HTTP dates). */
uint64_t ev_now_ms(const ev_loop *loop);
time_t ev_wall(const ev_loop *loop);
/* Refreshes the cached clocks now (after a long synchronous step). */
void ev_update_time(ev_loop *loop);

WR_API_END

#endif
