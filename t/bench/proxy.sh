#!/bin/bash
# t/bench/proxy.sh: reverse-proxy throughput of `weaprous proxy` against
# nginx (one worker, upstream keepalive), both in front of the same two
# `weaprous backend` processes (round-robin), on loopback, in one run.
#
# Each proxy gets ROUNDS runs of `wrk -t1 -cCONNS -dDURATION --latency` on
# a 1 KiB page (proxies interleaved per round); the table shows the median
# req/s, the median p99 latency, the proxy's CPU time per request and the
# ours/nginx req/s ratio.
#
# Env: WR_BUILDDIR (where ./weaprous is; default .), BENCH_DURATION (10),
# BENCH_ROUNDS (3), BENCH_CONNS (64).  Installs wrk and nginx-light with
# apt-get when missing (root on Debian).  Exit 0 unless something fails to
# start or to proxy the page.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-64}
OURS=${WR_BUILDDIR:-.}/weaprous
CLK_TCK=$(getconf CLK_TCK)

bench_need wrk wrk
bench_need nginx nginx-light
PATH=$PATH:/usr/sbin
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true
[ -x "$OURS" ] || bench_die "no $OURS (build first, or set WR_BUILDDIR)"

work=$(mktemp -d /tmp/wrbench-proxy.XXXXXX)
chmod 755 "$work"
declare -A PID PORT
cleanup() {
    local s
    for s in "${!PID[@]}"; do kill "${PID[$s]}" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

docroot=$work/docroot
mkdir -p "$docroot"
head -c 1024 /dev/zero | tr '\0' 'a' > "$docroot/1k.html"
chmod 755 "$docroot"; chmod 644 "$docroot"/*

# --- two backends --------------------------------------------------------------
for b in b1 b2; do
    PORT[$b]=$(bench_free_port)
    "$OURS" backend --server-ip 127.0.0.1 --server-port "${PORT[$b]}" \
        --www "$docroot" --static "$docroot" --db "$work/$b.db" >"$work/$b.log" 2>&1 &
    PID[$b]=$!
    bench_wait_port "${PORT[$b]}" 10 || bench_die "backend $b did not start"
done

# --- the proxies ------------------------------------------------------------
start_ours() {
    cat > "$work/proxy.conf" <<EOF
keepalive 64;
host "bench" default {
    proxy_pass http://127.0.0.1:${PORT[b1]};
    proxy_pass http://127.0.0.1:${PORT[b2]};
    dist_policy round-robin;
}
EOF
    "$OURS" proxy -c "$work/proxy.conf" --server-ip 127.0.0.1 --server-port "$1" \
        >"$work/ours.log" 2>&1 &
    PID[ours]=$!
}

start_nginx() {
    local d=$work/nginx user=""
    mkdir -p "$d/tmp"
    [ "$(id -u)" = 0 ] && user="user root;"
    cat > "$d/nginx.conf" <<EOF
$user
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 65;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    upstream pool {
        server 127.0.0.1:${PORT[b1]};
        server 127.0.0.1:${PORT[b2]};
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$1;
        location / {
            proxy_pass http://pool;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP \$remote_addr;
        }
    }
}
EOF
    nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" >"$work/nginx.log" 2>&1 &
    PID[nginx]=$!
}

start_proxy() {
    local s=$1 port got
    port=$(bench_free_port)
    PORT[$s]=$port
    "start_$s" "$port"
    bench_wait_port "$port" 10 || {
        tail -n 20 "$work/$s.log" "$work/nginx/error.log" 2>/dev/null
        bench_die "$s did not start on port $port"; }
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' \
          -H 'Host: bench' "http://127.0.0.1:$port/1k.html")
    [ "$got" = "200 1024" ] || bench_die "$s proxies /1k.html wrong: '$got'"
}

# run_wrk PROXY -> "req_per_s p99_ms cpu_us_per_req errors"
run_wrk() {
    local s=$1 out t0 t1 reqs rps p99 errs
    t0=$(bench_cpu_ticks "${PID[$s]}")
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -H 'Host: bench' \
          "http://127.0.0.1:${PORT[$s]}/1k.html" 2>&1)
    t1=$(bench_cpu_ticks "${PID[$s]}")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    reqs=$(awk '/ requests in / { print $1 }' <<<"$out")
    p99=$(bench_to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    errs=$(awk '/Socket errors:/ { gsub(",", ""); n = $4 + $6 + $8 + $10 }
                /Non-2xx/ { n += $NF } END { print n + 0 }' <<<"$out")
    echo "$s: $out" >> "$work/wrk.log"
    awk -v r="${rps:-0}" -v p="${p99:-0}" -v n="${reqs:-0}" -v d=$((t1 - t0)) \
        -v hz="$CLK_TCK" -v e="$errs" \
        'BEGIN { printf "%.0f %.2f %.1f %d\n", r, p, n ? d * 1e6 / hz / n : 0, e }'
}

PROXIES="ours nginx"
for s in $PROXIES; do start_proxy "$s"; done
printf 'bench: backends on %s and %s; ours pid %s port %s; nginx pid %s port %s\n' \
    "${PORT[b1]}" "${PORT[b2]}" "${PID[ours]}" "${PORT[ours]}" "${PID[nginx]}" "${PORT[nginx]}"
printf 'bench: wrk -t1 -c%s -d%ss --latency, 1 KiB page, %s rounds, median shown\n\n' \
    "$CONNS" "$DURATION" "$ROUNDS"

declare -A r_rps r_p99 r_cpu r_err RPS
printf '%-8s %10s %9s %10s %7s\n' proxy 'req/s' 'p99 ms' 'cpu us/req' errors
for ((i = 1; i <= ROUNDS; i++)); do
    for s in $PROXIES; do
        read -r a b c d < <(run_wrk "$s")
        r_rps[$s]+="$a "; r_p99[$s]+="$b "; r_cpu[$s]+="$c "
        r_err[$s]=$(( ${r_err[$s]:-0} + d ))
    done
done
for s in $PROXIES; do
    # shellcheck disable=SC2086  # the lists are space separated
    RPS[$s]=$(bench_median ${r_rps[$s]})
    printf '%-8s %10s %9s %10s %7s\n' "$s" "${RPS[$s]}" "$(bench_median ${r_p99[$s]})" \
        "$(bench_median ${r_cpu[$s]})" "${r_err[$s]}"
done
awk -v a="${RPS[ours]}" -v b="${RPS[nginx]}" \
    'BEGIN { printf "ours/nginx req/s ratio %.2f\n", b ? a / b : 0 }'
for s in $PROXIES b1 b2; do
    kill -0 "${PID[$s]}" 2>/dev/null || echo "bench: WARNING: $s died during the run"
done
exit 0
