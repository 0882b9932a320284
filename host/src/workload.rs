//! One problem's inputs on the device, shared by every variant that is
//! verified and timed on it: random inputs (never zeros), extra input sets for
//! rotation when the working set is small, and the f64 reference of a sample
//! of rows that every candidate must match before it is timed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::Result;
use crate::device::{Device, Operands, PreparedLaunch};
use crate::metrics;
use crate::problem::Problem;
use crate::reference::{self, Comparison, RowId, RowsReference};
use crate::registry::Variant;
use crate::runfile::{CacheMode, Correctness, Measurement};
use crate::stats::summarize;
use crate::tensor::{Layout, Tensor, random_inputs};
use crate::timing::{self, Launch, Timed, Timer, TimingConfig};

/// Most input sets a small working set rotates over.
pub const MAX_INPUT_SETS: usize = 8;
/// (batch, head) pairs and rows per pair whose reference every candidate must match.
const CHECK_HEADS: usize = 6;
const CHECK_ROWS_PER_HEAD: usize = 24;

/// A problem's device inputs and its sampled reference.
pub struct Workload {
    pub problem: Problem,
    /// Host copy of input set 0 (Q, K, V, BSHD).
    inputs: [Tensor; 3],
    sets: Vec<Operands>,
    check: RowsReference,
}

impl Workload {
    /// Upload `sets` independent random input sets of `p` (at least one).
    pub fn new(dev: &Device, p: &Problem, sets: usize, seed: u64) -> Result<Workload> {
        p.validate()?;
        // Before the host inputs exist: a shape too large is refused, not an abort.
        crate::memory::check_host(p, 1)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let inputs = random_inputs(p, Layout::Bshd, &mut rng);
        let mut ops = vec![dev.operands(p, &inputs[0], &inputs[1], &inputs[2])?];
        for _ in 1..sets.max(1) {
            let [q, k, v] = random_inputs(p, Layout::Bshd, &mut rng);
            ops.push(dev.operands(p, &q, &k, &v)?);
        }
        let rows = rows_to_check(p, &mut rng);
        let check = reference::attention_rows(p, &inputs[0], &inputs[1], &inputs[2], &rows);
        Ok(Workload {
            problem: *p,
            inputs,
            sets: ops,
            check,
        })
    }

    /// Input sets for `mode`: cold runs rotate when the working set is small
    /// (see [`timing::input_sets`]); hot runs reuse one set by definition.
    pub fn sets_for(dev: &Device, p: &Problem, mode: CacheMode) -> usize {
        match mode {
            CacheMode::Hot => 1,
            CacheMode::Cold => {
                timing::input_sets(metrics::min_bytes(p), dev.info.l2_bytes, MAX_INPUT_SETS)
            }
        }
    }

    /// Run `v` once on input set 0 with poisoned outputs and compare the
    /// sampled rows with the f64 reference. Also returns that run's time (ms),
    /// a coarse first look the tuner uses to prune hopeless candidates.
    pub fn verify(&mut self, dev: &Device, v: &Variant) -> Result<(Comparison, f64)> {
        let (o, lse, ms) = dev.run_on(v, &self.problem, &mut self.sets[0])?;
        let cmp = reference::compare_rows(&self.problem, &self.check, &o, Some(&lse));
        Ok((cmp, ms))
    }

    /// One prepared launch of `v` per input set.
    pub fn launches(&self, dev: &Device, v: &Variant) -> Result<Vec<PreparedLaunch>> {
        self.sets
            .iter()
            .map(|ops| dev.prepare(v, &self.problem, ops))
            .collect()
    }

    pub fn input_sets(&self) -> usize {
        self.sets.len()
    }

    /// Input set 0 on the host (for comparisons with other implementations).
    pub fn inputs(&self) -> &[Tensor; 3] {
        &self.inputs
    }

    /// Compare another implementation's O (no LSE) with the sampled reference.
    pub fn compare_o(&self, o: &Tensor) -> Comparison {
        reference::compare_rows(&self.problem, &self.check, o, None)
    }

    /// Rows whose reference every candidate is compared with.
    pub fn check_rows(&self) -> usize {
        self.check.rows.len()
    }
}

/// Rows every candidate must get right: the first and last query rows (the
/// ragged tail), rows on both sides of tile boundaries up to 128, and random
/// rows, over a few (batch, head) pairs that include the last of each.
fn rows_to_check(p: &Problem, rng: &mut impl Rng) -> Vec<RowId> {
    let mut heads = vec![(0, 0), (p.batch - 1, p.heads_q - 1)];
    while heads.len() < CHECK_HEADS {
        heads.push((rng.random_range(0..p.batch), rng.random_range(0..p.heads_q)));
    }
    let last = p.seqlen_q - 1;
    let fixed = [0, 1, 15, 16, 63, 64, 127, 128, last.saturating_sub(1), last];
    let mut rows = Vec::new();
    for (b, h) in heads {
        for i in fixed.into_iter().filter(|&i| i <= last) {
            rows.push(RowId { b, h, i });
        }
        for _ in 0..CHECK_ROWS_PER_HEAD.saturating_sub(fixed.len()) {
            rows.push(RowId {
                b,
                h,
                i: rng.random_range(0..=last),
            });
        }
    }
    rows
}

/// What became of a candidate that was verified and maybe timed.
pub enum Verdict {
    Timed(Box<Measurement>),
    /// Its output does not match the reference: never timed, never ranked.
    Wrong(Correctness),
    /// Correct, but its verification run took more than the cut-off: not timed.
    Pruned {
        first_run_ms: f64,
    },
}

/// Verify `v` on `w`, then (if it passes, and its verification run took no more
/// than `prune_above_ms`) time it: one [`Measurement`].
pub fn verify_and_time(
    timer: &mut Timer,
    w: &mut Workload,
    v: &Variant,
    cfg: &TimingConfig,
    prune_above_ms: Option<f64>,
) -> Result<Verdict> {
    let dev = timer.device();
    let (cmp, first_run_ms) = w.verify(dev, v)?;
    let correctness = Correctness {
        rel_l2_err: cmp.rel_l2,
        tolerance: reference::tolerance(w.problem.dtype),
        passed: cmp.passes(w.problem.dtype),
    };
    if !correctness.passed {
        return Ok(Verdict::Wrong(correctness));
    }
    if prune_above_ms.is_some_and(|cut| first_run_ms > cut) {
        return Ok(Verdict::Pruned { first_run_ms });
    }
    Ok(Verdict::Timed(Box::new(time_verified(
        timer,
        w,
        v,
        cfg,
        correctness,
    )?)))
}

/// Time `v` on `w` (already verified, with `correctness` as its result):
/// one [`Measurement`].
pub fn time_verified(
    timer: &mut Timer,
    w: &Workload,
    v: &Variant,
    cfg: &TimingConfig,
    correctness: Correctness,
) -> Result<Measurement> {
    let dev = timer.device();
    let launches = w.launches(dev, v)?;
    let refs: Vec<&dyn Launch> = launches.iter().map(|l| l as &dyn Launch).collect();
    let timed = timer.time(&refs, cfg)?;
    measurement(
        &w.problem,
        ("tileattn", Some(v.name)),
        timed,
        cfg,
        dev.info.l2_bytes,
        correctness,
    )
}

/// The run-file form of a timing of `implementation` (with tileattn's
/// variant name, if any) on `p`.
pub fn measurement(
    p: &Problem,
    (implementation, variant): (&str, Option<&str>),
    timed: Timed,
    cfg: &TimingConfig,
    l2_bytes: u64,
    correctness: Correctness,
) -> Result<Measurement> {
    let summary = summarize(&timed.samples_ms, &cfg.rule.bootstrap, timed.stop)?;
    let (flops, bytes) = (metrics::flops(p), metrics::min_bytes(p));
    let rates = metrics::Rates::new(flops, bytes, summary.median_ms)?;
    Ok(Measurement {
        implementation: implementation.into(),
        variant: variant.map(String::from),
        problem: p.key(),
        mode: cfg.mode,
        summary,
        samples_ms: timed.samples_ms,
        flops: flops as f64,
        bytes: bytes as f64,
        tflops: rates.tflops,
        gbs: rates.gbs,
        cache_resident: metrics::cache_resident(bytes, l2_bytes),
        // No probe reading at all (a torch without a clock probe) is no clock check.
        clock: Some(timed.clock).filter(|c| c.median_mhz.is_finite()),
        warmup: Some(timed.warmup),
        correctness: Some(correctness),
    })
}
