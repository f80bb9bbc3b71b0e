/*
 * server_int.h - the HTTP engine's private parts, shared by server.c (the
 * server object: listeners, accept, shutdown), server_conn.c (the
 * connection state machine) and server_txn.c (transactions: the request
 * view and the response API).  Not installed.
 */
#ifndef WR_SERVER_INT_H
#define WR_SERVER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "weaprous/net.h"
#include "weaprous/server.h"

/* Library-internal: not exported from the shared library. */
#define WR_HIDDEN __attribute__((visibility("hidden")))


#define SRV_MAX_LISTENERS   8
#define TXN_HEAD_CAP        16384   /* response fields added by a handler */
#define LINGER_MS           2000    /* read-and-discard after an error */
#define LINGER_MAX_BYTES    (1u << 20)
#define ACCESS_LINE_MAX     2048
#define ACCEPT_WARN_MS      10000
#define SRV_TXN_CACHE       128     /* finished transactions kept for reuse */
#define TXN_KEEP            4096    /* a buffer kept with a cached one */

enum conn_state {
    CONN_HEAD,      /* waiting for / parsing a request head */
    CONN_BODY,      /* reading a request body into the transaction */
    CONN_HANDLER,   /* the handler owns the transaction */
    CONN_SEND,      /* response complete, flushing output (and a file) */
    CONN_LINGER,    /* response sent, discarding input before closing */
    CONN_CLOSED
};

enum txn_res {
    RES_NONE,       /* handler has not answered yet */
    RES_STREAM,     /* head sent, body being streamed */
    RES_DONE
};

/* A response on its way to the client: bytes, then a file.  The one
 * structure two files write, as a queue: the transaction appends
 * (server_txn.c), the connection drains it to the socket (server_conn.c). */
struct txn_out {
    buf              q;
    int              file_fd;       /* -1: none */
    http_fd_release_fn release;     /* NULL: file_fd is ours to close */
    void            *release_arg;
    off_t            file_off, file_left;
};

/* Written by server_conn.c alone; the transaction reads a few fields. */
struct conn {
    http_server     *srv;
    struct conn     *prev, *next;
    int              fd;
    enum conn_state  state;
    int              events;        /* interest currently registered */
    int              busy;          /* >0 while conn_step or conn_io runs */
    bool             kicked;        /* conn_kick() while busy: step again */
    bool             late;          /* stepping for conn_kick(): no handler
                                       is dispatched, no close runs on_close */
    bool             deferred;      /* a step waits for the end of the pass */
    bool             broken;        /* client lost in a late step
                                       (conn_fail): closes in the deferred
                                       step */
    buf              in;
    struct http_parser parser;
    http_txn        *txn;           /* kept until its response is written */
    ev_timer         timer;
    unsigned         nrequests;
    bool             eof;           /* client shut its sending side */
    bool             yielded;       /* stopped for fairness with input left */
    bool             closing;       /* close once the response is out */
    bool             linger;        /* input may be left unread: lingering close */
    size_t           lingered;
    size_t           out_counted;   /* queued bytes counted in stats.out_queued */
    char             remote[NET_ADDR_MAX];
    int              remote_port;
};

/* Written by server_txn.c, but for `c` (cleared by the connection when the
 * client goes) and the draining of `out`.  A finished transaction goes to
 * its server's cache with its allocations (txn_new reuses them): a
 * keep-alive connection in its steady state allocates nothing. */
struct http_txn {
    struct conn     *c;             /* NULL once the client is gone */
    http_server     *srv;
    char            *raw;           /* private copy of the head, NUL-split */
    char            *path;
    const char      *query;
    bool             handed;        /* given to the handler */
    /* request body */
    bool             has_body, body_done, chunked_in;
    uint64_t         body_left;     /* Content-Length bytes still to come */
    struct http_chunked dechunk;
    http_body_cb     body_cb;
    void            *body_arg;
    bool             body_paused;
    /* response */
    enum txn_res     res;
    int              status;
    bool             close_conn;    /* the connection ends after this response */
    bool             linger;        /* ... with a lingering close */
    bool             head_only;     /* HEAD request: no body bytes */
    bool             chunked_out;
    int64_t          declared_len;  /* streamed Content-Length, or -1 */
    uint64_t         body_bytes;
    http_txn_cb      drain_cb, close_cb, free_cb;
    void            *drain_arg, *close_arg, *free_arg;
    void            *data;
    char             note[256];
    char             remote[NET_ADDR_MAX];
    int              remote_port, local_port;
    time_t           started;
    /* Mostly not cleared: the field array is 3 KiB that the parser fills
     * up to num_headers (see txn_clear). */
    struct http_head head;
    /* Kept across reuse, emptied (txn_new). */
    buf              body;          /* the buffered request body */
    buf              fields;        /* response fields added by the handler */
    buf              content;       /* the buffered response body */
    struct txn_out   out;
    char            *raw_store;     /* t->raw's allocation */
    size_t           raw_size;
};

struct http_server {
    ev_loop         *loop;
    struct http_server_config cfg;
    http_handler_fn  handler;
    void            *arg;
    int              lfds[SRV_MAX_LISTENERS];
    size_t           nlisteners;
    bool             accept_paused;
    ev_timer         accept_timer;
    uint64_t         accept_warned_ms;
    unsigned         accept_pauses;     /* since the last warning */
    struct conn     *conns;
    http_txn        *txn_cache[SRV_TXN_CACHE];
    size_t           ntxn_cache;
    struct http_server_stats stats;
    /* server_txn.c's cache of the fields every answer carries */
    char             date[30];
    time_t           date_at;
    char             fixed[160];        /* "Server: ...\r\nDate: ...\r\n" */
    size_t           fixed_len;
    bool             shutting_down;
    ev_timer         grace_timer;
    void           (*done)(http_server *, void *);
    void            *done_arg;
};

static inline unsigned cfg_or(unsigned v, unsigned dflt) { return v ? v : dflt; }

static inline size_t srv_max_body(const http_server *s)
{
    return s->cfg.max_body ? s->cfg.max_body : HTTP_DEFAULT_MAX_BODY;
}

/*
 * The engine is a chain: server.c (listeners, accept, shutdown) drives
 * connections, server_conn.c (the connection state machine) drives
 * transactions, server_txn.c (the request view and the response builder)
 * answers.  Each file writes only its own structure; a lower file reaches
 * up through the few calls below, never by writing the upper one's fields.
 */

/* server.c: a connection left the server (it unlinked itself): finishes a
 * graceful shutdown once the last one is gone. */
WR_HIDDEN void srv_conn_gone(http_server *s);

/* server_conn.c, for server.c */
WR_HIDDEN void conn_new(http_server *s, int fd, const struct sockaddr_storage *ss);
/* Closes an idle connection now; a busy one after its response. */
WR_HIDDEN void conn_shutdown(struct conn *c);

/* server_conn.c, for server_txn.c */
/* The transaction changed (answered, wrote, asked for its body ...): the
 * connection steps now, or after its running step when busy.  A step run
 * by a kick writes, but never dispatches the next request nor closes with
 * the handler's on_close inside the caller: those wait for the end of the
 * loop pass. */
WR_HIDDEN void conn_kick(struct conn *c);
/* Idempotent; the free is deferred.  A transaction the handler still owns
 * is orphaned (its on_close runs); any other is freed. */
WR_HIDDEN void conn_close(struct conn *c);
/* Unregisters the socket and closes the connection without it: the
 * unparsed input goes to *rest, the transaction is detached (not freed).
 * Returns the fd, or -1 (ENOMEM) with nothing changed. */
WR_HIDDEN int conn_hijack(struct conn *c, buf *rest);

/* server_txn.c, for server_conn.c: a transaction's life. */
WR_HIDDEN http_txn *txn_new(struct conn *c);
/* Frees t (its on_free runs, a file still held is given up). */
WR_HIDDEN void txn_free(http_txn *t);
WR_HIDDEN int txn_own_head(http_txn *t, const char *base);
WR_HIDDEN int txn_decode_path(http_txn *t);
/* Queues "100 Continue" when the client asked for it and sent no body yet. */
WR_HIDDEN void txn_continue_100(http_txn *t);
/* Gives up the response's file: closes it, or hands a borrowed one back. */
WR_HIDDEN void txn_file_done(http_txn *t);

/* server_txn.c, for server.c: frees the cached transactions. */
WR_HIDDEN void txn_cache_free(http_server *s);

#endif
