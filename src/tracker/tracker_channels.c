/*
 * tracker_channels.c - channel membership: POST /add-list (join; a public
 * channel is created on first join), POST /channels (create with an access
 * policy), POST /channels/:name/invite, DELETE /channels/:name/members/me,
 * GET /channels.
 *
 * Access: public (anyone joins), private (only users the owner invited),
 * password (the channel password, or an invitation).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tracker.h"

/* The longest channel-name member read before the name rule applies (a
 * longer one is a 422 of tracker_str(), a shorter bad one the rule's). */
#define CHAN_MAX_NAME_MEMBER 255

/* 0 for a valid channel name, or -1 after answering 422. */
static int chan_name_ok(struct tracker *tr, http_txn *t, const char *name)
{
    if (tracker_channel_name_valid(name))
        return 0;
    tracker_error(tr, t, 422, "unprocessable entity",
                  "channel names are 1-32 of A-Z a-z 0-9 _ - starting with a"
                  " letter or digit");
    return -1;
}

/* Reads and checks a channel name member: 1 valid in *name, 0 absent,
 * -1 after answering 422. */
static int chan_name(struct tracker *tr, http_txn *t, const json_value *root,
                     const char *key, const char **name)
{
    if (tracker_str(t, root, key, CHAN_MAX_NAME_MEMBER, name, tr) < 0
        || (*name && chan_name_ok(tr, t, *name) < 0))
        return -1;
    return *name != NULL;
}

int tracker_channel_find(struct tracker *tr, http_txn *t, const char *name,
                         const struct tracker_user *u, struct tracker_channel *c)
{
    if (!tracker_channel_name_valid(name)) {
        tracker_error(tr, t, 422, "unprocessable entity", "invalid channel name");
        return -1;
    }
    int r = tracker_db_channel_get(tr, name, u->id, c);
    if (r < 0)
        tracker_store_error(tr, t, "channel");
    else if (r == 0)
        tracker_error(tr, t, 404, "not found", "no such channel");
    return r == 1 ? 0 : -1;
}

/* The channel of the :name route parameter for u: 0, or -1 after answering
 * 404/422/5xx. */
static int chan_param(struct tracker *tr, http_txn *t, const struct tracker_user *u,
                      struct tracker_channel *c)
{
    return tracker_channel_find(tr, t, app_param(t, "name"), u, c);
}

static void chan_answer(struct tracker *tr, http_txn *t, int status,
                        const struct tracker_channel *c, const char *role, bool joined)
{
    json_writer *w = tracker_json(t);
    json_w_begin_object(w);
    json_w_key(w, "channel");
    json_w_string(w, c->name);
    json_w_key(w, "access");
    json_w_string(w, c->access);
    json_w_key(w, "role");
    json_w_string(w, role);
    json_w_key(w, "joined");
    json_w_bool(w, joined);
    json_w_end_object(w);
    tracker_reply(tr, t, status);
}

/* Checks pw against c's password: 0 right, or -1 after answering 403, or
 * 429 when the address or the account guessed wrong too often (counted
 * apart: many accounts from one address, or one account from many). */
static int chan_password(struct tracker *tr, http_txn *t, const struct tracker_user *u,
                         const struct tracker_channel *c, const char *pw)
{
    const char *addr = http_txn_remote_addr(t);
    char account[24];
    snprintf(account, sizeof(account), "u%lld", (long long)u->id);
    if (tracker_limited(tr, t, TRACKER_LIMIT_CHANNEL, addr)
        || tracker_limited(tr, t, TRACKER_LIMIT_CHANNEL, account))
        return -1;
    if (db_password_verify(pw, c->password_hash) == 1)
        return 0;
    tracker_failed(tr, TRACKER_LIMIT_CHANNEL, addr);
    tracker_failed(tr, TRACKER_LIMIT_CHANNEL, account);
    tracker_error(tr, t, 403, "forbidden", "wrong channel password");
    return -1;
}

/* May u join c?  0 yes, or -1 after answering 403, 429 (or 5xx). */
static int chan_admit(struct tracker *tr, http_txn *t, const struct tracker_user *u,
                      const struct tracker_channel *c, const json_value *root)
{
    if (strcmp(c->access, "public") == 0)
        return 0;
    int inv = tracker_db_invited(tr, c->id, u->id);
    if (inv != 0) {
        if (inv < 0)
            tracker_store_error(tr, t, "invitation");
        return inv > 0 ? 0 : -1;
    }
    if (strcmp(c->access, "private") == 0) {
        tracker_error(tr, t, 403, "forbidden",
                      "private channel: the owner must invite you first");
        return -1;
    }
    const char *pw;
    if (tracker_str(t, root, "password", TRACKER_MAX_CHANNEL_PW, &pw, tr) < 0)
        return -1;
    if (!pw) {
        tracker_error(tr, t, 403, "forbidden", "this channel needs \"password\"");
        return -1;
    }
    return chan_password(tr, t, u, c, pw);
}

/* Creates name for u with access (and password) and answers 201. */
static void chan_create(struct tracker *tr, http_txn *t, const struct tracker_user *u,
                        const char *name, const char *access, const char *pw)
{
    char hash[DB_MAX_HASH];
    struct tracker_channel c;
    if (pw && db_password_hash(pw, hash) < 0) {
        tracker_error(tr, t, 500, "internal error", "cannot hash the password");
        return;
    }
    if (tracker_db_channel_create(tr, name, access, pw ? hash : NULL, u->id) < 0) {
        if (db_errcode(tr->store) == DB_E_EXISTS)
            tracker_error(tr, t, 409, "conflict", "a channel of that name exists");
        else
            tracker_store_error(tr, t, "channel create");
        return;
    }
    if (tracker_db_channel_get(tr, name, u->id, &c) != 1) {
        tracker_store_error(tr, t, "channel create");
        return;
    }
    chan_answer(tr, t, 201, &c, "owner", true);
}

/* POST /add-list {channel, password} */
static void chan_join(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct tracker_user u;
    struct tracker_channel c;
    const json_value *root;
    const char *name;
    int r;
    /* Absent (400) and invalid (422) exclude each other: the order of
     * the two checks changes no answer. */
    if (tracker_begin_json(tr, t, &u, &root, "channel", CHAN_MAX_NAME_MEMBER, &name,
                           "\"channel\" is required") < 0
        || chan_name_ok(tr, t, name) < 0)
        return;
    if ((r = tracker_db_channel_get(tr, name, u.id, &c)) < 0) {
        tracker_store_error(tr, t, "channel");
        return;
    }
    if (r == 0) {
        chan_create(tr, t, &u, name, "public", NULL);
        return;
    }
    if (c.member) {
        chan_answer(tr, t, 200, &c, c.role, false);
        return;
    }
    if (chan_admit(tr, t, &u, &c, root) < 0)
        return;
    if (tracker_db_join(tr, c.id, u.id) < 0) {
        tracker_store_error(tr, t, "join");
        return;
    }
    chan_answer(tr, t, 200, &c, "member", true);
}

/* POST /channels {name, access, password} */
static void chan_post(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct tracker_user u;
    const json_value *root;
    const char *name, *access, *pw;
    int r;
    if (tracker_auth(tr, t, &u) < 0 || tracker_body(tr, t, &root, true) < 0
        || (r = chan_name(tr, t, root, "name", &name)) < 0
        || tracker_str(t, root, "access", 16, &access, tr) < 0
        || tracker_str(t, root, "password", TRACKER_MAX_CHANNEL_PW, &pw, tr) < 0)
        return;
    if (r == 0) {
        tracker_error(tr, t, 400, "bad request", "\"name\" is required");
        return;
    }
    if (!access)
        access = "public";
    if (strcmp(access, "public") && strcmp(access, "private") && strcmp(access, "password")) {
        tracker_error(tr, t, 422, "unprocessable entity",
                      "\"access\" must be \"public\", \"private\" or \"password\"");
        return;
    }
    if ((strcmp(access, "password") == 0) != (pw != NULL)) {
        tracker_error(tr, t, 422, "unprocessable entity",
                      "\"password\" goes with access \"password\", and only with it");
        return;
    }
    chan_create(tr, t, &u, name, access, pw);
}

/* The user `who` to invite into c: 0 with *target, or -1 after answering
 * 404 (no such user) or 409 (already a member). */
static int invite_target(struct tracker *tr, http_txn *t, const struct tracker_channel *c,
                         const char *who, struct db_user *target)
{
    struct tracker_channel tc;
    if (db_user_get(tr->store, who, target) < 0) {
        if (db_errcode(tr->store) == DB_E_NOTFOUND || db_errcode(tr->store) == DB_E_INVALID)
            tracker_error(tr, t, 404, "not found", "no such user");
        else
            tracker_store_error(tr, t, "invite");
        return -1;
    }
    int r = tracker_db_channel_get(tr, c->name, target->id, &tc);
    if (r < 0)
        tracker_store_error(tr, t, "invite");
    else if (r == 1 && tc.member)
        tracker_error(tr, t, 409, "conflict", "that user is already a member");
    else
        return 0;
    return -1;
}

/* POST /channels/:name/invite {user}: the owner lets a user in. */
static void chan_invite(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct tracker_user u;
    struct tracker_channel c;
    const json_value *root;
    const char *who;
    struct db_user target;
    if (tracker_auth(tr, t, &u) < 0 || chan_param(tr, t, &u, &c) < 0
        || tracker_body_need(tr, t, &root, "user", DB_MAX_NAME, &who,
                             "\"user\" is required") < 0)
        return;
    if (strcmp(c.role, "owner") != 0) {
        tracker_error(tr, t, 403, "forbidden", "only the channel's owner invites");
        return;
    }
    if (invite_target(tr, t, &c, who, &target) < 0)
        return;
    if (tracker_db_invite(tr, c.id, target.id, u.id) < 0) {
        tracker_store_error(tr, t, "invite");
        return;
    }
    json_writer *w = tracker_json(t);
    json_w_begin_object(w);
    json_w_key(w, "channel");
    json_w_string(w, c.name);
    json_w_key(w, "invited");
    json_w_string(w, target.name);
    json_w_end_object(w);
    tracker_reply(tr, t, 201);
}

/* DELETE /channels/:name/members/me */
static void chan_leave(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct tracker_user u;
    struct tracker_channel c;
    if (tracker_auth(tr, t, &u) < 0 || chan_param(tr, t, &u, &c) < 0)
        return;
    int r = tracker_db_leave(tr, c.id, u.id);
    if (r < 0) {
        tracker_store_error(tr, t, "leave");
        return;
    }
    if (r == 0) {
        tracker_error(tr, t, 404, "not found", "you are not a member of this channel");
        return;
    }
    json_writer *w = tracker_json(t);
    json_w_begin_object(w);
    json_w_key(w, "left");
    json_w_string(w, c.name);
    json_w_end_object(w);
    tracker_reply(tr, t, 200);
}

void tracker_channel_json(json_writer *w, const struct tracker_channel *c, bool full)
{
    json_w_begin_object(w);
    json_w_key(w, "name");
    json_w_string(w, c->name);
    json_w_key(w, "access");
    json_w_string(w, c->access);
    if (full) {
        json_w_key(w, "owner");
        json_w_string(w, c->owner[0] ? c->owner : NULL);
    }
    json_w_key(w, "members");
    json_w_int(w, c->members);
    json_w_key(w, "member");
    json_w_bool(w, c->member);
    if (full) {
        json_w_key(w, "role");
        json_w_string(w, c->member ? c->role : NULL);
    }
    json_w_end_object(w);
}

static int chan_write(const struct tracker_channel *c, void *arg)
{
    tracker_channel_json(arg, c, true);
    return 0;
}

/* GET /channels: the caller's channels and every public one. */
static void chan_list(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct tracker_user u;
    if (tracker_auth(tr, t, &u) < 0)
        return;
    json_writer *w = tracker_json(t);
    json_w_begin_object(w);
    json_w_key(w, "channels");
    json_w_begin_array(w);
    int r = tracker_db_channel_list(tr, u.id, chan_write, w);
    json_w_end_array(w);
    json_w_end_object(w);
    tracker_finish(tr, t, r, "channels");
}

int tracker_channel_routes(struct tracker *tr)
{
    if (app_route(tr->app, "POST", "/add-list", chan_join, tr) < 0
        || app_route(tr->app, "GET", "/channels", chan_list, tr) < 0
        || app_route(tr->app, "POST", "/channels", chan_post, tr) < 0
        || app_route(tr->app, "POST", "/channels/:name/invite", chan_invite, tr) < 0
        || app_route(tr->app, "DELETE", "/channels/:name/members/me", chan_leave, tr) < 0)
        return -1;
    return 0;
}
