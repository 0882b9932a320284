//! Statistics of timing samples: the median and its bootstrap confidence
//! interval, CIs of ratios of medians, Tukey outlier fences, the [`Summary`] of
//! a measurement, and the adaptive rule that decides how many samples to take.
//!
//! # Choices, and why
//!
//! - **The median, not the mean.** GPU timings are skewed to the right: a
//!   sample can be slowed (a clock dip, a preempting context, a cold TLB) but
//!   never run faster than the kernel's true cost. The mean follows that tail;
//!   the median describes the typical launch and hardly moves when one sample
//!   in fifty is ten times slower. Mean and standard deviation are still
//!   reported, so a heavy tail shows up as their disagreement with the median.
//! - **Percentile bootstrap for the median's CI.** The median's standard error
//!   depends on the density of the timing distribution at its median, which
//!   nobody knows, so there is no usable closed form; the bootstrap estimates
//!   the median's sampling distribution from the samples themselves. The
//!   percentile interval (the α/2 and 1−α/2 quantiles of the resampled
//!   medians) needs no standard error, which the studentised bootstrap would,
//!   and BCa's corrections buy little for a statistic as robust as the median.
//!   The tests check the interval's coverage on distributions whose medians
//!   are known. Resampling is seeded, so a run file's CI can be recomputed
//!   exactly from its raw samples.
//! - **Ratios** (speed-ups, the ratchet) are median(a)/median(b), with `a` and
//!   `b` resampled independently because they are independent measurements;
//!   their CI is the percentile interval of the resampled ratios.
//! - **Tukey fences for outliers.** The fences sit 1.5 and 3 IQR outside the
//!   quartiles, which a few outliers barely move; a mean ± k·σ rule would have
//!   its σ inflated by the very outliers it looks for. Outliers are counted,
//!   and each sample can be classified for reports, but none is ever dropped:
//!   a slow sample is a cost the user pays, and the median already discounts
//!   it.
//! - **Adaptive stopping that does not peek at every sample.** Sampling goes on
//!   until the CI half-width is at most a fraction of the median (±1% by
//!   default), the maximum sample count is reached, or the time budget runs
//!   out. Stopping at the first look that happens to show a narrow CI favours
//!   runs whose samples agreed by chance, and the more looks, the more such
//!   chances (and a bootstrap per look). So convergence is checked only as the
//!   sample count grows geometrically ([`CHECK_GROWTH`], 15%): from 10 to 2000
//!   samples that is under 40 looks, consecutive looks share most of their
//!   samples, and all looks together cost about eight times the last one. The
//!   stopping CI serves only to stop: the reported CI is recomputed from all
//!   samples by [`summarize`]. Samples are requested in batches up to the
//!   next look, because the GPU records them in batches of events read back
//!   together. After the first `min_samples` (always taken), a batch is also
//!   cut short where the budget would run out at the rate measured so far, so
//!   at a steady rate the budget is honoured to about one sample.

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use statrs::statistics::{Data, OrderStatistics, Statistics};

use crate::runfile::{Outliers, StopReason, Summary};
use crate::{Error, Result};

/// Growth of the sample count between two convergence checks of [`sample_adaptively`].
pub const CHECK_GROWTH: f64 = 1.15;

/// How a bootstrap resamples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bootstrap {
    /// Coverage of the interval, in (0, 1).
    pub confidence: f64,
    /// Number of resamples: 2000 puts the Monte Carlo jitter of a 95% interval's
    /// ends well below its width.
    pub resamples: usize,
    /// Seed of the resampling RNG: the same samples and seed give the same CI.
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            confidence: 0.95,
            resamples: 2000,
            seed: 0x7113_a770,
        }
    }
}

impl Bootstrap {
    fn validate(&self) -> Result<()> {
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(Error::Invalid(format!(
                "bootstrap confidence must lie strictly between 0 and 1, got {}",
                self.confidence
            )));
        }
        if self.resamples == 0 {
            return Err(Error::Invalid(
                "a bootstrap needs at least one resample".into(),
            ));
        }
        Ok(())
    }

    /// The percentile interval of a bootstrap distribution (reordered in place).
    fn percentile_interval(&self, replicates: &mut [f64]) -> (f64, f64) {
        let tail = (1.0 - self.confidence) / 2.0;
        let mut data = Data::new(replicates);
        (data.quantile(tail), data.quantile(1.0 - tail))
    }
}

/// Checks that `samples` can be summarised: at least `min` of them, all finite,
/// and few enough that counts fit the run file's `u32` fields. Returns the count.
fn check_samples(what: &str, samples: &[f64], min: usize) -> Result<u32> {
    if samples.is_empty() {
        return Err(Error::Invalid(format!("{what}: no samples")));
    }
    if samples.len() < min {
        return Err(Error::Invalid(format!(
            "{what}: {} sample(s), at least {min} needed",
            samples.len()
        )));
    }
    let n = u32::try_from(samples.len()).map_err(|_| {
        Error::Invalid(format!(
            "{what}: {} samples, more than a run file can count",
            samples.len()
        ))
    })?;
    match samples.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(Error::Invalid(format!(
            "{what}: sample {i} is {}; every sample must be finite",
            samples[i]
        ))),
        None => Ok(n),
    }
}

/// The sample median (the mean of the two middle values for even n), as statrs computes it.
pub fn median(samples: &[f64]) -> f64 {
    Data::new(samples.to_vec()).median()
}

/// Which side of which Tukey fence a sample lies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutlierClass {
    LowSevere,
    LowMild,
    Inlier,
    HighMild,
    HighSevere,
}

/// Tukey's fences of a sample set, from its quartiles Q1 and Q3 (statrs' R-8
/// quantiles) and IQR = Q3 − Q1: mild outliers lie beyond 1.5·IQR outside a
/// quartile, severe ones beyond 3·IQR.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fences {
    pub low_severe: f64,
    pub low_mild: f64,
    pub high_mild: f64,
    pub high_severe: f64,
}

impl Fences {
    pub fn of(samples: &[f64]) -> Result<Fences> {
        check_samples("Tukey fences", samples, 1)?;
        let mut data = Data::new(samples.to_vec());
        let (q1, q3) = (data.lower_quartile(), data.upper_quartile());
        let iqr = q3 - q1;
        Ok(Fences {
            low_severe: q1 - 3.0 * iqr,
            low_mild: q1 - 1.5 * iqr,
            high_mild: q3 + 1.5 * iqr,
            high_severe: q3 + 3.0 * iqr,
        })
    }

    /// "Beyond" is strict, as in Tukey: a sample exactly on a fence is inside it.
    pub fn classify(&self, x: f64) -> OutlierClass {
        if x < self.low_severe {
            OutlierClass::LowSevere
        } else if x < self.low_mild {
            OutlierClass::LowMild
        } else if x > self.high_severe {
            OutlierClass::HighSevere
        } else if x > self.high_mild {
            OutlierClass::HighMild
        } else {
            OutlierClass::Inlier
        }
    }
}

/// Counts the samples beyond each Tukey fence; nothing is removed.
pub fn tukey(samples: &[f64]) -> Result<Outliers> {
    let fences = Fences::of(samples)?;
    let mut counts = Outliers::default();
    // check_samples bounded the count by u32::MAX, so no counter can overflow.
    for &x in samples {
        match fences.classify(x) {
            OutlierClass::LowSevere => counts.low_severe += 1,
            OutlierClass::LowMild => counts.low_mild += 1,
            OutlierClass::Inlier => {}
            OutlierClass::HighMild => counts.high_mild += 1,
            OutlierClass::HighSevere => counts.high_severe += 1,
        }
    }
    Ok(counts)
}

/// The median of the resample `idx` of `sorted` (indices into it). Since
/// `sorted` is sorted, the middle indices point at the middle values, and
/// selecting among integers is cheaper than among floats.
fn median_of_indices(sorted: &[f64], idx: &mut [usize]) -> f64 {
    let (mid, odd) = (idx.len() / 2, idx.len() % 2 == 1);
    let (lower, &mut upper, _) = idx.select_nth_unstable(mid);
    if odd {
        return sorted[upper];
    }
    // Even n: average with the lower middle value, the largest index left of `mid`.
    let below = lower.iter().copied().max().unwrap_or(upper);
    (sorted[below] + sorted[upper]) / 2.0
}

/// `resamples` medians of resamples of `samples`, all drawn into one index buffer.
fn bootstrap_medians(samples: &[f64], resamples: usize, rng: &mut SmallRng) -> Vec<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut idx = vec![0; sorted.len()];
    (0..resamples)
        .map(|_| {
            idx.fill_with(|| rng.random_range(0..sorted.len()));
            median_of_indices(&sorted, &mut idx)
        })
        .collect()
}

/// The percentile-bootstrap CI `(lo, hi)` of the median of `samples` (at least
/// two, all finite).
pub fn bootstrap_median_ci(samples: &[f64], boot: &Bootstrap) -> Result<(f64, f64)> {
    boot.validate()?;
    check_samples("bootstrap of the median", samples, 2)?;
    let mut rng = SmallRng::seed_from_u64(boot.seed);
    let mut medians = bootstrap_medians(samples, boot.resamples, &mut rng);
    Ok(boot.percentile_interval(&mut medians))
}

/// median(a)/median(b) and its bootstrap CI.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RatioCi {
    pub ratio: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Timings are positive; a ratio of medians of anything else means nothing.
fn check_positive(what: &str, samples: &[f64]) -> Result<()> {
    check_samples(what, samples, 2)?;
    match samples.iter().position(|&x| x <= 0.0) {
        Some(i) => Err(Error::Invalid(format!(
            "{what}: sample {i} is {}; a ratio needs positive times",
            samples[i]
        ))),
        None => Ok(()),
    }
}

/// The percentile-bootstrap CI of median(a)/median(b), `a` and `b` (at least
/// two each, positive) resampled independently.
pub fn bootstrap_ratio_ci(a: &[f64], b: &[f64], boot: &Bootstrap) -> Result<RatioCi> {
    boot.validate()?;
    check_positive("ratio numerator", a)?;
    check_positive("ratio denominator", b)?;
    let mut rng = SmallRng::seed_from_u64(boot.seed);
    let mut ratios = bootstrap_medians(a, boot.resamples, &mut rng);
    let denominators = bootstrap_medians(b, boot.resamples, &mut rng);
    for (r, d) in ratios.iter_mut().zip(&denominators) {
        *r /= d;
    }
    let (lo, hi) = boot.percentile_interval(&mut ratios);
    Ok(RatioCi {
        ratio: median(a) / median(b),
        lo,
        hi,
    })
}

/// The summary of one measurement's samples (at least two, all finite).
pub fn summarize(samples: &[f64], boot: &Bootstrap, stop: StopReason) -> Result<Summary> {
    let n = check_samples("summary", samples, 2)?;
    let (ci_low_ms, ci_high_ms) = bootstrap_median_ci(samples, boot)?;
    Ok(Summary {
        n,
        median_ms: median(samples),
        ci_low_ms,
        ci_high_ms,
        confidence: boot.confidence,
        mean_ms: samples.mean(),
        stddev_ms: samples.std_dev(),
        min_ms: Statistics::min(samples),
        max_ms: Statistics::max(samples),
        outliers: tukey(samples)?,
        stop,
    })
}

/// When [`sample_adaptively`] stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopRule {
    /// Target CI half-width relative to the median: 0.01 is ±1%.
    pub rel_half_width: f64,
    /// Taken whatever the budget says (at least 2: a CI needs a spread).
    pub min_samples: usize,
    pub max_samples: usize,
    /// Wall time from the first request for samples.
    pub budget: Duration,
    /// The bootstrap of the convergence checks (its confidence is the CI's level).
    pub bootstrap: Bootstrap,
}

impl Default for StopRule {
    fn default() -> Self {
        StopRule {
            rel_half_width: 0.01,
            min_samples: 10,
            max_samples: 2000,
            budget: Duration::from_secs(2),
            bootstrap: Bootstrap::default(),
        }
    }
}

impl StopRule {
    /// Refuse a rule sampling cannot follow; commands check it before a launch.
    pub fn validate(&self) -> Result<()> {
        if !(self.rel_half_width > 0.0 && self.rel_half_width.is_finite()) {
            return Err(Error::Invalid(format!(
                "stop rule: relative half-width must be positive and finite, got {}",
                self.rel_half_width
            )));
        }
        if self.min_samples < 2 || self.max_samples < self.min_samples {
            return Err(Error::Invalid(format!(
                "stop rule: need 2 <= min_samples <= max_samples, got {} and {}",
                self.min_samples, self.max_samples
            )));
        }
        self.bootstrap.validate()
    }

    /// Whether the median's CI is as narrow as asked. Written without a
    /// division, so a zero median converges only on a zero-width CI.
    fn converged(&self, samples: &[f64]) -> Result<bool> {
        let (lo, hi) = bootstrap_median_ci(samples, &self.bootstrap)?;
        Ok((hi - lo) / 2.0 <= self.rel_half_width * median(samples).abs())
    }

    /// How many samples to request when `n` are taken after `elapsed`: up to the
    /// next check and the maximum, and, once a rate is known, no more than the
    /// rest of the budget holds at that rate.
    fn batch_size(&self, n: usize, next_check: usize, elapsed: Duration) -> usize {
        let to_check = next_check.min(self.max_samples) - n;
        if n == 0 || elapsed.is_zero() {
            return to_check;
        }
        let per_sample = elapsed.as_secs_f64() / n as f64;
        let left = self.budget.saturating_sub(elapsed).as_secs_f64();
        // `as` saturates; at least one sample, or the loop would stall.
        let fits = ((left / per_sample).ceil() as usize).max(1);
        to_check.min(fits)
    }
}

/// The sample count of the convergence check after one at `n`.
fn next_check_after(n: usize) -> usize {
    ((n as f64 * CHECK_GROWTH).ceil() as usize).max(n + 1)
}

/// A batch from the caller's `take(want)`: exactly `want` finite samples.
fn check_batch(batch: &[f64], want: usize, taken: usize) -> Result<()> {
    if batch.len() != want {
        return Err(Error::Invalid(format!(
            "adaptive sampling asked for {want} samples and got {}",
            batch.len()
        )));
    }
    match batch.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(Error::Invalid(format!(
            "adaptive sampling: sample {} is {}; every sample must be finite",
            taken + i,
            batch[i]
        ))),
        None => Ok(()),
    }
}

/// Samples until `rule` says stop, timing the budget with the wall clock.
/// `take(k)` returns k new samples.
pub fn sample_adaptively(
    rule: &StopRule,
    take: impl FnMut(usize) -> Result<Vec<f64>>,
) -> Result<(Vec<f64>, StopReason)> {
    let origin = Instant::now();
    sample_adaptively_with_clock(rule, &|| origin.elapsed(), take)
}

/// [`sample_adaptively`] with the budget timed by `clock`, the time since any
/// fixed origin (the tests pass a fake one).
pub fn sample_adaptively_with_clock(
    rule: &StopRule,
    clock: &dyn Fn() -> Duration,
    mut take: impl FnMut(usize) -> Result<Vec<f64>>,
) -> Result<(Vec<f64>, StopReason)> {
    rule.validate()?;
    let start = clock();
    let elapsed = || clock().saturating_sub(start);
    let mut samples = Vec::new();
    let mut next_check = rule.min_samples;
    loop {
        let want = rule.batch_size(samples.len(), next_check, elapsed());
        let batch = take(want)?;
        check_batch(&batch, want, samples.len())?;
        samples.extend(batch);

        let n = samples.len();
        let out_of_time = elapsed() >= rule.budget;
        // Also check before stopping for the maximum or the budget: if the CI
        // converged on the last batch, that is the reason worth reporting.
        if n >= next_check || n >= rule.max_samples || out_of_time {
            if rule.converged(&samples)? {
                return Ok((samples, StopReason::Converged));
            }
            next_check = next_check_after(n);
        }
        if n >= rule.max_samples {
            return Ok((samples, StopReason::MaxSamples));
        }
        if out_of_time {
            return Ok((samples, StopReason::Budget));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Exp, LogNormal};
    use std::cell::Cell;

    fn draw(dist: &impl Distribution<f64>, n: usize, rng: &mut StdRng) -> Vec<f64> {
        dist.sample_iter(rng).take(n).collect()
    }

    fn boot(resamples: usize, seed: u64) -> Bootstrap {
        Bootstrap {
            confidence: 0.95,
            resamples,
            seed,
        }
    }

    fn invalid_containing<T: std::fmt::Debug>(r: Result<T>, needle: &str) {
        match r {
            Err(Error::Invalid(m)) => assert!(m.contains(needle), "message {m:?} lacks {needle:?}"),
            other => panic!("expected Invalid({needle:?}), got {other:?}"),
        }
    }

    /// Fraction of `runs` simulated n-sample runs whose median CI covers `true_median`.
    fn median_coverage(dist: &impl Distribution<f64>, true_median: f64, runs: u64) -> f64 {
        let mut rng = StdRng::seed_from_u64(1);
        let covered = (0..runs)
            .filter(|&run| {
                let x = draw(dist, 60, &mut rng);
                let (lo, hi) = bootstrap_median_ci(&x, &boot(1000, run)).unwrap();
                lo <= true_median && true_median <= hi
            })
            .count();
        covered as f64 / runs as f64
    }

    #[test]
    fn median_ci_covers_about_95_percent_lognormal() {
        // LogNormal(μ, σ) has median e^μ.
        let dist = LogNormal::new(0.5, 0.4).unwrap();
        let coverage = median_coverage(&dist, 0.5f64.exp(), 400);
        assert!((0.90..=0.99).contains(&coverage), "coverage {coverage}");
    }

    #[test]
    fn median_ci_covers_about_95_percent_shifted_exponential() {
        // 1 + Exp(λ) has median 1 + ln 2 / λ: a kernel's floor plus a noise tail.
        let dist = Exp::new(20.0).unwrap().map(|x| 1.0 + x);
        let coverage = median_coverage(&dist, 1.0 + 2f64.ln() / 20.0, 400);
        assert!((0.90..=0.99).contains(&coverage), "coverage {coverage}");
    }

    #[test]
    fn ratio_ci_covers_about_95_percent() {
        let a = LogNormal::new(2f64.ln(), 0.3).unwrap();
        let b = LogNormal::new(0.0, 0.5).unwrap();
        let mut rng = StdRng::seed_from_u64(2);
        let runs = 300;
        let covered = (0..runs)
            .filter(|&run| {
                let (xa, xb) = (draw(&a, 60, &mut rng), draw(&b, 40, &mut rng));
                let ci = bootstrap_ratio_ci(&xa, &xb, &boot(1000, run)).unwrap();
                assert_eq!(ci.ratio, median(&xa) / median(&xb));
                assert!(ci.lo <= ci.hi);
                ci.lo <= 2.0 && 2.0 <= ci.hi
            })
            .count();
        let coverage = covered as f64 / runs as f64;
        assert!((0.90..=0.99).contains(&coverage), "coverage {coverage}");
    }

    #[test]
    fn median_of_indices_matches_statrs() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut sorted = draw(&Exp::new(1.0).unwrap(), 50, &mut rng);
        sorted.sort_unstable_by(f64::total_cmp);
        for len in [1, 2, 7, 8, 49, 50] {
            let mut idx: Vec<usize> = (0..len).map(|_| rng.random_range(0..50)).collect();
            let values: Vec<f64> = idx.iter().map(|&i| sorted[i]).collect();
            assert_eq!(
                median_of_indices(&sorted, &mut idx),
                median(&values),
                "len {len}"
            );
        }
    }

    #[test]
    fn bootstrap_is_deterministic_per_seed() {
        let mut rng = StdRng::seed_from_u64(4);
        let x = draw(&LogNormal::new(0.0, 0.3).unwrap(), 100, &mut rng);
        let ci = bootstrap_median_ci(&x, &boot(500, 9)).unwrap();
        assert_eq!(ci, bootstrap_median_ci(&x, &boot(500, 9)).unwrap());
        assert!(ci.0 < median(&x) && median(&x) < ci.1, "{ci:?}");
    }

    #[test]
    fn bootstrap_rejects_bad_settings_and_ratio_rejects_non_positive_times() {
        let x = [1.0, 2.0, 3.0];
        for confidence in [0.0, 1.0, f64::NAN] {
            let b = Bootstrap {
                confidence,
                ..Bootstrap::default()
            };
            invalid_containing(bootstrap_median_ci(&x, &b), "confidence");
        }
        invalid_containing(bootstrap_median_ci(&x, &boot(0, 0)), "resample");
        invalid_containing(bootstrap_median_ci(&[1.0], &boot(10, 0)), "at least 2");
        invalid_containing(
            bootstrap_ratio_ci(&x, &[1.0, 0.0], &boot(10, 0)),
            "denominator: sample 1 is 0",
        );
    }

    /// A fake clock and a sampler of `dist` whose every sample costs `cost` of
    /// fake time; it counts its calls.
    struct FakeRun {
        now: Cell<Duration>,
        calls: Cell<usize>,
        rng: std::cell::RefCell<StdRng>,
    }

    impl FakeRun {
        fn new() -> Self {
            FakeRun {
                now: Cell::new(Duration::ZERO),
                calls: Cell::new(0),
                rng: std::cell::RefCell::new(StdRng::seed_from_u64(5)),
            }
        }

        fn run(
            &self,
            rule: &StopRule,
            sigma: f64,
            cost: Duration,
        ) -> Result<(Vec<f64>, StopReason)> {
            let dist = LogNormal::new(0.0, sigma).unwrap();
            sample_adaptively_with_clock(rule, &|| self.now.get(), |k| {
                self.calls.set(self.calls.get() + 1);
                self.now.set(self.now.get() + cost * k as u32);
                Ok(draw(&dist, k, &mut self.rng.borrow_mut()))
            })
        }
    }

    #[test]
    fn quiet_data_converges_at_min_samples() {
        let rule = StopRule::default();
        let fake = FakeRun::new();
        let (x, stop) = fake.run(&rule, 0.001, Duration::ZERO).unwrap();
        assert_eq!((x.len(), stop), (10, StopReason::Converged));
        assert_eq!(fake.calls.get(), 1);
    }

    #[test]
    fn noisy_data_runs_to_max_samples_checking_geometrically() {
        let rule = StopRule {
            max_samples: 400,
            bootstrap: boot(500, 0),
            ..StopRule::default()
        };
        let fake = FakeRun::new();
        let (x, stop) = fake.run(&rule, 0.3, Duration::ZERO).unwrap();
        assert_eq!((x.len(), stop), (400, StopReason::MaxSamples));
        // 10 → 400 at 15% growth is 27 batches; a check per sample would be 391.
        let calls = fake.calls.get();
        assert!((20..=30).contains(&calls), "{calls} batches");
    }

    #[test]
    fn budget_stops_noisy_data_on_time() {
        let rule = StopRule {
            budget: Duration::from_millis(100),
            bootstrap: boot(500, 0),
            ..StopRule::default()
        };
        let fake = FakeRun::new();
        let (x, stop) = fake.run(&rule, 0.3, Duration::from_millis(1)).unwrap();
        assert_eq!(stop, StopReason::Budget);
        // One sample per fake millisecond: the budget holds 100, and batches
        // are cut to fit it rather than running on to the next check.
        assert!((100..=101).contains(&x.len()), "{} samples", x.len());
        assert!(fake.now.get() >= rule.budget);
    }

    #[test]
    fn budget_never_cuts_below_min_samples() {
        let rule = StopRule {
            budget: Duration::from_millis(100),
            ..StopRule::default()
        };
        let fake = FakeRun::new();
        let (x, stop) = fake.run(&rule, 0.3, Duration::from_secs(1)).unwrap();
        assert_eq!((x.len(), stop), (10, StopReason::Budget));
    }

    #[test]
    fn sampler_rejects_bad_batches_and_rules() {
        let rule = StopRule::default();
        let zero = || Duration::ZERO;
        invalid_containing(
            sample_adaptively_with_clock(&rule, &zero, |k| Ok(vec![1.0; k - 1])),
            "asked for 10 samples and got 9",
        );
        invalid_containing(
            sample_adaptively_with_clock(&rule, &zero, |k| {
                let mut v = vec![1.0; k];
                v[3] = f64::NAN;
                Ok(v)
            }),
            "sample 3 is NaN",
        );
        let bad = StopRule {
            min_samples: 1,
            ..StopRule::default()
        };
        invalid_containing(sample_adaptively(&bad, |k| Ok(vec![1.0; k])), "min_samples");
    }

    /// Bulk: 20 tens and 20 twenties, so Q1 = 10, Q3 = 20 and IQR = 10 whatever
    /// the few extra points: fences at −20, −5 | 35, 50.
    fn fenced() -> Vec<f64> {
        let mut x = vec![10.0; 20];
        x.extend([20.0; 20]);
        x.extend([-30.0, -10.0, -5.0, 35.0, 36.0, 50.0, 80.0]);
        x
    }

    #[test]
    fn tukey_counts_known_outliers() {
        let x = fenced();
        let f = Fences::of(&x).unwrap();
        assert_eq!(
            (f.low_severe, f.low_mild, f.high_mild, f.high_severe),
            (-20.0, -5.0, 35.0, 50.0)
        );
        let expected = Outliers {
            low_severe: 1,
            low_mild: 1,
            high_mild: 2,
            high_severe: 1,
        };
        assert_eq!(tukey(&x).unwrap(), expected);
        use OutlierClass::*;
        let classes: Vec<_> = [-30.0, -10.0, -5.0, 15.0, 35.0, 36.0, 50.0, 80.0]
            .map(|v| f.classify(v))
            .to_vec();
        let want = [
            LowSevere, LowMild, Inlier, Inlier, Inlier, HighMild, HighMild, HighSevere,
        ];
        assert_eq!(classes, want);
    }

    #[test]
    fn tukey_finds_nothing_in_clean_data() {
        let x: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(tukey(&x).unwrap(), Outliers::default());
        invalid_containing(tukey(&[]), "no samples");
    }

    #[test]
    fn summarize_rejects_empty_and_non_finite() {
        let b = Bootstrap::default();
        invalid_containing(
            summarize(&[], &b, StopReason::Converged),
            "summary: no samples",
        );
        invalid_containing(summarize(&[1.0], &b, StopReason::Converged), "at least 2");
        invalid_containing(
            summarize(&[1.0, f64::NAN, 2.0], &b, StopReason::Converged),
            "sample 1 is NaN",
        );
        invalid_containing(
            summarize(&[1.0, 2.0, f64::INFINITY], &b, StopReason::Converged),
            "sample 2 is inf",
        );
    }

    #[test]
    fn summarize_known_sample() {
        let s = summarize(
            &[3.0, 1.0, 2.0, 5.0, 4.0],
            &boot(500, 0),
            StopReason::Budget,
        )
        .unwrap();
        assert_eq!((s.n, s.median_ms, s.min_ms, s.max_ms), (5, 3.0, 1.0, 5.0));
        assert!((s.mean_ms - 3.0).abs() < 1e-12);
        // Sample (n − 1) standard deviation of 1..5.
        assert!((s.stddev_ms - 2.5f64.sqrt()).abs() < 1e-12);
        assert!(
            1.0 <= s.ci_low_ms && s.ci_low_ms < 3.0 && 3.0 < s.ci_high_ms && s.ci_high_ms <= 5.0
        );
        assert_eq!((s.confidence, s.stop), (0.95, StopReason::Budget));
        assert_eq!(s.outliers, Outliers::default());
    }
}
