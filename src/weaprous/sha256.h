/*
 * sha256.h - SHA-256 (FIPS 180-4), incremental and one-shot.
 *
 * Used by the store to keep only a digest of each session token.  No
 * allocation, no I/O; a context is a plain struct the caller owns.
 */
#ifndef WEAPROUS_SHA256_H
#define WEAPROUS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "weaprous/api.h"

WR_API_BEGIN

#define SHA256_DIGEST_LEN 32
#define SHA256_BLOCK_LEN  64
#define SHA256_HEX_LEN    (2 * SHA256_DIGEST_LEN)  /* without the NUL */

typedef struct sha256_ctx {
    uint32_t h[8];                     /* chaining state */
    uint64_t total;                    /* bytes hashed so far */
    uint8_t  block[SHA256_BLOCK_LEN];  /* pending partial block */
    size_t   used;                     /* bytes in block[] */
} sha256_ctx;

void sha256_init(sha256_ctx *c);
/* Feeds n bytes; any n, any number of calls. */
void sha256_update(sha256_ctx *c, const void *data, size_t n);
/* Writes the 32-byte digest; the context must be re-initialised to reuse. */
void sha256_final(sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);

/* One shot: digest of data[0..n). */
void sha256(const void *data, size_t n, uint8_t out[SHA256_DIGEST_LEN]);
/* One shot, lower-case hex: writes SHA256_HEX_LEN chars plus a NUL. */
void sha256_hex(const void *data, size_t n, char out[SHA256_HEX_LEN + 1]);

WR_API_END

#endif
