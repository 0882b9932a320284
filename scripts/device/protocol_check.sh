#!/usr/bin/env bash
# A check of the timing protocol in one device call: torch's FLASH and cuDNN
# timed by tileattn's protocol (`tileattn bench --compare torch`) and by
# triton.testing.do_bench on a suite file's shapes, with an nvidia-smi power
# and clock trace running throughout. A second bench with a 25 ms warm-up
# (the old protocol's torch warm-up) comes last, for contrast. The default
# suite, suites/protocol-check.toml, holds the shapes where cuDNN disagreed by
# 10–13% on the H200 (results/h200/README.md) and two where both agreed.
# Clocks and GPU settings are left alone. Ends within DEADLINE seconds.
# Usage (repo root, after `cargo build --release`):
#   OUT=dir [CACHE=tune-cache.json] bash scripts/device/protocol_check.sh [SUITE.toml]
# CACHE: the tuning cache to take tileattn's variants from (copied; problems
# it lacks are tuned inside the bench). Writes to $OUT: compare.txt (the
# tables: both benches against do_bench on contiguous and on BSHD inputs),
# warmups.txt (every measurement's warm-up), smi_phases.txt (power, clock and
# clock event reasons per phase, per problem and per do_bench call), and the
# raw material: bench/ and bench-short-warmup/ (run file, report, timestamped
# log), do_bench.json, do_bench_bshd.json, smi_trace.csv, phases.txt.
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
DEADLINE=${DEADLINE:-450} # seconds for everything
SHORT_WARMUP=${SHORT_WARMUP:-1} # 0: skip the contrast bench with a 25 ms warm-up
mkdir -p "$OUT/bench" "$OUT/bench-short-warmup"
SUITE=${1:-suites/protocol-check.toml}
SECONDS=0
export TILEATTN_TUNE_CACHE="$OUT/tune-cache.json"
if [ -n "${CACHE:-}" ]; then cp "$CACHE" "$TILEATTN_TUNE_CACHE"; fi
# The run file a bench wrote into $OUT/$1 (named by the suite), if any.
run_file() { ls "$OUT/$1"/*.json 2> /dev/null | head -n 1; }


phase() { echo "$(date +%s.%N) $*" >> "$OUT/phases.txt"; }
# Each line of stdin with the epoch time it was read, for smi_phases.py.
stamp() { while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done; }
# Seconds left before the deadline, keeping $1 for what follows; at least 10.
left() {
  local n=$((DEADLINE - SECONDS - $1))
  echo $((n > 10 ? n : 10))
}

smi=""
trace() {
  nvidia-smi --query-gpu="$1" --format=csv -lms 100 > "$OUT/smi_trace.csv" 2> "$OUT/smi.err" &
  smi=$!
  sleep 1
  kill -0 "$smi" 2> /dev/null
}
# power.draw is a one-second average on recent drivers; the instant reading shows short bursts.
trace timestamp,power.draw,power.draw.instant,clocks.sm,temperature.gpu,clocks_event_reasons.active ||
  trace timestamp,power.draw,clocks.sm,temperature.gpu,clocks_event_reasons.active ||
  echo "nvidia-smi trace failed: $(cat "$OUT/smi.err")"

phase idle
sleep 3

bench() { # dir timeout extra-args...
  local dir=$1 limit=$2
  shift 2
  phase "bench $dir $*"
  local at=$SECONDS
  timeout "$limit" "$B" bench --suite-file "$SUITE" --compare torch \
    --backends flash,cudnn --no-ceilings --out "$OUT/$dir" "$@" 2>&1 | stamp > "$OUT/$dir/bench.log"
  echo "bench $dir $* exit ${PIPESTATUS[0]} after $((SECONDS - at))s"
}
do_bench() { # output timeout extra-args...
  local out=$1 limit=$2
  shift 2
  phase "do_bench $*"
  local at=$SECONDS shapes
  shapes=$(run_file bench)
  [ -n "$shapes" ] || shapes="$SUITE" # the bench did not finish
  timeout "$limit" python3 scripts/sdpa_do_bench.py "$shapes" flash,cudnn "$@" \
    > "$OUT/$out" 2> "$OUT/$out.err"
  echo "do_bench $* exit $? after $((SECONDS - at))s"
}

bench bench "$(left 160)"
do_bench do_bench.json 60
do_bench do_bench_bshd.json 60 --bshd
[ "$SHORT_WARMUP" = 0 ] || bench bench-short-warmup "$(left 15)" --warmup-ms 25 --warmup-max-ms 25
phase end
sleep 1
if [ -n "$smi" ]; then
  kill "$smi" 2> /dev/null # SIGTERM: background jobs of a script ignore SIGINT
  wait "$smi" 2> /dev/null
fi

{
  for run in bench bench-short-warmup; do
    file=$(run_file "$run")
    [ -n "$file" ] || continue # skipped (SHORT_WARMUP=0) or cut short
    for db in do_bench do_bench_bshd; do
      echo "## $run/$(basename "$file") against $db.json"
      python3 scripts/compare_do_bench.py "$file" "$OUT/$db.json"
      echo
    done
  done
} > "$OUT/compare.txt" 2>&1

python3 - $(run_file bench) $(run_file bench-short-warmup) > "$OUT/warmups.txt" 2>&1 <<'EOF'
import json, os, sys
for path in sys.argv[1:]:
    run = os.path.basename(os.path.dirname(path))
    print(f"## {run}: implementation, problem, median ms, clock MHz, warm-up (ms, samples, settled, clock), batch clocks")
    for m in json.load(open(path))["measurements"]:
        p, w, c = m["problem"], m.get("warmup") or {}, m.get("clock") or {}
        clocks = " ".join(f"{b['clock_mhz']:.0f}" if b["clock_mhz"] else "-" for b in w.get("batches", []))
        print(f"{m['implementation']:<12} B={p['batch']} H={p['heads_q']} S={p['seqlen_q']} D={p['head_dim']}"
              f"{' causal' if p['causal'] else '':<7} {m['summary']['median_ms']:9.4f} {c.get('median_mhz', 0):6.0f}"
              f"  {w.get('ms', 0):6.0f} {w.get('samples', 0):5} {w.get('settled')} {w.get('clock_mhz') or 0:5.0f}  [{clocks}]")
EOF

python3 scripts/smi_phases.py "$OUT/smi_trace.csv" "$OUT/phases.txt" "$OUT/bench/bench.log" \
  "$OUT/do_bench.json" "$OUT/do_bench_bshd.json" "$OUT/bench-short-warmup/bench.log" \
  > "$OUT/smi_phases.txt" 2>&1
grep -h -E "^## |pairs" "$OUT/compare.txt"
echo "total ${SECONDS}s"
