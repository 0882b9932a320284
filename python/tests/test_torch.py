"""torch tensors, without a GPU: CPU tensors run on the emulator; meta and
fake CUDA tensors check their arguments and go through the custom op's fake
implementation, which is what torch.compile traces. Skipped without torch
(CI does not install it); test_cuda.py covers the GPU."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import reference  # noqa: E402
import tileattn  # noqa: E402


def tensors(q=(1, 24, 4, 64), kv=(1, 40, 2, 64), dtype=torch.float16, device="cpu"):
    gen = torch.Generator().manual_seed(3)
    make = lambda shape: torch.randn(shape, generator=gen).to(dtype)  # noqa: E731
    return [make(s).to(device) for s in (q, kv, kv)]


@pytest.mark.parametrize("dtype, name", [(torch.float16, "f16"), (torch.bfloat16, "bf16")])
def test_cpu_tensors_run_on_the_emulator(dtype, name):
    q, k, v = tensors(dtype=dtype)
    o, lse = tileattn.attention(q, k, v, causal=True, return_lse=True)
    assert isinstance(o, np.ndarray) and o.dtype == np.float32
    arrays = [x.float().numpy() for x in (q, k, v)]
    o_np = tileattn.attention(*arrays, causal=True, dtype=name)
    np.testing.assert_array_equal(o, o_np)
    o_ref, lse_ref = reference.attention(*[reference.round_to(name, x) for x in arrays], True)
    reference.assert_close(name, o, lse, o_ref, lse_ref)


def test_cpu_float32_tensors_name_their_compute_dtype():
    q, k, v = tensors(dtype=torch.float32)
    with pytest.raises(TypeError, match=r"^dtype= is required for float32 inputs"):
        tileattn.attention(q, k, v)
    assert tileattn.attention(q, k, v, dtype="bf16").shape == tuple(q.shape)


def test_one_kind_and_one_device():
    q, k, v = tensors()
    with pytest.raises(TypeError, match=r"^k is a numpy.ndarray but q a torch.Tensor"):
        tileattn.attention(q, k.numpy(), v)
    with pytest.raises(ValueError, match=r"^v is on meta but q on cpu: pass one device"):
        tileattn.attention(q, k, v.to("meta"))


def meta(q=(2, 40, 4, 64), kv=(2, 50, 2, 64), dtype=torch.bfloat16):
    return [torch.empty(s, dtype=dtype, device="meta") for s in (q, kv, kv)]


def test_meta_tensors_get_the_ops_shapes():
    o, lse = tileattn.attention(*meta(), causal=True, return_lse=True)
    assert (o.shape, o.dtype, o.device.type) == ((2, 40, 4, 64), torch.bfloat16, "meta")
    assert (lse.shape, lse.dtype) == ((2, 4, 40), torch.float32)


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda q: q.float(), TypeError, r"^q: dtype torch.float32 is not supported: CUDA tensors are torch.float16 or torch.bfloat16"),
        (lambda q: q[0], ValueError, r"^q: expected 4 dimensions"),
        (lambda q: torch.empty(2, 40, 4, 128, dtype=q.dtype, device="meta")[..., ::2], ValueError, r"^q: the last dimension \(head_dim\) must be contiguous"),
        (lambda q: q.half(), TypeError, r"^k: dtype torch.bfloat16 differs from q's torch.float16"),
    ],
)
def test_gpu_path_refuses_bad_tensors(change, error, message):
    q, k, v = meta()
    with pytest.raises(error, match=message):
        tileattn.attention(change(q), k, v)


def test_gpu_tensors_compute_in_their_own_dtype():
    with pytest.raises(TypeError, match=r"^dtype='f16' differs from q's torch.bfloat16"):
        tileattn.attention(*meta(), dtype="f16")
    assert tileattn.attention(*meta(), dtype="bf16").dtype == torch.bfloat16


def test_variants_are_chosen_for_a_device():
    with pytest.raises(ValueError, match=r"^q: device meta: a choice of variant needs a CUDA device"):
        tileattn.variant_for(*meta())
    q, k, v = tensors(dtype=torch.bfloat16)
    assert tileattn.variant_for(q, k, v) == tileattn.variant_for(*[x.float().numpy() for x in (q, k, v)], dtype="bf16")


def test_the_custom_op_is_registered():
    schema = str(torch.ops.tileattn.attention.default._schema)
    assert schema == (
        "tileattn::attention(Tensor q, Tensor k, Tensor v, bool causal, float? scale, "
        "str? variant) -> (Tensor, Tensor)"
    )


def test_fake_cuda_tensors_trace_through_the_op():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        q, k, v = [torch.empty(x.shape, dtype=x.dtype, device="cuda") for x in meta()]
        o, lse = tileattn.attention(q, k, v, return_lse=True)
        assert (o.device.type, o.shape, lse.shape) == ("cuda", q.shape, (2, 4, 40))


def test_compile_fullgraph_puts_the_op_in_the_graph():
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    def attend(q, k, v):
        return tileattn.attention(q, k, v, causal=True, scale=0.1) * 2

    out = torch.compile(attend, fullgraph=True, backend=backend)(*meta())
    assert out.shape == (2, 40, 4, 64)
    assert "torch.ops.tileattn.attention(" in graphs[0].code
    assert "True, 0.1, None)" in graphs[0].code
