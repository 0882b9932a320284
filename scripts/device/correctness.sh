#!/usr/bin/env bash
# Correctness on a GPU machine: random sweeps of every variant, compute-sanitizer
# on ragged shapes, and `tileattn run` cross-checked against torch SDPA.
# Usage (from the repo root, after `cargo build --release`): OUT=dir scripts/device/correctness.sh
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
mkdir -p "$OUT"
RAGGED="1,2,1,1,1;1,2,1,97,97;1,1,1,1025,1025;1,2,1,97,1025;1,2,1,1025,97;2,4,2,97,33"

{
  echo "## tileattn info"; $B info
  echo; echo "## check v1 (1000 cases per variant)"; SECONDS=0
  timeout 380 $B check --family v1 --cases 1000 --seed 12; echo "exit $? after ${SECONDS}s"
  echo; echo "## check v0 (300 cases per variant)"; SECONDS=0
  timeout 190 $B check --family v0 --cases 300 --seed 11; echo "exit $? after ${SECONDS}s"
} 2>&1 | grep -v "cases, .* elapsed" > "$OUT/check.txt" &
CHECK=$!

sanitize() { # tool family args...
  local tool=$1; shift
  echo "## compute-sanitizer --tool $tool $B check $*"
  timeout 500 compute-sanitizer --tool "$tool" "$B" check "$@" 2>&1 | grep -v "cases, .* elapsed" | tail -45
  echo "exit ${PIPESTATUS[0]}"
}
{
  sanitize memcheck --family v0 --cases 5 --max-seqlen 300 --seed 5
  sanitize racecheck --family v0 --cases 5 --max-seqlen 300 --seed 5
} > "$OUT/sanitize_v0.txt" 2>&1 &
for tool in memcheck racecheck synccheck; do
  sanitize "$tool" --family v1 --shapes "$RAGGED" > "$OUT/sanitize_v1_$tool.txt" 2>&1 &
done
python3 scripts/torch_run_compare.py "$B" "$OUT/run_compare" > "$OUT/torch_run_compare.txt" 2>&1
echo "torch compare exit $?" >> "$OUT/torch_run_compare.txt"
wait
grep -h -E "passed, .* failed|ERROR SUMMARY|^exit|^## " "$OUT"/*.txt
cat "$OUT/torch_run_compare.txt"
