//! The tuning cache: which variant won the autotuner for a class of problems on
//! one GPU, driver and kernel build, so launches dispatch to it without tuning
//! again.
//!
//! # File format
//!
//! One JSON document, `schema_version` [`TUNE_SCHEMA_VERSION`], with one
//! section per build identity (GPU name, compute capability, driver version,
//! [`Registry::build_hash`] of the PTX). Each entry is keyed by a [`Bucket`]:
//!
//! ```json
//! {
//!   "schema_version": 1,
//!   "sections": [{
//!     "build": { "gpu_name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0",
//!                "driver_version": "12.8", "kernel_build": "3f0c…" },
//!     "entries": [{
//!       "bucket": { "dtype": "bf16", "causal": true, "head_dim": 128, "batch_heads_pow2": 32,
//!                   "seqlen_q_pow2": 4096, "seqlen_k_pow2": 4096, "gqa_group": 1 },
//!       "winner": { "variant": "v1_…", "median_ms": 1.234, "ci_low_ms": 1.229, "ci_high_ms": 1.240 },
//!       "runner_up": { "variant": "v1_…", "median_ms": 1.301, "distinguishable": true },
//!       "strategy": "exhaustive",
//!       "tuned_on": { "batch": 2, "heads_q": 16, "heads_kv": 16, "seqlen_q": 4096,
//!                     "seqlen_k": 4096, "head_dim": 128, "dtype": "bf16", "causal": true },
//!       "tuned_utc": "2026-05-21T09:30:00Z"
//!     }]
//!   }]
//! }
//! ```
//!
//! # Guarantees
//!
//! - A section of another GPU, driver or kernel build is never used for a
//!   lookup (load returns a notice saying so) and is written back untouched.
//! - A file that does not parse, has another schema version, or holds an
//!   impossible entry (non-finite or non-positive time, an entry in the wrong
//!   bucket) is an [`Error::Format`] telling the user to move or delete it, and
//!   is never overwritten: `save` reads the file again and refuses to replace
//!   anything it cannot parse.
//! - Saving is atomic ([`write_atomic`]) and merges into what is on disk by
//!   then, so a concurrent tuner's results are not lost either.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::device::DeviceInfo;
use crate::output::write_atomic;
use crate::problem::Problem;
use crate::problem_key::ProblemKey;
use crate::registry::{Registry, Variant};
use crate::{Error, Result};

/// Bumped on any change an older reader could misread, bucketing included.
pub const TUNE_SCHEMA_VERSION: u32 = 1;

/// What a tuning result is valid for: the same GPU model, driver and kernels.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BuildIdentity {
    pub gpu_name: String,
    /// `"9.0"` style, as in `runfile::Environment`.
    pub compute_capability: String,
    pub driver_version: String,
    /// [`Registry::build_hash`]: the same hash means the same PTX.
    pub kernel_build: String,
}

impl BuildIdentity {
    pub fn of(info: &DeviceInfo, registry: &Registry) -> BuildIdentity {
        BuildIdentity {
            gpu_name: info.name.clone(),
            compute_capability: format!(
                "{}.{}",
                info.compute_capability.0, info.compute_capability.1
            ),
            driver_version: info.driver_version_string(),
            kernel_build: registry.build_hash(),
        }
    }

    /// Names of the fields in which `self` differs from `other`.
    fn differences(&self, other: &BuildIdentity) -> Vec<&'static str> {
        [
            ("GPU", self.gpu_name != other.gpu_name),
            (
                "compute capability",
                self.compute_capability != other.compute_capability,
            ),
            ("driver", self.driver_version != other.driver_version),
            ("kernel build", self.kernel_build != other.kernel_build),
        ]
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect()
    }
}

/// The class of problems one tuning result stands for.
///
/// The variant's code is fixed by dtype, causality and head dim, so those are
/// exact. The shape is coarsened so nearby shapes share a result: the number of
/// (batch, query head) pairs and both sequence lengths are rounded up to powers
/// of two (a bucket `4096` holds 2049..=4096), because the grid and the
/// per-block loop length, which decide which tile wins, scale with them. The
/// GQA group size (query heads per K/V head) is exact: it changes how often
/// each K/V tile is reused from L2.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct Bucket {
    pub dtype: String,
    pub causal: bool,
    pub head_dim: u32,
    pub batch_heads_pow2: u64,
    pub seqlen_q_pow2: u64,
    pub seqlen_k_pow2: u64,
    pub gqa_group: u32,
}

impl Bucket {
    /// The bucket of a problem; `problem` should have passed `Problem::validate`.
    pub fn of(problem: &Problem) -> Bucket {
        Bucket {
            dtype: problem.dtype.name().to_string(),
            causal: problem.causal,
            head_dim: problem.head_dim,
            batch_heads_pow2: pow2_ceil(problem.batch as u64 * problem.heads_q as u64),
            seqlen_q_pow2: pow2_ceil(problem.seqlen_q as u64),
            seqlen_k_pow2: pow2_ceil(problem.seqlen_k as u64),
            // max(1): an unvalidated heads_kv of 0 must not divide by zero.
            gqa_group: problem.heads_q / problem.heads_kv.max(1),
        }
    }
}

impl std::fmt::Display for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{} d{} B·Hq≤{} Sq≤{} Sk≤{} group {}",
            self.dtype,
            if self.causal { " causal" } else { "" },
            self.head_dim,
            self.batch_heads_pow2,
            self.seqlen_q_pow2,
            self.seqlen_k_pow2,
            self.gqa_group
        )
    }
}

/// The smallest power of two ≥ `x` (1 for 0). Inputs come from `u32` fields or
/// a product of two, so only an unvalidated product above 2^63 saturates.
fn pow2_ceil(x: u64) -> u64 {
    x.checked_next_power_of_two().unwrap_or(u64::MAX)
}

/// How the autotuner searched.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Every valid variant timed to full precision.
    Exhaustive,
    /// Successive halving: cheap samples for all, more for the survivors.
    Halving,
}

/// The winning variant and its timing on `Entry::tuned_on`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Winner {
    pub variant: String,
    pub median_ms: f64,
    /// Confidence interval of the median.
    pub ci_low_ms: f64,
    pub ci_high_ms: f64,
}

/// The second-ranked variant.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunnerUp {
    pub variant: String,
    pub median_ms: f64,
    /// Whether the autotuner's test found the winner statistically faster
    /// than this variant; if not, either may be the faster one.
    pub distinguishable: bool,
}

/// One tuning result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// Must be `Bucket::of` the problem `tuned_on`.
    pub bucket: Bucket,
    pub winner: Winner,
    /// `None` when only one variant was valid.
    pub runner_up: Option<RunnerUp>,
    pub strategy: Strategy,
    /// The exact problem the timings were taken on; other problems in the
    /// bucket reuse its winner untimed.
    pub tuned_on: ProblemKey,
    /// RFC 3339 UTC ([`rfc3339_utc`](crate::utc::rfc3339_utc)).
    pub tuned_utc: String,
}

impl Entry {
    /// Why this entry cannot be a real tuning result, if it cannot.
    fn check(&self) -> std::result::Result<(), String> {
        let problem = Problem::from_key(&self.tuned_on)
            .map_err(|e| format!("entry for {}: tuned_on: {e}", self.bucket))?;
        let bucket = Bucket::of(&problem);
        if bucket != self.bucket {
            return Err(format!(
                "entry for {} was tuned on {problem}, which is in bucket {bucket}",
                self.bucket
            ));
        }
        self.check_names()
            .and_then(|()| self.check_times())
            .map_err(|m| format!("entry for {}: {m}", self.bucket))
    }

    fn check_names(&self) -> std::result::Result<(), String> {
        if self.winner.variant.is_empty() {
            return Err("no winner variant".into());
        }
        match &self.runner_up {
            Some(r) if r.variant == self.winner.variant => Err("runner-up is the winner".into()),
            _ => Ok(()),
        }
    }

    fn check_times(&self) -> std::result::Result<(), String> {
        let w = &self.winner;
        let times = [
            ("winner median", w.median_ms),
            ("winner CI low", w.ci_low_ms),
            ("winner CI high", w.ci_high_ms),
        ];
        let runner_up = self
            .runner_up
            .as_ref()
            .map(|r| ("runner-up median", r.median_ms));
        if let Some((what, t)) = times
            .into_iter()
            .chain(runner_up)
            .find(|(_, t)| !(t.is_finite() && *t > 0.0))
        {
            return Err(format!("{what} {t} ms is not a positive finite time"));
        }
        if !(w.ci_low_ms <= w.median_ms && w.median_ms <= w.ci_high_ms) {
            return Err(format!(
                "CI [{}, {}] ms does not contain the median {} ms",
                w.ci_low_ms, w.ci_high_ms, w.median_ms
            ));
        }
        Ok(())
    }
}

/// One build identity's entries.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Section {
    build: BuildIdentity,
    entries: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    schema_version: u32,
    sections: Vec<Section>,
}

/// Read only far enough to know whether the rest can be read.
#[derive(Deserialize)]
struct VersionProbe {
    schema_version: Option<u32>,
}

/// A tuning cache file, loaded for one build identity.
#[derive(Debug)]
pub struct TuneCache {
    path: PathBuf,
    identity: BuildIdentity,
    /// Every section of the file, foreign ones included, so a save loses none.
    sections: Vec<Section>,
    /// Buckets recorded since the last load or save: the only entries a save
    /// writes over what is on disk.
    recorded: Vec<Bucket>,
}

impl TuneCache {
    /// Load `path` for `identity`. A missing file is an empty cache. Returns
    /// notices about sections of other builds, which are ignored for lookups
    /// but kept; the caller prints them.
    pub fn load(
        path: impl Into<PathBuf>,
        identity: BuildIdentity,
    ) -> Result<(TuneCache, Vec<String>)> {
        let path = path.into();
        let sections = read_sections(&path)?.unwrap_or_default();
        let notices = foreign_notices(&path, &identity, &sections);
        let cache = TuneCache {
            path,
            identity,
            sections,
            recorded: Vec::new(),
        };
        Ok((cache, notices))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry for `problem`'s bucket tuned on this build, if any.
    pub fn lookup(&self, problem: &Problem) -> Option<&Entry> {
        find(&self.sections, &self.identity, &Bucket::of(problem))
    }

    /// Add or replace the entry for `entry.bucket` in this build's section.
    /// Written to disk by [`TuneCache::save`].
    pub fn record(&mut self, entry: Entry) -> Result<()> {
        entry.check().map_err(Error::Invalid)?;
        if !self.recorded.contains(&entry.bucket) {
            self.recorded.push(entry.bucket.clone());
        }
        upsert(&mut self.sections, &self.identity, entry);
        Ok(())
    }

    /// Write the cache atomically. The file is read again first: if it no
    /// longer parses the save is refused (it is never overwritten); if it
    /// changed, the entries recorded here are merged into it.
    pub fn save(&mut self) -> Result<()> {
        let mut sections = read_sections(&self.path)?.unwrap_or_else(|| self.sections.clone());
        for bucket in &self.recorded {
            if let Some(entry) = find(&self.sections, &self.identity, bucket) {
                upsert(&mut sections, &self.identity, entry.clone());
            }
        }
        let file = CacheFile {
            schema_version: TUNE_SCHEMA_VERSION,
            sections,
        };
        let mut json = serde_json::to_vec_pretty(&file)
            .map_err(|e| Error::format(&self.path, format!("cannot encode: {e}")))?;
        json.push(b'\n');
        write_atomic(&self.path, &json)?;
        self.sections = file.sections;
        self.recorded.clear();
        Ok(())
    }
}

/// The sections of the file at `path`, `None` if there is no file.
fn read_sections(path: &Path) -> Result<Option<Vec<Section>>> {
    match std::fs::read(path) {
        Ok(bytes) => parse(path, &bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<Section>> {
    let corrupt = |detail: String| {
        Error::format(
            path,
            format!(
                "not a usable tuning cache ({detail}). tileattn will not overwrite it: \
                 move or delete it to start a new cache"
            ),
        )
    };
    // The version first: a file from another schema gets that message, not
    // whatever field its layout happens to trip over.
    let probe: VersionProbe = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    match probe.schema_version {
        Some(TUNE_SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(corrupt(format!(
                "schema version {v}; this tileattn reads version {TUNE_SCHEMA_VERSION}"
            )));
        }
        None => return Err(corrupt("no schema_version".into())),
    }
    let file: CacheFile = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    for (i, section) in file.sections.iter().enumerate() {
        if file.sections[..i].iter().any(|s| s.build == section.build) {
            return Err(corrupt(format!(
                "two sections for {}",
                section.build.gpu_name
            )));
        }
        for (j, entry) in section.entries.iter().enumerate() {
            entry.check().map_err(&corrupt)?;
            if section.entries[..j]
                .iter()
                .any(|e| e.bucket == entry.bucket)
            {
                return Err(corrupt(format!("two entries for {}", entry.bucket)));
            }
        }
    }
    Ok(file.sections)
}

fn find<'a>(
    sections: &'a [Section],
    identity: &BuildIdentity,
    bucket: &Bucket,
) -> Option<&'a Entry> {
    sections
        .iter()
        .find(|s| s.build == *identity)?
        .entries
        .iter()
        .find(|e| e.bucket == *bucket)
}

fn upsert(sections: &mut Vec<Section>, identity: &BuildIdentity, entry: Entry) {
    let i = match sections.iter().position(|s| s.build == *identity) {
        Some(i) => i,
        None => {
            sections.push(Section {
                build: identity.clone(),
                entries: Vec::new(),
            });
            sections.len() - 1
        }
    };
    let entries = &mut sections[i].entries;
    match entries.iter_mut().find(|e| e.bucket == entry.bucket) {
        Some(old) => *old = entry,
        None => entries.push(entry),
    }
}

fn foreign_notices(path: &Path, identity: &BuildIdentity, sections: &[Section]) -> Vec<String> {
    sections
        .iter()
        .filter(|s| s.build != *identity)
        .map(|s| {
            let b = &s.build;
            format!(
                "{}: ignoring {} tuned entr{} for another {} ({}, cc {}, driver {}, kernel build {}); \
                 they stay in the file",
                path.display(),
                s.entries.len(),
                if s.entries.len() == 1 { "y" } else { "ies" },
                b.differences(identity).join(", "),
                b.gpu_name,
                b.compute_capability,
                b.driver_version,
                b.kernel_build.get(..12).unwrap_or(&b.kernel_build),
            )
        })
        .collect()
}

/// Where the tuning cache lives unless the caller says otherwise:
/// `$TILEATTN_TUNE_CACHE`, else `$XDG_CACHE_HOME/tileattn/tune.json`, else
/// `~/.cache/tileattn/tune.json`.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TILEATTN_TUNE_CACHE") {
        return p.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| ".".into());
    base.join("tileattn").join("tune.json")
}

/// Why a variant was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// The tuning cache's winner for this problem's bucket on this build.
    Tuned,
    /// `Registry::default_for`: no usable cache entry.
    Heuristic,
}

/// The variant to launch for `problem`: the cached winner if there is one
/// whose variant still exists in `registry` and serves the problem, else the
/// default heuristic for a device of `sm_count` SMs and compute capability
/// `cc` (`None`: the emulator). `None` only if no variant serves the problem.
pub fn choose_variant(
    registry: &Registry,
    cache: Option<&TuneCache>,
    problem: &Problem,
    (sm_count, cc): (u32, Option<u32>),
) -> Option<(&'static Variant, Choice)> {
    let tuned = cache
        .and_then(|c| c.lookup(problem))
        .and_then(|e| registry.find(&e.winner.variant))
        .filter(|v| v.serves(problem) && v.runs_on(cc));
    match tuned {
        Some(v) => Some((v, Choice::Tuned)),
        None => registry
            .default_for(problem, sm_count, cc)
            .map(|v| (v, Choice::Heuristic)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use tileattn_kernels::{Arch, AttnParams, DType, Family, TileConfig};

    use super::*;
    use crate::registry::Probes;
    use crate::utc::rfc3339_utc;

    unsafe fn no_kernel(_: &AttnParams) {}

    const fn variant(name: &'static str, dtype: DType, block_m: usize) -> Variant {
        Variant {
            name,
            dtype,
            causal: true,
            tile: TileConfig {
                family: Family::V1,
                head_dim: 64,
                block_m,
                block_n: 64,
                warps: 4,
                stages: 2,
            },
            archs: &[Arch::Sm80],
            cpu_kernel: no_kernel,
        }
    }

    static VARIANTS: [Variant; 3] = [
        variant("v1_small", DType::F16, 64),
        variant("v1_big", DType::F16, 128),
        variant("v1_bf16", DType::Bf16, 128),
    ];

    fn registry() -> Registry {
        Registry {
            variants: &VARIANTS,
            modules: &[],
            probes: &Probes {
                clock: "clock",
                copy: "copy",
                mma_bf16: "mma",
            },
        }
    }

    fn identity(gpu: &str, build: &str) -> BuildIdentity {
        BuildIdentity {
            gpu_name: gpu.into(),
            compute_capability: "9.0".into(),
            driver_version: "12.8".into(),
            kernel_build: build.into(),
        }
    }

    fn h100() -> BuildIdentity {
        identity("NVIDIA H100 80GB HBM3", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    }

    fn problem(seqlen: u32) -> Problem {
        Problem::new(2, 8, 8, seqlen, seqlen, 64, DType::F16, true)
    }

    fn entry(p: &Problem, winner: &str, median_ms: f64) -> Entry {
        Entry {
            bucket: Bucket::of(p),
            winner: Winner {
                variant: winner.into(),
                median_ms,
                ci_low_ms: median_ms * 0.99,
                ci_high_ms: median_ms * 1.01,
            },
            runner_up: Some(RunnerUp {
                variant: "v1_second".into(),
                median_ms: median_ms * 1.2,
                distinguishable: true,
            }),
            strategy: Strategy::Exhaustive,
            tuned_on: p.key(),
            tuned_utc: rfc3339_utc(UNIX_EPOCH + Duration::from_secs(1_779_355_800)),
        }
    }

    /// A saved cache file holding one entry for `problem(1024)`, and its bytes.
    fn saved_cache(dir: &Path) -> (PathBuf, Vec<u8>) {
        let path = dir.join("tune.json");
        let (mut cache, _) = TuneCache::load(&path, h100()).unwrap();
        cache.record(entry(&problem(1024), "v1_big", 0.5)).unwrap();
        cache.save().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes)
    }

    fn file_names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn buckets_round_shapes_up_to_powers_of_two() {
        let b = Bucket::of(&problem(1000));
        assert_eq!(
            (b.seqlen_q_pow2, b.seqlen_k_pow2, b.batch_heads_pow2),
            (1024, 1024, 16)
        );
        assert_eq!(b, Bucket::of(&problem(1024)));
        assert_ne!(b, Bucket::of(&problem(1025)));
        // Batch and heads trade off: 2·8 and 4·4 launch the same number of blocks.
        let p = problem(1000);
        assert_eq!(
            b,
            Bucket::of(&Problem {
                batch: 4,
                heads_q: 4,
                heads_kv: 4,
                ..p
            })
        );
        // The GQA group is exact.
        let gqa = Bucket::of(&Problem { heads_kv: 2, ..p });
        assert_eq!(gqa.gqa_group, 4);
        assert_ne!(gqa, b);
        assert_eq!(pow2_ceil(0), 1);
        assert_eq!(pow2_ceil(1), 1);
        assert_eq!(pow2_ceil(u32::MAX as u64), 1 << 32);
        assert_eq!(
            b.to_string(),
            "f16 causal d64 B·Hq≤16 Sq≤1024 Sk≤1024 group 1"
        );
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tune.json");
        let (mut cache, notices) = TuneCache::load(&path, h100()).unwrap();
        assert!(notices.is_empty() && cache.lookup(&problem(1024)).is_none());
        let e = entry(&problem(1024), "v1_big", 0.5);
        cache.record(e.clone()).unwrap();
        let mut halving = entry(&problem(4096), "v1_small", 3.0);
        halving.runner_up = None;
        halving.strategy = Strategy::Halving;
        cache.record(halving.clone()).unwrap();
        cache.save().unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"schema_version\": 1") && text.contains("\"halving\""),
            "{text}"
        );
        let (loaded, notices) = TuneCache::load(&path, h100()).unwrap();
        assert!(notices.is_empty());
        assert_eq!(loaded.lookup(&problem(1024)), Some(&e));
        // Another shape of the same bucket reuses the result.
        assert_eq!(loaded.lookup(&problem(700)), Some(&e));
        assert_eq!(loaded.lookup(&problem(4000)), Some(&halving));
        assert_eq!(loaded.lookup(&problem(2048)), None);
        assert_eq!(e.tuned_utc, "2026-05-21T09:30:00Z");
    }

    /// Tile choice does not depend on the inputs' values: a problem on bf16
    /// values is in its plain problem's bucket, finds that entry, and an entry
    /// tuned on it is that bucket's entry (and says what it was tuned on).
    #[test]
    fn operand_values_share_the_plain_problems_bucket() {
        use crate::operand_values::OperandValues;
        let dir = tempfile::tempdir().unwrap();
        let (path, bytes) = saved_cache(dir.path());
        assert!(!String::from_utf8(bytes).unwrap().contains("operand_values"));
        let plain = problem(1024);
        let on_bf16 = plain.with_operand_values(OperandValues::Bf16);
        assert_ne!(plain.key(), on_bf16.key());
        assert_eq!(Bucket::of(&on_bf16), Bucket::of(&plain));
        let (mut cache, _) = TuneCache::load(&path, h100()).unwrap();
        let hit = cache.lookup(&on_bf16).expect("the plain problem's entry");
        assert_eq!(hit.tuned_on, plain.key());
        let reg = registry();
        assert_eq!(
            choose_variant(&reg, Some(&cache), &on_bf16, (132, Some(90))).map(|(v, c)| (v.name, c)),
            Some(("v1_big", Choice::Tuned))
        );

        cache.record(entry(&on_bf16, "v1_small", 0.4)).unwrap();
        cache.save().unwrap();
        let (cache, _) = TuneCache::load(&path, h100()).unwrap();
        assert_eq!(cache.sections[0].entries.len(), 1);
        let e = cache.lookup(&plain).unwrap();
        assert_eq!(
            (e.winner.variant.as_str(), &e.tuned_on),
            ("v1_small", &on_bf16.key())
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("\"operand_values\": \"bf16\"").count(), 1);
    }

    /// Tuning caches from before operand values load, and a save writes them
    /// back byte for byte (on a copy: the committed files stay as they are).
    #[test]
    fn committed_caches_load_and_write_back_unchanged() {
        let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results");
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "h100/tune-cache-fa2.json",
            "h200/tune-cache-fa2.json",
            "h200/v2/tune-cache.json",
            "h200/v2/parity-retuned/tune-cache.json",
            "h200/protocol-v2/tune-cache.json",
            "h200/ratchet/tune-cache-worse.json",
            "h200/ratchet/tune-cache-worse-v2.json",
        ] {
            let bytes = std::fs::read(results.join(name)).unwrap();
            let copy = dir.path().join("tune.json");
            std::fs::write(&copy, &bytes).unwrap();
            let (mut cache, _) = TuneCache::load(&copy, h100()).unwrap();
            assert!(!cache.sections.is_empty(), "{name}");
            cache.save().unwrap();
            assert_eq!(std::fs::read(&copy).unwrap(), bytes, "{name}");
        }
    }

    #[test]
    fn recording_replaces_the_entry_of_a_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved_cache(dir.path());
        let (mut cache, _) = TuneCache::load(&path, h100()).unwrap();
        cache
            .record(entry(&problem(1000), "v1_small", 0.4))
            .unwrap();
        cache.save().unwrap();
        let (cache, _) = TuneCache::load(&path, h100()).unwrap();
        assert_eq!(
            cache.lookup(&problem(1024)).unwrap().winner.variant,
            "v1_small"
        );
        assert_eq!(cache.sections[0].entries.len(), 1);
    }

    #[test]
    fn saves_atomically_and_ignores_stale_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let (path, bytes) = saved_cache(dir.path());
        assert_eq!(file_names(dir.path()), ["tune.json"]);
        // What an interrupted save would leave: a half-written temporary.
        let stale = dir.path().join(".tmpAbC123");
        std::fs::write(&stale, &bytes[..bytes.len() / 2]).unwrap();
        let (mut cache, notices) = TuneCache::load(&path, h100()).unwrap();
        assert!(notices.is_empty());
        assert!(cache.lookup(&problem(1024)).is_some());
        cache.record(entry(&problem(64), "v1_small", 0.01)).unwrap();
        cache.save().unwrap();
        // The stale file is not ours to delete; ours left nothing behind.
        assert_eq!(file_names(dir.path()), [".tmpAbC123", "tune.json"]);
    }

    /// Corrupt variants of a good cache file, and what the error must name.
    fn corruptions(good: &[u8]) -> Vec<(&'static str, Vec<u8>, &'static str)> {
        let text = String::from_utf8(good.to_vec()).unwrap();
        let edit = |from: &str, to: &str| {
            assert!(text.contains(from), "{from}");
            text.replacen(from, to, 1).into_bytes()
        };
        vec![
            ("truncated", good[..good.len() / 2].to_vec(), "EOF"),
            ("empty", Vec::new(), "EOF"),
            ("not JSON", b"hello".to_vec(), "expected"),
            (
                "wrong schema",
                edit("\"schema_version\": 1", "\"schema_version\": 2"),
                "schema version 2",
            ),
            (
                "no schema",
                edit("\"schema_version\": 1,", ""),
                "no schema_version",
            ),
            (
                "NaN literal",
                edit("\"median_ms\": 0.5", "\"median_ms\": NaN"),
                "expected value",
            ),
            (
                "NaN as null",
                edit("\"median_ms\": 0.5", "\"median_ms\": null"),
                "null",
            ),
            (
                "negative",
                edit("\"median_ms\": 0.5", "\"median_ms\": -0.5"),
                "winner median -0.5",
            ),
            (
                "wrong bucket",
                edit("\"seqlen_q\": 1024", "\"seqlen_q\": 4096"),
                "which is in bucket",
            ),
        ]
    }

    #[test]
    fn corrupt_files_give_clear_errors_and_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let (path, good) = saved_cache(dir.path());
        for (what, bytes, needle) in corruptions(&good) {
            std::fs::write(&path, &bytes).unwrap();
            let e = TuneCache::load(&path, h100()).unwrap_err();
            let msg = e.to_string();
            assert!(matches!(e, Error::Format { .. }), "{what}: {msg}");
            assert!(
                msg.contains("tune.json") && msg.contains("move or delete"),
                "{what}: {msg}"
            );
            assert!(msg.contains(needle), "{what}: {msg}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}");
        }
    }

    #[test]
    fn a_save_never_replaces_a_file_corrupted_after_load() {
        let dir = tempfile::tempdir().unwrap();
        let (path, good) = saved_cache(dir.path());
        for (what, bytes, _) in corruptions(&good) {
            std::fs::write(&path, &good).unwrap();
            let (mut cache, _) = TuneCache::load(&path, h100()).unwrap();
            cache.record(entry(&problem(64), "v1_small", 0.01)).unwrap();
            std::fs::write(&path, &bytes).unwrap();
            let e = cache.save().unwrap_err();
            assert!(e.to_string().contains("move or delete"), "{what}: {e}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}");
        }
    }

    #[test]
    fn foreign_sections_are_ignored_with_a_notice_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved_cache(dir.path());
        let a100 = BuildIdentity {
            gpu_name: "NVIDIA A100-SXM4-80GB".into(),
            compute_capability: "8.0".into(),
            ..h100()
        };
        let (mut cache, notices) = TuneCache::load(&path, a100.clone()).unwrap();
        assert_eq!(notices.len(), 1);
        let n = &notices[0];
        assert!(
            n.contains("ignoring 1 tuned entry for another GPU, compute capability"),
            "{n}"
        );
        assert!(
            n.contains("NVIDIA H100") && n.contains("they stay in the file"),
            "{n}"
        );
        assert!(cache.lookup(&problem(1024)).is_none());
        cache
            .record(entry(&problem(1024), "v1_small", 0.9))
            .unwrap();
        cache.save().unwrap();

        let (h, notices) = TuneCache::load(&path, h100()).unwrap();
        assert!(notices[0].contains("NVIDIA A100"), "{notices:?}");
        assert_eq!(h.lookup(&problem(1024)).unwrap().winner.variant, "v1_big");
        let (a, _) = TuneCache::load(&path, a100).unwrap();
        assert_eq!(a.lookup(&problem(1024)).unwrap().winner.variant, "v1_small");

        // A new kernel build on the same GPU is foreign too.
        let rebuilt = identity("NVIDIA H100 80GB HBM3", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        let (cache, notices) = TuneCache::load(&path, rebuilt).unwrap();
        assert!(cache.lookup(&problem(1024)).is_none());
        assert!(
            notices
                .iter()
                .any(|n| n.contains("another kernel build (NVIDIA H100")
                    && n.contains("kernel build aaaaaaaaaaaa)")),
            "{notices:?}"
        );
    }

    #[test]
    fn concurrent_saves_merge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tune.json");
        let (mut first, _) = TuneCache::load(&path, h100()).unwrap();
        let (mut second, _) = TuneCache::load(&path, h100()).unwrap();
        first.record(entry(&problem(1024), "v1_big", 0.5)).unwrap();
        second
            .record(entry(&problem(4096), "v1_small", 3.0))
            .unwrap();
        first.save().unwrap();
        second.save().unwrap();
        let (cache, _) = TuneCache::load(&path, h100()).unwrap();
        assert!(cache.lookup(&problem(1024)).is_some() && cache.lookup(&problem(4096)).is_some());
    }

    #[test]
    fn impossible_entries_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cache, _) = TuneCache::load(dir.path().join("t.json"), h100()).unwrap();
        let good = entry(&problem(1024), "v1_big", 0.5);
        let mut nan = good.clone();
        nan.winner.median_ms = f64::NAN;
        let mut outside = good.clone();
        outside.winner.ci_low_ms = 0.6;
        let mut moved = good.clone();
        moved.tuned_on.seqlen_q = 9000;
        let mut same = good.clone();
        same.runner_up.as_mut().unwrap().variant = "v1_big".into();
        for (bad, needle) in [
            (nan, "not a positive finite time"),
            (outside, "does not contain the median"),
            (moved, "which is in bucket"),
            (same, "runner-up is the winner"),
        ] {
            let e = cache.record(bad).unwrap_err();
            assert!(matches!(&e, Error::Invalid(m) if m.contains(needle)), "{e}");
        }
        assert!(cache.sections.is_empty() && cache.recorded.is_empty());
    }

    #[test]
    fn dispatch_prefers_a_valid_cache_hit() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry();
        let p = problem(1024);
        let choose = |cache: Option<&TuneCache>, p: &Problem| {
            choose_variant(&reg, cache, p, (132, Some(90))).map(|(v, c)| (v.name, c))
        };
        let heuristic = reg.default_for(&p, 132, Some(90)).unwrap().name;
        assert_eq!(choose(None, &p), Some((heuristic, Choice::Heuristic)));

        let (mut cache, _) = TuneCache::load(dir.path().join("t.json"), h100()).unwrap();
        assert_eq!(
            choose(Some(&cache), &p),
            Some((heuristic, Choice::Heuristic))
        );
        let tuned = if heuristic == "v1_big" {
            "v1_small"
        } else {
            "v1_big"
        };
        cache.record(entry(&p, tuned, 0.5)).unwrap();
        assert_eq!(choose(Some(&cache), &p), Some((tuned, Choice::Tuned)));

        // A name this build no longer has, or a variant that cannot compute
        // the problem (a hand-edited file), falls back to the heuristic.
        for stale in ["v1_gone", "v1_bf16"] {
            cache.record(entry(&p, stale, 0.5)).unwrap();
            assert_eq!(
                choose(Some(&cache), &p),
                Some((heuristic, Choice::Heuristic)),
                "{stale}"
            );
        }
        let nothing_serves = Problem { head_dim: 128, ..p };
        assert_eq!(choose(Some(&cache), &nothing_serves), None);
    }
}
