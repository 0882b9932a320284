//! The versioned run file: one JSON document per benchmark or tuning run, with
//! the environment it ran in and every measurement's summary and raw samples.
//! Reports, figures and the ratchet are all computed from it.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Bumped on any change a reader of an older file could misread.
pub const RUN_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunFile {
    pub schema_version: u32,
    /// Suite name (`seed`, `fa2`, `cliff`, `gqa`, or a user suite), or `adhoc`.
    pub suite: String,
    /// RFC 3339 UTC time the run started.
    pub created_utc: String,
    pub env: Environment,
    pub measurements: Vec<Measurement>,
    /// Every candidate of each problem's autotuning (the heatmap figure);
    /// empty when the run read its variants from the tuning cache.
    #[serde(default)]
    pub tuning: Vec<TuningRecord>,
}

/// The autotuning of one problem, as the heatmap and the report need it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TuningRecord {
    pub problem: ProblemKey,
    /// `exhaustive` or `halving`.
    pub strategy: String,
    pub winner: Option<String>,
    pub candidates: Vec<TunedCandidate>,
}

/// One candidate of an autotuning run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TunedCandidate {
    pub variant: String,
    /// Kernel family (`v0`, `v1`) and tile knobs.
    pub family: String,
    pub block_m: u32,
    pub block_n: u32,
    pub warps: u32,
    pub stages: u32,
    /// `timed`, `pruned` (correct but far slower at its first run), `wrong`
    /// (excluded: output did not match the reference), `failed` or `skipped`.
    pub status: String,
    /// Median of the timed samples, or the first run's time when pruned; None otherwise.
    pub median_ms: Option<f64>,
    pub tflops: Option<f64>,
}

/// Where a run happened: enough to refuse comparing runs that are not comparable.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    pub gpu_name: String,
    /// `"9.0"` style.
    pub compute_capability: String,
    pub driver_version: String,
    pub sm_count: u32,
    pub l2_bytes: u64,
    /// Rated SM clock (MHz) from the driver; the measured clock is per sample.
    pub sm_clock_mhz: u32,
    pub mem_clock_mhz: u32,
    pub mem_bus_bits: u32,
    /// `git describe --always --dirty` of tileattn at build time.
    pub tileattn_commit: String,
    /// Hash of all embedded PTX: two runs with the same hash ran the same kernels.
    pub kernel_build: String,
    pub torch_version: Option<String>,
    /// Ceilings measured on this device by tileattn's own kernels.
    pub ceilings: Option<Ceilings>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Ceilings {
    /// Device-to-device copy, bytes read + written per second, GB/s.
    pub copy_gbs: f64,
    /// Dense tensor-core throughput of an `mma.sync` loop, TFLOP/s.
    pub mma_tflops: f64,
}

/// The problem, without anything about how it is solved.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProblemKey {
    pub batch: u32,
    pub heads_q: u32,
    pub heads_kv: u32,
    pub seqlen_q: u32,
    pub seqlen_k: u32,
    pub head_dim: u32,
    /// `f16` or `bf16`.
    pub dtype: String,
    pub causal: bool,
}

/// L2 state each sample started from.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum CacheMode {
    /// L2 flushed before every sample (the default).
    Cold,
    /// No flush: back-to-back samples, inputs may be resident in L2.
    Hot,
}

/// Why sampling stopped.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The CI of the median reached the requested relative half-width.
    Converged,
    /// The time budget ran out first.
    Budget,
    /// The maximum sample count was reached first.
    MaxSamples,
}

/// Tukey-fence outlier counts (1.5 IQR mild, 3 IQR severe). Outliers are
/// counted and kept, never dropped.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Outliers {
    pub low_severe: u32,
    pub low_mild: u32,
    pub high_mild: u32,
    pub high_severe: u32,
}

/// Statistics of one measurement's samples (milliseconds).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub n: u32,
    pub median_ms: f64,
    /// 95% (or the configured level) bootstrap CI of the median.
    pub ci_low_ms: f64,
    pub ci_high_ms: f64,
    pub confidence: f64,
    pub mean_ms: f64,
    pub stddev_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub outliers: Outliers,
    pub stop: StopReason,
}

/// SM clock seen around the samples (the clock-probe kernel).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClockCheck {
    pub median_mhz: f64,
    /// Samples whose clock was below 90% of the run's typical clock.
    pub low_clock_samples: u32,
}

/// Output of a measured implementation compared against the f64 reference.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Correctness {
    /// ‖out − ref‖ / ‖ref‖ (NaN if any output was NaN).
    pub rel_l2_err: f64,
    pub tolerance: f64,
    pub passed: bool,
}

/// One implementation timed on one problem.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Measurement {
    /// `tileattn`, `torch-flash`, `torch-cudnn`, `torch-efficient`, `torch-math`.
    pub implementation: String,
    /// Registry name of the tileattn variant timed (None for other implementations).
    pub variant: Option<String>,
    pub problem: ProblemKey,
    pub mode: CacheMode,
    pub summary: Summary,
    pub samples_ms: Vec<f64>,
    /// Exact floating-point operations (causal: unmasked score pairs only).
    pub flops: f64,
    /// Minimum bytes: Q, K, V read once, O and LSE written once.
    pub bytes: f64,
    pub tflops: f64,
    pub gbs: f64,
    /// The working set fits in L2: the numbers may describe the cache, not HBM.
    pub cache_resident: bool,
    pub clock: Option<ClockCheck>,
    pub correctness: Option<Correctness>,
}

impl Environment {
    /// The environment of a run on `dev` by the tileattn build `commit`.
    pub fn of(
        dev: &crate::device::Device,
        commit: &str,
        ceilings: Option<Ceilings>,
    ) -> Environment {
        let i = &dev.info;
        Environment {
            gpu_name: i.name.clone(),
            compute_capability: format!("{}.{}", i.compute_capability.0, i.compute_capability.1),
            driver_version: i.driver_version_string(),
            sm_count: i.sm_count,
            l2_bytes: i.l2_bytes,
            sm_clock_mhz: i.sm_clock_mhz,
            mem_clock_mhz: i.mem_clock_mhz,
            mem_bus_bits: i.mem_bus_bits,
            tileattn_commit: commit.into(),
            kernel_build: dev.registry().build_hash(),
            torch_version: None,
            ceilings,
        }
    }
}

impl RunFile {
    /// Read a run file, refusing anything a comparison could be misled by: a
    /// file that is not complete JSON (truncated), another schema version, a
    /// NaN or infinite number (JSON has none: writers put `null` or `NaN`
    /// there), or a time that is not positive.
    pub fn load(path: &Path) -> crate::Result<RunFile> {
        let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
        RunFile::parse(path, &text)
    }

    /// [`RunFile::load`] of text already read from `path`.
    pub fn parse(path: &Path, text: &str) -> crate::Result<RunFile> {
        // The version first: a file of another version would otherwise fail
        // on some field with a message that does not say why.
        let bad = |m: String| crate::Error::format(path, m);
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(json_error(text, &e)))?;
        let Some(top) = doc.as_object() else {
            return Err(bad(
                "not a run file: the top level is not a JSON object".into()
            ));
        };
        match top.get("schema_version").map(|v| v.as_u64()) {
            Some(Some(v)) if v == u64::from(RUN_SCHEMA_VERSION) => {}
            Some(Some(v)) => {
                return Err(bad(format!(
                    "run file schema version {v}; this build reads version {RUN_SCHEMA_VERSION} only"
                )));
            }
            Some(None) => return Err(bad("schema_version is not a version number".into())),
            None => return Err(bad("no schema_version: not a tileattn run file".into())),
        }
        let run: RunFile = serde_json::from_str(text).map_err(|e| bad(json_error(text, &e)))?;
        run.check().map_err(bad)?;
        Ok(run)
    }

    /// Every time and rate of every measurement finite, times positive.
    fn check(&self) -> std::result::Result<(), String> {
        for (i, m) in self.measurements.iter().enumerate() {
            let s = &m.summary;
            let named = [
                ("median_ms", s.median_ms),
                ("ci_low_ms", s.ci_low_ms),
                ("ci_high_ms", s.ci_high_ms),
                ("mean_ms", s.mean_ms),
                ("min_ms", s.min_ms),
                ("max_ms", s.max_ms),
            ];
            let what = |field: String, x: f64| {
                format!(
                    "measurement {i} ({} {:?}): {field} is {x}; times must be positive and finite",
                    m.implementation, m.problem
                )
            };
            if let Some((f, x)) = named
                .into_iter()
                .find(|(_, x)| !(x.is_finite() && *x > 0.0))
            {
                return Err(what(format!("summary.{f}"), x));
            }
            if let Some((j, &x)) = m
                .samples_ms
                .iter()
                .enumerate()
                .find(|(_, x)| !(x.is_finite() && **x > 0.0))
            {
                return Err(what(format!("sample {j}"), x));
            }
            if m.samples_ms.len() < 2 {
                return Err(format!(
                    "measurement {i} ({} {:?}): {} sample(s); a measurement has at least 2",
                    m.implementation,
                    m.problem,
                    m.samples_ms.len()
                ));
            }
            let rates = [
                ("stddev_ms", s.stddev_ms),
                ("flops", m.flops),
                ("bytes", m.bytes),
                ("tflops", m.tflops),
                ("gbs", m.gbs),
            ];
            if let Some((f, x)) = rates.into_iter().find(|(_, x)| !x.is_finite()) {
                return Err(what(f.into(), x));
            }
        }
        Ok(())
    }

    /// Write the run as pretty JSON, atomically.
    pub fn save(&self, path: &Path) -> crate::Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| crate::Error::format(path, format!("serializing the run: {e}")))?;
        crate::fsutil::write_atomic(path, text.as_bytes())
    }
}

/// A JSON error in words that say what is wrong with the file: cut short,
/// or a number JSON cannot hold where a NaN or an infinity was written.
pub(crate) fn json_error(text: &str, e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => format!("the JSON ends early (truncated file?): {e}"),
        Category::Syntax => {
            // serde_json's line and column are 1-based, the column in bytes;
            // a minus sign is consumed before the error, so step back over it.
            let line = text.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
            let mut start = e.column().saturating_sub(1);
            if start > 0 && line.as_bytes().get(start - 1) == Some(&b'-') {
                start -= 1;
            }
            let at = line.get(start..).unwrap_or("");
            match ["NaN", "-NaN", "Infinity", "-Infinity", "inf", "-inf"]
                .into_iter()
                .find(|t| at.starts_with(t))
            {
                Some(t) => format!(
                    "{t} at line {} column {}: a non-finite number, which JSON cannot hold \
                     and no valid measurement contains",
                    e.line(),
                    e.column()
                ),
                None if e.to_string().starts_with("number out of range") => {
                    format!("{e}: beyond any 64-bit float, so no time a run measured")
                }
                None => format!("not valid JSON: {e}"),
            }
        }
        Category::Data if e.to_string().contains("invalid type: null") => format!(
            "{e} (null is how a NaN or infinite number is written; no valid measurement has one)"
        ),
        _ => format!("not a valid file of this kind: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed_text() -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/h100/fa2.json");
        std::fs::read_to_string(path).unwrap()
    }

    /// The committed run with its first sample written as `raw` JSON text.
    fn with_first_sample(raw: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(&committed_text()).unwrap();
        v["measurements"][0]["samples_ms"][0] = "__MARK__".into();
        serde_json::to_string_pretty(&v)
            .unwrap()
            .replace("\"__MARK__\"", raw)
    }

    fn parse_err(text: &str) -> String {
        match RunFile::parse(Path::new("run.json"), text) {
            Err(e @ crate::Error::Format { .. }) => e.to_string(),
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    #[test]
    fn loads_the_committed_run() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/h100/fa2.json");
        let run = RunFile::load(&path).unwrap();
        assert_eq!((run.suite.as_str(), run.measurements.len()), ("fa2", 96));
    }

    #[test]
    fn malformed_run_files_are_rejected_with_the_reason() {
        let text = committed_text();
        let cases: Vec<(String, &str)> = vec![
            (
                text[..text.len() / 2].to_string(),
                "ends early (truncated file?)",
            ),
            (
                text.replacen("\"schema_version\": 1", "\"schema_version\": 2", 1),
                "schema version 2; this build reads version 1",
            ),
            (
                text.replacen("\"schema_version\": 1,", "", 1),
                "no schema_version",
            ),
            (with_first_sample("NaN"), "NaN at line"),
            (with_first_sample("-Infinity"), "-Infinity at line"),
            (with_first_sample("null"), "null is how a NaN"),
            (with_first_sample("-1.0"), "sample 0 is -1"),
            (with_first_sample("0"), "sample 0 is 0"),
            (with_first_sample("1e999"), "number out of range at line"),
            ("[1, 2]".into(), "top level is not a JSON object"),
            ("{\"schema_version\": 1}".into(), "missing field"),
        ];
        for (text, needle) in cases {
            let msg = parse_err(&text);
            assert!(msg.starts_with("run.json: "), "{msg}");
            assert!(msg.contains(needle), "`{needle}` not in: {msg}");
        }
    }

    #[test]
    fn a_measurement_needs_two_samples() {
        let mut v: serde_json::Value = serde_json::from_str(&committed_text()).unwrap();
        v["measurements"][3]["samples_ms"] = serde_json::json!([1.0]);
        let msg = parse_err(&v.to_string());
        assert!(
            msg.contains("measurement 3") && msg.contains("at least 2"),
            "{msg}"
        );
    }
}
