/* router.c - method + path pattern routing.  See weaprous/router.h. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weaprous/router.h"

enum router_seg_kind {
    ROUTER_SEG_LITERAL,
    ROUTER_SEG_ONE,        /* :name  */
    ROUTER_SEG_OPTIONAL,   /* :name? */
    ROUTER_SEG_PLUS,       /* :name+ */
    ROUTER_SEG_STAR        /* :name* */
};

struct router_seg {
    enum router_seg_kind kind;
    const char *text;      /* literal text or parameter name, NUL-terminated */
    size_t      len;
    unsigned    param;     /* index among the route's parameters */
};

struct router_route {
    unsigned methods;
    char *pattern;         /* the pattern as registered */
    char *text;            /* segment texts, split in place */
    struct router_seg *segs;
    size_t nsegs, nparams;
    void *handler, *arg;
};

struct router {
    struct router_route *routes;
    size_t n, cap;
    unsigned flags;
    char err[160];
};

/* One path segment: [start, start + len) of the match's storage. */
struct path_seg { size_t start, len; };

/* State of one route's match attempt. */
struct match_ctx {
    const struct router_route *rt;
    const char *path;
    const struct path_seg *ps;
    size_t nps;
    bool case_sensitive;
    unsigned budget;
    size_t cap_a[ROUTER_MAX_PARAMS], cap_b[ROUTER_MAX_PARAMS];
};

router *router_new(unsigned flags)
{
    router *r = calloc(1, sizeof(*r));
    if (r)
        r->flags = flags;
    return r;
}

void router_free(router *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->routes[i].pattern);
        free(r->routes[i].text);
        free(r->routes[i].segs);
    }
    free(r->routes);
    free(r);
}

const char *router_error(const router *r)
{
    return r->err;
}

size_t router_count(const router *r)
{
    return r->n;
}

static int add_fail(router *r, const char *pattern, const char *why)
{
    snprintf(r->err, sizeof(r->err), "bad route pattern \"%.64s\": %s",
             pattern ? pattern : "(null)", why);
    errno = EINVAL;
    return -1;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '_';
}

/* Classifies one segment of a pattern (NUL-terminated, modifiable: the
 * modifier is cut off the name).  Returns NULL or why it is invalid. */
static const char *parse_seg(char *s, struct router_seg *seg)
{
    size_t len = strlen(s);
    if (len == 0)
        return "empty segment";
    if (s[0] != ':') {
        if (strpbrk(s, ":*?+()"))
            return "reserved character in a literal segment";
        *seg = (struct router_seg){ ROUTER_SEG_LITERAL, s, len, 0 };
        return NULL;
    }
    enum router_seg_kind kind = ROUTER_SEG_ONE;
    switch (s[len - 1]) {
    case '?': kind = ROUTER_SEG_OPTIONAL; break;
    case '+': kind = ROUTER_SEG_PLUS; break;
    case '*': kind = ROUTER_SEG_STAR; break;
    }
    if (kind != ROUTER_SEG_ONE)
        s[--len] = '\0';
    if (len < 2)
        return "parameter without a name";
    for (size_t i = 1; i < len; i++)
        if (!name_char(s[i]))
            return "parameter name must be [A-Za-z0-9_]+ and fill its segment";
    *seg = (struct router_seg){ kind, s + 1, len - 1, 0 };
    return NULL;
}

/* Gives each parameter its index and rejects duplicate names. */
static const char *number_params(struct router_route *rt)
{
    for (size_t i = 0; i < rt->nsegs; i++) {
        struct router_seg *s = &rt->segs[i];
        if (s->kind == ROUTER_SEG_LITERAL)
            continue;
        if (rt->nparams == ROUTER_MAX_PARAMS)
            return "too many parameters";
        for (size_t j = 0; j < i; j++)
            if (rt->segs[j].kind != ROUTER_SEG_LITERAL && strcmp(rt->segs[j].text, s->text) == 0)
                return "duplicate parameter name";
        s->param = (unsigned)rt->nparams++;
    }
    return NULL;
}

/* Splits the pattern into segments (text copied once, cut in place). */
static const char *compile(struct router_route *rt, const char *pattern, bool strict)
{
    size_t len = strlen(pattern);
    if (pattern[0] != '/')
        return "must start with '/'";
    if (!strict && len > 1 && pattern[len - 1] == '/')
        len--;
    if ((rt->text = strndup(pattern + 1, len - 1)) == NULL
        || (rt->segs = calloc(ROUTER_MAX_SEGMENTS, sizeof(*rt->segs))) == NULL)
        return "out of memory";
    char *s = rt->text, *slash;
    if (len == 1)
        return number_params(rt);            /* "/" : the root, no segment */
    for (;; s = slash + 1) {
        if (rt->nsegs == ROUTER_MAX_SEGMENTS)
            return "too many segments";
        slash = strchr(s, '/');
        if (slash)
            *slash = '\0';
        struct router_seg *seg = &rt->segs[rt->nsegs++];
        /* Strict mode keeps a trailing slash as an empty last segment. */
        if (strict && slash == NULL && *s == '\0') {
            *seg = (struct router_seg){ ROUTER_SEG_LITERAL, s, 0, 0 };
            return number_params(rt);
        }
        const char *why = parse_seg(s, seg);
        if (why)
            return why;
        if (slash == NULL)
            return number_params(rt);
    }
}

int router_add(router *r, unsigned methods, const char *pattern,
               void *handler, void *arg)
{
    if (pattern == NULL || strlen(pattern) > ROUTER_MAX_PATTERN)
        return add_fail(r, pattern, "missing or too long");
    if ((methods & ROUTER_ANY) == 0)
        return add_fail(r, pattern, "no method");
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        struct router_route *nr = realloc(r->routes, ncap * sizeof(*nr));
        if (nr == NULL)
            return errno = ENOMEM, -1;
        r->routes = nr;
        r->cap = ncap;
    }
    struct router_route *rt = &r->routes[r->n];
    memset(rt, 0, sizeof(*rt));
    const char *why = compile(rt, pattern, r->flags & ROUTER_STRICT);
    if (why == NULL && (rt->pattern = strdup(pattern)) == NULL)
        why = "out of memory";
    if (why) {
        free(rt->text);
        free(rt->segs);
        free(rt->pattern);
        return add_fail(r, pattern, why);
    }
    rt->methods = methods & ROUTER_ANY;
    rt->handler = handler;
    rt->arg = arg;
    r->n++;
    return 0;
}

/* --- matching --- */

static bool literal_eq(const struct match_ctx *m, const struct router_seg *seg,
                       const struct path_seg *p)
{
    if (seg->len != p->len)
        return false;
    const char *t = m->path + p->start;
    return m->case_sensitive ? memcmp(seg->text, t, p->len) == 0
                             : strncasecmp(seg->text, t, p->len) == 0;
}

static bool match_from(struct match_ctx *m, size_t i, size_t j);

/* A parameter taking between lo and hi segments from j, most first (the
 * greedy choice of a regular expression), backtracking on failure. */
static bool match_param(struct match_ctx *m, size_t i, size_t j, size_t lo, size_t hi)
{
    const struct router_seg *seg = &m->rt->segs[i];
    size_t avail = 0;
    while (j + avail < m->nps && avail < hi && m->ps[j + avail].len > 0)
        avail++;                       /* empty segments never match */
    for (size_t k = avail + 1; k-- > lo;) {
        m->cap_a[seg->param] = j;
        m->cap_b[seg->param] = j + k;
        if (match_from(m, i + 1, j + k))
            return true;
        if (m->budget == 0)
            return false;
    }
    return false;
}

static bool match_from(struct match_ctx *m, size_t i, size_t j)
{
    if (m->budget == 0)
        return false;
    m->budget--;
    if (i == m->rt->nsegs)
        return j == m->nps;
    const struct router_seg *seg = &m->rt->segs[i];
    size_t rest = m->nps - j;
    switch (seg->kind) {
    case ROUTER_SEG_LITERAL:
        return j < m->nps && literal_eq(m, seg, &m->ps[j]) && match_from(m, i + 1, j + 1);
    case ROUTER_SEG_ONE:      return match_param(m, i, j, 1, 1);
    case ROUTER_SEG_OPTIONAL: return match_param(m, i, j, 0, 1);
    case ROUTER_SEG_PLUS:     return match_param(m, i, j, 1, rest);
    case ROUTER_SEG_STAR:     return match_param(m, i, j, 0, rest);
    }
    return false;
}

/* Copies the path into m->storage (one trailing slash dropped unless
 * strict) and splits it.  Returns the segment count or -1. */
static long split_path(const char *path, bool strict, struct router_match *m,
                       struct path_seg *ps)
{
    size_t len = path ? strlen(path) : 0;
    if (len == 0 || path[0] != '/' || len > ROUTER_MAX_PATH)
        return -1;
    if (!strict && len > 1 && path[len - 1] == '/')
        len--;
    memcpy(m->storage, path, len);
    m->storage[len] = '\0';
    if (len == 1)
        return 0;
    long n = 0;
    for (size_t i = 1; i <= len; n++) {
        if (n == ROUTER_MAX_SEGMENTS)
            return -1;
        const char *slash = memchr(m->storage + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - m->storage) : len;
        ps[n] = (struct path_seg){ i, end - i };
        i = end + 1;
    }
    return n;
}

/* Publishes the winner's captures as NUL-terminated values: each capture
 * ends at a '/' or at the end of storage, and captures never overlap, so
 * cutting at that separator is safe. */
static void fill_params(struct router_match *m, const struct match_ctx *c,
                        const struct path_seg *ps)
{
    m->nparams = 0;
    for (size_t i = 0; i < c->rt->nsegs; i++) {
        const struct router_seg *seg = &c->rt->segs[i];
        if (seg->kind == ROUTER_SEG_LITERAL)
            continue;
        size_t a = c->cap_a[seg->param], b = c->cap_b[seg->param];
        if (a == b)
            continue;
        m->storage[ps[b - 1].start + ps[b - 1].len] = '\0';
        m->params[m->nparams++] = (struct router_param){ seg->text, m->storage + ps[a].start };
    }
}

static unsigned with_head(unsigned methods)
{
    if (methods & ROUTER_METHOD(HTTP_M_GET))
        methods |= ROUTER_METHOD(HTTP_M_HEAD);
    return methods;
}

enum router_result router_match(const router *r, enum http_method method,
                                const char *path, struct router_match *m)
{
    struct path_seg ps[ROUTER_MAX_SEGMENTS];
    m->handler = m->arg = NULL;
    m->pattern = NULL;
    m->allow = 0;
    m->nparams = 0;
    long nps = split_path(path, r->flags & ROUTER_STRICT, m, ps);
    if (nps < 0)
        return ROUTER_NOT_FOUND;
    for (size_t i = 0; i < r->n; i++) {
        const struct router_route *rt = &r->routes[i];
        struct match_ctx c = { .rt = rt, .path = m->storage, .ps = ps,
                               .nps = (size_t)nps, .budget = ROUTER_MAX_STEPS,
                               .case_sensitive = r->flags & ROUTER_CASE_SENSITIVE };
        if (!match_from(&c, 0, 0))
            continue;
        unsigned methods = with_head(rt->methods);
        m->allow |= methods;
        if ((unsigned)method < HTTP_M__COUNT && (methods & ROUTER_METHOD(method))) {
            m->handler = rt->handler;
            m->arg = rt->arg;
            m->pattern = rt->pattern;
            fill_params(m, &c, ps);
            return ROUTER_FOUND;
        }
    }
    return m->allow ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
}

const char *router_param(const struct router_match *m, const char *name)
{
    for (size_t i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return m->params[i].value;
    return NULL;
}

unsigned router_methods_parse(const char *list)
{
    unsigned mask = 0;
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == 0)
            break;
        if ((n == 1 && *p == '*') || (n == 3 && strncasecmp(p, "ANY", 3) == 0)) {
            mask |= ROUTER_ANY;
        } else {
            char up[16];
            if (n >= sizeof(up))
                return 0;
            for (size_t i = 0; i < n; i++)
                up[i] = (p[i] >= 'a' && p[i] <= 'z') ? (char)(p[i] - 32) : p[i];
            enum http_method m = http_method_parse(up, n);
            if (m == HTTP_M_UNKNOWN)
                return 0;
            mask |= ROUTER_METHOD(m);
        }
        p += n;
    }
    return mask;
}

char *router_allow_format(unsigned mask, char *out, size_t size)
{
    size_t o = 0;
    if (size == 0)
        return out;
    out[0] = '\0';
    for (int m = 1; m < HTTP_M__COUNT; m++) {
        if (!(mask & ROUTER_METHOD(m)))
            continue;
        int w = snprintf(out + o, size - o, "%s%s", o ? ", " : "",
                         http_method_name((enum http_method)m));
        if (w < 0 || (size_t)w >= size - o)
            break;
        o += (size_t)w;
    }
    return out;
}
