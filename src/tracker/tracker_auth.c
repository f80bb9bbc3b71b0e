/*
 * tracker_auth.c - POST /login, POST /logout, POST /register.  Failed
 * logins and refused sign-ups are counted per client address by the
 * failure limiter (tracker_limited: 429 with Retry-After).
 * Accounts and sessions are the store's (the backend shares them).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tracker.h"
#include "weaprous/log.h"

/* ---- credentials from a JSON or form body ---- */

/* username and password of a login or sign-up: 0, or -1 after answering. */
static int auth_fields(struct tracker *tr, http_txn *t, const char **name,
                       const char **pass)
{
    size_t len = 0;
    http_txn_body(t, &len);
    if (app_is_json(t)) {
        const json_value *root;
        if (tracker_body(tr, t, &root, true) < 0
            || tracker_str(t, root, "username", DB_MAX_PASSWORD, name, tr) < 0
            || tracker_str(t, root, "password", DB_MAX_PASSWORD, pass, tr) < 0)
            return -1;
    } else if (len > TRACKER_MAX_BODY) {
        tracker_error(tr, t, 413, "payload too large", "the body is over 8192 bytes");
        return -1;
    } else {
        const char *ct = http_txn_header(t, "Content-Type");
        if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
            tracker_error(tr, t, 415, "unsupported media type",
                          "send JSON or application/x-www-form-urlencoded");
            return -1;
        }
        *name = app_form(t, "username");
        *pass = app_form(t, "password");
    }
    if (!*name || !*pass) {
        tracker_error(tr, t, 400, "bad request", "username and password are required");
        return -1;
    }
    return 0;
}

/* Starts a session for u and answers status with the token, in the JSON
 * answer (for peers: Authorization: Bearer) and in a cookie (browsers). */
static void auth_session(struct tracker *tr, http_txn *t, const struct db_user *u,
                         int status)
{
    char token[DB_TOKEN_HEX_LEN + 1];
    int64_t expires = 0;
    if (db_session_create(tr->store, u->id, token, &expires) < 0) {
        tracker_store_error(tr, t, "session create");
        return;
    }
    struct app_cookie_opts co = {
        .max_age = db_session_lifetime(tr->store), .path = "/",
        .http_only = true, .same_site = APP_SAMESITE_LAX,
    };
    app_set_cookie(t, TRACKER_SESSION_COOKIE, token, &co);
    json_writer *w = tracker_json(t);
    json_w_begin_object(w);
    json_w_key(w, "user");
    json_w_string(w, u->name);
    json_w_key(w, "token");
    json_w_string(w, token);
    json_w_key(w, "expires_at");
    json_w_int(w, expires);
    json_w_end_object(w);
    tracker_reply(tr, t, status);
}

/* POST /login {username, password} (JSON or form). */
static void auth_login(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    const char *name, *pass, *addr = http_txn_remote_addr(t);
    if (tracker_limited(tr, t, TRACKER_LIMIT_LOGIN, addr) || auth_fields(tr, t, &name, &pass) < 0)
        return;
    struct db_user u;
    switch (db_user_check_password(tr->store, name, pass, &u)) {
    case DB_AUTH_OK:
        tr->m.logins_ok++;
        auth_session(tr, t, &u, 200);
        return;
    case DB_AUTH_DISABLED:
        tracker_error(tr, t, 403, "forbidden", "this account is disabled");
        return;
    case DB_AUTH_BAD:
        tr->m.logins_failed++;
        tracker_failed(tr, TRACKER_LIMIT_LOGIN, addr);
        log_info("failed login for '%.32s' from %s", name, addr);
        tracker_error(tr, t, 401, "unauthorized", "invalid username or password");
        return;
    case DB_AUTH_ERROR:
    default:
        tracker_store_error(tr, t, "login");
        return;
    }
}

/* POST /register {username, password}: a new account, logged in (201). */
static void auth_register(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    const char *name, *pass, *addr = http_txn_remote_addr(t);
    struct db_user u;
    if (!tr->cfg.allow_signup) {
        tracker_error(tr, t, 403, "forbidden",
                      "sign-up is disabled on this tracker (--allow-signup)");
        return;
    }
    if (tracker_limited(tr, t, TRACKER_LIMIT_SIGNUP, addr) || auth_fields(tr, t, &name, &pass) < 0)
        return;
    if (db_user_add(tr->store, name, pass) < 0 || db_user_get(tr->store, name, &u) < 0) {
        /* A taken name tells that the account exists: refusals are
         * counted, so that nobody lists the accounts by trying names. */
        switch (db_errcode(tr->store)) {
        case DB_E_EXISTS:
            tracker_failed(tr, TRACKER_LIMIT_SIGNUP, addr);
            tracker_error(tr, t, 409, "conflict", "this user name is taken");
            return;
        case DB_E_INVALID:
            tracker_failed(tr, TRACKER_LIMIT_SIGNUP, addr);
            tracker_error(tr, t, 422, "unprocessable entity",
                          "user name: 1-32 of A-Z a-z 0-9 . _ - starting with a"
                          " letter or digit; password: 1-1024 bytes");
            return;
        default:
            tracker_store_error(tr, t, "register");
            return;
        }
    }
    tr->m.registrations++;
    log_info("new account '%s' from %s", u.name, http_txn_remote_addr(t));
    auth_session(tr, t, &u, 201);
}

/* POST /logout: ends the session and takes the caller's peer off the list. */
static void auth_logout(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct tracker_user u;
    if (tracker_auth(tr, t, &u) < 0)
        return;
    int stopped = tracker_db_peer_stop(tr, u.id);
    if (stopped < 0 || db_session_delete(tr->store, tracker_token(t)) < 0) {
        tracker_store_error(tr, t, "logout");
        return;
    }
    struct app_cookie_opts co = { .max_age = 0, .path = "/", .http_only = true,
                                  .same_site = APP_SAMESITE_LAX };
    app_set_cookie(t, TRACKER_SESSION_COOKIE, "", &co);
    json_writer *w = tracker_json(t);
    json_w_begin_object(w);
    json_w_key(w, "logged_out");
    json_w_bool(w, true);
    json_w_key(w, "peer_removed");
    json_w_bool(w, stopped > 0);
    json_w_end_object(w);
    tracker_reply(tr, t, 200);
}

int tracker_auth_routes(struct tracker *tr)
{
    if (app_route(tr->app, "POST", "/login", auth_login, tr) < 0
        || app_route(tr->app, "POST", "/register", auth_register, tr) < 0
        || app_route(tr->app, "POST", "/logout", auth_logout, tr) < 0)
        return -1;
    return 0;
}
