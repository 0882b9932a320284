"""The native half of tileattn (Rust, PyO3): called by the Python modules of
this package, which check their arguments first. Not a public API."""

from os import PathLike
from typing import List, Optional, Sequence, Tuple, Union

COMMIT: str
"""``git describe`` of the tree this build came from."""
HEAD_DIMS: List[int]
"""The head dimensions the kernels are built for."""

class Error(RuntimeError):
    """A failure tileattn met while running: the CLI's exit code 4."""

class NoDeviceError(Error):
    """No GPU to run on: the CLI's exit code 3."""

Shape = Tuple[int, int, int, int]
HostArray = Tuple[bytes, Shape]
DeviceArray = Tuple[int, Shape, Sequence[int]]

def attention_cpu(
    q: HostArray,
    k: HostArray,
    v: HostArray,
    dtype: str,
    causal: bool,
    scale: Optional[float],
    variant: Optional[str],
) -> Tuple[bytes, bytes]:
    """O and LSE of dense f32 BSHD values, on the CPU emulator, as f32 bytes."""

def attention_cuda(
    device: int,
    stream: int,
    q: DeviceArray,
    k: DeviceArray,
    v: DeviceArray,
    o: DeviceArray,
    lse: int,
    dtype: str,
    causal: bool,
    scale: Optional[float],
    variant: Optional[str],
) -> List[str]:
    """Enqueue attention on device pointers (element strides) on ``stream``;
    returns the tuning cache's notices."""

def variant_for(
    device: Optional[int],
    q: Shape,
    k: Shape,
    v: Shape,
    dtype: str,
    causal: bool,
    variant: Optional[str],
) -> Tuple[str, str, List[str]]:
    """The variant, its rule and the tuning cache's notices (device None: the emulator)."""

def variants() -> List[str]:
    """The names of this build's kernel variants, as ``tileattn variants`` lists them."""

def tune(
    device: int,
    q: Shape,
    k: Shape,
    v: Shape,
    dtype: str,
    causal: bool,
    strategy: str,
    budget_s: Optional[float],
    cache: Optional[Union[str, PathLike]],
) -> Tuple[str, List[str]]:
    """``tileattn tune --json``'s result for one problem, and the cache's notices."""
