/*
 * peer_api.c - the local JSON API of the peer for its user's browser
 * (docs/API.md, "Peer"): sign-in forwarded to the tracker, the lists, join,
 * direct links, sending, history, read markers and the /events socket.
 * Every endpoint but POST /login and the static files needs the browser
 * session (cookie `session`, or Authorization: Bearer).  Errors are JSON
 * {"error","detail"}, as on the tracker.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "weaprous/entropy.h"
#include "weaprous/log.h"

#define PEER_COOKIE        "session"
#define PEER_ID_MAX        (DB_MAX_NAME + PEER_CHANNEL_MAX + 24)
#define TRACKER_ANSWER_MAX 8192   /* a join answer kept while members load */

/* ---- helpers ---- */

static struct peer *P(http_txn *t, void *arg)
{
    (void)t;
    return arg;
}

static void bad_gateway(http_txn *t, const struct peer_answer *a)
{
    char detail[160];
    snprintf(detail, sizeof(detail), "the tracker cannot be reached (%s)", peer_answer_detail(a));
    app_json_error(t, a->status == 0 && a->err == ETIMEDOUT ? 504 : 502, "bad gateway", detail);
}

/* Passes a tracker answer on: its status, Retry-After and JSON body. */
static void pass_on(http_txn *t, const struct peer_answer *a)
{
    if (a->status == 0) {
        bad_gateway(t, a);
        return;
    }
    if (a->retry_after > 0)
        http_txn_add_headerf(t, "Retry-After", "%ld", a->retry_after);
    json_writer *w = app_json_begin(t);
    if (a->body)
        json_w_value(w, a->body);
    else {
        json_w_begin_object(w);
        json_w_end_object(w);
    }
    app_json_end(t, a->status);
}

static void on_pass(struct peer *p, const struct peer_answer *a, void *arg)
{
    (void)p;
    pass_on(arg, a);
}

/* A string member of 1..max bytes: 1 found, 0 absent, -1 after 422. */
static int str_field(http_txn *t, const json_value *root, const char *key, size_t max,
                     const char **out)
{
    const json_value *v = json_get(root, key);
    size_t n;
    *out = NULL;
    if (!v)
        return 0;
    const char *s = json_str(v, &n);
    if (!s || n == 0 || n > max || memchr(s, '\0', n)) {
        char detail[96];
        snprintf(detail, sizeof(detail), "\"%s\" must be a string of 1 to %zu bytes", key, max);
        app_json_error(t, 422, "unprocessable entity", detail);
        return -1;
    }
    *out = s;
    return 1;
}

/* The JSON object body with the required string `key`: 0, or -1 after
 * answering (400 absent, 413, 415, 422). */
static int need_field(http_txn *t, const json_value **root, const char *key, size_t max,
                      const char **out)
{
    if (app_json_body(t, root) < 0)
        return -1;
    if (json_type(*root) != JSON_OBJECT) {
        app_json_error(t, 422, "unprocessable entity", "the body must be a JSON object");
        return -1;
    }
    int r = str_field(t, *root, key, max, out);
    if (r == 0) {
        char detail[64];
        snprintf(detail, sizeof(detail), "\"%s\" is required", key);
        app_json_error(t, 400, "bad request", detail);
    }
    return r == 1 ? 0 : -1;
}

static void store_error(struct peer *p, http_txn *t, const char *what)
{
    bool busy = db_errcode(p->db) == DB_E_BUSY;
    log_warnx("%s: %s", what, db_errmsg(p->db));
    if (busy)
        http_txn_add_header(t, "Retry-After", "1");
    app_json_error(t, busy ? 503 : 500, busy ? "service unavailable" : "internal error",
                   "the peer's database failed; see its log");
}

/* A JSON request body for the tracker: {"k1": v1, ...} from string pairs
 * (NULL values left out), escaped; NULL when it does not fit. */
static char *json_pairs(buf *b, const char *const *kv, size_t n)
{
    json_writer w;
    json_w_init(&w, b);
    json_w_begin_object(&w);
    for (size_t i = 0; i + 1 < n; i += 2) {
        if (!kv[i + 1])
            continue;
        json_w_key(&w, kv[i]);
        json_w_string(&w, kv[i + 1]);
    }
    json_w_end_object(&w);
    if (json_w_finish(&w) < 0 || buf_append(b, "", 1) < 0)
        return NULL;
    return buf_ptr(b);
}

/* Forwards a call to the tracker with the txn as the callback's argument;
 * answers 502 itself when the call cannot start. */
static void forward(struct peer *p, http_txn *t, const char *method, const char *target,
                    const char *json, peer_call_cb cb)
{
    if (!peer_tracker_call(p, method, target, json, cb, t)) {
        struct peer_answer a = { 0, errno, NULL, 0 };
        bad_gateway(t, &a);
    }
}

/* ---- the session ---- */

static const char *request_token(http_txn *t)
{
    const char *auth = http_txn_header(t, "Authorization");
    if (auth && strncmp(auth, "Bearer ", 7) == 0)
        return auth + 7;
    return app_cookie(t, PEER_COOKIE);
}

/* Cross-site requests: a page of another origin must not drive the API
 * with the user's cookie (SameSite=Strict already stops most). */
static bool same_origin(http_txn *t)
{
    const char *origin = http_txn_header(t, "Origin");
    const char *host = http_txn_header(t, "Host");
    if (!origin || strcmp(origin, "null") == 0)
        return origin == NULL;
    return host && strncmp(origin, "http://", 7) == 0 && strcmp(origin + 7, host) == 0;
}

static enum app_hook_result require_session(http_txn *t, void *arg)
{
    struct peer *p = arg;
    const char *token = request_token(t);
    int r = token && strlen(token) == DB_TOKEN_HEX_LEN ? peer_store_session_check(p, token) : 0;
    if (r < 0) {
        store_error(p, t, "session");
        return APP_HOOK_DONE;
    }
    if (r == 0 || !peer_signed_in(p)) {
        http_txn_add_header(t, "WWW-Authenticate", "Bearer realm=\"weaprous-peer\"");
        app_json_error(t, 401, "unauthorized", "sign in first: POST /login");
        return APP_HOOK_DONE;
    }
    if (!same_origin(t)) {
        app_json_error(t, 403, "forbidden", "cross-origin request");
        return APP_HOOK_DONE;
    }
    return APP_HOOK_NEXT;
}

/* ---- POST /login, POST /logout, GET /me ---- */

static void login_session(struct peer *p, http_txn *t)
{
    char token[DB_TOKEN_HEX_LEN + 1];
    int64_t expires = db_now(p->db) + PEER_SESSION_LIFETIME;
    if (entropy_hex(token, DB_TOKEN_BYTES) < 0
        || peer_store_session_add(p, token, expires) < 0) {
        store_error(p, t, "browser session");
        return;
    }
    struct app_cookie_opts co = { .max_age = PEER_SESSION_LIFETIME, .path = "/",
                                  .http_only = true, .same_site = APP_SAMESITE_STRICT };
    app_set_cookie(t, PEER_COOKIE, token, &co);
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    json_w_key(w, "user");
    json_w_string(w, p->user);
    json_w_key(w, "token");
    json_w_string(w, token);
    json_w_end_object(w);
    app_json_end(t, 200);
}

/* Conversations of the store not yet followed in memory (direct ones:
 * channels come from the tracker's list). */
static int follow_conv(const char *channel, const char *kind, const char *access,
                       const char *peer, int64_t unread, int64_t last, void *arg)
{
    struct peer *p = arg;
    (void)access; (void)peer; (void)unread; (void)last;
    if (strcmp(kind, "dm") == 0 && !peer_chan_get(p, channel))
        log_warnx("following %s: %s", channel, strerror(errno));
    return 0;
}

void peer_api_resume(struct peer *p)
{
    if (peer_store_conv_list(p, follow_conv, p) < 0)
        log_warnx("conversations: %s", db_errmsg(p->db));
    int64_t l = peer_store_lamport(p);
    if (l > 0 && (uint64_t)l > p->lamport)
        p->lamport = (uint64_t)l;
    peer_tracker_online(p);
}

static void on_login(struct peer *p, const struct peer_answer *a, void *arg)
{
    http_txn *t = arg;
    const char *user = json_get_str(a->body, "user"), *token = json_get_str(a->body, "token");
    int64_t expires = 0;
    if (a->status != 200 || !user || !token || strlen(token) != DB_TOKEN_HEX_LEN
        || !db_user_name_valid(user)) {
        pass_on(t, a);
        return;
    }
    if (p->user[0] && strcmp(p->user, user) != 0) {
        char detail[160];
        snprintf(detail, sizeof(detail), "this peer belongs to %s; run another peer"
                 " (with its own --db) for %s", p->user, user);
        app_json_error(t, 409, "conflict", detail);
        return;
    }
    json_int(json_get(a->body, "expires_at"), &expires);
    if (peer_store_set_identity(p, user, token, expires) < 0) {
        store_error(p, t, "identity");
        return;
    }
    bool first = !p->user[0];
    snprintf(p->user, sizeof(p->user), "%s", user);
    snprintf(p->token, sizeof(p->token), "%s", token);
    log_info("%s signed in%s", user, first ? " (first time on this peer)" : "");
    login_session(p, t);
    peer_api_resume(p);
}

static void api_login(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    const char *user, *pass;
    const json_value *root = NULL;
    if (app_is_json(t)) {
        if (app_json_body(t, &root) < 0)
            return;
        user = json_get_str(root, "username");
        pass = json_get_str(root, "password");
    } else {
        user = app_form(t, "username");
        pass = app_form(t, "password");
    }
    if (!user || !pass) {
        app_json_error(t, 400, "bad request", "\"username\" and \"password\" are required");
        return;
    }
    buf b;
    buf_init(&b, 4096);
    const char *kv[] = { "username", user, "password", pass };
    const char *json = json_pairs(&b, kv, 4);
    if (!json)
        app_json_error(t, 413, "payload too large", "username or password too long");
    else
        forward(p, t, "POST", "/login", json, on_login);
    buf_free(&b);
}

static void api_logout(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    const char *token = request_token(t);
    if (token)
        peer_store_session_del(p, token);
    peer_tracker_signout(p);
    struct app_cookie_opts co = { .max_age = 0, .path = "/", .http_only = true,
                                  .same_site = APP_SAMESITE_STRICT };
    app_set_cookie(t, PEER_COOKIE, "", &co);
    app_send(t, 200, "application/json", "{\"logged_out\":true}", 19);
}

static void api_me(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    json_w_key(w, "user");
    json_w_string(w, p->user);
    json_w_key(w, "registered");
    json_w_bool(w, p->registered);
    json_w_key(w, "p2p_port");
    json_w_int(w, p->p2p_port);
    json_w_key(w, "links");
    json_w_uint(w, p->nlinks);
    json_w_end_object(w);
    app_json_end(t, 200);
}

/* ---- GET /get-list ---- */

/* The tracker's list with "link" added to each peer. */
static void on_get_list(struct peer *p, const struct peer_answer *a, void *arg)
{
    http_txn *t = arg;
    if (a->status != 200) {
        pass_on(t, a);
        return;
    }
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    for (size_t i = 0; i < json_len(a->body); i++) {
        const char *key;
        const json_value *v = json_member(a->body, i, &key, NULL);
        json_w_key(w, key);
        if (strcmp(key, "peers") != 0 || json_type(v) != JSON_ARRAY) {
            json_w_value(w, v);
            continue;
        }
        json_w_begin_array(w);
        for (size_t j = 0; j < json_len(v); j++) {
            const json_value *e = json_index(v, j);
            const char *user = json_get_str(e, "user");
            json_w_begin_object(w);
            for (size_t k = 0; k < json_len(e); k++) {
                const char *ek;
                const json_value *ev = json_member(e, k, &ek, NULL);
                json_w_key(w, ek);
                json_w_value(w, ev);
            }
            json_w_key(w, "link");
            json_w_string(w, user && strcmp(user, p->user) != 0 ? peer_link_word(p, user)
                                                                 : "none");
            json_w_end_object(w);
        }
        json_w_end_array(w);
    }
    json_w_end_object(w);
    if (!app_query(t, "channel"))
        peer_mesh_update(p, json_get(a->body, "peers"));
    app_json_end(t, 200);
}

static void api_get_list(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    char target[128];
    const char *ch = app_query(t, "channel"), *all = app_query(t, "all");
    if (ch && !db_name_valid(ch, 32, "_-")) {
        app_json_error(t, 422, "unprocessable entity", "invalid channel name");
        return;
    }
    snprintf(target, sizeof(target), "/get-list%s%s%s", ch ? "?channel=" : all ? "?all=" : "",
             ch ? ch : "", !ch && all ? (strcmp(all, "1") == 0 ? "1" : "0") : "");
    forward(p, t, "GET", target, NULL, on_get_list);
}

/* ---- channels: join, create, invite, leave ---- */

/* A join (or a creation) the tracker accepted: answered once the members
 * are known, so that a message sent right after reaches them. */
struct join {
    http_txn *t;
    int       status;
    buf       answer;       /* the tracker's JSON, passed on */
};

static void join_answer(struct peer *p, void *arg)
{
    struct join *j = arg;
    app_send(j->t, j->status, "application/json", buf_ptr(&j->answer), buf_len(&j->answer));
    buf_free(&j->answer);
    free(j);
    peer_mesh_connect(p);
}

static void on_joined(struct peer *p, const struct peer_answer *a, void *arg)
{
    http_txn *t = arg;
    const char *name = json_get_str(a->body, "channel");
    struct peer_chan *c = NULL;
    if ((a->status != 200 && a->status != 201) || !name || !peer_channel_valid(name)) {
        pass_on(t, a);
        return;
    }
    if (!(c = peer_chan_find(p, name))
        && (peer_store_conv_put(p, name, false, json_get_str(a->body, "access"), NULL) < 0
            || !(c = peer_chan_get(p, name)))) {
        store_error(p, t, "following the channel");
        return;
    }
    c->listed = true;
    c->joined_gen = ++p->member_gen;    /* a list asked before cannot drop it */
    struct join *j = calloc(1, sizeof(*j));
    json_writer w;
    if (j) {
        buf_init(&j->answer, TRACKER_ANSWER_MAX);
        json_w_init(&w, &j->answer);
        json_w_value(&w, a->body);
        j->t = t;
        j->status = a->status;
    }
    if (!j || json_w_finish(&w) < 0 || peer_tracker_members(p, name, join_answer, j) < 0) {
        if (j)
            buf_free(&j->answer);
        free(j);
        pass_on(t, a);
    }
}

static void api_add_list(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    const json_value *root;
    const char *name, *pw;
    if (need_field(t, &root, "channel", 32, &name) < 0
        || str_field(t, root, "password", 128, &pw) < 0)
        return;
    buf b;
    buf_init(&b, 1024);
    const char *kv[] = { "channel", name, "password", pw };
    forward(p, t, "POST", "/add-list", json_pairs(&b, kv, 4), on_joined);
    buf_free(&b);
}

static void api_create(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    const json_value *root;
    const char *name, *access, *pw;
    if (need_field(t, &root, "name", 32, &name) < 0
        || str_field(t, root, "access", 16, &access) < 0
        || str_field(t, root, "password", 128, &pw) < 0)
        return;
    buf b;
    buf_init(&b, 1024);
    const char *kv[] = { "name", name, "access", access, "password", pw };
    forward(p, t, "POST", "/channels", json_pairs(&b, kv, 6), on_joined);
    buf_free(&b);
}

static void api_invite(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    const json_value *root;
    const char *user, *name = app_param(t, "name");
    char target[96];
    if (!db_name_valid(name, 32, "_-")) {
        app_json_error(t, 422, "unprocessable entity", "invalid channel name");
        return;
    }
    if (need_field(t, &root, "user", DB_MAX_NAME, &user) < 0)
        return;
    buf b;
    buf_init(&b, 256);
    const char *kv[] = { "user", user };
    snprintf(target, sizeof(target), "/channels/%s/invite", name);
    forward(p, t, "POST", target, json_pairs(&b, kv, 2), on_pass);
    buf_free(&b);
}

static void on_left(struct peer *p, const struct peer_answer *a, void *arg)
{
    http_txn *t = arg;
    const char *name = json_get_str(a->body, "left");
    if (a->status == 200 && name && peer_chan_find(p, name)) {
        peer_store_conv_left(p, name);
        peer_chan_drop(p, name);
        p->left_gen = ++p->member_gen;  /* a list asked before cannot bring it back */
        peer_mesh_connect(p);
    }
    pass_on(t, a);
}

static void api_leave(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    const char *name = app_param(t, "name");
    char target[96];
    if (!db_name_valid(name, 32, "_-")) {
        app_json_error(t, 422, "unprocessable entity", "invalid channel name");
        return;
    }
    snprintf(target, sizeof(target), "/channels/%s/members/me", name);
    forward(p, t, "DELETE", target, NULL, on_left);
}

/* ---- POST /connect-peer: answered when the link is up or has failed ---- */

struct peer_wait {
    http_txn         *t;
    char              user[DB_MAX_NAME + 1];
    struct peer_wait *next;
};

static void link_answer(http_txn *t, const char *user)
{
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    json_w_key(w, "peer");
    json_w_string(w, user);
    json_w_key(w, "link");
    json_w_string(w, "live");
    json_w_end_object(w);
    app_json_end(t, 200);
}

/* The status for a link that failed, by why it closed. */
static int link_failure_status(const struct peer_link *l)
{
    static const struct { const char *code; int status; } map[] = {
        { "offline", 409 }, { "unknown-user", 404 }, { "timeout", 504 },
    };
    for (size_t i = 0; l->close_code && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(l->close_code, map[i].code) == 0)
            return map[i].status;
    return 502;
}

void peer_api_link_changed(struct peer *p, const struct peer_link *l)
{
    const char *word = peer_link_word(p, l->user);
    for (struct peer_wait **wp = &p->waits; *wp;) {
        struct peer_wait *w = *wp;
        if (strcmp(w->user, l->user) != 0 || strcmp(word, "connecting") == 0) {
            wp = &w->next;
            continue;
        }
        if (strcmp(word, "live") == 0) {
            link_answer(w->t, w->user);
        } else {
            int st = link_failure_status(l);
            char detail[200];
            snprintf(detail, sizeof(detail), "no link with %s: %s%s%s", l->user,
                     l->close_code ? l->close_code : "closed", l->close_detail[0] ? ": " : "",
                     l->close_detail);
            app_json_error(w->t, st, st == 409 ? "conflict" : st == 404 ? "not found"
                           : st == 504 ? "gateway timeout" : "bad gateway", detail);
        }
        *wp = w->next;
        free(w);
    }
}

void peer_api_free(struct peer *p)
{
    while (p->waits) {
        struct peer_wait *w = p->waits;
        p->waits = w->next;
        free(w);
    }
}

/* A user name field that is not ours: 0, or -1 after 400/422. */
static int other_user(struct peer *p, http_txn *t, const json_value **root, const char **user)
{
    if (need_field(t, root, "peer", DB_MAX_NAME, user) < 0)
        return -1;
    if (!db_user_name_valid(*user)) {
        app_json_error(t, 422, "unprocessable entity", "\"peer\" must be a user name");
        return -1;
    }
    if (strcmp(*user, p->user) == 0) {
        app_json_error(t, 422, "unprocessable entity", "that is you");
        return -1;
    }
    return 0;
}

static void api_connect(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    const json_value *root;
    const char *user;
    if (other_user(p, t, &root, &user) < 0)
        return;
    if (peer_link_live(p, user)) {
        link_answer(t, user);
        return;
    }
    struct peer_wait *w = calloc(1, sizeof(*w));
    if (!w || !peer_mesh_dial_now(p, user)) {
        free(w);
        app_json_error(t, 503, "service unavailable", "too many links");
        return;
    }
    w->t = t;
    snprintf(w->user, sizeof(w->user), "%s", user);
    w->next = p->waits;
    p->waits = w;
}

/* ---- sending ---- */

/* text (1..PEER_TEXT_MAX bytes) and client_id: 0, or -1 after 400/422. */
static int text_fields(http_txn *t, const json_value *root, const char **text, size_t *len,
                       const char **client_id)
{
    int r = str_field(t, root, "text", PEER_TEXT_MAX, text);
    if (r == 0)
        app_json_error(t, 400, "bad request", "\"text\" is required");
    if (r <= 0 || str_field(t, root, "client_id", PEER_CLIENT_ID_MAX, client_id) < 0)
        return -1;
    *len = strlen(*text);
    return 0;
}

/* Sends on c and answers 201 (new), 200 (repeated client_id) or 5xx. */
static void send_and_answer(struct peer *p, http_txn *t, struct peer_chan *c,
                            const char *text, size_t len, const char *client_id)
{
    struct peer_msg m = { 0 };
    int r = peer_chat_send(p, c, text, len, client_id, &m);
    if (r < 0) {
        store_error(p, t, "send");
        return;
    }
    json_writer *w = app_json_begin(t);
    peer_msg_json(p, w, &m);
    app_json_end(t, r == 1 ? 201 : 200);
    peer_msg_clear(&m);
}

static void api_broadcast(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    const json_value *root;
    const char *name, *text, *client_id;
    size_t len;
    if (need_field(t, &root, "channel", 32, &name) < 0
        || text_fields(t, root, &text, &len, &client_id) < 0)
        return;
    struct peer_chan *c = peer_chan_find(p, name);
    bool member = c && !c->dm && (c->loaded ? peer_chan_member(c, p->user) != NULL : c->listed);
    if (!member) {
        app_json_error(t, 403, "forbidden", "not a member of that channel: POST /add-list first");
        return;
    }
    send_and_answer(p, t, c, text, len, client_id);
}

/* The direct conversation with user, followed from now on. */
static struct peer_chan *dm_chan(struct peer *p, const char *user)
{
    char name[PEER_CHANNEL_MAX + 1];
    peer_dm_name(p->user, user, name);
    struct peer_chan *c = peer_chan_find(p, name);
    if (c)
        return c;
    if (peer_store_conv_put(p, name, true, NULL, user) < 0)
        return NULL;
    return peer_chan_get(p, name);
}

struct dm_send {
    http_txn *t;
    char      user[DB_MAX_NAME + 1];
    char     *text;
    char      client_id[PEER_CLIENT_ID_MAX + 1];
    bool      has_client_id;
};

static void dm_finish(struct peer *p, struct dm_send *d)
{
    struct peer_chan *c = dm_chan(p, d->user);
    if (!c)
        store_error(p, d->t, "conversation");
    else
        send_and_answer(p, d->t, c, d->text, strlen(d->text),
                        d->has_client_id ? d->client_id : NULL);
    free(d->text);
    free(d);
}

static void dm_fail(struct dm_send *d, const struct peer_answer *a)
{
    pass_on(d->t, a);
    free(d->text);
    free(d);
}

/* A user who never ran a peer is not on the list: the tracker's
 * /connect-peer tells an account that is not online (409: the message
 * waits, pending) from no such user (404).  It issues no ticket then. */
static void on_dm_user(struct peer *p, const struct peer_answer *a, void *arg)
{
    struct dm_send *d = arg;
    if (a->status == 200 || a->status == 409)
        dm_finish(p, d);
    else
        dm_fail(d, a);
}

/* The user was not among our contacts: the tracker's whole list decides. */
static void on_dm_lookup(struct peer *p, const struct peer_answer *a, void *arg)
{
    struct dm_send *d = arg;
    char body[DB_MAX_NAME + 16];
    if (a->status != 200) {
        dm_fail(d, a);
        return;
    }
    peer_mesh_update(p, json_get(a->body, "peers"));
    if (peer_contact_find(p, d->user)) {
        dm_finish(p, d);
        return;
    }
    snprintf(body, sizeof(body), "{\"peer\":\"%s\"}", d->user);
    if (!peer_tracker_call(p, "POST", "/connect-peer", body, on_dm_user, d)) {
        struct peer_answer fail = { 0, errno, NULL, 0 };
        dm_fail(d, &fail);
    }
}

static void api_send(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    const json_value *root;
    const char *user, *text, *client_id;
    size_t len;
    if (other_user(p, t, &root, &user) < 0 || text_fields(t, root, &text, &len, &client_id) < 0)
        return;
    struct dm_send *d = calloc(1, sizeof(*d));
    if (!d || !(d->text = strdup(text))) {
        free(d);
        app_json_error(t, 500, "internal error", "out of memory");
        return;
    }
    d->t = t;
    snprintf(d->user, sizeof(d->user), "%s", user);
    if (client_id) {
        snprintf(d->client_id, sizeof(d->client_id), "%s", client_id);
        d->has_client_id = true;
    }
    if (peer_contact_find(p, user)) {
        dm_finish(p, d);
        return;
    }
    if (!peer_tracker_call(p, "GET", "/get-list?all=1", NULL, on_dm_lookup, d)) {
        struct peer_answer a = { 0, errno, NULL, 0 };
        dm_fail(d, &a);
    }
}

/* ---- history ---- */

static int conv_write(const char *channel, const char *kind, const char *access,
                      const char *peer, int64_t unread, int64_t last, void *arg)
{
    json_writer *w = arg;
    json_w_begin_object(w);
    json_w_key(w, "name");
    json_w_string(w, channel);
    json_w_key(w, "kind");
    json_w_string(w, kind);
    json_w_key(w, "access");
    if (*access)
        json_w_string(w, access);
    else
        json_w_null(w);
    json_w_key(w, "peer");
    if (*peer)
        json_w_string(w, peer);
    else
        json_w_null(w);
    json_w_key(w, "unread");
    json_w_int(w, unread);
    json_w_key(w, "last");
    if (last)
        json_w_int(w, last);
    else
        json_w_null(w);
    json_w_end_object(w);
    return 0;
}

static void api_channels(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    json_w_key(w, "channels");
    json_w_begin_array(w);
    int r = peer_store_conv_list(p, conv_write, w);
    json_w_end_array(w);
    json_w_end_object(w);
    if (r < 0)
        store_error(p, t, "channels");
    else
        app_json_end(t, 200);
}

/* Parses "origin:seq@channel" of a message of `channel`: 0, or -1. */
static int parse_id(const char *id, const char *channel, char origin[DB_MAX_NAME + 1],
                    int64_t *seq)
{
    const char *colon = id ? strchr(id, ':') : NULL, *at = colon ? strchr(colon, '@') : NULL;
    if (!at || (size_t)(colon - id) > DB_MAX_NAME || strcmp(at + 1, channel) != 0)
        return -1;
    memcpy(origin, id, (size_t)(colon - id));
    origin[colon - id] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(colon + 1, &end, 10);
    if (errno || end != at || v < 1 || !db_user_name_valid(origin))
        return -1;
    *seq = v;
    return 0;
}

/* The message an id names in channel: 0 with *m, or -1 after 422/404. */
static int lookup_id(struct peer *p, http_txn *t, const char *id, const char *channel,
                     struct peer_msg *m)
{
    char origin[DB_MAX_NAME + 1];
    int64_t seq;
    if (parse_id(id, channel, origin, &seq) < 0) {
        app_json_error(t, 422, "unprocessable entity",
                       "a message id is ORIGIN:SEQ@CHANNEL, of this conversation");
        return -1;
    }
    int r = peer_store_get(p, channel, origin, seq, m);
    if (r < 0)
        store_error(p, t, "message");
    else if (r == 0)
        app_json_error(t, 404, "not found", "no such message here");
    return r == 1 ? 0 : -1;
}

struct page_ctx {
    struct peer *p;
    json_writer *w;
};

static int page_write(const struct peer_msg *m, void *arg)
{
    struct page_ctx *pc = arg;
    peer_msg_json(pc->p, pc->w, m);
    return 0;
}

static void history(struct peer *p, http_txn *t, const char *channel)
{
    struct peer_msg before = { 0 };
    const char *bid = app_query(t, "before"), *lim = app_query(t, "limit");
    long limit = PEER_PAGE_DEFAULT;
    bool more;
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (*end || end == lim || limit < 1 || limit > PEER_PAGE_MAX) {
            app_json_error(t, 422, "unprocessable entity", "limit is 1 to 500");
            return;
        }
    }
    if (bid && lookup_id(p, t, bid, channel, &before) < 0)
        return;
    json_writer *w = app_json_begin(t);
    struct page_ctx pc = { p, w };
    json_w_begin_object(w);
    json_w_key(w, "messages");
    json_w_begin_array(w);
    long n = peer_store_page(p, channel, bid ? before.lamport : 0, before.origin, limit,
                             &more, page_write, &pc);
    json_w_end_array(w);
    json_w_key(w, "more");
    json_w_bool(w, more);
    json_w_end_object(w);
    peer_msg_clear(&before);
    if (n < 0)
        store_error(p, t, "history");
    else
        app_json_end(t, 200);
}

/* A conversation the API may name: followed now, or with history here. */
static bool known_conv(struct peer *p, const char *name)
{
    return peer_chan_find(p, name) || peer_store_conv_exists(p, name) == 1;
}

static void api_messages(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    const char *name = app_param(t, "name");
    if (!peer_channel_valid(name)) {
        app_json_error(t, 422, "unprocessable entity", "invalid channel name");
        return;
    }
    if (!known_conv(p, name)) {
        app_json_error(t, 404, "not found", "not a conversation of this peer");
        return;
    }
    history(p, t, name);
}

static void api_dm_messages(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    const char *user = app_param(t, "peer");
    char name[PEER_CHANNEL_MAX + 1];
    if (!db_user_name_valid(user) || strcmp(user, p->user) == 0) {
        app_json_error(t, 422, "unprocessable entity", "a user name other than yours");
        return;
    }
    peer_dm_name(p->user, user, name);
    history(p, t, name);   /* no conversation yet: an empty page */
}

static void api_read(http_txn *t, void *arg)
{
    struct peer *p = P(t, arg);
    const char *name = app_param(t, "name"), *id;
    const json_value *root;
    struct peer_msg m = { 0 };
    if (!peer_channel_valid(name) || !known_conv(p, name)) {
        app_json_error(t, 404, "not found", "not a conversation of this peer");
        return;
    }
    if (need_field(t, &root, "up_to", PEER_ID_MAX, &id) < 0 || lookup_id(p, t, id, name, &m) < 0)
        return;
    int64_t unread = 0;
    if (peer_store_conv_read(p, name, m.lamport, m.origin) < 0
        || (unread = peer_store_unread(p, name)) < 0) {
        peer_msg_clear(&m);
        store_error(p, t, "read marker");
        return;
    }
    peer_msg_clear(&m);
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    json_w_key(w, "channel");
    json_w_string(w, name);
    json_w_key(w, "unread");
    json_w_int(w, unread);
    json_w_end_object(w);
    app_json_end(t, 200);
}

static void api_events(http_txn *t, void *arg)
{
    peer_events_upgrade(P(t, arg), t);
}

/* ---- the page ---- */

static void serve_files(http_txn *t, void *arg)
{
    struct peer *p = arg;
    const char *path = http_txn_path(t);
    if (!p->files) {
        app_json_error(t, 404, "not found", "this peer serves no pages (--www)");
        return;
    }
    if ((strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
        && (http_txn_method(t) == HTTP_M_GET || http_txn_method(t) == HTTP_M_HEAD)) {
        http_txn_add_header(t, "Content-Security-Policy", PEER_CSP);
        if (static_serve_page(p->files, t, "/chat.html", 200) != STATIC_DONE)
            app_json_error(t, 404, "not found", "no chat.html in the --www directory");
        return;
    }
    static_serve(p->files, t);
}

/* ---- routes ---- */

int peer_api_routes(struct peer *p)
{
    static const char *const guarded[] = {
        "/logout", "/me", "/get-list", "/add-list", "/connect-peer", "/broadcast-peer",
        "/send-peer", "/channels", "/dm", "/events",
    };
    static const struct { const char *method, *path; app_handler_fn fn; } routes[] = {
        { "POST", "/login", api_login },
        { "POST", "/logout", api_logout },
        { "GET", "/me", api_me },
        { "GET", "/get-list", api_get_list },
        { "POST", "/add-list", api_add_list },
        { "POST", "/connect-peer", api_connect },
        { "POST", "/broadcast-peer", api_broadcast },
        { "POST", "/send-peer", api_send },
        { "GET", "/channels", api_channels },
        { "POST", "/channels", api_create },
        { "GET", "/channels/:name/messages", api_messages },
        { "POST", "/channels/:name/read", api_read },
        { "POST", "/channels/:name/invite", api_invite },
        { "DELETE", "/channels/:name/members/me", api_leave },
        { "GET", "/dm/:peer/messages", api_dm_messages },
        { "GET", "/events", api_events },
    };
    for (size_t i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++)
        if (app_hook(p->app, guarded[i], require_session, p) < 0)
            return -1;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (app_route(p->app, routes[i].method, routes[i].path, routes[i].fn, p) < 0)
            return -1;
    app_set_fallback(p->app, serve_files, p);
    return 0;
}
