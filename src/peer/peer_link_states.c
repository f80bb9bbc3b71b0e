/*
 * peer_link_states.c - the states of a P2P link, without I/O: the
 * transition table (state x event -> next state), the frames each state
 * accepts and each state's timeout.  peer_link.c runs it; the unit test
 * walks every pair.
 */
#include "config.h"

#include "peer.h"

static const char *const state_names[LINK__COUNT] = {
    [LINK_TICKET] = "ticket", [LINK_CONNECTING] = "connecting",
    [LINK_HELLO_SENT] = "hello-sent", [LINK_AWAIT_HELLO] = "await-hello",
    [LINK_VERIFYING] = "verifying", [LINK_LIVE] = "live",
    [LINK_CLOSING] = "closing", [LINK_CLOSED] = "closed",
};

const char *peer_link_state_name(enum peer_link_state s)
{
    return (unsigned)s < LINK__COUNT ? state_names[s] : "?";
}

/* ---- the transition table ---- */

enum peer_link_state peer_link_next(enum peer_link_state s, enum peer_link_event e,
                                    bool dialer)
{
    /* Without a socket there is nothing to flush: failures end at once. */
    bool has_socket = s != LINK_TICKET && s != LINK_CONNECTING;
    enum peer_link_state fail = has_socket ? LINK_CLOSING : LINK_CLOSED;

    if (s == LINK_CLOSED)
        return LINK_CLOSED;
    if (s == LINK_CLOSING)
        return (e == LEV_FLUSHED || e == LEV_TIMEOUT || e == LEV_REMOTE_CLOSE)
            ? LINK_CLOSED : LINK_CLOSING;
    if (e == LEV_REMOTE_CLOSE)
        return LINK_CLOSED;      /* nobody to say goodbye to */
    switch (s) {
    case LINK_TICKET:
        return e == LEV_TICKET && dialer ? LINK_CONNECTING : fail;
    case LINK_CONNECTING:
        return e == LEV_CONNECTED && dialer ? LINK_HELLO_SENT : fail;
    case LINK_HELLO_SENT:
        return e == LEV_WELCOME && dialer ? LINK_VERIFYING : fail;
    case LINK_AWAIT_HELLO:
        return e == LEV_HELLO && !dialer ? LINK_VERIFYING : fail;
    case LINK_VERIFYING:
        return e == LEV_VERIFIED ? LINK_LIVE : fail;
    case LINK_LIVE:
        return fail;             /* every event that reaches a live link ends it */
    default:
        return fail;
    }
}

bool peer_link_accepts(enum peer_link_state s, enum peer_frame_type t, bool dialer)
{
    if (t == PF_ERROR || t == PF_BYE)
        return s == LINK_HELLO_SENT || s == LINK_AWAIT_HELLO || s == LINK_LIVE;
    switch (s) {
    case LINK_AWAIT_HELLO: return !dialer && t == PF_HELLO;
    case LINK_HELLO_SENT:  return dialer && t == PF_WELCOME;
    case LINK_LIVE:        return t == PF_HAVE || t == PF_WANT || t == PF_MSG
                                  || t == PF_PING || t == PF_PONG;
    default:               return false;
    }
}

unsigned peer_link_timeout(enum peer_link_state s)
{
    switch (s) {
    case LINK_CONNECTING: return PEER_CONNECT_MS;
    case LINK_TICKET:
    case LINK_HELLO_SENT:
    case LINK_AWAIT_HELLO:
    case LINK_VERIFYING:  return PEER_HANDSHAKE_MS;
    case LINK_LIVE:       return PEER_LIVE_TICK_MS;
    case LINK_CLOSING:    return PEER_CLOSE_MS;
    default:              return 0;
    }
}
