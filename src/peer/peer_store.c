/*
 * peer_store.c - the peer's own database (db/peer/001_peer.sql): identity
 * and tracker session, browser sessions, conversations, messages, vectors
 * and what members hold.  Every statement is prepared once at open on the
 * store's handle (db_prepare) and finalised by db_close().  Functions
 * return 0 / -1 with db_errcode/db_errmsg(p->db) unless peer.h says
 * otherwise.
 *
 * Transactions: what arrives (messages, receipts, delivery states) joins
 * the pass transaction, opened by the first such write of a loop pass and
 * committed at its end, or earlier by peer_store_settle() before we tell
 * anyone what we hold: one commit per pass however many links spoke.  An
 * own message is a savepoint in it, committed before its 201.  Each followed
 * conversation keeps its vector in memory (peer_chan.vec), written through
 * to `vectors` with every message and read again after a rollback.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "weaprous/entropy.h"
#include "weaprous/log.h"
#include "weaprous/sha256.h"

extern const char *const db_sql_peer_scripts[];

const struct db_schema peer_schema = {
    .name = "peer",
    .scripts = db_sql_peer_scripts,
    .on_create = NULL,
};

/* The columns of a message row, in the order msg_from_row() reads them. */
#define MSG_COLS "channel, origin, seq, lamport, sent_at_ms, received_at_ms, text, " \
                 "COALESCE(state, ''), COALESCE(client_id, '')"

/* An own message whose state comes before ?5 (pending < sent < delivered). */
#define STATE_BEHIND \
    "state IS NOT NULL AND (CASE state WHEN 'pending' THEN 0 WHEN 'sent' THEN 1 ELSE 2 END)" \
    " < (CASE ?5 WHEN 'pending' THEN 0 WHEN 'sent' THEN 1 ELSE 2 END)"

enum peer_q {
    PQ_IDENTITY, PQ_IDENTITY_PUT, PQ_TOKEN_CLEAR,
    PQ_SESS_ADD, PQ_SESS_CHECK, PQ_SESS_DEL, PQ_SESS_DEL_ALL, PQ_SESS_PURGE,
    PQ_CONV_PUT, PQ_CONV_LEFT, PQ_CONV_READ, PQ_CONV_LIST, PQ_CONV_EXISTS, PQ_UNREAD,
    PQ_VEC_PUT, PQ_VEC_ALL, PQ_GAP_END,
    PQ_MSG_BY_CLIENT, PQ_MSG_INSERT, PQ_MSG_GET, PQ_MSG_RANGE, PQ_MSG_PAGE, PQ_MSG_OLDER,
    PQ_MSG_STATE, PQ_MSG_BEHIND, PQ_MSG_UNSENT, PQ_PENDING,
    PQ_HAVE_PUT, PQ_HAVE_LOAD, PQ_LAMPORT, PQ_BEGIN, PQ_COMMIT,
    PQ_OWN_BEGIN, PQ_OWN_END, PQ_OWN_UNDO,
    PQ__COUNT
};

static const char *const peer_sql[PQ__COUNT] = {
    [PQ_IDENTITY] = "SELECT user, COALESCE(tracker_token, '') FROM identity WHERE id = 1",
    [PQ_IDENTITY_PUT] =
        "INSERT INTO identity (id, user, tracker_token, token_expires_at, signed_in_at)"
        " VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET"
        " tracker_token = excluded.tracker_token,"
        " token_expires_at = excluded.token_expires_at, signed_in_at = excluded.signed_in_at",
    [PQ_TOKEN_CLEAR] = "UPDATE identity SET tracker_token = NULL, token_expires_at = NULL",
    [PQ_SESS_ADD] =
        "INSERT INTO browser_sessions (token_hash, created_at, expires_at) VALUES (?1, ?2, ?3)",
    [PQ_SESS_CHECK] =
        "SELECT expires_at FROM browser_sessions WHERE token_hash = ?1 AND expires_at > ?2",
    [PQ_SESS_DEL] = "DELETE FROM browser_sessions WHERE token_hash = ?1",
    [PQ_SESS_DEL_ALL] = "DELETE FROM browser_sessions",
    [PQ_SESS_PURGE] = "DELETE FROM browser_sessions WHERE expires_at <= ?1",
    [PQ_CONV_PUT] =
        "INSERT INTO conversations (channel, kind, access, peer, joined_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (channel) DO UPDATE SET"
        " access = COALESCE(excluded.access, access), left_at = NULL",
    [PQ_CONV_LEFT] = "UPDATE conversations SET left_at = ?2 WHERE channel = ?1",
    [PQ_CONV_READ] =
        "UPDATE conversations SET read_lamport = ?2, read_origin = ?3 WHERE channel = ?1"
        " AND (read_lamport, read_origin) < (?2, ?3)",
    [PQ_CONV_LIST] =
        "SELECT c.channel, c.kind, COALESCE(c.access, ''), COALESCE(c.peer, ''),"
        " (SELECT count(*) FROM messages m WHERE m.channel = c.channel"
        "   AND m.origin <> ?1 AND (m.lamport, m.origin) > (c.read_lamport, c.read_origin)),"
        " COALESCE((SELECT max(sent_at_ms) FROM messages m WHERE m.channel = c.channel), 0)"
        " FROM conversations c WHERE c.left_at IS NULL ORDER BY c.channel",
    [PQ_CONV_EXISTS] = "SELECT 1 FROM conversations WHERE channel = ?1",
    [PQ_UNREAD] =
        "SELECT count(*) FROM messages m JOIN conversations c ON c.channel = m.channel"
        " WHERE m.channel = ?1 AND m.origin <> ?2"
        " AND (m.lamport, m.origin) > (c.read_lamport, c.read_origin)",
    [PQ_VEC_PUT] =
        "INSERT INTO vectors (channel, origin, contiguous, max_seq) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (channel, origin) DO UPDATE SET contiguous = excluded.contiguous,"
        " max_seq = excluded.max_seq",
    [PQ_VEC_ALL] =
        "SELECT origin, contiguous, max_seq FROM vectors WHERE channel = ?1 ORDER BY origin",
    /* The end of the run of seqs that starts at ?3: the first held seq
     * whose successor is missing. */
    [PQ_GAP_END] =
        "SELECT min(m.seq) FROM messages m WHERE m.channel = ?1 AND m.origin = ?2"
        " AND m.seq >= ?3 AND NOT EXISTS (SELECT 1 FROM messages n"
        " WHERE n.channel = ?1 AND n.origin = ?2 AND n.seq = m.seq + 1)",
    [PQ_MSG_BY_CLIENT] =
        "SELECT " MSG_COLS " FROM messages WHERE channel = ?1 AND origin = ?2"
        " AND client_id = ?3",
    [PQ_MSG_INSERT] =
        "INSERT OR IGNORE INTO messages (channel, origin, seq, lamport, sent_at_ms,"
        " received_at_ms, text, state, client_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [PQ_MSG_GET] =
        "SELECT " MSG_COLS " FROM messages WHERE channel = ?1 AND origin = ?2 AND seq = ?3",
    [PQ_MSG_RANGE] =
        "SELECT " MSG_COLS " FROM messages WHERE channel = ?1 AND origin = ?2"
        " AND seq BETWEEN ?3 AND ?4 ORDER BY seq LIMIT ?5",
    [PQ_MSG_PAGE] =
        "SELECT * FROM (SELECT " MSG_COLS " FROM messages WHERE channel = ?1"
        " AND (?2 = 0 OR (lamport, origin) < (?2, ?3))"
        " ORDER BY lamport DESC, origin DESC LIMIT ?4) ORDER BY lamport, origin",
    [PQ_MSG_OLDER] =
        "SELECT 1 FROM messages WHERE channel = ?1 AND (lamport, origin) < (?2, ?3) LIMIT 1",
    [PQ_MSG_STATE] =
        "UPDATE messages SET state = ?5 WHERE channel = ?1 AND origin = ?2"
        " AND seq BETWEEN ?3 AND ?4 AND " STATE_BEHIND,
    [PQ_MSG_BEHIND] =
        "SELECT seq FROM messages WHERE channel = ?1 AND origin = ?2"
        " AND seq BETWEEN ?3 AND ?4 AND " STATE_BEHIND " ORDER BY seq",
    [PQ_MSG_UNSENT] =
        "UPDATE messages SET state = 'pending' WHERE channel = ?1 AND origin = ?2 AND seq = ?3",
    [PQ_PENDING] =
        "SELECT min(seq), max(seq) FROM messages WHERE channel = ?1 AND origin = ?2"
        " AND state = 'pending'",
    [PQ_HAVE_PUT] =
        "INSERT INTO member_have (channel, member, contiguous, updated_at)"
        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (channel, member) DO UPDATE SET"
        " contiguous = max(contiguous, excluded.contiguous), updated_at = excluded.updated_at",
    [PQ_HAVE_LOAD] = "SELECT member, contiguous FROM member_have WHERE channel = ?1",
    [PQ_LAMPORT] = "SELECT COALESCE(max(lamport), 0) FROM messages",
    [PQ_BEGIN] = "BEGIN IMMEDIATE",
    [PQ_COMMIT] = "COMMIT",
    /* an own message inside the pass transaction: undone alone on failure */
    [PQ_OWN_BEGIN] = "SAVEPOINT own",
    [PQ_OWN_END] = "RELEASE own",
    [PQ_OWN_UNDO] = "ROLLBACK TO own",
};

struct peer_stmts {
    db_stmt *st[PQ__COUNT];
    /* the browser session checked last (every API request shows it) */
    char    sess_token[DB_TOKEN_HEX_LEN + 1];
    int64_t sess_expires;
};

static db_stmt *q(struct peer *p, enum peer_q i)
{
    return p->q->st[i];
}

int peer_store_open(struct peer *p, const char *path)
{
    char err[DB_MAX_ERRMSG];
    struct db_options o = { .schema = &peer_schema };
    if (db_open(&p->db, path, &o, err, sizeof(err), NULL) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    /* WAL with synchronous NORMAL: a commit survives kill -9 (it is in the
     * WAL file the moment COMMIT returns); only a power loss may undo the
     * last commits, never corrupt the file. */
    if (db_exec(p->db, "PRAGMA synchronous = NORMAL", "synchronous") < 0)
        return -1;
    p->q = calloc(1, sizeof(*p->q));
    if (!p->q)
        return -1;
    for (int i = 0; i < PQ__COUNT; i++)
        if (!(p->q->st[i] = db_prepare(p->db, peer_sql[i])))
            return -1;
    return 0;
}

void peer_store_close(struct peer *p)
{
    peer_store_settle(p);
    free(p->q);
    p->q = NULL;
    db_close(p->db);
    p->db = NULL;
}

/* ---- transactions ---- */

static int txn_begin(struct peer *p)
{
    return db_run(q(p, PQ_BEGIN)) < 0 ? -1 : 0;
}

/* Commits the open transaction, or rolls it back when that fails: then
 * the vectors in memory, which ran ahead of it, are read again. */
static int txn_commit(struct peer *p)
{
    if (db_run(q(p, PQ_COMMIT)) >= 0)
        return 0;
    db_rollback(p->db);
    peer_mesh_reload_vectors(p);
    return -1;
}

static void pass_end(ev_loop *loop, void *arg)
{
    (void)loop;
    peer_store_settle(arg);
}

/* The pass transaction: opened by the first write of a loop pass that
 * goes through pass_write(), committed at the end of the pass (or before,
 * by peer_store_settle()). */
static int pass_write(struct peer *p)
{
    if (p->pass_txn)
        return 0;
    if (txn_begin(p) < 0)
        return -1;
    p->pass_txn = true;
    if (!p->pass_armed && ev_defer(p->loop, pass_end, p) == 0)
        p->pass_armed = true;
    return 0;
}

int peer_store_settle(struct peer *p)
{
    p->pass_armed = false;
    if (!p->pass_txn)
        return 0;
    p->pass_txn = false;
    if (txn_commit(p) == 0)
        return 0;
    log_warnx("commit: %s", db_errmsg(p->db));
    return -1;
}

int64_t peer_store_lamport(struct peer *p)
{
    db_stmt *s = q(p, PQ_LAMPORT);
    if (db_bind(s, "") < 0 || db_row(s) != 1)
        return -1;
    int64_t v = db_col_int(s, 0);
    db_stmt_reset(s);
    return v;
}

/* ---- identity and sessions ---- */

int peer_store_identity(struct peer *p, char user[DB_MAX_NAME + 1],
                        char token[DB_TOKEN_HEX_LEN + 1])
{
    db_stmt *s = q(p, PQ_IDENTITY);
    if (db_bind(s, "") < 0)
        return -1;
    int r = db_row(s);
    if (r == 1) {
        db_col_copy(s, 0, user, DB_MAX_NAME + 1);
        db_col_copy(s, 1, token, DB_TOKEN_HEX_LEN + 1);
        db_stmt_reset(s);
    }
    return r;
}

int peer_store_set_identity(struct peer *p, const char *user, const char *token,
                            int64_t expires_at)
{
    db_stmt *s = q(p, PQ_IDENTITY_PUT);
    if (db_bind(s, "ttii", user, token, expires_at, db_now(p->db)) < 0)
        return -1;
    return db_run(s) < 0 ? -1 : 0;
}

int peer_store_clear_token(struct peer *p)
{
    db_stmt *s = q(p, PQ_TOKEN_CLEAR);
    return db_bind(s, "") < 0 || db_run(s) < 0 ? -1 : 0;
}

/* Only the SHA-256 of a session token is stored. */
static void token_hash(const char *token, char out[SHA256_HEX_LEN + 1])
{
    sha256_hex(token, strlen(token), out);
}

static void session_forget(struct peer *p)
{
    memset(p->q->sess_token, 0, sizeof(p->q->sess_token));
    p->q->sess_expires = 0;
}

int peer_store_session_add(struct peer *p, const char *token, int64_t expires_at)
{
    char h[SHA256_HEX_LEN + 1];
    token_hash(token, h);
    db_stmt *purge = q(p, PQ_SESS_PURGE), *s = q(p, PQ_SESS_ADD);
    if (db_bind(purge, "i", db_now(p->db)) < 0 || db_run(purge) < 0)
        return -1;
    if (db_bind(s, "tii", h, db_now(p->db), expires_at) < 0)
        return -1;
    return db_run(s) < 0 ? -1 : 0;
}

int peer_store_session_check(struct peer *p, const char *token)
{
    char h[SHA256_HEX_LEN + 1];
    size_t n = strlen(token);
    int64_t now = db_now(p->db);
    if (n == DB_TOKEN_HEX_LEN && now < p->q->sess_expires
        && entropy_equal(token, p->q->sess_token))
        return 1;
    token_hash(token, h);
    db_stmt *s = q(p, PQ_SESS_CHECK);
    if (db_bind(s, "ti", h, now) < 0)
        return -1;
    int r = db_row(s);
    if (r == 1) {
        /* remembered for a minute at most: sign-outs here forget it, a
         * row an operator deletes by hand counts a minute later */
        if (n == DB_TOKEN_HEX_LEN) {
            memcpy(p->q->sess_token, token, n + 1);
            p->q->sess_expires = now + 60 < db_col_int(s, 0) ? now + 60 : db_col_int(s, 0);
        }
        db_stmt_reset(s);
    }
    return r;
}

int peer_store_session_del(struct peer *p, const char *token)
{
    char h[SHA256_HEX_LEN + 1];
    token_hash(token, h);
    session_forget(p);
    db_stmt *s = q(p, PQ_SESS_DEL);
    return db_bind(s, "t", h) < 0 || db_run(s) < 0 ? -1 : 0;
}

int peer_store_session_del_all(struct peer *p)
{
    session_forget(p);
    db_stmt *s = q(p, PQ_SESS_DEL_ALL);
    return db_bind(s, "") < 0 || db_run(s) < 0 ? -1 : 0;
}

/* ---- conversations ---- */

int peer_store_conv_put(struct peer *p, const char *channel, bool dm, const char *access,
                        const char *peer)
{
    db_stmt *s = q(p, PQ_CONV_PUT);
    if (db_bind(s, "tttti", channel, dm ? "dm" : "channel", access, peer,
                db_now(p->db)) < 0)
        return -1;
    return db_run(s) < 0 ? -1 : 0;
}

int peer_store_conv_left(struct peer *p, const char *channel)
{
    db_stmt *s = q(p, PQ_CONV_LEFT);
    return db_bind(s, "ti", channel, db_now(p->db)) < 0 || db_run(s) < 0 ? -1 : 0;
}

int peer_store_conv_read(struct peer *p, const char *channel, int64_t lamport,
                         const char *origin)
{
    db_stmt *s = q(p, PQ_CONV_READ);
    return db_bind(s, "tit", channel, lamport, origin) < 0 || db_run(s) < 0 ? -1 : 0;
}

int peer_store_conv_list(struct peer *p, peer_conv_cb cb, void *arg)
{
    db_stmt *s = q(p, PQ_CONV_LIST);
    if (db_bind(s, "t", p->user) < 0)
        return -1;
    int r;
    while ((r = db_row(s)) == 1) {
        int rc = cb(db_col_text(s, 0, NULL), db_col_text(s, 1, NULL),
                    db_col_text(s, 2, NULL), db_col_text(s, 3, NULL),
                    db_col_int(s, 4), db_col_int(s, 5), arg);
        if (rc != 0) {
            db_stmt_reset(s);
            return rc;
        }
    }
    return r;
}

int peer_store_conv_exists(struct peer *p, const char *channel)
{
    db_stmt *s = q(p, PQ_CONV_EXISTS);
    if (db_bind(s, "t", channel) < 0)
        return -1;
    int r = db_row(s);
    if (r == 1)
        db_stmt_reset(s);
    return r;
}

int64_t peer_store_unread(struct peer *p, const char *channel)
{
    db_stmt *s = q(p, PQ_UNREAD);
    if (db_bind(s, "tt", channel, p->user) < 0 || db_row(s) != 1)
        return -1;
    int64_t n = db_col_int(s, 0);
    db_stmt_reset(s);
    return n;
}

/* ---- vectors ---- */

/* Records origin's (contiguous, max) in c: the row, then c->vec (which
 * a failed commit reloads). */
static int vec_put(struct peer *p, struct peer_chan *c, const char *origin,
                   int64_t contig, int64_t max)
{
    db_stmt *s = q(p, PQ_VEC_PUT);
    if (db_bind(s, "ttii", c->name, origin, contig, max) < 0 || db_run(s) < 0)
        return -1;
    return peer_vec_set(&c->vec, origin, contig, max);
}

int peer_store_vector(struct peer *p, const char *channel, struct peer_vec *v)
{
    db_stmt *s = q(p, PQ_VEC_ALL);
    peer_vec_clear(v);
    if (db_bind(s, "t", channel) < 0)
        return -1;
    int r;
    while ((r = db_row(s)) == 1)
        if (peer_vec_set(v, db_col_text(s, 0, NULL), db_col_int(s, 1), db_col_int(s, 2)) < 0) {
            db_stmt_reset(s);
            return -1;
        }
    return r;
}

/* ---- messages ---- */

void peer_msg_clear(struct peer_msg *m)
{
    free(m->text);
    memset(m, 0, sizeof(*m));
}

/* m's text: a NUL-terminated copy of text[0..len).  0 or -1. */
static int msg_set_text(struct peer_msg *m, const char *text, size_t len)
{
    free(m->text);
    if (!(m->text = malloc(len + 1)))
        return -1;
    memcpy(m->text, text, len);
    m->text[len] = '\0';
    m->text_len = len;
    return 0;
}

/* Fills m from the current row of a MSG_COLS statement (text copied). */
static int msg_from_row(db_stmt *s, struct peer_msg *m)
{
    size_t n;
    const char *t = db_col_text(s, 6, &n);
    if (msg_set_text(m, t ? t : "", t ? n : 0) < 0)
        return -1;
    db_col_copy(s, 0, m->channel, sizeof(m->channel));
    db_col_copy(s, 1, m->origin, sizeof(m->origin));
    m->seq = db_col_int(s, 2);
    m->lamport = db_col_int(s, 3);
    m->sent_at = db_col_int(s, 4);
    m->received_at = db_col_int(s, 5);
    db_col_copy(s, 7, m->state, sizeof(m->state));
    db_col_copy(s, 8, m->client_id, sizeof(m->client_id));
    return 0;
}

/* Runs a statement expected to give at most one message: 1, 0, -1. */
static int msg_one(db_stmt *s, struct peer_msg *m)
{
    int r = db_row(s);
    if (r != 1)
        return r;
    r = msg_from_row(s, m) < 0 ? -1 : 1;
    db_stmt_reset(s);
    return r;
}

int peer_store_get(struct peer *p, const char *channel, const char *origin, int64_t seq,
                   struct peer_msg *m)
{
    db_stmt *s = q(p, PQ_MSG_GET);
    if (db_bind(s, "tti", channel, origin, seq) < 0)
        return -1;
    return msg_one(s, m);
}

static int msg_insert(struct peer *p, const char *channel, const char *origin,
                      int64_t seq, int64_t lamport, int64_t sent_at, int64_t received_at,
                      const char *text, size_t len, const char *state, const char *client_id)
{
    db_stmt *s = q(p, PQ_MSG_INSERT);
    if (db_bind(s, "ttiiiiTtt", channel, origin, seq, lamport, sent_at, received_at,
                text, len, state, client_id) < 0)
        return -1;
    long n = db_run(s);
    return n < 0 ? -1 : (int)n;
}

/* The stored message of an earlier send with client_id: 1 found, 0, -1. */
static int own_by_client(struct peer *p, const char *channel, const char *client_id,
                         struct peer_msg *m)
{
    db_stmt *s = q(p, PQ_MSG_BY_CLIENT);
    if (!client_id)
        return 0;
    if (db_bind(s, "ttt", channel, p->user, client_id) < 0)
        return -1;
    return msg_one(s, m);
}

/* The message as it was just stored (what peer_store_get would read). */
static int own_fill(struct peer_msg *m, const char *channel, const char *origin,
                    int64_t seq, int64_t lamport, int64_t now_ms, const char *text,
                    size_t len, const char *state, const char *client_id)
{
    if (msg_set_text(m, text, len) < 0)
        return -1;
    snprintf(m->channel, sizeof(m->channel), "%s", channel);
    snprintf(m->origin, sizeof(m->origin), "%s", origin);
    m->seq = seq;
    m->lamport = lamport;
    m->sent_at = m->received_at = now_ms;
    snprintf(m->state, sizeof(m->state), "%s", state);
    snprintf(m->client_id, sizeof(m->client_id), "%s", client_id ? client_id : "");
    return 0;
}

int peer_store_own(struct peer *p, struct peer_chan *c, const char *text, size_t len,
                   const char *client_id, const char *state, int64_t now_ms,
                   struct peer_msg *m)
{
    /* in the pass transaction, which commits before the 201 */
    if (pass_write(p) < 0 || db_run(q(p, PQ_OWN_BEGIN)) < 0)
        return -1;
    int r = own_by_client(p, c->name, client_id, m);
    if (r != 0) {
        db_run(q(p, PQ_OWN_END));
        return r < 0 ? -1 : 0;
    }
    const struct peer_vec_entry *e = peer_vec_find(&c->vec, p->user);
    int64_t contig = e ? e->contig : 0, max = e ? e->max : 0;
    int64_t seq = max + 1, lamport = (int64_t)++p->lamport;
    if (msg_insert(p, c->name, p->user, seq, lamport, now_ms, now_ms, text, len, state,
                   client_id) != 1
        || vec_put(p, c, p->user, contig == max ? seq : contig, seq) < 0
        || own_fill(m, c->name, p->user, seq, lamport, now_ms, text, len, state, client_id) < 0
        || db_run(q(p, PQ_OWN_END)) < 0) {
        p->lamport--;
        db_run(q(p, PQ_OWN_UNDO));
        db_run(q(p, PQ_OWN_END));
        if (peer_store_vector(p, c->name, &c->vec) < 0)
            log_warnx("vector of %s: %s", c->name, db_errmsg(p->db));
        return -1;
    }
    if (peer_store_settle(p) < 0) {   /* rolled back, vectors reloaded */
        p->lamport--;
        return -1;
    }
    return 1;
}

/* The contiguous end after storing seq (contig and max: before it).  Only
 * a seq that fills the gap above contig, with messages held beyond it,
 * needs the store: where the run that now starts at seq ends. */
static int advance_contig(struct peer *p, const char *channel, const char *origin,
                          int64_t contig, int64_t max, int64_t seq, int64_t *out)
{
    *out = contig;
    if (seq != contig + 1)
        return 0;
    *out = seq;
    if (max <= seq)
        return 0;
    db_stmt *s = q(p, PQ_GAP_END);
    if (db_bind(s, "tti", channel, origin, seq) < 0 || db_row(s) != 1)
        return -1;
    *out = db_col_int(s, 0);
    db_stmt_reset(s);
    return 0;
}

int peer_store_received(struct peer *p, struct peer_chan *c, const struct pf_msg *m,
                        int64_t now_ms, int64_t *gap_from)
{
    int64_t next;
    *gap_from = 0;
    if (pass_write(p) < 0)
        return -1;
    int r = msg_insert(p, m->channel, m->origin, m->seq, m->lamport, m->sent_at, now_ms,
                       m->text, m->text_len, NULL, NULL);
    if (r <= 0)
        return r;
    const struct peer_vec_entry *e = peer_vec_find(&c->vec, m->origin);
    int64_t contig = e ? e->contig : 0, max = e ? e->max : 0;
    if (advance_contig(p, m->channel, m->origin, contig, max, m->seq, &next) < 0
        || vec_put(p, c, m->origin, next, m->seq > max ? m->seq : max) < 0)
        return -1;
    if (m->seq > next + 1)
        *gap_from = next + 1;
    return 1;
}

long peer_store_range(struct peer *p, const char *channel, const char *origin,
                      int64_t from, int64_t to, long limit, peer_msg_cb cb, void *arg)
{
    db_stmt *s = q(p, PQ_MSG_RANGE);
    struct peer_msg m = { 0 };
    long n = 0;
    int r;
    if (db_bind(s, "ttiii", channel, origin, from, to, (int64_t)limit) < 0)
        return -1;
    while ((r = db_row(s)) == 1) {
        if (msg_from_row(s, &m) < 0 || cb(&m, arg) != 0) {
            db_stmt_reset(s);
            break;
        }
        n++;
    }
    peer_msg_clear(&m);
    return r < 0 ? -1 : n;
}

/* Whether channel has a message before (lamport, origin): 1, 0, -1. */
static int page_older(struct peer *p, const char *channel, int64_t lamport, const char *origin)
{
    db_stmt *s = q(p, PQ_MSG_OLDER);
    if (db_bind(s, "tit", channel, lamport, origin) < 0)
        return -1;
    int r = db_row(s);
    if (r == 1)
        db_stmt_reset(s);
    return r;
}

long peer_store_page(struct peer *p, const char *channel, int64_t before_lamport,
                     const char *before_origin, long limit, bool *more,
                     peer_msg_cb cb, void *arg)
{
    db_stmt *s = q(p, PQ_MSG_PAGE);
    struct peer_msg m = { 0 };
    int64_t first_lamport = 0;
    char first_origin[DB_MAX_NAME + 1] = "";
    long n = 0;
    int r;
    *more = false;
    if (db_bind(s, "titi", channel, before_lamport, before_origin ? before_origin : "",
                (int64_t)limit) < 0)
        return -1;
    while ((r = db_row(s)) == 1) {
        if (msg_from_row(s, &m) < 0) {
            db_stmt_reset(s);
            r = -1;
            break;
        }
        if (n++ == 0) {
            first_lamport = m.lamport;
            memcpy(first_origin, m.origin, sizeof(first_origin));
        }
        if (cb(&m, arg) != 0) {
            db_stmt_reset(s);
            break;
        }
    }
    peer_msg_clear(&m);
    if (r < 0)
        return -1;
    if (n > 0 && (r = page_older(p, channel, first_lamport, first_origin)) < 0)
        return -1;
    *more = n > 0 && r == 1;
    return n;
}

long peer_store_advance(struct peer *p, const char *channel, int64_t from, int64_t to,
                        const char *state, void (*cb)(int64_t seq, void *arg), void *arg)
{
    db_stmt *sel = q(p, PQ_MSG_BEHIND), *upd = q(p, PQ_MSG_STATE);
    long n = 0;
    int r;
    if (from == to) {   /* one message (a send): the update says whether it moved */
        if (pass_write(p) < 0 || db_bind(upd, "ttiit", channel, p->user, from, to, state) < 0
            || (n = db_run(upd)) < 0)
            return -1;
        if (n > 0)
            cb(from, arg);
        return n;
    }
    if (db_bind(sel, "ttiit", channel, p->user, from, to, state) < 0)
        return -1;
    while ((r = db_row(sel)) == 1) {
        cb(db_col_int(sel, 0), arg);
        n++;
    }
    if (r < 0 || n == 0)
        return r < 0 ? -1 : 0;
    if (pass_write(p) < 0 || db_bind(upd, "ttiit", channel, p->user, from, to, state) < 0)
        return -1;
    return db_run(upd) < 0 ? -1 : n;
}

int peer_store_unsent(struct peer *p, const char *channel, int64_t seq)
{
    db_stmt *s = q(p, PQ_MSG_UNSENT);
    if (pass_write(p) < 0 || db_bind(s, "tti", channel, p->user, seq) < 0)
        return -1;
    return db_run(s) < 0 ? -1 : 0;
}

int peer_store_pending(struct peer *p, const char *channel, int64_t *from, int64_t *to)
{
    db_stmt *s = q(p, PQ_PENDING);
    *from = *to = 0;
    if (db_bind(s, "tt", channel, p->user) < 0 || db_row(s) != 1)
        return -1;
    *from = db_col_int(s, 0);
    *to = db_col_int(s, 1);
    db_stmt_reset(s);
    return 0;
}

/* ---- what members hold ---- */

int peer_store_member_have(struct peer *p, const char *channel, const char *member,
                           int64_t seq)
{
    db_stmt *s = q(p, PQ_HAVE_PUT);
    if (pass_write(p) < 0 || db_bind(s, "ttii", channel, member, seq, db_now(p->db)) < 0)
        return -1;
    return db_run(s) < 0 ? -1 : 0;
}

int peer_store_member_load(struct peer *p, struct peer_chan *c)
{
    db_stmt *s = q(p, PQ_HAVE_LOAD);
    if (db_bind(s, "t", c->name) < 0)
        return -1;
    int r;
    while ((r = db_row(s)) == 1) {
        struct peer_member *m = peer_chan_member(c, db_col_text(s, 0, NULL));
        if (m)
            m->have = peer_vec_merge(m->have, db_col_int(s, 1));
    }
    return r;
}
