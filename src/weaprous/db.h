/*
 * db.h - the store: one module that owns a SQLite handle and every prepared
 * statement used on it.
 *
 * db_open() sets WAL, foreign keys and a busy timeout, then brings the
 * database to the newest version of a schema set: numbered SQL scripts
 * embedded at build time from db/NNN_*.sql, script N taking PRAGMA
 * user_version from N-1 to N, each in its own transaction.  A database newer
 * than the code is refused.  Another set of tables (a peer's message
 * history) plugs in as another `struct db_schema`; more tables for the main
 * database (the tracker's) are simply the next numbered files of the main set.
 *
 * Conventions: functions return 0 on success and -1 on failure; then
 * db_errcode() classifies the failure (so that a request handler can answer
 * 503 for DB_E_BUSY, 409 for DB_E_EXISTS ...) and db_errmsg() gives a
 * sentence with SQLite's own text, for the log.  Nothing here logs, nothing
 * aborts on a locked, corrupt or foreign file.  Single-threaded: one handle
 * per process (several processes may share the file).
 *
 * Timestamps are Unix seconds (UTC), taken from the clock given at open
 * (tests pass a fake one).
 */
#ifndef WEAPROUS_DB_H
#define WEAPROUS_DB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weaprous/api.h"

WR_API_BEGIN

#define DB_MAX_NAME              32    /* user name bytes */
#define DB_MAX_PASSWORD          1024  /* password bytes (crypt input cap) */
#define DB_MAX_ERRMSG            512   /* bytes of db_errmsg() text */
#define DB_TOKEN_BYTES           32    /* 256-bit session token */
#define DB_TOKEN_HEX_LEN         (2 * DB_TOKEN_BYTES)
#define DB_DEFAULT_BUSY_MS       2000  /* wait this long for another writer */
#define DB_DEFAULT_SESSION_LIFETIME (7 * 24 * 3600)  /* seconds */
#define DB_LAST_SEEN_GRANULARITY 60    /* seconds between last_seen writes */
#define DB_MAX_STMTS             128   /* statements registered per handle */

#define DB_DEFAULT_ADMIN_NAME     "admin"
#define DB_DEFAULT_ADMIN_PASSWORD "password"

typedef struct db db;

enum db_err {
    DB_E_NONE = 0,
    DB_E_SQL,        /* SQLite error not classified below */
    DB_E_BUSY,       /* locked by another process beyond the busy timeout */
    DB_E_CORRUPT,    /* file is not a database or is damaged */
    DB_E_NEWER,      /* user_version newer than this program knows */
    DB_E_OPEN,       /* cannot open or create the file */
    DB_E_NOMEM,
    DB_E_INVALID,    /* bad argument: name or password syntax, token format */
    DB_E_EXISTS,     /* the name is taken */
    DB_E_NOTFOUND,   /* no such user or session (or the session expired) */
    DB_E_CRYPTO,     /* crypt(3) or the random source failed */
    DB_E_NOSCHEMA,   /* this database's schema has no such table */
};

struct db;
/* A set of numbered migrations for one kind of database: scripts is a
 * NULL-terminated list, scripts[i] bringing user_version from i to i+1.  on_create, when set, runs inside the
 * transaction of migration 1 (the database was empty), e.g. to seed rows;
 * it returns 0 or -1 (then the whole migration 1 is rolled back). */
struct db_schema {
    const char         *name;     /* for messages: "weaprous", "peer" ... */
    const char *const  *scripts;
    int               (*on_create)(struct db *d);
};

/* The main database: users, sessions (and later the tracker's tables).  Its
 * on_create adds the account admin/password. */
extern const struct db_schema db_schema_main;

typedef int64_t (*db_clock_fn)(void *arg);

struct db_options {
    const struct db_schema *schema;   /* NULL: &db_schema_main */
    int      busy_timeout_ms;         /* 0: DB_DEFAULT_BUSY_MS */
    int64_t  session_lifetime;        /* seconds; 0: DB_DEFAULT_SESSION_LIFETIME */
    db_clock_fn now;                  /* NULL: time(NULL) */
    void    *now_arg;
};

/* What db_open() found and did, for the caller to log. */
struct db_open_info {
    int  version_before;   /* user_version found (0: empty database) */
    int  version_after;    /* user_version now */
    bool created_admin;    /* this open created admin/password: tell the operator */
};

/* Opens (creating it, mode 0600) and migrates the database at `path`.
 * opt may be NULL.  On success stores a handle in *out and returns 0.  On
 * failure returns -1, *out is NULL, and a sentence naming the file and the
 * cause (with sqlite3_errmsg) is written to err[0..errlen) when err is set;
 * *errcode (when set) gets the enum db_err. */
int db_open(db **out, const char *path, const struct db_options *opt,
            char *err, size_t errlen, enum db_err *errcode);
/* Finalises every statement and closes the handle.  NULL is fine. */
void db_close(db *d);

const struct db_open_info *db_info(const db *d);
/* The last failure on this handle. */
enum db_err db_errcode(const db *d);
const char *db_errmsg(const db *d);
/* Current time by the handle's clock (Unix seconds). */
int64_t db_now(const db *d);

/* ---- statements of other modules (the tracker's, the peer's) ----
 *
 * A db_stmt is prepared once on the handle, owned by it and finalised by
 * db_close().  A use is: db_bind() (which resets the statement first), then
 * db_row() until it returns 0, or db_run() for a statement without rows;
 * db_col_*() read the current row, valid until the next db_row()/db_bind().
 * Nothing else of SQLite is needed outside the store.
 */
typedef struct db_stmt db_stmt;

/* Prepares sql on d.  NULL on failure (db_errmsg names the statement's
 * error) or after DB_MAX_STMTS statements. */
db_stmt *db_prepare(db *d, const char *sql);
/* Resets s, clears its bindings and binds parameters 1, 2 ... from a type
 * string: 'i' an int64_t, 't' a NUL-terminated string (NULL binds NULL),
 * 'T' a string given as (const char *, size_t).  0, or -1 recorded. */
int db_bind(db_stmt *s, const char *types, ...);
/* db_bind() with the parameters in a va_list (for a module's own binding
 * helper); ap is consumed. */
int db_vbind(db_stmt *s, const char *types, va_list ap);
/* Steps to the next row: 1 a row, 0 done (the statement is reset), -1 on
 * failure (reset, recorded). */
int db_row(db_stmt *s);
/* Runs a statement that returns no row to completion: the number of rows
 * it changed, or -1 (recorded).  The statement is reset. */
long db_run(db_stmt *s);
/* Stops reading rows before the last one (releases the statement's locks). */
void db_stmt_reset(db_stmt *s);
/* Columns of the current row, 0-based.  db_col_text() returns NULL for SQL
 * NULL and sets *len (when given); db_col_copy() copies at most cap-1 bytes
 * and a NUL ("" for NULL). */
int64_t db_col_int(db_stmt *s, int col);
const char *db_col_text(db_stmt *s, int col, size_t *len);
void db_col_copy(db_stmt *s, int col, char *out, size_t cap);
bool db_col_null(db_stmt *s, int col);
/* Rowid of the last successful INSERT on the handle. */
int64_t db_last_rowid(db *d);
/* Runs one or more SQL statements without results (pragmas, scripts).
 * 0, or -1 recorded with `what` in the message. */
int db_exec(db *d, const char *sql, const char *what);

/* Transactions (BEGIN IMMEDIATE / COMMIT / ROLLBACK): 0 or -1. */
int db_begin(db *d);
int db_commit(db *d);
int db_rollback(db *d);

/* ---- group commit: many small writes, one transaction ----
 *
 * db_group_run() runs a write like db_run() but inside the handle's group
 * transaction, which it opens (BEGIN IMMEDIATE) when none is open;
 * db_group_commit() ends it.  Until then nothing of the group is durable:
 * the caller tells no one that such a write is done.  Every other write
 * on the handle (db_run, db_exec, db_begin, the accounts and sessions
 * functions) commits an open group first, so that it never joins one and
 * the group never waits for it; reads see the group's writes.  However
 * the group ends, the hook set with db_group_hook() is called: rc 0 when
 * it committed, -1 when it was rolled back (none of its writes happened;
 * db_errmsg says why).  db_close() commits an open group.
 */
typedef void (*db_group_fn)(void *arg, int rc);
void db_group_hook(db *d, db_group_fn fn, void *arg);
/* The number of rows the write changed, or -1 (recorded; a failure that
 * rolled the whole transaction back ends the group, hook told). */
long db_group_run(db_stmt *s);
/* Commits the open group (0 when none is open), else -1 rolled back. */
int db_group_commit(db *d);
bool db_group_open(const db *d);

/* ---- accounts ---- */

struct db_user {
    int64_t id;
    char    name[DB_MAX_NAME + 1];
    int64_t created_at;
    bool    disabled;
};

enum db_auth {
    DB_AUTH_ERROR = -1,   /* store failure: see db_errmsg */
    DB_AUTH_OK = 0,
    DB_AUTH_BAD = 1,      /* unknown user or wrong password: indistinguishable */
    DB_AUTH_DISABLED = 2, /* right password, account disabled */
};

/* True when `name` is a valid user name: 1..DB_MAX_NAME of [A-Za-z0-9._-],
 * starting with a letter or digit. */
bool db_user_name_valid(const char *name);
/* The rule behind every name the store keeps (accounts, channels): 1..max
 * bytes of ASCII letters and digits, plus the characters of punct anywhere
 * but first. */
bool db_name_valid(const char *name, size_t max, const char *punct);

/* Creates an account (password hashed with yescrypt, else sha512crypt, and a
 * fresh random salt).  -1 with DB_E_EXISTS when the name is taken ignoring
 * case, DB_E_INVALID for a bad name or an empty/oversized password. */
int db_user_add(db *d, const char *name, const char *password);
/* Sets a new password and ends every session of the user. */
int db_user_passwd(db *d, const char *name, const char *password);
/* Deletes the account and (by cascade) its sessions. */
int db_user_del(db *d, const char *name);
/* Sets or clears the disabled flag; disabling ends the user's sessions. */
int db_user_disable(db *d, const char *name, bool disabled);
/* Fills *u for `name` (any case).  -1 DB_E_NOTFOUND when absent. */
int db_user_get(db *d, const char *name, struct db_user *u);
/* Calls cb for every user ordered by name; a non-zero return from cb stops
 * the walk and is returned.  -1 on store failure. */
int db_user_list(db *d, int (*cb)(const struct db_user *u, void *arg), void *arg);
/* Password hashing for other secrets the caller keeps (channel
 * passwords): db_password_hash() writes a crypt(3) string with a fresh
 * salt (yescrypt, else sha512crypt) into out[DB_MAX_HASH]: 0, or -1 with
 * errno.  db_password_verify() compares in constant time: 1 match, 0 no
 * match (also a malformed hash), -1 out of memory. */
#define DB_MAX_HASH 384
int db_password_hash(const char *password, char out[DB_MAX_HASH]);
int db_password_verify(const char *password, const char *hash);

/* Checks a password.  Always does one crypt(3) of the same cost (against a
 * dummy hash when the user does not exist) and compares digests in constant
 * time, so the answer and its timing do not reveal whether a name exists.
 * On DB_AUTH_OK, *u (when set) describes the user. */
enum db_auth db_user_check_password(db *d, const char *name, const char *password,
                                    struct db_user *u);

/* ---- sessions ---- */

struct db_session {
    int64_t user_id;
    char    user_name[DB_MAX_NAME + 1];
    int64_t created_at;
    int64_t expires_at;
};

/* Starts a session for user_id: writes a new 256-bit random token as 64
 * lower-case hex chars plus NUL to token_out (give it to the client); only
 * its SHA-256 is stored.  *expires_at (when set) gets the expiry, exactly
 * db_session_lifetime() after the instant the session was created. */
int db_session_create(db *d, int64_t user_id, char token_out[DB_TOKEN_HEX_LEN + 1],
                      int64_t *expires_at);
/* Seconds from a session's creation to its expiry: a cookie's Max-Age,
 * from the same instant as the stored expiry (not a later clock reading). */
int64_t db_session_lifetime(const db *d);
/* Finds the live session of `token`: 0 and *s filled, or -1 with
 * DB_E_NOTFOUND for an unknown, malformed or expired token or a disabled
 * user.  Refreshes last_seen_at at most once per DB_LAST_SEEN_GRANULARITY. */
int db_session_lookup(db *d, const char *token, struct db_session *s);
/* Ends one session; deleting an unknown token is not an error. */
int db_session_delete(db *d, const char *token);
/* Deletes every expired session; returns how many, or -1. */
long db_session_purge_expired(db *d);

WR_API_END

#endif
