//! The variant of a problem, chosen by [`dispatch::pick_variant`], as the CLI
//! chooses it: the caller's, else the tuning cache's winner, else the
//! default heuristic. On a GPU each choice is remembered per problem, because
//! consulting the cache reads the file and hashes this build's PTX, far more
//! than a launch may cost; a change to the cache file (its path or its
//! modification time) forgets them all.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use pyo3::prelude::*;
use tileattn::host::device::Device;
use tileattn::host::dispatch::{self, Pick, Rule};
use tileattn::host::problem::Problem;
use tileattn::host::registry::Variant;
use tileattn::host::{Result, tune_cache};
use tileattn::kernels::DType;

use crate::errors::guarded;
use crate::{devices, shapes};

#[derive(Hash, PartialEq, Eq)]
struct Key {
    ordinal: usize,
    /// batch, heads_q, heads_kv, seqlen_q, seqlen_k, head_dim.
    shape: [u32; 6],
    dtype: DType,
    causal: bool,
    named: Option<String>,
}

/// The tuning cache file the choices came from.
type Stamp = (PathBuf, Option<SystemTime>);

struct Memo {
    stamp: Stamp,
    choices: HashMap<Key, (&'static Variant, Rule)>,
}

static MEMO: Mutex<Option<Memo>> = Mutex::new(None);

/// The variant for `p` on GPU `ordinal` (`device`), `named` if given.
pub fn on_gpu(device: &Device, ordinal: usize, p: &Problem, named: Option<&str>) -> Result<Pick> {
    let path = tune_cache::default_path();
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    let stamp = (path, modified);
    let key = Key {
        ordinal,
        shape: [
            p.batch, p.heads_q, p.heads_kv, p.seqlen_q, p.seqlen_k, p.head_dim,
        ],
        dtype: p.dtype,
        causal: p.causal,
        named: named.map(str::to_string),
    };
    // A panic is caught at the boundary (errors::guarded); the map it may
    // have left behind holds whole entries only.
    let mut memo = MEMO.lock().unwrap_or_else(PoisonError::into_inner);
    let memo = match &mut *memo {
        Some(m) if m.stamp == stamp => m,
        stale => stale.insert(Memo {
            stamp,
            choices: HashMap::new(),
        }),
    };
    if let Some(&(variant, rule)) = memo.choices.get(&key) {
        return Ok(Pick {
            variant,
            rule,
            notices: Vec::new(),
        });
    }
    let pick = dispatch::pick_variant(
        &device.registry(),
        Some(&device.info),
        p,
        named,
        &memo.stamp.0,
    )?;
    memo.choices.insert(key, (pick.variant, pick.rule));
    Ok(pick)
}

/// The variant for `p` on the CPU emulator (no tuning cache applies).
pub fn on_emulator(p: &Problem, named: Option<&str>) -> Result<Pick> {
    dispatch::pick_variant(
        &tileattn::registry(),
        None,
        p,
        named,
        &tune_cache::default_path(),
    )
}

/// Forget every choice (the tuning cache was just written).
pub fn forget() {
    *MEMO.lock().unwrap_or_else(PoisonError::into_inner) = None;
}

/// The variant `attention` would run for these shapes on GPU `device` (None:
/// the CPU emulator), the rule that chose it, and the tuning cache's notices.
#[pyfunction]
#[pyo3(signature = (device, q, k, v, dtype, causal, variant))]
#[allow(clippy::too_many_arguments)]
pub fn variant_for(
    device: Option<usize>,
    q: [u64; 4],
    k: [u64; 4],
    v: [u64; 4],
    dtype: String,
    causal: bool,
    variant: Option<String>,
) -> PyResult<(&'static str, &'static str, Vec<String>)> {
    guarded(|| {
        let p = shapes::problem([q, k, v], shapes::dtype(&dtype)?, causal, None)?;
        let chosen = match device {
            Some(ordinal) => on_gpu(&*devices::open(ordinal)?, ordinal, &p, variant.as_deref())?,
            None => on_emulator(&p, variant.as_deref())?,
        };
        Ok((chosen.variant.name, chosen.rule.describe(), chosen.notices))
    })
}
