/*
 * test_static.c - unit tests of the pure parts of the static file service:
 * MIME table, path checks, the open-beneath walk on a temporary tree with
 * symlinks inside and outside, ETag matching, Range and Accept-Encoding
 * parsing (hostile values included), and the open-file cache with an
 * explicit clock: hits, revalidation after the window (changed, replaced,
 * deleted, symlink swapped out of the root), LRU bound, the fd-limit cap,
 * entries outliving eviction and the cache while referenced.  String inputs are placed right before
 * an unreadable page so that reading past the NUL crashes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/resource.h>

#include "static_cache.h"
#include "weaprous/static.h"
#include "tap.h"

bool static_mime_table_sorted(void);   /* mime.c, for this test */

/* --- MIME --- */

static void test_mime(void)
{
    static const struct { const char *path, *type; } v[] = {
        { "/index.html", "text/html; charset=utf-8" },
        { "/A/B.HTM", "text/html; charset=utf-8" },
        { "/x.HtMl", "text/html; charset=utf-8" },
        { "/css/x.css", "text/css; charset=utf-8" },
        { "/js/app.js", "text/javascript; charset=utf-8" },
        { "/m.mjs", "text/javascript; charset=utf-8" },
        { "/d.json", "application/json" },
        { "/i.svg", "image/svg+xml" },
        { "/i.png", "image/png" },
        { "/i.jpg", "image/jpeg" },
        { "/i.jpeg", "image/jpeg" },
        { "/i.gif", "image/gif" },
        { "/i.webp", "image/webp" },
        { "/favicon.ico", "image/x-icon" },
        { "/r.txt", "text/plain; charset=utf-8" },
        { "/f.xml", "application/xml" },
        { "/f.pdf", "application/pdf" },
        { "/f.wasm", "application/wasm" },
        { "/f.woff", "font/woff" },
        { "/f.woff2", "font/woff2" },
        { "/f.ttf", "font/ttf" },
        { "/f.otf", "font/otf" },
        { "/app.js.map", "application/json" },
        { "/v.mp4", "video/mp4" },
        { "/v.webm", "video/webm" },
        { "/a.mp3", "audio/mpeg" },
        { "/a.wav", "audio/wav" },
        { "/z.zip", "application/zip" },
        { "/x.tar.gz", "application/gzip" },
        { "/noext", "application/octet-stream" },
        { "/.bashrc", "application/octet-stream" },
        { "/dir.d/file", "application/octet-stream" },
        { "/trailing.", "application/octet-stream" },
        { "/x.unknownext", "application/octet-stream" },
        { "/x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaahtml", "application/octet-stream" },
        { "", "application/octet-stream" },
        { "index.html", "text/html; charset=utf-8" },
    };
    ok(static_mime_table_sorted(), "MIME table sorted for bsearch");
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].path) + 1;
        char *g = guard_copy(v[i].path, n);
        is_str(static_mime_type(g), v[i].type, "mime %s", v[i].path);
        guard_free(g, n);
    }
    ok(static_mime_is_html(static_mime_type("/a.html")), "html is html");
    ok(static_mime_is_html("text/html"), "bare text/html is html");
    ok(!static_mime_is_html("text/htmlx"), "text/htmlx is not html");
    ok(!static_mime_is_html(static_mime_type("/a.css")), "css is not html");
    ok(static_mime_compressible(static_mime_type("/a.css")), "css compressible");
    ok(static_mime_compressible("text/javascript; charset=utf-8"), "js by value");
    ok(!static_mime_compressible(static_mime_type("/a.png")), "png not compressible");
    ok(!static_mime_compressible(static_mime_type("/a.bin")), "octet-stream not compressible");
}

/* --- request path checks --- */

static void test_target_check(void)
{
    static const struct { const char *t; int want; } v[] = {
        { "/", 0 }, { "/a/b.css", 0 }, { "/a?x=../..", 0 }, { "/a%20b", 0 },
        /* raw dot-segments: the engine removes them (or refuses a climb
         * above the root) before the path reaches the static service */
        { "/a/../b", 0 }, { "/./a", 0 }, { "/a/.", 0 },
        { "/..%2fetc", 403 }, { "/%2e%2e%2Fetc", 403 }, { "/a%2Fb", 403 },
        { "/..%5cwin", 403 }, { "/a%5Cb", 403 }, { "/a%00b", 400 },
        { "/a/..%2f..%2fetc", 403 }, { "http://h/..%2fetc/passwd", 403 },
        { "http://h/a.css", 0 },
        { "http://h", 0 }, { "http://h?x", 0 }, { "HTTP://h/a%5c..%5cx", 403 },
        { "*", 400 }, { "a/b", 400 }, { "", 400 }, { "://x/y", 400 },
        { "/a%", 0 }, { "/a%2", 0 }, { "/...", 0 }, { "/..a", 0 },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].t) + 1;
        char *g = guard_copy(v[i].t, n);
        is_int(static_target_check(g), v[i].want, "target %s", v[i].t);
        guard_free(g, n);
    }
}

static void test_path_check(void)
{
    static const struct { const char *p; int want; } v[] = {
        { "/", 0 }, { "/index.html", 0 }, { "/css/x.css", 0 }, { "//etc/passwd", 0 },
        { "/sub/", 0 }, { "/a b.txt", 0 }, { "/caf\xc3\xa9.txt", 0 },
        { "/%2e%2e/x", 0 },                       /* literal name: never decoded again */
        { "/.well-known/security.txt", 0 },
        { "/..", 403 }, { "/../x", 403 }, { "/a/..", 403 }, { "/a/../b", 403 },
        { "/.", 403 }, { "/./../x", 403 }, { "/.git/config", 403 }, { "/.env", 403 },
        { "/a/.htaccess", 403 }, { "/.well-knownx", 403 },
        { "/..\\x", 403 }, { "/a\\b", 403 },
        { "/\xc0\xae\xc0\xae/x", 400 },           /* overlong "." */
        { "/\xe0\x80\xae", 400 }, { "/\xff", 400 }, { "/a\x01", 400 },
        { "/a\x7f", 400 }, { "/a\tb", 400 }, { "/a\nb", 400 },
        { "", 400 }, { "a", 400 }, { "http://x/", 400 },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].p) + 1;
        char *g = guard_copy(v[i].p, n);
        is_int(static_path_check(g), v[i].want, "path check #%zu", i);
        guard_free(g, n);
    }
    char *longp = malloc(STATIC_MAX_PATH + 2);
    memset(longp, 'a', STATIC_MAX_PATH + 1);
    longp[0] = '/';
    longp[STATIC_MAX_PATH + 1] = '\0';
    is_int(static_path_check(longp), 414, "path over STATIC_MAX_PATH -> 414");
    longp[STATIC_MAX_PATH] = '\0';
    is_int(static_path_check(longp), 0, "path of exactly STATIC_MAX_PATH ok");
    free(longp);
}

/* --- the walk, on a temporary tree --- */

static char tree[256];

static void mk(const char *rel, const char *content)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tree, rel);
    if (!content) {
        if (mkdir(p, 0755) < 0)
            abort();
        return;
    }
    FILE *f = fopen(p, "w");
    if (!f)
        abort();
    fputs(content, f);
    fclose(f);
}

static void ln(const char *target, const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tree, rel);
    if (symlink(target, p) < 0)
        abort();
}

static void build_tree(void)
{
    snprintf(tree, sizeof tree, "/tmp/test_static.XXXXXX");
    if (!mkdtemp(tree))
        abort();
    mk("secret.txt", "SECRET");
    mk("www", NULL);
    mk("www/index.html", "INDEX");
    mk("www/sub", NULL);
    mk("www/sub/a.html", "A");
    mk("www/sub/deeper", NULL);
    mk("www/sub/deeper/d.txt", "D");
    ln("sub/a.html", "www/in");                 /* inside: allowed */
    ln("sub", "www/dirlink");                   /* dir inside */
    ln("../../sub/a.html", "www/sub/deeper/up"); /* climbs, stays inside */
    ln("sub/../sub/a.html", "www/updown");
    ln("../secret.txt", "www/out");             /* escapes */
    ln("sub/../../secret.txt", "www/out2");
    ln("../../../secret.txt", "www/sub/deeper/out3");
    ln("/etc/passwd", "www/abs");               /* absolute */
    ln("loop", "www/loop");                     /* ELOOP */
    ln("out", "www/chain");                     /* link to an escaping link */
    ln("in", "www/chain_in");                   /* link to a good link */
    ln("nowhere", "www/dangling");
    ln("..", "www/parent");
    ln(".", "www/self");
    char p[512];
    snprintf(p, sizeof p, "%s/www/fifo", tree);
    if (mkfifo(p, 0644) < 0)
        abort();
}

static void rm_tree(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tree);
    if (system(cmd) != 0)
        diag("could not remove %s", tree);
}

/* Opens rel under www; returns the status and, on 0, the content. */
static int open_read(int root, const char *rel, char *out, size_t cap, mode_t *type)
{
    int fd = -1;
    struct stat st;
    out[0] = '\0';
    int s = static_open_beneath(root, rel, &fd, &st);
    if (s)
        return s;
    *type = st.st_mode & S_IFMT;
    if (S_ISREG(st.st_mode)) {
        ssize_t n = read(fd, out, cap - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    close(fd);
    return 0;
}

static void test_walk(void)
{
    static const struct { const char *rel; int want; const char *content; } v[] = {
        { "index.html", 0, "INDEX" }, { "/index.html", 0, "INDEX" },
        { "sub/a.html", 0, "A" }, { "sub//a.html", 0, "A" },
        { "sub/deeper/d.txt", 0, "D" },
        { "in", 0, "A" }, { "dirlink/a.html", 0, "A" },
        { "sub/deeper/up", 0, "A" }, { "updown", 0, "A" }, { "chain_in", 0, "A" },
        { "self/self/index.html", 0, "INDEX" },
        { "out", 403, "" }, { "out2", 403, "" }, { "sub/deeper/out3", 403, "" },
        { "abs", 403, "" }, { "loop", 403, "" }, { "chain", 403, "" },
        { "parent/secret.txt", 403, "" }, { "parent", 403, "" },
        { "dangling", 404, "" }, { "missing.html", 404, "" },
        { "index.html/x", 404, "" }, { "sub/missing/x", 404, "" },
        { "../secret.txt", 403, "" }, { "sub/../../secret.txt", 403, "" },
    };
    char wwwp[300], rbuf[64];
    snprintf(wwwp, sizeof wwwp, "%s/www", tree);
    int root = open(wwwp, O_RDONLY | O_DIRECTORY);
    mode_t type = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        int s = open_read(root, v[i].rel, rbuf, sizeof rbuf, &type);
        is_int(s, v[i].want, "walk %s status", v[i].rel);
        is_str(rbuf, v[i].content, "walk %s content", v[i].rel);
    }
    is_int(open_read(root, "", rbuf, sizeof rbuf, &type), 0, "empty rel: the root");
    ok(type == S_IFDIR, "root is a directory");
    is_int(open_read(root, "sub", rbuf, sizeof rbuf, &type), 0, "directory opens");
    ok(type == S_IFDIR, "sub is a directory (caller gives 404)");
    is_int(open_read(root, "fifo", rbuf, sizeof rbuf, &type), 0, "fifo opens without blocking");
    ok(type == S_IFIFO, "fifo reported as such (caller gives 403)");
    is_int(open_read(root, "fifo/x", rbuf, sizeof rbuf, &type), 404, "fifo as directory");

    char deep[STATIC_MAX_DEPTH * 6 + 16] = "";
    for (int i = 0; i <= STATIC_MAX_DEPTH; i++)
        strcat(deep, "self/");
    strcat(deep, "index.html");
    is_int(open_read(root, deep, rbuf, sizeof rbuf, &type), 403,
           "more than STATIC_MAX_LINKS symlinks -> 403");
    char longname[300];
    memset(longname, 'n', 299);
    longname[299] = '\0';
    is_int(open_read(root, longname, rbuf, sizeof rbuf, &type), 404, "name > NAME_MAX");

    int before = dup(0);
    close(before);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        open_read(root, v[i].rel, rbuf, sizeof rbuf, &type);
    int after = dup(0);
    close(after);
    is_int(after, before, "no fd leaked by the walk");
    close(root);
}

/* --- ETag --- */

static void test_etag(void)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = 0x1234;
    st.st_size = 0x400;
    st.st_mtim.tv_sec = 1;
    st.st_mtim.tv_nsec = 5;
    char e[STATIC_ETAG_MAX];
    is_str(static_etag(&st, e), "\"400-3b9aca05\"", "etag format");
    st.st_mtim.tv_nsec = 6;
    char e2[STATIC_ETAG_MAX];
    ok(strcmp(static_etag(&st, e2), e) != 0, "etag changes with nanoseconds");
    st.st_ino = UINT32_MAX;
    st.st_size = INT64_MAX;
    st.st_mtim.tv_sec = INT32_MAX;
    ok(strlen(static_etag(&st, e2)) < STATIC_ETAG_MAX - 1, "extreme etag fits");

    static const struct { const char *field; bool weak; bool want; } v[] = {
        { "\"400-3b9aca05\"", true, true },
        { "\"400-3b9aca05\"", false, true },
        { "W/\"400-3b9aca05\"", true, true },
        { "W/\"400-3b9aca05\"", false, false },
        { "*", true, true }, { "*", false, true },
        { "\"a\", \"400-3b9aca05\"", true, true },
        { "\"a\",W/\"400-3b9aca05\" , \"b\"", true, true },
        { " ,, \"400-3b9aca05\" ,", true, true },
        { "\"a\", \"b\"", true, false },
        { "\"400-3b9aca0\"", true, false },
        { "400-3b9aca05", true, false },
        { "\"400-3b9aca05", true, false },
        { "\"a\" \"400-3b9aca05\"", true, false },
        { "w/\"400-3b9aca05\"", true, false },
        { "", true, false }, { " ", true, false }, { "W/", true, false },
        { "\"", true, false }, { "\"x y\", \"400-3b9aca05\"", true, false },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].field) + 1;
        char *g = guard_copy(v[i].field, n);
        is_int(static_etag_match(g, e, v[i].weak), v[i].want,
               "etag match #%zu [%s] %s", i, v[i].field, v[i].weak ? "weak" : "strong");
        guard_free(g, n);
    }
    ok(!static_etag_match(NULL, e, true), "NULL field matches nothing");
    ok(static_etag_match("W/\"x\"", "W/\"x\"", true), "weak ours, weak compare");
    ok(!static_etag_match("\"x\"", "W/\"x\"", false), "weak ours, strong compare");
}

/* --- Range --- */

static void test_range(void)
{
    static const struct {
        const char *v; int64_t size; enum static_range_kind want; int64_t first, len;
    } v[] = {
        { "bytes=0-0", 100, STATIC_RANGE_OK, 0, 1 },
        { "bytes=0-99", 100, STATIC_RANGE_OK, 0, 100 },
        { "bytes=0-999", 100, STATIC_RANGE_OK, 0, 100 },
        { "bytes=10-19", 100, STATIC_RANGE_OK, 10, 10 },
        { "bytes=10-", 100, STATIC_RANGE_OK, 10, 90 },
        { "bytes=99-", 100, STATIC_RANGE_OK, 99, 1 },
        { "bytes=-10", 100, STATIC_RANGE_OK, 90, 10 },
        { "bytes=-100", 100, STATIC_RANGE_OK, 0, 100 },
        { "bytes=-1000", 100, STATIC_RANGE_OK, 0, 100 },
        { "Bytes=1-2", 100, STATIC_RANGE_OK, 1, 2 },
        { "bytes= 1-2 ", 100, STATIC_RANGE_OK, 1, 2 },
        { "bytes=1-2,", 100, STATIC_RANGE_OK, 1, 2 },
        { "bytes=,1-2", 100, STATIC_RANGE_OK, 1, 2 },
        { "bytes=100-", 100, STATIC_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=100-200", 100, STATIC_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=-0", 100, STATIC_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=0-", 0, STATIC_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=-5", 0, STATIC_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=99999999999999999999999999-", 100, STATIC_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=0-99999999999999999999999999", 100, STATIC_RANGE_OK, 0, 100 },
        { "bytes=-99999999999999999999999999", 100, STATIC_RANGE_OK, 0, 100 },
        { "bytes=9223372036854775807-", 100, STATIC_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=9223372036854775806-9223372036854775807", INT64_MAX,
          STATIC_RANGE_OK, INT64_MAX - 1, 1 },
        { "bytes=0-9223372036854775807", INT64_MAX, STATIC_RANGE_OK, 0, INT64_MAX },
        { "bytes=0-1,5-6", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=0-1, -5", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=5-1", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=-", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=,", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=a-b", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=1", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=+1-2", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=1--2", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=-1-2", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=1-2x", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=1 -2", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes=0x10-", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes =1-2", 100, STATIC_RANGE_NONE, 0, 0 },
        { "items=1-2", 100, STATIC_RANGE_NONE, 0, 0 },
        { "bytes", 100, STATIC_RANGE_NONE, 0, 0 },
        { "", 100, STATIC_RANGE_NONE, 0, 0 },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].v) + 1;
        char *g = guard_copy(v[i].v, n);
        int64_t first = -7, len = -7;
        enum static_range_kind k = static_range_parse(g, v[i].size, &first, &len);
        is_int(k, v[i].want, "range [%s] size %" PRId64 " kind", v[i].v, v[i].size);
        if (v[i].want == STATIC_RANGE_OK) {
            is_int(first, v[i].first, "range [%s] first", v[i].v);
            is_int(len, v[i].len, "range [%s] len", v[i].v);
        }
        guard_free(g, n);
    }
    int64_t f, l;
    is_int(static_range_parse(NULL, 10, &f, &l), STATIC_RANGE_NONE, "NULL Range");
    char big[STATIC_MAX_RANGE_HDR + 16];
    strcpy(big, "bytes=0-1");
    memset(big + 9, ' ', sizeof big - 10);
    big[sizeof big - 1] = '\0';
    is_int(static_range_parse(big, 10, &f, &l), STATIC_RANGE_NONE, "oversize Range ignored");
    char many[STATIC_MAX_RANGE_HDR];
    strcpy(many, "bytes=");
    while (strlen(many) + 5 < sizeof many)
        strcat(many, "0-1,");
    is_int(static_range_parse(many, 10, &f, &l), STATIC_RANGE_NONE, "many ranges -> whole");
}

/* --- Accept-Encoding --- */

static void test_gzip(void)
{
    static const struct { const char *ae; bool want; } v[] = {
        { "gzip", true }, { "GZIP", true }, { "x-gzip", true },
        { "gzip, deflate, br", true }, { "br, gzip", true },
        { "deflate, gzip;q=0.5", true }, { "gzip;q=1", true }, { "gzip;q=1.000", true },
        { "gzip; q=0.001", true }, { "gzip ; q=0.8", true }, { "gzip;Q=0.8", true },
        { "gzip;level=1;q=0.2", true }, { "*", true }, { "*;q=0.1", true },
        { "br, *", true },
        { "gzip;q=0", false }, { "gzip;q=0.0", false }, { "gzip;q=0.000", false },
        { "gzip;q=0, *", false }, { "*, gzip;q=0", false }, { "*;q=0", false },
        { "deflate", false }, { "br", false }, { "identity", false }, { "", false },
        { "gzipx", false }, { "xgzip", false }, { "gz", false },
        { "gzip;q=1.5", false }, { "gzip;q=2", false }, { "gzip;q=0.0001", false },
        { "gzip;q=abc", false }, { "gzip;q=", false }, { "gzip;q=-1", false },
        { ",,,", false }, { ";;;", false }, { "gzip;q=0,x-gzip;q=0", false },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].ae) + 1;
        char *g = guard_copy(v[i].ae, n);
        is_int(static_accepts_gzip(g), v[i].want, "accept-encoding [%s]", v[i].ae);
        guard_free(g, n);
    }
    ok(!static_accepts_gzip(NULL), "no Accept-Encoding: no gzip");
}


/* --- the open-file cache, with an explicit clock --- */

#define VALID 100   /* ms an entry is trusted in these tests */

/* Writes content to tree/rel: in place (same inode) or through a temporary
 * file renamed over it (a new inode, as deployments do). */
static void put(const char *rel, const char *content, bool by_rename)
{
    char p[512], tmp[520];
    snprintf(p, sizeof p, "%s/%s", tree, rel);
    snprintf(tmp, sizeof tmp, "%s.new", p);
    FILE *f = fopen(by_rename ? tmp : p, "w");
    if (!f)
        abort();
    fputs(content, f);
    fclose(f);
    if (by_rename && rename(tmp, p) < 0)
        abort();
}

static void unlink_rel(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tree, rel);
    if (unlink(p) < 0)
        abort();
}

/* The entry's file content (pread, as the engine reads it). */
static const char *entry_text(const struct static_entry *e)
{
    static char out[256];
    ssize_t n = pread(e->fd, out, sizeof out - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static void test_cache_hits(int root)
{
    struct static_cache *c = static_cache_new(8, VALID);
    struct static_entry *a = NULL, *b = NULL;
    put("www/c1.txt", "one", false);
    is_int(static_cache_open(c, root, "c1.txt", 1000, &a), 0, "cache: first open");
    is_int(static_cache_open(c, root, "c1.txt", 1000 + VALID - 1, &b), 0, "cache: second open");
    ok(a == b && a->refs == 3, "cache: a hit inside the window is the same entry, 2 users + table");
    is_str(a->rel, "c1.txt", "cache: entry keeps its path");
    ok(a->root == root, "cache: entry keeps its root");
    is_int((int)static_cache_count(c), 1, "cache: one entry");
    static_entry_unref(b);
    is_int(static_cache_open(c, root, "c1.txt", 1000 + VALID, &b), 0, "cache: revalidated");
    ok(a == b, "cache: an unchanged file keeps its entry after revalidation");
    static_entry_unref(b);
    is_int(static_cache_open(c, root, "sub", 5000, &b), 404, "cache: a directory is 404");
    is_int(static_cache_open(c, root, "fifo", 5000, &b), 403, "cache: a FIFO is 403");
    is_int(static_cache_open(c, root, "out", 5000, &b), 403, "cache: an escaping link is 403");
    is_int(static_cache_open(c, root, "nope", 5000, &b), 404, "cache: a missing file is 404");
    is_int((int)static_cache_count(c), 1, "cache: failures are not cached");
    static_cache_free(c);
    is_str(entry_text(a), "one", "cache: an entry in use outlives its cache");
    static_entry_unref(a);
}

static void test_cache_changes(int root)
{
    struct static_cache *c = static_cache_new(8, VALID);
    struct static_entry *a, *b;
    char etag[STATIC_ETAG_MAX];
    put("www/c2.txt", "old", false);
    static_cache_open(c, root, "c2.txt", 0, &a);
    snprintf(etag, sizeof etag, "%s", a->etag);
    static_entry_unref(a);
    put("www/c2.txt", "newer content", false);          /* in place */
    static_cache_open(c, root, "c2.txt", VALID - 1, &a);
    is_int((int)a->st.st_size, 3, "cache: inside the window the old stat stands");
    static_entry_unref(a);
    static_cache_open(c, root, "c2.txt", VALID, &a);
    is_int((int)a->st.st_size, 13, "cache: after the window a rewritten file is seen");
    ok(strcmp(a->etag, etag) != 0, "cache: ... with a new ETag");
    is_str(entry_text(a), "newer content", "cache: ... and its content");
    put("www/c2.txt", "replaced by rename", true);       /* new inode */
    static_cache_open(c, root, "c2.txt", 3 * VALID, &b);
    ok(b != a, "cache: a file renamed over the old one gets a new entry");
    is_str(entry_text(b), "replaced by rename", "cache: ... with the new content");
    is_str(entry_text(a), "newer content", "cache: the replaced entry still reads its file while used");
    static_entry_unref(a);
    static_entry_unref(b);
    unlink_rel("www/c2.txt");
    is_int(static_cache_open(c, root, "c2.txt", 4 * VALID - 1, &a), 0,
           "cache: a deleted file is still served inside the window");
    static_entry_unref(a);
    is_int(static_cache_open(c, root, "c2.txt", 4 * VALID, &a), 404,
           "cache: a deleted file is 404 after the window");
    is_int((int)static_cache_count(c), 0, "cache: ... and its entry is gone");
    static_cache_free(c);
}

/* A symlink cached while it pointed inside, then swapped to point out of
 * the root: refused at revalidation, whatever form the escape takes. */
static void test_cache_symlink_swap(int root)
{
    static const char *const escapes[] = { "../secret.txt", "/etc/passwd",
                                           "sub/../../secret.txt", "out" };
    struct static_cache *c = static_cache_new(8, VALID);
    char p[512], tmp[520];
    snprintf(p, sizeof p, "%s/www/swap", tree);
    snprintf(tmp, sizeof tmp, "%s.new", p);
    for (size_t i = 0; i < sizeof escapes / sizeof *escapes; i++) {
        struct static_entry *e;
        uint64_t t0 = i * 10 * VALID;
        unlink(p);
        if (symlink("sub/a.html", p) < 0)
            abort();
        is_int(static_cache_open(c, root, "swap", t0, &e), 0, "swap %zu: inside link served", i);
        static_entry_unref(e);
        if (symlink(escapes[i], tmp) < 0 || rename(tmp, p) < 0)
            abort();
        is_int(static_cache_open(c, root, "swap", t0 + VALID, &e), 403,
               "swap %zu: link to %s refused after revalidation", i, escapes[i]);
        is_int((int)static_cache_count(c), 0, "swap %zu: entry dropped", i);
    }
    unlink(p);
    static_cache_free(c);
}

static void test_cache_bound(int root)
{
    struct static_cache *c = static_cache_new(4, VALID);
    struct static_entry *held, *e, *first;
    char rel[32], text[32];
    static_cache_open(c, root, "c1.txt", 0, &held);     /* kept by a "response" */
    for (int i = 0; i < 10; i++) {
        snprintf(rel, sizeof rel, "www/b%d.txt", i);
        snprintf(text, sizeof text, "bound %d", i);
        put(rel, text, false);
    }
    static_cache_open(c, root, "b0.txt", 0, &first);
    static_entry_unref(first);
    for (int i = 1; i < 10; i++) {
        snprintf(rel, sizeof rel, "b%d.txt", i);
        static_cache_open(c, root, rel, 0, &e);
        static_entry_unref(e);
        static_cache_open(c, root, "b0.txt", 0, &e);   /* keep b0 recent */
        static_entry_unref(e);
    }
    is_int((int)static_cache_count(c), 4, "bound: 11 files, 4 entries");
    static_cache_open(c, root, "b0.txt", 0, &e);
    ok(e == first, "bound: the recently used entry survived (LRU)");
    static_entry_unref(e);
    ok(held->refs == 1, "bound: an evicted entry in use keeps only its user's reference");
    is_str(entry_text(held), "one", "bound: ... and its fd still reads the file");
    static_entry_unref(held);
    static_cache_free(c);
}

/* Small files are kept in memory: read once, whole, within the budget. */
static void test_cache_data(int root)
{
    struct static_cache *c = static_cache_new(64, VALID);
    struct static_entry *e;
    static char big[STATIC_CACHE_DATA_MAX + 2];
    memset(big, 'b', sizeof big - 1);
    put("www/small.txt", "small bytes", false);
    put("www/big.txt", big, false);
    put("www/empty.txt", "", false);
    static_cache_open(c, root, "small.txt", 0, &e);
    ok(e->data && memcmp(e->data, "small bytes", 11) == 0, "data: a small file is kept in memory");
    static_entry_unref(e);
    put("www/small.txt", "SMALL BYTES", false);         /* in place, same size */
    static_cache_open(c, root, "small.txt", VALID - 1, &e);
    ok(e->data && memcmp(e->data, "small bytes", 11) == 0,
       "data: an in-place rewrite inside the window: the old bytes, whole");
    static_entry_unref(e);
    static_cache_open(c, root, "small.txt", VALID, &e);
    ok(e->data && memcmp(e->data, "SMALL BYTES", 11) == 0, "data: after the window the new bytes");
    static_entry_unref(e);
    static_cache_open(c, root, "big.txt", 0, &e);
    ok(!e->data && e->st.st_size == STATIC_CACHE_DATA_MAX + 1, "data: a larger file is served from its fd");
    static_entry_unref(e);
    static_cache_open(c, root, "empty.txt", 0, &e);
    ok(!e->data && e->st.st_size == 0, "data: an empty file needs none");
    static_entry_unref(e);
    /* the budget: STATIC_CACHE_DATA_BUDGET / STATIC_CACHE_DATA_MAX full-size
     * files fit, the next does not */
    size_t fit = STATIC_CACHE_DATA_BUDGET / STATIC_CACHE_DATA_MAX, kept = 0;
    struct rlimit rl;
    /* the cache takes at most a quarter of the fd limit: make room */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
        && rl.rlim_cur / STATIC_CACHE_FD_SHARE < fit + 8) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || (rl.rlim_cur != RLIM_INFINITY
            && rl.rlim_cur / STATIC_CACHE_FD_SHARE < fit + 8)) {
            ok(1, "# SKIP RLIMIT_NOFILE too low for the budget test");
            static_cache_free(c);
            return;
        }
    }
    struct static_cache *c2 = static_cache_new(fit + 8, VALID);
    big[STATIC_CACHE_DATA_MAX] = '\0';
    for (size_t i = 0; i < fit + 2; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "www/m%zu.txt", i);
        put(rel, big, false);
        if (static_cache_open(c2, root, rel + 4, 0, &e) == 0) {
            kept += e->data != NULL;
            static_entry_unref(e);
        }
    }
    is_int((int)kept, (int)fit, "data: the memory budget holds");
    static_cache_free(c2);
    static_cache_free(c);
}

static void test_cache_disabled(int root)
{
    struct static_entry *a, *b;
    /* no cache: never a copy in memory, each response reads its own fd */
    put("www/c3.txt", "v1", false);
    static_cache_open(NULL, root, "c3.txt", 0, &a);
    static_cache_open(NULL, root, "c3.txt", 0, &b);
    ok(a != b && a->fd != b->fd && a->refs == 1, "disabled: every open is fresh");
    static_entry_unref(a);
    static_entry_unref(b);
    put("www/c3.txt", "version 2", true);
    static_cache_open(NULL, root, "c3.txt", 0, &a);
    is_str(entry_text(a), "version 2", "disabled: a change is seen at once");
    static_entry_unref(a);
}

/* Each entry holds an fd: the cache never takes more than a quarter of
 * RLIMIT_NOFILE, whatever max says. */
static void test_cache_fd_cap(int root)
{
    struct rlimit old, low;
    if (getrlimit(RLIMIT_NOFILE, &old) < 0)
        abort();
    low = old;
    low.rlim_cur = 64;
    if (setrlimit(RLIMIT_NOFILE, &low) < 0) {
        ok(1, "# SKIP cannot lower RLIMIT_NOFILE");
        return;
    }
    struct static_cache *c = static_cache_new(1024, VALID);
    if (setrlimit(RLIMIT_NOFILE, &old) < 0)
        abort();
    char rel[32];
    for (int i = 0; i < 40; i++) {
        struct static_entry *e;
        snprintf(rel, sizeof rel, "www/f%d.txt", i);
        put(rel, "x", false);
        if (static_cache_open(c, root, rel + 4, 0, &e) == 0)
            static_entry_unref(e);
    }
    is_int((int)static_cache_count(c), 16, "fd cap: 64 fds allow 16 entries");
    static_cache_free(c);
}

static void test_cache(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/www", tree);
    int root = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        abort();
    test_cache_hits(root);
    test_cache_changes(root);
    test_cache_symlink_swap(root);
    test_cache_bound(root);
    test_cache_data(root);
    test_cache_disabled(root);
    test_cache_fd_cap(root);
    close(root);
}

int main(void)
{
    test_mime();
    test_target_check();
    test_path_check();
    build_tree();
    test_walk();
    test_cache();
    rm_tree();
    test_etag();
    test_range();
    test_gzip();
    return done_testing();
}
