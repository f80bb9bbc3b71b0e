#!/usr/bin/env python3
"""The chat peer with real processes: a tracker and three peers on free
ports.  Broadcast reaches every member exactly once and in the same order;
direct messages reach only the addressee; a repeated client_id sends
nothing twice; a direct message to an offline user waits and is delivered
when both are online; /events pushes messages and delivery states; the
tracker never sees a message's text; sign-out closes the links."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403
from peer_helpers import Stack, Events, http_json  # noqa: E402

require('sqlite3')

stack = Stack(['alice', 'bob', 'carol'])
a, b, c = (stack.peer(u) for u in ('alice', 'bob', 'carol'))
for p in (a, b, c):
    st, doc = p.join('general')
    ok(st in (200, 201), '%s joins general (%d %s)' % (p.user, st, doc))


def linked(p, q):
    return p.link(q.user) == 'live'


for p, q in ((a, b), (a, c), (b, c)):
    ok(wait_until(lambda: linked(p, q) and linked(q, p), 15),
       '%s and %s are linked (both sides say live)' % (p.user, q.user))

# --- broadcast: every member, once, same order -----------------------------
ev = Events(b.port, b.token)
mine = Events(a.port, a.token)
sent = []
for i in range(5):
    for p in (a, b, c):
        text = '%s says %d' % (p.user, i)
        st, m = p.say('general', text)
        if st != 201:
            diag('broadcast by %s: %d %s' % (p.user, st, m))
        sent.append(text)
ok(all(t for t in sent), '15 broadcasts answered')
for p in (a, b, c):
    seen = p.wait_texts('general', sent, 10)
    ok(all(t in seen for t in sent), '%s holds all 15 messages' % p.user)
    is_(len(seen), len(set(seen)), '%s holds each exactly once' % p.user)
orders = [[m['id'] for m in p.history('general')] for p in (a, b, c)]
ok(orders[0] == orders[1] == orders[2], 'the same order on every member')
if orders[0] != orders[1] or orders[0] != orders[2]:
    diag('orders: %r' % orders)
keys = [(m['lamport'], m['origin']) for m in a.history('general')]
is_(keys, sorted(keys), 'history is ordered by (lamport, origin)')
for u in ('alice', 'bob', 'carol'):
    seqs = [m['seq'] for m in b.history('general') if m['origin'] == u]
    is_(seqs, list(range(1, len(seqs) + 1)), "%s's seqs are contiguous from 1 on bob" % u)

e, seen = ev.wait(lambda e: e.get('type') == 'message'
                  and e['message']['text'] == 'alice says 4', 10)
ok(e is not None, "bob's /events pushed alice's message")
ok(e and e['message']['state'] is None and e['message']['origin'] == 'alice',
   'a pushed message of another author has no state')
e, seen = mine.wait(lambda e: e.get('type') == 'delivery' and e['id'] == 'alice:5@general'
                    and e['delivered'] == 2, 10)
ok(e is not None, "alice's /events: alice:5@general delivered to 2 of 2")
if not e:
    diag('events seen: %r' % seen[-10:])
own = [m for m in a.history('general') if m['origin'] == 'alice']
ok(own and all(m['state'] == 'delivered' and m['delivered'] == 2 and m['members'] == 2
               for m in own), "alice's history: her 5 messages delivered to 2 of 2")
others = [m for m in a.history('general') if m['origin'] != 'alice']
ok(others and all(m['state'] is None for m in others), "others' messages have no state")

# --- idempotent retries -----------------------------------------------------
st1, m1 = a.say('general', 'only once', client_id='retry-1')
st2, m2 = a.say('general', 'only once', client_id='retry-1')
is_((st1, st2), (201, 200), 'a repeated client_id: 201 then 200')
is_(m2 and m2['id'], m1 and m1['id'], 'the same message both times')
b.wait_texts('general', ['only once'])
wait_until(lambda: c.texts('general').count('only once') == 1, 5)
is_(b.texts('general').count('only once'), 1, 'bob holds the retried message once')
is_((m1 or {}).get('client_id'), 'retry-1', "the 201 carries the send's client_id back")
own_copy = [m for m in a.history('general') if m['text'] == 'only once']
is_([m.get('client_id') for m in own_copy], ['retry-1'], "alice's history carries it too")
theirs = [m for m in b.history('general') if m['text'] == 'only once']
ok(theirs and 'client_id' not in theirs[0], "it never leaves alice's peer: bob's copy has none")

# --- direct messages ------------------------------------------------------
st, m = a.dm('bob', 'psst, bob')
is_(st, 201, 'alice -> bob direct message')
is_(m and m['channel'], 'dm:alice:bob', 'its conversation is dm:alice:bob')
seen = b.wait_texts('@alice', ['psst, bob'])
ok('psst, bob' in seen, 'bob holds it')
st, doc = c.api('GET', '/channels')
names = [x['name'] for x in (doc or {}).get('channels', [])]
ok('dm:alice:bob' not in names, "carol's peer has no such conversation")
st, doc = c.api('GET', '/channels/dm:alice:bob/messages')
is_(st, 404, "carol cannot read alice and bob's conversation")
is_(c.texts('@alice'), [], "carol's own conversation with alice is empty")
st, doc = b.api('GET', '/channels')
dm = [x for x in doc['channels'] if x['name'] == 'dm:alice:bob']
ok(dm and dm[0]['unread'] == 1 and dm[0]['peer'] == 'alice', "bob sees 1 unread from alice")
st, doc = b.api('POST', '/channels/dm:alice:bob/read', {'up_to': m['id']})
is_((st, doc and doc['unread']), (200, 0), 'bob reads it: unread 0')
st, doc = a.dm('alice', 'me')
is_(st, 422, 'a direct message to oneself is refused')
st, doc = a.dm('nobody-here', 'x')
is_(st, 404, 'a direct message to an unknown user: 404')

# --- a direct message waits for an offline user --------------------------------
c.stop()
ok(wait_until(lambda: a.link('carol') == 'none', 10), 'carol stopped: no link')
st, m = a.dm('carol', 'for later')
is_((st, m and m['state']), (201, 'pending'), 'to offline carol: stored, pending')
c.start()
seen = c.wait_texts('@alice', ['for later'], 15)
ok('for later' in seen, 'carol, back, gets it')
ok(wait_until(lambda: any(x['text'] == 'for later' and x['state'] == 'delivered'
                          for x in a.history('@carol')), 10),
   "alice's copy moves to delivered")

# --- ... and for a user who has never run a peer ----------------------------------
stack.add_user('erin')
st, m = a.dm('erin', 'welcome, erin')
is_((st, m and m['state']), (201, 'pending'),
    'to erin, who has an account but has never run a peer: stored, pending')
e = stack.peer('erin')
seen = e.wait_texts('@alice', ['welcome, erin'], 20)
ok('welcome, erin' in seen, "erin's first peer gets it (%r)" % seen)
ok(wait_until(lambda: any(x['text'] == 'welcome, erin' and x['state'] == 'delivered'
                          for x in a.history('@erin')), 10),
   "alice's copy to erin moves to delivered")
is_(e.stop(), 0, 'erin stops cleanly')

# --- errors of the local API ------------------------------------------------------
st, doc = a.say('general', '')
is_(st, 422, 'empty text: 422')
st, doc = a.say('general', 'x' * 4001)
is_(st, 422, 'a 4001-byte text: 422')
st, doc = a.say('general', 'é' * 2000)
is_(st, 201, 'a 4000-byte text (2000 two-byte characters): 201')
st, doc = a.say('no-such-channel', 'x')
is_(st, 403, 'a channel one is not a member of: 403')
st, doc = a.api('POST', '/broadcast-peer', None, raw=b'{"channel": ')
is_(st, 415, 'no JSON content type: 415')
st, doc, _ = http_json(a.port, 'POST', '/broadcast-peer', token=a.token,
                       headers={'Content-Type': 'application/json'}, raw=b'{"channel": ')
is_(st, 400, 'malformed JSON: 400')
st, doc = a.api('GET', '/channels/general/messages?before=garbage')
is_(st, 422, 'a malformed before=: 422')
st, doc = a.api('GET', '/channels', token='0' * 64)
is_(st, 401, 'a wrong session token: 401')
st, doc, _ = http_json(a.port, 'GET', '/channels', token=a.token,
                       headers={'Origin': 'http://evil.example'})
is_(st, 403, 'a request from another origin: 403')
st, doc = a.api('DELETE', '/channels/general/messages/1')
ok(st in (404, 405), 'no endpoint deletes a message (%d)' % st)

# --- paging ---------------------------------------------------------------
page = a.api('GET', '/channels/general/messages?limit=5')[1]
is_(len(page['messages']), 5, 'limit=5 gives 5')
ok(page['more'], 'more older ones')
older = a.api('GET', '/channels/general/messages?limit=5&before=' + page['messages'][0]['id'])[1]
ok(older['messages'] and (older['messages'][-1]['lamport'], older['messages'][-1]['origin'])
   < (page['messages'][0]['lamport'], page['messages'][0]['origin']),
   'before= gives the page just older')

# --- the tracker never sees a text ---------------------------------------------
dump = subprocess.run(['sqlite3', stack.db, '.dump'], capture_output=True, text=True).stdout
log = stack.tracker.log_text()
leaked = [t for t in sent + ['psst, bob', 'for later', 'only once'] if t in dump or t in log]
is_(leaked, [], "no message text in the tracker's database or log")

# --- sign-out ------------------------------------------------------------------
st, doc = b.api('POST', '/logout', {})
is_((st, doc), (200, {'logged_out': True}), 'bob signs out')
ok(wait_until(lambda: a.link('bob') == 'none', 10), "alice's link with bob is gone")
# bob's links close once the tracker has taken his /logout; alice asks for
# the lists a second after hers ended: well before her periodic 15 s
gone, seen = mine.wait(lambda e: e.get('type') == 'presence' and e.get('user') == 'bob'
                       and e.get('online') is False, 4)
ok(gone, "alice's page hears within 4 s that bob is offline (the lists taken again when "
   "the link ended; seen %r)" % [e for e in seen if e.get('type') != 'message'][-5:])
st, doc = b.api('GET', '/me')
is_(st, 401, "bob's session ended")
st, doc = http_json(stack.tracker.port, 'GET', '/get-list', token=None)[:2]
b.login()
ok(wait_until(lambda: a.link('bob') == 'live', 15), 'bob signs in again: linked again')

ev.close()
mine.close()
for p in (a, b, c):
    ok(p.srv.alive(), '%s still running' % p.user)
    is_(p.stop(), 0, '%s stops cleanly (exit 0)' % p.user)
done_testing()
