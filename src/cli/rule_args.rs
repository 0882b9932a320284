//! The options of the ratchet's rule, which `ratchet` and `compare` share:
//! one rule, one way to set it.

use tileattn::host::Result;
use tileattn::host::ratchet::rule::{parse_confidence, parse_drift, parse_threshold};
use tileattn::host::ratchet::{Baseline, DriftSource, Rule};

#[derive(clap::Args)]
pub struct RuleArgs {
    /// Smallest change that matters: `2%` or `0.02`. A measurement, or an
    /// implementation's geometric mean, counts as slower when it is slower by
    /// more than this at its point estimate and by more than half of it at the
    /// low end of its CI.
    #[arg(long, default_value = "2%")]
    threshold: String,
    /// Run-level confidence: when nothing got slower by more than half the
    /// threshold, a slowdown is reported with probability at most 1 − this.
    /// `0.95` or `95%`. With `ratchet --calibrate`: that of the drift's upper
    /// bound.
    #[arg(long, default_value = "0.95")]
    confidence: String,
    /// Between-run drift of one run's median, as a relative SD at every
    /// duration (`1%`, `0.01`; `0` trusts the within-run CIs alone), instead
    /// of the baseline's calibration (`compare`: A's, if A is a ratchet
    /// baseline) or the built-in default.
    #[arg(long)]
    drift: Option<String>,
}

/// The options, parsed (before any file is read: a bad one is exit 2).
pub struct RuleChoice {
    pub threshold: f64,
    pub confidence: f64,
    drift: Option<f64>,
}

impl RuleArgs {
    pub fn parse(&self) -> Result<RuleChoice> {
        Ok(RuleChoice {
            threshold: parse_threshold(&self.threshold)?,
            confidence: parse_confidence(&self.confidence)?,
            drift: self.drift.as_deref().map(parse_drift).transpose()?,
        })
    }
}

impl RuleChoice {
    /// The rule to judge against `baseline` with, and where its drift came from.
    pub fn rule(&self, baseline: &Baseline) -> Result<(Rule, DriftSource)> {
        let (drift, source) = baseline.drift_for(self.drift);
        Ok((Rule::new(self.threshold, self.confidence, drift)?, source))
    }
}
