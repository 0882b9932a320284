#!/usr/bin/env bash
# A kernel change judged on the GPU in one call: the new build's correctness
# on random shapes, then the fa2 suite timed with the old and the new binary
# alternately (old, new, old, new), each on the same variants (one tuning
# cache per build, naming the same winners), so `tileattn ratchet
# --allow-kernel-change` compares the kernels and not the tuner.
# Usage (repo root): OUT=dir scripts/device/ab_fa2.sh DIR
#   DIR holds tileattn-old, tileattn-new, tune-cache-old.json, tune-cache-new.json.
set -uo pipefail
D=$1
OUT=${OUT:-out}
R="$OUT/r"
mkdir -p "$R"
SECONDS=0
timeout 120 "$D/tileattn-new" check --family v2 --cases 30 --seed 31 > "$R/check-new-v2-30.txt" 2>&1
echo "check exit $? after ${SECONDS}s"; tail -1 "$R/check-new-v2-30.txt"
for run in old1 new1 old2 new2; do
  b=${run%?}
  cp "$D/tune-cache-$b.json" "/tmp/cache-$run.json"
  SECONDS=0
  mkdir -p "$R/$run"
  timeout 100 "$D/tileattn-$b" bench --suite fa2 --no-ceilings --cache "/tmp/cache-$run.json" --out "$R/$run" > "$R/$run/bench.log" 2>&1
  echo "bench $run exit $? after ${SECONDS}s"
  rm -f "$R/$run"/*.svg
  tar czf "$OUT/results.tgz" -C "$R" .
done
