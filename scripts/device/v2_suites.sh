#!/usr/bin/env bash
# The fa2 suite against torch (FLASH, cuDNN) with the do_bench cross-check,
# then the fp16/bf16 parity suite; everything packed into one archive (the
# device tool returns at most 8 files).
# Usage (repo root, after `cargo build --release`): OUT=dir scripts/device/v2_suites.sh
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
R="$OUT/r"
mkdir -p "$R"
nvidia-smi --query-gpu=timestamp,power.draw,clocks.sm,temperature.gpu --format=csv -lms 200 > "$R/smi.csv" 2>/dev/null &
smi=$!
OUT="$R" bash scripts/device/suite.sh fa2 flash,cudnn 360
SECONDS=0
mkdir -p "$R/parity"
timeout 170 $B bench --suite-file suites/dtype-parity.toml --out "$R/parity" > "$R/parity/bench.log" 2>&1
echo "parity exit $? after ${SECONDS}s"
kill $smi
cp ~/.cache/tileattn/tune.json "$R/tune-cache.json" 2>/dev/null
tar czf "$OUT/results.tgz" -C "$R" .
ls -la "$OUT"
