#!/bin/bash
# t/bench/fanout.sh - broadcast fan-out of `weaprous peer`: one tracker and
# N = 10, 50, 100 peer processes on loopback in one channel, one of them
# broadcasting.  Prints messages/s sustained, p50/p99 delivery latency
# (send answered -> pushed on each receiver's /events), RSS per peer, CPU
# per message, and the time a peer that missed 10,000 messages takes to
# catch up after a restart (t/bench/fanout.py is the driver; its header
# says how each figure is taken).  Figures, not a pass/fail test.
#   WR_BUILDDIR=_b bash t/bench/fanout.sh [N...]
# Environment: BENCH_ROUNDS (3), BENCH_RATE (50 sends/s in the latency
# rounds), BENCH_PACED (200), BENCH_BURST (2000), BENCH_CATCHUP (10000),
# BENCH_CATCHUP_ROUNDS (1), BENCH_KEEP=1 keeps the logs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
export WR_BUILDDIR=${WR_BUILDDIR:-.}
export WR_SRCDIR=${WR_SRCDIR:-$(cd "$here/../.." && pwd)}
[ -x "$WR_BUILDDIR/weaprous" ] || bench_die "no $WR_BUILDDIR/weaprous (set WR_BUILDDIR)"
[ $# -gt 0 ] || set -- 10 50 100

# Each peer holds a link with every other one: the author's descriptors
# alone are N + its HTTP and /events sockets.
ulimit -n 4096 2>/dev/null || true
[ -n "${BENCH_KEEP:-}" ] && export WR_KEEP_TMP=1
bench_load start
echo "== fan-out: one author broadcasting to N-1 peers, one channel, loopback"
python3 "$here/fanout.py" "$@"
bench_load end
