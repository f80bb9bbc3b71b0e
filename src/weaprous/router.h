/*
 * router.h - maps (method, path) to a handler with named path parameters.
 *
 * Pattern syntax (the path-to-regexp rules Express 4 uses, one parameter
 * per whole segment):
 *   /abc          literal segment
 *   /:name        exactly one non-empty segment
 *   /:name?       zero or one segment
 *   /:name+       one or more segments (value: the segments joined by '/')
 *   /:name*       zero or more segments
 * Names are [A-Za-z0-9_]+, unique within a pattern.  Literal segments may
 * not contain ':' '*' '?' '+' '(' ')' (reserved, so a typo is an error, not
 * a silent literal).  "/" alone matches the root.
 *
 * Matching rules:
 *  - routes are tried in registration order; the first one whose pattern
 *    and method both match wins (Express);
 *  - the path is the server's percent-DECODED path, so parameter values are
 *    decoded segments (an encoded "%2F" therefore acts as a separator);
 *  - one trailing slash is ignored on both sides ("/a/" matches "/a") unless
 *    the router is ROUTER_STRICT (Express's non-strict default);
 *  - literal segments compare ASCII case-insensitively unless the router is
 *    ROUTER_CASE_SENSITIVE (Express's default again);
 *  - empty segments ("//") never match a parameter;
 *  - a GET route also answers HEAD (the server then sends no body);
 *  - when the path matches routes but none for the method, the result is
 *    ROUTER_METHOD_NOT_ALLOWED with the union of their methods in `allow`.
 * Greedy "+"/"*" matching backtracks, bounded by ROUTER_MAX_STEPS per route:
 * a pattern that would need more is treated as not matching.
 */
#ifndef WEAPROUS_ROUTER_H
#define WEAPROUS_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "weaprous/api.h"
#include "weaprous/http.h"

WR_API_BEGIN

#define ROUTER_MAX_PATTERN  512    /* pattern bytes -> router_add fails */
#define ROUTER_MAX_SEGMENTS 64     /* per pattern (add fails) and per path (no match) */
#define ROUTER_MAX_PARAMS   16     /* per pattern -> router_add fails */
#define ROUTER_MAX_PATH     4096   /* longer paths match nothing */
#define ROUTER_MAX_STEPS    10000  /* backtracking budget per route and path */

/* Method masks: one bit per enum http_method. */
#define ROUTER_METHOD(m)  (1u << (m))
#define ROUTER_ANY        (((1u << HTTP_M__COUNT) - 1u) & ~1u)

/* router_new() flags */
#define ROUTER_STRICT          0x1   /* trailing slash is significant */
#define ROUTER_CASE_SENSITIVE  0x2   /* literal segments compare exactly */

enum router_result {
    ROUTER_FOUND = 0,
    ROUTER_NOT_FOUND,
    ROUTER_METHOD_NOT_ALLOWED
};

typedef struct router router;

struct router_param {
    const char *name;    /* as in the pattern, without ':' */
    const char *value;   /* decoded, NUL-terminated, never empty */
};

/* Filled by router_match(); self-contained (values live in `storage`). */
struct router_match {
    void       *handler;
    void       *arg;
    const char *pattern;   /* the winning route's pattern, for logs */
    unsigned    allow;     /* on 405: every method accepted for this path */
    size_t      nparams;   /* parameters that matched at least one segment */
    struct router_param params[ROUTER_MAX_PARAMS];
    char        storage[ROUTER_MAX_PATH + 1];
};

/* flags: ROUTER_STRICT | ROUTER_CASE_SENSITIVE, or 0.  NULL on ENOMEM. */
router *router_new(unsigned flags);
void router_free(router *r);

/* Registers pattern for the methods in `methods` (ROUTER_METHOD bits or
 * ROUTER_ANY).  Returns 0, or -1 with router_error() saying what is wrong
 * with the pattern (errno EINVAL) or ENOMEM. */
int router_add(router *r, unsigned methods, const char *pattern,
               void *handler, void *arg);
/* Text of the last router_add() failure. */
const char *router_error(const router *r);
size_t router_count(const router *r);

/* Matches method and path (decoded, starting with '/'); fills *m on
 * ROUTER_FOUND (handler, arg, params), and m->allow on
 * ROUTER_METHOD_NOT_ALLOWED (on FOUND it only holds the routes tried so
 * far: the search stops at the winner). */
enum router_result router_match(const router *r, enum http_method method,
                                const char *path, struct router_match *m);
/* Value of the named parameter, or NULL when it matched nothing. */
const char *router_param(const struct router_match *m, const char *name);

/* Parses "GET,POST" (commas, optional spaces, any case; "*" or "ANY" for
 * ROUTER_ANY) into a mask; 0 when a name is unknown or the list is empty. */
unsigned router_methods_parse(const char *list);
/* Formats a mask as an Allow field value ("GET, HEAD, POST") into out;
 * returns out ("" for an empty mask). */
char *router_allow_format(unsigned mask, char *out, size_t size);

WR_API_END

#endif
