/*
 * static_cache.c - the open-file cache of the static file service (see
 * static_cache.h for the contract): a chained hash table over (root, path)
 * plus an LRU list, bounded in entries, with reference-counted entries.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "static_cache.h"
#include "weaprous/http.h"

#if defined(__APPLE__)
#define st_mtim st_mtimespec
#define st_ctim st_ctimespec
#endif

#define CACHE_MIN_BUCKETS 16

struct static_cache {
    struct static_entry **buckets;
    size_t      nbuckets;           /* a power of two, >= max */
    size_t      count, max;
    size_t      data_bytes;         /* held by entries in the table */
    unsigned    valid_ms;
    struct static_entry *head, *tail;   /* LRU: head most recent */
};

/* The cap on entries: each holds an fd, and a cache that ate the fd limit
 * would make the server refuse connections. */
static size_t cache_cap(size_t max)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
        && max > rl.rlim_cur / STATIC_CACHE_FD_SHARE)
        max = rl.rlim_cur / STATIC_CACHE_FD_SHARE;
    return max ? max : 1;
}

struct static_cache *static_cache_new(size_t max, unsigned valid_ms)
{
    struct static_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->max = cache_cap(max);
    c->valid_ms = valid_ms;
    c->nbuckets = CACHE_MIN_BUCKETS;
    while (c->nbuckets < c->max)
        c->nbuckets *= 2;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    return c;
}

size_t static_cache_count(const struct static_cache *c)
{
    return c ? c->count : 0;
}

void static_entry_unref(struct static_entry *e)
{
    if (--e->refs > 0)
        return;
    close(e->fd);
    free(e->data);
    free(e);
}

void static_entry_release(int fd, void *arg)
{
    (void)fd;
    static_entry_unref(arg);
}

/* FNV-1a over the path, seeded with the root fd. */
static uint32_t cache_hash(int root, const char *rel, size_t len)
{
    uint32_t h = 2166136261u ^ (uint32_t)root;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)rel[i];
        h *= 16777619u;
    }
    return h;
}

static struct static_entry **cache_slot(struct static_cache *c, uint32_t hash)
{
    return &c->buckets[hash & (c->nbuckets - 1)];
}

static struct static_entry *cache_find(struct static_cache *c, int root,
                                       const char *rel, size_t len, uint32_t hash)
{
    for (struct static_entry *e = *cache_slot(c, hash); e; e = e->hnext)
        if (e->hash == hash && e->root == root && e->rel_len == len
            && memcmp(e->rel, rel, len) == 0)
            return e;
    return NULL;
}

static void lru_remove(struct static_cache *c, struct static_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(struct static_cache *c, struct static_entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

/* Takes e out of the table and drops the table's reference: the fd closes
 * now, or when the last response reading it ends. */
static void cache_unlink(struct static_cache *c, struct static_entry *e)
{
    struct static_entry **pp = cache_slot(c, e->hash);
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_remove(c, e);
    e->in_table = false;
    c->count--;
    if (e->data)
        c->data_bytes -= (size_t)e->st.st_size;
    static_entry_unref(e);
}

static void cache_insert(struct static_cache *c, struct static_entry *e)
{
    while (c->count >= c->max && c->tail)
        cache_unlink(c, c->tail);
    struct static_entry **slot = cache_slot(c, e->hash);
    e->hnext = *slot;
    *slot = e;
    lru_push(c, e);
    e->in_table = true;
    e->refs++;
    c->count++;
}

void static_cache_free(struct static_cache *c)
{
    if (!c)
        return;
    while (c->head)
        cache_unlink(c, c->head);
    free(c->buckets);
    free(c);
}

/* Opens rel under root with the safe walk; only regular files pass (a
 * directory is 404, FIFOs and devices 403).  0 or a status. */
static int entry_open(int root, const char *rel, int *fd, struct stat *st)
{
    int status = static_open_beneath(root, rel, fd, st);
    if (status)
        return status;
    if (S_ISREG(st->st_mode))
        return 0;
    close(*fd);
    return S_ISDIR(st->st_mode) ? 404 : 403;
}

/* Out of fds: give back the older half of the cache and try once more. */
static int cache_open_file(struct static_cache *c, int root, const char *rel,
                           int *fd, struct stat *st)
{
    int status = entry_open(root, rel, fd, st);
    if (status != 503 || !c || c->count == 0)
        return status;
    for (size_t n = (c->count + 1) / 2; n > 0 && c->tail; n--)
        cache_unlink(c, c->tail);
    return entry_open(root, rel, fd, st);
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Still the file we cached?  ctime too: an in-place rewrite that restores
 * the size and mtime still moves ctime. */
static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino
           && a->st_size == b->st_size && same_time(&a->st_mtim, &b->st_mtim)
           && same_time(&a->st_ctim, &b->st_ctim);
}

/* A new entry with one reference (the caller's), or NULL. */
static struct static_entry *entry_new(int root, const char *rel, size_t len,
                                      uint32_t hash, int fd, const struct stat *st)
{
    struct static_entry *e = malloc(sizeof *e + len + 1);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->hash = hash;
    e->refs = 1;
    e->root = root;
    e->fd = fd;
    e->st = *st;
    static_etag(st, e->etag);
    http_date_format(st->st_mtime, e->last_modified);
    e->rel_len = len;
    memcpy(e->rel, rel, len + 1);
    return e;
}

/* Keeps a small file's bytes in e when the budget allows.  A short read
 * (the file shrank since the stat) keeps none: the fd path copes. */
static void cache_load_data(struct static_cache *c, struct static_entry *e)
{
    size_t n = (size_t)e->st.st_size;
    if (n == 0 || n > STATIC_CACHE_DATA_MAX
        || c->data_bytes + n > STATIC_CACHE_DATA_BUDGET)
        return;
    char *d = malloc(n);
    if (!d)
        return;
    if (pread(e->fd, d, n, 0) != (ssize_t)n) {
        free(d);
        return;
    }
    e->data = d;
    c->data_bytes += n;
}

/* Revalidates a stale entry e: 0 and a reference to e for the caller when
 * it still names the same file; else e leaves the table and the walk's
 * fresh result is in *fd / *st (-1) or its status is returned. */
static int cache_revalidate(struct static_cache *c, struct static_entry *e,
                            uint64_t now_ms, int *fd, struct stat *st)
{
    e->refs++;      /* the shedding in cache_open_file() may evict e */
    int status = cache_open_file(c, e->root, e->rel, fd, st);
    if (status == 0 && e->in_table && same_file(&e->st, st)) {
        close(*fd);
        e->checked_ms = now_ms;
        return 0;
    }
    if (e->in_table)
        cache_unlink(c, e);
    static_entry_unref(e);
    return status ? status : -1;
}

int static_cache_open(struct static_cache *c, int rootfd, const char *rel,
                      uint64_t now_ms, struct static_entry **out)
{
    size_t len = strlen(rel);
    uint32_t hash = cache_hash(rootfd, rel, len);
    struct static_entry *e = c ? cache_find(c, rootfd, rel, len, hash) : NULL;
    int fd = -1, status = 0;
    struct stat st;
    if (e && now_ms - e->checked_ms < c->valid_ms)
        e->refs++;
    else if (e)
        status = cache_revalidate(c, e, now_ms, &fd, &st);
    if (e && status == 0) {
        lru_remove(c, e);
        lru_push(c, e);
        *out = e;
        return 0;
    }
    if (status > 0)
        return status;
    if (!e && (status = cache_open_file(c, rootfd, rel, &fd, &st)) != 0)
        return status;
    if (!(e = entry_new(rootfd, rel, len, hash, fd, &st))) {
        close(fd);
        return 503;
    }
    e->checked_ms = now_ms;
    if (c) {
        cache_insert(c, e);
        cache_load_data(c, e);
    }
    *out = e;
    return 0;
}
