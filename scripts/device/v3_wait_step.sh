#!/usr/bin/env bash
# v3 with its P·V wait kept behind the softmax (`wgmma_wait_after`), judged
# in one call: its correctness (a random sweep, synccheck and racecheck on
# one variant, since it adds a warpgroup barrier), then the fa2 suite with
# the old and the new binary on the same v3 variants (the old build's
# tuning cache, and a copy naming the new build), old first;
# then v1's 1000-case sweep (v1's PTX is the same in both builds).
# Usage (repo root): OUT=dir KA=new-binary scripts/device/v3_wait_step.sh OLD_CACHE NEW_CACHE
. scripts/device/lib.sh
K=${KA:?the new binary}
start_trace "$R/smi.csv" 500
SECONDS=0
timeout 60 $K check --family v3 --cases 100 --seed 71 > "$R/check-v3-100.txt" 2>&1
echo "check exit $? after ${SECONDS}s"; tail -1 "$R/check-v3-100.txt"
v=attn_fwd_v3_d128_bf16_bm128_bn128_w8_s3_causal
for tool in synccheck racecheck; do
  SECONDS=0
  timeout 50 compute-sanitizer --tool $tool $K check --workers 1 --variant $v \
    --shapes "1,2,1,97,1025;1,2,1,1025,97;2,4,2,129,33" > "$R/$tool-$v.txt" 2>&1
  echo "$tool exit $? after ${SECONDS}s"; tail -2 "$R/$tool-$v.txt"
done
pack
for run in old new; do
  b=$B cache=$1
  [ $run = new ] && b=$K cache=$2
  cp "$cache" "/tmp/cache-$run.json"
  SECONDS=0
  mkdir -p "$R/bench-$run"
  timeout 100 $b bench --suite fa2 --no-ceilings --cache "/tmp/cache-$run.json" --out "$R/bench-$run" > "$R/bench-$run/bench.log" 2>&1
  echo "bench $run exit $? after ${SECONDS}s"
  rm -f "$R/bench-$run"/*.svg
  pack
done
sweep check-v1-1000.txt 230 --family v1 --cases 1000 --seed 81
stop_trace
pack
