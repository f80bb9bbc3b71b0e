#!/bin/bash
# t/bench/tracker.sh - `weaprous tracker` with 1,000 active peers, three
# loads, each alone and in interleaved rounds (medians printed):
#   get-list alone   GET /get-list (the whole list, ~80 KiB of JSON per
#                    answer) as fast as CONNECTIONS clients can read;
#   heartbeat alone  POST /heartbeat as fast as CONNECTIONS clients can
#                    send, a different peer every time (a database write each);
#   mix              the 1,000 peers beating once a second (1,000 beats/s,
#                    paced) while CONNECTIONS clients read /get-list.
# Each line: req/s, p99 latency, the tracker's CPU per request (user +
# system, over every request of the phase) and errors; then the share of
# its read-only throughput /get-list keeps under the mix.  Prints figures;
# not a pass/fail test.  The tracker runs on CPU 0, the clients on CPU 1.
#   WR_BUILDDIR=_b bash t/bench/tracker.sh [SECONDS] [CONNECTIONS] [ROUNDS]
# BENCH_PERF=FILE also records a perf profile of the tracker (first mix) into FILE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=${WR_BUILDDIR:-.}/weaprous
secs=${1:-10}
conns=${2:-50}
rounds=${3:-3}
peers=1000
beat_conns=20          # paced beaters: each sends one beat every BEAT_PACE_MS
beat_pace_ms=20        # 20 connections x 50/s = 1,000 beats/s
[ -x "$bin" ] || bench_die "no $bin (set WR_BUILDDIR)"
bench_need wrk wrk
bench_need taskset util-linux

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
taskset -c 0 "$bin" tracker --server-ip 127.0.0.1 --server-port "$port" --db "$tmp/t.db" \
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
# every client on CPU 1 (bench_wrk calls wrk)
wrk_bin=$(type -P wrk)
wrk() { taskset -c 1 "$wrk_bin" "$@"; }
url=http://127.0.0.1:$port
wrk_log=$tmp/wrk.log

# One round of each load; bench_wrk (lib.sh) prints "rps p99 cpu errors".
getlist_alone() {
    bench_wrk "$pid" "$conns" "$secs" "$wrk_log" get-list "$url/get-list" -t2 \
        -H "Authorization: Bearer $token"
}
beat_alone() {
    BENCH_TOKENS=$tmp/tokens.txt bench_wrk "$pid" "$conns" "$secs" "$wrk_log" \
        heartbeat "$url/" -t2 -s "$here/tracker_beat.lua"
}
# The mix: the paced beats start first and end last, so that they cover the
# whole reading window; the tracker's CPU is shared out over the requests
# of both.  Prints "list_rps list_p99 beat_rps beat_p99 cpu errors".
mix() {
    local t0 t1 list beat rps p99 brps bp99 cpu e1 e2 n
    t0=$(bench_cpu_ticks "$pid")
    wrk -t1 -c"$beat_conns" -d"$((secs + 2))s" --latency \
        -s "$here/tracker_beat.lua" "$url/" -- "$tmp/tokens.txt" "$beat_pace_ms" \
        > "$tmp/beat.out" 2>&1 &
    local wpid=$!
    sleep 1
    if [ -n "${BENCH_PERF:-}" ] && [ ! -e "$BENCH_PERF" ]; then
        perf record -g -o "$BENCH_PERF" -p "$pid" -- sleep "$secs" >/dev/null 2>&1 &
    fi
    list=$(bench_wrk "$pid" "$conns" "$secs" "$wrk_log" mix-get-list "$url/get-list" -t2 \
        -H "Authorization: Bearer $token")
    wait "$wpid"
    t1=$(bench_cpu_ticks "$pid")
    echo "mix-heartbeat: $(cat "$tmp/beat.out")" >> "$wrk_log"
    read -r rps p99 cpu e1 <<<"$list"
    brps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/beat.out")
    bp99=$(bench_to_ms "$(awk '$1 == "99%" { print $2 }' "$tmp/beat.out")")
    e2=$(awk '/Socket errors:/ { gsub(",", ""); n = $4 + $6 + $8 + $10 }
              /Non-2xx/ { n += $NF } END { print n + 0 }' "$tmp/beat.out")
    # requests of both: get-list over SECONDS, beats over SECONDS + 2
    n=$(awk -v a="$rps" -v b="${brps:-0}" -v s="$secs" 'BEGIN { printf "%.0f", a * s + b * (s + 2) }')
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$n" \
        'BEGIN { printf "%.1f", n ? d * 1e6 / hz / n : 0 }')
    echo "$rps $p99 ${brps%.*} $bp99 $cpu $((e1 + e2))"
}

bench_load start
echo "== $peers active peers; $conns connections; ${secs}s per run; $rounds rounds" \
     "(medians); mix: $((beat_conns * 1000 / beat_pace_ms)) beats/s paced"
for r in $(seq "$rounds"); do
    bench_acc_add list "$(getlist_alone)"
    bench_acc_add beat "$(beat_alone)"
    read -r a b c d e f <<<"$(mix)"
    bench_acc_add mix-list "$a $b $e $f"
    bench_acc_add mix-beat "$c $d $e 0"
done
metrics=$(curl -s "$url/metrics")
printf '%-28s %10s %9s %12s %7s\n' phase req/s p99_ms cpu_us/req errors
for k in list beat mix-list mix-beat; do
    read -r rps p99 cpu err <<<"$(bench_acc_median "$k")"
    case $k in
        list) what="get-list alone" ;; beat) what="heartbeat alone" ;;
        mix-list) what="mix: get-list" ;; mix-beat) what="mix: heartbeat (paced)" ;;
    esac
    printf '%-28s %10s %9s %12s %7s\n' "$what" "$rps" "$p99" "$cpu" "$err"
done
read -r alone _ <<<"$(bench_acc_median list)"
read -r mixed _ <<<"$(bench_acc_median mix-list)"
echo "get-list under the mix keeps $(awk -v a="$mixed" -v b="$alone" \
     'BEGIN { printf "%.0f", b ? 100 * a / b : 0 }')% of its read-only throughput" \
     "(cpu_us/req of the mix: over the requests of both)"
grep -E '^weaprous_tracker_(list_(builds|cache_hits)|group_[a-z_]+)_total ' <<<"$metrics" || true
bench_load end
