"""The f64 reference the tests hold tileattn to, in numpy: the kernels'
semantics (host/src/reference.rs) on inputs rounded to the compute dtype."""

import numpy as np

# host/src/reference.rs: relative L2 error of O, and absolute LSE error.
O_TOLERANCE = {"f16": 2e-3, "bf16": 1e-2}
LSE_TOLERANCE = 1e-3


def round_to(dtype: str, x: np.ndarray) -> np.ndarray:
    """float32 values rounded to f16 or bf16 (nearest, ties to even), as float64."""
    x = np.asarray(x, dtype=np.float32)
    if dtype == "f16":
        return x.astype(np.float16).astype(np.float64)
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32).astype(np.float64)


def attention(q, k, v, causal, scale=None):
    """O [b, sq, hq, d] and LSE [b, hq, sq] in float64. K/V head of query head
    h: h // (hq // hkv). Causal: bottom-right aligned, query i sees keys
    j <= i + sk - sq; a row that sees none has O = 0 and LSE = -inf."""
    b, sq, hq, d = q.shape
    sk, hkv = k.shape[1], k.shape[2]
    scale = 1 / np.sqrt(d) if scale is None else scale
    group = hq // hkv
    kh = np.repeat(k, group, axis=2)  # [b, sk, hq, d]
    vh = np.repeat(v, group, axis=2)
    s = scale * np.einsum("bqhd,bkhd->bhqk", q, kh)
    if causal:
        visible = np.arange(sk)[None, :] <= np.arange(sq)[:, None] + sk - sq
        s = np.where(visible, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m_safe = np.where(np.isfinite(m), m, 0.0)
    p = np.exp(s - m_safe)
    total = p.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        o = np.einsum("bhqk,bkhd->bqhd", np.where(total > 0, p / total, 0.0), vh)
        lse = np.where(total[..., 0] > 0, np.log(total[..., 0]) + m_safe[..., 0], -np.inf)
    return o, lse


def assert_close(dtype, o, lse, o_ref, lse_ref):
    """tileattn's tolerances: relative L2 of O, absolute LSE (-inf exactly)."""
    assert o.dtype == np.float32 and lse.dtype == np.float32
    assert np.isfinite(o).all()
    rel_l2 = np.linalg.norm(o - o_ref) / max(np.linalg.norm(o_ref), 1e-30)
    assert rel_l2 <= O_TOLERANCE[dtype], f"rel L2 {rel_l2:.3e} > {O_TOLERANCE[dtype]}"
    empty = np.isneginf(lse_ref)
    assert (np.isneginf(lse) == empty).all(), "rows that see no key: LSE must be -inf, only there"
    err = np.abs(lse[~empty] - lse_ref[~empty]).max(initial=0.0)
    assert err <= LSE_TOLERANCE, f"LSE error {err:.3e} > {LSE_TOLERANCE}"
