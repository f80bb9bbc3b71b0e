/*
 * static_cache.h - the static file service's open-file cache (private to
 * static.c; not installed).
 *
 * Like nginx's open_file_cache or lighttpd's stat cache: an entry holds an
 * open regular file found by static_open_beneath() under one root, its
 * stat, and its ETag and Last-Modified strings, keyed by (root, path below
 * the root).  An entry is trusted for valid_ms; after that the next lookup
 * walks the path again with the same safe walk and keeps the entry only if
 * it still names the same file (device, inode, size, mtime, ctime).  So a
 * file changed, replaced, deleted or swapped for a symlink out of the root
 * is seen at most valid_ms late, and never served from outside the root.
 * Files up to STATIC_CACHE_DATA_MAX also keep their bytes (within
 * STATIC_CACHE_DATA_BUDGET per cache), read once at open: serving them then
 * costs no file system call at all, and an in-place rewrite inside the
 * window serves the old bytes whole instead of a mix.
 *
 * Entries are reference counted: the table holds one reference, and every
 * response streaming from the fd holds one (released by the engine through
 * http_txn_send_fd()), so an entry evicted or replaced while a response
 * still reads it keeps its fd open until that response ends.  Entries do
 * not point back to the cache: they may outlive it (a reload while a large
 * file streams).  Single-threaded, like the rest of the reactor.
 */
#ifndef WR_STATIC_CACHE_H
#define WR_STATIC_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "weaprous/static.h"

#define STATIC_CACHE_DEFAULT_MAX      1024
#define STATIC_CACHE_DEFAULT_VALID_MS 1000
#define STATIC_CACHE_FD_SHARE         4     /* at most 1/4 of RLIMIT_NOFILE */
#define STATIC_LASTMOD_MAX            30    /* IMF-fixdate and NUL */
#define STATIC_CACHE_DATA_MAX   (16u << 10)  /* files this small are kept in
                                                memory as well */
#define STATIC_CACHE_DATA_BUDGET (8u << 20)  /* total bytes kept so */

struct static_cache;

struct static_entry {
    struct static_entry *prev, *next;   /* LRU list, most recent first */
    struct static_entry *hnext;         /* hash chain */
    uint32_t     hash;
    unsigned     refs;
    bool         in_table;
    int          root;                  /* the root fd it was found under */
    int          fd;                    /* open regular file */
    char        *data;                  /* its st_size bytes, or NULL */
    struct stat  st;
    uint64_t     checked_ms;            /* last (re)validation */
    char         etag[STATIC_ETAG_MAX];
    char         last_modified[STATIC_LASTMOD_MAX];
    size_t       rel_len;
    char         rel[];                 /* path below the root */
};

/* A cache of at most max entries (capped by the fd limit) trusted for
 * valid_ms each.  NULL with errno ENOMEM. */
struct static_cache *static_cache_new(size_t max, unsigned valid_ms);
/* Drops the table's references; entries still in use live on until their
 * last user releases them. */
void static_cache_free(struct static_cache *c);
/* Number of entries in the table (for tests). */
size_t static_cache_count(const struct static_cache *c);

/* Finds or opens the regular file rel under rootfd.  On 0, *out holds a
 * reference for the caller (static_entry_unref() it, or hand it to the
 * engine with static_entry_release as release).  Else an HTTP status: 403,
 * 404 (also for a directory: the caller may redirect), 500, 503.  c NULL:
 * no caching, a fresh entry per call. */
int static_cache_open(struct static_cache *c, int rootfd, const char *rel,
                      uint64_t now_ms, struct static_entry **out);
void static_entry_unref(struct static_entry *e);
/* http_fd_release_fn for http_txn_send_fd(): arg is the entry. */
void static_entry_release(int fd, void *arg);

#endif
