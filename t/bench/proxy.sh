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

bench_need wrk wrk
bench_need nginx nginx-light
PATH=$PATH:/usr/sbin
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true
[ -x "$OURS" ] || bench_die "no $OURS (build first, or set WR_BUILDDIR)"

work=$(mktemp -d /tmp/wrbench-proxy.XXXXXX)
chmod 755 "$work"
declare -A PID PORT
trap 'bench_cleanup PID "$work"' EXIT

docroot=$work/docroot
bench_docroot "$docroot"

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
    bench_nginx_start "$work/nginx" 8192 "\
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
            proxy_set_header Connection \"\";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP \$remote_addr;
        }
    }"
    PID[nginx]=$!
}

start_proxy() {
    local s=$1 port
    port=$(bench_free_port)
    PORT[$s]=$port
    "start_$s" "$port"
    bench_started "$s" "$port" "$work/$s.log" "$work/nginx/error.log"
    bench_expect_get "$s proxies /1k.html" "http://127.0.0.1:$port/1k.html" 1024 \
        -H 'Host: bench'
}

# run_wrk PROXY -> "req_per_s p99_ms cpu_us_per_req errors"
run_wrk() {
    bench_wrk "${PID[$1]}" "$CONNS" "$DURATION" "$work/wrk.log" "$1" \
        "http://127.0.0.1:${PORT[$1]}/1k.html" -H 'Host: bench'
}

PROXIES="ours nginx"
for s in $PROXIES; do start_proxy "$s"; done
printf 'bench: backends on %s and %s; ours pid %s port %s; nginx pid %s port %s\n' \
    "${PORT[b1]}" "${PORT[b2]}" "${PID[ours]}" "${PORT[ours]}" "${PID[nginx]}" "${PORT[nginx]}"
printf 'bench: wrk -t1 -c%s -d%ss --latency, 1 KiB page, %s rounds, median shown\n\n' \
    "$CONNS" "$DURATION" "$ROUNDS"

declare -A RPS
printf '%-8s %10s %9s %10s %7s\n' proxy 'req/s' 'p99 ms' 'cpu us/req' errors
for ((i = 1; i <= ROUNDS; i++)); do
    for s in $PROXIES; do bench_acc_add "$s" "$(run_wrk "$s")"; done
done
for s in $PROXIES; do
    read -r rps p99 cpu err <<<"$(bench_acc_median "$s")"
    RPS[$s]=$rps
    printf '%-8s %10s %9s %10s %7s\n' "$s" "$rps" "$p99" "$cpu" "$err"
done
printf 'ours/nginx req/s ratio %s\n' "$(bench_ratio "${RPS[ours]}" "${RPS[nginx]}")"
# shellcheck disable=SC2086  # PROXIES is a list
bench_warn_dead PID $PROXIES b1 b2
exit 0
