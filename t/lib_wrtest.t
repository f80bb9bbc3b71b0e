# Self-test of t/lib/wrtest.py, the helper the integration tests trust:
# its HTTP response parser, request builder, Server life cycle and raw().
import os
import sys
import textwrap

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403

# --- parse_response / parse_responses ------------------------------------
r, rest = parse_response(b'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n'
                         b'X-A: 1\r\nx-a: 2\r\n\r\nabcHTTP/1.1 404 Nope\r\n')
is_((r.version, r.status, r.reason, r.body), ('HTTP/1.1', 200, 'OK', b'abc'),
    'status line and Content-Length body')
is_(r.headers['x-a'], '1, 2', 'repeated fields joined, names lowercased')
is_(r.all('X-A'), ['1', '2'], 'all() keeps every value')
is_(rest, b'HTTP/1.1 404 Nope\r\n', 'bytes after the body are returned')

r, _ = parse_response(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
                      b'3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: x\r\n\r\n')
ok(r.chunked and r.body == b'abc0123456789', 'chunked body with extension '
   'and trailer decoded')

rs = parse_responses(b'HTTP/1.1 100 Continue\r\n\r\n'
                     b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'
                     b'HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n'
                     b'HTTP/1.1 204 No Content\r\n\r\n'
                     b'HTTP/1.0 200 OK\r\n\r\nto the end', heads=(0,))
is_([x.status for x in rs], [100, 200, 304, 204, 200],
    'pipelined: 1xx, HEAD, 304, 204, close-delimited')
is_([x.body for x in rs], [b'', b'', b'', b'', b'to the end'],
    'bodies: none for 1xx/HEAD/304/204, rest of data when close-delimited')

for bad, why in ((b'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab',
                  'short body'),
                 (b'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n', 'no end of head'),
                 (b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab',
                  'short chunk'),
                 (b'HTTP/1.1 20 OK\r\n\r\n', 'bad status line'),
                 (b'HTTP/1.1 200 OK\r\nNoColon\r\n\r\n', 'bad field line')):
    try:
        parse_response(bad)
        ok(False, 'ValueError on ' + why)
    except ValueError:
        ok(True, 'ValueError on ' + why)

# --- req --------------------------------------------------------------------
is_(req('POST', '/p', {'X-Y': 'z'}, 'hi'),
    b'POST /p HTTP/1.1\r\nHost: localhost\r\nX-Y: z\r\n'
    b'Content-Length: 2\r\n\r\nhi', 'req adds Host and Content-Length')
is_(req('GET', '/', host=None, version='HTTP/1.0'), b'GET / HTTP/1.0\r\n\r\n',
    'req without Host')

# --- Server + raw against a tiny echo server ----------------------------------
ECHO = textwrap.dedent('''
    import socket, sys
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen()
    print("echo ready", flush=True)
    while True:
        c, _ = s.accept()
        data = b""
        while not data.endswith(b"\\r\\n\\r\\n"):
            got = c.recv(1)
            if not got:
                break
            data += got
        c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(data) + data)
        c.close()
''')
with Server(argv=[sys.executable, '-c', ECHO, '{port}']) as srv:
    ok(srv.alive(), 'Server started a process that accepts on its port')
    r, _ = parse_response(raw(srv.port, [b'GET / HT', b'TP/1.1\r\n\r\n'],
                              delay=0.05))
    is_(r.body, b'GET / HTTP/1.1\r\n\r\n', 'raw sends chunks and reads to close')
    ok(rss_kib(srv.pid) > 0 and cpu_ticks(srv.pid) >= 0, 'rss and cpu readable')
    like(srv.log_text(), 'echo ready', 'process output lands in the log file')
    pid = srv.pid
code = srv.stop()
ok(not srv.alive() and not os.path.exists('/proc/%d' % pid),
   'the process is gone after the with-block')
is_(code, -15, 'stopped by SIGTERM')

try:
    with Server(argv=[sys.executable, '-c', 'import sys; sys.exit(3)'],
                timeout=2):
        pass
    ok(False, 'a server that exits at once raises')
except RuntimeError:
    ok(True, 'a server that exits at once raises')

done_testing()
