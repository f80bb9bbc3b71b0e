#!/usr/bin/env python3
# proxy_ws.t - WebSocket through `weaprous proxy` with no configuration:
# the Upgrade is forwarded, the 101 comes back, then frames flow both ways
# (small, 64 KiB and 1 MiB, several clients at once); closing one side ends
# the tunnel; websocket_timeout closes an idle tunnel; /__status counts it.

import base64
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import done_testing, is_, ok, read_head, wait_until  # noqa: E402
from proxy_helpers import Proxy, Upstream, get, ws_frame, ws_read_frame  # noqa: E402

ws = Upstream('W', mode='ws')
conf = '''status_listen 127.0.0.1:{status};
host "ws" { proxy_pass http://127.0.0.1:%d; }
host "idle" { websocket_timeout 500ms; proxy_pass http://127.0.0.1:%d; }
''' % (ws.port, ws.port)


def ws_open(port, host):
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(('GET /chat HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n'
               'Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n'
               'Sec-WebSocket-Version: 13\r\n\r\n' % (host, key)).encode()
              + ws_frame(1, b'early frame'))   # bytes right behind the request
    head, rest = read_head(s)
    return s, head, rest


with Proxy(conf) as px:
    s, head, rest = ws_open(px.port, 'ws')
    ok(head.startswith(b'HTTP/1.1 101'), '101 Switching Protocols through the proxy')
    ok(b'Sec-WebSocket-Accept:' in head, 'handshake fields passed on')
    op, payload, rest = ws_read_frame(s, rest)
    is_((op, payload), (1, b'early frame'), 'a frame sent right behind the request is relayed')
    for size in (5, 65536, 1 << 20):
        msg = os.urandom(size)
        s.sendall(ws_frame(2, msg))
        op, payload, rest = ws_read_frame(s, rest)
        ok(op == 2 and payload == msg, 'echo of a %d-byte frame' % size)
    is_(px.status()['tunnels_active'], 1, '/__status shows the open tunnel')
    s.sendall(ws_frame(8, b''))
    op, payload, rest = ws_read_frame(s, rest)
    is_(op, 8, 'close frame answered')
    s.settimeout(5)
    ok(s.recv(10) == b'', 'the tunnel closes after the upstream closes')
    s.close()
    ok(wait_until(lambda: px.status()['tunnels_active'] == 0, 5), 'tunnel released')

    # several at once
    errors = []

    def client(i):
        try:
            c, h, r = ws_open(px.port, 'ws')
            _, _, r = ws_read_frame(c, r)
            for j in range(20):
                m = b'client %d message %d' % (i, j)
                c.sendall(ws_frame(1, m))
                op, p, r = ws_read_frame(c, r)
                if p != m:
                    errors.append((i, j, p))
            c.close()
        except OSError as e:
            errors.append((i, str(e)))
    ths = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    is_(errors, [], '8 concurrent WebSocket clients, 20 messages each, all echoed')

    s, head, rest = ws_open(px.port, 'idle')
    ws_read_frame(s, rest)
    t0 = time.monotonic()
    s.settimeout(5)
    try:
        gone = s.recv(10) == b''
    except OSError:
        gone = True
    ok(gone and time.monotonic() - t0 < 3, 'websocket_timeout 500ms closes an idle tunnel')
    s.close()
    # this upstream switches protocols whatever it is asked: a 101 to a
    # request that did not ask for an upgrade is a broken upstream
    is_(get(px.port, host='ws')[0], 502, 'unrequested 101: 502, no tunnel')

done_testing()
