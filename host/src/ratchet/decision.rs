//! The run-level decision: every matched measurement judged at the level its
//! number calls for, the geometric mean of each implementation's ratios
//! judged as one more verdict, and the run failed when any of them regressed.
//! Why the two parts and how they share the false-alarm rate: the
//! [module doc](super).

use serde::{Deserialize, Serialize};

use super::rule::{Judgement, Rule, Verdict};
use crate::stats::RatioCi;

/// What the decision needs of one matched measurement.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub implementation: &'a str,
    /// The baseline's median: the duration the drift's σ is taken at.
    pub baseline_ms: f64,
    /// The within-run bootstrap CI of median(current)/median(baseline).
    pub within_run: RatioCi,
}

/// One implementation's measurements taken together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    pub implementation: String,
    pub measurements: usize,
    /// The geometric mean of the ratios and its CI (see [`decide`]).
    pub ratio: RatioCi,
    pub verdict: Verdict,
}

/// Every measurement's judgement, in the inputs' order, and the aggregates,
/// in the order their implementations first appear.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub judgements: Vec<Judgement>,
    pub aggregates: Vec<Aggregate>,
}

impl Decision {
    pub fn regressed(&self) -> bool {
        run_regressed(self.judgements.iter().map(|j| j.verdict), &self.aggregates)
    }
}

/// The exit code's question: did any measurement or any aggregate regress?
pub fn run_regressed(rows: impl IntoIterator<Item = Verdict>, aggregates: &[Aggregate]) -> bool {
    rows.into_iter().any(|v| v == Verdict::Regressed)
        || aggregates.iter().any(|a| a.verdict == Verdict::Regressed)
}

/// Judge a run. Each of the m measurements gets its CI at 1 − (1 − c)/m and
/// each of the g aggregates at 1 − (1 − c)/g, so that the lower tails of all
/// of them add up to at most 1 − c (Bonferroni, twice half of it).
///
/// An aggregate is exp(mean ln rᵢ) over one implementation's n measurements,
/// with ln's standard error √(Σ(seᵢ² + 2σᵢ²))/n: the measurements' within-run
/// errors and drifts taken as independent, which the H200 pair supports (its
/// 24 log-ratios average +0.05%, where independent drift alone would scatter
/// that mean by ±0.24%). A slowdown shared by every shape thereby shows with
/// √n times the precision of any one of them.
pub fn decide(rule: &Rule, inputs: &[Input]) -> Decision {
    let m = inputs.len();
    let judgements: Vec<Judgement> = inputs
        .iter()
        .map(|i| rule.judge(i.within_run, i.baseline_ms, m))
        .collect();
    let mut implementations: Vec<&str> = Vec::new();
    for i in inputs {
        if !implementations.contains(&i.implementation) {
            implementations.push(i.implementation);
        }
    }
    let (z_run, z) = (rule.z(1), rule.z(implementations.len()));
    let aggregates = implementations
        .iter()
        .map(|&name| {
            let of: Vec<&Judgement> = inputs
                .iter()
                .zip(&judgements)
                .filter(|(i, _)| i.implementation == name)
                .map(|(_, j)| j)
                .collect();
            let n = of.len() as f64;
            let mean = of.iter().map(|j| j.ratio.ratio.ln()).sum::<f64>() / n;
            let variance = of
                .iter()
                .map(|j| j.within_run_se(z_run).powi(2) + 2.0 * j.drift.powi(2))
                .sum::<f64>()
                / (n * n);
            let h = z * variance.sqrt();
            let ratio = RatioCi {
                ratio: mean.exp(),
                lo: (mean - h).exp(),
                hi: (mean + h).exp(),
            };
            Aggregate {
                implementation: name.into(),
                measurements: of.len(),
                ratio,
                verdict: rule.classify(&ratio),
            }
        })
        .collect();
    Decision {
        judgements,
        aggregates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratchet::drift::DriftModel;

    fn point(ratio: f64) -> RatioCi {
        RatioCi {
            ratio,
            lo: ratio,
            hi: ratio,
        }
    }

    fn input(implementation: &str, ratio: f64) -> Input<'_> {
        Input {
            implementation,
            baseline_ms: 1.0,
            within_run: point(ratio),
        }
    }

    /// σ = 1% per run at 1 ms: one pair's difference has an SD of 1.41%.
    fn rule() -> Rule {
        Rule::new(0.02, 0.95, DriftModel::constant(0.01)).unwrap()
    }

    #[test]
    fn a_uniform_loss_no_single_measurement_shows_regresses_the_aggregate() {
        let rule = rule();
        let inputs: Vec<Input> = (0..24).map(|_| input("tileattn", 1.03)).collect();
        let d = decide(&rule, &inputs);
        // Each row: +3% with a half-width of 3.08·1.41% = 4.4%: inconclusive.
        assert!(
            d.judgements
                .iter()
                .all(|j| j.verdict == Verdict::Inconclusive)
        );
        // The geometric mean: half-width 1.96·1.41%/√24 = 0.57%.
        let [a] = &d.aggregates[..] else {
            panic!("{:?}", d.aggregates)
        };
        assert_eq!(
            (a.implementation.as_str(), a.measurements),
            ("tileattn", 24)
        );
        assert!((a.ratio.ratio - 1.03).abs() < 1e-12);
        let h = a.ratio.hi.ln() - 1.03f64.ln();
        assert!((h - rule.z(1) * 2f64.sqrt() * 0.01 / 24f64.sqrt()).abs() < 1e-12);
        assert_eq!(a.verdict, Verdict::Regressed);
        assert!(d.regressed());
    }

    #[test]
    fn aggregates_are_per_implementation_and_share_the_level() {
        let rule = rule();
        let mut inputs: Vec<Input> = (0..24).map(|_| input("tileattn", 1.0)).collect();
        inputs.extend((0..24).map(|_| input("torch-flash", 0.97)));
        let d = decide(&rule, &inputs);
        let names: Vec<&str> = d
            .aggregates
            .iter()
            .map(|a| a.implementation.as_str())
            .collect();
        assert_eq!(names, ["tileattn", "torch-flash"]);
        assert_eq!(d.aggregates[0].verdict, Verdict::Unchanged);
        assert_eq!(d.aggregates[1].verdict, Verdict::Improved);
        assert!(!d.regressed());
        // Two aggregates: each at 97.5%, rows at 1 − 0.05/48.
        let h = d.aggregates[0].ratio.hi.ln();
        assert!((h - rule.z(2) * 2f64.sqrt() * 0.01 / 24f64.sqrt()).abs() < 1e-12);
        let row = d.judgements[0].ratio.hi.ln();
        assert!((row - rule.z(48) * 2f64.sqrt() * 0.01).abs() < 1e-12);
    }

    #[test]
    fn one_large_loss_fails_the_run_without_moving_the_aggregate() {
        let rule = rule();
        let mut inputs: Vec<Input> = (0..24).map(|_| input("tileattn", 1.0)).collect();
        inputs[5].within_run = point(1.2);
        let d = decide(&rule, &inputs);
        assert_eq!(d.judgements[5].verdict, Verdict::Regressed);
        // 1.2^(1/24) = +0.76%: within the threshold.
        assert_ne!(d.aggregates[0].verdict, Verdict::Regressed);
        assert!(d.regressed());
    }
}
