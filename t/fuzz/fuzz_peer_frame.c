/* fuzz-sources: src/peer/peer_frame.c src/json.c src/utf8.c src/buf.c src/db_account.c src/db.c src/pwhash.c src/entropy.c src/sha256.c */
/*
 * fuzz_peer_frame.c - the P2P frame parser and typed readers on arbitrary
 * bytes: a stream is cut into frames the way a link reads it (whole, then
 * again one byte more at a time for the first frame, which must give the
 * same answer), every frame goes through the reader of its type, and a
 * frame that parsed is written back by the writers and must parse again.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "peer/peer_frame.h"

/* The name rules live in the store's db_account.c, whose migrations the
 * build generates; the harness needs none of them. */
const char *const db_sql_main_scripts[] = { 0 };

static void read_typed(const struct peer_frame *f)
{
    const char *why;
    struct pf_hello h;
    struct pf_error e;
    struct pf_want w;
    struct pf_msg m;
    struct pf_have hv;
    buf out;
    buf_init(&out, 1 << 20);
    switch (f->type) {
    case PF_HELLO:
    case PF_WELCOME:
        if (peer_frame_hello(f, &h, &why) == 0)
            peer_frame_put_hello(&out, f->type, h.user, h.ticket);
        break;
    case PF_ERROR:
        if (peer_frame_error(f, &e, &why) == 0)
            peer_frame_put_error(&out, e.code, e.detail);
        break;
    case PF_WANT:
        if (peer_frame_want(f, &w, &why) == 0)
            peer_frame_put_want(&out, &w);
        break;
    case PF_MSG:
        if (peer_frame_msg(f, &m, &why) == 0)
            peer_frame_put_msg(&out, &m);
        break;
    case PF_HAVE:
        peer_frame_have(f, &hv, &why);
        break;
    default:
        peer_frame_put_bare(&out, f->type);
    }
    if (buf_len(&out) > 0) {
        struct peer_frame back;
        ssize_t n = peer_frame_parse(buf_ptr(&out), buf_len(&out), &back);
        if (n != (ssize_t)buf_len(&out) || back.type != f->type)
            abort();   /* what we write, we read */
        json_free(back.doc);
    }
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct peer_frame f;
    /* the first frame, byte by byte: AGAIN until it is complete, then the
     * same answer as whole */
    ssize_t whole = peer_frame_parse(p, size, &f);
    json_free(f.doc);
    for (size_t i = 0; i < size; i++) {
        ssize_t r = peer_frame_parse(p, i, &f);
        json_free(f.doc);
        if (r == PEER_FRAME_AGAIN)
            continue;
        if (r != whole)
            abort();   /* an answer before the bytes that decide it */
        break;
    }
    /* the stream, frame after frame */
    size_t off = 0;
    while (off < size) {
        ssize_t n = peer_frame_parse(p + off, size - off, &f);
        if (n <= 0)
            break;
        read_typed(&f);
        json_free(f.doc);
        off += (size_t)n;
    }
    return 0;
}
