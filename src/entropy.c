/*
 * entropy.c - random bytes from getrandom(2), falling back to /dev/urandom
 * (older kernels, other systems).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif

#include "weaprous/entropy.h"

#define ENTROPY_MAX_HEX_BYTES 64

/* Reads n bytes from /dev/urandom, retrying short reads and EINTR. */
static int entropy_urandom(uint8_t *p, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            close(fd);
            errno = e;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    close(fd);
    return 0;
}

int entropy_fill(void *buf, size_t n)
{
    uint8_t *p = buf;

#if defined(HAVE_GETRANDOM) && defined(HAVE_SYS_RANDOM_H)
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)   /* ENOSYS on an old kernel: use the device instead */
            return entropy_urandom(p, n);
        p += r;
        n -= (size_t)r;
    }
    return 0;
#else
    return entropy_urandom(p, n);
#endif
}

int entropy_hex(char *out, size_t nbytes)
{
    static const char digits[] = "0123456789abcdef";
    uint8_t raw[ENTROPY_MAX_HEX_BYTES];

    if (nbytes > sizeof raw) {
        errno = EINVAL;
        return -1;
    }
    if (entropy_fill(raw, nbytes) < 0)
        return -1;
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 0xf];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

int entropy_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = la != lb;
    /* all of a, b read only inside its bounds, the differences OR-ed */
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)(i < lb ? b[i] : 0);
    return diff == 0;
}
