//! Which measurements of two runs are the same measurement, and whether the
//! two runs can be compared at all.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::decision::{Aggregate, Input, decide, run_regressed};
use super::rule::{Judgement, Rule};
use crate::problem_key::ProblemKey;
use crate::runfile::{CacheMode, Environment, Measurement, RunFile};
use crate::stats::median;
use crate::{Error, Result};

/// What makes two measurements comparable: who ran (tileattn or a torch
/// backend), on which problem, from which L2 state. Not the variant: a
/// ratchet asks whether tileattn got slower, whichever variant it chose.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    pub implementation: String,
    pub problem: ProblemKey,
    pub mode: CacheMode,
}

impl Key {
    pub fn of(m: &Measurement) -> Key {
        Key {
            implementation: m.implementation.clone(),
            problem: m.problem.clone(),
            mode: m.mode,
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.problem;
        write!(
            f,
            "{} B={} Hq={} Hkv={} Sq={} Sk={} D={} {}{} {}",
            self.implementation,
            p.batch,
            p.heads_q,
            p.heads_kv,
            p.seqlen_q,
            p.seqlen_k,
            p.head_dim,
            p.dtype_label(),
            if p.causal { " causal" } else { "" },
            match self.mode {
                CacheMode::Cold => "cold",
                CacheMode::Hot => "hot",
            }
        )
    }
}

/// Why two runs' numbers may not be comparable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// Another GPU model, or another slice of one (a MIG slice keeps the
    /// GPU's name but not its SMs or L2): other hardware.
    Gpu,
    /// Another driver or torch on the same hardware.
    Environment,
    /// Other kernels: what a pull request that changes them is compared for,
    /// but not what two runs of one build should differ in.
    KernelBuild,
}

/// One field in which the two runs' environments differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub field: String,
    pub kind: MismatchKind,
    pub baseline: String,
    pub current: String,
}

impl MismatchKind {
    /// The numbers measure another machine: hardware or the software under it.
    pub fn is_machine(self) -> bool {
        matches!(self, MismatchKind::Gpu | MismatchKind::Environment)
    }
}

impl Mismatch {
    /// `GPU: A `…`, B `…``: the difference, each side by its name.
    pub fn describe(&self, [baseline, current]: [&str; 2]) -> String {
        format!(
            "{}: {baseline} `{}`, {current} `{}`",
            self.field, self.baseline, self.current
        )
    }
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(["baseline", "current"]))
    }
}

/// Every field in which `current`'s environment differs from `baseline`'s
/// in a way that changes timings. Rated clocks and the tileattn commit are
/// left out: the first follows the GPU model, and a commit that changes no
/// kernel changes no timing (the kernel build hash says whether it did).
pub fn mismatches(baseline: &Environment, current: &Environment) -> Vec<Mismatch> {
    use MismatchKind::*;
    let (b, c) = (baseline, current);
    let mut fields = vec![
        ("GPU", Gpu, b.gpu_name.clone(), c.gpu_name.clone()),
        (
            "compute capability",
            Gpu,
            b.compute_capability.clone(),
            c.compute_capability.clone(),
        ),
        // A MIG slice keeps the GPU's name but not its SMs or L2.
        (
            "SM count",
            Gpu,
            b.sm_count.to_string(),
            c.sm_count.to_string(),
        ),
        (
            "L2 bytes",
            Gpu,
            b.l2_bytes.to_string(),
            c.l2_bytes.to_string(),
        ),
        (
            "driver",
            Environment,
            b.driver_version.clone(),
            c.driver_version.clone(),
        ),
        (
            "kernel build",
            KernelBuild,
            b.kernel_build.clone(),
            c.kernel_build.clone(),
        ),
    ];
    // Only when both ran torch: a run without it just has no torch rows,
    // which the report lists as present on one side only.
    if let (Some(bt), Some(ct)) = (&b.torch_version, &c.torch_version) {
        fields.push(("torch", Environment, bt.clone(), ct.clone()));
    }
    fields
        .into_iter()
        .filter(|(_, _, b, c)| b != c)
        .map(|(field, kind, baseline, current)| Mismatch {
            field: field.into(),
            kind,
            baseline,
            current,
        })
        .collect()
}

/// One measurement present in both runs, judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub key: Key,
    /// The tileattn variants timed (None for torch backends): a change of
    /// variant is often the explanation of a change of time.
    pub baseline_variant: Option<String>,
    pub current_variant: Option<String>,
    pub baseline_median_ms: f64,
    pub current_median_ms: f64,
    pub baseline_n: usize,
    pub current_n: usize,
    #[serde(flatten)]
    pub judgement: Judgement,
}

/// Two runs matched measurement by measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// In the baseline's order.
    pub rows: Vec<Row>,
    /// The geometric mean of each implementation's ratios, judged.
    pub aggregates: Vec<Aggregate>,
    /// Measurements one run has and the other lacks: listed, never dropped
    /// silently (a problem that vanished may be one that broke).
    pub only_baseline: Vec<Key>,
    pub only_current: Vec<Key>,
}

/// Each measurement of `run` by key; two measurements with one key would make
/// the match ambiguous, so they are an error.
pub(super) fn index<'a>(what: &str, run: &'a RunFile) -> Result<HashMap<Key, &'a Measurement>> {
    let mut map = HashMap::new();
    for m in &run.measurements {
        if map.insert(Key::of(m), m).is_some() {
            return Err(Error::Invalid(format!(
                "the {what} run has two measurements of {}; which one to compare is ambiguous",
                Key::of(m)
            )));
        }
    }
    Ok(map)
}

impl Comparison {
    /// Whether the run fails: a measurement or an aggregate regressed.
    pub fn regressed(&self) -> bool {
        run_regressed(
            self.rows.iter().map(|r| r.judgement.verdict),
            &self.aggregates,
        )
    }
}

/// Match `current`'s measurements with `baseline`'s and judge them together
/// ([`decide`]). Runs with no measurement in common are incomparable: an
/// empty report would read as "nothing regressed".
pub fn compare(baseline: &RunFile, current: &RunFile, rule: &Rule) -> Result<Comparison> {
    compare_named(["baseline", "current"], baseline, current, rule)
}

/// [`compare`], its errors naming the two runs `names` (`tileattn compare`'s A and B).
pub fn compare_named(
    names: [&str; 2],
    baseline: &RunFile,
    current: &RunFile,
    rule: &Rule,
) -> Result<Comparison> {
    let base = index(names[0], baseline)?;
    let cur = index(names[1], current)?;
    let mut pairs = Vec::new();
    let mut only_baseline = Vec::new();
    for b in &baseline.measurements {
        let key = Key::of(b);
        match cur.get(&key) {
            Some(&c) => pairs.push((key, b, c)),
            None => only_baseline.push(key),
        }
    }
    let only_current: Vec<Key> = current
        .measurements
        .iter()
        .map(Key::of)
        .filter(|k| !base.contains_key(k))
        .collect();
    if pairs.is_empty() {
        return Err(Error::Incomparable(format!(
            "the runs have no measurement in common ({} suite `{}`, {} measurements; \
             {} suite `{}`, {} measurements)",
            names[0],
            baseline.suite,
            baseline.measurements.len(),
            names[1],
            current.suite,
            current.measurements.len()
        )));
    }
    let mut inputs = Vec::with_capacity(pairs.len());
    for (key, b, c) in &pairs {
        inputs.push(Input {
            implementation: &key.implementation,
            // From the samples, like the ratio, not the stored summary.
            baseline_ms: median(&b.samples_ms),
            within_run: rule
                .within_run(&b.samples_ms, &c.samples_ms)
                .map_err(|e| Error::Invalid(format!("{key}: {e}")))?,
        });
    }
    let decision = decide(rule, &inputs);
    let rows = pairs
        .iter()
        .zip(decision.judgements)
        .map(|((key, b, c), judgement)| Row {
            baseline_variant: b.variant.clone(),
            current_variant: c.variant.clone(),
            baseline_median_ms: median(&b.samples_ms),
            current_median_ms: median(&c.samples_ms),
            baseline_n: b.samples_ms.len(),
            current_n: c.samples_ms.len(),
            judgement,
            key: key.clone(),
        })
        .collect();
    Ok(Comparison {
        rows,
        aggregates: decision.aggregates,
        only_baseline,
        only_current,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratchet::drift::DriftModel;
    use crate::ratchet::rule::Verdict;

    fn h100() -> RunFile {
        crate::runfile::committed_run("fa2.json")
    }

    /// Drift-free: these tests are about matching, not about the verdicts.
    fn rule() -> Rule {
        Rule::new(0.02, 0.95, DriftModel::NONE).unwrap()
    }

    #[test]
    fn environments_differ_by_machine_or_by_kernels() {
        let base = h100().env;
        assert!(mismatches(&base, &base).is_empty());
        let mut cur = base.clone();
        cur.tileattn_commit = "another commit, same kernels".into();
        cur.sm_clock_mhz += 100;
        assert!(mismatches(&base, &cur).is_empty());
        cur.gpu_name = "NVIDIA A100-SXM4-40GB".into();
        cur.kernel_build = "feedface".into();
        let found = mismatches(&base, &cur);
        let summary: Vec<(&str, MismatchKind)> =
            found.iter().map(|m| (m.field.as_str(), m.kind)).collect();
        assert_eq!(
            summary,
            [
                ("GPU", MismatchKind::Gpu),
                ("kernel build", MismatchKind::KernelBuild)
            ]
        );
        assert_eq!(
            found[0].to_string(),
            "GPU: baseline `NVIDIA H100 80GB HBM3`, current `NVIDIA A100-SXM4-40GB`"
        );
        // Torch only counts when both sides ran it.
        let mut no_torch = base.clone();
        no_torch.torch_version = None;
        assert!(mismatches(&base, &no_torch).is_empty());
        let mut other_torch = base.clone();
        other_torch.torch_version = Some("2.5.0".into());
        assert_eq!(mismatches(&base, &other_torch)[0].field, "torch");
    }

    #[test]
    fn matching_ignores_the_variant_and_lists_one_sided_measurements() {
        let base = h100();
        let mut cur = base.clone();
        let gone = Key::of(&cur.measurements.remove(5));
        cur.measurements[0].variant = Some("another_variant".into());
        let mut hot = cur.measurements[1].clone();
        hot.mode = CacheMode::Hot;
        cur.measurements.push(hot.clone());
        let c = compare(&base, &cur, &rule()).unwrap();
        assert_eq!(c.rows.len(), 95);
        assert_eq!(
            (&c.only_baseline, &c.only_current),
            (&vec![gone], &vec![Key::of(&hot)])
        );
        let first = &c.rows[0];
        assert_eq!(first.current_variant.as_deref(), Some("another_variant"));
        // The same samples on both sides: a ratio of exactly 1, and no
        // verdict either way (a wide within-run CI, widened for 95 rows, may
        // leave a row inconclusive rather than unchanged).
        assert!(c.rows.iter().all(|r| r.judgement.ratio.ratio == 1.0
            && matches!(
                r.judgement.verdict,
                Verdict::Unchanged | Verdict::Inconclusive
            )));
        assert!(!c.regressed());
        assert_eq!(
            first.key.to_string(),
            "tileattn B=32 Hq=32 Hkv=32 Sq=512 Sk=512 D=64 bf16 cold"
        );
    }

    #[test]
    fn ambiguous_or_disjoint_runs_are_refused() {
        let base = h100();
        let mut dup = base.clone();
        dup.measurements.push(dup.measurements[7].clone());
        match compare(&base, &dup, &rule()) {
            Err(Error::Invalid(m)) => {
                assert!(m.contains("current run has two measurements"), "{m}")
            }
            r => panic!("{r:?}"),
        }
        let mut other = base.clone();
        other.suite = "seed".into();
        for m in &mut other.measurements {
            m.problem.batch += 1000;
        }
        match compare(&base, &other, &rule()) {
            Err(Error::Incomparable(m)) => assert!(m.contains("no measurement in common"), "{m}"),
            r => panic!("{r:?}"),
        }
    }
}
