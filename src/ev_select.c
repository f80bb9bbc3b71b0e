/*
 * ev_select.c - select(2) back end, for portability.  Master sets are
 * copied every pass (select overwrites its arguments) and descriptors at or
 * above FD_SETSIZE are refused with EMFILE rather than corrupting memory.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "ev_backend.h"

struct ev_select {
    fd_set rd, wr;
    int    maxfd;     /* highest fd in either set, or -1 */
};

const char *ev_backend_id(void) { return "select"; }

int ev_backend_fd_limit(int max_fds)
{
    return max_fds < FD_SETSIZE ? max_fds : FD_SETSIZE;
}

void *ev_backend_new(int max_fds)
{
    struct ev_select *s = calloc(1, sizeof(*s));
    (void)max_fds;
    if (!s)
        return NULL;
    FD_ZERO(&s->rd);
    FD_ZERO(&s->wr);
    s->maxfd = -1;
    return s;
}

void ev_backend_free(void *be) { free(be); }

int ev_backend_set(void *be, int fd, int old_events, int new_events)
{
    struct ev_select *s = be;
    (void)old_events;
    if (fd >= FD_SETSIZE) {
        errno = EMFILE;
        return -1;
    }
    if (new_events & EV_READ) FD_SET(fd, &s->rd); else FD_CLR(fd, &s->rd);
    if (new_events & EV_WRITE) FD_SET(fd, &s->wr); else FD_CLR(fd, &s->wr);
    if (new_events && fd > s->maxfd)
        s->maxfd = fd;
    while (s->maxfd >= 0 && !FD_ISSET(s->maxfd, &s->rd) && !FD_ISSET(s->maxfd, &s->wr))
        s->maxfd--;
    return 0;
}

int ev_backend_poll(void *be, ev_loop *loop, int timeout_ms)
{
    struct ev_select *s = be;
    fd_set rd, wr;
    struct timeval tv, *tvp = NULL;
    memcpy(&rd, &s->rd, sizeof(rd));
    memcpy(&wr, &s->wr, sizeof(wr));
    if (timeout_ms >= 0) {
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        tvp = &tv;
    }
    int n = select(s->maxfd + 1, &rd, &wr, NULL, tvp);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    int found = 0;
    for (int fd = 0; fd <= s->maxfd && found < n; fd++) {
        int ev = (FD_ISSET(fd, &rd) ? EV_READ : 0) | (FD_ISSET(fd, &wr) ? EV_WRITE : 0);
        if (ev) {
            ev_ready(loop, fd, ev);
            found += (ev == (EV_READ | EV_WRITE)) ? 2 : 1;
        }
    }
    return found;
}
