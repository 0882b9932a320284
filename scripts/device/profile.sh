#!/usr/bin/env bash
# Nsight Compute profiles of tileattn's kernel and torch's FLASH kernel on the
# same shapes, for docs/perf-notes.md. Clocks are left alone (--clock-control none).
# Usage (repo root, after `cargo build --release`):
#   OUT=dir scripts/device/profile.sh VARIANT SHAPE [VARIANT SHAPE ...]
# SHAPE is tileattn's B,H,S,D (non-causal unless the variant name says causal).
# NO_TORCH=1 profiles tileattn's variants only.
set -uo pipefail
B=${TILEATTN:-target/release/tileattn}
OUT=${OUT:-out}
mkdir -p "$OUT"
SECTIONS="--section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis_Tables \
 --section WarpStateStats --section Occupancy --section LaunchStats --section InstructionStats --section SchedulerStats"
while [ $# -ge 2 ]; do
  variant=$1 shape=$2; shift 2
  IFS=, read -r b h s d <<< "$shape"
  causal=False; flag=""
  case $variant in *_causal) causal=True; flag="--causal";; esac
  dtype=bf16; case $variant in *_f16_*) dtype=f16;; esac
  echo "## ncu tileattn $variant $shape"
  timeout 240 ncu --clock-control none --kernel-name "regex:$variant" --launch-skip 3 --launch-count 1 $SECTIONS \
    $B time --shape "$shape" $flag --dtype $dtype --variant "$variant" --min-samples 5 --max-samples 10 2>&1 \
    | grep -v '^==PROF==' | sed -n '/attn_fwd/,$p'
  [ -n "${NO_TORCH:-}" ] && continue
  echo "## ncu torch flash $shape causal=$causal"
  timeout 240 ncu --clock-control none --kernel-name "regex:flash_fwd" --launch-skip 3 --launch-count 1 $SECTIONS \
    python3 -c "
import torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
dt = torch.bfloat16 if '$dtype' == 'bf16' else torch.float16
q, k, v = (torch.randn($b, $h, $s, $d, device='cuda', dtype=dt) for _ in range(3))
with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
    for _ in range(6): F.scaled_dot_product_attention(q, k, v, is_causal=$causal)
torch.cuda.synchronize()" 2>&1 | grep -v '^==PROF==' | sed -n '/flash_fwd/,$p'
done
