/*
 * role_user.h - `weaprous user ...`: account management for operators.
 */
#ifndef WR_ROLE_USER_H
#define WR_ROLE_USER_H

/* Default database when --db is not given: relative to the working
 * directory (the lead wires the configured default in main.c). */
#ifndef WR_DEFAULT_DB
#define WR_DEFAULT_DB "db/weaprous.db"
#endif

/* Runs `weaprous user add|passwd|del|list|disable|enable [--db FILE] [NAME]`.
 * argv[0] is the role word ("user"), argv[1] the sub-command, options and
 * NAME may come in any order after it.  Passwords are read from the
 * terminal without echo (asked twice), or as one line from stdin when it is
 * not a terminal.  Returns the process exit status: 0 done, 1 failed (store
 * error, name taken, no such user, password mismatch), 2 usage error. */
int role_user_main(int argc, char **argv);

#endif
