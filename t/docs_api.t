#!/usr/bin/env python3
"""Every `console` example of docs/API.md runs against the real program and
prints what the page shows.  Commands are the `$ ` lines; the lines after
one are its expected output, where a line `...` matches any number of lines
and `...` inside a line matches any text.  Every process runs on a free
port, and `127.0.0.1:PORT` in a command is rewritten to it, by section:
  everywhere   9000 the backend (a copy of the source tree's www/ and
               static/, a fresh database), 8000 the sample app (account
               alice:secret);
  Tracker      8000 the tracker (--allow-signup, a fresh database);
  Proxy        8080 the proxy, 8081 its status listener, started with the
               section's `nginx` block (ports rewritten too) saved as
               docs-proxy.conf; 9000 the backend, 8000 the tracker, 9001
               t/servers/engine_echo, 9002 t/servers/ws_echo, 9003 a port nothing listens
               on, 9004 a socket that accepts and never answers;
  Peer         8000 a tracker of its own with the accounts alice/alice and
               bob/bob, 7001 and 7002 the peers of alice and bob (fresh
               databases, the source tree's pages).
The commands of one block share a shell (variables); all blocks share a
directory (cookie jars and token files outlive their block), as for a
reader who runs them in order.  `weaprous` is on the PATH."""

import gzip
import os
import re
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403

require('curl', 'sh')

MARK = '@@wr-docs-cmd@@'


def blocks(text):
    """(line number, offset, [(command, [expected lines])]) per console
    block."""
    out = []
    for m in re.finditer(r'```console\n(.*?)```', text, re.S):
        lineno = text.count('\n', 0, m.start()) + 1
        cmds = []
        for line in m.group(1).splitlines():
            if line.startswith('$ '):
                cmds.append((line[2:], []))
            elif cmds:
                cmds[-1][1].append(line)
        out.append((lineno, m.start(), cmds))
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

def sections(text):
    """(offset, title) of every `## ` heading, in order."""
    return [(m.start(), m.group(1)) for m in re.finditer(r'(?m)^## (\w+)', text)]


def section_at(secs, offset):
    title = ''
    for start, name in secs:
        if start <= offset:
            title = name
    return title


PORT_RE = re.compile(r'127\.0\.0\.1:(\d+)\b')


def rewrite(text, ports):
    return PORT_RE.sub(lambda m: '127.0.0.1:%d' % ports[m.group(1)]
                       if m.group(1) in ports else m.group(0), text)


def proxy_conf(text, ports):
    """The Proxy section's nginx block, ports rewritten."""
    start = text.index('\n## Proxy')
    m = re.compile(r'```nginx\n(.*?)```', re.S).search(text, start)
    return rewrite(m.group(1), ports)


root = tree()
work = tmpdir('wrapi-run-')   # one directory: the cookie jar outlives its block
backend = Server('backend', '--www', os.path.join(root, 'www'),
                 '--static', os.path.join(root, 'static'),
                 '--db', os.path.join(root, 'weaprous.db')).start()
sample = Server(argv=[binary('weaprous-sampleapp'), '--server-ip', '127.0.0.1',
                      '--server-port', '{port}', '--user', 'alice:secret']).start()
tracker = Server('tracker', '--allow-signup',
                 '--db', os.path.join(root, 'tracker.db')).start()
echo = Server(argv=[binary('t/servers/engine_echo'), '--port', '{port}']).start()
wsecho = Server(argv=[binary('t/servers/ws_echo'), '{port}']).start()
silent = socket.socket()            # accepts (backlog), never answers
silent.bind(('127.0.0.1', 0))
silent.listen(16)
proxy_ports = {'8080': free_port(), '8081': free_port(), '9000': backend.port,
               '8000': tracker.port, '9001': echo.port, '9002': wsecho.port,
               '9003': free_port(), '9004': silent.getsockname()[1]}
with open(os.path.join(work, 'docs-proxy.conf'), 'w') as f:
    f.write(proxy_conf(api, proxy_ports))
proxy = Server(argv=[binary(), 'proxy', '-c', 'docs-proxy.conf'],
               port=proxy_ports['8080'], cwd=work).start()
ok(wait_port(proxy_ports['8081']), 'the proxy status listener accepts')

# The Peer section: its own tracker with the demo's accounts, two peers.
peer_tracker = Server('tracker', '--allow-signup', '--heartbeat-interval', '1s',
                      '--db', os.path.join(root, 'peer-tracker.db')).start()
for who in ('alice', 'bob'):
    curl(['-s', '-X', 'POST', peer_tracker.url('/register'),
          '-d', 'username=%s&password=%s' % (who, who)])
peers = [Server('peer', '--tracker', 'http://127.0.0.1:%d' % peer_tracker.port,
                '--p2p-port', str(free_port()), '--db', os.path.join(root, who + '.db'),
                '--www', os.path.join(root, 'www'), '--static', os.path.join(root, 'static'),
                cwd=work).start() for who in ('alice', 'bob')]

base_ports = {'9000': backend.port, '8000': sample.port}
section_ports = {'Tracker': {'8000': tracker.port}, 'Proxy': proxy_ports,
                 'Peer': {'8000': peer_tracker.port, '7001': peers[0].port,
                          '7002': peers[1].port}}
secs = sections(api)
env = dict(os.environ, PATH=builddir() + os.pathsep + os.environ.get('PATH', ''))
checked = {}

for lineno, offset, cmds in all_blocks:
    title = section_at(secs, offset)
    checked[title] = checked.get(title, 0) + len(cmds)
    ports = dict(base_ports, **section_ports.get(title, {}))
    script = ''
    for i, (cmd, _) in enumerate(cmds):
        # JSON answers end without a newline: the marker starts on its own.
        script += "printf '\\n%s%d\\n'\n%s\n" % (MARK, i, rewrite(cmd, ports))
    r = subprocess.run(['sh', '-c', script], cwd=work, capture_output=True,
                       text=True, timeout=60, env=env)
    outs = re.split(r'\n?%s\d+\n' % MARK, '\n' + r.stdout)[1:]
    for i, (cmd, expected) in enumerate(cmds):
        got = outs[i].replace('\r', '').splitlines() if i < len(outs) else ['(not run)']
        name = 'API.md:%d: %s' % (lineno, cmd[:70])
        expected = [rewrite(line, ports) for line in expected]
        if not ok(matches(expected, got), name):
            diag('expected:\n  ' + '\n  '.join(expected))
            diag('got:\n  ' + '\n  '.join(got))
            if r.stderr:
                diag('stderr: ' + r.stderr[-1000:])

for title in ('Backend', 'Sample', 'Tracker', 'Proxy', 'Peer'):
    ok(checked.get(title, 0) >= 5, 'section %s has checked examples (%d)'
       % (title, checked.get(title, 0)))
for srv in (backend, sample, tracker, echo, wsecho, proxy, peer_tracker, *peers):
    ok(srv.alive(), '%s still up after the examples' % ' '.join(srv.argv[:2]))
silent.close()
done_testing()
