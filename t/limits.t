#!/usr/bin/env python3
# limits.t - the caps and error paths of the shared run-time that no other
# test reaches, on the real binary: the configuration file's limits (line
# length, file size, NUL byte, option count, malformed section, bad common
# values named FILE:LINE), the bounds of the backend's numeric options (each
# accepted at its limit and refused just past it), and the engine's
# per-connection request cap HTTP_MAX_KEEPALIVE_REQUESTS.

import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import (Server, binary, done_testing, is_, like, ok, tmpdir)  # noqa: E402

top = tmpdir()
www, static = os.path.join(top, 'www'), os.path.join(top, 'static')
os.makedirs(www)
os.makedirs(static)
with open(os.path.join(www, 'page.html'), 'w') as f:
    f.write('<h1>lim</h1>\n')
DB = os.path.join(top, 'weaprous.db')
ROOTS = ['--www', www, '--static', static, '--db', DB]

# HTTP_MAX_KEEPALIVE_REQUESTS in src/weaprous/limits.h.
KEEPALIVE_MAX = 10000


def run(*args, timeout=10):
    p = subprocess.run([binary()] + list(args), capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(errors='replace') + p.stderr.decode(errors='replace')


def conf(name, data):
    path = os.path.join(top, name)
    with open(path, 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def check_conf(name, data):
    """`weaprous backend -t -c FILE` on a file holding data."""
    return run('backend', '-t', '-c', conf(name, data), *ROOTS)


# --- configuration file limits (src/cmd/role_conf.c) ---
# A line of 1023 characters is accepted, one of 1024 refused (CONF_LINE_MAX).
pad = lambda n: '# ' + 'x' * (n - 2) + '\n'   # noqa: E731 - a comment of n characters
rc, out = check_conf('line_ok.conf', '[backend]\n' + pad(1023))
is_(rc, 0, 'a 1023-character line is accepted')
rc, out = check_conf('line_long.conf', '[backend]\n' + pad(1024))
is_(rc, 1, 'a 1024-character line is refused')
like(out, r'line_long\.conf:2: line too long', '  with FILE:LINE: line too long')

# 1 MiB exactly is accepted, one byte more refused (CONF_MAX_BYTES).
MIB = 1 << 20
body = (pad(1000) * (MIB // 1000 + 1))[:MIB - 1] + '\n'
rc, out = check_conf('size_ok.conf', body)
is_(rc, 0, 'a configuration file of exactly 1 MiB is accepted')
rc, out = check_conf('size_big.conf', body + '\n')
is_(rc, 1, 'a configuration file of 1 MiB + 1 byte is refused')
like(out, r'size_big\.conf: file larger than 1 MiB', '  with "file larger than 1 MiB"')

rc, out = check_conf('nul.conf', b'[backend]\nserver-ip 127.0.0.1\x00\n')
is_(rc, 1, 'a NUL byte in the configuration file is refused')
like(out, r'nul\.conf: NUL byte in a text file', '  with "NUL byte in a text file"')

rc, out = check_conf('section.conf', '[backend]\nwww %s\n[backend\nstatic %s\n' % (www, static))
is_(rc, 1, 'a malformed "[section" is refused')
like(out, r'section\.conf:3: malformed section', '  with FILE:LINE: malformed section')
rc, out = check_conf('section2.conf', '[backend] x\n')
is_(rc, 1, 'text after "]" is a malformed section too')
like(out, r'section2\.conf:1: malformed section', '  named FILE:LINE')

rc, out = check_conf('port.conf', '\n[backend]\nserver-port 65536\n')
is_(rc, 1, 'server-port 65536 in the file is refused')
like(out, r"port\.conf:3: bad port '65536'", '  named FILE:LINE with the value')
rc, out = check_conf('port2.conf', 'server-port 65535\n')
is_(rc, 0, 'server-port 65535 in the file is accepted')
rc, out = check_conf('port3.conf', 'server-port 80x\n')
like(out, r"port3\.conf:1: bad port '80x'", 'server-port with trailing garbage is refused')
rc, out = check_conf('level.conf', '# c\n# c\nlog-level loud\n')
is_(rc, 1, 'an unknown log-level in the file is refused')
like(out, r"level\.conf:3: unknown log level 'loud'", '  named FILE:LINE with the value')

# ROLE_MAX_KV (64) distinct role options: the backend has fewer than 64
# option names and a repeated key replaces the earlier value, so the cap
# cannot be reached from the file or the command line.  A repeated key must
# not count towards it:
rc, out = check_conf('repeat.conf', '[backend]\n' + ('secure-cookies 1\n' * 200))
is_(rc, 0, 'a key repeated 200 times does not fill the option table')

# --- numeric options of the backend (src/cmd/role_rt.c role_opt_*) ---
# Each is accepted at its bounds and refused one step past them; the run
# fails before listening, with exit status 1 and the message of the role.
STORE_MSG = (r'bad session-lifetime \(1s\.\.3650d\), login-rate-max \(1\.\.1000000\)'
             r' or login-rate-window \(1s\.\.1d\)')
FILES_MSG = r'bad open-file-cache-valid \(0\.\.1h, 0: off\) or open-file-cache-max \(0\.\.1000000\)'
cases = [
    ('--session-lifetime', ['1s', '1000ms', '3650d'], ['0', '999ms', '3651d', '-5', '10x', '+5', ''],
     STORE_MSG),
    ('--login-rate-max', ['1', '1000000'], ['0', '1000001', '-1', '5k'], STORE_MSG),
    ('--login-rate-window', ['1', '1d', '24h'], ['0.5', '86401', '-1', '1y'], STORE_MSG),
    ('--open-file-cache-max', ['0', '1000000'], ['-1', '1000001', 'x'], FILES_MSG),
    ('--open-file-cache-valid', ['0', '1h', '3600000ms'], ['3601s', '-1', '1w'], FILES_MSG),
    ('--client-max-body-size', ['0', '1024g', '1k'], ['1025g', '1T', '-1', 'k'],
     r"bad client-max-body-size '"),
]


def real_run(flag, val):
    """Starts the backend for real on port 0 with one option; a good value
    runs (killed after 1 s: exit status None), a bad one exits 1."""
    p = subprocess.Popen([binary(), 'backend', '--server-ip', '127.0.0.1', '--server-port', '0',
                          flag, val] + ROOTS, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=1)
        return p.returncode, out.decode(errors='replace')
    except subprocess.TimeoutExpired:
        p.terminate()
        out, _ = p.communicate(timeout=10)
        return None, out.decode(errors='replace')


for flag, good, bad, msg in cases:
    for v in good:
        rc, out = real_run(flag, v)
        is_(rc, None, '%s %r is accepted (the backend runs)' % (flag, v))
    for v in bad:
        rc, out = real_run(flag, v)
        is_(rc, 1, '%s %r is refused with exit status 1' % (flag, v))
        like(out, msg, '  with the option\'s message')

# -t must refuse what the real run refuses, also when the database does
# not exist yet (-t never creates it).
nodb = os.path.join(top, 'absent.db')
for flag, v in (('--session-lifetime', '0'), ('--login-rate-max', '0'),
                ('--login-rate-window', '0.5')):
    rc, out = run('backend', '-t', '--www', www, '--static', static, '--db', nodb, flag, v)
    ok(rc == 1 and 'bad session-lifetime' in out,
       '-t refuses %s %s when the database does not exist yet' % (flag, v))
for flag, v in (('--open-file-cache-max', '-1'), ('--client-max-body-size', '1T')):
    rc, out = run('backend', '-t', '--www', www, '--static', static, '--db', nodb, flag, v)
    is_(rc, 1, '-t refuses %s %s' % (flag, v))

# --- HTTP_MAX_KEEPALIVE_REQUESTS: the connection closes after N requests ---
REQ = b'GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n'
with Server('backend', *ROOTS) as srv:
    s = socket.create_connection(('127.0.0.1', srv.port), timeout=20)
    s.sendall(REQ * (KEEPALIVE_MAX + 5))
    data = bytearray()
    try:
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            data += b
    except ConnectionResetError:
        pass   # the unread extra requests may reset the connection after the close
    s.close()
    data = bytes(data)
    starts = [m.start() for m in re.finditer(rb'HTTP/1\.1 \d{3} ', data)]
    heads = [data[i:data.index(b'\r\n\r\n', i)].lower() for i in starts]
    is_(len(heads), KEEPALIVE_MAX, 'exactly HTTP_MAX_KEEPALIVE_REQUESTS responses on one connection')
    ok(heads and all(h.startswith(b'http/1.1 200 ') for h in heads), '  all 200')
    ok(heads and b'connection: close' in heads[-1], '  the last one says Connection: close')
    ok(len(heads) >= 2 and b'connection: close' not in heads[-2],
       '  the one before it keeps the connection')

done_testing()
