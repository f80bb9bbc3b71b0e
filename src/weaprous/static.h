/*
 * static.h - the static file service (backend role, tracker status page,
 * peer UI).
 *
 * The assignment's rule: the MIME type of the request path decides the base
 * directory.  text/html comes from the www root, everything else from the
 * static root ("/css/x.css" -> static/css/x.css); "/" and any path ending in
 * "/" map to index.html in that directory of www.
 *
 * Safety: the request path is checked raw and decoded (raw dot-segments
 * already removed by the engine; no encoded slash or backslash, no
 * dot-file except ".well-known" (so no decoded ".."), valid UTF-8, no
 * control bytes) and then opened beneath a directory fd held since
 * static_new(), one component at a time with O_NOFOLLOW.  A symlink is
 * followed only by that same walk: relative targets that stay inside the
 * root are served, absolute targets and targets that climb out are refused
 * (403).  Why not realpath(): it resolves by name, so a link swapped between
 * the check and the open escapes; the openat walk never lets the kernel
 * follow a link and never leaves the directory it holds.
 *
 * HTTP: GET and HEAD (405 otherwise, with Allow); ETag ("size-mtime" in hex,
 * mtime in ns, strong; no inode so that copies agree) and Last-Modified; If-Match / If-Unmodified-Since -> 412;
 * If-None-Match (weak comparison, lists, "*") else If-Modified-Since -> 304;
 * one byte range -> 206, unsatisfiable -> 416 with "Content-Range: bytes
 * *\/size"; several ranges -> 200 with the whole file (no multipart:
 * browsers and media players ask for one range); If-Range (strong ETag or
 * exact date); FILE.gz sent instead of FILE when the client accepts gzip and
 * FILE.gz is a regular file not older than FILE (nginx's gzip_static).
 * Cache-Control: html (www) gets "no-cache" (always revalidated: pages change
 * with the assets they reference), static assets "public, max-age=3600";
 * both configurable.  Files come from an open-file cache (small ones
 * from a copy in memory, others streamed by http_txn_send_fd()): a file
 * changed, replaced, deleted, or swapped for a symlink out of the root is
 * noticed after at most open_file_cache_valid_ms.  Inside that window a
 * large file rewritten in place may be sent with its old length and ETag
 * but new bytes, as with nginx's open_file_cache: replace files by rename
 * for atomic updates.
 */
#ifndef WEAPROUS_STATIC_H
#define WEAPROUS_STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "weaprous/api.h"
#include "weaprous/server.h"

WR_API_BEGIN

#define STATIC_MAX_PATH     4096  /* decoded request path longer -> 414 */
#define STATIC_MAX_DEPTH    32    /* directory levels below a root -> 404 */
#define STATIC_MAX_LINKS    16    /* symlinks followed per lookup -> 403 */
#define STATIC_ETAG_MAX     64    /* room for an ETag with quotes and NUL */
#define STATIC_MAX_RANGE_HDR 1024 /* longer Range values are ignored (200) */
#define STATIC_DEFAULT_MAX_AGE 3600
#define STATIC_INDEX        "index.html"

typedef struct static_ctx static_ctx;

struct static_options {
    unsigned    asset_max_age;      /* Cache-Control max-age for static/ */
    const char *html_cache_control; /* for pages from www/; "no-cache" */
    bool        gzip_static;        /* look for FILE.gz (default true) */
    bool        error_pages;        /* answer 403/404/405 with www/NNN.html
                                       when it exists (default true) */
    bool        fallthrough;        /* no such file and methods other than
                                       GET/HEAD: return STATIC_DECLINED and
                                       leave the txn to the caller */
    unsigned    open_file_cache_valid_ms; /* an opened file is reused this
                                       long, then revalidated by the same
                                       safe walk (default 1000); 0: no
                                       cache, every request opens its file */
    unsigned    open_file_cache_max;   /* entries, least recently used
                                       evicted (default 1024, at most a
                                       quarter of RLIMIT_NOFILE); 0: none */
};

enum static_result {
    STATIC_DONE,      /* the transaction was completed (any status) */
    STATIC_DECLINED   /* not answered (fallthrough): caller completes it */
};

/* Fills o with the defaults above. */
void static_options_init(struct static_options *o);

/* Opens both roots (either may be NULL: requests for it get 404).  The
 * directories are held open, so later chdir() or daemon() does not matter;
 * a reload makes a new context.  opt may be NULL (defaults; it is copied,
 * html_cache_control must outlive the context).  NULL with errno when a
 * root cannot be opened as a directory. */
static_ctx *static_new(const char *www_dir, const char *static_dir,
                       const struct static_options *opt);
void static_free(static_ctx *ctx);

/* Serves the request's own path.  Returns STATIC_DONE after completing the
 * transaction, or STATIC_DECLINED (only with opt.fallthrough) for a file
 * that does not exist or a method other than GET/HEAD. */
enum static_result static_serve(static_ctx *ctx, http_txn *t);

/* Serves the page at path (e.g. "/index.html", "/401.html") with the given
 * status whatever the method, without conditionals, ranges or caching
 * (Cache-Control: no-store): for login answers and error pages.  Returns
 * STATIC_DECLINED, txn untouched, when the page does not exist. */
enum static_result static_serve_page(static_ctx *ctx, http_txn *t,
                                     const char *path, int status);

/* --- pure helpers (no I/O except static_open_beneath) --- */

/* Content-Type for the extension of path (case-insensitive), with
 * "; charset=utf-8" for text types; "application/octet-stream" when
 * unknown.  Never NULL. */
const char *static_mime_type(const char *path);
/* True when that type should come from www/ (text/html). */
bool static_mime_is_html(const char *content_type);
/* True for types worth a precompressed variant (text, js, json, svg ...). */
bool static_mime_compressible(const char *content_type);

/* Checks the raw request-target before decoding: encoded slash or
 * backslash (%2f, %5c) -> 403, %00 -> 400.  Raw "." and ".." segments are
 * not its business: the engine removes them from the path it hands on.
 * An absolute-form target is checked from its path.  Returns 0 or status. */
int static_target_check(const char *target);
/* Checks a decoded path: must start with "/" (400), no control bytes or
 * invalid UTF-8 (400), no backslash (403), no segment starting with "."
 * except ".well-known" (403, covers "." and ".."), at most STATIC_MAX_PATH
 * bytes (414).  Returns 0 or the status. */
int static_path_check(const char *path);

/* Opens rel (components separated by "/", empty ones skipped) beneath the
 * directory rootfd, never following a symlink out of it (see above).  On 0
 * *fd is the opened object (any type, O_RDONLY|O_NONBLOCK, close-on-exec)
 * and *st its fstat.  Else returns 403 (escape, loop, permission), 404 (no
 * such file, not a directory, too deep, name too long) or 503 (out of fds). */
int static_open_beneath(int rootfd, const char *rel, int *fd, struct stat *st);

/* Strong ETag of a file, quoted, into out; returns out. */
char *static_etag(const struct stat *st, char out[STATIC_ETAG_MAX]);
/* If-None-Match / If-Match evaluation: true when the field value (a list of
 * entity-tags, or "*") matches etag.  weak selects weak comparison (W/
 * ignored on both sides) else strong (a W/ tag never matches).  A malformed
 * list matches nothing. */
bool static_etag_match(const char *field, const char *etag, bool weak);

enum static_range_kind {
    STATIC_RANGE_NONE,         /* absent, malformed or several: send 200 */
    STATIC_RANGE_OK,           /* one satisfiable range: 206 */
    STATIC_RANGE_UNSATISFIABLE /* 416 with Content-Range: bytes *\/size */
};
/* Parses a Range value ("bytes=a-b", "bytes=a-", "bytes=-n") against a
 * representation of size bytes; on STATIC_RANGE_OK *first and *len give the
 * bytes to send.  Numbers beyond int64 saturate (so a huge first is
 * unsatisfiable and a huge last means "to the end"). */
enum static_range_kind static_range_parse(const char *value, int64_t size,
                                          int64_t *first, int64_t *len);

/* True when Accept-Encoding allows gzip: "gzip" or "x-gzip" with q > 0, or
 * "*" with q > 0 and no explicit gzip entry.  NULL -> false. */
bool static_accepts_gzip(const char *accept_encoding);

WR_API_END

#endif
