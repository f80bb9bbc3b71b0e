/*
 * pwhash.h - password hashing for the store, over crypt(3): yescrypt ("$y$")
 * when the C library offers it, sha512crypt ("$6$") otherwise, always with a
 * fresh random salt.  Internal to the library.
 */
#ifndef WR_PWHASH_H
#define WR_PWHASH_H

#include <stddef.h>

#define PWHASH_MAX      384   /* longest crypt(3) string we store (+NUL) */
#define PWHASH_SALT_RAW 16    /* random bytes behind each salt */

/* Hashes `password` into out[0..outlen) as a crypt(3) string.  0, or -1
 * with errno (EIO when crypt(3) refuses every method, ENOSPC for a short
 * buffer). */
int pwhash_make(const char *password, char *out, size_t outlen);

/* Hashes `password` with the settings of `hash` and compares the results in
 * constant time.  1: match; 0: no match (also for a malformed hash); -1 on
 * allocation failure. */
int pwhash_verify(const char *password, const char *hash);

#endif
