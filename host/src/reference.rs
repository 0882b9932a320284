//! The f64 CPU reference with exactly the kernels' semantics, and the
//! comparison every correctness check uses.
//!
//! Semantics: `O[b,i,h] = softmax_j(scale · q·k_j) · V` over the keys row `i`
//! may see (all, or bottom-right causal: `j ≤ i + Sk − Sq`); K/V head
//! `h / (Hq/Hkv)`; `LSE[b,h,i] = ln Σ_j exp(scale · q·k_j)`. A row that sees no
//! key has `O = 0` and `LSE = −∞`.

use tileattn_kernels::mask::causal_key_end;

use crate::problem::Problem;
use crate::tensor::Tensor;

/// Reference outputs: O dense `[batch, seqlen_q, heads_q, dim]`, LSE `[batch, heads_q, seqlen_q]`.
pub struct Reference {
    pub o: Vec<f64>,
    pub lse: Vec<f64>,
}

/// One (batch, head)'s O rows and LSE.
type HeadResult = (u32, u32, Vec<f64>, Vec<f64>);

/// Compute the reference, in parallel over (batch, head).
pub fn attention(p: &Problem, q: &Tensor, k: &Tensor, v: &Tensor) -> Reference {
    let (sq, hq, d) = (p.seqlen_q as usize, p.heads_q as usize, p.head_dim as usize);
    let mut o = vec![0f64; p.batch as usize * sq * hq * d];
    let mut lse = vec![0f64; p.batch as usize * hq * sq];
    let pairs: Vec<(u32, u32)> = (0..p.batch)
        .flat_map(|b| (0..p.heads_q).map(move |h| (b, h)))
        .collect();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = pairs.len().div_ceil(workers).max(1);
    let results: Vec<Vec<HeadResult>> = std::thread::scope(|s| {
        pairs
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|&(b, h)| {
                            let (oh, lh) = head(p, q, k, v, b, h);
                            (b, h, oh, lh)
                        })
                        .collect()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|j| j.join().expect("reference worker panicked"))
            .collect()
    });
    for (b, h, oh, lh) in results.into_iter().flatten() {
        for i in 0..sq {
            let dst = ((b as usize * sq + i) * hq + h as usize) * d;
            o[dst..dst + d].copy_from_slice(&oh[i * d..(i + 1) * d]);
            lse[(b as usize * hq + h as usize) * sq + i] = lh[i];
        }
    }
    Reference { o, lse }
}

/// One (batch, head): O rows `[seqlen_q][d]` and LSE `[seqlen_q]`.
fn head(p: &Problem, q: &Tensor, k: &Tensor, v: &Tensor, b: u32, h: u32) -> (Vec<f64>, Vec<f64>) {
    let d = p.head_dim as usize;
    let kvh = h / (p.heads_q / p.heads_kv);
    let scale = p.softmax_scale as f64;
    let row = |t: &Tensor, s: u32, hh: u32| -> Vec<f64> {
        (0..d as u32).map(|c| t.get(b, s, hh, c) as f64).collect()
    };
    let keys: Vec<Vec<f64>> = (0..p.seqlen_k).map(|j| row(k, j, kvh)).collect();
    let vals: Vec<Vec<f64>> = (0..p.seqlen_k).map(|j| row(v, j, kvh)).collect();
    let mut o = vec![0f64; p.seqlen_q as usize * d];
    let mut lse = vec![f64::NEG_INFINITY; p.seqlen_q as usize];
    for i in 0..p.seqlen_q {
        let end = if p.causal {
            causal_key_end(i, p.seqlen_q, p.seqlen_k) as usize
        } else {
            p.seqlen_k as usize
        };
        if end == 0 {
            continue;
        }
        let qi = row(q, i, h);
        let scores: Vec<f64> = keys[..end].iter().map(|kj| scale * dot(&qi, kj)).collect();
        let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let sum: f64 = weights.iter().sum();
        let out = &mut o[i as usize * d..(i as usize + 1) * d];
        for (w, vj) in weights.iter().zip(&vals) {
            let p = w / sum;
            for (oc, vc) in out.iter_mut().zip(vj) {
                *oc += p * vc;
            }
        }
        lse[i as usize] = max + sum.ln();
    }
    (o, lse)
}

/// Dot product with four independent f64 partial sums: the compiler may not
/// reorder one f64 sum, so a single accumulator runs at one add per cycle;
/// four let the sweep's reference keep up with the GPU (the order changes the
/// result only in the last f64 bits).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0f64; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a4.zip(b4) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// How far a kernel's outputs are from the reference.
#[derive(Clone, Copy, Debug)]
pub struct Comparison {
    /// ‖out − ref‖₂ / ‖ref‖₂ over O; NaN if any output is not finite.
    pub rel_l2: f64,
    /// max |lse − ref| over rows with a finite reference; NaN if a row disagrees on finiteness.
    pub lse_max_abs: f64,
}

/// Tolerances of DEVELOPERS.md: relative L2 error of O per dtype, absolute LSE error.
pub fn tolerance(dtype: tileattn_kernels::DType) -> f64 {
    match dtype {
        tileattn_kernels::DType::F16 => 2e-3,
        tileattn_kernels::DType::Bf16 => 1e-2,
    }
}
pub const LSE_TOLERANCE: f64 = 1e-3;

impl Comparison {
    /// NaN never passes: `NaN <= tol` is false.
    pub fn passes(&self, dtype: tileattn_kernels::DType) -> bool {
        self.rel_l2 <= tolerance(dtype) && self.lse_max_abs <= LSE_TOLERANCE
    }
}

/// Compare kernel outputs (O as a tensor in any layout, LSE dense f32) with the reference.
pub fn compare(p: &Problem, reference: &Reference, o: &Tensor, lse: &[f32]) -> Comparison {
    let d = p.head_dim as usize;
    let (mut num, mut den, mut finite) = (0f64, 0f64, true);
    for b in 0..p.batch {
        for i in 0..p.seqlen_q {
            for h in 0..p.heads_q {
                let r = ((b as usize * p.seqlen_q as usize + i as usize) * p.heads_q as usize
                    + h as usize)
                    * d;
                for c in 0..d {
                    let x = o.get(b, i, h, c as u32) as f64;
                    finite &= x.is_finite();
                    let e = x - reference.o[r + c];
                    num += e * e;
                    den += reference.o[r + c] * reference.o[r + c];
                }
            }
        }
    }
    let rel_l2 = if !finite {
        f64::NAN
    } else if den > 0.0 {
        (num / den).sqrt()
    } else {
        num.sqrt()
    };
    let mut lse_max_abs = 0f64;
    for (&got, &want) in lse.iter().zip(&reference.lse) {
        let got = got as f64;
        if want.is_finite() {
            let e = (got - want).abs();
            lse_max_abs = if e.is_nan() {
                f64::NAN
            } else {
                lse_max_abs.max(e)
            };
        } else if got != f64::NEG_INFINITY {
            lse_max_abs = f64::NAN;
        }
        if lse_max_abs.is_nan() {
            break;
        }
    }
    Comparison {
        rel_l2,
        lse_max_abs,
    }
}
