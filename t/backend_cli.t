#!/usr/bin/env python3
# backend_cli.t - the run-time every role shares, on the real backend:
# command line and configuration file, -t, daemon mode and pid file, the
# access log in nginx's combined format, SIGHUP, SIGUSR1 (log reopening) and
# the graceful SIGTERM that lets an in-flight response finish.

import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import (Server, binary, done_testing, free_port, is_, like, ok,  # noqa: E402
                    read_to_eof, tmpdir, wait_port, wait_until)

top = tmpdir()
www, static = os.path.join(top, 'www'), os.path.join(top, 'static')
os.makedirs(www)
os.makedirs(static)
with open(os.path.join(www, 'page.html'), 'w') as f:
    f.write('<h1>cli</h1>\n')   # a public page: "/" itself needs a login
DB = os.path.join(top, 'weaprous.db')
BIG = 32 << 20
with open(os.path.join(static, 'big.bin'), 'wb') as f:
    f.write(os.urandom(BIG))


def run(*args, timeout=10):
    p = subprocess.run([binary()] + list(args), capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(errors='replace') + p.stderr.decode(errors='replace')


def get(port, path='/page.html'):
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    s.sendall(b'GET ' + path.encode() + b' HTTP/1.1\r\nHost: t\r\nReferer: http://r/\r\n'
              b'User-Agent: cli-test\r\nConnection: close\r\n\r\n')
    data = read_to_eof(s)
    s.close()
    return data


# --- command line ---
rc, out = run('backend', '-t', '--www', www, '--static', static, '--db', DB)
is_(rc, 0, '-t with valid roots exits 0')
like(out, r'ok', '-t says the configuration is ok')
rc, out = run('backend', '-t', '--www', os.path.join(top, 'nope'), '--static', static)
is_(rc, 1, '-t with a missing root exits 1')
like(out, r'nope', '-t names the missing root')
rc, out = run('backend', '--no-such-flag', '1')
is_(rc, 2, 'unknown option exits 2')
like(out, r"unknown option '--no-such-flag'", 'unknown option is named')
rc, out = run('backend', '--server-port', '70000')
is_(rc, 2, 'port out of range exits 2')
rc, out = run('nosuchrole')
is_(rc, 2, 'unknown role exits 2')
rc, out = run('backend', '--help')
is_(rc, 0, '--help exits 0')
like(out, r'--www DIR', '--help lists the role options')
rc, out = run('version')
like(out, r'^weaprous \d+\.\d+', 'version prints the version')

# --- configuration file: [backend] section, flags win ---
conf = os.path.join(top, 'weaprous.conf')
port_file = free_port()
with open(conf, 'w') as f:
    f.write('# test configuration\n[proxy]\nserver-port 1\n[backend]\n'
            'server-ip 127.0.0.1\nserver-port %d\nwww = %s\nstatic %s\ndb %s\n'
            % (port_file, www, static, DB))
srv = Server(argv=[binary(), 'backend', '-c', conf], port=port_file)
with srv:
    like(get(port_file).decode(errors='replace'), r'<h1>cli</h1>', 'settings come from the config file')
port_flag = free_port()
with Server(argv=[binary(), 'backend', '-c', conf, '--server-port', str(port_flag)], port=port_flag):
    ok(b'200 OK' in get(port_flag), 'a flag overrides the config file')
bad = os.path.join(top, 'bad.conf')
with open(bad, 'w') as f:
    f.write('[backend]\nfrobnicate 3\n')
rc, out = run('backend', '-c', bad)
ok(rc != 0, 'unknown key in the config file is refused')
like(out, r'bad\.conf:2', 'config error names file:line')

# --- daemon, pid file, logs, signals ---
port = free_port()
pidf, errlog, acclog = (os.path.join(top, n) for n in ('b.pid', 'error.log', 'access.log'))
rc, out = run('backend', '--server-ip', '127.0.0.1', '--server-port', str(port), '--www', www,
              '--static', static, '--db', DB, '-d', '--pid-file', pidf, '--log-file', errlog,
              '--access-log', acclog)
is_(rc, 0, 'daemon: the launching process exits 0')
ok(wait_port(port), 'daemon: the port accepts')
ok(wait_until(lambda: os.path.exists(pidf)), 'daemon: pid file written')
pid = int(open(pidf).read().strip())
ok(os.path.exists('/proc/%d' % pid), 'daemon: pid file names a live process')
ok(b'200 OK' in get(port), 'daemon serves')
ok(wait_until(lambda: os.path.getsize(acclog) > 0), 'access log written')
line = open(acclog).read().splitlines()[-1]
like(line, r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /page\.html HTTP/1\.1" 200 13 '
     r'"http://r/" "cli-test"$', 'access log line is nginx combined format')

rc, out = run('backend', '--server-ip', '127.0.0.1', '--server-port', str(port), '--www', www,
              '--static', static, '--db', DB, '-d', '--pid-file', pidf + '.2')
is_(rc, 1, 'daemon on a port in use: the launching process exits 1')
like(out, r'cannot listen', '  and says why on the terminal')
ok(not os.path.exists(pidf + '.2'), '  and leaves no pid file')
rc, out = run('backend', '-t', '--config=' + bad)
ok(rc != 0, '--config=FILE is read like -c FILE')

os.kill(pid, signal.SIGHUP)
ok(wait_until(lambda: 'reload' in open(errlog).read()), 'SIGHUP is logged as a reload')
ok(b'200 OK' in get(port), 'still serving after SIGHUP')

os.rename(acclog, acclog + '.1')
os.kill(pid, signal.SIGUSR1)
ok(wait_until(lambda: 'logs reopened' in open(errlog).read()), 'SIGUSR1 reopens the logs')
get(port)
ok(wait_until(lambda: os.path.exists(acclog) and os.path.getsize(acclog) > 0),
   'after SIGUSR1 the access log goes to a new file')

# graceful stop: a response in flight completes
s = socket.create_connection(('127.0.0.1', port), timeout=10)
s.sendall(b'GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n')
first = s.recv(4096)
os.kill(pid, signal.SIGTERM)
time.sleep(0.3)
ok(not wait_port(port, timeout=0.5), 'after SIGTERM no new connection is accepted')
data = bytearray(first)     # bytes += would be quadratic
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    data += b
head, _, body = bytes(data).partition(b'\r\n\r\n')
is_(len(body), BIG, 'the in-flight response completed during the graceful stop')
ok(wait_until(lambda: not os.path.exists('/proc/%d' % pid) or
              open('/proc/%d/stat' % pid).read().split()[2] == 'Z', timeout=7),
   'the process exits after the graceful stop')
ok(not os.path.exists(pidf), 'pid file removed on exit')
like(open(errlog).read(), r'graceful stop', 'the stop is logged')

done_testing()
