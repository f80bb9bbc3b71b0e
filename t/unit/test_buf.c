/*
 * test_buf.c - capped byte buffers (src/buf.c): the cap is hard and a
 * refused append changes nothing; consume/compact keep the bytes; printf
 * grows; read_fd/write_fd move bytes through a pipe.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "weaprous/buf.h"
#include "tap.h"

#define BIG 100000

/* Snapshot of everything an append must leave untouched when it fails. */
struct snap {
    char   *data;
    size_t  off, len, size;
    char    bytes[64];
};

static void snap_take(const buf *b, struct snap *s)
{
    s->data = b->data;
    s->off = b->off;
    s->len = b->len;
    s->size = b->size;
    memcpy(s->bytes, buf_ptr(b), b->len < sizeof(s->bytes) ? b->len : sizeof(s->bytes));
}

static int snap_same(const buf *b, const struct snap *s)
{
    size_t n = b->len < sizeof(s->bytes) ? b->len : sizeof(s->bytes);
    return b->data == s->data && b->off == s->off && b->len == s->len &&
           b->size == s->size && memcmp(s->bytes, buf_ptr(b), n) == 0;
}

static void test_cap(void)
{
    buf b;
    struct snap s;
    buf_init(&b, 10);
    is_int(buf_len(&b), 0, "new buffer is empty");
    is_int(buf_room(&b), 10, "room == cap");
    is_int(buf_append(&b, "", 0), 0, "empty append is fine");
    is_int(buf_append(&b, "abcdef", 6), 0, "append 6 of 10");
    snap_take(&b, &s);
    errno = 0;
    is_int(buf_append(&b, "ghijk", 5), -1, "append over the cap fails");
    is_int(errno, ENOBUFS, "  with ENOBUFS");
    ok(snap_same(&b, &s), "  and changes nothing");
    errno = 0;
    is_int(buf_puts(&b, "12345"), -1, "puts over the cap fails");
    ok(snap_same(&b, &s), "  and changes nothing");
    errno = 0;
    ok(buf_space(&b, 5) == NULL && errno == ENOBUFS, "buf_space over the cap: NULL/ENOBUFS");
    is_int(buf_printf(&b, "%s", "xyz12"), -1, "printf over the cap fails");
    ok(snap_same(&b, &s), "  and changes nothing");
    is_int(buf_append(&b, "ghij", 4), 0, "append exactly to the cap");
    is_int(buf_room(&b), 0, "  room 0");
    is_mem(buf_ptr(&b), buf_len(&b), "abcdefghij", 10, "  content");
    ok(buf_append(&b, "k", 1) < 0 && errno == ENOBUFS, "one more byte refused");
    buf_free(&b);

    /* a big printf that lands exactly on the cap is not over it */
    char want[600];
    memset(want, 'p', sizeof(want) - 1);
    want[sizeof(want) - 1] = '\0';
    buf_init(&b, 599);
    is_int(buf_printf(&b, "%s", want), 0, "printf of 599 bytes into a cap of 599");
    is_int(buf_len(&b), 599, "  fills it");
    buf_free(&b);

    buf_init(&b, 0);
    ok(buf_append(&b, "a", 1) < 0 && errno == ENOBUFS, "cap 0 accepts nothing");
    buf_free(&b);
}

static void test_consume(void)
{
    buf b;
    buf_init(&b, 4096);
    char chunk[1000];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)('a' + i % 26);
    buf_append(&b, chunk, sizeof(chunk));
    buf_consume(&b, 10);
    is_int(buf_len(&b), 990, "consume 10 of 1000");
    is_mem(buf_ptr(&b), 5, chunk + 10, 5, "  front moved");
    /* keep consuming and appending: the tail compacts instead of growing */
    size_t max_size = 0;
    int good = 1;
    for (int round = 0; round < 200; round++) {
        buf_consume(&b, 900);
        if (buf_append(&b, chunk, 900) < 0)
            good = 0;
        if (b.size > max_size)
            max_size = b.size;
    }
    ok(good, "200 rounds of consume 900 / append 900 within a cap of 4096");
    ok(max_size <= 4096, "  allocation never exceeds the cap (%zu)", max_size);
    is_int(buf_len(&b), 990, "  length stays 990");
    /* content check: the last 900 bytes are chunk[0..900) */
    is_mem(buf_ptr(&b) + 90, 900, chunk, 900, "  bytes intact after compaction");
    buf_consume(&b, 5000);
    is_int(buf_len(&b), 0, "consume more than held empties");
    is_int(b.off, 0, "  and rewinds");
    buf_append(&b, "xy", 2);
    buf_reset(&b);
    is_int(buf_len(&b), 0, "reset empties");
    ok(b.data != NULL, "  keeps the allocation");

    /* space/commit */
    char *p = buf_space(&b, 3);
    ok(p != NULL, "buf_space(3)");
    memcpy(p, "123", 3);
    buf_commit(&b, 3);
    is_mem(buf_ptr(&b), buf_len(&b), "123", 3, "commit makes the bytes visible");
    buf_free(&b);
    ok(b.data == NULL && b.len == 0, "free clears");
    buf_free(&b);   /* a second free must see the cleared state and do nothing */
    ok(b.data == NULL && b.len == 0 && b.off == 0 && b.size == 0,
       "double free is harmless");
}

static void test_truncate(void)
{
    buf b;
    buf_init(&b, 64);
    buf_append(&b, "0123456789", 10);
    buf_consume(&b, 2);
    size_t mark = buf_len(&b);
    buf_append(&b, "abc", 3);
    buf_truncate(&b, mark);
    is_mem(buf_ptr(&b), buf_len(&b), "23456789", 8, "truncate undoes the append after a mark");
    buf_truncate(&b, 100);
    is_int(buf_len(&b), 8, "truncate to more than held changes nothing");
    buf_truncate(&b, 0);
    ok(buf_len(&b) == 0 && b.off == 0, "truncate to 0 empties and rewinds");
    buf_free(&b);
}

static void test_printf(void)
{
    buf b;
    buf_init(&b, 1 << 20);
    is_int(buf_printf(&b, "%d-%s", 42, "x"), 0, "small printf");
    is_mem(buf_ptr(&b), buf_len(&b), "42-x", 4, "  content");
    char big[5000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    is_int(buf_printf(&b, "[%s]", big), 0, "printf of 5001 bytes grows the buffer");
    is_int(buf_len(&b), 4 + 5001, "  length");
    ok(buf_ptr(&b)[4] == '[' && buf_ptr(&b)[4 + 5000] == ']', "  framing intact");
    int many = 1;
    for (int i = 0; i < 2000; i++)
        many &= buf_printf(&b, "%04d\n", i) == 0;
    ok(many, "2000 small printfs");
    is_int(buf_len(&b), 5005 + 2000 * 5, "  total length");
    is_mem(buf_ptr(&b) + 5005 + 1999 * 5, 5, "1999\n", 5, "  last line");
    buf_free(&b);
}

static void test_fd(void)
{
    int p[2];
    if (pipe(p) < 0) {
        diag("pipe: %s", strerror(errno));
        return;
    }
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    buf out, in;
    buf_init(&out, 1 << 20);
    buf_init(&in, 1 << 20);
    static char data[BIG];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7 + 3);
    buf_append(&out, data, sizeof(data));
    is_int(buf_write_fd(&in, p[1]), 0, "write_fd of an empty buffer writes 0");
    /* move everything through the pipe in both directions' chunks */
    int stuck = 0;
    while ((buf_len(&out) || buf_len(&in) < BIG) && stuck < 1000) {
        ssize_t w = buf_write_fd(&out, p[1]);
        ssize_t r = buf_read_fd(&in, p[0], 0);
        if (w <= 0 && r <= 0)
            stuck++;
    }
    is_int(buf_len(&out), 0, "write_fd drained the output buffer");
    is_int(buf_len(&in), BIG, "read_fd collected %d bytes", BIG);
    ok(buf_len(&in) == BIG && memcmp(buf_ptr(&in), data, BIG) == 0, "  identical bytes");
    errno = 0;
    ok(buf_read_fd(&in, p[0], 0) == -1 && errno == EAGAIN, "empty pipe: -1/EAGAIN");

    /* max limits one read; the cap limits everything */
    buf small;
    buf_init(&small, 8);
    if (write(p[1], "0123456789", 10) != 10)
        diag("write failed");
    is_int(buf_read_fd(&small, p[0], 3), 3, "read_fd honours max");
    is_int(buf_read_fd(&small, p[0], 0), 5, "read_fd stops at the cap");
    errno = 0;
    ok(buf_read_fd(&small, p[0], 0) == -1 && errno == ENOBUFS, "full buffer: -1/ENOBUFS");
    is_mem(buf_ptr(&small), buf_len(&small), "01234567", 8, "  content");
    buf_consume(&small, 8);
    is_int(buf_read_fd(&small, p[0], 0), 2, "after consume the rest is read");
    close(p[1]);
    is_int(buf_read_fd(&small, p[0], 0), 0, "EOF: 0");
    close(p[0]);
    buf_free(&small);
    buf_free(&in);
    buf_free(&out);
}

int main(void)
{
    test_cap();
    test_consume();
    test_truncate();
    test_printf();
    test_fd();
    return done_testing();
}
