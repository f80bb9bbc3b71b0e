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
CLK_TCK=$(getconf CLK_TCK)

bench_need wrk wrk
bench_need nginx nginx-light
bench_need lighttpd lighttpd
bench_need ab apache2-utils
PATH=$PATH:/usr/sbin
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

work=$(mktemp -d /tmp/wrbench.XXXXXX)
chmod 755 "$work"
declare -A PID PORT
cleanup() {
    local s
    for s in "${!PID[@]}"; do kill "${PID[$s]}" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# --- the documents -----------------------------------------------------------
docroot=$work/docroot
mkdir -p "$docroot"
head -c 1024 /dev/zero | tr '\0' 'a' > "$docroot/1k.html"
head -c 1048576 /dev/urandom > "$docroot/1m.html"
chmod 755 "$docroot"; chmod 644 "$docroot"/*

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
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000000;
    keepalive_timeout 65;
    types { text/html html; }
    default_type application/octet-stream;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server { listen 127.0.0.1:$1; root $docroot; }
}
EOF
    nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" >"$work/nginx.log" 2>&1 &
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
    local s=$1 port f got
    port=$(bench_free_port)
    PORT[$s]=$port
    "start_$s" "$port"
    bench_wait_port "$port" 10 || {
        tail -n 20 "$work/$s"*.log "$work/$s"*.err "$work/$s/error.log" 2>/dev/null
        bench_die "$s did not start on port $port"; }
    for f in 1k.html 1m.html; do
        got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' \
              "http://127.0.0.1:$port/$f")
        [ "$got" = "200 $(stat -c %s "$docroot/$f")" ] ||
            bench_die "$s serves /$f wrong: '$got'"
    done
}

# --- one wrk run -------------------------------------------------------------
# run_wrk SERVER FILE MODE -> "req_per_s p99_ms cpu_us_per_req errors"
run_wrk() {
    local s=$1 f=$2 mode=$3 hdr=() out t0 t1 reqs rps p99 errs
    [ "$mode" = close ] && hdr=(-H 'Connection: close')
    t0=$(bench_cpu_ticks "${PID[$s]}")
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "${hdr[@]}" \
          "http://127.0.0.1:${PORT[$s]}/$f" 2>&1)
    t1=$(bench_cpu_ticks "${PID[$s]}")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    reqs=$(awk '/ requests in / { print $1 }' <<<"$out")
    p99=$(bench_to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    errs=$(awk '/Socket errors:/ { gsub(",", ""); n = $4 + $6 + $8 + $10 }
                /Non-2xx/ { n += $NF } END { print n + 0 }' <<<"$out")
    echo "$s $f $mode: $out" >> "$work/wrk.log"
    awk -v r="${rps:-0}" -v p="${p99:-0}" -v n="${reqs:-0}" -v d=$((t1 - t0)) \
        -v hz="$CLK_TCK" -v e="$errs" \
        'BEGIN { printf "%.0f %.2f %.1f %d\n", r, p, n ? d * 1e6 / hz / n : 0, e }'
}

for s in $SERVERS; do start_server "$s"; done
for s in $SERVERS; do
    printf 'bench: %-8s pid %s port %s\n' "$s" "${PID[$s]}" "${PORT[$s]}"
done
printf 'bench: wrk -t1 -c%s -d%ss --latency, %s rounds, median shown\n' \
    "$CONNS" "$DURATION" "$ROUNDS"
# Other work on the machine skews every figure: say how busy it was.
printf 'bench: %s cores, load average at start %s\n\n' "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"

declare -A RPS P99 CPU ERR
printf '%-5s %-10s %-9s %10s %9s %10s %7s\n' file mode server 'req/s' 'p99 ms' 'cpu us/req' errors
for f in 1k.html 1m.html; do
    for mode in keepalive close; do
        declare -A r_rps=() r_p99=() r_cpu=() r_err=()
        for ((i = 1; i <= ROUNDS; i++)); do
            for s in $SERVERS; do
                read -r a b c d < <(run_wrk "$s" "$f" "$mode")
                r_rps[$s]+="$a "; r_p99[$s]+="$b "; r_cpu[$s]+="$c "
                r_err[$s]=$(( ${r_err[$s]:-0} + d ))
            done
        done
        for s in $SERVERS; do
            # shellcheck disable=SC2086  # the lists are space separated
            RPS[$s]=$(bench_median ${r_rps[$s]}); P99[$s]=$(bench_median ${r_p99[$s]})
            CPU[$s]=$(bench_median ${r_cpu[$s]}); ERR[$s]=${r_err[$s]}
            printf '%-5s %-10s %-9s %10s %9s %10s %7s\n' "${f%.html}" "$mode" "$s" \
                "${RPS[$s]}" "${P99[$s]}" "${CPU[$s]}" "${ERR[$s]}"
        done
        for other in nginx lighttpd; do
            [[ " $SERVERS " == *" ours "* && " $SERVERS " == *" $other "* ]] || continue
            awk -v a="${RPS[ours]}" -v b="${RPS[$other]}" -v o="$other" \
                -v f="${f%.html}" -v m="$mode" \
                'BEGIN { printf "%-5s %-10s ours/%-8s req/s ratio %.2f\n", f, m, o, b ? a / b : 0 }'
        done
    done
done
printf '\nbench: load average at end %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
for s in $SERVERS; do
    kill -0 "${PID[$s]}" 2>/dev/null || echo "bench: WARNING: $s died during the run"
done
exit 0
