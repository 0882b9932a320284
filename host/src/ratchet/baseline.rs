//! The baseline file: a run file (so every reader of run files reads it) with
//! two more top-level fields: `history`, the values `--update` replaced, and
//! `drift`, the [`Calibration`] its comparisons are judged with (absent: the
//! built-in default, [`DEFAULT_DRIFT`]).
//!
//! Both are optional, so baselines written before either existed load as
//! they are, and the run part keeps its schema version: an older tileattn
//! reading a calibrated baseline ignores `drift` and judges by its own older
//! rule, which is what it would do with any baseline. A `drift` that is
//! present must be complete and sane, or the file is rejected.
//!
//! The run part's `env` is that of the run the baseline was initialised from
//! and never changes: `--update` takes only runs of the same GPU, driver and
//! torch, and a value raised by a run of another kernel build says so in its
//! history entry. Where any measurement came from is therefore exact: the
//! `from` of the newest history entry for its key, else the initial run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::calibrate::Calibration;
use super::drift::{DEFAULT_DRIFT, DriftModel, DriftSource};
use super::matching::{Key, compare, mismatches};
use super::provenance::Provenance;
use super::rule::{Rule, Verdict};
use crate::output::write_atomic;
use crate::runfile::{Measurement, RunFile};
use crate::stats::{RatioCi, median};
use crate::{Error, Result};

/// A run file and the history of what `--update` changed in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    pub run: RunFile,
    /// Oldest first.
    pub history: Vec<HistoryEntry>,
    /// The drift this machine's runs were calibrated to.
    pub drift: Option<Calibration>,
}

/// One measurement raised (or added) by `--update`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When the update ran, RFC 3339 UTC.
    pub updated_utc: String,
    pub key: Key,
    /// The run the new value came from.
    pub from: Provenance,
    /// The value it replaced; None when the baseline had none (a new problem).
    pub replaced: Option<Replaced>,
}

/// A replaced value, kept whole, and the evidence it was beaten.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replaced {
    pub measurement: Measurement,
    pub from: Provenance,
    /// median(new) / median(old) and its CI: below 1 − threshold.
    pub ratio: RatioCi,
}

impl Baseline {
    pub fn from_run(run: RunFile) -> Baseline {
        Baseline {
            run,
            history: Vec::new(),
            drift: None,
        }
    }

    /// Read a baseline, or a plain run file (a baseline without history),
    /// with every check of [`RunFile::load`].
    pub fn load(path: &Path) -> Result<Baseline> {
        let run = RunFile::load(path)?;
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        #[derive(Deserialize)]
        struct Extras {
            #[serde(default)]
            history: Vec<HistoryEntry>,
            drift: Option<Calibration>,
        }
        // The text is JSON (RunFile::load parsed it): what can fail is the shape.
        let extras: Extras = serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("history or drift: {e}")))?;
        if let Some(d) = &extras.drift {
            d.check().map_err(|m| Error::format(path, m))?;
        }
        Ok(Baseline {
            run,
            history: extras.history,
            drift: extras.drift,
        })
    }

    /// Write the baseline atomically: readers see the old file or the new one.
    pub fn save(&self, path: &Path) -> Result<()> {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            run: &'a RunFile,
            history: &'a [HistoryEntry],
            #[serde(skip_serializing_if = "Option::is_none")]
            drift: Option<&'a Calibration>,
        }
        let out = Out {
            run: &self.run,
            history: &self.history,
            drift: self.drift.as_ref(),
        };
        let text = serde_json::to_string_pretty(&out)
            .map_err(|e| Error::format(path, format!("serializing the baseline: {e}")))?;
        write_atomic(path, format!("{text}\n").as_bytes())
    }

    /// The drift to judge against this baseline with, and its source:
    /// `command_line` (`--drift`) if given, else the stored calibration, else
    /// the built-in default.
    pub fn drift_for(&self, command_line: Option<f64>) -> (DriftModel, DriftSource) {
        match (command_line, &self.drift) {
            (Some(x), _) => (DriftModel::constant(x), DriftSource::CommandLine),
            (None, Some(c)) => (c.model, c.source()),
            (None, None) => (DEFAULT_DRIFT, DriftSource::Default),
        }
    }

    /// Store `calibration` as the drift this baseline is judged with, refusing
    /// one measured on another GPU, driver or torch: drift belongs to a
    /// machine. Another kernel build is fine; drift is not the kernels' doing.
    pub fn set_drift(&mut self, calibration: Calibration, runs: &[&RunFile]) -> Result<()> {
        for run in runs {
            self.refuse_another_machine(run, "calibrated")?;
        }
        self.drift = Some(calibration);
        Ok(())
    }

    /// An error naming how `run`'s machine differs from the baseline's, if it does.
    fn refuse_another_machine(&self, run: &RunFile, what: &str) -> Result<()> {
        let machine: Vec<String> = mismatches(&self.run.env, &run.env)
            .into_iter()
            .filter(|m| m.kind.is_machine())
            .map(|m| m.to_string())
            .collect();
        if machine.is_empty() {
            return Ok(());
        }
        Err(Error::Incomparable(format!(
            "a baseline is only {what} from runs on the same GPU, driver and torch; \
             this run differs in {}",
            machine.join("; ")
        )))
    }

    /// The run the baseline's value for `key` came from.
    pub fn source_of(&self, key: &Key) -> Provenance {
        self.history
            .iter()
            .rev()
            .find(|h| &h.key == key)
            .map_or_else(|| Provenance::of(&self.run), |h| h.from.clone())
    }

    /// Raise the baseline where `current` is judged improved by `rule`, and
    /// add the measurements it has and the baseline lacks; nothing else moves,
    /// so the baseline never gets slower. Refused for a run of another GPU,
    /// driver or torch, whatever the comparison allowed: a baseline holds one
    /// machine's numbers. Returns the keys changed, in the baseline's order
    /// and then the current run's.
    ///
    /// Only *improved* values are taken, not every significantly faster one:
    /// a run that is faster by less than the threshold is within the drift
    /// between runs, and taking it would ratchet the baseline down to the
    /// luckiest run seen, after which ordinary runs would read as regressions.
    pub fn update(&mut self, current: &RunFile, rule: &Rule, now_utc: &str) -> Result<Vec<Key>> {
        self.refuse_another_machine(current, "updated")?;
        let comparison = compare(&self.run, current, rule)?;
        let by_key = |key: &Key| current.measurements.iter().find(|m| &Key::of(m) == key);
        let mut changed = Vec::new();
        for row in &comparison.rows {
            let (Verdict::Improved, Some(new)) = (row.judgement.verdict, by_key(&row.key)) else {
                continue;
            };
            let Some(slot) = self
                .run
                .measurements
                .iter_mut()
                .find(|m| Key::of(m) == row.key)
            else {
                continue;
            };
            // Improved means a lower median; checked again because moving the
            // bar down is the one thing a ratchet must never do.
            if median(&new.samples_ms) >= median(&slot.samples_ms) {
                continue;
            }
            let old = std::mem::replace(slot, new.clone());
            let from = self.source_of(&row.key);
            self.history.push(HistoryEntry {
                updated_utc: now_utc.into(),
                key: row.key.clone(),
                from: Provenance::of(current),
                replaced: Some(Replaced {
                    measurement: old,
                    from,
                    ratio: row.judgement.ratio,
                }),
            });
            changed.push(row.key.clone());
        }
        for key in &comparison.only_current {
            let Some(new) = by_key(key) else { continue };
            if new.implementation.starts_with("torch") && self.run.env.torch_version.is_none() {
                // The first torch numbers: record which torch, or later runs
                // of another torch could not be told apart.
                self.run.env.torch_version = current.env.torch_version.clone();
            }
            self.run.measurements.push(new.clone());
            self.history.push(HistoryEntry {
                updated_utc: now_utc.into(),
                key: key.clone(),
                from: Provenance::of(current),
                replaced: None,
            });
            changed.push(key.clone());
        }
        Ok(changed)
    }
}

/// The directory name of a GPU's baselines: its name as the driver reports it,
/// each run of characters other than ASCII letters, digits, `.` and `-`
/// replaced by one `_`, with none at either end
/// (`NVIDIA H100 80GB HBM3` → `NVIDIA_H100_80GB_HBM3`). The workflow computes
/// the same from `nvidia-smi` with `sed -E 's/[^A-Za-z0-9.-]+/_/g; s/^_+|_+$//g'`.
pub fn gpu_dir_name(gpu_name: &str) -> String {
    path_component(gpu_name, "unknown_gpu")
}

/// `s` made safe as one path component (see [`gpu_dir_name`]); `fallback` if
/// nothing is left or only dots are (`..` must not climb out of the directory).
fn path_component(s: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_end_matches('_');
    if trimmed.chars().all(|c| c == '.') {
        fallback.into()
    } else {
        trimmed.into()
    }
}

/// `<dir>/<GPU>/<suite>.json`: where the baseline for `run`'s GPU and suite lives.
pub fn path_for(dir: &Path, run: &RunFile) -> PathBuf {
    dir.join(gpu_dir_name(&run.env.gpu_name))
        .join(format!("{}.json", path_component(&run.suite, "suite")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfile::{CacheMode, committed_run};

    fn h100() -> RunFile {
        committed_run("fa2.json")
    }

    fn scale(m: &mut Measurement, factor: f64) {
        for x in &mut m.samples_ms {
            *x *= factor;
        }
        m.summary.median_ms = median(&m.samples_ms);
    }

    /// Drift-free, so that a 10% gain on one H100 measurement is clearly
    /// improved: these tests are about what `update` does with verdicts,
    /// which the rule's own tests cover.
    fn rule() -> Rule {
        Rule::new(0.02, 0.95, DriftModel::NONE).unwrap()
    }

    fn calibration(on: &RunFile) -> Calibration {
        let model = DriftModel {
            floor: 0.001,
            at_1ms: 0.009,
        };
        Calibration {
            model,
            estimate: model,
            confidence: 0.95,
            measurements: 24,
            runs: vec![Provenance::of(on), Provenance::of(on)],
            calibrated_utc: "2026-12-03T10:00:00Z".into(),
        }
    }

    /// A later run of the same machine: 0 improved, 1 regressed, 2 faster
    /// within the threshold, 3 missing, and one new (hot) measurement.
    fn later_run(base: &RunFile) -> RunFile {
        let mut cur = base.clone();
        cur.created_utc = "2026-12-01T00:00:00Z".into();
        cur.env.tileattn_commit = "later".into();
        scale(&mut cur.measurements[0], 0.9);
        scale(&mut cur.measurements[1], 1.1);
        scale(&mut cur.measurements[2], 0.995);
        cur.measurements.remove(3);
        let mut hot = cur.measurements[4].clone();
        hot.mode = CacheMode::Hot;
        cur.measurements.push(hot);
        cur
    }

    #[test]
    fn update_raises_only_improved_values_adds_new_ones_and_keeps_history() {
        let base = h100();
        let cur = later_run(&base);
        let mut b = Baseline::from_run(base.clone());
        let changed = b.update(&cur, &rule(), "2026-12-01T01:00:00Z").unwrap();
        let new_key = Key::of(cur.measurements.last().unwrap());
        assert_eq!(
            changed,
            vec![Key::of(&base.measurements[0]), new_key.clone()]
        );
        assert_eq!(b.run.measurements[0], cur.measurements[0]);
        assert_eq!(b.run.measurements[1..=3], base.measurements[1..=3]);
        assert_eq!(b.run.measurements.last(), cur.measurements.last());
        assert_eq!(b.run.measurements.len(), base.measurements.len() + 1);
        // The run part's identity stays that of the initial run.
        assert_eq!(b.run.env, base.env);

        let [raised, added] = &b.history[..] else {
            panic!("{:?}", b.history)
        };
        let replaced = raised.replaced.as_ref().unwrap();
        assert_eq!(replaced.measurement, base.measurements[0]);
        assert_eq!(replaced.from, Provenance::of(&base));
        assert!(replaced.ratio.ratio < 0.98 && replaced.ratio.hi < 0.99);
        assert_eq!(raised.from, Provenance::of(&cur));
        assert_eq!(raised.updated_utc, "2026-12-01T01:00:00Z");
        assert_eq!((&added.key, &added.replaced), (&new_key, &None));
        assert_eq!(b.source_of(&raised.key), Provenance::of(&cur));
        assert_eq!(
            b.source_of(&Key::of(&base.measurements[1])),
            Provenance::of(&base)
        );

        // The same run again raises nothing: it is the baseline now.
        assert!(b.update(&cur, &rule(), "later").unwrap().is_empty());
    }

    #[test]
    fn the_baseline_never_moves_down() {
        let base = h100();
        for factor in [0.5, 0.9, 0.97, 0.985, 0.99, 1.0, 1.01, 1.03, 1.5, 3.0] {
            let mut cur = base.clone();
            for m in &mut cur.measurements {
                scale(m, factor);
            }
            let mut b = Baseline::from_run(base.clone());
            let changed = b.update(&cur, &rule(), "now").unwrap();
            for (old, new) in base.measurements.iter().zip(&b.run.measurements) {
                assert!(
                    median(&new.samples_ms) <= median(&old.samples_ms),
                    "factor {factor}: {} got slower",
                    Key::of(old)
                );
            }
            // Only improvements beyond the threshold move it.
            assert_eq!(changed.is_empty(), factor > 0.98, "factor {factor}");
        }
    }

    #[test]
    fn update_takes_another_kernel_build_but_not_another_machine() {
        let base = h100();
        let mut cur = later_run(&base);
        cur.env.kernel_build = "feedface".into();
        let mut b = Baseline::from_run(base.clone());
        b.update(&cur, &rule(), "now").unwrap();
        assert_eq!(b.history[0].from.kernel_build, "feedface");

        for (field, edit) in [
            (
                "GPU",
                (|e: &mut crate::runfile::Environment| e.gpu_name = "NVIDIA A100".into())
                    as fn(&mut _),
            ),
            ("driver", |e| e.driver_version = "12.4".into()),
            ("torch", |e| e.torch_version = Some("2.5.0".into())),
            ("SM count", |e| e.sm_count = 16),
        ] {
            let mut other = later_run(&base);
            edit(&mut other.env);
            let mut b = Baseline::from_run(base.clone());
            match b.update(&other, &rule(), "now") {
                Err(Error::Incomparable(m)) => assert!(m.contains(field), "{m}"),
                r => panic!("{field}: expected a refusal, got {r:?}"),
            }
            assert_eq!(
                b,
                Baseline::from_run(base.clone()),
                "{field}: changed anyway"
            );
        }
    }

    #[test]
    fn save_and_load_round_trip_and_stay_a_run_file() {
        let base = h100();
        let mut b = Baseline::from_run(base.clone());
        b.update(&later_run(&base), &rule(), "now").unwrap();
        b.set_drift(calibration(&base), &[&base]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("NVIDIA_H100_80GB_HBM3").join("fa2.json");
        b.save(&path).unwrap();
        assert_eq!(Baseline::load(&path).unwrap(), b);
        // Any run-file reader reads it, ignoring the history.
        assert_eq!(RunFile::load(&path).unwrap(), b.run);
        // A plain run file is a baseline without history.
        let plain = dir.path().join("plain.json");
        base.save(&plain).unwrap();
        assert_eq!(Baseline::load(&plain).unwrap(), Baseline::from_run(base));
    }

    #[test]
    fn a_malformed_history_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        let mut v = serde_json::to_value(h100()).unwrap();
        v["history"] = serde_json::json!([{ "updated_utc": "x" }]);
        std::fs::write(&path, v.to_string()).unwrap();
        let msg = Baseline::load(&path).unwrap_err().to_string();
        assert!(
            msg.contains("history") && msg.contains("missing field"),
            "{msg}"
        );
    }

    #[test]
    fn a_malformed_drift_is_rejected_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        let base = h100();
        let good = serde_json::to_value(calibration(&base)).unwrap();
        for (edit, needle) in [
            (
                (|d: &mut serde_json::Value| d["model"]["at_1ms"] = (-0.01).into())
                    as fn(&mut serde_json::Value),
                "drift at_1ms is -0.01",
            ),
            (|d| d["model"]["floor"] = 2.0.into(), "drift floor is 2"),
            (|d| d["confidence"] = 1.0.into(), "drift confidence is 1"),
            (|d| d["runs"] = serde_json::json!([]), "at least two runs"),
            (
                |d| {
                    d.as_object_mut().unwrap().remove("estimate");
                },
                "missing field `estimate`",
            ),
            (
                |d| d["model"] = "1%".into(),
                "history or drift: invalid type",
            ),
        ] {
            let mut drift = good.clone();
            edit(&mut drift);
            let mut v = serde_json::to_value(&base).unwrap();
            v["drift"] = drift;
            std::fs::write(&path, v.to_string()).unwrap();
            let msg = Baseline::load(&path).unwrap_err().to_string();
            assert!(msg.contains(needle), "`{needle}` not in: {msg}");
        }
    }

    #[test]
    fn a_calibration_of_another_machine_is_refused_and_a_stored_one_is_used() {
        let base = h100();
        let mut other = base.clone();
        other.env.gpu_name = "NVIDIA H200".into();
        let mut b = Baseline::from_run(base.clone());
        match b.set_drift(calibration(&other), &[&other]) {
            Err(Error::Incomparable(m)) => {
                assert!(m.contains("only calibrated") && m.contains("GPU"), "{m}")
            }
            r => panic!("{r:?}"),
        }
        assert_eq!(b.drift, None);
        // Another kernel build is the same machine.
        other.env = base.env.clone();
        other.env.kernel_build = "feedface".into();
        assert_eq!(b.drift_for(None), (DEFAULT_DRIFT, DriftSource::Default));
        b.set_drift(calibration(&other), &[&other]).unwrap();
        let stored = calibration(&other);
        assert_eq!(b.drift_for(None), (stored.model, stored.source()));
        assert_eq!(
            b.drift_for(Some(0.02)),
            (DriftModel::constant(0.02), DriftSource::CommandLine)
        );
    }

    #[test]
    fn path_follows_gpu_and_suite() {
        let run = h100();
        assert_eq!(
            path_for(Path::new("results/baselines"), &run),
            Path::new("results/baselines/NVIDIA_H100_80GB_HBM3/fa2.json")
        );
    }

    #[test]
    fn gpu_directory_names() {
        for (name, dir) in [
            ("NVIDIA H100 80GB HBM3", "NVIDIA_H100_80GB_HBM3"),
            ("NVIDIA A100-SXM4-40GB", "NVIDIA_A100-SXM4-40GB"),
            ("  NVIDIA  H200 ", "NVIDIA_H200"),
            ("GPU/with:odd (chars)", "GPU_with_odd_chars"),
            ("NVIDIA H100 MIG 1g.10gb", "NVIDIA_H100_MIG_1g.10gb"),
            ("", "unknown_gpu"),
            ("//", "unknown_gpu"),
            ("..", "unknown_gpu"),
            ("../..", ".._.."),
        ] {
            assert_eq!(gpu_dir_name(name), dir, "{name:?}");
        }
    }
}
