#!/usr/bin/env python3
# demo.t - `weaprous demo`: the whole local stack from the source tree on its
# fixed ports (proxy 8080 + status 8081, backends 9000/9001, tracker 8000):
# the banner with the URLs, login through the proxy on either backend, the
# tracker by Host, the proxy status, Ctrl-C stopping every part, and a part
# that dies taking the demo down with a non-zero status.

import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import (binary, done_testing, is_, like, ok, parse_response, raw,  # noqa: E402
                    req, skip_all, srcdir, tmpdir, wait_until)

PORTS = (8080, 8081, 9000, 9001, 8000)


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

p.send_signal(signal.SIGINT)
rc = exit_status(p)
is_(rc, 0, 'Ctrl-C: the demo exits 0')
ok(wait_until(lambda: not any(busy(q) for q in PORTS), 5), 'and every part has stopped')

# a part that dies stops the demo, which says which one
p, out = start(top)
ok(wait_until(lambda: 'demo is up' in text(out), 20), 'the demo starts again')
pids = subprocess.run(['pgrep', '-f', '%s backend --server-ip 127.0.0.1 --server-port 9001' % binary()],
                      capture_output=True, text=True).stdout.split()
ok(len(pids) == 1, 'backend-9001 found')
if pids:
    os.kill(int(pids[0]), signal.SIGKILL)
rc = exit_status(p)
is_(rc, 1, 'a part killed: the demo exits 1')
like(text(out), r'backend-9001 exited', 'and names the part')
ok(wait_until(lambda: not any(busy(q) for q in PORTS), 5), 'and stops the others')
done_testing()
