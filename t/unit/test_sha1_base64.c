/* test_sha1_base64.c - FIPS 180 SHA-1 vectors, RFC 4648 Base64 vectors,
 * padding boundaries, split feeding and strict decoding. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "sha1.h"
#include "tap.h"

static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void sha1_is(const void *p, size_t n, const char *want, const char *name)
{
    unsigned char d[SHA1_DIGEST_LEN];
    char h[2 * SHA1_DIGEST_LEN + 1];
    char *g = guard_copy(p, n);

    sha1_digest(g, n, d);
    hex(d, sizeof d, h);
    is_str(h, want, "sha1 %s", name);
    guard_free(g, n);
}

static void test_sha1_vectors(void)
{
    sha1_is("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709", "empty");
    sha1_is("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d", "abc");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha1_is(two, strlen(two), "84983e441c3bd26ebaae4aa1f95129e5e54670f1", "448-bit");

    static char million[1000000];
    memset(million, 'a', sizeof million);
    sha1_is(million, sizeof million, "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
            "million a");
}

/* Lengths around the 55/56 and 64 byte padding boundaries. */
static void test_sha1_boundaries(void)
{
    static const struct { size_t n; const char *hex; } v[] = {
        { 55, "ddf57317ef34bfee3b6df83d359098930eb278bc" },
        { 56, "a0d492bb0fc889d0eca3bc137066ab6f4f74f369" },
        { 63, "c55856749bef509bdfe6bfebfc7bf4e793e82132" },
        { 64, "bede92be29c3874e1b54ddc77988d606fc857a8e" },
        { 65, "b05a80522b053d6dc7e0a517d0e70212c7dad11f" },
        { 119, "504e27376a6e0f0dba8295b85cb25dc4dfa17d23" },
        { 120, "82134b02fb3f702491be9bed581eeab59334acb2" },
        { 127, "34d5e582029e9b9b85b2febe31da3db7cdabaaea" },
        { 128, "a09133e6730ffe899efb70204cb5646cd5dc24ee" },
    };
    unsigned char msg[128];

    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (unsigned char)((i * 7 + 3) & 255);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "%zu bytes", v[i].n);
        sha1_is(msg, v[i].n, v[i].hex, name);
    }
}

/* Every two-way split of a message gives the same digest as one call. */
static void test_sha1_splits(void)
{
    unsigned char msg[130], one[20], two[20];
    int same = 1;

    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (unsigned char)(i * 31 + 1);
    sha1_digest(msg, sizeof msg, one);
    for (size_t cut = 0; cut <= sizeof msg; cut++) {
        struct sha1_ctx c;
        sha1_init(&c);
        sha1_update(&c, msg, cut);
        sha1_update(&c, msg + cut, sizeof msg - cut);
        sha1_final(&c, two);
        if (memcmp(one, two, sizeof one) != 0)
            same = 0;
    }
    ok(same, "sha1: every split gives the same digest");
}

static void test_base64_vectors(void)
{
    static const char *v[][2] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
    };
    char enc[32], dec[32];

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i][0]);
        is_int(base64_encode(v[i][0], n, enc), strlen(v[i][1]), "encode length %zu", i);
        is_str(enc, v[i][1], "encode \"%s\"", v[i][0]);
        char *g = guard_copy(v[i][1], strlen(v[i][1]));
        ssize_t got = base64_decode(g, strlen(v[i][1]), dec, sizeof dec);
        guard_free(g, strlen(v[i][1]));
        is_int(got, n, "decode \"%s\" length", v[i][1]);
        ok(got >= 0 && memcmp(dec, v[i][0], n) == 0, "decode \"%s\"", v[i][1]);
    }
    unsigned char all[256];
    char big[BASE64_ENCODED_LEN(256) + 1];
    unsigned char back[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    base64_encode(all, sizeof all, big);
    ok(base64_decode(big, strlen(big), back, sizeof back) == 256 &&
       memcmp(all, back, 256) == 0, "round trip of every byte value");
}

static void test_base64_strict(void)
{
    static const char *bad[] = {
        "Zg=", "Zg", "Z===", "====", "Zm9v\n", " Zm9v", "Zm9v====", "Zg==Zg==",
        "Zh==", "Zm9=", "Zm-v", "Zm_v", "Zm9\x80", "=Zm9", "Z=g=",
    };
    char out[16];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        ok(base64_decode(bad[i], strlen(bad[i]), out, sizeof out) == -1 && errno == EINVAL,
           "rejects bad input %zu", i);
    }
    errno = 0;
    ok(base64_decode("Zm9vYmFy", 8, out, 5) == -1 && errno == ENOBUFS,
       "output cap is enforced");
    ok(base64_decode("Zm9vYmFy", 8, out, 6) == 6, "exact output room is enough");
}

int main(void)
{
    test_sha1_vectors();
    test_sha1_boundaries();
    test_sha1_splits();
    test_base64_vectors();
    test_base64_strict();
    return done_testing();
}
