/*
 * weaprous-sampleapp - the assignment's sample app (Figure 3: PUT /login,
 * POST /hello, GET /hello) written against the public API only.
 *
 * Accounts live in memory, seeded from --user NAME:PASSWORD (repeatable)
 * and the WEAPROUS_SAMPLE_USERS environment variable ("a:pw,b:pw").  With
 * neither, the account admin/password exists, as the assignment's
 * demonstration expects, and the start-up log says so.  /hello answers
 * without a session too, as the guest (the assignment's handlers default
 * to "guest").  Sessions are random 128-bit ids in a bounded in-memory
 * table: a login that needs room ends its own account's idlest session,
 * never another account's; everything is lost on exit.
 *
 * This file is the README example for people who write their own app.
 */
#define _POSIX_C_SOURCE 200809L   /* strtok_r, O_CLOEXEC; no config.h: built out of tree too */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <weaprous.h>

#define SAMPLE_MAX_USERS     64
#define SAMPLE_MAX_NAME      64
#define SAMPLE_MAX_PASS      128
#define SAMPLE_MAX_MESSAGE   256
#define SAMPLE_MAX_SESSIONS  1024      /* in memory, all accounts */
#define SAMPLE_USER_SESSIONS 16        /* per account; then its idlest goes */
#define SAMPLE_SESSION_TTL   3600      /* seconds */
#define SAMPLE_COOKIE        "sampleapp_session"
#define SAMPLE_DEFAULT_USER  "admin:password"   /* when no account is given */
#define SAMPLE_GUEST         "guest"   /* who /hello talks to without a session */

/* Every account can hold all its sessions at once, so a free slot always
 * remains for an account under its cap: no login ends another's session. */
_Static_assert(SAMPLE_MAX_USERS * SAMPLE_USER_SESSIONS <= SAMPLE_MAX_SESSIONS,
               "the session table must hold every account's sessions");

struct sample_user {
    char name[SAMPLE_MAX_NAME];
    char pass[SAMPLE_MAX_PASS];
    unsigned long hellos;
    char last[SAMPLE_MAX_MESSAGE];
};

struct sample_session {
    char     id[33];     /* 32 hex digits, "" when free */
    int      user;
    time_t   expires;
    uint64_t last_use;   /* s->uses when last logged in or used */
};

/* Everything the app knows, handed to every handler as its arg. */
struct sample {
    struct sample_user users[SAMPLE_MAX_USERS];
    size_t nusers;
    struct sample_user guest;     /* no session: shared by every such client */
    struct sample_session sessions[SAMPLE_MAX_SESSIONS];
    uint64_t uses;                /* a counter ordering sessions by last use */
    ev_loop *loop;
};

static int sample_add_user(struct sample *s, const char *spec)
{
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : 0;
    if (!colon || nl == 0 || nl >= SAMPLE_MAX_NAME || colon[1] == '\0'
        || strlen(colon + 1) >= SAMPLE_MAX_PASS || s->nusers == SAMPLE_MAX_USERS) {
        fprintf(stderr, "weaprous-sampleapp: bad or too many users: \"%s\" (NAME:PASSWORD)\n", spec);
        return -1;
    }
    struct sample_user *u = &s->users[s->nusers++];
    memcpy(u->name, spec, nl);
    u->name[nl] = '\0';
    strcpy(u->pass, colon + 1);
    return 0;
}

static int sample_users_from_env(struct sample *s, const char *env)
{
    char copy[4096], *save = NULL;
    if (env == NULL || env[0] == '\0')
        return 0;
    if (strlen(env) >= sizeof(copy))
        return -1;
    strcpy(copy, env);
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (sample_add_user(s, tok) < 0)
            return -1;
    return 0;
}

static int sample_new_session_id(char out[33])
{
    unsigned char raw[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, raw, sizeof(raw));
    close(fd);
    if (n != (ssize_t)sizeof(raw))
        return -1;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static int sample_session_live(const struct sample_session *ss, time_t now)
{
    return ss->id[0] && ss->expires > now;
}

/* The user behind the request's session cookie (the session counts as
 * used), or the guest when there is no valid one. */
static struct sample_user *sample_user_of(struct sample *s, http_txn *t)
{
    const char *id = app_cookie(t, SAMPLE_COOKIE);
    time_t now = ev_wall(s->loop);
    if (id == NULL || strlen(id) != 32)
        return &s->guest;
    for (size_t i = 0; i < SAMPLE_MAX_SESSIONS; i++) {
        struct sample_session *ss = &s->sessions[i];
        if (sample_session_live(ss, now) && entropy_equal(ss->id, id)) {
            ss->last_use = ++s->uses;
            return &s->users[ss->user];
        }
    }
    return &s->guest;
}

/* Where a new session of user u goes: u's idlest session when u holds
 * SAMPLE_USER_SESSIONS already, else a free or expired slot (one exists:
 * see the static assertion).  NULL only if that did not hold. */
static struct sample_session *sample_session_slot(struct sample *s, int u)
{
    struct sample_session *spare = NULL, *idlest = NULL;
    time_t now = ev_wall(s->loop);
    unsigned held = 0;
    for (size_t i = 0; i < SAMPLE_MAX_SESSIONS; i++) {
        struct sample_session *ss = &s->sessions[i];
        if (!sample_session_live(ss, now)) {
            spare = spare ? spare : ss;
        } else if (ss->user == u) {
            held++;
            if (idlest == NULL || ss->last_use < idlest->last_use)
                idlest = ss;
        }
    }
    return held >= SAMPLE_USER_SESSIONS || spare == NULL ? idlest : spare;
}

/* Starts a session for user u: the cookie and {"user": name}. */
static void sample_grant(struct sample *s, http_txn *t, int u)
{
    struct sample_session *ss = sample_session_slot(s, u);
    if (ss == NULL || sample_new_session_id(ss->id) < 0) {
        if (ss)
            ss->id[0] = '\0';
        app_json_error(t, 503, "no session", NULL);
        return;
    }
    ss->user = u;
    ss->expires = ev_wall(s->loop) + SAMPLE_SESSION_TTL;
    ss->last_use = ++s->uses;
    struct app_cookie_opts co = { .max_age = SAMPLE_SESSION_TTL, .path = "/",
                                  .http_only = true, .same_site = APP_SAMESITE_LAX };
    app_set_cookie(t, SAMPLE_COOKIE, ss->id, &co);
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    json_w_key(w, "user");
    json_w_string(w, s->users[u].name);
    json_w_end_object(w);
    app_json_end(t, 200);
}

/* PUT /login  {"username": "...", "password": "..."} (or a form). */
static void sample_login(http_txn *t, void *arg)
{
    struct sample *s = arg;
    const char *name, *pass;
    if (app_is_json(t)) {
        const json_value *body;
        if (app_json_body(t, &body) < 0)
            return;                       /* 400/413/415 already answered */
        name = json_get_str(body, "username");
        pass = json_get_str(body, "password");
    } else {
        name = app_form(t, "username");
        pass = app_form(t, "password");
    }
    if (name == NULL || pass == NULL) {
        app_json_error(t, 400, "bad request", "username and password are required");
        return;
    }
    for (size_t i = 0; i < s->nusers; i++) {
        if (strcmp(s->users[i].name, name) == 0 && entropy_equal(s->users[i].pass, pass)) {
            sample_grant(s, t, (int)i);
            return;
        }
    }
    app_json_error(t, 401, "unauthorized", "invalid username or password");
}

/* GET /hello: the logged-in user, or the guest */
static void sample_hello_get(http_txn *t, void *arg)
{
    struct sample_user *u = sample_user_of(arg, t);
    char msg[SAMPLE_MAX_NAME + 16];
    snprintf(msg, sizeof(msg), "Hello, %s!", u->name);
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    json_w_key(w, "message");
    json_w_string(w, msg);
    json_w_key(w, "hellos");
    json_w_uint(w, u->hellos);
    json_w_key(w, "last");
    json_w_string(w, u->last[0] ? u->last : NULL);
    json_w_end_object(w);
    app_json_end(t, 200);
}

/* POST /hello  {"message": "..."}: from the logged-in user, or the guest */
static void sample_hello_post(http_txn *t, void *arg)
{
    struct sample_user *u = sample_user_of(arg, t);
    const json_value *body;
    size_t len = 0;
    if (app_json_body(t, &body) < 0)
        return;
    const char *text = json_str(json_get(body, "message"), &len);
    if (text == NULL || len == 0 || len >= SAMPLE_MAX_MESSAGE || memchr(text, '\0', len)) {
        app_json_error(t, 422, "invalid message",
                       "\"message\" must be a non-empty string under 256 bytes");
        return;
    }
    memcpy(u->last, text, len + 1);
    u->hellos++;
    json_writer *w = app_json_begin(t);
    json_w_begin_object(w);
    json_w_key(w, "from");
    json_w_string(w, u->name);
    json_w_key(w, "echo");
    json_w_string_n(w, text, len);
    json_w_key(w, "hellos");
    json_w_uint(w, u->hellos);
    json_w_end_object(w);
    app_json_end(t, 201);
}

static void sample_usage(FILE *f)
{
    fprintf(f,
        "usage: weaprous-sampleapp [--server-ip IP] [--server-port N] [--user NAME:PASSWORD]...\n"
        "\n"
        "The WeApRous sample app: PUT /login, GET /hello, POST /hello (JSON).\n"
        "  --server-ip IP        bind address (default 0.0.0.0)\n"
        "  --server-port N       port (default 8000)\n"
        "  --user NAME:PASSWORD  add an in-memory account (repeatable); also taken\n"
        "                        from WEAPROUS_SAMPLE_USERS=\"a:pw,b:pw\"\n"
        "  --access-log FILE     nginx-style access log (\"-\": stdout)\n"
        "Accounts and sessions are kept in memory only.  Without --user or\n"
        "WEAPROUS_SAMPLE_USERS there is one account, admin/password (as the\n"
        "assignment shows).  /hello without a session answers as the guest.\n");
}

static int sample_parse_args(struct sample *s, int argc, char **argv,
                             const char **ip, int *port, const char **access)
{
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            sample_usage(stdout);
            exit(0);
        }
        if (val == NULL)
            goto bad;
        if (strcmp(opt, "--server-ip") == 0) {
            *ip = val;
        } else if (strcmp(opt, "--server-port") == 0) {
            char *end;
            long p = strtol(val, &end, 10);
            if (*end || p < 0 || p > 65535)
                goto bad;
            *port = (int)p;
        } else if (strcmp(opt, "--user") == 0) {
            if (sample_add_user(s, val) < 0)
                return -1;
        } else if (strcmp(opt, "--access-log") == 0) {
            *access = val;
        } else {
            goto bad;
        }
        i++;
    }
    return 0;
bad:
    sample_usage(stderr);
    return -1;
}

int main(int argc, char **argv)
{
    static struct sample s;   /* large: kept off the stack, used only via arg */
    const char *ip = "0.0.0.0", *access = NULL;
    int port = 8000;
    if (sample_parse_args(&s, argc, argv, &ip, &port, &access) < 0
        || sample_users_from_env(&s, getenv("WEAPROUS_SAMPLE_USERS")) < 0)
        return 2;
    log_open(NULL, LOG_LVL_INFO);
    log_set_tag("sampleapp");
    strcpy(s.guest.name, SAMPLE_GUEST);
    if (s.nusers == 0) {
        sample_add_user(&s, SAMPLE_DEFAULT_USER);
        log_warnx("no account given: using the default account admin/password "
                  "(--user NAME:PASSWORD or WEAPROUS_SAMPLE_USERS replaces it)");
    }
    if (access && log_open_access(access) < 0)
        log_warn("access log %s", access);

    wr_app *a = app_new(NULL, NULL);
    if (a == NULL) {
        log_warn("app_new");
        return 1;
    }
    s.loop = app_loop(a);
    if (app_route(a, "PUT", "/login", sample_login, &s) < 0
        || app_route(a, "GET", "/hello", sample_hello_get, &s) < 0
        || app_route(a, "POST", "/hello", sample_hello_post, &s) < 0) {
        log_warnx("routes: %s", app_last_error(a));
        return 1;
    }
    if (app_listen(a, ip, port) < 0) {
        log_warn("listen on %s:%d", ip, port);
        app_free(a);
        return 1;
    }
    log_info("listening on %s:%d; %zu account(s)", ip, app_port(a), s.nusers);
    int rc = app_run(a);
    app_free(a);
    log_info("stopped");
    return rc < 0 ? 1 : 0;
}
