/*
 * base64.h - Base64 with the standard alphabet and padding (RFC 4648
 * section 4).  Decoding is strict: no whitespace, no missing or misplaced
 * padding, no non-zero bits left over in the last character.
 */
#ifndef WEAPROUS_BASE64_H
#define WEAPROUS_BASE64_H

#include <stddef.h>
#include <sys/types.h>

/* Characters needed to encode n bytes, without the terminating NUL. */
#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/* Upper bound of the bytes decoded from n characters. */
#define BASE64_DECODED_MAX(n) (((n) / 4) * 3)

/* Encodes src[0..n) into dst (room for BASE64_ENCODED_LEN(n) + 1 bytes),
 * NUL-terminated; returns the length written without the NUL. */
size_t base64_encode(const void *src, size_t n, char *dst);
/* Decodes src[0..n) into dst (room for dst_cap bytes).  Returns the decoded
 * length, or -1 when the input is not canonical Base64 (EINVAL) or does not
 * fit (ENOBUFS). */
ssize_t base64_decode(const char *src, size_t n, void *dst, size_t dst_cap);

#endif
