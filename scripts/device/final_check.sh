#!/usr/bin/env bash
# The session's last device call: the ratchet's GPU demonstration (two fa2
# runs of one build from one tuning cache, and one run forced onto slower
# variants), then the timing-protocol check against do_bench. The archive is
# rewritten after each part so that a call cut short still returns what ran.
# Usage (repo root, after `cargo build --release`): OUT=dir scripts/device/final_check.sh
. scripts/device/lib.sh
cp results/h200/v2/tune-cache.json /tmp/tune-cache.json
for run in A B W; do
  cache=/tmp/tune-cache.json
  [ $run = W ] && cache=results/h200/ratchet/tune-cache-worse-v2.json
  SECONDS=0
  mkdir -p "$R/ratchet$run"
  timeout 100 $B bench --suite fa2 --no-ceilings --cache "$cache" --out "$R/ratchet$run" > "$R/ratchet$run/bench.log" 2>&1
  echo "ratchet run $run exit $? after ${SECONDS}s"
  rm -f "$R"/ratchet$run/*.svg
  pack
done
OUT="$R/protocol" DEADLINE=${PROTOCOL_DEADLINE:-200} SHORT_WARMUP=0 bash scripts/device/protocol_check.sh
pack
ls -la "$OUT"
