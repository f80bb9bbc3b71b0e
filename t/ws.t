#!/usr/bin/env python3
"""ws.t - WebSocket end to end: raw-socket frames (fragmentation, ping,
close handshake, 1009, 1007, 1002, handshake refusals) and an independent
client (node's WebSocket, t/ws/client.js) against t/servers/ws_echo."""

import base64
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import *  # noqa: E402,F401

GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
MAX_MESSAGE = 200000
KEY = base64.b64encode(os.urandom(16)).decode()


def frame(op, payload, fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack('!BB', b0, m | n)
    elif n < 65536:
        head = struct.pack('!BBH', b0, m | 126, n)
    else:
        head = struct.pack('!BBQ', b0, m | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def handshake(port, extra=b'', headers=None, path='/echo'):
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    hdrs = headers if headers is not None else {
        'Upgrade': 'websocket', 'Connection': 'Upgrade',
        'Sec-WebSocket-Key': KEY, 'Sec-WebSocket-Version': '13'}
    req = 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n' % path
    req += ''.join('%s: %s\r\n' % kv for kv in hdrs.items()) + '\r\n'
    s.sendall(req.encode() + extra)
    head, _ = read_head(s, bufsize=1)   # leaves the frames in the socket
    return s, head.decode('latin-1') + '\r\n'   # every header line ends in CRLF


def read_frames(s, want_eof=True, limit=64):
    """Reads server frames until EOF (or a close frame when not want_eof)."""
    data, frames, eof = b'', [], False
    s.settimeout(5)
    while len(frames) < limit:
        parsed = parse(data)
        if parsed:
            frames.append(parsed[0])
            data = data[parsed[1]:]
            if parsed[0][0] == 8 and not want_eof:
                break
            continue
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            eof = True
            break
        data += chunk
    return frames, eof


def parse(data):
    """((opcode, payload), bytes used) of the first whole frame, or None."""
    f = ws_split(data)
    if f is None:
        return None
    op, payload, rest = f
    return (op, payload), len(data) - len(rest)


def close_code(frames):
    for op, p in frames:
        if op == 8 and len(p) >= 2:
            return struct.unpack('!H', p[:2])[0]
    return None


def test_handshake(port):
    s, head = handshake(port)
    want = base64.b64encode(hashlib.sha1(KEY.encode() + GUID).digest()).decode()
    like(head, r'^HTTP/1.1 101 ', '101 Switching Protocols')
    like(head, r'(?i)\r\nupgrade: websocket\r\n', 'Upgrade: websocket')
    ok('Sec-WebSocket-Accept: %s\r\n' % want in head, 'accept key matches')
    s.close()
    bad = {'Upgrade': 'websocket', 'Connection': 'Upgrade',
           'Sec-WebSocket-Key': KEY, 'Sec-WebSocket-Version': '8'}
    s, head = handshake(port, headers=bad)
    like(head, r'^HTTP/1.1 426 ', 'version 8 -> 426')
    like(head, r'(?i)\r\nsec-websocket-version: 13\r\n', '426 names version 13')
    s.close()
    bad = dict(bad, **{'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'short'})
    s, head = handshake(port, headers=bad)
    like(head, r'^HTTP/1.1 400 ', 'bad key -> 400')
    s.close()
    s, head = handshake(port, headers={'Connection': 'close'})
    like(head, r'^HTTP/1.1 400 ', 'plain GET on a WebSocket endpoint -> 400')
    s.close()


def test_frames(port):
    # frames sent together with the handshake, fragmented text around a ping
    burst = (frame(1, b'hi') + frame(1, 'fr\xe2'.encode('latin-1')[:3], fin=False)
             + frame(9, b'are you there') + frame(0, b'\x82\xacg', fin=True)
             + frame(2, bytes(range(256)) * 300) + frame(8, struct.pack('!H', 1000) + b'bye'))
    s, head = handshake(port, extra=burst)
    like(head, r'^HTTP/1.1 101 ', 'handshake with frames right behind it')
    frames, eof = read_frames(s)
    ops = [f[0] for f in frames]
    is_(ops, [1, 10, 1, 2, 8], 'echo, pong, reassembled echo, binary echo, close')
    if len(frames) == 5:
        is_(frames[0][1], b'hi', 'text echoed')
        is_(frames[1][1], b'are you there', 'pong carries the ping payload')
        is_(frames[2][1].decode('utf-8'), 'fr\u20acg', 'fragments reassembled across a ping')
        is_(frames[3][1], bytes(range(256)) * 300, 'binary of 76800 bytes (64-bit length)')
    is_(close_code(frames), 1000, 'close echoed with 1000')
    ok(eof, 'server closes TCP after the close handshake')
    s.close()


def expect_close(port, payload, code, name):
    s, _ = handshake(port)
    s.sendall(payload)
    frames, eof = read_frames(s)
    is_(close_code(frames), code, '%s -> %d' % (name, code))
    ok(eof, '%s: connection closed' % name)
    s.close()


def test_errors(port):
    big = b'a' * (MAX_MESSAGE + 1)
    expect_close(port, frame(2, big), 1009, 'oversize frame')
    half = b'a' * (MAX_MESSAGE // 2 + 1)
    expect_close(port, frame(2, half, fin=False) + frame(0, half), 1009, 'oversize message')
    expect_close(port, frame(1, b'ok\xed', fin=False) + frame(0, b'\xa0\x80'), 1007,
                 'invalid UTF-8 split across fragments')
    expect_close(port, frame(1, b'x', mask=False), 1002, 'unmasked client frame')
    expect_close(port, frame(1, b'x', rsv=0x40), 1002, 'RSV1 without extension')
    expect_close(port, frame(9, b'p' * 126), 1002, 'ping of 126 bytes')
    expect_close(port, frame(0, b'x'), 1002, 'continuation without a message')
    expect_close(port, frame(8, b'\x03'), 1002, 'close payload of one byte')
    # a client that vanishes without a close frame does not hurt the server
    s, _ = handshake(port)
    s.sendall(frame(1, b'half')[:3])
    s.close()


def test_node(port):
    node = shutil.which(os.environ.get('NODE', 'node')) or shutil.which('node')
    if not node:
        skip('node not installed', 1)
        return
    script = os.path.join(srcdir(), 't', 'ws', 'client.js')
    flags = []
    probe = subprocess.run([node, '-e', 'process.exit(typeof WebSocket === "undefined" ? 1 : 0)'], capture_output=True)
    if probe.returncode != 0:
        flags = ['--experimental-websocket']
    r = subprocess.run([node] + flags + [script, str(port)], capture_output=True,
                       text=True, timeout=60)
    for line in r.stdout.splitlines():
        diag('node: ' + line)
    ok(r.returncode == 0 and 'not ok' not in r.stdout and '\nok 8 ' in '\n' + r.stdout,
       'node WebSocket client: all its checks pass')
    if r.stderr:
        diag(r.stderr)


def main():
    echo = os.path.join(builddir(), 't', 'servers', 'ws_echo')
    with Server(argv=[echo, '{port}', str(MAX_MESSAGE)]) as srv:
        test_handshake(srv.port)
        test_frames(srv.port)
        test_errors(srv.port)
        test_node(srv.port)
        r = raw(srv.port, req('GET', '/'))
        like(r.decode('latin-1'), r'^HTTP/1.1 200 ', 'server still answers HTTP')
        ok(srv.alive(), 'server still running')
    done_testing()


main()
