#!/usr/bin/env bash
# family_step.sh FAMILY BASE CASES SHAPES...: one kernel family's step on the
# GPU in one call. FAMILY's correctness sweep (CASES random cases per
# variant), racecheck and synccheck on one of its variants over ragged
# shapes, then every SHAPE (`B,Hq,S,D` or `B,Hq,S,D:causal`) tuned with the
# same protocol over FAMILY alone and over BASE alone (the family it is
# measured against) and, with OLD=binary set, over FAMILY alone with the
# previous step's binary, alternating. Everything lands in
# $OUT/results.tgz; the last lines printed are each tuning's winner.
. scripts/device/lib.sh
family=$1 base=$2 cases=$3
shift 3
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv > "$R/gpu.txt"
$B variants --resources > "$R/resources.txt" 2>&1
sweep "check-$family.txt" 150 --family "$family" --cases "$cases"
first=$($B variants --json | python3 -c "import json,sys; print(next(v['name'] for v in json.load(sys.stdin) if v['family']=='$family'))")
for tool in racecheck synccheck; do
  timeout 90 compute-sanitizer --tool $tool $B check --variant "$first" --workers 1 \
    --shapes '1,2,1,77,131;2,4,2,200,65' > "$R/$tool.txt" 2>&1
  echo "$tool exit $?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$R/$tool.txt" | tail -1)"
done
pack
for spec in "$@"; do
  shape=${spec%%:*}; causal=""; [ "$spec" != "$shape" ] && causal=--causal
  for run in "new:$family" "new:$base" ${OLD:+"old:$family"}; do
    who=${run%%:*} fam=${run#*:} bin=$B
    [ "$who" = old ] && bin=$OLD
    f="$R/tune-$who-$fam-${shape//,/_}${causal:+-causal}.txt"
    timeout 100 "$bin" tune --shape "$shape" $causal --family "$fam" --cache "$R/cache-$who.json" > "$f" 2>&1
    echo "tune $who $fam $spec exit $?"
  done
  pack
done
# The summary: each tuning's winner and its row of the table.
for f in "$R"/tune-*.txt; do
  w=$(sed -n 's/^winner \([^ :]*\).*/\1/p' "$f")
  echo "$(basename "$f" .txt): $(grep -F -- "$w" "$f" | grep -v '^winner' | head -1 | tr -s ' ')"
done
