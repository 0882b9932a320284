#!/usr/bin/env bash
# compute-sanitizer on `tileattn check`, one tool at a time, each bounded:
# the checks a kernel change needs before it is timed (memcheck: out-of-bounds
# and misaligned accesses; racecheck: shared-memory hazards; synccheck:
# barrier misuse). Launches come from one host thread (--workers 1), which
# the sanitizers track best.
# Usage (repo root, after `cargo build --release`):
#   OUT=dir scripts/device/sanitize.sh TOOLS LIMIT_S CHECK_ARGS...
#   e.g. scripts/device/sanitize.sh memcheck,racecheck,synccheck 60 --variant NAME
# TOOLS is a comma-separated list; each writes $R/TOOL.txt (the last 45 lines
# of its report). Without --shapes or --cases in CHECK_ARGS the cases are
# RAGGED: seqlen_q ≠ seqlen_k both ways, lengths one past a tile, and GQA.
. scripts/device/lib.sh
RAGGED="1,2,1,97,1025;1,2,1,1025,97;2,4,2,129,33"
tools=$1 limit=$2
shift 2
args=("$@")
case " $* " in
  *" --shapes "* | *" --cases "*) ;;
  *) args+=(--shapes "$RAGGED") ;;
esac
for tool in ${tools//,/ }; do
  SECONDS=0
  timeout "$limit" compute-sanitizer --tool "$tool" "$B" check --workers 1 "${args[@]}" 2>&1 | tail -45 > "$R/$tool.txt"
  echo "$tool exit ${PIPESTATUS[0]} after ${SECONDS}s"
  tail -2 "$R/$tool.txt"
  pack
done
