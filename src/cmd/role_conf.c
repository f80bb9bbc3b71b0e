/*
 * role_conf.c - options of a role: the common flags of DESIGN.md section 4,
 * the role's own, and the configuration file that sets them.
 *
 * The file: "key value" (or "key = value") lines whose keys are the long
 * option names, '#' comments, "[role]" sections for one role's settings;
 * keys before any section apply to every role.  main() reads it before the
 * command line, so flags win; a role that reloads on SIGHUP reads it again
 * with the same function and keeps the values that came from flags.
 */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "role.h"
#include "weaprous/log.h"

#define CONF_LINE_MAX  1024
#define CONF_MAX_BYTES (1 << 20)

static bool in_list(const char *const *list, const char *key)
{
    for (; list && *list; list++)
        if (strcmp(*list, key) == 0)
            return true;
    return false;
}

/* `where` prefixes every message: "weaprous backend" for a flag,
 * "FILE:LINE" for a line of the configuration file. */
static int set_common(struct role_opts *o, const char *key, const char *val, const char *where)
{
    if (strcmp(key, "server-ip") == 0) o->ip = val;
    else if (strcmp(key, "server-port") == 0) {
        char *end;
        long p = strtol(val, &end, 10);
        if (*end || p < 0 || p > 65535) {
            log_error("%s: bad port '%s'", where, val);
            return -1;
        }
        o->port = (int)p;
        o->port_given = true;
    }
    else if (strcmp(key, "config") == 0) o->config = val;
    else if (strcmp(key, "db") == 0) o->db = val;
    else if (strcmp(key, "pid-file") == 0) o->pid_file = val;
    else if (strcmp(key, "log-file") == 0) o->log_file = val;
    else if (strcmp(key, "access-log") == 0) o->access_log = val;
    else if (strcmp(key, "log-level") == 0) {
        if ((o->log_level = log_level_parse(val)) < 0) {
            log_error("%s: unknown log level '%s'", where, val);
            return -1;
        }
    }
    else if (strcmp(key, "daemon") == 0) o->daemon = strcmp(val, "0") && strcmp(val, "off");
    else if (strcmp(key, "user") == 0) o->user = val;
    else if (strcmp(key, "allow-root") == 0)
        o->allow_root = strcmp(val, "0") && strcmp(val, "off");
    else return 1;
    return 0;
}

static int set_option_at(struct role_opts *o, const struct role_def *r, const char *key,
                         const char *val, bool from_cli, const char *where)
{
    int rc = set_common(o, key, val, where);
    if (rc <= 0)
        return rc;
    if (!in_list(r->keys, key)) {
        log_error("%s: unknown option '%s'", where, key);
        return -1;
    }
    for (size_t i = 0; i < o->nkv; i++) {
        if (strcmp(o->kv[i].key, key) == 0) {
            o->kv[i].val = val;
            o->kv[i].from_cli = from_cli;
            return 0;
        }
    }
    if (o->nkv >= ROLE_MAX_KV) {
        log_error("%s: more than %d options", where, ROLE_MAX_KV);
        return -1;
    }
    o->kv[o->nkv].key = key;
    o->kv[o->nkv].val = val;
    o->kv[o->nkv].from_cli = from_cli;
    o->nkv++;
    return 0;
}

/* A role option or a common one; a later setting replaces an earlier one
 * (the file is read first, so flags win). */
int role_set_option(struct role_opts *o, const struct role_def *r,
                    const char *key, const char *val, bool from_cli)
{
    char where[64];
    snprintf(where, sizeof(where), "weaprous %s", r->name);
    return set_option_at(o, r, key, val, from_cli, where);
}

/* Reads the whole file (at most CONF_MAX_BYTES) into one NUL-terminated
 * buffer; the options point into it. */
static char *read_config(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        log_error("weaprous: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = malloc(CONF_MAX_BYTES + 1);
    size_t n = text ? fread(text, 1, CONF_MAX_BYTES + 1, f) : 0;
    bool err = ferror(f) != 0;
    fclose(f);
    if (!text || err || n > CONF_MAX_BYTES) {
        log_error("weaprous: %s: %s", path, !text ? "out of memory"
                : err ? "read error" : "file larger than 1 MiB");
        free(text);
        return NULL;
    }
    text[n] = '\0';
    if (memchr(text, '\0', n)) {
        log_error("weaprous: %s: NUL byte in a text file", path);
        free(text);
        return NULL;
    }
    return text;
}

/* Trims one line in place: comment, line end and surrounding blanks. */
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

/* Configuration file: "key value" lines (or "key = value"), '#' comments,
 * "[role]" sections; keys outside a section apply to every role.  Keys are
 * the long option names. */
static int load_config(struct role_opts *o, const struct role_def *r,
                       const char *path, char *text)
{
    const char *section = "";
    int lineno = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        if (strlen(line) >= CONF_LINE_MAX) {
            log_error("%s:%d: line too long", path, lineno);
            return -1;
        }
        char *p = conf_trim(line);
        if (!*p)
            continue;
        if (*p == '[') {
            char *end = strchr(p, ']');
            if (!end || end[1]) {
                log_error("%s:%d: malformed section", path, lineno);
                return -1;
            }
            *end = '\0';
            section = p + 1;
            continue;
        }
        if (section[0] && strcmp(section, r->name) != 0)
            continue;
        size_t kl = strcspn(p, " \t=");
        char *v = p + kl + strspn(p + kl, " \t=");
        p[kl] = '\0';
        char where[CONF_LINE_MAX];
        snprintf(where, sizeof(where), "%.900s:%d", path, lineno);
        if (set_option_at(o, r, p, *v ? v : "1", false, where) < 0)
            return -1;
    }
    return 0;
}

char *role_conf_load(struct role_opts *o, const struct role_def *r, const char *path)
{
    char *text = read_config(path);
    if (text && load_config(o, r, path, text) < 0) {
        free(text);
        return NULL;
    }
    return text;
}

int role_check_db(const char *path)
{
    if (access(path, F_OK) == 0)
        return 1;
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", path);
    const char *d = dirname(dir);
    if (access(d, W_OK | X_OK) != 0) {
        log_error("database %s: cannot be created in %s: %s", path, d, strerror(errno));
        return -1;
    }
    return 0;
}
