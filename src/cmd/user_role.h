/*
 * user_role.h - `weaprous user ...`: account management for operators.
 */
#ifndef WR_USER_ROLE_H
#define WR_USER_ROLE_H

/* Runs `weaprous user add|passwd|del|list|disable|enable [--db FILE] [NAME]`.
 * argv[0] is the role word ("user"), argv[1] the sub-command, options and
 * NAME may come in any order after it.  Passwords are read from the
 * terminal without echo (asked twice), or as one line from stdin when it is
 * not a terminal.  Returns the process exit status: 0 done, 1 failed (store
 * error, name taken, no such user, password mismatch), 2 usage error. */
int role_user_main(int argc, char **argv);

#endif
