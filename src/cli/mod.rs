//! Subcommands, one module each. Exit codes: 0 success; 1 a check failed or a
//! regression was found; 2 invalid input or usage; 3 no GPU available; 4 other
//! failures (CUDA errors, I/O, tools).

mod check;
mod info;
mod run;
mod variants;

use std::process::ExitCode;

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
}

pub fn run(cli: Cli) -> tileattn::host::Result<ExitCode> {
    match cli.command {
        Command::Variants(a) => variants::run(a),
        Command::Info(a) => info::run(a),
        Command::Check(a) => check::run(a),
        Command::Run(a) => run::run(a),
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
