#!/usr/bin/env bash
# The committed suites again under the sustained-load protocol (v2), each with
# its do_bench cross-check (scripts/device/suite.sh), from one tuning cache so
# the run times the kernels, not the tuner; packed into one archive (the
# device tool returns at most 8 files).
# Usage (repo root, after `cargo build --release`):
#   OUT=dir scripts/device/protocol_suites.sh "SUITE:BACKENDS:TIMEOUT_S ..."
# e.g. "fa2:flash,cudnn:200 seed:flash,cudnn,efficient,math:150".
set -uo pipefail
OUT=${OUT:-out}
R="$OUT/r"
mkdir -p "$R"
export TILEATTN_TUNE_CACHE="$R/tune-cache.json"
cp results/h200/v2/tune-cache.json "$TILEATTN_TUNE_CACHE"
nvidia-smi --query-gpu=timestamp,power.draw,clocks.sm,temperature.gpu,clocks_event_reasons.active \
  --format=csv -lms 200 > "$R/smi.csv" 2>&1 &
smi=$!
for spec in $1; do
  IFS=: read -r suite backends limit <<< "$spec"
  OUT="$R" bash scripts/device/suite.sh "$suite" "$backends" "$limit"
  rm -f "$R/$suite"/*.svg # redrawn here from the run file by `tileattn plot`
  tar czf "$OUT/results.tgz" -C "$R" .
done
kill "$smi" 2> /dev/null
tar czf "$OUT/results.tgz" -C "$R" .
