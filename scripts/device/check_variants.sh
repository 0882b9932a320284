#!/usr/bin/env bash
# The 1000-case GPU sweep of the named variants, one `tileattn check` each,
# appended to one file (for the rest of a family whose sweep ran out of
# time). A variant checked alone draws its cases from SEED itself; in a
# family run the i-th variant draws from SEED + i.
# Usage (repo root, after `cargo build --release`):
#   OUT=dir scripts/device/check_variants.sh FILE SEED LIMIT_S VARIANT...
. scripts/device/lib.sh
file=$1 seed=$2 limit=$3
shift 3
SECONDS=0
for v in "$@"; do
  left=$((limit - SECONDS))
  [ "$left" -gt 0 ] || { echo "out of time before $v"; break; }
  timeout "$left" $B check --variant "$v" --cases 1000 --seed "$seed" >> "$R/$file" 2>&1
  echo "$v exit $? at ${SECONDS}s"
done
tail -1 "$R/$file"
pack
