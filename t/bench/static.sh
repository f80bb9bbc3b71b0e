#!/bin/bash
# t/bench/static.sh: static-file throughput of `weaprous backend` against
# nginx (one worker) and lighttpd, on loopback, in one run.
#
# For a 1 KiB and a 1 MiB file, with keep-alive and with `Connection: close`,
# each server gets ROUNDS runs of `wrk -t1 -cCONNS -dDURATION --latency`
# (servers interleaved per round); the table shows the median req/s, the
# median p99 latency, the server's CPU time per request (utime+stime from
# /proc, nginx's worker included) and ours/nginx, ours/lighttpd ratios.
#
# Env: WR_BUILDDIR (where ./weaprous is; default .), BENCH_DURATION (10),
# BENCH_ROUNDS (3), BENCH_CONNS (64), BENCH_SERVERS ("ours nginx lighttpd"),
# BENCH_OURS_ARGS (extra flags for our backend).  Installs wrk, nginx-light,
# lighttpd and apache2-utils with apt-get when missing (root on Debian).
# Exit 0 unless a server fails to start or to serve the files.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-64}
SERVERS=${BENCH_SERVERS:-ours nginx lighttpd}
OURS=${WR_BUILDDIR:-.}/weaprous

bench_need wrk wrk
bench_need nginx nginx-light
bench_need lighttpd lighttpd
bench_need ab apache2-utils
PATH=$PATH:/usr/sbin
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

work=$(mktemp -d /tmp/wrbench.XXXXXX)
chmod 755 "$work"
declare -A PID PORT
trap 'bench_cleanup PID "$work"' EXIT

docroot=$work/docroot
bench_docroot "$docroot" 1m

# --- the servers ----------------------------------------------------------------
start_ours() {
    [ -x "$OURS" ] || bench_die "no $OURS (build first, or set WR_BUILDDIR)"
    # shellcheck disable=SC2086  # BENCH_OURS_ARGS is a list of flags
    "$OURS" backend --server-ip 127.0.0.1 --server-port "$1" \
        --www "$docroot" --static "$docroot" ${BENCH_OURS_ARGS:-} \
        >"$work/ours.log" 2>&1 &
    PID[ours]=$!
}

start_nginx() {
    bench_nginx_start "$work/nginx" 8192 "$(bench_nginx_static "$1" "$docroot")"
    PID[nginx]=$!
}

start_lighttpd() {
    cat > "$work/lighttpd.conf" <<EOF
server.document-root = "$docroot"
server.bind = "127.0.0.1"
server.port = $1
server.errorlog = "$work/lighttpd.err"
server.max-fds = 16384
server.max-connections = 8192
server.max-keep-alive-requests = 10000000
server.max-keep-alive-idle = 65
mimetype.assign = (".html" => "text/html")
EOF
    lighttpd -D -f "$work/lighttpd.conf" >"$work/lighttpd.log" 2>&1 &
    PID[lighttpd]=$!
}

# Start one server and check it serves both files whole.
start_server() {
    local s=$1 port f
    port=$(bench_free_port)
    PORT[$s]=$port
    "start_$s" "$port"
    bench_started "$s" "$port" "$work/$s"*.log "$work/$s"*.err "$work/$s/error.log"
    for f in 1k.html 1m.html; do
        bench_expect_get "$s serves /$f" "http://127.0.0.1:$port/$f" \
            "$(stat -c %s "$docroot/$f")"
    done
}

# run_wrk SERVER FILE MODE -> "req_per_s p99_ms cpu_us_per_req errors"
run_wrk() {
    local hdr=()
    [ "$3" = close ] && hdr=(-H 'Connection: close')
    bench_wrk "${PID[$1]}" "$CONNS" "$DURATION" "$work/wrk.log" "$1 $2 $3" \
        "http://127.0.0.1:${PORT[$1]}/$2" "${hdr[@]}"
}

for s in $SERVERS; do start_server "$s"; done
for s in $SERVERS; do
    printf 'bench: %-8s pid %s port %s\n' "$s" "${PID[$s]}" "${PORT[$s]}"
done
printf 'bench: wrk -t1 -c%s -d%ss --latency, %s rounds, median shown\n' \
    "$CONNS" "$DURATION" "$ROUNDS"
bench_load start

declare -A RPS
printf '%-5s %-10s %-9s %10s %9s %10s %7s\n' file mode server 'req/s' 'p99 ms' 'cpu us/req' errors
for f in 1k.html 1m.html; do
    for mode in keepalive close; do
        bench_acc_reset
        for ((i = 1; i <= ROUNDS; i++)); do
            for s in $SERVERS; do bench_acc_add "$s" "$(run_wrk "$s" "$f" "$mode")"; done
        done
        for s in $SERVERS; do
            read -r rps p99 cpu err <<<"$(bench_acc_median "$s")"
            RPS[$s]=$rps
            printf '%-5s %-10s %-9s %10s %9s %10s %7s\n' "${f%.html}" "$mode" "$s" \
                "$rps" "$p99" "$cpu" "$err"
        done
        for other in nginx lighttpd; do
            [[ " $SERVERS " == *" ours "* && " $SERVERS " == *" $other "* ]] || continue
            printf '%-5s %-10s ours/%-8s req/s ratio %s\n' "${f%.html}" "$mode" "$other" \
                "$(bench_ratio "${RPS[ours]}" "${RPS[$other]}")"
        done
    done
done
bench_load end
# shellcheck disable=SC2086  # SERVERS is a list
bench_warn_dead PID $SERVERS
exit 0
