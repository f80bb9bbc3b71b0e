/*
 * test_ratelimit.c - the failure limiter (src/ratelimit.c): the limit and
 * Retry-After within a window, window expiry, keys counted apart, the
 * fixed capacity and which entry a full table gives up, forgetting, long
 * keys, limits changed at run time, and arguments out of range.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "weaprous/ratelimit.h"
#include "tap.h"

#define T0 1700000000   /* any clock: the limiter only compares times */

static void test_window(void)
{
    rl *r = rl_new(16, 3, 60);
    ok(r != NULL, "rl_new(16, 3, 60)");
    is_int(rl_wait(r, "a:1.2.3.4", T0), 0, "a key never seen may try");
    is_int(rl_fail(r, "a:1.2.3.4", T0), 1, "first failure: count 1");
    is_int(rl_fail(r, "a:1.2.3.4", T0 + 5), 2, "second failure: count 2");
    is_int(rl_wait(r, "a:1.2.3.4", T0 + 5), 0, "under the limit: may try");
    is_int(rl_fail(r, "a:1.2.3.4", T0 + 10), 3, "third failure: count 3");
    is_int(rl_wait(r, "a:1.2.3.4", T0 + 10), 50,
           "at the limit: waits until the window that began at T0 is over");
    is_int(rl_wait(r, "a:1.2.3.4", T0 + 59), 1, "one second before the end: 1");
    is_int(rl_wait(r, "a:1.2.3.4", T0 + 60), 0, "window over: may try again");
    is_int(rl_count(r, T0 + 60), 0, "and the key no longer counts as live");
    is_int(rl_fail(r, "a:1.2.3.4", T0 + 61), 1, "a failure after the window starts a new one");
    is_int(rl_wait(r, "a:1.2.3.4", T0 + 61), 0, "with its count at 1");
    is_int(rl_wait(r, "a:1.2.3.4", T0 - 1000), 0,
           "a clock set back: under the limit still 0");
    rl_fail(r, "a:1.2.3.4", T0 + 61);
    rl_fail(r, "a:1.2.3.4", T0 + 61);
    is_int(rl_wait(r, "a:1.2.3.4", T0 - 1000), 60,
           "a clock set back never waits more than one window");
    rl_free(r);
}

static void test_keys_apart(void)
{
    rl *r = rl_new(16, 2, 10);
    rl_fail(r, "a:10.0.0.1", T0);
    rl_fail(r, "a:10.0.0.1", T0);
    is_int(rl_wait(r, "a:10.0.0.1", T0) > 0, 1, "10.0.0.1 is limited");
    is_int(rl_wait(r, "a:10.0.0.2", T0), 0, "10.0.0.2 is not");
    is_int(rl_wait(r, "u:10.0.0.1", T0), 0, "nor the same text under another prefix");
    is_int(rl_fail(r, "a:10.0.0.2", T0), 1, "10.0.0.2 counts from 1");
    is_int(rl_count(r, T0), 2, "two live keys");
    rl_forget(r, "a:10.0.0.1");
    is_int(rl_wait(r, "a:10.0.0.1", T0), 0, "a forgotten key may try at once");
    is_int(rl_count(r, T0), 1, "one live key left");
    rl_forget(r, "a:never-seen");
    is_int(rl_count(r, T0), 1, "forgetting an unknown key changes nothing");
    is_int(rl_fail(r, "a:10.0.0.1", T0), 1, "a forgotten key counts from 1 again");
    rl_free(r);
}

/* Keys longer than RL_MAX_KEY - 1 bytes are cut: two keys equal in their
 * first RL_MAX_KEY - 1 bytes are one. */
static void test_long_keys(void)
{
    char a[300], b[300];
    rl *r = rl_new(4, 1, 10);
    memset(a, 'x', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[sizeof(b) - 2] = 'y';
    rl_fail(r, a, T0);
    ok(rl_wait(r, a, T0) > 0, "a 299-byte key is counted");
    ok(rl_wait(r, b, T0) > 0, "and shares its record with one differing past the cut");
    rl_fail(r, "", T0);
    ok(rl_wait(r, "", T0) > 0, "the empty key is a key like any other");
    rl_free(r);
}

/* A full table: expired entries go first, then the fewest failures, the
 * oldest among equals; never more than the capacity. */
static void test_capacity(void)
{
    char key[32];
    rl *r = rl_new(4, 3, 100);
    for (int i = 0; i < 3; i++)
        rl_fail(r, "limited", T0);
    rl_fail(r, "old-one", T0);          /* will expire first */
    rl_fail(r, "two", T0 + 50);
    rl_fail(r, "two", T0 + 50);
    rl_fail(r, "one", T0 + 60);
    is_int(rl_count(r, T0 + 60), 4, "four keys in a table of four");
    rl_fail(r, "new-1", T0 + 100);      /* "old-one" and "limited" expired at T0+100 */
    is_int(rl_count(r, T0 + 100), 3, "an expired entry was recycled; the other no longer counts");
    is_int(rl_fail(r, "limited", T0 + 100), 1,
           "the recycled one was the expired limited key: it counts from 1");

    rl *f = rl_new(4, 3, 1000);
    for (int i = 0; i < 3; i++)
        rl_fail(f, "limited", T0);
    rl_fail(f, "b", T0 + 1);
    rl_fail(f, "b", T0 + 1);
    rl_fail(f, "c", T0 + 2);
    rl_fail(f, "d", T0 + 3);
    rl_fail(f, "flood-0", T0 + 4);
    is_int(rl_count(f, T0 + 4), 4, "still four keys: a new one replaced another");
    is_int(rl_fail(f, "c", T0 + 4), 1, "the victim was c (one failure, the oldest such)");
    /* c came back in the place of d (then the oldest with one failure) */
    is_int(rl_fail(f, "d", T0 + 5), 1, "d, evicted for c, counts from 1 again");
    for (int i = 1; i <= 1000; i++) {
        snprintf(key, sizeof(key), "flood-%d", i);
        rl_fail(f, key, T0 + 5);
    }
    is_int(rl_count(f, T0 + 5), 4, "1,000 new keys: the table holds four, no more");
    is_int(rl_wait(f, "limited", T0 + 5), 1000 - 5,
           "and a key being limited survived the flood");
    is_int(rl_fail(f, "b", T0 + 6), 3, "as did b, with two failures");
    rl_free(f);
    rl_free(r);
}

static void test_limits(void)
{
    rl *r = rl_new(8, 5, 60);
    for (int i = 0; i < 3; i++)
        rl_fail(r, "k", T0);
    is_int(rl_wait(r, "k", T0), 0, "3 of 5: may try");
    is_int(rl_set_limits(r, 3, 30), 0, "limits changed to 3 per 30 s");
    is_int(rl_wait(r, "k", T0 + 1), 29, "the count is kept and the new limit applies");
    is_int(rl_wait(r, "k", T0 + 30), 0, "and the new window");
    errno = 0;
    is_int(rl_set_limits(r, 0, 30), -1, "limit 0 refused");
    is_int(errno, EINVAL, "with EINVAL");
    is_int(rl_set_limits(r, 3, RL_MAX_WINDOW + 1), -1, "a window over a day refused");
    is_int(rl_wait(r, "k", T0 + 1), 29, "and nothing changed");
    rl_free(r);
    errno = 0;
    ok(rl_new(0, 5, 60) == NULL && errno == EINVAL, "rl_new: capacity 0 is EINVAL");
    ok(rl_new(RL_MAX_CAPACITY + 1, 5, 60) == NULL, "rl_new: capacity over the maximum");
    ok(rl_new(4, 5, 0) == NULL, "rl_new: window 0");
    rl_free(NULL);      /* harmless: a crash here ends the plan early */
}

int main(void)
{
    test_window();
    test_keys_apart();
    test_long_keys();
    test_capacity();
    test_limits();
    return done_testing();
}
