/*
 * peer_vec.c - version vectors as sorted arrays (see peer_vec.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peer_vec.h"

void peer_vec_free(struct peer_vec *v)
{
    free(v->e);
    memset(v, 0, sizeof(*v));
}

void peer_vec_clear(struct peer_vec *v)
{
    v->n = 0;
}

size_t peer_name_search(const void *base, size_t n, size_t size, bool indirect,
                        const char *name, int *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *e = (const char *)base + mid * size;
        int c = strcmp(indirect ? *(const char *const *)(const void *)e : e, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

/* Index of origin, or of where it would go (*found says which). */
static size_t vec_search(const struct peer_vec *v, const char *origin, int *found)
{
    return peer_name_search(v->e, v->n, sizeof(*v->e), false, origin, found);
}

static int vec_grow(struct peer_vec *v)
{
    if (v->n < v->cap)
        return 0;
    if (v->n >= PEER_VEC_MAX)
        return errno = ENOSPC, -1;
    size_t cap = v->cap ? v->cap * 2 : 8;
    if (cap > PEER_VEC_MAX)
        cap = PEER_VEC_MAX;
    struct peer_vec_entry *e = realloc(v->e, cap * sizeof(*e));
    if (!e)
        return -1;
    v->e = e;
    v->cap = cap;
    return 0;
}

int peer_vec_set(struct peer_vec *v, const char *origin, int64_t contig, int64_t max)
{
    if (!db_user_name_valid(origin) || contig < 0 || max < contig)
        return errno = EINVAL, -1;
    int found;
    size_t i = vec_search(v, origin, &found);
    if (!found) {
        if (vec_grow(v) < 0)
            return -1;
        memmove(v->e + i + 1, v->e + i, (v->n - i) * sizeof(*v->e));
        v->n++;
        strcpy(v->e[i].origin, origin);
    }
    v->e[i].contig = contig;
    v->e[i].max = max;
    return 0;
}

const struct peer_vec_entry *peer_vec_find(const struct peer_vec *v, const char *origin)
{
    int found;
    size_t i = vec_search(v, origin, &found);
    return found ? &v->e[i] : NULL;
}

int64_t peer_vec_contig(const struct peer_vec *v, const char *origin)
{
    const struct peer_vec_entry *e = peer_vec_find(v, origin);
    return e ? e->contig : 0;
}

int peer_vec_from_json(struct peer_vec *v, const json_value *obj)
{
    peer_vec_clear(v);
    for (size_t i = 0; i < json_len(obj); i++) {
        const char *key;
        int64_t seq;
        const json_value *val = json_member(obj, i, &key, NULL);
        if (json_int(val, &seq) < 0 || peer_vec_set(v, key, seq, seq) < 0)
            return -1;
    }
    return 0;
}

int peer_vec_missing(const struct peer_vec *mine, const struct peer_vec *theirs,
                     const char *only, peer_vec_range_cb cb, void *arg)
{
    for (size_t i = 0; i < mine->n; i++) {
        const struct peer_vec_entry *e = &mine->e[i];
        if (only && strcmp(e->origin, only) != 0)
            continue;
        int64_t have = peer_vec_contig(theirs, e->origin);
        if (e->max <= have)
            continue;
        int rc = cb(e->origin, have + 1, e->max, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}
