#!/usr/bin/env python3
# proxy_stream.t - `weaprous proxy` streams bodies instead of buffering
# them: a 50 MiB upload and a 50 MiB download pass intact while the
# proxy's RSS stays under a fixed bound, including with a client that reads
# slowly and with an upstream that reads slowly (back-pressure both ways);
# client_max_body_size gives 413 by Content-Length and cuts a chunked
# upload that grows past it.

import hashlib
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import done_testing, is_, ok, read_head, read_to_eof, rss_kib  # noqa: E402
from proxy_helpers import Proxy, Upstream, get  # noqa: E402

SIZE = 50 << 20
RSS_BOUND_KIB = 16 * 1024   # the proxy never holds a body: a few MiB of buffers

echo = Upstream('E')
slowup = Upstream('S', mode='slowread')
bigup = Upstream('D', mode='big', size=SIZE)
conf = '''
client_max_body_size 0;
host "up" { proxy_pass http://127.0.0.1:%d; }
host "down" { proxy_pass http://127.0.0.1:%d; }
host "small" { client_max_body_size 10k; proxy_pass http://127.0.0.1:%d; }
host "slowup" { proxy_pass http://127.0.0.1:%d; }
''' % (echo.port, bigup.port, echo.port, slowup.port)


with Proxy(conf) as px:
    peak = [0]

    def sample():
        peak[0] = max(peak[0], rss_kib(px.pid))

    def upload(s, host, path, n, block, every, digest=None):
        """POSTs n bytes of block repeated, sampling the proxy's RSS every
        `every` blocks; the JSON the upstream answers, or {}."""
        s.sendall(b'POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n'
                  b'Connection: close\r\n\r\n' % (path, host, n))
        for i in range(n // len(block)):
            s.sendall(block)
            if digest is not None:
                digest.update(block)
            if i % every == 0:
                sample()
        head, rest = read_head(s)
        rest += read_to_eof(s)
        return json.loads(rest) if b' 200 ' in head else {}

    # upload
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    with socket.create_connection(('127.0.0.1', px.port), timeout=30) as s:
        info = upload(s, b'up', b'/up', SIZE, block, 8, digest)
    is_(info.get('body_len'), SIZE, '50 MiB upload arrives whole')
    is_(info.get('body_sha256'), digest.hexdigest(), 'byte for byte')

    # download, read slowly at first: the proxy must not buffer it
    with socket.create_connection(('127.0.0.1', px.port), timeout=30) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b'GET /big HTTP/1.1\r\nHost: down\r\nConnection: close\r\n\r\n')
        head, rest = read_head(s)
        got_len = len(rest)
        for _ in range(20):        # a slow reader for two seconds
            time.sleep(0.1)
            sample()
            got_len += len(s.recv(65536))
        while True:
            got = s.recv(1 << 20)
            if not got:
                break
            got_len += len(got)
            sample()
    ok(b' 200 ' in head and b'Content-Length: %d' % SIZE in head, 'download head with Content-Length')
    is_(got_len, SIZE, '50 MiB download arrives whole')
    ok(peak[0] < RSS_BOUND_KIB, 'proxy RSS stayed under %d MiB (peak %d KiB)'
       % (RSS_BOUND_KIB >> 10, peak[0]))

    # upload to an upstream slower than the client: the client is paused,
    # the proxy does not buffer the difference
    with socket.create_connection(('127.0.0.1', px.port), timeout=30) as s:
        n = 24 << 20
        info = upload(s, b'slowup', b'/slow', n, block, 4)
    is_(info.get('body_len'), n, '24 MiB upload to a slow upstream arrives whole')
    ok(peak[0] < RSS_BOUND_KIB, 'RSS still under %d MiB (peak %d KiB)' % (RSS_BOUND_KIB >> 10, peak[0]))

    # limits
    st, h, body = get(px.port, host='small', method='POST', body=b'x' * 20000)
    is_(st, 413, 'Content-Length above client_max_body_size: 413')
    with socket.create_connection(('127.0.0.1', px.port), timeout=10) as s:
        s.sendall(b'POST /c HTTP/1.1\r\nHost: small\r\nTransfer-Encoding: chunked\r\n\r\n')
        data = b''
        try:
            for _ in range(30):
                s.sendall(b'400\r\n' + b'y' * 1024 + b'\r\n')
            s.sendall(b'0\r\n\r\n')
            while True:
                got = s.recv(65536)
                if not got:
                    break
                data += got
        except OSError:
            pass
    ok(b' 200 ' not in data[:20], 'chunked upload past the limit is not forwarded whole')
    is_(get(px.port, host='up')[0], 200, 'the proxy still answers')

done_testing()
