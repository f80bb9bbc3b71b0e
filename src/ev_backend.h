/*
 * ev_backend.h - what a reactor back end implements (private).
 *
 * One file per back end (ev_poll.c, ev_select.c, ev_epoll.c), each defining
 * these functions; configure compiles exactly one of them.  The core (ev.c)
 * owns the fd table, timers, signals and dispatch; a back end only keeps the
 * kernel-facing interest set and reports readiness through ev_ready().
 */
#ifndef WR_EV_BACKEND_H
#define WR_EV_BACKEND_H

#include "weaprous/ev.h"

/* Called by a back end for each ready fd during ev_backend_poll(). */
void ev_ready(ev_loop *loop, int fd, int events);

/* Returns the back end's state, or NULL with errno. */
void *ev_backend_new(int max_fds);
void ev_backend_free(void *be);
/* Interest of fd changes from old_events to new_events (either may be 0). */
int ev_backend_set(void *be, int fd, int old_events, int new_events);
/* Waits up to timeout_ms (-1: forever) and reports readiness.  Returns the
 * number of ready fds, or -1 with errno (EINTR is not an error: return 0). */
int ev_backend_poll(void *be, ev_loop *loop, int timeout_ms);
const char *ev_backend_id(void);
/* Largest fd + 1 this back end accepts for the given request. */
int ev_backend_fd_limit(int max_fds);

#endif
