/* sha1.c - SHA-1 as specified by FIPS 180-4 section 6.1.  See sha1.h. */
#include "config.h"

#include <string.h>

#include "sha1.h"

static uint32_t sha1_rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static uint32_t sha1_load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The round function f_t and constant K_t of FIPS 180-4 4.1.1 / 4.2.1. */
static uint32_t sha1_f(unsigned t, uint32_t b, uint32_t c, uint32_t d, uint32_t *k)
{
    if (t < 20) { *k = 0x5A827999u; return (b & c) | (~b & d); }
    if (t < 40) { *k = 0x6ED9EBA1u; return b ^ c ^ d; }
    if (t < 60) { *k = 0x8F1BBCDCu; return (b & c) | (b & d) | (c & d); }
    *k = 0xCA62C1D6u;
    return b ^ c ^ d;
}

/* Processes one 64-byte block with a 16-word rolling schedule. */
static void sha1_block(struct sha1_ctx *c, const unsigned char *blk)
{
    uint32_t w[16], a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4];

    for (unsigned t = 0; t < 16; t++)
        w[t] = sha1_load_be32(blk + 4 * t);
    for (unsigned t = 0; t < 80; t++) {
        uint32_t k, wt;
        if (t < 16) {
            wt = w[t];
        } else {
            wt = sha1_rol(w[(t + 13) & 15] ^ w[(t + 8) & 15] ^
                          w[(t + 2) & 15] ^ w[t & 15], 1);
            w[t & 15] = wt;
        }
        uint32_t f = sha1_f(t, b, cc, d, &k);
        uint32_t tmp = sha1_rol(a, 5) + f + e + k + wt;
        e = d; d = cc; cc = sha1_rol(b, 30); b = a; a = tmp;
    }
    c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d; c->h[4] += e;
}

void sha1_init(struct sha1_ctx *c)
{
    static const uint32_t iv[5] = {
        0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u
    };
    memcpy(c->h, iv, sizeof iv);
    c->total = 0;
    c->used = 0;
}

void sha1_update(struct sha1_ctx *c, const void *p, size_t n)
{
    const unsigned char *s = p;

    c->total += n;
    while (n > 0) {
        if (c->used == 0 && n >= SHA1_BLOCK_LEN) {
            /* whole blocks straight from the input, no copy */
            sha1_block(c, s);
            s += SHA1_BLOCK_LEN;
            n -= SHA1_BLOCK_LEN;
            continue;
        }
        size_t take = SHA1_BLOCK_LEN - c->used;
        if (take > n)
            take = n;
        memcpy(c->block + c->used, s, take);
        c->used += take;
        s += take;
        n -= take;
        if (c->used == SHA1_BLOCK_LEN) {
            sha1_block(c, c->block);
            c->used = 0;
        }
    }
}

/* Padding (5.1.1): 0x80, zeros, then the bit length as 64-bit big endian. */
void sha1_final(struct sha1_ctx *c, unsigned char out[SHA1_DIGEST_LEN])
{
    uint64_t bits = c->total * 8;

    c->block[c->used++] = 0x80;
    if (c->used > SHA1_BLOCK_LEN - 8) {
        memset(c->block + c->used, 0, SHA1_BLOCK_LEN - c->used);
        sha1_block(c, c->block);
        c->used = 0;
    }
    memset(c->block + c->used, 0, SHA1_BLOCK_LEN - 8 - c->used);
    for (unsigned i = 0; i < 8; i++)
        c->block[SHA1_BLOCK_LEN - 1 - i] = (unsigned char)(bits >> (8 * i));
    sha1_block(c, c->block);
    for (unsigned i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
    memset(c, 0, sizeof *c);
}

void sha1_digest(const void *p, size_t n, unsigned char out[SHA1_DIGEST_LEN])
{
    struct sha1_ctx c;
    sha1_init(&c);
    sha1_update(&c, p, n);
    sha1_final(&c, out);
}
