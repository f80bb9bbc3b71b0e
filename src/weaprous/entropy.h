/*
 * entropy.h - cryptographic random bytes from the kernel: getrandom(2) when
 * available, /dev/urandom otherwise.  Used for session tokens, password
 * salts and tracker tickets; and the comparison of such secrets.
 */
#ifndef WEAPROUS_ENTROPY_H
#define WEAPROUS_ENTROPY_H

#include <stddef.h>

#include "weaprous/api.h"

WR_API_BEGIN

/* Fills buf[0..n) with random bytes.  Returns 0, or -1 with errno when no
 * source works (never returns fewer bytes than asked). */
int entropy_fill(void *buf, size_t n);

/* Fills out with 2*nbytes lower-case hex chars of fresh randomness plus a
 * NUL; out must hold 2*nbytes+1 bytes and nbytes <= 64.  0 or -1. */
int entropy_hex(char *out, size_t nbytes);

/* Whether the secrets a and b (NUL-terminated: tokens, hashes) are equal,
 * in a time that depends on their lengths only, not on where they differ.
 * 1 equal, 0 not. */
int entropy_equal(const char *a, const char *b);

WR_API_END

#endif
