#!/usr/bin/env python3
"""The source tree keeps its architecture (docs/HACKING.md, "Where things
live"): the library is flat in src/ and knows nothing of the programs; a
role's folder (src/proxy/, src/tracker/, src/peer/) includes only the
public headers (weaprous/*.h), the program shell's cmd/role.h and its own
files; src/cmd/ includes the public headers and its own files; the sample
app includes only <weaprous.h>; the store owns SQL (only src/db*.c
include <sqlite3.h>); and no file reaches itself through its quoted
includes (no cycle)."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import *  # noqa: E402,F403

SRC = os.path.join(srcdir(), 'src')
ROLE_DIRS = ('proxy', 'tracker', 'peer')
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def includes(path):
    with open(path, encoding='utf-8') as f:
        return INCLUDE.findall(f.read())


def sources(d):
    return sorted(f for f in os.listdir(d) if f.endswith(('.c', '.h')))


def public(name):
    return name == 'config.h' or name == 'weaprous.h' or \
        (name.startswith('weaprous/') and
         os.path.isfile(os.path.join(SRC, name)))


def check_folder(folder, allowed_extra, what):
    """Every quoted include of src/<folder>/* is public, in allowed_extra,
    or a file of the folder itself.  Returns the offending lines."""
    d = os.path.join(SRC, folder)
    own = set(sources(d))
    bad = []
    for f in sorted(own):
        for kind, name in includes(os.path.join(d, f)):
            if kind == '"' and not (public(name) or name in own or
                                    name in allowed_extra):
                bad.append('%s/%s: #include "%s"' % (folder, f, name))
    if not is_(bad, [], '%s includes only %s' % (folder + '/', what)):
        for b in bad:
            diag(b)


# --- the library knows nothing of the programs ---------------------------
lib = sources(SRC) + ['weaprous/' + f for f in
                      sources(os.path.join(SRC, 'weaprous'))]
bad = []
for f in lib:
    for kind, name in includes(os.path.join(SRC, f)):
        if kind != '"':
            continue
        top = name.split('/')[0]
        if '/' in name and top != 'weaprous':
            bad.append('%s: #include "%s"' % (f, name))
        elif '/' not in name and name != 'config.h' and \
                not os.path.isfile(os.path.join(SRC, os.path.dirname(f), name)) \
                and not os.path.isfile(os.path.join(SRC, name)):
            bad.append('%s: #include "%s" (not in src/)' % (f, name))
if not is_(bad, [], 'library files (src/*.[ch]) include only library headers'):
    for b in bad:
        diag(b)

prog_dirs = sorted(e for e in os.listdir(SRC)
                   if os.path.isdir(os.path.join(SRC, e)) and e != 'weaprous')
ok(set(('cmd', 'proxy', 'tracker', 'sampleapp')) <= set(prog_dirs),
   'src/ has a folder per program part: %s' % ' '.join(prog_dirs))
lib_c = [f for f in sources(SRC) if f.endswith('.c')]
strays = [f for f in lib_c if re.match(r'(role|proxy|tracker|peer|main)[_.]', f)]
is_(strays, [], 'no role file left among the library sources')

# --- each program folder ---------------------------------------------------
for role in ROLE_DIRS:
    if os.path.isdir(os.path.join(SRC, role)):
        check_folder(role, ('cmd/role.h',), 'weaprous/*.h, cmd/role.h and its own files')
        ok(os.path.isfile(os.path.join(SRC, role, role + '_role.c')),
           '%s/ has its entry file %s_role.c' % (role, role))
check_folder('cmd', (), 'weaprous/*.h and its own files')

bad = [(f, n) for f in sources(os.path.join(SRC, 'sampleapp'))
       for k, n in includes(os.path.join(SRC, 'sampleapp', f))
       if k == '"' or n.startswith('weaprous/') and n != 'weaprous.h']
is_(bad, [], 'the sample app includes only <weaprous.h> and system headers')

# --- the store owns SQL: <sqlite3.h> only in src/db*.[ch] -------------------
bad = []
for root, dirs, files in os.walk(SRC):
    for f in sorted(files):
        rel = os.path.relpath(os.path.join(root, f), SRC)
        if f.endswith(('.c', '.h')) and not re.match(r'db[^/]*\.[ch]$', rel) and \
                ('<', 'sqlite3.h') in includes(os.path.join(root, f)):
            bad.append(rel)
if not is_(bad, [], 'only the store (src/db*.[ch]) includes <sqlite3.h>'):
    for b in bad:
        diag(b)

# --- no include cycle --------------------------------------------------------
graph = {}
for root, dirs, files in os.walk(SRC):
    for f in files:
        if not f.endswith(('.c', '.h')):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, SRC)
        deps = []
        for kind, name in includes(path):
            if kind != '"':
                continue
            for cand in (os.path.join(root, name), os.path.join(SRC, name)):
                if os.path.isfile(cand):
                    deps.append(os.path.relpath(cand, SRC))
                    break
        graph[rel] = deps


def find_cycle():
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, ()):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None
    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


cycle = find_cycle()
if not is_(cycle, None, 'no cycle among the %d files\' quoted includes' % len(graph)):
    diag(' -> '.join(cycle))

done_testing()
