/*
 * proxy_conf.h - the reverse proxy's configuration (conf/proxy.conf).
 *
 * Syntax (nginx-like):
 *   file      := { directive | host-block }
 *   host-block:= "host" NAME { NAME } [ "default" ] "{" { directive } "}"
 *   directive := WORD { ARG } ( ";" | before "}" )
 * Tokens are bare words, quoted strings ("..." or '...', with the escapes
 * \" \' \\ \n \t \r), "{", "}", ";".  A "#" at the start of a token starts
 * a comment that runs to the end of the line.  A bare word `default` after
 * the names marks the block used for unknown hosts; a quoted "default" is a
 * host name.  When no block is marked, unknown hosts get 404.
 *
 * Every directive but host, listen, status_listen, access_log (one log
 * per process) and proxy_total_buffers_size (one budget per process) may
 * appear at the top level (the default for every block)
 * and inside a block (override).  Host
 * names in proxy_pass are resolved once, when the file is loaded.
 */
#ifndef PROXY_CONF_H
#define PROXY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Caps: each one exceeded is a load error naming it. */
#define PROXY_CONF_MAX_FILE        (1u << 20) /* bytes of a configuration file */
#define PROXY_CONF_MAX_TOKEN       4096       /* bytes of one word or string */
#define PROXY_CONF_MAX_ARGS        16         /* arguments of one directive */
#define PROXY_CONF_MAX_BLOCKS      1024       /* host blocks */
#define PROXY_CONF_MAX_NAMES       32         /* names of one host block */
#define PROXY_CONF_MAX_SERVERS     64         /* servers of one pool */
#define PROXY_CONF_MAX_HEADERS     32         /* proxy_set_header per level */
#define PROXY_CONF_MAX_LISTEN      8          /* listen directives */
#define PROXY_CONF_MAX_WEIGHT      1000
#define PROXY_CONF_MAX_KEEPALIVE   4096       /* idle upstream connections per pool */
#define PROXY_CONF_MAX_TIME_MS     ((uint64_t)INT32_MAX) /* about 24.8 days */
#define PROXY_CONF_MAX_SIZE        ((uint64_t)1 << 40)   /* client_max_body_size */

/* Defaults (nginx's where nginx has one). */
#define PROXY_DEF_CONNECT_TIMEOUT_MS  60000
#define PROXY_DEF_READ_TIMEOUT_MS     60000
#define PROXY_DEF_SEND_TIMEOUT_MS     60000
#define PROXY_DEF_KEEPALIVE           32
/* Idle upstream connections are closed after this, shorter than the 5 s
 * idle timeout common back ends use, so the proxy closes first. */
#define PROXY_DEF_KEEPALIVE_TIMEOUT_MS 4000
/* Idle connections beyond `keepalive` are closed once idle this long
 * (oldest first): a burst of responses parks more than the pool keeps,
 * and the next burst of requests takes them instead of connecting. */
#define PROXY_DEF_KEEPALIVE_SURPLUS_MS 1000
#define PROXY_DEF_MAX_BODY            ((uint64_t)1 << 20)
/* Response bytes all clients together may have waiting in the proxy (no
 * nginx equivalent: nginx spills to temporary files instead). */
#define PROXY_DEF_TOTAL_BUFFERS       ((uint64_t)32 << 20)
#define PROXY_DEF_WEBSOCKET_TIMEOUT_MS 3600000
#define PROXY_DEF_MAX_FAILS           1
#define PROXY_DEF_FAIL_TIMEOUT_MS     10000
#define PROXY_DEF_HC_INTERVAL_MS      2000
#define PROXY_DEF_HC_TIMEOUT_MS       1000
#define PROXY_DEF_HC_RISE             2
#define PROXY_DEF_HC_FALL             3
#define PROXY_DEF_HC_URI              "/"
#define PROXY_DEF_LISTEN_PORT         8080

enum proxy_policy {
    PROXY_POLICY_ROUND_ROBIN = 0,
    PROXY_POLICY_LEAST_CONN,
    PROXY_POLICY_RANDOM,
    PROXY_POLICY_IP_HASH
};

/* Variables allowed in proxy_set_header values. */
enum proxy_var {
    PROXY_VAR_NONE = 0,
    PROXY_VAR_HOST,              /* Host of the request, as received */
    PROXY_VAR_REMOTE_ADDR,       /* client's IP address */
    PROXY_VAR_PROXY_ADD_XFF,     /* client's X-Forwarded-For + ", " + address */
    PROXY_VAR_SCHEME,            /* "http" */
    PROXY_VAR_REQUEST_URI        /* request target as received */
};

/* One upstream server (one address: a name resolving to several addresses
 * gives several servers, as in nginx). */
struct proxy_server {
    char    *name;          /* "host:port" as written in the URL */
    char    *addr_text;     /* "ip:port" or "[ip6]:port" */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    unsigned weight;        /* 1..PROXY_CONF_MAX_WEIGHT, default 1 */
    unsigned max_fails;     /* 0: never marked down */
    uint32_t fail_timeout_ms;
    bool     backup;
    unsigned line, col;     /* where it was declared, for messages */
};

struct proxy_header {
    char  *name;            /* validated token */
    char  *value;           /* template; "" means: do not send this field */
};

struct proxy_health {
    bool     enabled;
    uint32_t interval_ms, timeout_ms;
    unsigned rise, fall;
    char    *uri;
};

/* Settings inherited from the top level and overridable per block. */
struct proxy_settings {
    enum proxy_policy policy;
    uint32_t connect_timeout_ms, read_timeout_ms, send_timeout_ms;
    unsigned keepalive;             /* idle upstream connections per pool */
    uint32_t keepalive_timeout_ms;  /* idle time of a pooled connection */
    uint32_t keepalive_surplus_ms;  /* idle time of one beyond keepalive */
    uint64_t client_max_body_size;  /* 0: unlimited */
    uint32_t websocket_timeout_ms;
    char    *access_log;            /* NULL: the role's default; "off" */
    struct proxy_health health;
    struct proxy_header *headers;   /* proxy_set_header list */
    size_t   nheaders;
    unsigned set_mask;              /* private: which fields were given */
};

struct proxy_name {
    char    *host;          /* lower case, no trailing dot */
    unsigned port;          /* 0 when the name has none */
};

struct proxy_block {
    struct proxy_name *names;
    size_t   nnames;
    bool     is_default;
    struct proxy_server *servers;
    size_t   nservers;
    struct proxy_settings set;      /* merged with the top level */
    unsigned line, col;
};

struct proxy_listen {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char     *text;         /* as written */
};

struct proxy_conf {
    char    *file;                  /* name used in messages */
    struct proxy_settings top;      /* top-level values (defaults applied) */
    struct proxy_block *blocks;
    size_t   nblocks;
    const struct proxy_block *default_block;  /* NULL: unknown hosts -> 404 */
    struct proxy_listen listen[PROXY_CONF_MAX_LISTEN];
    size_t   nlisten;               /* 0: the role's --server-port / 8080 */
    struct proxy_listen status_listen;
    bool     has_status_listen;
    uint64_t total_buffers_size;    /* proxy_total_buffers_size; 0: none */
};

/* Flags for proxy_conf_parse_flags(). */
#define PROXY_CONF_F_NUMERIC 0x1  /* no DNS: names must be IP literals */

/*
 * Reads and parses `path`.  Returns 0 and a new configuration in *out (free
 * it with proxy_conf_free), or -1 with one message "FILE:LINE:COL: ..." in
 * err (always NUL-terminated) and nothing allocated.
 */
int proxy_conf_load(const char *path, struct proxy_conf **out,
                    char *err, size_t errlen);

/* Same as proxy_conf_load on text[0..len); `name` is used in messages. */
int proxy_conf_parse_string(const char *text, size_t len, const char *name,
                            struct proxy_conf **out, char *err, size_t errlen);
int proxy_conf_parse_flags(const char *text, size_t len, const char *name,
                           unsigned flags, struct proxy_conf **out,
                           char *err, size_t errlen);

/* Frees everything; NULL is fine. */
void proxy_conf_free(struct proxy_conf *cfg);

/*
 * The block serving a Host value (or an absolute-form target's authority):
 * case-insensitive, trailing dot ignored; a block name with a port matches
 * only that port (no port in the Host means 80), a name without a port
 * matches any port.  Exact host:port names win over port-less ones.  Falls
 * back to the default block; NULL when none.
 */
const struct proxy_block *proxy_conf_match(const struct proxy_conf *cfg,
                                           const char *host, size_t len);

/* nginx time syntax: "500ms", "10s", "1m30s", "1h", "2d"; a plain number
 * means seconds.  Returns 0 and *ms, or -1 (syntax, or over
 * PROXY_CONF_MAX_TIME_MS). */
int proxy_conf_parse_time(const char *s, size_t n, uint32_t *ms);
/* "512", "64k", "10m", "1g" (either case).  Returns 0 or -1. */
int proxy_conf_parse_size(const char *s, size_t n, uint64_t *bytes);

/* The variable named name[0..n) (without '$'), PROXY_VAR_NONE if unknown. */
enum proxy_var proxy_var_lookup(const char *name, size_t n);
/*
 * Walks a proxy_set_header template: calls lit(arg, s, n) for literal runs
 * and var(arg, v) for each variable.  Templates are validated at load time,
 * so every variable met here is known.  Returns 0, or the first non-zero
 * value returned by a callback.
 */
int proxy_template_walk(const char *tmpl,
                        int (*lit)(void *arg, const char *s, size_t n),
                        int (*var)(void *arg, enum proxy_var v), void *arg);

const char *proxy_policy_name(enum proxy_policy p);

#endif
