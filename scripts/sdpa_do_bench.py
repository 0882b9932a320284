#!/usr/bin/env python3
"""triton.testing.do_bench medians of torch SDPA backends on a tileattn suite's
shapes, for checking tileattn's own torch measurements against the protocol of
../shared/anchors (do_bench median, L2 flushed between calls by do_bench,
warmup 25 ms, rep 100 ms, launches back to back; torch.randn inputs).

Usage: python3 scripts/sdpa_do_bench.py fa2|seed|cliff|RUN.json|SUITE.toml [flash,cudnn] [--bshd] > out.json

RUN.json (a tileattn run file) stands for the problems it measured, SUITE.toml
(a `--suite-file` suite; Python 3.11+) for its problems: those with equal
sequence lengths and head counts (do_bench calls is_causal, aligned top-left). --bshd allocates each input as [B, S, H, D] and passes [B, H, S, D]
views of it, the memory layout of tileattn's torch baseline; by default the
inputs are contiguous [B, H, S, D]. Each row carries the wall-clock start and
end (epoch seconds) of its do_bench call, to line it up with an nvidia-smi
trace (scripts/smi_phases.py).
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from triton.testing import do_bench

BACKENDS = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
            "efficient": SDPBackend.EFFICIENT_ATTENTION}
DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16}


def shapes(suite):
    if suite.endswith(".json"):
        return run_shapes(suite)
    if suite.endswith(".toml"):
        return toml_shapes(suite)
    if suite == "seed":
        return [(32, 8, s, 64, torch.float16, False) for s in (128, 256, 512, 1024, 2048, 4096)]
    if suite == "fa2":
        out = []
        for d in (64, 128):
            for causal in (False, True):
                for s in (512, 1024, 2048, 4096, 8192, 16384):
                    out.append((16384 // s, 2048 // d, s, d, torch.bfloat16, causal))
        return out
    if suite == "cliff":
        # host/src/suites.rs: 128·√2^k rounded to a multiple of 16.
        return [(4, 8, round(128 * 2 ** (k / 2) / 16) * 16, 128, torch.bfloat16, False) for k in range(13)]
    raise SystemExit(f"unknown suite {suite}")


def run_shapes(path):
    with open(path) as f:
        run = json.load(f)
    out = []
    for m in run["measurements"]:
        p = m["problem"]
        if p["heads_q"] != p["heads_kv"] or p["seqlen_q"] != p["seqlen_k"]:
            continue
        shape = (p["batch"], p["heads_q"], p["seqlen_q"], p["head_dim"], DTYPES[p["dtype"]], p["causal"])
        if shape not in out:
            out.append(shape)
    return out


def toml_shapes(path):
    import tomllib  # Python 3.11+; only this input needs it

    with open(path, "rb") as f:
        suite = tomllib.load(f)
    out = []
    for p in suite.get("problem", []):
        h, s = p["heads_q"], p["seqlen_q"]
        if p.get("heads_kv", h) != h or p.get("seqlen_k", s) != s:
            continue
        dtype = DTYPES[p.get("dtype", suite.get("dtype", "bf16"))]
        out.append((p["batch"], h, s, p["head_dim"], dtype, p.get("causal", suite.get("causal", False))))
    return out


def inputs(b, h, s, d, dtype, bshd):
    if bshd:
        return [torch.randn(b, s, h, d, device="cuda", dtype=dtype).transpose(1, 2) for _ in range(3)]
    return [torch.randn(b, h, s, d, device="cuda", dtype=dtype) for _ in range(3)]


def main():
    args = [a for a in sys.argv[1:] if a != "--bshd"]
    bshd = "--bshd" in sys.argv[1:]
    suite = args[0]
    backends = args[1].split(",") if len(args) > 1 else ["flash", "cudnn"]
    rows = []
    for b, h, s, d, dtype, causal in shapes(suite):
        q, k, v = inputs(b, h, s, d, dtype, bshd)
        for name in backends:
            start = time.time()
            with sdpa_kernel(BACKENDS[name]):
                ms = do_bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
                              warmup=25, rep=100, return_mode="median")
            rows.append({"B": b, "H": h, "S": s, "D": d, "causal": causal,
                         "dtype": str(dtype).removeprefix("torch."), "backend": name, "ms": ms,
                         "t_start": start, "t_end": time.time()})
        del q, k, v
    print(json.dumps({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(),
                      "layout": "bshd" if bshd else "bhsd", "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
