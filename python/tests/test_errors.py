"""Bad inputs raise the documented exceptions, naming the argument, with the
CLI's messages where the check is the CLI's; nothing crashes."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tileattn


def arrays(q=(1, 16, 2, 64), kv=(1, 16, 2, 64), dtype=np.float32):
    rng = np.random.default_rng(1)
    q = rng.standard_normal(q).astype(dtype)
    k = rng.standard_normal(kv).astype(dtype)
    v = rng.standard_normal(kv).astype(dtype)
    return q, k, v


def attention(q, k, v, **kwargs):
    kwargs.setdefault("dtype", "f16")
    return tileattn.attention(q, k, v, **kwargs)


def test_wrong_rank():
    q, k, v = arrays()
    with pytest.raises(ValueError, match=r"^k: expected 4 dimensions .* got shape \(16, 2, 64\)"):
        attention(q, k[0], v)


def test_wrong_type():
    q, k, v = arrays()
    with pytest.raises(TypeError, match=r"^v: expected a torch.Tensor or a numpy.ndarray, got builtins.list"):
        attention(q, k, v.tolist())


@pytest.mark.parametrize("bad", [np.float64, np.int32, np.complex64])
def test_unsupported_array_dtype(bad):
    q, k, v = arrays()
    with pytest.raises(TypeError, match=rf"^q: dtype {np.dtype(bad)} is not supported"):
        attention(q.astype(bad), k, v)


def test_mixed_array_dtypes():
    q, k, v = arrays()
    with pytest.raises(TypeError, match=r"^v: dtype float16 differs from q's float32"):
        attention(q, k, v.astype(np.float16))


def test_compute_dtype_is_named_for_float32():
    q, k, v = arrays()
    with pytest.raises(TypeError, match=r"^dtype= is required for float32 inputs"):
        tileattn.attention(q, k, v)
    with pytest.raises(ValueError, match=r"^dtype='fp8': expected 'f16' or 'bf16'"):
        tileattn.attention(q, k, v, dtype="fp8")


def test_unsupported_head_dim():
    q, k, v = arrays((1, 16, 2, 32), (1, 16, 2, 32))
    with pytest.raises(ValueError, match=r"head dim 32 is not supported \(supported: 64, 128\)"):
        attention(q, k, v)


def test_heads_that_do_not_group():
    q, k, v = arrays((1, 16, 3, 64), (1, 16, 2, 64))
    with pytest.raises(ValueError, match=r"heads_q = 3 is not a multiple of heads_kv = 2"):
        attention(q, k, v)


def test_k_and_v_that_disagree():
    q, k, _ = arrays()
    v = arrays(kv=(1, 16, 1, 64))[2]
    with pytest.raises(ValueError, match=r"k has shape \[1, 16, 2, 64\] but v has \[1, 16, 1, 64\]"):
        attention(q, k, v)


def test_non_contiguous_last_dim():
    q, k, v = arrays((1, 16, 2, 128))
    with pytest.raises(ValueError, match=r"^q: the last dimension \(head_dim\) must be contiguous \(stride 1\), its stride is 2"):
        attention(q[..., ::2], k, v)


def test_other_strides_are_fine():
    # Only head_dim must be contiguous: a BHSD array viewed as BSHD runs.
    q, k, v = arrays()
    bhsd = np.ascontiguousarray(q.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    np.testing.assert_array_equal(attention(bhsd, k, v), attention(q, k, v))


def test_values_the_kernels_cannot_compute():
    q, k, v = arrays()
    q[0, 3, 1, 5] = np.nan
    with pytest.raises(ValueError, match=r"q\[0, 3, 1, 5\] is NaN: inputs must be finite"):
        attention(q, k, v)
    q[0, 3, 1, 5] = 1e5
    with pytest.raises(ValueError, match=r"beyond f16's range"):
        attention(q, k, v)


@pytest.mark.parametrize("scale", [0.0, float("inf")])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match=r"softmax scale .* must be finite and non-zero"):
        attention(*arrays(), scale=scale)


def test_unknown_or_unfit_variant():
    with pytest.raises(ValueError, match=r"no variant `nope` \(see `tileattn variants`\)"):
        attention(*arrays(), variant="nope")
    bf16 = next(n for n in tileattn.variants() if "_d64_bf16_" in n)
    with pytest.raises(ValueError, match=rf"{bf16} does not compute"):
        attention(*arrays(), variant=bf16)


def test_tuning_needs_a_gpu():
    with pytest.raises(tileattn.NoDeviceError, match=r"^no GPU available: "):
        tileattn.tune(*arrays(), dtype="f16")
    assert issubclass(tileattn.NoDeviceError, tileattn.Error)
    assert issubclass(tileattn.Error, RuntimeError)


CLI = Path(__file__).parents[2] / "target" / "debug" / "tileattn"


@pytest.mark.skipif(not CLI.is_file(), reason="no CLI build (cargo build) beside the package")
def test_messages_are_the_clis(tmp_path):
    q, k, v = arrays((1, 16, 4, 64), (1, 16, 3, 64))
    for name, x in zip("qkv", (q, k, v)):
        np.save(tmp_path / f"{name}.npy", x)
    run = subprocess.run(
        [CLI, "run", "--emulate", "--out", tmp_path / "o.npy"]
        + [a for n in "qkv" for a in (f"--{n}", tmp_path / f"{n}.npy")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    with pytest.raises(ValueError) as e:
        attention(q, k, v)
    assert run.stderr.strip() == f"tileattn: {e.value}"
