/*
 * role_rt.c - the run-time shared by every server role: logs, daemon mode,
 * pid file, signals and the graceful stop.  See role.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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

/* --- daemon and pid file --- */

static int rt_daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
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
    return 0;
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

int role_rt_init(struct role_rt *rt, struct role_opts *o)
{
    memset(rt, 0, sizeof(*rt));
    rt->o = o;
    log_set_tag(o->role);
    if (log_open(o->log_file, (enum log_level)o->log_level) < 0) {
        fprintf(stderr, "weaprous: cannot open log %s: %s\n", o->log_file, strerror(errno));
        return -1;
    }
    if (o->access_log && log_open_access(o->access_log) < 0) {
        log_warn("cannot open access log %s", o->access_log);
        return -1;
    }
    if (o->daemon && rt_daemonize() < 0) {
        log_warn("daemon");
        return -1;
    }
    if (o->pid_file && rt_write_pidfile(o->pid_file) < 0) {
        log_warn("cannot write pid file %s", o->pid_file);
        return -1;
    }
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
    if (rt->o->pid_file)
        unlink(rt->o->pid_file);
    log_info("stopped");
    log_close();
}

int role_rt_run(struct role_rt *rt)
{
    int rc = ev_run(rt->loop) < 0 ? 1 : 0;
    if (rc)
        log_warn("event loop failed");
    role_rt_finish(rt);
    return rc;
}
