#!/usr/bin/env bash
# Kernel v3's first GPU call: its correctness (a random sweep to seqlen 1024,
# racecheck on one variant), then the fa2 suite tuned per family (v3 alone,
# v2 alone, so each table compares the variants of one family) and benched
# from each cache, v3 then v2, with a power and clock trace. One archive
# (the device tool returns at most 8 files).
# Usage (repo root, after `cargo build --release`): OUT=dir scripts/device/v3_step.sh
. scripts/device/lib.sh
start_trace "$R/smi.csv" 500
SECONDS=0
timeout 80 $B check --family v3 --cases 100 --seed 51 > "$R/check-v3-100.txt" 2>&1
echo "check exit $? after ${SECONDS}s"; tail -1 "$R/check-v3-100.txt"
SECONDS=0
v=attn_fwd_v3_d128_bf16_bm128_bn128_w8_s3_causal
timeout 60 compute-sanitizer --tool racecheck $B check --workers 1 --variant $v \
  --shapes "1,2,1,97,1025;1,2,1,1025,97;2,4,2,129,33" > "$R/racecheck-$v.txt" 2>&1
echo "racecheck exit $? after ${SECONDS}s"; tail -2 "$R/racecheck-$v.txt"
pack
for f in v3 v2; do
  SECONDS=0
  timeout 110 $B tune --suite fa2 --family $f --cache "$R/tune-cache-$f.json" > "$R/tune-$f.txt" 2>&1
  echo "tune $f exit $? after ${SECONDS}s"
  pack
done
for f in v3 v2; do
  SECONDS=0
  mkdir -p "$R/bench-$f"
  cp "$R/tune-cache-$f.json" "/tmp/cache-$f.json"
  timeout 100 $B bench --suite fa2 --no-ceilings --cache "/tmp/cache-$f.json" --out "$R/bench-$f" > "$R/bench-$f/bench.log" 2>&1
  echo "bench $f exit $? after ${SECONDS}s"
  rm -f "$R/bench-$f"/*.svg
  pack
done
stop_trace
pack
