/* fuzz_json.c - libFuzzer harness for the JSON reader and writer.
 * fuzz-sources: src/json.c src/utf8.c src/buf.c
 *
 * Every input is parsed (with a small depth limit too, to reach that path);
 * when it is valid, it is written back, and the text written must parse
 * again into an equal document.  (The text itself may change once: a
 * fractional-looking input such as 1e17 or 100000000000000000.5 comes back
 * as an integer, so text identity is not required.) */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

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
    /* Written text may be longer than the input (1e18 -> 19 digits). */
    struct json_limits roomy = { .max_size = 64u << 20 };
    buf b;
    buf_init(&b, 64u << 20);
    write_doc(json_root(d), &b);
    json_doc *d2 = json_parse(buf_ptr(&b), buf_len(&b), &roomy, &e);
    if (d2 == NULL || !json_equal(json_root(d), json_root(d2)))
        abort();
    json_free(d2);
    json_free(d);
    buf_free(&b);
    return 0;
}
