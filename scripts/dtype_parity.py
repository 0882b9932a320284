#!/usr/bin/env python3
"""fp16 against bf16, shape by shape, from a bench run of suites/dtype-parity.toml.

For tileattn and torch-flash: the ratios fp16/bf16 of the median time, of the
median SM clock during the samples, and of their product (cycles); for tileattn
also whether both dtypes ran the same tile configuration. Markdown on stdout.

Usage: scripts/dtype_parity.py RUN.json
"""
import json
import sys


def main():
    run = json.load(open(sys.argv[1]))
    rows = {}
    for m in run["measurements"]:
        p = m["problem"]
        key = (p["batch"], p["heads_q"], p["seqlen_q"], p["head_dim"], p["causal"])
        clock = (m.get("clock") or {}).get("median_mhz") or float("nan")
        rows.setdefault(key, {})[(m["implementation"], p["dtype"])] = (
            m["summary"]["median_ms"],
            clock,
            m.get("variant") or "",
        )
    print(
        "| problem | tileattn fp16/bf16 time | clocks | cycles | same tiles |"
        " FLASH fp16/bf16 time | clocks | cycles |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for (b, h, s, d, causal), r in rows.items():
        cells = [f"B={b} H={h} S={s} D={d}{' causal' if causal else ''}"]
        for impl in ("tileattn", "torch-flash"):
            f16, bf16 = r.get((impl, "f16")), r.get((impl, "bf16"))
            if not f16 or not bf16:
                cells += ["-"] * (4 if impl == "tileattn" else 3)
                continue
            time, clock = f16[0] / bf16[0], f16[1] / bf16[1]
            cells += [f"{time:.3f}", f"{clock:.3f}", f"{time * clock:.3f}"]
            if impl == "tileattn":
                same = f16[2].replace("_f16_", "_") == bf16[2].replace("_bf16_", "_")
                cells.append("yes" if same else "no")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
