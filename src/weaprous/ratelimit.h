/*
 * ratelimit.h - a failure limiter: how many times a key (a client address,
 * an account...) failed in its current window, in a table of fixed
 * capacity.
 *
 * A key that has failed `limit` times waits until its window (which began
 * at its first failure) is over: rl_wait() says how long.  The table never
 * grows: when it is full, a new key takes the place of an entry whose
 * window is over, else of the entry with the fewest failures (the oldest
 * of those).  So a flood of new keys, one failure each, replaces its own
 * kind and cannot push out a key that is being limited; the limiter
 * forgets under pressure, it never refuses to count.
 *
 * Times are Unix seconds given by the caller (tests pass any clock).
 * Single-threaded, like the rest of the library.
 */
#ifndef WEAPROUS_RATELIMIT_H
#define WEAPROUS_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "weaprous/api.h"

WR_API_BEGIN

#define RL_MAX_KEY       80         /* key bytes kept, NUL included; longer keys are cut */
#define RL_MAX_CAPACITY  (1u << 20) /* entries of one table */
#define RL_MAX_LIMIT     1000000u   /* failures per window */
#define RL_MAX_WINDOW    86400u     /* seconds */

typedef struct rl rl;

/* A table of `capacity` keys (1..RL_MAX_CAPACITY), each allowed `limit`
 * failures (1..RL_MAX_LIMIT) per window of `window` seconds
 * (1..RL_MAX_WINDOW).  NULL with errno EINVAL (out of range) or ENOMEM. */
rl *rl_new(size_t capacity, unsigned limit, unsigned window);
void rl_free(rl *r);
/* New limits (a configuration reload); the counts are kept.  0, or -1
 * (EINVAL) when out of range, nothing changed. */
int rl_set_limits(rl *r, unsigned limit, unsigned window);

/* Seconds key must still wait before it may try again, 0 when it may now.
 * Looks only: a key never seen, or whose window is over, waits 0. */
int64_t rl_wait(const rl *r, const char *key, int64_t now);
/* Counts one failure of key at now (a new window starts when the last one
 * is over); returns the failures of key in its window, this one included. */
unsigned rl_fail(rl *r, const char *key, int64_t now);
/* Forgets key (e.g. after a success that should clear its record). */
void rl_forget(rl *r, const char *key);
/* Keys whose window is still running at now. */
size_t rl_count(const rl *r, int64_t now);

WR_API_END

#endif
