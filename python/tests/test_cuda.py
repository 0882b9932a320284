"""torch CUDA tensors on the GPU, against torch's own attention (SDPA's math
on float32 copies of the same inputs); torch.compile and CUDA graphs. Skipped
without a GPU: scripts/device/python.sh runs them on the GPU machine."""

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)

import torch.nn.functional as F  # noqa: E402

import tileattn  # noqa: E402

# host/src/reference.rs: relative L2 error of O, absolute LSE error.
O_TOLERANCE = {torch.float16: 2e-3, torch.bfloat16: 1e-2}
LSE_TOLERANCE = 1e-3


def sdpa(q, k, v, causal, scale=None):
    """O [b, sq, hq, d] and LSE [b, hq, sq] in float32 from SDPA's math on
    float32 BHSD copies, K/V heads repeated per group, the causal mask
    bottom-right aligned (query i sees keys j <= i + sk - sq)."""
    sq, hq, d = q.shape[1:]
    sk, hkv = k.shape[1:3]
    scale = d**-0.5 if scale is None else scale
    qf, kf, vf = (x.float().transpose(1, 2) for x in (q, k, v))
    kf, vf = (x.repeat_interleave(hq // hkv, dim=1) for x in (kf, vf))
    mask = None
    if causal:
        i = torch.arange(sq, device=q.device)[:, None]
        mask = torch.arange(sk, device=q.device)[None, :] <= i + sk - sq
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
        o = F.scaled_dot_product_attention(qf, kf, vf, attn_mask=mask, scale=scale)
    s = scale * qf @ kf.transpose(-1, -2)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return o.transpose(1, 2), torch.logsumexp(s, dim=-1)


def assert_close(o, o_ref, dtype, lse=None, lse_ref=None):
    rel_l2 = ((o.float() - o_ref.float()).norm() / o_ref.float().norm()).item()
    assert rel_l2 <= O_TOLERANCE[dtype], f"rel L2 {rel_l2:.3e}"
    if lse is not None:
        lse_err = (lse - lse_ref).abs().max().item()
        assert lse_err <= LSE_TOLERANCE, f"LSE error {lse_err:.3e}"


def tensors(b, sq, sk, hq, hkv, d, dtype, seed=0):
    gen = torch.Generator(device="cuda").manual_seed(seed)
    make = lambda s: torch.randn(s, generator=gen, device="cuda", dtype=dtype)  # noqa: E731
    return make((b, sq, hq, d)), make((b, sk, hkv, d)), make((b, sk, hkv, d))


# (b, sq, sk, hq, hkv, d): MHA, GQA, MQA; ragged lengths; sq != sk.
SHAPES = [
    (2, 128, 128, 8, 8, 64),
    (1, 257, 1000, 16, 4, 128),
    (3, 77, 77, 6, 1, 64),
    (2, 1024, 333, 8, 2, 128),
    (1, 1, 515, 4, 4, 64),
]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matches_sdpa(shape, causal, dtype):
    b, sq, sk, hq, hkv, d = shape
    if causal and sq > sk:
        pytest.skip("rows without keys: SDPA's math gives NaN there (test_emulated covers them)")
    q, k, v = tensors(*shape, dtype)
    o, lse = tileattn.attention(q, k, v, causal=causal, return_lse=True)
    assert (o.shape, o.dtype, o.device) == (q.shape, dtype, q.device)
    assert (lse.shape, lse.dtype) == ((b, hq, sq), torch.float32)
    o_ref, lse_ref = sdpa(q, k, v, causal)
    assert_close(o, o_ref, dtype, lse, lse_ref)


def test_bhsd_strides_run_in_place():
    q, k, v = (x.transpose(1, 2).contiguous().transpose(1, 2) for x in tensors(2, 200, 300, 8, 2, 64, torch.bfloat16))
    assert q.stride() == (200 * 8 * 64, 64, 200 * 64, 1)
    o, lse = tileattn.attention(q, k, v, causal=True, scale=0.2, return_lse=True)
    o_ref, lse_ref = sdpa(q, k, v, True, 0.2)
    assert_close(o, o_ref, torch.bfloat16, lse, lse_ref)


def test_runs_on_the_current_stream_and_device():
    q, k, v = tensors(4, 512, 512, 8, 8, 64, torch.float16)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        o = tileattn.attention(q, k, v)
        expected = sdpa(q, k, v, False)[0]
    side.synchronize()
    assert_close(o, expected, torch.float16)
    assert torch.cuda.current_device() == q.device.index


def test_what_a_zero_copy_launch_cannot_do_is_refused():
    base = torch.randn(1, 64, 2, 72, device="cuda", dtype=torch.float16)
    q = base[..., 1:65]  # head_dim contiguous, but rows start 2 bytes off
    k = v = base[..., :64].contiguous()
    with pytest.raises(ValueError, match=r"q: data pointer 0x[0-9a-f]+ is not 16-byte aligned"):
        tileattn.attention(q, k, v, variant=_family_variant("v1", "d64_f16", False))
    rows = torch.randn(1, 64, 2, 68, device="cuda", dtype=torch.float16)[..., :64]
    with pytest.raises(ValueError, match=r"multiples of 8 elements \(16-byte rows\); v has strides \[8704, 136, 68, 1\]"):
        tileattn.attention(k, k, rows, variant=_family_variant("v1", "d64_f16", False))
    with pytest.raises(ValueError, match=r"negative scale runs as \|scale\| on -q"):
        tileattn.attention(k, k, v, scale=-0.1)


def _family_variant(family, infix, causal):
    end = "_causal" if causal else "_noncausal"
    return next(n for n in tileattn.variants() if n.startswith(f"attn_fwd_{family}_{infix}_") and n.endswith(end))


def test_cuda_graph_replays_the_launch():
    q, k, v = tensors(2, 300, 300, 8, 2, 128, torch.bfloat16)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up (module load, choice) off the graph
        tileattn.attention(q, k, v, causal=True)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        o = tileattn.attention(q, k, v, causal=True)
    for seed in (1, 2):
        for x, y in zip((q, k, v), tensors(2, 300, 300, 8, 2, 128, torch.bfloat16, seed)):
            x.copy_(y)
        graph.replay()
        torch.cuda.synchronize()
        assert torch.equal(o, tileattn.attention(q, k, v, causal=True))


class Attention(torch.nn.Module):
    def __init__(self, dim=512, heads=8):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(dim, 3 * dim)

    def forward(self, x):
        b, s, dim = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, dim // self.heads).unbind(2)
        return tileattn.attention(q, k, v, causal=True).reshape(b, s, dim)


@pytest.mark.parametrize("mode", [None, "reduce-overhead"])
def test_compile_fullgraph_matches_eager(mode):
    torch.manual_seed(0)
    model = Attention().cuda().half()
    x = torch.randn(4, 256, 512, device="cuda", dtype=torch.float16)
    compiled = torch.compile(model, fullgraph=True, mode=mode)
    with torch.no_grad():
        eager = model(x)
        for _ in range(3):  # reduce-overhead records its CUDA graph on a later call
            out = compiled(x)
    assert_close(out, eager, torch.float16)


def test_no_gradient_is_cut_silently():
    q, k, v = tensors(1, 64, 64, 2, 2, 64, torch.float16)
    o = tileattn.attention(q.requires_grad_(), k, v)
    with pytest.raises(RuntimeError, match=r"no autograd formula was registered"):
        o.sum().backward()
