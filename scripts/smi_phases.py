#!/usr/bin/env python3
"""Summarise an nvidia-smi trace per phase of a device call: power, SM clock,
temperature and the clock event reasons seen while each phase ran.

Usage: python3 scripts/smi_phases.py TRACE.csv PHASES [PHASES ...]

TRACE.csv is `nvidia-smi --query-gpu=timestamp,... --format=csv -lms 100`
output (any of power.draw, power.draw.instant, clocks.sm, temperature.gpu,
clocks_event_reasons.active; the columns are found by their header). Each
PHASES is either a text file of `EPOCH_SECONDS LABEL` lines, each phase
lasting until the next line's time (the last line only ends the phase before
it), or a scripts/sdpa_do_bench.py output, one phase per row (its do_bench
call's start and end).

Mind that power.draw is averaged over the last second on recent GPUs and
drivers: for phases shorter than that, read power.draw.instant.
"""
import csv
import datetime
import json
import statistics
import sys

# The bits of clocks_event_reasons.active (nvidia-smi --help-query-gpu).
REASONS = {0x1: "idle", 0x2: "app_clocks", 0x4: "sw_power_cap", 0x8: "hw_slowdown", 0x10: "sync_boost",
           0x20: "sw_thermal", 0x40: "hw_thermal", 0x80: "hw_power_brake", 0x100: "display_clocks"}
COLUMNS = {"power.draw [W]": "power", "power.draw.instant [W]": "instant",
           "clocks.current.sm [MHz]": "clock", "temperature.gpu": "temp",
           "clocks_event_reasons.active": "reasons"}


def number(text):
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None  # [N/A], [Not Supported]


def read_trace(path):
    with open(path) as f:
        rows = list(csv.reader(f, skipinitialspace=True))
    names = [COLUMNS.get(h.strip()) for h in rows[0]]
    out = []
    for row in rows[1:]:
        if len(row) != len(names):
            continue  # a line cut off when the trace was stopped
        t = datetime.datetime.strptime(row[0].strip(), "%Y/%m/%d %H:%M:%S.%f").timestamp()
        sample = {"t": t}
        for name, text in zip(names[1:], row[1:]):
            if name == "reasons":
                sample[name] = int(text, 16) if text.strip().startswith("0x") else 0
            elif name:
                sample[name] = number(text)
        out.append(sample)
    return out


def read_phases(path):
    if path.endswith(".json"):
        with open(path) as f:
            rows = json.load(f)["rows"]
        return [(f"do_bench {r['backend']} B={r['B']} H={r['H']} S={r['S']} D={r['D']}"
                 f"{' causal' if r['causal'] else ''}", r["t_start"], r["t_end"]) for r in rows]
    marks = []
    with open(path) as f:
        for line in f:
            t, _, label = line.strip().partition(" ")
            try:
                marks.append((float(t), label))
            except ValueError:
                continue
    return [(label, t, end) for (t, label), (end, _) in zip(marks, marks[1:])]


def summary(label, start, end, trace):
    inside = [s for s in trace if start <= s["t"] < end]
    if not inside:
        return f"{label[:58]:<58} no trace samples"

    def stat(key, how):
        xs = [s[key] for s in inside if s.get(key) is not None]
        return f"{how(xs):.0f}" if xs else "-"

    reasons = 0
    for s in inside:
        reasons |= s.get("reasons", 0)
    names = ",".join(n for bit, n in REASONS.items() if reasons & bit) or "-"
    span = min(end, inside[-1]["t"]) - start
    return (f"{label[:58]:<58} {span:>6.1f} {len(inside):>4} {stat('power', statistics.median):>6} "
            f"{stat('power', max):>6} {stat('instant', statistics.median):>6} {stat('instant', max):>6} "
            f"{stat('clock', statistics.median):>6} {stat('clock', min):>6} {stat('temp', max):>5}  {names}")


def main():
    trace = read_trace(sys.argv[1])
    print(f"{'phase':<58} {'s':>6} {'n':>4} {'P med':>6} {'P max':>6} {'Pi med':>6} {'Pi max':>6} "
          f"{'clk md':>6} {'clk mn':>6} {'T max':>5}  clock event reasons")
    for path in sys.argv[2:]:
        for label, start, end in read_phases(path):
            print(summary(label, start, end, trace))


if __name__ == "__main__":
    main()
