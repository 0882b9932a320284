//! Subcommands, one module each. Exit codes: 0 success; 1 a check failed or a
//! regression was found; 2 invalid input or usage; 3 no GPU available; 4 other
//! failures (CUDA errors, I/O, tools).

mod bench;
mod broken_pipe;
mod check;
mod common;
mod compare;
mod info;
mod measure_args;
mod plot;
mod progress;
mod ratchet;
mod report;
mod rule_args;
mod run;
mod tables;
mod time;
mod tune;
mod variants;
mod written;

use std::process::ExitCode;

pub use broken_pipe::end_quietly_on_broken_pipe;
use clap::{Parser, Subcommand};
use tileattn::host::Error;
use tileattn::host::error::Kind;

use common::{EXIT_INVALID, EXIT_NO_DEVICE, EXIT_OTHER};

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
    /// Benchmark a suite or a shape (tileattn's tuned, named or family's variant, optionally torch's SDPA backends) into a run file, its Markdown report and figures, in one folder.
    Bench(bench::Args),
    /// Redraw the SVG figures of a saved run file.
    Plot(plot::Args),
    /// Rewrite the Markdown report of a saved run file.
    Report(report::Args),
    /// Verify one variant on one shape, then time it with full statistics.
    Time(time::Args),
    /// Verify, time and rank every valid variant for a shape or suite; cache the winners.
    Tune(tune::Args),
    /// Compare two run files measurement by measurement (every implementation), by the ratchet's statistics: a Markdown table, --json, an overlay figure; exit 1 when B is slower.
    Compare(compare::Args),
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
        Command::Compare(a) => compare::run(a),
        Command::Ratchet(a) => ratchet::run(a),
    }
}

pub fn exit_code_for(e: &Error) -> ExitCode {
    ExitCode::from(match e.kind() {
        Kind::Invalid => EXIT_INVALID,
        Kind::NoDevice => EXIT_NO_DEVICE,
        Kind::Other => EXIT_OTHER,
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// `(command path, subcommand)` for every subcommand, depth first, but
    /// clap's own `help`.
    fn commands() -> Vec<(String, clap::Command)> {
        fn walk(path: String, cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let p = format!("{path} {}", sub.get_name());
                out.push((p.clone(), sub.clone()));
                walk(p, sub, out);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let mut out = Vec::new();
        walk("tileattn".into(), &cmd, &mut out);
        out
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// `tileattn CMD --help` explains every option and positional argument.
    #[test]
    fn every_argument_has_help() {
        let missing: Vec<String> = commands()
            .iter()
            .flat_map(|(path, cmd)| {
                cmd.get_arguments()
                    .filter(|a| a.get_help().is_none() && a.get_long_help().is_none())
                    .map(move |a| format!("{path} {}", a.get_id()))
            })
            .collect();
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    /// Every command prints its results as JSON on request.
    #[test]
    fn every_command_has_json() {
        let without: Vec<String> = commands()
            .into_iter()
            .filter(|(_, cmd)| !cmd.get_arguments().any(|a| a.get_id() == "json"))
            .map(|(path, _)| path)
            .collect();
        assert!(without.is_empty(), "no --json: {without:?}");
    }

    /// `--dtype` means the same thing wherever it is left out.
    #[test]
    fn every_dtype_has_one_default() {
        let defaults: Vec<(String, Vec<String>)> = commands()
            .iter()
            .flat_map(|(path, cmd)| {
                cmd.get_arguments()
                    .filter(|a| a.get_id() == "dtype")
                    .map(move |a| {
                        let d = a.get_default_values().iter();
                        (
                            path.clone(),
                            d.map(|v| v.to_string_lossy().into()).collect(),
                        )
                    })
            })
            .collect();
        assert!(defaults.len() >= 4, "{defaults:?}");
        for (path, d) in &defaults {
            assert_eq!(d, &[super::measure_args::DEFAULT_DTYPE], "{path}");
        }
    }
}
