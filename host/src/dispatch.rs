//! Which variant computes a problem: the one place that choice is made, for
//! the command line and every other front end alike.
//!
//! In order: the variant the caller names (it must compute the problem); the
//! tuning cache's winner for this GPU and kernel build
//! ([`choose_variant`]); the documented default heuristic
//! ([`Registry::default_for`]). Without a device (the CPU emulator) no cache
//! applies.

use std::path::Path;

use crate::device::DeviceInfo;
use crate::problem::Problem;
use crate::registry::{Registry, Variant};
use crate::tune_cache::{BuildIdentity, Choice, TuneCache, choose_variant};
use crate::{Error, Result};

/// The rule that chose a variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The caller named it.
    Named,
    /// The tuning cache's winner for the problem's bucket.
    Tuned,
    /// The default heuristic: nothing tuned for this shape.
    Heuristic,
}

impl Rule {
    /// How the command line explains the choice.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Named => "named",
            Rule::Tuned => "tuning cache",
            Rule::Heuristic => "default heuristic: not tuned for this shape",
        }
    }
}

/// A variant chosen for a problem.
#[derive(Debug)]
pub struct Pick {
    pub variant: &'static Variant,
    pub rule: Rule,
    /// What loading the tuning cache noticed (sections of other GPUs or
    /// builds, left alone), for the user to read.
    pub notices: Vec<String>,
}

/// The variant of `registry` that computes `problem` on `device` (`None`: the
/// CPU emulator): `named` if given, else the winner in the tuning cache at
/// `cache`, else the default heuristic.
pub fn pick_variant(
    registry: &Registry,
    device: Option<&DeviceInfo>,
    problem: &Problem,
    named: Option<&str>,
    cache: &Path,
) -> Result<Pick> {
    if let Some(name) = named {
        let v = registry.find(name).ok_or_else(|| {
            Error::Invalid(format!("no variant `{name}` (see `tileattn variants`)"))
        })?;
        if !v.serves(problem) {
            return Err(Error::Invalid(format!("{name} does not compute {problem}")));
        }
        return Ok(Pick {
            variant: v,
            rule: Rule::Named,
            notices: Vec::new(),
        });
    }
    let (cache, notices) = match device {
        Some(d) => {
            let (cache, notices) = TuneCache::load(cache, BuildIdentity::of(d, registry))?;
            (Some(cache), notices)
        }
        None => (None, Vec::new()),
    };
    let gpu = device.map_or((1, None), |d| (d.sm_count, Some(d.cc())));
    let (variant, how) = choose_variant(registry, cache.as_ref(), problem, gpu)
        .ok_or_else(|| Error::Invalid(format!("no variant of this build computes {problem}")))?;
    let rule = match how {
        Choice::Tuned => Rule::Tuned,
        Choice::Heuristic => Rule::Heuristic,
    };
    Ok(Pick {
        variant,
        rule,
        notices,
    })
}
