/*
 * ev_epoll.c - epoll(7) back end (Linux), level-triggered so that it has
 * exactly the semantics of the poll and select back ends.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ev_backend.h"

#define EV_EPOLL_BATCH 1024

struct ev_epoll {
    int                 epfd;
    struct epoll_event  events[EV_EPOLL_BATCH];
};

const char *ev_backend_id(void) { return "epoll"; }
int ev_backend_fd_limit(int max_fds) { return max_fds; }

void *ev_backend_new(int max_fds)
{
    struct ev_epoll *e = calloc(1, sizeof(*e));
    (void)max_fds;
    if (!e)
        return NULL;
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (e->epfd < 0) {
        free(e);
        return NULL;
    }
    return e;
}

void ev_backend_free(void *be)
{
    struct ev_epoll *e = be;
    if (!e)
        return;
    close(e->epfd);
    free(e);
}

int ev_backend_set(void *be, int fd, int old_events, int new_events)
{
    struct ev_epoll *e = be;
    struct epoll_event ev = {0};
    ev.data.fd = fd;
    ev.events = ((new_events & EV_READ) ? EPOLLIN : 0u) |
                ((new_events & EV_WRITE) ? EPOLLOUT : 0u);
    if (new_events == 0) {
        if (old_events == 0)
            return 0;
        /* The fd may already be closed (then the kernel dropped it). */
        if (epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, &ev) < 0 && errno != EBADF && errno != ENOENT)
            return -1;
        return 0;
    }
    int op = old_events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(e->epfd, op, fd, &ev) == 0)
        return 0;
    /* A closed-and-reused fd number: the kernel forgot the old entry. */
    if (op == EPOLL_CTL_MOD && errno == ENOENT)
        return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
    if (op == EPOLL_CTL_ADD && errno == EEXIST)
        return epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev);
    return -1;
}

int ev_backend_poll(void *be, ev_loop *loop, int timeout_ms)
{
    struct ev_epoll *e = be;
    int n = epoll_wait(e->epfd, e->events, EV_EPOLL_BATCH, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        uint32_t re = e->events[i].events;
        int ev = 0;
        if (re & (EPOLLIN | EPOLLHUP | EPOLLERR))
            ev |= EV_READ;
        if (re & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            ev |= EV_WRITE;
        ev_ready(loop, e->events[i].data.fd, ev);
    }
    return n;
}
