/*
 * http_parser.c - the incremental HTTP/1.1 head parser (requests and
 * responses) and the chunked body decoder.
 *
 * The head parser is one byte-level state machine: every state is a value of
 * enum http_pstate, the loop in http_parse_head() is the only transition
 * function, and all that survives between calls is an offset (p->pos) and a
 * few more offsets into the caller's buffer.  So the buffer may move, bytes
 * may arrive one at a time, and every byte is examined once (the backward
 * OWS trim of a field value only revisits bytes of that value).  Once the
 * blank line is seen, finish() derives the facts (lengths, flags, Host) from
 * the recorded field offsets and applies the cross-field rules.
 *
 * Line endings are strict: CR LF everywhere.  A bare LF or a bare CR is a
 * 400 (RFC 9112 2.2 allows refusing them, and accepting only one spelling
 * leaves no room for a disagreement with a peer parser).
 */
#include "config.h"

#include <string.h>

#include "weaprous/http.h"
#include "http_internal.h"

/* The states.  The ones up to PS_RL_CR belong to the request or status line
 * and are bounded by max_line (see the check at the top of the loop). */
enum http_pstate {
    PS_METHOD,          /* method token */
    PS_TARGET_START,    /* first byte of the request-target */
    PS_TARGET,          /* rest of the request-target */
    PS_VERSION,         /* "HTTP/d.d" of a request line; index pos - mark */
    PS_RESP_VERSION,    /* "HTTP/d.d" opening a status line */
    PS_STATUS_SP,       /* SP after the version */
    PS_STATUS_CODE,     /* three digits */
    PS_STATUS_AFTER,    /* SP before the reason, or CR for none */
    PS_REASON,          /* reason phrase */
    PS_RL_CR,           /* CR ending the request line */
    PS_REQ_START,       /* before a request line: skip empty lines */
    PS_REQ_START_LF,    /* LF of an empty line before the request line */
    PS_RL_LF,           /* LF ending the request line */
    PS_SL_LF,           /* LF ending the status line */
    PS_FIELD_START,     /* start of a field line, or CR of the blank line */
    PS_NAME,            /* field name */
    PS_VALUE_OWS,       /* OWS before the field value */
    PS_VALUE,           /* field value up to CR */
    PS_FIELD_LF,        /* LF ending a field line */
    PS_END_LF,          /* LF of the blank line ending the head */
    PS_DONE,            /* complete: pos is the head length */
    PS_ERROR            /* failed: status/error are set */
};

/* Indexes of p->rl[]: offsets in the request or status line. */
enum http_rl {
    RL_METHOD_END,      /* request: end of the method (it starts at line_start) */
    RL_TARGET,          /* request: start of the target */
    RL_TARGET_END,      /* request: end of the target */
    RL_VERSION,         /* both: start of "HTTP/" */
    RL_REASON,          /* response: start of the reason phrase */
    RL_REASON_END       /* response: end of the reason phrase */
};

/* Offsets of one field in p->offs[i][]. */
enum http_fo { FO_NAME, FO_NAME_END, FO_VALUE, FO_VALUE_END };

/* Fields whose values the parser interprets.  Their name lengths differ, so
 * a table indexed by length finds the only candidate. */
enum http_field_id {
    HF_OTHER, HF_HOST, HF_EXPECT, HF_UPGRADE, HF_CONNECTION,
    HF_CONTENT_LENGTH, HF_TRANSFER_ENCODING
};

static const struct {
    const char *lname;
    uint8_t id;
} known_fields[18] = {
    [4]  = { "host", HF_HOST },
    [6]  = { "expect", HF_EXPECT },
    [7]  = { "upgrade", HF_UPGRADE },
    [10] = { "connection", HF_CONNECTION },
    [14] = { "content-length", HF_CONTENT_LENGTH },
    [17] = { "transfer-encoding", HF_TRANSFER_ENCODING },
};

/* What the cross-field pass collects before judging the head. */
struct http_facts {
    int64_t cl;             /* -1 when absent */
    unsigned hosts;         /* number of Host fields */
    bool te;                /* any Transfer-Encoding field */
    bool te_chunked_last;   /* the last coding so far is chunked */
    bool te_misplaced;      /* chunked followed by another coding */
    bool te_other;          /* a coding other than chunked */
};

void http_parser_init(struct http_parser *p, enum http_parser_kind kind)
{
    /* the field offsets are written before they are read: no need to
     * clear those 1.6 KB for every request */
    memset(p, 0, offsetof(struct http_parser, offs));
    p->kind = kind;
    p->state = kind == HTTP_PARSE_RESPONSE ? PS_RESP_VERSION : PS_REQ_START;
    memset(p->rl, 0, sizeof(p->rl));
    p->method = HTTP_M_UNKNOWN;
    p->status = 0;
    p->error = NULL;
    p->max_line = kind == HTTP_PARSE_RESPONSE ? HTTP_MAX_STATUS_LINE
                                              : HTTP_MAX_REQUEST_LINE;
    p->max_head = HTTP_MAX_HEAD;
    p->max_headers = HTTP_MAX_HEADERS;
}

/* Records an error; responses always answer 502 (the upstream is at fault). */
static int fail(struct http_parser *p, int status, const char *why)
{
    p->state = PS_ERROR;
    p->status = p->kind == HTTP_PARSE_RESPONSE ? 502 : status;
    p->error = why;
    return HTTP_ERROR;
}

/* One byte of "HTTP/d.d" at index k (0..7); true when it fits. */
static inline bool version_byte(size_t k, unsigned c)
{
    static const char lit[] = "HTTP/";

    if (k < 5)
        return c == (unsigned char)lit[k];
    if (k == 6)
        return c == '.';
    return c >= '0' && c <= '9';
}

/* Parses a Content-Length value: 1*DIGIT below 2^63; -1 when invalid. */
static int64_t parse_length(const char *s, size_t n)
{
    int64_t v = 0;

    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || v > (INT64_MAX - (int64_t)d) / 10)
            return -1;
        v = v * 10 + (int64_t)d;
    }
    return v;
}

/* Folds one Transfer-Encoding field into f; false on a malformed coding. */
static bool take_te(struct http_facts *f, const char *v, size_t n)
{
    size_t pos = 0, elen;
    const char *e;

    f->te = true;
    while (http_list_next(v, n, &pos, &e, &elen)) {
        size_t tl = 0;
        while (tl < elen && (http_ctype[(unsigned char)e[tl]] & CT_TCHAR))
            tl++;
        /* a coding is a token, optionally followed by ;parameters */
        if (tl == 0 || (tl < elen && e[tl] != ';'
                        && !(http_ctype[(unsigned char)e[tl]] & CT_OWS)))
            return false;
        bool chunked = tl == 7 && http_ieq(e, "chunked", 7);
        if (f->te_chunked_last)
            f->te_misplaced = true;
        if (!chunked)
            f->te_other = true;
        f->te_chunked_last = chunked;
    }
    return true;
}

/* The HTTP_F_CONN_* flags of one Connection value, in one pass. */
static unsigned connection_flags(const char *v, size_t n)
{
    static const struct { const char *lname; uint8_t len; uint8_t flag; } opts[] = {
        { "close", 5, HTTP_F_CONN_CLOSE },
        { "keep-alive", 10, HTTP_F_CONN_KEEPALIVE },
        { "upgrade", 7, HTTP_F_CONN_UPGRADE },
    };
    size_t pos = 0, elen;
    const char *e;
    unsigned flags = 0;

    while (http_list_next(v, n, &pos, &e, &elen))
        for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
            if (elen == opts[k].len && http_ieq(e, opts[k].lname, elen))
                flags |= opts[k].flag;
    return flags;
}

/* Applies one field's meaning to h and f.  Returns 0 or an error status
 * (with *why set). */
static int take_field(struct http_parser *p, struct http_head *h,
                      struct http_facts *f, const struct http_header *hd,
                      const char **why)
{
    bool req = p->kind == HTTP_PARSE_REQUEST;
    int id = HF_OTHER;

    if (hd->name_len < 18 && known_fields[hd->name_len].lname
        && http_ieq(hd->name, known_fields[hd->name_len].lname, hd->name_len))
        id = known_fields[hd->name_len].id;
    switch (id) {
    case HF_HOST:
        if (!req)
            return 0;
        for (size_t i = 0; i < hd->value_len; i++)
            if (!(http_ctype[(unsigned char)hd->value[i]] & CT_HOST))
                return *why = "bad Host", 400;
        if (f->hosts++ == 0) {
            h->host = hd->value;
            h->host_len = hd->value_len;
        }
        return 0;
    case HF_CONTENT_LENGTH: {
        int64_t v = parse_length(hd->value, hd->value_len);
        if (v < 0)
            return *why = "bad Content-Length", 400;
        if (f->cl >= 0 && f->cl != v)
            return *why = "differing Content-Length", 400;
        f->cl = v;
        return 0;
    }
    case HF_TRANSFER_ENCODING:
        if (!take_te(f, hd->value, hd->value_len))
            return *why = "bad Transfer-Encoding", 400;
        return 0;
    case HF_CONNECTION:
        h->flags |= connection_flags(hd->value, hd->value_len);
        return 0;
    case HF_UPGRADE:
        h->flags |= HTTP_F_UPGRADE;
        return 0;
    case HF_EXPECT:
        /* only 100-continue has a meaning; other expectations are ignored */
        if (req && http_list_has(hd->value, hd->value_len, "100-continue"))
            h->flags |= HTTP_F_EXPECT_CONTINUE;
        return 0;
    default:
        return 0;
    }
}

/* Judges the collected facts: framing (CL/TE), Host, 411.  Returns 0 or an
 * error status with *why set. */
static int check_facts(struct http_parser *p, struct http_head *h,
                       const struct http_facts *f, const char **why)
{
    bool req = p->kind == HTTP_PARSE_REQUEST;

    if (f->te && f->cl >= 0)
        return *why = "Content-Length with Transfer-Encoding", 400;
    if (f->te) {
        if (req && h->version_minor == 0)
            return *why = "Transfer-Encoding in HTTP/1.0", 400;
        if (req && (!f->te_chunked_last || f->te_misplaced))
            return *why = "Transfer-Encoding not ending in chunked", 400;
        if (req && f->te_other)
            return *why = "unsupported transfer coding", 501;
        if (f->te_chunked_last && !f->te_misplaced)
            h->flags |= HTTP_F_CHUNKED;
        else
            h->flags |= HTTP_F_TE_OTHER;
    }
    h->content_length = f->cl;
    if (!req)
        return 0;
    if (h->version_minor == 0)   /* RFC 9110 10.1.1: ignored in HTTP/1.0 */
        h->flags &= ~(unsigned)HTTP_F_EXPECT_CONTINUE;
    if (f->hosts > 1)
        return *why = "several Host fields", 400;
    if (f->hosts == 0 && h->version_minor >= 1)
        return *why = "missing Host", 400;
    if (f->cl < 0 && !f->te && (h->method == HTTP_M_POST
                                || h->method == HTTP_M_PUT
                                || h->method == HTTP_M_PATCH))
        return *why = "body without length", 411;
    return 0;
}

/* Fills the request or status line part of h from the recorded offsets. */
static void fill_line(const struct http_parser *p, const char *buf,
                      struct http_head *h)
{
    const char *ver = buf + p->rl[RL_VERSION];

    h->version_major = ver[5] - '0';
    h->version_minor = ver[7] - '0';
    if (p->kind == HTTP_PARSE_REQUEST) {
        h->method_str = buf + p->line_start;
        h->method_len = p->rl[RL_METHOD_END] - p->line_start;
        h->method = p->method;
        h->target = buf + p->rl[RL_TARGET];
        h->target_len = p->rl[RL_TARGET_END] - p->rl[RL_TARGET];
        h->status = 0;
        h->reason = NULL;
        h->reason_len = 0;
    } else {
        const char *code = ver + 9;
        h->status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
        h->reason = buf + p->rl[RL_REASON];
        h->reason_len = p->rl[RL_REASON_END] - p->rl[RL_REASON];
        h->method = HTTP_M_UNKNOWN;
        h->method_str = h->target = NULL;
        h->method_len = h->target_len = 0;
    }
}

/* The head is complete at head_len: fill h and apply the cross-field rules. */
static int finish(struct http_parser *p, const char *buf, size_t head_len,
                  struct http_head *h)
{
    struct http_facts f = { .cl = -1 };
    const char *why = NULL;

    fill_line(p, buf, h);
    h->flags = 0;
    h->host = NULL;
    h->host_len = 0;
    h->num_headers = p->nfields;
    for (size_t i = 0; i < p->nfields; i++) {
        struct http_header *hd = &h->headers[i];
        const uint32_t *o = p->offs[i];
        hd->name = buf + o[FO_NAME];
        hd->name_len = o[FO_NAME_END] - o[FO_NAME];
        hd->value = buf + o[FO_VALUE];
        hd->value_len = o[FO_VALUE_END] - o[FO_VALUE];
        int st = take_field(p, h, &f, hd, &why);
        if (st)
            return fail(p, st, why);
    }
    int st = check_facts(p, h, &f, &why);
    if (st)
        return fail(p, st, why);
    h->head_len = head_len;
    p->pos = head_len;
    p->state = PS_DONE;
    return (int)head_len;
}

/* End of the request line: version first (so the HTTP/2 preface "PRI *
 * HTTP/2.0" is a 505, not a 501), then the method. */
static int request_line_done(struct http_parser *p, const char *buf)
{
    const char *ver = buf + p->rl[RL_VERSION];

    if (ver[5] != '1')
        return fail(p, 505, "unsupported HTTP version");
    p->method = http_method_parse(buf + p->line_start, p->rl[RL_METHOD_END] - p->line_start);
    if (p->method == HTTP_M_UNKNOWN)
        return fail(p, 501, "unknown method");
    return 0;
}

/* Stores the field whose value ends (CR) at i, trimming trailing OWS. */
static inline void store_field(struct http_parser *p, const unsigned char *b,
                               size_t i)
{
    size_t ve = i;

    while (ve > p->value_start && (http_ctype[b[ve - 1]] & CT_OWS))
        ve--;
    uint32_t *o = p->offs[p->nfields++];
    o[FO_NAME] = (uint32_t)p->mark;
    o[FO_NAME_END] = (uint32_t)p->name_end;
    o[FO_VALUE] = (uint32_t)p->value_start;
    o[FO_VALUE_END] = (uint32_t)ve;
}

/* Same, for a line state: stops at the line limit too; a byte there other
 * than the CR ending the line makes the line too long. */
#define LINE_SKIP(cls) do { \
        SKIP(cls, end < line_lim ? end : line_lim); \
        if (i == end) \
            goto out; \
        if (i >= line_lim && b[i] != '\r') \
            FAIL(414, "request line too long"); \
    } while (0)

#define FAIL(st, why) return fail(p, (st), (why))

/* Advances i over bytes of class `cls`, but not to or past lim. */
#define SKIP(cls, lim) (i = http_skip_class(b, i, (lim), (cls)))

int http_parse_head(struct http_parser *p, const char *buf, size_t len,
                    struct http_head *h)
{
    const unsigned char *b = (const unsigned char *)buf;
    size_t max_head = p->max_head < UINT32_MAX ? p->max_head : UINT32_MAX;
    size_t max_fields = p->max_headers < HTTP_MAX_HEADERS ? p->max_headers
                                                           : HTTP_MAX_HEADERS;
    size_t end = len < max_head ? len : max_head;
    size_t i = p->pos;
    /* a line cannot outgrow the head: clamping also keeps the sum exact */
    size_t max_line = p->max_line < max_head ? p->max_line : max_head;
    size_t line_lim = p->line_start + max_line;
    int st = p->state;

    if (st == PS_ERROR)
        return HTTP_ERROR;
    if (st == PS_DONE)
        return finish(p, buf, p->pos, h);
    for (;;) {
        /* A line state still running at max_line bytes is too long, unless
         * the byte there is the CR that ends it. */
        if (st <= PS_RL_CR && i >= line_lim && i < end && b[i] != '\r')
            FAIL(414, "request line too long");
        if (i >= end)
            break;
        unsigned c = b[i];
        switch (st) {
        case PS_REQ_START:
            if (c == '\r') {
                st = PS_REQ_START_LF;
                i++;
                break;
            }
            p->line_start = i;
            line_lim = i + max_line;
            st = PS_METHOD;
            break;
        case PS_REQ_START_LF:
            if (c != '\n')
                FAIL(400, "bare CR");
            st = PS_REQ_START;
            i++;
            break;
        case PS_METHOD:
            LINE_SKIP(CT_TCHAR);
            if (b[i] != ' ' || i == p->line_start)
                FAIL(400, "bad method");
            p->rl[RL_METHOD_END] = (uint32_t)i;
            st = PS_TARGET_START;
            i++;
            break;
        case PS_TARGET_START:
            if (!(http_ctype[c] & CT_TARGET))
                FAIL(400, "bad request-target");
            p->rl[RL_TARGET] = (uint32_t)i;
            st = PS_TARGET;
            break;
        case PS_TARGET:
            LINE_SKIP(CT_TARGET);
            if (b[i] != ' ')
                FAIL(400, "bad request-target");
            p->rl[RL_TARGET_END] = (uint32_t)i;
            p->rl[RL_VERSION] = (uint32_t)(i + 1);
            st = PS_VERSION;
            i++;
            break;
        case PS_VERSION:
        case PS_RESP_VERSION: {
            size_t k = i - p->rl[RL_VERSION];
            if (!version_byte(k, c))
                FAIL(400, "bad HTTP version");
            i++;
            if (k == 7)
                st = st == PS_VERSION ? PS_RL_CR : PS_STATUS_SP;
            break;
        }
        case PS_RL_CR:
            if (c != '\r')
                FAIL(400, "bad HTTP version");
            st = PS_RL_LF;
            i++;
            break;
        case PS_RL_LF:
            if (c != '\n')
                FAIL(400, "bare CR");
            if (request_line_done(p, buf))
                return HTTP_ERROR;
            st = PS_FIELD_START;
            i++;
            break;
        case PS_STATUS_SP:
            if (c != ' ')
                FAIL(502, "bad status line");
            if (b[p->rl[RL_VERSION] + 5] != '1')
                FAIL(502, "unsupported HTTP version");
            st = PS_STATUS_CODE;
            i++;
            break;
        case PS_STATUS_CODE: {
            /* the code starts 9 bytes into the line: "HTTP/1.1 " */
            size_t k = i - p->rl[RL_VERSION] - 9;
            if (c < '0' || c > '9' || (k == 0 && c == '0'))
                FAIL(502, "bad status code");
            i++;
            if (k == 2)
                st = PS_STATUS_AFTER;
            break;
        }
        case PS_STATUS_AFTER:
            /* "HTTP/1.1 204\r\n" (no SP, no reason) is common enough */
            if (c != ' ' && c != '\r')
                FAIL(502, "bad status line");
            p->rl[RL_REASON] = p->rl[RL_REASON_END] = (uint32_t)(c == ' ' ? i + 1 : i);
            st = c == ' ' ? PS_REASON : PS_SL_LF;
            i++;
            break;
        case PS_REASON:
            LINE_SKIP(CT_VALUE);
            if (b[i] != '\r')
                FAIL(502, "bad reason phrase");
            p->rl[RL_REASON_END] = (uint32_t)i;
            st = PS_SL_LF;
            i++;
            break;
        case PS_SL_LF:
            if (c != '\n')
                FAIL(502, "bare CR");
            st = PS_FIELD_START;
            i++;
            break;
        case PS_FIELD_START:
            if (c == '\r') {
                st = PS_END_LF;
                i++;
                break;
            }
            if (http_ctype[c] & CT_OWS)
                FAIL(400, p->nfields ? "obs-fold" : "whitespace before first field");
            if (!(http_ctype[c] & CT_TCHAR))
                FAIL(400, c == '\n' ? "bare LF" : "bad field name");
            if (p->nfields >= max_fields)
                FAIL(431, "too many fields");
            p->mark = i;
            st = PS_NAME;
            i++;
            break;
        case PS_NAME:
            SKIP(CT_TCHAR, end);
            if (i == end)
                break;
            c = b[i];
            if (c != ':')
                FAIL(400, (http_ctype[c] & CT_OWS) ? "whitespace before colon"
                                                   : "bad field name");
            p->name_end = i;
            st = PS_VALUE_OWS;
            i++;
            break;
        case PS_VALUE_OWS:
            SKIP(CT_OWS, end);
            if (i == end)
                break;
            p->value_start = i;
            st = PS_VALUE;
            break;
        case PS_VALUE:
            i = http_skip_value(b, i, end);
            if (i == end)
                break;
            if (b[i] != '\r')
                FAIL(400, b[i] == '\n' ? "bare LF" : "control character in field");
            store_field(p, b, i);
            st = PS_FIELD_LF;
            i++;
            break;
        case PS_FIELD_LF:
            if (c != '\n')
                FAIL(400, "bare CR");
            st = PS_FIELD_START;
            i++;
            break;
        case PS_END_LF:
            if (c != '\n')
                FAIL(400, "bare CR");
            return finish(p, buf, i + 1, h);
        default:
            FAIL(400, "parser state corrupt");
        }
    }
out:
    /* Out of bytes.  Having examined max_head bytes without the end of the
     * head means the head is larger. */
    p->pos = i;
    p->state = st;
    if (i >= max_head)
        FAIL(431, "head too large");
    return HTTP_AGAIN;
}

/* ---------------------------------------------------------------------- */
/* Chunked transfer coding (RFC 9112 7.1)                                 */

enum http_cstate {
    CS_SIZE_START = 0,  /* first hex digit of a chunk size (zero state) */
    CS_SIZE,            /* more hex digits */
    CS_SIZE_WS,         /* BWS after the size, before ';' */
    CS_EXT,             /* chunk extension, up to CR */
    CS_SIZE_LF,         /* LF of the size line */
    CS_DATA,            /* chunk data */
    CS_DATA_CR,         /* CR after the data */
    CS_DATA_LF,         /* LF after the data */
    CS_TRAILER_START,   /* start of a trailer line or of the final CRLF */
    CS_TRAILER,         /* trailer field line, skipped */
    CS_TRAILER_LF,      /* LF of a trailer line */
    CS_END_LF,          /* LF of the final CRLF */
    CS_DONE,
    CS_ERROR
};

/* Hex digits of one chunk size, leading zeros included: a size line of
 * endless zeros is refused like an oversize extension. */
#define HTTP_CHUNK_MAX_DIGITS 32

/* Copies the data bytes available for the current chunk; returns the number
 * of input bytes used. */
static size_t chunk_data(struct http_chunked *d, char *buf, size_t wr,
                         size_t rd, size_t n)
{
    size_t take = n - rd;

    if (take > d->remaining)
        take = (size_t)d->remaining;
    if (wr != rd)
        memmove(buf + wr, buf + rd, take);
    d->remaining -= take;
    d->total += take;
    return take;
}

/* A byte after the size digits: BWS, then ';' opening an extension, or the
 * CR ending the line (BWS then CR is refused: no grammar allows it).  The
 * bytes between the digits and the CR count against HTTP_MAX_CHUNK_EXT. */
static int after_size(struct http_chunked *d, int st, unsigned c)
{
    if (st == CS_SIZE)
        d->counter = 0;
    if (c == '\r' && st == CS_SIZE)
        return CS_SIZE_LF;
    if (++d->counter > HTTP_MAX_CHUNK_EXT)
        return CS_ERROR;
    if (c == ';')
        return CS_EXT;
    return (http_ctype[c] & CT_OWS) ? CS_SIZE_WS : CS_ERROR;
}

/* The first byte after the size digits: the size is known, and a chunk
 * too large for what the limit leaves fails here, before its data (so
 * d->total never exceeds d->limit).  An overflowing size failed earlier, as
 * malformed (400, like nginx). */
static int size_done(struct http_chunked *d, int st, unsigned c)
{
    if (d->limit && d->remaining > d->limit - d->total) {
        d->status = 413;
        return CS_ERROR;
    }
    return after_size(d, st, c);
}

/* One byte of a size line, trailer or CRLF; returns the next state or
 * CS_ERROR.  Data bytes never come through here. */
static int chunk_byte(struct http_chunked *d, int st, unsigned c)
{
    unsigned hex = http_hexval[c];

    switch (st) {
    case CS_SIZE_START:
        if (hex == HTTP_HEX_BAD)
            return CS_ERROR;
        d->remaining = hex;
        d->counter = 1;
        return CS_SIZE;
    case CS_SIZE:
        if (hex != HTTP_HEX_BAD) {
            if (d->remaining > ((uint64_t)INT64_MAX >> 4)
                || ++d->counter > HTTP_CHUNK_MAX_DIGITS)
                return CS_ERROR;
            d->remaining = d->remaining << 4 | hex;
            return CS_SIZE;
        }
        return size_done(d, st, c);
    case CS_SIZE_WS:
        return after_size(d, st, c);
    case CS_EXT:
        if (c == '\r')
            return CS_SIZE_LF;
        if (++d->counter > HTTP_MAX_CHUNK_EXT || !(http_ctype[c] & CT_VALUE))
            return CS_ERROR;
        return CS_EXT;
    case CS_SIZE_LF:
        if (c != '\n')
            return CS_ERROR;
        d->counter = 0;
        return d->remaining ? CS_DATA : CS_TRAILER_START;
    case CS_DATA_CR:
        return c == '\r' ? CS_DATA_LF : CS_ERROR;
    case CS_DATA_LF:
        return c == '\n' ? CS_SIZE_START : CS_ERROR;
    default:
        break;
    }
    /* trailer section: every byte counts against HTTP_MAX_TRAILER */
    if (++d->counter > HTTP_MAX_TRAILER)
        return CS_ERROR;
    switch (st) {
    case CS_TRAILER_START:
        if (c == '\r')
            return CS_END_LF;
        return (http_ctype[c] & CT_TCHAR) ? CS_TRAILER : CS_ERROR;
    case CS_TRAILER:
        if (c == '\r')
            return CS_TRAILER_LF;
        return (http_ctype[c] & CT_VALUE) || c == ':' ? CS_TRAILER : CS_ERROR;
    case CS_TRAILER_LF:
        return c == '\n' ? CS_TRAILER_START : CS_ERROR;
    case CS_END_LF:
        return c == '\n' ? CS_DONE : CS_ERROR;
    default:
        return CS_ERROR;
    }
}

ssize_t http_chunked_decode(struct http_chunked *d, char *buf, size_t *len)
{
    size_t n = *len, rd = 0, wr = 0;
    int st = d->state;

    if (st == CS_ERROR)
        return HTTP_ERROR;
    while (rd < n && st != CS_DONE) {
        if (st == CS_DATA) {
            size_t take = chunk_data(d, buf, wr, rd, n);
            rd += take;
            wr += take;
            if (d->remaining == 0)
                st = CS_DATA_CR;
            continue;
        }
        st = chunk_byte(d, st, (unsigned char)buf[rd++]);
        if (st == CS_ERROR) {
            d->state = st;
            d->status = d->status ? d->status : 400;
            *len = wr;
            return HTTP_ERROR;
        }
    }
    d->state = st;
    *len = wr;
    if (st != CS_DONE)
        return HTTP_AGAIN;
    /* the bytes after the body (a pipelined message) follow the data */
    if (rd < n && wr != rd)
        memmove(buf + wr, buf + rd, n - rd);
    return (ssize_t)(n - rd);
}

bool http_chunked_done(const struct http_chunked *d)
{
    return d->state == CS_DONE;
}
