/* buf.c - capped byte buffers.  See weaprous/buf.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weaprous/buf.h"

#define BUF_MIN_ALLOC 1024

void buf_init(buf *b, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->cap = cap;
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->size = 0;
}

void buf_reset(buf *b)
{
    b->off = b->len = 0;
}

char *buf_space(buf *b, size_t n)
{
    if (n > b->cap - b->len) {
        errno = ENOBUFS;
        return NULL;
    }
    if (b->off + b->len + n <= b->size)
        return b->data + b->off + b->len;
    /* Compact first when that alone makes room and the move is cheap
     * relative to what was consumed. */
    if (b->len + n <= b->size && b->off >= b->len) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        return b->data + b->len;
    }
    size_t want = b->len + n, size = b->size ? b->size : BUF_MIN_ALLOC;
    while (size < want)
        size *= 2;
    if (size > b->cap && want <= b->cap)
        size = b->cap > BUF_MIN_ALLOC ? b->cap : BUF_MIN_ALLOC;
    if (size < want)
        size = want;
    char *d = malloc(size);
    if (!d) {
        errno = ENOMEM;
        return NULL;
    }
    if (b->len)
        memcpy(d, b->data + b->off, b->len);
    free(b->data);
    b->data = d;
    b->size = size;
    b->off = 0;
    return d + b->len;
}

void buf_commit(buf *b, size_t n)
{
    b->len += n;
}

int buf_append(buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    char *dst = buf_space(b, n);
    if (!dst)
        return -1;
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

int buf_puts(buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_vprintf(buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof(small))
        return buf_append(b, small, (size_t)n);
    /* n bytes must fit under the cap; vsnprintf also writes a NUL, which
     * may fall past the cap: then format aside and copy the n bytes. */
    size_t len = (size_t)n;
    char *dst = buf_space(b, len);
    if (!dst)
        return -1;
    if (b->size - b->off - b->len > len) {
        vsnprintf(dst, len + 1, fmt, ap);
    } else {
        char *tmp = malloc(len + 1);
        if (!tmp)
            return -1;
        vsnprintf(tmp, len + 1, fmt, ap);
        memcpy(dst, tmp, len);
        free(tmp);
    }
    b->len += (size_t)n;
    return 0;
}

int buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

void buf_consume(buf *b, size_t n)
{
    if (n >= b->len) {
        b->off = b->len = 0;
        return;
    }
    b->off += n;
    b->len -= n;
}

void buf_truncate(buf *b, size_t len)
{
    if (len < b->len)
        b->len = len;
    if (b->len == 0)
        b->off = 0;
}

ssize_t buf_read_fd(buf *b, int fd, size_t max)
{
    size_t want = max ? max : 16384;
    if (want > buf_room(b))
        want = buf_room(b);
    if (want == 0) {
        errno = ENOBUFS;
        return -1;
    }
    /* Use the free tail as it is when it is large enough, else grow. */
    size_t tail = b->size - b->off - b->len;
    if (tail < want && tail < 4096) {
        if (!buf_space(b, want))
            return -1;
        tail = b->size - b->off - b->len;
    }
    if (want > tail)
        want = tail;
    ssize_t n = read(fd, b->data + b->off + b->len, want);
    if (n > 0)
        b->len += (size_t)n;
    return n;
}

ssize_t buf_write_fd(buf *b, int fd)
{
    if (b->len == 0)
        return 0;
    ssize_t n = write(fd, b->data + b->off, b->len);
    if (n > 0)
        buf_consume(b, (size_t)n);
    return n;
}
