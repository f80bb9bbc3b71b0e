/*
 * utf8.h - strict UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), whole or streaming for fragmented input.
 */
#ifndef WEAPROUS_UTF8_H
#define WEAPROUS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weaprous/api.h"

WR_API_BEGIN

/* Streaming state: zero-initialise.  Private fields. */
struct utf8_state {
    uint32_t need;   /* continuation bytes still expected */
    uint32_t lo, hi; /* allowed range of the next continuation byte */
};

enum utf8_result { UTF8_INVALID = -1, UTF8_COMPLETE = 0, UTF8_PARTIAL = 1 };

/* Feeds n more bytes.  UTF8_PARTIAL means valid so far but ending inside a
 * character; UTF8_INVALID is final for this state. */
enum utf8_result utf8_feed(struct utf8_state *st, const void *p, size_t n);
bool utf8_valid(const void *p, size_t n);
/* Encodes code point cp (<= 0x10FFFF, not a surrogate) into out[4]; returns
 * the byte count, or 0 when cp cannot be encoded. */
size_t utf8_encode(uint32_t cp, char out[4]);

WR_API_END

#endif
