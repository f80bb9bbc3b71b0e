/*
 * tracker.h - what the tracker's files share (`weaprous tracker`, the chat
 * tracker of DESIGN.md sections 6 and 7, issue 6).
 *
 *   tracker_role.c     options, start-up, sweeper timer, run
 *   tracker_conf.c     SIGHUP: the options re-read from the configuration file
 *   tracker_db.c       every SQL statement of the tracker's tables
 *   tracker_req.c      request helpers: session, body fields, answers
 *   tracker_auth.c     /login /logout /register
 *   tracker_peers.c    /submit-info /heartbeat /get-list
 *   tracker_list.c     the serialized peer lists /get-list answers from
 *   tracker_group.c    group commit: the peers' writes share a transaction
 *   tracker_channels.c /add-list /channels ...
 *   tracker_ticket.c   /connect-peer /verify-ticket
 *   tracker_status.c   the status page and /metrics
 *
 * Single-threaded: one `struct tracker` per process, handed to every
 * handler as its argument.
 */
#ifndef WR_TRACKER_H
#define WR_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include "weaprous/app.h"
#include "weaprous/buf.h"
#include "weaprous/db.h"
#include "weaprous/ratelimit.h"
#include "weaprous/static.h"
#include "cmd/role.h"

#define TRACKER_DEFAULT_PORT       8000
#define TRACKER_DEFAULT_HEARTBEAT  10000  /* ms between heart-beats */
#define TRACKER_MIN_HEARTBEAT      200    /* ms: --heartbeat-interval floor */
#define TRACKER_MAX_HEARTBEAT      3600000
#define TRACKER_JITTER_PCT         10     /* interval told = base +-10% */
#define TRACKER_EXPIRY_BEATS       3      /* missed intervals -> not active */
#define TRACKER_TICKET_TTL         60     /* default seconds a ticket works */
#define TRACKER_TICKET_BYTES       32     /* random bytes of a ticket */
#define TRACKER_MAX_OPEN_TICKETS   64     /* unused, unexpired per caller -> 429 */
#define TRACKER_MAX_BODY           8192   /* request body bytes -> 413 */
#define TRACKER_MAX_CHANNEL        32     /* channel name bytes */
#define TRACKER_MAX_CHANNEL_PW     128    /* channel password bytes */
#define TRACKER_MAX_IP             46     /* INET6_ADDRSTRLEN - 1 */
#define TRACKER_RATE_SLOTS         4096   /* keys (addresses, accounts) the limiter keeps */
#define TRACKER_RATE_MAX           5      /* failures per window and key -> 429 */
#define TRACKER_RATE_WINDOW        60     /* seconds */
#define TRACKER_SESSION_COOKIE     "session"
#define TRACKER_STATUS_SLOTS       16     /* distinct statuses counted for /metrics */
#define TRACKER_LIST_SLOTS         16     /* peer lists cached: active, all, channels */
#define TRACKER_MAX_LIST           10000  /* peers in one answer; then "truncated" */
#define TRACKER_LAST_SEEN_GRANULARITY 60  /* seconds: lists round last_seen down to it */
#define TRACKER_GROUP_MAX          256    /* writes in one group commit; then it commits */

/* Which peer list a /get-list answer carries. */
enum tracker_list_kind {
    TRACKER_LIST_ACTIVE,      /* peers heart-beating now */
    TRACKER_LIST_ALL,         /* every registered peer (?all=1) */
    TRACKER_LIST_CHANNEL,     /* the members of one channel (?channel=) */
};

/*
 * One cached peer list: the JSON array as /get-list writes it.  It holds
 * while nothing was written (gen: the tracker's write generation; data
 * version: other processes' commits to the file) and until the first
 * listed peer expires, when the same query would answer differently.
 */
struct tracker_list {
    bool     used;
    enum tracker_list_kind kind;
    int64_t  channel;          /* TRACKER_LIST_CHANNEL: the channel's id */
    uint64_t gen;              /* tr->list_gen when built */
    int64_t  data_version;     /* PRAGMA data_version when built */
    int64_t  valid_until;      /* Unix seconds: first expiry of a listed peer */
    uint64_t last_use;         /* tr->list_tick of its last use (LRU) */
    size_t   n;                /* peers in json */
    bool     truncated;        /* more than TRACKER_MAX_LIST */
    buf      json;             /* "[{...},...]" */
};

/* What the failure limiter counts (each with its own keys). */
enum tracker_limit {
    TRACKER_LIMIT_LOGIN,      /* failed logins per client address */
    TRACKER_LIMIT_SIGNUP,     /* refused sign-ups (name taken, invalid) per address */
    TRACKER_LIMIT_CHANNEL,    /* wrong channel passwords per address and per account */
    TRACKER_LIMIT__COUNT
};

struct tracker_metrics {
    uint64_t requests;
    uint64_t logins_ok, logins_failed;
    uint64_t limited[TRACKER_LIMIT__COUNT];   /* 429s of the failure limiter */
    uint64_t registrations;
    uint64_t tickets_issued, tickets_verified;
    uint64_t peers_expired;
    uint64_t list_hits, list_builds;
    uint64_t group_commits, group_writes;     /* group commits, the writes they held */
    struct { int status; uint64_t n; } responses[TRACKER_STATUS_SLOTS];
};

/* The options that a SIGHUP may change (tracker_role.c reads them). */
struct tracker_config {
    unsigned heartbeat_ms;         /* base interval */
    unsigned ticket_ttl;           /* seconds */
    bool     allow_signup;
    bool     allow_advertised;
    unsigned rate_max, rate_window;   /* failure limiter: failures per window (s) */
};

/* What /submit-info or /heartbeat answers once its write is committed. */
struct tracker_beat {
    bool     registered;                 /* /submit-info: ip, port, replaced said */
    char     ip[TRACKER_MAX_IP + 1];
    int      port;
    bool     replaced;
    unsigned ms;                         /* the interval told */
};

/* An answer waiting for the commit of its write (tracker_group.c). */
struct tracker_wait {
    http_txn *t;
    int       rc;                        /* 1 its group is open, 0 committed, -1 lost */
    struct tracker_beat b;
};

/* The group commit: answers in arrival order, the last `open` of them
 * waiting for the group transaction open on the store. */
struct tracker_group {
    struct tracker_wait *w;
    size_t    n, cap, open;
    bool      shown;                     /* the open group holds a write lists show */
    int       last_rc;                   /* how the last group ended */
    ev_timer  end;                       /* the end of the pass that wrote */
};

struct tracker {
    wr_app   *app;
    static_ctx *files;             /* the status page's stylesheet and icon */
    db       *store;
    ev_timer  sweeper;
    bool      stopping;            /* graceful stop under way */
    struct tracker_config cfg;
    struct role_opts   *opts;      /* as started: the file (-c) and the flags */
    int64_t   started_at;          /* Unix seconds */
    int64_t   last_purge;          /* Unix seconds: last session purge */
    rl       *limiter;             /* failures: logins, sign-ups, channel passwords */
    struct tracker_metrics m;
    struct tracker_stmts *q;       /* tracker_db.c */
    uint64_t  list_gen;            /* bumped by every write of tracker_db.c */
    uint64_t  list_tick;           /* use clock of the list cache */
    struct tracker_list lists[TRACKER_LIST_SLOTS];
    struct tracker_group group;    /* tracker_group.c */
};

/* The caller of a request, from its session. */
struct tracker_user {
    int64_t id;
    char    name[DB_MAX_NAME + 1];
};

/* ---- tracker_db.c: statements on the tracker's tables.  0 / -1 (then
 * db_errcode/db_errmsg say why) unless stated otherwise. ---- */

struct tracker_peer {
    char    user[DB_MAX_NAME + 1];
    char    ip[TRACKER_MAX_IP + 1];
    int     port;
    bool    online;
    int64_t last_seen_at, registered_at;
    int64_t expires_at;                  /* Unix seconds: not active from then */
    unsigned heartbeat_ms;
};

struct tracker_channel {
    int64_t id;
    char    name[TRACKER_MAX_CHANNEL + 1];
    char    access[16];
    char    owner[DB_MAX_NAME + 1];      /* "" when the operator's */
    int64_t members;
    bool    member;                      /* the asking user belongs to it */
    char    role[16];                    /* "owner", "member" or "" */
    char    password_hash[384];          /* access "password" only */
};

enum tracker_ticket_state {
    TRACKER_TICKET_OK,        /* verified now */
    TRACKER_TICKET_UNKNOWN,
    TRACKER_TICKET_USED,
    TRACKER_TICKET_EXPIRED,
    TRACKER_TICKET_NOT_YOURS, /* someone other than the target asked */
};

typedef int (*tracker_peer_cb)(const struct tracker_peer *p, void *arg);
typedef int (*tracker_channel_cb)(const struct tracker_channel *c, void *arg);

int tracker_db_prepare(struct tracker *tr);
void tracker_db_release(struct tracker *tr);
/* Marks every peer offline (start-up: they come back when they beat). */
int tracker_db_all_offline(struct tracker *tr);
/* Registers or replaces the peer of user; *replaced is true when an active
 * registration with another address existed.  A write of the group
 * commit: answer with tracker_group_wait(). */
int tracker_db_peer_put(struct tracker *tr, int64_t user, const char *ip, int port,
                        unsigned heartbeat_ms, bool *replaced);
/* Heart-beat: 1 refreshed, 0 no registered (non-stopped) peer, -1 error.
 * A write of the group commit: answer with tracker_group_wait().  A beat
 * of an active peer within the same TRACKER_LAST_SEEN_GRANULARITY slot
 * changes nothing a list shows and leaves the cached lists alone. */
int tracker_db_peer_beat(struct tracker *tr, int64_t user, unsigned heartbeat_ms);
/* Logout / "stopped": 1 when a peer was registered, 0 if none, -1 error. */
int tracker_db_peer_stop(struct tracker *tr, int64_t user);
/* The active peer of user name: 1 found (*p filled), 0 not active, -1. */
int tracker_db_peer_active(struct tracker *tr, const char *user,
                           struct tracker_peer *p, int64_t *user_id);
/* Active peers (all = false) or every registered one, by user name. */
int tracker_db_peer_list(struct tracker *tr, bool all, tracker_peer_cb cb, void *arg);
/* Members of a channel with their peer state. */
int tracker_db_channel_peers(struct tracker *tr, int64_t channel,
                             tracker_peer_cb cb, void *arg);
/* Clears online on expired peers; returns how many, or -1. */
long tracker_db_sweep(struct tracker *tr);
/* Counts for the status page and /metrics; -1 on error. */
int64_t tracker_db_count(struct tracker *tr, const char *what);
/* PRAGMA data_version: changes when another connection commits to the
 * file (the tracker's own writes bump tr->list_gen instead); -1 on error. */
int64_t tracker_db_data_version(struct tracker *tr);

/* Channel by name for user (member/role filled for that user): 1, 0, -1. */
int tracker_db_channel_get(struct tracker *tr, const char *name, int64_t user,
                           struct tracker_channel *c);
/* Creates a channel owned by owner (who becomes its member).  -1 with
 * DB_E_EXISTS when the name is taken. */
int tracker_db_channel_create(struct tracker *tr, const char *name, const char *access,
                              const char *password_hash, int64_t owner);
/* Adds user to channel (role "member"), using up any invitation. */
int tracker_db_join(struct tracker *tr, int64_t channel, int64_t user);
/* 1 when user holds an invitation to channel, 0 if not, -1. */
int tracker_db_invited(struct tracker *tr, int64_t channel, int64_t user);
int tracker_db_invite(struct tracker *tr, int64_t channel, int64_t user, int64_t by);
/* Removes user from channel; the oldest member inherits ownership; an
 * empty channel other than "general" is deleted.  1 left, 0 not a member. */
int tracker_db_leave(struct tracker *tr, int64_t channel, int64_t user);
/* Channels the user belongs to plus every public one, by name. */
int tracker_db_channel_list(struct tracker *tr, int64_t user, tracker_channel_cb cb,
                            void *arg);

/* Stores a ticket (its SHA-256) from caller to target. */
int tracker_db_ticket_put(struct tracker *tr, const char *hash, int64_t caller,
                          int64_t target, int64_t expires_at);
/* Unused, unexpired tickets of caller; -1 on error. */
int64_t tracker_db_ticket_open(struct tracker *tr, int64_t caller);
/* Uses up a ticket for `target`; *caller gets the caller's name on OK;
 * -1 on store failure. */
int tracker_db_ticket_use(struct tracker *tr, const char *hash, int64_t target,
                          char caller[DB_MAX_NAME + 1], int64_t *caller_id);

/* ---- tracker_req.c ---- */

/* The caller's session (Authorization: Bearer, else the session cookie).
 * 0 with *u filled, or -1 after answering 401 (or 503). */
int tracker_auth(struct tracker *tr, http_txn *t, struct tracker_user *u);
/* The session token the request carries, or NULL. */
const char *tracker_token(http_txn *t);
/* Parses an optional JSON body: 0 with *root (NULL when the body is
 * empty), or -1 after answering 400/413/415. */
int tracker_body(struct tracker *tr, http_txn *t, const json_value **root,
                 bool required);
/* String member `key` of 1..max bytes without NUL: 1 found, 0 absent,
 * -1 after answering 422 (wrong type or length). */
int tracker_str(http_txn *t, const json_value *root, const char *key,
                size_t max, const char **out, struct tracker *tr);
/* The required JSON body and its required string member `key` (1..max
 * bytes): 0 with *root and *out, or -1 after answering 400 (`missing` as
 * the detail when key is absent), 413, 415 or 422. */
int tracker_body_need(struct tracker *tr, http_txn *t, const json_value **root,
                      const char *key, size_t max, const char **out,
                      const char *missing);
/* The preamble of a JSON handler: tracker_auth(), then
 * tracker_body_need().  0 with *u, *root and *out, or -1 after answering. */
int tracker_begin_json(struct tracker *tr, http_txn *t, struct tracker_user *u,
                       const json_value **root, const char *key, size_t max,
                       const char **out, const char *missing);
/* Every answer goes through these two (counted for /metrics). */
json_writer *tracker_json(http_txn *t);
void tracker_reply(struct tracker *tr, http_txn *t, int status);
void tracker_error(struct tracker *tr, http_txn *t, int status, const char *error,
                   const char *detail);
/* 503 (busy) or 500 for a store failure, logged. */
void tracker_store_error(struct tracker *tr, http_txn *t, const char *what);
/* The end of a handler whose body is already written: 200, or the store
 * error for `what` when rc < 0. */
void tracker_finish(struct tracker *tr, http_txn *t, int rc, const char *what);
/* True for a valid channel name: 1..TRACKER_MAX_CHANNEL of [A-Za-z0-9_-],
 * starting with a letter or digit. */
bool tracker_channel_name_valid(const char *name);
/* Counts one answer of status for /metrics. */
void tracker_count_status(struct tracker *tr, int status);
/* The failure limiter (src/ratelimit.c) for `what` of subject (a client
 * address, or "u<id>" for an account).  tracker_limited() answers 429 with
 * Retry-After and returns true when subject must wait; tracker_failed()
 * counts one failure. */
bool tracker_limited(struct tracker *tr, http_txn *t, enum tracker_limit what,
                     const char *subject);
void tracker_failed(struct tracker *tr, enum tracker_limit what, const char *subject);

/* ---- tracker_role.c ---- */

/* The run-time options of o into *c.  0, or -1 after logging what is wrong. */
int tracker_options(struct tracker_config *c, const struct role_opts *o);
/* Starts (again) the sweeper with the current heart-beat interval (not
 * once the tracker is stopping). */
void tracker_sweeper_start(struct tracker *tr);

/* ---- tracker_conf.c ---- */

/* Remembers the options as started (o->kv[i].from_cli marks flags, which
 * keep winning over the file at reloads). */
void tracker_conf_init(struct tracker *tr, struct role_opts *o);
/* SIGHUP: re-reads the configuration file; applies and logs the options
 * that changed, or refuses a bad file (logged) and keeps the old ones. */
void tracker_conf_reload(struct tracker *tr);

/* ---- tracker_list.c ---- */

/* The peer list of kind (channel: its id, else ignored), from the cache
 * when still exact, else queried and cached.  NULL on a store failure
 * (db_errmsg says why) or when the list outgrew its buffer (logged).  The
 * list stays valid until the next call. */
const struct tracker_list *tracker_list_get(struct tracker *tr,
                                            enum tracker_list_kind kind, int64_t channel);
/* Frees the cached lists. */
void tracker_list_release(struct tracker *tr);

/* ---- tracker_group.c ---- */

/* Sets the store's group hook (the store is open, the app made). */
void tracker_group_init(struct tracker *tr);
/* After a write into the group (tracker_db.c): makes sure it commits at
 * the end of this loop pass. */
void tracker_group_arm(struct tracker *tr);
/* Answers t with b once the group holding its write commits (the store
 * error if it is rolled back); now if it has ended already. */
void tracker_group_wait(struct tracker *tr, http_txn *t, const struct tracker_beat *b);
/* Before a list is built: commits a group holding a write lists show, so
 * that lists say only what is committed. */
void tracker_group_before_build(struct tracker *tr);
/* Commits what is written and forgets the waiting answers (after the
 * loop, before the app is freed). */
void tracker_group_release(struct tracker *tr);

/* ---- tracker_peers.c ---- */

/* The 200 answer of /submit-info or /heartbeat. */
void tracker_peer_answer(struct tracker *tr, http_txn *t, const struct tracker_beat *b);

/* ---- handlers: register their routes on tr->app.  0 or -1. ---- */
int tracker_auth_routes(struct tracker *tr);
int tracker_peer_routes(struct tracker *tr);
int tracker_channel_routes(struct tracker *tr);
int tracker_ticket_routes(struct tracker *tr);
int tracker_status_routes(struct tracker *tr);

/* Interval to tell a peer: the base interval +-TRACKER_JITTER_PCT. */
unsigned tracker_jitter(const struct tracker *tr);
/* The channel `name` as u sees it: 0 with *c, or -1
 * after answering 422 (invalid name), 404 (no such channel) or 5xx. */
int tracker_channel_find(struct tracker *tr, http_txn *t, const char *name,
                         const struct tracker_user *u, struct tracker_channel *c);
/* c as a JSON object: name, access, members, member; full adds owner and
 * role (GET /channels; /get-list gives the short form). */
void tracker_channel_json(json_writer *w, const struct tracker_channel *c, bool full);

#endif
