/*
 * proxy_fwd.h - one proxied request, shared by its three files:
 *
 *   proxy_fwd.c       entry and retries: the handler, the request object,
 *                     which server gets the next attempt, the proxy's own
 *                     error answers, the one exit
 *   proxy_upstream.c  the upstream connection as a state machine: one
 *                     enum, one transition function, interest and timeout
 *                     derived from the state; the relay of the bodies
 *   proxy_head.c      the head rewriting: the request head sent upstream,
 *                     the response fields passed to the client
 *
 * The client side is an http_txn of the engine (stream_body mode); the
 * upstream's response is read with the library's response reader.
 */
#ifndef PROXY_FWD_H
#define PROXY_FWD_H

#include <stdbool.h>
#include <stdint.h>

#include "weaprous/buf.h"
#include "weaprous/http.h"
#include "weaprous/server.h"
#include "proxy.h"

/* The upstream side of one request, attempt by attempt. */
enum up_state {
    UP_IDLE,        /* no attempt: before the first, between two */
    UP_CONNECTING,  /* a fresh connection is being made */
    UP_SENDING,     /* the request head and body go out (an early answer
                       is read too) */
    UP_READ_HEAD,   /* the request is sent: the response head comes */
    UP_READ_BODY,   /* the head is the client's: the body flows */
    UP_DONE         /* finished; freed at the end of the pass */
};

/* The client's request body, as the upstream side takes it. */
enum req_body {
    REQ_BODY_UNREAD,   /* not asked for yet (the first connect asks) */
    REQ_BODY_READING,
    REQ_BODY_PAUSED,   /* the upstream is slower than the client */
    REQ_BODY_DONE      /* all of it is in r->out (or there was none) */
};

/* Facts of the request, fixed when it starts. */
enum preq_flag {
    PREQ_IDEMPOTENT = 1 << 0,  /* may be sent twice (RFC 9110 9.2.2) */
    PREQ_TUNNEL     = 1 << 1,  /* a WebSocket upgrade */
    PREQ_HEAD       = 1 << 2,  /* HEAD: the response has no body */
    PREQ_CHUNKED    = 1 << 3   /* the body comes chunked (and goes so) */
};

struct preq {
    struct proxy_ctx  *ctx;
    http_txn          *t;          /* NULL once completed or the client left */
    struct proxy_rt   *rt;         /* reference held */
    struct proxy_pool *pool;
    struct proxy_peer *peer;       /* current attempt */
    enum up_state      state;
    enum req_body      body;
    unsigned           flags;      /* PREQ_* */
    int                fd;
    struct proxy_idle *conn;       /* fd's pool node when it came from the pool */
    bool               fresh_retry_done; /* the once-per-request fresh retry */
    bool               replayable; /* the whole body so far is in replay */
    uint64_t           tried;      /* bit i: server i had an attempt */
    unsigned char      key[16];    /* ip-hash key */
    size_t             keylen;
    buf                head, out, replay, in;
    uint64_t           body_total;
    int                fail_status; /* answer if no server is left */
    ev_timer           timer;
    char               rid[PROXY_REQUEST_ID_MAX + 1];
    /* Last: not cleared on reuse (preq_alloc clears up to here, not these
     * ~5 KB); the reader is initialised before each attempt. */
    struct http_reader rd;
};

/* proxy_fwd.c: the outcomes the upstream machine reports. */
/* The one exit: upstream released (parked when keep), the transaction
 * completed or aborted, the object freed after the pass.  Idempotent. */
void proxy_fwd_finish(struct preq *r, bool keep);
/* The proxy's own answer (an error page while no head went to the client,
 * else a cut), then the exit. */
void proxy_fwd_error(struct preq *r, int status);
/* The attempt failed before a response: the server is marked, the request
 * goes to another one when it may, else `status` is answered. */
void proxy_fwd_failed(struct preq *r, int status, const char *why);
/* The proxy lacks a resource (descriptors, memory, ports): 503. */
void proxy_fwd_local_failed(struct preq *r, const char *why);
/* A pooled connection died before answering: true when the request went
 * again, once, on a fresh connection. */
bool proxy_fwd_retry_fresh(struct preq *r);

/* proxy_upstream.c */
/* Starts an attempt on server idx: an idle pooled connection unless
 * `fresh` or the request is not idempotent, else a new one. */
void proxy_upstream_start(struct preq *r, int idx, bool fresh);
/* Ends the attempt: the connection parked when `keep`, else closed. */
void proxy_upstream_release(struct preq *r, bool keep);

/* proxy_head.c */
/* The host the request names (absolute-form authority, else Host); *n = 0
 * when none. */
const char *proxy_head_host(http_txn *t, size_t *n);
/* Builds r->head, the request head sent upstream (once: retries send the
 * same bytes); -1 when it does not fit. */
int proxy_head_request(struct preq *r);
/* Adds the upstream's end-to-end response fields (r->rd.head) to the
 * client's answer, and X-Request-ID when the upstream set none. */
void proxy_head_response(struct preq *r);

#endif
