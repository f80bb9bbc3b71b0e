#!/usr/bin/env python3
"""`make install DESTDIR=tmp` from the build tree installs everything an
operator and an app author need (programs, library, headers, weaprous.pc,
man pages, configuration, init script, systemd units, the www/ and static/
trees, schema, docs), with the installed paths substituted; the installed
binary runs `version` and `backend -t` on the installed configuration and
trees and serves them; the SysV init script starts, reloads, reports and
stops a backend; the systemd units pass `systemd-analyze verify`."""

import os
import re
import shutil
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403

require('make')

VARS = ('prefix', 'bindir', 'libdir', 'includedir', 'sysconfdir', 'datadir',
        'pkgdatadir', 'mandir', 'docdir', 'localstatedir', 'PACKAGE_VERSION')


def make_vars():
    """Installation directories as make expands them."""
    rules = 'wr-print-vars:\n' + ''.join('\t@echo %s=$(%s)\n' % (v, v) for v in VARS)
    r = subprocess.run(['make', '-s', '--no-print-directory', '-C', builddir(),
                        '-f', 'Makefile', '-f', '-', 'wr-print-vars'],
                       input=rules, capture_output=True, text=True)
    return dict(line.split('=', 1) for line in r.stdout.splitlines() if '=' in line)


v = make_vars()
ok(all(k in v for k in VARS), 'installation directories read from the Makefile')
dest = tmpdir('wrinst-')
inst = subprocess.run(['make', '-C', builddir(), 'install', 'DESTDIR=' + dest],
                      capture_output=True, text=True)
if not is_(inst.returncode, 0, 'make install DESTDIR=...'):
    diag(inst.stdout[-2000:] + inst.stderr[-2000:])


def D(path):
    return dest + path


expected = [
    (v['bindir'], 'weaprous'), (v['bindir'], 'weaprous-sampleapp'),
    (v['libdir'], 'libweaprous.a'), (v['libdir'], 'pkgconfig/weaprous.pc'),
    (v['includedir'], 'weaprous.h'), (v['includedir'], 'weaprous/app.h'),
    (v['includedir'], 'weaprous/ws.h'), (v['includedir'], 'weaprous/http_client.h'),
    (v['mandir'], 'man1/weaprous.1'), (v['mandir'], 'man1/weaprous-sampleapp.1'),
    (v['mandir'], 'man5/weaprous.conf.5'), (v['mandir'], 'man5/weaprous-proxy.conf.5'),
    (v['sysconfdir'], 'weaprous/proxy.conf'),
    (v['sysconfdir'], 'weaprous/weaprous.conf'),
    (v['pkgdatadir'], 'init.d/weaprous'),
    (v['pkgdatadir'], 'systemd/weaprous-backend.service'),
    (v['pkgdatadir'], 'systemd/weaprous-proxy.service'),
    (v['pkgdatadir'], 'systemd/weaprous-tracker.service'),
    (v['pkgdatadir'], 'systemd/weaprous-peer@.service'),
    (v['pkgdatadir'], 'db/peer/001_peer.sql'),
    (v['docdir'], 'PROTOCOL.md'), (v['docdir'], 'HACKING.md'),
    (v['docdir'], 'proxy.conf.example'),
    (v['pkgdatadir'], 'db/001_users.sql'),
    (v['docdir'], 'API.md'), (v['docdir'], 'FRAMEWORK.md'),
    (v['docdir'], 'examples/hello.c'),
]
for d, f in expected:
    ok(os.path.isfile(D(os.path.join(d, f))), 'installed: %s/%s' % (d, f))
ok(any(re.match(r'libweaprous\.so', f) for f in os.listdir(D(v['libdir']))
       if os.path.isdir(D(v['libdir']))), 'installed: the shared library')
init = D(v['pkgdatadir'] + '/init.d/weaprous')
ok(os.path.exists(init) and os.stat(init).st_mode & stat.S_IXUSR, 'the init script is executable')

# Every page and asset of the source tree, and the roots even when empty.
for tree in ('www', 'static'):
    root = D(v['pkgdatadir'] + '/' + tree)
    ok(os.path.isdir(root), 'installed: %s/%s/' % (v['pkgdatadir'], tree))
    src = os.path.join(srcdir(), tree)
    files = [os.path.relpath(os.path.join(r, f), src)
             for r, _, fs in os.walk(src) for f in fs if not f.startswith('.')] \
        if os.path.isdir(src) else []
    missing = [f for f in files if not os.path.isfile(os.path.join(root, f))]
    is_(missing, [], 'every file of %s/ installed (%d)' % (tree, len(files)))

# Substituted paths: no placeholder left, the real directories named.
for rel in ('weaprous/weaprous.conf',):
    text = open(D(v['sysconfdir'] + '/' + rel)).read()
    ok('@' not in text.replace('@ ', ''), '%s: no @placeholder@ left' % rel)
    like(text, re.escape('www                   %s/www' % v['pkgdatadir']),
         '%s: www names the installed tree' % rel)
for rel in ('init.d/weaprous', 'systemd/weaprous-backend.service',
            'systemd/weaprous-proxy.service', 'systemd/weaprous-tracker.service',
            'systemd/weaprous-peer@.service'):
    path = D(v['pkgdatadir'] + '/' + rel)
    text = open(path).read() if os.path.exists(path) else ''
    ok(not re.search(r'@[a-zA-Z_]+@', text), '%s: no @placeholder@ left' % rel)
    like(text, re.escape(v['bindir'] + '/weaprous'), '%s: names the installed binary' % rel)

# --- the installed programs run ----------------------------------------------
env = dict(os.environ, LD_LIBRARY_PATH=D(v['libdir']))
exe = D(v['bindir'] + '/weaprous')
conf = D(v['sysconfdir'] + '/weaprous/weaprous.conf')
www, static = D(v['pkgdatadir'] + '/www'), D(v['pkgdatadir'] + '/static')
r = subprocess.run([exe, 'version'], capture_output=True, text=True, env=env)
is_(r.returncode, 0, 'installed weaprous version: exit 0')
like(r.stdout, r'^weaprous %s ' % re.escape(v['PACKAGE_VERSION']), '... prints the version')
statedir = D(v['localstatedir'] + '/lib/weaprous')
ok(os.path.isdir(statedir), 'make install creates the database directory')
r = subprocess.run([exe, 'backend', '-t', '-c', conf, '--www', www, '--static', static,
                    '--db', statedir + '/weaprous.db'],
                   capture_output=True, text=True, env=env, cwd=dest)
is_(r.returncode, 0, 'installed backend -t with the installed config and trees')
like(r.stdout, r'configuration ok', '... says ok')
if r.returncode:
    diag(r.stderr)
r = subprocess.run([exe, 'backend', '-t', '-c', conf, '--www', www + '/nope', '--static', static],
                   capture_output=True, text=True, env=env, cwd=dest)
is_(r.returncode, 1, 'installed backend -t fails for a missing root')

# The tracker's section: as installed, and with every commented key of it
# switched on (the values shown are the defaults); a bad value is refused.
tdb = os.path.join(tmpdir('wrtrk-'), 'tracker.db')
r = subprocess.run([exe, 'tracker', '-t', '-c', conf, '--db', tdb],
                   capture_output=True, text=True, env=env, cwd=dest)
is_((r.returncode, r.stdout.strip()), (0, 'weaprous tracker: configuration ok'),
    'installed tracker -t with the installed config')
text = open(conf).read()
sect = text[text.index('[tracker]'):]
sect = sect[:sect.index('\n[', 1)] if '\n[' in sect[1:] else sect
keys = ('allow-signup', 'allow-advertised-addr', 'heartbeat-interval',
        'login-max-failures', 'login-window', 'ticket-ttl')
on = sect
for k in keys:
    on = re.sub(r'(?m)^# (%s)\b' % re.escape(k), r'\1', on)
ok(all(re.search(r'(?m)^%s\b' % re.escape(k), on) for k in keys),
   'the [tracker] section shows every tracker key')
full = os.path.join(os.path.dirname(tdb), 'full.conf')
with open(full, 'w') as f:
    f.write(text.replace(sect, on))
r = subprocess.run([exe, 'tracker', '-t', '-c', full, '--db', tdb],
                   capture_output=True, text=True, env=env, cwd=dest)
if not is_(r.returncode, 0, 'tracker -t with every key of its section on'):
    diag(r.stdout + r.stderr)
with open(full, 'w') as f:
    f.write(text.replace(sect, on.replace('heartbeat-interval', 'heartbeat-interval 0 #')))
r = subprocess.run([exe, 'tracker', '-t', '-c', full, '--db', tdb],
                   capture_output=True, text=True, env=env, cwd=dest)
is_(r.returncode, 1, 'tracker -t refuses a heart-beat interval of 0')
r = subprocess.run([exe, 'proxy', '-t', '-c', D(v['sysconfdir'] + '/weaprous/proxy.conf')],
                   capture_output=True, text=True, env=env, cwd=dest)
is_(r.returncode, 0, 'installed proxy -t with the installed route file')
like(r.stdout, r'test is successful', '... says so')

r = subprocess.run([D(v['bindir'] + '/weaprous-sampleapp'), '--help'],
                   capture_output=True, text=True, env=env)
is_(r.returncode, 0, 'installed weaprous-sampleapp --help')

# Serve one installed file (an asset when there is one).
assets = [os.path.relpath(os.path.join(r_, f), static)
          for r_, _, fs in os.walk(static) for f in fs]
with open(os.path.join(static, 'wr-install-probe.txt'), 'w') as f:
    f.write('probe\n')
with Server(argv=[exe, 'backend', '-c', conf, '--server-ip', '127.0.0.1',
                  '--server-port', '{port}', '--www', www, '--static', static,
                  '--db', os.path.join(dest, 'test.db')],
            env={'LD_LIBRARY_PATH': D(v['libdir'])}, cwd=dest) as srv:
    resp = parse_response(raw(srv.port, req('GET', '/wr-install-probe.txt',
                                            {'Connection': 'close'})))[0]
    is_((resp.status, resp.body), (200, b'probe\n'), 'the installed backend serves the installed static tree')
    if os.path.isfile(os.path.join(www, 'login.html')):
        resp = parse_response(raw(srv.port, req('GET', '/login.html', {'Connection': 'close'})))[0]
        is_(resp.status, 200, 'the installed login page is served')
        resp = parse_response(raw(srv.port, req('GET', '/', {'Connection': 'close'})))[0]
        is_(resp.status, 401, '/ without a session: 401 (login installed and wired)')
    else:
        skip('no login page in www/', 2)
    for a in assets[:3]:
        resp = parse_response(raw(srv.port, req('GET', '/' + a, {'Connection': 'close'})))[0]
        is_(resp.status, 200, 'installed asset /%s served' % a)
os.unlink(os.path.join(static, 'wr-install-probe.txt'))

# --- an operator's files ---------------------------------------------------------
pconf = D(v['sysconfdir'] + '/weaprous/proxy.conf')
ptext = open(pconf).read()
ok('alice.localhost' not in ptext and 'default' in ptext,
   "the installed proxy.conf is an operator's starting point, not the demo's routes")
ok(os.path.isdir(D(v['localstatedir'] + '/log/weaprous')), 'make install creates the log directory')
with open(pconf, 'a') as f:
    f.write('# changed by the operator\n')
with open(conf, 'a') as f:
    f.write('# changed too\n')
inst = subprocess.run(['make', '-C', builddir(), 'install', 'DESTDIR=' + dest],
                      capture_output=True, text=True)
is_(inst.returncode, 0, 'make install again')
ok(open(pconf).read().endswith('# changed by the operator\n')
   and open(conf).read().endswith('# changed too\n'),
   'a second make install keeps the changed configuration files')
ok(os.path.isfile(pconf + '.dist') and os.path.isfile(conf + '.dist'),
   '... and puts the new versions beside them as .dist')
like(inst.stdout, r'keeping .*proxy\.conf', '... and says so')

# The compiled defaults are the installed paths: from any directory.
r = subprocess.run([exe, 'proxy', '-t'], capture_output=True, text=True, env=env, cwd='/')
like(r.stdout + r.stderr, re.escape(v['sysconfdir'] + '/weaprous/proxy.conf'),
     'proxy -t without -c reads the installed route file (from /)')
r = subprocess.run([exe, 'backend', '--help'], capture_output=True, text=True, env=env, cwd='/')
ok(v['pkgdatadir'] + '/www' in r.stdout and v['localstatedir'] + '/lib/weaprous/weaprous.db'
   in r.stdout, "the backend's defaults are the installed www and database")

# --- the account a role runs as ---------------------------------------------------
if os.geteuid() == 0:
    import pwd  # noqa: E402
    nobody = pwd.getpwnam('nobody')
    noenv = dict(env)
    noenv.pop('WEAPROUS_ALLOW_ROOT', None)
    work = tmpdir('wruser-')
    os.chmod(work, 0o777)
    args = ['backend', '--server-ip', '127.0.0.1', '--www', www, '--static', static,
            '--db', os.path.join(work, 'u.db')]
    r = subprocess.run([exe] + args + ['--server-port', str(free_port())],
                       capture_output=True, text=True, env=noenv, timeout=20)
    is_(r.returncode, 1, 'as root without a user: refused, exit 1')
    like(r.stderr, r'refusing to run as root', '... and says why')
    r = subprocess.run([exe] + args + ['--server-port', str(free_port()), '--user', 'no-such-user-x'],
                       capture_output=True, text=True, env=noenv, timeout=20)
    is_((r.returncode, 'no such account' in r.stderr), (1, True), 'an unknown --user: exit 1')

    def uid_of(pid):
        for line in open('/proc/%d/status' % pid):
            if line.startswith('Uid:'):
                return [int(x) for x in line.split()[1:]]
        return None

    with Server(argv=[exe] + args + ['--server-port', '{port}', '--user', 'nobody'],
                env=noenv) as srv:
        is_(uid_of(srv.pid), [nobody.pw_uid] * 4, '--user nobody: real, effective, saved and fs uid are nobody')
        resp = parse_response(raw(srv.port, req('POST', '/login', {'Connection': 'close',
            'Content-Type': 'application/x-www-form-urlencoded'}, body=b'username=admin&password=password')))[0]
        is_(resp.status, 200, '... and it still logs users in (database opened before the switch)')
        like(srv.log_text(), r'running as nobody', '... its log says so')
    with Server(argv=[exe] + args + ['--server-port', '{port}', '--allow-root'], env=noenv) as srv:
        is_(uid_of(srv.pid)[0], 0, '--allow-root: runs as root')
else:
    skip('not root: the privilege drop needs root', 7)

# --- the SysV init script drives a backend -------------------------------------
state = tmpdir('wrinit-')
port = free_port()
defaults = os.path.join(state, 'defaults')
with open(defaults, 'w') as f:
    f.write('WEAPROUS_BIN=%s\nWEAPROUS_CONF=%s\nWEAPROUS_RUNDIR=%s/run\n'
            'WEAPROUS_LOGDIR=%s/log\nWEAPROUS_STATEDIR=%s/lib\nWEAPROUS_ROLES=backend\n'
            'WEAPROUS_OPTS="--server-ip 127.0.0.1 --server-port %d --www %s --static %s'
            ' --db %s/lib/weaprous.db"\n'
            % (exe, conf, state, state, state, port, www, static, state))
ienv = dict(env, WEAPROUS_DEFAULTS=defaults)


def initd(action):
    r = subprocess.run(['sh', init, action], capture_output=True, text=True,
                       env=ienv, cwd=state, timeout=30)
    return r.returncode, r.stdout + r.stderr


rc, out = initd('status')
is_(rc, 3, 'init status before start: 3 (not running)')
rc, out = initd('start')
is_(rc, 0, 'init start: 0')
like(out, r'weaprous backend: started \(pid \d+\)', '... says started')
pidf = os.path.join(state, 'run', 'backend.pid')
pid = int(open(pidf).read()) if os.path.exists(pidf) else None
ok(pid and wait_port(port), '... and the backend listens')
if os.geteuid() == 0 and pid:
    is_(uid_of(pid)[0], pwd.getpwnam('nobody').pw_uid, '... as WEAPROUS_USER (nobody by default)')
    is_(os.stat(os.path.join(state, 'lib')).st_uid, pwd.getpwnam('nobody').pw_uid,
        '... which owns the state directory')
rc, out = initd('start')
like(out, r'already running', 'init start again: already running')
rc, out = initd('status')
is_(rc, 0, 'init status: 0 (running)')
rc, out = initd('reload')
is_(rc, 0, 'init reload: 0')
log = os.path.join(state, 'log', 'backend.log')
ok(wait_until(lambda: 'SIGHUP' in open(log).read() if os.path.exists(log) else False, 5),
   '... the backend got SIGHUP')
rc, out = initd('stop')
is_(rc, 0, 'init stop: 0')
ok(wait_until(lambda: not os.path.exists('/proc/%d' % pid), 5) if pid else False,
   '... the process is gone')
ok(not os.path.exists(pidf), '... and so is the pid file')
rc, out = initd('status')
is_(rc, 3, 'init status after stop: 3')
# A port already taken: start must fail, not claim success.
import socket  # noqa: E402
with socket.socket() as busy:
    busy.bind(('127.0.0.1', port))
    busy.listen()
    rc, out = initd('start')
    is_(rc, 1, 'init start on a busy port: 1')
    like(out, r'exited at start-up', '... and says why to look at the log')
rc, out = initd('status')
is_(rc, 3, '... no stale pid file left behind')
rc, out = initd('bogus')
is_(rc, 2, 'init with an unknown action: usage, 2')

# --- systemd units ---------------------------------------------------------------
if shutil.which('systemd-analyze'):
    udir = tmpdir('wrunits-')
    for name in ('backend', 'proxy', 'tracker', 'peer@'):
        src = D('%s/systemd/weaprous-%s.service' % (v['pkgdatadir'], name))
        text = open(src).read().replace(v['bindir'] + '/weaprous', exe)
        path = os.path.join(udir, 'weaprous-%s.service' % name)
        with open(path, 'w') as f:
            f.write(text)
        r = subprocess.run(['systemd-analyze', 'verify', '--man=no', path],
                           capture_output=True, text=True, env=env)
        out = (r.stdout + r.stderr).strip()
        if name == 'peer@':   # a template is verified as an instance of it
            inst_path = os.path.join(udir, 'weaprous-peer@alice.service')
            os.rename(path, inst_path)
            r = subprocess.run(['systemd-analyze', 'verify', '--man=no', inst_path],
                               capture_output=True, text=True, env=env)
            out = (r.stdout + r.stderr).strip()
        if not ok(r.returncode == 0 and out == '', 'systemd-analyze verify weaprous-%s.service' % name):
            diag(out)
else:
    skip('systemd-analyze is not installed', 4)

done_testing()
