#!/usr/bin/env bash
# Correctness on a GPU machine: random sweeps of every variant, compute-sanitizer
# on ragged shapes, and `tileattn run` cross-checked against torch SDPA.
# Usage (from the repo root, after `cargo build --release`): OUT=dir scripts/device/correctness.sh
# Each part is bounded so the whole script ends inside a 10-minute device call;
# `check` prints each variant's verdict as it finishes, so a bound cut short
# still leaves the verdicts it reached.
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
V1_CASES=${V1_CASES:-1000}
V0_CASES=${V0_CASES:-300}
mkdir -p "$OUT"
RAGGED="1,2,1,1,1;1,2,1,97,97;1,1,1,1025,1025;1,2,1,97,1025;1,2,1,1025,97;2,4,2,97,33"

{
  echo "## tileattn info"; $B info
  echo; echo "## tileattn check --family v1 --cases $V1_CASES --seed 12"; SECONDS=0
  timeout 400 $B check --family v1 --cases "$V1_CASES" --seed 12; echo "exit $? after ${SECONDS}s"
  echo; echo "## tileattn check --family v0 --cases $V0_CASES --seed 11"; SECONDS=0
  timeout 170 $B check --family v0 --cases "$V0_CASES" --seed 11; echo "exit $? after ${SECONDS}s"
} > "$OUT/check.txt" 2>&1 &

# Sanitizers track launches from one host thread best: --workers 1.
sanitize() { # tool args...
  local tool=$1; shift
  echo "## compute-sanitizer --tool $tool $B check --workers 1 $*"
  SECONDS=0
  timeout 540 compute-sanitizer --tool "$tool" "$B" check --workers 1 "$@" 2>&1 | tail -45
  echo "exit ${PIPESTATUS[0]} after ${SECONDS}s"
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
rm -rf "$OUT/run_compare"
wait
grep -h -E "passed, .* failed|ERROR SUMMARY|^exit|^## |FAIL" "$OUT"/*.txt
cat "$OUT/torch_run_compare.txt"
