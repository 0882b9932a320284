//! Host tensors of 16-bit elements with explicit strides, and the helpers the
//! checks use: fresh random data and NaN poisoning.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use tileattn_kernels::{DType, Strides};

use crate::element::{from_bits, to_bits};
use crate::operand_values::OperandValues;
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

    /// Standard-normal entries, rounded to `values` and stored in `dtype`:
    /// fresh for every check. The draws do not depend on `values`.
    pub fn random(
        dtype: DType,
        values: OperandValues,
        shape: [u32; 4],
        layout: Layout,
        rng: &mut impl Rng,
    ) -> Tensor {
        let mut t = Tensor::filled(dtype, shape, layout, 0);
        for x in t.data.iter_mut() {
            let v: f32 = StandardNormal.sample(rng);
            *x = values.to_bits(dtype, v);
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

    /// Every element negated: exact in f16 and bf16 (the sign bit flips).
    pub fn negated(&self) -> Tensor {
        const SIGN: u16 = 0x8000;
        Tensor {
            data: self.data.iter().map(|x| x ^ SIGN).collect(),
            ..self.clone()
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

/// Fresh random Q, K and V for `p` (BSHD shapes, values as `p.operand_values`
/// says), all in `layout`: the inputs of every correctness check and timing run.
pub fn random_inputs(
    p: &crate::problem::Problem,
    layout: Layout,
    rng: &mut impl Rng,
) -> [Tensor; 3] {
    let q = [p.batch, p.seqlen_q, p.heads_q, p.head_dim];
    let kv = [p.batch, p.seqlen_k, p.heads_kv, p.head_dim];
    [
        Tensor::random(p.dtype, p.operand_values, q, layout, rng),
        Tensor::random(p.dtype, p.operand_values, kv, layout, rng),
        Tensor::random(p.dtype, p.operand_values, kv, layout, rng),
    ]
}

#[cfg(test)]
mod tests {
    use half::f16;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::problem::Problem;

    fn inputs(p: &Problem, layout: Layout, seed: u64) -> [Tensor; 3] {
        random_inputs(p, layout, &mut StdRng::seed_from_u64(seed))
    }

    fn sha256_hex(ts: &[Tensor; 3]) -> String {
        let mut h = Sha256::new();
        for x in ts.iter().flat_map(|t| &t.data) {
            h.update(x.to_le_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The default inputs are the ones tileattn drew before operand values
    /// existed: digests of `random_inputs` taken from the code of that time
    /// (commit 7d53100). A change to the draws (the generator, the
    /// distribution, a dependency's version) or to their rounding fails here,
    /// since it changes the inputs of every check and benchmark.
    #[test]
    fn default_inputs_are_bit_identical_to_before_operand_values() {
        let golden = [
            (
                DType::F16,
                "a4615626308d8f670050807bb7fa9bdc43a28278656de551018f0e0a5bb1e24f",
            ),
            (
                DType::Bf16,
                "7dd9df28cb13784955704cab05fe48f5dd0eb628b254ab3270224bb261be242a",
            ),
        ];
        for (dtype, digest) in golden {
            let p = Problem::new(2, 4, 2, 33, 47, 64, dtype, false);
            for layout in [Layout::Bshd, Layout::Bhsd] {
                assert_eq!(sha256_hex(&inputs(&p, layout, 7)), digest, "{dtype:?}");
            }
        }
    }

    /// f16 with bf16 values computes on its bf16 twin's numbers: the same draws,
    /// the same values, except where f16 cannot hold a bf16 value exactly
    /// (magnitudes under 2^-17, a few per million).
    #[test]
    fn f16_with_bf16_values_holds_the_bf16_problems_numbers() {
        let twin = Problem::new(2, 4, 2, 300, 500, 128, DType::Bf16, true);
        let p = Problem {
            dtype: DType::F16,
            operand_values: OperandValues::Bf16,
            ..twin
        };
        let (ours, theirs) = (inputs(&p, Layout::Bshd, 5), inputs(&twin, Layout::Bshd, 5));
        let mut differ = 0;
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a.dtype, DType::F16);
            for (&x, &y) in a.data.iter().zip(&b.data) {
                let (x, y) = (f16::from_bits(x).to_f32(), from_bits(DType::Bf16, y));
                if x != y {
                    assert!(y.abs() < 2f32.powi(-17), "{x:e} vs bf16 {y:e}");
                    differ += 1;
                }
            }
        }
        let elements: usize = ours.iter().map(|t| t.data.len()).sum();
        assert!(differ * 10_000 < elements, "{differ} of {elements}");
        // The plain f16 inputs of the same seed are other numbers.
        let plain = inputs(
            &Problem {
                dtype: DType::F16,
                ..twin
            },
            Layout::Bshd,
            5,
        );
        assert_ne!(plain[0].data, ours[0].data);
    }
}
