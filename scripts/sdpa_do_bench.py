#!/usr/bin/env python3
"""triton.testing.do_bench medians of torch SDPA backends on a tileattn suite's
shapes, for checking tileattn's own torch measurements against the protocol of
../shared/anchors (do_bench median, L2 flushed between calls by do_bench,
warmup 25 ms, rep 100 ms; torch.randn inputs in [B, H, S, D]).

Usage: python3 scripts/sdpa_do_bench.py fa2|seed|cliff [flash,cudnn] > out.json
"""
import json
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from triton.testing import do_bench

BACKENDS = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
            "efficient": SDPBackend.EFFICIENT_ATTENTION}


def shapes(suite):
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
        # host/src/suites.rs: 128·√2^k rounded to a multiple of 16, k = 0..12.
        return [(4, 8, round(128 * 2 ** (k / 2) / 16) * 16, 128, torch.bfloat16, False) for k in range(13)]
    raise SystemExit(f"unknown suite {suite}")


def main():
    suite = sys.argv[1]
    backends = sys.argv[2].split(",") if len(sys.argv) > 2 else ["flash", "cudnn"]
    rows = []
    for b, h, s, d, dtype, causal in shapes(suite):
        q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=dtype) for _ in range(3))
        for name in backends:
            with sdpa_kernel(BACKENDS[name]):
                ms = do_bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
                              warmup=25, rep=100, return_mode="median")
            rows.append({"B": b, "H": h, "S": s, "D": d, "causal": causal,
                         "dtype": str(dtype).removeprefix("torch."), "backend": name, "ms": ms})
        del q, k, v
    print(json.dumps({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
