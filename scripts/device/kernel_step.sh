#!/usr/bin/env bash
# One kernel step on a GPU machine in one call: correctness of a family on
# random shapes, then the listed variants timed at one shape, then the fa2
# suite against torch's FLASH backend (tuning inside the run).
# Usage (repo root, after `cargo build --release`):
#   OUT=dir scripts/device/kernel_step.sh FAMILY CASES "SHAPE" "VARIANT ..." [BENCH_TIMEOUT_S]
# Writes $OUT/{info.txt,check.txt,time.txt,fa2/...}.
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
family=$1 cases=$2 shape=$3 variants=$4 limit=${5:-300}
mkdir -p "$OUT"
SECONDS=0
$B info > "$OUT/info.txt" 2>&1
echo "info exit $? after ${SECONDS}s (includes the PTX JIT)"
SECONDS=0
timeout 240 $B check --family "$family" --cases "$cases" --seed 11 > "$OUT/check.txt" 2>&1
echo "check exit $? after ${SECONDS}s"; tail -3 "$OUT/check.txt"
SECONDS=0
for v in $variants; do
  timeout 60 $B time --shape "$shape" --variant "$v" >> "$OUT/time.txt" 2>&1
  echo "time $v exit $?"
done
grep -E "TFLOP|median" "$OUT/time.txt" | head -40
echo "timing after ${SECONDS}s"
SECONDS=0
mkdir -p "$OUT/fa2"
timeout "$limit" $B bench --suite fa2 --compare torch --backends flash --out "$OUT/fa2" > "$OUT/fa2/bench.log" 2>&1
echo "bench fa2 exit $? after ${SECONDS}s"
tail -5 "$OUT/fa2/bench.log"
