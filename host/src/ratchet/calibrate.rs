//! Estimating the drift model from two or more runs of one build on one
//! machine (`tileattn ratchet --calibrate A.json B.json …`).
//!
//! Each measurement present in all k runs gives the sample variance s² of
//! its k log-medians, k − 1 degrees of freedom: for a pair, (ln(b/a))²/2,
//! the √2 of a difference of two runs taken out. Under the model each s² is
//! σ(t)²·χ²ₖ₋₁/(k − 1), σ(t)² = floor² + at_1ms²/t
//! ([`DriftModel`]), t the geometric mean of the medians in ms. The fit is
//! maximum likelihood: with σ² = λ·(w + (1 − w)/t), λ has a closed form for
//! each shape w, and w is searched on a grid of 400 steps.
//!
//! The variance, not a robust scale such as the MAD, because the false-alarm
//! rate lives in the tails: on the H200 pair the MAD reads 0.69% per run
//! where the SD reads 0.83%; a robust scale describes the typical move and
//! discounts the largest ones, which are the ones that make false alarms.
//! Measurements far off the fit are listed, largest first, so a glitch shows
//! instead of hiding in the estimate. The within-run sampling error of each
//! median (standard errors under 0.25% here) is left in s²: it is part of
//! what moves a median between runs, and subtracting it would gain nothing
//! at these sizes.
//!
//! What the rule uses is the fit's one-sided upper confidence bound: for a
//! fixed shape, m·(k − 1)·λ̂/λ is χ² with m·(k − 1) degrees of freedom, one of
//! which the shape search spends, so λ is at most m·(k − 1)·λ̂/χ²₁₋c. From 24
//! measurements of one pair that is 1.35 times the estimate in σ: a pair
//! cannot pin a variance down closer, and an underestimate is what would
//! bring the false alarms back.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::drift::{DriftModel, DriftSource};
use super::format::{fmt_g, pct, short};
use super::matching::{Key, index, mismatches};
use super::provenance::Provenance;
use crate::runfile::RunFile;
use crate::stats::median;
use crate::{Error, Result};

/// Steps of the grid over the fit's shape w ∈ [0, 1]: 0.25% steps, finer
/// than 24 measurements can resolve.
const SHAPES: usize = 400;

/// A drift model and where it came from, as a baseline stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// What the rule uses: the upper confidence bound of the fit.
    pub model: DriftModel,
    /// The maximum-likelihood fit.
    pub estimate: DriftModel,
    /// Of `model` as a one-sided upper bound.
    pub confidence: f64,
    /// Measurements present in every run.
    pub measurements: usize,
    pub runs: Vec<Provenance>,
    /// RFC 3339 UTC.
    pub calibrated_utc: String,
}

impl Calibration {
    pub fn source(&self) -> DriftSource {
        DriftSource::Baseline {
            runs: self.runs.len(),
            measurements: self.measurements,
            calibrated_utc: self.calibrated_utc.clone(),
        }
    }

    /// What a baseline file must hold: usable models and a confidence.
    pub fn check(&self) -> std::result::Result<(), String> {
        self.model.check()?;
        self.estimate.check()?;
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(format!(
                "drift confidence is {}: must lie strictly between 0 and 1",
                self.confidence
            ));
        }
        if self.runs.len() < 2 {
            return Err("drift: a calibration names at least two runs".into());
        }
        Ok(())
    }
}

/// One measurement's movement between the runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub key: Key,
    /// Geometric mean of the runs' medians.
    pub duration_ms: f64,
    /// SD of the runs' log-medians: one run's relative drift.
    pub per_run_sd: f64,
    /// The fit's σ at this duration.
    pub fitted_sd: f64,
    /// Whether the runs timed different variants (a fresh tuning may pick
    /// another; a drift that includes such changes is larger).
    pub variant_changed: bool,
}

/// What `--calibrate` prints: the calibration and the evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationReport {
    pub calibration: Calibration,
    /// Largest per_run_sd / fitted_sd first.
    pub spreads: Vec<Spread>,
    /// The run files, as named on the command line.
    pub paths: Vec<String>,
    /// The baseline the calibration was written into, if any.
    pub stored_in: Option<String>,
}

/// Calibrate from `runs` (path as given, run), at least two, all of one
/// kernel build on one machine: a run of another build would count a real
/// change as drift. `confidence` is that of the upper bound.
pub fn calibrate(
    runs: &[(String, RunFile)],
    confidence: f64,
    now_utc: &str,
) -> Result<CalibrationReport> {
    let [(first_path, first), rest @ ..] = runs else {
        return Err(Error::Invalid("--calibrate needs runs".into()));
    };
    if rest.is_empty() {
        return Err(Error::Invalid(
            "--calibrate needs at least two runs of the same build: drift is what differs \
             between runs"
                .into(),
        ));
    }
    for (path, run) in rest {
        let differ: Vec<String> = mismatches(&first.env, &run.env)
            .iter()
            .map(|m| m.to_string())
            .collect();
        if !differ.is_empty() {
            return Err(Error::Incomparable(format!(
                "{first_path} and {path}: calibrating needs runs of one kernel build on one \
                 machine, and these differ in {}",
                differ.join("; ")
            )));
        }
    }
    let indexes = runs
        .iter()
        .map(|(path, run)| index(path, run))
        .collect::<Result<Vec<_>>>()?;
    let k = runs.len();
    // Per measurement in every run: key, duration, per-run SD, variant changed.
    let mut moves = Vec::new();
    for m in &first.measurements {
        let key = Key::of(m);
        let Some(all) = indexes
            .iter()
            .map(|ix| ix.get(&key).copied())
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let medians: Vec<f64> = all.iter().map(|m| median(&m.samples_ms)).collect();
        let (duration, var) = log_spread(&medians);
        let changed = all.iter().any(|x| x.variant != m.variant);
        moves.push((key, duration, var.sqrt(), changed));
    }
    if moves.len() < 3 {
        return Err(Error::Incomparable(format!(
            "the runs have {} measurement(s) in common; fitting the drift's two terms needs \
             at least 3",
            moves.len()
        )));
    }
    let points: Vec<(f64, f64)> = moves.iter().map(|m| (m.1, m.2 * m.2)).collect();
    let (estimate, model) = fit(&points, k - 1, confidence)?;
    let mut spreads: Vec<Spread> = moves
        .into_iter()
        .map(|(key, duration_ms, per_run_sd, variant_changed)| Spread {
            key,
            duration_ms,
            per_run_sd,
            fitted_sd: estimate.sigma(duration_ms),
            variant_changed,
        })
        .collect();
    let standardized = |s: &Spread| s.per_run_sd / s.fitted_sd;
    spreads.sort_by(|a, b| standardized(b).total_cmp(&standardized(a)));
    Ok(CalibrationReport {
        calibration: Calibration {
            model,
            estimate,
            confidence,
            measurements: spreads.len(),
            runs: runs.iter().map(|(_, r)| Provenance::of(r)).collect(),
            calibrated_utc: now_utc.into(),
        },
        spreads,
        paths: runs.iter().map(|(p, _)| p.clone()).collect(),
        stored_in: None,
    })
}

/// One measurement's medians in k ≥ 2 runs as the fit takes them: their
/// geometric mean (the duration) and the sample variance of their logs.
pub fn log_spread(medians: &[f64]) -> (f64, f64) {
    let k = medians.len() as f64;
    let logs: Vec<f64> = medians.iter().map(|m| m.ln()).collect();
    let mean = logs.iter().sum::<f64>() / k;
    let var = logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean.exp(), var)
}

/// The maximum-likelihood drift model for per-measurement variances
/// `(duration_ms, s²)`, each with `dof` degrees of freedom, and its upper
/// bound at `confidence` (see the module doc).
pub fn fit(points: &[(f64, f64)], dof: usize, confidence: f64) -> Result<(DriftModel, DriftModel)> {
    if points.iter().all(|&(_, s2)| s2 == 0.0) {
        return Err(Error::Invalid(
            "the runs' medians are identical in every measurement: a run compared with \
             itself (or a copy) has no drift to measure"
                .into(),
        ));
    }
    let m = points.len() as f64;
    // For shape w: λ̂ = mean(s²/g), and −2·log-likelihood/dof = Σ ln g + m ln λ̂ + const.
    let profile = |w: f64| {
        let g = |t: f64| w + (1.0 - w) / t;
        let lambda = points.iter().map(|&(t, s2)| s2 / g(t)).sum::<f64>() / m;
        let nll = points.iter().map(|&(t, _)| g(t).ln()).sum::<f64>() + m * lambda.ln();
        (nll, lambda)
    };
    let mut best = (0.0, profile(0.0));
    for w in (1..=SHAPES).map(|i| i as f64 / SHAPES as f64) {
        let p = profile(w);
        if p.0 < best.1.0 {
            best = (w, p);
        }
    }
    let (w, (_, lambda)) = best;
    let estimate = DriftModel {
        floor: (lambda * w).sqrt(),
        at_1ms: (lambda * (1.0 - w)).sqrt(),
    };
    let df = m * dof as f64;
    let chi2 =
        ChiSquared::new(df - 1.0).map_err(|e| Error::Invalid(format!("drift upper bound: {e}")))?;
    let scale = (df / chi2.inverse_cdf(1.0 - confidence)).sqrt();
    let upper = DriftModel {
        floor: estimate.floor * scale,
        at_1ms: estimate.at_1ms * scale,
    };
    upper.check().map_err(Error::Invalid)?;
    Ok((estimate, upper))
}

impl CalibrationReport {
    pub fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let c = &self.calibration;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### tileattn ratchet: drift calibrated from {} same-build runs\n",
            c.runs.len()
        );
        for (path, run) in self.paths.iter().zip(&c.runs) {
            let _ = writeln!(
                s,
                "- `{path}` ({}; tileattn {}, kernels {})",
                run.created_utc,
                run.tileattn_commit,
                short(&run.kernel_build)
            );
        }
        let _ = writeln!(
            s,
            "\n{} measurements in every run. Model: one run's median drifts by a relative SD \
             σ(t) = √(floor² + at_1ms²·(1 ms / t)).\n",
            c.measurements
        );
        let _ = writeln!(s, "- maximum-likelihood fit: {}", c.estimate.describe());
        let _ = writeln!(
            s,
            "- **used by the rule** (its {}% upper bound): {}",
            fmt_g(c.confidence * 100.0),
            c.model.describe()
        );
        match &self.stored_in {
            Some(path) => {
                let _ = writeln!(s, "- written into the baseline `{path}`");
            }
            None => {
                let _ = writeln!(
                    s,
                    "- not stored: add `--baseline B.json` to store it in a baseline, or pass \
                     `--drift` when judging"
                );
            }
        }
        let _ = writeln!(
            s,
            "\n| measurement | ms | per-run SD | fitted σ | SD / σ | variant |\n|---|---:|---:|---:|---:|---|"
        );
        for sp in &self.spreads {
            let _ = writeln!(
                s,
                "| {} | {:.4} | {} | {} | {:.2} | {} |",
                sp.key,
                sp.duration_ms,
                pct(sp.per_run_sd),
                pct(sp.fitted_sd),
                sp.per_run_sd / sp.fitted_sd,
                if sp.variant_changed {
                    "**changed**"
                } else {
                    "same"
                }
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratchet::drift::DEFAULT_DRIFT;
    use crate::runfile::committed_ratchet_run;

    fn h200(name: &str) -> (String, RunFile) {
        (name.into(), committed_ratchet_run(name))
    }

    /// The default is what the committed H200 pair calibrates to, rounded
    /// up to 0.01%: the constant cannot drift from its stated source.
    #[test]
    fn the_default_drift_is_the_h200_pair_calibrated() {
        let r = calibrate(&[h200("runA.json"), h200("runB.json")], 0.95, "now").unwrap();
        let c = &r.calibration;
        eprintln!("{}", r.markdown());
        assert_eq!(c.measurements, 24);
        let round_up = |x: f64| (x * 1e4).ceil() / 1e4;
        assert_eq!(
            DriftModel {
                floor: round_up(c.model.floor),
                at_1ms: round_up(c.model.at_1ms),
            },
            DEFAULT_DRIFT
        );
        // Not a coincidence of rounding: the fit finds no floor and the
        // 1/√t term the module doc describes.
        assert!(c.estimate.floor < 1e-3, "{:?}", c.estimate);
        assert!(
            (0.005..0.008).contains(&c.estimate.at_1ms),
            "{:?}",
            c.estimate
        );
        // The pair's largest move, +2.37% at 0.44 ms, is within 2.5 σ of the fit.
        assert!(r.spreads.iter().all(|s| s.per_run_sd < 2.5 * s.fitted_sd));
        assert!(r.spreads.iter().all(|s| !s.variant_changed));
    }

    #[test]
    fn the_fit_recovers_a_known_model_from_many_runs() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, StandardNormal};
        let truth = DriftModel {
            floor: 0.004,
            at_1ms: 0.008,
        };
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        let k = 6;
        let durations = [0.15, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0];
        let mut points = Vec::new();
        for _ in 0..20 {
            for &t in &durations {
                let x: Vec<f64> = (0..k)
                    .map(|_| {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        truth.sigma(t) * z
                    })
                    .collect();
                let mean = x.iter().sum::<f64>() / k as f64;
                let s2 = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
                points.push((t, s2));
            }
        }
        let (est, upper) = fit(&points, k - 1, 0.95).unwrap();
        for t in [0.2, 1.0, 5.0] {
            let rel = est.sigma(t) / truth.sigma(t);
            assert!((0.93..1.07).contains(&rel), "t={t}: {est:?}");
            assert!(upper.sigma(t) > est.sigma(t));
        }
        // 1200 degrees of freedom: the upper bound is within a few percent.
        assert!(upper.at_1ms / est.at_1ms < 1.06, "{upper:?}");
    }

    #[test]
    fn calibration_refuses_what_cannot_measure_drift() {
        let a = h200("runA.json");
        let msg = |r: Result<CalibrationReport>| r.unwrap_err().to_string();
        assert!(
            msg(calibrate(std::slice::from_ref(&a), 0.95, "now")).contains("at least two runs")
        );
        assert!(msg(calibrate(&[a.clone(), a.clone()], 0.95, "now")).contains("identical"));
        let mut other = h200("runB.json");
        other.1.env.kernel_build = "feedface".into();
        let e = msg(calibrate(&[a.clone(), other], 0.95, "now"));
        assert!(e.contains("one kernel build on one machine") && e.contains("kernel build"));
        let mut few = h200("runB.json");
        few.1.measurements.truncate(2);
        assert!(msg(calibrate(&[a, few], 0.95, "now")).contains("at least 3"));
    }
}
