#!/usr/bin/env python3
# proxy_balance.t - load balancing of `weaprous proxy`: round-robin order
# over 2 and 3 servers, weights, ip-hash stickiness, least-conn with a slow
# server, random spreading, backup servers, passive marking (max_fails /
# fail_timeout), active health checks, the upstream keep-alive pool and
# /__status.

import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import done_testing, is_, ok, wait_until  # noqa: E402
from proxy_helpers import Proxy, Upstream, get, up_name  # noqa: E402

ups = [Upstream(n) for n in 'ABC']


def block(host, servers, extra=''):
    lines = ''.join('    proxy_pass http://127.0.0.1:%d%s;\n' % (u.port, opt)
                    for u, opt in servers)
    return 'host "%s" {\n%s%s}\n' % (host, lines, extra)


def names(port, host, n):
    return [up_name(get(port, host=host)[2]) for _ in range(n)]


A, B, C = ups
conf = 'status_listen 127.0.0.1:{status};\n' + ''.join([
    block('rr2', [(A, ''), (B, '')]),
    block('rr3', [(A, ''), (B, ''), (C, '')]),
    block('w', [(A, ' weight=3'), (B, '')]),
    block('hash', [(A, ''), (B, ''), (C, '')], '    dist_policy ip-hash;\n'),
    block('rand', [(A, ''), (B, ''), (C, '')], '    dist_policy random;\n'),
])

with Proxy(conf) as px:
    p = px.port
    got = names(p, 'rr2', 6)
    ok(got in (['A', 'B'] * 3, ['B', 'A'] * 3), 'round-robin over 2: alternates (%s)' % got)
    got = names(p, 'rr3', 9)
    ok(sorted(got[:3]) == ['A', 'B', 'C'] and got[:3] * 3 == got,
       'round-robin over 3: a fixed cycle (%s)' % got)
    got = names(p, 'w', 8)
    is_((got.count('A'), got.count('B')), (6, 2), 'weight=3 vs 1: 6 to 2 of 8')
    ok('A,A,A,A' not in ','.join(got), 'smooth weights interleave (%s)' % got)
    got = names(p, 'hash', 8)
    is_(len(set(got)), 1, 'ip-hash: one client always reaches one server')
    got = names(p, 'rand', 30)
    ok(len(set(got)) >= 2, 'random uses several servers (%s)' % sorted(set(got)))
    st = px.status()
    pool = [q for q in st['pools'] if q['names'] == ['rr2']][0]
    is_([s['requests'] for s in pool['servers']], [3, 3], '/__status counts requests')
    ok(pool['idle_connections'] >= 1, 'idle upstream connections pooled')
    conns = A.connections
    names(p, 'rr2', 10)
    ok(A.connections <= conns + 1, 'keep-alive pool reuses upstream connections '
       '(%d new for 5 requests)' % (A.connections - conns))

# least-conn: A is slow, so concurrent requests go to B
slow, fast = Upstream('S', mode='slow', delay=1.0), Upstream('F')
with Proxy(block('lc', [(slow, ''), (fast, '')], '    dist_policy least-conn;\n')) as px:
    res = []

    def one():
        res.append(up_name(get(px.port, host='lc')[2]))
    threads = [threading.Thread(target=one) for _ in range(2)]
    threads[0].start()
    time.sleep(0.3)   # the first request is now busy on one server
    threads[1].start()
    for t in threads:
        t.join()
    ok(sorted(res) == ['F', 'S'], 'least-conn: second request avoids the busy server (%s)' % res)
    # two at once: one lands on S and stays there for a second
    got = []
    ths = [threading.Thread(target=lambda: got.append(up_name(get(px.port, host='lc')[2])))
           for _ in range(2)]
    for t in ths:
        t.start()
    time.sleep(0.3)
    quick = names(px.port, 'lc', 5)
    for t in ths:
        t.join()
    ok(quick.count('F') == 5, 'least-conn: while S is busy, F takes every request (%s)' % quick)

# backup and passive marking
dead = Upstream('D')
dead.stop()
bk = Upstream('K')
conf = ('status_listen 127.0.0.1:{status};\n'
        + block('bk', [(dead, ' max_fails=1 fail_timeout=30s'), (bk, ' backup')])
        + block('mf', [(dead, ' max_fails=2 fail_timeout=30s'), (A, '')]))
with Proxy(conf) as px:
    got = names(px.port, 'bk', 3)
    is_(got, ['K', 'K', 'K'], 'backup serves when the primary is down')
    st, _, _ = get(px.port, host='mf')
    is_(st, 200, 'refused connection: the next server answers')
    names(px.port, 'mf', 4)
    pool = [q for q in px.status()['pools'] if q['names'] == ['mf']][0]
    srv = pool['servers'][0]
    is_(srv['state'], 'down (failures)', 'max_fails reached: server marked down')
    ok(srv['failures'] == 2, 'marked after exactly max_fails=2 failures (%d)' % srv['failures'])

# all servers down: 502 with a complete small page
d2 = Upstream('D2')
d2.stop()
with Proxy(block('none', [(dead, ''), (d2, '')])) as px:
    st, h, body = get(px.port, host='none')
    is_(st, 502, 'every server refuses: 502')
    is_(int(h.get('content-length', -1)), len(body), '502 page has a Content-Length')
    st, h, body = get(px.port, host='none')
    is_(st, 502, 'and while they are marked down: 502 at once')

# active health checks
hA, hB = Upstream('HA', mode='health'), Upstream('HB', mode='health')
conf = ('status_listen 127.0.0.1:{status};\n'
        + block('hc', [(hA, ''), (hB, '')],
                '    health_check interval=200ms timeout=150ms rise=2 fall=2 uri=/healthz;\n'))
with Proxy(conf) as px:
    hA.health_status = 500

    def state_of(name):
        pool = px.status()['pools'][0]
        return [s['state'] for s in pool['servers'] if s['server'].endswith(str(
            hA.port if name == 'HA' else hB.port))][0]
    ok(wait_until(lambda: state_of('HA') == 'down (health check)', 5),
       'health check marks the failing server down')
    got = names(px.port, 'hc', 4)
    is_(got, ['HB'] * 4, 'traffic avoids the server down by health check')
    hA.health_status = 200
    ok(wait_until(lambda: state_of('HA') == 'up', 5), 'after `rise` good checks it is up again')
    # the head is read whole: one too large for the parser is a failure
    hA.health_fields = b'X-Big: ' + b'a' * 20000 + b'\r\n'
    ok(wait_until(lambda: state_of('HA') == 'down (health check)', 5),
       'a health check response head too large marks the server down')
    # interim 1xx heads are skipped: the final 200 counts
    hA.health_fields = b''
    hA.health_interim = (b'HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n'
                         b'HTTP/1.1 100 Continue\r\n\r\n')
    ok(wait_until(lambda: state_of('HA') == 'up', 5),
       'a 2xx after interim 1xx answers is a good health check')
    # with them, the buffer of the check fills before the parser's own cap
    hA.health_fields = b'X-Big: ' + b'a' * 20000 + b'\r\n'
    ok(wait_until(lambda: state_of('HA') == 'down (health check)', 5),
       'interim answers, then a head too large: down')

done_testing()
