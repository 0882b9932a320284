//! The numbers the kernels compute right, checked on the host before any
//! launch, so a value outside them is refused with a message rather than
//! turned into NaN or ±∞ with exit 0.
//!
//! - **Inputs are finite in the compute dtype.** A NaN or ±∞ in Q, K or V, or
//!   an f32 value beyond the dtype's range (±65504 for f16), is refused with
//!   the tensor and the index of the first one: the kernels would propagate
//!   it only partly (the row maximum skips a NaN; a row whose sum is NaN
//!   reports LSE = −∞, the marker of a row that saw no key).
//! - **The softmax scale is finite and non-zero** ([`crate::problem`]); any
//!   sign (a negative one runs as |s| on −Q, [`crate::launch::staged_q`]).
//! - **Scaled scores stay where f32 resolves them.** v1–v3 fold the scale
//!   into the exponent as `2^(s·c − m)` with c = |scale|·log2 e, where the
//!   row maximum m = round(max s · c) is rounded to f32 but s·c − m is not
//!   (a fused multiply-add): the largest weight of a row is 2^(±ulp(m)/2)
//!   rather than 1. Past |m| = 2^24 that factor exceeds √2, and from 2^28 it
//!   overflows f16 (v1–v3 at scale 1e8 on standard-normal inputs gave NaN).
//!   [`check_scores`] bounds every score by Cauchy–Schwarz, |q·k| ≤
//!   max‖q_i‖·max‖k_j‖, and refuses inputs whose bound times c exceeds
//!   [`SCALED_SCORE_LIMIT`], or whose raw bound exceeds [`RAW_SCORE_LIMIT`]
//!   (the f32 accumulator of q·k).

use tileattn_kernels::DType;

use crate::element::from_bits;
use crate::problem::Problem;
use crate::tensor::Tensor;
use crate::{Error, Result};

/// The largest |score|·|scale|·log2 e accepted: 2^24, below which f32
/// resolves the row maximum to within ½, so no weight is above √2.
pub const SCALED_SCORE_LIMIT: f64 = 16_777_216.0;

/// The largest raw |q·k| accepted: 2^126, inside f32 with room to add.
pub const RAW_SCORE_LIMIT: f64 = 8.507_059_173_023_462e37;

/// A dense BSHD tensor of `dtype` from `values`, refused if any value is not
/// finite once rounded to `dtype`; the error names `name` and the first
/// offending index `[b, s, h, d]`.
pub fn tensor(name: &str, dtype: DType, shape: [u32; 4], values: &[f32]) -> Result<Tensor> {
    let t = Tensor::from_bshd_f32(dtype, shape, values);
    let bad = t
        .data
        .iter()
        .position(|&bits| !from_bits(dtype, bits).is_finite());
    if let Some(at) = bad {
        let x = values[at];
        let why = if x.is_nan() {
            "is NaN".to_string()
        } else if x.is_infinite() {
            format!("is {x}")
        } else {
            format!(
                "= {x:e} is beyond {}'s range (largest finite ±{:e})",
                dtype.name(),
                largest_finite(dtype)
            )
        };
        return Err(Error::Invalid(format!(
            "{name}{:?} {why}: inputs must be finite in the compute dtype",
            bshd_index(shape, at)
        )));
    }
    Ok(t)
}

fn largest_finite(dtype: DType) -> f32 {
    match dtype {
        DType::F16 => half::f16::MAX.to_f32(),
        DType::Bf16 => half::bf16::MAX.to_f32(),
    }
}

/// `[b, s, h, d]` of element `at` of a dense BSHD tensor.
fn bshd_index([_, s, h, d]: [u32; 4], at: usize) -> [usize; 4] {
    let (s, h, d) = (s as usize, h as usize, d as usize);
    [at / (s * h * d), at / (h * d) % s, at / d % h, at % d]
}

/// Refuse inputs whose scores could leave the range the kernels resolve
/// (see the module documentation), saying which scales these inputs allow.
pub fn check_scores(p: &Problem, q: &Tensor, k: &Tensor) -> Result<()> {
    let bound = max_row_norm(q) * max_row_norm(k);
    let c = p.softmax_scale.abs() as f64 * std::f64::consts::LOG2_E;
    if bound > RAW_SCORE_LIMIT {
        return Err(Error::Invalid(format!(
            "scores q·k could reach {bound:.3e} (the largest row norms of q and k multiplied), \
             beyond the 2^126 ≈ {RAW_SCORE_LIMIT:.3e} the f32 accumulator keeps: use smaller inputs"
        )));
    }
    if bound * c > SCALED_SCORE_LIMIT {
        return Err(Error::Invalid(format!(
            "softmax scale {}: scaled scores could reach {:.3e} (|scale| · log2 e · max‖q_i‖ · \
             max‖k_j‖ = {c:.3e} · {bound:.3e}), beyond the 2^24 the kernels resolve; \
             with these inputs |scale| must be at most {:.3e}",
            p.softmax_scale,
            bound * c,
            SCALED_SCORE_LIMIT / (bound * std::f64::consts::LOG2_E)
        )));
    }
    Ok(())
}

/// The largest Euclidean norm of a row (one head-dim vector) of `t`.
fn max_row_norm(t: &Tensor) -> f64 {
    let mut max = 0f64;
    for b in 0..t.batch {
        for s in 0..t.seq {
            for h in 0..t.heads {
                let at = t.offset(b, s, h);
                let row = &t.data[at..at + t.dim as usize];
                let sq: f64 = row
                    .iter()
                    .map(|&x| (from_bits(t.dtype, x) as f64).powi(2))
                    .sum();
                max = max.max(sq.sqrt());
            }
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_tensor_and_the_first_bad_index() {
        let shape = [1, 2, 2, 64];
        let mut values = vec![0.5f32; 256];
        assert!(tensor("q", DType::F16, shape, &values).is_ok());
        values[64 * 3 + 5] = f32::NAN; // [0, 1, 1, 5]
        values[200] = f32::INFINITY;
        let e = tensor("q", DType::F16, shape, &values)
            .unwrap_err()
            .to_string();
        assert!(e.contains("q[0, 1, 1, 5] is NaN"), "{e}");
        values[64 * 3 + 5] = 1e5; // finite in f32 and bf16, not in f16
        let e = tensor("k", DType::F16, shape, &values)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("k[0, 1, 1, 5] = 1e5 is beyond f16's range"),
            "{e}"
        );
        let e = tensor("v", DType::Bf16, shape, &values)
            .unwrap_err()
            .to_string();
        assert!(e.contains("v[0, 1, 1, 8] is inf"), "{e}");
    }

    #[test]
    fn refuses_scores_beyond_what_f32_resolves() {
        let mut p = Problem::new(1, 1, 1, 1, 1, 64, DType::Bf16, false);
        // Rows of 64 ones: norm 8, so |q·k| ≤ 64.
        let filled = |x: f32| Tensor::from_bshd_f32(DType::Bf16, [1, 1, 1, 64], &[x; 64]);
        let ones = filled(1.0);
        let largest = SCALED_SCORE_LIMIT / (64.0 * std::f64::consts::LOG2_E);
        p.softmax_scale = (largest * 0.999) as f32;
        assert!(check_scores(&p, &ones, &ones).is_ok());
        p.softmax_scale = -(largest * 1.001) as f32;
        let e = check_scores(&p, &ones, &ones).unwrap_err().to_string();
        assert!(e.contains("must be at most 1.817e5"), "{e}");
        // Huge inputs with a tiny scale: the raw scores bind.
        p.softmax_scale = 1e-33;
        assert!(check_scores(&p, &filled(1e18), &filled(1e18)).is_ok());
        let e = check_scores(&p, &filled(1e19), &filled(1e18))
            .unwrap_err()
            .to_string();
        assert!(e.contains("f32 accumulator"), "{e}");
    }
}
