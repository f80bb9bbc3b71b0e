/*
 * peer.h - what the chat peer's files share (`weaprous peer`, DESIGN.md
 * section 9; the wire protocol is docs/PROTOCOL.md).
 *
 *   peer_role.c     options, start-up, the run and the clean stop
 *   peer_frame.c    the frame parser and writers (peer_frame.h)
 *   peer_vec.c      version vectors (peer_vec.h)
 *   peer_link.c     one P2P link: the state machine run, its socket, timers
 *   peer_link_states.c  its transition table, accepted frames, timeouts
 *   peer_mesh.c     who to link with: contacts, dialing, backoff, one link per pair
 *   peer_sync.c     have / want / msg on a live link: catch-up and acceptance
 *   peer_chat.c     sending: broadcast, direct messages, delivery states
 *   peer_store.c    the peer's SQLite database (db/peer/NNN_*.sql)
 *   peer_tracker.c  the tracker client: session, registration, heart-beat, lists
 *   peer_api.c      the local JSON API for the user's browser
 *   peer_events.c   the /events WebSocket push
 *
 * Single-threaded: one `struct peer` per process, handed to every callback.
 */
#ifndef WR_PEER_H
#define WR_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cmd/role.h"
#include "peer_frame.h"
#include "peer_vec.h"
#include "weaprous/app.h"
#include "weaprous/buf.h"
#include "weaprous/db.h"
#include "weaprous/ev.h"
#include "weaprous/http_client.h"
#include "weaprous/net.h"
#include "weaprous/static.h"
#include "weaprous/ws.h"

#define PEER_DEFAULT_PORT      7001
#define PEER_P2P_OFFSET        100      /* default P2P port: HTTP port + 100 */
#define PEER_DEFAULT_TRACKER   "http://127.0.0.1:8000"

/* Caps: each maps to an outcome (docs/PROTOCOL.md, "Limits"). */
#define PEER_MAX_LINKS         512      /* links in any state; then refused */
#define PEER_MAX_HANDSHAKES    64       /* inbound links not yet verified */
#define PEER_MAX_CONTACTS      10000    /* users known from the tracker */
#define PEER_MAX_CHANNELS      1024     /* conversations followed */
#define PEER_MAX_MEMBERS       10000    /* members of one channel kept */
#define PEER_IN_CAP            (PEER_FRAME_HEADER + PEER_FRAME_MAX + 65536)
#define PEER_OUT_CAP           (4u << 20)   /* queued output of a link */
#define PEER_OUT_HIGH          (256u << 10) /* above: sync waits, live sends queue */
#define PEER_FRAMES_PER_PASS   256      /* fairness: frames handled per read */
#define PEER_BATCH             256      /* messages read from the store per pump step */
#define PEER_MAX_RANGES        4096     /* queued sync ranges per link */
#define PEER_MAX_SENT          65536    /* (channel, origin) records per link */
#define PEER_PAGE_DEFAULT      50       /* history page */
#define PEER_PAGE_MAX          500
#define PEER_API_MAX_BODY      16384    /* local API request bodies */
#define PEER_CLIENT_ID_MAX     64

/* Timeouts of the link states and the keep-alive (ms). */
#define PEER_LIVE_TICK_MS      5000     /* keep-alive check of the live links */
#define PEER_HANDSHAKE_MS      10000    /* hello, welcome, each verification */
#define PEER_CONNECT_MS        5000
#define PEER_PING_MS           15000    /* silence before a ping */
#define PEER_DEAD_MS           45000    /* silence before the link is dead */
#define PEER_CLOSE_MS          2000     /* flushing a bye or an error */
#define PEER_RESYNC_MS         30000    /* have vectors again on a live link */
#define PEER_BACKOFF_MIN_MS    500
#define PEER_BACKOFF_MAX_MS    30000
#define PEER_ACK_DELAY_MS      20       /* receipts (have) are batched this long ... */
#define PEER_ACK_MEMBERS       10       /* ... per this many other members (at least once) */
#define PEER_REFRESH_MS        15000    /* lists and memberships from the tracker */
#define PEER_MEMBERS_MIN_MS    250      /* a channel's members asked for on demand */
#define PEER_STOP_MS           2000     /* clean exit: the tracker's "stopped" */
#define PEER_SESSION_LIFETIME  (30 * 24 * 3600)   /* browser session, seconds */

struct peer;
struct peer_link;
struct peer_call;

/* ---- the link state machine (peer_link_states.c, peer_link.c) ---- */

enum peer_link_state {
    LINK_TICKET,       /* dialer: asking the tracker for an introduction */
    LINK_CONNECTING,   /* dialer: TCP connect in progress */
    LINK_HELLO_SENT,   /* dialer: hello sent, awaiting welcome */
    LINK_AWAIT_HELLO,  /* acceptor: awaiting the hello */
    LINK_VERIFYING,    /* the other side's ticket is being checked */
    LINK_LIVE,         /* both vouched: sync and messages */
    LINK_CLOSING,      /* bye or error queued: flushing, then closed */
    LINK_CLOSED,       /* socket closed; freed at the end of the pass */
    LINK__COUNT
};

/* What happens to a link: the input of the transition function. */
enum peer_link_event {
    LEV_TICKET,        /* the tracker introduced us (ticket, address) */
    LEV_CONNECTED,     /* the TCP connect completed */
    LEV_HELLO,         /* a well-formed hello arrived */
    LEV_WELCOME,       /* a well-formed welcome arrived */
    LEV_VERIFIED,      /* the tracker vouched for the other side */
    LEV_REFUSED,       /* ticket, connect or verification failed */
    LEV_TIMEOUT,       /* the state's timer fired */
    LEV_PROTOCOL,      /* bad frame, or a frame the state does not allow */
    LEV_REMOTE_CLOSE,  /* bye, error or EOF from the other side */
    LEV_LOCAL_CLOSE,   /* we close: logout, stop, duplicate link */
    LEV_FLUSHED,       /* everything queued was written (CLOSING) */
    LEV__COUNT
};

/* The transition table alone (pure, unit-tested): the next state of a link
 * in state s on event e; dialer says which side it is.  Pairs that cannot
 * happen lead to LINK_CLOSING (or stay CLOSED). */
enum peer_link_state peer_link_next(enum peer_link_state s, enum peer_link_event e,
                                    bool dialer);
/* Which frame types a state accepts from the wire (others: LEV_PROTOCOL). */
bool peer_link_accepts(enum peer_link_state s, enum peer_frame_type t, bool dialer);
/* The timeout of a state in ms (0: none). */
unsigned peer_link_timeout(enum peer_link_state s);
const char *peer_link_state_name(enum peer_link_state s);

/* The highest seq of (channel, origin) sent on a link. */
struct peer_sent {
    char    channel[PEER_CHANNEL_MAX + 1];
    char    origin[DB_MAX_NAME + 1];
    int64_t upto;
};

/* A queued range of messages to send (sync). */
struct peer_range {
    char    channel[PEER_CHANNEL_MAX + 1];
    char    origin[DB_MAX_NAME + 1];
    int64_t from, to;
};

struct peer_link {
    struct peer       *p;
    struct peer_link  *next, *prev;     /* p->links */
    enum peer_link_state state;
    bool               dialer;
    bool               handshake;       /* counted in p->handshakes */
    int                fd;
    char               user[DB_MAX_NAME + 1];   /* the other side ("" until hello) */
    char               ticket[PEER_TICKET_HEX + 1];   /* theirs, to verify */
    char               my_ticket[PEER_TICKET_HEX + 1];/* ours, for them */
    struct sockaddr_storage addr;       /* dialer: where to connect */
    socklen_t          addrlen;
    char               remote[NET_ADDR_MAX + 8];      /* "ip:port", for logs */
    buf                in, out;
    ev_timer           timer;           /* the state's timeout (live: p->links_tick) */
    ev_timer           ack;             /* batched receipts */
    ev_timer           more;            /* frames left for the next pass */
    uint64_t           last_rx_ms, last_ping_ms, last_sync_ms;
    uint64_t           live_since_ms;   /* 0: never live */
    const char        *why_closed;      /* for the log: bye, end of stream ... */
    struct peer_call  *call;            /* tracker call in flight */
    const char        *close_code;      /* why we close: sent in the error frame */
    char               close_detail[128];
    bool               close_quiet;     /* close with bye, not error */
    struct peer_range *ranges;          /* sync queue: what the other side lacks */
    size_t             nranges, cap_ranges;
    char             (*acks)[PEER_CHANNEL_MAX + 1];  /* channels to send a have for */
    size_t             nacks, cap_acks;
    struct peer_sent  *sent;            /* what we sent on this link */
    size_t             nsent, cap_sent;
    char               want_channel[PEER_CHANNEL_MAX + 1];  /* the last gap asked for */
    char               want_origin[DB_MAX_NAME + 1];
    int64_t            want_to;
    uint64_t           msgs_in, msgs_out;
    bool               dirty;           /* frames queued this pass: written at its end */
};

/* Dials user at addr after the tracker introduced it (ticket in hand or
 * not: with ticket NULL the link asks the tracker first).  NULL with errno
 * (EMFILE at PEER_MAX_LINKS). */
struct peer_link *peer_link_dial(struct peer *p, const char *user);
/* Starts the P2P listener on ip:port.  0 or -1 (logged). */
int peer_link_listen(struct peer *p, const char *ip, int port);
void peer_link_unlisten(struct peer *p);
/* Feeds an event to the link's transition function (may close it). */
void peer_link_event(struct peer_link *l, enum peer_link_event e);
/* Closes with an error frame (code, detail) or, code NULL, with bye. */
void peer_link_close(struct peer_link *l, const char *code, const char *detail);
/* Queues one whole frame already written into l->out by a peer_frame_put_*
 * call: it is written at the end of the loop pass, with every other frame
 * the pass queued on l.  The put itself failing with ENOBUFS means the link
 * is over PEER_OUT_CAP: the caller closes it or waits (see peer_sync.c). */
void peer_link_flush(struct peer_link *l);
bool peer_link_congested(const struct peer_link *l);
/* The live link with user, or NULL. */
struct peer_link *peer_link_live(struct peer *p, const char *user);
/* "none", "connecting" or "live" for user, as /get-list shows it. */
const char *peer_link_word(struct peer *p, const char *user);
/* Closes every link (bye) and the listener. */
void peer_link_close_all(struct peer *p, const char *code);

/* ---- channels and their members (peer_mesh.c) ---- */

struct peer_member {
    char    user[DB_MAX_NAME + 1];
    int64_t have;        /* contiguous seq of our own messages it holds */
    bool    online;
};

struct peer_chan {
    char    name[PEER_CHANNEL_MAX + 1];
    bool    dm;
    char    other[DB_MAX_NAME + 1];     /* dm: the other user */
    char    access[16];
    struct peer_member *m;              /* sorted by user; includes us */
    size_t  n;
    bool    loaded;                     /* the member list came from the tracker */
    bool    listed;                     /* named by the last channel list */
    uint64_t joined_gen;                /* peer.member_gen when joined here */
    uint64_t asked_ms;                  /* members last asked for on demand */
    struct peer_vec vec;                /* what we hold of it (the store's vectors) */
    int64_t notify_from, notify_to;     /* own seqs whose delivery count moved this pass */
};

/* A user known from the tracker's lists. */
struct peer_contact {
    char     user[DB_MAX_NAME + 1];
    char     ip[NET_ADDR_MAX];
    int      port;
    bool     online;
    int64_t  last_seen;
    struct peer_link *link;             /* our link with it in any state, or NULL */
    unsigned backoff_ms;                /* next reconnect delay */
    uint64_t listed;                    /* p->list_gen of the last list naming it */
    ev_timer retry;
    struct peer *p;
};

/* The channel (or dm:A:B) followed by that name, or NULL. */
struct peer_chan *peer_chan_find(struct peer *p, const char *name);
/* Finds or adds a followed conversation (for a dm: with its other user),
 * its vector read from the store.  NULL with errno (ENOSPC at
 * PEER_MAX_CHANNELS). */
struct peer_chan *peer_chan_get(struct peer *p, const char *name);
void peer_chan_drop(struct peer *p, const char *name);
/* user's entry in c, or NULL (a dm's two users are always its members). */
struct peer_member *peer_chan_member(struct peer_chan *c, const char *user);
/* Replaces c's members with those of a tracker list (JSON array of peers
 * with "user" and "online"). */
int peer_chan_set_members(struct peer *p, struct peer_chan *c, const json_value *peers);
/* Members other than us (the N of "delivered to k of N"). */
size_t peer_chan_others(const struct peer_chan *c);
/* True when both us and user take part in c. */
bool peer_chan_shared(struct peer *p, struct peer_chan *c, const char *user);

struct peer_contact *peer_contact_find(struct peer *p, const char *user);
/* Takes the tracker's peer list (GET /get-list "peers"): addresses, online
 * flags (presence events), then dials whom we should be linked with. */
void peer_mesh_update(struct peer *p, const json_value *peers);
/* Dials every online user we share a conversation with and have no link
 * with (not before its backoff). */
void peer_mesh_connect(struct peer *p);
/* Dials user now (POST /connect-peer), whatever the backoff; returns the
 * link with it already in progress or live, or NULL. */
struct peer_link *peer_mesh_dial_now(struct peer *p, const char *user);
/* A link is live: resets the backoff; keeps one link per pair (the one
 * dialed by the smaller user name), closing the other. */
void peer_mesh_link_up(struct peer_link *l);
/* A link is gone: schedules the reconnect with backoff and jitter. */
void peer_mesh_link_down(struct peer_link *l);
void peer_mesh_free(struct peer *p);
/* Reads every followed conversation's vector from the store again (after
 * a rollback undid what memory already counted). */
void peer_mesh_reload_vectors(struct peer *p);

/* ---- the sync (peer_sync.c) ---- */

/* A link became live: have vectors for every shared conversation. */
void peer_sync_start(struct peer_link *l);
/* Sends our have vector of c on l (reply: an answer to theirs). */
void peer_sync_have(struct peer_link *l, struct peer_chan *c, bool reply);
/* Records that origin's messages of channel up to seq went out on l. */
void peer_sync_sent(struct peer_link *l, const char *channel, const char *origin, int64_t seq);
/* One frame on a live link (have, want, msg, ping, pong). */
void peer_sync_frame(struct peer_link *l, const struct peer_frame *f);
/* Sends queued ranges while the link has room (called when it drains). */
void peer_sync_pump(struct peer_link *l);
/* Queues seq..seq of origin in channel for l (merging with the last
 * range).  0, or -1 when the queue is full. */
int peer_sync_queue(struct peer_link *l, const char *channel, const char *origin,
                    int64_t from, int64_t to);
/* The receipt timer of a link: its batched have frames. */
void peer_sync_ack_cb(ev_loop *loop, ev_timer *t, void *arg);
/* True when l has a queued range of origin's messages in channel (a live
 * message then joins the queue, to keep the order). */
bool peer_sync_queued(const struct peer_link *l, const char *channel, const char *origin);
/* Every live link of c's members gets our have of c (after a join or a
 * membership change). */
void peer_sync_announce(struct peer *p, struct peer_chan *c);

/* ---- sending (peer_chat.c) ---- */

/* A message as the API shows it. */
struct peer_msg {
    char    channel[PEER_CHANNEL_MAX + 1];
    char    origin[DB_MAX_NAME + 1];
    int64_t seq, lamport, sent_at, received_at;   /* ms */
    char   *text;                       /* owned (peer_msg_clear) */
    size_t  text_len;
    char    state[12];                  /* own: pending, sent, delivered; else "" */
    char    client_id[PEER_CLIENT_ID_MAX + 1];  /* own, when the send gave one; else "" */
};
void peer_msg_clear(struct peer_msg *m);
/* Writes M (DESIGN section 9) with delivered/members for own messages. */
void peer_msg_json(struct peer *p, json_writer *w, const struct peer_msg *m);

/* Stores an own message in c and sends it on every live link of c's
 * members.  1 new (201), 0 a repeated client_id (the stored message in
 * *m, nothing sent: 200), -1 store failure. */
int peer_chat_send(struct peer *p, struct peer_chan *c, const char *text, size_t len,
                   const char *client_id, struct peer_msg *m);
/* A member's have says it holds our messages up to seq in c: delivery
 * states and events. */
void peer_chat_delivered(struct peer *p, struct peer_chan *c, const char *member,
                         int64_t seq);
/* k of "delivered to k of N": the other members known to hold our seq. */
size_t peer_chat_delivered_to(struct peer *p, const struct peer_chan *c, int64_t seq);
/* Our messages of c (or every conversation when c is NULL) not yet on any
 * link go out on the links that are live now. */
void peer_chat_mark_sent(struct peer *p, const char *channel, int64_t from, int64_t to);

/* ---- the store (peer_store.c): 0 / -1 with db_errmsg(p->db) ---- */

int peer_store_open(struct peer *p, const char *path);
void peer_store_close(struct peer *p);
/* identity: 1 found (user and token, "" when signed out), 0 none yet. */
int peer_store_identity(struct peer *p, char user[DB_MAX_NAME + 1],
                        char token[DB_TOKEN_HEX_LEN + 1]);
int peer_store_set_identity(struct peer *p, const char *user, const char *token,
                            int64_t expires_at);
int peer_store_clear_token(struct peer *p);
/* Browser sessions: add (token's hash), check 1/0, delete, delete all. */
int peer_store_session_add(struct peer *p, const char *token, int64_t expires_at);
int peer_store_session_check(struct peer *p, const char *token);
int peer_store_session_del(struct peer *p, const char *token);
int peer_store_session_del_all(struct peer *p);
/* Conversations. */
int peer_store_conv_put(struct peer *p, const char *channel, bool dm, const char *access,
                        const char *peer);
int peer_store_conv_left(struct peer *p, const char *channel);
int peer_store_conv_read(struct peer *p, const char *channel, int64_t lamport,
                         const char *origin);
/* 1 when the store has that conversation (followed or left), 0, -1. */
int peer_store_conv_exists(struct peer *p, const char *channel);
/* Unread messages of channel (others' messages after the read marker). */
int64_t peer_store_unread(struct peer *p, const char *channel);
/* Walks the conversations not left, by name: cb(channel, kind, access,
 * peer, unread, last lamport, arg). */
typedef int (*peer_conv_cb)(const char *channel, const char *kind, const char *access,
                            const char *peer, int64_t unread, int64_t last_ms, void *arg);
int peer_store_conv_list(struct peer *p, peer_conv_cb cb, void *arg);
/* Own message in c: allocates the seq and the Lamport time, stores it in
 * state ("pending", or "sent" when it is about to be written on a live
 * link) in a savepoint of the pass transaction, which is committed on
 * return.  1 stored, 0 client_id already used (*m is that message), -1. */
int peer_store_own(struct peer *p, struct peer_chan *c, const char *text, size_t len,
                   const char *client_id, const char *state, int64_t now_ms,
                   struct peer_msg *m);
/* An own message stored as sent that no link took after all: pending. */
int peer_store_unsent(struct peer *p, const char *channel, int64_t seq);
/* Received message of c, in the pass transaction: 1 stored (new), 0
 * already held, -1.  *gap_from is set to the first missing seq below it
 * (0: none).  c->vec follows. */
int peer_store_received(struct peer *p, struct peer_chan *c, const struct pf_msg *m,
                        int64_t now_ms, int64_t *gap_from);
/* One message by identity: 1 found, 0 not, -1. */
int peer_store_get(struct peer *p, const char *channel, const char *origin, int64_t seq,
                   struct peer_msg *m);
/* Messages of channel from origin with seq in from..to, at most limit,
 * ascending: cb for each; returns the count given or -1. */
typedef int (*peer_msg_cb)(const struct peer_msg *m, void *arg);
long peer_store_range(struct peer *p, const char *channel, const char *origin,
                      int64_t from, int64_t to, long limit, peer_msg_cb cb, void *arg);
/* A history page: the newest `limit` messages before (lamport, origin)
 * (lamport 0: the newest), given oldest first; *more says whether older
 * ones exist. */
long peer_store_page(struct peer *p, const char *channel, int64_t before_lamport,
                     const char *before_origin, long limit, bool *more,
                     peer_msg_cb cb, void *arg);
/* Our vector of channel (every origin), as stored (peer_chan.vec is the
 * copy in memory). */
int peer_store_vector(struct peer *p, const char *channel, struct peer_vec *v);
/* Moves our messages from..to in channel that are in an earlier state
 * ('pending' < 'sent' < 'delivered') to state (in the pass transaction),
 * calling cb(seq) for each first; returns how many moved, or -1. */
long peer_store_advance(struct peer *p, const char *channel, int64_t from, int64_t to,
                        const char *state, void (*cb)(int64_t seq, void *arg), void *arg);
/* member_have: records what member holds of our messages (in the pass
 * transaction); loads them. */
int peer_store_member_have(struct peer *p, const char *channel, const char *member,
                           int64_t seq);
int peer_store_member_load(struct peer *p, struct peer_chan *c);
/* Our pending messages in channel: from..to of the lowest and highest
 * pending seq (0 when none). */
int peer_store_pending(struct peer *p, const char *channel, int64_t *from, int64_t *to);
/* The highest Lamport time stored (the clock after a restart). */
int64_t peer_store_lamport(struct peer *p);
/* The pass transaction: the writes of received messages, receipts and
 * delivery states in one loop pass share one transaction, committed at
 * the end of the pass.  settle commits it now: before anything tells
 * another peer or the user what we hold (a have, a 201).  0, or -1 (rolled
 * back, logged). */
int peer_store_settle(struct peer *p);

/* ---- the tracker client (peer_tracker.c) ---- */

/* The answer to a tracker call: status is the HTTP status, or 0 when the
 * tracker could not be reached (err says why); body is the parsed JSON
 * answer or NULL; retry_after the seconds of a Retry-After field (0:
 * none).  Valid during the callback. */
struct peer_answer {
    int               status;
    int               err;
    const json_value *body;
    long              retry_after;
};
typedef void (*peer_call_cb)(struct peer *p, const struct peer_answer *a, void *arg);
/* The answer's "detail" (or the transport error) for messages. */
const char *peer_answer_detail(const struct peer_answer *a);
/* method target [json]: with the session token.  NULL with errno; then cb
 * never runs.  The call is the caller's to cancel until cb ran. */
struct peer_call *peer_tracker_call(struct peer *p, const char *method, const char *target,
                                    const char *json, peer_call_cb cb, void *arg);
void peer_tracker_cancel(struct peer_call *c);
/* Initialises the client's timers (before anything can stop them). */
void peer_tracker_timers(struct peer *p);
/* Parses --tracker URL (http://host[:port]): resolves it once.  0 or -1. */
int peer_tracker_init(struct peer *p, const char *url);
void peer_tracker_free(struct peer *p);
/* Signed in (new token, or one resumed from the store): registers with
 * submit-info, then heart-beats and refreshes the lists. */
void peer_tracker_online(struct peer *p);
/* Asks the tracker for the members of channel, takes them (announcing our
 * have to new ones), then calls done(p, arg), also when the call failed.
 * 0, or -1 when it cannot start (done is not called). */
int peer_tracker_members(struct peer *p, const char *channel,
                         void (*done)(struct peer *p, void *arg), void *arg);
/* Refreshes the peer list and the members of every channel now. */
void peer_tracker_refresh(struct peer *p);
/* A live link ended: the user may have gone offline.  The lists again in a
 * second, unless a refresh is due sooner.  A peer that signs out closes
 * its links once the tracker has answered its /logout, so the list is
 * then up to date; one that stops sends "stopped" as it closes them: the
 * second is its time to arrive. */
void peer_tracker_refresh_soon(struct peer *p);
/* Sign-out: "stopped", the tracker's /logout, timers off. */
void peer_tracker_signout(struct peer *p);
/* Clean exit: "stopped" (the session stays for the next start); done(p)
 * runs when the tracker answered or after PEER_STOP_MS. */
void peer_tracker_stop(struct peer *p, void (*done)(struct peer *p));
/* The tracker said the session is gone (401): sign out locally. */
void peer_tracker_lost_session(struct peer *p);

/* ---- the local API and events (peer_api.c, peer_events.c) ---- */

/* The page's Content-Security-Policy: nothing inline, nothing foreign. */
#define PEER_CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
                 "img-src 'self' data:; connect-src 'self'; object-src 'none'; " \
                 "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

int peer_api_routes(struct peer *p);
void peer_api_free(struct peer *p);
/* Signed in (a login, or a session resumed from the store): follows the
 * stored conversations, restores the Lamport clock, goes online. */
void peer_api_resume(struct peer *p);
/* A link became live or closed: answers the /connect-peer requests
 * waiting for it. */
void peer_api_link_changed(struct peer *p, const struct peer_link *l);
int peer_events_init(struct peer *p);
void peer_events_free(struct peer *p);
/* GET /events: the WebSocket upgrade (session already checked). */
void peer_events_upgrade(struct peer *p, http_txn *t);
/* Whether a tab listens (events are worth building). */
bool peer_events_listening(const struct peer *p);
void peer_event_message(struct peer *p, const struct peer_msg *m);
void peer_event_delivery(struct peer *p, const char *channel, int64_t seq,
                         const char *state, size_t delivered, size_t members);
void peer_event_presence(struct peer *p, const char *user, bool online);
void peer_event_link(struct peer *p, const char *user, const char *state);
/* {"type":"session","state":"signed-out"} and the like. */
void peer_event_session(struct peer *p, const char *state);

/* ---- the process ---- */

struct peer_config {
    const char *p2p_ip;
    int         p2p_port;
    const char *advertise_ip;     /* NULL: the tracker takes the source address */
    const char *tracker_url;
    const char *www, *static_dir;
    const char *db_path;
    char        db_default[512];  /* WR_DEFAULT_PEER_DB with the port */
};

struct peer {
    ev_loop         *loop;
    wr_app          *app;
    db              *db;
    static_ctx      *files;
    struct peer_config cfg;
    char             user[DB_MAX_NAME + 1];      /* "" until the first sign-in */
    char             token[DB_TOKEN_HEX_LEN + 1];/* tracker session, "" when signed out */
    bool             stopping;
    uint64_t         lamport;                    /* Lamport clock */
    /* tracker */
    hc_client       *hc;
    struct sockaddr_storage tracker_sa;
    socklen_t        tracker_salen;
    char             tracker_host[300];
    struct peer_call *calls;                     /* in flight */
    ev_timer         beat, refresh, stop_timer;
    unsigned         beat_ms;
    bool             registered;
    unsigned         refreshing;                 /* list calls in flight */
    uint64_t         list_gen;                   /* peer lists taken so far */
    uint64_t         member_gen;                 /* joins and leaves made here */
    uint64_t         left_gen;                   /* member_gen of the last leave */
    uint64_t         list_asked_gen;             /* member_gen when the list was asked */
    uint64_t         online_gen;                 /* list_gen when we came online */
    bool             newcomer;                   /* until a whole refresh since: dial at once */
    bool             refresh_again;              /* asked for while one ran */
    uint64_t         last_refresh_ms;
    void           (*stop_done)(struct peer *p);
    /* links */
    int              p2p_fd;
    int              p2p_port;                   /* bound (after port 0) */
    struct peer_link *links;
    size_t           nlinks, handshakes;
    bool             flush_armed;                /* links_flush() deferred this pass */
    ev_timer         links_tick;                 /* keep-alive of every live link */
    /* contacts and conversations, sorted by name */
    struct peer_contact **contacts;
    size_t           ncontacts, cap_contacts;
    struct peer_chan **chans;
    size_t           nchans, cap_chans;
    /* the store's pass transaction (peer_store_settle) */
    bool             pass_txn;                   /* open */
    bool             pass_armed;                 /* its commit is deferred to the pass end */
    /* events, and /connect-peer requests waiting for their link */
    ws_set          *events;
    bool             notify_armed;               /* delivery events deferred to the pass end */
    struct peer_wait *waits;
    /* statements (peer_store.c) */
    struct peer_stmts *q;
    /* counters (logs, tests) */
    uint64_t         msgs_received, msgs_dropped, links_refused;
};

/* Unix ms now (the loop's wall clock with the monotonic ms part). */
int64_t peer_now_ms(struct peer *p);
/* The user is signed in (has a tracker session). */
bool peer_signed_in(const struct peer *p);

extern const struct db_schema peer_schema;

#endif
