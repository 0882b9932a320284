//! The between-run drift model: how far the median of one measurement moves
//! from one run of a build to the next, beyond what its own samples show.
//! Why it exists and how it enters the verdicts: the [module doc](super).

use serde::{Deserialize, Serialize};

use super::format::pct;

/// The relative standard deviation of one run's median about the build's
/// typical value, as a function of the kernel's duration t:
///
/// σ(t)² = floor² + at_1ms² · (1 ms / t)
///
/// The floor is drift proportional to the time (a clock that runs a little
/// slower all run long); the second term is an absolute jitter whose
/// variance grows with t, so relative to t it shrinks as 1/√t, which is how
/// the H200 pair behaves (kernels under 0.5 ms moved by up to 2.9%, those
/// of 3 ms and more by at most 0.6%; the module doc compares other forms).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftModel {
    /// Relative SD that does not shrink with duration: 0.003 is 0.3%.
    pub floor: f64,
    /// The duration-dependent term's relative SD at a 1 ms kernel.
    pub at_1ms: f64,
}

/// The drift when a baseline carries none and `--drift` is not given:
/// the 95% upper bound that `tileattn ratchet --calibrate
/// results/h200/ratchet/runA.json results/h200/ratchet/runB.json` prints
/// (rounded up to 0.01%), from the two same-build fa2 runs on an H200. The
/// pair shows no floor (the multi-ms kernels moved by at most 0.6%); the
/// upper bound, not the estimate, because 24 shapes of one pair leave the
/// estimate uncertain by about ±15%. A test recomputes it.
pub const DEFAULT_DRIFT: DriftModel = DriftModel {
    floor: 0.0,
    at_1ms: 0.0091,
};

impl DriftModel {
    /// No drift: the rule then trusts the within-run bootstrap alone.
    pub const NONE: DriftModel = DriftModel {
        floor: 0.0,
        at_1ms: 0.0,
    };

    /// The same relative SD at every duration (what `--drift X%` sets).
    pub fn constant(sigma: f64) -> DriftModel {
        DriftModel {
            floor: sigma,
            at_1ms: 0.0,
        }
    }

    /// σ(t) for a kernel of `duration_ms` (positive).
    pub fn sigma(&self, duration_ms: f64) -> f64 {
        (self.floor.powi(2) + self.at_1ms.powi(2) / duration_ms).sqrt()
    }

    /// Both terms finite, non-negative and below 100%: what a baseline file
    /// must hold before its verdicts are trusted.
    pub fn check(&self) -> std::result::Result<(), String> {
        for (name, x) in [("floor", self.floor), ("at_1ms", self.at_1ms)] {
            if !(x.is_finite() && (0.0..1.0).contains(&x)) {
                return Err(format!(
                    "drift {name} is {x}: a relative SD must lie in [0, 1) (0.009 is 0.9%)"
                ));
            }
        }
        Ok(())
    }

    /// `floor 0.00%, 0.90% at 1 ms (σ 2.01% at 0.2 ms, 0.90% at 1 ms, 0.40% at 5 ms)`.
    pub fn describe(&self) -> String {
        format!(
            "floor {}, {} at 1 ms (σ {} at 0.2 ms, {} at 1 ms, {} at 5 ms)",
            pct(self.floor),
            pct(self.at_1ms),
            pct(self.sigma(0.2)),
            pct(self.sigma(1.0)),
            pct(self.sigma(5.0)),
        )
    }
}

/// Where the drift a comparison used came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum DriftSource {
    /// `--drift X%`.
    CommandLine,
    /// The baseline's own calibration (`--calibrate … --baseline B`).
    Baseline {
        runs: usize,
        measurements: usize,
        calibrated_utc: String,
    },
    /// [`DEFAULT_DRIFT`]: the baseline has no calibration.
    Default,
}

impl std::fmt::Display for DriftSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriftSource::CommandLine => write!(f, "--drift"),
            DriftSource::Baseline {
                runs,
                measurements,
                calibrated_utc,
            } => write!(
                f,
                "the baseline's calibration ({runs} same-build runs, {measurements} measurements, \
                 {calibrated_utc})"
            ),
            DriftSource::Default => write!(
                f,
                "the built-in default (the baseline has no calibration; calibrated on the \
                 H200 pair results/h200/ratchet/runA.json and runB.json)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigma_shrinks_as_one_over_root_duration_down_to_the_floor() {
        let m = DriftModel {
            floor: 0.003,
            at_1ms: 0.01,
        };
        assert!((m.sigma(1.0) - (0.003f64.powi(2) + 0.01f64.powi(2)).sqrt()).abs() < 1e-15);
        assert!((DriftModel::constant(0.01).sigma(0.1) - 0.01).abs() < 1e-15);
        let no_floor = DriftModel { floor: 0.0, ..m };
        assert!((no_floor.sigma(0.25) - 0.02).abs() < 1e-15);
        assert!(m.sigma(1e6) - 0.003 < 1e-6);
        assert_eq!(DriftModel::NONE.sigma(0.1), 0.0);
        assert!(DEFAULT_DRIFT.check().is_ok());
        assert!(
            DriftModel {
                floor: -0.1,
                at_1ms: 0.0
            }
            .check()
            .is_err()
        );
        assert!(DriftModel::constant(f64::NAN).check().is_err());
        assert!(DriftModel::constant(1.0).check().is_err());
    }
}
