"""proxy_helpers - test upstreams and a proxy launcher for t/proxy_*.t.

Upstream(name, mode=...) is a small HTTP/1.1 server in a thread of the test
process that answers with JSON describing the request it saw (name, method,
target, headers, body length and digest), and misbehaves on purpose when
told to (mode can be changed while it runs):

  echo       200 with Content-Length, keep-alive
  chunked    200 with a chunked body
  slow       like echo after `delay` seconds
  hang       reads the request, never answers
  malformed  answers with a broken status line
  bighead    answers with a 64 KiB header field
  cutbody    promises 100000 bytes, sends 1000, closes
  close      reads the request and closes without a byte
  big        streams `size` bytes (Content-Length), for streaming tests
  ws         WebSocket handshake, then echoes every frame
  dropreuse  answers the first request of a connection, then closes the
             connection when a second request arrives on it (after reading
             its head: `heads` lists it, as a crashed handler would)
  health     like echo, but GET /healthz answers `health_status`, after
             `health_interim` (bytes: interim 1xx heads) and with
             `health_fields` (bytes: more header lines) when set
  slowread   like echo, but reads request bodies at about 20 MB/s

Proxy(conf_text) writes the configuration (with `{port}` / `{status}`
replaced by free ports) and runs `weaprous proxy -c FILE` through wrtest's
Server.
"""

import base64
import hashlib
import json
import os
import socket
import threading
import time

from wrtest import Server, free_port, read_to_eof, tmpdir

HEAD_MAX = 65536


def _read_head(sock, buf):
    while b'\r\n\r\n' not in buf:
        got = sock.recv(65536)
        if not got:
            return None, buf
        buf += got
        if len(buf) > HEAD_MAX:
            return None, buf
    end = buf.index(b'\r\n\r\n')
    lines = buf[:end].decode('latin-1').split('\r\n')
    method, target, _ = lines[0].split(' ', 2)
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(':')
        headers.append((k, v.strip()))
    return (method, target, headers), buf[end + 4:]


def _hget(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def _read_exact(sock, buf, n):
    while len(buf) < n:
        got = sock.recv(min(1 << 20, n - len(buf) + 65536))
        if not got:
            raise ConnectionError('eof in body')
        buf += got
    return buf[:n], buf[n:]


def _read_line(sock, buf):
    while b'\r\n' not in buf:
        got = sock.recv(65536)
        if not got:
            raise ConnectionError('eof in chunk')
        buf += got
    i = buf.index(b'\r\n')
    return buf[:i], buf[i + 2:]


def _pass_on(sock, buf, n, sink, eof_msg):
    """Hands the next n body bytes (buf first, then sock) to sink(bytes)
    piece by piece, without holding them all; returns what follows them.
    EOF before n bytes raises ConnectionError(eof_msg)."""
    while n:
        if not buf:
            buf = sock.recv(1 << 20)
            if not buf:
                raise ConnectionError(eof_msg)
        take = buf[:n]
        sink(take)
        n -= len(take)
        buf = buf[len(take):]
    return buf


def _read_body(sock, headers, buf, sink):
    """Reads the body into sink(bytes); returns (length, rest, chunked)."""
    te = (_hget(headers, 'Transfer-Encoding') or '').lower()
    total = 0
    if 'chunked' in te:
        while True:
            line, buf = _read_line(sock, buf)
            size = int(line.split(b';')[0], 16)
            if size == 0:
                while True:
                    line, buf = _read_line(sock, buf)
                    if not line:
                        return total, buf, True
            buf = _pass_on(sock, buf, size, sink, 'eof in chunk data')
            total += size
            _, buf = _read_exact(sock, buf, 2)
    n = int(_hget(headers, 'Content-Length') or 0)
    buf = _pass_on(sock, buf, n, sink, 'eof in body')
    return n, buf, False


class Upstream:
    def __init__(self, name, mode='echo', delay=0.0, size=0, host='127.0.0.1'):
        self.name, self.mode, self.delay, self.size = name, mode, delay, size
        self.health_status = 200
        self.health_interim = b''
        self.health_fields = b''
        self.port = free_port(host)
        self.host = host
        self.requests = 0
        self.heads = []        # (method, target) of every request head read
        self.connections = 0
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, self.port))
        self.sock.listen(128)
        self.closed = False
        self.live = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        """Stop accepting (connections are then refused)."""
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def kill(self):
        """Like a crash: stop accepting and reset every open connection."""
        self.stop()
        with self.lock:
            live = list(self.live)
        for c in live:
            try:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\0\0\0\0\0\0\0')
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.live.add(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b''
        nreq = 0
        try:
            while True:
                head, buf = _read_head(c, buf)
                if head is None:
                    return
                nreq += 1
                with self.lock:
                    self.heads.append(head[:2])
                if self.mode == 'dropreuse' and nreq > 1:
                    return
                with self.lock:
                    self.requests += 1
                    self.active += 1
                    self.max_active = max(self.max_active, self.active)
                try:
                    keep, buf = self._answer(c, head, buf)
                finally:
                    with self.lock:
                        self.active -= 1
                if not keep:
                    return
        except (OSError, ConnectionError, ValueError):
            return
        finally:
            with self.lock:
                self.live.discard(c)
            c.close()

    def _answer(self, c, head, buf):
        method, target, headers = head
        digest = hashlib.sha256()
        if self.mode == 'ws':
            return self._ws(c, headers, buf), b''
        sink = digest.update
        if self.mode == 'slowread':   # a slow consumer of request bodies
            def sink(data):
                digest.update(data)
                time.sleep(len(data) / 20e6)   # about 20 MB/s
        length, buf, chunked = _read_body(c, headers, buf, sink)
        mode = self.mode
        if mode == 'slow' and self.delay:
            time.sleep(self.delay)
        if mode == 'hang':
            time.sleep(3600)
        if mode == 'close':
            return False, buf
        if mode == 'malformed':
            c.sendall(b'HTTX/1.1 2OO Okay\r\n\r\n')
            return False, buf
        if mode == 'bighead':
            c.sendall(b'HTTP/1.1 200 OK\r\nX-Big: ' + b'a' * 65536 + b'\r\nContent-Length: 0\r\n\r\n')
            return False, buf
        info = {'name': self.name, 'method': method, 'target': target,
                'headers': headers, 'body_len': length, 'chunked': chunked,
                'body_sha256': digest.hexdigest()}
        if mode == 'health' and target == '/healthz':
            body = b'health'
            c.sendall(b'%sHTTP/1.1 %d X\r\n%sContent-Length: %d\r\n\r\n%s'
                      % (self.health_interim, self.health_status, self.health_fields,
                         len(body), body))
            return True, buf
        body = json.dumps(info).encode()
        if mode == 'cutbody':
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n' + b'x' * 1000)
            return False, buf
        if mode == 'chunked':
            out = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: %s\r\n\r\n' % self.name.encode()
            for i in range(0, len(body), 7):
                part = body[i:i + 7]
                out += b'%x\r\n%s\r\n' % (len(part), part)
            c.sendall(out + b'0\r\n\r\n')
            return True, buf
        if mode == 'big':
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % self.size)
            block = b'0123456789abcdef' * 4096
            left = self.size
            while left:
                n = min(left, len(block))
                c.sendall(block[:n])
                left -= n
            return True, buf
        c.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                  b'Content-Length: %d\r\nX-Up: %s\r\nConnection: keep-alive, X-Hop\r\n'
                  b'X-Hop: secret\r\nKeep-Alive: timeout=5\r\n\r\n%s'
                  % (len(body), self.name.encode(), body))
        return True, buf

    def _ws(self, c, headers, buf):
        key = _hget(headers, 'Sec-WebSocket-Key') or ''
        acc = base64.b64encode(hashlib.sha1(
            (key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest())
        c.sendall(b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
                  b'Connection: Upgrade\r\nSec-WebSocket-Accept: ' + acc + b'\r\n\r\n')
        while True:
            op, payload, buf = ws_read_frame(c, buf, masked_ok=True)
            if op is None or op == 8:
                c.sendall(ws_frame(8, b'', mask=False))
                return False
            c.sendall(ws_frame(op, payload, mask=False))


def ws_frame(op, payload, mask=True):
    head = bytes([0x80 | op])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + n.to_bytes(2, 'big')
    else:
        head += bytes([mbit | 127]) + n.to_bytes(8, 'big')
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_read_frame(sock, buf, masked_ok=True):
    """Returns (opcode, payload, rest) or (None, b'', buf) at EOF."""
    try:
        hdr, buf = _read_exact(sock, buf, 2)
        n = hdr[1] & 0x7f
        if n == 126:
            ext, buf = _read_exact(sock, buf, 2)
            n = int.from_bytes(ext, 'big')
        elif n == 127:
            ext, buf = _read_exact(sock, buf, 8)
            n = int.from_bytes(ext, 'big')
        key = b''
        if hdr[1] & 0x80:
            key, buf = _read_exact(sock, buf, 4)
        payload, buf = _read_exact(sock, buf, n)
    except (ConnectionError, OSError):
        return None, b'', buf
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return hdr[0] & 0x0f, payload, buf


class Proxy(Server):
    """weaprous proxy on a free port with the given configuration text."""

    def __init__(self, conf, extra=(), wait=True, env=None):
        self.status_port = free_port()
        port = free_port()
        self.conf_dir = tmpdir('wrproxy-')
        self.conf_path = os.path.join(self.conf_dir, 'proxy.conf')
        self.write_conf(conf, port)
        argv = [os.path.join(os.environ.get('WR_BUILDDIR', '.'), 'weaprous'),
                'proxy', '-c', self.conf_path, '--server-ip', '127.0.0.1',
                '--server-port', str(port)] + list(extra)
        Server.__init__(self, argv=argv, port=port, wait=wait, env=env)

    def write_conf(self, conf, port=None):
        text = conf.replace('{status}', str(self.status_port))
        if port is not None:
            text = text.replace('{port}', str(port))
        else:
            text = text.replace('{port}', str(self.port))
        with open(self.conf_path, 'w') as f:
            f.write(text)

    def status(self):
        """The JSON of /__status (needs `status_listen 127.0.0.1:{status}`)."""
        with socket.create_connection(('127.0.0.1', self.status_port), timeout=5) as s:
            s.sendall(b'GET /__status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
            data = read_to_eof(s)
        return json.loads(data.split(b'\r\n\r\n', 1)[1])


def get(port, path='/', host='x', headers=(), method='GET', body=b'', timeout=10):
    """One request on a fresh connection with Connection: close.  Returns
    (status, headers dict lower-cased, body bytes) or (None, {}, raw) when
    the response is incomplete or the connection was cut."""
    from wrtest import parse_response, raw, req
    hs = [('Connection', 'close')] + list(headers)
    data = raw(port, req(method, path, hs, body, host=host), timeout=timeout)
    try:
        r, _ = parse_response(data, head=method == 'HEAD')
    except ValueError:
        return None, {}, data
    return r.status, r.headers, r.body


def up_name(body):
    """Name of the upstream that answered an echo request, or None."""
    try:
        return json.loads(body)['name']
    except (ValueError, KeyError, TypeError):
        return None
