/*
 * tracker_conf.c - SIGHUP: the tracker re-reads the options that can change
 * while it runs (heart-beat interval, sign-up, advertised addresses, ticket
 * lifetime, failure limits) from its configuration file.
 *
 * The file has the grammar main() reads at start-up: "key value" or
 * "key = value" lines, '#' comments, "[role]" sections, keys outside a
 * section for every role.  As at start-up, flags given on the command line
 * win over the file: at start-up, an option whose value is not the file's
 * came from the command line, and keeps that value at every reload (a flag
 * equal to the file's value counts as the file's).  A file that cannot be
 * read, has an unknown key or a bad value is refused as a whole: the
 * options in force stay.  The listening address, the database and the log
 * files need a restart.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker.h"
#include "weaprous/log.h"

#define TRACKER_CONF_MAX_BYTES (1 << 20)   /* the same caps as at start-up */
#define TRACKER_CONF_LINE_MAX  1024

/* Keys every role accepts (read, but only a restart applies them). */
static const char *const conf_common[] = {
    "server-ip", "server-port", "config", "db", "pid-file", "log-file",
    "access-log", "log-level", "daemon", NULL
};

/* A configuration file as read: options pointing into text. */
struct conf_file {
    char            *text;
    struct role_opts o;
};

static bool conf_in(const char *const *list, const char *key)
{
    for (; list && *list; list++)
        if (strcmp(*list, key) == 0)
            return true;
    return false;
}

/* The whole file, NUL-terminated, or NULL (logged). */
static char *conf_read(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        log_warn("reload: cannot open %s", path);
        return NULL;
    }
    char *text = malloc(TRACKER_CONF_MAX_BYTES + 1);
    size_t n = text ? fread(text, 1, TRACKER_CONF_MAX_BYTES + 1, f) : 0;
    bool err = ferror(f) != 0;
    fclose(f);
    if (!text || err || n > TRACKER_CONF_MAX_BYTES || memchr(text, '\0', n)) {
        log_error("reload: %s: %s", path, !text ? "out of memory" : err ? "read error"
                  : n > TRACKER_CONF_MAX_BYTES ? "larger than 1 MiB" : "NUL byte in a text file");
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* Sets key to val in o (a later setting replaces an earlier one).  0, or
 * -1 when o is full. */
static int conf_set(struct role_opts *o, const char *key, const char *val)
{
    for (size_t i = 0; i < o->nkv; i++) {
        if (strcmp(o->kv[i].key, key) == 0) {
            o->kv[i].val = val;
            return 0;
        }
    }
    if (o->nkv >= ROLE_MAX_KV)
        return -1;
    o->kv[o->nkv].key = key;
    o->kv[o->nkv].val = val;
    o->nkv++;
    return 0;
}

/* One line, trimmed of its comment, line end and surrounding blanks. */
static char *conf_trim(char *p)
{
    p += strspn(p, " \t");
    char *hash = strchr(p, '#');
    if (hash)
        *hash = '\0';
    p[strcspn(p, "\r")] = '\0';
    for (char *e = p + strlen(p); e > p && (e[-1] == ' ' || e[-1] == '\t'); )
        *--e = '\0';
    return p;
}

/* One trimmed, non-empty line into f; *section follows "[name]" lines.
 * 0, or -1 with the reason in *why. */
static int conf_line(struct conf_file *f, char *p, const char **section,
                     const char *const *keys, const char **why)
{
    if (*p == '[') {
        char *end = strchr(p, ']');
        if (!end || end[1]) {
            *why = "malformed section";
            return -1;
        }
        *end = '\0';
        *section = p + 1;
        return 0;
    }
    if ((*section)[0] && strcmp(*section, "tracker") != 0)
        return 0;   /* another role's */
    size_t kl = strcspn(p, " \t=");
    char *v = p + kl + strspn(p + kl, " \t=");
    p[kl] = '\0';
    if (!conf_in(keys, p) && !conf_in(conf_common, p)) {
        *why = "unknown option";
        return -1;
    }
    if (conf_set(&f->o, p, *v ? v : "1") < 0) {
        *why = "too many options";
        return -1;
    }
    return 0;
}

/* Reads and parses path into *f (f->text to free).  0, or -1 (logged). */
static int conf_load(struct conf_file *f, const char *path, const char *const *keys)
{
    const char *section = "", *why = NULL;
    int lineno = 0;
    memset(f, 0, sizeof(*f));
    if (!(f->text = conf_read(path)))
        return -1;
    for (char *line = f->text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        char *p = strlen(line) >= TRACKER_CONF_LINE_MAX ? NULL : conf_trim(line);
        if (!p)
            why = "line too long";
        else if (!*p)
            continue;
        if (why || conf_line(f, p, &section, keys, &why) < 0) {
            log_error("reload: %s:%d: %s", path, lineno, why);
            return -1;
        }
    }
    return 0;
}

int tracker_conf_init(struct tracker *tr, struct role_opts *o, const char *const *keys)
{
    struct conf_file f;
    tr->opts = o;
    tr->keys = keys;
    for (size_t i = 0; i < o->nkv; i++)
        tr->from_flags[i] = true;
    if (!o->config)
        return 0;
    if (conf_load(&f, o->config, keys) < 0) {
        free(f.text);
        return -1;
    }
    for (size_t i = 0; i < o->nkv; i++) {
        const char *in_file = role_opt(&f.o, o->kv[i].key, NULL);
        tr->from_flags[i] = !in_file || strcmp(in_file, o->kv[i].val) != 0;
    }
    free(f.text);
    return 0;
}

/* ---- what changed ---- */

enum conf_unit { CONF_MS, CONF_S, CONF_COUNT, CONF_FLAG };

static const struct {
    const char    *name;
    size_t         off;
    enum conf_unit unit;
} conf_fields[] = {
    { "heartbeat-interval", offsetof(struct tracker_config, heartbeat_ms), CONF_MS },
    { "ticket-ttl", offsetof(struct tracker_config, ticket_ttl), CONF_S },
    { "login-max-failures", offsetof(struct tracker_config, rate_max), CONF_COUNT },
    { "login-window", offsetof(struct tracker_config, rate_window), CONF_S },
    { "allow-signup", offsetof(struct tracker_config, allow_signup), CONF_FLAG },
    { "allow-advertised-addr", offsetof(struct tracker_config, allow_advertised), CONF_FLAG },
};

/* Field i of c as text: "10000 ms", "60 s", "5", "on". */
static void conf_show(const struct tracker_config *c, size_t i, char *out, size_t cap)
{
    const char *p = (const char *)c + conf_fields[i].off;
    unsigned v = 0;
    if (conf_fields[i].unit == CONF_FLAG) {
        snprintf(out, cap, "%s", *(const bool *)p ? "on" : "off");
        return;
    }
    memcpy(&v, p, sizeof(v));
    snprintf(out, cap, "%u%s", v, conf_fields[i].unit == CONF_MS ? " ms"
             : conf_fields[i].unit == CONF_S ? " s" : "");
}

/* Logs each option that differs between old and new; returns how many. */
static int conf_log_changes(const struct tracker_config *old, const struct tracker_config *new)
{
    int n = 0;
    for (size_t i = 0; i < sizeof(conf_fields) / sizeof(conf_fields[0]); i++) {
        char a[32], b[32];
        conf_show(old, i, a, sizeof(a));
        conf_show(new, i, b, sizeof(b));
        if (strcmp(a, b) != 0) {
            log_info("reload: %s %s -> %s", conf_fields[i].name, a, b);
            n++;
        }
    }
    return n;
}

/* The options of the file, then the command line's over them: 0 with *c
 * filled, or -1 (logged). */
static int conf_options(struct tracker *tr, struct conf_file *f, struct tracker_config *c)
{
    const struct role_opts *o = tr->opts;
    for (size_t i = 0; i < o->nkv; i++) {
        if (tr->from_flags[i] && conf_set(&f->o, o->kv[i].key, o->kv[i].val) < 0) {
            log_error("reload: too many options");
            return -1;
        }
    }
    return tracker_options(c, &f->o);
}

void tracker_conf_reload(struct tracker *tr)
{
    const char *path = tr->opts->config;
    struct conf_file f;
    struct tracker_config c;
    if (!path) {
        log_info("reload: no configuration file (-c FILE): nothing to re-read");
        return;
    }
    if (conf_load(&f, path, tr->keys) < 0 || conf_options(tr, &f, &c) < 0) {
        log_error("reload refused: %s has errors; the options in force stay", path);
        free(f.text);
        return;
    }
    free(f.text);   /* c holds values, no pointers into the text */
    int n = conf_log_changes(&tr->cfg, &c);
    bool new_interval = c.heartbeat_ms != tr->cfg.heartbeat_ms;
    /* rl_set_limits cannot fail: tracker_options checked the same ranges. */
    rl_set_limits(tr->limiter, c.rate_max, c.rate_window);
    tr->cfg = c;
    if (new_interval)
        tracker_sweeper_start(tr);   /* peers learn it at their next beat */
    log_info("reload: %s read, %d option%s changed", path, n, n == 1 ? "" : "s");
}
