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
