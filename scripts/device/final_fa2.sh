#!/usr/bin/env bash
# The fa2 suite at a final commit: every shape tuned over all families under
# tileattn's tuning protocol into a fresh cache, then `suite.sh fa2` (bench
# with --compare torch and the do_bench cross-check) from that cache, with a
# power and clock trace; one archive (the device tool returns at most 8 files).
# Usage (repo root, after `cargo build --release`): OUT=dir scripts/device/final_fa2.sh [BACKENDS]
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
R="$OUT/r"
mkdir -p "$R"
export TILEATTN_TUNE_CACHE="$R/tune-cache.json"
nvidia-smi --query-gpu=timestamp,power.draw,clocks.sm,temperature.gpu,clocks_event_reasons.active \
  --format=csv -lms 500 > "$R/smi.csv" 2>&1 &
smi=$!
SECONDS=0
timeout 220 $B tune --suite fa2 > "$R/tune.txt" 2>&1
echo "tune exit $? after ${SECONDS}s"
tar czf "$OUT/results.tgz" -C "$R" .
OUT="$R" bash scripts/device/suite.sh fa2 "${1:-flash,cudnn}" 220
rm -f "$R/fa2"/*.svg # redrawn from the run file by `tileattn plot`
kill "$smi" 2> /dev/null
tar czf "$OUT/results.tgz" -C "$R" .
