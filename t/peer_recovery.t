#!/usr/bin/env python3
"""Peers that stop, crash and come back, with real processes: a stopped
peer catches up after a restart, also when the author is gone (from
another member); kill -9 loses nothing that was answered 201 or that
arrived and was stored, and the restart shows the same history; a peer
restarted with its database resumes its tracker session without a new
sign-in; a restarted tracker gets every peer back (re-registration), and
links and messages go on."""

import os
import sys

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403
from peer_helpers import Stack, Events  # noqa: E402

stack = Stack(['alice', 'bob', 'carol'])
a, b, c = (stack.peer(u) for u in ('alice', 'bob', 'carol'))
for p in (a, b, c):
    p.join('general')


def live(p, q):
    return p.link(q.user) == 'live' and q.link(p.user) == 'live'


ok(wait_until(lambda: live(a, b) and live(a, c) and live(b, c), 15), 'all three linked')

# --- catch-up after a restart, the author gone ---------------------------------
is_(c.stop(), 0, 'carol stops (TERM): exit 0')
ok(wait_until(lambda: a.link('carol') == 'none', 10), 'alice sees carol gone')
texts = ['while carol was away %d' % i for i in range(20)]
for t in texts:
    st, _ = a.say('general', t)
    if st != 201:
        diag('send: %d' % st)
seen = b.wait_texts('general', texts)
ok(all(t in seen for t in texts), 'bob has the 20 messages')
is_(a.stop(), 0, 'alice, their author, stops')
c.start()
st, doc = c.api('GET', '/me')
is_((st, doc and doc['user']), (200, 'carol'),
    'carol resumes her session after a restart (same browser token, no sign-in)')
seen = c.wait_texts('general', texts, 15)
ok(all(t in seen for t in texts), 'carol caught up the 20 messages from bob, alice being gone')
if not all(t in seen for t in texts):
    diag('carol has %d of them' % sum(t in seen for t in texts))
seqs = [m['seq'] for m in c.history('general') if m['origin'] == 'alice']
is_(seqs, list(range(1, len(seqs) + 1)), "alice's seqs contiguous on carol")
a.start()
ok(wait_until(lambda: live(a, b) and live(a, c), 15), 'alice back: linked with both')
ok(wait_until(lambda: all(m['state'] == 'delivered' and m['delivered'] == 2
                          for m in a.history('general') if m['origin'] == 'alice'), 10),
   "alice's messages are delivered to 2 of 2 (carol's receipts reached her)")

# --- kill -9 loses nothing acknowledged --------------------------------------------
answered = []
for i in range(30):
    st, m = b.say('general', 'bob before the crash %d' % i)
    if st == 201:
        answered.append(m['text'])
is_(len(answered), 30, '30 sends answered 201')
before = [m['id'] for m in b.history('general')]
is_(b.kill(), -9, 'bob killed with SIGKILL right after')
b.start()
after = [m['id'] for m in b.history('general')]
is_(after[:len(before)], before, 'after the restart bob shows the same history')
ok(all(t in b.texts('general') for t in answered), 'every answered message survived kill -9')
for p in (a, c):
    seen = p.wait_texts('general', answered, 15)
    ok(all(t in seen for t in answered), '%s holds all 30 of them' % p.user)

# received messages survive a kill of the receiver too
texts = ['to carol before her crash %d' % i for i in range(10)]
for t in texts:
    a.say('general', t)
seen = c.wait_texts('general', texts)
ok(all(t in seen for t in texts), 'carol stored the 10 messages')
held = [m['id'] for m in c.history('general')]
is_(c.kill(), -9, 'carol killed')
c.start()
is_([m['id'] for m in c.history('general')][:len(held)], held,
    'what carol had stored is still there after kill -9')

# --- the tracker restarts ---------------------------------------------------------
ok(wait_until(lambda: live(a, b) and live(a, c) and live(b, c), 15),
   'all three linked again before the tracker goes')
is_(stack.tracker.stop(), 0, 'the tracker stops')
st, m = a.say('general', 'while the tracker is down')
is_(st, 201, 'live links need no tracker: a message still goes out')
seen = b.wait_texts('general', ['while the tracker is down'])
ok('while the tracker is down' in seen, 'and arrives')
stack.start_tracker()


def listed_online():
    st, doc = a.api('GET', '/get-list')
    if st != 200:
        return []
    return sorted(p['user'] for p in doc['peers'] if p['online'])


ok(wait_until(lambda: listed_online() == ['alice', 'bob', 'carol'], 15),
   'every peer is back on the restarted tracker (got %r)' % listed_online())
c.stop()
ok(wait_until(lambda: a.link('carol') == 'none', 10), 'carol stops again')
a.say('general', 'after the tracker restart')
c.start()
seen = c.wait_texts('general', ['after the tracker restart'], 15)
ok('after the tracker restart' in seen, 'a new link (new tickets) after the tracker restart')

ev = Events(b.port, b.token)
a.say('general', 'pushed after all that')
e, _ = ev.wait(lambda e: e.get('type') == 'message' and e['message']['text'] == 'pushed after all that')
ok(e is not None, "bob's /events still pushes")
ev.close()
for p in (a, b, c):
    is_(p.stop(), 0, '%s stops cleanly' % p.user)
done_testing()
