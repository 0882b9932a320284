//! The performance ratchet: judge a benchmark run against a committed
//! baseline, measurement by measurement and per implementation as a whole,
//! allowing for the drift between runs; fail on a regression, and raise the
//! baseline (never lower it) when a run is better.
//!
//! # Matching
//!
//! Measurements are matched by implementation (`tileattn`, `torch-flash`, …),
//! problem and cache mode ([`matching::Key`]), not by variant: the question is
//! whether tileattn got slower on a problem, whichever variant it picked. The
//! report still shows the variants, since a changed choice often explains a
//! changed time. Measurements present on one side only are listed.
//!
//! Runs of another GPU, compute capability, SM count or L2 size (a MIG slice
//! keeps the GPU's name), driver or torch version measure another machine and
//! are refused unless `--allow-mismatch`. Runs of another kernel build (the
//! SHA-256 of all embedded PTX, the identity the tuning cache also uses) are
//! refused unless `--allow-kernel-change` (or `--allow-mismatch`): comparing
//! two builds is the point of a pull-request check, but when two runs were
//! meant to be of the same build, a different hash is a mistake worth a stop.
//!
//! # The decision rule
//!
//! For each of the m matched measurements, r = median(current) /
//! median(baseline) from the raw samples. Its CI [lo, hi] has two parts,
//! added in log space ([`rule::Rule::judge`]):
//!
//! - **within-run**: the percentile bootstrap of the ratio (2000 resamples,
//!   fixed seed, both runs resampled independently;
//!   [`crate::stats::bootstrap_ratio_ci`]) at the run-level confidence c,
//!   each side's log half-width divided by z_c taken as a standard error;
//! - **drift**: each run's median moves between runs by a relative SD σ(t)
//!   that its own samples cannot show ([`drift::DriftModel`], t the
//!   baseline's median), so the pair's log-ratio has drift variance 2σ(t)².
//!
//! Each side's half-width is z_m·√(se² + 2σ(t)²) with z_m the normal quantile
//! of a two-sided 1 − (1 − c)/m interval: Bonferroni over the m rows. The
//! verdict table, with threshold t (default 2%), is unchanged:
//!
//! | verdict      | condition                           |
//! |--------------|-------------------------------------|
//! | regressed    | lo > 1 + t/2 **and** r > 1 + t      |
//! | improved     | hi < 1 − t/2 **and** r < 1 − t      |
//! | unchanged    | 1 − t ≤ lo and hi ≤ 1 + t           |
//! | inconclusive | anything else                       |
//!
//! In words: regressed when the point estimate is slower by more than the
//! threshold and the CI says, with confidence, slower by more than half of it.
//!
//! Then, per implementation, an **aggregate**: the geometric mean of its
//! ratios, exp(mean ln rᵢ), with a CI of half-width z_g·√(Σ(seᵢ² + 2σᵢ²))/n,
//! z_g at 1 − (1 − c)/g for g implementations, judged by the same table
//! ([`decision::decide`]). **The run fails (exit 1) if any measurement or any
//! aggregate regressed.** The aggregates lead the report.
//!
//! ## What the threshold promises
//!
//! The CI job takes one decision per run, so the promise is about that
//! decision. A regressed verdict needs lo above 1 + t/2; for a measurement
//! whose true ratio is at most 1 + t/2, that happens with probability at most
//! the CI's lower tail, (1 − c)/(2m). Over m rows: (1 − c)/2; over g
//! aggregates, likewise. So: **a run in which nothing got slower by more than
//! t/2 (1% at the default) fails with probability at most 1 − c (5%)**, as
//! far as the drift model is right (normal, independent between
//! measurements, σ not underestimated) and the bootstrap is calibrated. No
//! change at all fails far less often (below 0.5% in the simulation). A
//! change exactly at t is a coin flip by design.
//!
//! What can be caught: a loss δ shared by all n shapes of an implementation
//! moves the aggregate by δ with a standard error √2·σ̄/√n; with the default
//! drift on the fa2 suite that is ±0.7% (95%), so a uniform 3% loss is
//! caught essentially always. A loss on one shape alone is caught with 90%
//! probability only above about t/2 + (z_m + 1.28)·√2·σ(t) ≈ 1% + 6.2·σ(t) at
//! m = 24: 13.5% for a 0.2 ms kernel, 6.6% at 1 ms, 3.5% at 5 ms. That is the
//! noise floor of one run each, not of the rule: a short kernel moves by 1–3%
//! between two runs of one build, and one run of each side cannot tell such
//! a move from a loss. More runs of each side (their medians' geometric
//! mean) would shrink σ by √runs; the ratchet does not do that yet.
//!
//! ## The drift model, and where its numbers come from
//!
//! σ(t)² = floor² + at_1ms²·(1 ms / t): a part proportional to the time (a
//! clock slower all run long) and an absolute jitter whose variance grows
//! with t, so that relative to t it falls as 1/√t. On the committed H200 pair
//! (`results/h200/ratchet/runA.json`, `runB.json`: two fa2 runs of one build
//! 36 s apart, 24 shapes, 40 samples each) the log-ratios B/A have an SD of
//! 1.17% and a mean of +0.05% (no common shift); short kernels (0.2–0.5 ms)
//! moved by up to 2.9%, multi-ms ones by at most 0.6%, while each run's own
//! CIs were ±0.1–0.4%. By likelihood, 1/√t fits better than a constant
//! (log-likelihood +3.8 for one parameter more) and better than 1/t (+2.6).
//!
//! `tileattn ratchet --calibrate A.json B.json [C.json …]` estimates the
//! model from two or more runs of one build on one machine
//! ([`calibrate::calibrate`]): maximum likelihood on each measurement's variance of
//! log-medians (for a pair, ln(b/a)²/2: the √2 of a difference of two runs),
//! and stores its 95% upper confidence bound, because one pair pins a
//! variance only to about ±30% and an underestimate is what brings false
//! alarms back. `--baseline B.json` writes it into the baseline, whose
//! verdicts then use it. Without one, the built-in default
//! ([`drift::DEFAULT_DRIFT`]) applies: that bound calibrated from the H200
//! pair, no floor and 0.91% at 1 ms (2.03% at 0.2 ms, 0.41% at 5 ms), a
//! test recomputes it. `--drift X%` sets a constant σ for one comparison
//! (`--drift 0` trusts the within-run CIs alone). Drift belongs to a machine:
//! a baseline of another GPU refuses the calibration, and the default comes
//! from an H200, so other GPUs should calibrate their own. It also belongs to
//! a range of durations: the pair's kernels took 0.18–6.6 ms, and below that
//! the 1/√t term is extrapolated (2.9% at 0.1 ms, 9% at 0.01 ms), which
//! makes every verdict on very short kernels inconclusive; a suite of them
//! needs a calibration of its own.
//!
//! The default was fitted to the A/B pair, so that the pair passes
//! (`tests/cli_ratchet.rs`) is a consistency check, not evidence; the
//! evidence is the simulation below.
//!
//! ## Why not the simpler rules
//!
//! - *The within-run CI alone* (this rule before drift, per row at c): the
//!   H200 pair failed it (+2.37% with a CI of ±0.1%), and in the simulation
//!   two runs of one build fail it in 78% of comparisons. Samples of one run
//!   share that run's state (memory placement, clocks, tuning), so they are
//!   not independent draws of the build's speed, and no number of them
//!   measures the drift.
//! - *A larger threshold*: 3% would have passed the pair, but short kernels
//!   drift by up to 3% and long ones by 0.5%; one number is either too loose
//!   for the long ones or too tight for the short ones.
//! - *Drift, but each row at c*: each row keeps its own promise and the run
//!   breaks it: with 24 rows, a uniform 1% change (t/2) failed 8.8% of
//!   simulated runs, above the 5% promised.
//! - *Holm instead of Bonferroni*: Holm's first step is Bonferroni's test, so
//!   the exit code is identical; it would only count more rows as regressed
//!   once the run has already failed.
//! - *No aggregate*: with a drift calibrated from one pair, a uniform 3%
//!   loss was caught by some row in 89% of simulated runs, by the aggregate
//!   in all; with more drift or shorter kernels the rows alone catch less
//!   still, while the aggregate gains √n over any of them.
//! - *lo > 1 + t* or *lo > 1* alone, or *lo > 1 and r > 1 + t*: blind to
//!   losses just above t, flagging drift, or breaking the t/2 promise on
//!   wide CIs respectively (the reasons the table was chosen; unchanged).
//!
//! # Simulation
//!
//! `simulation/whole_run.rs` compares whole runs as the CI job does: each
//! simulated run redraws every measurement of `runA.json` from its raw
//! samples (tails, ties, outliers as measured) and multiplies it by its own
//! drift exp(σ(t)·Z), σ the maximum-likelihood fit to the pair (the truth is
//! the estimate, the rule uses the bound); the current run is slower by δ;
//! 500 comparisons per case, 400 bootstrap resamples. Two versions of the
//! rule: with the default drift, and with a drift calibrated (upper bound)
//! from a fresh simulated pair in each trial, so a one-pair calibration's
//! estimation error is in the rates. Run fails:
//!
//! | case                       | default drift | calibrated per trial |
//! |----------------------------|---------------|----------------------|
//! | identical (≤ 5% required)  | 0.0%          | 0.4%                 |
//! | all +1% (≤ 5% promised)    | 0.0%          | 0.8%                 |
//! | all +3% (≥ 90% required)   | 100%          | 100% (rows alone 89%) |
//!
//! One shape +3%, the others unchanged (default drift): caught in 0–2% of
//! runs for kernels under 1 ms, 5–8% at 1.6–1.7 ms, 21–30% at 3.2–3.4 ms,
//! 86–88% at 6.3–6.6 ms; one shape +10%: 35–37% at 0.18 ms, 60–74% at
//! 0.25–0.29 ms, 96% and more from 0.44 ms. The test asserts the three rows
//! of the table and prints the rest (`cargo test -p tileattn-host
//! whole_run -- --nocapture`).
//!
//! `simulation/within_run.rs` is the study of the within-run part alone, on
//! the committed H100 run: one measurement, no drift, where the rule is the
//! percentile bootstrap's. With ten samples per run a 3% loss on an
//! outlier-prone measurement can be caught as rarely as half the time; with
//! 40 (`bench --min-samples 40 --rel-ci 0.005`, as the GPU workflow runs it)
//! at least 90%, and a 1% change is called a regression in at most 2.5%.
//! Its ignored `simulation_all_measurements` runs all 96 measurements.
//!
//! What neither can show: whether the drift model holds on another day or
//! another GPU (only one same-build pair is committed), and drift shared by
//! all shapes of a run (a common clock shift), which the pair does not show
//! but which would make the aggregate's √n too optimistic. More same-build
//! pairs, calibrated together (`--calibrate` takes any number of runs), are
//! the check of both.
//!
//! # Baselines
//!
//! A baseline is a run file plus a `history` array and an optional `drift`
//! calibration ([`baseline::Baseline`]), so every run-file reader reads it;
//! any run file can serve as a baseline (judged with the default drift).
//! Baselines live in `results/baselines/<GPU>/<suite>.json`, `<GPU>` the
//! driver's name for the GPU made path-safe ([`baseline::gpu_dir_name`]).
//! `--update` replaces a baseline measurement only when the current run's is
//! *improved* (see [`baseline::Baseline::update`] for why not merely faster),
//! adds measurements the baseline lacks, keeps each replaced measurement in
//! `history` with where it came from, and writes the file atomically.

pub mod baseline;
pub mod calibrate;
pub mod decision;
pub mod drift;
pub mod format;
pub mod markdown;
pub mod matching;
pub mod provenance;
pub mod report;
pub mod rule;
pub mod rule_text;

#[cfg(test)]
mod simulation;

pub use baseline::Baseline;
pub use calibrate::{Calibration, CalibrationReport, calibrate};
pub use decision::{Aggregate, Decision, decide};
pub use drift::{DEFAULT_DRIFT, DriftModel, DriftSource};
pub use matching::{Comparison, Key, Mismatch, MismatchKind, compare, compare_named, mismatches};
pub use report::Report;
pub use rule::{Judgement, Rule, Verdict};
