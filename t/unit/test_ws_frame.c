/* test_ws_frame.c - the RFC 6455 frame codec: every parser rule, frames
 * split at every byte, masking, 16/64-bit lengths, fragmentation with
 * interleaved control frames, UTF-8 across fragments, close payloads, the
 * builder and the handshake key. */
#include "config.h"

#include <string.h>

#include "weaprous/ws.h"
#include "tap.h"

static const unsigned char KEY[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* Appends one frame to out at *n: raw first byte b0 (FIN/RSV/opcode),
 * masked with KEY when `masked`. */
static void put_frame(unsigned char *out, size_t *n, unsigned b0, bool masked,
                      const void *payload, size_t len)
{
    size_t h = ws_frame_header(out + *n, (enum ws_opcode)(b0 & 0x0F), b0 & 0x80,
                               len, masked ? KEY : NULL);
    out[*n] = (unsigned char)b0;   /* keeps RSV bits the builder never sets */
    memcpy(out + *n + h, payload, len);
    if (masked)
        ws_mask(out + *n + h, len, KEY, 0);
    *n += h + len;
}

/* Parses a copy of bytes ending at a guard page. */
static ssize_t parse_copy(struct ws_parser *p, const unsigned char *bytes, size_t n,
                          struct ws_frame *f, char **copy)
{
    *copy = guard_copy(bytes, n);
    return ws_parse_frame(p, *copy, n, f);
}

/* One frame through a fresh parser of `role`; returns the result and the
 * close code on error. */
static ssize_t parse_one(enum ws_role role, const unsigned char *bytes, size_t n,
                         int *code)
{
    struct ws_parser p;
    struct ws_frame f;
    char *c;

    ws_parser_init(&p, role);
    ssize_t r = parse_copy(&p, bytes, n, &f, &c);
    guard_free(c, n);
    *code = r == WS_ERROR ? p.close_code : 0;
    return r;
}

static void expect_error(const unsigned char *bytes, size_t n, int want,
                         const char *name)
{
    int code;
    ssize_t r = parse_one(WS_ROLE_SERVER, bytes, n, &code);
    ok(r == WS_ERROR && code == want, "%s -> %d (got %zd/%d)", name, want, r, code);
}

static void test_simple(void)
{
    unsigned char b[64];
    size_t n = 0;
    struct ws_parser p;
    struct ws_frame f;
    char *c;

    put_frame(b, &n, 0x81, true, "Hello", 5);
    ws_parser_init(&p, WS_ROLE_SERVER);
    is_int(parse_copy(&p, b, n, &f, &c), n, "masked text frame consumed whole");
    ok(f.opcode == WS_OP_TEXT && f.fin && f.message == WS_OP_TEXT, "text, fin");
    is_mem(f.payload, f.len, "Hello", 5, "payload unmasked in place");
    guard_free(c, n);

    /* the RFC 6455 5.7 example: a masked "Hello" */
    static const unsigned char rfc[] = {
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
    ws_parser_init(&p, WS_ROLE_SERVER);
    is_int(parse_copy(&p, rfc, sizeof rfc, &f, &c), sizeof rfc, "RFC 5.7 example");
    is_mem(f.payload, f.len, "Hello", 5, "RFC 5.7 payload");
    guard_free(c, sizeof rfc);

    size_t again = 0;
    for (size_t k = 0; k < n; k++) {
        ws_parser_init(&p, WS_ROLE_SERVER);
        ssize_t r = parse_copy(&p, b, k, &f, &c);
        guard_free(c, k);
        if (r == WS_AGAIN)
            again++;
        else
            diag("prefix of %zu bytes: %zd, not WS_AGAIN", k, r);
    }
    ok(n > 2 && again == n, "every prefix of a frame needs more");
}

static void test_roles(void)
{
    unsigned char b[32];
    size_t n = 0;
    int code;

    put_frame(b, &n, 0x82, false, "ab", 2);
    is_int(parse_one(WS_ROLE_SERVER, b, n, &code), WS_ERROR, "server rejects unmasked");
    is_int(code, 1002, "... with 1002");
    is_int(parse_one(WS_ROLE_SERVER, b, 2, &code), WS_ERROR, "... from 2 bytes");
    is_int(parse_one(WS_ROLE_CLIENT, b, n, &code), (ssize_t)n, "client takes unmasked");
    n = 0;
    put_frame(b, &n, 0x82, true, "ab", 2);
    is_int(parse_one(WS_ROLE_CLIENT, b, n, &code), WS_ERROR, "client rejects masked");
    is_int(code, 1002, "... with 1002");
}

static void test_header_rules(void)
{
    unsigned char b[32];
    size_t n;

    for (unsigned rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
        n = 0;
        put_frame(b, &n, 0x81 | rsv, true, "x", 1);
        expect_error(b, 1, 1002, "RSV bit from the first byte");
    }
    static const unsigned reserved[] = { 3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        n = 0;
        put_frame(b, &n, 0x80 | reserved[i], true, "", 0);
        expect_error(b, n, 1002, "reserved opcode");
    }
    n = 0;
    put_frame(b, &n, 0x09, true, "p", 1);
    expect_error(b, 1, 1002, "fragmented ping");
    n = 0;
    put_frame(b, &n, 0x80, true, "p", 1);
    expect_error(b, 1, 1002, "continuation without a message");

    unsigned char big[200];
    memset(big, 'a', sizeof big);
    unsigned char fr[220];
    n = 0;
    put_frame(fr, &n, 0x89, true, big, 126);
    expect_error(fr, 2, 1002, "ping of 126 bytes");
    n = 0;
    put_frame(fr, &n, 0x89, true, big, 125);
    int code;
    is_int(parse_one(WS_ROLE_SERVER, fr, n, &code), (ssize_t)n, "ping of 125 bytes");
}

static void test_lengths(void)
{
    static unsigned char big[70000 + 14];
    static unsigned char pay[70000];
    struct ws_parser p;
    struct ws_frame f;
    char *c;
    size_t sizes[] = { 0, 125, 126, 127, 65535, 65536, 70000 };

    for (size_t i = 0; i < sizeof pay; i++)
        pay[i] = (unsigned char)(i * 13);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = 0;
        put_frame(big, &n, 0x82, true, pay, sizes[i]);
        is_int(n - sizes[i], ws_frame_header_len(sizes[i], true), "header length for %zu", sizes[i]);
        ws_parser_init(&p, WS_ROLE_SERVER);
        ssize_t r = parse_copy(&p, big, n, &f, &c);
        ok(r == (ssize_t)n && f.len == sizes[i] && memcmp(f.payload, pay, f.len) == 0,
           "binary frame of %zu bytes", sizes[i]);
        guard_free(c, n);
    }
    /* a 5-byte payload in the 16-bit and 64-bit forms: accepted */
    unsigned char nm16[] = { 0x82, 0xFE, 0, 5, 0, 0, 0, 0, 'a', 'b', 'c', 'd', 'e' };
    unsigned char nm64[] = { 0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0,
                             'a', 'b', 'c', 'd', 'e' };
    int code;
    is_int(parse_one(WS_ROLE_SERVER, nm16, sizeof nm16, &code), sizeof nm16,
           "non-minimal 16-bit length accepted");
    is_int(parse_one(WS_ROLE_SERVER, nm64, sizeof nm64, &code), sizeof nm64,
           "non-minimal 64-bit length accepted");
    unsigned char msb[] = { 0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 5 };
    expect_error(msb, sizeof msb, 1002, "64-bit length with the top bit set");
    unsigned char huge[] = { 0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    expect_error(huge, sizeof huge, 1009, "2^63-1 bytes: too big from the header");
}

static void test_limits(void)
{
    unsigned char b[300], a[200];
    size_t n = 0;
    struct ws_parser p;
    struct ws_frame f;
    char *c;

    memset(a, 'a', sizeof a);
    put_frame(b, &n, 0x82, true, a, 101);
    ws_parser_init(&p, WS_ROLE_SERVER);
    p.max_frame = 100;
    ssize_t r = parse_copy(&p, b, 4, &f, &c);   /* header only */
    guard_free(c, 4);
    ok(r == WS_ERROR && p.close_code == 1009, "frame over max_frame -> 1009 from the header");

    ws_parser_init(&p, WS_ROLE_SERVER);
    p.max_message = 10;
    n = 0;
    put_frame(b, &n, 0x02, true, a, 6);
    size_t first = n;
    put_frame(b, &n, 0x80, true, a, 5);
    r = parse_copy(&p, b, n, &f, &c);
    ok(r == (ssize_t)first, "first fragment within max_message");
    r = ws_parse_frame(&p, c + first, n - first, &f);
    ok(r == WS_ERROR && p.close_code == 1009, "fragments over max_message -> 1009");
    guard_free(c, n);

    ws_parser_init(&p, WS_ROLE_SERVER);
    p.max_message = 10;
    n = 0;
    put_frame(b, &n, 0x02, true, a, 6);
    put_frame(b, &n, 0x80, true, a, 4);
    r = parse_copy(&p, b, n, &f, &c);
    r = ws_parse_frame(&p, c + r, n - (size_t)r, &f);
    ok(r > 0 && f.fin, "fragments exactly at max_message accepted");
    guard_free(c, n);
}

struct expect { enum ws_opcode op, message; bool fin; const char *data; };

/* Parses the stream as it would arrive one byte at a time and checks each
 * frame against want[]; returns the number of frames matched. */
static size_t parse_trickle(enum ws_role role, const unsigned char *s, size_t n,
                            const struct expect *want, size_t nwant, int *err)
{
    struct ws_parser p;
    struct ws_frame f;
    char *c = guard_copy(s, n);
    size_t off = 0, got = 0;

    ws_parser_init(&p, role);
    *err = 0;
    for (size_t avail = 1; avail <= n; avail++) {
        ssize_t r = ws_parse_frame(&p, c + off, avail - off, &f);
        if (r == WS_AGAIN)
            continue;
        if (r == WS_ERROR) {
            *err = p.close_code;
            break;
        }
        if (want && (got >= nwant || f.opcode != want[got].op || f.fin != want[got].fin ||
            (!(f.opcode & 8) && f.message != want[got].message) ||
            f.len != strlen(want[got].data) || memcmp(f.payload, want[got].data, f.len)))
            break;
        got++;
        off += (size_t)r;
    }
    guard_free(c, n);
    return got;
}

static void test_fragmentation(void)
{
    unsigned char s[256];
    size_t n = 0;
    int err;

    put_frame(s, &n, 0x01, true, "Hel", 3);
    put_frame(s, &n, 0x89, true, "ping", 4);
    put_frame(s, &n, 0x00, true, "lo ", 3);
    put_frame(s, &n, 0x8A, true, "", 0);
    put_frame(s, &n, 0x80, true, "w\xc3\xb6rld", 6);
    put_frame(s, &n, 0x82, true, "\x01\xff", 2);
    put_frame(s, &n, 0x88, true, "\x03\xe8" "bye", 5);
    static const struct expect want[] = {
        { WS_OP_TEXT, WS_OP_TEXT, false, "Hel" },
        { WS_OP_PING, WS_OP_PING, true, "ping" },
        { WS_OP_CONT, WS_OP_TEXT, false, "lo " },
        { WS_OP_PONG, WS_OP_PONG, true, "" },
        { WS_OP_CONT, WS_OP_TEXT, true, "w\xc3\xb6rld" },
        { WS_OP_BINARY, WS_OP_BINARY, true, "\x01\xff" },
        { WS_OP_CLOSE, WS_OP_CLOSE, true, "\x03\xe8" "bye" },
    };
    size_t got = parse_trickle(WS_ROLE_SERVER, s, n, want, 7, &err);
    is_int(got, 7, "fragmented text with interleaved ping/pong, byte by byte");
    is_int(err, 0, "no error");

    n = 0;
    put_frame(s, &n, 0x01, true, "a", 1);
    put_frame(s, &n, 0x81, true, "b", 1);
    parse_trickle(WS_ROLE_SERVER, s, n, NULL, 0, &err);
    is_int(err, 1002, "new text message inside a fragmented one -> 1002");
    n = 0;
    put_frame(s, &n, 0x02, true, "a", 1);
    put_frame(s, &n, 0x82, true, "b", 1);
    parse_trickle(WS_ROLE_SERVER, s, n, NULL, 0, &err);
    is_int(err, 1002, "new binary message inside a fragmented one -> 1002");
    n = 0;
    put_frame(s, &n, 0x81, true, "a", 1);
    put_frame(s, &n, 0x80, true, "b", 1);
    parse_trickle(WS_ROLE_SERVER, s, n, NULL, 0, &err);
    is_int(err, 1002, "continuation after a finished message -> 1002");
}

static void test_utf8(void)
{
    unsigned char s[64];
    size_t n = 0;
    int err;
    static const struct expect kappa[] = {
        { WS_OP_TEXT, WS_OP_TEXT, false, "\xce" },
        { WS_OP_CONT, WS_OP_TEXT, true, "\xba" },
    };

    put_frame(s, &n, 0x01, true, "\xce", 1);
    put_frame(s, &n, 0x80, true, "\xba", 1);
    is_int(parse_trickle(WS_ROLE_SERVER, s, n, kappa, 2, &err), 2,
           "a character split across fragments is valid");
    n = 0;
    put_frame(s, &n, 0x01, true, "\xed", 1);
    put_frame(s, &n, 0x80, true, "\xa0\x80", 2);
    parse_trickle(WS_ROLE_SERVER, s, n, NULL, 0, &err);
    is_int(err, 1007, "surrogate split across fragments -> 1007");
    n = 0;
    put_frame(s, &n, 0x01, true, "ok\xce", 3);
    put_frame(s, &n, 0x80, true, "", 0);
    parse_trickle(WS_ROLE_SERVER, s, n, NULL, 0, &err);
    is_int(err, 1007, "message ending inside a character -> 1007");
    n = 0;
    put_frame(s, &n, 0x81, true, "\xc0\xaf", 2);
    parse_trickle(WS_ROLE_SERVER, s, n, NULL, 0, &err);
    is_int(err, 1007, "overlong form in one frame -> 1007");
    n = 0;
    put_frame(s, &n, 0x82, true, "\xc0\xaf", 2);
    int code;
    is_int(parse_one(WS_ROLE_SERVER, s, n, &code), (ssize_t)n, "binary is not checked");
    /* a ping between the halves does not disturb the text state */
    static const struct expect mixed[] = {
        { WS_OP_TEXT, WS_OP_TEXT, false, "\xe2\x82" },
        { WS_OP_PING, WS_OP_PING, true, "\xff" },
        { WS_OP_CONT, WS_OP_TEXT, true, "\xac" },
    };
    n = 0;
    put_frame(s, &n, 0x01, true, "\xe2\x82", 2);
    put_frame(s, &n, 0x89, true, "\xff", 1);
    put_frame(s, &n, 0x80, true, "\xac", 1);
    is_int(parse_trickle(WS_ROLE_SERVER, s, n, mixed, 3, &err), 3,
           "euro sign split around a binary ping");
}

static void close_case(const char *payload, size_t len, int want_err, int want_code,
                       const char *name)
{
    unsigned char s[200];
    size_t n = 0;
    struct ws_parser p;
    struct ws_frame f;
    char *c;

    put_frame(s, &n, 0x88, true, payload, len);
    ws_parser_init(&p, WS_ROLE_SERVER);
    ssize_t r = parse_copy(&p, s, n, &f, &c);
    if (want_err)
        ok(r == WS_ERROR && p.close_code == want_err, "close %s -> %d", name, want_err);
    else
        ok(r == (ssize_t)n && f.close_code == want_code, "close %s -> code %d", name, want_code);
    guard_free(c, n);
}

static void test_close(void)
{
    char pl[4];
    static const int valid[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
    static const int invalid[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 1100,
                                   2000, 2999, 5000, 65535 };

    close_case("", 0, 0, 1005, "empty");
    close_case("\x03", 1, 1002, 0, "one byte");
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        pl[0] = (char)(valid[i] >> 8);
        pl[1] = (char)valid[i];
        char name[32];
        snprintf(name, sizeof name, "code %d", valid[i]);
        close_case(pl, 2, 0, valid[i], name);
    }
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        pl[0] = (char)(invalid[i] >> 8);
        pl[1] = (char)invalid[i];
        char name[32];
        snprintf(name, sizeof name, "code %d", invalid[i]);
        close_case(pl, 2, 1002, 0, name);
    }
    close_case("\x03\xe8\xce\xba", 4, 0, 1000, "UTF-8 reason");
    close_case("\x03\xe8\xce", 3, 1007, 0, "truncated UTF-8 reason");
    close_case("\x03\xe8\xff", 3, 1007, 0, "invalid reason byte");

    char out[WS_MAX_CONTROL];
    char reason[200];
    memset(reason, 'r', sizeof reason);
    memcpy(reason + 121, "\xe2\x82\xac", 3);   /* euro sign across byte 123 */
    reason[199] = '\0';
    size_t len = ws_close_payload(out, 1001, reason);
    ok(len == 123 && (unsigned char)out[0] == 0x03 && (unsigned char)out[1] == 0xE9,
       "close payload cut before a split character (%zu)", len);
    is_int(ws_close_payload(out, 1000, "\xff"), 2, "invalid reason dropped");
    is_int(ws_close_payload(out, 1000, NULL), 2, "no reason");
}

static void test_builder_roundtrip(void)
{
    unsigned char frame[WS_MAX_HEADER + 300], key[4];
    char data[300];
    struct ws_parser p;
    struct ws_frame f;

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + i % 26);
    ok(ws_random(key, sizeof key) == 0, "random masking key");
    size_t h = ws_frame_header(frame, WS_OP_TEXT, true, sizeof data, key);
    memcpy(frame + h, data, sizeof data);
    ws_mask(frame + h, 100, key, 0);            /* masking in two pieces */
    ws_mask(frame + h + 100, 200, key, 100);
    ws_parser_init(&p, WS_ROLE_SERVER);
    ssize_t r = ws_parse_frame(&p, (char *)frame, h + sizeof data, &f);
    ok(r == (ssize_t)(h + sizeof data) && f.len == sizeof data &&
       memcmp(f.payload, data, sizeof data) == 0, "client frame masked in pieces round-trips");

    h = ws_frame_header(frame, WS_OP_BINARY, false, 5, NULL);
    memcpy(frame + h, "abcde", 5);
    ws_parser_init(&p, WS_ROLE_CLIENT);
    r = ws_parse_frame(&p, (char *)frame, h + 5, &f);
    ok(r == (ssize_t)(h + 5) && !f.fin && f.opcode == WS_OP_BINARY,
       "unmasked server fragment parses on the client");
}

static void test_accept_key(void)
{
    char out[WS_ACCEPT_LEN + 1];
    const char *k = "dGhlIHNhbXBsZSBub25jZQ==";
    ws_accept_key(k, strlen(k), out);
    is_str(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 1.3 accept key");
    ok(ws_close_code_valid(1000) && !ws_close_code_valid(1005), "close code table");
}

int main(void)
{
    test_simple();
    test_roles();
    test_header_rules();
    test_lengths();
    test_limits();
    test_fragmentation();
    test_utf8();
    test_close();
    test_builder_roundtrip();
    test_accept_key();
    return done_testing();
}
