#!/usr/bin/env python3
# t/chaos.t - a whole stack under hostile input.  Two backends on one
# database, a tracker on its own, the sample app, a WebSocket echo server,
# and a proxy in front of them all take, for WR_CHAOS_SECONDS (default 20),
# random bytes, mutated valid requests (bit flips, truncation, CRLF damage,
# huge lengths and chunk sizes, tiny chunks, header floods, NUL and control
# bytes, invalid UTF-8 and deep nesting in JSON, wrong media types,
# slowloris, resets mid-request and mid-response, garbage pipelined behind a
# valid request, pipelines nobody reads, broken WebSocket upgrades) while
# legitimate clients log in, register, heart-beat, join channels and post.
# Then: every process alive and answering, every legitimate operation got
# the right answer, no sanitizer report, bounded memory, no raw control byte
# in any log, the tracker and a backend killed (SIGKILL) mid-write lose
# nothing they confirmed, and both databases intact with everything the
# legitimate traffic stored.  Defects earlier storms found stay as named
# test points ("reductions"), each with the file and function at fault.
#
# Randomness is seeded: the seed is printed; WR_CHAOS_SEED=N replays the
# same inputs (each worker draws from its own generator, so the inputs do
# not depend on timing).  Every anomaly is shown with the worker, the case
# number and the bytes sent.
import hashlib
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import *  # noqa: E402,F403
from proxy_helpers import Proxy  # noqa: E402

SANITIZED = bool(os.environ.get('WR_SANITIZE_FLAGS'))
SEED = int(os.environ.get('WR_CHAOS_SEED') or random.SystemRandom().randrange(1 << 32))
STORM_SECONDS = float(os.environ.get('WR_CHAOS_SECONDS', '20'))
CHAOS_WORKERS = 6             # threads sending hostile input
ANSWER_TIMEOUT = 10.0 if SANITIZED else 5.0   # a server answers or closes by then
SLOW_BYTE_DELAY = 0.015       # slowloris: far below the 10 s header timeout
RSS_LIMIT_KIB = 64 * 1024     # every process after the storm (caps hold)
RSS_LIMIT_SAN_KIB = 96 * 1024   # the same under ASan (shadow, quarantine)
BIG_FILE = 4 << 20            # a static asset for resets mid-response
WEB_USERS = 4                 # backend accounts the legitimate clients use
MAX_SHOWN = 12                # anomalies printed per kind

diag('seed %d (replay: WR_CHAOS_SEED=%d), storm %gs, sanitizers %s'
     % (SEED, SEED, STORM_SECONDS, 'on' if SANITIZED else 'off'))


# --- small HTTP client pieces ---------------------------------------------

def http(port, method, path, host, headers=(), body=b'', timeout=10):
    """One request on its own connection (Connection: close); returns a
    Response or None when the answer is missing or malformed."""
    hs = [('Connection', 'close')] + list(headers)
    try:
        data = raw(port, req(method, path, hs, body, host=host), timeout=timeout)
        return parse_response(data, head=method == 'HEAD')[0]
    except (OSError, ValueError):
        return None


def jbody(r):
    try:
        return json.loads(r.body)
    except (ValueError, AttributeError, TypeError):
        return None


def cookie(r, name):
    for v in (r.all('set-cookie') if r else []):
        m = re.match(r'%s=([^;]*)' % name, v)
        if m:
            return m.group(1)
    return None


def rst_close(s):
    """Close with a reset (SO_LINGER 0) instead of a FIN."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    except OSError:
        pass
    s.close()


def read_all(s, timeout, until=None):
    """Bytes until the peer closes; (data, how) with how 'closed', 'reset'
    or 'timeout', or 'until' as soon as until(data) holds."""
    out = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        if until is not None and until(bytes(out)):
            return bytes(out), 'until'
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(out), 'timeout'
        s.settimeout(left)
        try:
            got = s.recv(65536)
        except socket.timeout:
            return bytes(out), 'timeout'
        except OSError:
            return bytes(out), 'reset'
        if not got:
            return bytes(out), 'closed'
        out += got


STATUS_LINE = re.compile(rb'^HTTP/1\.[01] ([1-5][0-9][0-9])[ \r]')


def statuses(data):
    """Status codes of the responses in data (best effort over pipelined
    answers), or None when data does not start with a status line."""
    if not data:
        return []
    if not STATUS_LINE.match(data):
        return None
    out = []
    rest = data
    while rest:
        m = STATUS_LINE.match(rest)
        if not m:
            break
        out.append(int(m.group(1)))
        try:
            _, rest = parse_response(rest)
        except ValueError:
            break
    return out


# --- the stack ---------------------------------------------------------------

tmp = tmpdir('wrchaos-')
rng0 = random.Random(SEED)
bdb = os.path.join(tmp, 'backend.db')
tdb = os.path.join(tmp, 'tracker.db')
www = os.path.join(tmp, 'www')
static = os.path.join(tmp, 'static')
shutil.copytree(os.path.join(srcdir(), 'www'), www)
shutil.copytree(os.path.join(srcdir(), 'static'), static)
big = bytes(rng0.getrandbits(8) for _ in range(4096)) * (BIG_FILE // 4096)
with open(os.path.join(static, 'big.bin'), 'wb') as f:
    f.write(big)

failed = []
for name in ['web%d' % i for i in range(WEB_USERS)] + ['chaos']:
    r = subprocess.run([binary(), 'user', 'add', '--db', bdb, name],
                       input=('pw-%s\n' % name).encode(), capture_output=True)
    if r.returncode != 0:
        failed.append(name)
        diag(r.stderr.decode(errors='replace'))
ok(not failed, 'backend accounts created%s' % (' (failed: %s)' % ', '.join(failed) if failed else ''))

# The login limiters would turn every login from 127.0.0.1 into 429 after
# the storm's failed logins; the limiter is not what this test is about.
env = dict(os.environ)
if SANITIZED:
    # A smaller quarantine keeps freed memory from looking like growth.
    env['ASAN_OPTIONS'] = ':'.join(filter(None, [
        os.environ.get('ASAN_OPTIONS', ''), 'quarantine_size_mb=16']))
web_args = ['--db', bdb, '--www', www, '--static', static,
            '--login-rate-max', '1000000']
ACCESS = {n: os.path.join(tmp, n + '.access.log') for n in ('backend-1', 'tracker', 'sampleapp', 'proxy')}
b1 = Server('backend', *web_args, '--access-log', ACCESS['backend-1'], env=env).start()
b2 = Server('backend', *web_args, env=env).start()
tr = Server('tracker', '--db', tdb, '--allow-signup', '--heartbeat-interval', '60',
            '--access-log', ACCESS['tracker'],
            '--login-max-failures', '1000000', env=env).start()
app = Server(argv=[binary('weaprous-sampleapp'), '--server-ip', '127.0.0.1',
                   '--server-port', '{port}', '--user', 'alice:alice-pw',
                   '--user', 'bob:bob-pw', '--user', 'carol:carol-pw',
                   '--access-log', ACCESS['sampleapp']], env=env).start()
ws = None
if os.path.exists(binary('t/servers/ws_echo')):
    ws = Server(argv=[binary('t/servers/ws_echo'), '{port}', '65536'], env=env).start()
conf = '''status_listen 127.0.0.1:{status};
proxy_connect_timeout 2s;
host "web.test" { proxy_pass http://127.0.0.1:%d; proxy_pass http://127.0.0.1:%d; }
host "tracker.test" { proxy_pass http://127.0.0.1:%d; }
host "app.test" { proxy_pass http://127.0.0.1:%d; }
host "ws.test" { proxy_pass http://127.0.0.1:%d; }
''' % (b1.port, b2.port, tr.port, app.port, ws.port if ws else app.port)
px = Proxy(conf, extra=['--access-log', ACCESS['proxy']])
px.env = env
px.start()
SERVERS = {'backend-1': b1, 'backend-2': b2, 'tracker': tr, 'sampleapp': app,
           'proxy': px}
if ws:
    SERVERS['ws_echo'] = ws
ok(all(s.alive() for s in SERVERS.values()), 'stack started: %s' % ', '.join(SERVERS))

JSON = [('Content-Type', 'application/json')]
FORM = [('Content-Type', 'application/x-www-form-urlencoded')]

# Sessions the hostile samples use (valid requests to mutate need them).
r = http(tr.port, 'POST', '/register', 'x', JSON,
         json.dumps({'username': 'chaos', 'password': 'chaos-pw'}))
chaos_token = (jbody(r) or {}).get('token', '0' * 64)
r = http(app.port, 'PUT', '/login', 'x', JSON, b'{"username":"carol","password":"carol-pw"}')
carol_cookie = cookie(r, 'sampleapp_session') or 'x'
ok(len(chaos_token) == 64 and carol_cookie != 'x', 'sessions for the hostile samples')


# --- valid requests the storm mutates ------------------------------------------
# (role, name, bytes, expected status of the intact request)

def sample_set(hosts):
    """Valid requests per role, as {role: [(name, bytes, status)]}; hosts
    gives the Host field per role (a proxy route name, or any name for a
    direct connection)."""
    tok = [('Authorization', 'Bearer ' + chaos_token)]
    sess = [('Cookie', 'sampleapp_session=' + carol_cookie)]
    w, t, a = hosts['web'], hosts['tracker'], hosts['app']
    return {
        'web': [
            ('login', req('POST', '/login', FORM, b'username=chaos&password=pw-chaos', host=w), 200),
            ('badlogin', req('POST', '/login', JSON, b'{"username":"chaos","password":"nope"}', host=w), 401),
            ('page', req('GET', '/login.html', host=w), 200),
            ('index', req('GET', '/', [('Cookie', 'session=' + '0' * 64)], host=w), 401),
            ('asset', req('GET', '/css/site.css', [('Accept-Encoding', 'gzip')], host=w), 200),
            ('chunked', req('POST', '/login', FORM + [('Transfer-Encoding', 'chunked')],
                            b'8\r\nusername\r\n18\r\n=chaos&password=pw-chaos\r\n0\r\n\r\n',
                            host=w), 200),
        ],
        'tracker': [
            ('login', req('POST', '/login', JSON, b'{"username":"chaos","password":"chaos-pw"}', host=t), 200),
            ('getlist', req('GET', '/get-list', tok, host=t), 200),
            ('addlist', req('POST', '/add-list', JSON + tok, b'{"channel":"general"}', host=t), 200),
            ('status', req('GET', '/', host=t), 200),
            ('beat', req('POST', '/heartbeat', JSON + tok, b'{}', host=t), 404),
        ],
        'app': [
            ('login', req('PUT', '/login', JSON, b'{"username":"carol","password":"carol-pw"}', host=a), 200),
            ('hello', req('POST', '/hello', JSON + sess, b'{"message":"chaos"}', host=a), 201),
            ('gethello', req('GET', '/hello', sess, host=a), 200),
            ('nope', req('GET', '/nope', host=a), 404),
        ],
    }


DIRECT = sample_set({'web': 'localhost', 'tracker': 'localhost', 'app': 'localhost'})
ROUTE = {'web': 'web.test', 'tracker': 'tracker.test', 'app': 'app.test'}
VIA = sample_set(ROUTE)
# (label, port, role, samples)
TARGETS = [
    ('backend-1', b1.port, 'web', DIRECT['web']),
    ('backend-2', b2.port, 'web', DIRECT['web']),
    ('tracker', tr.port, 'tracker', DIRECT['tracker']),
    ('sampleapp', app.port, 'app', DIRECT['app']),
    ('proxy>web', px.port, 'web', VIA['web']),
    ('proxy>tracker', px.port, 'tracker', VIA['tracker']),
    ('proxy>app', px.port, 'app', VIA['app']),
]

# Every intact sample gets its expected answer before the storm (so that a
# wrong answer later is the storm's doing, not a wrong sample).
bad = []
for label, port, role, samples in TARGETS:
    for name, data, expect in samples:
        host = ROUTE[role] if label.startswith('proxy') else 'localhost'
        closer = req('GET', '/x', [('Connection', 'close')], host=host)
        got = statuses(raw(port, data + closer, timeout=10))
        if not got or got[0] != expect:
            bad.append('%s %s: %r, expected %d' % (label, name, got, expect))
ok(not bad, 'every intact sample gets its expected status, direct and through the proxy')
for line in bad:
    diag(line)


# --- reductions of what earlier storms found --------------------------------
# Each was a real defect; the minimal input stays here as a test point.

def head_status(port, data, timeout=5):
    got = statuses(raw(port, data, timeout=timeout))
    return got[0] if got else None


WS_HEAD = ('GET /echo HTTP/1.%d\r\nHost: ws.test\r\nConnection: Upgrade\r\n'
           'Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
           'Sec-WebSocket-Version: 13\r\n\r\n')
if ws:
    # proxy_fwd.c preq_new: the Upgrade of an HTTP/1.0 request went upstream
    # (as 1.1) and the upstream's 101 became a tunnel.
    isnt(head_status(px.port, (WS_HEAD % 0).encode(), 2), 101,
         'proxy: an HTTP/1.0 WebSocket upgrade is not tunnelled')
    is_(head_status(px.port, (WS_HEAD % 1).encode(), 2), 101,
        'proxy: the same upgrade in HTTP/1.1 is')
    # ws_handshake.c ws_handshake_check: two Sec-WebSocket-Key fields got a
    # 101 (with the first key's accept value).
    dup = (WS_HEAD % 1).replace('\r\n\r\n', '\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n')
    is_(head_status(ws.port, dup.replace('ws.test', 'localhost').encode(), 2), 400,
        'ws: a repeated Sec-WebSocket-Key gets 400')
    is_(head_status(px.port, dup.encode(), 2), 400,
        'ws: and through the proxy too')
# proxy_fwd.c proxy_fwd_handle: "https://other/x" or "*" went upstream as
# they were, routed by Host while naming another authority.
is_(head_status(px.port, b'GET https://web.test/login.html HTTP/1.1\r\nHost: app.test\r\n'
                         b'Connection: close\r\n\r\n'), 400,
    'proxy: an absolute-form target of another scheme gets 400')
is_(head_status(px.port, b'GET * HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n'), 400,
    'proxy: "*" with GET gets 400')
is_(head_status(px.port, b'GET http://web.test/login.html HTTP/1.1\r\nHost: app.test\r\n'
                         b'Connection: close\r\n\r\n'), 200,
    'proxy: an http:// absolute-form target is routed by its authority')


# server_txn.c txn_log: a head refused once complete (Content-Length with
# Transfer-Encoding, a bad length, 501 coding) was logged with its method and
# target unterminated: every byte in the input buffer up to a NUL went into
# the log line (CR, LF, the body, stale bytes of an earlier connection), so
# a client could write lines of its own into the access log.
FORGED = b'127.0.0.1 - - [01/Jan/2000:00:00:00 +0000] "GET /forged HTTP/1.1" 200 0 "-" "-"'
raw(b1.port, b'GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n'
    b'\r\n\n' + FORGED + b'\n', timeout=2)
with open(ACCESS['backend-1'], 'rb') as f:
    logged = f.read()
ok(logged and not any(line.startswith(FORGED[:30]) for line in logged.split(b'\n')),
   'access log: a malformed head cannot forge a log line')
ok(b'\r' not in logged, 'access log: no raw CR')


# proxy_fwd.c up_start: socket() failing with EMFILE counted as the
# upstream's failure, so a moment of descriptor exhaustion (clients holding
# the proxy's 48 descriptors) marked the server down and every later
# request got 502 for fail_timeout.
FD_LIMIT = 48
lim = Proxy('host "web.test" { proxy_pass http://127.0.0.1:%d; }\n' % b1.port)
lim.argv = [sys.executable, '-c', 'import os, resource, sys; '
            'resource.setrlimit(resource.RLIMIT_NOFILE, (%d, %d)); '
            'os.execv(sys.argv[1], sys.argv[1:])' % (FD_LIMIT, FD_LIMIT)] + lim.argv
lim.env = env
lim.start()
hold = []
for _ in range(FD_LIMIT + 12):
    try:
        c = socket.create_connection(('127.0.0.1', lim.port), timeout=2)
        c.sendall(req('GET', '/login.html', host='web.test'))
        hold.append(c)
    except OSError:
        break
time.sleep(1.0)
for c in hold:
    rst_close(c)
is_(wait_until(lambda: head_status(lim.port, req('GET', '/login.html', [('Connection', 'close')],
                                                  host='web.test')), 5), 200,
    'proxy: after its descriptors ran out, the upstream is still up (200, not 502)')
ok('Too many open files' in lim.log_text(), 'proxy: (its descriptors did run out)')
ok('no live upstream' not in lim.log_text(), 'proxy: no server was marked down for it')
lim.stop()


# --- mutations ------------------------------------------------------------
# Each returns (bytes, check) where check is None (only the generic checks:
# well-formed answer, no hang, no 500) or a function of the statuses
# answered that returns an error text or None.

HEAD_END = b'\r\n\r\n'


def split_head(data):
    i = data.find(HEAD_END)
    return (data, b'') if i < 0 else (data[:i + 2], data[i + 4:])


def refuse_2xx(sts):
    if sts and 200 <= sts[0] < 400:
        return 'accepted (%d)' % sts[0]
    return None


def want(*codes):
    def check(sts):
        if sts and sts[0] not in codes:
            return 'answered %d, expected one of %r' % (sts[0], codes)
        return None
    return check


def m_random(rng, data, exp):
    n = rng.choice((1, 7, 64, 512, 4096, 20000))
    return bytes(rng.getrandbits(8) for _ in range(n)), None


def m_bitflip(rng, data, exp):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b), None


def m_truncate(rng, data, exp):
    return data[:rng.randrange(len(data))], refuse_2xx


def m_crlf(rng, data, exp):
    spots = [m.start() for m in re.finditer(b'\r\n', data)]
    b = data
    for _ in range(rng.randint(1, 3)):
        i = rng.choice(spots)
        rep = rng.choice((b'\r\n\r\n', b'', b'\n', b'\r', b'\n\r', b'\r\r\n', b'\r\n \r\n'))
        b = b[:i] + rep + b[i + 2:]
        spots = [m.start() for m in re.finditer(b'\r\n', b)] or [0]
    return b, None


HUGE = (b'99999999999999999999999999', b'18446744073709551615', b'18446744073709551616',
        b'9223372036854775807', b'4294967296', b'-1', b'+12', b'0x10', b'1e3', b'12 12',
        b'', b'4294967295')


def m_huge_length(rng, data, exp):
    head, body = split_head(data)
    head = re.sub(rb'(?im)^(content-length|transfer-encoding):[^\r]*\r\n', b'', head)
    v = rng.choice(HUGE)
    kind = rng.randrange(2)
    if kind == 0:       # a huge or malformed Content-Length
        return head + b'Content-Length: ' + v + HEAD_END + body, refuse_2xx
    else:               # two differing lengths, or a length with chunking
        extra = rng.choice((b'Content-Length: 3\r\nContent-Length: 4\r\n',
                            b'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n',
                            b'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n',
                            b'Transfer-Encoding: gzip, chunked\r\n'))
        return head + extra + b'\r\n' + b'3\r\nabc\r\n0\r\n\r\n', want(400, 411, 413, 501)


def m_huge_chunk(rng, data, exp):
    """A chunk size over any limit, or malformed.  The request stays
    incomplete (the server may wait for the chunk's bytes), so it goes
    with an EOF."""
    head, body = split_head(data)
    head = re.sub(rb'(?im)^(content-length|transfer-encoding):[^\r]*\r\n', b'', head)
    size = rng.choice((b'ffffffffffffffffffff', b'7fffffffffffffff', b'fffffffffffffffff0',
                       b'10000000000000000', b'-1', b'0x10', b'1;' + b'e' * 5000, b'g'))
    return (head + b'Transfer-Encoding: chunked\r\n\r\n' + size + b'\r\nabcdef\r\n0\r\n\r\n',
            refuse_2xx)


def chunked(body, sizes):
    out, i = b'', 0
    for n in sizes:
        part = body[i:i + n]
        if not part:
            break
        out += b'%x\r\n%s\r\n' % (len(part), part)
        i += n
    return out + b'0\r\n\r\n'


def m_tiny_chunks(rng, data, exp):
    head, body = split_head(data)
    head = re.sub(rb'(?im)^(content-length|transfer-encoding):[^\r]*\r\n', b'', head)
    head += b'Transfer-Encoding: chunked\r\n\r\n'
    if body and not body.endswith(b'0\r\n\r\n') and rng.random() < 0.6:
        # The real body, one byte per chunk: the same answer as intact.
        return head + chunked(body, [1] * len(body)), want(exp)
    n = rng.choice((3000, 20000, 70000))
    return head + b'1\r\na\r\n' * n + b'0\r\n\r\n', None


def m_header_flood(rng, data, exp):
    head, body = split_head(data)
    line, rest = head.split(b'\r\n', 1)
    kind = rng.randrange(5)
    if kind == 0:
        extra = b''.join(b'X-F%d: %d\r\n' % (i, i) for i in range(rng.choice((101, 500, 3000))))
    elif kind == 1:
        extra = b'X-Big: ' + b'a' * rng.choice((16384, 70000)) + b'\r\n'
    elif kind == 2:
        extra = b'Cookie: ' + b'; '.join(b'c%d=%d' % (i, i) for i in range(3000)) + b'\r\n'
    elif kind == 3:    # a request line over 8 KiB
        m, t, v = line.split(b' ')
        return m + b' ' + t + b'?' + b'q' * 9000 + b' ' + v + b'\r\n' + rest + b'\r\n' + body, \
            want(400, 414, 431)
    else:              # many fields of one name
        extra = b'Host: x\r\n' * 200
    return line + b'\r\n' + rest + extra + b'\r\n' + body, want(400, 413, 414, 431)


CTL = bytes(c for c in range(32) if c not in (9, 10, 13)) + b'\x7f'


def m_control(rng, data, exp):
    head, body = split_head(data)
    b = bytearray(head)
    for _ in range(rng.randint(1, 3)):
        b.insert(rng.randrange(1, len(b) - 2), rng.choice(CTL))
    return bytes(b) + b'\r\n' + body, refuse_2xx


BAD_UTF8 = (b'\xff', b'\xc0\xaf', b'\xed\xa0\x80', b'\xf8\x88\x80\x80\x80', b'\xe2\x82',
            b'\xc3', b'\xf4\x90\x80\x80', b'\x80')


def json_request(head, body):
    head = re.sub(rb'(?im)^(content-length|content-type|transfer-encoding):[^\r]*\r\n', b'', head)
    return head + b'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(body) + body


def reads_body(data):
    """True for the samples whose endpoint parses the request body."""
    return data.startswith((b'POST', b'PUT')) and b'/heartbeat' not in data.split(b'\r\n', 1)[0]


def m_bad_utf8(rng, data, exp):
    head, body = split_head(data)
    if not body.startswith(b'{'):
        body = b'{"username":"chaos","password":"x","message":"m","channel":"c"}'
    keys = re.findall(rb'"([a-z]+)":', body)
    obj = b'{' + b','.join(b'"%s":"a%sb"' % (k, rng.choice(BAD_UTF8)) for k in keys) + b'}'
    return json_request(head, obj), (refuse_2xx if reads_body(data) else None)


def m_deep_json(rng, data, exp):
    head, body = split_head(data)
    depth = rng.choice((65, 257, 1000, 4000, 100000))
    if rng.random() < 0.5:
        doc = b'[' * depth + b']' * depth
    else:
        doc = b'{"a":' * depth + b'1' + b'}' * depth
    if rng.random() < 0.3:
        doc = doc[:len(doc) // 2]          # unbalanced
    return json_request(head, doc), (refuse_2xx if reads_body(data) else None)


def m_wrong_type(rng, data, exp):
    head, body = split_head(data)
    if not body.startswith(b'{'):
        return data, None
    head = re.sub(rb'(?im)^content-type:[^\r]*\r\n', b'', head)
    ct = rng.choice((b'text/plain', b'application/jsonx', b'multipart/form-data; boundary=x',
                     b'application/json; charset=latin-1; ' + b'x' * 300, b'', b'*/*'))
    return head + b'Content-Type: ' + ct + HEAD_END + body, None


def m_pipelined_garbage(rng, data, exp):
    junk, _ = m_random(rng, data, exp)
    def check(sts):
        if not sts or sts[0] != exp:
            return 'the valid request first got %r, expected %d' % (sts, exp)
        return None
    return data + junk, check


MUTATORS = [m_random, m_bitflip, m_truncate, m_crlf, m_huge_length, m_huge_chunk,
            m_tiny_chunks,
            m_header_flood, m_control, m_bad_utf8, m_deep_json, m_wrong_type,
            m_pipelined_garbage]
# These leave a complete request (head and body as announced): it must be
# answered before the client's EOF (the proxy, like nginx, drops a request
# whose client half-closes before the answer).
COMPLETE = {m_huge_length, m_tiny_chunks, m_header_flood, m_control, m_bad_utf8,
            m_deep_json, m_wrong_type, m_pipelined_garbage}


# --- the storm ------------------------------------------------------------------

class Findings:
    """Anomalies by kind, thread-safe; each with enough to replay it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_kind = {}
        self.cases = 0
        self.outcomes = {}

    def add(self, kind, where, detail, payload=b''):
        with self.lock:
            self.by_kind.setdefault(kind, []).append((where, detail, payload))

    def count(self, label, outcome):
        with self.lock:
            self.cases += 1
            key = (label, outcome)
            self.outcomes[key] = self.outcomes.get(key, 0) + 1


found = Findings()
stop_at = [0.0]


def exchange(port, payload, shut=True, timeout=ANSWER_TIMEOUT):
    """Sends payload, half-closes, reads to the end: (data, how)."""
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    except OSError as e:
        return b'', 'connect:' + type(e).__name__
    try:
        try:
            s.sendall(payload)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass      # the server may close early; read what it said
        return read_all(s, timeout)
    finally:
        s.close()


def exchange_answer(port, payload, timeout=ANSWER_TIMEOUT, slow=0):
    """Sends payload (slow: that many first bytes one by one), reads until
    one whole response arrived, then half-closes and reads to the end:
    (data, how); how is 'timeout' when no whole answer came in time."""
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    except OSError as e:
        return b'', 'connect:' + type(e).__name__
    with s:
        try:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(slow):
                s.sendall(payload[i:i + 1])
                time.sleep(SLOW_BYTE_DELAY)
            s.sendall(payload[slow:])
        except OSError:
            pass      # the server may refuse early; read what it said
        out, how = read_all(s, timeout, until=whole_response)
        if how != 'until':
            return out, how
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        rest, how = read_all(s, timeout)
        return out + rest, how


def whole_response(data):
    """True when data starts with one complete response."""
    try:
        parse_response(data)
        return True
    except ValueError:
        return False


def judge(where, label, payload, data, how, check=None):
    """The generic checks on one exchange, then the case's own check."""
    sts = statuses(data)
    found.count(label, (sts[0] if sts else how))
    if how.startswith('connect'):
        found.add('refused', where, how, payload)
        return
    if sts is None:
        found.add('malformed', where, repr(data[:120]), payload)
        return
    if how == 'timeout':
        found.add('hang', where, 'no close within %gs after our EOF (answers %r)'
                  % (ANSWER_TIMEOUT, sts), payload)
    if 500 in sts:
        found.add('500', where, 'answered 500', payload)
    err = check(sts) if check else None
    if err:
        found.add('wrong', where, err, payload)


def case_mutated(rng, wid, n, tgt):
    label, port, role, samples = tgt
    name, data, exp = rng.choice(samples)
    mut = rng.choice(MUTATORS)
    payload, check = mut(rng, data, exp)
    where = 'w%d#%d %s %s/%s' % (wid, n, label, name, mut.__name__)
    if mut in COMPLETE:
        data, how = exchange_answer(port, payload)
    else:
        data, how = exchange(port, payload)
    judge(where, label, payload, data, how, check)


def case_slowloris(rng, wid, n, tgt):
    """A valid request written one byte at a time (the first 160 bytes,
    so that a case lasts a few seconds): the right answer all the same."""
    label, port, role, samples = tgt
    name, data, exp = rng.choice(samples)
    where = 'w%d#%d %s %s/slowloris' % (wid, n, label, name)
    got, how = exchange_answer(port, data, ANSWER_TIMEOUT + 160 * SLOW_BYTE_DELAY * 2,
                               slow=min(len(data), 160))
    judge(where, label, data, got, how, want(exp))


def case_reset(rng, wid, n, tgt):
    """A reset mid-request (a prefix, then RST) or mid-response (a large
    answer, a few bytes read, then RST)."""
    label, port, role, samples = tgt
    mid_response = rng.random() < 0.5
    if mid_response:
        if role == 'web':
            host = 'web.test' if label.startswith('proxy') else 'localhost'
            data = req('GET', '/big.bin', host=host) * rng.randint(1, 3)
        else:
            data = b''.join(d for _, d, _ in samples if d.startswith(b'GET')) * 20
    else:
        _, d, _ = rng.choice(samples)
        data = d[:rng.randrange(1, len(d))]
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=ANSWER_TIMEOUT)
        s.sendall(data)
        if mid_response:
            s.recv(rng.choice((1, 1000, 65536)))
        else:
            time.sleep(rng.random() * 0.05)
        rst_close(s)
        found.count(label, 'reset-' + ('response' if mid_response else 'request'))
    except OSError:
        pass


def case_pipeflood(rng, wid, n, tgt):
    """Many pipelined requests whose answers nobody reads: back-pressure
    must stop the server from queueing them all."""
    label, port, role, samples = tgt
    # GETs only: pipelined logins would fill the sample app's session ring
    # (1024, oldest replaced) and evict the sessions the other cases use.
    _, d, _ = rng.choice([x for x in samples if x[1].startswith(b'GET')])
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=2)
        s.settimeout(1.0)
        try:
            for _ in range(200):
                s.sendall(d * 20)
        except OSError:
            pass          # the server stopped reading (or closed): good
        rst_close(s)
        found.count(label, 'pipeflood')
    except OSError:
        pass


WS_KEYS = (None, '', 'short', '!!!!notbase64!!!!!!!!!==', 'dGhlIHNhbXBsZSBub25jZQ==' * 40,
           'dGhlIHNhbXBsZSBub25jZQ', 'dGhlIHNhbXBsZSBub25jZQ==\x00')


def case_ws(rng, wid, n, port, label, host):
    """An upgrade, usually broken (key, version, duplicate key, Upgrade
    value), then random frame bytes: a 101 only for a sound handshake."""
    valid = 'dGhlIHNhbXBsZSBub25jZQ=='
    key = rng.choice(WS_KEYS + (valid,))
    upgrade = rng.choice(('websocket', 'WebSocket', 'websocketx', ''))
    connection = rng.choice(('Upgrade', 'upgrade, keep-alive', 'close'))
    version = rng.choice(('13', '8', '99', 'x'))
    if rng.random() < 0.4:      # a sound handshake: garbage goes through the tunnel
        key, upgrade, connection, version = valid, 'websocket', 'Upgrade', '13'
    hs = [('Upgrade', upgrade), ('Connection', connection), ('Sec-WebSocket-Version', version)]
    if key is not None:
        hs.append(('Sec-WebSocket-Key', key))
    dup = key is not None and rng.random() < 0.2
    if dup:
        hs.append(('Sec-WebSocket-Key', 'AAAAAAAAAAAAAAAAAAAAAA=='))
    sound = (key == valid and not dup and version == '13' and upgrade.lower() == 'websocket'
             and 'upgrade' in connection.lower())
    frames = bytes(rng.getrandbits(8) for _ in range(rng.choice((0, 2, 14, 300))))
    if rng.random() < 0.3:   # a frame announcing 2^63 bytes
        frames = b'\x82\xff' + b'\x7f' + b'\xff' * 7 + b'abcd' + frames
    head = req('GET', '/echo', hs, host=host)
    where = 'w%d#%d %s ws key=%r dup=%s version=%s upgrade=%r' % (wid, n, label, key, dup,
                                                                version, upgrade)
    data, how = ws_exchange(port, head, frames, rng.random() < 0.3)
    sts = statuses(data[:data.find(b'\r\n\r\n') + 4] if b'\r\n\r\n' in data else data)
    if sts and sts[0] == 101:
        found.count(label, 101)
        if not sound:
            found.add('wrong', where, '101 for a broken handshake', head)
        if how == 'timeout':
            found.add('hang', where, 'tunnel not closed after our EOF', head + frames)
        return
    judge(where, label, head, data, how, None)


def ws_exchange(port, head, frames, reset):
    """Sends the handshake, waits for the answer's head, then the frame
    bytes (through a tunnel when it was a 101); ends with a reset or with
    an EOF and reads to the end."""
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=ANSWER_TIMEOUT)
    except OSError as e:
        return b'', 'connect:' + type(e).__name__
    with s:
        out = bytearray()
        try:
            s.sendall(head)
            while b'\r\n\r\n' not in out:
                got = s.recv(65536)
                if not got:
                    return bytes(out), 'closed'
                out += got
            s.sendall(frames)
            if reset:
                rst_close(s)
                return bytes(out), 'closed'
            s.shutdown(socket.SHUT_WR)
        except socket.timeout:
            return bytes(out), 'timeout'
        except OSError:
            return bytes(out), 'reset'
        rest, how = read_all(s, ANSWER_TIMEOUT)
        return bytes(out) + rest, how


def chaos_worker(wid):
    rng = random.Random('%d-%d' % (SEED, wid))
    n = 0
    ws_targets = [(px.port, 'proxy>ws', 'ws.test')]
    if ws:
        ws_targets.append((ws.port, 'ws_echo', 'localhost'))
    while time.monotonic() < stop_at[0]:
        n += 1
        r = rng.random()
        tgt = rng.choice(TARGETS)
        if r < 0.70:
            case_mutated(rng, wid, n, tgt)
        elif r < 0.80:
            case_reset(rng, wid, n, tgt)
        elif r < 0.84:
            case_slowloris(rng, wid, n, tgt)
        elif r < 0.86:
            case_pipeflood(rng, wid, n, tgt)
        else:
            case_ws(rng, wid, n, *rng.choice(ws_targets))


def truncation_worker(label, port, name, data):
    """The sample cut at every length, each on its own connection: an
    incomplete request never gets a success answer, and never hangs."""
    hangs = 0
    for cut in range(len(data)):
        got, how = exchange(port, data[:cut])
        where = 'truncate %s %s at %d/%d' % (label, name, cut, len(data))
        judge(where, label, data[:cut], got, how, refuse_2xx)
        if how == 'timeout':
            hangs += 1
            if hangs >= 3:
                found.add('hang', where, 'three hangs: the rest of this series skipped')
                return


# --- legitimate traffic, interleaved with the storm -----------------------

class Legit:
    """Counts legitimate operations and records every wrong answer."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ops = {}
        self.errors = []

    def check(self, role, what, cond, detail=''):
        with self.lock:
            self.ops[role] = self.ops.get(role, 0) + 1
            if not cond:
                self.errors.append('%s: %s %s' % (role, what, detail))
        return cond


legit = Legit()
kept_web = {}        # token -> user: sessions that must survive
ended_web = set()    # tokens logged out: must stay dead
trk_users = {}       # name -> {'password', 'port', 'channel'}


def st(r):
    return r.status if r else None


def web_worker(idx):
    """web<idx> logs in on one backend (directly or through the proxy) and
    uses the session on the other; every third session is logged out."""
    user, pw = 'web%d' % idx, 'pw-web%d' % idx
    ways = [(b1.port, 'localhost'), (b2.port, 'localhost'), (px.port, 'web.test')]
    k = 0
    while time.monotonic() < stop_at[0]:
        k += 1
        (lp, lh), (up, uh) = ways[k % 3], ways[(k + 1) % 3]
        r = http(lp, 'POST', '/login', lh, FORM, 'username=%s&password=%s' % (user, pw))
        tok = cookie(r, 'session')
        if not legit.check('backend', 'login %s via %d' % (user, lp),
                           st(r) == 200 and tok and b'Welcome' in r.body, repr(r)):
            continue
        r = http(up, 'GET', '/', uh, [('Cookie', 'session=' + tok)])
        legit.check('backend', 'index with a session from elsewhere', st(r) == 200 and
                    b'Welcome' in r.body, repr(r))
        if k % 3 == 0:
            r = http(up, 'POST', '/logout', uh, [('Cookie', 'session=' + tok), ('Content-Length', '0')])
            legit.check('backend', 'logout', st(r) == 303, repr(r))
            r = http(lp, 'GET', '/index.html', lh, [('Cookie', 'session=' + tok)])
            legit.check('backend', 'index after logout', st(r) == 401, repr(r))
            ended_web.add(tok)
        else:
            kept_web[tok] = user


def tcall(port, host, method, path, body=None, token=None):
    hs = list(JSON) if body is not None else []
    if token:
        hs.append(('Authorization', 'Bearer ' + token))
    r = http(port, method, path, host, hs, json.dumps(body) if body is not None else b'')
    return st(r), jbody(r)


def tracker_worker(idx):
    """New accounts register, announce their peer, heart-beat, create a
    channel, join general and find themselves in get-list."""
    k = 0
    while time.monotonic() < stop_at[0]:
        k += 1
        port, host = (tr.port, 'localhost') if k % 2 else (px.port, 'tracker.test')
        name, pw = 'lg%d-%d' % (idx, k), 'pw-%d-%d' % (idx, k)
        s, b = tcall(port, host, 'POST', '/register', {'username': name, 'password': pw})
        tok = (b or {}).get('token')
        if not legit.check('tracker', 'register ' + name, s == 201 and tok, repr((s, b))):
            continue
        trk_users[name] = {'password': pw}
        peer_port = 20000 + idx * 1000 + k
        s, b = tcall(port, host, 'POST', '/submit-info', {'port': peer_port}, tok)
        if legit.check('tracker', 'submit-info ' + name, s == 200 and (b or {}).get('online')
                       and b.get('port') == peer_port, repr((s, b))):
            trk_users[name]['port'] = peer_port
        s, b = tcall(port, host, 'POST', '/heartbeat', {}, tok)
        legit.check('tracker', 'heartbeat ' + name, s == 200 and (b or {}).get('online'), repr((s, b)))
        chan = 'ch-%d-%d' % (idx, k)
        s, b = tcall(port, host, 'POST', '/add-list', {'channel': chan}, tok)
        if legit.check('tracker', 'add-list ' + chan, s == 201 and (b or {}).get('role') == 'owner',
                       repr((s, b))):
            trk_users[name]['channel'] = chan
        s, b = tcall(port, host, 'POST', '/add-list', {'channel': 'general'}, tok)
        legit.check('tracker', 'add-list general', s == 200 and (b or {}).get('joined') is True,
                    repr((s, b)))
        s, b = tcall(port, host, 'GET', '/get-list', None, tok)
        peers = {p.get('user'): p.get('port') for p in (b or {}).get('peers', [])}
        chans = {c.get('name') for c in (b or {}).get('channels', [])}
        legit.check('tracker', 'get-list shows ' + name, s == 200 and peers.get(name) == peer_port
                    and chan in chans, repr((s, b))[:300])


def app_worker(user, pw):
    """user logs in to the sample app and posts; GET /hello gives the count
    and the last message back."""
    k, hellos, c = 0, None, None
    while time.monotonic() < stop_at[0]:
        k += 1
        port, host = (app.port, 'localhost') if k % 2 else (px.port, 'app.test')
        time.sleep(0.005)               # this app is fast: leave the others room
        if c is None or k % 100 == 0:   # sessions are a ring of 1024: few logins
            r = http(port, 'PUT', '/login', host, JSON, json.dumps({'username': user, 'password': pw}))
            c = cookie(r, 'sampleapp_session')
            if not legit.check('sampleapp', 'login ' + user, st(r) == 200 and c, repr(r)):
                continue
        sess = [('Cookie', 'sampleapp_session=' + c)]
        msg = '%s says %d' % (user, k)
        r = http(port, 'POST', '/hello', host, JSON + sess, json.dumps({'message': msg}))
        b = jbody(r) or {}
        if hellos is not None:
            legit.check('sampleapp', 'hello count', b.get('hellos') == hellos + 1, repr(b))
        hellos = b.get('hellos', hellos)
        legit.check('sampleapp', 'post hello', st(r) == 201 and b.get('echo') == msg, repr(r))
        r = http(port, 'GET', '/hello', host, sess)
        b = jbody(r) or {}
        legit.check('sampleapp', 'get hello', st(r) == 200 and b.get('last') == msg and
                    b.get('hellos') == hellos, repr(b))


# --- run it --------------------------------------------------------------------

rss_before = {n: rss_kib(s.pid) for n, s in SERVERS.items()}
started = time.monotonic()
stop_at[0] = started + STORM_SECONDS
threads = [threading.Thread(target=chaos_worker, args=(i,)) for i in range(CHAOS_WORKERS)]
threads += [threading.Thread(target=web_worker, args=(i,)) for i in range(WEB_USERS)]
threads += [threading.Thread(target=tracker_worker, args=(i,)) for i in range(2)]
threads += [threading.Thread(target=app_worker, args=u) for u in (('alice', 'alice-pw'),
                                                                    ('bob', 'bob-pw'))]
TRUNCATED = [('backend-1', b1.port, DIRECT['web'][0]), ('tracker', tr.port, DIRECT['tracker'][2]),
             ('sampleapp', app.port, DIRECT['app'][1]), ('proxy>web', px.port, VIA['web'][5]),
             ('proxy>tracker', px.port, VIA['tracker'][0])]
threads += [threading.Thread(target=truncation_worker, args=(lbl, port, s[0], s[1]))
            for lbl, port, s in TRUNCATED]
for t in threads:
    t.daemon = True
    t.start()
for t in threads:
    t.join(STORM_SECONDS + 60)
ok(not any(t.is_alive() for t in threads), 'every client thread finished')
diag('storm: %d hostile cases in %.1fs' % (found.cases, time.monotonic() - started))
per = {}
for (label, outcome), n in sorted(found.outcomes.items(), key=lambda kv: str(kv[0])):
    per.setdefault(label, []).append('%s:%d' % (outcome, n))
for label in sorted(per):
    diag('  %-14s %s' % (label, ' '.join(per[label])))


# --- after the storm -------------------------------------------------------------

for kind, title in (('malformed', 'every answer is well-formed HTTP'),
                    ('hang', 'every hostile input answered or closed after our EOF'),
                    ('500', 'no 500 for any input'),
                    ('wrong', 'every hostile input that must be refused was refused'),
                    ('refused', 'every connection accepted')):
    items = found.by_kind.get(kind, [])
    ok(not items, '%s (%d exceptions)' % (title, len(items)))
    for where, detail, payload in items[:MAX_SHOWN]:
        diag('%s: %s\n  sent %r%s' % (where, detail, payload[:200],
                                       '...' if len(payload) > 200 else ''))

for name, srv in SERVERS.items():
    ok(srv.alive(), '%s still running' % name)

for role in ('backend', 'tracker', 'sampleapp'):
    ok(legit.ops.get(role, 0) >= 5, 'legitimate %s operations ran (%d)' % (role, legit.ops.get(role, 0)))
ok(not legit.errors, 'every legitimate operation got the right answer (%d wrong)' % len(legit.errors))
for line in legit.errors[:MAX_SHOWN * 2]:
    diag(line[:400])

# A health request per role, direct and through the proxy.
health = [('backend-1', b1.port, 'localhost', '/login.html', 200),
          ('backend-2', b2.port, 'localhost', '/login.html', 200),
          ('tracker', tr.port, 'localhost', '/', 200),
          ('sampleapp', app.port, 'localhost', '/nope', 404),
          ('proxy>web', px.port, 'web.test', '/login.html', 200),
          ('proxy>tracker', px.port, 'tracker.test', '/', 200),
          ('proxy>app', px.port, 'app.test', '/nope', 404)]
if ws:
    health.append(('ws_echo', ws.port, 'localhost', '/', 200))
for label, port, host, path, code in health:
    is_(st(http(port, 'GET', path, host)), code, '%s answers GET %s after the storm' % (label, path))
try:
    pstat = px.status()
    ok(all(s['state'] == 'up' for p in pstat['pools'] for s in p['servers']),
       'the proxy sees every upstream up')
except (OSError, ValueError) as e:
    ok(False, 'the proxy status listener answers: %r' % e)

# Sessions: every kept one works on both backends, every ended one on none.
bad = []
for tok in list(kept_web)[:40]:
    for port in (b1.port, b2.port):
        if st(http(port, 'GET', '/', 'localhost', [('Cookie', 'session=' + tok)])) != 200:
            bad.append(tok[:8] + '@%d' % port)
for tok in list(ended_web)[:20]:
    if st(http(b2.port, 'GET', '/', 'localhost', [('Cookie', 'session=' + tok)])) != 401:
        bad.append('ended ' + tok[:8])
ok(kept_web and not bad, 'sessions survive on both backends, logged-out ones stay dead (%d kept, %d ended)'
   % (len(kept_web), len(ended_web)))
if bad:
    diag('wrong sessions: %s' % ' '.join(bad[:20]))

# Tracker: every account logs in again, its peer and channel are listed.
s, b = tcall(tr.port, 'localhost', 'POST', '/login', {'username': 'chaos', 'password': 'chaos-pw'})
viewer = (b or {}).get('token')
s, b = tcall(tr.port, 'localhost', 'GET', '/get-list', None, viewer)
peers = {p.get('user'): p.get('port') for p in (b or {}).get('peers', [])}
chans = {c.get('name') for c in (b or {}).get('channels', [])}
bad = []
for name, u in trk_users.items():
    if peers.get(name) != u.get('port') or u.get('channel') not in chans:
        bad.append(name)
for name in list(trk_users)[:10]:
    s, b = tcall(tr.port, 'localhost', 'POST', '/login',
                 {'username': name, 'password': trk_users[name]['password']})
    if s != 200:
        bad.append('login ' + name)
ok(trk_users and not bad, 'every tracker account, peer and channel is still there (%d accounts)'
   % len(trk_users))
if bad:
    diag('missing: %s' % ' '.join(bad[:20]))

# Memory: the caps hold.
limit = RSS_LIMIT_SAN_KIB if SANITIZED else RSS_LIMIT_KIB
for name, srv in SERVERS.items():
    if not srv.alive():
        continue
    kib = rss_kib(srv.pid)
    ok(kib < limit, '%s RSS %d KiB (before the storm %d KiB) is below %d KiB'
       % (name, kib, rss_before[name], limit))

# Durability: a process killed (SIGKILL) in the middle of writes loses
# nothing it had confirmed.  Registrations on the tracker, logins on
# backend-2 (whose sessions backend-1 must then accept: same database).

def kill_during(srv, work, threads=4, seconds=1.0):
    """Runs work(stop_event) in threads, SIGKILLs srv after seconds, waits
    for the threads, and restarts srv on its port and arguments."""
    halt = threading.Event()
    ts = [threading.Thread(target=work, args=(halt, i), daemon=True) for i in range(threads)]
    for t in ts:
        t.start()
    time.sleep(seconds)
    srv.proc.kill()
    srv.proc.wait()
    halt.set()
    for t in ts:
        t.join(30)
    srv.stop()
    fresh = Server(argv=srv.argv, port=srv.port, env=env).start()
    return fresh


confirmed = []


def register_burst(halt, i):
    k = 0
    while not halt.is_set():
        k += 1
        name = 'kill%d-%d' % (i, k)
        s, b = tcall(tr.port, 'localhost', 'POST', '/register', {'username': name, 'password': 'pw'})
        if s == 201:
            confirmed.append(name)


tr = SERVERS['tracker'] = kill_during(tr, register_burst)
lost = [n for n in confirmed
        if tcall(tr.port, 'localhost', 'POST', '/login', {'username': n, 'password': 'pw'})[0] != 200]
ok(confirmed and not lost, 'tracker killed while registering: all %d confirmed accounts log in (%d lost)'
   % (len(confirmed), len(lost)))
sessions = []


def login_burst(halt, i):
    while not halt.is_set():
        r = http(b2.port, 'POST', '/login', 'localhost', FORM, 'username=web%d&password=pw-web%d' % (i, i))
        tok = cookie(r, 'session')
        if st(r) == 200 and tok:
            sessions.append(tok)


b2 = SERVERS['backend-2'] = kill_during(b2, login_burst)
lost = [t for t in sessions if st(http(b1.port, 'GET', '/', 'localhost', [('Cookie', 'session=' + t)])) != 200]
ok(sessions and not lost, 'backend-2 killed while logging in: all %d confirmed sessions work on backend-1 '
   '(%d lost)' % (len(sessions), len(lost)))
for tok in sessions:
    kept_web[tok] = 'burst'

# Stop everything (wrtest fails a test point on a sanitizer report), then
# read the databases as an operator would.
for name, srv in SERVERS.items():
    code = srv.stop()
    is_(code, 0, '%s stops cleanly on SIGTERM' % name)


# Logs: whatever the clients sent, no raw control byte reaches a log line
# (an escape sequence or a CR in a log is an injection).
for name, path in list(ACCESS.items()) + [(n, s.log) for n, s in SERVERS.items()]:
    with open(path, 'rb') as f:
        text = f.read()
    ctl = sorted({c for c in text if (c < 32 and c not in (9, 10)) or c == 127})
    ok(text and not ctl, '%s: %s has %d bytes and no raw control byte %r'
       % (name, os.path.basename(path), len(text), ctl))


def db_rows(path, sql, args=()):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


for label, path in (('backend', bdb), ('tracker', tdb)):
    is_(db_rows(path, 'PRAGMA integrity_check'), [('ok',)], '%s database passes integrity_check' % label)
    is_(db_rows(path, 'PRAGMA foreign_key_check'), [], '%s database has no broken reference' % label)

hashes = {h for (h,) in db_rows(bdb, 'SELECT token_hash FROM sessions')}
kept = {hashlib.sha256(t.encode()).hexdigest() for t in kept_web}
ended = {hashlib.sha256(t.encode()).hexdigest() for t in ended_web}
ok(kept <= hashes, 'backend database: every kept session is stored (%d)' % len(kept))
ok(not (ended & hashes), 'backend database: no logged-out session is left')
is_(sorted(n for (n,) in db_rows(bdb, 'SELECT name FROM users')),
    sorted(['web%d' % i for i in range(WEB_USERS)] + ['chaos'] +
           [n for (n,) in db_rows(bdb, "SELECT name FROM users WHERE name = 'admin'")]),
    'backend database: the accounts are exactly those created')

rows = db_rows(tdb, 'SELECT u.name, p.port, p.online FROM users u LEFT JOIN peers p ON p.user_id = u.id')
stored = {n: (port, online) for n, port, online in rows}
# (online is not asked: a restarted tracker waits for the next heart-beat)
missing = [n for n, u in trk_users.items() if (stored.get(n) or (None,))[0] != u.get('port')]
ok(not missing, 'tracker database: every account with its peer and port (%d)' % len(trk_users))
if missing:
    diag('missing or wrong: %r' % [(n, stored.get(n)) for n in missing[:10]])
missing = [n for n in confirmed if n not in stored]
ok(not missing, 'tracker database: every account confirmed before the kill (%d)' % len(confirmed))
owned = set(db_rows(tdb, "SELECT u.name, c.name FROM memberships m JOIN users u ON u.id = m.user_id "
                         "JOIN channels c ON c.id = m.channel_id WHERE m.role = 'owner'"))
general = {n for (n,) in db_rows(tdb, "SELECT u.name FROM memberships m JOIN users u ON u.id = m.user_id "
                                      "JOIN channels c ON c.id = m.channel_id WHERE c.name = 'general'")}
missing = [n for n, u in trk_users.items() if 'channel' in u and (n, u['channel']) not in owned]
ok(not missing, 'tracker database: every channel with its owner')
missing = [n for n in trk_users if n not in general]
ok(not missing, 'tracker database: every account is a member of general')
diag('replay with WR_CHAOS_SEED=%d' % SEED)
done_testing()
