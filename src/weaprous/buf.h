/*
 * buf.h - byte buffers with a hard cap.
 *
 * Data lives in [data + off, data + off + len).  Consuming from the front is
 * O(1); the buffer compacts itself when it needs room.  Every buffer has a
 * cap: an append that would exceed it fails with ENOBUFS and changes nothing,
 * so each caller maps "full" to its own outcome (413, 431, back-pressure...).
 */
#ifndef WEAPROUS_BUF_H
#define WEAPROUS_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include "weaprous/api.h"

WR_API_BEGIN

typedef struct buf {
    char   *data;
    size_t  off;   /* first unread byte */
    size_t  len;   /* bytes held */
    size_t  size;  /* allocated bytes */
    size_t  cap;   /* hard limit on len */
} buf;

void buf_init(buf *b, size_t cap);
void buf_free(buf *b);
/* Drops the content, keeps the allocation. */
void buf_reset(buf *b);

static inline char *buf_ptr(const buf *b) { return b->data + b->off; }
static inline size_t buf_len(const buf *b) { return b->len; }
static inline size_t buf_room(const buf *b) { return b->cap - b->len; }

/* Makes room for n more bytes (compacting or growing); returns a pointer to
 * the free space, or NULL with errno ENOBUFS (cap) or ENOMEM. */
char *buf_space(buf *b, size_t n);
/* Marks n bytes written into the space returned by buf_space(). */
void buf_commit(buf *b, size_t n);

int buf_append(buf *b, const void *p, size_t n);
int buf_puts(buf *b, const char *s);
int buf_printf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Removes n bytes from the front. */
void buf_consume(buf *b, size_t n);
/* Drops bytes from the end so that len remain (nothing when len >= the
 * bytes held): undoes appends made since buf_len() was len. */
void buf_truncate(buf *b, size_t len);

/* Reads once from fd into the buffer, at most `max` bytes (0: up to the cap).
 * Returns bytes read, 0 on EOF, -1 with errno (EAGAIN, ENOBUFS when full...). */
ssize_t buf_read_fd(buf *b, int fd, size_t max);
/* Writes once from the front of the buffer; returns bytes written or -1. */
ssize_t buf_write_fd(buf *b, int fd);

WR_API_END

#endif
