//! Two run files side by side, measurement by measurement: the researcher's
//! A/B (a kernel change, a new variant, another tuning) for every
//! implementation the runs share, tileattn and each torch backend alike.
//!
//! The statistics are the ratchet's, not a second set: measurements are
//! matched by implementation, problem and cache mode ([`ratchet::Key`]); each
//! ratio median(B)/median(A) gets the ratchet's CI (the percentile bootstrap
//! of [`crate::stats`], widened by the between-run drift, Bonferroni over the
//! rows) and its verdict; each implementation's geometric mean is judged
//! too ([`ratchet::decide`]). A plays the ratchet's baseline and B its
//! current run, so **B is slower** exactly when the ratchet would call B a
//! regression: a measurement or an implementation's geometric mean slower
//! by more than the threshold at its point estimate and by more than half of
//! it at the low end of its CI. Why that rule, and what it promises about
//! false alarms: [`crate::ratchet`].
//!
//! What differs from the ratchet is what it is for. Any two run files are
//! compared, whatever their kernel builds, drivers or torch versions (the
//! differences are listed with the result); only runs of another GPU (model,
//! or MIG slice) are refused unless allowed, since their ratios measure the
//! hardware. Nothing is written back, and the torch rows stand beside
//! tileattn's: torch slower in B too says the machine changed, not the kernels.

pub mod figure;
pub mod markdown;

use serde::{Deserialize, Serialize};

use crate::implementations;
use crate::problem_key::ProblemKey;
use crate::ratchet::rule_text::RuleSetting;
use crate::ratchet::{self, Aggregate, DriftSource, Key, Mismatch, MismatchKind, Rule, Verdict};
use crate::runfile::{CacheMode, RunFile};
use crate::stats::RatioCi;
use crate::{Error, Result};

/// One run of the comparison, as the result names it.
pub use crate::ratchet::report::Side;

/// One measurement present in both runs, judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub implementation: String,
    pub problem: ProblemKey,
    pub mode: CacheMode,
    /// The tileattn variants (None for torch backends).
    pub a_variant: Option<String>,
    pub b_variant: Option<String>,
    pub a_median_ms: f64,
    pub b_median_ms: f64,
    pub a_samples: usize,
    pub b_samples: usize,
    /// median(B) / median(A) and the CI its verdict used: above 1, B is slower.
    pub ratio: RatioCi,
    /// The bootstrap CI from the two runs' samples alone (no drift).
    pub within_run: RatioCi,
    /// The drift's σ per run at A's median.
    pub drift: f64,
    /// `regressed`: B slower; `improved`: B faster (the ratchet's table).
    pub verdict: Verdict,
}

/// Everything `tileattn compare` found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub a: Side,
    pub b: Side,
    /// The ratchet's rule, A as its baseline.
    #[serde(flatten)]
    pub rule: RuleSetting,
    /// How the two runs' machines or builds differ (listed, not refused).
    pub differences: Vec<Mismatch>,
    /// One per implementation, in report order: the geometric mean of its ratios.
    pub aggregates: Vec<Aggregate>,
    /// By implementation (report order), then in A's order.
    pub rows: Vec<Row>,
    /// Measurements one run has and the other lacks: listed, never dropped.
    pub only_a: Vec<Key>,
    pub only_b: Vec<Key>,
    /// A row or a geometric mean says B is slower: the exit code's question.
    pub b_slower: bool,
}

/// How to compare.
#[derive(Clone, Debug)]
pub struct Options {
    pub rule: Rule,
    pub drift_source: DriftSource,
    /// Compare runs of different GPUs (model or slice) too.
    pub allow_different_gpu: bool,
}

/// Compare `b` against `a`. Refused: runs of different GPUs (unless allowed),
/// runs with no measurement in common, and a run with two measurements of
/// one key (which of them to compare would be a guess).
pub fn compare(a: (&str, &RunFile), b: (&str, &RunFile), options: &Options) -> Result<Comparison> {
    let ((a_path, a), (b_path, b)) = (a, b);
    let differences = ratchet::mismatches(&a.env, &b.env);
    let gpu: Vec<String> = differences
        .iter()
        .filter(|m| m.kind == MismatchKind::Gpu)
        .map(|m| format!("  {}", m.describe(["A", "B"])))
        .collect();
    if !gpu.is_empty() && !options.allow_different_gpu {
        return Err(Error::Incomparable(format!(
            "{a_path} and {b_path} were measured on different GPUs:\n{}\n\
             Their ratios would measure the hardware, not the change; \
             pass --allow-different-gpu to compare them anyway.",
            gpu.join("\n")
        )));
    }
    let rule = &options.rule;
    let matched = ratchet::compare_named(["A", "B"], a, b, rule)?;
    let mut rows: Vec<Row> = matched
        .rows
        .into_iter()
        .map(|r| Row {
            implementation: r.key.implementation,
            problem: r.key.problem,
            mode: r.key.mode,
            a_variant: r.baseline_variant,
            b_variant: r.current_variant,
            a_median_ms: r.baseline_median_ms,
            b_median_ms: r.current_median_ms,
            a_samples: r.baseline_n,
            b_samples: r.current_n,
            ratio: r.judgement.ratio,
            within_run: r.judgement.within_run,
            drift: r.judgement.drift,
            verdict: r.judgement.verdict,
        })
        .collect();
    // Stable: within an implementation, the rows keep A's order.
    rows.sort_by_key(|r| implementations::rank(&r.implementation).0);
    let mut aggregates = matched.aggregates;
    aggregates.sort_by_key(|g| implementations::rank(&g.implementation).0);
    let b_slower = ratchet::decision::run_regressed(rows.iter().map(|r| r.verdict), &aggregates);
    Ok(Comparison {
        a: Side::of(a_path, a),
        b: Side::of(b_path, b),
        rule: RuleSetting::new(
            rule,
            options.drift_source.clone(),
            rows.len(),
            aggregates.len(),
        ),
        differences,
        aggregates,
        rows,
        only_a: matched.only_baseline,
        only_b: matched.only_current,
        b_slower,
    })
}

#[cfg(test)]
mod tests;
