/*
 * tracker_conf.c - SIGHUP: the tracker re-reads the options that can change
 * while it runs (heart-beat interval, sign-up, advertised addresses, ticket
 * lifetime, failure limits) from its configuration file.
 *
 * The file has the grammar main() reads at start-up: "key value" or
 * "key = value" lines, '#' comments, "[role]" sections, keys outside a
 * section for every role, read by the same role_conf_load().  As at
 * start-up, flags given on the command line win over the file, at every
 * reload.  A file that cannot be
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

void tracker_conf_init(struct tracker *tr, struct role_opts *o)
{
    tr->opts = o;
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
static int conf_options(struct tracker *tr, struct role_opts *fresh, struct tracker_config *c)
{
    const struct role_opts *o = tr->opts;
    for (size_t i = 0; i < o->nkv; i++)
        if (o->kv[i].from_cli &&
            role_set_option(fresh, &role_tracker_def, o->kv[i].key, o->kv[i].val, true) < 0)
            return -1;
    return tracker_options(c, fresh);
}

void tracker_conf_reload(struct tracker *tr)
{
    const char *path = tr->opts->config;
    struct role_opts fresh;
    struct tracker_config c;
    if (!path) {
        log_info("reload: no configuration file (-c FILE): nothing to re-read");
        return;
    }
    memset(&fresh, 0, sizeof(fresh));
    fresh.role = "tracker";
    char *text = role_conf_load(&fresh, &role_tracker_def, path);
    if (!text || conf_options(tr, &fresh, &c) < 0) {
        log_error("reload refused: %s has errors; the options in force stay", path);
        free(text);
        return;
    }
    free(text);   /* c holds values, no pointers into the text */
    int n = conf_log_changes(&tr->cfg, &c);
    bool new_interval = c.heartbeat_ms != tr->cfg.heartbeat_ms;
    /* rl_set_limits cannot fail: tracker_options checked the same ranges. */
    rl_set_limits(tr->limiter, c.rate_max, c.rate_window);
    tr->cfg = c;
    if (new_interval)
        tracker_sweeper_start(tr);   /* peers learn it at their next beat */
    log_info("reload: %s read, %d option%s changed", path, n, n == 1 ? "" : "s");
}
