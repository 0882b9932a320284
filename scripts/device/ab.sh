#!/usr/bin/env bash
# Benchmarks of one suite alternated between two or more (binary, tuning
# cache) pairs, round after round in the order given, so slow drifts of the
# GPU's clock fall on every pair alike. With two binaries and caches naming
# the same winners it compares kernels (judge with `tileattn ratchet
# --allow-kernel-change`); with one binary and two caches, tuners; with one
# cache twice, the run-to-run drift (`tileattn ratchet --calibrate`).
# Ceilings are skipped; figures are left out (redraw with `tileattn plot`).
# Usage (repo root):
#   OUT=dir scripts/device/ab.sh SUITE ROUNDS LIMIT_S LABEL=BINARY:CACHE LABEL=BINARY:CACHE...
#   e.g. scripts/device/ab.sh fa2 2 100 old=old/tileattn:old.json new=target/release/tileattn:new.json
# SUITE is a built-in suite or a suite file (*.toml); LIMIT_S bounds each bench.
# Writes $R/LABEL-ROUND/ (run file, report, bench.log). A bench never writes
# to the cache it was given: each uses a copy.
. scripts/device/lib.sh
suite=$1 rounds=$2 limit=$3
shift 3
case $suite in
  *.toml) select=(--suite-file "$suite") ;;
  *) select=(--suite "$suite") ;;
esac
for round in $(seq "$rounds"); do
  for pair in "$@"; do
    label=${pair%%=*} spec=${pair#*=}
    binary=${spec%%:*} cache=${spec#*:}
    run="$label-$round"
    mkdir -p "$R/$run"
    cp "$cache" "$R/$run/tune-cache.json"
    SECONDS=0
    timeout "$limit" "$binary" bench "${select[@]}" --no-ceilings --cache "$R/$run/tune-cache.json" \
      --out "$R/$run" > "$R/$run/bench.log" 2>&1
    echo "bench $run exit $? after ${SECONDS}s"
    rm -f "$R/$run"/*.svg
    pack
  done
done
