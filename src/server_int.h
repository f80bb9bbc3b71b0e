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

struct conn {
    http_server     *srv;
    struct conn     *prev, *next;
    int              fd;
    enum conn_state  state;
    int              events;        /* interest currently registered */
    int              busy;          /* >0 while conn_step or a handler runs */
    buf              in, out;
    struct http_parser parser;
    http_txn        *txn;
    ev_timer         timer;
    unsigned         nrequests;
    bool             eof;           /* client shut its sending side */
    bool             yielded;       /* stopped for fairness with input left */
    bool             close_after;   /* close once the response is out */
    bool             linger;        /* input may be left unread: lingering close */
    int              file_fd;       /* body being sent from a file */
    http_fd_release_fn file_release;/* NULL: file_fd is ours to close */
    void            *file_release_arg;
    off_t            file_off, file_left;
    size_t           lingered;
    size_t           out_counted;   /* out's length in stats.out_queued */
    char             remote[NET_ADDR_MAX];
    int              remote_port, local_port;
};

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
    buf              body;
    http_body_cb     body_cb;
    void            *body_arg;
    bool             body_paused;
    /* response */
    enum txn_res     res;
    int              status;
    buf              fields;
    buf              content;
    bool             head_only;     /* HEAD request: no body bytes */
    bool             chunked_out;
    int64_t          declared_len;  /* streamed Content-Length, or -1 */
    uint64_t         body_bytes;
    http_txn_cb      drain_cb, close_cb, free_cb;
    void            *drain_arg, *close_arg, *free_arg;
    void            *data;
    char             note[256];
    char             remote[NET_ADDR_MAX];
    time_t           started;
    /* Last, and mostly not cleared: the field array is 3 KiB that the
     * parser fills up to num_headers (see txn_new). */
    struct http_head head;
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
    struct http_server_stats stats;
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

/* server.c */
WR_HIDDEN const char *srv_date(http_server *s);
/* The Server and Date fields of every answer, rebuilt once a second. */
WR_HIDDEN const char *srv_fixed_fields(http_server *s, size_t *len);
WR_HIDDEN size_t srv_max_body(const http_server *s);
/* Finishes a graceful shutdown once the last connection is gone. */
WR_HIDDEN void srv_maybe_done(http_server *s);

/* server_conn.c: the connection state machine.  conn_step() advances while
 * progress is possible; conn_update() derives the poll interest from the
 * state; conn_close() is idempotent and defers the free. */
WR_HIDDEN void conn_new(http_server *s, int fd, const struct sockaddr_storage *ss);
WR_HIDDEN void conn_step(struct conn *c);
WR_HIDDEN void conn_update(struct conn *c);
WR_HIDDEN void conn_close(struct conn *c);
WR_HIDDEN void conn_arm(struct conn *c);
WR_HIDDEN void conn_error(struct conn *c, int status);
WR_HIDDEN int conn_flush(struct conn *c);
/* Brings the server's out_queued to `queued` bytes for c (its queue, or 0
 * at close).  conn_update() does it after every step; http_txn_write()
 * at once, for producers that look at the count between steps. */
WR_HIDDEN void conn_account(struct conn *c, size_t queued);
WR_HIDDEN void conn_continue_100(struct conn *c);
/* Gives up c->file_fd: closes it, or hands a borrowed one back. */
WR_HIDDEN void conn_file_done(struct conn *c);

/* server_txn.c: a transaction's life. */
WR_HIDDEN http_txn *txn_new(struct conn *c);
WR_HIDDEN void txn_free(http_txn *t);
WR_HIDDEN int txn_own_head(http_txn *t, const char *base);
WR_HIDDEN int txn_decode_path(http_txn *t);
WR_HIDDEN bool txn_keepalive(const http_txn *t);
WR_HIDDEN void txn_log(http_txn *t);
WR_HIDDEN void txn_complete(http_txn *t);

#endif
