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
    let kv = HeadKv::load(p, k, v, b, h);
    let mut o = vec![0f64; p.seqlen_q as usize * d];
    let mut lse = vec![f64::NEG_INFINITY; p.seqlen_q as usize];
    for i in 0..p.seqlen_q {
        let out = &mut o[i as usize * d..(i as usize + 1) * d];
        lse[i as usize] = kv.row(p, &tensor_row(q, b, i, h), i, out);
    }
    (o, lse)
}

/// A tensor row `[b, s, h, :]` in f64.
fn tensor_row(t: &Tensor, b: u32, s: u32, h: u32) -> Vec<f64> {
    (0..t.dim).map(|c| t.get(b, s, h, c) as f64).collect()
}

/// The keys and values one query head attends to, in f64.
struct HeadKv {
    keys: Vec<Vec<f64>>,
    vals: Vec<Vec<f64>>,
}

impl HeadKv {
    fn load(p: &Problem, k: &Tensor, v: &Tensor, b: u32, h: u32) -> HeadKv {
        let kvh = h / (p.heads_q / p.heads_kv);
        HeadKv {
            keys: (0..p.seqlen_k).map(|j| tensor_row(k, b, j, kvh)).collect(),
            vals: (0..p.seqlen_k).map(|j| tensor_row(v, b, j, kvh)).collect(),
        }
    }

    /// Query row `i` (values `qi`): writes its O row to `out` (left at 0 when
    /// the row sees no key) and returns its LSE.
    fn row(&self, p: &Problem, qi: &[f64], i: u32, out: &mut [f64]) -> f64 {
        let end = if p.causal {
            causal_key_end(i, p.seqlen_q, p.seqlen_k) as usize
        } else {
            p.seqlen_k as usize
        };
        if end == 0 {
            return f64::NEG_INFINITY;
        }
        let scale = p.softmax_scale as f64;
        let scores: Vec<f64> = self.keys[..end]
            .iter()
            .map(|kj| scale * dot(qi, kj))
            .collect();
        let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let sum: f64 = weights.iter().sum();
        for (w, vj) in weights.iter().zip(&self.vals) {
            let p = w / sum;
            for (oc, vc) in out.iter_mut().zip(vj) {
                *oc += p * vc;
            }
        }
        max + sum.ln()
    }
}

/// One query row of the output: batch, query head, query position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RowId {
    pub b: u32,
    pub h: u32,
    pub i: u32,
}

/// The reference for selected rows only: O rows `[rows][d]` and their LSE.
pub struct RowsReference {
    pub rows: Vec<RowId>,
    pub o: Vec<f64>,
    pub lse: Vec<f64>,
}

/// The reference of `rows` only, at a cost proportional to their number: how
/// large problems (where the full f64 reference would take minutes) are
/// verified. Rows of one (batch, head) share one load of its keys and values.
pub fn attention_rows(
    p: &Problem,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    rows: &[RowId],
) -> RowsReference {
    let d = p.head_dim as usize;
    let mut rows = rows.to_vec();
    rows.sort();
    rows.dedup();
    let mut o = vec![0f64; rows.len() * d];
    let mut lse = vec![f64::NEG_INFINITY; rows.len()];
    let mut start = 0;
    while start < rows.len() {
        let (b, h) = (rows[start].b, rows[start].h);
        let end = start + rows[start..].partition_point(|r| (r.b, r.h) == (b, h));
        let kv = HeadKv::load(p, k, v, b, h);
        for (n, r) in rows.iter().enumerate().take(end).skip(start) {
            lse[n] = kv.row(
                p,
                &tensor_row(q, b, r.i, h),
                r.i,
                &mut o[n * d..(n + 1) * d],
            );
        }
        start = end;
    }
    RowsReference { rows, o, lse }
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

/// Tolerances of docs/correctness.md: relative L2 error of O per dtype, absolute LSE error.
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
    let mut acc = ErrorSums::default();
    for b in 0..p.batch {
        for i in 0..p.seqlen_q {
            for h in 0..p.heads_q {
                let r = ((b as usize * p.seqlen_q as usize + i as usize) * p.heads_q as usize
                    + h as usize)
                    * d;
                acc.add_o_row(o, RowId { b, h, i }, &reference.o[r..r + d]);
            }
        }
    }
    for (&got, &want) in lse.iter().zip(&reference.lse) {
        acc.add_lse(got, want);
    }
    acc.comparison()
}

/// Compare the selected rows of kernel outputs with [`attention_rows`]' reference.
/// Without an LSE (implementations that do not return one) only O is compared
/// and `lse_max_abs` is 0.
pub fn compare_rows(
    p: &Problem,
    reference: &RowsReference,
    o: &Tensor,
    lse: Option<&[f32]>,
) -> Comparison {
    let d = p.head_dim as usize;
    let mut acc = ErrorSums::default();
    for (n, &r) in reference.rows.iter().enumerate() {
        acc.add_o_row(o, r, &reference.o[n * d..(n + 1) * d]);
        let at =
            (r.b as usize * p.heads_q as usize + r.h as usize) * p.seqlen_q as usize + r.i as usize;
        if let Some(lse) = lse {
            acc.add_lse(lse.get(at).copied().unwrap_or(f32::NAN), reference.lse[n]);
        }
    }
    acc.comparison()
}

/// Running sums of a comparison.
struct ErrorSums {
    num: f64,
    den: f64,
    finite: bool,
    lse_max_abs: f64,
}

impl Default for ErrorSums {
    fn default() -> Self {
        ErrorSums {
            num: 0.0,
            den: 0.0,
            finite: true,
            lse_max_abs: 0.0,
        }
    }
}

impl ErrorSums {
    fn add_o_row(&mut self, o: &Tensor, r: RowId, want: &[f64]) {
        for (c, &w) in want.iter().enumerate() {
            let x = o.get(r.b, r.i, r.h, c as u32) as f64;
            self.finite &= x.is_finite();
            self.num += (x - w) * (x - w);
            self.den += w * w;
        }
    }

    /// A row's LSE: a finite reference must be matched; a row that sees no key
    /// must give exactly −∞. Any NaN poisons the maximum for good.
    fn add_lse(&mut self, got: f32, want: f64) {
        let got = got as f64;
        let e = if want.is_finite() {
            (got - want).abs()
        } else if got == f64::NEG_INFINITY {
            0.0
        } else {
            f64::NAN
        };
        self.lse_max_abs = if e.is_nan() || self.lse_max_abs.is_nan() {
            f64::NAN
        } else {
            self.lse_max_abs.max(e)
        };
    }

    fn comparison(&self) -> Comparison {
        let rel_l2 = if !self.finite {
            f64::NAN
        } else if self.den > 0.0 {
            (self.num / self.den).sqrt()
        } else {
            self.num.sqrt()
        };
        Comparison {
            rel_l2,
            lse_max_abs: self.lse_max_abs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Layout;
    use rand::SeedableRng;
    use tileattn_kernels::DType;

    fn inputs(p: &Problem) -> [Tensor; 3] {
        crate::tensor::random_inputs(p, Layout::Bhsd, &mut rand::rngs::StdRng::seed_from_u64(3))
    }

    /// Rows of the full reference, as a kernel output tensor and LSE.
    fn as_outputs(p: &Problem, r: &Reference) -> (Tensor, Vec<f32>) {
        let shape = [p.batch, p.seqlen_q, p.heads_q, p.head_dim];
        let mut o = Tensor::poisoned(p.dtype, shape, Layout::Bshd);
        for (x, &v) in o.data.iter_mut().zip(&r.o) {
            *x = crate::element::to_bits(p.dtype, v as f32);
        }
        (o, r.lse.iter().map(|&x| x as f32).collect())
    }

    #[test]
    fn sampled_rows_match_the_full_reference_and_catch_a_wrong_row() {
        // Causal with Sq > Sk: the first rows see no key (O = 0, LSE = −∞).
        let p = Problem::new(2, 4, 2, 40, 25, 64, DType::F16, true);
        let [q, k, v] = inputs(&p);
        let full = attention(&p, &q, &k, &v);
        let rows: Vec<RowId> = [(0, 0, 0), (1, 3, 39), (0, 2, 15), (1, 1, 16), (1, 3, 39)]
            .iter()
            .map(|&(b, h, i)| RowId { b, h, i })
            .collect();
        let sampled = attention_rows(&p, &q, &k, &v, &rows);
        assert_eq!(sampled.rows.len(), 4, "duplicates are dropped");
        let d = p.head_dim as usize;
        for (n, r) in sampled.rows.iter().enumerate() {
            let at = ((r.b * p.seqlen_q + r.i) * p.heads_q + r.h) as usize;
            assert_eq!(
                &sampled.o[n * d..(n + 1) * d],
                &full.o[at * d..(at + 1) * d]
            );
            let l = ((r.b * p.heads_q + r.h) * p.seqlen_q + r.i) as usize;
            assert!(
                sampled.lse[n] == full.lse[l]
                    || (sampled.lse[n].is_infinite() && full.lse[l].is_infinite())
            );
        }
        let (mut o, lse) = as_outputs(&p, &full);
        assert!(compare_rows(&p, &sampled, &o, Some(&lse)).passes(p.dtype));
        // Break one element of one sampled row: the comparison must fail.
        let r = sampled.rows[3];
        let at = o.offset(r.b, r.i, r.h);
        o.data[at] = crate::element::to_bits(p.dtype, 5.0);
        assert!(!compare_rows(&p, &sampled, &o, Some(&lse)).passes(p.dtype));
        // A NaN LSE on a sampled row never passes.
        let (o, mut lse) = as_outputs(&p, &full);
        lse[((r.b * p.heads_q + r.h) * p.seqlen_q + r.i) as usize] = f32::NAN;
        assert!(!compare_rows(&p, &sampled, &o, Some(&lse)).passes(p.dtype));
    }
}
