#!/usr/bin/env python3
# static_cache.t - the static service's open-file cache end to end, on
# t/servers/static_srv (static_serve() with --valid-ms / --max): a file changed in
# place, renamed over or deleted is served fresh after the window (new ETag,
# 404); a symlink swapped to point out of the root after being cached is
# refused; the cache stays within --max fds; a large response keeps
# streaming intact while its entry is evicted, its file replaced and the
# whole context freed by a reload; --valid-ms 0 serves every change at once.
# Sanitizer reports in the server log fail the test (wrtest.Server).

import hashlib
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import (Server, binary, diag, done_testing, is_, ok,  # noqa: E402
                    parse_response, raw, req, tmpdir, wait_until)

SRV = binary(os.path.join('t', 'servers', 'static_srv'))
SECRET = b'TOPSECRET-cache-91b2'
VALID_MS = 300
WINDOW = VALID_MS / 1000.0 + 0.2     # sleep this long to pass the window
MAX = 8
BIG = 16 << 20
IO_TIMEOUT = 60


def get(port, path, fields=()):
    """GET with Connection: close; the Response or None."""
    data = raw(port, req('GET', path, list(fields) + [('Connection', 'close')],
                         host='127.0.0.1'), timeout=IO_TIMEOUT)
    try:
        return parse_response(data)[0]
    except ValueError as e:
        diag('GET %s: %s' % (path, e))
        return None


def body_of(r):
    return r.body if r is not None else None


def status_of(r):
    return r.status if r is not None else None


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def replace(path, data):
    """A new inode renamed over path, as deployments do."""
    write(path + '.tmp', data)
    os.rename(path + '.tmp', path)


def open_fds(pid):
    try:
        return len(os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return None


def start(top, valid_ms=VALID_MS, max_entries=MAX):
    return Server(argv=[SRV, '--port', '{port}', '--www', os.path.join(top, 'www'),
                        '--static', os.path.join(top, 'static'),
                        '--valid-ms', str(valid_ms), '--max', str(max_entries)])


def build_tree(top):
    os.makedirs(os.path.join(top, 'www'))
    os.makedirs(os.path.join(top, 'static', 'many'))
    write(os.path.join(top, 'secret.txt'), SECRET)
    for i in range(3 * MAX):
        write(os.path.join(top, 'static', 'many', 'f%d.txt' % i), b'file %d' % i)
    write(os.path.join(top, 'www', 'page.html'), b'<p>one</p>')


def served_after_window(port, before, old, new, name_inside, name_after):
    """/a.txt was just changed from old to new (before: the response that
    served old): old whole inside the cache window, new after it, with an
    ETag other than before's.  Returns the response with new."""
    is_(body_of(get(port, '/a.txt')), old, name_inside)
    time.sleep(WINDOW)
    after = get(port, '/a.txt')
    is_(body_of(after), new, name_after)
    ok(before is not None and after is not None
       and before.headers.get('etag') != after.headers.get('etag'),
       'changed: ... with a new ETag')
    return after


def test_changed(port, st):
    path = os.path.join(st, 'a.txt')
    write(path, b'first version')
    r1 = get(port, '/a.txt')
    is_(body_of(r1), b'first version', 'changed: first version served')
    replace(path, b'second, longer version')
    r2 = served_after_window(port, r1, b'first version', b'second, longer version',
                             'changed: inside the window the cached file is served whole',
                             'changed: renamed-over file served after the window')
    r = get(port, '/a.txt', [('If-None-Match', r1.headers.get('etag', '') if r1 else '')])
    is_(status_of(r), 200, 'changed: the old ETag no longer gives 304')
    write(path, b'third (in place)')                # same inode
    served_after_window(port, r2, b'second, longer version', b'third (in place)',
                        'changed: an in-place rewrite inside the window: the old bytes, whole',
                        'changed: file rewritten in place served after the window')
    os.unlink(path)
    time.sleep(WINDOW)
    is_(status_of(get(port, '/a.txt')), 404, 'deleted: 404 after the window')


def test_symlink_swap(port, st):
    write(os.path.join(st, 'target.txt'), b'inside target')
    link = os.path.join(st, 'link.txt')
    os.symlink('target.txt', link)
    is_(body_of(get(port, '/link.txt')), b'inside target', 'symlink: inside target served')
    for n, escape in enumerate(['../secret.txt', os.path.join(os.path.dirname(st), 'secret.txt')]):
        os.symlink(escape, link + '.tmp')
        os.rename(link + '.tmp', link)
        time.sleep(WINDOW)
        r = get(port, '/link.txt')
        is_(status_of(r), 403, 'symlink %d: swapped to point outside, refused after revalidation' % n)
        ok(r is not None and SECRET not in r.body, 'symlink %d: no secret bytes' % n)
        os.symlink('target.txt', link + '.tmp')
        os.rename(link + '.tmp', link)
        time.sleep(WINDOW)
        is_(body_of(get(port, '/link.txt')), b'inside target', 'symlink %d: inside again, served' % n)


def test_bounded(srv):
    base = open_fds(srv.pid)
    if base is None:
        ok(True, '# SKIP no /proc: cannot count fds')
        return
    for i in range(3 * MAX):
        r = get(srv.port, '/many/f%d.txt' % i)
        if body_of(r) != b'file %d' % i:
            ok(False, 'bounded: /many/f%d.txt served' % i)
            return
    ok(True, 'bounded: %d distinct files served' % (3 * MAX))
    # closed connections leave the fd table once the server sees the FIN
    held = wait_until(lambda: open_fds(srv.pid) - base <= MAX and open_fds(srv.pid), 5)
    now = open_fds(srv.pid)
    diag('fds: %d before, %d after' % (base, now))
    ok(held and 0 < now - base <= MAX,
       'bounded: the cache holds at most --max=%d fds (%+d)' % (MAX, now - base))


def read_response(s, first):
    """Reads one response with Content-Length from socket s, whose first
    bytes are first; returns (headers text, body)."""
    data = bytearray(first)
    while b'\r\n\r\n' not in data:
        data += s.recv(65536)
    end = data.index(b'\r\n\r\n') + 4
    head = data[:end].decode('latin-1')
    length = [int(l.split(':')[1]) for l in head.split('\r\n')
              if l.lower().startswith('content-length:')][0]
    while len(data) - end < length:
        got = s.recv(1 << 20)
        if not got:
            break
        data += got
    return head, bytes(data[end:end + length])


def test_evicted_while_streaming(srv, st):
    big = os.urandom(BIG)
    path = os.path.join(st, 'big.bin')
    write(path, big)
    s = socket.create_connection(('127.0.0.1', srv.port), IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.sendall(req('GET', '/big.bin', host='127.0.0.1'))
    first = s.recv(65536)       # the response has started; most is still to come
    for i in range(3 * MAX):    # evict big.bin's entry several times over
        get(srv.port, '/many/f%d.txt' % i)
    replace(path, b'replacement')
    time.sleep(WINDOW)
    is_(body_of(get(srv.port, '/big.bin')), b'replacement',
        'streaming: a new request sees the replacement')
    srv.proc.send_signal(signal.SIGHUP)         # frees the context and its cache
    ok(wait_until(lambda: 'reloaded' in srv.log_text(), 5), 'streaming: reloaded mid-response')
    for i in range(MAX):
        get(srv.port, '/many/f%d.txt' % i)
    head, body = read_response(s, first)
    ok(head.startswith('HTTP/1.1 200'), 'streaming: the big response is a 200')
    is_(len(body), BIG, 'streaming: all %d bytes arrived' % BIG)
    is_(hashlib.sha256(body).hexdigest(), hashlib.sha256(big).hexdigest(),
        'streaming: bytes intact after eviction, replacement and reload')
    s.sendall(req('GET', '/big.bin', host='127.0.0.1'))
    head, body = read_response(s, b'')
    is_(body, b'replacement', 'streaming: same connection, next request gets the new file')
    s.close()


def test_disabled(top):
    st = os.path.join(top, 'static')
    with start(top, valid_ms=0) as srv:
        path = os.path.join(st, 'd.txt')
        write(path, b'one')
        is_(body_of(get(srv.port, '/d.txt')), b'one', 'disabled: served')
        replace(path, b'two!')
        is_(body_of(get(srv.port, '/d.txt')), b'two!', 'disabled: a replacement is served at once')
        write(path, b'three in place')
        is_(body_of(get(srv.port, '/d.txt')), b'three in place', 'disabled: an in-place change at once')
        os.unlink(path)
        is_(status_of(get(srv.port, '/d.txt')), 404, 'disabled: a deletion at once')
        write(os.path.join(st, 'large.bin'), b'L' * (1 << 20))
        base = open_fds(srv.pid)
        for i in range(MAX):
            get(srv.port, '/many/f%d.txt' % i)
            raw(srv.port, req('HEAD', '/large.bin', [('Connection', 'close')],
                              host='127.0.0.1'), timeout=IO_TIMEOUT)
            r = get(srv.port, '/large.bin', [('Range', 'bytes=%d-' % (2 << 20))])
        is_(status_of(r), 416, 'disabled: unsatisfiable range')
        is_(len(body_of(get(srv.port, '/large.bin')) or b''), 1 << 20, 'disabled: large file whole')
        if base is not None:
            ok(wait_until(lambda: open_fds(srv.pid) <= base, 5),
               'disabled: no fd is kept after GET, HEAD and 416 responses')
        ok(srv.alive(), 'disabled: server alive')


def main():
    top = tmpdir('static_cache_t.')
    build_tree(top)
    st = os.path.join(top, 'static')
    with start(top) as srv:
        test_changed(srv.port, st)
        test_symlink_swap(srv.port, st)
        test_bounded(srv)
        test_evicted_while_streaming(srv, st)
        is_(body_of(get(srv.port, '/page.html')), b'<p>one</p>', 'www page served after the reload')
        ok(srv.alive(), 'server alive at the end')
    test_disabled(top)
    done_testing()


main()
