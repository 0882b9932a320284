"""torch tensors: CUDA tensors on the GPU, zero-copy, as the custom op
``torch.ops.tileattn.attention``; CPU tensors handed to the emulator.

Importing this module imports torch and registers the op, with a fake
(meta) implementation so that torch.compile traces through it and CUDA
graphs capture its launch. Eager calls on CUDA tensors skip the dispatcher
and launch directly: the op is the same function, and its dispatch would
add to every call's overhead."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch

from . import _inputs
from ._tileattn import attention_cuda

_DTYPE_NAMES = {torch.float16: "f16", torch.bfloat16: "bf16"}
# CPU tensors are handed to the emulator as float32 numpy arrays (exact for
# these dtypes), computing in their own dtype unless dtype= says otherwise.
_CPU_DTYPES = {torch.float16: "f16", torch.bfloat16: "bf16", torch.float32: None}


def on_cpu(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> bool:
    """Whether q, k and v are all CPU tensors (the emulator's) or all on one
    other device (the GPU's, or meta under tracing)."""
    for name, x in zip(_inputs.NAMES[1:], (k, v)):
        if x.device != q.device:
            raise ValueError(f"{name} is on {x.device} but q on {q.device}: pass one device")
    if q.device.type not in ("cpu", "cuda", "meta"):
        raise ValueError(
            f"q: device {q.device} is not supported: CUDA tensors run on the GPU, "
            "CPU tensors on the CPU emulator"
        )
    return q.device.type == "cpu"


def to_numpy(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dtype: Optional[str]
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Optional[str]]:
    """CPU tensors as float32 numpy arrays (exact), with their dtypes and
    strides checked, and the compute dtype: dtype= if given, else theirs
    (None for float32, which the emulator then asks to be named)."""
    for name, x in zip(_inputs.NAMES, (q, k, v)):
        if x.dtype not in _CPU_DTYPES:
            raise TypeError(
                f"{name}: dtype {x.dtype} is not supported: CPU tensors are float16, "
                "bfloat16 or float32"
            )
        if x.dtype != q.dtype:
            raise TypeError(f"{name}: dtype {x.dtype} differs from q's {q.dtype}")
        if x.dim() == 4:
            _inputs.check_last_dim_contiguous(name, x.shape, x.stride(-1))
    arrays = [x.detach().to(torch.float32).numpy() for x in (q, k, v)]
    return (*arrays, _CPU_DTYPES[q.dtype] if dtype is None else dtype)


def device_and_dtype(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dtype: Optional[str]
) -> Tuple[int, str]:
    """The CUDA device index and compute dtype of a call, every argument checked."""
    _check(q, k, v, dtype)
    if q.device.type != "cuda":
        raise ValueError(f"q: device {q.device}: a choice of variant needs a CUDA device")
    return q.device.index, _DTYPE_NAMES[q.dtype]


def _check(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dtype: Optional[str]) -> None:
    """What Rust cannot see: ranks, dtypes and the head_dim stride. (Devices:
    `on_cpu`; the shapes' agreement, head dims and strides: Rust.)"""
    _inputs.check_ranks([x.shape for x in (q, k, v)])
    for name, x in zip(_inputs.NAMES, (q, k, v)):
        if x.dtype not in _DTYPE_NAMES:
            raise TypeError(
                f"{name}: dtype {x.dtype} is not supported: CUDA tensors are "
                "torch.float16 or torch.bfloat16"
            )
        if x.dtype != q.dtype:
            raise TypeError(f"{name}: dtype {x.dtype} differs from q's {q.dtype}")
        _inputs.check_last_dim_contiguous(name, x.shape, x.stride(-1))
    if dtype is not None and _inputs.check_dtype_name(dtype) != _DTYPE_NAMES[q.dtype]:
        raise TypeError(
            f"dtype={dtype!r} differs from q's {q.dtype}: CUDA tensors compute in "
            "their own dtype (convert them explicitly to change it)"
        )


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool,
    scale: Optional[float],
    variant: Optional[str],
    dtype: Optional[str],
) -> Tuple[torch.Tensor, torch.Tensor]:
    """O and LSE of q, k, v on their GPU (or their fakes, under tracing)."""
    _check(q, k, v, dtype)
    scale = None if scale is None else float(scale)
    if q.device.type == "cuda" and _launches_directly(q, k, v):
        return _launch(q, k, v, bool(causal), scale, variant)
    return torch.ops.tileattn.attention(q, k, v, bool(causal), scale, variant)


def _launches_directly(*tensors: torch.Tensor) -> bool:
    """Whether a call can skip the op: plain tensors, in eager mode, that no
    gradient flows through. Anything else goes through the op: tracing, meta,
    fake or other tensor subclasses, and autograd (the op has no backward, and
    says so if one is attempted, where a direct launch would cut the graph)."""
    if torch.compiler.is_compiling():
        return False
    grad = torch.is_grad_enabled()
    return all(type(x) is torch.Tensor and not (grad and x.requires_grad) for x in tensors)


def _launch(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool,
    scale: Optional[float],
    variant: Optional[str],
) -> Tuple[torch.Tensor, torch.Tensor]:
    b, sq, hq, d = q.shape
    o = torch.empty((b, sq, hq, d), dtype=q.dtype, device=q.device)
    lse = torch.empty((b, hq, sq), dtype=torch.float32, device=q.device)
    # The launch makes q's device current (its primary context); the guard
    # gives torch back its own current device afterwards.
    with torch.cuda.device(q.device):
        notices = attention_cuda(
            q.device.index,
            torch.cuda.current_stream().cuda_stream,
            _raw(q),
            _raw(k),
            _raw(v),
            _raw(o),
            lse.data_ptr(),
            _DTYPE_NAMES[q.dtype],
            causal,
            scale,
            variant,
        )
    _inputs.warn_all(notices)
    return o, lse


def _raw(x: torch.Tensor) -> Tuple[int, Tuple[int, ...], Tuple[int, ...]]:
    return x.data_ptr(), tuple(x.shape), x.stride()


@torch.library.custom_op("tileattn::attention", mutates_args=(), device_types="cuda")
def _attention_op(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool,
    scale: Optional[float],
    variant: Optional[str],
) -> Tuple[torch.Tensor, torch.Tensor]:
    """tileattn's attention forward: (O, LSE); see tileattn.attention."""
    return _launch(q, k, v, causal, scale, variant)


@_attention_op.register_fake
def _attention_fake(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool,
    scale: Optional[float],
    variant: Optional[str],
) -> Tuple[torch.Tensor, torch.Tensor]:
    b, sq, hq, d = q.shape
    return q.new_empty((b, sq, hq, d)), q.new_empty((b, hq, sq), dtype=torch.float32)
