/* Unit tests of the proxy configuration parser and host matching. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/proxy_conf.h"
#include "tap.h"

static const char assignment[] =
    "host \"192.168.56.103:8080\" {\n"
    "    proxy_pass http://192.168.56.103:9000;\n"
    "}\n"
    "host \"app2.local\" {\n"
    "    proxy_set_header Host $host;\n"
    "    proxy_pass http://192.168.56.210:9002;\n"
    "    proxy_pass http://192.168.56.220:9002;\n"
    "    dist_policy round-robin\n"
    "}\n";

/* Parses text (no DNS unless dns) and returns the model or NULL with err. */
static struct proxy_conf *parse(const char *text, char *err, size_t errlen, int dns)
{
    struct proxy_conf *cfg = NULL;
    /* guard_copy: an over-read past the end of the text faults */
    size_t n = strlen(text);
    char *g = guard_copy(text, n);
    proxy_conf_parse_flags(g, n, "t.conf", dns ? 0 : PROXY_CONF_F_NUMERIC, &cfg,
                           err, errlen);
    guard_free(g, n);
    return cfg;
}

/* Expects a parse error with exactly the message `want`. */
static void parse_fails(const char *text, const char *want)
{
    char err[512];
    struct proxy_conf *cfg = parse(text, err, sizeof err, 0);
    ok(cfg == NULL, "refused: %s", want);
    is_str(err, want, "  message");
    proxy_conf_free(cfg);
}

static void test_assignment(void)
{
    char err[256] = "";
    struct proxy_conf *cfg = parse(assignment, err, sizeof err, 0);
    ok(cfg != NULL, "assignment example parses (%s)", err);
    if (!cfg)
        return;
    is_int(cfg->nblocks, 2, "two host blocks");
    is_str(cfg->blocks[0].names[0].host, "192.168.56.103", "first name host part");
    is_int(cfg->blocks[0].names[0].port, 8080, "first name port");
    is_int(cfg->blocks[0].nservers, 1, "one server in block 1");
    is_str(cfg->blocks[0].servers[0].addr_text, "192.168.56.103:9000", "its address");
    is_str(cfg->blocks[1].names[0].host, "app2.local", "second name");
    is_int(cfg->blocks[1].names[0].port, 0, "no port");
    is_int(cfg->blocks[1].nservers, 2, "pool of two");
    is_str(cfg->blocks[1].servers[1].addr_text, "192.168.56.220:9002", "second server");
    is_int(cfg->blocks[1].set.policy, PROXY_POLICY_ROUND_ROBIN, "round-robin");
    is_int(cfg->blocks[1].set.nheaders, 1, "one header");
    is_str(cfg->blocks[1].set.headers[0].name, "Host", "header name");
    is_str(cfg->blocks[1].set.headers[0].value, "$host", "header value");
    ok(cfg->default_block == NULL, "no default block");
    is_int(cfg->nlisten, 0, "no listen: role default");
    is_int(cfg->blocks[0].servers[0].weight, 1, "weight default 1");
    is_int(cfg->blocks[0].servers[0].max_fails, 1, "max_fails default 1");
    is_int(cfg->blocks[0].servers[0].fail_timeout_ms, 10000, "fail_timeout default 10s");
    ok(!cfg->blocks[0].servers[0].backup, "not backup");
    proxy_conf_free(cfg);
}

static void test_defaults(void)
{
    char err[256] = "";
    struct proxy_conf *cfg = parse("host a { proxy_pass http://127.0.0.1; }", err,
                                   sizeof err, 0);
    ok(cfg != NULL, "minimal block parses (%s)", err);
    if (!cfg)
        return;
    const struct proxy_settings *s = &cfg->blocks[0].set;
    is_str(cfg->blocks[0].servers[0].addr_text, "127.0.0.1:80", "default port 80");
    is_int(s->policy, PROXY_POLICY_ROUND_ROBIN, "policy default");
    is_int(s->connect_timeout_ms, 60000, "connect timeout default");
    is_int(s->read_timeout_ms, 60000, "read timeout default");
    is_int(s->send_timeout_ms, 60000, "send timeout default");
    is_int(s->keepalive, PROXY_DEF_KEEPALIVE, "keepalive default");
    is_int(s->keepalive_timeout_ms, PROXY_DEF_KEEPALIVE_TIMEOUT_MS, "keepalive_timeout default");
    is_int(s->client_max_body_size, 1 << 20, "body size default 1m");
    is_int(s->websocket_timeout_ms, 3600000, "websocket timeout default 1h");
    ok(s->access_log == NULL, "access_log default: role's");
    is_int(cfg->total_buffers_size, PROXY_DEF_TOTAL_BUFFERS, "proxy_total_buffers_size default");
    ok(!s->health.enabled, "health checks off by default");
    is_str(s->health.uri, "/", "health uri default");
    is_int(s->nheaders, 0, "no headers");
    proxy_conf_free(cfg);
}

static const char every[] =
    "# top level defaults\n"
    "listen 127.0.0.1:8081;\n"
    "listen 8082;\n"
    "listen [::1]:8083;\n"
    "status_listen 127.0.0.1:8099;\n"
    "dist_policy least-conn;\n"
    "proxy_connect_timeout 500ms;\n"
    "proxy_read_timeout 1m30s;\n"
    "proxy_send_timeout 7;\n"
    "keepalive 8;\n"
    "keepalive_timeout 3s;\n"
    "client_max_body_size 64m;\n"
    "access_log /tmp/access.log;\n"
    "websocket_timeout 2h;\n"
    "proxy_total_buffers_size 8m;\n"
    "health_check interval=5s rise=3 fall=4 uri=/healthz timeout=2s;\n"
    "proxy_set_header X-Top \"t $scheme\";\n"
    "proxy_pass http://10.0.0.9:9999;\n"
    "host 'a.example' b.example:81 {\n"
    "  proxy_pass http://10.0.0.1:9000 weight=3 max_fails=2 fail_timeout=30s;\n"
    "  proxy_pass http://[::1]:9001 weight=2 max_fails=5 fail_timeout=1s backup;\n"
    "  proxy_set_header X-Real-IP $remote_addr;\n"
    "  proxy_set_header X-F \"${proxy_add_x_forwarded_for} $request_uri\";\n"
    "  proxy_set_header Accept-Encoding \"\";\n"
    "  dist_policy round-robin;\n"
    "  proxy_read_timeout 10s;\n"
    "  keepalive 0;\n"

    "  client_max_body_size 0;\n"
    "  health_check off;\n"
    "  websocket_timeout 30s\n"
    "}\n"
    "host c.example default { dist_policy ip-hash; }\n"
    "host \"default\" { dist_policy random; proxy_pass http://10.0.0.3; }\n";

static void test_every_directive(void)
{
    char err[256] = "";
    struct proxy_conf *cfg = parse(every, err, sizeof err, 0);
    ok(cfg != NULL, "every directive parses (%s)", err);
    if (!cfg)
        return;
    is_int(cfg->nlisten, 3, "three listen");
    is_str(cfg->listen[1].text, "8082", "listen text");
    is_int(cfg->listen[2].addr.ss_family, AF_INET6, "listen [::1] is IPv6");
    ok(cfg->has_status_listen, "status_listen");
    is_int(cfg->total_buffers_size, 8 << 20, "proxy_total_buffers_size 8m");
    const struct proxy_settings *t = &cfg->top;
    is_int(t->policy, PROXY_POLICY_LEAST_CONN, "top policy");
    is_int(t->connect_timeout_ms, 500, "500ms");
    is_int(t->read_timeout_ms, 90000, "1m30s");
    is_int(t->send_timeout_ms, 7000, "bare number = seconds");
    is_int(t->keepalive, 8, "keepalive 8");
    is_int(t->keepalive_timeout_ms, 3000, "keepalive_timeout 3s");
    is_int(t->client_max_body_size, 64 << 20, "64m");
    is_str(t->access_log, "/tmp/access.log", "access_log");
    is_int(t->websocket_timeout_ms, 7200000, "2h");
    ok(t->health.enabled, "health on");
    is_int(t->health.interval_ms, 5000, "interval");
    is_int(t->health.timeout_ms, 2000, "timeout");
    is_int(t->health.rise, 3, "rise");
    is_int(t->health.fall, 4, "fall");
    is_str(t->health.uri, "/healthz", "uri");

    const struct proxy_block *a = &cfg->blocks[0];
    is_int(a->nnames, 2, "two names");
    is_str(a->names[1].host, "b.example", "second name");
    is_int(a->names[1].port, 81, "second name port");
    is_int(a->nservers, 2, "block's own pool, not the top one");
    is_int(a->servers[0].weight, 3, "weight=3");
    is_int(a->servers[0].max_fails, 2, "max_fails=2");
    is_int(a->servers[0].fail_timeout_ms, 30000, "fail_timeout=30s");
    ok(a->servers[1].backup, "backup");
    ok(a->servers[1].weight == 2 && a->servers[1].max_fails == 5 &&
       a->servers[1].fail_timeout_ms == 1000, "all four server parameters on one line");
    is_str(a->servers[1].addr_text, "[::1]:9001", "IPv6 literal");
    is_int(a->set.policy, PROXY_POLICY_ROUND_ROBIN, "override policy");
    is_int(a->set.read_timeout_ms, 10000, "override read timeout");
    is_int(a->set.connect_timeout_ms, 500, "inherited connect timeout");
    is_int(a->set.keepalive, 0, "keepalive 0");
    is_str(a->set.access_log, "/tmp/access.log", "access_log inherited");
    is_int(a->set.client_max_body_size, 0, "unlimited body");
    ok(!a->set.health.enabled, "health_check off");
    is_int(a->set.websocket_timeout_ms, 30000, "ws timeout without ';' before }");
    is_int(a->set.nheaders, 3, "own headers replace inherited ones");
    is_str(a->set.headers[2].value, "", "empty value kept (means: drop)");

    const struct proxy_block *c = &cfg->blocks[1];
    ok(cfg->default_block == c, "default marker");
    is_int(c->set.policy, PROXY_POLICY_IP_HASH, "ip-hash");
    is_int(c->nservers, 1, "top-level pool inherited");
    is_str(c->servers[0].addr_text, "10.0.0.9:9999", "top-level server");
    is_int(c->set.nheaders, 1, "top headers inherited");
    is_str(c->set.headers[0].name, "X-Top", "inherited header");
    ok(c->set.health.enabled, "health inherited");
    is_str(c->set.health.uri, "/healthz", "health uri inherited");
    is_int(c->set.read_timeout_ms, 90000, "read timeout inherited");
    is_str(cfg->blocks[2].names[0].host, "default", "quoted \"default\" is a name");
    is_int(cfg->blocks[2].set.policy, PROXY_POLICY_RANDOM, "random");
    proxy_conf_free(cfg);
}

static void test_errors(void)
{
    parse_fails("host a { proxy_pass http://1.2.3.4 }\nhost a { proxy_pass http://1.2.3.4; }",
                "t.conf:2:1: duplicate host name 'a' (first at line 1)");
    parse_fails("host A.b. { proxy_pass http://1.2.3.4; }\nhost a.B:8080 { proxy_pass "
                "http://1.2.3.4; }\nhost \"a.b\" { proxy_pass http://1.2.3.4; }",
                "t.conf:3:1: duplicate host name 'a.b' (first at line 1)");
    parse_fails("host a {\n  proxy_pass http://1.2.3.4\n}x",
                "t.conf:3:3: expected ';', got end of file");
    parse_fails("host a {\n  proxy_pass http://1.2.3.4;\n",
                "t.conf:3:1: expected '}', got end of file");
    parse_fails("keepalive 3", "t.conf:1:12: expected ';', got end of file");
    parse_fails("keepalive 3 }", "t.conf:1:13: expected ';', got '}'");
    parse_fails("}", "t.conf:1:1: expected a directive or host block, got '}'");
    parse_fails("  ;", "t.conf:1:3: expected a directive or host block, got ';'");
    parse_fails("host { }", "t.conf:1:6: expected a host name, got '{'");
    parse_fails("host a;", "t.conf:1:7: expected a host name or '{', got ';'");
    parse_fails("host a default b {}", "t.conf:1:16: expected '{', got 'b'");
    parse_fails("host a { host b { } }", "t.conf:1:10: host blocks cannot be nested");
    parse_fails("host a { }", "t.conf:1:1: host block without proxy_pass");
    parse_fails("\n\n  frobnicate 1;", "t.conf:3:3: unknown directive 'frobnicate'");
    parse_fails("host a {\n listen 80; }", "t.conf:2:2: listen is only allowed at the top level");
    parse_fails("host a {\n access_log off; }",
                "t.conf:2:2: access_log is only allowed at the top level");
    parse_fails("keepalive { }", "t.conf:1:11: keepalive takes no block");
    parse_fails("keepalive;", "t.conf:1:1: keepalive takes 1 argument, got 0");
    parse_fails("keepalive 1 2;", "t.conf:1:13: keepalive takes 1 argument, got 2");
    /* a missing ';' is named where it is missing, not on the next line */
    parse_fails("listen 127.0.0.1:8080\nhost \"a\" { proxy_pass http://127.0.0.1:9000; }",
                "t.conf:1:22: missing ';' at the end of line 1 (after '127.0.0.1:8080')");
    parse_fails("host \"a\" {\n  proxy_pass http://127.0.0.1:9000\n  dist_policy random;\n}",
                "t.conf:2:35: missing ';' at the end of line 2 (after 'http://127.0.0.1:9000')");
    parse_fails("keepalive -1;", "t.conf:1:11: expected a number from 0 to 4096, got '-1'");
    parse_fails("keepalive 99999;", "t.conf:1:11: expected a number from 0 to 4096, got '99999'");
    parse_fails("proxy_read_timeout 10x;",
                "t.conf:1:20: expected a time (e.g. 500ms, 10s, 1m), got '10x'");
    parse_fails("proxy_read_timeout 30d;",
                "t.conf:1:20: expected a time (e.g. 500ms, 10s, 1m), got '30d'");
    parse_fails("client_max_body_size 10q;", "t.conf:1:22: expected a size (e.g. 512k, "
                "10m, 1g; 0 for no limit), got '10q'");
    parse_fails("dist_policy fastest;", "t.conf:1:13: expected round-robin, least-conn, "
                "random or ip-hash, got 'fastest'");
    parse_fails("proxy_pass https://1.2.3.4;", "t.conf:1:12: https upstreams are not supported");
    parse_fails("proxy_pass ftp://x;", "t.conf:1:12: expected http://HOST[:PORT], got 'ftp://x'");
    parse_fails("proxy_pass http://1.2.3.4:99999;",
                "t.conf:1:12: expected http://HOST[:PORT], got 'http://1.2.3.4:99999'");
    parse_fails("proxy_pass http://1.2.3.4/app;",
                "t.conf:1:26: a URI path in proxy_pass is not supported");
    parse_fails("proxy_pass http://1.2.3.4 weight=0;",
                "t.conf:1:34: expected a number from 1 to 1000, got '0'");
    parse_fails("proxy_pass http://1.2.3.4 fail_timeout=x;",
                "t.conf:1:40: expected a time (e.g. 500ms, 10s, 1m), got 'x'");
    parse_fails("proxy_pass http://1.2.3.4 heavy;",
                "t.conf:1:27: expected weight=, max_fails=, fail_timeout= or backup, got 'heavy'");
    parse_fails("host a { dist_policy ip-hash; proxy_pass http://1.2.3.4 backup; }",
                "t.conf:1:42: backup servers cannot be used with dist_policy ip-hash");
    parse_fails("proxy_pass http://no-such-host.invalid;",
                "t.conf:1:12: cannot resolve 'no-such-host.invalid': Name or service not known");
    parse_fails("proxy_set_header X-A $bogus;",
                "t.conf:1:22: unknown variable $bogus (known: $host $remote_addr "
                "$proxy_add_x_forwarded_for $scheme $request_uri)");
    parse_fails("proxy_set_header X-A \"${host\";", "t.conf:1:22: unclosed ${ in header value");
    parse_fails("proxy_set_header \"X A\" v;", "t.conf:1:18: expected a header field name, got 'X A'");
    parse_fails("proxy_set_header X-A \"a\\nb\";", "t.conf:1:22: control character in header value");
    parse_fails("access_log \"x\n", "t.conf:1:12: unterminated string");
    parse_fails("access_log \"x\\q\";", "t.conf:1:14: unknown escape sequence in string");
    /* no escape for '$': a '$' and a name is always a variable */
    parse_fails("proxy_set_header X \"\\$host\";", "t.conf:1:21: unknown escape sequence in string");
    parse_fails("access_log a\001;", "t.conf:1:13: invalid byte 0x01");
    parse_fails("health_check rise=0;", "t.conf:1:19: expected a number from 1 to 100, got '0'");
    parse_fails("health_check uri=healthz;", "t.conf:1:18: expected a URI starting with /, got 'healthz'");
    parse_fails("health_check speed=1;",
                "t.conf:1:14: expected interval=, timeout=, rise=, fall= or uri=, got 'speed=1'");
    parse_fails("health_check interval=1s timeout=2s;",
                "t.conf:1:1: health_check timeout must not exceed its interval");
    parse_fails("listen 0;", "t.conf:1:8: expected PORT or ADDRESS:PORT, got '0'");
    parse_fails("listen ::1:80;", "t.conf:1:8: expected PORT or ADDRESS:PORT, got '::1:80'");
    parse_fails("status_listen 1; status_listen 2;", "t.conf:1:18: status_listen given twice");
    parse_fails("proxy_total_buffers_size lots;",
                "t.conf:1:26: expected a size (e.g. 16m, 1g; 0 for no budget), got 'lots'");
    parse_fails("host a { proxy_total_buffers_size 1m; proxy_pass http://1.2.3.4; }",
                "t.conf:1:10: proxy_total_buffers_size is only allowed at the top level");
    parse_fails("host a default { proxy_pass http://1.2.3.4; }\nhost b default { proxy_pass http://1.2.3.4; }",
                "t.conf:2:1: a second default host block (first at line 1)");
    parse_fails("host a/b { }", "t.conf:1:6: expected a host name (NAME or NAME:PORT), got 'a/b'");
    parse_fails("host a..b { }", "t.conf:1:6: expected a host name (NAME or NAME:PORT), got 'a..b'");
    parse_fails("host ... { }", "t.conf:1:6: expected a host name (NAME or NAME:PORT), got '...'");
    parse_fails("host a:0 { }", "t.conf:1:6: expected a host name (NAME or NAME:PORT), got 'a:0'");

    /* caps */
    char *big = malloc(PROXY_CONF_MAX_TOKEN + 64);
    memset(big, 'x', PROXY_CONF_MAX_TOKEN + 20);
    memcpy(big, "access_log ", 11);
    strcpy(big + PROXY_CONF_MAX_TOKEN + 20, ";");
    parse_fails(big, "t.conf:1:12: token longer than 4096 bytes");
    free(big);
    char many[256] = "health_check";
    for (int i = 0; i < 17; i++)
        strcat(many, " a");
    strcat(many, ";");
    parse_fails(many, "t.conf:1:46: more than 16 arguments");
    char err[128];
    struct proxy_conf *cfg = (void *)1;
    ok(proxy_conf_parse_string("", PROXY_CONF_MAX_FILE + 1, "huge", &cfg, err, sizeof err) < 0
       && cfg == NULL, "file size cap");
    is_str(err, "huge: file larger than 1048576 bytes", "  message");
}

static void test_caps_servers(void)
{
    size_t cap = 128 + (PROXY_CONF_MAX_SERVERS + 1) * 40;
    char *text = malloc(cap);
    strcpy(text, "host a {\n");
    for (int i = 0; i <= PROXY_CONF_MAX_SERVERS; i++)
        sprintf(text + strlen(text), "proxy_pass http://10.0.%d.%d;\n", i / 200, i % 200 + 1);
    strcat(text, "}\n");
    char want[128];
    snprintf(want, sizeof want, "t.conf:%d:12: more than %d servers in one pool",
             PROXY_CONF_MAX_SERVERS + 2, PROXY_CONF_MAX_SERVERS);
    parse_fails(text, want);
    strcpy(text, "");
    for (int i = 0; i <= PROXY_CONF_MAX_HEADERS; i++)
        sprintf(text + strlen(text), "proxy_set_header X-%d v;\n", i);
    snprintf(want, sizeof want, "t.conf:%d:18: more than %d proxy_set_header here",
             PROXY_CONF_MAX_HEADERS + 1, PROXY_CONF_MAX_HEADERS);
    parse_fails(text, want);
    free(text);
}

static void test_match(void)
{
    char err[256] = "";
    struct proxy_conf *cfg = parse(
        "host \"a.b:8080\" { proxy_pass http://10.0.0.1; }\n"
        "host a.b { proxy_pass http://10.0.0.2; }\n"
        "host x.y:80 [::1]:8080 { proxy_pass http://10.0.0.3; }\n", err, sizeof err, 0);
    ok(cfg != NULL, "matching config parses (%s)", err);
    if (!cfg)
        return;
    const struct proxy_block *b0 = &cfg->blocks[0], *b1 = &cfg->blocks[1], *b2 = &cfg->blocks[2];
#define M(s) proxy_conf_match(cfg, s, strlen(s))
    ok(M("a.b:8080") == b0, "exact host:port");
    ok(M("A.B:8080") == b0, "case-insensitive");
    ok(M("a.b.:8080") == b0, "trailing dot with port");
    ok(M("a.b") == b1, "port-less name, no port");
    ok(M("a.b:9999") == b1, "port-less name matches any port");
    ok(M("a.b.") == b1, "trailing dot");
    ok(M("x.y") == b2, "no port means 80");
    ok(M("x.y:80") == b2, "x.y:80");
    ok(M("x.y:81") == NULL, "other port, no default -> NULL");
    ok(M("[::1]:8080") == b2, "IPv6 literal with port");
    ok(M("[::1]") == NULL, "IPv6 without the port");
    ok(M("zzz") == NULL, "unknown host -> NULL (404)");
    ok(M("a.b:x") == NULL, "malformed port");
    ok(M("") == NULL, "empty Host");
    ok(proxy_conf_match(cfg, "a.bc", 3) == b1, "length respected");
    ok(proxy_conf_match(cfg, NULL, 0) == NULL, "no Host");
    proxy_conf_free(cfg);

    cfg = parse("host a { proxy_pass http://10.0.0.1; }\n"
                "host default { proxy_pass http://10.0.0.2; }", err, sizeof err, 0);
    ok(cfg != NULL, "unnamed default block parses (%s)", err);
    if (cfg) {
        ok(M("unknown") == &cfg->blocks[1], "unknown host -> default");
        ok(M("a:1") == &cfg->blocks[0], "known host still matched");
        ok(M("::::") == &cfg->blocks[1], "garbage -> default");
    }
#undef M
    proxy_conf_free(cfg);
}

static void test_values(void)
{
    uint32_t ms;
    uint64_t sz;
    ok(proxy_conf_parse_time("500ms", 5, &ms) == 0 && ms == 500, "500ms");
    ok(proxy_conf_parse_time("1h", 2, &ms) == 0 && ms == 3600000, "1h");
    ok(proxy_conf_parse_time("1d", 2, &ms) == 0 && ms == 86400000, "1d");
    ok(proxy_conf_parse_time("1m1s1ms", 7, &ms) == 0 && ms == 61001, "1m1s1ms");
    ok(proxy_conf_parse_time("0", 1, &ms) == 0 && ms == 0, "0");
    ok(proxy_conf_parse_time("", 0, &ms) < 0, "empty");
    ok(proxy_conf_parse_time("s", 1, &ms) < 0, "unit alone");
    ok(proxy_conf_parse_time("1.5s", 4, &ms) < 0, "fraction");
    ok(proxy_conf_parse_time("99999999999999999999", 20, &ms) < 0, "overflow");
    ok(proxy_conf_parse_size("512", 3, &sz) == 0 && sz == 512, "512");
    ok(proxy_conf_parse_size("2K", 2, &sz) == 0 && sz == 2048, "2K");
    ok(proxy_conf_parse_size("1g", 2, &sz) == 0 && sz == 1u << 30, "1g");
    ok(proxy_conf_parse_size("k", 1, &sz) < 0, "unit alone");
    ok(proxy_conf_parse_size("2048g", 5, &sz) < 0, "over the cap");
    is_int(proxy_var_lookup("host", 4), PROXY_VAR_HOST, "var host");
    is_int(proxy_var_lookup("hos", 3), PROXY_VAR_NONE, "var prefix is not a var");
}

struct walk { char out[256]; };

static int w_lit(void *arg, const char *s, size_t n)
{
    strncat(((struct walk *)arg)->out, s, n);
    return 0;
}

static int w_var(void *arg, enum proxy_var v)
{
    char tmp[8];
    snprintf(tmp, sizeof tmp, "<%d>", (int)v);
    strcat(((struct walk *)arg)->out, tmp);
    return 0;
}

static void test_template(void)
{
    struct walk w = { "" };
    proxy_template_walk("a $host-${remote_addr}$ $1 x$scheme", w_lit, w_var, &w);
    is_str(w.out, "a <1>-<2>$ $1 x<4>", "template walk");
    w.out[0] = '\0';
    proxy_template_walk("$request_uri", w_lit, w_var, &w);
    is_str(w.out, "<5>", "variable only");
}

static void test_files(void)
{
    char path[] = "/tmp/test_proxy_conf_XXXXXX";
    int fd = mkstemp(path);
    ok(fd >= 0, "temp file");
    if (fd < 0)
        return;
    ssize_t w = write(fd, assignment, sizeof assignment - 1);
    close(fd);
    ok(w == (ssize_t)sizeof assignment - 1, "written");
    struct proxy_conf *cfg = NULL;
    char err[256] = "";
    ok(proxy_conf_load(path, &cfg, err, sizeof err) == 0 && cfg, "load from file (%s)", err);
    proxy_conf_free(cfg);
    unlink(path);
    ok(proxy_conf_load(path, &cfg, err, sizeof err) < 0 && cfg == NULL, "missing file");
    char want[128];
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    is_str(err, want, "  message");
    /* names are resolved at load time */
    cfg = parse("host a { proxy_pass http://localhost:9000; }", err, sizeof err, 1);
    ok(cfg && cfg->blocks[0].nservers >= 1, "localhost resolved (%s)", err);
    if (cfg)
        is_str(cfg->blocks[0].servers[0].name, "localhost:9000", "server name kept");
    proxy_conf_free(cfg);
}

int main(void)
{
    test_assignment();
    test_defaults();
    test_every_directive();
    test_errors();
    test_caps_servers();
    test_match();
    test_values();
    test_template();
    test_files();
    return done_testing();
}
