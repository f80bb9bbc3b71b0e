#!/usr/bin/env python3
# static.t - the static file service of `weaprous backend`, end to end on a
# real process: the MIME/base-directory rule, index and redirect, 404/405,
# conditionals (304/412), ranges (206/416/If-Range), gzip_static, HEAD, a
# 20 MiB file streamed intact, traversal attempts (never the secret bytes),
# clients that vanish mid-response, and files changed or deleted on disk
# served fresh once the open-file cache's window (1 s by default) is over
# (t/static_cache.t covers the cache in detail).

import gzip
import hashlib
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import (Server, diag, done_testing, is_, ok, parse_response,  # noqa: E402
                    parse_responses, raw, req, tmpdir)

SECRET = b'TOPSECRET-7f3a9c'
BIG = 20 << 20
IO_TIMEOUT = 60     # seconds for one exchange (20 MiB under ASan)
SESSION = []        # the Cookie field once logged in: "/" is protected


def login(port):
    """Logs in as the fresh database's admin; the index needs a session."""
    body = b'username=admin&password=password'
    data = raw(port, req('POST', '/login', [
        ('Content-Type', 'application/x-www-form-urlencoded'),
        ('Content-Length', str(len(body))), ('Connection', 'close')],
        body=body, host='127.0.0.1'), timeout=IO_TIMEOUT)
    r = parse_response(data)[0]
    cookies = [v.split(';')[0] for v in r.all('set-cookie')]
    ok(r.status == 200 and any(c.startswith('session=') for c in cookies),
       'logged in (the index page is behind the login)')
    SESSION[:] = [('Cookie', '; '.join(cookies))]


def request(port, method, target, fields=()):
    """One request with Connection: close; the Response, or None when no
    complete response came back."""
    fields = list(fields) + SESSION + [('Connection', 'close')]
    if method in ('POST', 'PUT', 'PATCH'):
        fields.append(('Content-Length', '0'))
    data = raw(port, req(method, target, fields, host='127.0.0.1'), timeout=IO_TIMEOUT)
    try:
        r = parse_response(data, head=(method == 'HEAD'))[0]
    except ValueError as e:
        diag('%s %s: %s' % (method, target, e))
        return None
    return r


def pipeline(port, raw_requests, heads=()):
    """Several requests on one connection; the list of responses."""
    try:
        return parse_responses(raw(port, raw_requests, timeout=IO_TIMEOUT), heads)
    except ValueError as e:
        diag('pipeline: %s' % e)
        return []


def connect(port):
    s = socket.create_connection(('127.0.0.1', port), IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    return s


def write(path, data, mtime=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def build_tree(top):
    www, st = os.path.join(top, 'www'), os.path.join(top, 'static')
    now = time.time()
    write(os.path.join(top, 'secret.txt'), SECRET)
    write(os.path.join(top, 'secret.html'), SECRET)
    write(os.path.join(www, 'index.html'), b'<h1>index</h1>')
    write(os.path.join(www, 'page.html'), b'<p>page</p>')
    write(os.path.join(www, 'sub', 'index.html'), b'<p>sub index</p>')
    write(os.path.join(www, 'docs', 'index.html'), b'<p>docs</p>')
    write(os.path.join(www, '404.html'), b'<p>custom not found</p>')
    write(os.path.join(www, 'only-in-www.css'), b'body{}')
    write(os.path.join(www, '.env'), SECRET)
    write(os.path.join(www, '.git', 'config'), SECRET)
    os.symlink('sub/index.html', os.path.join(www, 'in.html'))
    os.symlink('../secret.html', os.path.join(www, 'out.html'))
    css = b'body { color: #333; }\n' * 200
    write(os.path.join(st, 'css', 'x.css'), css, now - 100)
    write(os.path.join(st, 'css', 'x.css.gz'), gzip.compress(css), now - 50)
    js = b'console.log("fresh");\n' * 50
    write(os.path.join(st, 'js', 'app.js'), js, now - 10)
    write(os.path.join(st, 'js', 'app.js.gz'), gzip.compress(b'stale'), now - 500)
    write(os.path.join(st, 'css', 'only-in-static.html'), b'<p>wrong root</p>')
    write(os.path.join(st, 'img', 'a.png'), b'\x89PNG\r\n\x1a\n' + bytes(range(256)))
    write(os.path.join(st, 'LICENSE'), b'license text')
    write(os.path.join(st, 'r.txt'), bytes(range(100)), now - 3600)
    write(os.path.join(st, 'empty.txt'), b'')
    big = os.urandom(1 << 20) * (BIG >> 20)
    write(os.path.join(st, 'big.bin'), big)
    os.symlink('../secret.txt', os.path.join(st, 'out.txt'))
    os.symlink('/etc/passwd', os.path.join(st, 'passwd.txt'))
    os.mkfifo(os.path.join(st, 'pipe.txt'))
    return www, st, css, js, hashlib.sha256(big).hexdigest()


def test_base_dir_rule(port):
    r = request(port, 'GET', '/')
    is_(r.status, 200, 'GET / -> 200')
    is_(r.body, b'<h1>index</h1>', 'GET / serves www/index.html')
    is_(r.headers.get('content-type'), 'text/html; charset=utf-8', 'html content type')
    is_(request(port, 'GET', '/index.html').body, b'<h1>index</h1>', '/index.html')
    is_(request(port, 'GET', '/page.html').body, b'<p>page</p>', 'html from www')
    r = request(port, 'GET', '/css/x.css')
    is_(r.status, 200, 'css from static/css')
    is_(r.headers.get('content-type'), 'text/css; charset=utf-8', 'css content type')
    r2 = request(port, 'GET', '/css/x.css?v=123')
    ok(r2.status == 200 and r2.body == r.body, 'query string ignored for the file')
    is_(request(port, 'GET', '/css/only-in-static.html').status, 404,
        'html is never taken from static/')
    is_(request(port, 'GET', '/only-in-www.css').status, 404,
        'css is never taken from www/')
    r = request(port, 'GET', '/img/a.png')
    is_((r.status, r.headers.get('content-type')), (200, 'image/png'), 'png')
    r = request(port, 'GET', '/LICENSE')
    is_((r.status, r.headers.get('content-type')), (200, 'application/octet-stream'),
        'no extension: application/octet-stream from static/')
    is_(request(port, 'GET', '/js/app.js').headers.get('content-type'),
        'text/javascript; charset=utf-8', 'js content type')
    r = request(port, 'GET', '/sub/')
    is_((r.status, r.body), (200, b'<p>sub index</p>'), 'dir/ -> www/dir/index.html')
    r = request(port, 'GET', '/docs?x=1')
    is_(r.status, 301, 'directory without slash -> 301')
    is_(r.headers.get('location'), '/docs/?x=1', 'Location keeps the query')
    is_(request(port, 'GET', '/in.html').body, b'<p>sub index</p>',
        'symlink inside the root is followed')
    is_(request(port, 'GET', '/empty.txt').body, b'', 'empty file')


def test_errors(port):
    r = request(port, 'GET', '/nope.html')
    is_(r.status, 404, 'missing -> 404')
    is_(r.body, b'<p>custom not found</p>', '404 uses www/404.html')
    r = request(port, 'GET', '/nope.css')
    is_(r.status, 404, 'missing asset -> 404')
    for m in ('POST', 'PUT', 'DELETE', 'PATCH'):
        r = request(port, m, '/index.html')
        is_(r.status, 405, '%s -> 405' % m)
        is_(r.headers.get('allow'), 'GET, HEAD', '%s 405 has Allow: GET, HEAD' % m)
    r = request(port, 'GET', '/pipe.txt')
    ok(r is not None and r.status == 403, 'FIFO -> 403 (and no hang)')


def test_head(port):
    rs = pipeline(port, req('HEAD', '/css/x.css')
                  + req('GET', '/r.txt', [('Connection', 'close')]), heads=(0,))
    ok(len(rs) == 2, 'HEAD then GET on one connection: two responses')
    if len(rs) == 2:
        is_(rs[0].status, 200, 'HEAD -> 200')
        is_(rs[0].headers.get('content-length'), str(200 * 22), 'HEAD has the file length')
        is_(rs[0].body, b'', 'HEAD has no body')
        ok(rs[1].status == 200 and rs[1].body == bytes(range(100)),
           'HEAD sent no body: the next response on the connection parses')


def test_conditionals(port):
    r = request(port, 'GET', '/r.txt')
    etag, lm = r.headers.get('etag'), r.headers.get('last-modified')
    ok(etag and etag.startswith('"') and lm, 'ETag and Last-Modified present')
    is_(r.headers.get('accept-ranges'), 'bytes', 'Accept-Ranges: bytes')
    is_(r.headers.get('cache-control'), 'public, max-age=3600', 'asset Cache-Control')
    is_(request(port, 'GET', '/page.html').headers.get('cache-control'), 'no-cache',
        'html Cache-Control (a public page; the protected index is no-store)')
    cases = [
        ([('If-None-Match', etag)], 304, 'If-None-Match same -> 304'),
        ([('If-None-Match', 'W/' + etag)], 304, 'weak comparison -> 304'),
        ([('If-None-Match', '"x", ' + etag)], 304, 'list -> 304'),
        ([('If-None-Match', '*')], 304, '* -> 304'),
        ([('If-None-Match', '"other"')], 200, 'other etag -> 200'),
        ([('If-Modified-Since', lm)], 304, 'If-Modified-Since = LM -> 304'),
        ([('If-Modified-Since', 'Sat, 01 Jan 2000 00:00:00 GMT')], 200, 'IMS older -> 200'),
        ([('If-Modified-Since', 'garbage')], 200, 'invalid IMS ignored -> 200'),
        ([('If-None-Match', '"other"'), ('If-Modified-Since', lm)], 200,
         'IMS ignored when If-None-Match present'),
        ([('If-Match', '"other"')], 412, 'If-Match mismatch -> 412'),
        ([('If-Match', etag)], 200, 'If-Match same -> 200'),
        ([('If-Unmodified-Since', 'Sat, 01 Jan 2000 00:00:00 GMT')], 412, 'IUS older -> 412'),
    ]
    for fields, want, name in cases:
        r = request(port, 'GET', '/r.txt', fields)
        is_(r.status, want, name)
        if want == 304:
            ok(r.body == b'' and r.headers.get('etag') == etag, name + ': no body, ETag repeated')
    r = request(port, 'HEAD', '/r.txt', [('If-None-Match', etag)])
    is_(r.status, 304, 'HEAD conditional -> 304')


def test_ranges(port):
    data = bytes(range(100))
    r = request(port, 'GET', '/r.txt')
    etag, lm = r.headers.get('etag'), r.headers.get('last-modified')
    cases = [
        ('bytes=0-9', 206, data[0:10], 'bytes 0-9/100'),
        ('bytes=90-', 206, data[90:], 'bytes 90-99/100'),
        ('bytes=-5', 206, data[95:], 'bytes 95-99/100'),
        ('bytes=10-1000', 206, data[10:], 'bytes 10-99/100'),
        ('bytes=100-', 416, None, 'bytes */100'),
        ('bytes=-0', 416, None, 'bytes */100'),
        ('bytes=0-1,5-6', 200, data, None),
        ('bytes=5-1', 200, data, None),
        ('lines=1-2', 200, data, None),
        ('bytes=99999999999999999999999-', 416, None, 'bytes */100'),
    ]
    for rng, want, body, cr in cases:
        r = request(port, 'GET', '/r.txt', [('Range', rng)])
        is_(r.status, want, 'Range %s -> %d' % (rng, want))
        if body is not None:
            is_(r.body, body, 'Range %s body' % rng)
        is_(r.headers.get('content-range'), cr, 'Range %s Content-Range' % rng)
    r = request(port, 'GET', '/r.txt', [('Range', 'bytes=0-1'), ('Range', 'bytes=2-3')])
    is_(r.status, 200, 'two Range fields -> 200 whole')
    r = request(port, 'GET', '/empty.txt', [('Range', 'bytes=0-')])
    is_((r.status, r.headers.get('content-range')), (416, 'bytes */0'), 'range of empty file -> 416')
    ifr = [
        (etag, 206, 'If-Range same ETag -> 206'),
        ('"stale"', 200, 'If-Range other ETag -> 200'),
        ('W/' + etag, 200, 'If-Range weak ETag -> 200 (strong comparison)'),
        (lm, 206, 'If-Range = Last-Modified -> 206'),
        ('Sat, 01 Jan 2000 00:00:00 GMT', 200, 'If-Range old date -> 200'),
    ]
    for v, want, name in ifr:
        r = request(port, 'GET', '/r.txt', [('Range', 'bytes=0-9'), ('If-Range', v)])
        is_(r.status, want, name)
        is_(len(r.body), 10 if want == 206 else 100, name + ' (body length)')


def test_gzip(port, css, js):
    r = request(port, 'GET', '/css/x.css', [('Accept-Encoding', 'gzip, deflate, br')])
    is_(r.headers.get('content-encoding'), 'gzip', 'gzip_static: Content-Encoding gzip')
    ok(gzip.decompress(r.body) == css, 'gzip_static: body is FILE.gz, decompresses to FILE')
    is_(r.headers.get('vary'), 'Accept-Encoding', 'gzip_static: Vary')
    is_(r.headers.get('content-type'), 'text/css; charset=utf-8', 'gzip keeps the type')
    r2 = request(port, 'GET', '/css/x.css', [('Accept-Encoding', 'gzip'),
                                             ('If-None-Match', r.headers.get('etag'))])
    is_(r2.status, 304, 'gzip variant revalidates with its ETag')
    for ae in ('gzip;q=0', 'br', 'identity', None):
        f = [('Accept-Encoding', ae)] if ae else []
        r = request(port, 'GET', '/css/x.css', f)
        ok(r.headers.get('content-encoding') is None and r.body == css,
           'Accept-Encoding %s: identity' % ae)
        is_(r.headers.get('vary'), 'Accept-Encoding', 'Vary also on identity (%s)' % ae)
    r = request(port, 'GET', '/js/app.js', [('Accept-Encoding', 'gzip')])
    ok(r.headers.get('content-encoding') is None and r.body == js,
       'FILE.gz older than FILE is not used')
    r = request(port, 'GET', '/img/a.png', [('Accept-Encoding', 'gzip')])
    ok(r.headers.get('vary') is None and r.headers.get('content-encoding') is None, 'png: no gzip, no Vary')


def test_big(port, digest):
    r = request(port, 'GET', '/big.bin')
    ok(r is not None and r.status == 200 and len(r.body) == BIG, '20 MiB file: full length')
    is_(hashlib.sha256(r.body).hexdigest() if r else None, digest, '20 MiB file: checksum')
    r = request(port, 'GET', '/big.bin', [('Range', 'bytes=%d-%d' % (BIG - 70000, BIG - 1))])
    is_((r.status, len(r.body)), (206, 70000), 'range at the end of the big file')


TRAVERSALS = [
    '/../secret.txt',
    '/../secret.html',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.html',
    '/%2e%2e%2fsecret.txt',
    '/..%2fsecret.txt',
    '/..%2Fsecret.html',
    '/%252e%252e%252fsecret.txt',
    '/%252e%252e/secret.html',
    '/..\\secret.txt',
    '/..%5csecret.txt',
    '/%5c..%5csecret.txt',
    '/./../secret.txt',
    '/css/../../secret.txt',
    '/css/%2e%2e/%2e%2e/secret.txt',
    '/.%2e/secret.txt',
    '//etc/passwd',
    '/%2fetc/passwd',
    '/%c0%ae%c0%ae/secret.txt',
    '/%c0%ae%c0%ae%c0%afsecret.txt',
    '/%e0%80%ae%e0%80%ae/secret.txt',
    '/out.txt',
    '/out.html',
    '/passwd.txt',
    '/.env',
    '/.git/config',
    '/sub/../../secret.html',
    '/%00../secret.txt',
]


def test_traversal(port):
    for target in TRAVERSALS + ['http://127.0.0.1:%d/../secret.txt' % port,
                                'http://127.0.0.1:%d/%%2e%%2e/secret.html' % port]:
        r = request(port, 'GET', target)
        good = (r is not None and r.status in (400, 403, 404)
                and SECRET not in r.body and b'root:' not in r.body)
        if not ok(good, 'traversal %s -> 400/403/404, no secret' % target) and r:
            diag('  status %d body %r' % (r.status, r.body[:80]))
    rs = pipeline(port, req('GET', '/%2e%2e/secret.txt')
                  + req('GET', '/r.txt', [('Connection', 'close')]))
    ok([r.status for r in rs] == [403, 200],
       'refused traversal (403) keeps the connection usable')


# RFC 3986 5.2.4: raw "." and ".." segments are removed before the lookup,
# as nginx and lighttpd do; what they leave is served like the plain path.
DOT_SEGMENTS = [
    ('/sub/../page.html', b'<p>page</p>'),
    ('/./page.html', b'<p>page</p>'),
    ('/sub/./../sub/index.html', b'<p>sub index</p>'),
    ('/sub/.', b'<p>sub index</p>'),
    ('/css/../css/x.css?v=1', None),
    ('/docs/../sub/../r.txt', bytes(range(100))),
    ('http://127.0.0.1/sub/../page.html', b'<p>page</p>'),
]


def test_dot_segments(port, css):
    for target, body in DOT_SEGMENTS:
        r = request(port, 'GET', target)
        got = (r.status, r.body) if r else None
        is_(got, (200, body or css), 'dot-segments removed: %s' % target)
    # climbing above the root stays refused, whatever the segments before
    for target in ('/..', '/../page.html', '/sub/../../page.html', '/./../page.html'):
        r = request(port, 'GET', target)
        is_(r.status if r else None, 400, '%s climbs above the root: 400' % target)


def test_disconnect(port, srv):
    for linger in (False, True):
        s = connect(port)
        if linger:   # RST instead of FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.sendall(b'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n')
        got = 0
        while got < 200000:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += len(chunk)
        s.close()
        ok(got >= 200000, 'received part of the big file (%s close)' % ('RST' if linger else 'FIN'))
    for _ in range(3):   # requests that never read a byte of the answer
        s = connect(port)
        s.sendall(b'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n')
        s.close()
    time.sleep(0.3)
    ok(srv.alive(), 'server still running after clients vanished mid-response')
    r = request(port, 'GET', '/r.txt')
    ok(r is not None and r.status == 200, 'server still answers after clients vanished')


CACHE_WINDOW = 1.0 + 0.3   # the default open_file_cache_valid_ms, and slack


def test_changed_on_disk(port, st):
    path = os.path.join(st, 'changing.txt')
    write(path, b'version one')
    r1 = request(port, 'GET', '/changing.txt')
    ok(r1 is not None and r1.body == b'version one', 'changing file: first version')
    with open(path + '.tmp', 'wb') as f:
        f.write(b'version two, longer')
    os.rename(path + '.tmp', path)
    time.sleep(CACHE_WINDOW)
    r2 = request(port, 'GET', '/changing.txt')
    ok(r2 is not None and r2.body == b'version two, longer',
       'changing file: replaced file served after the cache window')
    ok(r1 is not None and r2 is not None and r1.headers.get('etag') != r2.headers.get('etag'),
       'changing file: ... with a new ETag')
    write(path, b'version three (in place)')
    time.sleep(CACHE_WINDOW)
    r3 = request(port, 'GET', '/changing.txt')
    ok(r3 is not None and r3.body == b'version three (in place)',
       'changing file: file rewritten in place served after the cache window')
    os.unlink(path)
    time.sleep(CACHE_WINDOW)
    r = request(port, 'GET', '/changing.txt')
    is_(r.status if r else None, 404, 'changing file: deleted file is 404 after the cache window')


def main():
    top = tmpdir('static_t.')      # removed at exit unless WR_KEEP_TMP=1
    www, st, css, js, digest = build_tree(top)
    with Server('backend', '--www', www, '--static', st,
                '--db', os.path.join(top, 'weaprous.db')) as srv:
        login(srv.port)
        test_base_dir_rule(srv.port)
        test_errors(srv.port)
        test_head(srv.port)
        test_conditionals(srv.port)
        test_ranges(srv.port)
        test_gzip(srv.port, css, js)
        test_big(srv.port, digest)
        test_traversal(srv.port)
        test_dot_segments(srv.port, css)
        test_disconnect(srv.port, srv)
        test_changed_on_disk(srv.port, st)
        ok(srv.alive(), 'server alive at the end')
    done_testing()

main()
