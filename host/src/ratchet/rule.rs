//! The decision rule: one measurement of the current run against the same
//! measurement of the baseline, judged from the bootstrap CI of the ratio of
//! their medians. Why this rule is explained in the [module doc](super).

use serde::{Deserialize, Serialize};

use crate::stats::{Bootstrap, RatioCi, bootstrap_ratio_ci};
use crate::{Error, Result};

/// The threshold when none is given: the smallest change worth a pull-request
/// comment, and above the run-to-run drift seen on the H100 (see the module doc).
pub const DEFAULT_THRESHOLD: f64 = 0.02;

/// What the ratchet concludes about one measurement. Declared worst first:
/// sorting by verdict puts regressions at the top of a report.
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

/// The threshold and the bootstrap the verdicts are computed with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rule {
    /// Relative change that matters: 0.02 is 2%.
    pub threshold: f64,
    /// Its confidence is the CI's level; seeded, so a verdict is reproducible.
    pub bootstrap: Bootstrap,
}

/// A verdict and the numbers it came from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// median(current) / median(baseline) and its CI: above 1 is slower.
    pub ratio: RatioCi,
    pub verdict: Verdict,
}

impl Rule {
    /// A rule with the default bootstrap (2000 resamples, fixed seed).
    pub fn new(threshold: f64, confidence: f64) -> Result<Rule> {
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
        Ok(Rule {
            threshold,
            bootstrap: Bootstrap {
                confidence,
                ..Bootstrap::default()
            },
        })
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

    /// Judge `current` against `baseline` (raw samples, ms; at least two
    /// each, positive): the ratio is current/baseline, so above 1 is slower.
    pub fn judge(&self, baseline: &[f64], current: &[f64]) -> Result<Judgement> {
        let ratio = bootstrap_ratio_ci(current, baseline, &self.bootstrap)?;
        Ok(Judgement {
            ratio,
            verdict: self.classify(&ratio),
        })
    }
}

/// A threshold as the user writes it: `2%` or `0.02`. A bare number of 1 or
/// more is refused: `--threshold 2` is far more likely to mean 2% than 200%.
pub fn parse_threshold(s: &str) -> Result<f64> {
    parse_fraction("threshold", s)
}

/// A confidence as the user writes it: `95%` or `0.95`.
pub fn parse_confidence(s: &str) -> Result<f64> {
    parse_fraction("confidence", s)
}

fn parse_fraction(what: &str, s: &str) -> Result<f64> {
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
    if !(x > 0.0 && x < 1.0) {
        return Err(Error::Invalid(format!(
            "{what} `{s}`: must lie strictly between 0% and 100% (write 2% or 0.02)"
        )));
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(ratio: f64, lo: f64, hi: f64) -> RatioCi {
        RatioCi { ratio, lo, hi }
    }

    #[test]
    fn verdict_table() {
        let rule = Rule::new(0.02, 0.95).unwrap();
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
        let rule = Rule::new(0.02, 0.95).unwrap();
        let base: Vec<f64> = (0..20).map(|i| 1.0 + 0.001 * i as f64).collect();
        let slow: Vec<f64> = base.iter().map(|x| x * 1.1).collect();
        let j = rule.judge(&base, &slow).unwrap();
        assert_eq!(j.verdict, Verdict::Regressed);
        assert!((j.ratio.ratio - 1.1).abs() < 1e-12);
        assert_eq!(rule.judge(&slow, &base).unwrap().verdict, Verdict::Improved);
        assert_eq!(
            rule.judge(&base, &base).unwrap().verdict,
            Verdict::Unchanged
        );
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
        assert!(Rule::new(0.0, 0.95).is_err());
        assert!(Rule::new(0.02, 1.0).is_err());
    }
}
