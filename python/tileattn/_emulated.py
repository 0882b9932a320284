"""numpy arrays on the CPU emulator, as ``tileattn run --emulate`` runs
``.npy`` files: float16 or float32 values, rounded to the compute dtype,
their values checked, O and LSE back as float32."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from . import _inputs
from ._tileattn import attention_cpu

# The .npy types `tileattn run` reads; anything else is refused rather than
# converted behind the caller's back.
_ACCEPTED = (np.dtype(np.float16), np.dtype(np.float32))


def compute_dtype(q: np.ndarray, k: np.ndarray, v: np.ndarray, dtype: Optional[str]) -> str:
    """The compute dtype of a call on these arrays, their dtypes and strides checked."""
    _inputs.check_ranks([x.shape for x in (q, k, v)])
    for name, x in zip(_inputs.NAMES, (q, k, v)):
        if x.dtype not in _ACCEPTED:
            raise TypeError(
                f"{name}: dtype {x.dtype} is not supported: numpy inputs are float16 "
                "or float32 (convert explicitly, e.g. x.astype(np.float32))"
            )
        if x.dtype != q.dtype:
            raise TypeError(f"{name}: dtype {x.dtype} differs from q's {q.dtype}")
        _inputs.check_last_dim_contiguous(name, x.shape, x.strides[-1] // x.itemsize)
    if dtype is None:
        if q.dtype == np.float16:
            return "f16"
        raise TypeError(
            "dtype= is required for float32 inputs: 'f16' or 'bf16', the compute "
            "dtype their values are rounded to"
        )
    return _inputs.check_dtype_name(dtype)


def attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    causal: bool,
    scale: Optional[float],
    variant: Optional[str],
    dtype: Optional[str],
) -> Tuple[np.ndarray, np.ndarray]:
    """O ``[b, sq, hq, d]`` and LSE ``[b, hq, sq]``, float32, from the emulator."""
    dtype = compute_dtype(q, k, v, dtype)
    b, sq, hq, d = q.shape
    o, lse = attention_cpu(
        _f32_array(q),
        _f32_array(k),
        _f32_array(v),
        dtype,
        bool(causal),
        None if scale is None else float(scale),
        variant,
    )
    return (
        np.frombuffer(o, dtype="<f4").reshape(b, sq, hq, d).astype(np.float32),
        np.frombuffer(lse, dtype="<f4").reshape(b, hq, sq).astype(np.float32),
    )


def _f32_array(x: np.ndarray) -> Tuple[bytes, Tuple[int, ...]]:
    """Dense little-endian f32 values (float16 widens exactly) and the shape."""
    return np.ascontiguousarray(x, dtype="<f4").tobytes(), tuple(int(d) for d in x.shape)
