//! Subcommands, one module each. Exit codes: 0 success; 1 a check failed or a
//! regression was found; 2 invalid input or usage; 3 no GPU available; 4 other
//! failures (CUDA errors, I/O, tools).

mod bench;
mod broken_pipe;
mod check;
mod info;
mod measure_args;
mod plot;
mod ratchet;
mod report;
mod run;
mod tables;
mod time;
mod tune;
mod variants;

use std::process::ExitCode;

pub use broken_pipe::end_quietly_on_broken_pipe;
use clap::{Parser, Subcommand};
use tileattn::host::Error;

pub const EXIT_FAILED: u8 = 1;
pub const EXIT_INVALID: u8 = 2;
pub const EXIT_NO_DEVICE: u8 = 3;
pub const EXIT_OTHER: u8 = 4;

#[derive(Parser)]
#[command(name = "tileattn", version = tileattn::COMMIT, about = "FlashAttention-style kernels in Rust: build, check, tune, measure")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Replace read-only output files too (their mode is kept); without it
    /// a read-only file at an output path is refused.
    #[arg(long, global = true)]
    replace_read_only: bool,
}

#[derive(Subcommand)]
enum Command {
    /// List the kernel variants of this build (from tiles.toml).
    Variants(variants::Args),
    /// Describe the GPU.
    Info(info::Args),
    /// Random-shape correctness sweep against the f64 reference (GPU, or the CPU emulator).
    Check(check::Args),
    /// Run attention on tensors from .npy files and write O (and LSE) as .npy.
    Run(run::Args),
    /// Benchmark a suite (tuned tileattn, optionally torch's SDPA backends) into a run file, its Markdown report and figures.
    Bench(bench::Args),
    /// Redraw the SVG figures of a saved run file.
    Plot(plot::Args),
    /// Rewrite the Markdown report of a saved run file.
    Report(report::Args),
    /// Verify one variant on one shape, then time it with full statistics.
    Time(time::Args),
    /// Verify, time and rank every valid variant for a shape or suite; cache the winners.
    Tune(tune::Args),
    /// Judge a bench run against a baseline, allowing for drift between runs: exit 1 on a regression; --update raises the baseline; --calibrate estimates the drift.
    Ratchet(ratchet::Args),
}

pub fn run(cli: Cli) -> tileattn::host::Result<ExitCode> {
    tileattn::host::output::clean_up_on_signals()?;
    if cli.replace_read_only {
        tileattn::host::output::allow_replacing_read_only();
    }
    match cli.command {
        Command::Variants(a) => variants::run(a),
        Command::Info(a) => info::run(a),
        Command::Check(a) => check::run(a),
        Command::Run(a) => run::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Report(a) => report::run(a),
        Command::Time(a) => time::run(a),
        Command::Tune(a) => tune::run(a),
        Command::Ratchet(a) => ratchet::run(a),
    }
}

pub fn exit_code_for(e: &Error) -> ExitCode {
    ExitCode::from(match e {
        Error::Invalid(_) | Error::Format { .. } | Error::Incomparable(_) => EXIT_INVALID,
        Error::NoDevice(_) => EXIT_NO_DEVICE,
        _ => EXIT_OTHER,
    })
}

/// Open GPU 0 with this build's registry.
pub fn open_device() -> tileattn::host::Result<tileattn::host::device::Device> {
    tileattn::host::device::Device::open(0, tileattn::registry())
}

/// Print `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> tileattn::host::Result<()> {
    let s = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Invalid(format!("serializing JSON: {e}")))?;
    println!("{s}");
    Ok(())
}

/// A kernel family by its name in `tiles.toml` (`v0`, `v1`).
pub fn parse_family(name: &str) -> tileattn::host::Result<tileattn::kernels::Family> {
    tileattn::kernels::Family::ALL
        .into_iter()
        .find(|f| f.name() == name)
        .ok_or_else(|| {
            let known: Vec<_> = tileattn::kernels::Family::ALL
                .iter()
                .map(|f| f.name())
                .collect();
            Error::Invalid(format!(
                "no kernel family `{name}` (known: {})",
                known.join(", ")
            ))
        })
}

/// Where the tuning cache lives unless `--cache` says otherwise.
pub fn default_tune_cache() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("TILEATTN_TUNE_CACHE") {
        return p.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| ".".into());
    base.join("tileattn").join("tune.json")
}

/// The variant a command runs `p` with: `--variant` if given (it must compute
/// `p`); else the tuning cache's winner for this GPU and build; else the
/// documented default heuristic. Says on stderr which rule chose it.
pub fn pick_variant(
    device: Option<&tileattn::host::device::Device>,
    p: &tileattn::host::problem::Problem,
    explicit: Option<&str>,
) -> tileattn::host::Result<&'static tileattn::host::registry::Variant> {
    use tileattn::host::tune_cache::{BuildIdentity, Choice, TuneCache, choose_variant};
    let reg = tileattn::registry();
    if let Some(name) = explicit {
        let v = reg.find(name).ok_or_else(|| {
            Error::Invalid(format!("no variant `{name}` (see `tileattn variants`)"))
        })?;
        if !v.serves(p) {
            return Err(Error::Invalid(format!("{name} does not compute {p}")));
        }
        return Ok(v);
    }
    let cache = match device {
        Some(d) => {
            let path = default_tune_cache();
            let (cache, notices) = TuneCache::load(path, BuildIdentity::of(&d.info, &reg))?;
            for n in notices {
                eprintln!("tileattn: {n}");
            }
            Some(cache)
        }
        None => None,
    };
    let gpu = device.map_or((1, None), |d| (d.info.sm_count, Some(d.info.cc())));
    let (v, how) = choose_variant(&reg, cache.as_ref(), p, gpu)
        .ok_or_else(|| Error::Invalid(format!("no variant of this build computes {p}")))?;
    eprintln!(
        "tileattn: {} ({})",
        v.name,
        match how {
            Choice::Tuned => "tuning cache",
            Choice::Heuristic => "default heuristic: not tuned for this shape",
        }
    );
    Ok(v)
}
