"""static_helpers - the little that t/static.t needs until t/lib/wrtest.py
(the shared helper) is in main: TAP output, a backend on a free port, and a
raw-socket HTTP/1.1 client that sends bytes exactly as given (no URL
normalisation, so traversal attempts reach the server unchanged).
"""

import os
import socket
import subprocess
import sys
import time

START_TIMEOUT = 10.0     # seconds until the server must accept
IO_TIMEOUT = 10.0        # seconds for one response
MAX_HEAD = 65536         # a response head larger than this is a failure

_count = 0
_failed = 0


def ok(cond, name=''):
    global _count, _failed
    _count += 1
    if not cond:
        _failed += 1
    print('%sok %d - %s' % ('' if cond else 'not ', _count,
                            name.replace('#', '\\#').replace('\n', ' ')))
    sys.stdout.flush()
    return bool(cond)


def diag(msg):
    for line in str(msg).splitlines() or ['']:
        print('# ' + line)
    sys.stdout.flush()


def is_(got, want, name=''):
    if not ok(got == want, name):
        diag('  got %r, want %r' % (got, want))


def done_testing():
    print('1..%d' % _count)
    sys.stdout.flush()
    sys.exit(1 if _failed else 0)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Backend:
    """`weaprous backend` on 127.0.0.1 and a free port; stops on exit."""

    def __init__(self, www, static, logdir, extra=()):
        build = os.environ.get('WR_BUILDDIR', '.')
        self.port = free_port()
        self.log = open(os.path.join(logdir, 'backend.log'), 'wb')
        self.proc = subprocess.Popen(
            [os.path.join(build, 'weaprous'), 'backend',
             '--server-ip', '127.0.0.1', '--server-port', str(self.port),
             '--www', www, '--static', static] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('backend exited with %d' % self.proc.returncode)
            try:
                socket.create_connection(('127.0.0.1', self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError('backend did not accept on port %d' % self.port)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Response:
    def __init__(self, status, fields, body):
        self.status = status
        self.fields = fields          # list of (lower-case name, value)
        self.body = body

    def get(self, name, default=None):
        name = name.lower()
        for n, v in self.fields:
            if n == name:
                return v
        return default

    def count(self, name):
        return sum(1 for n, _ in self.fields if n == name.lower())


def _recv_until(sock, data, pred):
    while not pred(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def read_response(sock, data=b'', head_only=False):
    """Reads one response from sock (data: bytes already received).
    Returns (Response or None, leftover bytes)."""
    data = _recv_until(sock, data, lambda d: b'\r\n\r\n' in d or len(d) > MAX_HEAD)
    if b'\r\n\r\n' not in data:
        return None, data
    head, rest = data.split(b'\r\n\r\n', 1)
    lines = head.decode('latin-1').split('\r\n')
    status = int(lines[0].split(' ')[1])
    fields = []
    for line in lines[1:]:
        n, _, v = line.partition(':')
        fields.append((n.strip().lower(), v.strip()))
    r = Response(status, fields, b'')
    if head_only or status in (204, 304) or 100 <= status < 200:
        return r, rest
    if r.get('transfer-encoding', '').lower() == 'chunked':
        body = b''
        while True:
            rest = _recv_until(sock, rest, lambda d: b'\r\n' in d)
            size_line, rest = rest.split(b'\r\n', 1)
            size = int(size_line.split(b';')[0], 16)
            rest = _recv_until(sock, rest, lambda d: len(d) >= size + 2)
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                r.body = body
                return r, rest
    cl = r.get('content-length')
    if cl is None:
        rest = _recv_until(sock, rest, lambda d: False)
        r.body = rest
        return r, b''
    n = int(cl)
    rest = _recv_until(sock, rest, lambda d: len(d) >= n)
    r.body = rest[:n]
    return r, rest[n:]


def connect(port):
    s = socket.create_connection(('127.0.0.1', port), IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    return s


def request(port, method, target, fields=(), body=b'', close=True):
    """One request on a new connection; returns the Response (or None)."""
    lines = ['%s %s HTTP/1.1' % (method, target), 'Host: 127.0.0.1:%d' % port]
    lines += ['%s: %s' % f for f in fields]
    if body or method in ('POST', 'PUT', 'PATCH'):
        lines.append('Content-Length: %d' % len(body))
    if close:
        lines.append('Connection: close')
    raw = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body
    return send_raw(port, raw, head_only=(method == 'HEAD'))


def send_raw(port, raw, head_only=False):
    s = connect(port)
    try:
        s.sendall(raw)
        return read_response(s, head_only=head_only)[0]
    except OSError as e:
        diag('request failed: %s' % e)
        return None
    finally:
        s.close()
