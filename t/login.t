#!/usr/bin/env python3
# login.t - the assignment's Task 1A/1B on real `weaprous backend` processes:
# right/wrong password, unknown user, no cookie, forged session, bare
# auth=true with the compatibility switch off and on, logout then reuse,
# form and JSON, Origin (CSRF), body/media-type errors, rate limits per
# address and per account, disabled account, expiry, restart and kill -9
# (the session survives, integrity_check passes), two backends on one
# database, and no usable token or password in the database file.
import hashlib
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import *  # noqa: E402,F403

WWW = os.path.join(srcdir(), 'www')
STATIC = os.path.join(srcdir(), 'static')
TOKEN_RE = re.compile(r'^session=([0-9a-f]{64});')


def http(port, method, path, headers=None, body=b'', src=None):
    """One request on its own connection (Connection: close); src binds the
    client to a loopback address of our choice (per-address limits)."""
    h = dict(headers or {})
    h.setdefault('Connection', 'close')
    if method == 'POST' and not body:
        h.setdefault('Content-Length', '0')   # as browsers send an empty form
    data = req(method, path, h, body, host='127.0.0.1:%d' % port)
    if src is None:
        out = raw(port, data, timeout=10)
    else:
        out = bytearray()
        with socket.socket() as s:
            s.settimeout(10)
            s.bind((src, 0))
            s.connect(('127.0.0.1', port))
            s.sendall(data)
            while True:
                got = s.recv(65536)
                if not got:
                    break
                out += got
        out = bytes(out)
    return parse_response(out, head=(method == 'HEAD'))[0]


def form(user, pw):
    return 'username=%s&password=%s' % (user, pw)


def login(port, user, pw, json_body=False, src=None, extra=None):
    if json_body:
        import json
        body = json.dumps({'username': user, 'password': pw})
        h = {'Content-Type': 'application/json'}
    else:
        body = form(user, pw)
        h = {'Content-Type': 'application/x-www-form-urlencoded'}
    h.update(extra or {})
    return http(port, 'POST', '/login', h, body, src=src)


def token_of(r):
    for c in r.all('set-cookie'):
        m = TOKEN_RE.match(c)
        if m:
            return m.group(1)
    return None


def check(cond, name, got):
    """ok(cond, name) that shows what it got when it fails."""
    if not ok(cond, name):
        diag('     got: %r' % (got,))


def cookies(r):
    return r.all('set-cookie') if r else None


def get_index(port, cookie):
    return http(port, 'GET', '/', {'Cookie': cookie} if cookie else {})


def user_cmd(db, *args, stdin=''):
    return subprocess.run([binary(), 'user'] + list(args) + ['--db', db],
                          input=stdin.encode(), capture_output=True, timeout=30)


def backend(db, *extra):
    return Server('backend', '--www', WWW, '--static', STATIC, '--db', db, *extra)


def test_matrix(db):
    with backend(db) as srv:
        p = srv.port
        like(srv.log_text(), r'created default account admin/password; change it with: '
             r'weaprous user passwd admin', 'fresh database: the log says admin/password')
        r = get_index(p, None)
        is_(r.status, 401, 'GET / without cookie: 401')
        like(r.body.decode(), r'action="/login"', '401 page carries the login form')
        isnt(r.headers.get('www-authenticate'), None, '401 has WWW-Authenticate')
        is_(http(p, 'GET', '/index.html').status, 401, 'GET /index.html without cookie: 401')
        is_(http(p, 'GET', '/css/../index.html').status, 401,
            'GET /css/../index.html without cookie: 401 (the check sees the path without dots)')
        is_(http(p, 'GET', '/login.html').status, 200, 'login.html is public')
        is_(http(p, 'GET', '/css/site.css').status, 200, 'css is public')
        is_(http(p, 'GET', '/login').status, 200, 'GET /login shows the login page')

        r = login(p, 'admin', 'password')
        is_(r.status, 200, 'form login: 200')
        like(r.body.decode(), r'Welcome', 'answer is the index page')
        tok = token_of(r)
        check(tok is not None, 'session cookie: 64 hex chars', cookies(r))
        sc = [c for c in r.all('set-cookie') if c.startswith('session=')]
        check(sc and all(a in sc[0] for a in ('HttpOnly', 'SameSite=Lax', 'Path=/', 'Max-Age=')),
              'session cookie is HttpOnly, SameSite=Lax, Path=/, Max-Age', sc)
        check(any(c.startswith('auth=true') for c in r.all('set-cookie')),
              'Set-Cookie: auth=true (the assignment)', cookies(r))
        r = get_index(p, 'session=%s' % tok)
        is_(r.status, 200, 'GET / with the session: 200')
        like(r.body.decode(), r'Welcome', 'index page served')
        is_(http(p, 'GET', '/index.html', {'Cookie': 'a=b; session=%s; c=d' % tok}).status,
            200, 'session found among other cookies')
        r = http(p, 'GET', '/css/./../index.html', {'Cookie': 'session=%s' % tok})
        is_((r.status, 'Welcome' in r.body.decode()), (200, True),
            'GET /css/./../index.html with the session: the index page')
        r = http(p, 'HEAD', '/', {'Cookie': 'session=%s' % tok})
        is_((r.status, r.body), (200, b''), 'HEAD / with the session')

        r = login(p, 'admin', 'password', json_body=True)
        check(r.status == 200 and token_of(r) and token_of(r) != tok, 'JSON login: 200, a new token',
              (r.status, cookies(r)))
        is_(login(p, 'Admin', 'password').status, 200, 'user names ignore case')

        wrong = login(p, 'admin', 'wrong')
        unknown = login(p, 'nosuchuser', 'wrong')
        is_(wrong.status, 401, 'wrong password: 401')
        is_(unknown.status, 401, 'unknown user: 401')
        check(wrong.body == unknown.body and token_of(wrong) is None and
              sorted(k for k, _ in wrong.header_list if k.lower() != 'date') ==
              sorted(k for k, _ in unknown.header_list if k.lower() != 'date'),
              'same answer for unknown user and wrong password', (wrong, unknown))
        is_(login(p, 'admin', '', json_body=True).status, 401, 'empty password: 401')
        is_(http(p, 'POST', '/login', {'Content-Type': 'application/json'}, '{}').status, 401,
            'JSON without fields: 401')

        is_(http(p, 'GET', '/', {'Authorization': 'Bearer %s' % tok}).status, 200,
            'Authorization: Bearer <token> works too')
        is_(http(p, 'GET', '/', {'Authorization': 'Bearer ' + 'e' * 64}).status, 401,
            'forged Bearer token: 401')
        is_(get_index(p, 'session=' + '0' * 64).status, 401, 'forged session: 401')
        is_(get_index(p, 'session=' + tok.upper()).status, 401, 'altered token: 401')
        is_(get_index(p, 'session=xyz').status, 401, 'malformed session: 401')
        is_(get_index(p, 'auth=true').status, 401, 'bare auth=true, switch off: 401')

        is_(http(p, 'POST', '/login', {'Content-Type': 'text/plain'}, 'x').status, 415,
            'other media type: 415')
        is_(http(p, 'POST', '/login', {'Content-Type': 'application/json'}, '{"username":').status,
            400, 'malformed JSON: 400')
        is_(http(p, 'POST', '/login', {'Content-Type': 'application/x-www-form-urlencoded'},
                 'username=%zz&password=x').status, 400, 'malformed form: 400')
        is_(http(p, 'POST', '/login', {'Content-Type': 'application/x-www-form-urlencoded'},
                 'username=admin&password=' + 'x' * 10000).status, 413, 'oversized login body: 413')
        r = http(p, 'GET', '/logout')
        is_((r.status, r.headers.get('allow')), (405, 'POST'), 'GET /logout: 405, Allow: POST')
        is_(http(p, 'DELETE', '/').status, 405, 'DELETE /: 405')

        r = login(p, 'admin', 'password', extra={'Origin': 'http://evil.example'})
        is_((r.status, token_of(r)), (403, None), 'cross-site Origin: 403, no session')
        is_(login(p, 'admin', 'password', extra={'Origin': 'null'}).status, 403, 'Origin null: 403')
        is_(login(p, 'admin', 'password', extra={'Origin': 'http://127.0.0.1:%d' % p}).status,
            200, 'same Origin: 200')

        r = http(p, 'POST', '/logout', {'Cookie': 'session=%s' % tok,
                                        'Origin': 'http://evil.example'})
        is_(r.status, 403, 'cross-site logout refused')
        is_(get_index(p, 'session=%s' % tok).status, 200, '... and the session still works')
        r = http(p, 'POST', '/logout', {'Cookie': 'session=%s' % tok})
        is_(r.status, 303, 'logout: 303')
        check(any(c.startswith('session=;') and 'Max-Age=0' in c for c in r.all('set-cookie')) and
              any(c.startswith('auth=;') and 'Max-Age=0' in c for c in r.all('set-cookie')),
              'logout expires both cookies', cookies(r))
        is_(get_index(p, 'session=%s' % tok).status, 401, 'token after logout: 401')

        user_cmd(db, 'add', 'bob', stdin='bob-pass\n')
        r = login(p, 'bob', 'bob-pass')
        btok = token_of(r)
        check(r.status == 200 and btok, 'account added by `weaprous user` logs in at once',
              (r.status, cookies(r)))
        user_cmd(db, 'disable', 'bob')
        is_(get_index(p, 'session=%s' % btok).status, 401, 'disabled account: session refused')
        is_(login(p, 'bob', 'bob-pass').status, 401, 'disabled account: login refused')
        return tok


def test_rate_limit(db):
    user_cmd(db, 'add', 'carol', stdin='carol-pass\n')
    user_cmd(db, 'add', 'dave', stdin='dave-pass\n')
    with backend(db, '--login-rate-max', '3', '--login-rate-window', '4') as srv:
        p = srv.port
        t0 = time.monotonic()
        codes = [login(p, 'carol', 'bad', src='127.0.0.1').status for _ in range(3)]
        is_(codes, [401, 401, 401], 'three failures answered 401')
        r = login(p, 'carol', 'carol-pass', src='127.0.0.1')
        is_(r.status, 429, 'fourth try, even right: 429')
        ra = r.headers.get('retry-after', '')
        check(ra.isdigit() and 1 <= int(ra) <= 4, 'Retry-After within the window', ra)
        is_(login(p, 'dave', 'dave-pass', src='127.0.0.1').status, 429,
            'limited address: another account also 429')
        is_(login(p, 'dave', 'dave-pass', src='127.0.0.2').status, 200,
            'another address, another account: 200')
        is_(login(p, 'carol', 'carol-pass', src='127.0.0.2').status, 429,
            'limited account from another address: 429')
        left = 4.2 - (time.monotonic() - t0)
        if left > 0:
            time.sleep(left)
        is_(login(p, 'carol', 'carol-pass', src='127.0.0.1').status, 200,
            'after the window: 200')


def test_compat(db):
    with backend(db, '--compat-auth-cookie') as srv:
        p = srv.port
        is_(get_index(p, 'auth=true').status, 200, 'switch on: bare auth=true grants the index')
        is_(get_index(p, 'auth=false').status, 401, 'switch on: auth=false does not')
        is_(get_index(p, 'session=%s; auth=true' % ('f' * 64)).status, 200,
            'switch on: forged session + auth=true passes (as the assignment reads)')


def max_age(r, name):
    """Max-Age of cookie `name` in r, or None."""
    for c in r.all('set-cookie'):
        m = re.match(r'%s=[^;]*;.*\bMax-Age=(-?\d+)' % name, c)
        if m:
            return int(m.group(1))
    return None


def stored_times(db, tok):
    """(created_at, expires_at) of the session of token tok, from the
    database: the instants the backend itself used."""
    c = sqlite3.connect(db)
    row = c.execute('SELECT created_at, expires_at FROM sessions WHERE token_hash = ?',
                    (hashlib.sha256(tok.encode()).hexdigest(),)).fetchone()
    c.close()
    return row


def test_expiry(db):
    with backend(db, '--session-lifetime', '2') as srv:
        p = srv.port
        r = login(p, 'admin', 'password')
        tok = token_of(r)
        row = stored_times(db, tok) if tok else None
        is_(row and row[1] - row[0], 2, 'the stored session lasts the lifetime')
        is_(max_age(r, 'session'), row and row[1] - row[0],
            'Max-Age follows the lifetime, from the instant of the stored expiry')
        is_(max_age(r, 'auth'), max_age(r, 'session'), 'auth=true has the same Max-Age')
        is_(get_index(p, 'session=%s' % tok).status, 200, 'fresh session works')
        # valid while expires_at > now: 401 from the second expires_at on
        expired = wait_until(lambda: get_index(p, 'session=%s' % tok).status == 401,
                             timeout=10, step=0.1)
        now = time.time()
        check(expired and row and now >= row[1], 'expired session: 401, once expires_at is past',
              (expired, now, row))


def test_durability(db):
    srv = backend(db).start()
    tok = token_of(login(srv.port, 'admin', 'password'))
    srv.stop()
    srv2 = backend(db).start()
    is_(get_index(srv2.port, 'session=%s' % tok).status, 200, 'session survives a restart')
    tok2 = token_of(login(srv2.port, 'admin', 'password'))
    srv2.stop(sig=9)
    srv3 = backend(db).start()
    is_(get_index(srv3.port, 'session=%s' % tok2).status, 200, 'session survives kill -9')
    srv3.stop()
    c = sqlite3.connect(db)
    is_(c.execute('PRAGMA integrity_check').fetchone()[0], 'ok', 'integrity_check after kill -9')
    c.close()
    return tok2


def test_two_backends(db):
    with backend(db) as a, backend(db) as b:
        tok = token_of(login(a.port, 'admin', 'password'))
        is_(get_index(b.port, 'session=%s' % tok).status, 200,
            'a session made on one backend works on the other')
        http(b.port, 'POST', '/logout', {'Cookie': 'session=%s' % tok})
        is_(get_index(a.port, 'session=%s' % tok).status, 401,
            'logout on one backend ends it on the other')
        return tok


def test_nothing_readable(db, tokens):
    data = b''
    for suffix in ('', '-wal'):
        if os.path.exists(db + suffix):
            with open(db + suffix, 'rb') as f:
                data += f.read()
    check(data and not any(t.encode() in data for t in tokens if t),
          'no session token in the database files',
          '%d bytes read, tokens found: %r' % (len(data), [t for t in tokens if t and t.encode() in data]))
    for pw in (b'bob-pass', b'carol-pass', b'dave-pass'):
        check(pw not in data, 'password %s not in the database files' % pw.decode(),
              'found at offset %d' % data.find(pw))


def main():
    d = tmpdir('login-')
    db = os.path.join(d, 'w.db')
    tokens = [test_matrix(db)]
    test_rate_limit(db)
    test_compat(db)
    test_expiry(db)
    tokens.append(test_durability(db))
    tokens.append(test_two_backends(db))
    test_nothing_readable(db, tokens)
    done_testing()


main()
