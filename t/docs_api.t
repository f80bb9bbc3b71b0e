#!/usr/bin/env python3
"""Every `console` example of docs/API.md runs against the real program and
prints what the page shows.  Commands are the `$ ` lines; the lines after
one are its expected output, where a line `...` matches any number of lines
and `...` inside a line matches any text.  Port 9000 in a command means the
backend (started on a free port over a small www/ + static/ tree), 8000 the
sample app (started with the account alice:secret).  The commands of one
block share a shell (variables); all blocks share a directory (the cookie
jar of the login example serves the later ones), as for a reader who runs
them in order."""

import gzip
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403

require('curl', 'sh')

MARK = '@@wr-docs-cmd@@'


def blocks(text):
    """(line number, [(command, [expected lines])]) per console block."""
    out = []
    for m in re.finditer(r'```console\n(.*?)```', text, re.S):
        lineno = text.count('\n', 0, m.start()) + 1
        cmds = []
        for line in m.group(1).splitlines():
            if line.startswith('$ '):
                cmds.append((line[2:], []))
            elif cmds:
                cmds[-1][1].append(line)
        out.append((lineno, cmds))
    return out


def line_re(expected):
    return re.compile('^' + '.*'.join(re.escape(p) for p in expected.split('...')) + '$')


def matches(expected, got):
    """Sequential match with '...' lines as wildcards (any count)."""
    if not expected:
        return not got
    if expected[0] == '...':
        return any(matches(expected[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and line_re(expected[0]).match(got[0]) is not None \
        and matches(expected[1:], got[1:])


def tree():
    """www/ and static/ for the backend examples."""
    root = tmpdir('wrapi-')
    files = {
        'www/index.html': '<!DOCTYPE html><title>index</title>\n',
        'static/css/site.css': 'body { margin: 0 }\n',
        'static/js/app.js': 'console.log("hello");\n' * 20,
    }
    for rel, content in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(content)
    with open(os.path.join(root, 'static/js/app.js'), 'rb') as f, \
            gzip.open(os.path.join(root, 'static/js/app.js.gz'), 'wb') as g:
        g.write(f.read())
    return root


api = open(os.path.join(srcdir(), 'docs', 'API.md'), encoding='utf-8').read()
all_blocks = blocks(api)
ok(len(all_blocks) >= 6, 'API.md has console examples (%d blocks)' % len(all_blocks))

root = tree()
backend = Server('backend', '--www', os.path.join(root, 'www'),
                 '--static', os.path.join(root, 'static')).start()
sample = Server(argv=[binary('weaprous-sampleapp'), '--server-ip', '127.0.0.1',
                      '--server-port', '{port}', '--user', 'alice:secret']).start()
ports = {'9000': backend.port, '8000': sample.port}

work = tmpdir('wrapi-run-')   # one directory: the cookie jar outlives its block
for lineno, cmds in all_blocks:
    script = ''
    for i, (cmd, _) in enumerate(cmds):
        for doc_port, real in ports.items():
            cmd = cmd.replace('127.0.0.1:' + doc_port, '127.0.0.1:%d' % real)
        # JSON answers end without a newline: the marker starts on its own.
        script += "printf '\\n%s%d\\n'\n%s\n" % (MARK, i, cmd)
    r = subprocess.run(['sh', '-c', script], cwd=work, capture_output=True,
                       text=True, timeout=60)
    outs = re.split(r'\n?%s\d+\n' % MARK, '\n' + r.stdout)[1:]
    for i, (cmd, expected) in enumerate(cmds):
        got = outs[i].replace('\r', '').splitlines() if i < len(outs) else ['(not run)']
        name = 'API.md:%d: %s' % (lineno, cmd[:70])
        if not ok(matches(expected, got), name):
            diag('expected:\n  ' + '\n  '.join(expected))
            diag('got:\n  ' + '\n  '.join(got))
            if r.stderr:
                diag('stderr: ' + r.stderr[-1000:])

ok(backend.alive() and sample.alive(), 'both servers still up after the examples')
done_testing()
