#!/usr/bin/env bash
# The measurement engine on a GPU machine: ceilings against torch's, repeatability,
# hot vs cold, v0's throughput, tuning times, and the fa2-suite tuning cache.
# Logs and JSON go to $OUT.
# Usage (repo root, after `cargo build --release`): OUT=dir scripts/device/timing.sh
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
mkdir -p "$OUT"
export TILEATTN_TUNE_CACHE="$OUT/tune-cache.json"
log() { echo; echo "## $*"; SECONDS=0; timeout 400 "$@"; echo "exit $? after ${SECONDS}s"; }
{
  log $B info --ceilings
  echo; echo "## python3 scripts/torch_ceilings.py"; python3 scripts/torch_ceilings.py
  log $B time --shape 4,16,4096,128 --out "$OUT/time-v1-a.json"
  log $B time --shape 4,16,4096,128 --out "$OUT/time-v1-b.json"
  log $B time --shape 4,16,4096,128 --variant attn_fwd_v0_d128_bf16_bm64_bn64_w4_noncausal --min-samples 5
  log $B time --shape 1,8,512,64 --dtype f16
  log $B time --shape 1,8,512,64 --dtype f16 --hot
  log $B tune --shape 8,16,2048,128 --no-save
  log $B tune --shape 8,16,2048,128 --strategy halving --no-save
} > "$OUT/timing.txt" 2>&1
cat "$OUT/timing.txt"
echo; echo "## $B tune --suite fa2 (exhaustive)"; SECONDS=0
timeout 420 $B tune --suite fa2 --json > "$OUT/tune-fa2-exhaustive.json" 2> "$OUT/tune-fa2-exhaustive.log"
echo "exit $? after ${SECONDS}s"; tail -3 "$OUT/tune-fa2-exhaustive.log"
