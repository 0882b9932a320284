//! The versioned run file: one JSON document per benchmark or tuning run, with
//! the environment it ran in and every measurement's summary and raw samples.
//! Reports, figures and the ratchet are all computed from it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::problem_key::ProblemKey;

mod load;

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

/// L2 state each sample started from.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum CacheMode {
    /// L2 flushed before every sample (the default).
    Cold,
    /// No flush: back-to-back samples, inputs may be resident in L2.
    Hot,
}

impl CacheMode {
    pub fn name(self) -> &'static str {
        match self {
            CacheMode::Cold => "cold",
            CacheMode::Hot => "hot",
        }
    }
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

/// How a measurement's warm-up ended ([`crate::timing::warmup`]): the GPU is
/// run through the sample sequence until its SM clock has settled into the
/// regime of sustained load. Written by both tileattn and the torch baseline
/// script, in the same form. Absent from runs made before the settled warm-up.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Warmup {
    /// Wall time from the first warm-up sample to the end of the last batch.
    pub ms: f64,
    /// Samples run and thrown away.
    pub samples: u64,
    /// The last two batches' median clocks agreed (else the maximum time ran out).
    pub settled: bool,
    /// Median probed SM clock of the last batch (None: no probe reading).
    pub clock_mhz: Option<f64>,
    /// Every batch, in order: the clock's path to where it settled.
    pub batches: Vec<WarmupBatch>,
}

/// One batch of a warm-up.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WarmupBatch {
    /// Time since the warm-up began when this batch's readings were in.
    pub end_ms: f64,
    pub samples: u64,
    /// Median probed SM clock of the batch (None: no probe reading).
    pub clock_mhz: Option<f64>,
}

/// Output of a measured implementation compared against the f64 reference.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Correctness {
    /// ‖out − ref‖ / ‖ref‖ (NaN if any output was NaN). JSON has no NaN, so
    /// serde_json writes it as `null`; reading `null` back as NaN keeps such a
    /// (failed) verdict loadable, where any other null is rejected.
    #[serde(deserialize_with = "nan_if_null")]
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
    /// The warm-up before the samples (None in runs older than the settled warm-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Warmup>,
    pub correctness: Option<Correctness>,
}

impl Measurement {
    /// What the timing protocol noticed, for reports and tables: samples at a
    /// low clock, a warm-up whose clock had not settled.
    pub fn protocol_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(c) = self.clock.as_ref().filter(|c| c.low_clock_samples > 0) {
            notes.push(format!("{} low-clock samples", c.low_clock_samples));
        }
        if let Some(w) = self.warmup.as_ref().filter(|w| !w.settled) {
            notes.push(format!(
                "clock still moving after {:.0} ms of warm-up",
                w.ms
            ));
        }
        notes
    }
}

/// serde: a JSON `null` where an `f64` belongs reads as NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl RunFile {
    /// Write the run as pretty JSON, atomically.
    pub fn save(&self, path: &Path) -> crate::Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| crate::Error::format(path, format!("serializing the run: {e}")))?;
        crate::output::write_atomic(path, text.as_bytes())
    }
}

/// Path of a committed H100 run (`results/h100/NAME`): the tests' fixture.
#[cfg(test)]
pub(crate) fn committed_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../results/h100")
        .join(name)
}

/// That run, loaded.
#[cfg(test)]
pub(crate) fn committed_run(name: &str) -> RunFile {
    RunFile::load(&committed_path(name)).expect("a committed run loads")
}

/// A committed run of the H200 ratchet demonstration
/// (`results/h200/ratchet/NAME`: two runs of one build, one on worse variants).
#[cfg(test)]
pub(crate) fn committed_ratchet_run(name: &str) -> RunFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../results/h200/ratchet")
        .join(name);
    RunFile::load(&path).expect("a committed H200 ratchet run loads")
}
