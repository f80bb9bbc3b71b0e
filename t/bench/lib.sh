# t/bench/lib.sh - shell helpers shared by the benchmarks (sourced, bash).
# Benchmarks print figures; they are not pass/fail tests.

# The benchmarks run as root (they install packages): the roles may too.
export WEAPROUS_ALLOW_ROOT=1

bench_die() { echo "bench: $*" >&2; exit 1; }

# bench_need PROGRAM PACKAGE...: install PACKAGEs with apt-get when PROGRAM
# is missing (root on Debian only), else stop with the command to run.
bench_need() {
    local prog=$1; shift
    command -v "$prog" >/dev/null 2>&1 && return 0
    [ -x "/usr/sbin/$prog" ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        if [ -z "${BENCH_APT_UPDATED:-}" ]; then
            DEBIAN_FRONTEND=noninteractive apt-get update -qq
            BENCH_APT_UPDATED=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null ||
            bench_die "apt-get install $* failed"
    else
        bench_die "missing $prog: apt-get install -y $*"
    fi
}

bench_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_wait_port PORT [SECONDS]: 0 once 127.0.0.1:PORT accepts.
bench_wait_port() {
    local port=$1 tries=$(( ${2:-10} * 20 ))
    while [ "$tries" -gt 0 ]; do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
        tries=$((tries - 1))
    done
    return 1
}

# bench_cpu_ticks PID: utime + stime of PID and its direct children (nginx's
# worker is the master's child), in clock ticks.
bench_cpu_ticks() {
    local p total=0 f
    for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
        [ -r "/proc/$p/stat" ] || continue
        # Fields after the ")" of the command name: utime is the 12th, stime
        # the 13th.
        f=$(sed 's/.*) //' "/proc/$p/stat")
        set -- $f
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

# bench_to_ms "1.23ms" | "850.00us" | "1.02s" -> milliseconds (2 decimals).
bench_to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
        else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000;
        printf "%.2f", n }'
}

# bench_median 3 1 2 -> 2 (middle value; lower middle for an even count).
bench_median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# bench_ratio A B -> A / B with 2 decimals (0.00 when B is 0 or empty).
bench_ratio() {
    awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { printf "%.2f", b ? a / b : 0 }'
}

# bench_load WHEN: one line with the load average (Other work on the machine
# skews every figure: say how busy it was).  WHEN is "start" or "end".
bench_load() {
    if [ "$1" = start ]; then
        printf 'bench: %s cores, load average at start %s\n\n' "$(nproc)" \
            "$(cut -d' ' -f1-3 /proc/loadavg)"
    else
        printf '\nbench: load average at end %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    fi
}

# bench_warn_dead PIDS NAME...: a warning for each NAME whose process (in the
# associative array named PIDS) is gone.
bench_warn_dead() {
    local -n pids_=$1; shift
    local s
    for s in "$@"; do
        kill -0 "${pids_[$s]}" 2>/dev/null || echo "bench: WARNING: $s died during the run"
    done
}

# bench_cleanup PIDS WORK [KEEP]: the EXIT trap: kill every process in the
# associative array named PIDS, reap them, remove WORK unless KEEP is set.
bench_cleanup() {
    local -n pids_=$1
    local s
    for s in "${!pids_[@]}"; do kill "${pids_[$s]}" 2>/dev/null; done
    wait 2>/dev/null
    if [ -n "${3:-}" ]; then echo "bench: logs kept in $2" >&2; else rm -rf "$2"; fi
}

# bench_docroot DIR [1m]: DIR with 1k.html (1 KiB of 'a') and, when asked,
# 1m.html (1 MiB of random bytes), readable by a server running as anyone.
bench_docroot() {
    mkdir -p "$1"
    head -c 1024 /dev/zero | tr '\0' 'a' > "$1/1k.html"
    [ "${2:-}" = 1m ] && head -c 1048576 /dev/urandom > "$1/1m.html"
    chmod 755 "$1"; chmod 644 "$1"/*
}

# bench_started NAME PORT LOG...: wait up to 10 s for NAME on PORT, else show
# the tail of the LOGs that exist and stop.
bench_started() {
    local s=$1 port=$2; shift 2
    bench_wait_port "$port" 10 && return 0
    tail -n 20 "$@" 2>/dev/null
    bench_die "$s did not start on port $port"
}

# bench_expect_get WHAT URL SIZE [CURL_ARG...]: stop with "WHAT wrong" unless
# a GET of URL answers 200 with SIZE bytes.
bench_expect_get() {
    local what=$1 url=$2 size=$3 got; shift 3
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "$@" "$url")
    [ "$got" = "200 $size" ] || bench_die "$what wrong: '$got'"
}

# bench_nginx_start DIR WORKER_CONNECTIONS HTTP_BODY [MAIN_EXTRA]: write
# DIR/nginx.conf (one worker, in the foreground, no access log, long
# keep-alive, temporary files under DIR) with HTTP_BODY at the end of the
# http block and MAIN_EXTRA after worker_processes, and start nginx in the
# background; its output goes to DIR.log and the caller takes its pid from $!.
bench_nginx_start() {
    local d=$1 user=""
    mkdir -p "$d/tmp"
    # nginx drops to "nobody" as root, who may not read a docroot under /tmp.
    [ "$(id -u)" = 0 ] && user="user root;"
    cat > "$d/nginx.conf" <<CONF
$user
worker_processes 1;
${4:-}
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections $2; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 65;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
$3
}
CONF
    # shellcheck disable=SC2086  # BENCH_NGINX_PREFIX: a command and its words
    ${BENCH_NGINX_PREFIX:-} nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" >"$d.log" 2>&1 &
}

# bench_nginx_static PORT DOCROOT: the HTTP_BODY of bench_nginx_start for a
# static file server of DOCROOT on 127.0.0.1:PORT.
bench_nginx_static() {
    cat <<CONF
    sendfile on;
    tcp_nopush on;
    types { text/html html; }
    default_type application/octet-stream;
    server { listen 127.0.0.1:$1; root $2; }
CONF
}

# bench_wrk PID CONNS SECONDS LOG LABEL URL [WRK_ARG...] -> one line
# "req_per_s p99_ms cpu_us_per_req errors" for one run of
# `wrk -t1 -cCONNS -dSECONDS --latency WRK_ARG... URL`; the CPU time is that
# of PID and its children (bench_cpu_ticks) over the run, errors are socket
# errors plus non-2xx answers.  wrk's whole output is appended to LOG after
# "LABEL: ".  BENCH_WRK_PREFIX (e.g. "taskset -c 1") runs wrk under it.
bench_wrk() {
    local pid=$1 conns=$2 secs=$3 log=$4 label=$5 url=$6 out t0 t1 reqs rps p99 errs
    shift 6
    t0=$(bench_cpu_ticks "$pid")
    # shellcheck disable=SC2086  # the prefix is a command and its words
    out=$(${BENCH_WRK_PREFIX:-} wrk -t1 -c"$conns" -d"${secs}s" --latency "$@" "$url" 2>&1)
    t1=$(bench_cpu_ticks "$pid")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    reqs=$(awk '/ requests in / { print $1 }' <<<"$out")
    p99=$(bench_to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    errs=$(awk '/Socket errors:/ { gsub(",", ""); n = $4 + $6 + $8 + $10 }
                /Non-2xx/ { n += $NF } END { print n + 0 }' <<<"$out")
    echo "$label: $out" >> "$log"
    awk -v r="${rps:-0}" -v p="${p99:-0}" -v n="${reqs:-0}" -v d=$((t1 - t0)) \
        -v hz="$(getconf CLK_TCK)" -v e="$errs" \
        'BEGIN { printf "%.0f %.2f %.1f %d\n", r, p, n ? d * 1e6 / hz / n : 0, e }'
}

# bench_syscalls_per_req PID CONNS SECONDS LOG LABEL URL [WRK_ARG...] -> the
# system calls of PID and its children per request during one wrk run
# (perf stat on the raw_syscalls:sys_enter tracepoint), 1 decimal; "-"
# when perf cannot count them here.
bench_syscalls_per_req() {
    local pid=$1 conns=$2 secs=$3 log=$4 label=$5 url=$6 out pids perfout perf_pid n reqs
    shift 6
    command -v perf >/dev/null || { echo -; return; }
    # shellcheck disable=SC2046  # a list of pids
    pids=$(echo "$pid" $(pgrep -P "$pid" 2>/dev/null) | tr ' ' ',')
    perfout=$(mktemp)
    perf stat -x, -e raw_syscalls:sys_enter -p "$pids" -o "$perfout" \
        -- sleep $((secs + 1)) >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5
    # shellcheck disable=SC2086  # the prefix is a command and its words
    out=$(${BENCH_WRK_PREFIX:-} wrk -t1 -c"$conns" -d"${secs}s" "$@" "$url" 2>&1)
    wait "$perf_pid"
    echo "$label (syscalls): $out" >> "$log"
    n=$(awk -F, '/raw_syscalls/ { print $1 }' "$perfout")
    rm -f "$perfout"
    reqs=$(awk '/ requests in / { print $1 }' <<<"$out")
    case "$n" in ''|*[!0-9]*) echo -; return ;; esac
    awk -v n="$n" -v r="${reqs:-0}" 'BEGIN { if (r) printf "%.1f\n", n / r; else print "-" }'
}

# Rounds: bench_acc_add KEY "rps p99 cpu errors" (a bench_wrk line) collects
# the runs of KEY; bench_acc_median KEY -> "rps p99 cpu errors" with the
# median of each of the first three and the sum of the errors;
# bench_acc_reset forgets every KEY.
declare -gA BENCH_ACC_RPS=() BENCH_ACC_P99=() BENCH_ACC_CPU=() BENCH_ACC_ERR=()
bench_acc_reset() {
    BENCH_ACC_RPS=(); BENCH_ACC_P99=(); BENCH_ACC_CPU=(); BENCH_ACC_ERR=()
}

bench_acc_add() {
    local a b c d
    read -r a b c d <<<"$2"
    BENCH_ACC_RPS[$1]+="$a "; BENCH_ACC_P99[$1]+="$b "; BENCH_ACC_CPU[$1]+="$c "
    BENCH_ACC_ERR[$1]=$(( ${BENCH_ACC_ERR[$1]:-0} + d ))
}

bench_acc_median() {
    # shellcheck disable=SC2086  # the lists are space separated
    echo "$(bench_median ${BENCH_ACC_RPS[$1]}) $(bench_median ${BENCH_ACC_P99[$1]})" \
         "$(bench_median ${BENCH_ACC_CPU[$1]}) ${BENCH_ACC_ERR[$1]}"
}
