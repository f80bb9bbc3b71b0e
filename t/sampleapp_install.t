#!/usr/bin/env python3
"""An outsider's build: `make install DESTDIR=tmp`, then compile
src/sampleapp/sampleapp.c alone against the installed copy with
`cc $(pkg-config --cflags --libs weaprous)`, run it, and log in."""

import json
import os
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403

require('pkg-config', 'cc', 'make')

dest = tmpdir('wrinstall-')
inst = subprocess.run(['make', '-C', builddir(), 'install', 'DESTDIR=' + dest],
                      capture_output=True, text=True)
if not is_(inst.returncode, 0, 'make install DESTDIR=...'):
    diag(inst.stdout[-2000:] + inst.stderr[-2000:])

pcs = [os.path.join(r, f) for r, _, fs in os.walk(dest) for f in fs if f == 'weaprous.pc']
is_(len(pcs), 1, 'weaprous.pc installed')
pcdir = os.path.dirname(pcs[0]) if pcs else dest
headers = [f for _, _, fs in os.walk(dest) for f in fs]
for h in ('weaprous.h', 'app.h', 'json.h', 'router.h', 'server.h'):
    ok(h in headers, h + ' installed')

# The system's own .pc files stay visible: weaprous.pc requires sqlite3.
env = dict(os.environ, PKG_CONFIG_PATH=pcdir, PKG_CONFIG_SYSROOT_DIR=dest)
pc = subprocess.run(['pkg-config', '--cflags', '--libs', 'weaprous'],
                    capture_output=True, text=True, env=env)
is_(pc.returncode, 0, 'pkg-config --cflags --libs weaprous')
flags = shlex.split(pc.stdout)
ok(any(f.startswith('-I' + dest) for f in flags), 'include path points into DESTDIR')

exe = os.path.join(dest, 'sampleapp')
src = os.path.join(srcdir(), 'src', 'sampleapp', 'sampleapp.c')
# A sanitizer build of the library needs the same runtime in the program.
flags += os.environ.get('WR_SANITIZE_FLAGS', '').split()
cc = subprocess.run(['cc', '-std=c11', '-Wall', '-Wextra', '-Werror', src, '-o', exe] + flags,
                    capture_output=True, text=True, env=env)
if not is_(cc.returncode, 0, 'sampleapp.c builds out of tree against the installed copy'):
    diag(cc.stderr[-3000:])

libdirs = [f[2:] for f in flags if f.startswith('-L')]
if cc.returncode == 0:
    run_env = {'LD_LIBRARY_PATH': ':'.join(libdirs), 'WEAPROUS_SAMPLE_USERS': 'dave:pw'}
    with Server(argv=[exe, '--server-ip', '127.0.0.1', '--server-port', '{port}'],
                env=run_env) as srv:
        body = json.dumps({'username': 'dave', 'password': 'pw'})
        data = raw(srv.port, req('PUT', '/login', {'Content-Type': 'application/json',
                                                  'Connection': 'close'}, body))
        r = parse_response(data)[0]
        is_(r.status, 200, 'the installed build answers PUT /login')
        ok(r.headers.get('set-cookie', '').startswith('sampleapp_session='),
           '... with its session cookie')
else:
    skip('no binary to run', 2)

done_testing()
