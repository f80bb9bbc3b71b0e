/* net.c - socket helpers.  See weaprous/net.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weaprous/net.h"

int net_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int net_set_nodelay(int fd)
{
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int net_parse_addr(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (port < 0 || port > 65535) {
        errno = EINVAL;
        return -1;
    }
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (!ip || !*ip || strcmp(ip, "*") == 0)
        ip = "0.0.0.0";
    if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof(*in4);
        return 0;
    }
    char tmp[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(ip);
    if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']' && n - 2 < sizeof(tmp)) {
        memcpy(tmp, ip + 1, n - 2);
        tmp[n - 2] = '\0';
        ip = tmp;
    }
    if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*in6);
        return 0;
    }
    errno = EINVAL;
    return -1;
}

int net_resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    if (net_parse_addr(host, port, ss, len) == 0)
        return 0;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0 || !res) {
        errno = rc == EAI_SYSTEM ? errno : ENOENT;
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int net_listen(const char *ip, int port, int backlog)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (net_parse_addr(ip, port, &ss, &len) < 0)
        return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (net_set_nonblock(fd) < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 ||
        listen(fd, backlog > 0 ? backlog : 511) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int net_accept(int lfd, struct sockaddr_storage *ss, socklen_t *len)
{
    *len = sizeof(*ss);
#ifdef HAVE_ACCEPT4
    return accept4(lfd, (struct sockaddr *)ss, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = accept(lfd, (struct sockaddr *)ss, len);
    if (fd >= 0 && net_set_nonblock(fd) < 0) {
        close(fd);
        return -1;
    }
    return fd;
#endif
}

int net_connect(const struct sockaddr *sa, socklen_t len)
{
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    /* one system call instead of socket + three fcntl */
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
#else
    int fd = socket(sa->sa_family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (net_set_nonblock(fd) < 0)
        goto fail;
#endif
    if (sa->sa_family != AF_UNIX)
        net_set_nodelay(fd);
    if (connect(fd, sa, len) < 0 && errno != EINPROGRESS)
        goto fail;
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int net_connect_result(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -1;
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

const char *net_addr_str(const struct sockaddr *sa, char *out, int *port)
{
    out[0] = '\0';
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in4->sin_addr, out, NET_ADDR_MAX);
        if (port)
            *port = ntohs(in4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, out, NET_ADDR_MAX);
        if (port)
            *port = ntohs(in6->sin6_port);
    } else {
        snprintf(out, NET_ADDR_MAX, "unix");
        if (port)
            *port = 0;
    }
    return out;
}

int net_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int port = -1;
    char tmp[NET_ADDR_MAX];
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    net_addr_str((struct sockaddr *)&ss, tmp, &port);
    return port;
}
