/*
 * ws.h - WebSocket (RFC 6455): a frame codec without I/O, the handshake
 * helpers, a connection state machine on the reactor, broadcast sets and
 * the endpoint helper that upgrades a server transaction.
 *
 * No extension is ever negotiated, so every RSV bit is a protocol error.
 * Unless stated otherwise: int functions return 0 or -1 with errno.
 */
#ifndef WEAPROUS_WS_H
#define WEAPROUS_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weaprous/api.h"
#include "weaprous/ev.h"
#include "weaprous/http.h"
#include "weaprous/utf8.h"

WR_API_BEGIN

#define WS_AGAIN (-2)          /* need more bytes */
#define WS_ERROR (-1)          /* protocol error: see ws_parser.close_code */

#define WS_MAX_HEADER        14   /* 2 + 8 (length) + 4 (mask) */
#define WS_MAX_CONTROL       125  /* payload of ping, pong, close */
#define WS_KEY_LEN           24   /* Sec-WebSocket-Key: base64 of 16 bytes */
#define WS_ACCEPT_LEN        28   /* Sec-WebSocket-Accept: base64 of SHA-1 */

#define WS_DEFAULT_MAX_FRAME     (1u << 20)  /* larger frame -> close 1009 */
#define WS_DEFAULT_MAX_MESSAGE   (1u << 20)  /* larger message -> close 1009 */
#define WS_DEFAULT_OUT_CAP       (1u << 20)  /* queued output: send -> ENOBUFS */
#define WS_DEFAULT_PING_MS       30000       /* ping after this much silence */
#define WS_DEFAULT_PONG_MS       10000       /* no pong in time -> close (1006) */
#define WS_DEFAULT_CLOSE_MS      5000        /* close handshake deadline */
#define WS_READ_PER_PASS         (64u << 10) /* fairness: bytes read per pass */
#define WS_CONN_MAX_SETS         8           /* sets one connection may join */
#define WS_SET_MAX               65536       /* members of one set */

enum ws_opcode {
    WS_OP_CONT = 0x0, WS_OP_TEXT = 0x1, WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8, WS_OP_PING = 0x9, WS_OP_PONG = 0xA
};

/* Which end we are: a server requires masked frames and sends unmasked
 * ones; a client the opposite. */
enum ws_role { WS_ROLE_SERVER, WS_ROLE_CLIENT };

enum ws_close_code {
    WS_CLOSE_NORMAL = 1000, WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002, WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005,   /* never sent: close frame without a code */
    WS_CLOSE_ABNORMAL = 1006,    /* never sent: no close frame at all */
    WS_CLOSE_BAD_DATA = 1007, WS_CLOSE_POLICY = 1008, WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_EXTENSION = 1010, WS_CLOSE_INTERNAL = 1011,
    WS_CLOSE_TRY_AGAIN = 1013
};

/* --- frame parser --- */

/* Message-level state and limits.  Initialise with ws_parser_init(); the
 * limits may then be changed.  Fields marked private are the parser's. */
struct ws_parser {
    enum ws_role role;
    uint64_t max_frame;      /* payload bytes of one frame */
    uint64_t max_message;    /* payload bytes of one reassembled message */
    /* private: the data message in progress */
    bool in_message;
    enum ws_opcode msg_opcode;
    uint64_t msg_len;
    struct utf8_state utf8;  /* text validation across fragments */
    /* on WS_ERROR */
    int close_code;          /* 1002, 1007 or 1009: the code to close with */
    const char *error;       /* short reason, for logs and the close frame */
};

/* One complete frame.  payload points into the caller's buffer, unmasked. */
struct ws_frame {
    enum ws_opcode opcode;   /* as on the wire (WS_OP_CONT for fragments) */
    enum ws_opcode message;  /* data frames: TEXT or BINARY of the message */
    bool fin;                /* data frames: last fragment of the message */
    char *payload;
    size_t len;
    /* close frames: the code (1005 when the payload is empty) and reason */
    int close_code;
    const char *reason;
    size_t reason_len;
};

void ws_parser_init(struct ws_parser *p, enum ws_role role);

/*
 * Parses one frame at the start of buf[0..len).  Returns the bytes it
 * occupies (header + payload) when the whole frame is there, unmasking the
 * payload in place and filling *f; WS_AGAIN when more bytes are needed
 * (nothing is changed: call again with the same bytes and more); WS_ERROR
 * with p->close_code and p->error as soon as the bytes show a violation:
 * RSV bits, reserved opcodes, a mask bit wrong for the role, a 64-bit length
 * with its top bit set, a control frame that is fragmented or longer than
 * 125 bytes, a continuation without a message or a new data frame inside
 * one, a close payload of 1 byte or with an invalid code (1002); text that
 * is not UTF-8, across fragments, or a close reason that is not (1007); a
 * frame or message above the limits (1009).  After WS_ERROR the stream is
 * unusable.
 */
ssize_t ws_parse_frame(struct ws_parser *p, char *buf, size_t len,
                       struct ws_frame *f);

/* --- frame builder --- */

/* Bytes of a frame header for a payload of n bytes, masked or not. */
size_t ws_frame_header_len(uint64_t n, bool masked);
/* Writes a frame header into out (room for WS_MAX_HEADER bytes); mask is
 * NULL for an unmasked frame.  Returns the header length. */
size_t ws_frame_header(unsigned char *out, enum ws_opcode op, bool fin,
                       uint64_t n, const unsigned char *mask);
/* XORs p[0..n) with key, as if p started at payload offset `offset`. */
void ws_mask(void *p, size_t n, const unsigned char key[4], uint64_t offset);
/* Fills out with n unpredictable bytes (getrandom or /dev/urandom). */
int ws_random(void *out, size_t n);

/* True for a code a peer may put on the wire: 1000-1003, 1007-1014,
 * 3000-4999. */
bool ws_close_code_valid(int code);
/* Writes a close payload (code, then reason cut at a character boundary so
 * that the payload stays within 125 bytes) into out[WS_MAX_CONTROL];
 * returns its length. */
size_t ws_close_payload(char *out, int code, const char *reason);

/* --- handshake --- */

/* Sec-WebSocket-Accept for a client key: base64(SHA-1(key + GUID)), into
 * out[WS_ACCEPT_LEN + 1], NUL-terminated. */
void ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1]);
/* Checks a parsed request head for a valid opening handshake (RFC 6455
 * 4.2.1): GET, HTTP/1.1 or later, Upgrade: websocket, Connection listing
 * upgrade, Sec-WebSocket-Key (once) the base64 of 16 bytes, Sec-WebSocket-Version
 * 13.  Returns 0, or the status to answer: 426 for another version (answer
 * with Sec-WebSocket-Version: 13), else 400. */
int ws_handshake_check(const struct http_head *h);

/* Client side: writes an opening handshake for host and target into
 * out[cap] with a fresh random key (copied to key[WS_KEY_LEN + 1]) and
 * returns its length, or -1 (EINVAL for CR/LF or spaces in the arguments,
 * ENOBUFS when out is too small). */
int ws_client_request(char *out, size_t cap, const char *host, const char *target,
                      char key[WS_KEY_LEN + 1]);
/* Client side: 0 when the parsed response head accepts our key (101,
 * Upgrade: websocket, Connection: upgrade, the right Sec-WebSocket-Accept,
 * no extension we did not ask for), else -1. */
int ws_client_check_response(const struct http_head *h, const char *key);

/* --- connection on the reactor --- */

typedef struct ws_conn ws_conn;
typedef struct ws_set ws_set;

enum ws_state {
    WS_STATE_OPEN,      /* messages flow both ways */
    WS_STATE_CLOSING,   /* a close frame was sent or received; draining */
    WS_STATE_CLOSED     /* socket closed, on_close ran; freed after the pass */
};

/* Callbacks; any may be NULL.  on_close runs exactly once, with the code of
 * the close frame received (1005 if it had none, 1006 if none came); after
 * it returns the connection must not be used (it is freed at the end of the
 * loop pass).  A text message is valid UTF-8; data is not NUL-terminated. */
struct ws_handlers {
    void (*on_open)(ws_conn *c, void *arg);
    void (*on_message)(ws_conn *c, enum ws_opcode op, const char *data,
                       size_t len, void *arg);
    void (*on_close)(ws_conn *c, int code, const char *reason, void *arg);
};

/* Zero fields take the WS_DEFAULT_* values. */
struct ws_config {
    size_t   max_frame;
    size_t   max_message;
    size_t   out_cap;            /* queued output bytes */
    unsigned ping_interval_ms;   /* UINT32_MAX: never ping */
    unsigned pong_timeout_ms;
    unsigned close_timeout_ms;
};

/*
 * Starts a WebSocket connection on fd (non-blocking, past the handshake;
 * owned from now on, also on failure).  `pre` (may be NULL) is queued for
 * sending before any frame (the 101 answer of a server); `rest` holds bytes
 * already received after the handshake.  Calls on_open, then handles rest.
 * Returns the connection (which may already be closing), or NULL with errno
 * (fd closed, no callback runs).
 */
ws_conn *ws_conn_new(ev_loop *loop, int fd, enum ws_role role,
                     const struct ws_config *cfg, const struct ws_handlers *h,
                     void *arg, const void *pre, size_t pre_len,
                     const void *rest, size_t rest_len);

/* Queues one message as a single frame.  -1 with ENOBUFS when it does not
 * fit under out_cap now (nothing queued: the caller decides; see
 * ws_set_broadcast), EMSGSIZE when it could never fit (larger than
 * out_cap), EPIPE once closing or closed, EILSEQ for text that is not
 * UTF-8. */
int ws_send_text(ws_conn *c, const char *s, size_t n);
int ws_send_binary(ws_conn *c, const void *p, size_t n);
/* Queues a ping with up to 125 bytes of payload. */
int ws_ping(ws_conn *c, const void *p, size_t n);
/* Starts the close handshake with code (ws_close_code_valid) and reason;
 * idempotent once closing.  on_close follows when the peer answers or after
 * close_timeout_ms.  -1/EINVAL for an invalid code. */
int ws_close(ws_conn *c, int code, const char *reason);

enum ws_state ws_conn_state(const ws_conn *c);
/* Bytes queued for sending; above half of out_cap the peer is slow. */
size_t ws_conn_queued(const ws_conn *c);
void *ws_conn_get_data(const ws_conn *c);
void ws_conn_set_data(ws_conn *c, void *data);
ev_loop *ws_conn_loop(const ws_conn *c);

/* --- broadcast sets ("rooms") --- */

/* A set of open connections.  A connection leaves its sets by itself when
 * it closes.  overflow_code is sent to a member whose queue cannot take a
 * broadcast (0: WS_CLOSE_TRY_AGAIN, 1013: the client should reconnect and
 * catch up from history; 1008 is the other sensible choice). */
ws_set *ws_set_new(int overflow_code);
/* Removes every member (they stay open) and frees the set. */
void ws_set_free(ws_set *s);
/* -1/ENOSPC when the set or the connection's membership list is full;
 * adding a member twice is a no-op. */
int ws_set_add(ws_set *s, ws_conn *c);
void ws_set_remove(ws_set *s, ws_conn *c);
size_t ws_set_size(const ws_set *s);
/* Sends one message to every open member except `except` (may be NULL).  A
 * member whose output queue is full is closed with the overflow code, so a
 * slow client never makes memory grow.  Returns the members reached. */
size_t ws_set_broadcast(ws_set *s, enum ws_opcode op, const void *p, size_t n,
                        const ws_conn *except);

/* --- endpoint --- */

struct http_txn;

/*
 * Answers a WebSocket opening handshake on a server transaction: checks it
 * (ws_handshake_check) and answers 400 or 426 itself, else takes the
 * connection over (http_txn_hijack), queues the 101 answer and starts a
 * server connection with cfg (may be NULL), h and arg.  Completes t in every
 * case.  Returns the connection, or NULL when the handshake was refused or
 * the connection is gone.  Checking Origin (cross-site WebSocket hijacking)
 * is the caller's job, before this call.
 */
ws_conn *ws_upgrade(struct http_txn *t, const struct ws_config *cfg,
                    const struct ws_handlers *h, void *arg);

WR_API_END

#endif
