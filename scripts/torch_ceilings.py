#!/usr/bin/env python3
"""The ceilings as torch sees them, for comparison with `tileattn info --ceilings`
in the same device call: bf16 matmul throughput (cuBLAS, tensor cores) and
device-to-device copy bandwidth (bytes read + written), each the median of
triton.testing.do_bench (L2 flushed between calls by do_bench itself).

Usage: python3 scripts/torch_ceilings.py > out.json
"""
import json

import torch
from triton.testing import do_bench


def main():
    res = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name()}
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    ms = do_bench(lambda: a @ b, warmup=100, rep=500, return_mode="median")
    res["matmul_bf16_tflops"] = 2 * n**3 / (ms * 1e-3) / 1e12
    res["matmul_ms"] = ms
    nbytes = 1 << 30
    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms = do_bench(lambda: dst.copy_(src), warmup=100, rep=500, return_mode="median")
    res["copy_gbs"] = 2 * nbytes / (ms * 1e-3) / 1e9
    res["copy_ms"] = ms
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
