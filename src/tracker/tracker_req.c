/*
 * tracker_req.c - what every tracker handler needs: the caller's session,
 * the JSON body and its fields, and the answers (every one of them counted
 * for /metrics).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tracker.h"
#include "weaprous/log.h"

void tracker_count_status(struct tracker *tr, int status)
{
    for (size_t i = 0; i < TRACKER_STATUS_SLOTS; i++) {
        if (tr->m.responses[i].status == status || tr->m.responses[i].status == 0) {
            tr->m.responses[i].status = status;
            tr->m.responses[i].n++;
            return;
        }
    }
    /* More distinct statuses than slots: not counted (cannot happen with
     * the statuses this tracker sends). */
}

json_writer *tracker_json(http_txn *t)
{
    return app_json_begin(t);
}

void tracker_reply(struct tracker *tr, http_txn *t, int status)
{
    tracker_count_status(tr, status);
    app_json_end(t, status);
}

void tracker_error(struct tracker *tr, http_txn *t, int status, const char *error,
                   const char *detail)
{
    tracker_count_status(tr, status);
    app_json_error(t, status, error, detail);
}

void tracker_store_error(struct tracker *tr, http_txn *t, const char *what)
{
    log_warnx("%s: %s", what, db_errmsg(tr->store));
    if (db_errcode(tr->store) == DB_E_BUSY) {
        /* Another process holds the write lock: worth retrying soon. */
        http_txn_add_header(t, "Retry-After", "1");
        tracker_error(tr, t, 503, "service unavailable", "the database is busy");
        return;
    }
    tracker_error(tr, t, 500, "internal error", "database failure");
}

void tracker_finish(struct tracker *tr, http_txn *t, int rc, const char *what)
{
    if (rc < 0)
        tracker_store_error(tr, t, what);
    else
        tracker_reply(tr, t, 200);
}

const char *tracker_token(http_txn *t)
{
    const char *h = http_txn_header(t, "Authorization");
    if (h) {
        /* RFC 6750: "Bearer" (any case), one or more spaces, the token. */
        if (strncasecmp(h, "Bearer ", 7) != 0)
            return NULL;
        h += 7;
        while (*h == ' ')
            h++;
        return *h ? h : NULL;
    }
    return app_cookie(t, TRACKER_SESSION_COOKIE);
}

int tracker_auth(struct tracker *tr, http_txn *t, struct tracker_user *u)
{
    const char *token = tracker_token(t);
    struct db_session s;
    if (token && db_session_lookup(tr->store, token, &s) == 0) {
        u->id = s.user_id;
        snprintf(u->name, sizeof(u->name), "%s", s.user_name);
        return 0;
    }
    if (token && db_errcode(tr->store) != DB_E_NOTFOUND) {
        tracker_store_error(tr, t, "session lookup");
        return -1;
    }
    http_txn_add_header(t, "WWW-Authenticate", "Bearer realm=\"weaprous-tracker\"");
    tracker_error(tr, t, 401, "unauthorized",
                  token ? "the session is unknown or expired: POST /login again"
                        : "log in first: POST /login, then send the session cookie"
                          " or Authorization: Bearer TOKEN");
    return -1;
}

int tracker_body(struct tracker *tr, http_txn *t, const json_value **root, bool required)
{
    size_t len = 0;
    *root = NULL;
    http_txn_body(t, &len);
    if (len == 0 && !required)
        return 0;
    /* The type and size are checked here, before app_json_body() would,
     * so that every answer is counted; only a parse error is left to it. */
    if (!app_is_json(t)) {
        tracker_error(tr, t, 415, "unsupported media type",
                      "expected Content-Type: application/json");
        return -1;
    }
    if (len > TRACKER_MAX_BODY) {
        tracker_error(tr, t, 413, "payload too large", "the body is over 8192 bytes");
        return -1;
    }
    if (app_json_body(t, root) < 0) {
        tracker_count_status(tr, 400);
        return -1;
    }
    if (json_type(*root) != JSON_OBJECT) {
        tracker_error(tr, t, 422, "unprocessable entity", "the body must be a JSON object");
        return -1;
    }
    return 0;
}

int tracker_str(http_txn *t, const json_value *root, const char *key,
                size_t max, const char **out, struct tracker *tr)
{
    const json_value *v = json_get(root, key);
    size_t len = 0;
    char detail[160];
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    const char *s = json_str(v, &len);
    if (s && len > 0 && len <= max && memchr(s, '\0', len) == NULL) {
        *out = s;
        return 1;
    }
    snprintf(detail, sizeof(detail), "\"%s\" must be a string of 1 to %zu bytes", key, max);
    tracker_error(tr, t, 422, "unprocessable entity", detail);
    return -1;
}

int tracker_body_need(struct tracker *tr, http_txn *t, const json_value **root,
                      const char *key, size_t max, const char **out,
                      const char *missing)
{
    int r;
    if (tracker_body(tr, t, root, true) < 0
        || (r = tracker_str(t, *root, key, max, out, tr)) < 0)
        return -1;
    if (r == 0) {
        tracker_error(tr, t, 400, "bad request", missing);
        return -1;
    }
    return 0;
}

int tracker_begin_json(struct tracker *tr, http_txn *t, struct tracker_user *u,
                       const json_value **root, const char *key, size_t max,
                       const char **out, const char *missing)
{
    if (tracker_auth(tr, t, u) < 0)
        return -1;
    return tracker_body_need(tr, t, root, key, max, out, missing);
}

bool tracker_channel_name_valid(const char *name)
{
    return db_name_valid(name, TRACKER_MAX_CHANNEL, "_-");
}

/* ---- the failure limiter ---- */

static void limit_key(char key[RL_MAX_KEY], enum tracker_limit what, const char *subject)
{
    static const char prefix[TRACKER_LIMIT__COUNT] = {
        [TRACKER_LIMIT_LOGIN] = 'l', [TRACKER_LIMIT_SIGNUP] = 'r',
        [TRACKER_LIMIT_CHANNEL] = 'p',
    };
    snprintf(key, RL_MAX_KEY, "%c:%s", prefix[what], subject);
}

bool tracker_limited(struct tracker *tr, http_txn *t, enum tracker_limit what,
                     const char *subject)
{
    static const char *const detail[TRACKER_LIMIT__COUNT] = {
        [TRACKER_LIMIT_LOGIN] = "too many failed logins from this address; try again later",
        [TRACKER_LIMIT_SIGNUP] = "too many refused sign-ups from this address; try again later",
        [TRACKER_LIMIT_CHANNEL] = "too many wrong channel passwords; try again later",
    };
    char key[RL_MAX_KEY], retry[24];
    limit_key(key, what, subject);
    int64_t wait = rl_wait(tr->limiter, key, db_now(tr->store));
    if (wait <= 0)
        return false;
    tr->m.limited[what]++;
    snprintf(retry, sizeof(retry), "%lld", (long long)wait);
    http_txn_add_header(t, "Retry-After", retry);
    tracker_error(tr, t, 429, "too many requests", detail[what]);
    return true;
}

void tracker_failed(struct tracker *tr, enum tracker_limit what, const char *subject)
{
    char key[RL_MAX_KEY];
    limit_key(key, what, subject);
    rl_fail(tr->limiter, key, db_now(tr->store));
}
