/*
 * role_rt.c - the run-time shared by every server role: logs, daemon mode,
 * pid file, signals and the graceful stop.  See role.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "role.h"
#include "weaprous/log.h"

const char *role_opt(const struct role_opts *o, const char *key, const char *dflt)
{
    for (size_t i = 0; i < o->nkv; i++)
        if (strcmp(o->kv[i].key, key) == 0)
            return o->kv[i].val;
    return dflt;
}

bool role_flag(const struct role_opts *o, const char *key)
{
    const char *v = role_opt(o, key, NULL);
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 ||
                 strcasecmp(v, "on") == 0 || strcasecmp(v, "true") == 0);
}

long long role_opt_size(const struct role_opts *o, const char *key, long long dflt)
{
    const char *v = role_opt(o, key, NULL);
    if (!v)
        return dflt;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || n < 0)
        return -1;
    long long mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024; end++; break;
    case 'm': case 'M': mul = 1024 * 1024; end++; break;
    case 'g': case 'G': mul = 1024LL * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end || n > (1LL << 40) / mul)
        return -1;
    return n * mul;
}

long long role_opt_count(const struct role_opts *o, const char *key, long long dflt,
                         long long min, long long max)
{
    const char *v = role_opt(o, key, NULL);
    if (!v)
        return dflt;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    return (errno || end == v || *end || n < min || n > max) ? -1 : n;
}

/* Units of a duration, as nginx writes them; a bare number is seconds. */
static const struct { const char *unit; double ms; } role_time_units[] = {
    { "ms", 1 }, { "s", 1000 }, { "", 1000 }, { "m", 60000 }, { "h", 3600000 },
    { "d", 86400000 },
};

long long role_opt_ms(const struct role_opts *o, const char *key, long long dflt_ms,
                      long long min_ms, long long max_ms)
{
    const char *v = role_opt(o, key, NULL);
    if (!v)
        return dflt_ms;
    char *end;
    errno = 0;
    double n = strtod(v, &end);
    if (errno || end == v || !(n >= 0) || v[0] == '-' || v[0] == '+')
        return -1;
    for (size_t i = 0; i < sizeof(role_time_units) / sizeof(role_time_units[0]); i++) {
        if (strcmp(end, role_time_units[i].unit) != 0)
            continue;
        double ms = n * role_time_units[i].ms;
        if (ms < (double)min_ms || ms > (double)max_ms)
            return -1;
        return (long long)(ms + 0.5);
    }
    return -1;
}

/* --- daemon and pid file --- */

/* Detaches into a grandchild (new session, no terminal, stdio on
 * /dev/null).  The launching process waits on a pipe until the grandchild
 * says it is serving (role_rt_ready() closes the pipe after writing the pid
 * file) and exits 0 then, or 1 when the grandchild died first: so
 * `weaprous ROLE -d` fails visibly when, say, the pid file cannot be
 * written.  Returns the write end of that pipe in the grandchild. */
static int rt_daemonize(void)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        char ready = 0;
        close(pfd[1]);
        ssize_t n;
        while ((n = read(pfd[0], &ready, 1)) < 0 && errno == EINTR)
            continue;
        _exit(n == 1 && ready == '1' ? 0 : 1);
    }
    close(pfd[0]);
    if (setsid() < 0)
        return -1;
    pid = fork();           /* never reacquire a controlling terminal */
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    umask(022);
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);    /* the error log is a file by now, or lost */
        if (fd > 2)
            close(fd);
    }
    fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
    return pfd[1];
}

static int rt_write_pidfile(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* --- signals --- */

static void rt_server_stopped(http_server *s, void *arg)
{
    struct role_rt *rt = arg;
    (void)s;
    if (++rt->nstopped >= rt->nservers)
        ev_stop(rt->loop);
}

static void rt_on_term(ev_loop *loop, int signo, void *arg)
{
    struct role_rt *rt = arg;
    if (rt->stopping) {
        log_info("signal %d again: stopping now", signo);
        ev_stop(loop);
        return;
    }
    rt->stopping = true;
    log_info("signal %d: graceful stop (at most %d ms)", signo, ROLE_GRACE_MS);
    if (rt->on_stop)
        rt->on_stop(rt);
    if (rt->nservers == 0)
        ev_stop(loop);
    for (size_t i = 0; i < rt->nservers; i++)
        http_server_shutdown(rt->servers[i], ROLE_GRACE_MS, rt_server_stopped, rt);
}

static void rt_on_hup(ev_loop *loop, int signo, void *arg)
{
    struct role_rt *rt = arg;
    (void)loop; (void)signo;
    if (rt->on_reload) {
        log_info("SIGHUP: reloading configuration");
        rt->on_reload(rt);
    } else {
        log_info("SIGHUP: nothing to reload for this role");
    }
}

static void rt_on_usr1(ev_loop *loop, int signo, void *arg)
{
    (void)loop; (void)signo; (void)arg;
    if (log_reopen() < 0)
        log_warn("reopening logs");
    else
        log_info("SIGUSR1: logs reopened");
}

/* --- the account a role runs as --- */

/* Root is refused unless told where to go (`user`) or --allow-root, as
 * nginx's workers and Debian's daemons never serve as root.  The account
 * is looked up now, so a typo fails before anything listens. */
static int rt_check_user(struct role_rt *rt, const struct role_opts *o)
{
    if (!o->user) {
        const char *env = getenv("WEAPROUS_ALLOW_ROOT");   /* test harnesses, containers */
        if (geteuid() != 0 || o->allow_root || (env && strcmp(env, "1") == 0))
            return 0;
        log_error("refusing to run as root: set `user NAME` in the configuration or"
                  " --user NAME (the role switches to that account once it listens),"
                  " or pass --allow-root");
        return -1;
    }
    struct passwd *pw = getpwnam(o->user);
    if (!pw) {
        log_error("user '%s': no such account", o->user);
        return -1;
    }
    if (geteuid() != 0 && geteuid() != pw->pw_uid) {
        log_error("user '%s': only root can switch to another account", o->user);
        return -1;
    }
    rt->uid = pw->pw_uid;
    rt->gid = pw->pw_gid;
    return 0;
}

/* Switches to the `user` account for good (groups, gid, then uid). */
static int rt_drop_privileges(struct role_rt *rt)
{
    const char *user = rt->o->user;
    if (!user || geteuid() != 0)
        return 0;
    if (initgroups(user, rt->gid) < 0 || setgid(rt->gid) < 0 || setuid(rt->uid) < 0) {
        log_warn("cannot switch to user %s", user);
        return -1;
    }
    if (setuid(0) == 0) {   /* a switch that can be undone is no switch */
        log_error("still able to become root after switching to %s", user);
        return -1;
    }
    log_info("running as %s (uid %ld, gid %ld)", user, (long)rt->uid, (long)rt->gid);
    return 0;
}

int role_rt_init(struct role_rt *rt, struct role_opts *o)
{
    memset(rt, 0, sizeof(*rt));
    rt->o = o;
    rt->ready_fd = -1;
    log_set_tag(o->role);
    if (log_open(o->log_file, (enum log_level)o->log_level) < 0) {
        fprintf(stderr, "weaprous: cannot open log %s: %s\n", o->log_file, strerror(errno));
        return -1;
    }
    if (o->access_log && log_open_access(o->access_log) < 0) {
        log_warn("cannot open access log %s", o->access_log);
        return -1;
    }
    if (rt_check_user(rt, o) < 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);   /* a vanished client is an EPIPE, not a death */
    rt->loop = ev_loop_new(0);
    if (!rt->loop) {
        log_warn("event loop");
        return -1;
    }
    ev_signal_set(rt->loop, SIGTERM, rt_on_term, rt);
    ev_signal_set(rt->loop, SIGINT, rt_on_term, rt);
    ev_signal_set(rt->loop, SIGHUP, rt_on_hup, rt);
    ev_signal_set(rt->loop, SIGUSR1, rt_on_usr1, rt);
    return 0;
}

void role_rt_add_server(struct role_rt *rt, http_server *s)
{
    if (rt->nservers < ROLE_MAX_SERVERS)
        rt->servers[rt->nservers++] = s;
}

void role_rt_finish(struct role_rt *rt)
{
    for (size_t i = 0; i < rt->nservers; i++)
        http_server_free(rt->servers[i]);
    rt->nservers = 0;
    ev_loop_free(rt->loop);
    rt->loop = NULL;
    if (rt->o->pid_file && rt->readied)
        unlink(rt->o->pid_file);
    log_info("stopped");
    log_close();
}

int role_rt_ready(struct role_rt *rt)
{
    struct role_opts *o = rt->o;
    if (rt->readied)
        return 0;
    rt->readied = true;
    if (o->daemon && (rt->ready_fd = rt_daemonize()) < 0) {
        log_warn("daemon");
        return -1;
    }
    if (o->pid_file && rt_write_pidfile(o->pid_file) < 0) {
        log_warn("cannot write pid file %s", o->pid_file);
        return -1;
    }
    if (rt_drop_privileges(rt) < 0)
        return -1;
    if (rt->ready_fd >= 0) {
        if (write(rt->ready_fd, "1", 1) < 0) { /* the launcher is gone: fine */ }
        close(rt->ready_fd);
        rt->ready_fd = -1;
    }
    return 0;
}

int role_rt_run(struct role_rt *rt)
{
    if (role_rt_ready(rt) < 0) {
        role_rt_finish(rt);
        return 1;
    }
    int rc = ev_run(rt->loop) < 0 ? 1 : 0;
    if (rc)
        log_warn("event loop failed");
    role_rt_finish(rt);
    return rc;
}
