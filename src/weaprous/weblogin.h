/*
 * weblogin.h - cookie-session login and access control for the backend
 * (the assignment's Task 1A/1B, DESIGN.md section 6).
 *
 *   POST /login    form (application/x-www-form-urlencoded) or JSON with
 *                  username and password.  Valid: 200 with www/index.html,
 *                  Set-Cookie auth=true and session=<256-bit token> (HttpOnly,
 *                  SameSite=Lax, Path=/, Max-Age = session lifetime).
 *                  Invalid (unknown user, wrong password, disabled): 401 with
 *                  www/401.html, the same answer for each.  Failed attempts
 *                  are limited per client address and per account: beyond
 *                  the limit, 429 with Retry-After.
 *   POST /logout   deletes the session server-side, expires both cookies,
 *                  303 to /login.html.
 *   GET|HEAD / and /index.html
 *                  valid session: the index page; otherwise 401 with the
 *                  login form.  The bare cookie auth=true is enough only with
 *                  the assignment-compatibility switch on.
 *   GET /login     the login page.
 * POSTs carrying an Origin field must come from the Host they are sent to
 * (403 otherwise): a cross-site form cannot log a browser in or out.
 * Everything else (login.html, 401.html, css, images) is the caller's.
 */
#ifndef WEAPROUS_WEBLOGIN_H
#define WEAPROUS_WEBLOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "weaprous/api.h"
#include "weaprous/db.h"
#include "weaprous/server.h"
#include "weaprous/static.h"

WR_API_BEGIN

#define WEBLOGIN_RATE_MAX     5      /* default failed logins per window -> 429 */
#define WEBLOGIN_RATE_WINDOW  60     /* default window, seconds */
#define WEBLOGIN_RATE_SLOTS   4096   /* addresses + accounts tracked at once */
#define WEBLOGIN_MAX_BODY     8192   /* login request body bytes -> 413 */
#define WEBLOGIN_MAX_KEY      80     /* rate-limit key: "a:" address or "u:" name */
#define WEBLOGIN_PURGE_INTERVAL 3600 /* seconds between purges of expired sessions */
#define WEBLOGIN_BUSY_RETRY   2      /* Retry-After (s) when the store is busy: 503 */

struct weblogin_config {
    bool     compat_auth_cookie;  /* bare auth=true grants access (off by default) */
    bool     secure_cookies;      /* add Secure (when served over TLS) */
    unsigned rate_max;            /* 0: WEBLOGIN_RATE_MAX */
    unsigned rate_window;         /* seconds; 0: WEBLOGIN_RATE_WINDOW */
};

typedef struct weblogin weblogin;

/* Creates the login layer over an open store and the page context that
 * holds www/ (index.html, 401.html, login.html).  Borrows both: they must
 * outlive it (see weblogin_set_pages for reloads).  cfg may be NULL.
 * NULL on allocation failure. */
weblogin *weblogin_new(db *store, static_ctx *pages, const struct weblogin_config *cfg);
void weblogin_free(weblogin *w);
/* Points at a new page context (after a configuration reload). */
void weblogin_set_pages(weblogin *w, static_ctx *pages);

/* Handles t when it is a login, a logout or a protected page, and returns
 * true after completing it; returns false, t untouched, for any other
 * request (public pages and assets: the caller serves them). */
bool weblogin_handle(weblogin *w, http_txn *t);

/* Finds the live session of t: "Authorization: Bearer <token>" (clients
 * that are not browsers) or else the session cookie.  1 with *s filled, 0
 * when there is none (or it is unknown/expired), -1 when the store failed
 * (answer 503). */
int weblogin_session(weblogin *w, http_txn *t, struct db_session *s);

/* Finds the value of cookie `name` in a Cookie field value; copies at most
 * cap-1 bytes into out.  true when present (and not truncated). */
bool weblogin_cookie(const char *header, const char *name, char *out, size_t cap);
/* True when Origin (may be NULL: absent) names the same host[:port] as Host. */
bool weblogin_origin_ok(const char *origin, const char *host);

WR_API_END

#endif
