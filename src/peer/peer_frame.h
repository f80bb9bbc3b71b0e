/*
 * peer_frame.h - the P2P wire format (docs/PROTOCOL.md, "Framing"): a
 * 4-byte big-endian length N (1 <= N <= PEER_FRAME_MAX), then N bytes of
 * one UTF-8 JSON object whose member "t" names the frame type.
 *
 * The parser only parses: no I/O, no state, the same answer whether the
 * bytes come whole or one at a time.  The typed readers check one frame
 * type's members; the writers append a whole frame to a buf.  Nothing here
 * knows about links, tracker or store.
 */
#ifndef WR_PEER_FRAME_H
#define WR_PEER_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weaprous/buf.h"
#include "weaprous/db.h"
#include "weaprous/json.h"

#define PEER_FRAME_AGAIN   (-2)       /* need more bytes */
#define PEER_FRAME_BAD     (-1)       /* protocol error: see peer_frame.error */

#define PEER_FRAME_HEADER  4          /* the length prefix */
#define PEER_FRAME_MAX     65536      /* payload bytes of one frame */
#define PEER_PROTO_VERSION 1          /* "v" of hello and welcome */
#define PEER_TICKET_HEX    64         /* a tracker ticket: 32 bytes in hex */
#define PEER_TEXT_MAX      4000       /* bytes of one message's text */
#define PEER_CHANNEL_MAX   (3 + 2 * DB_MAX_NAME + 1)  /* "dm:" a ":" b */
#define PEER_VECTOR_MAX    10000      /* origins in one have vector */
#define PEER_WANT_MAX      100000     /* messages one want may ask for */
#define PEER_SEQ_MAX       ((int64_t)1 << 53)  /* exact in every JSON reader */
#define PEER_CODE_MAX      64         /* bytes of an error code */
#define PEER_DETAIL_MAX    512        /* bytes of an error detail */

/* Frame types, in the order of the type table (peer_frame_type_name). */
enum peer_frame_type {
    PF_HELLO,     /* dialer's first frame: user, ticket */
    PF_WELCOME,   /* acceptor's answer: user, its own ticket */
    PF_ERROR,     /* code, detail: the sender closes after it */
    PF_HAVE,      /* channel, vector {origin: highest contiguous seq}, reply? */
    PF_WANT,      /* channel, origin, from, to: send these */
    PF_MSG,       /* one message */
    PF_PING,
    PF_PONG,
    PF_BYE,       /* orderly close */
    PF__COUNT
};

/* One parsed frame.  doc owns root and every string the typed readers
 * return; the caller frees it with json_free() (also NULL after BAD). */
struct peer_frame {
    enum peer_frame_type type;
    json_doc          *doc;
    const json_value  *root;
    /* on PEER_FRAME_BAD: the error code to send, and a detail */
    const char        *error;       /* "frame-length", "bad-json", "not-object", "unknown-type" */
    const char        *detail;
};

/*
 * Parses the frame at the start of buf[0..len).  Returns the bytes it
 * occupies (PEER_FRAME_HEADER + N) with *f filled; PEER_FRAME_AGAIN when
 * more bytes are needed (a length out of range is BAD as soon as the four
 * length bytes are there); PEER_FRAME_BAD with f->error when the length is
 * out of range or the payload is not one JSON object with a known string
 * "t".  f->doc is NULL unless a frame was returned.
 */
ssize_t peer_frame_parse(const char *data, size_t len, struct peer_frame *f);

const char *peer_frame_type_name(enum peer_frame_type t);

/* --- typed readers: 0, or -1 with *why set to a short reason --- */

struct pf_hello {                /* hello and welcome */
    const char *user;
    const char *ticket;
};
struct pf_error {
    const char *code;
    const char *detail;          /* may be NULL */
};
struct pf_want {
    const char *channel, *origin;
    int64_t from, to;
};
struct pf_msg {
    const char *channel, *origin;
    int64_t seq, lamport, sent_at;   /* sent_at: Unix ms */
    const char *text;
    size_t text_len;
};
/* have: the vector stays a JSON object; walk it with json_member() after
 * peer_frame_have() checked every entry (a valid user name -> 0..2^53). */
struct pf_have {
    const char *channel;
    const json_value *vector;
    bool reply;                  /* an answer to our have: do not answer it */
};

int peer_frame_hello(const struct peer_frame *f, struct pf_hello *h, const char **why);
int peer_frame_error(const struct peer_frame *f, struct pf_error *e, const char **why);
int peer_frame_want(const struct peer_frame *f, struct pf_want *w, const char **why);
int peer_frame_msg(const struct peer_frame *f, struct pf_msg *m, const char **why);
int peer_frame_have(const struct peer_frame *f, struct pf_have *h, const char **why);

/* True for a channel a message may name: a tracker channel name (1..32 of
 * [A-Za-z0-9_-], starting with a letter or digit) or "dm:A:B" with two
 * different valid user names in byte order. */
bool peer_channel_valid(const char *name);
/* For "dm:A:B": copies the user that is not `me` into other[DB_MAX_NAME + 1]
 * and returns true; false when name is not a dm channel of me. */
bool peer_dm_other(const char *name, const char *me, char *other);
/* Writes "dm:A:B" for the users a and b (sorted) into out[PEER_CHANNEL_MAX + 1]. */
void peer_dm_name(const char *a, const char *b, char *out);

/* --- writers: append one whole frame to out.  0, or -1 with errno
 * (ENOBUFS: out is full or the frame would exceed PEER_FRAME_MAX; out is
 * then unchanged). --- */

int peer_frame_put_hello(buf *out, enum peer_frame_type t, const char *user,
                         const char *ticket);
int peer_frame_put_error(buf *out, const char *code, const char *detail);
int peer_frame_put_msg(buf *out, const struct pf_msg *m);
int peer_frame_put_want(buf *out, const struct pf_want *w);
/* ping, pong, bye: a frame with "t" alone. */
int peer_frame_put_bare(buf *out, enum peer_frame_type t);

/* A have frame is written entry by entry: begin, add each origin, end. */
struct pf_have_writer {
    json_writer w;
    buf *out;
    size_t mark;     /* where the frame starts in out */
};
void peer_frame_have_begin(struct pf_have_writer *hw, buf *out, const char *channel,
                           bool reply);
void peer_frame_have_add(struct pf_have_writer *hw, const char *origin, int64_t seq);
int peer_frame_have_end(struct pf_have_writer *hw);

#endif
