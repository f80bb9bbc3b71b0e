#!/usr/bin/env python3
# proxy_stream.t - `weaprous proxy` streams bodies instead of buffering
# them: a 50 MiB upload and a 50 MiB download pass intact while the
# proxy's RSS stays under a fixed bound, including with a client that reads
# slowly and with an upstream that reads slowly (back-pressure both ways);
# client_max_body_size gives 413 by Content-Length and cuts a chunked
# upload that grows past it; 1,000 clients that stop reading large
# responses hold the proxy's memory to proxy_total_buffers_size plus a small
# allowance each, while a client that reads still gets its whole download.

import hashlib
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import (Server, diag, done_testing, is_, ok, raise_fd_limit,  # noqa: E402
                    read_head, read_to_eof, rss_kib, tmpdir, wait_until)
from proxy_helpers import Proxy, Upstream, get  # noqa: E402

SIZE = 50 << 20
SANITIZED = bool(os.environ.get('WR_SANITIZE_FLAGS'))
# The proxy never holds a body: a few MiB of buffers.  Under ASan, add its
# runtime and shadow memory, and the quarantine of freed chunks (held to
# 16 MiB here): drained buffers are freed, which ASan keeps for a while.
RSS_BOUND_KIB = (48 if SANITIZED else 16) * 1024
ASAN_QUARANTINE_MB = 16


def proxy_env():
    """The proxy's environment: a small ASan quarantine, so that freed
    memory held for use-after-free checks does not look like growth."""
    env = dict(os.environ)
    if SANITIZED:
        env['ASAN_OPTIONS'] = ':'.join(filter(None, [
            os.environ.get('ASAN_OPTIONS', ''), 'quarantine_size_mb=%d' % ASAN_QUARANTINE_MB]))
    return env


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


with Proxy(conf, env=proxy_env()) as px:
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


# --- 1,000 stalled readers ---------------------------------------------------

STALLED = 1000
STALLED_FILE = 8 << 20            # each response: far more than any buffer
BUDGET_KIB = 32 * 1024            # the default proxy_total_buffers_size
# one stalled reader past the budget (its connection, request and queue
# window: about 35 KiB measured), and the proxy's own RSS with slack; ASan
# adds shadow memory, redzones and its quarantine
PER_READER_KIB = 96 if SANITIZED else 48
STALL_BASE_KIB = (48 if SANITIZED else 16) * 1024
STALL_RCVBUF = 4096               # what the kernel takes for a stalled client
# what the clients' queues may hold past the budget: the request that
# crosses it, then each reader's window (PROXY_TIGHT_QUEUE + one
# PROXY_TIGHT_READ, with framing)
QUEUED_SLACK = 1 << 20
QUEUED_PER_READER = 16 << 10


def stalled_reader(port):
    """A client that asks for the big file, reads the head, then nothing."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALL_RCVBUF)
    s.settimeout(30)
    s.connect(('127.0.0.1', port))
    s.sendall(b'GET /big.bin HTTP/1.1\r\nHost: files\r\n\r\n')
    return s


def head_of(s):
    got = b''
    while b'\r\n\r\n' not in got:
        c = s.recv(1)
        if not c:
            break
        got += c
    return got


def rss_settled(pid, samples):
    """True once the RSS has not changed over the last ten samples (taken
    by the caller's poll); every sample is kept for the peak."""
    samples.append(rss_kib(pid))
    return len(samples) >= 10 and len(set(samples[-10:])) == 1


def stalled_readers():
    n = STALLED
    have = raise_fd_limit(2 * n + 200)
    top = tmpdir('wrstall-')
    for d in ('www', 'static'):
        os.makedirs(os.path.join(top, d))
    with open(os.path.join(top, 'static', 'big.bin'), 'wb') as f:
        f.write(os.urandom(1 << 20) * (STALLED_FILE >> 20))
    with Server('backend', '--www', os.path.join(top, 'www'), '--static',
                os.path.join(top, 'static'), '--db', os.path.join(top, 'w.db')) as files, \
            Proxy('status_listen 127.0.0.1:{status};\n'
                  'host "files" { proxy_pass http://127.0.0.1:%d; }\n' % files.port,
                  env=proxy_env()) as px:
        if 'reactor select' in px.log_text() or have < 2 * n + 200:
            n = 400     # select() watches fds below FD_SETSIZE only
            diag('select back end or few descriptors (%d): %d stalled readers' % (have, n))
        base = rss_kib(px.pid)
        socks = [stalled_reader(px.port) for _ in range(n)]
        heads = [head_of(s) for s in socks]
        is_(sum(b' 200 ' in h[:13] for h in heads), n, '%d stalled readers got their heads' % n)
        samples = []
        settled = wait_until(lambda: rss_settled(px.pid, samples), timeout=60, step=0.1)
        peak = max(samples)
        diag('proxy RSS: %d KiB before, %d KiB peak with %d stalled readers '
             '(%.1f KiB each past the budget)' % (base, peak, n, (peak - base - BUDGET_KIB) / n))
        ok(settled, 'the RSS settles while they stall')
        st = px.status()
        limit = st['total_buffers_size'] + QUEUED_SLACK + n * QUEUED_PER_READER
        ok(st['total_buffers_size'] == BUDGET_KIB << 10 and st['buffered_bytes'] <= limit,
           'queued bytes held to the default budget + a window a reader: %d <= %d'
           % (st['buffered_bytes'], limit))
        bound = STALL_BASE_KIB + BUDGET_KIB + n * PER_READER_KIB
        ok(peak < bound, 'proxy RSS under budget + %d KiB a reader: %d KiB < %d KiB'
           % (PER_READER_KIB, peak, bound))
        with socket.create_connection(('127.0.0.1', px.port), timeout=60) as s:
            s.sendall(b'GET /big.bin HTTP/1.1\r\nHost: files\r\nConnection: close\r\n\r\n')
            head, rest = read_head(s)
            got = len(rest) + len(read_to_eof(s))
        is_((b' 200 ' in head, got), (True, STALLED_FILE),
            'meanwhile a client that reads gets its whole 8 MiB')
        for s in socks:
            s.close()
        is_(get(px.port, host='files', path='/big.bin', method='HEAD')[0], 200,
            'the proxy answers after the stalled readers leave')


stalled_readers()
done_testing()
