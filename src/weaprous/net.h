/*
 * net.h - socket helpers: non-blocking listeners, accept, outbound connect,
 * address formatting.  0 / -1 with errno, nothing logs.
 */
#ifndef WEAPROUS_NET_H
#define WEAPROUS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "weaprous/api.h"

WR_API_BEGIN

#define NET_ADDR_MAX 64   /* "[ipv6]:port" fits */

/* Parses a numeric IPv4/IPv6 address and port into *ss (no DNS). */
int net_parse_addr(const char *ip, int port, struct sockaddr_storage *ss,
                   socklen_t *len);
/* Resolves host (name or literal) and port with getaddrinfo: for start-up
 * and configuration loading only, never on a request path. */
int net_resolve(const char *host, int port, struct sockaddr_storage *ss,
                socklen_t *len);
/* Non-blocking, close-on-exec listening socket with SO_REUSEADDR. */
int net_listen(const char *ip, int port, int backlog);
/* Accepts one connection, non-blocking and close-on-exec; -1/EAGAIN when
 * none is pending. */
int net_accept(int lfd, struct sockaddr_storage *ss, socklen_t *len);
/* Starts a non-blocking connect; returns the fd (connection in progress or
 * done: wait for writability, then net_connect_result()). */
int net_connect(const struct sockaddr *sa, socklen_t len);
/* 0 when the pending connect succeeded, else -1 with errno from SO_ERROR. */
int net_connect_result(int fd);
int net_set_nonblock(int fd);
int net_set_nodelay(int fd);
/* "1.2.3.4" or "::1" into out[NET_ADDR_MAX]; *port if port != NULL. */
const char *net_addr_str(const struct sockaddr *sa, char *out, int *port);
/* Port a socket is bound to, or -1. */
int net_local_port(int fd);

WR_API_END

#endif
