/*
 * sha1.h - SHA-1 (FIPS 180-4), written here for the WebSocket handshake
 * (RFC 6455 4.2.2).  SHA-1 is broken for collision resistance: do not use it
 * for anything that needs a secure hash.
 */
#ifndef WEAPROUS_SHA1_H
#define WEAPROUS_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20
#define SHA1_BLOCK_LEN  64

struct sha1_ctx {
    uint32_t      h[5];
    uint64_t      total;                  /* message bytes so far */
    unsigned char block[SHA1_BLOCK_LEN];  /* pending partial block */
    size_t        used;                   /* bytes in block */
};

void sha1_init(struct sha1_ctx *c);
/* Feeds n bytes; any split of the input gives the same digest. */
void sha1_update(struct sha1_ctx *c, const void *p, size_t n);
/* Writes the digest and wipes the context. */
void sha1_final(struct sha1_ctx *c, unsigned char out[SHA1_DIGEST_LEN]);
/* One-shot digest of p[0..n). */
void sha1_digest(const void *p, size_t n, unsigned char out[SHA1_DIGEST_LEN]);

#endif
