#!/usr/bin/env python3
# t/tracker.t - `weaprous tracker` end to end: the whole API with every
# error status, heart-beat expiry, one active peer per account, the three
# channel access policies, tickets (single use, expiry, binding), the
# failure limiter (logins, sign-ups, channel passwords), restart with state
# kept, 1,000 peers listed and the cached lists (kept by a heart-beat that
# changes nothing shown), group commit of heart-beats, a registration
# surviving kill -9, the status page and /metrics, SIGHUP re-reading the
# configuration file.  Real processes, real sockets.
import hashlib
import http.client
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import *  # noqa: E402,F403

JSON = {'Content-Type': 'application/json'}


class Client:
    """One keep-alive connection to the tracker; call() returns
    (status, headers dict (lower-case), parsed JSON or raw bytes)."""

    def __init__(self, port, token=None):
        self.port, self.token = port, token
        self.c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)

    def call(self, method, path, body=None, token=None, headers=None, raw=None):
        h = dict(headers or {})
        tok = token if token is not None else self.token
        if tok:
            h.setdefault('Authorization', 'Bearer ' + tok)
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault('Content-Type', 'application/json')
        for attempt in (1, 2):
            try:
                self.c.request(method, path, data, h)
                r = self.c.getresponse()
                payload = r.read()
                break
            except (http.client.HTTPException, OSError):
                # The server closed the connection after an error answer.
                self.c.close()
                self.c = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
                if attempt == 2:
                    raise
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if 'json' in hdrs.get('content-type', ''):
            payload = json.loads(payload)
        return r.status, hdrs, payload


def err_is(res, status, name):
    """An error answer: the status and a JSON {"error", "detail"} body."""
    st, h, body = res
    good = st == status and isinstance(body, dict) and 'error' in body
    if not ok(good, name):
        diag('got %r %r' % (st, body))


def login(cli, user, pw):
    st, h, body = cli.call('POST', '/login', {'username': user, 'password': pw})
    return body.get('token') if st == 200 else None


def register(cli, user, pw='pw-' + 'x'):
    st, h, body = cli.call('POST', '/register', {'username': user, 'password': pw})
    is_(st, 201, 'register %s: 201' % user)
    return body.get('token')


class Beater(threading.Thread):
    """Heart-beats every 0.3 s for the tokens in self.tokens (the test adds
    and removes them), so that peers stay active while the test works."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.tokens, self.halt = port, set(), threading.Event()

    def run(self):
        clients = {}
        while not self.halt.wait(0.3):
            for tok in list(self.tokens):
                cli = clients.setdefault(tok, Client(self.port, tok))
                try:
                    cli.call('POST', '/heartbeat')
                except OSError:
                    pass


def names(peers):
    return sorted(p['user'] for p in peers)


tmp = tmpdir('wrtracker-')
dbfile = os.path.join(tmp, 'tracker.db')
common = ['--db', dbfile, '--heartbeat-interval', '1']

# --- -t checks the options ---
r = subprocess.run([binary(), 'tracker', '-t', '--db', dbfile], capture_output=True, text=True)
is_(r.returncode, 0, 'tracker -t: configuration ok')
r = subprocess.run([binary(), 'tracker', '-t', '--db', dbfile, '--heartbeat-interval', 'x'],
                   capture_output=True, text=True)
is_(r.returncode, 1, 'tracker -t: a bad --heartbeat-interval is an error')

srv = Server('tracker', *common, '--allow-signup',
             '--static', os.path.join(srcdir(), 'static')).start()
cli = Client(srv.port)

# --- status page and unknown paths (no session needed) ---
st, h, body = cli.call('GET', '/')
is_(st, 200, 'GET /: 200')
like(h.get('content-type', ''), r'^text/html', 'status page is HTML')
like(body, rb'Peers online</th><td id="peers-online">0<', 'status page: 0 peers online')
like(body, rb'<li>general ', 'status page lists the public channel general')
like(body, rb'<link rel="stylesheet" href="/css/site.css">', "status page: the backend's stylesheet")
like(body, rb'<link rel="icon" href="/images/logo.svg"', 'status page: an icon')
for asset, ctype in (('/css/site.css', 'text/css'), ('/images/logo.svg', 'image/svg+xml')):
    st, h, body2 = cli.call('GET', asset)
    ok(st == 200 and h.get('content-type', '').startswith(ctype) and len(body2) > 100,
       'the tracker serves %s (%d %s)' % (asset, st, h.get('content-type')))
err_is(cli.call('GET', '/nope'), 404, 'unknown path: 404 JSON')
st, h, body = cli.call('GET', '/login')
is_(st, 405, 'GET /login: 405')
like(h.get('allow', ''), 'POST', '405 carries Allow: POST')

# --- login ---
st, h, body = cli.call('POST', '/login', {'username': 'admin', 'password': 'password'})
is_(st, 200, 'login admin (JSON): 200')
admin = body.get('token', '')
like(admin, r'^[0-9a-f]{64}$', 'the answer carries the session token')
like(h.get('set-cookie', ''), r'session=' + admin + r'.*HttpOnly', 'and the cookie holds it (HttpOnly)')
st, h, body = cli.call('POST', '/login', raw=b'username=admin&password=password',
                       headers={'Content-Type': 'application/x-www-form-urlencoded'})
is_((st, body.get('user')), (200, 'admin'), 'login with a form: 200')
err_is(cli.call('POST', '/login', {'username': 'admin', 'password': 'wrong'}), 401,
       'wrong password: 401')
err_is(cli.call('POST', '/login', {'username': 'admin'}), 400, 'no password: 400')
err_is(cli.call('POST', '/login', raw=b'hello', headers={'Content-Type': 'text/plain'}),
       415, 'text/plain body: 415')
err_is(cli.call('POST', '/login', raw=b'{"username": ', headers=JSON), 400, 'broken JSON: 400')
err_is(cli.call('POST', '/login', raw=b'[1]', headers=JSON), 422, 'JSON array body: 422')
err_is(cli.call('POST', '/login', {'username': 1, 'password': 'x'}), 422,
       'username of the wrong type: 422')
err_is(cli.call('POST', '/login', {'username': 'admin', 'password': 'x' * 9000}), 413,
       'body over 8 KiB: 413')

# --- sessions: Bearer and cookie; 401 otherwise ---
st, h, body = cli.call('GET', '/get-list')
is_(st, 401, 'get-list without a session: 401')
like(h.get('www-authenticate', ''), '^Bearer', '401 names the Bearer scheme')
err_is(cli.call('GET', '/get-list', token='0' * 64), 401, 'unknown Bearer token: 401')
st, h, body = cli.call('GET', '/get-list', headers={'Cookie': 'session=' + admin})
is_(st, 200, 'the session cookie is accepted')
for method, path in (('POST', '/logout'), ('POST', '/submit-info'), ('POST', '/heartbeat'),
                     ('POST', '/add-list'), ('GET', '/channels'), ('POST', '/channels'),
                     ('POST', '/channels/general/invite'),
                     ('DELETE', '/channels/general/members/me'),
                     ('POST', '/connect-peer'), ('POST', '/verify-ticket')):
    err_is(cli.call(method, path, {}), 401, '%s %s without a session: 401' % (method, path))
err_is(cli.call('PUT', '/heartbeat', token=admin), 405, 'PUT /heartbeat: 405')

# --- sign-up ---
alice = register(cli, 'alice', 'alice-pw')
bob = register(cli, 'bob', 'bob-pw')
carol = register(cli, 'carol', 'carol-pw')
err_is(cli.call('POST', '/register', {'username': 'ALICE', 'password': 'x'}), 409,
       'a taken name (any case): 409')
err_is(cli.call('POST', '/register', {'username': 'bad name!', 'password': 'x'}), 422,
       'an invalid user name: 422')
err_is(cli.call('POST', '/register', {'username': 'dave'}), 400, 'sign-up without password: 400')
is_(login(cli, 'alice', 'alice-pw') is not None, True, 'the new account logs in')
# refused sign-ups count against the address (5 per minute by default):
# the 409 and the 422 above, three more, then even a good name waits
codes = [cli.call('POST', '/register', {'username': n, 'password': 'x'})[0]
         for n in ('alice', 'Bob', 'CAROL')]
is_(codes, [409, 409, 409], 'three more taken names: 409')
st, h, body = cli.call('POST', '/register', {'username': 'dave', 'password': 'x'})
is_((st, body.get('error')), (429, 'too many requests'),
    'after 5 refused sign-ups from one address: 429, even for a free name')
ok(1 <= int(h.get('retry-after', '0')) <= 60, 'with Retry-After')

# --- submit-info ---
A, B, C = Client(srv.port, alice), Client(srv.port, bob), Client(srv.port, carol)
st, h, body = A.call('POST', '/submit-info', {'ip': '127.0.0.1', 'port': 7001})
is_((st, body.get('ip'), body.get('port')), (200, '127.0.0.1', 7001), 'submit-info: 200')
hb = body.get('heartbeat_interval', 0)
ok(0.9 <= hb <= 1.1, 'heart-beat interval 1 s with +-10%% jitter (%r)' % hb)
intervals = {A.call('POST', '/submit-info', {'port': 7001})[2]['heartbeat_interval_ms']
             for _ in range(8)}
ok(len(intervals) > 1, 'the jitter differs between answers: %r' % sorted(intervals))
err_is(A.call('POST', '/submit-info', {'ip': '10.1.2.3', 'port': 7001}), 403,
       'someone else\'s address: 403')
err_is(A.call('POST', '/submit-info', {'ip': 'nonsense', 'port': 7001}), 422,
       'a malformed address: 422')
for port in (0, 65536, -1, 'x', 1.5):
    err_is(A.call('POST', '/submit-info', {'port': port}), 422, 'port %r: 422' % (port,))
err_is(A.call('POST', '/submit-info', {'ip': '127.0.0.1'}), 400, 'no port: 400')
err_is(A.call('POST', '/submit-info', {'port': 7001, 'event': 'dance'}), 422,
       'unknown event: 422')
err_is(A.call('POST', '/submit-info'), 415, 'no body: 415')

# one active peer per account: a new registration replaces the old one
st, h, body = A.call('POST', '/submit-info', {'port': 7002})
is_((st, body.get('replaced')), (200, True), 'a new address replaces the old one')
st, h, body = A.call('GET', '/get-list')
alices = [p for p in body['peers'] if p['user'] == 'alice']
is_([(p['ip'], p['port']) for p in alices], [('127.0.0.1', 7002)],
    'get-list: alice once, at the new port')

# --- heart-beats ---
err_is(B.call('POST', '/heartbeat'), 404, 'heart-beat before submit-info: 404')
is_(B.call('POST', '/submit-info', {'port': 7003})[0], 200, 'bob registers')
st, h, body = B.call('POST', '/heartbeat')
is_((st, body.get('online')), (200, True), 'heart-beat: 200')
ok(900 <= body.get('heartbeat_interval_ms', 0) <= 1100, 'heart-beat answer: next interval')
is_(C.call('POST', '/submit-info', {'port': 7004})[0], 200, 'carol registers')
is_(names(A.call('GET', '/get-list')[2]['peers']), ['alice', 'bob', 'carol'],
    'get-list: three active peers')

# TTL: carol stops beating, alice and bob go on
beater = Beater(srv.port)
beater.tokens |= {alice, bob}
beater.start()
start = time.monotonic()
wait_until(lambda: 'carol' not in names(A.call('GET', '/get-list')[2]['peers']), 9, 0.2)
elapsed = time.monotonic() - start
st, h, body = A.call('GET', '/get-list')
is_(names(body['peers']), ['alice', 'bob'], 'carol (silent) dropped out of the active list')
ok(elapsed >= 2.5, 'not before three intervals (%.1f s)' % elapsed)
st, h, body = A.call('GET', '/get-list?all=1')
carol_row = [p for p in body['peers'] if p['user'] == 'carol']
ok(carol_row and carol_row[0]['online'] is False and carol_row[0]['last_seen'] > 0
   and carol_row[0]['ip'] is None, 'all=1: carol offline, last_seen kept, no stale address')
wait_until(lambda: b'weaprous_tracker_peers_expired_total 1' in
           Client(srv.port).call('GET', '/metrics')[2], 3)
like(Client(srv.port).call('GET', '/metrics')[2], rb'peers_expired_total [1-9]',
     'the sweeper counted the expiry')
st, h, body = C.call('POST', '/heartbeat')
is_(st, 200, 'a heart-beat brings an expired peer back')
ok('carol' in names(A.call('GET', '/get-list')[2]['peers']), 'carol active again')
beater.tokens.add(carol)

# "stopped" removes at once; a stopped peer must submit-info again
st, h, body = B.call('POST', '/heartbeat', {'event': 'stopped'})
is_((st, body.get('online'), body.get('peer_removed')), (200, False, True),
    'event stopped: removed')
ok('bob' not in names(A.call('GET', '/get-list')[2]['peers']), 'bob left the list at once')
err_is(B.call('POST', '/heartbeat'), 404, 'heart-beat after stopped: 404')
is_(B.call('POST', '/submit-info', {'port': 7003})[0], 200, 'bob registers again')

# --- channels ---
st, h, body = A.call('GET', '/channels')
ok(any(c['name'] == 'general' and c['access'] == 'public' for c in body['channels']),
   'a fresh database has the public channel general')
st, h, body = A.call('POST', '/add-list', {'channel': 'general'})
is_((st, body.get('joined'), body.get('role')), (200, True, 'member'), 'join general')
st, h, body = A.call('POST', '/add-list', {'channel': 'general'})
is_((st, body.get('joined')), (200, False), 'joining twice changes nothing')
st, h, body = A.call('POST', '/add-list', {'channel': 'Room-1'})
is_((st, body.get('role')), (201, 'owner'), 'a new public channel is created on first join')
st, h, body = B.call('POST', '/add-list', {'channel': 'room-1'})
is_((st, body.get('channel'), body.get('joined')), (200, 'Room-1', True),
    'names are case-insensitive')
err_is(A.call('POST', '/add-list', {'channel': 'bad name'}), 422, 'invalid channel name: 422')
# one writer, two forms (tracker_channel_json): GET /channels is the full one
room = [c for c in A.call('GET', '/channels')[2]['channels'] if c['name'] == 'Room-1']
is_(room, [{'name': 'Room-1', 'access': 'public', 'owner': 'alice', 'members': 2,
            'member': True, 'role': 'owner'}], 'GET /channels: a channel in full')
room = [c for c in A.call('GET', '/get-list')[2]['channels'] if c['name'] == 'Room-1']
is_(room, [{'name': 'Room-1', 'access': 'public', 'members': 2, 'member': True}],
    '/get-list: the short form, without owner and role')
err_is(A.call('POST', '/add-list', {'channel': 'x' * 33}), 422, 'channel name too long: 422')
err_is(A.call('POST', '/add-list', {}), 400, 'add-list without channel: 400')

st, h, body = A.call('POST', '/channels', {'name': 'secret', 'access': 'private'})
is_((st, body.get('access'), body.get('role')), (201, 'private', 'owner'),
    'create a private channel: 201, owner')
err_is(A.call('POST', '/channels', {'name': 'SECRET', 'access': 'public'}), 409,
       'a taken channel name: 409')
err_is(A.call('POST', '/channels', {'name': 'x1', 'access': 'bogus'}), 422, 'unknown access: 422')
err_is(A.call('POST', '/channels', {'name': 'x1', 'access': 'public', 'password': 'p'}), 422,
       'a password on a public channel: 422')
err_is(A.call('POST', '/channels', {'name': 'x1', 'access': 'password'}), 422,
       'a password channel without password: 422')
err_is(A.call('POST', '/channels', {'access': 'public'}), 400, 'no name: 400')

err_is(B.call('POST', '/add-list', {'channel': 'secret'}), 403, 'private: not invited: 403')
err_is(B.call('GET', '/get-list?channel=secret'), 403, 'private: non-members cannot list it')
ok(not any(c['name'] == 'secret' for c in C.call('GET', '/channels')[2]['channels']),
   'GET /channels hides private channels from non-members')
err_is(B.call('POST', '/channels/secret/invite', {'user': 'carol'}), 403,
       'only the owner invites: 403')
err_is(A.call('POST', '/channels/secret/invite', {'user': 'nobody'}), 404, 'invite unknown user: 404')
err_is(A.call('POST', '/channels/nochan/invite', {'user': 'bob'}), 404, 'invite to unknown channel: 404')
err_is(A.call('POST', '/channels/secret/invite', {}), 400, 'invite without user: 400')
err_is(A.call('POST', '/channels/secret/invite', {'user': 'alice'}), 409, 'invite a member: 409')
st, h, body = A.call('POST', '/channels/secret/invite', {'user': 'bob'})
is_((st, body.get('invited')), (201, 'bob'), 'the owner invites bob: 201')
st, h, body = B.call('POST', '/add-list', {'channel': 'secret'})
is_((st, body.get('joined')), (200, True), 'invited bob joins the private channel')
st, h, body = B.call('GET', '/get-list?channel=secret')
is_((st, names(body.get('peers', []))), (200, ['alice', 'bob']), 'members of secret listed')
ok(all(p['online'] for p in body['peers']), 'both online')

st, h, body = A.call('POST', '/channels', {'name': 'vault', 'access': 'password',
                                           'password': 'open sesame'})
is_(st, 201, 'create a password channel: 201')
err_is(B.call('POST', '/add-list', {'channel': 'vault'}), 403, 'password channel, no password: 403')
err_is(B.call('POST', '/add-list', {'channel': 'vault', 'password': 'nope'}), 403,
       'password channel, wrong password: 403')
st, h, body = B.call('POST', '/add-list', {'channel': 'vault', 'password': 'open sesame'})
is_((st, body.get('joined')), (200, True), 'password channel, right password: joined')
conn = sqlite3.connect(dbfile)
row = conn.execute("SELECT password_hash FROM channels WHERE name = 'vault'").fetchone()
conn.close()
ok(row and row[0].startswith('$') and 'open sesame' not in row[0],
   'the channel password is stored as a crypt(3) hash')

err_is(A.call('GET', '/get-list?channel=nochan'), 404, 'get-list of unknown channel: 404')
err_is(A.call('GET', '/get-list?channel=bad%20name'), 422, 'get-list of invalid name: 422')
st, h, body = A.call('DELETE', '/channels/secret/members/me')
is_((st, body.get('left')), (200, 'secret'), 'the owner leaves secret')
sec = [c for c in B.call('GET', '/channels')[2]['channels'] if c['name'] == 'secret']
is_(sec and (sec[0]['owner'], sec[0]['role']), ('bob', 'owner'), 'ownership passed to bob')
err_is(A.call('DELETE', '/channels/secret/members/me'), 404, 'leaving twice: 404')
err_is(A.call('DELETE', '/channels/nochan/members/me'), 404, 'leaving an unknown channel: 404')
is_(B.call('DELETE', '/channels/secret/members/me')[0], 200, 'the last member leaves')
ok(not any(c['name'] == 'secret' for c in B.call('GET', '/channels')[2]['channels']),
   'an empty channel is deleted')

# --- introductions ---
st, h, body = A.call('POST', '/connect-peer', {'peer': 'bob'})
is_((st, body.get('ip'), body.get('port')), (200, '127.0.0.1', 7003),
    'connect-peer: the target\'s address')
ticket = body.get('ticket', '')
like(ticket, r'^[0-9a-f]{64}$', 'and a ticket')
ok(55 <= body.get('expires_in', 0) <= 60, 'valid for about 60 s')
err_is(A.call('POST', '/connect-peer', {'peer': 'alice'}), 422, 'connect to yourself: 422')
err_is(A.call('POST', '/connect-peer', {'peer': 'nobody'}), 404, 'connect to an unknown user: 404')
err_is(A.call('POST', '/connect-peer', {'peer': 'admin'}), 409, 'connect to an offline user: 409')
err_is(A.call('POST', '/connect-peer', {}), 400, 'connect-peer without peer: 400')
err_is(C.call('POST', '/verify-ticket', {'ticket': ticket}), 403, 'only the target verifies: 403')
st, h, body = B.call('POST', '/verify-ticket', {'ticket': ticket})
is_((st, body.get('caller'), body.get('caller_port')), (200, 'alice', 7002),
    'the target learns who calls')
err_is(B.call('POST', '/verify-ticket', {'ticket': ticket}), 410, 'a ticket works once: 410')
err_is(B.call('POST', '/verify-ticket', {'ticket': 'xyz'}), 422, 'a malformed ticket: 422')
err_is(B.call('POST', '/verify-ticket', {'ticket': secrets.token_hex(32)}), 404,
       'an unknown ticket: 404')
err_is(B.call('POST', '/verify-ticket', {}), 400, 'verify without ticket: 400')
conn = sqlite3.connect(dbfile)
hashed = conn.execute('SELECT count(*) FROM tickets WHERE token_hash = ?',
                      (hashlib.sha256(ticket.encode()).hexdigest(),)).fetchone()[0]
conn.close()
is_(hashed, 1, 'the database keeps the ticket\'s SHA-256 only')
codes = [A.call('POST', '/connect-peer', {'peer': 'carol'})[0] for _ in range(70)]
is_((codes.count(200), codes[-1]), (64, 429), 'at most 64 unused tickets per caller, then 429')

# --- logout ---
beater.tokens.discard(carol)
st, h, body = C.call('POST', '/logout')
is_((st, body.get('peer_removed')), (200, True), 'logout: 200, peer removed')
like(h.get('set-cookie', ''), r'session=;.*Max-Age=0', 'logout expires the cookie')
ok('carol' not in names(A.call('GET', '/get-list')[2]['peers']), 'carol left the list at once')
err_is(C.call('GET', '/get-list'), 401, 'the old token no longer works')

# --- hostile input: the tracker answers and stays up ---
resp = raw(srv.port, b'\x00\xffGARBAGE\r\n\r\n')
like(resp, rb'^HTTP/1\.1 400', 'garbage request line: 400')
big = req('POST', '/submit-info', {'Content-Type': 'application/json',
                                   'Authorization': 'Bearer ' + alice}, b'{' * 100000)
like(raw(srv.port, big), rb'^HTTP/1\.1 413', 'a 100 KB body: 413')
err_is(A.call('POST', '/submit-info', raw=b'[' * 5000, headers=JSON), 400,
       'JSON nested 5000 deep: 400')
err_is(A.call('POST', '/add-list', raw=b'{"channel": "a\\u0000b"}', headers=JSON), 422,
       'a NUL inside a channel name: 422')
err_is(A.call('GET', '/get-list', token='x' * 5000), 401, 'a 5000-byte token: 401')
is_(A.call('GET', '/get-list')[0], 200, 'still serving')

# --- metrics ---
st, h, body = Client(srv.port).call('GET', '/metrics')
is_(st, 200, '/metrics: 200')
like(h.get('content-type', ''), r'^text/plain; version=0\.0\.4', 'Prometheus text format')
like(body, rb'\nweaprous_tracker_peers_active 2\n', 'active peers: 2 (alice, bob)')
like(body, rb'weaprous_tracker_responses_total\{code="401"\} [1-9]', '401s counted')
like(body, rb'weaprous_tracker_responses_total\{code="429"\} 7\n', '429s counted')
like(body, rb'\nweaprous_tracker_signups_limited_total 1\n', 'the limited sign-up counted')
like(body, rb'\nweaprous_tracker_errors_total [1-9]', 'errors counted')
m = [l for l in body.split(b'\n') if l.startswith(b'weaprous_tracker_requests_total ')]
ok(m and int(m[0].split()[1]) > 100, 'requests counted')

# --- restart keeps state; peers come back offline ---
beater.halt.set()
beater.join()
is_(srv.stop(), 0, 'SIGTERM: clean exit')
# 1,000 accounts and sessions in bulk, straight into the store while the
# tracker is down (one crypt(3) per account through /register would take a
# minute): the password hash of alice, and tokens whose SHA-256 is stored
# as the store does.
conn = sqlite3.connect(dbfile)
pwh = conn.execute("SELECT password_hash FROM users WHERE name = 'alice'").fetchone()[0]
bulk = {}
now = int(time.time())
for i in range(1000):
    name, tok = 'peer%04d' % i, secrets.token_hex(32)
    cur = conn.execute('INSERT INTO users (name, password_hash, created_at, password_changed_at)'
                       ' VALUES (?, ?, ?, ?)', (name, pwh, now, now))
    conn.execute('INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at)'
                 ' VALUES (?, ?, ?, ?, ?)', (hashlib.sha256(tok.encode()).hexdigest(),
                                             cur.lastrowid, now, now, now + 3600))
    bulk[name] = tok
conn.commit()
conn.close()

# A longer interval now: nothing beats while 1,000 peers register.
srv = Server('tracker', '--db', dbfile, '--heartbeat-interval', '30', '--ticket-ttl', '1',
             '--allow-advertised-addr',
             '--login-max-failures', '3', '--login-window', '2').start()
A, B = Client(srv.port, alice), Client(srv.port, bob)
st, h, body = A.call('GET', '/get-list')
is_((st, body.get('peers')), (200, []), 'after a restart the session works and no peer is active')
st, h, body = A.call('GET', '/get-list?all=1')
ok({'alice', 'bob', 'carol'} <= set(names(body['peers']))
   and not any(p['online'] for p in body['peers']), 'peers are kept, offline')
st, h, body = A.call('GET', '/get-list?channel=room-1')
is_(names(body.get('peers', [])), ['alice', 'bob'], 'channels and members are kept')
err_is(A.call('POST', '/register', {'username': 'eve', 'password': 'x'}), 403,
       'sign-up off by default: 403')
st, h, body = A.call('POST', '/heartbeat')
is_(st, 200, 'a heart-beat after the restart')
is_(names(A.call('GET', '/get-list')[2]['peers']), ['alice'], 'alice is active again')
B.call('POST', '/heartbeat')

# advertised addresses allowed by the operator
st, h, body = B.call('POST', '/submit-info', {'ip': '10.9.8.7', 'port': 7010})
is_((st, body.get('ip')), (200, '10.9.8.7'), '--allow-advertised-addr: another address taken')

# ticket expiry (--ticket-ttl 1)
ticket = B.call('POST', '/connect-peer', {'peer': 'alice'})[2].get('ticket', '')
time.sleep(2.2)
err_is(A.call('POST', '/verify-ticket', {'ticket': ticket}), 410, 'an expired ticket: 410')

# failed-login limiter: 3 failures per 2 s window
cli = Client(srv.port)
codes = [cli.call('POST', '/login', {'username': 'bob', 'password': 'bad'})[0] for _ in range(4)]
is_(codes, [401, 401, 401, 429], 'the 4th failed login from one address: 429')
st, h, body = cli.call('POST', '/login', {'username': 'bob', 'password': 'bob-pw'})
is_(st, 429, 'even the right password waits')
ok(1 <= int(h.get('retry-after', '0')) <= 2, '429 carries Retry-After')
time.sleep(2.1)
is_(login(cli, 'bob', 'bob-pw') is not None, True, 'after the window, login works')

# wrong channel passwords: 3 per 2 s window, per address and per account
st, h, body = A.call('POST', '/channels', {'name': 'vault2', 'access': 'password',
                                           'password': 'pw2'})
is_(st, 201, 'another password channel')
codes = [B.call('POST', '/add-list', {'channel': 'vault2', 'password': 'bad'})[0]
         for _ in range(3)]
is_(codes, [403, 403, 403], 'three wrong channel passwords: 403')
st, h, body = B.call('POST', '/add-list', {'channel': 'vault2', 'password': 'pw2'})
is_(st, 429, 'then even the right one waits: 429')
ok(1 <= int(h.get('retry-after', '0')) <= 2, 'with Retry-After')
err_is(B.call('POST', '/add-list', {'channel': 'vault2'}), 403,
       'no password at all is not a guess: still 403')
time.sleep(2.1)
st, h, body = B.call('POST', '/add-list', {'channel': 'vault2', 'password': 'pw2'})
is_((st, body.get('joined')), (200, True), 'after the window the right password joins')
like(Client(srv.port).call('GET', '/metrics')[2],
     rb'\nweaprous_tracker_channel_passwords_limited_total 1\n', 'the 429 counted')

# --- 1,000 peers ---
t0 = time.monotonic()
expect = {}
P = Client(srv.port)
for i, (name, tok) in enumerate(sorted(bulk.items())):
    ip, port = '10.0.%d.%d' % (i // 250, i % 250 + 1), 20000 + i
    st, h, body = P.call('POST', '/submit-info', {'ip': ip, 'port': port}, token=tok)
    if st != 200:
        ok(False, 'submit-info of %s: %d %r' % (name, st, body))
        break
    expect[name] = (ip, port)
diag('1,000 submit-info in %.2f s' % (time.monotonic() - t0))
A.call('POST', '/heartbeat')
B.call('POST', '/heartbeat')
st, h, body = A.call('GET', '/get-list')
got = {p['user']: (p['ip'], p['port']) for p in body['peers'] if p['user'].startswith('peer')}
is_(len(got), 1000, 'get-list: 1,000 peers')
is_(got, expect, 'every peer with its own address and port')
is_(body.get('truncated'), False, 'nothing truncated')
like(Client(srv.port).call('GET', '/')[2], rb'id="peers-online">1002<', 'status page: 1002 online')

# --- the cached lists (tracker_list.c) say what the database says ---
def metric(port, name):
    for line in Client(port).call('GET', '/metrics')[2].split(b'\n'):
        if line.startswith(name.encode() + b' '):
            return int(line.split()[1])
    return -1


hits = metric(srv.port, 'weaprous_tracker_list_cache_hits_total')
is_(A.call('GET', '/get-list')[2], body, 'an unchanged list: the same answer')
ok(metric(srv.port, 'weaprous_tracker_list_cache_hits_total') > hits,
   '... from the cache')
# Another process writes to the file (PRAGMA data_version moves): bob gets
# another port and an expiry 2 s away, before the sweeper's next pass.
conn = sqlite3.connect(dbfile)
conn.execute("UPDATE peers SET port = 7999, expires_at = ? WHERE user_id ="
             " (SELECT id FROM users WHERE name = 'bob')", (int(time.time()) + 2,))
conn.commit()
conn.close()
bobs = [p['port'] for p in A.call('GET', '/get-list')[2]['peers'] if p['user'] == 'bob']
is_(bobs, [7999], 'a commit by another process shows at once')
builds = metric(srv.port, 'weaprous_tracker_list_builds_total')
A.call('GET', '/get-list')
is_(metric(srv.port, 'weaprous_tracker_list_builds_total'), builds, 'then the cache holds again')
t0 = time.monotonic()
wait_until(lambda: 'bob' not in names(A.call('GET', '/get-list')[2]['peers']), 6, 0.1)
ok('bob' not in names(A.call('GET', '/get-list')[2]['peers']) and time.monotonic() - t0 < 3.5,
   'a listed peer\'s expiry ends the cached list, with no write (%.1f s)'
   % (time.monotonic() - t0))
st, h, body = A.call('GET', '/get-list?all=1')
is_([p['online'] for p in body['peers'] if p['user'] == 'bob'], [False],
    'all=1 shows bob offline too')

# --- a heart-beat that changes nothing a list shows keeps the cached list:
# alice is active at the same address and her last_seen stays in its
# minute (lists give last_seen rounded down to the minute).  Her first
# beat may open a new minute; the second is the quiet one, unless a minute
# boundary fell in between (then once more).
def minute():
    return int(time.time()) // 60


for attempt in range(3):
    m0 = minute()
    A.call('POST', '/heartbeat')
    A.call('GET', '/get-list')
    builds = metric(srv.port, 'weaprous_tracker_list_builds_total')
    st = A.call('POST', '/heartbeat')[0]
    listed = A.call('GET', '/get-list')[2]
    if minute() == m0:
        break
is_(st, 200, 'alice beats again')
is_(metric(srv.port, 'weaprous_tracker_list_builds_total'), builds,
    'a heart-beat that changes nothing a list shows: the cached list is not rebuilt')
ok(all(p['last_seen'] % 60 == 0 for p in listed['peers']),
   'last_seen is given to the minute (rounded down)')

# --- group commit: heart-beats that arrive together share one
# transaction.  The tracker is stopped while 50 peers send a beat each,
# so that one loop pass finds them all; each has beaten once alone just
# before (a session seen more than a minute ago is refreshed on its own,
# which commits the group early).
group = sorted(bulk)[:50]
for name in group:
    P.call('POST', '/heartbeat', token=bulk[name])
commits = metric(srv.port, 'weaprous_tracker_group_commits_total')
writes = metric(srv.port, 'weaprous_tracker_group_writes_total')
conns = [http.client.HTTPConnection('127.0.0.1', srv.port, timeout=10) for _ in group]
for c in conns:
    c.connect()
srv.proc.send_signal(signal.SIGSTOP)
try:
    for c, name in zip(conns, group):
        c.request('POST', '/heartbeat', b'', {'Authorization': 'Bearer ' + bulk[name]})
finally:
    srv.proc.send_signal(signal.SIGCONT)
codes = []
for c in conns:
    r = c.getresponse()
    r.read()
    codes.append(r.status)
    c.close()
is_(codes, [200] * 50, '50 heart-beats at once: 200 each')
dw = metric(srv.port, 'weaprous_tracker_group_writes_total') - writes
dc = metric(srv.port, 'weaprous_tracker_group_commits_total') - commits
ok(dw == 50 and 1 <= dc <= 5, '... answered after %d group commit(s) of their 50 writes' % dc)

is_(srv.stop(), 0, 'SIGTERM: clean exit')

# --- a registration answered 200 is committed: it survives kill -9 ---
srv = Server('tracker', '--db', dbfile, '--allow-advertised-addr').start()
# first, a beat that writes nothing (admin never registered) opens and
# ends a group without answers waiting
err_is(Client(srv.port, admin).call('POST', '/heartbeat'), 404,
       'a fresh tracker\'s first beat, of an unregistered peer: 404')
st, h, body = Client(srv.port, bulk['peer0001']).call(
    'POST', '/submit-info', {'ip': '10.7.7.7', 'port': 7777})
srv.stop(signal.SIGKILL)
conn = sqlite3.connect(dbfile)
row = conn.execute("SELECT ip, port FROM peers JOIN users ON users.id = peers.user_id"
                   " WHERE users.name = 'peer0001'").fetchone()
conn.close()
is_((st, row), (200, ('10.7.7.7', 7777)),
    'a registration answered 200 is in the file after kill -9')

# --- SIGHUP re-reads the configuration file ---
conf = os.path.join(tmp, 'tracker.conf')


def write_conf(text):
    with open(conf, 'w') as f:
        f.write(text)


def hup(srv, marker):
    """SIGHUP, then wait until the log has one more line with marker."""
    before = srv.log_text().count(marker)
    srv.proc.send_signal(signal.SIGHUP)
    return wait_until(lambda: srv.log_text().count(marker) > before, 5) is True


def beat_ms(cli):
    return cli.call('POST', '/submit-info', {'port': 7001})[2].get('heartbeat_interval_ms', 0)


write_conf('# the tracker\n[tracker]\nheartbeat-interval 1\nlogin-max-failures 10\n'
           '[backend]\nwww /nowhere   # another role\'s section: not ours\n')
srv = Server('tracker', '-c', conf, '--db', dbfile, '--login-max-failures', '2').start()
A, cli = Client(srv.port, alice), Client(srv.port)
ok(900 <= beat_ms(A) <= 1100, 'heart-beat interval 1 s from the file')
err_is(cli.call('POST', '/register', {'username': 'eve', 'password': 'x'}), 403,
       'sign-up off (not in the file)')
write_conf('[tracker]\nheartbeat-interval = 2\nallow-signup\nticket-ttl 5\n'
           'login-max-failures 10\n')
ok(hup(srv, 'option'), 'SIGHUP: the file is read again')
log = srv.log_text()
like(log, r'reload: heartbeat-interval 1000 ms -> 2000 ms', 'the log says what changed: interval')
like(log, r'reload: allow-signup off -> on', '... sign-up')
like(log, r'reload: ticket-ttl 60 s -> 5 s', '... ticket lifetime')
like(log, r'reload: \S+ read, 3 options changed', '... and how many')
ok('login-max-failures 2' not in log, 'login-max-failures: the command line keeps winning')
ok(1800 <= beat_ms(A) <= 2200, 'peers are told the new interval')
is_(cli.call('POST', '/register', {'username': 'eve', 'password': 'eve-pw'})[0], 201,
    'sign-up now on')
codes = [cli.call('POST', '/login', {'username': 'eve', 'password': 'bad'})[0] for _ in range(3)]
is_(codes, [401, 401, 429], 'the limit of the command line (2) still applies')
B = Client(srv.port, bob)
B.call('POST', '/submit-info', {'port': 7003})
ok(1 <= B.call('POST', '/connect-peer', {'peer': 'alice'})[2].get('expires_in', 0) <= 5,
   'tickets last the new 5 s')

write_conf('[tracker]\nheartbeat-interval soon\nallow-signup\n')
ok(hup(srv, 'reload refused'), 'a bad value: the reload is refused')
like(srv.log_text(), r"bad heartbeat-interval 'soon'", 'the log names the bad option')
ok(1800 <= beat_ms(A) <= 2200, 'the interval in force stays')
write_conf('[tracker]\nheartbeat-intervall 3\n')
ok(hup(srv, 'reload refused'), 'an unknown option: refused')
like(srv.log_text(), r'tracker\.conf:2: unknown option', 'the log names file and line')
write_conf('[tracker\n')
ok(hup(srv, 'reload refused'), 'a malformed section: refused')
os.unlink(conf)
ok(hup(srv, 'reload refused'), 'a missing file: refused')
is_(cli.call('POST', '/register', {'username': 'frank', 'password': 'f-pw'})[0], 201,
    'after refusals the options in force still apply (sign-up on)')
is_(srv.stop(), 0, 'SIGTERM after reloads: clean exit')
done_testing()
