//! What every launch checks and builds, whether it runs on the GPU or on the
//! CPU emulator: the problem against the variant and the tensors, and the
//! `AttnParams` the kernel receives.

use std::borrow::Cow;

use tileattn_kernels::{AttnParams, Strides};

use crate::problem::Problem;
use crate::registry::Variant;
use crate::tensor::Tensor;
use crate::{Error, Result};

/// Shape, dtype and strides of one tensor argument, wherever its data lives.
#[derive(Clone, Copy, Debug)]
pub struct TensorDesc {
    pub dtype: tileattn_kernels::DType,
    /// `[batch, seq, heads, dim]`.
    pub shape: [u32; 4],
    pub strides: Strides,
}

/// Check a launch before it happens: the problem is valid, the variant computes
/// it, and each tensor has the problem's shape and dtype.
pub fn check(
    variant: &Variant,
    p: &Problem,
    q: &TensorDesc,
    k: &TensorDesc,
    v: &TensorDesc,
    o: &TensorDesc,
) -> Result<()> {
    p.validate()?;
    if !variant.serves(p) {
        return Err(Error::Invalid(format!(
            "variant {} computes {} d={} {}, not the problem {p}",
            variant.name,
            variant.dtype.name(),
            variant.tile.head_dim,
            if variant.causal {
                "causal"
            } else {
                "non-causal"
            }
        )));
    }
    // v1 and v2 copy 16-byte chunks: every row must start 16-byte aligned.
    let chunk = 8;
    let aligned = |t: &TensorDesc| {
        [t.strides.batch, t.strides.seq, t.strides.head]
            .iter()
            .all(|s| s % chunk == 0)
    };
    let tensors = [("q", q), ("k", k), ("v", v), ("o", o)];
    if variant.tile.family.pipelined()
        && let Some((name, t)) = tensors.iter().find(|(_, t)| !aligned(t))
    {
        let Strides { batch, seq, head } = t.strides;
        return Err(Error::Invalid(format!(
            "{} needs strides that are multiples of {chunk} elements (16-byte rows); \
             {name} has strides [{batch}, {seq}, {head}, 1] [B,S,H,D]",
            variant.name
        )));
    }
    let want_q = [p.batch, p.seqlen_q, p.heads_q, p.head_dim];
    let want_kv = [p.batch, p.seqlen_k, p.heads_kv, p.head_dim];
    for (name, t, want) in [
        ("q", q, want_q),
        ("k", k, want_kv),
        ("v", v, want_kv),
        ("o", o, want_q),
    ] {
        if t.dtype != p.dtype {
            return Err(Error::Invalid(format!(
                "{name} is {}, the problem is {}",
                t.dtype.name(),
                p.dtype.name()
            )));
        }
        if t.shape != want {
            return Err(Error::Invalid(format!(
                "{name} has shape {:?} [B,S,H,D], expected {want:?}",
                t.shape
            )));
        }
    }
    Ok(())
}

/// Q as the kernels must receive it for `p`, with [`params`]' scale |s|.
///
/// The kernels fold the scale into the exponent after taking each row's
/// maximum raw score, and mask keys with −∞ before scaling: both right only
/// for a positive scale (a negative one turns the maximum into the minimum
/// and −∞ into +∞, so O is NaN). softmax(s·q·kᵀ) = softmax(|s|·(−q)·kᵀ), and
/// the log-sum-exp is the same, so a negative scale runs as |s| on −Q; the
/// negation is exact in f16 and bf16. Done here, on the host, for the GPU and
/// the emulator alike, so the kernels (and their PTX) stay as measured.
pub fn staged_q<'a>(p: &Problem, q: &'a Tensor) -> Cow<'a, Tensor> {
    if p.softmax_scale.is_sign_negative() {
        Cow::Owned(q.negated())
    } else {
        Cow::Borrowed(q)
    }
}

/// The kernel parameters for tensors at the given addresses; Q must be
/// [`staged_q`]'s.
pub fn params(
    p: &Problem,
    addr: [u64; 5],
    q: &TensorDesc,
    k: &TensorDesc,
    v: &TensorDesc,
    o: &TensorDesc,
) -> AttnParams {
    AttnParams {
        q: addr[0],
        k: addr[1],
        v: addr[2],
        o: addr[3],
        lse: addr[4],
        q_strides: q.strides,
        k_strides: k.strides,
        v_strides: v.strides,
        o_strides: o.strides,
        batch: p.batch,
        heads_q: p.heads_q,
        heads_kv: p.heads_kv,
        seqlen_q: p.seqlen_q,
        seqlen_k: p.seqlen_k,
        softmax_scale: p.softmax_scale.abs(),
        // Set by the launch paths of the families that use the copy engine.
        tma: 0,
    }
}

/// Elements of the LSE output, `[batch, heads_q, seqlen_q]`.
pub fn lse_len(p: &Problem) -> usize {
    p.batch as usize * p.heads_q as usize * p.seqlen_q as usize
}
