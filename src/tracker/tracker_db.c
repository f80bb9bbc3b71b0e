/*
 * tracker_db.c - every SQL statement on the tracker's tables (db/003_tracker.sql),
 * prepared once at start-up on the store's handle (db_prepare) and
 * finalised by db_close().  SQLite itself is the store's business: this
 * file binds, runs and reads through weaprous/db.h only.  The peers'
 * registrations and heart-beats are written in the group commit
 * (tracker_group.c); every other write commits at once.  Functions return
 * 0 / -1 with the store's error recorded (db_errcode, db_errmsg) unless
 * their comment in tracker.h says otherwise.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker.h"

/* Active means: online and not past its expiry (the sweeper clears online
 * later; queries never wait for it). */
#define ACTIVE(p, now) "(" p ".online = 1 AND " p ".expires_at > " now ")"

/* Channel rows: id, name, access, owner, members, role, password hash. */
#define CHAN_COLS \
    "SELECT c.id, c.name, c.access, COALESCE(o.name, ''), " \
    "(SELECT count(*) FROM memberships x WHERE x.channel_id = c.id), " \
    "COALESCE(m.role, ''), COALESCE(c.password_hash, '') " \
    "FROM channels c LEFT JOIN users o ON o.id = c.owner_id " \
    "LEFT JOIN memberships m ON m.channel_id = c.id AND m.user_id = ?2 "

/* Peer rows: user, ip, port, online, last_seen_at, registered_at, heartbeat_ms,
 * expires_at. */
#define PEER_COLS(online) \
    "SELECT u.name, COALESCE(p.ip, ''), COALESCE(p.port, 0), " online ", " \
    "COALESCE(p.last_seen_at, 0), COALESCE(p.registered_at, 0), " \
    "COALESCE(p.heartbeat_ms, 0), COALESCE(p.expires_at, 0) "

enum tracker_q {
    TQ_ALL_OFFLINE, TQ_PEER_PREV, TQ_PEER_PUT, TQ_PEER_BEAT_QUIET, TQ_PEER_BEAT,
    TQ_PEER_STOP,
    TQ_PEER_ACTIVE, TQ_PEER_LIST_ACTIVE, TQ_PEER_LIST_ALL, TQ_CHANNEL_PEERS,
    TQ_SWEEP, TQ_TICKET_PURGE,
    TQ_COUNT_ACTIVE, TQ_COUNT_PEERS, TQ_COUNT_CHANNELS, TQ_COUNT_USERS,
    TQ_CHAN_GET, TQ_CHAN_INSERT, TQ_CHAN_LIST, TQ_MEMBER_INSERT,
    TQ_INVITE_DELETE, TQ_INVITED, TQ_INVITE_INSERT, TQ_MEMBER_DELETE,
    TQ_OWNER_PASS, TQ_OWNER_ROLE, TQ_CHAN_DELETE_EMPTY,
    TQ_TICKET_INSERT, TQ_TICKET_OPEN, TQ_TICKET_GET, TQ_TICKET_USE,
    TQ_DATA_VERSION,
    TQ__COUNT
};

static const char *const tracker_sql[TQ__COUNT] = {
    [TQ_ALL_OFFLINE] = "UPDATE peers SET online = 0 WHERE online = 1",
    [TQ_PEER_PREV] =
        "SELECT ip, port FROM peers p WHERE user_id = ?1 AND stopped_at IS NULL"
        " AND " ACTIVE("p", "?2"),
    [TQ_PEER_PUT] =
        "INSERT INTO peers (user_id, ip, port, registered_at, last_seen_at,"
        " heartbeat_ms, expires_at, online, stopped_at)"
        " VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, 1, NULL)"
        " ON CONFLICT (user_id) DO UPDATE SET ip = excluded.ip,"
        " port = excluded.port, registered_at = excluded.registered_at,"
        " last_seen_at = excluded.last_seen_at, heartbeat_ms = excluded.heartbeat_ms,"
        " expires_at = excluded.expires_at, online = 1, stopped_at = NULL",
    /* An active peer whose last_seen stays in its slot (?5 seconds): what
     * the lists show stays the same. */
    [TQ_PEER_BEAT_QUIET] =
        "UPDATE peers SET last_seen_at = ?2, heartbeat_ms = ?3, expires_at = ?4"
        " WHERE user_id = ?1 AND stopped_at IS NULL AND online = 1"
        " AND expires_at > ?2 AND last_seen_at / ?5 = ?2 / ?5",
    [TQ_PEER_BEAT] =
        "UPDATE peers SET last_seen_at = ?2, heartbeat_ms = ?3, expires_at = ?4,"
        " online = 1 WHERE user_id = ?1 AND stopped_at IS NULL",
    [TQ_PEER_STOP] =
        "UPDATE peers SET online = 0, stopped_at = ?2"
        " WHERE user_id = ?1 AND stopped_at IS NULL",
    [TQ_PEER_ACTIVE] =
        "SELECT u.id, p.ip, p.port, p.last_seen_at, p.registered_at, p.heartbeat_ms"
        " FROM peers p JOIN users u ON u.id = p.user_id"
        " WHERE u.name = ?1 AND u.disabled = 0 AND " ACTIVE("p", "?2"),
    [TQ_PEER_LIST_ACTIVE] =
        PEER_COLS("1") "FROM peers p JOIN users u ON u.id = p.user_id"
        " WHERE " ACTIVE("p", "?1") " ORDER BY u.name",
    [TQ_PEER_LIST_ALL] =
        PEER_COLS(ACTIVE("p", "?1")) "FROM peers p JOIN users u ON u.id = p.user_id"
        " ORDER BY u.name",
    [TQ_CHANNEL_PEERS] =
        PEER_COLS("COALESCE(" ACTIVE("p", "?2") ", 0)")
        "FROM memberships m JOIN users u ON u.id = m.user_id"
        " LEFT JOIN peers p ON p.user_id = m.user_id"
        " WHERE m.channel_id = ?1 ORDER BY u.name",
    [TQ_SWEEP] = "UPDATE peers SET online = 0 WHERE online = 1 AND expires_at <= ?1",
    [TQ_TICKET_PURGE] = "DELETE FROM tickets WHERE expires_at <= ?1",
    [TQ_COUNT_ACTIVE] = "SELECT count(*) FROM peers p WHERE " ACTIVE("p", "?1"),
    [TQ_COUNT_PEERS] = "SELECT count(*) FROM peers",
    [TQ_COUNT_CHANNELS] = "SELECT count(*) FROM channels",
    [TQ_COUNT_USERS] = "SELECT count(*) FROM users",
    [TQ_CHAN_GET] = CHAN_COLS "WHERE c.name = ?1",
    [TQ_CHAN_INSERT] =
        "INSERT INTO channels (name, access, password_hash, owner_id, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
    [TQ_CHAN_LIST] =
        /* ?1 is unused: CHAN_COLS takes the user as ?2 */
        CHAN_COLS "WHERE ?1 = ?1 AND (c.access = 'public' OR m.user_id IS NOT NULL)"
        " ORDER BY c.name",
    [TQ_MEMBER_INSERT] =
        "INSERT OR IGNORE INTO memberships (channel_id, user_id, role, joined_at)"
        " VALUES (?1, ?2, ?3, ?4)",
    [TQ_INVITE_DELETE] = "DELETE FROM invitations WHERE channel_id = ?1 AND user_id = ?2",
    [TQ_INVITED] = "SELECT 1 FROM invitations WHERE channel_id = ?1 AND user_id = ?2",
    [TQ_INVITE_INSERT] =
        "INSERT OR REPLACE INTO invitations (channel_id, user_id, invited_by, created_at)"
        " VALUES (?1, ?2, ?3, ?4)",
    [TQ_MEMBER_DELETE] = "DELETE FROM memberships WHERE channel_id = ?1 AND user_id = ?2",
    [TQ_OWNER_PASS] =
        "UPDATE channels SET owner_id = (SELECT user_id FROM memberships"
        " WHERE channel_id = ?1 ORDER BY joined_at, rowid LIMIT 1)"
        " WHERE id = ?1 AND owner_id = ?2",
    [TQ_OWNER_ROLE] =
        "UPDATE memberships SET role = 'owner' WHERE channel_id = ?1"
        " AND user_id = (SELECT owner_id FROM channels WHERE id = ?1)",
    [TQ_CHAN_DELETE_EMPTY] =
        "DELETE FROM channels WHERE id = ?1 AND name <> 'general'"
        " AND NOT EXISTS (SELECT 1 FROM memberships WHERE channel_id = ?1)",
    [TQ_TICKET_INSERT] =
        "INSERT INTO tickets (token_hash, caller_id, target_id, created_at, expires_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
    [TQ_TICKET_OPEN] =
        "SELECT count(*) FROM tickets WHERE caller_id = ?1 AND used_at IS NULL"
        " AND expires_at > ?2",
    [TQ_TICKET_GET] =
        "SELECT t.target_id, t.used_at IS NOT NULL, t.expires_at, u.name, t.caller_id"
        " FROM tickets t JOIN users u ON u.id = t.caller_id WHERE t.token_hash = ?1",
    [TQ_TICKET_USE] =
        "UPDATE tickets SET used_at = ?3 WHERE token_hash = ?1 AND target_id = ?2"
        " AND used_at IS NULL AND expires_at > ?3",
    [TQ_DATA_VERSION] = "PRAGMA data_version",
};

struct tracker_stmts {
    db_stmt *st[TQ__COUNT];
};

int tracker_db_prepare(struct tracker *tr)
{
    tr->q = calloc(1, sizeof(*tr->q));
    if (!tr->q)
        return -1;
    for (int i = 0; i < TQ__COUNT; i++) {
        tr->q->st[i] = db_prepare(tr->store, tracker_sql[i]);
        if (!tr->q->st[i])
            return -1;
    }
    return 0;
}

void tracker_db_release(struct tracker *tr)
{
    /* The statements belong to the handle (db_close finalises them). */
    free(tr->q);
    tr->q = NULL;
}

/* Statement q with its parameters bound from a type string (db_bind's:
 * 'i' an int64_t, 't' a C string, NULL binding NULL).  NULL after the
 * store recorded the failure. */
static db_stmt *stmt_bind(struct tracker *tr, enum tracker_q q, const char *types, ...)
{
    db_stmt *s = tr->q->st[q];
    va_list ap;
    va_start(ap, types);
    int rc = db_vbind(s, types, ap);
    va_end(ap);
    return rc < 0 ? NULL : s;
}

/* Writes that no list shows (tickets, invitations, a quiet heart-beat):
 * they leave the cached lists alone. */
static const bool tracker_unlisted[TQ__COUNT] = {
    [TQ_PEER_BEAT_QUIET] = true, [TQ_TICKET_PURGE] = true, [TQ_TICKET_INSERT] = true,
    [TQ_TICKET_USE] = true, [TQ_INVITE_DELETE] = true, [TQ_INVITE_INSERT] = true,
};

enum write_kind {
    WRITE_NOW,       /* committed when it returns (an open group first) */
    WRITE_GROUPED,   /* in the group commit: durable when the group commits */
};

/* Runs write q with its parameters bound: the changed row count or -1.
 * A write that lists show ends the cached lists: now (after a failure
 * too: a rolled-back write costs a rebuild, a missed one would cost a
 * wrong answer), or for a grouped one when its group ends. */
static int stmt_run(struct tracker *tr, enum tracker_q q, enum write_kind kind,
                    const char *types, ...)
{
    db_stmt *s = tr->q->st[q];
    va_list ap;
    va_start(ap, types);
    int rc = db_vbind(s, types, ap);
    va_end(ap);
    if (rc < 0)
        return -1;
    if (kind == WRITE_NOW) {
        long n = db_run(s);
        if (n != 0 && !tracker_unlisted[q])
            tr->list_gen++;
        return (int)n;
    }
    long n = db_group_run(s);
    if (n > 0 && !tracker_unlisted[q])
        tr->group.shown = true;
    tracker_group_arm(tr);
    return (int)n;
}

/* Steps to the next row: 1 row, 0 done (statement reset), -1 error. */
static int stmt_row(db_stmt *s)
{
    return s ? db_row(s) : -1;
}

static int64_t now_s(struct tracker *tr)
{
    return db_now(tr->store);
}

/* Expiry of a peer seen now with interval ms: three intervals, rounded up
 * to whole seconds, plus one second for the clock's granularity. */
static int64_t peer_expiry(struct tracker *tr, unsigned ms)
{
    return now_s(tr) + ((int64_t)ms * TRACKER_EXPIRY_BEATS + 999) / 1000 + 1;
}

/* ---- peers ---- */

int tracker_db_all_offline(struct tracker *tr)
{
    return stmt_run(tr, TQ_ALL_OFFLINE, WRITE_NOW, "") < 0 ? -1 : 0;
}

int tracker_db_peer_put(struct tracker *tr, int64_t user, const char *ip, int port,
                        unsigned heartbeat_ms, bool *replaced)
{
    db_stmt *st = stmt_bind(tr, TQ_PEER_PREV, "ii", user, now_s(tr));
    int r = stmt_row(st);
    if (r < 0)
        return -1;
    *replaced = r == 1 && (strcmp(db_col_text(st, 0, NULL), ip) != 0
                           || (int)db_col_int(st, 1) != port);
    if (r == 1)
        db_stmt_reset(st);
    return stmt_run(tr, TQ_PEER_PUT, WRITE_GROUPED, "itiiii", user, ip, (int64_t)port,
                    now_s(tr), (int64_t)heartbeat_ms, peer_expiry(tr, heartbeat_ms)) < 0
           ? -1 : 0;
}

int tracker_db_peer_beat(struct tracker *tr, int64_t user, unsigned heartbeat_ms)
{
    int64_t now = now_s(tr), ms = heartbeat_ms, expires = peer_expiry(tr, heartbeat_ms);
    int n = stmt_run(tr, TQ_PEER_BEAT_QUIET, WRITE_GROUPED, "iiiii", user, now, ms, expires,
                     (int64_t)TRACKER_LAST_SEEN_GRANULARITY);
    if (n != 0)
        return n;
    return stmt_run(tr, TQ_PEER_BEAT, WRITE_GROUPED, "iiii", user, now, ms, expires);
}

int tracker_db_peer_stop(struct tracker *tr, int64_t user)
{
    return stmt_run(tr, TQ_PEER_STOP, WRITE_NOW, "ii", user, now_s(tr));
}

static void peer_read(db_stmt *st, struct tracker_peer *p)
{
    db_col_copy(st, 0, p->user, sizeof(p->user));
    db_col_copy(st, 1, p->ip, sizeof(p->ip));
    p->port = (int)db_col_int(st, 2);
    p->online = (int)db_col_int(st, 3) != 0;
    p->last_seen_at = db_col_int(st, 4);
    p->registered_at = db_col_int(st, 5);
    p->heartbeat_ms = (unsigned)db_col_int(st, 6);
    p->expires_at = db_col_int(st, 7);
}

int tracker_db_peer_active(struct tracker *tr, const char *user,
                           struct tracker_peer *p, int64_t *user_id)
{
    db_stmt *st = stmt_bind(tr, TQ_PEER_ACTIVE, "ti", user, now_s(tr));
    int r = stmt_row(st);
    if (r != 1)
        return r;
    *user_id = db_col_int(st, 0);
    snprintf(p->user, sizeof(p->user), "%s", user);
    db_col_copy(st, 1, p->ip, sizeof(p->ip));
    p->port = (int)db_col_int(st, 2);
    p->online = true;
    p->last_seen_at = db_col_int(st, 3);
    p->registered_at = db_col_int(st, 4);
    p->heartbeat_ms = (unsigned)db_col_int(st, 5);
    p->expires_at = 0;   /* not needed by the callers */
    db_stmt_reset(st);
    return 1;
}

/* Runs a peer query to the end, one callback per row; a non-zero return
 * from cb stops the walk and is returned. */
static int peer_walk(struct tracker *tr, db_stmt *st, tracker_peer_cb cb, void *arg)
{
    struct tracker_peer p;
    int r;
    while ((r = stmt_row(st)) == 1) {
        peer_read(st, &p);
        int stop = cb(&p, arg);
        if (stop) {
            db_stmt_reset(st);
            return stop;
        }
    }
    return r;
}

int tracker_db_peer_list(struct tracker *tr, bool all, tracker_peer_cb cb, void *arg)
{
    return peer_walk(tr, stmt_bind(tr, all ? TQ_PEER_LIST_ALL : TQ_PEER_LIST_ACTIVE, "i",
                            now_s(tr)), cb, arg);
}

int tracker_db_channel_peers(struct tracker *tr, int64_t channel,
                             tracker_peer_cb cb, void *arg)
{
    return peer_walk(tr, stmt_bind(tr, TQ_CHANNEL_PEERS, "ii", channel, now_s(tr)), cb, arg);
}

long tracker_db_sweep(struct tracker *tr)
{
    int64_t now = now_s(tr);
    /* Tickets are kept an hour past expiry so that a late verify gets 410
     * (used or expired) rather than 404. */
    if (stmt_run(tr, TQ_TICKET_PURGE, WRITE_NOW, "i", now - 3600) < 0)
        return -1;
    return stmt_run(tr, TQ_SWEEP, WRITE_NOW, "i", now);
}

int64_t tracker_db_count(struct tracker *tr, const char *what)
{
    static const struct { const char *name; enum tracker_q q; } counts[] = {
        { "active", TQ_COUNT_ACTIVE }, { "peers", TQ_COUNT_PEERS },
        { "channels", TQ_COUNT_CHANNELS }, { "users", TQ_COUNT_USERS },
    };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        if (strcmp(counts[i].name, what) != 0)
            continue;
        /* Only the count of active peers depends on the time. */
        db_stmt *st = counts[i].q == TQ_COUNT_ACTIVE
                               ? stmt_bind(tr, counts[i].q, "i", now_s(tr))
                               : stmt_bind(tr, counts[i].q, "");
        if (stmt_row(st) != 1)
            return -1;
        int64_t n = db_col_int(st, 0);
        db_stmt_reset(st);
        return n;
    }
    return -1;
}

int64_t tracker_db_data_version(struct tracker *tr)
{
    db_stmt *st = stmt_bind(tr, TQ_DATA_VERSION, "");
    if (stmt_row(st) != 1)
        return -1;
    int64_t v = db_col_int(st, 0);
    db_stmt_reset(st);
    return v;
}

/* ---- channels ---- */

static void chan_read(db_stmt *st, struct tracker_channel *c)
{
    c->id = db_col_int(st, 0);
    db_col_copy(st, 1, c->name, sizeof(c->name));
    db_col_copy(st, 2, c->access, sizeof(c->access));
    db_col_copy(st, 3, c->owner, sizeof(c->owner));
    c->members = db_col_int(st, 4);
    db_col_copy(st, 5, c->role, sizeof(c->role));
    c->member = c->role[0] != '\0';
    db_col_copy(st, 6, c->password_hash, sizeof(c->password_hash));
}

int tracker_db_channel_get(struct tracker *tr, const char *name, int64_t user,
                           struct tracker_channel *c)
{
    db_stmt *st = stmt_bind(tr, TQ_CHAN_GET, "ti", name, user);
    int r = stmt_row(st);
    if (r != 1)
        return r;
    chan_read(st, c);
    db_stmt_reset(st);
    return 1;
}

int tracker_db_channel_create(struct tracker *tr, const char *name, const char *access,
                              const char *password_hash, int64_t owner)
{
    if (db_begin(tr->store) < 0)
        return -1;
    if (stmt_run(tr, TQ_CHAN_INSERT, WRITE_NOW, "tttii", name, access, password_hash,
                 owner, now_s(tr)) < 0)
        goto fail;
    int64_t id = db_last_rowid(tr->store);
    if (stmt_run(tr, TQ_MEMBER_INSERT, WRITE_NOW, "iiti", id, owner, "owner", now_s(tr)) < 0)
        goto fail;
    return db_commit(tr->store);
fail:
    db_rollback(tr->store);
    return -1;
}

int tracker_db_join(struct tracker *tr, int64_t channel, int64_t user)
{
    if (db_begin(tr->store) < 0)
        return -1;
    if (stmt_run(tr, TQ_MEMBER_INSERT, WRITE_NOW, "iiti", channel, user, "member",
                 now_s(tr)) < 0
        || stmt_run(tr, TQ_INVITE_DELETE, WRITE_NOW, "ii", channel, user) < 0) {
        db_rollback(tr->store);
        return -1;
    }
    return db_commit(tr->store);
}

int tracker_db_invited(struct tracker *tr, int64_t channel, int64_t user)
{
    db_stmt *st = stmt_bind(tr, TQ_INVITED, "ii", channel, user);
    int r = stmt_row(st);
    if (r == 1)
        db_stmt_reset(st);
    return r;
}

int tracker_db_invite(struct tracker *tr, int64_t channel, int64_t user, int64_t by)
{
    return stmt_run(tr, TQ_INVITE_INSERT, WRITE_NOW, "iiii", channel, user, by,
                    now_s(tr)) < 0 ? -1 : 0;
}

int tracker_db_leave(struct tracker *tr, int64_t channel, int64_t user)
{
    if (db_begin(tr->store) < 0)
        return -1;
    int n = stmt_run(tr, TQ_MEMBER_DELETE, WRITE_NOW, "ii", channel, user);
    if (n < 0
        || stmt_run(tr, TQ_OWNER_PASS, WRITE_NOW, "ii", channel, user) < 0
        || stmt_run(tr, TQ_OWNER_ROLE, WRITE_NOW, "i", channel) < 0
        || stmt_run(tr, TQ_CHAN_DELETE_EMPTY, WRITE_NOW, "i", channel) < 0) {
        db_rollback(tr->store);
        return -1;
    }
    return db_commit(tr->store) < 0 ? -1 : n > 0;
}

int tracker_db_channel_list(struct tracker *tr, int64_t user, tracker_channel_cb cb,
                            void *arg)
{
    db_stmt *st = stmt_bind(tr, TQ_CHAN_LIST, "ii", (int64_t)0, user);
    struct tracker_channel c;
    int r;
    while ((r = stmt_row(st)) == 1) {
        chan_read(st, &c);
        int stop = cb(&c, arg);
        if (stop) {
            db_stmt_reset(st);
            return stop;
        }
    }
    return r;
}

/* ---- tickets ---- */

int tracker_db_ticket_put(struct tracker *tr, const char *hash, int64_t caller,
                          int64_t target, int64_t expires_at)
{
    return stmt_run(tr, TQ_TICKET_INSERT, WRITE_NOW, "tiiii", hash, caller, target,
                    now_s(tr), expires_at) < 0 ? -1 : 0;
}

int64_t tracker_db_ticket_open(struct tracker *tr, int64_t caller)
{
    db_stmt *st = stmt_bind(tr, TQ_TICKET_OPEN, "ii", caller, now_s(tr));
    if (stmt_row(st) != 1)
        return -1;
    int64_t n = db_col_int(st, 0);
    db_stmt_reset(st);
    return n;
}

int tracker_db_ticket_use(struct tracker *tr, const char *hash, int64_t target,
                          char caller[DB_MAX_NAME + 1], int64_t *caller_id)
{
    db_stmt *st = stmt_bind(tr, TQ_TICKET_GET, "t", hash);
    int r = stmt_row(st);
    if (r <= 0)
        return r < 0 ? -1 : TRACKER_TICKET_UNKNOWN;
    int64_t owner = db_col_int(st, 0), expires = db_col_int(st, 2);
    bool used = (int)db_col_int(st, 1) != 0;
    db_col_copy(st, 3, caller, DB_MAX_NAME + 1);
    *caller_id = db_col_int(st, 4);
    db_stmt_reset(st);
    /* Someone else's ticket is not consumed by a wrong guess. */
    if (owner != target)
        return TRACKER_TICKET_NOT_YOURS;
    if (used)
        return TRACKER_TICKET_USED;
    if (expires <= now_s(tr))
        return TRACKER_TICKET_EXPIRED;
    int n = stmt_run(tr, TQ_TICKET_USE, WRITE_NOW, "tii", hash, target, now_s(tr));
    if (n < 0)
        return -1;
    /* 0 rows: another process sharing the file used it in between. */
    return n == 1 ? TRACKER_TICKET_OK : TRACKER_TICKET_USED;
}
