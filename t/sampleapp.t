#!/usr/bin/env python3
"""weaprous-sampleapp end to end: out of the box as the assignment's
Figure 3 shows it (the default account admin/password, said once in the
log, and /hello answered as the guest without a session), login with JSON
and form bodies, the session cookie and its attributes, /hello with and
without a session, JSON errors (400, 415, 422), automatic 404 / 405 +
Allow / OPTIONS / HEAD, pipelining, the session table (oldest idle session
first, a cap per user: one user cannot log the others out), hostile bytes,
and a graceful stop on SIGTERM."""

import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403

APP = binary('weaprous-sampleapp')


def call(port, method, path, headers=None, body=b''):
    """One request on its own connection; returns the parsed Response."""
    h = dict(headers or {})
    h.setdefault('Connection', 'close')
    data = raw(port, req(method, path, h, body))
    return parse_response(data, head=(method == 'HEAD'))[0]


def jbody(r):
    try:
        return json.loads(r.body.decode('utf-8'))
    except ValueError:
        return None


JSON = {'Content-Type': 'application/json'}
GUEST = {'message': 'Hello, guest!', 'hellos': 0, 'last': None}
SESSIONS = 1024            # the app's session table
USER_SESSIONS = 16         # sessions one user may hold at once
LOGIN_BATCH = 100          # logins pipelined on one connection


def login(port, name, password):
    """The session cookie ("sampleapp_session=...") of a fresh login."""
    r = call(port, 'PUT', '/login', JSON, json.dumps({'username': name, 'password': password}))
    return r.headers.get('set-cookie', '').split(';')[0] if r.status == 200 else None


def hello_name(port, sid):
    """Whom GET /hello greets with the cookie sid."""
    body = jbody(call(port, 'GET', '/hello', {'Cookie': sid})) or {}
    return body.get('message')


def logins(port, name, password, n):
    """n logins pipelined on few connections; their session cookies."""
    body = json.dumps({'username': name, 'password': password})
    sids = []
    while len(sids) < n:
        k = min(LOGIN_BATCH, n - len(sids))
        data = b''.join(req('PUT', '/login', JSON, body) for _ in range(k - 1)) + \
            req('PUT', '/login', dict(JSON, Connection='close'), body)
        rs = parse_responses(raw(port, data, timeout=30))
        sids += [r.headers.get('set-cookie', '').split(';')[0] for r in rs]
        if len(rs) != k:
            break
    return sids


def session_table(p):
    """Sessions go oldest idle first, and at most USER_SESSIONS per user:
    one user logging in again and again cannot log anybody else out."""
    alice = login(p, 'alice', 's3cret')
    bob = logins(p, 'bob', 'pw2', USER_SESSIONS)
    is_(hello_name(p, bob[0]), 'Hello, bob!', "bob's oldest session, used now: no longer the idlest")
    bob += logins(p, 'bob', 'pw2', 1)
    is_([hello_name(p, s) for s in bob[:2] + bob[-1:]], ['Hello, bob!', 'Hello, guest!', 'Hello, bob!'],
        'bob past his %d sessions: his idlest one (the second) ends, the used one stays'
        % USER_SESSIONS)
    many = logins(p, 'bob', 'pw2', SESSIONS + 100)
    is_(len(many), SESSIONS + 100, 'bob logs in %d more times' % (SESSIONS + 100))
    is_(hello_name(p, alice), 'Hello, alice!', "alice's session outlives them all")
    live = [hello_name(p, s) == 'Hello, bob!' for s in many[-USER_SESSIONS - 1:]]
    is_(live, [False] + [True] * USER_SESSIONS, "bob keeps his %d newest sessions" % USER_SESSIONS)


def guest_routes(p):
    """Without a session /hello behaves as every route does."""
    r = call(p, 'POST', '/hello', JSON, '{"message": "x",}')
    is_(r.status, 400, 'guest: malformed JSON on POST /hello: 400')
    r = call(p, 'DELETE', '/hello')
    is_((r.status, r.headers.get('allow')), (405, 'GET, HEAD, POST, OPTIONS'),
        'guest: DELETE /hello: 405 with Allow')
    r = call(p, 'OPTIONS', '/hello')
    is_((r.status, r.headers.get('allow')), (204, 'GET, HEAD, POST, OPTIONS'),
        'guest: OPTIONS /hello: 204 with Allow')
    r = call(p, 'GET', '/hello/there')
    is_(r.status, 404, 'guest: GET /hello/there: 404')
    pipelined = b''.join(req('GET', '/hello') for _ in range(3)) + \
        req('POST', '/hello', dict(JSON, Connection='close'), '{"message": "piped"}')
    rs = parse_responses(raw(p, pipelined))
    is_([x.status for x in rs], [200, 200, 200, 201], 'guest: four pipelined requests, in order')

# --help is honest about accounts.
out = subprocess.run([APP, '--help'], capture_output=True, text=True)
is_(out.returncode, 0, '--help exits 0')
like(out.stdout, r'admin/password', '--help names the default account')

with Server(argv=[APP, '--server-ip', '127.0.0.1', '--server-port', '{port}',
                  '--user', 'alice:s3cret'],
            env={'WEAPROUS_SAMPLE_USERS': 'bob:pw2,carol:pw3'}) as srv:
    p = srv.port
    r = call(p, 'PUT', '/login', JSON, json.dumps({'username': 'alice', 'password': 'nope'}))
    is_(r.status, 401, 'wrong password: 401')
    is_(jbody(r).get('error'), 'unauthorized', '... with a JSON error')
    ok(not r.all('set-cookie'), '... and no cookie')

    r = call(p, 'PUT', '/login', JSON, json.dumps({'username': 'alice', 'password': 's3cret'}))
    is_(r.status, 200, 'alice logs in')
    is_(jbody(r), {'user': 'alice'}, '... body names the user')
    is_(r.headers.get('content-type'), 'application/json', '... as application/json')
    cookie = r.headers.get('set-cookie', '')
    like(cookie, r'^sampleapp_session=[0-9a-f]{32};', 'session cookie: 128-bit hex id')
    for attr in ('HttpOnly', 'SameSite=Lax', 'Path=/', 'Max-Age=3600'):
        ok(attr in cookie, 'session cookie has ' + attr)
    sid = cookie.split(';')[0]
    auth = {'Cookie': 'theme=dark; ' + sid}

    r = call(p, 'PUT', '/login', {'Content-Type': 'application/x-www-form-urlencoded'},
             'username=bob&password=pw2')
    is_(r.status, 200, 'bob (from the environment) logs in with a form body')
    r = call(p, 'PUT', '/login', JSON, json.dumps({'username': 'carol', 'password': 'pw3'}))
    is_(r.status, 200, 'carol (second env account) logs in')
    r = call(p, 'PUT', '/login', JSON, json.dumps({'username': 'alice'}))
    is_(r.status, 400, 'missing password: 400')

    r = call(p, 'GET', '/hello')
    is_((r.status, jbody(r)), (200, GUEST), 'GET /hello without a session: 200, as the guest')
    r = call(p, 'GET', '/hello', {'Cookie': 'sampleapp_session=' + '0' * 32})
    is_((r.status, jbody(r)), (200, GUEST), 'forged session id: the guest, not alice')
    r = call(p, 'GET', '/hello', auth)
    is_(r.status, 200, 'GET /hello with the session: 200')
    is_(jbody(r), {'message': 'Hello, alice!', 'hellos': 0, 'last': None}, '... greets alice')
    get_len = r.headers.get('content-length')

    r = call(p, 'HEAD', '/hello', auth)
    is_(r.status, 200, 'HEAD /hello answered by the GET route')
    is_(r.body, b'', '... without a body')
    is_(r.headers.get('content-length'), get_len, '... with the GET length')

    msg = 'hi \u2713 "quoted"'
    r = call(p, 'POST', '/hello', dict(auth, **JSON), json.dumps({'message': msg}))
    is_(r.status, 201, 'POST /hello: 201')
    is_(jbody(r), {'from': 'alice', 'echo': msg, 'hellos': 1}, '... echoes the UTF-8 message')
    r = call(p, 'GET', '/hello', auth)
    is_(jbody(r).get('last'), msg, 'GET /hello remembers the last message')

    r = call(p, 'POST', '/hello', dict(auth, **JSON), '{"message": "x",}')
    is_(r.status, 400, 'malformed JSON: 400')
    like(jbody(r).get('detail', ''), r'^line 1, column \d+: trailing comma$',
         '... detail gives line, column and reason')
    r = call(p, 'POST', '/hello', dict(auth, **{'Content-Type': 'text/plain'}), 'hello')
    is_(r.status, 415, 'wrong Content-Type: 415')
    r = call(p, 'POST', '/hello', dict(auth, **JSON), '{"message": 42}')
    is_(r.status, 422, 'message of the wrong type: 422')
    r = call(p, 'POST', '/hello', dict(auth, **JSON), b'{"message": "\xff"}')
    is_(r.status, 400, 'invalid UTF-8 in JSON: 400')

    r = call(p, 'DELETE', '/login')
    is_(r.status, 405, 'DELETE /login: 405')
    is_(r.headers.get('allow'), 'PUT, OPTIONS', '... Allow: PUT, OPTIONS')
    r = call(p, 'OPTIONS', '/login')
    is_(r.status, 204, 'OPTIONS /login: 204')
    is_(r.headers.get('allow'), 'PUT, OPTIONS', '... with Allow')
    r = call(p, 'DELETE', '/hello', auth)
    is_(r.status, 405, 'DELETE /hello (logged in): 405')
    is_(r.headers.get('allow'), 'GET, HEAD, POST, OPTIONS', '... Allow lists GET, HEAD, POST')
    guest_routes(p)
    session_table(p)
    r = call(p, 'GET', '/nope')
    is_(r.status, 404, 'unknown path: 404')
    is_(jbody(r), {'error': 'not found', 'detail': '/nope'}, '... as a JSON error')

    raw(p, b'\x00\x01garbage\r\n\r\n', timeout=1.0)
    raw(p, req('PUT', '/login', JSON, b'{"username":') , timeout=0.5)
    r = call(p, 'GET', '/hello', auth)
    is_(r.status, 200, 'still answering after hostile bytes')

    r = call(p, 'PUT', '/login', JSON, json.dumps({'username': 'admin', 'password': 'password'}))
    is_(r.status, 401, 'accounts given: no default admin/password')

    srv.proc.send_signal(signal.SIGTERM)
    try:
        code = srv.proc.wait(timeout=8)
    except subprocess.TimeoutExpired:
        code = None
    is_(code, 0, 'SIGTERM: graceful exit with status 0')


# Out of the box, as the assignment's Figure 3: start, PUT /login, POST /hello.
os.environ.pop('WEAPROUS_SAMPLE_USERS', None)
with Server(argv=[APP, '--server-ip', '127.0.0.1', '--server-port', '{port}']) as srv:
    p = srv.port
    r = call(p, 'POST', '/hello', JSON, json.dumps({'message': 'hi'}))
    is_((r.status, jbody(r)), (201, {'from': 'guest', 'echo': 'hi', 'hellos': 1}),
        'fresh app: POST /hello without a session answers as the guest')
    r = call(p, 'PUT', '/login', JSON, json.dumps({'username': 'admin', 'password': 'password'}))
    is_((r.status, jbody(r)), (200, {'user': 'admin'}), 'fresh app: admin/password logs in')
    sid = r.headers.get('set-cookie', '').split(';')[0]
    r = call(p, 'POST', '/hello', dict(JSON, Cookie=sid), json.dumps({'message': 'hello'}))
    is_((r.status, jbody(r)), (201, {'from': 'admin', 'echo': 'hello', 'hellos': 1}),
        'fresh app: POST /hello with the cookie answers as admin')
    log = srv.log_text()
    is_(len(re.findall(r'default account admin/password', log)), 1,
        'the start-up log says once that admin/password is the default account')
    if failed():
        diag(log)

with Server(argv=[APP, '--server-ip', '127.0.0.1', '--server-port', '{port}'],
            env={'WEAPROUS_SAMPLE_USERS': ''}) as srv:
    r = call(srv.port, 'PUT', '/login', JSON, json.dumps({'username': 'admin', 'password': 'password'}))
    is_(r.status, 200, 'an empty WEAPROUS_SAMPLE_USERS gives no account: the default one')

done_testing()
