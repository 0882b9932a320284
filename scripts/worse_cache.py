#!/usr/bin/env python3
"""Rewrite a tuning cache so every entry dispatches to a slower valid variant.

    scripts/worse_cache.py IN OUT [--candidates FILE]

For the ratchet's GPU demonstration: `tileattn bench --cache OUT` then runs
tileattn with deliberately worse variants, and `tileattn ratchet` against a
normal run must say "regressed". The product gains no flag for it.

A replacement is always a variant the autotuner verified and timed on the
entry's own problem, so the bench still passes its correctness check:
- with --candidates (a `tileattn tune --json` output, or a run file whose
  `tuning` records list every candidate, as `tileattn bench` writes when it
  tunes), the slowest timed candidate at most MAX_SLOWDOWN times the winner
  (a clear regression, without making the bench crawl);
- otherwise the entry's runner-up (often only a few percent slower).
An entry with neither is left alone and reported on stderr.

The new entry names the slower variant as winner with its measured median
(CI collapsed onto it) and the old winner as runner-up, which keeps every
invariant `TuneCache::load` checks. OUT must differ from IN: the real cache is
never touched.
"""

import argparse
import json
import os
import sys
import tempfile

MAX_SLOWDOWN = 2.0

PROBLEM_FIELDS = (
    "batch",
    "heads_q",
    "heads_kv",
    "seqlen_q",
    "seqlen_k",
    "head_dim",
    "dtype",
    "causal",
)


def problem_key(p):
    return tuple(p[f] for f in PROBLEM_FIELDS)


def timed_candidates(doc):
    """{problem key: [(variant, median_ms)]} of every timed candidate in `doc`."""
    out = {}
    if isinstance(doc, dict):
        # A run file: TuningRecord {problem, candidates: [{variant, status, median_ms}]}.
        for rec in doc.get("tuning", []):
            out.setdefault(problem_key(rec["problem"]), []).extend(
                (c["variant"], c["median_ms"])
                for c in rec["candidates"]
                if c["status"] == "timed" and c.get("median_ms")
            )
    elif isinstance(doc, list):
        # `tileattn tune --json`: Tuned {problem, candidates: [{variant, outcome}]}.
        for t in doc:
            for c in t["candidates"]:
                o = c["outcome"]
                if o.get("status") == "timed":
                    out.setdefault(problem_key(t["problem"]), []).append(
                        (c["variant"], o["measurement"]["summary"]["median_ms"])
                    )
    return out


def worse(entry, candidates):
    """(variant, median_ms) slower than the entry's winner, or None."""
    w = entry["winner"]
    slower = [
        (v, ms)
        for v, ms in candidates.get(problem_key(entry["tuned_on"]), [])
        if v != w["variant"] and w["median_ms"] < ms <= MAX_SLOWDOWN * w["median_ms"]
    ]
    if slower:
        return max(slower, key=lambda c: c[1])
    r = entry.get("runner_up")
    if r and r["variant"] != w["variant"]:
        return r["variant"], r["median_ms"]
    return None


def rewrite(cache, candidates, log):
    """The cache with every entry it can change pointed at a slower variant."""
    for section in cache["sections"]:
        for e in section["entries"]:
            w = e["winner"]
            pick = worse(e, candidates)
            if pick is None:
                log(f"kept {w['variant']}: no slower verified variant known")
                continue
            variant, ms = pick
            e["runner_up"] = {
                "variant": w["variant"],
                "median_ms": w["median_ms"],
                "distinguishable": True,
            }
            e["winner"] = {
                "variant": variant,
                "median_ms": ms,
                "ci_low_ms": ms,
                "ci_high_ms": ms,
            }
            log(f"{w['variant']} -> {variant} ({ms / w['median_ms']:.3f}x)")
    return cache


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--candidates", help="tune --json output or a run file with tuning records")
    a = ap.parse_args()
    if os.path.abspath(a.input) == os.path.abspath(a.output):
        sys.exit("worse_cache.py: OUT must differ from IN (the real cache is never rewritten)")
    with open(a.input) as f:
        cache = json.load(f)
    if cache.get("schema_version") != 1:
        sys.exit(f"worse_cache.py: {a.input}: tuning cache schema {cache.get('schema_version')}, expected 1")
    candidates = {}
    if a.candidates:
        with open(a.candidates) as f:
            candidates = timed_candidates(json.load(f))
    out = rewrite(cache, candidates, lambda m: print(m, file=sys.stderr))
    d = os.path.dirname(os.path.abspath(a.output))
    with tempfile.NamedTemporaryFile("w", dir=d, delete=False, suffix=".tmp") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    os.replace(f.name, a.output)


if __name__ == "__main__":
    main()
