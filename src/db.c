/*
 * db.c - the store's handle: open, pragmas, migrations by user_version,
 * error classification, the statement API, transactions and group
 * commit, teardown.
 * Accounts and sessions are in db_account.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db_int.h"

int db_failf(db *d, enum db_err code, const char *fmt, ...)
{
    va_list ap;

    d->err = code;
    va_start(ap, fmt);
    vsnprintf(d->errmsg, sizeof d->errmsg, fmt, ap);
    va_end(ap);
    return -1;
}

enum db_err db_classify(int rc)
{
    switch (rc & 0xff) {   /* primary code of an extended one */
    case SQLITE_OK:        return DB_E_NONE;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:    return DB_E_BUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:    return DB_E_CORRUPT;
    case SQLITE_NOMEM:     return DB_E_NOMEM;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:  return DB_E_OPEN;
    case SQLITE_CONSTRAINT:
        return (rc == SQLITE_CONSTRAINT_UNIQUE ||
                rc == SQLITE_CONSTRAINT_PRIMARYKEY) ? DB_E_EXISTS : DB_E_SQL;
    default:               return DB_E_SQL;
    }
}

int db_fail_sqlite(db *d, int rc, const char *what)
{
    /* errmsg describes the latest failing call on the handle; the code's
     * own text covers calls that do not set it. */
    const char *msg = d->h && sqlite3_errcode(d->h) != SQLITE_OK
                          ? sqlite3_errmsg(d->h) : sqlite3_errstr(rc);
    return db_failf(d, db_classify(rc), "%s: %s", what, msg);
}

static int64_t db_clock_real(void *arg)
{
    (void)arg;
    return (int64_t)time(NULL);
}

int64_t db_now(const db *d)
{
    return d->now(d->now_arg);
}

const struct db_open_info *db_info(const db *d) { return &d->info; }
enum db_err db_errcode(const db *d) { return d->err; }
const char *db_errmsg(const db *d) { return d->errmsg; }

/* Runs SQL without results, group or not (transaction control itself). */
static int db_exec_raw(db *d, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(d->h, sql, NULL, NULL, &msg);

    if (rc == SQLITE_OK)
        return 0;
    db_failf(d, db_classify(rc), "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return -1;
}

int db_exec(db *d, const char *sql, const char *what)
{
    db_group_settle(d);
    return db_exec_raw(d, sql, what);
}

int db_begin(db *d)
{
    db_group_settle(d);
    return db_exec_raw(d, "BEGIN IMMEDIATE", "begin transaction");
}

int db_commit(db *d)   { return db_exec_raw(d, "COMMIT", "commit"); }

int db_rollback(db *d)
{
    /* Keep the failure that caused the rollback, not the rollback's own. */
    enum db_err e = d->err;
    char keep[DB_MAX_ERRMSG];

    memcpy(keep, d->errmsg, sizeof keep);
    if (sqlite3_get_autocommit(d->h))
        return 0;   /* SQLite already rolled back (e.g. after SQLITE_FULL) */
    int rc = db_exec_raw(d, "ROLLBACK", "rollback");
    if (e != DB_E_NONE) {
        d->err = e;
        memcpy(d->errmsg, keep, sizeof keep);
    }
    return rc;
}

/* ---- group commit ---- */

void db_group_hook(db *d, db_group_fn fn, void *arg)
{
    d->group_fn = fn;
    d->group_arg = arg;
}

bool db_group_open(const db *d) { return d->group_open; }

/* Ends the open group: committed (rc 0) or, when commit is false or the
 * COMMIT fails, rolled back (-1); tells the hook either way. */
static int db_group_end(db *d, bool commit)
{
    if (!d->group_open)
        return 0;
    d->group_open = false;
    int rc = commit ? db_exec_raw(d, "COMMIT", "group commit") : -1;
    if (rc < 0)
        db_rollback(d);
    if (d->group_fn)
        d->group_fn(d->group_arg, rc);
    return rc;
}

int db_group_commit(db *d) { return db_group_end(d, true); }

void db_group_settle(db *d)
{
    /* The group's outcome goes to its hook; the write that follows has
     * its own. */
    if (d->group_open)
        db_group_end(d, true);
}

long db_group_run(db_stmt *s)
{
    db *d = s->d;

    if (!d->group_open) {
        if (db_exec_raw(d, "BEGIN IMMEDIATE", "begin group") < 0) {
            sqlite3_reset(s->st);
            return -1;
        }
        d->group_open = true;
    }
    int rc = sqlite3_step(s->st);
    sqlite3_reset(s->st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return (long)sqlite3_changes(d->h);
    db_fail_sqlite(d, rc, "update");
    /* An I/O error or a full disk rolls the whole transaction back, not
     * just this statement: the group is lost. */
    if (sqlite3_get_autocommit(d->h))
        db_group_end(d, false);
    return -1;
}

sqlite3_stmt *db_q(db *d, enum db_q q)
{
    sqlite3_stmt *st = d->q[q];

    if (!st) {
        db_failf(d, DB_E_NOSCHEMA, "the %s schema has no accounts or sessions",
                 d->schema->name);
        return NULL;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int db_exec_q(db *d, sqlite3_stmt *st, const char *what)
{
    db_group_settle(d);
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    return db_fail_sqlite(d, rc, what);
}

db_stmt *db_prepare(db *d, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (d->n_stmts >= DB_MAX_STMTS) {
        db_failf(d, DB_E_NOMEM, "more than %d prepared statements", DB_MAX_STMTS);
        return NULL;
    }
    int rc = sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        db_failf(d, db_classify(rc), "prepare \"%.60s%s\": %s", sql,
                 strlen(sql) > 60 ? "..." : "", sqlite3_errmsg(d->h));
        return NULL;
    }
    struct db_stmt *s = &d->stmts[d->n_stmts++];
    s->d = d;
    s->st = st;
    return s;
}

int db_bind(db_stmt *s, const char *types, ...)
{
    va_list ap;

    va_start(ap, types);
    int rc = db_vbind(s, types, ap);
    va_end(ap);
    return rc;
}

int db_vbind(db_stmt *s, const char *types, va_list ap)
{
    int rc = SQLITE_OK;

    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
        const char *p;
        switch (types[i]) {
        case 'i':
            rc = sqlite3_bind_int64(s->st, i + 1, va_arg(ap, int64_t));
            break;
        case 't':
            p = va_arg(ap, const char *);
            rc = sqlite3_bind_text(s->st, i + 1, p, -1, SQLITE_TRANSIENT);
            break;
        case 'T':
            p = va_arg(ap, const char *);
            rc = sqlite3_bind_text(s->st, i + 1, p, (int)va_arg(ap, size_t),
                                   SQLITE_TRANSIENT);
            break;
        default:
            rc = SQLITE_MISUSE;
        }
    }
    return rc == SQLITE_OK ? 0 : db_fail_sqlite(s->d, rc, "bind");
}

int db_row(db_stmt *s)
{
    int rc = sqlite3_step(s->st);

    if (rc == SQLITE_ROW)
        return 1;
    sqlite3_reset(s->st);
    return rc == SQLITE_DONE ? 0 : db_fail_sqlite(s->d, rc, "query");
}

long db_run(db_stmt *s)
{
    db_group_settle(s->d);
    int rc = sqlite3_step(s->st);

    sqlite3_reset(s->st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_fail_sqlite(s->d, rc, "update");
    return (long)sqlite3_changes(s->d->h);
}

void db_stmt_reset(db_stmt *s) { sqlite3_reset(s->st); }
int64_t db_col_int(db_stmt *s, int col) { return sqlite3_column_int64(s->st, col); }
bool db_col_null(db_stmt *s, int col)
{
    return sqlite3_column_type(s->st, col) == SQLITE_NULL;
}

const char *db_col_text(db_stmt *s, int col, size_t *len)
{
    const char *t = (const char *)sqlite3_column_text(s->st, col);

    if (len)
        *len = t ? (size_t)sqlite3_column_bytes(s->st, col) : 0;
    return t;
}

void db_col_copy(db_stmt *s, int col, char *out, size_t cap)
{
    const char *t = db_col_text(s, col, NULL);
    snprintf(out, cap, "%s", t ? t : "");
}

int64_t db_last_rowid(db *d) { return sqlite3_last_insert_rowid(d->h); }

/* Reads PRAGMA user_version into *v.  0 or -1. */
static int db_user_version(db *d, int *v)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h, "PRAGMA user_version", -1, &st, NULL);

    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return 0;
    }
    db_fail_sqlite(d, rc, "read schema version");
    sqlite3_finalize(st);
    return -1;
}

/* Refuses a database made by newer code: its tables may mean other things. */
static int db_check_not_newer(db *d, int v)
{
    if (v <= d->n_scripts)
        return 0;
    return db_failf(d, DB_E_NEWER,
                    "schema version %d of '%s' is newer than this program's %d; "
                    "use a newer weaprous", v, d->schema->name, d->n_scripts);
}

/* Applies migration v+1 inside the caller's transaction. */
static int db_apply_one(db *d, int v)
{
    char what[96], pragma[64];

    snprintf(what, sizeof what, "%s migration %d", d->schema->name, v + 1);
    if (db_exec(d, d->schema->scripts[v], what) < 0)
        return -1;
    if (v == 0 && d->schema->on_create && d->schema->on_create(d) < 0)
        return -1;
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
    return db_exec(d, pragma, what);
}

/* Brings the schema up to date, one transaction per step.  The version is
 * read again inside each write transaction because another process opening
 * the same file may have migrated it meanwhile. */
static int db_migrate(db *d)
{
    int v;

    if (db_user_version(d, &v) < 0 || db_check_not_newer(d, v) < 0)
        return -1;
    d->info.version_before = v;
    while (v < d->n_scripts) {
        if (db_begin(d) < 0)
            return -1;
        if (db_user_version(d, &v) < 0 || db_check_not_newer(d, v) < 0)
            goto fail;
        if (v < d->n_scripts && db_apply_one(d, v) < 0)
            goto fail;
        if (db_commit(d) < 0)
            goto fail;
        if (db_user_version(d, &v) < 0)
            return -1;
    }
    d->info.version_after = v;
    return 0;
fail:
    db_rollback(d);
    return -1;
}

/* Creates the file with mode 0600 before SQLite does (0644 by default):
 * it holds password hashes.  The -wal and -shm files inherit the mode. */
static int db_precreate(db *d, const char *path)
{
    if (path[0] == ':' || strncmp(path, "file:", 5) == 0)
        return 0;   /* in-memory or URI: nothing to create */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        return close(fd), 0;
    if (errno != EEXIST)
        return db_failf(d, DB_E_OPEN, "cannot create the file: %s", strerror(errno));
    /* A FIFO or a device would block or feed SQLite garbage forever. */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return db_failf(d, DB_E_OPEN, "not a regular file");
    return 0;
}

/* Opens the SQLite handle and sets the connection's pragmas.  WAL lets
 * readers (other backends) run while one process writes. */
static int db_connect(db *d, const char *path, int busy_ms)
{
    int rc = sqlite3_open_v2(path, &d->h, SQLITE_OPEN_READWRITE |
                             SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return db_fail_sqlite(d, rc, "open");
    sqlite3_extended_result_codes(d->h, 1);
    sqlite3_busy_timeout(d->h, busy_ms);
    if (db_exec(d, "PRAGMA foreign_keys = ON", "enable foreign keys") < 0 ||
        db_exec(d, "PRAGMA journal_mode = WAL", "set WAL mode") < 0)
        return -1;
    return 0;
}

/* Prepares the store's statements when the schema has their tables: the
 * first failure names the statement. */
static int db_prepare_store(db *d)
{
    if (d->schema != &db_schema_main)
        return 0;
    for (int i = 0; i < DB_Q__COUNT; i++) {
        int rc = sqlite3_prepare_v3(d->h, db_q_sql[i], -1,
                                    SQLITE_PREPARE_PERSISTENT, &d->q[i], NULL);
        if (rc != SQLITE_OK)
            return db_fail_sqlite(d, rc, "prepare store statement");
    }
    return 0;
}

static void db_set_options(db *d, const struct db_options *opt)
{
    d->schema = opt && opt->schema ? opt->schema : &db_schema_main;
    for (d->n_scripts = 0; d->schema->scripts[d->n_scripts]; d->n_scripts++)
        ;
    d->now = opt && opt->now ? opt->now : db_clock_real;
    d->now_arg = opt ? opt->now_arg : NULL;
    d->session_lifetime = opt && opt->session_lifetime > 0
                              ? opt->session_lifetime : DB_DEFAULT_SESSION_LIFETIME;
}

int db_open(db **out, const char *path, const struct db_options *opt,
            char *err, size_t errlen, enum db_err *errcode)
{
    db *d = calloc(1, sizeof *d);
    int busy = opt && opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms
                                               : DB_DEFAULT_BUSY_MS;
    *out = NULL;
    if (!d) {
        if (errcode)
            *errcode = DB_E_NOMEM;
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return -1;
    }
    db_set_options(d, opt);
    if (!path || !*path) {
        db_failf(d, DB_E_INVALID, "no database path given");
        goto fail;
    }
    if (db_precreate(d, path) < 0 || db_connect(d, path, busy) < 0 ||
        db_migrate(d) < 0 || db_prepare_store(d) < 0)
        goto fail;
    d->err = DB_E_NONE;
    d->errmsg[0] = '\0';
    *out = d;
    return 0;
fail:
    if (err && errlen)
        snprintf(err, errlen, "database '%s': %s", path ? path : "", d->errmsg);
    if (errcode)
        *errcode = d->err;
    db_close(d);
    return -1;
}

void db_close(db *d)
{
    if (!d)
        return;
    db_group_commit(d);
    for (int i = 0; i < DB_Q__COUNT; i++)
        sqlite3_finalize(d->q[i]);
    for (size_t i = 0; i < d->n_stmts; i++)
        sqlite3_finalize(d->stmts[i].st);
    /* sqlite3_close_v2 defers the close if something is still open instead
     * of failing; after the loops above nothing should be. */
    sqlite3_close_v2(d->h);
    memset(d->dummy_hash, 0, sizeof d->dummy_hash);
    free(d);
}
