//! The rule a report's verdicts came from: its numbers, written with the
//! report (JSON), and the paragraph that explains them to a reader, in the
//! words of the command that judged (the ratchet's baseline and current run,
//! `tileattn compare`'s A and B).

use serde::{Deserialize, Serialize};

use super::drift::{DriftModel, DriftSource};
use super::format::{fmt_g, fmt_pct};
use super::rule::Rule;

/// The threshold, the confidences and the drift a set of verdicts used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleSetting {
    pub threshold: f64,
    /// Run-level: the exit code's false-alarm rate is held to 1 − confidence.
    pub confidence: f64,
    /// Of each measurement's CI (Bonferroni over the rows).
    pub measurement_confidence: f64,
    /// Of each aggregate's CI (Bonferroni over the aggregates).
    pub aggregate_confidence: f64,
    pub resamples: usize,
    /// The per-run drift the CIs were widened by, and where it came from.
    pub drift: DriftModel,
    pub drift_source: DriftSource,
}

/// How a command names the ratio, the verdicts and its exit condition.
pub struct RuleWords<'a> {
    /// Defines the ratio and opens the CI's sentence: `… Its CI [lo, hi]`.
    pub ratio: &'a str,
    /// Slower, faster, unchanged, inconclusive.
    pub verdicts: [&'a str; 4],
    /// What one aggregate line is called.
    pub aggregate: &'a str,
    /// When the command fails, ending with the subject of "… with probability at most".
    pub fails: &'a str,
}

impl RuleSetting {
    /// The setting of `rule` over `rows` measurements and `aggregates` aggregates.
    pub fn new(rule: &Rule, drift_source: DriftSource, rows: usize, aggregates: usize) -> Self {
        RuleSetting {
            threshold: rule.threshold,
            confidence: rule.confidence(),
            measurement_confidence: rule.family_confidence(rows),
            aggregate_confidence: rule.family_confidence(aggregates),
            resamples: rule.bootstrap.resamples,
            drift: rule.drift,
            drift_source,
        }
    }

    /// The rule in one paragraph, with these numbers, for `rows` measurements.
    pub fn paragraph(&self, rows: usize, words: &RuleWords) -> String {
        let t = self.threshold;
        let [slower, faster, unchanged, inconclusive] = words.verdicts;
        format!(
            "{} combines, in log space, the within-run bootstrap ({} resamples) with both runs' \
             drift (per run: {}; from {}), at {}% per measurement ({}% over {rows} measurements, \
             Bonferroni) and {}% per {}. Threshold {}: {slower} if lo > {} and r > {}; {faster} \
             if hi < {} and r < {}; {unchanged} if the CI lies within [{}, {}]; else \
             {inconclusive}. {} with probability at most {}% (drift as modelled).\n",
            words.ratio,
            self.resamples,
            self.drift.describe(),
            self.drift_source,
            fmt_g(self.measurement_confidence * 100.0),
            fmt_g(self.confidence * 100.0),
            fmt_g(self.aggregate_confidence * 100.0),
            words.aggregate,
            fmt_pct(t),
            fmt_g(1.0 + t / 2.0),
            fmt_g(1.0 + t),
            fmt_g(1.0 - t / 2.0),
            fmt_g(1.0 - t),
            fmt_g(1.0 - t),
            fmt_g(1.0 + t),
            words.fails,
            fmt_g((1.0 - self.confidence) * 100.0),
        )
    }
}
