/* fuzz-sources: src/static_util.c src/static_path.c src/mime.c src/utf8.c */
/*
 * fuzz_static.c - libFuzzer harness for the pure field parsers of the
 * static file service: Range (with invariants on the result), ETag lists,
 * Accept-Encoding, request-target and path checks, MIME lookup.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weaprous/static.h"

#define FUZZ_MAX_INPUT 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A Range result must lie inside the representation. */
static void fuzz_range(const char *s, int64_t size)
{
    int64_t first = -1, len = -1;
    enum static_range_kind k = static_range_parse(s, size, &first, &len);
    if (k == STATIC_RANGE_OK
        && (first < 0 || len < 1 || first >= size || len > size - first))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    char *s = malloc(size + 1);   /* exact size: ASan sees any over-read */
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    static const int64_t sizes[] = { 0, 1, 100, INT64_MAX };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        fuzz_range(s, sizes[i]);
    (void)static_accepts_gzip(s);
    (void)static_etag_match(s, "\"1-2-3\"", true);
    (void)static_etag_match(s, "\"1-2-3\"", false);
    (void)static_etag_match("\"1-2-3\", W/\"x\"", s, true);
    int st = static_target_check(s);
    if (st != 0 && st != 400 && st != 403)
        abort();
    st = static_path_check(s);
    if (st != 0 && st != 400 && st != 403 && st != 414)
        abort();
    if (!static_mime_type(s))
        abort();
    free(s);
    return 0;
}
