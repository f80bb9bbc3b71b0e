/*
 * server.h - the HTTP/1.1 server engine on the reactor.
 *
 * A server owns listeners and connections.  Each connection is a state
 * machine (read head -> read body -> handler -> write -> keep-alive) that
 * parses with http.h, enforces every limit of limits.h, answers protocol
 * errors itself, and hands each valid request to one handler as an
 * http_txn (a transaction: the request view plus the response builder).
 *
 * Life of a transaction: the handler receives it and must complete it
 * exactly once, now or later (from a timer or another socket's callback),
 * with http_txn_finish(), http_txn_reply(), http_txn_error(),
 * http_txn_send_file(), http_txn_end() after http_txn_begin(),
 * http_txn_abort(), or http_txn_hijack().  If the client goes away first,
 * the on_close callback (if set) runs and the transaction stays valid until
 * it is completed; completing it then only frees it.
 *
 * Unless stated otherwise: int functions return 0 or -1 with errno; strings
 * returned are NUL-terminated and live as long as the transaction.
 */
#ifndef WEAPROUS_SERVER_H
#define WEAPROUS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weaprous/api.h"
#include "weaprous/buf.h"
#include "weaprous/ev.h"
#include "weaprous/http.h"

WR_API_BEGIN

typedef struct http_server http_server;
typedef struct http_txn http_txn;

typedef void (*http_handler_fn)(http_txn *t, void *arg);
typedef void (*http_txn_cb)(http_txn *t, void *arg);
/* Streaming request body: n bytes at p; last is true once, at the end (then
 * n may be 0).  Runs only after http_txn_on_body(). */
typedef void (*http_body_cb)(http_txn *t, const char *p, size_t n, bool last,
                             void *arg);

struct http_server_config {
    size_t   max_body;              /* 413 above; 0: HTTP_DEFAULT_MAX_BODY */
    unsigned header_timeout_ms;     /* 408; 0: HTTP_HEADER_TIMEOUT_MS */
    unsigned body_timeout_ms;       /* 408; 0: HTTP_BODY_TIMEOUT_MS */
    unsigned keepalive_timeout_ms;  /* 0: HTTP_KEEPALIVE_TIMEOUT_MS */
    unsigned send_timeout_ms;       /* 0: HTTP_SEND_TIMEOUT_MS */
    unsigned max_keepalive_requests;/* 0: HTTP_MAX_KEEPALIVE_REQUESTS */
    bool     stream_body;  /* call the handler after the head; body is then
                              read only through http_txn_on_body() */
    const char *server_name;        /* Server field; NULL: "weaprous" */
};

struct http_server_stats {
    uint64_t connections_total;
    uint64_t requests_total;
    uint64_t errors_total;          /* answers >= 400 made by the engine */
    size_t   connections_active;
    size_t   out_queued;            /* bytes waiting in the output queues of
                                       all connections (not files) */
};

/* Creates a server on loop; cfg may be NULL for the defaults (it is copied). */
http_server *http_server_new(ev_loop *loop, const struct http_server_config *cfg,
                             http_handler_fn handler, void *arg);
/* Binds and listens on ip:port (port 0: any; see http_server_port()).  May
 * be called several times for several listeners. */
int http_server_listen(http_server *s, const char *ip, int port);
/* Adds an already listening socket (non-blocking is set here). */
int http_server_adopt(http_server *s, int listen_fd);
/* Port of the first listener (after binding port 0). */
int http_server_port(const http_server *s);
/* Graceful stop: close listeners and idle connections, let in-flight
 * requests finish (Connection: close), then call done (may be NULL) once no
 * connection is left or after grace_ms, whichever is first. */
void http_server_shutdown(http_server *s, unsigned grace_ms,
                          void (*done)(http_server *s, void *arg), void *arg);
/* Closes everything at once and frees the server. */
void http_server_free(http_server *s);
void http_server_get_stats(const http_server *s, struct http_server_stats *st);
ev_loop *http_server_loop(const http_server *s);
/* Replaces the handler (e.g. after a configuration reload). */
void http_server_set_handler(http_server *s, http_handler_fn handler, void *arg);

/* --- request view --- */
const struct http_head *http_txn_head(const http_txn *t);
enum http_method http_txn_method(const http_txn *t);
const char *http_txn_method_str(const http_txn *t);
const char *http_txn_target(const http_txn *t);   /* raw request-target */
const char *http_txn_path(const http_txn *t);     /* percent-decoded path */
const char *http_txn_query(const http_txn *t);    /* raw query after '?' or "" */
/* First field of that name (case-insensitive), or NULL. */
const char *http_txn_header(const http_txn *t, const char *name);
/* Buffered body (not in stream_body mode); *len may be NULL.  Never NULL:
 * an empty body is "".  The body is followed by a NUL byte. */
const char *http_txn_body(const http_txn *t, size_t *len);
const char *http_txn_remote_addr(const http_txn *t);   /* "127.0.0.1" */
int http_txn_remote_port(const http_txn *t);
int http_txn_local_port(const http_txn *t);
http_server *http_txn_server(const http_txn *t);
ev_loop *http_txn_loop(const http_txn *t);
/* True when the client will get Connection: close after this response. */
bool http_txn_closing(const http_txn *t);
/* One pointer of per-request data for the application layer. */
void *http_txn_get_data(const http_txn *t);
void http_txn_set_data(http_txn *t, void *data);
/* Extra text appended to this request's access-log line. */
void http_txn_log_note(http_txn *t, const char *note);

/* --- streaming request body (stream_body mode) --- */
/* Starts delivering the body to cb (sends 100 Continue if the client asked).
 * A request without body gets one call with last = true. */
void http_txn_on_body(http_txn *t, http_body_cb cb, void *arg);
/* Stops / resumes reading the client while the consumer is congested. */
void http_txn_pause_body(http_txn *t, bool paused);

/* --- response --- */
void http_txn_set_status(http_txn *t, int status);
/* Adds a response field; fails with EINVAL for a bad name or a value with
 * CR, LF or NUL, with ENOBUFS when the head is full.  Date, Server,
 * Content-Length, Transfer-Encoding and Connection are the engine's. */
int http_txn_add_header(http_txn *t, const char *name, const char *value);
/* The same with lengths: name[0..nlen) and value[0..vlen) need no NUL
 * (e.g. the slices of a parsed head). */
int http_txn_add_field(http_txn *t, const char *name, size_t nlen,
                       const char *value, size_t vlen);
int http_txn_add_headerf(http_txn *t, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends to the buffered body (capped at CONN_OUT_CAP: ENOBUFS). */
int http_txn_append(http_txn *t, const void *p, size_t n);
int http_txn_printf(http_txn *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sends status, fields and the buffered body with Content-Length. */
void http_txn_finish(http_txn *t);
/* Shorthand: status, Content-Type and body, then finish. */
void http_txn_reply(http_txn *t, int status, const char *content_type,
                    const void *body, size_t len);
/* The engine's own error page for status (one place for every error
 * answer).  Closes the connection after statuses that leave the stream in
 * doubt (400, 408, 413, 414, 431 ...). */
void http_txn_error(http_txn *t, int status);
/* Sends length bytes of fd from offset as the body with Content-Length,
 * in FILE_CHUNK pieces (never the whole file in memory).  Takes ownership
 * of fd (closed when done, also on failure). */
void http_txn_send_file(http_txn *t, int fd, off_t offset, off_t length);
/* Called once when the engine stops using a borrowed fd. */
typedef void (*http_fd_release_fn)(int fd, void *arg);
/* Like http_txn_send_file(), but fd is borrowed (e.g. from an open-file
 * cache): the engine never closes it and reads it only with explicit
 * offsets (pread, sendfile), so several responses may share it.  It calls
 * release(fd, arg) exactly once when it no longer needs fd: after the last
 * byte is handed to the socket, on any failure, when the client goes away,
 * or at once for HEAD and empty bodies (possibly before this returns).
 * The caller must keep fd open until then.  release NULL: same as
 * http_txn_send_file (fd owned and closed). */
void http_txn_send_fd(http_txn *t, int fd, off_t offset, off_t length,
                      http_fd_release_fn release, void *arg);

/* Streaming response: begin sends the head now, with Content-Length when
 * content_length >= 0, else chunked (HTTP/1.1) or close-delimited (1.0). */
int http_txn_begin(http_txn *t, int64_t content_length);
/* Queues body bytes (chunk-framed when chunked).  -1/ENOBUFS when the output
 * queue is at its cap: wait for drain.  -1/EPIPE when the client is gone. */
int http_txn_write(http_txn *t, const void *p, size_t n);
void http_txn_end(http_txn *t);
/* Output queue above CONN_OUT_HIGH_WATER: stop producing until drain. */
bool http_txn_congested(const http_txn *t);
/* Bytes waiting in the connection's output queue; 0 once the client is
 * gone.  (The sum over a server is in http_server_stats.out_queued.) */
size_t http_txn_queued(const http_txn *t);
/* cb runs once, on a writable event with the queue below half of
 * CONN_OUT_HIGH_WATER. */
void http_txn_on_drain(http_txn *t, http_txn_cb cb, void *arg);
/* Runs when the client connection is lost before the transaction completes. */
void http_txn_on_close(http_txn *t, http_txn_cb cb, void *arg);
/* Runs when the transaction is freed, whatever completed it: the place to
 * release per-request data set with http_txn_set_data(). */
void http_txn_on_free(http_txn *t, http_txn_cb cb, void *arg);
/* Closes the client connection now: the response stays incomplete (e.g. an
 * upstream died mid-body), which the client can tell. */
void http_txn_abort(http_txn *t);

/* Takes the connection over (protocol upgrade, tunnel): unregisters it from
 * the server and the loop, moves received-but-unparsed bytes into *rest
 * (initialised by the caller) and returns the fd, now owned by the caller.
 * Completes and frees t.  -1 if the connection is already gone. */
int http_txn_hijack(http_txn *t, buf *rest);

WR_API_END

#endif
