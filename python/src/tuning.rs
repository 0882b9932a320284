//! `tileattn tune` for one problem from Python: every valid variant verified,
//! timed and ranked on this GPU, the winner recorded in the same tuning cache
//! file the CLI reads and writes, with the CLI's default timing protocol.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::prelude::*;
use tileattn::host::Error;
use tileattn::host::output::FilePlan;
use tileattn::host::timing::{Timer, TimingConfig};
use tileattn::host::tune::TuneConfig;
use tileattn::host::tune_cache::{self, BuildIdentity, Strategy, TuneCache};

use crate::errors::guarded;
use crate::{choice, devices, shapes};

/// Tune the problem of these shapes on GPU `device` and record its winner in
/// `cache` (default: the CLI's, `$TILEATTN_TUNE_CACHE` else
/// `~/.cache/tileattn/tune.json`). Returns the result as `tileattn tune
/// --json` writes it, and the tuning cache's notices.
#[pyfunction]
#[pyo3(signature = (device, q, k, v, dtype, causal, strategy, budget_s, cache))]
#[allow(clippy::too_many_arguments)]
pub fn tune(
    py: Python<'_>,
    device: usize,
    q: [u64; 4],
    k: [u64; 4],
    v: [u64; 4],
    dtype: String,
    causal: bool,
    strategy: String,
    budget_s: Option<f64>,
    cache: Option<PathBuf>,
) -> PyResult<(String, Vec<String>)> {
    // Tuning takes seconds to minutes: let other Python threads run meanwhile.
    let result = py.detach(|| {
        guarded(|| {
            let p = shapes::problem([q, k, v], shapes::dtype(&dtype)?, causal, None)?;
            let strategy = match strategy.as_str() {
                "exhaustive" => Strategy::Exhaustive,
                "halving" => Strategy::Halving,
                s => {
                    return Err(Error::Invalid(format!(
                        "strategy `{s}`: expected exhaustive or halving"
                    )));
                }
            };
            let budget = budget_s.map(positive_seconds).transpose()?;
            let path = cache.unwrap_or_else(tune_cache::default_path);
            FilePlan::new().update(&path)?;
            let gpu = devices::open(device)?;
            let registry = gpu.registry();
            let (mut cache, notices) =
                TuneCache::load(&path, BuildIdentity::of(&gpu.info, &registry))?;
            let cfg = TuneConfig {
                strategy,
                budget,
                timing: TimingConfig::default(),
                family: None,
                seed: 1,
            };
            let mut timer = Timer::new(&gpu)?;
            let tuned = tileattn::host::tune::tune(&mut timer, &registry, &p, &cfg, &|_, _, _| {})?;
            if let Some(entry) = tuned.cache_entry(&p) {
                cache.record(entry)?;
                cache.save()?;
                choice::forget();
            }
            let json = serde_json::to_string(&tuned)
                .map_err(|e| Error::Invalid(format!("serializing JSON: {e}")))?;
            Ok((json, notices))
        })
    })?;
    Ok(result)
}

/// `--budget`'s rule: a positive, finite number of seconds.
fn positive_seconds(s: f64) -> tileattn::host::Result<Duration> {
    (s.is_finite() && s > 0.0)
        .then(|| Duration::try_from_secs_f64(s).ok())
        .flatten()
        .ok_or_else(|| {
            Error::Invalid(format!(
                "budget must be a positive number of seconds, got {s}"
            ))
        })
}
