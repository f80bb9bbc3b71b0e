/* ws_frame.c - RFC 6455 frame codec and handshake key: no I/O.  See
 * weaprous/ws.h. */
#include "config.h"

#include <string.h>
#ifdef HAVE_SYS_RANDOM_H
#endif

#include "base64.h"
#include "sha1.h"
#include "weaprous/utf8.h"
#include "weaprous/entropy.h"
#include "weaprous/ws.h"

/* RFC 6455 1.3: appended to the client's key before hashing. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void ws_parser_init(struct ws_parser *p, enum ws_role role)
{
    memset(p, 0, sizeof *p);
    p->role = role;
    p->max_frame = WS_DEFAULT_MAX_FRAME;
    p->max_message = WS_DEFAULT_MAX_MESSAGE;
}

static ssize_t ws_fail(struct ws_parser *p, int code, const char *why)
{
    p->close_code = code;
    p->error = why;
    return WS_ERROR;
}

static bool ws_is_control(unsigned op)
{
    return (op & 0x8) != 0;
}

/* First byte: FIN, RSV bits, opcode, and the fragmentation rules that the
 * opcode alone decides (5.2, 5.4, 5.5). */
static ssize_t ws_check_byte0(struct ws_parser *p, unsigned char b0)
{
    unsigned op = b0 & 0x0F;
    bool fin = (b0 & 0x80) != 0;

    if (b0 & 0x70)
        return ws_fail(p, WS_CLOSE_PROTOCOL, "reserved bits set");
    if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY &&
        op != WS_OP_CLOSE && op != WS_OP_PING && op != WS_OP_PONG)
        return ws_fail(p, WS_CLOSE_PROTOCOL, "reserved opcode");
    if (ws_is_control(op) && !fin)
        return ws_fail(p, WS_CLOSE_PROTOCOL, "fragmented control frame");
    if (op == WS_OP_CONT && !p->in_message)
        return ws_fail(p, WS_CLOSE_PROTOCOL, "continuation without a message");
    if ((op == WS_OP_TEXT || op == WS_OP_BINARY) && p->in_message)
        return ws_fail(p, WS_CLOSE_PROTOCOL, "new message inside a fragmented one");
    return 0;
}

/* Second byte: mask bit for our role and the control frame size. */
static ssize_t ws_check_byte1(struct ws_parser *p, unsigned char b0, unsigned char b1)
{
    bool masked = (b1 & 0x80) != 0;

    if (p->role == WS_ROLE_SERVER && !masked)
        return ws_fail(p, WS_CLOSE_PROTOCOL, "unmasked frame from a client");
    if (p->role == WS_ROLE_CLIENT && masked)
        return ws_fail(p, WS_CLOSE_PROTOCOL, "masked frame from a server");
    if (ws_is_control(b0 & 0x0F) && (b1 & 0x7F) > WS_MAX_CONTROL)
        return ws_fail(p, WS_CLOSE_PROTOCOL, "control frame over 125 bytes");
    return 0;
}

/* Payload length from the 7-bit field and its 16/64-bit extension, which
 * must be complete in b[0..len).  Returns the header length or WS_AGAIN. */
static ssize_t ws_read_length(struct ws_parser *p, const unsigned char *b,
                              size_t len, uint64_t *plen)
{
    unsigned l7 = b[1] & 0x7F;
    size_t ext = l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
    size_t hlen = 2 + ext + ((b[1] & 0x80) ? 4 : 0);

    if (len < 2 + ext)
        return WS_AGAIN;
    *plen = l7;
    if (ext) {
        *plen = 0;
        for (size_t i = 0; i < ext; i++)
            *plen = *plen << 8 | b[2 + i];
    }
    if (ext == 8 && (b[2] & 0x80))
        return ws_fail(p, WS_CLOSE_PROTOCOL, "64-bit length with the top bit set");
    return (ssize_t)hlen;
}

/* Frame and message size limits, known as soon as the length is. */
static ssize_t ws_check_size(struct ws_parser *p, unsigned op, uint64_t plen)
{
    if (plen > p->max_frame)
        return ws_fail(p, WS_CLOSE_TOO_BIG, "frame too big");
    if (!ws_is_control(op)) {
        uint64_t before = op == WS_OP_CONT ? p->msg_len : 0;
        if (plen > p->max_message - before)
            return ws_fail(p, WS_CLOSE_TOO_BIG, "message too big");
    }
    return 0;
}

/* Close payload (5.5.1, 7.4): empty, or a valid code and a UTF-8 reason. */
static ssize_t ws_check_close(struct ws_parser *p, struct ws_frame *f)
{
    const unsigned char *u = (const unsigned char *)f->payload;

    f->close_code = WS_CLOSE_NO_STATUS;
    f->reason = "";
    f->reason_len = 0;
    if (f->len == 0)
        return 0;
    if (f->len == 1)
        return ws_fail(p, WS_CLOSE_PROTOCOL, "close payload of one byte");
    f->close_code = u[0] << 8 | u[1];
    if (!ws_close_code_valid(f->close_code))
        return ws_fail(p, WS_CLOSE_PROTOCOL, "invalid close code");
    f->reason = f->payload + 2;
    f->reason_len = f->len - 2;
    if (!utf8_valid(f->reason, f->reason_len))
        return ws_fail(p, WS_CLOSE_BAD_DATA, "close reason is not UTF-8");
    return 0;
}

/* Data frame: UTF-8 of text across fragments, then the message state is
 * committed (only here, so WS_AGAIN never changes anything). */
static ssize_t ws_accept_data(struct ws_parser *p, struct ws_frame *f)
{
    enum ws_opcode msg = f->opcode == WS_OP_CONT ? p->msg_opcode : f->opcode;

    f->message = msg;
    if (msg == WS_OP_TEXT) {
        struct utf8_state st = f->opcode == WS_OP_CONT ? p->utf8 : (struct utf8_state){0};
        enum utf8_result r = utf8_feed(&st, f->payload, f->len);
        if (r == UTF8_INVALID || (f->fin && r != UTF8_COMPLETE))
            return ws_fail(p, WS_CLOSE_BAD_DATA, "text is not UTF-8");
        p->utf8 = st;
    }
    p->msg_len = (f->opcode == WS_OP_CONT ? p->msg_len : 0) + f->len;
    p->msg_opcode = msg;
    p->in_message = !f->fin;
    if (f->fin)
        p->msg_len = 0;
    return 0;
}

/* Checks the two header bytes, then the length; returns the header length,
 * WS_AGAIN or WS_ERROR. */
static ssize_t ws_parse_header(struct ws_parser *p, const unsigned char *b,
                               size_t len, uint64_t *plen)
{
    if (len < 1)
        return WS_AGAIN;
    if (ws_check_byte0(p, b[0]) < 0)
        return WS_ERROR;
    if (len < 2)
        return WS_AGAIN;
    if (ws_check_byte1(p, b[0], b[1]) < 0)
        return WS_ERROR;
    ssize_t hlen = ws_read_length(p, b, len, plen);
    if (hlen < 0)
        return hlen;
    if (ws_check_size(p, b[0] & 0x0F, *plen) < 0)
        return WS_ERROR;
    return hlen;
}

ssize_t ws_parse_frame(struct ws_parser *p, char *buf, size_t len,
                       struct ws_frame *f)
{
    const unsigned char *b = (const unsigned char *)buf;
    uint64_t plen = 0;
    ssize_t hlen = ws_parse_header(p, b, len, &plen);

    if (hlen < 0)
        return hlen;
    if (len < (size_t)hlen || len - (size_t)hlen < plen)
        return WS_AGAIN;
    memset(f, 0, sizeof *f);
    f->opcode = (enum ws_opcode)(b[0] & 0x0F);
    f->message = f->opcode;
    f->fin = (b[0] & 0x80) != 0;
    f->payload = buf + hlen;
    f->len = (size_t)plen;
    if (b[1] & 0x80)
        ws_mask(f->payload, f->len, b + hlen - 4, 0);
    if (f->opcode == WS_OP_CLOSE && ws_check_close(p, f) < 0)
        return WS_ERROR;
    if (!ws_is_control(f->opcode) && ws_accept_data(p, f) < 0)
        return WS_ERROR;
    return hlen + (ssize_t)plen;
}

/* --- builder --- */

size_t ws_frame_header_len(uint64_t n, bool masked)
{
    size_t h = n < 126 ? 2 : n <= 0xFFFF ? 4 : 10;
    return h + (masked ? 4 : 0);
}

size_t ws_frame_header(unsigned char *out, enum ws_opcode op, bool fin,
                       uint64_t n, const unsigned char *mask)
{
    size_t h = 2;
    unsigned char mbit = mask ? 0x80 : 0;

    out[0] = (unsigned char)((fin ? 0x80 : 0) | (op & 0x0F));
    if (n < 126) {
        out[1] = (unsigned char)(mbit | n);
    } else if (n <= 0xFFFF) {
        out[1] = mbit | 126;
        out[2] = (unsigned char)(n >> 8);
        out[3] = (unsigned char)n;
        h = 4;
    } else {
        out[1] = mbit | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (unsigned char)(n >> (56 - 8 * i));
        h = 10;
    }
    if (mask) {
        memcpy(out + h, mask, 4);
        h += 4;
    }
    return h;
}

void ws_mask(void *p, size_t n, const unsigned char key[4], uint64_t offset)
{
    unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        s[i] ^= key[(offset + i) & 3];
}

/* Masking keys must be unpredictable (RFC 6455 10.3): the kernel's
 * generator, through the one entropy module. */
int ws_random(void *out, size_t n)
{
    return entropy_fill(out, n);
}

bool ws_close_code_valid(int code)
{
    if (code >= 1000 && code <= 1003)
        return true;
    if (code >= 1007 && code <= 1014)
        return true;
    return code >= 3000 && code <= 4999;
}

size_t ws_close_payload(char *out, int code, const char *reason)
{
    size_t n = reason ? strlen(reason) : 0;

    out[0] = (char)(code >> 8);
    out[1] = (char)code;
    if (n > WS_MAX_CONTROL - 2) {
        n = WS_MAX_CONTROL - 2;
        /* do not cut a character in two: back off continuation bytes */
        while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
            n--;
    }
    if (n > 0 && !utf8_valid(reason, n))
        n = 0;   /* a reason the peer would reject as 1007: drop it */
    if (n > 0)
        memcpy(out + 2, reason, n);
    return 2 + n;
}

void ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1])
{
    struct sha1_ctx c;
    unsigned char d[SHA1_DIGEST_LEN];

    sha1_init(&c);
    sha1_update(&c, key, key_len);
    sha1_update(&c, WS_GUID, sizeof WS_GUID - 1);
    sha1_final(&c, d);
    base64_encode(d, sizeof d, out);
}
