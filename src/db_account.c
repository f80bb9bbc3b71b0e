/*
 * db_account.c - accounts (users) and login sessions on the main schema.
 *
 * Passwords are kept only as crypt(3) strings; session tokens only as their
 * SHA-256, so nothing in the file is usable as a password or a token.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "db_int.h"
#include "weaprous/entropy.h"
#include "weaprous/sha256.h"

const struct db_schema db_schema_main = {
    .name = "weaprous",
    .scripts = db_sql_main_scripts,
    .on_create = db_seed_admin,
};

/* Indexed by enum db_q.  The user queries select the same leading columns
 * (id, name, created_at, disabled) so one function reads them all. */
const char *const db_q_sql[DB_Q__COUNT] = {
    [DB_Q_USER_INSERT] =
        "INSERT INTO users (name, password_hash, created_at, password_changed_at)"
        " VALUES (?1, ?2, ?3, ?3)",
    [DB_Q_USER_BY_NAME] =
        "SELECT id, name, created_at, disabled, password_hash FROM users"
        " WHERE name = ?1",
    [DB_Q_USER_LIST] =
        "SELECT id, name, created_at, disabled FROM users ORDER BY name",
    [DB_Q_USER_SET_PASSWORD] =
        "UPDATE users SET password_hash = ?2, password_changed_at = ?3"
        " WHERE name = ?1",
    [DB_Q_USER_SET_DISABLED] =
        "UPDATE users SET disabled = ?2 WHERE name = ?1",
    [DB_Q_USER_DELETE] =
        "DELETE FROM users WHERE name = ?1",
    [DB_Q_SESS_INSERT] =
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at,"
        " expires_at) VALUES (?1, ?2, ?3, ?3, ?4)",
    [DB_Q_SESS_LOOKUP] =
        "SELECT s.user_id, u.name, s.created_at, s.expires_at, s.last_seen_at"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0",
    [DB_Q_SESS_TOUCH] =
        "UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1",
    [DB_Q_SESS_DELETE] =
        "DELETE FROM sessions WHERE token_hash = ?1",
    [DB_Q_SESS_DELETE_USER] =
        "DELETE FROM sessions WHERE user_id IN"
        " (SELECT id FROM users WHERE name = ?1)",
    [DB_Q_SESS_PURGE] =
        "DELETE FROM sessions WHERE expires_at <= ?1",
};

bool db_name_valid(const char *name, size_t max, const char *punct)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || c == '\0' || !strchr(punct, c)))
            return false;
    }
    return true;
}

bool db_user_name_valid(const char *name)
{
    return db_name_valid(name, DB_MAX_NAME, "._-");
}

static bool db_password_valid(const char *pw)
{
    return pw && pw[0] && strlen(pw) <= DB_MAX_PASSWORD;
}

/* Checks name and password syntax, recording why they are refused. */
static int db_check_credentials(db *d, const char *name, const char *pw)
{
    if (!db_user_name_valid(name))
        return db_failf(d, DB_E_INVALID, "invalid user name (1-%d of A-Z a-z 0-9 . _ -,"
                        " starting with a letter or digit)", DB_MAX_NAME);
    if (!db_password_valid(pw))
        return db_failf(d, DB_E_INVALID, "the password must have 1 to %d bytes",
                        DB_MAX_PASSWORD);
    return 0;
}

static int db_hash(db *d, const char *pw, char out[PWHASH_MAX])
{
    if (pwhash_make(pw, out, PWHASH_MAX) < 0)
        return db_failf(d, DB_E_CRYPTO, "crypt(3) could not hash the password"
                        " (no yescrypt or sha512crypt, or no random source)");
    return 0;
}

/* Inserts a user with statement st (cached, or one-off while migrating). */
static int db_user_insert(db *d, sqlite3_stmt *st, const char *name, const char *pw)
{
    char hash[PWHASH_MAX];

    if (db_check_credentials(d, name, pw) < 0 || db_hash(d, pw, hash) < 0)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, db_now(d));
    if (db_exec_q(d, st, "add user") < 0) {
        if (d->err == DB_E_EXISTS)
            db_failf(d, DB_E_EXISTS, "user '%s' already exists", name);
        return -1;
    }
    return 0;
}

int db_seed_admin(db *d)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h, db_q_sql[DB_Q_USER_INSERT], -1, &st, NULL);

    if (rc != SQLITE_OK)
        return db_fail_sqlite(d, rc, "prepare default account");
    rc = db_user_insert(d, st, DB_DEFAULT_ADMIN_NAME, DB_DEFAULT_ADMIN_PASSWORD);
    sqlite3_finalize(st);
    if (rc == 0)
        d->info.created_admin = true;
    return rc;
}

int db_user_add(db *d, const char *name, const char *password)
{
    sqlite3_stmt *st = db_q(d, DB_Q_USER_INSERT);

    return st ? db_user_insert(d, st, name, password) : -1;
}

/* Reads the leading user columns of the current row. */
static void db_user_row(sqlite3_stmt *st, struct db_user *u)
{
    const unsigned char *name = sqlite3_column_text(st, 1);

    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(st, 0);
    if (name)
        snprintf(u->name, sizeof u->name, "%s", (const char *)name);
    u->created_at = sqlite3_column_int64(st, 2);
    u->disabled = sqlite3_column_int(st, 3) != 0;
}

/* Looks a user up by name; copies the password hash when hash is set.
 * 0 found, 1 absent, -1 error. */
static int db_user_fetch(db *d, const char *name, struct db_user *u,
                         char hash[PWHASH_MAX])
{
    sqlite3_stmt *st = db_q(d, DB_Q_USER_BY_NAME);
    int rc;

    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(st, 4);
        db_user_row(st, u);
        if (hash)
            snprintf(hash, PWHASH_MAX, "%s", h ? (const char *)h : "");
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return 1;
    return db_fail_sqlite(d, rc, "find user");
}

int db_user_get(db *d, const char *name, struct db_user *u)
{
    int rc = db_user_name_valid(name) ? db_user_fetch(d, name, u, NULL) : 1;

    if (rc == 1)
        return db_failf(d, DB_E_NOTFOUND, "no user '%s'", name ? name : "");
    return rc;
}

int db_user_list(db *d, int (*cb)(const struct db_user *u, void *arg), void *arg)
{
    sqlite3_stmt *st = db_q(d, DB_Q_USER_LIST);
    struct db_user u;
    int rc, stop = 0;

    if (!st)
        return -1;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_user_row(st, &u);
        stop = cb(&u, arg);
    }
    sqlite3_reset(st);
    if (stop)
        return stop;
    return rc == SQLITE_DONE ? 0 : db_fail_sqlite(d, rc, "list users");
}

/* Runs a one-name UPDATE/DELETE (with an optional integer or text second
 * parameter) and turns "no row changed" into DB_E_NOTFOUND. */
static int db_user_change(db *d, enum db_q q, const char *name,
                          const char *text2, int64_t int2, const char *what)
{
    sqlite3_stmt *st = db_q(d, q);

    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (text2)
        sqlite3_bind_text(st, 2, text2, -1, SQLITE_TRANSIENT);
    else if (q != DB_Q_USER_DELETE)
        sqlite3_bind_int64(st, 2, int2);
    if (q == DB_Q_USER_SET_PASSWORD)
        sqlite3_bind_int64(st, 3, db_now(d));
    if (db_exec_q(d, st, what) < 0)
        return -1;
    if (sqlite3_changes(d->h) == 0)
        return db_failf(d, DB_E_NOTFOUND, "no user '%s'", name);
    return 0;
}

/* Deletes every session of `name` (inside the caller's transaction). */
static int db_user_end_sessions(db *d, const char *name)
{
    sqlite3_stmt *st = db_q(d, DB_Q_SESS_DELETE_USER);

    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    return db_exec_q(d, st, "end sessions");
}

int db_user_passwd(db *d, const char *name, const char *password)
{
    char hash[PWHASH_MAX];

    /* Hash before the transaction: crypt is slow, the write lock is not. */
    if (db_check_credentials(d, name, password) < 0 || db_hash(d, password, hash) < 0)
        return -1;
    if (db_begin(d) < 0)
        return -1;
    /* A new password ends the old sessions: a stolen cookie stops working. */
    if (db_user_change(d, DB_Q_USER_SET_PASSWORD, name, hash, 0, "set password") < 0 ||
        db_user_end_sessions(d, name) < 0 || db_commit(d) < 0) {
        db_rollback(d);
        return -1;
    }
    return 0;
}

int db_user_del(db *d, const char *name)
{
    if (!db_user_name_valid(name))
        return db_failf(d, DB_E_NOTFOUND, "no user '%s'", name ? name : "");
    /* Sessions go with the row: ON DELETE CASCADE. */
    return db_user_change(d, DB_Q_USER_DELETE, name, NULL, 0, "delete user");
}

int db_user_disable(db *d, const char *name, bool disabled)
{
    if (!db_user_name_valid(name))
        return db_failf(d, DB_E_NOTFOUND, "no user '%s'", name ? name : "");
    if (db_begin(d) < 0)
        return -1;
    if (db_user_change(d, DB_Q_USER_SET_DISABLED, name, NULL, disabled,
                       "disable user") < 0 ||
        (disabled && db_user_end_sessions(d, name) < 0) || db_commit(d) < 0) {
        db_rollback(d);
        return -1;
    }
    return 0;
}

/* The hash checked when the name is unknown: same method and cost as real
 * ones (made by the same code), of a random password nobody knows. */
static int db_dummy_hash(db *d)
{
    char pw[33];

    if (d->dummy_hash[0])
        return 0;
    if (entropy_hex(pw, 16) < 0)
        return db_failf(d, DB_E_CRYPTO, "no random source");
    return db_hash(d, pw, d->dummy_hash);
}

enum db_auth db_user_check_password(db *d, const char *name, const char *password,
                                    struct db_user *u)
{
    char hash[PWHASH_MAX];
    struct db_user found = { 0 };
    int rc = 1, match;

    if (db_dummy_hash(d) < 0)
        return DB_AUTH_ERROR;
    if (db_user_name_valid(name) && (rc = db_user_fetch(d, name, &found, hash)) < 0)
        return DB_AUTH_ERROR;
    if (!db_password_valid(password))
        password = "";   /* still spend the same work below */
    /* One crypt(3) whatever happened above: timing does not tell whether
     * the name exists. */
    match = pwhash_verify(password, rc == 0 ? hash : d->dummy_hash);
    memset(hash, 0, sizeof hash);
    if (match < 0) {
        db_failf(d, DB_E_NOMEM, "out of memory checking a password");
        return DB_AUTH_ERROR;
    }
    if (rc != 0 || !match || !password[0])
        return DB_AUTH_BAD;
    if (found.disabled)
        return DB_AUTH_DISABLED;
    if (u)
        *u = found;
    return DB_AUTH_OK;
}

/* ---- sessions ---- */

/* True for exactly DB_TOKEN_HEX_LEN lower-case hex digits. */
static bool db_token_valid(const char *t)
{
    size_t i = 0;

    if (!t)
        return false;
    for (; i < DB_TOKEN_HEX_LEN && t[i]; i++)
        if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
            return false;
    return i == DB_TOKEN_HEX_LEN && t[i] == '\0';
}

int db_session_create(db *d, int64_t user_id, char token_out[DB_TOKEN_HEX_LEN + 1],
                      int64_t *expires_at)
{
    sqlite3_stmt *st = db_q(d, DB_Q_SESS_INSERT);
    char digest[SHA256_HEX_LEN + 1];
    int64_t now = db_now(d), exp = now + d->session_lifetime;

    if (!st)
        return -1;
    if (entropy_hex(token_out, DB_TOKEN_BYTES) < 0)
        return db_failf(d, DB_E_CRYPTO, "no random source for a session token");
    sha256_hex(token_out, DB_TOKEN_HEX_LEN, digest);
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, exp);
    if (db_exec_q(d, st, "create session") < 0) {
        if (sqlite3_extended_errcode(d->h) == SQLITE_CONSTRAINT_FOREIGNKEY)
            db_failf(d, DB_E_NOTFOUND, "no user with id %lld", (long long)user_id);
        token_out[0] = '\0';
        return -1;
    }
    if (expires_at)
        *expires_at = exp;
    return 0;
}

int64_t db_session_lifetime(const db *d)
{
    return d->session_lifetime;
}

/* Writes last_seen_at.  Its failure is not the caller's: the session is
 * valid either way, and last_seen is only information for operators. */
static void db_session_touch(db *d, const char *digest, int64_t now)
{
    sqlite3_stmt *st = db_q(d, DB_Q_SESS_TOUCH);

    if (!st)
        return;
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    db_group_settle(d);
    sqlite3_step(st);
    sqlite3_reset(st);
}

/* Reads a DB_Q_SESS_LOOKUP row into *s; returns its last_seen_at. */
static int64_t db_session_row(sqlite3_stmt *st, struct db_session *s)
{
    const unsigned char *name = sqlite3_column_text(st, 1);

    memset(s, 0, sizeof *s);
    s->user_id = sqlite3_column_int64(st, 0);
    snprintf(s->user_name, sizeof s->user_name, "%s", name ? (const char *)name : "");
    s->created_at = sqlite3_column_int64(st, 2);
    s->expires_at = sqlite3_column_int64(st, 3);
    return sqlite3_column_int64(st, 4);
}

int db_session_lookup(db *d, const char *token, struct db_session *s)
{
    sqlite3_stmt *st = db_q(d, DB_Q_SESS_LOOKUP);
    char digest[SHA256_HEX_LEN + 1];
    int64_t now = db_now(d), last_seen = 0;
    int rc;

    if (!st)
        return -1;
    if (!db_token_valid(token))
        return db_failf(d, DB_E_NOTFOUND, "malformed session token");
    sha256_hex(token, DB_TOKEN_HEX_LEN, digest);
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        last_seen = db_session_row(st, s);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return db_failf(d, DB_E_NOTFOUND, "no such session, or it expired");
    if (rc != SQLITE_ROW)
        return db_fail_sqlite(d, rc, "find session");
    /* Bounded writes: a busy page must not turn every request into one. */
    if (now - last_seen >= DB_LAST_SEEN_GRANULARITY)
        db_session_touch(d, digest, now);
    return 0;
}

int db_session_delete(db *d, const char *token)
{
    sqlite3_stmt *st = db_q(d, DB_Q_SESS_DELETE);
    char digest[SHA256_HEX_LEN + 1];

    if (!st)
        return -1;
    if (!db_token_valid(token))
        return 0;   /* cannot exist: nothing to delete */
    sha256_hex(token, DB_TOKEN_HEX_LEN, digest);
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_TRANSIENT);
    return db_exec_q(d, st, "delete session");
}

long db_session_purge_expired(db *d)
{
    sqlite3_stmt *st = db_q(d, DB_Q_SESS_PURGE);

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, db_now(d));
    if (db_exec_q(d, st, "purge sessions") < 0)
        return -1;
    return (long)sqlite3_changes(d->h);
}

_Static_assert(DB_MAX_HASH == PWHASH_MAX, "one hash size");

int db_password_hash(const char *password, char out[DB_MAX_HASH])
{
    return pwhash_make(password, out, DB_MAX_HASH);
}

int db_password_verify(const char *password, const char *hash)
{
    return pwhash_verify(password, hash);
}
