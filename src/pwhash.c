/*
 * pwhash.c - crypt(3) wrappers.  libxcrypt's crypt_gensalt_rn/crypt_rn are
 * used when present (they report failure as NULL and take caller storage);
 * otherwise a "$6$" setting is built here and crypt_r is used.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_CRYPT_H
#include <crypt.h>
#else
#include <unistd.h>
#endif

#include "pwhash.h"
#include "weaprous/entropy.h"

#if defined(CRYPT_OUTPUT_SIZE) && defined(CRYPT_GENSALT_OUTPUT_SIZE)
#define PWHASH_XCRYPT 1
#endif

/* Methods in order of preference. */
static const char *const pwhash_prefixes[] = { "$y$", "$6$" };

/* Runs crypt with caller-owned scratch space; NULL on any failure, including
 * the "*0"/"*1" failure tokens some implementations return. */
static char *pwhash_crypt(const char *password, const char *setting,
                          struct crypt_data *cd)
{
    char *r;

    memset(cd, 0, sizeof *cd);
#ifdef PWHASH_XCRYPT
    r = crypt_rn(password, setting, cd, (int)sizeof *cd);
#else
    r = crypt_r(password, setting, cd);
#endif
    return (r && r[0] != '*') ? r : NULL;
}

/* Writes a crypt setting for `prefix` with a fresh random salt.  0 or -1. */
static int pwhash_setting(const char *prefix, char *out, size_t outlen)
{
    unsigned char raw[PWHASH_SALT_RAW];

    if (entropy_fill(raw, sizeof raw) < 0)
        return -1;
#ifdef PWHASH_XCRYPT
    /* count 0: the library's default cost for that method. */
    return crypt_gensalt_rn(prefix, 0, (const char *)raw, (int)sizeof raw,
                            out, (int)outlen) ? 0 : -1;
#else
    static const char b64[] =
        "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    if (strcmp(prefix, "$6$") != 0 || outlen < 4 + PWHASH_SALT_RAW)
        return -1;
    memcpy(out, prefix, 3);
    for (size_t i = 0; i < PWHASH_SALT_RAW; i++)
        out[3 + i] = b64[raw[i] & 63];
    out[3 + PWHASH_SALT_RAW] = '\0';
    return 0;
#endif
}

int pwhash_make(const char *password, char *out, size_t outlen)
{
    struct crypt_data *cd = malloc(sizeof *cd);
    char setting[PWHASH_MAX];
    int rc = -1;

    if (!cd)
        return -1;
    errno = EIO;
    for (size_t i = 0; i < sizeof pwhash_prefixes / sizeof pwhash_prefixes[0]; i++) {
        if (pwhash_setting(pwhash_prefixes[i], setting, sizeof setting) < 0)
            continue;
        char *h = pwhash_crypt(password, setting, cd);
        if (!h)
            continue;
        if (strlen(h) >= outlen) {
            errno = ENOSPC;
            break;
        }
        strcpy(out, h);
        rc = 0;
        break;
    }
    /* The scratch space held the password: wipe it before freeing. */
    memset(cd, 0, sizeof *cd);
    free(cd);
    return rc;
}

int pwhash_verify(const char *password, const char *hash)
{
    struct crypt_data *cd = malloc(sizeof *cd);
    int rc;

    if (!cd)
        return -1;
    char *h = pwhash_crypt(password, hash, cd);
    rc = h ? entropy_equal(hash, h) : 0;
    memset(cd, 0, sizeof *cd);
    free(cd);
    return rc;
}
