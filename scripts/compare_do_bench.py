#!/usr/bin/env python3
"""Compare tileattn's own measurements of torch backends (a `tileattn bench`
run file) with triton do_bench medians from the same device call
(scripts/sdpa_do_bench.py): ratio per shape and backend, and whether all lie
within ±10%.

Usage: python3 scripts/compare_do_bench.py RUN.json DO_BENCH.json
"""
import json
import sys


def main():
    run = json.load(open(sys.argv[1]))
    db = json.load(open(sys.argv[2]))
    ref = {(r["B"], r["H"], r["S"], r["D"], r["causal"], r["backend"]): r["ms"] for r in db["rows"]}
    worst, n, bad = 1.0, 0, 0
    print(f"{'problem':<34} {'backend':<10} {'tileattn-protocol ms':>21} {'do_bench ms':>12} {'ratio':>7}")
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
        print(f"{str(k[:5]):<34} {b:<10} {ours:>21.4f} {ref[k]:>12.4f} {r:>7.3f}")
    print(f"{n} pairs, {bad} outside ±10%, worst ratio {worst:.3f}")


if __name__ == "__main__":
    main()
