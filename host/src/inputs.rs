//! A caller's Q, K and V turned into a problem and the kernels' inputs: the
//! checks every front end makes before a variant is chosen (the CLI's `run`,
//! the Python package), so that each refuses the same inputs with the same
//! message.

use tileattn_kernels::DType;

use crate::problem::Problem;
use crate::tensor::Tensor;
use crate::{Error, Result, domain, memory};

/// The problem of Q `[batch, seqlen_q, heads_q, head_dim]` and K, V `[batch,
/// seqlen_k, heads_kv, head_dim]` (BSHD shapes, whatever the strides), in
/// `dtype`, with the softmax scale `scale` (default 1/√head_dim); refused
/// unless the kernels compute it.
pub fn problem(
    q: [u32; 4],
    k: [u32; 4],
    v: [u32; 4],
    dtype: DType,
    causal: bool,
    scale: Option<f32>,
) -> Result<Problem> {
    if k != v {
        return Err(Error::Invalid(format!("k has shape {k:?} but v has {v:?}")));
    }
    if q[0] != k[0] || q[3] != k[3] {
        return Err(Error::Invalid(format!(
            "q {q:?} and k {k:?} disagree on batch or head_dim"
        )));
    }
    let mut p = Problem::new(q[0], q[2], k[2], q[1], k[1], q[3], dtype, causal);
    if let Some(s) = scale {
        p.softmax_scale = s;
    }
    p.validate()?;
    Ok(p)
}

/// Q, K and V of `p` from dense BSHD f32 values, each rounded to `p.dtype`;
/// refused if the host lacks the memory for a run, or a value is outside what
/// the kernels compute right ([`domain`]).
pub fn tensors(p: &Problem, q: &[f32], k: &[f32], v: &[f32]) -> Result<[Tensor; 3]> {
    memory::check_host(p, 1)?;
    let q_shape = [p.batch, p.seqlen_q, p.heads_q, p.head_dim];
    let kv_shape = [p.batch, p.seqlen_k, p.heads_kv, p.head_dim];
    for (name, values, [b, s, h, d]) in [("q", q, q_shape), ("k", k, kv_shape), ("v", v, kv_shape)]
    {
        let want = b as usize * s as usize * h as usize * d as usize;
        if values.len() != want {
            return Err(Error::Invalid(format!(
                "{name} holds {} values, its shape {:?} needs {want}",
                values.len(),
                [b, s, h, d]
            )));
        }
    }
    let tensors = [
        domain::tensor("q", p.dtype, q_shape, q)?,
        domain::tensor("k", p.dtype, kv_shape, k)?,
        domain::tensor("v", p.dtype, kv_shape, v)?,
    ];
    domain::check_scores(p, &tensors[0], &tensors[1])?;
    Ok(tensors)
}

/// The values of `t` as dense BSHD f32, whatever its layout.
pub fn bshd_f32(t: &Tensor) -> Vec<f32> {
    let mut out = Vec::with_capacity(t.data.len());
    for b in 0..t.batch {
        for s in 0..t.seq {
            for h in 0..t.heads {
                out.extend((0..t.dim).map(|d| t.get(b, s, h, d)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{Layout, strides_for};

    #[test]
    fn refuses_shapes_that_disagree() {
        let q = [2, 16, 4, 64];
        let e = |k, v| {
            problem(q, k, v, DType::F16, false, None)
                .unwrap_err()
                .to_string()
        };
        assert!(e([2, 8, 2, 64], [2, 8, 1, 64]).contains("k has shape [2, 8, 2, 64] but v has"));
        assert!(e([1, 8, 2, 64], [1, 8, 2, 64]).contains("disagree on batch or head_dim"));
        assert!(e([2, 8, 3, 64], [2, 8, 3, 64]).contains("not a multiple of heads_kv = 3"));
        let p = problem(
            q,
            [2, 8, 2, 64],
            [2, 8, 2, 64],
            DType::Bf16,
            true,
            Some(0.5),
        )
        .unwrap();
        assert_eq!((p.heads_kv, p.seqlen_k, p.softmax_scale), (2, 8, 0.5));
    }

    #[test]
    fn refuses_value_counts_that_miss_the_shape() {
        let shape = [1, 2, 1, 64];
        let p = problem(shape, shape, shape, DType::F16, false, None).unwrap();
        let full = vec![0.25f32; 128];
        assert!(tensors(&p, &full, &full, &full).is_ok());
        let e = tensors(&p, &full, &full[1..], &full)
            .unwrap_err()
            .to_string();
        assert!(e.contains("k holds 127 values"), "{e}");
    }

    #[test]
    fn bshd_values_come_back_from_any_layout() {
        let values: Vec<f32> = (0..2 * 3 * 2 * 64).map(|i| i as f32).collect();
        let mut t = Tensor::from_bshd_f32(DType::F16, [2, 3, 2, 64], &values);
        assert_eq!(bshd_f32(&t), values);
        // The same values stored BHSD.
        let bshd = t.clone();
        t.strides = strides_for(Layout::Bhsd, 3, 2, 64);
        for b in 0..2 {
            for s in 0..3 {
                for h in 0..2 {
                    let (from, to) = (bshd.offset(b, s, h), t.offset(b, s, h));
                    t.data[to..to + 64].copy_from_slice(&bshd.data[from..from + 64]);
                }
            }
        }
        assert_eq!(bshd_f32(&t), values);
    }
}
