#!/usr/bin/env bash
# The fa2 suite at a final commit: every shape tuned over all families under
# tileattn's tuning protocol into a fresh cache, then `suite.sh fa2` (bench
# with --compare torch and the do_bench cross-check) from that cache, with a
# power and clock trace; one archive (the device tool returns at most 8 files).
# Usage (repo root, after `cargo build --release`): OUT=dir scripts/device/final_fa2.sh [BACKENDS]
. scripts/device/lib.sh
export TILEATTN_TUNE_CACHE="$R/tune-cache.json"
start_trace "$R/smi.csv" 500
SECONDS=0
timeout 330 $B tune --suite fa2 > "$R/tune.txt" 2>&1
echo "tune exit $? after ${SECONDS}s"
pack
OUT="$R" bash scripts/device/suite.sh fa2 "${1:-flash,cudnn}" 220
rm -f "$R/fa2"/*.svg # redrawn from the run file by `tileattn plot`
stop_trace
pack
