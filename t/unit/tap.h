/*
 * tap.h - a tiny TAP producer for the C unit tests (header only).
 *
 *   plan_no_plan();  ok(cond, "name %d", i);  is_int(a, b, "name");
 *   is_str(a, b, "name");  return done_testing();
 *
 * guard_copy() places bytes right before an unreadable page so that a parser
 * reading one byte too far crashes instead of passing.
 */
#ifndef WR_TAP_H
#define WR_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int tap_count, tap_failed;

static inline void tap_vok(int cond, const char *fmt, va_list ap)
{
    tap_count++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - ", cond ? "" : "not ", tap_count);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
}

static inline int ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vok(cond, fmt, ap);
    va_end(ap);
    return cond;
}

static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

#define is_int(got, want, ...) do { \
        long long g_ = (long long)(got), w_ = (long long)(want); \
        if (!ok(g_ == w_, __VA_ARGS__)) \
            diag("  got %lld, want %lld", g_, w_); \
    } while (0)

#define is_str(got, want, ...) do { \
        const char *g_ = (got), *w_ = (want); \
        int same_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_; \
        if (!ok(same_, __VA_ARGS__)) \
            diag("  got \"%s\", want \"%s\"", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

#define is_mem(got, glen, want, wlen, ...) do { \
        size_t gl_ = (glen), wl_ = (wlen); \
        if (!ok(gl_ == wl_ && memcmp((got), (want), gl_) == 0, __VA_ARGS__)) \
            diag("  got \"%.*s\", want \"%.*s\"", (int)gl_, (const char *)(got), \
                 (int)wl_, (const char *)(want)); \
    } while (0)

static inline int done_testing(void)
{
    printf("1..%d\n", tap_count);
    if (tap_failed)
        diag("failed %d of %d", tap_failed, tap_count);
    return tap_failed ? 1 : 0;
}

/* Copies n bytes so that they end exactly at an inaccessible page.  Returns
 * the copy; free it with guard_free(copy, n). */
static inline char *guard_copy(const void *src, size_t n)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t span = ((n + (size_t)pg - 1) / (size_t)pg + 1) * (size_t)pg;
    char *base = mmap(NULL, span, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        abort();
    char *guard = base + span - (size_t)pg;
    mprotect(guard, (size_t)pg, PROT_NONE);
    memcpy(guard - n, src, n);
    return guard - n;
}

static inline void guard_free(char *copy, size_t n)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t span = ((n + (size_t)pg - 1) / (size_t)pg + 1) * (size_t)pg;
    char *guard = copy + n;
    munmap(guard + pg - span, span);
}

#endif
