//! A benchmark run: every problem of a suite, tileattn's tuned variant and
//! (optionally) PyTorch's SDPA backends, measured on identical inputs with the
//! same protocol, into one [`RunFile`](crate::runfile::RunFile).
//!
//! Per problem:
//! 1. the variant, by the run's [`Selection`]: the tuning cache's winner for
//!    this GPU and build, or a fresh exhaustive tuning (its candidates go into
//!    the run's `tuning` records); a family's fastest, chosen the same way
//!    among that family alone; or the variant the user named;
//! 2. one workload (random inputs on the problem's operand values, sampled f64
//!    reference rows) per cache mode;
//! 3. tileattn verified, then timed ([`crate::workload::verify_and_time`]);
//! 4. each torch backend: the same inputs (input set 0, bf16 values included:
//!    the script is sent the tensors, not how they were made) loaded by the script,
//!    one run whose O is compared with the same reference rows, then the
//!    script's warm-up by the same rule, and samples requested in batches by
//!    the same adaptive stopping rule, cold samples preceded by a flush of the
//!    same size as tileattn's.
//!
//! A backend that cannot run a problem (unsupported, out of memory) is noted
//! and skipped; a torch output that fails the reference check is still timed
//! and reported as FAIL, so a report never hides it.

use std::path::Path;

use crate::problem::Problem;
use crate::registry::{Registry, Variant};
use crate::runfile::{CacheMode, Correctness, Measurement, TunedCandidate, TuningRecord};
use crate::tensor::Tensor;
use crate::timing::{Timer, TimingConfig};
use crate::torch_side::{self, Backend, Outcome as TorchOutcome, Sampling, TorchSide};
use crate::tune::{self, Outcome, TuneConfig, Tuned};
use crate::tune_cache::{Strategy, TuneCache};
use crate::workload::{Verdict, Workload, measurement, verify_and_time};
use crate::{Error, Result, npy, reference};

mod selection;

pub use selection::{Plan, Selection};

/// What a bench run measures.
pub struct BenchConfig {
    /// The problems [`Selection::plan`] kept.
    pub problems: Vec<Problem>,
    /// Which variant times each problem.
    pub selection: Selection,
    /// Cache modes to measure each problem in (the cliff suite uses both).
    pub modes: Vec<CacheMode>,
    pub timing: TimingConfig,
    /// Torch backends to compare with (empty: tileattn alone).
    pub backends: Vec<Backend>,
    pub seed: u64,
}

/// What a bench run tells its caller as it goes.
pub enum Event<'a> {
    /// Problem `index` (from 0) of `total` starts.
    Problem {
        index: usize,
        total: usize,
        problem: &'a Problem,
    },
    /// A notice: a torch backend skipped or untimed on a problem.
    Note(&'a str),
}

/// As a log line: `[3/24] B=… D=64 bf16` or `  torch-math skipped on …`.
impl std::fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Problem {
                index,
                total,
                problem,
            } => write!(f, "[{}/{total}] {problem}", index + 1),
            Event::Note(note) => write!(f, "  {note}"),
        }
    }
}

/// Where a bench run sends its [`Event`]s (the CLI's progress bar).
pub type Notify<'a> = &'a dyn Fn(Event);

/// Run the benchmark; `torch` is the started baseline script, if any.
pub fn run(
    timer: &mut Timer,
    registry: &Registry,
    cfg: &BenchConfig,
    mut cache: Option<&mut TuneCache>,
    mut torch: Option<&mut TorchSide>,
    scratch: &Path,
    notify: Notify,
) -> Result<(Vec<Measurement>, Vec<TuningRecord>)> {
    let mut measurements = Vec::new();
    let mut tuning = Vec::new();
    for (i, p) in cfg.problems.iter().enumerate() {
        notify(Event::Problem {
            index: i,
            total: cfg.problems.len(),
            problem: p,
        });
        let v = match choose(timer, registry, p, cfg, cache.as_deref_mut())? {
            (v, Some(record)) => {
                tuning.push(record);
                v
            }
            (v, None) => v,
        };
        for &mode in &cfg.modes {
            let timing = TimingConfig {
                mode,
                ..cfg.timing.clone()
            };
            let dev = timer.device();
            let mut w = Workload::new(dev, p, Workload::sets_for(dev, p, mode), cfg.seed)?;
            match verify_and_time(timer, &mut w, v, &timing, None)? {
                Verdict::Timed(m) => measurements.push(*m),
                Verdict::Wrong(c) => {
                    return Err(Error::Invalid(format!(
                        "{} is wrong on {p} (rel L2 {:.3e}): refusing to benchmark it",
                        v.name, c.rel_l2_err
                    )));
                }
                Verdict::Pruned { .. } => {}
            }
            if let Some(t) = torch.as_deref_mut() {
                measurements.extend(torch_side(
                    t,
                    &w,
                    &timing,
                    timer,
                    &cfg.backends,
                    scratch,
                    notify,
                )?);
            }
        }
    }
    Ok((measurements, tuning))
}

/// The variant for `p` under the run's selection: the named one; or the
/// cache's winner (of the family, if one is selected), else a fresh
/// exhaustive tuning (recorded in the cache only over all families).
fn choose(
    timer: &mut Timer,
    registry: &Registry,
    p: &Problem,
    cfg: &BenchConfig,
    cache: Option<&mut TuneCache>,
) -> Result<(&'static Variant, Option<TuningRecord>)> {
    let family = match &cfg.selection {
        Selection::Named(_) => {
            let v = cfg.selection.named_for(p).ok_or_else(|| {
                Error::Invalid(format!(
                    "no named variant computes {p}; plan the suite first"
                ))
            })?;
            return Ok((v, None));
        }
        Selection::Family(f) => Some(*f),
        Selection::Tuned => None,
    };
    if let Some(v) = cache
        .as_deref()
        .and_then(|c| c.lookup(p))
        .and_then(|e| registry.find(&e.winner.variant))
        .filter(|v| v.serves(p) && family.is_none_or(|f| v.tile.family == f))
    {
        return Ok((v, None));
    }
    let tcfg = TuneConfig {
        strategy: Strategy::Exhaustive,
        budget: None,
        timing: cfg.timing.clone(),
        family,
        seed: cfg.seed,
    };
    let t = tune::tune(timer, registry, p, &tcfg, &|_, _, _| {})?;
    let (name, _) = t
        .winner()
        .ok_or_else(|| Error::Invalid(format!("no variant could be timed on {p}")))?;
    let v = registry.find(name).ok_or_else(|| {
        Error::Invalid(format!("the tuner's winner {name} is not in the registry"))
    })?;
    // A winner within one family is not the winner the cache holds.
    if let (Some(c), Some(entry), None) = (cache, t.cache_entry(p), family) {
        c.record(entry)?;
    }
    Ok((v, Some(tuning_record(registry, &t))))
}

/// The run-file form of a tuning result.
pub fn tuning_record(registry: &Registry, t: &Tuned) -> TuningRecord {
    let candidates = t
        .candidates
        .iter()
        .filter_map(|c| {
            let v = registry.find(c.variant)?;
            let (status, median_ms, tflops) = match &c.outcome {
                Outcome::Timed { measurement, .. } => (
                    "timed",
                    Some(measurement.summary.median_ms),
                    Some(measurement.tflops),
                ),
                Outcome::Pruned { first_run_ms, .. } => ("pruned", Some(*first_run_ms), None),
                Outcome::Wrong { .. } => ("wrong", None, None),
                Outcome::Failed { .. } => ("failed", None, None),
                Outcome::Skipped => ("skipped", None, None),
            };
            Some(TunedCandidate {
                variant: c.variant.into(),
                family: v.tile.family.name().into(),
                block_m: v.tile.block_m as u32,
                block_n: v.tile.block_n as u32,
                warps: v.tile.warps as u32,
                stages: v.tile.stages as u32,
                status: status.into(),
                median_ms,
                tflops,
            })
        })
        .collect();
    TuningRecord {
        problem: t.problem.clone(),
        strategy: match t.strategy {
            Strategy::Exhaustive => "exhaustive".into(),
            Strategy::Halving => "halving".into(),
        },
        winner: t.winner().map(|(n, _)| n.to_string()),
        candidates,
    }
}

/// Every requested backend on `w`'s input set 0: check its output, then time it.
fn torch_side(
    torch: &mut TorchSide,
    w: &Workload,
    timing: &TimingConfig,
    timer: &Timer,
    backends: &[Backend],
    scratch: &Path,
    notify: Notify,
) -> Result<Vec<Measurement>> {
    let p = &w.problem;
    let [q, k, v] = w.inputs();
    if let TorchOutcome::Unsupported(why) | TorchOutcome::OutOfMemory(why) =
        torch.load_tensors(p, [q, k, v], scratch)?
    {
        notify(Event::Note(&format!("torch cannot load {p}: {why}")));
        return Ok(Vec::new());
    }
    let sampling = match timing.mode {
        CacheMode::Cold => Sampling::cold(timer.flush_bytes() as u64, timing.warmup),
        CacheMode::Hot => Sampling::hot(timing.warmup),
    };
    let mut out = Vec::new();
    for &b in backends {
        let o_path = scratch.join(format!("o-{}.npy", b.name()));
        let correctness = match torch.run(b, &o_path)? {
            TorchOutcome::Done(_) => check_output(w, &o_path)?,
            TorchOutcome::Unsupported(why) | TorchOutcome::OutOfMemory(why) => {
                notify(Event::Note(&format!(
                    "{} skipped on {p}: {why}",
                    b.implementation()
                )));
                continue;
            }
        };
        let timed = match torch_side::time_backend(torch, b, &sampling, timing)? {
            Ok(t) => t,
            Err(why) => {
                notify(Event::Note(&format!(
                    "{} could not be timed on {p}: {why}",
                    b.implementation()
                )));
                continue;
            }
        };
        out.push(measurement(
            p,
            (b.implementation(), None),
            timed,
            timing,
            timer.device().info.l2_bytes,
            correctness,
        )?);
    }
    Ok(out)
}

/// Compare the backend's O (BSHD f32 `.npy`) with the workload's reference rows.
fn check_output(w: &Workload, o_path: &Path) -> Result<Correctness> {
    let p = &w.problem;
    let a = npy::read(o_path)?;
    let shape = [p.batch, p.seqlen_q, p.heads_q, p.head_dim];
    if a.shape != shape.map(|x| x as usize) {
        return Err(Error::format(
            o_path,
            format!("torch wrote O of shape {:?}, expected {shape:?}", a.shape),
        ));
    }
    let cmp = w.compare_o(&Tensor::from_bshd_f32(p.dtype, shape, &a.data));
    Ok(Correctness {
        rel_l2_err: cmp.rel_l2,
        tolerance: reference::tolerance(p.dtype),
        passed: cmp.passes(p.dtype),
    })
}
