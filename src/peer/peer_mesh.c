/*
 * peer_mesh.c - who this peer links with: the users the tracker lists
 * (contacts), the conversations it follows with their members, dialing
 * with backoff and jitter, and the rule that keeps one link per pair of
 * peers when both dialed at once.
 *
 * Whom to link with: every online user that shares a followed
 * conversation with us (a channel both are members of, or a direct
 * conversation).  Crossing dials are made rare by letting the user with
 * the smaller name dial first (the other waits PEER_DIAL_DEFER_MS, unless
 * it just came online and the others do not know it is back) and are
 * resolved, when they happen, by keeping the link dialed by the smaller
 * name: both sides apply the same rule to the same two links.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "weaprous/entropy.h"
#include "weaprous/log.h"

#define PEER_DIAL_DEFER_MS 1500   /* the larger name waits this long to dial */

/* ---- sorted arrays of pointers, searched by name ---- */

/* Index of name in a sorted array of pointers to structs whose first
 * member is the name, or where it would go; *found says which. */
static size_t name_search(void *const *arr, size_t n, const char *name, int *found)
{
    return peer_name_search(arr, n, sizeof(*arr), true, name, found);
}

/* Inserts item at i, growing the array up to max entries.  0 or -1. */
static int name_insert(void ***arr, size_t *n, size_t *cap, size_t max, size_t i, void *item)
{
    if (*n >= max)
        return errno = ENOSPC, -1;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        void **a = realloc(*arr, nc * sizeof(*a));
        if (!a)
            return -1;
        *arr = a;
        *cap = nc;
    }
    memmove(*arr + i + 1, *arr + i, (*n - i) * sizeof(**arr));
    (*arr)[i] = item;
    (*n)++;
    return 0;
}

/* ---- conversations ---- */

struct peer_chan *peer_chan_find(struct peer *p, const char *name)
{
    int found;
    size_t i = name_search((void *const *)p->chans, p->nchans, name, &found);
    return found ? p->chans[i] : NULL;
}

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const struct peer_member *)a)->user, ((const struct peer_member *)b)->user);
}

/* A dm's members are its two users, known from its name. */
static int chan_dm_members(struct peer *p, struct peer_chan *c)
{
    c->m = calloc(2, sizeof(*c->m));
    if (!c->m)
        return -1;
    c->n = 2;
    snprintf(c->m[0].user, sizeof(c->m[0].user), "%s", p->user);
    snprintf(c->m[1].user, sizeof(c->m[1].user), "%s", c->other);
    qsort(c->m, 2, sizeof(*c->m), member_cmp);
    c->loaded = true;
    return peer_store_member_load(p, c);
}

static void chan_free(struct peer_chan *c)
{
    peer_vec_free(&c->vec);
    free(c->m);
    free(c);
}

void peer_mesh_reload_vectors(struct peer *p)
{
    for (size_t i = 0; i < p->nchans; i++)
        if (peer_store_vector(p, p->chans[i]->name, &p->chans[i]->vec) < 0)
            log_warnx("vector of %s: %s", p->chans[i]->name, db_errmsg(p->db));
}

struct peer_chan *peer_chan_get(struct peer *p, const char *name)
{
    int found;
    size_t i = name_search((void *const *)p->chans, p->nchans, name, &found);
    if (found)
        return p->chans[i];
    if (!peer_channel_valid(name))
        return errno = EINVAL, NULL;
    struct peer_chan *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->dm = peer_dm_other(name, p->user, c->other);
    if ((c->dm && chan_dm_members(p, c) < 0) || peer_store_vector(p, name, &c->vec) < 0
        || name_insert((void ***)&p->chans, &p->nchans, &p->cap_chans, PEER_MAX_CHANNELS,
                       i, c) < 0) {
        chan_free(c);
        return NULL;
    }
    return c;
}

void peer_chan_drop(struct peer *p, const char *name)
{
    int found;
    size_t i = name_search((void *const *)p->chans, p->nchans, name, &found);
    if (!found)
        return;
    chan_free(p->chans[i]);
    memmove(p->chans + i, p->chans + i + 1, (p->nchans - i - 1) * sizeof(*p->chans));
    p->nchans--;
}

struct peer_member *peer_chan_member(struct peer_chan *c, const char *user)
{
    struct peer_member key;
    if (!c || c->n == 0 || !user || strlen(user) > DB_MAX_NAME)
        return NULL;
    strcpy(key.user, user);
    return bsearch(&key, c->m, c->n, sizeof(*c->m), member_cmp);
}

size_t peer_chan_others(const struct peer_chan *c)
{
    return c->n > 0 ? c->n - 1 : 0;
}

bool peer_chan_shared(struct peer *p, struct peer_chan *c, const char *user)
{
    if (!c || strcmp(user, p->user) == 0)
        return false;
    if (c->dm)
        return strcmp(c->other, user) == 0;
    return peer_chan_member(c, p->user) && peer_chan_member(c, user);
}

int peer_chan_set_members(struct peer *p, struct peer_chan *c, const json_value *peers)
{
    size_t n = json_len(peers);
    if (n > PEER_MAX_MEMBERS)
        n = PEER_MAX_MEMBERS;
    struct peer_member *m = calloc(n ? n : 1, sizeof(*m));
    size_t k = 0;
    if (!m)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const json_value *e = json_index(peers, i);
        const char *user = json_get_str(e, "user");
        if (!user || !db_user_name_valid(user))
            continue;
        snprintf(m[k].user, sizeof(m[k].user), "%s", user);
        json_bool(json_get(e, "online"), &m[k].online);
        struct peer_member *old = peer_chan_member(c, user);
        m[k].have = old ? old->have : 0;
        k++;
    }
    qsort(m, k, sizeof(*m), member_cmp);
    free(c->m);
    c->m = m;
    c->n = k;
    c->loaded = true;
    return peer_store_member_load(p, c);
}

/* ---- contacts ---- */

struct peer_contact *peer_contact_find(struct peer *p, const char *user)
{
    int found;
    size_t i = name_search((void *const *)p->contacts, p->ncontacts, user, &found);
    return found ? p->contacts[i] : NULL;
}

static void contact_retry_cb(ev_loop *loop, ev_timer *t, void *arg);

static struct peer_contact *contact_get(struct peer *p, const char *user)
{
    int found;
    size_t i = name_search((void *const *)p->contacts, p->ncontacts, user, &found);
    if (found)
        return p->contacts[i];
    struct peer_contact *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    snprintf(c->user, sizeof(c->user), "%s", user);
    c->p = p;
    c->backoff_ms = PEER_BACKOFF_MIN_MS;
    ev_timer_init(&c->retry, contact_retry_cb, c);
    if (name_insert((void ***)&p->contacts, &p->ncontacts, &p->cap_contacts,
                    PEER_MAX_CONTACTS, i, c) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

/* Should we hold a link with c?  It is online, not us, and shares a
 * conversation with us. */
static bool contact_wanted(struct peer *p, struct peer_contact *c)
{
    if (!c->online || !peer_signed_in(p) || p->stopping || strcmp(c->user, p->user) == 0)
        return false;
    for (size_t i = 0; i < p->nchans; i++)
        if (peer_chan_shared(p, p->chans[i], c->user))
            return true;
    return false;
}

static void contact_dial(struct peer *p, struct peer_contact *c)
{
    if (c->link || ev_timer_active(&c->retry) || !contact_wanted(p, c))
        return;
    c->link = peer_link_dial(p, c->user);
    if (!c->link)
        log_warn("cannot dial %s", c->user);
}

static void contact_retry_cb(ev_loop *loop, ev_timer *t, void *arg)
{
    struct peer_contact *c = arg;
    (void)loop; (void)t;
    contact_dial(c->p, c);
}

/* A delay of about ms, +-25 %, so that peers that lost each other at
 * once do not redial in step. */
static uint64_t jitter(unsigned ms)
{
    uint32_t r = 0;
    entropy_fill(&r, sizeof(r));
    return ms * 3 / 4 + r % (ms / 2 + 1);
}

void peer_mesh_connect(struct peer *p)
{
    for (size_t i = 0; i < p->ncontacts; i++) {
        struct peer_contact *c = p->contacts[i];
        if (c->link || ev_timer_active(&c->retry) || !contact_wanted(p, c))
            continue;
        /* the smaller name dials first; we follow only if it does not.  A
         * peer that just came online dials everyone at once: nobody
         * knows yet that it is back. */
        if (strcmp(c->user, p->user) < 0 && !p->newcomer)
            ev_timer_start(p->loop, &c->retry, jitter(PEER_DIAL_DEFER_MS), 0);
        else
            contact_dial(p, c);
    }
}

/* Sets c's presence; tells the browser when it changed. */
static void contact_presence(struct peer *p, struct peer_contact *c, bool online)
{
    bool was = c->online;
    c->online = online;
    if (was != online && strcmp(c->user, p->user) != 0)
        peer_event_presence(p, c->user, online);
}

void peer_mesh_update(struct peer *p, const json_value *peers)
{
    uint64_t gen = ++p->list_gen;
    for (size_t i = 0; i < json_len(peers); i++) {
        const json_value *e = json_index(peers, i);
        const char *user = json_get_str(e, "user"), *ip = json_get_str(e, "ip");
        bool online = false;
        int64_t port = 0, seen = 0;
        struct peer_contact *c;
        if (!user || !db_user_name_valid(user) || !(c = contact_get(p, user)))
            continue;
        json_bool(json_get(e, "online"), &online);
        json_int(json_get(e, "port"), &port);
        json_int(json_get(e, "last_seen"), &seen);
        snprintf(c->ip, sizeof(c->ip), "%s", ip ? ip : "");
        c->port = (int)port;
        c->last_seen = seen;
        c->listed = gen;
        contact_presence(p, c, online);
    }
    for (size_t i = 0; i < p->ncontacts; i++)    /* no longer listed: offline */
        if (p->contacts[i]->listed != gen)
            contact_presence(p, p->contacts[i], false);
    peer_mesh_connect(p);
}

struct peer_link *peer_mesh_dial_now(struct peer *p, const char *user)
{
    struct peer_contact *c = contact_get(p, user);
    if (!c)
        return NULL;
    if (c->link)
        return c->link;
    ev_timer_stop(p->loop, &c->retry);
    c->link = peer_link_dial(p, user);
    return c->link;
}

void peer_mesh_link_up(struct peer_link *l)
{
    struct peer *p = l->p;
    struct peer_contact *c = contact_get(p, l->user);
    struct peer_link *other = NULL;
    for (struct peer_link *o = p->links; o; o = o->next)
        if (o != l && o->state == LINK_LIVE && strcmp(o->user, l->user) == 0)
            other = o;
    if (c) {
        ev_timer_stop(p->loop, &c->retry);
        c->backoff_ms = PEER_BACKOFF_MIN_MS;
        contact_presence(p, c, true);   /* a live link proves it */
    }
    if (!other) {
        if (c)
            c->link = l;
        return;
    }
    /* Two live links with one user: keep the one dialed by the smaller
     * name, the same on both sides; with one dialer for both, the newer
     * (the other side lost the old one). */
    const char *ld = l->dialer ? p->user : l->user;
    const char *od = other->dialer ? p->user : other->user;
    struct peer_link *keep = strcmp(ld, od) <= 0 ? l : other;
    struct peer_link *drop = keep == l ? other : l;
    if (c)
        c->link = keep;
    log_debug("two links with %s: keeping the one dialed by %s", l->user,
              keep->dialer ? p->user : keep->user);
    drop->close_quiet = true;
    peer_link_close(drop, NULL, "duplicate");
}

void peer_mesh_link_down(struct peer_link *l)
{
    struct peer *p = l->p;
    struct peer_contact *c = l->user[0] ? peer_contact_find(p, l->user) : NULL;
    if (!c || c->link != l)
        return;
    c->link = NULL;
    /* another link with that user may be live (it won a crossing dial) */
    for (struct peer_link *o = p->links; o; o = o->next)
        if (o != l && o->state == LINK_LIVE && strcmp(o->user, l->user) == 0) {
            c->link = o;
            return;
        }
    if (l->live_since_ms)
        peer_tracker_refresh_soon(p);
    if (!contact_wanted(p, c))
        return;
    ev_timer_start(p->loop, &c->retry, jitter(c->backoff_ms), 0);
    c->backoff_ms = c->backoff_ms * 2 > PEER_BACKOFF_MAX_MS ? PEER_BACKOFF_MAX_MS
                                                            : c->backoff_ms * 2;
}

void peer_mesh_free(struct peer *p)
{
    for (size_t i = 0; i < p->ncontacts; i++) {
        ev_timer_stop(p->loop, &p->contacts[i]->retry);
        free(p->contacts[i]);
    }
    free(p->contacts);
    p->contacts = NULL;
    p->ncontacts = p->cap_contacts = 0;
    for (size_t i = 0; i < p->nchans; i++)
        chan_free(p->chans[i]);
    free(p->chans);
    p->chans = NULL;
    p->nchans = p->cap_chans = 0;
}
