#!/usr/bin/env python3
# demo.t - `weaprous demo`: the whole local stack from the source tree on its
# fixed ports (proxy 8080 + status 8081, backends 9000/9001, tracker 8000,
# peers 7001/7002 with P2P 7101/7102): the banner with the URLs, login
# through the proxy on either backend, the tracker and both peers by Host,
# alice's message reaching bob through the running demo (both signed in and
# in general by the demo itself), the proxy status, nothing reachable on a
# non-loopback address, Ctrl-C stopping every part, a second run keeping
# the history, a port in use said on the terminal, and a part that dies
# taking the demo down with a non-zero status.

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import (binary, diag, done_testing, is_, like, ok, parse_response, raw,  # noqa: E402
                    req, skip, skip_all, srcdir, tmpdir, wait_until)

PORTS = (8080, 8081, 9000, 9001, 8000, 7001, 7002, 7101, 7102)


def busy(port):
    with socket.socket() as s:
        return s.connect_ex(('127.0.0.1', port)) == 0


def get(port, target='/', host='127.0.0.1', headers=(), method='GET', body=b''):
    data = raw(port, req(method, target, list(headers) + [('Connection', 'close')],
                         body=body, host=host), timeout=5)
    return parse_response(data)[0]


def start(top):
    out = open(os.path.join(top, 'demo.out'), 'w+')
    p = subprocess.Popen([binary(), 'demo', '--root', srcdir(), '--run-dir',
                          os.path.join(top, 'run'), '--db', os.path.join(top, 'demo.db')],
                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return p, out


def children(pid):
    """The pids of pid's child processes."""
    r = subprocess.run(['pgrep', '-P', str(pid)], capture_output=True, text=True)
    return [int(x) for x in r.stdout.split()]


def cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid) as f:
            return f.read()
    except OSError:
        return ''


def exit_status(p):
    """The demo's exit status within 15 s; None (and killed) when it hangs."""
    try:
        return p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        return None


def text(out):
    out.flush()
    with open(out.name) as f:
        return f.read()


if any(busy(p) for p in PORTS):
    skip_all('a demo port (%s) is in use on this machine' % ', '.join(map(str, PORTS)))

top = tmpdir()
p, out = start(top)
ok(wait_until(lambda: 'demo is up' in text(out), 20), 'the demo says it is up')
banner = text(out)
for url in ('http://127.0.0.1:8080/', 'http://tracker.localhost:8080/',
            'http://127.0.0.1:8081/__status'):
    ok(url in banner, 'the banner prints ' + url)

r = get(8080)
is_(r.status, 401, 'through the proxy: the index needs a login')
body = b'username=alice&password=alice'
r = get(8080, '/login', method='POST', body=body,
        headers=[('Content-Type', 'application/x-www-form-urlencoded')])
is_(r.status, 200, 'the demo account alice/alice logs in through the proxy')
cookie = '; '.join(v.split(';')[0] for v in r.all('set-cookie'))
codes = [get(8080, headers=[('Cookie', cookie)]).status for _ in range(4)]
is_(codes, [200] * 4, 'the session opens the index on both backends (shared database)')
r = get(8080, host='tracker.localhost:8080')
like(r.body.decode(errors='replace'), r'<title>WeApRous tracker', 'the tracker by Host')
st = json.loads(get(8081, '/__status').body)
servers = [s['server'] for pool in st['pools'] for s in pool['servers']]
ok('127.0.0.1:9000' in servers and '127.0.0.1:9001' in servers, 'the proxy pools the two backends')
served = sum(s['requests'] for pool in st['pools'] for s in pool['servers']
             if s['server'] in ('127.0.0.1:9000', '127.0.0.1:9001'))
ok(served >= 6, 'requests reached the backends (%d)' % served)

# --- the peers, signed in by the demo, chat through the proxy ---------------
for user in ('alice', 'bob'):
    r = get(8080, '/', host='%s.localhost:8080' % user)
    is_(r.status, 200, "%s's chat page through the proxy" % user)
    like(r.headers.get('content-security-policy', ''), r"script-src 'self'",
         "%s's page forbids inline script" % user)


def peer_json(user, method, target, body=None, token=None):
    headers = [('Content-Type', 'application/json')]
    if token:
        headers.append(('Authorization', 'Bearer ' + token))
    r = get(8080, target, host='%s.localhost:8080' % user, method=method,
            headers=headers, body=json.dumps(body).encode() if body is not None else b'')
    return r.status, (json.loads(r.body) if r.body else None)


tokens = {}
for user in ('alice', 'bob'):
    st, doc = peer_json(user, 'POST', '/login', {'username': user, 'password': user})
    is_(st, 200, '%s signs in on her peer through the proxy' % user)
    tokens[user] = doc and doc['token']
    st, doc = peer_json(user, 'GET', '/channels', token=tokens[user])
    ok(st == 200 and any(c['name'] == 'general' for c in doc['channels']),
       '%s is already in general (the demo joined it)' % user)
st, m = peer_json('alice', 'POST', '/broadcast-peer',
                  {'channel': 'general', 'text': 'hello bob, from the demo'}, tokens['alice'])
is_(st, 201, 'alice sends to general')


def bob_has(text):
    st, doc = peer_json('bob', 'GET', '/channels/general/messages', token=tokens['bob'])
    return st == 200 and any(x['text'] == text for x in doc['messages'])


ok(wait_until(lambda: bob_has('hello bob, from the demo'), 10), 'bob has it, peer to peer')

# the same in a real browser: two tabs on the two *.localhost names
node = shutil.which('node')
if node:
    r = subprocess.run([node, os.path.join(srcdir(), 't', 'browser', 'demo_chat.js')],
                       capture_output=True, text=True, timeout=120)
    if r.returncode == 77 and not os.environ.get('WR_REQUIRE_ALL'):
        skip(r.stdout.strip(), 1)
    elif not is_(r.returncode, 0, 'in Chromium, alice and bob chat through '
                 'http://alice.localhost:8080/ and http://bob.localhost:8080/'):
        diag(r.stdout + r.stderr)
else:
    skip('node is not installed', 1)

# --- loopback only ------------------------------------------------------------
def outside_address():
    """A non-loopback IPv4 address of this machine, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(('192.0.2.1', 9))   # no packet is sent
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith('127.') else ip


ip = outside_address()
if ip is None:
    diag('no non-loopback address: the reachability check uses 127.0.0.2')
    ip = '127.0.0.2'
for port in PORTS:
    with socket.socket() as s:
        s.settimeout(2)
        ok(s.connect_ex((ip, port)) != 0, 'port %d is not reachable on %s' % (port, ip))

kids = children(p.pid)
is_(len(kids), 6, 'the demo runs six parts')
p.send_signal(signal.SIGINT)
rc = exit_status(p)
is_(rc, 0, 'Ctrl-C: the demo exits 0')
ok(wait_until(lambda: not any(busy(q) for q in PORTS), 5), 'and every part has stopped')
left = [k for k in kids if os.path.exists('/proc/%d' % k)]
is_(left, [], 'no part of the demo is left running')

# --- a port in use is said on the terminal ---------------------------------------
blocker = socket.socket()
blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
blocker.bind(('127.0.0.1', 7002))
blocker.listen(1)
p, out = start(top)
is_(exit_status(p), 1, 'with port 7002 taken the demo exits 1')
like(text(out), r'port 7002 \(peer-bob\) is already in use', 'and says which part and port')
blocker.close()
ok(wait_until(lambda: not any(busy(q) for q in PORTS), 5), 'nothing was left running')

# a part that dies stops the demo, which says which one
p, out = start(top)
ok(wait_until(lambda: 'demo is up' in text(out), 20), 'the demo starts again')
st, doc = peer_json('bob', 'POST', '/login', {'username': 'bob', 'password': 'bob'})
tokens['bob'] = doc and doc.get('token')
ok(bob_has('hello bob, from the demo'), 'a second run keeps the history')
pids = [k for k in children(p.pid) if '--server-port\x009001\x00' in cmdline(k)]
ok(len(pids) == 1, 'backend-9001 found')
if pids:
    os.kill(pids[0], signal.SIGKILL)
rc = exit_status(p)
is_(rc, 1, 'a part killed: the demo exits 1')
like(text(out), r'backend-9001 exited', 'and names the part')
ok(wait_until(lambda: not any(busy(q) for q in PORTS), 5), 'and stops the others')
done_testing()
