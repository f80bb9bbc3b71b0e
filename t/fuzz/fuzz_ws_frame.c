/* fuzz-sources: src/ws_frame.c src/utf8.c src/sha1.c src/base64.c src/entropy.c */
/*
 * fuzz_ws_frame.c - libFuzzer harness for the WebSocket frame parser.  The
 * first input byte picks the role and the limits; the rest is a byte stream
 * parsed frame after frame, once whole and once fed in growing prefixes,
 * which must agree.  Also checks invariants of every frame returned.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "weaprous/ws.h"

/* Parses the stream with frames revealed `step` bytes at a time; returns a
 * digest of the frames (opcode, length, first byte) and the final result. */
static unsigned long run(enum ws_role role, uint64_t max, const uint8_t *data,
                         size_t n, size_t step, ssize_t *last)
{
    char *copy = malloc(n ? n : 1);
    struct ws_parser p;
    struct ws_frame f;
    size_t off = 0, avail = 0;
    unsigned long h = 5381;

    memcpy(copy, data, n);
    ws_parser_init(&p, role);
    p.max_frame = p.max_message = max;
    *last = WS_AGAIN;
    while (avail < n) {
        avail = avail + step > n ? n : avail + step;
        for (;;) {
            ssize_t r = ws_parse_frame(&p, copy + off, avail - off, &f);
            *last = r;
            if (r == WS_ERROR) {
                if (p.close_code != 1002 && p.close_code != 1007 && p.close_code != 1009)
                    abort();
                free(copy);
                return h;
            }
            if (r == WS_AGAIN)
                break;
            if ((size_t)r > avail - off || f.len > max || f.payload + f.len != copy + off + r)
                abort();
            if ((f.opcode & 8) && (f.len > WS_MAX_CONTROL || !f.fin))
                abort();
            if (f.opcode == WS_OP_TEXT && f.fin && !utf8_valid(f.payload, f.len))
                abort();
            h = h * 33 + f.opcode * 7 + f.len + (f.len ? (uint8_t)f.payload[0] : 0);
            off += (size_t)r;
        }
    }
    free(copy);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum ws_role role = (data[0] & 1) ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
    uint64_t max = (data[0] & 2) ? 64 : WS_DEFAULT_MAX_FRAME;
    ssize_t a, b;
    unsigned long ha = run(role, max, data + 1, size - 1, size, &a);
    unsigned long hb = run(role, max, data + 1, size - 1, 1 + (data[0] >> 4), &b);
    if (ha != hb || a != b)
        abort();

    /* the helpers must not misbehave on arbitrary input either */
    char acc[WS_ACCEPT_LEN + 1], out[WS_MAX_CONTROL];
    unsigned char dec[64];
    ws_accept_key((const char *)data, size, acc);
    if (strlen(acc) != WS_ACCEPT_LEN)
        abort();
    base64_decode((const char *)data, size, dec, sizeof dec);
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    size_t cl = ws_close_payload(out, 1000, s);
    if (cl < 2 || cl > WS_MAX_CONTROL || !utf8_valid(out + 2, cl - 2))
        abort();
    free(s);
    return 0;
}
