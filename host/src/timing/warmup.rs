//! The warm-up: samples run and thrown away until the SM clock has settled
//! into the regime of sustained load.
//!
//! # Why settle on the clock
//! A GPU that has idled (between measurements, while the host checks an
//! output or writes inputs for torch) meets a burst of work at its highest
//! boost clock, and its power management pulls the clock down only once the
//! load has lasted a while. On the H200 of `results/h200`, torch's cuDNN
//! kernels were timed 10–13% faster in ~50 ms bursts after seconds of idling
//! (a 25 ms warm-up, then 10 samples) than by `do_bench`'s back-to-back
//! launches, during which `nvidia-smi` read the SM clock at 1635–1815 MHz on
//! cuDNN's turns (1890–1965 MHz on FLASH's, 1980 MHz idle). A warm-up of
//! fixed, short length samples the first regime; a real workload lives in the
//! second.
//!
//! # Rule
//! The warm-up runs the sample sequence itself (flush, probe, launch), through
//! the same [`SampleStream`] as the samples, so the GPU is never idle between
//! warm-up and sampling. It takes one sample (module load, first-touch costs,
//! and a first estimate of a sample's cost), then batches of about
//! [`WarmupRule::batch`] of GPU time. It ends
//! - *settled* after a batch whose median probed clock is within
//!   [`WarmupRule::tolerance`] of the batch before's, once [`WarmupRule::min`]
//!   has passed;
//! - *not settled* at [`WarmupRule::max`], whatever the clock does (a power
//!   cap can dither between clock steps for as long as the load lasts); the
//!   record says so.
//!
//! The minimum is what makes "two batches agree" mean "settled" rather than
//! "not yet moving": on the H200 the clock answered a change of kernel within
//! one 100 ms `nvidia-smi` interval, so [`WarmupRule::MEASURE`] waits at least
//! twice that. One percent is about one step of the clock table (15 MHz at
//! 1980 MHz). The tuner uses the same rule: it once used 50–250 ms, on the
//! view that candidates timed back to back keep the GPU loaded, and on the
//! H200 its first candidate after a verification pause was then timed 10%
//! above the clock it sustains, which made it win against a variant that is
//! faster at the sustained clock (`results/h200/tuner-warmup/`).
//!
//! `scripts/sdpa_baseline.py` implements the same rule (`warm_up`), and a test
//! runs both on the same simulated GPU and compares their records.

use std::time::Duration;

use super::queue::{SampleQueue, samples_for};
use super::stream::SampleStream;
use crate::runfile::{Warmup, WarmupBatch};
use crate::{Error, Result};

/// Most samples in one warm-up batch, whatever the batch time holds.
pub const MAX_BATCH_SAMPLES: u64 = 1024;

/// When a warm-up ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmupRule {
    /// Never end before this much time.
    pub min: Duration,
    /// Always end by this much time (rounded up to the batch in flight).
    pub max: Duration,
    /// Settled: the last two batch medians differ by at most this fraction.
    pub tolerance: f64,
    /// GPU time of one batch, once a sample's cost is known.
    pub batch: Duration,
}

impl WarmupRule {
    /// For measurements: at least 200 ms of sustained load, at most 1 s.
    pub const MEASURE: WarmupRule = WarmupRule {
        min: Duration::from_millis(200),
        max: Duration::from_millis(1000),
        tolerance: 0.01,
        batch: Duration::from_millis(25),
    };

    /// A short rule for tests that simulate a clock.
    #[cfg(test)]
    pub(crate) const SHORT: WarmupRule = WarmupRule {
        min: Duration::from_millis(50),
        max: Duration::from_millis(250),
        ..WarmupRule::MEASURE
    };

    pub fn validate(&self) -> Result<()> {
        if self.max < self.min {
            return Err(Error::Invalid(format!(
                "warm-up: the maximum ({:?}) is below the minimum ({:?})",
                self.max, self.min
            )));
        }
        if !(self.tolerance > 0.0 && self.tolerance < 1.0) {
            return Err(Error::Invalid(format!(
                "warm-up: the clock tolerance must lie strictly between 0 and 1, got {}",
                self.tolerance
            )));
        }
        if self.batch.is_zero() {
            return Err(Error::Invalid(
                "warm-up: the batch time must be positive".into(),
            ));
        }
        Ok(())
    }

    /// Samples in the next batch: `batch` at `per_sample_ms` each, at least 1.
    pub fn batch_samples(&self, per_sample_ms: Option<f64>) -> u64 {
        samples_for(self.batch, per_sample_ms, MAX_BATCH_SAMPLES)
    }

    /// Whether a warm-up that has run `elapsed` ends after a batch whose median
    /// clock is `current`, the batch before's being `previous`:
    /// `Some(settled)` when it ends.
    pub fn ends(
        &self,
        previous: Option<f64>,
        current: Option<f64>,
        elapsed: Duration,
    ) -> Option<bool> {
        let agree = match (previous, current) {
            (Some(p), Some(c)) => (c - p).abs() <= self.tolerance * p,
            _ => false,
        };
        if agree && elapsed >= self.min {
            Some(true)
        } else if elapsed >= self.max {
            Some(false)
        } else {
            None
        }
    }
}

/// Median of the finite readings (the probe's NaN means "no reading").
pub fn median_clock(mhz: &[f64]) -> Option<f64> {
    let finite: Vec<f64> = mhz.iter().copied().filter(|x| x.is_finite()).collect();
    (!finite.is_empty()).then(|| crate::stats::median(&finite))
}

/// Run `stream` by `rule` until the clock settles or the time is up.
pub fn warm_up<Q: SampleQueue>(
    stream: &mut SampleStream<'_, Q>,
    rule: &WarmupRule,
) -> Result<Warmup> {
    rule.validate()?;
    let start = stream.now();
    let mut batches = Vec::new();
    let mut previous = None;
    let mut size = 1;
    let mut samples = 0;
    loop {
        let (_, mhz) = stream.take(size as usize)?;
        samples += size;
        let elapsed = stream.now().saturating_sub(start);
        let clock_mhz = median_clock(&mhz);
        batches.push(WarmupBatch {
            end_ms: elapsed.as_secs_f64() * 1e3,
            samples: size,
            clock_mhz,
        });
        if let Some(settled) = rule.ends(previous, clock_mhz, elapsed) {
            return Ok(Warmup {
                ms: elapsed.as_secs_f64() * 1e3,
                samples,
                settled,
                clock_mhz,
                batches,
            });
        }
        previous = clock_mhz;
        size = rule.batch_samples(stream.per_sample_ms());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::fake::{ClockModel, FakeGpu};

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn ends_settled_only_when_two_batches_agree_after_the_minimum() {
        let r = WarmupRule::MEASURE;
        // Agreeing (0.5% apart) but too early; then late enough.
        assert_eq!(r.ends(Some(1980.0), Some(1970.0), MS(150)), None);
        assert_eq!(r.ends(Some(1980.0), Some(1970.0), MS(200)), Some(true));
        // 1.5% apart: not settled, until the maximum ends it unsettled.
        assert_eq!(r.ends(Some(1980.0), Some(1950.0), MS(500)), None);
        assert_eq!(r.ends(Some(1980.0), Some(1950.0), MS(1000)), Some(false));
        // No reading is never settled; the first batch has no predecessor.
        assert_eq!(r.ends(None, Some(1980.0), MS(300)), None);
        assert_eq!(r.ends(Some(1980.0), None, MS(300)), None);
        assert_eq!(r.ends(None, None, MS(1200)), Some(false));
    }

    #[test]
    fn batches_fill_the_batch_time() {
        let r = WarmupRule::MEASURE;
        assert_eq!(r.batch_samples(None), 1);
        assert_eq!(r.batch_samples(Some(1.0)), 25);
        assert_eq!(r.batch_samples(Some(0.3)), 84);
        assert_eq!(r.batch_samples(Some(40.0)), 1);
        assert_eq!(r.batch_samples(Some(1e-6)), MAX_BATCH_SAMPLES);
        assert_eq!(r.batch_samples(Some(0.0)), 1);
    }

    #[test]
    fn rules_are_checked() {
        assert!(WarmupRule::MEASURE.validate().is_ok() && WarmupRule::SHORT.validate().is_ok());
        let backwards = WarmupRule {
            max: MS(10),
            ..WarmupRule::MEASURE
        };
        assert!(
            backwards
                .validate()
                .unwrap_err()
                .to_string()
                .contains("below the minimum")
        );
        let loose = WarmupRule {
            tolerance: 1.0,
            ..WarmupRule::MEASURE
        };
        assert!(loose.validate().is_err());
    }

    #[test]
    fn median_clock_skips_missing_readings() {
        assert_eq!(
            median_clock(&[1980.0, f64::NAN, 1700.0, 1750.0]),
            Some(1750.0)
        );
        assert_eq!(median_clock(&[f64::NAN]), None);
        assert_eq!(median_clock(&[]), None);
    }

    fn warm(model: ClockModel, rule: &WarmupRule) -> Warmup {
        let mut gpu = FakeGpu::new(model, 4096);
        let clock = gpu.clock();
        let mut stream = SampleStream::new(&mut gpu, &clock);
        let w = warm_up(&mut stream, rule).unwrap();
        stream.finish().unwrap();
        w
    }

    #[test]
    fn a_falling_clock_is_followed_to_where_it_settles() {
        let w = warm(ClockModel::Drop, &WarmupRule::MEASURE);
        assert!(w.settled, "{w:?}");
        assert_eq!(w.clock_mhz, Some(1700.0));
        // The clock reaches 1700 MHz at 250 ms; a full batch there, then one
        // more to agree with it. The 1% steps of the descent never look settled.
        assert!(w.ms > 250.0 && w.ms < 330.0, "{w:?}");
        assert_eq!(w.samples, w.batches.iter().map(|b| b.samples).sum::<u64>());
        assert_eq!(w.batches[0].samples, 1);
    }

    #[test]
    fn a_steady_clock_settles_at_the_minimum() {
        let w = warm(ClockModel::Steady, &WarmupRule::MEASURE);
        assert!(w.settled);
        assert!(w.ms >= 200.0 && w.ms < 230.0, "{w:?}");
        let t = warm(ClockModel::Steady, &WarmupRule::SHORT);
        assert!(t.settled && t.ms >= 50.0 && t.ms < 80.0, "{t:?}");
    }

    #[test]
    fn a_clock_that_keeps_moving_ends_unsettled_at_the_maximum() {
        let w = warm(ClockModel::Ramp, &WarmupRule::MEASURE);
        assert!(!w.settled);
        assert!(w.ms >= 1000.0 && w.ms < 1030.0, "{w:?}");
    }

    #[test]
    fn no_probe_reading_never_settles() {
        let w = warm(ClockModel::Silent, &WarmupRule::SHORT);
        assert!(!w.settled && w.clock_mhz.is_none(), "{w:?}");
        assert!(w.ms >= 250.0);
    }
}
