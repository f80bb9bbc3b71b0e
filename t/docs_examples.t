#!/usr/bin/env python3
"""docs/examples/*.c and every ```c snippet of docs/FRAMEWORK.md compile
against the built library (public headers only), and the examples behave as
the guide says when run: routes, hooks, async and streamed answers, files,
WebSocket broadcast, the HTTP client with timers and signals."""

import base64
import json
import os
import re
import shlex
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403

require('cc')

EXAMPLES = ('hello', 'notes', 'chat', 'client')
WARN = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-Wno-unused-parameter']


def make_var(name):
    """A variable of the build tree's Makefile (sanitizer flags must match
    the library's)."""
    try:
        with open(os.path.join(builddir(), 'Makefile')) as f:
            for line in f:
                m = re.match(r'^%s = (.*)$' % name, line.rstrip('\n'))
                if m:
                    return shlex.split(m.group(1))
    except OSError:
        pass
    return []


libdir = os.path.join(builddir(), '.libs')
extra = [f for f in make_var('AX_CFLAGS') if f.startswith('-f')]
link = ['-L' + libdir, '-Wl,-rpath,' + libdir, '-lweaprous'] + make_var('LDFLAGS')
cflags = WARN + extra + ['-I' + os.path.join(srcdir(), 'src')]
work = tmpdir('wrdocs-')


def compile_one(src, out):
    r = subprocess.run(['cc'] + cflags + [src, '-o', out] + link,
                       capture_output=True, text=True)
    if r.returncode != 0:
        diag(r.stderr[-3000:])
    return r.returncode == 0


built = {}
for name in EXAMPLES:
    src = os.path.join(srcdir(), 'docs', 'examples', name + '.c')
    exe = os.path.join(work, name)
    built[name] = ok(compile_one(src, exe), 'docs/examples/%s.c compiles' % name) and exe

# --- snippets of FRAMEWORK.md: each ```c block compiles on its own --------
guide = open(os.path.join(srcdir(), 'docs', 'FRAMEWORK.md')).read()
blocks = re.findall(r'```c\n(.*?)```', guide, re.S)
ok(len(blocks) >= 8, 'FRAMEWORK.md has C snippets (%d)' % len(blocks))
hello_src = open(os.path.join(srcdir(), 'docs', 'examples', 'hello.c')).read()
ok(hello_src in blocks, 'FRAMEWORK.md shows docs/examples/hello.c exactly')
for i, code in enumerate(blocks, 1):
    prelude = '' if '#include' in code else \
        '#include <signal.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <weaprous.h>\n'
    path = os.path.join(work, 'snippet%d.c' % i)
    with open(path, 'w') as f:
        f.write(prelude + code)
    full = 'int main(' in code
    args = ['cc'] + cflags + ['-Wno-unused-function']
    args += [path, '-o', path + '.bin'] + link if full else ['-c', path, '-o', path + '.o']
    r = subprocess.run(args, capture_output=True, text=True)
    first = code.strip().splitlines()[0][:50] if code.strip() else ''
    if not ok(r.returncode == 0, 'FRAMEWORK.md snippet %d compiles (%s)' % (i, first)):
        diag(r.stderr[-2000:])


class Example:
    """An example program that prints "listening on PORT" first."""

    def __init__(self, exe, *args):
        self.proc = subprocess.Popen([exe, '0'] + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r'listening on (\d+)', line)
        self.port = int(m.group(1)) if m else None

    def url(self, path):
        return 'http://127.0.0.1:%d%s' % (self.port, path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(5)


def get(url, *args):
    r = curl(['-i', url] + list(args))
    text = r.stdout.decode('utf-8', 'replace')
    head, _, body = text.partition('\r\n\r\n')
    m = re.match(r'HTTP/1\.1 (\d+)', head)
    return (int(m.group(1)) if m else 0), head, body


# --- hello ---------------------------------------------------------------
if built['hello']:
    ex = Example(built['hello'])
    st, _, body = get(ex.url('/hello/world'))
    is_((st, body), (200, '{"hello":"world"}'), 'hello: GET /hello/world')
    st, _, body = get(ex.url('/hello/a%20b'))
    is_(body, '{"hello":"a b"}', 'hello: the parameter is decoded')
    st, head, _ = get(ex.url('/hello/world'), '-X', 'POST', '-d', '')
    is_(st, 405, 'hello: POST gets 405')
    like(head, r'Allow: GET, HEAD, OPTIONS', '... with Allow')
    is_(ex.stop(), 0, 'hello: SIGTERM stops it with status 0')
else:
    skip('hello did not build', 5)

# --- notes ---------------------------------------------------------------
if built['notes']:
    src = os.path.join(srcdir(), 'docs', 'examples', 'notes.c')
    ex = Example(built['notes'], src)
    jar = os.path.join(work, 'jar')
    is_(get(ex.url('/files/a/b%20c/d.txt'))[2], 'you asked for a/b c/d.txt\n',
        'notes: /files/:path+ joins the segments')
    is_(json.loads(get(ex.url('/search?q=a+b%21'))[2]), {'q': 'a b!'},
        'notes: decoded query parameter')
    is_(json.loads(get(ex.url('/search'))[2]), {'q': None}, 'notes: absent -> null')
    is_(get(ex.url('/api/notes'))[0], 401, 'notes: the /api hook refuses without cookie')
    st, head, _ = get(ex.url('/login'), '-c', jar, '-d', 'user=bob')
    is_(st, 204, 'notes: form login')
    like(head, r'Set-Cookie: user=bob; Path=/; SameSite=Lax; HttpOnly', '... sets the cookie')
    is_(get(ex.url('/login'), '-d', 'user=a b')[0], 400, 'notes: a cookie value with a space is refused')
    is_(get(ex.url('/login'), '-H', 'Content-Type: application/json',
            '-d', '{"user":"eve"}')[0], 204, 'notes: JSON login')
    st, _, body = get(ex.url('/api/notes'), '-b', jar, '-H', 'Content-Type: application/json',
                      '-d', '{"text":"buy milk"}')
    is_((st, body), (201, '{"id":1}'), 'notes: POST /api/notes')
    is_(get(ex.url('/api/notes'), '-b', jar)[2], '["buy milk"]', 'notes: GET /api/notes')
    st, _, body = get(ex.url('/api/notes'), '-b', jar, '-H', 'Content-Type: application/json',
                      '-d', '{"text":')
    is_(st, 400, 'notes: malformed JSON -> 400')
    like(body, r'"detail":"line 1, column 9: ', '... with the position')
    is_(get(ex.url('/api/notes'), '-b', jar, '-d', 'text=x')[0], 415, 'notes: form body -> 415')
    big = '{"text":"' + 'x' * 20000 + '"}'
    is_(get(ex.url('/api/notes'), '-b', jar, '-H', 'Content-Type: application/json',
            '--data-binary', big)[0], 413, 'notes: JSON over json.max_size -> 413')
    deep = '[' * 9 + ']' * 9
    is_(get(ex.url('/api/notes'), '-b', jar, '-H', 'Content-Type: application/json',
            '--data-binary', deep)[0], 400, 'notes: nesting over json.max_depth -> 400')
    t0 = time.monotonic()
    st, _, body = get(ex.url('/api/slow'), '-b', jar)
    is_((st, body), (200, 'later\n'), 'notes: asynchronous answer from a timer')
    ok(time.monotonic() - t0 >= 0.19, '... about 200 ms later')
    st, head, body = get(ex.url('/count/4'))
    like(head, r'Transfer-Encoding: chunked', 'notes: streamed answer is chunked')
    is_(body, '1\n2\n3\n4\n', '... and complete')
    is_(get(ex.url('/count'))[2], '1\n2\n3\n', 'notes: optional parameter absent -> default')
    st, head, _ = get(ex.url('/old'))
    is_(st, 308, 'notes: redirect status')
    like(head, r'Location: /search', '... and Location')
    st, _, body = get(ex.url('/file'))
    is_((st, body), (200, open(src).read()), 'notes: app_file sends the file')
    st, _, _ = get(ex.url('/quit'), '-d', '')
    is_(st, 202, 'notes: POST /quit answers')
    try:
        is_(ex.proc.wait(5), 0, '... and the program stops by itself (app_stop)')
    except subprocess.TimeoutExpired:
        ok(False, '... and the program stops by itself (app_stop)')
        ex.stop()
else:
    skip('notes did not build', 24)


# --- chat: raw WebSocket clients -------------------------------------------
def ws_connect(port, origin=None):
    s = socket.create_connection(('127.0.0.1', port), timeout=3)
    key = base64.b64encode(os.urandom(16)).decode()
    extra = 'Origin: %s\r\n' % origin if origin else ''
    s.sendall(('GET /chat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n'
               'Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n'
               'Sec-WebSocket-Version: 13\r\n%s\r\n' % (port, key, extra)).encode())
    head, rest = read_head(s)
    return s, head.decode('latin-1'), rest


def ws_send(s, text):
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(struct.pack('!BB', 0x81, 0x80 | len(payload)) + mask + masked)


def ws_recv(s, buf):
    while len(buf) < 2 or len(buf) < 2 + (buf[1] & 0x7f):
        chunk = s.recv(4096)
        if not chunk:
            return None, buf
        buf += chunk
    n = buf[1] & 0x7f
    return (buf[0] & 0x0f, buf[2:2 + n].decode()), buf[2 + n:]


if built['chat']:
    ex = Example(built['chat'])
    a, head_a, rest_a = ws_connect(ex.port)
    like(head_a, r'^HTTP/1\.1 101 ', 'chat: handshake answered 101')
    b, head_b, rest_b = ws_connect(ex.port, origin='http://127.0.0.1:%d' % ex.port)
    like(head_b, r'^HTTP/1\.1 101 ', 'chat: same-origin handshake accepted')
    msg_a, rest_a = ws_recv(a, rest_a)
    msg_b, rest_b = ws_recv(b, rest_b)
    is_(msg_a, (1, 'welcome, guest 1'), 'chat: welcome message to the first client')
    is_(msg_b, (1, 'welcome, guest 2'), 'chat: ... and to the second')
    ws_send(a, 'hello from a')
    msg_b, rest_b = ws_recv(b, rest_b)
    is_(msg_b, (1, 'hello from a'), 'chat: broadcast reaches the other client')
    c, head_c, _ = ws_connect(ex.port, origin='http://evil.example')
    like(head_c, r'^HTTP/1\.1 403 ', 'chat: cross-origin handshake refused')
    st, _, _ = get(ex.url('/chat'))
    is_(st, 400, 'chat: plain GET on the endpoint -> 400')
    for s in (a, b, c):
        s.close()
    is_(ex.stop(), 0, 'chat: SIGTERM stops it')
else:
    skip('chat did not build', 8)

# --- client ----------------------------------------------------------------
if built['client']:
    r = subprocess.run([built['client']], capture_output=True, text=True, timeout=20)
    is_(r.returncode, 0, 'client: three calls answered, then a graceful stop')
    is_(r.stdout.splitlines(), ['200 {"call":%d}' % i for i in (1, 2, 3)],
        'client: each answer printed in order')
else:
    skip('client did not build', 2)

done_testing()
