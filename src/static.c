/*
 * static.c - the static file service on the HTTP engine: maps a request to
 * a file under www/ or static/ (static.h says the rules), evaluates the
 * conditional and range fields, and sends the file (http_txn_send_fd()).
 *
 * Opened files are kept in an open-file cache (static_cache.h) for
 * opt.open_file_cache_valid_ms, as nginx's open_file_cache does: a hit
 * costs no system call besides the body's pread or sendfile.  A file
 * changed on disk is served fresh once its entry is revalidated (by the
 * same safe walk); 0 turns the cache off and each request opens its file.
 * Small files come from the entry's copy in memory (no call at all).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "static_cache.h"
#include "weaprous/http.h"
#include "weaprous/static.h"

#if defined(__APPLE__)
#define st_mtim st_mtimespec
#endif

#define STATIC_CC_MAX 48    /* "public, max-age=" and a number */
#define STATIC_REL_MAX (STATIC_MAX_PATH + sizeof STATIC_INDEX + 4)
#define STATIC_LOCATION_MAX (STATIC_MAX_PATH + 2)

struct static_ctx {
    int www_fd;                 /* -1 when there is no www root */
    int static_fd;              /* -1 when there is no static root */
    struct static_options opt;
    struct static_cache *cache; /* NULL when disabled */
    char asset_cc[STATIC_CC_MAX];   /* Cache-Control of static assets */
};

/* A file chosen for a request. */
struct static_file {
    struct static_entry *ent;    /* the open file; a reference we hold */
    const char  *type;           /* Content-Type */
    bool         html;           /* from www/ */
    bool         gzip;           /* ent is FILE.gz */
    bool         vary;           /* a gzip variant may exist */
    char         rel[STATIC_REL_MAX]; /* path below the root */
};

void static_options_init(struct static_options *o)
{
    memset(o, 0, sizeof *o);
    o->asset_max_age = STATIC_DEFAULT_MAX_AGE;
    o->html_cache_control = "no-cache";
    o->gzip_static = true;
    o->error_pages = true;
    o->open_file_cache_valid_ms = STATIC_CACHE_DEFAULT_VALID_MS;
    o->open_file_cache_max = STATIC_CACHE_DEFAULT_MAX;
}

static int static_open_root(const char *dir)
{
    if (!dir)
        return -1;
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static_ctx *static_new(const char *www_dir, const char *static_dir,
                       const struct static_options *opt)
{
    static_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    if (opt)
        ctx->opt = *opt;
    else
        static_options_init(&ctx->opt);
    if (!ctx->opt.html_cache_control)
        ctx->opt.html_cache_control = "no-cache";
    snprintf(ctx->asset_cc, sizeof ctx->asset_cc, "public, max-age=%u",
             ctx->opt.asset_max_age);
    ctx->www_fd = static_open_root(www_dir);
    ctx->static_fd = static_open_root(static_dir);
    if (ctx->opt.open_file_cache_valid_ms && ctx->opt.open_file_cache_max)
        ctx->cache = static_cache_new(ctx->opt.open_file_cache_max,
                                      ctx->opt.open_file_cache_valid_ms);
    if ((www_dir && ctx->www_fd < 0) || (static_dir && ctx->static_fd < 0)
        || (ctx->opt.open_file_cache_valid_ms && ctx->opt.open_file_cache_max
            && !ctx->cache)) {
        int e = errno;
        static_free(ctx);
        errno = e;
        return NULL;
    }
    return ctx;
}

void static_free(static_ctx *ctx)
{
    if (!ctx)
        return;
    static_cache_free(ctx->cache);
    if (ctx->www_fd >= 0)
        close(ctx->www_fd);
    if (ctx->static_fd >= 0)
        close(ctx->static_fd);
    free(ctx);
}

/* The value of a field that occurs exactly once, else NULL (two Range
 * fields are ambiguous: ignore both). */
static const char *static_field_once(const http_txn *t, const char *name)
{
    const struct http_head *h = http_txn_head(t);
    const char *v = NULL;
    for (size_t i = 0; i < h->num_headers; i++) {
        const struct http_header *f = &h->headers[i];
        if (strlen(name) != f->name_len || strncasecmp(name, f->name, f->name_len) != 0)
            continue;
        if (v)
            return NULL;
        v = http_txn_header(t, name);
    }
    return v;
}

/* Turns a checked decoded path into the path below its root (index.html for
 * a directory) and picks the type.  0 or an HTTP status. */
static int static_map(const char *path, struct static_file *f)
{
    int status = static_path_check(path);
    if (status)
        return status;
    while (*path == '/')
        path++;
    size_t n = strlen(path);
    bool dir = (n == 0 || path[n - 1] == '/');
    int w = snprintf(f->rel, sizeof f->rel, "%s%s", path, dir ? STATIC_INDEX : "");
    if (w < 0 || (size_t)w >= sizeof f->rel)
        return 414;
    f->type = static_mime_type(f->rel);
    f->html = static_mime_is_html(f->type);
    return 0;
}

/* Opens f->rel in its root (through the cache); only regular files pass.
 * A directory gives 404; the caller may redirect. */
static int static_open(const static_ctx *ctx, http_txn *t, struct static_file *f)
{
    int root = f->html ? ctx->www_fd : ctx->static_fd;
    if (root < 0)
        return 404;
    return static_cache_open(ctx->cache, root, f->rel,
                             ev_now_ms(http_txn_loop(t)), &f->ent);
}

/* "/docs" naming a directory whose www/docs/index.html exists: true, and the
 * caller answers 301 to "/docs/" as nginx does. */
static bool static_is_dir_with_index(const static_ctx *ctx, const struct static_file *f)
{
    char rel[STATIC_REL_MAX];
    int fd;
    struct stat st;
    int w = snprintf(rel, sizeof rel, "%s/%s", f->rel, STATIC_INDEX);
    if (w < 0 || (size_t)w >= sizeof rel || ctx->www_fd < 0)
        return false;
    if (static_open_beneath(ctx->www_fd, rel, &fd, &st) != 0)
        return false;
    close(fd);
    return S_ISREG(st.st_mode);
}

static bool static_time_newer_or_same(const struct stat *a, const struct stat *b)
{
    return a->st_mtim.tv_sec > b->st_mtim.tv_sec
           || (a->st_mtim.tv_sec == b->st_mtim.tv_sec
               && a->st_mtim.tv_nsec >= b->st_mtim.tv_nsec);
}

/* gzip_static: swaps f's file for FILE.gz when the client accepts gzip
 * and FILE.gz is a regular file at least as new as FILE. */
static void static_pick_gzip(const static_ctx *ctx, http_txn *t, struct static_file *f)
{
    if (!ctx->opt.gzip_static || !static_mime_compressible(f->type))
        return;
    f->vary = true;
    if (!static_accepts_gzip(http_txn_header(t, "Accept-Encoding")))
        return;
    char rel[STATIC_REL_MAX + 3];
    struct static_entry *gz;
    snprintf(rel, sizeof rel, "%s.gz", f->rel);
    if (static_cache_open(ctx->cache, f->ent->root, rel,
                          ev_now_ms(http_txn_loop(t)), &gz) != 0)
        return;
    if (!static_time_newer_or_same(&gz->st, &f->ent->st)) {
        static_entry_unref(gz);
        return;
    }
    static_entry_unref(f->ent);
    f->ent = gz;
    f->gzip = true;
}

/* RFC 9110 13.2.2 steps 1-4: 412, 304 or 0 (go on). */
static int static_preconditions(http_txn *t, const char *etag, time_t mtime)
{
    const char *v = http_txn_header(t, "If-Match");
    if (v) {
        if (!static_etag_match(v, etag, false))
            return 412;
    } else if ((v = http_txn_header(t, "If-Unmodified-Since")) != NULL) {
        time_t d = http_date_parse(v, strlen(v));
        if (d != (time_t)-1 && mtime > d)
            return 412;
    }
    v = http_txn_header(t, "If-None-Match");
    if (v)   /* If-Modified-Since is then ignored (RFC 9110 13.1.3) */
        return static_etag_match(v, etag, true) ? 304 : 0;
    if ((v = http_txn_header(t, "If-Modified-Since")) != NULL) {
        time_t d = http_date_parse(v, strlen(v));
        if (d != (time_t)-1 && mtime <= d)
            return 304;
    }
    return 0;
}

/* If-Range: the Range applies only when the client's copy is current:
 * a strong ETag match, or a date equal to Last-Modified. */
static bool static_if_range_ok(http_txn *t, const char *etag, time_t mtime)
{
    const char *v = http_txn_header(t, "If-Range");
    if (!v)
        return true;
    if (v[0] == '"' || (v[0] == 'W' && v[1] == '/'))
        return static_etag_match(v, etag, false);
    time_t d = http_date_parse(v, strlen(v));
    return d != (time_t)-1 && d == mtime;
}

/* Fields shared by 200, 206 and 304. */
static void static_validators(const static_ctx *ctx, http_txn *t,
                              const struct static_file *f)
{
    http_txn_add_header(t, "ETag", f->ent->etag);
    http_txn_add_header(t, "Last-Modified", f->ent->last_modified);
    http_txn_add_header(t, "Cache-Control",
                        f->html ? ctx->opt.html_cache_control : ctx->asset_cc);
    if (f->vary)
        http_txn_add_header(t, "Vary", "Accept-Encoding");
}

static void static_body_fields(http_txn *t, const struct static_file *f)
{
    http_txn_add_header(t, "Content-Type", f->type);
    http_txn_add_header(t, "Accept-Ranges", "bytes");
    if (f->gzip)
        http_txn_add_header(t, "Content-Encoding", "gzip");
}

/* Completes t with len bytes of e from first; takes the reference. */
static void static_send_body(http_txn *t, struct static_entry *e,
                             int64_t first, int64_t len)
{
    if (!e->data) {
        /* the engine keeps e (and so its fd) until the last byte is out */
        http_txn_send_fd(t, e->fd, (off_t)first, (off_t)len, static_entry_release, e);
        return;
    }
    /* a small file kept in memory: no file system call at all */
    int r = http_txn_append(t, e->data + first, (size_t)len);
    static_entry_unref(e);
    if (r < 0)
        http_txn_error(t, 500);
    else
        http_txn_finish(t);
}

/* Answers from an opened regular file; takes f->ent's reference. */
static void static_respond(const static_ctx *ctx, http_txn *t, struct static_file *f)
{
    static_pick_gzip(ctx, t, f);
    const char *etag = f->ent->etag;
    const struct stat *st = &f->ent->st;
    int64_t first = 0, len = (int64_t)st->st_size;
    int status = static_preconditions(t, etag, st->st_mtime);
    enum static_range_kind rk = STATIC_RANGE_NONE;
    if (status == 0 && static_if_range_ok(t, etag, st->st_mtime))
        rk = static_range_parse(static_field_once(t, "Range"), len, &first, &len);
    if (status == 412 || rk == STATIC_RANGE_UNSATISFIABLE) {
        if (status != 412)
            http_txn_add_headerf(t, "Content-Range", "bytes */%" PRId64,
                                 (int64_t)st->st_size);
        static_entry_unref(f->ent);
        http_txn_error(t, status == 412 ? 412 : 416);
        return;
    }
    static_validators(ctx, t, f);
    if (status == 304) {
        static_entry_unref(f->ent);
        http_txn_set_status(t, 304);
        http_txn_finish(t);
        return;
    }
    static_body_fields(t, f);
    if (rk == STATIC_RANGE_OK)
        http_txn_add_headerf(t, "Content-Range", "bytes %" PRId64 "-%" PRId64 "/%" PRId64,
                             first, first + len - 1, (int64_t)st->st_size);
    http_txn_set_status(t, rk == STATIC_RANGE_OK ? 206 : 200);
    static_send_body(t, f->ent, first, len);
}

/* 301 to the same target with "/" appended to its path. */
static void static_redirect_dir(http_txn *t)
{
    const char *target = http_txn_target(t);
    const char *q = strchr(target, '?');
    size_t n = q ? (size_t)(q - target) : strlen(target);
    if (n >= STATIC_LOCATION_MAX) {
        http_txn_error(t, 414);
        return;
    }
    http_txn_add_headerf(t, "Location", "%.*s/%s", (int)n, target, q ? q : "");
    http_txn_set_status(t, 301);
    http_txn_finish(t);
}

/* Error answer: www/NNN.html when configured and present, else the
 * engine's page. */
static void static_fail(static_ctx *ctx, http_txn *t, int status)
{
    if (ctx->opt.error_pages && (status == 403 || status == 404 || status == 405)) {
        char page[16];
        snprintf(page, sizeof page, "/%d.html", status);
        if (static_serve_page(ctx, t, page, status) == STATIC_DONE)
            return;
    }
    http_txn_error(t, status);
}

enum static_result static_serve(static_ctx *ctx, http_txn *t)
{
    enum http_method m = http_txn_method(t);
    if (m != HTTP_M_GET && m != HTTP_M_HEAD) {
        if (ctx->opt.fallthrough)
            return STATIC_DECLINED;
        http_txn_add_header(t, "Allow", "GET, HEAD");
        static_fail(ctx, t, 405);
        return STATIC_DONE;
    }
    struct static_file f = { .ent = NULL };
    const char *target = http_txn_target(t), *path = http_txn_path(t);
    int status = (target && path) ? static_target_check(target) : 400;
    if (status == 0)
        status = static_map(path, &f);
    if (status == 0)
        status = static_open(ctx, t, &f);
    if (status == 404 && f.type && !f.html && static_is_dir_with_index(ctx, &f)) {
        static_redirect_dir(t);
        return STATIC_DONE;
    }
    if (status == 404 && ctx->opt.fallthrough)
        return STATIC_DECLINED;
    if (status) {
        static_fail(ctx, t, status);
        return STATIC_DONE;
    }
    static_respond(ctx, t, &f);
    return STATIC_DONE;
}

enum static_result static_serve_page(static_ctx *ctx, http_txn *t,
                                     const char *path, int status)
{
    struct static_file f = { .ent = NULL };
    if (static_map(path, &f) != 0 || static_open(ctx, t, &f) != 0)
        return STATIC_DECLINED;
    http_txn_add_header(t, "Content-Type", f.type);
    http_txn_add_header(t, "Cache-Control", "no-store");
    http_txn_set_status(t, status);
    http_txn_send_fd(t, f.ent->fd, 0, f.ent->st.st_size, static_entry_release, f.ent);
    return STATIC_DONE;
}
