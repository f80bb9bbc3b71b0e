/*
 * proxy_status.c - GET /__status on the admin listener (status_listen):
 * every pool and server with its state, active requests, failures and idle
 * connections, as JSON.  Any other path is 404; methods other than GET and
 * HEAD are 405.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "proxy.h"

/* Host names and addresses are validated at load time (letters, digits,
 * '.', '-', '_', ':', '[', ']'), so they need no JSON escaping. */
static const char *peer_state(const struct proxy_peer *pe, uint64_t now)
{
    if (pe->health_down)
        return "down (health check)";
    if (now < pe->down_until_ms)
        return "down (failures)";
    return "up";
}

static void status_peer(http_txn *t, const struct proxy_peer *pe, uint64_t now, bool last)
{
    http_txn_printf(t, "        {\"server\": \"%s\", \"address\": \"%s\", \"state\": \"%s\", "
                    "\"backup\": %s, \"weight\": %u, \"active\": %u, \"requests\": %llu, "
                    "\"failures\": %llu, \"down_for_ms\": %llu}%s\n",
                    pe->conf->name, pe->conf->addr_text, peer_state(pe, now),
                    pe->conf->backup ? "true" : "false", pe->conf->weight, pe->active,
                    (unsigned long long)pe->requests, (unsigned long long)pe->failures,
                    (unsigned long long)(now < pe->down_until_ms ? pe->down_until_ms - now : 0),
                    last ? "" : ",");
}

static void status_pool(http_txn *t, const struct proxy_pool *p, uint64_t now, bool last)
{
    const struct proxy_block *b = p->block;
    http_txn_printf(t, "    {\"names\": [");
    for (size_t i = 0; i < b->nnames; i++) {
        if (b->names[i].port)
            http_txn_printf(t, "%s\"%s:%u\"", i ? ", " : "", b->names[i].host, b->names[i].port);
        else
            http_txn_printf(t, "%s\"%s\"", i ? ", " : "", b->names[i].host);
    }
    http_txn_printf(t, "], \"default\": %s, \"policy\": \"%s\", \"idle_connections\": %zu, "
                    "\"health_check\": %s,\n      \"servers\": [\n",
                    b->is_default ? "true" : "false", proxy_policy_name(b->set.policy),
                    p->nidle, b->set.health.enabled ? "true" : "false");
    for (size_t i = 0; i < p->npeers; i++)
        status_peer(t, &p->peers[i], now, i + 1 == p->npeers);
    http_txn_printf(t, "      ]}%s\n", last ? "" : ",");
}

/* The configuration path is the one string not validated at load time. */
static void json_path(char *out, size_t n, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, n - o, "\\%c", c);
        else if (c < 0x20)
            o += (size_t)snprintf(out + o, n - o, "\\u%04x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

void proxy_status_handle(http_txn *t, void *arg)
{
    struct proxy_ctx *ctx = arg;
    enum http_method m = http_txn_method(t);
    if (strcmp(http_txn_path(t), "/__status") != 0) {
        http_txn_error(t, 404);
        return;
    }
    if (m != HTTP_M_GET && m != HTTP_M_HEAD) {
        http_txn_add_header(t, "Allow", "GET, HEAD");
        http_txn_error(t, 405);
        return;
    }
    uint64_t now = ev_now_ms(ctx->loop);
    const struct proxy_stats *s = &ctx->stats;
    struct http_server_stats cs = { 0 };
    if (ctx->clients)
        http_server_get_stats(ctx->clients, &cs);
    char path[1024];
    json_path(path, sizeof path, ctx->conf_path);
    http_txn_add_header(t, "Content-Type", "application/json");
    http_txn_add_header(t, "Cache-Control", "no-store");
    http_txn_printf(t, "{\"config\": \"%s\", \"generation\": %llu, \"uptime_ms\": %llu,\n"
                    "  \"requests\": %llu, \"errors_502\": %llu, \"errors_504\": %llu, "
                    "\"retries\": %llu, \"tunnels\": %llu, \"tunnels_active\": %u, "
                    "\"reloads\": %llu,\n  \"buffered_bytes\": %zu, "
                    "\"total_buffers_size\": %llu,\n  \"pools\": [\n",
                    path, (unsigned long long)ctx->generation,
                    (unsigned long long)(now - ctx->started_ms),
                    (unsigned long long)s->requests, (unsigned long long)s->errors_502,
                    (unsigned long long)s->errors_504, (unsigned long long)s->retries,
                    (unsigned long long)s->tunnels, s->tunnels_active,
                    (unsigned long long)s->reloads, cs.out_queued,
                    (unsigned long long)ctx->rt->cfg->total_buffers_size);
    for (size_t i = 0; i < ctx->rt->npools; i++)
        status_pool(t, &ctx->rt->pools[i], now, i + 1 == ctx->rt->npools);
    http_txn_printf(t, "  ]}\n");
    http_txn_finish(t);
}
