/*
 * static_path.c - the pure half of the static file service: request path
 * checks and the open-beneath-a-root walk.  No HTTP types here, so the unit
 * test links this file alone.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weaprous/static.h"
#include "weaprous/utf8.h"

#ifndef NAME_MAX
#define NAME_MAX 255
#endif

#define WALK_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)

/* Skips "scheme://authority" of an absolute-form target; returns the start
 * of its path ("" when it has none) or NULL when target is neither form. */
static const char *target_path(const char *target)
{
    if (target[0] == '/')
        return target;
    const char *s = strstr(target, "://");
    if (!s || s == target)
        return NULL;
    const char *p = strpbrk(s + 3, "/?#");
    return (p && *p == '/') ? p : "";
}

int static_target_check(const char *target)
{
    const char *p = target_path(target);
    if (!p)
        return 400;
    /* Raw "." and ".." segments are the engine's: it removes them before
     * anyone sees the path (RFC 3986 5.2.4), and refuses a climb above the
     * root.  What decoding turns into a dot, static_path_check refuses. */
    for (; *p != '\0' && *p != '?' && *p != '#'; p++) {
        if (*p != '%')
            continue;
        /* An encoded slash or backslash would become a separator only
         * after our checks: refuse them outright. */
        if (strncasecmp(p + 1, "2f", 2) == 0 || strncasecmp(p + 1, "5c", 2) == 0)
            return 403;
        if (strncmp(p + 1, "00", 2) == 0)
            return 400;
    }
    return 0;
}

/* True when the decoded segment may be served: no dot-files (".git",
 * ".env", ".", "..") except RFC 8615's ".well-known". */
static bool path_segment_allowed(const char *s, size_t n)
{
    if (n == 0 || s[0] != '.')
        return true;
    return n == 11 && memcmp(s, ".well-known", 11) == 0;
}

int static_path_check(const char *path)
{
    if (path[0] != '/')
        return 400;
    size_t len = strnlen(path, STATIC_MAX_PATH + 1);
    if (len > STATIC_MAX_PATH)
        return 414;
    if (!utf8_valid(path, len))
        return 400;      /* also catches overlong forms such as %c0%ae */
    const char *seg = path + 1;
    for (const char *p = path + 1;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\0' || c == '/') {
            if (!path_segment_allowed(seg, (size_t)(p - seg)))
                return 403;
            if (c == '\0')
                return 0;
            seg = p + 1;
        } else if (c < 0x20 || c == 0x7f) {
            return 400;
        } else if (c == '\\') {
            return 403;  /* a separator elsewhere; never a name here */
        }
    }
}

/* --- the walk --- */

struct walk {
    int  root;                       /* not owned */
    int  fds[STATIC_MAX_DEPTH];      /* opened components, owned */
    int  depth;
    int  links;
    char rest[2 * STATIC_MAX_PATH + 2]; /* components still to resolve */
};

static int walk_errno_status(int e)
{
    switch (e) {
    case ENOENT: case ENOTDIR: case ENAMETOOLONG:
        return 404;
    case EACCES: case EPERM: case ELOOP: case EMLINK:
        return 403;
    case EMFILE: case ENFILE: case ENOMEM:
        return 503;
    default:
        return 500;
    }
}

static int walk_cur(const struct walk *w)
{
    return w->depth ? w->fds[w->depth - 1] : w->root;
}

static void walk_release(struct walk *w)
{
    while (w->depth > 0)
        close(w->fds[--w->depth]);
}

/* "..": back to the held parent.  Climbing above the root is an escape. */
static int walk_up(struct walk *w)
{
    if (w->depth == 0)
        return 403;
    close(w->fds[--w->depth]);
    return 0;
}

/* name (in directory dir) is a symlink: splices its target in front of the
 * components left (*after, inside w->rest) and restarts from there. */
static int walk_link(struct walk *w, int dir, const char *name, const char **after)
{
    char target[STATIC_MAX_PATH + 1];
    if (++w->links > STATIC_MAX_LINKS)
        return 403;
    ssize_t n = readlinkat(dir, name, target, sizeof target);
    if (n <= 0 || (size_t)n >= sizeof target)
        return 403;
    if (target[0] == '/')
        return 403;   /* absolute: we cannot tell "inside" without names */
    /* *after is "" or starts with the "/" that followed the link. */
    size_t alen = strlen(*after);
    if ((size_t)n + alen + 1 > sizeof w->rest)
        return 403;
    memmove(w->rest + n, *after, alen + 1);
    memcpy(w->rest, target, (size_t)n);
    *after = w->rest;
    return 0;
}

/* Opens one component.  more: components follow, so it must be a
 * directory (O_DIRECTORY also keeps us from opening a device on the way). */
static int walk_step(struct walk *w, const char *name, bool more, const char **after)
{
    int dir = walk_cur(w);
    int fd = openat(dir, name, WALK_FLAGS | (more ? O_DIRECTORY : 0));
    if (fd < 0) {
        int e = errno;
        struct stat lst;
        if ((e == ELOOP || e == EMLINK || e == ENOTDIR)
            && fstatat(dir, name, &lst, AT_SYMLINK_NOFOLLOW) == 0
            && S_ISLNK(lst.st_mode))
            return walk_link(w, dir, name, after);
        return walk_errno_status(e);
    }
    if (w->depth == STATIC_MAX_DEPTH) {
        close(fd);
        return 404;
    }
    w->fds[w->depth++] = fd;
    return 0;
}

/* Hands the last opened object to the caller (the root itself when rel had
 * no component) and closes the rest. */
static int walk_finish(struct walk *w, int *fd, struct stat *st)
{
    int out;
    if (w->depth == 0)
        out = openat(w->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    else
        out = w->fds[--w->depth];
    walk_release(w);
    if (out < 0)
        return walk_errno_status(errno);
    if (fstat(out, st) < 0) {
        int e = errno;
        close(out);
        return walk_errno_status(e);
    }
    *fd = out;
    return 0;
}

int static_open_beneath(int rootfd, const char *rel, int *fd, struct stat *st)
{
    struct walk w;
    w.root = rootfd;
    w.depth = 0;
    w.links = 0;
    size_t len = strnlen(rel, sizeof w.rest);
    if (len >= STATIC_MAX_PATH)
        return 404;
    memcpy(w.rest, rel, len + 1);
    const char *p = w.rest;
    int status = 0;
    while (status == 0) {
        char name[NAME_MAX + 1];
        while (*p == '/')
            p++;
        if (*p == '\0')
            return walk_finish(&w, fd, st);
        size_t n = strcspn(p, "/");
        if (n > NAME_MAX) {
            status = 404;
            break;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        p += n;
        if (strcmp(name, ".") == 0)
            continue;
        if (strcmp(name, "..") == 0)
            status = walk_up(&w);
        else
            status = walk_step(&w, name, *p == '/', &p);
    }
    walk_release(&w);
    return status;
}
