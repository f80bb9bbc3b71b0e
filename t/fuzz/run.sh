#!/bin/bash
# t/fuzz/run.sh [SECONDS]: build every t/fuzz/fuzz_*.c with libFuzzer, ASan
# and UBSan, and run each for SECONDS (default 60).  Prints one line per
# harness; exits 1 on a build failure or any finding.
#
# A harness names the library sources it needs in a comment, on one line
# (alone, or one line of a longer comment):
#     /* fuzz-sources: src/http_parse.c src/buf.c */
# Seeds come from t/fuzz/corpus/<name>/ and a dictionary from
# t/fuzz/<name>.dict when present.  config.h comes from $WR_BUILDDIR (a
# configured build) or, failing that, an empty one.  Without clang the run
# is skipped, except under CI=true where that is a failure.
#
# WR_FUZZ_BUDGET (seconds, default 900) caps the total: with many harnesses
# each one gets budget / count seconds, never below 30.
set -uo pipefail

per=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
budget=${WR_FUZZ_BUDGET:-900}
cc=${CLANG:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
    if [ -n "${CI:-}" ]; then
        echo "fuzz: FAIL: $cc not found (./bootstrap --test-deps installs it)"
        exit 1
    fi
    echo "fuzz: skipped: $cc not found"
    exit 0
fi

shopt -s nullglob
harnesses=("$top"/t/fuzz/fuzz_*.c)
if [ ${#harnesses[@]} -eq 0 ]; then
    echo "fuzz: no harness under t/fuzz/"
    exit 0
fi
if [ $((per * ${#harnesses[@]})) -gt "$budget" ]; then
    per=$((budget / ${#harnesses[@]}))
    [ "$per" -lt 30 ] && per=30
fi

work=$(mktemp -d /tmp/wrfuzz.XXXXXX)
cfgdir=$work/cfg
mkdir -p "$cfgdir"
if [ -n "${WR_BUILDDIR:-}" ] && [ -f "$WR_BUILDDIR/config.h" ]; then
    cp "$WR_BUILDDIR/config.h" "$cfgdir/"
else
    : > "$cfgdir/config.h"
fi

# Sources listed after "fuzz-sources:" (first such line, up to an optional
# "*/"), relative to $top.  The line may sit inside a longer comment.
fuzz_sources() {
    sed -n '/fuzz-sources:/{s/.*fuzz-sources://; s|\*/.*||; p; q;}' "$1"
}

build_one() {   # harness.c output-binary logfile
    local src srcs=()
    for src in $(fuzz_sources "$1"); do
        srcs+=("$top/$src")
    done
    "$cc" -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$cfgdir" -I"$top/src" "$1" "${srcs[@]}" -o "$2" \
        $(pkg-config --libs sqlite3 2>/dev/null) -lcrypt -lm >"$3" 2>&1
}

run_one() {     # name binary logfile
    local corpus=$work/corpus/$1 seeds=$top/t/fuzz/corpus/$1 args=()
    mkdir -p "$corpus" "$work/artifacts"
    [ -d "$seeds" ] && args+=("$seeds")
    [ -f "$top/t/fuzz/$1.dict" ] && args=(-dict="$top/t/fuzz/$1.dict" "${args[@]}")
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ASAN_OPTIONS=detect_leaks=1 \
        "$2" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/artifacts/$1-" -print_final_stats=1 \
        "$corpus" "${args[@]}" >"$3" 2>&1 </dev/null
}

failed=0
for h in "${harnesses[@]}"; do
    name=$(basename "$h" .c)
    bin=$work/$name log=$work/$name.log
    if ! grep -q 'fuzz-sources:' "$h"; then
        echo "fuzz: $name: FAIL: no /* fuzz-sources: ... */ comment"
        failed=1; continue
    fi
    if ! build_one "$h" "$bin" "$work/$name.build.log"; then
        echo "fuzz: $name: FAIL: build"
        sed 's/^/    /' "$work/$name.build.log" | head -40
        failed=1; continue
    fi
    if run_one "$name" "$bin" "$log"; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        echo "fuzz: $name: ok, ${per}s, ${runs:-?} runs, ${cov:-cov: ?}," \
             "corpus $(ls "$work/corpus/$name" | wc -l) files"
    else
        echo "fuzz: $name: FAIL (exit $?); log and input below"
        { sed -n '/ERROR:\|runtime error\|deadly signal\|timeout after/,/SUMMARY/p' \
              "$log" | head -40
          grep 'Test unit written' "$log"; } | sed 's/^/    /'
        for a in "$work/artifacts/$name-"*; do
            echo "    input $a (base64):"
            head -c 4096 "$a" | base64 | sed 's/^/    /'
        done
        failed=1
    fi
done

if [ "$failed" = 0 ]; then
    rm -rf "$work"
else
    echo "fuzz: work files kept in $work"
fi
exit $failed
