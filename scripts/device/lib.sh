# Sourced by the device scripts (`. scripts/device/lib.sh` from the repository
# root): the binary, the output folders, packing, and the power and clock
# trace. Sets B (the tileattn binary: $TILEATTN, else the release build), OUT
# (the device tool's output folder, else ./out) and R ("$OUT/r", created).
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
R="$OUT/r"
mkdir -p "$R"

# The device tool returns at most 8 files: everything under $R goes back as
# one archive, rewritten after each part so a call cut short returns what ran.
pack() { tar czf "$OUT/results.tgz" -C "$R" .; }

# start_trace FILE MS [FIELDS]: nvidia-smi's power, SM clock, temperature and
# clock-event reasons (or FIELDS) every MS milliseconds into FILE, until
# stop_trace.
start_trace() {
  nvidia-smi --query-gpu="${3:-timestamp,power.draw,clocks.sm,temperature.gpu,clocks_event_reasons.active}" \
    --format=csv -lms "$2" > "$1" 2>&1 &
  trace_pid=$!
}
stop_trace() { kill "$trace_pid" 2> /dev/null; }

# sweep FILE LIMIT_S CHECK_ARGS...: `tileattn check CHECK_ARGS` into $R/FILE,
# bounded by LIMIT_S seconds; echoes its exit status, time and last line,
# then packs.
sweep() {
  local file=$1 limit=$2 start=$EPOCHSECONDS
  shift 2
  timeout "$limit" $B check "$@" > "$R/$file" 2>&1
  echo "$file exit $? after $((EPOCHSECONDS - start))s"
  tail -1 "$R/$file"
  pack
}
