"""wrtest - the helper every Python integration test (t/*.t) imports.

    import os, sys
    sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
    from wrtest import *

    with Server('backend', '--www', www, '--static', static) as srv:
        r = parse_response(raw(srv.port, req('GET', '/')))[0]
        is_(r.status, 200, 'GET / answers 200')
    done_testing()

TAP goes to stdout (plan at the end); the exit code is 1 when a test point
failed.  Env: WR_BUILDDIR / WR_SRCDIR (set by make check), WR_REQUIRE_ALL=1
(CI: a skip is a failure), WR_TEST_TIMEOUT (seconds for the whole script,
default 600), WR_KEEP_TMP=1 (keep temp dirs for a post-mortem).
"""

import atexit
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

__all__ = [
    'ok', 'is_', 'isnt', 'like', 'diag', 'skip', 'skip_all', 'done_testing',
    'failed', 'free_port', 'binary', 'srcdir', 'builddir', 'tmpdir',
    'require', 'Server', 'wait_port', 'wait_until', 'raw', 'req',
    'Response', 'parse_response', 'parse_responses', 'read_head',
    'read_to_eof', 'curl', 'rss_kib', 'cpu_ticks', 'raise_fd_limit',
    'ws_split',
]

SERVER_START_TIMEOUT = 10.0   # seconds until a server must accept
SERVER_STOP_TIMEOUT = 5.0     # seconds between SIGTERM and SIGKILL
LOG_TAIL_LINES = 200          # lines of a server log shown on failure
SANITIZER_MARKS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer',
                   'runtime error:', 'ERROR: UndefinedBehaviorSanitizer')


class _State:
    """Everything the test script accumulates: counts, temp dirs, servers."""

    def __init__(self):
        self.count = 0
        self.failed = 0
        self.done = False
        self.tmpdirs = []
        self.servers = []


_st = _State()


# --- TAP -----------------------------------------------------------------

def _line(text):
    sys.stdout.write(text + '\n')
    sys.stdout.flush()


def diag(msg):
    """Print msg as TAP comment lines (on stdout, so it lands in the .log)."""
    for line in str(msg).splitlines() or ['']:
        _line('# ' + line)


def ok(cond, name=''):
    """One test point; returns cond so callers can add diagnostics."""
    _st.count += 1
    if not cond:
        _st.failed += 1
    name = name.replace('#', '\\#').replace('\n', ' ')
    _line('%sok %d - %s' % ('' if cond else 'not ', _st.count, name))
    return bool(cond)


def is_(got, expected, name=''):
    """ok(got == expected) with both values shown on failure."""
    if ok(got == expected, name):
        return True
    diag('     got: %r\nexpected: %r' % (got, expected))
    return False


def isnt(got, unexpected, name=''):
    if ok(got != unexpected, name):
        return True
    diag('     got: %r\n  but it must differ' % (got,))
    return False


def like(got, pattern, name=''):
    """ok(re.search(pattern, got)); works on str and bytes alike."""
    if got is not None and re.search(pattern, got):
        return ok(True, name)
    ok(False, name)
    diag('     got: %r\n    like: %r' % (got, pattern))
    return False


def skip(reason, count=1):
    """Skip count test points.  Under WR_REQUIRE_ALL they fail instead."""
    for _ in range(count):
        if os.environ.get('WR_REQUIRE_ALL'):
            ok(False, 'required but skipped: ' + reason)
        else:
            _st.count += 1
            _line('ok %d # SKIP %s' % (_st.count, reason))


def skip_all(reason):
    """Skip the whole script (exit 0), or fail it when WR_REQUIRE_ALL is set:
    CI must never pass by skipping."""
    if os.environ.get('WR_REQUIRE_ALL'):
        ok(False, 'required but skipped: ' + reason)
        done_testing()
    _line('1..0 # SKIP ' + reason)
    _st.done = True
    _cleanup()
    sys.exit(0)


def failed():
    """Number of failed test points so far."""
    return _st.failed


def done_testing():
    """Print the plan, show server logs if anything failed, and exit."""
    for srv in list(_st.servers):
        srv.stop()
    if _st.failed:
        for log in _server_logs():
            _show_log(log)
    _line('1..%d' % _st.count)
    _st.done = True
    _cleanup()
    sys.exit(1 if _st.failed else 0)


# --- paths and temp dirs ---------------------------------------------------

def builddir():
    return os.environ.get('WR_BUILDDIR', os.getcwd())


def srcdir():
    return os.environ.get('WR_SRCDIR', os.getcwd())


def binary(name='weaprous'):
    """Path of a program built by make (WR_BUILDDIR/name)."""
    return os.path.join(builddir(), name)


def tmpdir(prefix='wrtest-'):
    """A fresh directory, removed at exit unless WR_KEEP_TMP is set."""
    path = tempfile.mkdtemp(prefix=prefix)
    _st.tmpdirs.append(path)
    return path


def require(*tools):
    """skip_all (fail under WR_REQUIRE_ALL) unless every tool is on PATH."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        skip_all('missing tool: ' + ', '.join(missing))


def _cleanup():
    for srv in list(_st.servers):
        srv.stop()
    if os.environ.get('WR_KEEP_TMP'):
        return
    for path in _st.tmpdirs:
        shutil.rmtree(path, ignore_errors=True)
    _st.tmpdirs = []


def _server_logs():
    seen = []
    for path in _st.tmpdirs:
        log = os.path.join(path, 'server.log')
        if os.path.exists(log):
            seen.append(log)
    return seen


def _show_log(path):
    try:
        with open(path, 'r', errors='replace') as f:
            lines = f.read().splitlines()
    except OSError:
        return
    diag('--- %s (last %d lines) ---' % (path, LOG_TAIL_LINES))
    diag('\n'.join(lines[-LOG_TAIL_LINES:]))


def _on_exit():
    # A script that dies without done_testing() still stops its servers;
    # the missing plan makes the TAP driver report the error.
    _cleanup()


def _on_alarm(signum, frame):
    raise TimeoutError('test script exceeded WR_TEST_TIMEOUT')


atexit.register(_on_exit)
signal.signal(signal.SIGALRM, _on_alarm)
signal.alarm(int(os.environ.get('WR_TEST_TIMEOUT', '600')))


# --- sockets and processes ---------------------------------------------------

def free_port(host='127.0.0.1'):
    """A TCP port that was free a moment ago (the kernel picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=10.0, step=0.02):
    """Poll pred() until it is true or timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        val = pred()
        if val or time.monotonic() >= deadline:
            return val
        time.sleep(step)


def _accepts(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port, host='127.0.0.1', timeout=SERVER_START_TIMEOUT):
    """True once something accepts TCP connections on host:port."""
    return wait_until(lambda: _accepts(host, port), timeout, 0.05)


class Server:
    """A real process on a free port, stopped on exit from the with-block.

    Server('backend', '--www', d) runs `weaprous backend --server-ip
    127.0.0.1 --server-port P --www d`.  Server(argv=[...]) runs any
    command; the string '{port}' inside its arguments becomes the port.
    stdout and stderr go to server.log in the server's own temp dir, shown as
    diagnostics when the test fails.  A sanitizer report in that log is a
    failed test point of its own.
    """

    def __init__(self, role=None, *args, argv=None, port=None,
                 host='127.0.0.1', env=None, cwd=None, wait=True,
                 timeout=SERVER_START_TIMEOUT):
        self.host = host
        self.port = port or free_port(host)
        if argv is None:
            argv = [binary(), role, '--server-ip', host,
                    '--server-port', str(self.port)] + list(args)
        self.argv = [str(a).replace('{port}', str(self.port)) for a in argv]
        self.dir = tmpdir('wrsrv-')
        self.log = os.path.join(self.dir, 'server.log')
        self.env = dict(os.environ, **(env or {}))
        self.cwd = cwd
        self.wait = wait
        self.timeout = timeout
        self.proc = None
        self.returncode = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is not None:
            _show_log(self.log)
        return False

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def url(self, path='/'):
        return 'http://%s:%d%s' % (self.host, self.port, path)

    def start(self):
        """Start the process; with wait, return once the port accepts."""
        with open(self.log, 'ab') as logf:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd)
        _st.servers.append(self)
        if self.wait and not self._wait_ready():
            self.stop()
            _show_log(self.log)
            raise RuntimeError('server did not accept on port %d within %gs: %s'
                               % (self.port, self.timeout, ' '.join(self.argv)))
        return self

    def _wait_ready(self):
        def ready():
            if self.proc.poll() is not None:
                return 'exited'
            return _accepts(self.host, self.port)
        return wait_until(ready, self.timeout, 0.05) is True

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=SERVER_STOP_TIMEOUT):
        """Send sig, wait up to timeout, then SIGKILL; returns the exit code
        (negative signal number when killed).  Idempotent."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                diag('server %d ignored signal %d for %gs: SIGKILL'
                     % (self.proc.pid, sig, timeout))
                self.proc.kill()
                self.proc.wait()
        if self in _st.servers:
            _st.servers.remove(self)
            self.returncode = self.proc.returncode
            self._check_sanitizers()
        return self.returncode

    def log_text(self):
        with open(self.log, 'r', errors='replace') as f:
            return f.read()

    def _check_sanitizers(self):
        text = self.log_text()
        if any(mark in text for mark in SANITIZER_MARKS):
            if _st.done:
                sys.stderr.write(text)
                return
            ok(False, 'no sanitizer report from %s' % os.path.basename(
                self.argv[0]))
            # the report itself, also when the script dies before
            # done_testing() (which shows every log after a failure)
            for line in text.splitlines():
                if any(mark in line for mark in SANITIZER_MARKS):
                    diag(line)


def raw(port, data=b'', timeout=2.0, host='127.0.0.1', delay=0.0,
        shut_wr=False):
    """Send data (bytes, or a list of chunks sent delay seconds apart) and
    return every byte received until the peer closes or timeout seconds
    pass in total.  A reset ends the read; what came before is returned."""
    chunks = data if isinstance(data, (list, tuple)) else [data]
    out = bytearray()
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            for i, chunk in enumerate(chunks):
                if i and delay:
                    time.sleep(delay)
                s.sendall(chunk)
            if shut_wr:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass    # the server may close early (e.g. after a 400): read on
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                got = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not got:
                break
            out += got
    return bytes(out)


def req(method='GET', target='/', headers=None, body=b'', version='HTTP/1.1',
        host='localhost'):
    """Raw request bytes.  Host is added unless given (or host is None);
    Content-Length is added for a non-empty body unless given."""
    headers = list((headers or {}).items()) if isinstance(headers, dict) \
        else list(headers or [])
    names = {k.lower() for k, _ in headers}
    if host is not None and 'host' not in names:
        headers.insert(0, ('Host', host))
    if isinstance(body, str):
        body = body.encode()
    if body and 'content-length' not in names and \
            'transfer-encoding' not in names:
        headers.append(('Content-Length', str(len(body))))
    head = '%s %s %s\r\n' % (method, target, version)
    head += ''.join('%s: %s\r\n' % kv for kv in headers)
    return head.encode('latin-1') + b'\r\n' + body


# --- HTTP response parsing ---------------------------------------------------

class Response:
    """status (int), reason, version, headers (lowercased name -> value,
    repeated fields joined by ', '), header_list [(name, value)] as sent,
    body (bytes, de-chunked), chunked (bool)."""

    def __init__(self, version, status, reason):
        self.version, self.status, self.reason = version, status, reason
        self.headers, self.header_list = {}, []
        self.body, self.chunked = b'', False

    def all(self, name):
        """Every value of a header field (e.g. 'set-cookie')."""
        return [v for k, v in self.header_list if k.lower() == name.lower()]

    def __repr__(self):
        return '<Response %s %d %r, %d body bytes>' % (
            self.version, self.status, self.reason, len(self.body))


def _parse_head(data):
    end = data.find(b'\r\n\r\n')
    if end < 0:
        raise ValueError('incomplete response head')
    lines = data[:end].decode('latin-1').split('\r\n')
    m = re.match(r'^(HTTP/\d\.\d) (\d{3})(?: (.*))?$', lines[0])
    if not m:
        raise ValueError('bad status line %r' % lines[0])
    r = Response(m.group(1), int(m.group(2)), m.group(3) or '')
    for line in lines[1:]:
        name, sep, value = line.partition(':')
        if not sep:
            raise ValueError('bad header line %r' % line)
        value = value.strip(' \t')
        r.header_list.append((name, value))
        key = name.lower()
        r.headers[key] = r.headers[key] + ', ' + value if key in r.headers \
            else value
    return r, end + 4


def _dechunk(data, pos):
    body = bytearray()
    while True:
        eol = data.find(b'\r\n', pos)
        if eol < 0:
            raise ValueError('incomplete chunk size line')
        size = int(data[pos:eol].split(b';')[0], 16)
        pos = eol + 2
        if size == 0:
            break
        if len(data) < pos + size + 2:
            raise ValueError('incomplete chunk')
        body += data[pos:pos + size]
        pos += size + 2
    while True:                       # trailer fields, then the empty line
        eol = data.find(b'\r\n', pos)
        if eol < 0:
            raise ValueError('incomplete chunked trailer')
        if eol == pos:
            return bytes(body), eol + 2
        pos = eol + 2


def parse_response(data, head=False):
    """Parse one response from the start of data; returns (Response, rest).
    head=True: the response answers a HEAD (no body whatever it says).
    Without length or chunking the body runs to the end of data.  Raises
    ValueError when data holds no complete response."""
    r, pos = _parse_head(data)
    te = r.headers.get('transfer-encoding', '').lower()
    if head or r.status < 200 or r.status in (204, 304):
        return r, data[pos:]
    if 'chunked' in te:
        r.chunked = True
        r.body, pos = _dechunk(data, pos)
        return r, data[pos:]
    if 'content-length' in r.headers:
        n = int(r.headers['content-length'])
        if len(data) < pos + n:
            raise ValueError('body shorter than Content-Length (%d < %d)'
                             % (len(data) - pos, n))
        r.body = data[pos:pos + n]
        return r, data[pos + n:]
    r.body = data[pos:]
    return r, b''


def parse_responses(data, heads=()):
    """Split pipelined responses.  heads: indexes (0-based, counting final
    responses only) of those that answer a HEAD.  Interim 1xx responses are
    returned too.  Raises ValueError on trailing garbage or a short reply."""
    out, final = [], 0
    while data:
        r, data = parse_response(data, head=final in heads)
        out.append(r)
        if r.status >= 200:
            final += 1
    return out


def ws_split(buf):
    """The first whole frame of a server's WebSocket bytes: (opcode,
    payload, the rest), or None while it is incomplete.  A server must not
    mask: a masked frame comes back as (-1, b'masked by server', b'')."""
    if len(buf) < 2:
        return None
    if buf[1] & 0x80:
        return -1, b'masked by server', b''
    n, off = buf[1] & 0x7f, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, off = struct.unpack('!H', buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, off = struct.unpack('!Q', buf[2:10])[0], 10
    if len(buf) < off + n:
        return None
    return buf[0] & 0x0f, buf[off:off + n], buf[off + n:]


def read_to_eof(s):
    """Everything socket s delivers until the peer closes; the socket's
    own timeout raises socket.timeout (no silent partial answer)."""
    data = b''
    while True:
        got = s.recv(65536)
        if not got:
            return data
        data += got


def read_head(s, bufsize=65536):
    """Reads from socket s until the blank line ending a response head
    (or EOF): (head, rest), both bytes, the CRLFCRLF dropped; rest holds
    what came behind the head in the same reads.  bufsize=1 reads byte by
    byte, so nothing behind the head is consumed."""
    data = b''
    while b'\r\n\r\n' not in data:
        got = s.recv(bufsize)
        if not got:
            break
        data += got
    head, _, rest = data.partition(b'\r\n\r\n')
    return head, rest


# --- tools ---------------------------------------------------------------

def curl(args, input=None, timeout=20):
    """Run curl -sS with args; returns subprocess.CompletedProcess with
    bytes stdout/stderr (returncode 28 means curl timed out)."""
    return subprocess.run(['curl', '-sS'] + [str(a) for a in args],
                          input=input, capture_output=True, timeout=timeout)


def rss_kib(pid):
    """Resident set size of pid in KiB, read from /proc/PID/status."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def raise_fd_limit(want):
    """Raise our soft RLIMIT_NOFILE (inherited by the servers) to want;
    returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want and (hard == resource.RLIM_INFINITY or hard >= want):
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


def cpu_ticks(pid):
    """utime + stime of pid in clock ticks (os.sysconf('SC_CLK_TCK'))."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])
