#!/usr/bin/env bash
# The committed suites again under the sustained-load protocol (v2), each with
# its do_bench cross-check (scripts/device/suite.sh), from one tuning cache so
# the run times the kernels, not the tuner; packed into one archive (the
# device tool returns at most 8 files).
# Usage (repo root, after `cargo build --release`):
#   OUT=dir scripts/device/protocol_suites.sh "SUITE:BACKENDS:TIMEOUT_S ..."
# e.g. "fa2:flash,cudnn:200 seed:flash,cudnn,efficient,math:150".
. scripts/device/lib.sh
export TILEATTN_TUNE_CACHE="$R/tune-cache.json"
cp results/h200/v2/tune-cache.json "$TILEATTN_TUNE_CACHE"
start_trace "$R/smi.csv" 200
for spec in $1; do
  IFS=: read -r suite backends limit <<< "$spec"
  OUT="$R" bash scripts/device/suite.sh "$suite" "$backends" "$limit"
  rm -f "$R/$suite"/*.svg # redrawn here from the run file by `tileattn plot`
  pack
done
stop_trace
pack
