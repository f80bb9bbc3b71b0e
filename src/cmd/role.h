/*
 * role.h - what main() hands to a role, and the run-time every server role
 * shares: daemon mode, pid file, logs, signals, graceful stop.
 */
#ifndef WR_ROLE_H
#define WR_ROLE_H

#include <stdbool.h>
#include <sys/types.h>

#include "weaprous/ev.h"
#include "weaprous/server.h"

/* The installed defaults: the build passes the configured directories
 * (Makefile.am), so that an installed program finds its files from any
 * directory; without them, paths relative to the working directory. */
#ifdef WR_STATEDIR
#define WR_DEFAULT_DB         WR_STATEDIR "/weaprous.db"
#define WR_DEFAULT_PEER_DB    WR_STATEDIR "/peer-%d.db"   /* the HTTP port */
#define WR_DEFAULT_WWW        WR_PKGDATADIR "/www"
#define WR_DEFAULT_STATIC     WR_PKGDATADIR "/static"
#define WR_DEFAULT_PROXY_CONF WR_SYSCONFDIR "/proxy.conf"
#else
#define WR_DEFAULT_DB         "db/weaprous.db"
#define WR_DEFAULT_PEER_DB    "db/peer-%d.db"
#define WR_DEFAULT_WWW        "www"
#define WR_DEFAULT_STATIC     "static"
#define WR_DEFAULT_PROXY_CONF "conf/proxy.conf"
#endif

#define ROLE_MAX_KV      64
#define ROLE_MAX_SERVERS 8
#define ROLE_GRACE_MS    5000   /* TERM/INT: in-flight requests get this long */

/* Common flags (DESIGN.md section 4) plus the role's own --key value pairs,
 * from the command line and then the configuration file (flags win). */
struct role_opts {
    const char *role;
    const char *ip;
    int         port;
    bool        port_given;     /* --server-port on the command line or file */
    const char *config;
    const char *db;
    const char *pid_file;
    const char *log_file;
    const char *access_log;
    int         log_level;
    bool        daemon;
    bool        check_only;
    const char *user;           /* switch to this account once listening */
    bool        allow_root;     /* run as root without `user` */
    struct { const char *key, *val; bool from_cli; } kv[ROLE_MAX_KV];
    size_t      nkv;
};

struct role_def {
    const char *name;
    int         default_port;
    const char *const *keys;    /* role's own option names, NULL-terminated */
    const char *const *flags;   /* the subset that takes no value */
    bool        own_config;     /* -c names a file the role parses itself */
    int       (*run)(struct role_opts *o);
    const char *help;           /* role-specific options, for --help */
};

/* Sets a common option or one of r's own (a later setting replaces an
 * earlier one); from_cli marks flags, which a reload must not override.
 * 0, or -1 (logged) for an unknown key or a bad value. */
int role_set_option(struct role_opts *o, const struct role_def *r,
                    const char *key, const char *val, bool from_cli);
/* Reads the configuration file at path into o, for role r (its own
 * section and the keys outside any section).  Returns the file's text,
 * which the options point into (the caller frees it after the last use of
 * o), or NULL with the error logged as "file:line: ...". */
char *role_conf_load(struct role_opts *o, const struct role_def *r, const char *path);

/* For -t: 1 when the database at path exists (check it by opening it), 0
 * when it does not but could be created there (a check must not create
 * files), -1 (logged) when its directory is missing or not writable. */
int role_check_db(const char *path);

const char *role_opt(const struct role_opts *o, const char *key, const char *dflt);
bool role_flag(const struct role_opts *o, const char *key);
/* Number with an optional k/m/g (sizes) suffix; dflt when absent, -1 when
 * malformed. */
long long role_opt_size(const struct role_opts *o, const char *key, long long dflt);
/* Whole number in min..max; dflt when absent, -1 when malformed or out of
 * range. */
long long role_opt_count(const struct role_opts *o, const char *key, long long dflt,
                         long long min, long long max);
/* Duration in milliseconds: "10" or "10s", "1.5", "500ms", "5m", "2h",
 * "7d" (nginx's units; a bare number is seconds), within min_ms..max_ms;
 * dflt_ms when absent, -1 when malformed or out of range. */
long long role_opt_ms(const struct role_opts *o, const char *key, long long dflt_ms,
                      long long min_ms, long long max_ms);

/* The shared run-time of a server role. */
struct role_rt {
    ev_loop         *loop;
    struct role_opts *o;
    http_server     *servers[ROLE_MAX_SERVERS];
    size_t           nservers, nstopped;
    bool             stopping;
    bool             readied;                          /* role_rt_ready() ran */
    int              ready_fd;                         /* daemon: tells the launcher */
    uid_t            uid;                              /* `user`: whom to become */
    gid_t            gid;
    void           (*on_reload)(struct role_rt *rt);   /* SIGHUP, may be NULL */
    void           (*on_stop)(struct role_rt *rt);     /* first TERM/INT */
    void            *data;                             /* the role's own */
};

/* Opens logs, creates the loop and installs TERM/INT/HUP/USR1.  0 or -1
 * (already logged). */
int role_rt_init(struct role_rt *rt, struct role_opts *o);
/* Once the role listens and its files are open: detaches (-d), writes the
 * pid file, switches to the `user` account (when set and running as root),
 * and only then lets the launching process exit 0, so a port in use, a bad
 * database or an unknown user fails `weaprous ROLE -d` with the error on
 * the terminal.  role_rt_run() calls it; a role that runs its loop otherwise
 * calls it first.  0 or -1 (logged). */
int role_rt_ready(struct role_rt *rt);
/* Registers a server for graceful stop. */
void role_rt_add_server(struct role_rt *rt, http_server *s);
/* Runs the loop; returns the process exit status.  Then role_rt_finish(). */
int role_rt_run(struct role_rt *rt);
/* The closing steps alone, for a role whose loop another runner drove (an
 * app's app_run()): frees the registered servers and the loop, removes the
 * pid file, logs the stop and closes the logs. */
void role_rt_finish(struct role_rt *rt);

extern const struct role_def role_backend_def;
extern const struct role_def role_proxy_def;
extern const struct role_def role_tracker_def;
extern const struct role_def role_peer_def;
extern const struct role_def role_demo_def;

#endif
