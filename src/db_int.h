/*
 * db_int.h - what the store's own files (db.c, db_account.c) share: the
 * handle's layout and the table of the store's prepared statements.
 * Internal to the library.
 */
#ifndef WR_DB_INT_H
#define WR_DB_INT_H

#include <sqlite3.h>

#include "pwhash.h"
#include "weaprous/db.h"

/* The store's own statements on the main schema, prepared once at open. */
enum db_q {
    DB_Q_USER_INSERT,
    DB_Q_USER_BY_NAME,
    DB_Q_USER_LIST,
    DB_Q_USER_SET_PASSWORD,
    DB_Q_USER_SET_DISABLED,
    DB_Q_USER_DELETE,
    DB_Q_SESS_INSERT,
    DB_Q_SESS_LOOKUP,
    DB_Q_SESS_TOUCH,
    DB_Q_SESS_DELETE,
    DB_Q_SESS_DELETE_USER,
    DB_Q_SESS_PURGE,
    DB_Q__COUNT
};

/* SQL text of each enum db_q (db_account.c). */
extern const char *const db_q_sql[DB_Q__COUNT];

struct db_stmt {
    struct db    *d;
    sqlite3_stmt *st;
};

struct db {
    sqlite3                *h;
    const struct db_schema *schema;
    int                     n_scripts;   /* newest version of the schema */
    db_clock_fn             now;
    void                   *now_arg;
    int64_t                 session_lifetime;
    struct db_open_info     info;
    enum db_err             err;
    char                    errmsg[DB_MAX_ERRMSG];
    sqlite3_stmt           *q[DB_Q__COUNT];        /* NULL: schema lacks it */
    struct db_stmt          stmts[DB_MAX_STMTS];   /* db_prepare() */
    size_t                  n_stmts;
    bool                    group_open;            /* db_group_run() began one */
    db_group_fn             group_fn;              /* db_group_hook() */
    void                   *group_arg;
    char                    dummy_hash[PWHASH_MAX];/* for unknown users */
};

/* Records a failure of class `code` with a printf message; returns -1. */
int db_failf(db *d, enum db_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records a failure of a raw sqlite3 call: errcode/errmsg from rc and the
 * handle's message, prefixed by `what`.  Returns -1. */
int db_fail_sqlite(db *d, int rc, const char *what);
/* Maps an SQLite result code to enum db_err. */
enum db_err db_classify(int rc);
/* Returns statement q (reset, bindings cleared), or NULL with DB_E_NOSCHEMA
 * when the schema set of this handle has no such table. */
sqlite3_stmt *db_q(db *d, enum db_q q);
/* Before a write of its own: commits an open group (its hook is told). */
void db_group_settle(db *d);
/* Steps a statement that returns no row, then resets it (an open group
 * is committed first).  0 or -1. */
int db_exec_q(db *d, sqlite3_stmt *st, const char *what);

/* The main schema's scripts, generated from db/NNN_*.sql by mk/sql2c.sh. */
extern const char *const db_sql_main_scripts[];

/* on_create of db_schema_main: adds admin/password (db_account.c). */
int db_seed_admin(db *d);

#endif
