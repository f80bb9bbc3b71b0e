#!/usr/bin/env python3
"""Convergence under churn, with real processes: five peers in one channel
and three direct conversations.  A sender thread keeps sending (broadcasts
and direct messages, from whichever peers are up) while peers are stopped
at random, with TERM or KILL, one or two at a time, and started again.
After the last restart, within a few seconds, every member of each
conversation holds every message that was answered 201 exactly once, each
origin's seqs are contiguous from 1, and every member shows the same order
(the same list of ids).

Seeded: the seed is printed; WR_SEED=N replays the same choices (victims,
signals, how long each stays down, who sends where).  The interleaving of
the two threads is the machine's.  WR_CONVERGE_ROUNDS sets the number of
stop/start rounds (default 8)."""

import http.client
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403
from peer_helpers import Stack  # noqa: E402

USERS = ('ann', 'ben', 'cat', 'dan', 'eve')
DMS = (('ann', 'ben'), ('cat', 'eve'), ('ben', 'dan'))
ROUNDS = int(os.environ.get('WR_CONVERGE_ROUNDS', '8'))
CONVERGE_S = 10        # bound on the wait after the last restart (sanitizer builds)
ROUND_S = 20           # bound on each phase of a round
SEND_PACE_S = 0.01     # between two sends: ~60 messages/s, not a flood

seed = int(os.environ.get('WR_SEED', str(int(time.time() * 1000) % 1000000)))
diag('seed %d (WR_SEED=%d replays it)' % (seed, seed))
rnd = random.Random(seed)

# conversation -> its members; a member reads a dm under /dm/OTHER
CONVS = {'general': USERS}
CONVS.update(('dm:%s:%s' % pair, pair) for pair in DMS)


def view(conv, user):
    if conv == 'general':
        return conv
    a, b = CONVS[conv]
    return '@' + (b if user == a else a)


stack = Stack(USERS)
peers = {u: stack.peer(u) for u in USERS}
for p in peers.values():
    st, doc = p.join('general')
    if st not in (200, 201):
        diag('%s joins general: %d %s' % (p.user, st, doc))


def mesh():
    return all(peers[u].link(v) == 'live' for u in USERS for v in USERS if u != v)


ok(wait_until(mesh, 30, 0.1), 'the five peers are linked with each other')


class Sender(threading.Thread):
    """Sends from a random peer that is up to a random conversation of
    it; remembers every message answered 201."""

    def __init__(self, seed):
        super().__init__(daemon=True)
        self.rnd = random.Random(seed + 1)
        self.lock = threading.Lock()
        self.up = set(USERS)
        self.halt = threading.Event()
        self.acked = {c: [] for c in CONVS}     # conversation -> ids
        self.tries = 0
        self.answered = 0
        self.refused = {}                       # status or error -> count

    def run(self):
        n = 0
        while not self.halt.is_set():
            with self.lock:
                up = sorted(self.up)
            if up:
                n += 1
                self.send_one(self.rnd.choice(up), n)
            self.halt.wait(SEND_PACE_S)

    def send_one(self, user, n):
        convs = [c for c in CONVS if user in CONVS[c]]
        conv = 'general' if self.rnd.random() < 0.7 else self.rnd.choice(convs)
        text = '%s #%d to %s' % (user, n, conv)
        p = peers[user]
        try:
            if conv == 'general':
                st, m = p.say('general', text)
            else:
                st, m = p.dm(view(conv, user)[1:], text)
        except (OSError, http.client.HTTPException) as e:
            st, m = type(e).__name__, None
        with self.lock:
            self.tries += 1
            if st == 201:
                self.answered += 1
                self.acked[conv].append(m['id'])
            else:
                self.refused[st] = self.refused.get(st, 0) + 1

    def wait_sends(self, k):
        """Until k more sends were tried (the phase lasts that long)."""
        with self.lock:
            goal = self.tries + k
        return wait_until(lambda: self.tries >= goal, ROUND_S, 0.02)

    def set_up(self, user, up):
        with self.lock:
            (self.up.add if up else self.up.discard)(user)


sender = Sender(seed)
sender.start()
stops = []     # (user, signal, exit code)
for r in range(ROUNDS):
    victims = rnd.sample(USERS, rnd.choice((1, 1, 2)))
    sigs = [rnd.choice((15, 9)) for _ in victims]
    up_for, down_for = rnd.randint(10, 40), rnd.randint(20, 80)
    diag('round %d: %d sends with everyone up, then %s down for %d sends'
         % (r + 1, up_for, ', '.join('%s (%s)' % (v, 'KILL' if s == 9 else 'TERM')
                                     for v, s in zip(victims, sigs)), down_for))
    sender.wait_sends(up_for)
    for v, s in zip(victims, sigs):
        # still a target while it dies: a send racing the signal is either
        # refused or answered 201, and then it must survive
        stops.append((v, s, peers[v].stop(s)))
        sender.set_up(v, False)
    sender.wait_sends(down_for)
    for v in victims:
        peers[v].start()
        sender.set_up(v, True)
# the clock runs from the last restart: no quiet time before the check
t_last = time.monotonic()
sender.halt.set()
sender.join(10)
ok(not sender.is_alive(), 'the sender stopped')
diag('%d sends, %d answered 201, refused: %r' % (sender.tries, sender.answered, sender.refused))
ok(sender.answered >= ROUNDS * 10, 'at least %d messages were answered 201 (%d)'
   % (ROUNDS * 10, sender.answered))
bad_stops = [(v, s, rc) for v, s, rc in stops if rc != (0 if s == 15 else -9)]
is_(bad_stops, [], 'every TERM exits 0 and every KILL is a kill')


def snapshot():
    """conversation -> member -> its history (None: not answered)."""
    return {c: {u: peers[u].history_all(view(c, u)) for u in CONVS[c]} for c in CONVS}


def converged(snap):
    for c, hist in snap.items():
        lists = [None if h is None else [m['id'] for m in h] for h in hist.values()]
        if None in lists or any(x != lists[0] for x in lists):
            return False
        if len(set(lists[0])) != len(lists[0]) or not set(sender.acked[c]) <= set(lists[0]):
            return False
    return True


snap = {}


def poll():
    snap.update(snapshot())
    return converged(snap)


done = wait_until(poll, CONVERGE_S, 0.1)
took = time.monotonic() - t_last
ok(done, 'every member converged within %d s of the last restart (%.1f s)' % (CONVERGE_S, took))


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


for c, hist in sorted(snap.items()):
    ref_user = CONVS[c][0]
    ref = [m['id'] for m in hist[ref_user] or []]
    for u, h in sorted(hist.items()):
        if h is None:
            ok(False, '%s answers its history of %s' % (u, c))
            continue
        ids = [m['id'] for m in h]
        missing = [i for i in sender.acked[c] if i not in set(ids)]
        ok(not missing, '%s holds every answered message of %s (%d)'
           % (u, c, len(sender.acked[c])))
        if missing:
            diag('missing %d: %r' % (len(missing), missing[:20]))
        dups = sorted({i for i in ids if ids.count(i) > 1})
        is_(dups, [], '%s holds each message of %s once' % (u, c))
        gaps = []
        for o in CONVS[c]:
            seqs = [m['seq'] for m in h if m['origin'] == o]
            if seqs != list(range(1, len(seqs) + 1)):
                gaps.append((o, [s for s in range(1, max(seqs) + 1) if s not in seqs][:10]))
        is_(gaps, [], "%s: each origin's seqs in %s are contiguous from 1" % (u, c))
        keys = [(m['lamport'], m['origin']) for m in h]
        ok(keys == sorted(keys), '%s shows %s in (lamport, origin) order' % (u, c))
        if u != ref_user and not ok(ids == ref, '%s shows %s in the same order as %s'
                                    % (u, c, ref_user)):
            i = first_diff(ids, ref)
            diag('%d vs %d messages; first difference at %d: %r vs %r'
                 % (len(ids), len(ref), i, ids[i:i + 3], ref[i:i + 3]))

for u in USERS:
    is_(peers[u].stop(), 0, '%s stops cleanly' % u)
done_testing()
