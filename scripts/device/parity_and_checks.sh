#!/usr/bin/env bash
# fp16/bf16 parity with the tuning redone under the sustained-load protocol
# (a fresh cache: v2 variants, the bench's 200 ms–1 s warm-up), torch's
# FLASH as the control; then racecheck on two v2 variants and a v2 sweep at
# the default sequence lengths (to 1024). One archive (the device tool
# returns at most 8 files).
# Usage (repo root, after `cargo build --release`): OUT=dir scripts/device/parity_and_checks.sh
. scripts/device/lib.sh
mkdir -p "$R/parity"
start_trace "$R/parity/smi.csv" 200 timestamp,power.draw,power.draw.instant,clocks.sm,temperature.gpu,clocks_event_reasons.active
SECONDS=0
timeout 150 $B tune --suite-file suites/dtype-parity.toml --family v2 --warmup-ms 200 --warmup-max-ms 1000 \
  --cache "$R/parity/tune-cache.json" > "$R/parity/tune.txt" 2>&1
echo "tune exit $? after ${SECONDS}s"
SECONDS=0
timeout 150 $B bench --suite-file suites/dtype-parity.toml --compare torch --backends flash \
  --cache "$R/parity/tune-cache.json" --out "$R/parity" > "$R/parity/bench.log" 2>&1
echo "parity exit $? after ${SECONDS}s"
stop_trace
rm -f "$R/parity"/*.svg
pack
SECONDS=0
for v in attn_fwd_v2_d128_bf16_bm128_bn128_w8_s2_causal attn_fwd_v2_d64_f16_bm64_bn128_w4_s2_noncausal; do
  timeout 90 compute-sanitizer --tool racecheck $B check --workers 1 --variant $v \
    --shapes "1,2,1,97,1025;1,2,1,1025,97;2,4,2,129,33" > "$R/racecheck-$v.txt" 2>&1
  echo "racecheck $v exit $?"; tail -2 "$R/racecheck-$v.txt"
done
echo "racecheck after ${SECONDS}s"
pack
SECONDS=0
timeout 150 $B check --family v2 --cases 200 --seed 41 > "$R/check-v2-200.txt" 2>&1
echo "check exit $? after ${SECONDS}s"; tail -1 "$R/check-v2-200.txt"
pack
