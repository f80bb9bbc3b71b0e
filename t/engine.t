#!/usr/bin/env python3
# engine.t - the HTTP/1.1 engine end to end, on real processes: the test
# server t/servers/engine_echo (public engine API) and `weaprous backend`.
#
# Every status the engine makes by itself (400 for each rejection class,
# 408, 411, 413, 414, 431, 501, 505), keep-alive rules of 1.0 and 1.1, the
# idle keep-alive timeout, pipelining, 100-continue, HEAD, chunked request
# bodies, async handlers, streaming with back-pressure, clients that vanish,
# hijack, 1,000 idle connections, graceful stop, and running out of
# descriptors (EMFILE).
# After each bad input: the process is alive and a normal GET works.

import os
import resource
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import (Server, binary, cpu_ticks, curl, diag, done_testing,  # noqa: E402
                    free_port, is_, like, ok, parse_response, raise_fd_limit,
                    require, tmpdir, wait_port, wait_until)

require('curl')

ECHO = binary(os.path.join('t', 'servers', 'engine_echo'))
MAX_BODY = 65536
STREAM_MAX_BODY = 1 << 20
BIG_FILE = 32 << 20
IDLE_CONNS = 1000
EMFILE_LIMIT = 64
EMFILE_CONNS = 100


# --- a client connection that reads whole responses -------------------------

class Conn:
    """One TCP connection: send bytes, read complete responses, see EOF."""

    def __init__(self, port, timeout=5.0):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b''
        self.eof = False

    def send(self, data):
        try:
            self.s.sendall(data)
            return True
        except OSError:
            return False

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or self.eof:
            return False
        self.s.settimeout(left)
        try:
            got = self.s.recv(1 << 16)
        except socket.timeout:
            return False
        except OSError:
            self.eof = True
            return False
        if not got:
            self.eof = True
            return False
        self.buf += got
        return True

    def response(self, head=False, timeout=None, interim=False):
        """The next response (final unless interim), or None."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                r, rest = parse_response(self.buf, head=head)
                if _close_delimited(r, head) and not self.eof:
                    raise ValueError('body runs to EOF')
                self.buf = rest
                if r.status >= 200 or interim:
                    return r
                continue
            except ValueError:
                pass
            if not self._recv(deadline):
                if self.eof and self.buf:
                    try:
                        r, self.buf = parse_response(self.buf, head=head)
                        return r
                    except ValueError:
                        return None
                return None

    def closed(self, timeout=2.0):
        """True when the server closes within timeout (bytes are kept)."""
        deadline = time.monotonic() + timeout
        while not self.eof and self._recv(deadline):
            pass
        return self.eof

    def close(self):
        self.s.close()


def _close_delimited(r, head):
    return not head and r.status >= 200 and r.status not in (204, 304) \
        and 'content-length' not in r.headers and not r.chunked


def request(port, data, head=False, timeout=5.0):
    """Send data on a fresh connection; (first final response, closed?)."""
    c = Conn(port, timeout)
    c.send(data)
    r = c.response(head=head)
    closed = c.closed(2.0) if r is not None else None
    c.close()
    return r, closed


def get(port, target='/echo', headers='', version='HTTP/1.1'):
    raw = ('GET %s %s\r\nHost: t\r\nConnection: close\r\n%s\r\n'
           % (target, version, headers)).encode()
    return request(port, raw)[0]


def alive(srv, what, target='/echo'):
    """After a bad input: the process runs and answers a normal GET."""
    r = get(srv.port, target) if srv.alive() else None
    ok(srv.alive() and r is not None and r.status == 200,
       '  server still answers after %s' % what)


def expect_error(srv, data, status, what, target='/echo', closes=True):
    r, closed = request(srv.port, data)
    if not is_(r.status if r else None, status, '%s -> %d' % (what, status)):
        diag('reply: %r' % (r,))
    if closes:
        ok(closed, '  connection closed after %d' % status)
    alive(srv, what, target)


# --- rejections ---------------------------------------------------------------

def H(*lines, body=b''):
    head = '\r\n'.join(lines) + '\r\n\r\n'
    return head.encode('latin-1') + body


BAD_400 = [
    ('CL together with TE',
     H('POST /echo HTTP/1.1', 'Host: t', 'Content-Length: 5',
       'Transfer-Encoding: chunked', body=b'0\r\n\r\n')),
    ('two different Content-Length',
     H('POST /echo HTTP/1.1', 'Host: t', 'Content-Length: 5',
       'Content-Length: 6', body=b'hello!')),
    ('Content-Length not a number',
     H('POST /echo HTTP/1.1', 'Host: t', 'Content-Length: 5x', body=b'hello')),
    ('chunk size with a sign',
     H('POST /echo HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked',
       body=b'+5\r\nhello\r\n0\r\n\r\n')),
    ('chunk size negative',
     H('POST /echo HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked',
       body=b'-5\r\nhello\r\n0\r\n\r\n')),
    ('chunk size 0x-prefixed',
     H('POST /echo HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked',
       body=b'0x5\r\nhello\r\n0\r\n\r\n')),
    ('chunk size overflowing 64 bits',
     H('POST /echo HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked',
       body=b'1' + b'0' * 16 + b'5\r\nhello\r\n0\r\n\r\n')),
    ('chunk size not hex',
     H('POST /echo HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked',
       body=b'zz\r\nhello\r\n0\r\n\r\n')),
    ('chunk data longer than its size',
     H('POST /echo HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked',
       body=b'3\r\nhello\r\n0\r\n\r\n')),
    ('obs-fold', H('GET /echo HTTP/1.1', 'Host: t', 'X-A: b', ' c')),
    ('space before the colon', H('GET /echo HTTP/1.1', 'Host : t')),
    ('tab before the colon', H('GET /echo HTTP/1.1', 'Host: t', 'X-A\t: b')),
    ('bare CR in a value', H('GET /echo HTTP/1.1', 'Host: t', 'X-A: b\rc')),
    ('bare CR in the request line', H('GET /echo\r HTTP/1.1', 'Host: t')),
    ('NUL in a value', H('GET /echo HTTP/1.1', 'Host: t', 'X-A: b\0c')),
    ('NUL in the target', H('GET /ec\0ho HTTP/1.1', 'Host: t')),
    ('bad token char in the method', H('GE(T /echo HTTP/1.1', 'Host: t')),
    ('bad token char in a field name', H('GET /echo HTTP/1.1', 'Host: t', 'X(A): b')),
    ('empty field name', H('GET /echo HTTP/1.1', 'Host: t', ': b')),
    ('HTTP/1.1 without Host', H('GET /echo HTTP/1.1', 'X-A: b')),
    ('two Host fields', H('GET /echo HTTP/1.1', 'Host: t', 'Host: u')),
    ('garbage version', H('GET /echo HTTP/1.x', 'Host: t')),
    ('lowercase http version', H('GET /echo http/1.1', 'Host: t')),
    ('Transfer-Encoding not ending in chunked',
     H('POST /echo HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked, gzip')),
    ('two Transfer-Encoding fields, chunked then identity',
     H('POST /echo HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked',
       'Transfer-Encoding: identity', body=b'0\r\n\r\n')),
    ('Transfer-Encoding in HTTP/1.0',
     H('POST /echo HTTP/1.0', 'Transfer-Encoding: chunked', body=b'0\r\n\r\n')),
    ('Content-Length as a list', H('POST /echo HTTP/1.1', 'Host: t',
                                   'Content-Length: 5, 5', body=b'hello')),
    ('Content-Length with a sign', H('POST /echo HTTP/1.1', 'Host: t',
                                     'Content-Length: +5', body=b'hello')),
    ('chunk lines ending in bare LF',
     H('POST /echo HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked',
       body=b'5\nhello\n0\n\n')),
    ('space after the chunk size',
     H('POST /echo HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked',
       body=b'5 \r\nhello\r\n0\r\n\r\n')),
    ('DEL in a value', H('GET /echo HTTP/1.1', 'Host: t', 'X-A: \x7f')),
    ('control byte in a value', H('GET /echo HTTP/1.1', 'Host: t', 'X-A: \x01')),
    ('two spaces in the request line', H('GET  /echo HTTP/1.1', 'Host: t')),
    ('percent-encoded NUL in the path', H('GET /ec%00ho HTTP/1.1', 'Host: t')),
    ('bad percent escape in the path', H('GET /ec%zzho HTTP/1.1', 'Host: t')),
    ('binary garbage', b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + b'\xff' * 40 + b'\r\n\r\n'),
]


def rejections(srv, max_body, target='/echo'):
    """Every error status the engine makes, each followed by a GET."""
    for what, data in BAD_400:
        expect_error(srv, data.replace(b'/echo', target.encode()), 400, what, target)
    expect_error(srv, H('POST %s HTTP/1.1' % target, 'Host: t'), 411,
                 'POST without length', target)
    expect_error(srv, H('POST %s HTTP/1.1' % target, 'Host: t',
                        'Content-Length: %d' % (max_body + 1)), 413,
                 'Content-Length over the limit', target)
    expect_error(srv, H('PUT %s HTTP/1.1' % target, 'Host: t',
                        'Content-Length: 999999999999999'), 413,
                 'huge Content-Length', target)
    expect_error(srv, H('GET /' + 'a' * 9000 + ' HTTP/1.1', 'Host: t'), 414,
                 'request line over 8 KiB', target)
    many = ['X-F%d: %s' % (i, 'v' * 900) for i in range(20)]
    expect_error(srv, H('GET %s HTTP/1.1' % target, 'Host: t', *many), 431,
                 'head over 16 KiB', target)
    fields = ['X-F%d: v' % i for i in range(101)]
    expect_error(srv, H('GET %s HTTP/1.1' % target, 'Host: t', *fields), 431,
                 '101 fields', target)
    expect_error(srv, H('BREW %s HTTP/1.1' % target, 'Host: t'), 501,
                 'unknown method', target)
    expect_error(srv, H('GET %s HTTP/2.0' % target, 'Host: t'), 505,
                 'HTTP/2.0 request line', target)
    expect_error(srv, H('GET %s HTTP/3.1' % target, 'Host: t'), 505,
                 'HTTP/3.1 request line', target)
    expect_error(srv, b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505,
                 'the HTTP/2 preface', target)


def body_limits(srv, max_body):
    """The limit is inclusive, as nginx's client_max_body_size: max_body
    bytes pass, one more is 413, by Content-Length and chunked alike."""
    body = os.urandom(max_body)
    r, _ = request(srv.port, H('POST /echo HTTP/1.1', 'Host: t',
                               'Content-Length: %d' % max_body, body=body))
    is_((r.status, r.body == body) if r else None, (200, True),
        'Content-Length of exactly the limit: 200, the body echoed')
    chunked_over_limit(srv, max_body)
    # A chunk size is checked as soon as its line is read: no data follows,
    # so an answer that waited for the data would never come.
    first = b'%x\r\n%s\r\n' % (max_body - 10, b'c' * (max_body - 10))
    for what, lead, size in (('a chunk of the limit plus one', b'', max_body + 1),
                             ('a chunk size of 2^63-1', b'', 0x7FFFFFFFFFFFFFFF),
                             ('a chunk taking the total past the limit', first, 11)):
        expect_error(srv, H('POST /echo HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked',
                            body=lead + b'%X\r\n' % size), 413,
                     what + ', before its data')


def backend_body_limit(srv, max_body):
    """The backend's default limit (1 MiB) is inclusive too: a POST of
    exactly max_body bytes reaches the static handler (405), one more is
    413, by Content-Length and chunked."""
    for n, want in ((max_body, 405), (max_body + 1, 413)):
        body = b'b' * n
        for kind, framed in (('Content-Length', H('POST /page.html HTTP/1.1', 'Host: t',
                                                  'Content-Length: %d' % n, body=body)),
                             ('chunked', H('POST /page.html HTTP/1.1', 'Host: t',
                                           'Transfer-Encoding: chunked',
                                           body=b'%x\r\n%s\r\n0\r\n\r\n' % (n, body)))):
            r, _ = request(srv.port, framed)
            is_(r.status if r else None, want,
                'backend: %s body of %d bytes (limit %d) -> %d' % (kind, n, max_body, want))


def chunked_over_limit(srv, max_body):
    piece = b'x' * 4096
    body = b''.join(b'%x\r\n%s\r\n' % (len(piece), piece)
                    for _ in range(max_body // len(piece) + 2)) + b'0\r\n\r\n'
    expect_error(srv, H('POST /echo HTTP/1.1', 'Host: t',
                        'Transfer-Encoding: chunked', body=body), 413,
                 'chunked body growing over the limit')
    # exactly at the limit is fine
    body = b'%x\r\n%s\r\n0\r\n\r\n' % (max_body, b'y' * max_body)
    r, _ = request(srv.port, H('POST /echo HTTP/1.1', 'Host: t',
                               'Transfer-Encoding: chunked', body=body))
    ok(r is not None and r.status == 200 and len(r.body) == max_body,
       'chunked body of exactly the limit accepted')


# --- keep-alive, pipelining, 100-continue, HEAD ------------------------------

def keepalive(srv):
    c = Conn(srv.port)
    for i in range(3):
        c.send(b'GET /echo?i=%d HTTP/1.1\r\nHost: t\r\n\r\n' % i)
        r = c.response()
        ok(r is not None and r.status == 200 and
           r.headers.get('x-echo-query') == 'i=%d' % i,
           'HTTP/1.1 keep-alive: request %d answered on the same connection' % i)
    ok('connection' not in (r.headers if r else {}), '  no Connection field in 1.1 keep-alive')
    ok(not c.closed(0.3), '  connection stays open')
    c.send(b'GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
    r = c.response()
    is_(r.headers.get('connection', '').lower() if r else None, 'close',
        'HTTP/1.1 Connection: close is answered with Connection: close')
    ok(c.closed(), '  and the server closes')
    c.close()

    r, closed = request(srv.port, b'GET /echo HTTP/1.0\r\n\r\n')
    ok(r is not None and r.status == 200 and closed, 'HTTP/1.0 without keep-alive: closed')
    like(r.headers.get('connection', '') if r else '', '(?i)close', '  announced')

    c = Conn(srv.port)
    for i in range(2):
        c.send(b'GET /echo?i=%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' % i)
        r = c.response()
        ok(r is not None and r.status == 200 and
           r.headers.get('connection', '').lower() == 'keep-alive',
           'HTTP/1.0 keep-alive: request %d answered with Connection: keep-alive' % i)
    ok(not c.closed(0.3), '  connection stays open')
    # a streamed 1.0 answer with a known length keeps the promise too
    c.send(b'GET /stream?n=3&size=10&cl=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
    r = c.response()
    ok(r is not None and r.body == b'a' * 10 + b'b' * 10 + b'c' * 10,
       'HTTP/1.0 keep-alive streamed with Content-Length: body')
    if r is not None and r.headers.get('connection', '').lower() == 'keep-alive':
        c.send(b'GET /echo?after HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
        r2 = c.response()
        ok(r2 is not None and r2.status == 200,
           '  announced keep-alive, and the connection serves the next request')
    else:
        ok(c.closed(), '  not announced as keep-alive: closed')
    c.close()

    # a handler that writes more or less than it announced: the framing holds
    c = Conn(srv.port)
    c.send(b'GET /stream?n=3&size=10&clfix=20 HTTP/1.1\r\nHost: t\r\n\r\n'
           b'GET /echo?after-long HTTP/1.1\r\nHost: t\r\n\r\n')
    r1, r2 = c.response(), c.response()
    ok(r1 is not None and r1.body == b'a' * 10 + b'b' * 10,
       'streamed body longer than its Content-Length: cut at the announced length')
    ok(r2 is not None and r2.headers.get('x-echo-query') == 'after-long',
       '  the next response is not corrupted by the excess')
    c.close()
    c = Conn(srv.port)
    c.send(b'GET /stream?n=3&size=10&clfix=40 HTTP/1.1\r\nHost: t\r\n\r\n')
    c.response(timeout=1)
    ok(c.closed(2) and len(c.buf) < 200 and c.buf.endswith(b'c' * 10),
       'streamed body shorter than its Content-Length: connection closed after 30 bytes')
    c.close()

    # a streamed 1.0 answer without length is close-delimited
    r, closed = request(srv.port, b'GET /stream?n=2&size=4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
    ok(r is not None and r.body == b'aaaabbbb' and closed and not r.chunked,
       'HTTP/1.0 streamed without length: close-delimited body, no chunking')


def idle_timeout(srv, ms):
    c = Conn(srv.port)
    c.send(b'GET /echo HTTP/1.1\r\nHost: t\r\n\r\n')
    r = c.response()
    ok(r is not None and r.status == 200, 'request before idling')
    t0 = time.monotonic()
    ok(not c.closed(ms / 1000.0 * 0.4), 'idle keep-alive connection open before the timeout')
    ok(c.closed(ms / 1000.0 * 3), 'closed after --keepalive-timeout-ms %d' % ms)
    took = time.monotonic() - t0
    ok(took >= ms / 1000.0 * 0.8, '  not before it (%.2fs)' % took)
    is_(c.buf, b'', '  quietly (no 408 on an idle keep-alive connection)')
    c.close()


def header_timeout(srv, ms):
    c = Conn(srv.port)
    c.send(b'GET /echo HTTP/1.1\r\nHost: t\r\n')
    t0 = time.monotonic()
    r = c.response(timeout=ms / 1000.0 * 5)
    took = time.monotonic() - t0
    is_(r.status if r else None, 408, 'head not complete within --header-timeout-ms: 408')
    ok(ms / 1000.0 * 0.8 <= took <= ms / 1000.0 * 4, '  after about %d ms (%.2fs)' % (ms, took))
    ok(c.closed(), '  and closed')
    c.close()
    # a slow trickle does not extend the deadline
    c = Conn(srv.port)
    t0 = time.monotonic()
    trickle = b'GET /echo HTTP/1.1\r\nHost: t\r\nX-Slow: ' + b'a' * 100
    for i in range(len(trickle)):
        if not c.send(trickle[i:i + 1]) or time.monotonic() - t0 > ms / 1000.0 * 4:
            break
        if c._recv(time.monotonic() + ms / 1000.0 / 20) or c.eof:
            break            # the answer came
    took = time.monotonic() - t0
    r = c.response(timeout=ms / 1000.0 * 4)
    is_(r.status if r else None, 408, 'trickled head (a byte every %d ms) still gets 408' % (ms // 20))
    ok(took < ms / 1000.0 * 2.5, '  the deadline is not re-armed by each byte (%.2fs)' % took)
    c.close()
    alive(srv, '408')


def send_timeout(srv, ms):
    c = Conn(srv.port)
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.send(b'GET /file?path=big HTTP/1.1\r\nHost: t\r\n\r\n')
    time.sleep(0.1)
    ok(stats(srv).get('connections_active') == 2, 'a client that stops reading a 32 MiB answer is held')
    t0 = time.monotonic()
    gone = wait_until(lambda: stats(srv).get('connections_active') == 1, ms / 1000.0 * 8, 0.05)
    took = time.monotonic() - t0
    ok(gone, '  then dropped after --send-timeout-ms %d (%.2fs)' % (ms, took))
    ok(took >= ms / 1000.0 * 0.5, '  not before it')
    c.close()
    alive(srv, 'a send timeout')


def pipelining(srv):
    body = b'posted-body-123'
    data = (b'GET /echo?n=1 HTTP/1.1\r\nHost: t\r\n\r\n'
            b'POST /echo?n=2 HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s'
            b'GET /echo?n=3 HTTP/1.1\r\nHost: t\r\n\r\n') % (len(body), body)
    c = Conn(srv.port)
    c.send(data)
    rs = [c.response() for _ in range(3)]
    ok(all(r is not None and r.status == 200 for r in rs), 'pipelined GET, POST, GET: three 200s')
    is_([r.headers.get('x-echo-query') if r else None for r in rs], ['n=1', 'n=2', 'n=3'],
        '  in order')
    is_(rs[1].body if rs[1] else None, body, '  the POST body echoed')
    ok(not c.closed(0.3), '  connection still open')
    # HEAD in the middle of a pipeline: no body bytes that could shift the rest
    c.send(b'GET /big?n=100 HTTP/1.1\r\nHost: t\r\n\r\n'
           b'HEAD /big?n=5000 HTTP/1.1\r\nHost: t\r\n\r\n'
           b'GET /echo?n=4 HTTP/1.1\r\nHost: t\r\n\r\n')
    r1, r2 = c.response(), c.response(head=True)
    r3 = c.response()
    ok(r1 is not None and len(r1.body) == 100, 'pipelined GET /big')
    ok(r2 is not None and r2.headers.get('content-length') == '5000',
       '  HEAD /big: Content-Length of the GET')
    ok(r3 is not None and r3.headers.get('x-echo-query') == 'n=4',
       '  the request after HEAD parses right (HEAD sent no body)')
    c.close()
    # a chunked body (with trailer) followed at once by the next request
    c = Conn(srv.port)
    c.send(b'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n'
           b'5\r\nhello\r\n3\r\nabc\r\n0\r\nT: x\r\n\r\n'
           b'GET /echo?after-chunked HTTP/1.1\r\nHost: t\r\n\r\n')
    r1, r2 = c.response(), c.response()
    ok(r1 is not None and r1.body == b'helloabc' and r2 is not None and
       r2.headers.get('x-echo-query') == 'after-chunked',
       'pipelined request right after a chunked body and trailer')
    c.close()
    # many pipelined requests in one write
    n = 50
    c = Conn(srv.port)
    c.send(b''.join(b'GET /echo?k=%d HTTP/1.1\r\nHost: t\r\n\r\n' % i for i in range(n)))
    got = [c.response() for _ in range(n)]
    is_([r.headers.get('x-echo-query') if r else None for r in got],
        ['k=%d' % i for i in range(n)], '%d pipelined requests answered in order' % n)
    c.close()


def continue_100(srv):
    payload = bytes(range(256)) * 8      # 2 KiB
    d = tmpdir('wrengine-')
    path = os.path.join(d, 'payload')
    with open(path, 'wb') as f:
        f.write(payload)
    p = curl(['-v', '--data-binary', '@' + path, srv.url('/echo')])
    is_(p.stdout, payload, 'curl --data-binary of 2 KiB: echoed')
    err = p.stderr.decode('latin-1')
    if '> Expect: 100-continue' in err:
        like(err, r'< HTTP/1.1 100 Continue', '  curl asked for 100-continue and got it')
    else:
        p = curl(['-v', '-H', 'Expect: 100-continue', '--data-binary', '@' + path,
                  srv.url('/echo')])
        like(p.stderr.decode('latin-1'), r'< HTTP/1.1 100 Continue',
             '  curl with Expect: 100-continue gets 100 Continue')
    p = curl(['--expect100-timeout', '30', '-H', 'Expect: 100-continue',
              '--data-binary', '@' + path, '-w', '%{time_total}', '-o', '/dev/null',
              srv.url('/echo')])
    ok(p.returncode == 0 and float(p.stdout or 99) < 5,
       '  curl does not wait for its expect timeout (%s s)' % p.stdout.decode())

    c = Conn(srv.port)
    c.send(b'POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n'
           b'Content-Length: %d\r\n\r\n' % len(payload))
    r = c.response(interim=True, timeout=3)
    is_(r.status if r else None, 100, 'raw client waiting before the body gets 100 Continue')
    c.send(payload)
    r = c.response()
    ok(r is not None and r.status == 200 and r.body == payload, '  then the body is echoed')
    c.close()

    c = Conn(srv.port)
    c.send(b'POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n'
           b'Content-Length: %d\r\n\r\n' % (MAX_BODY + 1))
    r = c.response(interim=True, timeout=3)
    is_(r.status if r else None, 413, 'Expect with a body over the limit: 413, no 100')
    c.close()


def head_requests(srv, fdir):
    for target in ('/big?n=3000', '/echo', '/file?path=small'):
        g = get(srv.port, target)
        r, _ = request(srv.port, b'HEAD %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
                       % target.encode(), head=True)
        c = Conn(srv.port)
        c.send(b'HEAD %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' % target.encode())
        c.closed(2)
        rawhead = c.buf
        c.close()
        ok(r is not None and g is not None and r.status == 200 and
           r.headers.get('content-length') == g.headers.get('content-length'),
           'HEAD %s: same Content-Length as GET (%s)' % (target, g.headers.get('content-length') if g else None))
        ok(rawhead.endswith(b'\r\n\r\n'), '  and no body bytes')
    c = Conn(srv.port)
    c.send(b'HEAD /stream?n=3&size=10 HTTP/1.1\r\nHost: t\r\n\r\n'
           b'GET /echo?after-head HTTP/1.1\r\nHost: t\r\n\r\n')
    r1 = c.response(head=True)
    r2 = c.response()
    ok(r1 is not None and r1.status == 200 and r2 is not None and
       r2.headers.get('x-echo-query') == 'after-head',
       'HEAD of a streamed response: no body, next request parses')
    c.close()


def chunked_bodies(srv):
    body = (b'5;ext=1\r\nhello\r\n'
            b'6;a=b;c="q"\r\n world\r\n'
            b'A\r\n0123456789\r\n'
            b'0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n')
    data = H('POST /echo HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked', body=body)
    r, _ = request(srv.port, data)
    is_(r.body if r else None, b'hello world0123456789',
        'chunked body with extensions and trailers echoed exactly')
    c = Conn(srv.port)
    for i in range(len(data)):
        c.send(data[i:i + 1])
    r = c.response()
    is_(r.body if r else None, b'hello world0123456789', '  also when sent one byte at a time')
    c.send(b'GET /echo?next HTTP/1.1\r\nHost: t\r\n\r\n')
    r = c.response()
    ok(r is not None and r.headers.get('x-echo-query') == 'next',
       '  and the connection carries on after the trailer')
    c.close()
    big = os.urandom(40000)
    chunks = b''.join(b'%x\r\n%s\r\n' % (len(big[i:i + 777]), big[i:i + 777])
                      for i in range(0, len(big), 777)) + b'0\r\n\r\n'
    r, _ = request(srv.port, H('POST /echo HTTP/1.1', 'Host: t',
                               'Transfer-Encoding: chunked', body=chunks))
    ok(r is not None and r.body == big, '40 KB of random bytes in 777-byte chunks echoed')


# --- async, streaming, vanishing clients, hijack ------------------------------

def stats(srv):
    r = get(srv.port, '/stats')
    out = {}
    for line in (r.body.decode().splitlines() if r else []):
        k, _, v = line.partition('=')
        out[k] = int(v) if v.isdigit() else v
    return out


def buffered_over_cap(srv):
    r, closed = request(srv.port, b'GET /big?n=5000000 HTTP/1.1\r\nHost: t\r\n\r\n')
    is_(r.status if r else None, 500,
        'a buffered body over the output cap is refused whole (500), never truncated')
    r = get(srv.port, '/big?n=4000000')
    ok(r is not None and r.status == 200 and len(r.body) == 4000000,
       '  4,000,000 bytes under the cap are sent whole')


def async_once(srv):
    c = Conn(srv.port)
    c.send(b'GET /slow?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n'
           b'GET /echo?behind-slow HTTP/1.1\r\nHost: t\r\n\r\n')
    r1, r2 = c.response(), c.response()
    ok(r1 is not None and r1.body == b'slow 300\n', 'async /slow answered from a timer')
    ok(r2 is not None and r2.headers.get('x-echo-query') == 'behind-slow',
       '  the pipelined request after it waits and is answered second')
    ok(not c.closed(0.5) and c.buf == b'', '  nothing else is written (answered once)')
    c.close()


def streaming(srv):
    r = get(srv.port, '/stream?n=5&size=3')
    ok(r is not None and r.chunked and r.body == b'aaabbbcccdddeee',
       'streamed response: chunked, 5 pieces in order')
    n, size = 300, 10000
    want = b''.join(bytes([97 + i % 26]) * size for i in range(n))
    for q in ('', '&delay=20', '&cl=1', '&pace=1', '&pace=1&delay=20'):
        c = Conn(srv.port, timeout=10)
        c.send(b'GET /stream?n=%d&size=%d%s HTTP/1.1\r\nHost: t\r\n\r\n'
               % (n, size, q.encode()))
        time.sleep(0.3)          # let the output queue fill: back-pressure
        r = c.response(timeout=10)
        ok(r is not None and r.body == want,
           '3 MB streamed with back-pressure (%s): intact' % (q or 'sync start'))
        c.close()


def vanishing(srv, fdir):
    before = stats(srv)
    for how in ('close', 'reset'):
        c = Conn(srv.port)
        c.send(b'GET /file?path=big HTTP/1.1\r\nHost: t\r\n\r\n')
        while len(c.buf) < 200000 and c._recv(time.monotonic() + 3):
            pass
        if how == 'reset':
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
        c.close()
        alive(srv, 'a client that %ss mid-file' % how)
    c = Conn(srv.port)
    c.send(b'GET /stream?n=2000&size=10000 HTTP/1.1\r\nHost: t\r\n\r\n')
    c._recv(time.monotonic() + 2)
    c.close()
    alive(srv, 'a client that leaves mid-stream')
    for _ in range(3):
        c = Conn(srv.port)
        c.send(b'GET /slow?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n')
        time.sleep(0.05)
        c.close()
    alive(srv, 'clients that leave while an async handler is pending')
    time.sleep(0.6)
    after = stats(srv)
    is_(after.get('slow_done', 0) - before.get('slow_done', 0), 3,
        '  every pending async handler completed later')
    is_(after.get('slow_orphaned', 0) - before.get('slow_orphaned', 0), 3,
        '  each was told the client left (on_close)')
    ok(wait_until(lambda: stats(srv).get('connections_active') == 1, 5),
       '  no connection left behind (active == 1, the /stats one)')
    time.sleep(0.3)
    after = stats(srv)
    is_(after.get('streams_started'), after.get('streams_done', 0) +
        after.get('streams_orphaned', 0) + after.get('streams_failed', 0),
        '  every stream finished, failed a write, or was told of the close')


def hijack(srv):
    c = Conn(srv.port)
    c.send(b'GET /hijack HTTP/1.1\r\nHost: t\r\n\r\nEARLY')
    r = c.response(interim=True)
    is_(r.status if r else None, 101, 'hijack: 101 from the new owner')
    wait_until(lambda: c._recv(time.monotonic() + 0.2) and b'EARLY' in c.buf, 2)
    is_(c.buf, b'EARLY', '  bytes sent after the head reach the new owner')
    c.buf = b''
    c.send(b'ping\r\n')
    wait_until(lambda: c._recv(time.monotonic() + 0.2) and c.buf.endswith(b'\n'), 2)
    is_(c.buf, b'ping\r\n', '  raw echo afterwards')
    c.close()
    alive(srv, 'hijack')


def stream_port(srv, sport):
    data = os.urandom(300000)
    fnv = 2166136261
    for b in data:
        fnv = ((fnv ^ b) * 16777619) & 0xffffffff
    want = b'bytes=%d fnv=%08x\n' % (len(data), fnv)
    r, _ = request(sport, H('POST /upload-stream HTTP/1.1', 'Host: t',
                            'Content-Length: %d' % len(data), body=data), timeout=10)
    is_(r.body if r else None, want, 'stream_body: 300 KB counted through on_body with pause/resume')
    chunks = b''.join(b'%x\r\n%s\r\n' % (len(data[i:i + 5000]), data[i:i + 5000])
                      for i in range(0, len(data), 5000)) + b'0\r\n\r\n'
    r, _ = request(sport, H('POST /upload-stream HTTP/1.1', 'Host: t',
                            'Transfer-Encoding: chunked', body=chunks), timeout=10)
    is_(r.body if r else None, want, '  chunked too')
    r, _ = request(sport, H('GET /upload-stream HTTP/1.1', 'Host: t'))
    is_(r.body if r else None, b'bytes=0 fnv=811c9dc5\n', '  no body: one call with last')
    c = Conn(sport)
    c.send(H('POST /upload-stream HTTP/1.1', 'Host: t', 'Expect: 100-continue',
             'Content-Length: 10'))
    r = c.response(interim=True, timeout=3)
    is_(r.status if r else None, 100, '  100 Continue once the handler asks for the body')
    c.send(b'0123456789')
    r = c.response()
    ok(r is not None and r.body.startswith(b'bytes=10 '), '  then the body is counted')
    c.close()
    for kind, framed in (('chunked', (b'Transfer-Encoding: chunked',
                                      b'5\r\nhello\r\n3\r\nabc\r\n0\r\nT: x\r\n\r\n')),
                         ('Content-Length', (b'Content-Length: 8', b'helloabc'))):
        c = Conn(sport)
        c.send(b'POST /upload-stream HTTP/1.1\r\nHost: t\r\n%s\r\n\r\n%s'
               b'GET /upload-stream HTTP/1.1\r\nHost: t\r\n\r\n' % framed)
        r1, r2 = c.response(), c.response()
        ok(r1 is not None and r1.body.startswith(b'bytes=8 ') and r2 is not None and
           r2.body == b'bytes=0 fnv=811c9dc5\n',
           'stream_body: pipelined request right after a %s body' % kind)
        c.close()
    # a handler that answers without reading the body: the rest of the body
    # must not be taken as a request, and the answer says so
    c = Conn(sport)
    c.send(H('POST /other HTTP/1.1', 'Host: t', 'Content-Length: 100000',
             body=b'GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n'))
    r = c.response()
    is_(r.status if r else None, 404, 'stream_body: early answer without reading the body')
    is_(r.headers.get('connection', '').lower() if r else None, 'close',
        '  announces Connection: close (the unread body ends the connection)')
    ok(c.closed(), '  and closes')
    ok(b'smuggled' not in c.buf and b'HTTP/1.1' not in c.buf,
       '  body bytes never parsed as a request')
    c.close()
    # a chunked body over the limit in stream_body mode
    st0 = stats(srv)
    over = STREAM_MAX_BODY + 10
    big = b''.join(b'%x\r\n%s\r\n' % (10000, b'z' * 10000) for _ in range(over // 10000 + 1)) \
        + b'0\r\n\r\n'
    c = Conn(sport)
    c.send(H('POST /upload-stream HTTP/1.1', 'Host: t', 'Transfer-Encoding: chunked',
             body=big))
    ok(c.closed(5), 'stream_body: chunked body over the limit ends the connection')
    ok(b'bytes=' not in c.buf, '  without a success answer')
    c.close()
    st = stats(srv)
    is_(st.get('uploads_started', 0) - st0.get('uploads_started', 0),
        (st.get('uploads_done', 0) - st0.get('uploads_done', 0)) +
        (st.get('uploads_closed', 0) - st0.get('uploads_closed', 0)),
        '  the handler is told (on_close): its upload is not left dangling')
    r = get(sport, '/upload-stream')
    ok(r is not None and r.status == 200, '  stream port still answers')


def idle_crowd(srv):
    n = IDLE_CONNS
    if stats(srv).get('backend') == 'select':
        n = 900      # select() watches fds below FD_SETSIZE (1024) only
        diag('select back end: %d idle connections instead of %d' % (n, IDLE_CONNS))
    socks = []
    try:
        for i in range(n):
            s = socket.create_connection(('127.0.0.1', srv.port), timeout=5)
            if i % 2:        # half of them after one request (keep-alive idle)
                s.sendall(b'GET /echo HTTP/1.1\r\nHost: t\r\n\r\n')
            socks.append(s)
        for i, s in enumerate(socks):
            if i % 2:
                s.recv(65536)
        t0 = time.monotonic()
        good = 0
        for i in range(50):
            r = get(srv.port, '/echo?i=%d' % i)
            good += r is not None and r.status == 200
        took = time.monotonic() - t0
        is_(good, 50, 'with %d idle connections open, 50 new requests answered' % n)
        ok(took < 5, '  promptly (%.2fs)' % took)
        st = stats(srv)
        ok(st.get('connections_active', 0) >= n,
           '  the idle ones are all still held (%d active)' % st.get('connections_active', 0))
        c = socks[1]
        c.sendall(b'GET /echo?old HTTP/1.1\r\nHost: t\r\n\r\n')
        like(c.recv(65536), rb'^HTTP/1.1 200', '  an old idle keep-alive connection still works')
    finally:
        for s in socks:
            s.close()
    ok(wait_until(lambda: stats(srv).get('connections_active') == 1, 10),
       '  all released after the clients close')


def graceful_stop(www, st, db):
    """SIGTERM: no new connections, the download in flight completes."""
    srv = Server('backend', '--www', www, '--static', st, '--db', db).start()
    c = Conn(srv.port, timeout=10)
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    c.send(b'GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n')
    while len(c.buf) < 1000000 and c._recv(time.monotonic() + 5):
        pass
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    try:
        socket.create_connection(('127.0.0.1', srv.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    ok(refused, 'SIGTERM: the listener is closed at once')
    # Read to the end first and parse once: parsing a growing bytes buffer
    # after every recv is quadratic and can outlast the grace period.
    data = bytearray(c.buf)
    c.s.settimeout(10)
    try:
        while True:
            got = c.s.recv(1 << 20)
            if not got:
                break
            data += got
    except OSError:
        pass
    try:
        r = parse_response(bytes(data))[0]
    except ValueError:
        r = None
    ok(r is not None and len(r.body) == BIG_FILE,
       '  the download in flight completes (%d bytes)' % (len(r.body) if r else -1))
    c.close()
    try:
        rc = srv.proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    is_(rc, 0, '  then the process exits 0')
    srv.stop()


# --- EMFILE -------------------------------------------------------------------

def emfile(www, st, db):
    port = free_port()
    logp = os.path.join(tmpdir('wremfile-'), 'server.log')

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (EMFILE_LIMIT, EMFILE_LIMIT))
    with open(logp, 'ab') as logf:
        proc = subprocess.Popen([binary(), 'backend', '--server-ip', '127.0.0.1',
                                 '--server-port', str(port), '--www', www, '--static', st,
                                 '--db', db],
                                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                preexec_fn=low_limit)
    try:
        ok(wait_port(port), 'backend with ulimit -n %d started' % EMFILE_LIMIT)
        socks = []
        for _ in range(EMFILE_CONNS):
            try:
                socks.append(socket.create_connection(('127.0.0.1', port), timeout=2))
            except OSError:
                break
        is_(len(socks), EMFILE_CONNS, '%d connections opened against it' % EMFILE_CONNS)
        time.sleep(0.5)
        t0 = cpu_ticks(proc.pid)
        time.sleep(2)
        used = cpu_ticks(proc.pid) - t0
        hz = os.sysconf('SC_CLK_TCK')
        ok(used < hz * 2 * 0.1, 'out of descriptors, it does not spin: %d ticks in 2 s (hz %d)'
           % (used, hz))
        ok(proc.poll() is None, '  and is still running')
        for s in socks:
            s.close()

        def served():
            try:
                r, _ = request(port, b'GET /page.html HTTP/1.1\r\nHost: t\r\n'
                               b'Connection: close\r\n\r\n',
                               timeout=1)
                return r is not None and r.status == 200
            except OSError:
                return False
        ok(wait_until(served, 15, 0.2), 'recovers once the connections close')
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- main -----------------------------------------------------------------------

def make_tree():
    top = tmpdir('wrengine-')
    www, st, fdir = (os.path.join(top, d) for d in ('www', 'static', 'files'))
    for d in (www, st, fdir):
        os.makedirs(d)
    for name in ('index.html', 'page.html'):
        with open(os.path.join(www, name), 'w') as f:
            f.write('<h1>engine</h1>\n')
    with open(os.path.join(fdir, 'small'), 'wb') as f:
        f.write(b'small file\n')
    with open(os.path.join(fdir, 'big'), 'wb') as f:
        f.write(os.urandom(1 << 20) * (BIG_FILE >> 20))
    os.link(os.path.join(fdir, 'big'), os.path.join(st, 'big.bin'))
    return www, st, fdir


def main():
    limit = raise_fd_limit(IDLE_CONNS * 2 + 200)
    if limit < IDLE_CONNS * 2 + 200:
        diag('RLIMIT_NOFILE is %d: the idle-connection test may fail' % limit)
    www, st, fdir = make_tree()
    sport = free_port()
    echo_argv = [ECHO, '--port', '{port}', '--stream-port', str(sport), '--dir', fdir,
                 '--max-body', str(MAX_BODY), '--stream-max-body', str(STREAM_MAX_BODY)]
    with Server(argv=echo_argv) as srv:
        rejections(srv, MAX_BODY)
        body_limits(srv, MAX_BODY)
        keepalive(srv)
        pipelining(srv)
        continue_100(srv)
        head_requests(srv, fdir)
        chunked_bodies(srv)
        buffered_over_cap(srv)
        async_once(srv)
        streaming(srv)
        vanishing(srv, fdir)
        hijack(srv)
        stream_port(srv, sport)
        idle_crowd(srv)
        ok(srv.alive(), 'engine_echo survived everything')

    timeouts = [ECHO, '--port', '{port}', '--header-timeout-ms', '400',
                '--keepalive-timeout-ms', '600', '--send-timeout-ms', '500', '--dir', fdir]
    with Server(argv=timeouts) as srv:
        header_timeout(srv, 400)
        idle_timeout(srv, 600)
        send_timeout(srv, 500)

    db = os.path.join(tmpdir('wrengine-db-'), 'weaprous.db')
    with Server('backend', '--www', www, '--static', st, '--db', db) as srv:
        r = get(srv.port, '/page.html')
        ok(r is not None and r.status == 200 and b'engine' in r.body, 'backend serves /page.html')
        rejections(srv, 1 << 20, target='/page.html')
        backend_body_limit(srv, 1 << 20)
        ok(srv.alive(), 'backend survived every malformed input')

    graceful_stop(www, st, db)
    emfile(www, st, db)
    done_testing()


main()
