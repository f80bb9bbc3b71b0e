#!/usr/bin/env python3
"""libweaprous.so exports exactly what the public headers declare
(src/weaprous/api.h): every function and object declared in
src/weaprous/*.h is a defined dynamic symbol of the built library, and
the library's dynamic symbols are all declared there.  The declarations
are read from the preprocessed headers (the configured compiler's -E), the
symbols from `nm -D --defined-only`."""

import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403

PUBLIC = os.path.join(srcdir(), 'src', 'weaprous')
SO = os.path.join(builddir(), '.libs', 'libweaprous.so')
# What the toolchain itself puts into every shared object, and what
# AddressSanitizer adds for each exported object (its ODR indicators).
LINKER_SYMBOLS = {'_init', '_fini', '_edata', '_end', '__bss_start'}
TOOL_PREFIXES = ('__odr_asan',)
LINEMARK = re.compile(r'^# \d+ "([^"]*)"')
IDENT = re.compile(r'[A-Za-z_]\w*')


def public_text():
    """The preprocessed text of every public header, only the lines that
    come from src/weaprous/*.h (the system headers they include are not
    ours)."""
    headers = sorted(glob.glob(os.path.join(PUBLIC, '*.h')))
    with tempfile.NamedTemporaryFile('w', suffix='.c', delete=False) as f:
        for h in headers:
            f.write('#include "weaprous/%s"\n' % os.path.basename(h))
        tu = f.name
    cc = shlex.split(os.environ.get('WR_CC') or 'cc')
    try:
        out = subprocess.run(cc + ['-E', '-I', os.path.join(srcdir(), 'src'), tu],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(tu)
    keep, lines = False, []
    for line in out.split('\n'):
        m = LINEMARK.match(line)
        if m:
            keep = os.path.dirname(os.path.abspath(m.group(1))) == os.path.abspath(PUBLIC)
        elif keep and not line.startswith('#'):
            lines.append(line)
    return '\n'.join(lines)


def strip_attributes(text):
    """Removes __attribute__((...)) and __extension__ (balanced parens)."""
    out, i = [], 0
    while True:
        j = text.find('__attribute__', i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        k = text.index('(', j)
        depth = 0
        while True:
            depth += {'(': 1, ')': -1}.get(text[k], 0)
            k += 1
            if depth == 0:
                break
        i = k
    return ''.join(out).replace('__extension__', '')


def statements(text):
    """Top-level declarations, split at ';' outside braces; a function body
    (a '{' right after ')') ends its statement, which is then dropped: an
    inline function is not exported."""
    stmts, cur, depth, body = [], [], 0, False
    for ch in text:
        if ch == '{':
            if depth == 0 and ''.join(cur).rstrip().endswith(')'):
                body = True
            depth += 1
        elif ch == '}':
            depth -= 1
            if depth == 0 and body:
                cur, body = [], False
                continue
        if ch == ';' and depth == 0:
            stmts.append(' '.join(''.join(cur).split()))
            cur = []
        elif not body:
            cur.append(ch)
    return stmts


def declared_name(stmt):
    """The name a declaration gives to a function or an object with
    external linkage, or None (typedefs, types, static)."""
    words = IDENT.findall(stmt)
    if not words or words[0] in ('typedef', 'static') or '{' in stmt:
        return None
    paren = stmt.find('(')
    if paren < 0:   # an object: extern T name[...]
        if words[0] != 'extern':
            return None
        return IDENT.findall(re.sub(r'\[[^\]]*\]', '', stmt))[-1]
    if stmt[paren + 1:].lstrip().startswith('*'):   # a pointer to function
        return IDENT.findall(stmt[paren:])[0] if words[0] == 'extern' else None
    before = IDENT.findall(stmt[:paren])
    return before[-1] if before else None


if not os.path.exists(SO):
    skip_all('no shared library was built (--disable-shared)')

declared = set()
for s in statements(strip_attributes(public_text())):
    name = declared_name(s)
    if name:
        declared.add(name)

nm = shlex.split(os.environ.get('WR_NM') or 'nm')
out = subprocess.run(nm + ['-D', '--defined-only', SO], capture_output=True,
                     text=True, check=True).stdout
exported = {name for name in (line.split()[-1] for line in out.split('\n') if line.strip())
            if not name.startswith(TOOL_PREFIXES)} - LINKER_SYMBOLS

ok(len(declared) > 200, 'the public headers declare %d functions and objects' % len(declared))
extra = sorted(exported - declared)
if not is_(extra, [], 'nothing exported that weaprous/*.h does not declare'):
    diag('exported, not declared: ' + ' '.join(extra))
missing = sorted(declared - exported)
if not is_(missing, [], 'everything weaprous/*.h declares is exported'):
    diag('declared, not exported: ' + ' '.join(missing))
for internal in ('sha1_init', 'base64_encode', 'pwhash_make', 'db_q', 'db_failf'):
    ok(internal not in exported, 'internal %s is hidden' % internal)
done_testing()
