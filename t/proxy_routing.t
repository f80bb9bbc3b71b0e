#!/usr/bin/env python3
# proxy_routing.t - `weaprous proxy` routes by Host (with and without port,
# case, trailing dot, absolute-form), answers 404 for unknown hosts unless a
# default block exists, rewrites headers (X-Forwarded-For appended, the
# client's one not trusted as the address, X-Real-IP, X-Forwarded-Proto,
# X-Request-ID, proxy_set_header with variables, hop-by-hop removal both
# ways), keeps client connections alive, and `-t` checks files.

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import (binary, done_testing, is_, like, ok, parse_responses,  # noqa: E402
                    raw, req, tmpdir)
from proxy_helpers import Proxy, Upstream, get, up_name  # noqa: E402

a, b, c = Upstream('A'), Upstream('B'), Upstream('C')

conf = '''
# routes of this test
host "a.test:{port}" {
    proxy_pass http://127.0.0.1:%d;
}
host "b.test" {
    proxy_set_header X-Seen "host=$host addr=${remote_addr} uri=$request_uri s=$scheme";
    proxy_set_header User-Agent "";
    proxy_pass http://127.0.0.1:%d;
    dist_policy round-robin
}
''' % (a.port, b.port)


def headers_of(body):
    return {k.lower(): v for k, v in json.loads(body)['headers']}


with Proxy(conf) as px:
    p = px.port
    st, h, body = get(p, host='a.test:%d' % p)
    is_((st, up_name(body)), (200, 'A'), 'Host with the block\'s port')
    st, h, body = get(p, host='A.TEST.:%d' % p)
    is_((st, up_name(body)), (200, 'A'), 'case-insensitive, trailing dot')
    st, h, body = get(p, host='a.test')
    is_(st, 404, 'a.test without port does not match "a.test:PORT"')
    like(h.get('content-length', ''), r'^\d+$', '404 has Content-Length')
    st, h, body = get(p, host='b.test')
    is_((st, up_name(body)), (200, 'B'), 'name without port, Host without port')
    st, h, body = get(p, host='b.test:%d' % p)
    is_((st, up_name(body)), (200, 'B'), 'name without port matches any port')
    st, h, body = get(p, host='nobody.test')
    is_(st, 404, 'unknown host -> 404')
    like(h.get('x-request-id', ''), r'^[0-9a-f]{32}$', 'the proxy\'s own 404 carries an X-Request-ID')
    st, h, body = get(p, path='http://b.test/abs?q=1', host='nobody.test')
    is_((st, up_name(body)), (200, 'B'), 'absolute-form routed by its own host')
    is_(json.loads(body)['target'] if st == 200 else None, '/abs?q=1',
        'absolute-form target sent upstream in origin-form')
    is_(headers_of(body).get('host') if st == 200 else None, 'b.test',
        'with Host replaced by the target\'s authority')
    st, h, body = get(p, path='http://b.test?q=2', host='nobody.test')
    is_(json.loads(body)['target'] if st == 200 else None, '/?q=2',
        'absolute-form with a query and no path: "/?q" upstream (query kept)')
    st, h, body = get(p, path='http://evil.example:25/', host='b.test')
    is_(st, 404, 'absolute-form to an unconfigured host: 404, not an open proxy')

    # header rewriting
    st, h, body = get(p, path='/x?y=1', host='b.test', headers=[
        ('X-Forwarded-For', '10.9.9.9'), ('X-Real-IP', '6.6.6.6'),
        ('Connection', 'close, X-Private'), ('X-Private', 'p'),
        ('Keep-Alive', '300'), ('Proxy-Connection', 'keep-alive'), ('TE', 'trailers'),
        ('User-Agent', 'test-agent'), ('X-Request-ID', 'abc-123')])
    up = headers_of(body)
    is_(up.get('x-forwarded-for'), '10.9.9.9, 127.0.0.1', 'X-Forwarded-For appended')
    _, _, body2 = get(p, path='/x', host='b.test', headers=[
        ('X-Forwarded-For', '10.1.1.1'), ('X-Forwarded-For', '10.2.2.2, 10.3.3.3')])
    is_(headers_of(body2).get('x-forwarded-for'), '10.1.1.1, 10.2.2.2, 10.3.3.3, 127.0.0.1',
        'several X-Forwarded-For fields are one list, kept in order')
    is_(up.get('x-real-ip'), '127.0.0.1', 'X-Real-IP is the peer address, not the client\'s claim')
    is_(up.get('x-forwarded-proto'), 'http', 'X-Forwarded-Proto')
    is_(up.get('x-request-id'), 'abc-123', 'client X-Request-ID kept')
    is_(h.get('x-request-id'), 'abc-123', 'and returned to the client')
    is_(up.get('x-seen'), 'host=b.test addr=127.0.0.1 uri=/x?y=1 s=http',
        'proxy_set_header with $host ${remote_addr} $request_uri $scheme')
    ok('user-agent' not in up, 'proxy_set_header NAME "" removes the field')
    for hop in ('x-private', 'keep-alive', 'proxy-connection', 'te'):
        ok(hop not in up, 'hop-by-hop %s not forwarded' % hop)
    ok(up.get('connection', 'close') in ('close', ''), 'client Connection not forwarded')
    is_(h.get('x-up'), 'B', 'upstream response field passed on')
    ok('x-hop' not in h and 'keep-alive' not in h,
       'response fields named by Connection / Keep-Alive removed')

    st, h, body = get(p, host='a.test:%d' % p)
    up = headers_of(body)
    like(up.get('x-request-id', ''), r'^[0-9a-f]{32}$', 'X-Request-ID generated')
    is_(h.get('x-request-id'), up.get('x-request-id'), 'same id to the client')
    is_(up.get('host'), 'a.test:%d' % p, 'Host passed as received')

    # keep-alive with the client: three requests on one connection
    host = 'b.test'
    data = raw(p, [req('GET', '/1', host=host), req('GET', '/2', host=host),
                   req('GET', '/3', host=host, headers=[('Connection', 'close')])],
               timeout=5)
    rs = parse_responses(data)
    is_([r.status for r in rs], [200, 200, 200], 'three requests on one client connection')

    # HEAD and a POST body
    st, h, body = get(p, host='b.test', method='HEAD')
    is_((st, body), (200, b''), 'HEAD: status, no body')
    ok(int(h.get('content-length', '0')) > 0, 'HEAD keeps the upstream Content-Length')
    st, h, body = get(p, host='b.test', method='POST', body=b'x' * 5000)
    is_(json.loads(body)['body_len'] if st == 200 else None, 5000, 'POST body forwarded')

with Proxy(conf + 'host "c.test" default { proxy_pass http://127.0.0.1:%d; }\n'
           'host "d.test" { proxy_set_header Host "fixed.example"; '
           'proxy_pass http://127.0.0.1:%d; }\n' % (c.port, c.port)) as px:
    st, h, body = get(px.port, host='nobody.test')
    is_((st, up_name(body)), (200, 'C'), 'unknown host -> default block')
    st, h, body = get(px.port, host='b.test')
    is_(up_name(body), 'B', 'known hosts still routed')
    rs = parse_responses(raw(px.port, b'GET /nohost HTTP/1.0\r\n\r\n', timeout=5))
    is_(len(rs) == 1 and rs[0].status == 200 and headers_of(rs[0].body).get('host'),
        '127.0.0.1:%d' % c.port, 'HTTP/1.0 without Host: the server\'s name is sent as Host')
    st, h, body = get(px.port, host='d.test')
    is_(st == 200 and [v for k, v in json.loads(body)['headers'] if k.lower() == 'host'],
        ['fixed.example'], 'proxy_set_header Host replaces the Host field, once')

# access log: one line per request, with the request id and the upstream
d = tmpdir()
alog = os.path.join(d, 'access.log')
with Proxy(conf, extra=['--access-log', alog]) as px:
    st, h, body = get(px.port, host='b.test', path='/logged', headers=[('X-Request-ID', 'log-me-1')])
    st2, h2, _ = get(px.port, host='nobody.test', path='/nowhere')
    px.stop()
    with open(alog) as f:
        lines = f.read().splitlines()
    line = [x for x in lines if '/logged' in x]
    ok(line and '" 200 ' in line[0] and 'rid=log-me-1' in line[0]
       and 'upstream=127.0.0.1:%d' % b.port in line[0], 'access log: status, rid= and upstream=')
    ok([x for x in lines if '/nowhere' in x and '" 404 ' in x], 'the proxy\'s own 404 is logged')

with Proxy(conf) as px:
    data = raw(px.port, b'GET /old HTTP/1.0\r\nHost: b.test\r\n\r\n', timeout=5)
    rs = parse_responses(data)
    ok(len(rs) == 1 and rs[0].status == 200 and b'"B"' in rs[0].body,
       'HTTP/1.0 client: answered, connection closed')

# -t
good, bad = os.path.join(d, 'good.conf'), os.path.join(d, 'bad.conf')
with open(good, 'w') as f:
    f.write(conf.replace('{port}', '8080'))
with open(bad, 'w') as f:
    f.write('host "x" {\n  proxy_pass http://127.0.0.1:1;\n  dist_policy fastest;\n}\n')
r = subprocess.run([binary(), 'proxy', '-t', '-c', good], capture_output=True)
is_(r.returncode, 0, '-t on a good file exits 0')
r = subprocess.run([binary(), 'proxy', '-t', '-c', bad], capture_output=True)
is_(r.returncode, 1, '-t on a bad file exits 1')
like(r.stderr.decode(), r'bad\.conf:3:15: expected round-robin', 'error names file:line:col')
r = subprocess.run([binary(), 'proxy', '-t', '-c',
                    os.path.join(os.environ.get('WR_SRCDIR', '.'), 'conf', 'proxy.conf')],
                   capture_output=True)
is_(r.returncode, 0, 'the shipped conf/proxy.conf passes -t')

done_testing()
