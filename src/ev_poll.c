/*
 * ev_poll.c - poll(2) back end.  A dense pollfd array plus an fd -> slot
 * map, so changing interest is O(1) and only watched fds are passed to the
 * kernel.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "ev_backend.h"

struct ev_poll {
    struct pollfd *pfds;
    int           *slot;   /* fd -> index in pfds, or -1 */
    int            n;
    int            max_fds;
};

const char *ev_backend_id(void) { return "poll"; }
int ev_backend_fd_limit(int max_fds) { return max_fds; }

void *ev_backend_new(int max_fds)
{
    struct ev_poll *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->pfds = calloc((size_t)max_fds, sizeof(*p->pfds));
    p->slot = malloc((size_t)max_fds * sizeof(*p->slot));
    if (!p->pfds || !p->slot) {
        ev_backend_free(p);
        return NULL;
    }
    for (int i = 0; i < max_fds; i++)
        p->slot[i] = -1;
    p->max_fds = max_fds;
    return p;
}

void ev_backend_free(void *be)
{
    struct ev_poll *p = be;
    if (!p)
        return;
    free(p->pfds);
    free(p->slot);
    free(p);
}

static short ev_poll_mask(int events)
{
    return (short)(((events & EV_READ) ? POLLIN : 0) |
                   ((events & EV_WRITE) ? POLLOUT : 0));
}

int ev_backend_set(void *be, int fd, int old_events, int new_events)
{
    struct ev_poll *p = be;
    int i = p->slot[fd];
    (void)old_events;
    if (new_events == 0) {
        if (i < 0)
            return 0;
        p->pfds[i] = p->pfds[--p->n];
        p->slot[p->pfds[i].fd] = i;
        p->slot[fd] = -1;
        return 0;
    }
    if (i < 0) {
        i = p->n++;
        p->slot[fd] = i;
        p->pfds[i].fd = fd;
    }
    p->pfds[i].events = ev_poll_mask(new_events);
    p->pfds[i].revents = 0;
    return 0;
}

int ev_backend_poll(void *be, ev_loop *loop, int timeout_ms)
{
    struct ev_poll *p = be;
    int n = poll(p->pfds, (nfds_t)p->n, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    int found = 0;
    for (int i = 0; i < p->n && found < n; i++) {
        short re = p->pfds[i].revents;
        if (!re)
            continue;
        found++;
        int ev = 0;
        if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
            ev |= EV_READ;
        if (re & (POLLOUT | POLLHUP | POLLERR))
            ev |= EV_WRITE;
        ev_ready(loop, p->pfds[i].fd, ev);
    }
    return found;
}
