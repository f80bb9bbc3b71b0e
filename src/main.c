/*
 * main.c - `weaprous ROLE [options]`: parses the common flags of DESIGN.md
 * section 4 and the role's own, merges the configuration file, and runs
 * the role.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "role.h"
#include "role_user.h"
#include "weaprous/ev.h"
#include "weaprous/log.h"

#define CONF_LINE_MAX 1024
#define CONF_MAX_BYTES (1 << 20)

static const struct role_def *const roles[] = {
    &role_backend_def,
    &role_proxy_def,
    &role_tracker_def,
    &role_demo_def,
};

/* Common flags that take a value: long name, short name. */
static const struct { const char *name; char shrt; } common_value_flags[] = {
    { "server-ip", 0 }, { "server-port", 0 }, { "config", 'c' }, { "db", 0 },
    { "pid-file", 0 }, { "log-file", 0 }, { "access-log", 0 }, { "log-level", 0 },
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: weaprous ROLE [options]\n"
        "roles:\n");
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        fprintf(f, "  %-10s (default port %d)\n", roles[i]->name, roles[i]->default_port);
    fprintf(f,
        "  user       manage accounts: user add|passwd|del|list|disable|enable [--db FILE] [NAME]\n"
        "  version    print the version\n"
        "common options:\n"
        "  --server-ip IP        address to bind (default 0.0.0.0)\n"
        "  --server-port N       port to listen on (role's default)\n"
        "  -c, --config FILE     configuration file (flags win over it)\n"
        "  --db FILE             SQLite database\n"
        "  -d, --daemon          detach and run in the background\n"
        "  --pid-file FILE       write the process id there\n"
        "  --log-file FILE       error log (default: stderr)\n"
        "  --access-log FILE     access log, nginx combined format (\"-\": stdout)\n"
        "  --log-level LEVEL     error, warn, info (default) or debug\n"
        "  -t                    check the configuration and exit\n"
        "  -h, --help            this help;  --version  the version\n");
}

static const struct role_def *find_role(const char *name)
{
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strcmp(roles[i]->name, name) == 0)
            return roles[i];
    return NULL;
}

static bool in_list(const char *const *list, const char *key)
{
    for (; list && *list; list++)
        if (strcmp(*list, key) == 0)
            return true;
    return false;
}

static int set_common(struct role_opts *o, const char *key, const char *val)
{
    if (strcmp(key, "server-ip") == 0) o->ip = val;
    else if (strcmp(key, "server-port") == 0) {
        char *end;
        long p = strtol(val, &end, 10);
        if (*end || p < 0 || p > 65535) {
            fprintf(stderr, "weaprous: bad port '%s'\n", val);
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
            fprintf(stderr, "weaprous: unknown log level '%s'\n", val);
            return -1;
        }
    }
    else if (strcmp(key, "daemon") == 0) o->daemon = strcmp(val, "0") && strcmp(val, "off");
    else return 1;
    return 0;
}

/* A role option or a common one; a later setting replaces an earlier one
 * (the file is read first, so flags win). */
static int set_option(struct role_opts *o, const struct role_def *r,
                      const char *key, const char *val)
{
    int rc = set_common(o, key, val);
    if (rc <= 0)
        return rc;
    if (!in_list(r->keys, key)) {
        fprintf(stderr, "weaprous %s: unknown option '%s'\n", r->name, key);
        return -1;
    }
    for (size_t i = 0; i < o->nkv; i++) {
        if (strcmp(o->kv[i].key, key) == 0) {
            o->kv[i].val = val;
            return 0;
        }
    }
    if (o->nkv >= ROLE_MAX_KV) {
        fprintf(stderr, "weaprous: too many options\n");
        return -1;
    }
    o->kv[o->nkv].key = key;
    o->kv[o->nkv].val = val;
    o->nkv++;
    return 0;
}

static const char *short_to_long(char c)
{
    for (size_t i = 0; i < sizeof(common_value_flags) / sizeof(common_value_flags[0]); i++)
        if (common_value_flags[i].shrt == c)
            return common_value_flags[i].name;
    return NULL;
}

static bool takes_value(const struct role_def *r, const char *key)
{
    for (size_t i = 0; i < sizeof(common_value_flags) / sizeof(common_value_flags[0]); i++)
        if (strcmp(common_value_flags[i].name, key) == 0)
            return true;
    return !in_list(r->flags, key) && strcmp(key, "daemon") != 0;
}

static int parse_args(struct role_opts *o, const struct role_def *r, int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *key, *val = NULL;
        char *eq;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            printf("%s options:\n%s", r->name, r->help);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("weaprous %s (%s)\n", PACKAGE_VERSION, ev_backend_name());
            exit(0);
        }
        if (strcmp(a, "-t") == 0) { o->check_only = true; continue; }
        if (strcmp(a, "-d") == 0) { o->daemon = true; continue; }
        if (a[0] == '-' && a[1] && a[1] != '-' && !a[2] && short_to_long(a[1]))
            key = short_to_long(a[1]);
        else if (strncmp(a, "--", 2) == 0 && a[2])
            key = a + 2;
        else {
            fprintf(stderr, "weaprous %s: unexpected argument '%s' (see --help)\n", r->name, a);
            return -1;
        }
        if ((eq = strchr(key, '=')) != NULL) {
            *eq = '\0';
            val = eq + 1;
        } else if (takes_value(r, key)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "weaprous %s: option '%s' needs a value\n", r->name, a);
                return -1;
            }
            val = argv[++i];
        } else {
            val = "1";
        }
        if (set_option(o, r, key, val) < 0)
            return -1;
    }
    return 0;
}

/* Reads the whole file (at most CONF_MAX_BYTES) into one NUL-terminated
 * buffer; the options point into it, so it lives until main() returns. */
static char *read_config(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "weaprous: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *text = malloc(CONF_MAX_BYTES + 1);
    size_t n = text ? fread(text, 1, CONF_MAX_BYTES + 1, f) : 0;
    bool err = ferror(f) != 0;
    fclose(f);
    if (!text || err || n > CONF_MAX_BYTES) {
        fprintf(stderr, "weaprous: %s: %s\n", path, !text ? "out of memory"
                : err ? "read error" : "file larger than 1 MiB");
        free(text);
        return NULL;
    }
    text[n] = '\0';
    if (memchr(text, '\0', n)) {
        fprintf(stderr, "weaprous: %s: NUL byte in a text file\n", path);
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
            fprintf(stderr, "%s:%d: line too long\n", path, lineno);
            return -1;
        }
        char *p = conf_trim(line);
        if (!*p)
            continue;
        if (*p == '[') {
            char *end = strchr(p, ']');
            if (!end || end[1]) {
                fprintf(stderr, "%s:%d: malformed section\n", path, lineno);
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
        if (set_option(o, r, p, *v ? v : "1") < 0) {
            fprintf(stderr, "%s:%d: in this line\n", path, lineno);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("weaprous %s (reactor: %s)\n", PACKAGE_VERSION, ev_backend_name());
        return 0;
    }
    if (strcmp(argv[1], "user") == 0)
        return role_user_main(argc - 1, argv + 1);
    const struct role_def *r = find_role(argv[1]);
    if (!r) {
        fprintf(stderr, "weaprous: unknown role '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    struct role_opts o;
    memset(&o, 0, sizeof(o));
    o.role = r->name;
    o.port = r->default_port;
    o.log_level = LOG_LVL_INFO;
    /* The file first, so that flags win over it. */
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            o.config = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            o.config = argv[i] + 9;
    }
    char *conf_text = NULL;
    if (o.config && !r->own_config && (!(conf_text = read_config(o.config)) ||
                     load_config(&o, r, o.config, conf_text) < 0)) {
        free(conf_text);
        return 1;
    }
    int rc = parse_args(&o, r, argc, argv) < 0 ? 2 : r->run(&o);
    free(conf_text);
    return rc;
}
