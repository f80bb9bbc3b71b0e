/*
 * ratelimit.c - the failure limiter of ratelimit.h: a fixed array of
 * entries, found through a chained hash index, recycled when full.
 *
 * Lookups cost one hash and a short chain.  Only taking a new entry in a
 * full table scans the array for a victim; that happens once per failure
 * of a new key, next to a password check that costs far more.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weaprous/entropy.h"
#include "weaprous/ratelimit.h"

#define RL_NONE UINT32_MAX   /* end of a chain */

struct rl_entry {
    char     key[RL_MAX_KEY];
    uint64_t hash;
    int64_t  window_start;   /* Unix seconds of the window's first failure */
    unsigned failures;
    uint32_t next;           /* next in its bucket's chain, or in the free list */
    bool     used;
};

struct rl {
    struct rl_entry *e;
    uint32_t        *bucket;     /* nbuckets chain heads */
    uint32_t         nbuckets;   /* a power of two >= capacity */
    uint32_t         capacity;
    uint32_t         free_head;  /* chain of unused entries */
    unsigned         limit, window;
    uint64_t         seed;       /* hash seed: chains an attacker cannot predict */
};

static bool rl_limits_ok(unsigned limit, unsigned window)
{
    return limit >= 1 && limit <= RL_MAX_LIMIT && window >= 1 && window <= RL_MAX_WINDOW;
}

rl *rl_new(size_t capacity, unsigned limit, unsigned window)
{
    if (capacity < 1 || capacity > RL_MAX_CAPACITY || !rl_limits_ok(limit, window)) {
        errno = EINVAL;
        return NULL;
    }
    rl *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->capacity = (uint32_t)capacity;
    for (r->nbuckets = 1; r->nbuckets < r->capacity; r->nbuckets <<= 1)
        ;
    r->e = calloc(capacity, sizeof(*r->e));
    r->bucket = malloc(r->nbuckets * sizeof(*r->bucket));
    if (!r->e || !r->bucket) {
        rl_free(r);
        errno = ENOMEM;
        return NULL;
    }
    for (uint32_t i = 0; i < r->nbuckets; i++)
        r->bucket[i] = RL_NONE;
    for (uint32_t i = 0; i < r->capacity; i++)
        r->e[i].next = i + 1 < r->capacity ? i + 1 : RL_NONE;
    r->free_head = 0;
    r->limit = limit;
    r->window = window;
    if (entropy_fill(&r->seed, sizeof(r->seed)) < 0)
        r->seed = (uint64_t)(uintptr_t)r;   /* still works, only more predictable */
    return r;
}

void rl_free(rl *r)
{
    if (!r)
        return;
    free(r->e);
    free(r->bucket);
    free(r);
}

int rl_set_limits(rl *r, unsigned limit, unsigned window)
{
    if (!rl_limits_ok(limit, window)) {
        errno = EINVAL;
        return -1;
    }
    r->limit = limit;
    r->window = window;
    return 0;
}

/* FNV-1a over the seed's bytes and then the key's. */
static uint64_t rl_hash(const rl *r, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 8; i++)
        h = (h ^ ((r->seed >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

/* The key as stored: cut to RL_MAX_KEY - 1 bytes. */
static void rl_key(char out[RL_MAX_KEY], const char *key)
{
    snprintf(out, RL_MAX_KEY, "%s", key);
}

static uint32_t rl_find(const rl *r, const char *key, uint64_t h)
{
    for (uint32_t i = r->bucket[h & (r->nbuckets - 1)]; i != RL_NONE; i = r->e[i].next)
        if (r->e[i].hash == h && strcmp(r->e[i].key, key) == 0)
            return i;
    return RL_NONE;
}

static bool rl_live(const rl *r, const struct rl_entry *e, int64_t now)
{
    return e->used && now - e->window_start < (int64_t)r->window;
}

/* Takes entry i out of its bucket's chain. */
static void rl_unlink(rl *r, uint32_t i)
{
    uint32_t *link = &r->bucket[r->e[i].hash & (r->nbuckets - 1)];
    while (*link != i)
        link = &r->e[*link].next;
    *link = r->e[i].next;
    r->e[i].used = false;
}

/* The entry to recycle in a full table: one whose window is over, else
 * the fewest failures, the oldest window among equals. */
static uint32_t rl_victim(const rl *r, int64_t now)
{
    uint32_t v = 0;
    for (uint32_t i = 0; i < r->capacity; i++) {
        const struct rl_entry *e = &r->e[i], *best = &r->e[v];
        if (!rl_live(r, e, now))
            return i;
        if (e->failures < best->failures
            || (e->failures == best->failures && e->window_start < best->window_start))
            v = i;
    }
    return v;
}

/* A new entry for key (hash h), linked, with an empty window at now. */
static uint32_t rl_take(rl *r, const char *key, uint64_t h, int64_t now)
{
    uint32_t i = r->free_head;
    if (i != RL_NONE) {
        r->free_head = r->e[i].next;
    } else {
        i = rl_victim(r, now);
        rl_unlink(r, i);
    }
    struct rl_entry *e = &r->e[i];
    memcpy(e->key, key, RL_MAX_KEY);
    e->hash = h;
    e->window_start = now;
    e->failures = 0;
    e->used = true;
    uint32_t *head = &r->bucket[h & (r->nbuckets - 1)];
    e->next = *head;
    *head = i;
    return i;
}

int64_t rl_wait(const rl *r, const char *key, int64_t now)
{
    char k[RL_MAX_KEY];
    rl_key(k, key);
    uint32_t i = rl_find(r, k, rl_hash(r, k));
    if (i == RL_NONE || !rl_live(r, &r->e[i], now) || r->e[i].failures < r->limit)
        return 0;
    int64_t wait = r->e[i].window_start + r->window - now;
    /* A clock set back must not stretch the wait past one window. */
    return wait > (int64_t)r->window ? (int64_t)r->window : wait;
}

unsigned rl_fail(rl *r, const char *key, int64_t now)
{
    char k[RL_MAX_KEY] = "";
    rl_key(k, key);
    uint64_t h = rl_hash(r, k);
    uint32_t i = rl_find(r, k, h);
    if (i == RL_NONE)
        i = rl_take(r, k, h, now);
    struct rl_entry *e = &r->e[i];
    if (!rl_live(r, e, now)) {
        e->window_start = now;
        e->failures = 0;
    }
    if (e->failures < UINT_MAX)   /* saturates: a wrapped count would unblock */
        e->failures++;
    return e->failures;
}

void rl_forget(rl *r, const char *key)
{
    char k[RL_MAX_KEY];
    rl_key(k, key);
    uint32_t i = rl_find(r, k, rl_hash(r, k));
    if (i == RL_NONE)
        return;
    rl_unlink(r, i);
    r->e[i].next = r->free_head;
    r->free_head = i;
}

size_t rl_count(const rl *r, int64_t now)
{
    size_t n = 0;
    for (uint32_t i = 0; i < r->capacity; i++)
        n += rl_live(r, &r->e[i], now);
    return n;
}
