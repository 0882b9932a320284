//! The run-level study: whole fa2 runs compared as the CI job compares them,
//! one exit code per comparison.
//!
//! Each simulated run redraws every measurement of the committed H200 run
//! `results/h200/ratchet/runA.json` from its raw samples (40, one of 71) and
//! scales it by its own drift exp(σ(t)·Z), Z standard normal, σ the drift
//! model fitted by maximum likelihood to the committed same-build pair (A,
//! B): the truth of the simulation is the estimate, not the bound the rule
//! uses. The current run is slower by a per-measurement δ. Two rules judge
//! every comparison: one with the built-in default drift, and one with the
//! drift calibrated (upper bound) from a fresh simulated same-build pair per
//! trial, so the estimation error of a one-pair calibration is in the rates.
//!
//! Scaling the current run's samples by 1 + δ scales every bootstrap median
//! of them, so its within-run CI is the δ = 0 CI times 1 + δ exactly (up to
//! rounding; `scaling_the_current_run_scales_its_within_run_ci`): each trial
//! bootstraps once and judges every case from that, which keeps 500 trials
//! of 24 bootstraps within seconds.

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, StandardNormal};

use super::redraw;
use crate::ratchet::calibrate::{calibrate, fit, log_spread};
use crate::ratchet::decision::{Decision, Input, decide};
use crate::ratchet::drift::{DEFAULT_DRIFT, DriftModel};
use crate::ratchet::rule::{Rule, Verdict};
use crate::runfile::{RunFile, committed_ratchet_run};
use crate::stats::{Bootstrap, RatioCi, median};

const TRIALS: usize = 500;
/// The CLI's 2000 would make the study 5× slower; the within-run part of a
/// CI is a small share of its width once drift is in (0.1–0.4% of 2–9%).
const RESAMPLES: usize = 400;
const THRESHOLD: f64 = 0.02;
const CONFIDENCE: f64 = 0.95;

/// The recorded run and the truth the reruns drift by.
struct World {
    run: RunFile,
    durations: Vec<f64>,
    truth: DriftModel,
}

impl World {
    fn new() -> World {
        let (a, b) = (
            committed_ratchet_run("runA.json"),
            committed_ratchet_run("runB.json"),
        );
        let pair = [("A".to_string(), a.clone()), ("B".to_string(), b)];
        let truth = calibrate(&pair, CONFIDENCE, "sim")
            .unwrap()
            .calibration
            .estimate;
        World {
            durations: a
                .measurements
                .iter()
                .map(|m| median(&m.samples_ms))
                .collect(),
            run: a,
            truth,
        }
    }

    /// One simulated run: every measurement's samples, redrawn and drifted.
    fn rerun(&self, rng: &mut SmallRng) -> Vec<Vec<f64>> {
        self.run
            .measurements
            .iter()
            .zip(&self.durations)
            .map(|(m, &t)| {
                let z: f64 = StandardNormal.sample(rng);
                let drift = (self.truth.sigma(t) * z).exp();
                redraw(&m.samples_ms, m.samples_ms.len(), drift, rng)
            })
            .collect()
    }

    /// What `--calibrate` would store from one simulated same-build pair.
    fn calibrated(&self, rng: &mut SmallRng) -> DriftModel {
        let (a, b) = (self.rerun(rng), self.rerun(rng));
        let points: Vec<(f64, f64)> = a
            .iter()
            .zip(&b)
            .map(|(a, b)| log_spread(&[median(a), median(b)]))
            .collect();
        fit(&points, 1, CONFIDENCE).unwrap().1
    }
}

fn rule(drift: DriftModel) -> Rule {
    Rule {
        threshold: THRESHOLD,
        bootstrap: Bootstrap {
            confidence: CONFIDENCE,
            resamples: RESAMPLES,
            ..Bootstrap::default()
        },
        drift,
    }
}

fn scaled(ci: &RatioCi, factor: f64) -> RatioCi {
    RatioCi {
        ratio: ci.ratio * factor,
        lo: ci.lo * factor,
        hi: ci.hi * factor,
    }
}

/// A case: the current run's slowdown per measurement.
struct Case {
    name: String,
    effect: Vec<f64>,
}

/// How often, over the trials, the run failed and why.
#[derive(Clone, Copy, Default)]
struct Tally {
    fails: usize,
    aggregate: usize,
    any_row: usize,
}

impl Tally {
    fn add(&mut self, d: &Decision) {
        self.fails += usize::from(d.regressed());
        self.aggregate += usize::from(d.aggregates[0].verdict == Verdict::Regressed);
        self.any_row += usize::from(d.judgements.iter().any(|j| j.verdict == Verdict::Regressed));
    }
}

fn rate(n: usize) -> f64 {
    n as f64 / TRIALS as f64
}

/// The rule, with the default drift or with one calibrated per trial.
const RULES: [&str; 2] = ["default drift", "drift calibrated from one simulated pair"];
/// Simpler rules, for comparison: each row alone at 95%, no aggregate.
const SIMPLER: [&str; 2] = [
    "no drift, 95% per row (the rule before drift)",
    "default drift, 95% per row, no aggregate",
];

/// Per case: the rule's tallies, and the simpler rules' failure counts.
struct Results {
    rules: [Vec<Tally>; 2],
    simpler: [Vec<usize>; 2],
}

fn study(world: &World, cases: &[Case]) -> Results {
    let m = world.durations.len();
    let mut r = Results {
        rules: [
            vec![Tally::default(); cases.len()],
            vec![Tally::default(); cases.len()],
        ],
        simpler: [vec![0; cases.len()], vec![0; cases.len()]],
    };
    let simpler = [rule(DriftModel::NONE), rule(DEFAULT_DRIFT)];
    for trial in 0..TRIALS {
        let mut rng = SmallRng::seed_from_u64(trial as u64);
        let (base, cur) = (world.rerun(&mut rng), world.rerun(&mut rng));
        let default_rule = rule(DEFAULT_DRIFT);
        let within: Vec<RatioCi> = base
            .iter()
            .zip(&cur)
            .map(|(b, c)| default_rule.within_run(b, c).unwrap())
            .collect();
        let baseline_ms: Vec<f64> = base.iter().map(|b| median(b)).collect();
        let rules = [default_rule, rule(world.calibrated(&mut rng))];
        for (c, case) in cases.iter().enumerate() {
            let inputs: Vec<Input> = (0..m)
                .map(|i| Input {
                    implementation: "tileattn",
                    baseline_ms: baseline_ms[i],
                    within_run: scaled(&within[i], 1.0 + case.effect[i]),
                })
                .collect();
            for (rule, tallies) in rules.iter().zip(&mut r.rules) {
                tallies[c].add(&decide(rule, &inputs));
            }
            for (rule, fails) in simpler.iter().zip(&mut r.simpler) {
                fails[c] += usize::from(inputs.iter().any(|i| {
                    rule.judge(i.within_run, i.baseline_ms, 1).verdict == Verdict::Regressed
                }));
            }
        }
    }
    r
}

/// The criteria, on whole runs: a same-build comparison fails in at
/// most 5% of 500, a uniform 3% loss is caught in at least 90%, and a
/// uniform 1% loss (half the threshold) fails no more often than the rule
/// promises for changes of at most t/2: 1 − c = 5%. A 3% loss on one shape
/// alone is printed, not asserted: the drift of short kernels hides it.
#[test]
fn whole_run_rates_with_between_run_drift_on_h200_noise() {
    let world = World::new();
    let m = world.durations.len();
    let uniform = |name: &str, d: f64| Case {
        name: name.into(),
        effect: vec![d; m],
    };
    let one = |i: usize, d: f64| Case {
        name: format!("only #{i} +{:.0}%", d * 100.0),
        effect: (0..m).map(|j| if j == i { d } else { 0.0 }).collect(),
    };
    let mut cases = vec![
        uniform("identical", 0.0),
        uniform("all +1%", 0.01),
        uniform("all +3%", 0.03),
    ];
    cases.extend((0..m).map(|i| one(i, 0.03)));
    cases.extend((0..m).map(|i| one(i, 0.10)));
    let results = study(&world, &cases);

    eprintln!(
        "\nwhole-run study: {TRIALS} comparisons per case, truth {:?}, default {:?}",
        world.truth, DEFAULT_DRIFT
    );
    for (name, t) in RULES.iter().zip(&results.rules) {
        eprintln!("\nrule with {name}: fails (aggregate regressed, some row regressed)");
        for (case, tally) in cases.iter().zip(t).take(3) {
            eprintln!(
                "  {:<10} {:>6.1}% ({:.1}%, {:.1}%)",
                case.name,
                rate(tally.fails) * 100.0,
                rate(tally.aggregate) * 100.0,
                rate(tally.any_row) * 100.0
            );
        }
        eprintln!("  one measurement slower, by duration: fails at +3%, at +10%");
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| world.durations[a].total_cmp(&world.durations[b]));
        for i in order {
            eprintln!(
                "    {:>7.4} ms (default σ {:.2}%): {:>5.1}%  {:>5.1}%",
                world.durations[i],
                DEFAULT_DRIFT.sigma(world.durations[i]) * 100.0,
                rate(t[3 + i].fails) * 100.0,
                rate(t[3 + m + i].fails) * 100.0
            );
        }
    }
    for (name, fails) in SIMPLER.iter().zip(&results.simpler) {
        eprintln!("\n{name}: fails");
        for (case, &n) in cases.iter().zip(fails).take(3) {
            eprintln!("  {:<10} {:>6.1}%", case.name, rate(n) * 100.0);
        }
    }
    for (name, t) in RULES.iter().zip(&results.rules) {
        let fails = |c: usize| rate(t[c].fails);
        assert!(
            fails(0) <= 0.05,
            "{name}: identical runs failed {}",
            fails(0)
        );
        assert!(fails(1) <= 0.05, "{name}: all +1% failed {}", fails(1));
        assert!(fails(2) >= 0.90, "{name}: all +3% caught only {}", fails(2));
    }
}

/// What lets each trial bootstrap once for all cases.
#[test]
fn scaling_the_current_run_scales_its_within_run_ci() {
    let world = World::new();
    let mut rng = SmallRng::seed_from_u64(1);
    let (base, cur) = (world.rerun(&mut rng), world.rerun(&mut rng));
    let r = rule(DEFAULT_DRIFT);
    for (b, c) in base.iter().zip(&cur).take(6) {
        let slower: Vec<f64> = c.iter().map(|x| x * 1.03).collect();
        let direct = r.within_run(b, &slower).unwrap();
        let via = scaled(&r.within_run(b, c).unwrap(), 1.03);
        for (x, y) in [
            (direct.ratio, via.ratio),
            (direct.lo, via.lo),
            (direct.hi, via.hi),
        ] {
            assert!((x / y - 1.0).abs() < 1e-12, "{direct:?} {via:?}");
        }
    }
}
