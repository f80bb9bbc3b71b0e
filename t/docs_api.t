#!/usr/bin/env python3
"""Every `console` example of docs/API.md runs against the real program and
prints what the page shows.  Commands are the `$ ` lines; the lines after
one are its expected output, where a line `...` matches any number of lines
and `...` inside a line matches any text.  Port 9000 in a command means the
backend (on a free port, serving a copy of the source tree's www/ and
static/ with a fresh database), 8000 the sample app (with the account
alice:secret).  The commands of one block share a shell (variables); all
blocks share a directory (the cookie jar of a login example serves the
later ones), as for a reader who runs them in order."""

import gzip
import os
import re
import shutil
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
    """A copy of the source tree's www/ and static/ (the pages the examples
    talk about), with a precompressed static/css/site.css.gz."""
    root = tmpdir('wrapi-')
    for name in ('www', 'static'):
        shutil.copytree(os.path.join(srcdir(), name), os.path.join(root, name))
    css = os.path.join(root, 'static', 'css', 'site.css')
    with open(css, 'rb') as f, gzip.open(css + '.gz', 'wb') as g:
        g.write(f.read())
    return root


api = open(os.path.join(srcdir(), 'docs', 'API.md'), encoding='utf-8').read()
all_blocks = blocks(api)
ok(len(all_blocks) >= 6, 'API.md has console examples (%d blocks)' % len(all_blocks))

root = tree()
backend = Server('backend', '--www', os.path.join(root, 'www'),
                 '--static', os.path.join(root, 'static'),
                 '--db', os.path.join(root, 'weaprous.db')).start()
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
