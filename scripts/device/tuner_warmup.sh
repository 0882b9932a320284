#!/usr/bin/env bash
# Does the tuner's warm-up change its picks? suites/tuner-warmup.toml tuned
# over v2 with the old candidate warm-up (50–250 ms) and with the bench's
# (the default now, 200–1000 ms), then each cache's picks benched, old, new,
# old, new, with a power and clock trace. One archive.
# Usage (repo root, after `cargo build --release`): OUT=dir scripts/device/tuner_warmup.sh
. scripts/device/lib.sh
S=suites/tuner-warmup.toml
start_trace "$R/smi.csv" 200
SECONDS=0
timeout 60 $B tune --suite-file $S --family v2 --warmup-ms 50 --warmup-max-ms 250 --cache "$R/cache-short.json" > "$R/tune-short.txt" 2>&1
echo "tune short exit $? after ${SECONDS}s"; SECONDS=0
timeout 90 $B tune --suite-file $S --family v2 --cache "$R/cache-settled.json" > "$R/tune-settled.txt" 2>&1
echo "tune settled exit $? after ${SECONDS}s"
for run in short1 settled1 short2 settled2; do
  SECONDS=0
  mkdir -p "$R/$run"
  cp "$R/cache-${run%?}.json" "/tmp/cache-$run.json"
  timeout 45 $B bench --suite-file $S --no-ceilings --cache "/tmp/cache-$run.json" --out "$R/$run" > "$R/$run/bench.log" 2>&1
  echo "bench $run exit $? after ${SECONDS}s"
  rm -f "$R/$run"/*.svg
done
stop_trace
pack
