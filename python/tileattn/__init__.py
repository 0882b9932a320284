"""tileattn from Python: FlashAttention-style attention kernels written in Rust.

The kernels of this build (their PTX embedded, as in the ``tileattn`` CLI)
run on torch CUDA tensors on the GPU, or on numpy arrays and CPU tensors
through the CPU block emulator, which runs the same kernel source.

- :func:`attention` computes softmax(scale * q kᵀ) v, flash-attn's layout.
- :func:`variant_for` names the kernel variant a call would run.
- :func:`tune` tunes a problem on the GPU into the CLI's tuning cache.
- :func:`variants` lists this build's kernel variants.

Errors are the CLI's, with its messages: invalid input is a ``ValueError``
(or a ``TypeError`` for a wrong type or dtype), no GPU a
:class:`NoDeviceError`, anything else an :class:`Error`.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple, Optional, Tuple, Union

from . import _emulated, _inputs
from ._tileattn import COMMIT, HEAD_DIMS, Error, NoDeviceError, variants
from ._tileattn import tune as _tune
from ._tileattn import variant_for as _variant_for

if _inputs.TORCH_INSTALLED:
    from . import _torch

__all__ = [
    "COMMIT",
    "HEAD_DIMS",
    "Choice",
    "Error",
    "NoDeviceError",
    "attention",
    "tune",
    "variant_for",
    "variants",
]


def attention(
    q: Any,
    k: Any,
    v: Any,
    *,
    causal: bool = False,
    scale: Optional[float] = None,
    return_lse: bool = False,
    variant: Optional[str] = None,
    dtype: Optional[str] = None,
) -> Union[Any, Tuple[Any, Any]]:
    """Attention forward: O = softmax(scale * q kᵀ) v, and its log-sum-exp.

    Args:
        q: ``[batch, seqlen_q, heads_q, head_dim]``.
        k: ``[batch, seqlen_k, heads_kv, head_dim]``; ``heads_q`` must be a
            multiple of ``heads_kv`` (GQA; MQA when ``heads_kv`` is 1).
        v: the shape of ``k``.
        causal: the bottom-right aligned causal mask (flash-attn ≥ 2.1):
            query i sees keys up to ``i + seqlen_k - seqlen_q``.
        scale: the softmax scale, default ``1/sqrt(head_dim)``.
        return_lse: also return the log-sum-exp, ``[batch, heads_q,
            seqlen_q]`` float32 (natural log).
        variant: the kernel variant to run (``tileattn variants`` lists
            them); default: the tuning cache's winner, else the default
            heuristic, as the CLI chooses.
        dtype: the compute dtype, ``"f16"`` or ``"bf16"``. Torch CUDA
            tensors compute in their own dtype (``dtype`` may only repeat
            it); numpy arrays and CPU tensors are rounded to it, and it is
            required when they hold float32.

    Torch CUDA tensors (float16 or bfloat16, ``head_dim`` 64 or 128, the
    last dimension contiguous, the other strides multiples of 8) run on the
    GPU where they are, without a copy, on torch's current stream; O comes
    back as a torch tensor of q's dtype on q's device, and LSE float32.
    The call is registered as the custom op ``torch.ops.tileattn.attention``,
    so it traces under ``torch.compile(fullgraph=True)`` and is captured in
    CUDA graphs. On the GPU the input values are not checked (that needs
    them on the host); a negative scale is refused (negate q instead).

    numpy arrays (float16 or float32) and CPU tensors (float16, bfloat16
    or float32) run on the CPU emulator, after the CLI's checks of their
    values; O and LSE come back as float32 numpy arrays.

    Returns:
        O, or ``(O, LSE)`` with ``return_lse``.

    Raises:
        TypeError: an argument of the wrong type or dtype.
        ValueError: an invalid shape, stride, device, scale or variant, or
            values the kernels cannot compute (the CLI's messages).
        NoDeviceError: no GPU for CUDA tensors.
        Error: CUDA or the emulator failed.
    """
    if _inputs.kind_of(q, k, v) == "torch":
        if _torch.on_cpu(q, k, v):
            q, k, v, dtype = _torch.to_numpy(q, k, v, dtype)
        else:
            o, lse = _torch.attention(q, k, v, causal, scale, variant, dtype)
            return (o, lse) if return_lse else o
    o, lse = _emulated.attention(q, k, v, causal, scale, variant, dtype)
    return (o, lse) if return_lse else o


def _device_and_dtype(q: Any, k: Any, v: Any, dtype: Optional[str]) -> Tuple[Optional[int], str]:
    """The CUDA device (None: the emulator) and compute dtype of a call."""
    if _inputs.kind_of(q, k, v) == "torch":
        if not _torch.on_cpu(q, k, v):
            return _torch.device_and_dtype(q, k, v, dtype)
        q, k, v, dtype = _torch.to_numpy(q, k, v, dtype)
    return None, _emulated.compute_dtype(q, k, v, dtype)


class Choice(NamedTuple):
    """A kernel variant chosen for a problem, and the rule that chose it."""

    variant: str
    rule: str


def variant_for(
    q: Any,
    k: Any,
    v: Any,
    *,
    causal: bool = False,
    variant: Optional[str] = None,
    dtype: Optional[str] = None,
) -> Choice:
    """The kernel variant :func:`attention` runs on these arguments, and why.

    Only shapes, dtypes and devices are read. On the GPU the rule is the
    CLI's: ``variant`` if given (it must compute the problem), else the
    tuning cache's winner for this GPU and build, else the default
    heuristic; the emulator uses no cache.
    """
    device, dtype = _device_and_dtype(q, k, v, dtype)
    name, rule, notices = _variant_for(
        device, *_inputs.shapes(q, k, v), dtype, causal, variant
    )
    _inputs.warn_all(notices)
    return Choice(name, rule)


def tune(
    q: Any,
    k: Any,
    v: Any,
    *,
    causal: bool = False,
    dtype: Optional[str] = None,
    strategy: str = "exhaustive",
    budget: Optional[float] = None,
    cache: Optional[str] = None,
) -> dict:
    """Tune the problem of these arguments on the GPU, as ``tileattn tune``.

    Every variant that computes the problem is verified against the f64
    reference on random inputs of these shapes, timed with the CLI's
    default protocol, and ranked; the winner is recorded in the tuning cache
    (``cache``, default ``$TILEATTN_TUNE_CACHE``, else
    ``~/.cache/tileattn/tune.json``: the CLI's), which :func:`attention`
    then uses. The GPU is q's for CUDA tensors, else GPU 0.

    Args:
        strategy: ``"exhaustive"`` or ``"halving"``.
        budget: a time limit in seconds; candidates not reached are skipped.

    Returns:
        The result as ``tileattn tune --json`` prints it.

    Raises:
        NoDeviceError: no GPU.
        Error: no candidate could be timed.
    """
    device, dtype = _device_and_dtype(q, k, v, dtype)
    text, notices = _tune(
        0 if device is None else device,
        *_inputs.shapes(q, k, v), dtype, causal, strategy, budget, cache
    )
    _inputs.warn_all(notices)
    result = json.loads(text)
    if not any(c["outcome"]["status"] == "timed" for c in result["candidates"]):
        raise Error(f"no candidate could be timed: {result['candidates']}")
    return result
