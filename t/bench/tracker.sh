#!/bin/bash
# t/bench/tracker.sh - requests/s of `weaprous tracker` with 1,000 active
# peers: GET /get-list (the whole list, ~80 KiB of JSON per answer) and
# POST /heartbeat (a database write each, a different peer every time).
# Prints figures; not a pass/fail test.
#   WR_BUILDDIR=_b bash t/bench/tracker.sh [SECONDS] [CONNECTIONS]
# BENCH_PERF=FILE also records a perf profile of the tracker into FILE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=${WR_BUILDDIR:-.}/weaprous
secs=${1:-10}
conns=${2:-50}
peers=1000
[ -x "$bin" ] || bench_die "no $bin (set WR_BUILDDIR)"
bench_need wrk wrk

tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# The database: the tracker's schema (made by `weaprous user add`), then
# 1,000 accounts with sessions written in bulk (one crypt(3) per sign-up
# would take a minute); tokens go to tokens.txt.
echo bench-pw | "$bin" user add --db "$tmp/t.db" bench >/dev/null
python3 - "$tmp/t.db" "$tmp/tokens.txt" "$peers" <<'PY'
import hashlib, secrets, sqlite3, sys, time
db, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = sqlite3.connect(db)
h = c.execute("SELECT password_hash FROM users WHERE name = 'bench'").fetchone()[0]
now = int(time.time())
with open(out, 'w') as f:
    for i in range(n):
        tok = secrets.token_hex(32)
        uid = c.execute('INSERT INTO users (name, password_hash, created_at,'
                        ' password_changed_at) VALUES (?, ?, ?, ?)',
                        ('peer%04d' % i, h, now, now)).lastrowid
        c.execute('INSERT INTO sessions VALUES (?, ?, ?, ?, ?)',
                  (hashlib.sha256(tok.encode()).hexdigest(), uid, now, now, now + 86400))
        f.write(tok + '\n')
c.commit()
PY

port=$(bench_free_port)
"$bin" tracker --server-ip 127.0.0.1 --server-port "$port" --db "$tmp/t.db" \
    --heartbeat-interval 600 --allow-advertised-addr --log-file "$tmp/log" &
pid=$!
bench_wait_port "$port" || bench_die "tracker did not start"

# Register the 1,000 peers (one keep-alive connection).
python3 - "$port" "$tmp/tokens.txt" <<'PY'
import http.client, json, sys, time
c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]))
toks = open(sys.argv[2]).read().split()
t0 = time.monotonic()
for i, tok in enumerate(toks):
    c.request('POST', '/submit-info', json.dumps({'ip': '10.0.%d.%d' % (i // 250, i % 250 + 1),
              'port': 20000 + i}), {'Authorization': 'Bearer ' + tok,
                                    'Content-Type': 'application/json'})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
dt = time.monotonic() - t0
c.request('GET', '/get-list', headers={'Authorization': 'Bearer ' + toks[0]})
r = c.getresponse(); body = r.read()
n = len(json.loads(body)['peers'])
print('submit-info: %d peers registered in %.2f s (%.0f/s, one connection); '
      'get-list answer: %d peers, %d bytes' % (len(toks), dt, len(toks) / dt, n, len(body)))
PY

token=$(head -1 "$tmp/tokens.txt")
[ -n "${BENCH_PERF:-}" ] && { perf record -g -o "$BENCH_PERF" -p "$pid" -- sleep "$secs" >/dev/null 2>&1 & }
echo "== GET /get-list, $peers active peers, $conns connections, ${secs}s"
wrk -t2 -c"$conns" -d"${secs}s" -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/get-list" | grep -E "Requests/sec|Latency|Non-2xx|Socket errors" || true
echo "== POST /heartbeat, a different peer each time, $conns connections, ${secs}s"
wrk -t2 -c"$conns" -d"${secs}s" -s "$here/tracker_beat.lua" \
    "http://127.0.0.1:$port/" -- "$tmp/tokens.txt" | grep -E "Requests/sec|Latency|Non-2xx|Socket errors" || true
