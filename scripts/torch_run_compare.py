#!/usr/bin/env python3
"""Cross-check `tileattn run` against torch.nn.functional.scaled_dot_product_attention.

For each case: torch.randn inputs in BSHD, saved as .npy (float16 or float32),
`tileattn run` on them, and its output compared with SDPA on the same rounded
inputs (upcast to float64, so SDPA's own rounding does not blur the comparison)
and with torch's FLASH backend at the same dtype. Exits 1 if any case fails.

Usage: python3 scripts/torch_run_compare.py path/to/tileattn OUTDIR
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.bias import causal_lower_right

# (batch, heads_q, heads_kv, seqlen_q, seqlen_k, head_dim, dtype, causal)
CASES = [
    (2, 8, 8, 512, 512, 64, "f16", False),
    (2, 8, 8, 512, 512, 128, "bf16", True),
    (1, 16, 4, 1000, 1000, 128, "bf16", False),
    (3, 4, 1, 97, 97, 64, "f16", True),
    (1, 2, 2, 1, 1, 128, "f16", False),
    (2, 4, 2, 333, 333, 64, "bf16", True),
    # seqlen_q < seqlen_k: bottom-right causal (torch's causal_lower_right).
    (2, 4, 2, 200, 777, 64, "bf16", True),
    (1, 8, 8, 65, 1024, 128, "f16", True),
]
TOL = {"f16": 2e-3, "bf16": 1e-2}
TORCH_DTYPE = {"f16": torch.float16, "bf16": torch.bfloat16}


def run_case(tileattn, out, case, idx):
    b, hq, hkv, sq, sk, d, dtype, causal = case
    g = torch.Generator(device="cuda").manual_seed(1000 + idx)
    q, k, v = (torch.randn(b, s, h, d, device="cuda", generator=g) for s, h in ((sq, hq), (sk, hkv), (sk, hkv)))
    # Round once to the compute dtype; both sides see exactly these values.
    q, k, v = (x.to(TORCH_DTYPE[dtype]) for x in (q, k, v))
    paths = {}
    for name, x in (("q", q), ("k", k), ("v", v)):
        paths[name] = out / f"case{idx}_{name}.npy"
        # numpy has no bfloat16: bf16 values are exact in float32.
        np.save(paths[name], x.float().cpu().numpy() if dtype == "bf16" else x.cpu().numpy())
    o_path, lse_path = out / f"case{idx}_o.npy", out / f"case{idx}_lse.npy"
    cmd = [tileattn, "run", "--q", paths["q"], "--k", paths["k"], "--v", paths["v"], "--dtype", dtype, "--out", o_path, "--lse", lse_path]
    if causal:
        cmd.append("--causal")
    subprocess.run([str(c) for c in cmd], check=True)
    o = torch.from_numpy(np.load(o_path)).cuda().double()

    # BSHD -> BHSD for SDPA. torch's is_causal is top-left aligned, which equals
    # tileattn's bottom-right alignment only when sq == sk; otherwise the mask is
    # torch's causal_lower_right (sq < sk only: with sq > sk torch gives NaN rows
    # where tileattn defines O = 0).
    assert not causal or sq <= sk
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    if causal and sq != sk:
        mask = {"attn_mask": causal_lower_right(sq, sk)}
    else:
        mask = {"is_causal": causal}
    ref = F.scaled_dot_product_attention(qt.double(), kt.double(), vt.double(), enable_gqa=hq != hkv, **mask).transpose(1, 2)
    try:  # FLASH is a second opinion, not the reference: report if it cannot run this case.
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            flash = F.scaled_dot_product_attention(qt, kt, vt, enable_gqa=hq != hkv, **mask).transpose(1, 2).double()
    except (RuntimeError, TypeError) as e:
        print(f"case {idx}: FLASH cannot run it ({e})", file=sys.stderr)
        flash = torch.full_like(ref, float("nan"))
    rel = lambda a, r: (torch.linalg.vector_norm(a - r) / torch.linalg.vector_norm(r)).item()
    err, flash_err = rel(o, ref), rel(flash, ref)
    ok = bool(torch.isfinite(o).all()) and err <= TOL[dtype]
    return {"case": case, "tileattn_vs_fp64_sdpa": err, "torch_flash_vs_fp64_sdpa": flash_err, "tolerance": TOL[dtype], "passed": ok}


def main():
    tileattn, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
    results = [run_case(tileattn, out, c, i) for i, c in enumerate(CASES)]
    print(f"{'B,Hq,Hkv,Sq,Sk,D,dtype,causal':<40} {'tileattn err':>13} {'FLASH err':>11}  verdict")
    for r in results:
        c = ",".join(str(x) for x in r["case"])
        print(f"{c:<40} {r['tileattn_vs_fp64_sdpa']:>13.3e} {r['torch_flash_vs_fp64_sdpa']:>11.3e}  {'ok' if r['passed'] else 'FAIL'}")
    (out / "torch_run_compare.json").write_text(json.dumps(results, indent=1))
    sys.exit(0 if all(r["passed"] for r in results) else 1)


if __name__ == "__main__":
    main()
