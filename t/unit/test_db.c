/*
 * test_db.c - the store: migrations (from empty, from each older version,
 * newer refused, failed step rolled back), hostile files (garbage, corrupt,
 * locked, missing directory), accounts (case-insensitive unique names,
 * validation, passwords, disabled users, timing of unknown vs wrong),
 * sessions on a fake clock (expiry, last_seen, purge, cascade), and that no
 * token or password is ever in the file in clear.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "weaprous/db.h"
#include "weaprous/sha256.h"
#include "tap.h"

static char tmpdir[64];

struct fake_clock { int64_t t; };

static int64_t fake_now(void *arg)
{
    return ((struct fake_clock *)arg)->t;
}

static const char *tpath(const char *name)
{
    static char p[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", tmpdir, name);
    return p[i];
}

/* Newest version of the main schema: other modules append migrations
 * (the tracker's is 3), so the tests do not hard-code it. */
static int newest_version(void)
{
    int n = 0;
    while (db_schema_main.scripts[n])
        n++;
    return n;
}

static void rm_db(const char *path)
{
    char p[160];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static db *open_ok(const char *path, const struct db_options *opt)
{
    char err[256] = "";
    db *d = NULL;
    if (db_open(&d, path, opt, err, sizeof err, NULL) < 0)
        diag("open %s: %s", path, err);
    return d;
}

/* Runs one SQL query returning an integer, on a separate raw connection. */
static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_open(path, &h) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *h;
    if (sqlite3_open(path, &h) == SQLITE_OK)
        sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
}

static void test_fresh(void)
{
    const char *p = tpath("fresh.db");
    struct stat sb;
    db *d = open_ok(p, NULL);

    ok(d != NULL, "fresh database opens");
    if (!d)
        return;
    is_int(db_info(d)->version_before, 0, "fresh: version before is 0");
    is_int(db_info(d)->version_after, newest_version(), "fresh: migrated to the newest");
    ok(db_info(d)->created_admin, "fresh: default admin created, flag set");
    is_int(db_user_check_password(d, "admin", "password", NULL), DB_AUTH_OK,
           "admin/password works");
    db_close(d);
    ok(stat(p, &sb) == 0 && (sb.st_mode & 077) == 0, "file mode is 0600");
    is_int(raw_int(p, "PRAGMA user_version"), newest_version(), "newest user_version on disk");
    d = open_ok(p, NULL);
    ok(d && !db_info(d)->created_admin && db_info(d)->version_before == newest_version(),
       "reopen: no new admin, nothing to migrate");
    db_close(d);
    raw_exec(p, "PRAGMA journal_mode");
    rm_db(p);
}

static void test_empty_file_and_wal(void)
{
    const char *p = tpath("empty.db");
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    close(fd);
    db *d = open_ok(p, NULL);
    ok(d != NULL, "an existing empty file is an empty database");
    if (d) {
        db_stmt *st = db_prepare(d, "PRAGMA journal_mode");
        char mode[16] = "";
        if (st && db_bind(st, "") == 0 && db_row(st) == 1) {
            db_col_copy(st, 0, mode, sizeof mode);
            db_stmt_reset(st);
        }
        is_str(mode, "wal", "journal mode is WAL");
        st = db_prepare(d, "PRAGMA foreign_keys");
        is_int(st && db_bind(st, "") == 0 && db_row(st) == 1 ? db_col_int(st, 0) : -1, 1,
               "foreign keys on");
        if (st)
            db_stmt_reset(st);
    }
    db_close(d);
    rm_db(p);
}

/* A database left at version 1 by older code upgrades to the newest. */
static void test_from_v1(void)
{
    const char *const v1_scripts[] = { db_schema_main.scripts[0], NULL };
    struct db_schema v1 = db_schema_main;
    struct db_options o = { .schema = &v1 };
    const char *p = tpath("v1.db");
    char tok[DB_TOKEN_HEX_LEN + 1];
    struct db_user u;

    v1.scripts = v1_scripts;
    db *d = open_ok(p, &o);
    ok(d && db_info(d)->version_after == 1, "version-1 database made");
    ok(d && db_user_add(d, "carol", "c-pass") == -1 && db_errcode(d) == DB_E_NOSCHEMA,
       "no statements on a foreign schema set");
    db_close(d);
    is_int(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'sessions'"), 0,
           "v1 has no sessions table");
    d = open_ok(p, NULL);
    ok(d != NULL, "v1 -> v2 opens");
    if (!d)
        return;
    is_int(db_info(d)->version_before, 1, "found version 1");
    is_int(db_info(d)->version_after, newest_version(), "migrated to the newest");
    ok(!db_info(d)->created_admin, "no second admin on upgrade");
    ok(db_user_get(d, "admin", &u) == 0, "v1 admin kept");
    ok(db_session_create(d, u.id, tok, NULL) == 0, "sessions work after upgrade");
    db_close(d);
    rm_db(p);
}

static void test_newer_refused(void)
{
    const char *p = tpath("newer.db");
    char err[256] = "";
    enum db_err code = DB_E_NONE;
    db *d = open_ok(p, NULL);

    db_close(d);
    raw_exec(p, "PRAGMA user_version = 99");
    is_int(db_open(&d, p, NULL, err, sizeof err, &code), -1, "newer version refused");
    ok(d == NULL, "no handle on failure");
    is_int(code, DB_E_NEWER, "classified DB_E_NEWER");
    ok(strstr(err, "99") && strstr(err, "newer"), "message says why: %s", err);
    is_int(raw_int(p, "PRAGMA user_version"), 99, "file left alone");
    rm_db(p);
}

/* A failing step is rolled back whole; earlier steps stay. */
static void test_failed_migration(void)
{
    static const char *const bad[] = {
        "CREATE TABLE a (x);",
        "CREATE TABLE b (y); INSERT INTO nosuch VALUES (1);",
        NULL,
    };
    const struct db_schema s = { .name = "broken", .scripts = bad };
    struct db_options o = { .schema = &s };
    const char *p = tpath("broken.db");
    char err[256] = "";
    enum db_err code;
    db *d;

    is_int(db_open(&d, p, &o, err, sizeof err, &code), -1, "bad migration fails open");
    is_int(code, DB_E_SQL, "classified DB_E_SQL");
    ok(strstr(err, "broken migration 2") && strstr(err, "nosuch"),
       "message names step and cause: %s", err);
    is_int(raw_int(p, "PRAGMA user_version"), 1, "step 1 committed");
    is_int(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'b'"), 0,
           "step 2 rolled back entirely");
    rm_db(p);
}

static void write_file(const char *p, const void *data, size_t n)
{
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd >= 0) {
        ssize_t w = write(fd, data, n);
        (void)w;
        close(fd);
    }
}

static void test_garbage(void)
{
    const char *p = tpath("garbage.db");
    char junk[8192], err[256] = "";
    enum db_err code = DB_E_NONE;
    db *d = NULL;

    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 131 + 7);
    write_file(p, junk, sizeof junk);
    is_int(db_open(&d, p, NULL, err, sizeof err, &code), -1, "garbage file refused");
    is_int(code, DB_E_CORRUPT, "classified DB_E_CORRUPT");
    ok(strstr(err, "not a database") != NULL, "message: %s", err);
    write_file(p, "hello\n", 6);
    is_int(db_open(&d, p, NULL, err, sizeof err, &code), -1, "short text file refused");
    rm_db(p);
    is_int(db_open(&d, tpath("no/such/dir/x.db"), NULL, err, sizeof err, &code), -1,
           "missing directory refused");
    is_int(code, DB_E_OPEN, "classified DB_E_OPEN: %s", err);
    is_int(db_open(&d, tmpdir, NULL, err, sizeof err, &code), -1, "a directory refused");
    p = tpath("fifo.db");
    ok(mkfifo(p, 0600) == 0 && db_open(&d, p, NULL, err, sizeof err, &code) == -1 &&
       code == DB_E_OPEN, "a FIFO refused without blocking: %s", err);
    unlink(p);
    is_int(db_open(&d, "/dev/null", NULL, err, sizeof err, &code), -1, "a device refused");
    is_int(db_open(&d, "", NULL, err, sizeof err, &code), -1, "empty path refused");
}

/* Zeroes page 2 (the users table's root) of a closed, checkpointed file. */
static void test_corrupt(void)
{
    const char *p = tpath("corrupt.db");
    char zero[4096] = { 0 }, err[256];
    enum db_err code = DB_E_NONE;
    db *d = open_ok(p, NULL);
    long page = 0;

    db_close(d);
    page = (long)raw_int(p, "PRAGMA page_size");
    long root = (long)raw_int(p, "SELECT rootpage FROM sqlite_master WHERE name = 'users'");
    int fd = open(p, O_WRONLY);
    ok(fd >= 0 && page > 0 && page <= 4096 && root > 1 &&
       pwrite(fd, zero, (size_t)page, (root - 1) * page) == page, "users page zeroed");
    close(fd);
    d = NULL;
    int rc = db_open(&d, p, NULL, err, sizeof err, &code);
    if (rc == 0) {   /* the header is intact: the damage shows on first use */
        rc = db_user_add(d, "dave", "d-pass");
        code = db_errcode(d);
        snprintf(err, sizeof err, "%s", db_errmsg(d));
        is_int(db_user_check_password(d, "admin", "password", NULL), DB_AUTH_ERROR,
               "check on a corrupt table is an error, not a login");
        db_close(d);
    }
    is_int(rc, -1, "corrupt database: clean failure");
    is_int(code, DB_E_CORRUPT, "classified DB_E_CORRUPT: %s", err);
    rm_db(p);
}

static void test_locked(void)
{
    const char *p = tpath("locked.db");
    struct db_options o = { .busy_timeout_ms = 100 };
    char err[256] = "";
    enum db_err code = DB_E_NONE;
    sqlite3 *h;
    db *d;

    /* Another connection holding an exclusive lock on a fresh file. */
    sqlite3_open(p, &h);
    sqlite3_exec(h, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;"
                    " CREATE TABLE t (x);", NULL, NULL, NULL);
    time_t t0 = time(NULL);
    is_int(db_open(&d, p, &o, err, sizeof err, &code), -1, "locked database refused");
    is_int(code, DB_E_BUSY, "classified DB_E_BUSY: %s", err);
    ok(time(NULL) - t0 <= 2, "gave up after the busy timeout");
    sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(h);
    d = open_ok(p, &o);
    ok(d != NULL, "opens once the lock is gone");
    db_close(d);
    rm_db(p);
}

static void test_names(db *d)
{
    struct db_user u;
    char long_name[DB_MAX_NAME + 2];

    is_int(db_user_add(d, "Bob", "bob-pass"), 0, "add Bob");
    is_int(db_user_add(d, "bob", "x"), -1, "bob taken (case-insensitive)");
    is_int(db_errcode(d), DB_E_EXISTS, "DB_E_EXISTS: %s", db_errmsg(d));
    is_int(db_user_add(d, "ADMIN", "x"), -1, "ADMIN taken");
    ok(db_user_get(d, "BOB", &u) == 0 && strcmp(u.name, "Bob") == 0,
       "lookup ignores case, keeps the stored spelling");
    is_int(db_user_check_password(d, "bOb", "bob-pass", NULL), DB_AUTH_OK,
           "login with any case of the name");
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *bad[] = { "", "-x", ".x", "a b", "a/b", "caf\xc3\xa9", "a'--", long_name };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ok(db_user_add(d, bad[i], "pw") == -1 && db_errcode(d) == DB_E_INVALID,
           "invalid name %zu refused", i);
    long_name[DB_MAX_NAME] = '\0';
    is_int(db_user_add(d, long_name, "pw"), 0, "a name of DB_MAX_NAME bytes is fine");
    ok(db_user_add(d, "eve", "") == -1 && db_errcode(d) == DB_E_INVALID,
       "empty password refused");
    ok(db_user_add(d, NULL, "x") == -1, "NULL name refused");
}

struct list_acc { char names[256]; int n; };

static int list_cb(const struct db_user *u, void *arg)
{
    struct list_acc *a = arg;
    size_t l = strlen(a->names);
    snprintf(a->names + l, sizeof a->names - l, "%s%s%s", l ? "," : "", u->name,
             u->disabled ? "(d)" : "");
    a->n++;
    return 0;
}

static void test_passwords(db *d)
{
    struct db_user u;
    struct list_acc acc = { "", 0 };

    is_int(db_user_check_password(d, "Bob", "wrong", NULL), DB_AUTH_BAD, "wrong password");
    is_int(db_user_check_password(d, "nobody", "bob-pass", NULL), DB_AUTH_BAD, "unknown user");
    is_int(db_user_check_password(d, "Bob", "", NULL), DB_AUTH_BAD, "empty password");
    is_int(db_user_check_password(d, "a b", "x", NULL), DB_AUTH_BAD, "invalid name");
    is_int(db_user_passwd(d, "bob", "new-pass"), 0, "passwd");
    is_int(db_user_check_password(d, "Bob", "bob-pass", NULL), DB_AUTH_BAD, "old password gone");
    is_int(db_user_check_password(d, "Bob", "new-pass", &u), DB_AUTH_OK, "new password works");
    is_str(u.name, "Bob", "user filled on success");
    ok(db_user_passwd(d, "ghost", "x") == -1 && db_errcode(d) == DB_E_NOTFOUND,
       "passwd of unknown user: DB_E_NOTFOUND");
    is_int(db_user_disable(d, "bob", true), 0, "disable");
    is_int(db_user_check_password(d, "Bob", "new-pass", NULL), DB_AUTH_DISABLED,
           "disabled user refused");
    is_int(db_user_check_password(d, "Bob", "nope", NULL), DB_AUTH_BAD,
           "disabled + wrong password is just bad");
    db_user_list(d, list_cb, &acc);
    ok(acc.n == 3 && strstr(acc.names, ",admin,Bob(d)") != NULL,
       "list ordered by name, disabled flag: %s", acc.names);
    is_int(db_user_disable(d, "bob", false), 0, "enable");
    is_int(db_user_check_password(d, "Bob", "new-pass", NULL), DB_AUTH_OK, "enabled again");
    ok(db_user_disable(d, "ghost", true) == -1 && db_errcode(d) == DB_E_NOTFOUND,
       "disable unknown user: DB_E_NOTFOUND");
}

static double secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Unknown user and wrong password cost the same crypt(3). */
static void test_timing(db *d)
{
    double unknown = 0, wrong = 0;

    db_user_check_password(d, "ghost", "x", NULL);   /* warm the dummy hash */
    for (int i = 0; i < 6; i++) {
        double t0 = secs();
        db_user_check_password(d, "ghost", "x", NULL);
        double t1 = secs();
        db_user_check_password(d, "admin", "x", NULL);
        unknown += t1 - t0;
        wrong += secs() - t1;
    }
    diag("unknown user %.2f ms, wrong password %.2f ms", unknown / 6 * 1e3, wrong / 6 * 1e3);
    ok(unknown > wrong / 3 && unknown < wrong * 3, "similar time for unknown and wrong");
    ok(unknown / 6 > 1e-4, "an unknown user still costs a real hash");
}

static void test_sessions(const char *p)
{
    struct fake_clock clk = { 1700000000 };
    struct db_options o = { .now = fake_now, .now_arg = &clk, .session_lifetime = 3600 };
    char tok[DB_TOKEN_HEX_LEN + 1], tok2[DB_TOKEN_HEX_LEN + 1], upper[DB_TOKEN_HEX_LEN + 1];
    struct db_session s;
    struct db_user u;
    int64_t exp = 0;
    db *d = open_ok(p, &o);

    if (!ok(d != NULL, "open with fake clock"))
        return;
    db_user_get(d, "admin", &u);
    is_int(db_session_create(d, u.id, tok, &exp), 0, "session created");
    is_int(strlen(tok), DB_TOKEN_HEX_LEN, "token is 64 chars");
    is_int(exp, clk.t + 3600, "expiry = now + lifetime");
    ok(db_session_lookup(d, tok, &s) == 0 && strcmp(s.user_name, "admin") == 0 &&
       s.user_id == u.id, "lookup finds admin");
    db_session_create(d, u.id, tok2, NULL);
    ok(strcmp(tok, tok2) != 0, "tokens differ");
    ok(db_session_create(d, 999999, upper, NULL) == -1 && db_errcode(d) == DB_E_NOTFOUND,
       "session for a missing user refused");

    clk.t += 30;
    db_session_lookup(d, tok, &s);
    is_int(raw_int(p, "SELECT max(last_seen_at) FROM sessions"), 1700000000,
           "last_seen not rewritten within a minute");
    clk.t += 31;
    db_session_lookup(d, tok, &s);
    is_int(raw_int(p, "SELECT max(last_seen_at) FROM sessions"), 1700000061,
           "last_seen refreshed after a minute");

    for (size_t i = 0; i <= DB_TOKEN_HEX_LEN; i++)
        upper[i] = (char)(tok[i] >= 'a' && tok[i] <= 'f' ? tok[i] - 32 : tok[i]);
    ok(strcmp(upper, tok) == 0 || db_session_lookup(d, upper, &s) == -1, "upper-case token refused");
    tok[63] = '\0';
    ok(db_session_lookup(d, tok, &s) == -1 && db_errcode(d) == DB_E_NOTFOUND, "63 chars refused");
    tok[63] = tok2[63];
    ok(db_session_lookup(d, NULL, &s) == -1, "NULL token refused");
    ok(db_session_lookup(d, "zz", &s) == -1, "junk token refused");

    clk.t = 1700000000 + 3600;
    ok(db_session_lookup(d, tok2, &s) == -1 && db_errcode(d) == DB_E_NOTFOUND,
       "expired exactly at expires_at");
    is_int(db_session_purge_expired(d), 2, "purge removes both expired sessions");
    is_int(raw_int(p, "SELECT count(*) FROM sessions"), 0, "table empty");

    db_session_create(d, u.id, tok, NULL);
    is_int(db_session_delete(d, tok), 0, "delete");
    ok(db_session_lookup(d, tok, &s) == -1, "deleted session gone");
    is_int(db_session_delete(d, "not-a-token"), 0, "deleting junk is not an error");

    /* Disabling, a new password and deleting the user all end sessions. */
    db_user_add(d, "frank", "f-pass");
    db_user_get(d, "frank", &u);
    db_session_create(d, u.id, tok, NULL);
    db_user_disable(d, "frank", true);
    db_user_disable(d, "frank", false);
    ok(db_session_lookup(d, tok, &s) == -1, "disable ends sessions");
    db_session_create(d, u.id, tok, NULL);
    db_user_passwd(d, "frank", "f-pass2");
    ok(db_session_lookup(d, tok, &s) == -1, "passwd ends sessions");
    db_session_create(d, u.id, tok, NULL);
    is_int(db_user_del(d, "FRANK"), 0, "delete user");
    is_int(raw_int(p, "SELECT count(*) FROM sessions"), 0, "cascade removed the session");
    ok(db_user_del(d, "frank") == -1 && db_errcode(d) == DB_E_NOTFOUND, "delete twice");
    db_close(d);
}

static int find_bytes(const char *path, const void *needle, size_t n)
{
    static char buf[1 << 20];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t len = read(fd, buf, sizeof buf);
    close(fd);
    for (ssize_t i = 0; len > 0 && i + (ssize_t)n <= len; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return 1;
    return 0;
}

static int find_anywhere(const char *p, const void *needle, size_t n)
{
    char q[160];
    int found = find_bytes(p, needle, n);
    snprintf(q, sizeof q, "%s-wal", p);
    found |= find_bytes(q, needle, n);
    return found;
}

/* Nothing in the file (or its WAL) is a token or a password in clear; the
 * digest is there, which shows the scan works. */
static void test_nothing_in_clear(const char *p)
{
    static const char pw[] = "Unique-Pw-7f3c9a";
    char tok[DB_TOKEN_HEX_LEN + 1], digest[SHA256_HEX_LEN + 1];
    unsigned char raw[DB_TOKEN_BYTES];
    struct db_user u;
    db *d = open_ok(p, NULL);

    if (!d)
        return;
    db_user_add(d, "grace", pw);
    db_user_get(d, "grace", &u);
    db_session_create(d, u.id, tok, NULL);
    for (int i = 0; i < DB_TOKEN_BYTES; i++) {
        unsigned v;
        sscanf(tok + 2 * i, "%2x", &v);
        raw[i] = (unsigned char)v;
    }
    sha256_hex(tok, DB_TOKEN_HEX_LEN, digest);
    ok(find_anywhere(p, digest, SHA256_HEX_LEN), "digest of the token is stored (WAL open)");
    ok(!find_anywhere(p, tok, DB_TOKEN_HEX_LEN), "token not in the files (WAL open)");
    db_close(d);
    ok(find_bytes(p, digest, SHA256_HEX_LEN), "digest in the checkpointed file");
    ok(!find_bytes(p, tok, DB_TOKEN_HEX_LEN), "hex token not in the file");
    ok(!find_bytes(p, raw, sizeof raw), "raw token bytes not in the file");
    ok(!find_bytes(p, pw, strlen(pw)), "password not in the file");
    is_int(raw_int(p, "SELECT count(*) FROM users WHERE password_hash LIKE '$y$%'"
                      " OR password_hash LIKE '$6$%'"),
           raw_int(p, "SELECT count(*) FROM users"), "every hash is yescrypt or sha512crypt");
}

/* Another schema set (a peer's messages) with its own statements. */
static void test_other_schema(void)
{
    static const char *const peer_scripts[] = {
        "CREATE TABLE messages (origin TEXT, seq INTEGER, body TEXT,"
        " PRIMARY KEY (origin, seq));",
        NULL,
    };
    const struct db_schema peer = { .name = "peer", .scripts = peer_scripts };
    struct db_options o = { .schema = &peer };
    const char *p = tpath("peer.db");
    db *d = open_ok(p, &o);

    if (!ok(d != NULL, "peer schema opens"))
        return;
    ok(!db_info(d)->created_admin, "no admin in a peer database");
    db_stmt *st = db_prepare(d, "INSERT INTO messages VALUES (?1, ?2, 'hi')");
    ok(st != NULL, "statement prepared on the peer schema");
    if (st)
        is_int(db_bind(st, "ti", "alice", (int64_t)1) == 0 ? db_run(st) : -1, 1,
               "the statement runs");
    ok(db_prepare(d, "SELECT nonsense FROM nowhere") == NULL &&
       strstr(db_errmsg(d), "nowhere"), "bad statement: %s", db_errmsg(d));
    ok(db_user_add(d, "x", "y") == -1 && db_errcode(d) == DB_E_NOSCHEMA,
       "accounts need the main schema");
    db_close(d);   /* finalises the prepared statement (ASan/valgrind) */
    is_int(raw_int(p, "SELECT count(*) FROM messages"), 1, "row persisted");
    rm_db(p);
}

/* The statement API (db_prepare, db_bind, db_row, db_run, db_col_*): every
 * bind type, NULLs, text with NUL-free lengths, row iteration and reset,
 * changes counted, errors recorded with the statement named. */
static void test_stmt_api(void)
{
    static const char *const scripts[] = {
        "CREATE TABLE m (origin TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT,"
        " PRIMARY KEY (origin, seq));",
        NULL,
    };
    const struct db_schema sc = { .name = "stmt", .scripts = scripts };
    struct db_options o = { .schema = &sc };
    const char *p = tpath("stmt.db");
    db *d = open_ok(p, &o);
    if (!ok(d != NULL, "stmt schema opens"))
        return;
    db_stmt *ins = db_prepare(d, "INSERT INTO m VALUES (?1, ?2, ?3)");
    db_stmt *sel = db_prepare(d, "SELECT origin, seq, body FROM m WHERE seq >= ?1 ORDER BY seq");
    db_stmt *upd = db_prepare(d, "UPDATE m SET body = ?1 WHERE origin = ?2");
    if (!ok(ins && sel && upd, "three statements prepared"))
        goto out;
    is_int(db_bind(ins, "tit", (const char *)NULL, (int64_t)9, "x"), 0, "bind NULL into NOT NULL");
    ok(db_run(ins) == -1 && db_errcode(d) == DB_E_SQL && strstr(db_errmsg(d), "NOT NULL"),
       "constraint failure recorded: %s", db_errmsg(d));
    is_int(db_bind(ins, "tit", "alice", (int64_t)1, "hello"), 0, "bind t i t");
    is_int(db_run(ins), 1, "insert changes one row");
    is_int(db_bind(ins, "tiT", "alice", (int64_t)2, "hello world", (size_t)5), 0, "bind T with a length");
    is_int(db_run(ins), 1, "second row");
    is_int(db_bind(ins, "tit", "bob", (int64_t)3, (const char *)NULL), 0, "bind NULL text");
    is_int(db_run(ins), 1, "third row, NULL body");
    is_int(db_last_rowid(d), 3, "last rowid");
    is_int(db_bind(ins, "tit", "alice", (int64_t)1, "dup"), 0, "bind duplicate key");
    ok(db_run(ins) == -1 && db_errcode(d) == DB_E_EXISTS, "duplicate key -> DB_E_EXISTS (%s)", db_errmsg(d));
    ok(db_bind(ins, "q", "x") == -1, "unknown bind type refused");

    is_int(db_bind(sel, "i", (int64_t)1), 0, "bind select");
    int n = 0, ok_rows = 1;
    char body[8];
    while (db_row(sel) == 1) {
        n++;
        size_t len = 99;
        const char *t = db_col_text(sel, 2, &len);
        if (n == 1)
            ok_rows &= t && len == 5 && strcmp(t, "hello") == 0 && db_col_int(sel, 1) == 1;
        if (n == 2) {
            db_col_copy(sel, 2, body, 4);
            ok_rows &= strcmp(body, "hel") == 0;
        }
        if (n == 3)
            ok_rows &= t == NULL && len == 0 && db_col_null(sel, 2) &&
                       strcmp(db_col_text(sel, 0, NULL), "bob") == 0;
    }
    is_int(n, 3, "three rows, in order");
    ok(ok_rows, "columns: text with length, copy cut at cap, NULL");
    is_int(db_row(sel), 1, "after done, a new step starts over (reset)");
    db_stmt_reset(sel);
    is_int(db_bind(upd, "tt", "z", "alice"), 0, "bind update");
    is_int(db_run(upd), 2, "update reports the changed rows");
    is_int(db_bind(upd, "tt", "z", "nobody"), 0, "bind update of nothing");
    is_int(db_run(upd), 0, "no row changed: 0");
    ok(db_prepare(d, "SELECT * FROM nowhere") == NULL && strstr(db_errmsg(d), "nowhere"),
       "bad SQL names the statement: %s", db_errmsg(d));
    is_int(db_exec(d, "CREATE TABLE k (x); INSERT INTO k VALUES (1);", "script"), 0,
           "db_exec runs a script");
    ok(db_exec(d, "INSERT INTO nowhere VALUES (1)", "bad script") == -1 &&
       strstr(db_errmsg(d), "bad script"), "db_exec failure names what: %s", db_errmsg(d));
out:
    db_close(d);
    rm_db(p);
}

/* What db_group_run()'s hook saw. */
struct group_seen {
    int calls, last_rc;
};

static void group_seen(void *arg, int rc)
{
    struct group_seen *g = arg;
    g->calls++;
    g->last_rc = rc;
}

/* Group commit: grouped writes are invisible to other connections until
 * db_group_commit(); a failed statement leaves the group open; any other
 * write commits the group first; db_close() commits it; the hook hears of
 * every end. */
static void test_group_commit(void)
{
    static const char *const scripts[] = {
        "CREATE TABLE g (k INTEGER PRIMARY KEY, v TEXT);", NULL,
    };
    const struct db_schema sc = { .name = "group", .scripts = scripts };
    struct db_options o = { .schema = &sc };
    struct group_seen seen = { 0, 99 };
    const char *p = tpath("group.db");
    db *d = open_ok(p, &o);
    db_stmt *ins = d ? db_prepare(d, "INSERT INTO g VALUES (?1, 'x')") : NULL;
    if (!ok(ins != NULL, "group schema opens, statement prepared"))
        goto out;
    db_group_hook(d, group_seen, &seen);
    is_int(db_group_commit(d), 0, "no group open: commit is a no-op");
    is_int(seen.calls, 0, "... and the hook is not called");
    long n = 0;
    for (int64_t k = 1; k <= 3; k++)
        n += db_bind(ins, "i", k) == 0 ? db_group_run(ins) : -9;
    is_int(n, 3, "three grouped writes, one row each");
    ok(db_group_open(d), "the group is open");
    is_int(raw_int(p, "SELECT count(*) FROM g"), 0, "another connection sees none of them");
    db_bind(ins, "i", (int64_t)2);
    ok(db_group_run(ins) == -1 && db_errcode(d) == DB_E_EXISTS && db_group_open(d),
       "a failed statement in the group: -1, the group stays open");
    is_int(db_group_commit(d), 0, "commit");
    ok(seen.calls == 1 && seen.last_rc == 0 && !db_group_open(d), "the hook heard: committed");
    is_int(raw_int(p, "SELECT count(*) FROM g"), 3, "all three are in the file");

    db_bind(ins, "i", (int64_t)4);
    db_group_run(ins);
    db_stmt *del = db_prepare(d, "DELETE FROM g WHERE k = 1");
    is_int(del && db_bind(del, "") == 0 ? db_run(del) : -1, 1, "a write of its own");
    ok(seen.calls == 2 && seen.last_rc == 0 && !db_group_open(d),
       "... committed the open group first");
    is_int(raw_int(p, "SELECT count(*) FROM g"), 3, "both in the file (one added, one deleted)");
    db_bind(ins, "i", (int64_t)5);
    db_group_run(ins);
    ok(db_begin(d) == 0 && seen.calls == 3 && db_commit(d) == 0,
       "db_begin commits an open group before its own transaction");
    db_bind(ins, "i", (int64_t)6);
    db_group_run(ins);
out:
    db_close(d);
    is_int(seen.calls, ins ? 4 : 0, "db_close commits the open group");
    is_int(raw_int(p, "SELECT count(*) FROM g"), ins ? 5 : 0, "its write is in the file");
    rm_db(p);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_db.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_fresh();
    test_empty_file_and_wal();
    test_from_v1();
    test_newer_refused();
    test_failed_migration();
    test_garbage();
    test_corrupt();
    test_locked();

    const char *p = tpath("accounts.db");
    db *d = open_ok(p, NULL);
    if (ok(d != NULL, "accounts database")) {
        test_names(d);
        test_passwords(d);
        test_timing(d);
        db_close(d);
    }
    test_sessions(p);
    test_nothing_in_clear(p);
    rm_db(p);
    test_other_schema();
    test_stmt_api();
    test_group_commit();
    rmdir(tmpdir);
    return done_testing();
}
