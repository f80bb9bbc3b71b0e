#!/usr/bin/env python3
# proxy_failures.t - what `weaprous proxy` does when upstreams misbehave:
# refused connections and connects that time out go to the next server;
# after the request was sent only idempotent methods are retried; a read
# timeout is 504; a malformed status line or oversized head is 502; a body
# cut short closes the client connection (never a truncated response that
# looks complete) without marking the server failed; a pooled connection the upstream dropped is retried once
# on a fresh one; chunked bodies both ways; a server killed under load
# makes no idempotent request fail.  The proxy keeps answering throughout.

import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import done_testing, is_, like, ok, parse_response, raw, req  # noqa: E402
from proxy_helpers import Proxy, Upstream, get, up_name  # noqa: E402


def block(host, servers, extra=''):
    lines = ''.join('    proxy_pass http://127.0.0.1:%d%s;\n' % (u.port, opt)
                    for u, opt in servers)
    return 'host "%s" {\n%s%s}\n' % (host, lines, extra)


good = Upstream('G')
closer = Upstream('X', mode='close')
hang = Upstream('H', mode='hang')
bad = Upstream('M', mode='malformed')
big = Upstream('B', mode='bighead')
cut = Upstream('C', mode='cutbody')
chunky = Upstream('K', mode='chunked')
drop = Upstream('R', mode='dropreuse')
cutonce = Upstream('C1', mode='cutbody')
once = Upstream('O', mode='dropreuse')
# a listener that never accepts: connects to it stay pending (backlog full)
blackhole = socket.socket()
blackhole.bind(('127.0.0.1', 0))
blackhole.listen(0)
bh_port = blackhole.getsockname()[1]
fillers = []
for _ in range(8):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(('127.0.0.1', bh_port))
    except BlockingIOError:
        pass
    fillers.append(s)


class Port:
    def __init__(self, port):
        self.port = port


conf = ('proxy_read_timeout 700ms;\nproxy_connect_timeout 300ms;\n'
        'status_listen 127.0.0.1:{status};\n'
        + block('retry', [(closer, ' max_fails=0'), (good, '')])
        + block('hang', [(hang, ' max_fails=0')])
        + block('bad', [(bad, ' max_fails=0')])
        + block('big', [(big, ' max_fails=0')])
        + block('cut', [(cut, ' max_fails=0')])
        + block('chunky', [(chunky, '')])
        + block('drop', [(drop, '')])
        + block('cutonce', [(cutonce, '')])
        + block('once', [(once, '')])
        + block('slowconnect', [(Port(bh_port), ' max_fails=0'), (good, '')]))

with Proxy(conf) as px:
    p = px.port
    before = good.requests
    st, h, body = get(p, host='retry', method='POST', body=b'data')
    is_(st, 502, 'POST sent, upstream closed without answering: 502, not retried')
    like(h.get('x-request-id', ''), r'^[0-9a-f]{32}$', 'the 502 page carries an X-Request-ID')
    is_(good.requests, before, 'the POST did not reach a second server')
    st, h, body = get(p, host='retry')
    is_((st, up_name(body)), (200, 'G'), 'GET: the same failure is retried on the next server')
    st, h, body = get(p, host='retry', method='PUT', body=b'idem')
    is_((st, up_name(body)), (200, 'G'), 'PUT is idempotent: retried too')

    t0 = time.monotonic()
    st, h, body = get(p, host='hang')
    dt = time.monotonic() - t0
    is_(st, 504, 'upstream accepts but never answers: 504')
    ok(0.5 < dt < 5, 'after about proxy_read_timeout (%.2fs)' % dt)
    is_(int(h.get('content-length', -1)), len(body), '504 page has Content-Length')

    st, h, body = get(p, host='slowconnect')
    is_((st, up_name(body)), (200, 'G'), 'connect timeout: the next server answers')

    is_(get(p, host='bad')[0], 502, 'malformed status line: 502')
    is_(get(p, host='big')[0], 502, 'oversized response head: 502')

    st, h, data = get(p, host='cut')
    ok(st is None, 'body cut mid-way: the client sees an incomplete response')
    ok(b'Content-Length: 100000' in data and len(data) < 100000,
       'head was sent, the connection closed before Content-Length bytes')

    # one response cut after its head must not take a one-server pool down
    # (default max_fails=1): nginx does not count an error once the head has
    # gone to the client
    st, h, data = get(p, host='cutonce')
    is_((st, b'Content-Length: 100000' in data), (None, True),
        'one server, body cut: the client sees the head, then the close')
    cutonce.mode = 'echo'
    st, h, body = get(p, host='cutonce')
    is_((st, up_name(body)), (200, 'C1'), '... and the next request is served, not 502')
    is_([pl['servers'][0]['state'] for pl in px.status()['pools']
         if 'cutonce' in pl['names']], ['up'], '... the server is still up')

    st, h, body = get(p, host='chunky')
    ok(st == 200 and up_name(body) == 'K', 'chunked upstream body decoded and re-sent')
    is_(h.get('transfer-encoding'), 'chunked', 'to the client chunked as well')

    chunks = [b'%x\r\n%s\r\n' % (len(x), x) for x in (b'hello ', b'chunked ', b'world')]
    data = raw(p, req('POST', '/c', [('Transfer-Encoding', 'chunked'), ('Connection', 'close')],
                      b''.join(chunks) + b'0\r\n\r\n', host='chunky'), timeout=5)
    try:
        info = json.loads(parse_response(data)[0].body)
    except ValueError:
        info = {}
    ok(info.get('chunked') is True, 'chunked request body sent upstream chunked')
    is_(info.get('body_len'), 19, 'with every byte')

    # the pooled connection is dropped by the upstream on reuse
    is_(up_name(get(p, host='drop')[2]), 'R', 'first request on a new upstream connection')
    conns = drop.connections
    st, h, body = get(p, host='drop')
    is_((st, up_name(body)), (200, 'R'), 'reused connection dropped: retried once, fresh')
    is_(drop.connections, conns + 1, 'on exactly one new connection')
    st, h, body = get(p, host='drop', method='POST', body=b'x')
    is_(st, 200, 'a POST with a dropping upstream: answered (on a connection of its own)')

    # A non-idempotent request never goes on a pooled connection, which the
    # upstream may close after reading it (and maybe acting on it): it
    # would then be sent again.  A fresh connection: no duplicate, no 502.
    is_(get(p, host='once')[0], 200, 'a GET leaves a pooled connection to O')
    for method in ('POST', 'PATCH'):
        seen, conns = len(once.heads), once.connections
        st, h, body = get(p, host='once', method=method, body=b'only once')
        sent = [m for m, _ in once.heads[seen:]]
        is_((st, sent), (200, [method]), '%s reaches the upstream exactly once, answered 200'
            % method)
        is_(once.connections, conns + 1, '  on a connection of its own')
    st, h, body = get(p, host='once')
    is_((st, [m for m, _ in once.heads[-2:]]), (200, ['GET', 'GET']),
        'a GET still takes the pooled connection and keeps its one retry')

    is_(get(p, host='retry')[0], 200, 'the proxy still answers after all that')

# a server killed under load: no idempotent request fails
k1, k2 = Upstream('K1'), Upstream('K2')
with Proxy(block('load', [(k1, ''), (k2, '')])) as px:
    results = []

    def worker():
        for _ in range(40):
            results.append(get(px.port, host='load')[0])
    ths = [threading.Thread(target=worker) for _ in range(4)]
    for t in ths:
        t.start()
    time.sleep(0.3)
    k1.kill()
    for t in ths:
        t.join()
    is_(len(results), 160, '160 GETs sent')
    is_([s for s in results if s != 200], [], 'backend killed under load: every GET answered 200')

done_testing()
