//! `tileattn ratchet`: judge a run against a baseline (exit 1 on a
//! regression), optionally raise the baseline, or start one. The rule, the
//! matching and the file format are documented in `tileattn_host::ratchet`.

use std::path::PathBuf;
use std::process::ExitCode;

use tileattn::host::ratchet::baseline::{Baseline, path_for};
use tileattn::host::ratchet::report::Side;
use tileattn::host::ratchet::rule::{parse_confidence, parse_threshold};
use tileattn::host::ratchet::{MismatchKind, Report, Rule, compare, mismatches};
use tileattn::host::runfile::RunFile;
use tileattn::host::tune_cache::rfc3339_utc;
use tileattn::host::{Error, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Baseline file (results/baselines/<GPU>/<suite>.json), or any run file.
    #[arg(long, required_unless_present = "init")]
    baseline: Option<PathBuf>,
    /// The run to judge: the SUITE.json that `tileattn bench --out DIR` wrote.
    #[arg(long)]
    current: PathBuf,
    /// Smallest change that matters: `2%` or `0.02`.
    #[arg(long, default_value = "2%")]
    threshold: String,
    /// Confidence level of the ratio CIs: `0.95` or `95%`.
    #[arg(long, default_value = "0.95")]
    confidence: String,
    /// Print the report as JSON instead of Markdown.
    #[arg(long)]
    json: bool,
    /// Raise the baseline where the current run is improved (never lower it)
    /// and add what it lacks; atomically, keeping replaced values in `history`.
    #[arg(long, conflicts_with = "init")]
    update: bool,
    /// Compare even runs of another GPU, driver, torch or kernel build
    /// (--update still refuses another GPU, driver or torch).
    #[arg(long)]
    allow_mismatch: bool,
    /// Compare runs of different kernel builds (a pull request against its
    /// base), still refusing another GPU, driver or torch.
    #[arg(long)]
    allow_kernel_change: bool,
    /// Start a baseline from --current: at --baseline if given, else at
    /// <baselines-dir>/<GPU>/<suite>.json. Never overwrites one.
    #[arg(long)]
    init: bool,
    /// Where --init puts baselines by GPU.
    #[arg(long, default_value = "results/baselines")]
    baselines_dir: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let rule = Rule::new(
        parse_threshold(&args.threshold)?,
        parse_confidence(&args.confidence)?,
    )?;
    let current = RunFile::load(&args.current).map_err(unreadable)?;
    if args.init {
        return init(&args, current);
    }
    let baseline_path = args
        .baseline
        .as_deref()
        .ok_or_else(|| Error::Invalid("--baseline is required".into()))?;
    let mut baseline = Baseline::load(baseline_path).map_err(unreadable)?;

    let found = mismatches(&baseline.run.env, &current.env);
    let refused: Vec<String> = found
        .iter()
        .filter(|m| {
            !(args.allow_mismatch
                || (args.allow_kernel_change && m.kind == MismatchKind::KernelBuild))
        })
        .map(|m| format!("  {m}"))
        .collect();
    if !refused.is_empty() {
        return Err(Error::Incomparable(format!(
            "{} and {} were not measured alike:\n{}\n\
             Runs of another GPU, driver or torch measure another machine: compare against \
             that machine's baseline (results/baselines/<GPU>/). To compare a change of kernels \
             against its base, pass --allow-kernel-change; to compare anyway, --allow-mismatch.",
            baseline_path.display(),
            args.current.display(),
            refused.join("\n")
        )));
    }

    let comparison = compare(&baseline.run, &current, &rule)?;
    let baseline_side = Side::of(&baseline_path.display().to_string(), &baseline.run);
    let updated = if args.update {
        let now = rfc3339_utc(std::time::SystemTime::now());
        let changed = baseline.update(&current, &rule, &now)?;
        if !changed.is_empty() {
            baseline.save(baseline_path)?;
        }
        eprintln!(
            "tileattn: {} measurement(s) raised or added in {}",
            changed.len(),
            baseline_path.display()
        );
        changed
    } else {
        Vec::new()
    };
    let report = Report::new(
        &rule,
        baseline_side,
        Side::of(&args.current.display().to_string(), &current),
        found,
        comparison,
        updated,
    );
    if args.json {
        super::print_json(&report)?;
    } else {
        print!("{}", report.markdown());
    }
    Ok(if report.regressed() {
        ExitCode::from(super::EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn init(args: &Args, current: RunFile) -> Result<ExitCode> {
    let path = args
        .baseline
        .clone()
        .unwrap_or_else(|| path_for(&args.baselines_dir, &current));
    if path.exists() {
        return Err(Error::Invalid(format!(
            "{} exists: a baseline is only raised (--update), never replaced by --init; \
             delete it first if it must go",
            path.display()
        )));
    }
    Baseline::from_run(current).save(&path)?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// An input that cannot be read is a usage error (exit 2), like a malformed one.
fn unreadable(e: Error) -> Error {
    match e {
        Error::Io { path, source } => Error::format(&path, format!("cannot read it: {source}")),
        e => e,
    }
}
