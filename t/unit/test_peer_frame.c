/*
 * test_peer_frame.c - the P2P frame parser, typed readers and writers
 * (src/peer/peer_frame.c): every frame type, hostile frames (length 0,
 * over the cap, 0xFFFFFFFF, not JSON, not an object, unknown type,
 * truncated), each fed whole from a buffer that ends at an unreadable page,
 * and every proper prefix of a valid frame answering "need more".
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "peer/peer_frame.h"
#include "tap.h"

/* A frame: 4-byte big-endian length + payload, into out; returns its size. */
static size_t mk(char *out, const char *payload)
{
    size_t n = strlen(payload);
    out[0] = (char)(n >> 24);
    out[1] = (char)(n >> 16);
    out[2] = (char)(n >> 8);
    out[3] = (char)n;
    memcpy(out + 4, payload, n);
    return n + 4;
}

/* Parses bytes placed right before a guard page. */
static ssize_t parse_guarded(const char *bytes, size_t n, struct peer_frame *f)
{
    char *g = guard_copy(bytes, n);
    ssize_t r = peer_frame_parse(g, n, f);
    guard_free(g, n);
    return r;
}

/* Every proper prefix must be AGAIN, the whole frame must be n bytes. */
static int prefixes_again(const char *bytes, size_t n)
{
    struct peer_frame f;
    for (size_t i = 0; i < n; i++) {
        if (parse_guarded(bytes, i, &f) != PEER_FRAME_AGAIN) {
            diag("prefix of %zu bytes did not answer AGAIN", i);
            return 0;
        }
    }
    return 1;
}

static const struct { const char *payload; enum peer_frame_type type; } valid[] = {
    { "{\"t\":\"hello\",\"v\":1,\"user\":\"alice\",\"ticket\":"
      "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}", PF_HELLO },
    { "{\"t\":\"welcome\",\"v\":1,\"user\":\"bob\",\"ticket\":"
      "\"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\"}", PF_WELCOME },
    { "{\"t\":\"error\",\"code\":\"not-vouched\",\"detail\":\"no\"}", PF_ERROR },
    { "{\"t\":\"have\",\"channel\":\"general\",\"vector\":{\"alice\":12,\"bob\":0}}", PF_HAVE },
    { "{\"t\":\"want\",\"channel\":\"general\",\"origin\":\"alice\",\"from\":3,\"to\":9}", PF_WANT },
    { "{\"t\":\"msg\",\"channel\":\"dm:alice:bob\",\"origin\":\"alice\",\"seq\":1,"
      "\"lamport\":7,\"sent_at\":1700000000000,\"text\":\"hi \\u00e9\"}", PF_MSG },
    { "{\"t\":\"ping\"}", PF_PING },
    { "{\"t\":\"pong\",\"extra\":[1,2]}", PF_PONG },
    { "{\"t\":\"bye\"}", PF_BYE },
};

static void test_valid(void)
{
    char fr[512];
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        size_t n = mk(fr, valid[i].payload);
        struct peer_frame f;
        ssize_t r = parse_guarded(fr, n, &f);
        ok(r == (ssize_t)n && f.type == valid[i].type, "%s: whole frame, %zu bytes",
           peer_frame_type_name(valid[i].type), n);
        json_free(f.doc);
        ok(prefixes_again(fr, n), "%s: every prefix needs more",
           peer_frame_type_name(valid[i].type));
        /* two frames back to back: the first is returned alone */
        memcpy(fr + n, fr, n);
        r = peer_frame_parse(fr, 2 * n, &f);
        ok(r == (ssize_t)n, "%s: pipelined, first frame alone",
           peer_frame_type_name(valid[i].type));
        json_free(f.doc);
    }
}

static void bad(const char *bytes, size_t n, const char *error, const char *name)
{
    struct peer_frame f;
    ssize_t r = parse_guarded(bytes, n, &f);
    ok(r == PEER_FRAME_BAD && f.error && strcmp(f.error, error) == 0 && f.doc == NULL,
       "%s -> %s (got %zd %s)", name, error, r, f.error ? f.error : "-");
}

static void test_hostile(void)
{
    char fr[256];
    bad("\0\0\0\0", 4, "frame-length", "length 0");
    bad("\xff\xff\xff\xff", 4, "frame-length", "length 0xFFFFFFFF");
    bad("\x00\x01\x00\x01", 4, "frame-length", "length 65537 (one over the cap)");
    bad("\x80\x00\x00\x00{", 5, "frame-length", "length 2^31");
    size_t n = mk(fr, "not json");
    bad(fr, n, "bad-json", "not JSON");
    n = mk(fr, "[\"t\",\"hello\"]");
    bad(fr, n, "not-object", "an array");
    n = mk(fr, "\"hello\"");
    bad(fr, n, "not-object", "a string");
    n = mk(fr, "{\"t\":\"shout\"}");
    bad(fr, n, "unknown-type", "unknown type");
    n = mk(fr, "{\"type\":\"ping\"}");
    bad(fr, n, "unknown-type", "no \"t\"");
    n = mk(fr, "{\"t\":7}");
    bad(fr, n, "unknown-type", "\"t\" not a string");
    n = mk(fr, "{\"t\":\"ping\\u0000\"}");
    bad(fr, n, "unknown-type", "\"t\" with a NUL");
    n = mk(fr, "{\"t\":\"ping\"} {}");
    bad(fr, n, "bad-json", "two JSON values in one frame");
    n = mk(fr, "{\"t\":\"ping\"");
    bad(fr, n, "bad-json", "truncated JSON inside a complete frame");
    n = mk(fr, "\xef\xbb\xbf{\"t\":\"ping\"}");
    bad(fr, n, "bad-json", "a byte order mark");
    n = mk(fr, "{\"t\":\"ping\",\"x\":\"\xc3\x28\"}");
    bad(fr, n, "bad-json", "invalid UTF-8");
    n = mk(fr, "{\"t\":\"ping\",\"x\":[[[[[[[[[[1]]]]]]]]]]}");
    bad(fr, n, "bad-json", "nested deeper than 8");

    /* the length is judged as soon as its 4 bytes are there */
    struct peer_frame f;
    ok(peer_frame_parse("\x00\x01\x00", 3, &f) == PEER_FRAME_AGAIN, "3 length bytes: need more");
    ok(peer_frame_parse("\x00\x01\x00\x01", 4, &f) == PEER_FRAME_BAD,
       "over-long length refused before its payload");
    ok(peer_frame_parse("\x00\x00\x10\x00{", 5, &f) == PEER_FRAME_AGAIN,
       "a 4096-byte frame with 1 byte: need more");
}

static void test_cap(void)
{
    /* exactly 65536 bytes of payload: accepted; one more refused */
    size_t n = PEER_FRAME_MAX;
    char *big = malloc(n + 4);
    memcpy(big + 4, "{\"t\":\"ping\",\"pad\":\"", 19);
    memset(big + 4 + 19, 'x', n - 19 - 2);
    memcpy(big + 4 + n - 2, "\"}", 2);
    big[0] = 0; big[1] = 1; big[2] = 0; big[3] = 0;
    struct peer_frame f;
    ssize_t r = parse_guarded(big, n + 4, &f);
    ok(r == (ssize_t)(n + 4) && f.type == PF_PING, "a frame of exactly 65536 bytes");
    json_free(f.doc);
    free(big);
}

/* Typed readers on frames built from payload text. */
static int read_frame(const char *payload, struct peer_frame *f)
{
    char fr[1024];
    size_t n = mk(fr, payload);
    return peer_frame_parse(fr, n, f) == (ssize_t)n ? 0 : -1;
}

static void test_readers(void)
{
    struct peer_frame f;
    const char *why;
    struct pf_hello h;
    struct pf_msg m;
    struct pf_have hv;
    struct pf_want w;
    struct pf_error e;

    read_frame(valid[0].payload, &f);
    ok(peer_frame_hello(&f, &h, &why) == 0 && strcmp(h.user, "alice") == 0, "hello read");
    json_free(f.doc);
    static const char *const bad_hello[] = {
        "{\"t\":\"hello\",\"v\":2,\"user\":\"a\",\"ticket\":\"" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
        "{\"t\":\"hello\",\"user\":\"a\",\"ticket\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
        "{\"t\":\"hello\",\"v\":1,\"user\":\"-a\",\"ticket\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
        "{\"t\":\"hello\",\"v\":1,\"user\":\"a\",\"ticket\":\"0123\"}",
        "{\"t\":\"hello\",\"v\":1,\"user\":\"a\",\"ticket\":\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}",
        "{\"t\":\"hello\",\"v\":1,\"user\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"ticket\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
    };
    for (size_t i = 0; i < sizeof(bad_hello) / sizeof(bad_hello[0]); i++) {
        why = "(not read)";
        int refused = read_frame(bad_hello[i], &f) == 0 && peer_frame_hello(&f, &h, &why) < 0;
        ok(refused, "bad hello %zu refused: %s", i, why);
        json_free(f.doc);
    }

    read_frame(valid[5].payload, &f);
    ok(peer_frame_msg(&f, &m, &why) == 0 && m.seq == 1 && m.lamport == 7
       && m.text_len == 5 && strcmp(m.channel, "dm:alice:bob") == 0, "msg read");
    json_free(f.doc);
    static const char *const bad_msg[] = {
        "{\"t\":\"msg\",\"channel\":\"general\",\"origin\":\"a\",\"seq\":0,\"lamport\":1,\"sent_at\":0,\"text\":\"x\"}",
        "{\"t\":\"msg\",\"channel\":\"general\",\"origin\":\"a\",\"seq\":1.5,\"lamport\":1,\"sent_at\":0,\"text\":\"x\"}",
        "{\"t\":\"msg\",\"channel\":\"general\",\"origin\":\"a\",\"seq\":9007199254740993,\"lamport\":1,\"sent_at\":0,\"text\":\"x\"}",
        "{\"t\":\"msg\",\"channel\":\"general\",\"origin\":\"a\",\"seq\":1,\"lamport\":0,\"sent_at\":0,\"text\":\"x\"}",
        "{\"t\":\"msg\",\"channel\":\"general\",\"origin\":\"a\",\"seq\":1,\"lamport\":1,\"sent_at\":-1,\"text\":\"x\"}",
        "{\"t\":\"msg\",\"channel\":\"general\",\"origin\":\"a\",\"seq\":1,\"lamport\":1,\"sent_at\":0,\"text\":\"\"}",
        "{\"t\":\"msg\",\"channel\":\"general\",\"origin\":\"a\",\"seq\":1,\"lamport\":1,\"sent_at\":0,\"text\":\"a\\u0000b\"}",
        "{\"t\":\"msg\",\"channel\":\"general\",\"origin\":\"a\",\"seq\":1,\"lamport\":1,\"sent_at\":0}",
        "{\"t\":\"msg\",\"channel\":\"no spaces\",\"origin\":\"a\",\"seq\":1,\"lamport\":1,\"sent_at\":0,\"text\":\"x\"}",
        "{\"t\":\"msg\",\"channel\":\"dm:bob:alice\",\"origin\":\"a\",\"seq\":1,\"lamport\":1,\"sent_at\":0,\"text\":\"x\"}",
        "{\"t\":\"msg\",\"channel\":\"dm:alice:alice\",\"origin\":\"a\",\"seq\":1,\"lamport\":1,\"sent_at\":0,\"text\":\"x\"}",
        "{\"t\":\"msg\",\"channel\":\"general\",\"origin\":\"a b\",\"seq\":1,\"lamport\":1,\"sent_at\":0,\"text\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof(bad_msg) / sizeof(bad_msg[0]); i++) {
        why = "(not read)";
        int refused = read_frame(bad_msg[i], &f) == 0 && peer_frame_msg(&f, &m, &why) < 0;
        ok(refused, "bad msg %zu refused: %s", i, why);
        json_free(f.doc);
    }
    /* a text of 4000 bytes passes, 4001 does not */
    char *p = malloc(8192);
    for (int extra = 0; extra <= 1; extra++) {
        int k = snprintf(p, 8192, "{\"t\":\"msg\",\"channel\":\"general\",\"origin\":\"a\",\"seq\":1,"
                         "\"lamport\":1,\"sent_at\":0,\"text\":\"");
        memset(p + k, 'y', PEER_TEXT_MAX + (size_t)extra);
        strcpy(p + k + PEER_TEXT_MAX + extra, "\"}");
        char *fb = malloc(strlen(p) + 4);
        size_t n = mk(fb, p);
        ok(peer_frame_parse(fb, n, &f) == (ssize_t)n
           && (peer_frame_msg(&f, &m, &why) == 0) == (extra == 0),
           "text of %d bytes %s", PEER_TEXT_MAX + extra, extra ? "refused" : "accepted");
        json_free(f.doc);
        free(fb);
    }
    free(p);

    read_frame(valid[3].payload, &f);
    ok(peer_frame_have(&f, &hv, &why) == 0 && json_len(hv.vector) == 2 && !hv.reply,
       "have read (not a reply)");
    json_free(f.doc);
    static const char *const bad_have[] = {
        "{\"t\":\"have\",\"channel\":\"general\",\"vector\":[1]}",
        "{\"t\":\"have\",\"channel\":\"general\",\"vector\":{\"a\":-1}}",
        "{\"t\":\"have\",\"channel\":\"general\",\"vector\":{\"a b\":1}}",
        "{\"t\":\"have\",\"channel\":\"general\",\"vector\":{\"a\":\"1\"}}",
        "{\"t\":\"have\",\"vector\":{}}",
        "{\"t\":\"have\",\"channel\":\"general\",\"vector\":{},\"reply\":1}",
    };
    for (size_t i = 0; i < sizeof(bad_have) / sizeof(bad_have[0]); i++) {
        why = "(not read)";
        int refused = read_frame(bad_have[i], &f) == 0 && peer_frame_have(&f, &hv, &why) < 0;
        ok(refused, "bad have %zu refused: %s", i, why);
        json_free(f.doc);
    }

    read_frame(valid[4].payload, &f);
    ok(peer_frame_want(&f, &w, &why) == 0 && w.from == 3 && w.to == 9, "want read");
    json_free(f.doc);
    read_frame("{\"t\":\"want\",\"channel\":\"general\",\"origin\":\"a\",\"from\":9,\"to\":3}", &f);
    ok(peer_frame_want(&f, &w, &why) < 0, "want from > to refused");
    json_free(f.doc);
    read_frame("{\"t\":\"want\",\"channel\":\"general\",\"origin\":\"a\",\"from\":1,\"to\":100001}", &f);
    ok(peer_frame_want(&f, &w, &why) < 0, "want of 100001 messages refused");
    json_free(f.doc);
    read_frame("{\"t\":\"want\",\"channel\":\"general\",\"origin\":\"a\",\"from\":1,\"to\":100000}", &f);
    ok(peer_frame_want(&f, &w, &why) == 0, "want of 100000 messages accepted");
    json_free(f.doc);

    read_frame(valid[2].payload, &f);
    ok(peer_frame_error(&f, &e, &why) == 0 && strcmp(e.code, "not-vouched") == 0, "error read");
    json_free(f.doc);
}

static void test_names(void)
{
    char other[DB_MAX_NAME + 1], name[PEER_CHANNEL_MAX + 1];
    ok(peer_channel_valid("general") && peer_channel_valid("room-1")
       && peer_channel_valid("dm:alice:bob"), "valid channel names");
    ok(!peer_channel_valid("") && !peer_channel_valid("-x") && !peer_channel_valid("a.b")
       && !peer_channel_valid("dm:bob:alice") && !peer_channel_valid("dm:alice:")
       && !peer_channel_valid("dm::bob") && !peer_channel_valid("dm:a:b:c"),
       "invalid channel names (order, empty side, three users, dot in a channel)");
    ok(peer_dm_other("dm:alice:bob", "bob", other) && strcmp(other, "alice") == 0,
       "the other side of a dm");
    ok(!peer_dm_other("dm:alice:bob", "carol", other), "not carol's dm");
    peer_dm_name("bob", "alice", name);
    is_str(name, "dm:alice:bob", "dm name sorts the users");
}

/* Writers produce frames the parser reads back, and refuse what does not
 * fit without changing the buffer. */
static void test_writers(void)
{
    buf b;
    struct peer_frame f;
    const char *why;
    buf_init(&b, 1 << 20);
    struct pf_msg m = { "general", "alice", 3, 9, 1700000000123, "line\n\"quoted\"", 13 };
    ok(peer_frame_put_msg(&b, &m) == 0, "msg written");
    ok(peer_frame_put_hello(&b, PF_WELCOME, "bob",
                            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") == 0,
       "welcome written");
    struct pf_have_writer hw;
    peer_frame_have_begin(&hw, &b, "general", true);
    peer_frame_have_add(&hw, "alice", 3);
    peer_frame_have_add(&hw, "bob", 0);
    ok(peer_frame_have_end(&hw) == 0, "have written");
    ok(peer_frame_put_bare(&b, PF_BYE) == 0, "bye written");
    ssize_t n = peer_frame_parse(buf_ptr(&b), buf_len(&b), &f);
    struct pf_msg back;
    ok(n > 0 && f.type == PF_MSG && peer_frame_msg(&f, &back, &why) == 0 && back.seq == 3
       && back.text_len == 13 && memcmp(back.text, m.text, 13) == 0, "msg round trip");
    json_free(f.doc);
    buf_consume(&b, (size_t)n);
    n = peer_frame_parse(buf_ptr(&b), buf_len(&b), &f);
    struct pf_hello h;
    ok(n > 0 && f.type == PF_WELCOME && peer_frame_hello(&f, &h, &why) == 0, "welcome round trip");
    json_free(f.doc);
    buf_consume(&b, (size_t)n);
    n = peer_frame_parse(buf_ptr(&b), buf_len(&b), &f);
    struct pf_have hv;
    ok(n > 0 && f.type == PF_HAVE && peer_frame_have(&f, &hv, &why) == 0
       && json_len(hv.vector) == 2 && hv.reply, "have round trip (a reply)");
    json_free(f.doc);
    buf_consume(&b, (size_t)n);
    n = peer_frame_parse(buf_ptr(&b), buf_len(&b), &f);
    ok(n == (ssize_t)buf_len(&b) && f.type == PF_BYE, "bye round trip, nothing left");
    json_free(f.doc);
    buf_free(&b);

    /* a buffer too small: ENOBUFS and unchanged */
    buf_init(&b, 40);
    buf_append(&b, "xyz", 3);
    ok(peer_frame_put_msg(&b, &m) < 0 && errno == ENOBUFS && buf_len(&b) == 3
       && memcmp(buf_ptr(&b), "xyz", 3) == 0, "a full buffer refuses and keeps its bytes");
    buf_free(&b);
    /* a frame over 65536 bytes: refused, buffer unchanged */
    buf_init(&b, 1 << 20);
    char *t = malloc(20000);
    memset(t, '"', 20000);       /* escapes to 40000 bytes, still under the cap */
    struct pf_msg big = { "general", "alice", 1, 1, 0, t, 20000 };
    ok(peer_frame_put_msg(&b, &big) == 0, "a 40 KB escaped text fits");
    size_t keep = buf_len(&b);
    memset(t, 1, 20000);         /* \u0001 x 20000 = 120000 bytes */
    ok(peer_frame_put_msg(&b, &big) < 0 && buf_len(&b) == keep,
       "a frame over 65536 bytes is refused and rolled back");
    free(t);
    buf_free(&b);
}

int main(void)
{
    test_valid();
    test_hostile();
    test_cap();
    test_readers();
    test_names();
    test_writers();
    return done_testing();
}
