/*
 * test_peer_link.c - the link's transition table (src/peer/peer_link_states.c):
 * every (state, event, side) pair against the expected next state, the
 * frames each state accepts, and a timeout for every state that waits.
 */
#include "config.h"

#include <string.h>

#include "peer/peer.h"
#include "tap.h"

/* The progress edges of the protocol: everything else is a failure. */
static const struct { enum peer_link_state from; enum peer_link_event ev; int dialer;
                      enum peer_link_state to; } edges[] = {
    { LINK_TICKET, LEV_TICKET, 1, LINK_CONNECTING },
    { LINK_CONNECTING, LEV_CONNECTED, 1, LINK_HELLO_SENT },
    { LINK_HELLO_SENT, LEV_WELCOME, 1, LINK_VERIFYING },
    { LINK_VERIFYING, LEV_VERIFIED, 1, LINK_LIVE },
    { LINK_AWAIT_HELLO, LEV_HELLO, 0, LINK_VERIFYING },
    { LINK_VERIFYING, LEV_VERIFIED, 0, LINK_LIVE },
};

static enum peer_link_state expected(enum peer_link_state s, enum peer_link_event e, int dialer)
{
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        if (edges[i].from == s && edges[i].ev == e && edges[i].dialer == dialer)
            return edges[i].to;
    if (s == LINK_CLOSED)
        return LINK_CLOSED;
    if (s == LINK_CLOSING)
        return e == LEV_FLUSHED || e == LEV_TIMEOUT || e == LEV_REMOTE_CLOSE
            ? LINK_CLOSED : LINK_CLOSING;
    if (e == LEV_REMOTE_CLOSE || s == LINK_TICKET || s == LINK_CONNECTING)
        return LINK_CLOSED;     /* no socket, or nobody to say goodbye to */
    return LINK_CLOSING;        /* an error frame or a bye goes out first */
}

static void test_table(void)
{
    int wrong = 0, pairs = 0;
    for (int s = 0; s < LINK__COUNT; s++)
        for (int e = 0; e < LEV__COUNT; e++)
            for (int d = 0; d <= 1; d++) {
                enum peer_link_state got = peer_link_next(s, e, d), want = expected(s, e, d);
                pairs++;
                if (got != want) {
                    wrong++;
                    diag("%s + event %d (%s): got %s, want %s", peer_link_state_name(s), e,
                         d ? "dialer" : "acceptor", peer_link_state_name(got),
                         peer_link_state_name(want));
                }
            }
    ok(wrong == 0, "all %d (state, event, side) pairs as specified", pairs);

    /* the two happy paths, walked */
    enum peer_link_state s = LINK_TICKET;
    enum peer_link_event dial[] = { LEV_TICKET, LEV_CONNECTED, LEV_WELCOME, LEV_VERIFIED };
    for (size_t i = 0; i < 4; i++)
        s = peer_link_next(s, dial[i], true);
    is_str(peer_link_state_name(s), "live", "dialer: ticket, connect, welcome, verified -> live");
    s = LINK_AWAIT_HELLO;
    s = peer_link_next(s, LEV_HELLO, false);
    s = peer_link_next(s, LEV_VERIFIED, false);
    is_str(peer_link_state_name(s), "live", "acceptor: hello, verified -> live");
    is_str(peer_link_state_name(peer_link_next(LINK_AWAIT_HELLO, LEV_WELCOME, false)), "closing",
           "a welcome sent to an acceptor is a protocol failure");
    is_str(peer_link_state_name(peer_link_next(LINK_HELLO_SENT, LEV_HELLO, true)), "closing",
           "a hello sent back to a dialer is a protocol failure");
    is_str(peer_link_state_name(peer_link_next(LINK_LIVE, LEV_HELLO, true)), "closing",
           "a second hello on a live link ends it");
    is_str(peer_link_state_name(peer_link_next(LINK_VERIFYING, LEV_REFUSED, false)), "closing",
           "refused by the tracker: an error frame, then closed");
    is_str(peer_link_state_name(peer_link_next(LINK_CONNECTING, LEV_TIMEOUT, true)), "closed",
           "connect timeout: closed at once (no socket to flush)");
}

static void test_accepts(void)
{
    static const struct { enum peer_link_state s; int dialer; const char *frames; } allow[] = {
        { LINK_AWAIT_HELLO, 0, "hello error bye" },
        { LINK_HELLO_SENT, 1, "welcome error bye" },
        { LINK_LIVE, 0, "error have want msg ping pong bye" },
        { LINK_LIVE, 1, "error have want msg ping pong bye" },
    };
    int wrong = 0;
    for (int s = 0; s < LINK__COUNT; s++)
        for (int d = 0; d <= 1; d++)
            for (int t = 0; t < PF__COUNT; t++) {
                const char *frames = "";
                for (size_t i = 0; i < sizeof(allow) / sizeof(allow[0]); i++)
                    if (allow[i].s == (enum peer_link_state)s && allow[i].dialer == d)
                        frames = allow[i].frames;
                /* the error and bye frames of the other role's handshake state */
                if ((s == LINK_AWAIT_HELLO || s == LINK_HELLO_SENT) && !*frames)
                    frames = "error bye";
                char word[16];
                snprintf(word, sizeof(word), "%s", peer_frame_type_name(t));
                const char *hit = strstr(frames, word);
                bool want = hit && (hit == frames || hit[-1] == ' ')
                            && (hit[strlen(word)] == ' ' || hit[strlen(word)] == '\0');
                if (peer_link_accepts(s, t, d) != want) {
                    wrong++;
                    diag("%s (%s) accepting %s: got %d", peer_link_state_name(s),
                         d ? "dialer" : "acceptor", word, !want);
                }
            }
    ok(wrong == 0, "frames accepted per state and side (verifying, closing, closed: none)");
}

static void test_timeouts(void)
{
    for (int s = 0; s < LINK__COUNT; s++) {
        unsigned ms = peer_link_timeout(s);
        if (s == LINK_CLOSED)
            is_int(ms, 0, "closed: no timer");
        else
            ok(ms > 0 && ms <= PEER_HANDSHAKE_MS, "%s: a timeout (%u ms)", peer_link_state_name(s), ms);
    }
    is_int(peer_link_timeout(LINK_AWAIT_HELLO), 10000, "the first frame within 10 s");
}

int main(void)
{
    test_table();
    test_accepts();
    test_timeouts();
    return done_testing();
}
