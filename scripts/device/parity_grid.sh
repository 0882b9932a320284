#!/usr/bin/env bash
# fp16 against bf16, and fp16 on bf16 values (suites/dtype-parity-grid.toml:
# the same numbers in both dtypes), tuned over all families on the plain
# parity shapes, with torch's FLASH as the control and a power and clock
# trace; then a 1000-case random sweep of kernel v3. One archive.
# Usage (repo root, after `cargo build --release`): OUT=dir scripts/device/parity_grid.sh
. scripts/device/lib.sh
mkdir -p "$R/grid"
start_trace "$R/grid/smi.csv" 200
SECONDS=0
timeout 130 $B tune --suite-file suites/dtype-parity.toml --warmup-ms 200 --warmup-max-ms 1000 \
  --cache "$R/grid/tune-cache.json" > "$R/grid/tune.txt" 2>&1
echo "tune exit $? after ${SECONDS}s"
SECONDS=0
timeout 200 $B bench --suite-file suites/dtype-parity-grid.toml --compare torch --backends flash \
  --cache "$R/grid/tune-cache.json" --out "$R/grid" > "$R/grid/bench.log" 2>&1
echo "grid exit $? after ${SECONDS}s"
stop_trace
rm -f "$R/grid"/*.svg
pack
SECONDS=0
timeout 170 $B check --family v3 --cases 1000 --seed 61 > "$R/check-v3-1000.txt" 2>&1
echo "check exit $? after ${SECONDS}s"; tail -1 "$R/check-v3-1000.txt"
pack
