#!/usr/bin/env bash
# One benchmark suite on a GPU machine, both protocols in one call:
# `tileattn bench --compare torch` (tileattn's protocol, with its report and
# figures) and triton do_bench medians of the same torch backends, compared
# shape by shape (the two protocols must agree within ±10%).
# Usage (repo root, after `cargo build --release`):
#   OUT=dir scripts/device/suite.sh SUITE BACKENDS [BENCH_TIMEOUT_S]
# Writes $OUT/SUITE/{SUITE.json,SUITE.md,SUITE-*.svg}, $OUT/SUITE/bench.log,
# $OUT/SUITE/do_bench.json and $OUT/SUITE/do_bench_compare.txt.
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
suite=$1 backends=$2 limit=${3:-400}
dir="$OUT/$suite"
mkdir -p "$dir"
SECONDS=0
timeout "$limit" $B bench --suite "$suite" --compare torch --backends "$backends" --out "$dir" > "$dir/bench.log" 2>&1
echo "bench $suite exit $? after ${SECONDS}s"
SECONDS=0
do_bench_backends=$(echo "$backends" | tr , '\n' | grep -E '^(flash|cudnn|efficient)$' | paste -sd,)
timeout 200 python3 scripts/sdpa_do_bench.py "$suite" "$do_bench_backends" > "$dir/do_bench.json" 2> "$dir/do_bench.err"
echo "do_bench $suite exit $? after ${SECONDS}s"
python3 scripts/compare_do_bench.py "$dir/$suite.json" "$dir/do_bench.json" > "$dir/do_bench_compare.txt" 2>&1
tail -1 "$dir/do_bench_compare.txt"
