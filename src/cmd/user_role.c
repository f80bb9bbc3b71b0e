/*
 * user_role.c - `weaprous user`: add, passwd, del, list, disable, enable
 * accounts in the store, for operators at a shell.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "role.h"
#include "user_role.h"
#include "weaprous/db.h"

#define USER_EXIT_OK    0
#define USER_EXIT_FAIL  1
#define USER_EXIT_USAGE 2
#define USER_LINE_MAX   (DB_MAX_PASSWORD + 2)   /* password, newline, NUL */

struct user_cmd {
    const char *verb;
    const char *done;          /* past tense, for the success line */
    bool        needs_name;
    bool        needs_password;
    int       (*run)(db *d, const char *name, const char *password);
};

struct user_args {
    const char            *db_path;
    const char            *name;
    const struct user_cmd *cmd;
};

static void user_usage(FILE *f)
{
    fprintf(f,
        "usage: weaprous user add|passwd|del|disable|enable [--db FILE] NAME\n"
        "       weaprous user list [--db FILE]\n"
        "Passwords are read from the terminal (no echo), or as one line from\n"
        "standard input when it is not a terminal.  Default database: %s\n",
        WR_DEFAULT_DB);
}

/* Reads one line from stdin into out without the line end.  0, or -1 with
 * a message printed. */
static int user_read_line(char *out, size_t cap)
{
    if (!fgets(out, (int)cap, stdin)) {
        fprintf(stderr, "weaprous user: no password given on standard input\n");
        return -1;
    }
    size_t n = strlen(out);
    if (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    else if (!feof(stdin)) {
        fprintf(stderr, "weaprous user: password longer than %d bytes\n", DB_MAX_PASSWORD);
        return -1;
    }
    if (n > 0 && out[n - 1] == '\r')
        out[--n] = '\0';
    return 0;
}

/* Prompts on stderr and reads a line from the terminal with echo off.  ISIG
 * is off too, so that Ctrl-C cannot leave the terminal without echo: a ^C
 * typed in the line cancels instead. */
static int user_read_tty(const char *prompt, char *out, size_t cap)
{
    struct termios old, quiet;
    int rc;

    if (tcgetattr(STDIN_FILENO, &old) < 0)
        return user_read_line(out, cap);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ISIG);
    quiet.c_lflag |= ICANON;
    /* Echo off first, then the prompt: TCSAFLUSH drops what was typed
     * before the prompt, never the answer to it. */
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    fputs(prompt, stderr);
    fflush(stderr);
    rc = user_read_line(out, cap);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    fputc('\n', stderr);
    if (rc == 0 && strchr(out, old.c_cc[VINTR]) && old.c_cc[VINTR]) {
        fprintf(stderr, "weaprous user: cancelled\n");
        return -1;
    }
    return rc;
}

/* Gets the new password: twice from a terminal, once from a pipe. */
static int user_get_password(const char *name, char *pw, size_t cap)
{
    char again[USER_LINE_MAX], prompt[96];
    int rc = 0;

    if (!isatty(STDIN_FILENO))
        return user_read_line(pw, cap);
    snprintf(prompt, sizeof prompt, "New password for %s: ", name);
    if (user_read_tty(prompt, pw, cap) < 0 ||
        user_read_tty("Retype the password: ", again, sizeof again) < 0)
        rc = -1;
    else if (strcmp(pw, again) != 0) {
        fprintf(stderr, "weaprous user: the passwords differ\n");
        rc = -1;
    }
    memset(again, 0, sizeof again);
    return rc;
}

static int user_add(db *d, const char *name, const char *pw)
{
    return db_user_add(d, name, pw);
}

static int user_passwd(db *d, const char *name, const char *pw)
{
    return db_user_passwd(d, name, pw);
}

static int user_del(db *d, const char *name, const char *pw)
{
    return db_user_del(d, name);
}

static int user_disable(db *d, const char *name, const char *pw)
{
    return db_user_disable(d, name, true);
}

static int user_enable(db *d, const char *name, const char *pw)
{
    return db_user_disable(d, name, false);
}

static int user_print(const struct db_user *u, void *arg)
{
    char when[32] = "?";
    time_t t = (time_t)u->created_at;
    struct tm tm;

    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-*s  %-20s  %s\n", DB_MAX_NAME, u->name, when, u->disabled ? "yes" : "no");
    return 0;
}

static int user_list(db *d, const char *name, const char *pw)
{
    printf("%-*s  %-20s  %s\n", DB_MAX_NAME, "NAME", "CREATED", "DISABLED");
    return db_user_list(d, user_print, NULL);
}

static const struct user_cmd user_cmds[] = {
    { "add",     "added",            true,  true,  user_add },
    { "passwd",  "password changed", true,  true,  user_passwd },
    { "del",     "deleted",          true,  false, user_del },
    { "disable", "disabled",         true,  false, user_disable },
    { "enable",  "enabled",          true,  false, user_enable },
    { "list",    NULL,               false, false, user_list },
};

static const struct user_cmd *user_find_cmd(const char *verb)
{
    for (size_t i = 0; i < sizeof user_cmds / sizeof user_cmds[0]; i++)
        if (strcmp(user_cmds[i].verb, verb) == 0)
            return &user_cmds[i];
    return NULL;
}

/* Takes one positional word: the verb first, then the name. */
static int user_positional(struct user_args *a, const char *word)
{
    if (!a->cmd) {
        if (!(a->cmd = user_find_cmd(word))) {
            fprintf(stderr, "weaprous user: unknown command '%s'\n", word);
            return -1;
        }
    } else if (!a->name && a->cmd->needs_name) {
        a->name = word;
    } else {
        fprintf(stderr, "weaprous user: unexpected argument '%s'\n", word);
        return -1;
    }
    return 0;
}

/* Parses argv; returns 0, 1 when help was printed, or -1 (usage error). */
static int user_parse(int argc, char **argv, struct user_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0)
            return user_usage(stdout), 1;
        if (strcmp(s, "--db") == 0) {
            if (++i >= argc || !argv[i][0])
                return fprintf(stderr, "weaprous user: --db needs a file\n"), -1;
            a->db_path = argv[i];
        } else if (strncmp(s, "--db=", 5) == 0 && s[5]) {
            a->db_path = s + 5;
        } else if (s[0] == '-' && s[1]) {
            return fprintf(stderr, "weaprous user: unknown option '%s'\n", s), -1;
        } else if (user_positional(a, s) < 0) {
            return -1;
        }
    }
    if (!a->cmd)
        return fprintf(stderr, "weaprous user: which command?\n"), -1;
    if (a->cmd->needs_name && !a->name)
        return fprintf(stderr, "weaprous user %s: which user?\n", a->cmd->verb), -1;
    return 0;
}

/* Before asking for a password: add needs a free name, passwd an existing
 * one.  0 when the command may go on. */
static int user_precheck(db *d, const struct user_args *a)
{
    struct db_user u;
    int exists = db_user_get(d, a->name, &u) == 0;

    if (!exists && db_errcode(d) != DB_E_NOTFOUND) {
        fprintf(stderr, "weaprous user %s: %s\n", a->cmd->verb, db_errmsg(d));
        return -1;
    }
    if (exists && a->cmd->run == user_add) {
        fprintf(stderr, "weaprous user add: user '%s' already exists\n", u.name);
        return -1;
    }
    if (!exists && a->cmd->run == user_passwd) {
        fprintf(stderr, "weaprous user passwd: no user '%s'\n", a->name);
        return -1;
    }
    return 0;
}

/* Opens the store, telling the operator once about a new default account. */
static db *user_open(const char *path)
{
    char err[DB_MAX_ERRMSG + 128];
    db *d;

    if (db_open(&d, path, NULL, err, sizeof err, NULL) < 0) {
        fprintf(stderr, "weaprous user: %s\n", err);
        return NULL;
    }
    if (db_info(d)->created_admin)
        fprintf(stderr, "weaprous user: created default account %s/%s; change it with:"
                " weaprous user passwd %s\n", DB_DEFAULT_ADMIN_NAME,
                DB_DEFAULT_ADMIN_PASSWORD, DB_DEFAULT_ADMIN_NAME);
    return d;
}

int role_user_main(int argc, char **argv)
{
    struct user_args a = { .db_path = WR_DEFAULT_DB };
    char pw[USER_LINE_MAX] = "";
    int rc = user_parse(argc, argv, &a);
    db *d;

    if (rc != 0)
        return rc > 0 ? USER_EXIT_OK : (user_usage(stderr), USER_EXIT_USAGE);
    /* Check the name before asking for a password nobody will use. */
    if (a.cmd->needs_name && !db_user_name_valid(a.name)) {
        fprintf(stderr, "weaprous user: invalid user name '%s'\n", a.name);
        return USER_EXIT_FAIL;
    }
    if (!(d = user_open(a.db_path)))
        return USER_EXIT_FAIL;
    if (a.cmd->needs_password && (user_precheck(d, &a) < 0 ||
                                  user_get_password(a.name, pw, sizeof pw) < 0)) {
        db_close(d);
        return USER_EXIT_FAIL;
    }
    rc = a.cmd->run(d, a.name, pw);
    memset(pw, 0, sizeof pw);
    if (rc < 0)
        fprintf(stderr, "weaprous user %s: %s\n", a.cmd->verb, db_errmsg(d));
    else if (a.cmd->needs_name)
        printf("user '%s' %s\n", a.name, a.cmd->done);
    db_close(d);
    return rc < 0 ? USER_EXIT_FAIL : USER_EXIT_OK;
}
