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
#include "user_role.h"
#include "weaprous/ev.h"
#include "weaprous/log.h"


static const struct role_def *const roles[] = {
    &role_backend_def,
    &role_proxy_def,
    &role_tracker_def,
    &role_peer_def,
    &role_demo_def,
};

/* Common flags that take a value: long name, short name. */
static const struct { const char *name; char shrt; } common_value_flags[] = {
    { "server-ip", 0 }, { "server-port", 0 }, { "config", 'c' }, { "db", 0 },
    { "pid-file", 0 }, { "log-file", 0 }, { "access-log", 0 }, { "log-level", 0 },
    { "user", 0 },
};

/* Common flags without a value. */
static const char *const common_flags[] = { "daemon", "allow-root", NULL };

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
        "  --user NAME           switch to this account once listening (as root)\n"
        "  --allow-root          run as root without --user (refused otherwise)\n"
        "  -t                    check the configuration and exit\n"
        "  -h, --help            this help;  --version  the version\n"
        "durations take nginx's units: 500ms, 10 (seconds), 10s, 5m, 2h, 7d;\n"
        "sizes 64k, 1m, 1g.  `weaprous ROLE --help` lists each role's own options.\n");
}

static const struct role_def *find_role(const char *name)
{
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strcmp(roles[i]->name, name) == 0)
            return roles[i];
    return NULL;
}




static const char *short_to_long(char c)
{
    for (size_t i = 0; i < sizeof(common_value_flags) / sizeof(common_value_flags[0]); i++)
        if (common_value_flags[i].shrt == c)
            return common_value_flags[i].name;
    return NULL;
}

static bool in_list(const char *const *list, const char *key)
{
    for (; list && *list; list++)
        if (strcmp(*list, key) == 0)
            return true;
    return false;
}

/* 1 when the option takes a value, 0 for a flag, -1 when the role knows
 * no such option. */
static int takes_value(const struct role_def *r, const char *key)
{
    for (size_t i = 0; i < sizeof(common_value_flags) / sizeof(common_value_flags[0]); i++)
        if (strcmp(common_value_flags[i].name, key) == 0)
            return 1;
    if (in_list(common_flags, key) || in_list(r->flags, key))
        return 0;
    return in_list(r->keys, key) ? 1 : -1;
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
        }
        int kind = takes_value(r, key);
        if (kind < 0) {
            fprintf(stderr, "weaprous %s: unknown option '%s' (weaprous %s --help lists"
                    " them)\n", r->name, a, r->name);
            return -1;
        }
        if (!val && kind == 1) {
            if (i + 1 >= argc) {
                fprintf(stderr, "weaprous %s: option '%s' needs a value\n", r->name, a);
                return -1;
            }
            val = argv[++i];
        } else if (!val) {
            val = "1";
        }
        if (role_set_option(o, r, key, val, true) < 0)
            return -1;
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
    if (o.config && !r->own_config && !(conf_text = role_conf_load(&o, r, o.config)))
        return 1;
    int rc = parse_args(&o, r, argc, argv) < 0 ? 2 : r->run(&o);
    free(conf_text);
    return rc;
}
