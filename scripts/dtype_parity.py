#!/usr/bin/env python3
"""fp16 against bf16, shape by shape, from a bench run of suites/dtype-parity.toml
or suites/dtype-parity-grid.toml.

For tileattn and torch-flash: the ratios fp16/bf16 of the median time, of the
median SM clock during the samples, and of their product (cycles); for tileattn
also whether both dtypes ran the same tile configuration. When the run also
has fp16 on bf16 values (`operand_values = "bf16"`: the grid suite), the same
ratios of that row to bf16 follow each implementation's fp16/bf16 ones: fp16
computing bf16's numbers, so what is left of the gap is not the operand bits.
Markdown on stdout.

Usage: scripts/dtype_parity.py RUN.json
"""
import json
import sys

# (dtype, operand values) of the rows compared: bf16, fp16, fp16 on bf16 values.
BF16 = ("bf16", "dtype")
F16 = ("f16", "dtype")
F16_ON_BF16 = ("f16", "bf16")


def ratio_cells(num, den, impl):
    """time, clock and cycle ratios num/den; for tileattn also `same tiles`."""
    width = 4 if impl == "tileattn" else 3
    if not num or not den:
        return ["-"] * width
    time, clock = num[0] / den[0], num[1] / den[1]
    cells = [f"{time:.3f}", f"{clock:.3f}", f"{time * clock:.3f}"]
    if impl == "tileattn":
        same = num[2].replace("_f16_", "_") == den[2].replace("_bf16_", "_")
        cells.append("yes" if same else "no")
    return cells


def main():
    run = json.load(open(sys.argv[1]))
    rows = {}
    for m in run["measurements"]:
        p = m["problem"]
        key = (p["batch"], p["heads_q"], p["seqlen_q"], p["head_dim"], p["causal"])
        clock = (m.get("clock") or {}).get("median_mhz") or float("nan")
        # Run files write operand_values only when it is not the default.
        dtype = (p["dtype"], p.get("operand_values", "dtype"))
        rows.setdefault(key, {})[(m["implementation"], dtype)] = (
            m["summary"]["median_ms"],
            clock,
            m.get("variant") or "",
        )
    grid = any(dtype == F16_ON_BF16 for r in rows.values() for _, dtype in r)
    head = "| problem | tileattn fp16/bf16 time | clocks | cycles | same tiles |"
    rule = "|---|---:|---:|---:|---|"
    if grid:
        head += " tileattn fp16 on bf16 values/bf16 time | clocks | cycles | same tiles |"
        rule += "---:|---:|---:|---|"
    head += " FLASH fp16/bf16 time | clocks | cycles |"
    rule += "---:|---:|---:|"
    if grid:
        head += " FLASH fp16 on bf16 values/bf16 time | clocks | cycles |"
        rule += "---:|---:|---:|"
    print(head)
    print(rule)
    for (b, h, s, d, causal), r in rows.items():
        cells = [f"B={b} H={h} S={s} D={d}{' causal' if causal else ''}"]
        for impl in ("tileattn", "torch-flash"):
            bf16 = r.get((impl, BF16))
            cells += ratio_cells(r.get((impl, F16)), bf16, impl)
            if grid:
                cells += ratio_cells(r.get((impl, F16_ON_BF16)), bf16, impl)
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
