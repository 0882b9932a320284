#!/usr/bin/env python3
"""Compare two `tileattn tune --suite ... --json` outputs: does the halving
winner lie within the exhaustive winner's CI? Uses the exhaustive run's own
measurement of the halving winner (exhaustive times every candidate), so both
sides are read from one protocol run.

Usage: python3 scripts/compare_tuning.py EXHAUSTIVE.json HALVING.json
"""
import json
import sys


def timed(result):
    return [c for c in result["candidates"] if c["outcome"]["status"] == "timed"]


def key(result):
    p = result["problem"]
    return (p["batch"], p["heads_q"], p["heads_kv"], p["seqlen_q"], p["seqlen_k"], p["head_dim"], p["dtype"], p["causal"])


def main():
    ex = {key(r): r for r in json.load(open(sys.argv[1]))}
    hv = {key(r): r for r in json.load(open(sys.argv[2]))}
    ok = total = 0
    print(f"{'problem':<44} {'exhaustive winner':<48} {'halving winner':<48} verdict")
    for k, e in ex.items():
        if k not in hv or not timed(e) or not timed(hv[k]):
            continue
        total += 1
        ew = timed(e)[0]
        hw = timed(hv[k])[0]["variant"]
        s = ew["outcome"]["measurement"]["summary"]
        same = hw == ew["variant"]
        m = next((c["outcome"]["measurement"]["summary"]["median_ms"] for c in timed(e) if c["variant"] == hw), None)
        inside = same or (m is not None and s["ci_low_ms"] <= m <= s["ci_high_ms"])
        ok += inside
        verdict = "same" if same else ("within CI" if inside else f"outside CI ({m} vs {s['ci_low_ms']:.4f}-{s['ci_high_ms']:.4f})")
        print(f"{str(k):<44} {ew['variant']:<48} {hw:<48} {verdict}")
    print(f"halving winner within the exhaustive winner's CI: {ok}/{total}")


if __name__ == "__main__":
    main()
