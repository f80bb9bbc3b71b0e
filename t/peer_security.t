#!/usr/bin/env python3
"""Hostile input on the P2P port of a real peer: malformed frames get the
right `error` and a close; a link the tracker does not vouch for is
refused (random ticket, a ticket for another peer, a name that is not the
ticket's); a vouched link cannot inject into a channel its user is not a
member of, nor post a direct message in another user's name; a flood of
idle and garbage connections neither stops the peer from serving its user
nor grows its memory; idle handshakes time out."""

import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403
from peer_helpers import Stack, P2P, frame, http_json, tracker_ticket  # noqa: E402

seed = int(os.environ.get('WR_SEED', str(int(time.time()))))
diag('seed %d (WR_SEED=%d replays it)' % (seed, seed))
rnd = random.Random(seed)

stack = Stack(['alice', 'bob', 'mallory'])
a, b = stack.peer('alice'), stack.peer('bob')
for p in (a, b):
    p.join('general')
st, _ = a.api('POST', '/channels', {'name': 'team', 'access': 'private'})
is_(st, 201, 'alice creates the private channel team')
a.api('POST', '/channels/team/invite', {'user': 'bob'})
st, _ = b.join('team')
is_(st, 200, 'bob joins team on invitation')
ok(wait_until(lambda: a.link('bob') == 'live', 15), 'alice and bob are linked')
TICKET = '0123456789abcdef' * 4


def refused(conn, code, what):
    f = conn.recv(5)
    got = f and f.get('t') == 'error' and f.get('code') == code
    ok(got and conn.closed(5), '%s: error %s, then closed (got %r)' % (what, code, f))
    conn.close()


# --- malformed frames ----------------------------------------------------------
for raw_bytes, code, what in (
        (b'\0\0\0\0', 'frame-length', 'length 0'),
        (b'\xff\xff\xff\xff', 'frame-length', 'length 0xFFFFFFFF'),
        (struct.pack('>I', 65537), 'frame-length', 'length 65537'),
        (frame(payload=b'not json'), 'bad-json', 'not JSON'),
        (frame(payload=b'[1,2]'), 'not-object', 'a JSON array'),
        (frame({'t': 'shout'}), 'unknown-type', 'an unknown type'),
        (frame({'t': 'msg', 'channel': 'general'}), 'unexpected-frame', 'msg before hello'),
        (frame({'t': 'welcome', 'v': 1, 'user': 'bob', 'ticket': TICKET}),
         'unexpected-frame', 'a welcome sent to the acceptor'),
        (frame({'t': 'hello', 'v': 2, 'user': 'bob', 'ticket': TICKET}), 'version',
         'protocol version 2'),
        (frame({'t': 'hello', 'v': 1, 'user': 'no spaces', 'ticket': TICKET}), 'bad-frame',
         'a hello with a bad user name')):
    conn = P2P(a.p2p)
    conn.send(raw=raw_bytes)
    refused(conn, code, what)

# the same bytes one at a time: the same answer
conn = P2P(a.p2p)
for ch in frame(payload=b'{"t":"nope"}'):
    conn.send(raw=bytes([ch]))
refused(conn, 'unknown-type', 'an unknown type sent byte by byte')

# --- links the tracker does not vouch for -----------------------------------------
conn = P2P(a.p2p)
conn.send({'t': 'hello', 'v': 1, 'user': 'bob', 'ticket': TICKET})
refused(conn, 'not-vouched', 'a random ticket')

mtoken, t_bob = tracker_ticket(stack.tracker.port, 'mallory', 'bob')
# mallory must be online for tickets to be issued and verified
listener = socket.socket()
listener.bind(('127.0.0.1', 0))
listener.listen(8)
st, _, _ = http_json(stack.tracker.port, 'POST', '/submit-info',
                     {'port': listener.getsockname()[1]}, mtoken)
is_(st, 200, 'mallory registers a P2P address of her own')
_, t_bob = tracker_ticket(stack.tracker.port, 'mallory', 'bob')
conn = P2P(a.p2p)
conn.send({'t': 'hello', 'v': 1, 'user': 'mallory', 'ticket': t_bob['ticket']})
refused(conn, 'not-vouched', "mallory's ticket for bob, shown to alice")
_, t_alice = tracker_ticket(stack.tracker.port, 'mallory', 'alice')
conn = P2P(a.p2p)
conn.send({'t': 'hello', 'v': 1, 'user': 'bob', 'ticket': t_alice['ticket']})
refused(conn, 'not-vouched', "mallory's ticket for alice, with bob's name")
conn = P2P(a.p2p)
conn.send({'t': 'hello', 'v': 1, 'user': 'mallory', 'ticket': t_alice['ticket']})
refused(conn, 'not-vouched', 'a ticket used a second time')
ok(a.srv.alive() and a.me().get('user') == 'alice', 'alice still serves her user')


# --- a vouched link cannot inject ------------------------------------------------
def vouched_link():
    _, t = tracker_ticket(stack.tracker.port, 'mallory', 'alice')
    c = P2P(a.p2p)
    c.send({'t': 'hello', 'v': 1, 'user': 'mallory', 'ticket': t['ticket']})
    w = c.recv(10)
    ok(w and w.get('t') == 'welcome' and w.get('user') == 'alice' and len(w.get('ticket', '')) == 64,
       'a ticketed hello gets a welcome with alice\'s own ticket (got %r)' % w)
    return c


# mallory is online but in no channel of alice's: the direct conversation only
http_json(stack.tracker.port, 'POST', '/heartbeat', {}, mtoken)
conn = vouched_link()
t0 = int(time.time() * 1000)


def msg(channel, origin, seq, text, lamport=1000):
    return {'t': 'msg', 'channel': channel, 'origin': origin, 'seq': seq,
            'lamport': lamport, 'sent_at': t0, 'text': text}


conn.send(msg('team', 'bob', 99, 'forged into team'))
conn.send(msg('general', 'mallory', 1, 'mallory is not in general'))
conn.send(msg('dm:alice:bob', 'bob', 50, 'forged dm from bob'))
conn.send(msg('dm:alice:mallory', 'bob', 1, "bob's name on mallory's link"))
conn.send(msg('dm:bob:mallory', 'mallory', 1, 'not alice\'s conversation'))
conn.send(msg('dm:alice:mallory', 'mallory', 1, 'a real dm from mallory'))
seen = a.wait_texts('@mallory', ['a real dm from mallory'])
ok('a real dm from mallory' in seen, "mallory's own direct message is accepted (control)")
is_(a.texts('team'), [], 'nothing injected into team')
ok('mallory is not in general' not in a.texts('general'), 'a non-member cannot post in general')
ok('forged dm from bob' not in a.texts('@bob'), "nobody posts in bob's name to alice")
is_(a.texts('@mallory'), ['a real dm from mallory'],
    "the dm with mallory holds only mallory's own message")
st, doc = a.api('GET', '/channels/dm:bob:mallory/messages')
is_(st, 404, "alice keeps nothing of bob and mallory's conversation")
ok(wait_until(lambda: 'forged into team' not in b.texts('team'), 1), 'bob has nothing forged either')

# a member can post in general
st, _, _ = http_json(stack.tracker.port, 'POST', '/add-list', {'channel': 'general'}, mtoken)
ok(st in (200, 201), 'mallory joins general on the tracker')
# Alice does not know yet: the message is dropped, she asks the tracker for
# the members, and her have for general tells the new member what she
# lacks; a peer then sends it again, as we do.
conn.send(msg('general', 'mallory', 1, 'hello from a raw client', lamport=5000))
have = None
for _ in range(50):
    f = conn.recv(10)
    if f is None or (f.get('t') == 'have' and f.get('channel') == 'general'):
        have = f
        break
ok(have and have['vector'].get('mallory', 0) == 0,
   "alice announces her have of general to the new member (got %r)" % have)
conn.send(msg('general', 'mallory', 1, 'hello from a raw client', lamport=5000))
seen = a.wait_texts('general', ['hello from a raw client'])
ok('hello from a raw client' in seen, "once a member, mallory's message is accepted")
conn.send(msg('general', 'mallory', 1, 'the same seq again, other text', lamport=5001))
conn.send({'t': 'ping'})
ok(conn.recv(5) is not None, 'the link is still up')
time.sleep(0)
ok('the same seq again, other text' not in a.texts('general'),
   'a second message with the same (channel, origin, seq) is not stored')

# a text over the cap ends the link
conn.send(msg('general', 'mallory', 2, 'x' * 4001))
f = None
for _ in range(20):
    f = conn.recv(5)
    if f is None or f.get('t') == 'error':
        break
ok(f and f.get('code') == 'bad-frame' and conn.closed(5), 'a 4001-byte text: bad-frame, closed')
conn.close()

# --- floods -------------------------------------------------------------------
rss0 = rss_kib(a.srv.pid)
idle = [socket.create_connection(('127.0.0.1', a.p2p)) for _ in range(80)]


def closed_now(s):
    """Reads what is there; True once the other side closed."""
    s.setblocking(False)
    try:
        while True:
            if s.recv(65536) == b'':
                return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


dropped = wait_until(lambda: sum(closed_now(s) for s in idle) >= 16, 5)
ok(dropped, 'beyond 64 pending handshakes, new connections are closed at once')
st, doc = a.api('GET', '/me')
is_(st, 200, 'alice answers her user during the idle flood')
st, m = b.say('general', 'through the flood')
a.wait_texts('general', ['through the flood'])
ok('through the flood' in a.texts('general'), 'messages still flow during the flood')
garbage = []
for i in range(50):
    s = socket.create_connection(('127.0.0.1', a.p2p))
    s.sendall(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 2000))))
    garbage.append(s)
ok(wait_until(lambda: all(closed_now(s) or True for s in garbage), 5), 'garbage sent')
t_start = time.monotonic()
ok(wait_until(lambda: all(closed_now(s) for s in idle), 15),
   'idle handshakes are closed after the 10 s hello timeout')
diag('idle connections closed %.1f s after the check began' % (time.monotonic() - t_start))
for s in idle + garbage:
    s.close()
rss1 = rss_kib(a.srv.pid)
ok(rss1 - rss0 < 20000, 'RSS grew by less than 20 MB under the floods (%d -> %d KiB)'
   % (rss0, rss1))
st, doc = a.api('GET', '/channels')
is_(st, 200, 'alice still serves after the floods')
listener.close()
for p in (a, b):
    is_(p.stop(), 0, '%s stops cleanly' % p.user)
done_testing()
