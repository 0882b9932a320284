//! The random-shape correctness sweep behind `tileattn check`: fresh random
//! inputs for every case, outputs poisoned with NaN, the f64 reference, and the
//! tolerances of docs/correctness.md. Runs on the GPU or on the CPU emulator.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use crate::Result;
use crate::device::Device;
use crate::emulate;
use crate::operand_values::OperandValues;
use crate::problem::Problem;
use crate::reference::{self, Comparison};
use crate::registry::Variant;
use crate::tensor::{Layout, Tensor, random_inputs};

/// Where kernels run.
#[derive(Clone, Copy)]
pub enum Executor<'a> {
    Gpu(&'a Device),
    Emulator,
}

impl Executor<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            Executor::Gpu(_) => "gpu",
            Executor::Emulator => "emulator",
        }
    }

    fn run(
        &self,
        v: &Variant,
        p: &Problem,
        q: &Tensor,
        k: &Tensor,
        val: &Tensor,
    ) -> Result<(Tensor, Vec<f32>)> {
        match self {
            Executor::Gpu(d) => d.run(v, p, q, k, val),
            Executor::Emulator => emulate::run(v, p, q, k, val, Layout::Bshd),
        }
    }
}

/// Shapes a case draws from: batch 1–3, MHA/GQA/MQA heads, independent ragged seqlens.
#[derive(Clone, Copy, Debug)]
pub struct CaseSpace {
    pub max_seqlen: u32,
}

const HEADS: [(u32, u32); 6] = [(1, 1), (2, 2), (2, 1), (4, 2), (4, 1), (8, 2)];
const MAX_BATCH: u32 = 3;

impl CaseSpace {
    /// The largest case this space can draw for `v`: what memory must hold.
    pub fn largest(&self, v: &Variant) -> Problem {
        let (hq, hkv) = HEADS
            .iter()
            .copied()
            .max_by_key(|&(q, kv)| (q, kv))
            .unwrap_or((1, 1));
        let s = self.max_seqlen;
        Problem::new(
            MAX_BATCH,
            hq,
            hkv,
            s,
            s,
            v.tile.head_dim as u32,
            v.dtype,
            v.causal,
        )
    }
}

/// One random case for `v`: its shape and the seed of its inputs.
pub fn random_problem(v: &Variant, space: CaseSpace, rng: &mut impl Rng) -> (Problem, Layout, u64) {
    let (hq, hkv) = HEADS[rng.random_range(0..HEADS.len())];
    // Half the cases short (ragged tiles everywhere), half up to the maximum.
    let max = if rng.random_bool(0.5) {
        space.max_seqlen.min(130)
    } else {
        space.max_seqlen
    };
    let sq = rng.random_range(1..=max);
    let sk = if rng.random_bool(0.3) {
        sq
    } else {
        rng.random_range(1..=max)
    };
    let layout = if rng.random_bool(0.5) {
        Layout::Bshd
    } else {
        Layout::Bhsd
    };
    let p = Problem::new(
        rng.random_range(1..=MAX_BATCH),
        hq,
        hkv,
        sq,
        sk,
        v.tile.head_dim as u32,
        v.dtype,
        v.causal,
    );
    (p, layout, rng.random())
}

/// The result of one case.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    pub variant: String,
    pub problem: String,
    pub input_layout: String,
    pub seed: u64,
    pub rel_l2: f64,
    pub lse_max_abs: f64,
    pub passed: bool,
    /// A launch error (invalid input, CUDA error, emulator deadlock).
    pub error: Option<String>,
}

/// Run one case: fresh inputs from `seed`, poisoned outputs, compare with the reference.
pub fn run_case(
    exec: &Executor,
    v: &Variant,
    p: &Problem,
    layout: Layout,
    seed: u64,
) -> CaseResult {
    let mut rng = StdRng::seed_from_u64(seed);
    let [q, k, val] = random_inputs(p, layout, &mut rng);
    let base = CaseResult {
        variant: v.name.to_string(),
        problem: p.to_string(),
        input_layout: format!("{layout:?}"),
        seed,
        rel_l2: f64::NAN,
        lse_max_abs: f64::NAN,
        passed: false,
        error: None,
    };
    match exec.run(v, p, &q, &k, &val) {
        Ok((o, lse)) => {
            let Comparison {
                rel_l2,
                lse_max_abs,
            } = reference::compare(p, &reference::attention(p, &q, &k, &val), &o, &lse);
            let passed = (Comparison {
                rel_l2,
                lse_max_abs,
            })
            .passes(p.dtype);
            CaseResult {
                rel_l2,
                lse_max_abs,
                passed,
                ..base
            }
        }
        Err(e) => CaseResult {
            error: Some(e.to_string()),
            ..base
        },
    }
}

/// Per-variant totals of a sweep.
#[derive(Clone, Debug, Serialize)]
pub struct VariantSummary {
    pub variant: String,
    pub cases: u32,
    pub passed: u32,
    pub worst_rel_l2: f64,
    pub worst_lse_abs: f64,
    pub failures: Vec<CaseResult>,
}

/// The cases a sweep runs for one variant: random ones, or fixed shapes.
pub enum Cases {
    Random {
        count: u32,
        space: CaseSpace,
        seed: u64,
    },
    /// `(batch, heads_q, heads_kv, seqlen_q, seqlen_k)`, each run once per input layout.
    Shapes(Vec<[u32; 5]>),
}

impl Cases {
    /// Every case's problem (on inputs of `values`), input layout and seed.
    fn expand(&self, v: &Variant, values: OperandValues) -> Vec<(Problem, Layout, u64)> {
        let mut cases: Vec<(Problem, Layout, u64)> = match self {
            Cases::Random { count, space, seed } => {
                let mut rng = StdRng::seed_from_u64(*seed);
                (0..*count)
                    .map(|_| random_problem(v, *space, &mut rng))
                    .collect()
            }
            Cases::Shapes(shapes) => shapes
                .iter()
                .enumerate()
                .flat_map(|(i, &shape)| {
                    let p = v.problem(shape);
                    [
                        (p, Layout::Bshd, i as u64),
                        (p, Layout::Bhsd, i as u64 + 1000),
                    ]
                })
                .collect(),
        };
        for (p, _, _) in &mut cases {
            p.operand_values = values;
        }
        cases
    }

    /// Cases per variant.
    pub fn len(&self) -> usize {
        match self {
            Cases::Random { count, .. } => *count as usize,
            Cases::Shapes(s) => 2 * s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Run every case of `v` on inputs of `values`, `workers` at a time (the f64
/// reference dominates the cost; launches serialize on the device's one
/// stream), calling `tick` after each.
pub fn sweep_variant(
    exec: Executor,
    v: &Variant,
    cases: &Cases,
    values: OperandValues,
    workers: usize,
    tick: impl Fn() + Sync,
) -> VariantSummary {
    let todo = cases.expand(v, values);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(todo.len()));
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, todo.len().max(1)) {
            s.spawn(|| {
                while let Some((p, layout, seed)) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let r = run_case(&exec, v, p, *layout, *seed);
                    if let Ok(mut all) = results.lock() {
                        all.push(r);
                    }
                    tick();
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let mut s = VariantSummary {
        variant: v.name.into(),
        cases: todo.len() as u32,
        passed: 0,
        worst_rel_l2: 0.0,
        worst_lse_abs: 0.0,
        failures: Vec::new(),
    };
    if results.len() != todo.len() {
        s.failures.push(CaseResult {
            error: Some("a check worker stopped early".into()),
            ..CaseResult::empty(v)
        });
    }
    for r in results {
        // NaN-aware maxima: a NaN error is the worst there is.
        s.worst_rel_l2 = if r.rel_l2.is_nan() || s.worst_rel_l2.is_nan() {
            f64::NAN
        } else {
            s.worst_rel_l2.max(r.rel_l2)
        };
        s.worst_lse_abs = if r.lse_max_abs.is_nan() || s.worst_lse_abs.is_nan() {
            f64::NAN
        } else {
            s.worst_lse_abs.max(r.lse_max_abs)
        };
        if r.passed {
            s.passed += 1;
        } else {
            s.failures.push(r);
        }
    }
    s
}

impl CaseResult {
    fn empty(v: &Variant) -> CaseResult {
        CaseResult {
            variant: v.name.into(),
            problem: String::new(),
            input_layout: String::new(),
            seed: 0,
            rel_l2: f64::NAN,
            lse_max_abs: f64::NAN,
            passed: false,
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use tileattn_kernels::{Arch, AttnParams, DType, Family, TileConfig};

    use super::*;

    unsafe fn no_kernel(_: &AttnParams) {}

    const F16_D64: Variant = Variant {
        name: "v1_f16",
        dtype: DType::F16,
        causal: false,
        tile: TileConfig {
            family: Family::V1,
            head_dim: 64,
            block_m: 64,
            block_n: 64,
            warps: 4,
            stages: 2,
        },
        archs: &[Arch::Sm80],
        cpu_kernel: no_kernel,
    };

    /// The cases of a sweep on bf16 values are the default cases, shapes,
    /// layouts and seeds alike, with only the values changed.
    #[test]
    fn cases_carry_the_operand_values_and_nothing_else_changes() {
        let random = Cases::Random {
            count: 12,
            space: CaseSpace { max_seqlen: 300 },
            seed: 5,
        };
        let shapes = Cases::Shapes(vec![[1, 2, 1, 17, 33], [2, 4, 2, 130, 7]]);
        for cases in [random, shapes] {
            let plain = cases.expand(&F16_D64, OperandValues::Dtype);
            let on_bf16 = cases.expand(&F16_D64, OperandValues::Bf16);
            assert_eq!(plain.len(), cases.len());
            assert!(
                plain
                    .iter()
                    .all(|(p, _, _)| p.operand_values == OperandValues::Dtype)
            );
            let back: Vec<_> = on_bf16
                .iter()
                .map(|&(p, layout, seed)| {
                    assert_eq!(p.operand_values, OperandValues::Bf16);
                    (p.with_operand_values(OperandValues::Dtype), layout, seed)
                })
                .collect();
            assert_eq!(back, plain);
        }
    }
}
