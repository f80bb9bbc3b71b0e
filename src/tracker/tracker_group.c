/*
 * tracker_group.c - group commit of the peers' writes.
 *
 * A heart-beat is one small UPDATE; committing each alone costs more than
 * the rest of the request.  So the writes of /submit-info and /heartbeat
 * run in the store's group transaction (db_group_run) and their answers
 * wait here: the group commits at the end of the loop pass that wrote
 * (a 0 ms timer: the timers run after every I/O callback of the pass), or
 * at once when TRACKER_GROUP_MAX writes are in it, or earlier when any
 * other write needs the handle (the store commits the group first).  Only
 * then are the answers sent: 200 when it committed, the store error when
 * it was rolled back.  An answer never goes out before its commit, so a
 * registration answered 200 survives a crash of the tracker.
 *
 * The cached lists (tracker_list.c) learn of the group's writes when it
 * commits: until then they keep saying what is committed, and a list that
 * must be rebuilt first commits a group holding a write it shows.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tracker.h"
#include "weaprous/log.h"

#define GROUP_WAIT_FIRST_CAP 64   /* entries of the first allocation */

/* The store's hook: the open group ended (rc 0 committed, -1 rolled back). */
static void group_ended(void *arg, int rc)
{
    struct tracker *tr = arg;
    struct tracker_group *g = &tr->group;
    for (size_t i = g->n - g->open; i < g->n; i++)
        g->w[i].rc = rc;
    if (rc < 0)
        log_warnx("group commit of %zu writes: %s", g->open, db_errmsg(tr->store));
    tr->m.group_commits += rc == 0;
    tr->m.group_writes += rc == 0 ? g->open : 0;
    /* A rolled-back group may have been read by a list build: rebuild. */
    if (g->shown || rc < 0)
        tr->list_gen++;
    g->shown = false;
    g->open = 0;
    g->last_rc = rc;
}

/* Sends the answers whose group has ended, in arrival order.  An answer
 * may run the next pipelined request of its connection, which may queue
 * a new entry: only the entries present at the start are looked at. */
static void group_answer(struct tracker *tr)
{
    struct tracker_group *g = &tr->group;
    size_t done = g->n - g->open;
    for (size_t i = 0; i < done; i++) {
        struct tracker_wait w = g->w[i];
        if (w.rc == 0)
            tracker_peer_answer(tr, w.t, &w.b);
        else
            tracker_store_error(tr, w.t, w.b.registered ? "submit-info" : "heartbeat");
    }
    if (done == 0)
        return;   /* a group without answers (a 404 beat), or none at all */
    memmove(g->w, g->w + done, (g->n - done) * sizeof(*g->w));
    g->n -= done;
}

/* The end of the pass that wrote: commit, then answer. */
static void group_end_of_pass(ev_loop *loop, ev_timer *timer, void *arg)
{
    struct tracker *tr = arg;
    (void)loop; (void)timer;
    db_group_commit(tr->store);
    group_answer(tr);
}

void tracker_group_init(struct tracker *tr)
{
    ev_timer_init(&tr->group.end, group_end_of_pass, tr);
    db_group_hook(tr->store, group_ended, tr);
}

/* Room for one more entry.  0, or -1 (out of memory). */
static int group_reserve(struct tracker_group *g)
{
    if (g->n < g->cap)
        return 0;
    size_t cap = g->cap ? 2 * g->cap : GROUP_WAIT_FIRST_CAP;
    struct tracker_wait *w = realloc(g->w, cap * sizeof(*w));
    if (!w)
        return -1;
    g->w = w;
    g->cap = cap;
    return 0;
}

void tracker_group_arm(struct tracker *tr)
{
    struct tracker_group *g = &tr->group;
    if (!db_group_open(tr->store) || ev_timer_active(&g->end))
        return;
    /* No timer, no waiting: then nothing waits yet, and the group commits
     * now (the caller's answer follows at once, tracker_group_wait). */
    if (ev_timer_start(app_loop(tr->app), &g->end, 0, 0) < 0)
        db_group_commit(tr->store);
}

void tracker_group_wait(struct tracker *tr, http_txn *t, const struct tracker_beat *b)
{
    struct tracker_group *g = &tr->group;
    if (!db_group_open(tr->store) || group_reserve(g) < 0) {
        /* The write's group has ended already (tracker_group_arm), or there
         * is no room to wait: end it, answer by its outcome now. */
        db_group_commit(tr->store);
        if (g->last_rc == 0)
            tracker_peer_answer(tr, t, b);
        else
            tracker_store_error(tr, t, b->registered ? "submit-info" : "heartbeat");
        return;
    }
    g->w[g->n++] = (struct tracker_wait){ .t = t, .rc = 1, .b = *b };
    if (++g->open >= TRACKER_GROUP_MAX)
        db_group_commit(tr->store);   /* answered at the end of the pass */
}

void tracker_group_before_build(struct tracker *tr)
{
    if (tr->group.shown)
        db_group_commit(tr->store);
}

void tracker_group_release(struct tracker *tr)
{
    /* The loop is done: commit what is written; the transactions waiting
     * here are freed with the app, unanswered. */
    if (tr->store)
        db_group_commit(tr->store);
    if (tr->app)
        ev_timer_stop(app_loop(tr->app), &tr->group.end);
    free(tr->group.w);
    memset(&tr->group, 0, sizeof(tr->group));
}
