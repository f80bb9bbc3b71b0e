/*
 * demo_role.c - `weaprous demo`: the whole local stack from a source tree,
 * with no installation.  It starts the proxy on 8080, two backends on 9000
 * and 9001 (round-robin behind the proxy, one shared database), and the
 * tracker on 8000, each as a child process of this one, waits until every
 * port answers, prints the URLs, and supervises: Ctrl-C (or TERM) stops
 * them all gracefully; a child that dies stops the demo with its name.
 *
 * The supervisor is a reactor like every role: SIGCHLD and SIGTERM come
 * through the self-pipe, readiness is probed from a timer.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <unistd.h>

#include "role.h"
#include "weaprous/db.h"
#include "weaprous/http_client.h"
#include "weaprous/json.h"
#include "weaprous/log.h"
#include "weaprous/net.h"

#define DEMO_MAX_CHILDREN  8
#define DEMO_MAX_ARGS      24
#define DEMO_PATH_MAX      1024
#define DEMO_PROBE_MS      50      /* between readiness probes */
#define DEMO_WATCH_MS      1000    /* while running: reap, and keep the loop */
#define DEMO_START_MS      15000   /* every port must answer by then */
#define DEMO_STOP_MS       (ROLE_GRACE_MS + 1000)
#define DEMO_SIGNIN_MS     15000   /* the peers' sign-in and join */
#define DEMO_LOG_TAIL      2048    /* bytes of a failed part's log shown */
#define DEMO_CHANNEL       "general"

/* Demo accounts besides admin/password (which a fresh database creates):
 * the two chat users of DESIGN.md section 4, password = name. */
static const char *const demo_users[] = { "alice", "bob" };

enum demo_state { DEMO_STARTING, DEMO_SIGNING_IN, DEMO_RUNNING, DEMO_STOPPING };

struct demo;

struct demo_child {
    const char *name;           /* "backend-9000" ... */
    int         port;           /* probed for readiness */
    int         port2;          /* another port it needs (status, P2P), or 0 */
    const char *user;           /* a peer: whose (signed in by the demo) */
    struct demo *d;
    int         step;           /* sign-in: 0 login, 1 join, 2 done */
    char        token[DB_TOKEN_HEX_LEN + 1];
    char       *argv[DEMO_MAX_ARGS];
    int         argc;
    pid_t       pid;
    bool        ready;
};

struct demo {
    struct role_rt    rt;
    enum demo_state   state;
    struct demo_child kids[DEMO_MAX_CHILDREN];
    size_t            nkids;
    ev_timer          timer;        /* probes while starting, deadline after */
    hc_client        *hc;           /* the peers' sign-in */
    size_t            signing;      /* sign-ins under way */
    uint64_t          started_ms;
    int               exit_code;
    const char       *self;         /* this program, for exec */
    char              self_path[DEMO_PATH_MAX];
    const char       *ip;
    char              root[DEMO_PATH_MAX], run[DEMO_PATH_MAX], db[DEMO_PATH_MAX + 32];
    char              dbdir[DEMO_PATH_MAX + 32];   /* the peers' databases */
};

/* --- the children's command lines --- */

static struct demo_child *demo_child(struct demo *d, const char *name, int port)
{
    struct demo_child *k = &d->kids[d->nkids++];
    memset(k, 0, sizeof(*k));
    k->d = d;
    k->name = name;
    k->port = port;
    k->pid = -1;
    k->argv[k->argc++] = (char *)d->self;
    return k;
}

/* Appends one argument (copied; freed by demo_free()). */
static void demo_arg(struct demo_child *k, const char *s)
{
    if (k->argc >= DEMO_MAX_ARGS - 1)
        return;
    char *a = strdup(s);
    if (a)
        k->argv[k->argc++] = a;
}

/* "--flag value", the value being dir/name (or dir alone when name is
 * NULL). */
static void demo_opt(struct demo_child *k, const char *flag, const char *dir, const char *name)
{
    char path[DEMO_PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s%s%s", dir, name ? "/" : "", name ? name : "");
    demo_arg(k, flag);
    demo_arg(k, path);
}

/* Every part logs to RUN/NAME.log and RUN/NAME.access.log. */
static void demo_logs(struct demo *d, struct demo_child *k)
{
    char name[64];
    snprintf(name, sizeof(name), "%s.log", k->name);
    demo_opt(k, "--log-file", d->run, name);
    snprintf(name, sizeof(name), "%s.access.log", k->name);
    demo_opt(k, "--access-log", d->run, name);
}

/* A role listening on the demo's address and the part's own port. */
static void demo_listener(struct demo *d, struct demo_child *k, const char *role)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", k->port);
    demo_arg(k, role);
    /* a local demo as root (make run on a fresh machine): on loopback,
     * with the developer's consent implied */
    if (geteuid() == 0)
        demo_arg(k, "--allow-root");
    demo_opt(k, "--server-ip", d->ip, NULL);
    demo_opt(k, "--server-port", port, NULL);
    demo_logs(d, k);
}

/* A chat peer of the demo: its ports, database and the tracker. */
static void demo_peer(struct demo *d, const char *name, const char *user, int port)
{
    char p2p[16], tracker[64];
    struct demo_child *k = demo_child(d, name, port);
    k->user = user;
    k->port2 = port + 100;
    demo_listener(d, k, "peer");
    snprintf(p2p, sizeof(p2p), "%d", k->port2);
    demo_opt(k, "--p2p-port", p2p, NULL);
    snprintf(tracker, sizeof(tracker), "http://127.0.0.1:%d", 8000);
    demo_opt(k, "--tracker", tracker, NULL);
    char dbname[64];
    snprintf(dbname, sizeof(dbname), "peer-%s.db", user);
    demo_opt(k, "--db", d->dbdir, dbname);
    demo_opt(k, "--www", d->root, "www");
    demo_opt(k, "--static", d->root, "static");
}

static void demo_plan(struct demo *d)
{
    static const char *const backends[] = { "backend-9000", "backend-9001" };
    for (size_t i = 0; i < 2; i++) {
        struct demo_child *k = demo_child(d, backends[i], 9000 + (int)i);
        demo_listener(d, k, "backend");
        demo_opt(k, "--www", d->root, "www");
        demo_opt(k, "--static", d->root, "static");
        demo_opt(k, "--db", d->db, NULL);
    }
    struct demo_child *t = demo_child(d, "tracker", 8000);
    demo_listener(d, t, "tracker");
    demo_opt(t, "--db", d->db, NULL);
    demo_opt(t, "--static", d->root, "static");
    demo_arg(t, "--allow-signup");
    /* the routes come from conf/proxy.conf; the address is the demo's */
    struct demo_child *p = demo_child(d, "proxy", 8080);
    p->port2 = 8081;    /* its status listener (conf/proxy.conf) */
    demo_listener(d, p, "proxy");
    demo_opt(p, "-c", d->root, "conf/proxy.conf");
    demo_peer(d, "peer-alice", "alice", 7001);
    demo_peer(d, "peer-bob", "bob", 7002);
}

static void demo_free(struct demo *d)
{
    for (size_t i = 0; i < d->nkids; i++)
        for (int a = 1; a < d->kids[i].argc; a++)
            free(d->kids[i].argv[a]);
    d->nkids = 0;
}

/* --- start, probe, stop --- */

static int demo_spawn(struct demo_child *k)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* Its own process group: Ctrl-C reaches the supervisor only, which
         * then stops every part gracefully, once. */
        setpgid(0, 0);
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGTERM);   /* no orphans if we are killed */
#endif
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(k->argv[0], k->argv);
        fprintf(stderr, "weaprous demo: cannot run %s: %s\n", k->argv[0], strerror(errno));
        _exit(127);
    }
    k->pid = pid;
    return 0;
}

/* True when something accepts on 127.0.0.1:port (loopback answers at once:
 * connected or refused, so this never waits). */
static bool demo_port_open(const char *ip, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (net_parse_addr(strcmp(ip, "0.0.0.0") ? ip : "127.0.0.1", port, &ss, &len) < 0)
        return false;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool open = connect(fd, (struct sockaddr *)&ss, len) == 0;
    close(fd);
    return open;
}

static void demo_signal_all(struct demo *d, int sig)
{
    for (size_t i = 0; i < d->nkids; i++)
        if (d->kids[i].pid > 0)
            kill(d->kids[i].pid, sig);
}

static size_t demo_alive(const struct demo *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->nkids; i++)
        n += d->kids[i].pid > 0;
    return n;
}

static void demo_stop(struct demo *d, int code)
{
    if (d->state == DEMO_STOPPING)
        return;
    d->state = DEMO_STOPPING;
    d->exit_code = code;
    demo_signal_all(d, SIGTERM);
    ev_timer_start(d->rt.loop, &d->timer, DEMO_STOP_MS, 0);
    if (demo_alive(d) == 0)
        ev_stop(d->rt.loop);
}

static void demo_banner(const struct demo *d)
{
    printf("\nWeApRous demo is up (logs in %s/, databases in %s/):\n"
           "  http://alice.localhost:8080/      alice's chat (her peer, 7001) - open it in one tab\n"
           "  http://bob.localhost:8080/        bob's chat (his peer, 7002) - and this one in another\n"
           "                                    (both signed in and in #%s; alice / alice, bob / bob)\n"
           "  http://127.0.0.1:8080/            the backends 9000 and 9001, round-robin through the proxy\n"
           "                                    (sign in as admin / password, alice / alice or bob / bob)\n"
           "  http://tracker.localhost:8080/    the chat tracker (API: docs/API.md)\n"
           "  http://127.0.0.1:8081/__status    the proxy's pools, as JSON\n"
           "Everything listens on %s.  Ctrl-C stops everything.\n\n",
           d->run, d->dbdir, DEMO_CHANNEL, d->ip);
    fflush(stdout);
}

/* The end of a part's log, on the terminal: why it did not start. */
static void demo_show_log(const struct demo *d, const struct demo_child *k)
{
    char path[DEMO_PATH_MAX + 80], tail[DEMO_LOG_TAIL + 1];
    snprintf(path, sizeof(path), "%s/%s.log", d->run, k->name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    ssize_t n = pread(fd, tail, DEMO_LOG_TAIL, end > DEMO_LOG_TAIL ? end - DEMO_LOG_TAIL : 0);
    close(fd);
    if (n > 0) {
        tail[n] = '\0';
        fprintf(stderr, "--- the end of %s ---\n%s", path, tail);
    }
}

/* ---- signing the peers in ---- */

static void demo_signed(struct demo *d);
static void demo_signin_step(struct demo_child *k);

static void demo_signin_done(hc_request *r, int err, const struct hc_response *resp, void *arg)
{
    struct demo_child *k = arg;
    struct demo *d = k->d;
    (void)r;
    if (!resp || (resp->status != 200 && resp->status != 201)) {
        fprintf(stderr, "weaprous demo: cannot %s %s's peer: %s; see %s/%s.log\n",
                k->step == 0 ? "sign in" : "join " DEMO_CHANNEL " with", k->user,
                resp ? resp->body : strerror(err), d->run, k->name);
        k->step = 2;
        demo_signed(d);
        return;
    }
    if (k->step == 0) {
        json_doc *doc = json_parse(resp->body, resp->body_len, NULL, NULL);
        const char *tok = json_get_str(json_root(doc), "token");
        snprintf(k->token, sizeof(k->token), "%s", tok ? tok : "");
        json_free(doc);
    }
    k->step++;
    demo_signin_step(k);
}

/* POST /login, then POST /add-list general, on one peer. */
static void demo_signin_step(struct demo_child *k)
{
    struct demo *d = k->d;
    char body[128], auth[DB_TOKEN_HEX_LEN + 32];
    const char *hdr[] = { "Content-Type: application/json", auth, NULL };
    struct sockaddr_storage ss;
    socklen_t len;
    if (k->step >= 2) {
        demo_signed(d);
        return;
    }
    net_parse_addr("127.0.0.1", k->port, &ss, &len);
    if (k->step == 0) {
        snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}",
                 k->user, k->user);
        hdr[1] = NULL;
    } else {
        snprintf(body, sizeof(body), "{\"channel\":\"" DEMO_CHANNEL "\"}");
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", k->token);
    }
    if (!hc_request_start(d->hc, (struct sockaddr *)&ss, len, "POST", "127.0.0.1",
                          k->step == 0 ? "/login" : "/add-list", hdr, body, strlen(body),
                          demo_signin_done, k)) {
        k->step = 2;
        demo_signed(d);
    }
}

/* One peer is done (or gave up); once both are, the demo is up. */
static void demo_signed(struct demo *d)
{
    if (d->signing > 0 && --d->signing > 0)
        return;
    if (d->state != DEMO_SIGNING_IN)
        return;
    d->state = DEMO_RUNNING;
    demo_banner(d);
}

static void demo_signin(struct demo *d)
{
    d->state = DEMO_SIGNING_IN;
    struct hc_config cfg = { .timeout_ms = DEMO_SIGNIN_MS };
    d->hc = hc_client_new(d->rt.loop, &cfg);
    for (size_t i = 0; i < d->nkids; i++)
        if (d->kids[i].user && d->hc)
            d->signing++;
    if (d->signing == 0) {
        d->state = DEMO_RUNNING;
        demo_banner(d);
        return;
    }
    for (size_t i = 0; i < d->nkids; i++)
        if (d->kids[i].user)
            demo_signin_step(&d->kids[i]);
}

static void demo_on_child(ev_loop *loop, int signo, void *arg);

static void demo_tick(ev_loop *loop, ev_timer *tm, void *arg)
{
    struct demo *d = arg;
    if (d->state == DEMO_RUNNING || d->state == DEMO_SIGNING_IN) {
        demo_on_child(loop, SIGCHLD, d);
        return;
    }
    if (d->state == DEMO_STOPPING) {
        log_warnx("children still alive after %d ms: SIGKILL", DEMO_STOP_MS);
        demo_signal_all(d, SIGKILL);
        ev_stop(loop);
        return;
    }
    size_t ready = 0;
    for (size_t i = 0; i < d->nkids; i++) {
        struct demo_child *k = &d->kids[i];
        if (!k->ready && demo_port_open(d->ip, k->port))
            k->ready = true;
        ready += k->ready;
    }
    if (ready == d->nkids) {
        /* The timer also keeps the loop alive: signals alone do not. */
        ev_timer_start(loop, tm, DEMO_WATCH_MS, DEMO_WATCH_MS);
        demo_signin(d);
        return;
    }
    if (ev_now_ms(loop) - d->started_ms > DEMO_START_MS) {
        log_error("not every part answered within %d ms; see the logs in %s/",
                  DEMO_START_MS, d->run);
        demo_stop(d, 1);
    }
}

static void demo_on_child(ev_loop *loop, int signo, void *arg)
{
    struct demo *d = arg;
    int status;
    pid_t pid;
    (void)signo;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < d->nkids; i++) {
            struct demo_child *k = &d->kids[i];
            if (k->pid != pid)
                continue;
            k->pid = -1;
            if (d->state != DEMO_STOPPING) {
                log_error("%s exited (%s %d); see %s/%s.log", k->name,
                          WIFEXITED(status) ? "status" : "signal",
                          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                          d->run, k->name);
                if (d->state == DEMO_STARTING)
                    demo_show_log(d, k);
                demo_stop(d, 1);
            }
        }
    }
    if (d->state == DEMO_STOPPING && demo_alive(d) == 0)
        ev_stop(loop);
}

static void demo_on_term(ev_loop *loop, int signo, void *arg)
{
    struct demo *d = arg;
    (void)loop;
    log_info("signal %d: stopping the demo", signo);
    demo_stop(d, 0);
}

/* --- set-up --- */

/* Fresh databases get admin/password from the store; the demo adds the
 * chat users so that the tracker and the peers have someone to be. */
static int demo_accounts(struct demo *d)
{
    db *store;
    char err[DB_MAX_ERRMSG];
    if (db_open(&store, d->db, NULL, err, sizeof(err), NULL) < 0) {
        log_error("%s", err);
        return -1;
    }
    if (db_info(store)->created_admin)
        log_info("new database %s: account admin / password created", d->db);
    for (size_t i = 0; i < sizeof(demo_users) / sizeof(demo_users[0]); i++) {
        struct db_user u;
        if (db_user_get(store, demo_users[i], &u) == 0)
            continue;
        if (db_user_add(store, demo_users[i], demo_users[i]) < 0)
            log_warnx("cannot create demo account %s: %s", demo_users[i], db_errmsg(store));
        else
            log_info("created demo account %s / %s", demo_users[i], demo_users[i]);
    }
    db_close(store);
    return 0;
}

static int demo_paths(struct demo *d, const struct role_opts *o)
{
    const char *root = role_opt(o, "root", ".");
    const char *run = role_opt(o, "run-dir", "run");
    char probe[DEMO_PATH_MAX + 32];
    struct stat st;
    if (!realpath(root, d->root)) {
        log_error("source tree %s: %s", root, strerror(errno));
        return -1;
    }
    snprintf(probe, sizeof(probe), "%s/conf/proxy.conf", d->root);
    if (stat(probe, &st) < 0) {
        log_error("%s is not a WeApRous source tree (no conf/proxy.conf); use --root DIR", d->root);
        return -1;
    }
    if (mkdir(run, 0755) < 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", run, strerror(errno));
        return -1;
    }
    if (!realpath(run, d->run)) {
        log_error("run directory %s: %s", run, strerror(errno));
        return -1;
    }
    if (o->db)
        snprintf(d->db, sizeof(d->db), "%s", o->db);
    else
        snprintf(d->db, sizeof(d->db), "%s/db/weaprous.db", d->root);
    /* the peers' databases live beside it, so a second run finds them */
    snprintf(d->dbdir, sizeof(d->dbdir), "%s", d->db);
    char *slash = strrchr(d->dbdir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(d->dbdir, sizeof(d->dbdir), ".");
    return 0;
}

/* The running program's own path, for exec; NULL when unknown. */
static const char *demo_self(struct demo *d)
{
    ssize_t n = readlink("/proc/self/exe", d->self_path, sizeof(d->self_path) - 1);
    if (n <= 0)
        return NULL;
    d->self_path[n] = '\0';
    return d->self_path;
}

/* A port another program holds makes the part fail later, in its log
 * only: say it now, with the part's name and what to do. */
static int demo_ports_free(const struct demo *d)
{
    int busy = 0;
    for (size_t i = 0; i < d->nkids; i++) {
        const struct demo_child *k = &d->kids[i];
        int ports[2] = { k->port, k->port2 };
        for (int j = 0; j < 2; j++) {
            if (ports[j] == 0 || !demo_port_open(d->ip, ports[j]))
                continue;
            fprintf(stderr, "weaprous demo: port %d (%s) is already in use on %s; stop"
                    " what listens there (`ss -ltnp 'sport = :%d'` names it), maybe"
                    " another demo\n", ports[j], k->name, d->ip, ports[j]);
            busy = 1;
        }
    }
    return busy ? -1 : 0;
}

static int demo_start(struct demo *d)
{
    ev_timer_init(&d->timer, demo_tick, d);   /* demo_stop() may start it */
    demo_plan(d);
    if (demo_ports_free(d) < 0)
        return -1;
    for (size_t i = 0; i < d->nkids; i++) {
        if (demo_spawn(&d->kids[i]) < 0) {
            log_warn("cannot start %s", d->kids[i].name);
            return -1;
        }
    }
    d->started_ms = ev_now_ms(d->rt.loop);
    return ev_timer_start(d->rt.loop, &d->timer, DEMO_PROBE_MS, DEMO_PROBE_MS);
}

static int demo_run(struct role_opts *o)
{
    struct demo *d = calloc(1, sizeof(*d));
    if (!d)
        return 1;
    log_set_tag("demo");
    d->ip = o->ip ? o->ip : "127.0.0.1";
    d->self = demo_self(d);
    int rc = 1;
    if (!d->self || demo_paths(d, o) < 0 || demo_accounts(d) < 0) {
        free(d);
        return 1;
    }
    if (o->check_only) {
        printf("weaprous demo: source tree %s, database %s: ok\n", d->root, d->db);
        free(d);
        return 0;
    }
    o->allow_root = true;   /* the supervisor serves nothing */
    if (role_rt_init(&d->rt, o) == 0) {
        ev_signal_set(d->rt.loop, SIGTERM, demo_on_term, d);
        ev_signal_set(d->rt.loop, SIGINT, demo_on_term, d);
        ev_signal_set(d->rt.loop, SIGCHLD, demo_on_child, d);
        if (demo_start(d) < 0)
            demo_stop(d, 1);
        rc = role_rt_run(&d->rt) < 0 ? 1 : d->exit_code;
    }
    hc_client_free(d->hc);
    demo_free(d);
    free(d);
    return rc;
}

static const char *const demo_keys[] = { "root", "run-dir", NULL };

const struct role_def role_demo_def = {
    .name = "demo",
    .default_port = 8080,
    .keys = demo_keys,
    .flags = NULL,
    .run = demo_run,
    .help =
        "  --root DIR      the source tree: www/, static/, conf/proxy.conf (default: .)\n"
        "  --run-dir DIR   logs of every part (default: run)\n"
        "  --db FILE       the shared database (default: ROOT/db/weaprous.db)\n"
        "  --server-ip IP  address the parts listen on (default: 127.0.0.1)\n",
};
