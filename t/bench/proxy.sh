#!/bin/bash
# t/bench/proxy.sh: reverse-proxy throughput of `weaprous proxy` against
# HAProxy and nginx (one thread / one worker each, a keep-alive pool of 64
# upstream connections each), all in front of the same two `weaprous
# backend` processes (round-robin), on loopback, in one run.
#
# For each connection count, each proxy gets ROUNDS runs of `wrk -t1
# -cCONNS -dDURATION --latency` on a 1 KiB page (proxies interleaved per
# round); the table shows the median req/s, the median p99 latency, the
# proxy's CPU time per request, and its system calls per request (counted
# with perf in a separate short run, so that the counting does not weigh
# on the timed ones), then the ours/HAProxy and ours/nginx ratios.  With
# two CPUs or more the proxies run on CPU 0, wrk and the backends on CPU 1.
#
# Env: WR_BUILDDIR (where ./weaprous is; default .), BENCH_DURATION (10),
# BENCH_ROUNDS (3), BENCH_CONNS ("32 256"), BENCH_PIN (1: pin as above,
# 0: not).  Installs wrk, haproxy and nginx-light with apt-get when missing
# (root on Debian).  Exit 0 unless something fails to start or to proxy
# the page.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS_LIST=${BENCH_CONNS:-32 256}
OURS=${WR_BUILDDIR:-.}/weaprous

bench_need wrk wrk
bench_need haproxy haproxy
bench_need nginx nginx-light
PATH=$PATH:/usr/sbin
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true
[ -x "$OURS" ] || bench_die "no $OURS (build first, or set WR_BUILDDIR)"

work=$(mktemp -d /tmp/wrbench-proxy.XXXXXX)
chmod 755 "$work"
declare -A PID PORT
trap 'bench_cleanup PID "$work"' EXIT

# CPU 0 for the proxy under test, CPU 1 for the load and the backends.
PIN_PROXY=() PIN_LOAD=()
if [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    PIN_PROXY=(taskset -c 0) PIN_LOAD=(taskset -c 1)
fi

docroot=$work/docroot
bench_docroot "$docroot"

# --- two backends --------------------------------------------------------------
for b in b1 b2; do
    PORT[$b]=$(bench_free_port)
    "${PIN_LOAD[@]}" "$OURS" backend --server-ip 127.0.0.1 --server-port "${PORT[$b]}" \
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
    "${PIN_PROXY[@]}" "$OURS" proxy -c "$work/proxy.conf" --server-ip 127.0.0.1 \
        --server-port "$1" >"$work/ours.log" 2>&1 &
    PID[ours]=$!
}

# One thread; 32 idle connections kept per server (64 in all, as the
# others); connections shared between clients (http-reuse always, as our
# pool and nginx's); the same fields added as nginx's configuration.
start_haproxy() {
    cat > "$work/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 2000
defaults
    mode http
    timeout connect 5s
    timeout client 65s
    timeout server 65s
    timeout http-keep-alive 65s
    http-reuse always
frontend bench
    bind 127.0.0.1:$1
    option forwardfor
    http-request set-header X-Real-IP %[src]
    default_backend pool
backend pool
    balance roundrobin
    server b1 127.0.0.1:${PORT[b1]} pool-max-conn 32
    server b2 127.0.0.1:${PORT[b2]} pool-max-conn 32
EOF
    "${PIN_PROXY[@]}" haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
    PID[haproxy]=$!
}

start_nginx() {
    BENCH_NGINX_PREFIX="${PIN_PROXY[*]}" bench_nginx_start "$work/nginx" 8192 "\
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

# run_wrk PROXY CONNS -> "req_per_s p99_ms cpu_us_per_req errors"
run_wrk() {
    BENCH_WRK_PREFIX="${PIN_LOAD[*]}" bench_wrk "${PID[$1]}" "$2" "$DURATION" \
        "$work/wrk.log" "$1" "http://127.0.0.1:${PORT[$1]}/1k.html" -H 'Host: bench'
}

# syscalls PROXY CONNS -> system calls per request over a 3 s run (perf's
# raw_syscalls tracepoint on the proxy's processes), or "-" without perf.
syscalls() {
    BENCH_WRK_PREFIX="${PIN_LOAD[*]}" bench_syscalls_per_req "${PID[$1]}" "$2" 3 \
        "$work/wrk.log" "$1" "http://127.0.0.1:${PORT[$1]}/1k.html" -H 'Host: bench'
}

PROXIES="ours haproxy nginx"
bench_load start
for s in $PROXIES; do start_proxy "$s"; done
printf 'bench: backends on %s and %s' "${PORT[b1]}" "${PORT[b2]}"
for s in $PROXIES; do printf '; %s pid %s port %s' "$s" "${PID[$s]}" "${PORT[$s]}"; done
printf '\nbench: wrk -t1 -d%ss --latency, 1 KiB page, %s rounds, median shown; pinned: %s\n' \
    "$DURATION" "$ROUNDS" "$([ ${#PIN_PROXY[@]} -gt 0 ] && echo 'proxy CPU 0, load CPU 1' || echo no)"

for conns in $CONNS_LIST; do
    declare -A RPS=() CPU=()
    bench_acc_reset
    printf '\nc=%s\n%-8s %10s %9s %10s %9s %7s\n' "$conns" proxy 'req/s' 'p99 ms' 'cpu us/req' \
        'sys/req' errors
    for ((i = 1; i <= ROUNDS; i++)); do
        for s in $PROXIES; do bench_acc_add "$s" "$(run_wrk "$s" "$conns")"; done
    done
    for s in $PROXIES; do
        read -r rps p99 cpu err <<<"$(bench_acc_median "$s")"
        RPS[$s]=$rps CPU[$s]=$cpu
        printf '%-8s %10s %9s %10s %9s %7s\n' "$s" "$rps" "$p99" "$cpu" \
            "$(syscalls "$s" "$conns")" "$err"
    done
    printf 'ours/haproxy req/s %s, cpu/req %s; ours/nginx req/s %s, cpu/req %s\n' \
        "$(bench_ratio "${RPS[ours]}" "${RPS[haproxy]}")" "$(bench_ratio "${CPU[ours]}" "${CPU[haproxy]}")" \
        "$(bench_ratio "${RPS[ours]}" "${RPS[nginx]}")" "$(bench_ratio "${CPU[ours]}" "${CPU[nginx]}")"
done
bench_load end
# shellcheck disable=SC2086  # PROXIES is a list
bench_warn_dead PID $PROXIES b1 b2
exit 0
