/*
 * tracker_list.c - the peer lists GET /get-list answers with, kept as
 * ready JSON text.
 *
 * Building the list of 1,000 peers costs a query and 90 KB of JSON; most
 * /get-list requests find nothing changed since the last one.  So each
 * list (the active peers, every peer, the members of a channel) is cached
 * with what it depends on:
 *   - tr->list_gen, bumped by every write of tracker_db.c that a list
 *     shows (peers, channels, memberships; a grouped write when its group
 *     commits, tracker_group.c), not by a heart-beat that only extends an
 *     active peer within its last_seen slot (TRACKER_LAST_SEEN_GRANULARITY);
 *   - PRAGMA data_version, which moves when another process commits to the
 *     file (`weaprous user`, a second tracker on the same database);
 *   - the clock: a listed peer that stops beating turns inactive at its
 *     expires_at without any write, so a list holds only until the first
 *     such instant.
 * The database stays the system of record: a cache miss is the same query
 * as before, and a restart starts with an empty cache.
 */
#include "config.h"

#include <stdint.h>

#include "tracker.h"
#include "weaprous/log.h"

#define TRACKER_LIST_CAP (APP_JSON_OUT_CAP)   /* bytes of one cached list */

/* Filled while a list is built. */
struct list_build {
    struct tracker_list *l;
    json_writer          w;
};

static int list_peer_write(const struct tracker_peer *p, void *arg)
{
    struct list_build *b = arg;
    json_writer *w = &b->w;
    if (b->l->n >= TRACKER_MAX_LIST) {
        b->l->truncated = true;
        return 1;
    }
    b->l->n++;
    /* Its expiry ends the list's validity only if the peer is shown as
     * active: an inactive one cannot come back without a write. */
    if (p->online && p->expires_at < b->l->valid_until)
        b->l->valid_until = p->expires_at;
    json_w_begin_object(w);
    json_w_key(w, "user");
    json_w_string(w, p->user);
    json_w_key(w, "ip");
    json_w_string(w, p->online ? p->ip : NULL);   /* stale addresses are not given */
    json_w_key(w, "port");
    if (p->online)
        json_w_int(w, p->port);
    else
        json_w_null(w);
    json_w_key(w, "online");
    json_w_bool(w, p->online);
    /* Rounded down to its slot: a heart-beat within the slot changes
     * nothing shown, so the cached list holds (docs/API.md says so). */
    json_w_key(w, "last_seen");
    if (p->last_seen_at)
        json_w_int(w, p->last_seen_at - p->last_seen_at % TRACKER_LAST_SEEN_GRANULARITY);
    else
        json_w_null(w);
    json_w_end_object(w);
    return 0;
}

/* The slot for (kind, channel): its own, else a free one, else the least
 * recently used. */
static struct tracker_list *list_slot(struct tracker *tr, enum tracker_list_kind kind,
                                      int64_t channel)
{
    struct tracker_list *victim = &tr->lists[0];
    for (size_t i = 0; i < TRACKER_LIST_SLOTS; i++) {
        struct tracker_list *l = &tr->lists[i];
        if (l->used && l->kind == kind && l->channel == channel)
            return l;
        if (victim->used && (!l->used || l->last_use < victim->last_use))
            victim = l;
    }
    return victim;
}

/* True when l still says what the query would. */
static bool list_fresh(struct tracker *tr, const struct tracker_list *l, int64_t dv)
{
    return l->used && l->gen == tr->list_gen && l->data_version == dv
           && db_now(tr->store) < l->valid_until;
}

/* Runs the query of l into its JSON.  0, or -1 (store or memory). */
static int list_build(struct tracker *tr, struct tracker_list *l, int64_t dv)
{
    struct list_build b = { .l = l };
    int r;
    l->used = false;   /* until complete */
    if (!l->json.data)
        buf_init(&l->json, TRACKER_LIST_CAP);
    buf_reset(&l->json);
    l->n = 0;
    l->truncated = false;
    l->valid_until = INT64_MAX;
    l->gen = tr->list_gen;
    l->data_version = dv;
    json_w_init(&b.w, &l->json);
    json_w_begin_array(&b.w);
    if (l->kind == TRACKER_LIST_CHANNEL)
        r = tracker_db_channel_peers(tr, l->channel, list_peer_write, &b);
    else
        r = tracker_db_peer_list(tr, l->kind == TRACKER_LIST_ALL, list_peer_write, &b);
    json_w_end_array(&b.w);
    if (r < 0)
        return -1;
    if (json_w_finish(&b.w) < 0) {
        /* Cannot happen within TRACKER_MAX_LIST peers; said if it does. */
        log_warnx("get-list: %s", b.w.errmsg);
        return -1;
    }
    /* The query itself may have been the first to see a new data version
     * or the clock may have moved on: l says what it saw. */
    l->used = true;
    tr->m.list_builds++;
    return 0;
}

const struct tracker_list *tracker_list_get(struct tracker *tr,
                                            enum tracker_list_kind kind, int64_t channel)
{
    int64_t dv = tracker_db_data_version(tr);
    if (dv < 0)
        return NULL;
    if (kind != TRACKER_LIST_CHANNEL)
        channel = 0;
    struct tracker_list *l = list_slot(tr, kind, channel);
    l->last_use = ++tr->list_tick;
    if (l->used && l->kind == kind && l->channel == channel && list_fresh(tr, l, dv)) {
        tr->m.list_hits++;
        return l;
    }
    l->kind = kind;
    l->channel = channel;
    tracker_group_before_build(tr);
    return list_build(tr, l, dv) < 0 ? NULL : l;
}

void tracker_list_release(struct tracker *tr)
{
    for (size_t i = 0; i < TRACKER_LIST_SLOTS; i++) {
        buf_free(&tr->lists[i].json);
        tr->lists[i].used = false;
    }
}
