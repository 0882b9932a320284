//! The decision rule for one measurement: the within-run bootstrap CI of the
//! ratio of medians, widened by the between-run drift and set at the level
//! the run's number of measurements calls for, then the verdict table. Why
//! this rule is explained in the [module doc](super).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

use super::drift::DriftModel;
use crate::stats::{Bootstrap, RatioCi, bootstrap_ratio_ci};
use crate::{Error, Result};

/// The threshold when none is given: the smallest change worth a pull-request
/// comment (see the module doc for what it promises).
pub const DEFAULT_THRESHOLD: f64 = 0.02;

/// What the ratchet concludes about one measurement (or one aggregate).
/// Declared worst first: sorting by verdict puts regressions at the top of a
/// report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Slower by more than half the threshold with confidence, and by more
    /// than the threshold at the point estimate.
    Regressed,
    /// The data cannot tell: neither of the other three holds.
    Inconclusive,
    /// The whole CI lies within the threshold either way.
    Unchanged,
    /// Faster by more than half the threshold with confidence, and by more
    /// than the threshold at the point estimate.
    Improved,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Unchanged => "unchanged",
            Verdict::Improved => "improved",
        }
    }
}

/// The threshold, the bootstrap and the drift the verdicts are computed with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rule {
    /// Relative change that matters: 0.02 is 2%.
    pub threshold: f64,
    /// Its confidence is the run-level one (1 − the false-alarm rate the
    /// run's exit code is held to); seeded, so a verdict is reproducible.
    pub bootstrap: Bootstrap,
    /// Between-run drift of one run's median (per run, not per pair).
    pub drift: DriftModel,
}

/// A verdict and the numbers it came from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// median(current) / median(baseline) and the CI the verdict used
    /// (within-run and drift combined, at the family's level): above 1 is
    /// slower.
    pub ratio: RatioCi,
    /// The percentile-bootstrap CI at the run-level confidence, from the two
    /// runs' samples alone: how much of the CI's width is sampling noise.
    pub within_run: RatioCi,
    /// σ of the drift model at the baseline's duration (per run).
    pub drift: f64,
    pub verdict: Verdict,
}

impl Judgement {
    /// The standard error of ln(ratio) from the within-run bootstrap: the
    /// mean of the two half-widths of its percentile CI in log space, over z.
    /// The aggregate uses it; a row keeps both sides (see [`Rule::judge`]).
    pub fn within_run_se(&self, z_run: f64) -> f64 {
        let (lo, hi) = log_half_widths(&self.within_run);
        (lo + hi) / 2.0 / z_run
    }
}

/// ln(ratio) − ln(lo) and ln(hi) − ln(ratio), each at least 0: a percentile
/// CI of medians can miss its own point estimate by a sample's width.
fn log_half_widths(ci: &RatioCi) -> (f64, f64) {
    let r = ci.ratio.ln();
    ((r - ci.lo.ln()).max(0.0), (ci.hi.ln() - r).max(0.0))
}

impl Rule {
    /// A rule with the default bootstrap (2000 resamples, fixed seed).
    pub fn new(threshold: f64, confidence: f64, drift: DriftModel) -> Result<Rule> {
        if !(threshold > 0.0 && threshold < 1.0) {
            return Err(Error::Invalid(format!(
                "threshold {threshold}: must lie strictly between 0 and 1 (2% is 0.02)"
            )));
        }
        if !(confidence > 0.0 && confidence < 1.0) {
            return Err(Error::Invalid(format!(
                "confidence {confidence}: must lie strictly between 0 and 1 (e.g. 0.95)"
            )));
        }
        drift.check().map_err(Error::Invalid)?;
        Ok(Rule {
            threshold,
            bootstrap: Bootstrap {
                confidence,
                ..Bootstrap::default()
            },
            drift,
        })
    }

    /// The run-level confidence c.
    pub fn confidence(&self) -> f64 {
        self.bootstrap.confidence
    }

    /// Confidence of each of `family` two-sided CIs that together spend half
    /// of the run's 1 − c on their lower tails (Bonferroni): 1 − (1 − c)/family.
    pub fn family_confidence(&self, family: usize) -> f64 {
        1.0 - (1.0 - self.confidence()) / family.max(1) as f64
    }

    /// The normal quantile of a two-sided CI at [`Self::family_confidence`].
    pub fn z(&self, family: usize) -> f64 {
        let tail = (1.0 - self.family_confidence(family)) / 2.0;
        Normal::standard().inverse_cdf(1.0 - tail)
    }

    /// The verdict for a ratio and its CI (the table in the module doc).
    /// Regressed and improved need both confidence (the CI beyond t/2) and
    /// size (the point estimate beyond t); they are checked first, so a
    /// percentile CI that happens not to contain its point estimate still
    /// gets one verdict.
    pub fn classify(&self, r: &RatioCi) -> Verdict {
        let t = self.threshold;
        if r.lo > 1.0 + t / 2.0 && r.ratio > 1.0 + t {
            Verdict::Regressed
        } else if r.hi < 1.0 - t / 2.0 && r.ratio < 1.0 - t {
            Verdict::Improved
        } else if r.lo >= 1.0 - t && r.hi <= 1.0 + t {
            Verdict::Unchanged
        } else {
            Verdict::Inconclusive
        }
    }

    /// The within-run CI of median(current)/median(baseline) (raw samples,
    /// ms; at least two each, positive): above 1 is slower.
    pub fn within_run(&self, baseline: &[f64], current: &[f64]) -> Result<RatioCi> {
        bootstrap_ratio_ci(current, baseline, &self.bootstrap)
    }

    /// Judge one of `family` measurements from its within-run CI and the
    /// baseline's median (which sets the drift's σ). In log space each side's
    /// half-width is z·√(se² + 2σ²): se that side's bootstrap half-width over
    /// the run-level z (the bootstrap cannot place the family's far quantiles
    /// with 2000 resamples, so its spread is carried as a standard error), 2σ²
    /// the variance of the difference of two runs' independent drifts.
    pub fn judge(&self, within: RatioCi, baseline_ms: f64, family: usize) -> Judgement {
        let drift = self.drift.sigma(baseline_ms);
        let (z_run, z) = (self.z(1), self.z(family));
        let (lo, hi) = log_half_widths(&within);
        let widen = |h: f64| z * ((h / z_run).powi(2) + 2.0 * drift * drift).sqrt();
        let ratio = RatioCi {
            ratio: within.ratio,
            lo: within.ratio * (-widen(lo)).exp(),
            hi: within.ratio * widen(hi).exp(),
        };
        Judgement {
            ratio,
            within_run: within,
            drift,
            verdict: self.classify(&ratio),
        }
    }
}

/// A threshold as the user writes it: `2%` or `0.02`. A bare number of 1 or
/// more is refused: `--threshold 2` is far more likely to mean 2% than 200%.
pub fn parse_threshold(s: &str) -> Result<f64> {
    parse_fraction("threshold", s, false)
}

/// A confidence as the user writes it: `95%` or `0.95`.
pub fn parse_confidence(s: &str) -> Result<f64> {
    parse_fraction("confidence", s, false)
}

/// A drift (per-run relative SD) as the user writes it: `1%`, `0.01`, or 0 to
/// trust the within-run CIs alone; refused from 1 up, like a threshold.
pub fn parse_drift(s: &str) -> Result<f64> {
    parse_fraction("drift", s, true)
}

/// `s` as a fraction in (0, 1), or [0, 1) when `zero_ok`.
fn parse_fraction(what: &str, s: &str, zero_ok: bool) -> Result<f64> {
    let s = s.trim();
    // Divided, not multiplied by 0.01: 95/100 rounds to exactly 0.95.
    let (number, divisor) = match s.strip_suffix('%') {
        Some(p) => (p.trim(), 100.0),
        None => (s, 1.0),
    };
    let x: f64 = number.parse().map_err(|_| {
        Error::Invalid(format!(
            "{what} `{s}`: expected a percentage (2%) or a fraction (0.02)"
        ))
    })?;
    let x = x / divisor;
    let above_zero = x > 0.0 || (zero_ok && x == 0.0);
    if !(above_zero && x < 1.0) {
        let range = if zero_ok {
            "from 0% up to, not including, 100% (write 1% or 0.01)"
        } else {
            "strictly between 0% and 100% (write 2% or 0.02)"
        };
        return Err(Error::Invalid(format!("{what} `{s}`: must lie {range}")));
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(ratio: f64, lo: f64, hi: f64) -> RatioCi {
        RatioCi { ratio, lo, hi }
    }

    fn no_drift() -> Rule {
        Rule::new(0.02, 0.95, DriftModel::NONE).unwrap()
    }

    #[test]
    fn verdict_table() {
        let rule = no_drift();
        use Verdict::*;
        let table = [
            // Confidently slower (faster) by more than t/2, and by more
            // than t at the point estimate.
            (ci(1.05, 1.04, 1.06), Regressed),
            (ci(1.03, 1.011, 1.05), Regressed),
            (ci(0.95, 0.94, 0.96), Improved),
            (ci(0.97, 0.95, 0.989), Improved),
            // Whole CI within ±2%, significant or not.
            (ci(1.0, 0.99, 1.01), Unchanged),
            (ci(1.015, 1.01, 1.02), Unchanged),
            (ci(0.985, 0.98, 0.99), Unchanged),
            (ci(1.0, 0.98, 1.02), Unchanged),
            // Beyond the threshold and significant, but not confidently beyond
            // t/2: too noisy to keep the promise about small changes.
            (ci(1.03, 1.005, 1.055), Inconclusive),
            (ci(0.97, 0.945, 0.995), Inconclusive),
            // Significant, point estimate within the threshold, CI beyond it.
            (ci(1.015, 1.005, 1.025), Inconclusive),
            // Beyond the threshold but not significant at all.
            (ci(1.03, 0.99, 1.07), Inconclusive),
            (ci(0.97, 0.93, 1.01), Inconclusive),
            // Wide CI around no change.
            (ci(1.0, 0.95, 1.05), Inconclusive),
            // On the boundaries: strict inequalities for regressed and improved.
            (ci(1.02, 1.015, 1.025), Inconclusive),
            (ci(1.05, 1.01, 1.1), Inconclusive),
            (ci(0.98, 0.975, 0.985), Inconclusive),
            (ci(0.95, 0.9, 0.99), Inconclusive),
        ];
        for (r, want) in table {
            assert_eq!(rule.classify(&r), want, "{r:?}");
        }
    }

    #[test]
    fn verdicts_sort_worst_first() {
        let mut v = [
            Verdict::Improved,
            Verdict::Unchanged,
            Verdict::Regressed,
            Verdict::Inconclusive,
        ];
        v.sort();
        assert_eq!(
            v,
            [
                Verdict::Regressed,
                Verdict::Inconclusive,
                Verdict::Unchanged,
                Verdict::Improved
            ]
        );
    }

    #[test]
    fn judge_orients_the_ratio_as_current_over_baseline() {
        let rule = no_drift();
        let base: Vec<f64> = (0..20).map(|i| 1.0 + 0.001 * i as f64).collect();
        let slow: Vec<f64> = base.iter().map(|x| x * 1.1).collect();
        let judge = |b: &[f64], c: &[f64]| rule.judge(rule.within_run(b, c).unwrap(), 1.0, 1);
        let j = judge(&base, &slow);
        assert_eq!(j.verdict, Verdict::Regressed);
        assert!((j.ratio.ratio - 1.1).abs() < 1e-12);
        assert_eq!(judge(&slow, &base).verdict, Verdict::Improved);
        assert_eq!(judge(&base, &base).verdict, Verdict::Unchanged);
    }

    /// One measurement without drift is the percentile-bootstrap rule: the
    /// widened CI is the bootstrap's own, so the within-run simulation of
    /// that rule still applies to this one.
    #[test]
    fn one_measurement_without_drift_keeps_the_bootstrap_ci() {
        let rule = no_drift();
        let within = ci(1.03, 1.011, 1.052);
        let j = rule.judge(within, 0.5, 1);
        assert!((j.ratio.lo - within.lo).abs() < 1e-12, "{j:?}");
        assert!((j.ratio.hi - within.hi).abs() < 1e-12, "{j:?}");
        assert_eq!((j.drift, j.verdict), (0.0, Verdict::Regressed));
    }

    #[test]
    fn drift_and_family_size_widen_the_ci_in_log_space() {
        let drift = DriftModel {
            floor: 0.0,
            at_1ms: 0.01,
        };
        let rule = Rule::new(0.02, 0.95, drift).unwrap();
        assert!((rule.z(1) - 1.959964).abs() < 1e-5);
        // 24 measurements: each CI at 1 − 0.05/24, z = Φ⁻¹(1 − 0.05/48).
        assert!((rule.z(24) - 3.0777).abs() < 1e-3, "{}", rule.z(24));
        assert!((rule.family_confidence(24) - (1.0 - 0.05 / 24.0)).abs() < 1e-15);
        // A point-like bootstrap CI: only the drift is left, σ = 1% at 1 ms,
        // 2% at 0.25 ms; the half-width is z·√2·σ.
        let within = ci(1.0, 1.0, 1.0);
        for (ms, sigma) in [(1.0, 0.01), (0.25, 0.02)] {
            let j = rule.judge(within, ms, 24);
            assert!((j.drift - sigma).abs() < 1e-12);
            let h = rule.z(24) * 2f64.sqrt() * sigma;
            assert!((j.ratio.hi.ln() - h).abs() < 1e-12, "{j:?}");
            assert!((j.ratio.lo.ln() + h).abs() < 1e-12, "{j:?}");
        }
        // Bootstrap and drift add in quadrature, each side on its own.
        let within = ci(1.0, (-0.02f64).exp(), 1.0);
        let j = rule.judge(within, 1.0, 1);
        let se = 0.02 / rule.z(1);
        let want = rule.z(1) * (se * se + 2.0 * 0.01 * 0.01).sqrt();
        assert!((j.ratio.lo.ln() + want).abs() < 1e-12, "{j:?}");
        assert!((j.ratio.hi.ln() - rule.z(1) * 2f64.sqrt() * 0.01).abs() < 1e-12);
    }

    #[test]
    fn thresholds_and_confidences_parse_as_written() {
        assert_eq!(parse_threshold("2%").unwrap(), 0.02);
        assert_eq!(parse_threshold(" 0.5 % ").unwrap(), 0.005);
        assert_eq!(parse_threshold("0.02").unwrap(), 0.02);
        assert_eq!(parse_confidence("95%").unwrap(), 0.95);
        assert_eq!(parse_confidence("0.9").unwrap(), 0.9);
        for bad in ["2", "0", "-1%", "100%", "abc", "", "NaN", "inf%"] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_drift("1%").unwrap(), 0.01);
        assert_eq!(parse_drift("0.012").unwrap(), 0.012);
        assert_eq!(parse_drift("0").unwrap(), 0.0);
        assert_eq!(parse_drift("0 %").unwrap(), 0.0);
        for bad in ["1", "-1%", "100%", "abc", "", "NaN", "inf%"] {
            assert!(parse_drift(bad).is_err(), "{bad}");
        }
        assert!(Rule::new(0.0, 0.95, DriftModel::NONE).is_err());
        assert!(Rule::new(0.02, 1.0, DriftModel::NONE).is_err());
        assert!(Rule::new(0.02, 0.95, DriftModel::constant(-0.01)).is_err());
    }
}
