#!/usr/bin/env python3
"""weaprous-sampleapp end to end: login with JSON and form bodies, the
session cookie and its attributes, the /hello hook, JSON errors (400, 415,
422), automatic 404 / 405 + Allow / OPTIONS / HEAD, hostile bytes, and a
graceful stop on SIGTERM."""

import json
import os
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

# --help is honest about accounts.
out = subprocess.run([APP, '--help'], capture_output=True, text=True)
is_(out.returncode, 0, '--help exits 0')
like(out.stdout, r'no built-in\s+account', '--help says there is no built-in account')

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
    is_(r.status, 401, 'GET /hello without a session: 401')
    r = call(p, 'GET', '/hello', {'Cookie': 'sampleapp_session=' + '0' * 32})
    is_(r.status, 401, 'forged session id: 401')
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
    r = call(p, 'GET', '/nope')
    is_(r.status, 404, 'unknown path: 404')
    is_(jbody(r), {'error': 'not found', 'detail': '/nope'}, '... as a JSON error')

    raw(p, b'\x00\x01garbage\r\n\r\n', timeout=1.0)
    raw(p, req('PUT', '/login', JSON, b'{"username":') , timeout=0.5)
    r = call(p, 'GET', '/hello', auth)
    is_(r.status, 200, 'still answering after hostile bytes')

    srv.proc.send_signal(signal.SIGTERM)
    try:
        code = srv.proc.wait(timeout=8)
    except subprocess.TimeoutExpired:
        code = None
    is_(code, 0, 'SIGTERM: graceful exit with status 0')

with Server(argv=[APP, '--server-ip', '127.0.0.1', '--server-port', '{port}'],
            env={'WEAPROUS_SAMPLE_USERS': ''}) as srv:
    r = call(srv.port, 'PUT', '/login', JSON, json.dumps({'username': 'admin', 'password': 'password'}))
    is_(r.status, 401, 'no account configured: admin/password is refused')
    ok(wait_until(lambda: 'every login will fail' in srv.log_text(), timeout=3),
       'the start-up log says every login will fail')

done_testing()
