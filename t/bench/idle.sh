#!/bin/bash
# t/bench/idle.sh: what idle keep-alive connections cost each reactor back
# end.  `weaprous backend` is built three times (--with-reactor=poll, select,
# epoll; out of tree, in a temporary directory) and nginx with one worker
# (epoll) is the reference.
#
# For each server and each count N of idle connections (0, 1000, 10000),
# t/bench/idle_conns.py opens N keep-alive connections (one request each,
# then silence) and holds them while ROUNDS runs of
# `wrk -t1 -cCONNS -dDURATION --latency` fetch a 1 KiB file.  The table shows
# the median req/s, its ratio to the same server with N = 0, the median p99,
# the server's CPU time per request (utime+stime from /proc) and its ratio to
# N = 0, and how many of the idle connections were still open after the runs.
# On a shared machine req/s swings with the load; CPU per request does not,
# so its ratio is the steadier measure of what the idle connections cost.
#
# select() cannot watch a descriptor >= FD_SETSIZE (1024): its N is capped
# at BENCH_SELECT_MAX (900) and the table says so.  Each server's idle set is
# opened afresh per N and the runs for it are back to back, so they finish
# well inside the 60 s keep-alive timeout of our backend.
#
# Env: WR_SRCDIR (the source tree to build; default: this script's tree,
# which needs ./bootstrap and must not be configured in place),
# BENCH_BIN_POLL / BENCH_BIN_SELECT / BENCH_BIN_EPOLL (use these binaries
# instead of building), BENCH_SERVERS ("poll select epoll nginx"),
# BENCH_IDLE ("0 1000 10000"), BENCH_DURATION (5), BENCH_ROUNDS (3),
# BENCH_CONNS (64), BENCH_SELECT_MAX (900), BENCH_KEEP (set: keep the
# temporary directory with the builds, server logs and wrk outputs).  Installs wrk and nginx-light
# with apt-get when missing (root on Debian).  Exit 0 unless a build or a
# server fails.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-64}
SERVERS=${BENCH_SERVERS:-poll select epoll nginx}
IDLE=${BENCH_IDLE:-0 1000 10000}
SELECT_MAX=${BENCH_SELECT_MAX:-900}
SRCDIR=$(cd "${WR_SRCDIR:-$here/../..}" && pwd)
HOLDER=$here/idle_conns.py

bench_need wrk wrk
bench_need nginx nginx-light
bench_need curl curl
PATH=$PATH:/usr/sbin

# Every idle connection is one descriptor in the holder and one in the
# server: raise the soft limit as far as we may.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -n)

work=$(mktemp -d /tmp/wridle.XXXXXX)
chmod 755 "$work"
declare -A PID PORT BIN
trap 'bench_cleanup PID "$work" "${BENCH_KEEP:-}"' EXIT

docroot=$work/docroot
bench_docroot "$docroot"

# --- the three builds --------------------------------------------------------
# build_ours BACKEND: configure the source tree out of tree with that reactor
# and build only the weaprous binary.
build_ours() {
    local be=$1 dir
    dir=$work/build-$be
    [ -x "$SRCDIR/configure" ] || bench_die "no $SRCDIR/configure: run ./bootstrap there first"
    [ -e "$SRCDIR/config.status" ] &&
        bench_die "$SRCDIR is configured in place; build elsewhere and set BENCH_BIN_*"
    mkdir -p "$dir"
    echo "bench: building weaprous --with-reactor=$be in $dir" >&2
    ( cd "$dir" && "$SRCDIR/configure" -q --with-reactor="$be" >"$dir/configure.out" 2>&1 &&
      make -j"$(nproc)" weaprous >"$dir/make.out" 2>&1 ) || {
        tail -n 20 "$dir/configure.out" "$dir/make.out" 2>/dev/null
        bench_die "build with --with-reactor=$be failed"; }
    BIN[$be]=$dir/weaprous
}

for s in $SERVERS; do
    case $s in
    poll|select|epoll)
        var=BENCH_BIN_${s^^}
        if [ -n "${!var:-}" ]; then BIN[$s]=${!var}; else build_ours "$s"; fi
        [ -x "${BIN[$s]}" ] || bench_die "no executable ${BIN[$s]} for $s" ;;
    nginx) ;;
    *) bench_die "unknown server '$s' (poll, select, epoll, nginx)" ;;
    esac
done

# --- the servers ---------------------------------------------------------------
start_ours() {
    local be=$1 port=$2
    "${BIN[$be]}" backend --server-ip 127.0.0.1 --server-port "$port" \
        --www "$docroot" --static "$docroot" --db "$work/$be.db" \
        >"$work/$be.log" 2>&1 &
    PID[$be]=$!
}

start_nginx() {
    bench_nginx_start "$work/nginx" $((FD_LIMIT - 100)) \
        "$(bench_nginx_static "$2" "$docroot")" "worker_rlimit_nofile $FD_LIMIT;"
    PID[nginx]=$!
}

# Start one server, check it serves the file whole and, for ours, that the
# binary really runs the reactor it is named after.
start_server() {
    local s=$1 port
    port=$(bench_free_port)
    PORT[$s]=$port
    if [ "$s" = nginx ]; then start_nginx "$s" "$port"; else start_ours "$s" "$port"; fi
    bench_started "$s" "$port" "$work/$s.log" "$work/nginx/error.log"
    bench_expect_get "$s serves /1k.html" "http://127.0.0.1:$port/1k.html" 1024
    if [ "$s" != nginx ]; then
        grep -q "reactor $s)" "$work/$s.log" ||
            bench_die "${BIN[$s]} does not say it runs the $s reactor: $(tail -n 1 "$work/$s.log")"
    fi
}

# --- idle connections ----------------------------------------------------------
# hold_start SERVER N: a holder process with N idle connections; sets HELD.
hold_start() {
    local line
    coproc HOLD { exec python3 "$HOLDER" "${PORT[$1]}" "$2" /1k.html 2>>"$work/holder.err"; }
    read -r -t 120 -u "${HOLD[0]}" line || line="ready 0"
    HELD=${line#ready }
}

# hold_stop: ask how many are still open (sets OPEN), then close them all.
hold_stop() {
    local line
    echo check >&"${HOLD[1]}"
    read -r -t 30 -u "${HOLD[0]}" line || line="open ?"
    OPEN=${line#open }
    eval "exec ${HOLD[1]}>&-"
    wait "$HOLD_PID" 2>/dev/null
}

# run_wrk SERVER -> "req_per_s p99_ms cpu_us_per_req errors"
run_wrk() {
    bench_wrk "${PID[$1]}" "$CONNS" "$DURATION" "$work/wrk.log" "$1" \
        "http://127.0.0.1:${PORT[$1]}/1k.html"
}

# measure SERVER N: hold N idle connections, run the rounds, print a row.
declare -A BASE BASECPU RPS USED
measure() {
    local s=$1 n=$2 want=$2 note="" i rps p99 cpu err
    if [ "$s" = select ] && [ "$n" -gt "$SELECT_MAX" ]; then
        # one capped run is enough: a second would measure the same thing
        [ -n "${SELECT_CAPPED:-}" ] && return
        want=$SELECT_MAX; note=" (FD_SETSIZE cap)"; SELECT_CAPPED=1
    fi
    if [ $((want + CONNS + 64)) -gt "$FD_LIMIT" ]; then
        printf '%-7s %7s  skipped: ulimit -n is %s\n' "$s" "$n" "$FD_LIMIT"
        return
    fi
    if ! kill -0 "${PID[$s]}" 2>/dev/null; then
        printf '%-7s %7s  skipped: the server is gone (see %s)\n' "$s" "$want" "$s.log"
        return
    fi
    HELD=0
    [ "$want" -gt 0 ] && hold_start "$s" "$want"
    bench_acc_reset
    for ((i = 1; i <= ROUNDS; i++)); do bench_acc_add "$s" "$(run_wrk "$s")"; done
    OPEN=0
    [ "$want" -gt 0 ] && hold_stop
    kill -0 "${PID[$s]}" 2>/dev/null || note+=" (SERVER DIED)"
    read -r rps p99 cpu err <<<"$(bench_acc_median "$s")"
    RPS[$s,$n]=$rps
    USED[$s,$n]=$want
    [ "$n" = "${IDLE%% *}" ] && { BASE[$s]=$rps; BASECPU[$s]=$cpu; }
    awk -v s="$s" -v n="$want" -v r="$rps" -v base="${BASE[$s]:-0}" \
        -v p="$p99" -v c="$cpu" -v bc="${BASECPU[$s]:-0}" -v e="$err" \
        -v h="$HELD/$OPEN" -v note="$note" \
        'BEGIN { printf "%-7s %7s %9s %7.2f %8s %10s %7.2f %13s %6s%s\n",
                 s, n, r, base ? r / base : 0, p, c, bc ? c / bc : 0, h, e, note }'
}

for s in $SERVERS; do start_server "$s"; done
for s in $SERVERS; do
    printf 'bench: %-7s pid %s port %s %s\n' "$s" "${PID[$s]}" "${PORT[$s]}" "${BIN[$s]:-$(command -v nginx)}"
done
printf 'bench: wrk -t1 -c%s -d%ss --latency on a 1 KiB file, %s rounds, median shown\n' \
    "$CONNS" "$DURATION" "$ROUNDS"
printf 'bench: idle connections %s (select at most %s); ulimit -n %s\n' "$IDLE" "$SELECT_MAX" "$FD_LIMIT"
bench_load start

printf '%-7s %7s %9s %7s %8s %10s %7s %13s %6s\n' server idle 'req/s' 'vs N=0' 'p99 ms' 'cpu us/req' 'vs N=0' \
    'held/at end' errors
for n in $IDLE; do
    for s in $SERVERS; do measure "$s" "$n"; done
done

# ratio_line N S NUM DEN LABEL: "idle N LABEL req/s ratio R" for S at N idle
# connections, saying how many S really held when select's cap cut N.
ratio_line() {
    local n=$1 s=$2 num=${RPS[$3,$1]:-} den=${RPS[$4,$1]:-} note=""
    [[ -n "$num" && -n "$den" ]] || return 0
    [ "${USED[$s,$n]}" != "$n" ] && note=" ($s held ${USED[$s,$n]})"
    printf 'idle %-6s %s req/s ratio %s%s\n' "$n" "$5" "$(bench_ratio "$num" "$den")" "$note"
}

echo
for n in $IDLE; do
    for s in poll select; do ratio_line "$n" "$s" epoll "$s" "$(printf 'epoll/%-6s' "$s")"; done
    for s in poll select epoll; do ratio_line "$n" "$s" "$s" nginx "$(printf '%-6s/nginx ' "$s")"; done
done
[ -s "$work/holder.err" ] && { echo; sed 's/^/bench: holder: /' "$work/holder.err"; }
bench_load end
# shellcheck disable=SC2086  # SERVERS is a list
bench_warn_dead PID $SERVERS
exit 0
