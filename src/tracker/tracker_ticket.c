/*
 * tracker_ticket.c - introductions: POST /connect-peer {peer} gives the
 * caller the target's address and a one-time ticket bound to (caller,
 * target, --ticket-ttl seconds); the target checks the ticket with
 * POST /verify-ticket {ticket} and learns who is connecting.  The tracker
 * keeps only the ticket's SHA-256 and carries no message.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tracker.h"
#include "weaprous/entropy.h"
#include "weaprous/sha256.h"

#define TICKET_HEX_LEN (2 * TRACKER_TICKET_BYTES)

/* The active peer of user `who` for caller u: 0 with *p and *target, or
 * -1 after answering 404 (no such user), 409 (offline) or 422 (yourself). */
static int ticket_target(struct tracker *tr, http_txn *t, const struct tracker_user *u,
                         const char *who, struct tracker_peer *p, int64_t *target)
{
    struct db_user any;
    if (strcasecmp(who, u->name) == 0) {
        tracker_error(tr, t, 422, "unprocessable entity", "you cannot connect to yourself");
        return -1;
    }
    int r = tracker_db_peer_active(tr, who, p, target);
    if (r == 1)
        return 0;
    if (r < 0)
        tracker_store_error(tr, t, "connect-peer");
    else if (db_user_get(tr->store, who, &any) == 0)
        tracker_error(tr, t, 409, "conflict", "that peer is not online");
    else
        tracker_error(tr, t, 404, "not found", "no such user");
    return -1;
}

/* A new ticket from u to target into ticket[]: 0, or -1 after answering
 * 429 (too many unused ones) or 5xx. */
static int ticket_issue(struct tracker *tr, http_txn *t, const struct tracker_user *u,
                        int64_t target, char ticket[TICKET_HEX_LEN + 1], int64_t *expires)
{
    char hash[SHA256_HEX_LEN + 1];
    int64_t open = tracker_db_ticket_open(tr, u->id);
    if (open >= TRACKER_MAX_OPEN_TICKETS) {
        http_txn_add_header(t, "Retry-After", "60");
        tracker_error(tr, t, 429, "too many requests",
                      "too many unused tickets: use them or let them expire");
        return -1;
    }
    if (open < 0)
        goto fail;
    if (entropy_hex(ticket, TRACKER_TICKET_BYTES) < 0) {
        tracker_error(tr, t, 503, "service unavailable", "no randomness");
        return -1;
    }
    sha256_hex(ticket, TICKET_HEX_LEN, hash);
    *expires = db_now(tr->store) + tr->cfg.ticket_ttl;
    if (tracker_db_ticket_put(tr, hash, u->id, target, *expires) < 0)
        goto fail;
    tr->m.tickets_issued++;
    return 0;
fail:
    tracker_store_error(tr, t, "connect-peer");
    return -1;
}

/* POST /connect-peer {peer} */
static void ticket_connect(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct tracker_user u;
    struct tracker_peer p;
    const json_value *root;
    const char *who;
    char ticket[TICKET_HEX_LEN + 1];
    int64_t target, expires;
    if (tracker_begin_json(tr, t, &u, &root, "peer", DB_MAX_NAME, &who,
                           "\"peer\" (a user name) is required") < 0
        || ticket_target(tr, t, &u, who, &p, &target) < 0
        || ticket_issue(tr, t, &u, target, ticket, &expires) < 0)
        return;
    json_writer *w = tracker_json(t);
    json_w_begin_object(w);
    json_w_key(w, "peer");
    json_w_string(w, p.user);
    json_w_key(w, "ip");
    json_w_string(w, p.ip);
    json_w_key(w, "port");
    json_w_int(w, p.port);
    json_w_key(w, "ticket");
    json_w_string(w, ticket);
    json_w_key(w, "expires_at");
    json_w_int(w, expires);
    json_w_key(w, "expires_in");
    json_w_int(w, tr->cfg.ticket_ttl);
    json_w_end_object(w);
    tracker_reply(tr, t, 200);
}

static bool ticket_syntax_ok(const char *s)
{
    if (strlen(s) != TICKET_HEX_LEN)
        return false;
    for (size_t i = 0; i < TICKET_HEX_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void ticket_answer(struct tracker *tr, http_txn *t, const char *caller)
{
    struct tracker_peer p;
    int64_t id;
    int r = tracker_db_peer_active(tr, caller, &p, &id);
    json_writer *w = tracker_json(t);
    json_w_begin_object(w);
    json_w_key(w, "valid");
    json_w_bool(w, true);
    json_w_key(w, "caller");
    json_w_string(w, caller);
    /* Where the caller's own peer listens, when it is online: lets the
     * target check the address of the incoming link. */
    json_w_key(w, "caller_ip");
    json_w_string(w, r == 1 ? p.ip : NULL);
    json_w_key(w, "caller_port");
    if (r == 1)
        json_w_int(w, p.port);
    else
        json_w_null(w);
    json_w_end_object(w);
    tracker_reply(tr, t, 200);
}

/* The answer to each refused ticket, by its state. */
static const struct {
    int status;
    const char *error, *detail;
} ticket_refusal[] = {
    [TRACKER_TICKET_UNKNOWN] = { 404, "not found", "unknown ticket" },
    [TRACKER_TICKET_NOT_YOURS] = { 403, "forbidden", "this ticket was issued for another peer" },
    [TRACKER_TICKET_USED] = { 410, "gone", "this ticket was already used" },
    [TRACKER_TICKET_EXPIRED] = { 410, "gone", "this ticket has expired" },
};

/* POST /verify-ticket {ticket}: only the target may verify; once. */
static void ticket_verify(http_txn *t, void *arg)
{
    struct tracker *tr = arg;
    struct tracker_user u;
    const json_value *root;
    const char *ticket;
    char hash[SHA256_HEX_LEN + 1], caller[DB_MAX_NAME + 1];
    int64_t caller_id;
    if (tracker_begin_json(tr, t, &u, &root, "ticket", 2 * TICKET_HEX_LEN, &ticket,
                           "\"ticket\" is required") < 0)
        return;
    if (!ticket_syntax_ok(ticket)) {
        tracker_error(tr, t, 422, "unprocessable entity", "malformed ticket");
        return;
    }
    sha256_hex(ticket, TICKET_HEX_LEN, hash);
    int s = tracker_db_ticket_use(tr, hash, u.id, caller, &caller_id);
    if (s == TRACKER_TICKET_OK) {
        tr->m.tickets_verified++;
        ticket_answer(tr, t, caller);
    } else if (s > TRACKER_TICKET_OK
               && (size_t)s < sizeof(ticket_refusal) / sizeof(ticket_refusal[0])) {
        tracker_error(tr, t, ticket_refusal[s].status, ticket_refusal[s].error,
                      ticket_refusal[s].detail);
    } else {
        tracker_store_error(tr, t, "verify-ticket");   /* -1: the store failed */
    }
}

int tracker_ticket_routes(struct tracker *tr)
{
    if (app_route(tr->app, "POST", "/connect-peer", ticket_connect, tr) < 0
        || app_route(tr->app, "POST", "/verify-ticket", ticket_verify, tr) < 0)
        return -1;
    return 0;
}
