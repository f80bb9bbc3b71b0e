/*
 * proxy_conf.c - lexer, recursive-descent parser and host matching for the
 * proxy configuration.  See proxy_conf.h for the grammar.
 *
 * Everything the parser allocates hangs off the struct proxy_conf being
 * built, so a single proxy_conf_free() releases a half-built model on error.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy_conf.h"

/* ------------------------------------------------------------------ */
/* Lexer                                                                */

enum tok_kind { TOK_EOF, TOK_WORD, TOK_LBRACE, TOK_RBRACE, TOK_SEMI, TOK_ERROR };

struct token {
    enum tok_kind kind;
    bool     quoted;
    unsigned line, col;
    size_t   len;
    char     text[PROXY_CONF_MAX_TOKEN + 1];
};

struct lexer {
    const char *p, *end;
    unsigned line, col;
};

/* One argument of a directive, copied out of the token. */
struct arg {
    char    *s;
    size_t   len;
    bool     quoted;
    unsigned line, col;
};

struct parser {
    struct lexer lx;
    struct token tok;
    const char  *file;
    unsigned     flags;
    char        *err;
    size_t       errlen;
    bool         failed;
    struct proxy_conf *cfg;
    struct proxy_server *top_servers;   /* top-level proxy_pass pool */
    size_t       ntop_servers;
    struct arg   args[PROXY_CONF_MAX_ARGS + 1];
    size_t       nargs;
    char         argbuf[PROXY_CONF_MAX_ARGS + 1][PROXY_CONF_MAX_TOKEN + 1];
};

static int conf_error(struct parser *ps, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the first error only: later ones are consequences of it. */
static int conf_error(struct parser *ps, unsigned line, unsigned col, const char *fmt, ...)
{
    if (ps->failed)
        return -1;
    ps->failed = true;
    int n = 0;
    if (line)
        n = snprintf(ps->err, ps->errlen, "%s:%u:%u: ", ps->file, line, col);
    else
        n = snprintf(ps->err, ps->errlen, "%s: ", ps->file);
    if (n >= 0 && (size_t)n < ps->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void lex_advance(struct lexer *lx)
{
    if (*lx->p == '\n') {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
    lx->p++;
}

/* Bytes a configuration may contain outside strings and inside them:
 * printable ASCII, UTF-8 (>= 0x80), tab, CR, LF. */
static bool lex_byte_ok(unsigned char c)
{
    return c >= 0x20 ? c != 0x7f : (c == '\t' || c == '\n' || c == '\r');
}

static void lex_skip_space(struct lexer *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            lex_advance(lx);
        } else if (c == '#') {
            while (lx->p < lx->end && *lx->p != '\n')
                lex_advance(lx);
        } else {
            break;
        }
    }
}

static int lex_put(struct parser *ps, char c)
{
    struct token *t = &ps->tok;
    if (t->len >= PROXY_CONF_MAX_TOKEN)
        return conf_error(ps, t->line, t->col, "token longer than %u bytes",
                          PROXY_CONF_MAX_TOKEN);
    t->text[t->len++] = c;
    return 0;
}

static int lex_escape(char c)
{
    switch (c) {
    case '"':  return '"';
    case '\'': return '\'';
    case '\\': return '\\';
    case 'n':  return '\n';
    case 't':  return '\t';
    case 'r':  return '\r';
    default:   return -1;
    }
}

/* A quoted string; the opening quote is at lx->p. */
static int lex_string(struct parser *ps)
{
    struct lexer *lx = &ps->lx;
    char q = *lx->p;
    lex_advance(lx);
    ps->tok.quoted = true;
    while (lx->p < lx->end && *lx->p != q) {
        unsigned char c = (unsigned char)*lx->p;
        if (!lex_byte_ok(c))
            return conf_error(ps, lx->line, lx->col, "invalid byte 0x%02x", c);
        if (c == '\\') {
            unsigned l = lx->line, col = lx->col;
            lex_advance(lx);
            int e = lx->p < lx->end ? lex_escape(*lx->p) : -1;
            if (e < 0)
                return conf_error(ps, l, col, "unknown escape sequence in string");
            c = (unsigned char)e;
        }
        if (lex_put(ps, (char)c) < 0)
            return -1;
        lex_advance(lx);
    }
    if (lx->p >= lx->end)
        return conf_error(ps, ps->tok.line, ps->tok.col, "unterminated string");
    lex_advance(lx);
    return 0;
}

static bool lex_is_delim(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';'
        || c == '{' || c == '}' || c == '"' || c == '\'';
}

static int lex_word(struct parser *ps)
{
    struct lexer *lx = &ps->lx;
    while (lx->p < lx->end && !lex_is_delim(*lx->p)) {
        unsigned char c = (unsigned char)*lx->p;
        if (!lex_byte_ok(c))
            return conf_error(ps, lx->line, lx->col, "invalid byte 0x%02x", c);
        if (lex_put(ps, (char)c) < 0)
            return -1;
        lex_advance(lx);
    }
    return 0;
}

/* Reads the next token into ps->tok.  Returns its kind (TOK_ERROR with the
 * message recorded). */
static enum tok_kind lex_next(struct parser *ps)
{
    struct lexer *lx = &ps->lx;
    struct token *t = &ps->tok;
    lex_skip_space(lx);
    t->line = lx->line;
    t->col = lx->col;
    t->len = 0;
    t->quoted = false;
    t->kind = TOK_EOF;
    if (lx->p < lx->end) {
        char c = *lx->p;
        int rc = 0;
        if (c == '{' || c == '}' || c == ';') {
            t->kind = c == '{' ? TOK_LBRACE : c == '}' ? TOK_RBRACE : TOK_SEMI;
            t->text[t->len++] = c;
            lex_advance(lx);
        } else {
            t->kind = TOK_WORD;
            rc = (c == '"' || c == '\'') ? lex_string(ps) : lex_word(ps);
        }
        if (rc < 0)
            t->kind = TOK_ERROR;
    }
    t->text[t->len] = '\0';
    return t->kind;
}

/* Describes the current token for "expected X, got Y" messages. */
static const char *tok_describe(const struct token *t, char *out, size_t n)
{
    switch (t->kind) {
    case TOK_EOF:    return "end of file";
    case TOK_LBRACE: return "'{'";
    case TOK_RBRACE: return "'}'";
    case TOK_SEMI:   return "';'";
    default:
        snprintf(out, n, "'%.40s%s'", t->text, t->len > 40 ? "..." : "");
        return out;
    }
}

static int perr_expected(struct parser *ps, const char *what)
{
    char tmp[64];
    return conf_error(ps, ps->tok.line, ps->tok.col, "expected %s, got %s", what,
                      tok_describe(&ps->tok, tmp, sizeof tmp));
}

/* ------------------------------------------------------------------ */
/* Small value parsers                                                   */

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static bool ascii_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    return true;
}

/* Decimal digits only; returns -1 on empty, sign, junk or above max. */
static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

static const struct { const char *name; uint64_t ms; } time_units[] = {
    { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
    { "d", 86400000 }, { "w", 604800000 },
};

int proxy_conf_parse_time(const char *s, size_t n, uint32_t *ms)
{
    uint64_t total = 0;
    size_t i = 0;
    if (n == 0)
        return -1;
    while (i < n) {
        size_t d = i;
        while (d < n && s[d] >= '0' && s[d] <= '9')
            d++;
        uint64_t v;
        if (parse_uint(s + i, d - i, PROXY_CONF_MAX_TIME_MS, &v) < 0)
            return -1;
        uint64_t mult = 0;
        size_t ulen = 0;
        if (d == n) {
            mult = 1000;   /* a bare number is seconds */
        } else {
            for (size_t u = 0; u < sizeof time_units / sizeof time_units[0]; u++) {
                size_t l = strlen(time_units[u].name);
                if (n - d >= l && memcmp(s + d, time_units[u].name, l) == 0
                    && !(l == 1 && s[d] == 'm' && d + 1 < n && s[d + 1] == 's')) {
                    mult = time_units[u].ms;
                    ulen = l;
                    break;
                }
            }
            if (!mult)
                return -1;
        }
        total += v * mult;
        if (total > PROXY_CONF_MAX_TIME_MS)
            return -1;
        i = d + ulen;
    }
    *ms = (uint32_t)total;
    return 0;
}

int proxy_conf_parse_size(const char *s, size_t n, uint64_t *bytes)
{
    uint64_t mult = 1, v;
    if (n > 0) {
        switch (s[n - 1]) {
        case 'k': case 'K': mult = (uint64_t)1 << 10; break;
        case 'm': case 'M': mult = (uint64_t)1 << 20; break;
        case 'g': case 'G': mult = (uint64_t)1 << 30; break;
        default: break;
        }
    }
    if (mult != 1)
        n--;
    if (parse_uint(s, n, PROXY_CONF_MAX_SIZE, &v) < 0 || v > PROXY_CONF_MAX_SIZE / mult)
        return -1;
    *bytes = v * mult;
    return 0;
}

static const struct { const char *name; enum proxy_var var; } var_table[] = {
    { "host", PROXY_VAR_HOST },
    { "remote_addr", PROXY_VAR_REMOTE_ADDR },
    { "proxy_add_x_forwarded_for", PROXY_VAR_PROXY_ADD_XFF },
    { "scheme", PROXY_VAR_SCHEME },
    { "request_uri", PROXY_VAR_REQUEST_URI },
};

enum proxy_var proxy_var_lookup(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof var_table / sizeof var_table[0]; i++)
        if (strlen(var_table[i].name) == n && memcmp(var_table[i].name, name, n) == 0)
            return var_table[i].var;
    return PROXY_VAR_NONE;
}

static bool is_var_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '_';
}

/*
 * Finds the variable starting at t[i] == '$': "$name" or "${name}".  Sets
 * *name and *nlen and returns the index after it; returns i + 1 with *nlen == 0
 * when the '$' starts no name (a literal '$'), or 0 on an unclosed "${".
 */
static size_t tmpl_var(const char *t, size_t i, const char **name, size_t *nlen)
{
    size_t j = i + 1;
    bool brace = t[j] == '{';
    if (brace)
        j++;
    size_t start = j;
    while (is_var_char(t[j]) && !(j == start && t[j] >= '0' && t[j] <= '9'))
        j++;
    *name = t + start;
    *nlen = j - start;
    if (brace) {
        if (t[j] != '}')
            return 0;
        j++;
    }
    return *nlen ? j : i + 1;
}

int proxy_template_walk(const char *tmpl,
                        int (*lit)(void *arg, const char *s, size_t n),
                        int (*var)(void *arg, enum proxy_var v), void *arg)
{
    size_t i = 0, run = 0;
    while (tmpl[i]) {
        const char *name;
        size_t nlen, next;
        if (tmpl[i] != '$' || (next = tmpl_var(tmpl, i, &name, &nlen)) == 0 || nlen == 0) {
            i++;
            continue;
        }
        int rc = i > run ? lit(arg, tmpl + run, i - run) : 0;
        if (rc == 0)
            rc = var(arg, proxy_var_lookup(name, nlen));
        if (rc)
            return rc;
        i = run = next;
    }
    return i > run ? lit(arg, tmpl + run, i - run) : 0;
}

const char *proxy_policy_name(enum proxy_policy p)
{
    switch (p) {
    case PROXY_POLICY_ROUND_ROBIN: return "round-robin";
    case PROXY_POLICY_LEAST_CONN:  return "least-conn";
    case PROXY_POLICY_RANDOM:      return "random";
    case PROXY_POLICY_IP_HASH:     return "ip-hash";
    }
    return "?";
}

/* ------------------------------------------------------------------ */
/* Host names                                                            */

/*
 * Splits "host", "host:port", "[v6]" or "[v6]:port" into host part and
 * port (0 when absent or empty).  Drops one trailing dot of the host part.
 * Returns -1 on a malformed port or an empty host.
 */
static int host_split(const char *s, size_t n, size_t *hlen, unsigned *port)
{
    size_t h = n;
    const char *colon = NULL;
    if (n && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb)
            return -1;
        h = (size_t)(rb - s) + 1;
        if (h < n && s[h] != ':')
            return -1;
        colon = h < n ? s + h : NULL;
    } else {
        colon = memchr(s, ':', n);
        if (colon && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
            return -1;       /* bare IPv6 is not a valid Host */
        if (colon)
            h = (size_t)(colon - s);
    }
    *port = 0;
    if (colon && colon + 1 < s + n) {
        uint64_t v;
        if (parse_uint(colon + 1, n - (size_t)(colon + 1 - s), 65535, &v) < 0 || v == 0)
            return -1;
        *port = (unsigned)v;
    }
    if (h > 1 && s[h - 1] == '.')
        h--;
    *hlen = h;
    return h ? 0 : -1;
}

static bool host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static bool host_name_ok(const char *h, size_t n)
{
    size_t i = 0;
    if (h[0] == '[') {
        for (i = 1; i + 1 < n; i++)
            if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')
                  || (h[i] >= 'A' && h[i] <= 'F') || h[i] == ':' || h[i] == '.'))
                return false;
        return n > 2;
    }
    /* labels are non-empty: no leading dot, no "..", and no trailing dot
     * left after host_split removed one */
    if (n == 0 || h[0] == '.' || h[n - 1] == '.')
        return false;
    for (i = 0; i < n; i++)
        if (!host_char_ok(h[i]) || (h[i] == '.' && h[i + 1] == '.'))
            return false;
    return true;
}

const struct proxy_block *proxy_conf_match(const struct proxy_conf *cfg,
                                           const char *host, size_t len)
{
    size_t hlen;
    unsigned port;
    const struct proxy_block *portless = NULL;
    if (!cfg)
        return NULL;
    if (!host || host_split(host, len, &hlen, &port) < 0)
        return cfg->default_block;
    unsigned want = port ? port : 80;
    for (size_t b = 0; b < cfg->nblocks; b++) {
        const struct proxy_block *blk = &cfg->blocks[b];
        for (size_t i = 0; i < blk->nnames; i++) {
            const struct proxy_name *nm = &blk->names[i];
            if (strlen(nm->host) != hlen || !ascii_ieq(nm->host, host, hlen))
                continue;
            if (nm->port == want)
                return blk;     /* an exact host:port name wins at once */
            if (nm->port == 0 && !portless)
                portless = blk;
        }
    }
    return portless ? portless : cfg->default_block;
}

/* ------------------------------------------------------------------ */
/* Model helpers                                                         */

enum set_bit {
    SET_POLICY = 1u << 0, SET_CONNECT = 1u << 1, SET_READ = 1u << 2,
    SET_SEND = 1u << 3, SET_KEEPALIVE = 1u << 4, SET_KA_TIMEOUT = 1u << 5,
    SET_MAX_BODY = 1u << 6, SET_WS_TIMEOUT = 1u << 7, SET_ACCESS_LOG = 1u << 8,
    SET_HEALTH = 1u << 9, SET_HEADERS = 1u << 10
};

static void settings_defaults(struct proxy_settings *s)
{
    memset(s, 0, sizeof *s);
    s->policy = PROXY_POLICY_ROUND_ROBIN;
    s->connect_timeout_ms = PROXY_DEF_CONNECT_TIMEOUT_MS;
    s->read_timeout_ms = PROXY_DEF_READ_TIMEOUT_MS;
    s->send_timeout_ms = PROXY_DEF_SEND_TIMEOUT_MS;
    s->keepalive = PROXY_DEF_KEEPALIVE;
    s->keepalive_timeout_ms = PROXY_DEF_KEEPALIVE_TIMEOUT_MS;
    s->keepalive_surplus_ms = PROXY_DEF_KEEPALIVE_SURPLUS_MS;
    s->client_max_body_size = PROXY_DEF_MAX_BODY;
    s->websocket_timeout_ms = PROXY_DEF_WEBSOCKET_TIMEOUT_MS;
    s->health.interval_ms = PROXY_DEF_HC_INTERVAL_MS;
    s->health.timeout_ms = PROXY_DEF_HC_TIMEOUT_MS;
    s->health.rise = PROXY_DEF_HC_RISE;
    s->health.fall = PROXY_DEF_HC_FALL;
}

static void headers_free(struct proxy_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

static void settings_free(struct proxy_settings *s)
{
    free(s->access_log);
    free(s->health.uri);
    headers_free(s->headers, s->nheaders);
    s->access_log = s->health.uri = NULL;
    s->headers = NULL;
    s->nheaders = 0;
}

static void servers_free(struct proxy_server *sv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(sv[i].name);
        free(sv[i].addr_text);
    }
    free(sv);
}

static void block_free(struct proxy_block *b)
{
    for (size_t i = 0; i < b->nnames; i++)
        free(b->names[i].host);
    free(b->names);
    servers_free(b->servers, b->nservers);
    settings_free(&b->set);
}

void proxy_conf_free(struct proxy_conf *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nblocks; i++)
        block_free(&cfg->blocks[i]);
    free(cfg->blocks);
    for (size_t i = 0; i < cfg->nlisten; i++)
        free(cfg->listen[i].text);
    free(cfg->status_listen.text);
    settings_free(&cfg->top);
    free(cfg->file);
    free(cfg);
}

static char *xstrdup(struct parser *ps, const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        conf_error(ps, 0, 0, "out of memory");
    return d;
}

/* Grows *arr (of elem-sized items, *n used) by one zeroed slot. */
static void *array_push(struct parser *ps, void *arr_p, size_t *n, size_t elem)
{
    void **arr = arr_p;
    char *grown = realloc(*arr, (*n + 1) * elem);
    if (!grown) {
        conf_error(ps, 0, 0, "out of memory");
        return NULL;
    }
    *arr = grown;
    memset(grown + *n * elem, 0, elem);
    return grown + (*n)++ * elem;
}

/* ------------------------------------------------------------------ */
/* Directive handlers                                                    */

/* Where the directive is found; handlers get the settings of that level
 * and, inside a block, the block itself. */
struct level {
    struct proxy_settings *set;
    struct proxy_block    *block;   /* NULL at the top level */
};

static int arg_err(struct parser *ps, const struct arg *a, const char *what)
{
    return conf_error(ps, a->line, a->col, "expected %s, got '%.40s'", what, a->s);
}

static int arg_time(struct parser *ps, const struct arg *a, uint32_t *ms)
{
    if (proxy_conf_parse_time(a->s, a->len, ms) < 0)
        return arg_err(ps, a, "a time (e.g. 500ms, 10s, 1m)");
    return 0;
}

static int arg_uint(struct parser *ps, const struct arg *a, uint64_t min,
                    uint64_t max, unsigned *out)
{
    uint64_t v;
    if (parse_uint(a->s, a->len, max, &v) < 0 || v < min) {
        char what[64];
        snprintf(what, sizeof what, "a number from %llu to %llu",
                 (unsigned long long)min, (unsigned long long)max);
        return arg_err(ps, a, what);
    }
    *out = (unsigned)v;
    return 0;
}

/* "key=value" argument: returns the value when a starts with key= . */
static const char *arg_kv(const struct arg *a, const char *key)
{
    size_t k = strlen(key);
    if (a->len > k && memcmp(a->s, key, k) == 0 && a->s[k] == '=')
        return a->s + k + 1;
    return NULL;
}

/* Re-points a at the value of a key=value argument, for the messages. */
static struct arg arg_value(const struct arg *a, const char *v)
{
    struct arg r = *a;
    size_t skip = (size_t)(v - a->s);
    r.s = (char *)v;
    r.len = a->len - skip;
    r.col = a->col + (unsigned)skip;
    return r;
}

static int do_timeout(struct parser *ps, struct level *lv, uint32_t *field,
                      unsigned bit)
{
    if (arg_time(ps, &ps->args[1], field) < 0)
        return -1;
    lv->set->set_mask |= bit;
    return 0;
}

static int d_connect_timeout(struct parser *ps, struct level *lv)
{
    return do_timeout(ps, lv, &lv->set->connect_timeout_ms, SET_CONNECT);
}

static int d_read_timeout(struct parser *ps, struct level *lv)
{
    return do_timeout(ps, lv, &lv->set->read_timeout_ms, SET_READ);
}

static int d_send_timeout(struct parser *ps, struct level *lv)
{
    return do_timeout(ps, lv, &lv->set->send_timeout_ms, SET_SEND);
}

static int d_keepalive_timeout(struct parser *ps, struct level *lv)
{
    return do_timeout(ps, lv, &lv->set->keepalive_timeout_ms, SET_KA_TIMEOUT);
}

static int d_websocket_timeout(struct parser *ps, struct level *lv)
{
    return do_timeout(ps, lv, &lv->set->websocket_timeout_ms, SET_WS_TIMEOUT);
}

static int d_keepalive(struct parser *ps, struct level *lv)
{
    if (arg_uint(ps, &ps->args[1], 0, PROXY_CONF_MAX_KEEPALIVE, &lv->set->keepalive) < 0)
        return -1;
    lv->set->set_mask |= SET_KEEPALIVE;
    return 0;
}

static int d_max_body(struct parser *ps, struct level *lv)
{
    const struct arg *a = &ps->args[1];
    if (proxy_conf_parse_size(a->s, a->len, &lv->set->client_max_body_size) < 0)
        return arg_err(ps, a, "a size (e.g. 512k, 10m, 1g; 0 for no limit)");
    lv->set->set_mask |= SET_MAX_BODY;
    return 0;
}

static int d_total_buffers(struct parser *ps, struct level *lv)
{
    const struct arg *a = &ps->args[1];
    (void)lv;
    if (proxy_conf_parse_size(a->s, a->len, &ps->cfg->total_buffers_size) < 0)
        return arg_err(ps, a, "a size (e.g. 16m, 1g; 0 for no budget)");
    return 0;
}

static int d_access_log(struct parser *ps, struct level *lv)
{
    free(lv->set->access_log);
    lv->set->access_log = xstrdup(ps, ps->args[1].s);
    if (!lv->set->access_log)
        return -1;
    if (ps->args[1].len == 0)
        return arg_err(ps, &ps->args[1], "a file name or off");
    lv->set->set_mask |= SET_ACCESS_LOG;
    return 0;
}

static const struct { const char *name; enum proxy_policy p; } policy_table[] = {
    { "round-robin", PROXY_POLICY_ROUND_ROBIN },
    { "least-conn", PROXY_POLICY_LEAST_CONN },
    { "random", PROXY_POLICY_RANDOM },
    { "ip-hash", PROXY_POLICY_IP_HASH },
};

static int d_dist_policy(struct parser *ps, struct level *lv)
{
    const struct arg *a = &ps->args[1];
    for (size_t i = 0; i < sizeof policy_table / sizeof policy_table[0]; i++) {
        if (strcmp(a->s, policy_table[i].name) == 0) {
            lv->set->policy = policy_table[i].p;
            lv->set->set_mask |= SET_POLICY;
            return 0;
        }
    }
    return arg_err(ps, a, "round-robin, least-conn, random or ip-hash");
}

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Checks a header value template: field-value bytes, known variables. */
static int check_template(struct parser *ps, const struct arg *a)
{
    for (size_t i = 0; i < a->len; i++) {
        unsigned char c = (unsigned char)a->s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return conf_error(ps, a->line, a->col, "control character in header value");
        if (c != '$')
            continue;
        const char *name;
        size_t nlen, next = tmpl_var(a->s, i, &name, &nlen);
        if (next == 0)
            return conf_error(ps, a->line, a->col, "unclosed ${ in header value");
        if (nlen && proxy_var_lookup(name, nlen) == PROXY_VAR_NONE)
            return conf_error(ps, a->line, a->col, "unknown variable $%.*s (known: $host "
                              "$remote_addr $proxy_add_x_forwarded_for $scheme "
                              "$request_uri)", (int)(nlen > 40 ? 40 : nlen), name);
    }
    return 0;
}

static int d_set_header(struct parser *ps, struct level *lv)
{
    const struct arg *n = &ps->args[1], *v = &ps->args[2];
    struct proxy_settings *s = lv->set;
    for (size_t i = 0; i < n->len; i++)
        if (!is_tchar(n->s[i]))
            return arg_err(ps, n, "a header field name");
    if (n->len == 0)
        return arg_err(ps, n, "a header field name");
    if (check_template(ps, v) < 0)
        return -1;
    if (s->nheaders >= PROXY_CONF_MAX_HEADERS)
        return conf_error(ps, n->line, n->col, "more than %u proxy_set_header here",
                          PROXY_CONF_MAX_HEADERS);
    struct proxy_header *h = array_push(ps, &s->headers, &s->nheaders, sizeof *h);
    if (!h || !(h->name = xstrdup(ps, n->s)) || !(h->value = xstrdup(ps, v->s)))
        return -1;
    s->set_mask |= SET_HEADERS;
    return 0;
}

static int hc_param(struct parser *ps, struct proxy_health *h, const struct arg *a)
{
    const char *v;
    struct arg va;
    if ((v = arg_kv(a, "interval")))
        return va = arg_value(a, v), arg_time(ps, &va, &h->interval_ms);
    if ((v = arg_kv(a, "timeout")))
        return va = arg_value(a, v), arg_time(ps, &va, &h->timeout_ms);
    if ((v = arg_kv(a, "rise")))
        return va = arg_value(a, v), arg_uint(ps, &va, 1, 100, &h->rise);
    if ((v = arg_kv(a, "fall")))
        return va = arg_value(a, v), arg_uint(ps, &va, 1, 100, &h->fall);
    if ((v = arg_kv(a, "uri"))) {
        va = arg_value(a, v);
        for (size_t i = 0; i < va.len; i++)
            if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7f)
                return arg_err(ps, &va, "a URI starting with /");
        if (v[0] != '/')
            return arg_err(ps, &va, "a URI starting with /");
        free(h->uri);
        h->uri = xstrdup(ps, v);
        return h->uri ? 0 : -1;
    }
    return arg_err(ps, a, "interval=, timeout=, rise=, fall= or uri=");
}

static int d_health_check(struct parser *ps, struct level *lv)
{
    struct proxy_health *h = &lv->set->health;
    lv->set->set_mask |= SET_HEALTH;
    if (ps->nargs == 2 && strcmp(ps->args[1].s, "off") == 0) {
        h->enabled = false;
        return 0;
    }
    h->enabled = true;
    for (size_t i = 1; i < ps->nargs; i++)
        if (hc_param(ps, h, &ps->args[i]) < 0)
            return -1;
    if (h->timeout_ms > h->interval_ms)
        return conf_error(ps, ps->args[0].line, ps->args[0].col,
                          "health_check timeout must not exceed its interval");
    return 0;
}

/* ---- proxy_pass ---- */

struct url {
    char     host[PROXY_CONF_MAX_TOKEN + 1];
    char     port[12];
};

/* Parses http://HOST[:PORT][/]; HOST may be [IPv6]. */
static int url_parse(struct parser *ps, const struct arg *a, struct url *u)
{
    const char *s = a->s;
    if (a->len >= 8 && ascii_ieq(s, "https://", 8))
        return conf_error(ps, a->line, a->col, "https upstreams are not supported");
    if (a->len < 7 || !ascii_ieq(s, "http://", 7))
        return arg_err(ps, a, "http://HOST[:PORT]");
    s += 7;
    size_t n = strcspn(s, "/");
    if (s[n] && strcmp(s + n, "/") != 0)
        return conf_error(ps, a->line, a->col + 7 + (unsigned)n,
                          "a URI path in proxy_pass is not supported");
    size_t hlen;
    unsigned port;
    if (host_split(s, n, &hlen, &port) < 0 || !host_name_ok(s, hlen))
        return arg_err(ps, a, "http://HOST[:PORT]");
    if (s[0] == '[') {
        memcpy(u->host, s + 1, hlen - 2);
        u->host[hlen - 2] = '\0';
    } else {
        memcpy(u->host, s, hlen);
        u->host[hlen] = '\0';
    }
    snprintf(u->port, sizeof u->port, "%u", port ? port : 80);
    return 0;
}

static void addr_format(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        port = ntohs(s6->sin6_port);
        snprintf(out, n, "[%s]:%u", ip, port);
    } else {
        const struct sockaddr_in *s4 = (const void *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        port = ntohs(s4->sin_port);
        snprintf(out, n, "%s:%u", ip, port);
    }
}

static int resolve(struct parser *ps, const struct arg *a, const char *host,
                   const char *port, int extra_flags, struct addrinfo **res)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | extra_flags;
    if (ps->flags & PROXY_CONF_F_NUMERIC)
        hints.ai_flags |= AI_NUMERICHOST;
    int rc = getaddrinfo(host, port, &hints, res);
    if (rc != 0)
        return conf_error(ps, a->line, a->col, "cannot resolve '%.200s': %s",
                          host ? host : "*", gai_strerror(rc));
    return 0;
}

static bool server_dup(const struct proxy_server *sv, size_t n,
                       const struct addrinfo *ai)
{
    for (size_t i = 0; i < n; i++)
        if (sv[i].addrlen == ai->ai_addrlen
            && memcmp(&sv[i].addr, ai->ai_addr, ai->ai_addrlen) == 0)
            return true;
    return false;
}

/* Adds one server per distinct address of the URL's host. */
static int add_servers(struct parser *ps, const struct arg *a, const struct url *u,
                       const struct proxy_server *tmpl, struct proxy_server **arr,
                       size_t *n)
{
    struct addrinfo *res = NULL;
    if (resolve(ps, a, u->host, u->port, 0, &res) < 0)
        return -1;
    int rc = 0;
    for (struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(struct sockaddr_storage) || server_dup(*arr, *n, ai))
            continue;
        if (*n >= PROXY_CONF_MAX_SERVERS) {
            rc = conf_error(ps, a->line, a->col, "more than %u servers in one pool",
                            PROXY_CONF_MAX_SERVERS);
            break;
        }
        struct proxy_server *sv = array_push(ps, arr, n, sizeof *sv);
        char text[INET6_ADDRSTRLEN + 16];
        if (!sv)
            rc = -1;
        else {
            *sv = *tmpl;
            sv->name = NULL;
            memcpy(&sv->addr, ai->ai_addr, ai->ai_addrlen);
            sv->addrlen = (socklen_t)ai->ai_addrlen;
            addr_format(&sv->addr, text, sizeof text);
            /* the name without the "http://" and the optional "/" */
            if (!(sv->addr_text = xstrdup(ps, text))
                || !(sv->name = strndup(a->s + 7, strcspn(a->s + 7, "/"))))
                rc = conf_error(ps, 0, 0, "out of memory");
        }
    }
    freeaddrinfo(res);
    return rc;
}

static int server_param(struct parser *ps, struct proxy_server *sv, const struct arg *a)
{
    const char *v;
    struct arg va;
    if (strcmp(a->s, "backup") == 0)
        return sv->backup = true, 0;
    if ((v = arg_kv(a, "weight")))
        return va = arg_value(a, v), arg_uint(ps, &va, 1, PROXY_CONF_MAX_WEIGHT, &sv->weight);
    if ((v = arg_kv(a, "max_fails")))
        return va = arg_value(a, v), arg_uint(ps, &va, 0, 1000, &sv->max_fails);
    if ((v = arg_kv(a, "fail_timeout")))
        return va = arg_value(a, v), arg_time(ps, &va, &sv->fail_timeout_ms);
    return arg_err(ps, a, "weight=, max_fails=, fail_timeout= or backup");
}

static int d_proxy_pass(struct parser *ps, struct level *lv)
{
    struct url u;
    struct proxy_server tmpl;
    memset(&tmpl, 0, sizeof tmpl);
    tmpl.weight = 1;
    tmpl.max_fails = PROXY_DEF_MAX_FAILS;
    tmpl.fail_timeout_ms = PROXY_DEF_FAIL_TIMEOUT_MS;
    tmpl.line = ps->args[1].line;
    tmpl.col = ps->args[1].col;
    if (url_parse(ps, &ps->args[1], &u) < 0)
        return -1;
    for (size_t i = 2; i < ps->nargs; i++)
        if (server_param(ps, &tmpl, &ps->args[i]) < 0)
            return -1;
    if (lv->block)
        return add_servers(ps, &ps->args[1], &u, &tmpl, &lv->block->servers,
                           &lv->block->nservers);
    return add_servers(ps, &ps->args[1], &u, &tmpl, &ps->top_servers, &ps->ntop_servers);
}

/* ---- listen ---- */

/* PORT | ADDR:PORT | [ADDR6]:PORT | *:PORT */
static int listen_parse(struct parser *ps, const struct arg *a, struct proxy_listen *l)
{
    char host[PROXY_CONF_MAX_TOKEN + 1], port[12];
    uint64_t v;
    const char *colon = strrchr(a->s, ':');
    const char *ps_ = colon ? colon + 1 : a->s;
    if (parse_uint(ps_, strlen(ps_), 65535, &v) < 0 || v == 0)
        return arg_err(ps, a, "PORT or ADDRESS:PORT");
    snprintf(port, sizeof port, "%u", (unsigned)v);
    size_t hl = colon ? (size_t)(colon - a->s) : 0;
    memcpy(host, a->s, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    } else if (colon && (hl == 0 || memchr(host, ':', hl))) {
        return arg_err(ps, a, "PORT or ADDRESS:PORT");
    }
    bool any = hl == 0 || strcmp(host, "*") == 0;
    struct addrinfo *res = NULL;
    if (resolve(ps, a, any ? "0.0.0.0" : host, port, AI_PASSIVE, &res) < 0)
        return -1;
    memcpy(&l->addr, res->ai_addr, res->ai_addrlen);
    l->addrlen = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    l->text = xstrdup(ps, a->s);
    return l->text ? 0 : -1;
}

static int d_listen(struct parser *ps, struct level *lv)
{
    struct proxy_conf *cfg = ps->cfg;
    if (cfg->nlisten >= PROXY_CONF_MAX_LISTEN)
        return conf_error(ps, ps->args[0].line, ps->args[0].col,
                          "more than %u listen directives", PROXY_CONF_MAX_LISTEN);
    if (listen_parse(ps, &ps->args[1], &cfg->listen[cfg->nlisten]) < 0) {
        free(cfg->listen[cfg->nlisten].text);
        cfg->listen[cfg->nlisten].text = NULL;
        return -1;
    }
    cfg->nlisten++;
    return 0;
}

static int d_status_listen(struct parser *ps, struct level *lv)
{
    struct proxy_conf *cfg = ps->cfg;
    if (cfg->has_status_listen)
        return conf_error(ps, ps->args[0].line, ps->args[0].col,
                          "status_listen given twice");
    if (listen_parse(ps, &ps->args[1], &cfg->status_listen) < 0)
        return -1;
    cfg->has_status_listen = true;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Directive table and parser                                            */

enum where { W_TOP = 1, W_BLOCK = 2, W_BOTH = 3 };

static const struct directive {
    const char *name;
    unsigned    min_args, max_args;   /* excluding the name */
    enum where  where;
    int (*fn)(struct parser *, struct level *);
} directives[] = {
    { "proxy_pass",            1, 5, W_BOTH,  d_proxy_pass },
    { "dist_policy",           1, 1, W_BOTH,  d_dist_policy },
    { "proxy_set_header",      2, 2, W_BOTH,  d_set_header },
    { "proxy_connect_timeout", 1, 1, W_BOTH,  d_connect_timeout },
    { "proxy_read_timeout",    1, 1, W_BOTH,  d_read_timeout },
    { "proxy_send_timeout",    1, 1, W_BOTH,  d_send_timeout },
    { "keepalive",             1, 1, W_BOTH,  d_keepalive },
    { "keepalive_timeout",     1, 1, W_BOTH,  d_keepalive_timeout },
    { "client_max_body_size",  1, 1, W_BOTH,  d_max_body },
    /* one access log per process (the engine's): top level only */
    { "access_log",            1, 1, W_TOP,   d_access_log },
    { "health_check",          0, 5, W_BOTH,  d_health_check },
    { "websocket_timeout",     1, 1, W_BOTH,  d_websocket_timeout },
    { "listen",                1, 1, W_TOP,   d_listen },
    { "status_listen",         1, 1, W_TOP,   d_status_listen },
    /* one budget for the whole process: top level only */
    { "proxy_total_buffers_size", 1, 1, W_TOP, d_total_buffers },
};

static const struct directive *directive_find(const char *name)
{
    for (size_t i = 0; i < sizeof directives / sizeof directives[0]; i++)
        if (strcmp(directives[i].name, name) == 0)
            return &directives[i];
    return NULL;
}

/* Copies the current token into the argument list. */
static int args_push(struct parser *ps)
{
    if (ps->nargs > PROXY_CONF_MAX_ARGS)
        return conf_error(ps, ps->tok.line, ps->tok.col, "more than %u arguments",
                          PROXY_CONF_MAX_ARGS);
    struct arg *a = &ps->args[ps->nargs];
    a->s = ps->argbuf[ps->nargs];
    memcpy(a->s, ps->tok.text, ps->tok.len + 1);
    a->len = ps->tok.len;
    a->quoted = ps->tok.quoted;
    a->line = ps->tok.line;
    a->col = ps->tok.col;
    ps->nargs++;
    return 0;
}

/* Reads arguments after the directive name (already in args[0]) up to the
 * terminator, which is left in ps->tok.  Returns the terminator's kind. */
/* A directive's name (or "host") at the start of a later line, read as an
 * argument: the previous line lacks its ';'.  Says so at the end of that
 * line instead of blaming the next one.  0, or -1 after the message. */
static int missing_semicolon(struct parser *ps)
{
    const struct arg *last = &ps->args[ps->nargs - 1];
    if (ps->tok.quoted || ps->tok.line <= last->line
        || (!directive_find(ps->tok.text) && strcmp(ps->tok.text, "host") != 0))
        return 0;
    return conf_error(ps, last->line, last->col + (unsigned)last->len,
                      "missing ';' at the end of line %u (after '%.40s')", last->line, last->s);
}

static enum tok_kind args_collect(struct parser *ps)
{
    for (;;) {
        enum tok_kind k = lex_next(ps);
        if (k != TOK_WORD)
            return k;
        if (missing_semicolon(ps) < 0 || args_push(ps) < 0)
            return TOK_ERROR;
    }
}

/* A NUL byte inside an argument would silently cut the C string. */
static int args_check_nul(struct parser *ps)
{
    for (size_t i = 0; i < ps->nargs; i++)
        if (strlen(ps->args[i].s) != ps->args[i].len)
            return conf_error(ps, ps->args[i].line, ps->args[i].col, "NUL byte in argument");
    return 0;
}

static int directive_run(struct parser *ps, struct level *lv)
{
    const struct arg *name = &ps->args[0];
    const struct directive *d = directive_find(name->s);
    if (!d)
        return conf_error(ps, name->line, name->col, "unknown directive '%.40s'", name->s);
    if (!(d->where & (lv->block ? W_BLOCK : W_TOP)))
        return conf_error(ps, name->line, name->col, "%s is only allowed %s", d->name,
                          d->where == W_TOP ? "at the top level" : "inside a host block");
    size_t n = ps->nargs - 1;
    if (n < d->min_args || n > d->max_args) {
        const struct arg *at = n > d->max_args ? &ps->args[d->max_args + 1] : name;
        if (d->min_args == d->max_args)
            return conf_error(ps, at->line, at->col, "%s takes %u argument%s, got %zu", d->name,
                              d->min_args, d->min_args == 1 ? "" : "s", n);
        return conf_error(ps, at->line, at->col, "%s takes %u to %u arguments, got %zu",
                          d->name, d->min_args, d->max_args, n);
    }
    if (args_check_nul(ps) < 0)
        return -1;
    return d->fn(ps, lv);
}

static int parse_block(struct parser *ps);

/* Handles one statement whose first word is the current token.  `in_block`
 * tells whether '}' may end it.  Returns 1 when the statement was ended by
 * '}' (inside a block), 0 otherwise, -1 on error. */
static int parse_statement(struct parser *ps, struct level *lv)
{
    ps->nargs = 0;
    if (args_push(ps) < 0)
        return -1;
    if (!ps->args[0].quoted && strcmp(ps->args[0].s, "host") == 0) {
        if (lv->block)
            return conf_error(ps, ps->args[0].line, ps->args[0].col,
                              "host blocks cannot be nested");
        return parse_block(ps);
    }
    enum tok_kind k = args_collect(ps);
    if (k == TOK_ERROR)
        return -1;
    if (k == TOK_LBRACE)
        return conf_error(ps, ps->tok.line, ps->tok.col, "%.40s takes no block",
                          ps->args[0].s);
    if (k != TOK_SEMI && !(k == TOK_RBRACE && lv->block))
        return perr_expected(ps, "';'");
    if (directive_run(ps, lv) < 0)
        return -1;
    return k == TOK_RBRACE ? 1 : 0;
}

/* Reads the names after "host" and the optional default marker, up to '{'. */
static int block_names(struct parser *ps, struct proxy_block *b)
{
    for (;;) {
        enum tok_kind k = lex_next(ps);
        if (k == TOK_ERROR)
            return -1;
        if (k == TOK_LBRACE)
            break;
        if (k != TOK_WORD)
            return perr_expected(ps, b->nnames || b->is_default ? "a host name or '{'"
                                 : "a host name");
        if (!ps->tok.quoted && strcmp(ps->tok.text, "default") == 0) {
            if (b->is_default)
                return conf_error(ps, ps->tok.line, ps->tok.col, "default given twice");
            b->is_default = true;
            continue;
        }
        if (b->is_default)
            return perr_expected(ps, "'{'");
        if (b->nnames >= PROXY_CONF_MAX_NAMES)
            return conf_error(ps, ps->tok.line, ps->tok.col, "more than %u names in one "
                              "host block", PROXY_CONF_MAX_NAMES);
        size_t hlen;
        unsigned port;
        if (ps->tok.len == 0 || strlen(ps->tok.text) != ps->tok.len
            || host_split(ps->tok.text, ps->tok.len, &hlen, &port) < 0
            || !host_name_ok(ps->tok.text, hlen))
            return perr_expected(ps, "a host name (NAME or NAME:PORT)");
        struct proxy_name *nm = array_push(ps, &b->names, &b->nnames, sizeof *nm);
        if (!nm || !(nm->host = malloc(hlen + 1)))
            return conf_error(ps, 0, 0, "out of memory");
        for (size_t i = 0; i < hlen; i++)
            nm->host[i] = (char)ascii_lower((unsigned char)ps->tok.text[i]);
        nm->host[hlen] = '\0';
        nm->port = port;
    }
    if (b->nnames == 0 && !b->is_default)
        return perr_expected(ps, "a host name");
    return 0;
}

/* "host" was read; parses names, '{', statements, '}'. */
static int parse_block(struct parser *ps)
{
    struct proxy_conf *cfg = ps->cfg;
    unsigned line = ps->args[0].line, col = ps->args[0].col;
    if (cfg->nblocks >= PROXY_CONF_MAX_BLOCKS)
        return conf_error(ps, line, col, "more than %u host blocks", PROXY_CONF_MAX_BLOCKS);
    struct proxy_block *b = array_push(ps, &cfg->blocks, &cfg->nblocks, sizeof *b);
    if (!b)
        return -1;
    b->line = line;
    b->col = col;
    settings_defaults(&b->set);
    if (block_names(ps, b) < 0)
        return -1;
    struct level lv = { &b->set, b };
    for (;;) {
        enum tok_kind k = lex_next(ps);
        if (k == TOK_ERROR)
            return -1;
        if (k == TOK_RBRACE)
            return 0;
        if (k != TOK_WORD)
            return perr_expected(ps, k == TOK_EOF ? "'}'" : "a directive or '}'");
        int r = parse_statement(ps, &lv);
        if (r != 0)
            return r < 0 ? -1 : 0;
    }
}

/* ------------------------------------------------------------------ */
/* Finishing: inheritance and cross-checks                               */

static int headers_copy(struct parser *ps, struct proxy_settings *dst,
                        const struct proxy_settings *src)
{
    for (size_t i = 0; i < src->nheaders; i++) {
        struct proxy_header *h = array_push(ps, &dst->headers, &dst->nheaders, sizeof *h);
        if (!h || !(h->name = xstrdup(ps, src->headers[i].name))
            || !(h->value = xstrdup(ps, src->headers[i].value)))
            return -1;
    }
    return 0;
}

/* Fills in every field the block did not set from the top level.  As in
 * nginx, proxy_set_header lines are inherited only when the block has none. */
static int settings_inherit(struct parser *ps, struct proxy_settings *b,
                            const struct proxy_settings *t)
{
    unsigned m = b->set_mask;
    if (!(m & SET_POLICY)) b->policy = t->policy;
    if (!(m & SET_CONNECT)) b->connect_timeout_ms = t->connect_timeout_ms;
    if (!(m & SET_READ)) b->read_timeout_ms = t->read_timeout_ms;
    if (!(m & SET_SEND)) b->send_timeout_ms = t->send_timeout_ms;
    if (!(m & SET_KEEPALIVE)) b->keepalive = t->keepalive;
    if (!(m & SET_KA_TIMEOUT)) b->keepalive_timeout_ms = t->keepalive_timeout_ms;
    if (!(m & SET_MAX_BODY)) b->client_max_body_size = t->client_max_body_size;
    if (!(m & SET_WS_TIMEOUT)) b->websocket_timeout_ms = t->websocket_timeout_ms;
    if (!(m & SET_ACCESS_LOG) && t->access_log
        && !(b->access_log = xstrdup(ps, t->access_log)))
        return -1;
    if (!(m & SET_HEALTH)) {
        free(b->health.uri);
        b->health = t->health;
        b->health.uri = NULL;
    }
    if (!b->health.uri && !(b->health.uri = xstrdup(ps, t->health.uri
                                                    ? t->health.uri : PROXY_DEF_HC_URI)))
        return -1;
    if (!(m & SET_HEADERS))
        return headers_copy(ps, b, t);
    return 0;
}

static int servers_copy(struct parser *ps, struct proxy_block *b)
{
    for (size_t i = 0; i < ps->ntop_servers; i++) {
        struct proxy_server *sv = array_push(ps, &b->servers, &b->nservers, sizeof *sv);
        if (!sv)
            return -1;
        *sv = ps->top_servers[i];
        sv->name = sv->addr_text = NULL;
        if (!(sv->name = xstrdup(ps, ps->top_servers[i].name))
            || !(sv->addr_text = xstrdup(ps, ps->top_servers[i].addr_text)))
            return -1;
    }
    return 0;
}

static bool names_clash(const struct proxy_name *a, const struct proxy_name *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static int check_duplicates(struct parser *ps, size_t bi)
{
    const struct proxy_block *b = &ps->cfg->blocks[bi];
    for (size_t i = 0; i < b->nnames; i++)
        for (size_t pb = 0; pb <= bi; pb++) {
            const struct proxy_block *o = &ps->cfg->blocks[pb];
            size_t lim = pb == bi ? i : o->nnames;
            for (size_t j = 0; j < lim; j++)
                if (names_clash(&b->names[i], &o->names[j]))
                    return conf_error(ps, b->line, b->col, "duplicate host name '%s%s%.0u' "
                                      "(first at line %u)", b->names[i].host,
                                      b->names[i].port ? ":" : "", b->names[i].port, o->line);
        }
    return 0;
}

/* Backup servers make no sense with policies that pick by hash or at
 * random (nginx refuses them too). */
static int check_block(struct parser *ps, struct proxy_block *b, size_t bi)
{
    if (check_duplicates(ps, bi) < 0)
        return -1;
    if (b->is_default) {
        if (ps->cfg->default_block)
            return conf_error(ps, b->line, b->col, "a second default host block (first at "
                              "line %u)", ps->cfg->default_block->line);
        ps->cfg->default_block = b;
    }
    if (b->nservers == 0 && servers_copy(ps, b) < 0)
        return -1;
    if (b->nservers == 0)
        return conf_error(ps, b->line, b->col, "host block without proxy_pass");
    for (size_t i = 0; i < b->nservers; i++)
        if (b->servers[i].backup && (b->set.policy == PROXY_POLICY_IP_HASH
                                     || b->set.policy == PROXY_POLICY_RANDOM))
            return conf_error(ps, b->servers[i].line, b->servers[i].col,
                              "backup servers cannot be used with dist_policy %s",
                              proxy_policy_name(b->set.policy));
    return 0;
}

static int conf_finish(struct parser *ps)
{
    struct proxy_conf *cfg = ps->cfg;
    if (!cfg->top.health.uri && !(cfg->top.health.uri = xstrdup(ps, PROXY_DEF_HC_URI)))
        return -1;
    for (size_t i = 0; i < cfg->nblocks; i++) {
        if (settings_inherit(ps, &cfg->blocks[i].set, &cfg->top) < 0
            || check_block(ps, &cfg->blocks[i], i) < 0)
            return -1;
    }
    return 0;
}

static int parse_top(struct parser *ps)
{
    struct level lv = { &ps->cfg->top, NULL };
    for (;;) {
        enum tok_kind k = lex_next(ps);
        if (k == TOK_ERROR)
            return -1;
        if (k == TOK_EOF)
            return conf_finish(ps);
        if (k != TOK_WORD)
            return perr_expected(ps, "a directive or host block");
        if (parse_statement(ps, &lv) < 0)
            return -1;
    }
}

/* ------------------------------------------------------------------ */
/* Entry points                                                          */

int proxy_conf_parse_flags(const char *text, size_t len, const char *name,
                           unsigned flags, struct proxy_conf **out,
                           char *err, size_t errlen)
{
    char dummy[1];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    if (!name)
        name = "(string)";
    if (len > PROXY_CONF_MAX_FILE) {
        snprintf(err, errlen, "%s: file larger than %u bytes", name, PROXY_CONF_MAX_FILE);
        return -1;
    }
    struct parser *ps = calloc(1, sizeof *ps);
    struct proxy_conf *cfg = calloc(1, sizeof *cfg);
    int rc = -1;
    if (!ps || !cfg || !(cfg->file = strdup(name))) {
        snprintf(err, errlen, "%s: out of memory", name);
        goto done;
    }
    ps->lx.p = text;
    ps->lx.end = text + len;
    ps->lx.line = ps->lx.col = 1;
    ps->file = name;
    ps->flags = flags;
    ps->err = err;
    ps->errlen = errlen;
    ps->cfg = cfg;
    settings_defaults(&cfg->top);
    cfg->total_buffers_size = PROXY_DEF_TOTAL_BUFFERS;
    rc = parse_top(ps);
done:
    if (ps)
        servers_free(ps->top_servers, ps->ntop_servers);
    free(ps);
    if (rc == 0)
        *out = cfg;
    else
        proxy_conf_free(cfg);
    return rc;
}

int proxy_conf_parse_string(const char *text, size_t len, const char *name,
                            struct proxy_conf **out, char *err, size_t errlen)
{
    return proxy_conf_parse_flags(text, len, name, 0, out, err, errlen);
}

/* Reads at most PROXY_CONF_MAX_FILE + 1 bytes so that a larger file is
 * reported as such without reading it whole. */
static ssize_t read_capped(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int proxy_conf_load(const char *path, struct proxy_conf **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *text = malloc(PROXY_CONF_MAX_FILE + 1);
    ssize_t n = text ? read_capped(fd, text, PROXY_CONF_MAX_FILE + 1) : -1;
    int saved = errno;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", path, text ? strerror(saved) : "out of memory");
        free(text);
        return -1;
    }
    int rc = proxy_conf_parse_string(text, (size_t)n, path, out, err, errlen);
    free(text);
    return rc;
}
