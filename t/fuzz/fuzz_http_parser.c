/* fuzz-sources: src/http_parser.c src/http_util.c */
/*
 * fuzz_http_parser.c - libFuzzer harness for the HTTP/1.1 head parser and
 * the chunked decoder.  For every input, as a request and as a response:
 * the answer of one whole parse must equal the answer of feeding the same
 * bytes one at a time (abort otherwise), and a complete head must be sane.
 * The chunked decoder must give the same body and the same answer whether
 * the input comes at once, cut in two, or byte by byte.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I<dir with config.h> \
 *       -Isrc t/fuzz/fuzz_http_parser.c src/http_parser.c src/http_util.c
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "weaprous/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

static void same_heads(const struct http_head *a, const struct http_head *b)
{
    check(a->method == b->method && a->status == b->status);
    check(a->version_major == b->version_major && a->version_minor == b->version_minor);
    check(a->num_headers == b->num_headers && a->content_length == b->content_length);
    check(a->flags == b->flags && a->head_len == b->head_len);
    check(a->target == b->target && a->target_len == b->target_len);
    check(a->host == b->host && a->host_len == b->host_len);
    check(a->reason == b->reason && a->reason_len == b->reason_len);
    for (size_t i = 0; i < a->num_headers; i++)
        check(a->headers[i].name == b->headers[i].name
              && a->headers[i].name_len == b->headers[i].name_len
              && a->headers[i].value == b->headers[i].value
              && a->headers[i].value_len == b->headers[i].value_len);
}

/* Every slice of a complete head lies inside it. */
static void sane_head(const char *buf, const struct http_head *h)
{
    const char *end = buf + h->head_len;

    check(h->num_headers <= HTTP_MAX_HEADERS && h->head_len <= HTTP_MAX_HEAD);
    for (size_t i = 0; i < h->num_headers; i++) {
        const struct http_header *hd = &h->headers[i];
        check(hd->name >= buf && hd->name + hd->name_len <= end && hd->name_len > 0);
        check(hd->value >= buf && hd->value + hd->value_len <= end);
        check(http_is_token(hd->name, hd->name_len));
        check(http_is_field_value(hd->value, hd->value_len));
    }
    check(!(h->flags & HTTP_F_CHUNKED) || h->content_length < 0);
}

static void parse_both_ways(enum http_parser_kind kind, const char *buf, size_t n)
{
    struct http_parser p1, p2;
    static struct http_head h1, h2;   /* static: 3 KB each, keep the stack small */
    int r1, r2 = HTTP_AGAIN;

    http_parser_init(&p1, kind);
    r1 = http_parse_head(&p1, buf, n, &h1);
    http_parser_init(&p2, kind);
    for (size_t k = 1; k <= n && r2 == HTTP_AGAIN; k++)
        r2 = http_parse_head(&p2, buf, k, &h2);
    check(r1 == r2);
    if (r1 == HTTP_ERROR) {
        check(p1.status == p2.status && p1.error && p2.error);
        check(p1.status >= 400 && p1.status <= 505);
        check(kind == HTTP_PARSE_REQUEST || p1.status == 502);
    } else if (r1 > 0) {
        check((size_t)r1 <= n && (size_t)r1 == h1.head_len);
        same_heads(&h1, &h2);
        sane_head(buf, &h1);
    }
}

struct dec {
    ssize_t ret;
    size_t outlen;
    uint64_t total;
};

/* Decodes data fed in pieces of `step` bytes (0: at once) into out. */
static void decode(const uint8_t *data, size_t n, size_t step, char *out, struct dec *r)
{
    struct http_chunked d = { 0 };
    size_t from = 0;

    r->ret = HTTP_AGAIN;
    r->outlen = 0;
    while (from < n && r->ret == HTTP_AGAIN) {
        size_t piece = step && n - from > step ? step : n - from;
        char *buf = malloc(piece);
        size_t len = piece;
        memcpy(buf, data + from, piece);
        r->ret = http_chunked_decode(&d, buf, &len);
        check(len <= piece);
        if (r->ret >= 0)
            check(len + (size_t)r->ret <= piece && http_chunked_done(&d));
        memcpy(out + r->outlen, buf, len);
        r->outlen += len;
        if (r->ret >= 0)   /* count what is left unfed as following too */
            r->ret += (ssize_t)(n - from - piece);
        free(buf);
        from += piece;
    }
    r->total = d.total;
    check(r->total == r->outlen);
}

static void chunked_ways(const uint8_t *data, size_t n)
{
    char *o1 = malloc(n + 1), *o2 = malloc(n + 1), *o3 = malloc(n + 1);
    struct dec a, b, c;

    decode(data, n, 0, o1, &a);
    decode(data, n, 1, o2, &b);
    decode(data, n, n > 2 ? n / 2 + 1 : 1, o3, &c);
    check(a.ret == b.ret && a.ret == c.ret);
    check(a.outlen == b.outlen && a.outlen == c.outlen);
    check(memcmp(o1, o2, a.outlen) == 0 && memcmp(o1, o3, a.outlen) == 0);
    free(o1);
    free(o2);
    free(o3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size heap copy: ASan catches a read past the end */
    char *buf = malloc(size ? size : 1);

    memcpy(buf, data, size);
    parse_both_ways(HTTP_PARSE_REQUEST, buf, size);
    parse_both_ways(HTTP_PARSE_RESPONSE, buf, size);
    free(buf);
    chunked_ways(data, size);
    return 0;
}
