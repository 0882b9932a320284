#!/usr/bin/env bash
# Two loose ends of the final runs, one call: (1) the tuner's tie at B=2 H=32
# S=8192 D=64 bf16 non-causal (its pick bm128_bn64_w8 against the ratchet
# baseline's bm64_bn128_w4), each timed four times alternately by
# `tileattn time` (the bench's settled warm-up), with a power and clock
# trace; (2) v2's 1000-case sweep at this build.
# Usage (repo root, after `cargo build --release`): OUT=dir scripts/device/tie_and_v2_check.sh
. scripts/device/lib.sh
start_trace "$R/smi.csv" 200
SECONDS=0
for i in 1 2 3 4; do
  for v in attn_fwd_v2_d64_bf16_bm128_bn64_w8_s2_noncausal attn_fwd_v2_d64_bf16_bm64_bn128_w4_s2_noncausal; do
    timeout 90 $B time --shape 2,32,8192,64 --variant $v --json > "$R/tie-$i-$v.json" 2> "$R/tie-$i-$v.err"
    echo "$i $v exit $?"
  done
done
echo "tie after ${SECONDS}s"
stop_trace
pack
sweep check-v2-1000.txt 190 --family v2 --cases 1000 --seed 84
