#!/usr/bin/env bash
# fp16 against bf16, and fp16 on bf16 values (suites/dtype-parity-grid.toml:
# the same numbers in both dtypes), tuned over all families on the plain
# parity shapes, with torch's FLASH as the control and a power and clock
# trace; then a 1000-case random sweep of kernel v3. One archive.
# Usage (repo root, after `cargo build --release`): OUT=dir scripts/device/parity_grid.sh
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
R="$OUT/r"
mkdir -p "$R/grid"
pack() { tar czf "$OUT/results.tgz" -C "$R" .; }
nvidia-smi --query-gpu=timestamp,power.draw,clocks.sm,temperature.gpu,clocks_event_reasons.active \
  --format=csv -lms 200 > "$R/grid/smi.csv" 2>&1 &
smi=$!
SECONDS=0
timeout 130 $B tune --suite-file suites/dtype-parity.toml --warmup-ms 200 --warmup-max-ms 1000 \
  --cache "$R/grid/tune-cache.json" > "$R/grid/tune.txt" 2>&1
echo "tune exit $? after ${SECONDS}s"
SECONDS=0
timeout 200 $B bench --suite-file suites/dtype-parity-grid.toml --compare torch --backends flash \
  --cache "$R/grid/tune-cache.json" --out "$R/grid" > "$R/grid/bench.log" 2>&1
echo "grid exit $? after ${SECONDS}s"
kill "$smi" 2> /dev/null
rm -f "$R/grid"/*.svg
pack
SECONDS=0
timeout 170 $B check --family v3 --cases 1000 --seed 61 > "$R/check-v3-1000.txt" 2>&1
echo "check exit $? after ${SECONDS}s"; tail -1 "$R/check-v3-1000.txt"
pack
