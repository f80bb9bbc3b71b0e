"""peer_helpers - a tracker and real `weaprous peer` processes for the chat
tests (t/peer*.t), a raw P2P client that speaks the frames of
docs/PROTOCOL.md, and a small WebSocket client for /events.

    stack = Stack(['alice', 'bob'])          # tracker + accounts (password = name)
    a = stack.peer('alice')                  # a peer process, signed in
    a.join('general')
    st, m = a.api('POST', '/broadcast-peer', {'channel': 'general', 'text': 'hi'})
"""

import base64
import hashlib
import http.client
import json
import os
import socket
import struct
import time

from wrtest import Server, binary, free_port, tmpdir, wait_until, diag, ws_split  # noqa: F401

HTTP_TIMEOUT = 10.0


def http_json(port, method, path, body=None, token=None, headers=None, raw=None):
    """One request to 127.0.0.1:port; (status, parsed JSON or None, headers)."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=HTTP_TIMEOUT)
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h['Content-Type'] = 'application/json'
    if token:
        h['Authorization'] = 'Bearer ' + token
    if data is None and method in ('POST', 'PUT', 'PATCH'):
        data = b''
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        text = r.read()
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            doc = None
        return r.status, doc, dict((k.lower(), v) for k, v in r.getheaders())
    finally:
        conn.close()


class Stack:
    """A tracker on a free port with accounts (password = user name)."""

    def __init__(self, users, heartbeat='1s', extra=()):
        self.dir = tmpdir('wrpeer-')
        self.db = os.path.join(self.dir, 'tracker.db')
        self.heartbeat = heartbeat
        self.extra = list(extra)
        self.tracker = None
        self.start_tracker()
        for u in users:
            self.add_user(u)
        self.peers = {}

    def start_tracker(self, port=None):
        args = ['--allow-signup', '--heartbeat-interval', self.heartbeat,
                '--db', self.db] + self.extra
        if self.tracker is None:
            self.tracker = Server('tracker', *args, port=port)
        self.tracker.start()
        return self.tracker

    def add_user(self, user, password=None):
        st, _, _ = http_json(self.tracker.port, 'POST', '/register',
                             {'username': user, 'password': password or user})
        if st not in (200, 201, 409):
            raise RuntimeError('register %s: %d' % (user, st))

    def peer(self, user, login=True, **kw):
        p = Peer(self, user, **kw)
        self.peers[user] = p
        p.start()
        if login:
            p.login()
        return p


class Peer:
    """One `weaprous peer` with its own database and fixed ports (so that
    a restart keeps its address)."""

    def __init__(self, stack, user, args=(), wrap=()):
        """wrap: a command to run the peer under (valgrind ...)."""
        self.stack = stack
        self.user = user
        self.port = free_port()
        self.p2p = free_port()
        self.db = os.path.join(stack.dir, user + '.db')
        self.token = None
        self.args = list(args)
        src = os.environ['WR_SRCDIR']
        argv = list(wrap) + [
            binary(), 'peer', '--server-ip', '127.0.0.1', '--server-port', str(self.port),
            '--tracker', 'http://127.0.0.1:%d' % stack.tracker.port,
            '--p2p-port', str(self.p2p), '--db', self.db,
            '--www', os.path.join(src, 'www'), '--static', os.path.join(src, 'static'),
            '--log-level', 'debug'] + self.args
        self.srv = Server(argv=argv, port=self.port, timeout=60 if wrap else 10)

    def start(self):
        self.srv.start()
        return self

    def stop(self, sig=15):
        return self.srv.stop(sig)

    def kill(self):
        return self.srv.stop(9)

    def restart(self):
        self.stop()
        return self.start()

    def log(self):
        return self.srv.log_text()

    def login(self, password=None):
        st, doc, _ = http_json(self.port, 'POST', '/login',
                               {'username': self.user, 'password': password or self.user})
        if st != 200:
            raise RuntimeError('login %s: %d %s' % (self.user, st, doc))
        self.token = doc['token']
        # registered with the tracker (the P2P address is then listed)
        wait_until(lambda: self.me().get('registered'), 10)
        return doc

    def api(self, method, path, body=None, token=True, **kw):
        st, doc, _ = http_json(self.port, method, path, body,
                               self.token if token is True else token, **kw)
        return st, doc

    def me(self):
        st, doc = self.api('GET', '/me')
        return doc if st == 200 else {}

    def join(self, channel, **extra):
        body = dict(channel=channel, **extra)
        return self.api('POST', '/add-list', body)

    def say(self, channel, text, client_id=None):
        body = {'channel': channel, 'text': text}
        if client_id:
            body['client_id'] = client_id
        return self.api('POST', '/broadcast-peer', body)

    def dm(self, user, text, client_id=None):
        body = {'peer': user, 'text': text}
        if client_id:
            body['client_id'] = client_id
        return self.api('POST', '/send-peer', body)

    def history(self, channel, limit=500):
        path = ('/dm/%s/messages' % channel[1:] if channel.startswith('@')
                else '/channels/%s/messages' % channel)
        st, doc = self.api('GET', path + '?limit=%d' % limit)
        return doc['messages'] if st == 200 else None

    def history_all(self, channel):
        """Every message of a conversation, oldest first (paged by
        before=), or None when the peer does not answer."""
        path = ('/dm/%s/messages' % channel[1:] if channel.startswith('@')
                else '/channels/%s/messages' % channel)
        out, before = [], ''
        while True:
            try:
                st, doc = self.api('GET', path + '?limit=500' + before)
            except OSError:
                return None
            if st != 200:
                return None
            out[:0] = doc['messages']
            if not doc['more'] or not doc['messages']:
                return out
            before = '&before=' + doc['messages'][0]['id']

    def texts(self, channel):
        h = self.history(channel) or []
        return [m['text'] for m in h]

    def link(self, user):
        st, doc = self.api('GET', '/get-list?all=1')
        for p in (doc or {}).get('peers', []):
            if p['user'] == user:
                return p.get('link')
        return None

    def wait_texts(self, channel, texts, timeout=10.0):
        """Polls until the channel's history holds every text; returns the
        texts seen last (to print on failure)."""
        seen = []

        def has():
            seen[:] = self.texts(channel)
            return all(t in seen for t in texts)
        wait_until(has, timeout, 0.05)
        return seen


# --- the P2P wire format -------------------------------------------------

def frame(obj=None, payload=None):
    data = payload if payload is not None else json.dumps(obj, separators=(',', ':')).encode()
    return struct.pack('>I', len(data)) + data


class P2P:
    """A raw P2P connection, for hostile and forged frames."""

    def __init__(self, port, timeout=5.0):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.buf = b''

    def send(self, obj=None, payload=None, raw=None):
        self.s.sendall(raw if raw is not None else frame(obj, payload))

    def recv(self, timeout=5.0):
        """The next frame as a dict, None on EOF or timeout."""
        self.s.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack('>I', self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    data, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return json.loads(data)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                return None
            if not chunk:
                return None
            self.buf += chunk

    def closed(self, timeout=5.0):
        """True once the other side closed (frames before it are skipped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                if not self.s.recv(65536):
                    return True
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
        return False

    def close(self):
        self.s.close()


# --- a WebSocket client for /events ----------------------------------------

def ws_pong(sock, data):
    """Answers a ping with the same payload (a client's frames are masked)."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    sock.sendall(bytes([0x8a, 0x80 | len(data)]) + mask + body)


class Events:
    """GET /events with the session token; next() returns each JSON event."""

    def __init__(self, port, token, timeout=5.0):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(('GET /events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n'
                        'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                        'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n'
                        'Authorization: Bearer %s\r\n\r\n' % (port, key, token)).encode())
        head = b''
        while b'\r\n\r\n' not in head:
            chunk = self.s.recv(4096)
            if not chunk:
                raise RuntimeError('events: closed during the handshake')
            head += chunk
        head, self.buf = head.split(b'\r\n\r\n', 1)
        if not head.startswith(b'HTTP/1.1 101'):
            raise RuntimeError('events: ' + head.decode(errors='replace'))
        want = base64.b64encode(hashlib.sha1(
            (key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
        if ('Sec-WebSocket-Accept: ' + want).encode() not in head:
            raise RuntimeError('events: bad accept key')

    def _frame(self):
        while True:
            f = ws_split(self.buf)
            if f:
                op, data, self.buf = f
                return op, data
            chunk = self.s.recv(65536)
            if not chunk:
                return None, None
            self.buf += chunk

    def next(self, timeout=5.0):
        """The next event (a dict), None on timeout or close."""
        self.s.settimeout(timeout)
        try:
            while True:
                op, data = self._frame()
                if op is None or op == 8:
                    return None
                if op == 9:
                    ws_pong(self.s, data)
                    continue
                if op == 1:
                    return json.loads(data)
        except socket.timeout:
            return None

    def wait(self, pred, timeout=10.0):
        """Events until one satisfies pred; (that event, every event seen)."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            e = self.next(max(0.01, deadline - time.monotonic()))
            if e is None:
                break
            seen.append(e)
            if pred(e):
                return e, seen
        return None, seen

    def close(self):
        self.s.close()


def tracker_ticket(tracker_port, user, target):
    """Logs user in on the tracker and gets a ticket for target: (token,
    answer of /connect-peer)."""
    st, doc, _ = http_json(tracker_port, 'POST', '/login',
                           {'username': user, 'password': user})
    token = doc['token']
    st, t, _ = http_json(tracker_port, 'POST', '/connect-peer', {'peer': target}, token)
    return token, (t if st == 200 else None)
