#!/usr/bin/env bash
# One benchmark suite on a GPU machine, both protocols in one call:
# `tileattn bench --compare torch` (tileattn's protocol, with its report and
# figures) and triton do_bench medians of the same torch backends, compared
# shape by shape (the two protocols must agree within ±10%).
# SUITE is a built-in suite (seed, fa2, cliff, gqa) or a suite file (*.toml).
# The variants come from the tuning cache ($TILEATTN_TUNE_CACHE, else the
# default cache); a problem without an entry is tuned inside the bench.
# Usage (repo root, after `cargo build --release`):
#   OUT=dir scripts/device/suite.sh SUITE BACKENDS [BENCH_LIMIT_S] [DO_BENCH_LIMIT_S]
# Writes $OUT/NAME/{NAME.json,NAME.md,NAME-*.svg}, $OUT/NAME/bench.log,
# $OUT/NAME/do_bench.json and $OUT/NAME/do_bench_compare.txt, where NAME is
# the suite's name (a file's stem).
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
suite=$1 backends=$2 limit=${3:-400} do_bench_limit=${4:-200}
case $suite in
  *.toml) name=$(basename "$suite" .toml) select=(--suite-file "$suite") ;;
  *) name=$suite select=(--suite "$suite") ;;
esac
dir="$OUT/$name"
mkdir -p "$dir"
SECONDS=0
timeout "$limit" $B bench "${select[@]}" --compare torch --backends "$backends" --out "$dir" > "$dir/bench.log" 2>&1
echo "bench $suite exit $? after ${SECONDS}s"
# The run file names the problems it measured; a suite file's `name` may differ from its stem.
run=$(ls "$dir"/*.json 2> /dev/null | grep -v '/do_bench' | head -n 1)
SECONDS=0
do_bench_backends=$(echo "$backends" | tr , '\n' | grep -E '^(flash|cudnn|efficient)$' | paste -sd,)
timeout "$do_bench_limit" python3 scripts/sdpa_do_bench.py "${run:-$suite}" "$do_bench_backends" > "$dir/do_bench.json" 2> "$dir/do_bench.err"
echo "do_bench $suite exit $? after ${SECONDS}s"
[ -n "$run" ] || { echo "bench wrote no run file: no comparison"; exit 1; }
python3 scripts/compare_do_bench.py "$run" "$dir/do_bench.json" > "$dir/do_bench_compare.txt" 2>&1
tail -1 "$dir/do_bench_compare.txt"
