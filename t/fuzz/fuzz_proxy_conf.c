/* fuzz-sources: src/proxy/proxy_conf.c */
/*
 * libFuzzer harness for the proxy configuration parser: any byte string is
 * parsed from memory (no DNS: names must be IP literals, so a run never waits
 * on a resolver); a success is then exercised through host matching and
 * template walking, and everything is freed (LeakSanitizer checks that).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proxy/proxy_conf.h"

static int fz_lit(void *arg, const char *s, size_t n)
{
    *(size_t *)arg += n + (n ? (unsigned char)s[n - 1] : 0);
    return 0;
}

static int fz_var(void *arg, enum proxy_var v)
{
    *(size_t *)arg += (size_t)v;
    return v == PROXY_VAR_NONE;   /* validated templates never reach this */
}

static void fz_exercise(const struct proxy_conf *cfg, const uint8_t *data, size_t size)
{
    size_t sink = 0;
    for (size_t b = 0; b < cfg->nblocks; b++) {
        const struct proxy_block *blk = &cfg->blocks[b];
        for (size_t i = 0; i < blk->nnames; i++) {
            char h[PROXY_CONF_MAX_TOKEN + 16];
            int n = snprintf(h, sizeof h, "%s:%u", blk->names[i].host,
                             blk->names[i].port ? blk->names[i].port : 80);
            /* a block's own name must find a block with that name */
            const struct proxy_block *m = proxy_conf_match(cfg, h, (size_t)n);
            if (m == NULL || (m != blk && blk->names[i].port != 0))
                __builtin_trap();
        }
        for (size_t i = 0; i < blk->set.nheaders; i++)
            if (proxy_template_walk(blk->set.headers[i].value, fz_lit, fz_var, &sink))
                __builtin_trap();
    }
    /* the input itself as a Host value, in pieces */
    for (size_t n = 0; n <= size && n < 64; n++)
        (void)proxy_conf_match(cfg, (const char *)data, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_conf *cfg = NULL;
    char err[256];
    if (proxy_conf_parse_flags((const char *)data, size, "fuzz", PROXY_CONF_F_NUMERIC,
                               &cfg, err, sizeof err) == 0) {
        fz_exercise(cfg, data, size);
        proxy_conf_free(cfg);
    } else if (cfg != NULL || err[0] == '\0') {
        __builtin_trap();   /* a failure must leave nothing and say why */
    }
    return 0;
}
