#!/usr/bin/env bash
# Evidence for the v2 kernel in one call: the GPU correctness sweep (1000
# random cases per v2 variant, 100 per v1 variant), compute-sanitizer on one
# v2 variant, the seed suite against torch (with the do_bench cross-check),
# and the fp16/bf16 parity suite with torch's FLASH as the control; packed
# into one archive (the device tool returns at most 8 files).
# Usage (repo root, after `cargo build --release`): OUT=dir scripts/device/v2_evidence.sh
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
R="$OUT/r"
mkdir -p "$R"
SECONDS=0
timeout 200 $B check --family v2 --cases 1000 --max-seqlen 384 --seed 12 > "$R/check-v2-1000.txt" 2>&1
echo "check v2 exit $? after ${SECONDS}s"; tail -1 "$R/check-v2-1000.txt"
SECONDS=0
timeout 90 $B check --family v1 --cases 100 --max-seqlen 384 --seed 13 > "$R/check-v1-100.txt" 2>&1
echo "check v1 exit $? after ${SECONDS}s"; tail -1 "$R/check-v1-100.txt"
SECONDS=0
v=attn_fwd_v2_d128_bf16_bm128_bn128_w8_s2_causal
for tool in memcheck synccheck; do
  timeout 60 compute-sanitizer --tool $tool $B check --workers 1 --variant $v \
    --shapes "1,2,1,97,1025;1,2,1,1025,97;2,4,2,129,33" > "$R/sanitize-$tool.txt" 2>&1
  echo "$tool exit $?"; tail -2 "$R/sanitize-$tool.txt"
done
echo "sanitizers after ${SECONDS}s"
OUT="$R" bash scripts/device/suite.sh seed flash,cudnn 150
SECONDS=0
mkdir -p "$R/parity"
timeout 150 $B bench --suite-file suites/dtype-parity.toml --compare torch --backends flash --out "$R/parity" > "$R/parity/bench.log" 2>&1
echo "parity exit $? after ${SECONDS}s"
tar czf "$OUT/results.tgz" -C "$R" .
ls -la "$OUT"
