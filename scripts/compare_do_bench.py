#!/usr/bin/env python3
"""Compare tileattn's own measurements of torch backends (a `tileattn bench`
run file) with triton do_bench medians from the same device call
(scripts/sdpa_do_bench.py): ratio per shape and backend, and whether all lie
within ±10%. Beside each ratio: the median SM clock tileattn's protocol probed
during the samples and how its warm-up ended (settled at a clock, or still
moving at its maximum), where the run file has them.

Usage: python3 scripts/compare_do_bench.py RUN.json DO_BENCH.json
"""
import json
import sys


def warmup_note(m):
    w = m.get("warmup")
    if w is None:
        return "-"
    clock = f" {w['clock_mhz']:.0f} MHz" if w.get("clock_mhz") else ""
    return f"{w['ms']:.0f} ms {'settled' if w['settled'] else 'moving'}{clock}"


def main():
    with open(sys.argv[1]) as f:
        run = json.load(f)
    with open(sys.argv[2]) as f:
        db = json.load(f)
    ref = {(r["B"], r["H"], r["S"], r["D"], r["causal"], r["backend"]): r["ms"] for r in db["rows"]}
    worst, n, bad = 1.0, 0, 0
    print(f"do_bench inputs: {db.get('layout', 'bhsd')}")
    print(f"{'problem':<34} {'backend':<10} {'tileattn-protocol ms':>21} {'do_bench ms':>12} {'ratio':>7} "
          f"{'clock MHz':>10}  warm-up")
    for m in run["measurements"]:
        if not m["implementation"].startswith("torch-") or m["mode"] != "cold":
            continue
        p = m["problem"]
        b = m["implementation"].removeprefix("torch-")
        k = (p["batch"], p["heads_q"], p["seqlen_q"], p["head_dim"], p["causal"], b)
        if k not in ref:
            continue
        ours = m["summary"]["median_ms"]
        r = ours / ref[k]
        n += 1
        bad += abs(r - 1) > 0.10
        worst = max(worst, r, 1 / r)
        clock = f"{m['clock']['median_mhz']:.0f}" if m.get("clock") else "-"
        print(f"{str(k[:5]):<34} {b:<10} {ours:>21.4f} {ref[k]:>12.4f} {r:>7.3f} {clock:>10}  {warmup_note(m)}")
    print(f"{n} pairs, {bad} outside ±10%, worst ratio {worst:.3f}")


if __name__ == "__main__":
    main()
