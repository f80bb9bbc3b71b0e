# t/bench/lib.sh - shell helpers shared by the benchmarks (sourced, bash).
# Benchmarks print figures; they are not pass/fail tests.

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
