"""tileattn.attention on numpy arrays runs the kernels on the CPU emulator:
checked against the float64 reference on the shapes the GPU serves."""

import numpy as np
import pytest

import reference
import tileattn


def inputs(rng, b, sq, sk, hq, hkv, d, dtype="float32"):
    q = rng.standard_normal((b, sq, hq, d)).astype(dtype)
    k = rng.standard_normal((b, sk, hkv, d)).astype(dtype)
    v = rng.standard_normal((b, sk, hkv, d)).astype(dtype)
    return q, k, v


def check(q, k, v, dtype, causal, scale=None, **kwargs):
    o, lse = tileattn.attention(
        q, k, v, causal=causal, scale=scale, return_lse=True, dtype=dtype, **kwargs
    )
    rounded = [reference.round_to(dtype, x) for x in (q, k, v)]
    o_ref, lse_ref = reference.attention(*rounded, causal, scale)
    assert o.shape == q.shape and lse.shape == (q.shape[0], q.shape[2], q.shape[1])
    reference.assert_close(dtype, o, lse, o_ref, lse_ref)


# (b, sq, sk, hq, hkv, d): ragged lengths, MHA, GQA and MQA, both head dims.
SHAPES = {
    "mha": (2, 40, 40, 2, 2, 64),
    "gqa": (1, 33, 70, 4, 2, 128),
    "mqa": (1, 50, 29, 4, 1, 64),
}


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
@pytest.mark.parametrize("heads", SHAPES)
def test_matches_the_f64_reference(rng, heads, dtype):
    check(*inputs(rng, *SHAPES[heads]), dtype, causal=False)


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
@pytest.mark.parametrize("sq, sk", [(20, 75), (70, 30)])
def test_causal_mask_is_bottom_right_aligned(rng, sq, sk, dtype):
    # sq > sk leaves the first sq - sk query rows without a key: O = 0, LSE = -inf.
    check(*inputs(rng, 1, sq, sk, 4, 2, 64), dtype, causal=True)


def test_scale_of_either_sign(rng):
    q, k, v = inputs(rng, 1, 24, 40, 2, 1, 64)
    check(q, k, v, "f16", causal=True, scale=0.3)
    check(q, k, v, "f16", causal=False, scale=-0.05)


@pytest.mark.parametrize("family", ["v0", "v1", "v3"])
def test_a_named_variant_runs(rng, family):
    q, k, v = inputs(rng, 1, 30, 45, 2, 2, 64)
    named = next(
        n
        for n in tileattn.variants()
        if n.startswith(f"attn_fwd_{family}_d64_bf16_") and n.endswith("_noncausal")
    )
    assert tileattn.variant_for(q, k, v, dtype="bf16", variant=named) == (named, "named")
    check(q, k, v, "bf16", causal=False, variant=named)


def test_float16_arrays_compute_in_f16_by_default(rng):
    q, k, v = inputs(rng, 1, 16, 16, 2, 2, 64, dtype="float16")
    o = tileattn.attention(q, k, v)
    assert o.dtype == np.float32
    np.testing.assert_array_equal(o, tileattn.attention(q, k, v, dtype="f16"))
    check(q, k, v, "f16", causal=False)


def test_the_heuristic_chooses_on_the_emulator(rng):
    q, k, v = inputs(rng, 1, 16, 16, 2, 2, 128)
    choice = tileattn.variant_for(q, k, v, causal=True, dtype="bf16")
    assert choice.rule == "default heuristic: not tuned for this shape"
    assert choice.variant.startswith("attn_fwd_v4_d128_bf16_") and choice.variant.endswith("_causal")
