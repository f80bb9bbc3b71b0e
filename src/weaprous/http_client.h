/*
 * http_client.h - a non-blocking HTTP/1.1 client on the reactor (peer ->
 * tracker calls): numeric destinations only (resolve names once at start-up
 * with net_resolve()), non-blocking connect, request with headers and body,
 * Content-Length / chunked / close-delimited responses with a body cap,
 * keep-alive reuse through a small idle pool per client, connect and
 * overall timeouts, cancel.
 *
 * Every request that hc_request_start() accepted completes exactly once
 * through its callback (from the loop, never from inside hc_request_start),
 * unless it is cancelled first.
 */
#ifndef WEAPROUS_HTTP_CLIENT_H
#define WEAPROUS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "weaprous/api.h"
#include "weaprous/ev.h"
#include "weaprous/http.h"

WR_API_BEGIN

#define HC_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define HC_DEFAULT_TIMEOUT_MS         30000     /* whole request -> ETIMEDOUT */
#define HC_DEFAULT_MAX_BODY           (1u << 20)/* larger body -> EMSGSIZE */
#define HC_DEFAULT_IDLE_TIMEOUT_MS    15000     /* pooled connection lifetime */
#define HC_DEFAULT_MAX_IDLE_PER_DEST  4
#define HC_POOL_MAX                   32        /* idle connections per client */
#define HC_MAX_REQUEST_HEAD           16384     /* our own request head */

typedef struct hc_client hc_client;
typedef struct hc_request hc_request;

/* Zero fields take the HC_DEFAULT_* values. */
struct hc_config {
    unsigned connect_timeout_ms;
    unsigned timeout_ms;
    size_t   max_body;
    unsigned idle_timeout_ms;
    unsigned max_idle_per_dest;
};

/* A complete response; everything lives until the callback returns. */
struct hc_response {
    int status;
    const struct http_head *head;   /* fields: http_head_find(head, name) */
    const char *body;               /* decoded body, NUL-terminated */
    size_t body_len;
};

/*
 * Completion: err is 0 and resp is set, or err is an errno value and resp
 * is NULL: ECONNREFUSED (and other connect errors), ETIMEDOUT (connect or
 * overall timeout), ECONNRESET (closed before the response was complete),
 * EPROTO (malformed response), EMSGSIZE (body over max_body), ENOMEM.
 * The request is gone once the callback returns.
 */
typedef void (*hc_done_cb)(hc_request *r, int err, const struct hc_response *resp,
                           void *arg);

/* A client context: configuration and the idle connection pool.  cfg may
 * be NULL.  Returns NULL with errno. */
hc_client *hc_client_new(ev_loop *loop, const struct hc_config *cfg);
/* Cancels every request in flight (no callback runs), closes the pool and
 * frees the client. */
void hc_client_free(hc_client *c);

/* One request: method and target as on the request line; host is the Host
 * field; headers is NULL or a NULL-terminated list of "Name: value" lines;
 * body may be NULL.  Content-Length is added when there is a body or the
 * method is POST, PUT or PATCH.  Returns the request, or NULL with errno
 * (EINVAL for a bad method, target, host or header line; ENOMEM) and then
 * no callback runs. */
hc_request *hc_request_start(hc_client *c, const struct sockaddr *sa, socklen_t salen,
                             const char *method, const char *host,
                             const char *target, const char *const *headers,
                             const void *body, size_t body_len,
                             hc_done_cb cb, void *arg);
/* Shorthand: POST with Content-Type: application/json. */
hc_request *hc_post_json(hc_client *c, const struct sockaddr *sa, socklen_t salen,
                         const char *host, const char *target, const char *json,
                         size_t len, hc_done_cb cb, void *arg);
/* Abandons a request: its connection is closed and its callback never
 * runs.  Not to be called after the callback. */
void hc_cancel(hc_request *r);

/* Idle pooled connections (for tests and statistics). */
size_t hc_client_idle(const hc_client *c);
/* Connections opened so far (reuse shows as fewer connects). */
unsigned long hc_client_connects(const hc_client *c);

WR_API_END

#endif
