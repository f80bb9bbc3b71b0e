#!/usr/bin/env python3
# user_cmd.t - `weaprous user add|passwd|del|list|disable|enable` against a
# temporary database: output, exit statuses, the default account notice,
# refusal of newer or garbage files, and no password in the file.
import os
import sqlite3
import subprocess
import sys
import tempfile

BUILD = os.environ.get("WR_BUILDDIR", ".")
EXE = os.path.join(BUILD, "weaprous")
n = 0
failed = 0


def ok(cond, name, detail=""):
    global n, failed
    n += 1
    if not cond:
        failed += 1
    print("%sok %d - %s" % ("" if cond else "not ", n, name))
    if not cond and detail:
        for line in str(detail).splitlines():
            print("#   " + line)
    sys.stdout.flush()
    return cond


def run(*args, stdin=""):
    p = subprocess.run([EXE, "user"] + list(args), input=stdin.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def listing(db):
    rc, out, _ = run("list", "--db", db)
    rows = {}
    for line in out.splitlines()[1:]:
        f = line.split()
        if len(f) == 3:
            rows[f[0]] = f[2]
    return rc, rows


def hash_of(db, name):
    c = sqlite3.connect(db)
    try:
        r = c.execute("SELECT password_hash FROM users WHERE name = ?",
                      (name,)).fetchone()
        return r[0] if r else None
    finally:
        c.close()


def run_tty(args, lines):
    """Runs with stdin and stderr on a pseudo-terminal, typing `lines`;
    returns (status, everything the terminal showed)."""
    import pty
    import select
    import time
    master, slave = pty.openpty()
    p = subprocess.Popen([EXE, "user"] + list(args), stdin=slave,
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    shown = b""
    deadline = time.time() + 20
    pending = list(lines)
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            shown += data
            if pending and shown.count(b"assword") > len(lines) - len(pending):
                os.write(master, pending.pop(0).encode() + b"\n")
        elif p.poll() is not None:
            break
    rc = p.wait(timeout=20)
    os.close(master)
    return rc, shown.decode(errors="replace")


def main():
    if not os.access(EXE, os.X_OK):
        ok(False, "weaprous binary exists at %s" % EXE)
        print("1..%d" % n)
        return 1
    tmp = tempfile.mkdtemp(prefix="user_cmd.")
    db = os.path.join(tmp, "u.db")

    rc, out, err = run("list", "--db", db)
    if not ok(rc == 0, "list on a fresh database", err):
        print("Bail out! weaprous user does not work: %s" % err.strip())
        return 1
    ok("created default account admin/password" in err and
       "weaprous user passwd admin" in err, "fresh database: notice once", err)
    ok(out.splitlines()[:1] == ["%-32s  %-20s  DISABLED" % ("NAME", "CREATED")],
       "list header", out)
    ok(any(l.split()[0] == "admin" for l in out.splitlines()[1:]),
       "admin listed", out)
    rc, out, err = run("list", "--db", db)
    ok(rc == 0 and "created default" not in err, "no notice the second time", err)

    rc, out, err = run("add", "--db", db, "bob", stdin="Pw-One-8c1f\n")
    ok(rc == 0 and "bob" in out, "add bob (password from stdin)", out + err)
    rc, rows = listing(db)
    ok(rows.get("bob") == "no", "bob listed, enabled", rows)
    h1 = hash_of(db, "bob")
    ok(h1 is not None and (h1.startswith("$y$") or h1.startswith("$6$")),
       "stored as a crypt(3) hash", h1)
    rc, out, err = run("add", "Bob", "--db=" + db, stdin="x\n")
    ok(rc == 1 and "already exists" in err, "Bob taken (case-insensitive), --db=", err)
    rc, out, err = run("add", "--db", db, "a b", stdin="x\n")
    ok(rc == 1 and "invalid user name" in err, "invalid name refused", err)
    rc, out, err = run("add", "--db", db, "carol", stdin="")
    ok(rc == 1 and "no password" in err, "add without a password fails", err)
    rc, out, err = run("add", "--db", db, "carol", stdin="x" * 5000 + "\n")
    ok(rc == 1 and "longer" in err, "oversized password refused", err)
    ok(listing(db)[1].get("carol") is None, "carol not created")

    rc, shown = run_tty(["passwd", "--db", db, "bob"], ["Tty-Pw-91b0", "Tty-Pw-91b0"])
    ok(rc == 0 and "New password for bob" in shown and "Retype" in shown,
       "passwd on a terminal asks twice", shown)
    ok("Tty-Pw-91b0" not in shown, "no echo of the password", shown)
    rc, shown = run_tty(["passwd", "--db", db, "bob"], ["Tty-Pw-aaaa", "Tty-Pw-bbbb"])
    ok(rc == 1 and "differ" in shown, "mismatched retype refused", shown)

    rc, out, err = run("passwd", "--db", db, "BOB", stdin="Pw-Two-4e2a\r\n")
    ok(rc == 0, "passwd BOB", err)
    h2 = hash_of(db, "bob")
    ok(h2 and h2 != h1, "hash changed", h2)
    rc, out, err = run("passwd", "--db", db, "ghost", stdin="x\n")
    ok(rc == 1 and "no user" in err, "passwd of an unknown user", err)

    rc, out, err = run("disable", "--db", db, "bob")
    ok(rc == 0 and listing(db)[1].get("bob") == "yes", "disable", err)
    rc, out, err = run("enable", "--db", db, "bob")
    ok(rc == 0 and listing(db)[1].get("bob") == "no", "enable", err)
    rc, out, err = run("disable", "--db", db, "ghost")
    ok(rc == 1, "disable an unknown user", err)

    with open(db, "rb") as f:
        data = f.read()
    for suffix in ("-wal",):
        if os.path.exists(db + suffix):
            data += open(db + suffix, "rb").read()
    ok(b"Pw-One-8c1f" not in data and b"Pw-Two-4e2a" not in data,
       "no password in the database files")

    rc, out, err = run("del", "--db", db, "bob")
    ok(rc == 0 and "bob" not in listing(db)[1], "del", err)
    rc, out, err = run("del", "--db", db, "bob")
    ok(rc == 1 and "no user" in err, "del twice", err)

    for args, why in ((), "no command"), (("frob",), "unknown command"), \
            (("add",), "add without a name"), (("list", "--bogus"), "unknown option"), \
            (("list", "--db"), "--db without a file"), (("del", "a", "b"), "extra argument"):
        rc, out, err = run(*args)
        ok(rc == 2 and "usage:" in err, "usage error: %s" % why, "%d %s" % (rc, err))
    rc, out, err = run("--help")
    ok(rc == 0 and "usage:" in out, "--help")

    c = sqlite3.connect(db)
    sql = c.execute("SELECT sql FROM sqlite_master WHERE name = 'users'").fetchone()[0]
    c.execute("PRAGMA user_version = 99")
    c.commit()
    c.close()
    ok("Unix seconds" in sql and "--" in sql, "schema explains itself", sql)
    rc, out, err = run("list", "--db", db)
    ok(rc == 1 and "newer" in err, "newer schema refused", err)

    junk = os.path.join(tmp, "junk.db")
    with open(junk, "wb") as f:
        f.write(bytes(range(256)) * 40)
    rc, out, err = run("list", "--db", junk)
    ok(rc == 1 and "not a database" in err, "garbage file refused", err)
    rc, out, err = run("list", "--db", os.path.join(tmp, "no", "dir", "x.db"))
    ok(rc == 1 and "x.db" in err, "missing directory refused", err)

    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    print("1..%d" % n)
    return 1 if failed else 0


sys.exit(main())
