//! What the subcommands share: exit codes, opening the GPU, measuring its
//! ceilings, JSON output, unreadable inputs, and naming a kernel family or a variant.

use tileattn::host::ceilings::{self, CeilingDetail};
use tileattn::host::device::Device;
use tileattn::host::dispatch::{self, Rule};
use tileattn::host::problem::Problem;
use tileattn::host::registry::Variant;
use tileattn::host::runfile::Ceilings;
use tileattn::host::timing::{Timer, TimingConfig};
use tileattn::host::{Error, Result, tune_cache};
use tileattn::kernels::Family;

pub const EXIT_FAILED: u8 = 1;
pub const EXIT_INVALID: u8 = 2;
pub const EXIT_NO_DEVICE: u8 = 3;
pub const EXIT_OTHER: u8 = 4;

/// Open GPU 0 with this build's registry.
pub fn open_device() -> Result<Device> {
    Device::open(0, tileattn::registry())
}

/// Print `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let s = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Invalid(format!("serializing JSON: {e}")))?;
    println!("{s}");
    Ok(())
}

/// The device's copy and mma ceilings, measured under a spinner (seconds).
pub fn measure_ceilings(
    timer: &mut Timer,
    cfg: &TimingConfig,
) -> Result<(Ceilings, CeilingDetail)> {
    super::progress::spinning("measuring the device's ceilings".into(), || {
        ceilings::measure(timer, cfg)
    })
}

/// An input that cannot be read is a usage error (exit 2), like a malformed one.
pub fn unreadable(e: Error) -> Error {
    match e {
        Error::Io { path, source } => Error::format(&path, format!("cannot read it: {source}")),
        e => e,
    }
}

/// A kernel family by its name in `tiles.toml` (`v0`, `v1`).
pub fn parse_family(name: &str) -> Result<Family> {
    Family::ALL
        .into_iter()
        .find(|f| f.name() == name)
        .ok_or_else(|| {
            let known: Vec<_> = Family::ALL.iter().map(|f| f.name()).collect();
            Error::Invalid(format!(
                "no kernel family `{name}` (known: {})",
                known.join(", ")
            ))
        })
}

/// The variant a command runs `p` with, and the rule that chose it:
/// `--variant` if given, else the tuning cache's, else the default
/// heuristic's ([`dispatch`]). Says on stderr which rule chose it.
pub fn pick_variant(
    device: Option<&Device>,
    p: &Problem,
    named: Option<&str>,
) -> Result<(&'static Variant, Rule)> {
    let pick = dispatch::pick_variant(
        &tileattn::registry(),
        device.map(|d| &d.info),
        p,
        named,
        &tune_cache::default_path(),
    )?;
    for n in &pick.notices {
        eprintln!("tileattn: {n}");
    }
    if pick.rule != Rule::Named {
        eprintln!("tileattn: {} ({})", pick.variant.name, pick.rule.describe());
    }
    Ok((pick.variant, pick.rule))
}
