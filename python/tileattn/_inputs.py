"""Checks every path makes on q, k and v before Rust sees them: their kind,
rank and shapes. What needs numpy or torch lives in _emulated and _torch."""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any, Iterable, List, Sequence, Tuple

import numpy as np

# torch is optional: without it, tileattn takes numpy arrays only. When it is
# installed, a failure to import it is the caller's to see.
TORCH_INSTALLED = importlib.util.find_spec("torch") is not None
if TORCH_INSTALLED:
    from torch import Tensor as _TorchTensor

NAMES = ("q", "k", "v")


def kind_of(q: Any, k: Any, v: Any) -> str:
    """``"torch"`` if q, k and v are torch tensors, ``"numpy"`` if numpy arrays."""
    kinds = [_kind(name, x) for name, x in zip(NAMES, (q, k, v))]
    for name, kind in zip(NAMES[1:], kinds[1:]):
        if kind != kinds[0]:
            raise TypeError(
                f"{name} is a {_KIND_TYPES[kind]} but q a {_KIND_TYPES[kinds[0]]}: "
                "pass q, k and v of one kind"
            )
    return kinds[0]


_KIND_TYPES = {"torch": "torch.Tensor", "numpy": "numpy.ndarray"}


def _kind(name: str, x: Any) -> str:
    # torch first: under torch.compile the tensors are torch's fakes.
    if TORCH_INSTALLED and isinstance(x, _TorchTensor):
        return "torch"
    if isinstance(x, np.ndarray):
        return "numpy"
    raise TypeError(
        f"{name}: expected a torch.Tensor or a numpy.ndarray, got {type(x).__module__}.{type(x).__qualname__}"
    )


def check_ranks(shapes: Sequence[Sequence[int]]) -> None:
    """Each of q, k, v has 4 dimensions."""
    for name, shape in zip(NAMES, shapes):
        if len(shape) != 4:
            raise ValueError(
                f"{name}: expected 4 dimensions [batch, seqlen, heads, head_dim], "
                f"got shape {tuple(shape)}"
            )


def check_last_dim_contiguous(name: str, shape: Sequence[int], stride: int) -> None:
    """The head_dim axis has stride 1 (in elements): the kernels read rows whole."""
    if stride != 1 and shape[-1] > 1:
        raise ValueError(
            f"{name}: the last dimension (head_dim) must be contiguous (stride 1), "
            f"its stride is {stride} elements"
        )


def check_dtype_name(dtype: object) -> str:
    """``dtype=``, one of the compute dtypes."""
    if dtype not in ("f16", "bf16"):
        raise ValueError(f"dtype={dtype!r}: expected 'f16' or 'bf16'")
    return dtype


def shapes(q: Any, k: Any, v: Any) -> List[Tuple[int, ...]]:
    """The shapes of q, k, v (4 dimensions each) as tuples of ints."""
    result = [tuple(int(d) for d in x.shape) for x in (q, k, v)]
    check_ranks(result)
    return result


def warn_all(notices: Iterable[str]) -> None:
    """The tuning cache's notices (sections of other GPUs or builds, left alone)."""
    for n in notices:
        warnings.warn(f"tileattn: {n}", RuntimeWarning, stacklevel=3)
