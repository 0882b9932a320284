//! Host tensors of 16-bit elements with explicit strides, and the helpers the
//! checks use: fresh random data and NaN poisoning.

use half::{bf16, f16};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use tileattn_kernels::{DType, Strides};

use crate::{Error, Result};

/// Memory order of the outer three axes (head dim is always innermost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[batch, seq, head, dim]` (FlashAttention's and tileattn's default).
    Bshd,
    /// `[batch, head, seq, dim]` (PyTorch SDPA's).
    Bhsd,
}

/// A `[batch, seq, heads, dim]` tensor in some layout.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub dtype: DType,
    pub batch: u32,
    pub seq: u32,
    pub heads: u32,
    pub dim: u32,
    pub strides: Strides,
    pub data: Vec<u16>,
}

pub fn to_bits(dtype: DType, x: f32) -> u16 {
    match dtype {
        DType::F16 => f16::from_f32(x).to_bits(),
        DType::Bf16 => bf16::from_f32(x).to_bits(),
    }
}

pub fn from_bits(dtype: DType, b: u16) -> f32 {
    match dtype {
        DType::F16 => f16::from_bits(b).to_f32(),
        DType::Bf16 => bf16::from_bits(b).to_f32(),
    }
}

pub fn strides_for(layout: Layout, seq: u32, heads: u32, dim: u32) -> Strides {
    let (s, h, d) = (seq as i64, heads as i64, dim as i64);
    match layout {
        Layout::Bshd => Strides {
            batch: s * h * d,
            seq: h * d,
            head: d,
        },
        Layout::Bhsd => Strides {
            batch: h * s * d,
            seq: d,
            head: s * d,
        },
    }
}

impl Tensor {
    fn filled(
        dtype: DType,
        [batch, seq, heads, dim]: [u32; 4],
        layout: Layout,
        value: u16,
    ) -> Tensor {
        let len = batch as usize * seq as usize * heads as usize * dim as usize;
        Tensor {
            dtype,
            batch,
            seq,
            heads,
            dim,
            strides: strides_for(layout, seq, heads, dim),
            data: vec![value; len],
        }
    }

    /// Standard-normal entries, rounded to `dtype`: fresh for every check.
    pub fn random(dtype: DType, shape: [u32; 4], layout: Layout, rng: &mut impl Rng) -> Tensor {
        let mut t = Tensor::filled(dtype, shape, layout, 0);
        for x in t.data.iter_mut() {
            let v: f32 = StandardNormal.sample(rng);
            *x = to_bits(dtype, v);
        }
        t
    }

    /// Every element NaN: whatever a kernel fails to write stays NaN and fails the check.
    pub fn poisoned(dtype: DType, shape: [u32; 4], layout: Layout) -> Tensor {
        Tensor::filled(dtype, shape, layout, to_bits(dtype, f32::NAN))
    }

    /// A dense BSHD tensor from f32 values, each rounded to `dtype`.
    pub fn from_bshd_f32(dtype: DType, [b, s, h, d]: [u32; 4], values: &[f32]) -> Tensor {
        Tensor {
            dtype,
            batch: b,
            seq: s,
            heads: h,
            dim: d,
            strides: strides_for(Layout::Bshd, s, h, d),
            data: values.iter().map(|&x| to_bits(dtype, x)).collect(),
        }
    }

    pub fn offset(&self, b: u32, s: u32, h: u32) -> usize {
        self.strides.offset(b, s, h) as usize
    }

    pub fn get(&self, b: u32, s: u32, h: u32, d: u32) -> f32 {
        from_bits(self.dtype, self.data[self.offset(b, s, h) + d as usize])
    }

    /// Check that the strides address only elements inside `data`, with the
    /// head dim contiguous and no two (b, s, h) rows overlapping.
    pub fn validate(&self, name: &str) -> Result<()> {
        let st = self.strides;
        if [st.batch, st.seq, st.head].iter().any(|&x| x < 0) {
            return Err(Error::Invalid(format!(
                "{name}: negative strides {st:?} are not supported"
            )));
        }
        let axes = [
            (st.batch, self.batch),
            (st.seq, self.seq),
            (st.head, self.heads),
        ];
        let max = axes.iter().map(|&(s, n)| s * (n as i64 - 1)).sum::<i64>() + self.dim as i64;
        if max > self.data.len() as i64 {
            return Err(Error::Invalid(format!(
                "{name}: strides {st:?} reach element {max} of a buffer of {}",
                self.data.len()
            )));
        }
        // Rows must not overlap: sorted by stride, each axis must step past the span of the inner ones.
        let mut sorted: Vec<(i64, u32)> = axes.iter().copied().filter(|&(_, n)| n > 1).collect();
        sorted.sort();
        let mut span = self.dim as i64;
        for (stride, n) in sorted {
            if stride < span {
                return Err(Error::Invalid(format!(
                    "{name}: strides {st:?} make rows overlap (head dim {})",
                    self.dim
                )));
            }
            span += stride * (n as i64 - 1);
        }
        Ok(())
    }
}

/// Fresh random Q, K and V for `p` (BSHD shapes), all in `layout`: the inputs
/// of every correctness check and timing run.
pub fn random_inputs(
    p: &crate::problem::Problem,
    layout: Layout,
    rng: &mut impl Rng,
) -> [Tensor; 3] {
    let q = [p.batch, p.seqlen_q, p.heads_q, p.head_dim];
    let kv = [p.batch, p.seqlen_k, p.heads_kv, p.head_dim];
    [
        Tensor::random(p.dtype, q, layout, rng),
        Tensor::random(p.dtype, kv, layout, rng),
        Tensor::random(p.dtype, kv, layout, rng),
    ]
}
