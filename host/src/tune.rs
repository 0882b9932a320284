//! The autotuner: for one problem, every valid variant of every family is
//! verified against the f64 reference (a wrong one is excluded and reported,
//! never ranked), then timed by the protocol of [`crate::timing`], and ranked.
//!
//! Strategies:
//! - `exhaustive` (default): every verified candidate timed with the full stop
//!   rule;
//! - `halving` (successive halving): every candidate gets a cheap measurement
//!   (few samples, loose CI); the faster half survives to a round with twice
//!   the samples and half the CI width, and so on until one or two remain,
//!   which get the full rule. Candidates eliminated early keep their cheap
//!   measurement in the ranking (with its wider CI).
//!
//! Pruning: every candidate's verification run is timed with a pair of events
//! (no flush, one launch: a coarse first look). A candidate whose first run
//! takes more than [`PRUNE_FACTOR`] times the best median so far is not timed
//! further and is listed as pruned with that first-run time. Candidates are
//! taken in the order of the default heuristic's favourites (the heuristic's
//! pick first), so a good leader is known early; this keeps tuning a
//! 16k-token shape from spending minutes on the scalar baseline kernel.
//!
//! The winner is *distinguishable* from the runner-up when the bootstrap CI of
//! median(runner-up)/median(winner) lies entirely above 1. When it is not,
//! the two play a [`Playoff`]: one ranking pass times each candidate once,
//! in turn, at whatever clock the GPU holds then, and at the power cap that
//! state alone can move a median by 1–2% (measured on the H200,
//! `results/h200/ratchet/final/README.md`).

use std::time::{Duration, Instant};

use tileattn_kernels::Family;

use crate::problem::Problem;
use crate::registry::{Registry, Variant};
use crate::runfile::{Correctness, Measurement, StopReason};
use crate::stats::{StopRule, bootstrap_ratio_ci};
use crate::timing::{Timer, TimingConfig};
use crate::tune_cache::{Bucket, Entry, RunnerUp, Strategy, Winner};
use crate::utc::rfc3339_utc;
use crate::workload::{Verdict, Workload, time_verified, verify_and_time};
use crate::{Error, Result};

/// How to tune.
#[derive(Clone, Debug)]
pub struct TuneConfig {
    pub strategy: Strategy,
    /// Wall time for the whole search (verification included); candidates not
    /// reached are reported as skipped.
    pub budget: Option<Duration>,
    pub timing: TimingConfig,
    /// Only this family (default: all).
    pub family: Option<Family>,
    pub seed: u64,
}

/// What happened to one candidate.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Verified and timed.
    Timed {
        measurement: Box<Measurement>,
        rounds: u32,
    },
    /// Its output did not match the reference: excluded.
    Wrong { correctness: Correctness },
    /// It could not run (launch error, too much shared memory...).
    Failed { error: String },
    /// Correct, but its first run was more than [`PRUNE_FACTOR`]× the leader's median.
    Pruned { first_run_ms: f64, leader_ms: f64 },
    /// The budget ran out before it was reached.
    Skipped,
}

/// A candidate whose first run is this many times slower than the best median
/// so far is not timed further.
pub const PRUNE_FACTOR: f64 = 3.0;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Candidate {
    pub variant: &'static str,
    pub outcome: Outcome,
}

/// The result of tuning one problem.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Tuned {
    pub problem: crate::problem_key::ProblemKey,
    pub strategy: Strategy,
    /// Timed candidates fastest first, then the excluded ones.
    pub candidates: Vec<Candidate>,
    /// CI of median(runner-up)/median(winner), when there is a runner-up.
    pub margin: Option<crate::stats::RatioCi>,
    pub distinguishable: bool,
    /// The tie-break, when the first ranking could not separate its two
    /// fastest candidates.
    pub playoff: Option<Playoff>,
    pub elapsed_s: f64,
    pub verified_rows: usize,
}

/// Rounds of a [`Playoff`].
pub const PLAYOFF_ROUNDS: usize = 3;

/// The two fastest candidates of a ranking that could not tell them apart,
/// timed again in [`PLAYOFF_ROUNDS`] rounds, back to back within a round
/// (so both run at the same clock and temperature), alternating which goes
/// first. The round with the median ratio decides, and its two measurements
/// replace the first ones: the ranking, the margin and the cache then show
/// the medians the choice rests on.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Playoff {
    /// The first ranking's winner and runner-up.
    pub variants: [&'static str; 2],
    /// median(runner-up) / median(winner) of each round, in the first
    /// ranking's terms: below 1, the runner-up was faster in that round.
    pub ratios: Vec<f64>,
}

impl Playoff {
    /// The round that decides: the one with the median ratio (the lower
    /// middle one for an even count).
    pub fn deciding_round(&self) -> usize {
        let mut order: Vec<usize> = (0..self.ratios.len()).collect();
        order.sort_by(|&a, &b| self.ratios[a].total_cmp(&self.ratios[b]));
        order[(order.len() - 1) / 2]
    }

    /// Whether the playoff reversed the first ranking.
    pub fn reversed(&self) -> bool {
        self.ratios[self.deciding_round()] < 1.0
    }
}

impl Tuned {
    pub fn timed(&self) -> impl Iterator<Item = (&'static str, &Measurement)> {
        self.candidates.iter().filter_map(|c| match &c.outcome {
            Outcome::Timed { measurement, .. } => Some((c.variant, measurement.as_ref())),
            _ => None,
        })
    }

    pub fn winner(&self) -> Option<(&'static str, &Measurement)> {
        self.timed().next()
    }

    /// The tuning-cache entry of this result (None if nothing was timed).
    pub fn cache_entry(&self, p: &Problem) -> Option<Entry> {
        let mut timed = self.timed();
        let (name, m) = timed.next()?;
        let runner_up = timed.next().map(|(r, rm)| RunnerUp {
            variant: r.into(),
            median_ms: rm.summary.median_ms,
            distinguishable: self.distinguishable,
        });
        Some(Entry {
            bucket: Bucket::of(p),
            winner: Winner {
                variant: name.into(),
                median_ms: m.summary.median_ms,
                ci_low_ms: m.summary.ci_low_ms,
                ci_high_ms: m.summary.ci_high_ms,
            },
            runner_up,
            strategy: self.strategy,
            tuned_on: p.key(),
            tuned_utc: rfc3339_utc(std::time::SystemTime::now()),
        })
    }
}

/// Tune `p` over the registry's candidates. `progress(done, total, variant)` is
/// called as candidates finish (for a progress bar).
pub fn tune(
    timer: &mut Timer,
    registry: &Registry,
    p: &Problem,
    cfg: &TuneConfig,
    progress: &dyn Fn(usize, usize, &str),
) -> Result<Tuned> {
    let start = Instant::now();
    let dev = timer.device();
    let candidates = ordered_candidates(registry, p, cfg.family, dev.info.sm_count, dev.info.cc());
    if candidates.is_empty() {
        return Err(Error::Invalid(format!(
            "no variant of this build computes {p} (see `tileattn variants`)"
        )));
    }
    let sets = Workload::sets_for(dev, p, cfg.timing.mode);
    let mut w = Workload::new(dev, p, sets, cfg.seed)?;
    let out_of_time = || cfg.budget.is_some_and(|b| start.elapsed() >= b);

    let mut outcomes: Vec<Candidate> = Vec::new();
    let rounds = match cfg.strategy {
        Strategy::Exhaustive => vec![cfg.timing.rule],
        Strategy::Halving => halving_rounds(&cfg.timing.rule, candidates.len()),
    };
    let mut alive: Vec<&'static Variant> = candidates.clone();
    let total = candidates.len();
    for (r, rule) in rounds.iter().enumerate() {
        let timing = TimingConfig {
            rule: *rule,
            ..cfg.timing.clone()
        };
        let mut round: Vec<(&'static Variant, Measurement)> = Vec::new();
        let mut leader_ms = f64::INFINITY;
        for v in &alive {
            if out_of_time() {
                outcomes.retain(|c| c.variant != v.name);
                outcomes.push(Candidate {
                    variant: v.name,
                    outcome: Outcome::Skipped,
                });
                continue;
            }
            let cut = leader_ms.is_finite().then_some(PRUNE_FACTOR * leader_ms);
            let outcome = match verify_and_time(timer, &mut w, v, &timing, cut) {
                Ok(Verdict::Timed(m)) => {
                    leader_ms = leader_ms.min(m.summary.median_ms);
                    round.push((v, (*m).clone()));
                    Outcome::Timed {
                        measurement: m,
                        rounds: r as u32 + 1,
                    }
                }
                Ok(Verdict::Wrong(correctness)) => Outcome::Wrong { correctness },
                Ok(Verdict::Pruned { first_run_ms }) => Outcome::Pruned {
                    first_run_ms,
                    leader_ms,
                },
                Err(e @ (Error::Cuda { .. } | Error::Invalid(_))) => Outcome::Failed {
                    error: e.to_string(),
                },
                Err(e) => return Err(e),
            };
            outcomes.retain(|c| c.variant != v.name);
            outcomes.push(Candidate {
                variant: v.name,
                outcome,
            });
            if r == 0 {
                progress(outcomes.len(), total, v.name);
            }
        }
        round.sort_by(|a, b| a.1.summary.median_ms.total_cmp(&b.1.summary.median_ms));
        let keep = if r + 1 < rounds.len() {
            round.len().div_ceil(2).max(2)
        } else {
            round.len()
        };
        alive = round.iter().take(keep).map(|(v, _)| *v).collect();
        if alive.len() <= 1 {
            break;
        }
    }
    rank(&mut outcomes);
    let (mut margin_ci, mut distinguishable) = margin(&outcomes, &cfg.timing.rule)?;
    let mut playoff = None;
    if !distinguishable && margin_ci.is_some() && !out_of_time() {
        playoff = Some(play_off(
            timer,
            &w,
            &candidates,
            &mut outcomes,
            &cfg.timing,
        )?);
        rank(&mut outcomes);
        (margin_ci, distinguishable) = margin(&outcomes, &cfg.timing.rule)?;
    }
    Ok(Tuned {
        problem: p.key(),
        strategy: cfg.strategy,
        candidates: outcomes,
        margin: margin_ci,
        distinguishable,
        playoff,
        elapsed_s: start.elapsed().as_secs_f64(),
        verified_rows: w.check_rows(),
    })
}

/// The [`Playoff`] of the two fastest timed candidates of the ranked
/// `outcomes`; their measurements become those of the deciding round.
fn play_off(
    timer: &mut Timer,
    w: &Workload,
    candidates: &[&'static Variant],
    outcomes: &mut [Candidate],
    timing: &TimingConfig,
) -> Result<Playoff> {
    let leaders = outcomes
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Timed { measurement, .. } => Some((c.variant, measurement)),
            _ => None,
        })
        .take(2)
        .map(|(name, m)| {
            let v = candidates.iter().find(|v| v.name == name);
            match (v, &m.correctness) {
                (Some(v), Some(ok)) => Ok((*v, ok.clone())),
                _ => Err(Error::Invalid(format!(
                    "playoff: {name} is not a verified candidate"
                ))),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let [(first, first_ok), (second, second_ok)] = <[_; 2]>::try_from(leaders)
        .map_err(|_| Error::Invalid("a playoff needs two timed candidates".into()))?;
    let mut rounds = Vec::with_capacity(PLAYOFF_ROUNDS);
    for round in 0..PLAYOFF_ROUNDS {
        let mut time =
            |v: &Variant, ok: &Correctness| time_verified(timer, w, v, timing, ok.clone());
        let (a, b) = if round % 2 == 0 {
            let a = time(first, &first_ok)?;
            (a, time(second, &second_ok)?)
        } else {
            let b = time(second, &second_ok)?;
            (time(first, &first_ok)?, b)
        };
        rounds.push((a, b));
    }
    let playoff = Playoff {
        variants: [first.name, second.name],
        ratios: rounds
            .iter()
            .map(|(a, b)| b.summary.median_ms / a.summary.median_ms)
            .collect(),
    };
    let (a, b) = rounds.swap_remove(playoff.deciding_round());
    for c in outcomes.iter_mut() {
        if let Outcome::Timed { measurement, .. } = &mut c.outcome {
            if c.variant == first.name {
                **measurement = a.clone();
            } else if c.variant == second.name {
                **measurement = b.clone();
            }
        }
    }
    Ok(playoff)
}

/// The candidates for `p`, the default heuristic's pick first, then the rest of
/// its family, then the other families (newest first), in registry order within
/// each; only variants a device of compute capability `cc` runs.
fn ordered_candidates(
    registry: &Registry,
    p: &Problem,
    family: Option<Family>,
    sm_count: u32,
    cc: u32,
) -> Vec<&'static Variant> {
    let first = registry
        .default_for(p, sm_count, Some(cc))
        .filter(|v| family.is_none_or(|f| v.tile.family == f));
    let mut v: Vec<&'static Variant> = registry
        .candidates(p, family)
        .filter(|v| v.runs_on(Some(cc)))
        .collect();
    v.sort_by_key(|c| {
        (
            first.is_none_or(|f| !std::ptr::eq(f, *c)),
            std::cmp::Reverse(c.tile.family),
        )
    });
    v
}

/// The stop rules of successive halving for `n` candidates: the last round is
/// the full rule; each earlier round has half the samples and twice the CI
/// width of the next, down to a floor of a few samples.
fn halving_rounds(full: &StopRule, n: usize) -> Vec<StopRule> {
    let rounds = (n.max(2) as f64).log2().ceil() as usize;
    (0..rounds)
        .rev()
        .map(|k| {
            let f = 1usize << k;
            StopRule {
                rel_half_width: full.rel_half_width * f as f64,
                min_samples: (full.min_samples / f).max(5),
                max_samples: (full.max_samples / f).max(10),
                budget: full.budget / f as u32,
                ..*full
            }
        })
        .collect()
}

/// Timed candidates fastest first, then wrong, failed and skipped ones.
fn rank(c: &mut [Candidate]) {
    let key = |c: &Candidate| match &c.outcome {
        Outcome::Timed {
            measurement,
            rounds,
        } => (0, u32::MAX - rounds, measurement.summary.median_ms),
        Outcome::Pruned { first_run_ms, .. } => (1, 0, *first_run_ms),
        Outcome::Wrong { .. } => (2, 0, 0.0),
        Outcome::Failed { .. } => (3, 0, 0.0),
        Outcome::Skipped => (4, 0, 0.0),
    };
    c.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        (ka.0, ka.1).cmp(&(kb.0, kb.1)).then(ka.2.total_cmp(&kb.2))
    });
}

/// CI of median(runner-up)/median(winner), and whether it lies above 1.
fn margin(c: &[Candidate], rule: &StopRule) -> Result<(Option<crate::stats::RatioCi>, bool)> {
    let timed: Vec<&Measurement> = c
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Timed { measurement, .. } => Some(measurement.as_ref()),
            _ => None,
        })
        .take(2)
        .collect();
    match timed.as_slice() {
        [w, r] => {
            let ci = bootstrap_ratio_ci(&r.samples_ms, &w.samples_ms, &rule.bootstrap)?;
            Ok((Some(ci), ci.lo > 1.0))
        }
        _ => Ok((None, false)),
    }
}

/// Why sampling stopped, for tables.
pub fn stop_label(s: StopReason) -> &'static str {
    match s {
        StopReason::Converged => "converged",
        StopReason::Budget => "budget",
        StopReason::MaxSamples => "max samples",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_rounds_end_with_the_full_rule_and_loosen_backwards() {
        let full = StopRule::default();
        let r = halving_rounds(&full, 8);
        assert_eq!(r.len(), 3);
        assert_eq!(r[2], full);
        assert_eq!(r[1].rel_half_width, 2.0 * full.rel_half_width);
        assert_eq!(r[0].rel_half_width, 4.0 * full.rel_half_width);
        assert!(r[0].max_samples < r[1].max_samples && r[1].max_samples < r[2].max_samples);
        assert!(
            r.iter()
                .all(|x| x.min_samples >= 5 && x.min_samples <= x.max_samples)
        );
        assert_eq!(halving_rounds(&full, 1).len(), 1);
    }

    fn playoff(ratios: &[f64]) -> Playoff {
        Playoff {
            variants: ["a", "b"],
            ratios: ratios.to_vec(),
        }
    }

    #[test]
    fn the_round_with_the_median_ratio_decides_a_playoff() {
        // The H200's tie (results/h200/final): the runner-up faster in two
        // rounds of three, slower in one.
        let p = playoff(&[0.981, 1.004, 0.977]);
        assert_eq!(p.deciding_round(), 0);
        assert!(p.reversed());
        // One outlying round cannot reverse the ranking.
        let p = playoff(&[1.01, 0.90, 1.002]);
        assert_eq!(p.deciding_round(), 2);
        assert!(!p.reversed());
        // Even counts take the lower middle, so a split favours the runner-up
        // only if its better round is the lower one.
        assert_eq!(playoff(&[1.02, 0.99]).deciding_round(), 1);
        assert!(playoff(&[1.02, 0.99]).reversed());
        // A dead heat keeps the first ranking.
        assert!(!playoff(&[1.0, 1.0, 1.0]).reversed());
    }
}
