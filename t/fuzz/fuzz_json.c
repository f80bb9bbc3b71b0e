/* fuzz_json.c - libFuzzer harness for the JSON reader and writer.
 * fuzz-sources: src/json.c src/utf8.c src/buf.c
 *
 * Every input is parsed (with a small depth limit too, to reach that path);
 * when it is valid, it is written back, and the text written must parse
 * again into an equal document and write identically a second time. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weaprous/json.h"

static void write_doc(const json_value *v, buf *b)
{
    json_writer w;
    json_w_init(&w, b);
    json_w_value(&w, v);
    if (json_w_finish(&w) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_error e;
    struct json_limits shallow = { .max_depth = 3 };
    json_free(json_parse((const char *)data, size, &shallow, &e));

    json_doc *d = json_parse((const char *)data, size, NULL, &e);
    if (d == NULL)
        return 0;
    buf b1, b2;
    buf_init(&b1, 64u << 20);
    buf_init(&b2, 64u << 20);
    write_doc(json_root(d), &b1);
    json_doc *d2 = json_parse(buf_ptr(&b1), buf_len(&b1), NULL, &e);
    if (d2 == NULL || !json_equal(json_root(d), json_root(d2)))
        abort();
    write_doc(json_root(d2), &b2);
    if (buf_len(&b1) != buf_len(&b2) || memcmp(buf_ptr(&b1), buf_ptr(&b2), buf_len(&b1)) != 0)
        abort();
    json_free(d2);
    json_free(d);
    buf_free(&b1);
    buf_free(&b2);
    return 0;
}
