#!/usr/bin/env python3
"""The app layer through t/servers/app_testsrv: route parameters, query, cookies,
form and JSON bodies (limits), hooks (order, stop, async resume),
asynchronous handlers (also when the client leaves first), redirects,
files, Set-Cookie validation, OPTIONS *, two apps on one loop with a
fallback, and a graceful stop of both on SIGTERM."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403

SRV = binary('t/servers/app_testsrv')


def call(port, method, path, headers=None, body=b''):
    h = dict(headers or {})
    h.setdefault('Connection', 'close')
    return parse_response(raw(port, req(method, path, h, body)),
                          head=(method == 'HEAD'))[0]


def j(r):
    try:
        return json.loads(r.body.decode('utf-8'))
    except ValueError:
        return None


d = tmpdir()
fpath = os.path.join(d, 'hello.txt')
with open(fpath, 'w') as f:
    f.write('file body\n')

p2 = free_port()
with Server(argv=[SRV, '{port}', str(p2), fpath]) as srv:
    p = srv.port
    ok(wait_until(lambda: 'bad route error: bad route pattern "/bad/:x/:x": duplicate'
                  in srv.log_text(), 3), 'a bad pattern is refused with a message')
    like(srv.log_text(), r'bad method error: bad method list "FETCH"',
         'an unknown method is refused with a message')

    r = call(p, 'GET', '/params/x%20y/b/c%2Fd')
    is_(j(r), {'a': 'x y', 'rest': 'b/c/d'}, 'route params are decoded segments')
    is_(r.headers.get('x-hook'), 'all', 'the "/" hook ran')
    r = call(p, 'GET', '/params/one')
    is_(j(r), {'a': 'one', 'rest': None}, 'absent :rest* is null')

    r = call(p, 'GET', '/query?q=a+b%26c&n=1&q=second')
    is_(j(r), {'q': 'a b&c', 'n': '1'}, 'query decoded, first value wins')
    r = call(p, 'GET', '/query?q=%zz')
    is_(j(r), {'q': None, 'n': None}, 'malformed query: no pairs')
    many = '&'.join('k%d=v' % i for i in range(150)) + '&q=late'
    r = call(p, 'GET', '/query?' + many)
    is_(j(r).get('q'), None, 'over APP_MAX_PAIRS pairs: none kept')

    r = call(p, 'GET', '/cookies', {'Cookie': 'a=1; b="quoted"; junk; c = spaced ;a=2'})
    is_(j(r), {'a': '1', 'b': 'quoted', 'c': 'spaced'}, 'cookies parsed (quotes, spaces, junk)')

    r = call(p, 'POST', '/form', {'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8'},
             'x=%C3%A9t%C3%A9&y=2')
    is_(j(r), {'x': '\u00e9t\u00e9'}, 'form body decoded')
    r = call(p, 'POST', '/form', {'Content-Type': 'text/plain'}, 'x=1')
    is_(j(r), {'x': None}, 'form helper ignores other content types')

    doc = {'a': [1, 2.5, None, True], 'b': {'c': '\u2713'}}
    r = call(p, 'PUT', '/json', {'Content-Type': 'application/json; charset=utf-8'}, json.dumps(doc))
    is_(j(r), doc, 'JSON body parsed and echoed')
    r = call(p, 'POST', '/json', {'Content-Type': 'application/problem+json'}, '[1]')
    is_(j(r), [1], '+json media type accepted')
    r = call(p, 'POST', '/json', {'Content-Type': 'application/json'}, '[' + '1,' * 600 + '1]')
    is_(r.status, 413, 'JSON over the app limit: 413')
    r = call(p, 'POST', '/json', {'Content-Type': 'application/json'}, '[' * 9 + ']' * 9)
    is_(r.status, 400, 'JSON deeper than the app limit: 400')
    like(j(r).get('detail', ''), 'nesting too deep', '... says why')
    r = call(p, 'POST', '/json', {}, '{}')
    is_(r.status, 415, 'JSON without Content-Type: 415')

    r = call(p, 'GET', '/redirect')
    is_(r.status, 303, 'redirect status')
    is_(r.headers.get('location'), '/target?x=1', 'redirect Location')
    r = call(p, 'GET', '/bad-redirect')
    is_(r.status, 500, 'redirect with a non-3xx status: 500')

    r = call(p, 'GET', '/file')
    is_((r.status, r.body), (200, b'file body\n'), 'app_file sends the file')
    like(r.headers.get('content-type', ''), '^text/plain', '... with a guessed type')
    r = call(p, 'GET', '/missing-file')
    is_(r.status, 404, 'missing file: 404')

    r = call(p, 'GET', '/setcookie')
    is_(r.body, b'refused=7 set=2', 'every invalid Set-Cookie refused, valid ones set')
    is_(r.all('set-cookie'),
        ['sid=abc123; Max-Age=0; Path=/; Domain=example.test; SameSite=Strict; Secure; HttpOnly',
         'plain='], 'Set-Cookie attributes')

    t0 = time.monotonic()
    r = call(p, 'GET', '/async/7')
    is_(j(r), {'late': '7'}, 'async handler answers later with its params intact')
    ok(time.monotonic() - t0 >= 0.05, '... after the timer')
    s = socket.create_connection(('127.0.0.1', p))
    s.sendall(req('GET', '/async/gone'))
    s.close()                      # the client leaves before the answer
    time.sleep(0.15)
    r = call(p, 'GET', '/async/8')
    is_(j(r), {'late': '8'}, 'a client that left early does not break the next one')

    r = call(p, 'GET', '/private')
    is_(r.status, 401, 'hook stops the chain: 401')
    is_(r.headers.get('x-hook'), None, '... later hooks did not run')
    r = call(p, 'GET', '/private/x', {'X-Token': 't'})
    is_((r.status, r.body), (200, b'secret'), 'hook lets a good token through')
    r = call(p, 'GET', '/privateer', {'X-Token': 'nope'})
    is_(r.status, 404, 'hook prefix stops at a segment boundary')
    t0 = time.monotonic()
    r = call(p, 'GET', '/slowauth')
    is_((r.status, r.body), (200, b'secret'), 'async hook resumes the chain with app_next')
    ok(time.monotonic() - t0 >= 0.025, '... after its timer')

    r = call(p, 'GET', '/stream')
    ok(r.chunked and r.body == b'piece\n' * 3, 'streamed answer is chunked and complete')

    r = call(p, 'OPTIONS', '*')
    is_(r.status, 204, 'OPTIONS *: 204')
    is_(r.headers.get('allow'), 'GET, HEAD, POST, PUT, OPTIONS', '... Allow: every routed method')
    r = call(p, 'HEAD', '/query?q=1')
    is_((r.status, r.body), (200, b''), 'HEAD through a GET route')

    r = call(p2, 'GET', '/two')
    is_((r.status, r.body), (200, b'two'), 'second app on the same loop')
    r = call(p2, 'GET', '/other')
    is_((r.status, r.body), (418, b'fallback'), 'fallback instead of 404')
    r = call(p2, 'POST', '/two', body='x')
    is_(r.status, 405, 'second app: 405')

    # A slow request in flight when TERM arrives still gets its answer.
    s = socket.create_connection(('127.0.0.1', p))
    s.sendall(req('GET', '/async/last', {'Connection': 'close'}))
    time.sleep(0.01)
    srv.proc.send_signal(signal.SIGTERM)
    data = b''
    s.settimeout(3)
    try:
        while True:
            got = s.recv(4096)
            if not got:
                break
            data += got
    except OSError:
        pass
    s.close()
    r = parse_response(data)[0] if data else None
    ok(r is not None and j(r) == {'late': 'last'}, 'in-flight request finished during graceful stop')
    try:
        code = srv.proc.wait(timeout=8)
    except subprocess.TimeoutExpired:
        code = None
    is_(code, 0, 'both apps stopped on SIGTERM, exit 0')
    like(srv.log_text(), 'stopped rc=0', 'app_run_many returned 0')

done_testing()
