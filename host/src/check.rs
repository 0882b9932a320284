//! The random-shape correctness sweep behind `tileattn check`: fresh random
//! inputs for every case, outputs poisoned with NaN, the f64 reference, and the
//! DEVELOPERS.md tolerances. Runs on the GPU or on the CPU emulator.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::Result;
use crate::device::Device;
use crate::emulate;
use crate::problem::Problem;
use crate::reference::{self, Comparison};
use crate::registry::Variant;
use crate::tensor::{Layout, Tensor};

/// Where kernels run.
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
        rng.random_range(1..=3),
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
    let q = Tensor::random(
        p.dtype,
        [p.batch, p.seqlen_q, p.heads_q, p.head_dim],
        layout,
        &mut rng,
    );
    let k = Tensor::random(
        p.dtype,
        [p.batch, p.seqlen_k, p.heads_kv, p.head_dim],
        layout,
        &mut rng,
    );
    let val = Tensor::random(
        p.dtype,
        [p.batch, p.seqlen_k, p.heads_kv, p.head_dim],
        layout,
        &mut rng,
    );
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

/// Run `cases` random cases of `v`, calling `tick` after each.
pub fn sweep_variant(
    exec: &Executor,
    v: &Variant,
    cases: u32,
    space: CaseSpace,
    seed: u64,
    mut tick: impl FnMut(),
) -> VariantSummary {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut s = VariantSummary {
        variant: v.name.into(),
        cases,
        passed: 0,
        worst_rel_l2: 0.0,
        worst_lse_abs: 0.0,
        failures: Vec::new(),
    };
    for _ in 0..cases {
        let (p, layout, case_seed) = random_problem(v, space, &mut rng);
        let r = run_case(exec, v, &p, layout, case_seed);
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
        tick();
    }
    s
}
