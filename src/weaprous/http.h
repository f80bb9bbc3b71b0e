/*
 * http.h - HTTP/1.1 message syntax (RFC 9110/9112): an incremental head
 * parser for requests and responses, a chunked body decoder, and the small
 * pure helpers every HTTP role needs (status texts, methods, dates, URL
 * decoding, header lookup).  Nothing here allocates or does I/O.
 */
#ifndef WEAPROUS_HTTP_H
#define WEAPROUS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "weaprous/api.h"
#include "weaprous/limits.h"

WR_API_BEGIN

#define HTTP_AGAIN (-2)   /* need more bytes */
#define HTTP_ERROR (-1)   /* malformed; see parser's status/error */

enum http_method {
    HTTP_M_UNKNOWN = 0,
    HTTP_M_GET, HTTP_M_HEAD, HTTP_M_POST, HTTP_M_PUT, HTTP_M_DELETE,
    HTTP_M_OPTIONS, HTTP_M_PATCH, HTTP_M_CONNECT, HTTP_M_TRACE,
    HTTP_M__COUNT
};

struct http_header {
    const char *name;  size_t name_len;
    const char *value; size_t value_len;   /* OWS trimmed both sides */
};

/* Facts derived from the fields while parsing. */
#define HTTP_F_CHUNKED          0x01  /* Transfer-Encoding ends in chunked */
#define HTTP_F_CONN_CLOSE       0x02  /* Connection: close */
#define HTTP_F_CONN_KEEPALIVE   0x04  /* Connection: keep-alive */
#define HTTP_F_CONN_UPGRADE     0x08  /* Connection lists upgrade */
#define HTTP_F_UPGRADE          0x10  /* an Upgrade field is present */
#define HTTP_F_EXPECT_CONTINUE  0x20  /* Expect: 100-continue */
#define HTTP_F_TE_OTHER         0x40  /* response: TE not ending in chunked */

/* One parsed head.  All pointers point into the caller's buffer. */
struct http_head {
    /* request line */
    enum http_method method;
    const char *method_str;  size_t method_len;
    const char *target;      size_t target_len;
    /* status line */
    int status;
    const char *reason;      size_t reason_len;
    /* both */
    int version_major, version_minor;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t num_headers;
    int64_t content_length;  /* -1 when absent */
    unsigned flags;          /* HTTP_F_* */
    const char *host;        size_t host_len;  /* Host field, if any */
    size_t head_len;         /* bytes of the head including the blank line */
};

enum http_parser_kind { HTTP_PARSE_REQUEST, HTTP_PARSE_RESPONSE };

/* Resumable parser state.  Zero-initialise with http_parser_init(); after a
 * complete head or an error, init again before the next message. */
struct http_parser {
    enum http_parser_kind kind;
    int    state;          /* private: where the state machine stands */
    size_t pos;            /* bytes of the buffer already examined */
    size_t mark;           /* private: start of the current field name */
    size_t line_start;     /* private: start of the request line */
    size_t name_end;       /* private: end of the current field name */
    size_t value_start;    /* private: start of the current field value */
    size_t nfields;        /* private: fields recorded in offs */
    uint32_t offs[HTTP_MAX_HEADERS][4]; /* private: field offsets */
    uint32_t rl[6];        /* private: request/status line offsets */
    enum http_method method; /* private: parsed once, at the request line */
    int    status;         /* on HTTP_ERROR: the HTTP status to answer */
    const char *error;     /* on HTTP_ERROR: short reason, for logs */
    /* limits, set by init to the defaults of limits.h, may be changed */
    size_t max_line;
    size_t max_head;
    size_t max_headers;
};

void http_parser_init(struct http_parser *p, enum http_parser_kind kind);

/*
 * Parses the head at the start of buf[0..len).  buf holds every byte of the
 * message received so far (it may have moved since the last call; the parser
 * keeps offsets, not pointers) and resumes where the last call stopped, so
 * feeding bytes one at a time costs the same as feeding them at once and
 * gives the same result.
 *
 * Returns the head length (> 0) when the head is complete and fills *h;
 * HTTP_AGAIN when more bytes are needed; HTTP_ERROR when the head is invalid,
 * with p->status set to the status to answer (400, 411, 414, 431, 501, 505;
 * for responses always 502) and p->error to a short reason.
 *
 * Request rules (all answered 400 unless noted): request line over max_line
 * -> 414; head over max_head or fields over max_headers -> 431; bare CR, NUL
 * or other control bytes; obs-fold; whitespace before the colon; invalid
 * token characters in method or field name; Content-Length together with
 * Transfer-Encoding; differing or invalid Content-Length values;
 * Transfer-Encoding whose last coding is not chunked (or any TE in HTTP/1.0);
 * a missing Host in HTTP/1.1 or several Hosts; an unknown but well-formed
 * method -> 501; a major version other than 1 (and the HTTP/2 preface) ->
 * 505; POST, PUT or PATCH with neither length nor chunked -> 411.
 * Leading empty lines before a request line are skipped (RFC 9112 2.2).
 */
int http_parse_head(struct http_parser *p, const char *buf, size_t len,
                    struct http_head *h);

/* Chunked transfer-coding decoder, zero-initialised; the caller may then
 * set limit. */
struct http_chunked {
    int      state;        /* private: where the decoder stands */
    uint64_t remaining;    /* private: the chunk size being read, then the
                              bytes left in the current chunk */
    size_t   counter;      /* private: size digits, extension or trailer
                              bytes seen */
    uint64_t total;        /* decoded body bytes so far */
    uint64_t limit;        /* most body bytes allowed (inclusive); 0: none */
    int      status;       /* on HTTP_ERROR: 400 malformed, 413 over limit */
};

/*
 * Decodes buf[0..*len) in place: the body bytes are moved to the front and
 * *len is set to their count.  Returns HTTP_AGAIN when the body continues
 * (call again with new bytes), HTTP_ERROR on a malformed chunk size (hex
 * digits only: no sign, no space before it, no overflow past 2^63), a
 * malformed line ending, an oversize extension or trailer (status 400), a
 * chunk size that would take the total past limit, refused at the first byte
 * after its digits, before any of its data (status 413); or, at the end of the
 * body, the number of bytes that followed it (left right after the decoded
 * data: buf[*len .. *len + ret)).  Trailer fields are skipped.
 */
ssize_t http_chunked_decode(struct http_chunked *d, char *buf, size_t *len);
bool http_chunked_done(const struct http_chunked *d);

/* How a response body is delimited (RFC 9112 6.3). */
enum http_body {
    HTTP_BODY_NONE,      /* HEAD, 1xx, 204, 304: no body whatever the fields */
    HTTP_BODY_LENGTH,    /* Content-Length bytes (possibly 0) */
    HTTP_BODY_CHUNKED,   /* chunked transfer-coding */
    HTTP_BODY_CLOSE      /* until the connection closes */
};

/* The framing of the response h to a request (head_request: a HEAD). */
enum http_body http_response_body(const struct http_head *h, bool head_request);
/* True when the connection may carry another request after the response
 * h, framed as body says: not close-delimited, no Connection: close, and
 * HTTP/1.1 (or 1.0 with keep-alive). */
bool http_response_keepalive(const struct http_head *h, enum http_body body);

/*
 * The response reader: one response on the client side of a connection
 * (the HTTP client, the proxy's upstream, a health check).  The head, with
 * interim 1xx answers skipped, then the body framed by Content-Length,
 * chunked coding or the connection's close, under a cap.  Like the parser
 * it does no I/O and allocates nothing: the caller reads into its own
 * buffer and feeds the bytes.
 */
enum http_reader_state {
    HTTP_READER_HEAD,    /* reading the head (interim answers skipped) */
    HTTP_READER_BODY,    /* the head is in; body bytes to frame */
    HTTP_READER_DONE     /* the response is complete */
};

struct http_reader {
    enum http_reader_state state;
    enum http_body body;       /* the framing, once the head is in */
    bool     keepalive;        /* the connection may carry another request
                                  after this response (false once bytes
                                  follow the body) */
    bool     head_request;     /* the request was HEAD: no body */
    bool     too_large;        /* on HTTP_ERROR: the body passes max_body */
    const char *error;         /* on HTTP_ERROR: short reason, for logs */
    uint64_t max_body;         /* most body bytes accepted; 0: no cap */
    uint64_t remaining;        /* HTTP_BODY_LENGTH: body bytes still to come */
    uint64_t total;            /* body bytes framed so far */
    size_t   skipped;          /* bytes of interim answers before the head */
    struct http_chunked chunked;
    struct http_parser parser; /* its max_head caps the head */
    struct http_head head;     /* the final head; pointers into the buffer
                                  given to http_reader_head() */
};

/* Prepares r for one response to a request (head_request: HEAD). */
void http_reader_init(struct http_reader *r, bool head_request, uint64_t max_body);
/*
 * Reads the head at buf[0..len), which holds every byte of the response
 * received so far (buf may move between calls; the bytes stay).  Returns
 * the number of bytes up to the end of the final head (interim answers
 * before it included: the caller consumes them all), with r->head,
 * r->body and r->keepalive set and r->state BODY, or DONE when there is
 * no body (a 101 is final too, bodiless: the caller decides); HTTP_AGAIN
 * for more bytes; HTTP_ERROR for a malformed head, one over the parser's
 * max_head, or a Content-Length over max_body (too_large), with r->error.
 */
int http_reader_head(struct http_reader *r, const char *buf, size_t len);
/*
 * Frames the body bytes at buf[0..len) (in BODY state), decoding chunked
 * coding in place: on return buf[0..*n) are the body bytes to deliver.
 * Returns HTTP_AGAIN while the body continues (every byte was used);
 * HTTP_ERROR for malformed chunking or a body over max_body (too_large),
 * with r->error; or, with r->state DONE, the number of bytes that followed
 * the body, at buf[*n ..): 0 for a clean end.  Called again once DONE,
 * every byte is extra and the connection is not reused.
 */
ssize_t http_reader_body(struct http_reader *r, char *buf, size_t len, size_t *n);
/* The connection closed: true (and DONE) when that ends the response, a
 * close-delimited body; false when the response is cut. */
bool http_reader_eof(struct http_reader *r);

/* --- helpers --- */

/* "Not Found" for 404; "Unknown" for a status without a text. */
const char *http_status_text(int status);
enum http_method http_method_parse(const char *s, size_t n);
const char *http_method_name(enum http_method m);
/* True for methods whose repetition is harmless (RFC 9110 9.2.2). */
bool http_method_idempotent(enum http_method m);

/* Case-insensitive lookup of the first field named `name`; NULL if none. */
const struct http_header *http_head_find(const struct http_head *h, const char *name);
/* True when the comma-separated list `value` contains `token`, ignoring case
 * and OWS (e.g. Connection: keep-alive, Upgrade). */
bool http_list_has(const char *value, size_t len, const char *token);

/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into out[30]; returns out. */
char *http_date_format(time_t t, char out[30]);
/* Parses IMF-fixdate (and the two obsolete forms); -1 when invalid. */
time_t http_date_parse(const char *s, size_t n);

/* Percent-decodes src[0..n) into dst (room for n + 1 bytes), NUL-terminated.
 * plus_is_space for form bodies and query strings.  Returns the decoded
 * length, or -1 on a malformed escape or a decoded NUL byte. */
ssize_t http_url_decode(char *dst, const char *src, size_t n, bool plus_is_space);

/* Removes the dot-segments of the absolute path p[0..n) in place (RFC 3986
 * 5.2.4): "." segments go, ".." takes the segment before it along; a dot
 * segment at the end leaves the "/" ("/a/b/.." -> "/a/").  Only raw dots
 * count: "%2e" is a name here, never a dot.  Returns the new length (not
 * NUL-terminated), or -1 when p does not start with "/" or a ".." would
 * climb above the root. */
ssize_t http_path_remove_dots(char *p, size_t n);

/* Calls cb for each name=value pair of a query string or form body, decoded.
 * Stops and returns -1 on a malformed pair or when cb returns non-zero. */
typedef int (*http_pair_cb)(const char *name, const char *value, void *arg);
int http_form_parse(const char *s, size_t n, http_pair_cb cb, void *arg);

/* Tokens (RFC 9110 5.6.2) and field values (no CR, LF, NUL). */
bool http_is_token(const char *s, size_t n);
bool http_is_field_value(const char *s, size_t n);

WR_API_END

#endif
