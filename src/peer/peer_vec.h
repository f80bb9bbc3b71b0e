/*
 * peer_vec.h - version vectors of one channel: per origin, the highest
 * sequence number held without a gap ("contiguous", what a `have` frame
 * says) and the highest held at all ("max").  Pure arithmetic on a sorted
 * array: the sync (peer_sync.c) asks it what one side holds that the other
 * lacks.
 */
#ifndef WR_PEER_VEC_H
#define WR_PEER_VEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weaprous/db.h"
#include "weaprous/json.h"

#define PEER_VEC_MAX 10000     /* origins per vector (PEER_VECTOR_MAX) */

struct peer_vec_entry {
    char    origin[DB_MAX_NAME + 1];
    int64_t contig;            /* 1..contig all held */
    int64_t max;               /* highest held; >= contig */
};

/* Zero-initialise; entries sorted by origin (byte order). */
struct peer_vec {
    struct peer_vec_entry *e;
    size_t n, cap;
};

/* Binary search for name among the n elements of size bytes at base,
 * sorted in byte order by the name each begins with (indirect: each is a
 * pointer to a struct that begins with its name).  The index of name, or
 * of where it would go; *found says which. */
size_t peer_name_search(const void *base, size_t n, size_t size, bool indirect,
                        const char *name, int *found);

void peer_vec_free(struct peer_vec *v);
void peer_vec_clear(struct peer_vec *v);
/* Sets origin's entry (inserting it in order).  0, or -1 with errno
 * (EINVAL: bad name or max < contig or contig < 0; ENOSPC: PEER_VEC_MAX
 * origins; ENOMEM). */
int peer_vec_set(struct peer_vec *v, const char *origin, int64_t contig, int64_t max);
/* The entry of origin, or NULL. */
const struct peer_vec_entry *peer_vec_find(const struct peer_vec *v, const char *origin);
/* contig of origin, 0 when absent. */
int64_t peer_vec_contig(const struct peer_vec *v, const char *origin);
/* Reads a have frame's vector object (already checked by peer_frame_have:
 * user name -> 0..2^53) into v, contig = max = the value.  0 or -1. */
int peer_vec_from_json(struct peer_vec *v, const json_value *obj);

/*
 * What `mine` holds that `theirs` lacks, as theirs reports it (their
 * contiguous seq, 0 when absent): for every origin of mine with max >
 * theirs, one range (theirs + 1 .. my max), in origin order.  Only origins
 * for which only(origin, arg) is true when `only` is set (a DM sends its
 * author's own messages alone).  cb returns 0 to go on; its non-zero value
 * stops the walk and is returned.  Returns 0 when every range was given.
 */
typedef int (*peer_vec_range_cb)(const char *origin, int64_t from, int64_t to, void *arg);
int peer_vec_missing(const struct peer_vec *mine, const struct peer_vec *theirs,
                     const char *only, peer_vec_range_cb cb, void *arg);

/* Merges an observed value into a monotonic record: returns the larger of
 * old and seen (a have never moves a member backwards: a peer restored
 * from an old backup says less than it once had). */
static inline int64_t peer_vec_merge(int64_t old, int64_t seen)
{
    return seen > old ? seen : old;
}

#endif
