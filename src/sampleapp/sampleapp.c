/*
 * weaprous-sampleapp - the assignment's sample app (Figure 3: PUT /login,
 * POST /hello, GET /hello) written against the public API only.
 *
 * Accounts live in memory, seeded from --user NAME:PASSWORD (repeatable)
 * and the WEAPROUS_SAMPLE_USERS environment variable ("a:pw,b:pw").  With
 * no account configured every login fails, and the start-up log says so:
 * there is no built-in demo password.  Sessions are random 128-bit ids in a
 * bounded in-memory table; everything is lost on exit.
 *
 * This file is the README example for people who write their own app.
 */
#define _POSIX_C_SOURCE 200809L   /* strtok_r, O_CLOEXEC; no config.h: built out of tree too */

#include <errno.h>
#include <fcntl.h>
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
#define SAMPLE_MAX_SESSIONS  1024      /* oldest is replaced when full */
#define SAMPLE_SESSION_TTL   3600      /* seconds */
#define SAMPLE_COOKIE        "sampleapp_session"

struct sample_user {
    char name[SAMPLE_MAX_NAME];
    char pass[SAMPLE_MAX_PASS];
    unsigned long hellos;
    char last[SAMPLE_MAX_MESSAGE];
};

struct sample_session {
    char   id[33];     /* 32 hex digits, "" when free */
    int    user;
    time_t expires;
};

/* Everything the app knows, handed to every handler as its arg. */
struct sample {
    struct sample_user users[SAMPLE_MAX_USERS];
    size_t nusers;
    struct sample_session sessions[SAMPLE_MAX_SESSIONS];
    size_t next_session;
    ev_loop *loop;
};

/* Equal-time comparison, so a wrong password's timing tells nothing. */
static int sample_secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

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

/* The user behind the request's session cookie, or NULL. */
static struct sample_user *sample_user_of(struct sample *s, http_txn *t)
{
    const char *id = app_cookie(t, SAMPLE_COOKIE);
    time_t now = ev_wall(s->loop);
    if (id == NULL || strlen(id) != 32)
        return NULL;
    for (size_t i = 0; i < SAMPLE_MAX_SESSIONS; i++) {
        struct sample_session *ss = &s->sessions[i];
        if (ss->id[0] && ss->expires > now && sample_secret_eq(ss->id, id))
            return &s->users[ss->user];
    }
    return NULL;
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
        if (strcmp(s->users[i].name, name) != 0 || !sample_secret_eq(s->users[i].pass, pass))
            continue;
        struct sample_session *ss = &s->sessions[s->next_session++ % SAMPLE_MAX_SESSIONS];
        if (sample_new_session_id(ss->id) < 0) {
            ss->id[0] = '\0';
            app_json_error(t, 503, "no randomness", NULL);
            return;
        }
        ss->user = (int)i;
        ss->expires = ev_wall(s->loop) + SAMPLE_SESSION_TTL;
        struct app_cookie_opts co = { .max_age = SAMPLE_SESSION_TTL, .path = "/",
                                      .http_only = true, .same_site = APP_SAMESITE_LAX };
        app_set_cookie(t, SAMPLE_COOKIE, ss->id, &co);
        json_writer *w = app_json_begin(t);
        json_w_begin_object(w);
        json_w_key(w, "user");
        json_w_string(w, s->users[i].name);
        json_w_end_object(w);
        app_json_end(t, 200);
        return;
    }
    app_json_error(t, 401, "unauthorized", "invalid username or password");
}

/* Hook for /hello: only logged-in users get through. */
static enum app_hook_result sample_require_login(http_txn *t, void *arg)
{
    if (sample_user_of(arg, t) != NULL)
        return APP_HOOK_NEXT;
    http_txn_add_header(t, "WWW-Authenticate", "Cookie realm=\"sampleapp\"");
    app_json_error(t, 401, "unauthorized", "PUT /login first");
    return APP_HOOK_DONE;
}

/* GET /hello */
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

/* POST /hello  {"message": "..."} */
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
        "Accounts and sessions are kept in memory only.  There is no built-in\n"
        "account: without --user or WEAPROUS_SAMPLE_USERS every login fails.\n");
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
        || app_route(a, "POST", "/hello", sample_hello_post, &s) < 0
        || app_hook(a, "/hello", sample_require_login, &s) < 0) {
        log_warnx("routes: %s", app_last_error(a));
        return 1;
    }
    if (app_listen(a, ip, port) < 0) {
        log_warn("listen on %s:%d", ip, port);
        app_free(a);
        return 1;
    }
    log_info("listening on %s:%d; %zu account(s)%s", ip, app_port(a), s.nusers,
             s.nusers ? "" : " - every login will fail (use --user NAME:PASSWORD)");
    int rc = app_run(a);
    app_free(a);
    log_info("stopped");
    return rc < 0 ? 1 : 0;
}
