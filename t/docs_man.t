#!/usr/bin/env python3
"""The man pages format without a single groff warning, and they document
what the programs really accept: every option that `--help` prints (the
common ones, each documented role's own, the sample app's) appears in the
pages; every role `weaprous --help` lists has its section in
weaprous(1); every directive of the proxy's route parser (src/proxy/proxy_conf.c)
and of conf/proxy.conf.example is in weaprous-proxy.conf(5)."""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403

PAGES = ('weaprous.1', 'weaprous.3', 'weaprous.conf.5', 'weaprous-proxy.conf.5', 'weaprous-sampleapp.1')


def page(name):
    with open(os.path.join(srcdir(), 'docs', name), encoding='utf-8') as f:
        return f.read()


def plain(troff):
    """The page's text with the escapes that matter for option names
    removed: '\\-' is '-', font changes vanish."""
    text = troff.replace('\\-', '-')
    return re.sub(r'\\f[BIRP]', '', text)


def options_of(help_text):
    return sorted(set(re.findall(r'(?<![\w-])(--[a-z][a-z0-9-]*|-[a-z])\b', help_text)))


def help_of(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    return r.stdout


# --- formatting -------------------------------------------------------------
if shutil.which('groff'):
    for name in PAGES:
        path = os.path.join(srcdir(), 'docs', name)
        r = subprocess.run(['groff', '-man', '-Tutf8', '-ww', '-z', path],
                           capture_output=True, text=True)
        if not ok(r.returncode == 0 and r.stderr == '', '%s: groff -man -ww is silent' % name):
            diag(r.stderr)
else:
    skip('groff is not installed', len(PAGES))

for name in PAGES:
    text = page(name)
    like(text, r'(?m)^\.TH ', '%s: has a .TH line' % name)
    for sec in ('NAME', 'SYNOPSIS', 'DESCRIPTION', 'SEE ALSO'):
        like(text, r'(?m)^\.SH "?%s' % sec, '%s: section %s' % (name, sec))

# --- the pages match the programs ----------------------------------------------
man1 = plain(page('weaprous.1'))
man5 = plain(page('weaprous.conf.5'))
top = help_of(binary(), '--help')
ok('usage: weaprous ROLE' in top, 'weaprous --help prints the usage')

common = options_of(top.split('common options:')[-1])
ok(len(common) >= 10, 'common options found in --help (%d)' % len(common))
for opt in common:
    ok(re.search(r'(?<![\w-])%s(?![\w-])' % re.escape(opt), man1),
       'weaprous.1 documents %s' % opt)
    if opt.startswith('--') and opt not in ('--config', '--help', '--version'):
        ok(re.search(r'(?m)^\.B[IR]* %s\b' % re.escape(opt[2:]), man5),
           'weaprous.conf.5 documents the key %s' % opt[2:])

roles = re.findall(r'(?m)^  (\w+)\s+\(default port \d+\)', top)
ok('backend' in roles and 'proxy' in roles and 'tracker' in roles,
   'roles listed by --help: %s' % ', '.join(roles))
for role in roles + ['user', 'version']:
    documented = re.search(r'(?m)^\.B %s$' % role, man1) is not None
    ok(documented, 'weaprous.1 describes the role %s' % role)
    if not documented or role in ('user', 'version'):
        continue
    own = help_of(binary(), role, '--help').split('%s options:' % role)[-1]
    for opt in options_of(own):
        if opt in common:
            continue
        ok(re.search(r'(?<![\w-])%s(?![\w-])' % re.escape(opt), man1),
           'weaprous.1 documents %s %s' % (role, opt))
        ok(re.search(r'(?m)^\.B[IR]? %s\b' % re.escape(opt[2:]), man5),
           'weaprous.conf.5 documents the %s key %s' % (role, opt[2:]))

# --- the proxy's route file -------------------------------------------------
pman = plain(page('weaprous-proxy.conf.5'))
with open(os.path.join(srcdir(), 'src', 'proxy', 'proxy_conf.c'), encoding='utf-8') as f:
    table = re.findall(r'(?m)^\s*\{ "(\w+)",\s+\d+, \d+, W_', f.read())
ok(len(table) >= 14, 'directives found in src/proxy/proxy_conf.c (%d)' % len(table))
with open(os.path.join(srcdir(), 'conf', 'proxy.conf.example'), encoding='utf-8') as f:
    # directive lines, commented out or not: "# keepalive 32;  # ..."
    example = set(re.findall(r'(?m)^(?:# )?([a-z_]+) [^#\n]*;', f.read()))
ok(len(example) >= 14, 'directives found in conf/proxy.conf.example (%d)' % len(example))
for name in sorted(example - set(table) - {'host'}):
    ok(False, 'conf/proxy.conf.example shows %s, which the parser does not know' % name)
for name in sorted(set(table) | example | {'host', 'default'}):
    ok(re.search(r'(?m)^\.(B|BI|BR|TP \.B) %s\b' % re.escape(name), pman),
       'weaprous-proxy.conf.5 documents %s' % name)
for name in ('proxy_read_timeout', 'proxy_connect_timeout', 'proxy_send_timeout'):
    like(pman, r'%s[^\n]*\n[^\n]*default 60s' % name, 'weaprous-proxy.conf.5: %s defaults to 60s' % name)
like(man1, r'weaprous-proxy\.conf', 'weaprous.1 points to weaprous-proxy.conf(5)')
like(man5, r'weaprous-proxy\.conf', 'weaprous.conf.5 points to weaprous-proxy.conf(5)')

sample = help_of(binary('weaprous-sampleapp'), '--help')
sman = plain(page('weaprous-sampleapp.1'))
sopts = options_of(sample)
ok(len(sopts) >= 4, 'sample app options found in --help (%d)' % len(sopts))
for opt in sopts:
    ok(re.search(r'(?<![\w-])%s(?![\w-])' % re.escape(opt), sman),
       'weaprous-sampleapp.1 documents %s' % opt)
ok('WEAPROUS_SAMPLE_USERS' in sman, 'weaprous-sampleapp.1 documents WEAPROUS_SAMPLE_USERS')

# weaprous(3) names every public header of the library.
lib = page('weaprous.3')
headers = sorted(f for f in os.listdir(os.path.join(srcdir(), 'src', 'weaprous')) if f.endswith('.h'))
missing = [h for h in headers if 'weaprous/' + h.replace('_', '\\_') not in lib
           and 'weaprous/' + h not in lib]
is_(missing, [], 'weaprous.3 names all %d public headers' % len(headers))

done_testing()
