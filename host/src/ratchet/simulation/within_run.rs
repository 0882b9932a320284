//! The within-run part of the rule, alone: one measurement, no drift, noise
//! drawn from the raw samples of the committed H100 run. With a family of
//! one and no drift the rule's CI is the percentile bootstrap's own
//! (`rule::tests::one_measurement_without_drift_keeps_the_bootstrap_ci`), so
//! this is the study of the rule as it stood before drift was modelled, and
//! it still says what the samples of one run can resolve.

use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::redraw;
use crate::ratchet::drift::DriftModel;
use crate::ratchet::rule::{Rule, Verdict};
use crate::runfile::{Measurement, RunFile};
use crate::stats::{Bootstrap, median};

const TRIALS: usize = 500;
const THRESHOLD: f64 = 0.02;

/// Half-width of the median's CI relative to the median, as the run recorded it.
fn rel_half_width(m: &Measurement) -> f64 {
    let s = &m.summary;
    (s.ci_high_ms - s.ci_low_ms) / 2.0 / s.median_ms
}

/// Fractions of trials per verdict, in `Verdict` order.
#[derive(Debug, Default)]
struct Rates([f64; 4]);

impl Rates {
    fn of(&self, v: Verdict) -> f64 {
        self.0[v as usize]
    }
}

/// `trials` comparisons of two simulated runs of `m`, the current one slower
/// by `effect` (0.03 is 3%): each run draws `samples_per_run` samples, with
/// replacement, from `m`'s raw samples.
fn simulate(
    m: &Measurement,
    samples_per_run: usize,
    effect: f64,
    (trials, resamples): (usize, usize),
    seed: u64,
) -> Rates {
    let x = &m.samples_ms;
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut counts = [0usize; 4];
    for trial in 0..trials {
        let baseline = redraw(x, samples_per_run, 1.0, &mut rng);
        let current = redraw(x, samples_per_run, 1.0 + effect, &mut rng);
        let rule = Rule {
            threshold: THRESHOLD,
            bootstrap: Bootstrap {
                confidence: 0.95,
                resamples,
                seed: trial as u64,
            },
            drift: DriftModel::NONE,
        };
        let within = rule.within_run(&baseline, &current).unwrap();
        let verdict = rule.judge(within, median(&baseline), 1).verdict;
        counts[verdict as usize] += 1;
    }
    Rates(counts.map(|c| c as f64 / trials as f64))
}

/// The `k` measurements of `run` that `keep` accepts on which
/// a 3% loss is hardest to catch at the recorded sample count, by a quick
/// screen (60 trials, 200 resamples). Not the widest recorded CIs: with ten
/// samples, a few slow outliers (3 of 10 at +5%) can sit outside a narrow CI
/// and still, in a rerun, drag the median's bootstrap out to them.
fn hardest(run: &RunFile, keep: impl Fn(&Measurement) -> bool, k: usize) -> Vec<&Measurement> {
    let mut v: Vec<(f64, &Measurement)> = run
        .measurements
        .iter()
        .filter(|m| keep(m))
        .map(|m| {
            let power = simulate(m, m.samples_ms.len(), 0.03, (60, 200), 7).of(Verdict::Regressed);
            (power, m)
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v.into_iter().take(k).map(|(_, m)| m).collect()
}

/// Simulated verdict rates of one measurement.
struct Study {
    label: String,
    /// Regressed at δ = 0, 1%, 3%.
    false_alarm: f64,
    small: f64,
    power: f64,
    /// Improved at δ = −3%, when asked for.
    power_improved: Option<f64>,
}

fn study(m: &Measurement, scale_n: usize, resamples: usize, seed: u64, both_ways: bool) -> Study {
    let n = m.samples_ms.len() * scale_n;
    Study {
        label: format!(
            "{} B={} S={} D={}{} n={} CI ±{:.2}%",
            m.implementation,
            m.problem.batch,
            m.problem.seqlen_q,
            m.problem.head_dim,
            if m.problem.causal { " causal" } else { "" },
            n,
            rel_half_width(m) * 100.0
        ),
        false_alarm: simulate(m, n, 0.0, (TRIALS, resamples), seed).of(Verdict::Regressed),
        small: simulate(m, n, 0.01, (TRIALS, resamples), seed + 1).of(Verdict::Regressed),
        power: simulate(m, n, 0.03, (TRIALS, resamples), seed + 2).of(Verdict::Regressed),
        power_improved: both_ways
            .then(|| simulate(m, n, -0.03, (TRIALS, resamples), seed + 3).of(Verdict::Improved)),
    }
}

fn print(title: &str, rows: &[Study]) {
    eprintln!(
        "\n{title}\n{:<58} {:>9} {:>9} {:>9} {:>9}",
        "measurement (n per simulated run)", "δ=0 reg", "δ=1% reg", "δ=3% reg", "δ=-3% imp"
    );
    for r in rows {
        eprintln!(
            "{:<58} {:>8.1}% {:>8.1}% {:>8.1}% {:>9}",
            r.label,
            r.false_alarm * 100.0,
            r.small * 100.0,
            r.power * 100.0,
            r.power_improved
                .map_or("-".into(), |p| format!("{:.1}%", p * 100.0))
        );
    }
}

/// The promises hold whatever the noise: identical distributions regressed in
/// at most 5% of 500 comparisons, a 1% change at most (1 − 0.95)/2 = 2.5%.
fn assert_promises(rows: &[Study]) {
    for r in rows {
        assert!(
            r.false_alarm <= 0.05,
            "{}: δ=0 regressed {}",
            r.label,
            r.false_alarm
        );
        assert!(r.small <= 0.025, "{}: δ=1% regressed {}", r.label, r.small);
    }
}

fn assert_power(rows: &[Study]) {
    for r in rows {
        assert!(
            r.power >= 0.90,
            "{}: δ=3% regressed only {}",
            r.label,
            r.power
        );
    }
}

/// 400 resamples: a verdict needs the 2.5% quantiles, which 400 place well
/// within the CI's width; the CLI's 2000 would make the test 5× slower.
const QUICK_RESAMPLES: usize = 400;

/// The within-run promises on the hardest cases of the committed run: the
/// three tileattn measurements (the ones the ratchet guards) and the three
/// others on which a 3% loss is hardest to catch. (The run-level study with
/// drift, which the criteria are about, is `whole_run`.)
///
/// At the recorded sample counts (mostly 10) the promises hold (identical
/// distributions regressed in at most 5% of 500 comparisons, a 1% change at
/// most (1 − 0.95)/2 = 2.5%), but catching a 3% loss can drop to about 50%
/// (printed): with ten samples the median of an outlier-prone measurement is
/// genuinely uncertain, and no rule can both keep the promise and call it.
/// With four times the samples, what `--min-samples 40 --rel-ci 0.005` takes
/// and the GPU workflow asks for, a 3% loss is caught in at least 90%.
#[test]
fn simulated_verdict_rates_on_h100_noise() {
    let run = crate::runfile::committed_run("fa2.json");
    let mut cases = hardest(&run, |m| m.implementation == "tileattn", 3);
    cases.extend(hardest(&run, |m| m.implementation != "tileattn", 3));
    let recorded: Vec<Study> = cases
        .iter()
        .enumerate()
        .map(|(i, m)| study(m, 1, QUICK_RESAMPLES, 100 * i as u64, false))
        .collect();
    print("hardest cases, samples as recorded", &recorded);
    assert_promises(&recorded);
    let workflow: Vec<Study> = cases
        .iter()
        .enumerate()
        .map(|(i, m)| study(m, 4, QUICK_RESAMPLES, 1000 + 100 * i as u64, false))
        .collect();
    print("the same, 4× the samples (the workflow's bench)", &workflow);
    assert_promises(&workflow);
    assert_power(&workflow);
}

/// The study on every measurement of the run as recorded, both ways:
/// `cargo test --release -p tileattn-host simulation_all -- --ignored --nocapture`.
#[test]
#[ignore = "minutes in release; the study above covers the hardest cases"]
fn simulation_all_measurements() {
    let run = crate::runfile::committed_run("fa2.json");
    // TILEATTN_SIM_SCALE=k draws k times the recorded sample count per run.
    let scale_n: usize = std::env::var("TILEATTN_SIM_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let rows: Vec<Study> = run
        .measurements
        .iter()
        .enumerate()
        .map(|(i, m)| study(m, scale_n, 1000, 100 * i as u64, true))
        .collect();
    print(
        &format!("every measurement, {scale_n}× the recorded n"),
        &rows,
    );
    let n = rows.len() as f64;
    let mean = |f: &dyn Fn(&Study) -> f64| rows.iter().map(f).sum::<f64>() / n;
    let max = |f: &dyn Fn(&Study) -> f64| rows.iter().map(f).fold(0.0, f64::max);
    let min = |f: &dyn Fn(&Study) -> f64| rows.iter().map(f).fold(1.0, f64::min);
    let below_90 = rows.iter().filter(|r| r.power < 0.9).count();
    let imp = |r: &Study| r.power_improved.unwrap_or(0.0);
    eprintln!(
        "mean (worst) over {} measurements: δ=0 regressed {:.2}% ({:.1}%), \
         δ=1% regressed {:.2}% ({:.1}%), δ=3% regressed {:.1}% ({:.1}%; {below_90} below 90%), \
         δ=−3% improved {:.1}% ({:.1}%)",
        rows.len(),
        mean(&|r| r.false_alarm) * 100.0,
        max(&|r| r.false_alarm) * 100.0,
        mean(&|r| r.small) * 100.0,
        max(&|r| r.small) * 100.0,
        mean(&|r| r.power) * 100.0,
        min(&|r| r.power) * 100.0,
        mean(&imp) * 100.0,
        min(&imp) * 100.0,
    );
    assert_promises(&rows);
}
