/*
 * test_sha256.c - SHA-256 against the FIPS 180-4 example vectors (NIST
 * "SHA256.pdf" / "SHA2_Additional.pdf"), padding boundaries, and incremental
 * feeding in every split.
 */
#include "config.h"

#include <stdint.h>

#include "weaprous/entropy.h"
#include "weaprous/sha256.h"
#include "tap.h"

static void hex_of(const uint8_t *d, char out[SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_LEN; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 0xf];
    }
    out[SHA256_HEX_LEN] = '\0';
}

static void test_fips_vectors(void)
{
    static const struct { const char *msg, *hex; } v[] = {
        { "abc",
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "",
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        { "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
          "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
          "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
    };
    char hex[SHA256_HEX_LEN + 1];

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sha256_hex(v[i].msg, strlen(v[i].msg), hex);
        is_str(hex, v[i].hex, "FIPS vector %zu (%zu bytes)", i, strlen(v[i].msg));
    }
}

static void test_million_a(void)
{
    sha256_ctx c;
    uint8_t d[SHA256_DIGEST_LEN];
    char chunk[1000], hex[SHA256_HEX_LEN + 1];

    memset(chunk, 'a', sizeof chunk);
    sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        sha256_update(&c, chunk, sizeof chunk);
    sha256_final(&c, d);
    hex_of(d, hex);
    is_str(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
           "one million 'a'");
}

/* Lengths around the 55/56/64-byte padding boundaries (reference digests
 * from coreutils sha256sum). */
static void test_boundaries(void)
{
    static const struct { size_t n; const char *hex; } v[] = {
        { 55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072" },
        { 56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e" },
        { 63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2" },
        { 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c" },
        { 65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9" },
        { 119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c" },
        { 120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98" },
    };
    char buf[128], hex[SHA256_HEX_LEN + 1];

    memset(buf, 'x', sizeof buf);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *g = guard_copy(buf, v[i].n);
        sha256_hex(g, v[i].n, hex);
        is_str(hex, v[i].hex, "%zu bytes of 'x'", v[i].n);
        guard_free(g, v[i].n);
    }
}

/* Every two-way split of a 150-byte message gives the one-shot digest. */
static void test_splits(void)
{
    uint8_t msg[150], whole[SHA256_DIGEST_LEN], part[SHA256_DIGEST_LEN];
    int bad = 0;

    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    sha256(msg, sizeof msg, whole);
    for (size_t cut = 0; cut <= sizeof msg; cut++) {
        sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, msg, cut);
        sha256_update(&c, msg + cut, sizeof msg - cut);
        sha256_final(&c, part);
        bad += memcmp(whole, part, sizeof whole) != 0;
    }
    is_int(bad, 0, "all 151 splits agree with the one-shot digest");
}

/* entropy_equal: what compares the hashes and tokens these digests make */
static void test_secret_equal(void)
{
    ok(entropy_equal("", ""), "equal: two empty strings");
    ok(entropy_equal("0123abcd", "0123abcd"), "equal: the same token");
    ok(!entropy_equal("0123abcd", "0123abce"), "differs in the last byte");
    ok(!entropy_equal("0123abcd", "1123abcd"), "differs in the first byte");
    ok(!entropy_equal("0123abcd", "0123abc"), "a prefix is not equal");
    ok(!entropy_equal("0123abc", "0123abcd"), "nor the longer one");
    ok(!entropy_equal("", "x"), "empty against one byte");
    ok(!entropy_equal("abc\xff", "abc\x7f"), "the high bit counts");
}

int main(void)
{
    test_secret_equal();
    test_fips_vectors();
    test_million_a();
    test_boundaries();
    test_splits();
    return done_testing();
}
